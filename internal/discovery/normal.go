package discovery

import (
	"slices"
	"strings"

	"github.com/emac-dev/emac/internal/model"
)

// Normalize returns a copy of n in a normal form, so that two flows that
// mean the same compare equal by String: nested series and alls are
// flattened, and the operands of all, quorum, a race without hedging and
// a branch (each case with its weight) are sorted. What traces cannot
// tell apart — the order of concurrent operands — no longer shows.
func Normalize(n *model.Node) *model.Node {
	if n == nil {
		return nil
	}
	m := Flatten(n)
	sortOperands(m)
	return m
}

// sortOperands sorts, bottom up, the operands of every node whose
// operands' order means nothing (all, quorum, a race without hedging, a
// branch with its weights) by their canonical form.
func sortOperands(n *model.Node) {
	for _, c := range n.Children {
		sortOperands(c) // children first: their forms are what is compared
	}
	if !(n.Op == model.All || n.Op == model.Quorum || n.Op == model.Branch || n.Op == model.Race && n.HedgeAfter == 0) {
		return
	}
	idx := make([]int, len(n.Children))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return strings.Compare(n.Children[a].String(), n.Children[b].String()) })
	kids := make([]*model.Node, len(idx))
	var ws []float64
	for i, j := range idx {
		kids[i] = n.Children[j]
		if j < len(n.Weights) {
			ws = append(ws, n.Weights[j])
		}
	}
	n.Children, n.Weights = kids, ws
}

// Shape is n's normal form without branch weights: what two flows must
// share to be the same up to their weights.
func Shape(n *model.Node) string {
	m := Normalize(n)
	m.Walk(func(x *model.Node) { x.Weights = nil })
	return m.String()
}

// Flatten returns a copy of n with nested series and alls merged into
// their parents, the order of operands kept: the same flow, written
// plainly.
func Flatten(n *model.Node) *model.Node {
	if n == nil {
		return nil
	}
	c := *n
	c.Weights = slices.Clone(n.Weights)
	c.Children = nil
	for _, k := range n.Children {
		k = Flatten(k)
		if k != nil && (n.Op == model.Seq || n.Op == model.All) && k.Op == n.Op {
			c.Children = append(c.Children, k.Children...)
			continue
		}
		c.Children = append(c.Children, k)
	}
	return &c
}
