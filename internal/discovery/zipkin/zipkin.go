// Package zipkin reads Zipkin v2 JSON (what POST /api/v2/spans takes and
// GET /api/v2/trace/{id} gives) into discovery.Spans.
//
// The format is an array of spans:
//
//	[{"traceId", "id", "parentId", "name", "kind": "CLIENT"|"SERVER"|"PRODUCER"|"CONSUMER",
//	  "timestamp": µs, "duration": µs,
//	  "localEndpoint": {"serviceName", "ipv4", "ipv6", "port"}, "remoteEndpoint": {…},
//	  "annotations": [{"timestamp", "value"}], "tags": {"key": "value"},
//	  "debug", "shared": true}]
//
// An array of such arrays (GET /api/v2/traces) is read too, and so are
// several documents one after another. Zipkin v1 (annotations carrying
// an "endpoint", binaryAnnotations) is not: the first v1 span is reported
// Unsupported and the rest of the input is not read.
//
// The mapping onto discovery.Span:
//
//   - TraceID: lowercased and left-padded with zeros to 32 hex digits, so
//     that a trace reported with 64-bit ids by some services and 128-bit
//     ids by others joins up. SpanID and ParentID: lowercased and padded
//     to 16; a parentId of zeros, or equal to the span's id, is no parent
//     (as Zipkin itself reads them).
//   - Shared spans: with B3 propagation, a server may report its half of
//     an RPC under its client's span id ("shared": true). The reader
//     gives such a SERVER span the id id+SharedSuffix (+"@"+its
//     localEndpoint address, when it has one: several consumers of one
//     message each report a shared half for the same id) and the client
//     half, id, as its parent, so the trace stays a tree. Its parentId
//     (the client's parent) is dropped. A streaming reader cannot know,
//     at a span whose parentId is a shared id, whether it ran under the
//     client half or the server half: it keeps the parentId, so such a
//     child hangs under the client span; an assembler holding the whole
//     trace may move it under the server half of its own service.
//   - Service: localEndpoint.serviceName (a span without one is
//     MissingField). Operation: name.
//   - Kind: kind; no kind (a local span, or a half without its kind) is
//     KindUnspecified.
//   - Start, End: timestamp and timestamp+duration, µs → ns. Zipkin allows
//     either to be absent (a late half of a span): no timestamp gives
//     Start = End = 0, no duration End = Start. Clock skew is not
//     corrected here.
//   - Outcome, as the OTLP reader maps the same attributes: an "error"
//     tag (its presence: the value is the message) or
//     otel.status_code=ERROR; on a SERVER span without
//     otel.status_code=OK an HTTP status (http.response.status_code, else
//     http.status_code) ≥ 500 or rpc.grpc.status_code ≠ 0. A failure is a
//     timeout when error.type is "timeout", the error message or
//     otel.status_description says "deadline exceeded" (or is "timeout"),
//     or the gRPC status is DEADLINE_EXCEEDED; a cancellation likewise for
//     "cancelled"/"canceled" and CANCELLED.
//   - Peer (all but SERVER and CONSUMER spans, whose remote is their
//     caller or their broker): remoteEndpoint.serviceName, else the tags
//     peer.service, service.peer.name, server.address, net.peer.name,
//     db.system.name, db.system, messaging.destination.name. PeerDomain:
//     the tag emac.peer.failure_domain.
//   - Resend: the tag http.request.resend_count (else http.resend_count).
//   - Placement: localEndpoint's address as Host (the only location
//     Zipkin has: it separates instances, and instances sharing a host
//     network share it), and the tags k8s.pod.name, k8s.node.name,
//     host.name, cloud.availability_zone, cloud.region, k8s.cluster.name,
//     emac.failure_domain (which win over the address).
//
// Memory is bounded by one span. Bad records are problems: a span whose
// ids or times do not decode (Corrupt) or that lacks an id or a service
// (MissingField) is reported and dropped; a tag value the reader cannot
// use is reported and ignored. A JSON syntax error ends the document
// (Corrupt at the error); the spans before it are kept. Positions are
// line:col and byte offset of the span or the bad value, with a record
// path like [3].tags["http.status_code"].
package zipkin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"

	"github.com/go-faster/jx"

	"github.com/emac-dev/emac/internal/discovery"
)

// SharedSuffix is appended to a shared SERVER span's id to make its
// SpanID (see the package documentation).
const SharedSuffix = "/server"

// bufSize is the decoder's read buffer.
const bufSize = 64 << 10

// Read streams the Zipkin v2 JSON r (named name in positions) into sink.
// It returns an error only when reading r fails, ctx is done, or
// sink.Span returns one; everything wrong with the input itself is a
// sink.Problem.
func Read(ctx context.Context, name string, r io.Reader, sink discovery.Sink) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	rd := &reader{ctx: ctx, name: name, sink: sink, pr: newPosReader(r)}
	rd.in = jx.Decode(rd.pr, bufSize)
	rd.inv = reflect.ValueOf(rd.in).Elem()
	rd.d = jx.DecodeBytes(nil)
	rd.dv = reflect.ValueOf(rd.d).Elem()
	return rd.run()
}

// Sniff says whether head, an input's first bytes, looks like Zipkin v2
// JSON: an array (of arrays) of objects, with a "traceId" key in the
// first bytes. Jaeger (an object, traceID) and OTLP JSON (an object) do
// not match.
func Sniff(head []byte) bool {
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	i := 0
	next := func() byte {
		for i < len(head) {
			c := head[i]
			i++
			if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
				return c
			}
		}
		return 0
	}
	if next() != '[' {
		return false
	}
	c := next()
	if c == '[' {
		c = next()
	}
	return c == '{' && bytes.Contains(head, []byte(`"traceId"`))
}

var (
	// errStop unwinds the decoder when Read must return reader.stop.
	errStop = errors.New("stop")
	// errV1 unwinds it at a Zipkin v1 span.
	errV1 = errors.New("zipkin v1")
)

// reader reads the input with two decoders: in streams it and cuts out
// each span whole (skipping it while posReader records it); d decodes
// the span from those bytes. jx copies every object key it hands out
// when it streams (its buffer moves on), but not when it decodes bytes:
// a span decoded from bytes costs no allocation per key, and the cut is
// one fast pass that also checks the syntax.
type reader struct {
	ctx     context.Context
	name    string
	sink    discovery.Sink
	pr      *posReader
	in      *jx.Decoder   // the input
	inv     reflect.Value // *in, for its position
	d       *jx.Decoder   // the span
	dv      reflect.Value
	rec     recPos // positions in the span
	stop    error
	strings intern

	out  discovery.Span
	tags attrs
	bad  bool // the span was reported Corrupt
	v1   bool // it is a Zipkin v1 span
	n    int  // spans read

	// path is the span's record path: "[i]", or "[i][j]" in an array of
	// traces; written only for a problem.
	outer, inner int // inner is -1 in a flat array

	// Scratch: a tag's key and value; an endpoint's address; the ids
	// normalised.
	key, val, ip, port []byte
	tid, sid, pid      []byte
	remote             string
	prevTraceID        string
}

func (r *reader) run() error {
	for {
		if r.in.Next() == jx.Invalid {
			err := r.in.Skip()
			if err == io.EOF || r.pr.err != nil {
				return r.pr.err
			}
			r.syntax(err)
			return nil
		}
		err := r.document()
		switch {
		case r.stop != nil:
			return r.stop
		case r.pr.err != nil:
			return r.pr.err
		case r.v1:
			return nil
		case err != nil:
			r.syntax(err)
			return nil
		}
	}
}

// document reads one top-level value: an array of spans or of traces.
func (r *reader) document() error {
	d := r.in
	if d.Next() != jx.Array {
		r.problem(discovery.Corrupt, decOffset(r.inv), "", "not Zipkin v2 JSON: want an array of spans, got "+d.Next().String())
		return d.Skip()
	}
	r.outer = 0
	return d.Arr(func(d *jx.Decoder) error {
		defer func() { r.outer++ }()
		r.inner = -1
		switch d.Next() {
		case jx.Object:
			return r.cut()
		case jx.Array:
			// A trace: an array of spans.
			r.inner = 0
			return d.Arr(func(d *jx.Decoder) error {
				defer func() { r.inner++ }()
				if d.Next() != jx.Object {
					r.problem(discovery.Corrupt, decOffset(r.inv), r.path(), "span: want an object, got "+d.Next().String())
					return d.Skip()
				}
				return r.cut()
			})
		}
		r.problem(discovery.Corrupt, decOffset(r.inv), r.path(), "span: want an object, got "+d.Next().String())
		return d.Skip()
	})
}

// cut cuts the next span out of the input (skipping it while recording
// the input) and reads it. A span cut short by a syntax error is not
// read: run reports the error.
func (r *reader) cut() error {
	off := decOffset(r.inv)
	start := r.pr.at(r.name, off)
	r.pr.record(off)
	cutErr := r.in.Skip()
	if cutErr != nil {
		r.pr.recorded(-1)
		return cutErr
	}
	raw := r.pr.recorded(decOffset(r.inv))
	r.rec.reset(raw, off, start)
	r.d.ResetBytes(raw)
	err := r.span()
	switch {
	case r.stop != nil || err == errV1:
		return err
	case err != nil:
		// Bytes the cut let through but the decoder did not.
		r.corruptIn(err)
	}
	return nil
}

func (r *reader) path() string {
	s := "[" + strconv.Itoa(r.outer) + "]"
	if r.inner >= 0 {
		s += "[" + strconv.Itoa(r.inner) + "]"
	}
	return s
}

// span reads one span object.
func (r *reader) span() error {
	d := r.d
	s := &r.out
	*s = discovery.Span{}
	s.Pos = r.here()
	r.tags.reset()
	r.bad, r.remote = false, ""
	// The ids as written: slices of the span's bytes, which stay put.
	var traceID, id, parentID []byte
	var idOff, traceOff, parentOff int64
	var ts, dur int64
	var haveTS, haveDur, shared, haveKind bool
	r.ip, r.port = r.ip[:0], r.port[:0]
	err := d.ObjBytes(func(d *jx.Decoder, key []byte) error {
		switch string(key) {
		case "traceId":
			traceOff = r.off()
			b, ok, err := r.str("traceId")
			if ok {
				traceID = b
			}
			return err
		case "id":
			idOff = r.off()
			b, ok, err := r.str("id")
			if ok {
				id = b
			}
			return err
		case "parentId":
			parentOff = r.off()
			b, ok, err := r.str("parentId")
			if ok {
				parentID = b
			}
			return err
		case "name":
			b, ok, err := r.str("name")
			if ok {
				s.Operation = r.strings.get(b)
			}
			return err
		case "kind":
			at := r.off()
			b, ok, err := r.str("kind")
			if ok && len(b) > 0 {
				s.Kind, haveKind = parseKind(b), true
				if s.Kind == discovery.KindUnspecified {
					r.problem(discovery.Corrupt, at, r.path()+".kind", "unknown kind "+strconv.Quote(string(b))+"; read as unspecified")
				}
			}
			return err
		case "timestamp":
			v, ok, err := r.int("timestamp")
			if ok {
				ts, haveTS = v, true
			}
			return err
		case "duration":
			v, ok, err := r.int("duration")
			if ok {
				dur, haveDur = v, true
			}
			return err
		case "shared":
			at := r.off()
			switch d.Next() {
			case jx.Bool:
				v, err := d.Bool()
				shared = v
				return err
			case jx.Null:
				return d.Skip()
			}
			r.bad = r.problem(discovery.Corrupt, at, r.path()+".shared", "shared: want a bool, got "+d.Next().String())
			return d.Skip()
		case "localEndpoint":
			return r.endpoint("localEndpoint", func(key, val []byte) {
				switch string(key) {
				case "serviceName":
					s.Service = r.strings.get(val)
				case "ipv4":
					r.ip = append(r.ip[:0], val...)
				case "ipv6":
					if len(r.ip) == 0 {
						r.ip = append(r.ip[:0], val...)
					}
				case "port":
					r.port = append(r.port[:0], val...)
				}
			})
		case "remoteEndpoint":
			return r.endpoint("remoteEndpoint", func(key, val []byte) {
				if string(key) == "serviceName" && len(val) > 0 {
					r.remote = r.strings.get(val)
				}
			})
		case "tags":
			return r.tagObj()
		case "annotations":
			return r.annotations()
		case "binaryAnnotations":
			r.v1 = true
			return d.Skip()
		default:
			return d.Skip()
		}
	})
	if err != nil {
		return err
	}
	if r.v1 {
		r.problemPos(discovery.Unsupported, r.record(s.Pos, r.path()), "Zipkin v1 (annotations with endpoints, binaryAnnotations): only v2 is read; the rest of "+r.name+" is not read")
		return errV1
	}
	if r.bad {
		return r.tick()
	}
	at := func() discovery.Pos { return r.record(s.Pos, r.path()) }
	switch {
	case len(traceID) == 0:
		r.problemPos(discovery.MissingField, at(), "span without traceId")
		return r.tick()
	case len(id) == 0:
		r.problemPos(discovery.MissingField, at(), "span without id")
		return r.tick()
	case s.Service == "":
		r.problemPos(discovery.MissingField, at(), "span without localEndpoint.serviceName")
		return r.tick()
	}
	tid, ok := hexID(r.tid[:0], traceID, 32)
	r.tid = tid
	if !ok {
		r.problem(discovery.Corrupt, traceOff, r.path()+".traceId", "traceId "+strconv.Quote(string(traceID))+" is not 1 to 32 hex digits")
		return r.tick()
	}
	sid, ok := hexID(r.sid[:0], id, 16)
	r.sid = sid
	if !ok {
		r.problem(discovery.Corrupt, idOff, r.path()+".id", "id "+strconv.Quote(string(id))+" is not 1 to 16 hex digits")
		return r.tick()
	}
	var pid []byte
	if len(parentID) > 0 {
		pid, ok = hexID(r.pid[:0], parentID, 16)
		r.pid = pid
		if !ok {
			r.problem(discovery.Corrupt, parentOff, r.path()+".parentId", "parentId "+strconv.Quote(string(parentID))+" is not 1 to 16 hex digits")
			return r.tick()
		}
		if allZero(pid) || bytes.Equal(pid, sid) {
			pid = nil
		}
	}
	switch {
	case dur < 0:
		r.problemPos(discovery.Corrupt, r.record(s.Pos, r.path()+".duration"), "negative duration "+strconv.FormatInt(dur, 10))
		return r.tick()
	case ts > math.MaxInt64/1000-dur || ts < math.MinInt64/1000:
		r.problemPos(discovery.Corrupt, r.record(s.Pos, r.path()+".timestamp"), "timestamp+duration out of range (µs since the epoch)")
		return r.tick()
	}
	if haveTS {
		s.Start = ts * 1000
		s.End = s.Start
		if haveDur {
			s.End = (ts + dur) * 1000
		}
	}

	s.TraceID = r.lastTraceID(tid)
	if !haveKind {
		s.Kind = r.tags.kind
	}
	if shared && s.Kind == discovery.KindServer {
		s.ParentID = string(sid)
		sid = append(sid, SharedSuffix...)
		if len(r.ip) > 0 {
			sid = append(append(sid, '@'), r.ip...)
			if len(r.port) > 0 {
				sid = append(append(sid, ':'), r.port...)
			}
		}
		r.sid = sid
		s.SpanID = string(sid)
	} else {
		s.SpanID = string(sid)
		if pid != nil {
			s.ParentID = string(pid)
		}
	}
	r.tags.kind = s.Kind
	s.Outcome = r.tags.outcome()
	s.Peer = r.tags.peerOf() // none for a server or a consumer
	if r.remote != "" && s.Kind != discovery.KindServer && s.Kind != discovery.KindConsumer {
		s.Peer = r.remote
	}
	s.PeerDomain = r.tags.peerDomain
	s.Resend = r.tags.resend
	s.Placement = r.tags.place
	if s.Placement.Host == "" && len(r.ip) > 0 {
		s.Placement.Host = r.strings.get(r.ip)
	}
	if err := r.sink.Span(s); err != nil {
		r.stop = err
		return errStop
	}
	return r.tick()
}

// hexID appends to dst the hex id b lowercased and left-padded with
// zeros to n digits; ok is false when b is not 1 to n hex digits.
func hexID(dst, b []byte, n int) ([]byte, bool) {
	if len(b) == 0 || len(b) > n {
		return dst, false
	}
	for range n - len(b) {
		dst = append(dst, '0')
	}
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
		case 'A' <= c && c <= 'F':
			c += 'a' - 'A'
		default:
			return dst, false
		}
		dst = append(dst, c)
	}
	return dst, true
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != '0' {
			return false
		}
	}
	return true
}

// lastTraceID shares the previous span's trace id string when b spells
// the same: the spans of a trace usually come together.
func (r *reader) lastTraceID(b []byte) string {
	if string(b) != r.prevTraceID {
		r.prevTraceID = string(b)
	}
	return r.prevTraceID
}

// endpoint reads an endpoint object, calling set with each field's text.
func (r *reader) endpoint(field string, set func(key, val []byte)) error {
	d := r.d
	at := r.off()
	switch d.Next() {
	case jx.Null:
		return d.Skip()
	case jx.Object:
	default:
		r.bad = r.problem(discovery.Corrupt, at, r.path()+"."+field, field+": want an object, got "+d.Next().String())
		return d.Skip()
	}
	return d.ObjBytes(func(d *jx.Decoder, key []byte) error {
		switch string(key) {
		case "serviceName", "ipv4", "ipv6", "port":
		default:
			return d.Skip()
		}
		if d.Next() == jx.Null {
			return d.Skip()
		}
		r.key = append(r.key[:0], key...)
		at := r.off()
		val, ok, err := r.scalar(r.val[:0])
		r.val = val
		if err != nil {
			return err
		}
		if !ok {
			r.bad = r.problem(discovery.Corrupt, at, r.path()+"."+field+"."+string(r.key), string(r.key)+": want a string or a number")
			return nil
		}
		set(r.key, r.val)
		return nil
	})
}

// tagObj reads the tags, a string map.
func (r *reader) tagObj() error {
	d := r.d
	at := r.off()
	switch d.Next() {
	case jx.Null:
		return d.Skip()
	case jx.Object:
	default:
		r.problem(discovery.Corrupt, at, r.path()+".tags", "tags: want an object, got "+d.Next().String())
		return d.Skip()
	}
	return d.ObjBytes(func(d *jx.Decoder, key []byte) error {
		if d.Next() == jx.Null {
			return d.Skip()
		}
		r.key = append(r.key[:0], key...)
		at := r.off()
		val, ok, err := r.scalar(r.val[:0])
		r.val = val
		if err != nil {
			return err
		}
		tpath := func() string { return r.path() + ".tags[" + strconv.Quote(string(r.key)) + "]" }
		if !ok {
			r.problem(discovery.Corrupt, at, tpath(), "tag value: want a string; ignored")
			return nil
		}
		if detail := r.tags.add(&r.strings, r.key, r.val, true); detail != "" {
			r.problem(discovery.Corrupt, at, tpath(), detail)
		}
		return nil
	})
}

// annotations skips v2 annotations and spots v1 ones (with an endpoint).
func (r *reader) annotations() error {
	d := r.d
	if d.Next() != jx.Array {
		return d.Skip() // not read: no need to report
	}
	return d.Arr(func(d *jx.Decoder) error {
		if d.Next() != jx.Object {
			return d.Skip()
		}
		return d.ObjBytes(func(d *jx.Decoder, key []byte) error {
			if string(key) == "endpoint" {
				r.v1 = true
			}
			return d.Skip()
		})
	})
}

// scalar appends a value's text to b: a string's contents, a number's
// digits, a bool's name (Zipkin's own decoder takes numbers where it
// wants strings, and some tracers write bool tags); ok is false for
// null, arrays and objects, which are skipped.
func (r *reader) scalar(b []byte) ([]byte, bool, error) {
	d := r.d
	switch d.Next() {
	case jx.String:
		b, err := d.StrAppend(b)
		return b, true, err
	case jx.Number:
		n, err := d.Num()
		return append(b, n...), true, err
	case jx.Bool:
		v, err := d.Bool()
		return strconv.AppendBool(b, v), true, err
	}
	return b, false, d.Skip()
}

// str reads a string field; ok is false when the value was null, or not
// a string (then reported, the span marked bad).
func (r *reader) str(field string) ([]byte, bool, error) {
	d := r.d
	switch d.Next() {
	case jx.String:
		b, err := d.StrBytes()
		return b, err == nil, err
	case jx.Null:
		return nil, false, d.Skip()
	}
	r.bad = r.problem(discovery.Corrupt, r.off(), r.path()+"."+field, field+": want a string, got "+d.Next().String())
	return nil, false, d.Skip()
}

// int reads an integer field (a number, or a string of digits); ok is
// false when it is neither (reported, the span marked bad) or null.
func (r *reader) int(field string) (int64, bool, error) {
	d := r.d
	at := r.off()
	var b []byte
	switch d.Next() {
	case jx.Number:
		n, err := d.Num()
		if err != nil {
			return 0, false, err
		}
		b = n
	case jx.String:
		s, err := d.StrBytes()
		if err != nil {
			return 0, false, err
		}
		b = s
	case jx.Null:
		return 0, false, d.Skip()
	default:
		r.bad = r.problem(discovery.Corrupt, at, r.path()+"."+field, field+": want an integer, got "+d.Next().String())
		return 0, false, d.Skip()
	}
	v, ok := parseInt(b)
	if !ok {
		r.bad = r.problem(discovery.Corrupt, at, r.path()+"."+field, field+": "+strconv.Quote(string(b))+" is not an integer")
		return 0, false, nil
	}
	return v, true, nil
}

// parseInt parses a decimal integer; a float with a zero fraction and
// an exponent that keeps it whole (1.6e15) is accepted, as JavaScript
// writes large numbers so.
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 40 {
		return 0, false
	}
	neg := b[0] == '-'
	digits := b
	if neg {
		digits = b[1:]
	}
	if len(digits) > 0 && len(digits) <= 18 {
		var n int64
		ok := true
		for _, c := range digits {
			if c < '0' || c > '9' {
				ok = false
				break
			}
			n = n*10 + int64(c-'0')
		}
		if ok {
			if neg {
				n = -n
			}
			return n, true
		}
	}
	if v, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		return v, true
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f != math.Trunc(f) || f >= math.MaxInt64 || f < math.MinInt64 {
		return 0, false
	}
	return int64(f), true
}

// tick checks ctx every few hundred spans.
func (r *reader) tick() error {
	r.n++
	if r.n%256 == 0 {
		if err := r.ctx.Err(); err != nil {
			r.stop = err
			return errStop
		}
	}
	return nil
}

// off is the offset in the input of the span decoder's next value.
func (r *reader) off() int64 { return r.rec.base + decOffset(r.dv) }

// at is the position of offset off: in the span, or before it.
func (r *reader) at(off int64) posAt {
	if at, ok := r.rec.at(r.name, off); ok {
		return at
	}
	return r.pr.at(r.name, off)
}

// here is the position of the span decoder's next value.
func (r *reader) here() discovery.Pos {
	at := r.at(r.off())
	return discovery.Pos{File: at.file, Line: at.line, Col: at.col, Offset: at.off}
}

// record is pos with the record path set.
func (r *reader) record(pos discovery.Pos, path string) discovery.Pos {
	pos.Record = path
	return pos
}

// problem reports a problem at offset off; it returns true, for marking
// a span bad.
func (r *reader) problem(kind discovery.ProblemKind, off int64, record, detail string) bool {
	at := r.at(off)
	return r.problemPos(kind, discovery.Pos{File: at.file, Line: at.line, Col: at.col, Offset: at.off, Record: record}, detail)
}

func (r *reader) problemPos(kind discovery.ProblemKind, pos discovery.Pos, detail string) bool {
	r.sink.Problem(discovery.Problem{Kind: kind, Pos: pos, Detail: detail})
	return true
}

// syntax reports the syntax error that ends the input.
func (r *reader) syntax(err error) {
	off := syntaxOffset(err, r.pr, r.inv)
	detail := "JSON syntax: " + jxMessage(err)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		detail = "JSON syntax: the input ends inside a value"
	}
	r.problem(discovery.Corrupt, off, "", fmt.Sprintf("%s; the rest of %s is not read", detail, r.name))
}

// corruptIn reports what the span decoder could not read in bytes the
// cut took for a JSON value; the span is dropped.
func (r *reader) corruptIn(err error) {
	off := r.off()
	if m := errAt.FindStringSubmatch(err.Error()); m != nil {
		if o, e := strconv.ParseInt(m[1], 10, 64); e == nil {
			off = r.rec.base + o
		}
	}
	r.problem(discovery.Corrupt, off, r.path(), "JSON: "+jxMessage(err)+"; the span is dropped")
}
