package engine

import (
	"context"
	"encoding/json"
	"fmt"
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
	obs, err := loadObservations(ctx, e.store, since)
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
	stored, err := e.store.Insight(ctx, flywheel.InsightARPO, 0)
	if flywheel.Code(err) == flywheel.ENotFound {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read arpo insights: %w", err)
	}
	var in arpo.Insights
	if err := json.Unmarshal(stored.Body, &in); err != nil {
		// An unreadable old version (an older layout) must not stop the
		// loop: carry on as if there were none, and say so.
		e.logger.Warn("engine: the latest arpo insights do not decode; going on without them", "version", stored.Version, "err", err)
		return nil, stored.Version, nil
	}
	return &in, stored.Version, nil
}

// loadObservations reads every model's observations since a time, a
// page at a time.
func loadObservations(ctx context.Context, store flywheel.Store, since time.Time) ([]flywheel.Observation, error) {
	var all []flywheel.Observation
	mf := flywheel.ModelFilter{Limit: page}
	for {
		models, err := store.Models(ctx, mf)
		if err != nil {
			return nil, fmt.Errorf("load models: %w", err)
		}
		for _, m := range models {
			f := flywheel.ObservationFilter{Model: m.ModelKey, Since: since, Limit: page}
			for {
				obs, err := store.Observations(ctx, f)
				if err != nil {
					return nil, fmt.Errorf("load observations of %s: %w", m.ModelKey, err)
				}
				all = append(all, obs...)
				if len(obs) < page {
					break
				}
				last := obs[len(obs)-1]
				f.AfterTS, f.AfterEventID = last.TS, last.EventID
			}
		}
		if len(models) < page {
			return all, nil
		}
		last := models[len(models)-1].ModelKey
		mf.After = &last
	}
}
