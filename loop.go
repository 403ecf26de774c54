package flywheel

import "time"

// LoopState says whether the decision loop may act: while it is paused
// the learners still learn and the plan can still be read, but no job is
// admitted.
type LoopState struct {
	Paused bool      `json:"paused"`
	By     string    `json:"by,omitempty"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at,omitzero"`
}

// Audit actions recorded by the loop's controls.
const (
	ActionPause     = "loop.pause"
	ActionResume    = "loop.resume"
	ActionCancelJob = "job.cancel"
)
