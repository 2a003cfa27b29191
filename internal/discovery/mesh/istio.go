package mesh

import (
	"fmt"
	"math"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/emac-dev/emac/internal/discovery"
	"github.com/emac-dev/emac/internal/discovery/yamlnode"
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

func (b *builder) virtualService(d *doc, o *yamlnode.Obj, src Source) {
	spec, ok := d.Sub(o, "spec")
	if !ok {
		d.Problem(discovery.MissingField, o.Where(), o.At("spec"), "%s has no spec", src)
		return
	}
	hosts := d.strs(spec, "hosts")
	if len(hosts) == 0 {
		d.Problem(discovery.MissingField, spec.Where(), spec.At("hosts"), "%s has no hosts: it routes nothing", src)
		return
	}
	for _, k := range []string{"tcp", "tls"} {
		if spec.Has(k) {
			d.Problem(discovery.Unsupported, yamlnode.Resolve(spec.Get(k)), spec.At(k), "%s routes of %s are not read", k, src)
		}
	}
	var routes []Route
	for i, n := range d.Seq(spec, "http") {
		if r, ok := b.istioRoute(d, n, yamlnode.Index(spec.At("http"), i), src); ok {
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
	o, ok := d.Mapping(n, path)
	if !ok {
		return Route{}, false
	}
	r := Route{Source: src, Pos: d.Pos(o.N, path)}
	if o.Has("delegate") {
		d.Problem(discovery.Unsupported, yamlnode.Resolve(o.Get("delegate")), o.At("delegate"), "delegated routes are not read")
		return Route{}, false
	}
	r.Name, _ = d.str(o, "name")
	for i, m := range d.Seq(o, "match") {
		if v, ok := d.istioMatch(m, yamlnode.Index(o.At("match"), i)); ok {
			r.Match = append(r.Match, v)
		}
	}
	r.Backends = d.istioDestinations(o, src.Namespace)
	if len(r.Backends) == 0 {
		switch {
		case o.Has("redirect"):
			r.Direct = &Value[string]{V: "redirect", Pos: d.Pos(yamlnode.Resolve(o.Get("redirect")), o.At("redirect"))}
		case o.Has("directResponse"):
			v := "direct response"
			dr, _ := d.Sub(o, "directResponse")
			if st, ok := d.integer(dr, "status", 100, 599); ok {
				v = fmt.Sprintf("direct response %d", st.V)
			}
			r.Direct = &Value[string]{V: v, Pos: d.Pos(dr.N, o.At("directResponse"))}
		default:
			d.Problem(discovery.MissingField, o.Where(), o.At("route"), "route has no destination, redirect or directResponse")
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
func (d *doc) istioDestinations(o *yamlnode.Obj, defaultNS string) []Backend {
	list := yamlnode.Resolve(o.Get("route"))
	var out []Backend
	for i, n := range d.Seq(o, "route") {
		path := yamlnode.Index(o.At("route"), i)
		rd, ok := d.Mapping(n, path)
		if !ok {
			continue
		}
		be, ok := d.istioDestination(rd, "destination", defaultNS)
		if !ok {
			continue
		}
		be.Pos = d.Pos(rd.N, path)
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
	path := o.At("route")
	if len(out) == 1 {
		if out[0].Weight.Default {
			out[0].Weight.V = 100
		} else if out[0].Weight.V != 100 {
			d.Corrupt(list, path, "the weight is %d, not 100: a single destination gets all the traffic", out[0].Weight.V)
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
		d.Corrupt(list, path, "%s", detail)
	}
	for i := range out {
		if sum > 0 {
			out[i].P = float64(out[i].Weight.V) / float64(sum)
		}
	}
	return out
}

// istioDestination reads a Destination {host, subset, port{number}}.
func (d *doc) istioDestination(o *yamlnode.Obj, key, defaultNS string) (Backend, bool) {
	dst, ok := d.Sub(o, key)
	if !ok {
		d.Problem(discovery.MissingField, o.Where(), o.At(key), "no %s", key)
		return Backend{}, false
	}
	host, ok := d.str(dst, "host")
	if !ok {
		d.Problem(discovery.MissingField, dst.Where(), dst.At("host"), "the destination has no host")
		return Backend{}, false
	}
	be := Backend{Pos: d.Pos(dst.N, o.At(key))}
	be.Service, be.Namespace = splitHost(host.V, defaultNS)
	sub, _ := d.str(dst, "subset")
	be.Subset = sub.V
	if port, ok := d.Sub(dst, "port"); ok {
		p, _ := d.integer(port, "number", 0, 65535)
		be.Port = p.V
	}
	return be, true
}

func (d *doc) istioRetry(o *yamlnode.Obj, routePos discovery.Pos) *Retry {
	ro, ok := d.Sub(o, "retries")
	if !ok {
		r := &Retry{Attempts: Value[int]{V: istioDefaultRetries, Pos: routePos, Default: true}, Pos: routePos}
		for _, c := range strings.Split(istioDefaultRetryOn, ",") {
			r.On = append(r.On, Value[string]{V: c, Pos: routePos, Default: true})
		}
		return r
	}
	r := &Retry{Pos: d.Pos(ro.N, o.At("retries"))}
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
func (d *doc) istioPercent(o *yamlnode.Obj, key, old string, def float64, at discovery.Pos) Value[float64] {
	if p, ok := d.Sub(o, key); ok {
		if v, ok := d.float(p, "value", 0, 100); ok {
			return v
		}
		return Value[float64]{V: def, Pos: d.Pos(p.N, o.At(key)), Default: true}
	}
	if old != "" {
		if v, ok := d.integer(o, old, 0, 100); ok {
			return Value[float64]{V: float64(v.V), Pos: v.Pos}
		}
	}
	return Value[float64]{V: def, Pos: at, Default: true}
}

func (d *doc) istioFault(o *yamlnode.Obj) *Fault {
	fo, ok := d.Sub(o, "fault")
	if !ok {
		return nil
	}
	f := &Fault{Pos: d.Pos(fo.N, o.At("fault"))}
	if do, ok := d.Sub(fo, "delay"); ok {
		dl := &Delay{Pos: d.Pos(do.N, fo.At("delay"))}
		if fixed, ok := d.duration(do, "fixedDelay", istioDuration, false); ok {
			dl.Fixed = *fixed
		} else {
			if do.Has("exponentialDelay") {
				d.Problem(discovery.Unsupported, yamlnode.Resolve(do.Get("exponentialDelay")), do.At("exponentialDelay"), "exponential delays are not read")
			} else if !do.Has("fixedDelay") {
				d.Problem(discovery.MissingField, do.Where(), do.At("fixedDelay"), "the delay has no fixedDelay")
			}
			dl = nil
		}
		if dl != nil {
			// Unset, no request is delayed (Istio's reference).
			dl.Percent = d.istioPercent(do, "percentage", "percent", 0, dl.Pos)
			f.Delay = dl
		}
	}
	if ao, ok := d.Sub(fo, "abort"); ok {
		a := &Abort{Pos: d.Pos(ao.N, fo.At("abort"))}
		a.HTTPStatus, _ = d.integer(ao, "httpStatus", 100, 599)
		a.GRPCStatus, _ = d.str(ao, "grpcStatus")
		if a.HTTPStatus.V == 0 && a.GRPCStatus.V == "" {
			if h2, ok := d.str(ao, "http2Error"); ok {
				a.GRPCStatus = Value[string]{V: "http2 " + h2.V, Pos: h2.Pos}
			} else {
				d.Problem(discovery.MissingField, ao.Where(), ao.At("httpStatus"), "the abort has no httpStatus or grpcStatus")
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

func (d *doc) istioMirrors(o *yamlnode.Obj, defaultNS string) []Mirror {
	var out []Mirror
	if o.Has("mirror") {
		if be, ok := d.istioDestination(o, "mirror", defaultNS); ok {
			// Unset, all the traffic is mirrored.
			pct := d.istioPercent(o, "mirrorPercentage", "mirrorPercent", 100, be.Pos)
			be.Weight, be.P = Value[int]{V: 100, Pos: be.Pos, Default: true}, 1
			out = append(out, Mirror{Backend: be, Percent: pct, Pos: be.Pos})
		}
	}
	for i, n := range d.Seq(o, "mirrors") {
		path := yamlnode.Index(o.At("mirrors"), i)
		mo, ok := d.Mapping(n, path)
		if !ok {
			continue
		}
		be, ok := d.istioDestination(mo, "destination", defaultNS)
		if !ok {
			continue
		}
		be.Weight, be.P = Value[int]{V: 100, Pos: be.Pos, Default: true}, 1
		pos := d.Pos(mo.N, path)
		out = append(out, Mirror{Backend: be, Percent: d.istioPercent(mo, "percentage", "", 100, pos), Pos: pos})
	}
	return out
}

// istioMatch describes an HTTPMatchRequest as text: its conditions, all
// of which must hold, in the order written.
func (d *doc) istioMatch(n *yaml.Node, path string) (Value[string], bool) {
	o, ok := d.Mapping(n, path)
	if !ok {
		return Value[string]{}, false
	}
	var parts []string
	for _, k := range o.Order {
		v := yamlnode.Resolve(o.Get(k))
		switch k {
		case "name":
		case "headers", "queryParams", "withoutHeaders":
			m, ok := d.Mapping(v, o.At(k))
			if !ok {
				continue
			}
			label := k
			if k == "withoutHeaders" {
				label = "!headers"
			}
			for _, h := range m.Order {
				parts = append(parts, fmt.Sprintf("%s[%s] %s", label, h, d.stringMatch(m.Get(h), m.At(h))))
			}
		case "uri", "scheme", "method", "authority":
			parts = append(parts, k+" "+d.stringMatch(v, o.At(k)))
		default:
			parts = append(parts, k+" "+flat(v, 2))
		}
	}
	return Value[string]{V: strings.Join(parts, " && "), Pos: d.Pos(o.N, path)}, true
}

// stringMatch describes an Istio StringMatch: exact, prefix or regex; an
// empty one matches presence.
func (d *doc) stringMatch(n *yaml.Node, path string) string {
	m, ok := d.Mapping(n, path)
	if !ok || len(m.Order) == 0 {
		return "present"
	}
	var parts []string
	for _, k := range m.Order {
		parts = append(parts, k+" "+flat(yamlnode.Resolve(m.Get(k)), 1))
	}
	return strings.Join(parts, " ")
}

// flat writes a node as short text for a match description; depth bounds
// the nesting shown.
func flat(n *yaml.Node, depth int) string {
	n = yamlnode.Resolve(n)
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

func (b *builder) destinationRule(d *doc, o *yamlnode.Obj, src Source) {
	spec, ok := d.Sub(o, "spec")
	if !ok {
		d.Problem(discovery.MissingField, o.Where(), o.At("spec"), "%s has no spec", src)
		return
	}
	host, ok := d.str(spec, "host")
	if !ok {
		d.Problem(discovery.MissingField, spec.Where(), spec.At("host"), "%s has no host", src)
		return
	}
	c := contrib{src: src, hosts: []Value[string]{host}, rule: true}
	c.svc, c.ns = splitHost(host.V, src.Namespace)
	if tp := d.trafficPolicy(spec, "trafficPolicy"); tp != nil {
		c.traffic = *tp
	}
	seen := map[string]bool{}
	for i, n := range d.Seq(spec, "subsets") {
		path := yamlnode.Index(spec.At("subsets"), i)
		so, ok := d.Mapping(n, path)
		if !ok {
			continue
		}
		s := Subset{Pos: d.Pos(so.N, path)}
		if s.Name, ok = d.str(so, "name"); !ok {
			d.Problem(discovery.MissingField, so.Where(), so.At("name"), "the subset has no name")
			continue
		}
		if seen[s.Name.V] {
			d.Corrupt(yamlnode.Resolve(so.Get("name")), so.At("name"), "subset %q is defined twice; the later one is used", s.Name.V)
			for j := range c.subsets {
				if c.subsets[j].Name.V == s.Name.V {
					c.subsets = append(c.subsets[:j], c.subsets[j+1:]...)
					break
				}
			}
		}
		seen[s.Name.V] = true
		if lo, ok := d.Sub(so, "labels"); ok {
			s.Labels = map[string]string{}
			for _, k := range lo.Order {
				if v, ok := d.strNode(lo.Get(k), lo.At(k)); ok {
					s.Labels[k] = v.V
				}
			}
		}
		s.Traffic = d.trafficPolicy(so, "trafficPolicy")
		c.subsets = append(c.subsets, s)
	}
	b.add(c)
}

func (d *doc) trafficPolicy(o *yamlnode.Obj, key string) *TrafficPolicy {
	to, ok := d.Sub(o, key)
	if !ok {
		return nil
	}
	tp := &TrafficPolicy{}
	if lb, ok := d.Sub(to, "loadBalancer"); ok {
		if s, ok := d.str(lb, "simple"); ok {
			tp.LoadBalancer = &s
		} else if lb.Has("consistentHash") {
			tp.LoadBalancer = &Value[string]{V: "consistentHash", Pos: d.Pos(yamlnode.Resolve(lb.Get("consistentHash")), lb.At("consistentHash"))}
		}
		tp.Locality = d.locality(lb)
	}
	tp.Outlier = d.outlier(to)
	tp.ConnectionPool = d.connectionPool(to)
	return tp
}

func (d *doc) locality(lb *yamlnode.Obj) *LocalityLB {
	lo, ok := d.Sub(lb, "localityLbSetting")
	if !ok {
		return nil
	}
	l := &LocalityLB{Pos: d.Pos(lo.N, lb.At("localityLbSetting"))}
	if e, ok := d.boolean(lo, "enabled"); ok {
		l.Enabled = &e
	}
	for i, n := range d.Seq(lo, "failover") {
		path := yamlnode.Index(lo.At("failover"), i)
		fo, ok := d.Mapping(n, path)
		if !ok {
			continue
		}
		f := Failover{Pos: d.Pos(fo.N, path)}
		var okF, okT bool
		f.From, okF = d.str(fo, "from")
		f.To, okT = d.str(fo, "to")
		if !okF || !okT {
			d.Problem(discovery.MissingField, fo.Where(), path, "a failover needs from and to")
			continue
		}
		l.Failover = append(l.Failover, f)
	}
	l.FailoverPriority = d.strs(lo, "failoverPriority")
	for i, n := range d.Seq(lo, "distribute") {
		path := yamlnode.Index(lo.At("distribute"), i)
		do, ok := d.Mapping(n, path)
		if !ok {
			continue
		}
		ds := Distribute{Pos: d.Pos(do.N, path)}
		ds.From, _ = d.str(do, "from")
		to, _ := d.Sub(do, "to")
		sum := 0
		for _, k := range orderOf(to) {
			if w, ok := d.integer(to, k, 0, 100); ok {
				ds.To = append(ds.To, LocalityWeight{Locality: k, Weight: w})
				sum += w.V
			}
		}
		if to != nil && sum != 100 {
			d.Corrupt(to.Where(), do.At("to"), "the locality weights sum to %d, not 100", sum)
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
		d.Corrupt(lo.Where(), lb.At("localityLbSetting"), "only one of distribute, failover and failoverPriority may be set")
	}
	return l
}

func orderOf(o *yamlnode.Obj) []string {
	if o == nil {
		return nil
	}
	return o.Order
}

func (d *doc) outlier(to *yamlnode.Obj) *OutlierDetection {
	oo, ok := d.Sub(to, "outlierDetection")
	if !ok {
		return nil
	}
	pos := d.Pos(oo.N, to.At("outlierDetection"))
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

func (d *doc) connectionPool(to *yamlnode.Obj) *ConnectionPool {
	co, ok := d.Sub(to, "connectionPool")
	if !ok {
		return nil
	}
	cp := &ConnectionPool{Pos: d.Pos(co.N, to.At("connectionPool"))}
	opt := func(o *yamlnode.Obj, key string) *Value[int] {
		if v, ok := d.integer(o, key, 0, math.MaxInt32); ok {
			return &v
		}
		return nil
	}
	if tcp, ok := d.Sub(co, "tcp"); ok {
		cp.MaxConnections = opt(tcp, "maxConnections")
		cp.ConnectTimeout, _ = d.duration(tcp, "connectTimeout", istioDuration, false)
	}
	if h, ok := d.Sub(co, "http"); ok {
		cp.HTTP1MaxPendingRequests = opt(h, "http1MaxPendingRequests")
		cp.HTTP2MaxRequests = opt(h, "http2MaxRequests")
		cp.MaxRequestsPerConnection = opt(h, "maxRequestsPerConnection")
		cp.MaxRetries = opt(h, "maxRetries")
	}
	return cp
}
