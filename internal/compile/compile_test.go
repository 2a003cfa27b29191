package compile_test

import (
	"bytes"
	"context"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emac-dev/emac/internal/compile"
	"github.com/emac-dev/emac/internal/emit/emittest"
	"github.com/emac-dev/emac/internal/gen"
	"github.com/emac-dev/emac/internal/kubetest"
	"github.com/emac-dev/emac/internal/model"
	"github.com/emac-dev/emac/internal/service"
)

func TestMain(m *testing.M) { kubetest.Main(m) }

var inputs = []string{
	"../../examples/native/checkout.yaml",
	"../../examples/checkout/spec/emac.checkout.yaml",
	"../emit/prometheus/testdata/every-operator.yaml",
}

func compiled(t *testing.T, p string) *compile.Result {
	t.Helper()
	r, err := compile.Compile(context.Background(), []string{p}, compile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Check.Diagnostics.HasErrors() {
		t.Fatalf("%s: %v", p, r.Check.Diagnostics)
	}
	return r
}

// kubernetes reports whether an artifact holds Kubernetes objects (not a
// snippet to merge into one).
func kubernetes(p string) bool {
	switch {
	case p == "prometheus/prometheusrule.yaml", p == "argo/analysistemplate.yaml", p == "flagger/metrictemplate.yaml":
		return true
	case strings.HasPrefix(p, "guards/") && strings.HasSuffix(p, ".vap.yaml"):
		return true
	}
	return false
}

// TestKubernetesAccepts: every Kubernetes object emac writes is accepted
// by a real kube-apiserver with the third-party CRDs installed
// (server-side dry-run, strict field validation).
func TestKubernetesAccepts(t *testing.T) {
	s := kubetest.Start(t)
	kinds := map[string]bool{}
	for _, in := range inputs {
		for _, j := range compiled(t, in).Journeys {
			for _, f := range j.Files {
				if !kubernetes(f.Path) {
					continue
				}
				kinds[path.Base(f.Path)] = true
				if err := s.DryRun(context.Background(), f.Data); err != nil {
					t.Errorf("%s %s: %v", j.Name, f.Path, err)
				}
			}
		}
	}
	for _, k := range []string{"prometheusrule.yaml", "analysistemplate.yaml", "metrictemplate.yaml"} {
		if !kinds[k] {
			t.Errorf("no %s was checked", k)
		}
	}
}

// TestDeterministic: compiling the same input twice gives the same files,
// byte for byte.
func TestDeterministic(t *testing.T) {
	for _, in := range inputs {
		a, b := compiled(t, in), compiled(t, in)
		for i, j := range a.Journeys {
			if len(j.Files) != len(b.Journeys[i].Files) {
				t.Fatalf("%s: %d files, then %d", in, len(j.Files), len(b.Journeys[i].Files))
			}
			for k, f := range j.Files {
				g := b.Journeys[i].Files[k]
				if f.Path != g.Path || !bytes.Equal(f.Data, g.Data) {
					t.Errorf("%s: %s differs between two runs", in, f.Path)
				}
			}
		}
	}
}

// TestParallel: compiling journeys on several CPUs gives, in the same
// order, the bytes compiling them one at a time gives, and the bytes
// compiling each alone gives: what journeys compiled together share
// (emit.Shared: the generated journeys call the same components) changes
// nothing. Run with -race to check that what they share is safe to.
func TestParallel(t *testing.T) {
	var js []*model.Journey
	for seed := range uint64(6) {
		js = append(js, measured(gen.Realistic(seed+1, 20, 4)))
	}
	ctx := context.Background()
	one, err := compile.Journeys(ctx, js, "default", compile.Options{Check: service.Options{Parallelism: 1}})
	if err != nil {
		t.Fatal(err)
	}
	many, err := compile.Journeys(ctx, js, "default", compile.Options{Check: service.Options{Parallelism: 4}})
	if err != nil {
		t.Fatal(err)
	}
	if len(one) != len(js) || len(many) != len(js) {
		t.Fatalf("got %d and %d journeys, want %d", len(one), len(many), len(js))
	}
	for i, j := range js {
		alone, err := compile.Journeys(ctx, []*model.Journey{j}, "default", compile.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for k, f := range alone[0].Files {
			if g := many[i].Files[k]; f.Path != g.Path || !bytes.Equal(f.Data, g.Data) {
				t.Errorf("%s: %s differs between compiled alone and with others", j.Name, f.Path)
			}
		}
	}
	for i := range one {
		if one[i].Name != js[i].Name || many[i].Name != js[i].Name {
			t.Errorf("journey %d: %s and %s, want %s", i, one[i].Name, many[i].Name, js[i].Name)
		}
		if len(one[i].Files) != len(many[i].Files) {
			t.Fatalf("%s: %d files, then %d", js[i].Name, len(one[i].Files), len(many[i].Files))
		}
		for k, f := range one[i].Files {
			if g := many[i].Files[k]; f.Path != g.Path || !bytes.Equal(f.Data, g.Data) {
				t.Errorf("%s: %s differs between one and four at a time", js[i].Name, f.Path)
			}
		}
	}
}

// TestPromtoolGenerated: the rules of generated 50-leaf journeys (every
// operator, deadlines, hedges, persistent components, failure domains:
// the benchmark's) pass `promtool check rules`, and their generated tests
// pass `promtool test rules`, which evaluates both journey formulas as
// written in PromQL in Prometheus' engine against the same formulas
// evaluated in Go: the translation of the largest formulas is right (that
// the formulas are A+ and A- is bounds' TestFormulaIsTheFunction). Seed
// 1's pessimistic formula has regions whose scenarios come to one
// expression.
func TestPromtoolGenerated(t *testing.T) {
	emittest.Promtool(t)
	var js []*model.Journey
	for _, seed := range []uint64{1, 3} {
		js = append(js, measured(gen.Realistic(seed, 50, 8)))
	}
	cjs, err := compile.Journeys(context.Background(), js, "default", compile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := (&compile.Result{Journeys: cjs}).Write(dir); err != nil {
		t.Fatal(err)
	}
	for _, cj := range cjs {
		emittest.Rules(t, filepath.Join(dir, cj.Name), cj.Name)
	}
}
