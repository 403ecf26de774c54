package cils

import (
	"math"

	"github.com/flywheel-ml/flywheel"
)

// Config holds every threshold the learner uses. The zero value is not
// useful; start from DefaultConfig.
type Config struct {
	// BaselineRuns is how many successful runs before the latest one form
	// a model's baseline (their median).
	BaselineRuns int `json:"baseline_runs"`
	// BaselineMinRuns is the fewest previous runs the drop rule accepts as
	// a baseline; a model with fewer is not checked by the rule yet.
	BaselineMinRuns int `json:"baseline_min_runs"`
	// DropThreshold is the relative drop of the latest score below the
	// baseline above which the model is degrading (0.10 = 10%).
	DropThreshold float64 `json:"drop_threshold"`
	// ScaleFloor is the smallest magnitude a drop is measured against:
	// drop = (baseline - latest) / max(|baseline|, ScaleFloor). Near zero a
	// ratio to the baseline itself is meaningless (0.001 -> 0 would be a
	// 100% drop), so below the floor the rule becomes an absolute drop of
	// DropThreshold*ScaleFloor. It is in the score's own units: set it to
	// the smallest score that still means a useful model.
	ScaleFloor float64 `json:"scale_floor"`

	// PageHinkleyDelta is the drift per run the Page-Hinkley test tolerates,
	// as a fraction of the score's level.
	PageHinkleyDelta float64 `json:"page_hinkley_delta"`
	// PageHinkleyLambda is the alarm threshold on the cumulative shortfall,
	// as a fraction of the score's level.
	PageHinkleyLambda float64 `json:"page_hinkley_lambda"`
	// PageHinkleyWindow is how many of the latest successful runs the test
	// looks at, so that old regimes do not mask a recent decay.
	PageHinkleyWindow int `json:"page_hinkley_window"`
	// PageHinkleyMinRuns is the fewest runs the test needs.
	PageHinkleyMinRuns int `json:"page_hinkley_min_runs"`

	// StrategyUCBZ is how many posterior standard deviations the upper
	// confidence bound adds to a strategy's shrunk effect: larger explores
	// little-tried strategies more.
	StrategyUCBZ float64 `json:"strategy_ucb_z"`
	// RetrainOnStrategy adds to targets_needing_retrain the models whose
	// kind's best strategy is expected to improve them by more than
	// StrategyGainLevel.
	RetrainOnStrategy bool `json:"retrain_on_strategy"`
	// StrategyGainLevel is that expected improvement, relative to the
	// model's score level (0.05 = 5%, the seed's level).
	StrategyGainLevel float64 `json:"strategy_gain_level"`
	// MaxStrategies bounds the strategies compared per kind; the ones with
	// the most runs are kept. The fit costs the cube of their number.
	MaxStrategies int `json:"max_strategies"`

	// ThresholdMinLabels is the fewest labelled leakage events a kind needs
	// before a threshold is recommended.
	ThresholdMinLabels int `json:"threshold_min_labels"`
	// ThresholdMinPerClass is the fewest confirmed leaks and the fewest
	// false alarms each that a recommendation needs.
	ThresholdMinPerClass int `json:"threshold_min_per_class"`
	// ThresholdChange is how far an optimal threshold must move to count
	// as a new pattern.
	ThresholdChange float64 `json:"threshold_change"`

	// TopK is the size of the importance top list feature patterns watch.
	TopK int `json:"top_k"`
	// MinRankJump is how many places a feature must climb to count as a
	// jump into the top K (a feature absent before always counts).
	MinRankJump int `json:"min_rank_jump"`
	// LeakRepeatMin is how many runs of a model must flag a feature before
	// it is reported as a repeated leak.
	LeakRepeatMin int `json:"leak_repeat_min"`
	// ImportanceWindow is how many of a model's latest runs with feature
	// importances the instability measure uses.
	ImportanceWindow int `json:"importance_window"`
	// UnstableMinRuns is the fewest runs with importances it needs.
	UnstableMinRuns int `json:"unstable_min_runs"`
	// UnstableCV is the coefficient of variation of a feature's normalised
	// importance above which it is unstable.
	UnstableCV float64 `json:"unstable_cv"`
	// UnstableMinShare ignores features whose mean share of the total
	// importance is below it: tiny importances have a huge CV and no effect.
	UnstableMinShare float64 `json:"unstable_min_share"`

	// EstimatePriorRuns is the weight, in runs, of a kind's mean retrain
	// improvement when it is blended with a model's own history.
	EstimatePriorRuns float64 `json:"estimate_prior_runs"`
}

// DefaultConfig returns the defaults. The drop rule is the seed's (10%
// below the median of the previous 5 runs). The scale floor of 0.01 suits
// IC- or R2-like scores, whose useful models sit at 0.02-0.2.
//
// The Page-Hinkley settings come from DetectionStudy (scores at 0.10 with
// Gaussian noise of sd 2% of the level, 1,000 series of 50 runs per
// scenario): delta 0.015 and lambda 0.20 over a 20-run window raise no
// false alarm on stable series and catch a decay of 1% per run in every
// series, after a median of 9 runs, where the rule alone catches about
// 15%. At 3% noise the test alone still false-alarms on under 1% of series
// (the rule, at 5%, is then the limit); smaller delta or lambda detect
// sooner but false-alarm far more as noise grows.
//
// UCB z = 1 ranks a strategy by its shrunk effect plus one posterior sd,
// so a little-tried one is recommended while one sd of doubt could make
// it the best; 5% expected gain is the seed's "new optimal strategy" level.
// Fifty strategies per kind are more than a team tries by hand and keep
// the joint fit (cubic in their number) to a few milliseconds. Thresholds need 20 labels with 3 of each class: fewer
// leave the F1 optimum to chance. The feature settings flag a feature
// that climbed at least 5 places into the top 10, was flagged as a leak in
// 3 runs, or whose importance share (when at least 2%) has a CV above 0.5
// over 10 runs.
// Estimates lean on the kind's mean as much as on 5 runs of the model.
func DefaultConfig() Config {
	return Config{
		BaselineRuns:    5,
		BaselineMinRuns: 3,
		DropThreshold:   0.10,
		ScaleFloor:      0.01,

		PageHinkleyDelta:   0.015,
		PageHinkleyLambda:  0.20,
		PageHinkleyWindow:  20,
		PageHinkleyMinRuns: 6,

		StrategyUCBZ:      1.0,
		RetrainOnStrategy: true,
		StrategyGainLevel: 0.05,
		MaxStrategies:     50,

		ThresholdMinLabels:   20,
		ThresholdMinPerClass: 3,
		ThresholdChange:      0.01,

		TopK:             10,
		MinRankJump:      5,
		LeakRepeatMin:    3,
		ImportanceWindow: 10,
		UnstableMinRuns:  5,
		UnstableCV:       0.5,
		UnstableMinShare: 0.02,

		EstimatePriorRuns: 5,
	}
}

// Validate returns an EInvalid error naming the first bad field.
func (c Config) Validate() error {
	ints := []struct {
		field  string
		v, min int
	}{
		{"baseline_runs", c.BaselineRuns, 1},
		{"baseline_min_runs", c.BaselineMinRuns, 1},
		{"page_hinkley_window", c.PageHinkleyWindow, 2},
		{"page_hinkley_min_runs", c.PageHinkleyMinRuns, 2},
		{"threshold_min_labels", c.ThresholdMinLabels, 2},
		{"threshold_min_per_class", c.ThresholdMinPerClass, 1},
		{"max_strategies", c.MaxStrategies, 2},
		{"top_k", c.TopK, 1},
		{"min_rank_jump", c.MinRankJump, 1},
		{"leak_repeat_min", c.LeakRepeatMin, 1},
		{"importance_window", c.ImportanceWindow, 2},
		{"unstable_min_runs", c.UnstableMinRuns, 2},
	}
	for _, f := range ints {
		if f.v < f.min {
			return flywheel.FieldError(f.field, "is %d; it must be at least %d", f.v, f.min)
		}
	}
	if c.BaselineMinRuns > c.BaselineRuns {
		return flywheel.FieldError("baseline_min_runs", "is %d, more than baseline_runs (%d)", c.BaselineMinRuns, c.BaselineRuns)
	}
	if c.PageHinkleyMinRuns > c.PageHinkleyWindow {
		return flywheel.FieldError("page_hinkley_min_runs", "is %d, more than page_hinkley_window (%d)", c.PageHinkleyMinRuns, c.PageHinkleyWindow)
	}
	// A Page-Hinkley alarm is reported with the drop rule's baseline, so
	// the test must never be ready before the rule is.
	if c.PageHinkleyMinRuns <= c.BaselineMinRuns {
		return flywheel.FieldError("page_hinkley_min_runs", "is %d; it must exceed baseline_min_runs (%d)", c.PageHinkleyMinRuns, c.BaselineMinRuns)
	}
	if c.UnstableMinRuns > c.ImportanceWindow {
		return flywheel.FieldError("unstable_min_runs", "is %d, more than importance_window (%d)", c.UnstableMinRuns, c.ImportanceWindow)
	}
	if 2*c.ThresholdMinPerClass > c.ThresholdMinLabels {
		return flywheel.FieldError("threshold_min_per_class", "is %d; twice that exceeds threshold_min_labels (%d)", c.ThresholdMinPerClass, c.ThresholdMinLabels)
	}
	floats := []struct {
		field    string
		v        float64
		positive bool // strictly above zero; otherwise zero is allowed
	}{
		{"drop_threshold", c.DropThreshold, true},
		{"scale_floor", c.ScaleFloor, true},
		{"page_hinkley_delta", c.PageHinkleyDelta, false},
		{"page_hinkley_lambda", c.PageHinkleyLambda, true},
		{"strategy_ucb_z", c.StrategyUCBZ, false},
		{"strategy_gain_level", c.StrategyGainLevel, false},
		{"threshold_change", c.ThresholdChange, false},
		{"unstable_cv", c.UnstableCV, true},
		{"unstable_min_share", c.UnstableMinShare, false},
		{"estimate_prior_runs", c.EstimatePriorRuns, false},
	}
	for _, f := range floats {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return flywheel.FieldError(f.field, "must be a finite number")
		}
		if f.positive && f.v <= 0 {
			return flywheel.FieldError(f.field, "is %g; it must be above 0", f.v)
		}
		if f.v < 0 {
			return flywheel.FieldError(f.field, "is %g; it must not be negative", f.v)
		}
	}
	if c.DropThreshold >= 1 {
		return flywheel.FieldError("drop_threshold", "is %g; a fraction below 1 is expected (0.10 = 10%%)", c.DropThreshold)
	}
	if c.UnstableMinShare >= 1 {
		return flywheel.FieldError("unstable_min_share", "is %g; a share below 1 is expected", c.UnstableMinShare)
	}
	return nil
}
