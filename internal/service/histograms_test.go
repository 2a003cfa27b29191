package service_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/latency"
	"github.com/emac-dev/emac/internal/model"
	"github.com/emac-dev/emac/internal/promhist"
	"github.com/emac-dev/emac/internal/service"
	"github.com/emac-dev/emac/internal/spec"
)

// fakeSource answers from a map of selectors and records what it was
// asked.
type fakeSource struct {
	mu    sync.Mutex
	data  map[string]*promhist.Histogram
	fail  error
	asked []string
}

func (f *fakeSource) Read(_ context.Context, sel string, w time.Duration) (*promhist.Histogram, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, sel+" "+w.String())
	if f.fail != nil {
		return nil, f.fail
	}
	if _, err := promhist.ParseSelector(sel); err != nil {
		return nil, err
	}
	h, ok := f.data[sel]
	if !ok {
		return nil, &promhist.NoDataError{Selector: sel, From: "fake"}
	}
	return h, nil
}

const histSpec = `apiVersion: emac.dev/v1alpha1
kind: Journey
metadata: {name: shop}
spec:
  objectives:
    availability: {target: 99%, window: 7d}
    latency: {percentile: 99, threshold: 1s}
  flow:
    seq: [front, cart, pricing, search]
  components:
    front:
      slo: {availability: 99.9%, latency: {p50: 40ms, p99: 120ms}}
      telemetry: {latencyHistogram: 'http_request_duration_seconds_bucket{service="front"}'}
    cart:
      slo: {availability: 99.9%, latency: {p50: 10ms, p99: 50ms}}
      telemetry: {latencyHistogram: 'http_request_duration_seconds_bucket{service="cart"}'}
    pricing:
      slo: {availability: 99.9%}
      telemetry: {latencyHistogram: 'sum(rate(x_bucket[5m])) by (le)'}
    search:
      slo: {availability: 99.9%, latency: {p50: 10ms, p99: 50ms}}
      telemetry: {latencyHistogram: 'idle_bucket'}
`

var (
	frontBuckets = []latency.Bucket{{UpperBound: 0.05, Count: 60}, {UpperBound: 0.1, Count: 95}, {UpperBound: 0.25, Count: 99}, {UpperBound: math.Inf(1), Count: 100}}
	idleBuckets  = []latency.Bucket{{UpperBound: 0.05, Count: 0}, {UpperBound: math.Inf(1), Count: 0}}
)

// TestCheckHistograms: a component whose selector matches gets the
// buckets and its latency says so; one whose selector matches nothing, is
// no selector or selects no observations gets a warning at the selector
// and keeps its SLO points.
func TestCheckHistograms(t *testing.T) {
	src := &fakeSource{data: map[string]*promhist.Histogram{
		`http_request_duration_seconds_bucket{service="front"}`: {Buckets: frontBuckets, From: "metrics.txt", Series: 2},
		`idle_bucket`: {Buckets: idleBuckets, From: "metrics.txt", Series: 1},
	}}
	rep, err := service.Check(context.Background(), []string{"shop.yaml"}, service.Options{
		Load: spec.Options{FS: fstest.MapFS{"shop.yaml": {Data: []byte(histSpec)}}}, Histograms: src})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range rep.Diagnostics {
		got = append(got, d.Error()+" / "+d.Detail)
	}
	want := []string{
		`shop.yaml:16:37: warning: component "cart": no histogram series match http_request_duration_seconds_bucket{service="cart"} in fake / its SLO latency points are used instead`,
		`shop.yaml:19:37: warning: component "pricing": latencyHistogram sum(rate(x_bucket[5m])) by (le): is an aggregation, not a series selector: write the histogram's _bucket series, e.g. http_request_duration_seconds_bucket{service="front"} / it has no SLO latency points either: it takes no time`,
		`shop.yaml:22:37: warning: component "search": the histogram idle_bucket from metrics.txt cannot be used: latency: the histogram has no observations / its SLO latency points are used instead`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("diagnostics (-want +got):\n%s", diff)
	}
	j := rep.Journeys[0]
	if diff := cmp.Diff([]model.Bucket{{UpperBound: 0.05, Count: 60}, {UpperBound: 0.1, Count: 95}, {UpperBound: 0.25, Count: 99}, {UpperBound: math.Inf(1), Count: 100}}, j.Components["front"].Histogram); diff != "" {
		t.Errorf("front's histogram (-want +got):\n%s", diff)
	}
	for _, n := range []string{"cart", "pricing", "search"} {
		if h := j.Components[n].Histogram; h != nil {
			t.Errorf("%s got a histogram %v", n, h)
		}
	}
	overflow := 0.01
	wantSources := []v1alpha1.LatencySource{
		{Component: "cart", Source: "points"},
		{Component: "front", Source: "histogram", From: "metrics.txt", Observations: 100, Top: 0.25, Overflow: &overflow},
		{Component: "search", Source: "points"},
	}
	if diff := cmp.Diff(wantSources, rep.Result.Journeys[0].Latency.Sources); diff != "" {
		t.Errorf("latency sources (-want +got):\n%s", diff)
	}
	// the journey's window, each selector once
	if diff := cmp.Diff([]string{
		`http_request_duration_seconds_bucket{service="cart"} 168h0m0s`,
		`http_request_duration_seconds_bucket{service="front"} 168h0m0s`,
		`sum(rate(x_bucket[5m])) by (le) 168h0m0s`,
		`idle_bucket 168h0m0s`,
	}, src.asked, sortStrings()); diff != "" {
		t.Errorf("reads (-want +got):\n%s", diff)
	}
}

func sortStrings() cmp.Option { return cmpopts.SortSlices(func(a, b string) bool { return a < b }) }

// TestCheckHistogramsShared: a catalog's component in two journeys is read
// for each journey's window, and each journey gets its own copy.
func TestCheckHistogramsShared(t *testing.T) {
	fs := fstest.MapFS{
		"catalog.yaml": {Data: []byte(`apiVersion: emac.dev/v1alpha1
kind: ComponentCatalog
metadata: {name: platform}
spec:
  components:
    front:
      slo: {availability: 99.9%}
      telemetry: {latencyHistogram: 'http_request_duration_seconds_bucket{service="front"}'}
`)},
		"a.yaml": {Data: []byte("apiVersion: emac.dev/v1alpha1\nkind: Journey\nmetadata: {name: a}\nspec:\n  catalogs: [platform]\n  objectives: {availability: {target: 99%, window: 1d}}\n  flow: front\n")},
		"b.yaml": {Data: []byte("apiVersion: emac.dev/v1alpha1\nkind: Journey\nmetadata: {name: b}\nspec:\n  catalogs: [platform]\n  objectives: {availability: {target: 99%, window: 2d}}\n  flow: front\n")},
	}
	src := &fakeSource{data: map[string]*promhist.Histogram{
		`http_request_duration_seconds_bucket{service="front"}`: {Buckets: frontBuckets, From: "fake"},
	}}
	rep, err := service.Check(context.Background(), []string{"catalog.yaml", "a.yaml", "b.yaml"}, service.Options{Load: spec.Options{FS: fs}, Histograms: src})
	if err != nil || len(rep.Diagnostics) > 0 {
		t.Fatalf("%v %v", err, rep.Diagnostics)
	}
	if diff := cmp.Diff([]string{
		`http_request_duration_seconds_bucket{service="front"} 24h0m0s`,
		`http_request_duration_seconds_bucket{service="front"} 48h0m0s`,
	}, src.asked, sortStrings()); diff != "" {
		t.Errorf("reads (-want +got):\n%s", diff)
	}
	a, b := rep.Journeys[0].Components["front"], rep.Journeys[1].Components["front"]
	if a == b || a.Histogram == nil || b.Histogram == nil {
		t.Errorf("journeys share front (%p, %p) or lack its histogram", a, b)
	}
	// an override window applies to every journey
	src.asked = nil
	if _, err := service.Check(context.Background(), []string{"catalog.yaml", "a.yaml", "b.yaml"}, service.Options{Load: spec.Options{FS: fs}, Histograms: src, HistogramWindow: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{`http_request_duration_seconds_bucket{service="front"} 1h0m0s`}, src.asked); diff != "" {
		t.Errorf("reads with a window (-want +got):\n%s", diff)
	}
}

// TestCheckHistogramsFailure: a source that fails is an error, not a
// warning.
func TestCheckHistogramsFailure(t *testing.T) {
	src := &fakeSource{fail: errors.New("connection refused")}
	_, err := service.Check(context.Background(), []string{"shop.yaml"}, service.Options{
		Load: spec.Options{FS: fstest.MapFS{"shop.yaml": {Data: []byte(histSpec)}}}, Histograms: src, Parallelism: 1})
	if err == nil || !strings.Contains(err.Error(), "connection refused") || !strings.HasPrefix(err.Error(), "latencyHistogram ") {
		t.Errorf("got %v, want the source's failure", err)
	}
}
