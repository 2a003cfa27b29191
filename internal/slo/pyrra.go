package slo

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/emac-dev/emac/internal/diag"
	yaml "go.yaml.in/yaml/v3"
)

// pyrraIndicators are the indicator kinds of a Pyrra ServiceLevelObjective.
var pyrraIndicators = []string{"ratio", "latency", "latencyNative", "bool_gauge"}

// pyrra reads an apiVersion pyrra.dev/v1alpha1, kind ServiceLevelObjective
// document. Pyrra has no service field: Service stays empty.
func (r *reader) pyrra(doc, kindKey *yaml.Node) {
	const what = "Pyrra ServiceLevelObjective"
	n0 := len(r.ds)
	o := Objective{Format: FormatPyrra}
	o.Name, _ = r.name(doc, kindKey, what)
	sk, spec := r.requireMapping(doc, kindKey, "spec", what)
	if spec == nil {
		return
	}

	// target: a percentage, as a string ('99.9'); a YAML number is taken too.
	if k, v := r.get(spec, "target"); k == nil {
		r.missing(sk, spec, "target", what)
	} else if v != nil {
		s, ok := r.plainString(v)
		p, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		switch {
		case !ok || v.Tag == "!!bool" || err != nil || math.IsNaN(p) || math.IsInf(p, 0):
			r.errorf(v, "target must be a percentage such as '99.9'")
		case !inUnit(percent(p)):
			r.errorf(v, "target %v is outside (0,100)", p)
		default:
			o.Target = percent(p)
			r.smallPercent(v, "target", p, "'"+short(p*100)+"'")
		}
	}

	if s, v := r.requireString(spec, sk, "window", what); v != nil {
		d, err := parseWindow(s, false)
		if err != nil {
			r.errorf(v, "invalid window %q", s).Detail = err.Error()
		}
		o.Window = d
	}

	if ik, ind := r.requireMapping(spec, sk, "indicator", what); ind != nil {
		r.pyrraIndicator(ind, ik, &o)
	}
	if r.failed(n0) {
		return
	}
	r.add(o, kindKey)
}

func (r *reader) pyrraIndicator(ind, at *yaml.Node, o *Objective) {
	var kind string
	var k, m *yaml.Node
	for _, name := range pyrraIndicators {
		kk, v := r.get(ind, name)
		if kk == nil {
			continue
		}
		if kind != "" {
			r.errorf(kk, "indicator has both %s and %s", kind, name).Detail = "give one of " + strings.Join(pyrraIndicators, ", ")
			return
		}
		kind, k, m = name, kk, v
	}
	if kind == "" {
		for _, want := range pyrraIndicators {
			if kk := misspelt(ind, want); kk != nil {
				r.errorf(kk, "unknown indicator %q", kk.Value).Detail = fmt.Sprintf("did you mean %q?", want)
				return
			}
		}
		r.errorf(at, "indicator has none of %s", strings.Join(pyrraIndicators, ", "))
		return
	}
	if m == nil {
		return
	}
	if m.Kind != yaml.MappingNode || isNull(m) {
		r.errorf(valueOr(m, k), "%s must be a mapping, not %s", kind, diag.NodeKind(m))
		return
	}
	rate := func(metric string) string { return "sum(rate(" + metric + "[{{.window}}]))" }
	switch kind {
	case "ratio":
		errs, _ := r.pyrraMetric(m, k, "errors", kind)
		total, _ := r.pyrraMetric(m, k, "total", kind)
		if errs != "" && total != "" {
			o.Bad, o.Total = rate(errs), rate(total)
		}
	case "latency":
		success, sv := r.pyrraMetric(m, k, "success", kind)
		total, _ := r.pyrraMetric(m, k, "total", kind)
		if success == "" || total == "" {
			return
		}
		o.Good, o.Total = rate(success), rate(total)
		le, ok, err := labelValue(success, "le")
		switch {
		case err != nil:
			r.errorf(sv, "cannot read the success metric's labels").Detail = err.Error()
		case !ok:
			r.errorf(sv, "the success metric has no le label").Detail = `select the histogram bucket of the threshold, e.g. http_request_duration_seconds_bucket{le="0.5"}`
		default:
			v, err := strconv.ParseFloat(strings.TrimSpace(le), 64)
			d, fits := scale(v, metricUnit(success))
			if err != nil || !fits {
				r.errorf(sv, "le %q is not a positive latency", le)
				return
			}
			o.LatencyThreshold = d
		}
	case "latencyNative":
		total, _ := r.pyrraMetric(m, k, "total", kind)
		s, lv := r.requireString(m, k, "latency", kind+" indicator")
		if lv == nil || total == "" {
			return
		}
		d, err := parseWindow(s, false)
		if err != nil || d <= 0 {
			r.errorf(lv, "invalid latency %q", s).Detail = "expected a duration such as 200ms or 1s"
			return
		}
		o.LatencyThreshold = d
		h := "sum(rate(" + total + "[{{.window}}]))"
		o.Total = "histogram_count(" + h + ")"
		o.Good = fmt.Sprintf("histogram_fraction(0, %s, %s) * histogram_count(%s)", strconv.FormatFloat(d.Seconds(), 'g', -1, 64), h, h)
	case "bool_gauge":
		metric, _ := r.requireString(m, k, "metric", kind+" indicator")
		if metric = trim(metric); metric != "" {
			o.Good = "sum(sum_over_time(" + metric + "[{{.window}}]))"
			o.Total = "sum(count_over_time(" + metric + "[{{.window}}]))"
		}
	}
}

// pyrraMetric reads <key>.metric of an indicator.
func (r *reader) pyrraMetric(ind, at *yaml.Node, key, kind string) (string, *yaml.Node) {
	k, m := r.requireMapping(ind, at, key, kind+" indicator")
	if m == nil {
		return "", nil
	}
	s, v := r.requireString(m, k, "metric", kind+" "+key)
	return trim(s), v
}
