package bounds

import (
	"math"
	"testing"
)

// TestMinOfDistinct: a least writes each distinct term once (equal
// structure, not only the same node), flattens a least of leasts, and is
// the term itself when one is left; Fold merges terms that differ only in
// what it folds.
func TestMinOfDistinct(t *testing.T) {
	a := func() *Expr { return mul(avail("x"), sub(num(1), avail("y"))) }
	b := mul(avail("x"), avail("z"))
	for _, tc := range []struct {
		name  string
		got   *Expr
		terms int
	}{
		{"equal terms", minOf(a(), a()), 1},
		{"one apart", minOf(a(), b, a()), 2},
		{"a least of leasts", minOf(minOf(a(), b), a(), avail("w")), 3},
		{"numbers to the bit", minOf(num(0.5), num(0.5), num(0.25)), 2},
	} {
		n := 1
		if tc.got.Op == ExprMin {
			n = len(tc.got.Args)
		}
		if n != tc.terms {
			t.Errorf("%s: got %d terms, want %d", tc.name, n, tc.terms)
		}
	}
	if x := minOf(a(), a()); x.Op != ExprMul {
		t.Errorf("minOf of equal terms is %v, want the term", x.Op)
	}

	// y fixed at 0.9 makes the two terms x·0.1·z and x·0.1·z
	m := minOf(mul(avail("x"), sub(num(1), avail("y")), avail("z")), mul(avail("x"), sub(num(1), avail("q")), avail("z")))
	f := m.Fold(func(c string) (float64, bool) {
		if c == "y" || c == "q" {
			return 0.9, true
		}
		return 0, false
	})
	if f.Op == ExprMin {
		t.Errorf("folded: still a least of %d terms, want one term", len(f.Args))
	}
	at := func(c string) float64 { return map[string]float64{"x": 0.99, "y": 0.9, "q": 0.9, "z": 0.95}[c] }
	if got, want := f.Eval(at), m.Eval(at); got != want {
		t.Errorf("folded value %v, want %v", got, want)
	}

	for _, tc := range []struct {
		x, y *Expr
		want bool
	}{
		{a(), a(), true},
		{a(), b, false},
		{upOf([]string{"p", "q"}), upOf([]string{"p", "q"}), true},
		{upOf([]string{"p", "q"}), upOf([]string{"q", "p"}), false},
		{num(0), num(math.Copysign(0, -1)), false}, // what PromQL prints differs
	} {
		if got := tc.x.Equal(tc.y); got != tc.want {
			t.Errorf("Equal(%v, %v) = %v, want %v", tc.x, tc.y, got, tc.want)
		}
	}
}
