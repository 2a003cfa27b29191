package controller

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kubev1 "github.com/emac-dev/emac/api/kube/v1alpha1"
)

// smallJourney is the benchmark's journey: three components, one of them
// measured, so that each journey has a PrometheusRule, an Argo
// AnalysisTemplate and a Flagger MetricTemplate (three objects and a
// status to write).
const smallJourney = `apiVersion: emac.dev/v1alpha1
kind: Journey
metadata: {name: JOURNEY, namespace: NS}
spec:
  objectives:
    availability: {target: 99%, window: 30d}
  flow:
    seq: [a, {race: [b, c]}]
  components:
    a:
      slo: {availability: 99.9%}
      domains: [zone]
      telemetry:
        bad: sum(rate(http_requests_total{service="a",code=~"5.."}[{{.window}}]))
        total: sum(rate(http_requests_total{service="a"}[{{.window}}]))
    b: {slo: {availability: 99.5%}, domains: [zone]}
    c: {slo: {availability: 99.5%}}
`

// BenchmarkReconcile1000 creates 1,000 journeys and measures the time
// until every one is Ready, on the shared API server. Run it alone, with
// -benchtime=1x: an iteration takes tens of seconds. "default" is the
// controller's defaults (QPS 200, burst 400, 4 reconciles per CPU);
// "client-go-qps" is client-go's 20/30 rate limit, for comparison (about
// 200 s: a thousand journeys make 4,000 writes).
func BenchmarkReconcile1000(b *testing.B) {
	for _, bb := range []struct {
		name string
		opts Options
	}{
		{"default", Options{}},
		{"client-go-qps", Options{QPS: 20, Burst: 30}},
	} {
		b.Run(bb.name, func(b *testing.B) {
			for range b.N {
				reconcile1000(b, bb.opts)
			}
		})
	}
}

func reconcile1000(b *testing.B, opts Options) {
	const n = 1000
	e := start(b, opts)
	defer e.stop()
	// The benchmark's own client must not be the bottleneck.
	cfg := rest.CopyConfig(e.srv.Config)
	cfg.QPS, cfg.Burst = 2000, 4000
	scheme, err := Scheme()
	if err != nil {
		b.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	docs := make([]string, n)
	for i := range docs {
		docs[i] = strings.NewReplacer("JOURNEY", fmt.Sprintf("small-%04d", i), "NS", e.ns).Replace(smallJourney)
	}
	writesBefore, reconcilesBefore := e.writes.get(), reconciles(b)
	began := time.Now()
	var wg sync.WaitGroup
	next := make(chan string)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for doc := range next {
				if err := c.Create(ctx, decode(b, doc)); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for _, d := range docs {
		next <- d
	}
	close(next)
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	created := time.Since(began)
	deadline := began.Add(5 * time.Minute)
	readyN := 0
	for {
		// The controller's cache, not the API server: polling a thousand
		// journeys from it would slow down what is measured.
		var l kubev1.JourneyList
		if err := e.r.client.List(ctx, &l, client.InNamespace(e.ns)); err != nil {
			b.Fatal(err)
		}
		readyN = 0
		for i := range l.Items {
			j := &l.Items[i]
			if j.Status.ObservedGeneration == j.Generation && meta.IsStatusConditionTrue(j.Status.Conditions, kubev1.ConditionReady) {
				readyN++
			}
		}
		if readyN == n {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("after %v: %d of %d journeys Ready", time.Since(began), readyN, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	elapsed := time.Since(began)
	writes := e.writes.get() - writesBefore
	b.ReportMetric(elapsed.Seconds(), "s/1000-ready")
	b.ReportMetric(float64(writes)/n, "writes/journey")
	b.ReportMetric((reconciles(b)-reconcilesBefore)/n, "reconciles/journey")
	b.Logf("%d journeys created in %v, all Ready after %v; %d writes by the controller (QPS %v, burst %v, %d workers)",
		n, created.Round(time.Millisecond), elapsed.Round(time.Millisecond), writes, e.r.opts.QPS, e.r.opts.Burst, e.r.opts.MaxConcurrentReconciles)
}
