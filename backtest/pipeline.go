package backtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/propagate"
	"github.com/flywheel-ml/flywheel/sqlite"
)

// Reasons a config update was refused, the keys of ConfigChanges.Refused.
const (
	RefusedNoChange    = "no_change"   // the files already held every value
	RefusedQuarantined = "quarantined" // rolled back before, not applied again
	RefusedInRollout   = "in_rollout"  // the target is in another change's canary
	RefusedInvalid     = "invalid"     // a value out of range, or the update does not decode
)

// Reasons a canary was rolled back, the keys of ConfigChanges.RolledBack.
const (
	RollbackWorse    = "worse"    // the canary's outcomes were worse than no change
	RollbackDeadline = "deadline" // the deadline passed without a better result
)

// ConfigChanges count what became of the config updates in the jobs a
// policy admitted, written by the config propagator as the daemon writes
// them.
type ConfigChanges struct {
	// Updates are the config updates the admitted jobs carried.
	Updates int `json:"updates"`
	// Applied updates made a new change, written to its canary target;
	// Repeated ones were the update of a change already in canary.
	Applied  int `json:"applied"`
	Repeated int `json:"repeated"`
	// Refused counts the updates not applied, by reason (Refused*).
	Refused map[string]int `json:"refused"`
	// Promoted and RolledBack (by reason, Rollback*) are the canaries
	// judged on the retrains' outcomes; InCanary those still waiting when
	// the replay ended.
	Promoted   int            `json:"promoted"`
	RolledBack map[string]int `json:"rolled_back"`
	InCanary   int            `json:"in_canary"`
}

// pipeline is one replay's training-pipeline config: a config directory
// in a temporary directory the replay owns, into which the daemon's
// config propagator writes the admitted jobs' config updates on the
// replay's clock, recording them in a SQLite store beside it.
type pipeline struct {
	tmp    string
	dir    string
	db     *sqlite.DB
	prop   *propagate.Propagator
	counts ConfigChanges
	// canaries is how many changes are in canary: while there are none,
	// judging the canaries would only read that there are none.
	canaries int
}

// newPipeline creates an empty config directory: the reference pipeline
// reads its defaults for every file that is absent, as in `flywheel
// demo`, and the propagator creates the files as updates need them.
func newPipeline(ctx context.Context, now func() time.Time) (p *pipeline, err error) {
	tmp, err := os.MkdirTemp("", "flywheel-backtest-")
	if err != nil {
		return nil, fmt.Errorf("pipeline config: %w", err)
	}
	p = &pipeline{tmp: tmp, dir: filepath.Join(tmp, "CONFIG"),
		counts: ConfigChanges{Refused: map[string]int{}, RolledBack: map[string]int{}}}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	if err := os.Mkdir(p.dir, 0o755); err != nil {
		return nil, fmt.Errorf("pipeline config: %w", err)
	}
	// The store is thrown away with the replay, crash or not: its commits
	// (an outcome for every retrain) need not wait for the disk.
	if p.db, err = sqlite.Open(ctx, filepath.Join(tmp, "flywheel.db"), sqlite.Options{Now: now, NoSync: true}); err != nil {
		return nil, err
	}
	p.prop, err = propagate.New(ctx, propagate.Config{Dir: p.dir, Store: p.db, Now: now, Git: propagate.GitOff,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, fmt.Errorf("pipeline config: %w", err)
	}
	return p, nil
}

// close releases the store and removes the temporary directory.
func (p *pipeline) close() error {
	var errs []error
	if p.prop != nil {
		errs = append(errs, p.prop.Close())
	}
	if p.db != nil {
		errs = append(errs, p.db.Close())
	}
	errs = append(errs, os.RemoveAll(p.tmp))
	return errors.Join(errs...)
}

// admit applies the config updates of the jobs a decision admitted, in
// order, then judges the canaries, as the engine does when it stores a
// decision's jobs. A refused update is counted and the job trains with
// the config as it is; a failure of the files or the store ends the
// replay.
func (p *pipeline) admit(ctx context.Context, jobs []flywheel.Job) error {
	for _, j := range jobs {
		updates, err := p.prop.ApplyJob(ctx, j, flywheel.ActorLoop)
		if err != nil {
			return err
		}
		for _, u := range updates {
			if err := p.count(u); err != nil {
				return fmt.Errorf("job %s: config update for %s: %w", j.ID, u.Target, err)
			}
			if u.Err == nil && !u.Existing && u.Change.State == flywheel.ChangeCanary {
				p.canaries++
			}
		}
	}
	if p.canaries == 0 {
		return nil
	}
	results, err := p.prop.EvaluateCanaries(ctx, flywheel.ActorLoop)
	if err != nil {
		return fmt.Errorf("canary evaluation: %w", err)
	}
	p.canaries = 0
	for _, r := range results {
		switch d := r.Decision; {
		case d.Verdict == propagate.VerdictWait:
			p.canaries++
		case d.Verdict == propagate.VerdictPromote:
			p.counts.Promoted++
		case d.Verdict == propagate.VerdictRollback && d.DecidedAt.Before(d.Deadline):
			p.counts.RolledBack[RollbackWorse]++
		case d.Verdict == propagate.VerdictRollback:
			p.counts.RolledBack[RollbackDeadline]++
		}
	}
	return nil
}

// count records what became of one update; an error that is not a
// refusal is returned.
func (p *pipeline) count(u propagate.JobUpdate) error {
	p.counts.Updates++
	var reason string
	switch err := u.Err; {
	case err == nil && u.Existing:
		p.counts.Repeated++
		return nil
	case err == nil:
		p.counts.Applied++
		return nil
	case errors.Is(err, propagate.ErrNoChange):
		reason = RefusedNoChange
	case errors.Is(err, propagate.ErrQuarantined):
		reason = RefusedQuarantined
	case errors.Is(err, propagate.ErrInRollout):
		reason = RefusedInRollout
	case u.Malformed || flywheel.Code(err) == flywheel.EInvalid:
		reason = RefusedInvalid
	default:
		return err
	}
	p.counts.Refused[reason]++
	return nil
}

// outcome stores a retrain's outcome, on which canaries are judged.
func (p *pipeline) outcome(ctx context.Context, o flywheel.Outcome) error {
	if _, err := p.db.PutOutcome(ctx, o); err != nil {
		return fmt.Errorf("store outcome: %w", err)
	}
	return nil
}

// result returns the counts, with the canaries still waiting.
func (p *pipeline) result(ctx context.Context) (*ConfigChanges, error) {
	waiting, err := p.db.ConfigChanges(ctx, flywheel.ConfigChangeFilter{
		States: []flywheel.ConfigChangeState{flywheel.ChangeCanary}, Limit: 10000})
	if err != nil {
		return nil, err
	}
	c := p.counts
	c.InCanary = len(waiting)
	return &c, nil
}
