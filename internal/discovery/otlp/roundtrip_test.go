package otlp

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/emac-dev/emac/internal/discovery"
	"github.com/emac-dev/emac/internal/gen"
	"github.com/emac-dev/emac/internal/model"
	"github.com/emac-dev/emac/internal/sim"
	"github.com/emac-dev/emac/internal/sim/trace"
)

const ms = time.Millisecond

// everyOperator is a journey with every operator, so that the traces
// hold every outcome, retries' resend counts, async links, and domains
// that put services on shared nodes, zones and a cluster.
func everyOperator(t testing.TB) *model.Journey {
	t.Helper()
	flow := "Timeout[after=400ms](Seq(front, All(cart, pricing), Fallback(inventory, cache), Race[hedgeAfter=30ms](paya, payb), " +
		"Quorum[k=2](r1, r2, r3), Branch(0.8: Retry[attempts=3, perTryTimeout=40ms, backoff=5ms](receipt), 0.2: Optional(mail)), " +
		"Async(audit), Async(Seq(ledger, mail))))"
	type comp struct {
		a          float64
		took, fail time.Duration
	}
	comps := map[string]comp{"front": {0.999, 8 * ms, 0}, "cart": {0.99, 15 * ms, 0}, "pricing": {0.99, 12 * ms, 0},
		"inventory": {0.6, 20 * ms, 5 * ms}, "cache": {0.99, 2 * ms, 0}, "paya": {0.9, 60 * ms, 0}, "payb": {0.9, 25 * ms, 0},
		"r1": {0.95, 4 * ms, 0}, "r2": {0.95, 6 * ms, 0}, "r3": {0.95, 9 * ms, 0}, "receipt": {0.7, 30 * ms, 0},
		"mail": {0.5, 10 * ms, 0}, "audit": {0.99, 50 * ms, 0}, "ledger": {0.9, 20 * ms, 0}}
	avail := map[string]float64{}
	for n, c := range comps {
		avail[n] = c.a
	}
	j, err := model.Build("every-operator", flow, avail, map[string][]string{
		"zone-a": {"front", "cart", "pricing"}, "node-7": {"paya", "payb"}, "blue-cluster": {"r1", "r2"}})
	if err != nil {
		t.Fatal(err)
	}
	for n, c := range comps {
		jc := j.Components[n]
		jc.Latency = []model.LatencyPoint{{Quantile: 0.1, Value: c.took}, {Quantile: 0.9, Value: c.took * 2}}
		jc.FailureLatency = c.fail
	}
	return j
}

// generate writes count executions of j as OTLP JSON.
func generate(t testing.TB, j *model.Journey, count int) *trace.TracesData {
	t.Helper()
	td, err := trace.Generate(context.Background(), j, trace.Options{Count: count, Seed: 3, Scenario: sim.Named(j.DomainNames(), nil)})
	if err != nil {
		t.Fatal(err)
	}
	return td
}

func jsonOf(t testing.TB, td *trace.TracesData) []byte {
	t.Helper()
	b, err := td.JSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// strAttr and intAttr read a generated attribute.
func strAttr(v trace.AnyValue, ok bool) string {
	if !ok || v.StringValue == nil {
		return ""
	}
	return *v.StringValue
}

func intAttr(v trace.AnyValue, ok bool) int {
	if !ok || v.IntValue == nil {
		return 0
	}
	return int(*v.IntValue)
}

// want is what the readers should make of generated traces: the mapping
// of the package doc, written against the generator's own types. Pos
// holds the record only.
func want(td *trace.TracesData, prefix func(rs int) string) []discovery.Span {
	var out []discovery.Span
	for ri, rs := range td.ResourceSpans {
		svc := strAttr(rs.Resource.Attr("service.name"))
		place := discovery.Placement{
			Node:    strAttr(rs.Resource.Attr("k8s.node.name")),
			Zone:    strAttr(rs.Resource.Attr("cloud.availability_zone")),
			Cluster: strAttr(rs.Resource.Attr("k8s.cluster.name")),
		}
		for si, ss := range rs.ScopeSpans {
			for k, s := range ss.Spans {
				d := discovery.Span{TraceID: s.TraceID, SpanID: s.SpanID, ParentID: s.ParentSpanID, Service: svc,
					Operation: s.Name, Kind: discovery.Kind(s.Kind), Start: int64(s.StartTimeUnixNano), End: int64(s.EndTimeUnixNano),
					Resend: intAttr(s.Attr("http.request.resend_count")), Placement: place,
					Pos: discovery.Pos{Record: fmt.Sprintf("%sresourceSpans[%d].scopeSpans[%d].spans[%d]", prefix(ri), ri, si, k)}}
				if s.Status.Code == trace.StatusError {
					et := strAttr(s.Attr("error.type"))
					switch {
					case et == "timeout" || s.Status.Message == "deadline exceeded":
						d.Outcome = discovery.Timeout
					case et == "cancelled" || s.Status.Message == "cancelled":
						d.Outcome = discovery.Cancelled
					default:
						d.Outcome = discovery.Error
					}
				}
				if d.Kind == discovery.KindClient || d.Kind == discovery.KindProducer {
					for _, k := range []string{"service.peer.name", "peer.service", "messaging.destination.name"} {
						if p := strAttr(s.Attr(k)); p != "" {
							d.Peer = p
							break
						}
					}
				}
				for _, l := range s.Links {
					d.Links = append(d.Links, discovery.Link{TraceID: l.TraceID, SpanID: l.SpanID})
				}
				out = append(out, d)
			}
		}
	}
	return out
}

func noPrefix(int) string { return "" }

// read runs a reader over data and returns what it gave the sink.
func read(t testing.TB, rd func(context.Context, string, io.Reader, discovery.Sink) error, data []byte, wrap func(io.Reader) io.Reader) *discovery.Collector {
	t.Helper()
	var c discovery.Collector
	var r io.Reader = bytes.NewReader(data)
	if wrap != nil {
		r = wrap(r)
	}
	if err := rd(context.Background(), "t", r, &c); err != nil {
		t.Fatal(err)
	}
	return &c
}

// records keeps only the record of each span's position, and checks the
// file name.
func records(t *testing.T, spans []discovery.Span) []discovery.Span {
	t.Helper()
	out := make([]discovery.Span, len(spans))
	for i, s := range spans {
		if s.Pos.File != "t" {
			t.Fatalf("span %d: file %q, want %q", i, s.Pos.File, "t")
		}
		s.Pos = discovery.Pos{Record: s.Pos.Record}
		if len(s.Links) == 0 {
			s.Links = nil
		}
		out[i] = s
	}
	return out
}

// journeys are the round trip's inputs: every operator, and a
// realistic call tree of 20 services.
func journeys(t testing.TB) map[string]*trace.TracesData {
	return map[string]*trace.TracesData{
		"every operator": generate(t, everyOperator(t), 300),
		"realistic":      generate(t, gen.Realistic(2, 20, 5), 100),
	}
}

// TestRoundTripJSON: every span the generator wrote is read back as the
// mapping says, and each span's position is its object's opening brace.
func TestRoundTripJSON(t *testing.T) {
	for name, td := range journeys(t) {
		data := jsonOf(t, td)
		wantSpans := want(td, noPrefix)
		for _, wrap := range []struct {
			name string
			f    func(io.Reader) io.Reader
		}{{"whole", nil}, {"one byte a read", iotest.OneByteReader}, {"half", iotest.HalfReader}, {"small window", nil}} {
			rd := ReadJSON
			if wrap.name == "small window" {
				rd = readSmall(16)
			}
			c := read(t, rd, data, wrap.f)
			if len(c.Problems) > 0 {
				t.Errorf("%s, %s: problems: %v", name, wrap.name, c.Problems[:min(3, len(c.Problems))])
			}
			if diff := cmp.Diff(wantSpans, records(t, c.Spans)); diff != "" {
				t.Fatalf("%s, %s: spans (-want +got):\n%s", name, wrap.name, diff)
			}
			for i, s := range c.Spans {
				at := fmt.Sprintf(`{"traceId":"%s","spanId":"%s"`, s.TraceID, s.SpanID)
				if s.Pos.Line != 1 || int64(s.Pos.Col) != s.Pos.Offset+1 || !bytes.HasPrefix(data[s.Pos.Offset:], []byte(at)) {
					t.Fatalf("%s, %s: span %d at %d:%d, offset %d: %.60s", name, wrap.name, i, s.Pos.Line, s.Pos.Col, s.Pos.Offset, data[s.Pos.Offset:])
				}
			}
		}
		outcomes := map[discovery.Outcome]int{}
		links, resends := 0, 0
		for _, s := range wantSpans {
			outcomes[s.Outcome]++
			links += len(s.Links)
			if s.Resend > 0 {
				resends++
			}
		}
		t.Logf("%s: %d bytes, %d spans, outcomes %v, %d links, %d resent", name, len(data), len(wantSpans), outcomes, links, resends)
		if name == "every operator" && (len(outcomes) != 4 || links == 0 || resends == 0) {
			t.Errorf("%s: the traces lack some outcome, links or resends: %v, %d, %d", name, outcomes, links, resends)
		}
	}
}

// pdataTraces reads OTLP JSON with pdata.
func pdataTraces(t testing.TB, data []byte) ptrace.Traces {
	t.Helper()
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(data)
	if err != nil {
		t.Fatal(err)
	}
	return td
}

// split makes a Traces of each resourceSpans, as a collector exporting
// batches might.
func split(td ptrace.Traces) []ptrace.Traces {
	var out []ptrace.Traces
	for _, rs := range td.ResourceSpans().All() {
		one := ptrace.NewTraces()
		rs.CopyTo(one.ResourceSpans().AppendEmpty())
		out = append(out, one)
	}
	return out
}

// TestRoundTripNDJSON: the file exporter's JSON, one message a line as
// pdata writes it, reads as the messages' spans, each at its line.
func TestRoundTripNDJSON(t *testing.T) {
	td := generate(t, everyOperator(t), 50)
	var lines [][]byte
	for _, one := range split(pdataTraces(t, jsonOf(t, td))) {
		b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(one)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, b)
	}
	data := append(bytes.Join(lines, []byte("\n")), '\n')
	c := read(t, ReadJSON, data, nil)
	if len(c.Problems) > 0 {
		t.Errorf("problems: %v", c.Problems)
	}
	wantSpans := want(td, noPrefix)
	// Each line's resourceSpans is its message's first.
	for i := range wantSpans {
		r := &wantSpans[i].Pos.Record
		*r = "resourceSpans[0]" + (*r)[strings.Index(*r, "]")+1:]
	}
	if diff := cmp.Diff(wantSpans, records(t, c.Spans)); diff != "" {
		t.Fatalf("spans (-want +got):\n%s", diff)
	}
	k := 0
	for i, rs := range td.ResourceSpans {
		for range rs.ScopeSpans[0].Spans {
			if got := c.Spans[k].Pos.Line; got != i+1 {
				t.Fatalf("span %d: line %d, want %d", k, got, i+1)
			}
			k++
		}
	}
}

// frame writes messages in the file exporter's proto format.
func frame(msgs ...[]byte) []byte {
	var b []byte
	for _, m := range msgs {
		b = binary.BigEndian.AppendUint32(b, uint32(len(m)))
		b = append(b, m...)
	}
	return b
}

func protoOf(t testing.TB, td ptrace.Traces) []byte {
	t.Helper()
	b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRoundTripProto: the same traces through protobuf, as one message
// and in the file exporter's framing, read as the mapping says; each
// span's offset is its field's.
func TestRoundTripProto(t *testing.T) {
	for name, td := range journeys(t) {
		pt := pdataTraces(t, jsonOf(t, td))
		var msgs [][]byte
		for _, one := range split(pt) {
			msgs = append(msgs, protoOf(t, one))
		}
		for _, in := range []struct {
			name   string
			data   []byte
			prefix func(int) string
		}{
			{"one message", protoOf(t, pt), noPrefix},
			{"framed", frame(msgs...), func(rs int) string { return fmt.Sprintf("message[%d].", rs) }},
		} {
			wantSpans := want(td, in.prefix)
			if in.name == "framed" {
				for i := range wantSpans {
					r := &wantSpans[i].Pos.Record
					j := strings.Index(*r, "resourceSpans[")
					*r = (*r)[:j] + "resourceSpans[0]" + (*r)[strings.Index((*r)[j:], "]")+j+1:]
				}
			}
			for _, wrap := range []func(io.Reader) io.Reader{nil, iotest.OneByteReader} {
				c := read(t, ReadProto, in.data, wrap)
				if len(c.Problems) > 0 {
					t.Errorf("%s, %s: problems: %v", name, in.name, c.Problems[:min(3, len(c.Problems))])
				}
				if diff := cmp.Diff(wantSpans, records(t, c.Spans)); diff != "" {
					t.Fatalf("%s, %s: spans (-want +got):\n%s", name, in.name, diff)
				}
				for i, s := range c.Spans {
					if !protoSpanAt(in.data, s.Pos.Offset, s.TraceID) {
						t.Fatalf("%s, %s: span %d at offset %d: % x", name, in.name, i, s.Pos.Offset, in.data[s.Pos.Offset:][:20])
					}
				}
			}
		}
	}
}

// protoSpanAt says whether data holds, at off, a spans field whose span
// has trace id tid (pdata writes a span's fields last first).
func protoSpanAt(data []byte, off int64, tid string) bool {
	f, n := parseField(data[off:])
	if n == 0 || f.num != 2 || f.typ != 2 {
		return false
	}
	for g := range fields(f.data) {
		if g.num == 1 && g.typ == 2 {
			return fmt.Sprintf("%x", g.data) == tid
		}
	}
	return false
}
