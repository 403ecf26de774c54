package arpo

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// regimeScenario is 360 weekdays of market returns, calm (daily sd 0.5%)
// then volatile (3%) for the last 60, and two models observed on every
// one of those days: "steady" earns 0.002 a day in both regimes, "fragile"
// earns 0.002 in calm markets and loses 0.004 a day in volatile ones.
func regimeScenario(t *testing.T) (Snapshot, flywheel.ModelKey, flywheel.ModelKey) {
	t.Helper()
	const n, volatile = 360, 60
	days := weekdays(base.AddDate(1, 6, 0), n)
	rng := rand.New(rand.NewPCG(3, 4))
	var snap Snapshot
	for i, d := range days {
		sd := 0.005
		if i >= n-volatile {
			sd = 0.03
		}
		snap.Market = append(snap.Market, MarketPoint{Date: d, Return: sd * rng.NormFloat64()})
	}
	steady, fragile := key("fwd_ret_5d_XOM", "ridge"), key("fwd_ret_5d_XOM", "mlp")
	snap.Observations = series(steady, days, alternating(n, 0.002, 0.01), 0.002)
	pnl := alternating(n, 0.002, 0.01)
	for i := n - volatile; i < n; i++ {
		pnl[i] -= 0.006
	}
	snap.Observations = append(snap.Observations, series(fragile, days, pnl, 0.002)...)
	snap.Now = days[n-1].Add(23 * time.Hour)
	return snap, steady, fragile
}

// TestRegimeMismatch checks that the HMM finds the volatile regime and
// that only the model that loses in it is mismatched, with the numbers
// that show it.
func TestRegimeMismatch(t *testing.T) {
	t.Parallel()
	snap, steady, fragile := regimeScenario(t)
	in := learn(t, DefaultConfig(), snap)
	if in.Regime.Source != RegimeFromMarket || in.Regime.Current != "volatile" {
		t.Fatalf("regime %s from %s (%s), want volatile from market", in.Regime.Current, in.Regime.Source, in.Regime.Reason)
	}
	if p := in.Regime.Probabilities["volatile"]; p < 0.9 {
		t.Errorf("current volatile probability %.3f, want > 0.9", p)
	}
	if in.IsRegimeMismatched(steady) {
		t.Errorf("steady model mismatched: %+v", in.RegimeMismatch)
	}
	if len(in.RegimeMismatch) != 1 || in.RegimeMismatch[0].ModelKey != fragile {
		t.Fatalf("regime_mismatch = %+v, want the fragile model alone", in.RegimeMismatch)
	}
	mm := in.RegimeMismatch[0]
	t.Logf("%s", mm.Reason)
	// The window holds 261 weekdays, 60 of them volatile; the HMM may
	// misplace a day or two at the switch.
	checks := []struct {
		name      string
		got, want float64
		tol       float64
	}{
		{"days current", float64(mm.DaysCurrent), 60, 3},
		{"days other", float64(mm.DaysOther), 201, 3},
		{"mean pnl current", mm.MeanPnLCurrent, -0.004, 0.0005},
		{"mean pnl other", mm.MeanPnLOther, 0.002, 0.0002},
		// -0.004 / 0.01 * sqrt(252) = -6.35.
		{"sharpe current", mm.SharpeCurrent, -6.35, 0.6},
		// Welch: -0.006 / sqrt(1e-4/60 + 1e-4/201) = -4.08.
		{"z", mm.Z, -4.08, 0.3},
	}
	for _, c := range checks {
		if math.Abs(c.got-c.want) > c.tol {
			t.Errorf("%s = %.4g, want %.4g +- %g", c.name, c.got, c.want, c.tol)
		}
	}
	if mm.SharpeOverall-mm.SharpeCurrent < 1 || mm.Confidence < 0.95 {
		t.Errorf("gap %.2f, confidence %.4f: not a mismatch by the rule", mm.SharpeOverall-mm.SharpeCurrent, mm.Confidence)
	}
	reasons := in.RetrainReasons(fragile)
	found := false
	for _, r := range reasons {
		if r.Kind == ReasonRegimeMismatch {
			found = true
			if r.Values["sharpe_current"] != mm.SharpeCurrent || r.Values["days_current"] != float64(mm.DaysCurrent) {
				t.Errorf("reason values %v do not carry the mismatch's numbers", r.Values)
			}
		}
	}
	if !found {
		t.Errorf("fragile model's retrain reasons %+v lack regime_mismatch", reasons)
	}
	rs, ok := in.RegimeStrategyFor(fragile.Target)
	if !ok {
		t.Fatal("no regime strategy for the fragile model's target")
	}
	if rs.ModelFamily != fragile.ModelFamily || rs.RegimeFilter != "volatile" || rs.RegimeWeight < 2.9 || rs.RegimeWeight > 3 {
		t.Errorf("regime strategy %+v, want the mlp emphasising volatile at about 3x", rs)
	}
}

// TestRegimeSources checks where the regime comes from when the market
// series is missing: the observations' labels if any, else unknown.
func TestRegimeSources(t *testing.T) {
	t.Parallel()
	snap, _, fragile := regimeScenario(t)
	labelled := snap
	labelled.Market = nil
	labelled.Observations = append([]flywheel.Observation(nil), snap.Observations...)
	n := len(labelled.Observations) / 2
	for i := range labelled.Observations {
		label := "quiet"
		if i%n >= n-60 {
			label = "stress"
		}
		labelled.Observations[i].Regime = label
	}
	bare := snap
	bare.Market = snap.Market[:10]

	tests := []struct {
		name         string
		snap         Snapshot
		source, cur  string
		wantMismatch bool
		wantStrategy bool
	}{
		{"market", snap, RegimeFromMarket, "volatile", true, true},
		{"observation labels", labelled, RegimeFromObservations, "stress", true, true},
		{"too few market returns", bare, RegimeFromNone, UnknownRegime, false, false},
	}
	for _, tt := range tests {
		in := learn(t, DefaultConfig(), tt.snap)
		if in.Regime.Source != tt.source || in.Regime.Current != tt.cur {
			t.Errorf("%s: regime %s from %s, want %s from %s", tt.name, in.Regime.Current, in.Regime.Source, tt.cur, tt.source)
		}
		if got := in.IsRegimeMismatched(fragile); got != tt.wantMismatch {
			t.Errorf("%s: fragile mismatched %v, want %v", tt.name, got, tt.wantMismatch)
		}
		if _, got := in.RegimeStrategyFor(fragile.Target); got != tt.wantStrategy {
			t.Errorf("%s: strategy present %v, want %v", tt.name, got, tt.wantStrategy)
		}
		if tt.source == RegimeFromNone && in.Regime.Reason == "" {
			t.Errorf("%s: unknown regime without a reason", tt.name)
		}
	}
}

// TestMarketValidation checks that bad market input is rejected, naming
// the field, rather than fitted.
func TestMarketValidation(t *testing.T) {
	t.Parallel()
	now := base.AddDate(0, 1, 0)
	tests := []struct {
		name   string
		market []MarketPoint
		field  string
	}{
		{"non-finite", []MarketPoint{{Date: base, Return: math.Inf(1)}}, "market.return"},
		{"no date", []MarketPoint{{Return: 0.01}}, "market.date"},
		{"same day twice", []MarketPoint{{Date: base, Return: 0.01}, {Date: base.Add(time.Hour), Return: 0.02}}, "market"},
	}
	for _, tt := range tests {
		_, err := Learn(DefaultConfig(), Snapshot{Market: tt.market, Now: now})
		var fe *flywheel.Error
		if !asError(err, &fe) || fe.Code != flywheel.EInvalid || fe.Field != tt.field {
			t.Errorf("%s: error %v, want EInvalid on %s", tt.name, err, tt.field)
		}
	}
}
