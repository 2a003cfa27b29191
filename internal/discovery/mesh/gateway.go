package mesh

import (
	"fmt"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/emac-dev/emac/internal/discovery"
	"github.com/emac-dev/emac/internal/discovery/yamlnode"
)

// Gateway API's largest backendRef weight (the CRD's maximum).
const gatewayMaxWeight = 1000000

// httpRoute reads a Gateway API HTTPRoute. Its parents say whose policy
// it is: a Service parent (GAMMA, the mesh use) makes the rules the
// policy of calls to that service; a Gateway parent (the default kind)
// the policy of requests entering that gateway.
func (b *builder) httpRoute(d *doc, o *yamlnode.Obj, src Source) {
	spec, ok := d.Sub(o, "spec")
	if !ok {
		d.Problem(discovery.MissingField, o.Where(), o.At("spec"), "%s has no spec", src)
		return
	}
	type parent struct {
		svc, ns string
		gateway bool
		host    Value[string]
	}
	var parents []parent
	for i, n := range d.Seq(spec, "parentRefs") {
		path := yamlnode.Index(spec.At("parentRefs"), i)
		po, ok := d.Mapping(n, path)
		if !ok {
			continue
		}
		nm, ok := d.str(po, "name")
		if !ok {
			d.Problem(discovery.MissingField, po.Where(), po.At("name"), "the parentRef has no name")
			continue
		}
		group, hasGroup := d.str(po, "group")
		kind, _ := d.str(po, "kind")
		ns, _ := d.str(po, "namespace")
		p := parent{svc: nm.V, ns: ns.V, host: nm}
		if p.ns == "" {
			p.ns = src.Namespace
		}
		switch {
		case kind.V == "Service" && hasGroup && (group.V == "" || group.V == "core"):
		case kind.V == "" || kind.V == "Gateway":
			p.gateway = true
		default:
			d.Problem(discovery.Unsupported, po.N, path, "a parent of kind %s is not read", kind.V)
			continue
		}
		parents = append(parents, p)
	}
	if len(parents) == 0 {
		d.Problem(discovery.MissingField, spec.Where(), spec.At("parentRefs"), "%s has no parentRefs: it attaches to nothing", src)
		return
	}
	var routes []Route
	for i, n := range d.Seq(spec, "rules") {
		if r, ok := d.gatewayRule(n, yamlnode.Index(spec.At("rules"), i), src); ok {
			routes = append(routes, r)
		}
	}
	for _, p := range parents {
		b.add(contrib{src: src, svc: p.svc, ns: p.ns, gateway: p.gateway, hosts: []Value[string]{p.host},
			routing: true, mergeable: true, routes: routes})
	}
}

func (d *doc) gatewayRule(n *yaml.Node, path string, src Source) (Route, bool) {
	o, ok := d.Mapping(n, path)
	if !ok {
		return Route{}, false
	}
	r := Route{Source: src, Pos: d.Pos(o.N, path)}
	r.Name, _ = d.str(o, "name")
	for i, m := range d.Seq(o, "matches") {
		if v, ok := d.gatewayMatch(m, yamlnode.Index(o.At("matches"), i)); ok {
			r.Match = append(r.Match, v)
		}
	}
	r.Backends = d.gatewayBackends(o, src.Namespace)
	redirect := false
	for i, f := range d.Seq(o, "filters") {
		fpath := yamlnode.Index(o.At("filters"), i)
		fo, ok := d.Mapping(f, fpath)
		if !ok {
			continue
		}
		typ, _ := d.str(fo, "type")
		switch typ.V {
		case "RequestRedirect":
			redirect = true
		case "RequestMirror":
			if m, ok := d.gatewayMirror(fo, src.Namespace); ok {
				r.Mirrors = append(r.Mirrors, m)
			}
		}
	}
	if len(r.Backends) == 0 {
		v := "no backendRefs: the gateway answers with an error status"
		if redirect {
			v = "redirect"
		}
		r.Direct = &Value[string]{V: v, Pos: r.Pos}
	}
	if to, ok := d.Sub(o, "timeouts"); ok {
		// "0s" disables a timeout (GEP-1742).
		r.Timeout, _ = d.duration(to, "request", gatewayDuration, true)
		if be, ok := d.duration(to, "backendRequest", gatewayDuration, true); ok {
			r.Retry = &Retry{Attempts: Value[int]{Pos: r.Pos, Default: true}, Pos: r.Pos}
			r.Retry.PerTryTimeout = be
			if r.Timeout != nil && r.Timeout.V > 0 && be.V > r.Timeout.V {
				d.Corrupt(yamlnode.Resolve(to.Get("backendRequest")), to.At("backendRequest"),
					"backendRequest %s is longer than request %s (the API requires backendRequest <= request)", be.V, r.Timeout.V)
			}
		}
	}
	if ro, ok := d.Sub(o, "retry"); ok {
		if r.Retry == nil {
			r.Retry = &Retry{}
		}
		r.Retry.Pos = d.Pos(ro.N, o.At("retry"))
		if a, ok := d.integer(ro, "attempts", 0, 1<<31-1); ok {
			r.Retry.Attempts = a
		} else {
			// Unset, the count is implementation-specific: no retry is
			// promised.
			r.Retry.Attempts = Value[int]{Pos: r.Retry.Pos, Default: true}
		}
		r.Retry.Backoff, _ = d.duration(ro, "backoff", gatewayDuration, true)
		for i, c := range d.Seq(ro, "codes") {
			if v, ok := d.intNode(c, yamlnode.Index(ro.At("codes"), i), 400, 599); ok {
				r.Retry.Codes = append(r.Retry.Codes, v)
			}
		}
	}
	return r, true
}

// gatewayBackends reads backendRefs: weight/(sum of weights), a missing
// weight counting 1, as the API defines it.
func (d *doc) gatewayBackends(o *yamlnode.Obj, defaultNS string) []Backend {
	var out []Backend
	sum := 0
	for i, n := range d.Seq(o, "backendRefs") {
		path := yamlnode.Index(o.At("backendRefs"), i)
		bo, ok := d.Mapping(n, path)
		if !ok {
			continue
		}
		be, ok := d.gatewayRef(bo, path, defaultNS)
		if !ok {
			continue
		}
		if w, ok := d.integer(bo, "weight", 0, gatewayMaxWeight); ok {
			be.Weight = w
		} else {
			be.Weight = Value[int]{V: 1, Pos: be.Pos, Default: true}
		}
		sum += be.Weight.V
		out = append(out, be)
	}
	if len(out) > 0 && sum == 0 {
		d.Corrupt(yamlnode.Resolve(o.Get("backendRefs")), o.At("backendRefs"), "every backendRef has weight 0: the gateway answers with an error status")
	}
	for i := range out {
		if sum > 0 {
			out[i].P = float64(out[i].Weight.V) / float64(sum)
		}
	}
	return out
}

// gatewayRef reads a BackendObjectReference {group, kind, name, namespace,
// port}; a kind other than Service is kept by name.
func (d *doc) gatewayRef(bo *yamlnode.Obj, path, defaultNS string) (Backend, bool) {
	nm, ok := d.str(bo, "name")
	if !ok {
		d.Problem(discovery.MissingField, bo.Where(), bo.At("name"), "the backendRef has no name")
		return Backend{}, false
	}
	be := Backend{Service: nm.V, Namespace: defaultNS, Pos: d.Pos(bo.N, path)}
	if ns, ok := d.str(bo, "namespace"); ok {
		be.Namespace = ns.V
	}
	port, _ := d.integer(bo, "port", 1, 65535)
	be.Port = port.V
	return be, true
}

func (d *doc) gatewayMirror(fo *yamlnode.Obj, defaultNS string) (Mirror, bool) {
	mo, ok := d.Sub(fo, "requestMirror")
	if !ok {
		d.Problem(discovery.MissingField, fo.Where(), fo.At("requestMirror"), "a RequestMirror filter needs requestMirror")
		return Mirror{}, false
	}
	ref, ok := d.Sub(mo, "backendRef")
	if !ok {
		d.Problem(discovery.MissingField, mo.Where(), mo.At("backendRef"), "requestMirror has no backendRef")
		return Mirror{}, false
	}
	be, ok := d.gatewayRef(ref, mo.At("backendRef"), defaultNS)
	if !ok {
		return Mirror{}, false
	}
	be.Weight, be.P = Value[int]{V: 1, Pos: be.Pos, Default: true}, 1
	m := Mirror{Backend: be, Pos: d.Pos(mo.N, fo.At("requestMirror"))}
	// percent or fraction (v1.2+); unset, everything is mirrored.
	m.Percent = Value[float64]{V: 100, Pos: m.Pos, Default: true}
	if p, ok := d.integer(mo, "percent", 0, 100); ok {
		m.Percent = Value[float64]{V: float64(p.V), Pos: p.Pos}
	} else if fr, ok := d.Sub(mo, "fraction"); ok {
		num, okN := d.integer(fr, "numerator", 0, 1<<31-1)
		den, okD := d.integer(fr, "denominator", 1, 1<<31-1)
		if !okD {
			den = Value[int]{V: 100} // the API's default denominator
		}
		if okN && num.V <= den.V {
			m.Percent = Value[float64]{V: 100 * float64(num.V) / float64(den.V), Pos: num.Pos}
		} else if okN {
			d.Corrupt(yamlnode.Resolve(fr.Get("numerator")), fr.At("numerator"), "numerator %d exceeds denominator %d", num.V, den.V)
		}
	}
	return m, true
}

// gatewayMatch describes an HTTPRouteMatch: path (PathPrefix / when
// unset), headers, query parameters and method, all of which must hold.
func (d *doc) gatewayMatch(n *yaml.Node, path string) (Value[string], bool) {
	o, ok := d.Mapping(n, path)
	if !ok {
		return Value[string]{}, false
	}
	var parts []string
	if po, ok := d.Sub(o, "path"); ok {
		typ, _ := d.str(po, "type")
		val, _ := d.str(po, "value")
		if typ.V == "" {
			typ.V = "PathPrefix"
		}
		if val.V == "" {
			val.V = "/"
		}
		parts = append(parts, fmt.Sprintf("path %s %s", typ.V, val.V))
	}
	for _, k := range []string{"headers", "queryParams"} {
		for i, h := range d.Seq(o, k) {
			ho, ok := d.Mapping(h, yamlnode.Index(o.At(k), i))
			if !ok {
				continue
			}
			typ, _ := d.str(ho, "type")
			nm, _ := d.str(ho, "name")
			val, _ := d.str(ho, "value")
			if typ.V == "" {
				typ.V = "Exact"
			}
			parts = append(parts, fmt.Sprintf("%s[%s] %s %s", strings.TrimSuffix(k, "s"), nm.V, typ.V, val.V))
		}
	}
	if m, ok := d.str(o, "method"); ok {
		parts = append(parts, "method "+m.V)
	}
	return Value[string]{V: strings.Join(parts, " && "), Pos: d.Pos(o.N, path)}, true
}
