package backtest

import (
	"math"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/arpo"
	"github.com/flywheel-ml/flywheel/cils"
	"github.com/flywheel-ml/flywheel/orchestrator"
)

// These mirror the engine's reading of its store (engine/decide.go): the
// ledger of the last two days holds the budget day in any time zone, and
// signals are remembered for 30 days for their first-raised times.
const (
	ledgerDays   = 2
	signalMemory = 30 * 24 * time.Hour
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

// snapshot assembles what orchestrator.Decide looks at, with the meaning
// the engine gives each part: active jobs are the non-terminal ones; a
// model's cooldown counts from its latest terminal job; its first-raised
// time is its earliest stored signal since its latest job; the ledger
// holds the last days' reservations and settlements; outcomes are read
// only for the calibrated mode. It also returns each model's latest
// stored signal, which persist compares new signals with.
func (s *store) snapshot(now time.Time, calibrated bool) (orchestrator.Snapshot, map[flywheel.ModelKey]flywheel.Signal) {
	snap := orchestrator.Snapshot{
		Now: now, CILS: s.cils, ARPO: s.arpo,
		InsightVersions: map[string]int64{flywheel.InsightCILS: s.cilsVersion, flywheel.InsightARPO: s.arpoVersn},
	}
	states := map[flywheel.ModelKey]*orchestrator.ModelState{}
	var order []flywheel.ModelKey
	state := func(k flywheel.ModelKey) *orchestrator.ModelState {
		if st, ok := states[k]; ok {
			return st
		}
		st := &orchestrator.ModelState{ModelKey: k}
		states[k] = st
		order = append(order, k)
		return st
	}
	for _, d := range s.deps { // fixed order: the deployments' order
		state(d.ModelKey)
	}
	for k, t := range s.lastTrained {
		state(k).LastTrained = &t
	}
	lastJobAt := map[flywheel.ModelKey]time.Time{}
	since := now.AddDate(0, 0, -ledgerDays)
	for i := range s.jobs {
		j := s.jobs[i]
		if !j.State.Terminal() {
			snap.ActiveJobs = append(snap.ActiveJobs, j)
		} else if st := state(j.ModelKey); st.LastJobEnd == nil || j.UpdatedAt.After(*st.LastJobEnd) {
			end := j.UpdatedAt
			st.LastJobEnd = &end
		}
		if j.CreatedAt.After(lastJobAt[j.ModelKey]) {
			lastJobAt[j.ModelKey] = j.CreatedAt
		}
	}
	for _, e := range s.ledger {
		if !e.At.Before(since) {
			snap.Ledger = append(snap.Ledger, e)
		}
	}
	latest := map[flywheel.ModelKey]flywheel.Signal{}
	for i := len(s.signals) - 1; i >= 0; i-- { // newest first, as the store returns them
		sg := s.signals[i]
		if sg.CreatedAt.Before(now.Add(-signalMemory)) {
			break
		}
		if _, ok := latest[sg.ModelKey]; !ok {
			latest[sg.ModelKey] = sg
		}
		if sg.CreatedAt.Before(lastJobAt[sg.ModelKey]) {
			continue
		}
		st := state(sg.ModelKey)
		if st.FirstRaised == nil || sg.CreatedAt.Before(*st.FirstRaised) {
			at := sg.CreatedAt
			st.FirstRaised = &at
		}
	}
	if calibrated {
		snap.Outcomes = s.outcomes
	}
	for _, k := range order {
		snap.Models = append(snap.Models, *states[k])
	}
	return snap, latest
}

// persist stores a plan as the engine does: the signals that are new or
// say something new (the engine's sameSignal rule), the admitted jobs and
// their reservations.
func (s *store) persist(plan *orchestrator.Plan, latest map[flywheel.ModelKey]flywheel.Signal) {
	admitted := map[string]bool{}
	for _, j := range plan.Jobs {
		admitted[j.SignalID] = true
	}
	for _, sg := range plan.Signals {
		if prev, ok := latest[sg.ModelKey]; !admitted[sg.ID] && ok && sameSignal(prev, sg) {
			continue
		}
		s.signals = append(s.signals, sg)
	}
	s.jobs = append(s.jobs, plan.Jobs...)
	s.ledger = append(s.ledger, plan.Ledger...)
}

// sameSignal reports whether a new signal says what the stored one said:
// the same reasons and nearly the same priority (the engine's rule).
func sameSignal(prev, next flywheel.Signal) bool {
	if math.Abs(prev.Priority-next.Priority) > 0.01 || len(prev.Reasons) != len(next.Reasons) {
		return false
	}
	for i := range prev.Reasons {
		if prev.Reasons[i].Source != next.Reasons[i].Source || prev.Reasons[i].Kind != next.Reasons[i].Kind {
			return false
		}
	}
	return true
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
