package sqlite_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/sqlite"
)

// feed returns a live feed of models models, perModel observations each,
// in time order: each timestamp brings one observation of every model, as
// a trading system reports them. Event ids are left empty, so the store
// derives them.
func feed(models, perModel int, start time.Time) []flywheel.Observation {
	obs := make([]flywheel.Observation, 0, models*perModel)
	for i := range perModel {
		ts := start.Add(time.Duration(i) * time.Minute)
		for m := range models {
			expected := 0.001
			obs = append(obs, flywheel.Observation{
				TS:           ts,
				ModelKey:     flywheel.ModelKey{Target: fmt.Sprintf("fwd_ret_5d_S%04d", m), ModelFamily: "ridge"},
				ModelVersion: "v1",
				Symbol:       fmt.Sprintf("S%04d", m),
				PnL:          float64((i*7+m*13)%21-10) / 1000,
				ExpectedPnL:  &expected,
			})
		}
	}
	return obs
}

// put stores obs in batches of batch observations.
func put(tb testing.TB, db *sqlite.DB, obs []flywheel.Observation, batch int) {
	tb.Helper()
	for len(obs) > 0 {
		n := min(batch, len(obs))
		res, err := db.PutObservations(tb.Context(), obs[:n])
		if err != nil {
			tb.Fatal(err)
		}
		if res.Accepted != n {
			tb.Fatalf("put %d observations: %+v", n, res)
		}
		obs = obs[n:]
	}
}

func TestLiveSummaryUsesIndex(t *testing.T) {
	db := setup(t)
	put(t, db, feed(20, 50, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)), 1000)
	plan, err := db.ExplainLiveSummary(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("plan:\n%s", plan)
	for _, line := range strings.Split(strings.TrimSpace(plan), "\n") {
		if strings.Contains(line, "live_observations") &&
			!strings.Contains(line, "USING INDEX live_observations_model_ts (model_id=? AND ts>? AND ts<?)") &&
			!strings.Contains(line, "USING COVERING INDEX live_observations_model_ts (model_id=? AND ts>? AND ts<?)") {
			t.Errorf("plan step %q reads live_observations without a range of the (model_id, ts) index", line)
		}
	}
	if n := strings.Count(plan, "live_observations_model_ts"); n != 2 {
		t.Errorf("the index is used in %d statements, want 2:\n%s", n, plan)
	}
	if strings.Contains(plan, "SCAN live_observations") {
		t.Errorf("plan scans live_observations:\n%s", plan)
	}
}

// TestInsertObservationsRaw checks that the benchmark baseline writes
// what PutObservations would.
func TestInsertObservationsRaw(t *testing.T) {
	obs := feed(3, 10, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	raw, bulk := setup(t), setup(t)
	if err := raw.InsertObservationsRaw(t.Context(), obs); err != nil {
		t.Fatal(err)
	}
	put(t, bulk, obs, len(obs))
	for _, k := range []flywheel.ModelKey{obs[0].ModelKey, obs[2].ModelKey} {
		a, err := raw.Observations(t.Context(), flywheel.ObservationFilter{Model: k})
		if err != nil {
			t.Fatal(err)
		}
		b, err := bulk.Observations(t.Context(), flywheel.ObservationFilter{Model: k})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprintf("%+v", a) != fmt.Sprintf("%+v", b) || len(a) != 10 {
			t.Errorf("%v: raw insert stored\n%+v\nPutObservations stored\n%+v", k, a, b)
		}
	}
}

// BenchmarkLiveSummary times one model's summary in a database of 1,000
// models with 1,000 observations each, loaded through PutObservations in
// batches of 10,000.
func BenchmarkLiveSummary(b *testing.B) {
	if testing.Short() {
		b.Skip("loads 1,000,000 observations")
	}
	const models, perModel = 1000, 1000
	db := openAt(b, filepath.Join(b.TempDir(), "flywheel.db"))
	obs := feed(models, perModel, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	start := time.Now()
	put(b, db, obs, 10000)
	b.Logf("loaded %d observations in %v", len(obs), time.Since(start).Round(time.Millisecond))

	i := 0
	for b.Loop() {
		k := obs[(i*7919)%models].ModelKey // a different model each time, not a warm page
		s, err := db.LiveSummary(b.Context(), k, time.Time{}, time.Time{})
		if err != nil {
			b.Fatal(err)
		}
		if s.Observations != perModel {
			b.Fatalf("%v: %d observations, want %d", k, s.Observations, perModel)
		}
		i++
	}
}

// BenchmarkIngest compares PutObservations with the one-row-per-INSERT
// baseline: each op loads 100,000 observations in batches of 10,000 into a
// new database, and rows/s is the rate.
func BenchmarkIngest(b *testing.B) {
	if testing.Short() {
		b.Skip("loads 100,000 observations per op")
	}
	obs := feed(1000, 100, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	for _, bb := range []struct {
		name   string
		insert func(db *sqlite.DB, batch []flywheel.Observation) error
	}{
		{"PutObservations", func(db *sqlite.DB, batch []flywheel.Observation) error {
			_, err := db.PutObservations(b.Context(), batch)
			return err
		}},
		{"InsertObservationsRaw", func(db *sqlite.DB, batch []flywheel.Observation) error {
			return db.InsertObservationsRaw(b.Context(), batch)
		}},
	} {
		b.Run(bb.name, func(b *testing.B) {
			var elapsed time.Duration
			n := 0
			for b.Loop() {
				b.StopTimer()
				db := openAt(b, filepath.Join(b.TempDir(), fmt.Sprintf("ingest-%d.db", n)))
				b.StartTimer()
				start := time.Now()
				for i := 0; i < len(obs); i += 10000 {
					if err := bb.insert(db, obs[i:min(i+10000, len(obs))]); err != nil {
						b.Fatal(err)
					}
				}
				elapsed += time.Since(start)
				n++
			}
			b.ReportMetric(float64(n*len(obs))/elapsed.Seconds(), "rows/s")
		})
	}
}
