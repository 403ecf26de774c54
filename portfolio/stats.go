package portfolio

import (
	"math"
	"sort"
)

// The statistics below take one return (or P&L) series per call and skip
// NaN entries, which mark missing periods in this package's layout. They
// return NaN when the series is too short for the statistic to exist.

func finite(r []float64) []float64 {
	out := make([]float64, 0, len(r))
	for _, v := range r {
		if !math.IsNaN(v) {
			out = append(out, v)
		}
	}
	return out
}

// moments returns the mean, the sample variance (ddof 1) and the central
// moments m2, m3, m4 (divided by n) of x.
func moments(x []float64) (mean, variance, m2, m3, m4 float64) {
	n := float64(len(x))
	for _, v := range x {
		mean += v
	}
	mean /= n
	for _, v := range x {
		d := v - mean
		m2 += d * d
		m3 += d * d * d
		m4 += d * d * d * d
	}
	variance = m2 / (n - 1)
	return mean, variance, m2 / n, m3 / n, m4 / n
}

// Sharpe returns the annualised Sharpe ratio of per-period returns r:
// (mean(r) - rf) / std(r) * sqrt(periodsPerYear), with rf per period and
// the sample standard deviation (ddof 1). The square-root scaling assumes
// independent periods, the usual convention.
func Sharpe(r []float64, rf, periodsPerYear float64) float64 {
	return PeriodSharpe(r, rf) * math.Sqrt(periodsPerYear)
}

// PeriodSharpe returns the Sharpe ratio per period, (mean(r) - rf) / std(r)
// with the sample standard deviation: the SR-hat of the Probabilistic
// Sharpe Ratio. It is NaN with fewer than two observations or no variation.
func PeriodSharpe(r []float64, rf float64) float64 {
	x := finite(r)
	if len(x) < 2 {
		return math.NaN()
	}
	mean, variance, _, _, _ := moments(x)
	if variance == 0 {
		return math.NaN()
	}
	return (mean - rf) / math.Sqrt(variance)
}

// Skewness returns the sample skewness m3 / m2^1.5 from the biased central
// moments, the estimator Bailey and Lopez de Prado use in the PSR.
func Skewness(r []float64) float64 {
	x := finite(r)
	if len(x) < 2 {
		return math.NaN()
	}
	_, _, m2, m3, _ := moments(x)
	return m3 / math.Pow(m2, 1.5)
}

// Kurtosis returns the non-excess kurtosis m4 / m2^2 (3 for a normal
// distribution), the form the PSR formula takes.
func Kurtosis(r []float64) float64 {
	x := finite(r)
	if len(x) < 2 {
		return math.NaN()
	}
	_, _, m2, _, m4 := moments(x)
	return m4 / (m2 * m2)
}

// ExcessKurtosis returns Kurtosis minus 3, which is 0 for a normal
// distribution.
func ExcessKurtosis(r []float64) float64 {
	return Kurtosis(r) - 3
}

// PSR returns the Probabilistic Sharpe Ratio of per-period returns r: the
// probability that the true Sharpe ratio exceeds the benchmark srStar,
// both per period (divide an annual Sharpe by sqrt(periods per year)).
// Bailey and Lopez de Prado, "The Sharpe Ratio Efficient Frontier", Journal
// of Risk 15(2), 2012, eq. (11): the estimated Sharpe ratio's standard
// error grows with negative skewness and fat tails, so a short, skewed
// track record earns less confidence than its Sharpe ratio suggests.
func PSR(r []float64, srStar float64) float64 {
	x := finite(r)
	return PSRFromMoments(PeriodSharpe(x, 0), srStar, Skewness(x), Kurtosis(x), len(x))
}

// PSRFromMoments evaluates the PSR formula
// Phi((sr - srStar) sqrt(n - 1) / sqrt(1 - skew sr + (kurt - 1)/4 sr^2))
// for a per-period Sharpe ratio sr measured on n observations with the
// given skewness and non-excess kurtosis. It is NaN when n < 2 or the
// variance term is not positive (possible only for inconsistent inputs).
func PSRFromMoments(sr, srStar, skew, kurt float64, n int) float64 {
	v := 1 - skew*sr + (kurt-1)/4*sr*sr
	if n < 2 || !(v > 0) {
		return math.NaN()
	}
	z := (sr - srStar) * math.Sqrt(float64(n-1)) / math.Sqrt(v)
	return normalCDF(z)
}

func normalCDF(z float64) float64 {
	return 0.5 * math.Erfc(-z/math.Sqrt2)
}

// MaxDrawdown returns the largest peak-to-trough loss of the wealth curve
// obtained by compounding the simple returns r from 1, as a positive
// fraction (0.25 is a 25% drawdown). The starting wealth counts as a peak,
// so a series that loses from day one has a drawdown.
func MaxDrawdown(r []float64) float64 {
	wealth, peak, worst := 1.0, 1.0, 0.0
	for _, v := range r {
		if math.IsNaN(v) {
			continue
		}
		wealth *= 1 + v
		peak = math.Max(peak, wealth)
		worst = math.Max(worst, 1-wealth/peak)
	}
	return worst
}

// VaR returns the historical Value at Risk of r at the given confidence
// level (0.95 if level is 0) as a positive loss: minus the (1 - level)
// quantile of r, interpolated linearly between order statistics (numpy's
// default, Hyndman and Fan's type 7), so small samples do not jump from one
// observation to the next.
func VaR(r []float64, level float64) float64 {
	x, p := tail(r, level)
	if x == nil {
		return math.NaN()
	}
	return -quantile(x, p)
}

// CVaR returns the historical Conditional Value at Risk (expected
// shortfall) of r at the given level (0.95 if 0) as a positive loss: minus
// the mean of the returns at or below the (1 - level) quantile. Unlike VaR
// it sees how bad the tail is, not just where it starts.
func CVaR(r []float64, level float64) float64 {
	x, p := tail(r, level)
	if x == nil {
		return math.NaN()
	}
	q := quantile(x, p)
	sum, n := 0.0, 0
	for _, v := range x {
		if v > q {
			break
		}
		sum += v
		n++
	}
	return -sum / float64(n)
}

// HitRate returns the fraction of periods with a strictly positive return;
// a flat period is not a hit.
func HitRate(r []float64) float64 {
	x := finite(r)
	if len(x) == 0 {
		return math.NaN()
	}
	hits := 0
	for _, v := range x {
		if v > 0 {
			hits++
		}
	}
	return float64(hits) / float64(len(x))
}

// tail returns the sorted non-missing returns and the tail probability
// 1 - level, or nil when there are no returns or the level is not in (0, 1).
func tail(r []float64, level float64) ([]float64, float64) {
	if level == 0 {
		level = 0.95
	}
	x := finite(r)
	if len(x) == 0 || !(level > 0 && level < 1) {
		return nil, 0
	}
	sort.Float64s(x)
	return x, 1 - level
}

// quantile is the type-7 quantile of sorted x.
func quantile(x []float64, p float64) float64 {
	h := p * float64(len(x)-1)
	lo := int(math.Floor(h))
	if lo >= len(x)-1 {
		return x[len(x)-1]
	}
	return x[lo] + (h-float64(lo))*(x[lo+1]-x[lo])
}
