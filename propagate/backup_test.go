package propagate

import (
	"context"
	"fmt"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
)

func humanTopN(t *testing.T, target string, n int) UpdateDoc {
	t.Helper()
	return mustDecode(t, fmt.Sprintf(`{"target": %q, "source": "human", "updates": {"feature_selection": {"top_n": %d}}}`, target, n))
}

func TestBackupsAndRetention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	orig := map[string]string{FeatureSelectionFile("A"): "# hand\ntarget: A\ntop_n: 1\n"}
	f := setup(t, Config{BackupRetention: 3}, orig)
	var changes []flywheel.ConfigChange
	for i := 2; i <= 7; i++ {
		f.clock.advance(time.Minute)
		c, err := f.p.Apply(ctx, humanTopN(t, "A", i), "alice", ApplyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		changes = append(changes, c)
	}
	list, err := f.p.Backups(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, b := range list {
		ids = append(ids, b.ID)
	}
	want := []string{changes[5].BackupID, changes[4].BackupID, changes[3].BackupID, baselineID(FeatureSelectionFile("A"))}
	if !reflect.DeepEqual(ids, want) {
		t.Errorf("backups = %v, want the last 3 and the baseline %v", ids, want)
	}
	if list[0].ChangeID != changes[5].ID || list[0].Files[0] != FeatureSelectionFile("A") || !list[3].Baseline {
		t.Errorf("backup info %+v", list)
	}
	// Restore the backup taken before the fifth change: top_n 5.
	res, err := f.p.Restore(ctx, changes[4].BackupID, "bob", "too many features")
	if err != nil {
		t.Fatal(err)
	}
	if got := readFiles(t, f.dir)[FeatureSelectionFile("A")]; got != "# hand\ntarget: A\ntop_n: 5\n" {
		t.Errorf("after restore:\n%s", got)
	}
	if !reflect.DeepEqual(res.RolledBack, []string{changes[5].ID, changes[4].ID}) {
		t.Errorf("rolled back %v, want the two later changes", res.RolledBack)
	}
	for _, id := range res.RolledBack {
		if c, _ := f.store.ConfigChange(ctx, id); c.State != flywheel.ChangeRolledBack || !c.Quarantined {
			t.Errorf("%s is %s, quarantined %v", id, c.State, c.Quarantined)
		}
	}
	// The restore took its own backup: restoring that undoes it.
	if _, err := f.p.Restore(ctx, res.BackupID, "bob", "undo"); err != nil {
		t.Fatal(err)
	}
	if got := readFiles(t, f.dir)[FeatureSelectionFile("A")]; !strings.Contains(got, "top_n: 7") {
		t.Errorf("after undoing the restore:\n%s", got)
	}
	_, err = f.p.Restore(ctx, "bk-nope", "bob", "")
	wantCode(t, err, flywheel.ENotFound)
}

func TestRollbackToBaseline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	orig := map[string]string{
		FileLeakage:                "# risk team\nthresholds:\n  threshold: 0.3\n",
		FeatureSelectionFile("A"):  "target: A\ntop_n: 10\n",
		"training/notes_ignored.x": "not a config file",
	}
	f := setup(t, Config{}, orig)
	for _, d := range []string{
		`{"target": "A", "source": "human", "updates": {"leakage_detection": {"thresholds": {"threshold": 0.2}}, "feature_selection": {"top_n": 20}}}`,
		`{"target": "B", "source": "CILS", "updates": {"feature_selection": {"top_n": 30}, "training": {"cross_validation_folds": 4}}}`,
	} {
		if _, err := f.p.Apply(ctx, mustDecode(t, d), "loop", ApplyOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.p.SetPin(ctx, flywheel.Pin{File: FeatureSelectionFile("A"), Key: "top_n", Value: "15", Reason: "desk"}, "alice"); err != nil {
		t.Fatal(err)
	}
	res, err := f.p.RollbackToBaseline(ctx, "alice", "start over")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		FileLeakage:                orig[FileLeakage],
		FeatureSelectionFile("A"):  "target: A\ntop_n: 15\n", // the pin stands
		"training/notes_ignored.x": orig["training/notes_ignored.x"],
	}
	if got := readFiles(t, f.dir); !reflect.DeepEqual(got, want) {
		t.Errorf("after baseline:\n%v\nwant\n%v", got, want)
	}
	if len(res.RolledBack) != 2 || len(res.Repinned) != 1 {
		t.Errorf("result %+v, want 2 changes rolled back and 1 pin written again", res)
	}
	changes, _ := f.store.ConfigChanges(ctx, flywheel.ConfigChangeFilter{})
	for _, c := range changes {
		if c.State != flywheel.ChangeRolledBack || !c.Quarantined {
			t.Errorf("%s is %s, quarantined %v", c.ID, c.State, c.Quarantined)
		}
	}
}

// TestRollbackKeepsLaterChanges checks the key-by-key rollback: undoing
// an older change leaves the values a later change or a person set.
func TestRollbackKeepsLaterChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t, Config{}, map[string]string{FileLeakage: "thresholds:\n  threshold: 0.3\n"})
	first, err := f.p.Apply(ctx, mustDecode(t, `{"target": "A", "source": "human", "updates": {"leakage_detection": {"thresholds": {"threshold": 0.2, "mi": 0.1}}}}`), "a", ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.p.Apply(ctx, mustDecode(t, `{"target": "B", "source": "human", "updates": {"leakage_detection": {"thresholds": {"threshold": 0.25}}}}`), "a", ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.p.Apply(ctx, mustDecode(t, `{"target": "A", "source": "human", "updates": {"leakage_detection": {"thresholds": {"mi": 0.15}}}}`), "a", ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	c, err := f.p.Rollback(ctx, first.ID, "bob", "")
	if err != nil {
		t.Fatal(err)
	}
	want := "thresholds:\n  threshold: 0.3\ntarget_specific:\n  A:\n    mi: 0.15\n  B:\n    threshold: 0.25\n"
	if got := readFiles(t, f.dir)[FileLeakage]; got != want {
		t.Errorf("after rollback:\n%s\nwant:\n%s", got, want)
	}
	rec, _ := RecordOf(c)
	if !reflect.DeepEqual(rec.Rollback.Kept, []string{FileLeakage + ":target_specific.A.mi"}) {
		t.Errorf("kept = %v", rec.Rollback.Kept)
	}
	_, err = f.p.Rollback(ctx, first.ID, "bob", "")
	wantCode(t, err, flywheel.EConflict)
}

func TestNoChangeAndDryRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t, Config{}, map[string]string{FeatureSelectionFile("A"): "target: A\ntop_n: 5\n"})
	_, err := f.p.Apply(ctx, humanTopN(t, "A", 5), "alice", ApplyOptions{})
	if err != ErrNoChange {
		t.Errorf("applying what is there: %v, want ErrNoChange", err)
	}
	c, err := f.p.Apply(ctx, humanTopN(t, "A", 9), "alice", ApplyOptions{DryRun: true})
	if err != nil || !strings.Contains(c.Diff, "-top_n: 5\n+top_n: 9") {
		t.Fatalf("dry run: %v, diff %q", err, c.Diff)
	}
	if n, _ := f.store.Counts(ctx); n.ConfigChanges != 0 || n.AuditLog != 0 || readFiles(t, f.dir)[FeatureSelectionFile("A")] != "target: A\ntop_n: 5\n" {
		t.Errorf("a dry run stored or wrote something: %+v", n)
	}
}

func TestConfigHash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t, Config{}, map[string]string{FileLeakage: "thresholds: {threshold: 0.3}\n", FeatureSelectionFile("A"): "target: A\ntop_n: 5\n"})
	h := func(target string) string {
		s, err := ConfigHash(f.dir, target)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a0, b0 := h("A"), h("B")
	writeFiles(t, f.dir, map[string]string{FileLeakage: "# a comment changes nothing\nthresholds:\n    threshold: 0.30\n"})
	if h("A") != a0 {
		t.Errorf("a comment changed the hash")
	}
	if _, err := f.p.Apply(ctx, humanTopN(t, "B", 7), "alice", ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if h("A") != a0 || h("B") == b0 {
		t.Errorf("a change for B: A's hash changed %v, B's stayed %v", h("A") != a0, h("B") == b0)
	}
	c, err := f.p.Apply(ctx, mustDecode(t, `{"target": "B", "source": "human", "updates": {"leakage_detection": {"thresholds": {"threshold": 0.2}}}}`), "alice", ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := RecordOf(c)
	if h("A") != a0 || rec.ConfigHashes["B"] != h("B") {
		t.Errorf("B's own threshold: A changed %v; recorded %s, now %s", h("A") != a0, rec.ConfigHashes["B"], h("B"))
	}
}

func TestGitMode(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	ctx := context.Background()
	f := setup(t, Config{Git: GitOff}, map[string]string{FeatureSelectionFile("A"): "target: A\ntop_n: 5\n"})
	git := func(args ...string) string {
		out, err := exec.Command("git", append([]string{"-C", f.dir}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	git("init", "-q")
	git("-c", "user.name=t", "-c", "user.email=t@t", "add", "feature_selection")
	git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "initial")
	p, err := New(ctx, Config{Dir: f.dir, Store: f.store, Now: f.clock.Now, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := p.Apply(ctx, humanTopN(t, "A", 9), "alice", ApplyOptions{Reason: "fewer features overfit"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.SetPin(ctx, flywheel.Pin{File: FeatureSelectionFile("A"), Key: "aggregation_method", Value: "rank", Reason: "desk view"}, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Rollback(ctx, c.ID, "carol", "worse live"); err != nil {
		t.Fatal(err)
	}
	log := git("log", "--format=%an|%B")
	for _, want := range []string{"carol|roll back " + c.ID + ": worse live", "bob|pin feature_selection/A.yaml aggregation_method = rank",
		"Reason: desk view", "alice|config.apply " + c.ID, "Reason: fewer features overfit", "Change: " + c.ID} {
		if !strings.Contains(log, want) {
			t.Errorf("git log lacks %q:\n%s", want, log)
		}
	}
	if st := git("status", "--porcelain"); strings.TrimSpace(st) != "" {
		t.Errorf("uncommitted changes left: %s", st)
	}
}
