package cils

import (
	"fmt"
	"math"
	"testing"

	"github.com/flywheel-ml/flywheel"
)

// importances returns n features f00..f(n-1) with importance n-i, so f00
// ranks first; changes override single features.
func importances(n int, changes map[string]float64) map[string]float64 {
	m := make(map[string]float64, n)
	for i := range n {
		m[fmt.Sprintf("f%02d", i)] = float64(n - i)
	}
	for f, v := range changes {
		m[f] = v
	}
	return m
}

func TestRankJumps(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		prev    map[string]float64
		cur     map[string]float64
		want    string // feature that jumped, "" for none
		wantWas int
	}{
		{"rank 16 to 1", importances(20, nil), importances(20, map[string]float64{"f15": 100}), "f15", 16},
		{"new feature", importances(20, nil), importances(20, map[string]float64{"new": 100}), "new", 0},
		{"rank 12 to 10 is too small a climb", importances(20, nil), importances(20, map[string]float64{"f11": 11.5}), "", 0},
		{"already in the top 10", importances(20, nil), importances(20, map[string]float64{"f09": 100}), "", 0},
		{"negative coefficients rank by magnitude", importances(20, nil), importances(20, map[string]float64{"f17": -100}), "f17", 18},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var h history
			k := key("fwd_a", "ridge")
			h.add(k, 0.1, nil).FeatureImportance = tt.prev
			h.add(k, 0.1, nil).FeatureImportance = tt.cur
			got := learn(t, h.runs, nil).FeaturePatterns.TopKEntries
			if tt.want == "" {
				if len(got) != 0 {
					t.Errorf("got jumps %+v, want none", got)
				}
				return
			}
			if len(got) != 1 || got[0].Feature != tt.want || got[0].PreviousRank != tt.wantWas || got[0].Rank != 1 {
				t.Errorf("got %+v, want %s from rank %d to 1", got, tt.want, tt.wantWas)
			}
		})
	}
}

func TestRepeatedLeaksAndUnstable(t *testing.T) {
	t.Parallel()
	var h history
	k := key("fwd_a", "ridge")
	for i := range 10 {
		r := h.add(k, 0.1, nil)
		// f01's share alternates between about 2% and 60%: unstable. f00
		// stays about 40%. f19 is tiny and ignored whatever it does.
		imp := map[string]float64{"f00": 40, "f01": 2, "f19": 0.01 * float64(i%2)}
		if i%2 == 1 {
			imp["f01"] = 60
		}
		r.FeatureImportance = imp
		// "lag0" is flagged in runs 0, 3, 6 and 9, one of them dismissed;
		// "spread" twice only.
		if i%3 == 0 {
			confirmed := []*bool{boolp(true), nil, boolp(false), nil}[i/3]
			r.LeakageEvents = append(r.LeakageEvents, flywheel.LeakageEvent{Feature: "lag0", Score: 0.8 + 0.01*float64(i), Threshold: 0.5, Confirmed: confirmed})
		}
		if i < 2 {
			r.LeakageEvents = append(r.LeakageEvents, flywheel.LeakageEvent{Feature: "spread", Score: 0.9, Threshold: 0.5})
		}
	}
	fp := learn(t, h.runs, nil).FeaturePatterns
	if len(fp.RepeatedLeaks) != 1 {
		t.Fatalf("repeated leaks %+v, want lag0 only", fp.RepeatedLeaks)
	}
	l := fp.RepeatedLeaks[0]
	if l.Feature != "lag0" || l.Runs != 3 || l.Confirmed != 1 || l.FalseAlarms != 1 || l.MaxScore != 0.8+0.01*9 || l.LastRunID != h.runs[9].RunID {
		t.Errorf("got %+v; want lag0 in 3 runs, 1 confirmed, 1 dismissed, max score 0.89, last in run 9", l)
	}
	if len(fp.Unstable) != 1 || fp.Unstable[0].Feature != "f01" || fp.Unstable[0].Runs != 10 {
		t.Fatalf("unstable %+v, want f01 over 10 runs", fp.Unstable)
	}
	// Shares of f01: 2/42 and 60/100 alternating.
	shares := make([]float64, 10)
	for i := range shares {
		shares[i] = 2.0 / 42
		if i%2 == 1 {
			shares[i] = 60 / (100 + 0.01)
		}
	}
	m, sd := meanSD(shares)
	if u := fp.Unstable[0]; math.Abs(u.CV-sd/m) > 1e-9 || math.Abs(u.MeanShare-m) > 1e-9 {
		t.Errorf("cv %.4f mean share %.4f, want %.4f and %.4f", u.CV, u.MeanShare, sd/m, m)
	}
}
