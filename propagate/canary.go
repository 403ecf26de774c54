package propagate

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// A learned change is written first for a canary share of its targets.
// The canary targets' outcomes (what their retrains achieved, measured
// after the change started) are then compared with the outcomes of the
// rest, which still train on the old config, or with zero improvement
// when the change has no other target:
//
//   - the canary's mean improvement is at least the rest's: promote;
//   - it is worse by more than one standard error of the difference:
//     roll back (and quarantine);
//   - worse but within the noise, or too few outcomes yet: wait, until
//     the deadline, after which the change is rolled back: a change that
//     cannot show it helps does not stay half rolled out.

// worseZ is how many standard errors worse the canary must be to be
// rolled back before its deadline.
const worseZ = 1.0

// canarySize is the number of canary targets out of n: the share,
// rounded down, at least one.
func canarySize(n int, share float64) int {
	k := int(math.Floor(share*float64(n) + 1e-9))
	return min(max(k, 1), n)
}

// splitCanary orders targets for a canary: the first stays first (the
// update's own target: its signal asked for a retrain, so its outcome
// comes first), the others follow in an order drawn from seed (the
// change's id), so that the same targets are not always the ones to try
// changes. The first k are the canary.
func splitCanary(targets []string, k int, seed string) (canary, rest []string) {
	if len(targets) == 0 {
		return nil, nil
	}
	others := slices.Clone(targets[1:])
	rank := func(t string) string {
		sum := sha256.Sum256([]byte(seed + "|" + t))
		return string(sum[:])
	}
	slices.SortFunc(others, func(a, b string) int { return strings.Compare(rank(a), rank(b)) })
	ordered := append([]string{targets[0]}, others...)
	k = min(max(k, 1), len(ordered))
	canary, rest = ordered[:k], slices.Clone(ordered[k:])
	slices.Sort(rest)
	return canary, rest
}

// chooseCanary picks a learned change's canary among the targets the
// change would actually alter: a target that already holds the values,
// or whose keys are all pinned, would tell nothing. The canary's size is
// the share of all the change's targets. Every other target is in the
// rest, to which promotion writes (and checks the pins again).
func (p *Propagator) chooseCanary(ctx context.Context, rec *Record, seed string) (canary, rest []string, err error) {
	var changing []string
	for _, t := range rec.Targets {
		pl, err := p.planTargets(ctx, rec, []string{t})
		if err != nil {
			return nil, nil, err
		}
		if len(pl.changed()) > 0 {
			changing = append(changing, t)
		}
	}
	if len(changing) == 0 {
		changing = rec.Targets[:1]
	}
	canary, _ = splitCanary(changing, canarySize(len(rec.Targets), p.cfg.CanaryShare), seed)
	for _, t := range rec.Targets {
		if !slices.Contains(canary, t) {
			rest = append(rest, t)
		}
	}
	slices.Sort(rest)
	return canary, rest, nil
}

// checkInFlight refuses a learned change on a target that another
// change's rollout holds: two canaries on one target could not be told
// apart by its outcomes.
func (p *Propagator) checkInFlight(ctx context.Context, self string, targets []string) error {
	canaries, err := p.store.ConfigChanges(ctx, flywheel.ConfigChangeFilter{States: []flywheel.ConfigChangeState{flywheel.ChangeCanary}, Limit: 10000})
	if err != nil {
		return err
	}
	for _, c := range canaries {
		rec, err := RecordOf(c)
		if c.ID == self || err != nil || rec.Rollout == nil {
			continue
		}
		for _, t := range rec.Rollout.allTargets() {
			if slices.Contains(targets, t) {
				return &flywheel.Error{Code: flywheel.EConflict, Err: ErrInRollout, Message: fmt.Sprintf(
					"target %s is in the rollout of change %s (canary until %s); wait for it, approve it or roll it back first",
					t, c.ID, rec.Rollout.Deadline.Format(time.RFC3339))}
			}
		}
	}
	return nil
}

// Verdict is what a canary evaluation decides.
type Verdict string

// Verdicts.
const (
	VerdictPromote  Verdict = "promote"
	VerdictRollback Verdict = "rollback"
	VerdictWait     Verdict = "wait"
)

// CanaryPolicy is how canaries are judged.
type CanaryPolicy struct {
	// MinOutcomes is how many outcomes each side needs.
	MinOutcomes int
	// Kind is the outcome kind judged on; empty means every kind.
	Kind string
}

// Group summarises one side of a canary.
type Group struct {
	Targets []string `json:"targets"`
	N       int      `json:"n"`
	Mean    float64  `json:"mean"`
	// Var is the sample variance (0 with fewer than two outcomes).
	Var float64 `json:"var"`
}

// CanaryDecision is the verdict on a canary with its evidence.
type CanaryDecision struct {
	Verdict Verdict `json:"verdict"`
	Reason  string  `json:"reason"`
	Canary  Group   `json:"canary"`
	// Rest is empty when the change has no target besides the canary:
	// the canary is then compared with zero improvement.
	Rest      Group     `json:"rest"`
	Deadline  time.Time `json:"deadline"`
	DecidedAt time.Time `json:"decided_at"`
}

// EvaluateCanary judges a change in canary on outcomes, at now. It is a
// pure function: the outcomes are those of the change's targets (others
// are ignored), and only those measured after the canary started count.
func EvaluateCanary(c flywheel.ConfigChange, outcomes []flywheel.Outcome, now time.Time, pol CanaryPolicy) (CanaryDecision, error) {
	rec, err := RecordOf(c)
	if err != nil {
		return CanaryDecision{}, err
	}
	if c.State != flywheel.ChangeCanary || rec.Rollout == nil {
		return CanaryDecision{}, stateError(c, "judged as a canary", "canary")
	}
	r := rec.Rollout
	var can, rest []float64
	for _, o := range outcomes {
		if o.MeasuredAt.Before(r.StartedAt) || pol.Kind != "" && o.Kind != pol.Kind {
			continue
		}
		switch {
		case slices.Contains(r.Canary, o.Target):
			can = append(can, o.Improvement)
		case slices.Contains(r.Rest, o.Target):
			rest = append(rest, o.Improvement)
		}
	}
	d := CanaryDecision{Canary: summarize(r.Canary, can), Rest: summarize(r.Rest, rest), Deadline: r.Deadline, DecidedAt: now}
	minN := max(pol.MinOutcomes, 1)
	late := !now.Before(r.Deadline)
	if d.Canary.N < minN || len(r.Rest) > 0 && d.Rest.N < minN {
		counts := fmt.Sprintf("canary %d, rest %d; %d needed on each side", d.Canary.N, d.Rest.N, minN)
		d.Verdict, d.Reason = VerdictWait, "too few outcomes yet ("+counts+")"
		if late {
			d.Verdict, d.Reason = VerdictRollback, "the deadline passed with too few outcomes ("+counts+")"
		}
		return d, nil
	}
	base, variance := 0.0, d.Canary.Var/float64(d.Canary.N)
	if len(r.Rest) > 0 {
		base, variance = d.Rest.Mean, variance+d.Rest.Var/float64(d.Rest.N)
	}
	diff, se := d.Canary.Mean-base, math.Sqrt(variance)
	switch {
	case diff >= 0:
		d.Verdict, d.Reason = VerdictPromote, fmt.Sprintf("the canary improved %.4g on average, at least as much as %s (%.4g)", d.Canary.Mean, baseName(r), base)
	case diff < -worseZ*se:
		d.Verdict, d.Reason = VerdictRollback, fmt.Sprintf("the canary improved %.4g on average, worse than %s (%.4g) by more than %.0f standard error (%.4g)", d.Canary.Mean, baseName(r), base, worseZ, se)
	case late:
		d.Verdict, d.Reason = VerdictRollback, fmt.Sprintf("the deadline passed and the canary (%.4g) is still not as good as %s (%.4g)", d.Canary.Mean, baseName(r), base)
	default:
		d.Verdict, d.Reason = VerdictWait, fmt.Sprintf("inconclusive: the canary (%.4g) is behind %s (%.4g) by less than the noise (%.4g)", d.Canary.Mean, baseName(r), base, se)
	}
	return d, nil
}

func baseName(r *Rollout) string {
	if len(r.Rest) == 0 {
		return "no change"
	}
	return "the rest"
}

func summarize(targets []string, xs []float64) Group {
	g := Group{Targets: targets, N: len(xs)}
	if g.N == 0 {
		return g
	}
	for _, x := range xs {
		g.Mean += x
	}
	g.Mean /= float64(g.N)
	if g.N > 1 {
		for _, x := range xs {
			g.Var += (x - g.Mean) * (x - g.Mean)
		}
		g.Var /= float64(g.N - 1)
	}
	return g
}

// CanaryResult is what EvaluateCanaries did with one change.
type CanaryResult struct {
	ChangeID string         `json:"change_id"`
	Decision CanaryDecision `json:"decision"`
	// Change is the change after the decision was carried out.
	Change flywheel.ConfigChange `json:"change"`
}

// EvaluateCanaries judges every change in canary on the outcomes in the
// store and carries the verdicts out under actor's name (the loop's).
// A canary target's outcome counts only when its run used the change:
// a run that reports a config_hash other than the change's is left out.
func (p *Propagator) EvaluateCanaries(ctx context.Context, actor string) ([]CanaryResult, error) {
	if err := checkActor(actor); err != nil {
		return nil, err
	}
	changes, err := p.store.ConfigChanges(ctx, flywheel.ConfigChangeFilter{States: []flywheel.ConfigChangeState{flywheel.ChangeCanary}, Limit: 10000})
	if err != nil {
		return nil, err
	}
	pol := CanaryPolicy{MinOutcomes: p.cfg.CanaryMinOutcomes, Kind: p.cfg.CanaryOutcomeKind}
	var out []CanaryResult
	var errs []error
	for _, c := range slices.Backward(changes) { // oldest first
		res, err := p.evaluateOne(ctx, c, actor, pol)
		if err != nil {
			// One change that cannot be carried out (a file broken by
			// hand) must not hold up the others.
			p.log.Error("canary evaluation", keyChange, c.ID, keyErr, err)
			errs = append(errs, fmt.Errorf("canary %s: %w", c.ID, err))
			continue
		}
		out = append(out, res)
	}
	return out, errors.Join(errs...)
}

func (p *Propagator) evaluateOne(ctx context.Context, c flywheel.ConfigChange, actor string, pol CanaryPolicy) (CanaryResult, error) {
	outcomes, err := p.canaryOutcomes(ctx, c)
	if err != nil {
		return CanaryResult{}, err
	}
	d, err := EvaluateCanary(c, outcomes, p.now().UTC(), pol)
	if err != nil {
		return CanaryResult{}, err
	}
	res := CanaryResult{ChangeID: c.ID, Decision: d, Change: c}
	switch d.Verdict {
	case VerdictPromote:
		res.Change, err = p.promoteID(ctx, c.ID, actor, &d)
	case VerdictRollback:
		res.Change, err = p.rollback(ctx, c.ID, actor, "canary: "+d.Reason, &d)
	}
	p.log.Info("canary evaluated", keyChange, c.ID, keyVerdict, string(d.Verdict), keyReason, d.Reason)
	return res, err
}

// canaryOutcomes reads the outcomes that count for a canary.
func (p *Propagator) canaryOutcomes(ctx context.Context, c flywheel.ConfigChange) ([]flywheel.Outcome, error) {
	rec, err := RecordOf(c)
	if err != nil || rec.Rollout == nil {
		return nil, err
	}
	all, err := p.store.Outcomes(ctx, flywheel.OutcomeFilter{Kind: p.cfg.CanaryOutcomeKind, Since: rec.Rollout.StartedAt, Limit: 10000})
	if err != nil {
		return nil, err
	}
	var out []flywheel.Outcome
	for _, o := range all {
		if want, ok := rec.ConfigHashes[o.Target]; ok && slices.Contains(rec.Rollout.Canary, o.Target) && o.RunID != "" {
			run, err := p.store.Run(ctx, o.RunID)
			if err != nil && flywheel.Code(err) != flywheel.ENotFound {
				return nil, err
			}
			if got, ok := run.Config["config_hash"].(string); err == nil && ok && got != want {
				continue // the run trained on another config than the canary's
			}
		}
		out = append(out, o)
	}
	return out, nil
}

// Promote writes a change in canary to the rest of its targets now,
// whatever its outcomes say (a person's decision; Approve does the same).
func (p *Propagator) Promote(ctx context.Context, id, actor string) (flywheel.ConfigChange, error) {
	if err := checkActor(actor); err != nil {
		return flywheel.ConfigChange{}, err
	}
	return p.promoteID(ctx, id, actor, nil)
}

func (p *Propagator) promoteID(ctx context.Context, id, actor string, d *CanaryDecision) (flywheel.ConfigChange, error) {
	var out flywheel.ConfigChange
	err := p.locked(ctx, func() error {
		c, rec, err := p.change(ctx, id)
		if err != nil {
			return err
		}
		if c.State != flywheel.ChangeCanary {
			return stateError(c, "promoted", "canary")
		}
		why := "promoted by " + actor
		if d != nil {
			rec.Decision, why = d, d.Reason
		}
		out, err = p.promote(ctx, c, rec, actor, why)
		return err
	})
	return out, err
}

// promote writes the change for the targets after the canary; pins are
// checked again, since a person may have pinned a key meanwhile.
func (p *Propagator) promote(ctx context.Context, c flywheel.ConfigChange, rec *Record, actor, why string) (flywheel.ConfigChange, error) {
	now := p.now().UTC()
	pl, err := p.planTargets(ctx, rec, rec.Rollout.Rest)
	if err != nil {
		return c, err
	}
	rec.Edits = append(rec.Edits, pl.edits...)
	rec.Created = append(rec.Created, createdPaths(pl)...)
	hashes, err := p.hashesAfter(pl, rec.Rollout.Rest)
	if err != nil {
		return c, err
	}
	if rec.ConfigHashes == nil {
		rec.ConfigHashes = map[string]string{}
	}
	for t, h := range hashes {
		rec.ConfigHashes[t] = h
	}
	rec.Rollout.PromotedAt = &now
	for _, f := range changedPaths(pl) {
		if !slices.Contains(c.Files, f) {
			c.Files = append(c.Files, f)
		}
	}
	for _, h := range pl.held {
		if !slices.Contains(c.HeldByPins, h) {
			c.HeldByPins = append(c.HeldByPins, h)
		}
	}
	c.Diff += planDiff(pl)
	c.State, c.UpdatedAt = flywheel.ChangeApplied, now
	o := &op{}
	o.stage(pl, backupIDFor(c.ID, "p"), c.ID, now)
	rec.store(&c)
	o.Changes = []flywheel.ConfigChange{c}
	o.Audit = p.audit(actor, ActionPromote, c.ID, map[string]any{"reason": why, "targets": rec.Rollout.Rest,
		"files": changedPaths(pl), "held_by_pins": pl.held, "decision": rec.Decision})
	o.Commit = commitMessage(&c, nil, fmt.Sprintf("promote %s to %s: %s", c.ID, strings.Join(rec.Rollout.Rest, ", "), why))
	return c, p.commit(ctx, o)
}
