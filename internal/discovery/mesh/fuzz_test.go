package mesh

import (
	"bytes"
	"context"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// FuzzRead feeds arbitrary bytes to Read: it must never panic or fail
// (only the reader or the context can make it fail), every problem must
// say where and what, and whatever it accepts must be a well-formed
// Config: policies in order, probabilities that are probabilities.
func FuzzRead(f *testing.F) {
	// Small seeds only: the fuzzer minimizes what it derives from a seed,
	// and from a large one that takes its whole time.
	filepath.WalkDir("testdata", func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() && isConfigFile(p) && filepath.Base(filepath.Dir(p)) != "FuzzRead" {
			if b, err := os.ReadFile(p); err == nil && len(b) < 4<<10 {
				f.Add(b)
			}
		}
		return nil
	})
	f.Add([]byte(`{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"networking.istio.io/v1","kind":"VirtualService","spec":{"hosts":["a"],"http":[{"route":[{"destination":{"host":"a"},"weight":1e300}]}]}}]}`))
	f.Add([]byte("apiVersion: linkerd.io/v1alpha2\nkind: ServiceProfile\nmetadata: {name: a.b.svc.cluster.local}\nspec:\n  routes: [{name: r, condition: &c {not: *c}}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, probs, err := Read(context.Background(), "f.yaml", bytes.NewReader(data))
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		for _, p := range probs {
			if p.Pos.File != "f.yaml" || p.Detail == "" {
				t.Errorf("problem without a position or a detail: %+v", p)
			}
		}
		if !sort.SliceIsSorted(c.Policies, func(i, j int) bool { return c.Policies[i].Service < c.Policies[j].Service }) {
			t.Errorf("policies not sorted by service")
		}
		for _, p := range c.Policies {
			for _, r := range p.Routes {
				sum := 0.0
				for _, b := range r.Backends {
					if b.P < 0 || b.P > 1 || math.IsNaN(b.P) {
						t.Errorf("%s: backend %s has probability %v", p.Service, b.Name(), b.P)
					}
					sum += b.P
				}
				if len(r.Backends) > 0 && sum != 0 && math.Abs(sum-1) > 1e-9 {
					t.Errorf("%s: probabilities sum to %v", p.Service, sum)
				}
				if len(r.Backends) == 0 && r.Direct == nil {
					t.Errorf("%s: a route with no backends and no direct response", p.Service)
				}
				if r.Retry != nil && r.Retry.Attempts.V < 0 {
					t.Errorf("%s: negative attempts", p.Service)
				}
			}
		}
	})
}
