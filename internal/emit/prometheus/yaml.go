package prometheus

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The rule and test files are written by hand: they are large (long PromQL
// strings, many series) and of a fixed shape, and a reflective YAML encoder
// spent most of compile's time on them. Strings are single-quoted (only '
// needs escaping, PromQL's double quotes read as they are), or
// double-quoted with JSON escapes when they hold control characters.

// quote writes s as a YAML scalar that reads back as s.
func quote(s string) string {
	plain := utf8.ValidString(s)
	for _, r := range s {
		if !unicode.IsPrint(r) {
			plain = false
			break
		}
	}
	if plain {
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	b, _ := json.Marshal(s)
	return string(b)
}

type yamlWriter struct{ b strings.Builder }

func (w *yamlWriter) line(indent int, s string) {
	for range indent {
		w.b.WriteByte(' ')
	}
	w.b.WriteString(s)
	w.b.WriteByte('\n')
}

// item writes "key: value" at indent, the first of a list item with "- ".
func (w *yamlWriter) kv(indent int, first bool, key, value string) {
	if first {
		w.line(indent-2, "- "+key+": "+value)
		return
	}
	w.line(indent, key+": "+value)
}

// mapping writes "key:" and the map's entries, sorted, below it; prefix
// ("- " or "") starts a list item. An empty map writes nothing.
func (w *yamlWriter) mapping(indent int, prefix, key string, m map[string]string) {
	if len(m) == 0 {
		return
	}
	w.line(indent-len(prefix), prefix+key+":")
	for _, k := range slices.Sorted(maps.Keys(m)) {
		w.line(indent+2, quoteKey(k)+": "+quote(m[k]))
	}
}

// quoteKey leaves label names (identifiers) plain.
func quoteKey(k string) string {
	for i, r := range k {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return quote(k)
		}
	}
	if k == "" {
		return "''"
	}
	return k
}

// encode writes a rule file.
func (f *File) encode() []byte {
	var w yamlWriter
	w.line(0, "groups:")
	for _, g := range f.Groups {
		w.kv(4, true, "name", quote(g.Name))
		w.line(4, "rules:")
		for _, r := range g.Rules {
			first := true
			field := func(k, v string) {
				w.kv(8, first, k, v)
				first = false
			}
			if r.Record != "" {
				field("record", quote(r.Record))
			}
			if r.Alert != "" {
				field("alert", quote(r.Alert))
			}
			field("expr", quote(r.Expr))
			if r.For != "" {
				field("for", quote(r.For))
			}
			w.mapping(8, "", "labels", r.Labels)
			w.mapping(8, "", "annotations", r.Annotations)
		}
	}
	return []byte(w.b.String())
}

// encode writes a promtool test file.
func (f *TestFile) encode() []byte {
	var w yamlWriter
	w.line(0, "rule_files:")
	for _, r := range f.RuleFiles {
		w.line(2, "- "+quote(r))
	}
	w.line(0, "evaluation_interval: "+quote(f.EvaluationInterval))
	w.line(0, "tests:")
	for _, tc := range f.Tests {
		w.kv(4, true, "name", quote(tc.Name))
		w.line(4, "interval: "+quote(tc.Interval))
		if len(tc.InputSeries) == 0 {
			w.line(4, "input_series: []")
		} else {
			w.line(4, "input_series:")
			for _, s := range tc.InputSeries {
				w.kv(8, true, "series", quote(s.Series))
				w.line(8, "values: "+quote(s.Values))
			}
		}
		if len(tc.Alerts) > 0 {
			w.line(4, "alert_rule_test:")
			for _, a := range tc.Alerts {
				w.kv(8, true, "eval_time", quote(a.EvalTime))
				w.line(8, "alertname: "+quote(a.AlertName))
				if len(a.ExpAlerts) == 0 {
					w.line(8, "exp_alerts: []")
					continue
				}
				w.line(8, "exp_alerts:")
				for _, e := range a.ExpAlerts {
					w.mapping(12, "- ", "exp_labels", e.ExpLabels)
					w.mapping(12, "", "exp_annotations", e.ExpAnnotations)
				}
			}
		}
		if len(tc.Exprs) > 0 {
			w.line(4, "promql_expr_test:")
			for _, x := range tc.Exprs {
				w.kv(8, true, "expr", quote(x.Expr))
				w.line(8, "eval_time: "+quote(x.EvalTime))
				w.line(8, "exp_samples:")
				for _, s := range x.ExpSamples {
					w.kv(12, true, "labels", quote(s.Labels))
					w.line(12, "value: "+strconv.FormatFloat(s.Value, 'g', -1, 64))
				}
			}
		}
	}
	return []byte(w.b.String())
}
