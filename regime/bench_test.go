package regime

import (
	"math/rand/v2"
	"testing"
)

// benchSeries is 6,000 daily returns (about 24 years, the length of the
// SPY file) drawn from the two-state model.
func benchSeries() []float64 {
	r, _ := simulate(rand.New(rand.NewPCG(11, 12)), twoState(), 6000)
	return r
}

// benchSeries3 is 6,000 daily returns drawn from the three-state model.
func benchSeries3() []float64 {
	r, _ := simulate(rand.New(rand.NewPCG(13, 14)), threeState(), 6000)
	return r
}

func BenchmarkFit2States(b *testing.B) {
	r := benchSeries()
	for b.Loop() {
		if _, err := Fit(r, 2, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFit3States(b *testing.B) {
	r := benchSeries3()
	for b.Loop() {
		if _, err := Fit(r, 3, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFit3StatesOverfit is the slow case: three states for data with
// two, where EM creeps along a flat ridge while the spare state splits the
// calm one.
func BenchmarkFit3StatesOverfit(b *testing.B) {
	r := benchSeries()
	for b.Loop() {
		if _, err := Fit(r, 3, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPosterior(b *testing.B) {
	r := benchSeries()
	m, err := Fit(r, 2, Options{})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		m.Posterior(r)
	}
}

func BenchmarkViterbi(b *testing.B) {
	r := benchSeries()
	m, err := Fit(r, 2, Options{})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		m.Viterbi(r)
	}
}

func BenchmarkDetectSPY(b *testing.B) {
	s := spyReturns(b, false)
	for b.Loop() {
		if _, err := Detect(s.Dates, s.Values, 2, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
