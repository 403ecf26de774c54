package orchestrator

import (
	"math"

	"github.com/flywheel-ml/flywheel"
)

// Weight modes of a WeightsView.
const (
	WeightsSeed       = "seed"       // the seed's weights, as configured by default
	WeightsConfigured = "configured" // weights set in the configuration
	WeightsCalibrated = "calibrated" // fitted to outcomes (Calibrate)
)

// WeightsView says which priority weights a plan used and what they rest
// on.
type WeightsView struct {
	Mode string `json:"mode"`
	// Weights are the weights used; Configured the configured ones, the
	// prior of the calibration.
	Weights    Weights `json:"weights"`
	Configured Weights `json:"configured"`
	// Outcomes is the number of outcomes the calibration rests on (0
	// outside the calibrated mode).
	Outcomes int `json:"outcomes"`
	// Ridge and Unit are the calibration's penalty and the improvement
	// that counted as a priority of 1.
	Ridge float64 `json:"ridge,omitempty"`
	Unit  float64 `json:"unit,omitempty"`
}

// weights returns the weights Decide uses: the configured ones, or the
// calibrated ones when the configuration asks for them.
func (c *Config) weights(outcomes []flywheel.Outcome) WeightsView {
	if c.Calibration.Enabled {
		return Calibrate(c.Weights, c.Calibration, outcomes)
	}
	mode := WeightsConfigured
	if c.Weights == SeedWeights {
		mode = WeightsSeed
	}
	return WeightsView{Mode: mode, Weights: c.Weights, Configured: c.Weights}
}

// Calibrate fits the four priority weights to realised outcomes: a ridge
// regression, without intercept (the seed's priority has none), of each
// outcome's realised improvement on its four factors (cils, arpo, value,
// urgency, as stored with its signal), shrunk toward the prior weights:
//
//	w = argmin sum_i (y_i - w.x_i)^2 + ridge |w - prior|^2
//	  = (X'X + ridge I)^-1 (X'y + ridge prior)
//
// with y_i = improvement_i / unit. Only outcomes of cc.OutcomeKind with
// all four factors count; with none the prior comes back unchanged, and as
// outcomes accumulate the data outweigh the prior. A negative weight is
// set to 0: a factor that predicts worse outcomes is ignored rather than
// allowed to push a priority below what the other factors say.
//
// The unit puts improvements (validation-score or P&L units) on the
// priority's scale; without one (cc.Unit 0) it is the ratio of the root
// mean squares of the improvements and of the prior's priorities of the
// same outcomes, so that the fit and its prior speak of the same scale.
func Calibrate(prior Weights, cc CalibrationConfig, outcomes []flywheel.Outcome) WeightsView {
	view := WeightsView{Mode: WeightsCalibrated, Weights: prior, Configured: prior, Ridge: cc.Ridge, Unit: cc.Unit}
	xs, ys := design(cc.OutcomeKind, outcomes)
	view.Outcomes = len(xs)
	if len(xs) == 0 {
		if view.Unit == 0 {
			view.Unit = 1
		}
		return view
	}
	w0 := prior.vector()
	if view.Unit <= 0 {
		view.Unit = autoUnit(w0, xs, ys)
	}
	var a [4][4]float64
	var b [4]float64
	for i, x := range xs {
		y := ys[i] / view.Unit
		for r := range 4 {
			b[r] += x[r] * y
			for c := range 4 {
				a[r][c] += x[r] * x[c]
			}
		}
	}
	for r := range 4 {
		a[r][r] += cc.Ridge
		b[r] += cc.Ridge * w0[r]
	}
	w, ok := solve4(a, b)
	if !ok {
		return view
	}
	for r := range w {
		w[r] = max(0, w[r])
	}
	view.Weights = weightsOf(w)
	return view
}

// design returns the factor vectors and improvements of the usable
// outcomes.
func design(kind string, outcomes []flywheel.Outcome) ([][4]float64, []float64) {
	var xs [][4]float64
	var ys []float64
	for i := range outcomes {
		o := &outcomes[i]
		if o.Kind != kind || !finite(o.Improvement) {
			continue
		}
		var x [4]float64
		ok := true
		for j, name := range []string{FactorCILS, FactorARPO, FactorValue, FactorUrgency} {
			v, have := o.Factors[name]
			if !have || !finite(v) {
				ok = false
				break
			}
			x[j] = v
		}
		if ok {
			xs, ys = append(xs, x), append(ys, o.Improvement)
		}
	}
	return xs, ys
}

// autoUnit is the RMS of the improvements over the RMS of the prior's
// priorities, or 1 when either is 0.
func autoUnit(w0 [4]float64, xs [][4]float64, ys []float64) float64 {
	var sy, sp float64
	for i, x := range xs {
		p := w0[0]*x[0] + w0[1]*x[1] + w0[2]*x[2] + w0[3]*x[3]
		sy += ys[i] * ys[i]
		sp += p * p
	}
	if sy == 0 || sp == 0 {
		return 1
	}
	return math.Sqrt(sy / sp)
}

// solve4 solves a x = b by Gaussian elimination with partial pivoting.
// The ridge makes a positive definite, so it only fails on non-finite
// input.
func solve4(a [4][4]float64, b [4]float64) ([4]float64, bool) {
	const n = 4
	for col := range n {
		p := col
		for r := col + 1; r < n; r++ {
			if math.Abs(a[r][col]) > math.Abs(a[p][col]) {
				p = r
			}
		}
		if !(math.Abs(a[p][col]) > 1e-300) {
			return [4]float64{}, false
		}
		a[col], a[p] = a[p], a[col]
		b[col], b[p] = b[p], b[col]
		for r := col + 1; r < n; r++ {
			f := a[r][col] / a[col][col]
			for c := col; c < n; c++ {
				a[r][c] -= f * a[col][c]
			}
			b[r] -= f * b[col]
		}
	}
	var x [4]float64
	for r := n - 1; r >= 0; r-- {
		s := b[r]
		for c := r + 1; c < n; c++ {
			s -= a[r][c] * x[c]
		}
		x[r] = s / a[r][r]
	}
	for _, v := range x {
		if !finite(v) {
			return [4]float64{}, false
		}
	}
	return x, true
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
