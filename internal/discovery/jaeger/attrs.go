package jaeger

import (
	"bytes"
	"strconv"

	"github.com/emac-dev/emac/internal/discovery"
)

// attrs accumulates the span tags the reader interprets, in whatever
// order they come, and resolves them at the span's end: the outcome
// needs the kind, and the kind may be the last tag. The tags mean what
// the OTLP reader (internal/discovery/otlp) takes the same attributes to
// mean, so a service traced through either exporter reads the same.
type attrs struct {
	kind       discovery.Kind
	errTag     bool              // error=true (or an error message)
	otelErr    bool              // otel.status_code=ERROR
	otelOK     bool              // otel.status_code=OK: not failed, whatever the HTTP status
	refine     discovery.Outcome // Timeout or Cancelled from error.type or a message
	httpStatus int
	httpRank   int // 0: http.response.status_code, 1: http.status_code, 2: none
	grpcStatus int // -1 when absent
	peer       string
	peerRank   int // the rank of peer's key in peerKeys; len(peerKeys) when none
	peerDomain string
	resend     int
	resendRank int // 0: http.request.resend_count, 1: http.resend_count, 2: none
	place      discovery.Placement
}

func (a *attrs) reset() {
	*a = attrs{grpcStatus: -1, peerRank: len(peerKeys), httpRank: 2, resendRank: 2}
}

// peerKeys name the called service, best first: the old and new
// OpenTelemetry names, then addresses, then the kind of database or the
// queue, for callees that report no spans.
var peerKeys = [...]string{
	"peer.service", "service.peer.name", "server.address", "net.peer.name",
	"db.system.name", "db.system", "messaging.destination.name",
}

// add interprets one tag. val is the value's text (a number's digits,
// "true"/"false" for a bool); str says it was a JSON string. It returns
// a non-empty detail when a tag it interprets has a value it cannot use;
// the tag is then ignored. Empty values say nothing.
func (a *attrs) add(in *intern, key, val []byte, str bool) string {
	switch string(key) {
	case "span.kind":
		a.kind = parseKind(val)
	case "error":
		// A bool, or a string: "true", or an error's name or message
		// (some clients write error="ClientSideError"), which may say
		// what kind of failure it was.
		switch string(val) {
		case "", "false", "0":
		case "true", "1":
			a.errTag = true
		default:
			a.errTag = true
			a.refineMessage(val)
		}
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
			a.resend, a.resendRank = n, rank
		}
	case "emac.peer.failure_domain":
		if len(val) > 0 {
			a.peerDomain = in.get(val)
		}
	default:
		for i := 0; i < a.peerRank; i++ {
			if string(key) == peerKeys[i] {
				if len(val) > 0 {
					a.peer, a.peerRank = in.get(val), i
				}
				return ""
			}
		}
		addPlace(in, &a.place, key, val)
	}
	return ""
}

// addPlace sets the Placement field a resource attribute (or a span tag)
// names; other keys are ignored.
func addPlace(in *intern, p *discovery.Placement, key, val []byte) {
	if len(val) == 0 {
		return
	}
	switch string(key) {
	case "k8s.pod.name":
		p.Pod = in.get(val)
	case "k8s.node.name":
		p.Node = in.get(val)
	case "host.name":
		p.Host = in.get(val)
	case "hostname":
		// Jaeger clients' own name for the host: host.name wins.
		if p.Host == "" {
			p.Host = in.get(val)
		}
	case "cloud.availability_zone":
		p.Zone = in.get(val)
	case "cloud.region":
		p.Region = in.get(val)
	case "k8s.cluster.name":
		p.Cluster = in.get(val)
	case "emac.failure_domain":
		p.Domain = in.get(val)
	}
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

// outcome resolves the tags into how the span ended (discovery.Outcome),
// as the OTLP reader does: an error tag or an OpenTelemetry error status;
// on a server span without an explicit OK status also an HTTP status ≥
// 500 or a gRPC status other than OK. A failure is a timeout when
// error.type is "timeout", an error message says "deadline exceeded" or
// the gRPC status is DEADLINE_EXCEEDED; a cancellation when error.type
// is "cancelled"/"canceled", a message says so or the gRPC status is
// CANCELLED.
func (a *attrs) outcome() discovery.Outcome {
	failed := a.errTag || a.otelErr
	if a.kind == discovery.KindServer && !a.otelOK && (a.httpRank < 2 && a.httpStatus >= 500 || a.grpcStatus > 0) {
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

// peerOf is the span's peer, unless it is a server's or a consumer's: a
// server's server.address is its own, a consumer's destination the queue
// it reads (as the OTLP reader has it).
func (a *attrs) peerOf() string {
	switch a.kind {
	case discovery.KindServer, discovery.KindConsumer:
		return ""
	}
	return a.peer
}

// refineMessage reads an error message (otel.status_description, or an
// error tag's text): "deadline exceeded" makes a timeout, "cancelled" or
// "canceled" a cancellation, case aside; so does a message that is just
// "timeout".
func (a *attrs) refineMessage(msg []byte) {
	switch {
	case bytes.EqualFold(msg, []byte("timeout")), containsFold(msg, "deadline exceeded"):
		a.refineTo(discovery.Timeout)
	case containsFold(msg, "cancelled"), containsFold(msg, "canceled"):
		a.refineTo(discovery.Cancelled)
	}
}

// refineTo records what a tag says the failure was: a timeout wins over
// a cancellation another tag suggests.
func (a *attrs) refineTo(o discovery.Outcome) {
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

// parseKind reads span.kind (OpenTracing's and OpenTelemetry's lowercase
// names; Zipkin's uppercase ones).
func parseKind(v []byte) discovery.Kind {
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

// intern shares the strings that repeat across spans (services,
// operations, peers, placement): a map lookup with a []byte key does not
// allocate, so a repeated name costs no allocation at all. Bounded, so a
// stream of distinct names does not grow it without end.
type intern struct{ m map[string]string }

const maxIntern = 1 << 14

func (in *intern) get(b []byte) string {
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
