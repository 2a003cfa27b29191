package promtest

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Series is one time series to backfill.
type Series struct {
	// Name is the metric name as queried. A counter's ends in "_total", which
	// OpenMetrics requires of counter samples.
	Name   string
	Labels map[string]string
	// Type is "counter", "gauge", or "" for OpenMetrics' "unknown".
	Type    string
	Samples []Sample
}

// Sample is one value at one time; the time is stored to the millisecond.
type Sample struct {
	T time.Time
	V float64
}

var (
	metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelName  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// Counter returns a counter that is 0 at from and grows by perSecond every
// second, sampled every step up to to (inclusive when to-from is a multiple of
// step): what a steadily served request count looks like.
func Counter(name string, labels map[string]string, from, to time.Time, step time.Duration, perSecond float64) Series {
	if step <= 0 {
		panic(fmt.Sprintf("promtest: Counter %s: step %v, want > 0", name, step))
	}
	s := Series{Name: name, Labels: maps.Clone(labels), Type: "counter"}
	for t := from; !t.After(to); t = t.Add(step) {
		s.Samples = append(s.Samples, Sample{T: t, V: perSecond * t.Sub(from).Seconds()})
	}
	return s
}

// family is one OpenMetrics metric family: a # TYPE line and its series.
type family struct {
	name, typ string
	series    []rendered
}

// rendered is a Series with its labels rendered and its samples in time order.
type rendered struct {
	name, labels string
	samples      []Sample
}

// OpenMetrics renders series as OpenMetrics text for Options.Backfill: one
// family per name (a counter's without "_total") with its # TYPE line, families
// by name, series by labels, samples by time, timestamps in seconds with
// millisecond decimals, ending with "# EOF\n". The output depends only on the
// input, not on map or argument order.
//
// It panics on what promtool would reject or silently drop, since that is a
// mistake in the test: an invalid metric or label name, an unknown type, a
// counter not named *_total, a sample with a zero time, two samples of a series
// in the same millisecond, a series given twice, one family with two types.
func OpenMetrics(series ...Series) string {
	fams := map[string]*family{}
	seen := map[string]bool{}
	for _, s := range series {
		f := s.family()
		if fams[f.name] == nil {
			fams[f.name] = &f
		} else if fams[f.name].typ != f.typ {
			panic(fmt.Sprintf("promtest: family %s is both %s and %s", f.name, fams[f.name].typ, f.typ))
		}
		sr := s.render()
		key := sr.name + sr.labels
		if seen[key] {
			panic(fmt.Sprintf("promtest: series %s given twice", key))
		}
		seen[key] = true
		fams[f.name].series = append(fams[f.name].series, sr)
	}
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(fams)) {
		f := fams[name]
		fmt.Fprintf(&b, "# TYPE %s %s\n", f.name, f.typ)
		slices.SortFunc(f.series, func(x, y rendered) int {
			return strings.Compare(x.name+x.labels, y.name+y.labels)
		})
		for _, s := range f.series {
			for _, p := range s.samples {
				fmt.Fprintf(&b, "%s%s %s %s\n", s.name, s.labels, formatValue(p.V), formatTime(p.T))
			}
		}
	}
	b.WriteString("# EOF\n")
	return b.String()
}

// family checks the series' name and type and returns its (empty) family.
func (s Series) family() family {
	if !metricName.MatchString(s.Name) {
		panic(fmt.Sprintf("promtest: invalid metric name %q", s.Name))
	}
	switch s.Type {
	case "counter":
		base, ok := strings.CutSuffix(s.Name, "_total")
		if !ok || base == "" {
			panic(fmt.Sprintf("promtest: counter %s: want a name ending in _total", s.Name))
		}
		return family{name: base, typ: s.Type}
	case "gauge":
		return family{name: s.Name, typ: s.Type}
	case "":
		return family{name: s.Name, typ: "unknown"}
	}
	panic(fmt.Sprintf("promtest: %s: type %q, want counter, gauge or empty", s.Name, s.Type))
}

// render renders the labels and sorts the samples, checking both.
func (s Series) render() rendered {
	var l strings.Builder
	for i, k := range slices.Sorted(maps.Keys(s.Labels)) {
		if !labelName.MatchString(k) || k == "__name__" {
			panic(fmt.Sprintf("promtest: %s: invalid label name %q", s.Name, k))
		}
		if i == 0 {
			l.WriteByte('{')
		} else {
			l.WriteByte(',')
		}
		fmt.Fprintf(&l, "%s=\"%s\"", k, escape(s.Labels[k]))
	}
	if l.Len() > 0 {
		l.WriteByte('}')
	}
	r := rendered{name: s.Name, labels: l.String(), samples: slices.Clone(s.Samples)}
	// promtool keeps the first of samples in one millisecond, and drops any
	// that are out of order, so they are sorted here and duplicates refused.
	slices.SortStableFunc(r.samples, func(x, y Sample) int { return x.T.Compare(y.T) })
	for i, p := range r.samples {
		if p.T.IsZero() {
			panic(fmt.Sprintf("promtest: %s%s: sample without a time", r.name, r.labels))
		}
		if i > 0 && p.T.UnixMilli() == r.samples[i-1].T.UnixMilli() {
			panic(fmt.Sprintf("promtest: %s%s: two samples at %s", r.name, r.labels, formatTime(p.T)))
		}
	}
	return r
}

// escape escapes a label value as OpenMetrics requires: backslash, double
// quote and line feed.
func escape(v string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v)
}

// formatValue writes the shortest decimal that parses back to v, and the
// OpenMetrics spellings of infinities and NaN.
func formatValue(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// formatTime writes t in seconds with exactly three decimals, built from the
// integer milliseconds so that promtool's int64(seconds*1000) gets them back.
func formatTime(t time.Time) string {
	ms := t.UnixMilli()
	sign := ""
	if ms < 0 {
		sign, ms = "-", -ms
	}
	return fmt.Sprintf("%s%d.%03d", sign, ms/1000, ms%1000)
}

// Requests returns a request counter served at perSecond from from to
// to, with labels, split into the series of good and of bad requests (each
// with its own extra labels) so that the share of good ones is exactly
// availability over any window: what a service's SLI queries read.
func Requests(name string, labels, good, bad map[string]string, from, to time.Time, step time.Duration, perSecond, availability float64) []Series {
	with := func(extra map[string]string) map[string]string {
		l := maps.Clone(labels)
		maps.Copy(l, extra)
		return l
	}
	return []Series{
		Counter(name, with(good), from, to, step, perSecond*availability),
		Counter(name, with(bad), from, to, step, perSecond*(1-availability)),
	}
}

// CheckoutTargets returns the SLO targets of the paper's checkout
// components (shared/data/emac-paper/REPLAY.md), which Checkout's
// telemetry meets exactly.
func CheckoutTargets() map[string]float64 {
	return map[string]float64{"front": 0.9995, "cart": 0.999, "pricing": 0.999, "paya": 0.995, "payb": 0.995}
}

// Checkout returns the counters the checkout's telemetry queries read
// (the replay's OpenSLO SLIs and internal/service/testdata/gate/shop.yaml):
// http_requests_total{service,code} for front, cart and pricing and
// payment_requests_total{provider,result} for paya and payb, each served
// at perSecond from from to to with exactly its CheckoutTargets share of
// good calls.
func Checkout(from, to time.Time, step time.Duration, perSecond float64) []Series {
	var out []Series
	for c, a := range CheckoutTargets() {
		if c == "paya" || c == "payb" {
			out = append(out, Requests("payment_requests_total", map[string]string{"provider": c}, map[string]string{"result": "success"}, map[string]string{"result": "declined"}, from, to, step, perSecond, a)...)
			continue
		}
		out = append(out, HTTPRequests(c, "", from, to, step, perSecond, a)...)
	}
	return out
}

// HTTPRequests returns a checkout service's requests (http_requests_total
// with code 200 or 503) at perSecond with the given share of good calls,
// labelled pod when pod is not empty: a canary's own series beside the
// service's.
func HTTPRequests(service, pod string, from, to time.Time, step time.Duration, perSecond, availability float64) []Series {
	labels := map[string]string{"service": service}
	if pod != "" {
		labels["pod"] = pod
	}
	return Requests("http_requests_total", labels, map[string]string{"code": "200"}, map[string]string{"code": "503"}, from, to, step, perSecond, availability)
}
