package guards

import (
	"testing"

	"github.com/emac-dev/emac/internal/guard"
)

// FuzzTranslate checks the promise guard.Check makes: every guard it
// accepts translates to Rego and to admission-policy CEL that compiles.
func FuzzTranslate(f *testing.F) {
	for _, s := range []string{
		promoteGuard,
		`!("payment-network" in binding) && size(binding) < 2`,
		`has(params.region) ? params.region.startsWith("eu-") : decision == "PASS"`,
		`(confidence > 0.9 ? p_independent : p_upper) < objective["latency"]`,
		`params.step <= 0.3 || !(decision in ["FAIL", "REVIEW"])`,
		`-A_minus < -0.99 && size(decision + "x") == 5 && decision.contains("AS")`,
		`binding[0] == "a" && params["x"][1] == 2 && [1, 2][0] % 2 == 1`,
		`(A_minus < 0.9) == (params.flag == true)`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		g, issues := guard.Check(src)
		if len(issues) > 0 {
			return
		}
		if _, _, _, err := translate(g); err != nil {
			t.Fatalf("%q checks but does not translate to Rego: %v", src, err)
		}
		q, err := g.Qualified("variables")
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		if _, iss := admissionEnv(t).Compile(q); iss.Err() != nil {
			t.Fatalf("%q checks but %q does not compile for admission: %v", src, q, iss.Err())
		}
	})
}
