package portfolio

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// ErrNoConvergence is returned when an iterative method stops at its
// iteration limit before meeting its tolerance.
var ErrNoConvergence = errors.New("portfolio: no convergence")

// Options tunes the iterative optimisers. The zero value means the defaults.
type Options struct {
	// Tol is the relative tolerance of the optimality test (default 1e-12
	// for the active-set QP, 1e-10 for risk parity's risk contributions).
	Tol float64
	// MaxIter caps the iterations (default 50 + 10 x assets for the
	// active-set QP, 200 for risk parity's Newton method).
	MaxIter int
}

func (o Options) tol(def float64) float64 {
	if o.Tol > 0 {
		return o.Tol
	}
	return def
}

func (o Options) maxIter(def int) int {
	if o.MaxIter > 0 {
		return o.MaxIter
	}
	return def
}

// minQuadratic minimises x'Qx subject to a'x = 1 and x >= 0 with the primal
// active-set method (Nocedal & Wright, Numerical Optimization, 2nd ed.,
// Algorithm 16.3). Both long-only problems reduce to this form: minimum
// variance with a = 1, and maximum Sharpe with a = mu - rf after the
// Cornuejols-Tutuncu change of variables y = w / (a'w).
//
// The method is exact up to rounding: each iteration either solves the
// equality-constrained problem on the current free set in closed form,
// x_F = Q_FF^-1 a_F / (a_F' Q_FF^-1 a_F), or stops at the first bound that
// blocks the way there; at a face optimum it frees the bound with the most
// negative multiplier mu_i = (Qx)_i - nu a_i. It stops when every
// multiplier is >= -tol relative to the gradient's scale, which is exactly
// the KKT condition, so the answer is the true optimum, not an
// approximation of it. x0 must be feasible.
func minQuadratic(Q mat.Symmetric, a, x0 []float64, opts Options) ([]float64, error) {
	n := len(a)
	tol := opts.tol(1e-12)
	maxIter := opts.maxIter(50 + 10*n)
	x := append([]float64(nil), x0...)
	free := make([]bool, n)
	for i, v := range x {
		free[i] = v > 0
	}
	for it := 1; it <= maxIter; it++ {
		target, nu, err := faceOptimum(Q, a, free)
		if err != nil {
			return nil, err
		}
		if step(x, target, free, tol) {
			continue
		}
		// x is optimal on its face: free the bound whose multiplier says
		// the objective decreases when leaving it.
		copy(x, target)
		g := mulVec(Q, x)
		worst, scale := -1, 0.0
		for i := range g {
			scale = math.Max(scale, math.Abs(g[i])+math.Abs(nu*a[i]))
		}
		minMu := -tol * scale
		for i := range x {
			if !free[i] {
				if mu := g[i] - nu*a[i]; mu < minMu {
					worst, minMu = i, mu
				}
			}
		}
		if worst < 0 {
			return x, nil
		}
		free[worst] = true
	}
	return nil, fmt.Errorf("%w: active-set QP after %d iterations", ErrNoConvergence, maxIter)
}

// step moves x towards target along the free coordinates, stopping at the
// first coordinate that would turn negative and fixing it at its bound. It
// reports whether x moved; false means x already is the face optimum.
func step(x, target []float64, free []bool, tol float64) bool {
	moved := false
	for i := range x {
		if math.Abs(target[i]-x[i]) > tol*math.Max(1, math.Abs(x[i])) {
			moved = true
		}
	}
	if !moved {
		return false
	}
	alpha, blocking := 1.0, -1
	for i := range x {
		// Only a coordinate heading below zero can block: for it
		// x_i / (x_i - target_i) < 1.
		if free[i] && target[i] < 0 {
			if r := x[i] / (x[i] - target[i]); r < alpha {
				alpha, blocking = r, i
			}
		}
	}
	for i := range x {
		if free[i] {
			x[i] += alpha * (target[i] - x[i])
		}
	}
	if blocking >= 0 {
		x[blocking] = 0
		free[blocking] = false
	}
	return true
}

// faceOptimum solves min x'Qx s.t. a'x = 1 with x_i = 0 off the free set.
// The Lagrange conditions Q_FF x_F = nu a_F give x_F = nu Q_FF^-1 a_F, and
// the constraint fixes nu = 1 / (a_F' Q_FF^-1 a_F).
func faceOptimum(Q mat.Symmetric, a []float64, free []bool) (x []float64, nu float64, err error) {
	var idx []int
	for i, f := range free {
		if f {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return nil, 0, invalidf("active-set QP lost feasibility: empty free set")
	}
	sub := mat.NewSymDense(len(idx), nil)
	sub.SubsetSym(Q, idx)
	aF := mat.NewVecDense(len(idx), nil)
	for k, i := range idx {
		aF.SetVec(k, a[i])
	}
	y, err := solvePD(sub, aF)
	if err != nil {
		return nil, 0, err
	}
	s := mat.Dot(aF, y)
	if !(s > 0) {
		return nil, 0, invalidf("active-set QP: a'Q^-1 a = %v on the free set, want > 0", s)
	}
	x = make([]float64, len(a))
	for k, i := range idx {
		x[i] = y.AtVec(k) / s
	}
	return x, 1 / s, nil
}

// solvePD solves S y = b by Cholesky. A covariance estimated from fewer
// observations than assets (or from two identical P&L streams) is only
// semi-definite; then the optimum is not unique, and a ridge that grows from
// 1e-12 of the mean variance picks the least-concentrated of the optima
// instead of failing. Use Ledoit-Wolf shrinkage to avoid relying on it.
func solvePD(S *mat.SymDense, b *mat.VecDense) (*mat.VecDense, error) {
	n := S.SymmetricDim()
	var chol mat.Cholesky
	ok := chol.Factorize(S)
	if !ok {
		meanVar := mat.Trace(S) / float64(n)
		reg := mat.NewSymDense(n, nil)
		for ridge := 1e-12 * meanVar; !ok && ridge <= 1e-4*meanVar; ridge *= 10 {
			reg.CopySym(S)
			for i := 0; i < n; i++ {
				reg.SetSym(i, i, S.At(i, i)+ridge)
			}
			ok = chol.Factorize(reg)
		}
		if !ok {
			return nil, invalidf("covariance matrix is not positive semi-definite")
		}
	}
	var y mat.VecDense
	if err := chol.SolveVecTo(&y, b); err != nil {
		// A mat.Condition error is only a warning: the solution is still
		// computed, and the KKT test in minQuadratic decides optimality.
		var c mat.Condition
		if !errors.As(err, &c) {
			return nil, fmt.Errorf("portfolio: solve: %w", err)
		}
	}
	return &y, nil
}

func mulVec(Q mat.Symmetric, x []float64) []float64 {
	n := len(x)
	out := mat.NewVecDense(n, nil)
	out.MulVec(Q, mat.NewVecDense(n, append([]float64(nil), x...)))
	return out.RawVector().Data
}
