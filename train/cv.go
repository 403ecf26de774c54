package train

import "fmt"

// Span is the stretch of table rows a sample's label depends on: the
// sample taken at row Start has a label known only once the price at row
// End is (End = Start + horizon).
type Span struct{ Start, End int }

// Fold is one split of the samples, which are in time order: the model is
// trained on the samples Train (increasing indices) and tested on the
// samples [TestFrom, TestTo).
type Fold struct {
	Train            []int
	TestFrom, TestTo int
}

// MinTrainSamples is the fewest training samples a fold may have: fewer
// cannot fit a dozen coefficients with any stability.
const MinTrainSamples = 50

// WalkForward splits the samples into folds+1 blocks of equal length in
// time order and makes fold k test on block k (k = 1..folds) after
// training on everything before it: an expanding window, so that every
// model is tested on data later than any it saw, as it will be live.
// Training samples are then purged and embargoed against the test block
// by Purge. The error says when there are too few samples.
func WalkForward(spans []Span, folds, embargo int) ([]Fold, error) {
	n := len(spans)
	if folds < 1 {
		return nil, fmt.Errorf("walk-forward validation needs at least 1 fold, got %d", folds)
	}
	block := n / (folds + 1)
	out := make([]Fold, 0, folds)
	for k := 1; k <= folds; k++ {
		from, to := k*block, (k+1)*block
		if k == folds {
			to = n // the last block takes the remainder
		}
		cand := make([]int, from)
		for i := range cand {
			cand[i] = i
		}
		train := Purge(spans, cand, from, to, embargo)
		if len(train) < MinTrainSamples || to-from < 2 {
			return nil, fmt.Errorf("%d samples are too few for %d walk-forward folds: fold %d would train on %d samples (at least %d needed) and test on %d",
				n, folds, k, len(train), MinTrainSamples, to-from)
		}
		out = append(out, Fold{Train: train, TestFrom: from, TestTo: to})
	}
	return out, nil
}

// Purge returns the candidates that may train a model tested on the
// samples [from, to), following Lopez de Prado ("Advances in Financial
// Machine Learning", 2018, sections 7.4.1-7.4.2):
//
//   - purging: a candidate whose label span overlaps the test block's
//     (from the first test sample's start to the last one's end) is
//     dropped, because its label was partly determined by prices the test
//     labels also depend on, and a model would learn the test answers;
//   - embargo: a candidate that starts within embargo rows after the test
//     block's last label is dropped too, because features built on
//     overlapping windows (20- and 60-day returns) are serially correlated
//     with the test period's.
//
// In walk-forward validation every candidate precedes the test block, so
// only purging bites there (it removes the last H samples before the
// block); the embargo matters for splits that also train on later data.
func Purge(spans []Span, candidates []int, from, to, embargo int) []int {
	lo, hi := spans[from].Start, spans[from].End
	for _, s := range spans[from:to] {
		lo, hi = min(lo, s.Start), max(hi, s.End)
	}
	hi += embargo
	out := make([]int, 0, len(candidates))
	for _, i := range candidates {
		if i >= from && i < to {
			continue
		}
		if s := spans[i]; s.Start <= hi && s.End >= lo {
			continue
		}
		out = append(out, i)
	}
	return out
}

// innerSplit divides a fold's training samples (increasing) into an
// earlier part to fit on and the last valShare of them to validate on,
// purged like the outer folds, for early stopping and for choosing the
// regularisation. It returns false when either part would be too small.
func innerSplit(spans []Span, train []int, valShare float64) (fit, val []int, ok bool) {
	nVal := int(float64(len(train)) * valShare)
	if nVal < 2 || len(train)-nVal < MinTrainSamples {
		return nil, nil, false
	}
	val = train[len(train)-nVal:]
	// The span from the first to the last validation sample covers any
	// gap in between, so purging against it is, if anything, stricter.
	fit = Purge(spans, train[:len(train)-nVal], val[0], val[len(val)-1]+1, 0)
	if len(fit) < MinTrainSamples {
		return nil, nil, false
	}
	return fit, val, true
}
