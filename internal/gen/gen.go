// Package gen generates journeys for tests and benchmarks: small random
// journeys exercising every operator and correlation feature, large
// journeys shaped like real microservice call trees, and large journeys
// whose failure domains each stay inside one subtree. Every generator is
// deterministic: the same seed and sizes give the same journey. Generated
// journeys carry an availability objective of 0.99 and validate.
package gen

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/emac-dev/emac/internal/model"
)

// newRand returns the generator's random source for a seed. The second PCG
// word is a fixed odd constant so that seeds 0, 1, 2… give unrelated
// streams.
func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
}

// builder accumulates the components and domain memberships of a journey
// under construction.
type builder struct {
	r     *rand.Rand
	comps map[string]*model.Component
	// order keeps component creation order, so that choices over existing
	// components do not depend on map iteration.
	order   []string
	domains map[string]map[string]bool
	dorder  []string
}

func newBuilder(seed uint64) *builder {
	return &builder{r: newRand(seed), comps: map[string]*model.Component{}, domains: map[string]map[string]bool{}}
}

// component returns the named component, creating it with availability a.
func (b *builder) component(name string, a float64) *model.Component {
	if c, ok := b.comps[name]; ok {
		return c
	}
	c := &model.Component{Name: name, Availability: a}
	b.comps[name] = c
	b.order = append(b.order, name)
	return c
}

// addDomain declares a domain (possibly still empty).
func (b *builder) addDomain(name string) {
	if _, ok := b.domains[name]; !ok {
		b.domains[name] = map[string]bool{}
		b.dorder = append(b.dorder, name)
	}
}

// member puts a component into a domain.
func (b *builder) member(domain, comp string) {
	b.addDomain(domain)
	b.domains[domain][comp] = true
}

// journey assembles and validates the journey. Domains left without
// members are dropped: model.Journey keeps only domains with members.
func (b *builder) journey(name string, flow *model.Node) *model.Journey {
	j := &model.Journey{Name: name, Flow: flow, Components: b.comps, Domains: map[string]*model.Domain{}}
	j.Objective.Availability = 0.99
	for _, dn := range b.dorder {
		set := b.domains[dn]
		if len(set) == 0 {
			continue
		}
		d := &model.Domain{Name: dn}
		for m := range set {
			d.Members = append(d.Members, m)
		}
		sort.Strings(d.Members)
		j.Domains[dn] = d
		for _, m := range d.Members {
			c := b.comps[m]
			c.Domains = append(c.Domains, dn)
		}
	}
	for _, c := range b.comps {
		sort.Strings(c.Domains)
	}
	if err := j.Validate(); err != nil {
		// The generators only build valid journeys; an invalid one is a bug
		// here, not a property of the seed.
		panic(fmt.Sprintf("gen: generated an invalid journey: %v", err))
	}
	return j
}

// split divides total into m positive parts at random (m ≤ total).
func split(r *rand.Rand, total, m int) []int {
	parts := make([]int, m)
	for i := range parts {
		parts[i] = 1
	}
	for rest := total - m; rest > 0; rest-- {
		parts[r.IntN(m)]++
	}
	return parts
}

// weights returns m random branch weights summing to 1 (the last absorbs
// rounding), occasionally with a zero weight.
func weights(r *rand.Rand, m int) []float64 {
	w := make([]float64, m)
	s := 0.0
	for i := range w {
		if r.IntN(20) == 0 {
			continue // a case that is never taken
		}
		w[i] = 0.05 + r.Float64()
		s += w[i]
	}
	if s == 0 {
		w[0], s = 1, 1
	}
	acc := 0.0
	last := -1
	for i := range w {
		w[i] /= s
		if w[i] > 0 {
			last = i
		}
	}
	for i := range w {
		if i != last {
			acc += w[i]
		}
	}
	w[last] = 1 - acc
	return w
}

// seriesAvailability draws the availability of a call most journeys make
// in series. Unavailability shrinks with the journey's size (at most 5e-4,
// at most 0.2/leaves) so that large journeys keep a plausible availability
// instead of vanishing under thousands of series steps.
func seriesAvailability(r *rand.Rand, leaves int) float64 {
	u := min(5e-4, 0.2/float64(max(1, leaves)))
	return 1 - u*(0.05+0.95*r.Float64())
}

// invocations draws a declared invocation model for a retried call:
// retries are often configured assuming transient failures, but not always
// knowingly.
func invocations(r *rand.Rand) model.Invocations {
	return [...]model.Invocations{model.InvocationsUnknown, model.InvocationsTransient, model.InvocationsPersistent}[r.IntN(3)]
}

func call(name string) *model.Node { return &model.Node{Op: model.Call, Component: name} }

func node(op model.Op, kids ...*model.Node) *model.Node {
	return &model.Node{Op: op, Children: kids}
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }
