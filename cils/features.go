package cils

import (
	"cmp"
	"math"
	"slices"

	"github.com/flywheel-ml/flywheel"
)

// FeaturePatterns are the features that behave oddly, per model.
type FeaturePatterns struct {
	// TopKEntries are features that jumped into the importance top K
	// between a model's last two runs with importances.
	TopKEntries []RankJump `json:"top_k_entries"`
	// RepeatedLeaks are features the leakage detector flagged in several
	// runs of a model and that were not dismissed as false alarms.
	RepeatedLeaks []RepeatedLeak `json:"repeated_leaks"`
	// Unstable are features whose share of the importance varies a lot
	// across a model's recent runs.
	Unstable []UnstableFeature `json:"unstable"`
}

// RankJump is a feature that entered the top K. Ranks count from 1 by
// absolute importance (so signed coefficients rank by magnitude); a
// PreviousRank of 0 means the feature was absent before.
type RankJump struct {
	flywheel.ModelKey
	Feature       string  `json:"feature"`
	Rank          int     `json:"rank"`
	PreviousRank  int     `json:"previous_rank"`
	Importance    float64 `json:"importance"`
	RunID         string  `json:"run_id"`
	PreviousRunID string  `json:"previous_run_id"`
}

// RepeatedLeak is a feature flagged by the leakage detector in Runs runs
// of a model, not counting runs where every flag of it was dismissed
// (FalseAlarms counts those); in Confirmed of the Runs a flag was
// labelled a real leak.
type RepeatedLeak struct {
	flywheel.ModelKey
	Feature     string  `json:"feature"`
	Runs        int     `json:"runs"`
	Confirmed   int     `json:"confirmed"`
	FalseAlarms int     `json:"false_alarms"`
	MaxScore    float64 `json:"max_score"`
	LastRunID   string  `json:"last_run_id"`
}

// UnstableFeature is a feature whose normalised importance (its share of
// the run's total absolute importance, 0 where absent) has a coefficient
// of variation CV across the model's last Runs runs with importances.
type UnstableFeature struct {
	flywheel.ModelKey
	Feature   string  `json:"feature"`
	CV        float64 `json:"cv"`
	MeanShare float64 `json:"mean_share"`
	Runs      int     `json:"runs"`
}

// scratch holds buffers reused from one model to the next: a snapshot of
// 10,000 models would otherwise allocate several maps per model, and the
// garbage collector would pay for them against the whole snapshot's heap.
type scratch struct {
	recent      []*flywheel.Run
	names       []string
	ranked      []ranked
	idx         map[string]int
	shares      []float64
	before, now map[string]int
	flags       map[string]leakFlags
	order       []string
}

type ranked struct {
	name string
	abs  float64
}

func newScratch() *scratch {
	return &scratch{idx: map[string]int{}, before: map[string]int{}, now: map[string]int{}, flags: map[string]leakFlags{}}
}

// addFeaturePatterns appends a model's findings to fp: rank jumps between
// its last two runs with importances, unstable importances over its recent
// ones, and repeated leak flags over all its runs. Each model's findings
// are sorted by feature, so with models in order the lists are in (target,
// family, feature) order.
func (sc *scratch) addFeaturePatterns(cfg *Config, ms *modelSeries, fp *FeaturePatterns) {
	recent := sc.recentImportances(ms, cfg.ImportanceWindow)
	if n := len(recent); n >= 2 {
		fp.TopKEntries = append(fp.TopKEntries, sc.rankJumps(cfg, ms.key, recent[n-2], recent[n-1])...)
	}
	if len(recent) >= cfg.UnstableMinRuns {
		fp.Unstable = append(fp.Unstable, sc.unstable(cfg, ms.key, recent)...)
	}
	fp.RepeatedLeaks = append(fp.RepeatedLeaks, sc.repeatedLeaks(cfg, ms)...)
}

// recentImportances returns up to n of the model's latest successful runs
// that report feature importances, oldest first, in a reused slice.
func (sc *scratch) recentImportances(ms *modelSeries, n int) []*flywheel.Run {
	out := sc.recent[:0]
	for i := len(ms.runs) - 1; i >= 0 && len(out) < n; i-- {
		if r := ms.runs[i]; r.Status == flywheel.RunSucceeded && len(r.FeatureImportance) > 0 {
			out = append(out, r)
		}
	}
	slices.Reverse(out)
	sc.recent = out
	return out
}

// ranks fills out with each feature's rank by absolute importance (1 =
// most important, ties by name).
func (sc *scratch) ranks(imp map[string]float64, out map[string]int) {
	rs := sc.ranked[:0]
	for f, v := range imp {
		rs = append(rs, ranked{f, math.Abs(v)})
	}
	slices.SortFunc(rs, func(a, b ranked) int {
		return cmp.Or(-cmp.Compare(a.abs, b.abs), cmp.Compare(a.name, b.name))
	})
	clear(out)
	for i, r := range rs {
		out[r.name] = i + 1
	}
	sc.ranked = rs
}

// rankJumps lists the features in the top K of cur that were outside it in
// prev and climbed at least MinRankJump places (or were absent).
func (sc *scratch) rankJumps(cfg *Config, k flywheel.ModelKey, prev, cur *flywheel.Run) []RankJump {
	sc.ranks(prev.FeatureImportance, sc.before)
	sc.ranks(cur.FeatureImportance, sc.now)
	var out []RankJump
	for f, r := range sc.now {
		if r > cfg.TopK {
			continue
		}
		p, had := sc.before[f]
		if had && (p <= cfg.TopK || p-r < cfg.MinRankJump) {
			continue
		}
		out = append(out, RankJump{
			ModelKey: k, Feature: f, Rank: r, PreviousRank: p,
			Importance: cur.FeatureImportance[f], RunID: cur.RunID, PreviousRunID: prev.RunID,
		})
	}
	slices.SortFunc(out, func(a, b RankJump) int { return cmp.Compare(a.Feature, b.Feature) })
	return out
}

// unstable lists features whose importance share has a CV above the
// configured level, among those with a mean share worth caring about.
func (sc *scratch) unstable(cfg *Config, k flywheel.ModelKey, runs []*flywheel.Run) []UnstableFeature {
	clear(sc.idx)
	names := sc.names[:0]
	for _, r := range runs {
		for f := range r.FeatureImportance {
			if _, ok := sc.idx[f]; !ok {
				sc.idx[f] = 0
				names = append(names, f)
			}
		}
	}
	slices.Sort(names)
	for i, f := range names {
		sc.idx[f] = i
	}
	sc.names = names
	// shares[i*n+j] is feature i's share in the j-th usable run; a feature
	// absent from a run keeps 0 there.
	n := len(runs)
	shares := slices.Grow(sc.shares[:0], len(names)*n)[:len(names)*n]
	clear(shares)
	sc.shares = shares
	used := 0
	for _, r := range runs {
		// Summed in name order: map order would change the last bits of
		// the total, and with them the bytes of the insights.
		var total float64
		for _, f := range names {
			total += math.Abs(r.FeatureImportance[f])
		}
		if total == 0 || !finite(total) {
			continue
		}
		for f, v := range r.FeatureImportance {
			shares[sc.idx[f]*n+used] = math.Abs(v) / total
		}
		used++
	}
	if used < cfg.UnstableMinRuns {
		return nil
	}
	var out []UnstableFeature
	for i, f := range names {
		m, sd := meanSD(shares[i*n : i*n+used])
		if m < cfg.UnstableMinShare || m == 0 {
			continue
		}
		if cv := sd / m; cv > cfg.UnstableCV {
			out = append(out, UnstableFeature{ModelKey: k, Feature: f, CV: cv, MeanShare: m, Runs: used})
		}
	}
	return out
}

// leakFlags is one feature's flags within one run.
type leakFlags struct {
	kept, confirmed bool
	maxScore        float64
}

// repeatedLeaks counts, per feature, the runs of the model that flagged
// it. Within a run the feature's flags are taken together: the run counts
// as a flag unless every one of them was dismissed.
func (sc *scratch) repeatedLeaks(cfg *Config, ms *modelSeries) []RepeatedLeak {
	var byFeature map[string]*RepeatedLeak
	for _, r := range ms.runs {
		if len(r.LeakageEvents) == 0 {
			continue
		}
		if byFeature == nil {
			byFeature = make(map[string]*RepeatedLeak)
		}
		clear(sc.flags)
		order := sc.order[:0]
		for _, e := range r.LeakageEvents {
			f, seen := sc.flags[e.Feature]
			if !seen {
				order = append(order, e.Feature)
			}
			if e.Confirmed == nil || *e.Confirmed {
				if !f.kept || e.Score > f.maxScore {
					f.maxScore = e.Score
				}
				f.kept = true
				f.confirmed = f.confirmed || e.Confirmed != nil
			}
			sc.flags[e.Feature] = f
		}
		sc.order = order
		for _, name := range order {
			f, l := sc.flags[name], byFeature[name]
			if l == nil {
				l = &RepeatedLeak{ModelKey: ms.key, Feature: name}
				byFeature[name] = l
			}
			if !f.kept {
				l.FalseAlarms++
				continue
			}
			if l.Runs == 0 || f.maxScore > l.MaxScore {
				l.MaxScore = f.maxScore
			}
			l.Runs++
			if f.confirmed {
				l.Confirmed++
			}
			l.LastRunID = r.RunID
		}
	}
	var out []RepeatedLeak
	for _, l := range byFeature {
		if l.Runs >= cfg.LeakRepeatMin {
			out = append(out, *l)
		}
	}
	slices.SortFunc(out, func(a, b RepeatedLeak) int { return cmp.Compare(a.Feature, b.Feature) })
	return out
}
