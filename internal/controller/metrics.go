package controller

import (
	"errors"
	"maps"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"

	wire "github.com/emac-dev/emac/api/v1alpha1"
)

// journeyMetrics exports every journey's latest bounds and decision on the
// manager's /metrics, with the names `emac serve` uses plus a namespace
// label: emac_journey_availability{namespace,journey,bound},
// emac_journey_objective{namespace,journey} and
// emac_journey_decision{namespace,journey,decision}. It is a collector over
// a snapshot, rather than gauge vectors, so that a deleted journey's series
// go with it.
type journeyMetrics struct {
	availability, objective, decision *prometheus.Desc

	mu sync.Mutex
	m  map[types.NamespacedName]journeyValues
}

// journeyValues are one journey's exported values.
type journeyValues struct {
	target, optimistic, pessimistic, floor float64
	decision                               string
}

func newJourneyMetrics() *journeyMetrics {
	return &journeyMetrics{
		availability: prometheus.NewDesc("emac_journey_availability",
			"The journey's availability at the controller's latest evaluation: bound optimistic (A+), pessimistic (A-) or floor.",
			[]string{"namespace", "journey", "bound"}, nil),
		objective: prometheus.NewDesc("emac_journey_objective",
			"The journey's availability objective (a ratio).", []string{"namespace", "journey"}, nil),
		decision: prometheus.NewDesc("emac_journey_decision",
			"1 for the journey's current decision (PASS, FAIL or REVIEW), 0 for the others.",
			[]string{"namespace", "journey", "decision"}, nil),
		m: map[types.NamespacedName]journeyValues{},
	}
}

// registerMetrics registers the journey metrics with reg, or returns those
// registered already (a second manager in one process, as in tests).
func registerMetrics(reg prometheus.Registerer) (*journeyMetrics, error) {
	m := newJourneyMetrics()
	err := reg.Register(m)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(*journeyMetrics); ok {
			return existing, nil
		}
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// set records a journey's result.
func (m *journeyMetrics) set(j types.NamespacedName, r *wire.JourneyResult) {
	a := r.Availability
	m.mu.Lock()
	m.m[j] = journeyValues{target: a.Target, optimistic: a.Optimistic, pessimistic: a.Pessimistic, floor: a.Floor, decision: r.Decision}
	m.mu.Unlock()
}

// forget drops a journey's series.
func (m *journeyMetrics) forget(j types.NamespacedName) {
	m.mu.Lock()
	delete(m.m, j)
	m.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (m *journeyMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.availability
	ch <- m.objective
	ch <- m.decision
}

// Collect implements prometheus.Collector.
func (m *journeyMetrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	snap := maps.Clone(m.m)
	m.mu.Unlock()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for j, v := range snap {
		gauge(m.objective, v.target, j.Namespace, j.Name)
		gauge(m.availability, v.optimistic, j.Namespace, j.Name, "optimistic")
		gauge(m.availability, v.pessimistic, j.Namespace, j.Name, "pessimistic")
		gauge(m.availability, v.floor, j.Namespace, j.Name, "floor")
		for _, d := range []string{wire.DecisionPass, wire.DecisionFail, wire.DecisionReview} {
			x := 0.0
			if d == v.decision {
				x = 1
			}
			gauge(m.decision, x, j.Namespace, j.Name, d)
		}
	}
}
