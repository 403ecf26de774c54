package slurm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// chunk bounds the names or ids passed to one squeue or sacct call.
const chunk = 200

// maxResult bounds the run JSON read back from a job.
const maxResult = 32 << 20

// Record is one Slurm job as squeue or sacct print it.
type Record struct {
	ID    string
	Name  string
	State string
	// Reason is squeue's pending reason (empty from sacct); ExitCode is
	// sacct's "code:signal" (empty from squeue).
	Reason   string
	ExitCode string
	Comment  string
	Start    *time.Time
}

// squeueFormat and sacctFields are what the parsers below expect.
const (
	squeueFormat = "%i|%j|%T|%r|%S"
	sacctFields  = "JobID,JobName,State,ExitCode,Start,Comment"
)

// parseSqueue parses `squeue -h -o squeueFormat` output.
func parseSqueue(out string) ([]Record, error) {
	var rows []Record
	for line := range strings.Lines(out) {
		line = strings.TrimRight(line, "\n")
		if line == "" {
			continue
		}
		f := strings.SplitN(line, "|", 5)
		if len(f) != 5 || !isSlurmID(f[0]) {
			return nil, fmt.Errorf("squeue line %q: want id|name|state|reason|start", line)
		}
		rows = append(rows, Record{ID: f[0], Name: f[1], State: f[2], Reason: f[3], Start: parseTime(f[4])})
	}
	return rows, nil
}

// parseSacct parses `sacct -X -n -P -o sacctFields` output. The comment
// comes last, so a '|' inside it does not shift the other fields.
func parseSacct(out string) ([]Record, error) {
	var rows []Record
	for line := range strings.Lines(out) {
		line = strings.TrimRight(line, "\n")
		if line == "" {
			continue
		}
		f := strings.SplitN(line, "|", 6)
		if len(f) != 6 {
			return nil, fmt.Errorf("sacct line %q: want 6 fields", line)
		}
		if !isSlurmID(f[0]) {
			continue // array or het job steps: not what flywheel submits
		}
		rows = append(rows, Record{ID: f[0], Name: f[1], State: f[2], ExitCode: f[3], Start: parseTime(f[4]), Comment: f[5]})
	}
	return rows, nil
}

// parseTime parses a Slurm time (local time, seconds), nil for "N/A",
// "Unknown", "None" and the like.
func parseTime(s string) *time.Time {
	t, err := time.ParseInLocation("2006-01-02T15:04:05", strings.TrimSpace(s), time.Local)
	if err != nil {
		return nil
	}
	t = t.UTC()
	return &t
}

// byID orders rows by numeric Slurm id, oldest first.
func byID(a, b Record) int {
	x, _ := strconv.ParseUint(a.ID, 10, 64)
	y, _ := strconv.ParseUint(b.ID, 10, 64)
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// squeue returns the live Slurm jobs (pending, running, completing) that
// carry one of names, by name, oldest first. squeue -j would fail on an
// id Slurm has forgotten; names never fail.
func (e *Executor) squeue(ctx context.Context, names []string) (map[string][]Record, error) {
	live := map[string][]Record{}
	for part := range slices.Chunk(names, chunk) {
		out, err := e.run(ctx, e.cfg.Squeue, "-h", "-o", squeueFormat, "--name="+strings.Join(part, ","))
		if err != nil {
			return nil, err
		}
		rows, err := parseSqueue(out)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			live[r.Name] = append(live[r.Name], r)
		}
	}
	for _, rows := range live {
		slices.SortFunc(rows, byID)
	}
	return live, nil
}

// sacct returns the accounting records of the given Slurm ids, by id.
func (e *Executor) sacct(ctx context.Context, ids []string) (map[string]Record, error) {
	found := map[string]Record{}
	for part := range slices.Chunk(ids, chunk) {
		out, err := e.run(ctx, e.cfg.Sacct, "-X", "-n", "-P", "-o", sacctFields, "-j", strings.Join(part, ","))
		if err != nil {
			return nil, err
		}
		rows, err := parseSacct(out)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			found[r.ID] = r // a requeued job's latest record comes last
		}
	}
	return found, nil
}

// SacctByName returns the accounting records of every Slurm job named
// name submitted since, oldest first: what an operator (or a test) checks
// to see that a job was submitted once.
func (e *Executor) SacctByName(ctx context.Context, name string, since time.Time) ([]Record, error) {
	out, err := e.run(ctx, e.cfg.Sacct, "-X", "-n", "-P", "-o", sacctFields, "--name="+name,
		"-S", since.Local().Format("2006-01-02T15:04:05"))
	if err != nil {
		return nil, err
	}
	rows, err := parseSacct(out)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(rows, byID)
	return rows, nil
}

// Poll reports each job: from squeue while Slurm holds it, else from
// sacct. A job without a Slurm id is looked up by name.
func (e *Executor) Poll(ctx context.Context, jobs []flywheel.Job) ([]flywheel.ExecStatus, error) {
	names := make([]string, len(jobs))
	for i, j := range jobs {
		names[i] = e.JobName(j.ID)
	}
	live, err := e.squeue(ctx, names)
	if err != nil {
		return nil, fmt.Errorf("poll: %w", err)
	}
	out := make([]flywheel.ExecStatus, len(jobs))
	var ended []string
	for i, j := range jobs {
		out[i] = flywheel.ExecStatus{JobID: j.ID, ExitCode: -1}
		rows := live[names[i]]
		if isSlurmID(j.ExternalID) {
			rows = slices.DeleteFunc(slices.Clone(rows), func(r Record) bool { return r.ID != j.ExternalID })
		}
		switch {
		case len(rows) > 0:
			out[i] = e.status(j, rows[0])
		case isSlurmID(j.ExternalID):
			ended = append(ended, j.ExternalID)
		default:
			if rows, err := e.SacctByName(ctx, names[i], j.CreatedAt.Add(-24*time.Hour)); err != nil {
				return nil, fmt.Errorf("poll: %w", err)
			} else if len(rows) > 0 {
				out[i] = e.status(j, rows[len(rows)-1])
			}
		}
	}
	if len(ended) == 0 {
		return out, nil
	}
	acct, err := e.sacct(ctx, ended)
	if err != nil {
		return nil, fmt.Errorf("poll: %w", err)
	}
	for i, j := range jobs {
		if out[i].Found || !isSlurmID(j.ExternalID) {
			continue
		}
		// Not in sacct either: slurmdbd may lag behind a job that just
		// ended; Found stays false and the runner waits.
		if r, ok := acct[j.ExternalID]; ok {
			out[i] = e.status(j, r)
		}
	}
	return out, nil
}

// status turns a squeue or sacct Record into an ExecStatus, with the
// result file of an ended job.
func (e *Executor) status(j flywheel.Job, r Record) flywheel.ExecStatus {
	st := flywheel.ExecStatus{JobID: j.ID, ExternalID: r.ID, Found: true, StartedAt: r.Start, ExitCode: -1}
	code, sig, hasExit := parseExit(r.ExitCode)
	if hasExit {
		st.ExitCode = code
		if sig > 0 {
			st.ExitCode = 128 + sig
		}
	}
	st.State, st.Failure = MapState(r.State, st.ExitCode)
	st.Held = st.State == flywheel.JobSubmitted && r.Reason == "JobHeldUser"
	st.Message = "Slurm " + r.ID + " " + r.State
	if r.Reason != "" && r.Reason != "None" {
		st.Message += " (" + r.Reason + ")"
	}
	if hasExit {
		st.Message += " exit " + r.ExitCode
	}
	if st.State.Terminal() {
		b, err := readResult(e.resultPath(j.ID, r.ID))
		if err != nil {
			st.Message += "; result not read: " + err.Error()
		}
		st.Result = b
	}
	return st
}

// parseExit parses sacct's ExitCode "code:signal".
func parseExit(s string) (code, sig int, ok bool) {
	c, g, found := strings.Cut(s, ":")
	if !found {
		return 0, 0, false
	}
	code, err1 := strconv.Atoi(c)
	sig, err2 := strconv.Atoi(g)
	return code, sig, err1 == nil && err2 == nil
}

// MapState maps a Slurm job state (squeue's %T or sacct's State, such as
// "CANCELLED by 0") and exit code (-1 when unknown) to the flywheel job
// state and, for failures, the failure class. An unknown state counts as
// running: the job exists and has not ended as far as flywheel can tell.
func MapState(state string, exitCode int) (flywheel.JobState, flywheel.FailureClass) {
	base, _, _ := strings.Cut(strings.TrimSpace(state), " ")
	base = strings.TrimSuffix(base, "+") // sacct marks some states with '+'
	switch base {
	case "PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD":
		return flywheel.JobSubmitted, ""
	case "COMPLETED":
		if exitCode > 0 {
			return flywheel.JobFailed, flywheel.FailureCommand
		}
		return flywheel.JobSucceeded, ""
	case "FAILED", "SPECIAL_EXIT":
		return flywheel.JobFailed, flywheel.FailureCommand
	case "OUT_OF_MEMORY":
		return flywheel.JobFailed, flywheel.FailureOOM
	case "TIMEOUT", "DEADLINE":
		return flywheel.JobFailed, flywheel.FailureTimeout
	case "PREEMPTED":
		return flywheel.JobFailed, flywheel.FailurePreempted
	case "NODE_FAIL", "BOOT_FAIL":
		return flywheel.JobFailed, flywheel.FailureNodeFailure
	case "CANCELLED", "REVOKED":
		return flywheel.JobCancelled, ""
	}
	// RUNNING, CONFIGURING, COMPLETING, SUSPENDED, STOPPED, RESIZING,
	// SIGNALING, STAGE_OUT and whatever a later Slurm adds.
	return flywheel.JobRunning, ""
}

// readResult reads a job's run JSON, nil when it wrote none.
func readResult(path string) ([]byte, error) {
	f, err := os.Open(path)
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
