package mesh

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/emac-dev/emac/internal/discovery"
	yaml "go.yaml.in/yaml/v3"
)

// Linkerd's defaults (its ServiceProfile reference and "Retries and
// Timeouts"): a route's timeout is 10s; retries may add 20% to the
// requests plus 10 a second, over a 10s window.
const (
	linkerdDefaultTimeout    = 10 * time.Second
	linkerdDefaultRatio      = 0.2
	linkerdDefaultMinRetries = 10
	linkerdDefaultTTL        = 10 * time.Second
	// maxConditionDepth bounds the nesting of all/any/not that is
	// described: real profiles nest two or three deep.
	maxConditionDepth = 16
)

// serviceProfile reads a Linkerd ServiceProfile. Its name is the FQDN of
// the service it describes (web-svc.emojivoto.svc.cluster.local); its
// routes split the calls to it by method and path.
func (b *builder) serviceProfile(d *doc, o *obj, src Source) {
	meta, _ := d.sub(o, "metadata")
	fqdn, ok := d.str(meta, "name")
	if !ok {
		at := o.n
		if meta != nil {
			at = meta.where()
		}
		d.problem(discovery.MissingField, at, o.at("metadata.name"), "the ServiceProfile has no name (the service's FQDN)")
		return
	}
	spec, ok := d.sub(o, "spec")
	if !ok {
		d.problem(discovery.MissingField, o.where(), o.at("spec"), "%s has no spec", src)
		return
	}
	c := contrib{src: src, hosts: []Value[string]{fqdn}, routing: true}
	c.svc, c.ns = splitHost(fqdn.V, "")
	c.budget = d.retryBudget(spec)
	budget := c.budget
	if budget == nil {
		pos := d.pos(spec.n, spec.path)
		budget = &RetryBudget{
			RetryRatio:          Value[float64]{V: linkerdDefaultRatio, Pos: pos, Default: true},
			MinRetriesPerSecond: Value[int]{V: linkerdDefaultMinRetries, Pos: pos, Default: true},
			TTL:                 Value[time.Duration]{V: linkerdDefaultTTL, Pos: pos, Default: true},
			Pos:                 pos,
		}
	}
	overrides := d.dstOverrides(spec, c.ns)
	for i, n := range d.seq(spec, "routes") {
		path := index(spec.at("routes"), i)
		ro, ok := d.mapping(n, path)
		if !ok {
			continue
		}
		r := Route{Source: src, Pos: d.pos(ro.n, path)}
		if r.Name, ok = d.str(ro, "name"); !ok {
			d.problem(discovery.MissingField, ro.where(), ro.at("name"), "the route has no name")
		}
		if !ro.has("condition") {
			d.problem(discovery.MissingField, ro.where(), ro.at("condition"), "the route has no condition: it matches nothing")
			continue
		}
		cond, ok := d.condition(ro.get("condition"), ro.at("condition"), 0, requestCondition)
		if !ok {
			continue
		}
		r.Match = []Value[string]{cond}
		if len(overrides) > 0 {
			r.Backends = overrides
		} else {
			r.Backends = []Backend{{Service: c.svc, Namespace: c.ns, Weight: Value[int]{V: 1, Pos: r.Pos, Default: true}, P: 1, Pos: r.Pos}}
		}
		if t, ok := d.duration(ro, "timeout", linkerdDuration, true); ok {
			r.Timeout = t
		} else {
			r.Timeout = &Value[time.Duration]{V: linkerdDefaultTimeout, Pos: r.Pos, Default: true}
		}
		if rt, ok := d.boolean(ro, "isRetryable"); ok && rt.V {
			r.Retry = &Retry{Attempts: Value[int]{V: budget.Attempts(), Pos: rt.Pos, Default: true}, Budget: budget, Pos: rt.Pos}
		}
		for j, rc := range d.seq(ro, "responseClasses") {
			rpath := index(ro.at("responseClasses"), j)
			rco, ok := d.mapping(rc, rpath)
			if !ok {
				continue
			}
			cl := ResponseClass{Pos: d.pos(rco.n, rpath)}
			if cl.Condition, ok = d.condition(rco.get("condition"), rco.at("condition"), 0, responseCondition); !ok {
				if !rco.has("condition") {
					d.problem(discovery.MissingField, rco.where(), rco.at("condition"), "the response class has no condition")
				}
				continue
			}
			cl.IsFailure, _ = d.boolean(rco, "isFailure")
			r.ResponseClasses = append(r.ResponseClasses, cl)
		}
		c.routes = append(c.routes, r)
	}
	b.add(c)
}

func (d *doc) retryBudget(spec *obj) *RetryBudget {
	bo, ok := d.sub(spec, "retryBudget")
	if !ok {
		return nil
	}
	pos := d.pos(bo.n, spec.at("retryBudget"))
	rb := &RetryBudget{Pos: pos}
	// All three are required by the CRD; a missing one is reported and
	// takes Linkerd's default so the rest is still used.
	var okR, okM bool
	if rb.RetryRatio, okR = d.float(bo, "retryRatio", 0, math.MaxFloat64); !okR {
		rb.RetryRatio = Value[float64]{V: linkerdDefaultRatio, Pos: pos, Default: true}
		if !bo.has("retryRatio") {
			d.problem(discovery.MissingField, bo.where(), bo.at("retryRatio"), "the retry budget has no retryRatio; Linkerd's default %g is used", linkerdDefaultRatio)
		}
	}
	if rb.MinRetriesPerSecond, okM = d.integer(bo, "minRetriesPerSecond", 0, math.MaxUint32); !okM {
		rb.MinRetriesPerSecond = Value[int]{V: linkerdDefaultMinRetries, Pos: pos, Default: true}
		if !bo.has("minRetriesPerSecond") {
			d.problem(discovery.MissingField, bo.where(), bo.at("minRetriesPerSecond"), "the retry budget has no minRetriesPerSecond; Linkerd's default %d is used", linkerdDefaultMinRetries)
		}
	}
	if t, ok := d.duration(bo, "ttl", linkerdDuration, false); ok {
		rb.TTL = *t
	} else {
		rb.TTL = Value[time.Duration]{V: linkerdDefaultTTL, Pos: pos, Default: true}
		if !bo.has("ttl") {
			d.problem(discovery.MissingField, bo.where(), bo.at("ttl"), "the retry budget has no ttl; Linkerd's default %s is used", linkerdDefaultTTL)
		}
	}
	return rb
}

// dstOverrides reads the traffic split of a profile (what SMI's
// TrafficSplit writes): the calls go to these authorities instead, by
// weight. Weights are Kubernetes quantities ("500m", 1); Weight holds them
// in thousandths.
func (d *doc) dstOverrides(spec *obj, defaultNS string) []Backend {
	var out []Backend
	sum := 0
	for i, n := range d.seq(spec, "dstOverrides") {
		path := index(spec.at("dstOverrides"), i)
		oo, ok := d.mapping(n, path)
		if !ok {
			continue
		}
		auth, ok := d.str(oo, "authority")
		if !ok {
			d.problem(discovery.MissingField, oo.where(), oo.at("authority"), "the override has no authority")
			continue
		}
		be := Backend{Pos: d.pos(oo.n, path)}
		host, port, hasPort := strings.Cut(auth.V, ":")
		be.Service, be.Namespace = splitHost(host, defaultNS)
		if hasPort {
			p, err := strconv.Atoi(port)
			if err != nil || p < 1 || p > 65535 {
				d.corrupt(resolve(oo.get("authority")), oo.at("authority"), "%q: the port is not a number in [1, 65535]", auth.V)
				continue
			}
			be.Port = p
		}
		w, ok := d.quantity(oo, "weight")
		if !ok {
			if oo.has("weight") {
				continue
			}
			d.problem(discovery.MissingField, oo.where(), oo.at("weight"), "the override has no weight")
			continue
		}
		be.Weight = w
		sum += w.V
		out = append(out, be)
	}
	if len(out) > 0 && sum == 0 {
		d.corrupt(resolve(spec.get("dstOverrides")), spec.at("dstOverrides"), "every dstOverride has weight 0")
	}
	for i := range out {
		if sum > 0 {
			out[i].P = float64(out[i].Weight.V) / float64(sum)
		}
	}
	return out
}

var quantityRE = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)(m|k)?$`)

// quantity reads a Kubernetes quantity as thousandths: "500m" is 500, 1 is
// 1000. Only the forms a weight takes are accepted (plain, m, k).
func (d *doc) quantity(o *obj, key string) (Value[int], bool) {
	n := resolve(o.get(key))
	if isNull(n) {
		return Value[int]{}, false
	}
	path := o.at(key)
	if n.Kind != yaml.ScalarNode || n.Tag == "!!bool" {
		d.corrupt(n, path, "want a quantity (1, \"500m\"), got %s", what(n))
		return Value[int]{}, false
	}
	m := quantityRE.FindStringSubmatch(n.Value)
	if m == nil {
		d.corrupt(n, path, "%q is not a quantity (1, 0.5, \"500m\")", n.Value)
		return Value[int]{}, false
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	switch m[2] {
	case "":
		v *= 1000
	case "k":
		v *= 1e6
	}
	if v > 1e12 {
		d.corrupt(n, path, "%q is too large", n.Value)
		return Value[int]{}, false
	}
	return Value[int]{V: int(math.Round(v)), Pos: d.pos(n, path)}, true
}

type conditionKind uint8

const (
	requestCondition conditionKind = iota
	responseCondition
)

// condition describes a Linkerd request match (method, pathRegex) or
// response match (status {min, max}), and their all/any/not, as text.
// Several fields in one match must all hold (Linkerd accepts the
// {method, pathRegex} pairs profiles are written with).
func (d *doc) condition(n *yaml.Node, path string, depth int, kind conditionKind) (Value[string], bool) {
	o, ok := d.mapping(n, path)
	if !ok {
		return Value[string]{}, false
	}
	if depth > maxConditionDepth {
		d.corrupt(o.n, path, "conditions nested deeper than %d", maxConditionDepth)
		return Value[string]{}, false
	}
	pos := d.pos(o.n, path)
	var parts []string
	for _, k := range o.order {
		switch {
		case k == "all" || k == "any":
			var sub []string
			for i, c := range d.seq(o, k) {
				if v, ok := d.condition(c, index(o.at(k), i), depth+1, kind); ok {
					sub = append(sub, v.V)
				}
			}
			op := " && "
			if k == "any" {
				op = " || "
			}
			parts = append(parts, "("+strings.Join(sub, op)+")")
		case k == "not":
			// A match object in Linkerd's reference; the CRD's schema
			// also admits a list, read as none of them.
			if nn := resolve(o.get(k)); nn != nil && nn.Kind == yaml.SequenceNode {
				var sub []string
				for i, c := range nn.Content {
					if v, ok := d.condition(c, index(o.at(k), i), depth+1, kind); ok {
						sub = append(sub, v.V)
					}
				}
				parts = append(parts, "!("+strings.Join(sub, " || ")+")")
			} else if v, ok := d.condition(o.get(k), o.at(k), depth+1, kind); ok {
				parts = append(parts, "!("+v.V+")")
			}
		case k == "method" && kind == requestCondition:
			if v, ok := d.str(o, k); ok {
				parts = append(parts, "method "+v.V)
			}
		case k == "pathRegex" && kind == requestCondition:
			if v, ok := d.str(o, k); ok {
				if _, err := regexp.Compile(v.V); err != nil {
					d.corrupt(resolve(o.get(k)), o.at(k), "pathRegex %q does not compile: %v", v.V, err)
					return Value[string]{}, false
				}
				parts = append(parts, "path ~ "+v.V)
			}
		case k == "status" && kind == responseCondition:
			so, ok := d.sub(o, k)
			if !ok {
				continue
			}
			lo, okL := d.integer(so, "min", 100, 599)
			hi, okH := d.integer(so, "max", 100, 599)
			switch {
			case okL && okH && lo.V > hi.V:
				d.corrupt(so.n, o.at(k), "status min %d is above max %d", lo.V, hi.V)
				return Value[string]{}, false
			case !okL && !okH:
				parts = append(parts, "status any")
			default:
				if !okL {
					lo.V = 100
				}
				if !okH {
					hi.V = 599
				}
				parts = append(parts, fmt.Sprintf("status %d-%d", lo.V, hi.V))
			}
		default:
			d.problem(discovery.Unsupported, resolve(o.keys[k]), o.at(k), "condition field %q is not read", k)
		}
	}
	if len(parts) == 0 {
		d.corrupt(o.n, path, "the condition is empty")
		return Value[string]{}, false
	}
	return Value[string]{V: strings.Join(parts, " && "), Pos: pos}, true
}
