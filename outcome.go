package flywheel

import "time"

// Outcome kinds: the training-side comparison when a job's run arrives,
// and the live comparison after a deployment's live window.
const (
	OutcomeTraining = "training"
	OutcomeLive     = "live"
)

// Outcome is what a signal's job achieved, measured after the fact.
type Outcome struct {
	SignalID string `json:"signal_id"`
	JobID    string `json:"job_id,omitempty"`
	RunID    string `json:"run_id,omitempty"`
	ModelKey
	Kind     string             `json:"kind"`
	Sources  []string           `json:"sources,omitempty"`
	Priority float64            `json:"priority"`
	Factors  map[string]float64 `json:"factors,omitempty"`
	Before   float64            `json:"before"`
	After    float64            `json:"after"`
	// Improvement is After - Before in the metric's own units.
	Improvement float64   `json:"improvement"`
	MeasuredAt  time.Time `json:"measured_at"`
}

// OutcomeFilter selects outcomes, newest first.
type OutcomeFilter struct {
	Model *ModelKey
	Kind  string
	Since time.Time
	Limit int
}
