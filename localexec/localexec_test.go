package localexec

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
)

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// setup returns an executor running command in a fresh state directory.
func setup(t *testing.T, command string, tweak func(*Config)) *Executor {
	t.Helper()
	cfg := Config{
		Command: command, StateDir: t.TempDir(), MaxConcurrent: 4,
		API: "http://127.0.0.1:9", Token: "tok", ConfigDir: "/cfg",
		KillGrace: 300 * time.Millisecond, Logger: testLogger(t),
	}
	if tweak != nil {
		tweak(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func testJob(id string) flywheel.Job {
	return flywheel.Job{ID: id, ModelKey: flywheel.ModelKey{Target: "fwd_ret_5d_AAPL", ModelFamily: "ridge"}, Attempt: 1}
}

// start submits and releases j.
func start(t *testing.T, e *Executor, j flywheel.Job) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.Submit(ctx, j); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	if err := e.Release(ctx, j); err != nil {
		t.Fatalf("Release: %v", err)
	}
}

func poll(t *testing.T, e *Executor, j flywheel.Job) flywheel.ExecStatus {
	t.Helper()
	sts, err := e.Poll(context.Background(), []flywheel.Job{j})
	if err != nil {
		t.Fatalf("Poll: %v", err)
	}
	return sts[0]
}

// waitEnd polls j until it ends.
func waitEnd(t *testing.T, e *Executor, j flywheel.Job) flywheel.ExecStatus {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if st := poll(t, e, j); st.State.Terminal() {
			return st
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("job %s did not end within 20 s", j.ID)
	return flywheel.ExecStatus{}
}

// waitFile waits for path to exist and returns its content.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	for range 500 {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return string(b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s did not appear", path)
	return ""
}

func readLog(t *testing.T, e *Executor, j flywheel.Job) string {
	t.Helper()
	rc, err := e.Logs(context.Background(), j)
	if err != nil {
		t.Fatalf("Logs: %v", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// pidGone reports whether pid no longer runs (zombies count as gone).
func pidGone(pid int) bool {
	live, err := alive(pid, mustTicks(pid))
	return err == nil && !live
}

func mustTicks(pid int) uint64 {
	s, ok, _ := readStat(pid)
	if !ok {
		return 0
	}
	return s.StartTicks
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	for range 300 {
		if pidGone(pid) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("process %d still runs", pid)
}

// TestRunsCommandWithContract runs a fake training command that checks
// the contract: placeholders in the argv, the environment, the result
// file, the log.
func TestRunsCommandWithContract(t *testing.T) {
	t.Parallel()
	e := setup(t, `sh -c 'echo "args: $*"; env | grep ^FLYWHEEL_ | sort; printf "{\"run_id\":\"r-%s\"}" "$FLYWHEEL_JOB_ID" > "$FLYWHEEL_RESULT"' x {target} {model_family} {job_id} {config_dir}`, nil)
	j := testJob("job-1")
	id, err := e.Submit(context.Background(), j)
	if err != nil || id != "job-1" {
		t.Fatalf("Submit = %q, %v; want job-1", id, err)
	}
	if st := poll(t, e, j); st.State != flywheel.JobSubmitted || !st.Held {
		t.Errorf("after Submit: state %s held %v, want submitted and held", st.State, st.Held)
	}
	if err := e.Release(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	st := waitEnd(t, e, j)
	if st.State != flywheel.JobSucceeded || st.ExitCode != 0 || st.Failure != "" {
		t.Errorf("state %s exit %d failure %q, want succeeded 0", st.State, st.ExitCode, st.Failure)
	}
	if string(st.Result) != `{"run_id":"r-job-1"}` {
		t.Errorf("result %q, want the run JSON the command wrote", st.Result)
	}
	if st.StartedAt == nil {
		t.Errorf("StartedAt is nil")
	}
	log := readLog(t, e, j)
	for _, want := range []string{
		"args: fwd_ret_5d_AAPL ridge job-1 /cfg",
		"FLYWHEEL_API=http://127.0.0.1:9", "FLYWHEEL_CONFIG_DIR=/cfg", "FLYWHEEL_JOB_ID=job-1",
		"FLYWHEEL_MODEL_FAMILY=ridge", "FLYWHEEL_RESULT=" + filepath.Join(e.JobDir("job-1"), "result.json"),
		"FLYWHEEL_TARGET=fwd_ret_5d_AAPL", "FLYWHEEL_TOKEN=tok",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

// TestNoShellByDefault checks that the template is not interpreted by a
// shell unless it asks for one.
func TestNoShellByDefault(t *testing.T) {
	t.Parallel()
	e := setup(t, `echo {target} '$HOME' ; * "a  b"`, nil)
	j := testJob("job-1")
	start(t, e, j)
	waitEnd(t, e, j)
	if log := readLog(t, e, j); !strings.Contains(log, "fwd_ret_5d_AAPL $HOME ; * a  b\n") {
		t.Errorf("log:\n%s\nwant the words echoed literally", log)
	}
}

// TestExitClasses checks how an exit maps to a state and failure class.
func TestExitClasses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		command string
		state   flywheel.JobState
		failure flywheel.FailureClass
		exit    int
	}{
		{"true", flywheel.JobSucceeded, "", 0},
		{"sh -c 'exit 3'", flywheel.JobFailed, flywheel.FailureCommand, 3},
		{"sh -c 'kill -9 $$'", flywheel.JobFailed, flywheel.FailureOOM, 137},
		{"sh -c 'kill -SEGV $$'", flywheel.JobFailed, flywheel.FailureCommand, 139},
		{"/nonexistent/train", flywheel.JobFailed, flywheel.FailureCommand, 127},
	}
	for _, tt := range tests {
		t.Run(tt.command, func(t *testing.T) {
			t.Parallel()
			e := setup(t, tt.command, nil)
			j := testJob("job-1")
			start(t, e, j)
			st := waitEnd(t, e, j)
			if st.State != tt.state || st.Failure != tt.failure || st.ExitCode != tt.exit {
				t.Errorf("state %s failure %q exit %d, want %s %q %d (%s)", st.State, st.Failure, st.ExitCode,
					tt.state, tt.failure, tt.exit, st.Message)
			}
		})
	}
}

// TestTimeoutKillsGroup runs a job past its limit: it fails as a timeout,
// and the whole process group dies, the grandchild included, even one
// that ignores SIGTERM.
func TestTimeoutKillsGroup(t *testing.T) {
	t.Parallel()
	e := setup(t, `sh -c 'trap "" TERM; sleep 60 & echo $! > "$FLYWHEEL_RESULT.child"; wait'`, func(c *Config) {
		c.Limits = flywheel.TimeLimits{Factor: 1, Min: time.Millisecond}
	})
	j := testJob("job-1")
	j.EstimatedSeconds = 0.3
	start(t, e, j)
	child, err := strconv.Atoi(strings.TrimSpace(waitFile(t, filepath.Join(e.JobDir("job-1"), "result.json.child"))))
	if err != nil {
		t.Fatal(err)
	}
	st := waitEnd(t, e, j)
	if st.State != flywheel.JobFailed || st.Failure != flywheel.FailureTimeout {
		t.Errorf("state %s failure %q, want failed timeout (%s)", st.State, st.Failure, st.Message)
	}
	waitGone(t, child)
}

// TestCancel cancels a running job and a held one.
func TestCancel(t *testing.T) {
	t.Parallel()
	e := setup(t, `sh -c 'echo $$ > "$FLYWHEEL_RESULT.pid"; sleep 60'`, nil)
	ctx := context.Background()
	run, held := testJob("running"), testJob("held")
	start(t, e, run)
	pid, _ := strconv.Atoi(strings.TrimSpace(waitFile(t, filepath.Join(e.JobDir("running"), "result.json.pid"))))
	if _, err := e.Submit(ctx, held); err != nil {
		t.Fatal(err)
	}
	for _, j := range []flywheel.Job{run, held} {
		if err := e.Cancel(ctx, j); err != nil {
			t.Fatalf("Cancel %s: %v", j.ID, err)
		}
	}
	for _, j := range []flywheel.Job{run, held} {
		if st := waitEnd(t, e, j); st.State != flywheel.JobCancelled {
			t.Errorf("%s: state %s, want cancelled (%s)", j.ID, st.State, st.Message)
		}
	}
	waitGone(t, pid)
	// A cancelled held job never starts, even when released.
	if err := e.Release(ctx, held); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(e.LogPath("held")); err == nil {
		t.Errorf("the cancelled held job wrote a log: it started")
	}
	// Cancelling again, or cancelling an unknown job, is not an error.
	if err := e.Cancel(ctx, run); err != nil {
		t.Errorf("second Cancel: %v", err)
	}
	if err := e.Cancel(ctx, testJob("unknown")); err != nil {
		t.Errorf("Cancel of an unknown job: %v", err)
	}
}

// TestMaxConcurrent checks the safety net: Release refuses a job over the
// limit with EUnavailable, and accepts it once a slot frees.
func TestMaxConcurrent(t *testing.T) {
	t.Parallel()
	e := setup(t, `sh -c 'while [ ! -e "$FLYWHEEL_RESULT.go" ]; do sleep 0.02; done'`, func(c *Config) { c.MaxConcurrent = 1 })
	ctx := context.Background()
	a, b := testJob("a"), testJob("b")
	start(t, e, a)
	if _, err := e.Submit(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := e.Release(ctx, b); flywheel.Code(err) != flywheel.EUnavailable {
		t.Fatalf("Release over the limit: %v, want EUnavailable", err)
	}
	if st := poll(t, e, b); st.State != flywheel.JobSubmitted || !st.Held {
		t.Errorf("refused job: state %s held %v, want still held", st.State, st.Held)
	}
	if err := os.WriteFile(filepath.Join(e.JobDir("a"), "result.json.go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitEnd(t, e, a)
	if err := e.Release(ctx, b); err != nil {
		t.Fatalf("Release after a slot freed: %v", err)
	}
	if err := os.WriteFile(filepath.Join(e.JobDir("b"), "result.json.go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if st := waitEnd(t, e, b); st.State != flywheel.JobSucceeded {
		t.Errorf("b: state %s, want succeeded", st.State)
	}
}

// TestSubmitIdempotent checks that Submit adopts a live try instead of
// making a second one, and starts afresh after the try ended.
func TestSubmitIdempotent(t *testing.T) {
	t.Parallel()
	e := setup(t, `sh -c 'echo run >> "$FLYWHEEL_RESULT.runs"; while [ ! -e "$FLYWHEEL_RESULT.go" ]; do sleep 0.02; done'`, nil)
	ctx := context.Background()
	j := testJob("job-1")
	for range 2 {
		if id, err := e.Submit(ctx, j); err != nil || id != "job-1" {
			t.Fatalf("Submit of a held job = %q, %v; want job-1", id, err)
		}
	}
	if err := e.Release(ctx, j); err != nil {
		t.Fatal(err)
	}
	if err := e.Release(ctx, j); err != nil {
		t.Fatalf("second Release: %v", err)
	}
	st := poll(t, e, j)
	id, err := e.Submit(ctx, j)
	if err != nil || id != st.ExternalID || id == "job-1" {
		t.Errorf("Submit of a running job = %q, %v; want its pid %q", id, err, st.ExternalID)
	}
	if err := os.WriteFile(filepath.Join(e.JobDir("job-1"), "result.json.go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitEnd(t, e, j)
	if runs := waitFile(t, filepath.Join(e.JobDir("job-1"), "result.json.runs")); runs != "run\n" {
		t.Errorf("the command ran %d times, want once", strings.Count(runs, "run"))
	}
	// The try has ended: the next Submit is a new attempt.
	if _, err := e.Submit(ctx, j); err != nil {
		t.Fatal(err)
	}
	if st := poll(t, e, j); st.State != flywheel.JobSubmitted || !st.Held {
		t.Errorf("after a new Submit: state %s held %v, want a new held try", st.State, st.Held)
	}
}

// TestAdoptAfterRestart starts a job, forgets the executor (a daemon that
// restarts), and checks that a new executor on the same state directory
// adopts the live process and reads how it ended from the wrapper's exit
// file.
func TestAdoptAfterRestart(t *testing.T) {
	t.Parallel()
	cmd := `sh -c 'while [ ! -e "$FLYWHEEL_RESULT.go" ]; do sleep 0.02; done; printf "{\"run_id\":\"r1\"}" > "$FLYWHEEL_RESULT"'`
	first := setup(t, cmd, nil)
	j := testJob("job-1")
	start(t, first, j)
	pid := poll(t, first, j).ExternalID

	second := setup(t, cmd, func(c *Config) { c.StateDir = first.cfg.StateDir })
	if n := len(second.running); n != 1 {
		t.Errorf("new executor counts %d running jobs, want 1", n)
	}
	st := poll(t, second, j)
	if st.State != flywheel.JobRunning || st.ExternalID != pid {
		t.Fatalf("adopted job: state %s pid %s, want running as %s", st.State, st.ExternalID, pid)
	}
	if err := os.WriteFile(filepath.Join(second.JobDir("job-1"), "result.json.go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	st = waitEnd(t, second, j)
	if st.State != flywheel.JobSucceeded || string(st.Result) != `{"run_id":"r1"}` {
		t.Errorf("adopted job ended %s with result %q, want succeeded with its run", st.State, st.Result)
	}
}

// TestLostWhenProcessVanishes kills a job's whole process group behind
// the executor's back: with no exit status recorded, the job is lost.
func TestLostWhenProcessVanishes(t *testing.T) {
	t.Parallel()
	e := setup(t, "sleep 60", nil)
	j := testJob("job-1")
	start(t, e, j)
	pid, err := strconv.Atoi(poll(t, e, j).ExternalID)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	st := waitEnd(t, e, j)
	if st.State != flywheel.JobLost || st.Failure != flywheel.FailureLost {
		t.Errorf("state %s failure %q, want lost", st.State, st.Failure)
	}
}

// TestAdoptUnrecordedStart simulates a crash between starting the process
// and recording its pid: a new executor finds the wrapper in /proc.
func TestAdoptUnrecordedStart(t *testing.T) {
	t.Parallel()
	e := setup(t, `sh -c 'while [ ! -e "$FLYWHEEL_RESULT.go" ]; do sleep 0.02; done'`, nil)
	j := testJob("job-1")
	start(t, e, j)
	dir := e.JobDir("job-1")
	tr, _, err := readTry(dir)
	if err != nil {
		t.Fatal(err)
	}
	pid := tr.PID
	tr.PID, tr.StartTicks, tr.StartedAt = 0, 0, time.Time{}
	if err := writeTry(dir, tr); err != nil {
		t.Fatal(err)
	}
	second := setup(t, "true", func(c *Config) { c.StateDir = e.cfg.StateDir })
	st := poll(t, second, j)
	if st.State != flywheel.JobRunning || st.ExternalID != strconv.Itoa(pid) {
		t.Errorf("state %s pid %s, want running as %d (%s)", st.State, st.ExternalID, pid, st.Message)
	}
	if err := os.WriteFile(filepath.Join(dir, "result.json.go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if st := waitEnd(t, second, j); st.State != flywheel.JobSucceeded {
		t.Errorf("state %s, want succeeded", st.State)
	}
}

// TestAliveSeesZombies checks that a zombie (ended, not reaped) counts as
// dead, which kill -0 would not say.
func TestAliveSeesZombies(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	ticks := mustTicks(pid)
	if live, err := alive(pid, ticks); err != nil || !live {
		t.Fatalf("alive(running) = %v, %v", live, err)
	}
	if live, _ := alive(pid, ticks+1); live {
		t.Errorf("alive with other start ticks = true, want false (a reused pid)")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	for range 200 {
		if s, _, _ := readStat(pid); s.State == 'Z' {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("kill -0 on the zombie: %v (the test needs a zombie)", err)
	}
	if live, err := alive(pid, ticks); err != nil || live {
		t.Errorf("alive(zombie) = %v, %v; want false", live, err)
	}
	_ = cmd.Wait()
}

func TestParseStat(t *testing.T) {
	t.Parallel()
	rest := " 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 4242 20 21\n"
	tests := []struct {
		in    string
		state byte
		ticks uint64
		err   bool
	}{
		{"123 (sleep) S" + rest, 'S', 4242, false},
		{"123 (a) b) (c) Z" + rest, 'Z', 4242, false},
		{"123 (sleep S 1 2", 0, 0, true},
		{"123 (x) R 1 2", 0, 0, true},
	}
	for _, tt := range tests {
		s, err := parseStat([]byte(tt.in))
		if (err != nil) != tt.err || s.State != tt.state || s.StartTicks != tt.ticks {
			t.Errorf("parseStat(%q) = %c %d %v, want %c %d error %v", tt.in, s.State, s.StartTicks, err, tt.state, tt.ticks, tt.err)
		}
	}
}

func TestLogsOfUnknownJob(t *testing.T) {
	t.Parallel()
	e := setup(t, "true", nil)
	if _, err := e.Logs(context.Background(), testJob("nope")); flywheel.Code(err) != flywheel.ENotFound {
		t.Errorf("Logs of an unknown job: %v, want ENotFound", err)
	}
	if _, err := e.Submit(context.Background(), testJob("../escape")); flywheel.Code(err) != flywheel.EInvalid {
		t.Errorf("Submit with a path in the id: %v, want EInvalid", err)
	}
}
