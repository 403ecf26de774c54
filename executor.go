package flywheel

import (
	"context"
	"fmt"
	"io"
	"math"
	"time"
)

// Executor runs training jobs somewhere: child processes of this machine
// (package localexec) or a Slurm cluster (package slurm). Every executor
// follows the same job state machine, driven by package runner, which
// alone writes job states; an executor only acts and reports.
//
// An executor names what it runs after the job id, so that after a crash
// it can find a job it started without knowing its external id. At most
// one live (waiting or running) execution per job exists at any time: the
// runner submits a new one only after the previous one has ended.
type Executor interface {
	// Name is what Job.Executor holds for jobs this executor runs.
	Name() string
	// Submit starts an execution of j held, where the executor supports
	// holding, and returns its external id. It is idempotent by job name:
	// when a live execution of the job already exists (a crash came between
	// the submission and its record), Submit returns that one's id instead
	// of submitting again. j carries the resources and runtime estimate of
	// this attempt. An EInvalid error means the job can never be submitted.
	Submit(ctx context.Context, j Job) (externalID string, err error)
	// Release lets a held execution start. Releasing one that already
	// started is not an error. An EUnavailable error means "not now" (the
	// executor is at its concurrency limit): the runner tries again later.
	Release(ctx context.Context, j Job) error
	// Poll reports the status of each job, in the order given. A job whose
	// ExternalID is empty is looked up by name. A job the executor cannot
	// see has Found false; Poll errs only when it cannot ask at all.
	Poll(ctx context.Context, jobs []Job) ([]ExecStatus, error)
	// Cancel stops the job's live execution (by ExternalID, else by name).
	// Cancelling one that has ended, or that does not exist, is not an
	// error.
	Cancel(ctx context.Context, j Job) error
	// Logs returns what the job's latest execution wrote to stdout and
	// stderr; ENotFound when there is none.
	Logs(ctx context.Context, j Job) (io.ReadCloser, error)
}

// ExecStatus is what an executor knows about one job's execution.
type ExecStatus struct {
	JobID string `json:"job_id"`
	// ExternalID is the execution's id at the executor (a Slurm job id, a
	// process id); it may become known or change after submission.
	ExternalID string `json:"external_id,omitempty"`
	// Found is false when the executor cannot see the job at all: it never
	// existed, or left no trace. The other fields are then zero.
	Found bool `json:"found"`
	// State is JobSubmitted (waiting, possibly held), JobRunning, or a
	// terminal state: JobSucceeded, JobFailed (see Failure), JobCancelled,
	// or JobLost when the execution vanished without an outcome.
	State JobState `json:"state"`
	// Held is true when a submitted execution waits for Release.
	Held bool `json:"held,omitempty"`
	// ExitCode is the command's exit status when known, else -1.
	ExitCode int `json:"exit_code"`
	// Failure classifies a JobFailed or JobLost execution.
	Failure FailureClass `json:"failure,omitempty"`
	// Message says what the executor saw, in words.
	Message string `json:"message,omitempty"`
	// StartedAt is when the execution started, when known.
	StartedAt *time.Time `json:"started_at,omitempty"`
	// Result is the run JSON the job wrote to $FLYWHEEL_RESULT, read once
	// the execution has ended; nil when it wrote none.
	Result []byte `json:"-"`
}

// FailureClass says why an execution failed; the retry policy depends on
// it.
type FailureClass string

// Failure classes.
const (
	// FailureOOM: the job ran out of memory. Retried with more memory.
	FailureOOM FailureClass = "oom"
	// FailurePreempted: the cluster took the job's resources for another.
	// Requeued without counting the attempt.
	FailurePreempted FailureClass = "preempted"
	// FailureNodeFailure: the machine under the job failed. Requeued
	// without counting the attempt.
	FailureNodeFailure FailureClass = "node_failure"
	// FailureCommand: the command exited non-zero, or its result was
	// refused. Retried up to the attempt limit.
	FailureCommand FailureClass = "command"
	// FailureTimeout: the job ran past its time limit. Retried with a
	// longer runtime estimate, up to the attempt limit.
	FailureTimeout FailureClass = "timeout"
	// FailureLost: the job stopped beating or vanished without an
	// outcome. Retried up to the attempt limit.
	FailureLost FailureClass = "lost"
)

// Valid reports whether c is a known failure class.
func (c FailureClass) Valid() bool {
	switch c {
	case FailureOOM, FailurePreempted, FailureNodeFailure, FailureCommand, FailureTimeout, FailureLost:
		return true
	}
	return false
}

// RetryPolicy decides whether a failed job runs again, and with what. It
// is pure: the same job and failure always give the same decision.
//
// Job.Attempt numbers the attempts that count (0 is read as 1). Failures
// that are the job's own (command, timeout, lost) count, and the job gets
// MaxAttempts of them. Failures of the environment do not: preempted and
// node_failure jobs are requeued as they were, and out-of-memory jobs are
// retried with more memory until MaxMemoryMB, which bounds them.
type RetryPolicy struct {
	// MaxAttempts is how many counted attempts a job gets; 1 means no
	// retry. Zero means 3.
	MaxAttempts int `json:"max_attempts"`
	// MemoryFactor multiplies the memory after an out-of-memory failure.
	// Zero means 2.
	MemoryFactor float64 `json:"memory_factor"`
	// MaxMemoryMB caps the memory a retry asks for; a job that runs out of
	// memory at the cap fails. Zero means 256 GiB.
	MaxMemoryMB int `json:"max_memory_mb"`
	// BaseMemoryMB is the memory assumed for a job that asked for none
	// when it ran out. Zero means 1 GiB.
	BaseMemoryMB int `json:"base_memory_mb"`
	// TimeFactor multiplies the runtime estimate after a timeout, so that
	// the retry gets a longer time limit. Zero means 2.
	TimeFactor float64 `json:"time_factor"`
	// MaxRequeues caps the free requeues (preempted, node_failure) of one
	// job, so that a job that brings its node down each time cannot loop
	// for ever. Decide cannot see the history; the runner counts them and
	// asks RequeueAllowed. Zero means 20.
	MaxRequeues int `json:"max_requeues"`
}

// RetryDecision is what RetryPolicy.Decide concluded.
type RetryDecision struct {
	// Retry is true when the job goes back to admitted for another
	// attempt; false when it ends.
	Retry bool `json:"retry"`
	// Counts is true when the failed attempt counts against MaxAttempts:
	// the next attempt is Attempt+1. A free requeue keeps Attempt.
	Counts bool `json:"counts"`
	// Attempt is the attempt number of the retry (or of the job, when
	// there is no retry).
	Attempt int `json:"attempt"`
	// Resources and EstimatedSeconds are what the next attempt asks for.
	Resources        Resources `json:"resources"`
	EstimatedSeconds float64   `json:"estimated_seconds"`
	// Reason explains the decision in words.
	Reason string `json:"reason"`
}

func (p RetryPolicy) maxAttempts() int  { return orInt(p.MaxAttempts, 3) }
func (p RetryPolicy) maxMemoryMB() int  { return orInt(p.MaxMemoryMB, 256*1024) }
func (p RetryPolicy) baseMemoryMB() int { return orInt(p.BaseMemoryMB, 1024) }
func (p RetryPolicy) maxRequeues() int  { return orInt(p.MaxRequeues, 20) }

func orInt(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

func orFloat(v, def float64) float64 {
	if v > 0 {
		return v
	}
	return def
}

// Decide says what follows a failure of class failure of job j.
func (p RetryPolicy) Decide(j Job, failure FailureClass) RetryDecision {
	attempt := max(j.Attempt, 1)
	d := RetryDecision{Attempt: attempt, Resources: j.Resources, EstimatedSeconds: j.EstimatedSeconds}
	switch failure {
	case FailurePreempted, FailureNodeFailure:
		d.Retry = true
		d.Reason = fmt.Sprintf("%s is not the job's fault: requeued, attempt %d not counted", failure, attempt)
	case FailureOOM:
		mem := d.Resources.MemoryMB
		if mem <= 0 {
			mem = p.baseMemoryMB()
		}
		if mem >= p.maxMemoryMB() {
			d.Reason = fmt.Sprintf("out of memory at %d MB, the cap", mem)
			return d
		}
		grown := min(p.maxMemoryMB(), max(mem+1, int(math.Ceil(float64(mem)*orFloat(p.MemoryFactor, 2)))))
		d.Retry, d.Resources.MemoryMB = true, grown
		d.Reason = fmt.Sprintf("out of memory at %d MB: retried with %d MB", mem, grown)
	case FailureCommand, FailureTimeout, FailureLost:
		if attempt >= p.maxAttempts() {
			d.Reason = fmt.Sprintf("%s on attempt %d of %d: giving up", failure, attempt, p.maxAttempts())
			return d
		}
		d.Retry, d.Counts, d.Attempt = true, true, attempt+1
		d.Reason = fmt.Sprintf("%s on attempt %d of %d: retried", failure, attempt, p.maxAttempts())
		if failure == FailureTimeout && d.EstimatedSeconds > 0 {
			d.EstimatedSeconds *= orFloat(p.TimeFactor, 2)
			d.Reason += fmt.Sprintf(" with a runtime estimate of %.0f s", d.EstimatedSeconds)
		}
	default:
		d.Reason = fmt.Sprintf("unknown failure class %q: not retried", failure)
	}
	return d
}

// RequeueAllowed reports whether a job that has already had requeues free
// requeues may have one more.
func (p RetryPolicy) RequeueAllowed(requeues int) bool { return requeues < p.maxRequeues() }

// TimeLimits turns a job's runtime estimate into the wall-clock limit an
// executor enforces: generous, since an estimate is a mean and a job
// killed at 99% has wasted all of its compute.
type TimeLimits struct {
	// Factor multiplies the estimate. Zero means 3.
	Factor float64 `json:"factor"`
	// Default is the limit of a job without an estimate. Zero means 2 h.
	Default time.Duration `json:"default"`
	// Min and Max clamp the limit. Zero means 1 min and 7 days.
	Min time.Duration `json:"min"`
	Max time.Duration `json:"max"`
}

// For returns the time limit of job j.
func (l TimeLimits) For(j Job) time.Duration {
	lo, hi := l.Min, l.Max
	if lo <= 0 {
		lo = time.Minute
	}
	if hi <= 0 {
		hi = 7 * 24 * time.Hour
	}
	limit := l.Default
	if limit <= 0 {
		limit = 2 * time.Hour
	}
	if s := j.EstimatedSeconds * orFloat(l.Factor, 3); s > 0 {
		// Compare in seconds first: a huge estimate would overflow a Duration.
		if s >= hi.Seconds() {
			return hi
		}
		limit = time.Duration(s * float64(time.Second))
	}
	return min(max(limit, lo), hi)
}
