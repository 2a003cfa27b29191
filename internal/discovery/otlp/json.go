package otlp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/go-faster/jx"

	"github.com/emac-dev/emac/internal/discovery"
)

// Window sizes: the JSON reader starts with windowSize bytes and grows
// the window only for a value that does not fit, up to maxRecord — what
// one span, one resource or one held scopeSpans array may take.
const (
	windowSize = 64 << 10
	maxRecord  = 64 << 20
	// maxDepth bounds the nesting of values the reader skips itself.
	maxDepth = 1000
	// checkEvery is how many spans pass between looks at the context.
	checkEvery = 1024
)

// errStop ends a file after a problem that leaves the rest unreadable
// (reported before it is returned).
var errStop = errors.New("stop")

// ReadJSON reads OTLP JSON traces from r — one TracesData (or
// ExportTraceServiceRequest) object, or any number of them one after
// another, as the collector's file exporter writes them, one a line —
// and gives each span to sink, in the order of the input. name is the
// input's name in positions.
//
// A record that does not decode is reported to sink as a Problem and
// skipped; a syntax error that leaves the rest of the input unreadable
// is reported and ends it, the spans before it already given. ReadJSON
// returns an error only when reading r fails, ctx is done, or sink.Span
// returns one.
func ReadJSON(ctx context.Context, name string, r io.Reader, sink discovery.Sink) error {
	err := newJSONReader(ctx, name, r, sink, windowSize).run()
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

// newJSONReader makes a reader whose window starts at size bytes (tests
// make it small, to refill and grow it often).
func newJSONReader(ctx context.Context, name string, r io.Reader, sink discovery.Sink, size int) *jsonReader {
	jr := &jsonReader{ctx: ctx, e: emitter{name: name, sink: sink}}
	jr.w.init(r, size, maxRecord)
	jr.d, jr.vd, jr.ud = jx.DecodeBytes(nil), jx.DecodeBytes(nil), jx.DecodeBytes(nil)
	jr.spanFieldFn, jr.resFieldFn = jr.spanField, jr.resField
	jr.attrFn, jr.kvFn, jr.anyFn = jr.attrElem, jr.kvField, jr.anyField
	jr.linkFn, jr.linkFieldFn, jr.statusFn = jr.linkElem, jr.linkField, jr.statusField
	jr.spanElemFn = jr.spanElem
	return jr
}

// jsonReader reads one input.
type jsonReader struct {
	ctx context.Context
	e   emitter
	w   window
	// d parses spans and resources from the window; vd the values
	// within them (attribute values, ends of objects); ud unescapes
	// strings.
	d, vd, ud *jx.Decoder

	s   spanState
	res resource
	ra  attrs // the resource's attributes while it is read
	rec record
	// target is where attributes go: the span's or the resource's.
	target *attrs
	// arena holds the current span's strings that had escapes.
	arena []byte
	// keyBuf holds the key of the member being read by object.
	keyBuf []byte
	// lastKey is the span's last key, a slice of the window: where the
	// span ends is found from it (see objectEnd).
	lastKey []byte
	pins    []pin

	// The attribute, any value and link being read.
	kvKey   text
	kvVal   []byte
	av      anyValue
	ln      link
	lnT     bool
	lnS     bool
	lnBad   bool
	lnCount int
	// spans counts the spans read, to look at the context now and then.
	spans int

	// The callbacks given to jx, bound once: a method value made at
	// each call would be allocated at each call.
	spanFieldFn, resFieldFn, kvFn, anyFn, linkFieldFn, statusFn func(*jx.Decoder, []byte) error
	attrFn, linkFn                                              func(*jx.Decoder) error
	spanElemFn                                                  func(int) error
}

// pin is a scopeSpans array held in the window until its resource has
// been read: its offset, and its key.
type pin struct {
	at    int64
	scope string
}

// anyValue is an attribute's value as far as the reader reads it.
type anyValue struct {
	typ byte // 's', 'i', 'b', 'd', or 'o' for the others
	str text
	i   int64
	bad bool
	why string
}

func (r *jsonReader) run() error {
	w := &r.w
	for w.n < 4 && !w.eof {
		if err := r.refill(); err != nil && err != io.EOF {
			return err
		}
	}
	if bytes.HasPrefix(w.buf[:w.n], []byte("\xef\xbb\xbf")) {
		w.pos = 3
	}
	if kind := compressed(w.buf[w.pos:w.n]); kind != "" {
		r.e.problem(discovery.Unsupported, discovery.Pos{Line: 1, Col: 1},
			"%s-compressed input: decompress it first", kind)
		return nil
	}
	r.rec = record{depth: -1}
	for {
		c, ok, err := r.peek()
		if err != nil || !ok {
			return err
		}
		if c != '{' {
			return r.syntax(w.pos, "expected an OTLP JSON object ({\"resourceSpans\":[...]}), found %s", quoteByte(c))
		}
		if err := r.ctx.Err(); err != nil {
			return err
		}
		if err := r.object(r.document); err != nil {
			return err
		}
		r.rec = record{depth: -1}
	}
}

// compressed names the compression of an input that starts with head,
// or is "".
func compressed(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return "gzip"
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return "zstd"
	}
	return ""
}

func quoteByte(c byte) string {
	if c < 0x20 || c >= 0x7f {
		return fmt.Sprintf("byte 0x%02x", c)
	}
	return fmt.Sprintf("%q", rune(c))
}

// refill reads more input into the window; see window.more. A value too
// large for the window is reported and ends the input.
func (r *jsonReader) refill() error {
	err := r.w.more()
	switch {
	case err == nil, err == io.EOF:
		return err
	case errors.Is(err, errTooLarge):
		return r.problemAt(discovery.Corrupt, r.w.off+int64(max(r.w.keep, 0)),
			"a record larger than %d MiB: the rest of the input is not read", maxRecord>>20)
	}
	return fmt.Errorf("%s: %w", r.e.name, err)
}

// refillFrom refills the window keeping the bytes from index i, and
// returns i's index after the refill.
func (r *jsonReader) refillFrom(i int) (int, error) {
	w := &r.w
	old := w.keep
	if old < 0 || i < old {
		w.keep = i
	}
	before := w.off
	err := r.refill()
	shift := int(w.off - before)
	w.keep = -1
	if old >= 0 {
		w.keep = old - shift
	}
	return i - shift, err
}

// pos is the position of offset x, which must be in the window.
func (r *jsonReader) pos(x int64) discovery.Pos {
	line, col := r.w.lineCol(x)
	return discovery.Pos{Line: line, Col: col, Offset: x}
}

// problemAt reports a problem at offset x that ends the input.
func (r *jsonReader) problemAt(kind discovery.ProblemKind, x int64, format string, args ...any) error {
	p := r.pos(x)
	p.Record = r.rec.String()
	r.e.problem(kind, p, format, args...)
	return errStop
}

// syntax reports a syntax error at window index i, which ends the input.
func (r *jsonReader) syntax(i int, format string, args ...any) error {
	return r.problemAt(discovery.Corrupt, r.w.off+int64(i), format, args...)
}

// jxSyntax reports jx's error err for the value at window index i,
// located by encoding/json, whose errors say where they are (jx's
// offsets are relative to what it was given, and unexported).
func (r *jsonReader) jxSyntax(i int, err error) error {
	w := &r.w
	if incomplete(err) {
		return r.syntax(w.n, "unexpected end of input")
	}
	dec := json.NewDecoder(bytes.NewReader(w.buf[i:w.n]))
	var v json.RawMessage
	var se *json.SyntaxError
	if e := dec.Decode(&v); errors.As(e, &se) && se.Offset > 0 {
		return r.syntax(i+int(se.Offset)-1, "%v", se)
	}
	return r.syntax(i, "%v", err)
}

// incomplete says whether jx stopped at the end of the bytes it had.
func incomplete(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// cut says whether jx's error err, for the value at window index i,
// comes from the window ending within the value. jx says so with an EOF;
// should it report a syntax error instead, encoding/json, which tells a
// truncated value from a bad one, decides (only on this error path).
func (r *jsonReader) cut(i int, err error) bool {
	if incomplete(err) {
		return true
	}
	var v json.RawMessage
	return json.NewDecoder(bytes.NewReader(r.w.buf[i:r.w.n])).Decode(&v) == io.ErrUnexpectedEOF
}

// peek skips white space and returns the next byte without taking it;
// ok is false at the end of the input.
func (r *jsonReader) peek() (c byte, ok bool, err error) {
	w := &r.w
	for {
		for w.pos < w.n {
			switch c := w.buf[w.pos]; c {
			case ' ', '\t', '\n', '\r':
				w.pos++
			default:
				return c, true, nil
			}
		}
		if err := r.refill(); err == io.EOF {
			return 0, false, nil
		} else if err != nil {
			return 0, false, err
		}
	}
}

// next is peek at a place where the input must go on.
func (r *jsonReader) next() (byte, error) {
	c, ok, err := r.peek()
	if err == nil && !ok {
		err = r.syntax(r.w.n, "unexpected end of input")
	}
	return c, err
}

// object reads the object at the input, calling f for each member with
// its key; f must read the member's value, and use the key before it
// does (the key is in a buffer the next key overwrites).
func (r *jsonReader) object(f func(key []byte) error) error {
	w := &r.w
	if _, err := r.next(); err != nil {
		return err
	}
	w.pos++ // '{', as the caller saw
	c, err := r.next()
	if err != nil {
		return err
	}
	if c == '}' {
		w.pos++
		return nil
	}
	for {
		if c != '"' {
			return r.syntax(w.pos, "expected a key, found %s", quoteByte(c))
		}
		key, err := r.key()
		if err != nil {
			return err
		}
		if c, err = r.next(); err != nil {
			return err
		}
		if c != ':' {
			return r.syntax(w.pos, "expected ':' after a key, found %s", quoteByte(c))
		}
		w.pos++
		if _, err = r.next(); err != nil {
			return err
		}
		if err := f(key); err != nil {
			return err
		}
		if c, err = r.next(); err != nil {
			return err
		}
		w.pos++
		switch c {
		case '}':
			return nil
		case ',':
			if c, err = r.next(); err != nil {
				return err
			}
		default:
			return r.syntax(w.pos-1, "expected ',' or '}' after an object member, found %s", quoteByte(c))
		}
	}
}

// key reads the key at the input (at its '"') into keyBuf.
func (r *jsonReader) key() ([]byte, error) {
	w := &r.w
	start, i, esc := w.pos, w.pos+1, false
	for {
		for i < w.n && w.buf[i] != '"' {
			if w.buf[i] == '\\' {
				esc = true
				i++
			}
			i++
		}
		if i < w.n {
			break
		}
		var err error
		shift := i - start
		if start, err = r.refillFrom(start); err == io.EOF {
			return nil, r.syntax(w.n, "unexpected end of input")
		} else if err != nil {
			return nil, err
		}
		i = start + shift
	}
	raw := w.buf[start : i+1]
	w.pos = i + 1
	if !esc {
		r.keyBuf = append(r.keyBuf[:0], raw[1:len(raw)-1]...)
		return r.keyBuf, nil
	}
	r.ud.ResetBytes(raw)
	k, err := r.ud.StrAppend(r.keyBuf[:0])
	if err != nil {
		return nil, r.jxSyntax(start, err)
	}
	r.keyBuf = k
	return k, nil
}

// array reads the array at the input, calling f for each element; f
// must read the element.
func (r *jsonReader) array(f func(i int) error) error {
	w := &r.w
	w.pos++ // '['
	c, err := r.next()
	if err != nil {
		return err
	}
	if c == ']' {
		w.pos++
		return nil
	}
	for i := 0; ; i++ {
		if err := f(i); err != nil {
			return err
		}
		if c, err = r.next(); err != nil {
			return err
		}
		w.pos++
		switch c {
		case ']':
			return nil
		case ',':
			if _, err = r.next(); err != nil {
				return err
			}
		default:
			return r.syntax(w.pos-1, "expected ',' or ']' after an array element, found %s", quoteByte(c))
		}
	}
}

// extent reads the value at the input with jx, and returns its bytes
// (valid until the window is refilled).
func (r *jsonReader) extent() ([]byte, error) {
	w := &r.w
	for {
		r.vd.ResetBytes(w.buf[w.pos:w.n])
		raw, err := r.vd.Raw()
		// A value that ends where the bytes at hand do may go on (a
		// number), unless the input ends there too.
		if err == nil && (w.pos+len(raw) < w.n || w.eof) {
			w.pos += len(raw)
			return raw, nil
		}
		if err != nil && (w.eof || !r.cut(w.pos, err)) {
			return nil, r.jxSyntax(w.pos, err)
		}
		if _, err := r.refillFrom(w.pos); err != nil && err != io.EOF {
			return nil, err
		}
	}
}

// skip reads past the value at the input. Objects and arrays it reads
// itself, so that an unknown member as large as the input (a
// resourceLogs array) streams through the window.
func (r *jsonReader) skip(depth int) error {
	c, err := r.next()
	if err != nil {
		return err
	}
	if (c == '{' || c == '[') && depth >= maxDepth {
		return r.syntax(r.w.pos, "values nested more than %d deep", maxDepth)
	}
	switch c {
	case '{':
		return r.object(func([]byte) error { return r.skip(depth + 1) })
	case '[':
		return r.array(func(int) error { return r.skip(depth + 1) })
	}
	_, err = r.extent()
	return err
}

// notA reports that the value at the input is not the wanted kind and
// skips it. A null field is an absent one, as in protobuf's JSON
// mapping; a null element of an array (elem) is reported.
func (r *jsonReader) notA(want string, elem bool) error {
	w := &r.w
	// The position first: skipping may refill the window past it.
	p, c := r.pos(w.off+int64(w.pos)), w.buf[w.pos]
	p.Record = r.rec.String()
	if err := r.skip(0); err != nil {
		return err
	}
	if c != 'n' || elem {
		r.e.problem(discovery.Corrupt, p, "expected %s, found %s", want, jsonType(c))
	}
	return nil
}

// jsonType names the type of the value that starts with c.
func jsonType(c byte) string {
	switch c {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// document reads a member of a TracesData object.
func (r *jsonReader) document(key []byte) error {
	switch string(key) {
	case "resourceSpans":
		if r.w.buf[r.w.pos] != '[' {
			r.rec = record{depth: -1, container: "resourceSpans"}
			return r.notA("an array", false)
		}
		return r.array(r.resourceSpans)
	case "resourceLogs", "resourceMetrics", "resourceProfiles":
		p := r.pos(r.w.off + int64(r.w.pos))
		p.Record = string(key)
		r.e.problem(discovery.Unsupported, p, "%s: not traces", key)
	}
	return r.skip(0)
}

// resourceSpans reads resourceSpans[i]. Its spans stream as they are
// read when its resource comes first, as every OTLP writer puts it; when
// a scopeSpans array comes before the resource, the array is held in
// the window until the resource object ends, then read.
func (r *jsonReader) resourceSpans(i int) error {
	w := &r.w
	r.rec = record{rs: i}
	if w.buf[w.pos] != '{' {
		return r.notA("an object", true)
	}
	r.res = resource{}
	haveResource := false
	r.pins = r.pins[:0]
	err := r.object(func(key []byte) error {
		switch string(key) {
		case "resource":
			haveResource = true
			return r.resource()
		case "scopeSpans", "instrumentationLibrarySpans":
			scope := "scopeSpans"
			if key[0] == 'i' {
				scope = "instrumentationLibrarySpans"
			}
			if haveResource && len(r.pins) == 0 {
				return r.scopeSpansArray(scope)
			}
			if w.keep < 0 {
				w.keep = w.pos
			}
			r.pins = append(r.pins, pin{w.off + int64(w.pos), scope})
			return r.skip(0)
		}
		return r.skip(0)
	})
	if err != nil || len(r.pins) == 0 {
		return err
	}
	back := w.off + int64(w.pos)
	for _, p := range r.pins {
		w.pos = int(p.at - w.off)
		if err := r.scopeSpansArray(p.scope); err != nil {
			return err
		}
	}
	w.pos = int(back - w.off)
	w.keep = -1
	return nil
}

// resource reads a resource object: its service and placement.
func (r *jsonReader) resource() error {
	w := &r.w
	r.rec.depth, r.rec.container = 0, "resource"
	defer func() { r.rec.container = "" }()
	if w.buf[w.pos] != '{' {
		return r.notA("an object", false)
	}
	start := w.pos
	raw, err := r.extent()
	if err != nil {
		return err
	}
	r.s.reset()
	r.ra.reset()
	r.arena, r.target = r.arena[:0], &r.ra
	r.d.ResetBytes(raw)
	if err := r.d.ObjBytes(r.resFieldFn); err != nil {
		return r.jxSyntax(start, err)
	}
	r.res.set(&r.ra)
	r.flush()
	return nil
}

func (r *jsonReader) resField(d *jx.Decoder, key []byte) error {
	if string(key) == "attributes" {
		return r.attributes(d)
	}
	return d.Skip()
}

// flush reports the problems noted while reading a span or resource.
func (r *jsonReader) flush() {
	for _, p := range r.s.problems {
		pos := r.pos(p.off)
		pos.Record = r.rec.String()
		r.e.problem(p.kind, pos, "%s", p.detail)
	}
}

// scopeSpansArray reads a scopeSpans (or instrumentationLibrarySpans)
// array.
func (r *jsonReader) scopeSpansArray(scope string) error {
	w := &r.w
	if w.buf[w.pos] != '[' {
		r.rec.depth, r.rec.container = 0, scope
		defer func() { r.rec.container = "" }()
		return r.notA("an array", false)
	}
	return r.array(func(j int) error {
		r.rec.depth, r.rec.ss, r.rec.scope = 1, j, scope
		if w.buf[w.pos] != '{' {
			return r.notA("an object", true)
		}
		return r.object(r.scopeSpans)
	})
}

// scopeSpans reads a member of a ScopeSpans object; the scope itself is
// not used.
func (r *jsonReader) scopeSpans(key []byte) error {
	if string(key) != "spans" {
		return r.skip(0)
	}
	if r.w.buf[r.w.pos] != '[' {
		r.rec.container = "spans"
		defer func() { r.rec.container = "" }()
		return r.notA("an array", false)
	}
	return r.array(r.spanElemFn)
}

// spanElem reads spans[k].
func (r *jsonReader) spanElem(k int) error {
	r.rec.depth, r.rec.sp = 2, k
	if r.w.buf[r.w.pos] != '{' {
		return r.notA("an object", true)
	}
	return r.span()
}

// span reads the span at the input with jx, from the window, and gives
// it to the sink. A span that goes on past the window is read again
// once the window holds it.
func (r *jsonReader) span() error {
	w := &r.w
	for {
		start := w.pos
		r.s.reset()
		r.arena, r.lastKey, r.target = r.arena[:0], nil, &r.s.attrs
		r.d.ResetBytes(w.buf[start:w.n])
		err := r.d.ObjBytes(r.spanFieldFn)
		if err == nil {
			end, ok := r.objectEnd(start)
			if !ok {
				r.vd.ResetBytes(w.buf[start:w.n])
				raw, err := r.vd.Raw()
				if err != nil {
					return r.jxSyntax(start, err)
				}
				end = start + len(raw)
			}
			w.pos = end
			return r.finish(start)
		}
		if w.eof || !r.cut(start, err) {
			return r.jxSyntax(start, err)
		}
		if _, err := r.refillFrom(start); err != nil && err != io.EOF {
			return err
		}
	}
}

// objectEnd is where the span object that starts at window index start
// ends. jx does not say; but its last key is a slice of the window, and
// from there only its value (read again, small: pdata and the generator
// end a span with its status) and the closing brace remain.
func (r *jsonReader) objectEnd(start int) (int, bool) {
	w := &r.w
	b := w.buf[:w.n]
	i := start + 1
	if r.lastKey != nil {
		k, ok := w.index(r.lastKey)
		if !ok {
			return 0, false
		}
		i = k + len(r.lastKey)
		if i >= len(b) || b[i] != '"' {
			return 0, false
		}
		if i = skipSpace(b, i+1); i >= len(b) || b[i] != ':' {
			return 0, false
		}
		i = skipSpace(b, i+1)
		r.vd.ResetBytes(b[i:])
		raw, err := r.vd.Raw()
		if err != nil {
			return 0, false
		}
		i += len(raw)
	}
	if i = skipSpace(b, i); i >= len(b) || b[i] != '}' {
		return 0, false
	}
	return i + 1, true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// finish reports the span's problems and gives it to the sink.
func (r *jsonReader) finish(start int) error {
	at := r.w.off + int64(start)
	pos := r.pos(at)
	r.e.check(&r.s, &r.res, at)
	if len(r.s.problems) > 0 {
		r.flush()
	}
	if err := r.e.emit(&r.s, &r.res, pos, &r.rec); err != nil {
		return err
	}
	if r.spans++; r.spans%checkEvery == 0 {
		return r.ctx.Err()
	}
	return nil
}

// abs is the input offset of b, a value jx read from the window.
func (r *jsonReader) abs(b []byte) int64 {
	i, _ := r.w.index(b)
	return r.w.off + int64(i)
}

// spanField reads one member of a span object.
func (r *jsonReader) spanField(d *jx.Decoder, key []byte) error {
	r.lastKey = key
	s := &r.s
	switch string(key) {
	case "traceId":
		return r.id(d, s.tid[:], &s.hasTID, &s.badTID, "trace id", false)
	case "spanId":
		return r.id(d, s.sid[:], &s.hasSID, &s.badSID, "span id", false)
	case "parentSpanId":
		var bad bool
		return r.id(d, s.pid[:], &s.hasPID, &bad, "parent span id", true)
	case "name":
		raw, err := d.Raw()
		if err != nil {
			return err
		}
		if !r.str(raw, &s.name) {
			s.fail(discovery.Corrupt, r.abs(raw), "name: expected a string, found %s", jsonType(raw[0]))
		}
		return nil
	case "kind":
		return r.enum(d, &s.kind, kindNames[:], "kind")
	case "startTimeUnixNano":
		return r.time(d, &s.start, "startTimeUnixNano")
	case "endTimeUnixNano":
		return r.time(d, &s.end, "endTimeUnixNano")
	case "attributes":
		return r.attributes(d)
	case "links":
		return r.links(d)
	case "status":
		return r.status(d)
	}
	return d.Skip()
}

// str reads a JSON string value; null is the empty string.
func (r *jsonReader) str(raw []byte, dst *text) bool {
	switch raw[0] {
	case 'n':
		*dst = text{}
		return true
	case '"':
	default:
		return false
	}
	v := raw[1 : len(raw)-1]
	if bytes.IndexByte(v, '\\') < 0 {
		*dst = text{b: v}
		return true
	}
	mark := len(r.arena)
	r.ud.ResetBytes(raw)
	a, err := r.ud.StrAppend(r.arena)
	if err != nil {
		return false
	}
	r.arena = a
	*dst = text{b: a[mark:len(a):len(a)]}
	return true
}

// id reads a hex id into dst. An empty or all-zero id is no id: a
// missing one for a trace or span id, a root's for a parent.
func (r *jsonReader) id(d *jx.Decoder, dst []byte, has, bad *bool, what string, parent bool) error {
	raw, err := d.Raw()
	if err != nil {
		return err
	}
	*has = false
	var v text
	if !r.str(raw, &v) {
		*bad = true
		r.s.fail(discovery.Corrupt, r.abs(raw), "%s: expected a string, found %s", what, jsonType(raw[0]))
		return nil
	}
	if v.len() == 0 {
		return nil
	}
	ok, zero := hexID(dst, v)
	switch {
	case !ok:
		*bad = true
		r.s.fail(discovery.Corrupt, r.abs(raw), "%s %s is not %d hex digits", what, clip(raw), len(dst))
	case zero && !parent:
		*bad = true
		r.s.fail(discovery.MissingField, r.abs(raw), "%s is all zeros, OTLP's no id", what)
	case !zero:
		*has = true
	}
	return nil
}

// clip shortens a value for a problem's detail.
func clip(b []byte) string {
	if len(b) > 60 {
		return string(b[:57]) + "..."
	}
	return string(b)
}

// time reads a time in Unix nanoseconds: a decimal string, as OTLP
// writes 64-bit integers, or a number.
func (r *jsonReader) time(d *jx.Decoder, dst *int64, what string) error {
	raw, err := d.Raw()
	if err != nil {
		return err
	}
	v, ok, why := jsonInt(raw)
	switch {
	case !ok:
		r.s.fail(discovery.Corrupt, r.abs(raw), "%s %s %s", what, clip(raw), why)
	case v < 0:
		r.s.fail(discovery.Corrupt, r.abs(raw), "%s %s is negative", what, clip(raw))
	default:
		*dst = v
	}
	return nil
}

// enum reads an enum: its number, or its name.
func (r *jsonReader) enum(d *jx.Decoder, dst *int64, names []string, what string) error {
	raw, err := d.Raw()
	if err != nil {
		return err
	}
	if raw[0] == '"' {
		for i, n := range names {
			if string(raw[1:len(raw)-1]) == n {
				*dst = int64(i)
				return nil
			}
		}
	}
	v, ok, _ := jsonInt(raw)
	if !ok || v < 0 || v >= int64(len(names)) {
		r.s.fail(discovery.Corrupt, r.abs(raw), "%s %s is not one of OTLP's", what, clip(raw))
		return nil
	}
	*dst = v
	return nil
}

// jsonInt reads a JSON integer, a number or a decimal string (64-bit
// integers are strings in OTLP JSON); null is 0. why says what is wrong.
func jsonInt(raw []byte) (v int64, ok bool, why string) {
	switch raw[0] {
	case 'n':
		return 0, true, ""
	case '"':
		raw = raw[1 : len(raw)-1]
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
	default:
		return 0, false, "is not an integer"
	}
	return decimal(raw)
}

// decimal reads a decimal integer, with an optional minus sign.
func decimal[T ~string | ~[]byte](b T) (v int64, ok bool, why string) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, false, "is not an integer"
	}
	var u uint64
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, false, "is not an integer"
		}
		if u > (math.MaxUint64-9)/10 {
			return 0, false, "is out of range"
		}
		u = u*10 + uint64(c-'0')
	}
	switch {
	case neg && u <= 1<<63:
		return -int64(u), true, ""
	case !neg && u <= math.MaxInt64:
		return int64(u), true, ""
	}
	return 0, false, "is out of range"
}

// attributes reads an attribute list into r.target.
func (r *jsonReader) attributes(d *jx.Decoder) error {
	switch d.Next() {
	case jx.Array:
		return d.Arr(r.attrFn)
	case jx.Null:
		return d.Null()
	}
	raw, err := d.Raw()
	if err == nil {
		r.s.warn(r.abs(raw), "attributes: expected an array, found %s", jsonType(raw[0]))
	}
	return err
}

// attrElem reads one attribute, {"key":..., "value":{...}}; the value is
// read once the key says it is wanted, whichever comes first.
func (r *jsonReader) attrElem(d *jx.Decoder) error {
	if d.Next() != jx.Object {
		raw, err := d.Raw()
		if err == nil {
			r.s.warn(r.abs(raw), "attribute: expected an object, found %s", jsonType(raw[0]))
		}
		return err
	}
	r.kvKey, r.kvVal = text{}, nil
	if err := d.ObjBytes(r.kvFn); err != nil {
		return err
	}
	id := attrID(r.kvKey.b)
	if id == aNone || r.kvVal == nil || r.kvVal[0] == 'n' {
		return nil
	}
	at := r.abs(r.kvVal)
	if r.kvVal[0] != '{' {
		r.s.warn(at, "attribute %s: expected an object, found %s", keyName(id), jsonType(r.kvVal[0]))
		return nil
	}
	r.av = anyValue{}
	r.vd.ResetBytes(r.kvVal)
	if err := r.vd.ObjBytes(r.anyFn); err != nil {
		return err
	}
	a := &r.av
	switch {
	case a.bad:
		r.s.warn(at, "attribute %s %s", keyName(id), a.why)
	case wantsInt(id) && a.typ == 'i':
		if why := r.target.setInt(id, a.i); why != "" {
			r.s.warn(at, "attribute %s %s", keyName(id), why)
		}
	case wantsInt(id) && a.typ == 's':
		v, ok, _ := decimal(a.str.b)
		if !ok {
			r.s.warn(at, "attribute %s is not an integer", keyName(id))
		} else if why := r.target.setInt(id, v); why != "" {
			r.s.warn(at, "attribute %s %s", keyName(id), why)
		}
	case wantsInt(id):
		r.s.warn(at, "attribute %s is not an integer", keyName(id))
	case a.typ == 's':
		r.target.setString(id, a.str)
	case a.typ != 0:
		r.s.warn(at, "attribute %s is not a string", keyName(id))
	}
	return nil
}

func (r *jsonReader) kvField(d *jx.Decoder, key []byte) error {
	switch string(key) {
	case "key":
		raw, err := d.Raw()
		if err != nil {
			return err
		}
		if !r.str(raw, &r.kvKey) {
			r.s.warn(r.abs(raw), "attribute key: expected a string, found %s", jsonType(raw[0]))
		}
		return nil
	case "value":
		raw, err := d.Raw()
		r.kvVal = raw
		return err
	}
	return d.Skip()
}

// anyField reads one member of an AnyValue.
func (r *jsonReader) anyField(d *jx.Decoder, key []byte) error {
	a := &r.av
	var typ byte
	switch string(key) {
	case "stringValue":
		typ = 's'
	case "intValue":
		typ = 'i'
	case "boolValue":
		typ = 'b'
	case "doubleValue":
		typ = 'd'
	case "arrayValue", "kvlistValue", "bytesValue":
		typ = 'o'
	default:
		return d.Skip()
	}
	raw, err := d.Raw()
	if err != nil || raw[0] == 'n' {
		return err
	}
	a.typ = typ
	switch typ {
	case 's':
		if a.bad = !r.str(raw, &a.str); a.bad {
			a.why = "is not a string"
		}
	case 'i':
		var ok bool
		a.i, ok, a.why = jsonInt(raw)
		a.bad = !ok
	}
	return nil
}

// links reads the span's links.
func (r *jsonReader) links(d *jx.Decoder) error {
	switch d.Next() {
	case jx.Array:
		r.lnCount = 0
		return d.Arr(r.linkFn)
	case jx.Null:
		return d.Null()
	}
	raw, err := d.Raw()
	if err == nil {
		r.s.warn(r.abs(raw), "links: expected an array, found %s", jsonType(raw[0]))
	}
	return err
}

// linkElem reads one link; one without a valid trace and span id is
// reported and left out.
func (r *jsonReader) linkElem(d *jx.Decoder) error {
	k := r.lnCount
	r.lnCount++
	raw, err := d.Raw()
	if err != nil {
		return err
	}
	if raw[0] != '{' {
		r.s.warn(r.abs(raw), "links[%d]: expected an object, found %s", k, jsonType(raw[0]))
		return nil
	}
	r.ln, r.lnT, r.lnS, r.lnBad = link{}, false, false, false
	r.vd.ResetBytes(raw)
	if err := r.vd.ObjBytes(r.linkFieldFn); err != nil {
		return err
	}
	if r.lnBad || !r.lnT || !r.lnS {
		r.s.warn(r.abs(raw), "links[%d] has no valid trace and span id: left out", k)
		return nil
	}
	r.s.links = append(r.s.links, r.ln)
	return nil
}

func (r *jsonReader) linkField(d *jx.Decoder, key []byte) error {
	var dst []byte
	var has *bool
	switch string(key) {
	case "traceId":
		dst, has = r.ln.trace[:], &r.lnT
	case "spanId":
		dst, has = r.ln.span[:], &r.lnS
	default:
		return d.Skip()
	}
	raw, err := d.Raw()
	if err != nil {
		return err
	}
	var v text
	ok, zero := false, false
	if r.str(raw, &v) {
		ok, zero = hexID(dst, v)
	}
	*has = ok && !zero
	r.lnBad = r.lnBad || !ok
	return nil
}

// status reads the span's status.
func (r *jsonReader) status(d *jx.Decoder) error {
	switch d.Next() {
	case jx.Object:
		return d.ObjBytes(r.statusFn)
	case jx.Null:
		return d.Null()
	}
	raw, err := d.Raw()
	if err == nil {
		r.s.fail(discovery.Corrupt, r.abs(raw), "status: expected an object, found %s", jsonType(raw[0]))
	}
	return err
}

func (r *jsonReader) statusField(d *jx.Decoder, key []byte) error {
	switch string(key) {
	case "code":
		return r.enum(d, &r.s.code, statusNames[:], "status code")
	case "message":
		raw, err := d.Raw()
		if err != nil {
			return err
		}
		if !r.str(raw, &r.s.message) {
			r.s.warn(r.abs(raw), "status message: expected a string, found %s", jsonType(raw[0]))
		}
		return nil
	}
	return d.Skip()
}
