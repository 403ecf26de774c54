package httpapi

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"

	"github.com/flywheel-ml/flywheel"
)

func TestGetInsight(t *testing.T) {
	t.Parallel()
	f := setup(t, Config{})
	wantError(t, f.get(t, "/api/v1/insights/cils"), http.StatusNotFound, flywheel.ENotFound, "", -1)
	for _, body := range []string{`{"degrading_targets": ["a"]}`, `{"degrading_targets": ["a", "b"]}`} {
		if _, err := f.store.PutInsight(t.Context(), flywheel.Insight{Kind: flywheel.InsightCILS, CreatedAt: testNow, Body: json.RawMessage(body)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		path    string
		version int64
		items   int
	}{
		{"/api/v1/insights/cils", 2, 2},
		{"/api/v1/insights/cils?version=1", 1, 1},
	} {
		var in struct {
			Kind    string `json:"kind"`
			Version int64  `json:"version"`
			Body    struct {
				Degrading []string `json:"degrading_targets"`
			} `json:"body"`
		}
		decodeOK(t, f.get(t, tc.path), &in)
		if in.Kind != "cils" || in.Version != tc.version || len(in.Body.Degrading) != tc.items {
			t.Errorf("GET %s = %+v, want version %d with %d items", tc.path, in, tc.version, tc.items)
		}
	}
	wantError(t, f.get(t, "/api/v1/insights/cils?version=3"), http.StatusNotFound, flywheel.ENotFound, "", -1)
	wantError(t, f.get(t, "/api/v1/insights/cils?version=zero"), http.StatusBadRequest, flywheel.EInvalid, "version", -1)
	wantError(t, f.get(t, "/api/v1/insights/cils?version=0"), http.StatusBadRequest, flywheel.EInvalid, "version", -1)
	wantError(t, f.get(t, "/api/v1/insights/arpo"), http.StatusNotFound, flywheel.ENotFound, "", -1)
	wantError(t, f.get(t, "/api/v1/insights/oracle"), http.StatusNotFound, flywheel.ENotFound, "", -1)
}

// TestOnIngest checks that the hook hears of batches that changed
// something, and only of those.
func TestOnIngest(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []string
	f := setup(t, Config{OnIngest: func(kind string, res flywheel.IngestResult) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, kind)
	}})
	batch := array(runRec(0).String())
	for range 2 {
		if w := f.post(t, "/api/v1/runs", mediaJSON, batch); w.Code != http.StatusOK {
			t.Fatalf("post runs: %d %s", w.Code, w.Body)
		}
	}
	if w := f.post(t, "/api/v1/live", mediaJSON, array(obsRec(0).String())); w.Code != http.StatusOK {
		t.Fatalf("post live: %d %s", w.Code, w.Body)
	}
	f.post(t, "/api/v1/live", mediaJSON, array(obsRec(1).with("pnl", `"x"`).String()))
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0] != "runs" || got[1] != "live" {
		t.Errorf("OnIngest heard %v, want [runs live] (a duplicate batch and a bad one are silent)", got)
	}
}
