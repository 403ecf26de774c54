// Package sqlite is the embedded learning database: a flywheel.Store kept
// in one SQLite file through modernc.org/sqlite, a pure-Go build of SQLite,
// so that flywheel stays a single static binary.
//
// The database runs in WAL mode with synchronous=FULL: a write returns only
// after its transaction is on stable storage, so an acknowledged batch
// survives SIGKILL and power loss. All writes go through one connection and
// begin IMMEDIATE, which serialises writers without lock upgrades failing
// halfway through a transaction; reads use a separate pool and see the last
// committed state.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"runtime"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/flywheel-ml/flywheel"
)

var _ flywheel.Store = (*DB)(nil)

// Log keys.
const (
	logKeyPath    = "path"
	logKeyVersion = "version"
	logKeyName    = "name"
	logKeyErr     = "err"
)

// busyTimeoutMS is how long a statement waits for a lock held by another
// process (a second daemon, the sqlite3 shell) before failing.
const busyTimeoutMS = 10000

// Options configure Open.
type Options struct {
	// Logger receives what the store does on its own, such as applying
	// migrations; nil discards it.
	Logger *slog.Logger
	// Now stamps received_at and fills times a record leaves zero; nil is
	// the wall clock in UTC.
	Now func() time.Time
	// NoSync turns off the sync of every commit (synchronous=OFF): for a
	// throwaway database, such as a backtest's, that a crash or a power
	// loss may corrupt. A learning database must not set it.
	NoSync bool
}

// DB is a flywheel.Store on one SQLite file. It is safe for concurrent use.
type DB struct {
	path   string
	writer *sql.DB
	reader *sql.DB
	log    *slog.Logger
	now    func() time.Time
	models modelCache
	// stopCheckpoints ends the checkpointer goroutine and waits for it.
	stopCheckpoints func()
}

// checkpointEvery is how often the checkpointer copies the WAL into the
// database.
const checkpointEvery = 250 * time.Millisecond

// Open opens or creates the database at path and brings its schema up to
// date. It fails when the file was written by a newer flywheel.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("open store: %q: want the path of a database file", path)
	}
	if strings.ContainsRune(path, '?') {
		// The driver reads everything after '?' as parameters.
		return nil, fmt.Errorf("open store: %q: the path must not contain '?'", path)
	}
	db := &DB{path: path, log: opts.Logger, now: opts.Now}
	if db.log == nil {
		db.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if db.now == nil {
		db.now = func() time.Time { return time.Now().UTC() }
	}
	db.models.init()

	var err error
	// One writer connection: SQLite allows one writer at a time anyway, and
	// queueing in database/sql is cheaper than spinning on SQLITE_BUSY.
	db.writer, err = sql.Open("sqlite", dsn(path, true, opts.NoSync))
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db.writer.SetMaxOpenConns(1)
	db.writer.SetMaxIdleConns(1)
	db.writer.SetConnMaxIdleTime(0)
	db.writer.SetConnMaxLifetime(0)
	if err := migrate(ctx, db.writer, migrations, db.now, db.log); err != nil {
		db.writer.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}

	db.reader, err = sql.Open("sqlite", dsn(path, false, false))
	if err != nil {
		db.writer.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	// Each connection has its own page cache and libc state; a bounded pool
	// keeps a burst of reads from growing memory without limit.
	db.reader.SetMaxOpenConns(max(4, 2*runtime.NumCPU()))
	db.reader.SetMaxIdleConns(max(4, 2*runtime.NumCPU()))
	if err := db.reader.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db.startCheckpoints()
	return db, nil
}

// startCheckpoints copies the WAL into the database in the background, on
// a connection of its own. Left to the writer (SQLite's automatic
// checkpoint), the copy runs inside the commit that crosses the threshold,
// and every write queued behind that commit waits for it: hundreds of
// milliseconds when the daemon stores an insight of a megabyte ten times
// a second. A PASSIVE checkpoint takes no lock a writer or reader needs.
// The writer's automatic checkpoint stays as the backstop should this one
// fall behind.
func (db *DB) startCheckpoints() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	db.stopCheckpoints = func() { cancel(); <-done }
	go func() {
		defer close(done)
		tick := time.NewTicker(checkpointEvery)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			// The reader pool's connections are query_only, which a
			// checkpoint ignores: it writes pages already committed.
			if _, err := db.reader.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)"); err != nil && ctx.Err() == nil {
				db.log.Warn("sqlite: background checkpoint failed; the writer's automatic one remains", logKeyErr, err)
			}
		}
	}()
}

// dsn returns the data source name of path, for the writer or the
// readers; noSync turns the writer's syncs off. The pragmas are DSN
// parameters, not statements run once, so that every connection a pool
// opens gets them.
func dsn(path string, writer, noSync bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	q.Add("_pragma", "foreign_keys(1)")
	if writer {
		q.Add("_pragma", "journal_mode(WAL)")
		// FULL syncs the WAL on every commit: NORMAL would lose the last
		// acknowledged batches on power loss.
		if noSync {
			q.Add("_pragma", "synchronous(OFF)")
		} else {
			q.Add("_pragma", "synchronous(FULL)")
		}
		// Observation ingest touches random pages of the event_id index;
		// a 64 MiB cache keeps most of them in memory.
		q.Add("_pragma", "cache_size(-65536)")
		// A multi-row INSERT keeps a statement journal so that it can undo
		// itself alone; in a temporary file that costs a write system
		// call per page touched, in memory almost nothing.
		q.Add("_pragma", "temp_store(MEMORY)")
		// Every page a transaction changes is written twice, to the WAL
		// and at the checkpoint to the database. A 10,000-observation
		// batch changes ~10,000 pages (event ids land all over their
		// index), so the default of checkpointing past 1,000 pages would
		// copy every batch; past 20,000 (80 MiB of WAL) pages changed by
		// successive batches are copied once, which cut the bytes written
		// during ingest into a 1M-row database by 40%.
		q.Add("_pragma", "wal_autocheckpoint(20000)")
		q.Set("_txlock", "immediate")
	} else {
		q.Add("_pragma", "cache_size(-16384)")
		q.Add("_pragma", "query_only(1)")
	}
	return path + "?" + q.Encode()
}

// Path returns the file the database lives in.
func (db *DB) Path() string { return db.path }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.reader.PingContext(ctx); err != nil {
		return fmt.Errorf("ping store: %w", err)
	}
	return nil
}

// Close closes both connection pools.
func (db *DB) Close() error {
	var errs []error
	if db.stopCheckpoints != nil {
		db.stopCheckpoints()
	}
	if db.reader != nil {
		errs = append(errs, db.reader.Close())
	}
	if db.writer != nil {
		errs = append(errs, db.writer.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// writeTx is one write transaction. Model ids it creates are kept apart
// until the commit succeeds: a rolled-back transaction must not leave ids
// in the cache that no longer exist in the database.
type writeTx struct {
	tx       *sql.Tx
	db       *DB
	now      time.Time
	models   map[flywheel.ModelKey]int64
	versions map[versionKey]struct{}
}

// write runs fn in an IMMEDIATE transaction on the writer connection and
// commits it when fn returns nil.
func (db *DB) write(ctx context.Context, fn func(w *writeTx) error) error {
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	w := &writeTx{tx: tx, db: db, now: db.now().UTC()}
	if err := fn(w); err != nil {
		if rerr := tx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
			db.log.Error("rollback failed", logKeyErr, rerr)
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	db.models.add(w.models, w.versions)
	return nil
}

// read runs fn in a read transaction, so that the queries it makes see one
// snapshot of the database.
func (db *DB) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin read: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to lose
	return fn(tx)
}

// countsQuery counts every kind of record in one statement, so that the
// numbers are from one snapshot.
const countsQuery = `SELECT
	(SELECT COUNT(*) FROM targets),
	(SELECT COUNT(*) FROM models),
	(SELECT COUNT(*) FROM training_runs),
	(SELECT COUNT(*) FROM live_observations),
	(SELECT COUNT(*) FROM deployments),
	(SELECT COUNT(*) FROM insights),
	(SELECT COUNT(*) FROM signals),
	(SELECT COUNT(*) FROM jobs),
	(SELECT COUNT(*) FROM config_changes),
	(SELECT COUNT(*) FROM pins),
	(SELECT COUNT(*) FROM outcomes),
	(SELECT COUNT(*) FROM audit_log)`

// Counts returns the number of records of each kind.
func (db *DB) Counts(ctx context.Context) (flywheel.Counts, error) {
	var c flywheel.Counts
	err := db.reader.QueryRowContext(ctx, countsQuery).Scan(
		&c.Targets, &c.Models, &c.Runs, &c.LiveObservations, &c.Deployments, &c.Insights,
		&c.Signals, &c.Jobs, &c.ConfigChanges, &c.Pins, &c.Outcomes, &c.AuditLog)
	if err != nil {
		return flywheel.Counts{}, fmt.Errorf("counts: %w", err)
	}
	return c, nil
}
