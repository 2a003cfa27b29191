package prometheus_test

import (
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/emac-dev/emac/internal/emit/prometheus"
)

// FuzzWindowed: user queries (telemetry, SLO files) are re-windowed;
// whatever the input, this never panics, and what comes out parses. (Their
// canary rewriting is FuzzGrouped's.)
func FuzzWindowed(f *testing.F) {
	for _, s := range []string{
		`sum(rate(http_requests_total{code=~"5.."}[5m]))`,
		`sum(increase(payment_requests_total{provider="paya"}[30d]))`,
		`sum(rate(x[{{.window}}]))`,
		`sum(rate(x[{{ .window }}])) / sum(rate(y[{{.window}}]))`,
		`max_over_time(rate(x[1m])[10m:1m])`,
		`histogram_quantile(0.99, sum by (le) (rate(b_bucket[5m])))`,
		`1 - x offset 5m`,
		`{__name__="x"}`,
		`sum(rate(x[5m])`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		w, err := prometheus.Windowed(q, time.Hour)
		if err != nil {
			return
		}
		if _, err := parser.ParseExpr(w); err != nil {
			t.Fatalf("Windowed(%q) = %q, which does not parse: %v", q, w, err)
		}
	})
}
