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
