package prometheus

import (
	"testing"
	"time"

	pmodel "github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// FuzzSelector: selector writes what the Prometheus printer writes for
// the same matchers, whatever the names and values hold.
func FuzzSelector(f *testing.F) {
	f.Add("emac:component_error:ratio_rate5m", "emac_component", "checkout", uint8(0), "emac_journey", `a"b\c`, uint8(1))
	f.Add("m", "", "", uint8(2), "0x", "\u00e9\n", uint8(3))
	f.Add("m", "emac_component", "a|b", uint8(2), "emac_component", "c", uint8(1))
	f.Fuzz(func(t *testing.T, metric, n1, v1 string, t1 uint8, n2, v2 string, t2 uint8) {
		ms := []matcher{{n1, labels.MatchType(t1 % 4), v1}, {n2, labels.MatchType(t2 % 4), v2}}
		vs := &parser.VectorSelector{Name: metric, LabelMatchers: []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, metric)}}
		for _, m := range ms {
			lm, err := labels.NewMatcher(m.typ, m.name, m.value)
			if err != nil {
				return // an invalid regular expression: nothing emac writes
			}
			vs.LabelMatchers = append(vs.LabelMatchers, lm)
		}
		if got, want := selector(metric, ms...), vs.String(); got != want {
			t.Fatalf("selector = %q, want the printer's %q", got, want)
		}
	})
}

func TestWindow(t *testing.T) {
	for _, d := range append(StandardWindows, 30*day, 28*day, 7*day, 90*time.Second, 0) {
		if got, want := Window(d), pmodel.Duration(d).String(); got != want {
			t.Errorf("Window(%v) = %q, want %q", d, got, want)
		}
	}
	if got := Window(sentinel); got != sentinelText {
		t.Errorf("Window(sentinel) = %q, want sentinelText %q", got, sentinelText)
	}
}
