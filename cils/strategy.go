package cils

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/flywheel-ml/flywheel"
)

// Strategy is a feature-selection strategy as the pipeline's config names
// it. Zero fields were not set.
type Strategy struct {
	TopN              int                `json:"top_n,omitempty"`
	AggregationMethod string             `json:"aggregation_method,omitempty"`
	ModelWeights      map[string]float64 `json:"model_weights,omitempty"`
}

// Key is a canonical text form: equal strategies have equal keys.
func (s Strategy) Key() string {
	r := strategyReader{topN: s.TopN, agg: s.AggregationMethod}
	for name, w := range s.ModelWeights {
		r.weights = append(r.weights, weight{name, w})
	}
	slices.SortFunc(r.weights, func(a, b weight) int { return strings.Compare(a.name, b.name) })
	return string(r.appendKey(nil))
}

// StrategyOf reads the strategy from a run's config: the keys top_n,
// aggregation_method and model_weights in the map config["feature_selection"],
// each falling back to the same key at the top level. It reports false when
// none is set or one is malformed (top_n not a positive whole number,
// aggregation_method not a string, model_weights not a map of numbers):
// such a run says nothing reliable about strategies.
func StrategyOf(config map[string]any) (Strategy, bool) {
	var r strategyReader
	if !r.read(config) {
		return Strategy{}, false
	}
	return r.strategy(), true
}

type weight struct {
	name string
	w    float64
}

// strategyReader parses strategies into buffers it reuses, so that reading
// every run of a large snapshot allocates only for strategies not seen
// before.
type strategyReader struct {
	topN    int
	agg     string
	weights []weight // sorted by name
	key     []byte   // the canonical key of the last read
}

// read parses config (see StrategyOf) and sets r.key.
func (r *strategyReader) read(config map[string]any) bool {
	r.topN, r.agg, r.weights = 0, "", r.weights[:0]
	fs, _ := config["feature_selection"].(map[string]any)
	found := false
	if v, ok := setting(fs, config, "top_n"); ok {
		f, num := toFloat(v)
		if !num || f < 1 || f != math.Trunc(f) || f > math.MaxInt32 {
			return false
		}
		r.topN, found = int(f), true
	}
	if v, ok := setting(fs, config, "aggregation_method"); ok {
		str, isStr := v.(string)
		if !isStr {
			return false
		}
		r.agg, found = str, true
	}
	if v, ok := setting(fs, config, "model_weights"); ok {
		switch m := v.(type) {
		case map[string]float64:
			for name, w := range m {
				r.weights = append(r.weights, weight{name, w})
			}
		case map[string]any:
			for name, x := range m {
				w, num := toFloat(x)
				if !num {
					return false
				}
				r.weights = append(r.weights, weight{name, w})
			}
		default:
			return false
		}
		for _, w := range r.weights {
			if !finite(w.w) {
				return false
			}
		}
		slices.SortFunc(r.weights, func(a, b weight) int { return strings.Compare(a.name, b.name) })
		found = true
	}
	r.key = r.appendKey(r.key[:0])
	return found
}

// setting returns config's value for key, from the feature_selection map
// first.
func setting(fs, config map[string]any, key string) (any, bool) {
	if v, ok := fs[key]; ok && v != nil {
		return v, true
	}
	v, ok := config[key]
	return v, ok && v != nil
}

func (r *strategyReader) appendKey(b []byte) []byte {
	b = append(b, "top_n="...)
	if r.topN > 0 {
		b = strconv.AppendInt(b, int64(r.topN), 10)
	}
	b = append(b, " aggregation_method="...)
	b = append(b, r.agg...)
	b = append(b, " model_weights="...)
	for i, w := range r.weights {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, w.name...)
		b = append(b, ':')
		b = strconv.AppendFloat(b, w.w, 'g', -1, 64)
	}
	return b
}

// strategy returns the last read strategy, with its own weights map.
func (r *strategyReader) strategy() Strategy {
	s := Strategy{TopN: r.topN, AggregationMethod: r.agg}
	if len(r.weights) > 0 {
		s.ModelWeights = make(map[string]float64, len(r.weights))
		for _, w := range r.weights {
			s.ModelWeights[w.name] = w.w
		}
	}
	return s
}

// toFloat accepts the number types a config decoded from JSON, YAML or Go
// code holds.
func toFloat(v any) (float64, bool) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case float32:
		f = float64(x)
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case int32:
		f = float64(x)
	case uint64:
		f = float64(x)
	case uint32:
		f = float64(x)
	case uint:
		f = float64(x)
	case json.Number:
		var err error
		if f, err = x.Float64(); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	return f, finite(f)
}

// StrategyEstimate is one strategy's estimated effect within a kind. The
// effect is in score units, against the kind's average strategy on the
// same model: the model-level effect is removed, so hard and easy targets
// compare fairly.
type StrategyEstimate struct {
	Strategy Strategy `json:"strategy"`
	Key      string   `json:"key"`
	Runs     int      `json:"runs"`
	Models   int      `json:"models"`
	// Effect is the least-squares estimate and StdErr its standard error.
	Effect float64 `json:"effect"`
	StdErr float64 `json:"std_err"`
	// Shrunk is Effect shrunk toward the kind's mean (0) by empirical Bayes;
	// PosteriorSD its uncertainty; UCB = Shrunk + z * PosteriorSD, the rank.
	Shrunk      float64 `json:"shrunk"`
	PosteriorSD float64 `json:"posterior_sd"`
	UCB         float64 `json:"ucb"`
}

// StrategyGain is what switching a model to its kind's best strategy is
// expected to bring.
type StrategyGain struct {
	flywheel.ModelKey
	// Current is the key of the strategy of the model's latest run.
	Current string `json:"current"`
	// ExpectedImprovement is the difference of the shrunk effects, in
	// score units; RelativeImprovement divides it by the model's level,
	// max(|median of its last baseline_runs scores|, scale_floor).
	ExpectedImprovement float64 `json:"expected_improvement"`
	RelativeImprovement float64 `json:"relative_improvement"`
	Level               float64 `json:"level"`
}

// KindStrategy is the learned strategy of one target kind.
type KindStrategy struct {
	Kind string `json:"kind"`
	// Strategy is the recommendation: the candidate with the highest UCB.
	Strategy Strategy `json:"strategy"`
	Key      string   `json:"key"`
	// Exploring is true when the recommendation is not the candidate with
	// the best shrunk effect but one too little tried to rule out.
	Exploring bool `json:"exploring"`
	Runs      int  `json:"runs"`
	Models    int  `json:"models"`
	// NoiseSD is the residual standard deviation of a run's score; PriorSD
	// the spread of true strategy effects (0: no detectable difference).
	NoiseSD    float64            `json:"noise_sd"`
	PriorSD    float64            `json:"prior_sd"`
	Candidates []StrategyEstimate `json:"candidates"`
	Targets    []StrategyGain     `json:"targets"`
	// Unconnected lists strategies only tried on models that tried no
	// strategy of the main group, so no within-model comparison exists.
	Unconnected []string `json:"unconnected,omitempty"`
	// Rare counts strategies left out because the kind has more than
	// max_strategies; the ones with the fewest runs go.
	Rare int `json:"rare,omitempty"`
}

func strategyReason(ks *KindStrategy, g StrategyGain) flywheel.Reason {
	return flywheel.Reason{
		Source: flywheel.SourceCILS,
		Kind:   ReasonBetterStrategy,
		Message: fmt.Sprintf("strategy %q is expected to raise the validation score by %.4g (%.1f%% of its level %.4g) over the current %q",
			ks.Key, g.ExpectedImprovement, 100*g.RelativeImprovement, g.Level, g.Current),
		Values: map[string]float64{
			"expected_improvement": g.ExpectedImprovement,
			"relative_improvement": g.RelativeImprovement,
			"level":                g.Level,
		},
	}
}
