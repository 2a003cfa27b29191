package bounds

import (
	"sort"

	"github.com/emac-dev/emac/internal/latency"
	"github.com/emac-dev/emac/internal/model"
)

// tree is a journey flattened for evaluation: nodes in pre-order with
// parents, depths and subtree intervals, components and domains by index.
type tree struct {
	// truncs are the deadlines' truncations while the tree is built
	truncs map[*model.Node]latency.Truncation
	// inexact are the deadline nodes whose truncation depends on which
	// calls fail; approx is set when a latent variable (a domain member,
	// a component some scenario may make persistent) lies under one, so
	// that a scenario takes the independent truncation where its own
	// differs
	inexact []int
	approx  bool

	nodes  []tnode
	comps  []string
	cidx   map[string]int
	a      []float64 // availability per component
	inv    []model.Invocations
	leaves [][]int // relevant call nodes per component

	domains  []tdomain
	cdomains [][]int // domains per component (relevant members only)
	// mustTop is the highest ancestor-or-self whose failure a failure of
	// the node forces: the end of the node's chain of must edges.
	mustTop []int
	// multis are the components invoked more than once per execution.
	multis []int
	// prodTop is the highest ancestor-or-self reached through Seq, All and
	// Timeout nodes only: the node's value is a factor of that ancestor's.
	prodTop []int

	// harmful's scratch and memo
	via, viaGen []int
	gen         int
	above       [][]hop
	aboveDone   []bool
	// the pessimistic search's regions by budget: they depend on the
	// flow's structure only, not on availabilities, so the many
	// minimisations of required targets share them (read-only)
	regionsByBudget map[int64]regions
	// spare evaluators: the searches for required targets run a
	// minimisation per step, each needing one
	spare []*evaluator

	// exhaustive turns the pessimistic search's pruning off (tests).
	exhaustive bool

	// groupID numbers the groups groupings produce, by their domains.
	groupID map[string]int
}

type tnode struct {
	op       model.Op
	children []int
	parent   int
	depth    int
	end      int // pre-order index one past the subtree
	comp     int // Call: component index
	k        int
	weights  []float64
	attempts int
	// lift is the outermost Retry (attempts ≥ 2) ancestor-or-self: latent
	// state seen by a node inside a retry is shared by every attempt, so it
	// cannot be summed out below that retry.
	lift int
	// relevant is false under Optional/Async, whose outcome never matters.
	relevant bool
	// trunc is what a Timeout's deadline, or a Retry's per-try one, leaves
	// of its operand's successes (1 without a deadline that fires).
	trunc float64
}

type tdomain struct {
	name    string
	members []int // component indices, called in relevant positions
	up      float64
}

// latentUnder reports whether a latent variable may lie under a deadline
// whose truncation depends on which calls fail: a call of a domain member,
// or of a component not declared transient that is called twice or under
// a retry. Calls under optional count too: their time does.
func latentUnder(j *model.Journey, t *tree) bool {
	member := map[string]bool{}
	for _, d := range j.Domains {
		for _, m := range d.Members {
			member[m] = true
		}
	}
	calls := map[int]int{}
	for _, nd := range t.nodes {
		if nd.op == model.Call {
			calls[nd.comp]++
		}
	}
	for _, x := range t.inexact {
		for y := x; y < t.nodes[x].end; y++ {
			nd := &t.nodes[y]
			if nd.op != model.Call {
				continue
			}
			ci := nd.comp
			if member[t.comps[ci]] || t.inv[ci] != model.InvocationsTransient && (calls[ci] > 1 || nd.lift != y) {
				return true
			}
		}
	}
	return false
}

// compile builds the engine's tree of j, with each deadline's truncation
// from the latency composition.
func compile(j *model.Journey) (*tree, error) {
	truncs, err := latency.Truncations(j)
	if err != nil {
		return nil, err
	}
	t := &tree{cidx: map[string]int{}, groupID: map[string]int{}, truncs: truncs}
	for _, name := range j.ComponentNames() {
		t.cidx[name] = len(t.comps)
		t.comps = append(t.comps, name)
		c := j.Components[name]
		t.a = append(t.a, c.Availability)
		t.inv = append(t.inv, c.Invocations)
	}
	t.leaves = make([][]int, len(t.comps))
	t.add(j.Flow, -1, 0, -1, true)
	for ci := range t.comps {
		if t.multi(ci) {
			t.multis = append(t.multis, ci)
		}
	}
	t.mustTop = make([]int, len(t.nodes))
	t.prodTop = make([]int, len(t.nodes))
	for x := range t.nodes { // pre-order: parents first
		t.mustTop[x], t.prodTop[x] = x, x
		p := t.nodes[x].parent
		if p >= 0 && t.must(p) {
			t.mustTop[x] = t.mustTop[p]
		}
		if p >= 0 && (t.nodes[p].op == model.Seq || t.nodes[p].op == model.All || t.nodes[p].op == model.Timeout) {
			t.prodTop[x] = t.prodTop[p]
		}
	}
	t.cdomains = make([][]int, len(t.comps))
	for _, dn := range j.DomainNames() {
		d := tdomain{name: dn}
		for _, m := range j.Domains[dn].Members {
			if ci, ok := t.cidx[m]; ok && len(t.leaves[ci]) > 0 {
				d.members = append(d.members, ci)
			}
		}
		sort.Ints(d.members)
		di := len(t.domains)
		for _, ci := range d.members {
			t.cdomains[ci] = append(t.cdomains[ci], di)
		}
		t.domains = append(t.domains, d)
	}
	t.resetUp()
	t.truncs = nil
	t.approx = latentUnder(j, t)
	return t, nil
}

// resetUp sets each domain's common-cause availability to SPEC's default:
// the largest availability among its members.
func (t *tree) resetUp() {
	for i := range t.domains {
		d := &t.domains[i]
		d.up = 0
		for _, ci := range d.members {
			d.up = max(d.up, t.a[ci])
		}
	}
}

func (t *tree) add(n *model.Node, parent, depth, lift int, relevant bool) int {
	id := len(t.nodes)
	t.nodes = append(t.nodes, tnode{op: n.Op, parent: parent, depth: depth, comp: -1, k: n.K,
		weights: n.Weights, attempts: n.Attempts, relevant: relevant, trunc: 1})
	if tr, ok := t.truncs[n]; ok {
		t.nodes[id].trunc = tr.Factor
		if !tr.Exact && tr.Factor < 1 {
			t.inexact = append(t.inexact, id)
		}
	}
	if n.Op == model.Retry && n.Attempts >= 2 && lift < 0 {
		lift = id
	}
	t.nodes[id].lift = id
	if lift >= 0 {
		t.nodes[id].lift = lift
	}
	if n.Op == model.Call {
		ci := t.cidx[n.Component]
		t.nodes[id].comp = ci
		if relevant {
			t.leaves[ci] = append(t.leaves[ci], id)
		}
	}
	childRelevant := relevant && n.Op != model.Optional && n.Op != model.Async
	var kids []int
	for _, c := range n.Children {
		kids = append(kids, t.add(c, id, depth+1, lift, childRelevant))
	}
	t.nodes[id].children = kids
	t.nodes[id].end = len(t.nodes)
	return id
}

// within reports whether node x is in the subtree of n.
func (t *tree) within(x, n int) bool { return x >= n && x < t.nodes[n].end }

// lca is the lowest common ancestor of two nodes.
func (t *tree) lca(x, y int) int {
	for t.nodes[x].depth > t.nodes[y].depth {
		x = t.nodes[x].parent
	}
	for t.nodes[y].depth > t.nodes[x].depth {
		y = t.nodes[y].parent
	}
	for x != y {
		x, y = t.nodes[x].parent, t.nodes[y].parent
	}
	return x
}

// closing is the node at which latent state spanning the given leaves can be
// summed out: the LCA of the leaves, each lifted to its outermost retry.
// The LCA of a set of nodes is that of its first and last in pre-order.
func (t *tree) closing(leaves []int) int {
	if len(leaves) == 0 {
		return -1
	}
	lo, hi := len(t.nodes), -1
	for _, l := range leaves {
		x := t.nodes[l].lift
		lo, hi = min(lo, x), max(hi, x)
	}
	return t.lca(lo, hi)
}

// redundant reports whether node n lets one operand's failure be masked by
// another's success (or by another attempt of the same operand).
func (t *tree) redundant(n int) bool {
	nd := &t.nodes[n]
	switch nd.op {
	case model.Race, model.Fallback:
		return len(nd.children) > 1
	case model.Quorum:
		return nd.k < len(nd.children)
	case model.Retry:
		return nd.attempts >= 2
	}
	return false
}

// must reports whether a failure of any one operand of node n fails n,
// whatever the other operands do. A failure here means every invocation
// failing: latent state is lifted above retries, so a down cause fails
// every attempt.
func (t *tree) must(n int) bool {
	nd := &t.nodes[n]
	switch nd.op {
	case model.Seq, model.All, model.Retry, model.Timeout:
		return true
	case model.Race, model.Fallback:
		return len(nd.children) == 1
	case model.Quorum:
		return nd.k >= len(nd.children)
	}
	return false
}

// forces reports whether the failure of leaf l fails node x, an ancestor of
// l, through must edges alone.
func (t *tree) forces(l, x int) bool { return t.nodes[t.mustTop[l]].depth <= t.nodes[x].depth }

// harmful reports whether some two invocations among the leaves meet at a
// redundant operator. When none do, every group of them is in series (or in
// exclusive branches), and shared fate can only raise the journey's
// availability (Harris' inequality): such groups never bind A-.
func (t *tree) harmful(leaves []int) bool {
	if t.via == nil {
		t.via = make([]int, len(t.nodes))
		t.viaGen = make([]int, len(t.nodes))
	}
	t.gen++
	for _, l := range leaves {
		for _, r := range t.redundantAbove(l) {
			if t.nodes[r.node].op == model.Retry {
				return true
			}
			if t.viaGen[r.node] == t.gen && t.via[r.node] != r.child {
				return true
			}
			t.viaGen[r.node], t.via[r.node] = t.gen, r.child
		}
	}
	return false
}

// hop is a redundant ancestor of a leaf and the child it is reached from.
type hop struct{ node, child int }

// redundantAbove lists the redundant ancestors of a leaf, innermost first.
func (t *tree) redundantAbove(l int) []hop {
	if t.above == nil {
		t.above = make([][]hop, len(t.nodes))
		t.aboveDone = make([]bool, len(t.nodes))
	}
	if !t.aboveDone[l] {
		prev := l
		for x := t.nodes[l].parent; x >= 0; prev, x = x, t.nodes[x].parent {
			if t.redundant(x) {
				t.above[l] = append(t.above[l], hop{x, prev})
			}
		}
		t.aboveDone[l] = true
	}
	return t.above[l]
}

// leavesOf lists the relevant calls of the given components.
func (t *tree) leavesOf(comps []int) []int {
	var out []int
	for _, ci := range comps {
		out = append(out, t.leaves[ci]...)
	}
	return out
}

// multi reports whether a component is invoked more than once per
// execution (two relevant calls, or one under a retry).
func (t *tree) multi(ci int) bool {
	ls := t.leaves[ci]
	return len(ls) > 1 || (len(ls) == 1 && t.nodes[ls[0]].lift != ls[0])
}
