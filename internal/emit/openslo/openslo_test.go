package openslo

import (
	"bytes"
	"flag"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/examples"
	"github.com/emac-dev/emac/internal/emit"
	"github.com/emac-dev/emac/internal/emit/emittest"
	"github.com/emac-dev/emac/internal/model"
	"github.com/emac-dev/emac/internal/slo"
)

var update = flag.Bool("update", false, "rewrite golden files")

// The checkout, as the paper's JourneyIntent (with journey telemetry) and
// in emac's native format (without): the two forms of the journey SLI.
var checkouts = []struct{ name, path string }{
	{"intent", examples.Checkout},
	{"native", "native/checkout.yaml"},
}

// everyOperator is a journey over all eleven operators whose names need
// escaping everywhere: upper case, slashes, quotes, braces, spaces.
func everyOperator(t *testing.T) *model.Journey {
	t.Helper()
	flow := `Series(front, Race[hedgeAfter=50ms]("Pay/A", "pay \"b\""), Fallback(db, cache), Quorum[k=2](r1, r2, r3),
		Branch(0.9: Retry[attempts=3, perTryTimeout=200ms, backoff=20ms](inv), 0.1: Timeout[after=300ms](slow)),
		All(Optional(recs), Async(audit)), "x{{y}}")`
	avail := map[string]float64{"front": 0.9999, "Pay/A": 0.995, `pay "b"`: 0.995, "db": 0.999, "cache": 0.99,
		"r1": 0.99, "r2": 0.99, "r3": 0.99, "inv": 0.99, "slow": 0.999, "recs": 0.9, "audit": 0.9, "x{{y}}": 0.9999}
	j, err := model.Build("every-op", flow, avail, map[string][]string{"net": {"Pay/A", `pay "b"`}, "zone/a": {"r1", "r2"}})
	if err != nil {
		t.Fatal(err)
	}
	// Between the floor and A-: some required targets are feasible, some
	// are not.
	j.Objective.Availability = 0.977
	j.Components["db"].Telemetry = &model.Telemetry{Good: `sum(rate(db_ok_total[{{.window}}]))`, Total: `sum(rate(db_total[{{.window}}]))`}
	j.Components["cache"].Telemetry = &model.Telemetry{Bad: `sum(rate(cache_err_total[{{ .window }}]))`, Total: `sum(rate(cache_total[{{ .window }}]))`}
	j.Components["r1"].Telemetry = &model.Telemetry{Good: `avg_over_time(r1_success_ratio[{{.window}}])`}
	return j
}

// TestGolden compares the files emitted for the checkout with
// testdata/<case>/; go test -update rewrites them.
func TestGolden(t *testing.T) {
	for _, tc := range checkouts {
		t.Run(tc.name, func(t *testing.T) {
			files, err := Emit(emittest.Example(t, tc.path))
			if err != nil {
				t.Fatal(err)
			}
			emittest.Golden(t, filepath.Join("testdata", tc.name), files, *update)
		})
	}
}

// TestFiles: which files the checkout gets, in order.
func TestFiles(t *testing.T) {
	files, err := Emit(emittest.Example(t, examples.Checkout))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, f.Path)
	}
	want := []string{"openslo/journey.yaml", "openslo/required/paya.yaml", "openslo/required/payb.yaml", "sloth/required.yaml"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("paths (-want +got):\n%s", diff)
	}
}

// readBack is what emac's own SLO reader makes of one emitted file.
type readBack struct {
	Name, Service, Format string
	Target, Window        float64 // window in hours
	Good, Bad, Total      string
}

func read(t *testing.T, f emit.File) []readBack {
	t.Helper()
	objs, ds := slo.Read(f.Path, f.Data)
	if len(ds) > 0 {
		t.Fatalf("%s: %v\n%s", f.Path, ds.Err(), f.Data)
	}
	var out []readBack
	for _, o := range objs {
		out = append(out, readBack{Name: o.Name, Service: o.Service, Format: o.Format, Target: o.Target,
			Window: o.Window.Hours(), Good: o.Good, Bad: o.Bad, Total: o.Total})
	}
	return out
}

// TestReadBack: every emitted document reads back with internal/slo, with
// the journey's objective, the required targets and the queries emac
// meant.
func TestReadBack(t *testing.T) {
	intent := emittest.Example(t, examples.Checkout)
	required := map[string]float64{}
	for _, q := range intent.Result.Required {
		if q.Availability != nil {
			required[q.Component] = *q.Availability
		}
	}
	paya, payb := required["paya"], required["payb"]
	if paya == 0 || payb == 0 {
		t.Fatalf("the checkout's payment providers have no required target: %+v", intent.Result.Required)
	}
	payQuery := func(p, extra string) string {
		return `sum(increase(payment_requests_total{provider="` + p + `"` + extra + `}[30d]))`
	}
	pay := func(p string, target float64) readBack {
		return readBack{Name: "checkout-" + p + "-required", Service: p, Format: slo.FormatOpenSLOv1, Target: target, Window: 720,
			Good: payQuery(p, `,result="success"`), Total: payQuery(p, "")}
	}
	recorded := func(p string, target float64) readBack {
		return readBack{Name: p + "-required", Service: "checkout", Format: slo.FormatSloth, Target: target, Window: 720,
			Bad: `emac:component_error:ratio_rate{{.window}}{emac_journey="checkout",emac_component="` + p + `"}`}
	}
	for _, tc := range []struct {
		name string
		in   *emit.Input
		want map[string][]readBack
	}{
		{"intent", intent, map[string][]readBack{
			"openslo/journey.yaml": {{Name: "checkout", Service: "checkout", Format: slo.FormatOpenSLOv1, Target: 0.995, Window: 720,
				Good:  `sum(rate(journey_requests_total{journey="checkout",result="success"}[30d]))`,
				Total: `sum(rate(journey_requests_total{journey="checkout"}[30d]))`}},
			"openslo/required/paya.yaml": {pay("paya", paya)},
			"openslo/required/payb.yaml": {pay("payb", payb)},
			"sloth/required.yaml":        {recorded("paya", paya), recorded("payb", payb)},
		}},
		{"native", emittest.Example(t, "native/checkout.yaml"), map[string][]readBack{
			"openslo/journey.yaml": {{Name: "checkout", Service: "checkout", Format: slo.FormatOpenSLOv1, Target: 0.995, Window: 720,
				Good: `1 - emac:journey_error:ratio_rate30d{emac_journey="checkout",emac_bound="pessimistic"}`}},
			"openslo/required/paya.yaml": {pay("paya", paya)},
			"openslo/required/payb.yaml": {pay("payb", payb)},
			"sloth/required.yaml":        {recorded("paya", paya), recorded("payb", payb)},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files, err := Emit(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]readBack{}
			for _, f := range files {
				got[f.Path] = read(t, f)
			}
			if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 1e-12 })); diff != "" {
				t.Errorf("read back (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEveryOperator: a journey over every operator, with names that need
// escaping and telemetry of every shape, emits files that all read back,
// one required SLO per feasible target, with the window substituted.
func TestEveryOperator(t *testing.T) {
	in := emittest.Input(t, everyOperator(t))
	files, err := Emit(in)
	if err != nil {
		t.Fatal(err)
	}
	feasibleTargets := map[string]float64{}
	for _, rt := range in.Result.Required {
		if v, ok := feasible(rt); ok {
			feasibleTargets[rt.Component] = v
		}
	}
	if len(feasibleTargets) == 0 {
		t.Fatal("no feasible required target: the journey does not exercise required files")
	}
	byName := map[string]readBack{}
	slothTargets := map[string]float64{}
	for _, f := range files {
		for _, o := range read(t, f) {
			if o.Format == slo.FormatSloth {
				slothTargets[o.Name] = o.Target
				continue
			}
			byName[o.Name] = o
			if o.Window != 720 {
				t.Errorf("%s: window %vh, want 720h", f.Path, o.Window)
			}
			for _, q := range []string{o.Good, o.Bad, o.Total} {
				if strings.Contains(q, "window") {
					t.Errorf("%s: query %q keeps its window placeholder", f.Path, q)
				}
			}
		}
	}
	for c, v := range feasibleTargets {
		name := dnsLabel("every-op-" + c + "-required")
		if o, ok := byName[name]; !ok || math.Abs(o.Target-v) > 1e-12 {
			t.Errorf("component %q: OpenSLO %s = %+v, want target %v", c, name, o, v)
		}
		if got := slothTargets[dnsLabel(c)+"-required"]; math.Abs(got-v) > 1e-12 {
			t.Errorf("component %q: Sloth target %v, want %v", c, got, v)
		}
	}
	if len(byName) != len(feasibleTargets)+1 || len(slothTargets) != len(feasibleTargets) {
		t.Errorf("got %d OpenSLO and %d Sloth SLOs for %d feasible targets", len(byName), len(slothTargets), len(feasibleTargets))
	}
}

// TestDeterministic: emitting twice from separately loaded inputs gives
// the same bytes.
func TestDeterministic(t *testing.T) {
	for _, mk := range []func() *emit.Input{
		func() *emit.Input { return emittest.Example(t, examples.Checkout) },
		func() *emit.Input { return emittest.Input(t, everyOperator(t)) },
	} {
		a, err := Emit(mk())
		if err != nil {
			t.Fatal(err)
		}
		b, err := Emit(mk())
		if err != nil {
			t.Fatal(err)
		}
		if len(a) != len(b) {
			t.Fatalf("got %d then %d files", len(a), len(b))
		}
		for i := range a {
			if a[i].Path != b[i].Path || !bytes.Equal(a[i].Data, b[i].Data) {
				t.Errorf("%s differs between runs", a[i].Path)
			}
		}
	}
}

func TestRatio(t *testing.T) {
	for _, tc := range []struct {
		name string
		tel  *model.Telemetry
		want ratioMetric
	}{
		{"none", nil, ratioMetric{RawType: "success", Raw: promMetric("1 - rec")}},
		{"latency only", &model.Telemetry{LatencyHistogram: "h"}, ratioMetric{RawType: "success", Raw: promMetric("1 - rec")}},
		{"good/total", &model.Telemetry{Good: "g[{{.window}}]", Total: "t[{{ .window }}]"},
			ratioMetric{Good: promMetric("g[30d]"), Total: promMetric("t[30d]")}},
		{"bad/total", &model.Telemetry{Bad: "b[{{.window}}]", Total: "t[5m]"},
			ratioMetric{Bad: promMetric("b[30d]"), Total: promMetric("t[5m]")}},
		{"success ratio", &model.Telemetry{Good: "r"}, ratioMetric{RawType: "success", Raw: promMetric("r")}},
		{"error ratio", &model.Telemetry{Bad: "e"}, ratioMetric{RawType: "failure", Raw: promMetric("e")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, ratioOr(tc.tel, "30d", "rec")); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestSlothIndicator(t *testing.T) {
	const rec = `emac:component_error:ratio_rate{{.window}}{emac_journey="j",emac_component="c"}`
	for _, tc := range []struct {
		name string
		tel  *model.Telemetry
		want slothSLI
	}{
		{"none", nil, slothSLI{Raw: &slothRaw{ErrorRatioQuery: rec}}},
		{"good/total", &model.Telemetry{Good: "g[{{.window}}]", Total: "t[{{.window}}]"},
			slothSLI{Events: &slothEvents{ErrorQuery: "(t[{{.window}}]) - (g[{{.window}}])", TotalQuery: "t[{{.window}}]"}}},
		{"bad/total", &model.Telemetry{Bad: "b[{{ .window }}]", Total: "t[{{ .window }}]"},
			slothSLI{Events: &slothEvents{ErrorQuery: "b[{{ .window }}]", TotalQuery: "t[{{ .window }}]"}}},
		{"fixed range", &model.Telemetry{Good: "g[30d]", Total: "t[30d]"}, slothSLI{Raw: &slothRaw{ErrorRatioQuery: rec}}},
		{"one fixed range", &model.Telemetry{Bad: "b[{{.window}}]", Total: "t[30d]"}, slothSLI{Raw: &slothRaw{ErrorRatioQuery: rec}}},
		{"success ratio", &model.Telemetry{Good: "r[{{.window}}]"}, slothSLI{Raw: &slothRaw{ErrorRatioQuery: "1 - (r[{{.window}}])"}}},
		{"error ratio", &model.Telemetry{Bad: "e[{{.window}}]"}, slothSLI{Raw: &slothRaw{ErrorRatioQuery: "e[{{.window}}]"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, slothIndicator(tc.tel, "j", "c")); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	// Names are PromQL string literals and template text.
	got := slothIndicator(nil, `a"b`, "x{{y}}").Raw.ErrorRatioQuery
	want := `emac:component_error:ratio_rate{{.window}}{emac_journey="a\"b",emac_component="x{{"{{"}}y}}"}`
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestDNSLabel(t *testing.T) {
	long := strings.Repeat("a", 70)
	for _, tc := range []struct{ in, want string }{
		{"checkout", "checkout"},
		{"checkout-paya-required", "checkout-paya-required"},
		{"Cart", "cart-185551af"},
		{"k8s/zone", "k8s-zone-0777f376"},
		{"-x-", "x-414f9517"},
		{"///", "x1d37d324"},
		{long, strings.Repeat("a", 54) + "-5904740b"},
	} {
		got := dnsLabel(tc.in)
		if got != tc.want {
			t.Errorf("dnsLabel(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if len(got) > maxLabel || strings.Trim(got, "-") != got || strings.ToLower(got) != got {
			t.Errorf("dnsLabel(%q) = %q is not a DNS label", tc.in, got)
		}
	}
	// Names differing only in replaced characters stay apart.
	names := []string{"a/b", "a-b", "a.b", "A-b", "a_b"}
	seen := map[string]string{}
	for _, n := range names {
		l := dnsLabel(n)
		if o, dup := seen[l]; dup {
			t.Errorf("dnsLabel(%q) = dnsLabel(%q) = %q", n, o, l)
		}
		seen[l] = n
	}
}

func TestShorthand(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{{"30d", "30d"}, {"4w", "28d"}, {"36h", "36h"}, {"1h30m", "90m"}, {"90s", "2m"}} {
		d, err := v1alpha1.ParseDuration(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := shorthand(time.Duration(d)); got != tc.want {
			t.Errorf("shorthand(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// TestNoInput: a missing journey or result is an error, not a panic.
func TestNoInput(t *testing.T) {
	for _, in := range []*emit.Input{nil, {}, {Journey: everyOperator(t)}} {
		if _, err := Emit(in); err == nil {
			t.Errorf("Emit(%+v) succeeded", in)
		}
	}
}
