// Package jaeger reads the JSON export of Jaeger's UI and query API
// (GET /api/traces, "Download JSON") into discovery.Spans.
//
// The format:
//
//	{"data": [{"traceID": "…",
//	           "spans": [{"traceID", "spanID", "operationName",
//	                      "references": [{"refType": "CHILD_OF"|"FOLLOWS_FROM", "traceID", "spanID"}],
//	                      "startTime": µs, "duration": µs,
//	                      "tags": [{"key", "type", "value"}], "logs", "processID", "warnings"}],
//	           "processes": {"p1": {"serviceName", "tags": [{"key", "type", "value"}]}}}],
//	 "total", "limit", "offset", "errors"}
//
// Other keys (CRISP's "testing", say) are skipped; so are logs and
// warnings. Several such documents one after another are read in turn.
//
// The mapping onto discovery.Span:
//
//   - TraceID, SpanID: as written (Jaeger writes hex; the ids are not
//     checked, since other tools' exports use other spellings). A span
//     without a traceID takes its trace's, if that came first.
//   - ParentID: the first CHILD_OF reference, else the first FOLLOWS_FROM
//     one (FollowsFrom set); every other reference is a Link.
//   - Service and Placement: from the span's process (processes[processID],
//     or a "process" object inside the span as Jaeger's storage model
//     writes it): serviceName; k8s.pod.name, k8s.node.name, host.name (or
//     Jaeger's hostname), cloud.availability_zone, cloud.region,
//     k8s.cluster.name, emac.failure_domain from its tags. The same keys
//     in span tags override the process's (as OTLP span attributes do).
//   - Kind: the span.kind tag.
//   - Start, End: startTime and startTime+duration, µs → ns.
//   - Outcome, as the OTLP reader maps the same attributes: tag error=true
//     (or a string error naming the error), otel.status_code=ERROR, or on
//     a server span without otel.status_code=OK an HTTP status
//     (http.response.status_code, else http.status_code) ≥ 500 or
//     rpc.grpc.status_code ≠ 0. A failure is a timeout when error.type is
//     "timeout", otel.status_description or the error string says
//     "deadline exceeded" (or is "timeout"), or the gRPC status is
//     DEADLINE_EXCEEDED; a cancellation likewise for "cancelled" or
//     "canceled" and CANCELLED.
//   - Peer (all but server and consumer spans): peer.service,
//     service.peer.name, server.address, net.peer.name, db.system.name,
//     db.system, messaging.destination.name, the first present in that
//     order. PeerDomain: emac.peer.failure_domain.
//   - Resend: http.request.resend_count (else http.resend_count).
//
// JSON object keys come in any order: a trace's processes may follow its
// spans. Spans are streamed to the sink as soon as their process is known
// and held until then, so memory is bounded by one trace, never the file.
//
// Bad records are problems, not errors: a span whose ids, times or
// references do not decode (Corrupt) or that lacks an id or a service
// (MissingField) is reported and dropped; a tag the reader interprets
// with a value it cannot use (http.status_code "abc") is reported and
// ignored, the span kept. A JSON syntax error ends the document (Corrupt
// at the error); the spans before it are kept. Positions are line:col and
// byte offset of the span (or of the bad value), with a record path like
// data[0].spans[3].
package jaeger

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

// bufSize is the decoder's read buffer: large enough that refills are
// rare, small enough to stay in cache.
const bufSize = 64 << 10

// Read streams the Jaeger JSON export r (named name in positions) into
// sink. It returns an error only when reading r fails, ctx is done, or
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
	rd.procs = make(map[string]int)
	return rd.run()
}

// Sniff says whether head, an input's first bytes, looks like a Jaeger
// export: a JSON object with a "data" key and a key only Jaeger spells
// so (traceID with a capital D, processID, processes). OTLP JSON
// (resourceSpans, traceId) and Zipkin (an array) do not match.
func Sniff(head []byte) bool {
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	head = bytes.TrimLeft(head, " \t\r\n")
	if len(head) == 0 || head[0] != '{' {
		return false
	}
	if !bytes.Contains(head, []byte(`"data"`)) {
		return false
	}
	for _, k := range []string{`"traceID"`, `"processID"`, `"processes"`} {
		if bytes.Contains(head, []byte(k)) {
			return true
		}
	}
	return false
}

// errStop unwinds the decoder's callbacks when Read must return
// reader.stop (a sink error, a cancelled context).
var errStop = errors.New("stop")

// reader reads the input with two decoders: in streams it and cuts out
// each trace whole (skipping it while posReader records it: memory for
// one trace, as the format needs anyway); d decodes the trace from those
// bytes. jx copies every object key it hands out when it streams (its
// buffer moves on), but not when it decodes bytes: a trace decoded from
// bytes costs no allocation per key, and the cut is one fast pass that
// also checks the syntax. After a syntax error, the bytes read up to it
// are decoded all the same, so the spans before it are kept.
type reader struct {
	ctx     context.Context
	name    string
	sink    discovery.Sink
	pr      *posReader
	in      *jx.Decoder   // the input
	inv     reflect.Value // *in, for its position
	d       *jx.Decoder   // the trace
	dv      reflect.Value
	rec     recPos // positions in the trace
	stop    error
	strings intern

	// The trace being read.
	trace     int // index in data
	traceID   string
	procsDone bool           // its processes are read: spans stream
	procs     map[string]int // index in procList
	procList  []process
	pending   []pending // its spans waiting for the processes

	// The span being read, and the one handed to the sink.
	sp    pending
	refs  []ref
	links []discovery.Link // sp's links' storage, reused
	tags  attrs
	out   discovery.Span
	n     int // spans read, for checking ctx now and then

	prevTraceID string

	key, val []byte // scratch for a tag
}

// process is an entry of a trace's processes.
type process struct {
	service string
	place   discovery.Placement
}

// pending is a decoded span that may wait for its process.
type pending struct {
	s         discovery.Span // all but Service; Placement from span tags
	processID string
	proc      *process // an inline "process"
	index     int      // in its trace's spans
	bad       bool     // reported Corrupt: dropped
}

type ref struct {
	follows         bool
	traceID, spanID string
}

func (r *reader) run() error {
	for {
		if r.in.Next() == jx.Invalid {
			// The end, or bytes that are not JSON.
			err := r.in.Skip()
			if err == io.EOF {
				return r.pr.err
			}
			if r.pr.err != nil {
				return r.pr.err
			}
			r.syntax(err)
			return nil
		}
		err := r.document()
		if r.stop != nil {
			return r.stop
		}
		if r.pr.err != nil {
			return r.pr.err
		}
		if err != nil {
			r.syntax(err)
			return nil
		}
	}
}

// document reads one top-level value: the export object.
func (r *reader) document() error {
	if r.in.Next() != jx.Object {
		r.problem(discovery.Corrupt, decOffset(r.inv), "", "not a Jaeger export: want a JSON object with data, got "+r.in.Next().String())
		return r.in.Skip()
	}
	return r.in.ObjBytes(func(d *jx.Decoder, key []byte) error {
		if string(key) != "data" {
			return d.Skip()
		}
		switch d.Next() {
		case jx.Null:
			return d.Skip()
		case jx.Array:
		default:
			r.problem(discovery.Corrupt, decOffset(r.inv), "data", "data: want an array of traces, got "+d.Next().String())
			return d.Skip()
		}
		r.trace = 0
		return d.Arr(func(d *jx.Decoder) error {
			// Cut the trace out: skip it while recording the input.
			off := decOffset(r.inv)
			start := r.pr.at(r.name, off)
			r.pr.record(off)
			cutErr := d.Skip()
			end := int64(-1) // after a syntax error, all that was read
			if cutErr == nil {
				end = decOffset(r.inv)
			}
			raw := r.pr.recorded(end)
			if r.pr.err != nil {
				return cutErr
			}
			r.rec.reset(raw, off, start)
			r.d.ResetBytes(raw)
			err := r.traceObj()
			r.trace++
			switch {
			case r.stop != nil:
				return errStop
			case cutErr != nil:
				// The syntax error ends the input (run reports it),
				// after the trace's spans before it.
				return cutErr
			case err != nil:
				// Bytes the cut let through but the decoder did not:
				// the trace ends there.
				r.corruptIn(err)
			}
			return nil
		})
	})
}

func (r *reader) tracePath() string { return "data[" + strconv.Itoa(r.trace) + "]" }

func (r *reader) traceObj() error {
	d := r.d
	if d.Next() != jx.Object {
		r.problem(discovery.Corrupt, r.off(), r.tracePath(), "trace: want an object, got "+d.Next().String())
		return d.Skip()
	}
	r.traceID, r.procsDone = "", false
	clear(r.procs)
	r.procList = r.procList[:0]
	r.pending = r.pending[:0]
	spans := 0
	err := d.ObjBytes(func(d *jx.Decoder, key []byte) error {
		switch string(key) {
		case "traceID":
			at := r.off()
			if d.Next() != jx.String {
				r.problem(discovery.Corrupt, at, r.tracePath()+".traceID", "traceID: want a string, got "+d.Next().String())
				return d.Skip()
			}
			b, err := d.StrBytes()
			if err != nil {
				return err
			}
			r.traceID = string(b)
		case "processes":
			at := r.off()
			if d.Next() != jx.Object {
				r.problem(discovery.Corrupt, at, r.tracePath()+".processes", "processes: want an object, got "+d.Next().String())
				return d.Skip()
			}
			if err := r.processes(); err != nil {
				return err
			}
			r.procsDone = true
			return r.flush()
		case "spans":
			at := r.off()
			if d.Next() != jx.Array {
				r.problem(discovery.Corrupt, at, r.tracePath()+".spans", "spans: want an array, got "+d.Next().String())
				return d.Skip()
			}
			return d.Arr(func(d *jx.Decoder) error {
				err := r.span(spans)
				spans++
				return err
			})
		default:
			return d.Skip()
		}
		return nil
	})
	if err != nil && (r.stop != nil || r.pr.err != nil) {
		return err
	}
	// Spans still waiting have no processes to wait for; after a syntax
	// error, the spans read so far are kept.
	r.procsDone = true
	if ferr := r.flush(); ferr != nil {
		return ferr
	}
	return err
}

// flush emits the spans waiting for their processes.
func (r *reader) flush() error {
	for i := range r.pending {
		if err := r.emit(&r.pending[i]); err != nil {
			return err
		}
	}
	r.pending = r.pending[:0]
	return nil
}

func (r *reader) processes() error {
	return r.d.ObjBytes(func(d *jx.Decoder, key []byte) error {
		id := r.strings.get(key)
		path := func() string { return r.tracePath() + ".processes[" + strconv.Quote(id) + "]" }
		r.procList = append(r.procList, process{})
		ok, err := r.process(path, &r.procList[len(r.procList)-1])
		if err != nil {
			return err
		}
		if ok {
			r.procs[id] = len(r.procList) - 1
		}
		return nil
	})
}

// process reads a process object into p; ok is false when it is not one
// (reported).
func (r *reader) process(path func() string, p *process) (ok bool, _ error) {
	d := r.d
	at := r.off()
	if d.Next() != jx.Object {
		r.problem(discovery.Corrupt, at, path(), "process: want an object, got "+d.Next().String())
		return false, d.Skip()
	}
	err := d.ObjBytes(func(d *jx.Decoder, key []byte) error {
		switch string(key) {
		case "serviceName":
			at := r.off()
			if d.Next() != jx.String {
				r.problem(discovery.Corrupt, at, path()+".serviceName", "serviceName: want a string, got "+d.Next().String())
				return d.Skip()
			}
			b, err := d.StrBytes()
			if err != nil {
				return err
			}
			p.service = r.strings.get(b)
		case "tags":
			return r.tagList(func() string { return path() + ".tags" }, func(key, val []byte, _ bool) string {
				addPlace(&r.strings, &p.place, key, val)
				return ""
			})
		default:
			return d.Skip()
		}
		return nil
	})
	return err == nil, err
}

// span reads the i'th span of the trace.
func (r *reader) span(i int) error {
	d := r.d
	sp := &r.sp
	*sp = pending{index: i}
	sp.s.Pos = r.here()
	sp.s.Links = r.links[:0]
	path := func() string { return r.tracePath() + ".spans[" + strconv.Itoa(i) + "]" }
	if d.Next() != jx.Object {
		r.problemPos(discovery.Corrupt, r.record(sp.s.Pos, path()), "span: want an object, got "+d.Next().String())
		return d.Skip()
	}
	r.refs = r.refs[:0]
	r.tags.reset()
	var start, dur int64
	var haveStart, haveDur bool
	err := d.ObjBytes(func(d *jx.Decoder, key []byte) error {
		switch string(key) {
		case "traceID":
			b, ok, err := r.str(path, "traceID")
			if ok {
				sp.s.TraceID = r.lastTraceID(b)
			}
			return err
		case "spanID":
			b, ok, err := r.str(path, "spanID")
			if ok {
				sp.s.SpanID = string(b)
			}
			return err
		case "operationName":
			b, ok, err := r.str(path, "operationName")
			if ok {
				sp.s.Operation = r.strings.get(b)
			}
			return err
		case "processID":
			b, ok, err := r.str(path, "processID")
			if ok {
				sp.processID = r.strings.get(b)
			}
			return err
		case "startTime":
			v, ok, err := r.int(path, "startTime")
			if err != nil || !ok {
				return err
			}
			start, haveStart = v, true
		case "duration":
			v, ok, err := r.int(path, "duration")
			if err != nil || !ok {
				return err
			}
			dur, haveDur = v, true
		case "references":
			return r.references(path)
		case "tags":
			return r.tagList(func() string { return path() + ".tags" }, func(key, val []byte, str bool) string {
				return r.tags.add(&r.strings, key, val, str)
			})
		case "process":
			p := &process{}
			ok, err := r.process(func() string { return path() + ".process" }, p)
			if ok {
				sp.proc = p
			}
			return err
		default:
			return d.Skip()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if sp.bad {
		return r.tick()
	}
	switch {
	case !haveStart:
		sp.bad = r.problemPos(discovery.MissingField, r.record(sp.s.Pos, path()), "span without startTime")
	case !haveDur:
		sp.bad = r.problemPos(discovery.MissingField, r.record(sp.s.Pos, path()), "span without duration")
	case dur < 0:
		sp.bad = r.problemPos(discovery.Corrupt, r.record(sp.s.Pos, path()+".duration"), "negative duration "+strconv.FormatInt(dur, 10))
	case start > math.MaxInt64/1000-dur || start < math.MinInt64/1000:
		sp.bad = r.problemPos(discovery.Corrupt, r.record(sp.s.Pos, path()+".startTime"), "startTime+duration out of range (µs since the epoch)")
	}
	if sp.bad {
		return r.tick()
	}
	sp.s.Start, sp.s.End = start*1000, (start+dur)*1000
	if sp.s.TraceID == "" {
		sp.s.TraceID = r.traceID
	}
	r.resolveRefs(sp)
	if r.links = sp.s.Links; len(sp.s.Links) == 0 {
		sp.s.Links = nil
	}
	sp.s.Kind = r.tags.kind
	sp.s.Outcome = r.tags.outcome()
	sp.s.Peer = r.tags.peerOf()
	sp.s.PeerDomain = r.tags.peerDomain
	sp.s.Resend = r.tags.resend
	sp.s.Placement = r.tags.place
	if r.procsDone || sp.proc != nil {
		if err := r.emit(sp); err != nil {
			return err
		}
	} else {
		cp := *sp
		cp.s.Links = append([]discovery.Link(nil), sp.s.Links...)
		r.pending = append(r.pending, cp)
	}
	return r.tick()
}

// lastTraceID shares the previous span's trace id string when b spells
// the same: the spans of a trace come together.
func (r *reader) lastTraceID(b []byte) string {
	if string(b) != r.prevTraceID {
		r.prevTraceID = string(b)
	}
	return r.prevTraceID
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

// resolveRefs picks the parent and the links.
func (r *reader) resolveRefs(sp *pending) {
	parent := -1
	for i, f := range r.refs {
		if !f.follows {
			parent = i
			break
		}
	}
	if parent < 0 {
		for i, f := range r.refs {
			if f.follows {
				parent, sp.s.FollowsFrom = i, true
				break
			}
		}
	}
	for i, f := range r.refs {
		if i == parent {
			sp.s.ParentID = f.spanID
			continue
		}
		tid := f.traceID
		if tid == "" {
			tid = sp.s.TraceID
		}
		sp.s.Links = append(sp.s.Links, discovery.Link{TraceID: tid, SpanID: f.spanID})
	}
}

// emit completes a span with its process and hands it to the sink.
func (r *reader) emit(sp *pending) error {
	if sp.bad {
		return nil
	}
	path := func() string { return r.tracePath() + ".spans[" + strconv.Itoa(sp.index) + "]" }
	at := func() discovery.Pos { return r.record(sp.s.Pos, path()) }
	p := sp.proc
	if i, ok := r.procs[sp.processID]; ok && p == nil {
		p = &r.procList[i]
	}
	switch {
	case sp.s.TraceID == "":
		r.problemPos(discovery.MissingField, at(), "span without traceID")
		return nil
	case sp.s.SpanID == "":
		r.problemPos(discovery.MissingField, at(), "span without spanID")
		return nil
	case p == nil && sp.processID == "":
		r.problemPos(discovery.MissingField, at(), "span without processID: no service")
		return nil
	case p == nil:
		r.problemPos(discovery.MissingField, at(), "process "+strconv.Quote(sp.processID)+" is not in the trace's processes: no service")
		return nil
	case p.service == "":
		r.problemPos(discovery.MissingField, at(), "process "+strconv.Quote(sp.processID)+" has no serviceName")
		return nil
	}
	r.out = sp.s
	r.out.Service = p.service
	r.out.Placement = p.place
	overPlace(&r.out.Placement, sp.s.Placement)
	if err := r.sink.Span(&r.out); err != nil {
		r.stop = err
		return errStop
	}
	return nil
}

func (r *reader) references(path func() string) error {
	d := r.d
	at := r.off()
	switch d.Next() {
	case jx.Null:
		return d.Skip()
	case jx.Array:
	default:
		r.sp.bad = r.problem(discovery.Corrupt, at, path()+".references", "references: want an array, got "+d.Next().String())
		return d.Skip()
	}
	i := 0
	return d.Arr(func(d *jx.Decoder) error {
		rpath := func() string { return path() + ".references[" + strconv.Itoa(i) + "]" }
		defer func() { i++ }()
		at := r.off()
		if d.Next() != jx.Object {
			r.sp.bad = r.problem(discovery.Corrupt, at, rpath(), "reference: want an object, got "+d.Next().String())
			return d.Skip()
		}
		var f ref
		bad := false
		err := d.ObjBytes(func(d *jx.Decoder, key []byte) error {
			switch string(key) {
			case "refType", "traceID", "spanID":
				field := string(key)
				vat := r.off()
				if d.Next() != jx.String {
					bad = r.problem(discovery.Corrupt, vat, rpath()+"."+field, field+": want a string, got "+d.Next().String())
					return d.Skip()
				}
				b, err := d.StrBytes()
				if err != nil {
					return err
				}
				switch field {
				case "refType":
					switch string(b) {
					case "CHILD_OF":
					case "FOLLOWS_FROM":
						f.follows = true
					default:
						bad = r.problem(discovery.Corrupt, vat, rpath()+".refType", "unknown refType "+strconv.Quote(string(b)))
					}
				case "traceID":
					f.traceID = r.lastTraceID(b)
				case "spanID":
					f.spanID = string(b)
				}
			default:
				return d.Skip()
			}
			return nil
		})
		if err != nil {
			return err
		}
		if !bad && f.spanID == "" {
			bad = r.problem(discovery.MissingField, at, rpath(), "reference without spanID")
		}
		if bad {
			// The parent is unknown: the span cannot be placed.
			r.sp.bad = true
			return nil
		}
		r.refs = append(r.refs, f)
		return nil
	})
}

// tagList reads a list of {key, type, value} and calls add with each
// key and value text (add's non-empty result is reported).
func (r *reader) tagList(path func() string, add func(key, val []byte, str bool) string) error {
	d := r.d
	at := r.off()
	switch d.Next() {
	case jx.Null:
		return d.Skip()
	case jx.Array:
	default:
		r.problem(discovery.Corrupt, at, path(), "tags: want an array, got "+d.Next().String())
		return d.Skip()
	}
	i := 0
	return d.Arr(func(d *jx.Decoder) error {
		defer func() { i++ }()
		at := r.off()
		if d.Next() != jx.Object {
			r.problem(discovery.Corrupt, at, path()+"["+strconv.Itoa(i)+"]", "tag: want an object, got "+d.Next().String())
			return d.Skip()
		}
		r.key, r.val = r.key[:0], r.val[:0]
		str, haveKey := false, false
		err := d.ObjBytes(func(d *jx.Decoder, key []byte) error {
			switch string(key) {
			case "key":
				if d.Next() != jx.String {
					return d.Skip()
				}
				b, err := d.StrBytes()
				r.key, haveKey = append(r.key[:0], b...), true
				return err
			case "value":
				var err error
				r.val, str, err = r.scalar(r.val[:0])
				return err
			default:
				return d.Skip()
			}
		})
		if err != nil || !haveKey {
			return err
		}
		if detail := add(r.key, r.val, str); detail != "" {
			r.problem(discovery.Corrupt, at, path()+"["+strconv.Itoa(i)+"]", detail)
		}
		return nil
	})
}

// scalar appends a tag value's text to b: a string's contents, a
// number's digits, a bool's name; null and containers give nothing.
func (r *reader) scalar(b []byte) ([]byte, bool, error) {
	d := r.d
	switch d.Next() {
	case jx.String:
		b, err := d.StrAppend(b)
		return b, true, err
	case jx.Number:
		n, err := d.Num()
		return append(b, n...), false, err
	case jx.Bool:
		v, err := d.Bool()
		return strconv.AppendBool(b, v), false, err
	}
	return b, false, d.Skip()
}

// str reads a string field; ok is false when the value was not a string
// (reported, the span marked bad, the value skipped).
func (r *reader) str(path func() string, field string) ([]byte, bool, error) {
	d := r.d
	if d.Next() == jx.String {
		b, err := d.StrBytes()
		return b, err == nil, err
	}
	if d.Next() == jx.Null {
		return nil, false, d.Skip()
	}
	r.sp.bad = r.problem(discovery.Corrupt, r.off(), path()+"."+field, field+": want a string, got "+d.Next().String())
	return nil, false, d.Skip()
}

// int reads an integer field (a JSON number, or a string of digits as
// some exporters write 64-bit numbers); ok is false when it is neither
// (reported, the span marked bad).
func (r *reader) int(path func() string, field string) (int64, bool, error) {
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
	default:
		r.sp.bad = r.problem(discovery.Corrupt, at, path()+"."+field, field+": want an integer, got "+d.Next().String())
		return 0, false, d.Skip()
	}
	v, ok := parseInt(b)
	if !ok {
		r.sp.bad = r.problem(discovery.Corrupt, at, path()+"."+field, field+": "+strconv.Quote(string(b))+" is not an integer")
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

// off is the offset in the input of the trace decoder's next value.
func (r *reader) off() int64 { return r.rec.base + decOffset(r.dv) }

// at is the position of offset off: in the trace, or before it.
func (r *reader) at(off int64) posAt {
	if at, ok := r.rec.at(r.name, off); ok {
		return at
	}
	return r.pr.at(r.name, off)
}

// here is the position of the trace decoder's next value.
func (r *reader) here() discovery.Pos { return r.pos(r.at(r.off()), "") }

func (r *reader) pos(at posAt, record string) discovery.Pos {
	return discovery.Pos{File: at.file, Line: at.line, Col: at.col, Offset: at.off, Record: record}
}

// problem reports a problem at offset off; it returns true, for marking
// a span bad.
func (r *reader) problem(kind discovery.ProblemKind, off int64, record, detail string) bool {
	return r.problemPos(kind, r.pos(r.at(off), record), detail)
}

// record is pos with the record path set.
func (r *reader) record(pos discovery.Pos, path string) discovery.Pos {
	pos.Record = path
	return pos
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

// corruptIn reports what the trace decoder could not read in bytes the
// cut took for a JSON value; the rest of the trace is dropped.
func (r *reader) corruptIn(err error) {
	off := r.off()
	if m := errAt.FindStringSubmatch(err.Error()); m != nil {
		if o, e := strconv.ParseInt(m[1], 10, 64); e == nil {
			off = r.rec.base + o
		}
	}
	r.problem(discovery.Corrupt, off, r.tracePath(), "JSON: "+jxMessage(err)+"; the rest of the trace is not read")
}
