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
	w := writers.Get().(*writer)
	w.b = w.b[:0]
	err := w.value(0, reflect.ValueOf(v), false)
	// the result is copied out at its size: growing a buffer by doubling
	// for every file was most of what compiling allocated
	out := slices.Clone(w.b)
	if cap(w.b) > maxPooled {
		w.b = nil
	}
	clear(w.stack) // no values held after
	w.stack = w.stack[:0]
	writers.Put(w)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// writers are Marshal's writers, with their buffers (kept up to maxPooled
// bytes) and struct layouts: a sync.Pool, so that concurrent Marshals each
// take their own. A layout depends on its type only, so a writer's
// layouts hold for every value it writes.
var writers = sync.Pool{New: func() any { return &writer{} }}

const maxPooled = 4 << 20

type writer struct {
	b      []byte
	fields map[reflect.Type][]field // struct layouts met so far
	// stack holds the mapping entries being written, the innermost
	// mapping's last (see entries)
	stack []entry
}

// entry is a mapping entry to write: a key and its value, a string (str,
// when isStr) or any value.
type entry struct {
	key   string
	val   reflect.Value
	str   string
	isStr bool
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
		return w.str(inline, v.String())
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
		if v.Len() == 0 {
			w.scalar(inline, "{}")
			return nil
		}
		base := len(w.stack)
		defer w.pop(base)
		if m, ok := v.Interface().(map[string]string); ok {
			// labels and annotations: most maps written
			for k, s := range m {
				if !utf8.ValidString(k) {
					return fmt.Errorf("yamlw: key %q is not UTF-8", k)
				}
				w.stack = append(w.stack, entry{key: k, str: s, isStr: true})
			}
		} else {
			for it := v.MapRange(); it.Next(); {
				k := it.Key().String()
				if !utf8.ValidString(k) {
					return fmt.Errorf("yamlw: key %q is not UTF-8", k)
				}
				w.stack = append(w.stack, entry{key: k, val: it.Value()})
			}
		}
		// keys sorted (a map's keys are distinct)
		slices.SortFunc(w.stack[base:], func(a, b entry) int { return strings.Compare(a.key, b.key) })
		return w.entries(indent, inline, base)
	case reflect.Struct:
		base := len(w.stack)
		defer w.pop(base)
		for _, f := range w.layout(v.Type()) {
			fv := v.Field(f.index)
			if f.omitempty && (fv.IsZero() || (fv.Kind() == reflect.Map || fv.Kind() == reflect.Slice) && fv.Len() == 0) {
				continue
			}
			w.stack = append(w.stack, entry{key: f.name, val: fv})
		}
		if len(w.stack) == base {
			w.scalar(inline, "{}")
			return nil
		}
		return w.entries(indent, inline, base)
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

// pop drops the entries pushed from base on.
func (w *writer) pop(base int) {
	clear(w.stack[base:])
	w.stack = w.stack[:base]
}

// entries writes the mapping entries on the stack from base; the first
// continues a "- " line. The values written push their own entries above
// these and pop them, so an entry is read from the stack when written.
func (w *writer) entries(indent int, inline bool, base int) error {
	if inline {
		w.b = append(w.b, '\n')
	}
	for i := base; i < len(w.stack); i++ {
		e := w.stack[i]
		if i > base || inline || !w.afterDash() {
			w.indent(indent)
		}
		start := len(w.b)
		w.b = appendQuote(w.b, e.key)
		if len(w.b)-start > 1000 {
			// an implicit key is at most 1024 characters: make it explicit
			w.b = append(w.b[:start], "? "...)
			w.b = appendQuote(w.b, e.key)
			w.b = append(w.b, '\n')
			w.indent(indent)
		}
		w.b = append(w.b, ':')
		var err error
		if e.isStr {
			err = w.str(true, e.str)
		} else {
			err = w.value(indent+2, e.val, true)
		}
		if err != nil {
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

// str writes a string value.
func (w *writer) str(inline bool, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("yamlw: %q is not UTF-8", s)
	}
	w.quoted(inline, s)
	return nil
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
	// eight bytes at a time while all are printable ASCII (the formulas
	// written are tens of kilobytes of it); the rest, and a word that is
	// not, byte by byte
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		del := w ^ 0x7f*ones
		// a byte ≥ 0x80, below 0x20 (the subtraction borrows into its
		// high bit only then, every byte being below 0x80), or 0x7f
		if w&highs != 0 || (w-0x20*ones)&^w&highs != 0 || (del-ones)&^del&highs != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
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
