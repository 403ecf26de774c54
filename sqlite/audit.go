package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math"

	"github.com/flywheel-ml/flywheel"
)

// AppendAudit appends an entry and returns it with its sequence number,
// which increases with every entry.
func (db *DB) AppendAudit(ctx context.Context, e flywheel.AuditEntry) (flywheel.AuditEntry, error) {
	if e.At.IsZero() {
		e.At = db.now()
	}
	e.At = e.At.UTC()
	if err := checkAudit(&e); err != nil {
		return flywheel.AuditEntry{}, err
	}
	err := db.write(ctx, func(w *writeTx) error {
		return w.tx.QueryRowContext(ctx, `INSERT INTO audit_log (at, actor, action, subject, detail)
			VALUES (?, ?, ?, ?, ?) RETURNING seq`, nanos(e.At), e.Actor, e.Action, e.Subject, rawJSON(e.Detail)).
			Scan(&e.Seq)
	})
	if err != nil {
		return flywheel.AuditEntry{}, fmt.Errorf("append audit: %w", err)
	}
	return e, nil
}

// AuditLog lists entries newest first, those before seq when seq > 0.
func (db *DB) AuditLog(ctx context.Context, before int64, n int) ([]flywheel.AuditEntry, error) {
	if before <= 0 {
		before = math.MaxInt64
	}
	rows, err := db.reader.QueryContext(ctx, `SELECT seq, at, actor, action, subject, detail FROM audit_log
		WHERE seq < ? ORDER BY seq DESC LIMIT ?`, before, limit(n))
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	defer rows.Close()
	var entries []flywheel.AuditEntry
	for rows.Next() {
		var e flywheel.AuditEntry
		var at int64
		var detail sql.NullString
		if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.Subject, &detail); err != nil {
			return nil, fmt.Errorf("audit log: %w", err)
		}
		e.At, e.Detail = fromNanos(at), fromRawJSON(detail)
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return entries, nil
}
