package train

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/flywheel-ml/flywheel/prices"
)

// Feature names. Every feature of the sample taken at row t is computed
// from prices at rows up to t only, except LeakFeature.
const (
	FeatureRet1d     = "ret_1d"      // ln(p_t / p_t-1)
	FeatureRet5d     = "ret_5d"      // ln(p_t / p_t-5)
	FeatureRet20d    = "ret_20d"     // ln(p_t / p_t-20)
	FeatureMomentum  = "mom_60_5"    // ln(p_t-5 / p_t-60): momentum skipping the last week
	FeatureVol20d    = "vol_20d"     // std of the last 20 daily log returns
	FeatureRSI14     = "rsi_14"      // 100 G / (G + L) over the last 14 daily moves
	FeatureRank5d    = "rank_ret_5d" // percentile of ret_5d across the assets at t
	FeatureRank20d   = "rank_ret_20d"
	FeatureMarket5d  = "mkt_ret_5d"  // equal-weight market return over 5 days
	FeatureMarketVol = "mkt_vol_20d" // std of the last 20 equal-weight market returns

	// LeakFeature is the deliberately leaky feature: the target asset's
	// forward log return over the target's horizon plus a little noise. It
	// exists so that the leakage detector, and the thresholds CILS learns
	// for it, can be checked against a leak whose truth is known.
	LeakFeature = "leak_fwd_ret"
)

// Features lists the honest features in the order of the feature matrix.
var Features = []string{
	FeatureRet1d, FeatureRet5d, FeatureRet20d, FeatureMomentum, FeatureVol20d,
	FeatureRSI14, FeatureRank5d, FeatureRank20d, FeatureMarket5d, FeatureMarketVol,
}

// Lookback is the number of rows before t the features reach back to
// (the momentum's 60 days); earlier rows have no sample.
const Lookback = 60

// leakNoise is the noise of the leaky feature relative to the spread of
// the forward return: small enough that the leak is obvious (correlation
// about 0.97), large enough that it is not an exact copy of the label.
const leakNoise = 0.25

// columns holds one value per table row for each feature of the target
// asset, NaN where it cannot be computed.
type columns struct {
	names  []string
	values [][]float64 // [feature][row]
	logp   []float64   // the target asset's log prices
	mktVol []float64   // the market's 20-day volatility, for regime weights
}

// buildFeatures computes the features of asset a at every row of the
// table. The rows of other assets enter only through the cross-sectional
// ranks and the market return, each at the same row t.
func buildFeatures(tab *prices.Table, a int) *columns {
	logs := make([][]float64, len(tab.Assets))
	for k, p := range tab.Prices {
		logs[k] = make([]float64, len(p))
		for i, v := range p {
			logs[k][i] = math.Log(v) // NaN stays NaN
		}
	}
	lp := logs[a]
	mkt := marketReturns(tab.Prices)
	c := &columns{names: slices.Clone(Features), logp: lp, mktVol: rollingStd(mkt, 20)}
	c.values = [][]float64{
		lagDiff(lp, 0, 1),
		lagDiff(lp, 0, 5),
		lagDiff(lp, 0, 20),
		lagDiff(lp, 5, 60),
		rollingStd(lagDiff(lp, 0, 1), 20),
		rsi(lp, 14),
		crossRank(logs, a, 5),
		crossRank(logs, a, 20),
		rollingSum(mkt, 5),
		c.mktVol,
	}
	return c
}

// addLeak appends LeakFeature: the forward return over h rows plus noise
// drawn from rng, one draw per row in row order so that the column is
// reproducible from the seed.
func (c *columns) addLeak(h int, rng *rand.Rand) {
	fwd := make([]float64, len(c.logp))
	for i := range fwd {
		fwd[i] = forwardReturn(c.logp, i, h)
	}
	_, sd := meanStd(fwd)
	leak := make([]float64, len(fwd))
	for i, v := range fwd {
		leak[i] = v + leakNoise*sd*rng.NormFloat64()
	}
	c.names = append(c.names, LeakFeature)
	c.values = append(c.values, leak)
}

// lagDiff returns x[t-skip] - x[t-back], NaN when either is unknown.
func lagDiff(x []float64, skip, back int) []float64 {
	out := nanSlice(len(x))
	for t := back; t < len(x); t++ {
		out[t] = x[t-skip] - x[t-back]
	}
	return out
}

// rollingStd is the sample standard deviation of x[t-w+1..t], NaN when
// any of them is missing.
func rollingStd(x []float64, w int) []float64 {
	out := nanSlice(len(x))
	for t := w - 1; t < len(x); t++ {
		win := x[t-w+1 : t+1]
		// A window with a gap would silently describe fewer days than its
		// name says, so any missing value makes the result missing.
		if slices.ContainsFunc(win, math.IsNaN) {
			continue
		}
		_, out[t] = meanStd(win)
	}
	return out
}

// rollingSum is the sum of x[t-w+1..t], NaN when any is missing.
func rollingSum(x []float64, w int) []float64 {
	out := nanSlice(len(x))
	for t := w - 1; t < len(x); t++ {
		s := 0.0
		for _, v := range x[t-w+1 : t+1] {
			s += v
		}
		out[t] = s
	}
	return out
}

// rsi is the relative strength index over the last w daily moves with
// plain averages (Cutler's variant) rather than Wilder's recursive
// smoothing: the value at t then depends on exactly w+1 prices, which
// keeps the feature local and makes "no future data" easy to check.
func rsi(logp []float64, w int) []float64 {
	out := nanSlice(len(logp))
	for t := w; t < len(logp); t++ {
		var gain, loss float64
		for s := t - w + 1; s <= t; s++ {
			d := logp[s] - logp[s-1]
			if d > 0 {
				gain += d
			} else {
				loss -= d
			}
		}
		switch {
		case math.IsNaN(gain) || math.IsNaN(loss):
		case gain+loss == 0:
			out[t] = 50
		default:
			out[t] = 100 * gain / (gain + loss)
		}
	}
	return out
}

// crossRank is the percentile (0 lowest, 1 highest, ties averaged) of
// asset a's h-day log return among the assets that have one at t; 0.5
// when a is alone.
func crossRank(logs [][]float64, a, h int) []float64 {
	out := nanSlice(len(logs[a]))
	for t := h; t < len(out); t++ {
		mine := logs[a][t] - logs[a][t-h]
		if math.IsNaN(mine) {
			continue
		}
		below, equal, n := 0, 0, 0
		for _, lp := range logs {
			r := lp[t] - lp[t-h]
			switch {
			case math.IsNaN(r):
				continue
			case r < mine:
				below++
			case r == mine:
				equal++ // includes a itself
			}
			n++
		}
		if n == 1 {
			out[t] = 0.5
			continue
		}
		out[t] = (float64(below) + float64(equal-1)/2) / float64(n-1)
	}
	return out
}

// marketReturns is the equal-weight market's simple daily return: the
// mean over the assets that have a price on both days, NaN when none has.
func marketReturns(p [][]float64) []float64 {
	n := len(p[0])
	out := nanSlice(n)
	for t := 1; t < n; t++ {
		s, k := 0.0, 0
		for _, col := range p {
			if r := col[t]/col[t-1] - 1; !math.IsNaN(r) {
				s += r
				k++
			}
		}
		if k > 0 {
			out[t] = s / float64(k)
		}
	}
	return out
}

// meanStd returns the mean and sample standard deviation of the finite
// values of x; NaN for both when there are fewer than two.
func meanStd(x []float64) (mean, sd float64) {
	var s, ss float64
	n := 0
	for _, v := range x {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			s += v
			n++
		}
	}
	if n < 2 {
		return math.NaN(), math.NaN()
	}
	mean = s / float64(n)
	for _, v := range x {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			ss += (v - mean) * (v - mean)
		}
	}
	return mean, math.Sqrt(ss / float64(n-1))
}

func nanSlice(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = math.NaN()
	}
	return out
}
