package arpo

import (
	"fmt"
	"slices"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// Learner makes successive passes over a window of observations that
// changes a little between passes, as the daemon's does: it keeps each
// model's judgement (its performance, underperformance, risk violations
// and regime comparison) and judges again only the models whose inputs
// changed, and it fits the regime model again only when the market
// returns changed. Every pass returns what Learn returns for the same
// snapshot, byte for byte once encoded; what it saves is the work on the
// models that did not change. Position sizes, which are smoothed from
// the previous insights over the time since them, and the book-level
// results (allocation, high-priority models, the book's performance),
// which depend on every model, are computed afresh on every pass.
//
// A Learner is not safe for concurrent use.
type Learner struct {
	cfg  Config
	last *passCache
}

// NewLearner returns a Learner; it fails when cfg is invalid.
func NewLearner(cfg Config) (*Learner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("arpo config: %w", err)
	}
	return &Learner{cfg: cfg}, nil
}

// Learn is Learn(cfg, snap). changed must name every model whose
// observations in snap differ from those in the snapshot of the previous
// call (observations added or removed); the first call, and the first
// after a failed one, judges every model whatever changed says. Models
// are also judged again when their current deployment changed, when they
// had observations dated after the previous call's Now, when the day of
// Now or the regime of any day changed, or when Now went back.
func (l *Learner) Learn(snap Snapshot, changed map[flywheel.ModelKey]bool) (*Insights, error) {
	in, next, err := runPass(&l.cfg, &snap, l.last, changed, true)
	if err != nil {
		l.last = nil
		return nil, err
	}
	l.last = next
	return in, nil
}

// Reset makes the next pass judge every model, as the first does.
func (l *Learner) Reset() { l.last = nil }

// passCache is what a pass leaves for the next one to reuse. Its methods
// accept a nil receiver, which is a pass with nothing to reuse.
type passCache struct {
	// first and now are the pass's first day of the windows and its Now.
	first int64
	now   time.Time
	// pts are the market returns up to now, and regime and labels what
	// they gave (state and labels); pts is nil when the regime did not come from them.
	pts    []MarketPoint
	state  RegimeState
	labels *dayLabels
	// models are the judgements by model; future the models that had
	// observations dated after now, which later passes may see.
	models map[flywheel.ModelKey]*cachedModel
	future map[flywheel.ModelKey]bool
	// eligible are the judgements of the models the allocation was
	// chosen from, in model order, and alloc the allocation.
	eligible []*cachedModel
	alloc    ModelAllocation
}

// cachedModel is one model's judgement and the state the book-level
// results read from it.
type cachedModel struct {
	m      model
	dep    *flywheel.Deployment
	judged judged
}

// restore returns a copy of the cached model for a pass to use; its daily
// series is shared and read only.
func (c *cachedModel) restore() *model {
	m := c.m
	return &m
}

// regimeOf returns the regime of each day: the last pass's when it came
// from the same market returns over the same windows, or else afresh. It
// also returns the market returns up to Now.
func (c *passCache) regimeOf(cfg *Config, snap *Snapshot, w *windows) (RegimeState, *dayLabels, []MarketPoint, error) {
	pts, err := marketUpTo(snap.Market, w.now)
	if err != nil {
		return RegimeState{}, nil, nil, err
	}
	if c != nil && c.pts != nil && c.first == w.first && len(pts) >= cfg.MinMarketPoints && samePoints(pts, c.pts) {
		return c.state, c.labels, pts, nil
	}
	rs, dl, err := regimeOf(cfg, snap, w, pts)
	return rs, dl, pts, err
}

// next starts the cache of a pass; nil when the pass keeps none.
func (c *passCache) next(record bool, cfg *Config, w *windows, rs RegimeState, labels *dayLabels, pts []MarketPoint) *passCache {
	if !record {
		return nil
	}
	n := &passCache{
		first: w.first, now: w.now, state: rs, labels: labels,
		models: map[flywheel.ModelKey]*cachedModel{},
		future: map[flywheel.ModelKey]bool{},
	}
	if rs.Source == RegimeFromMarket && len(pts) >= cfg.MinMarketPoints {
		n.pts = pts
	}
	return n
}

// futureSet is the set group adds the models with observations after Now
// to; nil when the pass keeps no cache.
func (c *passCache) futureSet() map[flywheel.ModelKey]bool {
	if c == nil {
		return nil
	}
	return c.future
}

// reusable returns, for a model of the pass that next is the cache of,
// the last pass's judgement when it still holds, or nil. It holds when
// the windows, the regime labels and the model's deployment are the same,
// Now has not gone back, the model's observations did not change and it
// had none dated after the last pass's Now.
func (c *passCache) reusable(next *passCache, changed map[flywheel.ModelKey]bool) func(*model) *cachedModel {
	if c == nil || next == nil || c.first != next.first || next.now.Before(c.now) || !sameLabels(c.labels, next.labels) {
		return func(*model) *cachedModel { return nil }
	}
	return func(m *model) *cachedModel {
		e := c.models[m.key]
		if e == nil || changed[m.key] || c.future[m.key] || !sameDeployment(e.dep, m.dep) {
			return nil
		}
		return e
	}
}

// remember records a model's judgement for the next pass: reused, the
// entry it came from, or else a new one.
func (c *passCache) remember(m *model, j *judged, reused *cachedModel) {
	if c == nil {
		return
	}
	if reused != nil {
		c.models[m.key] = reused
		return
	}
	e := &cachedModel{m: *m, judged: *j}
	e.m.obs = nil
	if m.dep != nil {
		d := *m.dep
		e.dep = &d
	}
	c.models[m.key] = e
}

// allocation returns the allocation across the models: the last pass's
// when the models eligible for it are the same and none was judged again
// (a judgement reused is the same entry, so comparing entries compares
// every input of the allocation), or else afresh.
func (c *passCache) allocation(next *passCache, cfg *Config, models []*model, perf []ModelPerformance) ModelAllocation {
	if next == nil {
		return allocateModels(cfg, models, perf)
	}
	for i, m := range models {
		if perf[i].Days >= cfg.MinObservations {
			next.eligible = append(next.eligible, next.models[m.key])
		}
	}
	if c != nil && c.eligible != nil && slices.Equal(next.eligible, c.eligible) {
		next.alloc = c.alloc
	} else {
		next.alloc = allocateModels(cfg, models, perf)
	}
	return next.alloc
}

func samePoints(a, b []MarketPoint) bool {
	return slices.EqualFunc(a, b, func(x, y MarketPoint) bool { return x.Date.Equal(y.Date) && x.Return == y.Return })
}

func sameLabels(a, b *dayLabels) bool {
	return a == b || a != nil && b != nil && a.current == b.current && slices.Equal(a.labels, b.labels) && slices.Equal(a.names, b.names)
}

// sameDeployment compares what a model's judgement reads of its
// deployment: the version and the time.
func sameDeployment(a, b *flywheel.Deployment) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.ModelVersion == b.ModelVersion && a.DeployedAt.Equal(b.DeployedAt)
}
