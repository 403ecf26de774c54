package propagate

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// TestConcurrentAppliesDoNotInterleave runs two propagators on one
// directory (as two processes would: each takes the flock) applying
// updates to the shared leakage file at once. An interleaved
// read-modify-write would lose some targets' thresholds.
func TestConcurrentAppliesDoNotInterleave(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t, Config{}, map[string]string{FileLeakage: "thresholds:\n  threshold: 0.3\n"})
	other, err := New(ctx, Config{Dir: f.dir, Store: f.store, Now: f.clock.Now, Logger: testLogger(t), Git: GitOff})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	const n = 12
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for w, p := range []*Propagator{f.p, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				doc := mustDecode(t, fmt.Sprintf(`{"target": "t%d_%d", "source": "human", "updates": {"leakage_detection": {"thresholds": {"threshold": 0.%02d}}}}`, w, i, i+10))
				if _, err := p.Apply(ctx, doc, "worker", ApplyOptions{}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got := readFiles(t, f.dir)[FileLeakage]
	for w := 0; w < 2; w++ {
		for i := 0; i < n; i++ {
			if !strings.Contains(got, fmt.Sprintf("t%d_%d:\n    threshold: %s", w, i, formatFloat(float64(i+10)/100))) {
				t.Errorf("t%d_%d lost:\n%s", w, i, got)
			}
		}
	}
	if c, _ := f.store.Counts(ctx); c.ConfigChanges != 2*n {
		t.Errorf("%d changes recorded, want %d", c.ConfigChanges, 2*n)
	}
}
