package arpo

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/regime"
)

// MarketPoint is one period's return of a market index, the input of the
// regime model. Returns may be simple or log; the HMM treats them alike.
type MarketPoint struct {
	Date   time.Time `json:"date"`
	Return float64   `json:"return"`
}

// Sources of RegimeState.
const (
	RegimeFromMarket       = "market"
	RegimeFromObservations = "observations"
	RegimeFromNone         = "none"
)

// UnknownRegime is RegimeState.Current when no source tells the regime.
const UnknownRegime = "unknown"

// RegimeState is the market regime at Now and where it comes from.
type RegimeState struct {
	// Source is "market" (an HMM, or its fallback, on Snapshot.Market),
	// "observations" (the labels the trading system put on observations,
	// used when there are too few market returns) or "none".
	Source  string `json:"source"`
	Current string `json:"current"`
	// Probabilities are the current regime's probabilities: the HMM's, or
	// the shares of the latest labelled day's observations.
	Probabilities map[string]float64 `json:"probabilities,omitempty"`
	// AsOf is the day the current regime was read from.
	AsOf  *time.Time `json:"as_of,omitempty"`
	Names []string   `json:"names,omitempty"`
	// MarketPoints is the number of market returns up to Now.
	MarketPoints int `json:"market_points"`
	// Volatility is each HMM state's annualised volatility.
	Volatility map[string]float64 `json:"volatility,omitempty"`
	// Fallback reports that the HMM fit was poor and the regimes come
	// from volatility quantiles; Reason says why, or why there is no regime.
	Fallback bool   `json:"fallback,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// RegimeMismatch is a model whose daily P&L in the current regime is
// significantly and materially worse than over its whole regime window.
type RegimeMismatch struct {
	flywheel.ModelKey
	Regime string `json:"regime"`
	// Days and annualised Sharpe ratios in the current regime, in the
	// others, and over both.
	DaysCurrent    int     `json:"days_current"`
	DaysOther      int     `json:"days_other"`
	SharpeCurrent  float64 `json:"sharpe_current"`
	SharpeOther    Number  `json:"sharpe_other"`
	SharpeOverall  float64 `json:"sharpe_overall"`
	MeanPnLCurrent float64 `json:"mean_pnl_current"`
	MeanPnLOther   float64 `json:"mean_pnl_other"`
	// Z is Welch's statistic of the difference of mean daily P&L (current
	// minus other); Confidence = Phi(-Z), the one-sided confidence that
	// the current regime's mean is lower.
	Z          float64 `json:"z"`
	Confidence float64 `json:"confidence"`
	Reason     string  `json:"reason"`
}

// RegimeStrategy tells a target's training which regime to emphasise.
// It is per target, like the data-sampling config it feeds; ModelFamily
// names the family whose P&L set the weight (the largest, when several
// families of the target qualify).
type RegimeStrategy struct {
	flywheel.ModelKey
	// RegimeFilter is the regime whose training rows to emphasise (the
	// current one) and RegimeWeight their sampling weight relative to
	// other rows: 1 + (max_regime_weight - 1)(2 confidence - 1).
	RegimeFilter string  `json:"regime_filter"`
	RegimeWeight float64 `json:"regime_weight"`
	Confidence   float64 `json:"confidence"`
	Reason       string  `json:"reason"`
}

// dayLabels is the regime of each day of the windows.
type dayLabels struct {
	labels  []int16 // index into names, -1 when unknown
	current int16   // -1 when unknown
	names   []string
}

// regimeSplit holds a model's daily P&L statistics in the current regime,
// in the others, and over both.
type regimeSplit struct {
	cur, oth, all moments
}

// regimeOf tells the regime of each day from the market points up to
// Now. Without usable market returns it does NOT build a proxy from the
// models' average daily P&L: the regime would then be a function of the
// very performance it is meant to explain, and every mismatch would be
// circular. It uses the regime labels of the observations if there are
// any, and otherwise reports the regime as unknown, which turns off
// regime strategies and mismatches.
func regimeOf(cfg *Config, snap *Snapshot, w *windows, pts []MarketPoint) (RegimeState, *dayLabels, error) {
	dl := &dayLabels{labels: make([]int16, w.days), current: -1}
	for i := range dl.labels {
		dl.labels[i] = -1
	}
	if len(pts) >= cfg.MinMarketPoints {
		st, err := marketRegimes(cfg, pts, w, dl)
		return st, dl, err
	}
	st := RegimeState{Source: RegimeFromNone, Current: UnknownRegime, MarketPoints: len(pts)}
	if observationRegimes(snap.Observations, w, dl, &st) {
		st.Reason = fmt.Sprintf("%d market returns up to now, fewer than min_market_points (%d): regimes from observation labels", len(pts), cfg.MinMarketPoints)
		return st, dl, nil
	}
	st.Reason = fmt.Sprintf("%d market returns up to now, fewer than min_market_points (%d), and no regime labels on observations", len(pts), cfg.MinMarketPoints)
	return st, dl, nil
}

// marketUpTo returns the market points dated no later than now, sorted,
// after checking them all.
func marketUpTo(market []MarketPoint, now time.Time) ([]MarketPoint, error) {
	pts := make([]MarketPoint, 0, len(market))
	for i, p := range market {
		if p.Date.IsZero() {
			return nil, flywheel.WithFieldPrefix(flywheel.AtIndex(flywheel.FieldError("date", "is required"), i), "market")
		}
		if math.IsNaN(p.Return) || math.IsInf(p.Return, 0) {
			return nil, flywheel.WithFieldPrefix(flywheel.AtIndex(flywheel.FieldError("return", "must be a finite number"), i), "market")
		}
		if !p.Date.After(now) {
			pts = append(pts, p)
		}
	}
	slices.SortStableFunc(pts, func(a, b MarketPoint) int { return a.Date.Compare(b.Date) })
	for i := 1; i < len(pts); i++ {
		if dayOf(pts[i].Date) == dayOf(pts[i-1].Date) {
			return nil, flywheel.FieldError("market", "two returns on %s; one per day is expected", dayStart(dayOf(pts[i].Date)).Format(time.DateOnly))
		}
	}
	return pts, nil
}

// marketRegimes fits the HMM to the market returns and labels the days of
// the windows with its smoothed regimes. Smoothed labels use later returns
// up to Now, which suits labelling history; the current regime is the last
// period's, which uses nothing after Now.
func marketRegimes(cfg *Config, pts []MarketPoint, w *windows, dl *dayLabels) (RegimeState, error) {
	dates := make([]time.Time, len(pts))
	rets := make([]float64, len(pts))
	for i, p := range pts {
		dates[i], rets[i] = p.Date, p.Return
	}
	det, err := regime.Detect(dates, rets, cfg.RegimeStates, regime.Options{})
	if err != nil {
		return RegimeState{}, fmt.Errorf("market regimes: %w", err)
	}
	cur, probs := det.Current()
	asOf := dayStart(dayOf(dates[len(dates)-1]))
	st := RegimeState{
		Source:        RegimeFromMarket,
		Current:       det.Names[cur],
		Probabilities: make(map[string]float64, len(probs)),
		AsOf:          &asOf,
		Names:         det.Names,
		MarketPoints:  len(pts),
		Fallback:      det.Fallback,
		Reason:        det.Reason,
	}
	for k, p := range probs {
		st.Probabilities[det.Names[k]] = p
	}
	if det.Model != nil && !det.Fallback {
		st.Volatility = make(map[string]float64, len(det.Names))
		for k, v := range det.Model.Variances {
			st.Volatility[det.Names[k]] = math.Sqrt(v * periodsPerYear)
		}
	}
	for i, d := range det.Dates {
		if idx := dayOf(d) - w.first; idx >= 0 && idx < int64(w.days) {
			dl.labels[idx] = int16(det.Regimes[i])
		}
	}
	dl.current, dl.names = int16(cur), det.Names
	return st, nil
}

// observationRegimes labels each day with the regime most observations of
// that day carry (ties to the first name in order) and reports whether
// any observation carried one.
func observationRegimes(obs []flywheel.Observation, w *windows, dl *dayLabels, st *RegimeState) bool {
	ids := map[string]int{}
	var names []string
	var counts []int32 // [label*days + day]
	lo := w.first * secondsPerDay
	for i := range obs {
		o := &obs[i]
		if o.Regime == "" || o.TS.Unix() < lo || o.TS.After(w.now) {
			continue
		}
		id, ok := ids[o.Regime]
		if !ok {
			id = len(names)
			ids[o.Regime] = id
			names = append(names, o.Regime)
			counts = append(counts, make([]int32, w.days)...)
		}
		counts[id*w.days+int(dayOf(o.TS)-w.first)]++
	}
	if len(names) == 0 {
		return false
	}
	sorted := slices.Clone(names)
	slices.Sort(sorted)
	latest := -1
	for d := 0; d < w.days; d++ {
		best, bestN := -1, int32(0)
		for k, name := range sorted {
			if c := counts[ids[name]*w.days+d]; c > bestN {
				best, bestN = k, c
			}
		}
		if best >= 0 {
			dl.labels[d] = int16(best)
			latest = d
		}
	}
	dl.current, dl.names = dl.labels[latest], sorted
	total := 0.0
	for _, name := range sorted {
		total += float64(counts[ids[name]*w.days+latest])
	}
	asOf := dayStart(w.first + int64(latest))
	st.Source, st.Current, st.AsOf, st.Names = RegimeFromObservations, sorted[dl.current], &asOf, sorted
	st.Probabilities = make(map[string]float64, len(sorted))
	for _, name := range sorted {
		st.Probabilities[name] = float64(counts[ids[name]*w.days+latest]) / total
	}
	return true
}

// splitRegimes gathers m's daily P&L over the regime window by regime.
func (sc *scratch) splitRegimes(m *model, w *windows, dl *dayLabels) {
	m.regime = regimeSplit{}
	if dl.current < 0 {
		return
	}
	sc.cur, sc.oth = sc.cur[:0], sc.oth[:0]
	for d := w.regFrom; d < w.days; d++ {
		if sc.n[d] == 0 || dl.labels[d] < 0 {
			continue
		}
		if dl.labels[d] == dl.current {
			sc.cur = append(sc.cur, sc.pnl[d])
		} else {
			sc.oth = append(sc.oth, sc.pnl[d])
		}
	}
	m.regime.cur, m.regime.oth = momentsOf(sc.cur), momentsOf(sc.oth)
	sc.all = append(append(sc.all[:0], sc.cur...), sc.oth...)
	m.regime.all = momentsOf(sc.all)
}

// compareRegimes tests whether m does worse in the current regime than in
// the others: Welch's z on the mean daily P&L, because the two samples
// have different sizes and, across regimes, different variances.
func compareRegimes(cfg *Config, m *model, current string) (*RegimeMismatch, *RegimeStrategy) {
	c, o, all := m.regime.cur, m.regime.oth, m.regime.all
	if c.n < cfg.MinRegimeDays || o.n < cfg.MinRegimeDays {
		return nil, nil
	}
	se := math.Sqrt(c.sd*c.sd/float64(c.n) + o.sd*o.sd/float64(o.n))
	if !(se > 0) || math.IsNaN(c.sharpe) || math.IsNaN(all.sharpe) {
		return nil, nil
	}
	z := (c.mean - o.mean) / se
	conf := normalCDF(-z)
	var mm *RegimeMismatch
	var rs *RegimeStrategy
	if conf >= cfg.EmphasisConfidence {
		weight := 1 + (cfg.MaxRegimeWeight-1)*(2*conf-1)
		rs = &RegimeStrategy{
			ModelKey: m.key, RegimeFilter: current, RegimeWeight: weight, Confidence: conf,
			Reason: fmt.Sprintf("%s mean daily P&L %.4g in %s over %d days vs %.4g in other regimes over %d days (confidence %.3f): weight %s rows %.2fx",
				m.key.ModelFamily, c.mean, current, c.n, o.mean, o.n, conf, current, weight),
		}
	}
	shC, shAll := c.sharpe*sqrtYear, all.sharpe*sqrtYear
	if conf >= cfg.MismatchConfidence && shAll-shC >= cfg.MismatchSharpeGap {
		mm = &RegimeMismatch{
			ModelKey: m.key, Regime: current,
			DaysCurrent: c.n, DaysOther: o.n,
			SharpeCurrent: shC, SharpeOther: Number(o.sharpe * sqrtYear), SharpeOverall: shAll,
			MeanPnLCurrent: c.mean, MeanPnLOther: o.mean,
			Z: z, Confidence: conf,
			Reason: fmt.Sprintf("Sharpe %.2f in %s (%d days) vs %.2f overall (%d days), a gap of %.2f >= %g; mean daily P&L %.4g vs %.4g elsewhere, z %.2f (confidence %.3f >= %g)",
				shC, current, c.n, shAll, all.n, shAll-shC, cfg.MismatchSharpeGap, c.mean, o.mean, z, conf, cfg.MismatchConfidence),
		}
	}
	return mm, rs
}

// normalCDF is the standard normal distribution function.
func normalCDF(z float64) float64 {
	return 0.5 * math.Erfc(-z/math.Sqrt2)
}
