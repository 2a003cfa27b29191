package guards

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/emac-dev/emac/internal/kubetest"
)

// TestMain shares one API server between the tests that need one.
func TestMain(m *testing.M) { kubetest.Main(m) }

// TestDryRun has a real API server validate every emitted admission
// policy and binding (schema, CEL compilation, references) by server-side
// dry-run.
func TestDryRun(t *testing.T) {
	s := kubetest.Start(t)
	n := 0
	for _, gs := range goldenSpecs {
		for name, data := range emitFile(t, gs.path) {
			if !strings.HasSuffix(name, ".vap.yaml") {
				continue
			}
			n++
			if err := s.DryRun(context.Background(), data); err != nil {
				t.Errorf("%s %s: %v", gs.name, name, err)
			}
		}
	}
	if n == 0 {
		t.Fatal("no admission policies emitted")
	}
}

// TestEnforcedByAPIServer installs the paper's promote policy in a real
// API server, with a VirtualService CRD and the journey's live ConfigMap,
// and has it judge updates of the VirtualService (as server-side dry-runs,
// so the object never changes).
func TestEnforcedByAPIServer(t *testing.T) {
	s := kubetest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := s.Client

	installVirtualServiceCRD(ctx, t, c)
	for _, ns := range []string{"shop", "payments"} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: LiveConfigMap("checkout"), Namespace: "payments"},
		Data: map[string]string{"A_minus": "0.996", "p_upper": "0.35", "confidence": "0.9", "domain_conflict": "false"}}
	if err := c.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	for _, o := range objects(t, emitFile(t, "testdata/checkout.yaml")["guards/promote.vap.yaml"]) {
		if err := c.Create(ctx, o); err != nil {
			t.Fatalf("%s: %v", o.GetKind(), err)
		}
	}
	vs := &unstructured.Unstructured{Object: jsonObject(t, virtualService("stable", 90, "canary", 10))}
	vs.SetAPIVersion("networking.istio.io/v1")
	vs.SetKind("VirtualService")
	vs.SetNamespace("shop")
	vs.SetName("checkout")
	if err := c.Create(ctx, vs); err != nil {
		t.Fatal(err)
	}

	// update dry-runs an update of the VirtualService to weights.
	update := func(weights ...any) error {
		u := vs.DeepCopy()
		u.Object["spec"] = jsonObject(t, virtualService(weights...))["spec"]
		return c.Update(ctx, u, client.DryRunAll)
	}
	// The API server loads policies, bindings and params asynchronously:
	// wait until an update is judged as expected.
	eventually := func(what string, check func() error) {
		t.Helper()
		var err error
		for ctx.Err() == nil {
			if err = check(); err == nil {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("%s: %v", what, err)
	}
	denied := func(want string, weights ...any) func() error {
		return func() error {
			err := update(weights...)
			if err == nil || !strings.Contains(err.Error(), want) {
				return fmt.Errorf("got %v, want a denial containing %q", err, want)
			}
			return nil
		}
	}
	eventually("a step of 60 points", denied("a traffic step of 60 weight points exceeds maxTrafficStep 0.5 (50 points)", "stable", 30, "canary", 70))
	if err := update("stable", 60, "canary", 40); err != nil {
		t.Errorf("a step of 30 points with a healthy journey: %v", err)
	}
	if err := update("stable", 40, "canary", 60); err != nil {
		t.Errorf("a step of 50 points with a healthy journey: %v", err)
	}

	cm.Data["A_minus"] = "0.9925"
	if err := c.Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	eventually("A- below the objective", denied("the guard does not hold", "stable", 80, "canary", 20))
	if err := update("stable", 90, "canary", 10); err != nil {
		t.Errorf("an update that moves no traffic: %v", err)
	}

	cm.Data["A_minus"] = "0.996"
	delete(cm.Data, "confidence")
	if err := c.Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	eventually("confidence missing", denied("confidence", "stable", 80, "canary", 20))

	if err := c.Delete(ctx, cm); err != nil {
		t.Fatal(err)
	}
	eventually("no ConfigMap", denied("no params found", "stable", 80, "canary", 20))
}

// installVirtualServiceCRD installs a schemaless VirtualService CRD, enough
// for admission (Istio's own CRD would only add validation).
func installVirtualServiceCRD(ctx context.Context, t *testing.T, c client.Client) {
	t.Helper()
	preserve := true
	crd := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "virtualservices.networking.istio.io"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "networking.istio.io",
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "virtualservices", Singular: "virtualservice", Kind: "VirtualService", ListKind: "VirtualServiceList"},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: &preserve,
				}},
			}},
		},
	}
	if err := c.Create(ctx, crd); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	for ctx.Err() == nil {
		got := &apiextensionsv1.CustomResourceDefinition{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(crd), got); err != nil {
			t.Fatal(err)
		}
		for _, cond := range got.Status.Conditions {
			if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("the VirtualService CRD was not established")
}

// jsonObject is m as JSON decodes it, the only values unstructured
// objects hold.
func jsonObject(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// objects decodes a YAML stream into objects.
func objects(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	dec := k8syaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
}
