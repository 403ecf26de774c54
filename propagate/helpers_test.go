package propagate

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/sqlite"
)

// t0 is the start of every test clock.
var t0 = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

// clock is a test clock that moves only when told.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// logWriter sends log output to t.Log.
type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// fixture is a propagator on a temporary config directory and a real
// SQLite store.
type fixture struct {
	p     *Propagator
	store *sqlite.DB
	dir   string
	clock *clock
}

// setup writes files (path -> content) into a new config directory and
// opens a propagator on it; cfg may set everything but Dir, Store, Now
// and Logger.
func setup(t testing.TB, cfg Config, files map[string]string) *fixture {
	t.Helper()
	ctx := context.Background()
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "CONFIG")
	writeFiles(t, dir, files)
	clk := &clock{now: t0}
	db, err := sqlite.Open(ctx, filepath.Join(tmp, "flywheel.db"), sqlite.Options{Logger: testLogger(t), Now: clk.Now})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	cfg.Dir, cfg.Store, cfg.Now, cfg.Logger = dir, db, clk.Now, testLogger(t)
	if cfg.Git == GitAuto {
		cfg.Git = GitOff
	}
	p, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("new propagator: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return &fixture{p: p, store: db, dir: dir, clock: clk}
}

// writeFiles creates dir and the files in it.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for rel, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// readFiles returns every config file under dir (path -> content),
// leaving out hidden files: flywheel's lock, journal and temporary files,
// which the pipeline never reads.
func readFiles(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		if strings.HasPrefix(filepath.Base(rel), ".") || strings.HasPrefix(rel, ".git/") {
			return nil
		}
		b, err := os.ReadFile(path)
		out[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// mustDecode decodes an update document or fails the test.
func mustDecode(t testing.TB, text string) UpdateDoc {
	t.Helper()
	d, err := DecodeUpdate([]byte(text))
	if err != nil {
		t.Fatalf("decode update: %v\n%s", err, text)
	}
	return d
}

// wantCode checks an error's code.
func wantCode(t testing.TB, err error, code flywheel.ErrorCode) {
	t.Helper()
	if got := flywheel.Code(err); got != code {
		t.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
}
