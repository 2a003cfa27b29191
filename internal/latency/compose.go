package latency

import (
	"fmt"
	"math"

	"github.com/emac-dev/emac/internal/model"
)

// composer composes a flow's latency on one lattice, every call
// independent (SPEC §5's independent estimate).
type composer struct {
	l *lattice
	// succ and fail are each component's marginals (nil: takes no time;
	// fail nil: as succ).
	succ, fail map[string]Marginal
	// prob is the success probability of a call of a component.
	prob func(string) float64
	// closing lists, per node, the persistent components whose one
	// up/down state per execution is conditioned on there (the lowest
	// node every invocation lies under, re-executions included); state
	// holds the ones fixed on the way down.
	closing map[*model.Node][]string
	state   map[string]float64
	// units are the marginals discretised with mass 1, on first use
	units map[Marginal]dist
	// ws is the workspace of the lattices the composer is moved to (nil:
	// each lattice its own)
	ws *workspace
	// reads has, per node, a bit for each conditioned component (one
	// in closing) that its subtree calls, and fixed those of state (see
	// reuse); reads is nil when not indexed.
	reads map[*model.Node]uint64
	fixed uint64
	bits  map[string]uint64
	// memo holds compositions made while some state is fixed, of nodes
	// that read none of it: the same whatever it is fixed to
	memo map[memoKey][2]dist
}

// memoKey is a composition's node and parameters.
type memoKey struct {
	n              *model.Node
	deadline, need bool
}

// on moves the composer to lattice l.
func (c *composer) on(l *lattice) {
	c.l, c.units = l, nil
	clear(c.memo)
}

// index finds which conditioned components each node under flow reads,
// so that conditioning composes again only what depends on the state
// (reuse). Without it, everything is composed in every state.
func (c *composer) index(flow *model.Node) {
	c.bits = map[string]uint64{}
	for _, vs := range c.closing {
		for _, v := range vs {
			if len(c.bits) == 64 {
				c.bits, c.reads = nil, nil
				return
			}
			c.bits[v] = 1 << len(c.bits)
		}
	}
	if len(c.bits) == 0 {
		return
	}
	c.reads = map[*model.Node]uint64{}
	var walk func(n *model.Node) uint64
	walk = func(n *model.Node) uint64 {
		m := c.bits[n.Component]
		if n.Op != model.Call {
			m = 0
		}
		for _, k := range n.Children {
			m |= walk(k)
		}
		c.reads[n] = m
		return m
	}
	walk(flow)
}

// reuse reports whether n's compositions may be memoised: some state is
// fixed, and n reads none of it, so that every state composes it the same
// (the arithmetic is the same, so is the result, to the bit).
func (c *composer) reuse(n *model.Node) bool {
	if c.fixed == 0 || c.reads == nil {
		return false
	}
	m, ok := c.reads[n]
	return ok && m&c.fixed == 0
}

// p is a call's success probability: its persistent state when fixed.
func (c *composer) p(comp string) float64 {
	if v, ok := c.state[comp]; ok {
		return v
	}
	return c.prob(comp)
}

// compose returns the sub-distributions of n's duration when it succeeds
// and when it fails; see composeOp. A persistent component closing at n
// is conditioned on: up, then down, weighted by its availability.
func (c *composer) compose(n *model.Node, deadline, needF bool) (s, f dist) {
	if c.reuse(n) {
		k := memoKey{n, deadline, needF}
		if r, ok := c.memo[k]; ok {
			return r[0], r[1]
		}
		s, f = c.conditioned(n, deadline, needF)
		if c.memo == nil {
			c.memo = map[memoKey][2]dist{}
		}
		c.memo[k] = [2]dist{s, f}
		return s, f
	}
	return c.conditioned(n, deadline, needF)
}

// conditioned is compose without the memo.
func (c *composer) conditioned(n *model.Node, deadline, needF bool) (s, f dist) {
	vars := c.closing[n]
	if len(vars) == 0 {
		return c.composeOp(n, deadline, needF)
	}
	c.condition(vars, func(w float64) {
		ks, kf := c.composeOp(n, deadline, needF)
		s = c.l.add(s, c.l.scale(ks, w))
		if needF {
			f = c.l.add(f, c.l.scale(kf, w))
		}
	})
	return s, f
}

// condition calls f once per up/down state of the persistent components
// vars, with the state fixed and its probability w (never 0).
func (c *composer) condition(vars []string, f func(w float64)) {
	if c.state == nil {
		c.state = map[string]float64{}
	}
	fixed := c.fixed
	for _, v := range vars {
		c.fixed |= c.bits[v]
	}
	for mask := range 1 << len(vars) {
		w := 1.0
		for i, v := range vars {
			a := c.prob(v)
			if mask>>i&1 == 1 {
				c.state[v], w = 1, w*a
			} else {
				c.state[v], w = 0, w*(1-a)
			}
		}
		if w != 0 {
			f(w)
		}
	}
	for _, v := range vars {
		delete(c.state, v)
	}
	c.fixed = fixed
}

// closings finds where each multiply-invoked persistent component is
// conditioned: the lowest common ancestor of its calls, raised above any
// retry that re-executes it.
func closings(j *model.Journey) map[*model.Node][]string {
	parent := map[*model.Node]*model.Node{}
	calls := map[string][]*model.Node{}
	var walk func(n *model.Node)
	walk = func(n *model.Node) {
		if n.Op == model.Call {
			calls[n.Component] = append(calls[n.Component], n)
		}
		for _, k := range n.Children {
			parent[k] = n
			walk(k)
		}
	}
	walk(j.Flow)
	path := func(n *model.Node) []*model.Node { // n up to the root
		var p []*model.Node
		for ; n != nil; n = parent[n] {
			p = append(p, n)
		}
		return p
	}
	out := map[*model.Node][]string{}
	for _, name := range j.ComponentNames() {
		cs := calls[name]
		if j.Components[name].Invocations != model.InvocationsPersistent || len(cs) == 0 {
			continue
		}
		// the lowest common ancestor: the deepest node on every path
		lca := cs[0]
		for _, x := range cs[1:] {
			on := map[*model.Node]bool{}
			for _, y := range path(x) {
				on[y] = true
			}
			for !on[lca] {
				lca = parent[lca]
			}
		}
		at, multi := lca, len(cs) > 1
		for _, y := range path(lca) {
			if y.Op == model.Retry && y.Attempts > 1 {
				at, multi = y, true
			}
		}
		if multi {
			out[at] = append(out[at], name)
		}
	}
	return out
}

// composeOp returns the sub-distributions of n's duration when it succeeds
// (s, of mass P(success)) and when it fails (f; computed only when needF,
// as only fallbacks, retries, races, quorums, joins and optionals read
// failure times). deadline says a deadline encloses n, so that a failed
// call under it takes forever.
func (c *composer) composeOp(n *model.Node, deadline, needF bool) (s, f dist) {
	l := c.l
	switch n.Op {
	case model.Call:
		a := c.p(n.Component)
		sm := c.succ[n.Component]
		s = c.of(sm, a)
		if needF {
			switch fm := c.fail[n.Component]; {
			case fm != nil:
				f = c.of(fm, 1-a)
			case deadline:
				f = dist{over: 1 - a}
			default:
				f = c.of(sm, 1-a)
			}
		}
		return s, f
	case model.Seq:
		ss := make([]dist, 0, len(n.Children))
		var fs []dist
		total := 1.0
		for _, k := range n.Children {
			sk, fk := c.compose(k, deadline, needF)
			ss = append(ss, sk)
			if needF {
				fs = append(fs, fk)
			}
			if total *= sk.total(); total == 0 {
				break // nothing left to succeed (a component down for good): the rest never runs
			}
		}
		return l.series(ss, fs)
	case model.All:
		ss := make([]dist, len(n.Children))
		fs := make([]dist, len(n.Children))
		for i, k := range n.Children {
			ss[i], fs[i] = c.compose(k, deadline, needF)
		}
		sc, st := c.product(ss, nil)
		s = c.l.fromCDF(sc, st)
		if needF {
			// every branch done, not every one successful
			dc, _ := c.product(ss, fs)
			for i := range dc {
				dc[i] -= sc[i]
			}
			f = c.l.fromCDF(dc, 1-st)
		}
		return s, f
	case model.Race:
		ss := make([]dist, len(n.Children))
		fs := make([]dist, len(n.Children))
		for i, k := range n.Children {
			sk, fk := c.compose(k, deadline, needF)
			off := l.index(float64(i) * n.HedgeAfter.Seconds())
			ss[i], fs[i] = l.shift(sk, off), l.shift(fk, off)
		}
		// P(some success by t) = 1 − Π(1 − S_i(t))
		miss := l.work().overwrite(l.n)
		for i := range miss {
			miss[i] = 1
		}
		missTotal := 1.0
		for _, d := range ss {
			cd := l.cdf(d)
			for i := range miss {
				miss[i] *= 1 - cd[i]
			}
			missTotal *= 1 - d.total()
		}
		for i := range miss {
			miss[i] = 1 - miss[i]
		}
		s = c.l.fromCDF(miss, 1-missTotal)
		if needF {
			fc, ft := c.product(fs, nil)
			f = c.l.fromCDF(fc, ft)
		}
		return s, f
	case model.Fallback:
		g := c.l.point(0, 1)
		last := len(n.Children) - 1
		for i, k := range n.Children {
			sk, fk := c.compose(k, deadline, i < last || needF)
			s = c.l.add(s, l.conv(g, sk))
			if i < last || needF {
				g = l.conv(g, fk)
			}
		}
		if needF {
			f = g
		}
		return s, f
	case model.Quorum:
		ss := make([]dist, len(n.Children))
		fs := make([]dist, len(n.Children))
		for i, k := range n.Children {
			ss[i], fs[i] = c.compose(k, deadline, needF)
		}
		s = c.atLeast(ss, n.K)
		if needF {
			f = c.atLeast(fs, len(n.Children)-n.K+1)
		}
		return s, f
	case model.Branch:
		for i, k := range n.Children {
			sk, fk := c.compose(k, deadline, needF)
			s = c.l.add(s, c.l.scale(sk, n.Weights[i]))
			if needF {
				f = c.l.add(f, c.l.scale(fk, n.Weights[i]))
			}
		}
		return s, f
	case model.Retry:
		t := n.PerTryTimeout.Seconds()
		more := n.Attempts > 1
		sk, fk := c.compose(n.Children[0], deadline || t > 0, more || needF)
		if t > 0 {
			sk, fk = c.cut(n.Children[0], sk, fk, t, more || needF)
		}
		back := l.index(n.Backoff.Seconds())
		g := c.l.point(0, 1)
		for a := range n.Attempts {
			s = c.l.add(s, l.conv(g, sk))
			switch {
			case a < n.Attempts-1:
				g = l.shift(l.conv(g, fk), back)
			case needF:
				f = l.conv(g, fk)
			}
		}
		return s, f
	case model.Timeout:
		sk, fk := c.compose(n.Children[0], true, needF)
		return c.cut(n.Children[0], sk, fk, n.After.Seconds(), needF)
	case model.Optional:
		sk, fk := c.compose(n.Children[0], deadline, true)
		return c.l.add(sk, fk), dist{}
	case model.Async:
		return c.l.point(0, 1), dist{}
	}
	panic(fmt.Sprintf("latency: unknown operator %v", n.Op))
}

// of discretises a call's duration; a component without latency takes no
// time.
func (c *composer) of(m Marginal, w float64) dist {
	if w == 0 {
		return dist{}
	}
	if m == nil {
		return c.l.point(0, w)
	}
	u, ok := c.units[m]
	if !ok {
		if c.units == nil {
			c.units = map[Marginal]dist{}
		}
		u = c.l.of(m, 1)
		c.units[m] = u
	}
	return c.l.scale(u, w)
}

// cut applies a deadline t to operand n's sub-distributions: successes
// after t fail at t, as does everything still running (failures under the
// deadline take forever). A single call is cut exactly, from its
// marginal.
func (c *composer) cut(n *model.Node, s, f dist, t float64, needF bool) (dist, dist) {
	ks, cs := c.l.cut(s, t)
	if m := c.succ[n.Component]; n.Op == model.Call && m != nil && !c.l.up {
		if _, fixed := m.(Fixed); !fixed {
			// the lattice spreads the step around t evenly: the marginal
			// knows how much of it lies below t
			k := c.l.index(t)
			if d := c.p(n.Component)*m.CDF(t) - ks.total(); k < c.l.n && d != 0 {
				ks = c.l.add(ks, c.l.point(k, d))
				cs -= d
			}
		}
	}
	if !needF {
		return ks, dist{}
	}
	kf, cf := c.l.cut(f, t)
	at := c.l.index(t)
	if at < c.l.n {
		return ks, c.l.add(kf, c.l.point(at, cs+cf))
	}
	return ks, dist{p: kf.p, over: kf.over + cs + cf}
}

// product is Π_i (A_i(t) + B_i(t)) over the lattice, A and B cumulative
// (B may be nil), and the same for the totals.
func (c *composer) product(a, b []dist) ([]float64, float64) {
	out := c.l.work().overwrite(c.l.n)
	for i := range out {
		out[i] = 1
	}
	total := 1.0
	for k, d := range a {
		cd := c.l.cdf(d)
		t := d.total()
		if b != nil {
			for i, v := range c.l.cdf(b[k]) {
				cd[i] += v
			}
			t += b[k].total()
		}
		for i := range out {
			out[i] *= cd[i]
		}
		total *= t
	}
	return out, total
}

// atLeast is the sub-distribution of the time by which at least k of the
// independent events have happened, event i by t with probability D_i(t).
func (c *composer) atLeast(ds []dist, k int) dist {
	cds := make([][]float64, len(ds))
	tot := make([]float64, len(ds))
	for i, d := range ds {
		cds[i], tot[i] = c.l.cdf(d), d.total()
	}
	out := c.l.work().overwrite(c.l.n)
	ps := make([]float64, len(ds))
	for t := range out {
		for i := range ds {
			ps[i] = cds[i][t]
		}
		out[t] = tail(ps, k)
	}
	return c.l.fromCDF(out, tail(tot, k))
}

// tail is P(at least k of independent events with probabilities ps).
func tail(ps []float64, k int) float64 {
	if k <= 0 {
		return 1
	}
	// dp[j]: P(exactly j so far), j < k; the rest is absorbed in done
	dp := make([]float64, k)
	dp[0] = 1
	done := 0.0
	for _, p := range ps {
		done += dp[k-1] * p
		for j := k - 1; j > 0; j-- {
			dp[j] = dp[j]*(1-p) + dp[j-1]*p
		}
		dp[0] *= 1 - p
	}
	return math.Min(1, done)
}
