package gen

import (
	"fmt"
	"math/rand/v2"

	"github.com/emac-dev/emac/internal/model"
)

// RandomOptions size the journeys Random makes; zero fields other than
// Domains take defaults.
type RandomOptions struct {
	// Leaves is the number of Call nodes (default 8).
	Leaves int
	// Components is the number of distinct components leaves draw from
	// (default about three quarters of Leaves); fewer components than
	// leaves makes shared leaves, the same component called in several
	// places.
	Components int
	// Domains is the number of failure domains declared (0 = none). Each
	// has one to four members drawn from the components, so domains
	// overlap; a domain may end up with the same members as another.
	Domains int
	// MaxAttempts is the largest retry attempt count (default 3).
	MaxAttempts int
	// MaxOccurrences caps the call occurrences once retries are expanded
	// into attempts (0 = no cap): retry attempts are lowered until the cap
	// holds, which keeps brute-force enumeration of every call outcome
	// cheap. A cap below Leaves is raised to Leaves.
	MaxOccurrences int
}

func (o RandomOptions) withDefaults() RandomOptions {
	if o.Leaves <= 0 {
		o.Leaves = 8
	}
	if o.Components <= 0 {
		o.Components = max(1, (3*o.Leaves+3)/4)
	}
	o.Domains = max(0, o.Domains)
	if o.MaxAttempts < 1 {
		o.MaxAttempts = 3
	}
	if o.MaxOccurrences > 0 && o.MaxOccurrences < o.Leaves {
		o.MaxOccurrences = o.Leaves
	}
	return o
}

// Random returns a small random journey over every operator: random
// availabilities mostly in [0.9, 0.9999] (sometimes lower, rarely exactly 0
// or 1), random invocation models (unknown, transient, persistent),
// overlapping failure domains, shared leaves and retries. The same seed and
// options always give the same journey, and it always validates.
func Random(seed uint64, opts RandomOptions) *model.Journey {
	o := opts.withDefaults()
	b := newBuilder(seed)
	r := b.r
	g := &randomGen{b: b, o: o}
	flow := g.tree(o.Leaves, 0)
	if o.MaxOccurrences > 0 {
		capRetries(flow, o.MaxOccurrences)
	}
	// domains: one to four members each, overlapping at random
	names := b.order
	for d := 0; d < o.Domains; d++ {
		dn := fmt.Sprintf("d%d", d)
		size := 1 + r.IntN(min(4, len(names)))
		if size == 1 && len(names) > 1 && r.IntN(2) == 0 {
			size = 2 // single-member domains matter less: make them rarer
		}
		for _, i := range r.Perm(len(names))[:size] {
			b.member(dn, names[i])
		}
	}
	return b.journey(fmt.Sprintf("random-%d", seed), flow)
}

// randomGen draws the flow of a random journey.
type randomGen struct {
	b *builder
	o RandomOptions
}

// availability draws a component availability.
func (g *randomGen) availability() float64 {
	r := g.b.r
	switch x := r.IntN(100); {
	case x < 78:
		return 0.9 + 0.0999*r.Float64()
	case x < 95:
		return 0.4 + 0.5*r.Float64()
	case x < 97:
		return 1
	case x < 98:
		return 0
	default:
		return 0.99999
	}
}

// leaf draws a call to a component, new or already called elsewhere.
func (g *randomGen) leaf() *model.Node {
	r := g.b.r
	name := fmt.Sprintf("c%d", r.IntN(g.o.Components))
	if _, ok := g.b.comps[name]; !ok {
		c := g.b.component(name, g.availability())
		c.Invocations = [...]model.Invocations{model.InvocationsUnknown, model.InvocationsUnknown,
			model.InvocationsTransient, model.InvocationsPersistent}[r.IntN(4)]
		c.Latency = []model.LatencyPoint{{Quantile: 0.5, Value: ms(5 + r.IntN(50))}, {Quantile: 0.99, Value: ms(60 + r.IntN(400))}}
	}
	return call(name)
}

// tree draws a subtree with exactly n Call nodes.
func (g *randomGen) tree(n, depth int) *model.Node {
	r := g.b.r
	if n == 1 {
		if depth >= 5 || r.IntN(10) < 6 {
			return g.leaf()
		}
		return g.unary(g.tree(1, depth+1))
	}
	if depth < 5 && r.IntN(8) == 0 {
		return g.unary(g.tree(n, depth+1))
	}
	ops := [...]model.Op{model.Seq, model.All, model.Race, model.Fallback, model.Quorum, model.Branch}
	op := ops[r.IntN(len(ops))]
	m := 2 + r.IntN(min(n, 4)-1)
	var kids []*model.Node
	for _, k := range split(r, n, m) {
		kids = append(kids, g.tree(k, depth+1))
	}
	nd := node(op, kids...)
	switch op {
	case model.Quorum:
		nd.K = 1 + r.IntN(m)
	case model.Branch:
		nd.Weights = weights(r, m)
	case model.Race:
		if r.IntN(3) == 0 {
			nd.HedgeAfter = ms(10 + r.IntN(90))
		}
	}
	return nd
}

// unary wraps a subtree in Retry, Timeout, Optional or Async.
func (g *randomGen) unary(x *model.Node) *model.Node {
	r := g.b.r
	switch r.IntN(7) {
	case 0, 1, 2:
		nd := node(model.Retry, x)
		nd.Attempts = 1 + r.IntN(g.o.MaxAttempts)
		if nd.Attempts == 1 && g.o.MaxAttempts > 1 && r.IntN(2) == 0 {
			nd.Attempts = 2 // attempts=1 is a legal edge case; keep it rarer
		}
		if r.IntN(2) == 0 {
			nd.PerTryTimeout = ms(50 + r.IntN(200))
			nd.Backoff = ms(r.IntN(30))
		}
		return nd
	case 3, 4:
		nd := node(model.Timeout, x)
		nd.After = ms(100 + r.IntN(900))
		return nd
	case 5:
		return node(model.Optional, x)
	default:
		return node(model.Async, x)
	}
}

// occurrences counts the call occurrences of a subtree once each retry is
// expanded into its attempts.
func occurrences(n *model.Node) int {
	switch n.Op {
	case model.Call:
		return 1
	case model.Retry:
		return n.Attempts * occurrences(n.Children[0])
	}
	s := 0
	for _, c := range n.Children {
		s += occurrences(c)
	}
	return s
}

// capRetries lowers the largest retry attempt counts until the expanded
// occurrences fit within limit (reachable: with every retry at one attempt
// the count is the number of leaves).
func capRetries(root *model.Node, limit int) {
	for occurrences(root) > limit {
		var worst *model.Node
		root.Walk(func(n *model.Node) {
			if n.Op == model.Retry && n.Attempts > 1 && (worst == nil || n.Attempts > worst.Attempts) {
				worst = n
			}
		})
		if worst == nil {
			return
		}
		worst.Attempts--
	}
}

// Occurrences is the number of call occurrences of a flow with every retry
// expanded into its attempts, Optional and Async subtrees included: an
// upper bound on the individual call outcomes a brute-force evaluation
// enumerates.
func Occurrences(flow *model.Node) int { return occurrences(flow) }

// pick returns a random element.
func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }
