package prometheus

import (
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
)

// FuzzGrouped: a query grouped by a canary label parses, keeps the label
// at the top, and leaves the shared tree as it was, so that the windows
// written after it are unchanged.
func FuzzGrouped(f *testing.F) {
	for _, s := range []string{
		`sum(rate(http_requests_total{code=~"5.."}[5m]))`,
		`sum without (pod) (rate(x[5m]))`,
		`sum by (rollouts_pod_template_hash) (rate(x[5m]))`,
		`sum(rate(x[{{.window}}])) / sum(rate(y[{{.window}}]))`,
		`max_over_time(sum(rate(x[1m]))[10m:1m])`,
		`count(x) - sum by (le) (rate(b_bucket[5m]))`,
		`sum(rate(x[5m])`,
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, q string, argo bool) {
		by := FlaggerCanaryLabel
		if argo {
			by = ArgoCanaryLabel
		}
		x, err := newWindower(q)
		if err != nil {
			return
		}
		before := x.at(time.Hour)
		g, err := x.grouped(CanaryWindow, by)
		if err != nil {
			t.Fatalf("grouped(%q): %v", q, err)
		}
		e, err := parser.ParseExpr(g)
		if err != nil {
			t.Fatalf("grouped(%q) = %q, which does not parse: %v", q, g, err)
		}
		if a, ok := e.(*parser.AggregateExpr); !ok || a.Without || len(a.Grouping) != 1 || a.Grouping[0] != by {
			t.Fatalf("grouped(%q) = %q, not summed by %s", q, g, by)
		}
		if after := x.at(time.Hour); after != before {
			t.Fatalf("grouping %q changed the query: %q, then %q", q, before, after)
		}
	})
}
