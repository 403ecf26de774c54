package storetest

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// fullRun returns a finished run with every field set.
func fullRun(id string, k flywheel.ModelKey, started time.Time, score float64) flywheel.Run {
	return flywheel.Run{
		RunID:      id,
		JobID:      "job-" + id,
		ModelKey:   k,
		FeatureSet: "momentum_v2",
		Config: map[string]any{
			"alpha":    0.5,
			"features": map[string]any{"top_n": 50.0, "aggregation_method": "mean"},
			"tags":     []any{"a", "b"},
			"shuffle":  false,
		},
		StartedAt:  started,
		FinishedAt: ptr(started.Add(90 * time.Minute)),
		Status:     flywheel.RunSucceeded,
		Metrics:    map[string]float64{flywheel.MetricValidationScore: score, "train_score": 0.7, "ic": -0.02},
		FoldScores: []float64{0.5, 0.62, 0.58, 0.61},
		FeatureImportance: map[string]float64{
			"mom_20": 0.41, "vol_60": 0.13, "rsi_14": 0,
		},
		LeakageEvents: []flywheel.LeakageEvent{
			{Feature: "fwd_close", Score: 0.97, Threshold: 0.9, Confirmed: ptr(true)},
			{Feature: "rsi_14", Score: 0.91, Threshold: 0.9, Confirmed: ptr(false)},
			{Feature: "mom_5", Score: 0.92, Threshold: 0.9},
		},
		Cost:       flywheel.Cost{GPUHours: 1.5, CPUHours: 3.25, WallSeconds: 5400},
		DataWindow: &flywheel.DataWindow{From: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), To: t0},
		Regime:     "bull",
	}
}

// runningRun returns a run as reported when it starts.
func runningRun(id string, k flywheel.ModelKey, started time.Time) flywheel.Run {
	return flywheel.Run{RunID: id, ModelKey: k, StartedAt: started, Status: flywheel.RunRunning}
}

// withoutReceivedAt returns r with the store's own stamp cleared, for
// comparing with what was sent.
func withoutReceivedAt(r flywheel.Run) flywheel.Run {
	r.ReceivedAt = time.Time{}
	return r
}

func testRunRoundTrip(t *testing.T, s flywheel.Store) {
	ctx := t.Context()
	want := fullRun("run-1", modelA, t0, 0.61)
	res, err := s.PutRuns(ctx, []flywheel.Run{want})
	wantResult(t, "put run", res, err, flywheel.IngestResult{Accepted: 1})

	got, err := s.Run(ctx, "run-1")
	mustNoError(t, "read run", err)
	if got.ReceivedAt.IsZero() {
		t.Error("ReceivedAt is not set")
	}
	wantTime(t, "started_at", got.StartedAt, want.StartedAt)
	wantJSON(t, "run read back", withoutReceivedAt(got), want)
	for i, e := range got.LeakageEvents {
		if (e.Confirmed == nil) != (want.LeakageEvents[i].Confirmed == nil) {
			t.Errorf("leakage event %d: confirmed is %v, want %v", i, e.Confirmed, want.LeakageEvents[i].Confirmed)
		}
	}

	// A minimal run keeps its optional parts absent rather than empty.
	bare := runningRun("run-2", modelA, t0.Add(time.Hour))
	res, err = s.PutRuns(ctx, []flywheel.Run{bare})
	wantResult(t, "put bare run", res, err, flywheel.IngestResult{Accepted: 1})
	got, err = s.Run(ctx, "run-2")
	mustNoError(t, "read bare run", err)
	if got.FinishedAt != nil || got.DataWindow != nil || got.Metrics != nil || got.FoldScores != nil ||
		got.FeatureImportance != nil || got.LeakageEvents != nil || got.Config != nil {
		t.Errorf("bare run came back with optional parts set: %+v", got)
	}
	wantJSON(t, "bare run read back", withoutReceivedAt(got), bare)

	// An evaluation run keeps its kind.
	eval := runningRun("run-3", modelA, t0.Add(2*time.Hour))
	eval.Kind, eval.Status, eval.FinishedAt = flywheel.RunEvaluation, flywheel.RunSucceeded, ptr(t0.Add(3*time.Hour))
	eval.Metrics = map[string]float64{flywheel.MetricValidationScore: 0.4}
	res, err = s.PutRuns(ctx, []flywheel.Run{eval})
	wantResult(t, "put evaluation run", res, err, flywheel.IngestResult{Accepted: 1})
	got, err = s.Run(ctx, "run-3")
	mustNoError(t, "read evaluation run", err)
	if !got.Evaluation() {
		t.Errorf("evaluation run came back with kind %q", got.Kind)
	}
	wantJSON(t, "evaluation run read back", withoutReceivedAt(got), eval)
}

func testRunIdempotency(t *testing.T, s flywheel.Store) {
	ctx := t.Context()
	done := fullRun("done", modelA, t0, 0.6)
	res, err := s.PutRuns(ctx, []flywheel.Run{done, runningRun("live", modelA, t0.Add(time.Hour))})
	wantResult(t, "seed", res, err, flywheel.IngestResult{Accepted: 2})
	first, err := s.Run(ctx, "live")
	mustNoError(t, "read running run", err)

	// The same report from another time zone is the same report.
	zoned := done
	zoned.StartedAt = done.StartedAt.In(time.FixedZone("CET", 3600))
	res, err = s.PutRuns(ctx, []flywheel.Run{done, zoned})
	wantResult(t, "resend finished run", res, err, flywheel.IngestResult{Duplicates: 2})

	progress := runningRun("live", modelA, t0.Add(time.Hour))
	progress.Metrics = map[string]float64{"train_score": 0.3}
	final := fullRun("live", modelA, t0.Add(time.Hour), 0.7)
	res, err = s.PutRuns(ctx, []flywheel.Run{progress, progress, final})
	wantResult(t, "running run reported again, then finished", res, err,
		flywheel.IngestResult{Updated: 2, Duplicates: 1})
	got, err := s.Run(ctx, "live")
	mustNoError(t, "read finished run", err)
	wantJSON(t, "finished run", withoutReceivedAt(got), final)
	if !got.ReceivedAt.Equal(first.ReceivedAt) {
		t.Errorf("ReceivedAt changed on update: %v, was %v", got.ReceivedAt, first.ReceivedAt)
	}

	// A finished run never changes: a different report is a conflict, and
	// the batch it came in is rejected whole.
	changed := done
	changed.Metrics = map[string]float64{flywheel.MetricValidationScore: 0.9}
	_, err = s.PutRuns(ctx, []flywheel.Run{fullRun("new", modelB, t0, 0.5), changed})
	wantError(t, err, flywheel.EConflict, ptr(1), "run_id")
	_, err = s.Run(ctx, "new")
	wantError(t, err, flywheel.ENotFound, nil, "")
	got, err = s.Run(ctx, "done")
	mustNoError(t, "read done", err)
	wantJSON(t, "done after conflict", withoutReceivedAt(got), done)

	// Within one batch a new run then its repeat: accepted, duplicate.
	twice := fullRun("twice", modelB, t0, 0.5)
	res, err = s.PutRuns(ctx, []flywheel.Run{twice, twice})
	wantResult(t, "a run twice in one batch", res, err, flywheel.IngestResult{Accepted: 1, Duplicates: 1})
	// Started, then finished, in one batch.
	res, err = s.PutRuns(ctx, []flywheel.Run{runningRun("quick", modelB, t0), fullRun("quick", modelB, t0, 0.4)})
	wantResult(t, "started and finished in one batch", res, err, flywheel.IngestResult{Accepted: 1, Updated: 1})

	c, err := s.Counts(ctx)
	mustNoError(t, "counts", err)
	if c.Runs != 4 {
		t.Errorf("got %d runs stored, want 4 (done, live, twice, quick)", c.Runs)
	}
}

func testRunInvalidBatch(t *testing.T, s flywheel.Store) {
	tests := []struct {
		name  string
		spoil func(r *flywheel.Run)
		field string
	}{
		{"path in target", func(r *flywheel.Run) { r.Target = "../etc/passwd" }, "target"},
		{"NaN score", func(r *flywheel.Run) { r.Metrics[flywheel.MetricValidationScore] = math.NaN() },
			"metrics.validation_score"},
		{"infinite fold score", func(r *flywheel.Run) { r.FoldScores[1] = math.Inf(1) }, "fold_scores[1]"},
		{"bad leakage feature", func(r *flywheel.Run) { r.LeakageEvents[2].Feature = "a b" },
			"leakage_events[2].feature"},
		{"negative cost", func(r *flywheel.Run) { r.Cost.CPUHours = -1 }, "cost.cpu_hours"},
		{"finished without finished_at", func(r *flywheel.Run) { r.FinishedAt = nil }, "finished_at"},
		{"unknown status", func(r *flywheel.Run) { r.Status = "done" }, "status"},
		{"NaN in config", func(r *flywheel.Run) { r.Config["alpha"] = math.NaN() }, "config"},
		{"empty run id", func(r *flywheel.Run) { r.RunID = "" }, "run_id"},
	}
	ctx := t.Context()
	for _, tt := range tests {
		batch := []flywheel.Run{
			fullRun("ok-1", modelA, t0, 0.5),
			fullRun("bad", modelB, t0, 0.5),
			fullRun("ok-2", modelC, t0, 0.5),
		}
		tt.spoil(&batch[1])
		res, err := s.PutRuns(ctx, batch)
		if res != (flywheel.IngestResult{}) {
			t.Errorf("%s: got result %+v with an error, want zero", tt.name, res)
		}
		wantError(t, err, flywheel.EInvalid, ptr(1), tt.field)
	}
	c, err := s.Counts(ctx)
	mustNoError(t, "counts", err)
	if c.Runs != 0 || c.Models != 0 || c.Targets != 0 {
		t.Errorf("rejected batches left %d runs, %d models, %d targets", c.Runs, c.Models, c.Targets)
	}
}

func testRunList(t *testing.T, s flywheel.Store) {
	ctx := t.Context()
	failed := fullRun("r3", modelA, t0.Add(48*time.Hour), 0)
	failed.Status, failed.Metrics = flywheel.RunFailed, nil
	runs := []flywheel.Run{
		fullRun("r1", modelA, t0, 0.5),
		fullRun("r2", modelA, t0.Add(24*time.Hour), 0.6),
		failed,
		fullRun("r4", modelB, t0.Add(24*time.Hour), 0.4), // same start as r2: run_id breaks the tie
		fullRun("r5", modelC, t0.Add(72*time.Hour), 0.3),
	}
	res, err := s.PutRuns(ctx, runs)
	wantResult(t, "put runs", res, err, flywheel.IngestResult{Accepted: 5})

	tests := []struct {
		name string
		f    flywheel.RunFilter
		want []string
	}{
		{"all", flywheel.RunFilter{}, []string{"r5", "r3", "r4", "r2", "r1"}},
		{"target", flywheel.RunFilter{Target: modelA.Target}, []string{"r3", "r4", "r2", "r1"}},
		{"model", flywheel.RunFilter{Target: modelA.Target, ModelFamily: "ridge"}, []string{"r3", "r2", "r1"}},
		{"status", flywheel.RunFilter{Status: flywheel.RunFailed}, []string{"r3"}},
		{"job", flywheel.RunFilter{JobID: "job-r2"}, []string{"r2"}},
		{"window", flywheel.RunFilter{Since: t0.Add(24 * time.Hour), Until: t0.Add(72 * time.Hour)},
			[]string{"r3", "r4", "r2"}},
		{"limit", flywheel.RunFilter{Limit: 2}, []string{"r5", "r3"}},
		{"before r4", flywheel.RunFilter{Before: &flywheel.RunCursor{StartedAt: t0.Add(24 * time.Hour), RunID: "r4"}},
			[]string{"r2", "r1"}},
	}
	for _, tt := range tests {
		got, err := s.Runs(ctx, tt.f)
		mustNoError(t, tt.name, err)
		if ids := runIDs(got); !slices.Equal(ids, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, ids, tt.want)
		}
	}

	// Paging with the cursor visits every run once, and listed runs carry
	// their details.
	var seen []string
	f := flywheel.RunFilter{Limit: 2}
	for range 10 {
		page, err := s.Runs(ctx, f)
		mustNoError(t, "page", err)
		if len(page) == 0 {
			break
		}
		seen = append(seen, runIDs(page)...)
		last := page[len(page)-1]
		f.Before = &flywheel.RunCursor{StartedAt: last.StartedAt, RunID: last.RunID}
		for _, r := range page {
			if r.RunID == "r1" {
				wantJSON(t, "listed r1", withoutReceivedAt(r), runs[0])
			}
		}
	}
	if want := []string{"r5", "r3", "r4", "r2", "r1"}; !slices.Equal(seen, want) {
		t.Errorf("paging: got %v, want %v", seen, want)
	}
}

func runIDs(runs []flywheel.Run) []string {
	ids := make([]string, len(runs))
	for i, r := range runs {
		ids[i] = r.RunID
	}
	return ids
}
