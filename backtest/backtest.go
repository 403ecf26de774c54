package backtest

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/flywheel-ml/flywheel/arpo"
	"github.com/flywheel-ml/flywheel/cils"
	"github.com/flywheel-ml/flywheel/orchestrator"
)

// Options configure a comparison.
type Options struct {
	// Scenario holds the compute (cost, duration, price, budget, slots)
	// on any market, and the synthetic market itself.
	Scenario Scenario
	// Seed drives the synthetic market and the bootstrap.
	Seed uint64
	// Policies are the policies compared, in report order.
	Policies []string
	// The learners' and the orchestrator's configurations, as the daemon
	// would use them.
	CILS         cils.Config
	ARPO         arpo.Config
	Orchestrator orchestrator.Config
	// Resamples and Block are the block bootstrap's size and block length
	// in trading days.
	Resamples int
	Block     int
	// Progress, when set, hears of every replayed day (done of total); it
	// is called from one goroutine at a time.
	Progress func(done, total int)
}

// DefaultOptions returns every policy on the default scenario with the
// default learners and orchestrator, and a bootstrap of 1,000 resamples
// of 20-day blocks (about a month, longer than the volatility clusters'
// typical memory inside a regime).
func DefaultOptions() Options {
	return Options{
		Scenario: DefaultScenario(), Seed: 1, Policies: slices.Clone(AllPolicies),
		CILS: cils.DefaultConfig(), ARPO: arpo.DefaultConfig(), Orchestrator: orchestrator.DefaultConfig(),
		Resamples: 1000, Block: 20,
	}
}

// Result is a comparison's outcome. Its JSON holds no wall time: the same
// options give the same bytes.
type Result struct {
	Market string `json:"market"`
	Seed   uint64 `json:"seed"`
	Days   int    `json:"days"`
	From   string `json:"from"`
	To     string `json:"to"`
	Models int    `json:"models"`
	// Budget is the daily compute budget every policy had; Period the
	// periodic policy's N, chosen to spend what flywheel spent.
	Budget   float64   `json:"budget"`
	Period   int       `json:"period"`
	Scenario *Scenario `json:"scenario,omitempty"`
	// Policies holds each policy's metrics by name; Order their order.
	Policies map[string]Metrics `json:"policies"`
	Order    []string           `json:"order"`
	Figures  Figures            `json:"figures"`
	// Series are the daily paths the report draws.
	Series Series `json:"-"`
	// Wall is how long the comparison took; kept out of the JSON.
	Wall time.Duration `json:"-"`
}

// Figures are the comparison's headline numbers; null when a policy they
// need was not run or the ratio is undefined.
type Figures struct {
	// GainShare is flywheel's gain over never as a share of the
	// oracle's: (flywheel - never) / (oracle - never) in net P&L.
	GainShare *float64 `json:"gain_share"`
	// WastedReduction is 1 - flywheel's wasted runs / periodic's.
	WastedReduction *float64 `json:"wasted_reduction_vs_periodic"`
	// PrioritySpearman is flywheel's priority-improvement correlation.
	PrioritySpearman *float64 `json:"priority_spearman"`
}

// Series are the daily paths of every policy, for the charts.
type Series struct {
	Dates    []time.Time
	Regimes  []int
	Market   []float64
	CumPnL   map[string][]float64
	Compute  map[string][]float64 // cumulative units
	Priority map[string][]float64 // mean signal priority per day
	PrioMax  map[string][]float64
}

// Compare replays every policy of o on a market.
func Compare(ctx context.Context, mk Market, o Options) (*Result, error) {
	start := time.Now()
	if err := o.Scenario.Validate(); err != nil {
		return nil, err
	}
	if len(o.Policies) == 0 {
		return nil, fmt.Errorf("no policy to compare")
	}
	days := len(mk.Dates())
	res := &Result{
		Market: mk.Name(), Seed: o.Seed, Days: days, Models: len(mk.Models()), Budget: o.Scenario.Budget,
		From: mk.Dates()[0].Format(time.DateOnly), To: mk.Dates()[days-1].Format(time.DateOnly),
		Policies: map[string]Metrics{}, Order: o.Policies,
	}
	if syn, ok := mk.(*Synthetic); ok {
		res.Scenario = &syn.sc
	}
	prog := newProgress(o.Progress, days*len(o.Policies))
	recs := map[string]*recorder{}
	// flywheel goes first: periodic spends what it spent.
	first, rest := splitPolicies(o.Policies)
	res.Period = defaultPeriod(res.Models, days, o.Scenario)
	if first != "" {
		r, err := replayPolicy(ctx, mk, first, &o, res.Period, prog)
		if err != nil {
			return nil, err
		}
		recs[first] = r
		if r.runs > 0 {
			res.Period = max(1, int(math.Round(float64(res.Models*days)/float64(r.runs))))
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	sem := make(chan struct{}, 2)
	for _, name := range rest {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			r, err := replayPolicy(ctx, mk, name, &o, res.Period, prog)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			recs[name] = r
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	for i, name := range o.Policies {
		res.Policies[name] = recs[name].metrics(o.Scenario.UnitPrice, o.Seed+uint64(i), o.Resamples, o.Block)
	}
	res.Figures = figures(res.Policies)
	res.Series = series(mk, o, recs)
	res.Wall = time.Since(start)
	return res, nil
}

// splitPolicies puts flywheel first when it and periodic are compared.
func splitPolicies(names []string) (string, []string) {
	if !slices.Contains(names, PolicyFlywheel) {
		return "", names
	}
	var rest []string
	for _, n := range names {
		if n != PolicyFlywheel {
			rest = append(rest, n)
		}
	}
	return PolicyFlywheel, rest
}

// defaultPeriod is the periodic policy's N when flywheel is not run: the
// period that spends the daily budget.
func defaultPeriod(models, days int, sc Scenario) int {
	perDay := math.Floor(sc.Budget / sc.RetrainCost)
	if perDay <= 0 {
		return days
	}
	return max(1, int(math.Ceil(float64(models)/perDay)))
}

func replayPolicy(ctx context.Context, mk Market, name string, o *Options, period int, prog *progress) (*recorder, error) {
	pol, err := newPolicy(name, o, mk, period)
	if err != nil {
		return nil, err
	}
	r, err := newReplay(ctx, mk, pol, o)
	if err != nil {
		return nil, err
	}
	defer r.close()
	for t := range mk.Dates() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := r.day(t); err != nil {
			return nil, err
		}
		prog.tick()
	}
	if err := r.close(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &r.rec, nil
}

// progress serialises the progress callback.
type progress struct {
	mu          sync.Mutex
	fn          func(int, int)
	done, total int
}

func newProgress(fn func(int, int), total int) *progress {
	return &progress{fn: fn, total: total}
}

func (p *progress) tick() {
	if p.fn == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	p.fn(p.done, p.total)
}

func figures(ps map[string]Metrics) Figures {
	var f Figures
	fly, okF := ps[PolicyFlywheel]
	never, okN := ps[PolicyNever]
	orc, okO := ps[PolicyOracle]
	if okF && okN && okO && orc.NetPnL != never.NetPnL {
		f.GainShare = ptr((fly.NetPnL - never.NetPnL) / (orc.NetPnL - never.NetPnL))
	}
	if per, ok := ps[PolicyPeriodic]; okF && ok && per.Wasted > 0 {
		f.WastedReduction = ptr(1 - float64(fly.Wasted)/float64(per.Wasted))
	}
	if okF {
		f.PrioritySpearman = fly.PrioritySpearman
	}
	return f
}

func series(mk Market, o Options, recs map[string]*recorder) Series {
	s := Series{Dates: mk.Dates(), CumPnL: map[string][]float64{}, Compute: map[string][]float64{},
		Priority: map[string][]float64{}, PrioMax: map[string][]float64{}}
	for t := range s.Dates {
		s.Regimes = append(s.Regimes, mk.Regime(t))
		s.Market = append(s.Market, mk.MarketReturn(t))
	}
	for name, r := range recs {
		var cp, cc float64
		for t := range r.pnl {
			cp += r.pnl[t] - r.compute[t]*o.Scenario.UnitPrice
			cc += r.compute[t]
			s.CumPnL[name] = append(s.CumPnL[name], cp)
			s.Compute[name] = append(s.Compute[name], cc)
		}
		s.Priority[name], s.PrioMax[name] = r.prioMean, r.prioMax
	}
	return s
}
