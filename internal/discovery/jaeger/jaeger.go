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
	"io"
	"math"
	"strconv"

	"github.com/go-faster/jx"

	"github.com/emac-dev/emac/internal/discovery"
	"github.com/emac-dev/emac/internal/discovery/jsonpos"
	"github.com/emac-dev/emac/internal/discovery/tags"
)

// Read streams the Jaeger JSON export r (named name in positions) into
// sink. It returns an error only when reading r fails, ctx is done, or
// sink.Span returns one; everything wrong with the input itself is a
// sink.Problem.
func Read(ctx context.Context, name string, r io.Reader, sink discovery.Sink) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	rd := &reader{procs: make(map[string]int)}
	rd.Init(ctx, name, r, sink)
	return rd.Run(rd.document)
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

// reader reads the input as a jsonpos.Input: In streams it and cuts out
// each trace whole (memory for one trace, as the format needs anyway); D
// decodes the trace from those bytes. After a syntax error, the bytes
// read up to it are decoded all the same, so the spans before it are
// kept.
type reader struct {
	jsonpos.Input
	strings tags.Intern

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
	tags  tags.Attrs
	out   discovery.Span

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

// document reads one top-level value: the export object.
func (r *reader) document() error {
	if r.In.Next() != jx.Object {
		r.Problem(discovery.Corrupt, r.InOff(), "", "not a Jaeger export: want a JSON object with data, got "+r.In.Next().String())
		return r.In.Skip()
	}
	return r.In.ObjBytes(func(d *jx.Decoder, key []byte) error {
		if string(key) != "data" {
			return d.Skip()
		}
		switch d.Next() {
		case jx.Null:
			return d.Skip()
		case jx.Array:
		default:
			r.Problem(discovery.Corrupt, r.InOff(), "data", "data: want an array of traces, got "+d.Next().String())
			return d.Skip()
		}
		r.trace = 0
		return d.Arr(func(d *jx.Decoder) error {
			cutErr := r.Cut()
			if r.Err() != nil {
				return cutErr
			}
			if cutErr != nil {
				r.Load() // the trace up to the syntax error
			}
			err := r.traceObj()
			r.trace++
			switch {
			case r.Stopped() != nil:
				return jsonpos.ErrStop
			case cutErr != nil:
				// The syntax error ends the input (Run reports it),
				// after the trace's spans before it.
				return cutErr
			case err != nil:
				// Bytes the cut let through but the decoder did not:
				// the trace ends there.
				r.CorruptIn(err, r.tracePath(), "the rest of the trace is not read")
			}
			return nil
		})
	})
}

func (r *reader) tracePath() string { return "data[" + strconv.Itoa(r.trace) + "]" }

func (r *reader) traceObj() error {
	d := r.D
	if d.Next() != jx.Object {
		r.Problem(discovery.Corrupt, r.Off(), r.tracePath(), "trace: want an object, got "+d.Next().String())
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
			at := r.Off()
			if d.Next() != jx.String {
				r.Problem(discovery.Corrupt, at, r.tracePath()+".traceID", "traceID: want a string, got "+d.Next().String())
				return d.Skip()
			}
			b, err := d.StrBytes()
			if err != nil {
				return err
			}
			r.traceID = string(b)
		case "processes":
			at := r.Off()
			if d.Next() != jx.Object {
				r.Problem(discovery.Corrupt, at, r.tracePath()+".processes", "processes: want an object, got "+d.Next().String())
				return d.Skip()
			}
			if err := r.processes(); err != nil {
				return err
			}
			r.procsDone = true
			return r.flush()
		case "spans":
			at := r.Off()
			if d.Next() != jx.Array {
				r.Problem(discovery.Corrupt, at, r.tracePath()+".spans", "spans: want an array, got "+d.Next().String())
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
	if err != nil && (r.Stopped() != nil || r.Err() != nil) {
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
	return r.D.ObjBytes(func(d *jx.Decoder, key []byte) error {
		id := r.strings.Get(key)
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
	d := r.D
	at := r.Off()
	if d.Next() != jx.Object {
		r.Problem(discovery.Corrupt, at, path(), "process: want an object, got "+d.Next().String())
		return false, d.Skip()
	}
	err := d.ObjBytes(func(d *jx.Decoder, key []byte) error {
		switch string(key) {
		case "serviceName":
			at := r.Off()
			if d.Next() != jx.String {
				r.Problem(discovery.Corrupt, at, path()+".serviceName", "serviceName: want a string, got "+d.Next().String())
				return d.Skip()
			}
			b, err := d.StrBytes()
			if err != nil {
				return err
			}
			p.service = r.strings.Get(b)
		case "tags":
			return r.tagList(func() string { return path() + ".tags" }, func(key, val []byte) string {
				tags.AddPlace(&r.strings, &p.place, key, val)
				return ""
			})
		default:
			return d.Skip()
		}
		return nil
	})
	return err == nil, err
}

// errorTag reads Jaeger's error tag: a bool, or a string: "true", or an
// error's name or message (some clients write error="ClientSideError"),
// which may say what kind of failure it was.
func errorTag(a *tags.Attrs, val []byte) {
	switch string(val) {
	case "", "false", "0":
	case "true", "1":
		a.Error(nil)
	default:
		a.Error(val)
	}
}

// span reads the i'th span of the trace.
func (r *reader) span(i int) error {
	d := r.D
	sp := &r.sp
	*sp = pending{index: i}
	sp.s.Pos = r.Here()
	sp.s.Links = r.links[:0]
	path := func() string { return r.tracePath() + ".spans[" + strconv.Itoa(i) + "]" }
	if d.Next() != jx.Object {
		r.ProblemPos(discovery.Corrupt, r.Record(sp.s.Pos, path()), "span: want an object, got "+d.Next().String())
		return d.Skip()
	}
	r.refs = r.refs[:0]
	r.tags.Reset()
	var start, dur int64
	var haveStart, haveDur bool
	err := d.ObjBytes(func(d *jx.Decoder, key []byte) error {
		switch string(key) {
		case "traceID":
			b, ok, err := r.Str(path, "traceID", &sp.bad)
			if ok {
				sp.s.TraceID = r.strings.Last(b)
			}
			return err
		case "spanID":
			b, ok, err := r.Str(path, "spanID", &sp.bad)
			if ok {
				sp.s.SpanID = string(b)
			}
			return err
		case "operationName":
			b, ok, err := r.Str(path, "operationName", &sp.bad)
			if ok {
				sp.s.Operation = r.strings.Get(b)
			}
			return err
		case "processID":
			b, ok, err := r.Str(path, "processID", &sp.bad)
			if ok {
				sp.processID = r.strings.Get(b)
			}
			return err
		case "startTime":
			v, ok, err := r.Int(path, "startTime", false, &sp.bad)
			if err != nil || !ok {
				return err
			}
			start, haveStart = v, true
		case "duration":
			v, ok, err := r.Int(path, "duration", false, &sp.bad)
			if err != nil || !ok {
				return err
			}
			dur, haveDur = v, true
		case "references":
			return r.references(path)
		case "tags":
			return r.tagList(func() string { return path() + ".tags" }, func(key, val []byte) string {
				return r.tags.Add(&r.strings, key, val, errorTag)
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
		return r.Tick()
	}
	switch {
	case !haveStart:
		sp.bad = r.ProblemPos(discovery.MissingField, r.Record(sp.s.Pos, path()), "span without startTime")
	case !haveDur:
		sp.bad = r.ProblemPos(discovery.MissingField, r.Record(sp.s.Pos, path()), "span without duration")
	case dur < 0:
		sp.bad = r.ProblemPos(discovery.Corrupt, r.Record(sp.s.Pos, path()+".duration"), "negative duration "+strconv.FormatInt(dur, 10))
	case start > math.MaxInt64/1000-dur || start < math.MinInt64/1000:
		sp.bad = r.ProblemPos(discovery.Corrupt, r.Record(sp.s.Pos, path()+".startTime"), "startTime+duration out of range (µs since the epoch)")
	}
	if sp.bad {
		return r.Tick()
	}
	sp.s.Start, sp.s.End = start*1000, (start+dur)*1000
	if sp.s.TraceID == "" {
		sp.s.TraceID = r.traceID
	}
	r.resolveRefs(sp)
	if r.links = sp.s.Links; len(sp.s.Links) == 0 {
		sp.s.Links = nil
	}
	sp.s.Kind = r.tags.Kind
	sp.s.Outcome = r.tags.Outcome()
	sp.s.Peer = r.tags.Peer()
	sp.s.PeerDomain = r.tags.PeerDomain
	sp.s.Resend = r.tags.Resend
	sp.s.Placement = r.tags.Place
	if r.procsDone || sp.proc != nil {
		if err := r.emit(sp); err != nil {
			return err
		}
	} else {
		cp := *sp
		cp.s.Links = append([]discovery.Link(nil), sp.s.Links...)
		r.pending = append(r.pending, cp)
	}
	return r.Tick()
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
	at := func() discovery.Pos { return r.Record(sp.s.Pos, path()) }
	p := sp.proc
	if i, ok := r.procs[sp.processID]; ok && p == nil {
		p = &r.procList[i]
	}
	switch {
	case sp.s.TraceID == "":
		r.ProblemPos(discovery.MissingField, at(), "span without traceID")
		return nil
	case sp.s.SpanID == "":
		r.ProblemPos(discovery.MissingField, at(), "span without spanID")
		return nil
	case p == nil && sp.processID == "":
		r.ProblemPos(discovery.MissingField, at(), "span without processID: no service")
		return nil
	case p == nil:
		r.ProblemPos(discovery.MissingField, at(), "process "+strconv.Quote(sp.processID)+" is not in the trace's processes: no service")
		return nil
	case p.service == "":
		r.ProblemPos(discovery.MissingField, at(), "process "+strconv.Quote(sp.processID)+" has no serviceName")
		return nil
	}
	r.out = sp.s
	r.out.Service = p.service
	r.out.Placement = p.place
	overPlace(&r.out.Placement, sp.s.Placement)
	return r.Span(&r.out)
}

// overPlace sets p's fields that q knows: span tags override the
// resource's placement (as OTLP span attributes do), being the more
// specific statement about where the span ran.
func overPlace(p *discovery.Placement, q discovery.Placement) {
	for _, f := range [...]struct {
		dst *string
		src string
	}{
		{&p.Pod, q.Pod}, {&p.Node, q.Node}, {&p.Host, q.Host}, {&p.Zone, q.Zone},
		{&p.Region, q.Region}, {&p.Cluster, q.Cluster}, {&p.Domain, q.Domain},
	} {
		if f.src != "" {
			*f.dst = f.src
		}
	}
}

func (r *reader) references(path func() string) error {
	d := r.D
	at := r.Off()
	switch d.Next() {
	case jx.Null:
		return d.Skip()
	case jx.Array:
	default:
		r.sp.bad = r.Problem(discovery.Corrupt, at, path()+".references", "references: want an array, got "+d.Next().String())
		return d.Skip()
	}
	i := 0
	return d.Arr(func(d *jx.Decoder) error {
		rpath := func() string { return path() + ".references[" + strconv.Itoa(i) + "]" }
		defer func() { i++ }()
		at := r.Off()
		if d.Next() != jx.Object {
			r.sp.bad = r.Problem(discovery.Corrupt, at, rpath(), "reference: want an object, got "+d.Next().String())
			return d.Skip()
		}
		var f ref
		bad := false
		err := d.ObjBytes(func(d *jx.Decoder, key []byte) error {
			switch string(key) {
			case "refType", "traceID", "spanID":
				field := string(key)
				vat := r.Off()
				if d.Next() != jx.String {
					bad = r.Problem(discovery.Corrupt, vat, rpath()+"."+field, field+": want a string, got "+d.Next().String())
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
						bad = r.Problem(discovery.Corrupt, vat, rpath()+".refType", "unknown refType "+strconv.Quote(string(b)))
					}
				case "traceID":
					f.traceID = r.strings.Last(b)
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
			bad = r.Problem(discovery.MissingField, at, rpath(), "reference without spanID")
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
func (r *reader) tagList(path func() string, add func(key, val []byte) string) error {
	d := r.D
	at := r.Off()
	switch d.Next() {
	case jx.Null:
		return d.Skip()
	case jx.Array:
	default:
		r.Problem(discovery.Corrupt, at, path(), "tags: want an array, got "+d.Next().String())
		return d.Skip()
	}
	i := 0
	return d.Arr(func(d *jx.Decoder) error {
		defer func() { i++ }()
		at := r.Off()
		if d.Next() != jx.Object {
			r.Problem(discovery.Corrupt, at, path()+"["+strconv.Itoa(i)+"]", "tag: want an object, got "+d.Next().String())
			return d.Skip()
		}
		r.key, r.val = r.key[:0], r.val[:0]
		haveKey := false
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
				r.val, _, err = r.Scalar(r.val[:0])
				return err
			default:
				return d.Skip()
			}
		})
		if err != nil || !haveKey {
			return err
		}
		if detail := add(r.key, r.val); detail != "" {
			r.Problem(discovery.Corrupt, at, path()+"["+strconv.Itoa(i)+"]", detail)
		}
		return nil
	})
}
