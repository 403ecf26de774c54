package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// jobSelect reads jobs in the order scanJob expects.
const jobSelect = `SELECT j.id, m.target, m.model_family, j.signal_id, j.state, j.executor, j.external_id,
	j.attempt, j.priority, j.cpu_cores, j.memory_mb, j.gpus, j.gpu_memory_gb, j.estimated_cost,
	j.estimated_seconds, j.progress, j.message, j.eta, j.run_id, j.error, j.created_at, j.updated_at,
	j.heartbeat_at, j.spec
FROM jobs j JOIN models m ON m.id = j.model_id`

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanJob(s scanner) (flywheel.Job, error) {
	var (
		j                flywheel.Job
		state            string
		created, updated int64
		eta, heartbeat   sql.NullInt64
		spec             sql.NullString
	)
	err := s.Scan(&j.ID, &j.Target, &j.ModelFamily, &j.SignalID, &state, &j.Executor, &j.ExternalID,
		&j.Attempt, &j.Priority, &j.Resources.CPUCores, &j.Resources.MemoryMB, &j.Resources.GPUs,
		&j.Resources.GPUMemoryGB, &j.EstimatedCost, &j.EstimatedSeconds, &j.Progress, &j.Message, &eta,
		&j.RunID, &j.Error, &created, &updated, &heartbeat, &spec)
	if err != nil {
		return flywheel.Job{}, err
	}
	j.State = flywheel.JobState(state)
	j.ETA, j.HeartbeatAt = fromNullNanos(eta), fromNullNanos(heartbeat)
	j.CreatedAt, j.UpdatedAt = fromNanos(created), fromNanos(updated)
	j.Spec = fromRawJSON(spec)
	return j, nil
}

// CreateJob stores a new job, in state queued unless it names another,
// and records its creation as the job's first event; EConflict when the id
// exists.
func (db *DB) CreateJob(ctx context.Context, j flywheel.Job) (flywheel.Job, error) {
	if j.State == "" {
		j.State = flywheel.JobQueued
	}
	if j.CreatedAt.IsZero() {
		j.CreatedAt = db.now()
	}
	if j.UpdatedAt.IsZero() {
		j.UpdatedAt = j.CreatedAt
	}
	j.CreatedAt, j.UpdatedAt = j.CreatedAt.UTC(), j.UpdatedAt.UTC()
	j.ETA, j.HeartbeatAt = utcPtr(j.ETA), utcPtr(j.HeartbeatAt)
	if err := checkJob(&j); err != nil {
		return flywheel.Job{}, err
	}
	const insert = `INSERT INTO jobs (id, model_id, signal_id, state, executor, external_id, attempt, priority,
		cpu_cores, memory_mb, gpus, gpu_memory_gb, estimated_cost, estimated_seconds, progress, message, eta,
		run_id, error, created_at, updated_at, heartbeat_at, spec)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING`
	err := db.write(ctx, func(w *writeTx) error {
		model, err := w.modelID(ctx, j.ModelKey)
		if err != nil {
			return err
		}
		r, err := w.tx.ExecContext(ctx, insert, j.ID, model, j.SignalID, string(j.State), j.Executor,
			j.ExternalID, j.Attempt, j.Priority, j.Resources.CPUCores, j.Resources.MemoryMB, j.Resources.GPUs,
			j.Resources.GPUMemoryGB, j.EstimatedCost, j.EstimatedSeconds, j.Progress, j.Message,
			nullNanos(j.ETA), j.RunID, j.Error, nanos(j.CreatedAt), nanos(j.UpdatedAt),
			nullNanos(j.HeartbeatAt), rawJSON(j.Spec))
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil || n == 0 {
			return firstError(err, flywheel.Errorf(flywheel.EConflict, "job %q already exists", j.ID))
		}
		return w.addJobEvent(ctx, j.ID, j.CreatedAt, "", j.State, "created")
	})
	if err != nil {
		return flywheel.Job{}, fmt.Errorf("create job %s: %w", j.ID, err)
	}
	return j, nil
}

// addJobEvent appends an event to a job's history, numbered from 1.
func (w *writeTx) addJobEvent(ctx context.Context, id string, at time.Time, from, to flywheel.JobState, msg string) error {
	const q = `INSERT INTO job_events (job_id, seq, at, from_state, to_state, message)
		SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ? FROM job_events WHERE job_id = ?`
	if _, err := w.tx.ExecContext(ctx, q, id, nanos(at), string(from), string(to), msg, id); err != nil {
		return fmt.Errorf("record job event: %w", err)
	}
	return nil
}

// Job returns one job, or ENotFound.
func (db *DB) Job(ctx context.Context, id string) (flywheel.Job, error) {
	j, err := scanJob(db.reader.QueryRowContext(ctx, jobSelect+` WHERE j.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return flywheel.Job{}, notFound("job", id)
	}
	if err != nil {
		return flywheel.Job{}, fmt.Errorf("job %s: %w", id, err)
	}
	return j, nil
}

// Jobs lists jobs newest first.
func (db *DB) Jobs(ctx context.Context, f flywheel.JobFilter) ([]flywheel.Job, error) {
	var w filter
	if f.Model != nil {
		w.add("m.target = ? AND m.model_family = ?", f.Model.Target, f.Model.ModelFamily)
	}
	addIn(&w, "j.state", f.States)
	q := jobSelect + ` WHERE ` + w.where() + ` ORDER BY j.created_at DESC, j.id DESC LIMIT ?`
	rows, err := db.reader.QueryContext(ctx, q, append(w.args, limit(f.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	defer rows.Close()
	var jobs []flywheel.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, fmt.Errorf("list jobs: %w", err)
		}
		jobs = append(jobs, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	return jobs, nil
}

// UpdateJob moves a job from u.From to u.To, applying the fields u sets,
// and records the transition as an event, in one transaction. EConflict
// when the job is not in u.From: another actor moved it first.
func (db *DB) UpdateJob(ctx context.Context, u flywheel.JobUpdate) (flywheel.Job, error) {
	if u.At.IsZero() {
		u.At = db.now()
	}
	u.At, u.ETA = u.At.UTC(), utcPtr(u.ETA)
	if err := checkJobUpdate(&u); err != nil {
		return flywheel.Job{}, err
	}
	var message any
	if u.Message != "" {
		message = u.Message
	}
	// A nil pointer binds as NULL, and COALESCE keeps the stored value.
	const q = `UPDATE jobs SET state = ?, updated_at = ?, message = COALESCE(?, message),
		external_id = COALESCE(?, external_id), progress = COALESCE(?, progress), eta = COALESCE(?, eta),
		run_id = COALESCE(?, run_id), error = COALESCE(?, error), attempt = COALESCE(?, attempt)
		WHERE id = ? AND state = ?`
	var j flywheel.Job
	err := db.write(ctx, func(w *writeTx) error {
		r, err := w.tx.ExecContext(ctx, q, string(u.To), nanos(u.At), message, u.ExternalID, u.Progress,
			nullNanos(u.ETA), u.RunID, u.Error, u.Attempt, u.ID, string(u.From))
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil || n == 0 {
			return firstError(err, w.jobNotIn(ctx, u.ID, u.From))
		}
		if err := w.addJobEvent(ctx, u.ID, u.At, u.From, u.To, u.Message); err != nil {
			return err
		}
		j, err = scanJob(w.tx.QueryRowContext(ctx, jobSelect+` WHERE j.id = ?`, u.ID))
		return err
	})
	if err != nil {
		return flywheel.Job{}, fmt.Errorf("update job %s: %w", u.ID, err)
	}
	return j, nil
}

// jobNotIn explains why a job is not in state want: ENotFound when it
// does not exist, else EConflict naming the state it is in.
func (w *writeTx) jobNotIn(ctx context.Context, id string, want flywheel.JobState) error {
	var state string
	err := w.tx.QueryRowContext(ctx, `SELECT state FROM jobs WHERE id = ?`, id).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound("job", id)
	}
	if err != nil {
		return err
	}
	return &flywheel.Error{
		Code:    flywheel.EConflict,
		Field:   "from",
		Message: fmt.Sprintf("job %q is %s, not %s", id, state, want),
	}
}

// Heartbeat records progress on a job that has not ended, without
// changing its state. The heartbeat becomes an event only when its
// message differs from the job's last one: a job beating every few
// seconds would otherwise bury its transitions under identical rows.
// EConflict when the job has ended.
func (db *DB) Heartbeat(ctx context.Context, id string, at time.Time, progress float64, message string, eta *time.Time) (flywheel.Job, error) {
	if at.IsZero() {
		at = db.now()
	}
	at, eta = at.UTC(), utcPtr(eta)
	if err := firstError(flywheel.CheckName("id", id, true), checkProgress("progress", progress),
		checkTime("at", at), checkTimePtr("eta", eta)); err != nil {
		return flywheel.Job{}, err
	}
	var j flywheel.Job
	err := db.write(ctx, func(w *writeTx) error {
		var state, last string
		err := w.tx.QueryRowContext(ctx, `SELECT state, message FROM jobs WHERE id = ?`, id).Scan(&state, &last)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("job", id)
		}
		if err != nil {
			return err
		}
		if s := flywheel.JobState(state); s.Terminal() {
			return flywheel.Errorf(flywheel.EConflict, "job %q has ended (%s) and takes no heartbeats", id, s)
		}
		const q = `UPDATE jobs SET progress = ?, message = ?, eta = ?, heartbeat_at = ?, updated_at = ? WHERE id = ?`
		if _, err := w.tx.ExecContext(ctx, q, progress, message, nullNanos(eta), nanos(at), nanos(at), id); err != nil {
			return err
		}
		if message != last {
			s := flywheel.JobState(state)
			if err := w.addJobEvent(ctx, id, at, s, s, message); err != nil {
				return err
			}
		}
		j, err = scanJob(w.tx.QueryRowContext(ctx, jobSelect+` WHERE j.id = ?`, id))
		return err
	})
	if err != nil {
		return flywheel.Job{}, fmt.Errorf("heartbeat job %s: %w", id, err)
	}
	return j, nil
}

// JobEvents returns a job's history, oldest first; ENotFound when there is
// no such job.
func (db *DB) JobEvents(ctx context.Context, id string) ([]flywheel.JobEvent, error) {
	var events []flywheel.JobEvent
	err := db.read(ctx, func(tx *sql.Tx) error {
		var exists int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM jobs WHERE id = ?`, id).Scan(&exists)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("job", id)
		}
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT seq, at, from_state, to_state, message FROM job_events
			WHERE job_id = ? ORDER BY seq`, id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e := flywheel.JobEvent{JobID: id}
			var at int64
			var from, to string
			if err := rows.Scan(&e.Seq, &at, &from, &to, &e.Message); err != nil {
				return err
			}
			e.At, e.From, e.To = fromNanos(at), flywheel.JobState(from), flywheel.JobState(to)
			events = append(events, e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("job events %s: %w", id, err)
	}
	return events, nil
}
