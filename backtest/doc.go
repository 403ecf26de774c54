// Package backtest replays the flywheel loop on a simulated clock and
// compares retraining policies on the same data and compute budget.
//
// A replay keeps the loop's state in memory (runs, live observations,
// deployments, jobs, the budget ledger, signals and outcomes) and, day by
// day, ingests the day's live P&L, finishes the jobs whose simulated
// duration is over (an in-process executor: a retrain on the market),
// deploys what they trained, runs cils.Learn and arpo.Learn, and asks the
// policy what to retrain. The orchestrator-driven policies call
// orchestrator.Decide on a snapshot assembled as the daemon assembles it
// (engine/decide.go), so a backtest measures the daemon's own decisions.
// Their admitted jobs' config updates go, before the jobs start, through
// the daemon's config propagator (propagate.ApplyJob) into a pipeline
// config directory and a SQLite store the replay owns and removes; the
// canaries are judged on the retrains' outcomes, and a retrain on the
// real market reads that config.
//
// Two markets drive it: a real wide price CSV, where a retrain fits the
// reference pipeline (train.Train) on the data up to that day, and a
// synthetic market (Scenario) whose models lose their edge at known rates
// and after regime switches, so that the true value of every retrain is
// known and an oracle policy can be computed.
//
// Everything is a function of the scenario and the seed: the same inputs
// give byte-identical JSON. Wall times are kept out of Result's JSON.
package backtest
