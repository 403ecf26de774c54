package orchestrator

import (
	"testing"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/cils"
)

// allTrue raises every indicator of the seed's priority.
var allTrue = Inputs{Degrading: true, NewPattern: true, BetterStrategy: true,
	Underperforming: true, HighPriority: true, RegimeMismatch: true}

// prioritizeCases are priorities worked out by hand from seed section
// 2.3/6.2, each with its arithmetic.
var prioritizeCases = []struct {
	name    string
	w       Weights
	in      Inputs
	cils    float64
	arpo    float64
	roi     float64
	value   float64
	urgency float64
	want    float64
	level   string
}{
	{
		// cils = 0.3 + 0.2 + 0.2 = 0.7; arpo = 0.4 + 0.3 + 0.2 = 0.9
		// roi = 0.5 / (2 + 1e-6) = 0.2499998750000625
		// value = min(1, roi / 10) = 0.02499998750000625
		// urgency = min(1, 1.5 / 2) = 0.75
		// priority = 0.25*0.7 + 0.35*0.9 + 0.25*0.02499998750000625 + 0.15*0.75
		//          = 0.175 + 0.315 + 0.0062499968750015625 + 0.1125 = 0.6087499968750016
		// HIGH: priority >= 0.6 (and urgency >= 0.75)
		name: "everything", w: SeedWeights,
		in:   with(allTrue, 0.5, 2, 1.5),
		cils: 0.7, arpo: 0.9, roi: 0.2499998750000625, value: 0.02499998750000625, urgency: 0.75,
		want: 0.6087499968750016, level: UrgencyHigh,
	},
	{
		// cils = 0.3; arpo = 0
		// roi = 12 / (1 + 1e-6) = 11.999988000012; value = min(1, 1.1999988) = 1
		// urgency = min(1, 3 / 2) = 1
		// priority = 0.25*0.3 + 0 + 0.25*1 + 0.15*1 = 0.075 + 0.25 + 0.15 = 0.475
		// CRITICAL: urgency >= 1
		name: "degrading only, value and urgency saturated", w: SeedWeights,
		in:   with(Inputs{Degrading: true}, 12, 1, 3),
		cils: 0.3, roi: 11.999988000012, value: 1, urgency: 1,
		want: 0.475, level: UrgencyCritical,
	},
	{
		// arpo = 0.4; roi = -0.3 / (0.5 + 1e-6) = -0.5999988000024
		// value = min(1, -0.05999988000024) = -0.05999988000024 (the seed's
		// code does not floor it)
		// priority = 0.35*0.4 + 0.25*(-0.05999988000024) = 0.14 - 0.01499997000006 = 0.12500002999994
		name: "negative expected improvement", w: SeedWeights,
		in:   with(Inputs{Underperforming: true}, -0.3, 0.5, 0),
		arpo: 0.4, roi: -0.5999988000024, value: -0.05999988000024,
		want: 0.12500002999994, level: UrgencyLow,
	},
	{
		// roi = 0.05 / (0.01 + 1e-6) = 4.99950004999500; value = 0.499950004999500
		// priority = 0.25 * 0.4999500049995 = 0.124987501249875
		name: "value alone", w: SeedWeights,
		in:  with(Inputs{}, 0.05, 0.01, 0),
		roi: 4.999500049995, value: 0.4999500049995,
		want: 0.124987501249875, level: UrgencyLow,
	},
	{
		// cils = 0.7, arpo = 0.9, value = 1, urgency = 1
		// seed weights: 0.175 + 0.315 + 0.25 + 0.15 = 0.89 (the seed's maximum)
		name: "the seed's maximum", w: SeedWeights,
		in:   with(allTrue, 100, 1, 2),
		cils: 0.7, arpo: 0.9, roi: 99.9999000001, value: 1, urgency: 1,
		want: 0.89, level: UrgencyCritical,
	},
	{
		// weights 1,1,1,1: 0.7 + 0.9 + 1 + 1 = 3.6 -> min(1, 3.6) = 1
		name: "clamped at 1", w: Weights{1, 1, 1, 1},
		in:   with(allTrue, 100, 1, 2),
		cils: 0.7, arpo: 0.9, roi: 99.9999000001, value: 1, urgency: 1,
		want: 1, level: UrgencyCritical,
	},
	{
		// arpo = 0.4 + 0.3 = 0.7, cils = 0.2 (new pattern); urgency 0.5 / 2 = 0.25
		// priority = 0.25*0.2 + 0.35*0.7 + 0 + 0.15*0.25 = 0.05 + 0.245 + 0.0375 = 0.3325
		// LOW: priority < 0.4 and urgency < 0.5
		name: "new pattern and live trouble", w: SeedWeights,
		in:   with(Inputs{NewPattern: true, Underperforming: true, HighPriority: true}, 0, 1, 0.5),
		cils: 0.2, arpo: 0.7, urgency: 0.25,
		want: 0.3325, level: UrgencyLow,
	},
}

// TestPrioritizeBySeedFormula checks the priority of seed section 2.3/6.2
// against arithmetic written out by hand (prioritizeCases).
func TestPrioritizeBySeedFormula(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	for _, tc := range prioritizeCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := Prioritize(&cfg, tc.w, tc.in)
			for _, f := range []struct {
				name      string
				got, want float64
			}{
				{"cils", b.CILS, tc.cils}, {"arpo", b.ARPO, tc.arpo}, {"roi", b.ROI, tc.roi},
				{"value", b.Value, tc.value}, {"urgency", b.Urgency, tc.urgency}, {"priority", b.Priority, tc.want},
			} {
				if !near(f.got, f.want) {
					t.Errorf("%s = %.15g, want %.15g", f.name, f.got, f.want)
				}
			}
			if b.Level != tc.level {
				t.Errorf("level = %s, want %s", b.Level, tc.level)
			}
		})
	}
}

func with(in Inputs, improvement, cost, rate float64) Inputs {
	in.ExpectedImprovement, in.ExpectedCost, in.Rate = improvement, cost, rate
	return in
}

// TestCompositeScore checks the ranking score of seed section 3.1 by hand.
func TestCompositeScore(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	tests := []struct {
		name     string
		priority float64
		roi      float64
		level    string
		cost     float64
		want     float64
	}{
		// 0.4*0.6087499968750016 + 0.3*0.2499998750000625 + 0.2*0.75 + 0.1/2
		// = 0.24349999875000064 + 0.07499996250001875 + 0.15 + 0.05 = 0.5184999612500194
		{"high", 0.6087499968750016, 0.2499998750000625, UrgencyHigh, 2, 0.5184999612500194},
		// 0.4*0.475 + 0.3*11.999988000012 + 0.2*1 + 0.1/1 = 0.19 + 3.5999964000036 + 0.2 + 0.1 = 4.0899964000036
		{"critical, large roi", 0.475, 11.999988000012, UrgencyCritical, 1, 4.0899964000036},
		// 0.4*0.12500002999994 + 0.3*(-0.5999988000024) + 0.2*0.25 + 0.1/0.5
		// = 0.050000011999976 - 0.17999964000072 + 0.05 + 0.2 = 0.120000371999256
		{"negative roi", 0.12500002999994, -0.5999988000024, UrgencyLow, 0.5, 0.120000371999256},
		// 0.4*0.5 + 0 + 0.2*0.5 + 0.1/10 = 0.2 + 0.1 + 0.01 = 0.31
		{"medium, expensive", 0.5, 0, UrgencyMedium, 10, 0.31},
	}
	for _, tc := range tests {
		if got := CompositeScore(&cfg, tc.priority, tc.roi, tc.level, tc.cost); !near(got, tc.want) {
			t.Errorf("%s: score = %.15g, want %.15g", tc.name, got, tc.want)
		}
	}
}

// TestUrgencyLevels checks the level cut points on both axes.
func TestUrgencyLevels(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	tests := []struct {
		priority, urgency float64
		want              string
	}{
		{0.8, 0, UrgencyCritical}, {0.1, 1, UrgencyCritical},
		{0.79, 0.74, UrgencyHigh}, {0.6, 0, UrgencyHigh}, {0, 0.75, UrgencyHigh},
		{0.4, 0, UrgencyMedium}, {0, 0.5, UrgencyMedium},
		{0.39, 0.49, UrgencyLow}, {0, 0, UrgencyLow},
	}
	for _, tc := range tests {
		if got := cfg.level(tc.priority, tc.urgency); got != tc.want {
			t.Errorf("level(%g, %g) = %s, want %s", tc.priority, tc.urgency, got, tc.want)
		}
	}
}

// TestDecidePriorityFromInsights checks that Decide reads the indicators,
// the estimate and the degradation rate from the insights and stores the
// breakdown with the signal.
func TestDecidePriorityFromInsights(t *testing.T) {
	t.Parallel()
	k := key("fwd_ret_5d_AAPL", "ridge")
	w := newWorld().degrading(k, 1.5).estimate(k, 0.02, 2.5).underperforming(k).highPriority(k)
	p := decide(t, DefaultConfig(), w.snapshot())
	s := signalOf(t, p, k)
	// cils = 0.3 (degrading); arpo = 0.4 + 0.3 = 0.7
	// rate = max(0.1875 / 0.125, 0 / 0.2) = 1.5; urgency = 1.5 / 2 = 0.75
	// roi = 0.02 / (2.5 + 1e-6) = 0.0079999968000012800; value = 0.00079999968000012800
	// priority = 0.075 + 0.245 + 0.25*0.000799999680000128 + 0.1125 = 0.432699999920000032
	// level HIGH (urgency 0.75)
	// score = 0.4*0.432699999920000032 + 0.3*0.00799999680000128 + 0.2*0.75 + 0.1/2.5
	//       = 0.1730799999680000128 + 0.002399999040000384 + 0.15 + 0.04 = 0.3654799990080004
	want := map[string]float64{
		FactorCILS: 0.3, FactorARPO: 0.7, FactorDegrading: 1, FactorUnderperforming: 1, FactorHighPriority: 1,
		FactorNewPattern: 0, FactorBetterStrategy: 0, FactorRegimeMismatch: 0,
		FactorRate: 1.5, FactorUrgency: 0.75, FactorImprovement: 0.02, FactorCost: 2.5,
		FactorROI: 0.00799999680000128, FactorValue: 0.000799999680000128,
	}
	for name, v := range want {
		if got, ok := s.Factors[name]; !ok || !near(got, v) {
			t.Errorf("factor %s = %.15g (present %v), want %.15g", name, got, ok, v)
		}
	}
	if len(s.Factors) != len(want) {
		t.Errorf("factors = %v, want exactly the keys of %v", s.Factors, want)
	}
	if !near(s.Priority, 0.432699999920000032) {
		t.Errorf("priority = %.15g, want 0.4327", s.Priority)
	}
	if s.Urgency != UrgencyHigh {
		t.Errorf("urgency = %s, want HIGH", s.Urgency)
	}
	c := candidateOf(t, p, k)
	if !near(c.Score, 0.3654799990080004) {
		t.Errorf("score = %.15g, want 0.36548", c.Score)
	}
	if s.ExpectedImprovement != 0.02 || s.ExpectedCost != 2.5 {
		t.Errorf("expected improvement, cost = %g, %g; want 0.02, 2.5", s.ExpectedImprovement, s.ExpectedCost)
	}
}

// TestValueEstimate checks that value.estimate picks CILS's trend or its
// restorable gap as the expected improvement, and that value.relative
// measures it against the model's baseline score, floored at CILS's
// scale floor.
func TestValueEstimate(t *testing.T) {
	t.Parallel()
	k, low := key("fwd_ret_5d_AAA", "ridge"), key("fwd_ret_5d_BBB", "ridge")
	snap := func() Snapshot {
		w := newWorld().degrading(k, 1).degrading(low, 1)
		w.c.Estimates = []cils.Estimate{
			{ModelKey: k, ExpectedImprovement: -0.01, RestorableGap: 0.02, Baseline: 0.08, Latest: 0.06, ExpectedCost: 2},
			// A baseline below the scale floor (0.01) is measured against the floor.
			{ModelKey: low, ExpectedImprovement: -0.001, RestorableGap: 0.002, Baseline: 0.004, Latest: 0.002, ExpectedCost: 2},
		}
		return w.snapshot()
	}
	tests := []struct {
		name      string
		estimate  string
		relative  bool
		scale     float64
		want, low float64 // expected improvement of k and of low
	}{
		{"default is the trend", "", false, 1, -0.01, -0.001},
		{"trend", EstimateTrend, false, 1, -0.01, -0.001},
		{"gap", EstimateGap, false, 1, 0.02, 0.002},
		{"relative gap", EstimateGap, true, 100, 0.25, 0.2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := DefaultConfig()
			cfg.Value.Estimate, cfg.Value.Relative, cfg.Value.ImprovementScale = tt.estimate, tt.relative, tt.scale
			p := decide(t, cfg, snap())
			got := map[flywheel.ModelKey]flywheel.Signal{}
			for _, s := range p.Signals {
				got[s.ModelKey] = s
			}
			for _, c := range []struct {
				k    flywheel.ModelKey
				want float64
			}{{k, tt.want}, {low, tt.low}} {
				s, ok := got[c.k]
				if !ok {
					t.Fatalf("%s: no signal", c.k)
				}
				if !near(s.ExpectedImprovement, c.want) {
					t.Errorf("%s: expected improvement %.6g, want %.6g", c.k, s.ExpectedImprovement, c.want)
				}
				if roi := tt.scale * c.want / (2 + roiEpsilon); !near(s.Factors[FactorROI], roi) {
					t.Errorf("%s: roi %.6g, want %.6g", c.k, s.Factors[FactorROI], roi)
				}
			}
		})
	}
	cfg := DefaultConfig()
	cfg.Value.Estimate = "latest"
	if err := cfg.Validate(); err == nil {
		t.Error("value.estimate \"latest\" validated; want an error naming the field")
	}
}

// TestFeatureReasonNamesTheFeatures checks the folded feature-pattern
// reason: counts by kind of pattern, the first features by name.
func TestFeatureReasonNamesTheFeatures(t *testing.T) {
	var ps []*cils.NewPattern
	for _, f := range []string{"mom_5", "vol_20", "ret_1", "rsi_14"} {
		ps = append(ps, &cils.NewPattern{Type: cils.PatternTopKEntry, Feature: f})
	}
	ps = append(ps, &cils.NewPattern{Type: cils.PatternUnstable, Feature: "beta_60"},
		&cils.NewPattern{Type: cils.PatternDegrading, Feature: "ignored"})
	r, ok := featureReason(ps)
	if !ok {
		t.Fatal("no reason")
	}
	want := "feature patterns changed: 4 entered or rose in the importance top list (mom_5, ret_1, rsi_14 and 1 more); 1 with unstable importance (beta_60)"
	if r.Message != want {
		t.Errorf("message\n%s\nwant\n%s", r.Message, want)
	}
	if r.Values[cils.PatternTopKEntry] != 4 || r.Values[cils.PatternUnstable] != 1 || len(r.Values) != 2 {
		t.Errorf("values %v", r.Values)
	}
	if _, ok := featureReason([]*cils.NewPattern{{Type: cils.PatternDegrading}}); ok {
		t.Error("a reason without any feature pattern")
	}
}
