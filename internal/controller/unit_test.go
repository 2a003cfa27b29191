package controller

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	kubev1 "github.com/emac-dev/emac/api/kube/v1alpha1"
	wire "github.com/emac-dev/emac/api/v1alpha1"
)

// journeyObject reads a Journey manifest as the controller reads the
// object the API server hands it: unstructured.
func journeyObject(t *testing.T, doc string) *journey {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		t.Fatal(err)
	}
	u.SetNamespace("shop")
	u.SetUID("uid-1")
	u.SetGeneration(1)
	j, err := journeyFrom(u)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// jsonOf is a YAML value as the API server stores it (JSON values).
func jsonOf(t *testing.T, doc string) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestCompileJourney(t *testing.T) {
	catalog := specDoc{Name: "payments", Namespace: "shop",
		Spec: jsonOf(t, `{components: {paya: {slo: {availability: 99.5%}, domains: [net]}, payb: {slo: {availability: 99.5%}, domains: [net]}}}`)}
	base := checkout("payment-network", false)
	usesCatalog := strings.NewReplacer(
		"    paya: {slo: {availability: 99.5%}, domains: [payment-network]}\n", "",
		"    payb: {slo: {availability: 99.5%}, domains: [payment-network]}\n", "",
		"  failureDomains:\n", "  catalogs: [payments]\n  failureDomains:\n",
	).Replace(checkout("payment-network", true))
	tests := []struct {
		name     string
		doc      string
		catalogs []specDoc
		// want: the decision, or with "invalid: " substrings of the
		// diagnostics, separated by "|"
		want  string
		files []string // object files compiled
	}{
		{name: "checkout", doc: checkout("payment-network", true), want: "FAIL",
			files: []string{"argo/analysistemplate.yaml", "guards/promote.vap.yaml", "prometheus/prometheusrule.yaml"}},
		{name: "separate networks", doc: checkout("payment-network-b", false), want: "PASS",
			files: []string{"argo/analysistemplate.yaml", "prometheus/prometheusrule.yaml"}},
		{name: "flagger", doc: strings.Replace(checkout("payment-network", false), "argo-rollouts", "flagger", 1), want: "FAIL",
			files: []string{"flagger/metrictemplate.yaml", "prometheus/prometheusrule.yaml"}},
		{name: "catalog", doc: usesCatalog, catalogs: []specDoc{catalog}, want: "FAIL"},
		{name: "catalog missing", doc: usesCatalog, want: `invalid: journeys/checkout.yaml:|unknown catalog "payments"`},
		{name: "unknown component", doc: strings.Replace(checkout("payment-network", false), "- front\n", "- frnot\n", 1),
			want: `invalid: journeys/checkout.yaml:|"frnot"|did you mean "front"`},
		{name: "sloRef", doc: strings.Replace(checkout("payment-network", false), "cart: {slo: {availability: 99.9%}", "cart: {sloRef: slo/cart.yaml", 1),
			want: "invalid: slo/cart.yaml"},
		// Values the wire types cannot decode, which the CRD's schema lets
		// through: the loader's positioned diagnostics, not a failure.
		{name: "target a word", doc: strings.Replace(base, "target: 99.5%", `target: "high"`, 1),
			want: `invalid: journeys/checkout.yaml:|: error: "high" is not a number or a percentage|target: high`},
		{name: "target a list", doc: strings.Replace(base, "target: 99.5%", "target: [99.5]", 1),
			want: `invalid: journeys/checkout.yaml:|expected a probability such as 0.995 or "99.5%", got a list`},
		{name: "flow a number", doc: strings.Replace(base, "flow:\n    seq:\n      - front\n      - all: [cart, pricing]\n      - race: [paya, payb]\n", "flow: 5\n", 1),
			want: `invalid: journeys/checkout.yaml:|unknown component "5"`},
		{name: "window a fraction of days", doc: strings.Replace(base, "window: 30d", "window: 1.5d", 1),
			want: `invalid: journeys/checkout.yaml:|"1.5d" is not a duration`},
		{name: "catalog SLO a word", doc: usesCatalog, catalogs: []specDoc{{Name: "payments", Namespace: "shop",
			Spec: jsonOf(t, `{components: {paya: {slo: {availability: most}, domains: [net]}, payb: {slo: {availability: 99.5%}, domains: [net]}}}`)}},
			want: `invalid: catalogs/payments.yaml:|"most" is not a number or a percentage`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.doc == base {
				t.Fatal("the replacement changed nothing")
			}
			c, err := compileJourney(context.Background(), journeyObject(t, tt.doc).doc(), tt.catalogs)
			if err != nil {
				t.Fatal(err)
			}
			if w, ok := strings.CutPrefix(tt.want, "invalid: "); ok {
				for _, s := range strings.Split(w, "|") {
					if !strings.Contains(c.Invalid, s) {
						t.Errorf("diagnostics: got %q, want %q in them", c.Invalid, s)
					}
				}
				return
			}
			if c.Invalid != "" {
				t.Fatalf("got diagnostics %s, want %s", c.Invalid, tt.want)
			}
			if got := c.Journey.Input.Result.Decision; got != tt.want {
				t.Errorf("decision: got %s, want %s", got, tt.want)
			}
			if tt.files != nil {
				var got []string
				for _, f := range c.Journey.Files {
					if isObjectFile(f.Path) {
						got = append(got, f.Path)
					}
				}
				if strings.Join(got, " ") != strings.Join(tt.files, " ") {
					t.Errorf("object files: got %q, want %q", got, tt.files)
				}
			}
		})
	}
}

func TestToYAML(t *testing.T) {
	tests := []struct {
		in   any
		spec reflect.Type
		want string
	}{
		{in: map[string]any{"a": []any{"x", map[string]any{"race": []any{"p", "q"}}}}, want: "a:\n  - x\n  - race:\n      - p\n      - q\n"},
		{in: map[string]any{"target": "99.5%", "n": 0.995, "yes": "true"}, want: "n: 0.995\ntarget: 99.5%\nyes: \"true\"\n"},
		// a spec's fields in the wire type's order, unknown ones last; a
		// flow as written
		{in: map[string]any{"kind": "Journey", "spec": map[string]any{
			"components": map[string]any{"a": map[string]any{"slo": map[string]any{"window": "1d", "availability": "high"}, "domains": []any{"z"}}},
			"flow":       map[string]any{"seq": []any{"a"}},
			"objectives": map[string]any{"availability": map[string]any{"window": "30d", "target": 0.9}},
			"extra":      1,
			"catalogs":   []any{"c"},
		}}, spec: reflect.TypeFor[wire.JourneySpec](),
			want: "kind: Journey\nspec:\n  objectives:\n    availability:\n      target: 0.9\n      window: 30d\n  flow:\n    seq:\n      - a\n" +
				"  components:\n    a:\n      slo:\n        availability: high\n        window: 1d\n      domains:\n        - z\n  catalogs:\n    - c\n  extra: 1\n"},
	}
	for _, tt := range tests {
		got, err := toYAML(tt.in, tt.spec)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tt.want {
			t.Errorf("toYAML(%v): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestIsObjectFile(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"prometheus/prometheusrule.yaml", true},
		{"prometheus/rules.yaml", false},
		{"prometheus/rules_test.yaml", false},
		{"argo/analysistemplate.yaml", true},
		{"argo/rollout-snippet.yaml", false},
		{"flagger/metrictemplate.yaml", true},
		{"flagger/canary-analysis.yaml", false},
		{"guards/promote.vap.yaml", true},
		{"guards/promote.rego", false},
		{"openslo/journey.yaml", false},
		{"report.md", false},
	}
	for _, tt := range tests {
		if got := isObjectFile(tt.path); got != tt.want {
			t.Errorf("isObjectFile(%q): got %v, want %v", tt.path, got, tt.want)
		}
	}
}

// fakeMapper serves PrometheusRule (namespaced) and the admission kinds
// (cluster-scoped), and nothing else.
func fakeMapper() meta.RESTMapper {
	m := meta.NewDefaultRESTMapper(nil)
	m.Add(prometheusRule, meta.RESTScopeNamespace)
	m.Add(policy, meta.RESTScopeRoot)
	m.Add(binding, meta.RESTScopeRoot)
	return m
}

func TestPrepare(t *testing.T) {
	j := journeyObject(t, checkout("payment-network", true))
	c, err := compileJourney(context.Background(), j.doc(), nil)
	if err != nil || c.Invalid != "" {
		t.Fatalf("compile: %v %s", err, c.Invalid)
	}
	objs, err := decodeArtifacts(c.Journey.Files)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := prepare(j, objs, newKinds(fakeMapper()))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range ds {
		s := d.gvk.Kind + " " + d.obj.GetNamespace() + "/" + d.obj.GetName()
		if d.skipped {
			s += " skipped"
		}
		if !d.skipped && (d.obj.GetLabels()[LabelJourneyNamespace] != "shop" || d.obj.GetAnnotations()[AnnotationDigest] != d.digest) {
			s += " unlabelled"
		}
		if ref := metav1.GetControllerOf(d.obj); ref != nil {
			s += " owned by " + ref.Name
		}
		got = append(got, s)
	}
	want := []string{
		"AnalysisTemplate shop/emac-checkout skipped",
		"PrometheusRule shop/emac-checkout owned by checkout",
		"ValidatingAdmissionPolicy /shop.emac-checkout-promote",
		"ValidatingAdmissionPolicyBinding /shop.emac-checkout-promote",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("prepare:\ngot  %q\nwant %q", got, want)
	}
	for _, d := range ds {
		if d.gvk.Kind == "ValidatingAdmissionPolicyBinding" {
			if p, _, _ := unstructured.NestedString(d.obj.Object, "spec", "policyName"); p != "shop.emac-checkout-promote" {
				t.Errorf("binding policyName: got %q, want the renamed policy", p)
			}
		}
	}
	again, err := prepare(j, objs, newKinds(fakeMapper()))
	if err != nil {
		t.Fatal(err)
	}
	for i := range ds {
		if ds[i].digest != again[i].digest {
			t.Errorf("%s: digest %s then %s, want it stable", ds[i].gvk.Kind, ds[i].digest, again[i].digest)
		}
	}
}

func TestUpToDate(t *testing.T) {
	d := &desired{obj: &unstructured.Unstructured{}, gvk: prometheusRule, digest: "d1"}
	d.obj.SetNamespace("shop")
	d.obj.SetName("emac-checkout")
	d.obj.SetLabels(map[string]string{LabelJourney: "checkout"})
	live := func(digest, uid string, gen int64, label string) *metav1.PartialObjectMetadata {
		return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
			Annotations: map[string]string{AnnotationDigest: digest}, UID: types.UID(uid), Generation: gen,
			Labels: map[string]string{LabelJourney: label}}}
	}
	jk := types.NamespacedName{Namespace: "shop", Name: "checkout"}
	tests := []struct {
		name   string
		record *appliedState
		live   *metav1.PartialObjectMetadata
		want   bool
	}{
		{name: "missing", live: nil, want: false},
		{name: "ours, applied before a restart", live: live("d1", "u", 1, "checkout"), want: true},
		{name: "another digest, before a restart", live: live("d0", "u", 1, "checkout"), want: false},
		{name: "as applied", record: &appliedState{"d1", "u", 2, ""}, live: live("d1", "u", 2, "checkout"), want: true},
		{name: "cache behind the last apply", record: &appliedState{"d1", "u", 2, ""}, live: live("d0", "u", 1, "checkout"), want: true},
		{name: "edited by someone", record: &appliedState{"d1", "u", 2, ""}, live: live("d1", "u", 3, "checkout"), want: false},
		{name: "labels stripped", record: &appliedState{"d1", "u", 2, ""}, live: live("d1", "u", 2, ""), want: false},
		{name: "replaced", record: &appliedState{"d1", "u", 2, ""}, live: live("d1", "v", 2, "checkout"), want: false},
		{name: "journey changed", record: &appliedState{"d0", "u", 2, ""}, live: live("d0", "u", 2, "checkout"), want: false},
		// kinds without a generation (ConfigMaps) compare resourceVersions
		{name: "no generation, as applied", record: &appliedState{"d1", "u", 0, "7"}, live: withRV(live("d1", "u", 0, "checkout"), "7"), want: true},
		{name: "no generation, edited by someone", record: &appliedState{"d1", "u", 0, "7"}, live: withRV(live("d1", "u", 0, "checkout"), "9"), want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApplied()
			if tt.record != nil {
				a.set(jk, d.key(), *tt.record)
			}
			if got := a.upToDate(jk, d, tt.live); got != tt.want {
				t.Errorf("upToDate: got %v, want %v", got, tt.want)
			}
		})
	}
}

func withRV(m *metav1.PartialObjectMetadata, rv string) *metav1.PartialObjectMetadata {
	m.ResourceVersion = rv
	return m
}

func TestSameStatus(t *testing.T) {
	now := metav1.Now()
	one := 1.0
	tests := []struct {
		name string
		a, b kubev1.JourneyStatus
		want bool
	}{
		{name: "empty", want: true},
		{name: "lastEvaluated aside", a: kubev1.JourneyStatus{Decision: "PASS", LastEvaluated: &now}, b: kubev1.JourneyStatus{Decision: "PASS"}, want: true},
		{name: "nil and empty lists", a: kubev1.JourneyStatus{Reasons: []string{}}, b: kubev1.JourneyStatus{}, want: true},
		{name: "equal pointers' values", a: kubev1.JourneyStatus{Confidence: &one}, b: kubev1.JourneyStatus{Confidence: new(float64)}, want: false},
		{name: "decision", a: kubev1.JourneyStatus{Decision: "PASS"}, b: kubev1.JourneyStatus{Decision: "FAIL"}, want: false},
	}
	for _, tt := range tests {
		if got := sameStatus(&tt.a, &tt.b); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

// noWrites is a client that fails the test on a status write.
type noWrites struct {
	client.Client
	t *testing.T
}

func (c noWrites) Status() client.SubResourceWriter {
	c.t.Fatal("a status write")
	return nil
}

// TestWriteStatusCacheBehind: while the cache has not seen the status last
// written from the journey's version, nothing is written from that
// version: the same status is done, another is computed again later.
func TestWriteStatusCacheBehind(t *testing.T) {
	r := &JourneyReconciler{client: noWrites{t: t}, now: time.Now}
	j := &journey{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "checkout", ResourceVersion: "5"}}
	pass := kubev1.JourneyStatus{Decision: wire.DecisionPass}
	r.written.set(types.NamespacedName{Namespace: "shop", Name: "checkout"}, writtenStatus{base: "5", status: statusJSON(&pass), rv: "7"})
	for _, tt := range []struct {
		st      kubev1.JourneyStatus
		requeue bool
	}{{pass, false}, {kubev1.JourneyStatus{Decision: wire.DecisionFail}, true}} {
		requeue, err := r.writeStatus(context.Background(), j, tt.st)
		if err != nil || requeue != tt.requeue {
			t.Errorf("status %s: got requeue %v, %v; want %v, no error", tt.st.Decision, requeue, err, tt.requeue)
		}
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{strings.Repeat("a", 40), 30, strings.Repeat("a", 30-len("\n… (truncated)")) + "\n… (truncated)"},
		{strings.Repeat("é", 20), 21, "éé\n… (truncated)"}, // 16 bytes of marker, never half an é
	}
	for _, tt := range tests {
		got := truncate(tt.s, tt.n)
		if got != tt.want || len(got) > tt.n {
			t.Errorf("truncate(%q, %d): got %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
}

func TestOwnerJourney(t *testing.T) {
	r := &JourneyReconciler{applied: newApplied()}
	obj := func(labels map[string]string, owner string) *metav1.PartialObjectMetadata {
		o := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "emac-checkout", Labels: labels, UID: "u", Generation: 1,
			Annotations: map[string]string{AnnotationDigest: "d1"}}}
		o.SetGroupVersionKind(prometheusRule)
		if owner != "" {
			yes := true
			o.OwnerReferences = []metav1.OwnerReference{{APIVersion: "emac.dev/v1alpha1", Kind: "Journey", Name: owner, Controller: &yes}}
		}
		return o
	}
	ours := map[string]string{LabelManagedBy: "emac", LabelJourney: "checkout", LabelJourneyNamespace: "shop"}
	tests := []struct {
		name string
		o    *metav1.PartialObjectMetadata
		own  bool // recorded as the controller's last apply
		want string
	}{
		{name: "labelled", o: obj(ours, ""), want: "shop/checkout"},
		{name: "the controller's own write", o: obj(ours, ""), own: true, want: ""},
		{name: "compiled by hand", o: obj(map[string]string{LabelManagedBy: "emac", LabelJourney: "checkout"}, ""), want: ""},
		{name: "labels stripped, owner kept", o: obj(nil, "checkout"), want: "shop/checkout"},
		{name: "unrelated", o: obj(nil, ""), want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jk := types.NamespacedName{Namespace: "shop", Name: "checkout"}
			r.applied.forgetJourney(jk)
			if tt.own {
				r.applied.set(jk, objectKey{gvk: prometheusRule, namespace: "shop", name: "emac-checkout"}, appliedState{digest: "d1", uid: "u", generation: 1})
			}
			var got []string
			for _, req := range r.ownerJourney(context.Background(), tt.o) {
				got = append(got, req.String())
			}
			if strings.Join(got, ",") != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestJourneyMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := registerMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	again, err := registerMetrics(reg)
	if err != nil || again != m {
		t.Fatalf("registering twice: got %p, %v; want the first collector", again, err)
	}
	jk := types.NamespacedName{Namespace: "shop", Name: "checkout"}
	m.set(jk, &wire.JourneyResult{Decision: wire.DecisionFail, Availability: wire.AvailabilityResult{Target: 0.995, Optimistic: 0.9975, Pessimistic: 0.9925, Floor: 0.99}})
	want := []string{
		`emac_journey_availability{bound="floor",journey="checkout",namespace="shop"} 0.99`,
		`emac_journey_availability{bound="optimistic",journey="checkout",namespace="shop"} 0.9975`,
		`emac_journey_availability{bound="pessimistic",journey="checkout",namespace="shop"} 0.9925`,
		`emac_journey_decision{decision="FAIL",journey="checkout",namespace="shop"} 1`,
		`emac_journey_decision{decision="PASS",journey="checkout",namespace="shop"} 0`,
		`emac_journey_decision{decision="REVIEW",journey="checkout",namespace="shop"} 0`,
		`emac_journey_objective{journey="checkout",namespace="shop"} 0.995`,
	}
	if got := series(t, reg); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("series:\ngot  %q\nwant %q", got, want)
	}
	m.forget(jk)
	if got := series(t, reg); len(got) != 0 {
		t.Errorf("after forget: got %q, want no series", got)
	}
}

// series gathers reg as sorted `name{labels} value` lines.
func series(t *testing.T, reg *prometheus.Registry) []string {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			out = append(out, fmt.Sprintf("%s{%s} %v", f.GetName(), strings.Join(ls, ","), m.GetGauge().GetValue()))
		}
	}
	slices.Sort(out)
	return out
}
