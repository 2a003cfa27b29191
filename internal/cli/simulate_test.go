package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// simulated is simulate -o json, as read here.
type simulated struct {
	Runs     int
	Seed     uint64
	Journeys []struct {
		Name     string
		Scenario struct {
			Name               string
			Shared, Persistent []string
		}
		Availability struct {
			Simulated float64
			Successes int
			Lo, Hi    float64
			Compare   struct {
				Bound  string
				Value  float64
				Inside bool
			}
		}
		Latency *struct {
			Quantiles []struct {
				Level, Simulated, Lo float64
				Hi, Independent      *float64
			}
		}
		Traces *struct {
			File              string
			Executions, Spans int
		}
	}
}

func simulateJSON(t *testing.T, args ...string) simulated {
	t.Helper()
	out, errs, code := run(t, "", append([]string{"simulate", "-o", "json"}, args...)...)
	if code != ExitOK {
		t.Fatalf("simulate %v: exit %d, stderr:\n%s", args, code, errs)
	}
	var s simulated
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return s
}

// TestSimulateAgrees: on the examples, the simulated availability's
// interval holds the engine's A+ (independent scenario) and A- (binding
// scenario), and the composed latency quantiles lie in the simulated
// ones' intervals. EMAC_SIMULATE_RUNS sets the runs (default 2·10^5).
func TestSimulateAgrees(t *testing.T) {
	runs := "2e5"
	if v, err := strconv.Atoi(os.Getenv("EMAC_SIMULATE_RUNS")); err == nil && v > 0 {
		runs = strconv.Itoa(v)
	}
	files := []string{"../../examples/native/checkout.yaml", "../../examples/latency/checkout.yaml", "../../examples/checkout/spec/emac.checkout.yaml"}
	if _, err := os.Stat(paperSpec); err == nil {
		files = append(files, paperSpec)
	}
	for _, f := range files {
		for _, sc := range []string{"independent", "binding"} {
			s := simulateJSON(t, "--runs", runs, "--confidence", "0.999", "--scenario", sc, f)
			for _, j := range s.Journeys {
				a := j.Availability
				if !a.Compare.Inside {
					t.Errorf("%s, %s: %s %.8f outside the simulated [%.8f, %.8f]", f, sc, a.Compare.Bound, a.Compare.Value, a.Lo, a.Hi)
				}
				if want := map[string]string{"independent": "A+", "binding": "A-"}[sc]; !strings.HasPrefix(a.Compare.Bound, want) {
					t.Errorf("%s, %s: compared with %s, want %s", f, sc, a.Compare.Bound, want)
				}
				if j.Latency == nil || sc != "independent" {
					continue
				}
				for _, q := range j.Latency.Quantiles {
					if q.Independent == nil || q.Hi == nil || *q.Independent < q.Lo || *q.Independent > *q.Hi {
						t.Errorf("%s: p%g composed %v outside the simulated [%v, %v]", f, 100*q.Level, q.Independent, q.Lo, q.Hi)
					}
				}
			}
		}
	}
}

// TestSimulateText holds the text output (runs and seed fixed: the
// numbers are exact).
func TestSimulateText(t *testing.T) {
	out, errs, code := run(t, "", "simulate", "--runs", "100000", "--scenario", "binding", "../../examples/native/checkout.yaml")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	golden(t, "testdata/simulate.golden", out)
}

// TestSimulateScenarios: which domains and components each scenario
// shares, and what it compares with.
func TestSimulateScenarios(t *testing.T) {
	const f = "../../examples/latency/checkout.yaml"
	tests := []struct {
		scenario           string
		shared, persistent string
		bound              string
	}{
		{"independent", "", "", "A+"},
		{"binding", "payment-network", "receipt", "A-"},
		{"domain:zone-a", "zone-a", "", "A+ − loss(zone-a)"},
	}
	for _, tc := range tests {
		s := simulateJSON(t, "--runs", "1000", "--scenario", tc.scenario, f)
		j := s.Journeys[0]
		got := []string{strings.Join(j.Scenario.Shared, ","), strings.Join(j.Scenario.Persistent, ","), j.Availability.Compare.Bound}
		want := []string{tc.shared, tc.persistent, tc.bound}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%s: got shared, persistent, bound %q, want %q", tc.scenario, got, want)
		}
		if s.Runs != 1000 || s.Seed != 1 || j.Availability.Successes == 0 || j.Latency == nil || len(j.Latency.Quantiles) != 4 {
			t.Errorf("%s: got %+v", tc.scenario, s)
		}
	}
}

// TestSimulateTraces: --traces writes --trace-count executions as OTLP
// JSON, the same bytes for the same seed.
func TestSimulateTraces(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, args ...string) []byte {
		path := filepath.Join(dir, name)
		s := simulateJSON(t, append([]string{"--runs", "1000", "--traces", path}, args...)...)
		if tr := s.Journeys[0].Traces; tr == nil || tr.File != path || tr.Spans == 0 {
			t.Fatalf("traces reported as %+v", tr)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	const f = "../../examples/latency/checkout.yaml"
	a := write("a.json", "--trace-count", "20", f)
	b := write("b.json", "--trace-count", "20", f)
	c := write("c.json", "--trace-count", "20", "--seed", "2", f)
	if !bytes.Equal(a, b) || bytes.Equal(a, c) {
		t.Errorf("same seed equal: %v, other seed equal: %v", bytes.Equal(a, b), bytes.Equal(a, c))
	}
	var td struct {
		ResourceSpans []struct {
			ScopeSpans []struct {
				Spans []struct {
					TraceID      string
					ParentSpanID string
					Kind         int
				}
			}
		}
	}
	if err := json.Unmarshal(a, &td); err != nil {
		t.Fatal(err)
	}
	roots := map[string]bool{}
	for _, rs := range td.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				if s.ParentSpanID == "" && s.Kind == 2 {
					roots[s.TraceID] = true
				}
			}
		}
	}
	if len(roots) != 20 {
		t.Errorf("got %d root spans, want 20", len(roots))
	}
}

func TestSimulateErrors(t *testing.T) {
	const f = "../../examples/native/checkout.yaml"
	warnOnly := "apiVersion: emac.dev/v1alpha1\nkind: Journey\nmetadata: {name: w}\nspec:\n  objectives: {availability: {target: 99%}}\n  flow: a\n  components: {a: {slo: {availability: 99.9%}}, b: {slo: {availability: 99.9%}}}\n"
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		code  int
		err   string
	}{
		{"spec errors", "", []string{"../spec/testdata/bad/operators.yaml"}, ExitError, "operators.yaml:9:20: error: two operators in one node"},
		{"warnings only", warnOnly, []string{"--runs", "100", "-"}, ExitWarnings, `component "b" is not used`},
		{"missing file", "", []string{"nope.yaml"}, ExitError, "nope.yaml: error: cannot read"},
		{"unknown scenario", "", []string{"--scenario", "shared", f}, ExitError, `unknown --scenario "shared"`},
		{"unknown domain", "", []string{"--scenario", "domain:payment-netwrok", f}, ExitError, `no failure domain "payment-netwrok" (did you mean "payment-network"?)`},
		{"unknown journey", "", []string{"--journey", "chekout", f}, ExitError, `no journey "chekout" in the input (did you mean "checkout"?)`},
		{"fractional runs", "", []string{"--runs", "1.5", f}, ExitError, "not a positive whole number"},
		{"no runs", "", []string{"--runs", "0", f}, ExitError, "not a positive whole number"},
		{"confidence", "", []string{"--confidence", "1", f}, ExitError, "--confidence 1 is not in (0,1)"},
		{"trace count", "", []string{"--trace-count", "0", f}, ExitError, "--trace-count 0"},
		{"output", "", []string{"-o", "xml", f}, ExitError, "unknown output format"},
		{"unwritable traces", "", []string{"--runs", "100", "--traces", filepath.Join(t.TempDir(), "no", "t.json"), f}, ExitError, "no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errs, code := run(t, tc.stdin, append([]string{"simulate"}, tc.args...)...)
			if code != tc.code {
				t.Errorf("got exit %d, want %d; stderr:\n%s", code, tc.code, errs)
			}
			if !strings.Contains(errs, tc.err) {
				t.Errorf("stderr lacks %q:\n%s", tc.err, errs)
			}
		})
	}
}

// TestSimulateNeverSucceeds: a journey whose deadline always fires has no
// latency to report, and says so rather than failing.
func TestSimulateNeverSucceeds(t *testing.T) {
	never := "apiVersion: emac.dev/v1alpha1\nkind: Journey\nmetadata: {name: never}\nspec:\n  objectives: {availability: {target: 99%}}\n" +
		"  flow: {timeout: {after: 10ms, do: a}}\n  components: {a: {slo: {availability: 99.9%, latency: {p10: 100ms, p90: 100ms}}}}\n"
	for _, o := range []string{"text", "json"} {
		out, errs, code := run(t, never, "simulate", "--runs", "1000", "-o", o, "-")
		if code != ExitOK || !strings.Contains(out, "no execution succeeded") {
			t.Errorf("-o %s: exit %d, stdout:\n%s\nstderr:\n%s", o, code, out, errs)
		}
	}
}
