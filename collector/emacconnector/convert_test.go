package emacconnector

import (
	"slices"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/emac-dev/emac/collector/emacconnector/internal/metadata"
	"github.com/emac-dev/emac/internal/discovery"
)

// fakeFamilies has one family of each type, with labels, and a
// histogram series whose counts do not fit its bounds.
func fakeFamilies() []discovery.Family {
	l := func(client, server string) []discovery.Label {
		return []discovery.Label{{Name: "client", Value: client}, {Name: "server", Value: server}}
	}
	return []discovery.Family{
		{Name: "emac_discovery_calls_total", Help: "calls between services", Type: discovery.Counter, Series: []discovery.Series{
			{Labels: l("front", "cart"), Value: 7},
			{Labels: l("front", "pricing"), Value: 3},
		}},
		{Name: "emac_discovery_last_span_end_seconds", Help: "the last span end", Type: discovery.Gauge, Series: []discovery.Series{
			{Value: 1.767e9},
		}},
		{Name: "emac_discovery_call_duration_seconds", Help: "durations", Type: discovery.Histogram, Series: []discovery.Series{
			{Labels: l("front", "cart"), Value: 6, Sum: 0.75,
				Bounds: []float64{0.1, 0.2}, Counts: []uint64{1, 2, 3}},
			{Labels: l("front", "pricing"), Value: 2, Sum: 0.5,
				Bounds: []float64{0.1, 0.2}, Counts: []uint64{2}},
		}},
		{Name: "unknown_type", Type: discovery.Histogram + 1, Series: []discovery.Series{{Value: 1}}},
	}
}

func TestToMetrics(t *testing.T) {
	start, now := pcommon.Timestamp(1_000), pcommon.Timestamp(2_000)
	md := toMetrics(fakeFamilies(), start, now)
	if md.ResourceMetrics().Len() != 1 || md.ResourceMetrics().At(0).ScopeMetrics().Len() != 1 {
		t.Fatal("want one resource and one scope")
	}
	rm := md.ResourceMetrics().At(0)
	if v, _ := rm.Resource().Attributes().Get("service.name"); v.Str() != ServiceName {
		t.Errorf("service.name %q", v.Str())
	}
	sm := rm.ScopeMetrics().At(0)
	if sm.Scope().Name() != metadata.ScopeName {
		t.Errorf("scope %q", sm.Scope().Name())
	}
	ms := sm.Metrics()
	if ms.Len() != 3 {
		t.Fatalf("%d metrics, want 3 (the unknown type skipped)", ms.Len())
	}

	c := ms.At(0)
	if c.Name() != "emac_discovery_calls_total" || c.Description() != "calls between services" || c.Unit() != "" {
		t.Errorf("counter %q %q %q", c.Name(), c.Description(), c.Unit())
	}
	if c.Type() != pmetric.MetricTypeSum || !c.Sum().IsMonotonic() || c.Sum().AggregationTemporality() != pmetric.AggregationTemporalityCumulative {
		t.Fatalf("counter is %v, want a monotonic cumulative sum", c.Type())
	}
	dps := c.Sum().DataPoints()
	if dps.Len() != 2 {
		t.Fatalf("%d counter points", dps.Len())
	}
	for i, want := range []struct {
		server string
		v      float64
	}{{"cart", 7}, {"pricing", 3}} {
		dp := dps.At(i)
		if dp.DoubleValue() != want.v || dp.StartTimestamp() != start || dp.Timestamp() != now {
			t.Errorf("counter point %d: %v at %v from %v", i, dp.DoubleValue(), dp.Timestamp(), dp.StartTimestamp())
		}
		if got := dp.Attributes().AsRaw(); len(got) != 2 || got["client"] != "front" || got["server"] != want.server {
			t.Errorf("counter point %d labels %v", i, got)
		}
	}

	g := ms.At(1)
	if g.Type() != pmetric.MetricTypeGauge || g.Gauge().DataPoints().Len() != 1 {
		t.Fatalf("gauge is %v", g.Type())
	}
	if dp := g.Gauge().DataPoints().At(0); dp.DoubleValue() != 1.767e9 || dp.Timestamp() != now || dp.StartTimestamp() != 0 || dp.Attributes().Len() != 0 {
		t.Errorf("gauge point %v at %v from %v, %d labels", dp.DoubleValue(), dp.Timestamp(), dp.StartTimestamp(), dp.Attributes().Len())
	}

	h := ms.At(2)
	if h.Type() != pmetric.MetricTypeHistogram || h.Histogram().AggregationTemporality() != pmetric.AggregationTemporalityCumulative {
		t.Fatalf("histogram is %v", h.Type())
	}
	hps := h.Histogram().DataPoints()
	if hps.Len() != 2 {
		t.Fatalf("%d histogram points", hps.Len())
	}
	dp := hps.At(0)
	if dp.Count() != 6 || dp.Sum() != 0.75 || dp.StartTimestamp() != start || dp.Timestamp() != now {
		t.Errorf("histogram point: count %d sum %v at %v from %v", dp.Count(), dp.Sum(), dp.Timestamp(), dp.StartTimestamp())
	}
	if !slices.Equal(dp.ExplicitBounds().AsRaw(), []float64{0.1, 0.2}) || !slices.Equal(dp.BucketCounts().AsRaw(), []uint64{1, 2, 3}) {
		t.Errorf("buckets %v %v", dp.ExplicitBounds().AsRaw(), dp.BucketCounts().AsRaw())
	}
	if got := dp.Attributes().AsRaw(); got["server"] != "cart" {
		t.Errorf("histogram labels %v", got)
	}
	// counts that do not fit the bounds: count and sum only
	if dp := hps.At(1); dp.Count() != 2 || dp.Sum() != 0.5 || dp.ExplicitBounds().Len() != 0 || dp.BucketCounts().Len() != 0 {
		t.Errorf("malformed histogram point: count %d sum %v buckets %v %v", dp.Count(), dp.Sum(), dp.ExplicitBounds().AsRaw(), dp.BucketCounts().AsRaw())
	}
}

// TestToMetricsEmpty: no families, no metrics, still a valid batch.
func TestToMetricsEmpty(t *testing.T) {
	if md := toMetrics(nil, 1, 2); md.MetricCount() != 0 || md.DataPointCount() != 0 {
		t.Errorf("%d metrics from no families", md.MetricCount())
	}
}
