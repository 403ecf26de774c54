package portfolio

import (
	"math"

	"gonum.org/v1/gonum/mat"
)

// LedoitWolf returns the Ledoit-Wolf shrinkage estimate of the covariance
// of the returns, times periodsPerYear, and the shrinkage intensity in
// [0, 1]. The sample covariance of many assets over few periods is noisy
// and often singular, which makes optimisers put extreme weights on its
// errors; shrinking it towards a scaled identity with the intensity that
// minimises the expected Frobenius loss gives a matrix that is always
// well-conditioned (O. Ledoit and M. Wolf, "A well-conditioned estimator
// for large-dimensional covariance matrices", Journal of Multivariate
// Analysis 88, 2004, Lemmas 3.2-3.4 and Theorem 3.1).
//
// The computation matches scikit-learn's ledoit_wolf, which
// PyPortfolioOpt's ledoit_wolf (target "constant_variance") calls:
// demeaned returns X (n x p), S = X'X/n, m = tr(S)/p,
// d^2 = ||S - mI||^2, b^2 = min(d^2, sum_k ||x_k x_k' - S||^2 / n^2), with
// ||A||^2 = tr(AA')/p, and the estimate (1 - b^2/d^2) S + (b^2/d^2) m I.
//
// The estimator assumes complete observations, so only the rows where every
// asset has a return are used. PyPortfolioOpt instead replaces missing
// returns by 0, which would treat an asset's pre-listing years as years of
// flat prices and bias its variance down.
func LedoitWolf(returns [][]float64, periodsPerYear float64) (*mat.SymDense, float64, error) {
	x, err := completeRows(returns)
	if err != nil {
		return nil, 0, err
	}
	p := len(returns)
	n := float64(x.RawMatrix().Rows)
	var s mat.SymDense
	s.SymOuterK(1/n, x.T())
	m := mat.Trace(&s) / float64(p)
	var d2, sNorm2 float64
	for i := 0; i < p; i++ {
		for j := 0; j < p; j++ {
			v := s.At(i, j)
			sNorm2 += v * v
			if i == j {
				v -= m
			}
			d2 += v * v
		}
	}
	// sum_k ||x_k x_k' - S||^2 = sum_k ||x_k||^4 - n ||S||^2 because the
	// x_k x_k' average to S; this avoids forming n p x p matrices.
	var quartic float64
	rows := x.RawMatrix()
	for k := 0; k < rows.Rows; k++ {
		sq := 0.0
		for _, v := range rows.Data[k*rows.Stride : k*rows.Stride+p] {
			sq += v * v
		}
		quartic += sq * sq
	}
	b2 := (quartic - n*sNorm2) / (n * n) / float64(p)
	d2 /= float64(p)
	b2 = math.Min(b2, d2)
	shrinkage := 0.0
	if d2 > 0 {
		shrinkage = b2 / d2
	}
	out := mat.NewSymDense(p, nil)
	for i := 0; i < p; i++ {
		for j := i; j < p; j++ {
			v := (1 - shrinkage) * s.At(i, j)
			if i == j {
				v += shrinkage * m
			}
			out.SetSym(i, j, v*periodsPerYear)
		}
	}
	return out, shrinkage, nil
}

// completeRows returns the demeaned rows where every asset has a return.
func completeRows(returns [][]float64) (*mat.Dense, error) {
	p := len(returns)
	if p == 0 {
		return nil, invalidf("no assets")
	}
	for a := range returns {
		if len(returns[a]) != len(returns[0]) {
			return nil, invalidf("asset %d has %d returns, asset 0 has %d", a, len(returns[a]), len(returns[0]))
		}
	}
	var keep []int
	for k := range returns[0] {
		ok := true
		for a := range returns {
			ok = ok && !math.IsNaN(returns[a][k])
		}
		if ok {
			keep = append(keep, k)
		}
	}
	if len(keep) < 2 {
		return nil, invalidf("%d rows with a return for every asset, want at least 2", len(keep))
	}
	x := mat.NewDense(len(keep), p, nil)
	for a := range returns {
		mean := 0.0
		for _, k := range keep {
			mean += returns[a][k]
		}
		mean /= float64(len(keep))
		for r, k := range keep {
			x.Set(r, a, returns[a][k]-mean)
		}
	}
	return x, nil
}
