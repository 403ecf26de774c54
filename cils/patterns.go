package cils

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/flywheel-ml/flywheel"
)

// New pattern types.
const (
	PatternDegrading        = "degrading"
	PatternRecovered        = "recovered"
	PatternStrategyChanged  = "strategy_changed"
	PatternThresholdChanged = "threshold_changed"
	PatternTopKEntry        = "top_k_entry"
	PatternRepeatedLeak     = "repeated_leak"
	PatternUnstable         = "unstable_importance"
)

// NewPattern is one thing that changed since the previous insights. A
// pattern about a model carries its target and model_family; one about a
// whole kind (strategy, threshold) carries only the kind.
type NewPattern struct {
	Type        string `json:"type"`
	Kind        string `json:"kind"`
	Target      string `json:"target,omitempty"`
	ModelFamily string `json:"model_family,omitempty"`
	Feature     string `json:"feature,omitempty"`
	Message     string `json:"message"`
}

// diff lists what changed from prev to cur: models that started or
// stopped degrading, kinds whose recommended strategy or threshold moved
// (a threshold by more than threshold_change, or appeared or went away),
// and feature patterns not present before. It is sorted by target,
// family, type, kind and feature.
func diff(cfg *Config, prev, cur *Insights) []NewPattern {
	out := []NewPattern{}
	out = append(out, diffDegrading(prev, cur)...)
	out = append(out, diffStrategies(prev, cur)...)
	out = append(out, diffThresholds(cfg, prev, cur)...)
	out = append(out, diffFeatures(prev, cur)...)
	slices.SortFunc(out, func(a, b NewPattern) int {
		return cmp.Or(cmp.Compare(a.Target, b.Target), cmp.Compare(a.ModelFamily, b.ModelFamily),
			cmp.Compare(a.Type, b.Type), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Feature, b.Feature))
	})
	return out
}

func modelPattern(typ string, k flywheel.ModelKey, feature, msg string) NewPattern {
	return NewPattern{Type: typ, Kind: flywheel.TargetKind(k.Target), Target: k.Target, ModelFamily: k.ModelFamily, Feature: feature, Message: msg}
}

func diffDegrading(prev, cur *Insights) []NewPattern {
	var out []NewPattern
	was := make(map[flywheel.ModelKey]bool, len(prev.DegradingTargets))
	for _, d := range prev.DegradingTargets {
		was[d.ModelKey] = true
	}
	is := make(map[flywheel.ModelKey]bool, len(cur.DegradingTargets))
	for _, d := range cur.DegradingTargets {
		is[d.ModelKey] = true
		if !was[d.ModelKey] {
			out = append(out, modelPattern(PatternDegrading, d.ModelKey, "", "started degrading: "+d.Reason))
		}
	}
	for _, d := range prev.DegradingTargets {
		if !is[d.ModelKey] {
			out = append(out, modelPattern(PatternRecovered, d.ModelKey, "", "no longer degrading"))
		}
	}
	return out
}

func diffStrategies(prev, cur *Insights) []NewPattern {
	var out []NewPattern
	was := make(map[string]string, len(prev.OptimalStrategies))
	for _, ks := range prev.OptimalStrategies {
		was[ks.Kind] = ks.Key
	}
	is := make(map[string]bool, len(cur.OptimalStrategies))
	for _, ks := range cur.OptimalStrategies {
		is[ks.Kind] = true
		old, had := was[ks.Kind]
		switch {
		case !had:
			out = append(out, NewPattern{Type: PatternStrategyChanged, Kind: ks.Kind,
				Message: fmt.Sprintf("optimal strategy is now %q (none before)", ks.Key)})
		case old != ks.Key:
			out = append(out, NewPattern{Type: PatternStrategyChanged, Kind: ks.Kind,
				Message: fmt.Sprintf("optimal strategy is now %q (was %q)", ks.Key, old)})
		}
	}
	for _, ks := range prev.OptimalStrategies {
		if !is[ks.Kind] {
			out = append(out, NewPattern{Type: PatternStrategyChanged, Kind: ks.Kind,
				Message: fmt.Sprintf("no optimal strategy any more (was %q)", ks.Key)})
		}
	}
	return out
}

func diffThresholds(cfg *Config, prev, cur *Insights) []NewPattern {
	var out []NewPattern
	was := make(map[string]float64, len(prev.OptimalThresholds))
	for _, kt := range prev.OptimalThresholds {
		was[kt.Kind] = kt.Threshold
	}
	is := make(map[string]bool, len(cur.OptimalThresholds))
	for _, kt := range cur.OptimalThresholds {
		is[kt.Kind] = true
		old, had := was[kt.Kind]
		switch {
		case !had:
			out = append(out, NewPattern{Type: PatternThresholdChanged, Kind: kt.Kind,
				Message: fmt.Sprintf("optimal leakage threshold is now %.4g (none before; F1 %.3f)", kt.Threshold, kt.F1)})
		case math.Abs(old-kt.Threshold) > cfg.ThresholdChange:
			out = append(out, NewPattern{Type: PatternThresholdChanged, Kind: kt.Kind,
				Message: fmt.Sprintf("optimal leakage threshold is now %.4g (was %.4g; F1 %.3f)", kt.Threshold, old, kt.F1)})
		}
	}
	for _, kt := range prev.OptimalThresholds {
		if !is[kt.Kind] {
			out = append(out, NewPattern{Type: PatternThresholdChanged, Kind: kt.Kind,
				Message: fmt.Sprintf("no optimal leakage threshold any more (was %.4g): too few labels", kt.Threshold)})
		}
	}
	return out
}

type featureKey struct {
	typ     string
	model   flywheel.ModelKey
	feature string
}

func diffFeatures(prev, cur *Insights) []NewPattern {
	was := make(map[featureKey]bool)
	for _, j := range prev.FeaturePatterns.TopKEntries {
		was[featureKey{PatternTopKEntry, j.ModelKey, j.Feature}] = true
	}
	for _, l := range prev.FeaturePatterns.RepeatedLeaks {
		was[featureKey{PatternRepeatedLeak, l.ModelKey, l.Feature}] = true
	}
	for _, u := range prev.FeaturePatterns.Unstable {
		was[featureKey{PatternUnstable, u.ModelKey, u.Feature}] = true
	}
	var out []NewPattern
	add := func(typ string, k flywheel.ModelKey, feature, msg string) {
		if !was[featureKey{typ, k, feature}] {
			out = append(out, modelPattern(typ, k, feature, msg))
		}
	}
	for _, j := range cur.FeaturePatterns.TopKEntries {
		add(PatternTopKEntry, j.ModelKey, j.Feature, jumpMessage(j))
	}
	for _, l := range cur.FeaturePatterns.RepeatedLeaks {
		add(PatternRepeatedLeak, l.ModelKey, l.Feature,
			fmt.Sprintf("flagged as a leak in %d runs (%d confirmed)", l.Runs, l.Confirmed))
	}
	for _, u := range cur.FeaturePatterns.Unstable {
		add(PatternUnstable, u.ModelKey, u.Feature,
			fmt.Sprintf("importance share varies with CV %.2f over %d runs (mean share %.3f)", u.CV, u.Runs, u.MeanShare))
	}
	return out
}

func jumpMessage(j RankJump) string {
	if j.PreviousRank == 0 {
		return fmt.Sprintf("new feature entered the importance top list at rank %d", j.Rank)
	}
	return fmt.Sprintf("importance rank jumped from %d to %d", j.PreviousRank, j.Rank)
}
