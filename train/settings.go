package train

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/goccy/go-yaml"

	"github.com/flywheel-ml/flywheel"
)

// Defaults of the settings a config directory may change.
const (
	DefaultFolds            = 5
	DefaultPatience         = 5 // epochs; the loop raises it to 10 for a model that underperforms live
	DefaultRidgeAlpha       = 1.0
	DefaultLogisticL2       = 1.0
	DefaultLeakageThreshold = 0.3
	DefaultRegimeWeight     = 1.0
)

// Aggregation methods: how the feature importances of several model
// families are combined to choose top_n features.
const (
	AggregateMean     = "mean"               // plain mean of each family's normalised importance
	AggregateRank     = "rank"               // mean rank, robust to one family's extreme values
	AggregateWeighted = "weighted_consensus" // mean weighted by model_weights; "weighted" is an alias
)

// Regimes a data_sampling regime_filter may name, as the regime package
// and ARPO name them.
var regimeNames = []string{"calm", "volatile", "crisis"}

// Settings are the pipeline's knobs. flywheel's config propagator writes
// them into the config directory; LoadSettings reads them back. The zero
// value is not meant for use: start from DefaultSettings.
type Settings struct {
	// From feature_selection/<target>.yaml. TopN 0 keeps every feature.
	TopN              int
	AggregationMethod string
	ModelWeights      map[string]float64

	// From training/models.yaml (top level, then target_specific.<target>).
	Folds                 int
	EarlyStoppingPatience int // logistic only; 0 turns early stopping off
	FocusOnValidation     bool
	RidgeAlpha            float64 // key ridge.alpha
	LogisticL2            float64 // key logistic.l2

	// From data_sampling/<target>.yaml. Training rows in RegimeFilter's
	// regime get RegimeWeight times the weight of the others; "" is none.
	RegimeFilter string
	RegimeWeight float64

	// From leakage_detection.yaml: thresholds (or target_specific.<target>)
	// and plant_leak, which adds LeakFeature as --leaky does.
	LeakageThreshold float64
	PlantLeak        bool

	// Files lists the files read, relative to the config directory.
	Files []string
}

// DefaultSettings returns the settings used when the config directory
// says nothing.
func DefaultSettings() Settings {
	return Settings{
		AggregationMethod:     AggregateMean,
		Folds:                 DefaultFolds,
		EarlyStoppingPatience: DefaultPatience,
		RidgeAlpha:            DefaultRidgeAlpha,
		LogisticL2:            DefaultLogisticL2,
		RegimeWeight:          DefaultRegimeWeight,
		LeakageThreshold:      DefaultLeakageThreshold,
	}
}

// SettingsError is a bad value in a config file.
type SettingsError struct {
	File string // relative to the config directory
	Key  string // dotted path inside the file
	Msg  string
}

// Error formats the error as "FILE: KEY: message".
func (e *SettingsError) Error() string {
	if e.Key == "" {
		return e.File + ": " + e.Msg
	}
	return e.File + ": " + e.Key + ": " + e.Msg
}

// LoadSettings reads the settings for target from the config directory
// dir, on top of DefaultSettings. Every file is optional and so is every
// key; keys this pipeline does not use are ignored (the config propagator
// validates the schema), but a value it uses and cannot accept is an
// error naming the file and the key. An empty dir means no directory.
func LoadSettings(dir, target string) (Settings, error) {
	s := DefaultSettings()
	if dir == "" {
		return s, nil
	}
	if !flywheel.ValidName(target) {
		// The target becomes a file name below: never a path.
		return s, flywheel.FieldError("target", "%q does not match %s", target, flywheel.NamePattern)
	}
	steps := []struct {
		file  string
		apply func(*Settings, *doc) error
	}{
		{"training/models.yaml", func(s *Settings, d *doc) error { return s.applyTraining(d, target) }},
		{"feature_selection/" + target + ".yaml", (*Settings).applyFeatureSelection},
		{"data_sampling/" + target + ".yaml", (*Settings).applyDataSampling},
		{"leakage_detection.yaml", func(s *Settings, d *doc) error { return s.applyLeakage(d, target) }},
	}
	for _, st := range steps {
		d, err := readDoc(dir, st.file)
		if err != nil {
			return s, err
		}
		if d == nil {
			continue
		}
		s.Files = append(s.Files, st.file)
		if err := st.apply(&s, d); err != nil {
			return s, err
		}
	}
	return s, nil
}

func (s *Settings) applyTraining(d *doc, target string) error {
	for _, sec := range []*doc{d, d.sub("target_specific", target)} {
		if sec == nil {
			continue
		}
		err := errors.Join(
			sec.int("cross_validation_folds", 2, 50, &s.Folds),
			sec.int("early_stopping_patience", 0, 10000, &s.EarlyStoppingPatience),
			sec.bool("focus_on_validation", &s.FocusOnValidation),
		)
		if err != nil {
			return err
		}
		if r := sec.sub("ridge"); r != nil {
			if err := r.number("alpha", 0, 1e9, false, &s.RidgeAlpha); err != nil {
				return err
			}
		}
		if l := sec.sub("logistic"); l != nil {
			if err := l.number("l2", 0, 1e9, false, &s.LogisticL2); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Settings) applyFeatureSelection(d *doc) error {
	if err := d.int("top_n", 1, 100000, &s.TopN); err != nil {
		return err
	}
	if err := d.oneOf("aggregation_method", []string{AggregateMean, AggregateRank, AggregateWeighted, "weighted"}, &s.AggregationMethod); err != nil {
		return err
	}
	if s.AggregationMethod == "weighted" {
		s.AggregationMethod = AggregateWeighted
	}
	v, ok := d.m["model_weights"]
	if !ok || v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return d.errorf("model_weights", "must be a map of model family to weight, got %v", v)
	}
	s.ModelWeights = make(map[string]float64, len(m))
	sub := &doc{file: d.file, prefix: d.key("model_weights"), m: m}
	for _, fam := range slices.Sorted(maps.Keys(m)) {
		var w float64
		if err := sub.number(fam, 0, 1e9, false, &w); err != nil {
			return err
		}
		s.ModelWeights[fam] = w
	}
	return nil
}

func (s *Settings) applyDataSampling(d *doc) error {
	filters := append([]string{"", "none", "all"}, regimeNames...)
	if err := d.oneOf("regime_filter", filters, &s.RegimeFilter); err != nil {
		return err
	}
	if s.RegimeFilter == "none" || s.RegimeFilter == "all" {
		s.RegimeFilter = ""
	}
	return d.number("regime_weight", 0, 1000, true, &s.RegimeWeight)
}

// applyLeakage reads the threshold from thresholds, overridden by
// target_specific.<target>. Each may be a number or a map holding it under
// "threshold" (what flywheel's orchestrator writes), or, in
// target_specific, a map whose "thresholds" is either.
func (s *Settings) applyLeakage(d *doc, target string) error {
	if err := d.bool("plant_leak", &s.PlantLeak); err != nil {
		return err
	}
	if err := d.threshold("thresholds", &s.LeakageThreshold); err != nil {
		return err
	}
	ts := d.sub("target_specific")
	if ts == nil {
		return nil
	}
	if t, ok := ts.m[target].(map[string]any); ok {
		sec := &doc{file: d.file, prefix: ts.key(target), m: t}
		return errors.Join(
			sec.bool("plant_leak", &s.PlantLeak),
			sec.threshold("threshold", &s.LeakageThreshold),
			sec.threshold("thresholds", &s.LeakageThreshold),
		)
	}
	return ts.threshold(target, &s.LeakageThreshold)
}

// Config returns the settings as the run's config reports them, in the
// shape of the config files, so that CILS can read the feature-selection
// strategy from it (cils.StrategyOf).
func (s Settings) Config() map[string]any {
	fsel := map[string]any{"aggregation_method": s.AggregationMethod}
	if s.TopN > 0 {
		fsel["top_n"] = s.TopN
	}
	if len(s.ModelWeights) > 0 {
		fsel["model_weights"] = maps.Clone(s.ModelWeights)
	}
	sampling := map[string]any{"regime_weight": s.RegimeWeight}
	if s.RegimeFilter != "" {
		sampling["regime_filter"] = s.RegimeFilter
	}
	return map[string]any{
		"feature_selection": fsel,
		"training": map[string]any{
			"cross_validation_folds":  s.Folds,
			"early_stopping_patience": s.EarlyStoppingPatience,
			"focus_on_validation":     s.FocusOnValidation,
			"ridge":                   map[string]any{"alpha": s.RidgeAlpha},
			"logistic":                map[string]any{"l2": s.LogisticL2},
		},
		"data_sampling":     sampling,
		"leakage_detection": map[string]any{"threshold": s.LeakageThreshold, "plant_leak": s.PlantLeak},
	}
}

// check validates settings built in code rather than loaded.
func (s *Settings) check() error {
	d := &doc{file: "settings", m: map[string]any{
		"cross_validation_folds": float64(s.Folds), "early_stopping_patience": float64(s.EarlyStoppingPatience),
		"top_n": float64(s.TopN), "alpha": s.RidgeAlpha, "l2": s.LogisticL2, "threshold": s.LeakageThreshold,
		"regime_weight": s.RegimeWeight, "aggregation_method": s.AggregationMethod, "regime_filter": s.RegimeFilter,
	}}
	var sink Settings
	return errors.Join(
		d.int("cross_validation_folds", 2, 50, &sink.Folds),
		d.int("early_stopping_patience", 0, 10000, &sink.EarlyStoppingPatience),
		d.int("top_n", 0, 100000, &sink.TopN),
		d.number("alpha", 0, 1e9, false, &sink.RidgeAlpha),
		d.number("l2", 0, 1e9, false, &sink.LogisticL2),
		d.threshold("threshold", &sink.LeakageThreshold),
		d.number("regime_weight", 0, 1000, true, &sink.RegimeWeight),
		d.oneOf("aggregation_method", []string{AggregateMean, AggregateRank, AggregateWeighted}, &sink.AggregationMethod),
		d.oneOf("regime_filter", append([]string{""}, regimeNames...), &sink.RegimeFilter),
	)
}

// doc is one YAML mapping of a config file, at a key prefix.
type doc struct {
	file   string
	prefix string
	m      map[string]any
}

// readDoc parses dir/rel; a missing file gives nil and no error.
func readDoc(dir, rel string) (*doc, error) {
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return parseDoc(rel, data)
}

// parseDoc parses the YAML of the config file rel: a mapping, or nothing.
func parseDoc(rel string, data []byte) (*doc, error) {
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		return nil, &SettingsError{File: rel, Msg: "not valid YAML: " + err.Error()}
	}
	switch m := v.(type) {
	case nil:
		return &doc{file: rel, m: map[string]any{}}, nil
	case map[string]any:
		return &doc{file: rel, m: m}, nil
	}
	return nil, &SettingsError{File: rel, Msg: "the top level must be a mapping of keys to values"}
}

func (d *doc) key(k string) string {
	if d.prefix == "" {
		return k
	}
	return d.prefix + "." + k
}

func (d *doc) errorf(k, format string, args ...any) error {
	return &SettingsError{File: d.file, Key: d.key(k), Msg: fmt.Sprintf(format, args...)}
}

// sub returns the mapping at the path of keys, or nil when any is absent
// or not a mapping.
func (d *doc) sub(path ...string) *doc {
	cur := d
	for _, k := range path {
		m, ok := cur.m[k].(map[string]any)
		if !ok {
			return nil
		}
		cur = &doc{file: d.file, prefix: cur.key(k), m: m}
	}
	return cur
}

// number sets *dst from key when present: a finite number in [lo, hi],
// or (lo, hi] when loOpen.
func (d *doc) number(k string, lo, hi float64, loOpen bool, dst *float64) error {
	v, ok := d.m[k]
	if !ok || v == nil {
		return nil
	}
	f, isNum := toFloat(v)
	bad := !isNum || math.IsNaN(f) || math.IsInf(f, 0) || f > hi || f < lo || loOpen && f == lo
	if bad {
		open := "["
		if loOpen {
			open = "("
		}
		return d.errorf(k, "must be a number in %s%g, %g], got %v", open, lo, hi, v)
	}
	*dst = f
	return nil
}

// int sets *dst from key when present: a whole number in [lo, hi].
func (d *doc) int(k string, lo, hi int, dst *int) error {
	v, ok := d.m[k]
	if !ok || v == nil {
		return nil
	}
	f, isNum := toFloat(v)
	if !isNum || f != math.Trunc(f) || f < float64(lo) || f > float64(hi) {
		return d.errorf(k, "must be a whole number from %d to %d, got %v", lo, hi, v)
	}
	*dst = int(f)
	return nil
}

func (d *doc) bool(k string, dst *bool) error {
	v, ok := d.m[k]
	if !ok || v == nil {
		return nil
	}
	b, isBool := v.(bool)
	if !isBool {
		return d.errorf(k, "must be true or false, got %v", v)
	}
	*dst = b
	return nil
}

func (d *doc) oneOf(k string, allowed []string, dst *string) error {
	v, ok := d.m[k]
	if !ok || v == nil {
		return nil
	}
	str, isStr := v.(string)
	if !isStr || !slices.Contains(allowed, str) {
		return d.errorf(k, "must be one of %q, got %v", slices.DeleteFunc(slices.Clone(allowed), func(s string) bool { return s == "" }), v)
	}
	*dst = str
	return nil
}

// threshold reads a leakage threshold in [0, 1] at key: a number, or a
// mapping holding one under "threshold".
func (d *doc) threshold(k string, dst *float64) error {
	if sub := d.sub(k); sub != nil {
		return sub.threshold("threshold", dst)
	}
	return d.number(k, 0, 1, false, dst)
}

// toFloat accepts the number types a YAML decoder produces.
func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case uint64:
		return float64(x), true
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	}
	return 0, false
}
