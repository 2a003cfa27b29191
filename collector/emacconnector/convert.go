package emacconnector

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/emac-dev/emac/collector/emacconnector/internal/metadata"
	"github.com/emac-dev/emac/internal/discovery"
)

// ServiceName is the service.name of the resource the metrics are
// emitted under: the Prometheus exporter turns it into the job label.
const ServiceName = "emac-connector"

// toMetrics converts the Recorder's families into OTLP metrics, one
// metric per family under one resource and scope. start is the start of
// the cumulative counters and histograms (the connector's start); now is
// every data point's time. Names are kept exactly: they are already
// Prometheus names (with _total and _seconds), and no unit is set so the
// Prometheus exporter adds no suffix of its own.
func toMetrics(fams []discovery.Family, start, now pcommon.Timestamp) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", ServiceName)
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName(metadata.ScopeName)
	ms := sm.Metrics()
	ms.EnsureCapacity(len(fams))
	for i := range fams {
		f := &fams[i]
		if f.Type > discovery.Histogram {
			// a type this connector does not know yet: skipped, as a
			// metric without data would be invalid OTLP
			continue
		}
		m := ms.AppendEmpty()
		m.SetName(f.Name)
		m.SetDescription(f.Help)
		switch f.Type {
		case discovery.Counter:
			sum := m.SetEmptySum()
			sum.SetIsMonotonic(true)
			sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			putNumbers(sum.DataPoints(), f, start, now)
		case discovery.Gauge:
			// a gauge has no start
			putNumbers(m.SetEmptyGauge().DataPoints(), f, 0, now)
		case discovery.Histogram:
			h := m.SetEmptyHistogram()
			h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			dps := h.DataPoints()
			dps.EnsureCapacity(len(f.Series))
			for j := range f.Series {
				s := &f.Series[j]
				dp := dps.AppendEmpty()
				dp.SetStartTimestamp(start)
				dp.SetTimestamp(now)
				dp.SetCount(uint64(s.Value))
				dp.SetSum(s.Sum)
				// OTLP needs len(bucket counts) == len(bounds)+1; a
				// series breaking that keeps its count and sum, which
				// are still right, rather than emit buckets a backend
				// would reject or misread.
				if len(s.Counts) == len(s.Bounds)+1 {
					dp.ExplicitBounds().FromRaw(s.Bounds)
					dp.BucketCounts().FromRaw(s.Counts)
				}
				putLabels(dp.Attributes(), s.Labels)
			}
		}
	}
	return md
}

// putNumbers appends f's series to dps, a counter's (from start) or a
// gauge's (start 0, unset).
func putNumbers(dps pmetric.NumberDataPointSlice, f *discovery.Family, start, now pcommon.Timestamp) {
	dps.EnsureCapacity(len(f.Series))
	for j := range f.Series {
		s := &f.Series[j]
		dp := dps.AppendEmpty()
		if start != 0 {
			dp.SetStartTimestamp(start)
		}
		dp.SetTimestamp(now)
		dp.SetDoubleValue(s.Value)
		putLabels(dp.Attributes(), s.Labels)
	}
}

func putLabels(m pcommon.Map, labels []discovery.Label) {
	m.EnsureCapacity(len(labels))
	for _, l := range labels {
		m.PutStr(l.Name, l.Value)
	}
}
