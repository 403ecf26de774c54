package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/flywheel-ml/flywheel/backtest"
	"github.com/flywheel-ml/flywheel/prices"
)

// backtestFlags are the flags of `flywheel backtest`.
type backtestFlags struct {
	prices, scenario, policies, report string
	synthetic, asJSON                  bool
	seed                               uint64
	seeds, days                        int
	budget                             float64
}

func newBacktestCmd(e *env) *cobra.Command {
	var f backtestFlags
	cmd := &cobra.Command{
		Use:   "backtest [--prices FILE | --synthetic [--scenario FILE]] [--seed N] [--policies LIST] [--budget X] [--json] [--report FILE]",
		Short: "Replay the loop on a simulated clock and compare retraining policies",
		Long: `Replay the flywheel loop day by day on a simulated clock, through the same
decision code as the daemon (CILS, ARPO, the orchestrator), and compare
retraining policies on the same data and compute budget: never, periodic
(every N trading days, N chosen to spend what flywheel spends), round-robin
(within the budget), threshold (CILS degradation only), seed (the seed's
fixed weights), flywheel (the default, calibrated) and oracle (synthetic
market only: the retrains with the largest true value).

Markets: --prices FILE, a wide price CSV (one model per asset, retrained by
the reference pipeline on the data up to each day), or --synthetic (the
default), described by --scenario FILE (YAML; see
backtest/testdata/scenario-default.yaml for every key and its default).
--budget overrides the daily compute budget; --days the trading days
replayed (the last N of a price file); --seeds N repeats the synthetic
comparison over seeds --seed .. --seed+N-1 and reports the figures over
seeds.

Output: a table, or with --json one object with "policies" (each policy's
metrics by name); --report FILE writes a self-contained HTML report with
SVG charts. The same seed gives the same JSON, byte for byte; wall times go
to standard error.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return runBacktest(cmd, e, &f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.prices, "prices", "", "wide price CSV (date, then one column per asset)")
	fl.BoolVar(&f.synthetic, "synthetic", false, "use the built-in synthetic market (the default without --prices)")
	fl.StringVar(&f.scenario, "scenario", "", "synthetic scenario YAML (default: the built-in defaults)")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of the synthetic market and of the bootstrap")
	fl.IntVar(&f.seeds, "seeds", 1, "synthetic market: compare on this many seeds from --seed")
	fl.IntVar(&f.days, "days", 0, "trading days to replay (default: the scenario's; 250 with --prices)")
	fl.StringVar(&f.policies, "policies", "all", "comma-separated policies: never,periodic,round-robin,threshold,seed,flywheel,oracle")
	fl.Float64Var(&f.budget, "budget", 0, "daily compute budget in units (default: the scenario's)")
	fl.BoolVar(&f.asJSON, "json", false, "write JSON instead of the table")
	fl.StringVar(&f.report, "report", "", "write an HTML report to FILE")
	return cmd
}

func runBacktest(cmd *cobra.Command, e *env, f *backtestFlags) error {
	o, err := backtestOptions(f)
	if err != nil {
		return err
	}
	bar := newProgressBar(e.stderr)
	o.Progress = bar.update
	ctx := cmd.Context()
	if f.seeds > 1 {
		sw, err := backtest.RunSweep(ctx, o, f.seed, f.seeds)
		bar.done()
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "backtest: %d seeds in %s, %.0f simulated trading days per second (all policies)\n",
			f.seeds, sw.Wall.Round(time.Millisecond), sw.DaysPerSecond)
		if f.report != "" && len(sw.Runs) > 0 {
			if err := writeReport(f.report, sw.Runs[0]); err != nil {
				return err
			}
		}
		if f.asJSON {
			return writeJSON(e.stdout, sw)
		}
		return backtest.WriteSweepTable(e.stdout, sw)
	}
	mk, err := backtestMarket(ctx, f, o)
	if err != nil {
		return err
	}
	res, err := backtest.Compare(ctx, mk, o)
	bar.done()
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "backtest: %d days x %d policies x %d models in %s, %.0f simulated trading days per second (all policies)\n",
		res.Days, len(res.Order), res.Models, res.Wall.Round(time.Millisecond), float64(res.Days)/res.Wall.Seconds())
	if f.report != "" {
		if err := writeReport(f.report, res); err != nil {
			return err
		}
	}
	if f.asJSON {
		return writeJSON(e.stdout, res)
	}
	return backtest.WriteTable(e.stdout, res)
}

// backtestOptions turns the flags into options, refusing contradictions.
func backtestOptions(f *backtestFlags) (backtest.Options, error) {
	o := backtest.DefaultOptions()
	if f.prices != "" && (f.synthetic || f.scenario != "") {
		return o, usageError{fmt.Errorf("--prices excludes --synthetic and --scenario")}
	}
	if f.prices != "" && f.seeds > 1 {
		return o, usageError{fmt.Errorf("--seeds needs the synthetic market")}
	}
	if f.seeds < 1 || f.days < 0 || f.budget < 0 {
		return o, usageError{fmt.Errorf("--seeds must be at least 1, --days and --budget not negative")}
	}
	if f.scenario != "" {
		sc, err := backtest.LoadScenario(f.scenario)
		if err != nil {
			return o, err
		}
		o.Scenario = sc
	}
	if f.days > 0 {
		o.Scenario.Days = f.days
	} else if f.prices != "" {
		o.Scenario.Days = 250
	}
	if f.budget > 0 {
		o.Scenario.Budget = f.budget
	}
	if err := o.Scenario.Validate(); err != nil {
		return o, usageError{err}
	}
	pols, err := backtest.ParsePolicies(f.policies)
	if err != nil {
		return o, usageError{err}
	}
	if f.prices != "" {
		// The oracle needs the truth, which only the synthetic market has.
		if f.policies != "all" && slices.Contains(pols, backtest.PolicyOracle) {
			return o, usageError{fmt.Errorf("the oracle policy needs the synthetic market")}
		}
		pols = slices.DeleteFunc(pols, func(p string) bool { return p == backtest.PolicyOracle })
	}
	o.Policies, o.Seed = pols, f.seed
	return o, nil
}

func backtestMarket(ctx context.Context, f *backtestFlags, o backtest.Options) (backtest.Market, error) {
	if f.prices == "" {
		return backtest.NewSynthetic(o.Scenario, f.seed)
	}
	file, err := os.Open(f.prices)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	tab, err := prices.Read(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.prices, err)
	}
	return backtest.NewPrices(ctx, filepath.Base(f.prices), tab, o.Scenario.Days)
}

func writeReport(path string, res *backtest.Result) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := backtest.WriteHTML(out, res); err != nil {
		out.Close()
		return fmt.Errorf("write report: %w", err)
	}
	return out.Close()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// progressBar redraws one line on a terminal with \r; elsewhere it stays
// silent so that logs and pipes get no control characters.
type progressBar struct {
	w    io.Writer
	on   bool
	last int
}

func newProgressBar(w io.Writer) *progressBar {
	f, ok := w.(*os.File)
	on := false
	if ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			on = true
		}
	}
	return &progressBar{w: w, on: on, last: -1}
}

func (b *progressBar) update(done, total int) {
	if !b.on || total == 0 {
		return
	}
	pct := done * 100 / total
	if pct == b.last {
		return
	}
	b.last = pct
	const width = 40
	n := pct * width / 100
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = '.'
		if i < n {
			bar[i] = '#'
		}
	}
	fmt.Fprintf(b.w, "\r[%s] %3d%% %d/%d days", bar, pct, done, total)
}

func (b *progressBar) done() {
	if b.on && b.last >= 0 {
		fmt.Fprint(b.w, "\r\033[K")
	}
}
