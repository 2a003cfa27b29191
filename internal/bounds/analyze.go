// Package bounds computes a journey's availability interval [A-, A+] and
// the floor exactly (SPEC §4): the optimistic value under independence, the
// pessimistic minimum over every failure-domain and persistence scenario
// with the scenario that attains it, the assumption-free Fréchet floor,
// contributors, per-domain shared-fate losses and required targets.
package bounds

import (
	"context"
	"fmt"
	"math"
	"sort"

	"github.com/emac-dev/emac/internal/model"
)

// DefaultMaxWork is the default exact-search budget: node evaluations per
// region of interacting scenario choices.
const DefaultMaxWork = 1 << 26

// Options configure Analyze; the zero value is the default.
type Options struct {
	// MaxWork bounds the exact pessimistic search per region (node
	// evaluations); beyond it the region falls back to a sound bound.
	// 0 means DefaultMaxWork; negative means no limit.
	MaxWork int64
	// SkipDerived computes only the three bounds and the binding scenario.
	SkipDerived bool
}

func (o Options) budget() int64 {
	switch {
	case o.MaxWork == 0:
		return DefaultMaxWork
	case o.MaxWork < 0:
		return math.MaxInt64
	}
	return o.MaxWork
}

// Result is the analysis of one journey.
type Result struct {
	Optimistic, Pessimistic, Floor float64
	// Exact is false when some region exceeded the exact budget and A- is a
	// sound lower bound instead of the minimum.
	Exact bool
	// Approximate is set when a deadline over redundancy truncates its
	// operand: its factor depends on the scenario, and every scenario
	// takes the independent one, so A- is approximate.
	Approximate bool
	// Binding lists the domains shared in the scenario attaining A-;
	// Persistent the components it treats as persistent.
	Binding, Persistent []string
	// Scenarios counts the region scenarios evaluated.
	Scenarios int64
	Notes     []string

	// Bound names the bound decisions use; Value is its value.
	Bound string
	Value float64

	Contributors []Contributor
	Domains      []DomainEffect
	Required     []Required
}

// Contributor is a component's Birnbaum importance in the decision bound's
// scenario and its share of the journey's unavailability.
type Contributor struct {
	Component    string
	Availability float64
	// Importance is ∂A/∂a (upward derivative where A is not smooth).
	Importance float64
	// Share is Importance·(1−a) normalised over all components.
	Share float64
}

// DomainEffect is a failure domain's effect on the journey.
type DomainEffect struct {
	Name    string
	Members []string
	// Loss is A+ − A(only this domain shared); negative when shared fate
	// raises availability (members only in series).
	Loss    float64
	Binding bool
	// Required is the smallest common-cause availability of the domain
	// keeping the decision bound at the objective (NaN when infeasible).
	Required float64
	Feasible bool
}

// Required is the smallest availability of a component keeping the decision
// bound at the objective, others unchanged.
type Required struct {
	Component string
	Current   float64
	Value     float64
	Feasible  bool
}

// Analyze evaluates a journey.
func Analyze(ctx context.Context, j *model.Journey, opts Options) (*Result, error) {
	if err := j.Validate(); err != nil {
		return nil, err
	}
	t, err := compile(j)
	if err != nil {
		return nil, err
	}
	e := newEvaluator(t)
	r := &Result{Bound: j.Policy.Bound}
	if r.Bound == "" {
		r.Bound = "pessimistic"
	}
	r.Optimistic = e.scenarioValue(t.independent())
	r.Floor = t.floor(0)
	p, err := t.pessimistic(ctx, opts.budget())
	if err != nil {
		return nil, err
	}
	r.Pessimistic, r.Exact, r.Scenarios, r.Notes = p.value, p.exact, p.scenarios, p.notes
	r.Approximate = t.approx
	if t.approx {
		r.Notes = append(r.Notes, "a deadline over redundancy (race, fallback, quorum, retry, optional) truncates its operand by the share of its independent successes within the deadline in every scenario: which paths run under shared fate is not composed with time, so A- is approximate there")
	}
	for _, di := range p.shared {
		r.Binding = append(r.Binding, t.domains[di].name)
	}
	for _, ci := range p.persistent {
		r.Persistent = append(r.Persistent, t.comps[ci])
	}
	switch r.Bound {
	case "optimistic":
		r.Value = r.Optimistic
	case "floor":
		r.Value = r.Floor
	default:
		r.Value = r.Pessimistic
	}
	if opts.SkipDerived {
		return r, nil
	}
	binding := t.independent()
	for _, di := range p.shared {
		binding.shared[di] = true
	}
	for _, ci := range p.persistent {
		binding.persistent[ci] = true
	}
	if err := r.contributors(t, e, binding); err != nil {
		return nil, err
	}
	var sc *scenario // the scenario attaining the decision bound, for A-
	if r.Bound == "pessimistic" {
		sc = &binding
	}
	if err := r.domains(ctx, t, e, p, j.Objective.Availability, opts.budget(), sc); err != nil {
		return nil, err
	}
	if err := r.required(ctx, t, j.Objective.Availability, opts.budget(), sc); err != nil {
		return nil, err
	}
	return r, nil
}

// scenarioValue is the journey's success probability under one scenario.
func (e *evaluator) scenarioValue(s scenario) float64 {
	e.prepare(0)
	e.setScenario(s)
	return e.eval(0)
}

// value is the given bound for the tree's current availabilities, with
// the scenario attaining it. A pessimistic value at or above cutoff may be
// given as the cutoff, with no scenario.
func (t *tree) value(ctx context.Context, bound string, budget int64, cutoff float64) (float64, *scenario, error) {
	switch bound {
	case "optimistic":
		e := t.evaluator()
		defer t.release(e)
		return e.scenarioValue(t.independent()), nil, nil
	case "floor":
		return t.floor(0), nil, nil
	}
	p, err := t.minimise(ctx, budget, cutoff)
	if err != nil || p.above {
		return p.value, nil, err
	}
	s := t.independent()
	for _, di := range p.shared {
		s.shared[di] = true
	}
	for _, ci := range p.persistent {
		s.persistent[ci] = true
	}
	return p.value, &s, nil
}

// required finds the least x in [lo, hi] at which the bound reaches target,
// set(x) putting x in place (set(cur) restores the tree); ok is false when
// even hi misses. sc is the scenario attaining A- at cur (nil for the other
// bounds, which take one evaluation each: a plain bracketing search).
//
// A- is a minimum over scenarios, so the value of any one scenario is an
// upper bound on it: bisecting that value gives an x below which A- cannot
// reach the target. One full minimisation at x then confirms it, or names
// the scenario binding there, from which the search continues upwards.
// Most targets cost one minimisation instead of one per search step.
func (t *tree) required(ctx context.Context, bound string, set func(float64), cur, lo, hi, target float64, budget int64, sc *scenario) (float64, bool, error) {
	defer set(cur)
	// at confirms x: only whether A- reaches the target matters, and
	// which scenario binds when it does not
	at := func(x float64) (float64, *scenario, error) {
		set(x)
		return t.value(ctx, bound, budget, target)
	}
	full := func(x float64) (float64, error) {
		set(x)
		v, _, err := t.value(ctx, bound, budget, math.Inf(1))
		return v, err
	}
	if sc == nil {
		v, err := full(hi)
		if err != nil || v < target {
			return math.NaN(), false, err
		}
		if v, err := full(lo); err != nil || v >= target {
			return lo, err == nil, err
		}
		x, err := smallest(full, lo, hi, target)
		return x, err == nil, err
	}
	e := t.evaluator()
	defer t.release(e)
	for range 64 {
		s := *sc
		one := func(x float64) (float64, error) {
			set(x)
			return e.scenarioValue(s), ctx.Err()
		}
		x := lo
		if v, err := one(lo); err != nil {
			return 0, false, err
		} else if v < target {
			if x, err = smallest(one, lo, hi, target); err != nil {
				return 0, false, err
			}
		}
		v, next, err := at(x)
		switch {
		case err != nil:
			return 0, false, err
		case v >= target:
			return x, true, nil
		case x >= hi:
			return math.NaN(), false, nil
		}
		lo, sc = x, next
	}
	// the binding scenario keeps changing: bisect A- itself
	return t.required(ctx, bound, set, cur, lo, hi, target, budget, nil)
}

const step = 1e-7

func (r *Result) contributors(t *tree, e *evaluator, s scenario) error {
	at := func() float64 {
		t.resetUp()
		if r.Bound == "floor" {
			return t.floor(0)
		}
		return e.scenarioValue(s)
	}
	base := at()
	total := 0.0
	for ci, name := range t.comps {
		if len(t.leaves[ci]) == 0 {
			continue
		}
		a := t.a[ci]
		h := step
		if a+h > 1 {
			h = -step
		}
		t.a[ci] = a + h
		imp := (at() - base) / h
		t.a[ci] = a
		imp = max(0, imp)
		c := Contributor{Component: name, Availability: a, Importance: imp, Share: imp * (1 - a)}
		total += c.Share
		r.Contributors = append(r.Contributors, c)
	}
	t.resetUp()
	for i := range r.Contributors {
		if total > 0 {
			r.Contributors[i].Share /= total
		} else {
			r.Contributors[i].Share = 0
		}
	}
	sort.SliceStable(r.Contributors, func(i, j int) bool {
		if r.Contributors[i].Share != r.Contributors[j].Share {
			return r.Contributors[i].Share > r.Contributors[j].Share
		}
		return r.Contributors[i].Component < r.Contributors[j].Component
	})
	return nil
}

func (r *Result) domains(ctx context.Context, t *tree, e *evaluator, p pessimistic, target float64, budget int64, binding *scenario) error {
	bound := map[int]bool{}
	for _, di := range p.shared {
		bound[di] = true
	}
	for di := range t.domains {
		d := &t.domains[di]
		if len(d.members) == 0 {
			continue
		}
		s := t.independent()
		s.shared[di] = true
		de := DomainEffect{Name: d.name, Loss: r.Optimistic - e.scenarioValue(s), Binding: bound[di]}
		for _, ci := range d.members {
			de.Members = append(de.Members, t.comps[ci])
		}
		lo := d.up
		set := func(u float64) { d.up = u }
		val, ok, err := t.required(ctx, r.Bound, set, lo, lo, 1, target, budget, binding)
		if err != nil {
			return err
		}
		de.Required, de.Feasible = val, ok
		r.Domains = append(r.Domains, de)
	}
	return nil
}

func (r *Result) required(ctx context.Context, t *tree, target float64, budget int64, binding *scenario) error {
	for ci, name := range t.comps {
		if len(t.leaves[ci]) == 0 {
			continue
		}
		a := t.a[ci]
		set := func(x float64) {
			t.a[ci] = x
			t.resetUp()
		}
		val, ok, err := t.required(ctx, r.Bound, set, a, 0, 1, target, budget, binding)
		if err != nil {
			return err
		}
		r.Required = append(r.Required, Required{Component: name, Current: a, Value: val, Feasible: ok})
	}
	return nil
}

// smallest finds the least x in (lo, hi] with f(x) ≥ target, f being
// non-decreasing and f(lo) < target, to within 1e-10; hi is returned when
// f(hi) misses too. It keeps the bracket f(lo) < target ≤ f(hi) and
// narrows it by false position with the Illinois modification (a stale end
// has its weight halved), every fourth step a bisection, and no point
// closer than half the tolerance to an end, so that the bracket closes on
// both sides: about ten evaluations instead of bisection's 34.
func smallest(f func(float64) (float64, error), lo, hi, target float64) (float64, error) {
	const tol = 1e-10
	if hi-lo <= tol {
		return hi, nil
	}
	fh, err := f(hi)
	if err != nil || fh < target {
		return hi, err
	}
	fl, err := f(lo)
	if err != nil {
		return 0, err
	}
	gl, gh := fl-target, fh-target // gl < 0 ≤ gh
	side := 0
	for i := 0; i < 200 && hi-lo > tol; i++ {
		x := lo + (hi-lo)*(-gl)/(gh-gl)
		if i%4 == 3 || !(gh > gl) {
			x = (lo + hi) / 2
		}
		x = min(max(x, lo+tol/2), hi-tol/2)
		v, err := f(x)
		if err != nil {
			return 0, err
		}
		if v >= target {
			hi, gh = x, v-target
			if side == 1 {
				gl /= 2
			}
			side = 1
		} else {
			lo, gl = x, v-target
			if side == -1 {
				gh /= 2
			}
			side = -1
		}
	}
	return hi, nil
}

// Down returns a copy of j with the named components, or every member of
// the named domains, forced down (availability 0).
func Down(j *model.Journey, names []string) (*model.Journey, error) {
	c := j.Clone()
	for _, n := range names {
		switch {
		case c.Components[n] != nil:
			c.Components[n].Availability = 0
		case c.Domains[n] != nil:
			for _, m := range c.Domains[n].Members {
				c.Components[m].Availability = 0
			}
		default:
			cands := append(j.ComponentNames(), j.DomainNames()...)
			return nil, &UnknownError{Name: n, Candidates: cands}
		}
	}
	return c, nil
}

// UnknownError is returned for a what-if name that is neither a component
// nor a domain.
type UnknownError struct {
	Name       string
	Candidates []string
}

func (e *UnknownError) Error() string {
	return fmt.Sprintf("%q is neither a component nor a failure domain of the journey", e.Name)
}
