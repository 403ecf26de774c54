package orchestrator

import (
	"math"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/arpo"
	"github.com/flywheel-ml/flywheel/cils"
)

// t0 is the decision time of the hand-built snapshots.
var t0 = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// tol is the tolerance of the hand computations: they add the same terms
// as the code, but not always in the same order.
const tol = 1e-12

func near(a, b float64) bool { return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b)) }

func key(target, family string) flywheel.ModelKey {
	return flywheel.ModelKey{Target: target, ModelFamily: family}
}

// world builds insights by hand, one model at a time.
type world struct {
	c *cils.Insights
	a *arpo.Insights
}

func newWorld() *world {
	return &world{c: &cils.Insights{Config: cils.DefaultConfig()}, a: &arpo.Insights{}}
}

// degrading flags a model whose drop is rate times the drop threshold.
// The threshold is 0.125, not the default 0.1, so that the rates the
// tests use (1, 1.5, 2) come out exact in binary.
func (w *world) degrading(k flywheel.ModelKey, rate float64) *world {
	w.c.DegradingTargets = append(w.c.DegradingTargets, cils.Degradation{
		ModelKey: k, Reason: "score dropped", Triggers: []string{cils.TriggerDrop},
		Drop: 0.125 * rate, DropThreshold: 0.125, PageHinkleyThreshold: 0.2,
	})
	return w
}

func (w *world) estimate(k flywheel.ModelKey, improvement, cost float64) *world {
	w.c.Estimates = append(w.c.Estimates, cils.Estimate{ModelKey: k, ExpectedImprovement: improvement,
		ExpectedCost: cost, ExpectedDurationSeconds: 1800})
	return w
}

func (w *world) underperforming(k flywheel.ModelKey) *world {
	w.a.UnderperformingPositions = append(w.a.UnderperformingPositions, arpo.Underperformance{ModelKey: k, Reason: "PSR low"})
	return w
}

func (w *world) highPriority(k flywheel.ModelKey) *world {
	w.a.HighPriorityTargets = append(w.a.HighPriorityTargets, arpo.HighPriority{ModelKey: k})
	return w
}

func (w *world) mismatch(k flywheel.ModelKey) *world {
	w.a.RegimeMismatch = append(w.a.RegimeMismatch, arpo.RegimeMismatch{ModelKey: k, Reason: "worse when volatile"})
	return w
}

func (w *world) snapshot() Snapshot {
	return Snapshot{Now: t0, CILS: w.c, ARPO: w.a}
}

// decide runs Decide and fails the test on an error.
func decide(t *testing.T, cfg Config, snap Snapshot) *Plan {
	t.Helper()
	p, err := Decide(cfg, snap)
	if err != nil {
		t.Fatalf("Decide: %v", err)
	}
	return p
}

func signalOf(t *testing.T, p *Plan, k flywheel.ModelKey) flywheel.Signal {
	t.Helper()
	for _, s := range p.Signals {
		if s.ModelKey == k {
			return s
		}
	}
	t.Fatalf("no signal for %s", k)
	return flywheel.Signal{}
}

func candidateOf(t *testing.T, p *Plan, k flywheel.ModelKey) Candidate {
	t.Helper()
	for _, c := range p.Candidates {
		if c.ModelKey == k {
			return c
		}
	}
	t.Fatalf("no candidate for %s", k)
	return Candidate{}
}
