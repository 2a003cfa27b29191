package bounds

import (
	"math"
	"slices"

	"github.com/emac-dev/emac/internal/partition"

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

// apply shares the option's domains and makes its components persistent.
func (s scenario) apply(o option) {
	for _, di := range o.shared {
		s.shared[di] = true
	}
	for _, ci := range o.persistent {
		s.persistent[ci] = true
	}
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
	// vital is set when the bad state fails the closing node outright (a
	// member call reaches it through must edges only). Such a variable needs
	// no table: the closing node's value is (1−p) times its value given the
	// good state.
	vital bool
}

// evaluator computes the journey's success probability under one scenario
// by local conditioning: each latent variable is summed out at the node
// where its calls meet (its closing node); below it, nodes carry a table
// indexed by the states of the variables crossing them. Subtrees no
// scenario change reaches reuse values computed once per region (prepare).
type evaluator struct {
	t *tree
	// per scenario
	vars      []latent
	compGroup []int     // latent index of the component's group, or -1
	compPers  []int     // latent index of the component's persistent state, or -1
	compP     []float64 // success probability of a call given its vars are good

	// per region
	isConst  []bool
	constVal []float64
	base     []float64 // value of untouched nodes (prepare)

	// per evaluation
	cross, closeAt [][]int
	vitalAt        [][]int // vital variables closing here
	touched        []bool
	stamp          []int
	marked         []int
	buf            [][]float64

	// setScenario's scratch: per domain, per component
	uf       partition.Sets
	groupVar []int
	groupUp  []float64
	owner    []int
	changed  []int // components whose state the scenario set
	closed   bool  // close has run for the current variables

	// bound's scratch: per domain, members that are plain factors of
	// pureRoot (see factors)
	pure     [][]int
	pureRoot int
	seen     []int
	gen      int

	// fails' scratch, per node
	seenNode, nfail, span []int

	// arenas for the tables and layouts of one evaluation (reset by
	// eval): a table per touched node, allocated alone, was most of the
	// engine's garbage
	floats []float64
	ints   []int
	uints  []uint
	tabs   [][]float64
	bitss  [][]uint
	vpos   []uint // a variable's place in the layout being built
}

// reset empties the arenas; what they handed out must be dead.
func (e *evaluator) reset() {
	e.floats, e.ints, e.uints, e.tabs, e.bitss = e.floats[:0], e.ints[:0], e.uints[:0], e.tabs[:0], e.bitss[:0]
}

// grow extends s by n zero values, returning the extended slice and the
// new part (which stays valid when a later grow moves s).
func grow[T any](s []T, n int) ([]T, []T) {
	s = slices.Grow(s, n)
	s = s[:len(s)+n]
	part := s[len(s)-n : len(s) : len(s)]
	clear(part)
	return s, part
}

func newEvaluator(t *tree) *evaluator {
	n := len(t.nodes)
	e := &evaluator{t: t,
		cross: make([][]int, n), closeAt: make([][]int, n), vitalAt: make([][]int, n), touched: make([]bool, n),
		stamp: make([]int, n), isConst: make([]bool, n), constVal: make([]float64, n),
		base: make([]float64, n), seen: make([]int, len(t.comps)), pureRoot: -1,
		seenNode: make([]int, n), nfail: make([]int, n),
		compGroup: make([]int, len(t.comps)), compPers: make([]int, len(t.comps)), compP: make([]float64, len(t.comps)),
	}
	for i := range e.stamp {
		e.stamp[i] = -1
	}
	return e
}

// evaluator is a spare evaluator of t, or a new one; release gives it
// back. Every evaluation sets its scenario and prepares its root, so a
// spare carries nothing over but its buffers.
func (t *tree) evaluator() *evaluator {
	if n := len(t.spare); n > 0 {
		e := t.spare[n-1]
		t.spare = t.spare[:n-1]
		return e
	}
	return newEvaluator(t)
}

// release returns e, whose constant marks are all cleared, to the spares.
func (t *tree) release(e *evaluator) { t.spare = append(t.spare, e) }

// prepare computes the values of the subtree at root with every component
// at its own availability and no latent state, honouring constant nodes.
// It must run again whenever availabilities or constants change.
func (e *evaluator) prepare(root int) {
	t := e.t
	for ci := range t.comps {
		e.compGroup[ci], e.compPers[ci], e.compP[ci] = -1, -1, t.a[ci]
	}
	e.changed = e.changed[:0]
	for x := t.nodes[root].end - 1; x >= root; x-- {
		nd := &t.nodes[x]
		switch {
		case e.isConst[x]:
			e.base[x] = e.constVal[x]
		case nd.op == model.Call:
			e.base[x] = t.a[nd.comp]
		case nd.op == model.Optional || nd.op == model.Async:
			e.base[x] = 1
		default:
			d := nd.depth
			for len(e.buf) <= d {
				e.buf = append(e.buf, nil)
			}
			vals := e.buf[d][:0]
			for _, c := range nd.children {
				vals = append(vals, e.base[c])
			}
			e.base[x] = combine(nd, vals)
			e.buf[d] = vals[:0]
		}
	}
}

// setScenario derives the latent variables of a scenario: shared domains
// that overlap merge into one group whose common cause fires with
// probability 1 − up (up = the largest member availability by default);
// members are otherwise up with probability a_i/up, keeping marginals.
func (e *evaluator) setScenario(s scenario) {
	t := e.t
	for _, ci := range e.changed {
		e.compGroup[ci], e.compPers[ci], e.compP[ci] = -1, -1, t.a[ci]
	}
	e.changed = e.changed[:0]
	e.closed = false
	if e.owner == nil {
		e.uf = partition.New(len(t.domains))
		e.groupVar = make([]int, len(t.domains))
		e.groupUp = make([]float64, len(t.domains))
		e.owner = make([]int, len(t.comps))
		for ci := range e.owner {
			e.owner[ci] = -1
		}
	}
	// union-find over shared domains joined by common members
	uf := e.uf
	for di, d := range t.domains {
		uf[di] = di
		e.groupVar[di], e.groupUp[di] = -1, 0
		if !s.shared[di] {
			continue
		}
		for _, ci := range d.members {
			if o := e.owner[ci]; o >= 0 {
				uf.Union(di, o)
			} else {
				e.owner[ci] = di
				e.changed = append(e.changed, ci)
			}
		}
	}
	for di, d := range t.domains {
		if s.shared[di] && len(d.members) > 0 {
			r := uf.Find(di)
			e.groupUp[r] = max(e.groupUp[r], d.up)
		}
	}
	n := 0
	newVar := func(p float64) int {
		if n == len(e.vars) {
			e.vars = append(e.vars, latent{})
		}
		v := &e.vars[n]
		v.p, v.leaves, v.vital = p, v.leaves[:0], false
		n++
		return n - 1
	}
	for di, d := range t.domains {
		if s.shared[di] && len(d.members) > 0 && uf.Find(di) == di {
			e.groupVar[di] = newVar(1 - e.groupUp[di])
		}
	}
	for _, ci := range e.changed {
		r := uf.Find(e.owner[ci])
		e.owner[ci] = -1
		v := e.groupVar[r]
		e.compGroup[ci] = v
		if up := e.groupUp[r]; up > 0 {
			e.compP[ci] = math.Min(1, t.a[ci]/up)
		} else {
			e.compP[ci] = 0
		}
		e.vars[v].leaves = append(e.vars[v].leaves, t.leaves[ci]...)
	}
	for _, ci := range t.multis {
		if !s.persistent[ci] {
			continue
		}
		e.changed = append(e.changed, ci)
		v := newVar(1 - e.compP[ci])
		e.compPers[ci] = v
		e.vars[v].leaves = append(e.vars[v].leaves, t.leaves[ci]...)
		e.compP[ci] = 1
	}
	e.vars = e.vars[:n]
}

// close finds each variable's closing node and whether it is vital.
func (e *evaluator) close() {
	t := e.t
	e.closed = true
	for i := range e.vars {
		v := &e.vars[i]
		v.close = t.closing(v.leaves)
		for _, l := range v.leaves {
			if t.forces(l, v.close) {
				v.vital = true
				break
			}
		}
		if !v.vital {
			v.vital = e.fails(v)
		}
	}
}

// fails reports whether the closing node of v fails whenever all of v's
// calls do: failures propagate bottom-up over the calls' paths (a Race
// fails when every operand does, a Quorum when more than n−k do, a Branch
// when every case it may take does).
func (e *evaluator) fails(v *latent) bool {
	t := e.t
	e.gen++
	span := e.span[:0]
	for _, l := range v.leaves {
		for x := l; e.seenNode[x] != e.gen; x = t.nodes[x].parent {
			e.seenNode[x], e.nfail[x] = e.gen, 0
			span = append(span, x)
			if x == v.close {
				break
			}
		}
	}
	e.span = span
	slices.Sort(span)
	for i := len(span) - 1; i >= 0; i-- { // children before parents
		x := span[i]
		nd := &t.nodes[x]
		var failed bool
		switch nd.op {
		case model.Call:
			failed = true
		case model.Seq, model.All, model.Timeout, model.Retry:
			failed = e.nfail[x] > 0
		case model.Race, model.Fallback:
			failed = e.nfail[x] == len(nd.children)
		case model.Quorum:
			failed = e.nfail[x] > len(nd.children)-nd.k
		case model.Branch:
			taken := 0
			for _, w := range nd.weights {
				if w > 0 {
					taken++
				}
			}
			failed = e.nfail[x] >= taken
		}
		if x == v.close {
			return failed
		}
		if failed {
			p := nd.parent
			if t.nodes[p].op == model.Branch {
				// count only cases the branch may take
				if w := t.nodes[p].weights[slices.Index(t.nodes[p].children, x)]; w <= 0 {
					continue
				}
			}
			e.nfail[p]++
		}
	}
	return false
}

// eval returns the success probability of the subtree at root under the
// current scenario; nodes marked constant are taken as given, and prepare
// must have run for root.
func (e *evaluator) eval(root int) float64 {
	e.reset()
	e.mark(root)
	r := e.value(root)
	e.unmark()
	return r
}

// mark lays the current variables out over the subtree at root: the nodes
// they touch, the variables crossing each node, those closing at it (a
// vital one as a factor, listed in vitalAt).
func (e *evaluator) mark(root int) {
	t := e.t
	if !e.closed {
		e.close()
	}
	mark := func(x int) {
		if !e.touched[x] {
			e.touched[x] = true
			e.marked = append(e.marked, x)
		}
	}
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
				mark(x)
				if x == v.close {
					if v.vital {
						e.vitalAt[x] = append(e.vitalAt[x], vi)
					} else {
						e.closeAt[x] = append(e.closeAt[x], vi)
					}
					break
				}
				if !v.vital {
					e.cross[x] = append(e.cross[x], vi)
				}
			}
		}
		// ancestors of the closing node see the variable's effect too
		for x := v.close; x != root; {
			x = t.nodes[x].parent
			mark(x)
		}
	}
}

// factor is the product of (1−p) over the vital variables closing at n.
func (e *evaluator) factor(n int) float64 {
	f := 1.0
	for _, v := range e.vitalAt[n] {
		f *= 1 - e.vars[v].p
	}
	return f
}

// unmark clears what mark laid out.
func (e *evaluator) unmark() {
	for _, x := range e.marked {
		e.touched[x], e.stamp[x] = false, -1
		e.cross[x], e.closeAt[x], e.vitalAt[x] = e.cross[x][:0], e.closeAt[x][:0], e.vitalAt[x][:0]
	}
	e.marked = e.marked[:0]
}

// value is the success probability of node n, which no variable crosses.
func (e *evaluator) value(n int) float64 {
	switch {
	case e.isConst[n]:
		return e.constVal[n]
	case !e.touched[n]:
		return e.base[n]
	case len(e.closeAt[n]) > 0:
		return e.node(n)[0]
	}
	t := e.t
	nd := &t.nodes[n]
	if nd.op == model.Call {
		return e.compP[nd.comp] * e.factor(n)
	}
	d := nd.depth
	for len(e.buf) <= d {
		e.buf = append(e.buf, nil)
	}
	for _, c := range nd.children {
		v := e.value(c)
		e.buf[d] = append(e.buf[d], v)
	}
	vals := e.buf[d]
	r := combine(nd, vals) * e.factor(n)
	e.buf[d] = vals[:0]
	return r
}

// node returns the table of n over its crossing variables.
func (e *evaluator) node(n int) []float64 {
	if e.isConst[n] || !e.touched[n] || len(e.cross[n]) == 0 && len(e.closeAt[n]) == 0 {
		var one []float64
		e.floats, one = grow(e.floats, 1)
		one[0] = e.value(n)
		return one
	}
	nd := &e.t.nodes[n]
	W, nc, bits := e.layout(n)
	var tables [][]float64
	e.tabs, tables = grow(e.tabs, len(nd.children))
	for i, c := range nd.children {
		tables[i] = e.node(c)
	}
	var out, vals []float64
	e.floats, out = grow(e.floats, 1<<nc)
	e.floats, vals = grow(e.floats, len(nd.children))
	f := e.factor(n)
	for w := 0; w < 1<<len(W); w++ {
		var v float64
		switch {
		case nd.op != model.Call:
			for i := range tables {
				vals[i] = tables[i][childIndex(w, bits[i])]
			}
			v = combine(nd, vals)
		case !e.down(nd.comp, W, w):
			v = e.compP[nd.comp]
		}
		weight := f
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

// layout is how node n's table is indexed: W lists the variables crossing
// n (the first nc) and those closing at it, a state w of W being a bit per
// variable (1: bad); bits[i] places child i's crossing variables in W, so
// that childIndex(w, bits[i]) is the entry of child i's table for w.
func (e *evaluator) layout(n int) (W []int, nc int, bits [][]uint) {
	nc = len(e.cross[n])
	e.ints, W = grow(e.ints, nc+len(e.closeAt[n]))
	copy(W, e.cross[n])
	copy(W[nc:], e.closeAt[n])
	for len(e.vpos) < len(e.vars) {
		e.vpos = append(e.vpos, 0)
	}
	for i, v := range W {
		e.vpos[v] = uint(i)
	}
	kids := e.t.nodes[n].children
	e.bitss, bits = grow(e.bitss, len(kids))
	for i, c := range kids {
		if e.touched[c] && !e.isConst[c] {
			// a child's crossing variables cross n or close at it
			e.uints, bits[i] = grow(e.uints, len(e.cross[c]))
			for k, v := range e.cross[c] {
				bits[i][k] = e.vpos[v]
			}
		}
	}
	return W, nc, bits
}

// childIndex is the entry of a child's table for state w of its parent's
// variables.
func childIndex(w int, bits []uint) int {
	idx := 0
	for b, p := range bits {
		idx |= (w >> p & 1) << b
	}
	return idx
}

// down reports whether state w of W holds a bad variable of component ci
// (its group's cause, or its persistent state down).
func (e *evaluator) down(ci int, W []int, w int) bool {
	for b, v := range W {
		if w>>b&1 == 1 && (v == e.compGroup[ci] || v == e.compPers[ci]) {
			return true
		}
	}
	return false
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
		return 1 - math.Pow(1-nd.trunc*v[0], float64(nd.attempts))
	case model.Timeout:
		return nd.trunc * v[0]
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
