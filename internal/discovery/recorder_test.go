package discovery_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/discovery"
	"github.com/emac-dev/emac/internal/gen"
	"github.com/emac-dev/emac/internal/model"
	"github.com/emac-dev/emac/internal/sim/trace"
)

// recorded is what a collector's connector would export after seeing the
// traces, read back as Evidence.
func recorded(t testing.TB, td *trace.TracesData, opts discovery.Options, lim discovery.Limits) (*discovery.Evidence, []discovery.Family) {
	t.Helper()
	r := discovery.NewRecorder(opts, lim)
	feed(t, td, r)
	// everything idle: every trace folded in
	fams := r.Families(time.Now().Add(time.Hour).UnixNano())
	return discovery.Rebuild(opts, fams, nil), fams
}

// TestRecorderRoundTrip: for journeys over every operator, the model
// rebuilt from a Recorder's families (what `emac discover --prometheus`
// reads) equals the model discovered from the same traces as files: the
// same components and counts, edges, flows, branch weights and
// confidence. Only latency summaries (the exported buckets) and the
// window may differ.
func TestRecorderRoundTrip(t *testing.T) {
	for i, flow := range roundTrips {
		j, err := gen.Traceable(flow)
		if err != nil {
			t.Fatal(err)
		}
		td, err := trace.Generate(context.Background(), j, trace.Options{Count: 2000, Seed: uint64(i + 1)})
		if err != nil {
			t.Fatal(err)
		}
		a := discovery.NewAssembler(discovery.Options{})
		feed(t, td, a)
		want := a.Close().Model(nil)
		ev, _ := recorded(t, td, discovery.Options{}, discovery.Limits{})
		got := ev.Model(nil)
		ignore := []cmp.Option{
			cmp.FilterPath(func(p cmp.Path) bool {
				switch p.Last().String() {
				case ".Latency", ".Window":
					return true
				}
				return false
			}, cmp.Ignore()),
		}
		if d := cmp.Diff(want, got, ignore...); d != "" {
			t.Errorf("%s: the rebuilt model differs (-files +recorder):\n%s", flow, d)
		}
	}
}

// TestFamiliesFixedPoint: families rebuilt and exported again are the
// same families: nothing is lost or invented on the way back (the first
// and last span times, to the microsecond, aside).
func TestFamiliesFixedPoint(t *testing.T) {
	j, err := model.Build("j", roundTrips[3], map[string]float64{"a": 0.9, "b": 0.9, "c": 0.9, "d": 0.9, "e": 0.9, "f": 0.9, "g": 0.9}, nil)
	if err != nil {
		t.Fatal(err)
	}
	timed(j)
	td, err := trace.Generate(context.Background(), j, trace.Options{Count: 500, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	ev, fams := recorded(t, td, discovery.Options{}, discovery.Limits{})
	again := ev.Families()
	approx := cmp.Comparer(func(a, b float64) bool { return a == b || math.Abs(a-b) <= 1e-6*math.Max(math.Abs(a), math.Abs(b)) })
	if d := cmp.Diff(fams, again, approx); d != "" {
		t.Errorf("families rebuilt and exported again differ (-first +again):\n%s", d)
	}
	if len(fams) < 20 {
		t.Errorf("only %d families", len(fams))
	}
}

// TestRecorderLimits: past a limit, what is new is dropped and counted,
// and what is kept stays consistent.
func TestRecorderLimits(t *testing.T) {
	j, err := model.Build("j", "Series(a, All(b, c), Branch(0.5: d, 0.5: e))", map[string]float64{"a": 0.9, "b": 0.9, "c": 0.9, "d": 0.9, "e": 0.9}, nil)
	if err != nil {
		t.Fatal(err)
	}
	timed(j)
	td, err := trace.Generate(context.Background(), j, trace.Options{Count: 300, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		lim    discovery.Limits
		reason string
	}{
		{discovery.Limits{MaxServices: 3}, "services"},
		{discovery.Limits{MaxOperations: 2}, "operations"},
		{discovery.Limits{MaxEdges: 2}, "edges"},
		{discovery.Limits{MaxTargets: 2}, "targets"},
	} {
		ev, fams := recorded(t, td, discovery.Options{}, tc.lim)
		var dropped float64
		for _, f := range fams {
			if f.Name == discovery.FamDropped {
				for _, s := range f.Series {
					if s.Labels[0].Value == tc.reason {
						dropped = s.Value
					}
				}
			}
		}
		if dropped == 0 {
			t.Errorf("%+v: nothing dropped for %s", tc.lim, tc.reason)
		}
		// the rest still makes a model
		m := ev.Model(nil)
		if len(m.Components) == 0 {
			t.Errorf("%+v: no component left", tc.lim)
		}
		checkLimit(t, tc.lim, m, fams)
	}
}

func checkLimit(t *testing.T, lim discovery.Limits, m *v1alpha1.DiscoveredModel, fams []discovery.Family) {
	t.Helper()
	if lim.MaxEdges > 0 && len(m.Edges) > lim.MaxEdges {
		t.Errorf("%d edges over a limit of %d", len(m.Edges), lim.MaxEdges)
	}
	for _, f := range fams {
		// services with spans of their own (callers still name the
		// others as peers: those are edges, under MaxEdges)
		if f.Name == discovery.FamSpans && lim.MaxServices > 0 && len(f.Series) > lim.MaxServices {
			t.Errorf("%d services over a limit of %d", len(f.Series), lim.MaxServices)
		}
		if f.Name == discovery.FamInvocations && lim.MaxOperations > 0 && len(f.Series) > lim.MaxOperations {
			t.Errorf("%d operations over a limit of %d", len(f.Series), lim.MaxOperations)
		}
	}
	for _, fl := range m.Flows {
		if lim.MaxTargets > 0 && len(fl.Pairs) > lim.MaxTargets*(lim.MaxTargets-1)/2 {
			t.Errorf("%s: %d call pairs: more than %d targets", fl.Entry.Operation, len(fl.Pairs), lim.MaxTargets)
		}
	}
}

// TestRecorderIdle: a trace stays open while its spans keep arriving
// within Idle, and is folded in once idle.
func TestRecorderIdle(t *testing.T) {
	j, err := model.Build("j", "Series(a, b)", map[string]float64{"a": 1, "b": 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	timed(j)
	td, err := trace.Generate(context.Background(), j, trace.Options{Count: 10, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	r := discovery.NewRecorder(discovery.Options{Idle: time.Minute}, discovery.Limits{})
	feed(t, td, r)
	traces := func(fams []discovery.Family) float64 {
		for _, f := range fams {
			if f.Name == discovery.FamTraces {
				return f.Series[0].Value
			}
		}
		return -1
	}
	if n := traces(r.Families(time.Now().UnixNano())); n != 0 {
		t.Errorf("%v traces folded in while they were not idle", n)
	}
	if n := traces(r.Families(time.Now().Add(2 * time.Minute).UnixNano())); n != 10 {
		t.Errorf("%v traces folded in once idle, want 10", n)
	}
}

// TestSchema: every family Families writes is in Schema, with its type
// and exactly its labels.
func TestSchema(t *testing.T) {
	j, err := model.Build("j", roundTrips[4], map[string]float64{"a": 0.9, "b": 0.9, "c": 0.9}, nil)
	if err != nil {
		t.Fatal(err)
	}
	timed(j)
	td, err := trace.Generate(context.Background(), j, trace.Options{Count: 200, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	_, fams := recorded(t, td, discovery.Options{}, discovery.Limits{MaxTargets: 1})
	schema := map[string]discovery.FamilySchema{}
	for _, s := range discovery.Schema {
		schema[s.Name] = s
	}
	for _, f := range fams {
		s, ok := schema[f.Name]
		if !ok {
			t.Errorf("family %s is not in Schema", f.Name)
			continue
		}
		if f.Type != s.Type {
			t.Errorf("%s: type %v, Schema says %v", f.Name, f.Type, s.Type)
		}
		for _, se := range f.Series {
			var names []string
			for _, l := range se.Labels {
				names = append(names, l.Name)
			}
			if d := cmp.Diff(s.Labels, names, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("%s: labels differ from Schema (-schema +series):\n%s", f.Name, d)
				break
			}
		}
	}
}

// TestPatterns: the operators' behaviours show in the pattern counts of
// the entry operation, over every invocation.
func TestPatterns(t *testing.T) {
	for _, tc := range []struct {
		flow       string
		want, none []string
	}{
		{"Series(a, b, c)", []string{"sequence"}, []string{"overlap", "retry", "cancelled"}},
		{"Series(a, All(b, c), Race(d, e))", []string{"overlap", "cancelled"}, []string{"retry"}},
		{"Series(a, Fallback(b, c), Retry[attempts=3, perTryTimeout=200ms](d))", []string{"after-failure", "retry", "timeout"}, []string{"overlap"}},
	} {
		j, err := gen.Traceable(tc.flow)
		if err != nil {
			t.Fatal(err)
		}
		td, err := trace.Generate(context.Background(), j, trace.Options{Count: 1000, Seed: 2})
		if err != nil {
			t.Fatal(err)
		}
		_, fams := recorded(t, td, discovery.Options{}, discovery.Limits{})
		got := map[string]float64{}
		for _, f := range fams {
			if f.Name != discovery.FamPatterns {
				continue
			}
			for _, s := range f.Series {
				if s.Labels[0].Value == "j" { // the entry operation
					got[s.Labels[1].Value] = s.Value
				}
			}
		}
		for _, p := range tc.want {
			if got[p] == 0 {
				t.Errorf("%s: no %s counted: %v", tc.flow, p, got)
			}
		}
		for _, p := range tc.none {
			if got[p] != 0 {
				t.Errorf("%s: %v %s counted: %v", tc.flow, got[p], p, got)
			}
		}
	}
}

// TestRecorderNames: span names with ids in them (a name per request)
// do not grow a Recorder without bound: past the room the limits leave,
// spans of new names are dropped and counted.
func TestRecorderNames(t *testing.T) {
	r := discovery.NewRecorder(discovery.Options{}, discovery.Limits{MaxServices: 2, MaxOperations: 2, MaxEdges: 2})
	for i := range 1000 {
		s := discovery.Span{TraceID: fmt.Sprint("t", i), SpanID: "s", Service: "api", Operation: fmt.Sprint("GET /users/", i), Start: 1, End: 2,
			Placement: discovery.Placement{Pod: fmt.Sprint("api-", i)}}
		if err := r.Span(&s); err != nil {
			t.Fatal(err)
		}
	}
	fams := r.Families(time.Now().Add(time.Hour).UnixNano())
	var ops, dropped float64
	for _, f := range fams {
		switch f.Name {
		case discovery.FamInvocations:
			ops = float64(len(f.Series))
		case discovery.FamDropped:
			for _, s := range f.Series {
				dropped += s.Value
			}
		}
	}
	if ops > 2 || dropped < 900 {
		t.Errorf("%v operations kept, %v spans dropped; want at most 2 kept and the rest dropped", ops, dropped)
	}
}
