package prices

import (
	"fmt"
	"math"
	"time"
)

// Returns holds per-period returns in the same wide layout as Table: Values
// is indexed [asset][row] and NaN marks a missing return. Dates[k] is the
// date of the later of the two prices behind row k.
type Returns struct {
	Dates  []time.Time
	Assets []string
	Values [][]float64
}

// Series is one asset's returns with its dates, missing periods left out.
type Series struct {
	Dates  []time.Time
	Values []float64
}

// Returns computes simple returns r_t = p_t / p_{t-1} - 1 per column, as
// PyPortfolioOpt's returns_from_prices does: a missing price on either day
// gives a missing return (no forward fill, so a gap never becomes a
// fictitious zero return followed by a jump), and rows where every return is
// missing are dropped (pandas' dropna(how="all")), which always removes the
// first row.
func (t *Table) Returns() *Returns {
	n := len(t.Assets)
	r := &Returns{Assets: append([]string(nil), t.Assets...), Values: make([][]float64, n)}
	for row := 1; row < len(t.Dates); row++ {
		some := false
		for a := 0; a < n; a++ {
			v := simple(t.Prices[a][row-1], t.Prices[a][row])
			if !math.IsNaN(v) {
				some = true
				break
			}
		}
		if !some {
			continue
		}
		for a := 0; a < n; a++ {
			r.Values[a] = append(r.Values[a], simple(t.Prices[a][row-1], t.Prices[a][row]))
		}
		r.Dates = append(r.Dates, t.Dates[row])
	}
	return r
}

// simple returns NaN when either price is missing, since NaN propagates
// through the division.
func simple(prev, cur float64) float64 {
	return cur/prev - 1
}

// LogReturns returns ln(p_t / p_{t-1}) for one asset, leaving out the dates
// where either price is missing. Log returns add up over time, which is what
// a Gaussian model of returns (the regime HMM) assumes.
func (t *Table) LogReturns(asset string) (Series, error) {
	a := t.Asset(asset)
	if a < 0 {
		return Series{}, fmt.Errorf("prices: no asset %q", asset)
	}
	var s Series
	p := t.Prices[a]
	for row := 1; row < len(p); row++ {
		v := math.Log(p[row] / p[row-1])
		if math.IsNaN(v) {
			continue
		}
		s.Dates = append(s.Dates, t.Dates[row])
		s.Values = append(s.Values, v)
	}
	return s, nil
}

// Column returns the named asset's returns with missing periods left out.
func (r *Returns) Column(asset string) (Series, error) {
	for a, name := range r.Assets {
		if name != asset {
			continue
		}
		var s Series
		for row, v := range r.Values[a] {
			if !math.IsNaN(v) {
				s.Dates = append(s.Dates, r.Dates[row])
				s.Values = append(s.Values, v)
			}
		}
		return s, nil
	}
	return Series{}, fmt.Errorf("prices: no asset %q", asset)
}
