package flywheel

import (
	"time"
)

// RunStatus is the state of a training run as the pipeline reports it.
type RunStatus string

// Run statuses. Only running may later change.
const (
	RunRunning   RunStatus = "running"
	RunSucceeded RunStatus = "succeeded"
	RunFailed    RunStatus = "failed"
	RunCancelled RunStatus = "cancelled"
)

// Valid reports whether s is a known status.
func (s RunStatus) Valid() bool {
	switch s {
	case RunRunning, RunSucceeded, RunFailed, RunCancelled:
		return true
	}
	return false
}

// Terminal reports whether the run has ended.
func (s RunStatus) Terminal() bool { return s.Valid() && s != RunRunning }

// Run kinds. A training run trains a new model; an evaluation run scores
// the deployed model on data newer than its training (the pipeline's
// routine monitoring), training nothing. CILS learns strategies, costs
// and the trend of retrains from training runs, and reads evaluations as
// the deployed model's current score: what a degradation is seen in and
// what a retrain is measured against.
const (
	RunTraining   = "training"
	RunEvaluation = "evaluation"
)

// MetricValidationScore is the primary metric: higher is better.
const MetricValidationScore = "validation_score"

// Run is one execution of the training pipeline for a model.
type Run struct {
	// RunID is the idempotency key.
	RunID string `json:"run_id"`
	// JobID is set when flywheel scheduled the run.
	JobID string `json:"job_id,omitempty"`
	ModelKey
	// Kind is RunTraining (the default, also when empty) or
	// RunEvaluation.
	Kind       string         `json:"kind,omitempty"`
	FeatureSet string         `json:"feature_set,omitempty"`
	Config     map[string]any `json:"config,omitempty"`
	StartedAt  time.Time      `json:"started_at"`
	FinishedAt *time.Time     `json:"finished_at,omitempty"`
	Status     RunStatus      `json:"status"`
	// Metrics maps metric names to values; validation_score is primary.
	Metrics           map[string]float64 `json:"metrics,omitempty"`
	FoldScores        []float64          `json:"fold_scores,omitempty"`
	FeatureImportance map[string]float64 `json:"feature_importance,omitempty"`
	LeakageEvents     []LeakageEvent     `json:"leakage_events,omitempty"`
	Cost              Cost               `json:"cost"`
	DataWindow        *DataWindow        `json:"data_window,omitempty"`
	Regime            string             `json:"regime,omitempty"`
	// ReceivedAt is set by the store when the run is first accepted.
	ReceivedAt time.Time `json:"received_at,omitzero"`
}

// Evaluation reports whether the run is an evaluation of the deployed
// model rather than a training run.
func (r *Run) Evaluation() bool { return r.Kind == RunEvaluation }

// ValidationScore returns the primary metric and whether it is present.
func (r *Run) ValidationScore() (float64, bool) {
	v, ok := r.Metrics[MetricValidationScore]
	return v, ok
}

// LeakageEvent is one feature the leakage detector flagged during a run.
type LeakageEvent struct {
	Feature   string  `json:"feature"`
	Score     float64 `json:"score"`
	Threshold float64 `json:"threshold"`
	// Confirmed is a person's or a later check's label: a real leak (true),
	// a false alarm (false), or not labelled (nil).
	Confirmed *bool `json:"confirmed"`
}

// Cost is what a run consumed.
type Cost struct {
	GPUHours    float64 `json:"gpu_hours"`
	CPUHours    float64 `json:"cpu_hours"`
	WallSeconds float64 `json:"wall_seconds"`
}

// DataWindow is the span of data a run trained on.
type DataWindow struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Validate checks a run as reported; the first problem is returned as an
// EInvalid error naming its field.
func (r *Run) Validate() error {
	if err := firstError(
		CheckName("run_id", r.RunID, true),
		CheckName("job_id", r.JobID, false),
		r.ModelKey.Validate(),
		CheckName("feature_set", r.FeatureSet, false),
		CheckName("regime", r.Regime, false),
	); err != nil {
		return err
	}
	if r.Kind != "" && r.Kind != RunTraining && r.Kind != RunEvaluation {
		return FieldError("kind", "%q is not one of training, evaluation", r.Kind)
	}
	if r.Evaluation() && r.JobID != "" {
		// A job's run is what the runner waits for; an evaluation trains
		// nothing, so it must not end a job.
		return FieldError("job_id", "is set on an evaluation run; evaluations train nothing and belong to no job")
	}
	if !r.Status.Valid() {
		if r.Status == "" {
			return FieldError("status", "is required")
		}
		return FieldError("status", "%q is not one of running, succeeded, failed, cancelled", r.Status)
	}
	if r.StartedAt.IsZero() {
		return FieldError("started_at", "is required")
	}
	if r.FinishedAt != nil && r.FinishedAt.Before(r.StartedAt) {
		return FieldError("finished_at", "is before started_at")
	}
	if r.Status.Terminal() && r.FinishedAt == nil {
		return FieldError("finished_at", "is required when status is %s", r.Status)
	}
	if err := checkNumberMap("metrics", r.Metrics); err != nil {
		return err
	}
	if _, ok := r.ValidationScore(); r.Status == RunSucceeded && !ok {
		return FieldError("metrics.validation_score", "is required when status is succeeded")
	}
	for i, s := range r.FoldScores {
		if err := CheckFinite(indexField("fold_scores", i), s); err != nil {
			return err
		}
	}
	if err := checkNumberMap("feature_importance", r.FeatureImportance); err != nil {
		return err
	}
	for i := range r.LeakageEvents {
		if err := r.LeakageEvents[i].validate(); err != nil {
			return WithFieldPrefix(err, indexField("leakage_events", i))
		}
	}
	if err := r.Cost.validate(); err != nil {
		return WithFieldPrefix(err, "cost")
	}
	if w := r.DataWindow; w != nil {
		if w.From.IsZero() || w.To.IsZero() {
			return FieldError("data_window", "needs both from and to")
		}
		if w.To.Before(w.From) {
			return FieldError("data_window.to", "is before data_window.from")
		}
	}
	return nil
}

func (e *LeakageEvent) validate() error {
	return firstError(
		CheckName("feature", e.Feature, true),
		CheckFinite("score", e.Score),
		CheckFinite("threshold", e.Threshold),
	)
}

func (c *Cost) validate() error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"gpu_hours", c.GPUHours}, {"cpu_hours", c.CPUHours}, {"wall_seconds", c.WallSeconds}} {
		if err := CheckFinite(f.name, f.v); err != nil {
			return err
		}
		if f.v < 0 {
			return FieldError(f.name, "must not be negative")
		}
	}
	return nil
}

// RunFilter selects runs. Zero fields match everything.
type RunFilter struct {
	Target      string
	ModelFamily string
	Status      RunStatus
	JobID       string
	// Since and Until bound started_at: [Since, Until).
	Since, Until time.Time
	// Before is the cursor for newest-first paging: runs that sort before
	// this one (by started_at, then run_id, descending).
	Before *RunCursor
	Limit  int
}

// RunCursor marks a position in the newest-first order of runs.
type RunCursor struct {
	StartedAt time.Time
	RunID     string
}

// Units is the cost in the compute units the daily budget is kept in: one
// unit is one GPU hour or one CPU hour. A pipeline that reports only wall
// time is charged one unit per wall hour, so that no run looks free.
func (c Cost) Units() float64 {
	if u := c.GPUHours + c.CPUHours; u > 0 {
		return u
	}
	return c.WallSeconds / 3600
}
