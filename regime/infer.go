package regime

import "math"

// work holds the forward-backward quantities of one series, reused across
// Baum-Welch iterations. Matrices are flat, row t at [t*k : (t+1)*k].
type work struct {
	n, k   int
	emit   []float64 // emission densities scaled so each row's largest is 1
	offset []float64 // log of each row's scale factor
	alpha  []float64 // filtered probabilities P(state_t | r_1..r_t)
	beta   []float64 // scaled backward variables
	gamma  []float64 // smoothed probabilities P(state_t | r_1..r_n)
	scale  []float64 // c_t = P(r_t | r_1..r_t-1) / exp(offset_t)
	xi     []float64 // sum over t of P(state_t = i, state_t+1 = j | r), k x k
}

func newWork(n, k int) *work {
	return &work{
		n: n, k: k,
		emit: make([]float64, n*k), offset: make([]float64, n),
		alpha: make([]float64, n*k), beta: make([]float64, n*k),
		gamma: make([]float64, n*k), scale: make([]float64, n),
		xi: make([]float64, k*k),
	}
}

func logNormal(x, mean, variance float64) float64 {
	d := x - mean
	return -0.5 * (math.Log(2*math.Pi*variance) + d*d/variance)
}

// emissions fills the emission densities. Dividing each period's densities
// by their largest keeps a 10-sigma day from underflowing every state to
// zero; the factor goes back into the likelihood through offset. The
// per-state constants are hoisted because this loop is most of the cost of
// a Baum-Welch iteration.
func (w *work) emissions(m *Model, returns []float64) {
	k := w.k
	var norm, half [3]float64
	for s := 0; s < k; s++ {
		norm[s] = -0.5 * math.Log(2*math.Pi*m.Variances[s])
		half[s] = 0.5 / m.Variances[s]
	}
	for t, r := range returns {
		row := w.emit[t*k : (t+1)*k]
		top := math.Inf(-1)
		for s := range row {
			d := r - m.Means[s]
			row[s] = norm[s] - half[s]*d*d
			top = math.Max(top, row[s])
		}
		for s := range row {
			if row[s] == top {
				row[s] = 1 // skips an exp: a third of the fit's time
			} else {
				row[s] = math.Exp(row[s] - top)
			}
		}
		w.offset[t] = top
	}
}

// forward runs the scaled forward recursion (Rabiner 1989, section V.A):
// normalising alpha at each step keeps it in range for any length, and the
// normalisers multiply up to the likelihood. It returns the log-likelihood,
// or NaN if some period is impossible under the model.
func (w *work) forward(m *Model, returns []float64) float64 {
	w.emissions(m, returns)
	k := w.k
	// The product of the normalisers is kept as mantissa and binary
	// exponent instead of summing their logs: a log per period cost as
	// much as the rest of the recursion.
	mant, exp2, offsets := 1.0, 0, 0.0
	for t := 0; t < w.n; t++ {
		a := w.alpha[t*k : (t+1)*k]
		b := w.emit[t*k : (t+1)*k]
		c := 0.0
		if t == 0 {
			copy(a, m.Start)
		} else {
			// a = prev' Trans, row by row for memory order.
			prev := w.alpha[(t-1)*k : t*k]
			clear(a)
			for i, row := range m.Trans {
				for j, p := range row {
					a[j] += prev[i] * p
				}
			}
		}
		for j := range a {
			a[j] *= b[j]
			c += a[j]
		}
		if !(c > 0) {
			return math.NaN()
		}
		for j := range a {
			a[j] /= c
		}
		w.scale[t] = c
		var e int
		mant, e = math.Frexp(mant * c)
		exp2 += e
		offsets += w.offset[t]
	}
	return math.Log(mant) + float64(exp2)*math.Ln2 + offsets
}

// forwardBackward runs the forward and backward recursions, fills gamma
// and the transition counts xi, and returns the log-likelihood.
func (w *work) forwardBackward(m *Model, returns []float64) float64 {
	ll := w.forward(m, returns)
	if math.IsNaN(ll) {
		return ll
	}
	k, n := w.k, w.n
	for s := range w.xi {
		w.xi[s] = 0
	}
	last := w.beta[(n-1)*k : n*k]
	for s := range last {
		last[s] = 1
	}
	var v [3]float64
	for t := n - 2; t >= 0; t-- {
		bt := w.beta[t*k : (t+1)*k]
		next := w.beta[(t+1)*k : (t+2)*k]
		emit := w.emit[(t+1)*k : (t+2)*k]
		at := w.alpha[t*k : (t+1)*k]
		c := w.scale[t+1]
		for j := range next {
			v[j] = emit[j] * next[j] / c
		}
		for i, row := range m.Trans {
			sum := 0.0
			for j, a := range row {
				f := a * v[j]
				sum += f
				w.xi[i*k+j] += at[i] * f
			}
			bt[i] = sum
		}
	}
	for t := 0; t < n; t++ {
		g := w.gamma[t*k : (t+1)*k]
		sum := 0.0
		for s := range g {
			g[s] = w.alpha[t*k+s] * w.beta[t*k+s]
			sum += g[s]
		}
		for s := range g {
			g[s] /= sum
		}
	}
	return ll
}

// reestimate is Baum-Welch's M-step: the parameters that maximise the
// expected complete-data likelihood under the current posteriors. A state
// with no posterior mass keeps its parameters rather than dividing by zero;
// Detect then rejects the fit for its occupancy.
func (w *work) reestimate(m *Model, returns []float64, floor float64) *Model {
	k := w.k
	next := &Model{
		Start:     append([]float64(nil), w.gamma[:k]...),
		Trans:     make([][]float64, k),
		Means:     append([]float64(nil), m.Means...),
		Variances: append([]float64(nil), m.Variances...),
	}
	for i := 0; i < k; i++ {
		next.Trans[i] = append([]float64(nil), m.Trans[i]...)
		row := 0.0
		for j := 0; j < k; j++ {
			row += w.xi[i*k+j]
		}
		if row > 0 {
			for j := 0; j < k; j++ {
				next.Trans[i][j] = w.xi[i*k+j] / row
			}
		}
	}
	for s := 0; s < k; s++ {
		mass, sum := 0.0, 0.0
		for t, r := range returns {
			g := w.gamma[t*k+s]
			mass += g
			sum += g * r
		}
		if !(mass > 1e-300) {
			continue
		}
		mean := sum / mass
		ss := 0.0
		for t, r := range returns {
			d := r - mean
			ss += w.gamma[t*k+s] * d * d
		}
		next.Means[s] = mean
		next.Variances[s] = math.Max(ss/mass, floor)
	}
	return next
}

func (w *work) occupancy() []float64 {
	occ := make([]float64, w.k)
	for t := 0; t < w.n; t++ {
		for s := range occ {
			occ[s] += w.gamma[t*w.k+s]
		}
	}
	for s := range occ {
		occ[s] /= float64(w.n)
	}
	return occ
}

func rows(flat []float64, n, k int) [][]float64 {
	out := make([][]float64, n)
	for t := range out {
		out[t] = append([]float64(nil), flat[t*k:(t+1)*k]...)
	}
	return out
}

// Posterior returns the smoothed state probabilities P(state_t | all
// returns), one row per period. They use later returns too, so they suit
// labelling history (which regime a training period belonged to) but not a
// backtest's decision on day t; use Filtered for that. Returns must be
// finite; the result is nil for an empty series or if some return is
// impossible under the model.
func (m *Model) Posterior(returns []float64) [][]float64 {
	if len(returns) == 0 {
		return nil
	}
	w := newWork(len(returns), m.States())
	if math.IsNaN(w.forwardBackward(m, returns)) {
		return nil
	}
	return rows(w.gamma, w.n, w.k)
}

// Filtered returns the filtered state probabilities P(state_t | returns up
// to t), one row per period: what was knowable on day t. On the last
// period they equal the smoothed ones.
func (m *Model) Filtered(returns []float64) [][]float64 {
	if len(returns) == 0 {
		return nil
	}
	w := newWork(len(returns), m.States())
	if math.IsNaN(w.forward(m, returns)) {
		return nil
	}
	return rows(w.alpha, w.n, w.k)
}

// Viterbi returns the single most likely state sequence (Viterbi's
// algorithm in log space, so no scaling is needed). Unlike the per-period
// argmax of Posterior, the path never uses a transition of probability 0.
// Ties go to the lower, calmer state.
func (m *Model) Viterbi(returns []float64) []int {
	n, k := len(returns), m.States()
	if n == 0 {
		return nil
	}
	logTrans := make([]float64, k*k)
	for i := range m.Trans {
		for j, p := range m.Trans[i] {
			logTrans[i*k+j] = math.Log(p)
		}
	}
	delta := make([]float64, k)
	for s := range delta {
		delta[s] = math.Log(m.Start[s]) + logNormal(returns[0], m.Means[s], m.Variances[s])
	}
	back := make([]int, n*k)
	next := make([]float64, k)
	for t := 1; t < n; t++ {
		for j := 0; j < k; j++ {
			best, arg := math.Inf(-1), 0
			for i := 0; i < k; i++ {
				if v := delta[i] + logTrans[i*k+j]; v > best {
					best, arg = v, i
				}
			}
			next[j] = best + logNormal(returns[t], m.Means[j], m.Variances[j])
			back[t*k+j] = arg
		}
		delta, next = next, delta
	}
	path := make([]int, n)
	for s := 1; s < k; s++ {
		if delta[s] > delta[path[n-1]] {
			path[n-1] = s
		}
	}
	for t := n - 1; t > 0; t-- {
		path[t-1] = back[t*k+path[t]]
	}
	return path
}
