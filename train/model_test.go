package train

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// TestRidgeOneFeature checks FitRidge against the textbook answer for one
// feature: beta = Sxy / (Sxx + alpha) on centred data, and the intercept
// through the means.
func TestRidgeOneFeature(t *testing.T) {
	t.Parallel()
	x := mat.NewDense(4, 1, []float64{1, 2, 3, 4})
	y := []float64{2, 4, 6, 8} // Sxx = 5, Sxy = 10
	for _, c := range []struct{ alpha, beta float64 }{{0, 2}, {1, 10.0 / 6}, {5, 1}, {995, 0.01}} {
		m, err := FitRidge(x, y, nil, c.alpha)
		if err != nil {
			t.Fatal(err)
		}
		if !near(m.Coef[0], c.beta, 1e-12) || !near(m.Intercept, 5-2.5*c.beta, 1e-12) {
			t.Errorf("alpha %v: beta %v intercept %v, want %v and %v", c.alpha, m.Coef[0], m.Intercept, c.beta, 5-2.5*c.beta)
		}
	}
}

// TestRidgeClosedForm compares FitRidge with the closed form on a small
// weighted problem, solved independently: with an intercept column and a
// penalty matrix P = diag(0, alpha, ..., alpha), theta = (A'WA + P)^-1 A'Wy.
func TestRidgeClosedForm(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 8))
	const n, p, alpha = 40, 3, 2.5
	x := mat.NewDense(n, p, nil)
	a := mat.NewDense(n, p+1, nil)
	y, w := make([]float64, n), make([]float64, n)
	for i := range n {
		a.Set(i, 0, 1)
		for j := range p {
			v := rng.NormFloat64()
			x.Set(i, j, v)
			a.Set(i, j+1, v)
		}
		y[i] = 1 + 2*x.At(i, 0) - x.At(i, 1) + 0.5*rng.NormFloat64()
		w[i] = 0.5 + rng.Float64()
	}
	var lhs, aw mat.Dense
	aw.Apply(func(i, _ int, v float64) float64 { return w[i] * v }, a)
	lhs.Mul(a.T(), &aw)
	for j := 1; j <= p; j++ {
		lhs.Set(j, j, lhs.At(j, j)+alpha)
	}
	var rhs, theta mat.VecDense
	rhs.MulVec(aw.T(), mat.NewVecDense(n, y))
	if err := theta.SolveVec(&lhs, &rhs); err != nil {
		t.Fatal(err)
	}
	m, err := FitRidge(x, y, w, alpha)
	if err != nil {
		t.Fatal(err)
	}
	if !near(m.Intercept, theta.AtVec(0), 1e-10) {
		t.Errorf("intercept %v, want %v", m.Intercept, theta.AtVec(0))
	}
	for j := range p {
		if !near(m.Coef[j], theta.AtVec(j+1), 1e-10) {
			t.Errorf("coef %d = %v, want %v", j, m.Coef[j], theta.AtVec(j+1))
		}
	}
}

func TestRidgeCollinearWithoutPenalty(t *testing.T) {
	t.Parallel()
	x := mat.NewDense(3, 2, []float64{1, 2, 2, 4, 3, 6})
	if _, err := FitRidge(x, []float64{1, 2, 3}, nil, 0); err == nil || !strings.Contains(err.Error(), "collinear features") {
		t.Errorf("err = %v, want one blaming collinear features", err)
	}
	if _, err := FitRidge(x, []float64{1, 2, 3}, nil, 0.1); err != nil {
		t.Errorf("with a penalty: %v", err)
	}
}

// separableIsh draws n points whose class is the sign of x0 + x1 plus a
// little noise: almost separable, so an unpenalised fit would diverge and
// the penalty decides where it stops.
func separableIsh(seed uint64, n int) (*mat.Dense, []float64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	x := mat.NewDense(n, 2, nil)
	y := make([]float64, n)
	for i := range n {
		a, b := rng.NormFloat64(), rng.NormFloat64()
		x.Set(i, 0, a)
		x.Set(i, 1, b)
		if a+b+0.2*rng.NormFloat64() > 0 {
			y[i] = 1
		}
	}
	return x, y
}

// newtonLogistic solves the same penalised problem by Newton's method, an
// independent reference for FitLogistic.
func newtonLogistic(x *mat.Dense, y []float64, lambda float64) []float64 {
	n, p := x.Dims()
	theta := mat.NewVecDense(p+1, nil)
	for range 50 {
		h := mat.NewDense(p+1, p+1, nil)
		g := mat.NewVecDense(p+1, nil)
		row := make([]float64, p+1)
		for i := range n {
			row[0] = 1
			for j := range p {
				row[j+1] = x.At(i, j)
			}
			z := 0.0
			for j := range row {
				z += theta.AtVec(j) * row[j]
			}
			s := sigmoid(z)
			for j := range row {
				g.SetVec(j, g.AtVec(j)+(s-y[i])*row[j])
				for k := range row {
					h.Set(j, k, h.At(j, k)+s*(1-s)*row[j]*row[k])
				}
			}
		}
		for j := 1; j <= p; j++ {
			g.SetVec(j, g.AtVec(j)+lambda*theta.AtVec(j))
			h.Set(j, j, h.At(j, j)+lambda)
		}
		var step mat.VecDense
		if err := step.SolveVec(h, g); err != nil {
			panic(err)
		}
		theta.SubVec(theta, &step)
	}
	return theta.RawVector().Data
}

// TestLogisticConverges fits almost separable data and compares with
// Newton's method: the accelerated gradient descent must reach the same
// optimum, report convergence, and classify the data well.
func TestLogisticConverges(t *testing.T) {
	t.Parallel()
	for _, lambda := range []float64{0.1, 1, 10} {
		x, y := separableIsh(3, 400)
		fit, err := FitLogistic(x, y, nil, LogisticOptions{L2: lambda, MaxEpochs: 20000, Tol: 1e-9})
		if err != nil {
			t.Fatal(err)
		}
		want := newtonLogistic(x, y, lambda)
		got := append([]float64{fit.Intercept}, fit.Coef...)
		for j := range want {
			if !near(got[j], want[j], 1e-5*math.Max(1, math.Abs(want[j]))) {
				t.Errorf("lambda %v: theta %v, Newton says %v", lambda, got, want)
				break
			}
		}
		if !fit.Converged || fit.StoppedEarly {
			t.Errorf("lambda %v: converged %v, stopped early %v after %d epochs", lambda, fit.Converged, fit.StoppedEarly, fit.Epochs)
		}
		n, _ := x.Dims()
		hits := 0
		for i := range n {
			if (fit.Score(x.RawRowView(i)) > 0) == (y[i] == 1) {
				hits++
			}
		}
		if acc := float64(hits) / float64(n); acc < 0.9 {
			t.Errorf("lambda %v: training accuracy %.3f, want >= 0.9", lambda, acc)
		}
	}
}

// TestLogisticEarlyStopping validates on labels unrelated to the
// features: the validation AUC cannot keep improving, so the fit stops
// after Patience epochs without improvement and keeps the best epoch.
func TestLogisticEarlyStopping(t *testing.T) {
	t.Parallel()
	x, y := separableIsh(4, 300)
	vx, _ := separableIsh(5, 200)
	rng := rand.New(rand.NewPCG(9, 9))
	vy := make([]float64, 200)
	for i := range vy {
		vy[i] = float64(rng.IntN(2))
	}
	fit, err := FitLogistic(x, y, nil, LogisticOptions{L2: 0.1, Patience: 3, ValX: vx, ValY: vy})
	if err != nil {
		t.Fatal(err)
	}
	if !fit.StoppedEarly || fit.Epochs != fit.BestEpoch+3 {
		t.Errorf("stopped early %v after %d epochs, best %d; want a stop 3 epochs after the best", fit.StoppedEarly, fit.Epochs, fit.BestEpoch)
	}
	none, err := FitLogistic(x, y, nil, LogisticOptions{L2: 0.1, MaxEpochs: -1})
	if err != nil {
		t.Fatal(err)
	}
	if none.Epochs != 0 || none.Coef[0] != 0 || none.Coef[1] != 0 {
		t.Errorf("MaxEpochs -1: %d epochs, coef %v; want the base-rate model", none.Epochs, none.Coef)
	}
}

func TestScores(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"AUC perfect", AUC([]float64{0.1, 0.4, 0.35, 0.8}, []float64{0, 1, 0, 1}), 1},
		{"AUC reversed", AUC([]float64{0.9, 0.1}, []float64{0, 1}), 0},
		{"AUC one class", AUC([]float64{0.9, 0.1}, []float64{1, 1}), 0.5},
		{"AUC ties count half", AUC([]float64{0.5, 0.5, 0.5}, []float64{0, 1, 1}), 0.5},
		{"AUC 3 of 4 pairs", AUC([]float64{1, 2, 3, 4}, []float64{0, 1, 0, 1}), 0.75},
		{"Spearman monotone", Spearman([]float64{1, 2, 3, 4}, []float64{1, 8, 27, 1000}), 1},
		{"Spearman reversed", Spearman([]float64{1, 2, 3}, []float64{3, 2, 1}), -1},
		{"Spearman constant", Spearman([]float64{1, 1, 1}, []float64{3, 2, 1}), 0},
		{"Pearson", Pearson([]float64{1, 2, 3}, []float64{2, 4, 7}), 0.9933992677987828},
	} {
		if !near(c.got, c.want, 1e-12) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}
