package orchestrator

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/arpo"
	"github.com/flywheel-ml/flywheel/cils"
)

// benchSnapshot builds insights for n models over 10 target kinds, in the
// learners' sort order: every model has an estimate and a strategy gain; a
// third degrade, a fifth underperform, a tenth are high-priority, regime
// mismatched, cut or drifting, half have a model state, and two kinds
// changed their leakage threshold. Three jobs are active and the ledger
// has a day of entries.
func benchSnapshot(n int) Snapshot {
	r := rand.New(rand.NewPCG(1, 2))
	w := newWorld()
	snap := Snapshot{Now: t0}
	kinds := 10
	for kd := range kinds {
		kind := fmt.Sprintf("k%d", kd)
		w.c.OptimalStrategies = append(w.c.OptimalStrategies, cils.KindStrategy{Kind: kind, Key: "top50",
			Strategy: cils.Strategy{TopN: 50, AggregationMethod: "mean"}})
		w.c.OptimalThresholds = append(w.c.OptimalThresholds, cils.KindThreshold{Kind: kind, Threshold: 0.8})
		if kd < 2 {
			w.c.NewPatterns = append(w.c.NewPatterns, cils.NewPattern{Type: cils.PatternThresholdChanged, Kind: kind})
		}
	}
	for i := range n {
		kd := i % kinds
		k := key(fmt.Sprintf("k%d_t%06d", kd, i), "ridge")
		ks := &w.c.OptimalStrategies[kd]
		ks.Targets = append(ks.Targets, cils.StrategyGain{ModelKey: k, RelativeImprovement: r.Float64() * 0.1,
			ExpectedImprovement: r.Float64() * 0.01, Level: 0.1})
		w.estimate(k, r.NormFloat64()*0.01, 0.5+r.Float64()*4)
		if r.IntN(3) == 0 {
			w.degrading(k, 1+r.Float64()*2)
		}
		if r.IntN(5) == 0 {
			w.underperforming(k)
		}
		if r.IntN(10) == 0 {
			w.highPriority(k)
		}
		if r.IntN(10) == 0 {
			w.mismatch(k)
		}
		if r.IntN(10) == 0 {
			w.a.PositionAdjustments = append(w.a.PositionAdjustments, arpo.PositionAdjustment{ModelKey: k, SizeFactor: 0.6})
		}
		if r.IntN(2) == 0 {
			trained := t0.Add(-time.Duration(r.IntN(60*24)) * time.Hour)
			m := ModelState{ModelKey: k, LastTrained: &trained, FirstRaised: &trained}
			if r.IntN(5) == 0 {
				m.Drift = []FeatureBins{{Feature: "f", Training: []float64{1, 2, 3, 4}, Live: []float64{4, 3, 2, 1}}}
			}
			snap.Models = append(snap.Models, m)
		}
	}
	for i := range 3 {
		snap.ActiveJobs = append(snap.ActiveJobs, flywheel.Job{ID: fmt.Sprintf("job-%d", i), ModelKey: key(fmt.Sprintf("k0_t%06d", i*kinds), "ridge"),
			State: flywheel.JobRunning, Resources: flywheel.Resources{CPUCores: 2, GPUMemoryGB: 4}})
	}
	snap.Ledger = []LedgerEntry{{JobID: "job-0", Kind: LedgerReserve, Units: 20, At: t0.Add(-time.Hour)}}
	snap.CILS, snap.ARPO = w.c, w.a
	return snap
}

// benchmarkDecide times Decide on a snapshot of n models; the snapshot is
// built outside the timer.
func benchmarkDecide(b *testing.B, n int) {
	snap := benchSnapshot(n)
	cfg := DefaultConfig()
	cfg.Scheduler.MaxConcurrent = 8
	b.ReportAllocs()
	var p *Plan
	for b.Loop() {
		var err error
		if p, err = Decide(cfg, snap); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(p.Signals)), "signals")
	b.ReportMetric(float64(p.Search.Nodes), "search-nodes")
}

func BenchmarkDecide1k(b *testing.B) { benchmarkDecide(b, 1_000) }

func BenchmarkDecide10k(b *testing.B) {
	if testing.Short() {
		b.Skip("10,000 models: skipped under -short")
	}
	benchmarkDecide(b, 10_000)
}
