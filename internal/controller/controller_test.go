package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	kubev1 "github.com/emac-dev/emac/api/kube/v1alpha1"
	wire "github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/kubetest"
)

var (
	prometheusRule   = schema.GroupVersionKind{Group: "monitoring.coreos.com", Version: "v1", Kind: "PrometheusRule"}
	analysisTemplate = schema.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "AnalysisTemplate"}
	metricTemplate   = schema.GroupVersionKind{Group: "flagger.app", Version: "v1beta1", Kind: "MetricTemplate"}
	policy           = schema.GroupVersionKind{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "ValidatingAdmissionPolicy"}
	binding          = schema.GroupVersionKind{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "ValidatingAdmissionPolicyBinding"}
)

// checkout is examples/native/checkout.yaml with its components' SLOs
// inline (sloRef files do not exist in a cluster) and the front measured,
// so that the rollout gates are compiled. payb's domain and the action
// are parameters.
func checkout(paybDomain string, action bool) string {
	s := `apiVersion: emac.dev/v1alpha1
kind: Journey
metadata: {name: checkout}
spec:
  objectives:
    availability: {target: 99.5%, window: 30d}
    latency: {percentile: 99, threshold: 400ms}
  flow:
    seq:
      - front
      - all: [cart, pricing]
      - race: [paya, payb]
  components:
    front:
      slo: {availability: 99.95%}
      domains: [k8s/zone, k8s/cluster]
      telemetry:
        good: sum(rate(http_requests_total{service="front",code!~"5.."}[{{.window}}]))
        total: sum(rate(http_requests_total{service="front"}[{{.window}}]))
    cart: {slo: {availability: 99.9%}, domains: [k8s/zone, k8s/cluster]}
    pricing: {slo: {availability: 99.9%}, domains: [k8s/zone, k8s/cluster]}
    paya: {slo: {availability: 99.5%}, domains: [payment-network]}
    payb: {slo: {availability: 99.5%}, domains: [PAYB]}
  failureDomains:
    k8s/zone: {description: one availability zone}
    k8s/cluster: {description: all components share the cluster control plane}
    payment-network: {description: common-cause failures of the external payment providers}
  governance:
    decision: {availability: pessimistic, minConfidence: 0.8}
    rollout: {provider: argo-rollouts}
`
	s = strings.Replace(s, "PAYB", paybDomain, 1)
	if action {
		s += `    actions:
      - name: promote
        guard: A_minus >= objective.availability && confidence >= 0.8 && !domain_conflict
        limits: {maxTrafficStep: 0.5}
        target: {apiVersion: networking.istio.io/v1, kind: VirtualService, name: checkout}
`
	}
	return s
}

// TestJourneyLifecycle: a journey's objects appear with their owner and
// content, its status follows the spec (the paper's FAIL with a shared
// payment network, PASS once payb has its own), removing the action
// removes its admission policy, and deleting the journey removes the
// cluster-scoped objects.
func TestJourneyLifecycle(t *testing.T) {
	e := start(t, Options{})
	e.apply(checkout("payment-network", true))
	j := e.waitJourney("checkout", func(j *kubev1.Journey) string {
		if why := ready(j); why != "" {
			return why
		}
		return ""
	})
	a := j.Status.Availability
	if j.Status.Decision != wire.DecisionFail || a == nil || math.Abs(a.Pessimistic-0.99251449) > 1e-8 || math.Abs(a.Optimistic-0.99747706) > 1e-8 ||
		a.Target != 0.995 || !slices.Equal(a.Binding, []string{"payment-network"}) {
		t.Errorf("shared payment network: got decision %s availability %+v, want FAIL with A- 0.99251449 A+ 0.99747706 bound by payment-network", j.Status.Decision, a)
	}
	if j.Status.Mode != wire.ModeContract || j.Status.Confidence == nil || *j.Status.Confidence != 1 || j.Status.LastEvaluated == nil || j.Status.Latency == nil {
		t.Errorf("status: got mode %q confidence %v lastEvaluated %v latency %v, want contract, 1, set, set", j.Status.Mode, j.Status.Confidence, j.Status.LastEvaluated, j.Status.Latency)
	}
	for _, c := range []struct {
		typ    string
		status metav1.ConditionStatus
		reason string
	}{
		{kubev1.ConditionCompiled, metav1.ConditionTrue, ReasonCompiled},
		{kubev1.ConditionArtifactsApplied, metav1.ConditionTrue, ReasonApplied},
		{kubev1.ConditionEvidenceFresh, metav1.ConditionFalse, ReasonContractMode},
		{kubev1.ConditionReady, metav1.ConditionTrue, ReasonEvaluated},
	} {
		if why := conditionIs(j, c.typ, c.status, c.reason); why != "" {
			t.Error(why)
		}
	}
	if !slices.Contains(j.Finalizers, Finalizer) {
		t.Errorf("finalizers: got %q, want %s while the journey has an admission policy", j.Finalizers, Finalizer)
	}
	policyName := e.ns + ".emac-checkout-promote"
	wantRefs := []kubev1.ArtifactRef{
		{APIVersion: "argoproj.io/v1alpha1", Kind: "AnalysisTemplate", Name: "emac-checkout"},
		{APIVersion: "monitoring.coreos.com/v1", Kind: "PrometheusRule", Name: "emac-checkout"},
		{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingAdmissionPolicy", Name: policyName},
		{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingAdmissionPolicyBinding", Name: policyName},
	}
	if !slices.Equal(j.Status.Artifacts, wantRefs) {
		t.Errorf("status.artifacts: got %+v, want %+v", j.Status.Artifacts, wantRefs)
	}

	// Namespaced objects are controlled by the journey; their content is
	// the journey's compilation.
	for _, gvk := range []schema.GroupVersionKind{prometheusRule, analysisTemplate} {
		u, err := e.get(gvk, e.ns, "emac-checkout")
		if err != nil {
			t.Fatalf("%s: %v", gvk.Kind, err)
		}
		ref := metav1.GetControllerOf(u)
		if ref == nil || ref.UID != j.UID || ref.Kind != "Journey" || ref.Name != "checkout" || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
			t.Errorf("%s owner: got %+v, want the journey %s as controller", gvk.Kind, ref, j.UID)
		}
		if l := u.GetLabels(); l[LabelJourney] != "checkout" || l[LabelJourneyNamespace] != e.ns || l[LabelManagedBy] != "emac" {
			t.Errorf("%s labels: got %v", gvk.Kind, l)
		}
	}
	rule, _ := e.get(prometheusRule, e.ns, "emac-checkout")
	records := recordsOf(rule)
	for _, want := range []string{"emac:journey_availability:ratio", "emac:component_error:ratio_rate5m", "emac:journey_error:ratio_rate1h"} {
		if !slices.Contains(records, want) {
			t.Errorf("PrometheusRule: records %q, want %s among them", records, want)
		}
	}
	if _, err := e.get(policy, "", policyName); err != nil {
		t.Errorf("ValidatingAdmissionPolicy %s: %v", policyName, err)
	}
	b, err := e.get(binding, "", policyName)
	if err != nil {
		t.Fatalf("ValidatingAdmissionPolicyBinding %s: %v", policyName, err)
	}
	if got, _, _ := unstructured.NestedString(b.Object, "spec", "policyName"); got != policyName {
		t.Errorf("binding policyName: got %q, want %q", got, policyName)
	}
	if got, _, _ := unstructured.NestedString(b.Object, "spec", "paramRef", "namespace"); got != e.ns {
		t.Errorf("binding paramRef namespace: got %q, want the journey's %q", got, e.ns)
	}
	e.waitEvent("checkout", "Warning DecisionChanged: decision FAIL (was none)")

	// payb on its own network: PASS.
	e.apply(checkout("payment-network-b", true))
	j = e.waitJourney("checkout", func(j *kubev1.Journey) string {
		if j.Status.Decision != wire.DecisionPass {
			return "decision " + j.Status.Decision
		}
		return ready(j)
	})
	if a := j.Status.Availability; math.Abs(a.Pessimistic-0.99747706) > 1e-8 {
		t.Errorf("separate payment networks: A- %.8f, want 0.99747706", a.Pessimistic)
	}
	e.waitEvent("checkout", "Normal DecisionChanged: decision PASS (was FAIL)")

	// Without the action, its policy and binding go, and so does the
	// finalizer.
	e.apply(checkout("payment-network-b", false))
	e.gone(policy, "", policyName)
	e.gone(binding, "", policyName)
	j = e.waitJourney("checkout", func(j *kubev1.Journey) string {
		if len(j.Status.Artifacts) != 2 {
			return fmt.Sprintf("artifacts %+v", j.Status.Artifacts)
		}
		if slices.Contains(j.Finalizers, Finalizer) {
			return "finalizer still there"
		}
		return ready(j)
	})
	if _, err := e.get(prometheusRule, e.ns, "emac-checkout"); err != nil {
		t.Errorf("PrometheusRule after removing the action: %v", err)
	}

	// The action back, then the journey deleted: the finalizer removes the
	// cluster-scoped objects (namespaced ones are the garbage collector's,
	// which envtest does not run).
	e.apply(checkout("payment-network-b", true))
	e.waitFor(30*time.Second, "the policy back", func() (bool, string) {
		_, err := e.get(policy, "", policyName)
		return err == nil, fmt.Sprint(err)
	})
	if err := e.c.Delete(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	e.gone(policy, "", policyName)
	e.gone(binding, "", policyName)
	e.waitFor(30*time.Second, "the journey deleted", func() (bool, string) {
		_, err := e.journey("checkout")
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
}

// recordsOf lists a PrometheusRule's recorded series.
func recordsOf(u *unstructured.Unstructured) []string {
	groups, _, _ := unstructured.NestedSlice(u.Object, "spec", "groups")
	var out []string
	for _, g := range groups {
		rules, _, _ := unstructured.NestedSlice(g.(map[string]any), "rules")
		for _, r := range rules {
			if rec, ok := r.(map[string]any)["record"].(string); ok && !slices.Contains(out, rec) {
				out = append(out, rec)
			}
		}
	}
	return out
}

// TestSpecError: an unknown component in the flow and a sloRef (no files
// in a cluster) are Compiled=False with the loader's diagnostics, without
// retries; fixing the spec makes the journey Ready.
func TestSpecError(t *testing.T) {
	e := start(t, Options{})
	tests := []struct {
		name string
		from string // replaced in checkout's spec
		to   string
		want []string // substrings of the Compiled message
	}{
		{name: "unknown component", from: "      - front\n", to: "      - frnot\n",
			want: []string{"journeys/checkout.yaml:", `"frnot"`, `did you mean "front"`}},
		{name: "sloRef", from: "cart: {slo: {availability: 99.9%}, domains", to: "cart: {sloRef: ../openslo/slo.cart.yaml, domains",
			want: []string{"journeys/checkout.yaml:", "slo.cart.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.t = t
			bad := strings.Replace(checkout("payment-network", false), tt.from, tt.to, 1)
			if bad == checkout("payment-network", false) {
				t.Fatal("the replacement changed nothing")
			}
			e.apply(bad)
			j := e.waitJourney("checkout", func(j *kubev1.Journey) string {
				return conditionIs(j, kubev1.ConditionCompiled, metav1.ConditionFalse, ReasonSpecInvalid)
			})
			msg := meta.FindStatusCondition(j.Status.Conditions, kubev1.ConditionCompiled).Message
			t.Logf("Compiled=False: %s", msg)
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("Compiled message: got %q, want it to contain %q", msg, w)
				}
			}
			if strings.Contains(msg, "\x1b[") {
				t.Errorf("Compiled message has colours: %q", msg)
			}
			if why := conditionIs(j, kubev1.ConditionReady, metav1.ConditionFalse, ReasonSpecInvalid); why != "" {
				t.Error(why)
			}
			if j.Status.Decision != "" || j.Status.Availability != nil {
				t.Errorf("invalid spec: got decision %q availability %+v, want none", j.Status.Decision, j.Status.Availability)
			}
			e.waitEvent("checkout", "Warning SpecInvalid: journeys/checkout.yaml:")
			// No requeue storm: nothing more happens until the spec changes.
			seen := reconciles(t)
			e.quiet(2*time.Second, "an invalid spec, unchanged")
			if n := reconciles(t) - seen; n > 0 {
				t.Errorf("an invalid spec, unchanged: got %v reconciles in 2s, want none", n)
			}

			e.apply(checkout("payment-network", false))
			e.waitJourney("checkout", ready)
		})
	}
}

// TestUndecodableSpec: the CRD's schema cannot type a ratio (a number or
// a percent string) or a flow, so the API server stores values emac's
// types cannot decode. Such a journey is a spec error with the loader's
// positioned diagnostic, like any other, and the other journeys of its
// namespace go on reconciling; so does a broken catalog, and a delta.
func TestUndecodableSpec(t *testing.T) {
	e := start(t, Options{})
	good := checkout("payment-network", false)
	e.apply(good)
	named := func(doc string) string {
		return strings.Replace(doc, "metadata: {name: checkout}", "metadata: {name: broken}", 1)
	}
	flow := "flow:\n    seq:\n      - front\n      - all: [cart, pricing]\n      - race: [paya, payb]\n"
	if !strings.Contains(good, flow) {
		t.Fatal("checkout's flow changed: fix the test")
	}
	tests := []struct {
		name     string
		from, to string // replaced in checkout's spec
		want     string // a regexp of the Compiled message
	}{
		{name: "target a word", from: "target: 99.5%", to: `target: "high"`,
			want: `journeys/broken\.yaml:\d+:\d+: error: "high" is not a number or a percentage`},
		{name: "target a list", from: "target: 99.5%", to: "target: [99.5]",
			want: `journeys/broken\.yaml:\d+:\d+: error: expected a probability such as 0\.995 or "99\.5%", got a list`},
		{name: "flow a number", from: flow, to: "flow: 5\n",
			want: `journeys/broken\.yaml:\d+:\d+: error: unknown component "5"`},
		{name: "SLO a word", from: "paya: {slo: {availability: 99.5%}", to: "paya: {slo: {availability: most}",
			want: `journeys/broken\.yaml:\d+:\d+: error: "most" is not a number or a percentage`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.t = t
			bad := named(strings.Replace(good, tt.from, tt.to, 1))
			if bad == named(good) {
				t.Fatal("the replacement changed nothing")
			}
			e.apply(bad)
			j := e.waitJourney("broken", func(j *kubev1.Journey) string {
				return conditionIs(j, kubev1.ConditionCompiled, metav1.ConditionFalse, ReasonSpecInvalid)
			})
			msg := meta.FindStatusCondition(j.Status.Conditions, kubev1.ConditionCompiled).Message
			t.Logf("Compiled=False: %s", msg)
			if !regexp.MustCompile(tt.want).MatchString(msg) {
				t.Errorf("Compiled message: got %q, want it to match %s", msg, tt.want)
			}
			if why := conditionIs(j, kubev1.ConditionReady, metav1.ConditionFalse, ReasonSpecInvalid); why != "" {
				t.Error(why)
			}
			// The valid journey of the namespace still follows its changes.
			decision := []string{wire.DecisionPass, wire.DecisionFail}[i%2]
			e.apply(checkout([]string{"payment-network-b", "payment-network"}[i%2], false))
			e.waitJourney("checkout", func(j *kubev1.Journey) string {
				if j.Status.Decision != decision {
					return "decision " + j.Status.Decision
				}
				return ready(j)
			})
		})
	}
	e.t = t
	e.waitEvent("broken", `Warning SpecInvalid: journeys/broken.yaml:`)
	e.apply(named(good))
	e.waitJourney("broken", ready)

	// A catalog the wire types cannot decode: every journey of the
	// namespace loads it, and says where the problem is.
	e.apply(`apiVersion: emac.dev/v1alpha1
kind: ComponentCatalog
metadata: {name: payments}
spec:
  components:
    paya: {slo: {availability: [most]}, domains: [payment-network]}
`)
	for _, name := range []string{"checkout", "broken"} {
		j := e.waitJourney(name, func(j *kubev1.Journey) string {
			return conditionIs(j, kubev1.ConditionCompiled, metav1.ConditionFalse, ReasonSpecInvalid)
		})
		msg := meta.FindStatusCondition(j.Status.Conditions, kubev1.ConditionCompiled).Message
		if want := `catalogs/payments\.yaml:\d+:\d+: error: expected a probability`; !regexp.MustCompile(want).MatchString(msg) {
			t.Errorf("%s: Compiled message: got %q, want it to match %s", name, msg, want)
		}
	}
	cat := newObject(catalogGVK)
	cat.SetNamespace(e.ns)
	cat.SetName("payments")
	if err := e.c.Delete(context.Background(), cat); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"checkout", "broken"} {
		e.waitJourney(name, ready)
	}

	// A delta whose flow the wire types cannot decode is still marked
	// Pending.
	e.apply(`apiVersion: emac.dev/v1alpha1
kind: ModelDelta
metadata: {name: checkout-flow}
spec:
  spec: specs/checkout.yaml
  specDigest: 0f0f
  journey: checkout
  confidence: 0.9
  before: {optimistic: 0.99747706, pessimistic: 0.99747706, decision: PASS, flow: "Series(front, Race(paya, payb))"}
  after: {optimistic: 0.99747706, pessimistic: 0.99251449, decision: FAIL, flow: "Series(front, Race(paya, payb))"}
  changes:
    - {kind: flow, summary: a number for a flow, applied: true, basis: traces, confidence: 0.9, edits: [{flow: 5}]}
`)
	e.waitFor(30*time.Second, "the delta Pending", func() (bool, string) {
		md, err := e.get(modelDeltaGVK, e.ns, "checkout-flow")
		if err != nil {
			return false, err.Error()
		}
		phase, _, _ := unstructured.NestedString(md.Object, "status", "phase")
		return phase == kubev1.PhasePending, fmt.Sprintf("status %v", md.Object["status"])
	})
}

// TestIdempotent: once a journey has converged, reconciling it again,
// directly or because its metadata changed, writes nothing.
func TestIdempotent(t *testing.T) {
	e := start(t, Options{})
	e.apply(checkout("payment-network", true))
	e.apply(readFile(t, "../service/testdata/gate/shop.yaml"))
	for _, name := range []string{"checkout", "shop"} {
		e.waitJourney(name, ready)
	}
	e.quiet(time.Second, "converged") // the last events drain
	before := e.writes.get()
	const n = 5
	for range n {
		for _, name := range []string{"checkout", "shop"} {
			res, err := e.r.Reconcile(context.Background(), reconcile.Request{NamespacedName: client.ObjectKey{Namespace: e.ns, Name: name}})
			if err != nil || res != (reconcile.Result{}) {
				t.Errorf("reconcile %s: got %+v, %v; want no requeue, no error", name, res, err)
			}
		}
	}
	// A label change (metadata only: the generation stays) reaches the
	// controller through its watch.
	j, err := e.journey("shop")
	if err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(j.DeepCopy())
	j.Labels = map[string]string{"team": "shop"}
	seen := reconciles(t)
	if err := e.c.Patch(context.Background(), j, patch); err != nil {
		t.Fatal(err)
	}
	e.waitFor(10*time.Second, "a reconcile after the label change", func() (bool, string) {
		return reconciles(t) > seen, "none"
	})
	e.quiet(2*time.Second, "an unchanged journey reconciled again")
	if got := e.writes.get() - before; got != 0 {
		t.Errorf("%d reconciles of 2 converged journeys: got %d writes, want 0", 2*n, got)
	}
}

// TestMissingCRD: an artifact whose CRD is not installed is skipped and
// named; once the CRD is back, it is applied.
func TestMissingCRD(t *testing.T) {
	e := start(t, Options{})
	ctx := context.Background()
	flagger := strings.Replace(checkout("payment-network", false), "provider: argo-rollouts", "provider: flagger", 1)
	e.apply(flagger)
	e.waitJourney("checkout", ready)
	if _, err := e.get(metricTemplate, e.ns, "emac-checkout"); err != nil {
		t.Fatalf("MetricTemplate: %v", err)
	}

	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := e.c.Get(ctx, client.ObjectKey{Name: "metrictemplates.flagger.app"}, crd); err != nil {
		t.Fatal(err)
	}
	saved := &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: crd.Name, Labels: crd.Labels, Annotations: crd.Annotations}, Spec: crd.Spec}
	if err := e.c.Delete(ctx, crd); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if restored {
			return
		}
		restored = true
		if err := e.srv.InstallCRDs(ctx, crdYAML(t, saved)); err != nil {
			t.Fatalf("reinstalling the MetricTemplate CRD: %v", err)
		}
	}
	t.Cleanup(restore) // other tests share the server
	e.waitFor(60*time.Second, "the CRD deleted", func() (bool, string) {
		err := e.c.Get(ctx, client.ObjectKey{Name: saved.Name}, &apiextensionsv1.CustomResourceDefinition{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	// A change of the journey, so that it is compiled and applied again.
	e.apply(strings.Replace(flagger, "target: 99.5%", "target: 99.4%", 1))
	j := e.waitJourney("checkout", func(j *kubev1.Journey) string {
		return conditionIs(j, kubev1.ConditionArtifactsApplied, metav1.ConditionTrue, ReasonKindsMissing)
	})
	msg := meta.FindStatusCondition(j.Status.Conditions, kubev1.ConditionArtifactsApplied).Message
	if !strings.Contains(msg, "MetricTemplate (flagger.app/v1beta1)") {
		t.Errorf("ArtifactsApplied message: got %q, want it to name MetricTemplate (flagger.app/v1beta1)", msg)
	}
	if why := ready(j); why != "" {
		t.Errorf("a missing CRD: %s, want Ready", why)
	}
	want := kubev1.ArtifactRef{APIVersion: "flagger.app/v1beta1", Kind: "MetricTemplate", Name: "emac-checkout", Skipped: true}
	if !slices.Contains(j.Status.Artifacts, want) {
		t.Errorf("status.artifacts: got %+v, want %+v among them", j.Status.Artifacts, want)
	}

	restore()
	e.waitJourney("checkout", func(j *kubev1.Journey) string {
		if why := conditionIs(j, kubev1.ConditionArtifactsApplied, metav1.ConditionTrue, ReasonApplied); why != "" {
			return why
		}
		if _, err := e.get(metricTemplate, e.ns, "emac-checkout"); err != nil {
			return "MetricTemplate: " + err.Error()
		}
		return ""
	})
}

// crdYAML writes a CRD as the YAML kubetest installs.
func crdYAML(t testing.TB, crd *apiextensionsv1.CustomResourceDefinition) []byte {
	t.Helper()
	crd.APIVersion, crd.Kind = "apiextensions.k8s.io/v1", "CustomResourceDefinition"
	b, err := json.Marshal(crd)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCatalog: a change of a ComponentCatalog re-reconciles the journeys
// of its namespace.
func TestCatalog(t *testing.T) {
	e := start(t, Options{})
	cat := `apiVersion: emac.dev/v1alpha1
kind: ComponentCatalog
metadata: {name: payments}
spec:
  components:
    paya: {slo: {availability: 99.5%}, domains: [payment-network]}
    payb: {slo: {availability: 99.5%}, domains: [PAYB]}
`
	e.apply(strings.Replace(cat, "PAYB", "payment-network", 1))
	journey := strings.NewReplacer(
		"    paya: {slo: {availability: 99.5%}, domains: [payment-network]}\n", "",
		"    payb: {slo: {availability: 99.5%}, domains: [payment-network]}\n", "",
		"  failureDomains:\n", "  catalogs: [payments]\n  failureDomains:\n",
	).Replace(checkout("payment-network", false))
	e.apply(journey)
	e.waitJourney("checkout", func(j *kubev1.Journey) string {
		if j.Status.Decision != wire.DecisionFail {
			return "decision " + j.Status.Decision + ": " + strings.Join(j.Status.Reasons, "; ")
		}
		return ready(j)
	})
	e.apply(strings.Replace(cat, "PAYB", "payment-network-b", 1))
	e.waitJourney("checkout", func(j *kubev1.Journey) string {
		if j.Status.Decision != wire.DecisionPass {
			return "decision " + j.Status.Decision
		}
		return ready(j)
	})
}

// TestRestart: the API server restarts while a change is pending; the
// controller reconnects, converges on it, and follows later changes.
func TestRestart(t *testing.T) {
	e := start(t, Options{})
	shop := readFile(t, "../service/testdata/gate/shop.yaml")
	e.apply(shop)
	e.waitJourney("shop", ready)

	e.apply(strings.Replace(shop, "target: 99.5%", "target: 99.9%", 1))
	if err := e.srv.Restart(); err != nil {
		t.Fatal(err)
	}
	e.waitJourney("shop", func(j *kubev1.Journey) string {
		if a := j.Status.Availability; a == nil || math.Abs(a.Target-0.999) > 1e-12 {
			return fmt.Sprintf("availability %+v", a)
		}
		return ready(j)
	})
	e.apply(strings.Replace(shop, "target: 99.5%", "target: 99.7%", 1))
	e.waitJourney("shop", func(j *kubev1.Journey) string {
		if a := j.Status.Availability; a == nil || math.Abs(a.Target-0.997) > 1e-12 {
			return fmt.Sprintf("availability %+v", a)
		}
		return ready(j)
	})
}

// TestModelDelta: a new delta is Pending; the journey is not touched.
func TestModelDelta(t *testing.T) {
	e := start(t, Options{})
	e.apply(`apiVersion: emac.dev/v1alpha1
kind: ModelDelta
metadata: {name: checkout-drift}
spec:
  spec: specs/checkout.yaml
  specDigest: 0f0f
  journey: checkout
  confidence: 0.9
  before: {optimistic: 0.99747706, pessimistic: 0.99747706, decision: PASS, flow: "Series(front, Race(paya, payb))"}
  after: {optimistic: 0.99747706, pessimistic: 0.99251449, decision: FAIL, flow: "Series(front, Race(paya, payb))"}
`)
	e.waitFor(30*time.Second, "the delta Pending", func() (bool, string) {
		md := &kubev1.ModelDelta{}
		if err := e.c.Get(context.Background(), client.ObjectKey{Namespace: e.ns, Name: "checkout-drift"}, md); err != nil {
			return false, err.Error()
		}
		return md.Status.Phase == kubev1.PhasePending && md.Status.ObservedGeneration == md.Generation, fmt.Sprintf("status %+v", md.Status)
	})
}

// TestRBAC runs the controller as a user holding only the ClusterRole of
// config/rbac/role.yaml (what `make generate` writes from the
// +kubebuilder:rbac markers; EMAC_CONTROLLER_ROLE names another file to
// check): a journey with an admission policy still becomes Ready.
func TestRBAC(t *testing.T) {
	path := os.Getenv("EMAC_CONTROLLER_ROLE")
	if path == "" {
		path = "../../config/rbac/role.yaml"
	}
	role := &rbacv1.ClusterRole{}
	if err := k8syaml.NewYAMLOrJSONDecoder(strings.NewReader(readFile(t, path)), 4096).Decode(role); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	const user = "system:serviceaccount:emac-system:emac-controller-rbac-test"
	srv := kubetest.Start(t)
	ctx := context.Background()
	role.ObjectMeta = metav1.ObjectMeta{Name: "emac-controller-rbac-test"}
	rb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: "User", Name: user}},
	}
	for _, o := range []client.Object{role, rb} {
		if err := srv.Client.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		_ = srv.Client.Delete(ctx, rb)
		_ = srv.Client.Delete(ctx, role)
	})
	e := startAs(t, func(cfg *rest.Config) {
		cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:authenticated"}}
	}, Options{})
	e.apply(checkout("payment-network", true))
	j := e.waitJourney("checkout", func(j *kubev1.Journey) string {
		if c := meta.FindStatusCondition(j.Status.Conditions, kubev1.ConditionArtifactsApplied); c != nil && c.Status == metav1.ConditionFalse {
			return c.Message + " (run make generate if the markers changed)"
		}
		return ready(j)
	})
	if n := len(j.Status.Artifacts); n != 4 {
		t.Errorf("artifacts: got %+v, want 4", j.Status.Artifacts)
	}
}
