package regime

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"
)

// Detection is the regime of every period of a return series.
type Detection struct {
	Dates []time.Time
	// Regimes is the most probable regime of each period under Probs.
	Regimes []Regime
	// Probs[t][k] is the smoothed probability of regime k in period t
	// (see Model.Posterior); under the fallback it is 1 for the assigned
	// regime and 0 for the others.
	Probs [][]float64
	// Filtered[t][k] is the probability of regime k in period t given
	// only the returns up to t (see Model.Filtered), though with parameters
	// fitted on the whole series. Under the fallback it equals Probs.
	Filtered [][]float64
	// Names are the regime names, in state order.
	Names []string
	// Fallback reports that the HMM fit was poor and the regimes come from
	// rolling volatility against its quantiles; Reason says why.
	Fallback bool
	Reason   string
	// Model is the fitted HMM; nil when no fit was possible.
	Model *Model
}

// Current returns the regime of the last period and its probabilities,
// which use no future data whichever of Probs and Filtered they come from.
func (d *Detection) Current() (Regime, []float64) {
	n := len(d.Regimes)
	return d.Regimes[n-1], d.Probs[n-1]
}

// Detect labels each period of returns (one per date) with a regime. It
// fits a states-state Gaussian HMM; when the fit is poor (Baum-Welch did
// not converge, a state's variance sits at the floor, or a state holds
// less than MinOccupancy of the periods) or impossible (too few returns,
// no variance), it falls back to rolling volatility against its quantiles
// and reports Fallback with the reason. Errors are for invalid input only.
func Detect(dates []time.Time, returns []float64, states int, opts Options) (*Detection, error) {
	if states < 2 || states > 3 {
		return nil, invalidf("%d states, want 2 or 3", states)
	}
	if len(dates) != len(returns) {
		return nil, invalidf("%d dates for %d returns", len(dates), len(returns))
	}
	if len(returns) == 0 {
		return nil, invalidf("no returns")
	}
	for i, r := range returns {
		if math.IsNaN(r) || math.IsInf(r, 0) {
			return nil, invalidf("return %d is %v", i, r)
		}
	}
	if q := opts.fallbackQuantiles(states); len(q) != states-1 {
		return nil, invalidf("%d fallback quantiles for %d states, want %d", len(q), states, states-1)
	}
	d := &Detection{Dates: dates, Names: Names(states)}
	m, err := Fit(returns, states, opts)
	if err != nil {
		if !errors.Is(err, ErrInvalid) {
			return nil, err
		}
		// Too short or constant: input the HMM cannot use, but the
		// fallback can.
		d.fallback(returns, states, opts, fmt.Sprintf("no fit: %v", err))
		return d, nil
	}
	d.Model = m
	if reason := m.poorFit(opts); reason != "" {
		d.fallback(returns, states, opts, reason)
		return d, nil
	}
	d.Probs = m.Posterior(returns)
	d.Filtered = m.Filtered(returns)
	if d.Probs == nil || d.Filtered == nil {
		d.fallback(returns, states, opts, "a return is impossible under the fitted model")
		return d, nil
	}
	d.Regimes = make([]Regime, len(returns))
	for t, p := range d.Probs {
		d.Regimes[t] = Regime(argmax(p))
	}
	return d, nil
}

// poorFit returns why the model should not be trusted, or "".
func (m *Model) poorFit(opts Options) string {
	if !m.Converged {
		return fmt.Sprintf("Baum-Welch did not converge in %d iterations", m.Iterations)
	}
	for s := range m.Means {
		name := Regime(s).String()
		if m.Variances[s] <= m.Floor*(1+1e-9) {
			return fmt.Sprintf("degenerate %s state: variance at the floor", name)
		}
		if occ := m.Occupancy[s]; occ < opts.minOccupancy() {
			return fmt.Sprintf("%s state holds %.2g%% of periods, below %.2g%%", name, 100*occ, 100*opts.minOccupancy())
		}
	}
	return ""
}

func argmax(p []float64) int {
	best := 0
	for i, v := range p {
		if v > p[best] {
			best = i
		}
	}
	return best
}

// fallback assigns each period the regime whose band of rolling volatility
// (trailing RMS over Window periods) it falls in, the bands cut at the
// given quantiles of that volatility over the whole series. The volatility
// looks back only, so there is nothing to smooth and Probs and Filtered
// coincide; the cut points, like an HMM's parameters, use the whole series.
func (d *Detection) fallback(returns []float64, states int, opts Options, reason string) {
	d.Fallback, d.Reason = true, reason
	vol := rollingRMS(returns, opts.window())
	sorted := append([]float64(nil), vol...)
	sort.Float64s(sorted)
	var cuts []float64
	for _, q := range opts.fallbackQuantiles(states) {
		cuts = append(cuts, quantile(sorted, q))
	}
	d.Regimes = make([]Regime, len(returns))
	d.Probs = make([][]float64, len(returns))
	for t, v := range vol {
		k := 0
		for k < len(cuts) && v > cuts[k] {
			k++
		}
		d.Regimes[t] = Regime(k)
		d.Probs[t] = make([]float64, states)
		d.Probs[t][k] = 1
	}
	d.Filtered = d.Probs
}

// quantile is the linearly interpolated (type 7) quantile of sorted x.
func quantile(x []float64, p float64) float64 {
	p = math.Min(math.Max(p, 0), 1)
	h := p * float64(len(x)-1)
	lo := int(math.Floor(h))
	if lo >= len(x)-1 {
		return x[len(x)-1]
	}
	return x[lo] + (h-float64(lo))*(x[lo+1]-x[lo])
}
