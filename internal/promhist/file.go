package promhist

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/emac-dev/emac/internal/latency"
)

// MaxFileSize bounds an exposition file: a /metrics page is megabytes at
// most.
const MaxFileSize = 256 << 20

// File is an exposition file, parsed once and read for any number of
// selectors. Its counts are cumulative since each process started: a
// file's histogram is every observation the process made, whatever the
// window.
type File struct {
	name   string
	series []series
	// other maps the families that are no histogram to their type, to
	// say so when a selector names one.
	other map[string]dto.MetricType
}

// series is one histogram in a file: the buckets of one label set.
type series struct {
	// names are the names a selector's __name__ may match: the _bucket
	// series' and the family's.
	names  []string
	labels map[string]string // without __name__ and le
	// buckets in file order; sorted and checked when selected.
	buckets []latency.Bucket
	// noLE is set for an untyped sample without le: not a bucket.
	noLE bool
}

func (s *series) String() string { return seriesName(s.names[0], s.labels) }

// ReadFile reads and parses an exposition file.
func ReadFile(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s: larger than %d MiB", path, MaxFileSize>>20)
	}
	return ParseFile(path, data)
}

// ParseFile parses exposition text: OpenMetrics when it ends with
// "# EOF", the Prometheus text format otherwise. name is the file's, for
// messages; errors carry name:line where the parser gives the line.
func ParseFile(name string, data []byte) (*File, error) {
	var fams []*dto.MetricFamily
	if isOpenMetrics(data) {
		d := expfmt.NewDecoder(bytes.NewReader(data), expfmt.FmtOpenMetrics_1_0_0)
		for {
			mf := &dto.MetricFamily{}
			err := d.Decode(mf)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, parseError(name, err)
			}
			fams = append(fams, mf)
		}
	} else {
		p := expfmt.NewTextParser(model.UTF8Validation)
		m, err := p.TextToMetricFamilies(bytes.NewReader(data))
		if err != nil {
			return nil, parseError(name, err)
		}
		for _, mf := range m {
			fams = append(fams, mf)
		}
	}
	slices.SortFunc(fams, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	f := &File{name: name, other: map[string]dto.MetricType{}}
	for _, mf := range fams {
		f.add(mf)
	}
	return f, nil
}

// isOpenMetrics says whether the text's last line is OpenMetrics' "# EOF".
func isOpenMetrics(data []byte) bool {
	data = bytes.TrimRight(data, "\n")
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		data = data[i+1:]
	}
	return string(data) == "# EOF"
}

func parseError(name string, err error) error {
	var pe expfmt.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s:%d: %s", name, pe.Line, pe.Msg)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// add indexes a family's series.
func (f *File) add(mf *dto.MetricFamily) {
	name := mf.GetName()
	switch mf.GetType() {
	case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
		for _, m := range mf.GetMetric() {
			h := m.GetHistogram()
			s := series{names: []string{name + "_bucket", name}, labels: labelMap(m)}
			inf := false
			for _, b := range h.GetBucket() {
				c := float64(b.GetCumulativeCount())
				if b.CumulativeCountFloat != nil {
					c = b.GetCumulativeCountFloat()
				}
				s.buckets = append(s.buckets, latency.Bucket{UpperBound: b.GetUpperBound(), Count: c})
				inf = inf || math.IsInf(b.GetUpperBound(), 1)
			}
			// the +Inf bucket is the _count when the text leaves it out
			if !inf && (h.SampleCount != nil || h.SampleCountFloat != nil) {
				c := float64(h.GetSampleCount())
				if h.SampleCountFloat != nil {
					c = h.GetSampleCountFloat()
				}
				s.buckets = append(s.buckets, latency.Bucket{UpperBound: math.Inf(1), Count: c})
			}
			if len(s.buckets) > 0 {
				f.series = append(f.series, s)
			}
		}
	case dto.MetricType_UNTYPED:
		// bucket series written without # TYPE: one series per label set
		// but le, as Prometheus would store them
		names := []string{name}
		if fam, ok := strings.CutSuffix(name, "_bucket"); ok && fam != "" {
			names = append(names, fam)
		}
		index := map[string]int{}
		for _, m := range mf.GetMetric() {
			lbls := labelMap(m)
			le, hasLE := lbls[labels.BucketLabel]
			delete(lbls, labels.BucketLabel)
			key := seriesName(name, lbls)
			i, ok := index[key]
			if !ok {
				i = len(f.series)
				index[key] = i
				f.series = append(f.series, series{names: names, labels: lbls})
			}
			s := &f.series[i]
			if !hasLE {
				s.noLE = true
				continue
			}
			ub, err := strconv.ParseFloat(le, 64)
			if err != nil {
				ub = math.NaN() // reported if selected
			}
			s.buckets = append(s.buckets, latency.Bucket{UpperBound: ub, Count: m.GetUntyped().GetValue()})
		}
	default:
		f.other[name] = mf.GetType()
	}
}

func labelMap(m *dto.Metric) map[string]string {
	out := make(map[string]string, len(m.GetLabel()))
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// Read implements Source: the buckets of the histograms the selector
// selects, summed by le. The selector may name the _bucket series or the
// family. Every selected histogram must have the same bounds: summing
// different ones by le would mix them.
func (f *File) Read(ctx context.Context, selector string, _ time.Duration) (*Histogram, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	v, err := ParseSelector(selector)
	if err != nil {
		return nil, err
	}
	return f.selectSeries(selector, v.LabelMatchers)
}

func (f *File) selectSeries(selector string, ms []*labels.Matcher) (*Histogram, error) {
	var sum []latency.Bucket
	var first *series
	n := 0
	for i := range f.series {
		s := &f.series[i]
		if !matches(ms, s.names, s.labels) {
			continue
		}
		bs, err := f.check(s)
		if err != nil {
			return nil, err
		}
		if first == nil {
			first, sum = s, bs
			n++
			continue
		}
		if !sameBounds(sum, bs) {
			return nil, fmt.Errorf("%s: %s and %s have different buckets (le %s and %s): summed by le they would mix", f.name, first, s, bounds(sum), bounds(bs))
		}
		for k := range sum {
			sum[k].Count += bs[k].Count
		}
		n++
	}
	if n == 0 {
		return nil, &NoDataError{Selector: selector, From: f.name, Hint: f.hint(ms)}
	}
	return &Histogram{Buckets: sum, From: f.name, Series: n}, nil
}

// check returns a selected series' buckets sorted, or why they are none.
func (f *File) check(s *series) ([]latency.Bucket, error) {
	if s.noLE {
		return nil, fmt.Errorf("%s: %s has a sample without le: it is not a histogram's bucket series", f.name, s)
	}
	bs := slices.Clone(s.buckets)
	normalize(bs, false)
	for i, b := range bs {
		switch {
		case math.IsNaN(b.UpperBound):
			return nil, fmt.Errorf("%s: %s has a bucket whose le is not a number", f.name, s)
		case i > 0 && b.UpperBound == bs[i-1].UpperBound:
			return nil, fmt.Errorf("%s: %s has two buckets le=%q", f.name, s, formatLE(b.UpperBound))
		case !(b.Count >= 0) || math.IsInf(b.Count, 1):
			return nil, fmt.Errorf("%s: %s bucket le=%q counts %v", f.name, s, formatLE(b.UpperBound), b.Count)
		}
	}
	return bs, nil
}

// hint names the families of other types that the selector selects.
func (f *File) hint(ms []*labels.Matcher) string {
	var byName []*labels.Matcher
	for _, m := range ms {
		if m.Name == labels.MetricName {
			byName = append(byName, m)
		}
	}
	if len(byName) == 0 {
		return ""
	}
	named := 0
	for i := range f.series {
		if matches(byName, f.series[i].names, f.series[i].labels) {
			named++
		}
	}
	if named > 0 {
		return fmt.Sprintf("%d series with that name, none with those labels", named)
	}
	var hs []string
	for _, name := range sortedKeys(f.other) {
		if matches(byName, []string{name}, nil) {
			hs = append(hs, fmt.Sprintf("%s is a %s, not a histogram", name, strings.ToLower(f.other[name].String())))
		}
	}
	if len(hs) > 3 {
		hs = append(hs[:3], "…")
	}
	return strings.Join(hs, "; ")
}

func sortedKeys(m map[string]dto.MetricType) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func sameBounds(a, b []latency.Bucket) bool {
	return slices.EqualFunc(a, b, func(x, y latency.Bucket) bool { return x.UpperBound == y.UpperBound })
}

func bounds(bs []latency.Bucket) string {
	s := make([]string, len(bs))
	for i, b := range bs {
		s[i] = formatLE(b.UpperBound)
	}
	return strings.Join(s, ",")
}
