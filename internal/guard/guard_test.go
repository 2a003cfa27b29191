package guard

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"cel.dev/cel-go/cel"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// promote is the paper's promote guard (SPEC §2).
const promote = "A_minus >= objective.availability && p_upper <= objective.latency && confidence >= 0.8 && !domain_conflict"

func ptr[T any](v T) *T { return &v }

// healthy are live values under which the paper's promote guard holds.
func healthy() *Vars {
	return &Vars{
		APlus: ptr(0.9999), AMinus: ptr(0.996), AFloor: ptr(0.99),
		PUpper: ptr(0.35), PIndependent: ptr(0.21),
		Confidence: ptr(0.9), DomainConflict: ptr(false),
		Decision: ptr("PASS"), Binding: &[]string{"payment-network"},
		Objective: map[string]float64{"availability": 0.995, "latency": 0.4, "percentile": 99, "window": 30 * 86400},
		Params:    map[string]any{"step": 0.25},
	}
}

func TestEval(t *testing.T) {
	for _, tc := range []struct {
		name    string
		guard   string
		change  func(v *Vars)
		want    bool
		wantErr string
	}{
		{name: "promote allowed", guard: promote, want: true},
		{name: "promote allowed at the objective", guard: promote, change: func(v *Vars) { v.AMinus = ptr(0.995) }, want: true},
		{name: "A- below the objective", guard: promote, change: func(v *Vars) { v.AMinus = ptr(0.9925) }},
		{name: "latency over the objective", guard: promote, change: func(v *Vars) { v.PUpper = ptr(0.41) }},
		{name: "low confidence", guard: promote, change: func(v *Vars) { v.Confidence = ptr(0.79) }},
		{name: "domain conflict", guard: promote, change: func(v *Vars) { v.DomainConflict = ptr(true) }},
		{name: "A- unknown", guard: promote, change: func(v *Vars) { v.AMinus = nil }, wantErr: "unknown variables: A_minus"},
		{name: "unused variable unknown", guard: promote, change: func(v *Vars) { v.APlus, v.Binding = nil, nil }, want: true},
		{name: "no latency objective", guard: promote, change: func(v *Vars) { delete(v.Objective, "latency") }, wantErr: "no such key: latency"},
		{name: "step parameter", guard: "params.step <= 0.5", want: true},
		{name: "step parameter too large", guard: "params.step <= 0.5", change: func(v *Vars) { v.Params["step"] = 0.75 }},
		{name: "step parameter missing", guard: "params.step <= 0.5", change: func(v *Vars) { v.Params = map[string]any{} }, wantErr: "no such key: step"},
		{name: "step parameter a string", guard: "params.step <= 0.5", change: func(v *Vars) { v.Params["step"] = "0.25" }, wantErr: "no such overload"},
		{name: "has() tolerates a missing parameter", guard: "!has(params.step) || params.step <= 0.5", change: func(v *Vars) { v.Params = map[string]any{} }, want: true},
		{name: "binding membership", guard: `!("payment-network" in binding)`},
		{name: "no binding domain", guard: `size(binding) == 0`, change: func(v *Vars) { v.Binding = &[]string{} }, want: true},
		{name: "decision", guard: `decision == "PASS" && A_plus - A_minus < 0.01`, want: true},
		{name: "integer literal against a double", guard: "confidence >= 1", want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, issues := Check(tc.guard)
			if len(issues) > 0 {
				t.Fatalf("Check(%q): %v", tc.guard, issues)
			}
			v := healthy()
			if tc.change != nil {
				tc.change(v)
			}
			got, err := g.Eval(v)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, %v; want an error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCheckIssues(t *testing.T) {
	for _, tc := range []struct {
		guard string
		want  []Issue
	}{
		{"A_minsu >= 0.995", []Issue{{Line: 1, Column: 1, Length: 7, Message: `undeclared variable "A_minsu"`, Detail: `did you mean "A_minus"?`}}},
		{"A_minus >= objective.availability && confidnce >= 0.8", []Issue{{Line: 1, Column: 38, Length: 9, Message: `undeclared variable "confidnce"`, Detail: `did you mean "confidence"?`}}},
		{"A_minus >= 0.9 &&\n  zzzzzzzz", []Issue{{Line: 2, Column: 3, Length: 8, Message: `undeclared variable "zzzzzzzz"`,
			Detail: "guards may read: A_plus, A_minus, A_floor, p_upper, p_independent, confidence, domain_conflict, decision, binding, objective, params"}}},
		{"A_minus >= objective.availabilty", []Issue{{Line: 1, Column: 22, Length: 11, Message: `objective has no field "availabilty"`, Detail: `did you mean "availability"?`}}},
		{`A_minus >= objective["latncy"]`, []Issue{{Line: 1, Column: 22, Message: `objective has no field "latncy"`, Detail: `did you mean "latency"?`}}},
		{"A_minus", []Issue{{Message: "expression is a double, not a bool", Detail: "a guard says whether the action is allowed, e.g. A_minus >= objective.availability"}}},
		{"A_minus >= ", []Issue{{Line: 1, Column: 12, Message: "Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}"}}},
		{`decision >= 0.5`, []Issue{{Line: 1, Column: 10, Message: "found no matching overload for '_>=_' applied to '(string, double)'"}}},
		{`binding.exists(d, d == "zone")`, []Issue{{Line: 1, Column: 15,
			Message: "comprehension macros (all, exists, exists_one, map, filter) are not supported in guards",
			Detail:  subsetHint + "; test membership with in, or sizes with size()"}}},
		{`params.a / params.b > 1.0`, []Issue{{Line: 1, Column: 10, Message: "/ on dyn is not supported in guards",
			Detail: "integer division truncates in CEL but not in Rego; divide doubles (2.0, double(x))"}}},
		{`double(params.a) / 2.0 > 1.0 && size(decision) % 2 == 0`, nil},
		{`{"a": 1}.size() == 1`, []Issue{{Line: 1, Column: 1, Message: "map literals are not supported in guards", Detail: subsetHint}}},
		{`string(A_minus) == "1"`, []Issue{{Line: 1, Column: 7, Message: "function string is not supported in guards",
			Detail: subsetHint + ": literals, variables, field selection, indexing, ! && || ?:, comparisons, arithmetic, in, size(), has(), double(), startsWith, endsWith, contains, matches"}}},
		{`decision in ["PASS", 1]`, []Issue{{Line: 1, Column: 22, Message: "expected type 'string' but found 'int'"}}},
		{"", []Issue{{Message: "guard is empty"}}},
		{strings.Repeat("true && ", 600) + "true", []Issue{{Message: "guard is longer than 4096 bytes"}}},
	} {
		t.Run(tc.guard, func(t *testing.T) {
			g, got := Check(tc.guard)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("issues (-want +got):\n%s", diff)
			}
			if (g == nil) != (len(tc.want) > 0) {
				t.Errorf("got guard %v with %d issues", g, len(got))
			}
		})
	}
}

func TestReferences(t *testing.T) {
	for _, tc := range []struct {
		guard string
		want  []string
	}{
		{promote, []string{"A_minus", "confidence", "domain_conflict", "objective.availability", "objective.latency", "p_upper"}},
		{`has(params.step) && params["step"] <= 0.5`, []string{"params.step"}},
		{`size(params) == 0 && "x" in binding`, []string{"binding", "params"}},
	} {
		g, issues := Check(tc.guard)
		if len(issues) > 0 {
			t.Fatal(issues)
		}
		if diff := cmp.Diff(tc.want, g.References()); diff != "" {
			t.Errorf("%s: references (-want +got):\n%s", tc.guard, diff)
		}
	}
}

func TestQualified(t *testing.T) {
	for _, tc := range []struct {
		guard, want string
	}{
		{promote, "variables.A_minus >= variables.objective.availability && variables.p_upper <= variables.objective.latency && variables.confidence >= 0.8 && !variables.domain_conflict"},
		{`!has(params.step) || (params.step <= 0.5 && !("x" in binding))`, `!has(variables.params.step) || variables.params.step <= 0.5 && !("x" in variables.binding)`},
	} {
		g, issues := Check(tc.guard)
		if len(issues) > 0 {
			t.Fatal(issues)
		}
		got, err := g.Qualified("variables")
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("Qualified(%q)\n got %s\nwant %s", tc.guard, got, tc.want)
		}
		// The rewritten guard means the same: evaluated with the values
		// nested under the prefix, it gives what the guard gives.
		env, err := cel.NewEnv(cel.Variable("variables", cel.DynType), cel.CrossTypeNumericComparisons(true))
		if err != nil {
			t.Fatal(err)
		}
		ast, iss := env.Compile(got)
		if iss.Err() != nil {
			t.Fatal(iss.Err())
		}
		prg, err := env.Program(ast)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []*Vars{healthy(), {AMinus: ptr(0.99), PUpper: ptr(0.5), Confidence: ptr(0.5), DomainConflict: ptr(true),
			Binding: &[]string{"x"}, Objective: map[string]float64{"availability": 0.995, "latency": 0.4}, Params: map[string]any{"step": 0.75}}} {
			want, err := g.Eval(v)
			if err != nil {
				t.Fatal(err)
			}
			out, _, err := prg.Eval(map[string]any{"variables": v.activation()})
			if err != nil {
				t.Fatal(err)
			}
			if out.Value() != want {
				t.Errorf("%s: got %v, the guard gives %v", got, out.Value(), want)
			}
		}
	}
	g, _ := Check("true")
	if _, err := g.Qualified("not an ident"); err == nil {
		t.Error("got no error for a bad prefix")
	}
}

func TestLimits(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	lim := Limits{MaxTrafficStep: ptr(0.5), MaxPerWindow: 1, Window: 10 * time.Minute}
	for _, tc := range []struct {
		name    string
		limits  Limits
		params  map[string]any
		history []time.Time
		want    []string
	}{
		{name: "within", limits: lim, params: map[string]any{"step": 0.5}},
		{name: "no limits", params: map[string]any{}},
		{name: "step too large", limits: lim, params: map[string]any{"step": 0.6}, want: []string{"traffic step 0.6 exceeds maxTrafficStep 0.5"}},
		{name: "step missing", limits: lim, params: map[string]any{}, want: []string{"params.step is missing; the traffic step must be at most 0.5"}},
		{name: "step a string", limits: lim, params: map[string]any{"step": "0.1"}, want: []string{"params.step is not a number"}},
		{name: "ran recently", limits: lim, params: map[string]any{"step": 0.1}, history: []time.Time{now.Add(-9 * time.Minute)},
			want: []string{"action ran 1 times in the last 10m; maxPerWindow is 1"}},
		{name: "ran a window ago", limits: lim, params: map[string]any{"step": 0.1}, history: []time.Time{now.Add(-10 * time.Minute), now.Add(time.Minute)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.limits.Violations(tc.params, now, tc.history)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTargets(t *testing.T) {
	k, ok := LookupTarget("VirtualService")
	if !ok || !k.Accepts("networking.istio.io/v1") || k.Accepts("networking.istio.io/v2") || k.Accepts("v1") {
		t.Errorf("VirtualService: got %+v, %v", k, ok)
	}
	if _, ok := LookupTarget("Rollout"); ok {
		t.Error("Rollout is not a route")
	}
	if got, want := TargetKinds()[0].APIVersions(), []string{"gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1"}; !cmp.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestVarsJSON keeps Vars' JSON names, which Rego inputs use, equal to
// the variables' names.
func TestVarsJSON(t *testing.T) {
	b, err := json.Marshal(healthy())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, v := range Variables() {
		want = append(want, v.Name)
	}
	if diff := cmp.Diff(want, slices.Collect(maps.Keys(m)), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("JSON names (-want +got):\n%s", diff)
	}
	if got := len((&Vars{}).activation()); got != 0 {
		t.Errorf("empty Vars activate %d variables", got)
	}
}

func BenchmarkNewEnv(b *testing.B) {
	for b.Loop() {
		if _, err := NewEnv(); err != nil {
			b.Fatal(err)
		}
	}
}
