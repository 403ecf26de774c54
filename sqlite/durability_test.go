package sqlite_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/sqlite"
)

// childDBEnv names the database a child writer process writes to.
const childDBEnv = "FLYWHEEL_SQLITE_TEST_CHILD_DB"

// TestAcknowledgedBatchSurvivesKill runs a writer in a child process and
// kills it with SIGKILL right after it reports batches stored, in the
// middle of writing the next one. Every acknowledged batch must be in the
// database, and the one it was writing wholly there or wholly absent.
func TestAcknowledgedBatchSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	path := filepath.Join(t.TempDir(), "flywheel.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildWriter$", "-test.v")
	cmd.Env = append(os.Environ(), childDBEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = t.Output()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	const batch, wantAcks = 500, 3
	acked := 0
	lines := bufio.NewScanner(out)
	for acked < wantAcks && lines.Scan() {
		if strings.HasPrefix(lines.Text(), "acked ") {
			acked++
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait() //nolint:errcheck // killed on purpose
	if acked < wantAcks {
		t.Fatalf("child acknowledged %d batches before it ended, want %d", acked, wantAcks)
	}

	db := openAt(t, path)
	c, err := db.Counts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d batches acknowledged, %d observations stored", acked, c.LiveObservations)
	if c.LiveObservations < int64(acked*batch) || c.LiveObservations%batch != 0 {
		t.Errorf("after SIGKILL: %d observations stored, want at least %d acknowledged ones, in whole batches of %d",
			c.LiveObservations, acked*batch, batch)
	}
}

// TestChildWriter is the child process of
// TestAcknowledgedBatchSurvivesKill: it writes batches until it is killed
// and prints "acked N" after each one is stored.
func TestChildWriter(t *testing.T) {
	path := os.Getenv(childDBEnv)
	if path == "" {
		t.Skip("runs only as the child of TestAcknowledgedBatchSurvivesKill")
	}
	db, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	k := flywheel.ModelKey{Target: "fwd_ret_5d_AAPL", ModelFamily: "ridge"}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for n := 0; ; n++ {
		obs := make([]flywheel.Observation, 500)
		for i := range obs {
			obs[i] = flywheel.Observation{ModelKey: k, TS: start.Add(time.Duration(n*len(obs)+i) * time.Second), PnL: 1}
		}
		if _, err := db.PutObservations(t.Context(), obs); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(os.Stdout, "acked %d\n", n)
	}
}
