package train

import (
	"slices"
	"strings"
	"testing"
)

// contiguousSpans is n samples on consecutive rows with labels h rows
// ahead, as the pipeline builds them.
func contiguousSpans(n, h int) []Span {
	s := make([]Span, n)
	for i := range s {
		s[i] = Span{Start: i, End: i + h}
	}
	return s
}

// TestWalkForwardPurges checks what purging promises: no training
// sample's label window overlaps any test sample's, every training sample
// precedes the test block, the test blocks tile the samples after the
// first block, and purging removes only what it must (the H samples just
// before the block).
func TestWalkForwardPurges(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		n, folds, h, embargo int
	}{
		{1000, 5, 5, 10},
		{1000, 5, 20, 0},
		{8731, 5, 5, 88},
		{600, 2, 1, 3},
		{1437, 7, 10, 15},
	} {
		spans := contiguousSpans(c.n, c.h)
		folds, err := WalkForward(spans, c.folds, c.embargo)
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		if len(folds) != c.folds {
			t.Fatalf("%+v: %d folds, want %d", c, len(folds), c.folds)
		}
		next := c.n / (c.folds + 1)
		for k, f := range folds {
			if f.TestFrom != next {
				t.Errorf("%+v fold %d: test starts at %d, want %d (blocks must tile)", c, k, f.TestFrom, next)
			}
			next = f.TestTo
			testLo, testHi := spans[f.TestFrom].Start, spans[f.TestTo-1].End
			for _, i := range f.Train {
				if i >= f.TestFrom {
					t.Fatalf("%+v fold %d: training sample %d is not before the test block [%d, %d)", c, k, i, f.TestFrom, f.TestTo)
				}
				if s := spans[i]; s.End >= testLo && s.Start <= testHi {
					t.Fatalf("%+v fold %d: training label %v overlaps the test labels [%d, %d]", c, k, s, testLo, testHi)
				}
			}
			wantLen := f.TestFrom - c.h
			if len(f.Train) != wantLen || f.Train[len(f.Train)-1] != wantLen-1 {
				t.Errorf("%+v fold %d: %d training samples ending at %d, want %d ending at %d",
					c, k, len(f.Train), f.Train[len(f.Train)-1], wantLen, wantLen-1)
			}
		}
		if next != c.n {
			t.Errorf("%+v: the last test block ends at %d, want %d", c, next, c.n)
		}
	}
}

// TestPurgeEmbargo checks both rules on a split that trains on both sides
// of the test block: purged before it, purged and embargoed after it.
func TestPurgeEmbargo(t *testing.T) {
	t.Parallel()
	const h, embargo = 5, 10
	spans := contiguousSpans(300, h)
	cand := make([]int, 300)
	for i := range cand {
		cand[i] = i
	}
	got := Purge(spans, cand, 100, 150, embargo)
	// Test labels cover rows 100..154. Before the block, labels from 95 on
	// reach row 100; after it, samples starting up to 154 overlap the
	// labels and those up to 164 fall in the embargo.
	var want []int
	for i := range 300 {
		if i < 95 || i > 164 {
			want = append(want, i)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("kept %d samples %v..., want %d: 0..94 and 165..299", len(got), got[90:100], len(want))
	}
}

func TestWalkForwardTooFewSamples(t *testing.T) {
	t.Parallel()
	_, err := WalkForward(contiguousSpans(200, 20), 5, 0)
	if err == nil || !strings.Contains(err.Error(), "too few for 5 walk-forward folds") {
		t.Errorf("err = %v, want one saying 200 samples are too few", err)
	}
}

// TestInnerSplit checks the validation block used for early stopping and
// focus_on_validation: the latest samples, with the fit part purged.
func TestInnerSplit(t *testing.T) {
	t.Parallel()
	spans := contiguousSpans(1000, 5)
	train := make([]int, 500)
	for i := range train {
		train[i] = i
	}
	fit, val, ok := innerSplit(spans, train, 0.2)
	if !ok {
		t.Fatal("not ok on 500 samples")
	}
	if len(val) != 100 || val[0] != 400 || val[99] != 499 {
		t.Errorf("validation %d samples from %d, want 100 from 400", len(val), val[0])
	}
	if len(fit) != 395 || fit[len(fit)-1] != 394 {
		t.Errorf("fit %d samples ending at %d, want 395 ending at 394 (purged)", len(fit), fit[len(fit)-1])
	}
	if _, _, ok := innerSplit(spans, train[:60], 0.2); ok {
		t.Error("ok on 60 samples, want too few")
	}
}
