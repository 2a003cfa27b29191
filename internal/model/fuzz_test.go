package model

import "testing"

// FuzzParseFlow: the canonical-form parser never panics, and what it
// accepts prints back to a form that parses to the same thing.
func FuzzParseFlow(f *testing.F) {
	for _, s := range []string{
		"Series(front, All(cart, pricing), Race(paya, payb))",
		"Quorum[k=2](a, b, c)",
		"Branch(0.9: a, 0.1: Series(b, c))",
		"Retry[attempts=3, perTryTimeout=200ms, backoff=20ms](x)",
		"Timeout[after=300ms](Fallback(a, b))",
		"Race[hedgeAfter=50ms](a, Optional(b), Async(c))",
		`Series("odd name", "1.5")`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseFlow(s)
		if err != nil {
			return
		}
		again, err := ParseFlow(n.String())
		if err != nil {
			t.Fatalf("%q printed as %q, which does not parse: %v", s, n.String(), err)
		}
		if again.String() != n.String() {
			t.Fatalf("round trip: %q → %q → %q", s, n.String(), again.String())
		}
	})
}
