package propagate

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// canaryChange is a change in canary on target A, with B, C and D to
// follow (or none when alone).
func canaryChange(t *testing.T, alone bool) flywheel.ConfigChange {
	t.Helper()
	rec := &Record{UpdateDoc: mustDecode(t, `{"target": "A", "source": "CILS", "updates": {"feature_selection": {"top_n": 5}}}`),
		Rollout: &Rollout{Canary: []string{"A"}, Rest: []string{"B", "C", "D"}, StartedAt: t0, Deadline: t0.Add(7 * 24 * time.Hour)}}
	if alone {
		rec.Rollout.Rest = nil
	}
	c := flywheel.ConfigChange{ID: "cc-1", Target: "A", Source: "CILS", State: flywheel.ChangeCanary}
	rec.store(&c)
	return c
}

// outcomes generates n outcomes per target with improvements drawn
// around mean, measured after at.
func outcomes(r *rand.Rand, targets []string, n int, mean, sd float64, at time.Time) []flywheel.Outcome {
	var out []flywheel.Outcome
	for _, tg := range targets {
		for i := 0; i < n; i++ {
			out = append(out, flywheel.Outcome{SignalID: fmt.Sprintf("s-%s-%d-%d", tg, i, r.IntN(1e9)), ModelKey: flywheel.ModelKey{Target: tg, ModelFamily: "ridge"},
				Kind: flywheel.OutcomeTraining, Improvement: mean + sd*r.NormFloat64(), MeasuredAt: at.Add(time.Duration(i+1) * time.Hour)})
		}
	}
	return out
}

// fixed returns outcomes of target with the given improvements.
func fixed(target string, improvements ...float64) []flywheel.Outcome {
	out := make([]flywheel.Outcome, len(improvements))
	for i, x := range improvements {
		out[i] = flywheel.Outcome{SignalID: fmt.Sprintf("f-%s-%d", target, i), ModelKey: flywheel.ModelKey{Target: target, ModelFamily: "ridge"},
			Kind: flywheel.OutcomeTraining, Improvement: x, MeasuredAt: t0.Add(time.Hour)}
	}
	return out
}

func TestEvaluateCanary(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 7))
	later := t0.Add(24 * time.Hour)
	past := t0.Add(8 * 24 * time.Hour)
	rest := []string{"B", "C", "D"}
	for _, tc := range []struct {
		name  string
		alone bool
		outs  []flywheel.Outcome
		now   time.Time
		want  Verdict
	}{
		{"canary better", false, append(outcomes(r, []string{"A"}, 4, 0.05, 0.01, t0), outcomes(r, rest, 2, 0.01, 0.01, t0)...), later, VerdictPromote},
		{"canary clearly worse", false, append(outcomes(r, []string{"A"}, 4, -0.05, 0.01, t0), outcomes(r, rest, 2, 0.02, 0.01, t0)...), later, VerdictRollback},
		{"too few canary outcomes", false, append(outcomes(r, []string{"A"}, 1, 0.05, 0, t0), outcomes(r, rest, 2, 0.01, 0.01, t0)...), later, VerdictWait},
		{"too few at the deadline", false, outcomes(r, rest, 2, 0.01, 0.01, t0), past, VerdictRollback},
		{"inconclusive", false, append(fixed("A", -0.1, 0.3, 0.0), fixed("B", 0.0, 0.2, 0.1)...), later, VerdictWait},
		{"inconclusive at the deadline", false, append(fixed("A", -0.1, 0.3, 0.0), fixed("B", 0.0, 0.2, 0.1)...), past, VerdictRollback},
		{"alone and better than before", true, outcomes(r, []string{"A"}, 3, 0.03, 0.01, t0), later, VerdictPromote},
		{"alone and worse than before", true, outcomes(r, []string{"A"}, 3, -0.03, 0.01, t0), later, VerdictRollback},
		{"outcomes before the start do not count", false, append(outcomes(r, []string{"A"}, 4, 0.05, 0.01, t0.Add(-48*time.Hour)), outcomes(r, rest, 2, 0.01, 0.01, t0)...), later, VerdictWait},
		{"other targets do not count", false, append(outcomes(r, []string{"Z"}, 4, 0.05, 0.01, t0), outcomes(r, rest, 2, 0.01, 0.01, t0)...), later, VerdictWait},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := EvaluateCanary(canaryChange(t, tc.alone), tc.outs, tc.now, CanaryPolicy{MinOutcomes: 2, Kind: flywheel.OutcomeTraining})
			if err != nil {
				t.Fatal(err)
			}
			if d.Verdict != tc.want {
				t.Errorf("verdict = %s (%s), want %s", d.Verdict, d.Reason, tc.want)
			}
		})
	}
	live := outcomes(r, []string{"A", "B", "C", "D"}, 3, 0.05, 0.01, t0)
	for i := range live {
		live[i].Kind = flywheel.OutcomeLive
	}
	if d, _ := EvaluateCanary(canaryChange(t, false), live, later, CanaryPolicy{MinOutcomes: 2, Kind: flywheel.OutcomeTraining}); d.Verdict != VerdictWait {
		t.Errorf("live outcomes judged a training canary: %+v", d)
	}
	c := canaryChange(t, false)
	c.State = flywheel.ChangeApplied
	if _, err := EvaluateCanary(c, nil, later, CanaryPolicy{}); flywheel.Code(err) != flywheel.EConflict {
		t.Errorf("an applied change was judged: %v", err)
	}
}

var canaryTargets = []string{"fwd_A", "fwd_B", "fwd_C", "fwd_D", "fwd_E", "fwd_F", "fwd_G", "fwd_H"}

// startCanary applies a learned feature-selection update to the eight
// targets and checks that only the canary share got it.
func startCanary(t *testing.T, f *fixture) (flywheel.ConfigChange, *Record) {
	t.Helper()
	doc := mustDecode(t, `{"target": "fwd_A", "source": "CILS", "updates": {"feature_selection": {"top_n": 25}}}`)
	c, err := f.p.Apply(context.Background(), doc, "loop", ApplyOptions{Targets: canaryTargets, SignalIDs: []string{"sig-1"}})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := RecordOf(c)
	if err != nil {
		t.Fatal(err)
	}
	if c.State != flywheel.ChangeCanary || len(rec.Rollout.Canary) != 2 || rec.Rollout.Canary[0] != "fwd_A" || len(rec.Rollout.Rest) != 6 {
		t.Fatalf("change %s rollout %+v, want canary of 2 starting with fwd_A", c.State, rec.Rollout)
	}
	files := readFiles(t, f.dir)
	for _, tg := range canaryTargets {
		_, written := files[FeatureSelectionFile(tg)]
		if want := slices.Contains(rec.Rollout.Canary, tg); written != want {
			t.Errorf("%s written = %v, want %v", tg, written, want)
		}
	}
	return c, rec
}

// putOutcomes stores generated outcomes.
func putOutcomes(t *testing.T, f *fixture, outs []flywheel.Outcome) {
	t.Helper()
	for _, o := range outs {
		if _, err := f.store.PutOutcome(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCanaryPromote(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t, Config{}, nil)
	c, rec := startCanary(t, f)
	r := rand.New(rand.NewPCG(1, 2))
	f.clock.advance(48 * time.Hour)
	putOutcomes(t, f, append(outcomes(r, rec.Rollout.Canary, 2, 0.04, 0.01, t0), outcomes(r, rec.Rollout.Rest, 1, 0.01, 0.01, t0)...))
	res, err := f.p.EvaluateCanaries(ctx, "flywheel")
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Decision.Verdict != VerdictPromote || res[0].Change.State != flywheel.ChangeApplied {
		t.Fatalf("results = %+v, want %s promoted", res, c.ID)
	}
	files := readFiles(t, f.dir)
	for _, tg := range canaryTargets {
		if !strings.Contains(files[FeatureSelectionFile(tg)], "top_n: 25") {
			t.Errorf("%s not written after promotion: %q", tg, files[FeatureSelectionFile(tg)])
		}
	}
	// Rolling back the promoted change undoes all eight.
	if _, err := f.p.Rollback(ctx, c.ID, "alice", "changed my mind"); err != nil {
		t.Fatal(err)
	}
	if files := readFiles(t, f.dir); len(files) != 0 {
		t.Errorf("files left after rollback: %v", files)
	}
}

func TestCanaryRollbackAndQuarantine(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t, Config{}, nil)
	c, rec := startCanary(t, f)
	r := rand.New(rand.NewPCG(3, 4))
	f.clock.advance(48 * time.Hour)
	putOutcomes(t, f, append(outcomes(r, rec.Rollout.Canary, 3, -0.05, 0.01, t0), outcomes(r, rec.Rollout.Rest, 1, 0.02, 0.01, t0)...))
	res, err := f.p.EvaluateCanaries(ctx, "flywheel")
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Decision.Verdict != VerdictRollback {
		t.Fatalf("results = %+v, want a rollback", res)
	}
	got, err := f.store.ConfigChange(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != flywheel.ChangeRolledBack || !got.Quarantined {
		t.Errorf("change is %s, quarantined %v; want rolled back and quarantined", got.State, got.Quarantined)
	}
	if files := readFiles(t, f.dir); len(files) != 0 {
		t.Errorf("the canary's files are still there: %v", files)
	}
	// The loop generates the same update again: refused.
	doc := mustDecode(t, `{"target": "fwd_A", "source": "CILS", "updates": {"feature_selection": {"top_n": 25}}}`)
	_, err = f.p.Apply(ctx, doc, "loop", ApplyOptions{Targets: canaryTargets})
	wantCode(t, err, flywheel.EConflict)
	if !strings.Contains(err.Error(), "quarantine clear "+c.ID) {
		t.Errorf("error %q does not say how to clear it", err)
	}
	// A different update for the target is not quarantined.
	other := mustDecode(t, `{"target": "fwd_A", "source": "CILS", "updates": {"feature_selection": {"top_n": 30}}}`)
	if _, err := f.p.Apply(ctx, other, "loop", ApplyOptions{}); err != nil {
		t.Errorf("a different update was refused: %v", err)
	}
	if _, err := f.p.ClearQuarantine(ctx, c.ID, "alice", "the data was bad"); err != nil {
		t.Fatal(err)
	}
	_, err = f.p.ClearQuarantine(ctx, c.ID, "alice", "")
	wantCode(t, err, flywheel.EConflict)
	audit, _ := f.store.AuditLog(ctx, 0, 1)
	if audit[0].Action != ActionQuarantineClear || audit[0].Actor != "alice" {
		t.Errorf("last audit entry %+v", audit[0])
	}
}

func TestCanaryDeadline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t, Config{CanaryDeadline: 72 * time.Hour}, nil)
	c, _ := startCanary(t, f)
	f.clock.advance(48 * time.Hour)
	res, err := f.p.EvaluateCanaries(ctx, "flywheel")
	if err != nil || len(res) != 1 || res[0].Decision.Verdict != VerdictWait {
		t.Fatalf("before the deadline: %+v, %v; want wait", res, err)
	}
	f.clock.advance(25 * time.Hour)
	res, err = f.p.EvaluateCanaries(ctx, "flywheel")
	if err != nil || len(res) != 1 || res[0].Decision.Verdict != VerdictRollback {
		t.Fatalf("after the deadline: %+v, %v; want rollback", res, err)
	}
	got, _ := f.store.ConfigChange(ctx, c.ID)
	rec, _ := RecordOf(got)
	if !got.Quarantined || rec.Decision == nil || !strings.Contains(rec.Decision.Reason, "deadline") {
		t.Errorf("change %+v, decision %+v", got, rec.Decision)
	}
}

// TestCanaryAdoption checks that a canary outcome whose run did not use
// the change (another config hash) is left out.
func TestCanaryAdoption(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t, Config{}, nil)
	_, rec := startCanary(t, f)
	r := rand.New(rand.NewPCG(5, 6))
	f.clock.advance(48 * time.Hour)
	outs := outcomes(r, rec.Rollout.Canary, 2, 0.04, 0.01, t0)
	for i := range outs {
		outs[i].RunID = fmt.Sprintf("run-%d", i)
		finished := t0.Add(2 * time.Hour)
		run := flywheel.Run{RunID: outs[i].RunID, ModelKey: outs[i].ModelKey, Status: flywheel.RunSucceeded,
			StartedAt: t0.Add(time.Hour), FinishedAt: &finished, Metrics: map[string]float64{"validation_score": 0.1}, Config: map[string]any{"config_hash": "sha256:stale"}}
		if _, err := f.store.PutRuns(ctx, []flywheel.Run{run}); err != nil {
			t.Fatal(err)
		}
	}
	putOutcomes(t, f, append(outs, outcomes(r, rec.Rollout.Rest, 1, 0.01, 0.01, t0)...))
	res, err := f.p.EvaluateCanaries(ctx, "flywheel")
	if err != nil || len(res) != 1 || res[0].Decision.Verdict != VerdictWait || res[0].Decision.Canary.N != 0 {
		t.Fatalf("results %+v, %v; want wait with no canary outcome counted", res, err)
	}
	want, err := ConfigHash(f.dir, "fwd_A")
	if err != nil {
		t.Fatal(err)
	}
	if rec.ConfigHashes["fwd_A"] != want {
		t.Errorf("recorded hash %s, ConfigHash %s", rec.ConfigHashes["fwd_A"], want)
	}
}

func TestCanaryInFlightAndRepeat(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t, Config{}, nil)
	c, _ := startCanary(t, f)
	again := mustDecode(t, `{"target": "fwd_A", "source": "CILS", "updates": {"feature_selection": {"top_n": 25}}}`)
	same, err := f.p.Apply(ctx, again, "loop", ApplyOptions{Targets: canaryTargets})
	if err != nil || same.ID != c.ID {
		t.Errorf("the same update again gave %s, %v; want %s", same.ID, err, c.ID)
	}
	other := mustDecode(t, `{"target": "fwd_H", "source": "ARPO", "updates": {"data_sampling": {"regime_weight": 2}}}`)
	_, err = f.p.Apply(ctx, other, "loop", ApplyOptions{})
	wantCode(t, err, flywheel.EConflict)
	if !strings.Contains(err.Error(), c.ID) {
		t.Errorf("error %q does not name the change in the way", err)
	}
	human := mustDecode(t, `{"target": "fwd_H", "source": "human", "updates": {"data_sampling": {"regime_weight": 2}}}`)
	if _, err := f.p.Apply(ctx, human, "alice", ApplyOptions{}); err != nil {
		t.Errorf("a person's update was held up by a canary: %v", err)
	}
}

func TestApprovalMode(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t, Config{Approval: true}, nil)
	doc := mustDecode(t, `{"target": "fwd_A", "source": "CILS", "updates": {"feature_selection": {"top_n": 25}}}`)
	c, err := f.p.Apply(ctx, doc, "loop", ApplyOptions{Targets: canaryTargets})
	if err != nil {
		t.Fatal(err)
	}
	if c.State != flywheel.ChangeProposed || !strings.Contains(c.Diff, "+top_n: 25") {
		t.Fatalf("change %s with diff %q, want proposed with its diff", c.State, c.Diff)
	}
	if files := readFiles(t, f.dir); len(files) != 0 {
		t.Fatalf("a proposal wrote %v", files)
	}
	_, err = f.p.Rollback(ctx, c.ID, "alice", "")
	wantCode(t, err, flywheel.EConflict)
	if c, err = f.p.Approve(ctx, c.ID, "alice", ""); err != nil || c.State != flywheel.ChangeCanary {
		t.Fatalf("approve: %s, %v", c.State, err)
	}
	if c, err = f.p.Approve(ctx, c.ID, "alice", ""); err != nil || c.State != flywheel.ChangeApplied {
		t.Fatalf("approve the canary: %s, %v", c.State, err)
	}
	if n := len(readFiles(t, f.dir)); n != len(canaryTargets) {
		t.Errorf("%d files after promotion, want %d", n, len(canaryTargets))
	}
	other := mustDecode(t, `{"target": "fwd_B", "source": "ARPO", "updates": {"data_sampling": {"regime_weight": 2}}}`)
	p2, err := f.p.Apply(ctx, other, "loop", ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p2, err = f.p.Reject(ctx, p2.ID, "alice", "not now"); err != nil || p2.State != flywheel.ChangeRejected {
		t.Fatalf("reject: %s, %v", p2.State, err)
	}
	_, err = f.p.Approve(ctx, p2.ID, "alice", "")
	wantCode(t, err, flywheel.EConflict)
	human := mustDecode(t, `{"target": "fwd_B", "source": "human", "updates": {"data_sampling": {"regime_weight": 2}}}`)
	if h, err := f.p.Apply(ctx, human, "alice", ApplyOptions{}); err != nil || h.State != flywheel.ChangeApplied {
		t.Errorf("a person's update in approval mode: %s, %v; want applied at once", h.State, err)
	}
	audit, _ := f.store.AuditLog(ctx, 0, 100)
	var actions []string
	for _, e := range slices.Backward(audit) {
		actions = append(actions, e.Actor+":"+e.Action)
	}
	want := []string{"loop:" + ActionPropose, "alice:" + ActionApprove, "alice:" + ActionPromote, "loop:" + ActionPropose,
		"alice:" + ActionReject, "alice:" + ActionApply}
	if !slices.Equal(actions, want) {
		t.Errorf("audit = %v, want %v", actions, want)
	}
}

func TestSplitCanary(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		n     int
		share float64
		want  int
	}{{1, 0.25, 1}, {3, 0.25, 1}, {4, 0.25, 1}, {8, 0.25, 2}, {9, 0.25, 2}, {10, 0.5, 5}, {4, 1, 4}} {
		targets := make([]string, tc.n)
		for i := range targets {
			targets[i] = fmt.Sprintf("t%d", i)
		}
		canary, rest := splitCanary(targets, canarySize(tc.n, tc.share), "seed")
		if len(canary) != tc.want || len(rest) != tc.n-tc.want || canary[0] != "t0" {
			t.Errorf("n %d share %g: canary %v rest %v, want %d canary starting with t0", tc.n, tc.share, canary, rest, tc.want)
		}
	}
}

// TestCanaryChoosesTargetsThatChange checks that a target that already
// holds the values, or whose keys are pinned, is not made a canary: its
// outcomes would say nothing about the change.
func TestCanaryChoosesTargetsThatChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t, Config{}, map[string]string{FeatureSelectionFile("fwd_A"): "target: fwd_A\ntop_n: 25\n"})
	for _, tg := range []string{"fwd_B", "fwd_E"} {
		if _, err := f.p.SetPin(ctx, flywheel.Pin{File: FeatureSelectionFile(tg), Key: "top_n", Value: "9", Reason: "desk"}, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	doc := mustDecode(t, `{"target": "fwd_A", "source": "CILS", "updates": {"feature_selection": {"top_n": 25}}}`)
	c, err := f.p.Apply(ctx, doc, "loop", ApplyOptions{Targets: []string{"fwd_B", "fwd_C", "fwd_D"}})
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := RecordOf(c)
	if c.State != flywheel.ChangeCanary || len(rec.Rollout.Canary) != 1 || rec.Rollout.Canary[0] == "fwd_A" || rec.Rollout.Canary[0] == "fwd_B" {
		t.Errorf("state %s, canary %v; want one canary among fwd_C and fwd_D", c.State, rec.Rollout.Canary)
	}
	// An update that pins hold back entirely is recorded once, however
	// often the loop generates it.
	held := mustDecode(t, `{"target": "fwd_E", "source": "CILS", "updates": {"feature_selection": {"top_n": 30}}}`)
	for i := 0; i < 3; i++ {
		c, err = f.p.Apply(ctx, held, "loop", ApplyOptions{})
		if i == 0 && (err != nil || c.State != flywheel.ChangeApplied || len(c.HeldByPins) != 1) {
			t.Fatalf("held update: %s %v, %v", c.State, c.HeldByPins, err)
		}
		if i > 0 && err != ErrNoChange {
			t.Errorf("held update again: %v, want ErrNoChange", err)
		}
	}
}
