package orchestrator

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// Plan is the outcome of one decision: what to persist and what to show.
// Decide fills every list, empty rather than nil, so that the same
// snapshot always encodes to the same bytes. A plan may share maps (reason
// values, factors) with its snapshot and between its signals and
// candidates: treat both as read-only.
type Plan struct {
	DecidedAt time.Time `json:"decided_at"`
	// Signals are every model's merged signal, by model.
	Signals []flywheel.Signal `json:"signals"`
	// Candidates are the signals as the scheduler saw them, best composite
	// score first, each with why it was or was not admitted.
	Candidates []Candidate `json:"candidates"`
	// Jobs are the jobs to create, in state admitted, in candidate order.
	Jobs []flywheel.Job `json:"jobs"`
	// ConfigUpdates are the updates a retrain of each signal's model would
	// carry, by signal; the admitted jobs carry theirs in their spec.
	ConfigUpdates []ConfigUpdate `json:"config_updates"`
	// Ledger holds the reservations of the admitted jobs, to append to
	// the budget ledger with the jobs.
	Ledger   []LedgerEntry `json:"ledger"`
	Budget   BudgetView    `json:"budget"`
	Capacity CapacityView  `json:"capacity"`
	Weights  WeightsView   `json:"weights"`
	Search   SearchView    `json:"search"`
}

// Candidate is one signal in the scheduler's eyes.
type Candidate struct {
	SignalID string `json:"signal_id"`
	flywheel.ModelKey
	Sources []string `json:"sources"`
	// Priority is the signal's; Aging what its age adds (up to
	// scheduler.aging_cap) and EffectivePriority the sum, capped at 1,
	// which min_priority and the score use.
	Priority          float64 `json:"priority"`
	Aging             float64 `json:"aging"`
	EffectivePriority float64 `json:"effective_priority"`
	// FirstRaised is when the signal was first raised: the snapshot's
	// value, or the decision time for a new signal. Keep it while the
	// signal stays raised.
	FirstRaised time.Time `json:"first_raised"`
	Urgency     string    `json:"urgency"`
	// Score is the seed's composite score (CompositeScore) with the
	// effective priority: the ranking order and the knapsack's value.
	Score            float64            `json:"score"`
	Factors          map[string]float64 `json:"factors"`
	Resources        flywheel.Resources `json:"resources"`
	EstimatedCost    float64            `json:"estimated_cost"`
	EstimatedSeconds float64            `json:"estimated_seconds"`
	Admitted         bool               `json:"admitted"`
	// Reason is one of the Reason* constants; Detail gives the numbers.
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
	JobID  string `json:"job_id,omitempty"`
}

// JobSpec is what Decide puts in a job's Spec: the signal it serves and
// the config updates its run is to use. The executor adds its own fields.
type JobSpec struct {
	SignalID      string         `json:"signal_id"`
	Priority      float64        `json:"priority"`
	Urgency       string         `json:"urgency"`
	Reasons       []string       `json:"reasons"`
	ConfigUpdates []ConfigUpdate `json:"config_updates"`
}

// Decide computes the plan for a snapshot: signals, priorities, ranking,
// admission and the jobs and config updates that follow. It fails only on
// an invalid configuration or snapshot, with an EInvalid error naming the
// field.
func Decide(cfg Config, snap Snapshot) (*Plan, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := snap.validate(); err != nil {
		return nil, err
	}
	bv, err := budget(&cfg, snap.Now, snap.Ledger)
	if err != nil {
		return nil, flywheel.FieldError("scheduler.budget_time_zone", "%v", err)
	}
	x := newIndex(&snap)
	drafts := collect(&cfg, &snap, x)
	p := &Plan{DecidedAt: snap.Now, Budget: bv, Weights: cfg.weights(snap.Outcomes),
		ConfigUpdates: make([]ConfigUpdate, 0, len(drafts)), Jobs: []flywheel.Job{}, Ledger: []LedgerEntry{}}
	p.Signals = make([]flywheel.Signal, len(drafts))
	p.Candidates = make([]Candidate, len(drafts))
	for i, d := range drafts {
		p.Signals[i], p.Candidates[i] = raise(&cfg, &snap, x, p.Weights.Weights, d)
		p.ConfigUpdates = append(p.ConfigUpdates, x.configUpdates(&cfg, d.key, p.Signals[i].ID)...)
	}
	// Models are distinct, so the order is total and an unstable sort is
	// deterministic.
	slices.SortFunc(p.Candidates, func(a, b Candidate) int {
		return cmp.Or(-cmp.Compare(a.Score, b.Score), compareKeys(a.ModelKey, b.ModelKey))
	})
	s := newScheduler(&cfg, &snap, x, bv.Remaining)
	p.Search = s.admit(p.Candidates)
	p.Capacity = s.cap
	for i := range p.Candidates {
		c := &p.Candidates[i]
		if !c.Admitted {
			continue
		}
		job, err := newJob(snap.Now, c, x.configUpdates(&cfg, c.ModelKey, c.SignalID), p.Signals)
		if err != nil {
			return nil, err
		}
		c.JobID = job.ID
		p.Jobs = append(p.Jobs, job)
		p.Ledger = append(p.Ledger, LedgerEntry{JobID: job.ID, Kind: LedgerReserve, Units: c.EstimatedCost, At: snap.Now})
		p.Budget.Reserved += c.EstimatedCost
	}
	p.Budget.Remaining = p.Budget.Limit - p.Budget.Spent - p.Budget.Reserved
	return p, nil
}

// raise turns a draft into a signal and its candidate.
func raise(cfg *Config, snap *Snapshot, x *index, w Weights, d *draft) (flywheel.Signal, Candidate) {
	in, seconds := x.inputs(cfg, d.key)
	b := Prioritize(cfg, w, in)
	id := SignalID(d.key, snap.Now)
	srcs := sources(d.reasons)
	sig := flywheel.Signal{
		ID:                  id,
		ModelKey:            d.key,
		Sources:             srcs,
		Reasons:             d.reasons,
		Priority:            b.Priority,
		Factors:             b.Factors(),
		Urgency:             b.Level,
		ExpectedImprovement: in.ExpectedImprovement,
		ExpectedCost:        in.ExpectedCost,
		CreatedAt:           snap.Now,
		InsightVersions:     maps.Clone(snap.InsightVersions),
	}
	c := Candidate{
		SignalID:         id,
		ModelKey:         d.key,
		Sources:          srcs,
		Priority:         b.Priority,
		FirstRaised:      snap.Now,
		Urgency:          b.Level,
		Factors:          sig.Factors,
		Resources:        cfg.Scheduler.DefaultResources,
		EstimatedCost:    in.ExpectedCost,
		EstimatedSeconds: seconds,
	}
	if m, ok := x.models[d.key]; ok {
		if m.FirstRaised != nil && m.FirstRaised.Before(snap.Now) {
			c.FirstRaised = *m.FirstRaised
		}
		if m.Resources != nil {
			c.Resources = *m.Resources
		}
	}
	ageDays := snap.Now.Sub(c.FirstRaised).Hours() / 24
	c.Aging = math.Min(cfg.Scheduler.AgingCap, cfg.Scheduler.AgingPerDay*ageDays)
	c.EffectivePriority = math.Min(1, c.Priority+c.Aging)
	c.Score = CompositeScore(cfg, c.EffectivePriority, b.ROI, b.Level, in.ExpectedCost)
	return sig, c
}

// newJob builds the job of an admitted candidate.
func newJob(now time.Time, c *Candidate, updates []ConfigUpdate, signals []flywheel.Signal) (flywheel.Job, error) {
	spec := JobSpec{SignalID: c.SignalID, Priority: c.Priority, Urgency: c.Urgency, ConfigUpdates: updates}
	if spec.ConfigUpdates == nil {
		spec.ConfigUpdates = []ConfigUpdate{}
	}
	i, ok := slices.BinarySearchFunc(signals, c.ModelKey, func(s flywheel.Signal, k flywheel.ModelKey) int {
		return compareKeys(s.ModelKey, k)
	})
	if ok {
		for _, r := range signals[i].Reasons {
			spec.Reasons = append(spec.Reasons, r.Source+"/"+r.Kind)
		}
	}
	raw, err := json.Marshal(spec)
	if err != nil {
		return flywheel.Job{}, fmt.Errorf("encode job spec of %s: %w", c.ModelKey, err)
	}
	return flywheel.Job{
		ID:               JobID(c.SignalID, now),
		ModelKey:         c.ModelKey,
		SignalID:         c.SignalID,
		State:            flywheel.JobAdmitted,
		Priority:         c.Priority,
		Resources:        c.Resources,
		EstimatedCost:    c.EstimatedCost,
		EstimatedSeconds: c.EstimatedSeconds,
		CreatedAt:        now,
		UpdatedAt:        now,
		Spec:             raw,
	}, nil
}
