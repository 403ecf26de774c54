package cils

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/flywheel-ml/flywheel"
)

// leakRuns adds runs of one model of kind, each carrying a few leakage
// events: real leaks score uniformly above cut, false alarms below it,
// and flip of the labels are wrong. unlabelled events (confirmed null)
// score high but are false alarms in truth, so counting them would pull
// the threshold.
func leakRuns(h *history, rng *rand.Rand, kind string, labels int, cut, flip float64, unlabelled int) {
	k := key(kind+"_x", "ridge")
	for i := 0; i < labels+unlabelled; i += 4 {
		r := h.add(k, 0.1, nil)
		for j := i; j < min(i+4, labels+unlabelled); j++ {
			leak := rng.IntN(2) == 0
			score := cut + (1-cut)*rng.Float64()
			if !leak {
				score = (cut - 0.4) + 0.4*rng.Float64()
			}
			e := flywheel.LeakageEvent{Feature: "f1", Score: score, Threshold: 0.5}
			if j < labels {
				e.Confirmed = boolp(leak != (rng.Float64() < flip))
			} else {
				e.Score = 0.95
			}
			r.LeakageEvents = append(r.LeakageEvents, e)
		}
	}
}

func TestThresholdPlantedTruth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		labels     int
		cut, flip  float64
		unlabelled int
		want       bool // a recommendation is made
	}{
		{"clean labels", 200, 0.7, 0, 0, true},
		{"5% wrong labels", 200, 0.7, 0.05, 0, true},
		{"unlabelled events ignored", 200, 0.62, 0.02, 60, true},
		{"too few labels", 19, 0.7, 0, 40, false},
		{"just enough labels", 20, 0.7, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var h history
			leakRuns(&h, rand.New(rand.NewPCG(5, 0)), "barrier", tt.labels, tt.cut, tt.flip, tt.unlabelled)
			in := learn(t, h.runs, nil)
			if got := len(in.OptimalThresholds) == 1; got != tt.want {
				t.Fatalf("recommendation made = %v, want %v: %+v", got, tt.want, in.OptimalThresholds)
			}
			if !tt.want {
				return
			}
			kt := in.OptimalThresholds[0]
			tol := 0.02
			if tt.labels < 50 {
				tol = 0.1 // 20 labels locate the cut only roughly
			}
			if kt.Kind != "barrier" || math.Abs(kt.Threshold-tt.cut) > tol {
				t.Errorf("kind %s threshold %.4f, want %.2f +- %.2f", kt.Kind, kt.Threshold, tt.cut, tol)
			}
			if kt.Support != tt.labels || kt.Leaks+kt.FalseAlarms != tt.labels || kt.Unlabelled != tt.unlabelled {
				t.Errorf("support %d (%d leaks + %d false alarms), unlabelled %d; want %d and %d",
					kt.Support, kt.Leaks, kt.FalseAlarms, kt.Unlabelled, tt.labels, tt.unlabelled)
			}
			if tt.flip == 0 && (kt.Precision != 1 || kt.Recall != 1 || kt.F1 != 1) {
				t.Errorf("clean labels: precision %.3f recall %.3f F1 %.3f, want 1", kt.Precision, kt.Recall, kt.F1)
			}
			if kt.CurrentThreshold != 0.5 || kt.CurrentF1 >= kt.F1 {
				t.Errorf("current threshold %.2f with F1 %.3f; want 0.5 and an F1 below the optimum %.3f", kt.CurrentThreshold, kt.CurrentF1, kt.F1)
			}
		})
	}
}

func TestBestThresholdCounts(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.ThresholdMinLabels, cfg.ThresholdMinPerClass = 4, 1
	// Scores: leak 0.9, leak 0.8, false 0.7, leak 0.6, false 0.2.
	// Cut at 0.8: TP 2, FP 0, FN 1 -> P 1, R 2/3, F1 0.8.
	// Cut at 0.6: TP 3, FP 1, FN 0 -> P 0.75, R 1, F1 6/7 = 0.857: best.
	ev := []labelled{{0.9, true}, {0.8, true}, {0.7, false}, {0.6, true}, {0.2, false}}
	kt, ok := bestThreshold(&cfg, ev)
	if !ok {
		t.Fatal("no recommendation")
	}
	if kt.Threshold != 0.4 || kt.Precision != 0.75 || kt.Recall != 1 || math.Abs(kt.F1-6.0/7) > 1e-12 {
		t.Errorf("got threshold %.3f P %.3f R %.3f F1 %.3f; want 0.4 (midway 0.6..0.2), 0.75, 1, 0.857",
			kt.Threshold, kt.Precision, kt.Recall, kt.F1)
	}
}
