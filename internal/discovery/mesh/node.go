package mesh

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/emac-dev/emac/internal/diag"
	"github.com/emac-dev/emac/internal/discovery/yamlnode"
)

// doc decodes the values of one document, as yamlnode.Doc does, into
// Values that keep their positions.
type doc struct{ yamlnode.Doc }

// str decodes a string field as yamlnode.Doc's Str does.
func (d *doc) str(o *yamlnode.Obj, key string) (Value[string], bool) {
	v, pos, ok := d.Str(o, key)
	return Value[string]{V: v, Pos: pos}, ok
}

func (d *doc) strNode(n *yaml.Node, path string) (Value[string], bool) {
	v, pos, ok := d.StrNode(n, path)
	return Value[string]{V: v, Pos: pos}, ok
}

// strs decodes a list of strings, skipping (and reporting) the bad ones.
func (d *doc) strs(o *yamlnode.Obj, key string) []Value[string] {
	var out []Value[string]
	for i, n := range d.Seq(o, key) {
		if v, ok := d.strNode(n, yamlnode.Index(o.At(key), i)); ok {
			out = append(out, v)
		}
	}
	return out
}

// number decodes a YAML number (JSON numbers are YAML numbers).
func (d *doc) number(n *yaml.Node, path string) (float64, *yaml.Node, bool) {
	n = yamlnode.Resolve(n)
	if yamlnode.IsNull(n) {
		return 0, nil, false
	}
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
		d.Corrupt(n, path, "want a number, got %s", diag.NodeKind(n))
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
		d.Corrupt(n, path, "%q is not a finite number", n.Value)
		return 0, nil, false
	}
	return v, n, true
}

// integer decodes a whole number in [lo, hi]; 80.0 is accepted as 80
// (protobuf's JSON does), 80.5 is not.
func (d *doc) integer(o *yamlnode.Obj, key string, lo, hi int) (Value[int], bool) {
	if o == nil {
		return Value[int]{}, false
	}
	return d.intNode(o.Get(key), o.At(key), lo, hi)
}

func (d *doc) intNode(n *yaml.Node, path string, lo, hi int) (Value[int], bool) {
	v, n, ok := d.number(n, path)
	if !ok {
		return Value[int]{}, false
	}
	if v != math.Trunc(v) {
		d.Corrupt(n, path, "%s is not a whole number", n.Value)
		return Value[int]{}, false
	}
	if v < float64(lo) || v > float64(hi) {
		d.Corrupt(n, path, "%s is out of range [%d, %d]", n.Value, lo, hi)
		return Value[int]{}, false
	}
	return Value[int]{V: int(v), Pos: d.Pos(n, path)}, true
}

func (d *doc) float(o *yamlnode.Obj, key string, lo, hi float64) (Value[float64], bool) {
	if o == nil {
		return Value[float64]{}, false
	}
	path := o.At(key)
	v, n, ok := d.number(o.Get(key), path)
	if !ok {
		return Value[float64]{}, false
	}
	if v < lo || v > hi {
		d.Corrupt(n, path, "%s is out of range [%g, %g]", n.Value, lo, hi)
		return Value[float64]{}, false
	}
	return Value[float64]{V: v, Pos: d.Pos(n, path)}, true
}

func (d *doc) boolean(o *yamlnode.Obj, key string) (Value[bool], bool) {
	if o == nil {
		return Value[bool]{}, false
	}
	path := o.At(key)
	n := yamlnode.Resolve(o.Get(key))
	if yamlnode.IsNull(n) {
		return Value[bool]{}, false
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		d.Corrupt(n, path, "want a boolean, got %s", diag.NodeKind(n))
		return Value[bool]{}, false
	}
	b, err := strconv.ParseBool(strings.ToLower(n.Value))
	if err != nil {
		d.Corrupt(n, path, "%q is not a boolean", n.Value)
		return Value[bool]{}, false
	}
	return Value[bool]{V: b, Pos: d.Pos(n, path)}, true
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
func (d *doc) duration(o *yamlnode.Obj, key string, dl dialect, zero bool) (*Value[time.Duration], bool) {
	s, ok := d.str(o, key)
	if !ok {
		return nil, false
	}
	v, err := parseDuration(s.V, dl)
	if err != nil {
		d.Corrupt(yamlnode.Resolve(o.Get(key)), o.At(key), "%v", err)
		return nil, false
	}
	if v == 0 && !zero {
		d.Corrupt(yamlnode.Resolve(o.Get(key)), o.At(key), "%q: the duration must be positive", s.V)
		return nil, false
	}
	if dl == istioDuration && v > 0 && v < time.Millisecond {
		d.Corrupt(yamlnode.Resolve(o.Get(key)), o.At(key), "%q: Istio durations must be at least 1ms", s.V)
		return nil, false
	}
	return &Value[time.Duration]{V: v, Pos: s.Pos}, true
}
