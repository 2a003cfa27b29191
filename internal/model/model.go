// Package model is the journey algebra: a validated, resolved journey whose
// flow is a tree of operators over components, each component with the
// availability and latency the engines use. It is what internal/spec
// produces and what internal/bounds, the simulator and the emitters consume.
package model

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/emac-dev/emac/internal/diag"
)

// Op is a node's operator.
type Op uint8

// The eleven operators of SPEC §3.
const (
	Call Op = iota
	Seq
	All
	Race
	Fallback
	Quorum
	Branch
	Retry
	Timeout
	Optional
	Async
)

var opNames = [...]string{"Call", "Series", "All", "Race", "Fallback", "Quorum", "Branch", "Retry", "Timeout", "Optional", "Async"}

// String is the operator's name in the canonical form.
func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return fmt.Sprintf("Op(%d)", o)
}

// Node is one node of a flow.
type Node struct {
	Op Op
	// Component is the called component (Call).
	Component string
	// Children are the operands, in order.
	Children []*Node
	// K is the quorum size (Quorum).
	K int
	// Weights are the branch probabilities, one per child (Branch).
	Weights []float64
	// Attempts is the maximum number of tries (Retry).
	Attempts int
	// HedgeAfter delays each further race branch (Race; 0 = all at once).
	HedgeAfter time.Duration
	// PerTryTimeout and Backoff shape retries (Retry; 0 = unset).
	PerTryTimeout time.Duration
	Backoff       time.Duration
	// After is the deadline (Timeout).
	After time.Duration
}

// Walk calls f on n and its descendants, depth first, parents first.
func (n *Node) Walk(f func(*Node)) {
	f(n)
	for _, c := range n.Children {
		c.Walk(f)
	}
}

// Calls counts the Call nodes per component.
func (n *Node) Calls() map[string]int {
	m := map[string]int{}
	n.Walk(func(x *Node) {
		if x.Op == Call {
			m[x.Component]++
		}
	})
	return m
}

// Invocations says how repeated invocations of a component behave.
type Invocations uint8

// Invocation models.
const (
	// InvocationsUnknown lets the pessimistic bound pick the worse model.
	InvocationsUnknown Invocations = iota
	// InvocationsTransient: each invocation fails independently.
	InvocationsTransient
	// InvocationsPersistent: one up/down state per journey execution.
	InvocationsPersistent
)

// LatencyPoint is one point of a component's success-latency distribution.
type LatencyPoint struct {
	// Quantile in (0,1), e.g. 0.99 for p99.
	Quantile float64
	Value    time.Duration
}

// Telemetry is the PromQL of an SLI, with {{.window}} placeholders.
type Telemetry struct {
	Good, Bad, Total, LatencyHistogram string
	// LatencyHistogramAt is where the spec writes LatencyHistogram, for
	// diagnostics about what it selects; nil when unknown.
	LatencyHistogramAt *diag.Range
}

// Bucket is one bucket of a classic histogram: the cumulative count of
// observations at or below an upper bound (seconds; +Inf allowed).
type Bucket struct {
	UpperBound float64
	Count      float64
}

// Component is a leaf of the flow.
type Component struct {
	Name string
	// Availability is the success probability of one call.
	Availability float64
	// Window of the component's SLO (0 = the journey's).
	Window  time.Duration
	Latency []LatencyPoint
	// FailureLatency is the duration of a failed call (0 = unknown).
	FailureLatency time.Duration
	// Histogram is the measured latency of successful calls: the
	// cumulative buckets of its telemetry's latencyHistogram, read from
	// an exposition file or a Prometheus server (nil when not read). It
	// is preferred to Latency: measured over declared.
	Histogram []Bucket
	// HistogramFrom says where Histogram was read (a file, a server and
	// its query).
	HistogramFrom string
	// Domains the component belongs to, sorted.
	Domains     []string
	Telemetry   *Telemetry
	Service     string
	Operation   string
	Invocations Invocations
	// Source says where the availability came from (an SLO file, inline).
	Source string
}

// Domain is a failure domain: components that can fail together.
type Domain struct {
	Name        string
	Description string
	Source      string
	Key         string
	// Members are the component names, sorted.
	Members []string
}

// Objective is the journey's objective.
type Objective struct {
	// Availability target in (0,1).
	Availability float64
	Window       time.Duration
	Latency      *LatencyObjective
}

// LatencyObjective asks that Percentile% of successful journeys finish
// within Threshold.
type LatencyObjective struct {
	Percentile float64
	Threshold  time.Duration
}

// BurnRateWindow is one multi-window burn-rate alert condition.
type BurnRateWindow struct {
	BurnRate    float64
	LongWindow  time.Duration
	ShortWindow time.Duration
}

// Action is a guarded action.
type Action struct {
	Name string
	// Guard is a CEL expression (internal/guard); "" allows always.
	Guard          string
	MaxTrafficStep *float64
	MaxPerWindow   int
	Window         time.Duration
	// Target is the Kubernetes object the action changes, or nil.
	Target *ActionTarget
}

// ActionTarget is a Kubernetes object an action changes.
type ActionTarget struct {
	APIVersion, Kind, Name string
	// Namespace is "" for the journey's own namespace.
	Namespace string
}

// Policy is the journey's governance.
type Policy struct {
	// Bound is "pessimistic", "optimistic" or "floor".
	Bound         string
	MinConfidence float64
	HighImpact    float64
	Page, Ticket  []BurnRateWindow
	Rollout       string
	Actions       []Action
}

// Journey is a resolved journey.
type Journey struct {
	Name      string
	Source    string
	Labels    map[string]string
	Objective Objective
	Flow      *Node
	// Components used by the flow, by name.
	Components map[string]*Component
	// Domains with at least one member, by name.
	Domains   map[string]*Domain
	Telemetry *Telemetry
	Policy    Policy
}

// ComponentNames returns the component names, sorted.
func (j *Journey) ComponentNames() []string { return slices.Sorted(maps.Keys(j.Components)) }

// DomainNames returns the domain names, sorted.
func (j *Journey) DomainNames() []string { return slices.Sorted(maps.Keys(j.Domains)) }

// Clone returns a deep copy of the journey's components and domains (the
// flow is shared: engines never modify it), so availabilities can be
// changed for what-if analyses.
func (j *Journey) Clone() *Journey {
	c := *j
	c.Components = make(map[string]*Component, len(j.Components))
	for k, v := range j.Components {
		cv := *v
		c.Components[k] = &cv
	}
	c.Domains = make(map[string]*Domain, len(j.Domains))
	for k, v := range j.Domains {
		dv := *v
		c.Domains[k] = &dv
	}
	return &c
}

// Validate checks the structural rules of the algebra that the spec loader
// reports with positions; it is for journeys built in code.
func (j *Journey) Validate() error {
	if j.Flow == nil {
		return fmt.Errorf("journey %q has no flow", j.Name)
	}
	var err error
	j.Flow.Walk(func(n *Node) {
		if err != nil {
			return
		}
		err = n.check(j)
	})
	if err != nil {
		return err
	}
	for _, d := range j.Domains {
		for _, m := range d.Members {
			if _, ok := j.Components[m]; !ok {
				return fmt.Errorf("domain %q: unknown member %q", d.Name, m)
			}
		}
	}
	return nil
}

func (n *Node) check(j *Journey) error {
	switch n.Op {
	case Call:
		c, ok := j.Components[n.Component]
		if !ok {
			return fmt.Errorf("unknown component %q", n.Component)
		}
		if !(c.Availability >= 0 && c.Availability <= 1) {
			return fmt.Errorf("component %q: availability %v outside [0,1]", c.Name, c.Availability)
		}
		if len(n.Children) != 0 {
			return fmt.Errorf("call %q has operands", n.Component)
		}
	case Seq, All, Race, Fallback:
		if len(n.Children) == 0 {
			return fmt.Errorf("%s has no operands", n.Op)
		}
	case Quorum:
		if n.K < 1 || n.K > len(n.Children) {
			return fmt.Errorf("quorum k=%d with %d operands", n.K, len(n.Children))
		}
	case Branch:
		if len(n.Weights) != len(n.Children) || len(n.Children) == 0 {
			return fmt.Errorf("branch needs one weight per case")
		}
		s := 0.0
		for _, w := range n.Weights {
			if !(w >= 0) {
				return fmt.Errorf("branch weight %v is negative", w)
			}
			s += w
		}
		if s < 1-1e-9 || s > 1+1e-9 {
			return fmt.Errorf("branch weights sum to %v, not 1", s)
		}
	case Retry:
		if n.Attempts < 1 {
			return fmt.Errorf("retry with %d attempts", n.Attempts)
		}
		fallthrough
	case Timeout, Optional, Async:
		if len(n.Children) != 1 {
			return fmt.Errorf("%s needs exactly one operand", n.Op)
		}
	default:
		return fmt.Errorf("unknown operator %d", n.Op)
	}
	return nil
}
