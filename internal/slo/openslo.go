package slo

import (
	"fmt"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/emac-dev/emac/internal/diag"
)

// collectSLIs indexes the OpenSLO v1 kind SLI documents of the file by
// name, for spec.indicatorRef. It reports nothing: an SLI is not an SLO.
func (r *reader) collectSLIs(docs []*yaml.Node) {
	var visit func(n *yaml.Node, depth int)
	visit = func(n *yaml.Node, depth int) {
		n = r.resolve(n)
		if n == nil || depth > 2 {
			return
		}
		if n.Kind == yaml.SequenceNode {
			for _, c := range n.Content {
				visit(c, depth+1)
			}
			return
		}
		_, api := r.get(n, "apiVersion")
		_, kind := r.get(n, "kind")
		apiVersion, _ := r.plainString(api)
		k, _ := r.plainString(kind)
		if apiVersion == "v1" && k == "List" {
			_, items := r.get(n, "items")
			visit(items, depth+1)
			return
		}
		if apiVersion != "openslo/v1" || k != "SLI" {
			return
		}
		_, md := r.get(n, "metadata")
		_, nm := r.get(md, "name")
		_, spec := r.get(n, "spec")
		name, ok := r.plainString(nm)
		if !ok || spec == nil || spec.Kind != yaml.MappingNode {
			return
		}
		if r.slis == nil {
			r.slis = map[string]*yaml.Node{}
		}
		if _, dup := r.slis[name]; !dup {
			r.slis[name] = spec
		}
	}
	for _, d := range docs {
		visit(d, 0)
	}
}

// openSLOHead reads what both OpenSLO versions share: the name, the spec
// mapping, the service and the first objective with its target (an SLO may
// have several, one per threshold; the others are ignored). spec is nil when
// the document has none, obj when it has no usable objective.
func (r *reader) openSLOHead(doc, kindKey *yaml.Node, format string) (o Objective, spec, obj *yaml.Node) {
	const what = "OpenSLO SLO"
	o = Objective{Format: format}
	o.Name, _ = r.name(doc, kindKey, what)
	sk, spec := r.requireMapping(doc, kindKey, "spec", what)
	if spec == nil {
		return o, nil, nil
	}
	o.Service, _ = r.str(spec, "service")
	_, objs := r.requireSequence(spec, sk, "objectives", what)
	obj = r.first(objs)
	if obj != nil && obj.Kind != yaml.MappingNode {
		r.errorf(obj, "an objective must be a mapping, not %s", diag.NodeKind(obj))
		obj = nil
	}
	if obj != nil {
		o.Target, _ = r.openSLOTarget(obj)
	}
	return o, spec, obj
}

// openSLOv1 reads an apiVersion openslo/v1, kind SLO document.
func (r *reader) openSLOv1(doc, kindKey *yaml.Node) {
	n0 := len(r.ds)
	o, spec, obj := r.openSLOHead(doc, kindKey, FormatOpenSLOv1)
	if spec == nil {
		return
	}

	// Window: timeWindow[0].duration.
	_, tw := r.sequence(spec, "timeWindow")
	if w := r.first(tw); w != nil {
		if w.Kind != yaml.MappingNode {
			r.errorf(w, "a timeWindow must be a mapping, not %s", diag.NodeKind(w))
		} else if s, v := r.requireString(w, w, "duration", "timeWindow"); v != nil {
			d, err := parseWindow(s, true)
			if err != nil {
				r.errorf(v, "invalid timeWindow duration %q", s).Detail = err.Error()
			}
			o.Window = d
		}
	}

	// Indicator: inline, or a kind SLI of the same file named by indicatorRef.
	var sli *yaml.Node
	if _, ind := r.mapping(spec, "indicator"); ind != nil {
		if _, s := r.mapping(ind, "spec"); s != nil {
			sli = s
		} else {
			// Tolerate the SLI spec written without its spec: level.
			for _, key := range []string{"ratioMetric", "thresholdMetric", "rawMetric"} {
				if k, _ := r.get(ind, key); k != nil {
					sli = ind
					break
				}
			}
		}
	} else if ref, _ := r.str(spec, "indicatorRef"); ref != "" {
		sli = r.slis[ref] // not in this file: the queries stay unknown
	}
	if sli != nil {
		r.openSLOv1Indicator(sli, obj, &o)
	}
	if r.failed(n0) {
		return
	}
	r.add(o, kindKey)
}

// openSLOTarget reads an objective's target (a fraction) or targetPercent.
func (r *reader) openSLOTarget(obj *yaml.Node) (float64, bool) {
	tk, tv := r.get(obj, "target")
	pk, pv := r.get(obj, "targetPercent")
	switch {
	case tk != nil && pk != nil:
		r.errorf(pk, "an objective has both target and targetPercent").Detail = "give one: target 0.999 is targetPercent 99.9"
	case tk != nil:
		f, ok := r.number(tv)
		if !ok {
			r.errorf(valueOr(tv, tk), "target must be a number")
			return 0, false
		}
		if !(f > 0 && f < 1) {
			dg := r.errorf(valueOr(tv, tk), "target %v is outside (0,1)", f)
			if f > 1 && f < 100 {
				dg.Detail = fmt.Sprintf("target is a fraction: write target: %s or targetPercent: %s", short(f/100), short(f))
			}
			return 0, false
		}
		return f, true
	case pk != nil:
		f, ok := r.number(pv)
		if !ok {
			r.errorf(valueOr(pv, pk), "targetPercent must be a number")
			return 0, false
		}
		if !inUnit(percent(f)) {
			r.errorf(valueOr(pv, pk), "targetPercent %v is outside (0,100)", f)
			return 0, false
		}
		r.smallPercent(pv, "targetPercent", f, short(f*100))
		return percent(f), true
	default:
		if k := misspelt(obj, "target"); k != nil {
			r.errorf(k, "unknown field %q in objective", k.Value).Detail = `did you mean "target"?`
		} else {
			r.errorf(obj, "the objective has no target").Detail = "give target (a fraction such as 0.999) or targetPercent (99.9)"
		}
	}
	return 0, false
}

func valueOr(v, k *yaml.Node) *yaml.Node {
	if v != nil {
		return v
	}
	return k
}

// openSLOv1Indicator reads the queries of an OpenSLO v1 SLI spec.
func (r *reader) openSLOv1Indicator(sli, obj *yaml.Node, o *Objective) {
	if _, rm := r.mapping(sli, "ratioMetric"); rm != nil {
		o.Good = r.metricSourceQuery(rm, "good")
		o.Bad = r.metricSourceQuery(rm, "bad")
		o.Total = r.metricSourceQuery(rm, "total")
		if o.Good == "" && o.Bad == "" && o.Total == "" {
			// A precomputed ratio: rawType says of what.
			raw := r.metricSourceQuery(rm, "raw")
			rawType, v := r.str(rm, "rawType")
			switch rawType {
			case "success":
				o.Good = raw
			case "failure":
				o.Bad = raw
			case "":
			default:
				r.errorf(v, "unknown rawType %q", rawType).Detail = "rawType is success or failure"
			}
		}
		return
	}
	for _, key := range []string{"thresholdMetric", "rawMetric"} {
		if _, tm := r.mapping(sli, key); tm != nil {
			_, ms := r.mapping(tm, "metricSource")
			_, sp := r.mapping(ms, "spec")
			o.LatencyThreshold = r.threshold(obj, r.query(sp, "query"))
			return
		}
	}
}

// metricSourceQuery is <key>.metricSource.spec.query of an OpenSLO v1 ratio
// metric.
func (r *reader) metricSourceQuery(rm *yaml.Node, key string) string {
	_, m := r.mapping(rm, key)
	_, ms := r.mapping(m, "metricSource")
	_, sp := r.mapping(ms, "spec")
	return r.query(sp, "query")
}

var ops = []string{"lte", "gte", "lt", "gt"}

// threshold is the latency threshold of a threshold objective: its value
// when op is lt or lte and the query tells the unit, else 0.
func (r *reader) threshold(obj *yaml.Node, query string) time.Duration {
	if obj == nil {
		return 0
	}
	op, opv := r.str(obj, "op")
	if op == "" {
		return 0
	}
	known := false
	for _, x := range ops {
		known = known || x == op
	}
	if !known {
		dg := r.errorf(opv, "unknown op %q", op)
		if dg.Detail = diag.DidYouMean(op, ops); dg.Detail == "" {
			dg.Detail = "op is one of " + strings.Join(ops, ", ")
		}
		return 0
	}
	vk, vv := r.get(obj, "value")
	if vk == nil {
		r.errorf(obj, "a threshold objective has no value")
		return 0
	}
	v, ok := r.number(vv)
	if !ok {
		r.errorf(valueOr(vv, vk), "value must be a number")
		return 0
	}
	if op != "lt" && op != "lte" {
		return 0
	}
	unit := unitOf(query)
	if unit == 0 {
		return 0 // the unit is unknown
	}
	d, ok := scale(v, unit)
	if !ok {
		r.errorf(valueOr(vv, vk), "latency threshold %v is not a positive duration", v)
		return 0
	}
	return d
}

// openSLOv1alpha reads an apiVersion openslo/v1alpha, kind SLO document
// (the form Sloth reads).
func (r *reader) openSLOv1alpha(doc, kindKey *yaml.Node) {
	n0 := len(r.ds)
	o, spec, obj := r.openSLOHead(doc, kindKey, FormatOpenSLOv1alpha)
	if spec == nil {
		return
	}
	if obj != nil {
		if _, rm := r.mapping(obj, "ratioMetrics"); rm != nil {
			for _, q := range []struct {
				key string
				dst *string
			}{{"good", &o.Good}, {"bad", &o.Bad}, {"total", &o.Total}} {
				_, m := r.mapping(rm, q.key)
				*q.dst = r.query(m, "query")
			}
		} else {
			_, ind := r.mapping(spec, "indicator")
			_, tm := r.mapping(ind, "thresholdMetric")
			if tm != nil {
				o.LatencyThreshold = r.threshold(obj, r.query(tm, "query"))
			}
		}
	}

	_, tws := r.sequence(spec, "timeWindows")
	if w := r.first(tws); w != nil {
		o.Window = r.v1alphaWindow(w)
	}
	if r.failed(n0) {
		return
	}
	r.add(o, kindKey)
}

var v1alphaUnits = []struct {
	name string
	d    time.Duration
}{
	{"Second", time.Second},
	{"Minute", time.Minute},
	{"Hour", time.Hour},
	{"Day", day},
	{"Week", 7 * day},
	{"Month", 30 * day},
	{"Quarter", 90 * day},
	{"Year", 365 * day},
}

// v1alphaWindow reads {count: 30, unit: Day}.
func (r *reader) v1alphaWindow(w *yaml.Node) time.Duration {
	if w.Kind != yaml.MappingNode {
		r.errorf(w, "a timeWindow must be a mapping, not %s", diag.NodeKind(w))
		return 0
	}
	ck, cv := r.get(w, "count")
	unit, uv := r.requireString(w, w, "unit", "timeWindow")
	if ck == nil {
		r.missing(w, w, "count", "timeWindow")
		return 0
	}
	count, ok := r.number(cv)
	if !ok || count != float64(int64(count)) || count <= 0 {
		r.errorf(valueOr(cv, ck), "count must be a positive whole number")
		return 0
	}
	if uv == nil {
		return 0
	}
	var names []string
	for _, u := range v1alphaUnits {
		names = append(names, u.name)
		if strings.EqualFold(u.name, unit) || strings.EqualFold(u.name+"s", unit) {
			d, ok := scale(count, u.d)
			if !ok {
				r.errorf(cv, "window of %v %s is out of range", count, unit)
			}
			return d
		}
	}
	dg := r.errorf(uv, "unknown time unit %q", unit)
	if dg.Detail = diag.DidYouMean(unit, names); dg.Detail == "" {
		dg.Detail = "unit is one of " + strings.Join(names, ", ")
	}
	return 0
}
