package kube

import (
	"fmt"
	"math"
	"strconv"

	"github.com/emac-dev/emac/internal/discovery"
	yaml "go.yaml.in/yaml/v3"
)

// doc decodes the values of one document, reporting what it cannot use.
// (A small cousin of the mesh reader's: the two readers share no code so
// neither depends on the other.)
type doc struct {
	file  string
	probs *[]discovery.Problem
}

func (d *doc) pos(n *yaml.Node, path string) discovery.Pos {
	p := discovery.Pos{File: d.file, Record: path}
	if n != nil {
		p.Line, p.Col = n.Line, n.Column
	}
	return p
}

func (d *doc) problem(kind discovery.ProblemKind, n *yaml.Node, path, format string, args ...any) {
	*d.probs = append(*d.probs, discovery.Problem{Kind: kind, Pos: d.pos(n, path), Detail: fmt.Sprintf(format, args...)})
}

// resolve follows aliases, a bounded number of hops (yaml.v3 accepts an
// alias inside its own anchor).
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if i > 32 {
			return nil
		}
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func what(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "null"
		case "!!bool":
			return "a boolean"
		case "!!int", "!!float":
			return "a number"
		}
		return "a string"
	}
	return "a document"
}

// obj is a decoded mapping: its values and keys by key, keys in order.
type obj struct {
	n      *yaml.Node
	path   string
	fields map[string]*yaml.Node
	order  []string
}

func (d *doc) mapping(n *yaml.Node, path string) (*obj, bool) {
	n = resolve(n)
	if isNull(n) {
		return nil, false
	}
	if n.Kind != yaml.MappingNode {
		d.problem(discovery.Corrupt, n, path, "want a mapping, got %s", what(n))
		return nil, false
	}
	o := &obj{n: n, path: path, fields: make(map[string]*yaml.Node, len(n.Content)/2)}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolve(n.Content[i])
		if k == nil || k.Kind != yaml.ScalarNode {
			d.problem(discovery.Corrupt, n.Content[i], path, "a mapping key must be a string")
			continue
		}
		if _, dup := o.fields[k.Value]; dup {
			d.problem(discovery.Corrupt, k, o.at(k.Value), "duplicate key %q; the later value is used", k.Value)
		} else {
			o.order = append(o.order, k.Value)
		}
		o.fields[k.Value] = n.Content[i+1]
	}
	return o, true
}

func (o *obj) get(key string) *yaml.Node {
	if o == nil {
		return nil
	}
	return o.fields[key]
}

func (o *obj) at(key string) string {
	if o.path == "" {
		return key
	}
	return o.path + "." + key
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func (d *doc) sub(o *obj, key string) (*obj, bool) {
	if o == nil {
		return nil, false
	}
	return d.mapping(o.get(key), o.at(key))
}

func (d *doc) seq(o *obj, key string) []*yaml.Node {
	if o == nil {
		return nil
	}
	n := resolve(o.get(key))
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.problem(discovery.Corrupt, n, o.at(key), "want a list, got %s", what(n))
		return nil
	}
	return n.Content
}

// str decodes a string field: the API server stores these as strings, so
// a number or a boolean in their place is a wrong type.
func (d *doc) str(o *obj, key string) (string, discovery.Pos, bool) {
	if o == nil {
		return "", discovery.Pos{}, false
	}
	n := resolve(o.get(key))
	if isNull(n) {
		return "", discovery.Pos{}, false
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!int" || n.Tag == "!!float" || n.Tag == "!!bool" {
		d.problem(discovery.Corrupt, n, o.at(key), "want a string, got %s", what(n))
		return "", discovery.Pos{}, false
	}
	return n.Value, d.pos(n, o.at(key)), true
}

func (d *doc) boolean(o *obj, key string) bool {
	n := resolve(o.get(key))
	if isNull(n) {
		return false
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		d.problem(discovery.Corrupt, n, o.at(key), "want a boolean, got %s", what(n))
		return false
	}
	b, _ := strconv.ParseBool(n.Value)
	return b
}

// maxAliasExpansion bounds what aliases may add to a document: walking a
// Node tree expands them, and nested ones would make that exponential.
const maxAliasExpansion = 1 << 20

// excessiveAliasing says the document, aliases expanded, has more than
// maxAliasExpansion nodes beyond its own, or an alias inside its own
// anchor; linear in the document (sizes are memoized per node).
func excessiveAliasing(root *yaml.Node) bool {
	const cycle = -1
	size := map[*yaml.Node]int{}
	var walk func(n *yaml.Node, depth int) int
	walk = func(n *yaml.Node, depth int) int {
		if n == nil {
			return 0
		}
		if s, ok := size[n]; ok {
			if s == cycle {
				return maxAliasExpansion + 1
			}
			return s
		}
		if depth > 20000 {
			return maxAliasExpansion + 1
		}
		size[n] = cycle
		s := 1
		if n.Kind == yaml.AliasNode {
			s += walk(n.Alias, depth+1)
		}
		for _, c := range n.Content {
			s = min(s+walk(c, depth+1), math.MaxInt32)
		}
		size[n] = s
		return s
	}
	return walk(root, 0) > len(size)+maxAliasExpansion
}
