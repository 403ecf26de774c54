package arpo

import (
	"math"

	"github.com/flywheel-ml/flywheel"
)

// Config holds every threshold the learner uses. The zero value is not
// useful; start from DefaultConfig.
type Config struct {
	// LookbackDays is the window, in calendar days ending on the day of
	// Now, of the daily P&L behind performance, sizing, risk and
	// allocation. A model's window also starts no earlier than its current
	// deployment: a new version is judged on its own P&L.
	LookbackDays int `json:"lookback_days"`
	// RegimeLookbackDays is the window of the comparison of a model's P&L
	// across regimes. It is longer than LookbackDays because a quarter
	// rarely holds enough days of more than one regime.
	RegimeLookbackDays int `json:"regime_lookback_days"`
	// MinObservations is the fewest days of live P&L (the PSR's n) before
	// a model can be called underperforming, resized or checked for VaR.
	MinObservations int `json:"min_observations"`
	// PSRLevel is the probability below which the true Sharpe ratio is
	// taken to fall short of the expected one (a one-sided test at 5%).
	PSRLevel float64 `json:"psr_level"`
	// TargetSharpe is the annual Sharpe ratio a model is held to when it
	// reports no positive expected P&L on at least half of its days.
	TargetSharpe float64 `json:"target_sharpe"`

	// PriorDays is the weight, in days of live P&L, of the expected Sharpe
	// ratio when the live one is shrunk toward it for sizing.
	PriorDays float64 `json:"prior_days"`
	// CutSize is the largest size factor of a model cut for
	// underperformance; MinSize the smallest size of any model; MaxSize
	// the largest size of a model doing significantly better than expected.
	CutSize float64 `json:"cut_size"`
	MinSize float64 `json:"min_size"`
	MaxSize float64 `json:"max_size"`
	// RecoverPSR is the PSR a cut model must reach before its size may
	// return toward 1.0. Being above PSRLevel is not enough: a model
	// hovering at the level would be cut and restored day after day.
	RecoverPSR float64 `json:"recover_psr"`
	// Smoothing is the share of the gap to the target size closed per day
	// (exponential smoothing); MaxStep the most a size may move per day.
	Smoothing float64 `json:"smoothing"`
	MaxStep   float64 `json:"max_step"`
	// RetrainSizeBelow puts a model whose size is below it in
	// targets_needing_retrain (the seed's 0.8).
	RetrainSizeBelow float64 `json:"retrain_size_below"`

	// RegimeStates is the number of HMM states, 2 (calm, volatile) or 3
	// (calm, volatile, crisis).
	RegimeStates int `json:"regime_states"`
	// MinMarketPoints is the fewest market returns up to Now worth fitting;
	// with fewer the regime comes from the observations' labels, or is
	// unknown.
	MinMarketPoints int `json:"min_market_points"`
	// MinRegimeDays is the fewest days of P&L a model needs both in the
	// current regime and in the others before they are compared.
	MinRegimeDays int `json:"min_regime_days"`
	// MismatchConfidence is the one-sided confidence that a model's mean
	// daily P&L is lower in the current regime than in the others, and
	// MismatchSharpeGap the least annual Sharpe ratio by which the current
	// regime must trail the whole window, for a regime mismatch: both,
	// because a long record makes a trivial gap significant and a short
	// one makes a large gap noise.
	MismatchConfidence float64 `json:"mismatch_confidence"`
	MismatchSharpeGap  float64 `json:"mismatch_sharpe_gap"`
	// EmphasisConfidence is the confidence (as above) from which a target
	// gets a regime strategy; its regime_weight grows from 1 at a
	// confidence of 0.5 to MaxRegimeWeight at certainty.
	EmphasisConfidence float64 `json:"emphasis_confidence"`
	MaxRegimeWeight    float64 `json:"max_regime_weight"`

	// Capital is the amount of P&L that makes one unit of a model's
	// capital. P&L and positions are divided by it, so drawdown, VaR,
	// CVaR and exposure, and their limits, are fractions of capital.
	Capital float64 `json:"capital"`
	// Limits are the per-model risk limits.
	Limits Limits `json:"limits"`

	// AllocationMethod is "hrp", "min-volatility", "max-sharpe" or
	// "risk-parity"; Covariance "ledoit-wolf" or "sample".
	AllocationMethod Method     `json:"allocation_method"`
	Covariance       Covariance `json:"covariance"`
	// AllocationMaxModels caps the models allocated, keeping those with
	// the largest gross daily P&L: the covariance costs the square of
	// their number, and the long-only optimisers the cube.
	AllocationMaxModels int `json:"allocation_max_models"`
	// RiskFree is the annual risk-free rate of the allocation's Sharpe
	// ratio; live P&L is already an excess return, hence 0.
	RiskFree float64 `json:"risk_free"`

	// HighPriorityMinShare is the share of the book's risk or of its gross
	// P&L from which a model is high-priority; HighPriorityMax keeps at
	// most that many, the largest shares first.
	HighPriorityMinShare float64 `json:"high_priority_min_share"`
	HighPriorityMax      int     `json:"high_priority_max"`
}

// Limits are risk limits per model, in fractions of capital (see
// Config.Capital). Zero turns a limit off.
type Limits struct {
	// MaxDrawdown bounds the largest fall of cumulative P&L from its peak.
	MaxDrawdown float64 `json:"max_drawdown"`
	// VaR95 and CVaR95 bound the historical one-day 95% Value at Risk and
	// Conditional Value at Risk, as positive losses.
	VaR95  float64 `json:"var_95"`
	CVaR95 float64 `json:"cvar_95"`
	// GrossExposure bounds the sum of the absolute latest positions.
	GrossExposure float64 `json:"gross_exposure"`
}

// DefaultConfig returns the defaults.
//
// Windows: a quarter (91 days, about 63 trading days) judges performance,
// enough for a PSR over the required 20 days while a bad spell ages out
// within three months; a year compares regimes, since a quarter seldom
// holds two. PSR below 0.05 over 20 days is the rule; a model
// without a positive expectation is held to an annual Sharpe ratio of 1.
//
// Sizing: the expectation weighs as much as 20 days (a trading month) of
// live P&L. A cut model trades at most 0.6x (the seed's example) and at
// least 0.2x: at zero it would make no more P&L and so could never show
// that it recovered. A cut lasts until the PSR is back above 0.2, four
// times the level, so that a model hovering near 0.05 is not cut and
// restored on alternate days. Sizes close half the gap to their target
// per day but move at most 0.1 a day: a cut from 1.0 to 0.6 takes four
// days, and one noisy day cannot swing a book.
//
// Regimes: two states, fitted from 60 market days on; models compared
// with 10 days on each side. A mismatch needs 95% one-sided confidence
// (the PSR's level) and an annual Sharpe ratio 1.0 below the model's
// overall; a regime strategy starts at 75% confidence and weights the
// current regime up to 3x.
//
// Risk: capital 1 reads P&L as returns on a unit of capital, as the demo
// and the benchmark report it; a 20% drawdown; a one-day VaR of 3% and
// CVaR of 4.5% (a normal model at 29% annual volatility has a VaR of 3%
// and a CVaR of 3.8%: the CVaR limit leaves room for ordinary fat tails);
// 2x gross leverage. Allocation: HRP on a Ledoit-Wolf covariance,
// because a quarter of daily P&L for many models gives a singular sample
// covariance, which HRP tolerates and shrinkage repairs. At most 250
// models: measured on 63 days of one-factor returns over 1,000 models, the
// pairwise sample covariance and correlation take 0.26 s, HRP 0.16 s and
// Ledoit-Wolf 0.02 s, but risk parity 1.6 s and long-only minimum
// volatility 24 s (0.44 s over 300 models); the cap keeps every method
// within a fraction of a second and a 10,000-model pass linear. A model
// is high-priority from 10% of the book's risk or P&L, ten at most.
func DefaultConfig() Config {
	return Config{
		LookbackDays:       91,
		RegimeLookbackDays: 365,
		MinObservations:    20,
		PSRLevel:           0.05,
		TargetSharpe:       1.0,

		PriorDays:        20,
		CutSize:          0.6,
		MinSize:          0.2,
		MaxSize:          1.5,
		RecoverPSR:       0.2,
		Smoothing:        0.5,
		MaxStep:          0.1,
		RetrainSizeBelow: 0.8,

		RegimeStates:       2,
		MinMarketPoints:    60,
		MinRegimeDays:      10,
		MismatchConfidence: 0.95,
		MismatchSharpeGap:  1.0,
		EmphasisConfidence: 0.75,
		MaxRegimeWeight:    3,

		Capital: 1,
		Limits:  Limits{MaxDrawdown: 0.20, VaR95: 0.03, CVaR95: 0.045, GrossExposure: 2},

		AllocationMethod:    HRP,
		Covariance:          LedoitWolf,
		AllocationMaxModels: 250,
		RiskFree:            0,

		HighPriorityMinShare: 0.10,
		HighPriorityMax:      10,
	}
}

// Validate returns an EInvalid error naming the first bad field.
func (c Config) Validate() error {
	ints := []struct {
		field  string
		v, min int
	}{
		{"lookback_days", c.LookbackDays, 2},
		{"regime_lookback_days", c.RegimeLookbackDays, 2},
		{"min_observations", c.MinObservations, 3},
		{"min_market_points", c.MinMarketPoints, 2},
		{"min_regime_days", c.MinRegimeDays, 2},
		{"allocation_max_models", c.AllocationMaxModels, 2},
		{"high_priority_max", c.HighPriorityMax, 0},
	}
	for _, f := range ints {
		if f.v < f.min {
			return flywheel.FieldError(f.field, "is %d; it must be at least %d", f.v, f.min)
		}
	}
	// The windows are dense arrays of days; ten years is far beyond any
	// use and keeps a typo from allocating gigabytes.
	for _, f := range []struct {
		field string
		v     int
	}{{"lookback_days", c.LookbackDays}, {"regime_lookback_days", c.RegimeLookbackDays}} {
		if f.v > 3660 {
			return flywheel.FieldError(f.field, "is %d; it must be at most 3660", f.v)
		}
	}
	if c.RegimeStates != 2 && c.RegimeStates != 3 {
		return flywheel.FieldError("regime_states", "is %d; it must be 2 or 3", c.RegimeStates)
	}
	if err := c.validateFloats(); err != nil {
		return err
	}
	if _, err := ParseMethod(string(c.AllocationMethod)); err != nil {
		return flywheel.FieldError("allocation_method", "%v", err)
	}
	if _, err := ParseCovariance(string(c.Covariance)); err != nil {
		return flywheel.FieldError("covariance", "%v", err)
	}
	return nil
}

func (c Config) validateFloats() error {
	floats := []struct {
		field    string
		v        float64
		lo, hi   float64
		openLow  bool // lo itself is not allowed
		openHigh bool // hi itself is not allowed
	}{
		{"psr_level", c.PSRLevel, 0, 0.5, true, false},
		{"target_sharpe", c.TargetSharpe, 0, 20, true, false},
		{"prior_days", c.PriorDays, 0, 1e6, false, false},
		{"cut_size", c.CutSize, 0, 1, false, true},
		{"min_size", c.MinSize, 0, 1, false, true},
		{"max_size", c.MaxSize, 1, 1.5, false, false},
		{"recover_psr", c.RecoverPSR, 0, 1, false, true},
		{"smoothing", c.Smoothing, 0, 1, true, false},
		{"max_step", c.MaxStep, 0, 1.5, true, false},
		{"retrain_size_below", c.RetrainSizeBelow, 0, 1.5, false, false},
		{"mismatch_confidence", c.MismatchConfidence, 0.5, 1, false, true},
		{"mismatch_sharpe_gap", c.MismatchSharpeGap, 0, 100, false, false},
		{"emphasis_confidence", c.EmphasisConfidence, 0.5, 1, false, true},
		{"max_regime_weight", c.MaxRegimeWeight, 1, 100, false, false},
		{"capital", c.Capital, 0, math.MaxFloat64, true, false},
		{"limits.max_drawdown", c.Limits.MaxDrawdown, 0, math.MaxFloat64, false, false},
		{"limits.var_95", c.Limits.VaR95, 0, math.MaxFloat64, false, false},
		{"limits.cvar_95", c.Limits.CVaR95, 0, math.MaxFloat64, false, false},
		{"limits.gross_exposure", c.Limits.GrossExposure, 0, math.MaxFloat64, false, false},
		{"risk_free", c.RiskFree, -1, 1, false, false},
		{"high_priority_min_share", c.HighPriorityMinShare, 0, 1, true, false},
	}
	for _, f := range floats {
		switch {
		case math.IsNaN(f.v) || math.IsInf(f.v, 0):
			return flywheel.FieldError(f.field, "must be a finite number")
		case f.v < f.lo || f.openLow && f.v == f.lo:
			return flywheel.FieldError(f.field, "is %g; it must be %s %g", f.v, above(f.openLow), f.lo)
		case f.v > f.hi || f.openHigh && f.v == f.hi:
			return flywheel.FieldError(f.field, "is %g; it must be %s %g", f.v, below(f.openHigh), f.hi)
		}
	}
	if c.MinSize > c.CutSize {
		return flywheel.FieldError("min_size", "is %g, more than cut_size (%g)", c.MinSize, c.CutSize)
	}
	// A cut must end only after the model stops being underperforming.
	if c.RecoverPSR < c.PSRLevel {
		return flywheel.FieldError("recover_psr", "is %g, below psr_level (%g)", c.RecoverPSR, c.PSRLevel)
	}
	if c.MismatchConfidence < c.EmphasisConfidence {
		return flywheel.FieldError("mismatch_confidence", "is %g, below emphasis_confidence (%g): a mismatched target would get no regime strategy", c.MismatchConfidence, c.EmphasisConfidence)
	}
	return nil
}

func above(open bool) string {
	if open {
		return "above"
	}
	return "at least"
}

func below(open bool) string {
	if open {
		return "below"
	}
	return "at most"
}
