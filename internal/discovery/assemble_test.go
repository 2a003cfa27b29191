package discovery_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

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
