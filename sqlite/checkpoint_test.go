package sqlite_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// TestBackgroundCheckpoint checks that what is committed reaches the
// database file without the writer checkpointing: two megabytes of
// insights stay far below the writer's automatic threshold of 20,000
// pages, so only the background checkpointer can have copied them.
func TestBackgroundCheckpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flywheel.db")
	db := openAt(t, path)
	size := func() int64 {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	body := []byte(`{"pad":"` + strings.Repeat("x", 1<<20) + `"}`)
	for range 2 {
		if _, err := db.PutInsight(t.Context(), flywheel.Insight{Kind: flywheel.InsightARPO, Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for size() < before+2<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("database file %d bytes 5s after 2 MiB were committed (%d before): not checkpointed", size(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
