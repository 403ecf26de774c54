// Package portfolio holds ARPO's allocation and risk numerics: expected
// returns and covariance estimators, Ledoit-Wolf shrinkage, long-only
// minimum-volatility, maximum-Sharpe and risk-parity allocations,
// Hierarchical Risk Parity, portfolio performance, and the return-series
// statistics the learner reports (Sharpe, Probabilistic Sharpe Ratio,
// drawdown, VaR, CVaR, hit rate).
//
// The estimators follow PyPortfolioOpt's conventions exactly (see
// ../shared/data/README.md), because ARPO must reproduce that library's
// published reference results. Returns come in as [asset][row] slices with
// NaN for a missing return, the layout of prices.Returns.Values.
//
// Everything here is pure and deterministic: no I/O, no random state.
package portfolio

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// TradingDays is the number of trading days in a year, the annualisation
// frequency PyPortfolioOpt uses for daily data.
const TradingDays = 252

// ErrInvalid is wrapped by every error caused by bad input (mismatched
// lengths, too few observations, a non-finite or non-positive-definite
// matrix), so callers can map it to their invalid-input code.
var ErrInvalid = errors.New("invalid input")

func invalidf(format string, args ...any) error {
	return fmt.Errorf("portfolio: %w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// MeanHistoricalReturn returns each asset's arithmetic mean return over its
// non-missing periods times periodsPerYear (PyPortfolioOpt's
// mean_historical_return with compounding=False, also what HRPOpt's
// portfolio_performance uses). An asset with no returns gets NaN.
func MeanHistoricalReturn(returns [][]float64, periodsPerYear float64) []float64 {
	mu := make([]float64, len(returns))
	for a, col := range returns {
		sum, n := 0.0, 0
		for _, r := range col {
			if !math.IsNaN(r) {
				sum += r
				n++
			}
		}
		mu[a] = sum / float64(n) * periodsPerYear
	}
	return mu
}

// CompoundedReturn returns each asset's geometric annual return,
// prod(1 + r)^(periodsPerYear / n) - 1 over its n non-missing returns
// (PyPortfolioOpt's default mean_historical_return). Compounding is the
// return an investor holding the asset would actually have earned; the
// arithmetic mean overstates it by about half the variance.
func CompoundedReturn(returns [][]float64, periodsPerYear float64) []float64 {
	mu := make([]float64, len(returns))
	for a, col := range returns {
		// Summing log1p instead of multiplying keeps 7,000 daily factors
		// from drifting; the result agrees with the product to ~1e-13.
		sum, n := 0.0, 0
		for _, r := range col {
			if !math.IsNaN(r) {
				sum += math.Log1p(r)
				n++
			}
		}
		mu[a] = math.Expm1(sum * periodsPerYear / float64(n))
	}
	return mu
}

// SampleCov returns the sample covariance (ddof 1) of the returns times
// periodsPerYear, each entry computed over the rows where both assets have
// a return, as pandas' DataFrame.cov does. Pairwise estimation uses every
// observation a late-listed asset has instead of truncating all assets to
// the shortest history; the price is that the matrix is not guaranteed to
// be positive semi-definite. Pairs with fewer than two common rows are NaN;
// the result is nil when there are no assets.
func SampleCov(returns [][]float64, periodsPerYear float64) *mat.SymDense {
	return pairwise(returns, func(sxy, sxx, syy float64, n int) float64 {
		return sxy / float64(n-1) * periodsPerYear
	})
}

// SampleCorr returns the pairwise Pearson correlation of the returns, each
// entry over the rows where both assets have a return (pandas'
// DataFrame.corr). Note that, unlike cov_ij / sqrt(cov_ii cov_jj), each
// pair uses the means and deviations of its own common rows; HRP needs
// exactly this to match the reference. The result is nil when there are
// no assets.
func SampleCorr(returns [][]float64) *mat.SymDense {
	return pairwise(returns, func(sxy, sxx, syy float64, n int) float64 {
		return sxy / math.Sqrt(sxx*syy)
	})
}

// pairwise evaluates f on the centred sums of squares and cross-products of
// every pair of columns over their common rows. Two passes (means first)
// avoid the cancellation of the one-pass formula on returns of ~1e-2.
func pairwise(returns [][]float64, f func(sxy, sxx, syy float64, n int) float64) *mat.SymDense {
	p := len(returns)
	if p == 0 {
		return nil
	}
	out := mat.NewSymDense(p, nil)
	for i := 0; i < p; i++ {
		for j := i; j < p; j++ {
			x, y := returns[i], returns[j]
			mx, my, n := 0.0, 0.0, 0
			for k := range x {
				if !math.IsNaN(x[k]) && !math.IsNaN(y[k]) {
					mx += x[k]
					my += y[k]
					n++
				}
			}
			if n < 2 {
				out.SetSym(i, j, math.NaN())
				continue
			}
			mx /= float64(n)
			my /= float64(n)
			var sxy, sxx, syy float64
			for k := range x {
				if !math.IsNaN(x[k]) && !math.IsNaN(y[k]) {
					dx, dy := x[k]-mx, y[k]-my
					sxy += dx * dy
					sxx += dx * dx
					syy += dy * dy
				}
			}
			out.SetSym(i, j, f(sxy, sxx, syy, n))
		}
	}
	return out
}

// Performance returns the expected return w·mu, the volatility sqrt(w'Sw)
// and the Sharpe ratio (w·mu - rf)/volatility of weights w under expected
// returns mu and covariance S, all in the same (annual) units, as
// PyPortfolioOpt's portfolio_performance.
func Performance(w, mu []float64, S mat.Symmetric, rf float64) (ret, vol, sharpe float64, err error) {
	n := S.SymmetricDim()
	if len(w) != n || len(mu) != n {
		return 0, 0, 0, invalidf("%d weights and %d expected returns for a %dx%d covariance", len(w), len(mu), n, n)
	}
	for i := range w {
		ret += w[i] * mu[i]
	}
	wv := mat.NewVecDense(n, append([]float64(nil), w...))
	vol = math.Sqrt(mat.Inner(wv, S, wv))
	return ret, vol, (ret - rf) / vol, nil
}

// checkCov rejects covariance matrices the optimisers cannot use: empty,
// with a non-finite entry, or with a non-positive variance.
func checkCov(S mat.Symmetric) error {
	n := S.SymmetricDim()
	if n == 0 {
		return invalidf("empty covariance matrix")
	}
	for i := 0; i < n; i++ {
		if v := S.At(i, i); !(v > 0) || math.IsInf(v, 0) {
			return invalidf("variance of asset %d is %v, want finite and positive", i, v)
		}
		for j := 0; j < i; j++ {
			if v := S.At(i, j); math.IsNaN(v) || math.IsInf(v, 0) {
				return invalidf("covariance of assets %d and %d is %v", j, i, v)
			}
		}
	}
	return nil
}

// Correlation converts a covariance matrix to a correlation matrix,
// cov_ij / sqrt(cov_ii cov_jj). HRP on a shrunk covariance (LedoitWolf)
// needs the correlation consistent with it; for raw returns with missing
// data use SampleCorr instead, which is what the reference results assume.
func Correlation(cov mat.Symmetric) *mat.SymDense {
	n := cov.SymmetricDim()
	out := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			out.SetSym(i, j, cov.At(i, j)/math.Sqrt(cov.At(i, i)*cov.At(j, j)))
		}
	}
	return out
}

// RiskContributions returns each asset's share of the portfolio variance,
// w_i (Sw)_i / w'Sw; the shares sum to 1. It names the positions that
// carry the risk, which is how ARPO ranks targets by their share of it.
func RiskContributions(w []float64, S mat.Symmetric) ([]float64, error) {
	n := S.SymmetricDim()
	if len(w) != n {
		return nil, invalidf("%d weights for a %dx%d covariance", len(w), n, n)
	}
	g := mulVec(S, w)
	total := 0.0
	for i := range w {
		total += w[i] * g[i]
	}
	if !(total > 0) {
		return nil, invalidf("portfolio variance is %v, want positive", total)
	}
	out := make([]float64, n)
	for i := range w {
		out[i] = w[i] * g[i] / total
	}
	return out, nil
}
