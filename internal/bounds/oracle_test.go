package bounds_test

// A brute-force oracle of SPEC §4, written from the specification alone: it
// shares no code with the engine. For each scenario it enumerates every
// common cause, persistent state, branch choice and individual call outcome
// (retries unrolled into attempts) and sums the probabilities of the
// outcome vectors under which the journey succeeds.

import (
	"context"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"testing"

	"github.com/emac-dev/emac/internal/bounds"
	"github.com/emac-dev/emac/internal/gen"
	"github.com/emac-dev/emac/internal/model"
)

// oracle is a journey prepared for enumeration.
type oracle struct {
	names []string
	avail []float64
	inv   []model.Invocations
	// dnames are the domains; members their relevant members. A member
	// none of whose calls matters (all under Optional/Async, or none at
	// all) is left out, so it neither sets its group's common cause
	// (1 − max a_i) nor merges two domains: SPEC is silent here, and this
	// is the reading under which Optional(x) makes x irrelevant, as the
	// engine and the simulator implement it.
	dnames  []string
	members [][]int
	// nodes is the expanded flow, root first.
	nodes []onode
	// occComp is the component of each call occurrence.
	occComp []int
	// branches counts the Branch occurrences.
	branches int
	// occs counts occurrences per component.
	occs []int
}

// onode is a node of the expanded flow.
type onode struct {
	kind    okind
	kids    []int
	occ     int // call occurrence
	k       int // at least k operands (quorum)
	weights []float64
	br      int // branch occurrence
}

type okind uint8

const (
	oCall   okind = iota
	oAll          // every operand succeeds: Seq, All
	oAny          // some operand succeeds: Race, Fallback, the attempts of a Retry
	oQuorum       // at least k operands succeed
	oBranch       // the chosen case succeeds
	oTrue         // always succeeds: Optional, Async
)

func newOracle(j *model.Journey) *oracle {
	o := &oracle{names: j.ComponentNames()}
	idx := map[string]int{}
	for i, n := range o.names {
		idx[n] = i
		o.avail = append(o.avail, j.Components[n].Availability)
		o.inv = append(o.inv, j.Components[n].Invocations)
	}
	o.occs = make([]int, len(o.names))
	o.expand(j.Flow, idx)
	for _, dn := range j.DomainNames() {
		var m []int
		for _, c := range j.Domains[dn].Members {
			if ci, ok := idx[c]; ok && o.occs[ci] > 0 {
				m = append(m, ci)
			}
		}
		o.dnames = append(o.dnames, dn)
		o.members = append(o.members, m)
	}
	return o
}

// expand appends the expansion of n and returns its index. Every attempt
// of a retry is a separate copy of the operand, with its own call
// occurrences and branch choices.
func (o *oracle) expand(n *model.Node, idx map[string]int) int {
	id := len(o.nodes)
	o.nodes = append(o.nodes, onode{})
	var nd onode
	var kids []int
	switch n.Op {
	case model.Call:
		ci := idx[n.Component]
		nd = onode{kind: oCall, occ: len(o.occComp)}
		o.occComp = append(o.occComp, ci)
		o.occs[ci]++
	case model.Seq, model.All:
		nd.kind = oAll
	case model.Race, model.Fallback:
		nd.kind = oAny
	case model.Quorum:
		nd = onode{kind: oQuorum, k: n.K}
	case model.Branch:
		nd = onode{kind: oBranch, weights: n.Weights, br: o.branches}
		o.branches++
	case model.Retry:
		nd.kind = oAny
		for range n.Attempts {
			kids = append(kids, o.expand(n.Children[0], idx))
		}
	case model.Timeout:
		// availability of its operand (latency truncation is not modelled
		// yet): a one-operand "all"
		nd.kind = oAll
	case model.Optional, model.Async:
		nd.kind = oTrue
	default:
		panic(fmt.Sprintf("unknown operator %v", n.Op))
	}
	if n.Op != model.Retry && nd.kind != oTrue {
		for _, c := range n.Children {
			kids = append(kids, o.expand(c, idx))
		}
	}
	nd.kids = kids
	o.nodes[id] = nd
	return id
}

// eval is the structure function: whether the journey succeeds given every
// call occurrence's outcome and every branch's choice.
func (o *oracle) eval(n int, up []bool, choice []int) bool {
	nd := &o.nodes[n]
	switch nd.kind {
	case oCall:
		return up[nd.occ]
	case oTrue:
		return true
	case oBranch:
		return o.eval(nd.kids[choice[nd.br]], up, choice)
	}
	ok := 0
	for _, c := range nd.kids {
		if o.eval(c, up, choice) {
			ok++
		}
	}
	switch nd.kind {
	case oAll:
		return ok == len(nd.kids)
	case oAny:
		return ok > 0
	}
	return ok >= nd.k
}

// oscenario is one scenario: shared domains and the components of unknown
// invocation model made persistent.
type oscenario struct {
	shared     []bool
	persistent []bool
}

// choices lists the components whose invocation model is a scenario
// choice: unknown model, invoked more than once per execution (two
// relevant call occurrences once retries are unrolled).
func (o *oracle) choices() []int {
	var out []int
	for ci := range o.names {
		if o.inv[ci] == model.InvocationsUnknown && o.occs[ci] >= 2 {
			out = append(out, ci)
		}
	}
	return out
}

// scenarios enumerates every scenario: all subsets of domains × all
// persistence choices.
func (o *oracle) scenarios() []oscenario {
	ch := o.choices()
	var out []oscenario
	for dm := 0; dm < 1<<len(o.dnames); dm++ {
		for pm := 0; pm < 1<<len(ch); pm++ {
			s := oscenario{shared: make([]bool, len(o.dnames)), persistent: make([]bool, len(o.names))}
			for d := range o.dnames {
				s.shared[d] = dm>>d&1 == 1
			}
			for b, ci := range ch {
				s.persistent[ci] = pm>>b&1 == 1
			}
			out = append(out, s)
		}
	}
	return out
}

// cost bounds the structure evaluations of all scenarios.
func (o *oracle) cost() float64 {
	br := 1.0
	for _, nd := range o.nodes {
		if nd.kind == oBranch {
			br *= float64(len(nd.weights))
		}
	}
	// scenarios × causes × (persistent states and free calls)
	d := len(o.dnames)
	return math.Ldexp(br, 2*d+len(o.choices())+len(o.occComp))
}

// value is the journey's success probability under a scenario.
func (o *oracle) value(s oscenario) float64 {
	nc := len(o.names)
	// groups: shared domains with a common relevant member, transitively
	group := make([]int, nc) // component → group, -1 if none
	for i := range group {
		group[i] = -1
	}
	var groups [][]int // members per group
	for d, m := range o.members {
		if !s.shared[d] || len(m) == 0 {
			continue
		}
		// merge every existing group m touches with m
		set := map[int]bool{}
		for _, ci := range m {
			set[ci] = true
		}
		var keep [][]int
		for _, g := range groups {
			touch := false
			for _, ci := range g {
				if set[ci] {
					touch = true
				}
			}
			if touch {
				for _, ci := range g {
					set[ci] = true
				}
			} else {
				keep = append(keep, g)
			}
		}
		var merged []int
		for ci := range set {
			merged = append(merged, ci)
		}
		sort.Ints(merged)
		groups = append(keep, merged)
	}
	cause := make([]float64, len(groups))
	q := append([]float64(nil), o.avail...)
	for g, m := range groups {
		best := 0.0
		for _, ci := range m {
			best = max(best, o.avail[ci])
		}
		cause[g] = 1 - best
		for _, ci := range m {
			group[ci] = g
			if best > 0 {
				q[ci] = o.avail[ci] / best
			} else {
				q[ci] = 0
			}
		}
	}
	persistent := make([]bool, nc)
	var pers []int
	for ci := range o.names {
		persistent[ci] = o.inv[ci] == model.InvocationsPersistent || (o.inv[ci] == model.InvocationsUnknown && s.persistent[ci])
		if persistent[ci] && o.occs[ci] > 0 {
			pers = append(pers, ci)
		}
	}
	// branch choices, mixed radix
	var radix []int
	var bweights [][]float64
	for _, nd := range o.nodes {
		if nd.kind == oBranch {
			radix = append(radix, len(nd.weights))
			bweights = append(bweights, nd.weights)
		}
	}
	nocc := len(o.occComp)
	up := make([]bool, nocc)
	choice := make([]int, len(radix))
	fired := make([]bool, len(groups))
	state := make([]bool, nc)
	total := 0.0
	for cm := 0; cm < 1<<len(groups); cm++ {
		wc := 1.0
		for g := range groups {
			fired[g] = cm>>g&1 == 1
			if fired[g] {
				wc *= cause[g]
			} else {
				wc *= 1 - cause[g]
			}
		}
		if wc == 0 {
			continue
		}
		for pm := 0; pm < 1<<len(pers); pm++ {
			wp := wc
			for b, ci := range pers {
				state[ci] = pm>>b&1 == 1
				if state[ci] {
					wp *= q[ci]
				} else {
					wp *= 1 - q[ci]
				}
			}
			if wp == 0 {
				continue
			}
			// occurrences whose outcome is still open: transient calls of
			// components whose group's cause did not fire
			var free []int
			for oc, ci := range o.occComp {
				switch {
				case group[ci] >= 0 && fired[group[ci]]:
					up[oc] = false
				case persistent[ci]:
					up[oc] = state[ci]
				default:
					free = append(free, oc)
				}
			}
			for i := range choice {
				choice[i] = 0
			}
			for {
				wb := wp
				for i, c := range choice {
					wb *= bweights[i][c]
				}
				if wb > 0 {
					for fm := 0; fm < 1<<len(free); fm++ {
						w := wb
						for b, oc := range free {
							up[oc] = fm>>b&1 == 1
							if up[oc] {
								w *= q[o.occComp[oc]]
							} else {
								w *= 1 - q[o.occComp[oc]]
							}
						}
						if w > 0 && o.eval(0, up, choice) {
							total += w
						}
					}
				}
				i := 0
				for ; i < len(choice); i++ {
					choice[i]++
					if choice[i] < radix[i] {
						break
					}
					choice[i] = 0
				}
				if i == len(choice) {
					break
				}
			}
		}
	}
	return total
}

// bounds returns A+, A- and a scenario attaining A-.
func (o *oracle) bounds() (plus, minus float64, binding oscenario) {
	plus = o.value(oscenario{shared: make([]bool, len(o.dnames)), persistent: make([]bool, len(o.names))})
	minus = math.Inf(1)
	for _, s := range o.scenarios() {
		if v := o.value(s); v < minus {
			minus, binding = v, s
		}
	}
	return plus, minus, binding
}

// named is the scenario sharing the named domains and making the named
// components persistent.
func (o *oracle) named(shared, persistent []string) (oscenario, error) {
	s := oscenario{shared: make([]bool, len(o.dnames)), persistent: make([]bool, len(o.names))}
	for _, d := range shared {
		i := sort.SearchStrings(o.dnames, d)
		if i == len(o.dnames) || o.dnames[i] != d {
			return s, fmt.Errorf("unknown domain %q", d)
		}
		s.shared[i] = true
	}
	for _, c := range persistent {
		i := sort.SearchStrings(o.names, c)
		if i == len(o.names) || o.names[i] != c {
			return s, fmt.Errorf("unknown component %q", c)
		}
		s.persistent[i] = true
	}
	return s, nil
}

func (o *oracle) describe(s oscenario) string {
	var sh, pe []string
	for d, b := range s.shared {
		if b {
			sh = append(sh, o.dnames[d])
		}
	}
	for c, b := range s.persistent {
		if b {
			pe = append(pe, o.names[c])
		}
	}
	return fmt.Sprintf("shared %v persistent %v", sh, pe)
}

// floorOf is SPEC's assumption-free (Fréchet) lower bound, composed
// bottom-up: seq/all max(0, 1 − Σ(1 − a_i)); race/fallback max a_i; quorum
// the best over m ≥ k of max(0, (sum of the m largest − (k−1)) / (m−k+1));
// branch the weighted mean. A retry is at least its first attempt and a
// timeout its operand; optional and async always succeed.
func floorOf(j *model.Journey, n *model.Node) float64 {
	var v []float64
	for _, c := range n.Children {
		v = append(v, floorOf(j, c))
	}
	switch n.Op {
	case model.Call:
		return j.Components[n.Component].Availability
	case model.Seq, model.All:
		s := 1.0
		for _, x := range v {
			s -= 1 - x
		}
		return max(0, s)
	case model.Race, model.Fallback, model.Retry, model.Timeout:
		m := 0.0
		for _, x := range v {
			m = max(m, x)
		}
		return m
	case model.Quorum:
		sort.Sort(sort.Reverse(sort.Float64Slice(v)))
		best, sum := 0.0, 0.0
		for m := 1; m <= len(v); m++ {
			sum += v[m-1]
			if m >= n.K {
				best = max(best, (sum-float64(n.K-1))/float64(m-n.K+1))
			}
		}
		return max(0, best)
	case model.Branch:
		s := 0.0
		for i, x := range v {
			s += n.Weights[i] * x
		}
		return s
	}
	return 1 // Optional, Async
}

func analyze(t testing.TB, j *model.Journey) *bounds.Result {
	t.Helper()
	r, err := bounds.Analyze(context.Background(), j, bounds.Options{SkipDerived: true})
	if err != nil {
		t.Fatalf("%s: %v", j.Flow, err)
	}
	return r
}

// describeJourney prints a journey as a reproducer.
func describeJourney(j *model.Journey) string {
	s := j.Flow.String() + "\n  availabilities:"
	for _, n := range j.ComponentNames() {
		c := j.Components[n]
		s += fmt.Sprintf(" %s=%v", n, c.Availability)
		if c.Invocations != model.InvocationsUnknown {
			s += [...]string{"", "(transient)", "(persistent)"}[c.Invocations]
		}
	}
	s += "\n  domains:"
	for _, d := range j.DomainNames() {
		s += fmt.Sprintf(" %s=%v", d, j.Domains[d].Members)
	}
	return s
}

// oracleJourneys returns the random journeys TestOracle checks: small
// enough to enumerate, sized from 2 to 10 leaves and 0 to 6 domains.
func oracleJourneys(count int, maxCost float64) []*model.Journey {
	var out []*model.Journey
	for seed := uint64(0); len(out) < count; seed++ {
		j := untimed(gen.Random(seed, gen.RandomOptions{Leaves: 2 + int(seed%9), Domains: int(seed % 7), MaxOccurrences: 14, Components: 1 + int(seed%7)}))
		if newOracle(j).cost() > maxCost {
			continue
		}
		out = append(out, j)
	}
	return out
}

func TestOracle(t *testing.T) {
	n := 600
	if testing.Short() {
		n = 60
	}
	// EMAC_ORACLE_N widens the search for a one-off run.
	if v, err := strconv.Atoi(os.Getenv("EMAC_ORACLE_N")); err == nil && v > 0 {
		n = v
	}
	ops := map[model.Op]int{}
	invs := map[model.Invocations]int{}
	overlapping, sharedLeaves, binding := 0, 0, 0
	for _, j := range oracleJourneys(n, 1<<22) {
		o := newOracle(j)
		plus, minus, _ := o.bounds()
		floor := floorOf(j, j.Flow)
		r := analyze(t, j)
		if !r.Exact {
			t.Errorf("%s: engine reports an inexact A- for a small journey", describeJourney(j))
		}
		if math.Abs(r.Optimistic-plus) > 1e-9 || math.Abs(r.Pessimistic-minus) > 1e-9 || math.Abs(r.Floor-floor) > 1e-12 {
			t.Errorf("%s\n got A+=%.12f A-=%.12f floor=%.12f\nwant A+=%.12f A-=%.12f floor=%.12f",
				describeJourney(j), r.Optimistic, r.Pessimistic, r.Floor, plus, minus, floor)
			continue
		}
		s, err := o.named(r.Binding, r.Persistent)
		if err != nil {
			t.Errorf("%s: binding scenario: %v", describeJourney(j), err)
			continue
		}
		if v := o.value(s); math.Abs(v-minus) > 1e-9 {
			t.Errorf("%s\n binding scenario %s is worth %.12f, want A-=%.12f", describeJourney(j), o.describe(s), v, minus)
		}
		// coverage of what the journeys exercise
		j.Flow.Walk(func(n *model.Node) { ops[n.Op]++ })
		for _, c := range j.Components {
			invs[c.Invocations]++
		}
		for _, c := range j.Flow.Calls() {
			if c > 1 {
				sharedLeaves++
				break
			}
		}
		for a := range o.members {
			for b := range a {
				if overlap(o.members[a], o.members[b]) {
					overlapping++
				}
			}
		}
		if len(r.Binding)+len(r.Persistent) > 0 {
			binding++
		}
	}
	for op := model.Call; op <= model.Async; op++ {
		if ops[op] == 0 {
			t.Errorf("no journey used %v", op)
		}
	}
	if len(invs) != 3 || overlapping == 0 || sharedLeaves == 0 || binding == 0 {
		t.Errorf("coverage: invocation models %v, %d overlapping domain pairs, %d journeys with shared leaves, %d with a non-trivial binding scenario",
			invs, overlapping, sharedLeaves, binding)
	}
	t.Logf("operators %v; invocation models %v; %d overlapping domain pairs; %d journeys with shared leaves; %d with a non-trivial binding scenario",
		ops, invs, overlapping, sharedLeaves, binding)
}

// TestOracleBudget starves the engine's exact search: whatever the budget,
// an inexact A- must stay a sound bound, between the floor and the true A-.
func TestOracleBudget(t *testing.T) {
	inexact := 0
	for _, j := range oracleJourneys(300, 1<<20) {
		_, minus, _ := newOracle(j).bounds()
		for _, w := range []int64{1, 16, 256} {
			r, err := bounds.Analyze(context.Background(), j, bounds.Options{SkipDerived: true, MaxWork: w})
			if err != nil {
				t.Fatal(err)
			}
			if !r.Exact {
				inexact++
			}
			if r.Pessimistic > minus+1e-12 || r.Pessimistic < r.Floor-1e-12 || (r.Exact && r.Pessimistic < minus-1e-9) {
				t.Errorf("%s\n budget %d: got A-=%.12f (exact %v, floor %.12f), true A-=%.12f", describeJourney(j), w, r.Pessimistic, r.Exact, r.Floor, minus)
				break
			}
		}
	}
	if inexact == 0 {
		t.Errorf("no budget made the engine inexact")
	}
}

func overlap(a, b []int) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

// TestOracleClosedForms checks the oracle and the engine against values
// known in closed form.
func TestOracleClosedForms(t *testing.T) {
	const a, b, c = 0.9, 0.8, 0.7
	checkout := map[string]float64{"front": 0.9995, "cart": 0.999, "pricing": 0.999, "paya": 0.995, "payb": 0.995}
	const checkoutFlow = "Series(front, All(cart, pricing), Race(paya, payb))"
	persistent, transient := model.InvocationsPersistent, model.InvocationsTransient
	indep3 := a*b + a*c + b*c - 2*a*b*c
	tests := []struct {
		name        string
		flow        string
		avail       map[string]float64
		domains     map[string][]string
		inv         map[string]model.Invocations
		plus, minus float64
	}{
		{"checkout, shared payment network", checkoutFlow, checkout, map[string][]string{"payment-network": {"paya", "payb"}, "k8s/zone": {"front", "cart", "pricing"}}, nil,
			0.99747706, 0.99251449},
		{"checkout, separate payment networks", checkoutFlow, checkout, map[string][]string{"payment-network-a": {"paya"}, "payment-network-b": {"payb"}}, nil,
			0.99747706, 0.99747706},
		{"retry of a persistent component is one call", "Retry[attempts=3](x)", map[string]float64{"x": a}, nil, map[string]model.Invocations{"x": persistent}, a, a},
		{"retry of a transient component", "Retry[attempts=3](x)", map[string]float64{"x": a}, nil, map[string]model.Invocations{"x": transient},
			1 - math.Pow(1-a, 3), 1 - math.Pow(1-a, 3)},
		{"retry of an unknown component", "Retry[attempts=3](x)", map[string]float64{"x": a}, nil, nil, 1 - math.Pow(1-a, 3), a},
		{"retry of one attempt", "Retry[attempts=1](x)", map[string]float64{"x": a}, nil, nil, a, a},
		{"race of a transient component with itself", "Race(x, x)", map[string]float64{"x": a}, nil, map[string]model.Invocations{"x": transient}, 1 - (1-a)*(1-a), 1 - (1-a)*(1-a)},
		{"race of a persistent component with itself", "Race(x, x)", map[string]float64{"x": a}, nil, map[string]model.Invocations{"x": persistent}, a, a},
		{"race of an unknown component with itself", "Race(x, x)", map[string]float64{"x": a}, nil, nil, 1 - (1-a)*(1-a), a},
		{"quorum 2 of 3 in one domain", "Quorum[k=2](x, y, z)", map[string]float64{"x": a, "y": b, "z": c}, map[string][]string{"d": {"x", "y", "z"}}, nil,
			indep3, math.Min(indep3, a*(1-(1-b/a)*(1-c/a)))},
		{"series in one domain: sharing never binds", "Seq(x, y)", map[string]float64{"x": a, "y": b}, map[string][]string{"d": {"x", "y"}}, nil, a * b, a * b},
		{"branch", "Branch(0.7: x, 0.3: Seq(x, y))", map[string]float64{"x": a, "y": b}, nil, map[string]model.Invocations{"x": transient}, 0.7*a + 0.3*a*b, 0.7*a + 0.3*a*b},
		{"optional and async", "Seq(x, Optional(y), Async(z))", map[string]float64{"x": a, "y": 0, "z": 0}, map[string][]string{"d": {"x", "y", "z"}}, nil, a, a},
		{"fallback with a common dependency", "Fallback(Seq(x, y), Seq(z, y))", map[string]float64{"x": a, "y": b, "z": c}, nil, nil,
			1 - (1-a*b)*(1-c*b), b * (1 - (1-a)*(1-c))},
		{"retry over a shared cause", "Retry[attempts=2](Seq(x, y))", map[string]float64{"x": a, "y": b}, map[string][]string{"d": {"x", "y"}},
			map[string]model.Invocations{"x": transient, "y": transient}, 1 - (1-a*b)*(1-a*b), a * (1 - (1-b/a)*(1-b/a))},
		{"retry of a persistent component in series with a shared one", "Seq(y, Retry[attempts=2](x))", map[string]float64{"x": b, "y": a}, map[string][]string{"d": {"x", "y"}}, nil,
			a * (1 - (1-b)*(1-b)), a * b},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j, err := model.Build("t", tc.flow, tc.avail, tc.domains)
			if err != nil {
				t.Fatal(err)
			}
			for c, v := range tc.inv {
				j.Components[c].Invocations = v
			}
			plus, minus, _ := newOracle(j).bounds()
			if math.Abs(plus-tc.plus) > 5e-9 || math.Abs(minus-tc.minus) > 5e-9 {
				t.Errorf("oracle: got A+=%.10f A-=%.10f, want %.10f %.10f", plus, minus, tc.plus, tc.minus)
			}
			r := analyze(t, j)
			if math.Abs(r.Optimistic-tc.plus) > 5e-9 || math.Abs(r.Pessimistic-tc.minus) > 5e-9 {
				t.Errorf("engine: got A+=%.10f A-=%.10f, want %.10f %.10f", r.Optimistic, r.Pessimistic, tc.plus, tc.minus)
			}
		})
	}
}

// TestOracleRequired checks each required target against the oracle: the
// bound reaches the objective at the reported value and not 1e-8 below it
// (or, when infeasible, not even at 1).
func TestOracleRequired(t *testing.T) {
	n := 600
	if testing.Short() {
		n = 60
	}
	if v, err := strconv.Atoi(os.Getenv("EMAC_ORACLE_N")); err == nil && v > 0 {
		n = v
	}
	checked, inner := 0, 0
	aMinus := func(j *model.Journey, comp string, a float64) float64 {
		c := j.Clone()
		c.Components[comp].Availability = a
		_, minus, _ := newOracle(c).bounds()
		return minus
	}
	for _, j := range oracleJourneys(n, 1<<16) {
		r, err := bounds.Analyze(context.Background(), j, bounds.Options{})
		if err != nil {
			t.Fatal(err)
		}
		target := j.Objective.Availability
		for _, q := range r.Required {
			checked++
			if !q.Feasible {
				if got := aMinus(j, q.Component, 1); got >= target {
					t.Errorf("%s\n%s: reported infeasible, but A- = %.12f at 1", describeJourney(j), q.Component, got)
				}
				continue
			}
			if got := aMinus(j, q.Component, q.Value); got < target-1e-12 {
				t.Errorf("%s\n%s: A- = %.12f < %v at the required %.12f", describeJourney(j), q.Component, got, target, q.Value)
			}
			if q.Value > 1e-8 {
				inner++
				if got := aMinus(j, q.Component, q.Value-1e-8); got >= target {
					t.Errorf("%s\n%s: A- = %.12f ≥ %v already at %.12f, below the required %.12f", describeJourney(j), q.Component, got, target, q.Value-1e-8, q.Value)
				}
			}
		}
	}
	if inner == 0 {
		t.Error("no required target above 0: the test checks nothing")
	}
	t.Logf("%d required targets checked, %d of them above 0", checked, inner)
}
