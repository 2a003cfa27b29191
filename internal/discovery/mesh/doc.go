// Package mesh reads traffic policy from service-mesh configuration —
// Istio VirtualService and DestinationRule, Gateway API HTTPRoute, Linkerd
// ServiceProfile — into one Policy per destination service: its routes,
// their weighted backends, timeouts, retries and injected faults, and the
// endpoints' outlier detection and locality failover. Every value keeps
// the file:line:col it was read from (discovery.Pos), so a model delta
// built from it can cite its evidence (SPEC §7).
//
// The documents are decoded from yaml.v3 nodes into this package's own
// structs rather than the meshes' Go clients, which are heavy, and which
// throw positions away. JSON is read as YAML. A value that does not decode
// (a wrong type, a duration that does not parse, weights that do not add
// up) is a discovery.Problem at its position; the object around it is kept
// when it still means something, and nothing panics.
//
// # Formats
//
// Field names and defaults were checked against each project's reference:
//
//   - Istio networking.istio.io v1alpha3, v1beta1 and v1. VirtualService:
//     spec.hosts, spec.gateways, spec.http[] {name, match, route[]
//     {destination {host, subset, port.number}, weight}, redirect,
//     directResponse, timeout, retries {attempts, perTryTimeout, retryOn,
//     backoff}, fault {delay {fixedDelay, percentage.value | percent},
//     abort {httpStatus | grpcStatus, percentage.value | percent}}, mirror,
//     mirrorPercentage, mirrors[]}. DestinationRule: spec.host, subsets[]
//     {name, labels, trafficPolicy}, trafficPolicy {loadBalancer {simple,
//     consistentHash, localityLbSetting {enabled, distribute, failover
//     [{from, to}], failoverPriority}}, connectionPool, outlierDetection
//     {consecutive5xxErrors, consecutiveGatewayErrors, consecutiveErrors
//     (deprecated: gateway errors only), interval, baseEjectionTime,
//     maxEjectionPercent}}. TCP and TLS routes and delegates are reported
//     as not read; port-level settings are ignored.
//   - Gateway API gateway.networking.k8s.io v1 and v1beta1 HTTPRoute:
//     parentRefs, rules[] {name, matches, backendRefs [{name, namespace,
//     port, weight}], filters (RequestMirror, RequestRedirect), timeouts
//     {request, backendRequest}, retry {attempts, backoff, codes}} (retry
//     is experimental from v1.2).
//   - Linkerd linkerd.io v1alpha2 ServiceProfile: metadata.name (the
//     service's FQDN), spec.routes[] {name, condition {method, pathRegex,
//     all, any, not}, isRetryable, timeout, responseClasses}, spec.retryBudget
//     {retryRatio, minRetriesPerSecond, ttl}, spec.dstOverrides.
//
// Durations are parsed in each format's grammar: Istio's and Linkerd's are
// Go's ("1.5s", "300ms", "1h30m"; Istio requires at least 1ms), Gateway
// API's is GEP-2257 (one to four of <1–5 digits><h|m|s|ms>: "10s",
// "1h30m", no fractions).
//
// # Whose policy
//
// A Policy is keyed by the short service name (reviews.prod.svc.cluster.local
// → reviews, namespace prod): an Istio host, a DestinationRule host, an
// HTTPRoute's parent Service (GAMMA), a ServiceProfile's name. Routes bound
// to an ingress gateway (a VirtualService with spec.gateways, an HTTPRoute
// whose parent is a Gateway) make the policy of that gateway instead
// (Policy.Gateway): they describe how requests enter the system, the head
// of a journey's flow.
//
// # Onto the journey algebra (SPEC §3)
//
// A call to service S becomes, inside out:
//
//	timeout{after: Route.Timeout,
//	  do: retry{attempts: 1 + Retry.Attempts, perTryTimeout: Retry.PerTryTimeout, backoff: Retry.Backoff,
//	    do: branch[{weight: Backend.P, call: Backend.Name()}, ...]}}
//
// chosen per request by the first Route whose Match applies:
//
//   - Weights → branch weights. Backend.P is weight/(sum of the route's
//     weights), which is what Envoy does. Istio's reference long said the
//     weights of several destinations should sum to 100, and istiod's
//     validation refused other sums ("total destination weight 120 !=
//     100"), so any other sum is reported; a single destination gets
//     everything (weight 100 by default), an unweighted one among several
//     nothing.
//     Gateway API weights default to 1 and are ratios: no sum is required.
//     A backend "reviews/v1" is the component for the v1 subset.
//   - Retries → retry. Istio's retries.attempts counts retries after the
//     first request: its reference says "the maximum possible number of
//     requests made will be 1 + attempts", and 0 disables retries. Gateway
//     API's retry.attempts is also "the maximum number of times an
//     individual request … should be retried". Both therefore map to the
//     algebra's attempts = 1 + Attempts (Retry.MaxAttempts). A route with
//     no retries block is still retried by Istio, twice on connection
//     failures and 503 (pilot's default policy): that Retry is filled with
//     Default set. The retried conditions (Retry.On, Retry.Codes) matter:
//     Istio's default does not retry a 500, so the retry only covers the
//     failures it names. perTryTimeout → retry's perTryTimeout; Gateway
//     API's timeouts.backendRequest bounds each backend request, which is
//     the same thing (with no retry block: one attempt).
//   - Timeout → timeout{after}, around the retries: Istio's timeout,
//     Gateway API's timeouts.request and Linkerd's timeout all bound the
//     whole request, retries included. Zero is no timeout. Linkerd's
//     default, 10s, is filled with Default set.
//   - Linkerd's retry budget → retry. Linkerd retries an isRetryable
//     route's failures until the timeout, so long as retries stay within
//     retryRatio of the requests (plus minRetriesPerSecond) over the ttl
//     window; there is no count per request. We read the ratio as the mean
//     number of retries a request may have: attempts = 1 + ceil(retryRatio)
//     (1 + 1 for the usual ratios 0.2 or 0.001; RetryBudget.Attempts). That
//     is what a failing request is sure of while failures are rare, and no
//     more than the budget lets the average request have. When failures
//     are common — the correlated outages that decide A- — the budget
//     covers only a share of the failed requests, RetryBudget.Coverage
//     (ratio × rate + minRetriesPerSecond over the failure rate), and a
//     pessimistic bound should discount the retry by it: with emojivoto's
//     ratio 0.001 a retry covers almost nothing in an outage.
//   - Fault injection (Route.Fault) is noted, not folded in: an abort of p%
//     is a branch [{weight: p, a failing leaf}, {weight: 1-p, the route}],
//     a delay adds fixedDelay to p% of the requests (and counts against the
//     timeout). It is a test, usually matched to one header.
//   - Mirrors → async: the copy is not waited for and its failure does not
//     matter, but the edge is in the topology.
//   - Outlier detection and locality failover → fallback across
//     localities. With outlier detection on, Istio ejects failing
//     endpoints and sends their traffic to the nearest healthy locality
//     (same zone, then region, then the failover region or any); without
//     it, localityLbSetting.failover has no effect (Istio's reference).
//     Policy.LocalityFallback says whether it applies: then a call to S is
//     fallback[S in the caller's locality, S in the next, ...], whose
//     branches share S's code but not its zone's failure domain. The
//     failover list orders the regions.
//   - Connection pools bound concurrency (overflow fails fast with 503);
//     they have no operator and are kept for the reviewer.
//
// # Merging
//
// ReadPaths merges files; Read reads one. A document that defines an object
// (kind, namespace, name) again replaces it, as kubectl apply would. The
// HTTPRoutes of one parent add their rules, and so do the VirtualServices
// bound to one gateway, as the meshes merge them; two VirtualServices or
// ServiceProfiles for one service, or two DestinationRules for one host,
// conflict: the later one is used and the conflict reported. A route to a
// subset that the service's DestinationRule does not define is reported
// (Envoy answers such requests with 503).
package mesh
