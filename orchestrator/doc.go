// Package orchestrator is the decision core of the flywheel loop: from a
// snapshot (the learners' insights, the models' ages and drift, the jobs
// in flight, the budget ledger) and the time of the decision it computes a
// plan: the retraining signals with their priorities and factor
// breakdowns, every candidate with why it was or was not admitted, the
// jobs to create, the config updates those jobs carry and the budget
// reservations they make.
//
// The package is pure, like Nomad's scheduler.Process over an immutable
// state: Decide reads no clock, does no I/O and draws no random numbers,
// so the daemon and the backtester get the same plan from the same
// snapshot. Persisting the plan (signals, jobs, ledger entries, the first
// time each signal was raised) is the caller's job.
//
// The formulas are the seed design's (integrated-learning-feedback-loop.md,
// sections 2.3, 3.1, 3.2 and 6.2); Config documents each, and each place
// where the seed leaves a name undefined and this package had to define it
// (urgency, urgency_weight, the expected improvement) says so.
//
// In brief:
//
//   - Signals: one per model, merging every reason from CILS (degradation,
//     better strategy, new thresholds, feature patterns), ARPO
//     (underperforming, position cut, regime mismatch, risk violation) and
//     the orchestrator itself (the learners agree, the model is stale, its
//     live features drifted from its training features by PSI).
//   - Priority: min(1, 0.25 cils + 0.35 arpo + 0.25 value + 0.15 urgency),
//     with the seed's 0/1 indicators; or, when configured, weights fitted to
//     realised outcomes by ridge regression shrunk toward the configured
//     weights (Calibrate).
//   - Ranking and scheduling: the seed's composite score orders the
//     candidates; a branch-and-bound knapsack picks the set of admissible
//     candidates with the largest total score within the free slots, GPU
//     memory, CPU cores and the day's remaining budget.
//   - Feedback: Health computes the seed's loop-health metrics (section
//     8.1) from outcomes, jobs, config changes and timelines;
//     TrainingOutcome and LiveOutcome turn measurements into outcomes.
package orchestrator
