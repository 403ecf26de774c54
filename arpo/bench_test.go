package arpo

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/internal/heapwatch"
)

// benchSnapshot is models x perModel live observations, ten a day per
// model over the days before now (so they fill the performance window and
// part of the regime window), a deployment per model, and ten years of
// market returns with a volatile spell. Pointers and strings are shared
// per model, as a store's decoder would not, so that the snapshot of
// 10,000 models stays near 1.6 GB.
func benchSnapshot(models, perModel int) Snapshot {
	rng := rand.New(rand.NewPCG(5, 6))
	now := time.Date(2026, 6, 30, 23, 0, 0, 0, time.UTC)
	snap := Snapshot{Now: now, Observations: make([]flywheel.Observation, 0, models*perModel)}
	for i, d := range weekdays(now, 2520) {
		sd := 0.008
		if i > 2000 && i < 2100 {
			sd = 0.03
		}
		snap.Market = append(snap.Market, MarketPoint{Date: d, Return: sd * rng.NormFloat64()})
	}
	const perDay = 10
	step := 24 * time.Hour / perDay
	start := now.Add(-time.Duration(perModel) * step)
	for m := range models {
		k := key(fmt.Sprintf("fwd_ret_5d_S%05d", m), []string{"ridge", "lightgbm", "mlp"}[m%3])
		edge := 0.0003 * rng.Float64()
		exp, pos, sym := edge, 1.0, fmt.Sprintf("S%05d", m)
		snap.Deployments = append(snap.Deployments, flywheel.Deployment{ModelKey: k, ModelVersion: "v1", DeployedAt: start.Add(-time.Hour)})
		for j := range perModel {
			snap.Observations = append(snap.Observations, flywheel.Observation{
				TS: start.Add(time.Duration(j) * step), ModelKey: k, ModelVersion: "v1", Symbol: sym,
				PnL: edge + 0.003*rng.NormFloat64(), ExpectedPnL: &exp, Position: &pos,
			})
		}
	}
	return snap
}

func benchLearn(b *testing.B, models int) {
	snap := benchSnapshot(models, 1000)
	cfg := DefaultConfig()
	var in *Insights
	runtime.GC()
	base := heapwatch.Live()
	stop := heapwatch.Watch()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var err error
		if in, err = Learn(cfg, snap); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// The peak heap above what the snapshot itself holds: the memory one
	// pass needs on top of its input.
	b.ReportMetric(float64(stop()-base)/(1<<20), "pass-peak-MB")
	b.ReportMetric(float64(base)/(1<<20), "input-MB")
	b.ReportMetric(float64(len(snap.Observations))*float64(b.N)/b.Elapsed().Seconds(), "obs/s")
	b.ReportMetric(float64(in.ObservationsUsed), "obs-used")
	b.ReportMetric(float64(in.Allocation.Models), "allocated")
}

// BenchmarkLearn1k is one pass over 1,000 models with 1,000 observations
// each (1,000,000 in all).
func BenchmarkLearn1k(b *testing.B) { benchLearn(b, 1000) }

// BenchmarkLearn10k is the same with 10,000 models (10,000,000
// observations), to measure the growth.
func BenchmarkLearn10k(b *testing.B) {
	if testing.Short() {
		b.Skip("10,000 models x 1,000 observations need about 2 GB; skipped under -short")
	}
	benchLearn(b, 10000)
}
