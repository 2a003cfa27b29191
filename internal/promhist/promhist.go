// Package promhist reads the buckets of Prometheus classic histograms that
// a component's telemetry.latencyHistogram selects, summed by le: from an
// exposition file (what `curl host/metrics` gives, Prometheus text or
// OpenMetrics) or from a Prometheus server's HTTP API. The buckets feed
// latency.FromBuckets.
package promhist

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/emac-dev/emac/internal/latency"
)

// Source reads classic-histogram buckets.
type Source interface {
	// Read returns the cumulative buckets of the series the selector
	// selects, summed by le. window is how far back a live source
	// looks; a file holds counts since each process started and ignores
	// it. When no series match, the error is a *NoDataError; a selector
	// that is not a series selector is a *SelectorError.
	Read(ctx context.Context, selector string, window time.Duration) (*Histogram, error)
}

// Histogram is what a Source read for one selector.
type Histogram struct {
	// Buckets are the cumulative counts by upper bound (seconds),
	// ascending; the last is +Inf when the series have it.
	Buckets []latency.Bucket
	// From says where they were read: the file, or the server and the
	// query it ran.
	From string
	// Series counts the histograms summed; 0 when the source cannot
	// tell (Prometheus sums them).
	Series int
	// Warnings are the source's remarks on the data (Prometheus' query
	// warnings, counts made cumulative).
	Warnings []string
}

// NoDataError says that no histogram series match a selector.
type NoDataError struct {
	Selector string
	// From is the file or the server and query.
	From string
	// Hint says, when it can, what matched instead (a gauge of that
	// name).
	Hint string
}

func (e *NoDataError) Error() string {
	s := fmt.Sprintf("no histogram series match %s in %s", e.Selector, e.From)
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// SelectorError says that a latencyHistogram is not a selector emac can
// read buckets with.
type SelectorError struct {
	Selector string
	Reason   string
}

func (e *SelectorError) Error() string {
	return fmt.Sprintf("latencyHistogram %s: %s", e.Selector, e.Reason)
}

// ParseSelector reads a latencyHistogram: a series selector (a metric name
// and label matchers) of a classic histogram's _bucket series or of its
// family, without a range, offset or @ and not constraining le (every
// bucket is read).
func ParseSelector(s string) (*parser.VectorSelector, error) {
	e, err := parser.ParseExpr(s)
	if err != nil {
		return nil, &SelectorError{Selector: s, Reason: err.Error()}
	}
	for p, ok := e.(*parser.ParenExpr); ok; p, ok = e.(*parser.ParenExpr) {
		e = p.Expr
	}
	v, ok := e.(*parser.VectorSelector)
	if !ok {
		return nil, &SelectorError{Selector: s, Reason: fmt.Sprintf("is %s, not a series selector: write the histogram's _bucket series, e.g. http_request_duration_seconds_bucket{service=\"front\"}", kind(e))}
	}
	if v.OriginalOffset != 0 || v.Timestamp != nil || v.StartOrEnd != 0 {
		return nil, &SelectorError{Selector: s, Reason: "has an offset or @ modifier: emac reads the window up to now"}
	}
	for _, m := range v.LabelMatchers {
		if m.Name == labels.BucketLabel {
			return nil, &SelectorError{Selector: s, Reason: "constrains le: emac reads every bucket"}
		}
	}
	return v, nil
}

// kind names an expression's node for messages.
func kind(e parser.Expr) string {
	switch e.(type) {
	case *parser.AggregateExpr:
		return "an aggregation"
	case *parser.Call:
		return "a function call"
	case *parser.BinaryExpr:
		return "a binary operation"
	case *parser.MatrixSelector:
		return "a range"
	case *parser.SubqueryExpr:
		return "a subquery"
	case *parser.NumberLiteral, *parser.StringLiteral:
		return "a literal"
	}
	return "an expression"
}

// matches says whether a series with these labels and one of these names
// is selected.
func matches(ms []*labels.Matcher, names []string, lbls map[string]string) bool {
	for _, n := range names {
		ok := true
		for _, m := range ms {
			v := lbls[m.Name]
			if m.Name == labels.MetricName {
				v = n
			}
			if !m.Matches(v) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// normalize sorts buckets by bound; when fix is set, counts that fall
// below a lower bucket's are raised to it, as histogram_quantile does (an
// increase is extrapolated per series), and the largest such shortfall
// relative to the total is returned.
func normalize(bs []latency.Bucket, fix bool) float64 {
	slices.SortFunc(bs, func(a, b latency.Bucket) int {
		switch {
		case a.UpperBound < b.UpperBound:
			return -1
		case a.UpperBound > b.UpperBound:
			return 1
		}
		return 0
	})
	if !fix || len(bs) == 0 {
		return 0
	}
	worst, hi := 0.0, bs[0].Count
	for i := range bs {
		if bs[i].Count < hi {
			worst = max(worst, hi-bs[i].Count)
			bs[i].Count = hi
		}
		hi = bs[i].Count
	}
	if total := bs[len(bs)-1].Count; total > 0 {
		return worst / total
	}
	return 0
}

// formatLE writes a bucket bound as Prometheus writes le.
func formatLE(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// seriesName writes a series as PromQL would, labels sorted.
func seriesName(name string, lbls map[string]string) string {
	keys := make([]string, 0, len(lbls))
	for k := range lbls {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", k, lbls[k])
	}
	b.WriteByte('}')
	return b.String()
}
