package discovery

import (
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/emac-dev/emac/internal/stats"

	"github.com/emac-dev/emac/api/v1alpha1"
)

// Failure-domain hypotheses come from three kinds of evidence:
//
//   - placement: services whose spans name the same node, zone, host,
//     region, cluster or declared domain (emac.failure_domain). The
//     confidence of a member is the lower end of the 95% Wilson interval
//     of the share of its spans that name the value; the hypothesis's is
//     its least member's. When a member's spans name several values of
//     the same kind, the hypothesis is marked as a conflict.
//   - shared dependencies: two or more called components whose services
//     call the same service; its failure reaches them all.
//   - co-failure: two services bad (failing or degraded, windows.go) in
//     the same time windows more often than chance allows, by the
//     one-sided hypergeometric test (Fisher's exact test) at 1%,
//     Bonferroni-corrected over the pairs.

// domains lists the hypotheses, members named as components.
func (ev *Evidence) domains(names map[opKey]string) []v1alpha1.DomainHypothesis {
	// a service's components: the names the flows use
	comps := map[int32][]string{}
	for k, n := range names {
		comps[k.svc] = append(comps[k.svc], n)
	}
	for _, c := range comps {
		slices.Sort(c)
	}
	var out []v1alpha1.DomainHypothesis
	out = append(out, ev.placementDomains(comps)...)
	out = append(out, ev.dependencyDomains(comps, names)...)
	out = append(out, ev.coFailureDomains(comps)...)
	if out == nil {
		out = []v1alpha1.DomainHypothesis{}
	}
	return out
}

// kinds of placement, in the order hypotheses are listed.
var placementKinds = []struct {
	kind, attr string
	get        func(Placement) string
}{
	{v1alpha1.DomainDeclared, "emac.failure_domain", func(p Placement) string { return p.Domain }},
	{v1alpha1.DomainZone, "cloud.availability_zone", func(p Placement) string { return p.Zone }},
	{v1alpha1.DomainRegion, "cloud.region", func(p Placement) string { return p.Region }},
	{v1alpha1.DomainCluster, "k8s.cluster.name", func(p Placement) string { return p.Cluster }},
	{v1alpha1.DomainNode, "k8s.node.name", func(p Placement) string { return p.Node }},
	{v1alpha1.DomainHost, "host.name", func(p Placement) string { return p.Host }},
}

func (ev *Evidence) placementDomains(comps map[int32][]string) []v1alpha1.DomainHypothesis {
	var out []v1alpha1.DomainHypothesis
	set := map[int32]bool{}
	for svc := range ev.services {
		set[svc] = true
	}
	for svc := range ev.peerLabels {
		set[svc] = true // an external service, named only by its callers
	}
	svcs := slices.Collect(maps.Keys(set))
	slices.SortFunc(svcs, ev.compareNames)
	peer := map[int32]map[string]int{} // peerLabels by the domains' names
	for svc := range ev.peerLabels {
		peer[svc] = ev.peerDomains(svc)
	}
	for _, pk := range placementKinds {
		// value → service → spans naming it; service → spans naming any
		byValue := map[string]map[int32]int{}
		named := map[int32]int{}
		note := func(svc int32, v string, n int) {
			if byValue[v] == nil {
				byValue[v] = map[int32]int{}
			}
			byValue[v][svc] += n
			named[svc] += n
		}
		for _, svc := range svcs {
			if s := ev.services[svc]; s != nil {
				for id, n := range s.places {
					if v := pk.get(ev.places.list[id]); v != "" {
						note(svc, v, n)
					}
				}
			}
			if pk.kind == v1alpha1.DomainDeclared {
				for v, n := range peer[svc] {
					note(svc, v, n)
				}
			}
		}
		for _, v := range slices.Sorted(maps.Keys(byValue)) {
			members := byValue[v]
			var names []string
			conf := 1.0
			conflict := false
			var evidence []string
			total := 0
			for _, svc := range svcs {
				n, ok := members[svc]
				if !ok {
					continue
				}
				cs := comps[svc]
				if len(cs) == 0 {
					continue // not called by anything: not a leaf of a flow
				}
				names = append(names, cs...)
				lo, _ := stats.Wilson(n, named[svc], stats.Z95)
				conf = min(conf, lo)
				if n < named[svc] {
					conflict = true
				}
				total += n
				evidence = append(evidence, fmt.Sprintf("%s: %s=%s on %d of %d spans that name one", ev.name(svc), pk.attr, v, n, named[svc]))
				if pk.kind == v1alpha1.DomainDeclared && peer[svc][v] > 0 {
					evidence = append(evidence, fmt.Sprintf("%s: %d of them its callers' (emac.peer.failure_domain)", ev.name(svc), peer[svc][v]))
				}
			}
			if len(names) < 2 && !(pk.kind == v1alpha1.DomainDeclared && len(names) > 0) {
				continue // one member shares nothing (a declared domain is kept: the spec may name others)
			}
			out = append(out, v1alpha1.DomainHypothesis{
				Name: domainName(pk.kind, v), Kind: pk.kind, Members: names, Confidence: conf,
				Basis:    "the least, over the members, of the lower end of the 95% Wilson interval of the share of the member's spans that name this value",
				Evidence: evidence, Conflict: conflict,
				Provenance: v1alpha1.Provenance{Count: total, Sources: []string{"span resource attribute " + pk.attr}},
			})
		}
	}
	return out
}

// domainName names a hypothesis: the declared name as it is, others
// prefixed with their kind.
func domainName(kind, value string) string {
	if kind == v1alpha1.DomainDeclared {
		return sanitize(value)
	}
	return kind + "-" + sanitize(value)
}

func (ev *Evidence) dependencyDomains(comps map[int32][]string, names map[opKey]string) []v1alpha1.DomainHypothesis {
	// callee service → the caller services
	callers := map[int32]map[int32]int{}
	for k, e := range ev.edges {
		if callers[k.to] == nil {
			callers[k.to] = map[int32]int{}
		}
		callers[k.to][k.from] += e.calls
	}
	var out []v1alpha1.DomainHypothesis
	tos := slices.Collect(maps.Keys(callers))
	slices.SortFunc(tos, ev.compareNames)
	for _, to := range tos {
		var members, evidence []string
		count := 0
		froms := slices.Collect(maps.Keys(callers[to]))
		slices.SortFunc(froms, ev.compareNames)
		for _, from := range froms {
			if len(comps[from]) == 0 {
				continue
			}
			members = append(members, comps[from]...)
			count += callers[to][from]
			evidence = append(evidence, fmt.Sprintf("%s calls %s (%d calls)", ev.name(from), ev.name(to), callers[to][from]))
		}
		if len(members) < 2 {
			continue
		}
		out = append(out, v1alpha1.DomainHypothesis{
			Name: "dependency-" + sanitize(ev.name(to)), Kind: v1alpha1.DomainDependency, Members: members, Confidence: 1,
			Basis:      "observed calls: every member's service calls it; a failure of it reaches each caller that needs it",
			Evidence:   evidence,
			Provenance: v1alpha1.Provenance{Count: count, Traces: ev.edgeExamples(to)},
		})
	}
	return out
}

func (ev *Evidence) edgeExamples(to int32) []string {
	var l lowest
	for k, e := range ev.edges {
		if k.to == to {
			for _, t := range e.examples {
				l.add(t, ev.opts.examples())
			}
		}
	}
	return l
}

func (ev *Evidence) coFailureDomains(comps map[int32][]string) []v1alpha1.DomainHypothesis {
	N := len(ev.windows)
	bad := ev.badWindows()
	svcs := slices.Collect(maps.Keys(bad))
	slices.SortFunc(svcs, ev.compareNames)
	pairs := len(svcs) * (len(svcs) - 1) / 2
	var out []v1alpha1.DomainHypothesis
	for i, a := range svcs {
		for _, b := range svcs[i+1:] {
			if len(comps[a]) == 0 || len(comps[b]) == 0 {
				continue
			}
			na, nb, both := len(bad[a]), len(bad[b]), 0
			for w := range bad[a] {
				if bad[b][w] {
					both++
				}
			}
			p := hypergeomTail(N, na, nb, both)
			if both < 2 || p*float64(pairs) >= 0.01 {
				continue
			}
			expect := float64(na) * float64(nb) / float64(N)
			out = append(out, v1alpha1.DomainHypothesis{
				Name: "co-failure-" + sanitize(ev.name(a)) + "-" + sanitize(ev.name(b)), Kind: v1alpha1.DomainCoFailure,
				Members:    append(slices.Clone(comps[a]), comps[b]...),
				Confidence: 1 - min(1, p*float64(pairs)),
				Basis:      fmt.Sprintf("one-sided hypergeometric (Fisher's exact) test over %d windows of %v, Bonferroni-corrected over %d pairs; confidence is 1 − the corrected p-value", N, ev.opts.Window, pairs),
				Evidence: []string{fmt.Sprintf("%s failed or was degraded in %d windows, %s in %d, both in %d (%.2f expected by chance): p = %.3g",
					ev.name(a), na, ev.name(b), nb, both, expect, p)},
				Provenance: v1alpha1.Provenance{Count: both},
			})
		}
	}
	return out
}

// hypergeomTail is P(X ≥ k) for X the overlap of random subsets of sizes
// a and b of N.
func hypergeomTail(N, a, b, k int) float64 {
	if k <= 0 {
		return 1
	}
	lc := stats.LogChoose
	total := lc(N, b)
	p := 0.0
	for x := k; x <= min(a, b); x++ {
		if b-x > N-a {
			continue
		}
		p += math.Exp(lc(a, x) + lc(N-a, b-x) - total)
	}
	return min(1, p)
}
