package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/arpo"
	"github.com/flywheel-ml/flywheel/cils"
	"github.com/flywheel-ml/flywheel/orchestrator"
	"github.com/flywheel-ml/flywheel/sqlite"
)

// setupLive returns an engine that admits every candidate, as the
// decision-latency benchmark's daemon does, and the time it reads.
func setupLive(t *testing.T) (*sqlite.DB, *Engine, time.Time) {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(logWriter{t}, nil))
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "f.db"), sqlite.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	orch := orchestrator.DefaultConfig()
	orch.MinPriority = 0.1
	orch.Scheduler.MaxConcurrent, orch.Scheduler.CPUCores = 1_000_000, 1_000_000
	orch.Scheduler.GPUMemoryGB, orch.Scheduler.DailyBudget = 1e9, 1e9
	orch.Scheduler.CooldownHours = 0
	now := t0.AddDate(0, 1, 0)
	e, err := New(Config{Store: db, Logger: logger, CILS: cils.DefaultConfig(), ARPO: arpo.DefaultConfig(), Orchestrator: orch,
		Clock: flywheel.ClockFunc(func() time.Time { return now })})
	if err != nil {
		t.Fatal(err)
	}
	return db, e, now
}

// losing stores a model deployed 30 days before now and its losing live
// P&L on the days from first to last days before now.
func losing(t *testing.T, db *sqlite.DB, e *Engine, k flywheel.ModelKey, now time.Time, first, last int) {
	t.Helper()
	today := now.Truncate(24 * time.Hour)
	if _, err := db.PutDeployments(t.Context(), []flywheel.Deployment{{ModelKey: k, ModelVersion: "v1", DeployedAt: today.AddDate(0, 0, -30)}}); err != nil {
		t.Fatal(err)
	}
	var obs []flywheel.Observation
	for day := first; day >= last; day-- {
		exp := 0.003
		obs = append(obs, flywheel.Observation{TS: today.AddDate(0, 0, -day).Add(2 * time.Hour), ModelKey: k, ModelVersion: "v1",
			PnL: -0.004 + 0.002*float64(day%3-1), ExpectedPnL: &exp})
	}
	res, err := db.PutObservations(t.Context(), obs)
	if err != nil {
		t.Fatal(err)
	}
	e.Notify("live", res)
}

// TestDecisionCitesTheARPOVersionStoredAfterIt checks that a pass that
// decides before storing its ARPO insights admits the job, then stores
// the insights under the version its signal cites, with the body the
// decision read.
func TestDecisionCitesTheARPOVersionStoredAfterIt(t *testing.T) {
	db, e, now := setupLive(t)
	ctx := t.Context()
	for i, target := range []string{"fwd_ret_1d_A", "fwd_ret_1d_B"} {
		k := flywheel.ModelKey{Target: target, ModelFamily: "ridge"}
		losing(t, db, e, k, now, 20, 1)
		e.pass(ctx)
		jobs, err := db.Jobs(ctx, flywheel.JobFilter{Model: &k})
		if err != nil || len(jobs) != 1 {
			t.Fatalf("%s: jobs %v, err %v; want one", k, jobs, err)
		}
		sigs, err := db.Signals(ctx, flywheel.SignalFilter{Model: &k})
		if err != nil {
			t.Fatal(err)
		}
		j := slices.IndexFunc(sigs, func(s flywheel.Signal) bool { return s.ID == jobs[0].SignalID })
		if j < 0 {
			t.Fatalf("%s: the job's signal %s is not stored", k, jobs[0].SignalID)
		}
		cited := sigs[j].InsightVersions[flywheel.InsightARPO]
		stored, err := db.Insight(ctx, flywheel.InsightARPO, 0)
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(i + 1); stored.Version != want || cited != want {
			t.Errorf("pass %d: stored arpo version %d, signal cites %d; want both %d", i+1, stored.Version, cited, want)
		}
		c, v, err := e.latestARPO(ctx)
		if err != nil || v != stored.Version {
			t.Fatalf("cached version %d (err %v), stored %d", v, err, stored.Version)
		}
		if body, _ := json.Marshal(c); string(body) != string(stored.Body) {
			t.Errorf("pass %d: the stored body is not the insights decided on", i+1)
		}
	}
}

// TestRecentSignalsMatchTheStore checks the engine's copy of the recent
// signals against a reading of the store after decisions that stored
// some.
func TestRecentSignalsMatchTheStore(t *testing.T) {
	db, e, now := setupLive(t)
	ctx := t.Context()
	for _, target := range []string{"fwd_ret_1d_A", "fwd_ret_1d_B", "fwd_ret_1d_C"} {
		losing(t, db, e, flywheel.ModelKey{Target: target, ModelFamily: "ridge"}, now, 20, 1)
		e.pass(ctx)
	}
	want, err := db.Signals(ctx, flywheel.SignalFilter{Since: now.Add(-orchestrator.SignalMemory), Limit: page})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) < 3 {
		t.Fatalf("%d signals stored; want one a model at least", len(want))
	}
	e.decideMu.Lock()
	got, err := e.recentSignals(ctx, now)
	e.decideMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	ids := func(sigs []flywheel.Signal) []string {
		var out []string
		for _, s := range sigs {
			out = append(out, s.ID+"@"+s.CreatedAt.Format(time.RFC3339Nano))
		}
		return out
	}
	if !slices.Equal(ids(got), ids(want)) {
		t.Errorf("engine's signals\n%v\nstore's\n%v", ids(got), ids(want))
	}
}

// TestRunKeepsTheCitedVersions runs the engine through passes that admit
// jobs, then stops it, and checks that every ARPO version a signal cites
// is stored and asks to retrain the signal's model: the insights stored
// after the decision are those it read, also when the engine stops.
func TestRunKeepsTheCitedVersions(t *testing.T) {
	db, e, now := setupLive(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	targets := []string{"fwd_ret_1d_A", "fwd_ret_1d_B", "fwd_ret_1d_C"}
	for _, target := range targets {
		k := flywheel.ModelKey{Target: target, ModelFamily: "ridge"}
		losing(t, db, e, k, now, 20, 1)
		deadline := time.Now().Add(10 * time.Second)
		for {
			jobs, err := db.Jobs(t.Context(), flywheel.JobFilter{Model: &k})
			if err != nil {
				t.Fatal(err)
			}
			if len(jobs) > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no job for %s within 10s", k)
			}
			time.Sleep(time.Millisecond)
		}
	}
	cancel()
	<-done
	sigs, err := db.Signals(t.Context(), flywheel.SignalFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sigs) < len(targets) {
		t.Fatalf("%d signals stored, want %d at least", len(sigs), len(targets))
	}
	for _, s := range sigs {
		v := s.InsightVersions[flywheel.InsightARPO]
		stored, err := db.Insight(t.Context(), flywheel.InsightARPO, v)
		if err != nil {
			t.Fatalf("signal %s cites arpo version %d: %v", s.ID, v, err)
		}
		var in arpo.Insights
		if err := json.Unmarshal(stored.Body, &in); err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(in.TargetsNeedingRetrain, func(r arpo.RetrainTarget) bool { return r.ModelKey == s.ModelKey }) {
			t.Errorf("signal %s for %s cites arpo version %d, which does not ask to retrain it", s.ID, s.ModelKey, v)
		}
	}
}

// TestARPOPassesMatchAFullPass stores observations between ARPO passes,
// of new models and of models already judged, and checks that each
// stored version is what a full arpo.Learn over the store's observations
// and deployments gives, smoothed from the previous stored version: the
// engine tells its arpo.Learner every model whose observations changed.
func TestARPOPassesMatchAFullPass(t *testing.T) {
	db, e, now := setupLive(t)
	ctx := t.Context()
	model := func(i int) flywheel.ModelKey {
		return flywheel.ModelKey{Target: "fwd_ret_1d_M" + string(rune('A'+i)), ModelFamily: "ridge"}
	}
	var prev *arpo.Insights
	for round := range 5 {
		// A new model with most of its history, and one more day of an
		// older one.
		losing(t, db, e, model(round), now, 25, 3)
		if round > 0 {
			losing(t, db, e, model(round-1), now, 2, 2)
		}
		stored, err := e.LearnARPO(ctx)
		if err != nil {
			t.Fatal(err)
		}
		obs, err := db.ObservationsAfter(ctx, 0, page)
		if err != nil {
			t.Fatal(err)
		}
		deps, err := db.Deployments(ctx, flywheel.DeploymentFilter{Limit: page})
		if err != nil {
			t.Fatal(err)
		}
		full, err := arpo.Learn(arpo.DefaultConfig(), arpo.Snapshot{Observations: obs, Deployments: deps, Now: now, Previous: prev})
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(full)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(stored.Body, want) {
			t.Fatalf("round %d: the stored insights are not a full pass's:\nstored: %s\nfull:   %s", round, stored.Body, want)
		}
		prev = new(arpo.Insights)
		if err := json.Unmarshal(stored.Body, prev); err != nil {
			t.Fatal(err)
		}
	}
}

// TestUncitedPassesAreNotStored checks that a pass whose insights no
// signal cites is kept in memory only, within ARPOStoreEvery of the last
// stored version, and that the next pass takes its version number and is
// stored once a signal cites it.
func TestUncitedPassesAreNotStored(t *testing.T) {
	db, e, now := setupLive(t)
	e.arpoStoreEvery = time.Hour
	ctx := t.Context()
	latest := func() int64 {
		t.Helper()
		in, err := db.Insight(ctx, flywheel.InsightARPO, 0)
		if err != nil {
			t.Fatal(err)
		}
		return in.Version
	}
	a := flywheel.ModelKey{Target: "fwd_ret_1d_A", ModelFamily: "ridge"}
	losing(t, db, e, a, now, 20, 1)
	e.pass(ctx) // the first pass is stored: nothing is yet
	if v := latest(); v != 1 {
		t.Fatalf("after the first pass: latest stored arpo version %d, want 1", v)
	}

	// A model that earns what it expects raises no signal: its pass stays
	// in memory.
	b := flywheel.ModelKey{Target: "fwd_ret_1d_B", ModelFamily: "ridge"}
	today := now.Truncate(24 * time.Hour)
	if _, err := db.PutDeployments(ctx, []flywheel.Deployment{{ModelKey: b, ModelVersion: "v1", DeployedAt: today.AddDate(0, 0, -30)}}); err != nil {
		t.Fatal(err)
	}
	var obs []flywheel.Observation
	for day := 20; day >= 1; day-- {
		exp := 0.003
		obs = append(obs, flywheel.Observation{TS: today.AddDate(0, 0, -day).Add(2 * time.Hour), ModelKey: b, ModelVersion: "v1",
			PnL: 0.003 + 0.002*float64(day%3-1), ExpectedPnL: &exp})
	}
	res, err := db.PutObservations(ctx, obs)
	if err != nil {
		t.Fatal(err)
	}
	e.Notify("live", res)
	e.pass(ctx)
	if v := latest(); v != 1 {
		t.Errorf("after a pass without new signals: latest stored arpo version %d, want still 1", v)
	}
	if _, v, _ := e.latestARPO(ctx); v != 2 {
		t.Errorf("the engine's in-memory version is %d, want 2", v)
	}

	// A losing model raises a signal, which cites the pass's insights:
	// they are stored, under the number the unstored pass had.
	c := flywheel.ModelKey{Target: "fwd_ret_1d_C", ModelFamily: "ridge"}
	losing(t, db, e, c, now, 20, 1)
	e.pass(ctx)
	if v := latest(); v != 2 {
		t.Fatalf("after a pass with a new signal: latest stored arpo version %d, want 2", v)
	}
	sigs, err := db.Signals(ctx, flywheel.SignalFilter{Model: &c})
	if err != nil || len(sigs) == 0 {
		t.Fatalf("signals of %s: %v (err %v)", c, sigs, err)
	}
	if v := sigs[0].InsightVersions[flywheel.InsightARPO]; v != 2 {
		t.Errorf("the signal of %s cites arpo version %d, want 2", c, v)
	}
}

// TestOldInsightsArePruned checks that the engine keeps the latest
// KeepInsights versions and every version a signal cites.
func TestOldInsightsArePruned(t *testing.T) {
	db, e, now := setupLive(t)
	e.keepInsights = 3
	ctx := t.Context()
	k := flywheel.ModelKey{Target: "fwd_ret_1d_A", ModelFamily: "ridge"}
	losing(t, db, e, k, now, 20, 1)
	e.pass(ctx) // version 1, cited by the model's signal
	for range 2 * pruneEvery {
		if _, err := e.LearnARPO(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var kept []int64
	for v := int64(1); v <= 1+2*pruneEvery; v++ {
		if _, err := db.Insight(ctx, flywheel.InsightARPO, v); err == nil {
			kept = append(kept, v)
		} else if flywheel.Code(err) != flywheel.ENotFound {
			t.Fatal(err)
		}
	}
	last := int64(2 * pruneEvery)
	if want := []int64{1, last - 2, last - 1, last, last + 1}; !slices.Equal(kept, want) {
		t.Errorf("arpo versions kept %v, want %v: the cited one, the latest 3 as of the last pruning, and the one after", kept, want)
	}
}

// TestDecisionReadsOldActiveJobs checks that a decision sees a job still
// active however many jobs were created after it: past the latest page
// of jobs it reads the active ones too.
func TestDecisionReadsOldActiveJobs(t *testing.T) {
	db, e, now := setupLive(t)
	ctx := t.Context()
	mk := func(i int, target string) flywheel.Job {
		return flywheel.Job{ID: fmt.Sprintf("j%d", i), ModelKey: flywheel.ModelKey{Target: target, ModelFamily: "ridge"},
			Executor: "local", CreatedAt: now.Add(time.Duration(i-10) * time.Hour)}
	}
	// j0 is the oldest and stays queued; j1..j5 are newer and end.
	if _, err := db.CreateJob(ctx, mk(0, "fwd_ret_1d_OLD")); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		if _, err := db.CreateJob(ctx, mk(i, fmt.Sprintf("fwd_ret_1d_N%d", i))); err != nil {
			t.Fatal(err)
		}
		if _, err := db.UpdateJob(ctx, flywheel.JobUpdate{ID: fmt.Sprintf("j%d", i), From: flywheel.JobQueued, To: flywheel.JobCancelled,
			At: now.Add(time.Duration(i-10) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []int{3, 100} {
		jobs, err := e.jobsPaged(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]bool{}
		for _, j := range jobs {
			if ids[j.ID] {
				t.Errorf("page %d: job %s read twice", n, j.ID)
			}
			ids[j.ID] = true
		}
		if !ids["j0"] {
			t.Errorf("page %d: the old queued job is not read (%d jobs read)", n, len(jobs))
		}
		// A page of 3 holds j5, j4 and j3, and j0 is added; 100 holds all 6.
		if want := map[int]int{3: 4, 100: 6}[n]; len(jobs) != want {
			t.Errorf("page %d: %d jobs read, want %d", n, len(jobs), want)
		}
	}
}
