package patch

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/emac-dev/emac/api/v1alpha1"
)

// inputs are the spec files the property tests edit, with where the
// loader finds each.
var inputs = []struct{ file, at string }{
	{"apply/native.in.yaml", "native/checkout.yaml"},
	{"apply/latency.in.yaml", "latency/checkout.yaml"},
	{"apply/block.in.yaml", "orders/spec.yaml"},
	{"apply/multi.in.yaml", "multi/spec.yaml"},
	{"apply/crlf.in.yaml", "crlf/spec.yaml"},
	{"paper/emac.checkout.yaml", "checkout/spec/emac.checkout.yaml"},
}

// TestEveryComponent sets the domains of every component of every input
// in several ways (grow, shrink, reorder, empty, names that need quoting)
// and checks each result loads with exactly those domains: the edit is
// not only safe (Apply checks that) but lands where it should.
func TestEveryComponent(t *testing.T) {
	for _, in := range inputs {
		src := read(t, filepath.Join("testdata", in.file))
		b, ds := load(in.at, src)
		if ds.HasErrors() {
			t.Fatalf("%s does not load: %v", in.file, ds.Err())
		}
		for i, js := range b.Specs {
			j := b.Journeys[i]
			for _, comp := range j.ComponentNames() {
				if _, own := js.Spec.Components[comp]; !own {
					continue // from a catalog
				}
				old := j.Components[comp].Domains
				for k, doms := range [][]string{
					{},
					{"zone-x"},
					append(slices.Clone(old), "zone-x"),
					append([]string{"zone-x"}, old...),
					{"true", "a: b", "#x", "null", "x,y", "ü-zone", "it's", "[x]"},
					reversed(append(slices.Clone(old), "zone-y", "zone-z")),
				} {
					name := fmt.Sprintf("%s/%s/%s/%d", in.file, js.Metadata.Name, comp, k)
					e := Edit{Journey: js.Metadata.Name, Component: comp, Domains: doms}
					out, err := Apply("f.yaml", src, []Edit{e})
					if err != nil {
						t.Errorf("%s: %v", name, err)
						continue
					}
					b2, ds := load(in.at, out)
					if ds.HasErrors() {
						t.Errorf("%s: the result does not load: %v\n%s", name, ds.Err(), out)
						continue
					}
					want := slices.Clone(doms)
					sort.Strings(want)
					if len(want) == 0 {
						want = nil
					}
					if diff := cmp.Diff(want, b2.Journeys[i].Components[comp].Domains); diff != "" {
						t.Errorf("%s: domains (-want +got):\n%s", name, diff)
					}
				}
			}
		}
	}
}

func reversed(s []string) []string {
	slices.Reverse(s)
	return s
}

// randomNode is a random valid flow over names (every name used at least
// where the generator reaches it; branch weights sum to 1).
func randomNode(r *rand.Rand, names []string, depth int) v1alpha1.Node {
	leaf := func() v1alpha1.Node { return v1alpha1.Node{Call: names[r.IntN(len(names))]} }
	if depth <= 0 || r.IntN(4) == 0 {
		return leaf()
	}
	list := func() []v1alpha1.Node {
		out := make([]v1alpha1.Node, 1+r.IntN(3))
		for i := range out {
			out[i] = randomNode(r, names, depth-1)
		}
		return out
	}
	child := func() *v1alpha1.Node { n := randomNode(r, names, depth-1); return &n }
	d := func(ms int) *v1alpha1.Duration { v := v1alpha1.Duration(int64(ms) * 1e6); return &v }
	switch r.IntN(10) {
	case 0:
		return v1alpha1.Node{Seq: list()}
	case 1:
		return v1alpha1.Node{All: list()}
	case 2:
		return v1alpha1.Node{Race: &v1alpha1.Race{Of: list()}}
	case 3:
		return v1alpha1.Node{Race: &v1alpha1.Race{HedgeAfter: d(10 + r.IntN(90)), Of: list()}}
	case 4:
		return v1alpha1.Node{Fallback: list()}
	case 5:
		of := list()
		return v1alpha1.Node{Quorum: &v1alpha1.Quorum{K: 1 + r.IntN(len(of)), Of: of}}
	case 6:
		return v1alpha1.Node{Branch: []v1alpha1.BranchCase{{Weight: 0.25, Node: randomNode(r, names, depth-1)}, {Weight: 0.75, Node: randomNode(r, names, depth-1)}}}
	case 7:
		rt := &v1alpha1.Retry{Attempts: 1 + r.IntN(4), Do: child()}
		if r.IntN(2) == 0 {
			rt.PerTryTimeout = d(100 + r.IntN(200))
		}
		if r.IntN(2) == 0 {
			rt.Backoff = d(5 + r.IntN(20))
		}
		return v1alpha1.Node{Retry: rt}
	case 8:
		return v1alpha1.Node{Timeout: &v1alpha1.Timeout{After: *d(500 + r.IntN(1000)), Do: child()}}
	default:
		if r.IntN(2) == 0 {
			return v1alpha1.Node{Optional: child()}
		}
		return v1alpha1.Node{Async: child()}
	}
}

// TestRandomFlows applies chains of random flows to the Journey inputs,
// each to the result of the one before (so every operator meets every
// other's layout), and checks that the loader reads back exactly the
// flow asked for and that nothing but the flow changed.
func TestRandomFlows(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for _, in := range inputs {
		src := read(t, filepath.Join("testdata", in.file))
		if in.file == "paper/emac.checkout.yaml" {
			continue // a JourneyIntent's flow is not rewritten
		}
		b, _ := load(in.at, src)
		for i, js := range b.Specs {
			names := b.Journeys[i].ComponentNames()
			cur := src
			for step := 0; step < 40; step++ {
				n := randomNode(r, names, 1+r.IntN(4))
				out, err := Apply("f.yaml", cur, []Edit{{Journey: js.Metadata.Name, Flow: &n}})
				if err != nil {
					t.Fatalf("%s/%s step %d: %v\nflow %+v\n%s", in.file, js.Metadata.Name, step, err, n, cur)
				}
				b2, ds := load(in.at, out)
				if ds.HasErrors() {
					t.Fatalf("%s step %d: the result does not load: %v\n%s", in.file, step, ds.Err(), out)
				}
				if diff := cmp.Diff(&n, b2.Specs[i].Spec.Flow); diff != "" {
					t.Fatalf("%s step %d: flow (-want +got):\n%s\n%s", in.file, step, diff, out)
				}
				cur = out
			}
		}
	}
}
