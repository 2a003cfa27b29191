// Package yamlnode decodes values from yaml.v3 Node trees for the readers
// of Kubernetes objects (kube, mesh). JSON is YAML, so one decoder reads
// both; decoding from nodes rather than into the Kubernetes types keeps
// every value's position, so a bad value is a discovery.Problem at it
// rather than a failed decode, and the rest of the object is still read.
package yamlnode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/emac-dev/emac/internal/diag"
	"github.com/emac-dev/emac/internal/discovery"
)

// Doc decodes the values of one file. It reports what it cannot use as
// problems and returns the zero value with ok false, so a caller only
// decides whether an absent or bad value leaves the object usable.
type Doc struct {
	File  string               // the file's name, in positions
	Probs *[]discovery.Problem // where problems go
}

// Pos is the position of node n (none when nil), with record path path.
func (d *Doc) Pos(n *yaml.Node, path string) discovery.Pos {
	p := discovery.Pos{File: d.File, Record: path}
	if n != nil {
		p.Line, p.Col = n.Line, n.Column
	}
	return p
}

// Problem reports a problem at node n.
func (d *Doc) Problem(kind discovery.ProblemKind, n *yaml.Node, path, format string, args ...any) {
	*d.Probs = append(*d.Probs, discovery.Problem{Kind: kind, Pos: d.Pos(n, path), Detail: fmt.Sprintf(format, args...)})
}

// Corrupt reports a value that cannot be used, the most common problem.
func (d *Doc) Corrupt(n *yaml.Node, path, format string, args ...any) {
	d.Problem(discovery.Corrupt, n, path, format, args...)
}

// ReadAll reads r whole, up to limit bytes: a yaml.v3 Node tree takes
// several times the text. A larger input is a problem, not read (ok
// false); the error is for r failing.
func (d *Doc) ReadAll(r io.Reader, limit int) (data []byte, ok bool, err error) {
	data, err = io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, false, err
	}
	if len(data) > limit {
		d.Corrupt(nil, "", "larger than %d MiB; not read", limit>>20)
		return nil, false, nil
	}
	return data, true, nil
}

// lineRE finds the line yaml.v3 puts at the start of its syntax errors.
var lineRE = regexp.MustCompile(`^yaml: line (\d+): `)

// Documents calls f with the root (a DocumentNode) of each of data's
// documents in turn, checking ctx before each; with most > 0, a file of
// more than most documents is a problem and the rest are not read. A
// syntax error ends the file, reported: yaml.v3 cannot resume after it,
// and the documents before it are kept. The error is ctx's or f's.
func (d *Doc) Documents(ctx context.Context, data []byte, most int, f func(root *yaml.Node) error) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for i := 0; ; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if most > 0 && i >= most {
			d.Corrupt(nil, "", "more than %d documents; the rest are not read", most)
			return nil
		}
		var root yaml.Node
		err := dec.Decode(&root)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			p := discovery.Problem{Kind: discovery.Corrupt, Pos: discovery.Pos{File: d.File}, Detail: err.Error()}
			if m := lineRE.FindStringSubmatch(p.Detail); m != nil {
				p.Pos.Line, _ = strconv.Atoi(m[1])
				p.Detail = "invalid YAML: " + strings.TrimPrefix(p.Detail, m[0])
			}
			*d.Probs = append(*d.Probs, p)
			return nil
		}
		if err := f(&root); err != nil {
			return err
		}
	}
}

// Resolve follows aliases, and a document to its content. yaml.v3
// accepts an alias to the node being defined ("&a [*a]"), so the hops
// are bounded: a cycle is a bad value (nil), never a loop.
func Resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if i > 32 {
			return nil
		}
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		return Resolve(n.Content[0])
	}
	return n
}

// IsNull says n is absent or null: no value, which is no problem.
func IsNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// Obj is a decoded mapping: its fields by key, in the order written. The
// node and path are kept so an absent required field is reported where
// its object is.
type Obj struct {
	N     *yaml.Node // the mapping
	Path  string     // its record path
	Order []string   // its keys, in the order written, each once

	key    *yaml.Node // the key it is the value of, when it is one
	fields map[string]*yaml.Node
}

// Mapping decodes n as a mapping. Null or absent is no object and no
// problem: every field the readers use is optional in its schema or
// checked by the caller. A duplicate key is reported; the later value
// wins, as it does for Kubernetes' JSON decoding.
func (d *Doc) Mapping(n *yaml.Node, path string) (*Obj, bool) {
	n = Resolve(n)
	if IsNull(n) {
		return nil, false
	}
	if n.Kind != yaml.MappingNode {
		d.Corrupt(n, path, "want a mapping, got %s", diag.NodeKind(n))
		return nil, false
	}
	o := &Obj{N: n, Path: path, fields: make(map[string]*yaml.Node, len(n.Content)/2)}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := Resolve(n.Content[i])
		if k == nil || k.Kind != yaml.ScalarNode {
			d.Corrupt(n.Content[i], path, "a mapping key must be a string")
			continue
		}
		if _, dup := o.fields[k.Value]; dup {
			d.Corrupt(k, Join(path, k.Value), "duplicate key %q; the later value is used", k.Value)
		} else {
			o.Order = append(o.Order, k.Value)
		}
		o.fields[k.Value] = n.Content[i+1]
	}
	return o, true
}

// Get is the value of key, or nil; o may be nil.
func (o *Obj) Get(key string) *yaml.Node {
	if o == nil {
		return nil
	}
	return o.fields[key]
}

// Has says the key is present with a non-null value.
func (o *Obj) Has(key string) bool { return o != nil && !IsNull(Resolve(o.Get(key))) }

// Key is the node of key itself (the one whose value Get gives), or nil.
func (o *Obj) Key(key string) *yaml.Node {
	if o == nil || o.fields[key] == nil {
		return nil
	}
	for i := len(o.N.Content)/2*2 - 2; i >= 0; i -= 2 {
		if k := Resolve(o.N.Content[i]); k != nil && k.Kind == yaml.ScalarNode && k.Value == key {
			return k
		}
	}
	return nil
}

// At is the record path of the value of key.
func (o *Obj) At(key string) string { return Join(o.Path, key) }

// Join is the record path of field key of the object at path.
func Join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Index is the record path of element i of the list at path.
func Index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// Sub decodes the mapping at key, as Mapping does; o may be nil.
func (d *Doc) Sub(o *Obj, key string) (*Obj, bool) {
	if o == nil {
		return nil, false
	}
	s, ok := d.Mapping(o.Get(key), o.At(key))
	if ok {
		s.key = o.Key(key)
	}
	return s, ok
}

// Where is the node to report a problem of the whole object at: its key
// ("spec:") when it has one, which reads better than its first field.
func (o *Obj) Where() *yaml.Node {
	if o.key != nil {
		return o.key
	}
	return o.N
}

// Seq decodes the list at key; null or absent is an empty list.
func (d *Doc) Seq(o *Obj, key string) []*yaml.Node {
	if o == nil {
		return nil
	}
	n := Resolve(o.Get(key))
	if IsNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.Corrupt(n, o.At(key), "want a list, got %s", diag.NodeKind(n))
		return nil
	}
	return n.Content
}

// Str decodes the string field key of o (which may be nil), as StrNode
// does.
func (d *Doc) Str(o *Obj, key string) (string, discovery.Pos, bool) {
	if o == nil {
		return "", discovery.Pos{}, false
	}
	return d.StrNode(o.Get(key), o.At(key))
}

// StrNode decodes a string. Numbers and booleans are not strings here:
// the API server stores these fields as strings and would refuse them,
// so they are reported as wrong types.
func (d *Doc) StrNode(n *yaml.Node, path string) (string, discovery.Pos, bool) {
	n = Resolve(n)
	if IsNull(n) {
		return "", discovery.Pos{}, false
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!int" || n.Tag == "!!float" || n.Tag == "!!bool" {
		d.Corrupt(n, path, "want a string, got %s", diag.NodeKind(n))
		return "", discovery.Pos{}, false
	}
	return n.Value, d.Pos(n, path), true
}

// maxAliasExpansion bounds what aliases may add to a document. yaml.v3
// does not expand aliases into a Node tree, but every walk over the tree
// does: nested aliases ("billion laughs") would make reading exponential.
const maxAliasExpansion = 1 << 20

// TooAliased says (and reports) that document n, with its aliases
// expanded, has more than maxAliasExpansion nodes beyond its own, or an
// alias inside its own anchor: it is not to be read.
func (d *Doc) TooAliased(n *yaml.Node) bool {
	if !excessiveAliasing(n) {
		return false
	}
	d.Corrupt(n, "", "the document's aliases expand to more than %d extra nodes, or refer to themselves; not read", maxAliasExpansion)
	return true
}

// excessiveAliasing says root's aliases expand too far (TooAliased).
// Sizes are memoized per node, so this is linear in the document.
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
