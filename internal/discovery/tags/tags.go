// Package tags reads what span tags mean for discovery.Span, for the
// readers whose formats carry OpenTelemetry's attributes as tags (jaeger,
// zipkin): they mean what the OTLP reader (internal/discovery/otlp) takes
// the same attributes to mean, so a service traced through any exporter
// reads the same. Only the error tag is each reader's to read: its value
// means different things in different formats.
package tags

import (
	"bytes"
	"strconv"

	"github.com/emac-dev/emac/internal/discovery"
)

// Attrs accumulates the span tags a reader interprets, in whatever order
// they come, and resolves them at the span's end: the outcome needs the
// kind, and the kind may be the last tag. The exported fields are read
// as they are; Outcome and Peer resolve the others.
type Attrs struct {
	Kind       discovery.Kind
	PeerDomain string              // emac.peer.failure_domain
	Resend     int                 // http.request.resend_count, else http.resend_count
	Place      discovery.Placement // from the placement tags (AddPlace)

	errTag     bool              // an error tag (Error)
	otelErr    bool              // otel.status_code=ERROR
	otelOK     bool              // otel.status_code=OK: not failed, whatever the HTTP status
	refine     discovery.Outcome // Timeout or Cancelled from error.type or a message
	httpStatus int
	httpRank   int // 0: http.response.status_code, 1: http.status_code, 2: none
	grpcStatus int // -1 when absent
	peer       string
	peerRank   int // the rank of peer's key in peerKeys; len(peerKeys) when none
	resendRank int // 0: http.request.resend_count, 1: http.resend_count, 2: none
}

// Reset readies a for the next span's tags.
func (a *Attrs) Reset() {
	*a = Attrs{grpcStatus: -1, peerRank: len(peerKeys), httpRank: 2, resendRank: 2}
}

// peerKeys name the called service, best first: the old and new
// OpenTelemetry names, then addresses, then the kind of database or the
// queue, for callees that report no spans.
var peerKeys = [...]string{
	"peer.service", "service.peer.name", "server.address", "net.peer.name",
	"db.system.name", "db.system", "messaging.destination.name",
}

// Add interprets one tag; the error tag with errorTag, the format's
// reading of it (which calls Error or not). val is the value's text (a
// number's digits, "true"/"false" for a bool). It returns a non-empty
// detail when a tag it interprets has a value it cannot use; the tag is
// then ignored. Empty values say nothing.
func (a *Attrs) Add(in *Intern, key, val []byte, errorTag func(a *Attrs, val []byte)) string {
	switch string(key) {
	case "span.kind":
		a.Kind = ParseKind(val)
	case "error":
		errorTag(a, val)
	case "otel.status_code":
		switch string(val) {
		case "ERROR":
			a.otelErr = true
		case "OK":
			a.otelOK = true
		}
	case "otel.status_description":
		a.refineMessage(val)
	case "error.type":
		// A type, compared whole: error.type=timeout, not every type
		// with "timeout" in its name.
		switch {
		case bytes.EqualFold(val, []byte("timeout")):
			a.refineTo(discovery.Timeout)
		case bytes.EqualFold(val, []byte("cancelled")), bytes.EqualFold(val, []byte("canceled")):
			a.refineTo(discovery.Cancelled)
		}
	case "http.response.status_code", "http.status_code":
		rank := 0
		if string(key) == "http.status_code" {
			rank = 1
		}
		n, ok := atoi(val)
		if !ok {
			return "tag " + string(key) + ": " + strconv.Quote(string(val)) + " is not an integer; ignored"
		}
		if rank <= a.httpRank {
			a.httpStatus, a.httpRank = n, rank
		}
	case "rpc.grpc.status_code":
		n, ok := atoi(val)
		if !ok {
			return "tag " + string(key) + ": " + strconv.Quote(string(val)) + " is not an integer; ignored"
		}
		a.grpcStatus = n
	case "http.request.resend_count", "http.resend_count":
		rank := 0
		if string(key) == "http.resend_count" {
			rank = 1
		}
		n, ok := atoi(val)
		if !ok || n < 0 {
			return "tag " + string(key) + ": " + strconv.Quote(string(val)) + " is not a count; ignored"
		}
		if rank <= a.resendRank {
			a.Resend, a.resendRank = n, rank
		}
	case "emac.peer.failure_domain":
		if len(val) > 0 {
			a.PeerDomain = in.Get(val)
		}
	default:
		for i := 0; i < a.peerRank; i++ {
			if string(key) == peerKeys[i] {
				if len(val) > 0 {
					a.peer, a.peerRank = in.Get(val), i
				}
				return ""
			}
		}
		AddPlace(in, &a.Place, key, val)
	}
	return ""
}

// Error records an error tag: the span failed, and msg (an error's name
// or message, or nothing) may say what kind of failure it was.
func (a *Attrs) Error(msg []byte) {
	a.errTag = true
	a.refineMessage(msg)
}

// AddPlace sets the Placement field a resource attribute (or a span tag)
// names; other keys are ignored.
func AddPlace(in *Intern, p *discovery.Placement, key, val []byte) {
	if len(val) == 0 {
		return
	}
	switch string(key) {
	case "k8s.pod.name":
		p.Pod = in.Get(val)
	case "k8s.node.name":
		p.Node = in.Get(val)
	case "host.name":
		p.Host = in.Get(val)
	case "hostname":
		// Jaeger clients' own name for the host: host.name wins.
		if p.Host == "" {
			p.Host = in.Get(val)
		}
	case "cloud.availability_zone":
		p.Zone = in.Get(val)
	case "cloud.region":
		p.Region = in.Get(val)
	case "k8s.cluster.name":
		p.Cluster = in.Get(val)
	case "emac.failure_domain":
		p.Domain = in.Get(val)
	}
}

// Outcome resolves the tags into how the span ended (discovery.Outcome),
// as the OTLP reader does: an error tag or an OpenTelemetry error status;
// on a server span without an explicit OK status also an HTTP status ≥
// 500 or a gRPC status other than OK. A failure is a timeout when
// error.type is "timeout", an error message says "deadline exceeded" or
// the gRPC status is DEADLINE_EXCEEDED; a cancellation when error.type
// is "cancelled"/"canceled", a message says so or the gRPC status is
// CANCELLED.
func (a *Attrs) Outcome() discovery.Outcome {
	failed := a.errTag || a.otelErr
	if a.Kind == discovery.KindServer && !a.otelOK && (a.httpRank < 2 && a.httpStatus >= 500 || a.grpcStatus > 0) {
		failed = true
	}
	switch {
	case !failed:
		return discovery.OK
	case a.refine == discovery.Timeout || a.grpcStatus == 4: // DEADLINE_EXCEEDED
		return discovery.Timeout
	case a.refine == discovery.Cancelled || a.grpcStatus == 1: // CANCELLED
		return discovery.Cancelled
	}
	return discovery.Error
}

// Peer is the span's peer, unless it is a server's or a consumer's: a
// server's server.address is its own, a consumer's destination the queue
// it reads (as the OTLP reader has it).
func (a *Attrs) Peer() string {
	switch a.Kind {
	case discovery.KindServer, discovery.KindConsumer:
		return ""
	}
	return a.peer
}

// refineMessage reads an error message (otel.status_description, or an
// error tag's text): "deadline exceeded" makes a timeout, "cancelled" or
// "canceled" a cancellation, case aside; so does a message that is just
// "timeout".
func (a *Attrs) refineMessage(msg []byte) {
	switch {
	case bytes.EqualFold(msg, []byte("timeout")), containsFold(msg, "deadline exceeded"):
		a.refineTo(discovery.Timeout)
	case containsFold(msg, "cancelled"), containsFold(msg, "canceled"):
		a.refineTo(discovery.Cancelled)
	}
}

// refineTo records what a tag says the failure was: a timeout wins over
// a cancellation another tag suggests.
func (a *Attrs) refineTo(o discovery.Outcome) {
	if a.refine != discovery.Timeout {
		a.refine = o
	}
}

// containsFold says whether s contains the lowercase ASCII word, case
// aside.
func containsFold(s []byte, word string) bool {
	for i := 0; i+len(word) <= len(s); i++ {
		if bytes.EqualFold(s[i:i+len(word)], []byte(word)) {
			return true
		}
	}
	return false
}

// ParseKind reads span.kind (OpenTracing's and OpenTelemetry's lowercase
// names; Zipkin's uppercase ones).
func ParseKind(v []byte) discovery.Kind {
	switch string(v) {
	case "server", "SERVER":
		return discovery.KindServer
	case "client", "CLIENT":
		return discovery.KindClient
	case "producer", "PRODUCER":
		return discovery.KindProducer
	case "consumer", "CONSUMER":
		return discovery.KindConsumer
	case "internal", "INTERNAL":
		return discovery.KindInternal
	}
	return discovery.KindUnspecified
}

// atoi parses a small decimal integer (a status code, a count), also
// written as a float with a zero fraction ("500.0", as some exporters
// write every number).
func atoi(b []byte) (int, bool) {
	if i := bytes.IndexByte(b, '.'); i >= 0 {
		for _, c := range b[i+1:] {
			if c != '0' {
				return 0, false
			}
		}
		b = b[:i]
	}
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// Intern shares the strings that repeat across spans (services,
// operations, peers, placement): a map lookup with a []byte key does not
// allocate, so a repeated name costs no allocation at all. Bounded, so a
// stream of distinct names does not grow it without end.
type Intern struct {
	m    map[string]string
	last string // Last's
}

const maxIntern = 1 << 14

// Get is b as a string, shared with the earlier ones that spell the same.
func (in *Intern) Get(b []byte) string {
	if s, ok := in.m[string(b)]; ok {
		return s
	}
	s := string(b)
	if in.m == nil {
		in.m = make(map[string]string)
	}
	if len(in.m) < maxIntern {
		in.m[s] = s
	}
	return s
}

// Last shares the previous call's string when b spells the same: the
// spans of a trace usually come together, so their trace ids (too many
// to keep in Get's map) repeat one after another.
func (in *Intern) Last(b []byte) string {
	if string(b) != in.last {
		in.last = string(b)
	}
	return in.last
}
