package metrics

import (
	"context"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// InstrumentStore returns s with every method timed into
// flywheel_store_operation_duration_seconds{op} (op is the method name),
// failures counted, stored signals counted by source and config changes
// counted as they enter a state. A nil m returns s itself.
func InstrumentStore(s flywheel.Store, m *Metrics) flywheel.Store {
	if m == nil {
		return s
	}
	return &store{Store: s, m: m}
}

// store embeds the interface so that a method added to flywheel.Store
// still works (untimed) until it is listed here.
type store struct {
	flywheel.Store
	m *Metrics
}

// done records an operation that began at start. Not found and conflict
// are answers, not failures of the database, so only the codes that mean
// the database misbehaved count as errors.
func (s *store) done(op string, start time.Time, err error) {
	s.m.storeDuration.WithLabelValues(op).Observe(time.Since(start).Seconds())
	switch flywheel.Code(err) {
	case flywheel.EInternal, flywheel.EUnavailable:
		s.m.storeErrors.WithLabelValues(op).Inc()
	}
}

func (s *store) PutRuns(ctx context.Context, runs []flywheel.Run) (res flywheel.IngestResult, err error) {
	defer func(t time.Time) { s.done("PutRuns", t, err) }(time.Now())
	return s.Store.PutRuns(ctx, runs)
}

func (s *store) Run(ctx context.Context, runID string) (r flywheel.Run, err error) {
	defer func(t time.Time) { s.done("Run", t, err) }(time.Now())
	return s.Store.Run(ctx, runID)
}

func (s *store) Runs(ctx context.Context, f flywheel.RunFilter) (rs []flywheel.Run, err error) {
	defer func(t time.Time) { s.done("Runs", t, err) }(time.Now())
	return s.Store.Runs(ctx, f)
}

func (s *store) Models(ctx context.Context, f flywheel.ModelFilter) (ms []flywheel.Model, err error) {
	defer func(t time.Time) { s.done("Models", t, err) }(time.Now())
	return s.Store.Models(ctx, f)
}

func (s *store) Model(ctx context.Context, k flywheel.ModelKey) (md flywheel.Model, err error) {
	defer func(t time.Time) { s.done("Model", t, err) }(time.Now())
	return s.Store.Model(ctx, k)
}

func (s *store) PutObservations(ctx context.Context, obs []flywheel.Observation) (res flywheel.IngestResult, err error) {
	defer func(t time.Time) { s.done("PutObservations", t, err) }(time.Now())
	return s.Store.PutObservations(ctx, obs)
}

func (s *store) Observations(ctx context.Context, f flywheel.ObservationFilter) (os []flywheel.Observation, err error) {
	defer func(t time.Time) { s.done("Observations", t, err) }(time.Now())
	return s.Store.Observations(ctx, f)
}

func (s *store) ObservationsAfter(ctx context.Context, seq int64, limit int) (os []flywheel.Observation, err error) {
	defer func(t time.Time) { s.done("ObservationsAfter", t, err) }(time.Now())
	return s.Store.ObservationsAfter(ctx, seq, limit)
}

func (s *store) LiveSummary(ctx context.Context, k flywheel.ModelKey, since, until time.Time) (ls flywheel.LiveSummary, err error) {
	defer func(t time.Time) { s.done("LiveSummary", t, err) }(time.Now())
	return s.Store.LiveSummary(ctx, k, since, until)
}

func (s *store) PutDeployments(ctx context.Context, deps []flywheel.Deployment) (res flywheel.IngestResult, err error) {
	defer func(t time.Time) { s.done("PutDeployments", t, err) }(time.Now())
	return s.Store.PutDeployments(ctx, deps)
}

func (s *store) Deployments(ctx context.Context, f flywheel.DeploymentFilter) (ds []flywheel.Deployment, err error) {
	defer func(t time.Time) { s.done("Deployments", t, err) }(time.Now())
	return s.Store.Deployments(ctx, f)
}

func (s *store) PutInsight(ctx context.Context, in flywheel.Insight) (out flywheel.Insight, err error) {
	defer func(t time.Time) { s.done("PutInsight", t, err) }(time.Now())
	return s.Store.PutInsight(ctx, in)
}

func (s *store) Insight(ctx context.Context, kind string, v int64) (out flywheel.Insight, err error) {
	defer func(t time.Time) { s.done("Insight", t, err) }(time.Now())
	return s.Store.Insight(ctx, kind, v)
}

func (s *store) PruneInsights(ctx context.Context, kind string, keep int) (n int, err error) {
	defer func(t time.Time) { s.done("PruneInsights", t, err) }(time.Now())
	return s.Store.PruneInsights(ctx, kind, keep)
}

// PutSignals counts the signals by source when the whole batch was new.
// When some were duplicates the store does not say which, and counting
// none keeps the counter from ever counting a signal twice.
func (s *store) PutSignals(ctx context.Context, sigs []flywheel.Signal) (res flywheel.IngestResult, err error) {
	defer func(t time.Time) { s.done("PutSignals", t, err) }(time.Now())
	res, err = s.Store.PutSignals(ctx, sigs)
	if err == nil && res.Accepted == len(sigs) {
		s.m.ObserveSignals(sigs)
	}
	return res, err
}

func (s *store) Signals(ctx context.Context, f flywheel.SignalFilter) (out []flywheel.Signal, err error) {
	defer func(t time.Time) { s.done("Signals", t, err) }(time.Now())
	return s.Store.Signals(ctx, f)
}

func (s *store) CreateJob(ctx context.Context, j flywheel.Job) (out flywheel.Job, err error) {
	defer func(t time.Time) { s.done("CreateJob", t, err) }(time.Now())
	return s.Store.CreateJob(ctx, j)
}

func (s *store) Job(ctx context.Context, id string) (out flywheel.Job, err error) {
	defer func(t time.Time) { s.done("Job", t, err) }(time.Now())
	return s.Store.Job(ctx, id)
}

func (s *store) Jobs(ctx context.Context, f flywheel.JobFilter) (out []flywheel.Job, err error) {
	defer func(t time.Time) { s.done("Jobs", t, err) }(time.Now())
	return s.Store.Jobs(ctx, f)
}

func (s *store) UpdateJob(ctx context.Context, u flywheel.JobUpdate) (out flywheel.Job, err error) {
	defer func(t time.Time) { s.done("UpdateJob", t, err) }(time.Now())
	return s.Store.UpdateJob(ctx, u)
}

func (s *store) Heartbeat(ctx context.Context, id string, at time.Time, progress float64, message string, eta *time.Time) (out flywheel.Job, err error) {
	defer func(t time.Time) { s.done("Heartbeat", t, err) }(time.Now())
	return s.Store.Heartbeat(ctx, id, at, progress, message, eta)
}

func (s *store) JobEvents(ctx context.Context, id string) (out []flywheel.JobEvent, err error) {
	defer func(t time.Time) { s.done("JobEvents", t, err) }(time.Now())
	return s.Store.JobEvents(ctx, id)
}

// PutConfigChange counts the change when it enters a state: it is an
// upsert that the propagator also uses to rewrite a change in place, so
// the state stored before is read first and an unchanged state is not a
// new event. Config changes are rare; the extra read costs nothing.
func (s *store) PutConfigChange(ctx context.Context, c flywheel.ConfigChange) (err error) {
	defer func(t time.Time) { s.done("PutConfigChange", t, err) }(time.Now())
	prev, perr := s.Store.ConfigChange(ctx, c.ID)
	if err = s.Store.PutConfigChange(ctx, c); err != nil {
		return err
	}
	if perr != nil || prev.State != c.State {
		s.m.ObserveConfigChange(c.Source, c.State)
	}
	return nil
}

func (s *store) SetConfigChangeState(ctx context.Context, id string, from, to flywheel.ConfigChangeState, at time.Time) (out flywheel.ConfigChange, err error) {
	defer func(t time.Time) { s.done("SetConfigChangeState", t, err) }(time.Now())
	out, err = s.Store.SetConfigChangeState(ctx, id, from, to, at)
	if err == nil && from != to {
		s.m.ObserveConfigChange(out.Source, to)
	}
	return out, err
}

func (s *store) ConfigChange(ctx context.Context, id string) (out flywheel.ConfigChange, err error) {
	defer func(t time.Time) { s.done("ConfigChange", t, err) }(time.Now())
	return s.Store.ConfigChange(ctx, id)
}

func (s *store) ConfigChanges(ctx context.Context, f flywheel.ConfigChangeFilter) (out []flywheel.ConfigChange, err error) {
	defer func(t time.Time) { s.done("ConfigChanges", t, err) }(time.Now())
	return s.Store.ConfigChanges(ctx, f)
}

func (s *store) PutConfigBackup(ctx context.Context, b flywheel.ConfigBackup) (err error) {
	defer func(t time.Time) { s.done("PutConfigBackup", t, err) }(time.Now())
	return s.Store.PutConfigBackup(ctx, b)
}

func (s *store) ConfigBackup(ctx context.Context, id string) (out flywheel.ConfigBackup, err error) {
	defer func(t time.Time) { s.done("ConfigBackup", t, err) }(time.Now())
	return s.Store.ConfigBackup(ctx, id)
}

func (s *store) ConfigBackups(ctx context.Context, limit int) (out []flywheel.ConfigBackup, err error) {
	defer func(t time.Time) { s.done("ConfigBackups", t, err) }(time.Now())
	return s.Store.ConfigBackups(ctx, limit)
}

func (s *store) DeleteConfigBackup(ctx context.Context, id string) (err error) {
	defer func(t time.Time) { s.done("DeleteConfigBackup", t, err) }(time.Now())
	return s.Store.DeleteConfigBackup(ctx, id)
}

func (s *store) SetPin(ctx context.Context, p flywheel.Pin) (err error) {
	defer func(t time.Time) { s.done("SetPin", t, err) }(time.Now())
	return s.Store.SetPin(ctx, p)
}

func (s *store) Pins(ctx context.Context) (out []flywheel.Pin, err error) {
	defer func(t time.Time) { s.done("Pins", t, err) }(time.Now())
	return s.Store.Pins(ctx)
}

func (s *store) DeletePin(ctx context.Context, file, target, key string) (err error) {
	defer func(t time.Time) { s.done("DeletePin", t, err) }(time.Now())
	return s.Store.DeletePin(ctx, file, target, key)
}

func (s *store) PutOutcome(ctx context.Context, o flywheel.Outcome) (res flywheel.IngestResult, err error) {
	defer func(t time.Time) { s.done("PutOutcome", t, err) }(time.Now())
	return s.Store.PutOutcome(ctx, o)
}

func (s *store) Outcomes(ctx context.Context, f flywheel.OutcomeFilter) (out []flywheel.Outcome, err error) {
	defer func(t time.Time) { s.done("Outcomes", t, err) }(time.Now())
	return s.Store.Outcomes(ctx, f)
}

func (s *store) AppendAudit(ctx context.Context, e flywheel.AuditEntry) (out flywheel.AuditEntry, err error) {
	defer func(t time.Time) { s.done("AppendAudit", t, err) }(time.Now())
	return s.Store.AppendAudit(ctx, e)
}

func (s *store) AuditLog(ctx context.Context, before int64, limit int) (out []flywheel.AuditEntry, err error) {
	defer func(t time.Time) { s.done("AuditLog", t, err) }(time.Now())
	return s.Store.AuditLog(ctx, before, limit)
}

func (s *store) SetLoopState(ctx context.Context, st flywheel.LoopState) (err error) {
	defer func(t time.Time) { s.done("SetLoopState", t, err) }(time.Now())
	return s.Store.SetLoopState(ctx, st)
}

func (s *store) LoopState(ctx context.Context) (out flywheel.LoopState, err error) {
	defer func(t time.Time) { s.done("LoopState", t, err) }(time.Now())
	return s.Store.LoopState(ctx)
}

func (s *store) Counts(ctx context.Context) (out flywheel.Counts, err error) {
	defer func(t time.Time) { s.done("Counts", t, err) }(time.Now())
	return s.Store.Counts(ctx)
}

func (s *store) Ping(ctx context.Context) (err error) {
	defer func(t time.Time) { s.done("Ping", t, err) }(time.Now())
	return s.Store.Ping(ctx)
}
