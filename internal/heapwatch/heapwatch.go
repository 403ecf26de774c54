// Package heapwatch measures the peak heap of a piece of work, for the
// benchmarks that report memory beside time.
package heapwatch

import (
	"runtime/metrics"
	"time"
)

// Live returns the bytes of heap objects: live ones and garbage not yet
// swept.
func Live() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// Watch samples the heap every millisecond until the returned function is
// called; that function returns the largest value seen.
func Watch() (stop func() uint64) {
	done := make(chan struct{})
	result := make(chan uint64)
	go func() {
		peak := Live()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				result <- max(peak, Live())
				return
			case <-tick.C:
				peak = max(peak, Live())
			}
		}
	}()
	return func() uint64 { close(done); return <-result }
}
