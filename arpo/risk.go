package arpo

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/portfolio"
)

// Risk metrics named in RiskViolation.Metric, the JSON names of Limits.
const (
	MetricMaxDrawdown   = "max_drawdown"
	MetricVaR95         = "var_95"
	MetricCVaR95        = "cvar_95"
	MetricGrossExposure = "gross_exposure"
)

// RiskLimits are the limits in force and the models that break them.
type RiskLimits struct {
	Limits     Limits          `json:"limits"`
	Violations []RiskViolation `json:"violations"`
}

// RiskViolation is one limit one model breaks. The design reads it as
// "risk predictions inaccurate": the model took more risk than its
// training promised, a reason to retrain it.
type RiskViolation struct {
	flywheel.ModelKey
	Metric string  `json:"metric"`
	Value  float64 `json:"value"`
	Limit  float64 `json:"limit"`
	Days   int     `json:"days"`
	Reason string  `json:"reason"`
}

// violations checks a model against the limits. VaR and CVaR need
// min_observations days: a 5% quantile of a handful of days is one
// unlucky day, not a measurement. Drawdown and exposure are facts and are
// checked on any number of days.
func violations(cfg *Config, p *ModelPerformance) []RiskViolation {
	var out []RiskViolation
	check := func(metric string, value, limit float64, what string) {
		if limit > 0 && value > limit {
			out = append(out, RiskViolation{
				ModelKey: p.ModelKey, Metric: metric, Value: value, Limit: limit, Days: p.Days,
				Reason: fmt.Sprintf("%s %.4g exceeds the limit %.4g (%s over %d days, in units of capital %g)", metric, value, limit, what, p.Days, cfg.Capital),
			})
		}
	}
	check(MetricMaxDrawdown, p.MaxDrawdown, cfg.Limits.MaxDrawdown, "largest fall of cumulative P&L from its peak")
	if p.Days >= cfg.MinObservations {
		if p.VaR95.Defined() {
			check(MetricVaR95, float64(p.VaR95), cfg.Limits.VaR95, "historical one-day 95% VaR")
		}
		if p.CVaR95.Defined() {
			check(MetricCVaR95, float64(p.CVaR95), cfg.Limits.CVaR95, "mean of the days at or below the 5% quantile")
		}
	}
	check(MetricGrossExposure, p.GrossExposure, cfg.Limits.GrossExposure, "sum of absolute latest positions")
	return out
}

// bookSeries returns the book's daily P&L on the days any model traded,
// and those days' indices in the performance window.
func bookSeries(cfg *Config, models []*model) ([]float64, []int) {
	sum := make([]float64, cfg.LookbackDays)
	active := make([]bool, cfg.LookbackDays)
	for _, m := range models {
		for d, v := range m.daily {
			if !math.IsNaN(v) {
				sum[d] += v
				active[d] = true
			}
		}
	}
	var x []float64
	var days []int
	for d, ok := range active {
		if ok {
			x, days = append(x, sum[d]), append(days, d)
		}
	}
	return x, days
}

// portfolioPerformance describes the book. Its benchmark is the models'
// expected P&L when they report it on at least half of their days.
func portfolioPerformance(cfg *Config, models []*model, perf []ModelPerformance, x []float64) PortfolioPerformance {
	mo := momentsOf(x)
	pp := PortfolioPerformance{
		Models: len(models), Days: mo.n, PnL: mo.sum,
		Sharpe: Number(mo.sharpe * sqrtYear), ExpectedSharpe: Number(math.NaN()), PSR: Number(math.NaN()),
		HitRate: Number(math.NaN()), VaR95: Number(math.NaN()), CVaR95: Number(math.NaN()),
		MaxDrawdown: drawdown(x) / cfg.Capital,
	}
	modelDays, expDays := 0, 0
	for i, m := range models {
		pp.ExpectedPnL += m.expSum
		pp.GrossExposure += perf[i].GrossExposure
		modelDays += perf[i].Days
		expDays += m.expDays
	}
	if mo.n == 0 {
		return pp
	}
	wins := 0
	for _, v := range x {
		if v > 0 {
			wins++
		}
	}
	pp.HitRate = Number(float64(wins) / float64(mo.n))
	if mo.n >= 2 {
		pp.VaR95 = Number(portfolio.VaR(x, 0.95) / cfg.Capital)
		pp.CVaR95 = Number(portfolio.CVaR(x, 0.95) / cfg.Capital)
	}
	ref := cfg.TargetSharpe / sqrtYear
	if e := pp.ExpectedPnL / float64(mo.n); 2*expDays >= modelDays && expDays > 0 && e > 0 && mo.sd > 0 {
		ref = e / mo.sd
	}
	pp.ExpectedSharpe = Number(ref * sqrtYear)
	pp.PSR = Number(portfolio.PSRFromMoments(mo.sharpe, ref, mo.skew, mo.kurt, mo.n))
	return pp
}

// highPriority ranks models by their share of the book's risk and P&L.
// A model's risk share is cov(model, book) / var(book) over the days any
// model traded, a model without P&L on a day counting 0: the Euler
// decomposition of the book's variance, so the shares sum to 1 and a
// hedge gets a negative share. It needs no covariance matrix, so it costs
// models x days, for every model, not just the allocated ones.
func highPriority(cfg *Config, models []*model, perf []ModelPerformance, x []float64, days []int) []HighPriority {
	out := []HighPriority{}
	if len(x) < 2 {
		return out
	}
	mean := 0.0
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	varBook := 0.0
	for _, v := range x {
		varBook += (v - mean) * (v - mean)
	}
	grossPnL := 0.0
	for i := range perf {
		grossPnL += math.Abs(perf[i].PnL)
	}
	var cand []HighPriority
	for i, m := range models {
		cov := 0.0
		for k, d := range days {
			if v := m.daily[d]; !math.IsNaN(v) {
				cov += v * (x[k] - mean)
			}
		}
		h := HighPriority{ModelKey: m.key, PnL: perf[i].PnL}
		if varBook > 0 {
			h.RiskShare = cov / varBook
		}
		if grossPnL > 0 {
			h.PnLShare = math.Abs(perf[i].PnL) / grossPnL
		}
		if h.RiskShare >= cfg.HighPriorityMinShare || h.PnLShare >= cfg.HighPriorityMinShare {
			cand = append(cand, h)
		}
	}
	share := func(h *HighPriority) float64 { return math.Max(h.RiskShare, h.PnLShare) }
	slices.SortFunc(cand, func(a, b HighPriority) int {
		if c := cmp.Compare(share(&b), share(&a)); c != 0 {
			return c
		}
		return compareKeys(a.ModelKey, b.ModelKey)
	})
	for i := range cand[:min(len(cand), cfg.HighPriorityMax)] {
		h := cand[i]
		h.Rank = i + 1
		h.Reason = fmt.Sprintf("carries %.1f%% of the book's risk and %.1f%% of its gross P&L (from %.0f%%)",
			100*h.RiskShare, 100*h.PnLShare, 100*cfg.HighPriorityMinShare)
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b HighPriority) int { return compareKeys(a.ModelKey, b.ModelKey) })
	return out
}
