package propagate

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/flywheel-ml/flywheel"
)

// write is one value an update puts into a file for one target.
type write struct {
	file   string
	key    []string
	value  any // float64, int64, bool or string
	leaf   *leaf
	field  string // the update document's field, for errors
	target string
	// pruneExcept, when not nil, makes this a prune instead: every value
	// under key whose name is not listed is deleted (model_weights).
	pruneExcept []string
	// label marks the file's target key, written (first in the file) only
	// along with a real change: on its own it changes nothing.
	label bool
}

// writesFor returns what d writes for target, in a fixed order. It
// checks the names used as keys; values are checked by the caller.
func writesFor(d *UpdateDoc, target string) ([]write, error) {
	w := &writer{target: target}
	u := &d.Updates
	err := firstError(w.leakage(u.LeakageDetection), w.featureSelection(u.FeatureSelection),
		w.training(u.Training), w.dataSampling(u.DataSampling))
	return w.out, err
}

// writer collects the writes of one update for one target.
type writer struct {
	target string
	out    []write
}

func (w *writer) add(file string, key []string, v any, l *leaf, field string) {
	w.out = append(w.out, write{file: file, key: key, value: l.typed(v), leaf: l, field: field, target: w.target})
}

// label writes the per-target file's target key.
func (w *writer) label(file string) {
	w.out = append(w.out, write{file: file, key: []string{keyTarget}, value: w.target, leaf: leafName, field: "target",
		target: w.target, label: true})
}

// ts is a key under target_specific.<target>.
func (w *writer) ts(rest ...string) []string {
	return append([]string{keyTargetSpecific, w.target}, rest...)
}

func (w *writer) leakage(l *LeakageDetectionUpdate) error {
	if l == nil {
		return nil
	}
	const f = "updates.leakage_detection.thresholds"
	if len(l.Thresholds) == 0 {
		return flywheel.FieldError(f, "is empty; give at least one threshold")
	}
	for _, name := range slices.Sorted(maps.Keys(l.Thresholds)) {
		if err := flywheel.CheckName(f, name, true); err != nil {
			return err
		}
		if name == "plant_leak" {
			return flywheel.FieldError(f+"."+name, "is not a threshold: it would overwrite the file's own key")
		}
		w.add(FileLeakage, w.ts(name), l.Thresholds[name], leafThreshold, f+"."+name)
	}
	return nil
}

func (w *writer) featureSelection(fs *FeatureSelectionUpdate) error {
	if fs == nil {
		return nil
	}
	const f = "updates.feature_selection"
	file := FeatureSelectionFile(w.target)
	if fs.TopN == nil && fs.AggregationMethod == nil && fs.ModelWeights == nil {
		return flywheel.FieldError(f, "is empty; give top_n, aggregation_method or model_weights")
	}
	if fs.TopN != nil {
		w.add(file, []string{"top_n"}, *fs.TopN, leafTopN, f+".top_n")
	}
	if fs.AggregationMethod != nil {
		w.add(file, []string{"aggregation_method"}, *fs.AggregationMethod, leafAggregate, f+".aggregation_method")
	}
	if fs.ModelWeights != nil {
		if len(fs.ModelWeights) == 0 {
			return flywheel.FieldError(f+".model_weights", "is empty; give at least one weight")
		}
		names := slices.Sorted(maps.Keys(fs.ModelWeights))
		for _, name := range names {
			if err := flywheel.CheckName(f+".model_weights", name, true); err != nil {
				return err
			}
			w.add(file, []string{"model_weights", name}, fs.ModelWeights[name], leafWeight, f+".model_weights."+name)
		}
		w.out = append(w.out, write{file: file, key: []string{"model_weights"}, target: w.target, pruneExcept: names})
	}
	w.label(file)
	return nil
}

// training writes all three settings into training/models.yaml, and the
// two the target ranking uses into training/target_ranking_config.yaml.
func (w *writer) training(t *TrainingUpdate) error {
	if t == nil {
		return nil
	}
	const f = "updates.training"
	if *t == (TrainingUpdate{}) {
		return flywheel.FieldError(f, "is empty; give focus_on_validation, early_stopping_patience or cross_validation_folds")
	}
	for _, file := range []string{FileModels, FileRanking} {
		if t.FocusOnValidation != nil {
			w.add(file, w.ts("focus_on_validation"), *t.FocusOnValidation, leafBoolean, f+".focus_on_validation")
		}
		if t.EarlyStoppingPatience != nil && file == FileModels {
			w.add(file, w.ts("early_stopping_patience"), *t.EarlyStoppingPatience, leafPatience, f+".early_stopping_patience")
		}
		if t.CrossValidationFolds != nil {
			w.add(file, w.ts("cross_validation_folds"), *t.CrossValidationFolds, leafFolds, f+".cross_validation_folds")
		}
	}
	return nil
}

func (w *writer) dataSampling(s *DataSamplingUpdate) error {
	if s == nil {
		return nil
	}
	const f = "updates.data_sampling"
	file := DataSamplingFile(w.target)
	if *s == (DataSamplingUpdate{}) {
		return flywheel.FieldError(f, "is empty; give regime_filter or regime_weight")
	}
	if s.RegimeFilter != nil {
		w.add(file, []string{"regime_filter"}, *s.RegimeFilter, leafName, f+".regime_filter")
	}
	if s.RegimeWeight != nil {
		w.add(file, []string{"regime_weight"}, *s.RegimeWeight, leafRegimeW, f+".regime_weight")
	}
	w.label(file)
	return nil
}

// Edit is one value a change set in a file; a rollback puts Old back
// where the file still holds New.
type Edit struct {
	File string   `json:"file"`
	Key  []string `json:"key"`
	// Old is nil when the key was absent, New nil when it was deleted.
	Old *Scalar `json:"old"`
	New *Scalar `json:"new"`
}

// fileState is one file as a plan reads and changes it.
type fileState struct {
	rel     string // the logical path, relative to the config directory
	kind    *fileKind
	target  string // of a per-target file
	existed bool
	old     []byte
	doc     *yaml.Node
	base    []byte // the bytes doc was parsed from, whose layout to keep
	dirty   bool
	remove  bool   // delete the file
	out     []byte // the new bytes, set by finish
}

// plan collects the edits of one operation before anything is written.
type plan struct {
	p     *Propagator
	files map[string]*fileState
	order []string
	pins  []pinRef
	edits []Edit
	held  []string
}

// pinRef is a pin with its key split into parts.
type pinRef struct {
	flywheel.Pin
	key []string
}

func (p *Propagator) newPlan(ctx context.Context) (*plan, error) {
	pins, err := p.store.Pins(ctx)
	if err != nil {
		return nil, err
	}
	pl := &plan{p: p, files: map[string]*fileState{}}
	for _, pin := range pins {
		k, _, err := kindOf(pin.File)
		if err != nil {
			continue // a pin on a file flywheel does not write holds nothing back
		}
		key, ok := splitKey(k.root, strings.Split(pin.Key, "."))
		if !ok {
			continue
		}
		pl.pins = append(pl.pins, pinRef{Pin: pin, key: key})
	}
	return pl, nil
}

// file loads rel, once per plan.
func (pl *plan) file(rel string) (*fileState, error) {
	if f, ok := pl.files[rel]; ok {
		return f, nil
	}
	kind, target, err := kindOf(rel)
	if err != nil {
		return nil, err
	}
	data, err := pl.p.readFile(rel)
	f := &fileState{rel: rel, kind: kind, target: target, existed: err == nil, old: data, base: data}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if f.doc, err = parseDoc(data); err != nil {
		return nil, withFile(err, rel)
	}
	if err := validateFile(kind, target, f.doc); err != nil {
		return nil, flywheel.Errorf(flywheel.EInvalid, "%s is already invalid, so flywheel will not edit it: %s; fix it by hand",
			rel, err.Error())
	}
	pl.files[rel] = f
	pl.order = append(pl.order, rel)
	return f, nil
}

// withFile names the file in an error from parsing, validating or
// editing it: "feature_selection/x.yaml: top_n: must be ...".
func withFile(err error, rel string) error {
	var e *flywheel.Error
	if !errors.As(err, &e) {
		return err
	}
	c := *e
	if c.Field != "" {
		c.Message = rel + ": " + c.Field + ": " + c.Message
	} else {
		c.Message = rel + " " + c.Message
	}
	c.Field = ""
	return &c
}

// pinned returns the pin that holds key of file for target, if any: a
// pin on the very key, or, in a shared file, a pin for every target on
// the matching global key (thresholds.x holds target_specific.<t>.x).
func (pl *plan) pinned(f *fileState, key []string) *pinRef {
	for i := range pl.pins {
		pin := &pl.pins[i]
		if pin.File != f.rel {
			continue
		}
		if slices.Equal(pin.key, key) {
			return pin
		}
		if f.kind.global != nil && pin.Target == "" && len(key) > 2 && key[0] == keyTargetSpecific &&
			slices.Equal(pin.key, f.kind.global(key[2:])) {
			return pin
		}
	}
	return nil
}

func heldName(file string, key []string) string { return file + ":" + strings.Join(key, ".") }

// apply puts one write into its file, unless a pin holds the key.
func (pl *plan) apply(w write) error {
	f, err := pl.file(w.file)
	if err != nil {
		return err
	}
	root := rootMap(f.doc)
	if w.pruneExcept != nil {
		return pl.prune(f, w)
	}
	cur := lookupNode(root, w.key)
	if cur != nil && sameValue(cur, w.value) || w.label && !f.dirty {
		return nil
	}
	if pl.pinned(f, w.key) != nil {
		pl.hold(heldName(f.rel, w.key))
		return nil
	}
	s := scalarOf(w.value)
	if w.label && cur == nil {
		// A person reading the file sees first whose it is.
		root.Content = append([]*yaml.Node{{Kind: yaml.ScalarNode, Tag: "!!str", Value: keyTarget},
			{Kind: yaml.ScalarNode, Tag: s.Tag, Value: s.Value}}, root.Content...)
		f.dirty = true
		pl.edits = append(pl.edits, Edit{File: f.rel, Key: w.key, New: s})
		return nil
	}
	old, err := setNode(root, w.key, s)
	if err != nil {
		return withFile(err, f.rel)
	}
	f.dirty = true
	pl.edits = append(pl.edits, Edit{File: f.rel, Key: w.key, Old: old, New: s})
	return nil
}

// prune deletes the values under w.key not named in w.pruneExcept.
func (pl *plan) prune(f *fileState, w write) error {
	root := rootMap(f.doc)
	m := lookupNode(root, w.key)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	var drop []string
	for i := 0; i+1 < len(m.Content); i += 2 {
		if name := m.Content[i].Value; !slices.Contains(w.pruneExcept, name) {
			drop = append(drop, name)
		}
	}
	for _, name := range drop {
		key := append(slices.Clone(w.key), name)
		if pl.pinned(f, key) != nil {
			pl.hold(heldName(f.rel, key))
			continue
		}
		old, err := deleteNode(root, key)
		if err != nil {
			return withFile(err, f.rel)
		}
		f.dirty = true
		pl.edits = append(pl.edits, Edit{File: f.rel, Key: key, Old: old})
	}
	return nil
}

func (pl *plan) hold(name string) {
	if !slices.Contains(pl.held, name) {
		pl.held = append(pl.held, name)
	}
}

// revert undoes an edit where the file still holds what it wrote; it
// reports false when the value changed since (or a pin holds it), and
// leaves it.
func (pl *plan) revert(e Edit) (bool, error) {
	f, err := pl.file(e.File)
	if err != nil {
		return false, err
	}
	root := rootMap(f.doc)
	cur := lookupNode(root, e.Key)
	if cur != nil && cur.Kind != yaml.ScalarNode || !sameScalar(cur, e.New) {
		return false, nil
	}
	if pl.pinned(f, e.Key) != nil {
		pl.hold(heldName(f.rel, e.Key))
		return false, nil
	}
	if e.Old == nil {
		_, err = deleteNode(root, e.Key)
	} else {
		_, err = setNode(root, e.Key, e.Old)
	}
	if err != nil {
		return false, withFile(err, f.rel)
	}
	f.dirty = true
	pl.edits = append(pl.edits, Edit{File: e.File, Key: e.Key, Old: e.New, New: e.Old})
	return true, nil
}

// setContent replaces a file whole (restore, baseline); nil deletes it.
func (pl *plan) setContent(rel string, data []byte) error {
	f, err := pl.fileForRestore(rel)
	if err != nil {
		return err
	}
	if data == nil {
		f.doc, _ = parseDoc(nil)
		f.base, f.out = nil, nil
		f.remove, f.dirty = f.existed, f.existed
		return nil
	}
	doc, err := parseDoc(data)
	if err != nil {
		return withFile(err, rel)
	}
	f.doc, f.base, f.out, f.remove = doc, data, slices.Clone(data), false
	f.dirty = !f.existed || string(data) != string(f.old)
	return nil
}

// fileForRestore loads rel without refusing a file that is invalid now:
// a restore is how a person repairs one. A file that does not parse has
// no doc until setContent gives it one.
func (pl *plan) fileForRestore(rel string) (*fileState, error) {
	if f, ok := pl.files[rel]; ok {
		return f, nil
	}
	kind, target, err := kindOf(rel)
	if err != nil {
		return nil, err
	}
	data, err := pl.p.readFile(rel)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	f := &fileState{rel: rel, kind: kind, target: target, existed: err == nil, old: data, base: data}
	f.doc, _ = parseDoc(data)
	pl.files[rel] = f
	pl.order = append(pl.order, rel)
	return f, nil
}

// finish encodes every changed file and validates the result. A file
// in created (made by the change being undone) that the edits left empty
// is deleted rather than written as "{}".
func (pl *plan) finish(created map[string]bool) error {
	for _, rel := range pl.order {
		f := pl.files[rel]
		if !f.dirty || f.remove {
			continue
		}
		if f.out == nil {
			root := rootMap(f.doc)
			if created[rel] && len(root.Content) == 0 && root.HeadComment == "" {
				f.remove, f.dirty = f.existed, f.existed
				continue
			}
			out, err := encodeDoc(f.doc, f.base)
			if err != nil {
				return err
			}
			f.out = out
		}
		if err := checkBytes(f.kind, f.target, f.out); err != nil {
			return withFile(err, rel)
		}
		if f.existed && string(f.out) == string(f.old) {
			f.dirty = false
		}
	}
	return nil
}

// checkBytes is the validation every written byte passes: it parses and
// fits its file's schema.
func checkBytes(k *fileKind, target string, data []byte) error {
	doc, err := parseDoc(data)
	if err != nil {
		return err
	}
	return validateFile(k, target, doc)
}

// changed returns the files the plan writes or deletes, in order.
func (pl *plan) changed() []*fileState {
	var out []*fileState
	for _, rel := range pl.order {
		if f := pl.files[rel]; f.dirty {
			out = append(out, f)
		}
	}
	return out
}

// splitKey splits a dotted key into the parts of the file's schema. A
// name may itself hold dots (a target fwd_ret_5d_BRK.B), so every way of
// reading the key is tried, and the one whose last part has no dot wins
// (target_specific.fwd_ret_5d_BRK.B.threshold is the threshold of
// fwd_ret_5d_BRK.B, not a threshold named B.threshold), then the one with
// the most parts.
func splitKey(s *spec, parts []string) ([]string, bool) {
	if len(parts) > 16 {
		return nil, false
	}
	var best []string
	better := func(a []string) bool {
		if best == nil {
			return true
		}
		ad, bd := strings.Contains(a[len(a)-1], "."), strings.Contains(best[len(best)-1], ".")
		if ad != bd {
			return !ad
		}
		return len(a) > len(best)
	}
	for _, split := range allSplits(s, parts) {
		if better(split) {
			best = split
		}
	}
	return best, best != nil
}

// allSplits lists every reading of parts that ends at a leaf of s.
func allSplits(s *spec, parts []string) [][]string {
	if len(parts) == 0 {
		if s.leaf != nil {
			return [][]string{{}}
		}
		return nil
	}
	var out [][]string
	prefixed := func(name string, rests [][]string) {
		for _, r := range rests {
			out = append(out, append([]string{name}, r...))
		}
	}
	if next, ok := s.fields[parts[0]]; ok {
		prefixed(parts[0], allSplits(next, parts[1:]))
	}
	if s.each == nil {
		return out
	}
	for j := 1; j <= len(parts); j++ {
		name := strings.Join(parts[:j], ".")
		if _, known := s.fields[name]; known || !flywheel.ValidName(name) {
			continue
		}
		prefixed(name, allSplits(s.each, parts[j:]))
	}
	return out
}
