package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/orchestrator"
)

// maxActiveJobs bounds the jobs read to count the active ones: the
// scheduler admits a handful at a time, so more than this means something
// is stuck, which the count at the bound already shows.
const maxActiveJobs = 10000

// DaemonState returns a StateFunc reading the active jobs and the loop
// state from store, the budget from plan and the health from health; plan
// and health may be nil. The engine's Decide and Health load a snapshot,
// so wrap the result in CachedState.
func DaemonState(store flywheel.Store, plan func(context.Context) (*orchestrator.Plan, error),
	health func(context.Context) (orchestrator.LoopHealth, error)) StateFunc {
	return func(ctx context.Context) (State, error) {
		var st State
		jobs, err := store.Jobs(ctx, flywheel.JobFilter{States: flywheel.ActiveJobStates, Limit: maxActiveJobs})
		if err != nil {
			return st, err
		}
		st.Jobs = make(map[flywheel.JobState]int, len(flywheel.ActiveJobStates))
		for _, j := range jobs {
			st.Jobs[j.State]++
		}
		loop, err := store.LoopState(ctx)
		if err != nil {
			return st, err
		}
		st.Paused = &loop.Paused
		if plan != nil {
			p, err := plan(ctx)
			if err != nil {
				return st, err
			}
			st.Budget = &p.Budget
		}
		if health != nil {
			h, err := health(ctx)
			if err != nil {
				return st, err
			}
			st.Health = &h
		}
		return st, nil
	}
}

// CachedState returns fn with its result kept for ttl, so that scrapes
// from several Prometheus servers, or a short scrape interval, do not
// each pay for a snapshot of the store. An error is not kept.
func CachedState(fn StateFunc, ttl time.Duration, now func() time.Time) StateFunc {
	if now == nil {
		now = time.Now
	}
	var (
		mu   sync.Mutex
		last State
		at   time.Time
	)
	return func(ctx context.Context) (State, error) {
		// Holding the lock across fn makes concurrent scrapes wait for one
		// computation instead of each starting their own.
		mu.Lock()
		defer mu.Unlock()
		if !at.IsZero() && now().Sub(at) < ttl {
			return last, nil
		}
		st, err := fn(ctx)
		if err != nil {
			return st, err
		}
		last, at = st, now()
		return st, nil
	}
}
