// Package yamlw writes emac's artifacts as YAML. The artifacts are large
// (PromQL formulas of tens of kilobytes, dozens of files per journey) and
// of plain shapes — structs with yaml tags, string-keyed maps, slices,
// strings, numbers, booleans — and a general YAML emitter spent most of
// `emac compile` on them. Output is block style with two-space indents,
// map keys sorted, struct fields in order; every string reads back as
// itself (tested by decoding with yaml.v3).
package yamlw

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Marshal writes v as one YAML document.
func Marshal(v any) ([]byte, error) {
	bp := buffers.Get().(*[]byte)
	w := writer{b: (*bp)[:0]}
	err := w.value(0, reflect.ValueOf(v), false)
	// the result is copied out at its size: growing a buffer by doubling
	// for every file was most of what compiling allocated
	out := slices.Clone(w.b)
	if cap(w.b) <= maxPooled {
		*bp = w.b
		buffers.Put(bp)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// buffers are Marshal's scratch buffers, kept up to maxPooled bytes.
var buffers = sync.Pool{New: func() any { return new([]byte) }}

const maxPooled = 4 << 20

type writer struct {
	b      []byte
	fields map[reflect.Type][]field // struct layouts met so far
}

// field is a struct field written as a mapping entry.
type field struct {
	index     int
	name      string
	omitempty bool
}

// layout lists the fields of struct type t that are written.
func (w *writer) layout(t reflect.Type) []field {
	if fs, ok := w.fields[t]; ok {
		return fs
	}
	var fs []field
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fs = append(fs, field{index: i, name: name, omitempty: opts == "omitempty"})
	}
	if w.fields == nil {
		w.fields = map[reflect.Type][]field{}
	}
	w.fields[t] = fs
	return fs
}

func (w *writer) indent(n int) {
	for range n {
		w.b = append(w.b, ' ')
	}
}

// value writes v at indent; inline says the cursor is after "key:" or
// "- " on the current line.
func (w *writer) value(indent int, v reflect.Value, inline bool) error {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			w.scalar(inline, "null")
			return nil
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.String:
		if !utf8.ValidString(v.String()) {
			return fmt.Errorf("yamlw: %q is not UTF-8", v.String())
		}
		w.quoted(inline, v.String())
	case reflect.Bool:
		w.scalar(inline, strconv.FormatBool(v.Bool()))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		w.scalar(inline, strconv.FormatInt(v.Int(), 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		w.scalar(inline, strconv.FormatUint(v.Uint(), 10))
	case reflect.Float32, reflect.Float64:
		w.scalar(inline, Float(v.Float()))
	case reflect.Slice, reflect.Array:
		if v.Len() == 0 {
			w.scalar(inline, "[]")
			return nil
		}
		if inline {
			w.b = append(w.b, '\n')
		}
		for i := range v.Len() {
			w.indent(indent)
			w.b = append(w.b, "- "...)
			if err := w.item(indent+2, v.Index(i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return fmt.Errorf("yamlw: map key type %s", v.Type().Key())
		}
		if m, ok := v.Interface().(map[string]string); ok {
			// labels and annotations: most maps written
			keys := slices.Sorted(maps.Keys(m))
			for _, k := range keys {
				if !utf8.ValidString(k) {
					return fmt.Errorf("yamlw: key %q is not UTF-8", k)
				}
			}
			if len(keys) == 0 {
				w.scalar(inline, "{}")
				return nil
			}
			return w.entries(indent, inline, len(keys), func(i int) (string, reflect.Value) {
				return keys[i], reflect.ValueOf(m[keys[i]])
			})
		}
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			if !utf8.ValidString(k.String()) {
				return fmt.Errorf("yamlw: key %q is not UTF-8", k.String())
			}
			keys = append(keys, k.String())
		}
		slices.Sort(keys)
		if len(keys) == 0 {
			w.scalar(inline, "{}")
			return nil
		}
		return w.entries(indent, inline, len(keys), func(i int) (string, reflect.Value) {
			return keys[i], v.MapIndex(reflect.ValueOf(keys[i]).Convert(v.Type().Key()))
		})
	case reflect.Struct:
		var names []string
		var vals []reflect.Value
		for _, f := range w.layout(v.Type()) {
			fv := v.Field(f.index)
			if f.omitempty && (fv.IsZero() || (fv.Kind() == reflect.Map || fv.Kind() == reflect.Slice) && fv.Len() == 0) {
				continue
			}
			names, vals = append(names, f.name), append(vals, fv)
		}
		if len(names) == 0 {
			w.scalar(inline, "{}")
			return nil
		}
		return w.entries(indent, inline, len(names), func(i int) (string, reflect.Value) { return names[i], vals[i] })
	default:
		return fmt.Errorf("yamlw: cannot write a %s", v.Kind())
	}
	return nil
}

// item writes a sequence item after "- ": a mapping starts on the same
// line.
func (w *writer) item(indent int, v reflect.Value) error {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			break
		}
		v = v.Elem()
	}
	if (v.Kind() == reflect.Map || v.Kind() == reflect.Struct) && !v.IsZero() {
		return w.value(indent, v, false)
	}
	return w.value(indent, v, true)
}

// entries writes mapping entries; the first continues a "- " line.
func (w *writer) entries(indent int, inline bool, n int, at func(int) (string, reflect.Value)) error {
	if inline {
		w.b = append(w.b, '\n')
	}
	for i := range n {
		k, fv := at(i)
		if i > 0 || inline || !w.afterDash() {
			w.indent(indent)
		}
		start := len(w.b)
		w.b = appendQuote(w.b, k)
		if len(w.b)-start > 1000 {
			// an implicit key is at most 1024 characters: make it explicit
			w.b = append(w.b[:start], "? "...)
			w.b = appendQuote(w.b, k)
			w.b = append(w.b, '\n')
			w.indent(indent)
		}
		w.b = append(w.b, ':')
		if err := w.value(indent+2, fv, true); err != nil {
			return err
		}
	}
	return nil
}

// afterDash reports whether the cursor follows a "- ".
func (w *writer) afterDash() bool {
	return len(w.b) >= 2 && w.b[len(w.b)-1] == ' ' && w.b[len(w.b)-2] == '-'
}

func (w *writer) scalar(inline bool, s string) {
	if inline && !w.afterDash() {
		w.b = append(w.b, ' ')
	}
	w.b = append(w.b, s...)
	w.b = append(w.b, '\n')
}

// quoted writes a string scalar.
func (w *writer) quoted(inline bool, s string) {
	if inline && !w.afterDash() {
		w.b = append(w.b, ' ')
	}
	w.b = appendQuote(w.b, s)
	w.b = append(w.b, '\n')
}

// Float writes a number the shortest way that reads back as v.
func Float(v float64) string {
	switch {
	case v != v:
		return ".nan"
	case v > 1.7976931348623157e308:
		return ".inf"
	case v < -1.7976931348623157e308:
		return "-.inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// Key writes a mapping key: like any string, plain when unambiguous.
func Key(k string) string { return Quote(k) }

// Quote writes s as a YAML scalar that reads back as the string s: plain
// when that is unambiguous, single-quoted when it is printable on one
// line (only ' needs escaping, PromQL's double quotes read as they are),
// double-quoted with JSON escapes otherwise.
func Quote(s string) string { return string(appendQuote(nil, s)) }

// appendQuote appends Quote(s) to b.
func appendQuote(b []byte, s string) []byte {
	if plain(s) {
		return append(b, s...)
	}
	if printable(s) {
		b = append(b, '\'')
		for {
			i := strings.IndexByte(s, '\'')
			if i < 0 {
				break
			}
			b = append(b, s[:i+1]...)
			b = append(b, '\'')
			s = s[i+1:]
		}
		b = append(b, s...)
		return append(b, '\'')
	}
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\')
			b = utf8.AppendRune(b, r)
		case r == '\n':
			b = append(b, `\n`...)
		case r == '\t':
			b = append(b, `\t`...)
		case unicode.IsPrint(r):
			b = utf8.AppendRune(b, r)
		case r <= 0xFFFF:
			b = fmt.Appendf(b, `\u%04X`, r)
		default:
			b = fmt.Appendf(b, `\U%08X`, r)
		}
	}
	return append(b, '"')
}

// printable reports whether s is valid UTF-8 made of printable characters
// only; ASCII, the common case, is checked byte by byte.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 {
			if !utf8.ValidString(s[i:]) {
				return false
			}
			for _, r := range s[i:] {
				if !unicode.IsPrint(r) {
					return false
				}
			}
			return true
		} else if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// plain reports whether s can be written unquoted: words, paths, URLs,
// versions — nothing YAML would read as another type or as syntax.
func plain(s string) bool {
	if s == "" || reserved(s) || len(s) > 200 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case c >= '0' && c <= '9', c == '.', c == '/', c == '-':
			if i == 0 && (c == '-' || c == '.') {
				return false
			}
		case c == ':':
			// "http://x" is plain; "a: b" and a trailing ":" are not
			if i == len(s)-1 || s[i+1] == ' ' {
				return false
			}
		default:
			return false
		}
	}
	// a number, or anything a YAML 1.1 reader might take for one (the
	// characters above leave only those starting with a digit, and
	// .inf/.nan, which start with a dot)
	if c := s[0]; c >= '0' && c <= '9' {
		return false
	}
	return true
}

// reserved are the words YAML reads as booleans or null.
func reserved(s string) bool {
	if len(s) > 5 {
		return false
	}
	for _, w := range [...]string{"true", "false", "yes", "no", "on", "off", "y", "n", "null", "~"} {
		if strings.EqualFold(s, w) {
			return true
		}
	}
	return false
}
