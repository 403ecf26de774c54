package orchestrator

import (
	"math"

	"github.com/flywheel-ml/flywheel"
)

// Keys of Signal.Factors: the four factors, their components and the
// numbers behind value and urgency.
const (
	FactorCILS            = "cils"
	FactorARPO            = "arpo"
	FactorValue           = "value"
	FactorUrgency         = "urgency"
	FactorDegrading       = "degrading"
	FactorNewPattern      = "new_pattern"
	FactorBetterStrategy  = "better_strategy"
	FactorUnderperforming = "underperforming"
	FactorHighPriority    = "high_priority"
	FactorRegimeMismatch  = "regime_mismatch"
	FactorImprovement     = "expected_improvement"
	FactorCost            = "expected_cost"
	FactorROI             = "roi"
	FactorRate            = "rate"
)

// Urgency levels (seed 2.2).
const (
	UrgencyLow      = "LOW"
	UrgencyMedium   = "MEDIUM"
	UrgencyHigh     = "HIGH"
	UrgencyCritical = "CRITICAL"
)

// roiEpsilon keeps the ROI finite for a free job (seed 2.3 and 6.2).
const roiEpsilon = 1e-6

// Inputs are what the priority of one model is computed from.
type Inputs struct {
	// The seed's membership tests, used as 0/1 indicators.
	Degrading       bool `json:"degrading"`
	NewPattern      bool `json:"new_pattern"`
	BetterStrategy  bool `json:"better_strategy"`
	Underperforming bool `json:"underperforming"`
	HighPriority    bool `json:"high_priority"`
	RegimeMismatch  bool `json:"regime_mismatch"`
	// ExpectedImprovement is in validation score units; ExpectedCost in
	// compute units, positive.
	ExpectedImprovement float64 `json:"expected_improvement"`
	ExpectedCost        float64 `json:"expected_cost"`
	// Rate is the degradation rate (see urgencyOf); 0 when not degrading.
	Rate float64 `json:"rate"`
}

// Breakdown is a priority with every number that went into it.
type Breakdown struct {
	Inputs
	CILS     float64 `json:"cils"`
	ARPO     float64 `json:"arpo"`
	ROI      float64 `json:"roi"`
	Value    float64 `json:"value"`
	Urgency  float64 `json:"urgency"`
	Priority float64 `json:"priority"`
	Level    string  `json:"level"`
}

// Prioritize computes a model's priority with the seed's formula (section
// 2.3, with the value normalised as in 6.2):
//
//	cils     = 0.3 [degrading] + 0.2 [new pattern] + 0.2 [better strategy]
//	arpo     = 0.4 [underperforming] + 0.3 [high priority] + 0.2 [regime mismatch]
//	roi      = improvement_scale * expected_improvement / (expected_cost + 1e-6)
//	value    = min(1, roi / 10)
//	urgency  = min(1, rate / full_rate)
//	priority = min(1, 0.25 cils + 0.35 arpo + 0.25 value + 0.15 urgency)
//
// with [x] = 1 when x holds and 0 otherwise, the component weights from
// cfg.Components and the four weights from w. As in the seed's code, the
// value is not floored: a retrain expected to make the model worse lowers
// its priority.
func Prioritize(cfg *Config, w Weights, in Inputs) Breakdown {
	c := &cfg.Components
	b := Breakdown{Inputs: in}
	b.CILS = c.Degrading*ind(in.Degrading) + c.NewPattern*ind(in.NewPattern) + c.BetterStrategy*ind(in.BetterStrategy)
	b.ARPO = c.Underperforming*ind(in.Underperforming) + c.HighPriority*ind(in.HighPriority) + c.RegimeMismatch*ind(in.RegimeMismatch)
	b.ROI = cfg.Value.ImprovementScale * in.ExpectedImprovement / (in.ExpectedCost + roiEpsilon)
	b.Value = math.Min(1, b.ROI/cfg.Value.ROIScale)
	b.Urgency = math.Min(1, max(0, in.Rate)/cfg.Urgency.FullRate)
	b.Priority = math.Min(1, w.CILS*b.CILS+w.ARPO*b.ARPO+w.Value*b.Value+w.Urgency*b.Urgency)
	b.Level = cfg.level(b.Priority, b.Urgency)
	return b
}

// ind is the seed's boolean as a 0/1 indicator.
func ind(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Factors returns the breakdown as Signal.Factors.
func (b *Breakdown) Factors() map[string]float64 {
	return map[string]float64{
		FactorCILS: b.CILS, FactorARPO: b.ARPO, FactorValue: b.Value, FactorUrgency: b.Urgency,
		FactorDegrading: ind(b.Degrading), FactorNewPattern: ind(b.NewPattern), FactorBetterStrategy: ind(b.BetterStrategy),
		FactorUnderperforming: ind(b.Underperforming), FactorHighPriority: ind(b.HighPriority),
		FactorRegimeMismatch: ind(b.RegimeMismatch),
		FactorImprovement:    b.ExpectedImprovement, FactorCost: b.ExpectedCost, FactorROI: b.ROI, FactorRate: b.Rate,
	}
}

// level maps a priority and an urgency factor to an urgency level: the
// highest level either reaches. The seed names the levels but not the
// rule; see DefaultConfig for the cut points.
func (c *Config) level(priority, urgency float64) string {
	u := &c.Urgency
	switch {
	case priority >= u.Critical.Priority || urgency >= u.Critical.Urgency:
		return UrgencyCritical
	case priority >= u.High.Priority || urgency >= u.High.Urgency:
		return UrgencyHigh
	case priority >= u.Medium.Priority || urgency >= u.Medium.Urgency:
		return UrgencyMedium
	}
	return UrgencyLow
}

// urgencyWeight is the seed's urgency_weight(signal.urgency), which the
// seed uses in its ranking without defining; see UrgencyConfig.
func (c *Config) urgencyWeight(level string) float64 {
	w := &c.Urgency.LevelWeights
	switch level {
	case UrgencyCritical:
		return w.Critical
	case UrgencyHigh:
		return w.High
	case UrgencyMedium:
		return w.Medium
	}
	return w.Low
}

// CompositeScore is the seed's ranking score (section 3.1,
// _prioritize_signals):
//
//	0.4 priority + 0.3 roi + 0.2 urgency_weight(level) + 0.1 (1 / expected_cost)
//
// with the raw roi, as the seed's signal.roi is, and the weights from
// cfg.Ranking. The cost is positive: a model without a cost estimate gets
// value.default_cost.
func CompositeScore(cfg *Config, priority, roi float64, level string, cost float64) float64 {
	r := &cfg.Ranking
	return r.Priority*priority + r.ROI*roi + r.UrgencyWeight*cfg.urgencyWeight(level) + r.InverseCost/cost
}

// rate is the degradation rate behind the urgency factor, from CILS's two
// detectors: how many times over its alarm level the model has fallen,
// the larger of drop / drop_threshold (the abrupt drop below the baseline)
// and page_hinkley / page_hinkley_threshold (the accumulated slow decay).
// A model just at the alarm level has rate 1; one not degrading has 0.
// The seed's compute_urgency is undefined; this keeps it to the speed and
// depth of the fall, which is what "how quickly performance is degrading"
// can be read from in the insights.
func (x *index) rate(k flywheel.ModelKey) float64 {
	d, ok := x.degrading[k]
	if !ok {
		return 0
	}
	var r float64
	if d.DropThreshold > 0 {
		r = max(r, d.Drop/d.DropThreshold)
	}
	if d.PageHinkleyThreshold > 0 {
		r = max(r, d.PageHinkley/d.PageHinkleyThreshold)
	}
	return r
}

// inputs gathers a model's priority inputs. The expected improvement is
// CILS's estimate of a retrain's change of the validation score (its trend
// or its restorable gap, per value.estimate), plus the
// gain of switching to the kind's better strategy when there is one (the
// retrain's config update makes that switch); the cost is CILS's
// estimate, or value.default_cost when there is none. With value.relative
// the improvement is divided by the model's baseline score, at least
// CILS's scale floor.
func (x *index) inputs(cfg *Config, k flywheel.ModelKey) (Inputs, float64) {
	in := Inputs{
		Degrading:       x.degrading[k] != nil,
		NewPattern:      x.hasNewPattern(k),
		Underperforming: x.underperforming[k] != nil,
		HighPriority:    x.highPriority[k],
		RegimeMismatch:  x.mismatch[k] != nil,
		ExpectedCost:    cfg.Value.DefaultCost,
		Rate:            x.rate(k),
	}
	seconds := cfg.Value.DefaultSeconds
	level := x.scaleFloor
	if e, ok := x.estimates[k]; ok {
		in.ExpectedImprovement = e.ExpectedImprovement
		if cfg.Value.Estimate == EstimateGap {
			in.ExpectedImprovement = e.RestorableGap
		}
		level = max(level, math.Abs(e.Baseline))
		if e.ExpectedCost > 0 {
			in.ExpectedCost = e.ExpectedCost
		}
		if e.ExpectedDurationSeconds > 0 {
			seconds = e.ExpectedDurationSeconds
		}
	}
	if g, ok := x.betterStrategy(k); ok {
		in.BetterStrategy = true
		in.ExpectedImprovement += g.gain.ExpectedImprovement
	}
	if cfg.Value.Relative && level > 0 {
		in.ExpectedImprovement /= level
	}
	return in, seconds
}
