package sqlite_test

import (
	"context"
	"database/sql"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/sqlite"
	"github.com/flywheel-ml/flywheel/storetest"
)

// testLogger sends the store's logs to the test's output.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// openAt opens the database at path and closes it when t ends.
func openAt(t testing.TB, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path, sqlite.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// setup opens a new database in a temporary directory.
func setup(t testing.TB) *sqlite.DB {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "flywheel.db"))
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) flywheel.Store { return setup(t) })
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "flywheel.db")
	db, err := sqlite.Open(ctx, path, sqlite.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	k := flywheel.ModelKey{Target: "fwd_ret_5d_AAPL", ModelFamily: "ridge"}
	at := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	batch := make([]flywheel.Observation, 250)
	for i := range batch {
		batch[i] = flywheel.Observation{ModelKey: k, TS: at.Add(time.Duration(i) * time.Second), PnL: float64(i)}
	}
	res, err := db.PutObservations(ctx, batch)
	if err != nil || res.Accepted != 250 {
		t.Fatalf("put: %+v, %v", res, err)
	}
	applied := migrationsApplied(t, path)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openAt(t, path)
	if got := migrationsApplied(t, path); got != applied {
		t.Errorf("reopening changed schema_migrations: %q, was %q", got, applied)
	}
	sum, err := db.LiveSummary(ctx, k, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Observations != 250 || sum.PnL != 249*250/2 || !sum.FirstTS.Equal(at) {
		t.Errorf("after reopen: %d observations, pnl %v, first %v; want 250, %v, %v",
			sum.Observations, sum.PnL, sum.FirstTS, 249*250/2, at)
	}
	// The model id cache starts empty after reopening; ingest must still
	// find the existing model instead of creating a second one.
	res, err = db.PutObservations(ctx, batch[:10])
	if err != nil || res.Duplicates != 10 {
		t.Fatalf("resend after reopen: %+v, %v", res, err)
	}
	c, err := db.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Models != 1 || c.LiveObservations != 250 {
		t.Errorf("after reopen: %d models, %d observations; want 1, 250", c.Models, c.LiveObservations)
	}
}

// migrationsApplied returns schema_migrations as text, read with a
// connection of its own.
func migrationsApplied(t *testing.T, path string) string {
	t.Helper()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	rows, err := raw.Query(`SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var sb strings.Builder
	for rows.Next() {
		var v, at int64
		var name string
		if err := rows.Scan(&v, &name, &at); err != nil {
			t.Fatal(err)
		}
		sb.WriteString(name + "@" + time.Unix(0, at).UTC().Format(time.RFC3339Nano) + ";")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if sb.Len() == 0 {
		t.Fatal("no migrations recorded")
	}
	return sb.String()
}

func TestOpenNewerSchemaFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flywheel.db")
	openAt(t, path).Close()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = raw.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future', 0)`)
	raw.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, err = sqlite.Open(t.Context(), path, sqlite.Options{Logger: testLogger(t)})
	if err == nil || !strings.Contains(err.Error(), "9999") || !strings.Contains(err.Error(), "newer flywheel") {
		t.Errorf("opening a database from a newer flywheel: got %v, want an error naming migration 9999", err)
	}
}

func TestOpenBadPath(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file:x.db", "/tmp/a?b.db"} {
		if db, err := sqlite.Open(t.Context(), path, sqlite.Options{}); err == nil {
			db.Close()
			t.Errorf("Open(%q): got no error", path)
		}
	}
}

func TestTimeOutOfRange(t *testing.T) {
	db := setup(t)
	o := flywheel.Observation{ModelKey: flywheel.ModelKey{Target: "t", ModelFamily: "f"},
		TS: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}
	_, err := db.PutObservations(t.Context(), []flywheel.Observation{o})
	if flywheel.Code(err) != flywheel.EInvalid {
		t.Errorf("year 3000: got %v, want EInvalid", err)
	}
}
