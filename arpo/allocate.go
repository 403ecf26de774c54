package arpo

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/portfolio"
)

// Method is a long-only allocation method.
type Method string

// The allocation methods.
const (
	MinVolatility Method = "min-volatility"
	MaxSharpe     Method = "max-sharpe"
	RiskParity    Method = "risk-parity"
	HRP           Method = "hrp"
)

// ParseMethod returns the method named s.
func ParseMethod(s string) (Method, error) {
	switch m := Method(s); m {
	case MinVolatility, MaxSharpe, RiskParity, HRP:
		return m, nil
	}
	return "", fmt.Errorf("unknown allocation method %q; want min-volatility, max-sharpe, risk-parity or hrp", s)
}

// Covariance is a covariance estimator.
type Covariance string

// The covariance estimators: the pairwise sample covariance (the peer's
// default, required to reproduce its results), or Ledoit-Wolf shrinkage
// over the periods where every asset has a return (well-conditioned even
// with more assets than periods).
const (
	SampleCovariance Covariance = "sample"
	LedoitWolf       Covariance = "ledoit-wolf"
)

// ParseCovariance returns the estimator named s.
func ParseCovariance(s string) (Covariance, error) {
	switch c := Covariance(s); c {
	case SampleCovariance, LedoitWolf:
		return c, nil
	}
	return "", fmt.Errorf("unknown covariance estimator %q; want sample or ledoit-wolf", s)
}

// Mean says how expected returns are estimated from per-period returns.
type Mean string

// The expected-return estimators: the arithmetic mean times the periods
// per year (right for P&L earned on a fixed capital, and what the peer's
// HRP performance uses), or the compounded annual return (the peer's
// default for assets held over time).
const (
	ArithmeticMean Mean = "arithmetic"
	CompoundedMean Mean = "compounded"
)

// AllocationSpec says how to allocate.
type AllocationSpec struct {
	Method     Method
	Covariance Covariance
	Mean       Mean
	// RiskFree is the annual risk-free rate of the Sharpe ratio.
	RiskFree float64
	// PeriodsPerYear annualises (252 when 0).
	PeriodsPerYear float64
}

// Allocated is an allocation and its expected performance, all annual.
type Allocated struct {
	// Weights are in the input's asset order, non-negative, summing to 1.
	Weights        []float64
	ExpectedReturn float64
	Volatility     float64
	Sharpe         float64
	// RiskContributions are each asset's share of the portfolio variance.
	RiskContributions []float64
	// Shrinkage is the Ledoit-Wolf intensity, NaN for the sample estimator.
	Shrinkage float64
	// Order is HRP's quasi-diagonal order of asset indices and Bisections
	// its splits, top down, level by level; both nil for other methods.
	Order      []int
	Bisections []Bisection
}

// Bisection is one split of HRP's recursive bisection: the ordered list
// of a cluster cut in two halves, each weighted in inverse proportion to
// the variance of its inverse-variance portfolio.
type Bisection struct {
	Left, Right []int
	// LeftVariance and RightVariance are per period.
	LeftVariance, RightVariance float64
	// LeftShare is the share of the cluster's weight the left half gets,
	// 1 - LeftVariance / (LeftVariance + RightVariance).
	LeftShare float64
}

// Allocate allocates long-only across the assets whose per-period returns
// are given ([asset][period], NaN where missing; names label errors).
// Every asset needs at least two returns.
func Allocate(names []string, returns [][]float64, spec AllocationSpec) (*Allocated, error) {
	ppy := spec.PeriodsPerYear
	if ppy == 0 {
		ppy = periodsPerYear
	}
	if len(returns) < 1 || len(names) != len(returns) {
		return nil, flywheel.Errorf(flywheel.EInvalid, "%d names for %d assets; at least one asset is needed", len(names), len(returns))
	}
	for a, r := range returns {
		n := 0
		for _, v := range r {
			if !math.IsNaN(v) {
				n++
			}
		}
		if n < 2 {
			return nil, flywheel.Errorf(flywheel.EInvalid, "asset %s has too few returns (%d); at least 2 are needed", names[a], n)
		}
	}
	out := &Allocated{Shrinkage: math.NaN()}
	var S *mat.SymDense
	switch spec.Covariance {
	case SampleCovariance:
		S = portfolio.SampleCov(returns, ppy)
	case LedoitWolf:
		var err error
		if S, out.Shrinkage, err = portfolio.LedoitWolf(returns, ppy); err != nil {
			return nil, invalid("ledoit-wolf covariance", err)
		}
	default:
		return nil, flywheel.Errorf(flywheel.EInvalid, "unknown covariance estimator %q", spec.Covariance)
	}
	var mu []float64
	switch spec.Mean {
	case ArithmeticMean:
		mu = portfolio.MeanHistoricalReturn(returns, ppy)
	case CompoundedMean:
		mu = portfolio.CompoundedReturn(returns, ppy)
	default:
		return nil, flywheel.Errorf(flywheel.EInvalid, "unknown expected-return estimator %q", spec.Mean)
	}
	var err error
	switch spec.Method {
	case MinVolatility:
		out.Weights, err = portfolio.MinVolatility(S, portfolio.Options{})
	case MaxSharpe:
		out.Weights, err = portfolio.MaxSharpe(mu, S, spec.RiskFree, portfolio.Options{})
	case RiskParity:
		out.Weights, err = portfolio.RiskParity(S, portfolio.Options{})
	case HRP:
		err = out.hrp(returns, S, spec.Covariance, ppy)
	default:
		return nil, flywheel.Errorf(flywheel.EInvalid, "unknown allocation method %q", spec.Method)
	}
	if err != nil {
		return nil, invalid(string(spec.Method), err)
	}
	if out.ExpectedReturn, out.Volatility, out.Sharpe, err = portfolio.Performance(out.Weights, mu, S, spec.RiskFree); err != nil {
		return nil, invalid("performance", err)
	}
	// A zero-variance portfolio has no risk to share out; leave it nil.
	out.RiskContributions, _ = portfolio.RiskContributions(out.Weights, S)
	return out, nil
}

// hrp runs HRP on per-period covariance and correlation: pairwise sample
// correlation with the sample covariance, as the peer does, or the
// correlation of the shrunk covariance, which must agree with it.
func (a *Allocated) hrp(returns [][]float64, S *mat.SymDense, cov Covariance, ppy float64) error {
	var perPeriod, corr *mat.SymDense
	if cov == SampleCovariance {
		perPeriod, corr = portfolio.SampleCov(returns, 1), portfolio.SampleCorr(returns)
	} else {
		perPeriod = mat.NewSymDense(S.SymmetricDim(), nil)
		perPeriod.ScaleSym(1/ppy, S)
		corr = portfolio.Correlation(S)
	}
	res, err := portfolio.HRP(perPeriod, corr)
	if err != nil {
		return err
	}
	a.Weights, a.Order = res.Weights, res.Order
	a.Bisections = bisections(perPeriod, res.Order)
	return nil
}

// bisections retraces HRP's recursive bisection of the ordered list (the
// first half is the shorter when the length is odd) to report each split.
func bisections(cov mat.Symmetric, order []int) []Bisection {
	var out []Bisection
	level := [][]int{order}
	for len(level) > 0 {
		var next [][]int
		for _, c := range level {
			if len(c) < 2 {
				continue
			}
			l, r := c[:len(c)/2], c[len(c)/2:]
			vl, vr := portfolio.ClusterVariance(cov, l), portfolio.ClusterVariance(cov, r)
			out = append(out, Bisection{Left: l, Right: r, LeftVariance: vl, RightVariance: vr, LeftShare: 1 - vl/(vl+vr)})
			next = append(next, l, r)
		}
		level = next
	}
	return out
}

func invalid(what string, err error) error {
	return &flywheel.Error{Code: flywheel.EInvalid, Message: fmt.Sprintf("%s: %v", what, err), Err: err}
}

// ModelAllocation is the allocation of capital across the models by
// their daily P&L over the performance window.
type ModelAllocation struct {
	Method     Method     `json:"method"`
	Covariance Covariance `json:"covariance"`
	// Eligible is the number of models with at least min_observations
	// days; Models the number allocated (at most allocation_max_models,
	// those with the largest gross daily P&L); Days the days in the matrix.
	Eligible    int                   `json:"eligible"`
	Models      int                   `json:"models"`
	Days        int                   `json:"days"`
	Shrinkage   Number                `json:"shrinkage"`
	Weights     []ModelWeight         `json:"weights"`
	Performance AllocationPerformance `json:"performance"`
	// Note says why there are no weights, when there are none.
	Note string `json:"note,omitempty"`
}

// ModelWeight is one model's share of the allocation.
type ModelWeight struct {
	flywheel.ModelKey
	Weight           float64 `json:"weight"`
	RiskContribution Number  `json:"risk_contribution"`
}

// AllocationPerformance is an allocation's expected annual return,
// volatility and Sharpe ratio, in the names the CLI prints them under.
type AllocationPerformance struct {
	ExpectedReturn Number `json:"expected_return"`
	Volatility     Number `json:"volatility"`
	Sharpe         Number `json:"sharpe"`
}

// allocateModels allocates across the models with enough history, their
// daily P&L divided by capital being their returns. Days on which none of
// them traded (weekends) are dropped; a model's missing day stays missing.
// Expected returns are arithmetic: P&L on a fixed capital does not
// compound.
func allocateModels(cfg *Config, models []*model, perf []ModelPerformance) ModelAllocation {
	out := ModelAllocation{
		Method: cfg.AllocationMethod, Covariance: cfg.Covariance, Shrinkage: Number(math.NaN()),
		Weights:     []ModelWeight{},
		Performance: AllocationPerformance{Number(math.NaN()), Number(math.NaN()), Number(math.NaN())},
	}
	var picked []*model
	for i, m := range models {
		if perf[i].Days >= cfg.MinObservations {
			picked = append(picked, m)
		}
	}
	out.Eligible = len(picked)
	if len(picked) < 2 {
		out.Note = fmt.Sprintf("%d models with at least %d days of P&L; an allocation needs 2", len(picked), cfg.MinObservations)
		return out
	}
	if len(picked) > cfg.AllocationMaxModels {
		slices.SortStableFunc(picked, func(a, b *model) int { return cmp.Compare(b.gross, a.gross) })
		picked = picked[:cfg.AllocationMaxModels]
		slices.SortFunc(picked, func(a, b *model) int { return compareKeys(a.key, b.key) })
	}
	names, returns := modelReturns(cfg, picked)
	out.Models, out.Days = len(picked), len(returns[0])
	res, err := Allocate(names, returns, AllocationSpec{
		Method: cfg.AllocationMethod, Covariance: cfg.Covariance, Mean: ArithmeticMean, RiskFree: cfg.RiskFree,
	})
	if err != nil {
		out.Note = err.Error()
		return out
	}
	out.Shrinkage = Number(res.Shrinkage)
	out.Performance = AllocationPerformance{Number(res.ExpectedReturn), Number(res.Volatility), Number(res.Sharpe)}
	for i, m := range picked {
		w := ModelWeight{ModelKey: m.key, Weight: res.Weights[i], RiskContribution: Number(math.NaN())}
		if res.RiskContributions != nil {
			w.RiskContribution = Number(res.RiskContributions[i])
		}
		out.Weights = append(out.Weights, w)
	}
	return out
}

// modelReturns lays the picked models' daily P&L out as returns, keeping
// the days on which at least one of them traded.
func modelReturns(cfg *Config, picked []*model) ([]string, [][]float64) {
	var days []int
	for d := range cfg.LookbackDays {
		for _, m := range picked {
			if !math.IsNaN(m.daily[d]) {
				days = append(days, d)
				break
			}
		}
	}
	names := make([]string, len(picked))
	returns := make([][]float64, len(picked))
	backing := make([]float64, len(picked)*len(days))
	for i, m := range picked {
		names[i] = m.key.String()
		r := backing[i*len(days) : (i+1)*len(days) : (i+1)*len(days)]
		for k, d := range days {
			r[k] = m.daily[d] / cfg.Capital
		}
		returns[i] = r
	}
	return names, returns
}
