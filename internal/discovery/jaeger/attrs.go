package jaeger

import (
	"bytes"
	"strconv"

	"github.com/emac-dev/emac/internal/discovery"
)

// attrs accumulates the span tags the reader interprets, in whatever
// order they come, and resolves them at the span's end: the outcome
// needs the kind, and the kind may be the last tag.
type attrs struct {
	kind       discovery.Kind
	errTag     bool              // error=true (or an error message)
	otelErr    bool              // otel.status_code=ERROR
	refine     discovery.Outcome // Timeout or Cancelled from an error message
	httpStatus int               // 0 when absent
	grpcStatus int               // -1 when absent
	peer       string
	peerRank   int // the rank of peer's key in peerKeys; len(peerKeys) when none
	resend     int
	place      discovery.Placement
}

func (a *attrs) reset() {
	*a = attrs{grpcStatus: -1, peerRank: len(peerKeys)}
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
// the tag is then ignored.
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
			a.refineFrom(val)
		}
	case "otel.status_code":
		if string(val) == "ERROR" {
			a.otelErr = true
		}
	case "error.type", "otel.status_description":
		a.refineFrom(val)
	case "http.status_code", "http.response.status_code":
		n, ok := atoi(val)
		if !ok {
			return "tag " + string(key) + ": " + strconv.Quote(string(val)) + " is not an integer; ignored"
		}
		a.httpStatus = n
	case "rpc.grpc.status_code":
		n, ok := atoi(val)
		if !ok {
			return "tag " + string(key) + ": " + strconv.Quote(string(val)) + " is not an integer; ignored"
		}
		a.grpcStatus = n
	case "http.request.resend_count":
		n, ok := atoi(val)
		if !ok || n < 0 {
			return "tag " + string(key) + ": " + strconv.Quote(string(val)) + " is not a count; ignored"
		}
		a.resend = n
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

// fillPlace fills p's unknown fields from q: the resource is the
// authority on where an instance ran, span tags fill what it leaves out.
func fillPlace(p *discovery.Placement, q discovery.Placement) {
	for _, f := range [...]struct {
		dst *string
		src string
	}{
		{&p.Pod, q.Pod}, {&p.Node, q.Node}, {&p.Host, q.Host}, {&p.Zone, q.Zone},
		{&p.Region, q.Region}, {&p.Cluster, q.Cluster}, {&p.Domain, q.Domain},
	} {
		if *f.dst == "" {
			*f.dst = f.src
		}
	}
}

// outcome resolves the tags into how the span ended (discovery.Outcome):
// an error tag or an OpenTelemetry error status; on a server span also
// an HTTP status ≥ 500 or a gRPC status other than OK. A failure is a
// timeout or a cancellation when an error message, error.type or the
// gRPC status (DEADLINE_EXCEEDED, CANCELLED) says so.
func (a *attrs) outcome() discovery.Outcome {
	failed := a.errTag || a.otelErr
	if a.kind == discovery.KindServer && (a.httpStatus >= 500 || a.grpcStatus > 0) {
		failed = true
	}
	switch {
	case !failed:
		return discovery.OK
	case a.refine != discovery.OK:
		return a.refine
	case a.grpcStatus == 4: // DEADLINE_EXCEEDED
		return discovery.Timeout
	case a.grpcStatus == 1: // CANCELLED
		return discovery.Cancelled
	}
	return discovery.Error
}

// peerOf is the span's peer: only a client's or producer's (or a span
// that does not say its kind): a server's or consumer's remote is its
// caller.
func (a *attrs) peerOf() string {
	switch a.kind {
	case discovery.KindClient, discovery.KindProducer, discovery.KindUnspecified:
		return a.peer
	}
	return ""
}

// refineFrom reads an error message: "timeout" or "deadline exceeded"
// make a timeout (java.net.SocketTimeoutException, context deadline
// exceeded, gRPC's DEADLINE_EXCEEDED or DeadlineExceeded), "cancelled"
// or "canceled" a cancellation. A timeout wins over a cancellation seen
// in another tag.
func (a *attrs) refineFrom(msg []byte) {
	switch classify(msg) {
	case discovery.Timeout:
		a.refine = discovery.Timeout
	case discovery.Cancelled:
		if a.refine == discovery.OK {
			a.refine = discovery.Cancelled
		}
	}
}

func classify(msg []byte) discovery.Outcome {
	var buf [256]byte
	if len(msg) > len(buf) {
		msg = msg[:len(buf)]
	}
	low := buf[:len(msg)]
	for i, c := range msg {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		low[i] = c
	}
	switch {
	case bytes.Contains(low, []byte("timeout")), bytes.Contains(low, []byte("timed out")),
		bytes.Contains(low, []byte("deadline exceeded")), bytes.Contains(low, []byte("deadline_exceeded")),
		bytes.Contains(low, []byte("deadlineexceeded")):
		return discovery.Timeout
	case bytes.Contains(low, []byte("cancelled")), bytes.Contains(low, []byte("canceled")):
		return discovery.Cancelled
	}
	return discovery.OK
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
