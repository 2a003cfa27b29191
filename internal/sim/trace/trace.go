// Package trace writes synthetic OpenTelemetry traces of a journey's
// simulated executions: the executions internal/sim records, shaped as
// instrumented services would report them, in OTLP JSON. The same journey,
// scenario and seed give the same bytes. They are ground truth for
// discovery: simulate, emit traces, discover, compare with the model.
//
// Each execution is a trace. The journey's entry service (named after the
// journey) has its root SERVER span, which spans the execution and fails
// when it fails. Every call is a CLIENT span in the caller, child of the
// root, and a SERVER span in the called component's service, child of the
// client span, both over the call's time. So a seq's calls follow one
// another, all's and quorum's overlap, a race's hedges start hedgeAfter
// apart and the losers still running when one wins end with it, cancelled;
// a fallback's next call starts after an error; a retry repeats its calls
// with http.request.resend_count; a deadline ends what runs at it with an
// error. An async operand runs in a trace of its own: a PRODUCER span in
// the caller, and a CONSUMER span linked to it (in the called service for
// a single call, else in the caller's with the operand's calls under it).
//
// A component's service is its span.service (else its name) and its
// spans are named by its span.operation (else its name). Its resource
// carries k8s.node.name and cloud.availability_zone from its failure
// domains: a domain keyed or named as a zone gives the zone, one keyed or
// named as a node or host gives the node, one named as a cluster gives
// k8s.cluster.name. Without one, a service runs on a node of its own
// ("<service>-node") in a zone of that node's own ("<node>-zone"), so
// only the declared domains are shared.
package trace

import (
	"context"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/emac-dev/emac/internal/model"
	"github.com/emac-dev/emac/internal/sim"
)

// DefaultCount is the number of executions traced when Options.Count is 0.
const DefaultCount = 100

// ScopeName is the instrumentation scope of every span.
const ScopeName = "github.com/emac-dev/emac/internal/sim/trace"

// Options configure Generate; the zero value is the default.
type Options struct {
	// Scenario is the correlation scenario the executions run under.
	Scenario sim.Scenario
	// Count is the number of executions traced; 0 means DefaultCount.
	Count int
	// Seed seeds the executions (as sim's) and the trace and span ids.
	Seed uint64
	// Start is when the first execution starts; the zero time means
	// 2026-01-01T00:00:00Z.
	Start time.Time
	// Interval separates the executions' starts; 0 means one second.
	Interval time.Duration
}

// Generate runs the journey's first opts.Count executions for the seed
// under the scenario (sim.Program.Record: the simulation's own
// executions) and returns their traces.
func Generate(ctx context.Context, j *model.Journey, opts Options) (*TracesData, error) {
	n := opts.Count
	switch {
	case n == 0:
		n = DefaultCount
	case n < 0:
		return nil, fmt.Errorf("trace: %d executions requested, need at least one", n)
	}
	start, every := opts.Start, opts.Interval
	if start.IsZero() {
		start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if every == 0 {
		every = time.Second
	}
	if start.Before(time.Unix(0, 0)) || every < 0 {
		return nil, fmt.Errorf("trace: start %v and interval %v must not be negative", start, every)
	}
	p, err := sim.Compile(j, opts.Scenario)
	if err != nil {
		return nil, err
	}
	b := newBuilder(j, opts.Seed)
	base, step := uint64(start.UnixNano()), uint64(every)
	err = p.Record(ctx, n, opts.Seed, func(e sim.Execution) error {
		return b.execution(e, base+uint64(e.Index)*step)
	})
	if err != nil {
		return nil, err
	}
	return b.traces(), nil
}

// builder turns recorded executions into spans, grouped by resource.
type builder struct {
	j    *model.Journey
	seed uint64
	// res are the resources in order: the entry first, then the
	// components' in the order of their names; comp maps a component to
	// its resource.
	res   []ResourceSpans
	comp  map[string]int
	dests map[*model.Node]string
	// ids draws the current execution's trace and span ids.
	ids *rand.Rand
}

// entry is the index of the journey's entry resource.
const entry = 0

func newBuilder(j *model.Journey, seed uint64) *builder {
	b := &builder{j: j, seed: seed, comp: map[string]int{}, dests: map[*model.Node]string{}}
	index := map[string]int{}
	add := func(attrs []KeyValue) int {
		key := fmt.Sprint(attrs)
		i, ok := index[key]
		if !ok {
			i = len(b.res)
			index[key] = i
			b.res = append(b.res, ResourceSpans{Resource: Resource{Attributes: attrs}})
		}
		return i
	}
	node := j.Name + "-node"
	add([]KeyValue{str("service.name", j.Name), str("k8s.node.name", node), str("cloud.availability_zone", node+"-zone")})
	for _, name := range j.ComponentNames() {
		b.comp[name] = add(placement(j, j.Components[name]))
	}
	k := 0
	j.Flow.Walk(func(n *model.Node) {
		if n.Op != model.Async {
			return
		}
		k++
		if c := n.Children[0]; c.Op == model.Call {
			b.dests[n] = service(j.Components[c.Component])
		} else {
			b.dests[n] = fmt.Sprintf("%s.async-%d", j.Name, k)
		}
	})
	return b
}

// service is the service a component's calls go to.
func service(c *model.Component) string {
	if c.Service != "" {
		return c.Service
	}
	return c.Name
}

// operation names a component's spans.
func operation(c *model.Component) string {
	if c.Operation != "" {
		return c.Operation
	}
	return c.Name
}

// placement is a component's resource: its service and where its failure
// domains put it.
func placement(j *model.Journey, c *model.Component) []KeyValue {
	svc := service(c)
	var node, zone, cluster string
	for _, d := range c.Domains { // sorted: the first of a kind wins
		dom := j.Domains[d]
		if dom == nil {
			continue
		}
		switch kindOf(dom) {
		case "node":
			node = firstOf(node, d)
		case "zone":
			zone = firstOf(zone, d)
		case "cluster":
			cluster = firstOf(cluster, d)
		}
	}
	if node == "" {
		node = svc + "-node"
	}
	if zone == "" {
		zone = node + "-zone"
	}
	attrs := []KeyValue{str("service.name", svc), str("k8s.node.name", node), str("cloud.availability_zone", zone)}
	if cluster != "" {
		attrs = append(attrs, str("k8s.cluster.name", cluster))
	}
	return attrs
}

// firstOf keeps the first non-empty of a and b.
func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// kindOf classifies a failure domain as a "zone", "node", "cluster" or
// "" (anything else: a database, a payment network), by its key (the
// Kubernetes label that discovers it) or else by the words of its name.
func kindOf(d *model.Domain) string {
	switch d.Key {
	case "topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone":
		return "zone"
	case "kubernetes.io/hostname":
		return "node"
	}
	words := strings.FieldsFunc(strings.ToLower(d.Name), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	switch {
	case slices.Contains(words, "zone") || slices.Contains(words, "az"):
		return "zone"
	case slices.Contains(words, "node") || slices.Contains(words, "host") || slices.Contains(words, "hostname"):
		return "node"
	case slices.Contains(words, "cluster"):
		return "cluster"
	}
	return ""
}

// at is where spans go: the trace, the parent span, the calling resource,
// the execution's start in Unix nanoseconds and the attempt's resend
// count.
type at struct {
	trace, parent string
	caller        int
	base          uint64
	resend        int
}

// execution adds the spans of one execution starting at base.
func (b *builder) execution(e sim.Execution, base uint64) error {
	b.ids = rand.New(rand.NewPCG(b.seed^0x5851f42d4c957f2d, uint64(e.Index)))
	r := e.Root
	root, err := b.span(at{trace: b.traceID(), caller: entry, base: base}, KindServer, b.j.Name, r)
	if err != nil {
		return err
	}
	switch {
	case r.OK:
		root.Attributes = append(root.Attributes, num("http.response.status_code", 200))
	case r.Cut == sim.Deadline:
		root.Attributes = append(root.Attributes, num("http.response.status_code", 504), str("error.type", "timeout"))
		root.Status = Status{Code: StatusError, Message: "deadline exceeded"}
	default:
		root.Attributes = append(root.Attributes, num("http.response.status_code", 500), str("error.type", "500"))
		root.Status = Status{Code: StatusError}
	}
	b.add(entry, root)
	return b.under(r, at{trace: root.TraceID, parent: root.SpanID, caller: entry, base: base})
}

// under adds the spans of s's operands.
func (b *builder) under(s *sim.Step, a at) error {
	for _, c := range s.Steps {
		var err error
		switch {
		case c.Node.Op == model.Call:
			err = b.call(c, a)
		case c.Node.Op == model.Async:
			err = b.async(c, a)
		case c.Attempt > 0:
			in := a
			in.resend = c.Attempt - 1
			err = b.under(c, in)
		default:
			err = b.under(c, a)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// call adds a call's CLIENT span in the caller and SERVER span in the
// called service.
func (b *builder) call(s *sim.Step, a at) error {
	c := b.j.Components[s.Node.Component]
	op := operation(c)
	client, err := b.span(a, KindClient, op, s)
	if err != nil {
		return err
	}
	server := client
	server.Kind, server.ParentSpanID, server.SpanID = KindServer, client.SpanID, b.spanID()
	method, route := httpRoute(op)
	peer := service(c)
	client.Attributes = []KeyValue{str("service.peer.name", peer), str("peer.service", peer)}
	if method != "" {
		client.Attributes = append(client.Attributes, str("http.request.method", method))
		server.Attributes = append(server.Attributes, str("http.request.method", method), str("http.route", route))
	}
	if a.resend > 0 {
		client.Attributes = append(client.Attributes, num("http.request.resend_count", int64(a.resend)))
	}
	outcome := outcome(s)
	client.Attributes = append(client.Attributes, outcome...)
	server.Attributes = append(server.Attributes, outcome...)
	client.Status, server.Status = status(s), status(s)
	b.add(a.caller, client)
	b.add(b.comp[c.Name], server)
	return nil
}

// outcome is the attributes saying how a call ended.
func outcome(s *sim.Step) []KeyValue {
	switch {
	case s.OK:
		return []KeyValue{num("http.response.status_code", 200)}
	case s.Cut == sim.Deadline:
		return []KeyValue{str("error.type", "timeout")}
	case s.Cut == sim.Cancelled:
		return []KeyValue{str("error.type", "cancelled")}
	}
	return []KeyValue{num("http.response.status_code", 503), str("error.type", "503")}
}

// status is a call's span status: Unset when it succeeded, as HTTP
// instrumentations leave it.
func status(s *sim.Step) Status {
	switch {
	case s.OK:
		return Status{}
	case s.Cut == sim.Deadline:
		return Status{Code: StatusError, Message: "deadline exceeded"}
	case s.Cut == sim.Cancelled:
		return Status{Code: StatusError, Message: "cancelled"}
	}
	return Status{Code: StatusError}
}

// httpRoute splits an operation such as "POST /checkout" into its method and
// route ("" when it is not one).
func httpRoute(op string) (method, route string) {
	m, r, ok := strings.Cut(op, " ")
	switch m {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE":
		if ok && strings.HasPrefix(r, "/") {
			return m, r
		}
	}
	return "", ""
}

// async adds an Async's PRODUCER span in the caller and, in a trace of its
// own, the CONSUMER span linked to it with the operand's spans.
func (b *builder) async(s *sim.Step, a at) error {
	dest := b.dests[s.Node]
	prod, err := b.span(a, KindProducer, "send "+dest, s)
	if err != nil {
		return err
	}
	prod.Attributes = []KeyValue{str("messaging.operation.type", "send"), str("messaging.destination.name", dest)}
	b.add(a.caller, prod)
	if len(s.Steps) == 0 {
		return nil
	}
	op := s.Steps[0]
	in := at{trace: b.traceID(), caller: a.caller, base: a.base}
	where := a.caller
	if op.Node.Op == model.Call {
		where = b.comp[op.Node.Component]
	}
	cons, err := b.span(in, KindConsumer, "process "+dest, op)
	if err != nil {
		return err
	}
	cons.Links = []Link{{TraceID: prod.TraceID, SpanID: prod.SpanID}}
	cons.Attributes = []KeyValue{str("messaging.operation.type", "process"), str("messaging.destination.name", dest)}
	if !op.OK {
		cons.Attributes = append(cons.Attributes, str("error.type", "_OTHER"))
		cons.Status = status(op)
	}
	b.add(where, cons)
	if op.Node.Op == model.Call {
		return nil
	}
	in.parent = cons.SpanID
	return b.under(op, in)
}

// span is a span of kind k over s's time, with fresh id.
func (b *builder) span(a at, k SpanKind, name string, s *sim.Step) (Span, error) {
	start, err := nanos(s.Start)
	if err != nil {
		return Span{}, err
	}
	end, err := nanos(s.End)
	if err != nil {
		return Span{}, err
	}
	return Span{TraceID: a.trace, SpanID: b.spanID(), ParentSpanID: a.parent, Name: name, Kind: k,
		StartTimeUnixNano: a.base + start, EndTimeUnixNano: a.base + end}, nil
}

// nanos converts seconds from an execution's start to nanoseconds.
func nanos(s float64) (uint64, error) {
	if !(s >= 0 && s < math.MaxInt64/1e9) {
		return 0, fmt.Errorf("trace: a step at %v s cannot be timed", s)
	}
	return uint64(math.Round(s * 1e9)), nil
}

func (b *builder) add(res int, s Span) {
	rs := &b.res[res]
	if len(rs.ScopeSpans) == 0 {
		rs.ScopeSpans = []ScopeSpans{{Scope: Scope{Name: ScopeName}}}
	}
	rs.ScopeSpans[0].Spans = append(rs.ScopeSpans[0].Spans, s)
}

// traceID and spanID draw ids, never all zero (OTLP's "no id").
func (b *builder) traceID() string {
	var id [16]byte
	for id == [16]byte{} {
		putUint64(id[:8], b.ids.Uint64())
		putUint64(id[8:], b.ids.Uint64())
	}
	return hex.EncodeToString(id[:])
}

func (b *builder) spanID() string {
	var id [8]byte
	for id == [8]byte{} {
		putUint64(id[:], b.ids.Uint64())
	}
	return hex.EncodeToString(id[:])
}

func putUint64(b []byte, v uint64) {
	for i := range 8 {
		b[i] = byte(v >> (56 - 8*i))
	}
}

// traces returns the resources that have spans.
func (b *builder) traces() *TracesData {
	t := &TracesData{}
	for _, rs := range b.res {
		if len(rs.ScopeSpans) > 0 {
			t.ResourceSpans = append(t.ResourceSpans, rs)
		}
	}
	return t
}
