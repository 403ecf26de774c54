package engine

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/orchestrator"
)

// HealthWindow is the span the loop's health is measured over.
const HealthWindow = 30 * 24 * time.Hour

// Health measures the loop over the last HealthWindow from what is stored:
// signal accuracy per source, priority correlation, latencies, adoption,
// efficiency, utilisation and effectiveness (seed section 8.1).
func (e *Engine) Health(ctx context.Context) (orchestrator.LoopHealth, error) {
	now := e.clock.Now().UTC()
	in := orchestrator.HealthInput{From: now.Add(-HealthWindow), To: now}
	var err error
	if in.Signals, err = e.store.Signals(ctx, flywheel.SignalFilter{Since: in.From, Limit: page}); err != nil {
		return orchestrator.LoopHealth{}, fmt.Errorf("load signals: %w", err)
	}
	if in.Jobs, err = e.store.Jobs(ctx, flywheel.JobFilter{Limit: page}); err != nil {
		return orchestrator.LoopHealth{}, fmt.Errorf("load jobs: %w", err)
	}
	if in.Outcomes, err = e.store.Outcomes(ctx, flywheel.OutcomeFilter{Since: in.From, Limit: page}); err != nil {
		return orchestrator.LoopHealth{}, fmt.Errorf("load outcomes: %w", err)
	}
	if in.ConfigChanges, err = e.store.ConfigChanges(ctx, flywheel.ConfigChangeFilter{Limit: page}); err != nil {
		return orchestrator.LoopHealth{}, fmt.Errorf("load config changes: %w", err)
	}
	if in.Ledger, err = e.ledger(ctx, in.Jobs, now); err != nil {
		return orchestrator.LoopHealth{}, err
	}
	if in.Timelines, err = e.timelines(ctx, in.Jobs, in.Signals, in.From); err != nil {
		return orchestrator.LoopHealth{}, err
	}
	return orchestrator.Health(e.orch, in), nil
}

// timelines reads the life of each job of the window from its events,
// its signal and the insight versions that followed its run.
func (e *Engine) timelines(ctx context.Context, jobs []flywheel.Job, sigs []flywheel.Signal, from time.Time) ([]orchestrator.JobTimeline, error) {
	byID := make(map[string]flywheel.Signal, len(sigs))
	for _, s := range sigs {
		byID[s.ID] = s
	}
	finder := &insightFinder{store: e.store}
	var out []orchestrator.JobTimeline
	for _, j := range jobs {
		if j.CreatedAt.Before(from) {
			continue
		}
		tl := orchestrator.JobTimeline{JobID: j.ID, ScheduledAt: j.CreatedAt}
		if s, ok := byID[j.SignalID]; ok {
			tl.InsightAt = map[string]time.Time{}
			for _, src := range s.Sources {
				tl.InsightAt[src] = s.CreatedAt
			}
		}
		events, err := e.store.JobEvents(ctx, j.ID)
		if err != nil {
			return nil, fmt.Errorf("job events of %s: %w", j.ID, err)
		}
		for _, ev := range events {
			if ev.To == flywheel.JobRunning && tl.StartedAt.IsZero() {
				tl.StartedAt = ev.At
			}
			if ev.To.Terminal() {
				tl.FinishedAt = ev.At
			}
		}
		if j.RunID != "" {
			if run, err := e.store.Run(ctx, j.RunID); err == nil {
				if tl.CILSUpdatedAt, err = finder.firstAfter(ctx, flywheel.InsightCILS, run.ReceivedAt); err != nil {
					return nil, err
				}
				if tl.ARPOUpdatedAt, err = e.arpoAfterDeployment(ctx, finder, j.RunID); err != nil {
					return nil, err
				}
			}
		}
		out = append(out, tl)
	}
	return out, nil
}

// arpoAfterDeployment is when ARPO first learned after the run's model
// went live; zero when it is not live yet.
func (e *Engine) arpoAfterDeployment(ctx context.Context, f *insightFinder, runID string) (time.Time, error) {
	deps, err := e.store.Deployments(ctx, flywheel.DeploymentFilter{Limit: page})
	if err != nil {
		return time.Time{}, fmt.Errorf("load deployments: %w", err)
	}
	for _, d := range deps {
		if d.RunID == runID {
			return f.firstAfter(ctx, flywheel.InsightARPO, d.DeployedAt)
		}
	}
	return time.Time{}, nil
}

// insightFinder finds the first insight version created at or after a
// time by binary search over versions: they are created in order.
type insightFinder struct {
	store  flywheel.InsightStore
	latest map[string]flywheel.Insight
}

func (f *insightFinder) firstAfter(ctx context.Context, kind string, t time.Time) (time.Time, error) {
	if f.latest == nil {
		f.latest = map[string]flywheel.Insight{}
	}
	last, ok := f.latest[kind]
	if !ok {
		in, err := f.store.Insight(ctx, kind, 0)
		if flywheel.Code(err) == flywheel.ENotFound {
			return time.Time{}, nil
		}
		if err != nil {
			return time.Time{}, fmt.Errorf("read %s insights: %w", kind, err)
		}
		last, f.latest[kind] = in, in
	}
	if last.CreatedAt.Before(t) {
		return time.Time{}, nil
	}
	var ferr error
	v := sort.Search(int(last.Version), func(i int) bool {
		in, err := f.store.Insight(ctx, kind, int64(i+1))
		if err != nil {
			ferr = err
			return true
		}
		return !in.CreatedAt.Before(t)
	})
	if ferr != nil {
		return time.Time{}, fmt.Errorf("read %s insights: %w", kind, ferr)
	}
	in, err := f.store.Insight(ctx, kind, int64(v+1))
	if err != nil {
		return time.Time{}, fmt.Errorf("read %s insights: %w", kind, err)
	}
	return in.CreatedAt, nil
}
