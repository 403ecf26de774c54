package dashboard_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel/dashboard"
	"github.com/flywheel-ml/flywheel/engine"
	"github.com/flywheel-ml/flywheel/orchestrator"
	"github.com/flywheel-ml/flywheel/sqlite"
)

// bench10k is the store of BenchmarkOverview10k, seeded once per process:
// seeding 10,000 models takes far longer than the benchmark itself.
var bench10k struct {
	once sync.Once
	db   *sqlite.DB
	dir  string
	eng  *engine.Engine
}

// BenchmarkOverview10k renders the overview over 10,000 models (8 runs
// and 30 live observations each, 2,000 jobs, both learners' insights), as
// the daemon serves it: through the real engine's plan and health, which
// the dashboard keeps for Refresh and renews in the background. The goal
// is under 200 ms a render.
func BenchmarkOverview10k(b *testing.B) {
	bench10k.once.Do(func() {
		dir, err := tempDir()
		if err != nil {
			b.Fatal(err)
		}
		db, err := sqlite.Open(context.Background(), dir+"/f.db", sqlite.Options{})
		if err != nil {
			b.Fatal(err)
		}
		bench10k.db, bench10k.dir, bench10k.eng = db, dir, seed(b, db, 10000, 8, 30, 2000)
	})
	eng := bench10k.eng
	h := dashboard.New(dashboard.Config{Store: bench10k.db, Logger: testLogger(b),
		Now:     func() time.Time { return now },
		Refresh: 5 * time.Second,
		Plan:    func(ctx context.Context) (*orchestrator.Plan, error) { return eng.Decide(ctx, false) },
		Health:  eng.Health})
	render := func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
		}
	}
	start := time.Now()
	render() // the first render waits for the first plan and health
	first := time.Since(start)
	b.ResetTimer()
	for b.Loop() {
		render()
	}
	b.ReportMetric(float64(first.Milliseconds()), "first-render-ms")
}
