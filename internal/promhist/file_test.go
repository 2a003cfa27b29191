package promhist

import (
	"context"
	"errors"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/emac-dev/emac/internal/latency"
)

var inf = math.Inf(1)

// defaultBounds are client_golang's default buckets, +Inf last.
var defaultBounds = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, inf}

func cumulative(bounds []float64, counts ...float64) []latency.Bucket {
	bs := make([]latency.Bucket, len(bounds))
	for i := range bounds {
		bs[i] = latency.Bucket{UpperBound: bounds[i], Count: counts[i]}
	}
	return bs
}

// TestFileRead selects and sums histograms in exposition text: the
// _bucket series or the family by name, label matchers of every kind,
// +Inf from _count, untyped bucket series, OpenMetrics.
func TestFileRead(t *testing.T) {
	metrics, err := os.ReadFile("testdata/metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	const h = "# TYPE x histogram\n"
	for _, tc := range []struct {
		name, text, selector string
		want                 []latency.Bucket
		series               int
	}{
		{"bucket series of one service", string(metrics), `http_request_duration_seconds_bucket{service="front"}`,
			cumulative(defaultBounds, 123, 988, 5810, 15225, 21666, 24015, 24422, 24512, 24534, 24539, 24540, 24541), 3},
		{"the family's name", string(metrics), `http_request_duration_seconds{service="front"}`,
			cumulative(defaultBounds, 123, 988, 5810, 15225, 21666, 24015, 24422, 24512, 24534, 24539, 24540, 24541), 3},
		{"regex across services", string(metrics), `http_request_duration_seconds_bucket{service=~"front|cart",method="GET"}`,
			cumulative(defaultBounds, 530, 3580, 11110, 19210, 22620, 23574, 23722, 23760, 23769, 23771, 23772, 23772), 2},
		{"not equal", string(metrics), `http_request_duration_seconds_bucket{service="front",code!="500"}`,
			cumulative(defaultBounds, 123, 988, 5808, 15218, 21648, 23978, 24378, 24465, 24486, 24491, 24492, 24493), 2},
		{"regex not matching", string(metrics), `http_request_duration_seconds_bucket{service="front",code!~"5.."}`,
			cumulative(defaultBounds, 123, 988, 5808, 15218, 21648, 23978, 24378, 24465, 24486, 24491, 24492, 24493), 2},
		{"name by __name__", string(metrics), `{__name__="http_request_duration_seconds_bucket",service="cart"}`,
			cumulative(defaultBounds, 410, 2620, 5940, 7110, 7400, 7444, 7452, 7454, 7454, 7454, 7454, 7454), 1},
		{"name by regex", string(metrics), `{__name__=~"http_request_duration_.*",service="cart"}`,
			cumulative(defaultBounds, 410, 2620, 5940, 7110, 7400, 7444, 7452, 7454, 7454, 7454, 7454, 7454), 1},
		{"an absent label matches empty", h + "x_bucket{le=\"1\"} 1\nx_bucket{le=\"+Inf\"} 2\nx_bucket{a=\"b\",le=\"1\"} 5\nx_bucket{a=\"b\",le=\"+Inf\"} 5\n", `x_bucket{a=""}`,
			cumulative([]float64{1, inf}, 1, 2), 1},
		{"+Inf from _count", h + "x_bucket{le=\"0.1\"} 3\nx_bucket{le=\"1\"} 7\nx_count 9\n", "x_bucket",
			cumulative([]float64{0.1, 1, inf}, 3, 7, 9), 1},
		{"neither +Inf nor _count", h + "x_bucket{le=\"0.1\"} 3\nx_bucket{le=\"1\"} 7\n", "x_bucket",
			cumulative([]float64{0.1, 1}, 3, 7), 1},
		{"buckets in any order", h + "x_bucket{le=\"+Inf\"} 9\nx_bucket{le=\"1\"} 7\nx_bucket{le=\"0.1\"} 3\n", "x",
			cumulative([]float64{0.1, 1, inf}, 3, 7, 9), 1},
		{"a bucket without le is dropped by the parser", h + "x_bucket{le=\"0.1\"} 3\nx_bucket 5\nx_bucket{le=\"+Inf\"} 9\n", "x_bucket",
			cumulative([]float64{0.1, inf}, 3, 9), 1},
		{"float counts", h + "x_bucket{le=\"0.1\"} 2.5\nx_bucket{le=\"+Inf\"} 4.25\n", "x_bucket",
			cumulative([]float64{0.1, inf}, 2.5, 4.25), 1},
		{"untyped bucket series", "x_bucket{a=\"1\",le=\"0.1\"} 1\nx_bucket{a=\"1\",le=\"+Inf\"} 3\nx_bucket{a=\"2\",le=\"0.1\"} 2\nx_bucket{a=\"2\",le=\"+Inf\"} 2\n", "x_bucket",
			cumulative([]float64{0.1, inf}, 3, 5), 2},
		{"untyped by the family's name", "x_bucket{le=\"0.1\"} 1\nx_bucket{le=\"1e0\"} 2\nx_bucket{le=\"+Inf\"} 3\n", `x{}`,
			cumulative([]float64{0.1, 1, inf}, 1, 2, 3), 1},
		{"OpenMetrics", "# TYPE x_seconds histogram\n# UNIT x_seconds seconds\nx_seconds_bucket{s=\"a\",le=\"0.1\"} 1\nx_seconds_bucket{s=\"a\",le=\"+Inf\"} 4\nx_seconds_count{s=\"a\"} 4\nx_seconds_sum{s=\"a\"} 1.5\nx_seconds_created{s=\"a\"} 1.7e9\n# EOF\n", `x_seconds_bucket{s="a"}`,
			cumulative([]float64{0.1, inf}, 1, 4), 1},
		{"OpenMetrics gauge histogram", "# TYPE x gaugehistogram\nx_bucket{le=\"0.1\"} 1\nx_bucket{le=\"+Inf\"} 4\nx_gcount 4\nx_gsum 1.5\n# EOF\n", `x_bucket`,
			cumulative([]float64{0.1, inf}, 1, 4), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ParseFile("m.txt", []byte(tc.text))
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.Read(context.Background(), tc.selector, 0)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got.Buckets); diff != "" {
				t.Errorf("buckets (-want +got):\n%s", diff)
			}
			if got.Series != tc.series || got.From != "m.txt" {
				t.Errorf("got %d series from %q, want %d from m.txt", got.Series, got.From, tc.series)
			}
		})
	}
}

// TestFileReadErrors: what cannot be read is said, with the series or the
// line; no match is a *NoDataError, a bad selector a *SelectorError.
func TestFileReadErrors(t *testing.T) {
	metrics, err := os.ReadFile("testdata/metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	const h = "# TYPE x histogram\n"
	var noData *NoDataError
	var badSel *SelectorError
	for _, tc := range []struct {
		name, text, selector string
		kind                 any // nil, &noData or &badSel
		want                 string
	}{
		{"no series with the labels", string(metrics), `http_request_duration_seconds_bucket{service="pricing"}`, &noData,
			`no histogram series match http_request_duration_seconds_bucket{service="pricing"} in m.txt (4 series with that name, none with those labels)`},
		{"a gauge with the name", string(metrics), `go_goroutines`, &noData, `(go_goroutines is a gauge, not a histogram)`},
		{"a counter with the name", string(metrics), `http_requests_total{service="front"}`, &noData, `(http_requests_total is a counter, not a histogram)`},
		{"a summary with the name", string(metrics), `go_gc_duration_seconds`, &noData, `(go_gc_duration_seconds is a summary, not a histogram)`},
		{"no such name", string(metrics), `nope_bucket`, &noData, `no histogram series match nope_bucket in m.txt`},
		{"an aggregation", "", `sum by (le) (rate(x_bucket[5m]))`, &badSel, "is an aggregation, not a series selector"},
		{"a range", "", `x_bucket[5m]`, &badSel, "is a range, not a series selector"},
		{"an offset", "", `x_bucket offset 1h`, &badSel, "has an offset or @ modifier"},
		{"an le matcher", "", `x_bucket{le="0.1"}`, &badSel, "constrains le"},
		{"not PromQL", "", `x_bucket{`, &badSel, "latencyHistogram x_bucket{: 1:10: parse error"},
		{"untyped without le", "x_bucket{a=\"1\"} 3\n", "x_bucket", nil, `m.txt: x_bucket{a="1"} has a sample without le: it is not a histogram's bucket series`},
		{"untyped le not a number", "x_bucket{le=\"fast\"} 3\n", "x_bucket", nil, `m.txt: x_bucket{} has a bucket whose le is not a number`},
		{"untyped le NaN", "x_bucket{le=\"NaN\"} 3\n", "x_bucket", nil, `m.txt: x_bucket{} has a bucket whose le is not a number`},
		{"two buckets with one le", "x_bucket{le=\"1\"} 3\nx_bucket{le=\"1.0\"} 4\n", "x_bucket", nil, `m.txt: x_bucket{} has two buckets le="1"`},
		{"a NaN count", h + "x_bucket{le=\"1\"} NaN\nx_bucket{le=\"+Inf\"} 4\n", "x", nil, `m.txt: x_bucket{} bucket le="1" counts NaN`},
		{"an infinite count", "x_bucket{le=\"1\"} +Inf\n", "x_bucket", nil, `m.txt: x_bucket{} bucket le="1" counts +Inf`},
		{"different buckets", h + "x_bucket{a=\"1\",le=\"0.1\"} 1\nx_bucket{a=\"1\",le=\"+Inf\"} 2\nx_bucket{a=\"2\",le=\"0.2\"} 1\nx_bucket{a=\"2\",le=\"+Inf\"} 2\n", "x", nil,
			`m.txt: x_bucket{a="1"} and x_bucket{a="2"} have different buckets (le 0.1,+Inf and 0.2,+Inf): summed by le they would mix`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ParseFile("m.txt", []byte(tc.text))
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.Read(context.Background(), tc.selector, 0)
			if err == nil {
				t.Fatalf("got %+v, want an error", got)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %q, want it to contain %q", err, tc.want)
			}
			switch k := tc.kind.(type) {
			case **NoDataError:
				if !errors.As(err, k) {
					t.Errorf("got %T, want a *NoDataError", err)
				}
			case **SelectorError:
				if !errors.As(err, k) {
					t.Errorf("got %T, want a *SelectorError", err)
				}
			default:
				if errors.As(err, &noData) || errors.As(err, &badSel) {
					t.Errorf("got %T, want a plain error", err)
				}
			}
		})
	}
}

// TestParseFileErrors: text the parser refuses is an error at file:line.
func TestParseFileErrors(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"a word for a value", "# TYPE x gauge\nx 1\nx{a=\"b\"} fast\n", `m.txt:3: expected float as value, got "fast"`},
		{"a bad le", "# TYPE x histogram\nx_bucket{le=\"fast\"} 1\n", `m.txt:2: expected float as value for 'le' label, got "fast"`},
		{"an unclosed brace", "x{a=\"b\" 1\n", "m.txt:1: "},
		{"two TYPE lines", "# TYPE x gauge\n# TYPE x counter\n", "m.txt:2: "},
		{"OpenMetrics", "# TYPE x histogram\nx_bucket{le=\"0.1\"} 1\nbad line here\n# EOF\n", "m.txt:3: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFile("m.txt", []byte(tc.text))
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("got %v, want an error starting %q", err, tc.want)
			}
		})
	}
}

// TestReadFile reads the testdata file from disk and refuses a missing one.
func TestReadFile(t *testing.T) {
	f, err := ReadFile("testdata/metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	h, err := f.Read(context.Background(), `http_request_duration_seconds_bucket{service="cart"}`, 0)
	if err != nil {
		t.Fatal(err)
	}
	if h.From != "testdata/metrics.txt" || len(h.Buckets) != 12 || h.Buckets[11].Count != 7454 {
		t.Errorf("got %+v", h)
	}
	if _, err := ReadFile("testdata/nope.txt"); err == nil {
		t.Error("a missing file reads")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.Read(ctx, "x", 0); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v after cancel, want context.Canceled", err)
	}
}
