package discovery

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/emac-dev/emac/internal/stats"

	"github.com/emac-dev/emac/internal/partition"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/model"
)

// The flow of an operation is inferred from its sampled invocations: the
// calls each made, when, and how they ended (docs/discovery.md).
//
//  1. Calls to the same target one after another, each after the previous
//     one failed (or marked as a resend), are a retry's attempts: one unit.
//     A target called again after a success is a second unit.
//  2. Between two units seen together: always one before the other
//     (ordered), sometimes overlapping, or never seen together
//     (exclusive).
//  3. Series: the units split into blocks, all ordered between blocks
//     (connected components of "not ordered"); each block is inferred on
//     its own; a block present only when the one before it failed is its
//     fallback; one whose failure does not stop what follows is optional.
//  4. Parallel: a block splits into components that are not ordered with
//     each other (connected components of "ordered"): never together
//     makes a branch (weights from the counts); together, losers
//     cancelled makes a race, later ones starting a fixed delay after the
//     first (and only when it has not finished) a hedged race; else the
//     success of what follows tells all (every one must succeed) from a
//     quorum (k of them).
//  5. Durations piling at one value with a timeout error make a timeout
//     (of an attempt: the retry's perTryTimeout); the gaps between
//     attempts a backoff; a call in a trace of its own that the caller
//     does not wait for (a producer span, a follows-from link) an async.

// unit is one unit of an invocation: a call and its retries. It holds no
// pointer, and the failed attempts of the few units retried are apart
// (inferrer.retries): an inferrer holds a unit for every key in every
// invocation, most of them absent, so it is kept to 32 bytes.
type unit struct {
	start, end int64
	attempts   int32
	// retry is 1 + the index of the unit's failed attempts in
	// inferrer.retries, or 0 when it made one attempt
	retry   int32
	outcome Outcome
	present bool
	async   bool
}

// retried is what a retried unit's failed attempts were: each one's
// duration and outcome, and the gap after it.
type retried struct {
	dur  []int64
	out  []Outcome
	gaps []int64
}

// unitKey names a unit: the target, and its occurrence in the
// invocation (1 for the first call of it, 2 for a call after it
// succeeded, …).
type unitKey struct {
	target opKey
	nth    int
}

// inferrer holds one operation's units across its sampled invocations.
type inferrer struct {
	keys []unitKey
	// units[i][k] is unit k in invocation i
	units     [][]unit
	retries   []retried
	ok        []bool
	tol       int64
	name      func(opKey) string
	decisions []decision
	// branches are the branches found, with their weights' intervals
	branches []branchEstimate
	// cut marks the units under a deadline found over a run of steps
	cut map[int]bool
	// both[a·k+b] counts the invocations with units a and b,
	// first[a·k+b] those where a ended before b started (relations)
	both, first []int32
	// giveUp says to stop at the first decision no invocation supports
	// (decide with n = 0), which makes the flow's confidence 0 whatever
	// follows: a caller with another flow for that case (the kinds of
	// request, variants) needs no more of this one (inferOr)
	giveUp bool
}

// gaveUp is the panic that unwinds an inference that gave up (giveUp).
type gaveUp struct{}

// inferOr is infer over set, or false when it gave up (giveUp).
func (in *inferrer) inferOr(set []int) (n *model.Node, ok bool) {
	defer func() {
		if in.giveUp {
			if r := recover(); r != nil {
				if _, is := r.(gaveUp); !is {
					panic(r)
				}
				n, ok = nil, false
			}
		}
	}()
	return in.infer(set), true
}

type branchEstimate struct {
	node    *model.Node
	weights []v1alpha1.Estimate
}

// newInferrer lays out a sample in units. The sample comes in the order
// it is chosen in (sorted, invHeap.sorted), which makes the result
// deterministic; a kind's share of it keeps that order.
func newInferrer(sample []*invocation, tol int64, name func(opKey) string) *inferrer {
	in := &inferrer{tol: tol, name: name, cut: map[int]bool{}}
	type pending struct {
		key int32 // in in.keys
		u   unit
	}
	// the units of every invocation in one array, ends[i] ending
	// invocation i's; per invocation, the targets seen (few: a slice
	// searched beats a map cleared for each) with their latest unit and
	// how many units they have, and the numbers of their 1st, 2nd, …
	// units' keys (numbered as they first appear; byTarget holds them
	// for every target, looked up once an invocation)
	calls := 0
	for _, inv := range sample {
		calls += len(inv.calls)
	}
	var (
		units = make([]pending, 0, calls) // at most one unit a call
		ends  = make([]int, 0, len(sample))
	)
	type seen struct {
		target    opKey
		last, nth int
		keys      []int32
	}
	var targets []seen
	byTarget := map[opKey][]int32{}
	for _, inv := range sample {
		targets = targets[:0]
	calls:
		for _, c := range inv.calls {
			end := c.end
			if c.async {
				end = c.start // not waited for: a point in the flow
			}
			t := -1
			for j := range targets {
				if targets[j].target == c.target {
					t = j
					break
				}
			}
			if t >= 0 {
				u := &units[targets[t].last].u
				// another attempt: after the previous one ended, which failed
				// (or the call says it is a resend)
				if c.start >= u.end-tol && !c.async && (u.outcome.Failed() || c.resend > 0) {
					if u.retry == 0 {
						in.retries = append(in.retries, retried{})
						u.retry = int32(len(in.retries))
					}
					r := &in.retries[u.retry-1]
					r.dur = append(r.dur, u.end-in.lastStart(u))
					r.out = append(r.out, u.outcome)
					r.gaps = append(r.gaps, c.start-u.end)
					u.attempts++
					u.end, u.outcome = end, c.outcome
					continue calls
				}
			} else {
				t = len(targets)
				targets = append(targets, seen{target: c.target, keys: byTarget[c.target]})
			}
			tg := &targets[t]
			tg.nth++
			tg.last = len(units)
			if tg.nth > len(tg.keys) {
				tg.keys = append(tg.keys, int32(len(in.keys)))
				byTarget[c.target] = tg.keys
				in.keys = append(in.keys, unitKey{c.target, tg.nth})
			}
			units = append(units, pending{tg.keys[tg.nth-1], unit{present: true, start: c.start, end: end, outcome: c.outcome, attempts: 1, async: c.async}})
		}
		ends = append(ends, len(units))
		in.ok = append(in.ok, inv.ok)
	}
	// keys in the order they first start on average: stable names
	in.units = make([][]unit, len(ends))
	all := make([]unit, len(ends)*len(in.keys)) // one array: rows of it
	from := 0
	for i, end := range ends {
		in.units[i] = all[i*len(in.keys) : (i+1)*len(in.keys) : (i+1)*len(in.keys)]
		for _, p := range units[from:end] {
			in.units[i][p.key] = p.u
		}
		from = end
	}
	return in
}

// all lists every unit.
func (in *inferrer) all() []int {
	out := make([]int, len(in.keys))
	for i := range out {
		out[i] = i
	}
	return out
}

// lastStart is the start of a unit's latest attempt.
func (in *inferrer) lastStart(u *unit) int64 {
	s := u.start
	if u.retry > 0 {
		r := &in.retries[u.retry-1]
		for i, d := range r.dur {
			s += d + r.gaps[i]
		}
	}
	return s
}

// decision is one choice the flow rests on: the invocations that could
// have contradicted it and did not, and what it says.
type decision struct {
	n    int
	note string
	// node is the node the decision made, when a later one may undo it
	node *model.Node
}

// decide records a decision taken on n cases with none contrary.
func (in *inferrer) decide(n int, note string) {
	if n == 0 && in.giveUp {
		panic(gaveUp{})
	}
	in.decisions = append(in.decisions, decision{n: n, note: note})
}

// decideOn records a decision that made node.
func (in *inferrer) decideOn(node *model.Node, n int, note string) {
	in.decisions = append(in.decisions, decision{n: n, note: note, node: node})
}

// undo drops the decision that made node.
func (in *inferrer) undo(node *model.Node) {
	in.decisions = slices.DeleteFunc(in.decisions, func(d decision) bool { return d.node == node })
}

// confidence is the least of the decisions' confidences. With n cases
// and none contrary, a contrary rate above 1 − 0.05^(1/n) is excluded at
// 95% (the exact binomial, Clopper–Pearson, bound): the decision's
// confidence is 0.05^(1/n).
func (in *inferrer) confidence() float64 {
	c := 1.0
	for _, d := range in.decisions {
		c = min(c, stats.Unrefuted(d.n))
	}
	return c
}

// notes lists the decisions.
func (in *inferrer) notes() []string {
	var out []string
	for _, d := range in.decisions {
		out = append(out, d.note)
	}
	return out
}

// infer returns the flow over the units in set (indices into keys).
func (in *inferrer) infer(set []int) *model.Node {
	if len(set) == 0 {
		return nil
	}
	if len(set) == 1 {
		return in.leaf(set[0])
	}
	if blocks := in.series(set); len(blocks) > 1 {
		return in.deadline(in.seq(blocks), set)
	}
	if alts := in.alternatives(set); len(alts) > 1 {
		return in.deadline(in.group(alts), set)
	}
	if comps := in.parallel(set); len(comps) > 1 {
		return in.deadline(in.group(comps), set)
	}
	// neither: not a series-parallel order. Approximated by all, noted.
	in.decide(0, fmt.Sprintf("%s: calls overlap in no series-parallel way; approximated as all", in.names(set)))
	var kids []*model.Node
	for _, k := range set {
		kids = append(kids, in.leaf(k))
	}
	return &model.Node{Op: model.All, Children: kids}
}

func (in *inferrer) names(set []int) string {
	var s []string
	for _, k := range set {
		s = append(s, in.name(in.keys[k].target))
	}
	return fmt.Sprint(s)
}

// relation of units a and b across the invocations: how often together,
// and how often each ended before the other started.
func (in *inferrer) relation(a, b int) (both, aFirst, bFirst int) {
	if in.both == nil {
		in.relations()
	}
	k := len(in.keys)
	return int(in.both[a*k+b]), int(in.first[a*k+b]), int(in.first[b*k+a])
}

// relations counts every pair's relation in one pass over the
// invocations: the decompositions ask for them again and again.
func (in *inferrer) relations() {
	k := len(in.keys)
	in.both, in.first = make([]int32, k*k), make([]int32, k*k)
	var present []int
	for _, row := range in.units {
		present = present[:0]
		for i := range row {
			if row[i].present {
				present = append(present, i)
			}
		}
		for x, a := range present {
			ua := row[a]
			for _, b := range present[x+1:] {
				ub := row[b]
				in.both[a*k+b]++
				in.both[b*k+a]++
				if ua.end <= ub.start+in.tol {
					in.first[a*k+b]++
				} else if ub.end <= ua.start+in.tol {
					in.first[b*k+a]++
				}
			}
		}
	}
}

func (in *inferrer) ordered(a, b int) bool {
	both, af, bf := in.relation(a, b)
	return both > 0 && (af == both || bf == both)
}

// components splits set by connectivity of edge: the groups in the order
// of their first members in set, each in set's order.
func components(set []int, edge func(a, b int) bool) [][]int {
	groups := partition.Components(len(set), func(i, j int) bool { return edge(set[i], set[j]) })
	out := make([][]int, len(groups))
	for g, idx := range groups {
		for _, i := range idx {
			out[g] = append(out[g], set[i])
		}
	}
	return out
}

// series splits set into blocks ordered one after another.
func (in *inferrer) series(set []int) [][]int {
	blocks := components(set, func(a, b int) bool { return !in.ordered(a, b) })
	if len(blocks) < 2 {
		return blocks
	}
	// a block is before another when its units end before theirs start
	sort.SliceStable(blocks, func(i, j int) bool {
		for _, a := range blocks[i] {
			for _, b := range blocks[j] {
				if both, af, bf := in.relation(a, b); both > 0 {
					return af > bf
				}
			}
		}
		return in.meanStart(blocks[i]) < in.meanStart(blocks[j])
	})
	return blocks
}

// meanStart is the mean start of a set's first unit, over the invocations
// where one is present.
func (in *inferrer) meanStart(set []int) float64 {
	sum, n := 0.0, 0
	for _, row := range in.units {
		first := int64(math.MaxInt64)
		for _, k := range set {
			if row[k].present {
				first = min(first, row[k].start)
			}
		}
		if first != math.MaxInt64 {
			sum += float64(first)
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// together says whether units a and b ran in one invocation.
func (in *inferrer) together(a, b int) bool {
	both, _, _ := in.relation(a, b)
	return both > 0
}

// alternatives splits set into parts that never run in one invocation:
// a branch's cases.
func (in *inferrer) alternatives(set []int) [][]int {
	alts := components(set, in.together)
	sort.SliceStable(alts, func(i, j int) bool { return in.meanStart(alts[i]) < in.meanStart(alts[j]) })
	return alts
}

// parallel splits set into parts not ordered with each other.
func (in *inferrer) parallel(set []int) [][]int {
	comps := components(set, in.ordered)
	sort.SliceStable(comps, func(i, j int) bool { return in.meanStart(comps[i]) < in.meanStart(comps[j]) })
	return comps
}

// span is a part's execution in one invocation, as its units tell.
type span struct {
	present    bool
	ok         bool
	start, end int64
}

// eval is how node n, over units, went in invocation row.
func (in *inferrer) eval(n *model.Node, row []unit, leafOf map[*model.Node]int) span {
	if k, ok := leafOf[n]; ok {
		u := row[k]
		if !u.present {
			return span{}
		}
		return span{present: true, ok: !u.outcome.Failed(), start: u.start, end: u.end}
	}
	var parts []span
	out := span{start: math.MaxInt64, end: math.MinInt64}
	for _, c := range n.Children {
		s := in.eval(c, row, leafOf)
		parts = append(parts, s)
		if s.present {
			out.present = true
			out.start = min(out.start, s.start)
			out.end = max(out.end, s.end)
		}
	}
	if !out.present {
		return span{}
	}
	switch n.Op {
	case model.Seq:
		out.ok = true
		for _, p := range parts {
			if p.present && !p.ok {
				out.ok = false
			}
		}
		out.ok = out.ok && parts[len(parts)-1].present
	case model.All:
		out.ok = true
		for _, p := range parts {
			out.ok = out.ok && p.present && p.ok
		}
	case model.Quorum:
		k := 0
		for _, p := range parts {
			if p.present && p.ok {
				k++
			}
		}
		out.ok = k >= n.K
	case model.Race, model.Fallback, model.Branch:
		for _, p := range parts {
			out.ok = out.ok || p.present && p.ok
		}
	case model.Optional, model.Async:
		out.ok = true
	default: // Retry, Timeout: the unit's own
		out.ok = parts[0].ok
	}
	return out
}

// leaves maps the call nodes of n to their units.
func (in *inferrer) leaves(n *model.Node, set []int) map[*model.Node]int {
	m := map[*model.Node]int{}
	byName := map[string]int{}
	for _, k := range set {
		byName[in.unitName(k)] = k
	}
	n.Walk(func(x *model.Node) {
		if x.Op == model.Call {
			if k, ok := byName[x.Component]; ok {
				m[x] = k
			}
		}
	})
	// a wrapper (retry, timeout, async) stands for its unit
	n.Walk(func(x *model.Node) {
		switch x.Op {
		case model.Retry, model.Timeout, model.Async:
			if k, ok := m[x.Children[0]]; ok {
				m[x] = k
			}
		}
	})
	return m
}

func (in *inferrer) unitName(k int) string {
	key := in.keys[k]
	name := in.name(key.target)
	if key.nth > 1 {
		name = fmt.Sprintf("%s#%d", name, key.nth)
	}
	return name
}

// seq builds the series of blocks, finding fallbacks and optional steps.
func (in *inferrer) seq(blocks [][]int) *model.Node {
	var all []int
	var nodes []*model.Node
	// a run of blocks under one deadline is one step
	timed := in.timedOut(blocks)
	for i := 0; i < len(blocks); i++ {
		j, d, n := in.run(blocks, timed, i)
		if j == i {
			nodes = append(nodes, in.infer(blocks[i]))
			all = append(all, blocks[i]...)
			continue
		}
		var run []*model.Node
		var set []int
		for _, b := range blocks[i : j+1] {
			for _, k := range b {
				in.cut[k] = true
			}
			run = append(run, in.infer(b))
			set = append(set, b...)
		}
		in.decide(n, fmt.Sprintf("%s has a timeout of %v: in %d invocations its calls were cut with a timeout error that long after it started", flowNames(run), d, n))
		nodes = append(nodes, &model.Node{Op: model.Timeout, After: d, Children: []*model.Node{{Op: model.Seq, Children: run}}})
		all = append(all, set...)
		// the run is one block from here on
		merged := slices.Concat(blocks[i : j+1]...)
		blocks = slices.Concat(blocks[:i], [][]int{merged}, blocks[j+1:])
	}
	// fallback: a block present only when the one before failed
	var steps []*model.Node
	var stepSets [][]int
	for i := 0; i < len(nodes); i++ {
		chain := []*model.Node{nodes[i]}
		sets := slices.Clone(blocks[i])
		for i+1 < len(nodes) && in.onlyAfterFailure(chain, sets, nodes[i+1], blocks[i+1]) {
			i++
			chain = append(chain, nodes[i])
			sets = append(sets, blocks[i]...)
		}
		if len(chain) > 1 {
			steps = append(steps, &model.Node{Op: model.Fallback, Children: chain})
		} else {
			steps = append(steps, chain[0])
		}
		stepSets = append(stepSets, sets)
	}
	// optional: a step whose failure does not stop what follows
	for i, s := range steps {
		if s.Op == model.Async {
			continue
		}
		lf := in.leaves(s, stepSets[i])
		failedOn, n := 0, 0
		for r, row := range in.units {
			sp := in.eval(s, row, lf)
			if !sp.present {
				continue
			}
			n++
			if sp.ok {
				continue
			}
			later := false
			for _, rest := range stepSets[i+1:] {
				for _, k := range rest {
					if u := row[k]; u.present && !u.async && u.start >= sp.end-in.tol {
						later = true
					}
				}
			}
			if later || (i == len(steps)-1 && in.ok[r]) {
				failedOn++
			}
		}
		if failedOn > 0 {
			in.decide(failedOn, fmt.Sprintf("%s is optional: it failed in %d of %d invocations and what follows went on", s, failedOn, n))
			steps[i] = &model.Node{Op: model.Optional, Children: []*model.Node{s}}
		}
	}
	if len(steps) == 1 {
		return steps[0]
	}
	var ordered int
	for _, row := range in.units {
		for _, k := range all {
			if row[k].present {
				ordered++
				break
			}
		}
	}
	in.decide(ordered, fmt.Sprintf("%s run one after another in every invocation that made them (%d)", flowNames(steps), ordered))
	return &model.Node{Op: model.Seq, Children: steps}
}

func flowNames(ns []*model.Node) string {
	var s []string
	for _, n := range ns {
		s = append(s, n.String())
	}
	return fmt.Sprint(s)
}

// onlyAfterFailure says whether next runs only after chain failed (and
// never when it succeeded): a fallback.
func (in *inferrer) onlyAfterFailure(chain []*model.Node, sets []int, next *model.Node, nextSet []int) bool {
	fb := &model.Node{Op: model.Fallback, Children: chain}
	if len(chain) == 1 {
		fb = chain[0]
	}
	lf := in.leaves(fb, sets)
	lfNext := in.leaves(next, nextSet)
	after, okWithout := 0, 0
	for _, row := range in.units {
		s := in.eval(fb, row, lf)
		t := in.eval(next, row, lfNext)
		switch {
		case t.present && (!s.present || s.ok):
			return false
		case t.present:
			after++
		case s.present && s.ok:
			okWithout++
		}
	}
	if after == 0 || okWithout == 0 {
		return false
	}
	in.decide(after+okWithout, fmt.Sprintf("%s is a fallback of %s: it ran in %d invocations, each after a failure, and never after one of %d successes", next, fb, after, okWithout))
	return true
}

// group builds the parallel composition of comps.
func (in *inferrer) group(comps [][]int) *model.Node {
	// parts that never run together are one part: a branch among them
	excl := func(a, b []int) bool {
		for _, x := range a {
			for _, y := range b {
				if in.together(x, y) {
					return false
				}
			}
		}
		return true
	}
	if len(comps) > 2 || !excl(comps[0], comps[1]) {
		idx := make([]int, len(comps))
		for i := range idx {
			idx[i] = i
		}
		merged := components(idx, func(a, b int) bool { return excl(comps[a], comps[b]) })
		if len(merged) > 1 && len(merged) < len(comps) {
			var out [][]int
			for _, m := range merged {
				var u []int
				for _, i := range m {
					u = append(u, comps[i]...)
				}
				out = append(out, u)
			}
			comps = out
		}
	}
	var kids []*model.Node
	for _, c := range comps {
		kids = append(kids, in.infer(c))
	}
	var set []int
	for _, c := range comps {
		set = append(set, c...)
	}
	n := &model.Node{Children: kids}
	lf := in.leaves(n, set)
	// presence: together, never together, or sometimes
	never, always := true, true
	reached := 0
	counts := make([]int, len(kids))
	for _, row := range in.units {
		present := 0
		for i, k := range kids {
			if in.eval(k, row, lf).present {
				present++
				counts[i]++
			}
		}
		if present == 0 {
			continue
		}
		reached++
		if present > 1 {
			never = false
		}
		if present < len(kids) {
			always = false
		}
	}
	switch {
	case never:
		n.Op = model.Branch
		var ests []v1alpha1.Estimate
		for _, c := range counts {
			n.Weights = append(n.Weights, float64(c)/float64(reached))
			ests = append(ests, estimate(c, reached, "invocations that reached the branch took this case"))
		}
		in.branches = append(in.branches, branchEstimate{n, ests})
		in.decide(reached, fmt.Sprintf("%s are alternatives: never two in one of %d invocations; weights %v", flowNames(kids), reached, n.Weights))
		return n
	case !always:
		if h, ok := in.hedge(kids, lf); ok {
			n.Op, n.HedgeAfter = model.Race, h
			in.decide(reached, fmt.Sprintf("%s is a hedged race: each later one started %v after the one before, and only when it had not finished (%d invocations)", flowNames(kids), h, reached))
			return n
		}
	}
	// cancellations: the rest are cancelled when the k-th success arrives
	// (k = 1: a race; more: a quorum that stops waiting)
	cancelled, kc := 0, 0
	for _, row := range in.units {
		at := int64(math.MaxInt64)
		for _, c := range kids {
			if k, ok := lf[c]; ok && row[k].present && row[k].outcome == Cancelled {
				at = min(at, row[k].end)
			}
		}
		if at == math.MaxInt64 {
			continue
		}
		succ := 0
		for _, c := range kids {
			if s := in.eval(c, row, lf); s.present && s.ok && s.end <= at+in.tol {
				succ++
			}
		}
		if kc != 0 && succ != kc {
			kc = -1
		}
		if kc == 0 {
			kc = succ
		}
		cancelled++
	}
	switch {
	case cancelled > 0 && kc == 1:
		n.Op = model.Race
		in.decide(cancelled, fmt.Sprintf("%s is a race: the others were cancelled when the first one succeeded (in %d of %d invocations)", flowNames(kids), cancelled, reached))
		return n
	case cancelled > 0 && kc > 1:
		n.Op, n.K = model.Quorum, kc
		in.decide(cancelled, fmt.Sprintf("%s is a quorum of %d: the others were cancelled when the %d-th success arrived (in %d of %d invocations)", flowNames(kids), kc, kc, cancelled, reached))
		return n
	}
	// run together, but never at once: one after the other in either
	// order, which no operator says
	if !in.overlapping(comps) {
		in.decide(0, fmt.Sprintf("%s run one after the other, in either order, never at once: no operator of the algebra says that", flowNames(kids)))
		n.Op = model.All
		return n
	}
	// all or a quorum: the least number of successes what follows needed
	k, basis := in.quorum(kids, lf, set)
	if k < len(kids) {
		n.Op, n.K = model.Quorum, k
		in.decide(basis, fmt.Sprintf("%s is a quorum of %d: the invocation went on whenever %d succeeded (%d invocations)", flowNames(kids), k, k, basis))
		return n
	}
	n.Op = model.All
	in.decide(reached, fmt.Sprintf("%s run together (overlapping) in %d invocations", flowNames(kids), reached))
	return n
}

// overlapping says whether units of two different parts ever ran at the
// same time.
func (in *inferrer) overlapping(parts [][]int) bool {
	for i, p := range parts {
		for _, q := range parts[i+1:] {
			for _, a := range p {
				for _, b := range q {
					if both, af, bf := in.relation(a, b); both-af-bf > 0 {
						return true
					}
				}
			}
		}
	}
	return false
}

// timedOut says of each block whether some call of it timed out: where a
// run under a deadline may end.
func (in *inferrer) timedOut(blocks [][]int) []bool {
	timed := make([]bool, len(blocks))
	for _, row := range in.units {
		for b, blk := range blocks {
			for _, k := range blk {
				if u := row[k]; u.present && !u.async && u.outcome == Timeout {
					timed[b] = true
				}
			}
		}
	}
	return timed
}

// run finds the longest run of blocks from i whose timed-out calls were
// all cut at one offset from the run's start, some of them after its
// first block and some in its last: a deadline over the run. It returns the run's last block
// (i when there is none), the deadline and the invocations that showed it.
// timed[j] says whether some call of block j timed out (timedOut).
func (in *inferrer) run(blocks [][]int, timed []bool, i int) (int, time.Duration, int) {
	if i == 0 {
		// a deadline over the first steps that fits the whole series as
		// well is the whole series' (deadline finds it): nothing tells
		// the two apart, and the whole is what a deadline usually covers
		var set []int
		for _, b := range blocks {
			set = append(set, b...)
		}
		if _, ok := pile(in.cutOffsets(set, nil), in.tol); ok {
			return i, 0, 0
		}
	}
	// a run ends at a block where some call timed out (last below): the
	// blocks where none did are passed over without a look at every
	// invocation
	for j := len(blocks) - 1; j > i; j-- {
		if !timed[j] {
			continue
		}
		var offs []int64
		later, last := false, false
		for _, row := range in.units {
			// only where the run's first step ran is its start known
			first := false
			for _, k := range blocks[i] {
				first = first || row[k].present && !row[k].async
			}
			if !first {
				continue
			}
			start, cut := int64(math.MaxInt64), int64(math.MinInt64)
			for b, blk := range blocks[i : j+1] {
				for _, k := range blk {
					u := row[k]
					if !u.present || u.async {
						continue
					}
					start = min(start, u.start)
					if u.outcome == Timeout {
						cut = max(cut, u.end)
						later = later || b > 0
						last = last || b == j-i
					}
				}
			}
			if cut != math.MinInt64 {
				offs = append(offs, cut-start)
			}
		}
		// the run ends at a block that was cut: nothing shows a deadline
		// over blocks that never were
		if d, ok := pile(offs, in.tol); ok && later && last {
			return j, d, len(offs)
		}
	}
	return i, 0, 0
}

// deadline wraps n, over the units of set, in the timeout its timed-out
// calls tell: ended with a timeout error at one offset from the part's
// start, and not by a deadline of their own.
func (in *inferrer) deadline(n *model.Node, set []int) *model.Node {
	lf := in.leaves(n, set)
	own := map[int]bool{}
	n.Walk(func(x *model.Node) {
		if k, ok := lf[x]; ok && (x.Op == model.Timeout || x.Op == model.Retry && x.PerTryTimeout > 0) {
			own[k] = true
		}
	})
	offs := in.cutOffsets(set, own)
	d, ok := pile(offs, in.tol)
	if !ok {
		return n
	}
	in.unwrap(n, d, set, lf)
	in.decide(len(offs), fmt.Sprintf("%s has a timeout of %v: in %d invocations its calls were cut with a timeout error that long after it started", n, d, len(offs)))
	return &model.Node{Op: model.Timeout, After: d, Children: []*model.Node{n}}
}

// unwrap removes from under a deadline d over set the timeouts of d of
// calls that always start with the set: the outer deadline cut them.
func (in *inferrer) unwrap(n *model.Node, d time.Duration, set []int, lf map[*model.Node]int) {
	for i, c := range n.Children {
		k, ok := lf[c]
		if ok && c.Op == model.Timeout && abs64(int64(c.After-d)) <= 2*in.tol && in.startsFirst(k, set) {
			n.Children[i] = c.Children[0]
			in.undo(c)
			continue
		}
		in.unwrap(c, d, set, lf)
	}
}

// startsFirst says whether unit k starts with set whenever it runs.
func (in *inferrer) startsFirst(k int, set []int) bool {
	for _, row := range in.units {
		if !row[k].present {
			continue
		}
		for _, o := range set {
			if row[o].present && row[o].start < row[k].start-in.tol {
				return false
			}
		}
	}
	return true
}

// cutOffsets lists, for each invocation where units of set timed out
// (but not those of own, which have deadlines of their own), how long
// after the set's first start the last of them was cut.
func (in *inferrer) cutOffsets(set []int, own map[int]bool) []int64 {
	var offs []int64
	for _, row := range in.units {
		start, cut := int64(math.MaxInt64), int64(math.MinInt64)
		for _, k := range set {
			u := row[k]
			if !u.present || u.async {
				continue
			}
			start = min(start, u.start)
			if u.outcome == Timeout && !own[k] {
				cut = max(cut, u.end)
			}
		}
		if cut != math.MinInt64 {
			offs = append(offs, cut-start)
		}
	}
	return offs
}

// hedge finds a hedged race: each later operand starts a fixed delay
// after the first, and is absent when the first finished before it.
func (in *inferrer) hedge(kids []*model.Node, lf map[*model.Node]int) (time.Duration, bool) {
	var delays []int64
	for _, row := range in.units {
		first := in.eval(kids[0], row, lf)
		if !first.present {
			for _, k := range kids[1:] {
				if in.eval(k, row, lf).present {
					return 0, false // a later one without the first
				}
			}
			continue
		}
		for i, k := range kids[1:] {
			s := in.eval(k, row, lf)
			if !s.present {
				continue
			}
			d := (s.start - first.start) / int64(i+1)
			delays = append(delays, d)
		}
	}
	if len(delays) == 0 {
		return 0, false
	}
	slices.Sort(delays)
	lo, hi := delays[0], delays[len(delays)-1]
	if hi-lo > 2*in.tol+hi/50 {
		return 0, false
	}
	h := delays[len(delays)/2]
	// absent only when the first one had finished by then
	for _, row := range in.units {
		first := in.eval(kids[0], row, lf)
		for _, k := range kids[1:] {
			if s := in.eval(k, row, lf); !s.present && first.end-first.start > h+in.tol {
				return 0, false
			}
		}
	}
	return roundDuration(h), true
}

// quorum is the least k such that, in every invocation where the
// parallel part ran, what followed went on exactly when at least k
// operands succeeded; with the number of invocations that told.
func (in *inferrer) quorum(kids []*model.Node, lf map[*model.Node]int, set []int) (k, basis int) {
	type obs struct{ succ, ok int }
	var seen []obs
	inSet := map[int]bool{}
	for _, s := range set {
		inSet[s] = true
	}
	for r, row := range in.units {
		succ, present, end := 0, 0, int64(math.MinInt64)
		for _, c := range kids {
			s := in.eval(c, row, lf)
			if s.present {
				present++
				end = max(end, s.end)
				if s.ok {
					succ++
				}
			}
		}
		if present < len(kids) {
			continue
		}
		went := in.ok[r]
		for k, u := range row {
			if !inSet[k] && u.present && !u.async && u.start >= end-in.tol {
				went = true
			}
		}
		v := 0
		if went {
			v = 1
		}
		seen = append(seen, obs{succ, v})
	}
	for k := 1; k <= len(kids); k++ {
		consistent, told := true, 0
		for _, o := range seen {
			if (o.succ >= k) != (o.ok == 1) {
				consistent = false
				break
			}
			if o.succ < len(kids) {
				told++
			}
		}
		if consistent && told > 0 {
			return k, told
		}
	}
	return len(kids), len(seen)
}

// leaf is one unit's node: its call, wrapped in what its attempts and
// durations tell.
func (in *inferrer) leaf(k int) *model.Node {
	name := in.unitName(k)
	n := &model.Node{Op: model.Call, Component: name}
	var attempts, exhausted int
	var perTry, gaps, whole, lastTry []int64
	async := false
	present := 0
	for _, row := range in.units {
		u := row[k]
		if !u.present {
			continue
		}
		present++
		async = async || u.async
		attempts = max(attempts, int(u.attempts))
		if u.attempts > 1 && u.outcome.Failed() {
			exhausted = max(exhausted, int(u.attempts))
		}
		if u.retry > 0 {
			r := &in.retries[u.retry-1]
			for i, d := range r.dur {
				if r.out[i] == Timeout {
					perTry = append(perTry, d)
				}
				gaps = append(gaps, r.gaps[i])
			}
		}
		if u.outcome == Timeout {
			whole = append(whole, u.end-u.start)
			lastTry = append(lastTry, u.end-in.lastStart(&u))
		}
	}
	// a last attempt cut at the per-try timeout is one of them; else the
	// whole unit's deadline cut it
	if d, ok := pile(perTry, in.tol); ok && attempts > 1 {
		var rest []int64
		for _, l := range lastTry {
			if abs64(l-int64(d)) > 2*in.tol {
				rest = append(rest, l)
			}
		}
		if len(rest) == 0 {
			whole = nil
		}
	}
	if async {
		in.decide(present, fmt.Sprintf("%s is async: its caller does not wait for it (a producer span or a follows-from link, in %d invocations)", name, present))
		return &model.Node{Op: model.Async, Children: []*model.Node{n}}
	}
	if attempts > 1 {
		r := &model.Node{Op: model.Retry, Attempts: max(attempts, exhausted), Children: []*model.Node{n}}
		note := fmt.Sprintf("%s is retried: up to %d attempts seen", name, attempts)
		if exhausted == 0 {
			note += " (never all failing: the limit may be higher)"
		}
		if d, ok := pile(perTry, in.tol); ok {
			r.PerTryTimeout = d
			note += fmt.Sprintf(", attempts cut at %v", d)
		}
		if len(gaps) > 0 {
			slices.Sort(gaps)
			if g := gaps[0]; g > in.tol {
				r.Backoff = roundDuration(g)
				note += fmt.Sprintf(", %v apart at least", r.Backoff)
			}
		}
		in.decide(len(gaps), note)
		n = r
	}
	if d, ok := pile(whole, in.tol); ok && !in.cut[k] {
		n = &model.Node{Op: model.Timeout, After: d, Children: []*model.Node{n}}
		in.decideOn(n, len(whole), fmt.Sprintf("%s has a timeout of %v: %d calls ended with a timeout error at that duration", name, d, len(whole)))
	}
	return n
}

// pile says whether durations pile at one value, within twice the
// tolerance: a deadline (a timer fires when it is set to, give or take a
// scheduler's delay; what merely runs about as long spreads further).
func pile(ds []int64, tol int64) (time.Duration, bool) {
	if len(ds) < 2 {
		return 0, false
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	lo, hi := ds[0], ds[len(ds)-1]
	if hi-lo > 2*tol {
		return 0, false
	}
	return roundDuration(ds[len(ds)/2]), true
}

// roundDuration rounds a measured duration to the millisecond (or the
// microsecond below 10ms): configured durations are round.
func roundDuration(d int64) time.Duration {
	if d >= int64(10*time.Millisecond) {
		return time.Duration(d).Round(time.Millisecond)
	}
	return time.Duration(d).Round(time.Microsecond)
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

func fmtNanos(d int64) string { return time.Duration(d).String() }
