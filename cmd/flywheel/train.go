package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/propagate"
	"github.com/flywheel-ml/flywheel/train"
)

// trainFlags are the flags of `flywheel train`.
type trainFlags struct {
	prices, target, family, configDir, out string
	leaky                                  bool
	folds                                  int
	seed                                   uint64
	client                                 clientFlags
}

func newTrainCmd(e *env) *cobra.Command {
	var f trainFlags
	cmd := &cobra.Command{
		Use:   "train [--prices FILE] --target NAME --model-family ridge|logistic [--config-dir DIR] [--out FILE]",
		Short: "Run the reference training pipeline for one target and report the run",
		Long: `Train one model with flywheel's reference pipeline and report the run.

It reads a wide price CSV (--prices FILE, - for standard input; without it,
the built-in synthetic market), builds features of the target's asset from
past prices only (returns over 1, 5 and 20 days, 60-day momentum skipping
the last week, 20-day volatility, RSI(14), cross-sectional ranks, the
equal-weight market's return and volatility; --leaky adds leak_fwd_ret, a
deliberately leaky copy of the future return), and validates ridge or
logistic regression by purged walk-forward validation.

Targets: fwd_ret_{H}d_{ASSET} (forward H-day log return) and
barrier_up_{H}d_{ASSET} / barrier_down_{H}d_{ASSET} (triple-barrier labels).
The validation score is the rank IC for ridge and AUC - 0.5 for logistic.

Settings come from the config directory flywheel writes (--config-dir,
default $FLYWHEEL_CONFIG_DIR): feature_selection/<target>.yaml,
training/models.yaml, data_sampling/<target>.yaml, leakage_detection.yaml.
--folds overrides cross_validation_folds.

The run goes to --out FILE (- for standard output), else to
$FLYWHEEL_RESULT, else to the daemon's API (--api, --token). A one-line
summary goes to standard error.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return runTrain(cmd, e, &f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.prices, "prices", "", "wide price CSV (date, then one column per asset); - for standard input; default the synthetic market")
	fl.StringVar(&f.target, "target", e.getenv("FLYWHEEL_TARGET"), "target, e.g. fwd_ret_5d_AAPL (default $FLYWHEEL_TARGET)")
	fl.StringVar(&f.family, "model-family", e.getenv("FLYWHEEL_MODEL_FAMILY"), "ridge or logistic (default $FLYWHEEL_MODEL_FAMILY)")
	fl.StringVar(&f.configDir, "config-dir", e.getenv("FLYWHEEL_CONFIG_DIR"), "the pipeline's config directory (default $FLYWHEEL_CONFIG_DIR, else none)")
	fl.StringVar(&f.out, "out", "", "write the run JSON to FILE (- for standard output) instead of $FLYWHEEL_RESULT or the API")
	fl.BoolVar(&f.leaky, "leaky", false, "plant the leaky feature leak_fwd_ret, to exercise leakage detection")
	fl.IntVar(&f.folds, "folds", 0, "walk-forward folds (default: cross_validation_folds from the config, else 5)")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of the synthetic market and of the leak's noise")
	f.client.register(cmd, e)
	return cmd
}

func runTrain(cmd *cobra.Command, e *env, f *trainFlags) error {
	if f.target == "" || f.family == "" {
		return usageError{fmt.Errorf("train: --target NAME and --model-family ridge|logistic are required")}
	}
	if _, err := train.ParseTarget(f.target); err != nil {
		return usageError{fmt.Errorf("train: %w", err)}
	}
	if f.family != train.FamilyRidge && f.family != train.FamilyLogistic {
		return usageError{fmt.Errorf("train: --model-family %q; want ridge or logistic", f.family)}
	}
	settings, err := train.LoadSettings(f.configDir, f.target)
	if err != nil {
		return fmt.Errorf("train: config %s: %w", f.configDir, err)
	}
	if cmd.Flags().Changed("folds") {
		if f.folds < 2 || f.folds > 50 {
			return usageError{fmt.Errorf("train: --folds %d; want 2 to 50", f.folds)}
		}
		settings.Folds = f.folds
	}
	o := train.Options{
		Target: f.target, ModelFamily: f.family, Settings: &settings,
		Leaky: f.leaky, Seed: f.seed, JobID: e.getenv("FLYWHEEL_JOB_ID"),
	}
	if f.prices != "" {
		if o.Prices, err = readTable(e, f.prices); err != nil {
			return fmt.Errorf("train: %w", err)
		}
		o.PricesName = filepath.Base(f.prices)
		if f.prices == "-" {
			o.PricesName = "stdin"
		}
	}
	run, err := train.Train(cmd.Context(), o)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if f.configDir != "" {
		// The hash of the config this run used, so that the loop measures
		// which runs adopted a config change instead of assuming they did.
		hash, err := propagate.ConfigHash(f.configDir, f.target)
		if err != nil {
			return fmt.Errorf("train: config %s: %w", f.configDir, err)
		}
		if run.Config == nil {
			run.Config = map[string]any{}
		}
		run.Config["config_hash"] = hash
	}
	where, err := deliverRun(cmd, e, f, run)
	if err != nil {
		return fmt.Errorf("train: report run %s: %w", run.RunID, err)
	}
	fmt.Fprintln(e.stderr, trainSummary(run, where))
	return nil
}

// deliverRun sends the run where the flags and the environment say and
// returns a description of where it went.
func deliverRun(cmd *cobra.Command, e *env, f *trainFlags, run *flywheel.Run) (string, error) {
	data, err := json.MarshalIndent(run, "", "  ")
	if err != nil {
		return "", err
	}
	data = append(data, '\n')
	path := f.out
	if path == "" {
		path = e.getenv("FLYWHEEL_RESULT")
	}
	switch path {
	case "-":
		_, err := e.stdout.Write(data)
		return "standard output", err
	case "":
		res, err := f.client.client().PostRuns(cmd.Context(), []flywheel.Run{*run})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s (accepted %d, duplicates %d)", f.client.api, res.Accepted, res.Duplicates), nil
	}
	return path, writeFileAtomic(path, data)
}

// writeFileAtomic writes data to a temporary file next to path, syncs it
// and renames it over path, so that the executor, which posts
// $FLYWHEEL_RESULT when the process ends, never reads half a run.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing left to remove
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// trainSummary is the one line `flywheel train` prints: target, score,
// folds, the three most important features, leakage events, and where the
// run went.
func trainSummary(run *flywheel.Run, where string) string {
	var b strings.Builder
	score, _ := run.ValidationScore()
	fmt.Fprintf(&b, "train %s: validation_score %.4f over %d folds", run.ModelKey, score, len(run.FoldScores))
	names := make([]string, 0, len(run.FeatureImportance))
	for n := range run.FeatureImportance {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, c string) int {
		return cmp.Or(cmp.Compare(run.FeatureImportance[c], run.FeatureImportance[a]), strings.Compare(a, c))
	})
	top := make([]string, 0, 3)
	for _, n := range names[:min(3, len(names))] {
		top = append(top, fmt.Sprintf("%s %.2f", n, run.FeatureImportance[n]))
	}
	fmt.Fprintf(&b, "; top features %s; %d leakage events", strings.Join(top, ", "), len(run.LeakageEvents))
	fmt.Fprintf(&b, "; run %s -> %s", run.RunID, where)
	return b.String()
}
