package metrics_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/metrics"
	"github.com/flywheel-ml/flywheel/orchestrator"
)

// The Grafana dashboard must only query metrics the daemon exports: a
// renamed metric would otherwise leave a panel silently empty.
func TestGrafanaDashboardUsesExportedMetrics(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../deploy/grafana/flywheel.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("flywheel.json: %v", err)
	}
	exported := exportedNames(t)
	name := regexp.MustCompile(`flywheel_[a-z0-9_]+`)
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, n := range name.FindAllString(tg.Expr, -1) {
				base := n
				for _, suf := range []string{"_bucket", "_count", "_sum"} {
					if b, ok := strings.CutSuffix(n, suf); ok && exported[b] {
						base = b
					}
				}
				if !exported[base] {
					t.Errorf("panel %q queries %s, which the daemon does not export", p.Title, n)
				}
			}
		}
	}
}

// exportedNames records something in every metric and returns the names
// gathered.
func exportedNames(t *testing.T) map[string]bool {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	m.ObserveIngest("runs", flywheel.IngestResult{Accepted: 1}, nil)
	m.ObserveIngest("runs", flywheel.IngestResult{}, errors.New("x"))
	m.ObserveLearnerPass("cils", time.Second, errors.New("x"))
	m.ObserveSignals([]flywheel.Signal{{Sources: []string{"CILS"}}})
	m.ObserveConfigChange("CILS", flywheel.ChangeRolledBack)
	s := metrics.InstrumentStore(openStore(t), m)
	s.Ping(t.Context())
	if err := s.PutConfigChange(t.Context(), flywheel.ConfigChange{ID: "c", Source: "CILS", State: "applied", Update: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s.Ping(t.Context()) // fails: counts a store error
	m.InstrumentHandler("api", http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	r, one := 0.5, orchestrator.LatencyStat{Count: 1, MedianSeconds: 1, MaxSeconds: 1}
	paused := true
	reg.MustRegister(metrics.NewStateCollector(func(context.Context) (metrics.State, error) {
		return metrics.State{Jobs: map[flywheel.JobState]int{}, Budget: &orchestrator.BudgetView{}, Paused: &paused,
			Health: &orchestrator.LoopHealth{CILSToTrainingLatency: one, CILSSignalAccuracy: &r,
				Accuracy:            []orchestrator.SourceAccuracy{{Source: "CILS", Rate: &r}},
				PriorityCorrelation: []orchestrator.Correlation{{Source: "ARPO", Spearman: &r}}}}, nil
	}, 0, nil))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	return names
}
