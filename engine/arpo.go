package engine

import (
	"context"
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
	p, err := e.learnARPO(ctx)
	if err != nil {
		return flywheel.Insight{}, err
	}
	return e.storeARPO(ctx, p)
}

// pendingARPO is an ARPO pass's result not stored yet: the engine decides
// on it first, because the insights are derived data and their JSON and
// fsync need not stand between an observation and its job.
type pendingARPO struct {
	in    *arpo.Insights
	now   time.Time
	start time.Time
	// version is the number the insights will be stored under, and prev
	// the cache entry they replace, restored if the store fails.
	version int64
	prev    *cachedInsight[arpo.Insights]
}

// learnARPO runs the learner and caches its result as the latest
// insights, under the version the next store will give them: the engine
// is the only writer of insights and stores them one at a time, so that
// is the latest stored version plus one. storeARPO checks it.
//
// Not every pass is stored (see mustStoreARPO): a pass whose insights no
// stored signal cites and which comes within ARPOStoreEvery of the last
// stored one is kept in memory only, as the previous insights of the
// next pass, which then takes its version number.
func (e *Engine) learnARPO(ctx context.Context) (*pendingARPO, error) {
	start := time.Now()
	e.learnerMu.Lock()
	defer e.learnerMu.Unlock()
	now := e.clock.Now().UTC()
	days := max(e.arpo.LookbackDays, e.arpo.RegimeLookbackDays)
	since := now.AddDate(0, 0, -days-1)
	obs, changed, err := e.live.refresh(ctx, e.store, since)
	if err != nil {
		return nil, err
	}
	deps, err := e.store.Deployments(ctx, flywheel.DeploymentFilter{Limit: page})
	if err != nil {
		return nil, fmt.Errorf("load deployments: %w", err)
	}
	var market []arpo.MarketPoint
	if e.market != nil {
		if market, err = e.market(ctx); err != nil {
			return nil, fmt.Errorf("load market returns: %w", err)
		}
	}
	prev, prevVersion, err := e.latestARPO(ctx)
	if err != nil {
		return nil, err
	}
	in, err := e.learner.Learn(arpo.Snapshot{Observations: obs, Deployments: deps, Market: market, Now: now, Previous: prev}, changed)
	if err != nil {
		return nil, fmt.Errorf("arpo: %w", err)
	}
	e.live.learnt()
	e.cachedMu.Lock()
	version := prevVersion + 1
	if c := e.cachedARPO; c != nil && c.unstored {
		// The last pass's insights were never stored, so nothing cites
		// their number: this pass takes it.
		version = c.version
	}
	p := &pendingARPO{in: in, now: now, start: start, version: version, prev: e.cachedARPO}
	e.cachedARPO = &cachedInsight[arpo.Insights]{in: in, version: p.version, unstored: true}
	e.cachedMu.Unlock()
	return p, nil
}

// storeARPO stores a pass's insights as a new version and records the
// live outcomes that have come due. When the store fails, the cache goes
// back to the last stored insights, so that the next pass smooths from
// them, as if this pass had not run.
func (e *Engine) storeARPO(ctx context.Context, p *pendingARPO) (flywheel.Insight, error) {
	in := p.in
	stored, err := e.putARPO(ctx, p)
	if err != nil {
		e.cachedMu.Lock()
		if c := e.cachedARPO; c != nil && c.in == in {
			e.cachedARPO = p.prev
		}
		e.cachedMu.Unlock()
		return flywheel.Insight{}, err
	}
	e.cachedMu.Lock()
	if c := e.cachedARPO; c != nil && c.in == in {
		c.unstored = false
	}
	e.arpoStoredAt = time.Now()
	e.cachedMu.Unlock()
	if stored.Version != p.version {
		e.logger.Warn("engine: arpo insights stored under another version than the one decided on; another writer?",
			"expected", p.version, "stored", stored.Version)
		remember(e, &e.cachedARPO, in, stored.Version)
	}
	if err := e.recordLiveOutcomes(ctx); err != nil {
		return stored, err
	}
	e.logger.Info("arpo insights", "version", stored.Version, "observations", in.ObservationsUsed, "models", in.Models,
		"underperforming", len(in.UnderperformingPositions), "needing_retrain", len(in.TargetsNeedingRetrain),
		"regime", in.Regime.Current, "took", time.Since(p.start).Round(time.Millisecond))
	return stored, nil
}

func (e *Engine) putARPO(ctx context.Context, p *pendingARPO) (flywheel.Insight, error) {
	e.encoderMu.Lock()
	body, err := e.encoder.Encode(p.in)
	e.encoderMu.Unlock()
	if err != nil {
		return flywheel.Insight{}, fmt.Errorf("encode arpo insights: %w", err)
	}
	stored, err := e.store.PutInsight(ctx, flywheel.Insight{Kind: flywheel.InsightARPO, CreatedAt: p.now, Body: body})
	if err != nil {
		return flywheel.Insight{}, fmt.Errorf("store arpo insights: %w", err)
	}
	e.pruned(ctx, flywheel.InsightARPO, stored.Version)
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
	// changed names the models whose observations were added or dropped
	// since the learner last learnt from the window: what arpo.Learner
	// needs to know to judge again only those.
	changed map[flywheel.ModelKey]bool
}

// refresh reads what arrived since the last call, drops what fell out of
// the window (ts before since) and returns the window and the models
// whose observations changed since the last call to learnt. The slice
// and the map are the caller's until the next call.
func (w *liveWindow) refresh(ctx context.Context, store flywheel.LiveStore, since time.Time) ([]flywheel.Observation, map[flywheel.ModelKey]bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.changed == nil {
		w.changed = map[flywheel.ModelKey]bool{}
	}
	for {
		batch, err := store.ObservationsAfter(ctx, w.seq, page)
		if err != nil {
			return nil, nil, fmt.Errorf("load observations: %w", err)
		}
		for _, o := range batch {
			if !o.TS.Before(since) {
				w.obs = append(w.obs, o)
				w.changed[o.ModelKey] = true
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
		} else {
			w.changed[o.ModelKey] = true
		}
	}
	clear(w.obs[len(kept):])
	w.obs = kept
	return w.obs, w.changed, nil
}

// learnt starts a new set of changed models: the learner has learnt from
// the window as refresh last returned it.
func (w *liveWindow) learnt() {
	w.mu.Lock()
	w.changed = nil
	w.mu.Unlock()
}

// DefaultARPOStoreEvery is how often, at most, ARPO insights that no
// signal cites are stored while passes run back to back.
const DefaultARPOStoreEvery = time.Second

// mustStoreARPO reports whether a pass's insights are to be stored: when
// a stored signal cites their version, when the last stored version is
// ARPOStoreEvery old, or when the engine is stopping. Under a steady feed
// of live data a pass runs every few tens of milliseconds, and storing a
// megabyte of insights each time would write gigabytes an hour and keep
// the next pass waiting; a pass in between changes the sizes a little and
// is the next pass's starting point, which is all it is needed for.
func (e *Engine) mustStoreARPO(ctx context.Context, p *pendingARPO) bool {
	e.cachedMu.Lock()
	defer e.cachedMu.Unlock()
	return e.arpoCited >= p.version || time.Since(e.arpoStoredAt) >= e.arpoStoreEvery || ctx.Err() != nil
}

// citeARPO records that stored signals cite ARPO insights of version v.
func (e *Engine) citeARPO(v int64) {
	e.cachedMu.Lock()
	e.arpoCited = max(e.arpoCited, v)
	e.cachedMu.Unlock()
}
