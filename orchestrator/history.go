package orchestrator

import (
	"math"
	"sort"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/arpo"
	"github.com/flywheel-ml/flywheel/cils"
)

// The windows the loop reads its history over.
const (
	// LedgerDays is how far back the budget ledger is read: the budget day
	// (in any time zone) is within it.
	LedgerDays = 2
	// SignalMemory is how far back stored signals are read, to keep each
	// model's first-raised time (for aging) and to avoid storing a signal
	// that says nothing new.
	SignalMemory = 30 * 24 * time.Hour
)

// History is what the loop has stored, as the daemon's store or the
// backtester's memory holds it. BuildSnapshot turns it into the
// Snapshot that Decide reads, so that both give every part the same
// meaning.
type History struct {
	Now time.Time
	// CILS, ARPO and their versions are the latest insights.
	CILS            *cils.Insights
	ARPO            *arpo.Insights
	InsightVersions map[string]int64
	// LastTrained is when each model's latest successful run finished.
	LastTrained map[flywheel.ModelKey]time.Time
	// Models are models known besides those the other parts name, in the
	// order the snapshot lists them first.
	Models []flywheel.ModelKey
	// Jobs are the stored jobs, in any order.
	Jobs []flywheel.Job
	// Signals are the stored signals, newest first.
	Signals []flywheel.Signal
	// Ledger is the budget ledger; entries before the window are ignored.
	Ledger []LedgerEntry
	// Outcomes feed the calibrated mode.
	Outcomes []flywheel.Outcome
}

// BuildSnapshot assembles the decision's input: active jobs are the
// non-terminal ones; a model's cooldown counts from its latest terminal
// job; its first-raised time is its earliest signal since its latest job;
// the ledger holds the last LedgerDays; outcomes are read only for the
// calibrated mode. It also returns each model's latest stored signal,
// which NewSignals compares the plan's with.
func BuildSnapshot(cfg *Config, h History) (Snapshot, map[flywheel.ModelKey]flywheel.Signal) {
	snap := Snapshot{Now: h.Now, CILS: h.CILS, ARPO: h.ARPO, InsightVersions: h.InsightVersions}
	states := map[flywheel.ModelKey]*ModelState{}
	var order []flywheel.ModelKey
	state := func(k flywheel.ModelKey) *ModelState {
		if st, ok := states[k]; ok {
			return st
		}
		st := &ModelState{ModelKey: k}
		states[k] = st
		order = append(order, k)
		return st
	}
	for _, k := range h.Models {
		state(k)
	}
	trained := make([]flywheel.ModelKey, 0, len(h.LastTrained))
	for k := range h.LastTrained {
		trained = append(trained, k)
	}
	sort.Slice(trained, func(i, j int) bool { return trained[i].String() < trained[j].String() })
	for _, k := range trained {
		t := h.LastTrained[k]
		state(k).LastTrained = &t
	}
	lastJobAt := map[flywheel.ModelKey]time.Time{}
	for _, j := range h.Jobs {
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
	since := h.Now.AddDate(0, 0, -LedgerDays)
	for _, e := range h.Ledger {
		if !e.At.Before(since) {
			snap.Ledger = append(snap.Ledger, e)
		}
	}
	latest := map[flywheel.ModelKey]flywheel.Signal{}
	for _, s := range h.Signals {
		if s.CreatedAt.Before(h.Now.Add(-SignalMemory)) {
			break
		}
		if _, ok := latest[s.ModelKey]; !ok {
			latest[s.ModelKey] = s
		}
		if s.CreatedAt.Before(lastJobAt[s.ModelKey]) {
			continue
		}
		if st := state(s.ModelKey); st.FirstRaised == nil || s.CreatedAt.Before(*st.FirstRaised) {
			at := s.CreatedAt
			st.FirstRaised = &at
		}
	}
	if cfg.Calibration.Enabled {
		snap.Outcomes = h.Outcomes
	}
	for _, k := range order {
		snap.Models = append(snap.Models, *states[k])
	}
	return snap, latest
}

// NewSignals returns the plan's signals worth storing: those of admitted
// jobs, and those that say something the model's latest stored signal
// (from BuildSnapshot) did not.
func NewSignals(plan *Plan, latest map[flywheel.ModelKey]flywheel.Signal) []flywheel.Signal {
	admitted := map[string]bool{}
	for _, j := range plan.Jobs {
		admitted[j.SignalID] = true
	}
	var fresh []flywheel.Signal
	for _, s := range plan.Signals {
		if prev, ok := latest[s.ModelKey]; !admitted[s.ID] && ok && SameSignal(prev, s) {
			continue
		}
		fresh = append(fresh, s)
	}
	return fresh
}

// SameSignal reports whether a new signal says what a stored one said:
// the same reasons and nearly the same priority.
func SameSignal(prev, next flywheel.Signal) bool {
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
