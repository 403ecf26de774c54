package httpapi

import (
	"encoding/json"
	"sort"
	"strconv"

	"github.com/flywheel-ml/flywheel"
)

// The wire structs below are the records as they arrive. They are flat
// (no embedded ModelKey) so that encoding/json names a bad field by its
// JSON name alone, timestamps are strings parsed here so that a bad one
// is named, and required numbers are pointers so that a missing one is
// told from a zero. Conversions return 400-class errors for what the
// decoder would have rejected and 422 (unprocessable) for records that
// decode but are not acceptable.

// wireObservation is a live observation as posted.
type wireObservation struct {
	EventID      string   `json:"event_id"`
	TS           *string  `json:"ts"`
	Target       string   `json:"target"`
	ModelFamily  string   `json:"model_family"`
	ModelVersion string   `json:"model_version"`
	Symbol       string   `json:"symbol"`
	PnL          *float64 `json:"pnl"`
	Position     *float64 `json:"position"`
	ExpectedPnL  *float64 `json:"expected_pnl"`
	Prediction   *float64 `json:"prediction"`
	Outcome      *float64 `json:"outcome"`
	Regime       string   `json:"regime"`
}

// observation converts and validates. It is on the hot path of live
// ingestion: no reflection and no allocation beyond what decoding did.
func (w *wireObservation) observation() (flywheel.Observation, error) {
	ts, err := parseTime("ts", w.TS, true)
	if err != nil {
		return flywheel.Observation{}, unprocessable(err)
	}
	if w.PnL == nil {
		return flywheel.Observation{}, unprocessable(flywheel.FieldError("pnl", "is required"))
	}
	o := flywheel.Observation{
		EventID:      w.EventID,
		TS:           ts,
		ModelKey:     flywheel.ModelKey{Target: w.Target, ModelFamily: w.ModelFamily},
		ModelVersion: w.ModelVersion,
		Symbol:       w.Symbol,
		PnL:          *w.PnL,
		Position:     w.Position,
		ExpectedPnL:  w.ExpectedPnL,
		Prediction:   w.Prediction,
		Outcome:      w.Outcome,
		Regime:       w.Regime,
	}
	if err := o.Validate(); err != nil {
		return flywheel.Observation{}, unprocessable(err)
	}
	return o, nil
}

// wireDeployment is a deployment as posted.
type wireDeployment struct {
	Target       string  `json:"target"`
	ModelFamily  string  `json:"model_family"`
	ModelVersion string  `json:"model_version"`
	RunID        string  `json:"run_id"`
	DeployedAt   *string `json:"deployed_at"`
}

func (w *wireDeployment) deployment() (flywheel.Deployment, error) {
	at, err := parseTime("deployed_at", w.DeployedAt, true)
	if err != nil {
		return flywheel.Deployment{}, unprocessable(err)
	}
	d := flywheel.Deployment{
		ModelKey:     flywheel.ModelKey{Target: w.Target, ModelFamily: w.ModelFamily},
		ModelVersion: w.ModelVersion,
		RunID:        w.RunID,
		DeployedAt:   at,
	}
	if err := d.Validate(); err != nil {
		return flywheel.Deployment{}, unprocessable(err)
	}
	return d, nil
}

// wireRun is a training run as posted. Its nested parts are kept raw and
// decoded one by one (decodeParts) so that an error inside them is named
// by its full path ("leakage_events[2].score", "metrics.auc"), which
// encoding/json cannot do for map keys and list indices. Runs are few, so
// the second pass over those bytes costs nothing that matters.
type wireRun struct {
	RunID             string          `json:"run_id"`
	JobID             string          `json:"job_id"`
	Target            string          `json:"target"`
	ModelFamily       string          `json:"model_family"`
	FeatureSet        string          `json:"feature_set"`
	Kind              string          `json:"kind"`
	Config            json.RawMessage `json:"config"`
	StartedAt         *string         `json:"started_at"`
	FinishedAt        *string         `json:"finished_at"`
	Status            string          `json:"status"`
	Metrics           json.RawMessage `json:"metrics"`
	FoldScores        json.RawMessage `json:"fold_scores"`
	FeatureImportance json.RawMessage `json:"feature_importance"`
	LeakageEvents     json.RawMessage `json:"leakage_events"`
	Cost              json.RawMessage `json:"cost"`
	DataWindow        json.RawMessage `json:"data_window"`
	Regime            string          `json:"regime"`
	// ReceivedAt is set by the store; it is accepted and ignored so that a
	// run read from the API can be posted back unchanged.
	ReceivedAt *string `json:"received_at"`
}

type wireLeakageEvent struct {
	Feature   string   `json:"feature"`
	Score     *float64 `json:"score"`
	Threshold *float64 `json:"threshold"`
	Confirmed *bool    `json:"confirmed"`
}

type wireCost struct {
	GPUHours    float64 `json:"gpu_hours"`
	CPUHours    float64 `json:"cpu_hours"`
	WallSeconds float64 `json:"wall_seconds"`
}

type wireDataWindow struct {
	From *string `json:"from"`
	To   *string `json:"to"`
}

// runParts are the nested parts of a run after their own decoding.
type runParts struct {
	config     map[string]any
	metrics    map[string]float64
	folds      []float64
	importance map[string]float64
	leaks      []wireLeakageEvent
	cost       wireCost
	window     *wireDataWindow
}

// decodeParts decodes the nested parts; its errors are decoding errors
// (400), like those of the top level.
func (w *wireRun) decodeParts() (runParts, error) {
	var p runParts
	var err error
	if err = decodeField(w.Config, "config", &p.config); err != nil {
		return p, err
	}
	if p.metrics, err = decodeNumberMap(w.Metrics, "metrics"); err != nil {
		return p, err
	}
	if p.importance, err = decodeNumberMap(w.FeatureImportance, "feature_importance"); err != nil {
		return p, err
	}
	if p.folds, err = decodeNumberList(w.FoldScores, "fold_scores"); err != nil {
		return p, err
	}
	if p.leaks, err = decodeLeakageEvents(w.LeakageEvents); err != nil {
		return p, err
	}
	if err = decodeField(w.Cost, "cost", &p.cost); err != nil {
		return p, err
	}
	if !isNull(w.DataWindow) {
		p.window = new(wireDataWindow)
		if err = decodeField(w.DataWindow, "data_window", p.window); err != nil {
			return p, err
		}
	}
	return p, nil
}

func (w *wireRun) run() (flywheel.Run, error) {
	p, err := w.decodeParts()
	if err != nil {
		return flywheel.Run{}, err
	}
	r, err := w.convert(p)
	if err != nil {
		return flywheel.Run{}, unprocessable(err)
	}
	if err := r.Validate(); err != nil {
		return flywheel.Run{}, unprocessable(err)
	}
	return r, nil
}

// convert builds the domain run; its errors are about values, not shapes.
func (w *wireRun) convert(p runParts) (flywheel.Run, error) {
	r := flywheel.Run{
		RunID:             w.RunID,
		JobID:             w.JobID,
		ModelKey:          flywheel.ModelKey{Target: w.Target, ModelFamily: w.ModelFamily},
		FeatureSet:        w.FeatureSet,
		Kind:              w.Kind,
		Config:            p.config,
		Status:            flywheel.RunStatus(w.Status),
		Metrics:           p.metrics,
		FoldScores:        p.folds,
		FeatureImportance: p.importance,
		Cost:              flywheel.Cost(p.cost),
		Regime:            w.Regime,
	}
	var err error
	if r.StartedAt, err = parseTime("started_at", w.StartedAt, true); err != nil {
		return r, err
	}
	if w.FinishedAt != nil {
		t, err := parseTime("finished_at", w.FinishedAt, true)
		if err != nil {
			return r, err
		}
		r.FinishedAt = &t
	}
	if p.window != nil {
		r.DataWindow = &flywheel.DataWindow{}
		if r.DataWindow.From, err = parseTime("data_window.from", p.window.From, true); err != nil {
			return r, err
		}
		if r.DataWindow.To, err = parseTime("data_window.to", p.window.To, true); err != nil {
			return r, err
		}
	}
	for i, l := range p.leaks {
		field := "leakage_events[" + strconv.Itoa(i) + "]"
		if l.Score == nil {
			return r, flywheel.FieldError(field+".score", "is required")
		}
		if l.Threshold == nil {
			return r, flywheel.FieldError(field+".threshold", "is required")
		}
		r.LeakageEvents = append(r.LeakageEvents, flywheel.LeakageEvent{
			Feature: l.Feature, Score: *l.Score, Threshold: *l.Threshold, Confirmed: l.Confirmed,
		})
	}
	return r, nil
}

// decodeNumberMap decodes a name -> number object, naming a bad value by
// its key. Keys are visited in order so that the first error reported
// does not depend on map iteration.
func decodeNumberMap(raw json.RawMessage, field string) (map[string]float64, error) {
	if isNull(raw) {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := decodeField(raw, field, &m); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(map[string]float64, len(m))
	for _, k := range keys {
		v, err := decodeNumber(m[k], field+"."+k)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

// decodeNumberList decodes an array of numbers, naming a bad element by
// its index.
func decodeNumberList(raw json.RawMessage, field string) ([]float64, error) {
	if isNull(raw) {
		return nil, nil
	}
	var items []json.RawMessage
	if err := decodeField(raw, field, &items); err != nil {
		return nil, err
	}
	out := make([]float64, len(items))
	for i, item := range items {
		v, err := decodeNumber(item, field+"["+strconv.Itoa(i)+"]")
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func decodeLeakageEvents(raw json.RawMessage) ([]wireLeakageEvent, error) {
	if isNull(raw) {
		return nil, nil
	}
	var items []json.RawMessage
	if err := decodeField(raw, "leakage_events", &items); err != nil {
		return nil, err
	}
	out := make([]wireLeakageEvent, len(items))
	for i, item := range items {
		field := "leakage_events[" + strconv.Itoa(i) + "]"
		if isNull(item) {
			return nil, flywheel.FieldError(field, "must be an object, not null")
		}
		if err := decodeField(item, field, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}
