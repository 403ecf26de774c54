package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/flywheel-ml/flywheel/prices"
)

// SyntheticOptions configures Synthetic. Zero fields take the defaults.
type SyntheticOptions struct {
	Seed   uint64
	Assets int       // default 8
	Days   int       // trading days, default 1500 (about six years)
	Start  time.Time // first date, default 2015-01-02; weekends are skipped
}

// Parameters of the synthetic market, chosen to look like daily equity
// data: about 13% annual market volatility in calm times, a volatile
// regime at 2.5 times that which lasts weeks and comes every year or two.
const (
	synMarketDrift = 0.0003
	synMarketVol   = 0.008
	synIdioVol     = 0.012
	synVolatileMul = 2.5
	synToVolatile  = 0.01 // daily probability of leaving the calm regime
	synToCalm      = 0.04 // and of leaving the volatile one
	// Each asset has a moving expected return (an AR(1) with persistence
	// synAlphaPhi, a half-life of two weeks, and stationary deviation
	// synAlphaSD per day) that its own past returns partly reveal: the
	// momentum a model can learn, with a known ground truth. It is
	// stronger than real markets offer, on purpose: a ridge model on the
	// default market reaches a rank IC of about 0.1, so that a change in
	// the pipeline's settings shows in the score rather than in the noise.
	synAlphaPhi = 0.95
	synAlphaSD  = 0.004
)

// Synthetic returns a deterministic synthetic market: for the same options
// it returns the same prices on every machine. Returns follow a one-factor
// model, r_it = beta_i f_t + alpha_it + e_it, where the market factor f
// and the idiosyncratic noise e have a volatility that switches between a
// calm and a volatile regime by a Markov chain (volatility clustering),
// the betas spread from 0.6 to 1.4, and alpha_it is a persistent expected
// return, so that features built on past returns have something real to
// find. Assets are named SYN0, SYN1, ...
func Synthetic(o SyntheticOptions) *prices.Table {
	if o.Assets <= 0 {
		o.Assets = 8
	}
	if o.Days <= 0 {
		o.Days = 1500
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2015, 1, 2, 0, 0, 0, 0, time.UTC)
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x5eed))
	tab := &prices.Table{
		Dates:  businessDays(o.Start, o.Days),
		Assets: make([]string, o.Assets),
		Prices: make([][]float64, o.Assets),
	}
	beta := make([]float64, o.Assets)
	alpha := make([]float64, o.Assets)
	logp := make([]float64, o.Assets)
	innov := synAlphaSD * math.Sqrt(1-synAlphaPhi*synAlphaPhi)
	for k := range tab.Assets {
		tab.Assets[k] = fmt.Sprintf("SYN%d", k)
		tab.Prices[k] = make([]float64, o.Days)
		beta[k] = 0.6 + 0.8*float64(k)/float64(max(o.Assets-1, 1))
		alpha[k] = synAlphaSD * rng.NormFloat64()
		logp[k] = math.Log(20 + 10*float64(k))
	}
	volatile := false
	for t := range o.Days {
		if t > 0 {
			if p := rng.Float64(); volatile && p < synToCalm || !volatile && p < synToVolatile {
				volatile = !volatile
			}
		}
		mul := 1.0
		if volatile {
			mul = synVolatileMul
		}
		f := synMarketDrift + synMarketVol*mul*rng.NormFloat64()
		for k := range tab.Assets {
			if t > 0 {
				alpha[k] = synAlphaPhi*alpha[k] + innov*rng.NormFloat64()
				logp[k] += beta[k]*f + alpha[k] + synIdioVol*mul*rng.NormFloat64()
			}
			tab.Prices[k][t] = math.Exp(logp[k])
		}
	}
	return tab
}

// businessDays returns n weekdays from start on (start itself if it is one).
func businessDays(start time.Time, n int) []time.Time {
	out := make([]time.Time, 0, n)
	for d := start; len(out) < n; d = d.AddDate(0, 0, 1) {
		if wd := d.Weekday(); wd != time.Saturday && wd != time.Sunday {
			out = append(out, d)
		}
	}
	return out
}
