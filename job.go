package flywheel

import (
	"encoding/json"
	"time"
)

// JobState is a state of the one job state machine every executor follows:
// queued -> admitted -> submitting -> submitted -> running -> succeeded |
// failed | cancelled | lost.
type JobState string

// Job states.
const (
	JobQueued     JobState = "queued"
	JobAdmitted   JobState = "admitted"
	JobSubmitting JobState = "submitting"
	JobSubmitted  JobState = "submitted"
	JobRunning    JobState = "running"
	JobSucceeded  JobState = "succeeded"
	JobFailed     JobState = "failed"
	JobCancelled  JobState = "cancelled"
	JobLost       JobState = "lost"
)

// ActiveJobStates are the states a job can still leave, in the order a
// job passes through them.
var ActiveJobStates = []JobState{JobQueued, JobAdmitted, JobSubmitting, JobSubmitted, JobRunning}

// Terminal reports whether no further transition leaves s.
func (s JobState) Terminal() bool {
	switch s {
	case JobSucceeded, JobFailed, JobCancelled, JobLost:
		return true
	}
	return false
}

// Valid reports whether s is a known state.
func (s JobState) Valid() bool {
	switch s {
	case JobQueued, JobAdmitted, JobSubmitting, JobSubmitted, JobRunning:
		return true
	}
	return s.Terminal()
}

// Resources are what a job asks of the machine or cluster.
type Resources struct {
	CPUCores    int     `json:"cpu_cores"`
	MemoryMB    int     `json:"memory_mb"`
	GPUs        int     `json:"gpus"`
	GPUMemoryGB float64 `json:"gpu_memory_gb"`
}

// Job is a scheduled training run of one model.
type Job struct {
	ID string `json:"id"`
	ModelKey
	SignalID string   `json:"signal_id,omitempty"`
	State    JobState `json:"state"`
	Executor string   `json:"executor"`
	// ExternalID is the executor's own id (a Slurm job id, a process id).
	ExternalID string    `json:"external_id,omitempty"`
	Attempt    int       `json:"attempt"`
	Priority   float64   `json:"priority"`
	Resources  Resources `json:"resources"`
	// EstimatedCost is in compute units, reserved against the daily budget.
	EstimatedCost    float64    `json:"estimated_cost"`
	EstimatedSeconds float64    `json:"estimated_seconds"`
	Progress         float64    `json:"progress"`
	Message          string     `json:"message,omitempty"`
	ETA              *time.Time `json:"eta,omitempty"`
	RunID            string     `json:"run_id,omitempty"`
	Error            string     `json:"error,omitempty"`
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
	HeartbeatAt      *time.Time `json:"heartbeat_at,omitempty"`
	// Spec is the executor-specific request (command, config updates applied).
	Spec json.RawMessage `json:"spec,omitempty"`
}

// JobEvent is one transition or heartbeat in a job's history.
type JobEvent struct {
	JobID   string    `json:"job_id"`
	Seq     int64     `json:"seq"`
	At      time.Time `json:"at"`
	From    JobState  `json:"from,omitempty"`
	To      JobState  `json:"to"`
	Message string    `json:"message,omitempty"`
}

// JobUpdate is a compare-and-set transition: it applies only when the job
// is in state From, so two actors never both move a job.
type JobUpdate struct {
	ID         string
	From       JobState
	To         JobState
	At         time.Time
	Message    string
	ExternalID *string
	Progress   *float64
	ETA        *time.Time
	RunID      *string
	Error      *string
	Attempt    *int
}

// JobFilter selects jobs, newest first.
type JobFilter struct {
	Model  *ModelKey
	States []JobState
	Limit  int
}
