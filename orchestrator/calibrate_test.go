package orchestrator

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/flywheel-ml/flywheel"
)

// synthetic returns n training outcomes whose improvement is truth . x
// plus Gaussian noise, with the four factors uniform on [0, 1], scaled by
// scale (the metric's units).
func synthetic(n int, truth Weights, noise, scale float64) []flywheel.Outcome {
	r := rand.New(rand.NewPCG(7, 11))
	w := truth.vector()
	out := make([]flywheel.Outcome, n)
	for i := range out {
		var x [4]float64
		y := 0.0
		for j := range x {
			x[j] = r.Float64()
			y += w[j] * x[j]
		}
		y += noise * r.NormFloat64()
		out[i] = flywheel.Outcome{Kind: flywheel.OutcomeTraining, Improvement: scale * y, Factors: map[string]float64{
			FactorCILS: x[0], FactorARPO: x[1], FactorValue: x[2], FactorUrgency: x[3]}}
	}
	return out
}

func distance(a, b Weights) float64 {
	va, vb := a.vector(), b.vector()
	var s float64
	for i := range va {
		s += (va[i] - vb[i]) * (va[i] - vb[i])
	}
	return math.Sqrt(s)
}

// TestCalibrateMovesTowardTheTruth fits outcomes generated from known
// weights: with none the seed weights come back exactly, and the fit
// closes in on the truth as outcomes accumulate.
func TestCalibrateMovesTowardTheTruth(t *testing.T) {
	t.Parallel()
	truth := Weights{CILS: 0.1, ARPO: 0.5, Value: 0.3, Urgency: 0.05}
	cc := DefaultConfig().Calibration
	cc.Unit = 1 // the improvements are already on the priority's scale
	all := synthetic(20000, truth, 0.05, 1)
	prev := math.Inf(1)
	for _, n := range []int{0, 10, 100, 1000, 20000} {
		v := Calibrate(SeedWeights, cc, all[:n])
		if v.Outcomes != n || v.Mode != WeightsCalibrated {
			t.Errorf("n=%d: rests on %d outcomes in mode %s", n, v.Outcomes, v.Mode)
		}
		if n == 0 && v.Weights != SeedWeights {
			t.Errorf("no outcomes: weights %+v, want the seed's %+v", v.Weights, SeedWeights)
		}
		d := distance(v.Weights, truth)
		if d >= prev {
			t.Errorf("n=%d: distance to the truth %.4f did not shrink from %.4f", n, d, prev)
		}
		prev = d
		t.Logf("n=%5d weights %+v distance %.4f", n, v.Weights, d)
	}
	if prev > 0.01 {
		t.Errorf("20,000 outcomes: distance %.4f, want under 0.01", prev)
	}
}

// TestCalibrateAutoUnit fits improvements in score units (a hundredth of
// the priority's scale): the automatic unit brings them to the priority's
// scale, so the fitted weights keep the truth's proportions.
func TestCalibrateAutoUnit(t *testing.T) {
	t.Parallel()
	truth := Weights{CILS: 0.1, ARPO: 0.5, Value: 0.3, Urgency: 0.1}
	v := Calibrate(SeedWeights, DefaultConfig().Calibration, synthetic(20000, truth, 0.02, 0.01))
	if v.Unit <= 0.005 || v.Unit >= 0.02 {
		t.Errorf("unit = %g, want about 0.01", v.Unit)
	}
	w := v.Weights
	for name, r := range map[string]float64{"arpo/cils": w.ARPO / w.CILS, "value/cils": w.Value / w.CILS, "urgency/cils": w.Urgency / w.CILS} {
		want := map[string]float64{"arpo/cils": 5, "value/cils": 3, "urgency/cils": 1}[name]
		if math.Abs(r-want) > 0.1*want {
			t.Errorf("%s = %.3f, want %g within 10%%; weights %+v", name, r, want, w)
		}
	}
}

// TestCalibrateSkipsUnusableOutcomes checks that other kinds and outcomes
// without the four factors do not count.
func TestCalibrateSkipsUnusableOutcomes(t *testing.T) {
	t.Parallel()
	good := synthetic(3, SeedWeights, 0, 1)
	live := good[0]
	live.Kind = flywheel.OutcomeLive
	partial := flywheel.Outcome{Kind: flywheel.OutcomeTraining, Improvement: 1, Factors: map[string]float64{FactorCILS: 1}}
	v := Calibrate(SeedWeights, DefaultConfig().Calibration, append(good, live, partial))
	if v.Outcomes != 3 {
		t.Errorf("rests on %d outcomes, want 3", v.Outcomes)
	}
}

// TestDecideUsesCalibrationOnlyWhenAsked checks the plan's weights view.
func TestDecideUsesCalibrationOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	snap := newWorld().snapshot()
	snap.Outcomes = synthetic(500, Weights{CILS: 0.1, ARPO: 0.5, Value: 0.3, Urgency: 0.1}, 0.05, 1)
	cfg := DefaultConfig()
	if p := decide(t, cfg, snap); p.Weights.Mode != WeightsSeed || p.Weights.Weights != SeedWeights || p.Weights.Outcomes != 0 {
		t.Errorf("default: weights view %+v, want the seed's", p.Weights)
	}
	cfg.Calibration.Enabled = true
	p := decide(t, cfg, snap)
	if p.Weights.Mode != WeightsCalibrated || p.Weights.Outcomes != 500 || p.Weights.Weights == SeedWeights {
		t.Errorf("calibrated: weights view %+v, want weights fitted to 500 outcomes", p.Weights)
	}
}
