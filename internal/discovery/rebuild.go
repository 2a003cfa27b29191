package discovery

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Rebuild makes Evidence of families as Families writes them, summed over
// the collectors that wrote them (the reader adds their series up), so
// that Model infers from a collector's evidence as from files. windows,
// keyed by window (Unix ns / Options.Window), hold the increase of the
// invocation, error and duration families in each window: what
// co-failure and degraded windows are judged on. Families and series it
// does not know are ignored; a flow sample it cannot decode is counted
// as a corrupt record.
//
// What does not come back as it was: latency histograms are the exported
// buckets (quantiles within 19%, not 1%), the spans' first and last times
// are to the microsecond, and windows are the collector's arrival times
// (Prometheus's), not the spans' own.
func Rebuild(opts Options, totals []Family, windows map[int64][]Family) *Evidence {
	ev := newEvidence(opts)
	seen := map[sampleKey]bool{}
	for _, f := range totals {
		for _, s := range f.Series {
			ev.rebuild(f.Name, s, seen)
		}
	}
	for w, fs := range windows {
		for _, f := range fs {
			for _, s := range f.Series {
				ev.rebuildWindow(w, f.Name, s)
			}
		}
	}
	// a service's invocations are its operations'
	for k, op := range ev.ops {
		s := ev.service(k.svc)
		s.invocations += op.invocations
		s.errors += op.errors
	}
	return ev
}

func label(s Series, name string) string {
	for _, l := range s.Labels {
		if l.Name == name {
			return l.Value
		}
	}
	return ""
}

// count is a counter's value as a count (a sum over collectors of
// integers, or an increase Prometheus extrapolated: rounded).
func count(v float64) int {
	if math.IsNaN(v) || v < 0 {
		return 0
	}
	// beyond 2^53 a float64 no longer holds every integer anyway
	return int(math.Round(min(v, 1<<53)))
}

func (ev *Evidence) opOf(s Series) (opKey, *opStats) {
	k := opKey{ev.names.id(label(s, LService)), ev.names.id(label(s, LOperation))}
	ev.service(k.svc)
	op := ev.ops[k]
	if op == nil {
		op = &opStats{targets: map[opKey]*targetStats{}}
		ev.ops[k] = op
	}
	return k, op
}

func (ev *Evidence) targetOf(s Series) *targetStats {
	_, op := ev.opOf(s)
	t := opKey{ev.names.id(label(s, LTargetService)), ev.names.id(label(s, LTargetOperation))}
	ts := op.targets[t]
	if ts == nil {
		ts = &targetStats{}
		op.targets[t] = ts
	}
	return ts
}

// edgeOf is the statistics of s's edge (rebuilt evidence has no limits:
// never nil).
func (ev *Evidence) edgeOf(s Series) *edgeStats {
	return ev.edge(ev.names.id(label(s, LClient)), ev.names.id(label(s, LServer)))
}

// sampleKey names a sampled invocation.
type sampleKey struct {
	op    opKey
	hash  uint64
	trace string
}

func (ev *Evidence) rebuild(name string, s Series, seen map[sampleKey]bool) {
	n := count(s.Value)
	switch name {
	case FamTraces:
		ev.Traces += n
	case FamSpans:
		ev.service(ev.names.id(label(s, LService))).spans += n
		ev.Spans += n
	case FamPlacement:
		var p Placement
		for i, f := range []*string{&p.Cluster, &p.Domain, &p.Host, &p.Node, &p.Pod, &p.Region, &p.Zone} {
			*f = label(s, placementLabels[i])
		}
		sv := ev.service(ev.names.id(label(s, LService)))
		if sv.places == nil {
			sv.places = map[int32]int{}
		}
		sv.places[ev.places.id(p)] += n
	case FamPeerDomain:
		svc := ev.names.id(label(s, LService))
		if ev.peerLabels[svc] == nil {
			ev.peerLabels[svc] = map[int32]int{}
		}
		ev.peerLabels[svc][ev.names.id(label(s, LDomain))] += n
	case FamInvocations:
		_, op := ev.opOf(s)
		op.invocations += n
	case FamRootInvocations:
		_, op := ev.opOf(s)
		op.roots += n
	case FamInvocationErrors:
		_, op := ev.opOf(s)
		op.errors += n
	case FamInvocationDur:
		_, op := ev.opOf(s)
		op.ok.merge(histOf(s))
	case FamPatterns:
		_, op := ev.opOf(s)
		for p, pn := range patternNames {
			if pn == label(s, LPattern) {
				op.patterns[p] += n
			}
		}
	case FamInvocationEx:
		_, op := ev.opOf(s)
		op.examples.add(label(s, LTraceID), ev.opts.examples())
	case FamTargetCalls:
		ev.targetOf(s).calls += n
	case FamTargetErrors:
		ev.targetOf(s).errors += n
	case FamTargetCancelled:
		ev.targetOf(s).cancelled += n
	case FamTargetPresent:
		ev.targetOf(s).present += n
	case FamTargetDur:
		ts := ev.targetOf(s)
		ts.ok.merge(histOf(s))
	case FamTargetService:
		_, op := ev.opOf(s)
		if op.calls == nil {
			op.calls = map[int32]int{}
		}
		op.calls[ev.names.id(label(s, LTargetService))] += n
	case FamFlowSample:
		k, op := ev.opOf(s)
		inv, err := ev.decodeSample(s)
		if err != nil {
			ev.problem(Problem{Kind: Corrupt, Pos: Pos{File: FamFlowSample, Record: label(s, LService) + " " + label(s, LOperation) + " " + label(s, LTraceID)}, Detail: err.Error()})
			return
		}
		// the same invocation from two collectors (a trace routed to both)
		// counts once
		sk := sampleKey{k, inv.hash, inv.trace}
		if seen[sk] {
			return
		}
		seen[sk] = true
		op.sample.offer(inv, ev.opts.sample())
	case FamCalls:
		ev.edgeOf(s).calls += n
	case FamCallErrors:
		ev.edgeOf(s).errors += n
	case FamCallsAsync:
		ev.edgeOf(s).async += n
	case FamCallsCancelled:
		ev.edgeOf(s).cancelled += n
	case FamCallDur:
		e := ev.edgeOf(s)
		e.ok.merge(histOf(s))
	case FamCallEx:
		ev.edgeOf(s).examples.add(label(s, LTraceID), ev.opts.examples())
	case FamProblems:
		for k, kn := range problemNames {
			if kn == label(s, LKind) {
				ev.problems[k] += n
			}
		}
	case FamFirst:
		ev.first = min(ev.first, int64(math.Round(s.Value*1e6))*1e3)
	case FamLast:
		ev.last = max(ev.last, int64(math.Round(s.Value*1e6))*1e3)
	}
}

func (ev *Evidence) rebuildWindow(w int64, name string, s Series) {
	switch name {
	case FamInvocations:
		ev.windows[w] += count(s.Value)
	case FamInvocationErrors:
		if n := count(s.Value); n > 0 {
			svc := ev.names.id(label(s, LService))
			if ev.fails[svc] == nil {
				ev.fails[svc] = map[int64]int{}
			}
			ev.fails[svc][w] += n
		}
	case FamInvocationDur:
		winHistOf(s, windowed(ev.durations, ev.names.id(label(s, LService)), w))
	case FamCallDur:
		winHistOf(s, windowed(ev.callDurations, ev.names.id(label(s, LServer)), w))
	}
}

// middle is a bucket's geometric middle in ns: where its observations are
// taken to be.
func middle(bounds []float64, i int) float64 {
	switch {
	case len(bounds) == 0:
		return 0
	case i == 0:
		return bounds[0] / math.Sqrt2 * 1e9
	case i >= len(bounds):
		return bounds[len(bounds)-1] * math.Sqrt2 * 1e9
	}
	return math.Sqrt(bounds[i-1]*bounds[i]) * 1e9
}

// histOf is a histogram series as a hist, each bucket's observations at
// its middle.
func histOf(s Series) hist {
	var h hist
	for i, c := range s.Counts {
		if c == 0 {
			continue
		}
		// a bound Prometheus wrote may be anything: durations past
		// 2^62 ns (146 years) are the last one's
		d := int64(min(max(middle(s.Bounds, i), 0), 1<<62))
		h.addN(histBucket(d), int(min(c, 1<<53)))
	}
	h.sum = int64(math.Round(min(max(s.Sum, 0), 1<<53/1e9) * 1e9))
	return h
}

// winHistOf adds a histogram series' observations to h.
func winHistOf(s Series, h *winHist) {
	for i, c := range s.Counts {
		if c == 0 {
			continue
		}
		h.addN(min(middle(s.Bounds, i), 1<<62), uint32(min(c, math.MaxUint32/2)))
	}
}

// decodeSample reads a flow sample series back (encodeCalls).
func (ev *Evidence) decodeSample(s Series) (*invocation, error) {
	hash, err := strconv.ParseUint(label(s, LHash), 16, 64)
	if err != nil {
		return nil, fmt.Errorf("hash %q is not a hex number", label(s, LHash))
	}
	if math.IsNaN(s.Value) || s.Value < 0 || s.Value > 1e9 {
		return nil, fmt.Errorf("duration %v s is out of range", s.Value)
	}
	inv := &invocation{trace: label(s, LTraceID), hash: hash, ok: label(s, LOK) == "true", dur: int64(math.Round(s.Value * 1e9))}
	var targets []opKey
	if t := label(s, LTargets); t != "" {
		for _, f := range strings.Split(t, " ") {
			svc, op, ok := strings.Cut(f, ",")
			if !ok {
				return nil, fmt.Errorf("target %q is not service,operation", f)
			}
			sn, err1 := url.QueryUnescape(svc)
			on, err2 := url.QueryUnescape(op)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("target %q is not query-escaped", f)
			}
			targets = append(targets, opKey{ev.names.id(sn), ev.names.id(on)})
		}
	}
	if c := label(s, LCalls); c != "" {
		for _, f := range strings.Split(c, " ") {
			parts := strings.Split(f, ",")
			if len(parts) != 6 {
				return nil, fmt.Errorf("call %q has %d fields, not 6", f, len(parts))
			}
			var v [6]int64
			for i, p := range parts {
				if v[i], err = strconv.ParseInt(p, 10, 64); err != nil {
					return nil, fmt.Errorf("call %q: %q is not an integer", f, p)
				}
			}
			if v[0] < 0 || int(v[0]) >= len(targets) || v[3] < 0 || v[3] > math.MaxUint8 || v[4] < 0 || v[4] > math.MaxInt32 || v[2] < v[1] {
				return nil, fmt.Errorf("call %q is out of range", f)
			}
			inv.calls = append(inv.calls, call{target: targets[v[0]], start: v[1], end: v[2], outcome: Outcome(v[3]), resend: int32(v[4]), async: v[5] != 0})
		}
	}
	if !slices.IsSortedFunc(inv.calls, func(a, b call) int { return int(min(max(a.start-b.start, -1), 1)) }) {
		return nil, fmt.Errorf("calls are not in the order they started")
	}
	return inv, nil
}
