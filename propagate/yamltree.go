package propagate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/flywheel-ml/flywheel"
)

// Files are edited as yaml.v3 node trees, never decoded into maps and
// dumped again: the nodes carry the comments and the key order of a file
// a person wrote, and re-encoding them keeps both.

// Scalar is one YAML scalar as written in a file: its resolved tag
// (!!int, !!float, !!bool, !!str) and its text.
type Scalar struct {
	Tag   string `json:"tag"`
	Value string `json:"value"`
}

// String returns the scalar's text, "(absent)" for nil.
func (s *Scalar) String() string {
	if s == nil {
		return "(absent)"
	}
	return s.Value
}

// scalarOf returns the Scalar that writes v (float64, int64, bool or
// string).
func scalarOf(v any) *Scalar {
	switch x := v.(type) {
	case float64:
		return &Scalar{Tag: "!!float", Value: formatFloat(x)}
	case int64:
		return &Scalar{Tag: "!!int", Value: strconv.FormatInt(x, 10)}
	case bool:
		return &Scalar{Tag: "!!bool", Value: strconv.FormatBool(x)}
	}
	return &Scalar{Tag: "!!str", Value: fmt.Sprint(v)}
}

// formatFloat writes a float that every YAML reader, PyYAML's YAML 1.1
// included, reads back as a float: with a decimal point and no bare
// exponent ("1e-05" is a string to PyYAML).
func formatFloat(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// scalarValue decodes a scalar node to float64, int64, bool or string.
func scalarValue(n *yaml.Node) (any, bool) {
	if n.Kind != yaml.ScalarNode {
		return nil, false
	}
	switch n.ShortTag() {
	case "!!int":
		var i int64
		if n.Decode(&i) == nil {
			return i, true
		}
		var f float64
		if n.Decode(&f) == nil {
			return f, true
		}
		return nil, false
	case "!!float":
		var f float64
		if n.Decode(&f) == nil {
			return f, true
		}
		return nil, false
	case "!!bool":
		var b bool
		if n.Decode(&b) == nil {
			return b, true
		}
		return nil, false
	case "!!str":
		return n.Value, true
	}
	return nil, false
}

// sameValue reports whether a scalar node holds v, comparing numbers as
// numbers (0.50 is 0.5, 3 is 3.0).
func sameValue(n *yaml.Node, v any) bool {
	got, ok := scalarValue(n)
	if !ok {
		return false
	}
	gf, gnum := asFloat(got)
	wf, wnum := asFloat(v)
	if gnum || wnum {
		return gnum && wnum && gf == wf
	}
	return got == v
}

func asFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x)
	case int64:
		return float64(x), true
	}
	return 0, false
}

// sameScalar reports whether a node holds the scalar s.
func sameScalar(n *yaml.Node, s *Scalar) bool {
	if n == nil || s == nil {
		return n == nil && s == nil
	}
	return sameValue(n, valueOfScalar(s))
}

func valueOfScalar(s *Scalar) any {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: s.Tag, Value: s.Value}
	v, ok := scalarValue(n)
	if !ok {
		return s.Value
	}
	return v
}

// parseDoc parses a config file into its document node. An empty file,
// or one holding only comments, becomes an empty mapping that keeps the
// comments; a file of several documents or whose top level is not a
// mapping is refused.
func parseDoc(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	err := dec.Decode(&doc)
	switch {
	case errors.Is(err, io.EOF):
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}}
		if s := strings.TrimSpace(string(data)); s != "" {
			doc.Content[0].HeadComment = s
		}
		return &doc, nil
	case err != nil:
		return nil, flywheel.Errorf(flywheel.EInvalid, "is not valid YAML: %v", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, flywheel.Errorf(flywheel.EInvalid, "holds more than one YAML document")
	}
	if len(doc.Content) != 1 {
		return nil, flywheel.Errorf(flywheel.EInvalid, "is not a single YAML document")
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		doc.Content[0] = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", HeadComment: root.HeadComment}
		return &doc, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, flywheel.Errorf(flywheel.EInvalid, "must be a mapping of keys to values at the top level")
	}
	return &doc, nil
}

// rootMap returns the top-level mapping of a document from parseDoc.
func rootMap(doc *yaml.Node) *yaml.Node { return doc.Content[0] }

// lookupNode returns the node at key, or nil when any part is absent.
func lookupNode(m *yaml.Node, key []string) *yaml.Node {
	n := m
	for _, k := range key {
		if n.Kind != yaml.MappingNode {
			return nil
		}
		_, v := mapEntry(n, k)
		if v == nil {
			return nil
		}
		n = v
	}
	return n
}

// mapEntry returns the index of key in mapping m and its value node.
func mapEntry(m *yaml.Node, key string) (int, *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i, m.Content[i+1]
		}
	}
	return -1, nil
}

// setNode sets the scalar at key, creating the mappings on its way at the
// end of their parents. It returns the value it replaced (nil when there
// was none). An existing node keeps its comments and, for strings, its
// quoting style.
func setNode(m *yaml.Node, key []string, s *Scalar) (*Scalar, error) {
	parent, err := parentOf(m, key, true)
	if err != nil {
		return nil, err
	}
	last := key[len(key)-1]
	_, v := mapEntry(parent, last)
	if v == nil {
		parent.Content = append(parent.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: last},
			&yaml.Node{Kind: yaml.ScalarNode, Tag: s.Tag, Value: s.Value})
		return nil, nil
	}
	if v.Kind != yaml.ScalarNode {
		return nil, flywheel.FieldError(strings.Join(key, "."), "is a mapping or a list in the file, not a single value; change it by hand")
	}
	old := &Scalar{Tag: v.ShortTag(), Value: v.Value}
	if s.Tag != "!!str" || v.ShortTag() != "!!str" {
		v.Style &^= yaml.SingleQuotedStyle | yaml.DoubleQuotedStyle | yaml.LiteralStyle | yaml.FoldedStyle
	}
	v.Tag, v.Value = s.Tag, s.Value
	return old, nil
}

// deleteNode removes the value at key and returns it (nil when absent).
// Mappings left empty on its way are removed too, except the top level:
// an empty target_specific.<t> means nothing, and leaving it would make a
// rollback differ from the file before the change.
func deleteNode(m *yaml.Node, key []string) (*Scalar, error) {
	parent, err := parentOf(m, key, false)
	if err != nil || parent == nil {
		return nil, err
	}
	i, v := mapEntry(parent, key[len(key)-1])
	if v == nil {
		return nil, nil
	}
	if v.Kind != yaml.ScalarNode {
		return nil, flywheel.FieldError(strings.Join(key, "."), "is a mapping or a list in the file, not a single value; change it by hand")
	}
	old := &Scalar{Tag: v.ShortTag(), Value: v.Value}
	parent.Content = append(parent.Content[:i], parent.Content[i+2:]...)
	for n := len(key) - 1; n > 0; n-- {
		p := lookupNode(m, key[:n])
		if p == nil || len(p.Content) > 0 || p.HeadComment != "" || p.LineComment != "" || p.FootComment != "" {
			break
		}
		gp := lookupNode(m, key[:n-1])
		j, _ := mapEntry(gp, key[n-1])
		if kn := gp.Content[j]; kn.HeadComment != "" || kn.LineComment != "" || kn.FootComment != "" {
			break // a person commented on it: keep it
		}
		gp.Content = append(gp.Content[:j], gp.Content[j+2:]...)
	}
	return old, nil
}

// parentOf walks to the mapping holding the last part of key, creating
// missing mappings when create is set (else nil when one is absent).
func parentOf(m *yaml.Node, key []string, create bool) (*yaml.Node, error) {
	n := m
	for i, k := range key[:len(key)-1] {
		_, v := mapEntry(n, k)
		if v == nil {
			if !create {
				return nil, nil
			}
			v = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}, v)
		}
		if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null" && create {
			// "key:" with nothing after it: an empty mapping to fill in.
			*v = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", HeadComment: v.HeadComment, LineComment: v.LineComment, FootComment: v.FootComment}
		}
		if v.Kind == yaml.AliasNode || v.Anchor != "" {
			return nil, flywheel.FieldError(strings.Join(key[:i+1], "."), "uses a YAML anchor or alias; change it by hand")
		}
		if v.Kind != yaml.MappingNode {
			return nil, flywheel.FieldError(strings.Join(key[:i+1], "."),
				"is a single value in the file, not a mapping, so %s cannot be set; change it by hand", strings.Join(key, "."))
		}
		n = v
	}
	return n, nil
}

// encodeDoc writes a document, keeping what it can of the layout of
// original (the bytes it was parsed from): the indentation, blank lines
// and the spacing inside unchanged lines, which yaml.v3 would otherwise
// normalise. The layout is kept only when the result decodes to the very
// same data, so it can never change a value.
func encodeDoc(doc *yaml.Node, original []byte) ([]byte, error) {
	out, err := encodeIndent(doc, detectIndent(original))
	if err != nil {
		return nil, err
	}
	if len(original) == 0 {
		return out, nil
	}
	merged, ok := keepLayout(original, out)
	if !ok || !sameData(merged, out) {
		return out, nil
	}
	return merged, nil
}

func encodeIndent(doc *yaml.Node, indent int) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(indent)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encode yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode yaml: %w", err)
	}
	return b.Bytes(), nil
}

// detectIndent returns the indentation step of a file: the smallest
// indentation of a line below a mapping key, 2 when there is none.
func detectIndent(data []byte) int {
	step := 0
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimLeft(line, " ")
		n := len(line) - len(trimmed)
		if n == 0 || trimmed == "" || trimmed[0] == '#' || trimmed[0] == '-' {
			continue
		}
		if step == 0 || n < step {
			step = n
		}
	}
	if step < 2 || step > 8 {
		return 2
	}
	return step
}

// keepLayout aligns the lines of the new encoding with the original's
// (longest common subsequence of lines compared without their inner
// spacing) and returns the new text with matched lines in their original
// spelling. Between two matched lines, the original's lines are replaced
// one for one by the new ones, so its blank lines stay where they were.
func keepLayout(original, encoded []byte) ([]byte, bool) {
	o := strings.Split(strings.TrimSuffix(string(original), "\n"), "\n")
	n := strings.Split(strings.TrimSuffix(string(encoded), "\n"), "\n")
	if len(o)*len(n) > 4_000_000 {
		return nil, false // too large to align cheaply; plain encoding
	}
	on, nn := normLines(o), normLines(n)
	// lcs[i*w+j] is the length of the LCS of on[i:] and nn[j:].
	w := len(nn) + 1
	lcs := make([]int32, (len(on)+1)*w)
	for i := len(on) - 1; i >= 0; i-- {
		for j := len(nn) - 1; j >= 0; j-- {
			if on[i] != "" && on[i] == nn[j] {
				lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
			} else {
				lcs[i*w+j] = max(lcs[(i+1)*w+j], lcs[i*w+j+1])
			}
		}
	}
	var anchors [][2]int
	for i, j := 0, 0; i < len(on) && j < len(nn); {
		switch {
		case on[i] != "" && on[i] == nn[j]:
			anchors = append(anchors, [2]int{i, j})
			i, j = i+1, j+1
		case lcs[(i+1)*w+j] >= lcs[i*w+j+1]:
			i++
		default:
			j++
		}
	}
	anchors = append(anchors, [2]int{len(o), len(n)})
	var b strings.Builder
	oi, nj := 0, 0
	for _, a := range anchors {
		writeGap(&b, o[oi:a[0]], n[nj:a[1]])
		if a[0] < len(o) {
			b.WriteString(o[a[0]] + "\n")
		}
		oi, nj = a[0]+1, a[1]+1
	}
	return []byte(b.String()), true
}

// writeGap writes the new lines of a gap between anchors in place of the
// original's, keeping the original's blank lines at their positions.
func writeGap(b *strings.Builder, orig, repl []string) {
	var lines []string
	for _, l := range repl {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	k := 0
	for _, l := range orig {
		switch {
		case strings.TrimSpace(l) == "":
			b.WriteString("\n")
		case k < len(lines):
			b.WriteString(lines[k] + "\n")
			k++
		}
	}
	for _, l := range lines[k:] {
		b.WriteString(l + "\n")
	}
}

// normLines keys lines by their indentation and their words, so that
// "a:   1   # c" and "a: 1 # c" align; blank lines key to "".
func normLines(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		trimmed := strings.TrimLeft(l, " ")
		if strings.TrimSpace(trimmed) == "" {
			continue
		}
		out[i] = strconv.Itoa(len(l)-len(trimmed)) + " " + strings.Join(strings.Fields(trimmed), " ")
	}
	return out
}

// sameData reports whether two YAML texts decode to the same data.
func sameData(a, b []byte) bool {
	var x, y any
	if yaml.Unmarshal(a, &x) != nil || yaml.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
