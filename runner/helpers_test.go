package runner

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/sqlite"
)

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// openStore opens a real SQLite store in the test's directory.
func openStore(t *testing.T, dir string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "flywheel.db"), sqlite.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// newJob stores an admitted job.
func newJob(t *testing.T, s flywheel.JobStore, id string, at time.Time, tweak func(*flywheel.Job)) flywheel.Job {
	t.Helper()
	j := flywheel.Job{
		ID: id, ModelKey: flywheel.ModelKey{Target: "fwd_ret_5d_AAPL", ModelFamily: "ridge"},
		State: flywheel.JobAdmitted, Attempt: 1, Priority: 0.5,
		Resources:        flywheel.Resources{CPUCores: 1, MemoryMB: 2048},
		EstimatedSeconds: 60, CreatedAt: at, UpdatedAt: at,
	}
	if tweak != nil {
		tweak(&j)
	}
	j, err := s.CreateJob(context.Background(), j)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func getJob(t *testing.T, s flywheel.JobStore, id string) flywheel.Job {
	t.Helper()
	j, err := s.Job(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// transitions returns a job's history as "from>to" strings, heartbeats
// left out.
func transitions(t *testing.T, s flywheel.JobStore, id string) []string {
	t.Helper()
	evs, err := s.JobEvents(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		if e.From != e.To {
			out = append(out, fmt.Sprintf("%s>%s", e.From, e.To))
		}
	}
	return out
}

// step runs one round and fails the test on error.
func step(t *testing.T, r *Runner) {
	t.Helper()
	if err := r.Step(context.Background()); err != nil {
		t.Fatalf("Step: %v", err)
	}
}

// fakeExec is an executor whose statuses the test sets. It keeps at most
// one live execution per job, like a real one, and counts submissions.
type fakeExec struct {
	mu        sync.Mutex
	name      string
	seq       int
	status    map[string]flywheel.ExecStatus
	submits   []flywheel.Job // every Submit that created an execution
	released  []string
	cancelled []string
}

func newFake(name string) *fakeExec {
	return &fakeExec{name: name, status: map[string]flywheel.ExecStatus{}}
}

func (f *fakeExec) Name() string { return f.name }

func (f *fakeExec) Submit(_ context.Context, j flywheel.Job) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if st, ok := f.status[j.ID]; ok && st.Found && !st.State.Terminal() {
		return st.ExternalID, nil
	}
	f.seq++
	ext := fmt.Sprint(100 + f.seq)
	f.status[j.ID] = flywheel.ExecStatus{JobID: j.ID, ExternalID: ext, Found: true, State: flywheel.JobSubmitted, Held: true, ExitCode: -1}
	f.submits = append(f.submits, j)
	return ext, nil
}

func (f *fakeExec) Release(_ context.Context, j flywheel.Job) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.released = append(f.released, j.ID)
	if st := f.status[j.ID]; st.Held {
		st.Held = false
		f.status[j.ID] = st
	}
	return nil
}

func (f *fakeExec) Poll(_ context.Context, jobs []flywheel.Job) ([]flywheel.ExecStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]flywheel.ExecStatus, len(jobs))
	for i, j := range jobs {
		st, ok := f.status[j.ID]
		if !ok {
			st = flywheel.ExecStatus{JobID: j.ID, ExitCode: -1}
		}
		out[i] = st
	}
	return out, nil
}

func (f *fakeExec) Cancel(_ context.Context, j flywheel.Job) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancelled = append(f.cancelled, j.ID+"/"+j.ExternalID)
	if st, ok := f.status[j.ID]; ok && !st.State.Terminal() {
		st.State, st.Held = flywheel.JobCancelled, false
		f.status[j.ID] = st
	}
	return nil
}

func (f *fakeExec) Logs(context.Context, flywheel.Job) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader("fake log\n")), nil
}

// set changes what the fake reports for a job.
func (f *fakeExec) set(id string, state flywheel.JobState, failure flywheel.FailureClass, result string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.status[id]
	st.JobID, st.Found, st.State, st.Failure, st.Held = id, true, state, failure, false
	st.Message = "fake " + string(state)
	if result != "" {
		st.Result = []byte(result)
	}
	f.status[id] = st
}

// forget makes the fake lose a job.
func (f *fakeExec) forget(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.status, id)
}

func (f *fakeExec) submissions() []flywheel.Job {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]flywheel.Job(nil), f.submits...)
}

func (f *fakeExec) cancels() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.cancelled...)
}

// fakeSetup is a runner over a real store and a fake executor, on a
// settable clock.
type fakeSetup struct {
	store *sqlite.DB
	exec  *fakeExec
	clock *clock
	r     *Runner
	// results are the results handed to OnResult, by job.
	mu      sync.Mutex
	results map[string]string
}

func setupFake(t *testing.T, tweak func(*Config)) *fakeSetup {
	t.Helper()
	s := &fakeSetup{store: openStore(t, t.TempDir()), exec: newFake("fake"), clock: &clock{now: t0}, results: map[string]string{}}
	cfg := Config{
		Store: s.store, Executors: []flywheel.Executor{s.exec}, Clock: s.clock, Logger: testLogger(t),
		HeartbeatTimeout: 10 * time.Minute, Policy: flywheel.RetryPolicy{MaxAttempts: 3, MaxMemoryMB: 8192},
		OnResult: func(_ context.Context, j flywheel.Job, b []byte) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.results[j.ID] = string(b)
			return nil
		},
	}
	if tweak != nil {
		tweak(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.r = r
	return s
}
