package bounds_test

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/emac-dev/emac/internal/bounds"
	"github.com/emac-dev/emac/internal/gen"
	"github.com/emac-dev/emac/internal/model"
)

// TestFormulaCheckout: the formulas give the engine's values at the spec's
// availabilities.
func TestFormulaCheckout(t *testing.T) {
	j := checkout(t)
	f, err := bounds.Formula(context.Background(), j, bounds.FormulaOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a := func(c string) float64 { return j.Components[c].Availability }
	if got, want := f.Optimistic.Eval(a), 0.99747706; math.Abs(got-want) > 5e-9 {
		t.Errorf("A+ formula = %.10f, want %.8f", got, want)
	}
	if got, want := f.Pessimistic.Eval(a), 0.99251449; math.Abs(got-want) > 5e-9 {
		t.Errorf("A- formula = %.10f, want %.8f", got, want)
	}
	if !f.Exact || f.Scenarios != 2 {
		t.Errorf("exact %v with %d scenarios, want exact with 2 (race independent, payment-network shared)", f.Exact, f.Scenarios)
	}
}

// TestFormulaIsTheFunction: the formulas are A+ and A- as functions, not
// only at the spec's values: at random availabilities they agree with the
// engine run on the journey with those availabilities.
func TestFormulaIsTheFunction(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 40
	}
	r := rand.New(rand.NewPCG(7, 11))
	ctx := context.Background()
	for _, j := range oracleJourneys(n, 1<<22) {
		f, err := bounds.Formula(ctx, j, bounds.FormulaOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !f.Exact {
			t.Errorf("%s: formula not exact", describeJourney(j))
			continue
		}
		for range 3 {
			c := j.Clone()
			for _, comp := range c.Components {
				switch r.IntN(4) {
				case 0:
					comp.Availability = r.Float64()
				case 1:
					comp.Availability = 1 - r.Float64()*0.01
				}
			}
			formulaAgrees(t, f, c)
		}
	}
}

// formulaAgrees checks both formulas, evaluated at c's availabilities,
// against the engine run on c.
func formulaAgrees(t *testing.T, f *bounds.Formulas, c *model.Journey) {
	t.Helper()
	want := analyze(t, c)
	a := func(name string) float64 { return c.Components[name].Availability }
	if got := f.Optimistic.Eval(a); math.Abs(got-want.Optimistic) > 1e-9 {
		t.Errorf("%s\nA+ formula = %.12f, engine %.12f", describeJourney(c), got, want.Optimistic)
	}
	if got := f.Pessimistic.Eval(a); math.Abs(got-want.Pessimistic) > 1e-9 {
		t.Errorf("%s\nA- formula = %.12f, engine %.12f", describeJourney(c), got, want.Pessimistic)
	}
}

// TestFormulaWithDeadlines: on timed journeys whose deadlines truncate
// exactly (no redundancy under them), the formulas carry each deadline's
// factor and stay the engine's function of the availabilities.
func TestFormulaWithDeadlines(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 11))
	ctx := context.Background()
	checked := 0
	for seed := uint64(0); checked < 30 && seed < 2000; seed++ {
		j := gen.Random(seed, gen.RandomOptions{Leaves: 2 + int(seed%9), Domains: int(seed % 4), MaxOccurrences: 14})
		base := analyze(t, j)
		if base.Approximate || base.Optimistic == analyze(t, untimed(j)).Optimistic {
			continue // approximate, or no deadline cuts anything
		}
		f, err := bounds.Formula(ctx, j, bounds.FormulaOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !f.Exact {
			continue
		}
		checked++
		for range 3 {
			c := j.Clone()
			for _, comp := range c.Components {
				if r.IntN(2) == 0 {
					comp.Availability = 1 - r.Float64()*0.2
				}
			}
			formulaAgrees(t, f, c)
		}
	}
	if checked < 10 {
		t.Errorf("only %d journeys with a deadline that cuts: the test checks too little", checked)
	}
}

// TestFormulaCapped: beyond the size limit, each region keeps the
// independent and the binding scenario; the formula says it is not exact,
// and at the spec's availabilities it still gives A-.
func TestFormulaCapped(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		j := gen.Realistic(seed, 200, 8)
		f, err := bounds.Formula(context.Background(), j, bounds.FormulaOptions{MaxSize: 50})
		if err != nil {
			t.Fatal(err)
		}
		if f.Exact || len(f.Notes) == 0 {
			t.Errorf("seed %d: exact %v with notes %q, want a capped formula", seed, f.Exact, f.Notes)
		}
		r := analyze(t, j)
		a := func(c string) float64 { return j.Components[c].Availability }
		if got := f.Pessimistic.Eval(a); math.Abs(got-r.Pessimistic) > 1e-9 {
			t.Errorf("seed %d: capped A- formula = %.12f at the spec's values, engine %.12f", seed, got, r.Pessimistic)
		}
		// given the analysis, the same formula
		g, err := bounds.Formula(context.Background(), j, bounds.FormulaOptions{MaxSize: 50, Analysis: r})
		if err != nil {
			t.Fatal(err)
		}
		if got := g.Pessimistic.Eval(a); math.Abs(got-r.Pessimistic) > 1e-9 {
			t.Errorf("seed %d: capped A- formula from the analysis = %.12f, engine %.12f", seed, got, r.Pessimistic)
		}
	}
}

// TestFold: folding a formula with some components fixed keeps its value
// at every availability of the others, and leaves no operation whose
// operands are all numbers.
func TestFold(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	ctx := context.Background()
	for _, j := range oracleJourneys(80, 1<<20) {
		f, err := bounds.Formula(ctx, j, bounds.FormulaOptions{})
		if err != nil {
			t.Fatal(err)
		}
		fixedSet := map[string]bool{}
		for _, c := range j.ComponentNames() {
			fixedSet[c] = r.IntN(2) == 0
		}
		fixed := func(c string) (float64, bool) { return j.Components[c].Availability, fixedSet[c] }
		for _, x := range []*bounds.Expr{f.Optimistic, f.Pessimistic} {
			y := x.Fold(fixed)
			var walk func(*bounds.Expr)
			walk = func(z *bounds.Expr) {
				switch z.Op {
				case bounds.ExprConst:
				case bounds.ExprAvail:
					if fixedSet[z.Comp] {
						t.Errorf("%s: fixed %s left in the folded formula", describeJourney(j), z.Comp)
					}
				case bounds.ExprUp:
				default:
					constant := true
					for _, a := range z.Args {
						constant = constant && a.Op == bounds.ExprConst
						walk(a)
					}
					if constant {
						t.Errorf("%s: an operation on numbers only was left unfolded", describeJourney(j))
					}
				}
			}
			walk(y)
			for range 3 {
				a := func(c string) float64 {
					if fixedSet[c] {
						return j.Components[c].Availability
					}
					return r.Float64()
				}
				vals := map[string]float64{}
				memo := func(c string) float64 {
					if v, ok := vals[c]; ok {
						return v
					}
					vals[c] = a(c)
					return vals[c]
				}
				if got, want := y.Eval(memo), x.Eval(memo); got != want {
					t.Errorf("%s: folded %v, unfolded %v", describeJourney(j), got, want)
				}
			}
		}
	}
}
