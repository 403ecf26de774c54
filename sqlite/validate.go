package sqlite

import (
	"io/fs"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// The root package gives the reported records (runs, observations,
// deployments) a Validate method. The records below are written by
// flywheel's own code and have none, but the store still checks what it
// relies on: keys are names, numbers are finite (JSON has no NaN), times
// fit the stored range and JSON documents parse.

func checkSignal(s *flywheel.Signal) error {
	if err := firstError(
		flywheel.CheckName("id", s.ID, true),
		s.ModelKey.Validate(),
		checkNames("sources", s.Sources),
		flywheel.CheckFinite("priority", s.Priority),
		checkFiniteMap("factors", s.Factors),
		flywheel.CheckFinite("expected_improvement", s.ExpectedImprovement),
		flywheel.CheckFinite("expected_cost", s.ExpectedCost),
		checkTime("created_at", s.CreatedAt),
	); err != nil {
		return err
	}
	for i := range s.Reasons {
		if err := checkFiniteMap(indexField("reasons", i)+".values", s.Reasons[i].Values); err != nil {
			return err
		}
	}
	return nil
}

func checkJob(j *flywheel.Job) error {
	if err := firstError(
		flywheel.CheckName("id", j.ID, true),
		j.ModelKey.Validate(),
		flywheel.CheckName("signal_id", j.SignalID, false),
		flywheel.CheckName("executor", j.Executor, false),
		flywheel.CheckName("run_id", j.RunID, false),
	); err != nil {
		return err
	}
	if !j.State.Valid() {
		return flywheel.FieldError("state", "%q is not a job state", j.State)
	}
	r := &j.Resources
	if r.CPUCores < 0 || r.MemoryMB < 0 || r.GPUs < 0 || r.GPUMemoryGB < 0 {
		return flywheel.FieldError("resources", "must not be negative")
	}
	if j.Attempt < 0 {
		return flywheel.FieldError("attempt", "must not be negative")
	}
	return firstError(
		flywheel.CheckFinite("priority", j.Priority),
		flywheel.CheckFinite("resources.gpu_memory_gb", r.GPUMemoryGB),
		flywheel.CheckFinite("estimated_cost", j.EstimatedCost),
		flywheel.CheckFinite("estimated_seconds", j.EstimatedSeconds),
		checkProgress("progress", j.Progress),
		checkTime("created_at", j.CreatedAt),
		checkTime("updated_at", j.UpdatedAt),
		checkTimePtr("eta", j.ETA),
		checkTimePtr("heartbeat_at", j.HeartbeatAt),
		checkJSON("spec", j.Spec),
	)
}

func checkJobUpdate(u *flywheel.JobUpdate) error {
	if err := flywheel.CheckName("id", u.ID, true); err != nil {
		return err
	}
	if !u.From.Valid() {
		return flywheel.FieldError("from", "%q is not a job state", u.From)
	}
	if !u.To.Valid() {
		return flywheel.FieldError("to", "%q is not a job state", u.To)
	}
	if u.Attempt != nil && *u.Attempt < 0 {
		return flywheel.FieldError("attempt", "must not be negative")
	}
	if u.Progress != nil {
		if err := checkProgress("progress", *u.Progress); err != nil {
			return err
		}
	}
	if u.RunID != nil {
		if err := flywheel.CheckName("run_id", *u.RunID, false); err != nil {
			return err
		}
	}
	return firstError(checkTime("at", u.At), checkTimePtr("eta", u.ETA))
}

// checkProgress checks a job's progress, a share in [0, 1].
func checkProgress(field string, v float64) error {
	if err := flywheel.CheckFinite(field, v); err != nil {
		return err
	}
	if v < 0 || v > 1 {
		return flywheel.FieldError(field, "must be between 0 and 1")
	}
	return nil
}

func checkConfigChange(c *flywheel.ConfigChange) error {
	if err := firstError(flywheel.CheckName("id", c.ID, true), checkChangeState("state", c.State)); err != nil {
		return err
	}
	if c.Source == "" {
		return flywheel.FieldError("source", "is required")
	}
	if len(c.Update) == 0 {
		return flywheel.FieldError("update", "is required")
	}
	for i, f := range c.Files {
		if err := checkRelPath(indexField("files", i), f); err != nil {
			return err
		}
	}
	return firstError(
		flywheel.CheckName("target", c.Target, false),
		checkJSON("update", c.Update),
		checkNames("signal_ids", c.SignalIDs),
		flywheel.CheckName("backup_id", c.BackupID, false),
		checkTime("created_at", c.CreatedAt),
		checkTime("updated_at", c.UpdatedAt),
	)
}

// checkChangeState checks that s is a config change state.
func checkChangeState(field string, s flywheel.ConfigChangeState) error {
	switch s {
	case flywheel.ChangeProposed, flywheel.ChangeCanary, flywheel.ChangeApplied, flywheel.ChangeRejected,
		flywheel.ChangeRolledBack:
		return nil
	}
	return flywheel.FieldError(field, "%q is not a config change state", s)
}

func checkBackup(b *flywheel.ConfigBackup) error {
	for _, p := range slices.Sorted(maps.Keys(b.Files)) {
		if err := checkRelPath("files", p); err != nil {
			return err
		}
	}
	return firstError(
		flywheel.CheckName("id", b.ID, true),
		flywheel.CheckName("change_id", b.ChangeID, false),
		checkTime("created_at", b.CreatedAt),
	)
}

func checkPin(p *flywheel.Pin) error {
	if strings.TrimSpace(p.Key) == "" {
		return flywheel.FieldError("key", "is required")
	}
	return firstError(
		checkRelPath("file", p.File),
		flywheel.CheckName("target", p.Target, false),
		checkTime("created_at", p.CreatedAt),
	)
}

func checkOutcome(o *flywheel.Outcome) error {
	return firstError(
		flywheel.CheckName("signal_id", o.SignalID, true),
		flywheel.CheckName("kind", o.Kind, true),
		flywheel.CheckName("job_id", o.JobID, false),
		flywheel.CheckName("run_id", o.RunID, false),
		o.ModelKey.Validate(),
		checkNames("sources", o.Sources),
		flywheel.CheckFinite("priority", o.Priority),
		checkFiniteMap("factors", o.Factors),
		flywheel.CheckFinite("before", o.Before),
		flywheel.CheckFinite("after", o.After),
		flywheel.CheckFinite("improvement", o.Improvement),
		checkTime("measured_at", o.MeasuredAt),
	)
}

func checkAudit(e *flywheel.AuditEntry) error {
	if e.Actor == "" {
		return flywheel.FieldError("actor", "is required")
	}
	if e.Action == "" {
		return flywheel.FieldError("action", "is required")
	}
	return firstError(checkTime("at", e.At), checkJSON("detail", e.Detail))
}

func checkInsight(in *flywheel.Insight) error {
	if len(in.Body) == 0 {
		return flywheel.FieldError("body", "is required")
	}
	return firstError(
		flywheel.CheckName("kind", in.Kind, true),
		checkJSON("body", in.Body),
		checkTime("created_at", in.CreatedAt),
	)
}

// checkTime returns an EInvalid error naming field when t cannot be stored.
func checkTime(field string, t time.Time) error {
	if t.Before(minTime) || t.After(maxTime) {
		return flywheel.FieldError(field, "%s is out of the storable range (years 1678 to 2262)", t.Format(time.RFC3339))
	}
	return nil
}

// checkTimePtr is checkTime for an optional time.
func checkTimePtr(field string, t *time.Time) error {
	if t == nil {
		return nil
	}
	return checkTime(field, *t)
}

// checkRelPath checks a path relative to the config directory: slash
// separated, clean, and unable to leave the directory.
func checkRelPath(field, p string) error {
	if p == "" {
		return flywheel.FieldError(field, "is required")
	}
	if !fs.ValidPath(p) || p == "." || strings.Contains(p, `\`) {
		return flywheel.FieldError(field, "%q is not a clean relative path inside the config directory", p)
	}
	return nil
}

// checkNames checks every element of a list of names.
func checkNames(field string, names []string) error {
	for i, n := range names {
		if err := flywheel.CheckName(indexField(field, i), n, true); err != nil {
			return err
		}
	}
	return nil
}

// checkFiniteMap checks every value of m, in key order so that the first
// error is reproducible.
func checkFiniteMap(field string, m map[string]float64) error {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if err := flywheel.CheckFinite(field+"."+k, m[k]); err != nil {
			return err
		}
	}
	return nil
}

// indexField names element i of a list field: "sources[3]".
func indexField(field string, i int) string {
	return field + "[" + strconv.Itoa(i) + "]"
}

// firstError returns the first non-nil error.
func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
