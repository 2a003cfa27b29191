package flagger_test

import (
	"context"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emac-dev/emac/internal/compile"
	"github.com/emac-dev/emac/internal/emit/emittest"
	"github.com/emac-dev/emac/internal/emit/flagger"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func TestGolden(t *testing.T) {
	for _, ex := range []struct{ name, path string }{
		{"checkout", "../../../examples/native/checkout.yaml"},
		{"every-operator", "../prometheus/testdata/every-operator.yaml"},
	} {
		r, err := compile.Compile(context.Background(), []string{ex.path},
			compile.Options{Emitters: []compile.Emitter{{Name: "flagger", Emit: flagger.Emit}}})
		if err != nil || r.Check.Diagnostics.HasErrors() {
			t.Fatalf("%s: %v %v", ex.name, err, r.Check.Diagnostics)
		}
		for _, j := range r.Journeys {
			want := 2
			if j.Input.Journey.Policy.Rollout == "argo-rollouts" {
				want = 0 // rolled out by Argo: no Flagger gate
			}
			if len(j.Files) != want {
				t.Fatalf("%s: %d files, want %d", ex.name, len(j.Files), want)
			}
			emittest.Golden(t, filepath.Join("testdata", ex.name), j.Files, *update)
			// every template selects the canary's pods, never the primary's
			for _, f := range j.Files {
				if f.Path == "flagger/metrictemplate.yaml" && !strings.Contains(string(f.Data), `pod=~\"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)\"`) &&
					!strings.Contains(string(f.Data), `pod=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"`) {
					t.Errorf("%s: templates do not select the canary's pods", ex.name)
				}
			}
		}
	}
}
