package propagate

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/sqlite"
)

// crashChildEnv switches the test binary into the child of
// TestCrashSafety: "config dir|database path".
const crashChildEnv = "FLYWHEEL_PROPAGATE_CRASH_CHILD"

// crashTargets alternate, so that shared and per-target files are both
// written by every update.
var crashTargets = []string{"fwd_ret_5d_A", "fwd_ret_5d_B"}

// crashDoc is the i-th update the child applies; every one changes
// every file it touches.
func crashDoc(i int) UpdateDoc {
	return UpdateDoc{Target: crashTargets[i%2], Source: flywheel.SourceHuman, Updates: Updates{
		LeakageDetection: &LeakageDetectionUpdate{Thresholds: map[string]float64{"threshold": float64(i%97) / 100}},
		FeatureSelection: &FeatureSelectionUpdate{TopN: ptr(int64(1 + i)), ModelWeights: map[string]float64{"ridge": float64(1 + i%5), "lightgbm": 1}},
		Training:         &TrainingUpdate{CrossValidationFolds: ptr(int64(2 + i%19)), EarlyStoppingPatience: ptr(int64(i % 1000))},
		DataSampling:     &DataSamplingUpdate{RegimeWeight: ptr(float64(1 + i%997))},
	}}
}

var crashInitial = map[string]string{
	FileLeakage: "# Leakage thresholds, by hand.\nthresholds:\n  threshold: 0.3 # global\n\ntarget_specific: {}\n",
	FileModels:  "# Training.\ncross_validation_folds: 3\n",
}

// TestCrashSafety runs a real process that applies updates in a loop
// and kills it with SIGKILL at random moments. After every kill, every
// config file must parse and hold either its content before the last
// recorded change or after it, and the last change's backup must exist
// and hold the content before it.
func TestCrashSafety(t *testing.T) {
	if spec := os.Getenv(crashChildEnv); spec != "" {
		crashChild(spec)
		return
	}
	kills := 200
	if testing.Short() {
		kills = 20
	}
	ctx := context.Background()
	tmp := t.TempDir()
	dir, dbPath := filepath.Join(tmp, "CONFIG"), filepath.Join(tmp, "flywheel.db")
	writeFiles(t, dir, crashInitial)
	db, err := sqlite.Open(ctx, dbPath, sqlite.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ref := newReference(t)
	r := rand.New(rand.NewPCG(2024, 6))
	// applyTime estimates how long one update takes in the child (much
	// longer under the race detector), so that kills land across whole
	// updates rather than mostly before the first one.
	applyTime := 20 * time.Millisecond
	start, midway := time.Now(), 0
	for k := 0; k < kills; k++ {
		took := runAndKill(t, k, r, dir, dbPath, applyTime)
		if took > 0 {
			applyTime = (3*applyTime + took) / 4
		}
		if _, err := os.Stat(filepath.Join(dir, journalName)); err == nil {
			midway++ // killed between the journal and its removal
		}
		checkAfterKill(t, ctx, k, dir, db, ref)
	}
	n := ref.count
	t.Logf("%d kills (%d in the middle of an operation), %d updates applied, in %s; an update takes about %s",
		kills, midway, n, time.Since(start).Round(time.Millisecond), applyTime.Round(time.Millisecond))
	if n < kills/5 || midway < kills/20 {
		t.Errorf("only %d updates were applied and %d kills hit an operation midway, across %d runs: too few to test much", n, midway, kills)
	}
}

// runAndKill starts the child, kills it at a random moment, and returns
// the time one update took in it (0 when it applied fewer than two).
func runAndKill(t *testing.T, k int, r *rand.Rand, dir, dbPath string, applyTime time.Duration) time.Duration {
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashSafety$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir+"|"+dbPath)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan time.Time, 1000)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- time.Now()
		}
		close(lines)
	}()
	// Mostly kill while updates run; one time in ten at any moment from
	// the start, recovery included.
	if r.IntN(10) > 0 {
		select {
		case _, ok := <-lines: // "ready"
			if !ok {
				cmd.Wait()
				t.Fatalf("child %d ended before it was ready", k)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("child %d is not ready after 30s", k)
		}
	}
	time.Sleep(time.Duration(r.Int64N(int64(3 * applyTime))))
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	var stamps []time.Time
	for at := range lines {
		stamps = append(stamps, at)
	}
	if len(stamps) < 3 { // ready and at least two updates
		return 0
	}
	return stamps[len(stamps)-1].Sub(stamps[1]) / time.Duration(len(stamps)-2)
}

// crashChild applies updates until it is killed.
func crashChild(spec string) {
	dir, dbPath, _ := strings.Cut(spec, "|")
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	db, err := sqlite.Open(ctx, dbPath, sqlite.Options{Logger: logger})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
	p, err := New(ctx, Config{Dir: dir, Store: db, Logger: logger, Git: GitOff})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
	fmt.Println("ready")
	for {
		n, err := db.Counts(ctx)
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(3)
		}
		if _, err := p.Apply(ctx, crashDoc(int(n.ConfigChanges)), "crash-test", ApplyOptions{}); err != nil {
			fmt.Fprintln(os.Stderr, "child: apply:", err)
			os.Exit(3)
		}
		fmt.Println("applied")
	}
}

// reference applies the same updates in-process, to know every state
// the child's files may be in: states[k] is the content after k changes.
type reference struct {
	t      *testing.T
	p      *Propagator
	dir    string
	states []map[string]string
	count  int
}

func newReference(t *testing.T) *reference {
	f := setup(t, Config{}, crashInitial)
	f.p.log = slog.New(slog.DiscardHandler)
	return &reference{t: t, p: f.p, dir: f.dir, states: []map[string]string{readFiles(t, f.dir)}}
}

// state returns the content after k changes, applying what is missing.
func (r *reference) state(k int) map[string]string {
	for len(r.states) <= k {
		i := len(r.states) - 1
		if _, err := r.p.Apply(context.Background(), crashDoc(i), "reference", ApplyOptions{}); err != nil {
			r.t.Fatalf("reference apply %d: %v", i, err)
		}
		r.states = append(r.states, readFiles(r.t, r.dir))
	}
	return r.states[k]
}

func checkAfterKill(t *testing.T, ctx context.Context, kill int, dir string, db flywheel.Store, ref *reference) {
	t.Helper()
	n, err := db.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	count := int(n.ConfigChanges)
	ref.count = count
	now, before := ref.state(count), ref.state(max(count-1, 0))
	got := readFiles(t, dir)
	for name := range keysOf(now, before, got) {
		g, inGot := got[name]
		a, inNow := now[name]
		b, inBefore := before[name]
		if !(inGot == inNow && g == a) && !(inGot == inBefore && g == b) {
			t.Fatalf("kill %d after %d changes: %s holds neither its old nor its new content:\n%s\n--- new:\n%s\n--- old:\n%s", kill, count, name, g, a, b)
		}
		if inGot {
			if _, err := parseDoc([]byte(g)); err != nil {
				t.Fatalf("kill %d: %s does not parse: %v", kill, name, err)
			}
		}
	}
	if count == 0 {
		return
	}
	last, err := db.ConfigChanges(ctx, flywheel.ConfigChangeFilter{Limit: 1})
	if err != nil || len(last) != 1 {
		t.Fatalf("kill %d: last change: %v", kill, err)
	}
	b, err := db.ConfigBackup(ctx, last[0].BackupID)
	if err != nil {
		t.Fatalf("kill %d: the backup %q of the last change %s: %v", kill, last[0].BackupID, last[0].ID, err)
	}
	for name, data := range b.Files {
		if want, ok := before[name]; string(data) != want || ok != (data != nil) {
			t.Fatalf("kill %d: backup %s holds for %s:\n%s\nwant the content before the change:\n%s", kill, b.ID, name, data, want)
		}
	}
}
