package server

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/emac-dev/emac/api/v1alpha1"
)

// httpMetrics count and time the server's requests.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics() *httpMetrics {
	return &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "emac_http_requests_total",
			Help: "HTTP requests answered, by handler and status code.",
		}, []string{"handler", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "emac_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by handler.",
			Buckets: prometheus.DefBuckets,
		}, []string{"handler"}),
	}
}

// models keeps every journey's most recent evaluation without canaries,
// and exports it as a collector. It builds the series from the snapshot at
// each scrape: a label value that changed (a new binding scenario, a
// journey gone) leaves no stale series behind, as a GaugeVec would.
type models struct {
	d  modelDescs
	mu sync.Mutex
	m  map[string]modelEntry
}

type modelEntry struct {
	res *v1alpha1.JourneyResult
	at  time.Time // when the evaluation measured
}

func newModels() *models { return &models{d: newModelDescs(), m: map[string]modelEntry{}} }

// record keeps res as journey's model unless a later one is kept: a slow
// evaluation finishing late must not replace a newer one.
func (m *models) record(journey string, res *v1alpha1.JourneyResult, now time.Time) {
	at := now
	if res.Observation != nil {
		if t, err := time.Parse(time.RFC3339, res.Observation.At); err == nil {
			at = t
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.m[journey]; ok && old.at.After(at) {
		return
	}
	m.m[journey] = modelEntry{res: res, at: at}
}

// forget drops a journey that no longer exists.
func (m *models) forget(journey string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.m, journey)
}

// keep drops every journey not in names.
func (m *models) keep(names []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	maps.DeleteFunc(m.m, func(j string, _ modelEntry) bool { return !slices.Contains(names, j) })
}

// modelDescs describe the journeys' series.
type modelDescs struct {
	availability, objective, confidence, decision, binding, latency, timestamp, sufficient *prometheus.Desc
}

func newModelDescs() modelDescs {
	return modelDescs{
		availability: prometheus.NewDesc("emac_journey_availability",
			"The journey's availability at its most recent evaluation: bound optimistic (A+, every dependency failing independently), pessimistic (A-, the binding failure-domain scenario) or floor (no independence assumed). Absent while the observation is insufficient: unknown values are not exported as live ones.",
			[]string{"journey", "bound"}, nil),
		objective: prometheus.NewDesc("emac_journey_objective",
			"The journey's availability objective (a ratio).", []string{"journey"}, nil),
		confidence: prometheus.NewDesc("emac_journey_confidence",
			"Confidence in the journey's model, 1 for a spec without evidence.", []string{"journey"}, nil),
		decision: prometheus.NewDesc("emac_journey_decision",
			"1 for the journey's current decision (PASS, FAIL or REVIEW), 0 for the others.", []string{"journey", "decision"}, nil),
		binding: prometheus.NewDesc("emac_journey_binding_scenario",
			"1 for the failure domains shared in the scenario attaining A- (comma-separated, sorted; empty for none).", []string{"journey", "domains"}, nil),
		latency: prometheus.NewDesc("emac_journey_latency_upper_seconds",
			"The dependence-free upper bound of the journey's latency at its objective's percentile, when known.", []string{"journey"}, nil),
		timestamp: prometheus.NewDesc("emac_journey_evaluation_timestamp_seconds",
			"When the journey's most recent evaluation measured, in Unix seconds.", []string{"journey"}, nil),
		sufficient: prometheus.NewDesc("emac_journey_observation_sufficient",
			"1 when every measured component had fresh data with enough calls at the most recent evaluation, else 0 (the decision is then never PASS).", []string{"journey"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (m *models) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.d.availability, m.d.objective, m.d.confidence, m.d.decision, m.d.binding, m.d.latency, m.d.timestamp, m.d.sufficient} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *models) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	snap := maps.Clone(m.m)
	m.mu.Unlock()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for j, e := range snap {
		r := e.res
		gauge(m.d.objective, r.Availability.Target, j)
		gauge(m.d.confidence, r.Confidence, j)
		gauge(m.d.timestamp, float64(e.at.UnixMilli())/1e3, j)
		for _, d := range []string{v1alpha1.DecisionPass, v1alpha1.DecisionFail, v1alpha1.DecisionReview} {
			gauge(m.d.decision, b2f(r.Decision == d), j, d)
		}
		sufficient := r.Observation == nil || r.Observation.Sufficient
		if r.Observation != nil {
			gauge(m.d.sufficient, b2f(sufficient), j)
		}
		if !sufficient {
			// what was not measured stands at its SLO target in the
			// result: the live model is unknown, as for the guards
			continue
		}
		a := r.Availability
		gauge(m.d.availability, a.Optimistic, j, "optimistic")
		gauge(m.d.availability, a.Pessimistic, j, "pessimistic")
		gauge(m.d.availability, a.Floor, j, "floor")
		binding := slices.Clone(a.Binding)
		slices.Sort(binding)
		gauge(m.d.binding, 1, j, strings.Join(binding, ","))
		if r.Latency != nil && r.Latency.Upper != nil {
			gauge(m.d.latency, *r.Latency.Upper, j)
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
