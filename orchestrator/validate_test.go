package orchestrator

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// TestPSI checks the index by hand and its refusals.
func TestPSI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		training, live []float64
		want           float64
	}{
		// (0.1-0.25) ln(0.1/0.25) + (0.2-0.25) ln(0.2/0.25) + (0.3-0.25) ln(0.3/0.25) + (0.4-0.25) ln(0.4/0.25)
		{"shift", []float64{25, 25, 25, 25}, []float64{10, 20, 30, 40},
			-0.15*math.Log(0.4) - 0.05*math.Log(0.8) + 0.05*math.Log(1.2) + 0.15*math.Log(1.6)},
		{"same shape, other totals", []float64{1, 2, 3}, []float64{2, 4, 6}, 0},
		// The empty training bin counts as 1e-4:
		// (0.4-0.5) ln(0.4/0.5) + (0.1-1e-4) ln(0.1/1e-4)
		{"empty bin", []float64{0.5, 0.5, 0}, []float64{0.5, 0.4, 0.1},
			-0.1*math.Log(0.8) + (0.1-1e-4)*math.Log(0.1/1e-4)},
	}
	for _, tc := range tests {
		got, err := PSI(tc.training, tc.live, 1e-4)
		if err != nil || !near(got, tc.want) {
			t.Errorf("%s: PSI = %.15g, %v; want %.15g", tc.name, got, err, tc.want)
		}
	}
	for name, bins := range map[string][2][]float64{
		"lengths":  {{1, 2}, {1, 2, 3}},
		"negative": {{1, -1}, {1, 1}},
		"zero sum": {{0, 0}, {1, 1}},
		"NaN":      {{1, 1}, {math.NaN(), 1}},
	} {
		if _, err := PSI(bins[0], bins[1], 1e-4); flywheel.Code(err) != flywheel.EInvalid {
			t.Errorf("%s: err = %v, want invalid", name, err)
		}
	}
}

// TestConfigValidate checks that each bad field is named in snake_case.
func TestConfigValidate(t *testing.T) {
	t.Parallel()
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	tests := []struct {
		field string
		edit  func(*Config)
	}{
		{"weights.arpo", func(c *Config) { c.Weights.ARPO = -1 }},
		{"components.regime_mismatch", func(c *Config) { c.Components.RegimeMismatch = math.NaN() }},
		{"value.roi_scale", func(c *Config) { c.Value.ROIScale = 0 }},
		{"value.default_cost", func(c *Config) { c.Value.DefaultCost = 0 }},
		{"urgency.full_rate", func(c *Config) { c.Urgency.FullRate = 0 }},
		{"urgency", func(c *Config) { c.Urgency.High.Priority = 0.9 }},
		{"min_priority", func(c *Config) { c.MinPriority = 1.5 }},
		{"calibration.ridge", func(c *Config) { c.Calibration.Ridge = 0 }},
		{"calibration.outcome_kind", func(c *Config) { c.Calibration.OutcomeKind = "both" }},
		{"scheduler.max_concurrent", func(c *Config) { c.Scheduler.MaxConcurrent = -1 }},
		{"scheduler.cpu_cores", func(c *Config) { c.Scheduler.CPUCores = -1 }},
		{"scheduler.daily_budget", func(c *Config) { c.Scheduler.DailyBudget = math.Inf(1) }},
		{"scheduler.budget_time_zone", func(c *Config) { c.Scheduler.BudgetTimeZone = "Mars/Olympus" }},
		{"scheduler.aging_cap", func(c *Config) { c.Scheduler.AgingCap = -0.1 }},
		{"scheduler.max_search_nodes", func(c *Config) { c.Scheduler.MaxSearchNodes = 0 }},
		{"signals.drift_psi", func(c *Config) { c.Signals.DriftPSI = 0 }},
	}
	for _, tc := range tests {
		cfg := DefaultConfig()
		tc.edit(&cfg)
		err := cfg.Validate()
		var e *flywheel.Error
		if flywheel.Code(err) != flywheel.EInvalid || !asError(err, &e) || e.Field != tc.field {
			t.Errorf("%s: err = %v, want invalid naming %s", tc.field, err, tc.field)
		}
	}
}

func asError(err error, target **flywheel.Error) bool { return errors.As(err, target) }

// TestSnapshotValidate checks that Decide refuses a bad snapshot with the
// field named.
func TestSnapshotValidate(t *testing.T) {
	t.Parallel()
	k := key("fwd_ret_5d_AAPL", "ridge")
	tests := []struct {
		field string
		edit  func(*Snapshot)
	}{
		{"now", func(s *Snapshot) { s.Now = time.Time{} }},
		{"models[0].target", func(s *Snapshot) { s.Models = []ModelState{{ModelKey: key("../x", "ridge")}} }},
		{"models[1]", func(s *Snapshot) { s.Models = []ModelState{{ModelKey: k}, {ModelKey: k}} }},
		{"models[0].drift[0].live", func(s *Snapshot) {
			s.Models = []ModelState{{ModelKey: k, Drift: []FeatureBins{{Feature: "f", Training: []float64{1, 1}, Live: []float64{1}}}}}
		}},
		{"ledger[0].kind", func(s *Snapshot) { s.Ledger = []LedgerEntry{{Kind: "spend", At: t0}} }},
		{"ledger[0].units", func(s *Snapshot) { s.Ledger = []LedgerEntry{{Kind: LedgerReserve, Units: -1, At: t0}} }},
		{"active_jobs[0].state", func(s *Snapshot) { s.ActiveJobs = []flywheel.Job{{ID: "j", State: "paused"}} }},
	}
	for _, tc := range tests {
		snap := newWorld().snapshot()
		tc.edit(&snap)
		_, err := Decide(DefaultConfig(), snap)
		var e *flywheel.Error
		if !asError(err, &e) || e.Code != flywheel.EInvalid || e.Field != tc.field {
			t.Errorf("%s: err = %v, want invalid naming %s", tc.field, err, tc.field)
		}
	}
}

// TestIDsAreDeterministic checks that ids depend on the model and the
// decision time only, and are valid names.
func TestIDsAreDeterministic(t *testing.T) {
	t.Parallel()
	a, b := key("fwd_ret_5d_AAPL", "ridge"), key("fwd_ret_5d_AAPL", "lightgbm")
	id := SignalID(a, t0)
	if id != SignalID(a, t0) || id == SignalID(b, t0) || id == SignalID(a, t0.Add(time.Nanosecond)) {
		t.Errorf("signal ids do not follow model and time: %s", id)
	}
	if !flywheel.ValidName(id) || !flywheel.ValidName(JobID(id, t0)) {
		t.Errorf("ids %s, %s are not valid names", id, JobID(id, t0))
	}
	if JobID(id, t0) == JobID(SignalID(b, t0), t0) {
		t.Error("two signals give one job id")
	}
}

// TestSpent checks the ledger's day rules beyond the budget scenarios.
func TestSpent(t *testing.T) {
	t.Parallel()
	start, end := t0.Add(-12*time.Hour), t0.Add(12*time.Hour)
	ledger := []LedgerEntry{
		// Settled without a reservation: counts on its own day.
		{JobID: "a", Kind: LedgerSettle, Units: 3, At: t0},
		// Reserved yesterday, settled today: yesterday's.
		{JobID: "b", Kind: LedgerReserve, Units: 5, At: start.Add(-time.Hour)},
		{JobID: "b", Kind: LedgerSettle, Units: 6, At: t0},
		// Settled twice: the latest counts.
		{JobID: "c", Kind: LedgerReserve, Units: 2, At: t0},
		{JobID: "c", Kind: LedgerSettle, Units: 1, At: t0.Add(time.Minute)},
		{JobID: "c", Kind: LedgerSettle, Units: 4, At: t0.Add(2 * time.Minute)},
		// A never-run job settles at 0.
		{JobID: "d", Kind: LedgerReserve, Units: 7, At: t0},
		{JobID: "d", Kind: LedgerSettle, Units: 0, At: t0},
		// No job: a manual charge.
		{Kind: LedgerReserve, Units: 0.5, At: t0},
	}
	// 3 (a) + 4 (c) + 0 (d) + 0.5 = 7.5
	if got := Spent(ledger, start, end); got != 7.5 {
		t.Errorf("spent = %g, want 7.5", got)
	}
}
