// Package flywheel holds the domain of the flywheel retraining loop: the
// records it ingests (training runs, live observations, deployments), the
// records it produces (insights, signals, jobs, config changes, pins,
// outcomes, the audit log) and the interfaces between its parts (Store,
// Clock). It does no I/O; drivers live in their own packages.
package flywheel
