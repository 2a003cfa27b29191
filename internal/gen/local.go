package gen

import (
	"fmt"

	"github.com/emac-dev/emac/internal/model"
)

// Local returns a large journey with exactly the given number of Call nodes
// whose failure domains are each confined to one subtree: a domain covers
// the replicas of one redundancy group (a hedged Race of two, a Fallback, a
// Quorum[k=2] of three), sometimes with the call in series before them, and
// nothing else. Every leaf is a distinct component, so no scenario choice
// reaches outside its subtree. It is the input of the "10,000 leaves, 64
// subtree-local domains" benchmark. When leaves are too few for two
// replicas per domain, groups shrink (down to single-member domains) and
// then domains are dropped.
func Local(seed uint64, leaves, domains int) *model.Journey {
	leaves = max(1, leaves)
	domains = max(0, min(domains, leaves))
	g := &localGen{b: newBuilder(seed), leaves: leaves}
	r := g.b.r
	size := 3
	if domains > 0 {
		size = min(3, leaves/domains)
	}
	var units []*model.Node
	used := 0
	for d := 0; d < domains; d++ {
		s := size
		if s >= 3 && r.IntN(3) != 0 {
			s = 2 // two-replica groups are the common case
		}
		// spare leaves exclude what the remaining groups may need
		n, k := g.group(fmt.Sprintf("dom-%02d", d), s, leaves-used-s-(domains-d-1)*size)
		units = append(units, n)
		used += k
	}
	for ; used < leaves; used++ {
		units = append(units, g.single())
	}
	r.Shuffle(len(units), func(i, j int) { units[i], units[j] = units[j], units[i] })
	return g.b.journey(fmt.Sprintf("local-%d", seed), g.arrange(units))
}

// localGen draws a Local journey.
type localGen struct {
	b      *builder
	n      int
	leaves int
}

func (g *localGen) comp(a float64) string {
	g.n++
	name := fmt.Sprintf("c%d", g.n)
	c := g.b.component(name, a)
	c.Latency = []model.LatencyPoint{{Quantile: 0.5, Value: ms(5)}, {Quantile: 0.99, Value: ms(80)}}
	return name
}

// group makes a redundancy group of s replicas, all in domain dn; spare is
// the number of leaves left once the group is placed, which lets the domain
// also cover a caller in series. It returns the subtree and its leaves.
func (g *localGen) group(dn string, s, spare int) (*model.Node, int) {
	r := g.b.r
	var kids []*model.Node
	for i := 0; i < s; i++ {
		name := g.comp(0.99 + 0.009*r.Float64())
		g.b.member(dn, name)
		kids = append(kids, call(name))
	}
	var n *model.Node
	switch {
	case s == 1:
		n = kids[0]
	case s == 3:
		n = node(model.Quorum, kids...)
		n.K = 2
	case r.IntN(2) == 0:
		n = node(model.Race, kids...)
		n.HedgeAfter = ms(50)
	default:
		n = node(model.Fallback, kids...)
	}
	if r.IntN(5) == 0 {
		rt := node(model.Retry, n)
		rt.Attempts = 2
		n = rt
	}
	if spare > 0 && r.IntN(10) < 3 {
		caller := g.comp(seriesAvailability(r, g.leaves))
		g.b.member(dn, caller)
		return node(model.Seq, call(caller), n), s + 1
	}
	return n, s
}

// single is a call outside every domain, sometimes retried, bounded by a
// timeout or optional.
func (g *localGen) single() *model.Node {
	r := g.b.r
	name := g.comp(seriesAvailability(r, g.leaves))
	c := call(name)
	switch r.IntN(20) {
	case 0:
		g.b.comps[name].Invocations = invocations(r)
		rt := node(model.Retry, c)
		rt.Attempts = 3
		return rt
	case 1:
		t := node(model.Timeout, c)
		t.After = ms(300)
		return t
	case 2:
		return node(model.Optional, c)
	}
	return c
}

// arrange nests units under Seq and All nodes (occasionally a Branch) of
// fan-out two to six.
func (g *localGen) arrange(units []*model.Node) *model.Node {
	r := g.b.r
	if len(units) == 1 {
		return units[0]
	}
	m := 2 + r.IntN(min(len(units), 6)-1)
	var kids []*model.Node
	at := 0
	for _, k := range split(r, len(units), m) {
		kids = append(kids, g.arrange(units[at:at+k]))
		at += k
	}
	switch x := r.IntN(20); {
	case x == 0:
		n := node(model.Branch, kids...)
		n.Weights = weights(r, m)
		return n
	case x < 10:
		return node(model.All, kids...)
	}
	return node(model.Seq, kids...)
}
