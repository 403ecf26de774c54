package propagate

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/flywheel-ml/flywheel"
)

func TestSetPinWritesAndHolds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t, Config{}, map[string]string{FeatureSelectionFile("A"): "target: A\ntop_n: 40 # by hand\n"})
	pin, err := f.p.SetPin(ctx, flywheel.Pin{File: FeatureSelectionFile("A"), Key: "top_n", Value: " 30 ", Reason: "desk"}, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if pin.Target != "A" || pin.Value != "30" || pin.CreatedBy != "alice" {
		t.Errorf("pin = %+v, want target A, value 30, by alice", pin)
	}
	if got := readFiles(t, f.dir)[FeatureSelectionFile("A")]; got != "target: A\ntop_n: 30 # by hand\n" {
		t.Errorf("file after pin:\n%s", got)
	}
	doc := mustDecode(t, `{"target": "A", "source": "human", "updates": {"feature_selection": {"top_n": 50, "aggregation_method": "rank"}}}`)
	c, err := f.p.Apply(ctx, doc, "loop", ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{FeatureSelectionFile("A") + ":top_n"}; !slices.Equal(c.HeldByPins, want) {
		t.Errorf("held = %v, want %v", c.HeldByPins, want)
	}
	if got := readFiles(t, f.dir)[FeatureSelectionFile("A")]; got != "target: A\ntop_n: 30 # by hand\naggregation_method: rank\n" {
		t.Errorf("file after update:\n%s", got)
	}
	audit, _ := f.store.AuditLog(ctx, 0, 10)
	if len(audit) != 2 || audit[1].Action != ActionPinSet || audit[1].Actor != "alice" || audit[0].Actor != "loop" {
		t.Errorf("audit = %+v, want pin.set by alice then config.apply by loop", audit)
	}
	if err := f.p.DeletePin(ctx, FeatureSelectionFile("A"), "", "top_n", "bob"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, f.p.DeletePin(ctx, FeatureSelectionFile("A"), "", "top_n", "bob"), flywheel.ENotFound)
	doc.Updates.FeatureSelection.AggregationMethod = nil
	if c, err = f.p.Apply(ctx, doc, "loop", ApplyOptions{}); err != nil || len(c.HeldByPins) != 0 {
		t.Fatalf("apply after unpin: %v, held %v", err, c.HeldByPins)
	}
	if !strings.Contains(readFiles(t, f.dir)[FeatureSelectionFile("A")], "top_n: 50") {
		t.Errorf("top_n not updated after the pin was removed")
	}
}

func TestPinNormalization(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name               string
		in                 flywheel.Pin
		wantKey, wantTgt   string
		wantValue          string
		wantField, wantErr string
	}{
		{"target moves key", flywheel.Pin{File: FileLeakage, Key: "threshold", Target: "A", Value: "0.2"}, "target_specific.A.threshold", "A", "0.2", "", ""},
		{"target from key", flywheel.Pin{File: FileModels, Key: "target_specific.A.cross_validation_folds", Value: "5"}, "target_specific.A.cross_validation_folds", "A", "5", "", ""},
		{"global key", flywheel.Pin{File: FileLeakage, Key: "thresholds.threshold", Value: "0.3"}, "thresholds.threshold", "", "0.3", "", ""},
		{"dotted target", flywheel.Pin{File: FileLeakage, Key: "target_specific.fwd_ret_5d_BRK.B.threshold", Value: ".5"}, "target_specific.fwd_ret_5d_BRK.B.threshold", "fwd_ret_5d_BRK.B", "0.5", "", ""},
		{"bool", flywheel.Pin{File: FileRanking, Key: "focus_on_validation", Value: "TRUE"}, "focus_on_validation", "", "true", "", ""},
		{"weight", flywheel.Pin{File: FeatureSelectionFile("A"), Key: "model_weights.ridge", Value: "1"}, "model_weights.ridge", "A", "1.0", "", ""},
		{"unknown file", flywheel.Pin{File: "secrets.yaml", Key: "x", Value: "1"}, "", "", "", "file", "not a config file"},
		{"traversal", flywheel.Pin{File: "../../etc/passwd", Key: "x", Value: "1"}, "", "", "", "file", "not a config file"},
		{"absolute", flywheel.Pin{File: "/etc/passwd", Key: "x", Value: "1"}, "", "", "", "file", "not a config file"},
		{"nested target file", flywheel.Pin{File: "feature_selection/a/b.yaml", Key: "top_n", Value: "1"}, "", "", "", "file", "not a config file"},
		{"dot target file", flywheel.Pin{File: "feature_selection/...yaml", Key: "top_n", Value: "1"}, "", "", "", "file", "not a config file"},
		{"unknown key", flywheel.Pin{File: FeatureSelectionFile("A"), Key: "topn", Value: "1"}, "", "", "", "key", "not a key"},
		{"mapping key", flywheel.Pin{File: FeatureSelectionFile("A"), Key: "model_weights", Value: "1"}, "", "", "", "key", "mapping"},
		{"out of range", flywheel.Pin{File: FeatureSelectionFile("A"), Key: "top_n", Value: "0"}, "", "", "", "value", "whole number from 1"},
		{"not a number", flywheel.Pin{File: FileModels, Key: "cross_validation_folds", Value: "many"}, "", "", "", "value", "whole number"},
		{"folds 21", flywheel.Pin{File: FileModels, Key: "cross_validation_folds", Value: "21"}, "", "", "", "value", "from 2 to 20"},
		{"other target", flywheel.Pin{File: FeatureSelectionFile("A"), Key: "top_n", Target: "B", Value: "3"}, "", "", "", "target", "file of target"},
		{"key of other target", flywheel.Pin{File: FileModels, Key: "target_specific.B.cross_validation_folds", Target: "A", Value: "3"}, "", "", "", "target", "belongs to target"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pin := tc.in
			pin.Reason = "test"
			f := setup(t, Config{}, nil)
			got, err := f.p.SetPin(context.Background(), pin, "alice")
			if tc.wantErr != "" {
				wantField(t, err, tc.wantField)
				if err != nil && !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %q does not say %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Key != tc.wantKey || got.Target != tc.wantTgt || got.Value != tc.wantValue {
				t.Errorf("pin = %s %q %s, want %s %q %s", got.Key, got.Target, got.Value, tc.wantKey, tc.wantTgt, tc.wantValue)
			}
		})
	}
}

// pinnable are the keys the property test pins, per target (%s).
var pinnable = []struct{ file, key string }{
	{FeatureSelectionFile("%s"), "top_n"},
	{FeatureSelectionFile("%s"), "model_weights.ridge"},
	{FeatureSelectionFile("%s"), "model_weights.lightgbm"},
	{FileLeakage, "target_specific.%s.threshold"},
	{FileLeakage, "thresholds.threshold"},
	{FileModels, "target_specific.%s.cross_validation_folds"},
	{FileModels, "cross_validation_folds"},
	{DataSamplingFile("%s"), "regime_weight"},
}

// TestPropertyPinnedNeverChanges applies random updates between random
// pins and unpins, and checks after each update that every pinned value
// is still in its file (a global pin also freezes every target's own
// value of its key), and that every pinned key the update wanted to
// change is recorded as held back.
func TestPropertyPinnedNeverChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	targets := []string{"fwd_ret_5d_A", "fwd_ret_5d_B", "fwd_ret_5d_C"}
	for seed := uint64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewPCG(seed, 99))
			f := setup(t, Config{}, nil)
			for step := 0; step < 40; step++ {
				switch k := r.IntN(10); {
				case k < 3:
					randomPin(t, f, r, targets)
				case k < 4:
					pins, _ := f.p.Pins(ctx)
					if len(pins) > 0 {
						p := pins[r.IntN(len(pins))]
						if err := f.p.DeletePin(ctx, p.File, p.Target, p.Key, "bob"); err != nil {
							t.Fatal(err)
						}
					}
				default:
					checkUpdateKeepsPins(t, f, randomUpdate(r, targets))
				}
			}
		})
	}
}

func randomPin(t *testing.T, f *fixture, r *rand.Rand, targets []string) {
	t.Helper()
	k := pinnable[r.IntN(len(pinnable))]
	tgt := targets[r.IntN(len(targets))]
	file, key := k.file, k.key
	if strings.Contains(file, "%s") {
		file = fmt.Sprintf(file, tgt)
	}
	if strings.Contains(key, "%s") {
		key = fmt.Sprintf(key, tgt)
	}
	values := map[string]string{"top_n": fmt.Sprint(1 + r.IntN(100)), "cross_validation_folds": fmt.Sprint(2 + r.IntN(19)),
		"threshold": fmt.Sprint(r.IntN(101)) + "e-2", "regime_weight": fmt.Sprint(1 + r.IntN(50)), "ridge": fmt.Sprint(r.IntN(10)),
		"lightgbm": fmt.Sprint(r.IntN(10))}
	parts := strings.Split(key, ".")
	pin := flywheel.Pin{File: file, Key: key, Value: values[parts[len(parts)-1]], Reason: "property"}
	if _, err := f.p.SetPin(context.Background(), pin, "alice"); err != nil {
		t.Fatalf("set pin %+v: %v", pin, err)
	}
}

func randomUpdate(r *rand.Rand, targets []string) UpdateDoc {
	d := UpdateDoc{Target: targets[r.IntN(len(targets))], Source: flywheel.SourceHuman}
	pick := func() bool { return r.IntN(2) == 0 }
	for d.Updates == (Updates{}) {
		if pick() {
			d.Updates.LeakageDetection = &LeakageDetectionUpdate{Thresholds: map[string]float64{"threshold": float64(r.IntN(101)) / 100}}
		}
		if pick() {
			fs := &FeatureSelectionUpdate{TopN: ptr(int64(1 + r.IntN(100)))}
			if pick() {
				fs.ModelWeights = map[string]float64{}
				for _, fam := range []string{"ridge", "lightgbm", "mlp"} {
					if pick() {
						fs.ModelWeights[fam] = float64(1 + r.IntN(9))
					}
				}
				if len(fs.ModelWeights) == 0 {
					fs.ModelWeights["mlp"] = 1
				}
			}
			d.Updates.FeatureSelection = fs
		}
		if pick() {
			d.Updates.Training = &TrainingUpdate{CrossValidationFolds: ptr(int64(2 + r.IntN(19)))}
		}
		if pick() {
			d.Updates.DataSampling = &DataSamplingUpdate{RegimeWeight: ptr(float64(1 + r.IntN(50)))}
		}
	}
	return d
}

func ptr[T any](v T) *T { return &v }

// checkUpdateKeepsPins applies d and checks the property.
func checkUpdateKeepsPins(t *testing.T, f *fixture, d UpdateDoc) {
	t.Helper()
	ctx := context.Background()
	pins, err := f.p.Pins(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before := readFiles(t, f.dir)
	c, err := f.p.Apply(ctx, d, "loop", ApplyOptions{})
	if err != nil && err != ErrNoChange {
		t.Fatalf("apply %+v: %v", d.Updates, err)
	}
	after := readFiles(t, f.dir)
	wanted := wantedValues(&d)
	for _, p := range pins {
		key := strings.Split(p.Key, ".")
		if p.Target != "" || !strings.HasPrefix(p.File, "leakage") && !strings.HasPrefix(p.File, "training") {
			// An exact pin: the file holds the pin's value.
			if got := valueAt(t, after[p.File], key); got != p.Value {
				t.Errorf("pinned %s %s = %s, but the file holds %q", p.File, p.Key, p.Value, got)
			}
			if v, ok := wanted[p.File+":"+p.Key]; ok && v != p.Value && !slices.Contains(c.HeldByPins, p.File+":"+p.Key) {
				t.Errorf("update wanted %s %s = %s over pin %s; held = %v", p.File, p.Key, v, p.Value, c.HeldByPins)
			}
			continue
		}
		// A global pin: no target's own value of the key changed.
		ts := append([]string{keyTargetSpecific, d.Target}, key[len(key)-1])
		if b, a := valueAt(t, before[p.File], ts), valueAt(t, after[p.File], ts); b != a {
			t.Errorf("global pin %s %s: %s changed from %q to %q", p.File, p.Key, strings.Join(ts, "."), b, a)
		}
	}
}

// wantedValues lists what d sets, as file:key -> text, independently
// of the propagator's own mapping.
func wantedValues(d *UpdateDoc) map[string]string {
	out := map[string]string{}
	t := d.Target
	if l := d.Updates.LeakageDetection; l != nil {
		out[FileLeakage+":target_specific."+t+".threshold"] = formatFloat(l.Thresholds["threshold"])
	}
	if fs := d.Updates.FeatureSelection; fs != nil {
		out[FeatureSelectionFile(t)+":top_n"] = fmt.Sprint(*fs.TopN)
		if fs.ModelWeights != nil {
			for _, fam := range []string{"ridge", "lightgbm"} {
				w, ok := fs.ModelWeights[fam]
				out[FeatureSelectionFile(t)+":model_weights."+fam] = map[bool]string{true: formatFloat(w), false: "(deleted)"}[ok]
			}
		}
	}
	if tr := d.Updates.Training; tr != nil {
		out[FileModels+":target_specific."+t+".cross_validation_folds"] = fmt.Sprint(*tr.CrossValidationFolds)
	}
	if s := d.Updates.DataSampling; s != nil {
		out[DataSamplingFile(t)+":regime_weight"] = formatFloat(*s.RegimeWeight)
	}
	return out
}

// valueAt returns the scalar at key in a YAML text, "" when absent.
func valueAt(t *testing.T, text string, key []string) string {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(text), &n); err != nil {
		t.Fatalf("unparseable file %q: %v", text, err)
	}
	if len(n.Content) == 0 {
		return ""
	}
	v := lookupNode(n.Content[0], key)
	if v == nil {
		return ""
	}
	return v.Value
}
