// Package prom reads discovery's evidence back from Prometheus (or any
// server of its query API: Mimir, Thanos): the metric families emac's
// collector connector exports (docs/collector.md), summed over the
// collectors that export them, rebuilt into the Evidence that file
// discovery infers from. When only the OpenTelemetry Collector's own
// servicegraph and spanmetrics connectors' metrics exist, it reads those
// instead: services, edges, call and error counts and latencies, but no
// flows, for counts per edge cannot show how calls compose.
package prom

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	pmodel "github.com/prometheus/common/model"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/discovery"
	"github.com/emac-dev/emac/internal/promapi"
)

// Options configure Read; the zero value is the default.
type Options struct {
	// At is when the evidence is read (zero: now).
	At time.Time
	// Lookback is how far back from At series are looked for, and the
	// range co-failure windows are read over (0: 1h).
	Lookback time.Duration
	// Since, when set, makes the counts the increase over the last Since
	// (Prometheus's increase(), extrapolated to the range and rounded);
	// by default they are the counters' latest values: everything since
	// each collector started.
	Since time.Duration
	// Discovery configures the inference (the co-failure window, the
	// sample's size, the provenance kept).
	Discovery discovery.Options
}

func (o Options) at() time.Time {
	if o.At.IsZero() {
		return time.Now()
	}
	return o.At
}

func (o Options) lookback() time.Duration { return cmp.Or(o.Lookback, time.Hour) }

func (o Options) window() time.Duration { return cmp.Or(o.Discovery.Window, time.Minute) }

// The sources Read tells apart.
const (
	// SourceConnector is emac's collector connector.
	SourceConnector = "prometheus-emac-connector"
	// SourceServiceGraph is the collector's servicegraph connector (and
	// spanmetrics, when present).
	SourceServiceGraph = "prometheus-servicegraph"
)

// Result is the evidence read, and what it was read from.
type Result struct {
	Evidence *discovery.Evidence
	Input    v1alpha1.DiscoveryInput
	// Source is SourceConnector or SourceServiceGraph.
	Source string
	// Basis, for SourceServiceGraph, says what the evidence cannot show.
	Basis string
}

// ErrNoEvidence is returned when neither source has series in the
// lookback.
var ErrNoEvidence = errors.New("no evidence")

// Read reads the evidence at c.
func Read(ctx context.Context, c *promapi.Client, opts Options) (*Result, error) {
	r := &reader{c: c, opts: opts, at: opts.at()}
	has, err := r.exists(ctx, discovery.FamTraces)
	if err != nil {
		return nil, err
	}
	if has {
		return r.connector(ctx)
	}
	has, err = r.exists(ctx, sgRequests)
	if err != nil {
		return nil, err
	}
	if has {
		return r.serviceGraph(ctx)
	}
	return nil, fmt.Errorf("prometheus %s: %w: neither emac's connector's metrics (%s) nor the servicegraph connector's (%s) have series in the %v before %s",
		c.URL(), ErrNoEvidence, discovery.FamTraces, sgRequests, opts.lookback(), r.at.UTC().Format(time.RFC3339))
}

type reader struct {
	c    *promapi.Client
	opts Options
	at   time.Time
}

// exists says whether the family name has series in the lookback.
func (r *reader) exists(ctx context.Context, name string) (bool, error) {
	q := fmt.Sprintf("count(last_over_time(%s[%s]))", name, promDuration(r.opts.lookback()))
	v, _, err := r.c.Vector(ctx, q, r.at, "prometheus "+r.c.URL()+": looking for "+name)
	if err != nil {
		return false, err
	}
	return len(v) > 0 && v[0].Value > 0, nil
}

// promDuration writes d as PromQL does, in whole milliseconds at least.
func promDuration(d time.Duration) string {
	return pmodel.Duration(max(d, time.Millisecond)).String()
}

// instant runs one query and turns its answer into series with the
// labels in by (sorted).
func (r *reader) instant(ctx context.Context, q string, by []string) ([]discovery.Series, error) {
	v, _, err := r.c.Vector(ctx, q, r.at, "prometheus "+r.c.URL()+": reading evidence")
	if err != nil {
		return nil, err
	}
	out := make([]discovery.Series, 0, len(v))
	for _, s := range v {
		out = append(out, discovery.Series{Labels: labelsOf(s.Metric, by), Value: float64(s.Value)})
	}
	return out, nil
}

func labelsOf(m pmodel.Metric, by []string) []discovery.Label {
	ls := make([]discovery.Label, 0, len(by))
	for _, n := range by {
		ls = append(ls, discovery.Label{Name: n, Value: string(m[pmodel.LabelName(n)])})
	}
	return ls
}

// counter is the query of a counter's count by labels: its latest value,
// or its increase over Since.
func (r *reader) counter(name string, by []string) string {
	if r.opts.Since > 0 {
		return fmt.Sprintf("sum by (%s) (increase(%s[%s]))", strings.Join(by, ","), name, promDuration(r.opts.Since))
	}
	return fmt.Sprintf("sum by (%s) (last_over_time(%s[%s]))", strings.Join(by, ","), name, promDuration(r.opts.lookback()))
}

// family reads one family of the schema.
func (r *reader) family(ctx context.Context, fs discovery.FamilySchema) (discovery.Family, error) {
	f := discovery.Family{Name: fs.Name, Type: fs.Type}
	var err error
	switch fs.Type {
	case discovery.Counter:
		f.Series, err = r.instant(ctx, r.counter(fs.Name, fs.Labels), fs.Labels)
	case discovery.Gauge:
		agg := "max"
		if fs.Name == discovery.FamFirst {
			agg = "min"
		}
		f.Series, err = r.instant(ctx, fmt.Sprintf("%s by (%s) (last_over_time(%s[%s]))", agg, strings.Join(fs.Labels, ","), fs.Name, promDuration(r.opts.lookback())), fs.Labels)
	case discovery.Histogram:
		f.Series, err = r.histogram(ctx, func(by []string) string { return r.counter(fs.Name+"_bucket", by) }, fs.Name+"_sum", fs.Labels, 1)
	}
	return f, err
}

// histogram reads a classic histogram by labels: its buckets (query
// gives the query of the _bucket series by the labels it is given) and,
// when sum is not empty, its sum. scale converts its unit to seconds.
func (r *reader) histogram(ctx context.Context, query func(by []string) string, sum string, by []string, scale float64) ([]discovery.Series, error) {
	withLe := append(slices.Clone(by), "le")
	v, _, err := r.c.Vector(ctx, query(withLe), r.at, "prometheus "+r.c.URL()+": reading evidence")
	if err != nil {
		return nil, err
	}
	groups := map[string]*histAcc{}
	for _, s := range v {
		le, err := strconv.ParseFloat(string(s.Metric["le"]), 64)
		if err != nil {
			continue
		}
		ls := labelsOf(s.Metric, by)
		h := groups[key(ls)]
		if h == nil {
			h = &histAcc{labels: ls}
			groups[key(ls)] = h
		}
		h.add(le, float64(s.Value))
	}
	sums := map[string]float64{}
	if sum != "" {
		ss, err := r.instant(ctx, r.counter(sum, by), by)
		if err != nil {
			return nil, err
		}
		for _, s := range ss {
			sums[key(s.Labels)] = s.Value * scale
		}
	}
	var out []discovery.Series
	for _, k := range sortedKeys(groups) {
		s := groups[k].series(scale)
		s.Sum = sums[k]
		out = append(out, s)
	}
	return out, nil
}

func key(ls []discovery.Label) string {
	var b strings.Builder
	for _, l := range ls {
		b.WriteString(l.Name)
		b.WriteByte(0)
		b.WriteString(l.Value)
		b.WriteByte(0)
	}
	return b.String()
}

// windowQueries are the families read per window: the query of each
// window's increase, by the labels the Evidence keeps per window.
var windowQueries = []struct {
	name string
	by   []string
	hist bool
}{
	{discovery.FamInvocations, []string{discovery.LService}, false},
	{discovery.FamInvocationErrors, []string{discovery.LService}, false},
	{discovery.FamInvocationDur, []string{discovery.LService}, true},
	{discovery.FamCallDur, []string{discovery.LServer}, true},
}

// windows reads each window's increase of the windowed families over the
// lookback, a range query at the window's step: the windows that end at
// each step.
func (r *reader) windows(ctx context.Context) (map[int64][]discovery.Family, error) {
	win := r.opts.window()
	end := r.at.Truncate(win)
	start := end.Add(-r.opts.lookback()).Truncate(win)
	out := map[int64][]discovery.Family{}
	for _, wq := range windowQueries {
		by := wq.by
		name := wq.name
		if wq.hist {
			by = append(slices.Clone(by), "le")
			name += "_bucket"
		}
		q := fmt.Sprintf("sum by (%s) (increase(%s[%s]))", strings.Join(by, ","), name, promDuration(win))
		m, _, err := r.c.Matrix(ctx, q, start, end, win, "prometheus "+r.c.URL()+": reading windows")
		if err != nil {
			return nil, err
		}
		// each step's series, as a family of that window
		steps := map[int64]*discovery.Family{}
		hists := map[int64]map[string]*histAcc{}
		for _, s := range m {
			for _, p := range s.Values {
				w := p.Timestamp.Time().UnixNano()/int64(win) - 1
				if !wq.hist {
					f := steps[w]
					if f == nil {
						f = &discovery.Family{Name: wq.name, Type: discovery.Counter}
						steps[w] = f
					}
					f.Series = append(f.Series, discovery.Series{Labels: labelsOf(s.Metric, wq.by), Value: float64(p.Value)})
					continue
				}
				le, err := strconv.ParseFloat(string(s.Metric["le"]), 64)
				if err != nil {
					continue
				}
				ls := labelsOf(s.Metric, wq.by)
				if hists[w] == nil {
					hists[w] = map[string]*histAcc{}
				}
				h := hists[w][key(ls)]
				if h == nil {
					h = &histAcc{labels: ls}
					hists[w][key(ls)] = h
				}
				h.add(le, float64(p.Value))
			}
		}
		for w, hs := range hists {
			f := &discovery.Family{Name: wq.name, Type: discovery.Histogram}
			for _, k := range sortedKeys(hs) {
				f.Series = append(f.Series, hs[k].series(1))
			}
			steps[w] = f
		}
		for w, f := range steps {
			out[w] = append(out[w], *f)
		}
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// histAcc gathers a histogram's cumulative buckets, as Prometheus
// answers them: one series per bucket, in no order.
type histAcc struct {
	labels  []discovery.Label
	buckets []bucket
}

type bucket struct{ le, cum float64 }

func (h *histAcc) add(le, cum float64) { h.buckets = append(h.buckets, bucket{le, cum}) }

// series is the histogram with counts per bucket, its bounds scaled to
// seconds by scale.
func (h *histAcc) series(scale float64) discovery.Series {
	bs := h.buckets
	slices.SortFunc(bs, func(a, b bucket) int { return cmp.Compare(a.le, b.le) })
	s := discovery.Series{Labels: h.labels}
	prev := 0.0
	for _, b := range bs {
		if !math.IsInf(b.le, 1) {
			s.Bounds = append(s.Bounds, b.le*scale)
		}
		// cumulative counts summed over collectors, or increases: never
		// below the bucket before
		s.Counts = append(s.Counts, uint64(math.Round(max(b.cum-prev, 0))))
		prev = max(prev, b.cum)
	}
	if len(bs) > 0 && !math.IsInf(bs[len(bs)-1].le, 1) {
		s.Counts = append(s.Counts, 0)
	}
	s.Value = prev
	return s
}

// connector reads the connector's families.
func (r *reader) connector(ctx context.Context) (*Result, error) {
	var fams []discovery.Family
	for _, fs := range discovery.Schema {
		f, err := r.family(ctx, fs)
		if err != nil {
			return nil, err
		}
		fams = append(fams, f)
	}
	wins, err := r.windows(ctx)
	if err != nil {
		return nil, err
	}
	ev := discovery.Rebuild(r.opts.Discovery, fams, wins)
	return &Result{Evidence: ev, Source: SourceConnector, Input: v1alpha1.DiscoveryInput{Name: r.c.URL(), Format: SourceConnector, Spans: ev.Spans}}, nil
}
