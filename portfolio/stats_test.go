package portfolio

import (
	"math"
	"testing"
)

// skewed is the worked example of the statistics tests: four periods,
// one gain of 4% and three flat periods (plus a missing period, skipped).
//
//	mean = 0.04/4 = 0.01; deviations 0.03, -0.01, -0.01, -0.01
//	sum of squares = 0.0009 + 3 x 0.0001 = 0.0012
//	sample variance = 0.0012/3 = 0.0004, std = 0.02
//	SR (per period) = 0.01/0.02 = 0.5
//	m2 = 0.0012/4 = 0.0003
//	m3 = (0.000027 - 3 x 0.000001)/4 = 0.000006
//	m4 = (0.00000081 + 3 x 0.00000001)/4 = 0.00000021
//	skew = m3 / m2^1.5 = 0.000006 / (0.0003 sqrt(0.0003)) = 2/sqrt(3) = 1.1547
//	kurt = m4 / m2^2 = 0.00000021 / 0.00000009 = 7/3 (excess -2/3)
var skewed = []float64{0.04, 0, math.NaN(), 0, 0}

func TestMoments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		got, want float64
	}{
		{"period sharpe", PeriodSharpe(skewed, 0), 0.5},
		{"period sharpe over rf", PeriodSharpe(skewed, 0.01), 0},
		{"annual sharpe", Sharpe(skewed, 0, 252), 0.5 * math.Sqrt(252)},
		{"skewness", Skewness(skewed), 2 / math.Sqrt(3)},
		{"kurtosis", Kurtosis(skewed), 7.0 / 3},
		{"excess kurtosis", ExcessKurtosis(skewed), -2.0 / 3},
	}
	for _, tt := range tests {
		if math.Abs(tt.got-tt.want) > 1e-12 {
			t.Errorf("%s = %.15g, want %.15g", tt.name, tt.got, tt.want)
		}
	}
	for name, v := range map[string]float64{
		"sharpe of one return":    PeriodSharpe([]float64{0.1}, 0),
		"sharpe of a flat series": PeriodSharpe([]float64{0.1, 0.1}, 0),
		"skewness of nothing":     Skewness(nil),
	} {
		if !math.IsNaN(v) {
			t.Errorf("%s = %v, want NaN", name, v)
		}
	}
}

func TestPSR(t *testing.T) {
	t.Parallel()
	// For the skewed series (n = 4, SR = 0.5, skew = 2/sqrt(3), kurt = 7/3):
	//
	//	1 - skew SR + (kurt - 1)/4 SR^2
	//	  = 1 - 0.57735 + (4/3)/4 x 0.25 = 0.505983, sqrt = 0.711325
	//	PSR(0)   = Phi(0.5 x sqrt(3) / 0.711325)       = Phi(1.217482) = 0.888290
	//	PSR(0.1) = Phi((0.5 - 0.1) x sqrt(3) / 0.711325) = Phi(0.973986) = 0.834968
	//
	// Positive skewness shrinks the standard error: with normal moments
	// (skew 0, kurt 3) the denominator would be sqrt(1.125) and PSR(0)
	// only Phi(0.816497) = 0.792892.
	//
	// A year of daily returns with SR 0.1 per day and normal moments:
	// Phi(0.1 x sqrt(252) / sqrt(1 + 0.5 x 0.01)) = Phi(1.583497) = 0.943346.
	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"skewed, SR* = 0", PSR(skewed, 0), 0.8882896087382457},
		{"skewed, SR* = 0.1", PSR(skewed, 0.1), 0.8349682067867529},
		{"formula, skewed", PSRFromMoments(0.5, 0, 2/math.Sqrt(3), 7.0/3, 4), 0.8882896087382457},
		{"formula, normal moments", PSRFromMoments(0.5, 0, 0, 3, 4), 0.7928919108787374},
		{"formula, a year of days", PSRFromMoments(0.1, 0, 0, 3, 253), 0.9433458828040169},
		// The benchmark equal to the estimate is a coin flip.
		{"SR* = SR", PSRFromMoments(0.3, 0.3, -1, 6, 100), 0.5},
	}
	for _, tt := range tests {
		if math.Abs(tt.got-tt.want) > 1e-12 {
			t.Errorf("%s: PSR = %.16g, want %.16g", tt.name, tt.got, tt.want)
		}
	}
	if v := PSRFromMoments(0.5, 0, 0, 3, 1); !math.IsNaN(v) {
		t.Errorf("PSR of one observation = %v, want NaN", v)
	}
}

func TestDrawdownVaRHitRate(t *testing.T) {
	t.Parallel()
	// -0.05, -0.04, ..., 0.14: twenty returns one point apart.
	ladder := make([]float64, 20)
	for i := range ladder {
		ladder[i] = float64(i-5) / 100
	}
	tests := []struct {
		name      string
		got, want float64
	}{
		// Wealth 1.1, 0.55, 0.66, 1.32: the peak 1.1 falls to 0.55.
		{"max drawdown", MaxDrawdown([]float64{0.1, -0.5, 0.2, 1.0}), 0.5},
		// Losing from the start counts against the initial wealth.
		{"drawdown from start", MaxDrawdown([]float64{-0.1, 0.05}), 0.1},
		{"no drawdown", MaxDrawdown([]float64{0.1, 0.2}), 0},
		// 5% quantile, type 7: h = 0.05 x 19 = 0.95, so
		// -0.05 + 0.95 x 0.01 = -0.0405.
		{"VaR 95 (default)", VaR(ladder, 0), 0.0405},
		// Only -0.05 lies at or below -0.0405.
		{"CVaR 95 (default)", CVaR(ladder, 0), 0.05},
		// 10% quantile: h = 1.9, so -0.04 + 0.9 x 0.01 = -0.031; the tail
		// holds -0.05 and -0.04.
		{"VaR 90", VaR(ladder, 0.9), 0.031},
		{"CVaR 90", CVaR(ladder, 0.9), 0.045},
		// Two gains in four observed periods; a flat period is no hit.
		{"hit rate", HitRate([]float64{0.1, 0, -0.1, 0.2, math.NaN()}), 0.5},
	}
	for _, tt := range tests {
		if math.Abs(tt.got-tt.want) > 1e-12 {
			t.Errorf("%s = %.15g, want %.15g", tt.name, tt.got, tt.want)
		}
	}
	for name, v := range map[string]float64{
		"VaR of nothing":    VaR(nil, 0.95),
		"VaR at level 1":    VaR(ladder, 1),
		"CVaR at level 1.5": CVaR(ladder, 1.5),
		"hit rate of none":  HitRate(nil),
	} {
		if !math.IsNaN(v) {
			t.Errorf("%s = %v, want NaN", name, v)
		}
	}
}
