package train

import (
	"cmp"
	"math"
	"slices"
)

// Pearson returns the correlation of a and b, 0 when either is constant.
func Pearson(a, b []float64) float64 {
	ma, _ := meanStd(a)
	mb, _ := meanStd(b)
	var sab, saa, sbb float64
	for i := range a {
		da, db := a[i]-ma, b[i]-mb
		sab += da * db
		saa += da * da
		sbb += db * db
	}
	if saa == 0 || sbb == 0 || math.IsNaN(sab) {
		return 0
	}
	return sab / math.Sqrt(saa*sbb)
}

// Spearman returns the rank correlation of a and b (ties get their mean
// rank), 0 when either is constant. The pipeline's regression score, the
// information coefficient, is this rank correlation rather than Pearson's
// because daily returns have fat tails: a handful of crash days would
// otherwise decide a fold's score.
func Spearman(a, b []float64) float64 {
	return Pearson(ranks(a), ranks(b))
}

// AUC returns the area under the ROC curve of scores against 0/1 labels:
// the probability that a random positive scores above a random negative,
// ties counting half (the Mann-Whitney statistic). It is 0.5 when only
// one class is present, which says "no evidence either way".
func AUC(scores, labels []float64) float64 {
	r := ranks(scores)
	var pos, sum float64
	for i, y := range labels {
		if y > 0.5 {
			pos++
			sum += r[i]
		}
	}
	neg := float64(len(labels)) - pos
	if pos == 0 || neg == 0 {
		return 0.5
	}
	return (sum - pos*(pos+1)/2) / (pos * neg)
}

// ranks returns the 1-based ranks of x, ties sharing their mean rank.
func ranks(x []float64) []float64 {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	// Ties are averaged below, so their order does not matter; breaking
	// them by index keeps the sort deterministic without a stable sort.
	slices.SortFunc(idx, func(i, j int) int { return cmp.Or(cmp.Compare(x[i], x[j]), i-j) })
	out := make([]float64, len(x))
	for lo := 0; lo < len(idx); {
		hi := lo + 1
		for hi < len(idx) && x[idx[hi]] == x[idx[lo]] {
			hi++
		}
		mean := float64(lo+hi+1) / 2 // mean of the ranks lo+1 .. hi
		for _, i := range idx[lo:hi] {
			out[i] = mean
		}
		lo = hi
	}
	return out
}
