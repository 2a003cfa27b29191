package bounds

import (
	"math"

	"github.com/emac-dev/emac/internal/model"
)

// scenario fixes the correlation model: which domains share fate and which
// multiply-invoked components are persistent.
type scenario struct {
	shared     []bool // per domain
	persistent []bool // per component
}

func (t *tree) independent() scenario {
	s := scenario{shared: make([]bool, len(t.domains)), persistent: make([]bool, len(t.comps))}
	for ci := range t.comps {
		s.persistent[ci] = t.inv[ci] == model.InvocationsPersistent && t.multi(ci)
	}
	return s
}

func (s scenario) clone() scenario {
	return scenario{shared: append([]bool(nil), s.shared...), persistent: append([]bool(nil), s.persistent...)}
}

// latent is a hidden binary variable of a scenario: a group's common cause
// or a persistent component's state. p is the probability of its bad state
// (cause fired / component down); leaves are the calls it affects.
type latent struct {
	p      float64
	leaves []int
	close  int
}

// evaluator computes the journey's success probability under one scenario
// by local conditioning: each latent variable is summed out at the node
// where its calls meet (its closing node); below it, nodes carry a table
// indexed by the states of the variables crossing them.
type evaluator struct {
	t *tree
	// per scenario
	vars      []latent
	compGroup []int     // latent index of the component's group, or -1
	compPers  []int     // latent index of the component's persistent state, or -1
	compP     []float64 // success probability of a call given its vars are good

	// per evaluation
	cross, closeAt [][]int
	touched        []bool
	stamp          []int
	isConst        []bool
	constVal       []float64
	buf            [][]float64
}

func newEvaluator(t *tree) *evaluator {
	n := len(t.nodes)
	e := &evaluator{t: t,
		cross: make([][]int, n), closeAt: make([][]int, n), touched: make([]bool, n),
		stamp: make([]int, n), isConst: make([]bool, n), constVal: make([]float64, n),
		compGroup: make([]int, len(t.comps)), compPers: make([]int, len(t.comps)), compP: make([]float64, len(t.comps)),
	}
	for i := range e.stamp {
		e.stamp[i] = -1
	}
	return e
}

// setScenario derives the latent variables of a scenario: shared domains
// that overlap merge into one group whose common cause fires with
// probability 1 − up (up = the largest member availability by default);
// members are otherwise up with probability a_i/up, keeping marginals.
func (e *evaluator) setScenario(s scenario) {
	t := e.t
	e.vars = e.vars[:0]
	for ci := range t.comps {
		e.compGroup[ci], e.compPers[ci], e.compP[ci] = -1, -1, t.a[ci]
	}
	// union-find over shared domains joined by common members
	uf := newUnionFind(len(t.domains))
	owner := map[int]int{} // component → a shared domain containing it
	for di, d := range t.domains {
		if !s.shared[di] || len(d.members) == 0 {
			continue
		}
		for _, ci := range d.members {
			if o, ok := owner[ci]; ok {
				uf.union(di, o)
			} else {
				owner[ci] = di
			}
		}
	}
	groupVar := map[int]int{}
	groupUp := map[int]float64{}
	for di, d := range t.domains {
		if s.shared[di] && len(d.members) > 0 {
			r := uf.find(di)
			groupUp[r] = max(groupUp[r], d.up)
		}
	}
	for di, d := range t.domains {
		if !s.shared[di] || len(d.members) == 0 || uf.find(di) != di {
			continue
		}
		groupVar[di] = len(e.vars)
		e.vars = append(e.vars, latent{p: 1 - groupUp[di]})
	}
	for ci := range t.comps {
		o, ok := owner[ci]
		if !ok {
			continue
		}
		r := uf.find(o)
		v := groupVar[r]
		e.compGroup[ci] = v
		up := groupUp[r]
		if up > 0 {
			e.compP[ci] = math.Min(1, t.a[ci]/up)
		} else {
			e.compP[ci] = 0
		}
		e.vars[v].leaves = append(e.vars[v].leaves, t.leaves[ci]...)
	}
	for ci := range t.comps {
		if !s.persistent[ci] || len(t.leaves[ci]) == 0 {
			continue
		}
		e.compPers[ci] = len(e.vars)
		e.vars = append(e.vars, latent{p: 1 - e.compP[ci], leaves: t.leaves[ci]})
		e.compP[ci] = 1
	}
	for i := range e.vars {
		e.vars[i].close = t.closing(e.vars[i].leaves)
	}
}

// eval returns the success probability of the subtree at root under the
// current scenario; nodes marked constant are taken as given.
func (e *evaluator) eval(root int) float64 {
	t := e.t
	var marked []int
	for vi, v := range e.vars {
		if !t.within(v.close, root) {
			continue
		}
		for _, l := range v.leaves {
			for x := l; ; x = t.nodes[x].parent {
				if e.stamp[x] == vi {
					break
				}
				e.stamp[x] = vi
				if !e.touched[x] {
					e.touched[x] = true
					marked = append(marked, x)
				}
				if x == v.close {
					e.closeAt[x] = append(e.closeAt[x], vi)
					break
				}
				e.cross[x] = append(e.cross[x], vi)
			}
		}
		// ancestors of the closing node see the variable's effect too
		for x := v.close; x != root; {
			x = t.nodes[x].parent
			if !e.touched[x] {
				e.touched[x] = true
				marked = append(marked, x)
			}
		}
	}
	r := e.node(root)
	for _, x := range marked {
		e.touched[x], e.stamp[x] = false, -1
		e.cross[x], e.closeAt[x] = e.cross[x][:0], e.closeAt[x][:0]
	}
	return r[0]
}

// node returns the table of n over its crossing variables.
func (e *evaluator) node(n int) []float64 {
	if e.isConst[n] {
		return []float64{e.constVal[n]}
	}
	if !e.touched[n] {
		return []float64{e.plain(n)}
	}
	t := e.t
	nd := &t.nodes[n]
	W := append(append([]int(nil), e.cross[n]...), e.closeAt[n]...)
	nc := len(e.cross[n])
	pos := map[int]uint{}
	for i, v := range W {
		pos[v] = uint(i)
	}
	type child struct {
		table []float64
		bits  []uint
	}
	kids := make([]child, len(nd.children))
	for i, c := range nd.children {
		kids[i].table = e.node(c)
		if e.touched[c] && !e.isConst[c] {
			for _, v := range e.cross[c] {
				kids[i].bits = append(kids[i].bits, pos[v])
			}
		}
	}
	out := make([]float64, 1<<nc)
	vals := make([]float64, len(nd.children))
	for w := 0; w < 1<<len(W); w++ {
		var v float64
		if nd.op == model.Call {
			v = e.leaf(nd.comp, W, w)
		} else {
			for i := range kids {
				idx := 0
				for b, p := range kids[i].bits {
					idx |= (w >> p & 1) << b
				}
				vals[i] = kids[i].table[idx]
			}
			v = combine(nd, vals)
		}
		weight := 1.0
		for b := nc; b < len(W); b++ {
			p := e.vars[W[b]].p
			if w>>b&1 == 1 {
				weight *= p
			} else {
				weight *= 1 - p
			}
		}
		out[w&(1<<nc-1)] += weight * v
	}
	return out
}

func (e *evaluator) leaf(ci int, W []int, w int) float64 {
	for b, v := range W {
		if w>>b&1 == 1 && (v == e.compGroup[ci] || v == e.compPers[ci]) {
			return 0
		}
	}
	return e.compP[ci]
}

// plain evaluates a subtree no latent variable touches.
func (e *evaluator) plain(n int) float64 {
	if e.isConst[n] {
		return e.constVal[n]
	}
	nd := &e.t.nodes[n]
	if nd.op == model.Call {
		return e.compP[nd.comp]
	}
	if nd.op == model.Optional || nd.op == model.Async {
		return 1
	}
	d := nd.depth
	for len(e.buf) <= d {
		e.buf = append(e.buf, nil)
	}
	vals := e.buf[d][:0]
	for _, c := range nd.children {
		vals = append(vals, e.plain(c))
	}
	e.buf[d] = vals
	return combine(nd, vals)
}

// combine applies an operator to independent operand success probabilities.
func combine(nd *tnode, v []float64) float64 {
	switch nd.op {
	case model.Seq, model.All:
		p := 1.0
		for _, x := range v {
			p *= x
		}
		return p
	case model.Race, model.Fallback:
		q := 1.0
		for _, x := range v {
			q *= 1 - x
		}
		return 1 - q
	case model.Quorum:
		return atLeast(v, nd.k)
	case model.Branch:
		s := 0.0
		for i, x := range v {
			s += nd.weights[i] * x
		}
		return s
	case model.Retry:
		return 1 - math.Pow(1-v[0], float64(nd.attempts))
	case model.Timeout:
		return v[0]
	case model.Optional, model.Async:
		return 1
	}
	return v[0]
}

// atLeast is the probability that at least k of independent events with
// probabilities p occur.
func atLeast(p []float64, k int) float64 {
	// dp[j] = P(exactly j successes so far), capped at k
	dp := make([]float64, k+1)
	dp[0] = 1
	for _, x := range p {
		for j := k; j >= 0; j-- {
			s := dp[j] * (1 - x)
			if j == k {
				s = dp[j] // already at k: stays there
			}
			if j > 0 {
				s += dp[j-1] * x
			}
			dp[j] = s
		}
	}
	return dp[k]
}
