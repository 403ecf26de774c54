package orchestrator

import (
	"encoding/json"
	"testing"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/arpo"
	"github.com/flywheel-ml/flywheel/cils"
)

// updatesWorld gives target fwd_ret_5d_AAPL/ridge everything the seed's
// rules look at: kind fwd has a learned threshold of 0.85 and a strategy
// (top 50, weighted, lightgbm 0.6 / ridge 0.4) that is expected to
// improve the model by gain (relative to its level), the model trades at
// size, and the target has a regime strategy (volatile, weight 2).
func updatesWorld(gain, size float64) (*cils.Insights, *arpo.Insights) {
	k := key("fwd_ret_5d_AAPL", "ridge")
	c := &cils.Insights{Config: cils.DefaultConfig()}
	c.OptimalThresholds = []cils.KindThreshold{{Kind: "fwd", Threshold: 0.85, F1: 0.9}}
	c.OptimalStrategies = []cils.KindStrategy{{
		Kind:     "fwd",
		Strategy: cils.Strategy{TopN: 50, AggregationMethod: "weighted", ModelWeights: map[string]float64{"lightgbm": 0.6, "ridge": 0.4}},
		Key:      "top50-weighted",
		Targets:  []cils.StrategyGain{{ModelKey: k, Current: "top20-mean", ExpectedImprovement: gain / 10, RelativeImprovement: gain, Level: 0.1}},
	}}
	a := &arpo.Insights{
		PositionAdjustments: []arpo.PositionAdjustment{{ModelKey: k, SizeFactor: size}},
		RegimeStrategies:    []arpo.RegimeStrategy{{ModelKey: k, RegimeFilter: "volatile", RegimeWeight: 2}},
	}
	return c, a
}

// TestConfigUpdatesBySeedRules checks generate_config_updates of seed
// section 3.2 case by case, as the JSON the propagator receives.
func TestConfigUpdatesBySeedRules(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	k := key("fwd_ret_5d_AAPL", "ridge")
	full := `[` +
		`{"target":"fwd_ret_5d_AAPL","model_family":"ridge","source":"CILS","updates":{` +
		`"leakage_detection":{"thresholds":{"threshold":0.85}},` +
		`"feature_selection":{"top_n":50,"aggregation_method":"weighted","model_weights":{"lightgbm":0.6,"ridge":0.4}}}},` +
		`{"target":"fwd_ret_5d_AAPL","model_family":"ridge","source":"ARPO","updates":{` +
		`"training":{"focus_on_validation":true,"early_stopping_patience":10,"cross_validation_folds":5},` +
		`"data_sampling":{"regime_filter":"volatile","regime_weight":2}}}]`
	tests := []struct {
		name string
		gain float64
		size float64
		edit func(*cils.Insights, *arpo.Insights)
		want string
	}{
		// gain 8% > 5%: feature selection; size 0.6 < 0.8: training.
		{name: "every rule fires", gain: 0.08, size: 0.6, want: full},
		// gain exactly 5% is not "better" (> 5%); size exactly 0.8 is not
		// "reduced" (< 0.8): leakage and data sampling remain.
		{name: "at both levels", gain: 0.05, size: 0.8, want: `[` +
			`{"target":"fwd_ret_5d_AAPL","model_family":"ridge","source":"CILS","updates":{"leakage_detection":{"thresholds":{"threshold":0.85}}}},` +
			`{"target":"fwd_ret_5d_AAPL","model_family":"ridge","source":"ARPO","updates":{"data_sampling":{"regime_filter":"volatile","regime_weight":2}}}]`},
		// No threshold for the kind and no regime strategy: only the
		// strategy and the training emphasis.
		{name: "strategy and cut only", gain: 0.2, size: 0.79,
			edit: func(c *cils.Insights, a *arpo.Insights) { c.OptimalThresholds, a.RegimeStrategies = nil, nil },
			want: `[` +
				`{"target":"fwd_ret_5d_AAPL","model_family":"ridge","source":"CILS","updates":{"feature_selection":{"top_n":50,"aggregation_method":"weighted","model_weights":{"lightgbm":0.6,"ridge":0.4}}}},` +
				`{"target":"fwd_ret_5d_AAPL","model_family":"ridge","source":"ARPO","updates":{"training":{"focus_on_validation":true,"early_stopping_patience":10,"cross_validation_folds":5}}}]`},
		// Nothing to change.
		{name: "nothing", gain: 0.01, size: 1.2,
			edit: func(c *cils.Insights, a *arpo.Insights) { c.OptimalThresholds, a.RegimeStrategies = nil, nil },
			want: `null`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, a := updatesWorld(tc.gain, tc.size)
			if tc.edit != nil {
				tc.edit(c, a)
			}
			got, err := json.Marshal(ConfigUpdatesFor(&cfg, k, c, a))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("updates =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

// TestJobsCarryTheirUpdates checks that an admitted job's spec holds the
// config updates of its signal and that the plan lists them by signal.
func TestJobsCarryTheirUpdates(t *testing.T) {
	t.Parallel()
	k := key("fwd_ret_5d_AAPL", "ridge")
	c, a := updatesWorld(0.08, 0.6)
	// The size cut is a reason (ARPO), the better strategy another (CILS);
	// add live trouble so that the priority clears min_priority:
	// cils = 0.2 (better strategy), arpo = 0.4 + 0.3 = 0.7
	// priority = 0.25*0.2 + 0.35*0.7 = 0.05 + 0.245 = 0.295, plus the value
	// of roi = (0 + 0.008) / (1 + 1e-6): 0.25 * 0.0008 = 0.0002 -> 0.2952 < 0.3.
	// Degrading at rate 1 adds 0.25*0.3 + 0.15*0.5 = 0.15 -> 0.4452.
	a.UnderperformingPositions = []arpo.Underperformance{{ModelKey: k}}
	a.HighPriorityTargets = []arpo.HighPriority{{ModelKey: k}}
	c.DegradingTargets = []cils.Degradation{{ModelKey: k, Drop: 0.1, DropThreshold: 0.1}}
	p := decide(t, DefaultConfig(), Snapshot{Now: t0, CILS: c, ARPO: a})
	if len(p.Jobs) != 1 {
		t.Fatalf("jobs = %d, want 1; candidates %+v", len(p.Jobs), p.Candidates)
	}
	var spec JobSpec
	if err := json.Unmarshal(p.Jobs[0].Spec, &spec); err != nil {
		t.Fatal(err)
	}
	sig := signalOf(t, p, k)
	if spec.SignalID != sig.ID || p.Jobs[0].SignalID != sig.ID {
		t.Errorf("job's signal = %s (spec %s), want %s", p.Jobs[0].SignalID, spec.SignalID, sig.ID)
	}
	if len(spec.ConfigUpdates) != 2 || spec.ConfigUpdates[0].Source != flywheel.SourceCILS ||
		spec.ConfigUpdates[1].Source != flywheel.SourceARPO || spec.ConfigUpdates[1].Updates.Training == nil {
		t.Errorf("spec updates = %+v, want CILS then ARPO with training", spec.ConfigUpdates)
	}
	if len(p.ConfigUpdates) != 2 || p.ConfigUpdates[0].SignalID != sig.ID {
		t.Errorf("plan updates = %+v, want the signal's two", p.ConfigUpdates)
	}
	if j := p.Jobs[0]; j.State != flywheel.JobAdmitted || j.EstimatedCost != 1 || j.EstimatedSeconds != 3600 ||
		j.Resources != DefaultConfig().Scheduler.DefaultResources {
		t.Errorf("job = %+v, want admitted with the default cost, duration and resources", j)
	}
}
