package storetest

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// obs returns an observation of model k at t0 + minutes.
func obs(id string, k flywheel.ModelKey, minutes int, pnl float64) flywheel.Observation {
	return flywheel.Observation{
		EventID: id, ModelKey: k, TS: t0.Add(time.Duration(minutes) * time.Minute),
		ModelVersion: "v1", Symbol: "AAPL", PnL: pnl,
	}
}

func testObservationIdempotency(t *testing.T, s flywheel.Store) {
	ctx := t.Context()
	derived := obs("", modelA, 3, 0.3) // keyed by model, symbol and time
	batch := []flywheel.Observation{
		obs("e1", modelA, 1, 0.1), obs("e2", modelA, 2, -0.2), derived, obs("e4", modelB, 1, 1),
	}
	res, err := s.PutObservations(ctx, batch)
	wantResult(t, "first batch", res, err, flywheel.IngestResult{Accepted: 4})
	res, err = s.PutObservations(ctx, batch)
	wantResult(t, "same batch again", res, err, flywheel.IngestResult{Duplicates: 4})

	// The derived key is the one DerivedEventID gives, so a producer that
	// sends it explicitly hits the same record; a key is a duplicate
	// whatever the content sent with it.
	explicit := derived
	explicit.EventID = flywheel.DerivedEventID(modelA, "AAPL", derived.TS)
	explicit.PnL = 99
	again := derived
	again.TS = derived.TS.In(time.FixedZone("EST", -5*3600))
	res, err = s.PutObservations(ctx, []flywheel.Observation{explicit, again})
	wantResult(t, "derived key sent explicitly and from another zone", res, err, flywheel.IngestResult{Duplicates: 2})

	// Repeats inside one batch count as duplicates, and the first wins.
	first := obs("e5", modelA, 5, 0.5)
	repeat := first
	repeat.PnL = -7
	otherSymbol := obs("", modelA, 5, 0.6)
	otherSymbol.Symbol = "MSFT"
	sameAsOther := otherSymbol
	res, err = s.PutObservations(ctx, []flywheel.Observation{first, repeat, otherSymbol, sameAsOther})
	wantResult(t, "repeats inside a batch", res, err, flywheel.IngestResult{Accepted: 2, Duplicates: 2})

	got, err := s.Observations(ctx, flywheel.ObservationFilter{Model: modelA})
	mustNoError(t, "list", err)
	pnls := map[string]float64{}
	for _, o := range got {
		pnls[o.EventID] = o.PnL
	}
	want := map[string]float64{
		"e1": 0.1, "e2": -0.2, "e5": 0.5,
		explicit.EventID: 0.3,
		flywheel.DerivedEventID(modelA, "MSFT", otherSymbol.TS): 0.6,
	}
	if !maps.Equal(pnls, want) {
		t.Errorf("stored observations by event id:\ngot  %v\nwant %v", pnls, want)
	}
	c, err := s.Counts(ctx)
	mustNoError(t, "counts", err)
	if c.LiveObservations != 6 {
		t.Errorf("got %d observations stored, want 6", c.LiveObservations)
	}
}

func testObservationInvalidBatch(t *testing.T, s flywheel.Store) {
	tests := []struct {
		name  string
		spoil func(o *flywheel.Observation)
		field string
	}{
		{"path in target", func(o *flywheel.Observation) { o.Target = "../etc/passwd" }, "target"},
		{"NaN pnl", func(o *flywheel.Observation) { o.PnL = math.NaN() }, "pnl"},
		{"infinite position", func(o *flywheel.Observation) { o.Position = ptr(math.Inf(-1)) }, "position"},
		{"no time", func(o *flywheel.Observation) { o.TS = time.Time{} }, "ts"},
		{"bad event id", func(o *flywheel.Observation) { o.EventID = "a/b" }, "event_id"},
		{"no family", func(o *flywheel.Observation) { o.ModelFamily = "" }, "model_family"},
	}
	ctx := t.Context()
	for _, tt := range tests {
		batch := make([]flywheel.Observation, 50)
		for i := range batch {
			batch[i] = obs(fmt.Sprintf("e%d", i), modelA, i, 1)
		}
		tt.spoil(&batch[37])
		res, err := s.PutObservations(ctx, batch)
		if res != (flywheel.IngestResult{}) {
			t.Errorf("%s: got result %+v with an error, want zero", tt.name, res)
		}
		wantError(t, err, flywheel.EInvalid, ptr(37), tt.field)
	}
	c, err := s.Counts(ctx)
	mustNoError(t, "counts", err)
	if c.LiveObservations != 0 || c.Models != 0 {
		t.Errorf("rejected batches left %d observations and %d models", c.LiveObservations, c.Models)
	}
}

// testObservationLargeBatch checks exact counts for batches large enough
// that a driver splits them into several statements, with repeats on both
// sides of wherever it splits.
func testObservationLargeBatch(t *testing.T, s flywheel.Store) {
	ctx := t.Context()
	all := make([]flywheel.Observation, 2100)
	for i := range all {
		all[i] = obs("", []flywheel.ModelKey{modelA, modelB, modelC}[i%3], i/3, float64(i))
	}
	res, err := s.PutObservations(ctx, all[:555])
	wantResult(t, "first 555", res, err, flywheel.IngestResult{Accepted: 555})

	batch := slices.Clone(all[500:]) // 55 stored, 1,545 new
	for i := 0; i < 1600; i += 97 {
		batch = append(batch, batch[i]) // 17 repeats within the batch
	}
	res, err = s.PutObservations(ctx, batch)
	wantResult(t, "the rest with repeats", res, err, flywheel.IngestResult{Accepted: 1545, Duplicates: 55 + 17})
	c, err := s.Counts(ctx)
	mustNoError(t, "counts", err)
	if c.LiveObservations != 2100 || c.Models != 3 {
		t.Errorf("stored %d observations of %d models, want 2100 of 3", c.LiveObservations, c.Models)
	}
	sum, err := s.LiveSummary(ctx, modelB, time.Time{}, time.Time{})
	mustNoError(t, "summary", err)
	// Model B holds observations 1, 4, ..., 2098: 700 of them summing to
	// 700 * (1 + 2098) / 2.
	if sum.Observations != 700 || !near(sum.PnL, 700*2099/2.0) {
		t.Errorf("model B: %d observations, pnl %v; want 700, %v", sum.Observations, sum.PnL, 700*2099/2.0)
	}
}

func testObservationPaging(t *testing.T, s flywheel.Store) {
	ctx := t.Context()
	var batch []flywheel.Observation
	for i := range 15 {
		o := obs(fmt.Sprintf("e%02d", i), modelA, i, float64(i))
		if i == 7 || i == 8 {
			o.TS = t0.Add(7 * time.Minute) // a tie, broken by event id
		}
		batch = append(batch, o)
	}
	full := obs("e99", modelA, 20, -1.5)
	full.ModelVersion, full.Symbol, full.Regime = "v2", "MSFT", "bear"
	full.Position, full.ExpectedPnL, full.Prediction, full.Outcome = ptr(-100.0), ptr(0.25), ptr(0.011), ptr(-0.004)
	batch = append(batch, full, obs("x1", modelB, 3, 1))
	// Sent newest first: the store orders them.
	slices.Reverse(batch)
	res, err := s.PutObservations(ctx, batch)
	wantResult(t, "put", res, err, flywheel.IngestResult{Accepted: 17})

	var ids []string
	f := flywheel.ObservationFilter{Model: modelA, Limit: 4}
	for range 10 {
		page, err := s.Observations(ctx, f)
		mustNoError(t, "page", err)
		if len(page) == 0 {
			break
		}
		for _, o := range page {
			ids = append(ids, o.EventID)
		}
		last := page[len(page)-1]
		f.AfterTS, f.AfterEventID = last.TS, last.EventID
	}
	want := []string{"e00", "e01", "e02", "e03", "e04", "e05", "e06", "e07", "e08", "e09", "e10", "e11",
		"e12", "e13", "e14", "e99"}
	if !slices.Equal(ids, want) {
		t.Errorf("paged observations:\ngot  %v\nwant %v", ids, want)
	}

	got, err := s.Observations(ctx, flywheel.ObservationFilter{Model: modelA, Since: t0.Add(20 * time.Minute)})
	mustNoError(t, "since", err)
	if len(got) != 1 {
		t.Fatalf("since t0+20m: got %d observations, want 1", len(got))
	}
	wantJSON(t, "observation with every field", got[0], full)
	wantTime(t, "ts", got[0].TS, full.TS)

	got, err = s.Observations(ctx, flywheel.ObservationFilter{Model: modelA, Since: t0.Add(3 * time.Minute),
		Until: t0.Add(7 * time.Minute)})
	mustNoError(t, "window", err)
	if ids := eventIDs(got); !slices.Equal(ids, []string{"e03", "e04", "e05", "e06"}) {
		t.Errorf("window [3m, 7m): got %v", ids)
	}
	if got[0].Position != nil || got[0].Outcome != nil {
		t.Errorf("absent numbers came back set: %+v", got[0])
	}

	got, err = s.Observations(ctx, flywheel.ObservationFilter{Model: modelD})
	mustNoError(t, "unknown model", err)
	if len(got) != 0 {
		t.Errorf("unknown model: got %d observations", len(got))
	}
	_, err = s.Observations(ctx, flywheel.ObservationFilter{Model: flywheel.ModelKey{Target: "../x", ModelFamily: "m"}})
	wantError(t, err, flywheel.EInvalid, nil, "model.target")
}

func eventIDs(obs []flywheel.Observation) []string {
	ids := make([]string, len(obs))
	for i, o := range obs {
		ids[i] = o.EventID
	}
	return ids
}

func testLiveSummary(t *testing.T, s flywheel.Store) {
	ctx := t.Context()
	hour := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	// P&L 1, -2, 3, 0, 4, -1 at hours 0..5; versions v1 then v2; expected
	// P&L on four of them. Sent out of order.
	pnl := []float64{1, -2, 3, 0, 4, -1}
	expected := []*float64{ptr(0.5), nil, ptr(1.0), ptr(0.5), nil, ptr(1.0)}
	var batch []flywheel.Observation
	for _, i := range []int{3, 0, 5, 1, 4, 2} {
		o := obs(fmt.Sprintf("a%d", i), modelA, 60*i, pnl[i])
		o.ExpectedPnL = expected[i]
		o.ModelVersion = map[bool]string{true: "v1", false: "v2"}[i < 3]
		batch = append(batch, o)
	}
	// Another model's observations in the same hours must not leak in.
	batch = append(batch, obs("b0", modelB, 0, 100), obs("b1", modelB, 90, -100))
	res, err := s.PutObservations(ctx, batch)
	wantResult(t, "put", res, err, flywheel.IngestResult{Accepted: 8})

	// Numbers worked out by hand. All six: sum 5, mean 5/6; deviations
	// 1/6, -17/6, 13/6, -5/6, 19/6, -11/6 square to 966/36 in total, so
	// the sample variance is 966/36/5. Hours 1..3: -2, 3, 0, mean 1/3,
	// squares (49+64+1)/9 over 2. Hours 4..5: 4, -1, squares 2*2.5^2 over 1.
	tests := []struct {
		name         string
		since, until time.Time
		want         flywheel.LiveSummary
	}{
		{"everything", time.Time{}, time.Time{}, flywheel.LiveSummary{
			Observations: 6, FirstTS: ptr(hour(0)), LastTS: ptr(hour(5)), PnL: 5, ExpectedPnL: 3,
			MeanPnL: 5.0 / 6, StdPnL: math.Sqrt(966.0 / 36 / 5), HitRate: 0.5, Versions: []string{"v1", "v2"}}},
		{"window", hour(1), hour(4), flywheel.LiveSummary{
			Observations: 3, FirstTS: ptr(hour(1)), LastTS: ptr(hour(3)), PnL: 1, ExpectedPnL: 1.5,
			MeanPnL: 1.0 / 3, StdPnL: math.Sqrt(114.0 / 9 / 2), HitRate: 1.0 / 3, Versions: []string{"v1", "v2"}}},
		{"since", hour(4), time.Time{}, flywheel.LiveSummary{
			Observations: 2, FirstTS: ptr(hour(4)), LastTS: ptr(hour(5)), PnL: 3, ExpectedPnL: 1,
			MeanPnL: 1.5, StdPnL: math.Sqrt(12.5), HitRate: 0.5, Versions: []string{"v2"}}},
		{"until is exclusive", time.Time{}, hour(1), flywheel.LiveSummary{
			Observations: 1, FirstTS: ptr(hour(0)), LastTS: ptr(hour(0)), PnL: 1, ExpectedPnL: 0.5,
			MeanPnL: 1, StdPnL: 0, HitRate: 1, Versions: []string{"v1"}}},
		{"empty window", hour(10), hour(20), flywheel.LiveSummary{}},
	}
	for _, tt := range tests {
		got, err := s.LiveSummary(ctx, modelA, tt.since, tt.until)
		mustNoError(t, tt.name, err)
		tt.want.ModelKey = modelA
		checkSummary(t, tt.name, got, tt.want)
	}

	// Observations without a version count but name none.
	unversioned := obs("c2", modelC, 1, 2)
	unversioned.ModelVersion = ""
	_, err = s.PutObservations(ctx, []flywheel.Observation{obs("c1", modelC, 0, 1), unversioned})
	mustNoError(t, "put model C", err)
	got, err := s.LiveSummary(ctx, modelC, time.Time{}, time.Time{})
	mustNoError(t, "model C", err)
	checkSummary(t, "a version missing", got, flywheel.LiveSummary{ModelKey: modelC, Observations: 2,
		FirstTS: ptr(t0), LastTS: ptr(t0.Add(time.Minute)), PnL: 3, MeanPnL: 1.5, StdPnL: math.Sqrt(0.5),
		HitRate: 1, Versions: []string{"v1"}})

	got, err = s.LiveSummary(ctx, modelD, time.Time{}, time.Time{})
	mustNoError(t, "model without observations", err)
	checkSummary(t, "model without observations", got, flywheel.LiveSummary{ModelKey: modelD})
}

// checkSummary compares summaries, numbers to 1e-9.
func checkSummary(t *testing.T, name string, got, want flywheel.LiveSummary) {
	t.Helper()
	if got.ModelKey != want.ModelKey || got.Observations != want.Observations {
		t.Errorf("%s: got %v with %d observations, want %v with %d", name, got.ModelKey, got.Observations,
			want.ModelKey, want.Observations)
	}
	for _, f := range []struct {
		name      string
		got, want float64
	}{
		{"pnl", got.PnL, want.PnL}, {"expected_pnl", got.ExpectedPnL, want.ExpectedPnL},
		{"mean_pnl", got.MeanPnL, want.MeanPnL}, {"std_pnl", got.StdPnL, want.StdPnL},
		{"hit_rate", got.HitRate, want.HitRate},
	} {
		if !near(f.got, f.want) {
			t.Errorf("%s: %s = %v, want %v", name, f.name, f.got, f.want)
		}
	}
	for _, f := range []struct {
		name      string
		got, want *time.Time
	}{{"first_ts", got.FirstTS, want.FirstTS}, {"last_ts", got.LastTS, want.LastTS}} {
		switch {
		case (f.got == nil) != (f.want == nil):
			t.Errorf("%s: %s = %v, want %v", name, f.name, f.got, f.want)
		case f.got != nil:
			wantTime(t, name+": "+f.name, *f.got, *f.want)
		}
	}
	if !slices.Equal(got.Versions, want.Versions) {
		t.Errorf("%s: versions %v, want %v", name, got.Versions, want.Versions)
	}
}

// testObservationFeed checks the change feed: every stored observation
// once, in the order of arrival, resumable from any Seq, and duplicates
// never appear twice.
func testObservationFeed(t *testing.T, s flywheel.Store) {
	ctx := t.Context()
	first := []flywheel.Observation{obs("f3", modelB, 3, 3), obs("f1", modelA, 1, 1)}
	second := []flywheel.Observation{obs("f1", modelA, 1, 1), obs("f2", modelA, 2, 2)} // f1 again: a duplicate
	for _, b := range [][]flywheel.Observation{first, second} {
		_, err := s.PutObservations(ctx, b)
		mustNoError(t, "put", err)
	}
	all, err := s.ObservationsAfter(ctx, 0, 100)
	mustNoError(t, "feed", err)
	var ids []string
	for i, o := range all {
		ids = append(ids, o.EventID)
		if i > 0 && o.Seq <= all[i-1].Seq {
			t.Errorf("feed not in increasing Seq: %d after %d", o.Seq, all[i-1].Seq)
		}
	}
	// Within a batch the store may order rows as it likes; batches come in
	// the order they were committed.
	if len(ids) != 3 || ids[2] != "f2" || !(ids[0] == "f1" && ids[1] == "f3" || ids[0] == "f3" && ids[1] == "f1") {
		t.Fatalf("feed = %v, want f1 and f3 (first batch), then f2", ids)
	}
	if all[2].Target != modelA.Target || all[2].ModelFamily != modelA.ModelFamily || all[2].PnL != 2 {
		t.Errorf("feed record = %+v, want f2 of %s with pnl 2", all[2], modelA)
	}
	rest, err := s.ObservationsAfter(ctx, all[0].Seq, 1)
	mustNoError(t, "feed page", err)
	if len(rest) != 1 || rest[0].EventID != ids[1] {
		t.Errorf("feed after the first, limit 1 = %+v, want %s", rest, ids[1])
	}
	none, err := s.ObservationsAfter(ctx, all[2].Seq, 100)
	mustNoError(t, "feed end", err)
	if len(none) != 0 {
		t.Errorf("feed after the last = %+v, want nothing", none)
	}
}
