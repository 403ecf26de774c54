package runner

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// TestHappyPath walks one job through every state and checks the history
// the store recorded, the result handed over and the run id kept.
func TestHappyPath(t *testing.T) {
	t.Parallel()
	s := setupFake(t, nil)
	newJob(t, s.store, "job-1", t0, nil)
	step(t, s.r)
	j := getJob(t, s.store, "job-1")
	if j.State != flywheel.JobSubmitted || j.ExternalID != "101" {
		t.Fatalf("after a round: %s as %q, want submitted as 101", j.State, j.ExternalID)
	}
	if !slices.Equal(s.exec.released, []string{"job-1"}) {
		t.Errorf("released %v, want [job-1]", s.exec.released)
	}
	s.exec.set("job-1", flywheel.JobRunning, "", "")
	step(t, s.r)
	if j := getJob(t, s.store, "job-1"); j.State != flywheel.JobRunning {
		t.Fatalf("state %s, want running", j.State)
	}
	s.exec.set("job-1", flywheel.JobSucceeded, "", `{"run_id":"run-7","target":"fwd_ret_5d_AAPL"}`)
	step(t, s.r)
	j = getJob(t, s.store, "job-1")
	if j.State != flywheel.JobSucceeded || j.RunID != "run-7" || j.Progress != 1 {
		t.Errorf("ended %s run %q progress %v, want succeeded run-7 1", j.State, j.RunID, j.Progress)
	}
	if got := s.results["job-1"]; !strings.Contains(got, "run-7") {
		t.Errorf("OnResult got %q, want the run JSON", got)
	}
	want := []string{">admitted", "admitted>submitting", "submitting>submitted", "submitted>running", "running>succeeded"}
	if got := transitions(t, s.store, "job-1"); !slices.Equal(got, want) {
		t.Errorf("history %v, want %v", got, want)
	}
	if n := len(s.exec.submissions()); n != 1 {
		t.Errorf("%d submissions, want 1", n)
	}
}

// TestFastJobStillShowsRunning checks that a job that starts and ends
// between two polls is recorded as having run.
func TestFastJobStillShowsRunning(t *testing.T) {
	t.Parallel()
	s := setupFake(t, nil)
	newJob(t, s.store, "job-1", t0, nil)
	step(t, s.r)
	s.exec.set("job-1", flywheel.JobSucceeded, "", "")
	step(t, s.r)
	want := []string{">admitted", "admitted>submitting", "submitting>submitted", "submitted>running", "running>succeeded"}
	if got := transitions(t, s.store, "job-1"); !slices.Equal(got, want) {
		t.Errorf("history %v, want %v", got, want)
	}
}

// TestPriorityOrder checks that admitted jobs are submitted highest
// priority first.
func TestPriorityOrder(t *testing.T) {
	t.Parallel()
	s := setupFake(t, nil)
	for i, p := range []float64{0.2, 0.9, 0.5} {
		newJob(t, s.store, []string{"low", "high", "mid"}[i], t0, func(j *flywheel.Job) { j.Priority = p })
	}
	step(t, s.r)
	var got []string
	for _, j := range s.exec.submissions() {
		got = append(got, j.ID)
	}
	if want := []string{"high", "mid", "low"}; !slices.Equal(got, want) {
		t.Errorf("submitted %v, want %v", got, want)
	}
}

// TestCancelInEveryState cancels a job in each state that has not ended.
func TestCancelInEveryState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		state flywheel.JobState
		// atExecutor is whether the executor must be asked to cancel.
		atExecutor bool
	}{
		{flywheel.JobQueued, false},
		{flywheel.JobAdmitted, false},
		{flywheel.JobSubmitting, true},
		{flywheel.JobSubmitted, true},
		{flywheel.JobRunning, true},
	}
	for _, tt := range tests {
		t.Run(string(tt.state), func(t *testing.T) {
			t.Parallel()
			s := setupFake(t, nil)
			newJob(t, s.store, "job-1", t0, func(j *flywheel.Job) {
				if tt.state == flywheel.JobQueued {
					j.State = flywheel.JobQueued
				}
			})
			switch tt.state {
			case flywheel.JobSubmitting:
				if _, err := s.store.UpdateJob(ctx, flywheel.JobUpdate{ID: "job-1", From: flywheel.JobAdmitted, To: flywheel.JobSubmitting}); err != nil {
					t.Fatal(err)
				}
			case flywheel.JobSubmitted:
				step(t, s.r)
			case flywheel.JobRunning:
				step(t, s.r)
				s.exec.set("job-1", flywheel.JobRunning, "", "")
				step(t, s.r)
			}
			if j := getJob(t, s.store, "job-1"); j.State != tt.state {
				t.Fatalf("set up %s, want %s", j.State, tt.state)
			}
			j, err := s.r.Cancel(ctx, "job-1")
			if err != nil || j.State != flywheel.JobCancelled {
				t.Fatalf("Cancel = %s, %v; want cancelled", j.State, err)
			}
			if got := len(s.exec.cancels()) > 0; got != tt.atExecutor {
				t.Errorf("executor asked to cancel: %v, want %v", got, tt.atExecutor)
			}
			step(t, s.r)
			if j := getJob(t, s.store, "job-1"); j.State != flywheel.JobCancelled {
				t.Errorf("after a round: %s, want still cancelled", j.State)
			}
			if n := len(s.exec.submissions()); tt.state != flywheel.JobSubmitted && tt.state != flywheel.JobRunning && n != 0 {
				t.Errorf("%d submissions of a job cancelled before it was submitted", n)
			}
			if _, err := s.r.Cancel(ctx, "job-1"); flywheel.Code(err) != flywheel.EConflict {
				t.Errorf("second Cancel: %v, want EConflict", err)
			}
		})
	}
}

// TestCancelDuringSubmission cancels a job between Submit and the record
// of its id: the runner must cancel what it just submitted.
func TestCancelDuringSubmission(t *testing.T) {
	t.Parallel()
	var s *fakeSetup
	s = setupFake(t, func(c *Config) {
		c.Hooks.AfterSubmit = func(j flywheel.Job) {
			if _, err := s.r.Cancel(context.Background(), j.ID); err != nil {
				t.Errorf("Cancel: %v", err)
			}
		}
	})
	newJob(t, s.store, "job-1", t0, nil)
	step(t, s.r)
	if j := getJob(t, s.store, "job-1"); j.State != flywheel.JobCancelled {
		t.Errorf("state %s, want cancelled", j.State)
	}
	if got := s.exec.cancels(); !slices.Contains(got, "job-1/101") {
		t.Errorf("executor cancels %v, want job-1/101 (the submitted execution, by id)", got)
	}
}

// TestReconcileAdoptsSubmission restarts a runner on a job left in state
// submitting whose execution already exists (the crash came after Submit):
// the new runner adopts it instead of submitting again.
func TestReconcileAdoptsSubmission(t *testing.T) {
	t.Parallel()
	s := setupFake(t, func(c *Config) {
		c.Hooks.AfterSubmit = func(flywheel.Job) { panic("crash") }
	})
	newJob(t, s.store, "job-1", t0, nil)
	func() {
		defer func() { _ = recover() }()
		_ = s.r.Step(context.Background())
	}()
	if j := getJob(t, s.store, "job-1"); j.State != flywheel.JobSubmitting {
		t.Fatalf("after the crash: %s, want submitting", j.State)
	}
	r2, err := New(Config{Store: s.store, Executors: []flywheel.Executor{s.exec}, Clock: s.clock, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := r2.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	j := getJob(t, s.store, "job-1")
	if j.State != flywheel.JobSubmitted || j.ExternalID != "101" {
		t.Errorf("after reconcile: %s as %q, want submitted as 101", j.State, j.ExternalID)
	}
	if n := len(s.exec.submissions()); n != 1 {
		t.Errorf("%d submissions, want 1", n)
	}
	if !slices.Contains(s.exec.released, "job-1") {
		t.Errorf("the adopted job was not released")
	}
}

// TestReleaseRetried checks that a job left held (the release failed, or
// a crash came before it) is released by the next round.
func TestReleaseRetried(t *testing.T) {
	t.Parallel()
	s := setupFake(t, nil)
	newJob(t, s.store, "job-1", t0, nil)
	step(t, s.r)
	s.exec.mu.Lock()
	st := s.exec.status["job-1"]
	st.Held = true
	s.exec.status["job-1"] = st
	s.exec.released = nil
	s.exec.mu.Unlock()
	step(t, s.r)
	if !slices.Equal(s.exec.released, []string{"job-1"}) {
		t.Errorf("released %v, want the held job released again", s.exec.released)
	}
}

// TestHeartbeat covers both ways a job is lost: the executor cannot see
// it past the timeout, and a job that used to beat stops.
func TestHeartbeat(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("unseen", func(t *testing.T) {
		t.Parallel()
		s := setupFake(t, nil)
		newJob(t, s.store, "job-1", t0, nil)
		step(t, s.r)
		s.exec.set("job-1", flywheel.JobRunning, "", "")
		step(t, s.r)
		s.exec.forget("job-1")
		s.clock.Advance(9 * time.Minute)
		step(t, s.r)
		if j := getJob(t, s.store, "job-1"); j.State != flywheel.JobRunning {
			t.Fatalf("unseen for 9 min: %s, want still running (within the timeout)", j.State)
		}
		s.clock.Advance(2 * time.Minute)
		step(t, s.r) // lost: back to admitted
		step(t, s.r) // submitted again
		j := getJob(t, s.store, "job-1")
		if j.State != flywheel.JobSubmitted || j.Attempt != 2 || !strings.HasPrefix(j.Error, "lost:") {
			t.Errorf("unseen for 11 min: %s attempt %d error %q, want resubmitted as attempt 2 after lost", j.State, j.Attempt, j.Error)
		}
	})
	t.Run("stalled", func(t *testing.T) {
		t.Parallel()
		s := setupFake(t, nil)
		newJob(t, s.store, "job-1", t0, nil)
		step(t, s.r)
		s.exec.set("job-1", flywheel.JobRunning, "", "")
		step(t, s.r)
		if _, err := s.store.Heartbeat(ctx, "job-1", s.clock.Now(), 0.3, "epoch 3", nil); err != nil {
			t.Fatal(err)
		}
		s.clock.Advance(5 * time.Minute)
		step(t, s.r)
		if len(s.exec.cancels()) != 0 {
			t.Fatalf("a job that beat 5 min ago was cancelled")
		}
		s.clock.Advance(6 * time.Minute)
		step(t, s.r)
		if got := s.exec.cancels(); !slices.Equal(got, []string{"job-1/101"}) {
			t.Errorf("cancels %v, want the stalled execution stopped", got)
		}
		j := getJob(t, s.store, "job-1")
		if j.Attempt != 2 || !strings.Contains(j.Error, "no heartbeat") {
			t.Errorf("attempt %d error %q, want a retry after no heartbeat", j.Attempt, j.Error)
		}
	})
}

// TestSubmitRefused fails a job the executor can never run.
func TestSubmitRefused(t *testing.T) {
	t.Parallel()
	s := setupFake(t, nil)
	bad := &refusingExec{fakeExec: newFake("fake")}
	r, err := New(Config{Store: s.store, Executors: []flywheel.Executor{bad}, Clock: s.clock, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	newJob(t, s.store, "job-1", t0, nil)
	step(t, r)
	if j := getJob(t, s.store, "job-1"); j.State != flywheel.JobFailed || !strings.Contains(j.Error, "no such partition") {
		t.Errorf("state %s error %q, want failed with the executor's reason", j.State, j.Error)
	}
}

type refusingExec struct{ *fakeExec }

func (refusingExec) Submit(context.Context, flywheel.Job) (string, error) {
	return "", flywheel.Errorf(flywheel.EInvalid, "no such partition")
}

// TestResultRefused fails a job whose result the ingest refuses, and
// offers a result again after a transient error.
func TestResultRefused(t *testing.T) {
	t.Parallel()
	calls := 0
	s := setupFake(t, func(c *Config) {
		c.Policy.MaxAttempts = 1
		c.OnResult = func(_ context.Context, j flywheel.Job, _ []byte) error {
			calls++
			if j.ID == "flaky" && calls == 1 {
				return flywheel.Errorf(flywheel.EUnavailable, "database busy")
			}
			if j.ID == "bad" {
				return flywheel.FieldError("metrics.validation_score", "must be finite")
			}
			return nil
		}
	})
	for _, id := range []string{"flaky", "bad"} {
		newJob(t, s.store, id, t0, nil)
	}
	step(t, s.r)
	s.exec.set("flaky", flywheel.JobSucceeded, "", `{"run_id":"r1"}`)
	if err := s.r.Step(context.Background()); err == nil || !strings.Contains(err.Error(), "database busy") {
		t.Errorf("Step with a transient ingest error = %v, want that error", err)
	}
	if j := getJob(t, s.store, "flaky"); j.State != flywheel.JobRunning {
		t.Errorf("after a transient ingest error: %s, want running (to offer the result again)", j.State)
	}
	s.exec.set("bad", flywheel.JobSucceeded, "", `{"run_id":"r2"}`)
	step(t, s.r)
	if j := getJob(t, s.store, "flaky"); j.State != flywheel.JobSucceeded || j.RunID != "r1" {
		t.Errorf("flaky: %s run %q, want succeeded r1", j.State, j.RunID)
	}
	if j := getJob(t, s.store, "bad"); j.State != flywheel.JobFailed || !strings.Contains(j.Error, "refused") {
		t.Errorf("bad: %s error %q, want failed: result refused", j.State, j.Error)
	}
}

// TestForeignExecutorLeftAlone checks that jobs of an executor the runner
// does not have are not touched.
func TestForeignExecutorLeftAlone(t *testing.T) {
	t.Parallel()
	s := setupFake(t, nil)
	newJob(t, s.store, "job-1", t0, func(j *flywheel.Job) { j.Executor = "slurm" })
	step(t, s.r)
	if j := getJob(t, s.store, "job-1"); j.State != flywheel.JobAdmitted {
		t.Errorf("state %s, want admitted (another daemon's job)", j.State)
	}
}
