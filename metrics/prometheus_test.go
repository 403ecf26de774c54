package metrics_test

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/internal/promtest"
	"github.com/flywheel-ml/flywheel/metrics"
)

// TestPrometheusScrapes runs Debian's Prometheus (apt-get install -y
// prometheus) scraping /metrics every second, and reads one counter and
// one histogram back through Prometheus's HTTP API: what a Grafana panel
// would see.
func TestPrometheusScrapes(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	m.ObserveIngest("runs", flywheel.IngestResult{Accepted: 7, Duplicates: 2}, nil)
	m.ObserveIngest("runs", flywheel.IngestResult{Accepted: 5}, nil)
	for _, d := range []time.Duration{200 * time.Millisecond, 300 * time.Millisecond, 4 * time.Second} {
		m.ObserveLearnerPass("cils", d, nil)
	}
	target := httptest.NewServer(metrics.Handler(reg))
	t.Cleanup(target.Close)

	promURL := promtest.Start(t, strings.TrimPrefix(target.URL, "http://"))
	for _, tc := range []struct {
		query string
		want  float64
	}{
		{`flywheel_ingest_records_total{kind="runs",result="accepted"}`, 12},
		{`flywheel_learner_pass_duration_seconds_count{learner="cils"}`, 3},
		{`flywheel_learner_pass_duration_seconds_sum{learner="cils"}`, 4.5},
		// Two of the three passes fall in the bucket up to 1.53 s.
		{`sum(flywheel_learner_pass_duration_seconds_bucket{learner="cils",le="1.52587890625"})`, 2},
	} {
		got := promtest.QueryEventually(t, promURL, tc.query)
		if got != tc.want {
			t.Errorf("%s = %v, want %v", tc.query, got, tc.want)
		}
	}
}
