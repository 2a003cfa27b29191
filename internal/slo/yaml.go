package slo

import (
	"fmt"
	"math"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/emac-dev/emac/internal/diag"
)

// at is the range of n (nil: the file).
func (r *reader) at(n *yaml.Node) *diag.Range { return diag.NodeRange(r.file, n) }

func (r *reader) errorf(n *yaml.Node, format string, args ...any) *diag.Diagnostic {
	return r.ds.Errorf(r.at(n), format, args...)
}

// resolve follows aliases, counting expansions; nil past the limit.
func (r *reader) resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		r.aliases++
		if r.aliases > maxAliases {
			r.tooManyAliases(n)
			return nil
		}
		n = n.Alias
	}
	if r.aborted {
		return nil
	}
	return n
}

// get returns the key and (resolved) value of key in mapping m, looking
// into merge keys (<<) too; nils when m is not a mapping or lacks key.
func (r *reader) get(m *yaml.Node, key string) (k, v *yaml.Node) {
	return r.lookup(r.resolve(m), key, 0)
}

func (r *reader) lookup(m *yaml.Node, key string, depth int) (k, v *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode || depth > maxDepth {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if c := m.Content[i]; c.Kind == yaml.ScalarNode && c.Value == key && c.Tag != "!!merge" {
			return c, r.resolve(m.Content[i+1])
		}
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if c := m.Content[i]; c.Kind == yaml.ScalarNode && c.Tag == "!!merge" {
			src := r.resolve(m.Content[i+1])
			if src == nil {
				continue
			}
			if src.Kind == yaml.SequenceNode {
				for _, s := range src.Content {
					if k, v := r.lookup(r.resolve(s), key, depth+1); k != nil {
						return k, v
					}
				}
				continue
			}
			if k, v := r.lookup(src, key, depth+1); k != nil {
				return k, v
			}
		}
	}
	return nil, nil
}

// misspelt finds a key of m that is a near miss for want, for a "did you
// mean" on a missing field.
func misspelt(m *yaml.Node, want string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		c := m.Content[i]
		if c.Kind == yaml.ScalarNode && c.Value != want && diag.Suggest(c.Value, []string{want}) != "" {
			return c
		}
	}
	return nil
}

// missing reports that m (located by at) lacks field key; when a key of m
// looks like a misspelling of it, the error is put there instead.
func (r *reader) missing(at, m *yaml.Node, key, what string) {
	if k := misspelt(m, key); k != nil {
		r.errorf(k, "unknown field %q in %s", k.Value, what).Detail = fmt.Sprintf("did you mean %q?", key)
		return
	}
	r.errorf(at, "%s has no %s", what, key)
}

// kindWord names a collection kind in messages.
func kindWord(kind yaml.Kind) string {
	if kind == yaml.SequenceNode {
		return "a list"
	}
	return "a mapping"
}

// collection returns the value of key in m when it is of the given kind
// (mapping or list). A missing key gives nil quietly; a value of another
// type is an error.
func (r *reader) collection(m *yaml.Node, key string, kind yaml.Kind) (k, v *yaml.Node) {
	k, v = r.get(m, key)
	if k == nil || v == nil || isNull(v) {
		return k, nil
	}
	if v.Kind != kind {
		r.errorf(v, "%s must be %s, not %s", key, kindWord(kind), diag.NodeKind(v))
		return k, nil
	}
	return k, v
}

// mapping is collection for mappings.
func (r *reader) mapping(m *yaml.Node, key string) (k, v *yaml.Node) {
	return r.collection(m, key, yaml.MappingNode)
}

// sequence is collection for lists.
func (r *reader) sequence(m *yaml.Node, key string) (k, v *yaml.Node) {
	return r.collection(m, key, yaml.SequenceNode)
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// plainString is n's text when it is a non-null scalar.
func (r *reader) plainString(n *yaml.Node) (string, bool) {
	n = r.resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", false
	}
	return n.Value, true
}

// str is the string value of key in m: "" quietly when absent or null, an
// error when it is not a scalar.
func (r *reader) str(m *yaml.Node, key string) (string, *yaml.Node) {
	_, v := r.get(m, key)
	if v == nil || isNull(v) {
		return "", v
	}
	if v.Kind != yaml.ScalarNode {
		r.errorf(v, "%s must be a string, not %s", key, diag.NodeKind(v))
		return "", nil
	}
	return v.Value, v
}

// query is the trimmed text of a query field; queries that are not
// strings (some data sources take structured queries) are left out.
func (r *reader) query(m *yaml.Node, key string) string {
	_, v := r.get(m, key)
	if v == nil || v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		return ""
	}
	return strings.TrimSpace(v.Value)
}

// number is the value of n when it is a finite YAML number.
func (r *reader) number(n *yaml.Node) (float64, bool) {
	if n == nil || n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
		return 0, false
	}
	var f float64
	if err := n.Decode(&f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// name reads metadata.name, the name of OpenSLO and Pyrra objects.
func (r *reader) name(doc, kindKey *yaml.Node, what string) (string, bool) {
	mk, md := r.requireMapping(doc, kindKey, "metadata", what)
	if md == nil {
		return "", false
	}
	_, v := r.get(md, "name")
	switch {
	case v == nil || isNull(v):
		r.missing(mk, md, "name", what+" metadata")
		return "", false
	case v.Kind != yaml.ScalarNode:
		r.errorf(v, "metadata.name must be a string, not %s", diag.NodeKind(v))
		return "", false
	case strings.TrimSpace(v.Value) == "":
		r.errorf(v, "%s has an empty metadata.name", what)
		return "", false
	}
	return v.Value, true
}

// first is the first element of a list, for "first objective/window" reads.
func (r *reader) first(seq *yaml.Node) *yaml.Node {
	if seq == nil || len(seq.Content) == 0 {
		return nil
	}
	return r.resolve(seq.Content[0])
}

// require is collection for a required field: missing, null and
// wrongly-typed values are errors (at the key, or at `at` when absent), and
// so is an empty list.
func (r *reader) require(m, at *yaml.Node, key, what string, kind yaml.Kind) (k, v *yaml.Node) {
	k, v = r.get(m, key)
	switch {
	case k == nil:
		r.missing(at, m, key, what)
		return nil, nil
	case v == nil:
		return k, nil
	case isNull(v) && kind == yaml.MappingNode:
		r.errorf(k, "%s has an empty %s", what, key)
		return k, nil
	case isNull(v) || (kind == yaml.SequenceNode && v.Kind == yaml.SequenceNode && len(v.Content) == 0):
		r.errorf(k, "%s has no %s", what, key)
		return k, nil
	case v.Kind != kind:
		r.errorf(v, "%s must be %s, not %s", key, kindWord(kind), diag.NodeKind(v))
		return k, nil
	}
	return k, v
}

// requireMapping is require for a mapping.
func (r *reader) requireMapping(m, at *yaml.Node, key, what string) (k, v *yaml.Node) {
	return r.require(m, at, key, what, yaml.MappingNode)
}

// requireSequence is require for a non-empty list.
func (r *reader) requireSequence(m, at *yaml.Node, key, what string) (k, v *yaml.Node) {
	return r.require(m, at, key, what, yaml.SequenceNode)
}

// requireString is requireMapping for a non-empty string.
func (r *reader) requireString(m, at *yaml.Node, key, what string) (string, *yaml.Node) {
	k, v := r.get(m, key)
	switch {
	case k == nil:
		r.missing(at, m, key, what)
		return "", nil
	case v == nil:
		return "", nil
	case isNull(v) || (v.Kind == yaml.ScalarNode && strings.TrimSpace(v.Value) == ""):
		r.errorf(k, "%s has an empty %s", what, key)
		return "", nil
	case v.Kind != yaml.ScalarNode:
		r.errorf(v, "%s must be a string, not %s", key, diag.NodeKind(v))
		return "", nil
	}
	return v.Value, v
}

func trim(s string) string { return strings.TrimSpace(s) }

// failed reports whether errors were reported since the diagnostics
// numbered n0: the SLO being read is then left out.
func (r *reader) failed(n0 int) bool {
	for _, d := range r.ds[n0:] {
		if d.Severity == diag.Error {
			return true
		}
	}
	return false
}

// smallPercent warns about a percentage below 1, most likely a fraction
// written where a percentage belongs (99.9% written as 0.999).
func (r *reader) smallPercent(v *yaml.Node, field string, p float64, meant string) {
	if p < 1 {
		r.ds.Warnf(r.at(v), "%s %v is %v%%, a very low target", field, p, p).Detail = fmt.Sprintf("%s is a percentage: did you mean %s?", field, meant)
	}
}
