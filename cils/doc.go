// Package cils is the training-side learner of the flywheel loop (CILS in
// the design): from a snapshot of training runs it concludes which models
// are degrading, which feature-selection strategy works best per target
// kind, which leakage-detection threshold separates real leaks from false
// alarms, which features behave oddly, what a retrain of each model is
// expected to gain and cost, and what changed since the previous insight.
//
// The package is pure: Learn takes a Snapshot (runs, a clock value and the
// previous Insights) and returns Insights; it does no I/O, reads no wall
// clock and uses no global random state, so the daemon and the backtester
// get the same answer, byte for byte, from the same snapshot.
//
// Scores are the runs' validation_score, higher is better. Only runs that
// succeeded with a finite score feed the score logic; a model's runs are
// ordered by started_at, then run_id. In brief, per part:
//
//   - Degradation: the seed's rule (the latest score more than 10% below
//     the median of the 5 runs before it) catches abrupt drops; a
//     Page-Hinkley test on the last 20 scores catches slow decay, which
//     the rule misses because its baseline decays too. Both measure
//     against max(|baseline|, scale_floor), so negative and near-zero
//     scores give sane ratios. DetectionStudy measures both.
//   - Strategies: per kind, a two-way least-squares fit (score = model
//     effect + strategy effect + noise) removes the difficulty of each
//     model, empirical Bayes shrinks each strategy's effect toward the
//     kind's mean, and an upper confidence bound ranks them so that
//     little-tried strategies get explored.
//   - Thresholds: per kind, the cut that maximises F1 on labelled leakage
//     events, once there are enough labels of both classes.
//   - Feature patterns, estimates and new patterns: see FeaturePatterns,
//     Estimate and NewPattern.
//
// A pass costs time linear in the number of runs: runs are grouped by a
// map, each model is visited once, and only the handful of strategies in
// a kind is ever solved for jointly.
package cils
