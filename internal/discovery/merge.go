package discovery

import (
	"cmp"
	"slices"
)

// merge adds o, evidence folded apart from ev (by a worker of the same
// Assembler, Options.Workers), to ev. Everything fold counts is a sum, a
// histogram, a minimum or maximum, or a set of the lowest values, so the
// result does not depend on which part folded which trace; the problems'
// examples are ordered by their sequence numbers afterwards (sortExamples).
// o's numbers for names and placements are ev's: fold numbers nothing.
// The windows' histograms and the flow samples are not o's own: the
// parts share ev's histograms and one sample per operation, which Close
// gives ev.
func (ev *Evidence) merge(o *Evidence) {
	ev.Traces += o.Traces
	for k, n := range o.problems {
		ev.problems[k] += n
	}
	ev.examples = append(ev.examples, o.examples...)
	ev.seqs = append(ev.seqs, o.seqs...)
	ev.first, ev.last = min(ev.first, o.first), max(ev.last, o.last)
	for svc, s := range o.services {
		t := ev.service(svc)
		t.spans += s.spans
		t.invocations += s.invocations
		t.errors += s.errors
		if len(s.places) > 0 && t.places == nil {
			t.places = map[int32]int{}
		}
		addCounts(t.places, s.places)
	}
	for k, e := range o.edges {
		f := ev.edges[k]
		if f == nil {
			f = &edgeStats{}
			ev.edges[k] = f
		}
		f.calls += e.calls
		f.errors += e.errors
		f.async += e.async
		f.cancelled += e.cancelled
		f.ok.merge(e.ok)
		f.examples.merge(e.examples, ev.opts.examples())
	}
	for k, op := range o.ops {
		p := ev.ops[k]
		if p == nil {
			p = &opStats{targets: map[opKey]*targetStats{}}
			ev.ops[k] = p
		}
		p.invocations += op.invocations
		p.errors += op.errors
		p.roots += op.roots
		for i, n := range op.patterns {
			p.patterns[i] += n
		}
		if len(op.calls) > 0 && p.calls == nil {
			p.calls = map[int32]int{}
		}
		addCounts(p.calls, op.calls)
		p.ok.merge(op.ok)
		for t, ts := range op.targets {
			u := p.targets[t]
			if u == nil {
				u = &targetStats{}
				p.targets[t] = u
			}
			u.present += ts.present
			u.calls += ts.calls
			u.errors += ts.errors
			u.cancelled += ts.cancelled
			u.ok.merge(ts.ok)
			u.failed.merge(ts.failed)
		}
		p.examples.merge(op.examples, ev.opts.examples())
	}
	for svc, f := range o.fails {
		if ev.fails[svc] == nil {
			ev.fails[svc] = map[int64]int{}
		}
		addCounts(ev.fails[svc], f)
	}
	addCounts(ev.windows, o.windows)
	for svc, m := range o.peerLabels {
		if ev.peerLabels[svc] == nil {
			ev.peerLabels[svc] = map[int32]int{}
		}
		addCounts(ev.peerLabels[svc], m)
	}
}

func addCounts[K comparable](dst, src map[K]int) {
	for k, n := range src {
		dst[k] += n
	}
}

// merge adds o's strings, keeping the k lowest.
func (l *lowest) merge(o lowest, k int) {
	for _, s := range o {
		l.add(s, k)
	}
}

// compareInvocations orders sampled invocations by hash, then trace: the
// order the sample is chosen in.
func compareInvocations(a, b *invocation) int {
	if a.hash != b.hash {
		return cmp.Compare(a.hash, b.hash)
	}
	return cmp.Compare(a.trace, b.trace)
}

// sortExamples puts the problems' examples in the order they were met in
// (their sequence numbers) and keeps the first maxExamples of each kind:
// after merging, they are those folding in place keeps.
func (ev *Evidence) sortExamples() {
	idx := make([]int, len(ev.examples))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(ev.seqs[a], ev.seqs[b]) })
	var kept [Unsupported + 1]int
	ex, seqs := make([]Problem, 0, len(idx)), make([]int64, 0, len(idx))
	for _, i := range idx {
		p := ev.examples[i]
		if kept[p.Kind] < maxExamples {
			kept[p.Kind]++
			ex = append(ex, p)
			seqs = append(seqs, ev.seqs[i])
		}
	}
	ev.examples, ev.seqs = ex, seqs
}
