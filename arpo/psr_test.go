package arpo

import (
	"math"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// TestPSRWorkedExample checks the Probabilistic Sharpe Ratio against a
// computation by hand, through Learn, so that the daily aggregation, the
// benchmark and the formula are all on the path.
//
// Daily P&L over 5 days, each day the sum of two observations:
//
//	x = -0.02, 0, 0.01, 0.01, 0.05
//	mean = 0.05 / 5 = 0.01
//	deviations d = -0.03, -0.01, 0, 0, 0.04
//	sum d^2 = 0.0009 + 0.0001 + 0.0016 = 0.0026
//	sample variance = 0.0026 / 4 = 0.00065, sd = sqrt(0.00065) = 0.0254951
//	SR (per day) = 0.01 / 0.0254951 = 0.3922323
//	annualised: 0.3922323 * sqrt(252) = 6.226494
//	m2 = 0.0026 / 5 = 0.00052
//	m3 = (-0.000027 - 0.000001 + 0.000064) / 5 = 0.0000072
//	m4 = (0.00000081 + 0.00000001 + 0.00000256) / 5 = 0.000000676
//	skewness = m3 / m2^1.5 = 0.0000072 / 0.0000118578 = 0.6071940
//	kurtosis = m4 / m2^2 = 0.000000676 / 0.0000002704 = 2.5
//
// Bailey and Lopez de Prado's PSR with benchmark SR*:
//
//	PSR = Phi((SR - SR*) sqrt(n - 1) / sqrt(1 - skew SR + (kurt - 1)/4 SR^2))
//	the denominator: 1 - 0.6071940 * 0.3922323 + 1.5/4 * 0.3922323^2
//	               = 1 - 0.2381611 + 0.375 * 0.1538462 = 0.8195312,
//	sqrt = 0.9052796
//
// Case "expected": the model expects 0.005 a day (two observations of
// 0.0025), so SR* = 0.005 / 0.0254951 = 0.1961161 (annual 3.113247):
//
//	z = (0.3922323 - 0.1961161) * 2 / 0.9052796 = 0.4332719
//	PSR = Phi(0.4332719) = 0.6675914
//
// Case "target": no expected P&L, so SR* is target_sharpe 1.0 a year,
// 1 / sqrt(252) = 0.0629941 a day:
//
//	z = (0.3922323 - 0.0629941) * 2 / 0.9052796 = 0.7273735
//	PSR = Phi(0.7273735) = 0.7665014
func TestPSRWorkedExample(t *testing.T) {
	t.Parallel()
	daily := []float64{-0.02, 0, 0.01, 0.01, 0.05}
	// Each day's P&L arrives as two observations that sum to it.
	split := [][2]float64{{-0.03, 0.01}, {0.02, -0.02}, {0.004, 0.006}, {0.01, 0}, {0.06, -0.01}}
	tests := []struct {
		name           string
		expected       *float64 // per observation
		wantExpSharpe  float64
		wantPSR        float64
		wantBenchmark  string
		wantExpectedPL float64
	}{
		{"expected", ptr(0.0025), 3.1132471299766253, 0.6675913918685497, BenchmarkExpectedPnL, 0.025},
		{"target", nil, 1.0, 0.7665013962678499, BenchmarkTargetSharpe, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k := key("fwd_ret_5d_AAPL", "ridge")
			days := weekdays(base.AddDate(0, 0, 6), 5)
			var obs []flywheel.Observation
			for i, d := range days {
				if s := split[i][0] + split[i][1]; math.Abs(s-daily[i]) > 1e-15 {
					t.Fatalf("day %d: observations sum to %v, not %v", i, s, daily[i])
				}
				for j, pnl := range split[i] {
					obs = append(obs, flywheel.Observation{
						TS: d.Add(time.Duration(10+j) * time.Hour), ModelKey: k, PnL: pnl, ExpectedPnL: tt.expected,
					})
				}
			}
			in := learn(t, DefaultConfig(), Snapshot{Observations: obs, Now: days[4].Add(23 * time.Hour)})
			p, ok := in.Performance(k)
			if !ok {
				t.Fatal("no performance for the model")
			}
			checks := []struct {
				name      string
				got, want float64
			}{
				{"days", float64(p.Days), 5},
				{"pnl", p.PnL, 0.05},
				{"expected pnl", p.ExpectedPnL, tt.wantExpectedPL},
				{"mean daily pnl", float64(p.MeanDailyPnL), 0.01},
				{"std daily pnl", float64(p.StdDailyPnL), 0.025495097567963924},
				{"sharpe", float64(p.Sharpe), 6.226494259953251},
				{"skewness", float64(p.Skewness), 0.6071940133664051},
				{"kurtosis", float64(p.Kurtosis), 2.5},
				{"expected sharpe", float64(p.ExpectedSharpe), tt.wantExpSharpe},
				{"psr", float64(p.PSR), tt.wantPSR},
				// 6 of the 10 observations made money (0.01, 0.02,
				// 0.004, 0.006, 0.01, 0.06); a flat one does not count.
				{"hit rate", float64(p.HitRate), 0.6},
				// Cumulative 0.02 down from the start after day 1.
				{"max drawdown", p.MaxDrawdown, 0.02},
			}
			for _, c := range checks {
				if math.Abs(c.got-c.want) > 1e-9*math.Max(1, math.Abs(c.want)) {
					t.Errorf("%s = %.12g, want %.12g", c.name, c.got, c.want)
				}
			}
			if p.SharpeBenchmark != tt.wantBenchmark {
				t.Errorf("benchmark %q, want %q", p.SharpeBenchmark, tt.wantBenchmark)
			}
		})
	}
}

func ptr(v float64) *float64 { return &v }

// TestUnderperformingNeedsDays checks both halves of the rule: a PSR far
// below the level is not enough without min_observations days.
func TestUnderperformingNeedsDays(t *testing.T) {
	t.Parallel()
	tests := []struct {
		days int
		want bool
	}{
		{19, false},
		{20, true},
		{40, true},
	}
	for _, tt := range tests {
		k := key("fwd_ret_5d_JPM", "ridge")
		days := weekdays(base.AddDate(0, 2, 0), tt.days)
		// Expects 0.002 a day, loses 0.004 a day with noise 0.01: SR
		// about -0.4 a day against SR* 0.2, PSR below 0.01 already at 19
		// days; only the count of days decides.
		in := learn(t, DefaultConfig(), Snapshot{
			Observations: series(k, days, alternating(tt.days, -0.004, 0.01), 0.002),
			Now:          days[len(days)-1].Add(23 * time.Hour),
		})
		p, _ := in.Performance(k)
		if got := in.IsUnderperforming(k); got != tt.want {
			t.Errorf("%d days (PSR %.4f): underperforming %v, want %v", tt.days, float64(p.PSR), got, tt.want)
		}
		if tt.want && len(in.RetrainReasons(k)) == 0 {
			t.Errorf("%d days: underperforming but not in targets_needing_retrain", tt.days)
		}
	}
}
