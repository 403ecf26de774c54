package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

// TestPragmasOnEveryConnection checks the settings on connections the
// pools open later, not only on the first: that is why they are DSN
// parameters.
func TestPragmasOnEveryConnection(t *testing.T) {
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "flywheel.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := t.Context()

	writerWant := map[string]string{"journal_mode": "wal", "foreign_keys": "1", "synchronous": "2",
		"busy_timeout": "10000"}
	checkPragmas(ctx, t, "writer", db.writer, 1, writerWant)
	readerWant := map[string]string{"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "10000",
		"query_only": "1"}
	checkPragmas(ctx, t, "reader", db.reader, 3, readerWant)

	// A write transaction takes the write lock when it begins (IMMEDIATE),
	// not at its first write, where a lock upgrade could fail with
	// SQLITE_BUSY halfway through.
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	other, err := sql.Open("sqlite", db.Path()+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.ExecContext(ctx, `INSERT INTO pins (file, key_path, value, created_at) VALUES ('a', 'b', 'c', 0)`); err == nil {
		t.Error("another connection wrote while a write transaction was open and had written nothing yet")
	}
}

// TestNoSync checks that a throwaway database's writer does not sync and
// that its other settings are the daemon's.
func TestNoSync(t *testing.T) {
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "flywheel.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checkPragmas(t.Context(), t, "writer", db.writer, 1, map[string]string{"journal_mode": "wal", "foreign_keys": "1",
		"synchronous": "0", "busy_timeout": "10000"})
}

// checkPragmas holds n connections of pool at once, so that they are
// distinct, and checks want on each.
func checkPragmas(ctx context.Context, t *testing.T, name string, pool *sql.DB, n int, want map[string]string) {
	t.Helper()
	conns := make([]*sql.Conn, n)
	for i := range conns {
		c, err := pool.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	for i, c := range conns {
		for pragma, v := range want {
			var got string
			if err := c.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatalf("%s connection %d: %s: %v", name, i, pragma, err)
			}
			if got != v {
				t.Errorf("%s connection %d: %s = %s, want %s", name, i, pragma, got, v)
			}
		}
	}
}
