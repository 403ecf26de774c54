// Package arpo is the portfolio-side learner of the flywheel loop (ARPO in
// the design): from a snapshot of live observations, deployments and
// market returns it concludes how each deployed model is really doing,
// which models underperform their own expectations with significance, how
// large each model's position should be, which market regime holds and
// which models it hurts, which risk limits are broken, how capital would
// be spread across the models, and which models carry the book. Models it
// finds wanting are listed in targets_needing_retrain with their reasons.
//
// The package is pure: Learn takes a Snapshot (observations, deployments,
// market returns, the time of the decision and the previous Insights) and
// returns Insights; it does no I/O, reads no wall clock and draws no
// random numbers, so the daemon and the backtester get the same bytes
// from the same snapshot.
//
// In brief, per part (Config documents every threshold):
//
//   - Series: each model's observations since its current deployment are
//     summed per UTC calendar day; days without observations are left out,
//     not counted as flat. Statistics annualise with 252 days.
//   - Performance: Sharpe ratio, hit rate, drawdown, VaR and CVaR of the
//     daily P&L over the last lookback_days, and the Probabilistic Sharpe
//     Ratio (Bailey and Lopez de Prado, 2012) that the true Sharpe ratio
//     exceeds the expected one: mean expected daily P&L over the realised
//     daily standard deviation, or target_sharpe when the model reports no
//     positive expectation. A model is underperforming when that PSR is
//     below psr_level over at least min_observations days.
//   - Sizing: see sizeTarget and smooth. The factor leaves 1.0 only on
//     significant evidence, its depth comes from the live Sharpe ratio
//     shrunk toward the expected one, and it moves at most max_step a day.
//   - Regimes: a Gaussian HMM on the market returns (package regime),
//     falling back to volatility quantiles when the fit is poor; without
//     market returns, the regime labels the trading system put on the
//     observations. A model is regime-mismatched when its daily P&L in the
//     current regime is significantly and materially worse than elsewhere.
//   - Risk: drawdown, historical VaR and CVaR at 95% and gross exposure
//     per model against Limits, in fractions of Config.Capital.
//   - Allocation: HRP, minimum volatility, maximum Sharpe or risk parity
//     on the models' daily P&L (Allocate, shared with `flywheel allocate`).
//   - Concentration: a model's share of the book's variance and of its
//     gross P&L names the high-priority targets.
//
// A pass costs time linear in the number of observations plus, for the
// allocation only, quadratic in the number of models it allocates, which
// allocation_max_models caps.
package arpo
