package cils

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/flywheel-ml/flywheel"
)

// twoCycles returns a history and its continuation, in which exactly
// these things change: fwd_b starts degrading, barrier_c recovers, feature
// f15 of fwd_a jumps into the top 10 (and so becomes unstable), kind ret's
// best strategy moves from A to B, and kind vol gets enough leakage labels
// for a threshold.
func twoCycles() (first, second []flywheel.Run) {
	var h history
	rng := rand.New(rand.NewPCG(3, 0))
	jitter := func(x float64) float64 { return x * (1 + 0.01*rng.NormFloat64()) }
	fa, fb, bc := key("fwd_a", "ridge"), key("fwd_b", "ridge"), key("barrier_c", "ridge")
	for range 10 {
		h.add(fa, jitter(0.1), nil).FeatureImportance = importances(20, nil)
		h.add(fb, jitter(0.1), nil)
	}
	h.series(bc, 0.1, 0.1, 0.1, 0.1, 0.1, 0.07) // degrading now
	for _, target := range []string{"ret_1", "ret_2"} {
		for i := range 10 {
			if i%2 == 0 {
				h.add(key(target, "ridge"), jitter(0.105), stratA)
			} else {
				h.add(key(target, "ridge"), jitter(0.100), stratB)
			}
		}
	}
	leakRuns(&h, rng, "vol", 19, 0.7, 0, 0)
	first = slices.Clone(h.runs)

	h.add(fa, jitter(0.1), nil).FeatureImportance = importances(20, map[string]float64{"f15": 100})
	h.add(fb, 0.08, nil)
	h.add(bc, 0.1, nil)
	for _, target := range []string{"ret_1", "ret_2"} {
		for range 20 {
			h.add(key(target, "ridge"), jitter(0.13), stratB)
		}
	}
	leakRuns(&h, rng, "vol", 5, 0.7, 0, 0)
	return first, h.runs
}

func TestNewPatterns(t *testing.T) {
	t.Parallel()
	first, second := twoCycles()
	prev := learn(t, first, nil)
	if len(prev.NewPatterns) != 0 {
		t.Errorf("first insights without a previous report new patterns: %+v", prev.NewPatterns)
	}
	// The previous insights come back from the store as JSON.
	raw, err := json.Marshal(prev)
	if err != nil {
		t.Fatal(err)
	}
	var stored Insights
	if err := json.Unmarshal(raw, &stored); err != nil {
		t.Fatal(err)
	}
	type pat struct{ typ, kind, target, family, feature string }
	tests := []struct {
		name string
		runs []flywheel.Run
		want []pat
	}{
		{"nothing new", first, nil},
		{"second cycle", second, []pat{
			{PatternStrategyChanged, "ret", "", "", ""},
			{PatternThresholdChanged, "vol", "", "", ""},
			{PatternRecovered, "barrier", "barrier_c", "ridge", ""},
			{PatternTopKEntry, "fwd", "fwd_a", "ridge", "f15"},
			{PatternUnstable, "fwd", "fwd_a", "ridge", "f15"},
			{PatternDegrading, "fwd", "fwd_b", "ridge", ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := learn(t, tt.runs, &stored)
			var got []pat
			for _, p := range in.NewPatterns {
				got = append(got, pat{p.Type, p.Kind, p.Target, p.ModelFamily, p.Feature})
				if p.Message == "" {
					t.Errorf("%+v has no message", p)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("new patterns:\n got %v\nwant %v\n(all: %+v)", got, tt.want, in.NewPatterns)
			}
			if in.PreviousGeneratedAt == nil || !in.PreviousGeneratedAt.Equal(prev.GeneratedAt) {
				t.Errorf("previous_generated_at = %v, want %v", in.PreviousGeneratedAt, prev.GeneratedAt)
			}
		})
	}
	// HasNewPattern covers the model's own patterns and its kind's.
	in := learn(t, second, &stored)
	for _, tt := range []struct {
		k    flywheel.ModelKey
		want bool
	}{
		{key("fwd_b", "ridge"), true},
		{key("fwd_b", "lightgbm"), false},
		{key("ret_9", "mlp"), true}, // its kind's strategy changed
		{key("barrier_z", "ridge"), false},
	} {
		if got := in.HasNewPattern(tt.k); got != tt.want {
			t.Errorf("HasNewPattern(%s) = %v, want %v", tt.k, got, tt.want)
		}
	}
}
