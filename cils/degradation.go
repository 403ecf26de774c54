package cils

import (
	"fmt"
	"math"
	"strings"

	"github.com/flywheel-ml/flywheel"
)

// Degradation triggers.
const (
	TriggerDrop        = "drop"
	TriggerPageHinkley = "page_hinkley"
)

// Degradation is one model whose validation score is degrading, with the
// reason in words and the numbers behind it.
type Degradation struct {
	flywheel.ModelKey
	Kind string `json:"kind"`
	// RunID is the latest successful run, the one judged.
	RunID string `json:"run_id"`
	// Reason says in words why the model is flagged.
	Reason string `json:"reason"`
	// Triggers names the tests that fired: TriggerDrop, TriggerPageHinkley.
	Triggers []string `json:"triggers"`
	// Latest is the latest validation score; Baseline the median of the
	// BaselineRuns runs before it.
	Latest       float64 `json:"latest"`
	Baseline     float64 `json:"baseline"`
	BaselineRuns int     `json:"baseline_runs"`
	// Scale is what Drop is relative to: max(|Baseline|, scale floor).
	Scale float64 `json:"scale"`
	// Drop is (Baseline - Latest) / Scale; positive is worse.
	Drop          float64 `json:"drop"`
	DropThreshold float64 `json:"drop_threshold"`
	// PageHinkley is the test statistic over the last PageHinkleyRuns runs,
	// in units of the score's level; the test fires above
	// PageHinkleyThreshold.
	PageHinkley          float64 `json:"page_hinkley"`
	PageHinkleyThreshold float64 `json:"page_hinkley_threshold"`
	PageHinkleyRuns      int     `json:"page_hinkley_runs"`
	// Runs is the number of successful runs of the model.
	Runs int `json:"runs"`
}

// Values returns the numbers behind the flag, keyed for a flywheel.Reason.
func (d *Degradation) Values() map[string]float64 {
	return map[string]float64{
		"latest":                 d.Latest,
		"baseline":               d.Baseline,
		"baseline_runs":          float64(d.BaselineRuns),
		"scale":                  d.Scale,
		"drop":                   d.Drop,
		"drop_threshold":         d.DropThreshold,
		"page_hinkley":           d.PageHinkley,
		"page_hinkley_threshold": d.PageHinkleyThreshold,
		"page_hinkley_runs":      float64(d.PageHinkleyRuns),
	}
}

// verdict is what both tests say about a score series at its last value.
type verdict struct {
	ruleReady    bool
	latest       float64
	baseline     float64
	baselineRuns int
	scale        float64
	drop         float64
	ruleFired    bool

	phReady bool
	phStat  float64
	phRuns  int
	phFired bool
}

// fired reports whether either test fired.
func (v verdict) fired() bool { return v.ruleFired || v.phFired }

// detect runs the drop rule and the Page-Hinkley test on a model's scores
// (oldest first) and judges the last one. buf is scratch space; with a
// capacity of max(BaselineRuns, PageHinkleyWindow) detect does not allocate.
func detect(cfg *Config, scores, buf []float64) verdict {
	var v verdict
	n := len(scores)
	if n == 0 {
		return v
	}
	v.latest = scores[n-1]
	prev := scores[max(0, n-1-cfg.BaselineRuns) : n-1]
	if len(prev) >= cfg.BaselineMinRuns {
		v.ruleReady = true
		v.baselineRuns = len(prev)
		v.baseline = median(prev, buf)
		v.scale = math.Max(math.Abs(v.baseline), cfg.ScaleFloor)
		// Higher is better, so a drop is baseline - latest whatever the
		// sign: -0.20 -> -0.23 is a 15% drop, -0.20 -> -0.17 a 15% gain.
		v.drop = (v.baseline - v.latest) / v.scale
		v.ruleFired = v.drop > cfg.DropThreshold
	}
	window := scores[max(0, n-cfg.PageHinkleyWindow):]
	if len(window) >= cfg.PageHinkleyMinRuns {
		v.phReady = true
		v.phRuns = len(window)
		v.phStat = pageHinkley(window, math.Max(math.Abs(median(window, buf)), cfg.ScaleFloor), cfg.PageHinkleyDelta)
		v.phFired = v.phStat > cfg.PageHinkleyLambda
	}
	return v
}

// pageHinkley returns the Page-Hinkley statistic for a decrease in mean at
// the last value of xs: with x_t = xs[t]/scale, xbar_t the running mean and
// m_t = sum_{i<=t} (xbar_i - x_i - delta), it is m_T - min_{t<=T} m_t (m_0 =
// 0). Dividing by the series' level makes delta and the alarm threshold
// fractions of the level, the same units as the drop rule, so one default
// serves scores of any magnitude.
func pageHinkley(xs []float64, scale, delta float64) float64 {
	var sum, m, minM float64
	for i, s := range xs {
		x := s / scale
		sum += x
		m += sum/float64(i+1) - x - delta
		minM = math.Min(minM, m)
	}
	return m - minM
}

// degradation builds the report for a flagged model.
func degradation(cfg *Config, ms *modelSeries, v verdict) Degradation {
	d := Degradation{
		ModelKey:             ms.key,
		Kind:                 ms.kind,
		RunID:                ms.scored[len(ms.scored)-1].run.RunID,
		Latest:               v.latest,
		Baseline:             v.baseline,
		BaselineRuns:         v.baselineRuns,
		Scale:                v.scale,
		Drop:                 v.drop,
		DropThreshold:        cfg.DropThreshold,
		PageHinkley:          v.phStat,
		PageHinkleyThreshold: cfg.PageHinkleyLambda,
		PageHinkleyRuns:      v.phRuns,
		Runs:                 len(ms.scored),
	}
	var why []string
	if v.ruleFired {
		d.Triggers = append(d.Triggers, TriggerDrop)
		s := fmt.Sprintf("latest validation score %.4g is %.1f%% below its baseline %.4g (median of the previous %d runs); the rule fires above %.1f%%",
			v.latest, 100*v.drop, v.baseline, v.baselineRuns, 100*cfg.DropThreshold)
		if math.Abs(v.baseline) < cfg.ScaleFloor {
			s += fmt.Sprintf(", measured against the floor %g because the baseline is near zero", cfg.ScaleFloor)
		}
		why = append(why, s)
	}
	if v.phFired {
		d.Triggers = append(d.Triggers, TriggerPageHinkley)
		why = append(why, fmt.Sprintf("Page-Hinkley statistic %.3f over the last %d runs exceeds %.3f: the score has drifted down faster than the %.1f%% of its level per run tolerated",
			v.phStat, v.phRuns, cfg.PageHinkleyLambda, 100*cfg.PageHinkleyDelta))
	}
	d.Reason = strings.Join(why, "; ")
	return d
}

// judge returns the report on a model if it is degrading at its latest
// successful run. buf is detect's scratch space.
func judge(cfg *Config, ms *modelSeries, buf []float64) (Degradation, bool) {
	if len(ms.scores) == 0 {
		return Degradation{}, false
	}
	v := detect(cfg, ms.scores, buf)
	if !v.fired() {
		return Degradation{}, false
	}
	return degradation(cfg, ms, v), true
}
