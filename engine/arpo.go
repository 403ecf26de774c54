package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/arpo"
)

// page is how many records a snapshot reads per query.
const page = 10_000

// LearnARPO makes one ARPO pass over the live observations inside the
// learner's windows and the deployments, and stores the result as a new
// version.
func (e *Engine) LearnARPO(ctx context.Context) (flywheel.Insight, error) {
	start := time.Now()
	now := e.clock.Now().UTC()
	days := max(e.arpo.LookbackDays, e.arpo.RegimeLookbackDays)
	since := now.AddDate(0, 0, -days-1)
	obs, err := e.live.refresh(ctx, e.store, since)
	if err != nil {
		return flywheel.Insight{}, err
	}
	deps, err := e.store.Deployments(ctx, flywheel.DeploymentFilter{Limit: page})
	if err != nil {
		return flywheel.Insight{}, fmt.Errorf("load deployments: %w", err)
	}
	var market []arpo.MarketPoint
	if e.market != nil {
		if market, err = e.market(ctx); err != nil {
			return flywheel.Insight{}, fmt.Errorf("load market returns: %w", err)
		}
	}
	prev, _, err := e.latestARPO(ctx)
	if err != nil {
		return flywheel.Insight{}, err
	}
	in, err := arpo.Learn(e.arpo, arpo.Snapshot{Observations: obs, Deployments: deps, Market: market, Now: now, Previous: prev})
	if err != nil {
		return flywheel.Insight{}, fmt.Errorf("arpo: %w", err)
	}
	body, err := json.Marshal(in)
	if err != nil {
		return flywheel.Insight{}, fmt.Errorf("encode arpo insights: %w", err)
	}
	stored, err := e.store.PutInsight(ctx, flywheel.Insight{Kind: flywheel.InsightARPO, CreatedAt: now, Body: body})
	if err != nil {
		return flywheel.Insight{}, fmt.Errorf("store arpo insights: %w", err)
	}
	remember(e, &e.cachedARPO, in, stored.Version)
	if err := e.recordLiveOutcomes(ctx); err != nil {
		return stored, err
	}
	e.logger.Info("arpo insights", "version", stored.Version, "observations", in.ObservationsUsed, "models", in.Models,
		"underperforming", len(in.UnderperformingPositions), "needing_retrain", len(in.TargetsNeedingRetrain),
		"regime", in.Regime.Current, "took", time.Since(start).Round(time.Millisecond))
	return stored, nil
}

// latestARPO returns the latest stored ARPO insights and their version,
// or nil and 0 when there are none.
func (e *Engine) latestARPO(ctx context.Context) (*arpo.Insights, int64, error) {
	return latest(ctx, e, flywheel.InsightARPO, &e.cachedARPO)
}

// liveWindow is the engine's copy of the observations inside ARPO's
// window. It is read whole once, then only what the store's change feed
// adds, so that a pass costs the learner's work and not a reread of a
// million rows.
type liveWindow struct {
	mu  sync.Mutex
	seq int64
	obs []flywheel.Observation
}

// refresh reads what arrived since the last call, drops what fell out of
// the window (ts before since) and returns the window. The slice is the
// caller's until the next call.
func (w *liveWindow) refresh(ctx context.Context, store flywheel.LiveStore, since time.Time) ([]flywheel.Observation, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for {
		batch, err := store.ObservationsAfter(ctx, w.seq, page)
		if err != nil {
			return nil, fmt.Errorf("load observations: %w", err)
		}
		for _, o := range batch {
			if !o.TS.Before(since) {
				w.obs = append(w.obs, o)
			}
		}
		if len(batch) > 0 {
			w.seq = batch[len(batch)-1].Seq
		}
		if len(batch) < page {
			break
		}
	}
	kept := w.obs[:0]
	for _, o := range w.obs {
		if !o.TS.Before(since) {
			kept = append(kept, o)
		}
	}
	clear(w.obs[len(kept):])
	w.obs = kept
	return w.obs, nil
}
