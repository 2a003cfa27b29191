package spec

import (
	"context"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/emac-dev/emac/internal/model"
)

// TestActions checks what a journey's actions resolve to.
func TestActions(t *testing.T) {
	const src = `apiVersion: emac.dev/v1alpha1
kind: Journey
metadata: {name: checkout}
spec:
  objectives:
    availability: {target: 99.5%}
    latency: {percentile: 99, threshold: 400ms}
  flow: {seq: [front]}
  components:
    front: {slo: {availability: 99.95%}}
  governance:
    actions:
      - name: promote
        guard: "  A_minus >= objective.availability && p_upper <= objective.latency  "
        limits: {maxTrafficStep: 0.5, maxPerWindow: 1, window: 10m}
        target: {apiVersion: networking.istio.io/v1, kind: VirtualService, name: checkout, namespace: shop}
      - name: scale-down
        target: {apiVersion: gateway.networking.k8s.io/v1, kind: HTTPRoute, name: checkout}
        limits: {maxTrafficStep: 0.1}
`
	b, ds := Load(context.Background(), []string{"j.yaml"}, Options{FS: fstest.MapFS{"j.yaml": {Data: []byte(src)}}})
	if len(ds) > 0 {
		t.Fatalf("got diagnostics:\n%v", ds.Err())
	}
	half, tenth := 0.5, 0.1
	want := []model.Action{
		{Name: "promote", Guard: "A_minus >= objective.availability && p_upper <= objective.latency",
			MaxTrafficStep: &half, MaxPerWindow: 1, Window: 10 * time.Minute,
			Target: &model.ActionTarget{APIVersion: "networking.istio.io/v1", Kind: "VirtualService", Name: "checkout", Namespace: "shop"}},
		{Name: "scale-down", MaxTrafficStep: &tenth,
			Target: &model.ActionTarget{APIVersion: "gateway.networking.k8s.io/v1", Kind: "HTTPRoute", Name: "checkout"}},
	}
	if diff := cmp.Diff(want, b.Journeys[0].Policy.Actions); diff != "" {
		t.Errorf("actions (-want +got):\n%s", diff)
	}
}

// TestGuardPositions checks where issues inside guards land in the spec,
// for each way YAML can write a scalar.
func TestGuardPositions(t *testing.T) {
	const head = `apiVersion: emac.dev/v1alpha1
kind: Journey
metadata: {name: checkout}
spec:
  objectives: {availability: {target: 99.5%}}
  flow: {seq: [front]}
  components: {front: {slo: {availability: 99.95%}}}
  governance:
    actions:
      - name: promote
`
	for _, tc := range []struct {
		name, guard string
		want        string // file:line:col of the diagnostic
	}{
		{"plain", "        guard: A_minus >= 0.9 && confidnce >= 0.8\n", "j.yaml:11:34"},
		{"double-quoted", "        guard: \"A_minus >= 0.9 && confidnce >= 0.8\"\n", "j.yaml:11:35"},
		{"single-quoted", "        guard: 'A_minus >= 0.9 && confidnce >= 0.8'\n", "j.yaml:11:35"},
		{"escaped: at the guard", "        guard: \"A_minus >= 0.9 && \\x63onfidnce >= 0.8\"\n", "j.yaml:11:16"},
		{"literal block", "        guard: |-\n          A_minus >= 0.9 &&\n            confidnce >= 0.8\n", "j.yaml:13:13"},
		{"folded block: at the guard", "        guard: >-\n          A_minus >= 0.9 &&\n          confidnce >= 0.8\n", "j.yaml:11:16"},
		{"plain over two lines: at the guard", "        guard: A_minus >= 0.9 &&\n          confidnce >= 0.8\n", "j.yaml:11:16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ds := Load(context.Background(), []string{"j.yaml"}, Options{FS: fstest.MapFS{"j.yaml": {Data: []byte(head + tc.guard)}}})
			if len(ds) != 1 {
				t.Fatalf("got %d diagnostics, want 1:\n%v", len(ds), ds.Err())
			}
			if got := ds[0].Subject.String(); got != tc.want {
				t.Errorf("got %s, want %s (%s)", got, tc.want, ds[0].Summary)
			}
		})
	}
}
