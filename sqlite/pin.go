package sqlite

import (
	"context"
	"fmt"

	"github.com/flywheel-ml/flywheel"
)

// SetPin creates or replaces the pin on (file, target, key).
func (db *DB) SetPin(ctx context.Context, p flywheel.Pin) error {
	if p.CreatedAt.IsZero() {
		p.CreatedAt = db.now()
	}
	if err := checkPin(&p); err != nil {
		return err
	}
	const q = `INSERT INTO pins (file, target, key_path, value, reason, created_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (file, target, key_path) DO UPDATE SET value = excluded.value,
			reason = excluded.reason, created_by = excluded.created_by, created_at = excluded.created_at`
	err := db.write(ctx, func(w *writeTx) error {
		_, err := w.tx.ExecContext(ctx, q, p.File, p.Target, p.Key, p.Value, p.Reason, p.CreatedBy, nanos(p.CreatedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("set pin %s %s: %w", p.File, p.Key, err)
	}
	return nil
}

// Pins lists every pin, ordered by file, target and key.
func (db *DB) Pins(ctx context.Context) ([]flywheel.Pin, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT file, target, key_path, value, reason, created_by, created_at
		FROM pins ORDER BY file, target, key_path`)
	if err != nil {
		return nil, fmt.Errorf("list pins: %w", err)
	}
	defer rows.Close()
	var pins []flywheel.Pin
	for rows.Next() {
		var p flywheel.Pin
		var created int64
		if err := rows.Scan(&p.File, &p.Target, &p.Key, &p.Value, &p.Reason, &p.CreatedBy, &created); err != nil {
			return nil, fmt.Errorf("list pins: %w", err)
		}
		p.CreatedAt = fromNanos(created)
		pins = append(pins, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list pins: %w", err)
	}
	return pins, nil
}

// DeletePin removes a pin; ENotFound when there is none.
func (db *DB) DeletePin(ctx context.Context, file, target, key string) error {
	err := db.write(ctx, func(w *writeTx) error {
		r, err := w.tx.ExecContext(ctx, `DELETE FROM pins WHERE file = ? AND target = ? AND key_path = ?`,
			file, target, key)
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil || n == 0 {
			return firstError(err, flywheel.Errorf(flywheel.ENotFound, "no pin on %s %s for target %q", file, key, target))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete pin %s %s: %w", file, key, err)
	}
	return nil
}
