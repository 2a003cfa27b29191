package promhist

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/emac-dev/emac/internal/latency"
	"github.com/emac-dev/emac/internal/promapi"
)

// DefaultTimeout bounds a query to Prometheus when the options give none.
const DefaultTimeout = 30 * time.Second

// PrometheusOptions configure a Prometheus source; the zero value is the
// default.
type PrometheusOptions struct {
	// Timeout bounds each query, sent to the server as its evaluation
	// timeout too (0: DefaultTimeout).
	Timeout time.Duration
	// Transport sends the requests (nil: client_golang's default, which
	// honours the proxy environment).
	Transport http.RoundTripper
	// At is the evaluation time (zero: now, at each query).
	At time.Time
}

// Prometheus reads histograms from a Prometheus server's HTTP API: the
// increase of each bucket over the window, summed by le.
type Prometheus struct {
	client *promapi.Client
	opts   PrometheusOptions
}

// NewPrometheus returns a source querying the server at address (its
// base URL, e.g. http://prometheus:9090).
func NewPrometheus(address string, opts PrometheusOptions) (*Prometheus, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	c, err := promapi.New(address, opts.Transport, opts.Timeout)
	if err != nil {
		return nil, err
	}
	return &Prometheus{client: c, opts: opts}, nil
}

// Query is the PromQL Read runs: sum by (le) (increase(S[window])), S the
// selector with its metric name ending in _bucket.
func Query(selector string, window time.Duration) (string, error) {
	v, err := ParseSelector(selector)
	if err != nil {
		return "", err
	}
	if window <= 0 {
		return "", fmt.Errorf("histogram window %v is not positive", window)
	}
	vs := *v
	vs.LabelMatchers = make([]*labels.Matcher, len(v.LabelMatchers))
	for i, m := range v.LabelMatchers {
		vs.LabelMatchers[i] = m
		// the family's name selects its _bucket series, as in a file
		if m.Name == labels.MetricName && m.Type == labels.MatchEqual && !strings.HasSuffix(m.Value, "_bucket") {
			vs.LabelMatchers[i] = labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, m.Value+"_bucket")
			if vs.Name == m.Value {
				vs.Name = m.Value + "_bucket"
			}
		}
	}
	e := &parser.AggregateExpr{
		Op:       parser.SUM,
		Grouping: []string{labels.BucketLabel},
		Expr: &parser.Call{
			Func: parser.Functions["increase"],
			Args: parser.Expressions{&parser.MatrixSelector{VectorSelector: &vs, Range: window}},
		},
	}
	return e.String(), nil
}

// Read implements Source. No series in the window is a *NoDataError; an
// unreachable server, an HTTP error or a query Prometheus refuses is an
// error.
func (p *Prometheus) Read(ctx context.Context, selector string, window time.Duration) (*Histogram, error) {
	q, err := Query(selector, window)
	if err != nil {
		return nil, err
	}
	from := fmt.Sprintf("prometheus %s: %s", p.client.URL(), q)
	at := p.opts.At
	if at.IsZero() {
		at = time.Now()
	}
	vec, warns, err := p.client.Vector(ctx, q, at, from)
	if err != nil {
		return nil, err
	}
	if len(vec) == 0 {
		return nil, &NoDataError{Selector: selector, From: from, Hint: "no samples in the window"}
	}
	h := &Histogram{From: from, Warnings: append([]string(nil), warns...)}
	for _, s := range vec {
		if s.Histogram != nil {
			return nil, fmt.Errorf("%s: a native histogram: emac reads classic histograms' _bucket series", from)
		}
		le, ok := s.Metric[model.BucketLabel]
		if !ok {
			return nil, fmt.Errorf("%s: a sample without le: the selector does not select a histogram's _bucket series", from)
		}
		ub, err := strconv.ParseFloat(string(le), 64)
		if err != nil || math.IsNaN(ub) {
			return nil, fmt.Errorf("%s: le=%q is not a number", from, le)
		}
		c := float64(s.Value)
		if !(c >= 0) || math.IsInf(c, 1) {
			return nil, fmt.Errorf("%s: le=%q increased by %v", from, le, c)
		}
		h.Buckets = append(h.Buckets, latency.Bucket{UpperBound: ub, Count: c})
	}
	normalize(h.Buckets, false)
	for i := 1; i < len(h.Buckets); i++ {
		// sum by (le) groups by the label's text: "1" and "1.0" are two
		// groups with one bound
		if h.Buckets[i].UpperBound == h.Buckets[i-1].UpperBound {
			return nil, fmt.Errorf("%s: two le values for the bound %s (written two ways across the selected series)", from, formatLE(h.Buckets[i].UpperBound))
		}
	}
	if short := normalize(h.Buckets, true); short > 1e-6 {
		h.Warnings = append(h.Warnings, fmt.Sprintf("bucket counts fell below lower buckets' by up to %.2g of the total and were raised to them, as histogram_quantile does: do the selected series have the same buckets?", short))
	}
	return h, nil
}
