package backtest

import (
	"errors"
	"fmt"
	"os"

	"github.com/goccy/go-yaml"
)

// Scenario describes the synthetic market and the compute it is traded
// with. Every field has a documented default (DefaultScenario); a YAML
// file sets only what it changes.
type Scenario struct {
	// Models is the number of models traded, one per synthetic asset.
	Models int `yaml:"models" json:"models"`
	// Days is the number of trading days replayed.
	Days int `yaml:"days" json:"days"`

	// Edge is the mean daily Sharpe ratio of a freshly trained model in
	// the regime it was trained in; EdgeSpread the log-normal spread of
	// the models' edges around it.
	Edge       float64 `yaml:"edge" json:"edge"`
	EdgeSpread float64 `yaml:"edge_spread" json:"edge_spread"`
	// DecayRate is the mean rate, per trading day, at which a model's edge
	// decays exponentially after training; DecaySpread the log-normal
	// spread of the models' rates around it.
	DecayRate   float64 `yaml:"decay_rate" json:"decay_rate"`
	DecaySpread float64 `yaml:"decay_spread" json:"decay_spread"`
	// RegimePenalty multiplies a model's edge while the market is in a
	// regime other than the one it was trained in.
	RegimePenalty float64 `yaml:"regime_penalty" json:"regime_penalty"`

	// ToVolatile and ToCalm are the daily probabilities of a regime
	// switch out of the calm and out of the volatile regime.
	ToVolatile float64 `yaml:"to_volatile" json:"to_volatile"`
	ToCalm     float64 `yaml:"to_calm" json:"to_calm"`
	// DailyVol is a model's daily P&L volatility in the calm regime;
	// VolatileMultiplier scales it in the volatile one.
	DailyVol           float64 `yaml:"daily_vol" json:"daily_vol"`
	VolatileMultiplier float64 `yaml:"volatile_multiplier" json:"volatile_multiplier"`
	// VolPersistence and VolShock are the GARCH(1,1) beta and alpha of the
	// volatility clustering inside a regime.
	VolPersistence float64 `yaml:"vol_persistence" json:"vol_persistence"`
	VolShock       float64 `yaml:"vol_shock" json:"vol_shock"`
	// FactorLoading is the correlation of every model's P&L noise with the
	// common market factor.
	FactorLoading float64 `yaml:"factor_loading" json:"factor_loading"`

	// RetrainNoise is the relative spread of a retrained model's edge
	// around its model's fresh edge; ScoreNoise the noise of a run's
	// validation score around the true edge.
	RetrainNoise float64 `yaml:"retrain_noise" json:"retrain_noise"`
	ScoreNoise   float64 `yaml:"score_noise" json:"score_noise"`
	// EvaluateEvery is how often, in trading days, the pipeline scores
	// each deployed model on recent data (an evaluation run: the model's
	// current score, decay and regime included, plus ScoreNoise); 0 means
	// never. Evaluations train nothing and are not charged to the budget.
	EvaluateEvery int `yaml:"evaluate_every" json:"evaluate_every"`
	// RetrainCost is a run's compute in units; RetrainDays its duration in
	// days; UnitPrice the P&L one compute unit costs.
	RetrainCost float64 `yaml:"retrain_cost" json:"retrain_cost"`
	RetrainDays float64 `yaml:"retrain_days" json:"retrain_days"`
	UnitPrice   float64 `yaml:"unit_price" json:"unit_price"`
	// Budget is the daily compute budget in units; MaxConcurrent the jobs
	// that may run at once. Every policy gets the same.
	Budget        float64 `yaml:"budget" json:"budget"`
	MaxConcurrent int     `yaml:"max_concurrent" json:"max_concurrent"`
	// InitialAgeDays spreads the models' ages at the start uniformly over
	// [0, InitialAgeDays) so that they do not all decay in step.
	InitialAgeDays int `yaml:"initial_age_days" json:"initial_age_days"`
	// ValueHorizon is the number of trading days over which the oracle
	// counts what a retrain adds.
	ValueHorizon int `yaml:"value_horizon" json:"value_horizon"`
}

// DefaultScenario returns the defaults. A fresh model earns a daily
// Sharpe of 0.1 (1.6 a year) and loses it with a median half-life of
// about 70 trading days, spread so that some models need retraining every
// month and others twice a year. The calm regime lasts about 100 days and
// the volatile one about 25; a model trained in the other regime keeps half
// its edge. The pipeline scores every deployed model once a week. A run costs 2 units (0.2% of a unit of capital at 0.001 a unit)
// and takes a day; the budget of 6 units a day allows three runs, a third
// of what retraining every model every week would take.
func DefaultScenario() Scenario {
	return Scenario{
		Models: 20, Days: 500,
		Edge: 0.10, EdgeSpread: 0.25,
		DecayRate: 0.01, DecaySpread: 0.6,
		RegimePenalty: 0.5,
		ToVolatile:    0.01, ToCalm: 0.04,
		DailyVol: 0.01, VolatileMultiplier: 2,
		VolPersistence: 0.90, VolShock: 0.05,
		FactorLoading: 0.4,
		RetrainNoise:  0.15, ScoreNoise: 0.01, EvaluateEvery: 5,
		RetrainCost: 2, RetrainDays: 1, UnitPrice: 0.001,
		Budget: 6, MaxConcurrent: 3,
		InitialAgeDays: 120, ValueHorizon: 60,
	}
}

// LoadScenario reads a scenario file over the defaults. Unknown fields
// and wrong types are refused with the field named.
func LoadScenario(path string) (Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Scenario{}, fmt.Errorf("read scenario: %w", err)
	}
	s, err := ParseScenario(data)
	if err != nil {
		return Scenario{}, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// ParseScenario decodes a scenario from YAML over the defaults.
func ParseScenario(data []byte) (Scenario, error) {
	s := DefaultScenario()
	if err := yaml.UnmarshalWithOptions(data, &s, yaml.DisallowUnknownField(), yaml.Strict()); err != nil {
		return Scenario{}, errors.New(yaml.FormatError(err, false, true))
	}
	if err := s.Validate(); err != nil {
		return Scenario{}, err
	}
	return s, nil
}

// Validate returns an error naming the first field out of range.
func (s Scenario) Validate() error {
	type check struct {
		name   string
		v      float64
		lo, hi float64
	}
	for _, c := range []check{
		{"models", float64(s.Models), 1, 100000},
		{"days", float64(s.Days), 30, 100000},
		{"edge", s.Edge, 0, 10},
		{"edge_spread", s.EdgeSpread, 0, 5},
		{"decay_rate", s.DecayRate, 0, 1},
		{"decay_spread", s.DecaySpread, 0, 5},
		{"regime_penalty", s.RegimePenalty, 0, 1},
		{"to_volatile", s.ToVolatile, 0, 1},
		{"to_calm", s.ToCalm, 0, 1},
		{"daily_vol", s.DailyVol, 1e-9, 1},
		{"volatile_multiplier", s.VolatileMultiplier, 1, 100},
		{"vol_persistence", s.VolPersistence, 0, 0.999},
		{"vol_shock", s.VolShock, 0, 1 - s.VolPersistence},
		{"factor_loading", s.FactorLoading, 0, 0.999},
		{"retrain_noise", s.RetrainNoise, 0, 5},
		{"score_noise", s.ScoreNoise, 0, 10},
		{"evaluate_every", float64(s.EvaluateEvery), 0, 100000},
		{"retrain_cost", s.RetrainCost, 1e-6, 1e6},
		{"retrain_days", s.RetrainDays, 0.01, 365},
		{"unit_price", s.UnitPrice, 0, 1e6},
		{"budget", s.Budget, 0, 1e9},
		{"max_concurrent", float64(s.MaxConcurrent), 1, 100000},
		{"initial_age_days", float64(s.InitialAgeDays), 0, 100000},
		{"value_horizon", float64(s.ValueHorizon), 1, 100000},
	} {
		if !(c.v >= c.lo && c.v <= c.hi) {
			return fmt.Errorf("%s: %v is outside [%v, %v]", c.name, c.v, c.lo, c.hi)
		}
	}
	return nil
}
