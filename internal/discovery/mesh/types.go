package mesh

import (
	"math"
	"sort"
	"time"

	"github.com/emac-dev/emac/internal/discovery"
)

// Value is one value read from a file and where it was written. Default
// says the file did not write it and V is the mesh's documented default
// (Pos is then the object that took the default), so a reviewer can tell
// what the configuration says from what the mesh does without being told.
type Value[T any] struct {
	V       T
	Pos     discovery.Pos
	Default bool
}

// Mesh names the configuration dialect a document belongs to: the same
// field means different things in each (a weight is a percentage in
// Istio, a ratio in Gateway API).
type Mesh string

// The dialects read.
const (
	Istio      Mesh = "istio"
	GatewayAPI Mesh = "gateway-api"
	Linkerd    Mesh = "linkerd"
)

// Source is a document that contributed to a Policy: its provenance.
type Source struct {
	Mesh       Mesh
	APIVersion string
	Kind       string
	Namespace  string
	Name       string
	// Pos is the document's first line.
	Pos discovery.Pos
}

// String names the document as a reviewer would: "VirtualService
// bookinfo/reviews".
func (s Source) String() string {
	n := s.Name
	if s.Namespace != "" {
		n = s.Namespace + "/" + n
	}
	return s.Kind + " " + n
}

func (s Source) same(o Source) bool {
	return s.Kind == o.Kind && s.Namespace == o.Namespace && s.Name == o.Name
}

// Config is the traffic policy read from a set of mesh configuration
// files. Throughout, a struct's Pos is where its object starts in the
// input, and a Value's Pos where the value is written.
type Config struct {
	// Policies holds one Policy per destination service (or gateway),
	// sorted by service, then namespace.
	Policies []*Policy
}

// Policy is the policy of the calls addressed to one service, or, when
// Gateway is set, of the requests entering one ingress gateway.
type Policy struct {
	// Service is the short service name: "reviews" for reviews,
	// reviews.prod.svc.cluster.local and reviews.prod.svc; an external
	// host (www.googleapis.com) or a wildcard is kept as written. For a
	// gateway it is the gateway's name.
	Service string
	// Namespace is the service's namespace: from its FQDN, else the
	// namespace of the document that named it, else "" (unknown).
	Namespace string
	// Gateway says Service names an ingress gateway (an Istio Gateway a
	// VirtualService binds to, a Gateway API Gateway an HTTPRoute has as
	// parent): the routes apply to requests entering it, not to calls
	// between services.
	Gateway bool
	// Hosts are the host names the routes were written for, as written
	// (a VirtualService's hosts, a DestinationRule's host, a
	// ServiceProfile's name, an HTTPRoute's parent Service).
	Hosts []Value[string]
	// Routes are the routes in the order the proxy tries them: the first
	// whose match applies takes the request.
	Routes []Route
	// Subsets are a DestinationRule's named subsets of the service's
	// endpoints (the "v1" of a backend "reviews/v1").
	Subsets []Subset
	// TrafficPolicy is the DestinationRule's service-wide policy.
	TrafficPolicy
	// RetryBudget is Linkerd's service-wide retry budget, or nil.
	RetryBudget *RetryBudget
	// Sources are the documents that contributed, in the order read.
	Sources []Source
}

// Route is one route: requests that match it go to its backends.
type Route struct {
	// Name is the route's name (Istio http[].name, Gateway API
	// rules[].name, Linkerd routes[].name); V is "" when unnamed.
	Name Value[string]
	// Match lists the route's alternative conditions, any of which
	// selects it, each a conjunction written as text ("uri prefix
	// /static", "method GET && path ~ /api/list"). Empty matches every
	// request the earlier routes did not take.
	Match []Value[string]
	// Backends are where the matched requests go, with their
	// probabilities. Empty when the route answers itself (Direct).
	Backends []Backend
	// Direct is set when the proxy answers without calling a backend: a
	// redirect, a direct response, or a rule with no backends.
	Direct *Value[string]
	// Timeout bounds the whole request, retries included (Istio timeout,
	// Gateway API timeouts.request, Linkerd timeout); nil when none
	// applies. Zero means explicitly disabled.
	Timeout *Value[time.Duration]
	// Retry is the retry policy, or nil for none.
	Retry *Retry
	// Fault is the fault injection on the route, or nil.
	Fault *Fault
	// Mirrors are the destinations that get a copy of the traffic.
	Mirrors []Mirror
	// ResponseClasses are Linkerd's classification of responses as
	// failures (which decides what is retried and counted).
	ResponseClasses []ResponseClass
	// Source is the document the route came from; Pos the route itself.
	Source Source
	Pos    discovery.Pos
}

// Backend is a weighted destination of a route.
type Backend struct {
	// Service and Namespace name the destination service as Policy does;
	// Subset is an Istio DestinationRule subset, or "".
	Service   string
	Namespace string
	Subset    string
	// Port is the destination port, 0 when not written.
	Port int
	// Weight is the weight as written (or its default: 100 for a single
	// Istio destination, 0 for an unweighted one among several, 1 in
	// Gateway API).
	Weight Value[int]
	// P is the probability that a matched request goes here: Weight over
	// the sum of the route's weights, as the proxies compute it.
	P   float64
	Pos discovery.Pos
}

// Name is "service" or "service/subset": how the journey algebra names
// the component.
func (b Backend) Name() string {
	if b.Subset != "" {
		return b.Service + "/" + b.Subset
	}
	return b.Service
}

// Retry is a route's retry policy.
type Retry struct {
	// Attempts is the number of retries after the first attempt, as
	// Istio (retries.attempts) and Gateway API (retry.attempts) both
	// count it: the proxy makes at most 1+Attempts requests. For a
	// Linkerd retry budget it is derived (Default set), see RetryBudget.
	Attempts Value[int]
	// PerTryTimeout bounds each attempt (Istio retries.perTryTimeout,
	// Gateway API timeouts.backendRequest), or nil.
	PerTryTimeout *Value[time.Duration]
	// Backoff is the minimum wait before a retry, or nil (Istio's
	// default is 25ms, Envoy's base interval).
	Backoff *Value[time.Duration]
	// On are the conditions retried (Istio retryOn, split at commas:
	// "5xx", "connect-failure", "503"); Codes the HTTP statuses retried
	// (Gateway API retry.codes).
	On    []Value[string]
	Codes []Value[int]
	// Budget bounds Linkerd's retries, or nil.
	Budget *RetryBudget
	Pos    discovery.Pos
}

// MaxAttempts is the algebra's retry attempts: the first request and its
// retries.
func (r *Retry) MaxAttempts() int { return 1 + r.Attempts.V }

// RetryBudget is Linkerd's retry budget: over a window of TTL, retries may
// add at most RetryRatio of the original requests, plus
// MinRetriesPerSecond.
type RetryBudget struct {
	RetryRatio          Value[float64]
	MinRetriesPerSecond Value[int]
	TTL                 Value[time.Duration]
	Pos                 discovery.Pos
}

// Attempts is the retries per request the budget is read as in the
// algebra: the mean retries it allows a request, rounded up, and at least
// one (ceil(RetryRatio), 1 for any ratio in (0, 1]); 0 for a zero ratio.
func (b *RetryBudget) Attempts() int {
	r := b.RetryRatio.V
	if r <= 0 {
		return 0
	}
	return int(math.Max(1, math.Ceil(r)))
}

// Coverage is the fraction of failed requests the budget lets be retried
// when a fraction failureRate of requestsPerSecond fail: 1 while the
// budget (RetryRatio of the requests plus MinRetriesPerSecond) covers
// one retry of every failure, less in an outage that fails more requests
// than that. A pessimistic bound multiplies the retry's benefit by it.
func (b *RetryBudget) Coverage(failureRate, requestsPerSecond float64) float64 {
	need := failureRate * requestsPerSecond
	if need <= 0 {
		return 1
	}
	have := b.RetryRatio.V*requestsPerSecond + float64(b.MinRetriesPerSecond.V)
	return math.Min(1, have/need)
}

// Fault is a route's fault injection: a test that makes some requests
// slow or failed on purpose.
type Fault struct {
	Delay *Delay
	Abort *Abort
	Pos   discovery.Pos
}

// Delay delays Percent of the requests by Fixed.
type Delay struct {
	Fixed   Value[time.Duration]
	Percent Value[float64]
	Pos     discovery.Pos
}

// Abort fails Percent of the requests with HTTPStatus (or a gRPC status,
// GRPCStatus, when HTTPStatus is 0).
type Abort struct {
	HTTPStatus Value[int]
	GRPCStatus Value[string]
	Percent    Value[float64]
	Pos        discovery.Pos
}

// Mirror sends a copy of Percent of a route's requests to a backend; the
// copy's response is discarded.
type Mirror struct {
	Backend Backend
	Percent Value[float64]
	Pos     discovery.Pos
}

// ResponseClass is a Linkerd response class: responses matching Condition
// ("status 500-599") are failures when IsFailure.
type ResponseClass struct {
	Condition Value[string]
	IsFailure Value[bool]
	Pos       discovery.Pos
}

// Subset is a named subset of a service's endpoints (Istio).
type Subset struct {
	Name   Value[string]
	Labels map[string]string
	// Traffic is the subset's own policy, overriding the service's, or
	// nil.
	Traffic *TrafficPolicy
	Pos     discovery.Pos
}

// TrafficPolicy is what an Istio DestinationRule sets for the endpoints of
// a service or subset.
type TrafficPolicy struct {
	// LoadBalancer is the simple algorithm (ROUND_ROBIN, RANDOM, ...) or
	// "consistentHash", or nil.
	LoadBalancer   *Value[string]
	Locality       *LocalityLB
	Outlier        *OutlierDetection
	ConnectionPool *ConnectionPool
}

// OutlierDetection ejects endpoints that keep failing, so the requests go
// to the others: Istio's outlierDetection, with its defaults filled.
type OutlierDetection struct {
	// Consecutive5xxErrors ejects after this many 5xx in a row (default
	// 5; 0 disables); ConsecutiveGatewayErrors after 502/503/504 (the
	// deprecated consecutiveErrors means this), nil when not set.
	Consecutive5xxErrors     Value[int]
	ConsecutiveGatewayErrors *Value[int]
	// Interval is the sweep period (default 10s); BaseEjectionTime the
	// first ejection's length (default 30s).
	Interval         Value[time.Duration]
	BaseEjectionTime Value[time.Duration]
	// MaxEjectionPercent caps the share of endpoints ejected (default 10).
	MaxEjectionPercent Value[int]
	Pos                discovery.Pos
}

// LocalityLB is Istio's localityLbSetting.
type LocalityLB struct {
	// Enabled is the explicit switch, or nil (the mesh's default, on).
	Enabled *Value[bool]
	// Failover lists, per origin region, the region to fail over to.
	Failover []Failover
	// FailoverPriority lists the labels that order endpoints for
	// failover (topology.kubernetes.io/zone, ...).
	FailoverPriority []Value[string]
	// Distribute sets weights per locality instead of failing over.
	Distribute []Distribute
	Pos        discovery.Pos
}

// Failover sends traffic from region From to region To when From's
// endpoints are unhealthy.
type Failover struct {
	From, To Value[string]
	Pos      discovery.Pos
}

// Distribute spreads traffic from locality From over localities To.
type Distribute struct {
	From Value[string]
	To   []LocalityWeight
	Pos  discovery.Pos
}

// LocalityWeight is one locality's share (percent) of a Distribute.
type LocalityWeight struct {
	Locality string
	Weight   Value[int]
}

// ConnectionPool is Istio's connectionPool: limits whose overflow the
// proxy fails fast (503) instead of queueing. Nil fields are not set.
type ConnectionPool struct {
	MaxConnections           *Value[int]
	ConnectTimeout           *Value[time.Duration]
	HTTP1MaxPendingRequests  *Value[int]
	HTTP2MaxRequests         *Value[int]
	MaxRequestsPerConnection *Value[int]
	MaxRetries               *Value[int]
	Pos                      discovery.Pos
}

// LocalityFallback says calls to the service fall back to endpoints in
// other localities when the local ones fail: Istio does so (nearest zone,
// then region, then the failover region or anywhere) only when outlier
// detection is on to find the failing endpoints, and locality load
// balancing is not switched off.
func (p *Policy) LocalityFallback() bool {
	if p.Outlier == nil || p.Outlier.Consecutive5xxErrors.V == 0 && (p.Outlier.ConsecutiveGatewayErrors == nil || p.Outlier.ConsecutiveGatewayErrors.V == 0) {
		return false
	}
	return p.Locality == nil || p.Locality.Enabled == nil || p.Locality.Enabled.V
}

// Subset finds a subset by name, or nil.
func (p *Policy) Subset(name string) *Subset {
	for i := range p.Subsets {
		if p.Subsets[i].Name.V == name {
			return &p.Subsets[i]
		}
	}
	return nil
}

// Policy finds the policy of a service by its short name, or nil; when
// the service exists in several namespaces, the first in namespace order.
// Gateways are found by their name too.
func (c *Config) Policy(service string) *Policy {
	i := sort.Search(len(c.Policies), func(i int) bool { return c.Policies[i].Service >= service })
	if i < len(c.Policies) && c.Policies[i].Service == service {
		return c.Policies[i]
	}
	return nil
}

// PolicyIn finds the policy of a service in a namespace, or nil.
func (c *Config) PolicyIn(namespace, service string) *Policy {
	for _, p := range c.Policies {
		if p.Service == service && p.Namespace == namespace {
			return p
		}
	}
	return nil
}
