package discovery

// MetricType is the type of a metric family, as Prometheus and OTLP know
// them.
type MetricType uint8

// The metric types of the evidence's families.
const (
	// Counter is a cumulative, monotonic count (an OTLP monotonic Sum).
	Counter MetricType = iota
	// Gauge is a value as it is now.
	Gauge
	// Histogram is a cumulative histogram with explicit bounds.
	Histogram
)

// Label is one label of a series.
type Label struct{ Name, Value string }

// Series is one series of a family: its labels (sorted by name) and its
// value; a Histogram's series has Bounds (upper bounds, ascending, the
// last bucket +Inf and not listed), Counts (per bucket, not cumulative,
// len(Bounds)+1), Sum and Value (the count).
type Series struct {
	Labels []Label
	Value  float64
	Bounds []float64
	Counts []uint64
	Sum    float64
}

// Family is one metric family of the evidence, as the collector
// connector exports it and `emac discover --prometheus` reads it back.
type Family struct {
	Name, Help string
	Type       MetricType
	Series     []Series
}
