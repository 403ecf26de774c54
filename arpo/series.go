package arpo

import (
	"math"
	"slices"
	"time"

	"github.com/flywheel-ml/flywheel"
)

const secondsPerDay = 86400

// dayOf returns the UTC calendar day of t as a number of days since
// 1970-01-01. Integer arithmetic on Unix seconds costs a fraction of
// t.UTC().Truncate, and it runs once per observation.
func dayOf(t time.Time) int64 {
	s := t.Unix()
	d := s / secondsPerDay
	if s%secondsPerDay < 0 {
		d--
	}
	return d
}

// dayStart returns midnight UTC of day d.
func dayStart(d int64) time.Time { return time.Unix(d*secondsPerDay, 0).UTC() }

// windows locates the dense per-day arrays every model is aggregated
// into: index 0 is day first, the last index the day of Now. Both windows
// end on the day of Now, so one array serves both.
type windows struct {
	now      time.Time
	first    int64
	days     int
	perfFrom int // index of the first day of the performance window
	regFrom  int // index of the first day of the regime window
}

func newWindows(cfg *Config, now time.Time) windows {
	span := max(cfg.LookbackDays, cfg.RegimeLookbackDays)
	return windows{
		now:      now,
		first:    dayOf(now) - int64(span) + 1,
		days:     span,
		perfFrom: span - cfg.LookbackDays,
		regFrom:  span - cfg.RegimeLookbackDays,
	}
}

// model is one model's working state during a pass.
type model struct {
	key flywheel.ModelKey
	dep *flywheel.Deployment
	// obs are indices into the snapshot's observations inside the windows
	// (the deployment is checked during aggregation), in snapshot order.
	obs []int32

	// Filled by aggregate. used counts the observations after the
	// deployment; perfObs and hits those in the performance window.
	used, perfObs, hits int
	// daily is the P&L per day of the performance window, NaN on days
	// without observations.
	daily            []float64
	expSum           float64
	expDays          int
	exposure         float64
	regime           regimeSplit
	refDaily         float64 // the PSR's benchmark, per day
	gross            float64 // sum of |daily P&L|, the allocation's ranking
	underperforming  bool
	sizeFactor       float64
	regimeMismatched bool
}

// group assigns the observations inside the windows to their models and
// returns the models (those with observations or a current deployment)
// sorted by key. Observations are not copied: each model holds indices,
// laid out by a counting sort in two passes, so the cost is two int32 per
// observation and one map lookup per run of observations of one model.
// When future is not nil, the models of observations dated after Now are
// added to it.
func group(obs []flywheel.Observation, w *windows, deps map[flywheel.ModelKey]*flywheel.Deployment, future map[flywheel.ModelKey]bool) ([]*model, error) {
	index := make(map[flywheel.ModelKey]int32, len(deps))
	var models []*model
	var counts []int32
	add := func(k flywheel.ModelKey) int32 {
		id := int32(len(models))
		index[k] = id
		models = append(models, &model{key: k, dep: deps[k]})
		counts = append(counts, 0)
		return id
	}
	lo := w.first * secondsPerDay
	modelOf := make([]int32, len(obs))
	last, lastKey := int32(-1), flywheel.ModelKey{}
	for i := range obs {
		o := &obs[i]
		if err := checkObservation(o, i); err != nil {
			return nil, err
		}
		modelOf[i] = -1
		if o.TS.Unix() < lo {
			continue
		}
		if o.TS.After(w.now) {
			if future != nil {
				future[o.ModelKey] = true
			}
			continue
		}
		if last < 0 || o.ModelKey != lastKey {
			id, ok := index[o.ModelKey]
			if !ok {
				id = add(o.ModelKey)
			}
			last, lastKey = id, o.ModelKey
		}
		modelOf[i] = last
		counts[last]++
	}
	for k := range deps {
		if _, ok := index[k]; !ok {
			add(k)
		}
	}
	order := make([]int32, 0, len(obs))
	start := make([]int32, len(models))
	for id, c := range counts {
		start[id] = int32(len(order))
		order = order[:len(order)+int(c)]
	}
	next := slices.Clone(start)
	for i, id := range modelOf {
		if id >= 0 {
			order[next[id]] = int32(i)
			next[id]++
		}
	}
	for id, m := range models {
		m.obs = order[start[id]:next[id]:next[id]]
	}
	slices.SortFunc(models, func(a, b *model) int { return compareKeys(a.key, b.key) })
	return models, nil
}

// checkObservation rejects non-finite numbers, which would poison every
// sum they enter. Names and duplicates were checked at ingestion; checking
// event ids again would cost a map of a million strings per pass.
func checkObservation(o *flywheel.Observation, i int) error {
	field := ""
	switch {
	case math.IsNaN(o.PnL) || math.IsInf(o.PnL, 0):
		field = "pnl"
	case o.ExpectedPnL != nil && (math.IsNaN(*o.ExpectedPnL) || math.IsInf(*o.ExpectedPnL, 0)):
		field = "expected_pnl"
	case o.Position != nil && (math.IsNaN(*o.Position) || math.IsInf(*o.Position, 0)):
		field = "position"
	case o.TS.IsZero():
		return flywheel.WithFieldPrefix(flywheel.AtIndex(flywheel.FieldError("ts", "is required"), i), "observations")
	default:
		return nil
	}
	return flywheel.WithFieldPrefix(flywheel.AtIndex(flywheel.FieldError(field, "must be a finite number"), i), "observations")
}

// currentDeployments returns, per model, the latest deployment made no
// later than now; ties go to the larger version so the choice does not
// depend on input order.
func currentDeployments(deps []flywheel.Deployment, now time.Time) (map[flywheel.ModelKey]*flywheel.Deployment, error) {
	out := make(map[flywheel.ModelKey]*flywheel.Deployment)
	for i := range deps {
		d := &deps[i]
		if d.DeployedAt.IsZero() {
			return nil, flywheel.WithFieldPrefix(flywheel.AtIndex(flywheel.FieldError("deployed_at", "is required"), i), "deployments")
		}
		if d.DeployedAt.After(now) {
			continue
		}
		cur := out[d.ModelKey]
		if cur == nil || d.DeployedAt.After(cur.DeployedAt) ||
			d.DeployedAt.Equal(cur.DeployedAt) && d.ModelVersion > cur.ModelVersion {
			out[d.ModelKey] = d
		}
	}
	return out, nil
}

// scratch holds the per-day arrays one model is aggregated into, reused
// from model to model so that a pass allocates per model only what it
// keeps.
type scratch struct {
	pnl, exp  []float64
	n, nexp   []int32
	vals      []float64 // the finite daily values of the current model
	cur, oth  []float64 // daily P&L in and out of the current regime
	all       []float64 // both
	positions latestPositions
}

func newScratch(days int) *scratch {
	return &scratch{
		pnl: make([]float64, days), exp: make([]float64, days),
		n: make([]int32, days), nexp: make([]int32, days),
		vals:      make([]float64, 0, days),
		positions: latestPositions{more: map[string]symbolPosition{}},
	}
}

// aggregate sums m's observations per day and fills in its daily series,
// expected P&L, hit count, exposure and regime split.
func (sc *scratch) aggregate(m *model, obs []flywheel.Observation, w *windows, labels *dayLabels) {
	clear(sc.pnl)
	clear(sc.exp)
	clear(sc.n)
	clear(sc.nexp)
	sc.positions.reset()
	for _, i := range m.obs {
		o := &obs[i]
		if m.dep != nil && o.TS.Before(m.dep.DeployedAt) {
			continue
		}
		d := int(dayOf(o.TS) - w.first)
		m.used++
		sc.pnl[d] += o.PnL
		sc.n[d]++
		if d < w.perfFrom {
			continue
		}
		m.perfObs++
		if o.PnL > 0 {
			m.hits++
		}
		if o.ExpectedPnL != nil {
			sc.exp[d] += *o.ExpectedPnL
			sc.nexp[d]++
		}
		if o.Position != nil {
			sc.positions.add(o.Symbol, o.TS, *o.Position)
		}
	}
	for d := w.perfFrom; d < w.days; d++ {
		v := math.NaN()
		if sc.n[d] > 0 {
			v = sc.pnl[d]
		}
		m.daily[d-w.perfFrom] = v
		if sc.nexp[d] > 0 {
			m.expSum += sc.exp[d]
			m.expDays++
		}
	}
	m.exposure = sc.positions.gross()
	sc.splitRegimes(m, w, labels)
}

// symbolPosition is the latest position in one symbol.
type symbolPosition struct {
	ts  time.Time
	pos float64
}

// latestPositions keeps the latest position per symbol. Most models trade
// one symbol, so it holds the first in fields and needs its map only once
// a second symbol appears.
type latestPositions struct {
	sym   string
	first symbolPosition
	any   bool
	more  map[string]symbolPosition
	abs   []float64
}

func (l *latestPositions) reset() {
	l.any = false
	clear(l.more)
}

func (l *latestPositions) add(sym string, ts time.Time, pos float64) {
	switch {
	case !l.any:
		l.sym, l.first, l.any = sym, symbolPosition{ts, pos}, true
	case sym == l.sym:
		if !ts.Before(l.first.ts) {
			l.first = symbolPosition{ts, pos}
		}
	default:
		if p, ok := l.more[sym]; !ok || !ts.Before(p.ts) {
			l.more[sym] = symbolPosition{ts, pos}
		}
	}
}

// gross returns the sum of the absolute latest positions, summed in
// sorted order: map order is random, and a sum in random order can differ
// in its last bit from pass to pass.
func (l *latestPositions) gross() float64 {
	if !l.any {
		return 0
	}
	l.abs = append(l.abs[:0], math.Abs(l.first.pos))
	for _, p := range l.more {
		l.abs = append(l.abs, math.Abs(p.pos))
	}
	slices.Sort(l.abs)
	g := 0.0
	for _, v := range l.abs {
		g += v
	}
	return g
}

// finiteValues returns the non-NaN entries of x in dst's storage.
func finiteValues(dst, x []float64) []float64 {
	dst = dst[:0]
	for _, v := range x {
		if !math.IsNaN(v) {
			dst = append(dst, v)
		}
	}
	return dst
}
