package promql_test

import (
	"strings"
	"testing"

	"github.com/emac-dev/emac/internal/promql"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct{ query, err string }{
		{`sum(rate(http_requests_total{code=~"5.."}[5m]))`, ""},
		{`sum(rate(x[{{.window}}])) / sum(rate(y[{{ .window }}]))`, ""},
		{`sum(rate(x[5m])`, "unclosed left parenthesis"},
		{`1`, "scalar, not an instant vector"},
		{`rate(x[5m:1m])`, ""},
		{`x[5m]`, "matrix, not an instant vector"},
		{`"a"`, "string, not an instant vector"},
	} {
		_, err := promql.Parse(tc.query)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("Parse(%q): %v", tc.query, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("Parse(%q) = %v, want an error with %q", tc.query, err, tc.err)
		}
	}
}
