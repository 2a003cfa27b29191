package latency

import (
	"fmt"
	"sort"

	"github.com/emac-dev/emac/internal/model"
)

// The dependence-free bound. For each node, lower bounds on the CDFs of
// its duration given that it succeeded (s) and given that it failed (f),
// which hold however the components' durations are coupled — only their
// marginals are known. Which calls succeed stays as in the independent
// estimate (the bound frees the latencies, not the failures). Values are
// on the points of a lattice that rounds up, where a bound on the lattice
// is a bound on the true CDF.
//
//   - seq and the paths of fallback and retry: the standard (Makarov)
//     bound on a sum, P(X+Y ≤ t) ≥ max_x (F_X(x) + F_Y(t−x) − 1)⁺,
//     applied pairwise, which equals the joint bound and is polynomial in
//     the number of operands;
//   - all: P(max ≤ t) ≥ (Σ F_i(t) − (n−1))⁺ (Fréchet);
//   - race: given which branch is the first to succeed (in order), the
//     winner is no slower than it: Σ_j P(j first | success)·F_j(t − o_j);
//   - quorum: at least k of n events, E_i = "branch i succeeded by t",
//     P ≥ (Σ P(E_i) − (k−1))/(n−k+1), and P ≥ P(k succeed) − Σ P(branch
//     i succeeds after t);
//   - branch: the mixture.
//
// It takes flows without deadlines: a deadline makes which calls succeed
// depend on the latencies, and Analyze bounds such flows by robust.go.
type bounder struct {
	l *lattice
	c *composer // the marginals, availabilities and persistent states
	// ones is the CDF of a duration of 0.
	ones []float64
	// cdfs are the marginals on the lattice, on first use
	cdfs map[Marginal][]float64
}

// bnd is a node's bound: P(success), and the CDF lower bounds given
// success and given failure (nil when not needed).
type bnd struct {
	a    float64
	s, f []float64
}

func newBounder(l *lattice, c *composer) *bounder {
	b := &bounder{l: l, c: c, ones: l.work().make(l.n)}
	for i := range b.ones {
		b.ones[i] = 1
	}
	return b
}

// cdfOf is a marginal's CDF on the lattice points (a component without
// latency takes no time).
func (b *bounder) cdfOf(m Marginal) []float64 {
	if m == nil {
		return b.ones
	}
	if out, ok := b.cdfs[m]; ok {
		return out
	}
	out := b.l.work().overwrite(b.l.n)
	if g, ok := m.(gridCDF); ok && b.l.up {
		// a lattice that rounds up reads marginals at i·h, as below
		ts, ys := b.l.points(0, b.l.n)
		g.cdfs(out, ts, ys)
	} else {
		for i := range out {
			out[i] = m.CDF(float64(i) * b.l.h)
		}
	}
	if b.cdfs == nil {
		b.cdfs = map[Marginal][]float64{}
	}
	b.cdfs[m] = out
	return out
}

// sum is the standard bound on the CDF of the sum of durations with CDFs
// at least x and y: out[k] = max over i+j=k of (x[i] + y[j] − 1)⁺. Both are
// nondecreasing, so only the stretch where each lies strictly between 0
// and 1 needs the double loop: from x's first 1 on, later i are dominated,
// and y's 1s add a shifted copy of x.
func (b *bounder) sum(x, y []float64) []float64 {
	n := b.l.n
	out := b.l.work().make(n)
	ix := firstOne(x)
	jy := firstOne(y)
	if jy < n {
		for k := jy; k < n; k++ {
			out[k] = x[k-jy]
		}
	}
	if ix < n {
		for k := ix; k < n; k++ {
			out[k] = max(out[k], y[k-ix])
		}
	}
	for i := range min(ix, n) {
		xi := x[i]
		if xi <= 0 {
			continue
		}
		// y[j] > 1 − xi from some j0 on
		j0 := sort.SearchFloat64s(y[:min(jy, n)], 1-xi)
		j1 := min(jy, n-i)
		if j0 >= j1 {
			continue
		}
		// sliced once, so that the loop runs without bounds checks
		ys, os := y[j0:j1], out[i+j0:i+j1]
		os = os[:len(ys)]
		c := xi - 1
		for k, v := range ys {
			if w := c + v; w > os[k] {
				os[k] = w
			}
		}
	}
	return monotone(out)
}

// firstOne is the first index where a CDF bound reaches 1 (len when
// never).
func firstOne(x []float64) int {
	return sort.Search(len(x), func(i int) bool { return x[i] >= 1 })
}

// sums folds sum over the operands (the CDF of 0 for none).
func (b *bounder) sums(xs ...[]float64) []float64 {
	acc := b.ones
	for _, x := range xs {
		acc = b.sum(acc, x)
	}
	return acc
}

// shift delays a CDF bound by d seconds (rounded up: a later duration
// bounds from below).
func (b *bounder) shift(x []float64, d float64) []float64 {
	k := b.l.index(d)
	out := b.l.work().make(b.l.n)
	if k < b.l.n {
		copy(out[k:], x)
	}
	return out
}

// mix is Σ w_i x_i.
func (b *bounder) mix(ws []float64, xs [][]float64) []float64 {
	out := b.l.work().make(b.l.n)
	for k, x := range xs {
		for i, v := range x {
			out[i] += ws[k] * v
		}
	}
	return out
}

// monotone makes a bound nondecreasing (a CDF at t bounds it at later t)
// and at most 1.
func monotone(x []float64) []float64 {
	best := 0.0
	for i, v := range x {
		best = max(best, min(v, 1))
		x[i] = best
	}
	return x
}

// bound computes n's bound; needF asks for the failure CDF. A persistent
// component closing at n is conditioned on, as compose does: the bounds
// given each state, mixed.
func (b *bounder) bound(n *model.Node, needF bool) bnd {
	c := b.c
	vars := c.closing[n]
	if len(vars) == 0 {
		return b.boundOp(n, needF)
	}
	var out bnd
	var ws, fws []float64
	var ss, fs [][]float64
	c.condition(vars, func(w float64) {
		k := b.boundOp(n, needF)
		out.a += w * k.a
		ws, ss = append(ws, w*k.a), append(ss, k.s)
		if needF {
			fws, fs = append(fws, w*(1-k.a)), append(fs, k.f)
		}
	})
	out.s = b.mix(normalise(ws), ss)
	if needF {
		out.f = b.mix(normalise(fws), fs)
	}
	return out
}

// boundOp is bound without conditioning at n.
func (b *bounder) boundOp(n *model.Node, needF bool) bnd {
	switch n.Op {
	case model.Call:
		a := b.c.p(n.Component)
		out := bnd{a: a, s: b.cdfOf(b.c.succ[n.Component])}
		if needF {
			switch fm := b.c.fail[n.Component]; {
			case fm != nil:
				out.f = b.cdfOf(fm)
			default:
				out.f = out.s
			}
		}
		return out
	case model.Seq:
		ks := make([]bnd, len(n.Children))
		for i, k := range n.Children {
			ks[i] = b.bound(k, needF)
		}
		out := bnd{a: 1}
		prefix := b.ones
		var ws []float64
		var fs [][]float64
		for _, k := range ks {
			if needF {
				ws = append(ws, out.a*(1-k.a))
				fs = append(fs, b.sum(prefix, k.f))
			}
			out.a *= k.a
			prefix = b.sum(prefix, k.s)
		}
		out.s = prefix
		if needF {
			out.f = b.mix(normalise(ws), fs)
		}
		return out
	case model.All:
		ks := make([]bnd, len(n.Children))
		out := bnd{a: 1}
		for i, k := range n.Children {
			ks[i] = b.bound(k, needF)
			out.a *= ks[i].a
		}
		out.s = b.frechet(ks, func(k bnd) []float64 { return k.s })
		if needF {
			out.f = b.frechet(ks, b.either)
		}
		return out
	case model.Race:
		miss := 1.0
		var ws []float64
		var ss, fs [][]float64
		for i, k := range n.Children {
			kb := b.bound(k, needF)
			off := float64(i) * n.HedgeAfter.Seconds()
			ws = append(ws, miss*kb.a)
			ss = append(ss, b.shift(kb.s, off))
			if needF {
				fs = append(fs, b.shift(kb.f, off))
			}
			miss *= 1 - kb.a
		}
		out := bnd{a: 1 - miss, s: b.mix(normalise(ws), ss)}
		if needF {
			out.f = b.frechetOf(fs)
		}
		return out
	case model.Fallback:
		last := len(n.Children) - 1
		miss := 1.0
		prefix := b.ones
		var ws []float64
		var ss [][]float64
		for i, k := range n.Children {
			kb := b.bound(k, i < last || needF)
			ws = append(ws, miss*kb.a)
			ss = append(ss, b.sum(prefix, kb.s))
			miss *= 1 - kb.a
			if i < last || needF {
				prefix = b.sum(prefix, kb.f)
			}
		}
		out := bnd{a: 1 - miss, s: b.mix(normalise(ws), ss)}
		if needF {
			out.f = prefix
		}
		return out
	case model.Quorum:
		ks := make([]bnd, len(n.Children))
		ps := make([]float64, len(ks))
		for i, k := range n.Children {
			ks[i] = b.bound(k, needF)
			ps[i] = ks[i].a
		}
		out := bnd{a: tail(ps, n.K)}
		out.s = b.atLeast(ks, n.K, out.a, func(k bnd) (float64, []float64) { return k.a, k.s })
		if needF {
			out.f = b.atLeast(ks, len(ks)-n.K+1, 1-out.a, func(k bnd) (float64, []float64) { return 1 - k.a, k.f })
		}
		return out
	case model.Branch:
		var out bnd
		var sw, fw []float64
		var ss, fs [][]float64
		for i, k := range n.Children {
			kb := b.bound(k, needF)
			out.a += n.Weights[i] * kb.a
			sw, ss = append(sw, n.Weights[i]*kb.a), append(ss, kb.s)
			if needF {
				fw, fs = append(fw, n.Weights[i]*(1-kb.a)), append(fs, kb.f)
			}
		}
		out.s = b.mix(normalise(sw), ss)
		if needF {
			out.f = b.mix(normalise(fw), fs)
		}
		return out
	case model.Retry:
		if n.PerTryTimeout > 0 {
			panic("latency: a per-try timeout in the bounder (Analyze bounds deadlines by robust.go)")
		}
		k := b.bound(n.Children[0], n.Attempts > 1 || needF)
		back := n.Backoff.Seconds()
		miss := 1.0
		prefix := b.ones
		var ws []float64
		var ss [][]float64
		for a := range n.Attempts {
			ws = append(ws, miss*k.a)
			ss = append(ss, b.sum(prefix, k.s))
			miss *= 1 - k.a
			if a < n.Attempts-1 {
				prefix = b.shift(b.sum(prefix, k.f), back)
			} else if needF {
				prefix = b.sum(prefix, k.f)
			}
		}
		out := bnd{a: 1 - miss, s: b.mix(normalise(ws), ss)}
		if needF {
			out.f = prefix
		}
		return out
	case model.Timeout:
		panic("latency: a timeout in the bounder (Analyze bounds deadlines by robust.go)")
	case model.Optional:
		k := b.bound(n.Children[0], true)
		s := b.either(k)
		return bnd{a: 1, s: s, f: s} // (it never fails: f weighs nothing)
	case model.Async:
		return bnd{a: 1, s: b.ones, f: b.ones}
	}
	panic(fmt.Sprintf("latency: unknown operator %v", n.Op))
}

// either bounds a node's duration whatever its outcome.
func (b *bounder) either(k bnd) []float64 {
	out := b.l.work().overwrite(len(k.s))
	for i := range out {
		out[i] = min(k.s[i], k.f[i])
	}
	return out
}

// frechet is (Σ x_i − (n−1))⁺ over the operands' bounds.
func (b *bounder) frechet(ks []bnd, x func(bnd) []float64) []float64 {
	xs := make([][]float64, len(ks))
	for i, k := range ks {
		xs[i] = x(k)
	}
	return b.frechetOf(xs)
}

func (b *bounder) frechetOf(xs [][]float64) []float64 {
	out := b.l.work().overwrite(b.l.n)
	for i := range out {
		v := 1 - float64(len(xs))
		for _, x := range xs {
			v += x[i]
		}
		out[i] = max(0, v)
	}
	return out
}

// atLeast bounds P(at least k operands have the outcome by t | the node
// has it), over the outcome's probability total. Two bounds hold and the
// larger is taken: (Σ p_i x_i(t) − (k−1))/(n−k+1) (by counting), and
// total − Σ p_i (1 − x_i(t)) (the node has the outcome and every operand
// that has it has it by t), which reaches 1 when every x_i does.
func (b *bounder) atLeast(ks []bnd, k int, total float64, of func(bnd) (float64, []float64)) []float64 {
	out := b.l.work().make(b.l.n)
	if !(total > 0) {
		return out
	}
	for i := range out {
		count, late := -float64(k-1), 0.0
		for _, kb := range ks {
			p, x := of(kb)
			count += p * x[i]
			late += p * (1 - x[i])
		}
		out[i] = max(0, count/float64(len(ks)-k+1), total-late) / total
	}
	return monotone(out)
}

// normalise scales weights to sum to 1 (all 0 stays 0).
func normalise(ws []float64) []float64 {
	s := 0.0
	for _, w := range ws {
		s += w
	}
	if s > 0 {
		for i := range ws {
			ws[i] /= s
		}
	}
	return ws
}

// upper reads the q-quantile's upper bound: the first lattice point where
// the bound reaches q; ok is false when it never does within the lattice.
func (b *bounder) upper(s []float64, q float64) (float64, bool) {
	for i, v := range s {
		if v >= q-1e-12 {
			return float64(i) * b.l.h, true
		}
	}
	return 0, false
}
