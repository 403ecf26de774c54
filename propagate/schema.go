package propagate

import (
	"fmt"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/flywheel-ml/flywheel"
)

// The config files, relative to the config directory. The per-target
// files are FeatureSelectionFile and DataSamplingFile.
const (
	FileLeakage = "leakage_detection.yaml"
	FileModels  = "training/models.yaml"
	FileRanking = "training/target_ranking_config.yaml"
)

// Directories of the per-target files.
const (
	dirFeatureSelection = "feature_selection"
	dirDataSampling     = "data_sampling"
)

// FeatureSelectionFile returns the path of a target's feature-selection
// file; target must be a valid name.
func FeatureSelectionFile(target string) string { return dirFeatureSelection + "/" + target + ".yaml" }

// DataSamplingFile returns the path of a target's data-sampling file;
// target must be a valid name.
func DataSamplingFile(target string) string { return dirDataSampling + "/" + target + ".yaml" }

// AggregationMethods are the feature-importance aggregations the
// reference pipeline (package train) implements; an update or a file
// naming another would break the next training run.
var AggregationMethods = []string{"mean", "rank", "weighted_consensus", "weighted"}

// keyTarget, keyTargetSpecific: the names the files use.
const (
	keyTarget         = "target"
	keyTargetSpecific = "target_specific"
)

type leafKind int

const (
	leafFloat leafKind = iota + 1
	leafInt
	leafBool
	leafString
)

// leaf is what one scalar value may be.
type leaf struct {
	kind     leafKind
	min, max float64
	minOpen  bool
	oneOf    []string // for strings: the allowed values; nil means any name
}

// Leaves, with the sane ranges of the issue and of the reference pipeline.
var (
	leafThreshold = &leaf{kind: leafFloat, min: 0, max: 1}
	leafTopN      = &leaf{kind: leafInt, min: 1, max: 100000}
	leafAggregate = &leaf{kind: leafString, oneOf: AggregationMethods}
	leafWeight    = &leaf{kind: leafFloat, min: 0, max: 1e9}
	leafFolds     = &leaf{kind: leafInt, min: 2, max: 20}
	leafPatience  = &leaf{kind: leafInt, min: 0, max: 1000}
	leafBoolean   = &leaf{kind: leafBool}
	leafName      = &leaf{kind: leafString}
	leafRegimeW   = &leaf{kind: leafFloat, min: 0, max: 1000, minOpen: true}
	leafPositive  = &leaf{kind: leafFloat, min: 0, max: 1e9}
)

// describe says what the leaf accepts, for error messages.
func (l *leaf) describe() string {
	switch l.kind {
	case leafFloat:
		open := "["
		if l.minOpen {
			open = "("
		}
		return fmt.Sprintf("a number in %s%g, %g]", open, l.min, l.max)
	case leafInt:
		return fmt.Sprintf("a whole number from %g to %g", l.min, l.max)
	case leafBool:
		return "true or false"
	}
	if l.oneOf != nil {
		return fmt.Sprintf("one of %s", strings.Join(l.oneOf, ", "))
	}
	return "a name matching " + flywheel.NamePattern
}

// check returns why v (float64, int64, bool or string) does not fit, or "".
func (l *leaf) check(v any) string {
	bad := "must be " + l.describe()
	switch l.kind {
	case leafFloat, leafInt:
		var f float64
		switch x := v.(type) {
		case float64:
			f = x
		case int64:
			f = float64(x)
		default:
			return bad
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return "must be a finite number"
		}
		if l.kind == leafInt && f != math.Trunc(f) || f < l.min || f > l.max || l.minOpen && f == l.min {
			return fmt.Sprintf("%s, not %v", bad, v)
		}
	case leafBool:
		if _, ok := v.(bool); !ok {
			return bad
		}
	case leafString:
		s, ok := v.(string)
		switch {
		case !ok:
			return bad
		case l.oneOf != nil && !slices.Contains(l.oneOf, s):
			return fmt.Sprintf("%s, not %q", bad, truncate(s, 64))
		case l.oneOf == nil && !flywheel.ValidName(s):
			return fmt.Sprintf("%s, not %q", bad, truncate(s, 64))
		}
	}
	return ""
}

// typed converts v to the leaf's Go type (an int64 for whole numbers);
// check must have passed.
func (l *leaf) typed(v any) any {
	switch l.kind {
	case leafInt:
		if f, ok := v.(float64); ok {
			return int64(f)
		}
	case leafFloat:
		if i, ok := v.(int64); ok {
			return float64(i)
		}
	}
	return v
}

// parse reads a leaf value from text, as a person types it (pin set).
func (l *leaf) parse(s string) (any, string) {
	var v any
	switch l.kind {
	case leafFloat, leafInt:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, "must be " + l.describe() + ", not " + strconv.Quote(truncate(s, 64))
		}
		v = f
	case leafBool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return nil, "must be true or false, not " + strconv.Quote(truncate(s, 64))
		}
		v = b
	default:
		v = s
	}
	if msg := l.check(v); msg != "" {
		return nil, msg
	}
	return l.typed(v), ""
}

// spec is what one node of a config file may be: a scalar (leaf), a
// mapping (fields, each), or either.
type spec struct {
	leaf   *leaf
	fields map[string]*spec
	// each is the spec of any key not in fields; the key must be a name.
	each *spec
	// open lets keys the schema does not know through unchecked: the
	// pipeline has settings flywheel never writes.
	open bool
	// equalsTarget: the string must be the file's own target.
	equalsTarget bool
}

func (s *spec) mapping() bool { return s.fields != nil || s.each != nil || s.open }

func scalar(l *leaf) *spec { return &spec{leaf: l} }

// fileKind is one kind of config file.
type fileKind struct {
	// pattern is the path, with * for the target in per-target files.
	pattern   string
	perTarget bool
	root      *spec
	// global maps the key of a per-target value in a shared file
	// (target_specific.<t>.rest) to the key of the value for every target;
	// nil when the file has no such pairs.
	global func(rest []string) []string
}

func trainingFields(models bool) map[string]*spec {
	f := map[string]*spec{
		"cross_validation_folds": scalar(leafFolds),
		"focus_on_validation":    scalar(leafBoolean),
	}
	if models {
		f["early_stopping_patience"] = scalar(leafPatience)
		f["ridge"] = &spec{open: true, fields: map[string]*spec{"alpha": scalar(leafPositive)}}
		f["logistic"] = &spec{open: true, fields: map[string]*spec{"l2": scalar(leafPositive)}}
	}
	return f
}

func trainingSpec(models bool) *spec {
	root := &spec{open: true, fields: trainingFields(models)}
	root.fields[keyTargetSpecific] = &spec{each: &spec{open: true, fields: trainingFields(models)}}
	return root
}

func leakageSpec() *spec {
	thresholds := &spec{leaf: leafThreshold, each: scalar(leafThreshold)}
	perTarget := &spec{leaf: leafThreshold, each: scalar(leafThreshold), fields: map[string]*spec{
		"plant_leak": scalar(leafBoolean),
		"thresholds": thresholds,
	}}
	return &spec{open: true, fields: map[string]*spec{
		"plant_leak":      scalar(leafBoolean),
		"thresholds":      thresholds,
		keyTargetSpecific: {each: perTarget},
	}}
}

// fileKinds lists every file the propagator knows.
var fileKinds = []*fileKind{
	{pattern: FileLeakage, root: leakageSpec(), global: func(rest []string) []string {
		if rest[0] == "plant_leak" || rest[0] == "thresholds" {
			return rest
		}
		return append([]string{"thresholds"}, rest...)
	}},
	{pattern: FileModels, root: trainingSpec(true), global: func(rest []string) []string { return rest }},
	{pattern: FileRanking, root: trainingSpec(false), global: func(rest []string) []string { return rest }},
	{pattern: dirFeatureSelection + "/*.yaml", perTarget: true, root: &spec{open: true, fields: map[string]*spec{
		keyTarget:            {leaf: leafName, equalsTarget: true},
		"top_n":              scalar(leafTopN),
		"aggregation_method": scalar(leafAggregate),
		"model_weights":      {each: scalar(leafWeight)},
	}}},
	{pattern: dirDataSampling + "/*.yaml", perTarget: true, root: &spec{open: true, fields: map[string]*spec{
		keyTarget:       {leaf: leafName, equalsTarget: true},
		"regime_filter": scalar(leafName),
		"regime_weight": scalar(leafRegimeW),
	}}},
}

// KnownFiles lists the files and patterns the propagator writes.
func KnownFiles() []string {
	out := make([]string, len(fileKinds))
	for i, k := range fileKinds {
		out[i] = strings.Replace(k.pattern, "*", "<target>", 1)
	}
	return out
}

// kindOf returns the kind of the file at rel and, for a per-target
// file, its target. rel must be one of the known files: anything else is
// refused before it can become a path.
func kindOf(rel string) (*fileKind, string, error) {
	for _, k := range fileKinds {
		if !k.perTarget {
			if rel == k.pattern {
				return k, "", nil
			}
			continue
		}
		dir, file := path.Split(rel)
		name, ok := strings.CutSuffix(file, ".yaml")
		if dir == path.Dir(k.pattern)+"/" && ok && flywheel.ValidName(name) {
			return k, name, nil
		}
	}
	return nil, "", flywheel.FieldError("file", "%q is not a config file flywheel knows; known are %s",
		truncate(rel, 128), strings.Join(KnownFiles(), ", "))
}

// lookup returns the leaf at key in the file kind, checking that every
// segment is a known key or a valid name.
func (k *fileKind) lookup(key []string) (*leaf, error) {
	s := k.root
	for i, seg := range key {
		next, ok := s.fields[seg]
		switch {
		case ok:
		case s.each != nil:
			if !flywheel.ValidName(seg) {
				return nil, flywheel.FieldError("key", "%q in %s is not a valid name", truncate(seg, 64), strings.Join(key, "."))
			}
			next = s.each
		default:
			return nil, flywheel.FieldError("key", "%s is not a key flywheel knows in %s (%s)",
				strings.Join(key[:i+1], "."), k.pattern, k.describeKeys())
		}
		s = next
	}
	if s.leaf == nil {
		return nil, flywheel.FieldError("key", "%s holds a mapping; pin one of its values", strings.Join(key, "."))
	}
	return s.leaf, nil
}

// describeKeys lists the top-level keys of a kind, for error messages.
func (k *fileKind) describeKeys() string {
	var keys []string
	for name := range k.root.fields {
		keys = append(keys, name)
	}
	slices.Sort(keys)
	return "known keys: " + strings.Join(keys, ", ")
}

// keyTargetOf returns the target a key in a shared file belongs to
// (target_specific.<t>...), or "" for a value every target uses.
func keyTargetOf(key []string) string {
	if len(key) >= 2 && key[0] == keyTargetSpecific {
		return key[1]
	}
	return ""
}

// validateFile checks a whole file's node tree against its kind: the
// result of every edit, and every byte written, passes it.
func validateFile(k *fileKind, target string, doc *yaml.Node) error {
	root := doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil
		}
		root = root.Content[0]
	}
	return validateNode(k.root, root, nil, target)
}

func validateNode(s *spec, n *yaml.Node, at []string, target string) error {
	field := strings.Join(at, ".")
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return flywheel.FieldError(field, "uses a YAML anchor or alias, which flywheel does not edit through")
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" && len(at) > 0 {
		return nil // an empty value: the pipeline uses its default
	}
	if n.Kind == yaml.ScalarNode && s.leaf != nil {
		v, ok := scalarValue(n)
		if !ok {
			return flywheel.FieldError(field, "must be %s", s.leaf.describe())
		}
		if msg := s.leaf.check(v); msg != "" {
			return flywheel.FieldError(field, "%s", msg)
		}
		if s.equalsTarget && v != target {
			return flywheel.FieldError(field, "is %q but the file is for target %q", truncate(fmt.Sprint(v), 64), target)
		}
		return nil
	}
	if n.Kind != yaml.MappingNode || !s.mapping() {
		if s.leaf != nil {
			return flywheel.FieldError(field, "must be %s", s.leaf.describe())
		}
		return flywheel.FieldError(field, "must be a mapping of keys to values")
	}
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		key := kn.Value
		sub := append(slices.Clone(at), key)
		if kn.Kind != yaml.ScalarNode {
			return flywheel.FieldError(field, "has a key that is not a plain name (line %d)", kn.Line)
		}
		if seen[key] {
			return flywheel.FieldError(strings.Join(sub, "."), "appears twice (line %d)", kn.Line)
		}
		seen[key] = true
		next, ok := s.fields[key]
		switch {
		case ok:
		case s.each != nil:
			if !flywheel.ValidName(key) {
				return flywheel.FieldError(strings.Join(sub, "."), "is not a valid name (%s)", flywheel.NamePattern)
			}
			next = s.each
		case s.open:
			if err := checkNoAliases(vn, sub); err != nil {
				return err
			}
			continue
		default:
			return flywheel.FieldError(strings.Join(sub, "."), "is not a known key")
		}
		if err := validateNode(next, vn, sub, target); err != nil {
			return err
		}
	}
	return nil
}

// checkNoAliases refuses anchors and aliases anywhere: an edit through
// one would change every place that refers to it.
func checkNoAliases(n *yaml.Node, at []string) error {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return flywheel.FieldError(strings.Join(at, "."), "uses a YAML anchor or alias, which flywheel does not edit through")
	}
	for _, c := range n.Content {
		if err := checkNoAliases(c, at); err != nil {
			return err
		}
	}
	return nil
}

// truncate shortens user input quoted back in messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
