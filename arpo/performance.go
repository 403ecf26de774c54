package arpo

import (
	"fmt"
	"math"

	"github.com/flywheel-ml/flywheel/portfolio"
)

// periodsPerYear annualises daily statistics.
const periodsPerYear = portfolio.TradingDays

var sqrtYear = math.Sqrt(periodsPerYear)

// Benchmark sources of ModelPerformance.SharpeBenchmark.
const (
	BenchmarkExpectedPnL  = "expected_pnl"
	BenchmarkTargetSharpe = "target_sharpe"
)

// moments are the sample statistics of one series: the sample standard
// deviation (ddof 1) for the Sharpe ratio, and the skewness and non-excess
// kurtosis from the biased central moments, as the PSR uses them.
type moments struct {
	n             int
	sum, mean, sd float64
	skew, kurt    float64
	sharpe        float64 // per period, NaN without variation
}

func momentsOf(x []float64) moments {
	m := moments{n: len(x), mean: math.NaN(), sd: math.NaN(), skew: math.NaN(), kurt: math.NaN(), sharpe: math.NaN()}
	if m.n == 0 {
		return m
	}
	for _, v := range x {
		m.sum += v
	}
	m.mean = m.sum / float64(m.n)
	if m.n < 2 {
		return m
	}
	var m2, m3, m4 float64
	for _, v := range x {
		d := v - m.mean
		d2 := d * d
		m2 += d2
		m3 += d2 * d
		m4 += d2 * d2
	}
	n := float64(m.n)
	m.sd = math.Sqrt(m2 / (n - 1))
	if m2 > 0 {
		m.skew = (m3 / n) / math.Pow(m2/n, 1.5)
		m.kurt = (m4 / n) / ((m2 / n) * (m2 / n))
		m.sharpe = m.mean / m.sd
	}
	return m
}

// drawdown returns the largest fall of the cumulative sum of x from its
// running peak, the start (zero) counting as a peak. P&L is money made on
// a fixed capital, not a reinvested return, so it is summed, not
// compounded as portfolio.MaxDrawdown does with returns.
func drawdown(x []float64) float64 {
	cum, peak, worst := 0.0, 0.0, 0.0
	for _, v := range x {
		if math.IsNaN(v) {
			continue
		}
		cum += v
		peak = math.Max(peak, cum)
		worst = math.Max(worst, peak-cum)
	}
	return worst
}

// benchmark returns the per-day Sharpe ratio the model is held to. A model
// that reports a positive expected P&L on at least half of its days is
// held to its own expectation: the mean expected daily P&L over the
// realised daily standard deviation, the Sharpe ratio it would have if it
// earned what it predicted with the risk it actually ran. Otherwise (no
// expectation, or a non-positive one, which no model is deployed for) it
// is held to target_sharpe.
func benchmark(cfg *Config, m *model, mo moments) (float64, string) {
	if m.expDays > 0 && 2*m.expDays >= mo.n && mo.sd > 0 {
		if e := m.expSum / float64(m.expDays); e > 0 {
			return e / mo.sd, BenchmarkExpectedPnL
		}
	}
	return cfg.TargetSharpe / sqrtYear, BenchmarkTargetSharpe
}

// performance computes m's live record from its aggregated series.
func performance(cfg *Config, m *model, sc *scratch, w *windows) ModelPerformance {
	x := finiteValues(sc.vals, m.daily)
	sc.vals = x
	mo := momentsOf(x)
	ref, src := benchmark(cfg, m, mo)
	m.refDaily = ref
	p := ModelPerformance{
		ModelKey:        m.key,
		WindowStart:     dayStart(w.first + int64(w.perfFrom)),
		Observations:    m.perfObs,
		Days:            mo.n,
		PnL:             mo.sum,
		ExpectedPnL:     m.expSum,
		ExpectedDays:    m.expDays,
		MeanDailyPnL:    Number(mo.mean),
		StdDailyPnL:     Number(mo.sd),
		Sharpe:          Number(mo.sharpe * sqrtYear),
		ExpectedSharpe:  Number(ref * sqrtYear),
		SharpeBenchmark: src,
		PSR:             Number(portfolio.PSRFromMoments(mo.sharpe, ref, mo.skew, mo.kurt, mo.n)),
		Skewness:        Number(mo.skew),
		Kurtosis:        Number(mo.kurt),
		HitRate:         Number(math.NaN()),
		MaxDrawdown:     drawdown(x) / cfg.Capital,
		VaR95:           Number(math.NaN()),
		CVaR95:          Number(math.NaN()),
		GrossExposure:   m.exposure / cfg.Capital,
	}
	if m.dep != nil {
		at := m.dep.DeployedAt.UTC()
		p.ModelVersion, p.DeployedAt = m.dep.ModelVersion, &at
		if start := dayStart(dayOf(at)); start.After(p.WindowStart) {
			p.WindowStart = start
		}
	}
	if m.perfObs > 0 {
		p.HitRate = Number(float64(m.hits) / float64(m.perfObs))
	}
	if mo.n >= 2 {
		p.VaR95 = Number(portfolio.VaR(x, 0.95) / cfg.Capital)
		p.CVaR95 = Number(portfolio.CVaR(x, 0.95) / cfg.Capital)
	}
	for _, v := range x {
		m.gross += math.Abs(v)
	}
	return p
}

// underperformance reports m when its PSR is below the level over enough
// days.
func underperformance(cfg *Config, p *ModelPerformance) (Underperformance, bool) {
	if p.Days < cfg.MinObservations || !p.PSR.Defined() || float64(p.PSR) >= cfg.PSRLevel {
		return Underperformance{}, false
	}
	return Underperformance{
		ModelKey:       p.ModelKey,
		PSR:            float64(p.PSR),
		PSRLevel:       cfg.PSRLevel,
		Sharpe:         float64(p.Sharpe),
		ExpectedSharpe: float64(p.ExpectedSharpe),
		Days:           p.Days,
		PnL:            p.PnL,
		ExpectedPnL:    p.ExpectedPnL,
		Reason: fmt.Sprintf("live Sharpe %.2f vs expected %.2f (%s) over %d days: PSR %.3f < %g; P&L %.4g vs expected %.4g",
			float64(p.Sharpe), float64(p.ExpectedSharpe), p.SharpeBenchmark, p.Days, float64(p.PSR), cfg.PSRLevel, p.PnL, p.ExpectedPnL),
	}, true
}
