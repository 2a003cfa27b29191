package guards

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/ext"
	"github.com/google/go-cmp/cmp"
	yaml "go.yaml.in/yaml/v3"
)

// admissionEnv mirrors the CEL environment of a ValidatingAdmissionPolicy
// closely enough to compile and run emitted policies: object, oldObject,
// request and params as dyn (as for a kind the API server has no schema
// for), variables as a map, Kubernetes' string library, cross-type
// numeric comparisons and literals whose elements share one type.
func admissionEnv(t *testing.T) *cel.Env {
	t.Helper()
	env, err := cel.NewEnv(
		cel.Variable("object", cel.DynType),
		cel.Variable("oldObject", cel.DynType),
		cel.Variable("request", cel.DynType),
		cel.Variable("params", cel.DynType),
		cel.Variable("variables", cel.MapType(cel.StringType, cel.DynType)),
		ext.Strings(),
		cel.CrossTypeNumericComparisons(true),
		cel.HomogeneousAggregateLiterals(),
	)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// policy is a ValidatingAdmissionPolicy read back.
type policy struct {
	Kind string `yaml:"kind"`
	Spec struct {
		Variables   []namedExpr  `yaml:"variables"`
		Validations []validation `yaml:"validations"`
	} `yaml:"spec"`
}

// admit runs policy on an update from oldObj to newObj with the
// ConfigMap cm (nil: none) as the API server would: variables in order,
// one that fails stays unset (so reading it fails), and with
// failurePolicy Fail a failing validation denies. It returns the denial
// messages; none means allowed.
func admit(t *testing.T, env *cel.Env, p *policy, oldObj, newObj, cm map[string]any) []string {
	t.Helper()
	act := map[string]any{"object": newObj, "oldObject": oldObj, "request": map[string]any{"operation": "UPDATE"}}
	if cm != nil {
		act["params"] = cm
	}
	vars := map[string]any{}
	act["variables"] = vars
	run := func(expr string) (any, error) {
		ast, iss := env.Compile(expr)
		if iss.Err() != nil {
			t.Fatalf("%s does not compile: %v", expr, iss.Err())
		}
		prg, err := env.Program(ast)
		if err != nil {
			t.Fatal(err)
		}
		out, _, err := prg.Eval(act)
		if err != nil {
			return nil, err
		}
		return out.Value(), nil
	}
	for _, v := range p.Spec.Variables {
		if out, err := run(v.Expression); err == nil {
			vars[v.Name] = out
		}
	}
	var denied []string
	for _, v := range p.Spec.Validations {
		out, err := run(v.Expression)
		switch {
		case err != nil:
			denied = append(denied, "error: "+err.Error())
		case out != true:
			msg := v.Message
			if v.MessageExpression != "" {
				m, err := run(v.MessageExpression)
				if err != nil {
					t.Fatalf("messageExpression: %v", err)
				}
				msg = m.(string)
			}
			denied = append(denied, msg)
		}
	}
	return denied
}

// readPolicy decodes the policy of a .vap.yaml file and checks that the
// binding follows it.
func readPolicy(t *testing.T, data []byte) *policy {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var p policy
	if err := dec.Decode(&p); err != nil {
		t.Fatal(err)
	}
	var b struct {
		Kind string `yaml:"kind"`
	}
	if err := dec.Decode(&b); err != nil {
		t.Fatal(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		t.Fatalf("more than two documents: %v", err)
	}
	if p.Kind != "ValidatingAdmissionPolicy" || b.Kind != "ValidatingAdmissionPolicyBinding" {
		t.Fatalf("got kinds %s, %s", p.Kind, b.Kind)
	}
	return &p
}

// virtualService is a VirtualService with one route of weighted
// destinations (host → weight; weight < 0 leaves it unset).
func virtualService(weights ...any) map[string]any {
	var route []any
	for i := 0; i+1 < len(weights); i += 2 {
		d := map[string]any{"destination": map[string]any{"host": weights[i]}}
		if w := weights[i+1].(int); w >= 0 {
			d["weight"] = w
		}
		route = append(route, d)
	}
	return map[string]any{"spec": map[string]any{"hosts": []any{"checkout"}, "http": []any{
		map[string]any{"name": "primary", "route": route},
	}}}
}

// httpRoute is an HTTPRoute with one rule of weighted backendRefs.
func httpRoute(weights ...any) map[string]any {
	var refs []any
	for i := 0; i+1 < len(weights); i += 2 {
		b := map[string]any{"name": weights[i], "port": 8080}
		if w := weights[i+1].(int); w >= 0 {
			b["weight"] = w
		}
		refs = append(refs, b)
	}
	return map[string]any{"spec": map[string]any{"rules": []any{map[string]any{"backendRefs": refs}}}}
}

// live is the journey's live ConfigMap with the paper's healthy values,
// changed by kv (key, value; an empty value removes the key).
func live(kv ...string) map[string]any {
	data := map[string]any{"A_minus": "0.996", "p_upper": "0.35", "confidence": "0.9", "domain_conflict": "false"}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(data, kv[i])
			continue
		}
		data[kv[i]] = kv[i+1]
	}
	return map[string]any{"data": data}
}

const (
	stepTooLarge = "action promote: a traffic step of %d weight points exceeds maxTrafficStep 0.5 (50 points)"
	guardFails   = "action promote: the guard does not hold: A_minus >= objective.availability && p_upper <= objective.latency && confidence >= 0.8 && !domain_conflict"
)

// TestAdmission runs the paper's promote policy on updates of its target,
// a VirtualService, and of an HTTPRoute.
func TestAdmission(t *testing.T) {
	env := admissionEnv(t)
	files := emitFile(t, "testdata/checkout.yaml")
	vs := readPolicy(t, files["guards/promote.vap.yaml"])
	hr := readPolicy(t, files["guards/gateway.vap.yaml"])
	timeout := virtualService("stable", 90, "canary", 10)
	timeout["spec"].(map[string]any)["http"].([]any)[0].(map[string]any)["timeout"] = "3s"
	for _, tc := range []struct {
		name     string
		p        *policy
		old, new map[string]any
		cm       map[string]any
		want     []string
	}{
		{"a step within the limit", vs, virtualService("stable", 90, "canary", 10), virtualService("stable", 60, "canary", 40), live(), nil},
		{"a step at the limit", vs, virtualService("stable", 90, "canary", 10), virtualService("stable", 40, "canary", 60), live(), nil},
		{"a step over the limit", vs, virtualService("stable", 90, "canary", 10), virtualService("stable", 30, "canary", 70), live(),
			[]string{fmt.Sprintf(stepTooLarge, 60)}},
		{"a new destination counts its whole weight", vs, virtualService("stable", -1), virtualService("stable", 40, "canary", 60), live(),
			[]string{fmt.Sprintf(stepTooLarge, 60)}},
		{"a removed destination counts its whole weight", vs, virtualService("stable", 50, "canary", 50), virtualService("stable", -1), live(), nil},
		{"destinations reordered", vs, virtualService("stable", 90, "canary", 10), virtualService("canary", 10, "stable", 90), live("A_minus", "0.9"), nil},
		{"A- below the objective", vs, virtualService("stable", 90, "canary", 10), virtualService("stable", 80, "canary", 20), live("A_minus", "0.9925"),
			[]string{guardFails}},
		{"latency over the objective", vs, virtualService("stable", 90, "canary", 10), virtualService("stable", 80, "canary", 20), live("p_upper", "0.5"),
			[]string{guardFails}},
		{"a domain conflict", vs, virtualService("stable", 90, "canary", 10), virtualService("stable", 80, "canary", 20), live("domain_conflict", "true"),
			[]string{guardFails}},
		{"both", vs, virtualService("stable", 90, "canary", 10), virtualService("stable", 0, "canary", 100), live("confidence", "0.5"),
			[]string{fmt.Sprintf(stepTooLarge, 90), guardFails}},
		{"a live variable missing", vs, virtualService("stable", 90, "canary", 10), virtualService("stable", 80, "canary", 20), live("A_minus", ""),
			[]string{"error: no such key: A_minus"}},
		{"a live variable unreadable", vs, virtualService("stable", 90, "canary", 10), virtualService("stable", 80, "canary", 20), live("domain_conflict", "maybe"),
			[]string{"error: no such key: domain_conflict"}},
		{"no ConfigMap", vs, virtualService("stable", 90, "canary", 10), virtualService("stable", 80, "canary", 20), nil,
			[]string{"error: no such key: A_minus"}},
		{"no weight change while unhealthy", vs, virtualService("stable", 90, "canary", 10), timeout, live("A_minus", "0.9"), nil},
		{"HTTPRoute within the limit", hr, httpRoute("stable", 80, "canary", 20), httpRoute("stable", 60, "canary", 40), live(), nil},
		{"HTTPRoute over the limit", hr, httpRoute("stable", 100, "canary", 0), httpRoute("stable", 70, "canary", 30), live(),
			[]string{"action gateway: a traffic step of 30 weight points exceeds maxTrafficStep 0.25 (25 points)"}},
		{"HTTPRoute default weight", hr, httpRoute("stable", -1), httpRoute("stable", 1, "canary", 0), live(), nil},
		{"HTTPRoute guard", hr, httpRoute("stable", 80, "canary", 20), httpRoute("stable", 60, "canary", 40), live("A_minus", "0.99"),
			[]string{`action gateway: the guard does not hold: A_minus >= 0.995 || decision == "PASS"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cm := tc.cm
			if tc.p == hr && cm != nil {
				cm["data"].(map[string]any)["decision"] = "REVIEW"
			}
			got := admit(t, env, tc.p, tc.old, tc.new, cm)
			for i := range got {
				// cel-go's error texts vary in detail; the variable is what matters
				if strings.HasPrefix(got[i], "error: ") {
					got[i] = "error: no such key: " + got[i][strings.LastIndex(got[i], " ")+1:]
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("denials (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAdmissionCompiles compiles every expression of every emitted policy.
func TestAdmissionCompiles(t *testing.T) {
	env := admissionEnv(t)
	for _, gs := range goldenSpecs {
		for name, data := range emitFile(t, gs.path) {
			if !strings.HasSuffix(name, ".vap.yaml") {
				continue
			}
			p := readPolicy(t, data)
			var exprs []string
			for _, v := range p.Spec.Variables {
				exprs = append(exprs, v.Expression)
			}
			for _, v := range p.Spec.Validations {
				exprs = append(exprs, v.Expression, v.MessageExpression)
			}
			for _, e := range exprs {
				if e == "" {
					continue
				}
				if _, iss := env.Compile(e); iss.Err() != nil {
					t.Errorf("%s: %s: %v", name, e, iss.Err())
				}
			}
		}
	}
}

// emitFile emits the guards of the one journey in path, by file name.
func emitFile(t *testing.T, path string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, f := range emitted(t, path) {
		out[f.Path] = f.Data
	}
	return out
}
