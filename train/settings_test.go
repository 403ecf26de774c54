package train

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeConfig writes files (path relative to the directory -> content)
// into a fresh config directory.
func writeConfig(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for rel, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const target5d = "fwd_ret_5d_SYN0"

// TestLoadSettings reads every file in the shapes flywheel writes them,
// with target-specific values overriding global ones and unknown keys
// ignored.
func TestLoadSettings(t *testing.T) {
	t.Parallel()
	dir := writeConfig(t, map[string]string{
		"training/models.yaml": `
cross_validation_folds: 4
early_stopping_patience: 10
focus_on_validation: true
ridge: {alpha: 3.5}
logistic: {l2: 0.5}
some_other_pipeline_key: whatever
target_specific:
  fwd_ret_5d_SYN0: {cross_validation_folds: 6}
  fwd_ret_5d_SYN1: {cross_validation_folds: 9}
`,
		"feature_selection/fwd_ret_5d_SYN0.yaml": `
target: fwd_ret_5d_SYN0
top_n: 4
aggregation_method: weighted
model_weights: {ridge: 0.4, lightgbm: 0.6}
`,
		"data_sampling/fwd_ret_5d_SYN0.yaml": "regime_filter: volatile\nregime_weight: 2\n",
		"leakage_detection.yaml": `
thresholds: {threshold: 0.4}
target_specific:
  fwd_ret_5d_SYN0: {threshold: 0.25}
  other: 0.9
`,
	})
	got, err := LoadSettings(dir, target5d)
	if err != nil {
		t.Fatal(err)
	}
	want := Settings{
		TopN: 4, AggregationMethod: AggregateWeighted, ModelWeights: map[string]float64{"ridge": 0.4, "lightgbm": 0.6},
		Folds: 6, EarlyStoppingPatience: 10, FocusOnValidation: true, RidgeAlpha: 3.5, LogisticL2: 0.5,
		RegimeFilter: "volatile", RegimeWeight: 2, LeakageThreshold: 0.25,
		Files: []string{"training/models.yaml", "feature_selection/fwd_ret_5d_SYN0.yaml", "data_sampling/fwd_ret_5d_SYN0.yaml", "leakage_detection.yaml"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LoadSettings =\n%+v\nwant\n%+v", got, want)
	}
}

// TestLoadSettingsThresholdShapes covers the shapes a leakage threshold
// may take.
func TestLoadSettingsThresholdShapes(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		yaml      string
		threshold float64
		plant     bool
	}{
		{"", DefaultLeakageThreshold, false},
		{"thresholds: 0.5", 0.5, false},
		{"thresholds: {threshold: 0.45}\nplant_leak: true", 0.45, true},
		{"thresholds: 0.5\ntarget_specific: {fwd_ret_5d_SYN0: 0.2}", 0.2, false},
		{"target_specific: {fwd_ret_5d_SYN0: {thresholds: {threshold: 0.15}, plant_leak: true}}", 0.15, true},
		{"target_specific: {fwd_ret_5d_SYN0: {thresholds: 0.35}}", 0.35, false},
	} {
		dir := writeConfig(t, map[string]string{"leakage_detection.yaml": c.yaml})
		got, err := LoadSettings(dir, target5d)
		if err != nil {
			t.Errorf("%q: %v", c.yaml, err)
			continue
		}
		if got.LeakageThreshold != c.threshold || got.PlantLeak != c.plant {
			t.Errorf("%q: threshold %v plant %v, want %v %v", c.yaml, got.LeakageThreshold, got.PlantLeak, c.threshold, c.plant)
		}
	}
}

// TestLoadSettingsErrors checks that a bad value names its file and key.
func TestLoadSettingsErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		file, body, want string
	}{
		{"training/models.yaml", "cross_validation_folds: 1", "training/models.yaml: cross_validation_folds: must be a whole number from 2 to 50, got 1"},
		{"training/models.yaml", "cross_validation_folds: five", "training/models.yaml: cross_validation_folds: must be a whole number"},
		{"training/models.yaml", "early_stopping_patience: 2.5", "training/models.yaml: early_stopping_patience: must be a whole number"},
		{"training/models.yaml", "focus_on_validation: maybe", "training/models.yaml: focus_on_validation: must be true or false"},
		{"training/models.yaml", "ridge: {alpha: -1}", "training/models.yaml: ridge.alpha: must be a number in [0, 1e+09], got -1"},
		{"training/models.yaml", "target_specific: {fwd_ret_5d_SYN0: {logistic: {l2: x}}}", "training/models.yaml: target_specific.fwd_ret_5d_SYN0.logistic.l2: must be a number"},
		{"training/models.yaml", "[1, 2]", "training/models.yaml: the top level must be a mapping"},
		{"training/models.yaml", "a: [1", "training/models.yaml: not valid YAML"},
		{"feature_selection/fwd_ret_5d_SYN0.yaml", "top_n: 0", "feature_selection/fwd_ret_5d_SYN0.yaml: top_n: must be a whole number from 1"},
		{"feature_selection/fwd_ret_5d_SYN0.yaml", "aggregation_method: vote", `feature_selection/fwd_ret_5d_SYN0.yaml: aggregation_method: must be one of ["mean" "rank" "weighted_consensus" "weighted"], got vote`},
		{"feature_selection/fwd_ret_5d_SYN0.yaml", "model_weights: {ridge: heavy}", "feature_selection/fwd_ret_5d_SYN0.yaml: model_weights.ridge: must be a number"},
		{"feature_selection/fwd_ret_5d_SYN0.yaml", "model_weights: [ridge]", "feature_selection/fwd_ret_5d_SYN0.yaml: model_weights: must be a map"},
		{"data_sampling/fwd_ret_5d_SYN0.yaml", "regime_filter: bullish", `data_sampling/fwd_ret_5d_SYN0.yaml: regime_filter: must be one of ["none" "all" "calm" "volatile" "crisis"], got bullish`},
		{"data_sampling/fwd_ret_5d_SYN0.yaml", "regime_weight: 0", "data_sampling/fwd_ret_5d_SYN0.yaml: regime_weight: must be a number in (0, 1000], got 0"},
		{"leakage_detection.yaml", "thresholds: 1.5", "leakage_detection.yaml: thresholds: must be a number in [0, 1], got 1.5"},
		{"leakage_detection.yaml", "target_specific: {fwd_ret_5d_SYN0: {threshold: -0.1}}", "leakage_detection.yaml: target_specific.fwd_ret_5d_SYN0.threshold: must be a number in [0, 1]"},
		{"leakage_detection.yaml", "thresholds: {threshold: high}", "leakage_detection.yaml: thresholds.threshold: must be a number"},
		{"leakage_detection.yaml", "plant_leak: 1", "leakage_detection.yaml: plant_leak: must be true or false"},
	} {
		dir := writeConfig(t, map[string]string{c.file: c.body})
		_, err := LoadSettings(dir, target5d)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %q: error = %v, want one containing %q", c.file, c.body, err, c.want)
		}
	}
}

// TestLoadSettingsNoDirectory: no directory, an empty one, or one that
// does not exist all mean the defaults.
func TestLoadSettingsNoDirectory(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"", t.TempDir(), filepath.Join(t.TempDir(), "missing")} {
		got, err := LoadSettings(dir, target5d)
		if err != nil || !reflect.DeepEqual(got, DefaultSettings()) {
			t.Errorf("dir %q: %+v, %v; want the defaults", dir, got, err)
		}
	}
	if _, err := LoadSettings(t.TempDir(), "../etc"); err == nil {
		t.Error("a target that is a path was accepted as a file name")
	}
}

// FuzzSettingsFiles feeds arbitrary YAML to every file's reader: it must
// never panic, and settings it accepts must pass the checks Train applies.
func FuzzSettingsFiles(f *testing.F) {
	for _, seed := range []string{
		"cross_validation_folds: 5\nridge: {alpha: 2}\ntarget_specific: {fwd_ret_5d_SYN0: {logistic: {l2: 0.5}}}",
		"top_n: 20\naggregation_method: weighted\nmodel_weights: {ridge: 0.4, lightgbm: 0.6}",
		"regime_filter: crisis\nregime_weight: 3",
		"thresholds: {threshold: 0.2}\ntarget_specific: {fwd_ret_5d_SYN0: 0.1}\nplant_leak: true",
		"[1, 2]", "a: [1", "", "~", "top_n: 1e400", "cross_validation_folds: -0",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		appliers := []func(*Settings, *doc) error{
			func(s *Settings, d *doc) error { return s.applyTraining(d, target5d) },
			(*Settings).applyFeatureSelection,
			(*Settings).applyDataSampling,
			func(s *Settings, d *doc) error { return s.applyLeakage(d, target5d) },
		}
		for _, apply := range appliers {
			d, err := parseDoc("f.yaml", []byte(body))
			if err != nil {
				continue
			}
			s := DefaultSettings()
			if err := apply(&s, d); err != nil {
				continue
			}
			if err := s.check(); err != nil {
				t.Fatalf("accepted %q but the result fails the checks: %v", body, err)
			}
		}
	})
}
