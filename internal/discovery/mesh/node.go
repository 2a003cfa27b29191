package mesh

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/emac-dev/emac/internal/discovery"
	yaml "go.yaml.in/yaml/v3"
)

// doc decodes the values of one document. It reports what it cannot use
// as problems and returns the zero value with ok false, so a caller only
// decides whether an absent or bad value leaves the object usable.
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

func (d *doc) corrupt(n *yaml.Node, path, format string, args ...any) {
	d.problem(discovery.Corrupt, n, path, format, args...)
}

// resolve follows aliases. yaml.v3 accepts an alias to the node being
// defined ("&a [*a]"), so the hops are bounded: a cycle is a bad value,
// never a loop.
func resolve(n *yaml.Node) *yaml.Node {
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
		return resolve(n.Content[0])
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// what names what a node holds, for "want a list, got a string".
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

// obj is a decoded mapping: its fields by key, in the order written. The
// node and path are kept so an absent required field is reported where its
// object is.
type obj struct {
	n      *yaml.Node
	key    *yaml.Node // the key it is the value of, when it is one
	path   string
	fields map[string]*yaml.Node
	keys   map[string]*yaml.Node
	order  []string
}

// mapping decodes n as a mapping. Null or absent is no object and no
// problem: every field the readers use is optional in its schema or
// checked by the caller. A duplicate key is reported; the later value
// wins, as it does for Kubernetes' JSON decoding.
func (d *doc) mapping(n *yaml.Node, path string) (*obj, bool) {
	n = resolve(n)
	if isNull(n) {
		return nil, false
	}
	if n.Kind != yaml.MappingNode {
		d.corrupt(n, path, "want a mapping, got %s", what(n))
		return nil, false
	}
	o := &obj{n: n, path: path, fields: make(map[string]*yaml.Node, len(n.Content)/2), keys: make(map[string]*yaml.Node, len(n.Content)/2)}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolve(n.Content[i])
		if k == nil || k.Kind != yaml.ScalarNode {
			d.corrupt(n.Content[i], path, "a mapping key must be a string")
			continue
		}
		if _, dup := o.fields[k.Value]; dup {
			d.corrupt(k, join(path, k.Value), "duplicate key %q; the later value is used", k.Value)
		} else {
			o.order = append(o.order, k.Value)
		}
		o.fields[k.Value] = n.Content[i+1]
		o.keys[k.Value] = k
	}
	return o, true
}

// get is the value of key, or nil; o may be nil.
func (o *obj) get(key string) *yaml.Node {
	if o == nil {
		return nil
	}
	return o.fields[key]
}

// has says the key is present with a non-null value.
func (o *obj) has(key string) bool { return o != nil && !isNull(resolve(o.get(key))) }

func (o *obj) at(key string) string { return join(o.path, key) }

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func (d *doc) sub(o *obj, key string) (*obj, bool) {
	if o == nil {
		return nil, false
	}
	s, ok := d.mapping(o.get(key), o.at(key))
	if ok {
		s.key = o.keys[key]
	}
	return s, ok
}

// where is the node to report a problem of the whole object at: its key
// ("spec:") when it has one, which reads better than its first field.
func (o *obj) where() *yaml.Node {
	if o.key != nil {
		return o.key
	}
	return o.n
}

// seq decodes the list at key; null or absent is an empty list.
func (d *doc) seq(o *obj, key string) []*yaml.Node {
	if o == nil {
		return nil
	}
	n := resolve(o.get(key))
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.corrupt(n, o.at(key), "want a list, got %s", what(n))
		return nil
	}
	return n.Content
}

// str decodes a string field. Numbers and booleans are not strings here:
// the API server would refuse them, so they are reported as wrong types.
func (d *doc) str(o *obj, key string) (Value[string], bool) {
	if o == nil {
		return Value[string]{}, false
	}
	return d.strNode(o.get(key), o.at(key))
}

func (d *doc) strNode(n *yaml.Node, path string) (Value[string], bool) {
	n = resolve(n)
	if isNull(n) {
		return Value[string]{}, false
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!int" || n.Tag == "!!float" || n.Tag == "!!bool" {
		d.corrupt(n, path, "want a string, got %s", what(n))
		return Value[string]{}, false
	}
	return Value[string]{V: n.Value, Pos: d.pos(n, path)}, true
}

// strs decodes a list of strings, skipping (and reporting) the bad ones.
func (d *doc) strs(o *obj, key string) []Value[string] {
	var out []Value[string]
	for i, n := range d.seq(o, key) {
		if v, ok := d.strNode(n, index(o.at(key), i)); ok {
			out = append(out, v)
		}
	}
	return out
}

// number decodes a YAML number (JSON numbers are YAML numbers).
func (d *doc) number(n *yaml.Node, path string) (float64, *yaml.Node, bool) {
	n = resolve(n)
	if isNull(n) {
		return 0, nil, false
	}
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
		d.corrupt(n, path, "want a number, got %s", what(n))
		return 0, nil, false
	}
	var v float64
	var err error
	if n.Tag == "!!int" {
		var i int64
		i, err = strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
		v = float64(i)
	} else {
		v, err = strconv.ParseFloat(n.Value, 64)
	}
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		d.corrupt(n, path, "%q is not a finite number", n.Value)
		return 0, nil, false
	}
	return v, n, true
}

// integer decodes a whole number in [lo, hi]; 80.0 is accepted as 80
// (protobuf's JSON does), 80.5 is not.
func (d *doc) integer(o *obj, key string, lo, hi int) (Value[int], bool) {
	if o == nil {
		return Value[int]{}, false
	}
	return d.intNode(o.get(key), o.at(key), lo, hi)
}

func (d *doc) intNode(n *yaml.Node, path string, lo, hi int) (Value[int], bool) {
	v, n, ok := d.number(n, path)
	if !ok {
		return Value[int]{}, false
	}
	if v != math.Trunc(v) {
		d.corrupt(n, path, "%s is not a whole number", n.Value)
		return Value[int]{}, false
	}
	if v < float64(lo) || v > float64(hi) {
		d.corrupt(n, path, "%s is out of range [%d, %d]", n.Value, lo, hi)
		return Value[int]{}, false
	}
	return Value[int]{V: int(v), Pos: d.pos(n, path)}, true
}

func (d *doc) float(o *obj, key string, lo, hi float64) (Value[float64], bool) {
	if o == nil {
		return Value[float64]{}, false
	}
	path := o.at(key)
	v, n, ok := d.number(o.get(key), path)
	if !ok {
		return Value[float64]{}, false
	}
	if v < lo || v > hi {
		d.corrupt(n, path, "%s is out of range [%g, %g]", n.Value, lo, hi)
		return Value[float64]{}, false
	}
	return Value[float64]{V: v, Pos: d.pos(n, path)}, true
}

func (d *doc) boolean(o *obj, key string) (Value[bool], bool) {
	if o == nil {
		return Value[bool]{}, false
	}
	path := o.at(key)
	n := resolve(o.get(key))
	if isNull(n) {
		return Value[bool]{}, false
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		d.corrupt(n, path, "want a boolean, got %s", what(n))
		return Value[bool]{}, false
	}
	b, err := strconv.ParseBool(strings.ToLower(n.Value))
	if err != nil {
		d.corrupt(n, path, "%q is not a boolean", n.Value)
		return Value[bool]{}, false
	}
	return Value[bool]{V: b, Pos: d.pos(n, path)}, true
}

// dialect is a duration grammar: each mesh parses its own.
type dialect uint8

const (
	// istioDuration is protobuf's Duration as Istio's CRDs validate it:
	// Go's time.ParseDuration grammar ("1.5s", "300ms", "1h30m").
	istioDuration dialect = iota
	// gatewayDuration is GEP-2257: ^([0-9]{1,5}(h|m|s|ms)){1,4}$, then
	// time.ParseDuration: no fractions, no units below ms.
	gatewayDuration
	// linkerdDuration is Go's time.ParseDuration (Linkerd's controller
	// is Go and parses ServiceProfile durations with it).
	linkerdDuration
)

var gep2257 = regexp.MustCompile(`^([0-9]{1,5}(h|m|s|ms)){1,4}$`)

// parseDuration parses s in the dialect's grammar; negative durations are
// refused everywhere (no mesh has them).
func parseDuration(s string, dl dialect) (time.Duration, error) {
	if dl == gatewayDuration && !gep2257.MatchString(s) {
		return 0, fmt.Errorf("%q is not a Gateway API duration (GEP-2257: one to four of <1-5 digits><h|m|s|ms>, e.g. 10s, 1h30m, 500ms)", s)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (e.g. 1.5s, 300ms, 1m)", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return v, nil
}

// duration decodes a duration field in the dialect's grammar; zero says
// whether 0 is allowed (a disabled timeout). Istio's non-zero durations
// must be at least 1ms.
func (d *doc) duration(o *obj, key string, dl dialect, zero bool) (*Value[time.Duration], bool) {
	s, ok := d.str(o, key)
	if !ok {
		return nil, false
	}
	v, err := parseDuration(s.V, dl)
	if err != nil {
		d.corrupt(resolve(o.get(key)), o.at(key), "%v", err)
		return nil, false
	}
	if v == 0 && !zero {
		d.corrupt(resolve(o.get(key)), o.at(key), "%q: the duration must be positive", s.V)
		return nil, false
	}
	if dl == istioDuration && v > 0 && v < time.Millisecond {
		d.corrupt(resolve(o.get(key)), o.at(key), "%q: Istio durations must be at least 1ms", s.V)
		return nil, false
	}
	return &Value[time.Duration]{V: v, Pos: s.Pos}, true
}
