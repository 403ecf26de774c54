package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// migrationFiles holds the schema as numbered files, NNNN_name.sql, applied
// in order. A released file never changes: a schema change is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrations are the migrations this binary knows, parsed once.
var migrations = mustLoadMigrations(migrationFiles)

// migration is one numbered schema change.
type migration struct {
	version int
	name    string
	sql     string
}

func mustLoadMigrations(fsys fs.FS) []migration {
	ms, err := loadMigrations(fsys)
	if err != nil {
		panic(err) // the embedded files are part of the binary: a bad one is a build defect
	}
	return ms
}

// loadMigrations reads migrations/*.sql and checks that they are numbered
// 1, 2, 3 ... without gaps or repeats.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	ms := make([]migration, 0, len(names))
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name is not NNNN_name.sql", base)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", base, err)
		}
		ms = append(ms, migration{version: v, name: strings.TrimSuffix(base, ".sql"), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: want number %d", m.name, i+1)
		}
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("no migrations")
	}
	return ms, nil
}

// migrate applies the migrations db has not seen, each in its own
// transaction together with its schema_migrations row, so that a crash
// leaves the schema at some whole migration.
func migrate(ctx context.Context, db *sql.DB, ms []migration, now func() time.Time, log *slog.Logger) error {
	const create = `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    BIGINT PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at BIGINT NOT NULL
	)`
	if _, err := db.ExecContext(ctx, create); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	latest := ms[len(ms)-1].version
	for _, m := range ms {
		applied, err := applyMigration(ctx, db, m, latest, now)
		if err != nil {
			return err
		}
		if applied {
			log.Info("applied migration", logKeyVersion, m.version, logKeyName, m.name)
		}
	}
	return nil
}

// applyMigration applies m unless the database already has it. The check
// is inside the write transaction, so two processes opening the same new
// file do not both apply it.
func applyMigration(ctx context.Context, db *sql.DB, m migration, latest int, now func() time.Time) (applied bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migration %s: begin: %w", m.name, err)
	}
	defer func() {
		if err != nil || !applied {
			tx.Rollback() //nolint:errcheck // the error that matters is err
		}
	}()
	current, err := schemaVersion(ctx, tx)
	if err != nil {
		return false, err
	}
	if current > latest {
		return false, fmt.Errorf("database schema is at migration %d but this flywheel knows only up to %d: use a newer flywheel", current, latest)
	}
	if m.version <= current {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.name, err)
	}
	const record = `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`
	if _, err := tx.ExecContext(ctx, record, m.version, m.name, now().UnixNano()); err != nil {
		return false, fmt.Errorf("migration %s: record: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migration %s: commit: %w", m.name, err)
	}
	return true, nil
}

// schemaVersion returns the number of the last migration applied, 0 for a
// new database.
func schemaVersion(ctx context.Context, q queryer) (int, error) {
	var v int
	err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// queryer is what *sql.DB, *sql.Tx and *sql.Conn have in common.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}
