package discovery

import (
	"cmp"
	"maps"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// The evidence's metric families (docs/collector.md lists them with their
// labels). Counts are cumulative; durations are in seconds.
const (
	FamTraces           = "emac_discovery_traces_total"
	FamSpans            = "emac_discovery_spans_total"
	FamInvocations      = "emac_discovery_invocations_total"
	FamRootInvocations  = "emac_discovery_root_invocations_total"
	FamInvocationErrors = "emac_discovery_invocation_errors_total"
	FamInvocationDur    = "emac_discovery_invocation_duration_seconds"
	FamInvocationEx     = "emac_discovery_invocation_example"
	FamCalls            = "emac_discovery_calls_total"
	FamCallErrors       = "emac_discovery_call_errors_total"
	FamCallsAsync       = "emac_discovery_async_calls_total"
	FamCallsCancelled   = "emac_discovery_cancelled_calls_total"
	FamCallDur          = "emac_discovery_call_duration_seconds"
	FamCallEx           = "emac_discovery_call_example"
	FamTargetCalls      = "emac_discovery_target_calls_total"
	FamTargetErrors     = "emac_discovery_target_errors_total"
	FamTargetCancelled  = "emac_discovery_target_cancelled_total"
	FamTargetPresent    = "emac_discovery_target_invocations_total"
	FamTargetService    = "emac_discovery_target_service_invocations_total"
	FamTargetDur        = "emac_discovery_target_duration_seconds"
	FamFlowSample       = "emac_discovery_flow_sample"
	FamPlacement        = "emac_discovery_placement_spans_total"
	FamPeerDomain       = "emac_discovery_peer_domain_total"
	FamProblems         = "emac_discovery_problems_total"
	FamFirst            = "emac_discovery_first_span_start_seconds"
	FamLast             = "emac_discovery_last_span_end_seconds"
	FamDropped          = "emac_discovery_dropped_total"
	FamPatterns         = "emac_discovery_call_patterns_total"
)

// The labels of the families.
const (
	LService         = "service"
	LOperation       = "operation"
	LClient          = "client"
	LServer          = "server"
	LTargetService   = "target_service"
	LTargetOperation = "target_operation"
	LTraceID         = "trace_id"
	LHash            = "hash"
	LOK              = "ok"
	LCalls           = "calls"
	LTargets         = "targets"
	LDomain          = "domain"
	LKind            = "kind"
	LReason          = "reason"
	LPattern         = "pattern"
)

// placementLabels name a Placement's fields as labels, in label order.
var placementLabels = [...]string{"cluster", "domain", "host", "node", "pod", "region", "zone"}

func placementValues(p Placement) [7]string {
	return [7]string{p.Cluster, p.Domain, p.Host, p.Node, p.Pod, p.Region, p.Zone}
}

// DurationBounds are the histograms' upper bounds in seconds: two to an
// octave from 2^-17 s (7.6µs) to 2^6 s (64s), so a quantile read back is
// within 19% (half a bucket, geometrically).
var DurationBounds = func() []float64 {
	var b []float64
	for k := -34; k <= 12; k++ {
		b = append(b, math.Exp2(float64(k)/2))
	}
	return b
}()

// Families is the evidence as metric families, in a fixed order, each
// family's series sorted by their labels: the same evidence gives the same
// families.
func (ev *Evidence) Families() []Family {
	var fs families
	fs.add(FamTraces, "Traces folded in.", Counter, series(float64(ev.Traces)))
	for _, svc := range ev.sortedServices() {
		s := ev.services[svc]
		fs.add(FamSpans, "Spans of the service.", Counter, series(float64(s.spans), LService, ev.name(svc)))
		ids := slices.Collect(maps.Keys(s.places))
		slices.SortFunc(ids, func(a, b int32) int {
			va, vb := placementValues(ev.places.list[a]), placementValues(ev.places.list[b])
			return slices.Compare(va[:], vb[:])
		})
		for _, id := range ids {
			vs := placementValues(ev.places.list[id])
			ls := []Label{}
			for i, n := range placementLabels {
				ls = append(ls, Label{n, vs[i]})
			}
			ls = append(ls, Label{LService, ev.name(svc)})
			slices.SortFunc(ls, func(a, b Label) int { return cmp.Compare(a.Name, b.Name) })
			fs.add(FamPlacement, "Spans of the service by where its instance ran.", Counter, Series{Labels: ls, Value: float64(s.places[id])})
		}
		domains := slices.Collect(maps.Keys(ev.peerLabels[svc]))
		slices.SortFunc(domains, ev.compareNames)
		for _, d := range domains {
			fs.add(FamPeerDomain, "Calls whose callers declare the callee's failure domain (emac.peer.failure_domain).", Counter,
				series(float64(ev.peerLabels[svc][d]), LDomain, ev.name(d), LService, ev.name(svc)))
		}
	}
	for _, k := range ev.sortedOps() {
		op := ev.ops[k]
		svc, name := ev.name(k.svc), ev.name(k.op)
		fs.add(FamInvocations, "Invocations of the operation (a root, or a span whose parent is another service's).", Counter, series(float64(op.invocations), LOperation, name, LService, svc))
		fs.add(FamRootInvocations, "Invocations of the operation that are the roots of their traces.", Counter, series(float64(op.roots), LOperation, name, LService, svc))
		fs.add(FamInvocationErrors, "Failed invocations of the operation.", Counter, series(float64(op.errors), LOperation, name, LService, svc))
		fs.add(FamInvocationDur, "Durations of the operation's successful invocations.", Histogram, histSeries(op.ok, LOperation, name, LService, svc))
		for p, c := range op.patterns {
			if c > 0 {
				fs.add(FamPatterns, "Successive calls of the operation's invocations by how they related: overlap, sequence, retry, after-failure (a fallback's), and calls that timed out or were cancelled.", Counter,
					series(float64(c), LOperation, name, LPattern, patternNames[p], LService, svc))
			}
		}
		for _, t := range op.examples {
			fs.add(FamInvocationEx, "Trace ids of invocations (the lowest few): provenance.", Gauge, series(1, LOperation, name, LService, svc, LTraceID, t))
		}
		tks := slices.Collect(maps.Keys(op.targets))
		slices.SortFunc(tks, ev.compareOps)
		for _, t := range tks {
			ts := op.targets[t]
			ls := []string{LOperation, name, LService, svc, LTargetOperation, ev.name(t.op), LTargetService, ev.name(t.svc)}
			fs.add(FamTargetCalls, "Calls the operation made to the target operation.", Counter, series(float64(ts.calls), ls...))
			fs.add(FamTargetErrors, "Failed calls the operation made to the target operation.", Counter, series(float64(ts.errors), ls...))
			fs.add(FamTargetCancelled, "Calls to the target operation the operation cancelled.", Counter, series(float64(ts.cancelled), ls...))
			fs.add(FamTargetPresent, "Invocations of the operation that called the target operation.", Counter, series(float64(ts.present), ls...))
			fs.add(FamTargetDur, "Durations of the operation's successful calls to the target operation.", Histogram, histSeries(ts.ok, ls...))
		}
		for _, t := range slices.SortedFunc(maps.Keys(op.calls), ev.compareNames) {
			fs.add(FamTargetService, "Invocations of the operation that called the target service.", Counter,
				series(float64(op.calls[t]), LOperation, name, LService, svc, LTargetService, ev.name(t)))
		}
		if len(op.targets) == 0 {
			// a flow is inferred only of operations that call others
			continue
		}
		for _, inv := range op.sample.sorted() {
			targets, calls := encodeCalls(ev, inv)
			fs.add(FamFlowSample, "Sampled invocations (the lowest hashes of trace and span id), their calls for flow inference; the value is the duration.", Gauge,
				Series{Labels: []Label{{LCalls, calls}, {LHash, strconv.FormatUint(inv.hash, 16)}, {LOK, strconv.FormatBool(inv.ok)}, {LOperation, name}, {LService, svc}, {LTargets, targets}, {LTraceID, inv.trace}},
					Value: float64(inv.dur) / 1e9})
		}
	}
	eks := slices.Collect(maps.Keys(ev.edges))
	slices.SortFunc(eks, func(a, b edgeKey) int { return ev.compareOps(opKey{a.from, a.to}, opKey{b.from, b.to}) })
	for _, k := range eks {
		e := ev.edges[k]
		ls := []string{LClient, ev.name(k.from), LServer, ev.name(k.to)}
		fs.add(FamCalls, "Calls from the client service to the server service.", Counter, series(float64(e.calls), ls...))
		fs.add(FamCallErrors, "Failed calls from the client to the server.", Counter, series(float64(e.errors), ls...))
		fs.add(FamCallsAsync, "Calls the client did not wait for.", Counter, series(float64(e.async), ls...))
		fs.add(FamCallsCancelled, "Calls the client cancelled.", Counter, series(float64(e.cancelled), ls...))
		fs.add(FamCallDur, "Durations of successful calls from the client to the server.", Histogram, histSeries(e.ok, ls...))
		for _, t := range e.examples {
			fs.add(FamCallEx, "Trace ids of calls (the lowest few): provenance.", Gauge, series(1, LClient, ev.name(k.from), LServer, ev.name(k.to), LTraceID, t))
		}
	}
	for k, n := range ev.problems {
		if n > 0 {
			fs.add(FamProblems, "Records that could not be used as they were, by kind.", Counter, series(float64(n), LKind, ProblemKind(k).String()))
		}
	}
	if ev.first <= ev.last {
		fs.add(FamFirst, "The earliest span start seen (Unix seconds).", Gauge, series(float64(ev.first)/1e9))
		fs.add(FamLast, "The latest span end seen (Unix seconds).", Gauge, series(float64(ev.last)/1e9))
	}
	for _, r := range slices.Sorted(maps.Keys(ev.dropped)) {
		fs.add(FamDropped, "What the limits turned away, by reason: spans of services, invocations of operations, calls on edges or to targets.", Counter, series(float64(ev.dropped[r]), LReason, r))
	}
	return fs.list
}

// families builds a list of families, series appended to the last one of
// their name.
type families struct {
	list []Family
	at   map[string]int
}

func (fs *families) add(name, help string, t MetricType, s Series) {
	if fs.at == nil {
		fs.at = map[string]int{}
	}
	i, ok := fs.at[name]
	if !ok {
		i = len(fs.list)
		fs.at[name] = i
		fs.list = append(fs.list, Family{Name: name, Help: help, Type: t})
	}
	fs.list[i].Series = append(fs.list[i].Series, s)
}

// series is a series of value with labels given as name, value pairs in
// name order.
func series(v float64, nv ...string) Series {
	s := Series{Value: v}
	for i := 0; i+1 < len(nv); i += 2 {
		s.Labels = append(s.Labels, Label{nv[i], nv[i+1]})
	}
	return s
}

// histSeries is h as a histogram series over DurationBounds.
func histSeries(h hist, nv ...string) Series {
	s := series(float64(h.n), nv...)
	s.Bounds = DurationBounds
	s.Counts = make([]uint64, len(DurationBounds)+1)
	s.Sum = float64(h.sum) / 1e9
	for b, c := range h.buckets {
		// the bucket's middle: 1% buckets fall in one of ours but at
		// the bounds themselves
		d := 0.0
		if b != math.MinInt32 {
			d = math.Exp((float64(b)+0.5)*histBase) / 1e9
		}
		i, _ := slices.BinarySearch(DurationBounds, d)
		s.Counts[i] += uint64(c)
	}
	return s
}

func (ev *Evidence) sortedServices() []int32 {
	return slices.SortedFunc(maps.Keys(ev.services), ev.compareNames)
}

func (ev *Evidence) sortedOps() []opKey {
	return slices.SortedFunc(maps.Keys(ev.ops), ev.compareOps)
}

// encodeCalls writes a sampled invocation's calls as label values: the
// targets (service and operation, query-escaped, a space between
// targets), and the calls, a space between them, each
// "target,start,end,outcome,resend,async" with times in ns from the
// invocation's start and target the index into targets. The values are
// kept in inv for the next export.
func encodeCalls(ev *Evidence, inv *invocation) (targets, calls string) {
	if inv.encoded != "" || len(inv.calls) == 0 {
		return inv.targets, inv.encoded
	}
	var ts []opKey
	var tb strings.Builder
	cb := make([]byte, 0, 32*len(inv.calls))
	for i, c := range inv.calls {
		t := slices.Index(ts, c.target)
		if t < 0 {
			t = len(ts)
			ts = append(ts, c.target)
			if t > 0 {
				tb.WriteByte(' ')
			}
			tb.WriteString(url.QueryEscape(ev.name(c.target.svc)))
			tb.WriteByte(',')
			tb.WriteString(url.QueryEscape(ev.name(c.target.op)))
		}
		if i > 0 {
			cb = append(cb, ' ')
		}
		async := 0
		if c.async {
			async = 1
		}
		for j, v := range [...]int64{int64(t), c.start, c.end, int64(c.outcome), int64(c.resend), int64(async)} {
			if j > 0 {
				cb = append(cb, ',')
			}
			cb = strconv.AppendInt(cb, v, 10)
		}
	}
	inv.targets, inv.encoded = tb.String(), string(cb)
	return inv.targets, inv.encoded
}

// FamilySchema is a family's type and labels: what a reader asks
// Prometheus for (summing over the other labels a scrape adds, such as
// the collectors' instance).
type FamilySchema struct {
	Name   string
	Type   MetricType
	Labels []string
}

// Schema lists the families Families writes.
var Schema = func() []FamilySchema {
	op := []string{LOperation, LService}
	target := []string{LOperation, LService, LTargetOperation, LTargetService}
	edge := []string{LClient, LServer}
	return []FamilySchema{
		{FamTraces, Counter, nil},
		{FamSpans, Counter, []string{LService}},
		{FamPlacement, Counter, slices.Sorted(slices.Values(append(placementLabels[:], LService)))},
		{FamPeerDomain, Counter, []string{LDomain, LService}},
		{FamInvocations, Counter, op},
		{FamRootInvocations, Counter, op},
		{FamInvocationErrors, Counter, op},
		{FamInvocationDur, Histogram, op},
		{FamInvocationEx, Gauge, []string{LOperation, LService, LTraceID}},
		{FamPatterns, Counter, []string{LOperation, LPattern, LService}},
		{FamTargetCalls, Counter, target},
		{FamTargetErrors, Counter, target},
		{FamTargetCancelled, Counter, target},
		{FamTargetPresent, Counter, target},
		{FamTargetDur, Histogram, target},
		{FamTargetService, Counter, []string{LOperation, LService, LTargetService}},
		{FamFlowSample, Gauge, []string{LCalls, LHash, LOK, LOperation, LService, LTargets, LTraceID}},
		{FamCalls, Counter, edge},
		{FamCallErrors, Counter, edge},
		{FamCallsAsync, Counter, edge},
		{FamCallsCancelled, Counter, edge},
		{FamCallDur, Histogram, edge},
		{FamCallEx, Gauge, []string{LClient, LServer, LTraceID}},
		{FamProblems, Counter, []string{LKind}},
		{FamFirst, Gauge, nil},
		{FamLast, Gauge, nil},
		{FamDropped, Counter, []string{LReason}},
	}
}()
