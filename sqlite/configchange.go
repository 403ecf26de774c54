package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// PutConfigChange stores a config change, replacing the one with the same
// id (the propagator fills in the diff, the backup and the quarantine flag
// as the change proceeds). A replaced change keeps its created_at.
func (db *DB) PutConfigChange(ctx context.Context, c flywheel.ConfigChange) error {
	if c.CreatedAt.IsZero() {
		c.CreatedAt = db.now()
	}
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = c.CreatedAt
	}
	if err := checkConfigChange(&c); err != nil {
		return err
	}
	var docs [4]string
	for i, v := range []any{c.Files, c.HeldByPins, c.SignalIDs, c.InsightVersions} {
		b, err := toJSON(v)
		if err != nil {
			return fmt.Errorf("put config change %s: %w", c.ID, err)
		}
		docs[i] = b
	}
	const q = `INSERT INTO config_changes (id, target, source, state, update_doc, files, diff, reason,
		held_by_pins, signal_ids, insight_versions, backup_id, quarantined, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET target = excluded.target, source = excluded.source,
			state = excluded.state, update_doc = excluded.update_doc, files = excluded.files,
			diff = excluded.diff, reason = excluded.reason, held_by_pins = excluded.held_by_pins,
			signal_ids = excluded.signal_ids, insight_versions = excluded.insight_versions,
			backup_id = excluded.backup_id, quarantined = excluded.quarantined,
			updated_at = excluded.updated_at`
	err := db.write(ctx, func(w *writeTx) error {
		_, err := w.tx.ExecContext(ctx, q, c.ID, c.Target, c.Source, string(c.State), string(c.Update),
			docs[0], c.Diff, c.Reason, docs[1], docs[2], docs[3], c.BackupID, c.Quarantined,
			nanos(c.CreatedAt), nanos(c.UpdatedAt))
		if err != nil {
			return err
		}
		return w.cite(ctx, c.InsightVersions)
	})
	if err != nil {
		return fmt.Errorf("put config change %s: %w", c.ID, err)
	}
	return nil
}

// configChangeSelect reads config changes in the order scanConfigChange
// expects.
const configChangeSelect = `SELECT id, target, source, state, update_doc, files, diff, reason, held_by_pins,
	signal_ids, insight_versions, backup_id, quarantined, created_at, updated_at
FROM config_changes`

func scanConfigChange(s scanner) (flywheel.ConfigChange, error) {
	var (
		c                flywheel.ConfigChange
		state, update    string
		created, updated int64
	)
	err := s.Scan(&c.ID, &c.Target, &c.Source, &state, &update, jsonColumn{&c.Files}, &c.Diff, &c.Reason,
		jsonColumn{&c.HeldByPins}, jsonColumn{&c.SignalIDs}, jsonColumn{&c.InsightVersions}, &c.BackupID,
		&c.Quarantined, &created, &updated)
	if err != nil {
		return flywheel.ConfigChange{}, err
	}
	c.State = flywheel.ConfigChangeState(state)
	c.Update = []byte(update)
	c.CreatedAt, c.UpdatedAt = fromNanos(created), fromNanos(updated)
	return c, nil
}

// SetConfigChangeState moves a change from one state to another;
// EConflict when it is not in from, ENotFound when there is no such change.
func (db *DB) SetConfigChangeState(ctx context.Context, id string, from, to flywheel.ConfigChangeState, at time.Time) (flywheel.ConfigChange, error) {
	if at.IsZero() {
		at = db.now()
	}
	if err := firstError(checkChangeState("from", from), checkChangeState("to", to), checkTime("at", at)); err != nil {
		return flywheel.ConfigChange{}, err
	}
	var c flywheel.ConfigChange
	err := db.write(ctx, func(w *writeTx) error {
		r, err := w.tx.ExecContext(ctx, `UPDATE config_changes SET state = ?, updated_at = ? WHERE id = ? AND state = ?`,
			string(to), nanos(at), id, string(from))
		if err != nil {
			return err
		}
		n, err := r.RowsAffected()
		if err != nil {
			return err
		}
		c, err = scanConfigChange(w.tx.QueryRowContext(ctx, configChangeSelect+` WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("config change", id)
		}
		if err == nil && n == 0 {
			err = &flywheel.Error{Code: flywheel.EConflict, Field: "from",
				Message: fmt.Sprintf("config change %q is %s, not %s", id, c.State, from)}
		}
		return err
	})
	if err != nil {
		return flywheel.ConfigChange{}, fmt.Errorf("set config change %s state: %w", id, err)
	}
	return c, nil
}

// ConfigChange returns one config change, or ENotFound.
func (db *DB) ConfigChange(ctx context.Context, id string) (flywheel.ConfigChange, error) {
	c, err := scanConfigChange(db.reader.QueryRowContext(ctx, configChangeSelect+` WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return flywheel.ConfigChange{}, notFound("config change", id)
	}
	if err != nil {
		return flywheel.ConfigChange{}, fmt.Errorf("config change %s: %w", id, err)
	}
	return c, nil
}

// ConfigChanges lists config changes newest first.
func (db *DB) ConfigChanges(ctx context.Context, f flywheel.ConfigChangeFilter) ([]flywheel.ConfigChange, error) {
	var w filter
	if f.Target != "" {
		w.add("target = ?", f.Target)
	}
	addIn(&w, "state", f.States)
	q := configChangeSelect + ` WHERE ` + w.where() + ` ORDER BY created_at DESC, id DESC LIMIT ?`
	rows, err := db.reader.QueryContext(ctx, q, append(w.args, limit(f.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("list config changes: %w", err)
	}
	defer rows.Close()
	var changes []flywheel.ConfigChange
	for rows.Next() {
		c, err := scanConfigChange(rows)
		if err != nil {
			return nil, fmt.Errorf("list config changes: %w", err)
		}
		changes = append(changes, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list config changes: %w", err)
	}
	return changes, nil
}

// PutConfigBackup stores a backup. Storing the same backup again is a
// no-op; a different one under the same id is EConflict, since a backup
// that changes after the fact could not be trusted for a rollback.
func (db *DB) PutConfigBackup(ctx context.Context, b flywheel.ConfigBackup) error {
	if b.CreatedAt.IsZero() {
		b.CreatedAt = db.now()
	}
	if err := checkBackup(&b); err != nil {
		return err
	}
	files, err := toJSON(b.Files)
	if err != nil {
		return fmt.Errorf("put config backup %s: %w", b.ID, err)
	}
	err = db.write(ctx, func(w *writeTx) error {
		r, err := w.tx.ExecContext(ctx, `INSERT INTO config_backups (id, change_id, created_at, files)
			VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`, b.ID, b.ChangeID, nanos(b.CreatedAt), files)
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var changeID, stored string
		err = w.tx.QueryRowContext(ctx, `SELECT change_id, files FROM config_backups WHERE id = ?`, b.ID).
			Scan(&changeID, &stored)
		if err == nil && (changeID != b.ChangeID || stored != files) {
			err = flywheel.Errorf(flywheel.EConflict, "config backup %q exists with different content", b.ID)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("put config backup %s: %w", b.ID, err)
	}
	return nil
}

func scanBackup(s scanner) (flywheel.ConfigBackup, error) {
	var b flywheel.ConfigBackup
	var created int64
	if err := s.Scan(&b.ID, &b.ChangeID, &created, jsonColumn{&b.Files}); err != nil {
		return flywheel.ConfigBackup{}, err
	}
	b.CreatedAt = fromNanos(created)
	return b, nil
}

// ConfigBackup returns one backup, or ENotFound.
func (db *DB) ConfigBackup(ctx context.Context, id string) (flywheel.ConfigBackup, error) {
	b, err := scanBackup(db.reader.QueryRowContext(ctx,
		`SELECT id, change_id, created_at, files FROM config_backups WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return flywheel.ConfigBackup{}, notFound("config backup", id)
	}
	if err != nil {
		return flywheel.ConfigBackup{}, fmt.Errorf("config backup %s: %w", id, err)
	}
	return b, nil
}

// ConfigBackups lists backups newest first.
func (db *DB) ConfigBackups(ctx context.Context, n int) ([]flywheel.ConfigBackup, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT id, change_id, created_at, files FROM config_backups
		ORDER BY created_at DESC, id DESC LIMIT ?`, limit(n))
	if err != nil {
		return nil, fmt.Errorf("list config backups: %w", err)
	}
	defer rows.Close()
	var backups []flywheel.ConfigBackup
	for rows.Next() {
		b, err := scanBackup(rows)
		if err != nil {
			return nil, fmt.Errorf("list config backups: %w", err)
		}
		backups = append(backups, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list config backups: %w", err)
	}
	return backups, nil
}

// DeleteConfigBackup removes a backup (retention); ENotFound when there is
// none.
func (db *DB) DeleteConfigBackup(ctx context.Context, id string) error {
	err := db.write(ctx, func(w *writeTx) error {
		r, err := w.tx.ExecContext(ctx, `DELETE FROM config_backups WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil || n == 0 {
			return firstError(err, notFound("config backup", id))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete config backup %s: %w", id, err)
	}
	return nil
}
