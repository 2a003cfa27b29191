package promtest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

// testBackfill is three hours of two counters with their last sample at last.
func testBackfill(last time.Time) string {
	svc := map[string]string{"service": "front"}
	from := last.Add(-3 * time.Hour)
	return OpenMetrics(
		Counter("promtest_requests_total", svc, from, last, 15*time.Second, 10),
		Counter("promtest_errors_total", svc, from, last, 15*time.Second, 0.01),
	)
}

// TestServer backfills counters ending a minute ago and records a rule over
// them, then stops and restarts the server: the backfill is queryable at
// historic times and at its last sample and goes stale after it, the rule's
// samples are stored although the backfill is that recent, and all of it
// comes back after the restart.
func TestServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts prometheus")
	}
	t.Parallel()
	last := time.Now().Add(-time.Minute).Truncate(time.Second)
	begin := time.Now()
	s := Start(t, Options{
		Backfill:  testBackfill(last),
		RuleFiles: []string{"groups:\n- name: promtest\n  rules:\n  - record: service:promtest_requests:rate5m\n    expr: sum by (service) (rate(promtest_requests_total[5m]))\n"},
	})
	t.Logf("started in %v", time.Since(begin))

	checkBackfill(t, s, last)
	recorded := waitFor(t, s, "service:promtest_requests:rate5m")
	if v := float64(recorded.Value); v <= 0 || v > 10 {
		t.Errorf("recorded rate %v, want in (0, 10]", v)
	}

	s.Stop()
	s.Stop() // idempotent
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, _, err := s.API().Query(ctx, "up", time.Now()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("query after Stop: got %v, want connection refused", err)
	}

	begin = time.Now()
	s.Restart(t)
	t.Logf("restarted in %v", time.Since(begin))
	checkBackfill(t, s, last)
	got := s.Query(t, recorded.Metric.String(), recorded.Timestamp.Time())
	if len(got) != 1 || got[0].Value != recorded.Value {
		t.Errorf("%s at %v after Restart: got %v, want %v", recorded.Metric, recorded.Timestamp.Time(), got, recorded.Value)
	}
}

// TestTargets scrapes a target next to a backfill ending a minute ago. It runs
// in parallel with TestServer because Prometheus applies its targets on a 5s
// tick, so the first scrape comes about 5s after start.
func TestTargets(t *testing.T) {
	if testing.Short() {
		t.Skip("starts prometheus")
	}
	t.Parallel()
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "# TYPE promtest_scraped gauge\npromtest_scraped 1\n")
	}))
	defer target.Close()
	last := time.Now().Add(-time.Minute).Truncate(time.Second)
	host := strings.TrimPrefix(target.URL, "http://")
	s := Start(t, Options{Targets: []string{host}, ScrapeInterval: 500 * time.Millisecond, Backfill: testBackfill(last)})
	begin := time.Now()
	got := waitFor(t, s, "promtest_scraped")
	t.Logf("first scrape stored %v after start", time.Since(begin))
	want := model.Metric{"__name__": "promtest_scraped", "job": Job, "instance": model.LabelValue(host)}
	if !got.Metric.Equal(want) || got.Value != 1 {
		t.Errorf("got %v, want %v => 1", got, want)
	}
	checkBackfill(t, s, last)
}

// checkBackfill checks the backfilled counters, last being their last sample.
func checkBackfill(t *testing.T, s *Server, last time.Time) {
	t.Helper()
	for _, tc := range []struct {
		query string
		at    time.Time
		want  float64 // NaN: an empty result
	}{
		{"increase(promtest_requests_total[1h])", last, 36000},
		{"increase(promtest_errors_total[1h])", last, 36},
		{"increase(promtest_requests_total[1h])", last.Add(-2 * time.Hour), 36000},
		{"rate(promtest_requests_total[5m])", last, 10},
		{"rate(promtest_requests_total[5m])", last.Add(30 * time.Minute), math.NaN()},
	} {
		got := s.Query(t, tc.query, tc.at)
		at := fmt.Sprintf("last%+gs", tc.at.Sub(last).Seconds())
		switch {
		case math.IsNaN(tc.want):
			if len(got) != 0 {
				t.Errorf("%s at %s: got %v, want nothing", tc.query, at, got)
			}
		case len(got) != 1:
			t.Errorf("%s at %s: got %v, want one sample", tc.query, at, got)
		case math.Abs(float64(got[0].Value)/tc.want-1) > 0.01:
			t.Errorf("%s at %s: got %v, want %v ± 1%%", tc.query, at, got[0].Value, tc.want)
		}
	}
}

// waitFor queries q at the current time until it returns one sample, for at
// most 15s, and returns that sample.
func waitFor(t *testing.T, s *Server, q string) *model.Sample {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if v := s.Query(t, q, time.Now()); len(v) == 1 {
			return v[0]
		} else if time.Now().After(deadline) {
			t.Fatalf("%s: got %v after 15s, want one sample", q, v)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
