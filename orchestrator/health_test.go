package orchestrator

import (
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
)

func outcomeOf(signal, kind string, sources []string, priority, before, after float64, at time.Time) flywheel.Outcome {
	return flywheel.Outcome{SignalID: signal, Kind: kind, Sources: sources, Priority: priority,
		Before: before, After: after, Improvement: after - before, MeasuredAt: at}
}

// healthInput is a small history with known answers; TestHealth gives the
// arithmetic.
func healthInput() HealthInput {
	cils, arpo := flywheel.SourceCILS, flywheel.SourceARPO
	tr, live := flywheel.OutcomeTraining, flywheel.OutcomeLive
	h := func(n float64) time.Time { return t0.Add(time.Duration(n * float64(time.Hour))) }
	in := HealthInput{From: h(-10), To: t0}
	in.Outcomes = []flywheel.Outcome{
		outcomeOf("s1", tr, []string{cils}, 0.9, 0.10, 0.15, h(-1)),
		// An older measurement of s1: only the latest counts.
		outcomeOf("s1", tr, []string{cils}, 0.9, 0.10, -0.90, h(-2)),
		outcomeOf("s2", tr, []string{cils}, 0.7, 0.20, 0.25, h(-1)),
		outcomeOf("s3", tr, []string{cils, arpo}, 0.7, 0.30, 0.29, h(-1)),
		outcomeOf("s4", tr, []string{arpo}, 0.3, 0.40, 0.40, h(-1)),
		outcomeOf("s5", tr, []string{cils}, 0.1, 0.50, 0.48, h(-1)),
		outcomeOf("s3", live, []string{cils, arpo}, 0.7, 1.0, 1.2, h(-1)),
		outcomeOf("s4", live, []string{arpo}, 0.3, 0.5, 0.4, h(-1)),
		// No sources on the outcome: they come from the signal.
		outcomeOf("s6", live, nil, 0.8, -0.5, 0.0, h(-1)),
	}
	in.Signals = []flywheel.Signal{{ID: "s6", Sources: []string{arpo}}}
	change := func(source string, state flywheel.ConfigChangeState) flywheel.ConfigChange {
		return flywheel.ConfigChange{Source: source, State: state}
	}
	in.ConfigChanges = []flywheel.ConfigChange{
		change(cils, flywheel.ChangeApplied), change(cils, flywheel.ChangeApplied), change(cils, flywheel.ChangeApplied),
		change(cils, flywheel.ChangeRejected), change(cils, flywheel.ChangeCanary),
		change(arpo, flywheel.ChangeRolledBack), change(flywheel.SourceHuman, flywheel.ChangeApplied),
	}
	for _, s := range []flywheel.JobState{
		flywheel.JobSucceeded, flywheel.JobSucceeded, flywheel.JobSucceeded, flywheel.JobFailed, flywheel.JobLost,
		flywheel.JobCancelled, flywheel.JobCancelled, flywheel.JobRunning,
	} {
		in.Jobs = append(in.Jobs, flywheel.Job{State: s})
	}
	in.Timelines = []JobTimeline{
		{JobID: "j1", InsightAt: map[string]time.Time{cils: h(-10)}, ScheduledAt: h(-9), StartedAt: h(-9), FinishedAt: h(-5),
			CILSUpdatedAt: h(-4), ARPOUpdatedAt: h(-1)},
		{JobID: "j2", InsightAt: map[string]time.Time{arpo: h(-8), cils: h(-7)}, ScheduledAt: h(-6), StartedAt: h(-6)},
		{JobID: "j3", ScheduledAt: h(-12), StartedAt: h(-12), FinishedAt: h(-8), CILSUpdatedAt: h(-7.5)},
	}
	in.Ledger = []LedgerEntry{
		{JobID: "j1", Kind: LedgerReserve, Units: 20, At: h(-9)},
		{JobID: "j1", Kind: LedgerSettle, Units: 30, At: h(-5)},
		{JobID: "j0", Kind: LedgerReserve, Units: 50, At: h(-11)},
	}
	return in
}

// TestHealth checks every loop-health number against a hand computation.
func TestHealth(t *testing.T) {
	t.Parallel()
	h := Health(DefaultConfig(), healthInput())
	// Training outcomes, latest per signal: priority -> improvement
	//   s1 0.9 -> +0.05, s2 0.7 -> +0.05, s3 0.7 -> -0.01, s4 0.3 -> 0, s5 0.1 -> -0.02
	// Priority ranks (ties averaged): 5, 3.5, 3.5, 2, 1; improvement
	// ranks: 4.5, 4.5, 2, 3, 1. Both means are 3, deviations
	// dx = 2, .5, .5, -1, -2 and dy = 1.5, 1.5, -1, 0, -2:
	// sum dx dy = 3 + .75 - .5 + 0 + 4 = 7.25, sum dx^2 = sum dy^2 = 9.5,
	// Spearman = 7.25 / 9.5 = 0.763157894736842.
	numbers := []struct {
		name string
		got  *float64
		want float64
	}{
		{"training priority correlation", corr(h, "", flywheel.OutcomeTraining), 7.25 / 9.5},
		// CILS training: s1, s2 improved; s3, s5 did not: 2/4.
		{"cils_signal_accuracy", h.CILSSignalAccuracy, 0.5},
		// ARPO live: s3 (+0.2), s6 (+0.5) improved, s4 (-0.1) did not: 2/3.
		{"arpo_signal_accuracy", h.ARPOSignalAccuracy, 2.0 / 3},
		// ARPO live priorities 0.7, 0.3, 0.8 against +0.2, -0.1, +0.5: same order.
		{"arpo_priority_correlation", h.ARPOPriorityCorrelation, 1},
		// Live: (0.2 - 0.1 + 0.5) / (|1.0| + |0.5| + |-0.5|) = 0.6 / 2 = 0.3.
		{"feedback_loop_effectiveness", h.FeedbackLoopEffectiveness, 0.3},
		// CILS: 3 applied of 4 decided (the canary is pending).
		{"cils_config_adoption_rate", h.CILSConfigAdoptionRate, 0.75},
		// Every learner: 3 applied of 5 decided (the person's change is not learned).
		{"config_adoption_rate", h.ConfigAdoptionRate, 0.6},
		// 3 succeeded of 3 + 1 failed + 1 lost.
		{"scheduling_efficiency", h.SchedulingEfficiency, 0.6},
		// Busy in [-10h, 0): j1 4h, j2 6h (still running), j3 2h (clipped)
		// = 12h of 3 slots * 10h.
		{"resource_utilization", h.ResourceUtilization, 0.4},
		// j1 settled at 30 in the window (j0 was reserved before it): 30 /
		// (100 units a day * 10/24 days) = 0.72.
		{"budget_utilization", h.BudgetUtilization, 0.72},
	}
	for _, n := range numbers {
		if n.got == nil || !near(*n.got, n.want) {
			t.Errorf("%s = %v, want %.15g", n.name, deref(n.got), n.want)
		}
	}
	latencies := []struct {
		name string
		got  LatencyStat
		want LatencyStat
	}{
		// j1: 1h; j2: 1h (CILS insight at -7h, scheduled at -6h).
		{"cils_to_training", h.CILSToTrainingLatency, LatencyStat{Count: 2, MeanSeconds: 3600, MedianSeconds: 3600, MaxSeconds: 3600}},
		{"arpo_to_training", h.ARPOToTrainingLatency, LatencyStat{Count: 1, MeanSeconds: 7200, MedianSeconds: 7200, MaxSeconds: 7200}},
		// j1: 1h, j3: 0.5h.
		{"training_to_cils", h.TrainingToCILSLatency, LatencyStat{Count: 2, MeanSeconds: 2700, MedianSeconds: 2700, MaxSeconds: 3600}},
		{"training_to_arpo", h.TrainingToARPOLatency, LatencyStat{Count: 1, MeanSeconds: 14400, MedianSeconds: 14400, MaxSeconds: 14400}},
	}
	for _, l := range latencies {
		if l.got != l.want {
			t.Errorf("%s latency = %+v, want %+v", l.name, l.got, l.want)
		}
	}
	if want := (JobCounts{Active: 1, Succeeded: 3, Failed: 1, Lost: 1, Cancelled: 2}); h.Jobs != want {
		t.Errorf("jobs = %+v, want %+v", h.Jobs, want)
	}
}

func corr(h LoopHealth, source, kind string) *float64 {
	for _, c := range h.PriorityCorrelation {
		if c.Source == source && c.Kind == kind {
			return c.Spearman
		}
	}
	return nil
}

func deref(p *float64) any {
	if p == nil {
		return "null"
	}
	return *p
}

// TestHealthEmpty checks that nothing measured gives nulls, not zeros.
func TestHealthEmpty(t *testing.T) {
	t.Parallel()
	h := Health(DefaultConfig(), HealthInput{})
	for name, p := range map[string]*float64{
		"cils_signal_accuracy": h.CILSSignalAccuracy, "arpo_priority_correlation": h.ARPOPriorityCorrelation,
		"feedback_loop_effectiveness": h.FeedbackLoopEffectiveness, "scheduling_efficiency": h.SchedulingEfficiency,
		"resource_utilization": h.ResourceUtilization, "config_adoption_rate": h.ConfigAdoptionRate,
	} {
		if p != nil {
			t.Errorf("%s = %v with no data, want null", name, *p)
		}
	}
}

// TestSpearman checks ties, perfect orders and undefined cases by hand.
func TestSpearman(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		x, y []float64
		want float64
		ok   bool
	}{
		{"same order", []float64{1, 2, 3}, []float64{10, 20, 30}, 1, true},
		{"reversed", []float64{1, 2, 3}, []float64{3, 2, 1}, -1, true},
		// Ranks x: 1, 2.5, 2.5, 4; y: 1, 2, 3, 4. Means 2.5; dx = -1.5, 0, 0, 1.5;
		// dy = -1.5, -.5, .5, 1.5: sxy = 2.25 + 2.25 = 4.5; sxx = 4.5; syy = 5.
		// rho = 4.5 / sqrt(4.5 * 5) = 0.9486832980505138.
		{"tie in x", []float64{1, 2, 2, 3}, []float64{1, 2, 3, 4}, 0.9486832980505138, true},
		{"constant side", []float64{1, 1, 1}, []float64{1, 2, 3}, 0, false},
		{"one pair", []float64{1}, []float64{2}, 0, false},
		{"different lengths", []float64{1, 2}, []float64{1}, 0, false},
	}
	for _, tc := range tests {
		got, ok := Spearman(tc.x, tc.y)
		if ok != tc.ok || !near(got, tc.want) {
			t.Errorf("%s: Spearman = %.15g, %v; want %.15g, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// TestOutcomes checks the outcome builders and their refusals.
func TestOutcomes(t *testing.T) {
	t.Parallel()
	k := key("fwd_ret_5d_AAPL", "ridge")
	sig := flywheel.Signal{ID: "sig-1", ModelKey: k, Sources: []string{flywheel.SourceCILS}, Priority: 0.6,
		Factors: map[string]float64{FactorCILS: 0.3}}
	job := flywheel.Job{ID: "job-1", ModelKey: k, SignalID: "sig-1", RunID: "run-9"}
	end := t0.Add(time.Hour)
	run := flywheel.Run{RunID: "run-9", JobID: "job-1", ModelKey: k, Status: flywheel.RunSucceeded, StartedAt: t0,
		FinishedAt: &end, Metrics: map[string]float64{flywheel.MetricValidationScore: 0.12}}
	o, err := TrainingOutcome(sig, job, run, 0.10)
	if err != nil {
		t.Fatal(err)
	}
	if o.Kind != flywheel.OutcomeTraining || o.Before != 0.10 || o.After != 0.12 || !near(o.Improvement, 0.02) ||
		o.SignalID != "sig-1" || o.JobID != "job-1" || o.RunID != "run-9" || !o.MeasuredAt.Equal(end) ||
		o.Priority != 0.6 || o.Factors[FactorCILS] != 0.3 || o.Sources[0] != flywheel.SourceCILS {
		t.Errorf("training outcome = %+v", o)
	}
	live, err := LiveOutcome(sig, job, 1.1, 0.9, end)
	if err != nil {
		t.Fatal(err)
	}
	if live.Kind != flywheel.OutcomeLive || !near(live.Improvement, -0.2) || live.RunID != "run-9" {
		t.Errorf("live outcome = %+v", live)
	}
	failed := run
	failed.Status = flywheel.RunFailed
	other := run
	other.JobID = "job-2"
	for name, r := range map[string]flywheel.Run{"failed": failed, "another job's": other} {
		if _, err := TrainingOutcome(sig, job, r, 0.1); flywheel.Code(err) != flywheel.EInvalid {
			t.Errorf("%s run: err = %v, want invalid", name, err)
		}
	}
}
