package regime

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func days(n int) []time.Time {
	out := make([]time.Time, n)
	d := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range out {
		out[i] = d.AddDate(0, 0, i)
	}
	return out
}

func TestDetectHMM(t *testing.T) {
	t.Parallel()
	r, truth := simulate(rand.New(rand.NewPCG(1, 1)), twoState(), 3000)
	d, err := Detect(days(len(r)), r, 2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Fallback {
		t.Fatalf("fallback on a clean two-state series: %s", d.Reason)
	}
	hits := 0
	for i := range r {
		if int(d.Regimes[i]) == truth[i] {
			hits++
		}
		for _, p := range [][]float64{d.Probs[i], d.Filtered[i]} {
			if sum := p[0] + p[1]; math.Abs(sum-1) > 1e-12 {
				t.Fatalf("probabilities of period %d sum to %v", i, sum)
			}
		}
	}
	if acc := float64(hits) / float64(len(r)); acc < 0.95 {
		t.Errorf("regimes match the simulated states on %.3f of periods, want 0.95", acc)
	}
	// The last period has no future to smooth with.
	last := len(r) - 1
	if math.Abs(d.Probs[last][1]-d.Filtered[last][1]) > 1e-12 {
		t.Errorf("last smoothed %v != last filtered %v", d.Probs[last], d.Filtered[last])
	}
	reg, p := d.Current()
	if reg != d.Regimes[last] || p[1] != d.Probs[last][1] {
		t.Errorf("Current() = %v %v, want the last period's", reg, p)
	}
}

func TestDetectFallback(t *testing.T) {
	t.Parallel()
	calm, _ := simulate(rand.New(rand.NewPCG(2, 2)), twoState(), 2000)
	withZeros := append([]float64(nil), calm...)
	for i := 0; i < len(withZeros); i += 3 {
		withZeros[i] = 0 // stale prices: a third of the days do not move
	}
	tests := []struct {
		name    string
		returns []float64
		states  int
		opts    Options
		reason  string
	}{
		{"not converged", calm, 2, Options{MaxIter: 2}, "did not converge"},
		// The volatile state holds 0.02/(0.02 + 0.05) = 29% of the periods.
		{"negligible state", calm, 2, Options{MinOccupancy: 0.4}, "volatile state holds"},
		{"degenerate state", withZeros, 3, Options{}, "variance at the floor"},
		{"too short", calm[:15], 2, Options{}, "no fit"},
		{"constant", make([]float64, 50), 2, Options{}, "no variance"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := Detect(days(len(tt.returns)), tt.returns, tt.states, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !d.Fallback || !strings.Contains(d.Reason, tt.reason) {
				t.Fatalf("fallback %v (%q), want a fallback because %q", d.Fallback, d.Reason, tt.reason)
			}
			if len(d.Regimes) != len(tt.returns) || len(d.Probs) != len(tt.returns) {
				t.Fatalf("%d regimes and %d probability rows for %d returns", len(d.Regimes), len(d.Probs), len(tt.returns))
			}
			for i, reg := range d.Regimes {
				if d.Probs[i][reg] != 1 || d.Filtered[i][reg] != 1 {
					t.Fatalf("period %d: regime %v with probabilities %v", i, reg, d.Probs[i])
				}
			}
		})
	}
}

func TestFallbackQuantiles(t *testing.T) {
	t.Parallel()
	// 80 quiet days (0.1%) then 20 wild ones (5%), alternating sign. With
	// a 5-day window the trailing RMS is 0.001 before day 80, 0.05 from
	// day 84, and in between while the window fills. Cut at the 75%
	// quantile, the regime turns volatile on day 80 and stays so.
	r := make([]float64, 100)
	for i := range r {
		size := 0.001
		if i >= 80 {
			size = 0.05
		}
		r[i] = size * float64(1-2*(i%2))
	}
	d := &Detection{}
	d.fallback(r, 2, Options{Window: 5}, "test")
	for i, reg := range d.Regimes {
		want := Calm
		if i >= 80 {
			want = Volatile
		}
		if reg != want {
			t.Errorf("day %d: %v, want %v", i, reg, want)
		}
	}
	// Three states cut at the 50% and 82% quantiles. Sorted, the RMS
	// series is 80 quiet values, the four filling days (one to four wild
	// returns in the window: 0.0224, 0.0316, 0.0387, 0.0447) and sixteen
	// at 0.05. The 82% quantile interpolates between sorted values 81 and
	// 82: 0.0316 + 0.18 x (0.0387 - 0.0316) = 0.0329. So days 80 and 81
	// are volatile and days 82 on crisis.
	d.fallback(r, 3, Options{Window: 5, FallbackQuantiles: []float64{0.5, 0.82}}, "test")
	for i, reg := range d.Regimes {
		want := Calm
		switch {
		case i >= 82:
			want = Crisis
		case i >= 80:
			want = Volatile
		}
		if reg != want {
			t.Errorf("three states, day %d: %v, want %v", i, reg, want)
		}
	}
}

func TestDetectInputErrors(t *testing.T) {
	t.Parallel()
	r := []float64{0.01, -0.01, 0.02}
	tests := []struct {
		name    string
		dates   []time.Time
		returns []float64
		states  int
		opts    Options
	}{
		{"mismatched", days(2), r, 2, Options{}},
		{"empty", nil, nil, 2, Options{}},
		{"NaN", days(3), []float64{0.01, math.NaN(), 0}, 2, Options{}},
		{"four states", days(3), r, 4, Options{}},
		{"wrong quantiles", days(3), r, 3, Options{FallbackQuantiles: []float64{0.5}}},
	}
	for _, tt := range tests {
		if _, err := Detect(tt.dates, tt.returns, tt.states, tt.opts); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: error %v, want ErrInvalid", tt.name, err)
		}
	}
}

func TestRegimeString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		r    Regime
		want string
	}{
		{Calm, "calm"}, {Volatile, "volatile"}, {Crisis, "crisis"}, {Regime(7), "regime(7)"},
	}
	for _, tt := range tests {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("Regime(%d).String() = %q, want %q", int(tt.r), got, tt.want)
		}
	}
}
