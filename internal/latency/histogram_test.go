package latency

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/emac-dev/emac/internal/model"
)

// TestOfHistogram: a measured histogram is preferred to SLO points, and
// SourceOf says which one Of used.
func TestOfHistogram(t *testing.T) {
	hist := []model.Bucket{{UpperBound: 0.1, Count: 50}, {UpperBound: 0.2, Count: 90}, {UpperBound: math.Inf(1), Count: 100}}
	points := []model.LatencyPoint{{Quantile: 0.5, Value: 40 * time.Millisecond}, {Quantile: 0.99, Value: 120 * time.Millisecond}}
	for _, tc := range []struct {
		name   string
		c      model.Component
		source string
		p50    float64 // seconds; 0 for no marginal
	}{
		{"histogram over points", model.Component{Name: "a", Histogram: hist, Latency: points}, SourceHistogram, 0.1},
		{"histogram alone", model.Component{Name: "a", Histogram: hist}, SourceHistogram, 0.1},
		{"points alone", model.Component{Name: "a", Latency: points}, SourcePoints, 0.04},
		{"neither", model.Component{Name: "a", FailureLatency: time.Second}, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := SourceOf(&tc.c); got != tc.source {
				t.Errorf("SourceOf = %q, want %q", got, tc.source)
			}
			s, _, err := Of(&tc.c)
			if err != nil {
				t.Fatal(err)
			}
			if tc.p50 == 0 {
				if s != nil {
					t.Errorf("got marginal %v, want none", s)
				}
				return
			}
			if got := s.Quantile(0.5); math.Abs(got-tc.p50) > 1e-9 {
				t.Errorf("p50 = %v, want %v", got, tc.p50)
			}
		})
	}
}

// TestOfHistogramError: buckets that are no distribution are an error
// naming the component.
func TestOfHistogramError(t *testing.T) {
	c := &model.Component{Name: "front", Histogram: []model.Bucket{{UpperBound: 0.1, Count: 0}, {UpperBound: math.Inf(1), Count: 0}}}
	_, _, err := Of(c)
	if err == nil || err.Error() != "component front: latency: the histogram has no observations" {
		t.Errorf("got %v, want the component's histogram without observations", err)
	}
}

// TestAnalyzeSources: the result says which source each timed component
// used; untimed ones are not in it.
func TestAnalyzeSources(t *testing.T) {
	a := &model.Component{Name: "a", Availability: 0.999, Histogram: []model.Bucket{{UpperBound: 0.05, Count: 80}, {UpperBound: 0.1, Count: 100}, {UpperBound: math.Inf(1), Count: 100}}}
	b := comp("b", 0.999, 10*time.Millisecond, 50*time.Millisecond)
	c := &model.Component{Name: "c", Availability: 0.999}
	j := journey(&model.Node{Op: model.Seq, Children: []*model.Node{call("a"), call("b"), call("c")}}, a, b, c)
	r, err := Analyze(j, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"a": SourceHistogram, "b": SourcePoints}, r.Sources); diff != "" {
		t.Errorf("Sources (-want +got):\n%s", diff)
	}
	// a alone bounds the journey from below: its p50 is 0.03125s
	if got := r.Quantiles[0].Value.Seconds(); got < 0.03 {
		t.Errorf("p50 = %vs, want at least a's 0.031s", got)
	}
}
