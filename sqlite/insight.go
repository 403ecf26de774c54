package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/flywheel-ml/flywheel"
)

// PutInsight stores in as the next version of its kind. The version is
// read and written in the same write transaction, and writes are
// serialised, so two cycles never get the same number.
func (db *DB) PutInsight(ctx context.Context, in flywheel.Insight) (flywheel.Insight, error) {
	if in.CreatedAt.IsZero() {
		in.CreatedAt = db.now()
	}
	in.CreatedAt = in.CreatedAt.UTC()
	if err := checkInsight(&in); err != nil {
		return flywheel.Insight{}, err
	}
	err := db.write(ctx, func(w *writeTx) error {
		err := w.tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) + 1 FROM insights WHERE kind = ?`,
			in.Kind).Scan(&in.Version)
		if err != nil {
			return err
		}
		_, err = w.tx.ExecContext(ctx, `INSERT INTO insights (kind, version, created_at, body) VALUES (?, ?, ?, ?)`,
			in.Kind, in.Version, nanos(in.CreatedAt), string(in.Body))
		return err
	})
	if err != nil {
		return flywheel.Insight{}, fmt.Errorf("put insight %s: %w", in.Kind, err)
	}
	return in, nil
}

// Insight returns version v of kind, or the latest when v is 0; ENotFound
// when there is none.
func (db *DB) Insight(ctx context.Context, kind string, v int64) (flywheel.Insight, error) {
	in := flywheel.Insight{Kind: kind}
	q := `SELECT version, created_at, body FROM insights WHERE kind = ? AND version = ?`
	args := []any{kind, v}
	if v == 0 {
		q = `SELECT version, created_at, body FROM insights WHERE kind = ? ORDER BY version DESC LIMIT 1`
		args = args[:1]
	}
	var created int64
	var body string
	err := db.reader.QueryRowContext(ctx, q, args...).Scan(&in.Version, &created, &body)
	if errors.Is(err, sql.ErrNoRows) {
		if v == 0 {
			return flywheel.Insight{}, flywheel.Errorf(flywheel.ENotFound, "no %s insight yet", kind)
		}
		return flywheel.Insight{}, flywheel.Errorf(flywheel.ENotFound, "%s insight version %d not found", kind, v)
	}
	if err != nil {
		return flywheel.Insight{}, fmt.Errorf("insight %s %d: %w", kind, v, err)
	}
	in.CreatedAt = fromNanos(created)
	in.Body = []byte(body)
	return in, nil
}

// cite records the insight versions a signal or config change rests on,
// which PruneInsights keeps.
func (w *writeTx) cite(ctx context.Context, versions map[string]int64) error {
	for kind, v := range versions {
		if _, err := w.tx.ExecContext(ctx, `INSERT INTO insight_citations (kind, version) VALUES (?, ?)
			ON CONFLICT (kind, version) DO NOTHING`, kind, v); err != nil {
			return fmt.Errorf("cite insight %s %d: %w", kind, v, err)
		}
	}
	return nil
}

// PruneInsights deletes the versions of kind older than the latest keep
// that nothing cites. The latest version always stays, so the next
// version number, MAX(version) + 1, is never one that was used.
func (db *DB) PruneInsights(ctx context.Context, kind string, keep int) (int, error) {
	if keep < 1 {
		return 0, flywheel.FieldError("keep", "is %d; at least the latest version is kept", keep)
	}
	var n int64
	err := db.write(ctx, func(w *writeTx) error {
		r, err := w.tx.ExecContext(ctx, `DELETE FROM insights WHERE kind = ?
			AND version <= (SELECT MAX(version) FROM insights WHERE kind = ?) - ?
			AND version NOT IN (SELECT version FROM insight_citations WHERE kind = ?)`,
			kind, kind, keep, kind)
		if err != nil {
			return err
		}
		n, err = r.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune insights %s: %w", kind, err)
	}
	return int(n), nil
}
