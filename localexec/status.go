package localexec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// Files in a job's directory.
const (
	tryFile    = "try.json"
	logFile    = "log"
	exitFile   = "exit"
	resultFile = "result.json"
)

// Why flywheel stopped a try.
const (
	stopCancelled = "cancelled"
	stopTimeout   = "timeout"
)

// maxResult bounds the run JSON read back from a job.
const maxResult = 32 << 20

// try is the record of a job's latest try, rewritten atomically at each
// step so that a daemon restarting at any point knows where it stands.
type try struct {
	JobID       string        `json:"job_id"`
	Attempt     int           `json:"attempt"`
	Held        bool          `json:"held"`
	SubmittedAt time.Time     `json:"submitted_at"`
	ReleasedAt  time.Time     `json:"released_at,omitzero"`
	PID         int           `json:"pid,omitempty"`
	StartTicks  uint64        `json:"start_ticks,omitempty"`
	StartedAt   time.Time     `json:"started_at,omitzero"`
	Limit       time.Duration `json:"limit"`
	// Stop says why flywheel signalled the process (cancelled, timeout);
	// empty when it did not.
	Stop   string    `json:"stop,omitempty"`
	StopAt time.Time `json:"stop_at,omitzero"`
}

func readTry(dir string) (try, bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, tryFile))
	if errors.Is(err, os.ErrNotExist) {
		return try{}, false, nil
	}
	if err != nil {
		return try{}, false, err
	}
	var t try
	if err := json.Unmarshal(b, &t); err != nil {
		return try{}, false, fmt.Errorf("%s: %w", filepath.Join(dir, tryFile), err)
	}
	return t, true, nil
}

func writeTry(dir string, t try) error {
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, tryFile), b)
}

// writeFileAtomic writes a temporary file beside path, syncs it and
// renames it over path, so a reader sees the old content or the new.
func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // fails harmlessly after the rename
	if _, err := f.Write(b); err != nil {
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

func appendLog(path, s string) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = f.WriteString(s)
}

// Poll reports each job's try. It also enforces the time limits: a job
// past its deadline is stopped here (SIGTERM, then SIGKILL after the
// grace), so a limit holds for adopted jobs too, to within a poll.
func (e *Executor) Poll(_ context.Context, jobs []flywheel.Job) ([]flywheel.ExecStatus, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]flywheel.ExecStatus, len(jobs))
	for i, j := range jobs {
		st, err := e.status(j.ID)
		if err != nil {
			return nil, fmt.Errorf("poll %s: %w", j.ID, err)
		}
		out[i] = st
	}
	return out, nil
}

// status reports one job's try. The caller holds e.mu.
func (e *Executor) status(id string) (flywheel.ExecStatus, error) {
	st := flywheel.ExecStatus{JobID: id, ExitCode: -1}
	if flywheel.CheckName("id", id, true) != nil {
		return st, nil
	}
	dir := e.JobDir(id)
	t, ok, err := readTry(dir)
	if err != nil || !ok {
		return st, err
	}
	st.Found, st.ExternalID = true, id
	if !t.StartedAt.IsZero() {
		at := t.StartedAt
		st.StartedAt = &at
	}
	if t.PID == 0 {
		if t, err = e.adopt(dir, t); err != nil {
			return st, err
		}
	}
	if t.PID != 0 {
		st.ExternalID = strconv.Itoa(t.PID)
		live, err := alive(t.PID, t.StartTicks)
		if err != nil {
			return st, err
		}
		if live {
			e.running[id] = proc{t.PID, t.StartTicks}
			return e.enforce(dir, t, st)
		}
		delete(e.running, id)
		if stopping, err := e.reap(t); err != nil || stopping {
			st.State, st.Message = flywheel.JobRunning, "stopping: "+t.Stop
			return st, err
		}
	}
	code, exited, err := readExit(dir)
	if err != nil {
		return st, err
	}
	switch {
	case t.Stop == stopCancelled:
		st.State, st.Message = flywheel.JobCancelled, "cancelled"
	case t.Stop == stopTimeout:
		st.State, st.Failure = flywheel.JobFailed, flywheel.FailureTimeout
		st.Message = fmt.Sprintf("killed after its time limit of %s", t.Limit)
	case exited:
		st.ExitCode = code
		st.State, st.Failure, st.Message = classifyExit(code)
	case t.Held:
		st.State, st.Held, st.Message = flywheel.JobSubmitted, true, "held"
		return st, nil
	case t.PID == 0 && e.now().Sub(t.ReleasedAt) < e.cfg.StartGrace:
		st.State, st.Message = flywheel.JobSubmitted, "starting"
		return st, nil
	default:
		st.State, st.Failure = flywheel.JobLost, flywheel.FailureLost
		st.Message = "the process ended without recording an exit status"
	}
	if st.Result, err = readResult(dir); err != nil {
		// A result that cannot be read is the job's problem, not the
		// poll's: report the job, without a result, and say why.
		st.Message += "; result not read: " + err.Error()
	}
	return st, nil
}

// adopt looks for the wrapper of a try released without a recorded pid
// (a crash came between the start and its record) and records it.
func (e *Executor) adopt(dir string, t try) (try, error) {
	if t.Held || t.Stop != "" || t.ReleasedAt.IsZero() {
		return t, nil
	}
	pid, ticks, err := findWrapper(filepath.Join(dir, exitFile))
	if err != nil || pid == 0 {
		return t, err
	}
	e.log.Info("adopted local job started before a crash", keyJob, t.JobID, keyPID, pid)
	t.PID, t.StartTicks, t.StartedAt = pid, ticks, t.ReleasedAt
	return t, writeTry(dir, t)
}

// enforce reports a live try as running, stopping it first when it is
// past its deadline, and killing it when it outlived the grace after a
// stop.
func (e *Executor) enforce(dir string, t try, st flywheel.ExecStatus) (flywheel.ExecStatus, error) {
	st.State, st.Message = flywheel.JobRunning, "running"
	now := e.now()
	switch {
	case t.Stop == "" && t.Limit > 0 && now.Sub(t.StartedAt) > t.Limit:
		if err := e.stop(dir, stopTimeout); err != nil {
			return st, err
		}
		st.Message = "past its time limit: stopping"
	case t.Stop != "" && now.Sub(t.StopAt) > e.cfg.KillGrace:
		if err := signalGroup(t.PID, syscall.SIGKILL); err != nil {
			return st, err
		}
		st.Message = "killed: " + t.Stop
	}
	return st, nil
}

// reap deals with what is left of a job whose wrapper has ended: within
// the grace after a stop, processes that outlived the SIGTERM keep the job
// stopping; after it, or after an ordinary exit, they are killed, as
// Slurm kills what a job leaves behind.
func (e *Executor) reap(t try) (stopping bool, err error) {
	if syscall.Kill(-t.PID, 0) != nil {
		return false, nil // the group is empty
	}
	if t.Stop != "" && e.now().Sub(t.StopAt) <= e.cfg.KillGrace {
		return true, nil
	}
	return false, signalGroup(t.PID, syscall.SIGKILL)
}

// classifyExit maps an exit status to a job state and failure class. A
// command killed by SIGKILL that flywheel did not send was, on a machine
// with no other killer, most likely the kernel's OOM killer.
func classifyExit(code int) (flywheel.JobState, flywheel.FailureClass, string) {
	switch {
	case code == 0:
		return flywheel.JobSucceeded, "", "exited 0"
	case code == 128+int(syscall.SIGKILL):
		return flywheel.JobFailed, flywheel.FailureOOM, "killed by SIGKILL, not by flywheel: out of memory (the kernel's OOM killer)"
	case code > 128 && code < 128+65:
		return flywheel.JobFailed, flywheel.FailureCommand, fmt.Sprintf("killed by signal %d", code-128)
	}
	return flywheel.JobFailed, flywheel.FailureCommand, fmt.Sprintf("exited %d", code)
}

// readExit reads the exit status the wrapper recorded.
func readExit(dir string) (int, bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, exitFile))
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	code, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, false, fmt.Errorf("exit file: %w", err)
	}
	return code, true, nil
}

// readResult reads the run JSON the job wrote, nil when it wrote none.
func readResult(dir string) ([]byte, error) {
	f, err := os.Open(filepath.Join(dir, resultFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxResult+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxResult {
		return nil, fmt.Errorf("result file is over %d bytes", maxResult)
	}
	return b, nil
}
