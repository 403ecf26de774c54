// Package runner drives the one job state machine that every executor
// follows, over the job store (the outbox the decision cycle writes):
//
//	admitted -> submitting -> submitted -> running -> succeeded | failed | cancelled | lost
//
// Every transition is a compare-and-set (Store.UpdateJob), so it is
// recorded as a job event and two actors never both move a job. A
// submission is two-phase: the intent (submitting) is recorded before the
// executor is asked, the executor's id (submitted) before the job is
// released. A runner that restarts reconciles: a job left submitting is
// submitted again, which the executor turns into an adoption when a job
// of that name exists, so a crash never submits twice.
//
// Failures are retried by a flywheel.RetryPolicy, by the failure's class:
// the same job goes back to admitted, with the next attempt number when
// the attempt counts and with the resources the policy chose, which the
// runner keeps in the event that records the retry (JobUpdate cannot
// change a job's resources). A running job that the executor cannot see
// and that has not beaten for HeartbeatTimeout is lost; so is one that
// used to beat and stopped.
package runner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// Log keys.
const (
	keyJob   = "job_id"
	keyState = "state"
	keyErr   = "err"
	keyExec  = "executor"
)

// maxJobs is the most jobs of one state a round looks at: the store's
// largest page.
const maxJobs = 10000

// Config configures a Runner.
type Config struct {
	Store flywheel.JobStore
	// Executors run the jobs; a job goes to the executor named in its
	// Executor field, or to the first one when that is empty. Jobs naming
	// an executor not listed are left alone (another daemon's).
	Executors []flywheel.Executor
	Policy    flywheel.RetryPolicy
	// PollInterval is the time between rounds of Run. Zero means 5 s.
	PollInterval time.Duration
	// HeartbeatTimeout is how long a job may go without a sign of life
	// (a heartbeat or a transition) before it is lost: when the executor
	// cannot see it, or when it used to beat and stopped. Zero means 10
	// min.
	HeartbeatTimeout time.Duration
	// OnResult receives the run JSON a job wrote to $FLYWHEEL_RESULT, once
	// the job has ended; the daemon wires it to its ingest. An EInvalid,
	// EConflict or ETooLarge error refuses the result: a job that had
	// succeeded fails as a command failure. Any other error is transient
	// and the result is offered again on the next round.
	OnResult func(ctx context.Context, job flywheel.Job, result []byte) error
	Clock    flywheel.Clock
	Logger   *slog.Logger
	Hooks    Hooks
}

// Hooks are called at the points of a submission where a crash matters,
// so that tests can crash there. Nil hooks are skipped.
type Hooks struct {
	// AfterIntent runs once the intent (state submitting) is recorded,
	// before the executor is asked.
	AfterIntent func(flywheel.Job)
	// AfterSubmit runs once the executor has the job (held), before its
	// id is recorded; the job passed has ExternalID set.
	AfterSubmit func(flywheel.Job)
	// AfterRecord runs once the id is recorded (state submitted), before
	// the job is released.
	AfterRecord func(flywheel.Job)
}

// Runner drives jobs through their state machine. It is safe for
// concurrent use: rounds are serialised, and Cancel may run at any time.
type Runner struct {
	cfg   Config
	store flywheel.JobStore
	execs map[string]flywheel.Executor
	def   flywheel.Executor
	log   *slog.Logger
	clock flywheel.Clock
	wake  chan struct{}

	mu         sync.Mutex // serialises rounds
	reconciled bool
}

// New returns a Runner.
func New(cfg Config) (*Runner, error) {
	if cfg.Store == nil {
		return nil, flywheel.FieldError("store", "is required")
	}
	if len(cfg.Executors) == 0 {
		return nil, flywheel.FieldError("executors", "at least one is required")
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 5 * time.Second
	}
	if cfg.HeartbeatTimeout <= 0 {
		cfg.HeartbeatTimeout = 10 * time.Minute
	}
	r := &Runner{cfg: cfg, store: cfg.Store, execs: map[string]flywheel.Executor{}, def: cfg.Executors[0],
		log: cfg.Logger, clock: cfg.Clock, wake: make(chan struct{}, 1)}
	for _, e := range cfg.Executors {
		if _, dup := r.execs[e.Name()]; dup {
			return nil, flywheel.FieldError("executors", "executor %q is given twice", e.Name())
		}
		r.execs[e.Name()] = e
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.clock == nil {
		r.clock = flywheel.SystemClock
	}
	return r, nil
}

// executor returns the executor of j, or nil when it is not this
// runner's.
func (r *Runner) executor(j flywheel.Job) flywheel.Executor {
	if j.Executor == "" {
		return r.def
	}
	return r.execs[j.Executor]
}

// Run reconciles, then runs a round every PollInterval, or sooner after
// Notify, until ctx ends. It returns nil when ctx ends.
func (r *Runner) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.PollInterval)
	defer t.Stop()
	for {
		if err := r.Step(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("job round had errors", keyErr, err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-r.wake:
		}
	}
}

// Notify makes Run start its next round now: the daemon calls it when
// it has admitted jobs or a job has reported.
func (r *Runner) Notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Reconcile brings the store and the executors back in step after a
// start: a job left submitting is submitted (adopted by name when the
// executor has it), a held one is released, and every other unfinished
// job is polled. Step calls it once before its first round.
func (r *Runner) Reconcile(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reconcile(ctx)
}

func (r *Runner) reconcile(ctx context.Context) error {
	err := errors.Join(r.resubmit(ctx), r.poll(ctx))
	if err == nil {
		r.reconciled = true
		r.log.Info("jobs reconciled with the executors")
	}
	return err
}

// Step runs one round: finish interrupted submissions, submit the
// admitted jobs (highest priority first), and poll the unfinished ones.
// It returns every error it met; each job's error leaves the job where it
// was, to be tried again in the next round.
func (r *Runner) Step(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.reconciled {
		if err := r.reconcile(ctx); err != nil {
			return err
		}
	}
	return errors.Join(r.resubmit(ctx), r.admit(ctx), r.poll(ctx))
}

// jobs lists the jobs in the given states that belong to this runner.
func (r *Runner) jobs(ctx context.Context, states ...flywheel.JobState) ([]flywheel.Job, error) {
	all, err := r.store.Jobs(ctx, flywheel.JobFilter{States: states, Limit: maxJobs})
	if err != nil {
		return nil, fmt.Errorf("list %v jobs: %w", states, err)
	}
	return slices.DeleteFunc(all, func(j flywheel.Job) bool { return r.executor(j) == nil }), nil
}

// resubmit finishes the submissions that a crash or an error left in
// state submitting.
func (r *Runner) resubmit(ctx context.Context) error {
	jobs, err := r.jobs(ctx, flywheel.JobSubmitting)
	if err != nil {
		return err
	}
	var errs []error
	for _, j := range jobs {
		errs = append(errs, r.submit(ctx, j))
	}
	return errors.Join(errs...)
}

// admit starts the submission of every admitted job, highest priority
// first, then oldest first.
func (r *Runner) admit(ctx context.Context) error {
	jobs, err := r.jobs(ctx, flywheel.JobAdmitted)
	if err != nil {
		return err
	}
	slices.SortStableFunc(jobs, func(a, b flywheel.Job) int {
		return cmp.Or(cmp.Compare(b.Priority, a.Priority), a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	var errs []error
	for _, j := range jobs {
		if err := ctx.Err(); err != nil {
			return err
		}
		errs = append(errs, r.start(ctx, j))
	}
	return errors.Join(errs...)
}

// Cancel cancels a job in any state that has not ended: a job not yet
// submitted simply ends; a submitted or running one is cancelled at its
// executor first. It returns the cancelled job, or EConflict when the job
// has already ended.
func (r *Runner) Cancel(ctx context.Context, id string) (flywheel.Job, error) {
	asked := false // the executor has been told to cancel
	for range 10 { // each turn loses a race against a transition at most
		j, err := r.store.Job(ctx, id)
		if err != nil {
			return flywheel.Job{}, err
		}
		if j.State == flywheel.JobCancelled && asked {
			return j, nil // a poll saw our cancel land first
		}
		if j.State.Terminal() {
			return j, flywheel.Errorf(flywheel.EConflict, "job %s has already ended (%s)", id, j.State)
		}
		ex := r.executor(j)
		if ex != nil && (j.State == flywheel.JobSubmitted || j.State == flywheel.JobRunning) {
			if err := ex.Cancel(ctx, j); err != nil {
				return j, fmt.Errorf("cancel job %s: %w", id, err)
			}
			asked = true
		}
		c, err := r.store.UpdateJob(ctx, flywheel.JobUpdate{ID: id, From: j.State, To: flywheel.JobCancelled,
			At: r.clock.Now(), Message: "cancelled on request"})
		if flywheel.Code(err) == flywheel.EConflict {
			continue
		}
		if err != nil {
			return j, err
		}
		if ex != nil && j.State == flywheel.JobSubmitting {
			// A submission may be in flight, or a crash left one: cancel by
			// name. One still in flight fails to record its id and cancels
			// what it submitted (see submit).
			if err := ex.Cancel(ctx, j); err != nil {
				r.log.Warn("cancel at the executor failed", keyJob, id, keyErr, err)
			}
		}
		r.log.Info("job cancelled", keyJob, id, "from", j.State)
		return c, nil
	}
	return flywheel.Job{}, flywheel.Errorf(flywheel.EConflict, "job %s kept changing state; try again", id)
}

// Logs returns the log of a job's latest execution: what `flywheel jobs
// logs ID` prints.
func (r *Runner) Logs(ctx context.Context, id string) (io.ReadCloser, error) {
	j, err := r.store.Job(ctx, id)
	if err != nil {
		return nil, err
	}
	ex := r.executor(j)
	if ex == nil {
		return nil, flywheel.Errorf(flywheel.ENotFound, "job %s runs on executor %q, which this daemon does not have", id, j.Executor)
	}
	return ex.Logs(ctx, j)
}
