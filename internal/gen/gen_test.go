package gen

import (
	"fmt"
	"strings"
	"testing"

	"github.com/emac-dev/emac/internal/model"
)

// fingerprint summarises a journey for determinism checks: the canonical
// flow plus every component and domain.
func fingerprint(j *model.Journey) string {
	var b strings.Builder
	b.WriteString(j.Flow.String())
	for _, n := range j.ComponentNames() {
		c := j.Components[n]
		fmt.Fprintf(&b, "|%s:%v:%d:%v", n, c.Availability, c.Invocations, c.Domains)
	}
	for _, n := range j.DomainNames() {
		fmt.Fprintf(&b, "|%s:%v", n, j.Domains[n].Members)
	}
	return b.String()
}

func countCalls(j *model.Journey) int {
	n := 0
	j.Flow.Walk(func(x *model.Node) {
		if x.Op == model.Call {
			n++
		}
	})
	return n
}

func TestRandom(t *testing.T) {
	ops := map[model.Op]int{}
	shared, overlap, multi := 0, 0, 0
	for seed := uint64(0); seed < 500; seed++ {
		o := RandomOptions{Leaves: 3 + int(seed%10), Domains: int(seed % 5), MaxOccurrences: 14}
		j := Random(seed, o)
		if err := j.Validate(); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if got, want := countCalls(j), o.Leaves; got != want {
			t.Errorf("seed %d: got %d leaves, want %d", seed, got, want)
		}
		if got := Occurrences(j.Flow); got > 14 {
			t.Errorf("seed %d: got %d occurrences, want ≤ 14", seed, got)
		}
		if got, want := fingerprint(Random(seed, o)), fingerprint(j); got != want {
			t.Fatalf("seed %d: not deterministic", seed)
		}
		j.Flow.Walk(func(n *model.Node) { ops[n.Op]++ })
		for _, c := range j.Flow.Calls() {
			if c > 1 {
				shared++
				break
			}
		}
		for _, c := range j.Components {
			if len(c.Domains) > 1 {
				overlap++
				break
			}
		}
		for _, c := range j.Components {
			if c.Invocations == model.InvocationsPersistent {
				multi++
				break
			}
		}
	}
	for op := model.Call; op <= model.Async; op++ {
		if ops[op] == 0 {
			t.Errorf("operator %v never generated", op)
		}
	}
	if shared == 0 || overlap == 0 || multi == 0 {
		t.Errorf("got %d journeys with shared leaves, %d with overlapping domains, %d with persistent components; want some of each", shared, overlap, multi)
	}
	if fingerprint(Random(1, RandomOptions{})) == fingerprint(Random(2, RandomOptions{})) {
		t.Errorf("seeds 1 and 2 gave the same journey")
	}
}

func TestLarge(t *testing.T) {
	tests := []struct {
		name             string
		gen              func(seed uint64, leaves, domains int) *model.Journey
		leaves, domains  int
		wantDomainsExact bool
	}{
		{"realistic small", Realistic, 40, 6, true},
		{"realistic", Realistic, 2000, 32, true},
		{"realistic one domain", Realistic, 50, 1, true},
		{"realistic no domain", Realistic, 30, 0, true},
		{"realistic tiny", Realistic, 1, 4, false},
		{"local", Local, 2000, 64, true},
		{"local tight", Local, 10, 5, true},
		{"local tiny", Local, 3, 5, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := tc.gen(7, tc.leaves, tc.domains)
			if err := j.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := countCalls(j); got != tc.leaves {
				t.Errorf("got %d leaves, want %d", got, tc.leaves)
			}
			want := tc.domains
			if tc.name == "local tiny" {
				want = 3 // at most one domain per leaf
			}
			if got := len(j.Domains); tc.wantDomainsExact && got != want {
				t.Errorf("got %d domains, want %d", got, want)
			}
			if got, want := fingerprint(tc.gen(7, tc.leaves, tc.domains)), fingerprint(j); got != want {
				t.Errorf("not deterministic")
			}
		})
	}
}

// TestLocalConfined checks Local's promise: each domain's calls meet in a
// subtree holding no other call.
func TestLocalConfined(t *testing.T) {
	j := Local(3, 3000, 64)
	if len(j.Domains) != 64 {
		t.Errorf("got %d domains, want 64", len(j.Domains))
	}
	owner := map[string]string{}
	for _, d := range j.Domains {
		for _, m := range d.Members {
			if o, ok := owner[m]; ok {
				t.Fatalf("component %s in domains %s and %s", m, o, d.Name)
			}
			owner[m] = d.Name
		}
	}
	for c, n := range j.Flow.Calls() {
		if n != 1 {
			t.Errorf("component %s called %d times, want 1", c, n)
		}
	}
	// count calls per domain ("" = none) in each subtree; at a domain's
	// lowest common ancestor the subtree must hold that domain only
	var walk func(n *model.Node) map[string]int
	walk = func(n *model.Node) map[string]int {
		m := map[string]int{}
		if n.Op == model.Call {
			m[owner[n.Component]]++
			return m
		}
		complete := map[string]bool{}
		for _, c := range n.Children {
			for k, v := range walk(c) {
				m[k] += v
				if k != "" && v == len(j.Domains[k].Members) {
					complete[k] = true
				}
			}
		}
		for d, k := range m {
			if d != "" && !complete[d] && k == len(j.Domains[d].Members) && len(m) != 1 {
				t.Errorf("domain %s meets at a %v node holding %v", d, n.Op, m)
			}
		}
		return m
	}
	walk(j.Flow)
}
