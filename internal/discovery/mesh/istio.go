package mesh

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/emac-dev/emac/internal/discovery"
	yaml "go.yaml.in/yaml/v3"
)

// Istio's defaults, from its API reference and pilot's retry.ConvertPolicy:
// a route without a retries block is retried twice on these conditions
// (and on a 503); retries.attempts 0 disables retries.
const (
	istioDefaultRetries = 2
	istioDefaultRetryOn = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes,503"
)

// Outlier detection defaults (Istio's OutlierDetection reference).
const (
	istioDefault5xx            = 5
	istioDefaultInterval       = 10 * time.Second
	istioDefaultBaseEjection   = 30 * time.Second
	istioDefaultMaxEjectionPct = 10
)

func (b *builder) virtualService(d *doc, o *obj, src Source) {
	spec, ok := d.sub(o, "spec")
	if !ok {
		d.problem(discovery.MissingField, o.where(), o.at("spec"), "%s has no spec", src)
		return
	}
	hosts := d.strs(spec, "hosts")
	if len(hosts) == 0 {
		d.problem(discovery.MissingField, spec.where(), spec.at("hosts"), "%s has no hosts: it routes nothing", src)
		return
	}
	for _, k := range []string{"tcp", "tls"} {
		if spec.has(k) {
			d.problem(discovery.Unsupported, resolve(spec.get(k)), spec.at(k), "%s routes of %s are not read", k, src)
		}
	}
	var routes []Route
	for i, n := range d.seq(spec, "http") {
		if r, ok := b.istioRoute(d, n, index(spec.at("http"), i), src); ok {
			routes = append(routes, r)
		}
	}
	gateways := d.strs(spec, "gateways")
	mesh := len(gateways) == 0
	for _, g := range gateways {
		if g.V == "mesh" {
			mesh = true
			continue
		}
		// A gateway is "name", "ns/name" or (old form) its FQDN.
		ns, gw, ok := strings.Cut(g.V, "/")
		if !ok {
			gw, ns = splitHost(g.V, src.Namespace)
		}
		b.add(contrib{src: src, svc: gw, ns: ns, gateway: true, hosts: hosts, routing: true, mergeable: true, routes: routes})
	}
	if mesh {
		for _, h := range hosts {
			svc, ns := splitHost(h.V, src.Namespace)
			b.add(contrib{src: src, svc: svc, ns: ns, hosts: []Value[string]{h}, routing: true, routes: routes})
		}
	}
}

func (b *builder) istioRoute(d *doc, n *yaml.Node, path string, src Source) (Route, bool) {
	o, ok := d.mapping(n, path)
	if !ok {
		return Route{}, false
	}
	r := Route{Source: src, Pos: d.pos(o.n, path)}
	if o.has("delegate") {
		d.problem(discovery.Unsupported, resolve(o.get("delegate")), o.at("delegate"), "delegated routes are not read")
		return Route{}, false
	}
	r.Name, _ = d.str(o, "name")
	for i, m := range d.seq(o, "match") {
		if v, ok := d.istioMatch(m, index(o.at("match"), i)); ok {
			r.Match = append(r.Match, v)
		}
	}
	r.Backends = d.istioDestinations(o, src.Namespace)
	if len(r.Backends) == 0 {
		switch {
		case o.has("redirect"):
			r.Direct = &Value[string]{V: "redirect", Pos: d.pos(resolve(o.get("redirect")), o.at("redirect"))}
		case o.has("directResponse"):
			v := "direct response"
			dr, _ := d.sub(o, "directResponse")
			if st, ok := d.integer(dr, "status", 100, 599); ok {
				v = fmt.Sprintf("direct response %d", st.V)
			}
			r.Direct = &Value[string]{V: v, Pos: d.pos(dr.n, o.at("directResponse"))}
		default:
			d.problem(discovery.MissingField, o.where(), o.at("route"), "route has no destination, redirect or directResponse")
			return Route{}, false
		}
	}
	r.Timeout, _ = d.duration(o, "timeout", istioDuration, true)
	r.Retry = d.istioRetry(o, r.Pos)
	r.Fault = d.istioFault(o)
	r.Mirrors = d.istioMirrors(o, src.Namespace)
	return r, true
}

// istioDestinations reads route[] and turns the weights into
// probabilities. Istio's own reference now says a destination gets
// weight/(sum of weights), an unweighted one among several gets nothing
// and a lone one gets everything; it long said the weights should sum to
// 100 and istiod's validation refused other sums, so a sum other than 100
// is reported, and the probabilities are what the proxy does.
func (d *doc) istioDestinations(o *obj, defaultNS string) []Backend {
	list := resolve(o.get("route"))
	var out []Backend
	for i, n := range d.seq(o, "route") {
		path := index(o.at("route"), i)
		rd, ok := d.mapping(n, path)
		if !ok {
			continue
		}
		be, ok := d.istioDestination(rd, "destination", defaultNS)
		if !ok {
			continue
		}
		be.Pos = d.pos(rd.n, path)
		if w, ok := d.integer(rd, "weight", 0, math.MaxInt32); ok {
			be.Weight = w
		} else {
			be.Weight = Value[int]{V: 0, Pos: be.Pos, Default: true}
		}
		out = append(out, be)
	}
	if len(out) == 0 {
		return nil
	}
	path := o.at("route")
	if len(out) == 1 {
		if out[0].Weight.Default {
			out[0].Weight.V = 100
		} else if out[0].Weight.V != 100 {
			d.corrupt(list, path, "the weight is %d, not 100: a single destination gets all the traffic", out[0].Weight.V)
		}
		out[0].P = 1
		return out
	}
	sum := 0
	for _, be := range out {
		sum += be.Weight.V
	}
	if sum != 100 {
		detail := fmt.Sprintf("the weights sum to %d, not 100", sum)
		if sum == 0 {
			detail += ": the route sends its traffic nowhere"
		} else {
			detail += "; read as weight/sum, as current Istio does"
		}
		d.corrupt(list, path, "%s", detail)
	}
	for i := range out {
		if sum > 0 {
			out[i].P = float64(out[i].Weight.V) / float64(sum)
		}
	}
	return out
}

// istioDestination reads a Destination {host, subset, port{number}}.
func (d *doc) istioDestination(o *obj, key, defaultNS string) (Backend, bool) {
	dst, ok := d.sub(o, key)
	if !ok {
		d.problem(discovery.MissingField, o.where(), o.at(key), "no %s", key)
		return Backend{}, false
	}
	host, ok := d.str(dst, "host")
	if !ok {
		d.problem(discovery.MissingField, dst.where(), dst.at("host"), "the destination has no host")
		return Backend{}, false
	}
	be := Backend{Pos: d.pos(dst.n, o.at(key))}
	be.Service, be.Namespace = splitHost(host.V, defaultNS)
	sub, _ := d.str(dst, "subset")
	be.Subset = sub.V
	if port, ok := d.sub(dst, "port"); ok {
		p, _ := d.integer(port, "number", 0, 65535)
		be.Port = p.V
	}
	return be, true
}

func (d *doc) istioRetry(o *obj, routePos discovery.Pos) *Retry {
	ro, ok := d.sub(o, "retries")
	if !ok {
		r := &Retry{Attempts: Value[int]{V: istioDefaultRetries, Pos: routePos, Default: true}, Pos: routePos}
		for _, c := range strings.Split(istioDefaultRetryOn, ",") {
			r.On = append(r.On, Value[string]{V: c, Pos: routePos, Default: true})
		}
		return r
	}
	r := &Retry{Pos: d.pos(ro.n, o.at("retries"))}
	var okA bool
	if r.Attempts, okA = d.integer(ro, "attempts", 0, math.MaxInt32); !okA {
		r.Attempts = Value[int]{Pos: r.Pos, Default: true}
	}
	r.PerTryTimeout, _ = d.duration(ro, "perTryTimeout", istioDuration, false)
	r.Backoff, _ = d.duration(ro, "backoff", istioDuration, false)
	if on, ok := d.str(ro, "retryOn"); ok {
		for _, c := range strings.Split(on.V, ",") {
			if c = strings.TrimSpace(c); c != "" {
				r.On = append(r.On, Value[string]{V: c, Pos: on.Pos})
			}
		}
	} else {
		for _, c := range strings.Split(istioDefaultRetryOn, ",") {
			r.On = append(r.On, Value[string]{V: c, Pos: r.Pos, Default: true})
		}
	}
	if r.Attempts.V == 0 {
		// Istio ignores the rest of a policy with no attempts (read
		// above only to report bad values): the route is not retried.
		return &Retry{Attempts: r.Attempts, Pos: r.Pos}
	}
	return r
}

// istioPercent reads a Percent {value} (a double) or, failing that, the
// deprecated integer field old, defaulting to def when neither is set.
func (d *doc) istioPercent(o *obj, key, old string, def float64, at discovery.Pos) Value[float64] {
	if p, ok := d.sub(o, key); ok {
		if v, ok := d.float(p, "value", 0, 100); ok {
			return v
		}
		return Value[float64]{V: def, Pos: d.pos(p.n, o.at(key)), Default: true}
	}
	if old != "" {
		if v, ok := d.integer(o, old, 0, 100); ok {
			return Value[float64]{V: float64(v.V), Pos: v.Pos}
		}
	}
	return Value[float64]{V: def, Pos: at, Default: true}
}

func (d *doc) istioFault(o *obj) *Fault {
	fo, ok := d.sub(o, "fault")
	if !ok {
		return nil
	}
	f := &Fault{Pos: d.pos(fo.n, o.at("fault"))}
	if do, ok := d.sub(fo, "delay"); ok {
		dl := &Delay{Pos: d.pos(do.n, fo.at("delay"))}
		if fixed, ok := d.duration(do, "fixedDelay", istioDuration, false); ok {
			dl.Fixed = *fixed
		} else {
			if do.has("exponentialDelay") {
				d.problem(discovery.Unsupported, resolve(do.get("exponentialDelay")), do.at("exponentialDelay"), "exponential delays are not read")
			} else if !do.has("fixedDelay") {
				d.problem(discovery.MissingField, do.where(), do.at("fixedDelay"), "the delay has no fixedDelay")
			}
			dl = nil
		}
		if dl != nil {
			// Unset, no request is delayed (Istio's reference).
			dl.Percent = d.istioPercent(do, "percentage", "percent", 0, dl.Pos)
			f.Delay = dl
		}
	}
	if ao, ok := d.sub(fo, "abort"); ok {
		a := &Abort{Pos: d.pos(ao.n, fo.at("abort"))}
		a.HTTPStatus, _ = d.integer(ao, "httpStatus", 100, 599)
		a.GRPCStatus, _ = d.str(ao, "grpcStatus")
		if a.HTTPStatus.V == 0 && a.GRPCStatus.V == "" {
			if h2, ok := d.str(ao, "http2Error"); ok {
				a.GRPCStatus = Value[string]{V: "http2 " + h2.V, Pos: h2.Pos}
			} else {
				d.problem(discovery.MissingField, ao.where(), ao.at("httpStatus"), "the abort has no httpStatus or grpcStatus")
				a = nil
			}
		}
		if a != nil {
			// Unset, no request is aborted (Istio's reference).
			a.Percent = d.istioPercent(ao, "percentage", "percent", 0, a.Pos)
			f.Abort = a
		}
	}
	if f.Delay == nil && f.Abort == nil {
		return nil
	}
	return f
}

func (d *doc) istioMirrors(o *obj, defaultNS string) []Mirror {
	var out []Mirror
	if o.has("mirror") {
		if be, ok := d.istioDestination(o, "mirror", defaultNS); ok {
			// Unset, all the traffic is mirrored.
			pct := d.istioPercent(o, "mirrorPercentage", "mirrorPercent", 100, be.Pos)
			be.Weight, be.P = Value[int]{V: 100, Pos: be.Pos, Default: true}, 1
			out = append(out, Mirror{Backend: be, Percent: pct, Pos: be.Pos})
		}
	}
	for i, n := range d.seq(o, "mirrors") {
		path := index(o.at("mirrors"), i)
		mo, ok := d.mapping(n, path)
		if !ok {
			continue
		}
		be, ok := d.istioDestination(mo, "destination", defaultNS)
		if !ok {
			continue
		}
		be.Weight, be.P = Value[int]{V: 100, Pos: be.Pos, Default: true}, 1
		pos := d.pos(mo.n, path)
		out = append(out, Mirror{Backend: be, Percent: d.istioPercent(mo, "percentage", "", 100, pos), Pos: pos})
	}
	return out
}

// istioMatch describes an HTTPMatchRequest as text: its conditions, all
// of which must hold, in the order written.
func (d *doc) istioMatch(n *yaml.Node, path string) (Value[string], bool) {
	o, ok := d.mapping(n, path)
	if !ok {
		return Value[string]{}, false
	}
	var parts []string
	for _, k := range o.order {
		v := resolve(o.get(k))
		switch k {
		case "name":
		case "headers", "queryParams", "withoutHeaders":
			m, ok := d.mapping(v, o.at(k))
			if !ok {
				continue
			}
			label := k
			if k == "withoutHeaders" {
				label = "!headers"
			}
			for _, h := range m.order {
				parts = append(parts, fmt.Sprintf("%s[%s] %s", label, h, d.stringMatch(m.get(h), m.at(h))))
			}
		case "uri", "scheme", "method", "authority":
			parts = append(parts, k+" "+d.stringMatch(v, o.at(k)))
		default:
			parts = append(parts, k+" "+flat(v, 2))
		}
	}
	return Value[string]{V: strings.Join(parts, " && "), Pos: d.pos(o.n, path)}, true
}

// stringMatch describes an Istio StringMatch: exact, prefix or regex; an
// empty one matches presence.
func (d *doc) stringMatch(n *yaml.Node, path string) string {
	m, ok := d.mapping(n, path)
	if !ok || len(m.order) == 0 {
		return "present"
	}
	var parts []string
	for _, k := range m.order {
		parts = append(parts, k+" "+flat(resolve(m.get(k)), 1))
	}
	return strings.Join(parts, " ")
}

// flat writes a node as short text for a match description; depth bounds
// the nesting shown.
func flat(n *yaml.Node, depth int) string {
	n = resolve(n)
	switch {
	case n == nil:
		return ""
	case n.Kind == yaml.ScalarNode:
		return n.Value
	case depth <= 0:
		return "…"
	case n.Kind == yaml.SequenceNode:
		var s []string
		for _, c := range n.Content {
			s = append(s, flat(c, depth-1))
		}
		return "[" + strings.Join(s, " ") + "]"
	case n.Kind == yaml.MappingNode:
		var s []string
		for i := 0; i+1 < len(n.Content); i += 2 {
			s = append(s, flat(n.Content[i], 0)+"="+flat(n.Content[i+1], depth-1))
		}
		return "{" + strings.Join(s, " ") + "}"
	}
	return ""
}

func (b *builder) destinationRule(d *doc, o *obj, src Source) {
	spec, ok := d.sub(o, "spec")
	if !ok {
		d.problem(discovery.MissingField, o.where(), o.at("spec"), "%s has no spec", src)
		return
	}
	host, ok := d.str(spec, "host")
	if !ok {
		d.problem(discovery.MissingField, spec.where(), spec.at("host"), "%s has no host", src)
		return
	}
	c := contrib{src: src, hosts: []Value[string]{host}, rule: true}
	c.svc, c.ns = splitHost(host.V, src.Namespace)
	if tp := d.trafficPolicy(spec, "trafficPolicy"); tp != nil {
		c.traffic = *tp
	}
	seen := map[string]bool{}
	for i, n := range d.seq(spec, "subsets") {
		path := index(spec.at("subsets"), i)
		so, ok := d.mapping(n, path)
		if !ok {
			continue
		}
		s := Subset{Pos: d.pos(so.n, path)}
		if s.Name, ok = d.str(so, "name"); !ok {
			d.problem(discovery.MissingField, so.where(), so.at("name"), "the subset has no name")
			continue
		}
		if seen[s.Name.V] {
			d.corrupt(resolve(so.get("name")), so.at("name"), "subset %q is defined twice; the later one is used", s.Name.V)
			for j := range c.subsets {
				if c.subsets[j].Name.V == s.Name.V {
					c.subsets = append(c.subsets[:j], c.subsets[j+1:]...)
					break
				}
			}
		}
		seen[s.Name.V] = true
		if lo, ok := d.sub(so, "labels"); ok {
			s.Labels = map[string]string{}
			for _, k := range lo.order {
				if v, ok := d.strNode(lo.get(k), lo.at(k)); ok {
					s.Labels[k] = v.V
				}
			}
		}
		s.Traffic = d.trafficPolicy(so, "trafficPolicy")
		c.subsets = append(c.subsets, s)
	}
	b.add(c)
}

func (d *doc) trafficPolicy(o *obj, key string) *TrafficPolicy {
	to, ok := d.sub(o, key)
	if !ok {
		return nil
	}
	tp := &TrafficPolicy{}
	if lb, ok := d.sub(to, "loadBalancer"); ok {
		if s, ok := d.str(lb, "simple"); ok {
			tp.LoadBalancer = &s
		} else if lb.has("consistentHash") {
			tp.LoadBalancer = &Value[string]{V: "consistentHash", Pos: d.pos(resolve(lb.get("consistentHash")), lb.at("consistentHash"))}
		}
		tp.Locality = d.locality(lb)
	}
	tp.Outlier = d.outlier(to)
	tp.ConnectionPool = d.connectionPool(to)
	return tp
}

func (d *doc) locality(lb *obj) *LocalityLB {
	lo, ok := d.sub(lb, "localityLbSetting")
	if !ok {
		return nil
	}
	l := &LocalityLB{Pos: d.pos(lo.n, lb.at("localityLbSetting"))}
	if e, ok := d.boolean(lo, "enabled"); ok {
		l.Enabled = &e
	}
	for i, n := range d.seq(lo, "failover") {
		path := index(lo.at("failover"), i)
		fo, ok := d.mapping(n, path)
		if !ok {
			continue
		}
		f := Failover{Pos: d.pos(fo.n, path)}
		var okF, okT bool
		f.From, okF = d.str(fo, "from")
		f.To, okT = d.str(fo, "to")
		if !okF || !okT {
			d.problem(discovery.MissingField, fo.where(), path, "a failover needs from and to")
			continue
		}
		l.Failover = append(l.Failover, f)
	}
	l.FailoverPriority = d.strs(lo, "failoverPriority")
	for i, n := range d.seq(lo, "distribute") {
		path := index(lo.at("distribute"), i)
		do, ok := d.mapping(n, path)
		if !ok {
			continue
		}
		ds := Distribute{Pos: d.pos(do.n, path)}
		ds.From, _ = d.str(do, "from")
		to, _ := d.sub(do, "to")
		sum := 0
		for _, k := range orderOf(to) {
			if w, ok := d.integer(to, k, 0, 100); ok {
				ds.To = append(ds.To, LocalityWeight{Locality: k, Weight: w})
				sum += w.V
			}
		}
		if to != nil && sum != 100 {
			d.corrupt(to.where(), do.at("to"), "the locality weights sum to %d, not 100", sum)
		}
		l.Distribute = append(l.Distribute, ds)
	}
	n := 0
	for _, set := range []bool{len(l.Failover) > 0, len(l.FailoverPriority) > 0, len(l.Distribute) > 0} {
		if set {
			n++
		}
	}
	if n > 1 {
		d.corrupt(lo.where(), lb.at("localityLbSetting"), "only one of distribute, failover and failoverPriority may be set")
	}
	return l
}

func orderOf(o *obj) []string {
	if o == nil {
		return nil
	}
	return o.order
}

func (d *doc) outlier(to *obj) *OutlierDetection {
	oo, ok := d.sub(to, "outlierDetection")
	if !ok {
		return nil
	}
	pos := d.pos(oo.n, to.at("outlierDetection"))
	od := &OutlierDetection{Pos: pos}
	def := func(v int) Value[int] { return Value[int]{V: v, Pos: pos, Default: true} }
	deprecated := false
	if v, ok := d.integer(oo, "consecutiveGatewayErrors", 0, math.MaxUint32); ok {
		od.ConsecutiveGatewayErrors = &v
	} else if v, ok := d.integer(oo, "consecutiveErrors", 0, math.MaxInt32); ok {
		// The deprecated field counts 502, 503 and 504 only, and turns
		// the 5xx count off unless that is set too (pilot's translation).
		od.ConsecutiveGatewayErrors = &v
		od.Consecutive5xxErrors = def(0)
		deprecated = true
	}
	if v, ok := d.integer(oo, "consecutive5xxErrors", 0, math.MaxUint32); ok {
		od.Consecutive5xxErrors = v
	} else if !deprecated {
		od.Consecutive5xxErrors = def(istioDefault5xx)
	}
	if v, ok := d.duration(oo, "interval", istioDuration, false); ok {
		od.Interval = *v
	} else {
		od.Interval = Value[time.Duration]{V: istioDefaultInterval, Pos: pos, Default: true}
	}
	if v, ok := d.duration(oo, "baseEjectionTime", istioDuration, false); ok {
		od.BaseEjectionTime = *v
	} else {
		od.BaseEjectionTime = Value[time.Duration]{V: istioDefaultBaseEjection, Pos: pos, Default: true}
	}
	if v, ok := d.integer(oo, "maxEjectionPercent", 0, 100); ok {
		od.MaxEjectionPercent = v
	} else {
		od.MaxEjectionPercent = def(istioDefaultMaxEjectionPct)
	}
	return od
}

func (d *doc) connectionPool(to *obj) *ConnectionPool {
	co, ok := d.sub(to, "connectionPool")
	if !ok {
		return nil
	}
	cp := &ConnectionPool{Pos: d.pos(co.n, to.at("connectionPool"))}
	opt := func(o *obj, key string) *Value[int] {
		if v, ok := d.integer(o, key, 0, math.MaxInt32); ok {
			return &v
		}
		return nil
	}
	if tcp, ok := d.sub(co, "tcp"); ok {
		cp.MaxConnections = opt(tcp, "maxConnections")
		cp.ConnectTimeout, _ = d.duration(tcp, "connectTimeout", istioDuration, false)
	}
	if h, ok := d.sub(co, "http"); ok {
		cp.HTTP1MaxPendingRequests = opt(h, "http1MaxPendingRequests")
		cp.HTTP2MaxRequests = opt(h, "http2MaxRequests")
		cp.MaxRequestsPerConnection = opt(h, "maxRequestsPerConnection")
		cp.MaxRetries = opt(h, "maxRetries")
	}
	return cp
}
