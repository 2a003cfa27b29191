package promhist

import (
	"context"
	"errors"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/emac-dev/emac/internal/latency"
)

// FuzzParseSelect: parsing any text and selecting from it with any
// selector never panics; a parse error names the file; what is read is
// sorted by bound, one bucket per bound, with finite non-negative counts
// summed over at least one series, and latency.FromBuckets takes it or
// says why not.
func FuzzParseSelect(f *testing.F) {
	metrics, err := os.ReadFile("testdata/metrics.txt")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []struct{ text, selector string }{
		{string(metrics), `http_request_duration_seconds_bucket{service="front"}`},
		{string(metrics), `http_request_duration_seconds{service=~"front|cart",code!="500"}`},
		{string(metrics), `go_goroutines`},
		{"# TYPE x histogram\nx_bucket{le=\"0.1\"} 3\nx_bucket{le=\"1\"} 7\nx_count 9\n", "x"},
		{"x_bucket{a=\"1\",le=\"0.1\"} 1\nx_bucket{a=\"1\",le=\"+Inf\"} 3\nx_bucket{a=\"2\",le=\"0.1\"} 2\n", `x_bucket{a!="3"}`},
		{"# TYPE x_seconds histogram\n# UNIT x_seconds seconds\nx_seconds_bucket{le=\"0.1\"} 1\nx_seconds_bucket{le=\"+Inf\"} 4\nx_seconds_count 4\n# EOF\n", `{__name__=~"x_.*"}`},
		{"# TYPE x histogram\nx_bucket{le=\"1\"} NaN\nx_bucket{le=\"+Inf\"} 4\n", "x"},
	} {
		f.Add([]byte(s.text), s.selector)
	}
	f.Fuzz(func(t *testing.T, data []byte, selector string) {
		if isOpenMetrics(data) && len(data) > 4<<10 {
			// the OpenMetrics grammar takes about a millisecond a line,
			// far more instrumented: large inputs would stall the fuzzer
			t.Skip()
		}
		file, err := ParseFile("f.txt", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.txt:") {
				t.Fatalf("a parse error without the file: %v", err)
			}
			return
		}
		h, err := file.Read(context.Background(), selector, 0)
		if err != nil {
			var nd *NoDataError
			var se *SelectorError
			if !errors.As(err, &nd) && !errors.As(err, &se) && !strings.HasPrefix(err.Error(), "f.txt: ") {
				t.Fatalf("an error without the file: %v", err)
			}
			return
		}
		if h.Series < 1 || len(h.Buckets) == 0 {
			t.Fatalf("read %d series, %d buckets", h.Series, len(h.Buckets))
		}
		for i, b := range h.Buckets {
			if math.IsNaN(b.UpperBound) || (i > 0 && !(b.UpperBound > h.Buckets[i-1].UpperBound)) {
				t.Fatalf("bounds not ascending: %v", h.Buckets)
			}
			if !(b.Count >= 0) || math.IsInf(b.Count, 0) {
				t.Fatalf("count %v", b.Count)
			}
		}
		if d, err := latency.FromBuckets(h.Buckets); err == nil {
			if c := d.CDF(math.MaxFloat64); c != 1 {
				t.Fatalf("CDF(max) = %v", c)
			}
		}
	})
}
