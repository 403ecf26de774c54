package propagate

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/flywheel-ml/flywheel"
)

const seedJSON = `{"target": "fwd_ret_5d_AAPL", "source": "CILS", "updates": {
	"leakage_detection": {"thresholds": {"threshold": 0.25}},
	"feature_selection": {"top_n": 50, "aggregation_method": "weighted_consensus", "model_weights": {"lightgbm": 0.6, "ridge": 0.4}},
	"training": {"focus_on_validation": true, "early_stopping_patience": 10, "cross_validation_folds": 5},
	"data_sampling": {"regime_filter": "volatile", "regime_weight": 2.0}}}`

const seedYAML = `# the same update, as YAML
target: fwd_ret_5d_AAPL
source: CILS
updates:
  leakage_detection:
    thresholds: {threshold: 0.25}
  feature_selection:
    top_n: 50
    aggregation_method: weighted_consensus
    model_weights: {lightgbm: 0.6, ridge: 0.4}
  training:
    focus_on_validation: true
    early_stopping_patience: 10
    cross_validation_folds: 5
  data_sampling:
    regime_filter: volatile
    regime_weight: 2
`

func TestDecodeJSONAndYAML(t *testing.T) {
	t.Parallel()
	a, b := mustDecode(t, seedJSON), mustDecode(t, seedYAML)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("JSON and YAML decode differently:\n%+v\n%+v", a, b)
	}
	if err := a.Validate(); err != nil {
		t.Errorf("validate: %v", err)
	}
	if *a.Updates.FeatureSelection.TopN != 50 || *a.Updates.DataSampling.RegimeWeight != 2 {
		t.Errorf("decoded %+v", a.Updates)
	}
}

// TestDecodeErrors checks that every bad document is refused with the
// field it is about, by decoding or by validation.
func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, doc, field string
	}{
		{"unknown top field", `{"target": "A", "source": "CILS", "updates": {}, "extra": 1}`, "extra"},
		{"unknown section", `{"target": "A", "source": "CILS", "updates": {"leakage": {}}}`, "updates.leakage"},
		{"unknown nested field", `{"target": "A", "source": "CILS", "updates": {"feature_selection": {"topn": 5}}}`, "updates.feature_selection.topn"},
		{"string for number", `{"target": "A", "source": "CILS", "updates": {"feature_selection": {"top_n": "50"}}}`, "updates.feature_selection.top_n"},
		{"fraction for whole", `{"target": "A", "source": "CILS", "updates": {"feature_selection": {"top_n": 2.5}}}`, "updates.feature_selection.top_n"},
		{"yaml nan", "target: A\nsource: CILS\nupdates: {data_sampling: {regime_weight: .nan}}", "updates.data_sampling.regime_weight"},
		{"yaml inf", "target: A\nsource: CILS\nupdates: {leakage_detection: {thresholds: {threshold: .inf}}}", "updates.leakage_detection.thresholds.threshold"},
		{"number for bool", `{"target": "A", "source": "CILS", "updates": {"training": {"focus_on_validation": 1}}}`, "updates.training.focus_on_validation"},
		{"duplicate key", "target: A\ntarget: B\nsource: CILS\nupdates: {}", "target"},
		{"list for target", `{"target": ["A"], "source": "CILS", "updates": {}}`, "target"},
		{"bad target list", `{"target": "A", "source": "CILS", "targets": ["B", 3], "updates": {}}`, "targets[1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeUpdate([]byte(tc.doc))
			wantField(t, err, tc.field)
		})
	}
	for _, tc := range []struct {
		name, doc, field string
	}{
		{"missing target", `{"source": "CILS", "updates": {"training": {"cross_validation_folds": 5}}}`, "target"},
		{"path target", `{"target": "../etc/passwd", "source": "CILS", "updates": {"training": {"cross_validation_folds": 5}}}`, "target"},
		{"bad source", `{"target": "A", "source": "oracle", "updates": {"training": {"cross_validation_folds": 5}}}`, "source"},
		{"no sections", `{"target": "A", "source": "CILS", "updates": {}}`, "updates"},
		{"empty section", `{"target": "A", "source": "CILS", "updates": {"training": {}}}`, "updates.training"},
		{"top_n 0", `{"target": "A", "source": "CILS", "updates": {"feature_selection": {"top_n": 0}}}`, "updates.feature_selection.top_n"},
		{"threshold 1.2", `{"target": "A", "source": "CILS", "updates": {"leakage_detection": {"thresholds": {"threshold": 1.2}}}}`, "updates.leakage_detection.thresholds.threshold"},
		{"negative threshold", `{"target": "A", "source": "CILS", "updates": {"leakage_detection": {"thresholds": {"x": -0.1}}}}`, "updates.leakage_detection.thresholds.x"},
		{"folds 1", `{"target": "A", "source": "ARPO", "updates": {"training": {"cross_validation_folds": 1}}}`, "updates.training.cross_validation_folds"},
		{"folds 21", `{"target": "A", "source": "ARPO", "updates": {"training": {"cross_validation_folds": 21}}}`, "updates.training.cross_validation_folds"},
		{"unknown aggregation", `{"target": "A", "source": "CILS", "updates": {"feature_selection": {"aggregation_method": "vote"}}}`, "updates.feature_selection.aggregation_method"},
		{"zero weights", `{"target": "A", "source": "CILS", "updates": {"feature_selection": {"model_weights": {"ridge": 0}}}}`, "updates.feature_selection.model_weights"},
		{"bad family name", `{"target": "A", "source": "CILS", "updates": {"feature_selection": {"model_weights": {"a/b": 1}}}}`, "updates.feature_selection.model_weights"},
		{"regime weight 0", `{"target": "A", "source": "ARPO", "updates": {"data_sampling": {"regime_weight": 0}}}`, "updates.data_sampling.regime_weight"},
		{"regime name", `{"target": "A", "source": "ARPO", "updates": {"data_sampling": {"regime_filter": "high vol"}}}`, "updates.data_sampling.regime_filter"},
		{"plant_leak as threshold", `{"target": "A", "source": "CILS", "updates": {"leakage_detection": {"thresholds": {"plant_leak": 0.5}}}}`, "updates.leakage_detection.thresholds.plant_leak"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := DecodeUpdate([]byte(tc.doc))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			wantField(t, d.Validate(), tc.field)
		})
	}
}

func wantField(t *testing.T, err error, field string) {
	t.Helper()
	e, ok := err.(*flywheel.Error)
	if !ok || e.Code != flywheel.EInvalid {
		t.Fatalf("error = %v, want an EInvalid error on %s", err, field)
	}
	if e.Field != field {
		t.Errorf("field = %q (%v), want %q", e.Field, err, field)
	}
}

// TestInvalidUpdateWritesNothing checks the examples: each is
// rejected whole, every file stays byte-identical, and no change, backup
// or audit entry is stored.
func TestInvalidUpdateWritesNothing(t *testing.T) {
	t.Parallel()
	files := map[string]string{
		FileLeakage:                           "thresholds:\n  threshold: 0.3 # kept\n",
		FeatureSelectionFile("fwd_ret_5d_A"):  "target: fwd_ret_5d_A\ntop_n: 40\n",
		FileModels:                            "cross_validation_folds: 3\n",
		DataSamplingFile("fwd_ret_5d_A"):      "target: fwd_ret_5d_A\nregime_weight: 1.0\n",
		"training/target_ranking_config.yaml": "# ranking\n",
	}
	// Every update is valid but for one value, in a section written
	// after the others, so that a partial write would show.
	valid := `"leakage_detection": {"thresholds": {"threshold": 0.2}}, "data_sampling": {"regime_weight": 2.0}`
	for _, bad := range []string{
		`"feature_selection": {"top_n": 0}`,
		`"feature_selection": {"top_n": 10}, "training": {"cross_validation_folds": 1}`,
		`"training": {"cross_validation_folds": 21}`,
		`"training": {"cross_validation_folds": 5}, "leakage_detection": {"thresholds": {"threshold": 1.2}}`,
	} {
		t.Run(bad, func(t *testing.T) {
			t.Parallel()
			f := setup(t, Config{}, files)
			text := `{"target": "fwd_ret_5d_A", "source": "human", "updates": {` + valid + `, ` + bad + `}}`
			if strings.Contains(bad, "leakage_detection") {
				text = `{"target": "fwd_ret_5d_A", "source": "human", "updates": {` + bad + `}}`
			}
			doc, err := DecodeUpdate([]byte(text))
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.p.Apply(context.Background(), doc, "alice", ApplyOptions{})
			wantCode(t, err, flywheel.EInvalid)
			if !strings.Contains(err.Error(), "must be") {
				t.Errorf("error %q does not say what is wanted", err)
			}
			if got := readFiles(t, f.dir); !reflect.DeepEqual(got, files) {
				t.Errorf("files changed:\n%v\nwant\n%v", got, files)
			}
			n, err := f.store.Counts(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if n.ConfigChanges != 0 || n.AuditLog != 0 {
				t.Errorf("stored %d changes and %d audit entries, want none", n.ConfigChanges, n.AuditLog)
			}
			if b, _ := f.store.ConfigBackups(context.Background(), 10); len(b) != 0 {
				t.Errorf("stored %d backups, want none", len(b))
			}
		})
	}
}

// TestInvalidFileRefused checks that a file already broken by hand is
// not edited: the result could not be valid.
func TestInvalidFileRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, file, content string }{
		{"bad yaml", FeatureSelectionFile("A"), "top_n: [1\n"},
		{"out of range", FeatureSelectionFile("A"), "top_n: 0\n"},
		{"other target", FeatureSelectionFile("A"), "target: B\n"},
		{"two documents", FeatureSelectionFile("A"), "top_n: 5\n---\ntop_n: 6\n"},
		{"scalar top level", FeatureSelectionFile("A"), "just text\n"},
		{"alias", FeatureSelectionFile("A"), "w: &w {ridge: 1}\nmodel_weights: *w\n"},
		{"duplicate", FeatureSelectionFile("A"), "top_n: 5\ntop_n: 6\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, Config{}, map[string]string{tc.file: tc.content})
			doc := mustDecode(t, `{"target": "A", "source": "human", "updates": {"feature_selection": {"top_n": 7}}}`)
			_, err := f.p.Apply(context.Background(), doc, "alice", ApplyOptions{})
			wantCode(t, err, flywheel.EInvalid)
			if !strings.Contains(err.Error(), tc.file) {
				t.Errorf("error %q does not name the file", err)
			}
			if got := readFiles(t, f.dir)[tc.file]; got != tc.content {
				t.Errorf("file changed to %q", got)
			}
		})
	}
}

func FuzzDecodeUpdate(f *testing.F) {
	f.Add([]byte(seedJSON))
	f.Add([]byte(seedYAML))
	f.Add([]byte(`{"target": "A", "source": "CILS", "updates": {"feature_selection": {"top_n": 1e999}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := DecodeUpdate(data)
		if err != nil {
			if flywheel.Code(err) != flywheel.EInvalid && flywheel.Code(err) != flywheel.ETooLarge {
				t.Fatalf("error %v has code %s", err, flywheel.Code(err))
			}
			return
		}
		if d.Validate() == nil {
			if _, err := writesFor(&d, d.Target); err != nil {
				t.Fatalf("a valid document has no writes: %v", err)
			}
		}
	})
}
