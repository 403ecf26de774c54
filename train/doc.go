// Package train is flywheel's reference training pipeline, the program
// behind `flywheel train`: it turns a wide daily price table (a CSV such as
// ../shared/data/pypfopt/stock_prices_2024.csv, or the built-in synthetic
// market of Synthetic) into one flywheel.Run, so that the loop can close end
// to end without a team's own pipeline.
//
// The steps, each in its own file:
//
//   - target.go: the target name (fwd_ret_5d_AAPL, barrier_up_10d_JPM) and
//     its labels: the forward log return, or the triple-barrier label of
//     Lopez de Prado, "Advances in Financial Machine Learning" (2018), ch. 3.
//   - features.go: features of the target's asset built only from prices up
//     to the sample's day, plus the deliberately leaky leak_fwd_ret when asked.
//   - cv.go: purged walk-forward validation (AFML ch. 7).
//   - ridge.go, logistic.go: the two model families, on gonum.
//   - score.go: rank IC for regression, AUC - 0.5 for classification.
//   - leakage.go: the leakage detector and its labels.
//   - settings.go: the settings flywheel writes into the config directory.
//   - train.go: the pipeline and the Run it reports.
//
// Everything is deterministic given the prices, the settings and the seed;
// only the run's timestamps and measured cost vary between two runs.
package train
