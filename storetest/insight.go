package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
)

func testInsights(t *testing.T, s flywheel.Store) {
	ctx := t.Context()
	bodies := []string{`{"degrading":["fwd_ret_5d_AAPL"]}`, `{"degrading":[]}`, `{"n": 3}`}
	for i, b := range bodies {
		in, err := s.PutInsight(ctx, flywheel.Insight{Kind: flywheel.InsightCILS, CreatedAt: t0.Add(time.Duration(i) * time.Hour),
			Body: json.RawMessage(b)})
		mustNoError(t, "put cils", err)
		if in.Version != int64(i+1) {
			t.Errorf("cils insight %d: got version %d, want %d", i, in.Version, i+1)
		}
	}
	in, err := s.PutInsight(ctx, flywheel.Insight{Kind: flywheel.InsightARPO, Body: json.RawMessage(`{}`)})
	mustNoError(t, "put arpo", err)
	if in.Version != 1 || in.CreatedAt.IsZero() {
		t.Errorf("first arpo insight: version %d, created %v; want 1 and a time", in.Version, in.CreatedAt)
	}

	tests := []struct {
		v, want int64
	}{{0, 3}, {1, 1}, {2, 2}, {3, 3}}
	for _, tt := range tests {
		got, err := s.Insight(ctx, flywheel.InsightCILS, tt.v)
		mustNoError(t, "read cils", err)
		if got.Version != tt.want || got.Kind != flywheel.InsightCILS {
			t.Errorf("cils version %d: got %s version %d, want %d", tt.v, got.Kind, got.Version, tt.want)
			continue
		}
		if !sameJSON(t, got.Body, []byte(bodies[tt.want-1])) {
			t.Errorf("cils version %d: body %s, want %s", tt.v, got.Body, bodies[tt.want-1])
		}
		wantTime(t, "created_at", got.CreatedAt, t0.Add(time.Duration(tt.want-1)*time.Hour))
	}

	_, err = s.Insight(ctx, flywheel.InsightCILS, 4)
	wantError(t, err, flywheel.ENotFound, nil, "")
	_, err = s.Insight(ctx, "other", 0)
	wantError(t, err, flywheel.ENotFound, nil, "")
	_, err = s.PutInsight(ctx, flywheel.Insight{Kind: flywheel.InsightCILS, Body: json.RawMessage(`{"a":`)})
	wantError(t, err, flywheel.EInvalid, nil, "body")
}

// testPruneInsights checks that pruning keeps the latest versions and
// every version a signal or a config change cites, and never reuses a
// version number.
func testPruneInsights(t *testing.T, s flywheel.Store) {
	ctx := t.Context()
	const kind = "prune-test"
	other, err := s.PutInsight(ctx, flywheel.Insight{Kind: flywheel.InsightCILS, Body: json.RawMessage(`{}`)})
	mustNoError(t, "put another kind", err)
	for i := range 10 {
		_, err := s.PutInsight(ctx, flywheel.Insight{Kind: kind, CreatedAt: t0.Add(time.Duration(i) * time.Minute), Body: json.RawMessage(`{}`)})
		mustNoError(t, "put insight", err)
	}
	sig := signal("prune-s1", modelA, t0)
	sig.InsightVersions = map[string]int64{kind: 3}
	_, err = s.PutSignals(ctx, []flywheel.Signal{sig})
	mustNoError(t, "put signal", err)
	ch := change("prune-c1", "fwd_ret_5d_AAPL", flywheel.ChangeApplied, t0)
	ch.InsightVersions = map[string]int64{kind: 5}
	mustNoError(t, "put config change", s.PutConfigChange(ctx, ch))

	n, err := s.PruneInsights(ctx, kind, 2)
	mustNoError(t, "prune", err)
	if n != 6 { // 1, 2, 4, 6, 7, 8
		t.Errorf("pruned %d versions, want 6", n)
	}
	for v := int64(1); v <= 10; v++ {
		_, err := s.Insight(ctx, kind, v)
		if keep := v == 3 || v == 5 || v >= 9; keep {
			mustNoError(t, "read a kept version", err)
		} else {
			wantError(t, err, flywheel.ENotFound, nil, "")
		}
	}
	in, err := s.PutInsight(ctx, flywheel.Insight{Kind: kind, Body: json.RawMessage(`{}`)})
	mustNoError(t, "put after pruning", err)
	if in.Version != 11 {
		t.Errorf("version after pruning: %d, want 11", in.Version)
	}
	// Other kinds are untouched; a keep below 1 is refused.
	if _, err := s.Insight(ctx, flywheel.InsightCILS, other.Version); err != nil {
		t.Errorf("pruning %s: the %s version is gone: %v", kind, flywheel.InsightCILS, err)
	}
	_, err = s.PruneInsights(ctx, kind, 0)
	wantError(t, err, flywheel.EInvalid, nil, "keep")
}
