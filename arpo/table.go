package arpo

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// ForTarget returns the insights restricted to one target's models (the
// book-level parts, regime and portfolio performance, stay whole), or in
// itself when target is empty. It is what `flywheel insights arpo
// --target` prints.
func (in *Insights) ForTarget(target string) *Insights {
	if target == "" {
		return in
	}
	out := *in
	keep := func(k flywheel.ModelKey) bool { return k.Target == target }
	out.ModelPerformance = filter(in.ModelPerformance, func(p ModelPerformance) bool { return keep(p.ModelKey) })
	out.UnderperformingPositions = filter(in.UnderperformingPositions, func(u Underperformance) bool { return keep(u.ModelKey) })
	out.PositionAdjustments = filter(in.PositionAdjustments, func(a PositionAdjustment) bool { return keep(a.ModelKey) })
	out.RegimeStrategies = filter(in.RegimeStrategies, func(s RegimeStrategy) bool { return keep(s.ModelKey) })
	out.RegimeMismatch = filter(in.RegimeMismatch, func(m RegimeMismatch) bool { return keep(m.ModelKey) })
	out.RiskLimits.Violations = filter(in.RiskLimits.Violations, func(v RiskViolation) bool { return keep(v.ModelKey) })
	out.Allocation.Weights = filter(in.Allocation.Weights, func(w ModelWeight) bool { return keep(w.ModelKey) })
	out.HighPriorityTargets = filter(in.HighPriorityTargets, func(h HighPriority) bool { return keep(h.ModelKey) })
	out.TargetsNeedingRetrain = filter(in.TargetsNeedingRetrain, func(t RetrainTarget) bool { return keep(t.ModelKey) })
	return &out
}

// filter returns the elements of list that pass, never nil, so that an
// emptied list still encodes as [].
func filter[T any](list []T, pass func(T) bool) []T {
	out := []T{}
	for _, e := range list {
		if pass(e) {
			out = append(out, e)
		}
	}
	return out
}

// WriteTable prints the insights for a person: a summary of the regime,
// the book and the allocation, one row per model, then the models to
// retrain with their reasons, the high-priority models and the regime
// strategies. With a non-empty target only that target's models are shown
// (ENotFound when there are none). It is what `flywheel insights arpo`
// prints without --json.
func (in *Insights) WriteTable(w io.Writer, target string) error {
	view := in.ForTarget(target)
	if target != "" && len(view.ModelPerformance) == 0 {
		return flywheel.Errorf(flywheel.ENotFound, "no live model with target %q", target)
	}
	ew := &errWriter{w: w}
	view.writeSummary(ew)
	view.writeModels(ew)
	view.writeLists(ew)
	return ew.err
}

// errWriter keeps the first write error so the printing code can stay a
// list of Fprintf calls.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return len(p), nil
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, nil
}

func (in *Insights) writeSummary(w io.Writer) {
	fmt.Fprintf(w, "ARPO insights at %s: %d models, %d of %d observations in their windows\n",
		in.GeneratedAt.Format(time.RFC3339), in.Models, in.ObservationsUsed, in.Observations)
	r := in.Regime
	fmt.Fprintf(w, "Regime: %s (source %s", r.Current, r.Source)
	if p, ok := r.Probabilities[r.Current]; ok {
		fmt.Fprintf(w, ", p=%.3f", p)
	}
	if r.AsOf != nil {
		fmt.Fprintf(w, ", as of %s", r.AsOf.Format(time.DateOnly))
	}
	fmt.Fprint(w, ")")
	if r.Fallback {
		fmt.Fprint(w, " [volatility-quantile fallback]")
	}
	if r.Reason != "" {
		fmt.Fprintf(w, ": %s", r.Reason)
	}
	fmt.Fprintln(w)
	pp := in.PortfolioPerformance
	fmt.Fprintf(w, "Book: P&L %.4g vs expected %.4g over %d days; Sharpe %s (expected %s, PSR %s); max drawdown %.4g; VaR95 %s; CVaR95 %s; gross exposure %.4g\n",
		pp.PnL, pp.ExpectedPnL, pp.Days, num(pp.Sharpe, 2), num(pp.ExpectedSharpe, 2), num(pp.PSR, 3),
		pp.MaxDrawdown, num(pp.VaR95, 4), num(pp.CVaR95, 4), pp.GrossExposure)
	a := in.Allocation
	fmt.Fprintf(w, "Allocation (%s, %s covariance): %d of %d eligible models over %d days", a.Method, a.Covariance, a.Models, a.Eligible, a.Days)
	if a.Note != "" {
		fmt.Fprintf(w, ": %s\n", a.Note)
	} else {
		fmt.Fprintf(w, "; expected return %s, volatility %s, Sharpe %s\n",
			num(a.Performance.ExpectedReturn, 4), num(a.Performance.Volatility, 4), num(a.Performance.Sharpe, 3))
	}
}

func (in *Insights) writeModels(w io.Writer) {
	weights := map[flywheel.ModelKey]float64{}
	for _, mw := range in.Allocation.Weights {
		weights[mw.ModelKey] = mw.Weight
	}
	violated := map[flywheel.ModelKey]bool{}
	for _, v := range in.RiskLimits.Violations {
		violated[v.ModelKey] = true
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "TARGET\tFAMILY\tDAYS\tPNL\tEXPECTED\tSHARPE\tEXP_SHARPE\tPSR\tHIT\tMAX_DD\tVAR95\tSIZE\tWEIGHT\tFLAGS\t")
	for i := range in.ModelPerformance {
		p := &in.ModelPerformance[i]
		a, _ := in.Adjustment(p.ModelKey)
		var flags []string
		for _, f := range []struct {
			on   bool
			flag string
		}{
			{in.IsUnderperforming(p.ModelKey), "underperforming"},
			{in.IsRegimeMismatched(p.ModelKey), "regime"},
			{violated[p.ModelKey], "risk"},
			{in.IsHighPriority(p.ModelKey), "high-priority"},
		} {
			if f.on {
				flags = append(flags, f.flag)
			}
		}
		weight := "-"
		if v, ok := weights[p.ModelKey]; ok {
			weight = strconv.FormatFloat(v, 'f', 4, 64)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.4g\t%.4g\t%s\t%s\t%s\t%s\t%.4g\t%s\t%.2f %s\t%s\t%s\t\n",
			p.Target, p.ModelFamily, p.Days, p.PnL, p.ExpectedPnL, num(p.Sharpe, 2), num(p.ExpectedSharpe, 2),
			num(p.PSR, 3), num(p.HitRate, 2), p.MaxDrawdown, num(p.VaR95, 4), a.SizeFactor, a.State, weight, strings.Join(flags, ","))
	}
	tw.Flush()
}

func (in *Insights) writeLists(w io.Writer) {
	header := func(title string, n int) bool {
		if n == 0 {
			return false
		}
		fmt.Fprintf(w, "\n%s:\n", title)
		return true
	}
	if header("Needs retraining", len(in.TargetsNeedingRetrain)) {
		for _, t := range in.TargetsNeedingRetrain {
			fmt.Fprintf(w, "  %s\n", t.ModelKey)
			for _, r := range t.Reasons {
				fmt.Fprintf(w, "    - %s: %s\n", r.Kind, r.Message)
			}
		}
	}
	hp := slices.Clone(in.HighPriorityTargets)
	sort.Slice(hp, func(i, j int) bool { return hp[i].Rank < hp[j].Rank })
	if header("High priority", len(hp)) {
		for _, h := range hp {
			fmt.Fprintf(w, "  %d. %s: %s\n", h.Rank, h.ModelKey, h.Reason)
		}
	}
	if header("Regime strategies", len(in.RegimeStrategies)) {
		for _, s := range in.RegimeStrategies {
			fmt.Fprintf(w, "  %s: regime_filter %s, regime_weight %.2f (%s)\n", s.Target, s.RegimeFilter, s.RegimeWeight, s.Reason)
		}
	}
}

// num formats an optional statistic, "-" when undefined.
func num(n Number, prec int) string {
	if !n.Defined() {
		return "-"
	}
	return strconv.FormatFloat(float64(n), 'f', prec, 64)
}
