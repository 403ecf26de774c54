package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/sqlite"
)

// testNow is the clock of every test server and store.
var testNow = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

// logWriter sends log output to t.Log, so that it shows with a failure.
type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// fixture is a server on a real SQLite store in a temporary directory.
type fixture struct {
	store   *sqlite.DB
	handler http.Handler
}

// setup returns a fixture; cfg may set Tokens and MaxBodyBytes.
func setup(t testing.TB, cfg Config) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "flywheel.db"), sqlite.Options{
		Logger: testLogger(t),
		Now:    func() time.Time { return testNow },
	})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	cfg.Store = db
	cfg.Logger = testLogger(t)
	cfg.Version = "test-version"
	cfg.Now = func() time.Time { return testNow }
	return &fixture{store: db, handler: NewServer(cfg)}
}

// request is one call to the API.
type request struct {
	method, path string
	token        string
	contentType  string
	body         string
}

// do sends a request straight to the handler; mods change it first.
func (f *fixture) do(t testing.TB, req request, mods ...func(*http.Request)) *httptest.ResponseRecorder {
	t.Helper()
	var r *http.Request
	if req.body != "" || req.method == http.MethodPost {
		r = httptest.NewRequest(req.method, req.path, strings.NewReader(req.body))
	} else {
		r = httptest.NewRequest(req.method, req.path, nil)
	}
	if req.contentType != "" {
		r.Header.Set("Content-Type", req.contentType)
	}
	if req.token != "" {
		r.Header.Set("Authorization", "Bearer "+req.token)
	}
	for _, m := range mods {
		m(r)
	}
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, r)
	return w
}

func (f *fixture) post(t testing.TB, path, contentType, body string) *httptest.ResponseRecorder {
	t.Helper()
	return f.do(t, request{method: http.MethodPost, path: path, contentType: contentType, body: body})
}

func (f *fixture) get(t testing.TB, path string) *httptest.ResponseRecorder {
	t.Helper()
	return f.do(t, request{method: http.MethodGet, path: path})
}

// counts returns what the store holds.
func (f *fixture) counts(t testing.TB) flywheel.Counts {
	t.Helper()
	c, err := f.store.Counts(context.Background())
	if err != nil {
		t.Fatalf("counts: %v", err)
	}
	return c
}

// decodeOK checks a 200 response and decodes its body into v.
func decodeOK(t testing.TB, w *httptest.ResponseRecorder, v any) {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", w.Code, w.Body.String())
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
		t.Fatalf("decode %s: %v", w.Body.String(), err)
	}
}

// noIndex and anyIndex are wantIndex values: the index must be absent,
// or is not checked.
const (
	noIndex  = -1
	anyIndex = -2
)

// wantError checks an error response: status, code, field ("" means the
// key must be absent) and index.
func wantError(t testing.TB, w *httptest.ResponseRecorder, status int, code flywheel.ErrorCode, field string, index int) {
	t.Helper()
	if w.Code != status {
		t.Errorf("status = %d, want %d; body %s", w.Code, status, w.Body.String())
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var body struct {
		Error struct {
			Code    flywheel.ErrorCode `json:"code"`
			Message string             `json:"message"`
			Field   *string            `json:"field"`
			Index   *int               `json:"index"`
		} `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("error body %q is not JSON: %v", w.Body.String(), err)
	}
	e := body.Error
	if e.Code != code {
		t.Errorf("code = %q, want %q; body %s", e.Code, code, w.Body.String())
	}
	if e.Message == "" {
		t.Errorf("message is empty; body %s", w.Body.String())
	}
	switch {
	case field == "" && e.Field != nil:
		t.Errorf("field = %q, want none; body %s", *e.Field, w.Body.String())
	case field != "" && (e.Field == nil || *e.Field != field):
		t.Errorf("field = %v, want %q; body %s", deref(e.Field), field, w.Body.String())
	}
	switch {
	case index == anyIndex:
	case index == noIndex && e.Index != nil:
		t.Errorf("index = %d, want none; body %s", *e.Index, w.Body.String())
	case index >= 0 && (e.Index == nil || *e.Index != index):
		t.Errorf("index = %v, want %d; body %s", deref(e.Index), index, w.Body.String())
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return "none"
	}
	return *p
}

// rec is a JSON object written as ordered (key, raw JSON value) pairs, so
// that tests can put anything in a value, including what JSON forbids.
type rec [][2]string

// with returns a copy with key set to raw, or removed when raw is "".
func (r rec) with(key, raw string) rec {
	out := make(rec, 0, len(r)+1)
	found := false
	for _, kv := range r {
		if kv[0] == key {
			found = true
			if raw == "" {
				continue
			}
			kv[1] = raw
		}
		out = append(out, kv)
	}
	if !found && raw != "" {
		out = append(out, [2]string{key, raw})
	}
	return out
}

func (r rec) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, kv := range r {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + kv[0] + `":` + kv[1])
	}
	b.WriteByte('}')
	return b.String()
}

// array joins records into a JSON array; ndjson into lines.
func array(recs ...string) string  { return "[" + strings.Join(recs, ",") + "]" }
func ndjson(recs ...string) string { return strings.Join(recs, "\n") + "\n" }

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Valid records, numbered so that each has its own key.

func obsRec(i int) rec {
	ts := testNow.Add(-time.Duration(i+1) * time.Minute).Format(time.RFC3339)
	return rec{
		{"event_id", quote("ev-" + itoa(i))},
		{"ts", quote(ts)},
		{"target", `"fwd_ret_5d_AAPL"`},
		{"model_family", `"ridge"`},
		{"model_version", `"v1"`},
		{"symbol", `"AAPL"`},
		{"pnl", "1.5"},
		{"expected_pnl", "1.0"},
		{"position", "100"},
	}
}

func runRec(i int) rec {
	start := testNow.Add(-time.Duration(i+2) * time.Hour)
	return rec{
		{"run_id", quote("run-" + itoa(i))},
		{"target", `"fwd_ret_5d_AAPL"`},
		{"model_family", `"ridge"`},
		{"feature_set", `"momentum.v2"`},
		{"config", `{"top_n": 20, "aggregation_method": "mean"}`},
		{"started_at", quote(start.Format(time.RFC3339))},
		{"finished_at", quote(start.Add(30 * time.Minute).Format(time.RFC3339))},
		{"status", `"succeeded"`},
		{"metrics", `{"validation_score": 0.61, "auc": 0.7}`},
		{"fold_scores", `[0.6, 0.62, 0.61]`},
		{"feature_importance", `{"mom_5d": 0.4, "vol_20d": 0.1}`},
		{"leakage_events", `[{"feature": "fut_ret_1d", "score": 0.93, "threshold": 0.5, "confirmed": null}]`},
		{"cost", `{"gpu_hours": 0.5, "cpu_hours": 2, "wall_seconds": 1800}`},
		{"data_window", `{"from": "2020-01-01T00:00:00Z", "to": "2024-01-01T00:00:00Z"}`},
		{"regime", `"calm"`},
	}
}

func depRec(i int) rec {
	return rec{
		{"target", `"fwd_ret_5d_AAPL"`},
		{"model_family", `"ridge"`},
		{"model_version", quote("v" + itoa(i))},
		{"run_id", quote("run-" + itoa(i))},
		{"deployed_at", quote(testNow.Add(-time.Duration(i+1) * time.Hour).Format(time.RFC3339))},
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
