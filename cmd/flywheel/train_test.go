package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/httpapi"
	"github.com/flywheel-ml/flywheel/sqlite"
	"github.com/flywheel-ml/flywheel/train"

	"github.com/flywheel-ml/flywheel/internal/shareddata"
)

// runTrainCmd runs `flywheel train` in-process with the given environment
// and returns standard output, standard error and the error.
func runTrainCmd(t *testing.T, environ map[string]string, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	e := &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut, getenv: func(k string) string { return environ[k] }}
	cmd := newTrainCmd(e)
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

// readRun decodes and validates a run JSON file.
func readRun(t *testing.T, path string) flywheel.Run {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return decodeRun(t, data)
}

func decodeRun(t *testing.T, data []byte) flywheel.Run {
	t.Helper()
	var run flywheel.Run
	if err := json.Unmarshal(data, &run); err != nil {
		t.Fatalf("decode run: %v\n%s", err, data)
	}
	if err := run.Validate(); err != nil {
		t.Fatalf("the run does not validate: %v", err)
	}
	return run
}

// TestTrainCmdOut trains on the synthetic market and writes the run to
// --out: a valid run for the target, five folds, and a summary line.
func TestTrainCmdOut(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "run.json")
	stdout, stderr, err := runTrainCmd(t, nil, "", "--target", "fwd_ret_5d_SYN0", "--model-family", "ridge", "--out", path)
	if err != nil {
		t.Fatal(err)
	}
	run := readRun(t, path)
	if run.Target != "fwd_ret_5d_SYN0" || run.ModelFamily != "ridge" || len(run.FoldScores) != 5 || run.Config["prices"] != "synthetic_seed1" {
		t.Errorf("run %s, %d folds, prices %v", run.ModelKey, len(run.FoldScores), run.Config["prices"])
	}
	if stdout != "" || !strings.HasPrefix(stderr, "train fwd_ret_5d_SYN0/ridge: validation_score ") ||
		!strings.Contains(stderr, "over 5 folds; top features ") || !strings.HasSuffix(stderr, "-> "+path+"\n") ||
		strings.Count(stderr, "\n") != 1 {
		t.Errorf("stdout %q, stderr %q; want one summary line on stderr", stdout, stderr)
	}
	if matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp*")); len(matches) > 0 {
		t.Errorf("temporary files left behind: %v", matches)
	}
}

// TestTrainCmdAsAJob runs the command as flywheel's executor does: with
// the job's environment and no flags but the family, the run goes to
// $FLYWHEEL_RESULT with the job's id, under the settings of
// $FLYWHEEL_CONFIG_DIR; --folds and --leaky still apply on top.
func TestTrainCmdAsAJob(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "CONFIG")
	if err := os.MkdirAll(filepath.Join(cfg, "training"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg, "training", "models.yaml"), []byte("cross_validation_folds: 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	result := filepath.Join(dir, "result.json")
	environ := map[string]string{
		"FLYWHEEL_JOB_ID": "job-7", "FLYWHEEL_TARGET": "barrier_up_10d_SYN2", "FLYWHEEL_MODEL_FAMILY": "logistic",
		"FLYWHEEL_CONFIG_DIR": cfg, "FLYWHEEL_RESULT": result,
	}
	if _, stderr, err := runTrainCmd(t, environ, ""); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	run := readRun(t, result)
	if run.RunID != "job-7" || run.JobID != "job-7" || run.Target != "barrier_up_10d_SYN2" || len(run.FoldScores) != 3 {
		t.Errorf("run %q job %q target %q with %d folds; want job-7, barrier_up_10d_SYN2, 3 folds",
			run.RunID, run.JobID, run.Target, len(run.FoldScores))
	}
	if _, stderr, err := runTrainCmd(t, environ, "", "--folds", "4", "--leaky"); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	run = readRun(t, result)
	if len(run.FoldScores) != 4 || len(run.LeakageEvents) == 0 || run.LeakageEvents[0].Feature != train.LeakFeature {
		t.Errorf("with --folds 4 --leaky: %d folds, events %+v", len(run.FoldScores), run.LeakageEvents)
	}
}

// TestTrainCmdStdout writes the run to standard output with --out -, and
// reads the prices from standard input.
func TestTrainCmdStdout(t *testing.T) {
	t.Parallel()
	var csv strings.Builder
	tab := train.Synthetic(train.SyntheticOptions{Seed: 2, Assets: 3, Days: 600})
	csv.WriteString("date," + strings.Join(tab.Assets, ",") + "\n")
	for i, d := range tab.Dates {
		csv.WriteString(d.Format("2006-01-02"))
		for _, p := range tab.Prices {
			csv.WriteString("," + strconv.FormatFloat(p[i], 'g', -1, 64))
		}
		csv.WriteString("\n")
	}
	stdout, _, err := runTrainCmd(t, nil, csv.String(), "--prices", "-", "--target", "fwd_ret_5d_SYN1", "--model-family", "logistic", "--out", "-", "--folds", "2")
	if err != nil {
		t.Fatal(err)
	}
	run := decodeRun(t, []byte(stdout))
	if run.Config["prices"] != "stdin" || len(run.FoldScores) != 2 || run.DataWindow.To.Format("2006-01-02") != tab.Dates[len(tab.Dates)-1].Format("2006-01-02") {
		t.Errorf("prices %v, %d folds, window %+v", run.Config["prices"], len(run.FoldScores), run.DataWindow)
	}
}

// TestTrainCmdPostsToAPI reports the run to a real daemon (the API on a
// SQLite store) when neither --out nor $FLYWHEEL_RESULT is given, and
// reads it back.
func TestTrainCmdPostsToAPI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "flywheel.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	srv := httptest.NewServer(httpapi.NewServer(httpapi.Config{Store: db}))
	defer srv.Close()
	_, stderr, err := runTrainCmd(t, map[string]string{"FLYWHEEL_API": srv.URL}, "", "--target", "fwd_ret_10d_SYN4", "--model-family", "ridge")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, srv.URL+" (accepted 1, duplicates 0)") {
		t.Errorf("summary %q does not say the daemon accepted the run", stderr)
	}
	runs, err := httpapi.NewClient(srv.URL, "", nil).Runs(ctx, flywheel.RunFilter{Target: "fwd_ret_10d_SYN4"})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || len(runs[0].FoldScores) != 5 || runs[0].Metrics[flywheel.MetricValidationScore] == 0 {
		t.Errorf("the daemon has %d runs for the target: %+v", len(runs), runs)
	}
}

// TestTrainCmdStockPrices2024 is the command on the real file: one target,
// 5 folds, ridge, with the leak planted and flagged.
func TestTrainCmdStockPrices2024(t *testing.T) {
	t.Parallel()
	prices := shareddata.Path(t, "pypfopt/stock_prices_2024.csv")
	path := filepath.Join(t.TempDir(), "run.json")
	_, stderr, err := runTrainCmd(t, nil, "", "--prices", prices, "--target", "fwd_ret_5d_AAPL", "--model-family", "ridge",
		"--folds", "5", "--leaky", "--out", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(strings.TrimSpace(stderr))
	run := readRun(t, path)
	ev := run.LeakageEvents
	if len(run.FoldScores) != 5 || run.Config["prices"] != "stock_prices_2024.csv" || len(ev) != 1 ||
		ev[0].Feature != train.LeakFeature || ev[0].Confirmed == nil || !*ev[0].Confirmed {
		t.Errorf("%d folds, prices %v, leakage events %+v", len(run.FoldScores), run.Config["prices"], ev)
	}
}

// TestTrainCmdErrors checks the exit paths: mistakes in the command line
// are usage errors (exit 2); bad data or config are plain errors naming
// what is wrong.
func TestTrainCmdErrors(t *testing.T) {
	t.Parallel()
	badCfg := t.TempDir()
	if err := os.WriteFile(filepath.Join(badCfg, "leakage_detection.yaml"), []byte("thresholds: 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		args  []string
		usage bool
		want  string
	}{
		{"no target", []string{"--model-family", "ridge"}, true, "--target NAME and --model-family ridge|logistic are required"},
		{"bad family", []string{"--target", "fwd_ret_5d_SYN0", "--model-family", "xgboost"}, true, `--model-family "xgboost"`},
		{"bad target", []string{"--target", "fwd_ret_5days_SYN0", "--model-family", "ridge"}, true, `horizon "5days"`},
		{"bad folds", []string{"--target", "fwd_ret_5d_SYN0", "--model-family", "ridge", "--folds", "1"}, true, "--folds 1"},
		{"extra argument", []string{"--target", "fwd_ret_5d_SYN0", "--model-family", "ridge", "now"}, true, "accepts 0 arg"},
		{"missing asset", []string{"--target", "fwd_ret_5d_AAPL", "--model-family", "ridge", "--out", "-"}, false, `asset "AAPL" is not a column`},
		{"missing prices", []string{"--prices", "/nonexistent.csv", "--target", "fwd_ret_5d_SYN0", "--model-family", "ridge"}, false, "/nonexistent.csv"},
		{"bad config", []string{"--config-dir", badCfg, "--target", "fwd_ret_5d_SYN0", "--model-family", "ridge"}, false,
			"leakage_detection.yaml: thresholds: must be a number in [0, 1], got 2"},
	} {
		_, _, err := runTrainCmd(t, nil, "", c.args...)
		var ue usageError
		if err == nil || !strings.Contains(err.Error(), c.want) || errors.As(err, &ue) != c.usage {
			t.Errorf("%s: error %v (usage error: %v), want one containing %q (usage error: %v)", c.name, err, errors.As(err, &ue), c.want, c.usage)
		}
	}
}
