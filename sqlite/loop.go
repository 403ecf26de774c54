package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/flywheel-ml/flywheel"
)

// SetLoopState records whether the loop is paused and appends the change
// to the audit log in the same transaction, so that neither exists
// without the other.
func (db *DB) SetLoopState(ctx context.Context, st flywheel.LoopState) error {
	if st.At.IsZero() {
		st.At = db.now()
	}
	st.At = st.At.UTC()
	if st.By == "" {
		return flywheel.FieldError("by", "is required: the audit log names who paused or resumed the loop")
	}
	action := flywheel.ActionResume
	if st.Paused {
		action = flywheel.ActionPause
	}
	detail, err := json.Marshal(map[string]string{"reason": st.Reason})
	if err != nil {
		return fmt.Errorf("set loop state: %w", err)
	}
	err = db.write(ctx, func(w *writeTx) error {
		if _, err := w.tx.ExecContext(ctx, `INSERT INTO loop_state (id, paused, by, reason, at) VALUES (1, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET paused = excluded.paused, by = excluded.by,
				reason = excluded.reason, at = excluded.at`, boolInt(st.Paused), st.By, st.Reason, nanos(st.At)); err != nil {
			return err
		}
		_, err := w.tx.ExecContext(ctx, `INSERT INTO audit_log (at, actor, action, subject, detail) VALUES (?, ?, ?, 'loop', ?)`,
			nanos(st.At), st.By, action, string(detail))
		return err
	})
	if err != nil {
		return fmt.Errorf("set loop state: %w", err)
	}
	return nil
}

// LoopState returns the current state; a loop never paused is running.
func (db *DB) LoopState(ctx context.Context) (flywheel.LoopState, error) {
	var st flywheel.LoopState
	var paused int
	var at int64
	err := db.reader.QueryRowContext(ctx, `SELECT paused, by, reason, at FROM loop_state WHERE id = 1`).
		Scan(&paused, &st.By, &st.Reason, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return flywheel.LoopState{}, nil
	}
	if err != nil {
		return flywheel.LoopState{}, fmt.Errorf("loop state: %w", err)
	}
	st.Paused, st.At = paused != 0, fromNanos(at)
	return st, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
