package regime

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// simulate draws n returns from a Gaussian HMM.
func simulate(rng *rand.Rand, m *Model, n int) (returns []float64, states []int) {
	pick := func(p []float64) int {
		u, acc := rng.Float64(), 0.0
		for i, v := range p {
			acc += v
			if u < acc {
				return i
			}
		}
		return len(p) - 1
	}
	s := pick(m.Start)
	for t := 0; t < n; t++ {
		if t > 0 {
			s = pick(m.Trans[s])
		}
		states = append(states, s)
		returns = append(returns, m.Means[s]+math.Sqrt(m.Variances[s])*rng.NormFloat64())
	}
	return returns, states
}

// twoState is a daily market with a calm state (0.7% a day, slight
// drift up) and a volatile one (2% a day, drift down), each lasting
// about 50 and 20 days.
func twoState() *Model {
	return &Model{
		Start:     []float64{0.5, 0.5},
		Trans:     [][]float64{{0.98, 0.02}, {0.05, 0.95}},
		Means:     []float64{0.0005, -0.001},
		Variances: []float64{0.007 * 0.007, 0.02 * 0.02},
	}
}

func threeState() *Model {
	return &Model{
		Start:     []float64{1.0 / 3, 1.0 / 3, 1.0 / 3},
		Trans:     [][]float64{{0.98, 0.015, 0.005}, {0.03, 0.95, 0.02}, {0.01, 0.05, 0.94}},
		Means:     []float64{0.0006, 0, -0.003},
		Variances: []float64{0.006 * 0.006, 0.013 * 0.013, 0.035 * 0.035},
	}
}

func TestFitRecoversParameters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		truth    *Model
		n        int
		accuracy float64
	}{
		{"two states", twoState(), 5000, 0.95},
		{"three states", threeState(), 8000, 0.90},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(uint64(i), 42))
			r, truth := simulate(rng, tt.truth, tt.n)
			m, err := Fit(r, tt.truth.States(), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !m.Converged {
				t.Errorf("not converged after %d iterations", m.Iterations)
			}
			for s := range m.Means {
				if got, want := math.Sqrt(m.Variances[s]), math.Sqrt(tt.truth.Variances[s]); math.Abs(got/want-1) > 0.1 {
					t.Errorf("%s volatility = %.4f, want %.4f within 10%%", Regime(s), got, want)
				}
				if got, want := m.Trans[s][s], tt.truth.Trans[s][s]; math.Abs(got-want) > 0.03 {
					t.Errorf("%s persistence = %.3f, want %.3f within 0.03", Regime(s), got, want)
				}
			}
			hits := 0
			for t, s := range m.Viterbi(r) {
				if s == truth[t] {
					hits++
				}
			}
			if acc := float64(hits) / float64(len(r)); acc < tt.accuracy {
				t.Errorf("Viterbi recovers %.3f of the states, want at least %.2f", acc, tt.accuracy)
			}
		})
	}
}

// bruteForce enumerates every state path of a short series: the
// likelihood, the smoothed marginals and the most likely path that the
// recursions must reproduce.
func bruteForce(m *Model, r []float64) (ll float64, post [][]float64, best []int) {
	k, n := m.States(), len(r)
	post = make([][]float64, n)
	for t := range post {
		post[t] = make([]float64, k)
	}
	path := make([]int, n)
	total, bestP := 0.0, -1.0
	var visit func(t int, p float64)
	visit = func(t int, p float64) {
		if t == n {
			total += p
			for u, s := range path {
				post[u][s] += p
			}
			if p > bestP {
				bestP, best = p, append([]int(nil), path...)
			}
			return
		}
		for s := 0; s < k; s++ {
			path[t] = s
			q := p
			if t == 0 {
				q *= m.Start[s]
			} else {
				q *= m.Trans[path[t-1]][s]
			}
			visit(t+1, q*math.Exp(logNormal(r[t], m.Means[s], m.Variances[s])))
		}
	}
	visit(0, 1)
	for t := range post {
		for s := range post[t] {
			post[t][s] /= total
		}
	}
	return math.Log(total), post, best
}

func TestRecursionsMatchBruteForce(t *testing.T) {
	t.Parallel()
	m := threeState()
	// A calm start, a shock, an 8-sigma crash (to exercise the scaling)
	// and a recovery.
	r := []float64{0.001, -0.002, 0.03, -0.28, 0.05, -0.01, 0.004}
	wantLL, wantPost, wantPath := bruteForce(m, r)

	w := newWork(len(r), m.States())
	if got := w.forwardBackward(m, r); math.Abs(got-wantLL) > 1e-9 {
		t.Errorf("log-likelihood = %.12g, want %.12g", got, wantLL)
	}
	post := m.Posterior(r)
	for i := range r {
		for s := range post[i] {
			if math.Abs(post[i][s]-wantPost[i][s]) > 1e-12 {
				t.Errorf("posterior[%d][%d] = %.15g, want %.15g", i, s, post[i][s], wantPost[i][s])
			}
		}
	}
	path := m.Viterbi(r)
	for i := range r {
		if path[i] != wantPath[i] {
			t.Fatalf("Viterbi path = %v, want %v", path, wantPath)
		}
	}
	// Filtering is smoothing of the prefix: its last row.
	filt := m.Filtered(r)
	for i := range r {
		_, prefix, _ := bruteForce(m, r[:i+1])
		for s := range filt[i] {
			if math.Abs(filt[i][s]-prefix[i][s]) > 1e-12 {
				t.Errorf("filtered[%d][%d] = %.15g, want %.15g", i, s, filt[i][s], prefix[i][s])
			}
		}
	}
}

func TestFitOrdersStatesByVolatility(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(9, 9))
	r, _ := simulate(rng, twoState(), 3000)
	m, err := Fit(r, 2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !(m.Variances[0] < m.Variances[1]) {
		t.Errorf("variances %v not increasing", m.Variances)
	}
	if got := strings.Join(m.Names(), ","); got != "calm,volatile" {
		t.Errorf("names = %q, want calm,volatile", got)
	}
	if got := strings.Join(Names(3), ","); got != "calm,volatile,crisis" {
		t.Errorf("Names(3) = %q", got)
	}
	// Same input, same model: the fit has no random state.
	again, _ := Fit(r, 2, Options{})
	if again.LogLikelihood != m.LogLikelihood || again.Means[0] != m.Means[0] {
		t.Error("two fits of the same returns differ")
	}
}

func TestFitInputErrors(t *testing.T) {
	t.Parallel()
	long := make([]float64, 100)
	for i := range long {
		long[i] = float64(i%7) / 100
	}
	tests := []struct {
		name    string
		returns []float64
		states  int
	}{
		{"one state", long, 1},
		{"four states", long, 4},
		{"too short", long[:19], 2},
		{"NaN", append(append([]float64(nil), long...), math.NaN()), 2},
		{"infinite", append(append([]float64(nil), long...), math.Inf(-1)), 2},
		{"constant", make([]float64, 100), 2},
	}
	for _, tt := range tests {
		if _, err := Fit(tt.returns, tt.states, Options{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: error %v, want ErrInvalid", tt.name, err)
		}
	}
}
