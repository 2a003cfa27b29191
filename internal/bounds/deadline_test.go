package bounds_test

import (
	"math"
	"testing"
	"time"

	"github.com/emac-dev/emac/internal/latency"
	"github.com/emac-dev/emac/internal/model"
)

// TestDeadlinesAnalytic: on cases with a closed form, the engine's bounds
// lose exactly the mass above each deadline — a timeout over a call keeps
// a·F(T), a retry with a per-try timeout 1 − (1 − a·F(T))^n, and a shared
// domain's fate multiplies in as without deadlines.
func TestDeadlinesAnalytic(t *testing.T) {
	pts := []model.LatencyPoint{{Quantile: 0.5, Value: 40 * time.Millisecond}, {Quantile: 0.99, Value: 120 * time.Millisecond}}
	m, err := latency.FromPoints(pts)
	if err != nil {
		t.Fatal(err)
	}
	comp := func(name string, a float64) *model.Component {
		return &model.Component{Name: name, Availability: a, Latency: pts, Invocations: model.InvocationsTransient}
	}
	call := func(c string) *model.Node { return &model.Node{Op: model.Call, Component: c} }
	F := m.CDF(0.1)
	for _, tc := range []struct {
		name          string
		flow          *model.Node
		comps         []*model.Component
		domains       map[string][]string
		aPlus, aMinus float64
	}{
		{
			name:  "timeout over a call",
			flow:  &model.Node{Op: model.Timeout, After: 100 * time.Millisecond, Children: []*model.Node{call("a")}},
			comps: []*model.Component{comp("a", 0.999)},
			aPlus: 0.999 * F, aMinus: 0.999 * F,
		},
		{
			name:  "retry with a per-try timeout",
			flow:  &model.Node{Op: model.Retry, Attempts: 3, PerTryTimeout: 100 * time.Millisecond, Backoff: 10 * time.Millisecond, Children: []*model.Node{call("a")}},
			comps: []*model.Component{comp("a", 0.99)},
			aPlus: 1 - math.Pow(1-0.99*F, 3), aMinus: 1 - math.Pow(1-0.99*F, 3),
		},
		{
			// both replicas behind one timeout each, in a shared domain:
			// shared fate takes the pair down together
			name: "race of timeouts in a shared domain",
			flow: &model.Node{Op: model.Race, Children: []*model.Node{
				{Op: model.Timeout, After: 100 * time.Millisecond, Children: []*model.Node{call("a")}},
				{Op: model.Timeout, After: 100 * time.Millisecond, Children: []*model.Node{call("b")}},
			}},
			comps:   []*model.Component{comp("a", 0.99), comp("b", 0.99)},
			domains: map[string][]string{"zone": {"a", "b"}},
			aPlus:   1 - (1-0.99*F)*(1-0.99*F),
			// the common cause is up with 0.99; given it, each is up
			aMinus: 0.99 * (1 - (1-F)*(1-F)),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := &model.Journey{Name: "j", Flow: tc.flow, Components: map[string]*model.Component{}, Domains: map[string]*model.Domain{}, Objective: model.Objective{Availability: 0.9}}
			for _, c := range tc.comps {
				j.Components[c.Name] = c
			}
			for name, ms := range tc.domains {
				j.Domains[name] = &model.Domain{Name: name, Members: ms}
				for _, c := range ms {
					j.Components[c].Domains = append(j.Components[c].Domains, name)
				}
			}
			r := analyze(t, j)
			if math.Abs(r.Optimistic-tc.aPlus) > 1e-12 || math.Abs(r.Pessimistic-tc.aMinus) > 1e-12 {
				t.Errorf("got A+ %.15f A- %.15f, want %.15f %.15f", r.Optimistic, r.Pessimistic, tc.aPlus, tc.aMinus)
			}
			if r.Approximate {
				t.Error("marked approximate: every deadline is over a single call")
			}
		})
	}
}
