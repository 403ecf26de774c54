package runner

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/localexec"
	"github.com/flywheel-ml/flywheel/sqlite"
)

// trainScript is a fake training command: it writes a run JSON to
// $FLYWHEEL_RESULT. With a file "fail-once" in its job's work dir it
// fails the first time; with "hang-once" it hangs the first time.
const trainScript = `set -e
w="$WORK/$FLYWHEEL_JOB_ID"; mkdir -p "$w"
echo "training $FLYWHEEL_TARGET/$FLYWHEEL_MODEL_FAMILY attempt in $w"
echo $$ > "$w/pid"
if [ -e "$w/fail-once" ] && [ ! -e "$w/failed" ]; then touch "$w/failed"; echo boom >&2; exit 3; fi
if [ -e "$w/hang-once" ] && [ ! -e "$w/hung" ]; then touch "$w/hung"; sleep 60; fi
if [ -e "$w/fail" ]; then exit 4; fi
echo run >> "$w/runs"
printf '{"run_id":"run-%s","job_id":"%s","target":"%s","model_family":"%s"}' \
  "$FLYWHEEL_JOB_ID" "$FLYWHEEL_JOB_ID" "$FLYWHEEL_TARGET" "$FLYWHEEL_MODEL_FAMILY" > "$FLYWHEEL_RESULT"`

// localSetup is a runner over a real store and the local executor.
type localSetup struct {
	dir   string // holds the store, the state dir and $WORK
	store *sqlite.DB
	exec  *localexec.Executor
	r     *Runner

	mu      sync.Mutex
	results map[string][]string
}

func setupLocal(t *testing.T, dir string, tweak func(*Config)) *localSetup {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	s := &localSetup{dir: dir, store: openStore(t, dir), results: map[string][]string{}}
	script := filepath.Join(dir, "train.sh")
	if err := os.WriteFile(script, []byte(trainScript), 0o755); err != nil {
		t.Fatal(err)
	}
	ex, err := localexec.New(localexec.Config{
		Command: "sh " + script, StateDir: filepath.Join(dir, "state"), MaxConcurrent: 4,
		Env: []string{"WORK=" + filepath.Join(dir, "work")}, KillGrace: 200 * time.Millisecond, Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	s.exec = ex
	cfg := Config{
		Store: s.store, Executors: []flywheel.Executor{ex}, Logger: testLogger(t),
		PollInterval: 20 * time.Millisecond, Policy: flywheel.RetryPolicy{MaxAttempts: 2},
		OnResult: func(_ context.Context, j flywheel.Job, b []byte) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.results[j.ID] = append(s.results[j.ID], string(b))
			return nil
		},
	}
	if tweak != nil {
		tweak(&cfg)
	}
	if s.r, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	return s
}

// work returns the job's work dir, where trainScript keeps its marks.
func (s *localSetup) work(t *testing.T, id string) string {
	t.Helper()
	w := filepath.Join(s.dir, "work", id)
	if err := os.MkdirAll(w, 0o755); err != nil {
		t.Fatal(err)
	}
	return w
}

// runUntil runs rounds until the job is in one of states.
func runUntil(t *testing.T, r *Runner, s flywheel.JobStore, id string, states ...flywheel.JobState) flywheel.Job {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if err := r.Step(context.Background()); err != nil {
			t.Logf("Step: %v", err)
		}
		if j := getJob(t, s, id); slices.Contains(states, j.State) {
			return j
		}
		time.Sleep(20 * time.Millisecond)
	}
	j := getJob(t, s, id)
	t.Fatalf("job %s is %s after 30 s, want one of %v", id, j.State, states)
	return j
}

// TestLocalEndToEnd runs a real training command through the runner: the
// run JSON it writes reaches OnResult, the run id lands on the job, the
// history has every state, and the log is readable through the runner.
func TestLocalEndToEnd(t *testing.T) {
	t.Parallel()
	s := setupLocal(t, "", nil)
	newJob(t, s.store, "job-1", time.Now().UTC(), nil)
	j := runUntil(t, s.r, s.store, "job-1", flywheel.JobSucceeded, flywheel.JobFailed)
	if j.State != flywheel.JobSucceeded || j.RunID != "run-job-1" {
		t.Fatalf("ended %s with run %q (error %q), want succeeded with run-job-1", j.State, j.RunID, j.Error)
	}
	var run map[string]string
	if len(s.results["job-1"]) != 1 || json.Unmarshal([]byte(s.results["job-1"][0]), &run) != nil || run["target"] != "fwd_ret_5d_AAPL" {
		t.Errorf("results %q, want one run JSON for fwd_ret_5d_AAPL", s.results["job-1"])
	}
	want := []string{">admitted", "admitted>submitting", "submitting>submitted", "submitted>running", "running>succeeded"}
	if got := transitions(t, s.store, "job-1"); !slices.Equal(got, want) {
		t.Errorf("history %v, want %v", got, want)
	}
	rc, err := s.r.Logs(context.Background(), "job-1")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	if !strings.Contains(string(b), "training fwd_ret_5d_AAPL/ridge") {
		t.Errorf("log:\n%s\nwant the command's output", b)
	}
}

// TestLocalRetryThenFail checks the command failure class on real
// processes: a command that fails once is retried and succeeds; one that
// always fails stops after MaxAttempts (2).
func TestLocalRetryThenFail(t *testing.T) {
	t.Parallel()
	s := setupLocal(t, "", nil)
	now := time.Now().UTC()
	touch(t, filepath.Join(s.work(t, "flaky"), "fail-once"))
	touch(t, filepath.Join(s.work(t, "broken"), "fail"))
	newJob(t, s.store, "flaky", now, nil)
	newJob(t, s.store, "broken", now, nil)
	j := runUntil(t, s.r, s.store, "flaky", flywheel.JobSucceeded, flywheel.JobFailed)
	if j.State != flywheel.JobSucceeded || j.Attempt != 2 || j.Error != "" {
		t.Errorf("flaky: %s attempt %d error %q, want succeeded on attempt 2", j.State, j.Attempt, j.Error)
	}
	j = runUntil(t, s.r, s.store, "broken", flywheel.JobSucceeded, flywheel.JobFailed)
	if j.State != flywheel.JobFailed || j.Attempt != 2 || !strings.Contains(j.Error, "exited 4") {
		t.Errorf("broken: %s attempt %d error %q, want failed on attempt 2 with exit 4", j.State, j.Attempt, j.Error)
	}
	log := readAll(t, s.r, "broken")
	if n := strings.Count(log, "=== flywheel: job broken"); n != 2 {
		t.Errorf("broken ran %d times, want 2:\n%s", n, log)
	}
}

// TestLocalCancel cancels a running job: its process dies and the job is
// cancelled for good.
func TestLocalCancel(t *testing.T) {
	t.Parallel()
	s := setupLocal(t, "", nil)
	touch(t, filepath.Join(s.work(t, "job-1"), "hang-once"))
	newJob(t, s.store, "job-1", time.Now().UTC(), nil)
	runUntil(t, s.r, s.store, "job-1", flywheel.JobRunning)
	pid := readPid(t, filepath.Join(s.work(t, "job-1"), "pid"))
	j, err := s.r.Cancel(context.Background(), "job-1")
	if err != nil || j.State != flywheel.JobCancelled {
		t.Fatalf("Cancel = %s, %v", j.State, err)
	}
	waitDead(t, pid)
	for range 5 {
		step(t, s.r)
	}
	if j := getJob(t, s.store, "job-1"); j.State != flywheel.JobCancelled {
		t.Errorf("after more rounds: %s, want cancelled", j.State)
	}
}

// TestLocalAdoptAfterRestart starts a job, then throws the runner and
// the executor away (a daemon that restarts) while the job runs: the new
// runner adopts the live process, and the job runs once and reports once.
func TestLocalAdoptAfterRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := setupLocal(t, dir, nil)
	hold := filepath.Join(first.work(t, "job-1"), "hold")
	touch(t, hold)
	// The script waits while "hold" exists, so the job outlives the first runner.
	if err := os.WriteFile(filepath.Join(dir, "train.sh"),
		[]byte("while [ -e \"$WORK/$FLYWHEEL_JOB_ID/hold\" ]; do sleep 0.02; done\n"+trainScript), 0o755); err != nil {
		t.Fatal(err)
	}
	newJob(t, first.store, "job-1", time.Now().UTC(), nil)
	runUntil(t, first.r, first.store, "job-1", flywheel.JobRunning)
	running := getJob(t, first.store, "job-1")

	second := setupLocal(t, dir, nil) // a second daemon on the first one's files
	if err := second.r.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if j := getJob(t, second.store, "job-1"); j.State != flywheel.JobRunning || j.ExternalID != running.ExternalID {
		t.Errorf("after reconcile: %s as %s, want still running as %s", j.State, j.ExternalID, running.ExternalID)
	}
	if err := os.Remove(hold); err != nil {
		t.Fatal(err)
	}
	j := runUntil(t, second.r, second.store, "job-1", flywheel.JobSucceeded, flywheel.JobFailed, flywheel.JobLost)
	if j.State != flywheel.JobSucceeded || j.Attempt != 1 || len(second.results["job-1"]) != 1 {
		t.Errorf("ended %s attempt %d with %d results, want succeeded on attempt 1 with one result", j.State, j.Attempt, len(second.results["job-1"]))
	}
	if runs, _ := os.ReadFile(filepath.Join(dir, "work", "job-1", "runs")); string(runs) != "run\n" {
		t.Errorf("runs %q, want the command to have run once", runs)
	}
}

// TestLocalLostAfterRestart kills a job's processes while its runner is
// down: the new runner finds no process and no exit status, declares the
// attempt lost and retries it.
func TestLocalLostAfterRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := setupLocal(t, dir, nil)
	touch(t, filepath.Join(first.work(t, "job-1"), "hang-once"))
	newJob(t, first.store, "job-1", time.Now().UTC(), nil)
	runUntil(t, first.r, first.store, "job-1", flywheel.JobRunning)
	// Kill it once it hangs, so that the retry does not hang too.
	waitFile(t, filepath.Join(first.work(t, "job-1"), "hung"))
	wrapper, err := strconv.Atoi(getJob(t, first.store, "job-1").ExternalID)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(-wrapper, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	second := setupLocal(t, dir, nil) // a second daemon on the first one's files
	j := runUntil(t, second.r, second.store, "job-1", flywheel.JobSucceeded, flywheel.JobFailed, flywheel.JobLost)
	if j.State != flywheel.JobSucceeded || j.Attempt != 2 {
		t.Errorf("ended %s attempt %d (error %q), want succeeded on attempt 2", j.State, j.Attempt, j.Error)
	}
	evs, _ := second.store.JobEvents(context.Background(), "job-1")
	if !slices.ContainsFunc(evs, func(e flywheel.JobEvent) bool { return strings.HasPrefix(e.Message, "retry after lost") }) {
		t.Errorf("history has no retry after lost: %+v", evs)
	}
}

func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

func waitFile(t *testing.T, path string) {
	t.Helper()
	for range 500 {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s did not appear", path)
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	for range 500 {
		if b, err := os.ReadFile(path); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				return pid
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no pid in %s", path)
	return 0
}

// waitDead waits until pid is gone or a zombie.
func waitDead(t *testing.T, pid int) {
	t.Helper()
	for range 300 {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return
		}
		if i := strings.LastIndexByte(string(b), ')'); i > 0 && strings.HasPrefix(string(b[i+1:]), " Z") {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("process %d still runs", pid)
}

func readAll(t *testing.T, r *Runner, id string) string {
	t.Helper()
	rc, err := r.Logs(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
