package portfolio

import (
	"errors"
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"
)

var nan = math.NaN()

func TestExpectedReturns(t *testing.T) {
	t.Parallel()
	r := [][]float64{
		{0.1, -0.1, nan},
		{nan, 0.02, 0.04},
	}
	tests := []struct {
		name string
		got  []float64
		want []float64
	}{
		// Means over non-missing returns, times 2 periods a year.
		{"mean historical", MeanHistoricalReturn(r, 2), []float64{0, 0.06}},
		// (1.1 x 0.9)^(2/2) - 1 = -0.01; (1.02 x 1.04)^(2/2) - 1 = 0.0608.
		{"compounded", CompoundedReturn(r, 2), []float64{-0.01, 0.0608}},
		// Annualising 2 returns to 4 periods squares the growth:
		// 0.99^2 - 1 = -0.0199.
		{"compounded, 4 periods", CompoundedReturn(r, 4), []float64{-0.0199, 1.0608*1.0608 - 1}},
	}
	for _, tt := range tests {
		closeAll(t, tt.name, tt.got, tt.want, 1e-14)
	}
}

func TestPairwiseCovCorr(t *testing.T) {
	t.Parallel()
	r := [][]float64{
		{1, 2, 3, nan},
		{nan, 2, 4, 7},
		{nan, nan, nan, 1},
	}
	cov := SampleCov(r, 10)
	corr := SampleCorr(r)
	tests := []struct {
		name      string
		got, want float64
	}{
		// var(1, 2, 3) = 1, times 10.
		{"var A", cov.At(0, 0), 10},
		// var(2, 4, 7): mean 13/3, squared deviations 49/9 + 1/9 + 64/9 =
		// 114/9, over n - 1 = 2 gives 19/3; times 10.
		{"var B", cov.At(1, 1), 190.0 / 3},
		// Common rows only: A = (2, 3), B = (2, 4): deviations
		// (-1/2, 1/2) and (-1, 1), cross-product sum 1, over n - 1 = 1.
		{"cov AB", cov.At(0, 1), 10},
		// Over the common rows A and B move in lockstep: 1, where
		// cov/sqrt(var var) over each asset's own rows would give 0.397.
		{"corr AB", corr.At(0, 1), 1},
		{"corr BA", corr.At(1, 0), 1},
	}
	for _, tt := range tests {
		if math.Abs(tt.got-tt.want) > 1e-12 {
			t.Errorf("%s = %.15g, want %.15g", tt.name, tt.got, tt.want)
		}
	}
	// One common row (and one observation of C at all) is too few.
	for _, v := range []float64{cov.At(1, 2), cov.At(2, 2), corr.At(0, 2)} {
		if !math.IsNaN(v) {
			t.Errorf("entry with < 2 common rows = %v, want NaN", v)
		}
	}
	if SampleCov(nil, 1) != nil {
		t.Error("SampleCov(nil) is not nil")
	}
}

func TestCorrelation(t *testing.T) {
	t.Parallel()
	// sigma = (0.2, 0.5), cov 0.03: rho = 0.03 / (0.2 x 0.5) = 0.3.
	c := Correlation(sym(2, 0.04, 0.03, 0.03, 0.25))
	closeAll(t, "correlation", []float64{c.At(0, 0), c.At(0, 1), c.At(1, 1)}, []float64{1, 0.3, 1}, 1e-15)
}

func TestPerformance(t *testing.T) {
	t.Parallel()
	// w = (0.5, 0.5), sigma = (0.2, 0.4), rho = 0: variance
	// 0.25 x 0.04 + 0.25 x 0.16 = 0.05; return 0.5 x 0.1 + 0.5 x 0.2 = 0.15.
	S := sym(2, 0.04, 0, 0, 0.16)
	ret, vol, sharpe, err := Performance([]float64{0.5, 0.5}, []float64{0.1, 0.2}, S, 0.02)
	if err != nil {
		t.Fatal(err)
	}
	closeAll(t, "performance", []float64{ret, vol, sharpe}, []float64{0.15, math.Sqrt(0.05), 0.13 / math.Sqrt(0.05)}, 1e-15)
	if _, _, _, err := Performance([]float64{1}, []float64{0.1, 0.2}, S, 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("mismatched lengths: error %v, want ErrInvalid", err)
	}
}

// ledoitWolfExample is the six demeaned observations
// (2, 1), (-2, -1), (1, -1), (-1, 1), (0, 2), (0, -2), repeated ten times
// (n = 60, p = 2), worked through Ledoit and Wolf (2004) by hand:
//
//	S = X'X/n = [[10, 2], [2, 12]] / 6 = [[5/3, 1/3], [1/3, 2]]
//	m = tr(S)/p = (5/3 + 2)/2 = 11/6
//	d^2 = ||S - mI||^2 = (1/36 + 1/9 + 1/9 + 1/36)/2 = 5/36
//	sum_k ||x_k||^4 = 10 x (25 + 25 + 4 + 4 + 16 + 16) = 900
//	||S||_F^2 = 25/9 + 1/9 + 1/9 + 4 = 7
//	b-bar^2 = (900 - 60 x 7) / 60^2 / 2 = 1/15 < d^2, so b^2 = 1/15
//	shrinkage = b^2/d^2 = (1/15)/(5/36) = 0.48
//	estimate = 0.52 S + 0.48 x 11/6 I
//	         = [[0.52 x 5/3 + 0.88, 0.52/3], [0.52/3, 1.04 + 0.88]]
func ledoitWolfExample(offset float64) [][]float64 {
	base := [][2]float64{{2, 1}, {-2, -1}, {1, -1}, {-1, 1}, {0, 2}, {0, -2}}
	r := [][]float64{nil, nil}
	for rep := 0; rep < 10; rep++ {
		for _, obs := range base {
			r[0] = append(r[0], obs[0]+offset)
			r[1] = append(r[1], obs[1])
		}
	}
	return r
}

func TestLedoitWolfHandExample(t *testing.T) {
	t.Parallel()
	want := []float64{0.52*5/3 + 0.88, 0.52 / 3, 0.52 / 3, 1.04 + 0.88}
	tests := []struct {
		name string
		r    [][]float64
		freq float64
		want []float64
	}{
		{"as worked", ledoitWolfExample(0), 1, want},
		// Shrinkage works on demeaned returns: a drift changes nothing.
		{"with a drift", ledoitWolfExample(0.5), 1, want},
		// A row with a missing return is left out, not zero-filled.
		{"with an incomplete row", func() [][]float64 {
			r := ledoitWolfExample(0)
			r[0] = append(r[0], 100)
			r[1] = append(r[1], nan)
			return r
		}(), 1, want},
		{"annualised", ledoitWolfExample(0), 252, scale(want, 252)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, shrinkage, err := LedoitWolf(tt.r, tt.freq)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(shrinkage-0.48) > 1e-12 {
				t.Errorf("shrinkage = %.15g, want 0.48", shrinkage)
			}
			closeAll(t, "estimate", []float64{got.At(0, 0), got.At(0, 1), got.At(1, 0), got.At(1, 1)}, tt.want, 1e-12*tt.freq)
		})
	}
}

func scale(x []float64, f float64) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = v * f
	}
	return out
}

func TestLedoitWolfSingular(t *testing.T) {
	t.Parallel()
	// Three observations c_k v of three perfectly correlated assets, with
	// v = (1, 2, 3) and c = (1, -1, 0) (already demeaned). By hand:
	//
	//	S = (sum c^2 / n) v v' = (2/3) v v', singular (rank 1)
	//	m = tr(S)/p = (2/3)(14)/3 = 28/9
	//	d^2 = ||S||_F^2 (1 - 1/p)/p = (4/9)(196)(2/3)/3
	//	b-bar^2 = (sum c^4 - n (2/3)^2) |v|^4 / (n^2 p) = (2 - 4/3)(196)/27
	//	shrinkage = b-bar^2 / d^2 = (2/3) / (9 (4/9)(2/3)) = 1/4
	//	estimate = (3/4)(2/3) v v' + (1/4)(28/9) I = v v'/2 + (7/9) I
	r := [][]float64{{1, -1, 0}, {2, -2, 0}, {3, -3, 0}}
	got, shrinkage, err := LedoitWolf(r, 1)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(shrinkage-0.25) > 1e-12 {
		t.Errorf("shrinkage = %v, want 0.25", shrinkage)
	}
	v := []float64{1, 2, 3}
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			want := v[i] * v[j] / 2
			if i == j {
				want += 7.0 / 9
			}
			if math.Abs(got.At(i, j)-want) > 1e-12 {
				t.Errorf("estimate[%d][%d] = %v, want %v", i, j, got.At(i, j), want)
			}
		}
	}
	// The point of the estimator: well-conditioned where S is singular.
	var chol mat.Cholesky
	if !chol.Factorize(got) {
		t.Error("estimate is not positive definite")
	}
	if _, _, err := LedoitWolf([][]float64{{1, nan}, {nan, 1}}, 1); !errors.Is(err, ErrInvalid) {
		t.Errorf("no complete rows: error %v, want ErrInvalid", err)
	}
	if _, _, err := LedoitWolf([][]float64{{1, 2}, {1}}, 1); !errors.Is(err, ErrInvalid) {
		t.Errorf("ragged returns: error %v, want ErrInvalid", err)
	}
}

func TestLedoitWolfSharedData(t *testing.T) {
	t.Parallel()
	r := stockReturns(t)
	S, shrinkage, err := LedoitWolf(r.Values, TradingDays)
	if err != nil {
		t.Fatal(err)
	}
	if !(shrinkage > 0 && shrinkage < 1) {
		t.Errorf("shrinkage on 20 stocks = %v, want strictly between 0 and 1", shrinkage)
	}
	// The point of shrinking: a better-conditioned matrix than the sample
	// covariance over the same rows, which the optimisers accept.
	if _, err := MinVolatility(S, Options{}); err != nil {
		t.Errorf("MinVolatility on the shrunk matrix: %v", err)
	}
	t.Logf("Ledoit-Wolf shrinkage on stock_prices_2018.csv (complete rows): %.4f", shrinkage)
}
