package guards

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/emac-dev/emac/internal/emit"
	"github.com/emac-dev/emac/internal/guard"
	"github.com/emac-dev/emac/internal/model"
)

// decision is what a policy says about one input.
type decision struct {
	Allow bool
	Deny  []string
}

// evalRego evaluates the emitted policy of action in files (with its data
// file) on input, as `opa eval` would.
func evalRego(t *testing.T, files map[string][]byte, journey, action string, input any) decision {
	t.Helper()
	var data map[string]any
	if err := json.Unmarshal(files["guards/"+action+".data.json"], &data); err != nil {
		t.Fatal(err)
	}
	// Round-trip the input through JSON, as a file given to opa would be.
	b, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	var in any
	if err := json.Unmarshal(b, &in); err != nil {
		t.Fatal(err)
	}
	q := "data." + regoPath("emac", "guards", journey, action)
	rs, err := rego.New(
		rego.Query(q),
		rego.Module(action+".rego", string(files["guards/"+action+".rego"])),
		rego.Store(inmem.NewFromObject(data)),
		rego.Input(in),
		rego.StrictBuiltinErrors(false),
	).Eval(context.Background())
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		t.Fatalf("%s: got %d results", q, len(rs))
	}
	doc := rs[0].Expressions[0].Value.(map[string]any)
	d := decision{Allow: doc["allow"] == true}
	for _, r := range doc["deny"].([]any) {
		d.Deny = append(d.Deny, r.(string))
	}
	slices.Sort(d.Deny)
	return d
}

// input is a Rego input: the variables (JSON names as in guard.Vars),
// params, now and history.
type input struct {
	*guard.Vars
	Now     string   `json:"now,omitempty"`
	History []string `json:"history"`
}

var now = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) string { return now.Add(-d).Format(time.RFC3339) }

func ptr[T any](v T) *T { return &v }

// healthy are live values under which the paper's promote guard holds,
// with a step within the limits.
func healthy() *guard.Vars {
	return &guard.Vars{
		APlus: ptr(0.9999), AMinus: ptr(0.996), AFloor: ptr(0.99),
		PUpper: ptr(0.35), PIndependent: ptr(0.21),
		Confidence: ptr(0.9), DomainConflict: ptr(false),
		Decision: ptr("PASS"), Binding: &[]string{"zone-a"},
		Params: map[string]any{"step": 0.25, "region": "eu-west-1", "weight": 0.5},
	}
}

const promoteGuard = "A_minus >= objective.availability && p_upper <= objective.latency && confidence >= 0.8 && !domain_conflict"

// TestRegoPromote evaluates the paper's promote policy on allowed and
// forbidden actions.
func TestRegoPromote(t *testing.T) {
	files := emitFile(t, "testdata/checkout.yaml")
	for _, tc := range []struct {
		name    string
		change  func(v *guard.Vars, in *input)
		allow   bool
		reasons []string
	}{
		{name: "allowed", allow: true},
		{name: "allowed at the objective", change: func(v *guard.Vars, _ *input) { v.AMinus = ptr(0.995) }, allow: true},
		{name: "A- below the objective", change: func(v *guard.Vars, _ *input) { v.AMinus = ptr(0.9925) },
			reasons: []string{"guard is false: " + promoteGuard}},
		{name: "latency over the objective", change: func(v *guard.Vars, _ *input) { v.PUpper = ptr(0.41) },
			reasons: []string{"guard is false: " + promoteGuard}},
		{name: "low confidence", change: func(v *guard.Vars, _ *input) { v.Confidence = ptr(0.5) },
			reasons: []string{"guard is false: " + promoteGuard}},
		{name: "domain conflict", change: func(v *guard.Vars, _ *input) { v.DomainConflict = ptr(true) },
			reasons: []string{"guard is false: " + promoteGuard}},
		{name: "A- missing", change: func(v *guard.Vars, _ *input) { v.AMinus = nil },
			reasons: []string{"guard cannot be evaluated: " + promoteGuard, "variable A_minus is missing"}},
		// CEL's false && error is false; !missing must not become true.
		{name: "domain_conflict missing, A- low", change: func(v *guard.Vars, _ *input) { v.DomainConflict, v.AMinus = nil, ptr(0.9) },
			reasons: []string{"guard is false: " + promoteGuard, "variable domain_conflict is missing"}},
		{name: "domain_conflict missing", change: func(v *guard.Vars, _ *input) { v.DomainConflict = nil },
			reasons: []string{"guard cannot be evaluated: " + promoteGuard, "variable domain_conflict is missing"}},
		{name: "step over the limit", change: func(v *guard.Vars, _ *input) { v.Params["step"] = 0.75 },
			reasons: []string{"traffic step 0.75 exceeds maxTrafficStep 0.5"}},
		{name: "step at the limit", change: func(v *guard.Vars, _ *input) { v.Params["step"] = 0.5 }, allow: true},
		{name: "step missing", change: func(v *guard.Vars, _ *input) { v.Params = nil },
			reasons: []string{"params.step is missing; the traffic step must be at most 0.5"}},
		{name: "step a string", change: func(v *guard.Vars, _ *input) { v.Params["step"] = "0.25" },
			reasons: []string{"params.step is not a number"}},
		{name: "ran within the window", change: func(_ *guard.Vars, in *input) { in.History = []string{ago(time.Hour), ago(9 * time.Minute)} },
			reasons: []string{"action ran 1 times in the last 10m; maxPerWindow is 1"}},
		{name: "ran a window ago", change: func(_ *guard.Vars, in *input) { in.History = []string{ago(10 * time.Minute), ago(-time.Minute)} }, allow: true},
		{name: "history missing", change: func(_ *guard.Vars, in *input) { in.History = nil },
			reasons: []string{"input.history is missing or not a list"}},
		{name: "history unreadable", change: func(_ *guard.Vars, in *input) { in.History = []string{"yesterday"} },
			reasons: []string{"input.history: yesterday is not an RFC 3339 time"}},
		{name: "now missing", change: func(_ *guard.Vars, in *input) { in.Now = "" },
			reasons: []string{"input.now is missing or not an RFC 3339 time"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := healthy()
			in := &input{Vars: v, Now: now.Format(time.RFC3339), History: []string{}}
			if tc.change != nil {
				tc.change(v, in)
			}
			got := evalRego(t, files, "checkout", "promote", in)
			want := decision{Allow: tc.allow, Deny: tc.reasons}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
		})
	}
	// A variable of the wrong type is refused by name.
	raw := map[string]any{"A_minus": "0.999", "p_upper": 0.1, "confidence": 1, "domain_conflict": false,
		"params": map[string]any{"step": 0.1}, "now": now.Format(time.RFC3339), "history": []any{}}
	got := evalRego(t, files, "checkout", "promote", raw)
	if got.Allow || !slices.Contains(got.Deny, "variable A_minus is not a number") {
		t.Errorf("got %+v, want a denial naming A_minus", got)
	}
}

// TestRegoMatchesCEL evaluates guards with cel-go (guard.Eval and
// guard.Limits) and with the emitted Rego on the same inputs: both must
// allow exactly the same actions.
func TestRegoMatchesCEL(t *testing.T) {
	guards := []string{
		promoteGuard,
		`!("payment-network" in binding) && size(binding) < 2`,
		`has(params.region) ? params.region.startsWith("eu-") : decision == "PASS"`,
		`(A_plus - A_minus) / A_plus <= 0.01 || A_floor >= 0.99`,
		`double(params.weight) * 2.0 <= 1.0 && decision.matches("^(PASS|REVIEW)$")`,
		`(confidence > 0.9 ? p_independent : p_upper) < objective["latency"]`,
		`params.step <= 0.3 || !(decision in ["FAIL", "REVIEW"])`,
		`"region" in params && params["region"].endsWith("-1") == true`,
		`-A_minus < -0.99 && size(decision + "x") == 5 && decision.contains("AS")`,
		`!(A_minus < 0.99 || domain_conflict) && binding[0] == "zone-a"`,
		`params.enabled && A_minus > 0.9`,
		`params.step >= 0.1 && params.step != 0.2`,
		`false || !true || true`,
		`!(params.region == "us-east-2")`,
	}
	variants := []func(v *guard.Vars){
		func(v *guard.Vars) {},
		func(v *guard.Vars) { v.AMinus = ptr(0.98) },
		func(v *guard.Vars) { v.DomainConflict = ptr(true) },
		func(v *guard.Vars) { v.DomainConflict = nil },
		func(v *guard.Vars) { v.Binding = &[]string{"payment-network"} },
		func(v *guard.Vars) { v.Binding = &[]string{} },
		func(v *guard.Vars) { v.Decision = ptr("REVIEW") },
		func(v *guard.Vars) { v.Decision = ptr("FAIL") },
		func(v *guard.Vars) { v.Confidence = ptr(0.95); v.PIndependent = ptr(0.5) },
		func(v *guard.Vars) { v.Params = map[string]any{"step": 0.2} },
		func(v *guard.Vars) { v.Params = map[string]any{"step": "0.1", "region": "us-east-2", "enabled": true} },
		func(v *guard.Vars) { v.Params = map[string]any{"region": 7, "weight": "0.4", "enabled": "yes"} },
		func(v *guard.Vars) { v.Params = nil },
		func(v *guard.Vars) { v.AMinus, v.PUpper = nil, ptr(9.0) },
	}
	for gi, src := range guards {
		g, issues := guard.Check(src)
		if len(issues) > 0 {
			t.Fatalf("%s: %v", src, issues)
		}
		j := &model.Journey{Name: "checkout", Objective: model.Objective{Availability: 0.995, Window: 30 * 24 * time.Hour,
			Latency: &model.LatencyObjective{Percentile: 99, Threshold: 400 * time.Millisecond}}}
		a := model.Action{Name: fmt.Sprintf("g%d", gi), Guard: src, MaxTrafficStep: ptr(0.3), MaxPerWindow: 2, Window: time.Hour}
		j.Policy.Actions = []model.Action{a}
		files := map[string][]byte{}
		out, err := Emit(&emit.Input{Journey: j, Namespace: "payments"})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range out {
			files[f.Path] = f.Data
		}
		lim := guard.Limits{MaxTrafficStep: a.MaxTrafficStep, MaxPerWindow: a.MaxPerWindow, Window: a.Window}
		histories := [][]time.Duration{{}, {time.Minute, 30 * time.Minute}, {2 * time.Hour, time.Hour}}
		for vi, change := range variants {
			for hi, h := range histories {
				v := healthy()
				change(v)
				var hist []time.Time
				var hs []string
				for _, d := range h {
					hist = append(hist, now.Add(-d))
					hs = append(hs, ago(d))
				}
				v.Objective = objective(j)
				ok, err := g.Eval(v)
				celAllow := err == nil && ok && len(lim.Violations(v.Params, now, hist)) == 0
				v.Objective = nil // Rego reads the objective from its data
				got := evalRego(t, files, "checkout", a.Name, &input{Vars: v, Now: now.Format(time.RFC3339), History: append([]string{}, hs...)})
				if got.Allow != celAllow {
					t.Errorf("%s, variant %d, history %d: CEL allows %v (%v, %v), Rego %v: %v", src, vi, hi, celAllow, ok, err, got.Allow, got.Deny)
				}
				// the guard alone, when CEL can decide it
				if err == nil && ok != !slices.ContainsFunc(got.Deny, func(s string) bool { return strings.HasPrefix(s, "guard ") }) {
					t.Errorf("%s, variant %d: the CEL guard gives %v, Rego denies %v", src, vi, ok, got.Deny)
				}
			}
		}
	}
}
