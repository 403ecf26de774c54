package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/cils"
)

// LearnCILS makes one CILS pass over every run stored, compares with the
// latest stored version and stores the result as a new version.
func (e *Engine) LearnCILS(ctx context.Context) (flywheel.Insight, error) {
	start := time.Now()
	runs, err := loadRuns(ctx, e.store)
	if err != nil {
		return flywheel.Insight{}, err
	}
	e.rememberLastTrained(runs)
	prev, prevVersion, err := e.latestCILS(ctx)
	if err != nil {
		return flywheel.Insight{}, err
	}
	now := e.clock.Now().UTC()
	in, err := cils.Learn(e.cils, cils.Snapshot{Runs: runs, Now: now, Previous: prev})
	if err != nil {
		return flywheel.Insight{}, fmt.Errorf("cils: %w", err)
	}
	body, err := json.Marshal(in)
	if err != nil {
		return flywheel.Insight{}, fmt.Errorf("encode cils insights: %w", err)
	}
	stored, err := e.store.PutInsight(ctx, flywheel.Insight{Kind: flywheel.InsightCILS, CreatedAt: now, Body: body})
	if err != nil {
		return flywheel.Insight{}, fmt.Errorf("store cils insights: %w", err)
	}
	remember(e, &e.cachedCILS, in, stored.Version)
	e.pruned(ctx, flywheel.InsightCILS, stored.Version)
	if err := e.recordTrainingOutcomes(ctx, runs); err != nil {
		return stored, err
	}
	e.logger.Info("cils insights", "version", stored.Version, "previous", prevVersion, "runs", in.Runs,
		"degrading", len(in.DegradingTargets), "needing_retrain", len(in.TargetsNeedingRetrain),
		"new_patterns", len(in.NewPatterns), "took", time.Since(start).Round(time.Millisecond))
	return stored, nil
}

// latestCILS returns the latest stored CILS insights and their version,
// or nil and 0 when there are none.
func (e *Engine) latestCILS(ctx context.Context) (*cils.Insights, int64, error) {
	return latest(ctx, e, flywheel.InsightCILS, &e.cachedCILS)
}

// loadRuns reads every stored run, a page at a time.
func loadRuns(ctx context.Context, store flywheel.RunStore) ([]flywheel.Run, error) {
	var all []flywheel.Run
	f := flywheel.RunFilter{Limit: page}
	for {
		runs, err := store.Runs(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("load runs: %w", err)
		}
		all = append(all, runs...)
		if len(runs) < page {
			return all, nil
		}
		last := runs[len(runs)-1]
		f.Before = &flywheel.RunCursor{StartedAt: last.StartedAt, RunID: last.RunID}
	}
}

// rememberLastTrained keeps, per model, when its latest successful
// training run finished, for the decisions: runs change only when CILS
// learns.
func (e *Engine) rememberLastTrained(runs []flywheel.Run) {
	last := make(map[flywheel.ModelKey]time.Time)
	for _, r := range runs {
		if r.Status != flywheel.RunSucceeded || r.FinishedAt == nil || r.Evaluation() {
			continue
		}
		if t := *r.FinishedAt; t.After(last[r.ModelKey]) {
			last[r.ModelKey] = t
		}
	}
	e.cachedMu.Lock()
	e.lastTrained = last
	e.cachedMu.Unlock()
}
