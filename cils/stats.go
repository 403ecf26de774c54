package cils

import (
	"math"
	"slices"
)

// median returns the median of xs, using buf as scratch so hot loops do
// not allocate; xs is not modified. It returns NaN for no values.
func median(xs []float64, buf []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	buf = append(buf[:0], xs...)
	slices.Sort(buf)
	n := len(buf)
	if n%2 == 1 {
		return buf[n/2]
	}
	return (buf[n/2-1] + buf[n/2]) / 2
}

// mean returns the arithmetic mean, NaN for no values.
func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// meanSD returns the mean and the sample standard deviation (n-1).
func meanSD(xs []float64) (m, sd float64) {
	m = mean(xs)
	if len(xs) < 2 {
		return m, 0
	}
	var ss float64
	for _, x := range xs {
		ss += (x - m) * (x - m)
	}
	return m, math.Sqrt(ss / float64(len(xs)-1))
}

// finite reports whether x is neither NaN nor infinite.
func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// invert returns the inverse of the square matrix a (row-major, n x n) by
// Gauss-Jordan elimination with partial pivoting, or false when a is
// singular. The matrices here are strategies x strategies, a handful of
// rows, so a dependency for linear algebra is not worth it.
func invert(a []float64, n int) ([]float64, bool) {
	m := slices.Clone(a)
	inv := make([]float64, n*n)
	for i := range n {
		inv[i*n+i] = 1
	}
	var scale float64
	for _, v := range a {
		scale = max(scale, math.Abs(v))
	}
	for col := range n {
		p := col
		for r := col + 1; r < n; r++ {
			if math.Abs(m[r*n+col]) > math.Abs(m[p*n+col]) {
				p = r
			}
		}
		if math.Abs(m[p*n+col]) <= 1e-12*scale {
			return nil, false
		}
		if p != col {
			for c := range n {
				m[p*n+c], m[col*n+c] = m[col*n+c], m[p*n+c]
				inv[p*n+c], inv[col*n+c] = inv[col*n+c], inv[p*n+c]
			}
		}
		d := m[col*n+col]
		for c := range n {
			m[col*n+c] /= d
			inv[col*n+c] /= d
		}
		for r := range n {
			if r == col || m[r*n+col] == 0 {
				continue
			}
			f := m[r*n+col]
			for c := range n {
				m[r*n+c] -= f * m[col*n+c]
				inv[r*n+c] -= f * inv[col*n+c]
			}
		}
	}
	return inv, true
}
