package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"
	yaml "go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite golden files")

const paperSpec = "../../../shared/data/emac-paper/examples/checkout/spec/emac.checkout.yaml"

func run(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

func paper(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(paperSpec); err != nil {
		t.Skip("shared data not present")
	}
	return paperSpec
}

// TestCheckJSON holds emac check -o json to SPEC §6: field names and the
// paper's check values.
func TestCheckJSON(t *testing.T) {
	out, errs, code := run(t, "", "check", "-o", "json", paper(t))
	if code != 0 {
		t.Fatalf("got exit %d, stderr:\n%s", code, errs)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	js := res["journeys"].([]any)
	if len(js) != 1 {
		t.Fatalf("got %d journeys, want 1", len(js))
	}
	j := js[0].(map[string]any)
	for _, k := range []string{"name", "decision", "availability", "latency", "contributors", "required"} {
		if _, ok := j[k]; !ok {
			t.Errorf("journey has no %q field", k)
		}
	}
	a := j["availability"].(map[string]any)
	for _, k := range []string{"target", "optimistic", "pessimistic", "floor", "binding"} {
		if _, ok := a[k]; !ok {
			t.Errorf("availability has no %q field", k)
		}
	}
	near := func(got any, want float64) bool { return math.Abs(got.(float64)-want) < 5e-9 }
	if j["name"] != "checkout" || j["decision"] != "FAIL" || !near(a["target"], 0.995) ||
		!near(a["optimistic"], 0.99747706) || !near(a["pessimistic"], 0.99251449) || !near(a["floor"], 0.9925) {
		t.Errorf("got %v / %v", j["decision"], a)
	}
	if diff := cmp.Diff([]any{"payment-network"}, a["binding"]); diff != "" {
		t.Errorf("binding (-want +got):\n%s", diff)
	}
	c := j["contributors"].([]any)[0].(map[string]any)
	if _, ok := c["component"]; !ok {
		t.Errorf("contributor has no component: %v", c)
	}
	if _, ok := c["share"]; !ok {
		t.Errorf("contributor has no share: %v", c)
	}
	for _, r := range j["required"].([]any) {
		r := r.(map[string]any)
		if r["component"] == "paya" && !near(r["availability"], 0.9974917349) {
			t.Errorf("got required paya %v, want 0.99749173", r["availability"])
		}
	}
}

func TestDemo(t *testing.T) {
	out, errs, code := run(t, "", "demo")
	if code != 0 {
		t.Fatalf("got exit %d, stderr:\n%s", code, errs)
	}
	for _, want := range []string{"0.99747706", "0.99251449", "payment-network", "FAIL", "PASS"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	golden(t, "testdata/demo.golden", out)
	jout, _, code := run(t, "", "demo", "-o", "json")
	var res struct {
		Journeys []struct {
			Decision     string
			Availability struct{ Pessimistic float64 }
		}
	}
	if err := json.Unmarshal([]byte(jout), &res); err != nil || code != 0 {
		t.Fatalf("demo -o json: exit %d, %v", code, err)
	}
	if len(res.Journeys) != 2 || res.Journeys[0].Decision != "FAIL" || res.Journeys[1].Decision != "PASS" {
		t.Errorf("got %+v, want FAIL then PASS", res.Journeys)
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

func TestExitCodes(t *testing.T) {
	warnOnly := "apiVersion: emac.dev/v1alpha1\nkind: Journey\nmetadata: {name: w}\nspec:\n  objectives: {availability: {target: 99%}}\n  flow: a\n  components: {a: {slo: {availability: 99.9%}}, b: {slo: {availability: 99.9%}}}\n"
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		code  int
		err   string
	}{
		{"valid", "", []string{"check", "../../examples/native/checkout.yaml"}, ExitOK, ""},
		{"errors", "", []string{"check", "../spec/testdata/bad/operators.yaml"}, ExitError, "two operators in one node"},
		{"warnings only", warnOnly, []string{"check", "-"}, ExitWarnings, `component "b" is not used`},
		{"fail-on fail", "", []string{"check", "--fail-on", "fail", "../../examples/native/checkout.yaml"}, ExitDecision, ""},
		{"fail-on review", "", []string{"check", "--fail-on=review", "../../examples/native/checkout.yaml"}, ExitDecision, ""},
		{"missing file", "", []string{"check", "nope.yaml"}, ExitError, "nope.yaml: error: cannot read"},
		{"bad output", "", []string{"check", "-o", "xml", "../../examples/native/checkout.yaml"}, ExitError, "unknown output format"},
		{"no args", "", []string{"check"}, ExitError, "requires at least 1 arg"},
		{"whatif unknown", "", []string{"whatif", "--down", "payment-netwrok", "../../examples/native/checkout.yaml"}, ExitError, `did you mean "payment-network"?`},
		{"whatif without down", "", []string{"whatif", "../../examples/native/checkout.yaml"}, ExitError, "needs at least one --down"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errs, code := run(t, tc.stdin, tc.args...)
			if code != tc.code {
				t.Errorf("got exit %d, want %d; stderr:\n%s", code, tc.code, errs)
			}
			if !strings.Contains(errs, tc.err) {
				t.Errorf("stderr lacks %q:\n%s", tc.err, errs)
			}
		})
	}
}

func TestWhatIf(t *testing.T) {
	out, errs, code := run(t, "", "whatif", "--down", "payment-network", "-o", "json", "../../examples/native/checkout.yaml")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var res struct {
		Journeys []struct {
			WhatIf struct {
				Down        []string
				Optimistic  float64
				Pessimistic float64
				Decision    string
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	w := res.Journeys[0].WhatIf
	if w.Optimistic != 0 || w.Pessimistic != 0 || w.Decision != "FAIL" || !cmp.Equal(w.Down, []string{"payment-network"}) {
		t.Errorf("got %+v, want the journey down with its payment network", w)
	}
	out, _, _ = run(t, "", "whatif", "--down", "cart", "-o", "yaml", "../../examples/native/checkout.yaml")
	var y map[string]any
	if err := yaml.Unmarshal([]byte(out), &y); err != nil || y["journeys"] == nil {
		t.Errorf("-o yaml is not YAML: %v\n%s", err, out)
	}
}

// TestSchema checks that the schema compiles, accepts the examples and
// rejects a malformed spec.
func TestSchema(t *testing.T) {
	out, _, code := run(t, "", "schema")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("emac.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("emac.json")
	if err != nil {
		t.Fatalf("schema does not compile: %v", err)
	}
	instance := func(y string) any {
		var v any
		if err := yaml.Unmarshal([]byte(y), &v); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(v)
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		return inst
	}
	files, _ := filepath.Glob("../../examples/native/*.yaml")
	good, _ := filepath.Glob("../spec/testdata/good/*.yaml")
	for _, f := range append(files, good...) {
		b, _ := os.ReadFile(f)
		for _, d := range strings.Split(string(b), "\n---\n") {
			if err := sch.Validate(instance(d)); err != nil {
				t.Errorf("%s: valid spec rejected: %v", f, err)
			}
		}
	}
	bad := "apiVersion: emac.dev/v1alpha1\nkind: Journey\nmetadata: {name: x}\nspec:\n  objectives: {availability: {target: 99.5}}\n  flow: {seq: [a], all: [b]}\n  componnets: {}\n"
	if err := sch.Validate(instance(bad)); err == nil {
		t.Errorf("malformed spec accepted")
	}
}

// TestCompile writes the checkout's artifacts and reports spec errors with
// exit 1 and nothing written.
func TestCompile(t *testing.T) {
	dir := t.TempDir()
	out, errs, code := run(t, "", "compile", "-o", dir, "../../examples/native/checkout.yaml")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "checkout: ") || !strings.Contains(out, "(FAIL)") {
		t.Errorf("stdout %q", out)
	}
	for _, f := range []string{"prometheus/rules.yaml", "prometheus/rules_test.yaml", "argo/analysistemplate.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, "checkout", f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("apiVersion: emac.dev/v1alpha1\nkind: Journey\nmetadata: {name: x}\nspec:\n  objectives: {availability: {target: 2}}\n  flow: a\n"), 0o644)
	empty := t.TempDir()
	if _, errs, code := run(t, "", "compile", "-o", empty, bad); code != ExitError || !strings.Contains(errs, "bad.yaml:5") {
		t.Errorf("bad spec: exit %d, stderr %q", code, errs)
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Errorf("a bad spec wrote %d entries", len(entries))
	}
	if _, _, code := run(t, "", "compile", "../../examples/native/checkout.yaml"); code != ExitError {
		t.Errorf("no -o: exit %d", code)
	}
}
