package latency

import (
	"fmt"
	"math"
	"sort"

	"github.com/emac-dev/emac/internal/model"
)

// The dependence-free bound when deadlines act. A deadline makes whether a
// call succeeds depend on its latency, so a coupling of the latencies also
// moves which executions succeed and which paths run: conditioning on
// success no longer leaves each duration's marginal as it was, and the
// bound of bound.go, which takes the successes as under independence,
// does not cover it. This one conditions on nothing. Per node it bounds
// sub-probabilities of events, never conditional distributions:
//
//   - o, the probability that the node succeeds with every duration 0: it
//     depends on the outcome draws only, which are independent of all
//     durations and of every other operand's draws. A success within the
//     deadlines implies it (deadlines only take successes away).
//   - lo, a lower bound on P(success), whatever the coupling.
//   - s(x) ≥ P(success ∧ D > x) and f(x) ≥ P(failure ∧ D > x).
//
// The rules combine operands A and B through one fact: an event E about A
// and B's untimed success O_B are independent, so P(E ∧ S_B) ≤ o_B·P(E);
// and B's failure lies in ¬O_B ∪ (O_B ∧ ¬S_B), so P(E ∧ F_B) ≤
// (1 − o_B)·P(E) + min(P(E), o_B − lo_B) (cover). Sums take the standard
// bound P(E ∧ X+Y > x) ≤ P(E ∧ X > y) + P(E ∧ Y > x−y) at the best split
// (a min-plus convolution); a deadline T makes s zero from T on and moves
// P(success ∧ D > T) into failure. The journey's bound is then
// P(L ≤ x | success) ≥ 1 − s(x)/lo. Without deadlines lo = o = P(success)
// and the rules give the bound of bound.go's sums and joins.

// excess is an upper bound on P(E ∧ D > x) at each lattice point x = i·h,
// for an event E and a duration D; top bounds P(E), the value for x < 0.
// The last point bounds every x beyond the lattice.
type excess struct {
	u   []float64
	top float64
}

// rbnd is a node's bound: see the comment above.
type rbnd struct {
	o, lo float64
	s, f  excess
}

// robust computes the deadline-proof bounds over b's lattice.
type robust struct {
	b *bounder
	// memo holds the bounds of nodes that read none of the state fixed
	// when they were computed (composer.reuse); nil: none kept
	memo map[memoKey]rbnd
}

// work is where r's arrays are made: its lattice's workspace (a robust
// without a bounder, as tests make one, allocates on the heap).
func (r robust) work() *workspace {
	if r.b == nil || r.b.l == nil {
		return &workspace{plain: true}
	}
	return r.b.l.work()
}

// zero is the excess of a duration of 0 on an event of probability at most
// top.
func (r robust) zero(top float64) excess { return excess{u: r.work().make(r.b.l.n), top: top} }

// scale is k·t.
func (r robust) scale(t excess, k float64) excess {
	out := excess{u: r.work().overwrite(len(t.u)), top: k * t.top}
	for i, v := range t.u {
		out.u[i] = k * v
	}
	return out
}

// sum is a + b.
func (r robust) sum(a, b excess) excess {
	out := excess{u: r.work().overwrite(len(a.u)), top: a.top + b.top}
	for i := range out.u {
		out.u[i] = a.u[i] + b.u[i]
	}
	return out
}

// addTo adds k·t to acc in place: acc must be the caller's own (made by
// zero), never an operand's, which others may still read.
func (r robust) addTo(acc *excess, t excess, k float64) {
	acc.top += k * t.top
	for i, v := range t.u {
		acc.u[i] += k * v
	}
}

// cover bounds P(E ∧ X) from e ≥ P(E ∧ …) when X lies in an outcome event
// of probability q (independent of E) and a residue of probability at
// most rest: q·e + min(e, rest).
func (r robust) cover(e excess, q, rest float64) excess {
	rest = max(rest, 0)
	out := excess{u: r.work().overwrite(len(e.u)), top: q*e.top + min(e.top, rest)}
	for i, v := range e.u {
		out.u[i] = q*v + min(v, rest)
	}
	return out
}

// conv bounds P(E ∧ X+Y > x) from a ≥ P(E ∧ X > ·) and b ≥ P(E ∧ Y > ·):
// the minimum over the splits of a(y) + b(x−y), a split beyond the lattice
// included.
func (r robust) conv(a, b excess) excess {
	n := len(a.u)
	top := min(a.top, b.top)
	out := excess{u: r.work().overwrite(n), top: top}
	// from its first zero on, a tail stays 0: a split that puts the rest
	// of the duration there costs only the other side, whose smallest
	// value is at the largest index allowed
	za, zb := zeroFrom(a.u), zeroFrom(b.u)
	// on tails that are nonincreasing and not negative (all are, but the
	// bound must not rest on it), only the splits where each side alone
	// lies below the best so far can beat it: minPlus scans those only,
	// and finds the same minimum
	window := decreasing(a) && decreasing(b)
	ja, jb := 0, 0 // where a and b first lie below the best, when window
	// the splits beyond the lattice
	far := min(top, a.top+b.u[n-1], a.u[n-1]+b.top)
	arg := 0 // the best split of the previous point, a good first guess
	for i := range out.u {
		best := far
		lo, hi := 0, i // the splits j (a's share) left to scan
		if i >= zb {
			best = min(best, a.u[i-zb])
			lo = i - zb + 1
		}
		if i >= za {
			best = min(best, b.u[i-za])
			hi = za - 1
		}
		if lo <= arg && arg <= hi {
			best = min(best, a.u[arg]+b.u[i-arg])
		}
		if lo <= hi {
			if window {
				// the best moves little from one point to the next: so
				// do where the tails cross it
				ja, jb = cross(a.u, ja, best), cross(b.u, jb, best)
				lo, hi = max(lo, ja), min(hi, i-jb)
			}
			best, arg = minPlus(a.u, b.u, i, lo, hi, best, arg)
		}
		out.u[i] = best
	}
	return out
}

// decreasing reports whether t is nonincreasing and not negative, with no
// negative zero (on which the order splits are scanned in could tell in
// the sign of a 0) and no NaN. Such numbers, sign bit clear, are ordered
// as their bits are.
func decreasing(t excess) bool {
	const inf = 0x7ff0000000000000 // the bits of +Inf: NaNs and signs lie above
	if math.Float64bits(t.top) > inf {
		return false
	}
	prev := uint64(inf)
	for _, v := range t.u {
		b := math.Float64bits(v)
		if b > prev {
			return false
		}
		prev = b
	}
	return true
}

// cross is the first index k with u[k] < v (len(u) when none), u
// nonincreasing, searched from k.
func cross(u []float64, k int, v float64) int {
	for k > 0 && u[k-1] < v {
		k--
	}
	for k < len(u) && !(u[k] < v) {
		k++
	}
	return k
}

// convBlock is the number of splits minPlus bounds at once.
const convBlock = 16

// minPlus is the least of best and a[j] + b[i−j] for j in [lo, hi], with
// the j that attains it (arg if none beats best). Both tails are
// nonincreasing and not negative, so only splits where each side alone is
// below best can beat it (conv narrows the scan to them), and no split of a
// block [j1, j2] is below a[j2] + b[i−j1]: a block that cannot beat the
// best so far is skipped whole. The minimum is the same number a full
// scan finds; were a tail not monotone, a skipped split could only make
// the bound looser, never wrong.
func minPlus(a, b []float64, i, lo, hi int, best float64, arg int) (float64, int) {
	for j1 := lo; j1 <= hi; j1 += convBlock {
		j2 := min(j1+convBlock-1, hi)
		if a[j2]+b[i-j1] >= best {
			continue
		}
		as, bs := a[j1:j2+1], b[i-j2:i-j1+1]
		bs = bs[:len(as)]
		for k, v := range as {
			// a's share ascending meets b's descending: b read backwards
			if w := v + bs[len(bs)-1-k]; w < best {
				best, arg = w, j1+k
			}
		}
	}
	return best, arg
}

// capped lowers e to at most p, a bound on its event's probability.
func capped(e excess, p float64) excess {
	e.top = min(e.top, p)
	for i, v := range e.u {
		e.u[i] = min(v, e.top)
	}
	return e
}

// zeroFrom is the first index from which u is 0 (len(u) when never): u is
// nonincreasing and not negative.
func zeroFrom(u []float64) int {
	return sort.Search(len(u), func(i int) bool { return u[i] <= 0 })
}

// shift delays an excess by d seconds: t(x − d), rounded so as to stay an
// upper bound.
func (r robust) shift(t excess, d float64) excess {
	k := r.b.l.index(d)
	if k == 0 {
		return t
	}
	out := excess{u: r.work().overwrite(len(t.u)), top: t.top}
	for i := range out.u {
		if i < k {
			out.u[i] = t.top
		} else {
			out.u[i] = t.u[i-k]
		}
	}
	return out
}

// at reads an excess at a duration x (seconds): the lattice point at or
// below it bounds it.
func (r robust) at(t excess, x float64) float64 {
	if x < 0 {
		return t.top
	}
	i := int(x/r.b.l.h + 1e-9)
	if i >= len(t.u) {
		return t.u[len(t.u)-1]
	}
	return t.u[i]
}

// marginal is P(D > x) for a call's duration from m (nil: no time).
func (r robust) marginal(m Marginal, w float64) excess {
	out := r.zero(w)
	if m == nil {
		return out
	}
	cdf := r.b.cdfOf(m)
	for i, v := range cdf {
		out.u[i] = w * (1 - v)
	}
	return out
}

// bound computes n's bound; a persistent component closing at n is
// conditioned on, and the bounds given each state mixed (every quantity
// is the probability of an event). needF asks for f: without, f is left
// empty, and nothing of o, lo and s depends on it, so the operands'
// failure bounds are computed only where a fallback, a retry or an
// optional reads them (the journey's own is never read).
func (r robust) bound(n *model.Node, deadline, needF bool) rbnd {
	if r.memo == nil || !r.b.c.reuse(n) {
		return r.conditioned(n, deadline, needF)
	}
	k := memoKey{n: n, deadline: deadline, need: needF}
	if v, ok := r.memo[k]; ok {
		return v
	}
	v := r.conditioned(n, deadline, needF)
	r.memo[k] = v
	return v
}

// conditioned is bound without the memo.
func (r robust) conditioned(n *model.Node, deadline, needF bool) rbnd {
	c := r.b.c
	vars := c.closing[n]
	if len(vars) == 0 {
		return r.op(n, deadline, needF)
	}
	out := rbnd{s: r.zero(0)}
	if needF {
		out.f = r.zero(0)
	}
	c.condition(vars, func(w float64) {
		k := r.op(n, deadline, needF)
		out.o += w * k.o
		out.lo += w * k.lo
		r.addTo(&out.s, k.s, w)
		if needF {
			r.addTo(&out.f, k.f, w)
		}
	})
	return out
}

// op is bound without conditioning at n.
func (r robust) op(n *model.Node, deadline, needF bool) rbnd {
	c := r.b.c
	switch n.Op {
	case model.Call:
		p := c.p(n.Component)
		out := rbnd{o: p, lo: p, s: r.marginal(c.succ[n.Component], p)}
		if !needF {
			return out
		}
		switch fm := c.fail[n.Component]; {
		case fm != nil:
			out.f = r.marginal(fm, 1-p)
		case deadline:
			// it lasts until a deadline ends it
			out.f = r.zero(1 - p)
			for i := range out.f.u {
				out.f.u[i] = 1 - p
			}
		default:
			out.f = r.marginal(c.succ[n.Component], 1-p)
		}
		return out
	case model.Seq:
		acc := rbnd{o: 1, lo: 1, s: r.zero(1)}
		if needF {
			acc.f = r.zero(0)
		}
		for _, k := range n.Children {
			kb := r.bound(k, deadline, needF)
			if needF {
				// failing here: the prefix succeeded, this operand failed
				fail := r.conv(r.cover(acc.s, 1-kb.o, kb.o-kb.lo), r.scale(kb.f, acc.o))
				r.addTo(&acc.f, fail, 1)
			}
			acc.s = r.conv(r.scale(acc.s, kb.o), r.scale(kb.s, acc.o))
			acc.lo = max(0, acc.lo*kb.o-acc.o*(kb.o-kb.lo))
			acc.o *= kb.o
		}
		return acc
	case model.All:
		ks := make([]rbnd, len(n.Children))
		out := rbnd{o: 1, lo: 1, s: r.zero(0)}
		if needF {
			out.f = r.zero(0)
		}
		for i, k := range n.Children {
			ks[i] = r.bound(k, deadline, needF)
			out.lo = max(0, out.lo*ks[i].o-out.o*(ks[i].o-ks[i].lo))
			out.o *= ks[i].o
		}
		taken := slack(ks)
		for i, k := range ks {
			up := product(others(ks, i, func(m rbnd) float64 { return m.o }))
			// late and successful: this operand among the late ones
			r.addTo(&out.s, k.s, up)
			if needF {
				// done late and failed: this operand late, and it or
				// another failed
				r.addTo(&out.f, r.sum(k.f, r.cover(k.s, 1-up, taken-(k.o-k.lo))), 1)
			}
		}
		out.s = capped(out.s, out.o)
		if needF {
			out.f = capped(out.f, 1-out.lo)
		}
		return out
	case model.Race:
		ks := make([]rbnd, len(n.Children))
		for i, k := range n.Children {
			ks[i] = r.bound(k, deadline, needF)
		}
		out := rbnd{s: r.zero(0)}
		miss, rest := 1.0, 0.0 // before operand i: P(every untimed failure), Σ(o − lo)
		for i, k := range ks {
			off := float64(i) * n.HedgeAfter.Seconds()
			// the first operand, in order, to succeed is late: the race is
			// no later than it
			r.addTo(&out.s, r.cover(r.shift(k.s, off), miss, rest), 1)
			out.lo += miss * k.lo
			miss *= 1 - k.o
			rest += k.o - k.lo
		}
		out.o = 1 - miss
		out.s = capped(out.s, out.o)
		if !needF {
			return out
		}
		out.f = r.zero(0)
		taken := slack(ks)
		for i, k := range ks {
			down := product(others(ks, i, func(m rbnd) float64 { return 1 - m.o }))
			off := float64(i) * n.HedgeAfter.Seconds()
			r.addTo(&out.f, r.cover(r.shift(k.f, off), down, taken-(k.o-k.lo)), 1)
		}
		out.f = capped(out.f, 1-out.lo)
		return out
	case model.Fallback:
		// every failure but the last one's delays what follows
		ks := make([]rbnd, len(n.Children))
		for i, k := range n.Children {
			ks[i] = r.bound(k, deadline, i < len(ks)-1 || needF)
		}
		return r.chain(ks, needF)
	case model.Retry:
		t := n.PerTryTimeout.Seconds()
		more := n.Attempts > 1
		k := r.bound(n.Children[0], deadline || t > 0, more || needF)
		if t > 0 {
			k = r.cut(k, t, more || needF)
		}
		ks := make([]rbnd, n.Attempts)
		if more {
			// every attempt after the first starts a backoff after a
			// failure
			b := n.Backoff.Seconds()
			later := rbnd{o: k.o, lo: k.lo, s: r.shift(k.s, b), f: r.shift(k.f, b)}
			for i := range ks {
				ks[i] = later
			}
		}
		ks[0] = k
		return r.chain(ks, needF)
	case model.Timeout:
		return r.cut(r.bound(n.Children[0], true, needF), n.After.Seconds(), needF)
	case model.Quorum:
		ks := make([]rbnd, len(n.Children))
		os := make([]float64, len(ks))
		for i, k := range n.Children {
			ks[i] = r.bound(k, deadline, needF)
			os[i] = ks[i].o
		}
		taken := slack(ks)
		out := rbnd{o: tail(os, n.K), s: r.zero(0)}
		if needF {
			out.f = r.zero(0)
		}
		out.lo = max(0, out.o-taken)
		for i, k := range ks {
			ups := others(ks, i, func(m rbnd) float64 { return m.o })
			// late and successful: a successful operand is late, and k − 1
			// others succeed
			r.addTo(&out.s, k.s, tail(ups, n.K-1))
			if needF {
				downs := others(ks, i, func(m rbnd) float64 { return 1 - m.o })
				// late and failed: a failed operand is late, and n − k
				// others fail
				r.addTo(&out.f, r.cover(k.f, tail(downs, len(ks)-n.K), taken-(k.o-k.lo)), 1)
			}
		}
		out.s = capped(out.s, out.o)
		if needF {
			out.f = capped(out.f, 1-out.lo)
		}
		return out
	case model.Branch:
		out := rbnd{s: r.zero(0)}
		if needF {
			out.f = r.zero(0)
		}
		for i, k := range n.Children {
			kb := r.bound(k, deadline, needF)
			w := n.Weights[i]
			out.o += w * kb.o
			out.lo += w * kb.lo
			r.addTo(&out.s, kb.s, w)
			if needF {
				r.addTo(&out.f, kb.f, w)
			}
		}
		return out
	case model.Optional:
		k := r.bound(n.Children[0], deadline, true)
		s := r.sum(k.s, k.f)
		s.top = 1
		out := rbnd{o: 1, lo: 1, s: s}
		if needF {
			out.f = r.zero(0)
		}
		return out
	case model.Async:
		out := rbnd{o: 1, lo: 1, s: r.zero(1)}
		if needF {
			out.f = r.zero(0)
		}
		return out
	}
	panic(fmt.Sprintf("latency: unknown operator %v", n.Op))
}

// cut applies a deadline t: a success after t fails at t (f only when
// needF).
func (r robust) cut(k rbnd, t float64, needF bool) rbnd {
	late := r.at(k.s, t)
	out := rbnd{o: k.o, lo: max(0, k.lo-late), s: excess{u: r.work().make(len(k.s.u)), top: k.s.top}}
	if needF {
		out.f = excess{u: r.work().make(len(k.f.u)), top: k.f.top + late}
	}
	for i := range out.s.u {
		if float64(i)*r.b.l.h < t-1e-12 {
			out.s.u[i] = k.s.u[i]
			if needF {
				out.f.u[i] = k.f.u[i] + late
			}
		}
	}
	return out
}

// chain is operands run one after another until one succeeds (fallback;
// retry's attempts): it succeeds on the first success, after the failures
// before it; it fails when all do. Every operand's f but the last's is
// read; the last's, and the chain's f, only when needF.
func (r robust) chain(ks []rbnd, needF bool) rbnd {
	out := rbnd{s: r.zero(0)}
	pf := r.zero(1)        // the failures so far: P(all failed ∧ their time > x)
	miss, rest := 1.0, 0.0 // P(every untimed failure) so far, Σ(o − lo)
	for i, k := range ks {
		path := r.conv(r.scale(pf, k.o), r.cover(k.s, miss, rest))
		r.addTo(&out.s, path, 1)
		out.lo += miss * k.lo
		if i < len(ks)-1 || needF {
			pf = r.conv(r.cover(pf, 1-k.o, k.o-k.lo), r.cover(k.f, miss, rest))
		}
		miss *= 1 - k.o
		rest += k.o - k.lo
	}
	out.o = 1 - miss
	out.s = capped(out.s, out.o)
	if needF {
		out.f = pf
	}
	return out
}

// others lists f of every operand but the i-th.
func others(ks []rbnd, i int, f func(rbnd) float64) []float64 {
	out := make([]float64, 0, len(ks))
	for j, k := range ks {
		if j != i {
			out = append(out, f(k))
		}
	}
	return out
}

// slack is Σ (o − lo) over the operands: at most how much of their untimed
// successes the deadlines take.
func slack(ks []rbnd) float64 {
	s := 0.0
	for _, k := range ks {
		s += k.o - k.lo
	}
	return s
}

// product is Π xs.
func product(xs []float64) float64 {
	p := 1.0
	for _, x := range xs {
		p *= x
	}
	return p
}
