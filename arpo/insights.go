package arpo

import (
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// Insights is what ARPO concluded from one snapshot: the body of a
// flywheel.Insight of kind "arpo". The JSON names of the lists are the
// seed's. Every list about models is sorted by target, then model family,
// and is empty rather than null when there is nothing to say, so the same
// snapshot always encodes to the same bytes.
type Insights struct {
	GeneratedAt time.Time `json:"generated_at"`
	// PreviousGeneratedAt is when the insights the sizes were smoothed
	// from were made.
	PreviousGeneratedAt *time.Time `json:"previous_generated_at,omitempty"`
	// Observations is the number in the snapshot; ObservationsUsed those
	// inside a model's windows (after its deployment, not after Now).
	Observations     int `json:"observations"`
	ObservationsUsed int `json:"observations_used"`
	Models           int `json:"models"`

	ModelPerformance         []ModelPerformance   `json:"model_performance"`
	UnderperformingPositions []Underperformance   `json:"underperforming_positions"`
	PositionAdjustments      []PositionAdjustment `json:"position_adjustments"`
	Regime                   RegimeState          `json:"regime"`
	RegimeStrategies         []RegimeStrategy     `json:"regime_strategies"`
	RegimeMismatch           []RegimeMismatch     `json:"regime_mismatch"`
	RiskLimits               RiskLimits           `json:"risk_limits"`
	Allocation               ModelAllocation      `json:"allocation"`
	HighPriorityTargets      []HighPriority       `json:"high_priority_targets"`
	TargetsNeedingRetrain    []RetrainTarget      `json:"targets_needing_retrain"`
	PortfolioPerformance     PortfolioPerformance `json:"portfolio_performance"`

	// Config is the configuration the insights were computed with.
	Config Config `json:"config"`
}

// Number is a statistic that may be undefined: too few days, or no
// variation. NaN encodes as JSON null and null decodes as NaN, because
// JSON has no NaN and a zero would read as a measurement.
type Number float64

// MarshalJSON writes null for NaN and infinities, and any other number
// as encoding/json writes a float64 (the same bytes: shortest
// representation, exponent form below 1e-6 and from 1e21, "e-07" written
// "e-7"). It formats the number itself because calling json.Marshal for
// each of the many numbers of an ARPO pass costs more than the rest of
// the encoding.
func (n Number) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b := strconv.AppendFloat(make([]byte, 0, 24), f, format, -1, 64)
	if format == 'e' {
		if k := len(b); k >= 4 && b[k-4] == 'e' && b[k-3] == '-' && b[k-2] == '0' {
			b[k-2] = b[k-1]
			b = b[:k-1]
		}
	}
	return b, nil
}

// UnmarshalJSON reads null as NaN.
func (n *Number) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Number(math.NaN())
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return err
	}
	*n = Number(f)
	return nil
}

// Defined reports whether n is a finite number.
func (n Number) Defined() bool {
	return !math.IsNaN(float64(n)) && !math.IsInf(float64(n), 0)
}

// ModelPerformance is a model's live record over its performance window.
type ModelPerformance struct {
	flywheel.ModelKey
	// ModelVersion and DeployedAt are the current deployment's, if any.
	ModelVersion string     `json:"model_version,omitempty"`
	DeployedAt   *time.Time `json:"deployed_at,omitempty"`
	// WindowStart is the first day the window may hold: the later of the
	// lookback and the deployment.
	WindowStart  time.Time `json:"window_start"`
	Observations int       `json:"observations"`
	// Days is the number of days with P&L, the n of every statistic below.
	Days int `json:"days"`
	// PnL and ExpectedPnL are summed over the window; ExpectedDays is the
	// number of days with an expected P&L.
	PnL          float64 `json:"pnl"`
	ExpectedPnL  float64 `json:"expected_pnl"`
	ExpectedDays int     `json:"expected_days"`
	MeanDailyPnL Number  `json:"mean_daily_pnl"`
	StdDailyPnL  Number  `json:"std_daily_pnl"`
	// Sharpe is the annualised Sharpe ratio of daily P&L; ExpectedSharpe
	// the annualised benchmark the PSR tests against, from the source
	// SharpeBenchmark names ("expected_pnl" or "target_sharpe").
	Sharpe          Number `json:"sharpe"`
	ExpectedSharpe  Number `json:"expected_sharpe"`
	SharpeBenchmark string `json:"sharpe_benchmark"`
	// PSR is the probability that the true Sharpe ratio exceeds
	// ExpectedSharpe, from the skewness and (non-excess) kurtosis below.
	PSR      Number `json:"psr"`
	Skewness Number `json:"skewness"`
	Kurtosis Number `json:"kurtosis"`
	// HitRate is the share of observations with positive P&L.
	HitRate Number `json:"hit_rate"`
	// MaxDrawdown, VaR95, CVaR95 and GrossExposure are in fractions of
	// capital (see Config.Capital).
	MaxDrawdown   float64 `json:"max_drawdown"`
	VaR95         Number  `json:"var_95"`
	CVaR95        Number  `json:"cvar_95"`
	GrossExposure float64 `json:"gross_exposure"`
}

// Underperformance is a model whose live Sharpe ratio is significantly
// below its expected one.
type Underperformance struct {
	flywheel.ModelKey
	PSR            float64 `json:"psr"`
	PSRLevel       float64 `json:"psr_level"`
	Sharpe         float64 `json:"sharpe"`
	ExpectedSharpe float64 `json:"expected_sharpe"`
	Days           int     `json:"days"`
	PnL            float64 `json:"pnl"`
	ExpectedPnL    float64 `json:"expected_pnl"`
	Reason         string  `json:"reason"`
}

// Sizing states of a PositionAdjustment.
const (
	SizeInsufficientData = "insufficient_data" // fewer than min_observations days
	SizeNeutral          = "neutral"           // consistent with expectations
	SizeCut              = "cut"               // significantly below expectations
	SizeBoost            = "boost"             // significantly above expectations
)

// PositionAdjustment is a model's size factor: the multiple of its planned
// position it should trade.
type PositionAdjustment struct {
	flywheel.ModelKey
	// SizeFactor is the smoothed factor in [0, 1.5]; TargetSize where the
	// evidence alone would put it; PreviousSize the factor of the previous
	// insights, when there was one.
	SizeFactor   float64  `json:"size_factor"`
	TargetSize   float64  `json:"target_size"`
	PreviousSize *float64 `json:"previous_size,omitempty"`
	State        string   `json:"state"`
	// ShrunkRatio is the live Sharpe ratio shrunk toward the expected one,
	// as a fraction of the expected one.
	ShrunkRatio Number `json:"shrunk_ratio"`
	PSR         Number `json:"psr"`
	Reason      string `json:"reason"`
}

// RetrainTarget is a model ARPO asks to retrain, with every reason.
type RetrainTarget struct {
	flywheel.ModelKey
	Kind    string            `json:"kind"`
	Reasons []flywheel.Reason `json:"reasons"`
}

// Reason kinds in RetrainTarget.Reasons.
const (
	ReasonUnderperforming = "underperforming"
	ReasonPositionCut     = "position_cut"
	ReasonRegimeMismatch  = "regime_mismatch"
	ReasonRiskViolation   = "risk_violation"
)

// HighPriority is a model that carries a large share of the book's risk
// or P&L.
type HighPriority struct {
	flywheel.ModelKey
	// Rank orders the high-priority models by the larger of their shares,
	// 1 first.
	Rank int `json:"rank"`
	// RiskShare is the model's contribution to the variance of the book's
	// daily P&L, cov(model, book) / var(book); the shares of all models
	// sum to 1. PnLShare is |P&L| over the sum of every model's |P&L|.
	RiskShare float64 `json:"risk_share"`
	PnLShare  float64 `json:"pnl_share"`
	PnL       float64 `json:"pnl"`
	Reason    string  `json:"reason"`
}

// PortfolioPerformance describes the book: the sum of every model's daily
// P&L over the days any model traded (a model without P&L on a day adds
// nothing). Drawdown, VaR, CVaR and exposure are in units of one model's
// capital.
type PortfolioPerformance struct {
	Models         int     `json:"models"`
	Days           int     `json:"days"`
	PnL            float64 `json:"pnl"`
	ExpectedPnL    float64 `json:"expected_pnl"`
	Sharpe         Number  `json:"sharpe"`
	ExpectedSharpe Number  `json:"expected_sharpe"`
	PSR            Number  `json:"psr"`
	HitRate        Number  `json:"hit_rate"`
	MaxDrawdown    float64 `json:"max_drawdown"`
	VaR95          Number  `json:"var_95"`
	CVaR95         Number  `json:"cvar_95"`
	GrossExposure  float64 `json:"gross_exposure"`
}

// compareKeys orders models by target, then model family.
func compareKeys(a, b flywheel.ModelKey) int {
	if a.Target != b.Target {
		if a.Target < b.Target {
			return -1
		}
		return 1
	}
	if a.ModelFamily < b.ModelFamily {
		return -1
	}
	if a.ModelFamily > b.ModelFamily {
		return 1
	}
	return 0
}

// find binary-searches a list sorted by compareKeys.
func find[T any](list []T, k flywheel.ModelKey, key func(*T) flywheel.ModelKey) (*T, bool) {
	i, ok := slices.BinarySearchFunc(list, k, func(e T, k flywheel.ModelKey) int { return compareKeys(key(&e), k) })
	if !ok {
		return nil, false
	}
	return &list[i], true
}

// Performance returns a model's live performance.
func (in *Insights) Performance(k flywheel.ModelKey) (ModelPerformance, bool) {
	p, ok := find(in.ModelPerformance, k, func(p *ModelPerformance) flywheel.ModelKey { return p.ModelKey })
	if !ok {
		return ModelPerformance{}, false
	}
	return *p, true
}

// Adjustment returns a model's position adjustment.
func (in *Insights) Adjustment(k flywheel.ModelKey) (PositionAdjustment, bool) {
	a, ok := find(in.PositionAdjustments, k, func(a *PositionAdjustment) flywheel.ModelKey { return a.ModelKey })
	if !ok {
		return PositionAdjustment{}, false
	}
	return *a, true
}

// IsUnderperforming reports whether a model is in underperforming_positions.
func (in *Insights) IsUnderperforming(k flywheel.ModelKey) bool {
	_, ok := find(in.UnderperformingPositions, k, func(u *Underperformance) flywheel.ModelKey { return u.ModelKey })
	return ok
}

// IsHighPriority reports whether a model is in high_priority_targets.
func (in *Insights) IsHighPriority(k flywheel.ModelKey) bool {
	_, ok := find(in.HighPriorityTargets, k, func(h *HighPriority) flywheel.ModelKey { return h.ModelKey })
	return ok
}

// IsRegimeMismatched reports whether a model is in regime_mismatch.
func (in *Insights) IsRegimeMismatched(k flywheel.ModelKey) bool {
	_, ok := find(in.RegimeMismatch, k, func(m *RegimeMismatch) flywheel.ModelKey { return m.ModelKey })
	return ok
}

// RetrainReasons returns why ARPO asks to retrain a model, or nil.
func (in *Insights) RetrainReasons(k flywheel.ModelKey) []flywheel.Reason {
	t, ok := find(in.TargetsNeedingRetrain, k, func(t *RetrainTarget) flywheel.ModelKey { return t.ModelKey })
	if !ok {
		return nil
	}
	return t.Reasons
}

// RegimeStrategyFor returns the regime strategy of a target. Strategies
// are per target because the training data a target samples is.
func (in *Insights) RegimeStrategyFor(target string) (RegimeStrategy, bool) {
	i, ok := slices.BinarySearchFunc(in.RegimeStrategies, target, func(s RegimeStrategy, t string) int {
		switch {
		case s.Target < t:
			return -1
		case s.Target > t:
			return 1
		}
		return 0
	})
	if !ok {
		return RegimeStrategy{}, false
	}
	return in.RegimeStrategies[i], true
}
