package propagate

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/flywheel-ml/flywheel"
)

// MaxDocBytes bounds an update document: a real one is a few hundred
// bytes, so a larger one is a mistake.
const MaxDocBytes = 1 << 20

// maxTargets bounds the targets one change rolls out to.
const maxTargets = 10000

// UpdateDoc is one config update in the shape of the seed's
// generate_config_updates output (section 3.2), with its target and
// source. Optional fields say where it comes from and where it goes.
type UpdateDoc struct {
	Target string `json:"target" yaml:"target"`
	// Source is "CILS" or "ARPO" for a learned update, "human" for one a
	// person wrote. Only learned updates wait for approval and roll out
	// through a canary.
	Source  string  `json:"source" yaml:"source"`
	Updates Updates `json:"updates" yaml:"updates"`
	// SignalID and ModelFamily: the signal whose retrain the update
	// belongs to, as the orchestrator writes them.
	SignalID    string `json:"signal_id,omitempty" yaml:"signal_id,omitempty"`
	ModelFamily string `json:"model_family,omitempty" yaml:"model_family,omitempty"`
	Reason      string `json:"reason,omitempty" yaml:"reason,omitempty"`
	// Targets are every target the update applies to (Target among them);
	// empty means Target alone.
	Targets []string `json:"targets,omitempty" yaml:"targets,omitempty"`
}

// Updates are the sections of an update; a nil section is left alone.
type Updates struct {
	LeakageDetection *LeakageDetectionUpdate `json:"leakage_detection,omitempty" yaml:"leakage_detection,omitempty"`
	FeatureSelection *FeatureSelectionUpdate `json:"feature_selection,omitempty" yaml:"feature_selection,omitempty"`
	Training         *TrainingUpdate         `json:"training,omitempty" yaml:"training,omitempty"`
	DataSampling     *DataSamplingUpdate     `json:"data_sampling,omitempty" yaml:"data_sampling,omitempty"`
}

// LeakageDetectionUpdate sets leakage thresholds by name ("threshold" is
// the one the reference pipeline reads), written under
// target_specific.<target> of leakage_detection.yaml.
type LeakageDetectionUpdate struct {
	Thresholds map[string]float64 `json:"thresholds" yaml:"thresholds"`
}

// FeatureSelectionUpdate is a feature-selection strategy for
// feature_selection/<target>.yaml. ModelWeights replaces the file's
// weights as a whole: weights are one vector, and keeping a family the
// strategy dropped would make another strategy than the one learned.
type FeatureSelectionUpdate struct {
	TopN              *int64             `json:"top_n,omitempty" yaml:"top_n,omitempty"`
	AggregationMethod *string            `json:"aggregation_method,omitempty" yaml:"aggregation_method,omitempty"`
	ModelWeights      map[string]float64 `json:"model_weights,omitempty" yaml:"model_weights,omitempty"`
}

// TrainingUpdate sets training settings for the target in
// training/models.yaml and, for the two the target ranking uses, in
// training/target_ranking_config.yaml.
type TrainingUpdate struct {
	FocusOnValidation     *bool  `json:"focus_on_validation,omitempty" yaml:"focus_on_validation,omitempty"`
	EarlyStoppingPatience *int64 `json:"early_stopping_patience,omitempty" yaml:"early_stopping_patience,omitempty"`
	CrossValidationFolds  *int64 `json:"cross_validation_folds,omitempty" yaml:"cross_validation_folds,omitempty"`
}

// DataSamplingUpdate makes training emphasise a regime, in
// data_sampling/<target>.yaml.
type DataSamplingUpdate struct {
	RegimeFilter *string  `json:"regime_filter,omitempty" yaml:"regime_filter,omitempty"`
	RegimeWeight *float64 `json:"regime_weight,omitempty" yaml:"regime_weight,omitempty"`
}

// Learned reports whether the update comes from a learner rather than a
// person.
func (d *UpdateDoc) Learned() bool { return d.Source != flywheel.SourceHuman }

// DecodeUpdate reads an update document from JSON or YAML (JSON is
// YAML). Unknown fields, wrong types and non-finite numbers are refused
// with an error naming the field as a dotted path; ranges are checked by
// Validate.
func DecodeUpdate(data []byte) (UpdateDoc, error) {
	var d UpdateDoc
	if len(data) > MaxDocBytes {
		return d, flywheel.Errorf(flywheel.ETooLarge, "the update document is larger than %d bytes", MaxDocBytes)
	}
	doc, err := parseDoc(data)
	if err != nil {
		msg := strings.Replace(err.(*flywheel.Error).Message, "valid YAML", "valid JSON or YAML", 1)
		return d, flywheel.Errorf(flywheel.EInvalid, "the update document %s", msg)
	}
	root := rootMap(doc)
	if len(root.Content) == 0 {
		return d, flywheel.Errorf(flywheel.EInvalid, "the update document is empty")
	}
	r := &reader{}
	r.object(root, "", map[string]func(*yaml.Node, string){
		"target":       func(n *yaml.Node, f string) { d.Target = r.str(n, f) },
		"source":       func(n *yaml.Node, f string) { d.Source = r.str(n, f) },
		"signal_id":    func(n *yaml.Node, f string) { d.SignalID = r.str(n, f) },
		"model_family": func(n *yaml.Node, f string) { d.ModelFamily = r.str(n, f) },
		"reason":       func(n *yaml.Node, f string) { d.Reason = r.str(n, f) },
		"targets":      func(n *yaml.Node, f string) { d.Targets = r.strs(n, f) },
		"updates":      func(n *yaml.Node, f string) { r.updates(n, f, &d.Updates) },
	})
	return d, r.err
}

// reader walks a document node by node, keeping the first error.
type reader struct{ err error }

func (r *reader) fail(field, format string, args ...any) {
	if r.err == nil {
		r.err = flywheel.FieldError(field, format, args...)
	}
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// object reads a mapping whose keys must be in fields; null values are
// absent values.
func (r *reader) object(n *yaml.Node, at string, fields map[string]func(*yaml.Node, string)) {
	if !r.mapping(n, at) {
		return
	}
	for i := 0; i+1 < len(n.Content) && r.err == nil; i += 2 {
		key, val := n.Content[i].Value, n.Content[i+1]
		f, ok := fields[key]
		if !ok {
			r.fail(join(at, key), "is not a known field")
			return
		}
		if !isNull(val) {
			f(val, join(at, key))
		}
	}
}

// mapping checks that n is a mapping of distinct plain keys.
func (r *reader) mapping(n *yaml.Node, at string) bool {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		r.fail(at, "uses a YAML anchor or alias; write the value out")
		return false
	}
	if n.Kind != yaml.MappingNode {
		r.fail(at, "must be an object")
		return false
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode {
			r.fail(at, "has a key that is not a string (line %d)", k.Line)
			return false
		}
		if seen[k.Value] {
			r.fail(join(at, k.Value), "is given twice")
			return false
		}
		seen[k.Value] = true
	}
	return true
}

func (r *reader) value(n *yaml.Node, field string) (any, bool) {
	v, ok := scalarValue(n)
	if !ok {
		r.fail(field, "must be a single value, not %s", kindName(n))
	}
	return v, ok
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "an object"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	return "a " + strings.TrimPrefix(n.ShortTag(), "!!")
}

func (r *reader) str(n *yaml.Node, field string) string {
	v, ok := r.value(n, field)
	s, isStr := v.(string)
	if ok && !isStr {
		r.fail(field, "must be a string, not %s", kindName(n))
	}
	return s
}

func (r *reader) strs(n *yaml.Node, field string) []string {
	if n.Kind != yaml.SequenceNode {
		r.fail(field, "must be a list of strings")
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for i, c := range n.Content {
		out = append(out, r.str(c, field+"["+strconv.Itoa(i)+"]"))
	}
	return out
}

func (r *reader) number(n *yaml.Node, field string) float64 {
	v, ok := r.value(n, field)
	if !ok {
		return 0
	}
	f, num := asFloat(v)
	switch {
	case !num && n.ShortTag() == "!!float":
		r.fail(field, "must be a finite number")
	case !num:
		r.fail(field, "must be a number, not %s", kindName(n))
	case f != f || f > 1e300 || f < -1e300:
		r.fail(field, "must be a finite number")
	}
	return f
}

func (r *reader) whole(n *yaml.Node, field string) *int64 {
	f := r.number(n, field)
	switch {
	case r.err != nil:
	case f > 1e15 || f < -1e15:
		r.fail(field, "is out of range: %v", f)
	case f != math.Trunc(f):
		r.fail(field, "must be a whole number, not %v", f)
	}
	i := int64(f)
	return &i
}

func (r *reader) boolean(n *yaml.Node, field string) *bool {
	v, ok := r.value(n, field)
	b, isBool := v.(bool)
	if ok && !isBool {
		r.fail(field, "must be true or false, not %s", kindName(n))
	}
	return &b
}

func (r *reader) numbers(n *yaml.Node, field string) map[string]float64 {
	if !r.mapping(n, field) {
		return nil
	}
	out := make(map[string]float64, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i].Value
		out[k] = r.number(n.Content[i+1], join(field, k))
	}
	return out
}

func (r *reader) updates(n *yaml.Node, at string, u *Updates) {
	r.object(n, at, map[string]func(*yaml.Node, string){
		"leakage_detection": func(n *yaml.Node, f string) {
			u.LeakageDetection = &LeakageDetectionUpdate{}
			r.object(n, f, map[string]func(*yaml.Node, string){
				"thresholds": func(n *yaml.Node, f string) { u.LeakageDetection.Thresholds = r.numbers(n, f) },
			})
		},
		"feature_selection": func(n *yaml.Node, f string) {
			fs := &FeatureSelectionUpdate{}
			u.FeatureSelection = fs
			r.object(n, f, map[string]func(*yaml.Node, string){
				"top_n": func(n *yaml.Node, f string) { fs.TopN = r.whole(n, f) },
				"aggregation_method": func(n *yaml.Node, f string) {
					s := r.str(n, f)
					fs.AggregationMethod = &s
				},
				"model_weights": func(n *yaml.Node, f string) { fs.ModelWeights = r.numbers(n, f) },
			})
		},
		"training": func(n *yaml.Node, f string) {
			t := &TrainingUpdate{}
			u.Training = t
			r.object(n, f, map[string]func(*yaml.Node, string){
				"focus_on_validation":     func(n *yaml.Node, f string) { t.FocusOnValidation = r.boolean(n, f) },
				"early_stopping_patience": func(n *yaml.Node, f string) { t.EarlyStoppingPatience = r.whole(n, f) },
				"cross_validation_folds":  func(n *yaml.Node, f string) { t.CrossValidationFolds = r.whole(n, f) },
			})
		},
		"data_sampling": func(n *yaml.Node, f string) {
			d := &DataSamplingUpdate{}
			u.DataSampling = d
			r.object(n, f, map[string]func(*yaml.Node, string){
				"regime_filter": func(n *yaml.Node, f string) {
					s := r.str(n, f)
					d.RegimeFilter = &s
				},
				"regime_weight": func(n *yaml.Node, f string) {
					w := r.number(n, f)
					d.RegimeWeight = &w
				},
			})
		},
	})
}

// Validate checks the document: names, the source, and every value
// against the range of the file it will be written to. The first problem
// is returned, naming its field.
func (d *UpdateDoc) Validate() error {
	if err := flywheel.CheckName("target", d.Target, true); err != nil {
		return err
	}
	switch d.Source {
	case flywheel.SourceCILS, flywheel.SourceARPO, flywheel.SourceHuman:
	case "":
		return flywheel.FieldError("source", "is required")
	default:
		return flywheel.FieldError("source", "%q is not one of %s, %s, %s", truncate(d.Source, 64),
			flywheel.SourceCILS, flywheel.SourceARPO, flywheel.SourceHuman)
	}
	if err := firstError(flywheel.CheckName("signal_id", d.SignalID, false),
		flywheel.CheckName("model_family", d.ModelFamily, false)); err != nil {
		return err
	}
	if len(d.Reason) > 1000 {
		return flywheel.FieldError("reason", "is %d characters; at most 1000", len(d.Reason))
	}
	if len(d.Targets) > maxTargets {
		return flywheel.FieldError("targets", "has %d targets; at most %d", len(d.Targets), maxTargets)
	}
	for i, t := range d.Targets {
		if err := flywheel.CheckName("targets["+strconv.Itoa(i)+"]", t, true); err != nil {
			return err
		}
	}
	if d.Updates == (Updates{}) {
		return flywheel.FieldError("updates", "has no section; give at least one of leakage_detection, feature_selection, training, data_sampling")
	}
	writes, err := writesFor(d, d.Target)
	if err != nil {
		return err
	}
	for _, w := range writes {
		if w.leaf == nil {
			continue // a prune: nothing to check
		}
		if msg := w.leaf.check(w.value); msg != "" {
			return flywheel.FieldError(w.field, "%s", msg)
		}
	}
	if fs := d.Updates.FeatureSelection; fs != nil && fs.ModelWeights != nil {
		sum := 0.0
		for _, w := range fs.ModelWeights {
			sum += w
		}
		if sum <= 0 {
			return flywheel.FieldError("updates.feature_selection.model_weights", "must have a positive weight")
		}
	}
	return nil
}

// fingerprint identifies what an update changes, whoever sends it: a
// quarantined change is recognised when the loop generates it again.
func (d *UpdateDoc) fingerprint() string {
	b, _ := json.Marshal(struct {
		Target  string  `json:"target"`
		Updates Updates `json:"updates"`
	}{d.Target, d.Updates})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}

// rolloutTargets returns Target and every other target the update
// applies to, Target first, the rest sorted and without repeats.
func rolloutTargets(d *UpdateDoc, extra []string) []string {
	set := map[string]bool{}
	for _, t := range append(slices.Clone(d.Targets), extra...) {
		if t != d.Target {
			set[t] = true
		}
	}
	return append([]string{d.Target}, slices.Sorted(maps.Keys(set))...)
}

// firstError returns the first non-nil error.
func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
