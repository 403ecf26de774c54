package storetest

import (
	"math"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
)

func signal(id string, k flywheel.ModelKey, created time.Time) flywheel.Signal {
	return flywheel.Signal{
		ID:       id,
		ModelKey: k,
		Sources:  []string{flywheel.SourceCILS, flywheel.SourceARPO},
		Reasons: []flywheel.Reason{
			{Source: flywheel.SourceCILS, Kind: "degrading", Message: "score fell 14% below baseline",
				Values: map[string]float64{"drop": 0.14, "baseline": 0.61}},
			{Source: flywheel.SourceARPO, Kind: "underperforming", Message: "PSR 0.03"},
		},
		Priority:            0.72,
		Factors:             map[string]float64{"cils": 0.5, "arpo": 0.4, "value": 1, "urgency": 0.75},
		Urgency:             "HIGH",
		ExpectedImprovement: 0.05,
		ExpectedCost:        2.5,
		CreatedAt:           created,
		InsightVersions:     map[string]int64{flywheel.InsightCILS: 3, flywheel.InsightARPO: 7},
	}
}

func testSignals(t *testing.T, s flywheel.Store) {
	ctx := t.Context()
	sigs := []flywheel.Signal{
		signal("s1", modelA, t0),
		signal("s2", modelB, t0.Add(time.Hour)),
		signal("s3", modelA, t0.Add(2*time.Hour)),
	}
	sigs[2].Sources, sigs[2].Reasons, sigs[2].Factors, sigs[2].InsightVersions = []string{flywheel.SourceHuman}, nil, nil, nil
	res, err := s.PutSignals(ctx, sigs)
	wantResult(t, "put", res, err, flywheel.IngestResult{Accepted: 3})
	res, err = s.PutSignals(ctx, []flywheel.Signal{sigs[0], sigs[0], signal("s4", modelC, t0)})
	wantResult(t, "again", res, err, flywheel.IngestResult{Accepted: 1, Duplicates: 2})

	got, err := s.Signals(ctx, flywheel.SignalFilter{Model: &modelA})
	mustNoError(t, "list model A", err)
	wantJSON(t, "model A signals newest first", got, []flywheel.Signal{sigs[2], sigs[0]})

	got, err = s.Signals(ctx, flywheel.SignalFilter{Since: t0.Add(time.Hour)})
	mustNoError(t, "list since", err)
	wantJSON(t, "signals since t0+1h", got, []flywheel.Signal{sigs[2], sigs[1]})

	got, err = s.Signals(ctx, flywheel.SignalFilter{Limit: 1})
	mustNoError(t, "list one", err)
	if len(got) != 1 || got[0].ID != "s3" {
		t.Errorf("limit 1: got %v", got)
	}

	bad := signal("s5", modelA, t0)
	bad.Factors["value"] = math.NaN()
	_, err = s.PutSignals(ctx, []flywheel.Signal{signal("s6", modelA, t0), bad})
	wantError(t, err, flywheel.EInvalid, ptr(1), "factors.value")
	c, err := s.Counts(ctx)
	mustNoError(t, "counts", err)
	if c.Signals != 4 {
		t.Errorf("got %d signals, want 4", c.Signals)
	}
}
