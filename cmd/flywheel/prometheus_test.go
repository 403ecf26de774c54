package main

import (
	"context"
	"strings"
	"testing"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/internal/promtest"
)

// TestPrometheusScrapesDaemon runs a real Prometheus server against a
// real daemon's /metrics: after two batches of runs, the ingest counter
// and the store latency histogram read back through Prometheus's API.
func TestPrometheusScrapesDaemon(t *testing.T) {
	t.Parallel()
	exe := buildBinary(t)
	d, err := startDaemon(context.Background(), exe, t.TempDir()+"/f.db", testLog{t})
	if err != nil {
		t.Fatal(err)
	}
	defer d.stop()
	for b := range 2 {
		if _, err := d.client.PostRuns(context.Background(), []flywheel.Run{durabilityRun(b), durabilityRun(b + 10)}); err != nil {
			t.Fatal(err)
		}
	}
	prom := promtest.Start(t, strings.TrimPrefix(d.addr, "http://"))
	if got := promtest.QueryEventually(t, prom, `flywheel_ingest_records_total{kind="runs",result="accepted"}`); got != 4 {
		t.Errorf("ingested runs according to Prometheus = %v, want 4", got)
	}
	if got := promtest.QueryEventually(t, prom, `sum(flywheel_store_operation_duration_seconds_count{op="PutRuns"})`); got < 2 {
		t.Errorf("PutRuns latency observations according to Prometheus = %v, want at least 2", got)
	}
}
