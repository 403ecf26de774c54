package arpo

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// TestRiskViolations checks that each broken limit is reported with its
// value and limit, and becomes a retrain reason.
func TestRiskViolations(t *testing.T) {
	t.Parallel()
	days := weekdays(base.AddDate(0, 3, 0), 40)
	now := days[39].Add(23 * time.Hour)
	// Gains 0.01 a day for 20 days (peak 0.2), then loses 0.02 a day for
	// 20 days (down to -0.2): a drawdown of 0.4. VaR95 of the daily P&L:
	// the 5% quantile of twenty -0.02 and twenty 0.01 is -0.02.
	crash := key("fwd_ret_5d_GE", "ridge")
	pnl := make([]float64, 40)
	for i := range pnl {
		pnl[i] = 0.01
		if i >= 20 {
			pnl[i] = -0.02
		}
	}
	obs := series(crash, days, pnl, 0.005)
	// A model with modest P&L but positions in two symbols: the latest
	// per symbol are 1.5 and -1.0 (earlier ones were larger), so its gross
	// exposure is 2.5.
	levered := key("fwd_ret_5d_GE", "mlp")
	lev := series(levered, days, alternating(40, 0.001, 0.002), 0.001)
	for i := range lev {
		p := 4.0
		if i == len(lev)-1 {
			p = 1.5
		}
		lev[i].Position = &p
	}
	short := -1.0
	old := -9.0
	lev = append(lev,
		flywheel.Observation{TS: days[10].Add(closeAt), ModelKey: levered, Symbol: "T", PnL: 0, Position: &old},
		flywheel.Observation{TS: days[30].Add(closeAt), ModelKey: levered, Symbol: "T", PnL: 0, Position: &short},
	)
	in := learn(t, DefaultConfig(), Snapshot{Observations: append(obs, lev...), Now: now})

	want := []struct {
		model  flywheel.ModelKey
		metric string
		value  float64
		limit  float64
	}{
		// Sorted by model: family mlp before ridge.
		{levered, MetricGrossExposure, 2.5, 2},
		{crash, MetricMaxDrawdown, 0.4, 0.2},
	}
	got := in.RiskLimits.Violations
	if len(got) != len(want) {
		t.Fatalf("%d violations %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		v := got[i]
		if v.ModelKey != w.model || v.Metric != w.metric || math.Abs(v.Value-w.value) > 1e-12 || v.Limit != w.limit {
			t.Errorf("violation %d = %s %s %v (limit %v), want %s %s %v (limit %v)", i, v.ModelKey, v.Metric, v.Value, v.Limit, w.model, w.metric, w.value, w.limit)
		}
		reasons := in.RetrainReasons(w.model)
		ok := false
		for _, r := range reasons {
			ok = ok || r.Kind == ReasonRiskViolation && r.Values[w.metric] == v.Value && r.Values["limit"] == w.limit
		}
		if !ok {
			t.Errorf("%s: retrain reasons %+v lack the %s violation with its numbers", w.model, reasons, w.metric)
		}
	}
	p, _ := in.Performance(crash)
	if math.Abs(float64(p.VaR95)-0.02) > 1e-12 || math.Abs(float64(p.CVaR95)-0.02) > 1e-12 {
		t.Errorf("crash VaR95 %v, CVaR95 %v, want 0.02 and 0.02", p.VaR95, p.CVaR95)
	}
	if in.RiskLimits.Limits != DefaultConfig().Limits {
		t.Errorf("limits in force %+v, want the defaults", in.RiskLimits.Limits)
	}
}

// TestRiskLimitsScale checks that limits are fractions of capital: the
// same P&L in units ten times larger breaks the same limits only when
// capital says so.
func TestRiskLimitsScale(t *testing.T) {
	t.Parallel()
	days := weekdays(base.AddDate(0, 3, 0), 30)
	k := key("fwd_ret_5d_PFE", "ridge")
	tests := []struct {
		name    string
		scale   float64
		capital float64
		limits  Limits
		want    []string
	}{
		{"unit capital", 1, 1, Limits{VaR95: 0.03, CVaR95: 0.04}, nil},
		{"dollars without capital", 10, 1, Limits{VaR95: 0.03, CVaR95: 0.04}, []string{MetricVaR95, MetricCVaR95}},
		{"dollars with capital", 10, 10, Limits{VaR95: 0.03, CVaR95: 0.04}, nil},
		{"tight VaR only", 1, 1, Limits{VaR95: 0.01}, []string{MetricVaR95}},
		{"all off", 10, 1, Limits{}, nil},
	}
	for _, tt := range tests {
		pnl := alternating(30, 0.001, 0.015)
		for i := range pnl {
			pnl[i] *= tt.scale
		}
		cfg := DefaultConfig()
		cfg.Capital, cfg.Limits = tt.capital, tt.limits
		in := learn(t, cfg, Snapshot{Observations: series(k, days, pnl, math.NaN()), Now: days[29].Add(23 * time.Hour)})
		var got []string
		for _, v := range in.RiskLimits.Violations {
			got = append(got, v.Metric)
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: violations %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestHighPriorityByRiskShare builds twelve models whose daily P&L have
// the same drift and exactly uncorrelated noise, one with four times the
// others' volatility. Its share of the book's variance is 16 / (16 + 11)
// and it alone is high-priority; every P&L share is 1/12, below 10%.
func TestHighPriorityByRiskShare(t *testing.T) {
	t.Parallel()
	days := weekdays(base.AddDate(0, 4, 0), 64)
	var obs []flywheel.Observation
	var keys []flywheel.ModelKey
	for i := range 12 {
		k := key(fmt.Sprintf("fwd_ret_5d_S%02d", i), "ridge")
		sd := 0.01
		if i == 7 {
			sd = 0.04
		}
		keys = append(keys, k)
		obs = append(obs, series(k, days, pattern(64, i+1, 0.001, sd), 0.001)...)
	}
	in := learn(t, DefaultConfig(), Snapshot{Observations: obs, Now: days[63].Add(23 * time.Hour)})
	if len(in.HighPriorityTargets) != 1 {
		t.Fatalf("high-priority %+v, want one model", in.HighPriorityTargets)
	}
	h := in.HighPriorityTargets[0]
	if h.ModelKey != keys[7] || h.Rank != 1 {
		t.Errorf("high-priority %s rank %d, want %s rank 1", h.ModelKey, h.Rank, keys[7])
	}
	if want := 16.0 / 27; math.Abs(h.RiskShare-want) > 1e-9 {
		t.Errorf("risk share %.6f, want 16/27 = %.6f", h.RiskShare, want)
	}
	if math.Abs(h.PnLShare-1.0/12) > 1e-9 {
		t.Errorf("P&L share %.6f, want 1/12", h.PnLShare)
	}
	t.Log(h.Reason)
}

// TestAllocationAcrossModels checks every method and estimator on the
// twelve uncorrelated models: weights are long-only and sum to 1, and the
// risky model gets the smallest weight.
func TestAllocationAcrossModels(t *testing.T) {
	t.Parallel()
	days := weekdays(base.AddDate(0, 4, 0), 64)
	var obs []flywheel.Observation
	for i := range 12 {
		k := key(fmt.Sprintf("fwd_ret_5d_S%02d", i), "ridge")
		sd := 0.01 + 0.001*float64(i)
		if i == 7 {
			sd = 0.04
		}
		obs = append(obs, series(k, days, pattern(64, i+1, 0.001*float64(1+i%3), sd), 0.001)...)
	}
	snap := Snapshot{Observations: obs, Now: days[63].Add(23 * time.Hour)}
	for _, m := range []Method{HRP, MinVolatility, MaxSharpe, RiskParity} {
		for _, c := range []Covariance{LedoitWolf, SampleCovariance} {
			cfg := DefaultConfig()
			cfg.AllocationMethod, cfg.Covariance = m, c
			a := learn(t, cfg, snap).Allocation
			if a.Note != "" || len(a.Weights) != 12 || a.Days != 64 {
				t.Errorf("%s/%s: %d weights over %d days, note %q", m, c, len(a.Weights), a.Days, a.Note)
				continue
			}
			sum, smallest := 0.0, 0
			for i, w := range a.Weights {
				sum += w.Weight
				if w.Weight < -1e-12 {
					t.Errorf("%s/%s: negative weight %v for %s", m, c, w.Weight, w.ModelKey)
				}
				if w.Weight < a.Weights[smallest].Weight {
					smallest = i
				}
			}
			if math.Abs(sum-1) > 1e-9 {
				t.Errorf("%s/%s: weights sum to %v", m, c, sum)
			}
			if m != MaxSharpe && smallest != 7 {
				t.Errorf("%s/%s: smallest weight on %s, want the risky S07", m, c, a.Weights[smallest].ModelKey)
			}
			if !a.Performance.Volatility.Defined() || (c == LedoitWolf) != a.Shrinkage.Defined() {
				t.Errorf("%s/%s: performance %+v, shrinkage %v", m, c, a.Performance, a.Shrinkage)
			}
		}
	}
}

// TestAllocationCap checks that only the models with the largest gross
// P&L are allocated when there are more than allocation_max_models.
func TestAllocationCap(t *testing.T) {
	t.Parallel()
	days := weekdays(base.AddDate(0, 4, 0), 32)
	var obs []flywheel.Observation
	for i := range 6 {
		k := key(fmt.Sprintf("fwd_ret_5d_S%02d", i), "ridge")
		obs = append(obs, series(k, days, pattern(32, i+1, 0, 0.01*float64(1+i)), 0.001)...)
	}
	cfg := DefaultConfig()
	cfg.AllocationMaxModels = 3
	a := learn(t, cfg, Snapshot{Observations: obs, Now: days[31].Add(23 * time.Hour)}).Allocation
	var got []string
	for _, w := range a.Weights {
		got = append(got, w.Target)
	}
	if want := "[fwd_ret_5d_S03 fwd_ret_5d_S04 fwd_ret_5d_S05]"; fmt.Sprint(got) != want || a.Eligible != 6 || a.Models != 3 {
		t.Errorf("allocated %v of %d eligible (%d), want %s of 6", got, a.Eligible, a.Models, want)
	}
}
