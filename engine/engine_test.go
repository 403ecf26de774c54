package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/arpo"
	"github.com/flywheel-ml/flywheel/cils"
	"github.com/flywheel-ml/flywheel/orchestrator"
	"github.com/flywheel-ml/flywheel/sqlite"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func setup(t *testing.T) (*sqlite.DB, *Engine) {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(logWriter{t}, nil))
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "f.db"), sqlite.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e, err := New(Config{Store: db, Logger: logger, CILS: cils.DefaultConfig(), ARPO: arpo.DefaultConfig(), Orchestrator: orchestrator.DefaultConfig(), Debounce: time.Millisecond,
		Clock: flywheel.ClockFunc(func() time.Time { return t0.AddDate(0, 1, 0) })})
	if err != nil {
		t.Fatal(err)
	}
	return db, e
}

// history returns n successful runs of one model with the given scores.
func history(target string, scores ...float64) []flywheel.Run {
	runs := make([]flywheel.Run, len(scores))
	for i, s := range scores {
		start := t0.Add(time.Duration(i) * 24 * time.Hour)
		fin := start.Add(time.Hour)
		runs[i] = flywheel.Run{
			RunID: fmt.Sprintf("%s-%d", target, i), ModelKey: flywheel.ModelKey{Target: target, ModelFamily: "ridge"},
			Status: flywheel.RunSucceeded, StartedAt: start, FinishedAt: &fin,
			Metrics: map[string]float64{flywheel.MetricValidationScore: s},
			Cost:    flywheel.Cost{CPUHours: 2, WallSeconds: 3600},
		}
	}
	return runs
}

func latestStored(t *testing.T, db *sqlite.DB) (flywheel.Insight, cils.Insights) {
	t.Helper()
	stored, err := db.Insight(t.Context(), flywheel.InsightCILS, 0)
	if err != nil {
		t.Fatal(err)
	}
	var in cils.Insights
	if err := json.Unmarshal(stored.Body, &in); err != nil {
		t.Fatal(err)
	}
	return stored, in
}

// TestNotifyLearnsAndStoresVersions runs the engine, reports runs, and
// checks that each report leads to a new stored version that sees them.
func TestNotifyLearnsAndStoresVersions(t *testing.T) {
	db, e := setup(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	defer func() { cancel(); <-done }()

	stable := history("fwd_ret_5d_AAPL", 0.10, 0.10, 0.10, 0.10, 0.10, 0.10)
	report(t, db, e, stable)
	v1 := waitVersion(t, db, 1)
	if _, in := latestStored(t, db); in.Runs != 6 || len(in.DegradingTargets) != 0 {
		t.Errorf("version %d: runs %d, degrading %d; want 6 runs and none degrading", v1.Version, in.Runs, len(in.DegradingTargets))
	}

	// The latest run drops 20% below the median of the 5 before it.
	drop := history("fwd_ret_5d_AAPL", 0.10, 0.10, 0.10, 0.10, 0.10, 0.10, 0.08)[6:]
	report(t, db, e, drop)
	waitVersion(t, db, 2)
	_, in := latestStored(t, db)
	if len(in.DegradingTargets) != 1 || in.DegradingTargets[0].Target != "fwd_ret_5d_AAPL" {
		t.Fatalf("degrading = %+v, want fwd_ret_5d_AAPL", in.DegradingTargets)
	}
	if len(in.NewPatterns) == 0 {
		t.Errorf("version 2 reports no new pattern, though the model started degrading")
	}
}

// TestCatchUpAtStart checks that runs stored while no engine ran are
// learned from as soon as one starts.
func TestCatchUpAtStart(t *testing.T) {
	db, e := setup(t)
	if _, err := db.PutRuns(t.Context(), history("barrier_up_10d_JPM", 0.2, 0.2, 0.2)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	waitVersion(t, db, 1)
	cancel()
	<-done
	// Restarted with nothing new, it stores nothing new.
	ctx, cancel = context.WithCancel(t.Context())
	go func() { done <- e.Run(ctx) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	<-done
	if stored, _ := latestStored(t, db); stored.Version != 1 {
		t.Errorf("a restart with no new runs stored version %d", stored.Version)
	}
}

func report(t *testing.T, db *sqlite.DB, e *Engine, runs []flywheel.Run) {
	t.Helper()
	res, err := db.PutRuns(t.Context(), runs)
	if err != nil {
		t.Fatal(err)
	}
	e.Notify("runs", res)
}

func waitVersion(t *testing.T, db *sqlite.DB, v int64) flywheel.Insight {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		stored, err := db.Insight(t.Context(), flywheel.InsightCILS, v)
		if err == nil {
			return stored
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("cils insights version %d not stored within 10s", v)
	return flywheel.Insight{}
}
