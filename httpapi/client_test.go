package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// clientSetup serves a fixture over real HTTP and returns a client of it.
func clientSetup(t *testing.T, cfg Config, token string) (*Client, *fixture, string) {
	t.Helper()
	f := setup(t, cfg)
	srv := httptest.NewServer(f.handler)
	t.Cleanup(srv.Close) // runs before the store closes, and waits for handlers
	return NewClient(srv.URL+"/", token, nil), f, srv.URL
}

var aapl = flywheel.ModelKey{Target: "fwd_ret_5d_AAPL", ModelFamily: "ridge"}

func domainRun(i int) flywheel.Run {
	start := testNow.Add(-time.Duration(i+1) * time.Hour)
	end := start.Add(20 * time.Minute)
	confirmed := true
	return flywheel.Run{
		RunID:             fmt.Sprintf("run-%d", i),
		ModelKey:          aapl,
		FeatureSet:        "momentum.v2",
		Config:            map[string]any{"top_n": 20.0, "aggregation_method": "mean"},
		StartedAt:         start,
		FinishedAt:        &end,
		Status:            flywheel.RunSucceeded,
		Metrics:           map[string]float64{"validation_score": 0.5 + float64(i)/100},
		FoldScores:        []float64{0.5, 0.52},
		FeatureImportance: map[string]float64{"mom_5d": 0.3},
		LeakageEvents:     []flywheel.LeakageEvent{{Feature: "fut_ret", Score: 0.9, Threshold: 0.5, Confirmed: &confirmed}},
		Cost:              flywheel.Cost{GPUHours: 1, CPUHours: 2, WallSeconds: 1200},
		DataWindow:        &flywheel.DataWindow{From: start.AddDate(-1, 0, 0), To: start},
	}
}

func domainObservations(n int) []flywheel.Observation {
	obs := make([]flywheel.Observation, n)
	for i := range obs {
		exp := 0.1
		obs[i] = flywheel.Observation{
			EventID:      fmt.Sprintf("ev-%d", i),
			TS:           testNow.Add(-time.Duration(n-i) * time.Second),
			ModelKey:     aapl,
			ModelVersion: "v1",
			Symbol:       "AAPL",
			PnL:          float64(i%7) - 3,
			ExpectedPnL:  &exp,
		}
	}
	return obs
}

// clientSeeded posts 3 runs, 500 observations and a deployment through
// the client, checking each result.
func clientSeeded(t *testing.T) (*Client, []flywheel.Run, []flywheel.Observation, flywheel.Deployment) {
	t.Helper()
	c, _, _ := clientSetup(t, Config{}, "")
	ctx := context.Background()
	runs := []flywheel.Run{domainRun(0), domainRun(1), domainRun(2)}
	obs := domainObservations(500)
	dep := flywheel.Deployment{ModelKey: aapl, ModelVersion: "v1", RunID: "run-0", DeployedAt: testNow.Add(-time.Hour)}
	wantAccepted := func(what string, res flywheel.IngestResult, err error, n int) {
		t.Helper()
		if err != nil || res != (flywheel.IngestResult{Accepted: n}) {
			t.Fatalf("%s: %+v, %v; want %d accepted", what, res, err, n)
		}
	}
	res, err := c.PostRuns(ctx, runs)
	wantAccepted("PostRuns", res, err, 3)
	res, err = c.PostObservations(ctx, obs)
	wantAccepted("PostObservations", res, err, 500)
	res, err = c.PostDeployments(ctx, []flywheel.Deployment{dep})
	wantAccepted("PostDeployments", res, err, 1)
	return c, runs, obs, dep
}

func TestClientRoundTrip(t *testing.T) {
	t.Parallel()
	c, runs, obs, dep := clientSeeded(t)
	ctx := context.Background()
	res, err := c.PostObservations(ctx, obs)
	if err != nil || res != (flywheel.IngestResult{Duplicates: 500}) {
		t.Errorf("posting again: %+v, %v; want 500 duplicates", res, err)
	}
	got, err := c.Run(ctx, "run-1")
	if err != nil {
		t.Fatal(err)
	}
	got.ReceivedAt = time.Time{}
	if a, b := mustJSON(t, got), mustJSON(t, runs[1]); a != b {
		t.Errorf("run read back differs:\ngot  %s\nwant %s", a, b)
	}
	page, err := c.Runs(ctx, flywheel.RunFilter{Limit: 2})
	if err != nil || len(page) != 2 || page[0].RunID != "run-0" {
		t.Fatalf("Runs: %v, %v", runIDs(page), err)
	}
	last := page[len(page)-1]
	page, err = c.Runs(ctx, flywheel.RunFilter{Limit: 2, Before: &flywheel.RunCursor{StartedAt: last.StartedAt, RunID: last.RunID}})
	if err != nil || len(page) != 1 || page[0].RunID != "run-2" {
		t.Errorf("Runs before run-1: %v, %v; want [run-2]", runIDs(page), err)
	}
	deps, err := c.Deployments(ctx, flywheel.DeploymentFilter{Target: aapl.Target})
	if err != nil || len(deps) != 1 || deps[0].Key() != dep.Key() {
		t.Errorf("Deployments: %+v, %v", deps, err)
	}
	st, err := c.Status(ctx)
	if err != nil || st.Runs != 3 || st.LiveObservations != 500 || st.Deployments != 1 || st.Version != "test-version" || !st.StartedAt.Equal(testNow) {
		t.Errorf("Status: %+v, %v", st, err)
	}
	if err := c.Healthz(ctx); err != nil {
		t.Errorf("Healthz: %v", err)
	}
	if err := c.Readyz(ctx); err != nil {
		t.Errorf("Readyz: %v", err)
	}
}

func TestClientModelReads(t *testing.T) {
	t.Parallel()
	c, _, obs, _ := clientSeeded(t)
	ctx := context.Background()
	models, err := c.Models(ctx, flywheel.ModelFilter{Target: aapl.Target})
	if err != nil || len(models) != 1 || models[0].ModelKey != aapl || models[0].Runs != 3 {
		t.Errorf("Models: %+v, %v", models, err)
	}
	if m, err := c.Model(ctx, aapl); err != nil || m.Deployed == nil || m.Deployed.ModelVersion != "v1" {
		t.Errorf("Model: %+v, %v", m, err)
	}
	var wantPnL float64
	for _, o := range obs {
		wantPnL += o.PnL
	}
	s, err := c.LiveSummary(ctx, aapl, time.Time{}, time.Time{})
	if err != nil || s.Observations != 500 || !near(s.PnL, wantPnL) || !near(s.ExpectedPnL, 50) {
		t.Errorf("LiveSummary: %+v, %v; want 500 observations, pnl %v, expected 50", s, err, wantPnL)
	}
	s, err = c.LiveSummary(ctx, aapl, obs[100].TS, obs[200].TS)
	if err != nil || s.Observations != 100 {
		t.Errorf("LiveSummary of [obs 100, obs 200): %d observations, %v; want 100", s.Observations, err)
	}
	first, err := c.Observations(ctx, flywheel.ObservationFilter{Model: aapl, Limit: 300})
	if err != nil || len(first) != 300 {
		t.Fatalf("Observations: %d, %v", len(first), err)
	}
	l := first[len(first)-1]
	rest, err := c.Observations(ctx, flywheel.ObservationFilter{Model: aapl, AfterTS: l.TS, AfterEventID: l.EventID, Limit: 300})
	if err != nil || len(rest) != 200 || rest[0].EventID != "ev-300" {
		t.Errorf("Observations after ev-299: %d, %v", len(rest), err)
	}
}

// TestClientErrors checks that API errors arrive as *flywheel.Error with
// the field and index the server named.
func TestClientErrors(t *testing.T) {
	t.Parallel()
	c, f, _ := clientSetup(t, Config{}, "")
	ctx := context.Background()

	obs := domainObservations(5)
	obs[2].Target = "../etc/passwd"
	_, err := c.PostObservations(ctx, obs)
	wantAPIError(t, err, flywheel.EInvalid, "target", 2)
	if want := `record 2: target: "../etc/passwd" does not match`; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error text %q, want it to start with %q", err, want)
	}

	// A NaN cannot be encoded as JSON; the client says where it is.
	obs = domainObservations(5)
	obs[3].PnL = math.NaN()
	_, err = c.PostObservations(ctx, obs)
	wantAPIError(t, err, flywheel.EInvalid, "pnl", 3)
	if err.Error() != "record 3: pnl: must be a finite number" {
		t.Errorf("error text %q", err)
	}

	body := ndjson(obsRec(0).String(), obsRec(1).with("pnl", "NaN").String())
	_, err = c.Report(ctx, "live", strings.NewReader(body), "application/x-ndjson")
	wantAPIError(t, err, flywheel.EInvalid, "pnl", 1)

	_, err = c.Run(ctx, "run-404")
	wantAPIError(t, err, flywheel.ENotFound, "", -1)

	_, err = c.Report(ctx, "jobs", strings.NewReader("{}"), "")
	wantAPIError(t, err, flywheel.EInvalid, "", -1)

	if got := f.counts(t); got != (flywheel.Counts{}) {
		t.Errorf("counts = %+v, want nothing stored", got)
	}
}

func TestClientAuth(t *testing.T) {
	t.Parallel()
	tokens := []Token{{Name: "ro", Secret: "ro-secret", Role: RoleRead}, {Name: "pipe", Secret: "pipe-secret", Role: RoleReport}}
	ctx := context.Background()
	_, _, url := clientSetup(t, Config{Tokens: tokens}, "")
	for _, c := range []struct {
		token string
		code  flywheel.ErrorCode
	}{{"", flywheel.EUnauthorized}, {"wrong", flywheel.EUnauthorized}, {"ro-secret", flywheel.EForbidden}, {"pipe-secret", ""}} {
		_, err := NewClient(url, c.token, nil).PostRuns(ctx, []flywheel.Run{domainRun(0)})
		if got := flywheel.Code(err); got != c.code {
			t.Errorf("token %q: PostRuns error %v, want code %q", c.token, err, c.code)
		}
	}
	if err := NewClient(url, "", nil).Healthz(ctx); err != nil {
		t.Errorf("Healthz without a token: %v", err)
	}
}

// TestClientReportStreams posts a body of unknown length, as the CLI does
// with standard input.
func TestClientReportStreams(t *testing.T) {
	t.Parallel()
	c, _, _ := clientSetup(t, Config{}, "")
	pr, pw := io.Pipe()
	go func() {
		for i := range 1000 {
			fmt.Fprintln(pw, obsRec(i).String())
		}
		pw.Close()
	}()
	res, err := c.Report(context.Background(), "live", pr, "application/x-ndjson")
	if err != nil || res.Accepted != 1000 {
		t.Errorf("Report: %+v, %v; want 1000 accepted", res, err)
	}
	res, err = c.Report(context.Background(), "runs", strings.NewReader(runRec(0).String()), "")
	if err != nil || res.Accepted != 1 {
		t.Errorf("Report of one run: %+v, %v", res, err)
	}
}

func TestClientTransportError(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	err := NewClient(url, "", nil).Healthz(context.Background())
	if err == nil || !strings.Contains(err.Error(), url+"/healthz") {
		t.Errorf("error %v, want one naming %s/healthz", err, url)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := NewClient(url, "", nil).Healthz(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: error %v, want context.Canceled in the chain", err)
	}
}

// TestClientForeignError gets an error page that is not ours, as from a
// proxy: the code follows the status.
func TestClientForeignError(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "upstream is down", http.StatusBadGateway)
	}))
	t.Cleanup(srv.Close)
	_, err := NewClient(srv.URL, "", nil).Status(context.Background())
	wantAPIError(t, err, flywheel.EInternal, "", -1)
	if !strings.Contains(err.Error(), "502") || !strings.Contains(err.Error(), "upstream is down") {
		t.Errorf("error %q, want the status and the body", err)
	}
}

func wantAPIError(t *testing.T, err error, code flywheel.ErrorCode, field string, index int) {
	t.Helper()
	var e *flywheel.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want *flywheel.Error", err, err)
	}
	if e.Code != code || e.Field != field {
		t.Errorf("error %q: code %q field %q, want %q %q", err, e.Code, e.Field, code, field)
	}
	switch {
	case index < 0 && e.Index != nil:
		t.Errorf("error %q: index %d, want none", err, *e.Index)
	case index >= 0 && (e.Index == nil || *e.Index != index):
		t.Errorf("error %q: index %v, want %d", err, deref(e.Index), index)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
