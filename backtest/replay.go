package backtest

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/arpo"
	"github.com/flywheel-ml/flywheel/cils"
	"github.com/flywheel-ml/flywheel/orchestrator"
)

// decisionHour is when, in UTC, the simulated loop runs each trading day:
// after the close, once the day's P&L is in.
const decisionHour = 21

// Clock is the simulated clock of a replay: it implements flywheel.Clock
// and is moved by the replay, never by the wall clock.
type Clock struct{ now time.Time }

// Now implements flywheel.Clock.
func (c *Clock) Now() time.Time { return c.now }

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) { c.now = t.UTC() }

var _ flywheel.Clock = (*Clock)(nil)

// pending is a job the in-process executor is running.
type pending struct {
	job     flywheel.Job
	model   int
	doneDay int // the trading day at whose decision time it has finished
	version Version
}

// replay is one policy's pass over a market.
type replay struct {
	ctx    context.Context
	mk     Market
	pol    Policy
	opts   *Options
	clock  Clock
	st     store
	keys   []flywheel.ModelKey
	index  map[flywheel.ModelKey]int
	live   []Version
	score  []float64 // the live version's validation score
	seq    []int     // versions per model
	active []pending
	rec    recorder
	// pipe is the pipeline's config the admitted jobs' config updates are
	// written to; nil when the policy's jobs carry none. The replay owns
	// it: close removes it.
	pipe *pipeline
}

func newReplay(ctx context.Context, mk Market, pol Policy, o *Options) (*replay, error) {
	r := &replay{ctx: ctx, mk: mk, pol: pol, opts: o, keys: mk.Models(), index: map[flywheel.ModelKey]int{}}
	r.st.lastTrained = map[flywheel.ModelKey]time.Time{}
	start := at(mk.Dates()[0]).AddDate(0, 0, -1)
	for m, k := range r.keys {
		r.index[k] = m
		v, err := mk.Initial(m)
		if err != nil {
			return nil, err
		}
		r.live = append(r.live, v)
		r.score = append(r.score, v.Score)
		r.seq = append(r.seq, 1)
		trained := start.AddDate(0, 0, min(0, v.Trained))
		run := r.run(m, "", trained, trained, v.Score)
		r.st.runs = append(r.st.runs, run)
		r.st.lastTrained[k] = trained
		r.st.deps = append(r.st.deps, flywheel.Deployment{ModelKey: k, ModelVersion: "v1", RunID: run.RunID, DeployedAt: trained})
	}
	r.rec.init(len(mk.Dates()), len(r.keys))
	if pol.Orchestrated() {
		var err error
		if r.pipe, err = newPipeline(ctx, r.clock.Now); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// close removes the replay's pipeline config, keeping its counts.
func (r *replay) close() error {
	if r.pipe == nil {
		return nil
	}
	c, err := r.pipe.result(r.ctx)
	r.rec.config = c
	if cerr := r.pipe.close(); err == nil {
		err = cerr
	}
	r.pipe = nil
	return err
}

// configDir is the config directory a retrain reads, or "" for none.
func (r *replay) configDir() string {
	if r.pipe == nil {
		return ""
	}
	return r.pipe.dir
}

// at is the decision time of a trading day.
func at(day time.Time) time.Time {
	return time.Date(day.Year(), day.Month(), day.Day(), decisionHour, 0, 0, 0, time.UTC)
}

// run builds the run record a retrain reports.
func (r *replay) run(m int, jobID string, started, finished time.Time, score float64) flywheel.Run {
	id := fmt.Sprintf("run-%s-%d", r.keys[m].Target, finished.Unix())
	if jobID != "" {
		id = jobID
	}
	return flywheel.Run{
		RunID: id, JobID: jobID, ModelKey: r.keys[m], FeatureSet: "backtest",
		StartedAt: started, FinishedAt: &finished, Status: flywheel.RunSucceeded,
		Metrics: map[string]float64{flywheel.MetricValidationScore: score},
		Cost:    flywheel.Cost{CPUHours: r.opts.Scenario.RetrainCost},
	}
}

// day replays trading day t: the day's live P&L, the jobs that finish,
// the learners, and the policy's decision.
func (r *replay) day(t int) error {
	now := at(r.mk.Dates()[t])
	r.clock.Set(now)
	r.trade(t, now)
	finished, err := r.finish(t, now)
	if err != nil {
		return err
	}
	evaluated := r.evaluate(t, now)
	if err := r.learn(now, finished || evaluated); err != nil {
		return err
	}
	jobs, plan, err := r.pol.Decide(r, t, now)
	if err != nil {
		return fmt.Errorf("%s: day %d: %w", r.pol.Name(), t, err)
	}
	r.rec.plan(t, plan)
	return r.start(t, jobs)
}

// trade books day t's P&L of every live version at the size ARPO set.
func (r *replay) trade(t int, now time.Time) {
	ts := now.Add(-time.Hour)
	var total float64
	for m, k := range r.keys {
		size := 1.0
		if r.st.arpo != nil {
			if adj, ok := r.st.arpo.Adjustment(k); ok {
				size = adj.SizeFactor
			}
		}
		pnl, exp := r.mk.PnL(m, &r.live[m], t)
		pnl, exp = pnl*size, exp*size
		total += pnl
		r.st.obs = append(r.st.obs, flywheel.Observation{
			EventID: fmt.Sprintf("%d-%d", m, t), TS: ts, ModelKey: k,
			ModelVersion: fmt.Sprintf("v%d", r.seq[m]), PnL: pnl, Position: &size, ExpectedPnL: &exp,
		})
	}
	r.st.market = append(r.st.market, arpo.MarketPoint{Date: r.mk.Dates()[t], Return: r.mk.MarketReturn(t)})
	r.rec.pnl[t] += total
}

// finish completes the jobs whose duration is over: their runs arrive,
// the ledger is settled, the new versions are deployed, and the training
// outcome is measured as the engine measures it.
func (r *replay) finish(t int, now time.Time) (bool, error) {
	kept := r.active[:0]
	done := false
	for _, p := range r.active {
		if p.doneDay > t {
			kept = append(kept, p)
			continue
		}
		done = true
		end := now.Add(-time.Minute)
		run := r.run(p.model, p.job.ID, p.job.CreatedAt, end, p.version.Score)
		j := r.jobByID(p.job.ID)
		j.State, j.RunID, j.UpdatedAt, j.Progress = flywheel.JobSucceeded, run.RunID, end, 1
		r.st.runs = append(r.st.runs, run)
		r.st.ledger = append(r.st.ledger, orchestrator.Settlement(*j, run, end))
		r.st.lastTrained[p.job.ModelKey] = end
		sig := r.st.signal(j.SignalID)
		if j.SignalID != "" {
			if o, err := orchestrator.TrainingOutcome(sig, *j, run, r.score[p.model]); err == nil {
				r.st.outcomes = append(r.st.outcomes, o)
				if r.pipe != nil {
					if err := r.pipe.outcome(r.ctx, o); err != nil {
						return false, err
					}
				}
			}
		}
		r.rec.retrain(r, p, t, p.job.Priority)
		v := p.version
		v.Trained = t + 1
		r.live[p.model], r.score[p.model] = v, v.Score
		r.seq[p.model]++
		r.st.deps = append(r.st.deps, flywheel.Deployment{ModelKey: p.job.ModelKey,
			ModelVersion: fmt.Sprintf("v%d", r.seq[p.model]), RunID: run.RunID, DeployedAt: end})
	}
	r.active = kept
	return done, nil
}

// evaluate reports the evaluation runs of day t: the pipeline scoring
// the deployed versions on the data up to the day. An evaluation becomes
// the model's current score, which the next retrain is measured against.
func (r *replay) evaluate(t int, now time.Time) bool {
	done := false
	at := now.Add(-30 * time.Minute)
	for m := range r.keys {
		score, ok := r.mk.Evaluate(m, &r.live[m], t)
		if !ok {
			continue
		}
		run := r.run(m, "", at, at, score)
		run.RunID = fmt.Sprintf("eval-%s-%d", r.keys[m].Target, t)
		run.Kind = flywheel.RunEvaluation
		run.Cost = flywheel.Cost{}
		r.st.runs = append(r.st.runs, run)
		r.score[m] = score
		done = true
	}
	return done
}

func (r *replay) jobByID(id string) *flywheel.Job {
	for i := len(r.st.jobs) - 1; i >= 0; i-- {
		if r.st.jobs[i].ID == id {
			return &r.st.jobs[i]
		}
	}
	panic("backtest: unknown job " + id) // jobs are only ever added
}

// learn runs the learners as the engine does: CILS when runs arrived
// (its input changed), ARPO every day over its window.
func (r *replay) learn(now time.Time, runsChanged bool) error {
	if r.pol.Orchestrated() && (runsChanged || r.st.cils == nil) {
		in, err := cils.Learn(r.opts.CILS, cils.Snapshot{Runs: r.st.runs, Now: now, Previous: r.st.cils})
		if err != nil {
			return fmt.Errorf("cils: %w", err)
		}
		r.st.cils, r.st.cilsVersion = in, r.st.cilsVersion+1
	}
	days := max(r.opts.ARPO.LookbackDays, r.opts.ARPO.RegimeLookbackDays)
	r.st.trimObservations(now.AddDate(0, 0, -days-1))
	in, err := arpo.Learn(r.opts.ARPO, arpo.Snapshot{
		Observations: r.st.obs, Deployments: r.st.deps, Market: r.st.market, Now: now, Previous: r.st.arpo,
	})
	if err != nil {
		return fmt.Errorf("arpo: %w", err)
	}
	r.st.arpo, r.st.arpoVersn = in, r.st.arpoVersn+1
	return nil
}

// start hands admitted jobs to the in-process executor: their config
// updates are written into the pipeline's config first, as the daemon
// writes them, then the retrain is made on the data up to day t with the
// config as it is and is done after its duration.
func (r *replay) start(t int, jobs []flywheel.Job) error {
	if r.pipe != nil {
		if err := r.pipe.admit(r.ctx, jobs); err != nil {
			return fmt.Errorf("%s: day %d: %w", r.pol.Name(), t, err)
		}
	}
	dur := int(math.Ceil(r.opts.Scenario.RetrainDays))
	for _, j := range jobs {
		m, ok := r.index[j.ModelKey]
		if !ok {
			return fmt.Errorf("job %s for unknown model %s", j.ID, j.ModelKey)
		}
		v, err := r.mk.Train(m, t, r.configDir())
		if err != nil {
			return err
		}
		r.active = append(r.active, pending{job: j, model: m, doneDay: t + dur, version: v})
		r.rec.compute[t] += j.EstimatedCost
	}
	return nil
}

// busy reports whether model m has a job in flight.
func (r *replay) busy(m int) bool {
	for _, p := range r.active {
		if p.model == m {
			return true
		}
	}
	return false
}
