package cils

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// ForTarget returns a copy of the insights keeping only the entries about
// target (and the kind-wide entries of its kind). An empty target keeps
// everything.
func (in *Insights) ForTarget(target string) *Insights {
	if target == "" {
		return in
	}
	out := *in
	keep := func(t string) bool { return t == target }
	out.DegradingTargets = filter(in.DegradingTargets, func(d Degradation) bool { return keep(d.Target) })
	out.TargetsNeedingRetrain = filter(in.TargetsNeedingRetrain, func(r RetrainTarget) bool { return keep(r.Target) })
	out.Estimates = filter(in.Estimates, func(e Estimate) bool { return keep(e.Target) })
	out.NewPatterns = filter(in.NewPatterns, func(p NewPattern) bool { return p.Target == "" || keep(p.Target) })
	out.FeaturePatterns = FeaturePatterns{
		TopKEntries:   filter(in.FeaturePatterns.TopKEntries, func(j RankJump) bool { return keep(j.Target) }),
		RepeatedLeaks: filter(in.FeaturePatterns.RepeatedLeaks, func(l RepeatedLeak) bool { return keep(l.Target) }),
		Unstable:      filter(in.FeaturePatterns.Unstable, func(u UnstableFeature) bool { return keep(u.Target) }),
	}
	kinds := map[string]bool{}
	for _, e := range out.Estimates {
		kinds[e.Kind] = true
	}
	out.OptimalStrategies = nil
	for _, s := range in.OptimalStrategies {
		if kinds[s.Kind] {
			s.Targets = filter(s.Targets, func(g StrategyGain) bool { return keep(g.Target) })
			out.OptimalStrategies = append(out.OptimalStrategies, s)
		}
	}
	out.OptimalThresholds = filter(in.OptimalThresholds, func(t KindThreshold) bool { return kinds[t.Kind] })
	if out.OptimalStrategies == nil {
		out.OptimalStrategies = []KindStrategy{}
	}
	return &out
}

func filter[T any](xs []T, keep func(T) bool) []T {
	out := make([]T, 0, len(xs))
	for _, x := range xs {
		if keep(x) {
			out = append(out, x)
		}
	}
	return out
}

// WriteTable prints the insights for a person: one section per part, each
// flagged model with its reason and the numbers behind it.
func (in *Insights) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format, args...) }
	p("CILS insights of %s from %d runs (%d scored) of %d models\n", in.GeneratedAt.Format("2006-01-02 15:04:05Z07:00"), in.Runs, in.RunsScored, in.Models)

	section(tw, "Degrading targets", len(in.DegradingTargets))
	if len(in.DegradingTargets) > 0 {
		p("TARGET\tFAMILY\tTRIGGER\tBASELINE\tLATEST\tDROP\tPAGE-HINKLEY\tREASON\n")
		for _, d := range in.DegradingTargets {
			p("%s\t%s\t%s\t%.4g\t%.4g\t%.1f%%\t%.3g / %.3g\t%s\n", d.Target, d.ModelFamily, strings.Join(d.Triggers, "+"),
				d.Baseline, d.Latest, 100*d.Drop, d.PageHinkley, d.PageHinkleyThreshold, d.Reason)
		}
	}
	section(tw, "Targets needing retrain", len(in.TargetsNeedingRetrain))
	for _, r := range in.TargetsNeedingRetrain {
		for i, reason := range r.Reasons {
			if i == 0 {
				p("%s\t%s\t%s\n", r.Target, r.ModelFamily, reason.Message)
			} else {
				p("\t\t%s\n", reason.Message)
			}
		}
	}
	section(tw, "Optimal strategies per kind", len(in.OptimalStrategies))
	if len(in.OptimalStrategies) > 0 {
		p("KIND\tSTRATEGY\tRUNS\tMODELS\tEXPLORING\tTARGETS THAT WOULD GAIN\n")
		for _, s := range in.OptimalStrategies {
			gains := 0
			for _, g := range s.Targets {
				if g.ExpectedImprovement > 0 {
					gains++
				}
			}
			p("%s\t%s\t%d\t%d\t%v\t%d\n", s.Kind, s.Key, s.Runs, s.Models, s.Exploring, gains)
		}
	}
	section(tw, "Optimal leakage thresholds per kind", len(in.OptimalThresholds))
	if len(in.OptimalThresholds) > 0 {
		p("KIND\tTHRESHOLD\tPRECISION\tRECALL\tF1\tSUPPORT\tCURRENT\tCURRENT F1\n")
		for _, t := range in.OptimalThresholds {
			p("%s\t%.3f\t%.2f\t%.2f\t%.2f\t%d\t%.3f\t%.2f\n", t.Kind, t.Threshold, t.Precision, t.Recall, t.F1, t.Support, t.CurrentThreshold, t.CurrentF1)
		}
	}
	fp := in.FeaturePatterns
	section(tw, "Feature patterns", len(fp.TopKEntries)+len(fp.RepeatedLeaks)+len(fp.Unstable))
	for _, j := range fp.TopKEntries {
		p("%s\t%s\t%s jumped into the top list: rank %d, was %d\n", j.Target, j.ModelFamily, j.Feature, j.Rank, j.PreviousRank)
	}
	for _, l := range fp.RepeatedLeaks {
		p("%s\t%s\t%s flagged as a leak in %d runs (%d confirmed, max score %.3f)\n", l.Target, l.ModelFamily, l.Feature, l.Runs, l.Confirmed, l.MaxScore)
	}
	for _, u := range fp.Unstable {
		p("%s\t%s\t%s has unstable importance: CV %.2f over %d runs\n", u.Target, u.ModelFamily, u.Feature, u.CV, u.Runs)
	}
	section(tw, "New patterns since the previous version", len(in.NewPatterns))
	for _, n := range in.NewPatterns {
		p("%s\t%s\n", n.Type, n.Message)
	}
	section(tw, "Estimates per model", len(in.Estimates))
	if len(in.Estimates) > 0 {
		p("TARGET\tFAMILY\tEXP. IMPROVEMENT\t(RUNS)\tRESTORABLE GAP\t(BASELINE -> CURRENT)\tEXP. COST\t(RUNS)\tEXP. DURATION\t(RUNS)\n")
		for _, e := range in.Estimates {
			p("%s\t%s\t%+.4g\t%d\t%+.4g\t%.4g -> %.4g\t%.3g\t%d\t%s\t%d\n", e.Target, e.ModelFamily, e.ExpectedImprovement, e.ImprovementRuns,
				e.RestorableGap, e.Baseline, e.Latest, e.ExpectedCost, e.CostRuns, seconds(e.ExpectedDurationSeconds), e.DurationRuns)
		}
	}
	return tw.Flush()
}

func section(tw *tabwriter.Writer, title string, n int) {
	if n == 0 {
		fmt.Fprintf(tw, "\n%s: none\n", title)
		return
	}
	fmt.Fprintf(tw, "\n%s (%d):\n", title, n)
}

func seconds(s float64) string {
	switch {
	case s >= 3600:
		return fmt.Sprintf("%.1fh", s/3600)
	case s >= 60:
		return fmt.Sprintf("%.0fm", s/60)
	}
	return fmt.Sprintf("%.0fs", s)
}
