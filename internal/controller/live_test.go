package controller

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kubev1 "github.com/emac-dev/emac/api/kube/v1alpha1"
	wire "github.com/emac-dev/emac/api/v1alpha1"
)

// virtualServiceCRD is a minimal Istio VirtualService CRD: enough for the
// API server to store VirtualServices and run admission policies on them.
const virtualServiceCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: virtualservices.networking.istio.io}
spec:
  group: networking.istio.io
  names: {kind: VirtualService, listKind: VirtualServiceList, plural: virtualservices, singular: virtualservice}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
`

var virtualService = schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1", Kind: "VirtualService"}

// TestLiveConfigMap: a journey with an action gets its live ConfigMap,
// owned by it and holding its status' values; the API server then admits
// a traffic step within maxTrafficStep while the guard holds, refuses a
// larger one, and refuses any once the journey FAILs; without the action,
// the ConfigMap goes.
func TestLiveConfigMap(t *testing.T) {
	e := start(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := e.srv.InstallCRDs(ctx, []byte(virtualServiceCRD)); err != nil {
		t.Fatal(err)
	}
	cmName := "emac-checkout-live"
	e.apply(checkout("payment-network-b", true))
	j := e.waitJourney("checkout", func(j *kubev1.Journey) string {
		if j.Status.Decision != wire.DecisionPass {
			return "decision " + j.Status.Decision
		}
		return ready(j)
	})
	cm := e.liveData(cmName, wire.DecisionPass)
	a := j.Status.Availability
	want := map[string]string{
		"A_plus": fmtFloat(a.Optimistic), "A_minus": fmtFloat(a.Pessimistic), "A_floor": fmtFloat(a.Floor),
		"confidence": "1", "domain_conflict": "false", "decision": "PASS", "binding": strings.Join(a.Binding, ","),
	}
	if l := j.Status.Latency; l != nil && l.Upper != nil {
		want["p_upper"] = fmtFloat(*l.Upper)
	}
	if l := j.Status.Latency; l != nil && l.Independent != nil {
		want["p_independent"] = fmtFloat(*l.Independent)
	}
	for k, v := range want {
		if cm.Data[k] != v {
			t.Errorf("ConfigMap %s: got %q, want %q (data %v)", k, cm.Data[k], v, cm.Data)
		}
	}
	if len(cm.Data) != len(want) {
		t.Errorf("ConfigMap data: got %v, want the keys of %v", cm.Data, want)
	}
	if ref := metav1.GetControllerOf(cm); ref == nil || ref.UID != j.UID || ref.Kind != "Journey" {
		t.Errorf("ConfigMap owner: got %+v, want the journey", ref)
	}
	if l := cm.Labels; l[LabelJourney] != "checkout" || l[LabelJourneyNamespace] != e.ns || l[LabelManagedBy] != ManagedByValue {
		t.Errorf("ConfigMap labels: got %v", l)
	}

	// Admission: the policy reads the ConfigMap.
	vs := e.apply(vsDoc(90, 10))
	e.admits(vs, 90, 10, 10, 90, "exceeds maxTrafficStep 0.5 (50 points)")
	if err := e.updateWeights(vs, 80, 20, false); err != nil {
		t.Errorf("a 10-point step on a PASS journey: %v", err)
	}

	// FAIL: the guard no longer holds, so even a small step is refused.
	e.apply(checkout("payment-network", true))
	e.waitJourney("checkout", func(j *kubev1.Journey) string {
		if j.Status.Decision != wire.DecisionFail {
			return "decision " + j.Status.Decision
		}
		return ready(j)
	})
	e.liveData(cmName, wire.DecisionFail)
	e.admits(vs, 80, 20, 70, 30, "the guard does not hold")

	// No action: no ConfigMap.
	e.apply(checkout("payment-network", false))
	e.gone(configMapGVK, e.ns, cmName)
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// vsDoc is the VirtualService checkout splitting traffic stable/canary.
func vsDoc(stable, canary int) string {
	return fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: checkout}
spec:
  hosts: [checkout]
  http:
    - name: primary
      route:
        - destination: {host: checkout, subset: stable}
          weight: %d
        - destination: {host: checkout, subset: canary}
          weight: %d
`, stable, canary)
}

// liveData waits for the live ConfigMap to hold decision, and returns it.
func (e *env) liveData(name, decision string) *corev1.ConfigMap {
	e.t.Helper()
	cm := &corev1.ConfigMap{}
	e.waitFor(30*time.Second, "ConfigMap "+name+" with decision "+decision, func() (bool, string) {
		if err := e.c.Get(context.Background(), client.ObjectKey{Namespace: e.ns, Name: name}, cm); err != nil {
			return false, err.Error()
		}
		return cm.Data["decision"] == decision, fmt.Sprintf("data %v", cm.Data)
	})
	return cm
}

// updateWeights updates the VirtualService's weights (a dry run: the API
// server admits or refuses it, and stores nothing).
func (e *env) updateWeights(vs *unstructured.Unstructured, stable, canary int, dryRun bool) error {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(virtualService)
	if err := e.c.Get(context.Background(), client.ObjectKeyFromObject(vs), u); err != nil {
		return err
	}
	routes, _, _ := unstructured.NestedSlice(u.Object, "spec", "http")
	dests := routes[0].(map[string]any)["route"].([]any)
	dests[0].(map[string]any)["weight"] = int64(stable)
	dests[1].(map[string]any)["weight"] = int64(canary)
	if err := unstructured.SetNestedSlice(u.Object, routes, "spec", "http"); err != nil {
		return err
	}
	var opts []client.UpdateOption
	if dryRun {
		opts = append(opts, client.DryRunAll)
	}
	return e.c.Update(context.Background(), u, opts...)
}

// admits waits until the API server refuses the step from the
// VirtualService's weights (from) to (to) with a message containing
// want, trying it as a dry run: admission policies and their parameters
// take effect a moment after they are written.
func (e *env) admits(vs *unstructured.Unstructured, fromS, fromC, toS, toC int, want string) {
	e.t.Helper()
	e.waitFor(20*time.Second, fmt.Sprintf("%d/%d → %d/%d refused", fromS, fromC, toS, toC), func() (bool, string) {
		err := e.updateWeights(vs, toS, toC, true)
		if err == nil {
			return false, "admitted"
		}
		return strings.Contains(err.Error(), want), err.Error()
	})
}
