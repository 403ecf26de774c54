package backtest

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
)

// WriteTable writes the comparison as a text table, a policy a row.
func WriteTable(w io.Writer, res *Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "policy\tnet P&L\t95% CI\tSharpe\t95% CI\tmax DD\truns\tcompute\twasted\taccuracy\tspearman\tlatency h\t")
	for _, name := range res.Order {
		m := res.Policies[name]
		fmt.Fprintf(tw, "%s\t%.4f\t[%.4f, %.4f]\t%.2f\t[%.2f, %.2f]\t%.4f\t%d\t%.0f\t%d%s\t%s\t%s\t%s\t\n",
			name, m.NetPnL, m.NetPnLCI[0], m.NetPnLCI[1], m.Sharpe, m.SharpeCI[0], m.SharpeCI[1], m.MaxDrawdown,
			m.Runs, m.Compute, m.Wasted, share(m.WastedShare), opt(m.SignalAccuracy, "%.2f"),
			opt(m.PrioritySpearman, "%.2f"), opt(m.DecisionLatencyHours, "%.0f"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	f := res.Figures
	_, err := fmt.Fprintf(w, "\nflywheel gain over never / oracle's: %s   wasted runs vs periodic: %s fewer   priority-improvement Spearman: %s\n",
		opt(f.GainShare, "%.2f"), pct(f.WastedReduction), opt(f.PrioritySpearman, "%.2f"))
	if err != nil {
		return err
	}
	return writeConfigTable(w, res)
}

// writeConfigTable writes what the config propagator made of the config
// updates of each policy whose jobs carried them.
func writeConfigTable(w io.Writer, res *Result) error {
	var names []string
	for _, name := range res.Order {
		if res.Policies[name].ConfigChanges != nil {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	if _, err := fmt.Fprintln(w, "\nconfig updates of the admitted jobs, written by the config propagator:"); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "policy\tupdates\tapplied\trepeated\trefused\tpromoted\trolled back\tin canary\t")
	for _, name := range names {
		c := res.Policies[name].ConfigChanges
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%d\t%s\t%d\t\n", name, c.Updates, c.Applied, c.Repeated,
			byReason(c.Refused), c.Promoted, byReason(c.RolledBack), c.InCanary)
	}
	return tw.Flush()
}

// byReason writes counts as "total (reason n, ...)", reasons sorted.
func byReason(counts map[string]int) string {
	total := 0
	var parts []string
	for _, reason := range slices.Sorted(maps.Keys(counts)) {
		total += counts[reason]
		parts = append(parts, fmt.Sprintf("%s %d", reason, counts[reason]))
	}
	if total == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, ", "))
}

func opt(v *float64, format string) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf(format, *v)
}

func share(v *float64) string {
	if v == nil {
		return ""
	}
	return fmt.Sprintf(" (%.0f%%)", 100**v)
}

func pct(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100**v)
}
