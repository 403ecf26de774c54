package metrics_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/metrics"
	"github.com/flywheel-ml/flywheel/orchestrator"
	"github.com/flywheel-ml/flywheel/sqlite"
	"github.com/flywheel-ml/flywheel/storetest"
)

func openStore(t *testing.T) flywheel.Store {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "f.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// The decorator must not change what the store does: it passes the same
// conformance suite as the store it wraps.
func TestInstrumentedStoreConformance(t *testing.T) {
	m := metrics.New(prometheus.NewRegistry())
	storetest.Run(t, func(t *testing.T) flywheel.Store { return metrics.InstrumentStore(openStore(t), m) })
}

func TestObserveIngest(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	m.ObserveIngest("runs", flywheel.IngestResult{Accepted: 3, Updated: 1, Duplicates: 2}, nil)
	m.ObserveIngest("runs", flywheel.IngestResult{Accepted: 1}, nil)
	m.ObserveIngest("live", flywheel.IngestResult{}, flywheel.FieldError("pnl", "must be finite"))
	m.ObserveIngest("live", flywheel.IngestResult{}, errors.New("disk full"))

	want := `
# HELP flywheel_ingest_errors_total Ingest batches refused, by kind and error code (invalid, conflict, too_large, unauthorized, internal, ...).
# TYPE flywheel_ingest_errors_total counter
flywheel_ingest_errors_total{code="internal",kind="live"} 1
flywheel_ingest_errors_total{code="invalid",kind="live"} 1
# HELP flywheel_ingest_records_total Records received through the ingest API, by kind (runs, live, deployments) and result (accepted, updated, duplicate).
# TYPE flywheel_ingest_records_total counter
flywheel_ingest_records_total{kind="runs",result="accepted"} 4
flywheel_ingest_records_total{kind="runs",result="duplicate"} 2
flywheel_ingest_records_total{kind="runs",result="updated"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "flywheel_ingest_records_total", "flywheel_ingest_errors_total"); err != nil {
		t.Error(err)
	}
}

func TestStoreTimingAndCounters(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	s := metrics.InstrumentStore(openStore(t), m)
	ctx := t.Context()
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	k := flywheel.ModelKey{Target: "fwd_ret_5d_AAPL", ModelFamily: "ridge"}

	if _, err := s.Model(ctx, k); flywheel.Code(err) != flywheel.ENotFound {
		t.Fatalf("Model of an empty store: %v, want not found", err)
	}
	sigs := []flywheel.Signal{
		{ID: "s1", ModelKey: k, Sources: []string{flywheel.SourceCILS, flywheel.SourceARPO}, Reasons: []flywheel.Reason{}, Factors: map[string]float64{}, CreatedAt: t0},
		{ID: "s2", ModelKey: k, Sources: []string{flywheel.SourceCILS}, Reasons: []flywheel.Reason{}, Factors: map[string]float64{}, CreatedAt: t0},
	}
	if _, err := s.PutSignals(ctx, sigs); err != nil {
		t.Fatal(err)
	}
	// The same batch again is all duplicates and must not count.
	if _, err := s.PutSignals(ctx, sigs); err != nil {
		t.Fatal(err)
	}
	c := flywheel.ConfigChange{ID: "c1", Source: flywheel.SourceCILS, State: flywheel.ChangeApplied,
		Update: []byte(`{}`), CreatedAt: t0, UpdatedAt: t0}
	for _, err := range []error{
		s.PutConfigChange(ctx, c),
		s.PutConfigChange(ctx, c), // rewritten in place: no new state
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.SetConfigChangeState(ctx, "c1", flywheel.ChangeApplied, flywheel.ChangeRolledBack, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		got  float64
		want float64
	}{
		{"signals CILS", metricValue(t, reg, "flywheel_signals_total", map[string]string{"source": "CILS"}), 2},
		{"signals ARPO", metricValue(t, reg, "flywheel_signals_total", map[string]string{"source": "ARPO"}), 1},
		{"rollbacks", metricValue(t, reg, "flywheel_config_rollbacks_total", nil), 1},
		{"changes applied", metricValue(t, reg, "flywheel_config_changes_total", map[string]string{"source": "CILS", "state": "applied"}), 1},
		{"changes rolled back", metricValue(t, reg, "flywheel_config_changes_total", map[string]string{"source": "CILS", "state": "rolled_back"}), 1},
		{"Model timed", histogramCount(t, reg, "flywheel_store_operation_duration_seconds", "op", "Model"), 1},
		{"PutSignals timed", histogramCount(t, reg, "flywheel_store_operation_duration_seconds", "op", "PutSignals"), 2},
		{"not found is not an error", metricValue(t, reg, "flywheel_store_operation_errors_total", map[string]string{"op": "Model"}), 0},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func TestIngestMiddleware(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/runs":
			io.WriteString(w, `{"accepted": 2, "updated": 0, "duplicates": 1}`)
		case "/api/v1/live":
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			io.WriteString(w, `{"error": {"code": "too_large", "message": "body over the limit"}}`)
		default:
			io.WriteString(w, `{"accepted": 99}`)
		}
	})
	h := m.IngestMiddleware(api)
	for _, req := range []struct{ method, path string }{
		{"POST", "/api/v1/runs"}, {"POST", "/api/v1/live"},
		{"GET", "/api/v1/runs"}, {"POST", "/api/v1/jobs/j1/progress"},
	} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(req.method, req.path, nil))
	}
	want := `
# HELP flywheel_ingest_errors_total Ingest batches refused, by kind and error code (invalid, conflict, too_large, unauthorized, internal, ...).
# TYPE flywheel_ingest_errors_total counter
flywheel_ingest_errors_total{code="too_large",kind="live"} 1
# HELP flywheel_ingest_records_total Records received through the ingest API, by kind (runs, live, deployments) and result (accepted, updated, duplicate).
# TYPE flywheel_ingest_records_total counter
flywheel_ingest_records_total{kind="runs",result="accepted"} 2
flywheel_ingest_records_total{kind="runs",result="duplicate"} 1
flywheel_ingest_records_total{kind="runs",result="updated"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "flywheel_ingest_records_total", "flywheel_ingest_errors_total"); err != nil {
		t.Error(err)
	}
}

func TestStateCollector(t *testing.T) {
	t.Parallel()
	acc, corr := 0.75, 0.5
	h := orchestrator.LoopHealth{
		CILSToTrainingLatency: orchestrator.LatencyStat{Count: 4, MedianSeconds: 30, MaxSeconds: 90},
		CILSSignalAccuracy:    &acc,
		Accuracy:              []orchestrator.SourceAccuracy{{Source: "CILS", Kind: "training", Signals: 4, Accurate: 3, Rate: &acc}},
		PriorityCorrelation:   []orchestrator.Correlation{{Source: "ARPO", Kind: "live", N: 9, Spearman: &corr}},
		Jobs:                  orchestrator.JobCounts{Succeeded: 5, Failed: 1},
	}
	paused := false
	calls := 0
	fn := func(ctx context.Context) (metrics.State, error) {
		calls++
		return metrics.State{
			Jobs:   map[flywheel.JobState]int{flywheel.JobRunning: 2, flywheel.JobAdmitted: 1},
			Budget: &orchestrator.BudgetView{Limit: 100, Spent: 12.5, Reserved: 3},
			Health: &h,
			Paused: &paused,
		}, nil
	}
	now := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewStateCollector(metrics.CachedState(fn, time.Minute, func() time.Time { return now }), 0, nil))

	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"flywheel_state_up", nil, 1},
		{"flywheel_jobs", map[string]string{"state": "running"}, 2},
		{"flywheel_jobs", map[string]string{"state": "queued"}, 0},
		{"flywheel_budget_used_units", nil, 12.5},
		{"flywheel_budget_limit_units", nil, 100},
		{"flywheel_loop_latency_median_seconds", map[string]string{"path": "cils_to_training"}, 30},
		{"flywheel_loop_signal_accuracy_ratio", map[string]string{"source": "CILS", "kind": "training"}, 0.75},
		{"flywheel_loop_priority_correlation", map[string]string{"source": "ARPO", "kind": "live"}, 0.5},
		{"flywheel_loop_health_ratio", map[string]string{"figure": "cils_signal_accuracy"}, 0.75},
		{"flywheel_loop_jobs", map[string]string{"outcome": "succeeded"}, 5},
	} {
		if got := metricValue(t, reg, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	// A latency with nothing measured, and a ratio that is null, are
	// absent rather than a misleading 0.
	if n := seriesCount(t, reg, "flywheel_loop_latency_median_seconds"); n != 1 {
		t.Errorf("latency series = %d, want only the measured path", n)
	}
	if calls != 1 {
		t.Errorf("state read %d times across scrapes within the TTL, want 1", calls)
	}
}

func TestStateCollectorError(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	fail := func(context.Context) (metrics.State, error) { return metrics.State{}, errors.New("db gone") }
	reg.MustRegister(metrics.NewStateCollector(fail, time.Second, slog.New(slog.DiscardHandler)))
	if got := metricValue(t, reg, "flywheel_state_up", nil); got != 0 {
		t.Errorf("flywheel_state_up = %v, want 0", got)
	}
}

// Every metric must follow Prometheus's naming conventions: units in the
// names, _total on counters.
func TestLint(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	m.ObserveIngest("runs", flywheel.IngestResult{Accepted: 1}, nil)
	m.ObserveIngest("runs", flywheel.IngestResult{}, errors.New("x"))
	m.ObserveLearnerPass("cils", time.Second, errors.New("x"))
	m.ObserveSignals([]flywheel.Signal{{Sources: []string{"CILS"}}})
	m.ObserveConfigChange("CILS", flywheel.ChangeRolledBack)
	s := metrics.InstrumentStore(openStore(t), m)
	if err := s.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	h := m.InstrumentHandler("api", http.NotFoundHandler())
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	probs, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range probs {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

func TestHandler(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	m.ObserveLearnerPass("arpo", 250*time.Millisecond, nil)
	rec := httptest.NewRecorder()
	metrics.Handler(reg).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	want := `flywheel_learner_pass_duration_seconds_count{learner="arpo"} 1`
	if !strings.Contains(rec.Body.String(), want) {
		t.Errorf("/metrics lacks %q:\n%s", want, rec.Body.String())
	}
}
