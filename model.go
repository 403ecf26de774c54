package flywheel

import (
	"strings"
	"time"
)

// ModelKey identifies a model: one (target, model family) pair.
type ModelKey struct {
	Target      string `json:"target"`
	ModelFamily string `json:"model_family"`
}

// String returns "target/family".
func (k ModelKey) String() string { return k.Target + "/" + k.ModelFamily }

// Validate checks both names.
func (k ModelKey) Validate() error {
	return firstError(
		CheckName("target", k.Target, true),
		CheckName("model_family", k.ModelFamily, true),
	)
}

// TargetKind returns the kind of a target: the prefix before the first
// underscore ("fwd_ret_5d_AAPL" is of kind "fwd"), or the whole name when
// it has none.
func TargetKind(target string) string {
	if i := strings.IndexByte(target, '_'); i > 0 {
		return target[:i]
	}
	return target
}

// Model is what the store knows about one model, assembled from its runs
// and deployments.
type Model struct {
	ModelKey
	Kind string `json:"kind"`
	// Runs is the number of training runs reported for the model.
	Runs int `json:"runs"`
	// LastRunAt is when its latest run started.
	LastRunAt *time.Time `json:"last_run_at,omitempty"`
	// LatestScore is the validation score of its latest successful run.
	LatestScore *float64 `json:"latest_score,omitempty"`
	// Deployed is the version live now, if any.
	Deployed *Deployment `json:"deployed,omitempty"`
	// FirstSeen is when any record about the model first arrived.
	FirstSeen time.Time `json:"first_seen"`
}

// ModelFilter selects models. Zero fields match everything.
type ModelFilter struct {
	Target      string
	ModelFamily string
	Kind        string
	// After is the cursor: models ordered after this key (target, then family).
	After *ModelKey
	Limit int
}
