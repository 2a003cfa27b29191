package emittest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Promtool is the path of Debian's promtool; the test is skipped without
// it, and fails when CI is set.
func Promtool(t testing.TB) string {
	t.Helper()
	pt, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool not found: apt-get install prometheus")
		}
		t.Skip("promtool not found")
	}
	return pt
}

// Rules runs `promtool check rules` on a journey's prometheus/rules.yaml
// and `promtool test rules` on its generated prometheus/rules_test.yaml,
// the journey's files written under dir; what names the journey in
// errors.
func Rules(t testing.TB, dir, what string) {
	t.Helper()
	pt := Promtool(t)
	for _, args := range [][]string{
		{"check", "rules", "prometheus/rules.yaml"},
		{"test", "rules", "prometheus/rules_test.yaml"},
	} {
		cmd := exec.Command(pt, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: promtool %s: %v\n%s", what, strings.Join(args, " "), err, out)
		}
	}
}

// Gate evaluates a gate query in Prometheus (promtool's engine) at 20m,
// over input series (promtool series notation, each with its values) and
// the recording rules: the query must have one sample equal to want
// (to 1e-9), or none when want is negative.
func Gate(t testing.TB, rules []byte, inputs map[string]string, query string, want float64) {
	t.Helper()
	var in []string
	for s, v := range inputs {
		in = append(in, fmt.Sprintf("      - {series: '%s', values: '%s'}", strings.ReplaceAll(s, "'", "''"), v))
	}
	exp := "        exp_samples: []"
	if want >= 0 {
		query = fmt.Sprintf("abs((%s) - %v) < bool 1e-9", query, want)
		exp = "        exp_samples:\n          - {labels: '{}', value: 1}"
	}
	test := fmt.Sprintf(`rule_files: [rules.yaml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
%s
    promql_expr_test:
      - expr: '%s'
        eval_time: 20m
%s
`, strings.Join(in, "\n"), strings.ReplaceAll(query, "'", "''"), exp)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), rules, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "gate_test.yaml"), []byte(test), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(Promtool(t), "test", "rules", "gate_test.yaml")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool: %v\n%s", err, out)
	}
}
