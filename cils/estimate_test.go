package cils

import (
	"math"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
)

func TestEstimates(t *testing.T) {
	t.Parallel()
	var h history
	a, b, c, d, other := key("fwd_a", "ridge"), key("fwd_b", "ridge"), key("fwd_c", "ridge"), key("fwd_d", "ridge"), key("barrier_a", "ridge")
	// a: changes +0.02 -0.01 +0.02; costs 1, 2, 3, 6 units.
	for i, s := range []float64{0.10, 0.12, 0.11, 0.13} {
		h.add(a, s, nil).Cost = flywheel.Cost{GPUHours: []float64{1, 2, 3, 6}[i], WallSeconds: 600}
	}
	// b: one change, -0.01; its second run reports no wall time, so its
	// duration comes from the timestamps (10 minutes).
	h.series(b, 0.20)
	r := h.add(b, 0.19, nil)
	r.Cost.WallSeconds = 0
	end := r.StartedAt.Add(10 * time.Minute)
	r.FinishedAt = &end
	// c: one scored run and one failed run, which counts nowhere.
	h.series(c, 0.05)
	r = h.add(c, 0.5, nil)
	r.Status, r.Metrics, r.Cost = flywheel.RunFailed, nil, flywheel.Cost{GPUHours: 100}
	// d: only a failed run, so cost and duration come from the kind.
	r = h.add(d, 0, nil)
	r.Status, r.Metrics = flywheel.RunFailed, nil
	// Another kind's changes must not leak into fwd's mean.
	h.series(other, 0.1, 0.5, 0.9)

	in := learn(t, h.runs, nil)
	kindMean := (0.02 - 0.01 + 0.02 - 0.01) / 4
	kindCost := (1 + 2 + 3 + 6 + 1.5 + 1.5 + 1.5) / 7.0
	kindDur := (4*600 + 1800 + 600 + 1800) / 7.0
	tests := []struct {
		key      flywheel.ModelKey
		improve  float64
		nImprove int
		cost     float64
		nCost    int
		dur      float64
		nDur     int
	}{
		{a, (0.03 + 5*kindMean) / (3 + 5), 3, 3, 4, 600, 4},
		{b, (-0.01 + 5*kindMean) / (1 + 5), 1, 1.5, 2, (1800 + 600) / 2.0, 2},
		{c, kindMean, 0, 1.5, 1, 1800, 1},
		{d, kindMean, 0, kindCost, 0, kindDur, 0},
	}
	for _, tt := range tests {
		e, ok := in.EstimateFor(tt.key)
		if !ok {
			t.Errorf("%s: no estimate", tt.key)
			continue
		}
		near := func(x, y float64) bool { return math.Abs(x-y) < 1e-12 }
		if !near(e.ExpectedImprovement, tt.improve) || e.ImprovementRuns != tt.nImprove || !near(e.KindImprovement, kindMean) || e.KindImprovementRuns != 4 {
			t.Errorf("%s: improvement %.6f on %d runs (kind %.6f on %d), want %.6f on %d (kind %.6f on 4)",
				tt.key, e.ExpectedImprovement, e.ImprovementRuns, e.KindImprovement, e.KindImprovementRuns, tt.improve, tt.nImprove, kindMean)
		}
		if !near(e.ExpectedCost, tt.cost) || e.CostRuns != tt.nCost {
			t.Errorf("%s: cost %.4f on %d runs, want %.4f on %d", tt.key, e.ExpectedCost, e.CostRuns, tt.cost, tt.nCost)
		}
		if !near(e.ExpectedDurationSeconds, tt.dur) || e.DurationRuns != tt.nDur {
			t.Errorf("%s: duration %.1f s on %d runs, want %.1f on %d", tt.key, e.ExpectedDurationSeconds, e.DurationRuns, tt.dur, tt.nDur)
		}
	}
	if len(in.Estimates) != 5 {
		t.Errorf("%d estimates, want one per model (5)", len(in.Estimates))
	}
}

// TestRestorableGap checks the gap is the mean of the model's scores less
// its latest: positive for a model whose latest run fell, negative after a
// lucky run, 0 for a single run, while the trend of the degrading model is
// negative.
func TestRestorableGap(t *testing.T) {
	t.Parallel()
	var h history
	fell, lucky, once := key("fwd_fell", "ridge"), key("fwd_lucky", "ridge"), key("fwd_once", "ridge")
	h.series(fell, 0.10, 0.10, 0.10, 0.06)
	h.series(lucky, 0.10, 0.10, 0.14)
	h.series(once, 0.08)
	in := learn(t, h.runs, nil)
	tests := []struct {
		key                   flywheel.ModelKey
		gap, baseline, latest float64
	}{
		{fell, 0.09 - 0.06, 0.09, 0.06},
		{lucky, 0.34/3 - 0.14, 0.34 / 3, 0.14},
		{once, 0, 0.08, 0.08},
	}
	for _, tt := range tests {
		e, ok := in.EstimateFor(tt.key)
		if !ok {
			t.Fatalf("%s: no estimate", tt.key)
		}
		near := func(x, y float64) bool { return math.Abs(x-y) < 1e-12 }
		if !near(e.RestorableGap, tt.gap) || !near(e.Baseline, tt.baseline) || !near(e.Latest, tt.latest) {
			t.Errorf("%s: gap %.6f (baseline %.6f, latest %.6f), want %.6f (%.6f, %.6f)",
				tt.key, e.RestorableGap, e.Baseline, e.Latest, tt.gap, tt.baseline, tt.latest)
		}
	}
	if e, _ := in.EstimateFor(fell); e.ExpectedImprovement >= 0 || e.RestorableGap <= 0 {
		t.Errorf("degrading model: trend %.4f, gap %.4f; want the trend negative and the gap positive", e.ExpectedImprovement, e.RestorableGap)
	}
}

// TestEvaluationRuns checks that evaluations of the deployed model set
// the current score the gap is measured from, and count nowhere else: not
// in the trend, the costs, the durations or the strategies.
func TestEvaluationRuns(t *testing.T) {
	t.Parallel()
	var h history
	k := key("fwd_eval", "ridge")
	cfgA := map[string]any{"top_n": 20.0, "aggregation_method": "mean"}
	// Two training runs at 0.10 and 0.12 (trend +0.02, cost 1.5 units
	// each), then three evaluations of the deployed model as it decays,
	// free and instant.
	cfgB := map[string]any{"top_n": 50.0, "aggregation_method": "mean"}
	h.add(k, 0.10, cfgA)
	h.add(k, 0.12, cfgB)
	for _, s := range []float64{0.11, 0.09, 0.07} {
		r := h.add(k, s, nil)
		r.Kind, r.Cost = flywheel.RunEvaluation, flywheel.Cost{}
	}
	in := learn(t, h.runs, nil)
	e, ok := in.EstimateFor(k)
	if !ok {
		t.Fatal("no estimate")
	}
	near := func(x, y float64) bool { return math.Abs(x-y) < 1e-12 }
	// baseline = mean of the training scores = (0.10 + 0.12) / 2 = 0.11;
	// latest = the latest evaluation, 0.07; gap = 0.11 - 0.07 = 0.04.
	if !near(e.Baseline, 0.11) || !near(e.Latest, 0.07) || !near(e.RestorableGap, 0.04) {
		t.Errorf("baseline %.4f latest %.4f gap %.4f, want 0.11, 0.07, 0.04", e.Baseline, e.Latest, e.RestorableGap)
	}
	// One change between training runs (+0.02), blended with the kind's
	// mean, which is the same model's: +0.02.
	if e.ImprovementRuns != 1 || !near(e.ExpectedImprovement, 0.02) {
		t.Errorf("trend %.4f over %d changes, want +0.02 over 1", e.ExpectedImprovement, e.ImprovementRuns)
	}
	if e.CostRuns != 2 || !near(e.ExpectedCost, 1.5) || e.DurationRuns != 2 || !near(e.ExpectedDurationSeconds, 1800) {
		t.Errorf("cost %.3f over %d runs, duration %.0f over %d, want 1.5 and 1800 over the 2 training runs",
			e.ExpectedCost, e.CostRuns, e.ExpectedDurationSeconds, e.DurationRuns)
	}
	// The decay shows in the degradation tests, which read every score:
	// 0.07 is a third below 0.105, the median of the four runs before it.
	if len(in.DegradingTargets) != 1 || in.DegradingTargets[0].ModelKey != k {
		t.Errorf("degrading targets %v, want %s", in.DegradingTargets, k)
	}
	// The evaluations carry no config: read as training runs, each would
	// count as a run without a strategy.
	if in.RunsWithoutStrategy != 0 {
		t.Errorf("%d runs without a strategy, want 0: evaluations are not strategy evidence", in.RunsWithoutStrategy)
	}
}
