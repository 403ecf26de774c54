package backtest

import (
	"math"
	"math/rand/v2"
	"sort"

	"github.com/flywheel-ml/flywheel/orchestrator"
)

// tradingDays annualises daily Sharpe ratios.
const tradingDays = 252

// recorder collects what a replay did, day by day and retrain by retrain.
type recorder struct {
	pnl       []float64 // gross P&L per day
	compute   []float64 // compute units started per day
	prioMean  []float64 // mean priority of the day's signals
	prioMax   []float64
	runs      int
	wasted    int
	sigRuns   int // runs a signal asked for
	sigGood   int // of those, runs that improved the model
	priority  []float64
	improve   []float64
	latencies []float64 // hours from a signal's first raise to its job
	config    *ConfigChanges
}

func (c *recorder) init(days, _ int) {
	c.pnl = make([]float64, days)
	c.compute = make([]float64, days)
	c.prioMean = make([]float64, days)
	c.prioMax = make([]float64, days)
}

// plan records a decision's priorities and latencies.
func (c *recorder) plan(t int, p *orchestrator.Plan) {
	if p == nil {
		return
	}
	var sum float64
	for _, s := range p.Signals {
		sum += s.Priority
		c.prioMax[t] = math.Max(c.prioMax[t], s.Priority)
	}
	if len(p.Signals) > 0 {
		c.prioMean[t] = sum / float64(len(p.Signals))
	}
	for _, cd := range p.Candidates {
		if cd.Admitted {
			c.latencies = append(c.latencies, p.DecidedAt.Sub(cd.FirstRaised).Hours())
		}
	}
}

// improvement is what a retrain did to its model: on the synthetic
// market the change of the model's true daily Sharpe ratio on the day the
// new version starts trading (its quality, not that day's volatility);
// on a real market the change of the validation score.
func improvement(r *replay, p pending, t int) float64 {
	if !r.mk.Truth() {
		return p.version.Score - r.score[p.model]
	}
	d := min(t+1, len(r.mk.Dates())-1)
	next := p.version
	next.Trained = t + 1
	return r.mk.Sharpe(p.model, &next, d) - r.mk.Sharpe(p.model, &r.live[p.model], d)
}

// retrain records a finished retrain; a retrain that did not improve its
// model is wasted.
func (c *recorder) retrain(r *replay, p pending, t int, signalPriority float64) {
	imp := improvement(r, p, t)
	c.runs++
	if imp <= 0 {
		c.wasted++
	}
	if p.job.SignalID == "" {
		return
	}
	c.sigRuns++
	if imp > 0 {
		c.sigGood++
	}
	c.priority = append(c.priority, signalPriority)
	c.improve = append(c.improve, imp)
}

// Metrics are one policy's results.
type Metrics struct {
	// NetPnL is the live P&L net of the compute's price, with its 95%
	// block-bootstrap interval; GrossPnL before the compute.
	NetPnL   float64    `json:"net_pnl"`
	NetPnLCI [2]float64 `json:"net_pnl_ci"`
	GrossPnL float64    `json:"gross_pnl"`
	// Sharpe is the annualised Sharpe ratio of the daily net P&L.
	Sharpe   float64    `json:"sharpe"`
	SharpeCI [2]float64 `json:"sharpe_ci"`
	// MaxDrawdown is the largest fall of the cumulative net P&L.
	MaxDrawdown float64 `json:"max_drawdown"`
	// Runs are the retrains finished; Compute the units spent.
	Runs    int     `json:"runs"`
	Compute float64 `json:"compute"`
	// Wasted are the runs that did not improve their model.
	Wasted      int      `json:"wasted_runs"`
	WastedShare *float64 `json:"wasted_share"`
	// SignalAccuracy is the share of signal-driven runs that improved
	// their model; PrioritySpearman the rank correlation of their
	// signals' priority with the realised improvement. Null for policies
	// without signals or with too few runs.
	SignalAccuracy   *float64 `json:"signal_accuracy"`
	PrioritySpearman *float64 `json:"priority_spearman"`
	// DecisionLatencyHours is the mean simulated time from a signal's
	// first raise to its job's admission.
	DecisionLatencyHours *float64 `json:"decision_latency_hours"`
	// ConfigChanges count the config updates the policy's jobs carried
	// and what the config propagator made of them; absent for policies
	// whose jobs carry none.
	ConfigChanges *ConfigChanges `json:"config_changes,omitempty"`
}

// metrics computes a replay's metrics; the bootstrap draws from seed.
func (c *recorder) metrics(unitPrice float64, seed uint64, resamples, block int) Metrics {
	net := make([]float64, len(c.pnl))
	var m Metrics
	for t := range net {
		net[t] = c.pnl[t] - c.compute[t]*unitPrice
		m.GrossPnL += c.pnl[t]
		m.Compute += c.compute[t]
		m.NetPnL += net[t]
	}
	m.Sharpe = sharpe(net)
	m.MaxDrawdown = maxDrawdown(net)
	m.Runs, m.Wasted = c.runs, c.wasted
	if c.runs > 0 {
		m.WastedShare = ptr(float64(c.wasted) / float64(c.runs))
	}
	if c.sigRuns > 0 {
		m.SignalAccuracy = ptr(float64(c.sigGood) / float64(c.sigRuns))
	}
	if rho, ok := orchestrator.Spearman(c.priority, c.improve); ok {
		m.PrioritySpearman = ptr(rho)
	}
	if len(c.latencies) > 0 {
		m.DecisionLatencyHours = ptr(mean(c.latencies))
	}
	m.NetPnLCI, m.SharpeCI = bootstrap(net, seed, resamples, block)
	m.ConfigChanges = c.config
	return m
}

func ptr(v float64) *float64 { return &v }

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// sharpe is the annualised Sharpe ratio of daily P&L; 0 when flat.
func sharpe(xs []float64) float64 {
	if len(xs) < 2 {
		return 0
	}
	mu := mean(xs)
	var ss float64
	for _, x := range xs {
		ss += (x - mu) * (x - mu)
	}
	sd := math.Sqrt(ss / float64(len(xs)-1))
	if sd == 0 {
		return 0
	}
	return mu / sd * math.Sqrt(tradingDays)
}

func maxDrawdown(xs []float64) float64 {
	var cum, peak, dd float64
	for _, x := range xs {
		cum += x
		peak = math.Max(peak, cum)
		dd = math.Max(dd, peak-cum)
	}
	return dd
}

// bootstrap returns 95% intervals of the total and of the Sharpe ratio
// by a moving-block bootstrap over time: blocks keep the volatility
// clustering and autocorrelation that resampling single days would break.
func bootstrap(xs []float64, seed uint64, resamples, block int) (total, sr [2]float64) {
	n := len(xs)
	if n == 0 || resamples < 2 {
		return
	}
	block = max(1, min(block, n))
	rng := rand.New(rand.NewPCG(seed, 0xb007))
	totals := make([]float64, resamples)
	srs := make([]float64, resamples)
	buf := make([]float64, 0, n+block)
	for b := range resamples {
		buf = buf[:0]
		for len(buf) < n {
			s := rng.IntN(n - block + 1)
			buf = append(buf, xs[s:s+block]...)
		}
		buf = buf[:n]
		var sum float64
		for _, x := range buf {
			sum += x
		}
		totals[b], srs[b] = sum, sharpe(buf)
	}
	return interval(totals), interval(srs)
}

// interval is the 2.5% and 97.5% quantiles.
func interval(xs []float64) [2]float64 {
	sort.Float64s(xs)
	q := func(p float64) float64 { return xs[int(math.Round(p*float64(len(xs)-1)))] }
	return [2]float64{q(0.025), q(0.975)}
}
