package backtest

import (
	"time"

	"github.com/flywheel-ml/flywheel"
)

// Regimes of the synthetic market; a real market's regime is unknown to
// the replay (ARPO fits its own).
const (
	RegimeCalm     = 0
	RegimeVolatile = 1
	RegimeUnknown  = -1
)

// Version is one trained version of a model: what the executor returns
// and what trades once deployed.
type Version struct {
	// Trained is the index of the first trading day the version trades;
	// a version from before the replay has a negative one.
	Trained int
	// Regime is the market regime it was trained in.
	Regime int
	// Quality scales the model's fresh edge (synthetic market).
	Quality float64
	// Score is the run's validation score.
	Score float64
	// predictor is the real market's fitted model.
	predictor *predictor
}

// Market is what a replay trades on: the days, the models, their live
// P&L and what a retrain yields. Implementations are deterministic: the
// same call gives the same answer in every policy, so that policies are
// compared on identical data (common random numbers).
type Market interface {
	// Name says which market it is, for the report.
	Name() string
	// Dates are the trading days replayed, ascending.
	Dates() []time.Time
	// Models are the models traded, in a fixed order.
	Models() []flywheel.ModelKey
	// Regime is the true regime of day t, or RegimeUnknown.
	Regime(t int) int
	// MarketReturn is the market index's return on day t.
	MarketReturn(t int) float64
	// Initial is the version of model m live when the replay starts.
	Initial(m int) (Version, error)
	// Train retrains model m on the data up to day t with the pipeline's
	// config in configDir ("" for its defaults) and returns the version
	// that trades from day t+1.
	Train(m, t int, configDir string) (Version, error)
	// PnL is the P&L of one unit of model m's version v on day t, and the
	// P&L the model expected.
	PnL(m int, v *Version, t int) (pnl, expected float64)
	// Evaluate scores model m's version v on the data up to day t, as the
	// pipeline's evaluation runs do, training nothing; false when the
	// market has no evaluations.
	Evaluate(m int, v *Version, t int) (float64, bool)
	// Truth reports whether Sharpe is known (the synthetic market).
	Truth() bool
	// Sharpe is the true daily Sharpe ratio of version v of model m on
	// day t: the model's quality that day, whatever the market's
	// volatility; only meaningful when Truth holds.
	Sharpe(m int, v *Version, t int) float64
}
