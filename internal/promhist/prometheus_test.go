package promhist

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/emac-dev/emac/internal/latency"
)

func TestQuery(t *testing.T) {
	for _, tc := range []struct {
		selector string
		window   time.Duration
		want     string
	}{
		{`http_request_duration_seconds_bucket{service="front"}`, 30 * 24 * time.Hour,
			`sum by (le) (increase(http_request_duration_seconds_bucket{service="front"}[30d]))`},
		{`http_request_duration_seconds{service="front",code!~"5.."}`, time.Hour,
			`sum by (le) (increase(http_request_duration_seconds_bucket{code!~"5..",service="front"}[1h]))`},
		{`{__name__="rpc_latency_seconds",job=~"api|web"}`, 90 * time.Minute,
			`sum by (le) (increase({__name__="rpc_latency_seconds_bucket",job=~"api|web"}[1h30m]))`},
		{`{__name__=~"rpc_.*_bucket"}`, 5 * time.Minute,
			`sum by (le) (increase({__name__=~"rpc_.*_bucket"}[5m]))`},
		{`(x_bucket)`, 7 * 24 * time.Hour, `sum by (le) (increase(x_bucket[1w]))`},
	} {
		t.Run(tc.selector, func(t *testing.T) {
			got, err := Query(tc.selector, tc.window)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
	if _, err := Query("x_bucket", 0); err == nil {
		t.Error("a zero window is accepted")
	}
}

// fakeAPI answers /api/v1/query with body, after delay, and records the
// form of the last request.
func fakeAPI(t *testing.T, status int, body string, delay time.Duration) (*httptest.Server, *http.Request) {
	t.Helper()
	last := &http.Request{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/query" {
			http.NotFound(w, r)
			return
		}
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		*last = *r
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, last
}

func vector(samples ...string) string {
	return `{"status":"success","data":{"resultType":"vector","result":[` + strings.Join(samples, ",") + `]}}`
}

func sample(le, v string) string {
	return fmt.Sprintf(`{"metric":{"le":%q},"value":[1700000000,%q]}`, le, v)
}

// TestPrometheusRead: the source asks the query at the set time with its
// timeout and reads the answer, sorting the buckets; what it cannot use is
// an error, an empty answer a *NoDataError.
func TestPrometheusRead(t *testing.T) {
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	const sel = `http_request_duration_seconds{service="front"}`
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   []latency.Bucket
		warns  []string
		err    string
	}{
		{"buckets", 200, vector(sample("+Inf", "120"), sample("0.1", "90"), sample("0.5", "118.5")),
			[]latency.Bucket{{UpperBound: 0.1, Count: 90}, {UpperBound: 0.5, Count: 118.5}, {UpperBound: inf, Count: 120}}, nil, ""},
		{"warnings kept", 200, strings.TrimSuffix(vector(sample("+Inf", "1"), sample("1", "1")), "}") + `,"warnings":["PromQL warning: something"]}`,
			[]latency.Bucket{{UpperBound: 1, Count: 1}, {UpperBound: inf, Count: 1}}, []string{"PromQL warning: something"}, ""},
		{"counts made cumulative", 200, vector(sample("0.1", "10"), sample("0.5", "9"), sample("+Inf", "12")),
			[]latency.Bucket{{UpperBound: 0.1, Count: 10}, {UpperBound: 0.5, Count: 10}, {UpperBound: inf, Count: 12}},
			[]string{"bucket counts fell below lower buckets' by up to 0.083 of the total and were raised to them, as histogram_quantile does: do the selected series have the same buckets?"}, ""},
		{"a rounding is made cumulative quietly", 200, vector(sample("0.1", "10"), sample("0.5", "9.9999999999"), sample("+Inf", "12")),
			[]latency.Bucket{{UpperBound: 0.1, Count: 10}, {UpperBound: 0.5, Count: 10}, {UpperBound: inf, Count: 12}}, nil, ""},
		{"no samples", 200, vector(), nil, nil, "no histogram series match " + sel + " in prometheus URL: sum by (le) (increase(http_request_duration_seconds_bucket{service=\"front\"}[1h])) (no samples in the window)"},
		{"no le", 200, vector(`{"metric":{},"value":[1700000000,"3"]}`), nil, nil, "a sample without le: the selector does not select a histogram's _bucket series"},
		{"le not a number", 200, vector(sample("fast", "3")), nil, nil, `le="fast" is not a number`},
		{"le written twice", 200, vector(sample("1", "3"), sample("1.0", "3")), nil, nil, "two le values for the bound 1"},
		{"a negative increase", 200, vector(sample("1", "-3")), nil, nil, `le="1" increased by -3`},
		{"native histogram", 200, vector(`{"metric":{},"histogram":[1700000000,{"count":"3","sum":"1","buckets":[[0,"0","1","3"]]}]}`), nil, nil, "a native histogram"},
		{"a scalar", 200, `{"status":"success","data":{"resultType":"scalar","result":[1700000000,"1"]}}`, nil, nil, "the answer is a scalar, not an instant vector"},
		{"refused", 400, `{"status":"error","errorType":"bad_data","error":"parse error: unexpected"}`, nil, nil, "prometheus URL: sum by (le) (increase(http_request_duration_seconds_bucket{service=\"front\"}[1h])): bad_data: parse error: unexpected"},
		{"server error", 503, `Service Unavailable`, nil, nil, "server_error: server error: 503"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, last := fakeAPI(t, tc.status, tc.body, 0)
			p, err := NewPrometheus(srv.URL, PrometheusOptions{At: at, Timeout: 7 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			h, err := p.Read(context.Background(), sel, time.Hour)
			if got := last.Form.Get("time"); got != "1748779200" {
				t.Errorf("time = %q, want %d", got, at.Unix())
			}
			if got := last.Form.Get("timeout"); got != "7s" {
				t.Errorf("timeout = %q, want 7s", got)
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(strings.ReplaceAll(err.Error(), srv.URL, "URL"), tc.err) {
					t.Errorf("got %v, want %q", err, tc.err)
				}
				var nd *NoDataError
				if errors.As(err, &nd) != (tc.name == "no samples") {
					t.Errorf("got %T", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, h.Buckets); diff != "" {
				t.Errorf("buckets (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.warns, h.Warnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPrometheusTimeout: a server slower than the timeout is said to be
// so, and the caller's cancellation is the caller's.
func TestPrometheusTimeout(t *testing.T) {
	srv, _ := fakeAPI(t, 200, vector(), 5*time.Second)
	p, err := NewPrometheus(srv.URL, PrometheusOptions{Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = p.Read(context.Background(), "x_bucket", time.Hour)
	if err == nil || !strings.Contains(err.Error(), "no answer within 50ms") {
		t.Errorf("got %v, want no answer within 50ms", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Read(ctx, "x_bucket", time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

func TestNewPrometheus(t *testing.T) {
	for _, u := range []string{"", "prometheus:9090", "ftp://x", "http://", "://"} {
		if _, err := NewPrometheus(u, PrometheusOptions{}); err == nil {
			t.Errorf("NewPrometheus(%q) accepted", u)
		}
	}
	p, err := NewPrometheus("http://127.0.0.1:1", PrometheusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Read(context.Background(), "x_bucket", time.Hour); err == nil || !strings.Contains(err.Error(), "prometheus http://127.0.0.1:1: sum by (le)") {
		t.Errorf("got %v, want a connection error naming the server and query", err)
	}
	if _, err := p.Read(context.Background(), "sum(x)", time.Hour); !errors.As(err, new(*SelectorError)) {
		t.Errorf("got %v, want a *SelectorError", err)
	}
}
