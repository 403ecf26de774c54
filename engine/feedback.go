package engine

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/orchestrator"
)

// DefaultLiveWindow is how long a retrained model trades before its live
// outcome is measured, and how far before its deployment the comparison
// reaches.
const DefaultLiveWindow = 20 * 24 * time.Hour

// recordTrainingOutcomes measures, for each run a flywheel job produced,
// what it achieved against the model's previous successful run, once.
func (e *Engine) recordTrainingOutcomes(ctx context.Context, runs []flywheel.Run) error {
	byModel := map[flywheel.ModelKey][]flywheel.Run{}
	for _, r := range runs {
		if _, ok := r.ValidationScore(); ok && r.Status == flywheel.RunSucceeded {
			byModel[r.ModelKey] = append(byModel[r.ModelKey], r)
		}
	}
	for _, rs := range byModel {
		sort.Slice(rs, func(i, j int) bool { return rs[i].StartedAt.Before(rs[j].StartedAt) })
		for i, r := range rs {
			if r.JobID == "" || i == 0 {
				continue
			}
			prev, _ := rs[i-1].ValidationScore()
			if err := e.recordTrainingOutcome(ctx, r, prev); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *Engine) recordTrainingOutcome(ctx context.Context, run flywheel.Run, previous float64) error {
	job, err := e.store.Job(ctx, run.JobID)
	if flywheel.Code(err) == flywheel.ENotFound {
		return nil // a job id from another scheduler
	}
	if err != nil {
		return fmt.Errorf("load job %s: %w", run.JobID, err)
	}
	if job.SignalID == "" {
		return nil
	}
	done, err := e.store.Outcomes(ctx, flywheel.OutcomeFilter{Model: &job.ModelKey, Kind: flywheel.OutcomeTraining, Limit: page})
	if err != nil {
		return fmt.Errorf("load outcomes: %w", err)
	}
	for _, o := range done {
		if o.SignalID == job.SignalID {
			return nil
		}
	}
	sig, err := e.signal(ctx, job)
	if err != nil {
		return err
	}
	o, err := orchestrator.TrainingOutcome(sig, job, run, previous)
	if err != nil {
		e.logger.Warn("engine: no training outcome", "job", job.ID, "run", run.RunID, "err", err)
		return nil
	}
	if _, err := e.store.PutOutcome(ctx, o); err != nil {
		return fmt.Errorf("store outcome of job %s: %w", job.ID, err)
	}
	e.logger.Info("training outcome", "job", job.ID, "model", job.ModelKey.String(), "before", o.Before, "after", o.After)
	return nil
}

// signal returns the signal a job serves, or a zero signal when it is no
// longer stored.
func (e *Engine) signal(ctx context.Context, job flywheel.Job) (flywheel.Signal, error) {
	sigs, err := e.store.Signals(ctx, flywheel.SignalFilter{Model: &job.ModelKey, Limit: page})
	if err != nil {
		return flywheel.Signal{}, fmt.Errorf("load signals of %s: %w", job.ModelKey, err)
	}
	for _, s := range sigs {
		if s.ID == job.SignalID {
			return s, nil
		}
	}
	return flywheel.Signal{}, nil
}

// recordLiveOutcomes measures, for each model a job retrained that has
// been live for the live window, its mean P&L per observation over the
// window after the deployment against the window before, once.
func (e *Engine) recordLiveOutcomes(ctx context.Context) error {
	now := e.clock.Now().UTC()
	training, err := e.store.Outcomes(ctx, flywheel.OutcomeFilter{Kind: flywheel.OutcomeTraining, Since: now.Add(-HealthWindow - e.liveWindow), Limit: page})
	if err != nil {
		return fmt.Errorf("load outcomes: %w", err)
	}
	if len(training) == 0 {
		return nil
	}
	live, err := e.store.Outcomes(ctx, flywheel.OutcomeFilter{Kind: flywheel.OutcomeLive, Limit: page})
	if err != nil {
		return fmt.Errorf("load outcomes: %w", err)
	}
	measured := map[string]bool{}
	for _, o := range live {
		measured[o.SignalID] = true
	}
	deps, err := e.store.Deployments(ctx, flywheel.DeploymentFilter{Limit: page})
	if err != nil {
		return fmt.Errorf("load deployments: %w", err)
	}
	deployedAt := map[string]time.Time{}
	for _, d := range deps {
		if d.RunID != "" {
			deployedAt[d.RunID] = d.DeployedAt
		}
	}
	for _, t := range training {
		at, ok := deployedAt[t.RunID]
		if measured[t.SignalID] || !ok || now.Before(at.Add(e.liveWindow)) {
			continue
		}
		if err := e.recordLiveOutcome(ctx, t, at); err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) recordLiveOutcome(ctx context.Context, training flywheel.Outcome, deployed time.Time) error {
	before, err := e.store.LiveSummary(ctx, training.ModelKey, deployed.Add(-e.liveWindow), deployed)
	if err != nil {
		return err
	}
	after, err := e.store.LiveSummary(ctx, training.ModelKey, deployed, deployed.Add(e.liveWindow))
	if err != nil {
		return err
	}
	if before.Observations == 0 || after.Observations == 0 {
		return nil
	}
	job, err := e.store.Job(ctx, training.JobID)
	if err != nil {
		return fmt.Errorf("load job %s: %w", training.JobID, err)
	}
	sig, err := e.signal(ctx, job)
	if err != nil {
		return err
	}
	o, err := orchestrator.LiveOutcome(sig, job, before.MeanPnL, after.MeanPnL, deployed.Add(e.liveWindow))
	if err != nil {
		e.logger.Warn("engine: no live outcome", "job", job.ID, "err", err)
		return nil
	}
	o.RunID = training.RunID
	if _, err := e.store.PutOutcome(ctx, o); err != nil {
		return fmt.Errorf("store live outcome of job %s: %w", job.ID, err)
	}
	return nil
}
