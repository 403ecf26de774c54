package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// start records the intent to submit an admitted job, then submits it.
func (r *Runner) start(ctx context.Context, j flywheel.Job) error {
	ex := r.executor(j)
	j, err := r.store.UpdateJob(ctx, flywheel.JobUpdate{ID: j.ID, From: flywheel.JobAdmitted, To: flywheel.JobSubmitting,
		At: r.clock.Now(), Message: fmt.Sprintf("submitting to %s, attempt %d", ex.Name(), max(j.Attempt, 1))})
	if flywheel.Code(err) == flywheel.EConflict {
		return nil // cancelled meanwhile
	}
	if err != nil {
		return err
	}
	if h := r.cfg.Hooks.AfterIntent; h != nil {
		h(j)
	}
	return r.submit(ctx, j)
}

// submit hands a job in state submitting to its executor, records the
// executor's id and releases the job. Submit is idempotent by job name,
// so running submit again after a crash adopts what the first run
// submitted.
func (r *Runner) submit(ctx context.Context, j flywheel.Job) error {
	ex := r.executor(j)
	h, err := r.history(ctx, j.ID)
	if err != nil {
		return err
	}
	ext, err := ex.Submit(ctx, h.apply(j))
	if flywheel.Code(err) == flywheel.EInvalid {
		// The executor can never run this job as asked: fail it now rather
		// than ask again every round.
		_, uerr := r.store.UpdateJob(ctx, flywheel.JobUpdate{ID: j.ID, From: flywheel.JobSubmitting, To: flywheel.JobFailed,
			At: r.clock.Now(), Error: ptr(err.Error()), Message: "refused by the executor"})
		r.log.Error("executor refused the job", keyJob, j.ID, keyExec, ex.Name(), keyErr, err)
		return ignoreConflict(uerr)
	}
	if err != nil {
		return fmt.Errorf("submit job %s: %w", j.ID, err)
	}
	j.ExternalID = ext
	if h := r.cfg.Hooks.AfterSubmit; h != nil {
		h(j)
	}
	rec, err := r.store.UpdateJob(ctx, flywheel.JobUpdate{ID: j.ID, From: flywheel.JobSubmitting, To: flywheel.JobSubmitted,
		At: r.clock.Now(), ExternalID: &ext, Message: "submitted to " + ex.Name() + " as " + ext})
	if flywheel.Code(err) == flywheel.EConflict {
		// Cancelled while we submitted: cancel what we submitted.
		r.log.Info("job cancelled during its submission", keyJob, j.ID)
		return ex.Cancel(ctx, j)
	}
	if err != nil {
		return err
	}
	if h := r.cfg.Hooks.AfterRecord; h != nil {
		h(rec)
	}
	r.release(ctx, ex, rec)
	return nil
}

// release lets a submitted job start. A failure is only logged: the job
// stays held, and the next poll releases it again.
func (r *Runner) release(ctx context.Context, ex flywheel.Executor, j flywheel.Job) {
	err := ex.Release(ctx, j)
	switch {
	case err == nil:
	case flywheel.Code(err) == flywheel.EUnavailable:
		r.log.Debug("release deferred", keyJob, j.ID, keyErr, err)
	default:
		r.log.Warn("release failed; trying again next round", keyJob, j.ID, keyErr, err)
	}
}

// poll asks the executors about every submitted and running job and
// moves each job on.
func (r *Runner) poll(ctx context.Context) error {
	jobs, err := r.jobs(ctx, flywheel.JobSubmitted, flywheel.JobRunning)
	if err != nil || len(jobs) == 0 {
		return err
	}
	groups := map[flywheel.Executor][]flywheel.Job{}
	for _, j := range jobs {
		ex := r.executor(j)
		groups[ex] = append(groups[ex], j)
	}
	var errs []error
	for ex, js := range groups {
		sts, err := ex.Poll(ctx, js)
		if err != nil {
			errs = append(errs, fmt.Errorf("poll %s: %w", ex.Name(), err))
			continue
		}
		for i, j := range js {
			if err := r.handle(ctx, ex, j, sts[i]); err != nil {
				errs = append(errs, fmt.Errorf("job %s: %w", j.ID, err))
			}
		}
	}
	return errors.Join(errs...)
}

// handle moves one submitted or running job on from what its executor
// reports.
func (r *Runner) handle(ctx context.Context, ex flywheel.Executor, j flywheel.Job, st flywheel.ExecStatus) error {
	now := r.clock.Now()
	if !st.Found {
		if since := now.Sub(lastSign(j)); since > r.cfg.HeartbeatTimeout {
			return r.fail(ctx, j, flywheel.FailureLost,
				fmt.Sprintf("%s cannot see the job, and it gave no sign of life for %s", ex.Name(), since.Round(time.Second)))
		}
		return nil
	}
	switch st.State {
	case flywheel.JobSubmitted:
		if st.Held && j.State == flywheel.JobSubmitted {
			r.release(ctx, ex, j)
		}
		return nil
	case flywheel.JobRunning:
		if j.State == flywheel.JobSubmitted {
			_, err := r.toRunning(ctx, j, st, st.Message)
			return ignoreConflict(err)
		}
		if j.HeartbeatAt != nil && now.Sub(*j.HeartbeatAt) > r.cfg.HeartbeatTimeout {
			// It used to beat and stopped: hung. Stop it before retrying, so
			// that two tries never run at once.
			if err := ex.Cancel(ctx, j); err != nil {
				return fmt.Errorf("cancel a job that stopped beating: %w", err)
			}
			return r.fail(ctx, j, flywheel.FailureLost,
				fmt.Sprintf("no heartbeat for %s", now.Sub(*j.HeartbeatAt).Round(time.Second)))
		}
		return nil
	}
	return r.finish(ctx, j, st)
}

// toRunning records that a submitted job runs, with the id the executor
// now gives it (a process id once a local job starts).
func (r *Runner) toRunning(ctx context.Context, j flywheel.Job, st flywheel.ExecStatus, msg string) (flywheel.Job, error) {
	u := flywheel.JobUpdate{ID: j.ID, From: flywheel.JobSubmitted, To: flywheel.JobRunning, At: r.clock.Now(), Message: msg}
	if st.ExternalID != "" && st.ExternalID != j.ExternalID {
		u.ExternalID = &st.ExternalID
	}
	return r.store.UpdateJob(ctx, u)
}

// finish records how a job ended, after offering its result to
// OnResult.
func (r *Runner) finish(ctx context.Context, j flywheel.Job, st flywheel.ExecStatus) error {
	if j.State == flywheel.JobSubmitted {
		// It started and ended between two polls; record both, so that
		// every job's history shows it ran.
		var err error
		if j, err = r.toRunning(ctx, j, st, "started and ended between two polls"); err != nil {
			return ignoreConflict(err)
		}
	}
	var runID *string
	if st.Result != nil {
		if r.cfg.OnResult == nil {
			r.log.Warn("job wrote a result, but no ingest is wired to take it", keyJob, j.ID)
		} else if err := r.cfg.OnResult(ctx, j, st.Result); err != nil {
			switch flywheel.Code(err) {
			case flywheel.EInvalid, flywheel.EConflict, flywheel.ETooLarge:
				if st.State == flywheel.JobSucceeded {
					return r.fail(ctx, j, flywheel.FailureCommand, "its result was refused: "+err.Error())
				}
				r.log.Warn("result refused", keyJob, j.ID, keyErr, err)
			default:
				return fmt.Errorf("hand over the result (again next round): %w", err)
			}
		} else {
			runID = resultRunID(st.Result)
		}
	}
	switch st.State {
	case flywheel.JobSucceeded:
		_, err := r.store.UpdateJob(ctx, flywheel.JobUpdate{ID: j.ID, From: j.State, To: flywheel.JobSucceeded,
			At: r.clock.Now(), Message: st.Message, RunID: runID, Progress: ptr(1.0), Error: ptr("")})
		return ignoreConflict(err)
	case flywheel.JobCancelled:
		_, err := r.store.UpdateJob(ctx, flywheel.JobUpdate{ID: j.ID, From: j.State, To: flywheel.JobCancelled,
			At: r.clock.Now(), Message: st.Message})
		return ignoreConflict(err)
	case flywheel.JobLost:
		return r.fail(ctx, j, flywheel.FailureLost, st.Message)
	}
	class := st.Failure
	if !class.Valid() {
		class = flywheel.FailureCommand
	}
	return r.fail(ctx, j, class, st.Message)
}

// fail ends an attempt that failed with class: back to admitted when the
// policy retries it, else failed (lost for a lost job).
func (r *Runner) fail(ctx context.Context, j flywheel.Job, class flywheel.FailureClass, msg string) error {
	h, err := r.history(ctx, j.ID)
	if err != nil {
		return err
	}
	d := r.cfg.Policy.Decide(h.apply(j), class)
	if d.Retry && !d.Counts && !r.cfg.Policy.RequeueAllowed(h.requeues) {
		d.Retry, d.Reason = false, fmt.Sprintf("%s, but requeued %d times already: giving up", class, h.requeues)
	}
	errText := fmt.Sprintf("%s: %s", class, msg)
	u := flywheel.JobUpdate{ID: j.ID, From: j.State, At: r.clock.Now(), Error: &errText}
	if d.Retry {
		u.To, u.Attempt, u.Message = flywheel.JobAdmitted, &d.Attempt, retryMessage(class, d)
	} else {
		u.To, u.Message = flywheel.JobFailed, d.Reason
		if class == flywheel.FailureLost {
			u.To = flywheel.JobLost
		}
	}
	if _, err := r.store.UpdateJob(ctx, u); err != nil {
		return ignoreConflict(err)
	}
	r.log.Info("job attempt failed", keyJob, j.ID, "class", class, "retry", d.Retry, "reason", d.Reason, keyErr, msg)
	return nil
}

// lastSign is when the job last showed life: its latest transition or
// heartbeat.
func lastSign(j flywheel.Job) time.Time {
	if j.HeartbeatAt != nil && j.HeartbeatAt.After(j.UpdatedAt) {
		return *j.HeartbeatAt
	}
	return j.UpdatedAt
}

// retryPrefix starts the message of every retry event, and nextMarker
// precedes what the retry asks for, as JSON: history reads both back.
const (
	retryPrefix = "retry after "
	nextMarker  = " next="
)

// next is what a retry asks for, kept in the retry's event.
type next struct {
	Resources        flywheel.Resources `json:"resources"`
	EstimatedSeconds float64            `json:"estimated_seconds"`
	// Free is true for a requeue that did not count as an attempt.
	Free bool `json:"free,omitempty"`
}

func retryMessage(class flywheel.FailureClass, d flywheel.RetryDecision) string {
	b, _ := json.Marshal(next{Resources: d.Resources, EstimatedSeconds: d.EstimatedSeconds, Free: !d.Counts})
	return retryPrefix + string(class) + ": " + d.Reason + nextMarker + string(b)
}

// history is what a job's retries so far ask of its next attempt.
type history struct {
	// next is what the latest retry asked for; nil before any retry.
	next *next
	// requeues counts the free requeues.
	requeues int
}

// history reads a job's retries from its events.
func (r *Runner) history(ctx context.Context, id string) (history, error) {
	evs, err := r.store.JobEvents(ctx, id)
	if err != nil {
		return history{}, fmt.Errorf("read the history of job %s: %w", id, err)
	}
	var h history
	for _, e := range evs {
		if e.To != flywheel.JobAdmitted || !strings.HasPrefix(e.Message, retryPrefix) {
			continue
		}
		i := strings.LastIndex(e.Message, nextMarker)
		if i < 0 {
			continue
		}
		var n next
		if err := json.Unmarshal([]byte(e.Message[i+len(nextMarker):]), &n); err != nil {
			continue // not one of ours
		}
		h.next = &n
		if n.Free {
			h.requeues++
		}
	}
	return h, nil
}

// apply returns j with the resources and runtime estimate of its next
// attempt.
func (h history) apply(j flywheel.Job) flywheel.Job {
	if h.next != nil {
		j.Resources, j.EstimatedSeconds = h.next.Resources, h.next.EstimatedSeconds
	}
	return j
}

// resultRunID returns the run_id of a result (one run, or the first of an
// array), nil when there is no valid one.
func resultRunID(b []byte) *string {
	type run struct {
		RunID string `json:"run_id"`
	}
	var one run
	if err := json.Unmarshal(b, &one); err != nil {
		var many []run
		if json.Unmarshal(b, &many) != nil || len(many) == 0 {
			return nil
		}
		one = many[0]
	}
	if one.RunID == "" || flywheel.CheckName("run_id", one.RunID, true) != nil {
		return nil
	}
	return &one.RunID
}

// ignoreConflict drops EConflict: another actor (a cancel) moved the job
// first, and its transition stands.
func ignoreConflict(err error) error {
	if flywheel.Code(err) == flywheel.EConflict {
		return nil
	}
	return err
}

func ptr[T any](v T) *T { return &v }
