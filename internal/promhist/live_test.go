package promhist

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/common/model"

	"github.com/emac-dev/emac/internal/latency"
	"github.com/emac-dev/emac/internal/promtest"
)

// exposition serves a histogram whose buckets grow by fixed amounts at
// every scrape, from 0 at the first: scrape n serves n times the
// cumulative counts per scrape.
type exposition struct {
	mu sync.Mutex
	n  int
}

var (
	liveBounds = []float64{0.05, 0.1, 0.25, inf}
	liveGrowth = map[string][]float64{"front": {2, 7, 8, 9}, "cart": {1, 2, 2, 2}}
)

func (e *exposition) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	e.mu.Lock()
	n := e.n
	e.n++
	e.mu.Unlock()
	var b bytes.Buffer
	b.WriteString("# HELP emac_test_duration_seconds Request duration.\n# TYPE emac_test_duration_seconds histogram\n")
	for _, svc := range []string{"cart", "front"} {
		for i, le := range liveBounds {
			fmt.Fprintf(&b, "emac_test_duration_seconds_bucket{service=%q,le=%q} %g\n", svc, formatLE(le), float64(n)*liveGrowth[svc][i])
		}
		fmt.Fprintf(&b, "emac_test_duration_seconds_count{service=%q} %g\n", svc, float64(n)*liveGrowth[svc][3])
		fmt.Fprintf(&b, "emac_test_duration_seconds_sum{service=%q} %g\n", svc, float64(n)*0.5)
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	w.Write(b.Bytes())
}

// TestLivePrometheus reads histograms from a real Prometheus scraping a
// server whose buckets grow by known amounts: the increase over a window
// that reaches back to the first scrape (all zeros), evaluated at the last
// scrape, is exactly what was served then — no extrapolation.
func TestLivePrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("starts prometheus")
	}
	srv := httptest.NewServer(&exposition{})
	defer srv.Close()
	prom := promtest.Start(t, promtest.Options{Targets: []string{strings.TrimPrefix(srv.URL, "http://")}})
	url := prom.URL
	papi := prom.API()
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()

	// wait for three scrapes; the last one stored is the evaluation time
	var last model.SamplePair
	var first model.SamplePair
	for {
		val, _, err := papi.Query(ctx, `emac_test_duration_seconds_bucket{service="front",le="+Inf"}[1h]`, time.Now())
		if m, ok := val.(model.Matrix); err == nil && ok && len(m) == 1 && len(m[0].Values) >= 3 {
			first, last = m[0].Values[0], m[0].Values[len(m[0].Values)-1]
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no three scrapes in time (last error: %v)", err)
		case <-time.After(250 * time.Millisecond):
		}
	}
	if first.Value != 0 {
		t.Fatalf("the first scrape stored %v, want 0", first.Value)
	}
	k := float64(last.Value) / liveGrowth["front"][3]
	t.Logf("%d scrapes; evaluating at %v", int(k)+1, last.Timestamp.Time())

	p, err := NewPrometheus(url, PrometheusOptions{At: last.Timestamp.Time(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		selector string
		want     []float64
	}{
		{`emac_test_duration_seconds_bucket{service="front"}`, liveGrowth["front"]},
		{`emac_test_duration_seconds{service=~"front|cart"}`, []float64{3, 9, 10, 11}},
		{`emac_test_duration_seconds_bucket{service!="front"}`, liveGrowth["cart"]},
	} {
		h, err := p.Read(ctx, tc.selector, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]latency.Bucket, len(liveBounds))
		for i := range want {
			want[i] = latency.Bucket{UpperBound: liveBounds[i], Count: k * tc.want[i]}
		}
		if diff := cmp.Diff(want, h.Buckets); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.selector, diff)
		}
		if len(h.Warnings) > 0 {
			t.Errorf("%s: warnings %q", tc.selector, h.Warnings)
		}
	}
	_, err = p.Read(ctx, `emac_test_duration_seconds{service="pricing"}`, time.Hour)
	var nd *NoDataError
	if !errors.As(err, &nd) {
		t.Errorf("got %v, want a *NoDataError", err)
	}
}
