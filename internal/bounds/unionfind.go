package bounds

// unionFind groups indices 0..n-1 into disjoint sets (domains merged by a
// shared member, clusters of interacting choices).
type unionFind []int

func newUnionFind(n int) unionFind {
	u := make(unionFind, n)
	for i := range u {
		u[i] = i
	}
	return u
}

// find returns x's set representative, halving paths as it goes.
func (u unionFind) find(x int) int {
	for u[x] != x {
		u[x] = u[u[x]]
		x = u[x]
	}
	return x
}

// union merges the sets of x and y.
func (u unionFind) union(x, y int) { u[u.find(x)] = u.find(y) }
