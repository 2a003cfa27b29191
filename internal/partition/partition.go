// Package partition splits indices 0..n-1 into disjoint sets: a
// union-find (domains merged by a shared member, clusters of interacting
// choices), and the connected components of a relation (blocks of a flow,
// components tied by shared domains).
package partition

// Sets is a union-find over 0..n-1.
type Sets []int

// New returns n singleton sets.
func New(n int) Sets {
	u := make(Sets, n)
	for i := range u {
		u[i] = i
	}
	return u
}

// Find returns x's set representative, halving paths as it goes.
func (u Sets) Find(x int) int {
	for u[x] != x {
		u[x] = u[u[x]]
		x = u[x]
	}
	return x
}

// Union merges the sets of x and y; y's representative represents both.
func (u Sets) Union(x, y int) { u[u.Find(x)] = u.Find(y) }

// Components groups 0..n-1 by the connectivity of linked (asked of each
// pair i < j): each group in ascending order, groups in the order of
// their first members.
func Components(n int, linked func(i, j int) bool) [][]int {
	u := New(n)
	for i := range n {
		for j := i + 1; j < n; j++ {
			if linked(i, j) {
				u.Union(i, j)
			}
		}
	}
	at := map[int]int{} // representative → group
	var out [][]int
	for i := range n {
		r := u.Find(i)
		g, ok := at[r]
		if !ok {
			g = len(out)
			at[r] = g
			out = append(out, nil)
		}
		out[g] = append(out[g], i)
	}
	return out
}
