package mesh

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/emac-dev/emac/internal/diag"
	"github.com/emac-dev/emac/internal/discovery"
	"github.com/emac-dev/emac/internal/discovery/yamlnode"
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
func (b *builder) serviceProfile(d *doc, o *yamlnode.Obj, src Source) {
	meta, _ := d.Sub(o, "metadata")
	fqdn, ok := d.str(meta, "name")
	if !ok {
		at := o.N
		if meta != nil {
			at = meta.Where()
		}
		d.Problem(discovery.MissingField, at, o.At("metadata.name"), "the ServiceProfile has no name (the service's FQDN)")
		return
	}
	spec, ok := d.Sub(o, "spec")
	if !ok {
		d.Problem(discovery.MissingField, o.Where(), o.At("spec"), "%s has no spec", src)
		return
	}
	c := contrib{src: src, hosts: []Value[string]{fqdn}, routing: true}
	c.svc, c.ns = splitHost(fqdn.V, "")
	c.budget = d.retryBudget(spec)
	budget := c.budget
	if budget == nil {
		pos := d.Pos(spec.N, spec.Path)
		budget = &RetryBudget{
			RetryRatio:          Value[float64]{V: linkerdDefaultRatio, Pos: pos, Default: true},
			MinRetriesPerSecond: Value[int]{V: linkerdDefaultMinRetries, Pos: pos, Default: true},
			TTL:                 Value[time.Duration]{V: linkerdDefaultTTL, Pos: pos, Default: true},
			Pos:                 pos,
		}
	}
	overrides := d.dstOverrides(spec, c.ns)
	for i, n := range d.Seq(spec, "routes") {
		path := yamlnode.Index(spec.At("routes"), i)
		ro, ok := d.Mapping(n, path)
		if !ok {
			continue
		}
		r := Route{Source: src, Pos: d.Pos(ro.N, path)}
		if r.Name, ok = d.str(ro, "name"); !ok {
			d.Problem(discovery.MissingField, ro.Where(), ro.At("name"), "the route has no name")
		}
		if !ro.Has("condition") {
			d.Problem(discovery.MissingField, ro.Where(), ro.At("condition"), "the route has no condition: it matches nothing")
			continue
		}
		cond, ok := d.condition(ro.Get("condition"), ro.At("condition"), 0, requestCondition)
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
		for j, rc := range d.Seq(ro, "responseClasses") {
			rpath := yamlnode.Index(ro.At("responseClasses"), j)
			rco, ok := d.Mapping(rc, rpath)
			if !ok {
				continue
			}
			cl := ResponseClass{Pos: d.Pos(rco.N, rpath)}
			if cl.Condition, ok = d.condition(rco.Get("condition"), rco.At("condition"), 0, responseCondition); !ok {
				if !rco.Has("condition") {
					d.Problem(discovery.MissingField, rco.Where(), rco.At("condition"), "the response class has no condition")
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

func (d *doc) retryBudget(spec *yamlnode.Obj) *RetryBudget {
	bo, ok := d.Sub(spec, "retryBudget")
	if !ok {
		return nil
	}
	pos := d.Pos(bo.N, spec.At("retryBudget"))
	rb := &RetryBudget{Pos: pos}
	// All three are required by the CRD; a missing one is reported and
	// takes Linkerd's default so the rest is still used.
	var okR, okM bool
	if rb.RetryRatio, okR = d.float(bo, "retryRatio", 0, math.MaxFloat64); !okR {
		rb.RetryRatio = Value[float64]{V: linkerdDefaultRatio, Pos: pos, Default: true}
		if !bo.Has("retryRatio") {
			d.Problem(discovery.MissingField, bo.Where(), bo.At("retryRatio"), "the retry budget has no retryRatio; Linkerd's default %g is used", linkerdDefaultRatio)
		}
	}
	if rb.MinRetriesPerSecond, okM = d.integer(bo, "minRetriesPerSecond", 0, math.MaxUint32); !okM {
		rb.MinRetriesPerSecond = Value[int]{V: linkerdDefaultMinRetries, Pos: pos, Default: true}
		if !bo.Has("minRetriesPerSecond") {
			d.Problem(discovery.MissingField, bo.Where(), bo.At("minRetriesPerSecond"), "the retry budget has no minRetriesPerSecond; Linkerd's default %d is used", linkerdDefaultMinRetries)
		}
	}
	if t, ok := d.duration(bo, "ttl", linkerdDuration, false); ok {
		rb.TTL = *t
	} else {
		rb.TTL = Value[time.Duration]{V: linkerdDefaultTTL, Pos: pos, Default: true}
		if !bo.Has("ttl") {
			d.Problem(discovery.MissingField, bo.Where(), bo.At("ttl"), "the retry budget has no ttl; Linkerd's default %s is used", linkerdDefaultTTL)
		}
	}
	return rb
}

// dstOverrides reads the traffic split of a profile (what SMI's
// TrafficSplit writes): the calls go to these authorities instead, by
// weight. Weights are Kubernetes quantities ("500m", 1); Weight holds them
// in thousandths.
func (d *doc) dstOverrides(spec *yamlnode.Obj, defaultNS string) []Backend {
	var out []Backend
	sum := 0
	for i, n := range d.Seq(spec, "dstOverrides") {
		path := yamlnode.Index(spec.At("dstOverrides"), i)
		oo, ok := d.Mapping(n, path)
		if !ok {
			continue
		}
		auth, ok := d.str(oo, "authority")
		if !ok {
			d.Problem(discovery.MissingField, oo.Where(), oo.At("authority"), "the override has no authority")
			continue
		}
		be := Backend{Pos: d.Pos(oo.N, path)}
		host, port, hasPort := strings.Cut(auth.V, ":")
		be.Service, be.Namespace = splitHost(host, defaultNS)
		if hasPort {
			p, err := strconv.Atoi(port)
			if err != nil || p < 1 || p > 65535 {
				d.Corrupt(yamlnode.Resolve(oo.Get("authority")), oo.At("authority"), "%q: the port is not a number in [1, 65535]", auth.V)
				continue
			}
			be.Port = p
		}
		w, ok := d.quantity(oo, "weight")
		if !ok {
			if oo.Has("weight") {
				continue
			}
			d.Problem(discovery.MissingField, oo.Where(), oo.At("weight"), "the override has no weight")
			continue
		}
		be.Weight = w
		sum += w.V
		out = append(out, be)
	}
	if len(out) > 0 && sum == 0 {
		d.Corrupt(yamlnode.Resolve(spec.Get("dstOverrides")), spec.At("dstOverrides"), "every dstOverride has weight 0")
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
func (d *doc) quantity(o *yamlnode.Obj, key string) (Value[int], bool) {
	n := yamlnode.Resolve(o.Get(key))
	if yamlnode.IsNull(n) {
		return Value[int]{}, false
	}
	path := o.At(key)
	if n.Kind != yaml.ScalarNode || n.Tag == "!!bool" {
		d.Corrupt(n, path, "want a quantity (1, \"500m\"), got %s", diag.NodeKind(n))
		return Value[int]{}, false
	}
	m := quantityRE.FindStringSubmatch(n.Value)
	if m == nil {
		d.Corrupt(n, path, "%q is not a quantity (1, 0.5, \"500m\")", n.Value)
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
		d.Corrupt(n, path, "%q is too large", n.Value)
		return Value[int]{}, false
	}
	return Value[int]{V: int(math.Round(v)), Pos: d.Pos(n, path)}, true
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
	o, ok := d.Mapping(n, path)
	if !ok {
		return Value[string]{}, false
	}
	if depth > maxConditionDepth {
		d.Corrupt(o.N, path, "conditions nested deeper than %d", maxConditionDepth)
		return Value[string]{}, false
	}
	pos := d.Pos(o.N, path)
	var parts []string
	for _, k := range o.Order {
		switch {
		case k == "all" || k == "any":
			var sub []string
			for i, c := range d.Seq(o, k) {
				if v, ok := d.condition(c, yamlnode.Index(o.At(k), i), depth+1, kind); ok {
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
			if nn := yamlnode.Resolve(o.Get(k)); nn != nil && nn.Kind == yaml.SequenceNode {
				var sub []string
				for i, c := range nn.Content {
					if v, ok := d.condition(c, yamlnode.Index(o.At(k), i), depth+1, kind); ok {
						sub = append(sub, v.V)
					}
				}
				parts = append(parts, "!("+strings.Join(sub, " || ")+")")
			} else if v, ok := d.condition(o.Get(k), o.At(k), depth+1, kind); ok {
				parts = append(parts, "!("+v.V+")")
			}
		case k == "method" && kind == requestCondition:
			if v, ok := d.str(o, k); ok {
				parts = append(parts, "method "+v.V)
			}
		case k == "pathRegex" && kind == requestCondition:
			if v, ok := d.str(o, k); ok {
				if _, err := regexp.Compile(v.V); err != nil {
					d.Corrupt(yamlnode.Resolve(o.Get(k)), o.At(k), "pathRegex %q does not compile: %v", v.V, err)
					return Value[string]{}, false
				}
				parts = append(parts, "path ~ "+v.V)
			}
		case k == "status" && kind == responseCondition:
			so, ok := d.Sub(o, k)
			if !ok {
				continue
			}
			lo, okL := d.integer(so, "min", 100, 599)
			hi, okH := d.integer(so, "max", 100, 599)
			switch {
			case okL && okH && lo.V > hi.V:
				d.Corrupt(so.N, o.At(k), "status min %d is above max %d", lo.V, hi.V)
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
			d.Problem(discovery.Unsupported, o.Key(k), o.At(k), "condition field %q is not read", k)
		}
	}
	if len(parts) == 0 {
		d.Corrupt(o.N, path, "the condition is empty")
		return Value[string]{}, false
	}
	return Value[string]{V: strings.Join(parts, " && "), Pos: pos}, true
}
