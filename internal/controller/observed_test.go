package controller

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kubev1 "github.com/emac-dev/emac/api/kube/v1alpha1"
	wire "github.com/emac-dev/emac/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/emac-dev/emac/internal/observe"
	"github.com/emac-dev/emac/internal/promtest"
)

// shopTelemetry is the counters internal/service/testdata/gate/shop.yaml
// queries, at 10 calls/s meeting each component's SLO target exactly,
// from start to end (internal/service/gate_test.go's, without canaries).
func shopTelemetry(start, end time.Time) string {
	return promtest.OpenMetrics(promtest.Checkout(start, end, 15*time.Second, 10)...)
}

// observedShop starts a Prometheus holding shopTelemetry and a controller
// in observed mode re-evaluating every interval, applies the shop journey,
// and waits until it is decided on sufficient data.
func observedShop(t *testing.T, interval time.Duration) (*env, *kubev1.Journey) {
	t.Helper()
	end := time.Now().UTC().Truncate(time.Minute).Add(-2 * time.Minute)
	prom := promtest.Start(t, promtest.Options{Backfill: shopTelemetry(end.Add(-3*time.Hour), end)})
	at := end.Add(-20 * time.Minute) // a fixed time: every evaluation reads the same data
	e := start(t, Options{Prometheus: prom.URL, Interval: interval, Observe: observe.Options{Now: func() time.Time { return at }}})
	e.apply(readFile(t, "../service/testdata/gate/shop.yaml"))
	j := e.waitJourney("shop", func(j *kubev1.Journey) string {
		if j.Status.Mode != wire.ModeObserved {
			return "mode " + j.Status.Mode
		}
		if why := conditionIs(j, kubev1.ConditionEvidenceFresh, metav1.ConditionTrue, ReasonSufficient); why != "" {
			return why
		}
		return ready(j)
	})
	return e, j
}

// TestObserved: with a Prometheus, the journey is decided in observed
// mode from its components' telemetry: PASS on fresh, sufficient data;
// re-evaluating the same data every interval writes nothing.
func TestObserved(t *testing.T) {
	if testing.Short() {
		t.Skip("starts prometheus")
	}
	e, j := observedShop(t, 200*time.Millisecond)
	if j.Status.Decision != wire.DecisionPass {
		t.Errorf("observed decision: got %s (%q), want PASS", j.Status.Decision, j.Status.Reasons)
	}
	if a := j.Status.Availability; a == nil || a.Pessimistic < 0.997 || a.Pessimistic > 0.998 {
		t.Errorf("observed availability: got %+v, want A- ≈ 0.99747706", a)
	}
	e.quiet(time.Second, "observed mode re-evaluating unchanged data every 200ms")
}

// TestObservedEvidence: a pending ModelDelta naming an observed journey is
// weighed as evidence, as by emac gate --evidence: its unresolved shared
// payment domain makes the journey REVIEW, and deleting it PASS again. A
// delta that does not decode, or is Rejected, is not weighed. The
// interval is an hour: the deltas' watch alone re-reconciles.
func TestObservedEvidence(t *testing.T) {
	if testing.Short() {
		t.Skip("starts prometheus")
	}
	e, j := observedShop(t, time.Hour)
	if j.Status.Decision != wire.DecisionPass {
		t.Fatalf("observed decision: got %s (%q), want PASS", j.Status.Decision, j.Status.Reasons)
	}

	// Skipped, with an Event, all along: its flow does not decode.
	e.apply(`apiVersion: emac.dev/v1alpha1
kind: ModelDelta
metadata: {name: shop-bad}
spec:
  spec: specs/shop.yaml
  specDigest: 0f0f
  journey: shop
  confidence: 0.5
  before: {optimistic: 0.99747706, pessimistic: 0.99747706, decision: PASS, flow: f}
  after: {optimistic: 0.99747706, pessimistic: 0.99747706, decision: PASS, flow: f}
  changes:
    - {kind: flow, summary: a number for a flow, applied: true, basis: traces, confidence: 0.5, edits: [{flow: 5}]}
`)
	e.waitFor(30*time.Second, "a DeltaInvalid event", func() (bool, string) {
		var l corev1.EventList
		if err := e.c.List(context.Background(), &l, client.InNamespace(e.ns)); err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, ev := range l.Items {
			if ev.InvolvedObject.Kind == "ModelDelta" && ev.InvolvedObject.Name == "shop-bad" && ev.Reason == ReasonDeltaInvalid {
				return true, ""
			}
			seen = append(seen, ev.InvolvedObject.Name+" "+ev.Reason)
		}
		return false, fmt.Sprintf("events %q", seen)
	})

	conflict := `apiVersion: emac.dev/v1alpha1
kind: ModelDelta
metadata: {name: shop-shared-payment}
spec:
  spec: specs/shop.yaml
  specDigest: 0f0f
  journey: shop
  confidence: 0.9
  before: {optimistic: 0.99747706, pessimistic: 0.99747706, decision: PASS, flow: f}
  after:
    optimistic: 0.99747706
    pessimistic: 0.99251449
    decision: REVIEW
    flow: f
    domains: {zone-a: [front, cart, pricing], payment-network: [paya, payb]}
  changes:
    - {kind: domain-conflict, summary: paya and payb may share payment-network, components: [paya, payb], applied: false, conservative: true, basis: traces, confidence: 0.9}
`
	e.apply(conflict)
	j = e.waitJourney("shop", func(j *kubev1.Journey) string {
		if j.Status.Decision != wire.DecisionReview || !strings.Contains(strings.Join(j.Status.Reasons, " "), "paya and payb may share payment-network") {
			return fmt.Sprintf("decision %s %q, want REVIEW for the conflict", j.Status.Decision, j.Status.Reasons)
		}
		return ""
	})
	if c := j.Status.Confidence; c == nil || *c != 0.9 {
		t.Errorf("confidence with the evidence: got %v, want 0.9", c)
	}
	if a := j.Status.Availability; a == nil || a.Pessimistic > 0.993 {
		t.Errorf("availability with the shared domain: got %+v, want A- ≈ 0.99251449", a)
	}

	md := newObject(modelDeltaGVK)
	md.SetNamespace(e.ns)
	md.SetName("shop-shared-payment")
	if err := e.c.Delete(context.Background(), md); err != nil {
		t.Fatal(err)
	}
	e.waitJourney("shop", func(j *kubev1.Journey) string {
		if j.Status.Decision != wire.DecisionPass {
			return fmt.Sprintf("decision %s %q, want PASS once the delta is deleted", j.Status.Decision, j.Status.Reasons)
		}
		return ""
	})

	// Rejected: not weighed. Its status is set after creation, so it is
	// weighed for a moment; the journey must come back to PASS.
	e.apply(conflict)
	e.waitJourney("shop", func(j *kubev1.Journey) string {
		if j.Status.Decision != wire.DecisionReview {
			return "decision " + j.Status.Decision + ", want REVIEW"
		}
		return ""
	})
	e.waitFor(30*time.Second, "rejecting the delta", func() (bool, string) {
		u, err := e.get(modelDeltaGVK, e.ns, "shop-shared-payment")
		if err != nil {
			return false, err.Error()
		}
		u.Object["status"] = map[string]any{"phase": kubev1.PhaseRejected}
		if err := e.c.Status().Update(context.Background(), u); err != nil {
			return false, err.Error()
		}
		return true, ""
	})
	e.waitJourney("shop", func(j *kubev1.Journey) string {
		if j.Status.Decision != wire.DecisionPass {
			return fmt.Sprintf("decision %s %q, want PASS with the delta rejected", j.Status.Decision, j.Status.Reasons)
		}
		return ""
	})
}
