package bounds

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"sort"

	"github.com/emac-dev/emac/internal/partition"

	"github.com/emac-dev/emac/internal/model"
)

// cluster is a set of scenario choices enumerated together: failure domains
// that share a member (shared, they merge into one group), or the
// persistence choice of one multiply-invoked component.
type cluster struct {
	domains []int // domain indices
	comps   []int // all components touched (members and choice components)
	choice  []int // components whose persistence is a choice
	fixed   bool  // holds a component declared persistent: always latent
	leaves  []int
	close   int
	// options are the distinct scenarios of the cluster worth trying.
	options []option
	// over is set when the options could not be enumerated.
	over bool
}

// option is one scenario of a cluster.
type option struct {
	shared     []int // domain indices shared
	persistent []int // choice components persistent
	// groups are the merged groups sharing produces (domain indices), ids
	// their numbers (the same group has the same number in every option).
	groups [][]int
	ids    []int
}

func (o option) size() int { return len(o.shared) + len(o.persistent) }

const maxUnits = 22

// clusters lists the units of scenario choice. budget bounds the work of
// enumerating a cluster's options: each costs at least its span's size.
func (t *tree) clusters(budget int64) []*cluster {
	// union-find over domains and components
	nd := len(t.domains)
	uf := partition.New(nd + len(t.comps))
	inScope := make([]bool, len(t.comps))
	for di, d := range t.domains {
		for _, ci := range d.members {
			uf.Union(nd+ci, di)
			inScope[ci] = true
		}
	}
	// A persistence choice is a unit of its own: it merges with nothing, and
	// separators take care of units whose invocations interact. A component
	// whose invocations never meet at a redundant operator is better off
	// transient whatever else holds (Harris), so it is no choice at all.
	// Declared-persistent components stay with their domains' cluster, whose
	// scenarios set their probabilities.
	var units []*cluster
	fixed := make([]bool, len(t.comps))
	for ci := range t.comps {
		if !t.multi(ci) {
			continue
		}
		switch {
		case t.inv[ci] == model.InvocationsPersistent || t.inv[ci] == model.InvocationsUnknown && t.persistentWorse(ci):
			fixed[ci], inScope[ci] = true, true
		case t.inv[ci] == model.InvocationsUnknown:
			if t.harmful(t.leaves[ci]) {
				leaves := append([]int(nil), t.leaves[ci]...)
				units = append(units, &cluster{comps: []int{ci}, choice: []int{ci}, leaves: leaves,
					options: []option{{}, {persistent: []int{ci}}}})
			}
		}
	}
	byRoot := map[int]*cluster{}
	var out []*cluster
	get := func(r int) *cluster {
		c, ok := byRoot[r]
		if !ok {
			c = &cluster{}
			byRoot[r] = c
			out = append(out, c)
		}
		return c
	}
	for di, d := range t.domains {
		if len(d.members) > 0 {
			c := get(uf.Find(di))
			c.domains = append(c.domains, di)
		}
	}
	for ci := range t.comps {
		if !inScope[ci] {
			continue
		}
		c := get(uf.Find(nd + ci))
		c.comps = append(c.comps, ci)
		c.leaves = append(c.leaves, t.leaves[ci]...)
		if fixed[ci] {
			c.fixed = true
		}
	}
	for _, c := range out {
		sort.Ints(c.leaves)
		c.close = t.closing(c.leaves)
		c.options = t.options(c, budget/int64(max(1, len(c.leaves))))
	}
	for _, u := range units {
		u.close = t.closing(u.leaves)
	}
	return append(out, units...)
}

// persistentWorse reports whether a component of unknown invocation model
// is certain to be worse off persistent than transient, so that A- needs
// only the persistent case. That holds for a single call site under
// retries: given every other latent state, each retry's success is
// φ(p) = 1 − (1 − p)^attempts of its attempt's success p, and φ is concave,
// so a state shared by the attempts (E φ(P)) never beats fresh states
// (φ(E P)) — Jensen, applied from the innermost retry outwards.
func (t *tree) persistentWorse(ci int) bool { return len(t.leaves[ci]) == 1 }

// options lists the cluster's distinct scenarios, fewest shared domains
// first. A harmless cluster (no two of its invocations meet at a redundant
// operator) has only the independent one: sharing it cannot lower A.
func (t *tree) options(c *cluster, limit int64) []option {
	if !c.fixed && !t.harmful(c.leaves) {
		return []option{{}}
	}
	if len(c.domains) > maxUnits || len(c.choice) > maxUnits || len(c.domains)+len(c.choice) > maxUnits+4 {
		c.over = true
		return nil
	}
	groupings, ok := t.groupings(c.domains, limit)
	if !ok {
		c.over = true
		return nil
	}
	var out []option
	for p := 0; p < 1<<len(c.choice); p++ {
		var pers []int
		for b, ci := range c.choice {
			if p>>b&1 == 1 {
				pers = append(pers, ci)
			}
		}
		for _, g := range groupings {
			out = append(out, option{shared: g.shared, persistent: pers, groups: g.groups, ids: g.ids})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].size() < out[j].size() })
	return out
}

// groupings lists the distinct harmful groupings that sharing subsets of
// the given domains produces, fewest shared domains first; ok is false
// beyond limit. Two subsets give the same grouping when their merged member
// sets agree; each grouping is listed once, by its closed subset: the one
// that also holds every domain lying inside one of its groups. A grouping
// with a harmless group (no two invocations meeting at a redundant
// operator) is left out: dissolving that group cannot raise A (Harris,
// given every other latent state), so no minimum needs it.
func (t *tree) groupings(domains []int, limit int64) (out []grouping, ok bool) {
	k := len(domains)
	at := map[int]int{} // domain → bit
	for b, di := range domains {
		at[di] = b
	}
	// ov[b]: domains sharing a member with b; cover[b]: for each member of
	// b, the domains holding it (distinct masks only).
	ov := make([]uint32, k)
	cover := make([][]uint32, k)
	for b, di := range domains {
		seen := map[uint32]bool{}
		for _, ci := range t.domains[di].members {
			var m uint32
			for _, dj := range t.cdomains[ci] {
				if bj, ok := at[dj]; ok {
					m |= 1 << bj
				}
			}
			ov[b] |= m
			if !seen[m] {
				seen[m] = true
				cover[b] = append(cover[b], m)
			}
		}
	}
	harmful := map[uint32]bool{}
	seen, gen := make([]int, len(t.comps)), 0
	var leaves []int
	// a group holding an individually harmful domain is harmful
	var alone uint32
	for b, di := range domains {
		if t.harmful(t.leavesOf(t.domains[di].members)) {
			alone |= 1 << b
		}
	}
	isHarmful := func(g uint32) bool {
		if g&alone != 0 {
			return true
		}
		h, ok := harmful[g]
		if !ok {
			gen++
			leaves = leaves[:0]
			for b := 0; b < k; b++ {
				if g>>b&1 == 0 {
					continue
				}
				for _, ci := range t.domains[domains[b]].members {
					if seen[ci] != gen {
						seen[ci] = gen
						leaves = append(leaves, t.leaves[ci]...)
					}
				}
			}
			h = t.harmful(leaves)
			harmful[g] = h
		}
		return h
	}
	var masks []uint32
	groups := make([]uint32, 0, k)
next:
	for m := uint32(0); m < 1<<k; m++ {
		// groups: connected components of m under ov
		groups = groups[:0]
		for rest := m; rest != 0; {
			g := component(rest&-rest, m, ov)
			groups = append(groups, g)
			rest &^= g
		}
		// closed: no domain outside m lies inside one group
		for b := 0; b < k; b++ {
			if m>>b&1 == 1 || ov[b]&m == 0 {
				continue
			}
			for _, g := range groups {
				if ov[b]&m&^g != 0 {
					continue
				}
				inside := true
				for _, cm := range cover[b] {
					if cm&g == 0 {
						inside = false
						break
					}
				}
				if inside {
					continue next
				}
			}
		}
		for _, g := range groups {
			if !isHarmful(g) {
				continue next
			}
		}
		masks = append(masks, m)
		if int64(len(masks)) > limit {
			return nil, false
		}
	}
	sort.SliceStable(masks, func(i, j int) bool { return bits.OnesCount32(masks[i]) < bits.OnesCount32(masks[j]) })
	list := func(m uint32) []int {
		var l []int
		for b, di := range domains {
			if m>>b&1 == 1 {
				l = append(l, di)
			}
		}
		return l
	}
	for _, m := range masks {
		g := grouping{shared: list(m)}
		for rest := m; rest != 0; {
			grp := component(rest&-rest, m, ov)
			l := list(grp)
			g.groups = append(g.groups, l)
			var k []byte
			for _, di := range l {
				k = binary.AppendUvarint(k, uint64(di))
			}
			id, ok := t.groupID[string(k)]
			if !ok {
				id = len(t.groupID)
				t.groupID[string(k)] = id
			}
			g.ids = append(g.ids, id)
			rest &^= grp
		}
		out = append(out, g)
	}
	return out, true
}

// grouping is a set of shared domains and the groups it merges into.
type grouping struct {
	shared []int
	groups [][]int
	ids    []int
}

// component is the connected component of seed within m under the
// overlap masks ov.
func component(seed, m uint32, ov []uint32) uint32 {
	g := seed
	for grown := g; ; {
		for r := grown; r != 0; r &= r - 1 {
			g |= ov[bits.TrailingZeros32(r)] & m
		}
		if g == grown {
			return g
		}
		grown = g
	}
}

// pessimistic is the outcome of minimising over scenarios.
type pessimistic struct {
	value      float64
	exact      bool
	shared     []int // domains shared in the binding scenario
	persistent []int // components persistent in it
	scenarios  int64
	pruned     int64 // scenarios a lower bound ruled out
	above      bool  // minimise: every scenario is at or above the cutoff
	notes      []string
}

// nextPick advances pick, one option index per cluster, to the next
// combination; false when every combination has been seen.
func nextPick(pick []int, cl []*cluster) bool {
	for i := range cl {
		if pick[i]++; pick[i] < len(cl[i].options) {
			return true
		}
		pick[i] = 0
	}
	return false
}

// regions is the layout of the pessimistic search: the base scenario (no
// domain shared; declared and dominated persistence), the nodes crossed by
// a cluster with latent choices, and the clusters to minimise at each
// separator.
type regions struct {
	base    scenario
	crossed []bool
	pending map[int][]*cluster
}

func (t *tree) regions(budget int64) regions {
	if rg, ok := t.regionsByBudget[budget]; ok {
		return rg
	}
	if t.regionsByBudget == nil {
		t.regionsByBudget = map[int64]regions{}
	}
	rg := t.findRegions(budget)
	t.regionsByBudget[budget] = rg
	return rg
}

// findRegions computes regions(budget).
func (t *tree) findRegions(budget int64) regions {
	base := t.independent()
	for ci := range t.comps {
		if t.multi(ci) && t.inv[ci] == model.InvocationsUnknown && t.persistentWorse(ci) {
			base.persistent[ci] = true
		}
	}
	var active []*cluster
	for _, c := range t.clusters(budget) {
		latent := c.fixed || c.over
		for _, o := range c.options {
			if o.size() > 0 {
				latent = true
			}
		}
		if latent {
			active = append(active, c)
		}
	}
	// crossing counts and separators
	n := len(t.nodes)
	crossed := make([]bool, n)
	stamp := make([]int, n)
	for i := range stamp {
		stamp[i] = -1
	}
	for ci, c := range active {
		for _, l := range c.leaves {
			for x := l; x != c.close; x = t.nodes[x].parent {
				if stamp[x] == ci {
					break
				}
				stamp[x] = ci
				crossed[x] = true
			}
		}
	}
	sepOf := func(x int) int {
		for crossed[x] {
			x = t.nodes[x].parent
		}
		return x
	}
	pending := map[int][]*cluster{}
	for _, c := range active {
		s := sepOf(c.close)
		pending[s] = append(pending[s], c)
	}
	return regions{base: base, crossed: crossed, pending: pending}
}

// pessimistic computes A- = min over scenarios. Clusters are minimised at
// separators: nodes no latent-bearing cluster crosses, where the subtree's
// value is a plain number the journey is monotone in, so the minimum there
// is the minimum for the whole journey. Regions whose scenarios exceed the
// budget fall back to the association bound, which is sound.
func (t *tree) pessimistic(ctx context.Context, budget int64) (pessimistic, error) {
	return t.minimise(ctx, budget, math.Inf(1))
}

// minimise is pessimistic, told that only a value below cutoff matters:
// when every scenario of the root's region is at or above it, res.above
// is set and res.value is the cutoff, not the minimum. Scenarios the
// bound puts above the cutoff are then pruned from the start, which is
// what confirming a required target needs.
func (t *tree) minimise(ctx context.Context, budget int64, cutoff float64) (pessimistic, error) {
	res := pessimistic{exact: true}
	rg := t.regions(budget)
	base, crossed, pending := rg.base, rg.crossed, rg.pending
	n := len(t.nodes)
	e := t.evaluator()
	consts := map[int]float64{}
	chosen := base.clone()
	// separators bottom-up: pre-order indices reversed visit children first
	for s := n - 1; s >= 0; s-- {
		if crossed[s] {
			continue
		}
		cl := pending[s]
		if len(cl) == 0 {
			nd := &t.nodes[s]
			switch nd.op {
			case model.Call:
				consts[s] = t.a[nd.comp]
			case model.Optional, model.Async:
				consts[s] = 1
			default:
				v := make([]float64, len(nd.children))
				for i, c := range nd.children {
					v[i] = consts[c]
				}
				consts[s] = combine(nd, v)
			}
			continue
		}
		// estimated work: combinations × the region's size
		work := int64(0)
		for x := s; x < t.nodes[s].end; x++ {
			if crossed[x] || x == s {
				work++
			}
		}
		over := false
		for _, c := range cl {
			if c.over {
				over = true
				break
			}
			work *= int64(len(c.options))
			if work > budget {
				over = true
				break
			}
		}
		if over {
			consts[s] = t.assoc(s, consts)
			res.exact = false
			res.notes = append(res.notes, fmt.Sprintf("%d interacting failure-domain/persistence choices under %s exceed the exact limit; the pessimistic bound there is the positive-dependence bound", len(cl), t.describe(s)))
			continue
		}
		// constants for the region's separator children
		for x := s + 1; x < t.nodes[s].end; x++ {
			if v, ok := consts[x]; ok && !crossed[x] {
				e.isConst[x], e.constVal[x] = true, v
			}
		}
		e.prepare(s)
		best, bestSize := 2.0, 0
		if s == 0 && cutoff < best {
			// a scenario counts below the cutoff only (the tolerance
			// below is 1e-15 either way)
			best = cutoff + 1e-15
		}
		var bestPick []int
		pick := make([]int, len(cl))
		cache := &boundCache{values: map[string]float64{}}
		var groups [][]int
		var ids []int
		// each combination's scenario, reset from base (nothing keeps it:
		// setScenario and bound read it only)
		sc := base.clone()
		for {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			copy(sc.shared, base.shared)
			copy(sc.persistent, base.persistent)
			size := 0
			var pers []byte
			groups, ids = groups[:0], ids[:0]
			for i, c := range cl {
				o := c.options[pick[i]]
				groups, ids = append(groups, o.groups...), append(ids, o.ids...)
				sc.apply(o)
				for _, ci := range o.persistent {
					pers = binary.AppendUvarint(pers, uint64(ci))
				}
				size += o.size()
			}
			lb, exact := 0.0, false
			if !t.exhaustive {
				lb, exact = e.bound(s, groups, ids, sc, string(pers), cache)
			}
			if !exact && lb > best+1e-15 {
				res.pruned++
			} else {
				v := lb
				if !exact {
					e.setScenario(sc)
					v = e.eval(s)
				}
				res.scenarios++
				if v < best-1e-15 || (v <= best+1e-15 && size < bestSize) {
					best, bestSize, bestPick = v, size, append(bestPick[:0], pick...)
				}
			}
			if !nextPick(pick, cl) {
				break
			}
		}
		for x := s + 1; x < t.nodes[s].end; x++ {
			e.isConst[x] = false
		}
		if bestPick == nil {
			// nothing below the cutoff (only the root's region has one)
			t.release(e)
			res.value, res.above = cutoff, true
			return res, nil
		}
		consts[s] = best
		for i, c := range cl {
			chosen.apply(c.options[bestPick[i]])
		}
	}
	t.release(e) // (not on errors above: constant marks may remain)
	res.value = consts[0]
	for di := range t.domains {
		if chosen.shared[di] {
			res.shared = append(res.shared, di)
		}
	}
	for ci := range t.comps {
		if chosen.persistent[ci] && t.inv[ci] != model.InvocationsPersistent {
			res.persistent = append(res.persistent, ci)
		}
	}
	return res, nil
}

// bound is a lower bound on the value of the subtree at root under a
// scenario whose shared groups are given (domain indices, and numbers the
// cache uses) and whose persistent components are sc.persistent, keyed
// pers; exact reports that the bound is the scenario's value.
//
// Split the groups into K and the rest R. No cause in R fires with
// probability Π_R up_G (c_G = 1 − up_G), and given that, every member of a
// group in R is up with probability a_i/up_G ≥ a_i, independently of K's
// latent states. A member called once through Seq, All and Timeout nodes
// only is a plain factor of the root's value, so its gain 1/up_G multiplies
// the value exactly; by monotonicity the other members do at least as well
// as at a_i. Hence value ≥ V_K · Π_R up_G·g_G, where V_K is the value with
// only K shared and g_G = up_G^−(such members). K holds the groups whose
// factor up_G·g_G is below 1; V_K is cached, since scenarios differing
// only in beneficial groups share it. bound leaves the evaluator's
// scenario changed.
func (e *evaluator) bound(root int, groups [][]int, ids []int, sc scenario, pers string, c *boundCache) (lb float64, exact bool) {
	t := e.t
	rest := 1.0
	var key []byte
	var k []int
	for i, id := range ids {
		for len(c.factor) <= id {
			c.factor = append(c.factor, 0)
		}
		if c.factor[id] == 0 {
			up := 0.0
			for _, di := range groups[i] {
				up = max(up, t.domains[di].up)
			}
			e.gen++
			m := 0
			for _, di := range groups[i] {
				for _, ci := range e.factors(di, root) {
					if e.seen[ci] != e.gen {
						e.seen[ci] = e.gen
						m++
					}
				}
			}
			c.factor[id] = up * math.Pow(up, -float64(m))
		}
		if f := c.factor[id]; f >= 1 {
			rest *= f
			continue
		}
		k = append(k, i)
		key = binary.AppendUvarint(key, uint64(id))
	}
	ks := string(key) + "|" + pers
	vk, ok := c.values[ks]
	if !ok {
		one := scenario{shared: make([]bool, len(sc.shared)), persistent: sc.persistent}
		for _, i := range k {
			for _, di := range groups[i] {
				one.shared[di] = true
			}
		}
		e.setScenario(one)
		vk = e.eval(root)
		c.values[ks] = vk
	}
	return vk * rest, len(k) == len(groups)
}

// boundCache is what bound knows in one region: per group number, the
// group's factor up_G·g_G (0 until computed); per set of penalised groups
// and persistence key, V_K.
type boundCache struct {
	factor []float64
	values map[string]float64
}

// factors lists the members of domain di called once, as a plain factor
// of root's value (through Seq, All and Timeout nodes only).
func (e *evaluator) factors(di, root int) []int {
	t := e.t
	if e.pureRoot != root {
		e.pureRoot = root
		e.pure = make([][]int, len(t.domains))
		for d := range t.domains {
			for _, ci := range t.domains[d].members {
				if ls := t.leaves[ci]; len(ls) == 1 {
					l := ls[0]
					if t.nodes[l].lift == l && t.within(l, root) && t.nodes[t.prodTop[l]].depth <= t.nodes[root].depth {
						e.pure[d] = append(e.pure[d], ci)
					}
				}
			}
		}
	}
	return e.pure[di]
}

func (t *tree) describe(n int) string {
	nd := &t.nodes[n]
	if nd.op == model.Call {
		return t.comps[nd.comp]
	}
	if n == 0 {
		return "the journey's root"
	}
	return fmt.Sprintf("a %s node", nd.op)
}
