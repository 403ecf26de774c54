package engine

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/arpo"
	"github.com/flywheel-ml/flywheel/cils"
	"github.com/flywheel-ml/flywheel/internal/heapwatch"
	"github.com/flywheel-ml/flywheel/orchestrator"
)

// cycleInput is one decision cycle's input at the data volumes of the
// learners' own benchmarks: 50 runs of 20 features and 1,000 live
// observations (ten a day) per model.
type cycleInput struct {
	now  time.Time
	runs []flywheel.Run
	obs  []flywheel.Observation
	deps []flywheel.Deployment
}

func genCycle(models int) cycleInput {
	rng := rand.New(rand.NewPCG(11, uint64(models)))
	now := time.Date(2026, 6, 30, 23, 0, 0, 0, time.UTC)
	in := cycleInput{now: now}
	features := make([]string, 20)
	for i := range features {
		features[i] = fmt.Sprintf("f%02d", i)
	}
	for m := range models {
		k := flywheel.ModelKey{Target: fmt.Sprintf("fwd_ret_5d_S%05d", m), ModelFamily: []string{"ridge", "logistic"}[m%2]}
		level := 0.05 + 0.1*rng.Float64()
		for r := range 50 {
			start := now.AddDate(0, 0, -50+r)
			fin := start.Add(time.Hour)
			score := level * (1 + 0.02*rng.NormFloat64())
			if m%10 == 0 && r == 49 {
				score *= 0.8 // one model in ten has just degraded
			}
			imp := make(map[string]float64, len(features))
			for _, f := range features {
				imp[f] = rng.Float64()
			}
			in.runs = append(in.runs, flywheel.Run{RunID: fmt.Sprintf("r%d-%d", m, r), ModelKey: k, Status: flywheel.RunSucceeded,
				StartedAt: start, FinishedAt: &fin, Metrics: map[string]float64{flywheel.MetricValidationScore: score},
				Config:            map[string]any{"feature_selection": map[string]any{"top_n": float64(20 + 10*(r%3)), "aggregation_method": "mean"}},
				FeatureImportance: imp, Cost: flywheel.Cost{CPUHours: 1 + rng.Float64()}})
		}
		edge := 0.0003 * rng.Float64()
		if m%10 == 5 {
			edge = -0.001 // and one in ten loses live
		}
		exp := 0.0002
		in.deps = append(in.deps, flywheel.Deployment{ModelKey: k, ModelVersion: "v1", DeployedAt: now.AddDate(0, 0, -101)})
		for j := range 1000 {
			in.obs = append(in.obs, flywheel.Observation{TS: now.Add(-time.Duration(1000-j) * 144 * time.Minute), ModelKey: k,
				ModelVersion: "v1", PnL: edge + 0.003*rng.NormFloat64(), ExpectedPnL: &exp})
		}
	}
	return in
}

// cycle is what the daemon does on one decision: both learners, then the
// orchestrator.
func cycle(b *testing.B, in cycleInput) *orchestrator.Plan {
	ci, err := cils.Learn(cils.DefaultConfig(), cils.Snapshot{Runs: in.runs, Now: in.now})
	if err != nil {
		b.Fatal(err)
	}
	ai, err := arpo.Learn(arpo.DefaultConfig(), arpo.Snapshot{Observations: in.obs, Deployments: in.deps, Now: in.now})
	if err != nil {
		b.Fatal(err)
	}
	plan, err := orchestrator.Decide(orchestrator.DefaultConfig(), orchestrator.Snapshot{Now: in.now, CILS: ci, ARPO: ai})
	if err != nil {
		b.Fatal(err)
	}
	return plan
}

func benchmarkCycle(b *testing.B, models int) {
	in := genCycle(models)
	runtime.GC()
	base := heapwatch.Live()
	stop := heapwatch.Watch()
	var plan *orchestrator.Plan
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		plan = cycle(b, in)
	}
	b.StopTimer()
	b.ReportMetric(float64(stop()-base)/(1<<20), "cycle-peak-MB")
	b.ReportMetric(float64(base)/(1<<20), "input-MB")
	b.ReportMetric(float64(len(plan.Signals)), "signals")
	b.ReportMetric(float64(len(plan.Jobs)), "admitted")
}

// BenchmarkCycle1k is one decision cycle over 1,000 models (50,000 runs,
// 1,000,000 live observations).
func BenchmarkCycle1k(b *testing.B) { benchmarkCycle(b, 1_000) }

// BenchmarkCycle10k is the same over 10,000 models, for the growth.
func BenchmarkCycle10k(b *testing.B) {
	if testing.Short() {
		b.Skip("10,000 models need several GB of input; skipped under -short")
	}
	benchmarkCycle(b, 10_000)
}
