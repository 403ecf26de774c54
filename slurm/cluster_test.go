package slurm_test

// Integration tests against a real Slurm cluster: bring one up with
// scripts/slurm-up.sh and export the SLURM_CONF it prints. Without a
// reachable cluster these tests skip, except under CI=true, where they
// fail.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/runner"
	"github.com/flywheel-ml/flywheel/slurm"
	"github.com/flywheel-ml/flywheel/sqlite"
)

// resultCommand is a fake training job: it writes a run JSON, with what
// it saw of its environment, to $FLYWHEEL_RESULT; it exits with
// $WANT_EXIT when that is set in the job's work file.
const resultCommand = `sh -c 'if [ -n "$FAIL_IF" ] && [ -e "$FAIL_IF/{job_id}" ]; then exit 3; fi; ` +
	`printf "{\"run_id\":\"run-%s\",\"job_id\":\"%s\",\"target\":\"%s\",\"model_family\":\"%s\",\"cuda\":\"%s\",\"slurm_job_name\":\"%s\"}" ` +
	`"$FLYWHEEL_JOB_ID" "$FLYWHEEL_JOB_ID" "$FLYWHEEL_TARGET" "$FLYWHEEL_MODEL_FAMILY" "$CUDA_VISIBLE_DEVICES" "$SLURM_JOB_NAME" > "$FLYWHEEL_RESULT"; ` +
	`echo trained {target}'`

// requireCluster skips (fails under CI=true) when no Slurm cluster
// answers.
func requireCluster(t *testing.T) {
	t.Helper()
	fail := t.Skipf
	if os.Getenv("CI") == "true" {
		fail = t.Fatalf
	}
	if os.Getenv("SLURM_CONF") == "" {
		fail("SLURM_CONF is not set: run scripts/slurm-up.sh and export the SLURM_CONF it prints")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "sinfo", "-h", "-o", "%T").CombinedOutput()
	if err != nil {
		fail("sinfo does not answer (%v: %s): run scripts/slurm-up.sh", err, strings.TrimSpace(string(out)))
	}
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// env is what a test needs: a store, a Slurm executor and a runner.
type env struct {
	dir   string
	store *sqlite.DB
	exec  *slurm.Executor
	r     *runner.Runner

	mu      sync.Mutex
	results map[string][]string
}

// setup opens (or reopens, when dir is given) a store and a runner.
func setup(t *testing.T, dir string, policy flywheel.RetryPolicy, hooks runner.Hooks) *env {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	log := slog.New(slog.NewTextHandler(logWriter{t}, nil))
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "flywheel.db"), sqlite.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ex, err := slurm.New(slurm.Config{
		Command: resultCommand, StateDir: filepath.Join(dir, "slurm"), ConfigDir: "/conf",
		Env: []string{"FAIL_IF=" + filepath.Join(dir, "fail")}, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{dir: dir, store: db, exec: ex, results: map[string][]string{}}
	e.r, err = runner.New(runner.Config{
		Store: db, Executors: []flywheel.Executor{ex}, Policy: policy, Logger: log, Hooks: hooks,
		PollInterval: 200 * time.Millisecond, HeartbeatTimeout: 2 * time.Minute,
		OnResult: func(_ context.Context, j flywheel.Job, b []byte) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.results[j.ID] = append(e.results[j.ID], string(b))
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// uniqueID returns a job id no earlier test run used: the cluster's
// accounting outlives the tests, and sacct --name must see only this run.
func uniqueID(name string) string {
	return fmt.Sprintf("t%d-%s", time.Now().UnixNano(), name)
}

func addJob(t *testing.T, s flywheel.JobStore, id string, tweak func(*flywheel.Job)) {
	t.Helper()
	now := time.Now().UTC()
	j := flywheel.Job{ID: id, ModelKey: flywheel.ModelKey{Target: "fwd_ret_5d_AAPL", ModelFamily: "ridge"},
		State: flywheel.JobAdmitted, Attempt: 1, Resources: flywheel.Resources{CPUCores: 1, MemoryMB: 100},
		EstimatedSeconds: 30, CreatedAt: now, UpdatedAt: now}
	if tweak != nil {
		tweak(&j)
	}
	if _, err := s.CreateJob(context.Background(), j); err != nil {
		t.Fatal(err)
	}
}

// runUntil runs rounds until the job is in one of states.
func (e *env) runUntil(t *testing.T, id string, states ...flywheel.JobState) flywheel.Job {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		if err := e.r.Step(context.Background()); err != nil {
			t.Logf("Step: %v", err)
		}
		j, err := e.store.Job(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(states, j.State) {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s is %s after 90 s, want one of %v", id, j.State, states)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// sacct returns every Slurm job named after the flywheel job, once
// slurmdbd has caught up: the accounting of a job that has just ended
// may lag behind it for a moment, so it waits (up to 30 s) until ok
// accepts the records, and returns the last ones it saw.
func (e *env) sacct(t *testing.T, id string, ok func([]slurm.Record) bool) []slurm.Record {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		rows, err := e.exec.SacctByName(context.Background(), slurm.JobName(id), time.Now().Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if ok(rows) || time.Now().After(deadline) {
			return rows
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ended accepts records once every one of them has ended.
func ended(rows []slurm.Record) bool {
	if len(rows) == 0 {
		return false
	}
	for _, r := range rows {
		if st, _ := slurm.MapState(r.State, 0); !st.Terminal() {
			return false
		}
	}
	return true
}

// TestSlurmJobRunsAndReports runs a job on the cluster: it succeeds, its
// run JSON arrives through OnResult, its run id lands on the job, sacct
// shows one job of its name with the model key as comment, and its log is
// readable.
func TestSlurmJobRunsAndReports(t *testing.T) {
	requireCluster(t)
	t.Parallel()
	e := setup(t, "", flywheel.RetryPolicy{}, runner.Hooks{})
	id := uniqueID("run")
	addJob(t, e.store, id, nil)
	j := e.runUntil(t, id, flywheel.JobSucceeded, flywheel.JobFailed, flywheel.JobLost, flywheel.JobCancelled)
	if j.State != flywheel.JobSucceeded || j.RunID != "run-"+id {
		t.Fatalf("ended %s with run %q (error %q), want succeeded with run-%s", j.State, j.RunID, j.Error, id)
	}
	var run map[string]string
	if len(e.results[id]) != 1 || json.Unmarshal([]byte(e.results[id][0]), &run) != nil {
		t.Fatalf("results %q, want one run JSON", e.results[id])
	}
	if run["target"] != "fwd_ret_5d_AAPL" || run["model_family"] != "ridge" || run["slurm_job_name"] != slurm.JobName(id) {
		t.Errorf("the job saw %v, want its target, family and Slurm name", run)
	}
	rows := e.sacct(t, id, ended)
	if len(rows) != 1 || rows[0].State != "COMPLETED" || rows[0].Comment != "fwd_ret_5d_AAPL/ridge" || rows[0].ID != j.ExternalID {
		t.Errorf("sacct --name: %+v, want one COMPLETED job %s with comment fwd_ret_5d_AAPL/ridge", rows, j.ExternalID)
	}
	rc, err := e.r.Logs(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if b, _ := io.ReadAll(rc); !strings.Contains(string(b), "trained fwd_ret_5d_AAPL") {
		t.Errorf("log %q, want the job's output", b)
	}
}

// TestSlurmGPU runs a job that needs a GPU: it schedules on the fake
// GPUs, sees CUDA_VISIBLE_DEVICES, and sacct accounts one gres/gpu.
func TestSlurmGPU(t *testing.T) {
	requireCluster(t)
	t.Parallel()
	e := setup(t, "", flywheel.RetryPolicy{}, runner.Hooks{})
	id := uniqueID("gpu")
	addJob(t, e.store, id, func(j *flywheel.Job) { j.Resources.GPUs = 1 })
	j := e.runUntil(t, id, flywheel.JobSucceeded, flywheel.JobFailed, flywheel.JobLost, flywheel.JobCancelled)
	if j.State != flywheel.JobSucceeded {
		t.Fatalf("ended %s (error %q), want succeeded", j.State, j.Error)
	}
	var run map[string]string
	if err := json.Unmarshal([]byte(e.results[id][0]), &run); err != nil || run["cuda"] == "" {
		t.Errorf("CUDA_VISIBLE_DEVICES in the job = %q (%v), want it set", run["cuda"], err)
	}
	out, err := exec.Command("sacct", "-X", "-n", "-P", "-o", "AllocTRES", "-j", j.ExternalID).Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "gres/gpu=1") {
		t.Errorf("sacct AllocTRES %q, want gres/gpu=1", out)
	}
}

// TestSlurmCancel cancels a running Slurm job through the runner.
func TestSlurmCancel(t *testing.T) {
	requireCluster(t)
	t.Parallel()
	e := setup(t, "", flywheel.RetryPolicy{}, runner.Hooks{})
	id := uniqueID("cancel")
	sleeper, err := slurm.New(slurm.Config{Command: "sleep 300", StateDir: filepath.Join(e.dir, "slurm")})
	if err != nil {
		t.Fatal(err)
	}
	e.r, err = runner.New(runner.Config{Store: e.store, Executors: []flywheel.Executor{sleeper}})
	if err != nil {
		t.Fatal(err)
	}
	addJob(t, e.store, id, nil)
	j := e.runUntil(t, id, flywheel.JobRunning)
	if _, err := e.r.Cancel(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if j := e.runUntil(t, id, flywheel.JobCancelled); j.State != flywheel.JobCancelled {
		t.Fatalf("state %s, want cancelled", j.State)
	}
	rows := e.sacct(t, id, ended)
	if len(rows) != 1 || !strings.HasPrefix(rows[0].State, "CANCELLED") || rows[0].ID != j.ExternalID {
		t.Errorf("sacct --name: %+v, want one CANCELLED job %s", rows, j.ExternalID)
	}
}

// TestSlurmCommandFailureRetried fails a job on its first attempt: the
// runner resubmits it under the same name, and sacct shows one FAILED and
// one COMPLETED job of that name.
func TestSlurmCommandFailureRetried(t *testing.T) {
	requireCluster(t)
	t.Parallel()
	e := setup(t, "", flywheel.RetryPolicy{MaxAttempts: 2}, runner.Hooks{})
	id := uniqueID("retry")
	mark := filepath.Join(e.dir, "fail", id)
	if err := os.MkdirAll(filepath.Dir(mark), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mark, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	addJob(t, e.store, id, nil)
	e.runUntil(t, id, flywheel.JobAdmitted) // failed once, requeued
	if err := os.Remove(mark); err != nil {
		t.Fatal(err)
	}
	j := e.runUntil(t, id, flywheel.JobSucceeded, flywheel.JobFailed)
	if j.State != flywheel.JobSucceeded || j.Attempt != 2 {
		t.Errorf("ended %s on attempt %d, want succeeded on attempt 2", j.State, j.Attempt)
	}
	var states []string
	for _, r := range e.sacct(t, id, func(rows []slurm.Record) bool { return len(rows) >= 2 && ended(rows) }) {
		states = append(states, r.State)
	}
	if !slices.Equal(states, []string{"FAILED", "COMPLETED"}) {
		t.Errorf("sacct --name states %v, want [FAILED COMPLETED]", states)
	}
}
