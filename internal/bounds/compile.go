package bounds

import (
	"sort"

	"github.com/emac-dev/emac/internal/model"
)

// tree is a journey flattened for evaluation: nodes in pre-order with
// parents, depths and subtree intervals, components and domains by index.
type tree struct {
	nodes  []tnode
	comps  []string
	cidx   map[string]int
	a      []float64 // availability per component
	inv    []model.Invocations
	leaves [][]int // relevant call nodes per component

	domains  []tdomain
	cdomains [][]int // domains per component (relevant members only)
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
}

type tdomain struct {
	name    string
	members []int // component indices, called in relevant positions
	up      float64
}

func compile(j *model.Journey) *tree {
	t := &tree{cidx: map[string]int{}}
	for _, name := range j.ComponentNames() {
		t.cidx[name] = len(t.comps)
		t.comps = append(t.comps, name)
		c := j.Components[name]
		t.a = append(t.a, c.Availability)
		t.inv = append(t.inv, c.Invocations)
	}
	t.leaves = make([][]int, len(t.comps))
	t.add(j.Flow, -1, 0, -1, true)
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
	return t
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
		weights: n.Weights, attempts: n.Attempts, relevant: relevant})
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
func (t *tree) closing(leaves []int) int {
	c := -1
	for _, l := range leaves {
		x := t.nodes[l].lift
		if c < 0 {
			c = x
		} else {
			c = t.lca(c, x)
		}
	}
	return c
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

// harmful reports whether some two invocations among the leaves meet at a
// redundant operator. When none do, every group of them is in series (or in
// exclusive branches), and shared fate can only raise the journey's
// availability (Harris' inequality): such groups never bind A-.
func (t *tree) harmful(leaves []int) bool {
	via := map[int]int{}
	for _, l := range leaves {
		prev := l
		for x := t.nodes[l].parent; x >= 0; prev, x = x, t.nodes[x].parent {
			if !t.redundant(x) {
				continue
			}
			if t.nodes[x].op == model.Retry {
				return true
			}
			if c, ok := via[x]; ok && c != prev {
				return true
			}
			via[x] = prev
		}
	}
	return false
}

// multi reports whether a component is invoked more than once per
// execution (two relevant calls, or one under a retry).
func (t *tree) multi(ci int) bool {
	ls := t.leaves[ci]
	return len(ls) > 1 || (len(ls) == 1 && t.nodes[ls[0]].lift != ls[0])
}
