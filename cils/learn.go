package cils

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// Snapshot is everything Learn looks at: the runs as stored, the time of
// the decision, and the insights of the previous cycle (nil on the first).
type Snapshot struct {
	Runs []flywheel.Run
	Now  time.Time
	// Previous is the last Insights, against which new_patterns is
	// computed; nil means there is nothing to compare with and no pattern
	// is reported as new.
	Previous *Insights
}

// modelSeries is one model's runs in order.
type modelSeries struct {
	key  flywheel.ModelKey
	kind string
	// runs holds every run of the model, ordered by started_at, run_id.
	runs []*flywheel.Run
	// scored holds the runs that succeeded with a finite validation score,
	// in the same order, and scores their scores.
	scored []scoredRun
	scores []float64
	// trained holds the scored training runs alone (evaluations left
	// out): what strategies, costs and the retrain estimates are learnt
	// from.
	trained []scoredRun
}

type scoredRun struct {
	run   *flywheel.Run
	score float64
}

// Learn derives the insights from a snapshot. It fails only on an invalid
// configuration or snapshot (EInvalid naming the field): a zero Now, or a
// run given twice, which would count twice.
func Learn(cfg Config, snap Snapshot) (*Insights, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("cils config: %w", err)
	}
	if snap.Now.IsZero() {
		return nil, flywheel.FieldError("now", "is required")
	}
	models := groupRuns(snap.Runs)
	in := &Insights{
		GeneratedAt: snap.Now,
		Runs:        len(snap.Runs),
		Models:      len(models),
		Config:      cfg,
	}
	if err := learnModels(&cfg, models, in); err != nil {
		return nil, err
	}
	in.TargetsNeedingRetrain = needingRetrain(&cfg, in)
	in.NewPatterns = []NewPattern{}
	if snap.Previous != nil {
		prev := snap.Previous.GeneratedAt
		in.PreviousGeneratedAt = &prev
		in.NewPatterns = diff(&cfg, snap.Previous, in)
	}
	return in, nil
}

// learnModels fills in everything learned from the runs. It visits each
// model once and does all of that model's work while its runs are in the
// CPU caches: one pass per part over a 10,000-model snapshot would fetch
// every run from memory five times, and growth would no longer be linear.
// What needs every model (kind-level fits, blends with a kind's mean) is
// finished afterwards from the sums gathered on the way.
func learnModels(cfg *Config, models []*modelSeries, in *Insights) error {
	in.DegradingTargets = []Degradation{}
	in.FeaturePatterns = FeaturePatterns{TopKEntries: []RankJump{}, RepeatedLeaks: []RepeatedLeak{}, Unstable: []UnstableFeature{}}
	buf := make([]float64, 0, max(cfg.BaselineRuns, cfg.PageHinkleyWindow))
	sc := newScratch()
	strategies := &strategyRuns{byKind: make(map[string]*kindData)}
	labels := &leakLabels{byKind: make(map[string]*kindLabels)}
	est := &estimator{kinds: make(map[string]*modelSums)}
	for _, ms := range models {
		if err := ms.prepare(); err != nil {
			return err
		}
		in.RunsScored += len(ms.scored)
		if d, ok := judge(cfg, ms, buf); ok {
			in.DegradingTargets = append(in.DegradingTargets, d)
		}
		strategies.add(ms)
		labels.add(ms)
		sc.addFeaturePatterns(cfg, ms, &in.FeaturePatterns)
		est.add(ms)
	}
	in.OptimalStrategies = strategies.fit(cfg)
	in.RunsWithoutStrategy = strategies.skipped
	in.OptimalThresholds = labels.thresholds(cfg)
	in.Estimates = est.estimates(cfg)
	return nil
}

// groupRuns splits runs by model in linear time (a map, not a global
// sort, so 10x the models costs 10x the time) and orders the models by
// target and family; each model's runs are ordered later, by prepare.
func groupRuns(runs []flywheel.Run) []*modelSeries {
	byKey := make(map[flywheel.ModelKey]*modelSeries)
	for i := range runs {
		r := &runs[i]
		ms := byKey[r.ModelKey]
		if ms == nil {
			ms = &modelSeries{key: r.ModelKey, kind: flywheel.TargetKind(r.Target)}
			byKey[r.ModelKey] = ms
		}
		ms.runs = append(ms.runs, r)
	}
	models := make([]*modelSeries, 0, len(byKey))
	for _, ms := range byKey {
		models = append(models, ms)
	}
	slices.SortFunc(models, func(a, b *modelSeries) int { return compareKeys(a.key, b.key) })
	return models
}

// prepare orders the model's runs by started_at and run_id and picks out
// the scored ones.
func (ms *modelSeries) prepare() error {
	slices.SortFunc(ms.runs, func(a, b *flywheel.Run) int {
		return cmp.Or(a.StartedAt.Compare(b.StartedAt), cmp.Compare(a.RunID, b.RunID))
	})
	ms.scored = make([]scoredRun, 0, len(ms.runs))
	ms.scores = make([]float64, 0, len(ms.runs))
	for i, r := range ms.runs {
		// A run given twice sorts next to itself. (The store keeps run_id
		// unique; a global check would only cost time.)
		if i > 0 && r.RunID == ms.runs[i-1].RunID {
			return flywheel.FieldError("runs", "run %q is in the snapshot twice", r.RunID)
		}
		if s, ok := r.ValidationScore(); ok && r.Status == flywheel.RunSucceeded && finite(s) {
			ms.scored = append(ms.scored, scoredRun{run: r, score: s})
			ms.scores = append(ms.scores, s)
			if !r.Evaluation() {
				ms.trained = append(ms.trained, scoredRun{run: r, score: s})
			}
		}
	}
	return nil
}

// compareKeys orders models by target, then family: the order of every
// list in Insights.
func compareKeys(a, b flywheel.ModelKey) int {
	return cmp.Or(cmp.Compare(a.Target, b.Target), cmp.Compare(a.ModelFamily, b.ModelFamily))
}
