package cils

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// findDegradation returns the degrading entry for target/ridge, if any.
func findDegradation(in *Insights, target string) (Degradation, bool) {
	for _, d := range in.DegradingTargets {
		if d.Target == target && d.ModelFamily == "ridge" {
			return d, true
		}
	}
	return Degradation{}, false
}

func TestDropRuleBoundaries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		baseline []float64 // five previous runs; their median is the baseline
		latest   float64
		wantDrop float64
		fires    bool
	}{
		{"9.9% drop", []float64{0.098, 0.100, 0.102, 0.099, 0.101}, 0.0901, 0.099, false},
		{"10.1% drop", []float64{0.098, 0.100, 0.102, 0.099, 0.101}, 0.0899, 0.101, true},
		{"improvement", []float64{0.098, 0.100, 0.102, 0.099, 0.101}, 0.12, -0.2, false},
		// Higher is better, so for a negative baseline a drop is a move
		// further below zero, measured against |baseline|.
		{"negative baseline 9.9% drop", []float64{-0.2, -0.2, -0.2, -0.2, -0.2}, -0.2198, 0.099, false},
		{"negative baseline 10.1% drop", []float64{-0.2, -0.2, -0.2, -0.2, -0.2}, -0.2202, 0.101, true},
		{"negative baseline improves", []float64{-0.2, -0.2, -0.2, -0.2, -0.2}, -0.17, -0.15, false},
		// Near zero the drop is measured against the floor 0.01: a fall
		// from 0.001 to 0.0002 is 80% of the baseline but only 8% of the
		// floor, so it does not fire; a fall below zero by 0.0011 does.
		{"near-zero baseline, small absolute fall", []float64{0.001, 0.001, 0.001, 0.001, 0.001}, 0.0002, 0.08, false},
		{"near-zero baseline, fall past the floor's 10%", []float64{0.001, 0.001, 0.001, 0.001, 0.001}, -0.0001, 0.11, true},
		{"zero baseline", []float64{0, 0, 0, 0, 0}, -0.00101, 0.101, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var h history
			k := key("fwd_ret_5d_AAPL", "ridge")
			h.series(k, append(slices.Clone(tt.baseline), tt.latest)...)
			in := learn(t, h.runs, nil)
			d, flagged := findDegradation(in, k.Target)
			fired := flagged && slices.Contains(d.Triggers, TriggerDrop)
			if fired != tt.fires {
				t.Errorf("drop rule fired = %v, want %v (insights: %+v)", fired, tt.fires, in.DegradingTargets)
			}
			if flagged && slices.Contains(d.Triggers, TriggerPageHinkley) {
				t.Errorf("Page-Hinkley fired on a single step: %+v", d)
			}
			cfg := DefaultConfig()
			v := detect(&cfg, append(slices.Clone(tt.baseline), tt.latest), nil)
			if math.Abs(v.drop-tt.wantDrop) > 1e-9 {
				t.Errorf("drop = %.6f, want %.6f", v.drop, tt.wantDrop)
			}
		})
	}
}

func TestDropRuleNeedsABaseline(t *testing.T) {
	t.Parallel()
	var h history
	h.series(key("fwd_x", "ridge"), 0.1, 0.1, 0.01) // two previous runs < baseline_min_runs
	if in := learn(t, h.runs, nil); len(in.DegradingTargets) != 0 {
		t.Errorf("flagged with two previous runs: %+v", in.DegradingTargets)
	}
}

// noisy returns n scores at level with Gaussian noise of sd rel*level,
// the level multiplied by shape(i) at run i.
func noisy(seed uint64, n int, level, rel float64, shape func(i int) float64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 7))
	out := make([]float64, n)
	for i := range out {
		out[i] = level*shape(i) + rel*level*rng.NormFloat64()
	}
	return out
}

func TestPageHinkley(t *testing.T) {
	t.Parallel()
	flat := func(int) float64 { return 1 }
	decay := func(i int) float64 { // 20 stable runs, then 1% of the level per run
		return 1 - 0.01*float64(max(0, i-19))
	}
	tests := []struct {
		name      string
		scores    []float64
		wantPH    bool // fires at the last run
		wantRule  bool
		quietTill int // no alarm of either test at any earlier prefix of this length
	}{
		{"stable, no noise", noisy(1, 40, 0.1, 0, flat), false, false, 40},
		{"stable, 2% noise", noisy(2, 40, 0.1, 0.02, flat), false, false, 40},
		{"stable, 2% noise, negative level", noisy(3, 40, -0.1, 0.02, flat), false, false, 40},
		{"slow decay, no noise", noisy(4, 35, 0.1, 0, decay), true, false, 20},
		{"slow decay, 2% noise", noisy(5, 35, 0.1, 0.02, decay), true, false, 20},
	}
	cfg := DefaultConfig()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := detect(&cfg, tt.scores, nil)
			if v.phFired != tt.wantPH || v.ruleFired != tt.wantRule {
				t.Errorf("page-hinkley %v (statistic %.3f), rule %v (drop %.3f); want %v, %v",
					v.phFired, v.phStat, v.ruleFired, v.drop, tt.wantPH, tt.wantRule)
			}
			for n := 1; n < tt.quietTill; n++ {
				if v := detect(&cfg, tt.scores[:n], nil); v.fired() {
					t.Errorf("alarm after %d runs: page-hinkley %.3f, drop %.3f", n, v.phStat, v.drop)
				}
			}
		})
	}
}

func TestDetectionStudy(t *testing.T) {
	t.Parallel()
	rep := DetectionStudy(1, 1000)
	stable := rep.Row(ScenarioStable, DetectorCombined)
	if stable.Series != 1000 || stable.FalseAlarmRate >= 0.01 {
		t.Errorf("combined false alarms on %d stable series: %.1f%%, want under 1%%", stable.Series, 100*stable.FalseAlarmRate)
	}
	if r := rep.Row(ScenarioDrop, DetectorCombined); r.DetectionRate < 0.99 || r.MedianDelay > 1 {
		t.Errorf("abrupt drop: detected %.1f%%, median delay %.1f; want >= 99%% at the first changed run", 100*r.DetectionRate, r.MedianDelay)
	}
	rule, combined := rep.Row(ScenarioDecay, DetectorRule), rep.Row(ScenarioDecay, DetectorCombined)
	if combined.DetectionRate < 0.99 || combined.MedianDelay > 12 {
		t.Errorf("slow decay: combined detected %.1f%%, median delay %.1f runs; want >= 99%% within 12 runs",
			100*combined.DetectionRate, combined.MedianDelay)
	}
	if rule.DetectionRate >= combined.DetectionRate/2 {
		t.Errorf("slow decay: the rule alone detects %.1f%%, close to the combined %.1f%%: the study no longer shows what Page-Hinkley adds",
			100*rule.DetectionRate, 100*combined.DetectionRate)
	}
	if again := DetectionStudy(1, 1000); again.String() != rep.String() {
		t.Error("the same seed gave a different report")
	}
	if !strings.Contains(rep.String(), "false alarms") {
		t.Errorf("report lacks its table:\n%s", rep)
	}
	t.Logf("\n%s", rep)
}

func TestEveryFlagHasReasonAndNumbers(t *testing.T) {
	t.Parallel()
	in := learn(t, synthetic(11, 200, 40, 10), nil)
	if len(in.DegradingTargets) == 0 {
		t.Fatal("no degrading target in a history with planted decays: the test would prove nothing")
	}
	for _, d := range in.DegradingTargets {
		if d.Target == "" || d.ModelFamily == "" || d.Kind == "" || d.RunID == "" {
			t.Errorf("%+v: missing identity", d)
		}
		if len(d.Triggers) == 0 || d.Reason == "" {
			t.Errorf("%s: triggers %v, reason %q", d.ModelKey, d.Triggers, d.Reason)
		}
		for _, trig := range d.Triggers {
			word := map[string]string{TriggerDrop: "below its baseline", TriggerPageHinkley: "Page-Hinkley"}[trig]
			if word == "" || !strings.Contains(d.Reason, word) {
				t.Errorf("%s: trigger %q not explained in %q", d.ModelKey, trig, d.Reason)
			}
		}
		if d.BaselineRuns == 0 || d.Scale <= 0 || d.Runs == 0 {
			t.Errorf("%s: numbers missing: %+v", d.ModelKey, d)
		}
		if want := (d.Baseline - d.Latest) / d.Scale; math.Abs(d.Drop-want) > 1e-12 {
			t.Errorf("%s: drop %.6f, but (baseline-latest)/scale = %.6f", d.ModelKey, d.Drop, want)
		}
		if slices.Contains(d.Triggers, TriggerPageHinkley) && d.PageHinkley <= d.PageHinkleyThreshold {
			t.Errorf("%s: page-hinkley trigger with statistic %.3f <= %.3f", d.ModelKey, d.PageHinkley, d.PageHinkleyThreshold)
		}
	}
	flagged := make(map[string]bool)
	for _, d := range in.DegradingTargets {
		flagged[d.ModelKey.String()] = true
	}
	for _, rt := range in.TargetsNeedingRetrain {
		if len(rt.Reasons) == 0 {
			t.Errorf("%s needs a retrain without a reason", rt.ModelKey)
		}
		for _, r := range rt.Reasons {
			if r.Source != "CILS" || r.Message == "" || len(r.Values) == 0 {
				t.Errorf("%s: reason %+v lacks source, words or numbers", rt.ModelKey, r)
			}
		}
		delete(flagged, rt.ModelKey.String())
	}
	if len(flagged) > 0 {
		t.Errorf("degrading but not in targets_needing_retrain: %v", flagged)
	}
}
