package discovery

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestHist: the histogram's quantiles are those of its buckets counted
// one by one, however the durations come (growing its range down and
// up, durations ≤ 0), and merging two is counting both.
func TestHist(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 50 {
		var a, b, all hist
		var buckets []int32
		for i := range 1 + rng.IntN(300) {
			d := int64(math.Exp(rng.Float64() * 30))
			if rng.IntN(20) == 0 {
				d = -int64(rng.IntN(3))
			}
			if i%2 == 0 {
				a.add(d)
			} else {
				b.add(d)
			}
			all.add(d)
			buckets = append(buckets, histBucket(d))
		}
		slices.Sort(buckets)
		a.merge(b)
		for _, q := range []float64{0, 0.01, 0.5, 0.9, 0.99, 1} {
			want := int64(0)
			if bk := buckets[max(int(math.Ceil(q*float64(len(buckets)))), 1)-1]; bk != math.MinInt32 {
				want = int64(math.Round(math.Exp(float64(bk+1) * histBase)))
			}
			if got := all.quantile(q); got != want {
				t.Errorf("round %d: q%v = %d, want %d", round, q, got, want)
			}
			if got := a.quantile(q); got != want {
				t.Errorf("round %d: merged q%v = %d, want %d", round, q, got, want)
			}
		}
		if a.n != all.n || a.sum != all.sum {
			t.Errorf("round %d: merged n, sum = %d, %d; want %d, %d", round, a.n, a.sum, all.n, all.sum)
		}
	}
}

// TestSample: offering invocations keeps the k of lowest hash (then
// trace), whatever their order, and once full the sample is a heap.
func TestSample(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for round := range 30 {
		k := 1 + rng.IntN(50)
		var all []*invocation
		var h invHeap
		for range rng.IntN(400) {
			inv := &invocation{hash: uint64(rng.IntN(200)), trace: string(rune('a' + rng.IntN(20)))}
			all = append(all, inv)
			if h.wants(inv.hash, inv.trace, k) {
				h.offer(inv, k)
			}
		}
		for i := 1; i < len(h) && len(h) == k; i++ {
			if above(h[i], h[(i-1)/2]) {
				t.Fatalf("round %d: not a heap at %d", round, i)
			}
		}
		slices.SortFunc(all, compareInvocations)
		all = all[:min(k, len(all))]
		got := h.sorted()
		for i := range all {
			if compareInvocations(all[i], got[i]) != 0 {
				t.Fatalf("round %d: kept %v, want the lowest %v", round, got, all)
			}
		}
		if len(got) != len(all) {
			t.Fatalf("round %d: kept %d, want %d", round, len(got), len(all))
		}
	}
}

// TestLongTraceIDs: a trace whose ids and records outgrow what a rec's
// offsets reach (lowered here from 4 GiB) is folded in parts, the later
// spans counted as late, none lost; the positions kept in the trace's
// bytes come back whole.
func TestLongTraceIDs(t *testing.T) {
	a := NewAssembler(Options{})
	a.maxIDs = 100
	for i := range 6 {
		s := Span{TraceID: "t", SpanID: fmt.Sprintf("span-%02d", i), Service: "svc", Operation: "op", Start: int64(i), End: int64(i + 1),
			Pos: Pos{File: "f.json", Line: i + 1, Col: 3, Offset: int64(10 * i), Record: fmt.Sprintf("resourceSpans[0].scopeSpans[0].spans[%d]", i)}}
		if i > 0 {
			s.ParentID = "span-00"
		}
		if err := a.Span(&s); err != nil {
			t.Fatal(err)
		}
	}
	ev := a.Close()
	if got, want := ev.Spans, 6; got != want {
		t.Errorf("spans: got %d, want %d", got, want)
	}
	if ev.Traces < 2 {
		t.Errorf("traces: got %d, want the trace in parts", ev.Traces)
	}
	if ev.problems[Incomplete] == 0 {
		t.Fatalf("no span counted as late: %v", ev.problems)
	}
	var late Problem
	for _, p := range ev.examples {
		if p.Kind == MissingParent {
			late = p
			break
		}
	}
	want := Pos{File: "f.json", Line: late.Pos.Line, Col: 3, Offset: int64(10 * (late.Pos.Line - 1)), Record: fmt.Sprintf("resourceSpans[0].scopeSpans[0].spans[%d]", late.Pos.Line-1)}
	if late.Pos.Line < 2 || late.Pos != want {
		t.Errorf("a later part's span whose parent is in an earlier one: got %+v, want %+v", late.Pos, want)
	}
}

// TestPlacementSame: same is equality, whether the strings are the same
// ones or copies.
func TestPlacementSame(t *testing.T) {
	p := Placement{Pod: "cart-1", Node: "n1", Zone: "z1"}
	cp := Placement{Pod: strings.Clone(p.Pod), Node: strings.Clone(p.Node), Zone: strings.Clone(p.Zone)}
	for _, tc := range []struct {
		name string
		a, b Placement
		want bool
	}{
		{"itself", p, p, true},
		{"a copy", p, cp, true},
		{"empty", Placement{}, Placement{}, true},
		{"another pod", p, Placement{Pod: "cart-2", Node: "n1", Zone: "z1"}, false},
		{"a shorter pod", p, Placement{Pod: "cart-", Node: "n1", Zone: "z1"}, false},
		{"the same pod, another domain", p, Placement{Pod: p.Pod, Node: p.Node, Zone: p.Zone, Domain: "d"}, false},
		{"a prefix of the same string", Placement{Pod: p.Pod[:4]}, Placement{Pod: p.Pod}, false},
	} {
		if got := tc.a.same(&tc.b); got != tc.want {
			t.Errorf("%s: same = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestSpanIndexSpread: span ids of common shapes (counters in hex, ids
// alike but in one byte, 8-byte binary ids) spread over the index's
// slots as random ones would: some 79% of 2¹⁵ ids in 2¹⁶ slots have a
// slot of their own.
func TestSpanIndexSpread(t *testing.T) {
	var x spanIndex
	x.reset(1 << 15)
	const n = 1 << 15
	for name, id := range map[string]func(i int) []byte{
		"hex counter":     func(i int) []byte { return fmt.Appendf(nil, "%016x", i) },
		"hex, high bytes": func(i int) []byte { return fmt.Appendf(nil, "%04x000000000000", i) },
		"one byte apart":  func(i int) []byte { return []byte{byte(i), byte(i >> 8), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10} },
		"8-byte binary":   func(i int) []byte { return []byte{0, 0, 0, 0, 0, 0, byte(i >> 8), byte(i)} },
		"16-byte binary":  func(i int) []byte { return []byte{15: byte(i), 14: byte(i >> 8)} },
		"short":           func(i int) []byte { return fmt.Appendf(nil, "%x", i) },
	} {
		slots := map[uint64]bool{}
		for i := range n {
			slots[x.hash(id(i))&x.mask] = true
		}
		if got := float64(len(slots)) / n; got < 0.75 {
			t.Errorf("%s: %.0f%% of the ids have a slot of their own, want some 79%%", name, 100*got)
		}
	}
}

// TestInferOr: an inference told to give up stops at the first decision
// no invocation supports, which a flow's confidence of 0 follows from,
// and is otherwise the inference itself.
func TestInferOr(t *testing.T) {
	const ms = int64(1e6)
	name := func(k opKey) string { return string(rune('A' + k.op)) }
	sample := func(spans ...[2]int64) []*invocation {
		var out []*invocation
		for i := range 30 {
			inv := &invocation{trace: fmt.Sprint(i), ok: true}
			for k, s := range spans {
				inv.calls = append(inv.calls, call{target: opKey{1, int32(k)}, start: s[0] * ms, end: s[1] * ms})
			}
			out = append(out, inv)
		}
		return out
	}
	// the N order (B before C and D, A before C, A overlapping B and D,
	// C overlapping D) is no series-parallel one: a decision of no
	// support
	n := sample([2]int64{3, 12}, [2]int64{0, 5}, [2]int64{14, 25}, [2]int64{8, 20})
	whole := newInferrer(n, ms/10, name)
	if f := whole.infer(whole.all()); f == nil || whole.confidence() != 0 {
		t.Fatalf("the whole inference: %v, confidence %v; want a flow of confidence 0", f, whole.confidence())
	}
	in := newInferrer(n, ms/10, name)
	in.giveUp = true
	if f, ok := in.inferOr(in.all()); ok {
		t.Errorf("inferOr did not give up: %v", f)
	}
	// A then B: a flow that fits, the same either way
	seq := sample([2]int64{0, 10}, [2]int64{12, 20})
	want := newInferrer(seq, ms/10, name)
	wantFlow := want.infer(want.all())
	in = newInferrer(seq, ms/10, name)
	in.giveUp = true
	got, ok := in.inferOr(in.all())
	if !ok || got.String() != wantFlow.String() || in.confidence() != want.confidence() {
		t.Errorf("inferOr = %v (%v), confidence %v; want %v, confidence %v", got, ok, in.confidence(), wantFlow, want.confidence())
	}
}
