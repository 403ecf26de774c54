package arpo

import (
	"errors"
	"math"
	"math/bits"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// The helpers below build snapshots for the tests: deterministic series,
// so that each test asserts exact behaviour rather than what one seed
// happens to produce.

// base is a Friday; the tests' clocks run from it.
var base = time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)

// closeAt is the time of day observations are stamped with.
const closeAt = 20 * time.Hour

func key(target, family string) flywheel.ModelKey {
	return flywheel.ModelKey{Target: target, ModelFamily: family}
}

// weekdays returns the n weekdays ending with end's day (end included if
// it is a weekday), oldest first, at midnight UTC.
func weekdays(end time.Time, n int) []time.Time {
	out := make([]time.Time, n)
	d := end.UTC().Truncate(24 * time.Hour)
	for i := n - 1; i >= 0; {
		if wd := d.Weekday(); wd != time.Saturday && wd != time.Sunday {
			out[i] = d
			i--
		}
		d = d.AddDate(0, 0, -1)
	}
	return out
}

// series returns one observation per day for a model, stamped at closeAt,
// with the given P&L and (when expected is not NaN) expected P&L.
func series(k flywheel.ModelKey, days []time.Time, pnl []float64, expected float64) []flywheel.Observation {
	out := make([]flywheel.Observation, len(days))
	for i, d := range days {
		out[i] = flywheel.Observation{TS: d.Add(closeAt), ModelKey: k, ModelVersion: "v1", Symbol: "S", PnL: pnl[i]}
		if !math.IsNaN(expected) {
			e := expected
			out[i].ExpectedPnL = &e
		}
	}
	return out
}

// hadamard returns entry (i, j) of the Sylvester-Hadamard matrix: +1 or
// -1. Distinct rows are orthogonal and every row but the first sums to
// zero over a power-of-two length, which gives noise patterns that are
// exactly uncorrelated with each other and have mean zero.
func hadamard(i, j int) float64 {
	if bits.OnesCount(uint(i&j))%2 == 0 {
		return 1
	}
	return -1
}

// pattern returns mean + sd * row r of the Hadamard matrix over n days.
func pattern(n, r int, mean, sd float64) []float64 {
	out := make([]float64, n)
	for j := range out {
		out[j] = mean + sd*hadamard(r, j)
	}
	return out
}

// alternating returns mean + sd, mean - sd, ... over n days.
func alternating(n int, mean, sd float64) []float64 {
	return pattern(n, 1, mean, sd)
}

// learn runs Learn and fails the test on an error.
func learn(t testing.TB, cfg Config, snap Snapshot) *Insights {
	t.Helper()
	in, err := Learn(cfg, snap)
	if err != nil {
		t.Fatalf("Learn: %v", err)
	}
	return in
}

// randomSnapshot is a mixed snapshot for tests that need variety: models
// with several observations a day, expected P&L on some, positions in two
// symbols, deployments, and a market series.
func randomSnapshot(seed uint64, models, days int, now time.Time) Snapshot {
	rng := rand.New(rand.NewPCG(seed, 1))
	var snap Snapshot
	snap.Now = now
	dates := weekdays(now.Add(-time.Hour), days)
	for _, d := range dates {
		snap.Market = append(snap.Market, MarketPoint{Date: d, Return: rng.NormFloat64() * 0.01})
	}
	for m := range models {
		k := key("fwd_ret_5d_S"+string(rune('A'+m%26))+string(rune('a'+m/26)), []string{"ridge", "lightgbm"}[m%2])
		edge := 0.002 * rng.Float64()
		for _, d := range dates {
			for h := range 3 {
				pos, exp := rng.NormFloat64(), edge/3
				o := flywheel.Observation{
					TS: d.Add(time.Duration(14+h) * time.Hour), ModelKey: k, Symbol: []string{"X", "Y"}[h%2],
					PnL: edge/3 + 0.006*rng.NormFloat64(), Position: &pos,
				}
				if m%3 != 0 {
					o.ExpectedPnL = &exp
				}
				snap.Observations = append(snap.Observations, o)
			}
		}
		if m%4 == 0 {
			snap.Deployments = append(snap.Deployments, flywheel.Deployment{ModelKey: k, ModelVersion: "v2", DeployedAt: dates[len(dates)/3]})
		}
	}
	return snap
}

// asError is errors.As for the tests' one error type.
func asError(err error, target **flywheel.Error) bool {
	return errors.As(err, target)
}
