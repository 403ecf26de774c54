package cils

import (
	"cmp"
	"slices"

	"github.com/flywheel-ml/flywheel"
)

// KindThreshold is the leakage-detection threshold learned for one target
// kind: flagging a feature when its leakage score is >= Threshold
// maximises F1 on the labelled events (confirmed true = leak, false =
// false alarm).
type KindThreshold struct {
	Kind      string  `json:"kind"`
	Threshold float64 `json:"threshold"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	// Support is the number of labelled events; Leaks and FalseAlarms
	// split it; Unlabelled events are not used.
	Support     int `json:"support"`
	Leaks       int `json:"leaks"`
	FalseAlarms int `json:"false_alarms"`
	Unlabelled  int `json:"unlabelled"`
	// CurrentThreshold is the threshold the detector used in the kind's
	// latest run with leakage events (the median over its events), and
	// CurrentF1 the F1 it scores on the same labels.
	CurrentThreshold float64 `json:"current_threshold"`
	CurrentF1        float64 `json:"current_f1"`
}

type labelled struct {
	score float64
	leak  bool
}

// leakLabels gathers the labelled leakage events of every kind. Events
// count from runs of any status: a label is about the detector's output,
// not about the run's score.
type leakLabels struct {
	byKind map[string]*kindLabels
}

type kindLabels struct {
	events     []labelled
	unlabelled int
	// latest is the kind's latest run with leakage events.
	latest *flywheel.Run
}

func (l *leakLabels) add(ms *modelSeries) {
	var a *kindLabels
	for _, r := range ms.runs {
		if len(r.LeakageEvents) == 0 {
			continue
		}
		if a == nil {
			if a = l.byKind[ms.kind]; a == nil {
				a = &kindLabels{}
				l.byKind[ms.kind] = a
			}
		}
		if a.latest == nil || cmp.Or(r.StartedAt.Compare(a.latest.StartedAt), cmp.Compare(r.RunID, a.latest.RunID)) > 0 {
			a.latest = r
		}
		for _, e := range r.LeakageEvents {
			if !finite(e.Score) {
				continue // not a score a threshold can be compared with
			}
			if e.Confirmed == nil {
				a.unlabelled++
				continue
			}
			a.events = append(a.events, labelled{score: e.Score, leak: *e.Confirmed})
		}
	}
}

// thresholds finds the F1-optimal threshold of every kind with enough
// labels, in kind order.
func (l *leakLabels) thresholds(cfg *Config) []KindThreshold {
	kinds := make([]string, 0, len(l.byKind))
	for k := range l.byKind {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	out := []KindThreshold{}
	for _, kind := range kinds {
		a := l.byKind[kind]
		kt, ok := bestThreshold(cfg, a.events)
		if !ok {
			continue
		}
		kt.Kind, kt.Unlabelled = kind, a.unlabelled
		ths := make([]float64, 0, len(a.latest.LeakageEvents))
		for _, e := range a.latest.LeakageEvents {
			if finite(e.Threshold) {
				ths = append(ths, e.Threshold)
			}
		}
		if len(ths) == 0 {
			ths = append(ths, 0) // nothing usable was reported
		}
		kt.CurrentThreshold = median(ths, nil)
		kt.CurrentF1 = f1At(a.events, kt.CurrentThreshold)
		out = append(out, kt)
	}
	return out
}

// bestThreshold sweeps every distinct score as a cut. It needs the
// configured number of labels and of each class: with few labels the F1
// optimum is noise, and with one class it is meaningless.
func bestThreshold(cfg *Config, events []labelled) (KindThreshold, bool) {
	pos := 0
	for _, e := range events {
		if e.leak {
			pos++
		}
	}
	neg := len(events) - pos
	if len(events) < cfg.ThresholdMinLabels || pos < cfg.ThresholdMinPerClass || neg < cfg.ThresholdMinPerClass {
		return KindThreshold{}, false
	}
	sorted := slices.Clone(events)
	slices.SortFunc(sorted, func(a, b labelled) int { return cmp.Compare(b.score, a.score) })
	best := KindThreshold{Support: len(events), Leaks: pos, FalseAlarms: neg, F1: -1}
	tp, fp := 0, 0
	for i, e := range sorted {
		if e.leak {
			tp++
		} else {
			fp++
		}
		if i+1 < len(sorted) && sorted[i+1].score == e.score {
			continue // a cut must keep equal scores together
		}
		f1 := 2 * float64(tp) / float64(2*tp+fp+(pos-tp))
		prec := float64(tp) / float64(tp+fp)
		// Ties keep the higher threshold met first: fewer alarms.
		if f1 > best.F1 || (f1 == best.F1 && prec > best.Precision) {
			best.F1, best.Precision, best.Recall = f1, prec, float64(tp)/float64(pos)
			// Any cut between this score and the next lower one flags the
			// same events; the midpoint is the one farthest from both.
			best.Threshold = e.score
			if i+1 < len(sorted) {
				best.Threshold = (e.score + sorted[i+1].score) / 2
			}
		}
	}
	return best, true
}

// f1At is the F1 of flagging score >= t.
func f1At(events []labelled, t float64) float64 {
	tp, fp, fn := 0, 0, 0
	for _, e := range events {
		switch flag := e.score >= t; {
		case flag && e.leak:
			tp++
		case flag:
			fp++
		case e.leak:
			fn++
		}
	}
	if tp == 0 {
		return 0
	}
	return 2 * float64(tp) / float64(2*tp+fp+fn)
}
