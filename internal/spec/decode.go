package spec

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/diag"
)

// Limits that keep hostile input from exhausting memory or time.
const (
	maxAliases = 10000
	maxDepth   = 100
	// maxNodes bounds the values a document expands to: aliases can make a
	// small file expand exponentially.
	maxNodes = 200000
)

// decoder maps YAML nodes onto the api types strictly: unknown fields,
// duplicate keys and type mismatches are diagnostics, and the position of
// every value is kept by its field path (spec.flow.seq[1]).
type decoder struct {
	file   string
	diags  *diag.Diagnostics
	pos    map[string]diag.Range // value positions by path
	keyPos map[string]diag.Range // key positions by path of the value
	// bad marks values that already have a diagnostic (wrong type, not
	// parseable), so later checks do not pile on.
	bad     map[string]bool
	aliases int
	nodes   int
	depth   int
}

func newDecoder(file string, diags *diag.Diagnostics) *decoder {
	return &decoder{file: file, diags: diags, pos: map[string]diag.Range{}, keyPos: map[string]diag.Range{}, bad: map[string]bool{}}
}

func (d *decoder) rng(n *yaml.Node) *diag.Range { return diag.NodeRange(d.file, n) }

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) *diag.Diagnostic {
	return d.diags.Errorf(d.rng(n), format, args...)
}

// resolve follows aliases, counting expansions.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		d.aliases++
		if d.aliases > maxAliases {
			return nil
		}
		n = n.Alias
	}
	return n
}

var (
	tNode     = reflect.TypeOf(v1alpha1.Node{})
	tRace     = reflect.TypeOf(v1alpha1.Race{})
	tCase     = reflect.TypeOf(v1alpha1.BranchCase{})
	tRatio    = reflect.TypeOf(v1alpha1.Ratio(0))
	tDuration = reflect.TypeOf(v1alpha1.Duration(0))
)

// decode fills v (addressable) from n.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	before := len(*d.diags)
	d.value(n, v, path)
	if len(*d.diags) > before && !d.bad[path] {
		// a problem with this very value (not one below it) marks it bad
		for _, dg := range (*d.diags)[before:] {
			if r, ok := d.pos[path]; ok && dg.Subject != nil && dg.Subject.Start == r.Start {
				d.bad[path] = true
			}
		}
	}
}

func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	alias := n
	n = d.resolve(n)
	if n == nil {
		d.bad[path] = true
		if d.aliases == maxAliases+1 {
			d.errorf(alias, "too many YAML alias expansions (more than %d)", maxAliases)
		}
		return
	}
	d.nodes++
	if d.nodes > maxNodes {
		if d.nodes == maxNodes+1 {
			d.errorf(n, "document expands to more than %d values", maxNodes)
		}
		d.bad[path] = true
		return
	}
	d.depth++
	defer func() { d.depth-- }()
	if d.depth > maxDepth {
		if d.depth == maxDepth+1 {
			d.errorf(n, "document nested deeper than %d levels", maxDepth)
		}
		return
	}
	d.pos[path] = *d.rng(n)
	if v.Kind() == reflect.Pointer {
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			return
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
		return
	}
	switch v.Type() {
	case tNode:
		d.node(n, v.Addr().Interface().(*v1alpha1.Node), path)
		return
	case tRace:
		r := v.Addr().Interface().(*v1alpha1.Race)
		if n.Kind == yaml.SequenceNode {
			d.decode(n, reflect.ValueOf(&r.Of).Elem(), path+".of")
			return
		}
	case tCase:
		d.branchCase(n, v.Addr().Interface().(*v1alpha1.BranchCase), path)
		return
	case tRatio:
		if n.Kind != yaml.ScalarNode || n.Tag == "!!null" || n.Tag == "!!bool" {
			d.errorf(n, "expected a probability such as 0.995 or \"99.5%%\", got %s", diag.NodeKind(n))
			return
		}
		r, err := v1alpha1.ParseRatio(n.Value)
		if err != nil {
			d.errorf(n, "%v", err)
			return
		}
		v.SetFloat(float64(r))
		return
	case tDuration:
		if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
			d.errorf(n, "expected a duration such as 400ms or 30d, got %s", diag.NodeKind(n))
			return
		}
		if n.Tag == "!!int" || n.Tag == "!!float" {
			if f, err := strconv.ParseFloat(n.Value, 64); err == nil && f == 0 {
				return
			}
			dg := d.errorf(n, "duration %s has no unit", n.Value)
			dg.Detail = fmt.Sprintf("write it with a unit, e.g. %sms or %ss", n.Value, n.Value)
			return
		}
		dur, err := v1alpha1.ParseDuration(n.Value)
		if err != nil {
			d.errorf(n, "%v", err)
			return
		}
		v.SetInt(int64(dur))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.structure(n, v, path)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			if n.Tag != "!!null" {
				d.errorf(n, "expected a mapping, got %s", diag.NodeKind(n))
			}
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := d.resolve(n.Content[i]), n.Content[i+1]
			if k == nil || k.Kind != yaml.ScalarNode {
				d.errorf(n.Content[i], "keys must be strings")
				continue
			}
			if seen[k.Value] {
				d.errorf(k, "duplicate key %q", k.Value)
				continue
			}
			seen[k.Value] = true
			p := path + "." + k.Value
			d.keyPos[p] = *d.rng(k)
			ev := reflect.New(v.Type().Elem()).Elem()
			d.decode(val, ev, p)
			v.SetMapIndex(reflect.ValueOf(k.Value), ev)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			if n.Tag != "!!null" {
				d.errorf(n, "expected a list, got %s", diag.NodeKind(n))
			}
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.decode(c, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.Tag == "!!null" || n.Tag == "!!bool" {
			d.errorf(n, "expected a string, got %s", diag.NodeKind(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Float64:
		f, ok := d.number(n)
		if ok {
			v.SetFloat(f)
		}
	case reflect.Int:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			d.errorf(n, "expected an integer, got %s", diag.NodeKind(n))
			return
		}
		i, err := strconv.ParseInt(n.Value, 0, 32)
		if err != nil {
			d.errorf(n, "%q is not an integer in range", n.Value)
			return
		}
		v.SetInt(i)
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			d.errorf(n, "expected true or false, got %s", diag.NodeKind(n))
			return
		}
		v.SetBool(n.Value == "true" || n.Value == "True" || n.Value == "TRUE")
	default:
		d.errorf(n, "internal: cannot decode into %s", v.Type())
	}
}

func (d *decoder) number(n *yaml.Node) (float64, bool) {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
		d.errorf(n, "expected a number, got %s", diag.NodeKind(n))
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
	if err != nil {
		d.errorf(n, "%q is not a number", n.Value)
		return 0, false
	}
	return f, true
}

// fields maps the JSON names of a struct's fields (inline fields flattened)
// to their index paths.
func fields(t reflect.Type) (map[string][]int, []string) {
	m := map[string][]int{}
	var names []string
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			idx := append(append([]int(nil), prefix...), i)
			if strings.Contains(opts, "inline") || (f.Anonymous && name == "") {
				walk(f.Type, idx)
				continue
			}
			if name == "-" || !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			m[name] = idx
			names = append(names, name)
		}
	}
	walk(t, nil)
	sort.Strings(names)
	return m, names
}

func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		if n.Tag != "!!null" {
			d.errorf(n, "expected a mapping, got %s", diag.NodeKind(n))
		}
		return
	}
	byName, names := fields(v.Type())
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := d.resolve(n.Content[i]), n.Content[i+1]
		if k == nil || k.Kind != yaml.ScalarNode {
			d.errorf(n.Content[i], "keys must be strings")
			continue
		}
		idx, ok := byName[k.Value]
		if !ok {
			dg := d.errorf(k, "unknown field %q%s", k.Value, where(path))
			dg.Detail = diag.DidYouMean(k.Value, names)
			if dg.Detail == "" {
				dg.Detail = "known fields: " + strings.Join(names, ", ")
			}
			continue
		}
		if seen[k.Value] {
			d.errorf(k, "duplicate field %q", k.Value)
			continue
		}
		seen[k.Value] = true
		p := join(path, k.Value)
		d.keyPos[p] = *d.rng(k)
		d.decode(val, v.FieldByIndex(idx), p)
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func where(path string) string {
	if path == "" {
		return ""
	}
	return " in " + path
}

// node decodes a flow node: a bare string is a call; a mapping names
// exactly one operator.
func (d *decoder) node(n *yaml.Node, out *v1alpha1.Node, path string) {
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		if n.Tag == "!!bool" || n.Value == "" {
			d.errorf(n, "expected a component name or an operator, got %s", diag.NodeKind(n))
			return
		}
		out.Call = n.Value
		d.pos[path+".call"] = *d.rng(n)
		return
	}
	if n.Kind != yaml.MappingNode {
		dg := d.errorf(n, "expected a component name or an operator, got %s", diag.NodeKind(n))
		dg.Detail = "operators: " + strings.Join(v1alpha1.Operators, ", ")
		if n.Kind == yaml.SequenceNode {
			dg.Detail = "steps in order are written seq: [...]; " + dg.Detail
		}
		return
	}
	d.structure(n, reflect.ValueOf(out).Elem(), path)
	if len(n.Content) > 0 && len(setOps(out)) == 0 {
		d.bad[path] = true // only unknown fields, each already reported
	}
}

func (d *decoder) branchCase(n *yaml.Node, out *v1alpha1.BranchCase, path string) {
	if n.Kind != yaml.MappingNode {
		dg := d.errorf(n, "a branch case is a mapping with a weight and one operator, got %s", diag.NodeKind(n))
		dg.Detail = "e.g. {weight: 0.9, call: front}"
		return
	}
	hasWeight := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		hasWeight = hasWeight || n.Content[i].Value == "weight"
	}
	if !hasWeight {
		d.errorf(n, "branch case has no weight")
	}
	d.structure(n, reflect.ValueOf(out).Elem(), path)
}

func reflectValue(p any) reflect.Value { return reflect.ValueOf(p).Elem() }
