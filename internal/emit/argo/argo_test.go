package argo_test

import (
	"context"
	"flag"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/emac-dev/emac/internal/compile"
	"github.com/emac-dev/emac/internal/emit/argo"
	"github.com/emac-dev/emac/internal/emit/emittest"
	"github.com/emac-dev/emac/internal/emit/prometheus"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func compiled(t *testing.T, path string) []compile.Journey {
	t.Helper()
	return compiledWith(t, path, compile.Emitter{Name: "argo", Emit: argo.Emit})
}

func compiledWith(t *testing.T, path string, ems ...compile.Emitter) []compile.Journey {
	t.Helper()
	r, err := compile.Compile(context.Background(), []string{path}, compile.Options{Emitters: ems})
	if err != nil {
		t.Fatal(err)
	}
	if r.Check.Diagnostics.HasErrors() {
		t.Fatalf("%s: %v", path, r.Check.Diagnostics)
	}
	return r.Journeys
}

func TestGolden(t *testing.T) {
	for _, ex := range []struct{ name, path string }{
		{"checkout", "../../../examples/native/checkout.yaml"},
		{"every-operator", "../prometheus/testdata/every-operator.yaml"},
	} {
		for _, j := range compiled(t, ex.path) {
			if len(j.Files) == 0 {
				t.Fatalf("%s: no files", ex.name)
			}
			emittest.Golden(t, filepath.Join("testdata", ex.name), j.Files, *update)
		}
	}
}

// gate is the checkout's AnalysisTemplate for paya: its query and
// conditions.
func gate(t *testing.T) (query, success, failure string) {
	t.Helper()
	j := compiled(t, "../../../examples/native/checkout.yaml")[0]
	for _, f := range j.Files {
		if f.Path != "argo/analysistemplate.yaml" {
			continue
		}
		dec := yaml.NewDecoder(strings.NewReader(string(f.Data)))
		for {
			var o struct {
				Metadata struct{ Name string }
				Spec     struct {
					Metrics []struct {
						SuccessCondition string `yaml:"successCondition"`
						FailureCondition string `yaml:"failureCondition"`
						Provider         struct {
							Prometheus struct{ Query string }
						}
					}
				}
			}
			if err := dec.Decode(&o); err != nil {
				break
			}
			if o.Metadata.Name == argo.TemplateName("checkout") {
				m := o.Spec.Metrics[0]
				return m.Provider.Prometheus.Query, m.SuccessCondition, m.FailureCondition
			}
		}
	}
	t.Fatal("no AnalysisTemplate for checkout")
	return
}

// TestGateQuery runs the gate's query in Prometheus (promtool's engine)
// with the checkout's recording rules, on a canary of paya, and checks it
// is A- of the checkout with paya at the canary's success ratio: the
// canary passes while the journey would still meet its objective. Without
// canary calls, or naming a component that has none, the query has no
// sample, which Argo calls Inconclusive.
func TestGateQuery(t *testing.T) {
	emittest.Promtool(t)
	q, success, failure := gate(t)
	if success != "len(result) > 0 && result[0] >= 0.995" || failure != "len(result) > 0 && result[0] < 0.995" {
		t.Errorf("conditions %q / %q", success, failure)
	}
	var rules []byte
	for _, f := range compiledWith(t, "../../../examples/native/checkout.yaml", compile.Emitter{Name: "prometheus", Emit: prometheus.Emit})[0].Files {
		if f.Path == "prometheus/rules.yaml" {
			rules = f.Data
		}
	}
	// A- of the checkout with front, cart, pricing at their SLO ratios and
	// payb at 0.995; paya at the canary's ratio r: the race shares
	// payment-network, so it fails when the common cause (1 − max) fires or
	// both fail.
	aMinus := func(r float64) float64 {
		up := math.Max(r, 0.995)
		race := up * (1 - (1-r/up)*(1-0.995/up))
		return 0.9995 * 0.999 * 0.999 * race
	}
	cases := []struct {
		name      string
		component string
		good, bad int // canary calls per minute
		minCalls  string
		want      float64 // < 0: no sample
	}{
		{"healthy canary", "paya", 999, 1, "0", aMinus(0.999)},
		{"failing canary", "paya", 95, 5, "0", aMinus(0.95)},
		{"no canary data", "paya", 0, 0, "0", -1},
		{"too few canary calls", "paya", 99, 1, "100000", -1},
		{"a component the canary is not", "cart", 999, 1, "0", -1},
		{"a component the journey does not have", "nope", 999, 1, "0", -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			query := strings.NewReplacer("{{args.canary-hash}}", "abc123", "{{args.min-calls}}", c.minCalls, "{{args.component}}", c.component).Replace(q)
			in := map[string]string{}
			if c.good+c.bad > 0 {
				in[`payment_requests_total{provider="paya",result="success",rollouts_pod_template_hash="abc123"}`] = fmt.Sprintf("0+%dx30", c.good)
				in[`payment_requests_total{provider="paya",result="error",rollouts_pod_template_hash="abc123"}`] = fmt.Sprintf("0+%dx30", c.bad)
			}
			// the stable components' recorded ratios (their raw series
			// are absent, so the rules record nothing over them)
			for comp, e := range map[string]string{"front": "0.0005", "cart": "0.001", "pricing": "0.001", "payb": "0.005"} {
				in[prometheus.Selector("emac:component_error:ratio_rate1h", "emac_journey", "checkout", "emac_component", comp)] = e + "+0x30"
			}
			emittest.Gate(t, rules, in, query, c.want)
		})
	}
	if aMinus(0.999) < 0.995 || aMinus(0.95) >= 0.995 {
		t.Errorf("the cases do not straddle the objective: %v, %v", aMinus(0.999), aMinus(0.95))
	}
}
