package promtest

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// t0 is a whole second, so that expected timestamps read plainly.
var t0 = time.Unix(1_700_000_000, 0)

func TestOpenMetrics(t *testing.T) {
	for _, tc := range []struct {
		name   string
		series []Series
		want   string
	}{
		{"empty", nil, "# EOF\n"},
		{
			"families sorted, counters without _total, samples sorted",
			[]Series{
				{Name: "temp", Type: "gauge", Samples: []Sample{{t0.Add(time.Second), 2}, {t0, 1.5}}},
				{Name: "req_total", Type: "counter", Labels: map[string]string{"svc": "b"}, Samples: []Sample{{t0, 3}}},
				{Name: "req_total", Type: "counter", Labels: map[string]string{"svc": "a", "code": "200"}, Samples: []Sample{{t0, 1e6}}},
				{Name: "misc", Samples: []Sample{{t0.Add(1500 * time.Microsecond), 1}}},
			},
			"# TYPE misc unknown\nmisc 1 1700000000.001\n" +
				"# TYPE req counter\nreq_total{code=\"200\",svc=\"a\"} 1e+06 1700000000.000\nreq_total{svc=\"b\"} 3 1700000000.000\n" +
				"# TYPE temp gauge\ntemp 1.5 1700000000.000\ntemp 2 1700000001.000\n# EOF\n",
		},
		{
			"escaping and special values",
			[]Series{{Name: "g", Type: "gauge", Labels: map[string]string{"v": "a\\b\"c\nd"}, Samples: []Sample{
				{t0, math.Inf(1)}, {t0.Add(time.Millisecond), math.Inf(-1)}, {t0.Add(2 * time.Millisecond), math.NaN()}, {t0.Add(3 * time.Millisecond), -0.25},
			}}},
			"# TYPE g gauge\n" +
				"g{v=\"a\\\\b\\\"c\\nd\"} +Inf 1700000000.000\ng{v=\"a\\\\b\\\"c\\nd\"} -Inf 1700000000.001\n" +
				"g{v=\"a\\\\b\\\"c\\nd\"} NaN 1700000000.002\ng{v=\"a\\\\b\\\"c\\nd\"} -0.25 1700000000.003\n# EOF\n",
		},
		{
			"counter helper",
			[]Series{Counter("c_total", map[string]string{"j": "x"}, t0, t0.Add(30*time.Second), 15*time.Second, 2)},
			"# TYPE c counter\nc_total{j=\"x\"} 0 1700000000.000\nc_total{j=\"x\"} 30 1700000015.000\nc_total{j=\"x\"} 60 1700000030.000\n# EOF\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := OpenMetrics(tc.series...)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestOpenMetricsPanics(t *testing.T) {
	for _, tc := range []struct {
		name   string
		series []Series
		want   string
	}{
		{"metric name", []Series{{Name: "a-b"}}, "invalid metric name"},
		{"label name", []Series{{Name: "a", Labels: map[string]string{"1x": ""}}}, "invalid label name"},
		{"__name__", []Series{{Name: "a", Labels: map[string]string{"__name__": "b"}}}, "invalid label name"},
		{"type", []Series{{Name: "a", Type: "histogram"}}, "want counter, gauge or empty"},
		{"counter name", []Series{{Name: "a", Type: "counter"}}, "ending in _total"},
		{"zero time", []Series{{Name: "a", Samples: []Sample{{V: 1}}}}, "without a time"},
		{"same millisecond", []Series{{Name: "a", Samples: []Sample{{t0, 1}, {t0.Add(time.Microsecond), 2}}}}, "two samples"},
		{"series twice", []Series{{Name: "a", Labels: map[string]string{"x": "1"}}, {Name: "a", Labels: map[string]string{"x": "1"}}}, "given twice"},
		{"two types", []Series{{Name: "a_total", Type: "counter"}, {Name: "a", Type: "gauge"}}, "is both"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				got, _ := recover().(string)
				if !strings.Contains(got, tc.want) {
					t.Errorf("got panic %q, want one containing %q", got, tc.want)
				}
			}()
			OpenMetrics(tc.series...)
		})
	}
}

// TestOpenMetricsDeterministic checks that map and argument order do not show.
func TestOpenMetricsDeterministic(t *testing.T) {
	a := Series{Name: "x", Labels: map[string]string{"a": "1", "b": "2", "c": "3", "d": "4"}, Samples: []Sample{{t0, 1}}}
	b := Series{Name: "x", Labels: map[string]string{"a": "2"}, Samples: []Sample{{t0, 1}}}
	want := OpenMetrics(a, b)
	for range 20 {
		if got := OpenMetrics(b, a); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}
