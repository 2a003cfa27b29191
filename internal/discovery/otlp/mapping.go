package otlp

import (
	"fmt"
	"strconv"

	"github.com/emac-dev/emac/internal/discovery"
)

// text is a string value as a reader has it: bytes of the JSON reader's
// window (valid while the span is being read) or a string pdata decoded.
// Keeping either as it is, and copying only what a span keeps into the
// span's one string, is what keeps the readers at one allocation a span.
type text struct {
	b []byte
	s string
}

func (t text) len() int { return len(t.b) + len(t.s) }

func (t text) appendTo(dst []byte) []byte {
	if t.b != nil {
		return append(dst, t.b...)
	}
	return append(dst, t.s...)
}

// at is the i'th byte.
func (t text) at(i int) byte {
	if t.b != nil {
		return t.b[i]
	}
	return t.s[i]
}

// equalFold says whether t is s in any ASCII case (s lower case).
func (t text) equalFold(s string) bool {
	if t.len() != len(s) {
		return false
	}
	return t.indexFold(s) == 0
}

// containsFold says whether t holds s in any ASCII case (s lower case).
func (t text) containsFold(s string) bool { return t.indexFold(s) >= 0 }

func (t text) indexFold(s string) int {
	n := t.len()
outer:
	for i := 0; i+len(s) <= n; i++ {
		for j := 0; j < len(s); j++ {
			c := t.at(i + j)
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != s[j] {
				continue outer
			}
		}
		return i
	}
	return -1
}

// The attributes the readers use. Peers are ranked: the first of
// peerKeys a span has names its peer, whatever the attributes' order.
const (
	aNone      = 0
	aService   = 1
	aPeer      = 2 // aPeer+rank, rank < len(peerKeys)
	aResend    = aPeer + len(peerKeys)
	aResendOld = aResend + 1
	aHTTP      = aResend + 2
	aHTTPOld   = aResend + 3
	aGRPC      = aResend + 4
	aErrorType = aResend + 5
	aPlace     = aResend + 6 // aPlace+i, i < nPlace
	// aPeerDomain is emac.peer.failure_domain: the failure domain a
	// client span declares for its peer (Span.PeerDomain)
	aPeerDomain = aPlace + nPlace
)

// peerKeys name the called service, newest semantic conventions first
// (SPEC §9: read the old names too).
var peerKeys = [...]string{"service.peer.name", "peer.service", "server.address", "net.peer.name",
	"db.system.name", "db.system", "messaging.destination.name"}

// The placement fields, in the order of placeKeys.
const (
	pPod = iota
	pNode
	pHost
	pZone
	pRegion
	pCluster
	pDomain
	nPlace
)

var placeKeys = [nPlace]string{"k8s.pod.name", "k8s.node.name", "host.name", "cloud.availability_zone",
	"cloud.region", "k8s.cluster.name", "emac.failure_domain"}

// attrID classifies an attribute key; a switch on string(key) does not
// allocate, and most keys are none of these.
func attrID[T ~string | ~[]byte](key T) int {
	switch string(key) {
	case "service.name":
		return aService
	case "service.peer.name":
		return aPeer
	case "peer.service":
		return aPeer + 1
	case "server.address":
		return aPeer + 2
	case "net.peer.name":
		return aPeer + 3
	case "db.system.name":
		return aPeer + 4
	case "db.system":
		return aPeer + 5
	case "messaging.destination.name":
		return aPeer + 6
	case "http.request.resend_count":
		return aResend
	case "http.resend_count":
		return aResendOld
	case "http.response.status_code":
		return aHTTP
	case "http.status_code":
		return aHTTPOld
	case "rpc.grpc.status_code":
		return aGRPC
	case "error.type":
		return aErrorType
	case "k8s.pod.name":
		return aPlace + pPod
	case "k8s.node.name":
		return aPlace + pNode
	case "host.name":
		return aPlace + pHost
	case "cloud.availability_zone":
		return aPlace + pZone
	case "cloud.region":
		return aPlace + pRegion
	case "k8s.cluster.name":
		return aPlace + pCluster
	case "emac.failure_domain":
		return aPlace + pDomain
	case "emac.peer.failure_domain":
		return aPeerDomain
	}
	return aNone
}

// wantsInt says whether the attribute's value is an integer.
func wantsInt(id int) bool {
	return id == aResend || id == aResendOld || id == aHTTP || id == aHTTPOld || id == aGRPC
}

// attrs is what the readers keep of one attribute list, a resource's or
// a span's: only the values the mapping uses.
type attrs struct {
	service  text
	peer     text
	peerRank int // len(peerKeys): none
	// resendRank and httpRank: 0 for the current name, 1 for the old
	// one, 2 for none, so the current name wins whatever the order.
	resend, http, grpc   int64
	resendRank, httpRank int
	hasGRPC              bool
	errType              text
	place                [nPlace]text
	peerDomain           text
}

func (a *attrs) reset() {
	*a = attrs{peerRank: len(peerKeys), resendRank: 2, httpRank: 2}
}

// setString records a string attribute; empty strings say nothing.
func (a *attrs) setString(id int, v text) {
	if v.len() == 0 {
		return
	}
	switch {
	case id == aService:
		a.service = v
	case id >= aPeer && id < aPeer+len(peerKeys):
		if r := id - aPeer; r < a.peerRank {
			a.peer, a.peerRank = v, r
		}
	case id == aErrorType:
		a.errType = v
	case id >= aPlace && id < aPlace+nPlace:
		a.place[id-aPlace] = v
	case id == aPeerDomain:
		a.peerDomain = v
	}
}

// setInt records an integer attribute; it returns a complaint when the
// value cannot be one.
func (a *attrs) setInt(id int, v int64) string {
	switch id {
	case aResend, aResendOld:
		if v < 0 {
			return "is negative"
		}
		if r := id - aResend; r <= a.resendRank {
			a.resend, a.resendRank = v, r
		}
	case aHTTP, aHTTPOld:
		if r := id - aHTTP; r <= a.httpRank {
			a.http, a.httpRank = v, r
		}
	case aGRPC:
		a.grpc, a.hasGRPC = v, true
	}
	return ""
}

// keyName is an attribute's key for a problem's detail.
func keyName(id int) string {
	switch {
	case id == aService:
		return "service.name"
	case id >= aPeer && id < aPeer+len(peerKeys):
		return peerKeys[id-aPeer]
	case id == aResend:
		return "http.request.resend_count"
	case id == aResendOld:
		return "http.resend_count"
	case id == aHTTP:
		return "http.response.status_code"
	case id == aHTTPOld:
		return "http.status_code"
	case id == aGRPC:
		return "rpc.grpc.status_code"
	case id == aErrorType:
		return "error.type"
	case id >= aPlace && id < aPlace+nPlace:
		return placeKeys[id-aPlace]
	case id == aPeerDomain:
		return "emac.peer.failure_domain"
	}
	return "?"
}

// resource is what a span takes from its resource.
type resource struct {
	service string
	place   discovery.Placement
}

// setResource keeps the resource's service and placement, as strings of
// their own: they outlive the bytes they were read from, and every span
// of the resource shares them.
func (r *resource) set(a *attrs) {
	var b []byte
	b = a.service.appendTo(b)
	for i := range a.place {
		b = a.place[i].appendTo(b)
	}
	s := string(b)
	cut := func(t text) string {
		v := s[:t.len()]
		s = s[t.len():]
		return v
	}
	r.service = cut(a.service)
	p := &r.place
	for i, f := range []*string{&p.Pod, &p.Node, &p.Host, &p.Zone, &p.Region, &p.Cluster, &p.Domain} {
		*f = cut(a.place[i])
	}
}

// OTLP's status codes.
const (
	statusUnset = 0
	statusOK    = 1
	statusError = 2
)

// gRPC status codes that say how a call ended.
const (
	grpcCancelled        = 1
	grpcDeadlineExceeded = 4
)

// outcome is how the span ended. A status set by the instrumentation
// decides; an unset one on a server span falls back to the HTTP or gRPC
// status (the semantic conventions leave a 5xx server span's status to
// the instrumentation, and some leave it unset). A failure is then a
// timeout or a cancellation when error.type, the status message or the
// gRPC code says so.
func outcome(kind discovery.Kind, code int, msg text, a *attrs) discovery.Outcome {
	failed := code == statusError
	if code == statusUnset && kind == discovery.KindServer {
		failed = a.httpRank < 2 && a.http >= 500 || a.hasGRPC && a.grpc != 0
	}
	if !failed {
		return discovery.OK
	}
	switch {
	case a.errType.equalFold("timeout") || msg.containsFold("deadline exceeded") || a.hasGRPC && a.grpc == grpcDeadlineExceeded:
		return discovery.Timeout
	case a.errType.equalFold("cancelled") || a.errType.equalFold("canceled") ||
		msg.containsFold("cancelled") || msg.containsFold("canceled") || a.hasGRPC && a.grpc == grpcCancelled:
		return discovery.Cancelled
	}
	return discovery.Error
}

// hasPeer says whether a span of this kind calls out: a server's
// server.address is its own, a consumer's destination the queue it
// reads.
func hasPeer(k discovery.Kind) bool { return k != discovery.KindServer && k != discovery.KindConsumer }

// link is a span link's ids as hex, lower case.
type link struct {
	trace [32]byte
	span  [16]byte
}

// spanState is one span as a reader decoded it, before it becomes a
// discovery.Span: fixed arrays and borrowed text, no allocation.
type spanState struct {
	tid      [32]byte
	sid, pid [16]byte
	hasTID   bool
	hasSID   bool
	hasPID   bool
	// badTID and badSID: a problem with the id was reported already.
	badTID, badSID bool
	name           text
	kind           int64
	start          int64
	end            int64
	code           int64
	message        text
	attrs          attrs
	links          []link
	dropped        bool // a problem makes the span unusable
	problems       []pending
}

// pending is a problem found while reading a span, reported when the
// span is done: the JSON reader may read a span twice (when it ends
// past the bytes at hand), and must not report it twice.
type pending struct {
	kind   discovery.ProblemKind
	off    int64
	detail string
}

func (s *spanState) reset() {
	links, problems := s.links[:0], s.problems[:0]
	*s = spanState{links: links, problems: problems}
	s.attrs.reset()
}

// fail notes a problem that makes the span unusable.
func (s *spanState) fail(kind discovery.ProblemKind, off int64, format string, args ...any) {
	s.dropped = true
	s.problems = append(s.problems, pending{kind, off, fmt.Sprintf(format, args...)})
}

// warn notes a problem with a value the span can do without.
func (s *spanState) warn(off int64, format string, args ...any) {
	s.problems = append(s.problems, pending{discovery.Corrupt, off, fmt.Sprintf(format, args...)})
}

// emitter turns spanStates into discovery.Spans for a sink. It owns the
// one Span every span is written into (the sink copies what it keeps).
type emitter struct {
	name string
	sink discovery.Sink
	span discovery.Span
	buf  []byte
}

// check is the span's missing-field problems: a span needs its ids and
// a service.
func (e *emitter) check(s *spanState, res *resource, off int64) {
	if !s.hasTID && !s.badTID {
		s.fail(discovery.MissingField, off, "span has no trace id")
	}
	if !s.hasSID && !s.badSID {
		s.fail(discovery.MissingField, off, "span has no span id")
	}
	if res.service == "" {
		s.fail(discovery.MissingField, off, "span's resource has no service.name")
	}
}

// emit sends the span to the sink unless a problem dropped it. Its
// strings — ids, name, peer, the span's own placement, link ids and the
// record — are cut from one string, one allocation a span.
func (e *emitter) emit(s *spanState, res *resource, pos discovery.Pos, rec *record) error {
	if s.dropped {
		return nil
	}
	b := e.buf[:0]
	b = append(b, s.tid[:]...)
	b = append(b, s.sid[:]...)
	if s.hasPID {
		b = append(b, s.pid[:]...)
	}
	kind := discovery.Kind(s.kind)
	b = s.name.appendTo(b)
	peer := hasPeer(kind) && s.attrs.peerRank < len(peerKeys)
	if peer {
		b = s.attrs.peer.appendTo(b)
	}
	for i := range s.attrs.place {
		b = s.attrs.place[i].appendTo(b)
	}
	b = s.attrs.peerDomain.appendTo(b)
	for i := range s.links {
		b = append(b, s.links[i].trace[:]...)
		b = append(b, s.links[i].span[:]...)
	}
	mark := len(b)
	b = rec.append(b)
	e.buf = b
	str := string(b)
	cut := func(n int) string {
		v := str[:n]
		str = str[n:]
		return v
	}

	sp := &e.span
	sp.TraceID = cut(32)
	sp.SpanID = cut(16)
	sp.ParentID = ""
	if s.hasPID {
		sp.ParentID = cut(16)
	}
	sp.FollowsFrom = false
	sp.Service = res.service
	sp.Operation = cut(s.name.len())
	sp.Kind = kind
	sp.Start, sp.End = s.start, s.end
	sp.Outcome = outcome(kind, int(s.code), s.message, &s.attrs)
	sp.Peer = ""
	if peer {
		sp.Peer = cut(s.attrs.peer.len())
	}
	sp.Resend = 0
	if s.attrs.resendRank < 2 {
		sp.Resend = int(min(s.attrs.resend, maxInt))
	}
	sp.Placement = res.place
	p := &sp.Placement
	for i, f := range []*string{&p.Pod, &p.Node, &p.Host, &p.Zone, &p.Region, &p.Cluster, &p.Domain} {
		if n := s.attrs.place[i].len(); n > 0 {
			*f = cut(n)
		}
	}
	sp.PeerDomain = cut(s.attrs.peerDomain.len())
	sp.Links = sp.Links[:0]
	for range s.links {
		sp.Links = append(sp.Links, discovery.Link{TraceID: cut(32), SpanID: cut(16)})
	}
	pos.File = e.name
	pos.Record = str[:len(b)-mark]
	sp.Pos = pos
	return e.sink.Span(sp)
}

const maxInt = int64(^uint(0) >> 1)

// problem reports a problem at pos.
func (e *emitter) problem(kind discovery.ProblemKind, pos discovery.Pos, format string, args ...any) {
	pos.File = e.name
	e.sink.Problem(discovery.Problem{Kind: kind, Pos: pos, Detail: fmt.Sprintf(format, args...)})
}

// hexID reads a hex id of len(dst) digits into dst, in lower case. It
// says whether the id is well formed and whether it is all zeros (OTLP's
// "no id").
func hexID(dst []byte, src text) (ok, zero bool) {
	if src.len() != len(dst) {
		return false, false
	}
	var or, nonzero byte
	if src.b != nil {
		for i, c := range src.b[:len(dst)] {
			l := hexLower[c]
			or |= l
			nonzero |= l ^ '0'
			dst[i] = l
		}
	} else {
		for i := range dst {
			l := hexLower[src.s[i]]
			or |= l
			nonzero |= l ^ '0'
			dst[i] = l
		}
	}
	// A byte that is no hex digit maps to 0xff, which or keeps.
	if or == 0xff {
		return false, false
	}
	return true, nonzero == 0
}

// hexLower maps a hex digit to itself in lower case, anything else to
// 0xff.
var hexLower = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c)
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c], t[c-'a'+'A'] = byte(c), byte(c)
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// hexBytes writes id in hex, lower case, into dst (2·len(id) bytes).
func hexBytes(dst []byte, id []byte) {
	for i, c := range id {
		dst[2*i] = hexDigits[c>>4]
		dst[2*i+1] = hexDigits[c&15]
	}
}

// kindNames and statusNames are the enums' names, which the JSON
// encoding may use instead of their numbers.
var kindNames = [...]string{"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER",
	"SPAN_KIND_CLIENT", "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER"}

var statusNames = [...]string{"STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"}

// record names a span within its input, like
// "resourceSpans[0].scopeSpans[1].spans[7]": where a line number says
// little (one line of JSON, or protobuf).
type record struct {
	// prefix names the message within the input ("message[3]." in the
	// file exporter's framing), scope the key the scope spans were under
	// (scopeSpans, or the old instrumentationLibrarySpans).
	prefix string
	rs     int
	scope  string
	ss, sp int
	// depth is 0 for the resourceSpans, 1 for the scope spans, 2 for
	// the span, -1 for the document (container alone).
	depth int
	// container, when not empty, names a member within.
	container string
}

func (r *record) append(b []byte) []byte {
	if r.depth < 0 {
		return append(b, r.container...)
	}
	b = append(b, r.prefix...)
	b = append(b, "resourceSpans["...)
	b = strconv.AppendInt(b, int64(r.rs), 10)
	b = append(b, ']')
	if r.depth >= 1 {
		b = append(b, '.')
		b = append(b, r.scope...)
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(r.ss), 10)
		b = append(b, ']')
	}
	if r.depth >= 2 {
		b = append(b, ".spans["...)
		b = strconv.AppendInt(b, int64(r.sp), 10)
		b = append(b, ']')
	}
	if r.container != "" {
		b = append(b, '.')
		b = append(b, r.container...)
	}
	return b
}

func (r *record) String() string { return string(r.append(nil)) }
