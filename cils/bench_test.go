package cils

import (
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
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
	base := liveHeap()
	stop := samplePeakHeap()
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

// liveHeap returns the bytes of live heap objects.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// samplePeakHeap samples the heap every millisecond until the returned
// function is called, which returns the largest value seen.
func samplePeakHeap() func() uint64 {
	done := make(chan struct{})
	result := make(chan uint64)
	go func() {
		peak := liveHeap()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				result <- max(peak, liveHeap())
				return
			case <-tick.C:
				peak = max(peak, liveHeap())
			}
		}
	}()
	return func() uint64 { close(done); return <-result }
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
