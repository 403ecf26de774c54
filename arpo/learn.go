package arpo

import (
	"fmt"
	"slices"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// Snapshot is everything Learn looks at. Records dated after Now are
// ignored, so a backtest can pass everything it has.
type Snapshot struct {
	Observations []flywheel.Observation
	Deployments  []flywheel.Deployment
	// Market is the daily return of a market index, in any order; it may
	// be empty (see regimeOf for what happens then).
	Market []MarketPoint
	Now    time.Time
	// Previous is the last Insights, from which sizes are smoothed; nil on
	// the first pass.
	Previous *Insights
}

// Learn derives the insights from a snapshot. It fails only on an invalid
// configuration or snapshot (EInvalid naming the field): a zero Now, a
// non-finite number, a record without its time, two market returns on
// one day.
func Learn(cfg Config, snap Snapshot) (*Insights, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("arpo config: %w", err)
	}
	in, _, err := runPass(&cfg, &snap, nil, nil, false)
	return in, err
}

// runPass is one pass. It reuses what it can of the previous pass's cache
// (see Learner) and, with record, returns the cache of this one.
func runPass(cfg *Config, snap *Snapshot, prev *passCache, changed map[flywheel.ModelKey]bool, record bool) (*Insights, *passCache, error) {
	if snap.Now.IsZero() {
		return nil, nil, flywheel.FieldError("now", "is required")
	}
	now := snap.Now.UTC()
	w := newWindows(cfg, now)
	deps, err := currentDeployments(snap.Deployments, now)
	if err != nil {
		return nil, nil, err
	}
	rs, labels, pts, err := prev.regimeOf(cfg, snap, &w)
	if err != nil {
		return nil, nil, err
	}
	next := prev.next(record, cfg, &w, rs, labels, pts)
	models, err := group(snap.Observations, &w, deps, next.futureSet())
	if err != nil {
		return nil, nil, err
	}
	in := &Insights{
		GeneratedAt:  now,
		Observations: len(snap.Observations),
		Models:       len(models),
		Regime:       rs,
		RiskLimits:   RiskLimits{Limits: cfg.Limits, Violations: []RiskViolation{}},
		Config:       *cfg,
	}
	learnModels(cfg, snap, &w, labels, models, in, prev.reusable(next, changed), next)
	x, days := bookSeries(cfg, models)
	in.PortfolioPerformance = portfolioPerformance(cfg, models, in.ModelPerformance, x)
	in.HighPriorityTargets = highPriority(cfg, models, in.ModelPerformance, x, days)
	in.Allocation = prev.allocation(next, cfg, models, in.ModelPerformance)
	in.TargetsNeedingRetrain = needingRetrain(cfg, models, in)
	return in, next, nil
}

// judged is what a pass concludes about one model from its own inputs
// alone: everything but its position adjustment, which also depends on
// the previous insights and the time since them.
type judged struct {
	perf       ModelPerformance
	under      *Underperformance
	violations []RiskViolation
	mismatch   *RegimeMismatch
	strategy   *RegimeStrategy
}

// judge aggregates m's observations and judges it.
func judge(cfg *Config, snap *Snapshot, w *windows, labels *dayLabels, sc *scratch, m *model) judged {
	m.daily = make([]float64, cfg.LookbackDays)
	sc.aggregate(m, snap.Observations, w, labels)
	j := judged{perf: performance(cfg, m, sc, w)}
	if u, ok := underperformance(cfg, &j.perf); ok {
		m.underperforming = true
		j.under = &u
	}
	j.violations = violations(cfg, &j.perf)
	if labels.current >= 0 {
		j.mismatch, j.strategy = compareRegimes(cfg, m, labels.names[labels.current])
		m.regimeMismatched = j.mismatch != nil
	}
	return j
}

// learnModels judges each model, or takes its judgement from the last
// pass when reuse allows, adjusts its position, and appends to the lists
// in model order, which is key order, so they come out sorted. next, when
// not nil, records every model's judgement for the next pass.
func learnModels(cfg *Config, snap *Snapshot, w *windows, labels *dayLabels, models []*model, in *Insights, reuse func(*model) *cachedModel, next *passCache) {
	in.ModelPerformance = make([]ModelPerformance, 0, len(models))
	in.UnderperformingPositions = []Underperformance{}
	in.PositionAdjustments = make([]PositionAdjustment, 0, len(models))
	in.RegimeMismatch = []RegimeMismatch{}
	strategies := map[string]*RegimeStrategy{}
	elapsed := 0.0
	if prev := snap.Previous; prev != nil {
		at := prev.GeneratedAt
		in.PreviousGeneratedAt = &at
		elapsed = in.GeneratedAt.Sub(at).Hours() / 24
	}
	var prevAdj []PositionAdjustment
	if snap.Previous != nil {
		prevAdj = snap.Previous.PositionAdjustments
	}
	sc := newScratch(w.days)
	for i, m := range models {
		var j *judged
		c := reuse(m)
		if c != nil {
			m, j = c.restore(), &c.judged
			models[i] = m
		} else {
			jm := judge(cfg, snap, w, labels, sc, m)
			j = &jm
		}
		next.remember(m, j, c)
		in.ObservationsUsed += m.used
		in.ModelPerformance = append(in.ModelPerformance, j.perf)
		if j.under != nil {
			in.UnderperformingPositions = append(in.UnderperformingPositions, *j.under)
		}
		// The previous adjustments are sorted by key too, so they are
		// walked in step rather than searched for.
		var prev *PositionAdjustment
		for len(prevAdj) > 0 && compareKeys(prevAdj[0].ModelKey, m.key) < 0 {
			prevAdj = prevAdj[1:]
		}
		if len(prevAdj) > 0 && prevAdj[0].ModelKey == m.key {
			a := prevAdj[0]
			prev = &a
		}
		a := adjust(cfg, &j.perf, m.refDaily, prev, elapsed)
		m.sizeFactor = a.SizeFactor
		in.PositionAdjustments = append(in.PositionAdjustments, a)
		in.RiskLimits.Violations = append(in.RiskLimits.Violations, j.violations...)
		if j.mismatch != nil {
			in.RegimeMismatch = append(in.RegimeMismatch, *j.mismatch)
		}
		if s := strategies[m.key.Target]; j.strategy != nil && (s == nil || j.strategy.RegimeWeight > s.RegimeWeight) {
			strategies[m.key.Target] = j.strategy
		}
	}
	in.RegimeStrategies = make([]RegimeStrategy, 0, len(strategies))
	for _, s := range strategies {
		in.RegimeStrategies = append(in.RegimeStrategies, *s)
	}
	slices.SortFunc(in.RegimeStrategies, func(a, b RegimeStrategy) int { return compareKeys(a.ModelKey, b.ModelKey) })
}

// needingRetrain lists the models ARPO asks to retrain, each with all of
// its reasons: underperforming, sized below retrain_size_below, regime
// mismatched, or breaking a risk limit.
func needingRetrain(cfg *Config, models []*model, in *Insights) []RetrainTarget {
	out := []RetrainTarget{}
	vi := 0
	for i, m := range models {
		var reasons []flywheel.Reason
		p := &in.ModelPerformance[i]
		if m.underperforming {
			reasons = append(reasons, flywheel.Reason{
				Source: flywheel.SourceARPO, Kind: ReasonUnderperforming,
				Message: fmt.Sprintf("live P&L below expected: PSR %.3f < %g over %d days", float64(p.PSR), cfg.PSRLevel, p.Days),
				Values: values(map[string]float64{
					"psr": float64(p.PSR), "psr_level": cfg.PSRLevel, "sharpe": float64(p.Sharpe),
					"expected_sharpe": float64(p.ExpectedSharpe), "days": float64(p.Days),
					"pnl": p.PnL, "expected_pnl": p.ExpectedPnL,
				}),
			})
		}
		if a := &in.PositionAdjustments[i]; a.SizeFactor < cfg.RetrainSizeBelow {
			reasons = append(reasons, flywheel.Reason{
				Source: flywheel.SourceARPO, Kind: ReasonPositionCut,
				Message: fmt.Sprintf("position size %.2fx, below %g", a.SizeFactor, cfg.RetrainSizeBelow),
				Values: values(map[string]float64{
					"size_factor": a.SizeFactor, "target_size": a.TargetSize, "threshold": cfg.RetrainSizeBelow,
					"shrunk_ratio": float64(a.ShrunkRatio), "psr": float64(a.PSR),
				}),
			})
		}
		if m.regimeMismatched {
			mm, _ := find(in.RegimeMismatch, m.key, func(r *RegimeMismatch) flywheel.ModelKey { return r.ModelKey })
			reasons = append(reasons, flywheel.Reason{
				Source: flywheel.SourceARPO, Kind: ReasonRegimeMismatch, Message: "not adapted to the " + mm.Regime + " regime: " + mm.Reason,
				Values: values(map[string]float64{
					"sharpe_current": mm.SharpeCurrent, "sharpe_overall": mm.SharpeOverall,
					"days_current": float64(mm.DaysCurrent), "days_other": float64(mm.DaysOther),
					"z": mm.Z, "confidence": mm.Confidence,
				}),
			})
		}
		// Violations were appended in model order, so they are consumed
		// in step rather than searched for.
		for ; vi < len(in.RiskLimits.Violations) && in.RiskLimits.Violations[vi].ModelKey == m.key; vi++ {
			v := &in.RiskLimits.Violations[vi]
			reasons = append(reasons, flywheel.Reason{
				Source: flywheel.SourceARPO, Kind: ReasonRiskViolation, Message: "risk predictions inaccurate: " + v.Reason,
				Values: values(map[string]float64{v.Metric: v.Value, "limit": v.Limit, "days": float64(v.Days)}),
			})
		}
		if len(reasons) > 0 {
			out = append(out, RetrainTarget{ModelKey: m.key, Kind: flywheel.TargetKind(m.key.Target), Reasons: reasons})
		}
	}
	return out
}

// values drops undefined numbers, which JSON cannot carry.
func values(m map[string]float64) map[string]float64 {
	for k, v := range m {
		if !Number(v).Defined() {
			delete(m, k)
		}
	}
	return m
}
