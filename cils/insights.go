package cils

import (
	"slices"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// Insights is what CILS concluded from one snapshot: the body of a
// flywheel.Insight of kind "cils". The JSON names are the seed's. Every
// list is sorted (models by target then family, kinds by name) so that
// the same snapshot always encodes to the same bytes, and every list is
// empty rather than null when there is nothing to say.
type Insights struct {
	GeneratedAt time.Time `json:"generated_at"`
	// PreviousGeneratedAt is when the insights compared against were made.
	PreviousGeneratedAt *time.Time `json:"previous_generated_at,omitempty"`
	// Runs is the number of runs in the snapshot; RunsScored those that
	// succeeded with a finite validation score (the score logic's input);
	// RunsWithoutStrategy the scored runs whose config names no readable
	// feature-selection strategy.
	Runs                int `json:"runs"`
	RunsScored          int `json:"runs_scored"`
	RunsWithoutStrategy int `json:"runs_without_strategy"`
	Models              int `json:"models"`

	DegradingTargets      []Degradation   `json:"degrading_targets"`
	NewPatterns           []NewPattern    `json:"new_patterns"`
	OptimalStrategies     []KindStrategy  `json:"optimal_strategies"`
	OptimalThresholds     []KindThreshold `json:"optimal_thresholds"`
	FeaturePatterns       FeaturePatterns `json:"feature_patterns"`
	TargetsNeedingRetrain []RetrainTarget `json:"targets_needing_retrain"`
	Estimates             []Estimate      `json:"estimates"`

	// Config is the configuration the insights were computed with.
	Config Config `json:"config"`
}

// RetrainTarget is a model CILS asks to retrain, with every reason.
type RetrainTarget struct {
	flywheel.ModelKey
	Kind    string            `json:"kind"`
	Reasons []flywheel.Reason `json:"reasons"`
}

// Reason kinds in RetrainTarget.Reasons.
const (
	ReasonDegradation    = "degradation"
	ReasonBetterStrategy = "better_strategy"
)

// EstimateFor returns the estimate for a model.
func (in *Insights) EstimateFor(k flywheel.ModelKey) (Estimate, bool) {
	i, ok := slices.BinarySearchFunc(in.Estimates, k, func(e Estimate, k flywheel.ModelKey) int {
		return compareKeys(e.ModelKey, k)
	})
	if !ok {
		return Estimate{}, false
	}
	return in.Estimates[i], true
}

// HasNewPattern reports whether something changed for a model since the
// previous insights: a pattern about the model itself, or a change of the
// optimal strategy or threshold of its kind. It is the seed's "target in
// new_patterns" test for the priority score. It relies on the order Learn
// gives NewPatterns (kind-level entries, which have no target, first; then
// by target and family), so one call costs a binary search, not a scan.
func (in *Insights) HasNewPattern(k flywheel.ModelKey) bool {
	kind := flywheel.TargetKind(k.Target)
	for _, p := range in.NewPatterns {
		if p.Target != "" {
			break
		}
		if p.Kind == kind {
			return true
		}
	}
	_, found := slices.BinarySearchFunc(in.NewPatterns, k, func(p NewPattern, k flywheel.ModelKey) int {
		return compareKeys(flywheel.ModelKey{Target: p.Target, ModelFamily: p.ModelFamily}, k)
	})
	return found
}

// needingRetrain lists the degrading models and, when configured, those
// a better strategy is expected to improve by more than the set level.
func needingRetrain(cfg *Config, in *Insights) []RetrainTarget {
	byKey := make(map[flywheel.ModelKey]*RetrainTarget)
	add := func(k flywheel.ModelKey, kind string, r flywheel.Reason) {
		t := byKey[k]
		if t == nil {
			t = &RetrainTarget{ModelKey: k, Kind: kind}
			byKey[k] = t
		}
		t.Reasons = append(t.Reasons, r)
	}
	for i := range in.DegradingTargets {
		d := &in.DegradingTargets[i]
		add(d.ModelKey, d.Kind, flywheel.Reason{
			Source: flywheel.SourceCILS, Kind: ReasonDegradation, Message: d.Reason, Values: d.Values(),
		})
	}
	if cfg.RetrainOnStrategy {
		for i := range in.OptimalStrategies {
			ks := &in.OptimalStrategies[i]
			for _, g := range ks.Targets {
				if g.RelativeImprovement > cfg.StrategyGainLevel {
					add(g.ModelKey, ks.Kind, strategyReason(ks, g))
				}
			}
		}
	}
	out := make([]RetrainTarget, 0, len(byKey))
	for _, t := range byKey {
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b RetrainTarget) int { return compareKeys(a.ModelKey, b.ModelKey) })
	return out
}
