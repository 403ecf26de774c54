package dashboard

import (
	"html/template"
	"net/http"
	"slices"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/arpo"
)

// Bounds of a model page's queries.
const (
	modelRuns     = 200
	modelRows     = 20
	modelObsDays  = 90
	modelMaxObs   = 5000
	modelListRows = 20
)

type modelData struct {
	Model       flywheel.Model
	Runs        []flywheel.Run
	RunCount    int
	ScoreChart  template.HTML
	Live        flywheel.LiveSummary
	PnLChart    template.HTML
	PosChart    template.HTML
	LastPos     *float64
	Perf        *arpo.ModelPerformance
	Adjustment  *arpo.PositionAdjustment
	ARPOVersion int64
	Signals     []flywheel.Signal
	Jobs        []flywheel.Job
	Outcomes    []flywheel.Outcome
}

func (s *server) model(r *http.Request) (any, error) {
	ctx := r.Context()
	k := flywheel.ModelKey{Target: r.PathValue("target"), ModelFamily: r.PathValue("family")}
	if err := k.Validate(); err != nil {
		return nil, flywheel.Errorf(flywheel.ENotFound, "no model %s", k)
	}
	m, err := s.store.Model(ctx, k)
	if err != nil {
		return nil, err
	}
	d := &modelData{Model: m}
	runs, err := s.store.Runs(ctx, flywheel.RunFilter{Target: k.Target, ModelFamily: k.ModelFamily, Limit: modelRuns})
	if err != nil {
		return nil, err
	}
	d.Runs, d.RunCount = runs[:min(modelRows, len(runs))], len(runs)
	d.ScoreChart = scoreChart(runs)
	if d.Live, err = s.store.LiveSummary(ctx, k, time.Time{}, time.Time{}); err != nil {
		return nil, err
	}
	obs, err := s.store.Observations(ctx, flywheel.ObservationFilter{Model: k,
		Since: s.now().AddDate(0, 0, -modelObsDays), Limit: modelMaxObs})
	if err != nil {
		return nil, err
	}
	d.PnLChart, d.PosChart, d.LastPos = liveCharts(obs)
	if err := s.modelInsights(r, k, d); err != nil {
		return nil, err
	}
	if d.Signals, err = s.store.Signals(ctx, flywheel.SignalFilter{Model: &k, Limit: modelListRows}); err != nil {
		return nil, err
	}
	if d.Jobs, err = s.store.Jobs(ctx, flywheel.JobFilter{Model: &k, Limit: modelListRows}); err != nil {
		return nil, err
	}
	if d.Outcomes, err = s.store.Outcomes(ctx, flywheel.OutcomeFilter{Model: &k, Limit: modelListRows}); err != nil {
		return nil, err
	}
	return d, nil
}

func (s *server) modelInsights(r *http.Request, k flywheel.ModelKey, d *modelData) error {
	a, in, err := s.insights.latestARPO(r.Context())
	if err != nil || a == nil {
		return err
	}
	d.ARPOVersion = in.Version
	if p, ok := a.Performance(k); ok {
		d.Perf = &p
	}
	if adj, ok := a.Adjustment(k); ok {
		d.Adjustment = &adj
	}
	return nil
}

// scoreChart draws the validation score of the successful runs, oldest
// first (the store lists them newest first).
func scoreChart(runs []flywheel.Run) template.HTML {
	var pts []point
	for _, r := range slices.Backward(runs) {
		if v, ok := r.ValidationScore(); ok && r.Status == flywheel.RunSucceeded {
			pts = append(pts, point{T: r.StartedAt, V: v})
		}
	}
	return lineChart("Validation score per run", []series{{Name: "validation_score", Points: pts}})
}

// liveCharts draws cumulative P&L and position over the observations and
// returns the latest position reported.
func liveCharts(obs []flywheel.Observation) (pnl, pos template.HTML, last *float64) {
	var cum, position []point
	total := 0.0
	for _, o := range obs {
		total += o.PnL
		cum = append(cum, point{T: o.TS, V: total})
		if o.Position != nil {
			position = append(position, point{T: o.TS, V: *o.Position})
			last = o.Position
		}
	}
	return lineChart("Cumulative live P&L", []series{{Name: "cumulative P&L", Points: cum}}),
		lineChart("Position size", []series{{Name: "position", Points: position}}), last
}
