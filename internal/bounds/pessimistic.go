package bounds

import (
	"context"
	"fmt"
	"math/bits"
	"sort"
	"strings"

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
}

func (o option) size() int { return len(o.shared) + len(o.persistent) }

const maxUnits = 22

// clusters lists the units of scenario choice. budget bounds the work of
// enumerating a cluster's options: each costs at least its span's size.
func (t *tree) clusters(budget int64) []*cluster {
	// union-find over domains and components
	nd := len(t.domains)
	uf := newUnionFind(nd + len(t.comps))
	inScope := make([]bool, len(t.comps))
	for di, d := range t.domains {
		for _, ci := range d.members {
			uf.union(nd+ci, di)
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
		switch t.inv[ci] {
		case model.InvocationsUnknown:
			if t.harmful(t.leaves[ci]) {
				leaves := append([]int(nil), t.leaves[ci]...)
				units = append(units, &cluster{comps: []int{ci}, choice: []int{ci}, leaves: leaves,
					options: []option{{}, {persistent: []int{ci}}}})
			}
		case model.InvocationsPersistent:
			fixed[ci], inScope[ci] = true, true
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
			c := get(uf.find(di))
			c.domains = append(c.domains, di)
		}
	}
	for ci := range t.comps {
		if !inScope[ci] {
			continue
		}
		c := get(uf.find(nd + ci))
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
	// distinct groupings of shared domains, smallest first
	masks := make([]uint32, 0, 1<<len(c.domains))
	for m := uint32(0); m < 1<<len(c.domains); m++ {
		masks = append(masks, m)
	}
	sort.SliceStable(masks, func(i, j int) bool { return bits.OnesCount32(masks[i]) < bits.OnesCount32(masks[j]) })
	seen := map[string]bool{}
	var groupings [][]int
	for _, m := range masks {
		var shared []int
		for b, di := range c.domains {
			if m>>b&1 == 1 {
				shared = append(shared, di)
			}
		}
		k, harmless := t.groupingKey(shared)
		if seen[k] || harmless {
			continue
		}
		seen[k] = true
		groupings = append(groupings, shared)
		if int64(len(groupings)) > limit {
			c.over = true
			return nil
		}
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
			out = append(out, option{shared: g, persistent: pers})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].size() < out[j].size() })
	return out
}

// groupingKey identifies the groups (merged member sets) that sharing the
// given domains produces. harmless reports a group with no two invocations
// meeting at a redundant operator: dissolving it cannot raise A (Harris,
// given every other latent state), so no minimum needs such a grouping.
func (t *tree) groupingKey(shared []int) (key string, harmless bool) {
	var groups [][]int
	for _, di := range shared {
		set := append([]int(nil), t.domains[di].members...)
		// merge with overlapping groups
		var rest [][]int
		for _, g := range groups {
			if overlaps(g, set) {
				set = mergeSorted(g, set)
			} else {
				rest = append(rest, g)
			}
		}
		groups = append(rest, set)
	}
	keys := make([]string, len(groups))
	for i, g := range groups {
		keys[i] = fmt.Sprint(g)
		var leaves []int
		for _, ci := range g {
			leaves = append(leaves, t.leaves[ci]...)
		}
		if !t.harmful(leaves) {
			harmless = true
		}
	}
	sort.Strings(keys)
	return strings.Join(keys, ";"), harmless
}

func overlaps(a, b []int) bool {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			return true
		case a[i] < b[j]:
			i++
		default:
			j++
		}
	}
	return false
}

func mergeSorted(a, b []int) []int {
	out := make([]int, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i] < b[j]):
			out = append(out, a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i, j = i+1, j+1
		}
	}
	return out
}

// pessimistic is the outcome of minimising over scenarios.
type pessimistic struct {
	value      float64
	exact      bool
	shared     []int // domains shared in the binding scenario
	persistent []int // components persistent in it
	scenarios  int64
	notes      []string
}

// pessimistic computes A- = min over scenarios. Clusters are minimised at
// separators: nodes no latent-bearing cluster crosses, where the subtree's
// value is a plain number the journey is monotone in, so the minimum there
// is the minimum for the whole journey. Regions whose scenarios exceed the
// budget fall back to the association bound, which is sound.
func (t *tree) pessimistic(ctx context.Context, budget int64) (pessimistic, error) {
	res := pessimistic{exact: true}
	base := t.independent()
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
	e := newEvaluator(t)
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
		best, bestSize := 2.0, 0
		var bestPick []int
		pick := make([]int, len(cl))
		for {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			sc := base.clone()
			size := 0
			for i, c := range cl {
				o := c.options[pick[i]]
				for _, di := range o.shared {
					sc.shared[di] = true
				}
				for _, ci := range o.persistent {
					sc.persistent[ci] = true
				}
				size += o.size()
			}
			e.setScenario(sc)
			v := e.eval(s)
			res.scenarios++
			if v < best-1e-15 || (v <= best+1e-15 && size < bestSize) {
				best, bestSize, bestPick = v, size, append(bestPick[:0], pick...)
			}
			// next combination
			i := 0
			for ; i < len(cl); i++ {
				pick[i]++
				if pick[i] < len(cl[i].options) {
					break
				}
				pick[i] = 0
			}
			if i == len(cl) {
				break
			}
		}
		for x := s + 1; x < t.nodes[s].end; x++ {
			e.isConst[x] = false
		}
		consts[s] = best
		for i, c := range cl {
			o := c.options[bestPick[i]]
			for _, di := range o.shared {
				chosen.shared[di] = true
			}
			for _, ci := range o.persistent {
				chosen.persistent[ci] = true
			}
		}
	}
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
