package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/prices"
)

// dataset is the samples of one target: one per table row that has every
// feature and a label, in time order.
type dataset struct {
	target Target
	names  []string
	x      [][]float64 // [feature][sample]
	y      []float64   // the label: forward log return, or 0/1 for barriers
	y01    []float64   // the class logistic regression fits
	spans  []Span
	dates  []time.Time
	mktVol []float64 // the market's 20-day volatility, for regimes
	// lastLabel is the date of the last price any label used.
	lastLabel time.Time
}

// newDataset builds the samples of tg from the table; leak adds
// LeakFeature with noise drawn from seed.
func newDataset(tab *prices.Table, tg Target, leak bool, seed uint64) (*dataset, error) {
	a := tab.Asset(tg.Asset)
	if a < 0 {
		return nil, flywheel.FieldError("target", "%q: asset %q is not a column of the price file (columns: %s)",
			tg.Name, tg.Asset, strings.Join(tab.Assets, ", "))
	}
	cols := buildFeatures(tab, a)
	if leak {
		// The stream is separate from any other use of the seed so that
		// adding draws elsewhere never changes the leak.
		cols.addLeak(tg.Horizon, rand.New(rand.NewPCG(seed, 0x1eacc)))
	}
	label := tg.labels(cols.logp, cols.values[slices.Index(cols.names, FeatureVol20d)])
	ds := &dataset{target: tg, names: cols.names, x: make([][]float64, len(cols.names))}
	for t := range tab.Dates {
		if !usable(cols, label, t) {
			continue
		}
		for j := range cols.values {
			ds.x[j] = append(ds.x[j], cols.values[j][t])
		}
		ds.y = append(ds.y, label[t])
		ds.y01 = append(ds.y01, classOf(tg, label[t]))
		ds.spans = append(ds.spans, Span{Start: t, End: t + tg.Horizon})
		ds.dates = append(ds.dates, tab.Dates[t])
		ds.mktVol = append(ds.mktVol, cols.mktVol[t])
		ds.lastLabel = tab.Dates[t+tg.Horizon]
	}
	if len(ds.y) == 0 {
		return nil, fmt.Errorf("no samples for %s: asset %s has no run of %d consecutive prices (%d days of history for the features plus the %d-day horizon)",
			tg.Name, tg.Asset, Lookback+tg.Horizon+1, Lookback, tg.Horizon)
	}
	return ds, nil
}

// usable reports whether row t has every feature, the market volatility
// and a label.
func usable(c *columns, label []float64, t int) bool {
	if !finite(label[t]) || !finite(c.mktVol[t]) {
		return false
	}
	for _, col := range c.values {
		if !finite(col[t]) {
			return false
		}
	}
	return true
}

// classOf is the class of a label: up moves for forward returns (a flat
// return counts as down, so that "1" always means "the long side won").
func classOf(tg Target, y float64) float64 {
	if tg.Kind == KindForwardReturn {
		if y > 0 {
			return 1
		}
		return 0
	}
	return y
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// standardiser centres and scales features with statistics of the
// training samples only: scaling with the test samples' mean would hand
// the model a glimpse of the test period.
type standardiser struct {
	feats     []int
	mean, std []float64
}

func (ds *dataset) standardiser(feats, rows []int) standardiser {
	s := standardiser{feats: feats, mean: make([]float64, len(feats)), std: make([]float64, len(feats))}
	vals := make([]float64, len(rows))
	for k, j := range feats {
		for r, i := range rows {
			vals[r] = ds.x[j][i]
		}
		s.mean[k], s.std[k] = meanStd(vals)
		if !(s.std[k] > 0) {
			s.std[k] = 1 // a constant feature stays 0 after centring
		}
	}
	return s
}

// design returns the standardised feature matrix of rows.
func (ds *dataset) design(s standardiser, rows []int) *mat.Dense {
	data := make([]float64, 0, len(rows)*len(s.feats))
	for _, i := range rows {
		for k, j := range s.feats {
			data = append(data, (ds.x[j][i]-s.mean[k])/s.std[k])
		}
	}
	return mat.NewDense(len(rows), len(s.feats), data)
}

// pick returns v at rows.
func pick(v []float64, rows []int) []float64 {
	out := make([]float64, len(rows))
	for r, i := range rows {
		out[r] = v[i]
	}
	return out
}

// regimeOf places a market volatility against the quantiles of a
// reference sample: "calm" at or below the median, "crisis" above the
// 90th percentile, "volatile" in between. A simple, model-free rule on
// purpose: the pipeline must label every row the same way in every run,
// which an HMM refitted on each fold's data would not.
type regimeCut struct{ median, p90 float64 }

func newRegimeCut(vol []float64) regimeCut {
	s := slices.Clone(vol)
	slices.Sort(s)
	q := func(p float64) float64 { return s[int(p*float64(len(s)-1))] }
	return regimeCut{median: q(0.5), p90: q(0.9)}
}

func (c regimeCut) name(v float64) string {
	switch {
	case v <= c.median:
		return "calm"
	case v > c.p90:
		return "crisis"
	}
	return "volatile"
}

// matches reports whether a row with market volatility v belongs to the
// filter's regime. "volatile" takes every row above the median, crisis
// rows included: a two-state regime model (as ARPO may use) has no
// crisis state, and its volatile state covers those days.
func (c regimeCut) matches(filter string, v float64) bool {
	switch filter {
	case "calm":
		return v <= c.median
	case "volatile":
		return v > c.median
	case "crisis":
		return v > c.p90
	}
	return false
}

// regimeWeights returns a weight per sample (indexed like the samples)
// from the regime of each training row, with the regime cut-offs taken
// from the training rows alone; nil when every row weighs the same.
func (ds *dataset) regimeWeights(train []int, filter string, weight float64) []float64 {
	if filter == "" || weight == 1 {
		return nil
	}
	cut := newRegimeCut(pick(ds.mktVol, train))
	w := make([]float64, len(ds.y))
	for _, i := range train {
		w[i] = 1
		if cut.matches(filter, ds.mktVol[i]) {
			w[i] = weight
		}
	}
	return w
}
