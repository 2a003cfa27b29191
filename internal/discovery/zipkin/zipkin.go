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
	"io"
	"math"
	"strconv"

	"github.com/go-faster/jx"

	"github.com/emac-dev/emac/internal/discovery"
	"github.com/emac-dev/emac/internal/discovery/jsonpos"
	"github.com/emac-dev/emac/internal/discovery/tags"
)

// SharedSuffix is appended to a shared SERVER span's id to make its
// SpanID (see the package documentation).
const SharedSuffix = "/server"

// Read streams the Zipkin v2 JSON r (named name in positions) into sink.
// It returns an error only when reading r fails, ctx is done, or
// sink.Span returns one; everything wrong with the input itself is a
// sink.Problem.
func Read(ctx context.Context, name string, r io.Reader, sink discovery.Sink) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	rd := &reader{}
	rd.Init(ctx, name, r, sink)
	rd.pathFn = rd.path
	return rd.Run(func() error {
		if err := rd.document(); !rd.v1 {
			return err
		}
		return jsonpos.ErrStop // the input ends at a v1 span
	})
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

// errV1 unwinds the decoder at a Zipkin v1 span.
var errV1 = errors.New("zipkin v1")

// reader reads the input as a jsonpos.Input: In streams it and cuts out
// each span whole; D decodes the span from those bytes.
type reader struct {
	jsonpos.Input
	strings tags.Intern

	out  discovery.Span
	tags tags.Attrs
	bad  bool // the span was reported Corrupt
	v1   bool // it is a Zipkin v1 span

	// path is the span's record path: "[i]", or "[i][j]" in an array of
	// traces; written only for a problem. pathFn is r.path as the func
	// value the field readers take, made once rather than at every field.
	outer, inner int // inner is -1 in a flat array
	pathFn       func() string

	// Scratch: a tag's key and value; an endpoint's address; the ids
	// normalised.
	key, val, ip, port []byte
	tid, sid, pid      []byte
	remote             string
}

// document reads one top-level value: an array of spans or of traces.
func (r *reader) document() error {
	d := r.In
	if d.Next() != jx.Array {
		r.Problem(discovery.Corrupt, r.InOff(), "", "not Zipkin v2 JSON: want an array of spans, got "+d.Next().String())
		return d.Skip()
	}
	r.outer = 0
	return d.Arr(func(d *jx.Decoder) error {
		defer func() { r.outer++ }()
		r.inner = -1
		switch d.Next() {
		case jx.Object:
			return r.cutSpan()
		case jx.Array:
			// A trace: an array of spans.
			r.inner = 0
			return d.Arr(func(d *jx.Decoder) error {
				defer func() { r.inner++ }()
				if d.Next() != jx.Object {
					r.Problem(discovery.Corrupt, r.InOff(), r.path(), "span: want an object, got "+d.Next().String())
					return d.Skip()
				}
				return r.cutSpan()
			})
		}
		r.Problem(discovery.Corrupt, r.InOff(), r.path(), "span: want an object, got "+d.Next().String())
		return d.Skip()
	})
}

// cutSpan cuts the next span out of the input and reads it. A span cut
// short by a syntax error is not read: Run reports the error.
func (r *reader) cutSpan() error {
	if err := r.Cut(); err != nil {
		return err
	}
	err := r.span()
	switch {
	case r.Stopped() != nil || err == errV1:
		return err
	case err != nil:
		// Bytes the cut let through but the decoder did not.
		r.CorruptIn(err, r.path(), "the span is dropped")
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
	d := r.D
	s := &r.out
	*s = discovery.Span{}
	s.Pos = r.Here()
	r.tags.Reset()
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
			traceOff = r.Off()
			b, ok, err := r.str("traceId")
			if ok {
				traceID = b
			}
			return err
		case "id":
			idOff = r.Off()
			b, ok, err := r.str("id")
			if ok {
				id = b
			}
			return err
		case "parentId":
			parentOff = r.Off()
			b, ok, err := r.str("parentId")
			if ok {
				parentID = b
			}
			return err
		case "name":
			b, ok, err := r.str("name")
			if ok {
				s.Operation = r.strings.Get(b)
			}
			return err
		case "kind":
			at := r.Off()
			b, ok, err := r.str("kind")
			if ok && len(b) > 0 {
				s.Kind, haveKind = tags.ParseKind(b), true
				if s.Kind == discovery.KindUnspecified {
					r.Problem(discovery.Corrupt, at, r.path()+".kind", "unknown kind "+strconv.Quote(string(b))+"; read as unspecified")
				}
			}
			return err
		case "timestamp":
			v, ok, err := r.Int(r.pathFn, "timestamp", true, &r.bad)
			if ok {
				ts, haveTS = v, true
			}
			return err
		case "duration":
			v, ok, err := r.Int(r.pathFn, "duration", true, &r.bad)
			if ok {
				dur, haveDur = v, true
			}
			return err
		case "shared":
			at := r.Off()
			switch d.Next() {
			case jx.Bool:
				v, err := d.Bool()
				shared = v
				return err
			case jx.Null:
				return d.Skip()
			}
			r.bad = r.Problem(discovery.Corrupt, at, r.path()+".shared", "shared: want a bool, got "+d.Next().String())
			return d.Skip()
		case "localEndpoint":
			return r.endpoint("localEndpoint", func(key, val []byte) {
				switch string(key) {
				case "serviceName":
					s.Service = r.strings.Get(val)
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
					r.remote = r.strings.Get(val)
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
		r.ProblemPos(discovery.Unsupported, r.Record(s.Pos, r.path()), "Zipkin v1 (annotations with endpoints, binaryAnnotations): only v2 is read; the rest of "+r.Name+" is not read")
		return errV1
	}
	if r.bad {
		return r.Tick()
	}
	at := func() discovery.Pos { return r.Record(s.Pos, r.path()) }
	switch {
	case len(traceID) == 0:
		r.ProblemPos(discovery.MissingField, at(), "span without traceId")
		return r.Tick()
	case len(id) == 0:
		r.ProblemPos(discovery.MissingField, at(), "span without id")
		return r.Tick()
	case s.Service == "":
		r.ProblemPos(discovery.MissingField, at(), "span without localEndpoint.serviceName")
		return r.Tick()
	}
	tid, ok := hexID(r.tid[:0], traceID, 32)
	r.tid = tid
	if !ok {
		r.Problem(discovery.Corrupt, traceOff, r.path()+".traceId", "traceId "+strconv.Quote(string(traceID))+" is not 1 to 32 hex digits")
		return r.Tick()
	}
	sid, ok := hexID(r.sid[:0], id, 16)
	r.sid = sid
	if !ok {
		r.Problem(discovery.Corrupt, idOff, r.path()+".id", "id "+strconv.Quote(string(id))+" is not 1 to 16 hex digits")
		return r.Tick()
	}
	var pid []byte
	if len(parentID) > 0 {
		pid, ok = hexID(r.pid[:0], parentID, 16)
		r.pid = pid
		if !ok {
			r.Problem(discovery.Corrupt, parentOff, r.path()+".parentId", "parentId "+strconv.Quote(string(parentID))+" is not 1 to 16 hex digits")
			return r.Tick()
		}
		if allZero(pid) || bytes.Equal(pid, sid) {
			pid = nil
		}
	}
	switch {
	case dur < 0:
		r.ProblemPos(discovery.Corrupt, r.Record(s.Pos, r.path()+".duration"), "negative duration "+strconv.FormatInt(dur, 10))
		return r.Tick()
	case ts > math.MaxInt64/1000-dur || ts < math.MinInt64/1000:
		r.ProblemPos(discovery.Corrupt, r.Record(s.Pos, r.path()+".timestamp"), "timestamp+duration out of range (µs since the epoch)")
		return r.Tick()
	}
	if haveTS {
		s.Start = ts * 1000
		s.End = s.Start
		if haveDur {
			s.End = (ts + dur) * 1000
		}
	}

	s.TraceID = r.strings.Last(tid)
	if !haveKind {
		s.Kind = r.tags.Kind
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
	r.tags.Kind = s.Kind
	s.Outcome = r.tags.Outcome()
	s.Peer = r.tags.Peer() // none for a server or a consumer
	if r.remote != "" && s.Kind != discovery.KindServer && s.Kind != discovery.KindConsumer {
		s.Peer = r.remote
	}
	s.PeerDomain = r.tags.PeerDomain
	s.Resend = r.tags.Resend
	s.Placement = r.tags.Place
	if s.Placement.Host == "" && len(r.ip) > 0 {
		s.Placement.Host = r.strings.Get(r.ip)
	}
	if err := r.Span(s); err != nil {
		return err
	}
	return r.Tick()
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

// endpoint reads an endpoint object, calling set with each field's text.
func (r *reader) endpoint(field string, set func(key, val []byte)) error {
	d := r.D
	at := r.Off()
	switch d.Next() {
	case jx.Null:
		return d.Skip()
	case jx.Object:
	default:
		r.bad = r.Problem(discovery.Corrupt, at, r.path()+"."+field, field+": want an object, got "+d.Next().String())
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
		at := r.Off()
		val, ok, err := r.Scalar(r.val[:0])
		r.val = val
		if err != nil {
			return err
		}
		if !ok {
			r.bad = r.Problem(discovery.Corrupt, at, r.path()+"."+field+"."+string(r.key), string(r.key)+": want a string or a number")
			return nil
		}
		set(r.key, r.val)
		return nil
	})
}

// tagObj reads the tags, a string map.
func (r *reader) tagObj() error {
	d := r.D
	at := r.Off()
	switch d.Next() {
	case jx.Null:
		return d.Skip()
	case jx.Object:
	default:
		r.Problem(discovery.Corrupt, at, r.path()+".tags", "tags: want an object, got "+d.Next().String())
		return d.Skip()
	}
	return d.ObjBytes(func(d *jx.Decoder, key []byte) error {
		if d.Next() == jx.Null {
			return d.Skip()
		}
		r.key = append(r.key[:0], key...)
		at := r.Off()
		val, ok, err := r.Scalar(r.val[:0])
		r.val = val
		if err != nil {
			return err
		}
		tpath := func() string { return r.path() + ".tags[" + strconv.Quote(string(r.key)) + "]" }
		if !ok {
			r.Problem(discovery.Corrupt, at, tpath(), "tag value: want a string; ignored")
			return nil
		}
		if detail := r.tags.Add(&r.strings, r.key, r.val, errorTag); detail != "" {
			r.Problem(discovery.Corrupt, at, tpath(), detail)
		}
		return nil
	})
}

// errorTag reads Zipkin's error tag: its presence marks the error; its
// value is the message, possibly empty, which may say what kind of
// failure it was. "false" is read as no error: OpenTracing bridges
// write it.
func errorTag(a *tags.Attrs, val []byte) {
	if string(val) != "false" {
		a.Error(val)
	}
}

// annotations skips v2 annotations and spots v1 ones (with an endpoint).
func (r *reader) annotations() error {
	d := r.D
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

// str reads a string field; ok is false when the value was null, or not
// a string (then reported, the span marked bad).
func (r *reader) str(field string) ([]byte, bool, error) { return r.Str(r.pathFn, field, &r.bad) }
