package cils

import (
	"runtime"
	"testing"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/internal/heapwatch"
)

// benchmarkLearn times one full Learn over models models with 50 runs of
// 20 features each; the history is generated once, outside the timer.
func benchmarkLearn(b *testing.B, models int) {
	const perModel = 50
	runs := synthetic(1, models, perModel, 20)
	prev := previousCycle(b, runs, perModel)
	cfg := DefaultConfig()
	snap := Snapshot{Runs: runs, Now: t0.AddDate(1, 0, 0), Previous: prev}
	// Collect the setup's garbage now, or the first timed pass pays for it.
	runtime.GC()
	base := heapwatch.Live()
	stop := heapwatch.Watch()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Learn(cfg, snap); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	peak := stop()
	b.ReportMetric(float64(len(runs))*float64(b.N)/b.Elapsed().Seconds(), "runs/s")
	// The peak of the live heap above what the snapshot itself holds: the
	// memory one pass needs on top of its input.
	b.ReportMetric(float64(peak-base)/(1<<20), "pass-peak-MB")
	b.ReportMetric(float64(base)/(1<<20), "input-MB")
}

func BenchmarkLearn1k(b *testing.B) { benchmarkLearn(b, 1_000) }

func BenchmarkLearn10k(b *testing.B) {
	if testing.Short() {
		b.Skip("10,000 models take a while to generate; skipped under -short")
	}
	benchmarkLearn(b, 10_000)
}

// previousCycle learns from every model's runs but its latest, as the
// cycle before would have; the copy it learns from is garbage afterwards.
func previousCycle(b *testing.B, runs []flywheel.Run, perModel int) *Insights {
	before := make([]flywheel.Run, 0, len(runs))
	for i := range runs {
		if i%perModel != perModel-1 {
			before = append(before, runs[i])
		}
	}
	return learn(b, before, nil)
}
