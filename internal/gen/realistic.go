package gen

import (
	"fmt"
	"strings"

	"github.com/emac-dev/emac/internal/model"
)

// Realistic returns a large journey shaped like a microservice call tree
// with exactly the given number of Call nodes and of failure domains (when
// leaves allow one member per domain).
//
// Each service call is followed by the service's own downstream calls,
// fanned out in parallel (All) or made in order (Seq), sometimes behind a
// weighted Branch (a cache hit path and a miss path), with Optional and
// Async side calls. Redundancy is local: a Race of two hedged replicas, a
// Fallback from a primary to a secondary, a Quorum[k=2] of three replicas,
// Retry[attempts=3] around single calls. Infrastructure leaves (auth,
// feature flags, databases) are called from many places, with declared
// persistent, transient or unknown invocation models.
//
// The domains are up to three zones, across which the replicas of a
// service are spread; nodes, each in one zone and hosting several services
// (occasionally two replicas of the same service); and shared resources such as
// databases, caches and payment networks that several services depend on.
func Realistic(seed uint64, leaves, domains int) *model.Journey {
	leaves = max(1, leaves)
	g := &realGen{b: newBuilder(seed), leaves: leaves}
	g.domains(max(0, domains))
	g.infraMax = max(2, leaves/150)
	flow := g.tree(leaves, 0)
	g.fillDomains()
	return g.b.journey(fmt.Sprintf("realistic-%d", seed), flow)
}

// realGen draws a Realistic journey.
type realGen struct {
	b                       *builder
	leaves                  int
	zones, nodes, resources []string
	services                int
	infra                   []string
	infraMax                int
}

// domains names the zones, nodes and shared resources.
func (g *realGen) domains(n int) {
	nz := min(3, n)
	for i := 0; i < nz; i++ {
		g.zones = append(g.zones, fmt.Sprintf("zone-%c", 'a'+i))
	}
	rest := n - nz
	nr := rest / 4
	kinds := [...]string{"db", "cache", "payment-network", "queue"}
	for i := 0; i < nr; i++ {
		g.resources = append(g.resources, fmt.Sprintf("%s-%d", kinds[i%len(kinds)], i))
	}
	for i := 0; i < rest-nr; i++ {
		g.nodes = append(g.nodes, fmt.Sprintf("node-%d", i))
	}
	for _, d := range g.zones {
		g.b.addDomain(d)
	}
	for _, d := range g.resources {
		g.b.addDomain(d)
	}
	for _, d := range g.nodes {
		g.b.addDomain(d)
	}
}

// fillDomains gives every still empty domain one member, so that the
// journey has exactly the requested number of domains: a node hosting a
// single service, a resource used by one service.
func (g *realGen) fillDomains() {
	r := g.b.r
	for _, dn := range g.b.dorder {
		if len(g.b.domains[dn]) == 0 && len(g.b.order) > 0 {
			g.b.member(dn, pick(r, g.b.order))
		}
	}
}

// service creates the components of a new service with the given number of
// replicas and places them in zones, nodes and resources.
func (g *realGen) service(replicas int) []string {
	r := g.b.r
	g.services++
	base := fmt.Sprintf("svc%d", g.services)
	var names []string
	z0 := r.IntN(max(1, len(g.zones)))
	node0, zone0 := -1, -1
	var res string
	if len(g.resources) > 0 && r.IntN(4) == 0 {
		res = g.resource(replicas > 1)
	}
	for i := 0; i < replicas; i++ {
		name := base
		a := seriesAvailability(r, g.leaves)
		if replicas > 1 {
			name = fmt.Sprintf("%s-r%d", base, i+1)
			a = 0.99 + 0.009*r.Float64()
		}
		c := g.b.component(name, a)
		c.Service, c.Operation = base, "GET /"+base
		c.Latency = []model.LatencyPoint{{Quantile: 0.5, Value: ms(2 + r.IntN(20))}, {Quantile: 0.99, Value: ms(30 + r.IntN(200))}}
		names = append(names, name)
		// Replicas spread over the zones, each on a node of its zone (a
		// Kubernetes node lives in one zone); now and then the scheduler
		// puts a second replica on the first one's node.
		zone := (z0 + i) % max(1, len(g.zones))
		nd := -1
		if len(g.nodes) > 0 && r.IntN(10) < 7 {
			if i > 0 && node0 >= 0 && r.IntN(20) == 0 {
				nd, zone = node0, zone0
			} else {
				nd = g.nodeIn(zone)
			}
		}
		if i == 0 {
			node0, zone0 = nd, zone
		}
		if len(g.zones) > 0 {
			g.b.member(g.zones[zone], name)
		}
		if nd >= 0 {
			g.b.member(g.nodes[nd], name)
		}
		if res != "" {
			g.b.member(res, name)
		}
	}
	return names
}

// nodeIn picks a node of the given zone: node i lives in zone i mod the
// number of zones.
func (g *realGen) nodeIn(zone int) int {
	nz := len(g.zones)
	if nz == 0 {
		return g.b.r.IntN(len(g.nodes))
	}
	var in []int
	for i := range g.nodes {
		if i%nz == zone {
			in = append(in, i)
		}
	}
	if len(in) == 0 {
		return g.b.r.IntN(len(g.nodes))
	}
	return pick(g.b.r, in)
}

// resource picks a shared resource for a service, or none. Payment
// networks carry redundant payment providers only, as in the paper's
// checkout: a service without replicas gets none of them.
func (g *realGen) resource(replicated bool) string {
	if len(g.resources) == 0 {
		return ""
	}
	res := pick(g.b.r, g.resources)
	if strings.HasPrefix(res, "payment-network") && !replicated {
		return ""
	}
	return res
}

// infraLeaf is a call to a shared infrastructure component, called from
// many places in the journey.
func (g *realGen) infraLeaf() *model.Node {
	r := g.b.r
	if len(g.infra) < g.infraMax && (len(g.infra) == 0 || r.IntN(3) == 0) {
		i := len(g.infra)
		kinds := [...]struct {
			name string
			inv  model.Invocations
		}{{"auth", model.InvocationsTransient}, {"orders-db", model.InvocationsPersistent},
			{"feature-flags", model.InvocationsUnknown}, {"session-cache", model.InvocationsTransient}}
		k := kinds[i%len(kinds)]
		name := fmt.Sprintf("%s-%d", k.name, i)
		c := g.b.component(name, 0.9995+0.00049*r.Float64())
		c.Invocations = k.inv
		if len(g.zones) > 0 {
			g.b.member(pick(r, g.zones), name)
		}
		if res := g.resource(false); res != "" && r.IntN(2) == 0 {
			g.b.member(res, name)
		}
		g.infra = append(g.infra, name)
	}
	return call(pick(r, g.infra))
}

// site is the call of one service using exactly n (1 to 3) leaves, with
// the redundancy the caller uses for it.
func (g *realGen) site(n int) *model.Node {
	r := g.b.r
	switch n {
	case 1:
		x := r.IntN(100)
		if x < 10 {
			return g.infraLeaf()
		}
		name := g.service(1)[0]
		c := call(name)
		switch {
		case x < 22:
			g.b.comps[name].Invocations = invocations(r)
			rt := node(model.Retry, c)
			rt.Attempts, rt.PerTryTimeout, rt.Backoff = 3, ms(100+r.IntN(200)), ms(10)
			return rt
		case x < 27:
			t := node(model.Timeout, c)
			t.After = ms(200 + r.IntN(800))
			return t
		case x < 32:
			return node(model.Optional, c)
		case x < 36:
			return node(model.Async, c)
		}
		return c
	case 2:
		rs := g.service(2)
		if r.IntN(2) == 0 {
			rc := node(model.Race, call(rs[0]), call(rs[1]))
			rc.HedgeAfter = ms(20 + r.IntN(80))
			return rc
		}
		return node(model.Fallback, call(rs[0]), call(rs[1]))
	default:
		rs := g.service(3)
		q := node(model.Quorum, call(rs[0]), call(rs[1]), call(rs[2]))
		q.K = 2
		return q
	}
}

// tree draws a subtree with exactly n leaves: a service call site and the
// service's downstream calls.
func (g *realGen) tree(n, depth int) *model.Node {
	r := g.b.r
	if n <= 3 {
		if n > 1 && r.IntN(3) == 0 {
			return node(model.Seq, g.site(1), g.tree(n-1, depth+1))
		}
		return g.site(n)
	}
	f := 1
	switch x := r.IntN(100); {
	case x < 20:
		f = 2
	case x < 32:
		f = 3
	}
	front := g.site(f)
	rest := n - f
	if rest == 1 {
		return node(model.Seq, front, g.site(1))
	}
	// wide fan-out deep in the tree keeps the depth logarithmic
	m := 2 + r.IntN(min(rest, 6)-1)
	var kids []*model.Node
	for _, k := range split(r, rest, m) {
		kids = append(kids, g.tree(k, depth+1))
	}
	var down *model.Node
	switch x := r.IntN(100); {
	case x < 10 && m >= 2:
		// a cache hit path and a miss path
		down = node(model.Branch, kids...)
		down.Weights = make([]float64, m)
		s := 0.0
		for i := 1; i < m; i++ {
			down.Weights[i] = 0.1 / float64(m-1)
			s += down.Weights[i]
		}
		down.Weights[0] = 1 - s
	case x < 20:
		// a side call the caller does not wait for or tolerates losing
		side := node(model.Optional, kids[m-1])
		if r.IntN(2) == 0 {
			side.Op = model.Async
		}
		kids[m-1] = side
		down = node(model.All, kids...)
	case x < 60:
		down = node(model.All, kids...)
	default:
		down = node(model.Seq, kids...)
	}
	return node(model.Seq, front, down)
}
