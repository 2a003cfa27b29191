package observe

import (
	"testing"
)

// FuzzParseCanary: any --canary value gives a canary whose matchers
// parse, or an error; never a panic.
func FuzzParseCanary(f *testing.F) {
	for _, s := range []string{
		`front={pod=~"front-canary-.*"}`,
		`payments=rollouts_pod_template_hash="5d4f8c"`,
		`a={__name__="x"}`,
		`=`, `x=`, `x={`, `x={a!~"("}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCanary(s)
		if err != nil {
			return
		}
		if _, err := c.matchers(); err != nil {
			t.Fatalf("ParseCanary(%q) accepted a canary whose selector does not parse: %v", s, err)
		}
	})
}
