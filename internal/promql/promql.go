// Package promql reads the PromQL queries a spec gives (component and
// journey telemetry) the way emac uses them: parsed by the Prometheus
// parser, with any {{.window}} placeholder standing for a range, and of
// the one type a ratio can be built from.
package promql

import (
	"fmt"
	"regexp"

	"github.com/prometheus/prometheus/promql/parser"
)

// Window matches a {{.window}} placeholder, which emac replaces with each
// window it records.
var Window = regexp.MustCompile(`\{\{\s*\.window\s*\}\}`)

// Parse parses a telemetry query, its placeholders read as a 5m range, and
// checks that it is an instant vector.
func Parse(query string) (parser.Expr, error) {
	e, err := parser.ParseExpr(Window.ReplaceAllString(query, "5m"))
	if err != nil {
		return nil, err
	}
	if t := e.Type(); t != parser.ValueTypeVector {
		return nil, fmt.Errorf("the query is a %s, not an instant vector", t)
	}
	return e, nil
}
