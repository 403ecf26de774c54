package sqlite

import (
	"context"
	"fmt"

	"github.com/flywheel-ml/flywheel"
)

// PutOutcome stores an outcome by (signal_id, kind); a second one for the
// same pair is a duplicate, whatever its numbers: an outcome is measured
// once.
func (db *DB) PutOutcome(ctx context.Context, o flywheel.Outcome) (flywheel.IngestResult, error) {
	if o.MeasuredAt.IsZero() {
		o.MeasuredAt = db.now()
	}
	if err := checkOutcome(&o); err != nil {
		return flywheel.IngestResult{}, err
	}
	sources, err := toJSON(o.Sources)
	if err != nil {
		return flywheel.IngestResult{}, fmt.Errorf("put outcome: %w", err)
	}
	factors, err := toJSON(o.Factors)
	if err != nil {
		return flywheel.IngestResult{}, fmt.Errorf("put outcome: %w", err)
	}
	const q = `INSERT INTO outcomes (signal_id, kind, job_id, run_id, model_id, sources, priority, factors,
		before_value, after_value, improvement, measured_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (signal_id, kind) DO NOTHING`
	var res flywheel.IngestResult
	err = db.write(ctx, func(w *writeTx) error {
		model, err := w.modelID(ctx, o.ModelKey)
		if err != nil {
			return err
		}
		r, err := w.tx.ExecContext(ctx, q, o.SignalID, o.Kind, o.JobID, o.RunID, model, sources, o.Priority,
			factors, o.Before, o.After, o.Improvement, nanos(o.MeasuredAt))
		if err != nil {
			return err
		}
		n, err := r.RowsAffected()
		res = flywheel.IngestResult{Accepted: int(n), Duplicates: 1 - int(n)}
		return err
	})
	if err != nil {
		return flywheel.IngestResult{}, fmt.Errorf("put outcome %s %s: %w", o.SignalID, o.Kind, err)
	}
	return res, nil
}

// Outcomes lists outcomes newest first (measured_at, then arrival).
func (db *DB) Outcomes(ctx context.Context, f flywheel.OutcomeFilter) ([]flywheel.Outcome, error) {
	var w filter
	if f.Model != nil {
		w.add("m.target = ? AND m.model_family = ?", f.Model.Target, f.Model.ModelFamily)
	}
	if f.Kind != "" {
		w.add("o.kind = ?", f.Kind)
	}
	if !f.Since.IsZero() {
		w.add("o.measured_at >= ?", clampNanos(f.Since))
	}
	q := `SELECT o.signal_id, o.job_id, o.run_id, m.target, m.model_family, o.kind, o.sources, o.priority,
	o.factors, o.before_value, o.after_value, o.improvement, o.measured_at
FROM outcomes o JOIN models m ON m.id = o.model_id
WHERE ` + w.where() + `
ORDER BY o.measured_at DESC, o.id DESC
LIMIT ?`
	rows, err := db.reader.QueryContext(ctx, q, append(w.args, limit(f.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("list outcomes: %w", err)
	}
	defer rows.Close()
	var outcomes []flywheel.Outcome
	for rows.Next() {
		var o flywheel.Outcome
		var measured int64
		if err := rows.Scan(&o.SignalID, &o.JobID, &o.RunID, &o.Target, &o.ModelFamily, &o.Kind,
			jsonColumn{&o.Sources}, &o.Priority, jsonColumn{&o.Factors}, &o.Before, &o.After, &o.Improvement,
			&measured); err != nil {
			return nil, fmt.Errorf("list outcomes: %w", err)
		}
		o.MeasuredAt = fromNanos(measured)
		outcomes = append(outcomes, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list outcomes: %w", err)
	}
	return outcomes, nil
}
