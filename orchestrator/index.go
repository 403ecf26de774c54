package orchestrator

import (
	"cmp"
	"slices"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/arpo"
	"github.com/flywheel-ml/flywheel/cils"
)

// index holds the snapshot's lists in maps keyed by model, kind or
// target, built once per decision: every question about a model is then a
// map lookup, which keeps a decision over 10,000 models linear. It does
// not rely on the learners' sort order, so hand-built insights (scenarios,
// tests) work as well.
type index struct {
	degrading    map[flywheel.ModelKey]*cils.Degradation
	estimates    map[flywheel.ModelKey]*cils.Estimate
	gains        map[flywheel.ModelKey]strategyGain
	thresholds   map[string]*cils.KindThreshold
	kindPattern  map[string]bool
	newThreshold map[string]bool
	modelPattern map[flywheel.ModelKey][]*cils.NewPattern
	cilsRetrain  map[flywheel.ModelKey][]flywheel.Reason
	// strategyGainLevel is CILS's "better strategy" level (seed 6.1: an
	// expected improvement above 5%).
	strategyGainLevel float64
	// scaleFloor is CILS's least score level, the least level a relative
	// improvement is measured against.
	scaleFloor float64

	underperforming map[flywheel.ModelKey]*arpo.Underperformance
	adjustments     map[flywheel.ModelKey]*arpo.PositionAdjustment
	mismatch        map[flywheel.ModelKey]*arpo.RegimeMismatch
	highPriority    map[flywheel.ModelKey]bool
	regimeStrategy  map[string]*arpo.RegimeStrategy
	arpoRetrain     map[flywheel.ModelKey][]flywheel.Reason

	models map[flywheel.ModelKey]*ModelState
	// byKind lists every model the snapshot mentions, per target kind,
	// sorted: a kind-wide change (a new leakage threshold) reaches them all.
	byKind map[string][]flywheel.ModelKey
}

// strategyGain is a model's expected gain from its kind's recommended
// strategy, with the recommendation.
type strategyGain struct {
	gain *cils.StrategyGain
	kind *cils.KindStrategy
}

func newIndex(snap *Snapshot) *index {
	// Size the big maps up front: growing them is most of an index's cost.
	var nEst, nGain int
	if snap.CILS != nil {
		nEst = len(snap.CILS.Estimates)
		for i := range snap.CILS.OptimalStrategies {
			nGain += len(snap.CILS.OptimalStrategies[i].Targets)
		}
	}
	x := &index{
		degrading:    map[flywheel.ModelKey]*cils.Degradation{},
		estimates:    make(map[flywheel.ModelKey]*cils.Estimate, nEst),
		gains:        make(map[flywheel.ModelKey]strategyGain, nGain),
		thresholds:   map[string]*cils.KindThreshold{},
		kindPattern:  map[string]bool{},
		newThreshold: map[string]bool{},
		modelPattern: map[flywheel.ModelKey][]*cils.NewPattern{},
		cilsRetrain:  map[flywheel.ModelKey][]flywheel.Reason{},

		underperforming: map[flywheel.ModelKey]*arpo.Underperformance{},
		adjustments:     map[flywheel.ModelKey]*arpo.PositionAdjustment{},
		mismatch:        map[flywheel.ModelKey]*arpo.RegimeMismatch{},
		highPriority:    map[flywheel.ModelKey]bool{},
		regimeStrategy:  map[string]*arpo.RegimeStrategy{},
		arpoRetrain:     map[flywheel.ModelKey][]flywheel.Reason{},

		models: make(map[flywheel.ModelKey]*ModelState, len(snap.Models)),
		byKind: map[string][]flywheel.ModelKey{},
	}
	known := make(map[flywheel.ModelKey]bool, max(nEst, nGain, len(snap.Models)))
	x.indexCILS(snap.CILS, known)
	x.indexARPO(snap.ARPO, known)
	for i := range snap.Models {
		m := &snap.Models[i]
		x.models[m.ModelKey] = m
		known[m.ModelKey] = true
	}
	for k := range known {
		kind := flywheel.TargetKind(k.Target)
		x.byKind[kind] = append(x.byKind[kind], k)
	}
	for _, keys := range x.byKind {
		slices.SortFunc(keys, compareKeys)
	}
	return x
}

func (x *index) indexCILS(in *cils.Insights, known map[flywheel.ModelKey]bool) {
	x.strategyGainLevel = cils.DefaultConfig().StrategyGainLevel
	x.scaleFloor = cils.DefaultConfig().ScaleFloor
	if in == nil {
		return
	}
	if in.Config.ScaleFloor > 0 {
		x.scaleFloor = in.Config.ScaleFloor
	}
	if in.Config.StrategyGainLevel > 0 {
		x.strategyGainLevel = in.Config.StrategyGainLevel
	}
	for i := range in.DegradingTargets {
		d := &in.DegradingTargets[i]
		x.degrading[d.ModelKey], known[d.ModelKey] = d, true
	}
	for i := range in.Estimates {
		e := &in.Estimates[i]
		x.estimates[e.ModelKey], known[e.ModelKey] = e, true
	}
	for i := range in.OptimalStrategies {
		ks := &in.OptimalStrategies[i]
		for j := range ks.Targets {
			g := &ks.Targets[j]
			x.gains[g.ModelKey], known[g.ModelKey] = strategyGain{gain: g, kind: ks}, true
		}
	}
	for i := range in.OptimalThresholds {
		t := &in.OptimalThresholds[i]
		x.thresholds[t.Kind] = t
	}
	for i := range in.NewPatterns {
		p := &in.NewPatterns[i]
		if p.Target == "" {
			// A kind-wide change: the seed's "target in new_patterns" holds
			// for every model of the kind (cils.Insights.HasNewPattern).
			x.kindPattern[p.Kind] = true
			if p.Type == cils.PatternThresholdChanged {
				x.newThreshold[p.Kind] = true
			}
			continue
		}
		k := flywheel.ModelKey{Target: p.Target, ModelFamily: p.ModelFamily}
		x.modelPattern[k], known[k] = append(x.modelPattern[k], p), true
	}
	for i := range in.TargetsNeedingRetrain {
		t := &in.TargetsNeedingRetrain[i]
		x.cilsRetrain[t.ModelKey], known[t.ModelKey] = t.Reasons, true
	}
}

func (x *index) indexARPO(in *arpo.Insights, known map[flywheel.ModelKey]bool) {
	if in == nil {
		return
	}
	for i := range in.UnderperformingPositions {
		u := &in.UnderperformingPositions[i]
		x.underperforming[u.ModelKey], known[u.ModelKey] = u, true
	}
	for i := range in.PositionAdjustments {
		a := &in.PositionAdjustments[i]
		x.adjustments[a.ModelKey], known[a.ModelKey] = a, true
	}
	for i := range in.RegimeMismatch {
		m := &in.RegimeMismatch[i]
		x.mismatch[m.ModelKey], known[m.ModelKey] = m, true
	}
	for i := range in.HighPriorityTargets {
		h := &in.HighPriorityTargets[i]
		x.highPriority[h.ModelKey], known[h.ModelKey] = true, true
	}
	for i := range in.RegimeStrategies {
		s := &in.RegimeStrategies[i]
		x.regimeStrategy[s.Target] = s
	}
	for i := range in.TargetsNeedingRetrain {
		t := &in.TargetsNeedingRetrain[i]
		x.arpoRetrain[t.ModelKey], known[t.ModelKey] = t.Reasons, true
	}
}

// hasNewPattern is the seed's "target in cils_insights.new_patterns": a
// pattern about the model, or a kind-wide change of its kind.
func (x *index) hasNewPattern(k flywheel.ModelKey) bool {
	return len(x.modelPattern[k]) > 0 || x.kindPattern[flywheel.TargetKind(k.Target)]
}

// betterStrategy returns the model's gain from its kind's recommended
// strategy when it is the seed's "target in optimal_strategies": a better
// strategy is available, one expected to improve the model by more than
// CILS's strategy_gain_level of its score level.
func (x *index) betterStrategy(k flywheel.ModelKey) (strategyGain, bool) {
	g, ok := x.gains[k]
	if !ok || g.gain.RelativeImprovement <= x.strategyGainLevel {
		return strategyGain{}, false
	}
	return g, true
}

// positionCut returns the model's size factor when it is below the cut
// level (the seed's adjustment < 0.8).
func (x *index) positionCut(cfg *Config, k flywheel.ModelKey) (*arpo.PositionAdjustment, bool) {
	a, ok := x.adjustments[k]
	if !ok || a.SizeFactor >= cfg.Signals.PositionCutBelow {
		return nil, false
	}
	return a, true
}

// compareKeys orders models by target, then family.
func compareKeys(a, b flywheel.ModelKey) int {
	return cmp.Or(cmp.Compare(a.Target, b.Target), cmp.Compare(a.ModelFamily, b.ModelFamily))
}
