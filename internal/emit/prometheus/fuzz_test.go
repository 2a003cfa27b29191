package prometheus_test

import (
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/emac-dev/emac/internal/emit/prometheus"
	"github.com/emac-dev/emac/internal/promql"
)

// FuzzWindowed: user queries (telemetry, SLO files) are re-windowed;
// whatever the input, this never panics, and what comes out parses. (Their
// canary rewriting is FuzzGrouped's.) Without placeholders, it is the
// Prometheus printer's text of the query with every range set.
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
		`sum(rate(x{a="382d4h5m6s7ms"}[5m]))`,
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
		if promql.Window.MatchString(q) {
			return
		}
		e, _ := parser.ParseExpr(q)
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			switch n := n.(type) {
			case *parser.MatrixSelector:
				n.Range = time.Hour
			case *parser.SubqueryExpr:
				n.Range = time.Hour
			}
			return nil
		})
		if want := e.String(); w != want {
			t.Fatalf("Windowed(%q) = %q, want %q", q, w, want)
		}
	})
}
