package flagger_test

import (
	"context"
	"flag"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/compile"
	"github.com/emac-dev/emac/internal/emit/emittest"
	"github.com/emac-dev/emac/internal/emit/flagger"
	"github.com/emac-dev/emac/internal/emit/prometheus"
	"gopkg.in/yaml.v2"
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
		}
	}
}

// TestGateQuery runs the MetricTemplate's query in Prometheus (promtool's
// engine) with the checkout's recording rules, rolled out by Flagger, on a
// canary of paya: it is A- of the checkout with paya at the success ratio
// of the canary's pods (the Canary target's, never the primary's). With no
// canary data the query has no sample.
func TestGateQuery(t *testing.T) {
	emittest.Promtool(t)
	r, err := compile.Compile(context.Background(), []string{"../../../examples/native/checkout.yaml"}, compile.Options{Emitters: []compile.Emitter{}})
	if err != nil || r.Check.Diagnostics.HasErrors() {
		t.Fatalf("%v %v", err, r.Check.Diagnostics)
	}
	in := r.Journeys[0].Input
	in.Journey.Policy.Rollout = v1alpha1.ProviderFlagger
	cj, err := compile.Emit(context.Background(), in, compile.Options{Emitters: []compile.Emitter{
		{Name: "prometheus", Emit: prometheus.Emit}, {Name: "flagger", Emit: flagger.Emit}}})
	if err != nil {
		t.Fatal(err)
	}
	var rules []byte
	var q string
	for _, f := range cj.Files {
		switch f.Path {
		case "prometheus/rules.yaml":
			rules = f.Data
		case "flagger/metrictemplate.yaml":
			var o struct{ Spec struct{ Query string } }
			if err := yaml.Unmarshal(f.Data, &o); err != nil {
				t.Fatal(err)
			}
			q = o.Spec.Query
		}
	}
	if rules == nil || q == "" {
		t.Fatal("no rules or no MetricTemplate")
	}
	// as in the Argo gate's test: A- with paya at r, payb at its SLO
	aMinus := func(r float64) float64 {
		up := math.Max(r, 0.995)
		race := up * (1 - (1-r/up)*(1-0.995/up))
		return 0.9995 * 0.999 * 0.999 * race
	}
	type pods struct{ good, bad int } // calls per minute
	cases := []struct {
		name            string
		canary, primary pods
		want            float64 // < 0: no sample
	}{
		{"healthy canary", pods{999, 1}, pods{1000, 0}, aMinus(0.999)},
		{"failing canary", pods{95, 5}, pods{1000, 0}, aMinus(0.95)},
		{"a failing primary is not the canary", pods{999, 1}, pods{0, 1000}, aMinus(0.999)},
		{"no canary data", pods{}, pods{95, 5}, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			query := strings.NewReplacer("{{ target }}", "paya", "{{ variables.component }}", "paya").Replace(q)
			in := map[string]string{}
			series := func(pod, result string, perMin int) {
				if perMin > 0 {
					in[fmt.Sprintf(`payment_requests_total{provider="paya",result="%s",pod="%s"}`, result, pod)] = fmt.Sprintf("0+%dx30", perMin)
				}
			}
			series("paya-7d9f8b6c4-x2x4z", "success", c.canary.good)
			series("paya-7d9f8b6c4-x2x4z", "error", c.canary.bad)
			series("paya-primary-5c8d7f9b-k8s2p", "success", c.primary.good)
			series("paya-primary-5c8d7f9b-k8s2p", "error", c.primary.bad)
			for comp, e := range map[string]string{"front": "0.0005", "cart": "0.001", "pricing": "0.001", "payb": "0.005"} {
				in[prometheus.Selector("emac:component_error:ratio_rate1h", "emac_journey", "checkout", "emac_component", comp)] = e + "+0x30"
			}
			emittest.Gate(t, rules, in, query, c.want)
		})
	}
}
