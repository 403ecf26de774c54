package cils

import (
	"github.com/flywheel-ml/flywheel"
)

// Estimate is what a retrain of one model is expected to bring and cost,
// each number with the count of runs it rests on.
type Estimate struct {
	flywheel.ModelKey
	Kind string `json:"kind"`
	// ExpectedImprovement is the expected change of the validation score
	// from one retrain: the mean change between the model's consecutive
	// successful training runs, blended with its kind's mean change
	// (KindImprovement) with weight estimate_prior_runs, so a model with
	// few runs leans on its kind: (sum of its changes + k * kind mean) /
	// (its changes + k). ImprovementRuns is its number of changes. The mean
	// of consecutive changes telescopes to (last - first) / (runs - 1): it
	// is the model's net trend per retrain.
	ExpectedImprovement float64 `json:"expected_improvement"`
	ImprovementRuns     int     `json:"improvement_runs"`
	KindImprovement     float64 `json:"kind_improvement"`
	KindImprovementRuns int     `json:"kind_improvement_runs"`
	// RestorableGap is the other reading of what a retrain brings: the
	// change of the validation score expected if the model were trained
	// again now, Baseline - Latest, where Baseline is the mean validation
	// score of the model's successful training runs and Latest the score
	// of its latest successful run of either kind: with evaluation runs,
	// the deployed model's current score. A retrain draws a new model
	// around the model's usual level, so it is expected to restore a
	// current score that fell below that level (positive gap, as for a
	// decaying model) and to give back a lucky one (negative gap); the
	// trend above is negative for a degrading model instead. When the
	// latest run is a training run it is in the mean, which shrinks the
	// gap of a model with few runs toward 0: (n-1)/n of the distance to
	// the mean of the earlier runs, and 0 for a single run.
	// Both are in validation score units; Baseline also lets a caller read
	// the gap relative to the model's level.
	RestorableGap float64 `json:"restorable_gap"`
	Baseline      float64 `json:"baseline"`
	Latest        float64 `json:"latest"`
	// ExpectedCost is the mean Cost.Units() of its successful training
	// runs, and ExpectedDurationSeconds their mean duration (wall_seconds,
	// or finished_at - started_at when that is not reported). A model
	// without such runs gets its kind's mean and CostRuns or DurationRuns
	// of 0.
	ExpectedCost            float64 `json:"expected_cost"`
	CostRuns                int     `json:"cost_runs"`
	ExpectedDurationSeconds float64 `json:"expected_duration_seconds"`
	DurationRuns            int     `json:"duration_runs"`
}

// sums accumulates a mean.
type sums struct {
	sum float64
	n   int
}

func (s *sums) add(x float64) { s.sum += x; s.n++ }

func (s sums) mean() float64 {
	if s.n == 0 {
		return 0
	}
	return s.sum / float64(s.n)
}

type modelSums struct{ delta, cost, dur, score sums }

func (m *modelSums) merge(o *modelSums) {
	for _, pair := range [][2]*sums{{&m.delta, &o.delta}, {&m.cost, &o.cost}, {&m.dur, &o.dur}, {&m.score, &o.score}} {
		pair[0].sum += pair[1].sum
		pair[0].n += pair[1].n
	}
}

// estimator sums each model's retrain changes, costs and durations as the
// models go by, and blends them with their kind's once all are seen.
type estimator struct {
	models []*modelSeries
	per    []modelSums
	kinds  map[string]*modelSums
}

func (e *estimator) add(ms *modelSeries) {
	var p modelSums
	for j, sr := range ms.trained {
		p.score.add(sr.score)
		if j > 0 {
			p.delta.add(sr.score - ms.trained[j-1].score)
		}
		if c := sr.run.Cost.Units(); finite(c) {
			p.cost.add(c)
		}
		if d, ok := duration(sr.run); ok {
			p.dur.add(d)
		}
	}
	k := e.kinds[ms.kind]
	if k == nil {
		k = &modelSums{}
		e.kinds[ms.kind] = k
	}
	k.merge(&p)
	e.models = append(e.models, ms)
	e.per = append(e.per, p)
}

// estimates returns one estimate per model, in the order added.
func (e *estimator) estimates(cfg *Config) []Estimate {
	out := make([]Estimate, len(e.models))
	for i, ms := range e.models {
		p, k := e.per[i], e.kinds[ms.kind]
		est := Estimate{
			ModelKey:            ms.key,
			Kind:                ms.kind,
			ImprovementRuns:     p.delta.n,
			KindImprovement:     k.delta.mean(),
			KindImprovementRuns: k.delta.n,
			// The kind's means stand in for a model without data of its own.
			ExpectedCost:            k.cost.mean(),
			CostRuns:                p.cost.n,
			ExpectedDurationSeconds: k.dur.mean(),
			DurationRuns:            p.dur.n,
		}
		if w := float64(p.delta.n) + cfg.EstimatePriorRuns; w > 0 {
			est.ExpectedImprovement = (p.delta.sum + cfg.EstimatePriorRuns*est.KindImprovement) / w
		}
		if p.score.n > 0 {
			est.Baseline = p.score.mean()
			est.Latest = ms.scores[len(ms.scores)-1]
			est.RestorableGap = est.Baseline - est.Latest
		}
		if p.cost.n > 0 {
			est.ExpectedCost = p.cost.mean()
		}
		if p.dur.n > 0 {
			est.ExpectedDurationSeconds = p.dur.mean()
		}
		out[i] = est
	}
	return out
}

// duration is a run's wall time in seconds, if known.
func duration(r *flywheel.Run) (float64, bool) {
	if r.Cost.WallSeconds > 0 && finite(r.Cost.WallSeconds) {
		return r.Cost.WallSeconds, true
	}
	if r.FinishedAt != nil && !r.FinishedAt.Before(r.StartedAt) {
		return r.FinishedAt.Sub(r.StartedAt).Seconds(), true
	}
	return 0, false
}
