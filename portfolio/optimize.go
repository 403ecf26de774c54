package portfolio

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// MinVolatility returns the long-only portfolio (weights in [0, 1] summing
// to 1) with the smallest variance w'Sw. It is exact: see minQuadratic.
func MinVolatility(S mat.Symmetric, opts Options) ([]float64, error) {
	if err := checkCov(S); err != nil {
		return nil, err
	}
	n := S.SymmetricDim()
	ones := make([]float64, n)
	x0 := make([]float64, n)
	for i := range ones {
		ones[i] = 1
		x0[i] = 1 / float64(n)
	}
	x, err := minQuadratic(S, ones, x0, opts)
	if err != nil {
		return nil, err
	}
	return normalise(x), nil
}

// MaxSharpe returns the long-only portfolio with the largest Sharpe ratio
// (w·mu - rf)/sqrt(w'Sw). The ratio is not concave, so it is solved through
// the standard change of variables y = w / ((mu - rf)·w) (Cornuejols &
// Tutuncu, Optimization Methods in Finance, 2006, section 8.2), which turns
// it into the convex problem min y'Sy s.t. (mu - rf)·y = 1, y >= 0; then
// w = y / sum(y). At least one asset must return more than rf, otherwise no
// portfolio has a positive Sharpe ratio and the problem has no solution.
func MaxSharpe(mu []float64, S mat.Symmetric, rf float64, opts Options) ([]float64, error) {
	if err := checkCov(S); err != nil {
		return nil, err
	}
	n := S.SymmetricDim()
	if len(mu) != n {
		return nil, invalidf("%d expected returns for a %dx%d covariance", len(mu), n, n)
	}
	excess := make([]float64, n)
	best := -1
	for i, m := range mu {
		if math.IsNaN(m) || math.IsInf(m, 0) {
			return nil, invalidf("expected return of asset %d is %v", i, m)
		}
		excess[i] = m - rf
		// Start from the best single asset: feasible, and usually close.
		if excess[i] > 0 && (best < 0 || excess[i]/math.Sqrt(S.At(i, i)) > excess[best]/math.Sqrt(S.At(best, best))) {
			best = i
		}
	}
	if best < 0 {
		return nil, invalidf("no asset has an expected return above the risk-free rate %v", rf)
	}
	y0 := make([]float64, n)
	y0[best] = 1 / excess[best]
	y, err := minQuadratic(S, excess, y0, opts)
	if err != nil {
		return nil, err
	}
	return normalise(y), nil
}

// normalise rescales non-negative x to sum to 1 and clears the rounding
// dust an exact solver can leave on bound coordinates.
func normalise(x []float64) []float64 {
	sum := 0.0
	for _, v := range x {
		sum += math.Max(v, 0)
	}
	w := make([]float64, len(x))
	for i, v := range x {
		w[i] = math.Max(v, 0) / sum
	}
	return w
}

// RiskParity returns the long-only equal-risk-contribution portfolio: every
// asset contributes w_i (Sw)_i = w'Sw / n to the variance.
func RiskParity(S mat.Symmetric, opts Options) ([]float64, error) {
	n := S.SymmetricDim()
	b := make([]float64, n)
	for i := range b {
		b[i] = 1
	}
	return RiskBudget(S, b, opts)
}

// RiskBudget returns the long-only portfolio whose risk contributions
// w_i (Sw)_i are proportional to the positive budgets b. It minimises
// Spinu's strictly convex function f(y) = y'Sy/2 - sum b_i ln y_i (F. Spinu,
// "An algorithm for computing risk parity weights", 2013), whose
// stationarity condition y_i (Sy)_i = b_i is the budget condition up to
// scale, by Newton's method with a backtracking line search that keeps y
// positive; then w = y / sum(y). It stops when every relative risk
// contribution is within Tol of its budget share.
func RiskBudget(S mat.Symmetric, b []float64, opts Options) ([]float64, error) {
	if err := checkCov(S); err != nil {
		return nil, err
	}
	n := S.SymmetricDim()
	if len(b) != n {
		return nil, invalidf("%d budgets for a %dx%d covariance", len(b), n, n)
	}
	y := make([]float64, n)
	for i, bi := range b {
		if !(bi > 0) || math.IsInf(bi, 0) {
			return nil, invalidf("budget of asset %d is %v, want finite and positive", i, bi)
		}
		// The exact answer when the assets are uncorrelated.
		y[i] = math.Sqrt(bi / S.At(i, i))
	}
	tol := opts.tol(1e-10)
	maxIter := opts.maxIter(200)
	for it := 0; it < maxIter; it++ {
		sy := mulVec(S, y)
		if budgetGap(y, sy, b) <= tol {
			return normalise(y), nil
		}
		d, err := newtonStep(S, y, sy, b)
		if err != nil {
			return nil, err
		}
		y = lineSearch(S, y, sy, d, b)
	}
	return nil, fmt.Errorf("%w: risk budgeting after %d Newton steps", ErrNoConvergence, maxIter)
}

// budgetGap is the largest gap between an asset's share of the risk and
// its share of the budget. At f's stationary point y_i (Sy)_i = b_i, so the
// shares agree exactly.
func budgetGap(y, sy, b []float64) float64 {
	var risk, budget float64
	for i := range y {
		risk += y[i] * sy[i]
		budget += b[i]
	}
	gap := 0.0
	for i := range y {
		gap = math.Max(gap, math.Abs(y[i]*sy[i]/risk-b[i]/budget))
	}
	return gap
}

// newtonStep solves (S + diag(b/y^2)) d = -(Sy - b/y). The Hessian is
// positive definite for any positive semi-definite S, because the log
// barrier adds a positive diagonal.
func newtonStep(S mat.Symmetric, y, sy, b []float64) ([]float64, error) {
	n := len(y)
	h := mat.NewSymDense(n, nil)
	h.CopySym(S)
	g := mat.NewVecDense(n, nil)
	for i := range y {
		h.SetSym(i, i, S.At(i, i)+b[i]/(y[i]*y[i]))
		g.SetVec(i, -(sy[i] - b[i]/y[i]))
	}
	var chol mat.Cholesky
	if !chol.Factorize(h) {
		return nil, invalidf("risk budgeting: Hessian not positive definite; is the covariance matrix positive semi-definite?")
	}
	var d mat.VecDense
	if err := chol.SolveVecTo(&d, g); err != nil {
		return nil, fmt.Errorf("portfolio: risk budgeting: %w", err)
	}
	return d.RawVector().Data, nil
}

// lineSearch halves the Newton step until y stays positive and f decreases
// enough (Armijo's rule with c = 1e-4); near the optimum the full step is
// taken and convergence is quadratic.
func lineSearch(S mat.Symmetric, y, sy, d, b []float64) []float64 {
	f0 := spinu(y, sy, b)
	slope := 0.0
	for i := range y {
		slope += (sy[i] - b[i]/y[i]) * d[i]
	}
	next := make([]float64, len(y))
	for t := 1.0; t > 1e-12; t /= 2 {
		positive := true
		for i := range y {
			next[i] = y[i] + t*d[i]
			positive = positive && next[i] > 0
		}
		if positive && spinu(next, mulVec(S, next), b) <= f0+1e-4*t*slope {
			return next
		}
	}
	// No decrease is measurable in floating point: y is as good as it gets,
	// and the caller's tolerance test decides.
	return y
}

func spinu(y, sy, b []float64) float64 {
	f := 0.0
	for i := range y {
		f += y[i]*sy[i]/2 - b[i]*math.Log(y[i])
	}
	return f
}
