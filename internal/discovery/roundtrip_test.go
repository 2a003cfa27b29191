package discovery_test

import (
	"testing"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/discovery"
	"github.com/emac-dev/emac/internal/gen"
	"github.com/emac-dev/emac/internal/model"
)

// roundTrips are journeys over every operator, nested: each is simulated,
// traced, discovered and compared with itself. Their components fail
// often enough (10–15%) that every behaviour shows in the sample.
var roundTrips = []string{
	"Series(a, b, c)",
	"Series(a, All(b, c), Race[hedgeAfter=50ms](d, e))",
	"Series(a, Fallback(b, c), Retry[attempts=3, perTryTimeout=200ms](d))",
	"Series(a, Branch(0.3: b, 0.7: c), Quorum[k=2](d, e, f), Optional(g))",
	"Series(a, Timeout[after=300ms](b), Async(c))",
	"All(Series(a, b), Series(c, d))",
	"Series(a, Race(b, c), d)",
	"Branch(0.5: Series(a, b), 0.25: c, 0.25: All(d, e))",
	"Series(Retry[attempts=2, backoff=10ms](a), Fallback(b, c, d))",
	"Series(a, Timeout[after=150ms](Series(b, c)), d)",
	"Series(Optional(a), Quorum[k=2](b, c, d), Retry[attempts=4](e))",
	"Series(a, All(b, Series(c, Race[hedgeAfter=30ms](d, e))), f)",
	// two kinds of request under one operation, calling b and a in
	// either order: no series-parallel order fits both, each kind does
	"Branch(0.5: Series(a, b), 0.5: Series(b, a, c))",
}

// TestRoundTrip: the flow discovered from the simulator's traces of a
// journey equals the journey's flow up to branch weights, and each
// weight lies in the 95% interval discovery gives it.
func TestRoundTrip(t *testing.T) {
	for i, flow := range roundTrips {
		j, err := gen.Traceable(flow)
		if err != nil {
			t.Fatal(err)
		}
		m := discover(t, j, 3000, uint64(i+1)).Model(nil)
		var got *model.Node
		for _, f := range m.Flows {
			if f.Root {
				if got, err = model.ParseFlow(f.Canonical); err != nil {
					t.Fatalf("%s: discovered %q does not parse: %v", flow, f.Canonical, err)
				}
				for _, b := range f.Branches {
					// the true weight of each case, found by its flow
					want := discovery.Normalize(j.Flow)
					checkWeights(t, flow, want, b.Cases, b.Weights)
				}
			}
		}
		if got == nil {
			t.Errorf("%s: no entry flow discovered", flow)
			continue
		}
		if g, w := discovery.Shape(got), discovery.Shape(j.Flow); g != w {
			t.Errorf("%s:\ngot  %s\nwant %s", flow, g, w)
		}
	}
}

// checkWeights finds the branch of want whose cases are cases and checks
// each weight against its interval.
func checkWeights(t *testing.T, flow string, want *model.Node, cases string, ests []v1alpha1.Estimate) {
	t.Helper()
	got, err := model.ParseFlow(cases)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	want.Walk(func(x *model.Node) {
		if x.Op != model.Branch || discovery.Shape(x) != discovery.Shape(got) || found {
			return
		}
		found = true
		norm := discovery.Normalize(got)
		for i, c := range norm.Children {
			// the estimate of the case: got's order is discovery's
			k := indexOf(got, c)
			if w := x.Weights[i]; w < ests[k].Lo || w > ests[k].Hi {
				t.Errorf("%s: case %s has weight %v outside its interval [%v, %v] (%s)", flow, c, w, ests[k].Lo, ests[k].Hi, ests[k].Basis)
			}
		}
	})
	if !found {
		t.Errorf("%s: no branch %s in the journey", flow, cases)
	}
}

func indexOf(n *model.Node, c *model.Node) int {
	for i, k := range n.Children {
		if discovery.Shape(k) == discovery.Shape(c) {
			return i
		}
	}
	return -1
}
