package dashboard

import (
	"html/template"
	"net/http"
	"slices"
	"sort"

	"github.com/flywheel-ml/flywheel/arpo"
	"github.com/flywheel-ml/flywheel/cils"
)

// insightRows bounds every per-model list on the insights page: at 10,000
// models a list can hold thousands, and a page is for reading.
const insightRows = 50

type insightsData struct {
	CILS        *cils.Insights
	CILSVersion int64
	Degrading   []cils.Degradation
	ARPO        *arpo.Insights
	ARPOVersion int64
	Under       []arpo.Underperformance
	Sizes       []arpo.PositionAdjustment
	Violations  []arpo.RiskViolation
	Probs       []prob
	RegimeChart template.HTML
	Rows        int
}

type prob struct {
	State string
	P     float64
}

func (s *server) insightsPage(r *http.Request) (any, error) {
	ctx := r.Context()
	d := &insightsData{Rows: insightRows}
	c, in, err := s.insights.latestCILS(ctx)
	if err != nil {
		return nil, err
	}
	if c != nil {
		d.CILS, d.CILSVersion = c, in.Version
		d.Degrading = worstDegradations(c.DegradingTargets, insightRows)
	}
	a, in, err := s.insights.latestARPO(ctx)
	if err != nil {
		return nil, err
	}
	if a != nil {
		d.ARPO, d.ARPOVersion = a, in.Version
		d.Under = a.UnderperformingPositions[:min(insightRows, len(a.UnderperformingPositions))]
		d.Sizes = movedSizes(a.PositionAdjustments, insightRows)
		d.Violations = a.RiskLimits.Violations[:min(insightRows, len(a.RiskLimits.Violations))]
		for name, p := range a.Regime.Probabilities {
			d.Probs = append(d.Probs, prob{name, p})
		}
		sort.Slice(d.Probs, func(i, j int) bool { return d.Probs[i].State < d.Probs[j].State })
		hist, err := s.insights.regimeHistory(ctx, in.Version)
		if err != nil {
			return nil, err
		}
		d.RegimeChart = regimeChart(hist)
	}
	return d, nil
}

// worstDegradations returns the n largest drops first.
func worstDegradations(ds []cils.Degradation, n int) []cils.Degradation {
	out := slices.Clone(ds)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Drop > out[j].Drop })
	return out[:min(n, len(out))]
}

// movedSizes returns the n size factors furthest from 1: the models whose
// size ARPO changed the most.
func movedSizes(as []arpo.PositionAdjustment, n int) []arpo.PositionAdjustment {
	out := slices.Clone(as)
	dist := func(a arpo.PositionAdjustment) float64 {
		if a.SizeFactor > 1 {
			return a.SizeFactor - 1
		}
		return 1 - a.SizeFactor
	}
	sort.SliceStable(out, func(i, j int) bool { return dist(out[i]) > dist(out[j]) })
	return out[:min(n, len(out))]
}

// regimeChart draws each regime state's probability across the ARPO
// versions.
func regimeChart(hist []regimePoint) template.HTML {
	byState := map[string]*series{}
	var names []string
	for _, h := range hist {
		for name, p := range h.State.Probabilities {
			sr := byState[name]
			if sr == nil {
				sr = &series{Name: name}
				byState[name] = sr
				names = append(names, name)
			}
			sr.Points = append(sr.Points, point{T: h.At, V: p})
		}
	}
	sort.Strings(names)
	ss := make([]series, len(names))
	for i, n := range names {
		ss[i] = *byState[n]
	}
	return lineChart("Regime state probabilities over time", ss)
}
