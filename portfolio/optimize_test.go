package portfolio

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func ones(n int) []float64 {
	o := make([]float64, n)
	for i := range o {
		o[i] = 1
	}
	return o
}

func sym(n int, data ...float64) *mat.SymDense {
	return mat.NewSymDense(n, data)
}

// checkKKT asserts that long-only weights w minimise x'Sx subject to
// a'x = 1, x >= 0 after rescaling x = w / (a'w): feasibility, and the KKT
// conditions g = Sw = nu a on the support, g >= nu a off it, with
// nu = w'Sw / a'w (which is what sum_i w_i g_i = nu sum_i w_i a_i forces).
// Both MinVolatility (a = 1) and MaxSharpe (a = mu - rf) must pass it.
func checkKKT(t *testing.T, S mat.Symmetric, a, w []float64, tol float64) {
	t.Helper()
	sum, aw := 0.0, 0.0
	for i, v := range w {
		if v < 0 || v > 1 {
			t.Errorf("weight %d = %v, want in [0, 1]", i, v)
		}
		sum += v
		aw += a[i] * v
	}
	if math.Abs(sum-1) > 1e-12 {
		t.Errorf("weights sum to %.17g, want 1", sum)
	}
	g := mulVec(S, w)
	wSw := 0.0
	scale := 0.0
	for i := range w {
		wSw += w[i] * g[i]
		scale = math.Max(scale, math.Abs(g[i]))
	}
	nu := wSw / aw
	for i := range w {
		mu := g[i] - nu*a[i]
		switch {
		case w[i] > 0 && math.Abs(mu) > tol*scale:
			t.Errorf("asset %d held (w=%.3g) but gradient gap %.3g != 0", i, w[i], mu/scale)
		case w[i] == 0 && mu < -tol*scale:
			t.Errorf("asset %d excluded but multiplier %.3g < 0: adding it would lower the objective", i, mu/scale)
		}
	}
}

func closeAll(t *testing.T, name string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > tol {
			t.Errorf("%s[%d] = %.12g, want %.12g", name, i, got[i], want[i])
		}
	}
}

func TestMinVolatilityClosedForm(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		S    *mat.SymDense
		want []float64
	}{
		// Two assets: w1 = (s2^2 - s12) / (s1^2 + s2^2 - 2 s12)
		// = (0.09 - 0.03) / (0.04 + 0.09 - 0.06) = 6/7.
		{"two interior", sym(2, 0.04, 0.03, 0.03, 0.09), []float64{6.0 / 7, 1.0 / 7}},
		// s1 = 0.1, s2 = 0.3, rho = 0.9: the formula gives
		// 0.063 / 0.046 = 1.37 > 1, so the long-only answer is all in 1.
		{"two at bound", sym(2, 0.01, 0.027, 0.027, 0.09), []float64{1, 0}},
		// Assets 1 and 2 alone: (1/2, 1/2) with gradient Sw = (1/2, 1/2,
		// 1.2/2) and nu = w'Sw = 1/2; asset 3's multiplier 0.6 - 0.5 > 0
		// keeps it out although the unconstrained optimum would short it.
		{"three, one excluded", sym(3, 1, 0, 1.2, 0, 1, 0, 1.2, 0, 4), []float64{0.5, 0.5, 0}},
		// Uncorrelated: w_i proportional to 1/s_i^2 = (1, 1/2, 1/4) / (7/4).
		{"diagonal", sym(3, 1, 0, 0, 0, 2, 0, 0, 0, 4), []float64{4.0 / 7, 2.0 / 7, 1.0 / 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, err := MinVolatility(tt.S, Options{})
			if err != nil {
				t.Fatal(err)
			}
			closeAll(t, "weights", w, tt.want, 1e-12)
			checkKKT(t, tt.S, ones(len(w)), w, 1e-12)
		})
	}
}

func TestMaxSharpeClosedForm(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		S    *mat.SymDense
		mu   []float64
		rf   float64
		want []float64
	}{
		// Interior tangency portfolio w ~ S^-1 (mu - rf): with excess
		// (0.08, 0.13) and S^-1 ~ [[0.09, -0.03], [-0.03, 0.04]],
		// w ~ (0.0072 - 0.0039, -0.0024 + 0.0052) = (0.0033, 0.0028).
		{"two interior", sym(2, 0.04, 0.03, 0.03, 0.09), []float64{0.10, 0.15}, 0.02, []float64{33.0 / 61, 28.0 / 61}},
		// Uncorrelated: w_i ~ max(mu_i - rf, 0) / s_i^2 = (2, 0, 2).
		{"diagonal, one below rf", sym(3, 0.04, 0, 0, 0, 0.01, 0, 0, 0, 0.09), []float64{0.1, 0.01, 0.2}, 0.02, []float64{0.5, 0, 0.5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, err := MaxSharpe(tt.mu, tt.S, tt.rf, Options{})
			if err != nil {
				t.Fatal(err)
			}
			closeAll(t, "weights", w, tt.want, 1e-12)
			excess := make([]float64, len(tt.mu))
			for i := range excess {
				excess[i] = tt.mu[i] - tt.rf
			}
			checkKKT(t, tt.S, excess, w, 1e-12)
		})
	}
}

func TestMaxSharpeNoAssetAboveRiskFree(t *testing.T) {
	t.Parallel()
	_, err := MaxSharpe([]float64{0.01, 0.02}, sym(2, 0.04, 0, 0, 0.09), 0.02, Options{})
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("error %v, want ErrInvalid", err)
	}
}

func TestOptimiserInputErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		S    *mat.SymDense
	}{
		{"zero variance", sym(2, 0, 0, 0, 1)},
		{"NaN covariance", sym(2, 1, math.NaN(), math.NaN(), 1)},
		{"indefinite", sym(2, 1, 2, 2, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := MinVolatility(tt.S, Options{}); !errors.Is(err, ErrInvalid) {
				t.Errorf("MinVolatility error %v, want ErrInvalid", err)
			}
		})
	}
}

// randomCov returns a covariance with n assets from a one-factor model plus
// noise, like daily stock returns: variances ~1e-4, correlations ~0.3.
func randomCov(rng *rand.Rand, n, obs int) (*mat.SymDense, [][]float64) {
	r := make([][]float64, n)
	beta := make([]float64, n)
	vol := make([]float64, n)
	for a := range beta {
		beta[a] = 0.5 + rng.Float64()
		vol[a] = 0.005 + 0.02*rng.Float64()
		r[a] = make([]float64, obs)
	}
	for k := 0; k < obs; k++ {
		f := 0.01 * rng.NormFloat64()
		for a := range r {
			r[a][k] = 0.0003*float64(a%5) + beta[a]*f + vol[a]*rng.NormFloat64()
		}
	}
	return SampleCov(r, 1), r
}

// projectedGradient is an independent, slow reference solver for
// min w'Sw on the simplex: gradient steps of size 1/L with the exact
// Euclidean projection onto the simplex (Duchi et al., 2008).
func projectedGradient(S mat.Symmetric, iters int) []float64 {
	n := S.SymmetricDim()
	var eig mat.EigenSym
	eig.Factorize(S, false)
	vals := eig.Values(nil)
	step := 1 / (2 * vals[len(vals)-1])
	w := make([]float64, n)
	for i := range w {
		w[i] = 1 / float64(n)
	}
	for it := 0; it < iters; it++ {
		g := mulVec(S, w)
		for i := range w {
			w[i] -= step * 2 * g[i]
		}
		w = projectSimplex(w)
	}
	return w
}

func projectSimplex(v []float64) []float64 {
	u := append([]float64(nil), v...)
	// Sort descending.
	for i := 1; i < len(u); i++ {
		for j := i; j > 0 && u[j] > u[j-1]; j-- {
			u[j], u[j-1] = u[j-1], u[j]
		}
	}
	cum, theta := 0.0, 0.0
	for i, x := range u {
		cum += x
		if t := (cum - 1) / float64(i+1); x-t > 0 {
			theta = t
		}
	}
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = math.Max(x-theta, 0)
	}
	return out
}

func quad(S mat.Symmetric, w []float64) float64 {
	g := mulVec(S, w)
	s := 0.0
	for i := range w {
		s += w[i] * g[i]
	}
	return s
}

func TestOptimisersRandomKKT(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	excluded := 0
	defer func() {
		if excluded == 0 {
			t.Error("no minimum-volatility solution excluded an asset: the bounds went untested")
		}
	}()
	for trial := 0; trial < 20; trial++ {
		n := 3 + trial%10
		S, r := randomCov(rng, n, 60+10*trial)
		w, err := MinVolatility(S, Options{})
		if err != nil {
			t.Fatalf("trial %d: %v", trial, err)
		}
		checkKKT(t, S, ones(n), w, 1e-10)
		// Projected-gradient iterates are feasible, so their variance can
		// only approach the optimum from above; it must not beat the
		// active-set answer, and after enough steps it must get close.
		ref := projectedGradient(S, 5000)
		got, want := quad(S, w), quad(S, ref)
		for _, v := range w {
			if v == 0 {
				excluded++
			}
		}
		if got > want*(1+1e-12) {
			t.Errorf("trial %d: active-set variance %.12g above projected gradient's %.12g", trial, got, want)
		}
		if want > got*(1+1e-9) {
			t.Errorf("trial %d: projected gradient stalled at %.12g, active set found %.12g", trial, want, got)
		}

		mu := MeanHistoricalReturn(r, 1)
		rf := 0.0002
		ws, err := MaxSharpe(mu, S, rf, Options{})
		if errors.Is(err, ErrInvalid) {
			continue // every asset below rf in this draw
		}
		if err != nil {
			t.Fatalf("trial %d: %v", trial, err)
		}
		excess := make([]float64, n)
		for i := range excess {
			excess[i] = mu[i] - rf
		}
		checkKKT(t, S, excess, ws, 1e-10)
		_, _, best, _ := Performance(ws, mu, S, rf)
		for i := 0; i < n; i++ {
			single := make([]float64, n)
			single[i] = 1
			if _, _, sh, _ := Performance(single, mu, S, rf); sh > best+1e-12 {
				t.Errorf("trial %d: asset %d alone has Sharpe %v > optimum %v", trial, i, sh, best)
			}
		}
	}
}

func TestMinVolatilitySingular(t *testing.T) {
	t.Parallel()
	// Two identical assets and an independent one: any split between the
	// twins is optimal; the ridge must still return a feasible optimum.
	S := sym(3, 1, 1, 0, 1, 1, 0, 0, 0, 1)
	w, err := MinVolatility(S, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := quad(S, w); math.Abs(got-0.5) > 1e-9 {
		t.Errorf("variance %v, want 0.5", got)
	}
	if math.Abs(w[2]-0.5) > 1e-9 {
		t.Errorf("independent asset weight %v, want 0.5", w[2])
	}
}

func riskShares(S mat.Symmetric, w []float64) []float64 {
	shares, err := RiskContributions(w, S)
	if err != nil {
		panic(err)
	}
	return shares
}

func TestRiskContributions(t *testing.T) {
	t.Parallel()
	// w = (0.5, 0.5), S = [[0.04, 0.01], [0.01, 0.09]]: Sw = (0.025, 0.05),
	// w'Sw = 0.0375, shares 0.0125/0.0375 and 0.025/0.0375.
	got, err := RiskContributions([]float64{0.5, 0.5}, sym(2, 0.04, 0.01, 0.01, 0.09))
	if err != nil {
		t.Fatal(err)
	}
	closeAll(t, "shares", got, []float64{1.0 / 3, 2.0 / 3}, 1e-15)
	if _, err := RiskContributions([]float64{0, 0}, sym(2, 1, 0, 0, 1)); !errors.Is(err, ErrInvalid) {
		t.Errorf("zero portfolio: error %v, want ErrInvalid", err)
	}
}

func TestRiskParity(t *testing.T) {
	t.Parallel()
	// Two assets: equal risk contributions means w_i s_i equal whatever the
	// correlation, so w ~ (1/0.2, 1/0.3) = (0.6, 0.4).
	w, err := RiskParity(sym(2, 0.04, 0.03, 0.03, 0.09), Options{})
	if err != nil {
		t.Fatal(err)
	}
	closeAll(t, "two-asset weights", w, []float64{0.6, 0.4}, 1e-12)

	rng := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 10; trial++ {
		n := 2 + 2*trial
		S, _ := randomCov(rng, n, 250)
		w, err := RiskParity(S, Options{})
		if err != nil {
			t.Fatalf("trial %d: %v", trial, err)
		}
		want := make([]float64, n)
		for i := range want {
			want[i] = 1 / float64(n)
		}
		closeAll(t, "risk shares", riskShares(S, w), want, 1e-9)
	}
}

func TestRiskBudget(t *testing.T) {
	t.Parallel()
	S := sym(3, 0.04, 0.01, 0.0, 0.01, 0.09, 0.02, 0.0, 0.02, 0.01)
	w, err := RiskBudget(S, []float64{1, 2, 3}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	closeAll(t, "risk shares", riskShares(S, w), []float64{1.0 / 6, 2.0 / 6, 3.0 / 6}, 1e-9)
	if _, err := RiskBudget(S, []float64{1, 0, 1}, Options{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("zero budget: error %v, want ErrInvalid", err)
	}
}

func TestNoConvergenceReported(t *testing.T) {
	t.Parallel()
	S, _ := randomCov(rand.New(rand.NewPCG(5, 6)), 10, 100)
	if _, err := RiskParity(S, Options{MaxIter: 1, Tol: 1e-15}); !errors.Is(err, ErrNoConvergence) {
		t.Errorf("RiskParity with 1 iteration: error %v, want ErrNoConvergence", err)
	}
	// The first active-set step stops where asset 3 hits its bound; a
	// second iteration is needed to confirm the optimum.
	if _, err := MinVolatility(sym(3, 1, 0, 1.2, 0, 1, 0, 1.2, 0, 4), Options{MaxIter: 1}); !errors.Is(err, ErrNoConvergence) {
		t.Errorf("MinVolatility with 1 iteration: error %v, want ErrNoConvergence", err)
	}
}
