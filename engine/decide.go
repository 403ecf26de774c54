package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/orchestrator"
)

// Decide assembles a snapshot of the store and runs the orchestrator on
// it. With act, and unless the loop is paused, it stores the signals
// that are new and creates the admitted jobs. Job ids derive from the
// signal and the decision time and a model with an active job is never
// scheduled again, so a crash between storing and creating loses nothing
// and duplicates nothing: the next decision sees what was created.
func (e *Engine) Decide(ctx context.Context, act bool) (*orchestrator.Plan, error) {
	e.decideMu.Lock()
	defer e.decideMu.Unlock()
	snap, recent, err := e.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	plan, err := orchestrator.Decide(e.orch, snap)
	if err != nil {
		return nil, fmt.Errorf("decide: %w", err)
	}
	if !act {
		return plan, nil
	}
	st, err := e.store.LoopState(ctx)
	if err != nil {
		return nil, err
	}
	if st.Paused {
		e.logger.Info("loop paused: plan not acted on", "by", st.By, "candidates", len(plan.Candidates))
		return plan, nil
	}
	if err := e.persist(ctx, plan, recent); err != nil {
		return nil, err
	}
	return plan, nil
}

// persist stores the plan's new signals and creates its jobs.
func (e *Engine) persist(ctx context.Context, plan *orchestrator.Plan, recent map[flywheel.ModelKey]flywheel.Signal) error {
	if fresh := orchestrator.NewSignals(plan, recent); len(fresh) > 0 {
		if _, err := e.store.PutSignals(ctx, fresh); err != nil {
			return fmt.Errorf("store signals: %w", err)
		}
		for _, s := range fresh {
			e.citeARPO(s.InsightVersions[flywheel.InsightARPO])
		}
		e.rememberSignals(fresh)
	}
	for _, j := range plan.Jobs {
		// The config comes first: the job must train with it.
		e.applyConfig(ctx, j)
		if _, err := e.store.CreateJob(ctx, j); err != nil && flywheel.Code(err) != flywheel.EConflict {
			return fmt.Errorf("create job %s: %w", j.ID, err)
		}
		e.logger.Info("job admitted", "job", j.ID, "model", j.ModelKey.String(), "priority", j.Priority)
	}
	if e.config != nil {
		if _, err := e.config.EvaluateCanaries(ctx, flywheel.ActorLoop); err != nil && ctx.Err() == nil {
			e.logger.Error("engine: canary evaluation failed", "err", err)
		}
	}
	if len(plan.Jobs) > 0 && e.onJobs != nil {
		e.onJobs()
	}
	return nil
}

// snapshot reads the loop's history from the store and assembles what
// the orchestrator looks at. It also returns each model's latest stored
// signal.
func (e *Engine) snapshot(ctx context.Context) (orchestrator.Snapshot, map[flywheel.ModelKey]flywheel.Signal, error) {
	h := orchestrator.History{Now: e.clock.Now().UTC(), InsightVersions: map[string]int64{}}
	var err error
	var cv, av int64
	if h.CILS, cv, err = e.latestCILS(ctx); err != nil {
		return orchestrator.Snapshot{}, nil, err
	}
	if h.ARPO, av, err = e.latestARPO(ctx); err != nil {
		return orchestrator.Snapshot{}, nil, err
	}
	h.InsightVersions[flywheel.InsightCILS], h.InsightVersions[flywheel.InsightARPO] = cv, av
	if h.Jobs, err = e.jobs(ctx); err != nil {
		return orchestrator.Snapshot{}, nil, err
	}
	if h.Signals, err = e.recentSignals(ctx, h.Now); err != nil {
		return orchestrator.Snapshot{}, nil, err
	}
	if h.LastTrained, err = e.lastTrainedByModel(ctx); err != nil {
		return orchestrator.Snapshot{}, nil, err
	}
	if h.Ledger, err = e.ledger(ctx, h.Jobs, h.Now); err != nil {
		return orchestrator.Snapshot{}, nil, err
	}
	if e.orch.Calibration.Enabled {
		if h.Outcomes, err = e.store.Outcomes(ctx, flywheel.OutcomeFilter{Limit: page}); err != nil {
			return orchestrator.Snapshot{}, nil, fmt.Errorf("load outcomes: %w", err)
		}
	}
	snap, recent := orchestrator.BuildSnapshot(&e.orch, h)
	return snap, recent, nil
}

// jobs returns what a decision reads of the jobs: the latest page, for
// cooldowns, aging and the ledger, and every job still active, however
// old, so that no model with a job in flight is ever given a second one.
func (e *Engine) jobs(ctx context.Context) ([]flywheel.Job, error) {
	return e.jobsPaged(ctx, page)
}

// jobsPaged is jobs with n jobs to a page.
func (e *Engine) jobsPaged(ctx context.Context, n int) ([]flywheel.Job, error) {
	recent, err := e.store.Jobs(ctx, flywheel.JobFilter{Limit: n})
	if err != nil {
		return nil, fmt.Errorf("load jobs: %w", err)
	}
	if len(recent) < n {
		return recent, nil // every job there is
	}
	active, err := e.store.Jobs(ctx, flywheel.JobFilter{States: flywheel.ActiveJobStates, Limit: n})
	if err != nil {
		return nil, fmt.Errorf("load active jobs: %w", err)
	}
	seen := make(map[string]bool, len(recent))
	for _, j := range recent {
		seen[j.ID] = true
	}
	for _, j := range active {
		if !seen[j.ID] {
			recent = append(recent, j)
		}
	}
	return recent, nil
}

// recentSignals returns the signals of the last SignalMemory, newest
// first. They are read from the store once, then kept: the engine is the
// only writer of signals (persist), and it adds what it stores. The
// caller holds decideMu.
func (e *Engine) recentSignals(ctx context.Context, now time.Time) ([]flywheel.Signal, error) {
	since := now.Add(-orchestrator.SignalMemory)
	if e.signals == nil {
		sigs, err := e.store.Signals(ctx, flywheel.SignalFilter{Since: since, Limit: page})
		if err != nil {
			return nil, fmt.Errorf("load signals: %w", err)
		}
		// A full page means there may be more than the store returned:
		// read them again next time rather than keep a partial copy.
		if len(sigs) < page {
			e.signals = &sigs
		}
		return sigs, nil
	}
	sigs := *e.signals
	n := len(sigs)
	for n > 0 && sigs[n-1].CreatedAt.Before(since) {
		n--
	}
	clear(sigs[n:])
	*e.signals = sigs[:n]
	return *e.signals, nil
}

// rememberSignals adds newly stored signals to the copy recentSignals
// keeps, in the store's order (newest first, then by id descending); ids
// already there were duplicates the store ignored. The caller holds
// decideMu.
func (e *Engine) rememberSignals(fresh []flywheel.Signal) {
	if e.signals == nil {
		return
	}
	// A new slice: the old one may still be read by a snapshot.
	sigs := append(make([]flywheel.Signal, 0, len(*e.signals)+len(fresh)), *e.signals...)
	have := make(map[string]bool, len(sigs))
	for _, s := range sigs {
		have[s.ID] = true
	}
	for _, s := range fresh {
		if !have[s.ID] {
			have[s.ID] = true
			sigs = append(sigs, s)
		}
	}
	if len(sigs) >= page {
		e.signals = nil // the store's own reading would be cut at a page
		return
	}
	slices.SortStableFunc(sigs, func(a, b flywheel.Signal) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	e.signals = &sigs
}

// lastTrainedByModel is when each model was last trained: from the last
// CILS pass, which read every run, or else from the store, read once.
func (e *Engine) lastTrainedByModel(ctx context.Context) (map[flywheel.ModelKey]time.Time, error) {
	e.cachedMu.Lock()
	last := e.lastTrained
	e.cachedMu.Unlock()
	if last != nil {
		return last, nil
	}
	last = map[flywheel.ModelKey]time.Time{}
	f := flywheel.ModelFilter{Limit: page}
	for {
		models, err := e.store.Models(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("load models: %w", err)
		}
		for _, m := range models {
			if m.LastRunAt != nil {
				last[m.ModelKey] = *m.LastRunAt
			}
		}
		if len(models) < page {
			// Kept until a CILS pass replaces it: runs, which move these
			// times, wake CILS when they arrive.
			e.cachedMu.Lock()
			if e.lastTrained == nil {
				e.lastTrained = last
			}
			e.cachedMu.Unlock()
			return last, nil
		}
		k := models[len(models)-1].ModelKey
		f.After = &k
	}
}

// ledger is the budget ledger of the last days: each job's reservation
// at admission and, once its run arrived, the settlement at its cost.
func (e *Engine) ledger(ctx context.Context, jobs []flywheel.Job, now time.Time) ([]orchestrator.LedgerEntry, error) {
	var out []orchestrator.LedgerEntry
	since := now.AddDate(0, 0, -orchestrator.LedgerDays)
	for _, j := range jobs {
		if j.CreatedAt.Before(since) {
			continue
		}
		out = append(out, orchestrator.LedgerEntry{JobID: j.ID, Kind: orchestrator.LedgerReserve, Units: j.EstimatedCost, At: j.CreatedAt})
		if j.RunID == "" {
			continue
		}
		run, err := e.store.Run(ctx, j.RunID)
		if flywheel.Code(err) == flywheel.ENotFound {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("load run %s of job %s: %w", j.RunID, j.ID, err)
		}
		at := j.UpdatedAt
		if run.FinishedAt != nil {
			at = *run.FinishedAt
		}
		out = append(out, orchestrator.Settlement(j, run, at))
	}
	return out, nil
}

// applyConfig writes a job's learned config updates into the pipeline's
// files. A refused update (quarantined, pinned, nothing to change,
// invalid) does not stop the job: it trains with the config as it is,
// and the refusal is logged.
func (e *Engine) applyConfig(ctx context.Context, j flywheel.Job) {
	if e.config == nil || len(j.Spec) == 0 {
		return
	}
	updates, err := e.config.ApplyJob(ctx, j, flywheel.ActorLoop)
	if err != nil {
		e.logger.Error("engine: job spec does not decode", "job", j.ID, "err", err)
		return
	}
	for _, u := range updates {
		switch {
		case u.Malformed:
			e.logger.Error("engine: config update does not decode", "job", j.ID, "err", u.Err)
		case u.Err != nil:
			e.logger.Info("config update not applied", "job", j.ID, "source", u.Source, "reason", u.Err)
		default:
			e.logger.Info("config change", "job", j.ID, "change", u.Change.ID, "state", u.Change.State, "source", u.Source)
		}
	}
}
