package httpapi

import (
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// seeded returns a fixture holding 5 runs of fwd_ret_5d_AAPL/ridge, one
// of fwd_ret_1d_MSFT/logit, 3 observations and 3 deployments.
func seeded(t *testing.T) *fixture {
	t.Helper()
	f := setup(t, Config{})
	var runs []string
	for i := range 5 {
		runs = append(runs, runRec(i).String())
	}
	other := runRec(9).with("run_id", `"msft-1"`).with("target", `"fwd_ret_1d_MSFT"`).with("model_family", `"logit"`).with("status", `"failed"`)
	runs = append(runs, other.String())
	decodeOK(t, f.post(t, "/api/v1/runs", "application/json", array(runs...)), &flywheel.IngestResult{})
	obs := []string{
		obsRec(2).with("pnl", "1").with("expected_pnl", "0.5").String(),
		obsRec(1).with("pnl", "-2").with("expected_pnl", "0.5").String(),
		obsRec(0).with("pnl", "3").with("expected_pnl", "").String(),
	}
	decodeOK(t, f.post(t, "/api/v1/live", "application/x-ndjson", ndjson(obs...)), &flywheel.IngestResult{})
	deps := []string{depRec(0).String(), depRec(1).String(), depRec(2).String()}
	decodeOK(t, f.post(t, "/api/v1/deployments", "application/json", array(deps...)), &flywheel.IngestResult{})
	return f
}

func TestReadRunsPaging(t *testing.T) {
	t.Parallel()
	f := seeded(t)
	var all runList
	decodeOK(t, f.get(t, "/api/v1/runs"), &all)
	want := []string{"run-0", "run-1", "run-2", "run-3", "run-4", "msft-1"}
	if got := runIDs(all.Runs); !reflect.DeepEqual(got, want) || all.Next != "" {
		t.Fatalf("runs = %v next %q, want %v newest first and no next", got, all.Next, want)
	}
	var paged []string
	path := "/api/v1/runs?limit=2"
	for pages := 0; ; pages++ {
		var page runList
		decodeOK(t, f.get(t, path), &page)
		paged = append(paged, runIDs(page.Runs)...)
		if page.Next == "" {
			break
		}
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		path = "/api/v1/runs?limit=2&before=" + url.QueryEscape(page.Next)
	}
	if !reflect.DeepEqual(paged, want) {
		t.Errorf("paged runs = %v, want %v", paged, want)
	}
}

func TestReadRunsFilters(t *testing.T) {
	t.Parallel()
	f := seeded(t)
	var page runList
	decodeOK(t, f.get(t, "/api/v1/runs?target=fwd_ret_1d_MSFT"), &page)
	if got := runIDs(page.Runs); !reflect.DeepEqual(got, []string{"msft-1"}) {
		t.Errorf("runs of fwd_ret_1d_MSFT = %v", got)
	}
	page = runList{}
	decodeOK(t, f.get(t, "/api/v1/runs?status=failed&model_family=logit"), &page)
	if got := runIDs(page.Runs); !reflect.DeepEqual(got, []string{"msft-1"}) {
		t.Errorf("failed logit runs = %v", got)
	}
	w := f.get(t, "/api/v1/runs?status=cancelled")
	if !strings.Contains(w.Body.String(), `"runs":[]`) {
		t.Errorf("no match gives %s, want an empty list, not null", w.Body.String())
	}
}

func TestReadRun(t *testing.T) {
	t.Parallel()
	f := seeded(t)
	var run flywheel.Run
	decodeOK(t, f.get(t, "/api/v1/runs/run-1"), &run)
	if run.RunID != "run-1" || run.Target != "fwd_ret_5d_AAPL" || run.ReceivedAt.IsZero() {
		t.Errorf("run = %+v", run)
	}
	wantError(t, f.get(t, "/api/v1/runs/run-99"), 404, flywheel.ENotFound, "", noIndex)
	wantError(t, f.get(t, "/api/v1/runs/a%20b"), 400, flywheel.EInvalid, "run_id", noIndex)
}

func TestReadModels(t *testing.T) {
	t.Parallel()
	f := seeded(t)
	var page modelList
	decodeOK(t, f.get(t, "/api/v1/models?kind=fwd"), &page)
	if got := modelKeys(page.Models); !reflect.DeepEqual(got, []string{"fwd_ret_1d_MSFT/logit", "fwd_ret_5d_AAPL/ridge"}) {
		t.Errorf("models = %v", got)
	}
	decodeOK(t, f.get(t, "/api/v1/models?limit=1"), &page)
	if got := modelKeys(page.Models); len(got) != 1 || got[0] != "fwd_ret_1d_MSFT/logit" || page.Next == "" {
		t.Fatalf("first page = %v next %q", got, page.Next)
	}
	next := page.Next
	page = modelList{}
	decodeOK(t, f.get(t, "/api/v1/models?limit=1&after="+next), &page)
	if got := modelKeys(page.Models); len(got) != 1 || got[0] != "fwd_ret_5d_AAPL/ridge" || page.Next != "" {
		t.Errorf("second page = %v next %q", got, page.Next)
	}
	var m flywheel.Model
	decodeOK(t, f.get(t, "/api/v1/models/fwd_ret_5d_AAPL/ridge"), &m)
	if m.Runs != 5 || m.Kind != "fwd" || m.LatestScore == nil || *m.LatestScore != 0.61 {
		t.Errorf("model = %+v", m)
	}
	if m.Deployed == nil || m.Deployed.ModelVersion != "v0" {
		t.Errorf("deployed = %+v, want v0, the latest deployment", m.Deployed)
	}
	wantError(t, f.get(t, "/api/v1/models/nope/ridge"), 404, flywheel.ENotFound, "", noIndex)
}

func TestReadLiveSummary(t *testing.T) {
	t.Parallel()
	f := seeded(t)
	var s flywheel.LiveSummary
	decodeOK(t, f.get(t, "/api/v1/models/fwd_ret_5d_AAPL/ridge/live"), &s)
	mean := 2.0 / 3
	std := math.Sqrt((sq(1-mean) + sq(-2-mean) + sq(3-mean)) / 2)
	if s.Observations != 3 || !near(s.PnL, 2) || !near(s.ExpectedPnL, 1) || !near(s.MeanPnL, mean) ||
		!near(s.StdPnL, std) || !near(s.HitRate, 2.0/3) {
		t.Errorf("summary = %+v, want 3 observations, pnl 2, expected 1, mean %.4f, std %.4f, hit rate 0.667", s, mean, std)
	}
	// [since, until) holds only the middle observation.
	since := testNow.Add(-2 * time.Minute).Format(time.RFC3339)
	until := testNow.Add(-1 * time.Minute).Format(time.RFC3339)
	decodeOK(t, f.get(t, "/api/v1/models/fwd_ret_5d_AAPL/ridge/live?since="+since+"&until="+until), &s)
	if s.Observations != 1 || s.PnL != -2 {
		t.Errorf("windowed summary = %+v, want the one observation with pnl -2", s)
	}
	// The same window with an unescaped "+00:00", as curl users write it.
	since = testNow.Add(-2 * time.Minute).Format("2006-01-02T15:04:05+00:00")
	s = flywheel.LiveSummary{}
	decodeOK(t, f.get(t, "/api/v1/models/fwd_ret_5d_AAPL/ridge/live?since="+since+"&until="+until), &s)
	if s.Observations != 1 {
		t.Errorf("summary since %s = %+v, want one observation", since, s)
	}
	s = flywheel.LiveSummary{}
	decodeOK(t, f.get(t, "/api/v1/models/nothing/here/live"), &s)
	if s.Observations != 0 || s.PnL != 0 {
		t.Errorf("summary of an unknown model = %+v, want zero", s)
	}
}

func TestReadObservations(t *testing.T) {
	t.Parallel()
	f := seeded(t)
	var page observationList
	decodeOK(t, f.get(t, "/api/v1/models/fwd_ret_5d_AAPL/ridge/observations?limit=2"), &page)
	if len(page.Observations) != 2 || page.Observations[0].PnL != 1 || page.Next == "" {
		t.Fatalf("first page = %+v", page)
	}
	next := page.Next
	page = observationList{}
	decodeOK(t, f.get(t, "/api/v1/models/fwd_ret_5d_AAPL/ridge/observations?limit=2&after="+next), &page)
	if len(page.Observations) != 1 || page.Observations[0].PnL != 3 || page.Next != "" {
		t.Errorf("second page = %+v", page)
	}
}

func TestReadDeployments(t *testing.T) {
	t.Parallel()
	f := seeded(t)
	var list deploymentList
	decodeOK(t, f.get(t, "/api/v1/deployments?target=fwd_ret_5d_AAPL"), &list)
	var versions []string
	for _, d := range list.Deployments {
		versions = append(versions, d.ModelVersion)
	}
	if !reflect.DeepEqual(versions, []string{"v0", "v1", "v2"}) {
		t.Errorf("deployments = %v, want newest first", versions)
	}
	decodeOK(t, f.get(t, "/api/v1/deployments?limit=1"), &list)
	if len(list.Deployments) != 1 {
		t.Errorf("limit 1 gave %d deployments", len(list.Deployments))
	}
}

func TestReadStatus(t *testing.T) {
	t.Parallel()
	f := seeded(t)
	var m map[string]any
	decodeOK(t, f.get(t, "/api/v1/status"), &m)
	for _, key := range append(jsonKeys(reflect.TypeFor[flywheel.Counts]()), "version", "started_at") {
		if _, ok := m[key]; !ok {
			t.Errorf("status has no key %q: %v", key, m)
		}
	}
	if m["runs"] != 6.0 || m["live_observations"] != 3.0 || m["deployments"] != 3.0 {
		t.Errorf("status counts = %v", m)
	}
	if m["version"] != "test-version" || m["started_at"] != testNow.Format(time.RFC3339) {
		t.Errorf("status version %v started_at %v", m["version"], m["started_at"])
	}
}

func TestBadQuery(t *testing.T) {
	t.Parallel()
	f := setup(t, Config{})
	cases := []struct{ path, field string }{
		{"/api/v1/runs?limit=0", "limit"},
		{"/api/v1/runs?limit=ten", "limit"},
		{"/api/v1/runs?limit=10001", "limit"},
		{"/api/v1/runs?target=../x", "target"},
		{"/api/v1/runs?status=done", "status"},
		{"/api/v1/runs?before=garbage", "before"},
		{"/api/v1/runs?since=yesterday", "since"},
		{"/api/v1/runs?colour=red", "colour"},
		{"/api/v1/runs?target=a&target=b", "target"},
		{"/api/v1/models?after=" + encodeCursor("only-one-part"), "after"},
		{"/api/v1/models?kind=a/b", "kind"},
		{"/api/v1/models/a%20b/ridge", "target"},
		{"/api/v1/models/a/" + strings.Repeat("b", 200) + "/live", "model_family"},
		{"/api/v1/models/a/b/live?since=2024-06-01", "since"},
		{"/api/v1/models/a/b/live?since=2024-06-02T00:00:00Z&until=2024-06-01T00:00:00Z", "until"},
		{"/api/v1/models/a/b/observations?after=" + encodeCursor("not-a-time", "e1"), "after"},
		{"/api/v1/deployments?limit=-1", "limit"},
	}
	for _, c := range cases {
		wantError(t, f.get(t, c.path), 400, flywheel.EInvalid, c.field, noIndex)
	}
}

func TestUnknownRouteAndMethod(t *testing.T) {
	t.Parallel()
	f := setup(t, Config{})
	wantError(t, f.get(t, "/api/v1/nothing"), 404, flywheel.ENotFound, "", noIndex)
	wantError(t, f.get(t, "/"), 404, flywheel.ENotFound, "", noIndex)
	cases := []struct{ method, path, allow string }{
		{http.MethodDelete, "/api/v1/runs", "GET, POST"},
		{http.MethodPut, "/healthz", "GET"},
		{http.MethodGet, "/api/v1/live", "POST"},
		{http.MethodPost, "/api/v1/runs/run-1", "GET"},
	}
	for _, c := range cases {
		w := f.do(t, request{method: c.method, path: c.path})
		wantError(t, w, http.StatusMethodNotAllowed, errMethodNotAllowed, "", noIndex)
		if got := w.Header().Get("Allow"); got != c.allow {
			t.Errorf("%s %s: Allow = %q, want %q", c.method, c.path, got, c.allow)
		}
	}
}

// TestStoreDown closes the store under the server: reads fail with a 500
// that says nothing of the cause, and /readyz says 503.
func TestStoreDown(t *testing.T) {
	t.Parallel()
	f := setup(t, Config{})
	decodeOK(t, f.get(t, "/readyz"), &map[string]any{})
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	w := f.get(t, "/api/v1/status")
	wantError(t, w, 500, flywheel.EInternal, "", noIndex)
	if !strings.Contains(w.Body.String(), `"message":"internal error"`) {
		t.Errorf("500 body %s, want the message internal error and nothing more", w.Body.String())
	}
	wantError(t, f.get(t, "/readyz"), 503, flywheel.EUnavailable, "", noIndex)
	decodeOK(t, f.get(t, "/healthz"), &map[string]any{})
}

func TestRecoverPanics(t *testing.T) {
	t.Parallel()
	h := logRequests(testLogger(t))(recoverPanics(testLogger(t))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("boom")
	})))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/x", nil))
	wantError(t, w, 500, flywheel.EInternal, "", noIndex)
	if strings.Contains(w.Body.String(), "boom") {
		t.Errorf("the panic value leaked to the client: %s", w.Body.String())
	}
}

func TestHealthz(t *testing.T) {
	t.Parallel()
	f := setup(t, Config{})
	var h map[string]string
	decodeOK(t, f.get(t, "/healthz"), &h)
	if h["status"] != "ok" {
		t.Errorf("healthz = %v", h)
	}
}

func runIDs(runs []flywheel.Run) []string {
	var ids []string
	for _, r := range runs {
		ids = append(ids, r.RunID)
	}
	return ids
}

func modelKeys(ms []flywheel.Model) []string {
	var keys []string
	for _, m := range ms {
		keys = append(keys, m.ModelKey.String())
	}
	return keys
}

// jsonKeys lists the JSON names of a struct's fields.
func jsonKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		keys = append(keys, name)
	}
	return keys
}

func sq(x float64) float64 { return x * x }

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
