package arpo

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// TestDeterminism learns twice from the same snapshot, and once more
// smoothing from the first result, and compares the JSON bytes.
func TestDeterminism(t *testing.T) {
	t.Parallel()
	now := base.AddDate(1, 0, 0).Add(22 * time.Hour)
	encode := func(in *Insights) []byte {
		t.Helper()
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		return b
	}
	first := learn(t, DefaultConfig(), randomSnapshot(1, 40, 150, now))
	second := learn(t, DefaultConfig(), randomSnapshot(1, 40, 150, now))
	if a, b := encode(first), encode(second); !bytes.Equal(a, b) {
		t.Fatalf("two passes over the same snapshot differ:\n%s\n%s", a, b)
	}
	snap := randomSnapshot(1, 40, 150, now.Add(24*time.Hour))
	snap.Previous = first
	a, b := encode(learn(t, DefaultConfig(), snap)), encode(learn(t, DefaultConfig(), snap))
	if !bytes.Equal(a, b) {
		t.Fatal("two passes with the same previous insights differ")
	}
	checkSorted(t, first)
}

// checkSorted asserts that every list about models is in key order.
func checkSorted(t *testing.T, in *Insights) {
	t.Helper()
	lists := map[string][]flywheel.ModelKey{}
	for _, p := range in.ModelPerformance {
		lists["model_performance"] = append(lists["model_performance"], p.ModelKey)
	}
	for _, p := range in.PositionAdjustments {
		lists["position_adjustments"] = append(lists["position_adjustments"], p.ModelKey)
	}
	for _, p := range in.UnderperformingPositions {
		lists["underperforming_positions"] = append(lists["underperforming_positions"], p.ModelKey)
	}
	for _, p := range in.TargetsNeedingRetrain {
		lists["targets_needing_retrain"] = append(lists["targets_needing_retrain"], p.ModelKey)
	}
	for _, p := range in.RiskLimits.Violations {
		lists["violations"] = append(lists["violations"], p.ModelKey)
	}
	for _, p := range in.Allocation.Weights {
		lists["allocation"] = append(lists["allocation"], p.ModelKey)
	}
	for name, keys := range lists {
		// Violations may repeat a model (one per metric).
		if !slices.IsSortedFunc(keys, compareKeys) {
			t.Errorf("%s not sorted by target, family", name)
		}
	}
	if len(in.ModelPerformance) != in.Models || len(in.PositionAdjustments) != in.Models {
		t.Errorf("%d performances and %d adjustments for %d models", len(in.ModelPerformance), len(in.PositionAdjustments), in.Models)
	}
}

// TestRoundTrip checks that insights survive JSON, undefined numbers
// included, and can serve as Previous after a trip through the store.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	now := base.AddDate(1, 0, 0).Add(22 * time.Hour)
	snap := randomSnapshot(2, 10, 60, now)
	// A model with one day has no Sharpe ratio: nulls in the JSON.
	one := key("fwd_ret_5d_ONE", "ridge")
	snap.Observations = append(snap.Observations, flywheel.Observation{TS: now.Add(-time.Hour), ModelKey: one, PnL: 0.01})
	in := learn(t, DefaultConfig(), snap)
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"sharpe":null`)) {
		t.Error("an undefined Sharpe ratio is not encoded as null")
	}
	var back Insights
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if p, _ := back.Performance(one); !math.IsNaN(float64(p.Sharpe)) {
		t.Errorf("null Sharpe decoded as %v, want NaN", p.Sharpe)
	}
	next := randomSnapshot(2, 10, 60, now.Add(24*time.Hour))
	next.Previous = &back
	direct := next
	direct.Previous = in
	a, _ := json.Marshal(learn(t, DefaultConfig(), next))
	c, _ := json.Marshal(learn(t, DefaultConfig(), direct))
	if !bytes.Equal(a, c) {
		t.Error("smoothing from decoded insights differs from smoothing from the originals")
	}
}

// TestWindows checks what enters a model's windows: nothing after Now,
// nothing before its current deployment, nothing before the lookback.
func TestWindows(t *testing.T) {
	t.Parallel()
	k := key("fwd_ret_5d_AMZN", "ridge")
	days := weekdays(base.AddDate(0, 6, 0), 120)
	now := days[99].Add(23 * time.Hour)
	obs := series(k, days, alternating(120, 0.001, 0.01), 0.001) // 20 after now
	deps := []flywheel.Deployment{
		{ModelKey: k, ModelVersion: "v1", DeployedAt: days[0]},
		{ModelKey: k, ModelVersion: "v2", DeployedAt: days[80].Add(12 * time.Hour)},
		{ModelKey: k, ModelVersion: "v3", DeployedAt: days[110]}, // after now
	}
	in := learn(t, DefaultConfig(), Snapshot{Observations: obs, Deployments: deps, Now: now})
	p, _ := in.Performance(k)
	// v2 went live at noon on day 80; that day's close is after it, so
	// days 80..99 count.
	if p.Days != 20 || p.ModelVersion != "v2" || !p.WindowStart.Equal(days[80]) {
		t.Errorf("days %d, version %s, window from %s; want 20 days of v2 from %s", p.Days, p.ModelVersion, p.WindowStart, days[80])
	}
	// Without deployments the lookback (91 calendar days) bounds it.
	in = learn(t, DefaultConfig(), Snapshot{Observations: obs, Now: now})
	p, _ = in.Performance(k)
	if want := 65; p.Days != want {
		t.Errorf("no deployment: %d days, want the %d weekdays of 91 calendar days", p.Days, want)
	}
}

// TestInvalidSnapshot checks that bad input is rejected naming the field.
func TestInvalidSnapshot(t *testing.T) {
	t.Parallel()
	now := base.AddDate(0, 1, 0)
	k := key("fwd_ret_5d_T", "ridge")
	nan := math.NaN()
	tests := []struct {
		name  string
		snap  Snapshot
		field string
	}{
		{"no now", Snapshot{}, "now"},
		{"nan pnl", Snapshot{Now: now, Observations: []flywheel.Observation{{TS: base, ModelKey: k, PnL: nan}}}, "observations.pnl"},
		{"inf expected", Snapshot{Now: now, Observations: []flywheel.Observation{{TS: base, ModelKey: k, ExpectedPnL: ptr(math.Inf(-1))}}}, "observations.expected_pnl"},
		{"nan position", Snapshot{Now: now, Observations: []flywheel.Observation{{TS: base, ModelKey: k, Position: &nan}}}, "observations.position"},
		{"no ts", Snapshot{Now: now, Observations: []flywheel.Observation{{ModelKey: k}}}, "observations.ts"},
		{"no deployed_at", Snapshot{Now: now, Deployments: []flywheel.Deployment{{ModelKey: k}}}, "deployments.deployed_at"},
	}
	for _, tt := range tests {
		_, err := Learn(DefaultConfig(), tt.snap)
		var fe *flywheel.Error
		if !asError(err, &fe) || fe.Code != flywheel.EInvalid || fe.Field != tt.field {
			t.Errorf("%s: error %v, want EInvalid on %s", tt.name, err, tt.field)
		}
	}
}

// TestConfigValidate checks that every kind of bad setting is named.
func TestConfigValidate(t *testing.T) {
	t.Parallel()
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	tests := []struct {
		field string
		edit  func(*Config)
	}{
		{"lookback_days", func(c *Config) { c.LookbackDays = 1 }},
		{"regime_lookback_days", func(c *Config) { c.RegimeLookbackDays = 5000 }},
		{"min_observations", func(c *Config) { c.MinObservations = 0 }},
		{"psr_level", func(c *Config) { c.PSRLevel = 0 }},
		{"psr_level", func(c *Config) { c.PSRLevel = math.NaN() }},
		{"target_sharpe", func(c *Config) { c.TargetSharpe = 0 }},
		{"cut_size", func(c *Config) { c.CutSize = 1 }},
		{"min_size", func(c *Config) { c.MinSize = 0.7 }},
		{"max_size", func(c *Config) { c.MaxSize = 2 }},
		{"recover_psr", func(c *Config) { c.RecoverPSR = 0.01 }},
		{"smoothing", func(c *Config) { c.Smoothing = 0 }},
		{"max_step", func(c *Config) { c.MaxStep = 0 }},
		{"regime_states", func(c *Config) { c.RegimeStates = 4 }},
		{"mismatch_confidence", func(c *Config) { c.MismatchConfidence = 0.6 }},
		{"capital", func(c *Config) { c.Capital = 0 }},
		{"limits.var_95", func(c *Config) { c.Limits.VaR95 = -1 }},
		{"allocation_method", func(c *Config) { c.AllocationMethod = "equal" }},
		{"covariance", func(c *Config) { c.Covariance = "oas" }},
		{"allocation_max_models", func(c *Config) { c.AllocationMaxModels = 1 }},
		{"high_priority_min_share", func(c *Config) { c.HighPriorityMinShare = 1.5 }},
	}
	for _, tt := range tests {
		cfg := DefaultConfig()
		tt.edit(&cfg)
		err := cfg.Validate()
		var fe *flywheel.Error
		if !asError(err, &fe) || fe.Code != flywheel.EInvalid || fe.Field != tt.field {
			t.Errorf("%s: error %v, want EInvalid on %s", tt.field, err, tt.field)
		}
	}
}

// TestWriteTable checks what a person sees: every model, the flags and
// the reasons, and the target filter.
func TestWriteTable(t *testing.T) {
	t.Parallel()
	snap, steady, fragile := regimeScenario(t)
	in := learn(t, DefaultConfig(), snap)
	var buf bytes.Buffer
	if err := in.WriteTable(&buf, ""); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"Regime: volatile (source market", "TARGET", steady.ModelFamily, fragile.ModelFamily,
		"Needs retraining:", "regime_mismatch:", "Regime strategies:", "regime_filter volatile"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	buf.Reset()
	if err := in.WriteTable(&buf, "no_such_target"); flywheel.Code(err) != flywheel.ENotFound {
		t.Errorf("unknown target: error %v, want not found", err)
	}
	if v := in.ForTarget(fragile.Target); len(v.ModelPerformance) != 2 || len(v.TargetsNeedingRetrain) != 1 {
		t.Errorf("ForTarget(%s): %d models, %d to retrain; want 2 and 1", fragile.Target, len(v.ModelPerformance), len(v.TargetsNeedingRetrain))
	}
	b, err := json.Marshal(in.ForTarget("no_such_target"))
	if err != nil || !bytes.Contains(b, []byte(`"targets_needing_retrain":[]`)) {
		t.Errorf("an emptied view does not encode its lists as []: %v", err)
	}
}
