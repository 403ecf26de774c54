package backtest

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/cils"
	"github.com/flywheel-ml/flywheel/orchestrator"
)

// Policy names, in the order the comparison reports them.
const (
	PolicyNever      = "never"
	PolicyPeriodic   = "periodic"
	PolicyRoundRobin = "round-robin"
	PolicyThreshold  = "threshold"
	PolicySeed       = "seed"
	PolicyFlywheel   = "flywheel"
	PolicyOracle     = "oracle"
)

// AllPolicies lists every policy in report order.
var AllPolicies = []string{PolicyNever, PolicyPeriodic, PolicyRoundRobin, PolicyThreshold, PolicySeed, PolicyFlywheel, PolicyOracle}

// ParsePolicies reads a comma-separated list of policy names; "" or
// "all" means every policy.
func ParsePolicies(list string) ([]string, error) {
	if list == "" || list == "all" {
		return slices.Clone(AllPolicies), nil
	}
	var out []string
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if !slices.Contains(AllPolicies, name) {
			return nil, fmt.Errorf("unknown policy %q (want one of %s)", name, strings.Join(AllPolicies, ", "))
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out, nil
}

// Policy decides, once a trading day, which models to retrain.
type Policy interface {
	Name() string
	// Orchestrated reports whether the orchestrator decides: the policy
	// reads CILS insights (the others skip the pass, which cannot change
	// what they do), and its jobs carry config updates, which the replay
	// writes into its pipeline's config as the daemon does.
	Orchestrated() bool
	// Decide returns the jobs to start at now, and the orchestrator's
	// plan when there is one.
	Decide(r *replay, t int, now time.Time) ([]flywheel.Job, *orchestrator.Plan, error)
}

// orchPolicy is a policy made by orchestrator.Decide, as the daemon makes
// its decisions, with a configuration and optionally a filter on what the
// orchestrator is shown.
type orchPolicy struct {
	name   string
	cfg    orchestrator.Config
	filter func(*orchestrator.Snapshot)
}

func (p *orchPolicy) Name() string       { return p.name }
func (p *orchPolicy) Orchestrated() bool { return true }

func (p *orchPolicy) Decide(r *replay, _ int, now time.Time) ([]flywheel.Job, *orchestrator.Plan, error) {
	snap, latest := r.st.snapshot(now, &p.cfg)
	if p.filter != nil {
		p.filter(&snap)
	}
	plan, err := orchestrator.Decide(p.cfg, snap)
	if err != nil {
		return nil, nil, err
	}
	r.st.persist(plan, latest)
	return plan.Jobs, plan, nil
}

// onlyDegradation shows the orchestrator nothing but CILS's degrading
// models: the threshold policy, a retrain on the degradation trigger only.
func onlyDegradation(snap *orchestrator.Snapshot) {
	snap.ARPO = nil
	if snap.CILS == nil {
		return
	}
	c := *snap.CILS
	c.NewPatterns, c.OptimalStrategies, c.OptimalThresholds = nil, nil, nil
	c.FeaturePatterns = cils.FeaturePatterns{}
	var keep []cils.RetrainTarget
	for _, t := range c.TargetsNeedingRetrain {
		for _, d := range c.DegradingTargets {
			if d.ModelKey == t.ModelKey {
				keep = append(keep, t)
				break
			}
		}
	}
	c.TargetsNeedingRetrain = keep
	snap.CILS = &c
	for i := range snap.Models {
		snap.Models[i].LastTrained = nil // no staleness trigger either
	}
}

// fixedPolicy picks models by a rule that reads no learner; admission
// respects the same slots and daily budget as the orchestrator's.
type fixedPolicy struct {
	name string
	pick func(r *replay, t int) []int // candidates, best first
	// admit, when set, hears of each admitted model.
	admit func(m int)
}

func (p *fixedPolicy) Name() string       { return p.name }
func (p *fixedPolicy) Orchestrated() bool { return false }

func (p *fixedPolicy) Decide(r *replay, t int, now time.Time) ([]flywheel.Job, *orchestrator.Plan, error) {
	sc := r.opts.Scenario
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	spent := orchestrator.Spent(r.st.ledger, day, day.AddDate(0, 0, 1))
	var jobs []flywheel.Job
	for _, m := range p.pick(r, t) {
		if len(r.active)+len(jobs) >= sc.MaxConcurrent || spent+sc.RetrainCost > sc.Budget+1e-9 {
			break
		}
		if r.busy(m) {
			continue
		}
		k := r.keys[m]
		j := flywheel.Job{
			ID: orchestrator.JobID(p.name+"-"+k.String(), now), ModelKey: k, State: flywheel.JobAdmitted,
			Executor: "backtest", EstimatedCost: sc.RetrainCost, EstimatedSeconds: sc.RetrainDays * 86400,
			CreatedAt: now, UpdatedAt: now,
		}
		jobs = append(jobs, j)
		spent += sc.RetrainCost
		if p.admit != nil {
			p.admit(m)
		}
		r.st.jobs = append(r.st.jobs, j)
		r.st.ledger = append(r.st.ledger, orchestrator.LedgerEntry{JobID: j.ID, Kind: orchestrator.LedgerReserve, Units: j.EstimatedCost, At: now})
	}
	return jobs, nil, nil
}

// FlywheelConfig is the flywheel policy's orchestrator configuration:
// base with the priority carried by the value of a retrain alone. The
// expected improvement is CILS's restorable gap (the model's usual
// training score less its current score, which the pipeline's
// evaluation runs keep up to date) with improvement_scale 250, so that a
// gap of 0.024 in validation-score units pays for 2 compute units at
// min_priority 0.3; the weights are value 1 and the others 0 (the seed's
// 0/1 indicators fire on most models here and would rank by noise); and
// nothing ages, because aging admits low-value retrains that waste
// compute. It rests on evaluation runs: without them a model's current
// score is its last training score, the gap is 0 and nothing is
// retrained (on real prices, where the reference pipeline reports
// training runs only, it does what never does). The seed's formula is
// unchanged: these are its weights and scales, set in a daemon's config
// file as
//
//	orchestrator:
//	  weights: {cils: 0, arpo: 0, value: 1, urgency: 0}
//	  value: {estimate: gap, improvement_scale: 250}
//	  scheduler: {aging_per_day: 0}
func FlywheelConfig(base orchestrator.Config) orchestrator.Config {
	cfg := base
	cfg.Weights = orchestrator.Weights{Value: 1}
	cfg.Value.Estimate = orchestrator.EstimateGap
	cfg.Value.ImprovementScale = 250
	cfg.Value.Relative = false
	cfg.Calibration.Enabled = false
	cfg.Scheduler.AgingPerDay = 0
	return cfg
}

// newPolicy builds a policy by name. period is the periodic policy's N.
func newPolicy(name string, o *Options, mk Market, period int) (Policy, error) {
	base := o.Orchestrator
	base.Scheduler.DailyBudget = o.Scenario.Budget
	base.Scheduler.MaxConcurrent = o.Scenario.MaxConcurrent
	base.Value.DefaultCost = o.Scenario.RetrainCost
	base.Value.DefaultSeconds = o.Scenario.RetrainDays * 86400
	n := len(mk.Models())
	switch name {
	case PolicyFlywheel:
		return &orchPolicy{name: name, cfg: FlywheelConfig(base)}, nil
	case PolicySeed:
		cfg := base
		cfg.Weights, cfg.Calibration.Enabled = orchestrator.SeedWeights, false
		return &orchPolicy{name: name, cfg: cfg}, nil
	case PolicyThreshold:
		cfg := base
		cfg.Calibration.Enabled = false
		return &orchPolicy{name: name, cfg: cfg, filter: onlyDegradation}, nil
	case PolicyNever:
		return &fixedPolicy{name: name, pick: func(*replay, int) []int { return nil }}, nil
	case PolicyPeriodic:
		return periodic(n, max(1, period)), nil
	case PolicyRoundRobin:
		return roundRobin(n), nil
	case PolicyOracle:
		syn, ok := mk.(*Synthetic)
		if !ok {
			return nil, fmt.Errorf("the oracle needs the synthetic market, where the truth is known")
		}
		return &fixedPolicy{name: name, pick: oracle(syn)}, nil
	}
	return nil, fmt.Errorf("unknown policy %q", name)
}

// periodic retrains each model every period trading days, the models
// staggered evenly over the period; a model the budget held back stays
// due until it is admitted.
func periodic(n, period int) *fixedPolicy {
	due := map[int]bool{}
	return &fixedPolicy{
		name: PolicyPeriodic,
		pick: func(r *replay, t int) []int {
			var out []int
			for m := range n {
				if (t+m*period/n)%period == 0 {
					due[m] = true
				}
				if due[m] {
					out = append(out, m)
				}
			}
			return out
		},
		admit: func(m int) { delete(due, m) },
	}
}

// roundRobin retrains the models in turn, as many a day as the budget
// and the slots allow.
func roundRobin(n int) *fixedPolicy {
	next := 0
	return &fixedPolicy{
		name: PolicyRoundRobin,
		pick: func(*replay, int) []int {
			out := make([]int, 0, n)
			for i := range n {
				out = append(out, (next+i)%n)
			}
			return out
		},
		admit: func(m int) { next = m + 1 },
	}
}

// oracle is the best choice under the same slots and budget for a policy
// that knows the market (every model's edge and decay rate, the regimes
// and volatility to come) but not which model a retrain will produce,
// which no policy can know before the run: it expects a retrain of
// average quality. It follows the optimal replacement rule for a
// decaying asset: a model retrained every T days earns on average
// g(T) = (E (1 - exp(-k T)) / k - C) / T a day (E its fresh edge in P&L,
// k its decay rate, C a run's price), which is largest at the T* where
// the model's current edge has fallen to g(T*). So a model is due once
// its true edge today (decay and regime included) is at or below
// exp(-k T*) of its fresh edge, and is retrained only if that adds P&L
// over the value horizon; due models are taken by that value, best
// first. Retraining earlier than T* spends compute on little edge,
// later loses more edge than a run costs.
func oracle(s *Synthetic) func(*replay, int) []int {
	price := s.sc.RetrainCost * s.sc.UnitPrice
	due := make([]float64, len(s.models))
	for m := range s.models {
		due[m] = replacementLevel(s.edge0[m]*s.sc.DailyVol, s.decay[m], price)
	}
	return func(r *replay, t int) []int {
		type cand struct {
			m int
			v float64
		}
		var cs []cand
		for m := range r.keys {
			if r.busy(m) || s.sharpe(m, &r.live[m], t) > due[m]*s.edge0[m] {
				continue
			}
			next, _ := s.Train(m, t, "")
			next.Quality = 1
			next.Trained = t + 1 + int(s.sc.RetrainDays+0.999)
			if v := s.RetrainValue(m, &r.live[m], t, &next); v > price {
				cs = append(cs, cand{m, v})
			}
		}
		sort.SliceStable(cs, func(i, j int) bool { return cs[i].v > cs[j].v })
		out := make([]int, len(cs))
		for i, c := range cs {
			out[i] = c.m
		}
		return out
	}
}

// replacementLevel is the share of its fresh edge at which a model with
// fresh daily edge e (P&L) decaying at rate k a day is best retrained at
// price c: exp(-k T*) for the period T* (in days, searched up to ten
// years) that maximises the average daily P&L of retraining every T days.
// A model that does not decay is never due (level 0).
func replacementLevel(e, k, c float64) float64 {
	if k <= 0 || e <= 0 {
		return 0
	}
	best, bestT := math.Inf(-1), 0
	for T := 1; T <= 2520; T++ {
		if g := (e*(1-math.Exp(-k*float64(T)))/k - c) / float64(T); g > best {
			best, bestT = g, T
		}
	}
	return math.Exp(-k * float64(bestT))
}
