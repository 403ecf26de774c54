package storetest

import (
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
)

func outcome(signal, kind string, k flywheel.ModelKey, measured time.Time) flywheel.Outcome {
	return flywheel.Outcome{
		SignalID: signal, JobID: "j-" + signal, RunID: "r-" + signal, ModelKey: k, Kind: kind,
		Sources: []string{flywheel.SourceCILS}, Priority: 0.7, Factors: map[string]float64{"cils": 0.5},
		Before: 0.55, After: 0.6, Improvement: 0.05, MeasuredAt: measured,
	}
}

func testOutcomes(t *testing.T, s flywheel.Store) {
	ctx := t.Context()
	training := outcome("s1", flywheel.OutcomeTraining, modelA, t0)
	res, err := s.PutOutcome(ctx, training)
	wantResult(t, "put", res, err, flywheel.IngestResult{Accepted: 1})
	remeasured := training
	remeasured.After, remeasured.Improvement = 0.9, 0.35
	res, err = s.PutOutcome(ctx, remeasured)
	wantResult(t, "same signal and kind again", res, err, flywheel.IngestResult{Duplicates: 1})

	live := outcome("s1", flywheel.OutcomeLive, modelA, t0.Add(time.Hour))
	other := outcome("s2", flywheel.OutcomeTraining, modelB, t0.Add(2*time.Hour))
	for _, o := range []flywheel.Outcome{live, other} {
		res, err = s.PutOutcome(ctx, o)
		wantResult(t, "put "+o.SignalID+" "+o.Kind, res, err, flywheel.IngestResult{Accepted: 1})
	}

	tests := []struct {
		name string
		f    flywheel.OutcomeFilter
		want []flywheel.Outcome
	}{
		{"all newest first", flywheel.OutcomeFilter{}, []flywheel.Outcome{other, live, training}},
		{"model A", flywheel.OutcomeFilter{Model: &modelA}, []flywheel.Outcome{live, training}},
		{"training", flywheel.OutcomeFilter{Kind: flywheel.OutcomeTraining}, []flywheel.Outcome{other, training}},
		{"since", flywheel.OutcomeFilter{Since: t0.Add(time.Hour)}, []flywheel.Outcome{other, live}},
		{"limit", flywheel.OutcomeFilter{Limit: 1}, []flywheel.Outcome{other}},
	}
	for _, tt := range tests {
		got, err := s.Outcomes(ctx, tt.f)
		mustNoError(t, tt.name, err)
		wantJSON(t, tt.name, got, tt.want)
	}

	bad := outcome("s3", flywheel.OutcomeLive, modelA, t0)
	bad.SignalID = ""
	_, err = s.PutOutcome(ctx, bad)
	wantError(t, err, flywheel.EInvalid, nil, "signal_id")
}
