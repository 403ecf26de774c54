package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/flywheel-ml/flywheel/regime"
)

// regimesJSON is what `flywheel regimes --json` prints.
type regimesJSON struct {
	Column string   `json:"column"`
	States int      `json:"states"`
	Names  []string `json:"names"`
	// Fallback reports that the HMM fit was poor and the regimes come from
	// rolling volatility against its quantiles; Reason says why.
	Fallback bool               `json:"fallback"`
	Reason   string             `json:"reason,omitempty"`
	Model    *regimeModelJSON   `json:"model,omitempty"`
	Current  regimePeriodJSON   `json:"current"`
	Periods  []regimePeriodJSON `json:"periods"`
}

// regimeModelJSON is the fitted HMM, states ordered calm first.
type regimeModelJSON struct {
	// Means and Variances are of daily log returns; AnnualVolatility is
	// sqrt(252 variance).
	Means            []float64   `json:"means"`
	Variances        []float64   `json:"variances"`
	AnnualVolatility []float64   `json:"annual_volatility"`
	Transition       [][]float64 `json:"transition"`
	Occupancy        []float64   `json:"occupancy"`
	LogLikelihood    float64     `json:"log_likelihood"`
	Iterations       int         `json:"iterations"`
	Converged        bool        `json:"converged"`
}

// regimePeriodJSON is one date: its most probable regime, the smoothed
// probability of each state (given all returns) and the filtered one
// (given the returns up to that date).
type regimePeriodJSON struct {
	Date          string             `json:"date"`
	Regime        string             `json:"regime"`
	Probabilities map[string]float64 `json:"probabilities"`
	Filtered      map[string]float64 `json:"filtered"`
}

func newRegimesCmd(e *env) *cobra.Command {
	var path, column string
	var states int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "regimes --prices FILE --column NAME",
		Short: "Label each date of a price series with a market regime",
		Long: `Fit a Gaussian hidden Markov model with 2 states (calm, volatile) or 3
(calm, volatile, crisis) by Baum-Welch to the daily log returns of one column
of a wide price CSV (FILE "-" reads standard input), and print the regime of
each date with the probability of each state. States are ordered by
volatility. When the fit is poor (no convergence, a degenerate or nearly
empty state) the regimes come from rolling 21-day volatility against its
quantiles instead, and the output says so.

The probabilities are smoothed (they use the whole series, right for
labelling history); --json adds the filtered ones, which use only the
returns up to each date, what a live system would have known.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if path == "" || column == "" {
				return usageError{fmt.Errorf("regimes: --prices FILE and --column NAME are required")}
			}
			if states != 2 && states != 3 {
				return usageError{fmt.Errorf("regimes: --states %d; want 2 or 3", states)}
			}
			tab, err := readTable(e, path)
			if err != nil {
				return err
			}
			if tab.Asset(column) < 0 {
				return fmt.Errorf("regimes: no column %q in %s; columns: %s", column, path, strings.Join(tab.Assets, ", "))
			}
			s, err := tab.LogReturns(column)
			if err != nil {
				return err
			}
			if len(s.Values) < 2 {
				return fmt.Errorf("regimes: column %s of %s has %d returns; at least 2 are needed", column, path, len(s.Values))
			}
			det, err := regime.Detect(s.Dates, s.Values, states, regime.Options{})
			if err != nil {
				return fmt.Errorf("regimes: %w", err)
			}
			out := regimesOutput(column, states, det)
			if asJSON {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			return writeRegimes(e.stdout, out)
		},
	}
	f := cmd.Flags()
	f.StringVar(&path, "prices", "", "price CSV (wide: date, then one column per asset); - for standard input")
	f.StringVar(&column, "column", "", "the column to fit, e.g. SPY")
	f.IntVar(&states, "states", 2, "number of regimes: 2 (calm, volatile) or 3 (calm, volatile, crisis)")
	f.BoolVar(&asJSON, "json", false, "print the model and every date as JSON")
	return cmd
}

func regimesOutput(column string, states int, det *regime.Detection) *regimesJSON {
	out := &regimesJSON{Column: column, States: states, Names: det.Names, Fallback: det.Fallback, Reason: det.Reason}
	if m := det.Model; m != nil && !det.Fallback {
		mj := &regimeModelJSON{
			Means: m.Means, Variances: m.Variances, Transition: m.Trans, Occupancy: m.Occupancy,
			LogLikelihood: m.LogLikelihood, Iterations: m.Iterations, Converged: m.Converged,
		}
		for _, v := range m.Variances {
			mj.AnnualVolatility = append(mj.AnnualVolatility, math.Sqrt(252*v))
		}
		out.Model = mj
	}
	probs := func(p []float64) map[string]float64 {
		m := make(map[string]float64, len(p))
		for k, v := range p {
			m[det.Names[k]] = v
		}
		return m
	}
	out.Periods = make([]regimePeriodJSON, len(det.Dates))
	for t, d := range det.Dates {
		out.Periods[t] = regimePeriodJSON{
			Date: d.Format(time.DateOnly), Regime: det.Names[det.Regimes[t]],
			Probabilities: probs(det.Probs[t]), Filtered: probs(det.Filtered[t]),
		}
	}
	out.Current = out.Periods[len(out.Periods)-1]
	return out
}

// writeRegimes prints the model, then one row per date.
func writeRegimes(w io.Writer, out *regimesJSON) error {
	first, last := out.Periods[0].Date, out.Current.Date
	var b strings.Builder
	if out.Model != nil {
		m := out.Model
		fmt.Fprintf(&b, "%s: %d-state Gaussian HMM on %d daily log returns, %s to %s (converged in %d iterations, log-likelihood %.2f)\n",
			out.Column, out.States, len(out.Periods), first, last, m.Iterations, m.LogLikelihood)
		for k, name := range out.Names {
			fmt.Fprintf(&b, "  %-8s  annual volatility %6.2f%%, mean daily return %+.5f, %5.1f%% of days, stays with probability %.4f\n",
				name, 100*m.AnnualVolatility[k], m.Means[k], 100*m.Occupancy[k], m.Transition[k][k])
		}
	} else {
		fmt.Fprintf(&b, "%s: %d regimes from rolling volatility quantiles on %d daily log returns, %s to %s (the HMM fit was poor: %s)\n",
			out.Column, out.States, len(out.Periods), first, last, out.Reason)
	}
	fmt.Fprintf(&b, "Current regime on %s: %s (probability %.4f)\n\n", last, out.Current.Regime, out.Current.Probabilities[out.Current.Regime])
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "DATE\tREGIME\t")
	for _, name := range out.Names {
		fmt.Fprintf(tw, "P(%s)\t", strings.ToUpper(name))
	}
	fmt.Fprintln(tw)
	for _, p := range out.Periods {
		fmt.Fprintf(tw, "%s\t%s\t", p.Date, p.Regime)
		for _, name := range out.Names {
			fmt.Fprintf(tw, "%.4f\t", p.Probabilities[name])
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}
