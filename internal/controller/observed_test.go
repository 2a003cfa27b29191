package controller

import (
	"testing"
	"time"

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
	targets := map[string]float64{"front": 0.9995, "cart": 0.999, "pricing": 0.999, "paya": 0.995, "payb": 0.995}
	var ss []promtest.Series
	for _, c := range []string{"front", "cart", "pricing", "paya", "payb"} {
		name, key, good, bad := "http_requests_total", "service", map[string]string{"code": "200"}, map[string]string{"code": "503"}
		if c == "paya" || c == "payb" {
			name, key, good, bad = "payment_requests_total", "provider", map[string]string{"result": "success"}, map[string]string{"result": "declined"}
		}
		ss = append(ss, promtest.Requests(name, map[string]string{key: c}, good, bad, start, end, 15*time.Second, 10, targets[c])...)
	}
	return promtest.OpenMetrics(ss...)
}

// TestObserved: with a Prometheus, the journey is decided in observed
// mode from its components' telemetry: PASS on fresh, sufficient data;
// re-evaluating the same data every interval writes nothing.
func TestObserved(t *testing.T) {
	if testing.Short() {
		t.Skip("starts prometheus")
	}
	end := time.Now().UTC().Truncate(time.Minute).Add(-2 * time.Minute)
	prom := promtest.Start(t, promtest.Options{Backfill: shopTelemetry(end.Add(-3*time.Hour), end)})
	at := end.Add(-20 * time.Minute) // a fixed time: every evaluation reads the same data
	e := start(t, Options{Prometheus: prom.URL, Interval: 200 * time.Millisecond, Observe: observe.Options{Now: func() time.Time { return at }}})
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
	if j.Status.Decision != wire.DecisionPass {
		t.Errorf("observed decision: got %s (%q), want PASS", j.Status.Decision, j.Status.Reasons)
	}
	if a := j.Status.Availability; a == nil || a.Pessimistic < 0.997 || a.Pessimistic > 0.998 {
		t.Errorf("observed availability: got %+v, want A- ≈ 0.99747706", a)
	}
	e.quiet(time.Second, "observed mode re-evaluating unchanged data every 200ms")
}
