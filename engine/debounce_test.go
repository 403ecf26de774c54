package engine

import (
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// TestDebounceCountsFromTheWakeUp checks that records which arrived while
// a pass ran wait only what is left of the debounce, and that a wake-up
// with nothing pending waits it whole.
func TestDebounceCountsFromTheWakeUp(t *testing.T) {
	_, e := setup(t)
	e.debounce = 50 * time.Millisecond
	if got := e.sinceWake(); got != e.debounce {
		t.Errorf("no wake-up yet: wait %v, want %v", got, e.debounce)
	}
	e.Notify("live", flywheel.IngestResult{Accepted: 1})
	if got := e.sinceWake(); got <= 0 || got > e.debounce {
		t.Errorf("just woken: wait %v, want in (0, %v]", got, e.debounce)
	}
	time.Sleep(e.debounce + 10*time.Millisecond) // a pass longer than the debounce
	e.Notify("live", flywheel.IngestResult{Accepted: 1})
	if got := e.sinceWake(); got != 0 {
		t.Errorf("woken a debounce ago: wait %v, want 0", got)
	}
}
