package train

import (
	"cmp"
	"math"
	"slices"

	"github.com/flywheel-ml/flywheel"
)

// LeakageScore is the detector's score of one feature: the absolute rank
// correlation of the feature with the target over every sample, in
// [0, 1]. A feature that merely predicts the target scores a few hundredths
// on daily data (a rank IC of 0.05 is a good signal); one that contains
// the target scores near 1. Rank rather than linear correlation because
// fat-tailed returns would let a few days decide, and because a leak
// through a monotone transform of the label is still a leak. The score is
// computed on the data itself, not on a model, so it flags a leak however
// the model uses (or fails to use) the feature.
func LeakageScore(feature, target []float64) float64 {
	return math.Abs(Spearman(feature, target))
}

// detectLeaks scores every feature and returns an event for each whose
// score reaches the threshold (>=, as CILS's learned thresholds are
// meant), highest score first. A leak is known exactly when the pipeline
// planted one: then the planted feature's event is confirmed true and any
// other flagged feature's false (a false alarm); otherwise nothing is
// known and confirmed stays null for a person or a later check to fill in.
func detectLeaks(names []string, cols [][]float64, y []float64, threshold float64, planted bool) []flywheel.LeakageEvent {
	var out []flywheel.LeakageEvent
	ry := ranks(y) // LeakageScore per feature, with the target ranked once
	for j, name := range names {
		score := math.Abs(Pearson(ranks(cols[j]), ry))
		if score < threshold {
			continue
		}
		ev := flywheel.LeakageEvent{Feature: name, Score: score, Threshold: threshold}
		if planted {
			leak := name == LeakFeature
			ev.Confirmed = &leak
		}
		out = append(out, ev)
	}
	slices.SortStableFunc(out, func(a, b flywheel.LeakageEvent) int {
		return cmp.Or(cmp.Compare(b.Score, a.Score), cmp.Compare(a.Feature, b.Feature))
	})
	return out
}
