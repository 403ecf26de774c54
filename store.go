package flywheel

import (
	"context"
	"time"
)

// IngestResult says what a batch write did: every record is either
// accepted (new), updated (a running run replaced by its later report) or
// a duplicate of what was already stored under its key.
type IngestResult struct {
	Accepted   int `json:"accepted"`
	Updated    int `json:"updated"`
	Duplicates int `json:"duplicates"`
}

// Counts is the number of records of each kind stored.
type Counts struct {
	Targets          int64 `json:"targets"`
	Models           int64 `json:"models"`
	Runs             int64 `json:"runs"`
	LiveObservations int64 `json:"live_observations"`
	Deployments      int64 `json:"deployments"`
	Insights         int64 `json:"insights"`
	Signals          int64 `json:"signals"`
	Jobs             int64 `json:"jobs"`
	ConfigChanges    int64 `json:"config_changes"`
	Pins             int64 `json:"pins"`
	Outcomes         int64 `json:"outcomes"`
	AuditLog         int64 `json:"audit_log"`
}

// Store is the learning database. Every batch write is atomic: all of it
// is committed, or none of it and an error is returned whose Index names
// the offending record. A write returns only after it is durable.
// Implementations must pass the conformance suite in package storetest.
type Store interface {
	RunStore
	LiveStore
	DeploymentStore
	InsightStore
	SignalStore
	JobStore
	ConfigStore
	OutcomeStore
	AuditStore
	LoopStore

	// Counts returns the number of records of each kind.
	Counts(ctx context.Context) (Counts, error)
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	Close() error
}

// RunStore holds training runs with their fold scores, feature
// importances, leakage events, cost and config.
type RunStore interface {
	// PutRuns stores runs by run_id. A run already stored with the same
	// content is a duplicate; a stored run in status running is replaced by
	// a different report (updated); any other difference is EConflict.
	PutRuns(ctx context.Context, runs []Run) (IngestResult, error)
	// Run returns one run, or ENotFound.
	Run(ctx context.Context, runID string) (Run, error)
	// Runs lists runs newest first (started_at, then run_id, descending).
	Runs(ctx context.Context, f RunFilter) ([]Run, error)
	// Models lists the models known from runs, observations and
	// deployments, ordered by target then family.
	Models(ctx context.Context, f ModelFilter) ([]Model, error)
	// Model returns one model, or ENotFound.
	Model(ctx context.Context, k ModelKey) (Model, error)
}

// LiveStore holds live observations, the largest and append-only table.
type LiveStore interface {
	// PutObservations stores observations by event_id (derived when empty);
	// a key already stored is a duplicate, whatever its content.
	PutObservations(ctx context.Context, obs []Observation) (IngestResult, error)
	// Observations lists a model's observations oldest first.
	Observations(ctx context.Context, f ObservationFilter) ([]Observation, error)
	// ObservationsAfter lists observations in the order they were stored,
	// those stored after seq (0 for the start), each with its Seq set: a
	// change feed, so that a learner keeps its window in memory and reads
	// only what is new.
	ObservationsAfter(ctx context.Context, seq int64, limit int) ([]Observation, error)
	// LiveSummary aggregates a model's observations with ts in [since,
	// until); zero times leave that side open. A model with no
	// observations has a zero summary, not an error.
	LiveSummary(ctx context.Context, k ModelKey, since, until time.Time) (LiveSummary, error)
}

// DeploymentStore holds deployments.
type DeploymentStore interface {
	// PutDeployments stores deployments by Deployment.Key.
	PutDeployments(ctx context.Context, deps []Deployment) (IngestResult, error)
	// Deployments lists deployments newest first.
	Deployments(ctx context.Context, f DeploymentFilter) ([]Deployment, error)
}

// InsightStore keeps the versions of the learners' insights.
type InsightStore interface {
	// PutInsight stores a new version of kind and returns it with its
	// version assigned.
	PutInsight(ctx context.Context, in Insight) (Insight, error)
	// Insight returns version v of kind, or the latest when v is 0;
	// ENotFound when there is none.
	Insight(ctx context.Context, kind string, v int64) (Insight, error)
	// PruneInsights deletes the versions of kind older than its latest
	// keep (at least 1), except those a stored signal or config change
	// cites, and returns how many it deleted. Version numbers are never
	// reused.
	PruneInsights(ctx context.Context, kind string, keep int) (int, error)
}

// SignalStore keeps the signals each decision cycle produced.
type SignalStore interface {
	// PutSignals stores signals by id; an id already stored is a duplicate.
	PutSignals(ctx context.Context, sigs []Signal) (IngestResult, error)
	Signals(ctx context.Context, f SignalFilter) ([]Signal, error)
}

// JobStore keeps jobs and their event history; it is the outbox that
// executors work from.
type JobStore interface {
	// CreateJob stores a new job in its initial state; EConflict when the
	// id exists.
	CreateJob(ctx context.Context, j Job) (Job, error)
	Job(ctx context.Context, id string) (Job, error)
	Jobs(ctx context.Context, f JobFilter) ([]Job, error)
	// UpdateJob applies a compare-and-set transition and records it as an
	// event; EConflict when the job is not in u.From.
	UpdateJob(ctx context.Context, u JobUpdate) (Job, error)
	// Heartbeat records progress on a job without changing its state.
	Heartbeat(ctx context.Context, id string, at time.Time, progress float64, message string, eta *time.Time) (Job, error)
	JobEvents(ctx context.Context, id string) ([]JobEvent, error)
}

// ConfigStore keeps config changes, their backups and the pins.
type ConfigStore interface {
	PutConfigChange(ctx context.Context, c ConfigChange) error
	// SetConfigChangeState moves a change from one state to another;
	// EConflict when it is not in from.
	SetConfigChangeState(ctx context.Context, id string, from, to ConfigChangeState, at time.Time) (ConfigChange, error)
	ConfigChange(ctx context.Context, id string) (ConfigChange, error)
	ConfigChanges(ctx context.Context, f ConfigChangeFilter) ([]ConfigChange, error)
	PutConfigBackup(ctx context.Context, b ConfigBackup) error
	ConfigBackup(ctx context.Context, id string) (ConfigBackup, error)
	ConfigBackups(ctx context.Context, limit int) ([]ConfigBackup, error)
	// DeleteConfigBackup removes a backup (retention).
	DeleteConfigBackup(ctx context.Context, id string) error

	// SetPin creates or replaces the pin on (file, target, key).
	SetPin(ctx context.Context, p Pin) error
	Pins(ctx context.Context) ([]Pin, error)
	// DeletePin removes a pin; ENotFound when there is none.
	DeletePin(ctx context.Context, file, target, key string) error
}

// OutcomeStore keeps what each signal's job achieved.
type OutcomeStore interface {
	// PutOutcome stores an outcome by (signal_id, kind); a second one for
	// the same pair is a duplicate.
	PutOutcome(ctx context.Context, o Outcome) (IngestResult, error)
	Outcomes(ctx context.Context, f OutcomeFilter) ([]Outcome, error)
}

// AuditStore is the append-only log of writes.
type AuditStore interface {
	// AppendAudit appends an entry and returns it with its sequence number.
	AppendAudit(ctx context.Context, e AuditEntry) (AuditEntry, error)
	// AuditLog lists entries newest first, those before seq when seq > 0.
	AuditLog(ctx context.Context, before int64, limit int) ([]AuditEntry, error)
}

// LoopStore keeps whether the decision loop is paused.
type LoopStore interface {
	// SetLoopState records the state and appends the change to the audit
	// log (ActionPause or ActionResume, actor st.By) in one transaction.
	SetLoopState(ctx context.Context, st LoopState) error
	// LoopState returns the current state; a loop never paused is running.
	LoopState(ctx context.Context) (LoopState, error)
}
