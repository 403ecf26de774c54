package backtest

import (
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/arpo"
	"github.com/flywheel-ml/flywheel/cils"
	"github.com/flywheel-ml/flywheel/orchestrator"
)

// store is the loop's state kept in memory: what the daemon keeps in its
// learning database, as the decision code reads it.
type store struct {
	runs     []flywheel.Run
	obs      []flywheel.Observation // inside ARPO's window
	deps     []flywheel.Deployment
	jobs     []flywheel.Job // every job, oldest first
	ledger   []orchestrator.LedgerEntry
	signals  []flywheel.Signal // stored signals, oldest first
	outcomes []flywheel.Outcome
	market   []arpo.MarketPoint

	cils                   *cils.Insights
	arpo                   *arpo.Insights
	cilsVersion, arpoVersn int64
	lastTrained            map[flywheel.ModelKey]time.Time
}

// snapshot assembles what orchestrator.Decide looks at with
// orchestrator.BuildSnapshot, as the engine does, from the history kept
// in memory. It also returns each model's latest stored signal.
func (s *store) snapshot(now time.Time, cfg *orchestrator.Config) (orchestrator.Snapshot, map[flywheel.ModelKey]flywheel.Signal) {
	models := make([]flywheel.ModelKey, len(s.deps))
	for i, d := range s.deps { // fixed order: the deployments' order
		models[i] = d.ModelKey
	}
	newestFirst := make([]flywheel.Signal, len(s.signals))
	for i, sg := range s.signals {
		newestFirst[len(s.signals)-1-i] = sg
	}
	return orchestrator.BuildSnapshot(cfg, orchestrator.History{
		Now: now, CILS: s.cils, ARPO: s.arpo,
		InsightVersions: map[string]int64{flywheel.InsightCILS: s.cilsVersion, flywheel.InsightARPO: s.arpoVersn},
		LastTrained:     s.lastTrained, Models: models, Jobs: s.jobs, Signals: newestFirst,
		Ledger: s.ledger, Outcomes: s.outcomes,
	})
}

// persist stores a plan as the engine does: the signals that are new or
// say something new, the admitted jobs and their reservations.
func (s *store) persist(plan *orchestrator.Plan, latest map[flywheel.ModelKey]flywheel.Signal) {
	s.signals = append(s.signals, orchestrator.NewSignals(plan, latest)...)
	s.jobs = append(s.jobs, plan.Jobs...)
	s.ledger = append(s.ledger, plan.Ledger...)
}

// signal returns the stored signal a job serves, or a zero signal.
func (s *store) signal(id string) flywheel.Signal {
	for i := len(s.signals) - 1; i >= 0; i-- {
		if s.signals[i].ID == id {
			return s.signals[i]
		}
	}
	return flywheel.Signal{}
}

// trimObservations drops the observations before since: ARPO's windows
// end there, as the engine's live window does.
func (s *store) trimObservations(since time.Time) {
	i := 0
	for i < len(s.obs) && s.obs[i].TS.Before(since) {
		i++
	}
	if i > 0 {
		s.obs = append(s.obs[:0], s.obs[i:]...)
	}
}
