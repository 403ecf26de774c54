package regime

import (
	"math"
	"sort"
)

// Model is a fitted Gaussian hidden Markov model. Its states are ordered by
// variance, lowest first, so state k is Regime(k).
type Model struct {
	// Start is the initial state distribution.
	Start []float64
	// Trans[i][j] is the probability of moving from state i to state j.
	Trans [][]float64
	// Means and Variances are the per-period return distribution of each
	// state.
	Means     []float64
	Variances []float64
	// LogLikelihood is the log-likelihood of the fitted returns.
	LogLikelihood float64
	// Iterations is the number of Baum-Welch re-estimations of the chosen
	// start.
	Iterations int
	// Converged reports whether the log-likelihood settled within Tol
	// before MaxIter.
	Converged bool
	// Occupancy is each state's share of the fitted periods by posterior
	// probability.
	Occupancy []float64
	// Floor is the variance floor the fit used, in return units squared.
	Floor float64
}

// States returns the number of states.
func (m *Model) States() int { return len(m.Means) }

// Names returns the regime names of the model's states, in state order.
func (m *Model) Names() []string { return Names(m.States()) }

// minPerState is the fewest returns per state Fit accepts: below that the
// per-state variance estimates are noise.
const minPerState = 10

// Fit fits a Gaussian HMM with 2 or 3 states to returns by Baum-Welch
// (expectation-maximisation with the scaled forward-backward recursions),
// from several deterministic starts, and keeps the converged run with the
// highest likelihood. EM only finds a local maximum, and which one depends
// on the start; trying starts built from different volatility horizons
// makes the answer both better and reproducible.
//
// A model that did not converge is still returned, with Converged false;
// Detect treats it as a poor fit. Errors are for invalid input only.
func Fit(returns []float64, states int, opts Options) (*Model, error) {
	if states < 2 || states > 3 {
		return nil, invalidf("%d states, want 2 or 3", states)
	}
	if len(returns) < minPerState*states {
		return nil, invalidf("%d returns for %d states, want at least %d", len(returns), states, minPerState*states)
	}
	mean, variance := 0.0, 0.0
	for i, r := range returns {
		if math.IsNaN(r) || math.IsInf(r, 0) {
			return nil, invalidf("return %d is %v", i, r)
		}
		mean += r
	}
	mean /= float64(len(returns))
	for _, r := range returns {
		variance += (r - mean) * (r - mean)
	}
	variance /= float64(len(returns))
	if variance == 0 {
		return nil, invalidf("returns have no variance")
	}
	floor := opts.varianceFloor() * variance
	best := fitStarts(returns, starts(returns, states, floor), floor, opts)
	best.sortByVariance()
	return best, nil
}

// Screening: every start runs screenIters iterations, and only the
// finalists with the highest likelihood run to convergence (the "short
// runs" strategy of Biernacki, Celeux and Govaert, Computational Statistics
// & Data Analysis 41, 2003). Starts that are still behind after a few
// iterations rarely overtake, and full runs of every start would triple
// the cost of a fit.
const (
	screenIters = 10
	finalists   = 2
)

func fitStarts(returns []float64, inits []*Model, floor float64, opts Options) *Model {
	screened := make([]*Model, len(inits))
	for i, init := range inits {
		screened[i] = baumWelch(returns, init, floor, min(screenIters, opts.maxIter()), opts.tol())
	}
	// Rank by likelihood alone: a start that stalled on a plateau within
	// the screening iterations counts as converged but is not better.
	sort.SliceStable(screened, func(a, b int) bool { return rankLL(screened[a]) > rankLL(screened[b]) })
	var best *Model
	for _, m := range screened[:min(finalists, len(screened))] {
		if !m.Converged && m.Iterations < opts.maxIter() {
			done := m.Iterations
			m = baumWelch(returns, m, floor, opts.maxIter()-done, opts.tol())
			m.Iterations += done
		}
		if best == nil || better(m, best) {
			best = m
		}
	}
	return best
}

// rankLL is the model's log-likelihood with NaN (a failed run) ranked last.
func rankLL(m *Model) float64 {
	if math.IsNaN(m.LogLikelihood) {
		return math.Inf(-1)
	}
	return m.LogLikelihood
}

// better prefers a converged fit, then the higher likelihood; ties keep
// the earlier start, so the choice is deterministic.
func better(m, than *Model) bool {
	if m.Converged != than.Converged {
		return m.Converged
	}
	return rankLL(m) > rankLL(than)
}

// starts builds the initial models: for each volatility horizon (the
// absolute return, and trailing root-mean-square returns over a week, a
// month and a quarter), the periods are split into equal-count bands by
// quantile of that volatility, each band giving a state's mean and
// variance; each is tried with a moderately and a strongly persistent
// transition matrix, since regimes last weeks to months.
func starts(returns []float64, states int, floor float64) []*Model {
	var out []*Model
	for _, window := range []int{1, 5, 21, 63} {
		vol := rollingRMS(returns, window)
		order := make([]int, len(vol))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool { return vol[order[a]] < vol[order[b]] })
		means := make([]float64, states)
		vars := make([]float64, states)
		for k := 0; k < states; k++ {
			band := order[k*len(order)/states : (k+1)*len(order)/states]
			for _, t := range band {
				means[k] += returns[t]
			}
			means[k] /= float64(len(band))
			for _, t := range band {
				vars[k] += (returns[t] - means[k]) * (returns[t] - means[k])
			}
			vars[k] = math.Max(vars[k]/float64(len(band)), floor)
		}
		for _, stay := range []float64{0.9, 0.98} {
			m := &Model{
				Start:     make([]float64, states),
				Trans:     make([][]float64, states),
				Means:     append([]float64(nil), means...),
				Variances: append([]float64(nil), vars...),
			}
			for i := range m.Trans {
				m.Start[i] = 1 / float64(states)
				m.Trans[i] = make([]float64, states)
				for j := range m.Trans[i] {
					m.Trans[i][j] = (1 - stay) / float64(states-1)
				}
				m.Trans[i][i] = stay
			}
			out = append(out, m)
		}
	}
	return out
}

// rollingRMS is the root mean square of the trailing window of returns
// ending at each period (shorter at the start). For daily returns the mean
// is negligible next to the volatility, and unlike the standard deviation
// the RMS is defined from the first period on.
func rollingRMS(returns []float64, window int) []float64 {
	out := make([]float64, len(returns))
	sum := 0.0
	for t, r := range returns {
		sum += r * r
		if t >= window {
			sum -= returns[t-window] * returns[t-window]
		}
		n := min(t+1, window)
		out[t] = math.Sqrt(math.Max(sum, 0) / float64(n))
	}
	return out
}

// baumWelch runs EM from start until the log-likelihood changes by less
// than tol or maxIter re-estimations are done. The returned model's
// likelihood and occupancy are always those of its own parameters.
func baumWelch(returns []float64, start *Model, floor float64, maxIter int, tol float64) *Model {
	m := start
	w := newWork(len(returns), m.States())
	prev := math.Inf(-1)
	for it := 0; ; it++ {
		ll := w.forwardBackward(m, returns)
		m.LogLikelihood, m.Iterations = ll, it
		if math.IsNaN(ll) {
			break
		}
		if math.Abs(ll-prev) < tol {
			m.Converged = true
			break
		}
		if it == maxIter {
			break
		}
		prev = ll
		m = w.reestimate(m, returns, floor)
	}
	m.Occupancy = w.occupancy()
	m.Floor = floor
	return m
}

// sortByVariance relabels the states in increasing order of variance so
// that state k is Regime(k).
func (m *Model) sortByVariance() {
	k := m.States()
	idx := make([]int, k)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return m.Variances[idx[a]] < m.Variances[idx[b]] })
	pick := func(x []float64) []float64 {
		out := make([]float64, k)
		for i, j := range idx {
			out[i] = x[j]
		}
		return out
	}
	trans := make([][]float64, k)
	for i, from := range idx {
		trans[i] = make([]float64, k)
		for j, to := range idx {
			trans[i][j] = m.Trans[from][to]
		}
	}
	m.Start, m.Means, m.Variances, m.Trans = pick(m.Start), pick(m.Means), pick(m.Variances), trans
	if m.Occupancy != nil {
		m.Occupancy = pick(m.Occupancy)
	}
}
