package storetest

import (
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
)

func job(id string, k flywheel.ModelKey, created time.Time) flywheel.Job {
	return flywheel.Job{
		ID:               id,
		ModelKey:         k,
		SignalID:         "s1",
		Executor:         "slurm",
		Priority:         0.8,
		Resources:        flywheel.Resources{CPUCores: 4, MemoryMB: 8192, GPUs: 1, GPUMemoryGB: 16},
		EstimatedCost:    3,
		EstimatedSeconds: 1800,
		CreatedAt:        created,
		Spec:             json.RawMessage(`{"command":["python","train.py"]}`),
	}
}

func testJobs(t *testing.T, s flywheel.Store) {
	ctx := t.Context()
	want := job("j1", modelA, t0)
	created, err := s.CreateJob(ctx, want)
	mustNoError(t, "create", err)
	want.State, want.UpdatedAt = flywheel.JobQueued, t0
	if created.State != flywheel.JobQueued || !created.UpdatedAt.Equal(t0) {
		t.Errorf("created job: state %s, updated %v; want queued, %v", created.State, created.UpdatedAt, t0)
	}
	got, err := s.Job(ctx, "j1")
	mustNoError(t, "read", err)
	wantJSON(t, "job read back", got, want)

	_, err = s.CreateJob(ctx, job("j1", modelB, t0))
	wantError(t, err, flywheel.EConflict, nil, "")
	_, err = s.CreateJob(ctx, job("../j", modelB, t0))
	wantError(t, err, flywheel.EInvalid, nil, "id")

	at := t0.Add(time.Minute)
	got, err = s.UpdateJob(ctx, flywheel.JobUpdate{ID: "j1", From: flywheel.JobQueued, To: flywheel.JobSubmitted,
		At: at, Message: "submitted", ExternalID: ptr("12345"), Attempt: ptr(1)})
	mustNoError(t, "update", err)
	want.State, want.UpdatedAt, want.ExternalID, want.Attempt, want.Message = flywheel.JobSubmitted, at, "12345", 1, "submitted"
	wantJSON(t, "after update", got, want)

	_, err = s.UpdateJob(ctx, flywheel.JobUpdate{ID: "j1", From: flywheel.JobQueued, To: flywheel.JobCancelled, At: at})
	wantError(t, err, flywheel.EConflict, nil, "from")

	eta := t0.Add(time.Hour)
	beats := []struct {
		progress float64
		message  string
	}{{0.1, "epoch 1/10"}, {0.15, "epoch 1/10"}, {0.2, "epoch 2/10"}}
	for i, b := range beats {
		at = t0.Add(time.Duration(2+i) * time.Minute)
		got, err = s.Heartbeat(ctx, "j1", at, b.progress, b.message, &eta)
		mustNoError(t, "heartbeat", err)
	}
	if got.State != flywheel.JobSubmitted || got.Progress != 0.2 || got.Message != "epoch 2/10" ||
		got.HeartbeatAt == nil || !got.HeartbeatAt.Equal(at) || got.ETA == nil || !got.ETA.Equal(eta) {
		t.Errorf("after heartbeats: %+v", got)
	}
	_, err = s.Heartbeat(ctx, "j1", at, 1.5, "", nil)
	wantError(t, err, flywheel.EInvalid, nil, "progress")

	end := t0.Add(time.Hour)
	got, err = s.UpdateJob(ctx, flywheel.JobUpdate{ID: "j1", From: flywheel.JobSubmitted, To: flywheel.JobSucceeded,
		At: end, RunID: ptr("run-7"), Progress: ptr(1.0)})
	mustNoError(t, "finish", err)
	if got.RunID != "run-7" || got.Progress != 1 || got.ExternalID != "12345" || got.Message != "epoch 2/10" {
		t.Errorf("after finish: run %q progress %v external %q message %q", got.RunID, got.Progress,
			got.ExternalID, got.Message)
	}
	_, err = s.Heartbeat(ctx, "j1", end, 1, "late", nil)
	wantError(t, err, flywheel.EConflict, nil, "")

	events, err := s.JobEvents(ctx, "j1")
	mustNoError(t, "events", err)
	wantEvents := []flywheel.JobEvent{
		{JobID: "j1", Seq: 1, At: t0, To: flywheel.JobQueued, Message: "created"},
		{JobID: "j1", Seq: 2, At: t0.Add(time.Minute), From: flywheel.JobQueued, To: flywheel.JobSubmitted, Message: "submitted"},
		{JobID: "j1", Seq: 3, At: t0.Add(2 * time.Minute), From: flywheel.JobSubmitted, To: flywheel.JobSubmitted, Message: "epoch 1/10"},
		{JobID: "j1", Seq: 4, At: t0.Add(4 * time.Minute), From: flywheel.JobSubmitted, To: flywheel.JobSubmitted, Message: "epoch 2/10"},
		{JobID: "j1", Seq: 5, At: end, From: flywheel.JobSubmitted, To: flywheel.JobSucceeded},
	}
	wantJSON(t, "events", events, wantEvents)
}

func testJobList(t *testing.T, s flywheel.Store) {
	ctx := t.Context()
	_, err := s.CreateJob(ctx, job("j1", modelA, t0))
	mustNoError(t, "create j1", err)
	_, err = s.UpdateJob(ctx, flywheel.JobUpdate{ID: "j1", From: flywheel.JobQueued, To: flywheel.JobSucceeded, At: t0})
	mustNoError(t, "finish j1", err)
	_, err = s.CreateJob(ctx, job("j2", modelB, t0.Add(time.Hour)))
	mustNoError(t, "create j2", err)
	_, err = s.CreateJob(ctx, job("j3", modelA, t0.Add(2*time.Hour)))
	mustNoError(t, "create j3", err)
	tests := []struct {
		name string
		f    flywheel.JobFilter
		want []string
	}{
		{"all", flywheel.JobFilter{}, []string{"j3", "j2", "j1"}},
		{"model A", flywheel.JobFilter{Model: &modelA}, []string{"j3", "j1"}},
		{"queued", flywheel.JobFilter{States: []flywheel.JobState{flywheel.JobQueued}}, []string{"j3", "j2"}},
		{"ended", flywheel.JobFilter{States: []flywheel.JobState{flywheel.JobSucceeded, flywheel.JobFailed}}, []string{"j1"}},
		{"limit", flywheel.JobFilter{Limit: 1}, []string{"j3"}},
	}
	for _, tt := range tests {
		jobs, err := s.Jobs(ctx, tt.f)
		mustNoError(t, tt.name, err)
		var ids []string
		for _, j := range jobs {
			ids = append(ids, j.ID)
		}
		if !slices.Equal(ids, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, ids, tt.want)
		}
	}
}

// testJobCompareAndSet races actors for one transition: exactly one wins.
func testJobCompareAndSet(t *testing.T, s flywheel.Store) {
	ctx := t.Context()
	_, err := s.CreateJob(ctx, job("j1", modelA, t0))
	mustNoError(t, "create", err)
	const actors = 8
	errs := make([]error, actors)
	var wg sync.WaitGroup
	for i := range actors {
		wg.Go(func() {
			_, errs[i] = s.UpdateJob(ctx, flywheel.JobUpdate{ID: "j1", From: flywheel.JobQueued, To: flywheel.JobAdmitted,
				At: t0.Add(time.Minute)})
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch flywheel.Code(err) {
		case "":
			won++
		case flywheel.EConflict:
		default:
			t.Errorf("racing update: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d actors moved the job, want exactly 1", won)
	}
	events, err := s.JobEvents(ctx, "j1")
	mustNoError(t, "events", err)
	if len(events) != 2 {
		t.Errorf("got %d events, want 2 (created, admitted)", len(events))
	}
}
