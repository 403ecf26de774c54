package arpo

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// TestSizingScenario runs the learner once a trading day over a model
// that earns what it expects for 40 days, loses for four weeks, then earns
// what it expects again, each pass smoothing from the previous one. The
// size must stay at 1.0 while the model behaves, drop below 0.8 while it
// underperforms, come back to exactly 1.0 after it recovers, and never
// move more than max_step a day.
func TestSizingScenario(t *testing.T) {
	t.Parallel()
	const (
		good     = 40
		bad      = 20
		recovery = 110
		expected = 0.002
	)
	cfg := DefaultConfig()
	k := key("barrier_up_10d_JPM", "lightgbm")
	n := good + bad + recovery
	days := weekdays(base.AddDate(0, 9, 0), n)
	pnl := alternating(n, expected, 0.01)
	for i := good; i < good+bad; i++ {
		pnl[i] -= 0.008 // loses 0.006 a day
	}
	obs := series(k, days, pnl, expected)

	var prev *Insights
	var sizes []float64
	firstCut, lowest, backAt := -1, 1.0, -1
	for i := range days {
		now := days[i].Add(23 * time.Hour)
		in := learn(t, cfg, Snapshot{Observations: obs[:i+1], Now: now, Previous: prev})
		a, ok := in.Adjustment(k)
		if !ok {
			t.Fatalf("day %d: no position adjustment", i)
		}
		if prev != nil {
			elapsed := now.Sub(prev.GeneratedAt).Hours() / 24
			if step := math.Abs(a.SizeFactor - sizes[len(sizes)-1]); step > cfg.MaxStep*elapsed+1e-12 {
				t.Errorf("day %d: size moved %.4f in %.0f days, more than max_step %g a day", i, step, elapsed, cfg.MaxStep)
			}
		}
		if a.SizeFactor < 0 || a.SizeFactor > 1.5 {
			t.Errorf("day %d: size %v outside [0, 1.5]", i, a.SizeFactor)
		}
		switch {
		case i < good && a.SizeFactor != 1:
			t.Errorf("day %d, before the bad spell: size %.4f (%s), want 1.0", i, a.SizeFactor, a.Reason)
		case i >= good && a.SizeFactor < 0.8 && firstCut < 0:
			firstCut = i
			if !in.IsUnderperforming(k) {
				t.Errorf("day %d: cut to %.3f but not underperforming", i, a.SizeFactor)
			}
			if !slices.ContainsFunc(in.RetrainReasons(k), func(r flywheel.Reason) bool { return r.Kind == ReasonPositionCut }) {
				t.Errorf("day %d: size %.3f but no position_cut reason to retrain", i, a.SizeFactor)
			}
		case firstCut >= 0 && backAt < 0 && a.SizeFactor == 1:
			backAt = i
		}
		lowest = math.Min(lowest, a.SizeFactor)
		sizes = append(sizes, a.SizeFactor)
		prev = in
	}
	t.Logf("cut below 0.8 on day %d (bad spell days %d-%d), lowest %.3f, back to 1.0 on day %d", firstCut, good, good+bad-1, lowest, backAt)
	if firstCut < 0 || firstCut >= good+bad {
		t.Fatalf("size never fell below 0.8 during the bad spell (lowest %.3f)", lowest)
	}
	if backAt < 0 {
		t.Fatalf("size never returned to 1.0 after the recovery (last %.3f)", sizes[len(sizes)-1])
	}
	// Once back, it stays: the recovered model earns what it expects.
	for i := backAt; i < n; i++ {
		if sizes[i] != 1 {
			t.Errorf("day %d, after recovering on day %d: size %.4f, want 1.0", i, backAt, sizes[i])
		}
	}
}

// TestSmooth checks the smoothing rule on single steps.
func TestSmooth(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig() // smoothing 0.5, max step 0.1 a day
	tests := []struct {
		name               string
		prev, target, days float64
		want               float64
	}{
		{"no time passed", 0.7, 1.0, 0, 0.7},
		{"clock went back", 0.7, 1.0, -1, 0.7},
		{"capped at max step", 1.0, 0.6, 1, 0.9},
		{"capped over a weekend", 1.0, 0.6, 3, 0.7},
		{"half the gap when small", 0.9, 1.0, 1, 0.95},
		{"snaps when close", 0.985, 1.0, 1, 1.0},
		{"half a day", 1.0, 0.6, 0.5, 0.95},
		{"upward cap", 0.6, 1.5, 1, 0.7},
	}
	for _, tt := range tests {
		if got := smooth(&cfg, tt.prev, tt.target, tt.days); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("%s: smooth(%v -> %v over %v days) = %v, want %v", tt.name, tt.prev, tt.target, tt.days, got, tt.want)
		}
	}
}

// TestSizeTarget checks the zones of the sizing rule.
func TestSizeTarget(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	ref := 0.2 // per day
	perf := func(days int, sharpeDaily, psr float64) *ModelPerformance {
		return &ModelPerformance{Days: days, Sharpe: Number(sharpeDaily * sqrtYear), PSR: Number(psr)}
	}
	cut := &PositionAdjustment{State: SizeCut}
	tests := []struct {
		name      string
		p         *ModelPerformance
		prev      *PositionAdjustment
		want      float64
		wantState string
	}{
		{"too few days", perf(19, -1, 0.001), nil, 1, SizeInsufficientData},
		{"consistent", perf(60, 0.15, 0.4), nil, 1, SizeNeutral},
		// ratio = (60*(-0.1) + 20*0.2) / (80*0.2) = -0.125: floored at min_size.
		{"losing", perf(60, -0.1, 0.001), nil, 0.2, SizeCut},
		// ratio = (60*0.05 + 20*0.2) / 16 = 0.4375.
		{"weak", perf(60, 0.05, 0.04), nil, 0.4375, SizeCut},
		// ratio = (60*0.1 + 20*0.2) / 16 = 0.625: capped at cut_size.
		{"mild", perf(60, 0.1, 0.045), nil, 0.6, SizeCut},
		{"still cut below recover_psr", perf(60, 0.1, 0.15), cut, 0.6, SizeCut},
		{"recovered", perf(60, 0.18, 0.25), cut, 1, SizeNeutral},
		// ratio = (60*0.45 + 20*0.2) / 16 = 1.9375: capped at max_size.
		{"strong", perf(60, 0.45, 0.99), nil, 1.5, SizeBoost},
		// ratio = (60*0.3 + 20*0.2) / 16 = 1.375.
		{"good", perf(60, 0.3, 0.96), nil, 1.375, SizeBoost},
	}
	for _, tt := range tests {
		got, state, _ := sizeTarget(&cfg, tt.p, ref, tt.prev)
		if math.Abs(got-tt.want) > 1e-12 || state != tt.wantState {
			t.Errorf("%s: target %v (%s), want %v (%s)", tt.name, got, state, tt.want, tt.wantState)
		}
	}
}
