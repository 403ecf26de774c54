package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/httpapi"
)

// buildBinary builds the real flywheel binary for tests that run it as a
// separate process.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	exe := filepath.Join(t.TempDir(), "flywheel")
	out, err := exec.Command("go", "build", "-o", exe, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return exe
}

// TestSIGKILLLosesNoAcknowledgedBatch posts batches to a real daemon from
// several clients, kills it with SIGKILL in the middle, restarts it on the
// same database and checks that every acknowledged batch is there whole,
// and that every other batch is there whole or not at all.
func TestSIGKILLLosesNoAcknowledgedBatch(t *testing.T) {
	t.Parallel()
	exe := buildBinary(t)
	db := filepath.Join(t.TempDir(), "flywheel.db")
	ctx := context.Background()

	d, err := startDaemon(ctx, exe, db, testLog{t})
	if err != nil {
		t.Fatal(err)
	}
	const batches, perBatch, writers = 400, 500, 4
	var (
		mu    sync.Mutex
		acked = map[int]bool{}
		wg    sync.WaitGroup
	)
	next := make(chan int)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range next {
				if _, err := d.client.PostObservations(ctx, durabilityBatch(b, perBatch)); err != nil {
					continue // the daemon died under this request: not acknowledged
				}
				if _, err := d.client.PostRuns(ctx, []flywheel.Run{durabilityRun(b)}); err != nil {
					continue
				}
				mu.Lock()
				acked[b] = true
				mu.Unlock()
			}
		}()
	}
	killed := false
	for b := 0; b < batches; b++ {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 40 && !killed {
			// Kill while requests are in flight.
			if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = d.cmd.Wait()
			killed = true
		}
		next <- b
	}
	close(next)
	wg.Wait()
	if !killed {
		t.Fatal("the daemon acknowledged too few batches to be killed in the middle")
	}

	d2, err := startDaemon(ctx, exe, db, testLog{t})
	if err != nil {
		t.Fatal(err)
	}
	defer d2.stop()
	checkBatches(t, d2.client, batches, perBatch, acked)
}

func checkBatches(t *testing.T, c *httpapi.Client, batches, perBatch int, acked map[int]bool) {
	t.Helper()
	ctx := context.Background()
	lost := 0
	for b := range batches {
		s, err := c.LiveSummary(ctx, durabilityModel(b), time.Time{}, time.Time{})
		if err != nil {
			t.Fatalf("batch %d: %v", b, err)
		}
		switch {
		case acked[b] && s.Observations != int64(perBatch):
			lost++
			t.Errorf("batch %d was acknowledged but has %d of %d observations after the restart", b, s.Observations, perBatch)
		case s.Observations != 0 && s.Observations != int64(perBatch):
			t.Errorf("batch %d is partly stored: %d of %d observations", b, s.Observations, perBatch)
		}
		if acked[b] {
			if _, err := c.Run(ctx, fmt.Sprintf("run-%d", b)); err != nil {
				t.Errorf("batch %d: acknowledged run is missing: %v", b, err)
			}
		}
	}
	t.Logf("%d batches acknowledged before the kill, %d lost", len(acked), lost)
}

func durabilityModel(b int) flywheel.ModelKey {
	return flywheel.ModelKey{Target: fmt.Sprintf("fwd_ret_1d_B%d", b), ModelFamily: "ridge"}
}

func durabilityBatch(b, n int) []flywheel.Observation {
	obs := make([]flywheel.Observation, n)
	for i := range obs {
		obs[i] = flywheel.Observation{
			EventID:  fmt.Sprintf("b%d-%d", b, i),
			TS:       benchBase.Add(time.Duration(i) * time.Minute),
			ModelKey: durabilityModel(b),
			PnL:      float64(i%7) - 3,
		}
	}
	return obs
}

func durabilityRun(b int) flywheel.Run {
	fin := benchBase.Add(time.Hour)
	return flywheel.Run{
		RunID: fmt.Sprintf("run-%d", b), ModelKey: durabilityModel(b), Status: flywheel.RunSucceeded,
		StartedAt: benchBase, FinishedAt: &fin, Metrics: map[string]float64{"validation_score": 0.1},
	}
}

// TestBenchIngest runs the ingest benchmark on a small N and checks that
// it prints both rates, their ratio, the daemon's RSS and the summary
// latency.
func TestBenchIngest(t *testing.T) {
	t.Parallel()
	exe := buildBinary(t)
	var out strings.Builder
	b := &ingestBench{n: 20_000, batch: 5_000, models: 50, queries: 20, exe: exe, dir: t.TempDir(), daemonLog: testLog{t}}
	if err := b.run(context.Background(), &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"api: HTTP POST /api/v1/live", "raw: SQLite prepared INSERT", "ratio api/raw", "daemon peak RSS (VmHWM)", "live summary of one model of 50 over 20000 observations"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if _, err := os.Stat(filepath.Join(b.dir, "raw.db")); err != nil {
		t.Errorf("raw database not written: %v", err)
	}
}

// testLog sends a child process's output to the test log.
type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
