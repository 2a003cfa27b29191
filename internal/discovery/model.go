package discovery

import (
	"cmp"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/emac-dev/emac/internal/stats"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/model"
)

// Model infers what the evidence says: components, edges, flows and
// failure-domain hypotheses. Inputs are the files read, for the record.
func (ev *Evidence) Model(inputs []v1alpha1.DiscoveryInput) *v1alpha1.DiscoveredModel {
	m := &v1alpha1.DiscoveredModel{APIVersion: v1alpha1.APIVersion, Kind: v1alpha1.KindDiscoveredModel, Inputs: inputs,
		Components: []v1alpha1.DiscoveredComponent{}, Edges: []v1alpha1.DiscoveredEdge{}, Flows: []v1alpha1.DiscoveredFlow{}, Domains: []v1alpha1.DomainHypothesis{}}
	if ev.first <= ev.last {
		m.Window = &v1alpha1.TimeRange{From: stamp(ev.first), To: stamp(ev.last)}
	}
	names := ev.componentNames()
	m.Components = ev.components(names)
	m.Edges = ev.edgeList()
	m.Flows = ev.flows(names)
	m.Domains = ev.domains(names)
	m.Confidence = 1
	for _, f := range m.Flows {
		if f.Root {
			m.Confidence = min(m.Confidence, f.Confidence)
		}
	}
	if ps := ev.problemList(); ps != nil {
		m.Problems = ps
	}
	return m
}

func stamp(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }

func (ev *Evidence) name(i int32) string { return ev.names.list[i] }

// targets lists every operation called, sorted by service and name.
func (ev *Evidence) targets() []opKey {
	set := map[opKey]bool{}
	for _, op := range ev.ops {
		for t := range op.targets {
			set[t] = true
		}
	}
	keys := slices.Collect(maps.Keys(set))
	slices.SortFunc(keys, ev.compareOps)
	return keys
}

// compareOps orders operations by service name, then operation name.
func (ev *Evidence) compareOps(a, b opKey) int {
	if c := ev.compareNames(a.svc, b.svc); c != 0 {
		return c
	}
	return ev.compareNames(a.op, b.op)
}

// compareNames orders numbered names by the names.
func (ev *Evidence) compareNames(a, b int32) int { return strings.Compare(ev.name(a), ev.name(b)) }

// componentNames names each called operation: its service when the
// service is called through one operation only, else the service and a
// short form of the operation (its last path segment, when that is
// unique), made of the runes a component name may hold.
func (ev *Evidence) componentNames() map[opKey]string {
	bySvc := map[int32][]opKey{}
	for _, t := range ev.targets() {
		bySvc[t.svc] = append(bySvc[t.svc], t)
	}
	out := map[opKey]string{}
	for svc, ts := range bySvc {
		if len(ts) == 1 {
			out[ts[0]] = ev.name(svc)
			continue
		}
		short := map[string]int{}
		for _, t := range ts {
			short[shortOp(ev.name(t.op))]++
		}
		for _, t := range ts {
			op := shortOp(ev.name(t.op))
			if short[op] > 1 {
				op = sanitize(ev.name(t.op))
			}
			out[t] = ev.name(svc) + "." + op
		}
	}
	return out
}

// shortOp is an operation name's last segment: "Convert" of
// "hipstershop.CurrencyService/Convert", "cart" of "GET /api/cart".
func shortOp(op string) string {
	s := strings.TrimRight(op, "/ ")
	if i := strings.LastIndexAny(s, "/ "); i >= 0 && i+1 < len(s) {
		s = s[i+1:]
	}
	return sanitize(s)
}

// sanitize keeps letters, digits, '-', '_' and '.', replacing the rest:
// names become file names and label values.
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_' || r == '.' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	if out == "" {
		return "op"
	}
	return out
}

func estimate(s, n int, what string) v1alpha1.Estimate {
	lo, hi := stats.Wilson(s, n, stats.Z95)
	v := 0.0
	if n > 0 {
		v = float64(s) / float64(n)
	}
	return v1alpha1.Estimate{Value: v, Lo: lo, Hi: hi, Basis: fmt.Sprintf("%d of %d %s; 95%% Wilson interval", s, n, what)}
}

func summary(h hist) *v1alpha1.LatencySummary {
	if h.n == 0 {
		return nil
	}
	return &v1alpha1.LatencySummary{P50: v1alpha1.Duration(h.quantile(0.5)), P90: v1alpha1.Duration(h.quantile(0.9)), P99: v1alpha1.Duration(h.quantile(0.99))}
}

func (ev *Evidence) components(names map[opKey]string) []v1alpha1.DiscoveredComponent {
	out := []v1alpha1.DiscoveredComponent{}
	for _, t := range ev.targets() {
		var calls, errs, cancelled int
		var ok hist
		for _, op := range ev.ops {
			if ts := op.targets[t]; ts != nil {
				calls += ts.calls
				errs += ts.errors
				cancelled += ts.cancelled
				ok.merge(ts.ok)
			}
		}
		// a cancelled call ended before it could succeed or fail: it does
		// not count
		done := calls - cancelled
		c := v1alpha1.DiscoveredComponent{Name: names[t], Span: v1alpha1.Span{Service: ev.name(t.svc), Operation: ev.name(t.op)},
			Calls: calls, Errors: errs, Cancelled: cancelled, Availability: estimate(done-errs, done, "calls that ran to the end succeeded"), Latency: summary(ok)}
		c.Placement = ev.placementOf(t.svc)
		out = append(out, c)
	}
	return out
}

// placementOf lists the placement values seen of a service, by attribute.
func (ev *Evidence) placementOf(svc int32) map[string][]string {
	s := ev.services[svc]
	if s == nil || len(s.places) == 0 {
		return nil
	}
	sets := map[string]map[string]bool{}
	for id := range s.places {
		for attr, v := range placementAttrs(ev.places.list[id]) {
			if sets[attr] == nil {
				sets[attr] = map[string]bool{}
			}
			sets[attr][v] = true
		}
	}
	out := map[string][]string{}
	for attr, vs := range sets {
		out[attr] = slices.Sorted(maps.Keys(vs))
	}
	return out
}

// placementAttrs are a placement's set fields by attribute name.
func placementAttrs(p Placement) map[string]string {
	m := map[string]string{}
	for k, v := range map[string]string{"k8s.pod.name": p.Pod, "k8s.node.name": p.Node, "host.name": p.Host,
		"cloud.availability_zone": p.Zone, "cloud.region": p.Region, "k8s.cluster.name": p.Cluster, "emac.failure_domain": p.Domain} {
		if v != "" {
			m[k] = v
		}
	}
	return m
}

func (ev *Evidence) edgeList() []v1alpha1.DiscoveredEdge {
	keys := slices.Collect(maps.Keys(ev.edges))
	slices.SortFunc(keys, func(a, b edgeKey) int { return ev.compareOps(opKey{a.from, a.to}, opKey{b.from, b.to}) })
	out := []v1alpha1.DiscoveredEdge{}
	for _, k := range keys {
		e := ev.edges[k]
		// the caller's invocations of the operations that ever call To
		called, of := 0, 0
		for ok, op := range ev.ops {
			if ok.svc != k.from || op.calls[k.to] == 0 {
				continue
			}
			called += op.calls[k.to]
			of += op.invocations
		}
		out = append(out, v1alpha1.DiscoveredEdge{
			From: ev.name(k.from), To: ev.name(k.to), Calls: e.calls, Errors: e.errors, Cancelled: e.cancelled, Async: e.async == e.calls,
			Probability: estimate(called, of, "invocations of the caller's operations that call it called it"),
			Latency:     summary(e.ok),
			Provenance:  v1alpha1.Provenance{Traces: slices.Clone(e.examples), Count: e.calls},
		})
	}
	return out
}

// flows infers the flow of every operation that calls others.
func (ev *Evidence) flows(names map[opKey]string) []v1alpha1.DiscoveredFlow {
	keys := slices.Collect(maps.Keys(ev.ops))
	slices.SortFunc(keys, func(a, b opKey) int {
		ra, rb := ev.ops[a].roots > 0, ev.ops[b].roots > 0
		if ra != rb {
			if ra {
				return -1
			}
			return 1
		}
		return ev.compareOps(a, b)
	})
	// the operations are inferred each on its own, GOMAXPROCS at a time,
	// and each one's call pairs beside its flow; the results go in the
	// order of keys, so they do not depend on the schedule
	flows := make([]*v1alpha1.DiscoveredFlow, len(keys))
	var wg sync.WaitGroup
	slots := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, k := range keys {
		op := ev.ops[k]
		if len(op.targets) == 0 {
			continue
		}
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			flows[i] = ev.flow(k, op, names)
		})
	}
	wg.Wait()
	out := []v1alpha1.DiscoveredFlow{}
	for _, f := range flows {
		if f != nil {
			out = append(out, *f)
		}
	}
	return out
}

// flow infers the flow of the operation k: it reads ev, never writes it.
func (ev *Evidence) flow(k opKey, op *opStats, names map[opKey]string) *v1alpha1.DiscoveredFlow {
	sample := op.sample.sorted()
	var ps []v1alpha1.CallPair
	var wg sync.WaitGroup
	wg.Go(func() { ps = pairs(sample, ev.opts.skew(), names) })
	name := func(t opKey) string { return names[t] }
	// one operation name may serve several kinds of request (an HTTP
	// server's one span name for every route): when no flow fits them
	// all, each kind is inferred on its own. Both are tried at once: the
	// cores are otherwise idle here, and the kinds are what takes longest.
	var (
		v   *model.Node
		vin *inferrer
		vok bool
	)
	wg.Go(func() { v, vin, vok = variants(sample, ev.opts.skew(), name) })
	// the whole sample's flow: given up as soon as its confidence is
	// sure to be 0, when the kinds' flow is taken if there is one
	in := newInferrer(sample, ev.opts.skew(), name)
	in.giveUp = true
	flow, whole := in.inferOr(in.all())
	wg.Wait()
	switch {
	case (!whole || in.confidence() == 0) && vok:
		flow, in = v, vin
	case !whole:
		// no kinds to take instead: the whole flow after all, to its end
		in = newInferrer(sample, ev.opts.skew(), name)
		flow = in.infer(in.all())
	}
	// concurrent operands in name order: the order traces cannot tell
	flow = Normalize(flow)
	f := &v1alpha1.DiscoveredFlow{
		Entry: v1alpha1.Span{Service: ev.name(k.svc), Operation: ev.name(k.op)}, Root: op.roots > 0,
		Invocations: op.invocations, Sampled: len(op.sample), Errors: op.errors,
		Confidence: in.confidence(),
		Basis:      "each decision holds in every sampled invocation that could contradict it; its confidence is 0.05^(1/n) for n such invocations: with none contrary, a contrary rate above 1 − 0.05^(1/n) is excluded at 95% (exact binomial); the flow's is the least",
		Notes:      in.notes(),
		Provenance: v1alpha1.Provenance{Traces: slices.Clone(op.examples), Count: op.invocations},
	}
	if flow != nil {
		node := APINode(flow)
		f.Flow = &node
		f.Canonical = flow.String()
	}
	for _, b := range in.branches {
		f.Branches = append(f.Branches, v1alpha1.DiscoveredBranch{Cases: b.node.String(), Weights: b.weights})
	}
	f.Pairs = ps
	return f
}

func (ev *Evidence) problemList() *v1alpha1.DiscoveryProblems {
	counts := map[string]int{}
	for k, n := range ev.problems {
		if n > 0 {
			counts[ProblemKind(k).String()] = n
		}
	}
	if len(counts) == 0 {
		return nil
	}
	ps := &v1alpha1.DiscoveryProblems{Counts: counts}
	ex := slices.Clone(ev.examples)
	slices.SortStableFunc(ex, func(a, b Problem) int { return cmp.Compare(int64(a.Kind), int64(b.Kind)) })
	for _, p := range ex {
		ps.Examples = append(ps.Examples, p.String())
	}
	return ps
}

// APINode writes a flow in the spec's syntax.
func APINode(n *model.Node) v1alpha1.Node {
	kids := func() []v1alpha1.Node {
		out := make([]v1alpha1.Node, len(n.Children))
		for i, c := range n.Children {
			out[i] = APINode(c)
		}
		return out
	}
	dur := func(d time.Duration) *v1alpha1.Duration {
		if d == 0 {
			return nil
		}
		v := v1alpha1.Duration(d)
		return &v
	}
	switch n.Op {
	case model.Call:
		return v1alpha1.Node{Call: n.Component}
	case model.Seq:
		return v1alpha1.Node{Seq: kids()}
	case model.All:
		return v1alpha1.Node{All: kids()}
	case model.Race:
		return v1alpha1.Node{Race: &v1alpha1.Race{HedgeAfter: dur(n.HedgeAfter), Of: kids()}}
	case model.Fallback:
		return v1alpha1.Node{Fallback: kids()}
	case model.Quorum:
		return v1alpha1.Node{Quorum: &v1alpha1.Quorum{K: n.K, Of: kids()}}
	case model.Branch:
		ks := kids()
		cases := make([]v1alpha1.BranchCase, len(ks))
		for i, k := range ks {
			cases[i] = v1alpha1.BranchCase{Weight: n.Weights[i], Node: k}
		}
		return v1alpha1.Node{Branch: cases}
	case model.Retry:
		c := APINode(n.Children[0])
		return v1alpha1.Node{Retry: &v1alpha1.Retry{Attempts: n.Attempts, PerTryTimeout: dur(n.PerTryTimeout), Backoff: dur(n.Backoff), Do: &c}}
	case model.Timeout:
		c := APINode(n.Children[0])
		return v1alpha1.Node{Timeout: &v1alpha1.Timeout{After: v1alpha1.Duration(n.After), Do: &c}}
	case model.Optional:
		c := APINode(n.Children[0])
		return v1alpha1.Node{Optional: &c}
	case model.Async:
		c := APINode(n.Children[0])
		return v1alpha1.Node{Async: &c}
	}
	return v1alpha1.Node{}
}

// pairs tells, for each two targets called in one invocation, whether
// their calls overlapped (by more than the tolerance). Targets are
// counted by their rank in name order, in a matrix: the sample is
// thousands of invocations, and maps of names cost a lot per invocation.
func pairs(sample []*invocation, tol int64, names map[opKey]string) []v1alpha1.CallPair {
	rank := map[opKey]int{}
	var targets []opKey
	for _, inv := range sample {
		for _, c := range inv.calls {
			if _, ok := rank[c.target]; !ok && !c.async {
				rank[c.target] = 0
				targets = append(targets, c.target)
			}
		}
	}
	slices.SortFunc(targets, func(a, b opKey) int { return strings.Compare(names[a], names[b]) })
	var byRank []string // a name is one target, even were two keys given it
	for _, t := range targets {
		if len(byRank) == 0 || byRank[len(byRank)-1] != names[t] {
			byRank = append(byRank, names[t])
		}
		rank[t] = len(byRank) - 1
	}
	n := len(byRank)
	together, overlapped := make([]int, n*n), make([]int, n*n)
	// a call is its rank and its number in the invocation, sorted as one
	// integer: by target, then in the order of the calls
	var cs []uint64
	last, lastRank := opKey{-1, -1}, 0 // looked up again when the target changes
	for _, inv := range sample {
		cs = cs[:0]
		for i, c := range inv.calls {
			if !c.async {
				if c.target != last {
					last, lastRank = c.target, rank[c.target]
				}
				cs = append(cs, uint64(lastRank)<<32|uint64(i))
			}
		}
		slices.Sort(cs)
		r := func(x uint64) int { return int(x >> 32) }
		c := func(x uint64) *call { return &inv.calls[uint32(x)] }
		for i := 0; i < len(cs); {
			j := i + 1
			for j < len(cs) && r(cs[j]) == r(cs[i]) {
				j++
			}
			for k := j; k < len(cs); {
				l := k + 1
				for l < len(cs) && r(cs[l]) == r(cs[k]) {
					l++
				}
				at := r(cs[i])*n + r(cs[k])
				together[at]++
			over:
				for _, xa := range cs[i:j] {
					ca := c(xa)
					for _, xb := range cs[k:l] {
						cb := c(xb)
						if min(ca.end, cb.end)-max(ca.start, cb.start) > tol {
							overlapped[at]++
							break over
						}
					}
				}
				k = l
			}
			i = j
		}
	}
	var out []v1alpha1.CallPair
	for a := range n {
		for b := a + 1; b < n; b++ {
			t, o := together[a*n+b], overlapped[a*n+b]
			if t == 0 {
				continue
			}
			v := v1alpha1.PairMixed
			switch o {
			case 0:
				v = v1alpha1.PairSequential
			case t:
				v = v1alpha1.PairParallel
			}
			out = append(out, v1alpha1.CallPair{A: byRank[a], B: byRank[b], Together: t, Overlapped: o, Verdict: v,
				Overlap: estimate(o, t, "sampled invocations calling both had calls to them running at once")})
		}
	}
	return out
}

// maxVariants and minVariant bound the kinds of request a flow is split
// into: at most 8, each at least 2% of the sample.
const (
	maxVariants = 8
	minVariant  = 0.02
)

// variants infers an operation's flow as a branch over the kinds of its
// invocations — the operations each called, and how many times — each inferred on its
// own. An invocation that called a prefix of a kind's operations (a
// failure cut it short) counts as that kind. Kinds under 2% of the sample
// (or past the eighth), and kinds no flow fits either, are left out and
// noted; it gives up (ok false) when fewer than two kinds, or less than
// half the sample, remain. The decisions of every kind are kept in the
// returned inferrer, with the branch's.
func variants(sample []*invocation, tol int64, name func(opKey) string) (*model.Node, *inferrer, bool) {
	// a kind is the operations an invocation called, in the order of
	// their first calls, and how often (a loop's length makes a kind)
	type seen struct {
		target opKey
		n      int
	}
	var (
		order []seen
		buf   []byte
	)
	keyOf := make([]string, len(sample)) // an invocation's kind, joined
	sigOf := map[string][]string{}       // a joined kind, split
	count := map[string]int{}
	interned := map[string]string{}
	for i, inv := range sample {
		order = order[:0]
	calls:
		for _, c := range inv.calls {
			for j := range order {
				if order[j].target == c.target {
					order[j].n++
					continue calls
				}
			}
			order = append(order, seen{c.target, 1})
		}
		buf = buf[:0]
		for j, o := range order {
			if j > 0 {
				buf = append(buf, 0)
			}
			buf = append(append(buf, name(o.target)...), "×"...)
			buf = strconv.AppendInt(buf, int64(o.n), 10)
		}
		key, ok := interned[string(buf)] // no string made for a kind seen before
		if !ok {
			key = string(buf)
			interned[key] = key
			sigOf[key] = strings.Split(key, "\x00")
			if key == "" {
				sigOf[key] = []string{}
			}
		}
		keyOf[i] = key
		count[key]++
	}
	// an invocation cut short by a failure calls a prefix of its kind's
	// operations: it joins the most frequent kind it is a prefix of
	kinds := slices.Collect(maps.Keys(count))
	slices.SortFunc(kinds, func(a, b string) int {
		if c := cmp.Compare(count[b], count[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	joins := map[string]string{} // a kind, the kind its invocations join
	for _, key := range kinds {
		joins[key] = key
		for _, k := range kinds {
			if prefixOf(sigOf[key], sigOf[k]) {
				joins[key] = k
				break
			}
		}
	}
	groups := map[string][]*invocation{}
	for i, inv := range sample {
		key := joins[keyOf[i]]
		groups[key] = append(groups[key], inv)
	}
	if len(groups) < 2 {
		return nil, nil, false
	}
	sigs := slices.Collect(maps.Keys(groups))
	slices.SortFunc(sigs, func(a, b string) int {
		if c := cmp.Compare(len(groups[b]), len(groups[a])); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	// the kinds large enough, each inferred on its own (at once)
	type inferred struct {
		in *inferrer
		n  *model.Node
	}
	var found []inferred
	for i, sig := range sigs {
		if i == maxVariants || float64(len(groups[sig])) < minVariant*float64(len(sample)) {
			break
		}
		found = append(found, inferred{})
	}
	var wg sync.WaitGroup
	for i := range found {
		wg.Go(func() {
			// a kind no flow fits is left out: given up as soon as that
			// is sure (inferOr)
			in := newInferrer(groups[sigs[i]], tol, name)
			in.giveUp = true
			if n, ok := in.inferOr(in.all()); ok {
				found[i] = inferred{in, n}
			}
		})
	}
	wg.Wait()
	out := &inferrer{}
	branch := &model.Node{Op: model.Branch}
	kept := 0
	for i, kd := range found {
		g := groups[sigs[i]]
		in, n := kd.in, kd.n
		if n == nil || in.confidence() == 0 {
			continue // requests that called nothing, or a kind no flow fits
		}
		out.decisions = append(out.decisions, in.decisions...)
		out.branches = append(out.branches, in.branches...)
		branch.Children = append(branch.Children, n)
		branch.Weights = append(branch.Weights, float64(len(g)))
		kept += len(g)
	}
	if len(branch.Children) < 2 || 2*kept < len(sample) {
		return nil, nil, false
	}
	var ests []v1alpha1.Estimate
	for i, w := range branch.Weights {
		branch.Weights[i] = w / float64(kept)
		ests = append(ests, estimate(int(w), kept, "sampled invocations of the kinds kept were of this kind"))
	}
	out.branches = append(out.branches, branchEstimate{branch, ests})
	note := fmt.Sprintf("the operation serves %d kinds of request (the operations an invocation called, and how often); the %d most frequent are a branch", len(groups), len(branch.Children))
	if kept < len(sample) {
		note += fmt.Sprintf(", covering %d of %d sampled invocations: the rest (kinds under %.0f%%, requests that called nothing, kinds no flow fits) are left out", kept, len(sample), 100*minVariant)
	}
	out.decide(kept, note)
	return branch, out, true
}

// prefixOf says whether the operations of sig (name×count) come first in
// kind, in order (the last one's count may be lower: cut short).
func prefixOf(sig, kind []string) bool {
	if len(sig) > len(kind) {
		return false
	}
	for i, s := range sig {
		n, _, _ := strings.Cut(s, "×")
		k, _, _ := strings.Cut(kind[i], "×")
		if n != k || i < len(sig)-1 && s != kind[i] {
			return false
		}
	}
	return true
}
