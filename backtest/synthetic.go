package backtest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// synthStart is the first day of the synthetic market.
var synthStart = time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)

// Synthetic is the built-in market of a Scenario: regime switches,
// volatility clustering, a common factor, and models whose edge decays at
// known rates and is restored by retraining.
type Synthetic struct {
	sc     Scenario
	seed   uint64
	dates  []time.Time
	regime []int
	sigma  []float64   // P&L volatility of a unit position, per day
	factor []float64   // common factor shock, per day
	noise  [][]float64 // [model][day] P&L noise in units of sigma
	edge0  []float64   // fresh daily Sharpe per model
	decay  []float64   // decay rate per model
	age0   []int       // age at the start per model
	models []flywheel.ModelKey
}

// NewSynthetic builds the synthetic market of a scenario and a seed.
func NewSynthetic(sc Scenario, seed uint64) (*Synthetic, error) {
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 0xbac7e57))
	s := &Synthetic{sc: sc, seed: seed}
	s.path(rng)
	for m := range sc.Models {
		s.models = append(s.models, flywheel.ModelKey{Target: fmt.Sprintf("fwd_ret_5d_SYN%02d", m), ModelFamily: "ridge"})
		s.edge0 = append(s.edge0, sc.Edge*lognormal(rng, sc.EdgeSpread))
		s.decay = append(s.decay, sc.DecayRate*lognormal(rng, sc.DecaySpread))
		age := 0
		if sc.InitialAgeDays > 0 {
			age = rng.IntN(sc.InitialAgeDays)
		}
		s.age0 = append(s.age0, age)
		row := make([]float64, sc.Days)
		rho := sc.FactorLoading
		for t := range row {
			row[t] = rho*s.factor[t] + math.Sqrt(1-rho*rho)*rng.NormFloat64()
		}
		s.noise = append(s.noise, row)
	}
	return s, nil
}

// path draws the regimes, the clustered volatility and the factor.
func (s *Synthetic) path(rng *rand.Rand) {
	sc := s.sc
	day := synthStart
	h, regime := 1.0, RegimeCalm
	for t := range sc.Days {
		for day.Weekday() == time.Saturday || day.Weekday() == time.Sunday {
			day = day.AddDate(0, 0, 1)
		}
		s.dates = append(s.dates, day)
		day = day.AddDate(0, 0, 1)
		if t > 0 {
			switch u := rng.Float64(); {
			case regime == RegimeCalm && u < sc.ToVolatile:
				regime = RegimeVolatile
			case regime == RegimeVolatile && u < sc.ToCalm:
				regime = RegimeCalm
			}
		}
		z := rng.NormFloat64()
		vol := sc.DailyVol * math.Sqrt(h)
		if regime == RegimeVolatile {
			vol *= sc.VolatileMultiplier
		}
		s.regime = append(s.regime, regime)
		s.sigma = append(s.sigma, vol)
		s.factor = append(s.factor, z)
		// GARCH(1,1) with unit long-run variance: clustering inside a
		// regime, the regime setting the level.
		h = (1 - sc.VolShock - sc.VolPersistence) + sc.VolShock*z*z + sc.VolPersistence*h
	}
}

// lognormal returns a mean-one log-normal draw with log-sd sd.
func lognormal(rng *rand.Rand, sd float64) float64 {
	return math.Exp(sd*rng.NormFloat64() - sd*sd/2)
}

// Name implements Market.
func (s *Synthetic) Name() string { return "synthetic" }

// Dates implements Market.
func (s *Synthetic) Dates() []time.Time { return s.dates }

// Models implements Market.
func (s *Synthetic) Models() []flywheel.ModelKey { return s.models }

// Regime implements Market.
func (s *Synthetic) Regime(t int) int { return s.regime[t] }

// MarketReturn implements Market: the common factor's return.
func (s *Synthetic) MarketReturn(t int) float64 { return s.sigma[t] * s.factor[t] }

// Truth implements Market.
func (s *Synthetic) Truth() bool { return true }

// Initial implements Market: a model trained age0 days before the start,
// in the calm regime, at its fresh edge.
func (s *Synthetic) Initial(m int) (Version, error) {
	return Version{Trained: -s.age0[m], Regime: RegimeCalm, Quality: 1, Score: s.edge0[m]}, nil
}

// Train implements Market. The new version's quality and its score's
// noise are drawn from the model and the day alone, so that the same
// retrain gives the same model in every policy; the synthetic models
// have no pipeline, so the config is not read.
func (s *Synthetic) Train(m, t int, _ string) (Version, error) {
	rng := rand.New(rand.NewPCG(s.seed^0x7a1e, uint64(m)<<32|uint64(t)))
	q := max(0, 1+s.sc.RetrainNoise*rng.NormFloat64())
	score := s.edge0[m]*q + s.sc.ScoreNoise*rng.NormFloat64()
	return Version{Trained: t + 1, Regime: s.regime[t], Quality: q, Score: score}, nil
}

// Evaluate implements Market: every scenario.evaluate_every trading days
// (staggered over the models) a model's live version is scored on recent
// data: its true current Sharpe ratio, decay and regime included, plus
// the score noise. The noise is drawn from the model and the day alone,
// so every policy sees the same evaluation of the same version.
func (s *Synthetic) Evaluate(m int, v *Version, t int) (float64, bool) {
	k := s.sc.EvaluateEvery
	if k <= 0 || (t+m)%k != 0 {
		return 0, false
	}
	rng := rand.New(rand.NewPCG(s.seed^0xe7a1, uint64(m)<<32|uint64(t)))
	return s.sharpe(m, v, t) + s.sc.ScoreNoise*rng.NormFloat64(), true
}

// sharpe is the true daily Sharpe ratio of version v of model m on day t.
func (s *Synthetic) sharpe(m int, v *Version, t int) float64 {
	e := s.edge0[m] * v.Quality * math.Exp(-s.decay[m]*float64(t-v.Trained))
	if s.regime[t] != v.Regime {
		e *= s.sc.RegimePenalty
	}
	return e
}

// Sharpe implements Market.
func (s *Synthetic) Sharpe(m int, v *Version, t int) float64 { return s.sharpe(m, v, t) }

// edge is the true expected P&L of version v of model m on day t.
func (s *Synthetic) edge(m int, v *Version, t int) float64 {
	return s.sharpe(m, v, t) * s.sigma[t]
}

// PnL implements Market: the true edge plus the day's noise; the model
// expects its fresh edge.
func (s *Synthetic) PnL(m int, v *Version, t int) (pnl, expected float64) {
	return s.sigma[t] * (s.sharpe(m, v, t) + s.noise[m][t]), s.sigma[t] * s.edge0[m] * v.Quality
}

// RetrainValue is the true expected P&L a retrain of model m decided on
// day t adds over the horizon, against keeping version cur: what the
// oracle ranks by. It counts from the day the new version trades.
func (s *Synthetic) RetrainValue(m int, cur *Version, t int, next *Version) float64 {
	var v float64
	for d := next.Trained; d < min(len(s.dates), next.Trained+s.sc.ValueHorizon); d++ {
		v += s.edge(m, next, d) - s.edge(m, cur, d)
	}
	return v
}
