package discovery_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/discovery"
)

// TestAssemblerProblems: what is wrong with a trace is counted and shown
// with the span's position, and the rest of the trace is still used: a
// duplicate span id (the later dropped), a parent that never came (the
// span becomes a root), parent links that loop (cut), a child outside its
// parent (shifted into it), a span without ids or service (dropped).
func TestAssemblerProblems(t *testing.T) {
	const ms = int64(1e6)
	at := func(line int) discovery.Pos { return discovery.Pos{File: "t.json", Line: line} }
	spans := []discovery.Span{
		{TraceID: "t1", SpanID: "r", Service: "front", Operation: "GET /", Kind: discovery.KindServer, Start: 0, End: 100 * ms, Pos: at(1)},
		{TraceID: "t1", SpanID: "c", ParentID: "r", Service: "front", Operation: "cart", Kind: discovery.KindClient, Start: 10 * ms, End: 20 * ms, Pos: at(2)},
		{TraceID: "t1", SpanID: "s", ParentID: "c", Service: "cart", Operation: "get", Kind: discovery.KindServer, Start: 11 * ms, End: 19 * ms, Pos: at(3)},
		{TraceID: "t1", SpanID: "s", ParentID: "c", Service: "cart", Operation: "get", Kind: discovery.KindServer, Start: 11 * ms, End: 19 * ms, Pos: at(4)}, // duplicate
		{TraceID: "t1", SpanID: "k", ParentID: "r", Service: "stock", Operation: "get", Kind: discovery.KindServer, Start: -5 * ms, End: 5 * ms, Pos: at(5)}, // starts before its parent
		{TraceID: "t1", SpanID: "o", ParentID: "gone", Service: "pay", Operation: "charge", Start: 30 * ms, End: 40 * ms, Pos: at(6)},                        // parent never came
		{TraceID: "t2", SpanID: "a", ParentID: "b", Service: "x", Operation: "op", Start: 0, End: 10 * ms, Pos: at(7)},                                       // a loop
		{TraceID: "t2", SpanID: "b", ParentID: "a", Service: "y", Operation: "op", Start: 0, End: 10 * ms, Pos: at(8)},
		{TraceID: "", SpanID: "z", Service: "x", Pos: at(9)},   // no trace id
		{TraceID: "t3", SpanID: "z", Service: "", Pos: at(10)}, // no service
	}
	a := discovery.NewAssembler(discovery.Options{})
	for i := range spans {
		if err := a.Span(&spans[i]); err != nil {
			t.Fatal(err)
		}
	}
	m := a.Close().Model(nil)
	if m.Problems == nil {
		t.Fatal("no problems reported")
	}
	want := map[string]int{"duplicate-span": 1, "missing-parent": 1, "cycle": 1, "clock-skew": 1, "incomplete": 1, "missing-field": 2}
	if diff := cmp.Diff(want, m.Problems.Counts); diff != "" {
		t.Errorf("problem counts (-want +got):\n%s", diff)
	}
	for _, line := range []string{"t.json:4", "t.json:5", "t.json:6", "t.json:9", "t.json:10"} {
		found := false
		for _, e := range m.Problems.Examples {
			found = found || len(e) > len(line) && e[:len(line)+1] == line+":"
		}
		if !found {
			t.Errorf("no problem shown at %s: %v", line, m.Problems.Examples)
		}
	}
	// the rest is used: front calls cart (once: the duplicate dropped) and
	// stock, whose skewed span was shifted, not lost
	edges := map[string]int{}
	for _, e := range m.Edges {
		edges[e.From+"→"+e.To] = e.Calls
	}
	if diff := cmp.Diff(map[string]int{"front→cart": 1, "front→stock": 1, "x→y": 1}, edges); diff != "" {
		t.Errorf("edges (-want +got):\n%s", diff)
	}
}

// randomSpans are spans of random traces with every kind of problem.
func randomSpans() []discovery.Span {
	const ms = int64(1e6)
	rng := rand.New(rand.NewPCG(1, 2))
	services := []string{"front", "cart", "stock", "pay", "ship", ""}
	var spans []discovery.Span
	for i := range 4000 {
		tr := fmt.Sprintf("t%03d", rng.IntN(300))
		s := discovery.Span{
			TraceID: tr, SpanID: fmt.Sprintf("s%d", rng.IntN(12)), Service: services[rng.IntN(len(services))],
			Operation: fmt.Sprintf("op%d", rng.IntN(3)), Kind: discovery.Kind(rng.IntN(6)), Outcome: discovery.Outcome(rng.IntN(4)),
			Start: int64(rng.IntN(1000)) * ms * 100, Pos: discovery.Pos{File: "r", Line: i + 1},
		}
		s.End = s.Start + int64(rng.IntN(200))*ms
		if rng.IntN(5) > 0 {
			s.ParentID = fmt.Sprintf("s%d", rng.IntN(12))
		}
		if rng.IntN(50) == 0 {
			s.SpanID = ""
		}
		if rng.IntN(20) == 0 {
			s.PeerDomain = "zone-" + fmt.Sprint(rng.IntN(2))
			s.Peer = "db"
		}
		s.Placement.Node = fmt.Sprintf("n%d", rng.IntN(3))
		spans = append(spans, s)
	}
	return spans
}

// TestWorkers: folding on workers gives the evidence folding in place
// does — the model, the problems' counts and examples in their order,
// the exported families — on random traces with every kind of problem
// (randomSpans), in a window small enough to close traces early and in
// parts.
func TestWorkers(t *testing.T) {
	spans := randomSpans()
	evidence := func(workers int) (*v1alpha1.DiscoveredModel, []discovery.Family) {
		a := discovery.NewAssembler(discovery.Options{MaxSpans: 64, Workers: workers, Sample: 50})
		for i := range spans {
			s := spans[i]
			if err := a.Span(&s); err != nil {
				t.Fatal(err)
			}
		}
		ev := a.Close()
		return ev.Model(nil), ev.Families()
	}
	want, wantFams := evidence(0)
	if want.Problems == nil || len(want.Problems.Counts) < 6 {
		t.Fatalf("too few kinds of problem to tell: %v", want.Problems)
	}
	for _, w := range []int{1, 2, 5} {
		got, fams := evidence(w)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%d workers: the model differs from folding in place (-in place +workers):\n%s", w, diff)
		}
		if diff := cmp.Diff(wantFams, fams); diff != "" {
			t.Errorf("%d workers: the families differ from folding in place (-in place +workers):\n%s", w, diff)
		}
	}
}

// TestAssemblerCopiesIDs: the Assembler is an IDCopier. Spans whose ids
// are bytes of a buffer overwritten once Span returns give the evidence
// that spans of ids of their own do, folding in place or on workers, in
// a window that closes traces early and reuses them.
func TestAssemblerCopiesIDs(t *testing.T) {
	spans := randomSpans()
	evidence := func(workers int, borrowed bool) (*v1alpha1.DiscoveredModel, []discovery.Family) {
		a := discovery.NewAssembler(discovery.Options{MaxSpans: 64, Workers: workers, Sample: 50})
		if !discovery.CopiesIDs(a) {
			t.Fatal("the Assembler does not copy ids")
		}
		buf := make([]byte, 0, 64)
		for i := range spans {
			s := spans[i]
			if borrowed {
				buf = append(append(append(buf[:0], s.TraceID...), s.SpanID...), s.ParentID...)
				s.TraceID = unsafe.String(unsafe.SliceData(buf), len(s.TraceID))
				s.SpanID = unsafe.String(unsafe.SliceData(buf[len(s.TraceID):]), len(s.SpanID))
				s.ParentID = unsafe.String(unsafe.SliceData(buf[len(s.TraceID)+len(s.SpanID):]), len(s.ParentID))
			}
			if err := a.Span(&s); err != nil {
				t.Fatal(err)
			}
			for j := range buf {
				buf[j] = '#' // the reader's next record
			}
		}
		ev := a.Close()
		return ev.Model(nil), ev.Families()
	}
	for _, w := range []int{0, 2} {
		want, wantFams := evidence(w, false)
		got, fams := evidence(w, true)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%d workers: the model differs with borrowed ids (-own +borrowed):\n%s", w, diff)
		}
		if diff := cmp.Diff(wantFams, fams); diff != "" {
			t.Errorf("%d workers: the families differ with borrowed ids (-own +borrowed):\n%s", w, diff)
		}
	}
}
