package orchestrator

import (
	"maps"
	"slices"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// TrainingOutcome measures what a finished job's run achieved on the
// training side: its validation score against the previous model's
// (previous), improvement = after - before, measured when the run
// finished. The signal gives the outcome its sources, priority and
// factors (what calibration and the accuracy measures need); a zero
// signal falls back to the job's signal id and priority. It fails when
// the run did not succeed, has no finite score, or is not the job's.
func TrainingOutcome(sig flywheel.Signal, job flywheel.Job, run flywheel.Run, previous float64) (flywheel.Outcome, error) {
	if run.Status != flywheel.RunSucceeded {
		return flywheel.Outcome{}, flywheel.FieldError("status", "run %s %s; only a succeeded run has an outcome", run.RunID, run.Status)
	}
	if run.ModelKey != job.ModelKey {
		return flywheel.Outcome{}, flywheel.FieldError("target", "run %s is of %s, job %s of %s", run.RunID, run.ModelKey, job.ID, job.ModelKey)
	}
	if run.JobID != "" && run.JobID != job.ID {
		return flywheel.Outcome{}, flywheel.FieldError("job_id", "run %s belongs to job %s, not %s", run.RunID, run.JobID, job.ID)
	}
	after, ok := run.ValidationScore()
	if !ok || !finite(after) {
		return flywheel.Outcome{}, flywheel.FieldError("metrics.validation_score", "run %s has no finite validation score", run.RunID)
	}
	if !finite(previous) {
		return flywheel.Outcome{}, flywheel.FieldError("previous", "must be a finite number")
	}
	at := run.StartedAt
	if run.FinishedAt != nil {
		at = *run.FinishedAt
	}
	o := outcome(sig, job, flywheel.OutcomeTraining, previous, after, at)
	o.RunID = run.RunID
	return o, nil
}

// LiveOutcome measures what a retrained model achieved live: a live
// performance measure (e.g. the Sharpe ratio from ARPO's
// model_performance) over a window before the deployment and over the
// live window after it, measured at at.
func LiveOutcome(sig flywheel.Signal, job flywheel.Job, before, after float64, at time.Time) (flywheel.Outcome, error) {
	if !finite(before) {
		return flywheel.Outcome{}, flywheel.FieldError("before", "must be a finite number")
	}
	if !finite(after) {
		return flywheel.Outcome{}, flywheel.FieldError("after", "must be a finite number")
	}
	if at.IsZero() {
		return flywheel.Outcome{}, flywheel.FieldError("measured_at", "is required")
	}
	o := outcome(sig, job, flywheel.OutcomeLive, before, after, at)
	o.RunID = job.RunID
	return o, nil
}

func outcome(sig flywheel.Signal, job flywheel.Job, kind string, before, after float64, at time.Time) flywheel.Outcome {
	o := flywheel.Outcome{
		SignalID:    sig.ID,
		JobID:       job.ID,
		ModelKey:    job.ModelKey,
		Kind:        kind,
		Sources:     slices.Clone(sig.Sources),
		Priority:    sig.Priority,
		Factors:     maps.Clone(sig.Factors),
		Before:      before,
		After:       after,
		Improvement: after - before,
		MeasuredAt:  at,
	}
	if o.SignalID == "" {
		o.SignalID, o.Priority = job.SignalID, job.Priority
	}
	return o
}
