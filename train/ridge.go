package train

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Linear is a fitted linear model: the score of a row x is Intercept +
// Coef . x. For ridge the score is the prediction; for logistic it is the
// log-odds.
type Linear struct {
	Intercept float64
	Coef      []float64
}

// Score returns Intercept + Coef . x.
func (m *Linear) Score(x []float64) float64 {
	s := m.Intercept
	for j, c := range m.Coef {
		s += c * x[j]
	}
	return s
}

// FitRidge fits ridge regression by its normal equations: it minimises
//
//	sum_i w_i (y_i - b - x_i . beta)^2 + alpha |beta|^2
//
// over the intercept b (not penalised, so that shrinkage pulls predictions
// toward the weighted mean rather than toward zero) and beta. The rows of
// x are samples; w may be nil for unit weights. Centring on the weighted
// means removes b, and the p x p system (Xc' W Xc + alpha I) beta =
// Xc' W yc is solved by Cholesky: p is a dozen here, so forming X'X costs
// one pass over the data and the solve nothing, and with alpha > 0 the
// matrix is positive definite. With alpha = 0 and collinear columns the
// factorisation fails and the error says so.
func FitRidge(x *mat.Dense, y, w []float64, alpha float64) (*Linear, error) {
	n, p := x.Dims()
	if len(y) != n || w != nil && len(w) != n {
		return nil, fmt.Errorf("ridge: %d rows but %d targets and %d weights", n, len(y), len(w))
	}
	if alpha < 0 || math.IsNaN(alpha) || math.IsInf(alpha, 0) {
		return nil, fmt.Errorf("ridge: alpha must be finite and >= 0, got %v", alpha)
	}
	wsum, xbar, ybar := weightedMeans(x, y, w)
	if !(wsum > 0) {
		return nil, errors.New("ridge: the weights sum to zero")
	}
	// Rows scaled by sqrt(w) turn the weighted problem into a plain one.
	xs := mat.NewDense(n, p, nil)
	ys := mat.NewVecDense(n, nil)
	for i := range n {
		sw := 1.0
		if w != nil {
			sw = math.Sqrt(w[i])
		}
		for j := range p {
			xs.Set(i, j, sw*(x.At(i, j)-xbar[j]))
		}
		ys.SetVec(i, sw*(y[i]-ybar))
	}
	var gram mat.SymDense
	gram.SymOuterK(1, xs.T())
	for j := range p {
		gram.SetSym(j, j, gram.At(j, j)+alpha)
	}
	var rhs mat.VecDense
	rhs.MulVec(xs.T(), ys)
	var chol mat.Cholesky
	if ok := chol.Factorize(&gram); !ok {
		return nil, fmt.Errorf("ridge: X'WX + %g I is not positive definite (collinear features without a penalty?)", alpha)
	}
	var beta mat.VecDense
	if err := chol.SolveVecTo(&beta, &rhs); err != nil {
		// gonum reports a condition number too large to trust the answer.
		return nil, fmt.Errorf("ridge: X'WX + %g I is singular (collinear features without a penalty?): %w", alpha, err)
	}
	m := &Linear{Intercept: ybar, Coef: make([]float64, p)}
	for j := range p {
		m.Coef[j] = beta.AtVec(j)
		m.Intercept -= m.Coef[j] * xbar[j]
	}
	return m, nil
}

// weightedMeans returns the total weight and the weighted means of the
// columns of x and of y; nil w means unit weights.
func weightedMeans(x *mat.Dense, y, w []float64) (wsum float64, xbar []float64, ybar float64) {
	n, p := x.Dims()
	xbar = make([]float64, p)
	for i := range n {
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		wsum += wi
		ybar += wi * y[i]
		for j := range p {
			xbar[j] += wi * x.At(i, j)
		}
	}
	if wsum > 0 {
		ybar /= wsum
		for j := range xbar {
			xbar[j] /= wsum
		}
	}
	return wsum, xbar, ybar
}
