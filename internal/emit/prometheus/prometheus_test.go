package prometheus_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/emac-dev/emac/internal/compile"
	"github.com/emac-dev/emac/internal/emit"
	"github.com/emac-dev/emac/internal/emit/emittest"
	"github.com/emac-dev/emac/internal/emit/prometheus"
	"github.com/emac-dev/emac/internal/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// compiled compiles a spec with the Prometheus emitter only.
func compiled(t *testing.T, path string) []compile.Journey {
	t.Helper()
	r, err := compile.Compile(context.Background(), []string{path},
		compile.Options{Emitters: []compile.Emitter{{Name: "prometheus", Emit: prometheus.Emit}}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Check.Diagnostics.HasErrors() {
		t.Fatalf("%s: %v", path, r.Check.Diagnostics)
	}
	return r.Journeys
}

var examples = []struct{ name, path string }{
	{"checkout", "../../../examples/native/checkout.yaml"},
	{"checkout-intent", "../../../examples/checkout/spec/emac.checkout.yaml"},
	{"every-operator", "testdata/every-operator.yaml"},
	{"unmeasured", "testdata/unmeasured.yaml"},
}

// TestGolden compares the emitted files with testdata/<example>/; run with
// -update to rewrite them.
func TestGolden(t *testing.T) {
	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			for _, j := range compiled(t, ex.path) {
				emittest.Golden(t, filepath.Join("testdata", ex.name, j.Name), j.Files, *update)
			}
		})
	}
}

// TestRulefmt: Prometheus' own rule-file parser accepts every rule file.
func TestRulefmt(t *testing.T) {
	for _, ex := range examples {
		for _, j := range compiled(t, ex.path) {
			for _, f := range j.Files {
				if f.Path != "prometheus/rules.yaml" {
					continue
				}
				if _, errs := rulefmt.Parse(f.Data); len(errs) > 0 {
					t.Errorf("%s: %v", ex.name, errs)
				}
			}
		}
	}
}

// TestDeterministic: compiling twice gives the same bytes.
func TestDeterministic(t *testing.T) {
	for _, ex := range examples {
		a, b := compiled(t, ex.path), compiled(t, ex.path)
		for i := range a {
			for k := range a[i].Files {
				if !bytes.Equal(a[i].Files[k].Data, b[i].Files[k].Data) {
					t.Errorf("%s: %s differs between two runs", ex.name, a[i].Files[k].Path)
				}
			}
		}
	}
}

func write(t *testing.T, dir string, files []emit.File) {
	t.Helper()
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPromtool runs `promtool check rules` and the generated `promtool test
// rules` on every example.
func TestPromtool(t *testing.T) {
	emittest.Promtool(t)
	for _, ex := range examples {
		for _, j := range compiled(t, ex.path) {
			dir := t.TempDir()
			write(t, dir, j.Files)
			emittest.Rules(t, dir, ex.name+"/"+j.Name)
		}
	}
}

// TestHeldOut runs promtool tests written by hand against the SPEC names
// (testdata/heldout/*_test.yaml) on the checkout's rules.
func TestHeldOut(t *testing.T) {
	pt := emittest.Promtool(t)
	tests, _ := filepath.Glob("testdata/heldout/*_test.yaml")
	if len(tests) == 0 {
		t.Fatal("no held-out tests")
	}
	j := compiled(t, "../../../examples/native/checkout.yaml")[0]
	dir := t.TempDir()
	write(t, dir, j.Files)
	for _, tf := range tests {
		data, err := os.ReadFile(tf)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "prometheus", filepath.Base(tf)), data, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(pt, "test", "rules", filepath.Base(tf))
		cmd.Dir = filepath.Join(dir, "prometheus")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", tf, err, out)
		}
	}
}

// TestNoInjection: a component name reaches PromQL only as an escaped
// label value. The rules of a journey with a hostile name parse to the
// same expressions as those of the same journey with a plain name, once
// the label values are swapped back.
func TestNoInjection(t *testing.T) {
	evil := `x"} or vector(1) or {a="\`
	rules := func(name string) *prometheus.File {
		flow := &model.Node{Op: model.Seq, Children: []*model.Node{
			{Op: model.Call, Component: "front"},
			{Op: model.Race, Children: []*model.Node{{Op: model.Call, Component: name}, {Op: model.Call, Component: "payb"}}},
		}}
		tel := func(m string) *model.Telemetry {
			return &model.Telemetry{Bad: "sum(rate(" + m + "_errors_total[5m]))", Total: "sum(rate(" + m + "_total[5m]))"}
		}
		members := []string{"payb", name}
		slices.Sort(members)
		j := &model.Journey{Name: "evil", Flow: flow, Components: map[string]*model.Component{
			"front": {Name: "front", Availability: 0.999, Telemetry: tel("front")},
			name:    {Name: name, Availability: 0.99, Telemetry: tel("a"), Domains: []string{"net"}},
			"payb":  {Name: "payb", Availability: 0.99, Telemetry: tel("b"), Domains: []string{"net"}},
		}, Domains: map[string]*model.Domain{"net": {Name: "net", Members: members}}}
		j.Objective.Availability = 0.99
		p, err := prometheus.NewPlan(context.Background(), &emit.Input{Journey: j})
		if err != nil {
			t.Fatal(err)
		}
		f, err := p.Rules()
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	bad, good := rules(evil), rules("x")
	for gi, g := range bad.Groups {
		for ri, r := range g.Rules {
			e, err := parser.ParseExpr(r.Expr)
			if err != nil {
				t.Fatalf("%s: %v", r.Record+r.Alert, err)
			}
			parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
				if vs, ok := n.(*parser.VectorSelector); ok {
					for _, m := range vs.LabelMatchers {
						m.Value = strings.ReplaceAll(m.Value, strconv.Quote(evil), strconv.Quote("x"))
						if m.Type == labels.MatchRegexp {
							m.Value = strings.ReplaceAll(m.Value, regexp.QuoteMeta(evil), "x")
						}
						if m.Value == evil {
							m.Value = "x"
						}
					}
				}
				return nil
			})
			want, _ := parser.ParseExpr(good.Groups[gi].Rules[ri].Expr)
			if e.String() != want.String() {
				t.Errorf("%s: the hostile name changed the expression:\n got %s\nwant %s", r.Record+r.Alert, e, want)
			}
		}
	}
}
