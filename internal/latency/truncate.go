package latency

import (
	"math"

	"github.com/emac-dev/emac/internal/model"
)

// Truncation is what a deadline leaves of its operand's successes: the
// availability engine multiplies the operand's success probability by
// Factor at a timeout, and each attempt's at a retry with a per-try
// timeout.
type Truncation struct {
	// Factor is P(the operand succeeds within the deadline | it succeeds),
	// with every call independent.
	Factor float64
	// Exact says the factor is the same in every correlation scenario: the
	// operand has no redundancy (race, fallback, quorum, retry, optional)
	// and no branch, so it succeeds only when every call it makes does,
	// and how long that takes does not depend on which calls fail.
	// Otherwise which paths its successes run depends on the scenario, and
	// the factor is the independent one.
	Exact bool
}

// truncationPoints is the size of the lattice a deadline's operand is
// composed on: from 0 to the deadline, as nothing beyond it is kept.
const truncationPoints = 1 << 12

// Truncations composes the operand of every timeout and of every retry
// with a per-try timeout, with every call independent: the factor each
// deadline applies to its operand's success probability. Deadlines whose
// operand takes no time (no component under it has latency) are left out:
// they never fire.
func Truncations(j *model.Journey) (map[*model.Node]Truncation, error) {
	if err := j.Validate(); err != nil {
		return nil, err
	}
	ws := newWorkspace() // see Analyze
	defer ws.release()
	c := &composer{succ: map[string]Marginal{}, fail: map[string]Marginal{}, closing: closings(j),
		prob: func(n string) float64 { return j.Components[n].Availability }, ws: ws}
	c.index(j.Flow)
	for _, name := range j.ComponentNames() {
		s, f, err := Of(j.Components[name])
		if err != nil {
			return nil, err
		}
		if s != nil {
			c.succ[name] = s
		}
		if f != nil {
			c.fail[name] = f
		}
	}
	out := map[*model.Node]Truncation{}
	var walk func(n *model.Node)
	walk = func(n *model.Node) {
		for _, k := range n.Children {
			walk(k)
		}
		t := n.After
		if n.Op == model.Retry {
			t = n.PerTryTimeout
		}
		if (n.Op != model.Timeout && n.Op != model.Retry) || t <= 0 || !takesTime(n.Children[0], c) {
			return
		}
		op := n.Children[0]
		if m := c.succ[op.Component]; op.Op == model.Call && m != nil {
			out[n] = Truncation{Factor: m.CDF(t.Seconds()), Exact: true}
			return
		}
		// up to past every deadline under it too, so that theirs cut on
		// the lattice
		top := t.Seconds()
		for _, d := range shape(op, c, true, 0.5).deadlines {
			top = max(top, d)
		}
		c.on(&lattice{h: top * (1 + 1e-9) / (truncationPoints - 1), n: truncationPoints, ws: ws})
		s, _ := c.compose(op, true, false)
		kept, _ := c.cut(op, s, dist{}, t.Seconds(), false)
		tr := Truncation{Factor: 1, Exact: !redundant(op)}
		if a := s.total(); a > 0 {
			tr.Factor = math.Min(1, kept.total()/a)
		}
		out[n] = tr
	}
	walk(j.Flow)
	return out, nil
}

// takesTime reports whether some call under n takes time.
func takesTime(n *model.Node, c *composer) bool {
	if n.Op == model.Call {
		return c.succ[n.Component] != nil || c.fail[n.Component] != nil
	}
	for _, k := range n.Children {
		if takesTime(k, c) {
			return true
		}
	}
	return false
}

// redundant reports whether which paths n's successful executions run
// depends on which calls fail (a branch's successes are weighted by each
// case's availability).
func redundant(n *model.Node) bool {
	switch n.Op {
	case model.Race, model.Fallback, model.Quorum, model.Optional, model.Branch:
		return true
	case model.Retry:
		if n.Attempts > 1 {
			return true
		}
	}
	for _, k := range n.Children {
		if redundant(k) {
			return true
		}
	}
	return false
}
