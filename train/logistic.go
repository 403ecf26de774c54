package train

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

// LogisticOptions configures FitLogistic. Zero fields take the defaults.
type LogisticOptions struct {
	// L2 is the penalty lambda on the coefficients (not the intercept).
	L2 float64
	// MaxEpochs bounds the full-batch gradient steps (0 means the default,
	// 2000; a negative value means no step at all, the base-rate model,
	// which is what refitting a model whose early stop kept its starting
	// point takes). Tol is the gradient's max-norm at which the fit has
	// converged (default 1e-6).
	MaxEpochs int
	Tol       float64
	// Patience > 0 with a validation set turns on early stopping: the fit
	// stops after Patience epochs without a higher validation AUC and
	// keeps the weights of the best epoch. AUC, the pipeline's score for
	// classifiers, rather than log loss: the base rate of a financial
	// label drifts over time, and log loss on a later block then mostly
	// measures how well the intercept is calibrated to the old base rate,
	// not the ranking the model is judged on (on the synthetic market the
	// validation log loss often rises from the first epoch while the AUC
	// climbs from 0.5 to 0.8).
	Patience int
	ValX     *mat.Dense
	ValY     []float64
}

// LogisticFit is a fitted logistic regression: P(y = 1 | x) =
// sigmoid(Score(x)).
type LogisticFit struct {
	Linear
	// Epochs is the number of gradient steps taken and BestEpoch the one
	// whose weights were kept (the last, unless stopped early).
	Epochs, BestEpoch int
	Converged         bool
	StoppedEarly      bool
}

// FitLogistic fits an L2-penalised logistic regression to 0/1 labels y
// with weights w (nil for unit weights), minimising
//
//	( sum_i w_i [log(1 + e^z_i) - y_i z_i] + L2/2 |beta|^2 ) / sum_i w_i,
//	z_i = b + x_i . beta,
//
// by Nesterov's accelerated gradient descent with adaptive restart
// (O'Donoghue and Candes, 2015) and the fixed step 1/L, where L bounds the
// loss's curvature: a quarter of the largest eigenvalue of X'WX (with the
// intercept column) plus the penalty. Full-batch gradient descent rather
// than Newton's method because it has a natural unit of training, the
// epoch, for early stopping to count: the pipeline's
// early_stopping_patience is measured in these epochs. Starting from the
// intercept that matches the base rate and zero coefficients, an early
// stop keeps a model shrunk toward "no signal", a second regulariser
// besides L2 on noisy financial labels.
func FitLogistic(x *mat.Dense, y, w []float64, o LogisticOptions) (*LogisticFit, error) {
	n, p := x.Dims()
	if len(y) != n || w != nil && len(w) != n {
		return nil, fmt.Errorf("logistic: %d rows but %d labels and %d weights", n, len(y), len(w))
	}
	if o.L2 < 0 || math.IsNaN(o.L2) || math.IsInf(o.L2, 0) {
		return nil, fmt.Errorf("logistic: L2 must be finite and >= 0, got %v", o.L2)
	}
	if o.MaxEpochs == 0 {
		o.MaxEpochs = 2000
	}
	if o.Tol <= 0 {
		o.Tol = 1e-6
	}
	prob := newLogisticProblem(x, y, w, o.L2)
	if !(prob.wsum > 0) {
		return nil, errors.New("logistic: the weights sum to zero")
	}
	step := 1 / prob.lipschitz()
	theta := make([]float64, p+1) // intercept first
	ybar := 0.0
	for i := range n {
		ybar += prob.weight(i) * y[i]
	}
	ybar = math.Min(math.Max(ybar/prob.wsum, 1e-6), 1-1e-6)
	theta[0] = math.Log(ybar / (1 - ybar))

	stop := newEarlyStop(o, theta)
	prev := append([]float64(nil), theta...)
	yv, g, next := make([]float64, p+1), make([]float64, p+1), make([]float64, p+1)
	fit := &LogisticFit{}
	tk := 1.0
	for fit.Epochs < o.MaxEpochs {
		tn := (1 + math.Sqrt(1+4*tk*tk)) / 2
		mom := (tk - 1) / tn
		for j := range yv {
			yv[j] = theta[j] + mom*(theta[j]-prev[j])
		}
		if prob.gradient(yv, g) < o.Tol {
			copy(theta, yv)
			fit.Converged = true
			break
		}
		restart := 0.0
		for j := range next {
			next[j] = yv[j] - step*g[j]
			restart += g[j] * (next[j] - theta[j])
		}
		tk = tn
		if restart > 0 {
			tk = 1 // the momentum points uphill: drop it
		}
		prev, theta, next = theta, next, prev
		fit.Epochs++
		if stop.after(fit.Epochs, theta) {
			fit.StoppedEarly = true
			break
		}
	}
	if stop != nil {
		copy(theta, stop.best)
		fit.BestEpoch = stop.bestEpoch
	} else {
		fit.BestEpoch = fit.Epochs
	}
	fit.Intercept, fit.Coef = theta[0], append([]float64(nil), theta[1:]...)
	return fit, nil
}

// logisticProblem holds the data of one fit in row-major form.
type logisticProblem struct {
	x      blas64.General
	y, w   []float64
	wsum   float64
	lambda float64
}

func newLogisticProblem(x *mat.Dense, y, w []float64, lambda float64) *logisticProblem {
	pr := &logisticProblem{x: x.RawMatrix(), y: y, w: w, lambda: lambda}
	for i := range y {
		pr.wsum += pr.weight(i)
	}
	return pr
}

func (pr *logisticProblem) weight(i int) float64 {
	if pr.w == nil {
		return 1
	}
	return pr.w[i]
}

func (pr *logisticProblem) row(i int) []float64 {
	return pr.x.Data[i*pr.x.Stride : i*pr.x.Stride+pr.x.Cols]
}

// gradient writes the gradient of the objective at theta into g and
// returns its max-norm.
func (pr *logisticProblem) gradient(theta, g []float64) float64 {
	clear(g)
	for i := range pr.y {
		xi := pr.row(i)
		r := pr.weight(i) * (sigmoid(linear(theta, xi)) - pr.y[i])
		g[0] += r
		for j, v := range xi {
			g[j+1] += r * v
		}
	}
	norm := 0.0
	for j := range g {
		if j > 0 {
			g[j] += pr.lambda * theta[j]
		}
		g[j] /= pr.wsum
		norm = math.Max(norm, math.Abs(g[j]))
	}
	return norm
}

// lipschitz bounds the largest eigenvalue of the objective's Hessian,
// (X'DX + lambda I) / W with D <= W/4, by the exact largest eigenvalue of
// X'WX / 4; a step of 1/L then never overshoots.
func (pr *logisticProblem) lipschitz() float64 {
	p := pr.x.Cols + 1
	gram := mat.NewSymDense(p, nil)
	a := make([]float64, p)
	a[0] = 1
	for i := range pr.y {
		copy(a[1:], pr.row(i))
		wi := pr.weight(i)
		for j := range p {
			for k := j; k < p; k++ {
				gram.SetSym(j, k, gram.At(j, k)+wi*a[j]*a[k])
			}
		}
	}
	var eig mat.EigenSym
	top := 0.0
	if eig.Factorize(gram, false) {
		for _, v := range eig.Values(nil) {
			top = math.Max(top, v)
		}
	} else {
		top = mat.Trace(gram) // an upper bound, when the solver balks
	}
	return math.Max((top/4+pr.lambda)/pr.wsum, 1e-12)
}

// valAUC is the AUC of theta's scores on (x, y).
func valAUC(theta []float64, x *mat.Dense, y, buf []float64) float64 {
	raw := x.RawMatrix()
	for i := range y {
		buf[i] = linear(theta, raw.Data[i*raw.Stride:i*raw.Stride+raw.Cols])
	}
	return AUC(buf, y)
}

// earlyStop tracks the validation AUC for FitLogistic; a nil *earlyStop
// never stops.
type earlyStop struct {
	x          *mat.Dense
	y, buf     []float64
	patience   int
	best       []float64
	bestAUC    float64
	bestEpoch  int
	sinceImpro int
}

func newEarlyStop(o LogisticOptions, theta []float64) *earlyStop {
	if o.Patience <= 0 || o.ValX == nil {
		return nil
	}
	s := &earlyStop{x: o.ValX, y: o.ValY, buf: make([]float64, len(o.ValY)), patience: o.Patience}
	s.best = append([]float64(nil), theta...)
	s.bestAUC = valAUC(theta, s.x, s.y, s.buf)
	return s
}

// after records the validation AUC after an epoch and reports whether
// to stop.
func (s *earlyStop) after(epoch int, theta []float64) bool {
	if s == nil {
		return false
	}
	if a := valAUC(theta, s.x, s.y, s.buf); a > s.bestAUC {
		s.bestAUC, s.bestEpoch, s.sinceImpro = a, epoch, 0
		copy(s.best, theta)
		return false
	}
	s.sinceImpro++
	return s.sinceImpro >= s.patience
}

func linear(theta, x []float64) float64 {
	z := theta[0]
	for j, v := range x {
		z += theta[j+1] * v
	}
	return z
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }
