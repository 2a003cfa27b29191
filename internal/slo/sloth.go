package slo

import (
	"fmt"

	"github.com/emac-dev/emac/internal/diag"
	yaml "go.yaml.in/yaml/v3"
)

// slothFields are the names of the SLI fields, which differ between the
// plain file (snake_case) and the Kubernetes CRD (camelCase).
type slothFields struct {
	format, what, specWhat             string
	errorQuery, totalQuery, errorRatio string
}

var (
	slothPlain = slothFields{format: FormatSloth, what: "Sloth SLO", specWhat: "Sloth file", errorQuery: "error_query", totalQuery: "total_query", errorRatio: "error_ratio_query"}
	slothCR    = slothFields{format: FormatSlothCRD, what: "Sloth SLO", specWhat: "PrometheusServiceLevel spec", errorQuery: "errorQuery", totalQuery: "totalQuery", errorRatio: "errorRatioQuery"}
)

// sloth reads a version: prometheus/v1 file.
func (r *reader) sloth(doc, versionKey *yaml.Node) {
	r.slothSpec(doc, versionKey, slothPlain)
}

// slothCRD reads an apiVersion sloth.slok.dev/v1, kind
// PrometheusServiceLevel document: the same spec, under spec.
func (r *reader) slothCRD(doc, kindKey *yaml.Node) {
	sk, spec := r.requireMapping(doc, kindKey, "spec", "PrometheusServiceLevel")
	if spec != nil {
		r.slothSpec(spec, sk, slothCR)
	}
}

// slothSpec reads service and slos[]: one Objective per entry. Sloth has
// no per-file SLO period in either form (it is a command-line flag, or an
// AlertWindows file given with -w), so every SLO gets Sloth's default, 30d.
func (r *reader) slothSpec(spec, at *yaml.Node, f slothFields) {
	service, _ := r.requireString(spec, at, "service", f.specWhat)
	_, slos := r.requireSequence(spec, at, "slos", f.specWhat)
	if slos == nil {
		return
	}
	for _, e := range slos.Content {
		e = r.resolve(e)
		if e == nil {
			return
		}
		if e.Kind != yaml.MappingNode {
			r.errorf(e, "an SLO must be a mapping, not %s", diag.NodeKind(e))
			continue
		}
		n0 := len(r.ds)
		o := Objective{Service: service, Format: f.format, Window: SlothDefaultWindow}
		o.Name, _ = r.requireString(e, e, "name", f.what)
		if k, v := r.get(e, "objective"); k == nil {
			r.missing(e, e, "objective", f.what)
		} else if p, ok := r.number(v); !ok {
			r.errorf(valueOr(v, k), "objective must be a number (a percentage such as 99.9)")
		} else if !inUnit(percent(p)) {
			r.errorf(valueOr(v, k), "objective %v is outside (0,100)", p)
		} else {
			o.Target = percent(p)
			r.smallPercent(v, "objective", p, short(p*100))
		}
		if sk, sli := r.requireMapping(e, e, "sli", f.what); sli != nil {
			r.slothSLI(sli, sk, f, &o)
		}
		if r.failed(n0) || service == "" {
			continue
		}
		r.add(o, e)
	}
}

// slothSLI reads events (error and total queries), raw (a precomputed
// error ratio: kept in Bad, with Total empty) or plugin (no queries).
func (r *reader) slothSLI(sli, at *yaml.Node, f slothFields, o *Objective) {
	if k, ev := r.get(sli, "events"); k != nil {
		if ev == nil {
			return
		}
		if ev.Kind != yaml.MappingNode {
			r.errorf(ev, "events must be a mapping, not %s", diag.NodeKind(ev))
			return
		}
		bad, _ := r.requireString(ev, k, f.errorQuery, "events SLI")
		total, _ := r.requireString(ev, k, f.totalQuery, "events SLI")
		o.Bad, o.Total = trim(bad), trim(total)
		return
	}
	if k, raw := r.get(sli, "raw"); k != nil {
		if raw == nil {
			return
		}
		if raw.Kind != yaml.MappingNode {
			r.errorf(raw, "raw must be a mapping, not %s", diag.NodeKind(raw))
			return
		}
		q, _ := r.requireString(raw, k, f.errorRatio, "raw SLI")
		o.Bad = trim(q)
		return
	}
	if k, _ := r.get(sli, "plugin"); k != nil {
		return
	}
	for _, want := range []string{"events", "raw", "plugin"} {
		if k := misspelt(sli, want); k != nil {
			r.errorf(k, "unknown field %q in sli", k.Value).Detail = fmt.Sprintf("did you mean %q?", want)
			return
		}
	}
	r.errorf(at, "sli has none of events, raw and plugin")
}
