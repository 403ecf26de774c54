package dashboard_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/arpo"
	"github.com/flywheel-ml/flywheel/cils"
	"github.com/flywheel-ml/flywheel/dashboard"
	"github.com/flywheel-ml/flywheel/engine"
	"github.com/flywheel-ml/flywheel/httpapi"
	"github.com/flywheel-ml/flywheel/orchestrator"
	"github.com/flywheel-ml/flywheel/sqlite"
)

// now is the clock of every test: a month after the first run.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
var now = t0.AddDate(0, 0, 40)

type logWriter struct{ tb testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(logWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// seed stores n models' runs (the last one degraded for every third
// model), live observations after a deployment, a few jobs, and returns
// an engine over the store that has learned from them.
func seed(tb testing.TB, db flywheel.Store, n, runsPer, obsPer, jobs int) *engine.Engine {
	tb.Helper()
	ctx := context.Background()
	var runs []flywheel.Run
	var obs []flywheel.Observation
	var deps []flywheel.Deployment
	flush := func(force bool) {
		if len(runs) >= 5000 || (force && len(runs) > 0) {
			if _, err := db.PutRuns(ctx, runs); err != nil {
				tb.Fatal(err)
			}
			runs = runs[:0]
		}
		if len(obs) >= 20000 || (force && len(obs) > 0) {
			if _, err := db.PutObservations(ctx, obs); err != nil {
				tb.Fatal(err)
			}
			obs = obs[:0]
		}
		if len(deps) >= 5000 || (force && len(deps) > 0) {
			if _, err := db.PutDeployments(ctx, deps); err != nil {
				tb.Fatal(err)
			}
			deps = deps[:0]
		}
	}
	for i := range n {
		k := modelKey(i)
		for j := range runsPer {
			start := t0.Add(time.Duration(j) * 24 * time.Hour)
			fin := start.Add(time.Hour)
			score := 0.10 + 0.001*float64(i%7)
			if j == runsPer-1 && i%3 == 0 {
				score *= 0.7
			}
			runs = append(runs, flywheel.Run{RunID: fmt.Sprintf("r-%d-%d", i, j), ModelKey: k,
				Status: flywheel.RunSucceeded, StartedAt: start, FinishedAt: &fin,
				Metrics: map[string]float64{flywheel.MetricValidationScore: score},
				Config:  map[string]any{"feature_selection": map[string]any{"top_n": 20 + 10*(j%2)}},
				Cost:    flywheel.Cost{CPUHours: 1.5, WallSeconds: 3600}})
		}
		dep := t0.AddDate(0, 0, runsPer)
		deps = append(deps, flywheel.Deployment{ModelKey: k, ModelVersion: "v1", RunID: fmt.Sprintf("r-%d-%d", i, runsPer-1), DeployedAt: dep})
		for d := range obsPer {
			pos := 1.0 + 0.1*float64(d%3)
			exp := 0.002
			pnl := 0.001 * float64((d*7+i)%5-2)
			if i%4 == 0 {
				pnl -= 0.003
			}
			obs = append(obs, flywheel.Observation{EventID: fmt.Sprintf("e-%d-%d", i, d), TS: dep.AddDate(0, 0, d+1),
				ModelKey: k, ModelVersion: "v1", Symbol: "SYM", PnL: pnl, Position: &pos, ExpectedPnL: &exp})
		}
		flush(false)
	}
	flush(true)
	for j := range jobs {
		k := modelKey(j % n)
		created := now.Add(-time.Duration(j%10) * 24 * time.Hour)
		job := flywheel.Job{ID: fmt.Sprintf("job-%d", j), ModelKey: k, State: flywheel.JobQueued, Executor: "local",
			CreatedAt: created, UpdatedAt: created, EstimatedCost: 1.5}
		if _, err := db.CreateJob(ctx, job); err != nil {
			tb.Fatal(err)
		}
	}
	eng, err := engine.New(engine.Config{Store: db, Logger: testLogger(tb), CILS: cils.DefaultConfig(), ARPO: arpo.DefaultConfig(),
		Orchestrator: orchestrator.DefaultConfig(), Clock: flywheel.ClockFunc(func() time.Time { return now })})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := eng.LearnCILS(ctx); err != nil {
		tb.Fatal(err)
	}
	if _, err := eng.LearnARPO(ctx); err != nil {
		tb.Fatal(err)
	}
	return eng
}

func modelKey(i int) flywheel.ModelKey {
	return flywheel.ModelKey{Target: fmt.Sprintf("fwd_ret_5d_A%05d", i), ModelFamily: "ridge"}
}

func openDB(tb testing.TB) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "f.db"), sqlite.Options{Logger: testLogger(tb)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// actions records the config buttons pressed and applies them to the
// store, as the propagator would.
type actions struct {
	db    flywheel.Store
	mu    sync.Mutex
	calls []string
}

func (a *actions) record(what, id, actor string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, what+" "+id+" by "+actor)
}

func (a *actions) Approve(ctx context.Context, id, actor string) (flywheel.ConfigChange, error) {
	a.record("approve", id, actor)
	return a.db.SetConfigChangeState(ctx, id, flywheel.ChangeProposed, flywheel.ChangeApplied, now)
}

func (a *actions) Reject(ctx context.Context, id, actor, reason string) (flywheel.ConfigChange, error) {
	a.record("reject", id, actor)
	return a.db.SetConfigChangeState(ctx, id, flywheel.ChangeProposed, flywheel.ChangeRejected, now)
}

func (a *actions) Rollback(ctx context.Context, id, actor, reason string) (flywheel.ConfigChange, error) {
	a.record("rollback", id, actor)
	return a.db.SetConfigChangeState(ctx, id, flywheel.ChangeApplied, flywheel.ChangeRolledBack, now)
}

type fixture struct {
	db      *sqlite.DB
	eng     *engine.Engine
	actions *actions
	srv     *httptest.Server
}

// setup serves a dashboard over a small seeded store, with tokens when
// given.
func setup(t *testing.T, tokens []httpapi.Token) *fixture {
	t.Helper()
	db := openDB(t)
	eng := seed(t, db, 12, 8, 30, 4)
	if err := db.PutConfigChange(t.Context(), flywheel.ConfigChange{ID: "c-applied", Target: modelKey(0).Target,
		Source: flywheel.SourceCILS, State: flywheel.ChangeApplied, Update: []byte(`{"rollout": {"canary": ["fwd_ret_5d_A00000"], "deadline": "2026-04-20T00:00:00Z"}}`),
		Diff: "-top_n: 20\n+top_n: 30\n", Reason: "CILS: top_n 30 wins for fwd", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := db.PutConfigChange(t.Context(), flywheel.ConfigChange{ID: "c-proposed", Source: flywheel.SourceARPO,
		State: flywheel.ChangeProposed, Update: []byte(`{}`), CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	a := &actions{db: db}
	h := dashboard.New(dashboard.Config{Store: db, Tokens: tokens, ConfigActions: a, Logger: testLogger(t),
		Now:    func() time.Time { return now },
		Plan:   func(ctx context.Context) (*orchestrator.Plan, error) { return eng.Decide(ctx, false) },
		Health: eng.Health})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &fixture{db: db, eng: eng, actions: a, srv: srv}
}

// client returns an HTTP client with a cookie jar that does not follow
// redirects, so that tests see them.
func (f *fixture) client(t *testing.T) *http.Client {
	t.Helper()
	return &http.Client{Jar: newJar(t), CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	if _, err := fmt.Fprint(&b, readAll(t, resp)); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b.String()
}

func post(t *testing.T, c *http.Client, u string, form url.Values) *http.Response {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrfOf returns the CSRF token in a page.
func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf token in page:\n%s", page)
	}
	return m[1]
}
