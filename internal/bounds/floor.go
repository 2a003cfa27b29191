package bounds

import (
	"sort"

	"github.com/emac-dev/emac/internal/model"
)

// floor is SPEC's assumption-free (Fréchet) lower bound, composed bottom-up.
func (t *tree) floor(n int) float64 {
	nd := &t.nodes[n]
	switch nd.op {
	case model.Call:
		return t.a[nd.comp]
	case model.Optional, model.Async:
		return 1
	}
	v := make([]float64, len(nd.children))
	for i, c := range nd.children {
		v[i] = t.floor(c)
	}
	switch nd.op {
	case model.Seq, model.All:
		return frechetAll(v)
	case model.Quorum:
		return frechetQuorum(v, nd.k)
	case model.Branch:
		return combine(nd, v)
	}
	// race and fallback: the best operand; retry and timeout: the operand
	return maxOf(v)
}

// assoc is a lower bound on the success probability under every scenario:
// scenarios make calls positively associated, so operands in series succeed
// together at least as often as if independent (Harris), and redundant
// operands at least as often as the best one. consts holds exact values of
// subtrees no scenario choice below n affects.
func (t *tree) assoc(n int, consts map[int]float64) float64 {
	if v, ok := consts[n]; ok {
		return v
	}
	nd := &t.nodes[n]
	switch nd.op {
	case model.Call:
		return t.a[nd.comp]
	case model.Optional, model.Async:
		return 1
	}
	v := make([]float64, len(nd.children))
	for i, c := range nd.children {
		v[i] = t.assoc(c, consts)
	}
	switch nd.op {
	case model.Seq, model.All, model.Branch:
		return combine(nd, v)
	case model.Quorum:
		if nd.k == len(v) {
			return combine(nd, v)
		}
		return frechetQuorum(v, nd.k)
	}
	return maxOf(v)
}

func frechetAll(v []float64) float64 {
	s := 1.0
	for _, x := range v {
		s -= 1 - x
	}
	return max(0, s)
}

// frechetQuorum is the least P(at least k of n succeed) over all couplings:
// the best over m ≥ k of max(0, (sum of the m largest − (k−1)) / (m−k+1)).
func frechetQuorum(v []float64, k int) float64 {
	s := append([]float64(nil), v...)
	sort.Sort(sort.Reverse(sort.Float64Slice(s)))
	best, sum := 0.0, 0.0
	for m := 1; m <= len(s); m++ {
		sum += s[m-1]
		if m < k {
			continue
		}
		best = max(best, (sum-float64(k-1))/float64(m-k+1))
	}
	return best
}

func maxOf(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, x)
	}
	return m
}
