// Package slurm runs training jobs on a Slurm cluster: the "slurm"
// flywheel.Executor. It drives Slurm's own commands (sbatch, squeue,
// sacct, scontrol, scancel), so it needs nothing but a working client
// setup (SLURM_CONF, munge) on the daemon's machine.
//
// Every job is submitted held (`sbatch --parsable --hold`) under a name
// derived from its flywheel id, and released (`scontrol release`) once
// the runner has recorded the Slurm id: after a crash at any point the
// runner finds a held job by its name and adopts it instead of submitting
// twice. Status comes from squeue while Slurm holds the job in memory and
// from sacct (slurmdbd) once it has ended; the Slurm state maps to a job
// state and a failure class (OUT_OF_MEMORY -> oom, PREEMPTED, NODE_FAIL,
// TIMEOUT, FAILED -> command).
//
// The batch script, the log (-o) and the result file ($FLYWHEEL_RESULT)
// live in StateDir, which must be shared with the compute nodes.
package slurm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/internal/jobcmd"
)

// Name is the executor's name, as Job.Executor holds it.
const Name = "slurm"

// DefaultNamePrefix starts the Slurm job name of every flywheel job.
const DefaultNamePrefix = "fw-"

// Log keys.
const (
	keyJob   = "job_id"
	keySlurm = "slurm_id"
	keyErr   = "err"
)

// Config configures the Slurm executor.
type Config struct {
	// Command is the command template; see package jobcmd.
	Command string
	// StateDir holds one directory per job (batch script, logs, results).
	// It must be visible at the same path on the compute nodes. Required.
	StateDir string
	// Dir is the jobs' working directory (sbatch -D); empty means
	// StateDir's job directory.
	Dir string
	// Partition and Account, when set, are passed to sbatch.
	Partition string
	Account   string
	// ExtraArgs are appended to sbatch's options (e.g. --qos=...).
	ExtraArgs []string
	// API, Token and ConfigDir are given to the job (see DESIGN.md).
	API       string
	Token     string
	ConfigDir string
	// Env adds KEY=value pairs to the jobs' environment.
	Env []string
	// Limits turns a job's runtime estimate into --time.
	Limits flywheel.TimeLimits
	// NamePrefix starts the Slurm job names; empty means "fw-".
	NamePrefix string
	// Paths of the Slurm commands; empty means found on PATH.
	Sbatch, Squeue, Sacct, Scontrol, Scancel string
	// SlurmConf, when set, is passed to the commands as SLURM_CONF.
	SlurmConf string
	// CommandTimeout bounds each Slurm command. Zero means 60 s.
	CommandTimeout time.Duration
	Logger         *slog.Logger
	// Now is the clock; nil means the wall clock.
	Now func() time.Time
}

// Executor is the Slurm executor. It is safe for concurrent use.
type Executor struct {
	cfg  Config
	tmpl jobcmd.Template
	log  *slog.Logger
	now  func() time.Time
	env  []string
}

var _ flywheel.Executor = (*Executor)(nil)

// New returns a Slurm executor. It does not contact the cluster.
func New(cfg Config) (*Executor, error) {
	if cfg.StateDir == "" {
		return nil, flywheel.FieldError("state_dir", "is required")
	}
	tmpl, err := jobcmd.Parse(cfg.Command)
	if err != nil {
		return nil, flywheel.FieldError("command", "%v", err)
	}
	if cfg.NamePrefix == "" {
		cfg.NamePrefix = DefaultNamePrefix
	}
	if cfg.CommandTimeout <= 0 {
		cfg.CommandTimeout = time.Minute
	}
	for _, c := range []struct {
		path *string
		name string
	}{{&cfg.Sbatch, "sbatch"}, {&cfg.Squeue, "squeue"}, {&cfg.Sacct, "sacct"}, {&cfg.Scontrol, "scontrol"}, {&cfg.Scancel, "scancel"}} {
		if *c.path == "" {
			*c.path = c.name // resolved on PATH when run
		}
	}
	e := &Executor{cfg: cfg, tmpl: tmpl, log: cfg.Logger, now: cfg.Now, env: os.Environ()}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = func() time.Time { return time.Now().UTC() }
	}
	if cfg.SlurmConf != "" {
		e.env = append(e.env, "SLURM_CONF="+cfg.SlurmConf)
	}
	if err := os.MkdirAll(cfg.StateDir, 0o755); err != nil {
		return nil, fmt.Errorf("slurm executor: %w", err)
	}
	return e, nil
}

// Name returns "slurm".
func (e *Executor) Name() string { return Name }

// JobName returns the Slurm job name of a flywheel job with the default
// prefix: "fw-" and the job id. Job ids are at most 128 characters of
// [A-Za-z0-9._-], which Slurm keeps as they are.
func JobName(jobID string) string { return DefaultNamePrefix + jobID }

// JobName returns the Slurm job name of a flywheel job.
func (e *Executor) JobName(jobID string) string { return e.cfg.NamePrefix + jobID }

// JobDir returns the directory of a job's script, logs and results.
func (e *Executor) JobDir(jobID string) string {
	return filepath.Join(e.cfg.StateDir, e.JobName(jobID))
}

// LogPath returns the log of one Slurm job of a flywheel job.
func (e *Executor) LogPath(jobID, slurmID string) string {
	return filepath.Join(e.JobDir(jobID), "slurm-"+slurmID+".log")
}

// resultPath returns the result file of one Slurm job of a flywheel job.
func (e *Executor) resultPath(jobID, slurmID string) string {
	return filepath.Join(e.JobDir(jobID), "result-"+slurmID+".json")
}

// Logs opens the log of the job's latest Slurm job.
func (e *Executor) Logs(_ context.Context, j flywheel.Job) (io.ReadCloser, error) {
	if err := flywheel.CheckName("id", j.ID, true); err != nil {
		return nil, err
	}
	if !isSlurmID(j.ExternalID) {
		return nil, flywheel.Errorf(flywheel.ENotFound, "job %s has no Slurm job yet", j.ID)
	}
	f, err := os.Open(e.LogPath(j.ID, j.ExternalID))
	if errors.Is(err, os.ErrNotExist) {
		return nil, flywheel.Errorf(flywheel.ENotFound, "job %s has no log yet", j.ID)
	}
	return f, err
}

// Submit submits j held and returns its Slurm id, or the id of the live
// Slurm job that already carries j's name.
func (e *Executor) Submit(ctx context.Context, j flywheel.Job) (string, error) {
	if err := flywheel.CheckName("id", j.ID, true); err != nil {
		return "", err
	}
	name := e.JobName(j.ID)
	live, err := e.squeue(ctx, []string{name})
	if err != nil {
		return "", fmt.Errorf("submit %s: %w", j.ID, err)
	}
	if rows := live[name]; len(rows) > 0 {
		if len(rows) > 1 {
			e.log.Warn("several live Slurm jobs carry one job's name; adopting the oldest", keyJob, j.ID, "count", len(rows))
		}
		e.log.Info("adopted the Slurm job already submitted", keyJob, j.ID, keySlurm, rows[0].ID)
		return rows[0].ID, nil
	}
	dir := e.JobDir(j.ID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("submit %s: %w", j.ID, err)
	}
	script := filepath.Join(dir, "job.sh")
	if err := writeFileAtomic(script, []byte(e.script(j, dir)), 0o700); err != nil {
		return "", fmt.Errorf("submit %s: %w", j.ID, err)
	}
	out, err := e.run(ctx, e.cfg.Sbatch, append(e.sbatchArgs(j, dir), script)...)
	if err != nil {
		return "", fmt.Errorf("submit %s: %w", j.ID, classifySbatch(err))
	}
	// --parsable prints "id" or "id;cluster".
	id, _, _ := strings.Cut(strings.TrimSpace(out), ";")
	if !isSlurmID(id) {
		return "", fmt.Errorf("submit %s: sbatch printed %q, not a job id", j.ID, out)
	}
	e.log.Info("submitted held to Slurm", keyJob, j.ID, keySlurm, id)
	return id, nil
}

// sbatchArgs returns sbatch's options for j (the script comes last).
func (e *Executor) sbatchArgs(j flywheel.Job, dir string) []string {
	r := j.Resources
	limit := e.cfg.Limits.For(j)
	args := []string{
		"--parsable", "--hold",
		"--job-name=" + e.JobName(j.ID),
		"--comment=" + j.ModelKey.String(),
		"--cpus-per-task=" + strconv.Itoa(max(r.CPUCores, 1)),
		"--time=" + strconv.Itoa(int((limit+time.Minute-1)/time.Minute)), // minutes, rounded up
		"--output=" + filepath.Join(dir, "slurm-%j.log"),
	}
	if r.MemoryMB > 0 {
		args = append(args, "--mem="+strconv.Itoa(r.MemoryMB)+"M")
	}
	if r.GPUs > 0 {
		args = append(args, "--gres=gpu:"+strconv.Itoa(r.GPUs))
	}
	wd := e.cfg.Dir
	if wd == "" {
		wd = dir
	}
	args = append(args, "--chdir="+wd)
	if e.cfg.Partition != "" {
		args = append(args, "--partition="+e.cfg.Partition)
	}
	if e.cfg.Account != "" {
		args = append(args, "--account="+e.cfg.Account)
	}
	return append(args, e.cfg.ExtraArgs...)
}

// script returns the batch script of j: the contract's environment, then
// the expanded command, exec'd so that Slurm's signals reach it.
func (e *Executor) script(j flywheel.Job, dir string) string {
	vars := jobcmd.Vars{
		JobID: j.ID, Target: j.Target, ModelFamily: j.ModelFamily, ConfigDir: e.cfg.ConfigDir,
		API: e.cfg.API, Token: e.cfg.Token,
	}
	var b strings.Builder
	fmt.Fprintf(&b, "#!/bin/sh\n# flywheel job %s attempt %d (%s)\n", j.ID, max(j.Attempt, 1), j.ModelKey)
	for _, kv := range append(append([]string{}, e.cfg.Env...), vars.Env()...) {
		k, v, _ := strings.Cut(kv, "=")
		if k == "FLYWHEEL_RESULT" {
			// Known only once Slurm has numbered the job.
			v = jobcmd.Quote(filepath.Join(dir, "result-")) + `"$SLURM_JOB_ID".json`
		} else {
			v = jobcmd.Quote(v)
		}
		fmt.Fprintf(&b, "export %s=%s\n", k, v)
	}
	argv := e.tmpl.Expand(vars)
	for i := range argv {
		argv[i] = jobcmd.Quote(argv[i])
	}
	fmt.Fprintf(&b, "exec %s\n", strings.Join(argv, " "))
	return b.String()
}

// Release releases j's held Slurm job. A job that is no longer held, or
// has ended, needs nothing.
func (e *Executor) Release(ctx context.Context, j flywheel.Job) error {
	if !isSlurmID(j.ExternalID) {
		return flywheel.Errorf(flywheel.EInvalid, "job %s has no Slurm id to release", j.ID)
	}
	_, err := e.run(ctx, e.cfg.Scontrol, "release", j.ExternalID)
	if err != nil && !strings.Contains(err.Error(), "already finished") {
		return fmt.Errorf("release %s (Slurm %s): %w", j.ID, j.ExternalID, err)
	}
	return nil
}

// Cancel cancels j's Slurm job, by id when it is known, else every live
// job of its name.
func (e *Executor) Cancel(ctx context.Context, j flywheel.Job) error {
	if err := flywheel.CheckName("id", j.ID, true); err != nil {
		return err
	}
	args := []string{"--name=" + e.JobName(j.ID)}
	if isSlurmID(j.ExternalID) {
		args = []string{j.ExternalID}
	}
	if _, err := e.run(ctx, e.cfg.Scancel, args...); err != nil &&
		!strings.Contains(err.Error(), "already completing or completed") &&
		!strings.Contains(err.Error(), "Invalid job id") {
		return fmt.Errorf("cancel %s: %w", j.ID, err)
	}
	return nil
}

// run runs a Slurm command and returns its stdout; the error carries its
// stderr.
func (e *Executor) run(ctx context.Context, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.CommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = e.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = strings.TrimSpace(stdout.String())
		}
		return stdout.String(), fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, msg)
	}
	return stdout.String(), nil
}

// classifySbatch marks the sbatch refusals that no retry will cure (the
// cluster cannot ever run the request) as EInvalid; anything else (the
// controller is down, a timeout) may pass later.
func classifySbatch(err error) error {
	msg := err.Error()
	for _, s := range []string{
		"Requested node configuration is not available", "Invalid generic resource", "Invalid account",
		"Invalid partition", "Invalid qos", "time limit", "Memory required by task is not available",
		"More processors requested than permitted", "unrecognized option", "invalid option",
	} {
		if strings.Contains(msg, s) {
			return &flywheel.Error{Code: flywheel.EInvalid, Message: "Slurm refused the job: " + lastLine(msg), Err: err}
		}
	}
	return err
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// isSlurmID reports whether s looks like a Slurm job id.
func isSlurmID(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// writeFileAtomic writes b to path through a synced temporary file and a
// rename.
func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
