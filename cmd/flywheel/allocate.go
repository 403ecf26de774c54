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

	"github.com/flywheel-ml/flywheel/arpo"
	"github.com/flywheel-ml/flywheel/prices"
)

// allocationJSON is what `flywheel allocate --json` prints: weights and
// performance as the issue specifies, then what explains them.
type allocationJSON struct {
	Weights     map[string]float64 `json:"weights"`
	Performance struct {
		ExpectedReturn float64 `json:"expected_return"`
		Volatility     float64 `json:"volatility"`
		Sharpe         float64 `json:"sharpe"`
	} `json:"performance"`
	Method          arpo.Method     `json:"method"`
	Covariance      arpo.Covariance `json:"covariance"`
	ExpectedReturns arpo.Mean       `json:"expected_returns"`
	RiskFree        float64         `json:"risk_free"`
	Periods         int             `json:"periods"`
	From            string          `json:"from"`
	To              string          `json:"to"`
	// RiskContributions are each asset's share of the portfolio variance.
	RiskContributions map[string]float64 `json:"risk_contributions,omitempty"`
	Shrinkage         *float64           `json:"shrinkage,omitempty"`
	HRP               *hrpJSON           `json:"hrp,omitempty"`
}

// hrpJSON explains an HRP allocation.
type hrpJSON struct {
	// Order is the quasi-diagonal order, by name and by 0-based column
	// index in file order.
	Order      []string        `json:"order"`
	OrderIndex []int           `json:"order_index"`
	Bisections []bisectionJSON `json:"bisections"`
}

type bisectionJSON struct {
	Left          []string `json:"left"`
	Right         []string `json:"right"`
	LeftVariance  float64  `json:"left_variance"`
	RightVariance float64  `json:"right_variance"`
	LeftShare     float64  `json:"left_share"`
}

func newAllocateCmd(e *env) *cobra.Command {
	var path, method, cov string
	var rf float64
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "allocate --prices FILE --method min-volatility|max-sharpe|risk-parity|hrp",
		Short: "Allocate long-only across the assets of a daily price CSV",
		Long: `Allocate long-only (weights in [0, 1] summing to 1) across the assets of a
wide daily price CSV (a date column, one column per asset, empty cells for
missing prices; FILE "-" reads standard input) and print the weights and the
expected annual return, volatility and Sharpe ratio.

The conventions are PyPortfolioOpt's, whose reference results this command
reproduces (see ../shared/data/README.md): simple daily returns, a missing
price gives a missing return, covariance computed pairwise and times 252.
Expected returns are compounded for min-volatility, max-sharpe and
risk-parity, and the arithmetic mean times 252 for hrp, as that library's
optimisers and HRPOpt report them. HRP uses single linkage on the daily
correlation; --json adds its quasi-diagonal order and every bisection with
its cluster variances.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec, err := allocationSpec(path, method, cov, rf)
			if err != nil {
				return usageError{err}
			}
			r, err := readReturns(e, path)
			if err != nil {
				return err
			}
			res, err := arpo.Allocate(r.Assets, r.Values, spec)
			if err != nil {
				return fmt.Errorf("allocate %s: %w", path, err)
			}
			out := allocationOutput(r, spec, res)
			if asJSON {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			return writeAllocation(e.stdout, r, out)
		},
	}
	f := cmd.Flags()
	f.StringVar(&path, "prices", "", "price CSV (wide: date, then one column per asset); - for standard input")
	f.StringVar(&method, "method", "", "min-volatility, max-sharpe, risk-parity or hrp")
	f.StringVar(&cov, "cov", string(arpo.SampleCovariance), "covariance: sample or ledoit-wolf")
	f.Float64Var(&rf, "rf", 0.02, "annual risk-free rate of the Sharpe ratio")
	f.BoolVar(&asJSON, "json", false, `print {"weights": {ASSET: w}, "performance": {...}} and the details as JSON`)
	return cmd
}

// allocationSpec checks the flags.
func allocationSpec(path, method, cov string, rf float64) (arpo.AllocationSpec, error) {
	if path == "" {
		return arpo.AllocationSpec{}, fmt.Errorf("allocate: --prices FILE is required")
	}
	if method == "" {
		return arpo.AllocationSpec{}, fmt.Errorf("allocate: --method is required (min-volatility, max-sharpe, risk-parity or hrp)")
	}
	m, err := arpo.ParseMethod(method)
	if err != nil {
		return arpo.AllocationSpec{}, fmt.Errorf("allocate: --method: %w", err)
	}
	c, err := arpo.ParseCovariance(cov)
	if err != nil {
		return arpo.AllocationSpec{}, fmt.Errorf("allocate: --cov: %w", err)
	}
	if math.IsNaN(rf) || math.IsInf(rf, 0) || math.Abs(rf) > 1 {
		return arpo.AllocationSpec{}, fmt.Errorf("allocate: --rf %v is not an annual rate between -1 and 1", rf)
	}
	mean := arpo.CompoundedMean
	if m == arpo.HRP {
		mean = arpo.ArithmeticMean
	}
	return arpo.AllocationSpec{Method: m, Covariance: c, Mean: mean, RiskFree: rf}, nil
}

// readTable reads the price CSV at path ("-" for standard input).
func readTable(e *env, path string) (*prices.Table, error) {
	in, err := openInput(e, path)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	tab, err := prices.Read(in)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(tab.Dates) < 3 {
		return nil, fmt.Errorf("read %s: %d rows of prices; at least 3 are needed", path, len(tab.Dates))
	}
	return tab, nil
}

// readReturns reads the price CSV at path and returns its daily returns.
func readReturns(e *env, path string) (*prices.Returns, error) {
	tab, err := readTable(e, path)
	if err != nil {
		return nil, err
	}
	return tab.Returns(), nil
}

func allocationOutput(r *prices.Returns, spec arpo.AllocationSpec, res *arpo.Allocated) *allocationJSON {
	out := &allocationJSON{
		Weights: map[string]float64{}, Method: spec.Method, Covariance: spec.Covariance,
		ExpectedReturns: spec.Mean, RiskFree: spec.RiskFree, Periods: len(r.Dates),
		From: r.Dates[0].Format(time.DateOnly), To: r.Dates[len(r.Dates)-1].Format(time.DateOnly),
	}
	for i, a := range r.Assets {
		out.Weights[a] = res.Weights[i]
	}
	out.Performance.ExpectedReturn, out.Performance.Volatility, out.Performance.Sharpe = res.ExpectedReturn, res.Volatility, res.Sharpe
	if res.RiskContributions != nil {
		out.RiskContributions = map[string]float64{}
		for i, a := range r.Assets {
			out.RiskContributions[a] = res.RiskContributions[i]
		}
	}
	if !math.IsNaN(res.Shrinkage) {
		s := res.Shrinkage
		out.Shrinkage = &s
	}
	if res.Order != nil {
		names := func(idx []int) []string {
			s := make([]string, len(idx))
			for i, k := range idx {
				s[i] = r.Assets[k]
			}
			return s
		}
		h := &hrpJSON{Order: names(res.Order), OrderIndex: res.Order}
		for _, b := range res.Bisections {
			h.Bisections = append(h.Bisections, bisectionJSON{
				Left: names(b.Left), Right: names(b.Right),
				LeftVariance: b.LeftVariance, RightVariance: b.RightVariance, LeftShare: b.LeftShare,
			})
		}
		out.HRP = h
	}
	return out
}

// writeAllocation prints the weights in file order, then the performance.
func writeAllocation(w io.Writer, r *prices.Returns, out *allocationJSON) error {
	fmt.Fprintf(w, "%s allocation of %d assets on %d daily returns, %s to %s (%s covariance, %s expected returns)\n\n",
		out.Method, len(r.Assets), out.Periods, out.From, out.To, out.Covariance, out.ExpectedReturns)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "ASSET\tWEIGHT\tRISK SHARE\t")
	for _, a := range r.Assets {
		rc := "-"
		if v, ok := out.RiskContributions[a]; ok {
			rc = fmt.Sprintf("%.2f%%", 100*v)
		}
		fmt.Fprintf(tw, "%s\t%.2f%%\t%s\t\n", a, 100*out.Weights[a], rc)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var b strings.Builder
	p := out.Performance
	fmt.Fprintf(&b, "\nExpected annual return: %.2f%%\nAnnual volatility: %.2f%%\nSharpe ratio: %.3f (risk-free rate %g)\n",
		100*p.ExpectedReturn, 100*p.Volatility, p.Sharpe, out.RiskFree)
	if out.Shrinkage != nil {
		fmt.Fprintf(&b, "Ledoit-Wolf shrinkage: %.4f\n", *out.Shrinkage)
	}
	if out.HRP != nil {
		fmt.Fprintf(&b, "Quasi-diagonal order: %s\n", strings.Join(out.HRP.Order, " "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
