package sqlite

import (
	"context"
	"fmt"

	"github.com/flywheel-ml/flywheel"
)

// PutSignals stores signals by id; an id already stored, or repeated in
// the batch, is a duplicate. A signal without created_at is stamped with
// the store's clock.
func (db *DB) PutSignals(ctx context.Context, sigs []flywheel.Signal) (flywheel.IngestResult, error) {
	var res flywheel.IngestResult
	if len(sigs) == 0 {
		return res, nil
	}
	now := db.now()
	rows := make([][]any, len(sigs))
	for i := range sigs {
		s := sigs[i]
		if s.CreatedAt.IsZero() {
			s.CreatedAt = now
		}
		if err := checkSignal(&s); err != nil {
			return res, flywheel.AtIndex(err, i)
		}
		row, err := signalValues(&s)
		if err != nil {
			return res, flywheel.AtIndex(err, i)
		}
		rows[i] = row
	}
	const insert = `INSERT INTO signals (id, model_id, sources, reasons, priority, factors, urgency,
		expected_improvement, expected_cost, created_at, insight_versions)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`
	err := db.write(ctx, func(w *writeTx) error {
		for i := range sigs {
			model, err := w.modelID(ctx, sigs[i].ModelKey)
			if err != nil {
				return err
			}
			rows[i][1] = model
			r, err := w.tx.ExecContext(ctx, insert, rows[i]...)
			if err != nil {
				return fmt.Errorf("insert signal %s: %w", sigs[i].ID, err)
			}
			if err := w.cite(ctx, sigs[i].InsightVersions); err != nil {
				return err
			}
			n, err := r.RowsAffected()
			if err != nil {
				return err
			}
			res.Accepted += int(n)
		}
		return nil
	})
	if err != nil {
		return flywheel.IngestResult{}, fmt.Errorf("put signals: %w", err)
	}
	res.Duplicates = len(sigs) - res.Accepted
	return res, nil
}

// signalValues returns the stored columns of s, with the model id left
// for the write transaction to fill.
func signalValues(s *flywheel.Signal) ([]any, error) {
	var docs [4]string
	for i, v := range []any{s.Sources, s.Reasons, s.Factors, s.InsightVersions} {
		b, err := toJSON(v)
		if err != nil {
			return nil, fmt.Errorf("encode signal %s: %w", s.ID, err)
		}
		docs[i] = b
	}
	return []any{s.ID, nil, docs[0], docs[1], s.Priority, docs[2], s.Urgency,
		s.ExpectedImprovement, s.ExpectedCost, nanos(s.CreatedAt), docs[3]}, nil
}

// Signals lists signals newest first.
func (db *DB) Signals(ctx context.Context, f flywheel.SignalFilter) ([]flywheel.Signal, error) {
	var w filter
	if f.Model != nil {
		w.add("m.target = ? AND m.model_family = ?", f.Model.Target, f.Model.ModelFamily)
	}
	if !f.Since.IsZero() {
		w.add("s.created_at >= ?", clampNanos(f.Since))
	}
	q := `SELECT s.id, m.target, m.model_family, s.sources, s.reasons, s.priority, s.factors, s.urgency,
	s.expected_improvement, s.expected_cost, s.created_at, s.insight_versions
FROM signals s JOIN models m ON m.id = s.model_id
WHERE ` + w.where() + `
ORDER BY s.created_at DESC, s.id DESC
LIMIT ?`
	rows, err := db.reader.QueryContext(ctx, q, append(w.args, limit(f.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("list signals: %w", err)
	}
	defer rows.Close()
	var sigs []flywheel.Signal
	for rows.Next() {
		var s flywheel.Signal
		var created int64
		if err := rows.Scan(&s.ID, &s.Target, &s.ModelFamily, jsonColumn{&s.Sources}, jsonColumn{&s.Reasons},
			&s.Priority, jsonColumn{&s.Factors}, &s.Urgency, &s.ExpectedImprovement, &s.ExpectedCost, &created,
			jsonColumn{&s.InsightVersions}); err != nil {
			return nil, fmt.Errorf("list signals: %w", err)
		}
		s.CreatedAt = fromNanos(created)
		sigs = append(sigs, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list signals: %w", err)
	}
	return sigs, nil
}
