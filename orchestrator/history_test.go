package orchestrator

import (
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// TestBuildSnapshot checks the meaning BuildSnapshot gives the stored
// history: aging counts from the first signal since the model's latest
// job, the cooldown from its latest ended job, the ledger keeps two days.
func TestBuildSnapshot(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	a := flywheel.ModelKey{Target: "fwd_ret_5d_AAPL", ModelFamily: "ridge"}
	b := flywheel.ModelKey{Target: "fwd_ret_5d_JPM", ModelFamily: "ridge"}
	day := func(d int) time.Time { return now.AddDate(0, 0, d) }
	cfg := DefaultConfig()
	h := History{
		Now: now,
		Jobs: []flywheel.Job{
			{ID: "old", ModelKey: a, State: flywheel.JobSucceeded, CreatedAt: day(-6), UpdatedAt: day(-5)},
			{ID: "live", ModelKey: b, State: flywheel.JobRunning, CreatedAt: day(-1), UpdatedAt: day(-1)},
		},
		Signals: []flywheel.Signal{ // newest first
			{ID: "s3", ModelKey: a, CreatedAt: day(-2)},
			{ID: "s2", ModelKey: a, CreatedAt: day(-4)},
			{ID: "s1", ModelKey: a, CreatedAt: day(-8)},  // before the job: a request already served
			{ID: "s0", ModelKey: b, CreatedAt: day(-40)}, // beyond SignalMemory
		},
		Ledger: []LedgerEntry{{JobID: "old", Kind: LedgerReserve, Units: 3, At: day(-6)}, {JobID: "live", Kind: LedgerReserve, Units: 2, At: day(-1)}},
	}
	snap, latest := BuildSnapshot(&cfg, h)
	states := map[flywheel.ModelKey]ModelState{}
	for _, m := range snap.Models {
		states[m.ModelKey] = m
	}
	if st := states[a]; st.FirstRaised == nil || !st.FirstRaised.Equal(day(-4)) {
		t.Errorf("first raised of %s = %v, want %v (the first signal since its job)", a, st.FirstRaised, day(-4))
	}
	if st := states[a]; st.LastJobEnd == nil || !st.LastJobEnd.Equal(day(-5)) {
		t.Errorf("last job end of %s = %v, want %v", a, st.LastJobEnd, day(-5))
	}
	if len(snap.ActiveJobs) != 1 || snap.ActiveJobs[0].ID != "live" {
		t.Errorf("active jobs = %+v, want the running one", snap.ActiveJobs)
	}
	if len(snap.Ledger) != 1 || snap.Ledger[0].JobID != "live" {
		t.Errorf("ledger = %+v, want only the entry of the last two days", snap.Ledger)
	}
	if latest[a].ID != "s3" {
		t.Errorf("latest signal of %s = %q, want s3", a, latest[a].ID)
	}
	if _, ok := latest[b]; ok {
		t.Errorf("a signal older than SignalMemory counts as latest for %s", b)
	}
	if snap.Outcomes != nil {
		t.Errorf("outcomes read without calibration")
	}
}

func TestNewSignals(t *testing.T) {
	t.Parallel()
	k := flywheel.ModelKey{Target: "fwd_ret_5d_AAPL", ModelFamily: "ridge"}
	reason := []flywheel.Reason{{Source: flywheel.SourceCILS, Kind: "degradation"}}
	stored := flywheel.Signal{ID: "s1", ModelKey: k, Priority: 0.40, Reasons: reason}
	for _, tc := range []struct {
		name  string
		next  flywheel.Signal
		jobs  []flywheel.Job
		store bool
	}{
		{"same reasons, same priority", flywheel.Signal{ID: "s2", ModelKey: k, Priority: 0.405, Reasons: reason}, nil, false},
		{"priority moved", flywheel.Signal{ID: "s2", ModelKey: k, Priority: 0.45, Reasons: reason}, nil, true},
		{"new reason", flywheel.Signal{ID: "s2", ModelKey: k, Priority: 0.40,
			Reasons: append([]flywheel.Reason{{Source: flywheel.SourceARPO, Kind: "underperforming"}}, reason...)}, nil, true},
		{"a job admitted for it", flywheel.Signal{ID: "s2", ModelKey: k, Priority: 0.40, Reasons: reason},
			[]flywheel.Job{{ID: "j", SignalID: "s2"}}, true},
	} {
		got := NewSignals(&Plan{Signals: []flywheel.Signal{tc.next}, Jobs: tc.jobs}, map[flywheel.ModelKey]flywheel.Signal{k: stored})
		if (len(got) == 1) != tc.store {
			t.Errorf("%s: stored %d signals, want stored=%v", tc.name, len(got), tc.store)
		}
	}
}
