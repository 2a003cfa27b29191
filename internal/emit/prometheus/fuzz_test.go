package prometheus_test

import (
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/emac-dev/emac/internal/emit/prometheus"
)

// FuzzWindowed: user queries (telemetry, SLO files) are re-windowed and
// given a canary matcher; whatever the input, this never panics, and what
// comes out parses.
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
	m := labels.MustNewMatcher(labels.MatchEqual, "rollouts_pod_template_hash", "{{args.canary-hash}}")
	f.Fuzz(func(t *testing.T, q string) {
		w, err := prometheus.Windowed(q, time.Hour)
		if err != nil {
			return
		}
		if _, err := parser.ParseExpr(w); err != nil {
			t.Fatalf("Windowed(%q) = %q, which does not parse: %v", q, w, err)
		}
		c, err := prometheus.WithMatcher(w, m)
		if err != nil {
			t.Fatalf("WithMatcher(%q): %v", w, err)
		}
		if _, err := parser.ParseExpr(c); err != nil {
			t.Fatalf("WithMatcher(%q) = %q, which does not parse: %v", w, c, err)
		}
	})
}
