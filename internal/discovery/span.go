// Package discovery turns evidence — traces, mesh configuration,
// Kubernetes topology — into a DiscoveredModel of a system's journeys
// (SPEC §7): the components and the calls between them, a flow per entry
// operation in the spec's own algebra, failure-domain hypotheses, each
// with its provenance and a confidence on a stated statistical basis; and,
// against an accepted spec, a ModelDelta for review.
//
// The pipeline: a reader per format (internal/discovery/<format>) streams
// spans into a Sink; the assembler (Assembler) groups them into traces in
// a bounded window; each complete trace is folded into running counts
// (Evidence), which never hold a trace; inference reads the counts.
package discovery

import (
	"fmt"
	"unsafe"
)

// Kind is a span's kind, as OpenTelemetry defines it.
type Kind uint8

// The span kinds; Jaeger's and Zipkin's span.kind tags map onto them.
const (
	KindUnspecified Kind = iota
	KindInternal
	KindServer
	KindClient
	KindProducer
	KindConsumer
)

var kindNames = [...]string{"unspecified", "internal", "server", "client", "producer", "consumer"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// Outcome is how a span ended.
type Outcome uint8

// The outcomes: a span is an error when its status says so (OTLP status
// code ERROR, Jaeger/Zipkin tag error=true, an HTTP status ≥ 500 or a gRPC
// status other than OK on the server side); error.type "timeout" or a
// status message "deadline exceeded" make it a timeout, "cancelled" (or
// "canceled") a cancellation — a hedge's loser, a call abandoned when its
// caller gave up.
const (
	OK Outcome = iota
	Error
	Timeout
	Cancelled
)

var outcomeNames = [...]string{"ok", "error", "timeout", "cancelled"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("Outcome(%d)", o)
}

// Failed says whether the outcome is a failure of the call.
func (o Outcome) Failed() bool { return o != OK }

// Span is one span as every reader gives it. A reader fills one Span and
// hands it to its Sink, then reuses it: a Sink copies what it keeps.
type Span struct {
	// TraceID, SpanID and ParentID identify the span, as the format
	// spells them (hex for OTLP, Jaeger, Zipkin and the CSV tables);
	// ParentID is empty for a root.
	TraceID, SpanID, ParentID string
	// FollowsFrom says the parent link is a follows-from (Jaeger's
	// FOLLOWS_FROM reference): the parent does not wait for the span.
	FollowsFrom bool
	// Links are the span's links to other spans (OTLP links, Jaeger's
	// references beyond the parent): a consumer's link to its producer.
	Links []Link
	// Service is the service that reported the span (service.name; the
	// CSV tables' pod name with its ReplicaSet and pod suffixes removed).
	Service string
	// Operation is the span's name.
	Operation string
	Kind      Kind
	// Start and End are in nanoseconds since the Unix epoch.
	Start, End int64
	Outcome    Outcome
	// Peer is the called service as a client or producer span names it
	// (peer.service, service.peer.name, server.address, net.peer.name,
	// db.system(.name), messaging.destination.name), for a callee that
	// reports no spans of its own.
	Peer string
	// PeerDomain is a failure domain a client or producer span declares
	// for its peer (the span attribute emac.peer.failure_domain): how a
	// caller's instrumentation names an external provider's network.
	PeerDomain string
	// Resend is the attempt's resend count (http.request.resend_count,
	// or Envoy's/Linkerd's retry attempt tags): 0 for a first attempt.
	Resend int
	// Placement is where the service instance ran, from the resource
	// (Jaeger process tags, Zipkin's localEndpoint) and span attributes.
	Placement Placement
	// Pos is where the span's record is in the input, for provenance.
	Pos Pos
}

// Link is a link to another span.
type Link struct {
	TraceID, SpanID string
}

// Placement is where a span's service instance ran: what failure-domain
// hypotheses are built from. Empty fields are unknown.
type Placement struct {
	// Pod is k8s.pod.name (the CSV tables' PodName); Node k8s.node.name;
	// Host host.name; Zone cloud.availability_zone; Region cloud.region;
	// Cluster k8s.cluster.name.
	Pod, Node, Host, Zone, Region, Cluster string
	// Domain is a failure domain the instrumentation declares for the
	// service: the resource or span attribute emac.failure_domain.
	Domain string
}

// same says p equals q: at a glance when their strings are the same
// ones, as a reader's kept names are from span to span, else by value.
func (p *Placement) same(q *Placement) bool {
	ident := func(a, b string) bool { return len(a) == len(b) && unsafe.StringData(a) == unsafe.StringData(b) }
	return ident(p.Pod, q.Pod) && ident(p.Node, q.Node) && ident(p.Host, q.Host) && ident(p.Zone, q.Zone) &&
		ident(p.Region, q.Region) && ident(p.Cluster, q.Cluster) && ident(p.Domain, q.Domain) || *p == *q
}

// Pos is a position in an input: the file (or "-" for standard input),
// and the line and column where the format has lines (1-based; 0 when
// unknown), else the byte offset. Record names the record within the
// file where a line says little (a JSON path like
// "resourceSpans[0].scopeSpans[1].spans[7]").
type Pos struct {
	File      string
	Line, Col int
	Offset    int64
	Record    string
}

func (p Pos) String() string {
	s := p.File
	switch {
	case p.Line > 0 && p.Col > 0:
		s += fmt.Sprintf(":%d:%d", p.Line, p.Col)
	case p.Line > 0:
		s += fmt.Sprintf(":%d", p.Line)
	case p.Offset > 0:
		s += fmt.Sprintf(":#%d", p.Offset)
	}
	if p.Record != "" {
		s += " (" + p.Record + ")"
	}
	return s
}

// ProblemKind classifies what was wrong with a record.
type ProblemKind uint8

// The problems counted and reported; none stops discovery.
const (
	// Corrupt: a record that does not decode (bad syntax, a wrong type,
	// an id or a time that does not parse). A syntax error that ends a
	// JSON document ends its file; the spans before it are kept.
	Corrupt ProblemKind = iota
	// MissingField: a span without a trace id, a span id or a service.
	MissingField
	// DuplicateSpan: a span id seen twice in one trace (the later one is
	// dropped; Zipkin's shared server spans are not duplicates).
	DuplicateSpan
	// MissingParent: a parent that never arrived: the span is treated as
	// a root of its own subtree.
	MissingParent
	// Cycle: parent links that loop; the loop is cut.
	Cycle
	// ClockSkew: a child that starts before its parent or ends after it
	// by more than the tolerance; its times are shifted into its parent.
	ClockSkew
	// Incomplete: a trace still open when the window closed on it or the
	// input ended without its root.
	Incomplete
	// Unsupported: a record of a kind the reader does not use (a log, a
	// metric, an unknown format version).
	Unsupported
)

var problemNames = [...]string{"corrupt", "missing-field", "duplicate-span", "missing-parent", "cycle", "clock-skew", "incomplete", "unsupported"}

func (k ProblemKind) String() string {
	if int(k) < len(problemNames) {
		return problemNames[k]
	}
	return fmt.Sprintf("ProblemKind(%d)", k)
}

// Problem is one record discovery could not use as it was.
type Problem struct {
	Kind   ProblemKind
	Pos    Pos
	Detail string
}

func (p Problem) String() string { return fmt.Sprintf("%s: %s: %s", p.Pos, p.Kind, p.Detail) }

// Sink receives what a reader decodes.
type Sink interface {
	// Span takes one span; s is the reader's and is reused after Span
	// returns. An error stops the reader, which returns it.
	Span(s *Span) error
	// Problem reports a record the reader could not use as it was.
	Problem(p Problem)
}

// An IDCopier is a Sink that copies the ids of a span it keeps (TraceID,
// SpanID, ParentID) rather than holding their strings: a reader may hand
// it ids that are bytes of its own buffer, overwritten once Span
// returns, and spare a copy of each. Other Sinks may keep any of a
// span's strings. The Assembler is one.
type IDCopier interface {
	Sink
	// CopiesIDs says the sink copies ids: false for a wrapper of a sink
	// that does not.
	CopiesIDs() bool
}

// CopiesIDs says whether s may be handed ids of a reader's buffer
// (IDCopier).
func CopiesIDs(s Sink) bool {
	c, ok := s.(IDCopier)
	return ok && c.CopiesIDs()
}
