package orchestrator

import (
	"maps"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/arpo"
	"github.com/flywheel-ml/flywheel/cils"
)

// The training update of seed 3.2 for a model whose position was cut.
const (
	EarlyStoppingPatience = 10 // more patience
	CrossValidationFolds  = 5  // more CV folds
)

// ConfigUpdate is one learner's config update for a retrain of a model,
// in the seed's shape (section 3.2 and 7.2): {"target": T, "source":
// "CILS"|"ARPO", "updates": {...}}. SignalID and ModelFamily say which
// signal's retrain it belongs to.
type ConfigUpdate struct {
	SignalID    string  `json:"signal_id,omitempty"`
	Target      string  `json:"target"`
	ModelFamily string  `json:"model_family,omitempty"`
	Source      string  `json:"source"`
	Updates     Updates `json:"updates"`
}

// Updates are the sections of the pipeline's config an update changes;
// nil sections are left alone.
type Updates struct {
	LeakageDetection *LeakageDetectionUpdate `json:"leakage_detection,omitempty"`
	FeatureSelection *FeatureSelectionUpdate `json:"feature_selection,omitempty"`
	Training         *TrainingUpdate         `json:"training,omitempty"`
	DataSampling     *DataSamplingUpdate     `json:"data_sampling,omitempty"`
}

// LeakageDetectionUpdate sets the target's leakage thresholds, written
// under target_specific.<target> of leakage_detection.yaml. The learned
// threshold is under the key "threshold", the key the pipeline's
// detector reads.
type LeakageDetectionUpdate struct {
	Thresholds map[string]float64 `json:"thresholds"`
}

// FeatureSelectionUpdate is the kind's recommended strategy, written to
// feature_selection/<target>.yaml. Fields the strategy does not set are
// left out rather than written as zero.
type FeatureSelectionUpdate struct {
	TopN              int                `json:"top_n,omitempty"`
	AggregationMethod string             `json:"aggregation_method,omitempty"`
	ModelWeights      map[string]float64 `json:"model_weights,omitempty"`
}

// TrainingUpdate emphasises validation for an underperforming model.
type TrainingUpdate struct {
	FocusOnValidation     bool `json:"focus_on_validation"`
	EarlyStoppingPatience int  `json:"early_stopping_patience"`
	CrossValidationFolds  int  `json:"cross_validation_folds"`
}

// DataSamplingUpdate makes training emphasise the current regime.
type DataSamplingUpdate struct {
	RegimeFilter string  `json:"regime_filter"`
	RegimeWeight float64 `json:"regime_weight"`
}

// ConfigUpdatesFor returns the config updates for a retrain of a model,
// by the seed's rules (section 3.2, generate_config_updates), whatever
// the source of the signal:
//
//   - CILS: the kind has an optimal leakage threshold -> leakage_detection
//     thresholds; a better strategy is available (the same test as the
//     priority's better-strategy indicator) -> feature_selection top_n,
//     aggregation_method, model_weights.
//   - ARPO: the model's size factor is below signals.position_cut_below ->
//     training focus_on_validation true, early_stopping_patience 10,
//     cross_validation_folds 5; the target has a regime strategy ->
//     data_sampling regime_filter, regime_weight.
//
// It returns at most one update per source, CILS first, and none when
// neither learner has anything to change.
func ConfigUpdatesFor(cfg *Config, k flywheel.ModelKey, c *cils.Insights, a *arpo.Insights) []ConfigUpdate {
	x := newIndex(&Snapshot{CILS: c, ARPO: a})
	return x.configUpdates(cfg, k, "")
}

func (x *index) configUpdates(cfg *Config, k flywheel.ModelKey, signalID string) []ConfigUpdate {
	var out []ConfigUpdate
	var fromCILS Updates
	if t, ok := x.thresholds[flywheel.TargetKind(k.Target)]; ok {
		fromCILS.LeakageDetection = &LeakageDetectionUpdate{Thresholds: map[string]float64{"threshold": t.Threshold}}
	}
	if g, ok := x.betterStrategy(k); ok {
		s := g.kind.Strategy
		fromCILS.FeatureSelection = &FeatureSelectionUpdate{
			TopN: s.TopN, AggregationMethod: s.AggregationMethod, ModelWeights: maps.Clone(s.ModelWeights),
		}
	}
	if fromCILS != (Updates{}) {
		out = append(out, ConfigUpdate{SignalID: signalID, Target: k.Target, ModelFamily: k.ModelFamily,
			Source: flywheel.SourceCILS, Updates: fromCILS})
	}
	var fromARPO Updates
	if _, ok := x.positionCut(cfg, k); ok {
		fromARPO.Training = &TrainingUpdate{
			FocusOnValidation: true, EarlyStoppingPatience: EarlyStoppingPatience, CrossValidationFolds: CrossValidationFolds,
		}
	}
	if s, ok := x.regimeStrategy[k.Target]; ok {
		fromARPO.DataSampling = &DataSamplingUpdate{RegimeFilter: s.RegimeFilter, RegimeWeight: s.RegimeWeight}
	}
	if fromARPO != (Updates{}) {
		out = append(out, ConfigUpdate{SignalID: signalID, Target: k.Target, ModelFamily: k.ModelFamily,
			Source: flywheel.SourceARPO, Updates: fromARPO})
	}
	return out
}
