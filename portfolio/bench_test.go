package portfolio

import (
	"math/rand/v2"
	"testing"
)

// benchReturns is ten years of daily returns for 20 assets from a seeded
// one-factor model, the size of the reference data set, so the benchmarks
// run without ../shared/data.
func benchReturns() [][]float64 {
	_, r := randomCov(rand.New(rand.NewPCG(7, 8)), 20, 2520)
	return r
}

func BenchmarkSampleCov20(b *testing.B) {
	r := benchReturns()
	for b.Loop() {
		SampleCov(r, TradingDays)
	}
}

func BenchmarkHRP20(b *testing.B) {
	r := benchReturns()
	cov, corr := SampleCov(r, 1), SampleCorr(r)
	for b.Loop() {
		if _, err := HRP(cov, corr); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHRP20FromReturns(b *testing.B) {
	r := benchReturns()
	for b.Loop() {
		if _, err := HRP(SampleCov(r, 1), SampleCorr(r)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMinVolatility20(b *testing.B) {
	S := SampleCov(benchReturns(), TradingDays)
	for b.Loop() {
		if _, err := MinVolatility(S, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMaxSharpe20(b *testing.B) {
	r := benchReturns()
	S, mu := SampleCov(r, TradingDays), MeanHistoricalReturn(r, TradingDays)
	for b.Loop() {
		if _, err := MaxSharpe(mu, S, 0.02, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRiskParity20(b *testing.B) {
	S := SampleCov(benchReturns(), TradingDays)
	for b.Loop() {
		if _, err := RiskParity(S, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLedoitWolf20(b *testing.B) {
	r := benchReturns()
	for b.Loop() {
		if _, _, err := LedoitWolf(r, TradingDays); err != nil {
			b.Fatal(err)
		}
	}
}
