package spec

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/emac-dev/emac/internal/model"
)

const fuzzSLO = `apiVersion: openslo/v1
kind: SLO
metadata: {name: slo.a}
spec:
  service: a
  timeWindow: [{duration: 30d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{target: 0.999}]
`

// FuzzLoad feeds arbitrary bytes to the loader as a spec file (next to an
// SLO file it may reference): it must never panic, and whatever it accepts
// must be a valid journey.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*/*.yaml")
	seeds = append(seeds, "../../examples/native/checkout.yaml", "../../examples/checkout/spec/emac.checkout.yaml")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{
			"spec/j.yaml":          {Data: data},
			"atomic/slo.a.yaml":    {Data: []byte(fuzzSLO)},
			"spec/slos/slo.a.yaml": {Data: []byte(fuzzSLO)},
		}
		b, ds := Load(context.Background(), []string{"spec/j.yaml"}, Options{FS: fsys, MaxFileSize: 1 << 16})
		if ds.HasErrors() {
			for _, d := range ds {
				if d.Summary == "" {
					t.Errorf("empty diagnostic summary")
				}
			}
			return
		}
		for _, j := range b.Journeys {
			if err := j.Validate(); err != nil {
				t.Errorf("accepted an invalid journey: %v", err)
			}
			if _, err := model.ParseFlow(j.Flow.String()); err != nil {
				t.Errorf("canonical form %q does not parse: %v", j.Flow.String(), err)
			}
		}
	})
}
