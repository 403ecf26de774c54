package orchestrator

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/arpo"
	"github.com/flywheel-ml/flywheel/cils"
)

// Reason kinds of the signals' flywheel.Reason, per source (seed 6.1).
const (
	// From CILS.
	KindDegradation    = cils.ReasonDegradation    // validation score dropped
	KindBetterStrategy = cils.ReasonBetterStrategy // a better feature-selection strategy
	KindNewThresholds  = "new_thresholds"          // the kind's leakage threshold changed
	KindFeaturePattern = "feature_pattern"         // features jumped, leaked or wobbled
	// From ARPO.
	KindUnderperforming = arpo.ReasonUnderperforming // live P&L below expected
	KindPositionCut     = arpo.ReasonPositionCut     // size factor below the cut level
	KindRegimeMismatch  = arpo.ReasonRegimeMismatch  // worse in the current regime
	KindRiskViolation   = arpo.ReasonRiskViolation   // a risk limit broken
	// From the orchestrator.
	KindLearnersAgree = "learners_agree" // CILS and ARPO both ask to retrain
	KindStale         = "stale"          // older than its max age
	KindDataDrift     = "data_drift"     // live features drifted (PSI)
)

// kindOrder orders reasons within a signal: by source, then as above.
var kindOrder = map[string]int{
	KindDegradation: 0, KindBetterStrategy: 1, KindNewThresholds: 2, KindFeaturePattern: 3,
	KindUnderperforming: 10, KindPositionCut: 11, KindRegimeMismatch: 12, KindRiskViolation: 13,
	KindLearnersAgree: 20, KindStale: 21, KindDataDrift: 22,
}

var sourceOrder = map[string]int{flywheel.SourceCILS: 0, flywheel.SourceARPO: 1, flywheel.SourceOrchestrator: 2}

// retrainKinds are the reasons with which a learner asks for a retrain,
// as opposed to reporting a change: both learners agree when each gives
// at least one.
var retrainKinds = map[string]bool{
	KindDegradation: true, KindBetterStrategy: true,
	KindUnderperforming: true, KindPositionCut: true, KindRegimeMismatch: true, KindRiskViolation: true,
}

// draft collects the reasons for one model before they become a signal.
type draft struct {
	key     flywheel.ModelKey
	reasons []flywheel.Reason
}

// drafts collects reasons per model; a reason of a kind already given by
// the same source is dropped, so that a learner's own retrain list and
// the lists it derives from do not repeat each other.
type drafts map[flywheel.ModelKey]*draft

func (ds drafts) add(k flywheel.ModelKey, r flywheel.Reason) {
	d := ds[k]
	if d == nil {
		d = &draft{key: k}
		ds[k] = d
	}
	for _, have := range d.reasons {
		if have.Source == r.Source && have.Kind == r.Kind {
			return
		}
	}
	d.reasons = append(d.reasons, finiteValues(r))
}

// finiteValues returns the reason without undefined values, which JSON
// cannot carry. The values map may be the insights' own, so it is copied
// before anything is dropped, and only then.
func finiteValues(r flywheel.Reason) flywheel.Reason {
	clean := true
	for _, v := range r.Values {
		clean = clean && finite(v)
	}
	if clean {
		return r
	}
	vs := make(map[string]float64, len(r.Values))
	for k, v := range r.Values {
		if finite(v) {
			vs[k] = v
		}
	}
	r.Values = vs
	return r
}

// collect raises every reason the snapshot gives, one draft per model,
// sorted by model.
func collect(cfg *Config, snap *Snapshot, x *index) []*draft {
	ds := drafts{}
	collectCILS(snap.CILS, x, ds)
	collectARPO(cfg, snap.ARPO, x, ds)
	for _, d := range ds {
		if r, ok := agreeReason(d); ok {
			d.reasons = append(d.reasons, r)
		}
	}
	for i := range snap.Models {
		m := &snap.Models[i]
		if r, ok := staleReason(cfg, snap.Now, m); ok {
			ds.add(m.ModelKey, r)
		}
		if r, ok := driftReason(cfg, m); ok {
			ds.add(m.ModelKey, r)
		}
	}
	out := make([]*draft, 0, len(ds))
	for _, d := range ds {
		slices.SortStableFunc(d.reasons, func(a, b flywheel.Reason) int {
			return cmp.Or(cmp.Compare(rank(sourceOrder, a.Source), rank(sourceOrder, b.Source)),
				cmp.Compare(rank(kindOrder, a.Kind), rank(kindOrder, b.Kind)), cmp.Compare(a.Kind, b.Kind))
		})
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b *draft) int { return compareKeys(a.key, b.key) })
	return out
}

// rank returns a name's place, after every known name when unknown.
func rank(order map[string]int, name string) int {
	if r, ok := order[name]; ok {
		return r
	}
	return len(order) + 100
}

func collectCILS(in *cils.Insights, x *index, ds drafts) {
	if in == nil {
		return
	}
	// The learner's own retrain list first: its reasons are the fullest.
	for i := range in.TargetsNeedingRetrain {
		t := &in.TargetsNeedingRetrain[i]
		for _, r := range t.Reasons {
			ds.add(t.ModelKey, r)
		}
	}
	for i := range in.DegradingTargets {
		d := &in.DegradingTargets[i]
		ds.add(d.ModelKey, flywheel.Reason{Source: flywheel.SourceCILS, Kind: KindDegradation, Message: d.Reason, Values: d.Values()})
	}
	for k := range x.gains {
		if g, ok := x.betterStrategy(k); ok {
			ds.add(k, strategyReason(g))
		}
	}
	for kind := range x.newThreshold {
		t, ok := x.thresholds[kind]
		if !ok {
			continue
		}
		r := thresholdReason(t)
		for _, k := range x.byKind[kind] {
			ds.add(k, r)
		}
	}
	for k, ps := range x.modelPattern {
		if r, ok := featureReason(ps); ok {
			ds.add(k, r)
		}
	}
}

func strategyReason(g strategyGain) flywheel.Reason {
	return flywheel.Reason{
		Source: flywheel.SourceCILS,
		Kind:   KindBetterStrategy,
		Message: fmt.Sprintf("strategy %q of kind %s is expected to raise the validation score by %.4g (%.1f%% of its level) over the current %q",
			g.kind.Key, g.kind.Kind, g.gain.ExpectedImprovement, 100*g.gain.RelativeImprovement, g.gain.Current),
		Values: map[string]float64{
			"expected_improvement": g.gain.ExpectedImprovement,
			"relative_improvement": g.gain.RelativeImprovement,
			"level":                g.gain.Level,
		},
	}
}

func thresholdReason(t *cils.KindThreshold) flywheel.Reason {
	return flywheel.Reason{
		Source: flywheel.SourceCILS,
		Kind:   KindNewThresholds,
		Message: fmt.Sprintf("new leakage threshold %.4g for kind %s (F1 %.2f, was %.4g with F1 %.2f)",
			t.Threshold, t.Kind, t.F1, t.CurrentThreshold, t.CurrentF1),
		Values: map[string]float64{
			"threshold": t.Threshold, "f1": t.F1, "precision": t.Precision, "recall": t.Recall,
			"current_threshold": t.CurrentThreshold, "current_f1": t.CurrentF1,
		},
	}
}

// featureReason folds a model's feature patterns (top-K entries, repeated
// leaks, unstable importances) into one reason that names the features,
// a few per kind of pattern; the patterns themselves, with their
// numbers, are in the CILS insights.
func featureReason(ps []*cils.NewPattern) (flywheel.Reason, bool) {
	byType := map[string][]string{}
	counts := map[string]float64{}
	for _, p := range ps {
		switch p.Type {
		case cils.PatternTopKEntry, cils.PatternRepeatedLeak, cils.PatternUnstable:
			byType[p.Type] = append(byType[p.Type], p.Feature)
			counts[p.Type]++
		}
	}
	if len(counts) == 0 {
		return flywheel.Reason{}, false
	}
	var parts []string
	for _, t := range []struct{ typ, what string }{
		{cils.PatternTopKEntry, "entered or rose in the importance top list"},
		{cils.PatternRepeatedLeak, "flagged as leaks run after run"},
		{cils.PatternUnstable, "with unstable importance"},
	} {
		if fs := byType[t.typ]; len(fs) > 0 {
			parts = append(parts, fmt.Sprintf("%d %s (%s)", len(fs), t.what, listSome(fs, 3)))
		}
	}
	return flywheel.Reason{
		Source:  flywheel.SourceCILS,
		Kind:    KindFeaturePattern,
		Message: "feature patterns changed: " + strings.Join(parts, "; "),
		Values:  counts,
	}, true
}

// listSome names the first n of xs, sorted, and how many more there are.
func listSome(xs []string, n int) string {
	xs = slices.Clone(xs)
	slices.Sort(xs)
	if len(xs) <= n {
		return strings.Join(xs, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(xs[:n], ", "), len(xs)-n)
}

func collectARPO(cfg *Config, in *arpo.Insights, x *index, ds drafts) {
	if in == nil {
		return
	}
	// The learner's own retrain list first: its reasons are the fullest.
	// Its position cuts are left to the check below, so that the cut level
	// is this package's (signals.position_cut_below), the same one the
	// training config update uses.
	for i := range in.TargetsNeedingRetrain {
		t := &in.TargetsNeedingRetrain[i]
		for _, r := range t.Reasons {
			if r.Kind != KindPositionCut {
				ds.add(t.ModelKey, r)
			}
		}
	}
	for i := range in.UnderperformingPositions {
		u := &in.UnderperformingPositions[i]
		ds.add(u.ModelKey, flywheel.Reason{Source: flywheel.SourceARPO, Kind: KindUnderperforming, Message: u.Reason,
			Values: map[string]float64{"psr": u.PSR, "psr_level": u.PSRLevel, "sharpe": u.Sharpe,
				"expected_sharpe": u.ExpectedSharpe, "days": float64(u.Days)}})
	}
	for k := range x.adjustments {
		if a, ok := x.positionCut(cfg, k); ok {
			ds.add(k, flywheel.Reason{Source: flywheel.SourceARPO, Kind: KindPositionCut,
				Message: fmt.Sprintf("position size cut to %.2fx, below %.2fx: %s", a.SizeFactor, cfg.Signals.PositionCutBelow, a.Reason),
				Values:  map[string]float64{"size_factor": a.SizeFactor, "target_size": a.TargetSize, "threshold": cfg.Signals.PositionCutBelow}})
		}
	}
	for i := range in.RegimeMismatch {
		m := &in.RegimeMismatch[i]
		ds.add(m.ModelKey, flywheel.Reason{Source: flywheel.SourceARPO, Kind: KindRegimeMismatch, Message: m.Reason,
			Values: map[string]float64{"confidence": m.Confidence, "sharpe_current": m.SharpeCurrent,
				"sharpe_overall": m.SharpeOverall, "z": m.Z}})
	}
	for i := range in.RiskLimits.Violations {
		v := &in.RiskLimits.Violations[i]
		ds.add(v.ModelKey, flywheel.Reason{Source: flywheel.SourceARPO, Kind: KindRiskViolation,
			Message: "risk predictions inaccurate: " + v.Reason,
			Values:  map[string]float64{v.Metric: v.Value, "limit": v.Limit, "days": float64(v.Days)}})
	}
}

// agreeReason is the orchestrator's cross-system signal (seed 6.1): both
// learners ask to retrain the model.
func agreeReason(d *draft) (flywheel.Reason, bool) {
	var c, a []string
	for _, r := range d.reasons {
		if !retrainKinds[r.Kind] {
			continue
		}
		switch r.Source {
		case flywheel.SourceCILS:
			c = append(c, r.Kind)
		case flywheel.SourceARPO:
			a = append(a, r.Kind)
		}
	}
	if len(c) == 0 || len(a) == 0 {
		return flywheel.Reason{}, false
	}
	return flywheel.Reason{
		Source:  flywheel.SourceOrchestrator,
		Kind:    KindLearnersAgree,
		Message: fmt.Sprintf("both learners ask to retrain: CILS (%s) and ARPO (%s)", strings.Join(c, ", "), strings.Join(a, ", ")),
	}, true
}

// staleReason is the seed's "scheduled maintenance (periodic retraining
// for model freshness)": the latest successful training is older than
// the model's max age.
func staleReason(cfg *Config, now time.Time, m *ModelState) (flywheel.Reason, bool) {
	if m.LastTrained == nil {
		return flywheel.Reason{}, false
	}
	maxAge := cfg.Signals.MaxModelAgeDays
	if m.MaxAgeDays > 0 {
		maxAge = m.MaxAgeDays
	}
	age := now.Sub(*m.LastTrained)
	if age <= days(maxAge) {
		return flywheel.Reason{}, false
	}
	ageDays := age.Hours() / 24
	return flywheel.Reason{
		Source:  flywheel.SourceOrchestrator,
		Kind:    KindStale,
		Message: fmt.Sprintf("last trained %.1f days ago, more than its max age of %g days", ageDays, maxAge),
		Values:  map[string]float64{"age_days": ageDays, "max_age_days": maxAge},
	}, true
}

// sources lists the distinct sources of reasons in source order.
func sources(reasons []flywheel.Reason) []string {
	var out []string
	for _, r := range reasons {
		if !slices.Contains(out, r.Source) {
			out = append(out, r.Source)
		}
	}
	return out
}

// SignalID returns the id of a model's signal raised at a decision time:
// the time, then a hash of the model and the time to the nanosecond, so
// that the same snapshot always gives the same ids and ids sort by time.
func SignalID(k flywheel.ModelKey, at time.Time) string {
	return "sig-" + stamp(at) + "-" + digest("signal", k.Target, k.ModelFamily, at)
}

// JobID returns the id of the job created for a signal at a decision time.
func JobID(signalID string, at time.Time) string {
	return "job-" + stamp(at) + "-" + digest("job", signalID, "", at)
}

func stamp(at time.Time) string { return at.UTC().Format("20060102T150405Z") }

func digest(kind, a, b string, at time.Time) string {
	h := sha256.New()
	for _, s := range []string{kind, a, b} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	var ns [8]byte
	binary.BigEndian.PutUint64(ns[:], uint64(at.UnixNano()))
	h.Write(ns[:])
	return hex.EncodeToString(h.Sum(nil)[:6])
}
