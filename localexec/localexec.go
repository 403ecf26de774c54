// Package localexec runs training jobs as child processes of this machine:
// the "local" flywheel.Executor.
//
// Each job gets a directory under the state directory holding its log
// (stdout and stderr of every attempt, appended), its try record (pid,
// start time, deadline, why flywheel stopped it), the exit status and the
// result file ($FLYWHEEL_RESULT). The command runs under a small sh
// wrapper that records the exit status in the job's directory, in a
// session of its own: the job outlives the daemon, and a daemon that
// restarts adopts a job whose process still lives (checked in
// /proc/PID/stat, not with kill -0, which says yes to zombies) and learns
// how an adopted job ended from the file its wrapper wrote.
//
// Submit prepares a held try; Release starts the process, unless the
// number of running jobs is at the limit (a safety net under the
// scheduler's admission). Timeouts and cancellation signal the whole
// process group: SIGTERM, then SIGKILL after a grace period.
package localexec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/internal/jobcmd"
)

// Name is the executor's name, as Job.Executor holds it.
const Name = "local"

// wrapperName is $0 of the wrapper shell; findWrapper looks for it.
const wrapperName = "flywheel-job"

// wrapper runs the job's command ("$@" after the exit file) and records
// its exit status atomically, so that a daemon that did not start the
// process (it restarted since) still learns how it ended. A command killed
// by signal N exits 128+N.
const wrapper = `f=$1; shift
"$@"
s=$?
printf '%d\n' "$s" > "$f.tmp" && mv -f "$f.tmp" "$f"
exit "$s"`

// Log keys.
const (
	keyJob = "job_id"
	keyPID = "pid"
	keyErr = "err"
)

// Config configures the local executor.
type Config struct {
	// Command is the command template, e.g. `python train.py --target
	// {target} --family {model_family} --config-dir {config_dir}`; see
	// package jobcmd for its syntax.
	Command string
	// StateDir holds one directory per job. Required.
	StateDir string
	// Dir is the working directory of the jobs; empty means the daemon's.
	Dir string
	// MaxConcurrent is the most jobs running at once; Release refuses more
	// (EUnavailable). Zero means the number of CPUs.
	MaxConcurrent int
	// API and Token are given to the job to report through the HTTP API;
	// ConfigDir is the pipeline's config directory.
	API       string
	Token     string
	ConfigDir string
	// Env adds KEY=value pairs to the jobs' environment.
	Env []string
	// Limits turns a job's runtime estimate into its time limit.
	Limits flywheel.TimeLimits
	// KillGrace is how long a job has between SIGTERM and SIGKILL. Zero
	// means 10 s.
	KillGrace time.Duration
	// StartGrace is how long a try may stay released without a recorded
	// process before it is called lost (a crash between starting the
	// process and recording its pid leaves that state). Zero means 10 s.
	StartGrace time.Duration
	Logger     *slog.Logger
	// Now is the clock; nil means the wall clock.
	Now func() time.Time
}

// Executor is the local executor. It is safe for concurrent use; one
// state directory must have one Executor.
type Executor struct {
	cfg  Config
	tmpl jobcmd.Template
	log  *slog.Logger
	now  func() time.Time

	mu sync.Mutex
	// running are the jobs whose process this executor has seen live, by
	// job id; Release prunes the dead before comparing with the limit.
	running map[string]proc
}

// proc identifies a process across pid reuse.
type proc struct {
	pid   int
	ticks uint64
}

var _ flywheel.Executor = (*Executor)(nil)

// New returns a local executor. It creates the state directory and
// counts the jobs already running there (started by an earlier daemon).
func New(cfg Config) (*Executor, error) {
	if cfg.StateDir == "" {
		return nil, flywheel.FieldError("state_dir", "is required")
	}
	tmpl, err := jobcmd.Parse(cfg.Command)
	if err != nil {
		return nil, flywheel.FieldError("command", "%v", err)
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = runtime.NumCPU()
	}
	if cfg.KillGrace <= 0 {
		cfg.KillGrace = 10 * time.Second
	}
	if cfg.StartGrace <= 0 {
		cfg.StartGrace = 10 * time.Second
	}
	e := &Executor{cfg: cfg, tmpl: tmpl, log: cfg.Logger, now: cfg.Now, running: map[string]proc{}}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = func() time.Time { return time.Now().UTC() }
	}
	if err := os.MkdirAll(filepath.Join(cfg.StateDir, "jobs"), 0o755); err != nil {
		return nil, fmt.Errorf("local executor: %w", err)
	}
	if err := e.countRunning(); err != nil {
		return nil, fmt.Errorf("local executor: %w", err)
	}
	return e, nil
}

// Name returns "local".
func (e *Executor) Name() string { return Name }

// countRunning fills e.running from the try records on disk.
func (e *Executor) countRunning() error {
	dirs, err := os.ReadDir(filepath.Join(e.cfg.StateDir, "jobs"))
	if err != nil {
		return err
	}
	for _, d := range dirs {
		t, ok, err := readTry(filepath.Join(e.cfg.StateDir, "jobs", d.Name()))
		if err != nil || !ok || t.PID == 0 {
			continue
		}
		if live, _ := alive(t.PID, t.StartTicks); live {
			e.running[d.Name()] = proc{t.PID, t.StartTicks}
		}
	}
	return nil
}

// JobDir returns the directory of a job's files.
func (e *Executor) JobDir(jobID string) string {
	return filepath.Join(e.cfg.StateDir, "jobs", jobID)
}

// LogPath returns the file holding a job's stdout and stderr, every
// attempt appended.
func (e *Executor) LogPath(jobID string) string { return filepath.Join(e.JobDir(jobID), "log") }

// Logs opens the job's log; ENotFound when the job never started.
func (e *Executor) Logs(_ context.Context, j flywheel.Job) (io.ReadCloser, error) {
	if err := flywheel.CheckName("id", j.ID, true); err != nil {
		return nil, err
	}
	f, err := os.Open(e.LogPath(j.ID))
	if errors.Is(err, os.ErrNotExist) {
		return nil, flywheel.Errorf(flywheel.ENotFound, "job %s has no log", j.ID)
	}
	return f, err
}

// Submit prepares a held try of j. When j already has a live try (held,
// starting or running) it returns that one; a try that has ended belongs
// to an earlier attempt and is replaced. The external id is the job id
// until the process starts, then its pid.
func (e *Executor) Submit(_ context.Context, j flywheel.Job) (string, error) {
	if err := flywheel.CheckName("id", j.ID, true); err != nil {
		return "", err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	dir := e.JobDir(j.ID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("submit %s: %w", j.ID, err)
	}
	t, ok, err := readTry(dir)
	if err != nil {
		return "", fmt.Errorf("submit %s: %w", j.ID, err)
	}
	if ok && t.Stop == "" {
		if t.Held || (t.PID == 0 && e.now().Sub(t.ReleasedAt) < e.cfg.StartGrace) {
			return j.ID, nil
		}
		if live, err := alive(t.PID, t.StartTicks); err != nil {
			return "", fmt.Errorf("submit %s: %w", j.ID, err)
		} else if live {
			return strconv.Itoa(t.PID), nil
		}
	}
	// A new try: forget the outcome of the last one.
	for _, f := range []string{exitFile, resultFile} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("submit %s: %w", j.ID, err)
		}
	}
	limit := e.cfg.Limits.For(j)
	nt := try{JobID: j.ID, Attempt: max(j.Attempt, 1), Held: true, SubmittedAt: e.now(), Limit: limit}
	if err := writeTry(dir, nt); err != nil {
		return "", fmt.Errorf("submit %s: %w", j.ID, err)
	}
	return j.ID, nil
}

// Release starts the held try of j. It returns EUnavailable while
// MaxConcurrent jobs run, and nil when the try has started already.
func (e *Executor) Release(_ context.Context, j flywheel.Job) error {
	if err := flywheel.CheckName("id", j.ID, true); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	dir := e.JobDir(j.ID)
	t, ok, err := readTry(dir)
	if err != nil {
		return fmt.Errorf("release %s: %w", j.ID, err)
	}
	if !ok {
		return flywheel.Errorf(flywheel.ENotFound, "job %s was not submitted to the local executor", j.ID)
	}
	if !t.Held || t.Stop != "" {
		return nil
	}
	if n := e.pruneRunning(); n >= e.cfg.MaxConcurrent {
		return flywheel.Errorf(flywheel.EUnavailable, "%d jobs running, the local limit", n)
	}
	// Record that the start begins before starting: a crash between the
	// two then shows as a released try without a pid, which Poll resolves
	// by looking for the wrapper in /proc.
	t.Held, t.ReleasedAt = false, e.now()
	if err := writeTry(dir, t); err != nil {
		return fmt.Errorf("release %s: %w", j.ID, err)
	}
	p, err := e.start(dir, j, t)
	if err != nil {
		// The command could not even start (no sh, no log file): record it
		// as a failed exit so that Poll reports a command failure.
		e.log.Error("local job failed to start", keyJob, j.ID, keyErr, err)
		appendLog(filepath.Join(dir, logFile), fmt.Sprintf("flywheel: could not start: %v\n", err))
		return writeFileAtomic(filepath.Join(dir, exitFile), []byte("127\n"))
	}
	t.PID, t.StartTicks, t.StartedAt = p.pid, p.ticks, e.now()
	if err := writeTry(dir, t); err != nil {
		return fmt.Errorf("release %s: %w", j.ID, err)
	}
	e.running[j.ID] = p
	e.log.Info("local job started", keyJob, j.ID, keyPID, p.pid)
	return nil
}

// pruneRunning drops the jobs whose process has ended and returns how
// many remain.
func (e *Executor) pruneRunning() int {
	for id, p := range e.running {
		if live, err := alive(p.pid, p.ticks); err == nil && !live {
			delete(e.running, id)
		}
	}
	return len(e.running)
}

// start runs the job's command under the wrapper, in a session of its
// own so that it survives the daemon and its signals.
func (e *Executor) start(dir string, j flywheel.Job, t try) (proc, error) {
	vars := jobcmd.Vars{
		JobID: j.ID, Target: j.Target, ModelFamily: j.ModelFamily, ConfigDir: e.cfg.ConfigDir,
		API: e.cfg.API, Token: e.cfg.Token, Result: filepath.Join(dir, resultFile),
	}
	argv := e.tmpl.Expand(vars)
	logf, err := os.OpenFile(filepath.Join(dir, logFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return proc{}, err
	}
	defer logf.Close() // the child holds its own copy
	fmt.Fprintf(logf, "=== flywheel: job %s attempt %d at %s, limit %s: %s\n", j.ID, t.Attempt,
		e.now().Format(time.RFC3339Nano), t.Limit, strings.Join(argv, " "))
	cmd := exec.Command("/bin/sh", append([]string{"-c", wrapper, wrapperName, filepath.Join(dir, exitFile)}, argv...)...)
	cmd.Dir = e.cfg.Dir
	cmd.Env = append(append(jobEnviron(), e.cfg.Env...), vars.Env()...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return proc{}, err
	}
	// Reap the wrapper when it ends; an adopted process is reaped by init.
	go func() { _ = cmd.Wait() }()
	s, ok, err := readStat(cmd.Process.Pid)
	if err != nil || !ok {
		// It ended already (and may be reaped): the pid alone must do; the
		// exit file tells the outcome.
		return proc{pid: cmd.Process.Pid}, nil
	}
	return proc{pid: cmd.Process.Pid, ticks: s.StartTicks}, nil
}

// jobEnviron is the daemon's environment without its own FLYWHEEL_
// variables (its token above all), which the job's replace.
func jobEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FLYWHEEL_") {
			env = append(env, kv)
		}
	}
	return env
}

// Cancel stops the job's try: a held one never starts, a running one gets
// SIGTERM and, after KillGrace, SIGKILL.
func (e *Executor) Cancel(_ context.Context, j flywheel.Job) error {
	if err := flywheel.CheckName("id", j.ID, true); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stop(e.JobDir(j.ID), stopCancelled)
}

// stop records why flywheel stops a try and signals its process. The
// caller holds e.mu.
func (e *Executor) stop(dir, reason string) error {
	t, ok, err := readTry(dir)
	if err != nil || !ok || t.Stop != "" {
		return err
	}
	if t.PID != 0 {
		if live, err := alive(t.PID, t.StartTicks); err != nil || !live {
			return err // it has ended: its outcome stands
		}
	}
	t.Stop, t.StopAt, t.Held = reason, e.now(), false
	if err := writeTry(dir, t); err != nil {
		return err
	}
	if t.PID == 0 {
		return nil
	}
	e.log.Info("stopping local job", keyJob, t.JobID, keyPID, t.PID, "reason", reason)
	if err := signalGroup(t.PID, syscall.SIGTERM); err != nil {
		return err
	}
	// Kill the group after the grace even when its leader (the wrapper)
	// has died: children that ignore SIGTERM would outlive it. Poll does
	// the same for a daemon that restarted in between.
	pid := t.PID
	time.AfterFunc(e.cfg.KillGrace, func() { _ = signalGroup(pid, syscall.SIGKILL) })
	return nil
}
