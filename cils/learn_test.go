package cils

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	tests := []struct {
		field string
		edit  func(*Config)
	}{
		{"baseline_runs", func(c *Config) { c.BaselineRuns = 0 }},
		{"baseline_min_runs", func(c *Config) { c.BaselineMinRuns = 6 }},
		{"drop_threshold", func(c *Config) { c.DropThreshold = 0 }},
		{"drop_threshold", func(c *Config) { c.DropThreshold = 10 }},
		{"scale_floor", func(c *Config) { c.ScaleFloor = -1 }},
		{"page_hinkley_delta", func(c *Config) { c.PageHinkleyDelta = math.NaN() }},
		{"page_hinkley_lambda", func(c *Config) { c.PageHinkleyLambda = 0 }},
		{"page_hinkley_min_runs", func(c *Config) { c.PageHinkleyMinRuns = 3 }},
		{"page_hinkley_min_runs", func(c *Config) { c.PageHinkleyMinRuns = 21 }},
		{"strategy_ucb_z", func(c *Config) { c.StrategyUCBZ = math.Inf(1) }},
		{"threshold_min_per_class", func(c *Config) { c.ThresholdMinPerClass = 11 }},
		{"top_k", func(c *Config) { c.TopK = 0 }},
		{"unstable_cv", func(c *Config) { c.UnstableCV = 0 }},
		{"unstable_min_runs", func(c *Config) { c.UnstableMinRuns = 11 }},
		{"estimate_prior_runs", func(c *Config) { c.EstimatePriorRuns = -1 }},
	}
	for _, tt := range tests {
		cfg := DefaultConfig()
		tt.edit(&cfg)
		err := cfg.Validate()
		var fe *flywheel.Error
		if !errors.As(err, &fe) || fe.Field != tt.field || fe.Code != flywheel.EInvalid {
			t.Errorf("%s: got %v, want an invalid error naming %s", tt.field, err, tt.field)
		}
		if _, err := Learn(cfg, Snapshot{Now: t0}); err == nil {
			t.Errorf("%s: Learn accepted the bad config", tt.field)
		}
	}
}

func TestLearnRejectsBadSnapshots(t *testing.T) {
	t.Parallel()
	var h history
	h.series(key("fwd_a", "ridge"), 0.1, 0.1)
	dup := append(slices.Clone(h.runs), h.runs[0])
	tests := []struct {
		name  string
		snap  Snapshot
		field string
	}{
		{"zero now", Snapshot{Runs: h.runs}, "now"},
		{"duplicate run", Snapshot{Runs: dup, Now: t0}, "runs"},
	}
	for _, tt := range tests {
		_, err := Learn(DefaultConfig(), tt.snap)
		var fe *flywheel.Error
		if !errors.As(err, &fe) || fe.Field != tt.field {
			t.Errorf("%s: got %v, want an error naming %s", tt.name, err, tt.field)
		}
	}
}

func TestOnlyScoredRunsFeedScores(t *testing.T) {
	t.Parallel()
	var h history
	k := key("fwd_a", "ridge")
	h.series(k, 0.1, 0.1, 0.1, 0.1, 0.1)
	// None of these is a score: a running run, a failed one, a succeeded
	// run with an infinite score and one without a score at all.
	for _, edit := range []func(*flywheel.Run){
		func(r *flywheel.Run) { r.Status, r.FinishedAt = flywheel.RunRunning, nil },
		func(r *flywheel.Run) { r.Status = flywheel.RunFailed },
		func(r *flywheel.Run) { r.Metrics[flywheel.MetricValidationScore] = math.Inf(-1) },
		func(r *flywheel.Run) { r.Metrics = map[string]float64{"auc": 0.6} },
	} {
		edit(h.add(k, 0.01, nil))
	}
	in := learn(t, h.runs, nil)
	if in.Runs != 9 || in.RunsScored != 5 || len(in.DegradingTargets) != 0 {
		t.Errorf("runs %d, scored %d, degrading %+v; want 9, 5, none", in.Runs, in.RunsScored, in.DegradingTargets)
	}
}

func TestRunOrder(t *testing.T) {
	t.Parallel()
	// Same started_at: run_id breaks the tie, so "b" (0.05) is the latest
	// and the model degrades, whatever the input order.
	var h history
	k := key("fwd_a", "ridge")
	h.series(k, 0.1, 0.1, 0.1, 0.1, 0.1)
	at := h.runs[4].StartedAt.Add(24 * time.Hour)
	for _, r := range []struct {
		id    string
		score float64
	}{{"zz-b", 0.05}, {"zz-a", 0.1}} {
		run := h.add(k, r.score, nil)
		run.RunID, run.StartedAt = r.id, at
	}
	in := learn(t, h.runs, nil)
	if len(in.DegradingTargets) != 1 || in.DegradingTargets[0].RunID != "zz-b" {
		t.Errorf("got %+v, want fwd_a degrading at run zz-b", in.DegradingTargets)
	}
}

func TestDeterministicJSON(t *testing.T) {
	t.Parallel()
	runs := synthetic(21, 120, 30, 12)
	first := learn(t, runs, nil)
	want, err := json.Marshal(first)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	shuffled := slices.Clone(runs)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	got, err := json.Marshal(learn(t, shuffled, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("the same runs in another order gave different insights")
	}
	// The seed's names, each list a list (never null).
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(want, &doc); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"degrading_targets", "new_patterns", "optimal_strategies", "optimal_thresholds",
		"targets_needing_retrain", "estimates"} {
		if raw := doc[name]; len(raw) == 0 || raw[0] != '[' {
			t.Errorf("%s = %s, want a JSON list", name, raw)
		}
	}
	for _, name := range []string{"feature_patterns", "generated_at", "runs", "runs_scored"} {
		if _, ok := doc[name]; !ok {
			t.Errorf("no %s in the insights", name)
		}
	}
	if first.Runs != len(runs) || first.Models != 120 {
		t.Errorf("rests on %d runs of %d models, want %d of 120", first.Runs, first.Models, len(runs))
	}
	if len(first.DegradingTargets) == 0 || len(first.OptimalStrategies) == 0 || len(first.OptimalThresholds) == 0 ||
		len(first.FeaturePatterns.RepeatedLeaks) == 0 || len(first.FeaturePatterns.Unstable) == 0 {
		t.Errorf("a synthetic history should exercise every part: %d degrading, %d strategies, %d thresholds, %d leaks, %d unstable",
			len(first.DegradingTargets), len(first.OptimalStrategies), len(first.OptimalThresholds),
			len(first.FeaturePatterns.RepeatedLeaks), len(first.FeaturePatterns.Unstable))
	}
	checkSorted(t, first)
}

// checkSorted asserts every per-model list is in (target, family) order.
func checkSorted(t *testing.T, in *Insights) {
	t.Helper()
	keys := func(n int, at func(int) flywheel.ModelKey) []flywheel.ModelKey {
		out := make([]flywheel.ModelKey, n)
		for i := range out {
			out[i] = at(i)
		}
		return out
	}
	lists := map[string][]flywheel.ModelKey{
		"degrading_targets":       keys(len(in.DegradingTargets), func(i int) flywheel.ModelKey { return in.DegradingTargets[i].ModelKey }),
		"targets_needing_retrain": keys(len(in.TargetsNeedingRetrain), func(i int) flywheel.ModelKey { return in.TargetsNeedingRetrain[i].ModelKey }),
		"estimates":               keys(len(in.Estimates), func(i int) flywheel.ModelKey { return in.Estimates[i].ModelKey }),
		"top_k_entries":           keys(len(in.FeaturePatterns.TopKEntries), func(i int) flywheel.ModelKey { return in.FeaturePatterns.TopKEntries[i].ModelKey }),
		"repeated_leaks":          keys(len(in.FeaturePatterns.RepeatedLeaks), func(i int) flywheel.ModelKey { return in.FeaturePatterns.RepeatedLeaks[i].ModelKey }),
		"unstable":                keys(len(in.FeaturePatterns.Unstable), func(i int) flywheel.ModelKey { return in.FeaturePatterns.Unstable[i].ModelKey }),
	}
	for name, ks := range lists {
		if !slices.IsSortedFunc(ks, compareKeys) {
			t.Errorf("%s is not sorted by target, family", name)
		}
	}
}
