package backtest

import (
	"context"
	"fmt"
	"io"
	"math"
	"sort"
	"text/tabwriter"
	"time"
)

// Sweep is a comparison repeated over seeds of the synthetic market: the
// figures the issue asks for are means over seeds, not one lucky path.
type Sweep struct {
	Seeds []uint64 `json:"seeds"`
	// Policies are each policy's metrics averaged over the seeds.
	Policies map[string]SweepMetrics `json:"policies"`
	Order    []string                `json:"order"`
	// GainShare, WastedReduction and PrioritySpearman summarise the
	// per-seed figures.
	GainShare        Summary `json:"gain_share"`
	WastedReduction  Summary `json:"wasted_reduction_vs_periodic"`
	PrioritySpearman Summary `json:"priority_spearman"`
	// PooledGainShare is the ratio of the mean gains, steadier than the
	// mean of the per-seed ratios when the oracle's gain is small.
	PooledGainShare *float64 `json:"pooled_gain_share"`
	// Runs holds every seed's result.
	Runs []*Result `json:"runs"`
	// Wall and DaysPerSecond are kept out of the JSON.
	Wall          time.Duration `json:"-"`
	DaysPerSecond float64       `json:"-"`
}

// SweepMetrics are a policy's metrics averaged over seeds.
type SweepMetrics struct {
	NetPnL      float64 `json:"net_pnl"`
	Sharpe      float64 `json:"sharpe"`
	MaxDrawdown float64 `json:"max_drawdown"`
	Runs        float64 `json:"runs"`
	Compute     float64 `json:"compute"`
	Wasted      float64 `json:"wasted_runs"`
}

// Summary is a figure over seeds: mean, a normal 95% interval of the
// mean, the median and how many seeds defined it.
type Summary struct {
	N      int        `json:"n"`
	Mean   float64    `json:"mean"`
	CI     [2]float64 `json:"ci"`
	Median float64    `json:"median"`
}

// RunSweep compares the policies of o on seeds first .. first+n-1 of the
// synthetic market.
func RunSweep(ctx context.Context, o Options, first uint64, n int) (*Sweep, error) {
	start := time.Now()
	sw := &Sweep{Policies: map[string]SweepMetrics{}, Order: o.Policies}
	var gain, wasted, rho []float64
	var gF, gO float64
	for i := range n {
		seed := first + uint64(i)
		mk, err := NewSynthetic(o.Scenario, seed)
		if err != nil {
			return nil, err
		}
		so := o
		so.Seed = seed
		so.Progress = nil
		if o.Progress != nil {
			so.Progress = func(done, total int) { o.Progress(i*total+done, n*total) }
		}
		res, err := Compare(ctx, mk, so)
		if err != nil {
			return nil, fmt.Errorf("seed %d: %w", seed, err)
		}
		sw.Seeds = append(sw.Seeds, seed)
		sw.Runs = append(sw.Runs, res)
		for name, m := range res.Policies {
			a := sw.Policies[name]
			a.NetPnL += m.NetPnL / float64(n)
			a.Sharpe += m.Sharpe / float64(n)
			a.MaxDrawdown += m.MaxDrawdown / float64(n)
			a.Runs += float64(m.Runs) / float64(n)
			a.Compute += m.Compute / float64(n)
			a.Wasted += float64(m.Wasted) / float64(n)
			sw.Policies[name] = a
		}
		f := res.Figures
		appendIf(&gain, f.GainShare)
		appendIf(&wasted, f.WastedReduction)
		appendIf(&rho, f.PrioritySpearman)
		never, fly, orc := res.Policies[PolicyNever], res.Policies[PolicyFlywheel], res.Policies[PolicyOracle]
		gF += fly.NetPnL - never.NetPnL
		gO += orc.NetPnL - never.NetPnL
	}
	sw.GainShare, sw.WastedReduction, sw.PrioritySpearman = summarise(gain), summarise(wasted), summarise(rho)
	if gO != 0 && len(gain) > 0 {
		sw.PooledGainShare = ptr(gF / gO)
	}
	sw.Wall = time.Since(start)
	days := 0
	for _, r := range sw.Runs {
		days += r.Days * len(r.Order)
	}
	sw.DaysPerSecond = float64(days) / sw.Wall.Seconds()
	return sw, nil
}

func appendIf(xs *[]float64, v *float64) {
	if v != nil && !math.IsNaN(*v) {
		*xs = append(*xs, *v)
	}
}

func summarise(xs []float64) Summary {
	s := Summary{N: len(xs)}
	if len(xs) == 0 {
		return s
	}
	s.Mean = mean(xs)
	var ss float64
	for _, x := range xs {
		ss += (x - s.Mean) * (x - s.Mean)
	}
	half := 0.0
	if len(xs) > 1 {
		half = 1.96 * math.Sqrt(ss/float64(len(xs)-1)/float64(len(xs)))
	}
	s.CI = [2]float64{s.Mean - half, s.Mean + half}
	sorted := append([]float64(nil), xs...)
	sort.Float64s(sorted)
	if m := len(sorted); m%2 == 1 {
		s.Median = sorted[m/2]
	} else {
		s.Median = (sorted[m/2-1] + sorted[m/2]) / 2
	}
	return s
}

// WriteSweepTable writes a sweep's averages and figures.
func WriteSweepTable(w io.Writer, sw *Sweep) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "policy (mean of %d seeds)\tnet P&L\tSharpe\tmax DD\truns\tcompute\twasted\t\n", len(sw.Seeds))
	for _, name := range sw.Order {
		m := sw.Policies[name]
		fmt.Fprintf(tw, "%s\t%.4f\t%.2f\t%.4f\t%.1f\t%.1f\t%.1f\t\n", name, m.NetPnL, m.Sharpe, m.MaxDrawdown, m.Runs, m.Compute, m.Wasted)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	line := func(name string, s Summary) {
		fmt.Fprintf(w, "%s: mean %.3f [%.3f, %.3f], median %.3f, over %d seeds\n", name, s.Mean, s.CI[0], s.CI[1], s.Median, s.N)
	}
	fmt.Fprintln(w)
	line("flywheel gain over never / oracle's gain", sw.GainShare)
	fmt.Fprintf(w, "  pooled (mean gains): %s\n", opt(sw.PooledGainShare, "%.3f"))
	line("wasted-run reduction vs periodic", sw.WastedReduction)
	line("priority-improvement Spearman (flywheel)", sw.PrioritySpearman)
	return nil
}
