package v1alpha1

// Decisions a journey can get.
const (
	DecisionPass   = "PASS"
	DecisionFail   = "FAIL"
	DecisionReview = "REVIEW"
)

// CheckResult is what `emac check -o json` prints.
type CheckResult struct {
	Journeys []JourneyResult `json:"journeys"`
}

// JourneyResult is the evaluation of one journey. The names of SPEC §6 are
// fixed; the others are additions.
type JourneyResult struct {
	Name     string `json:"name"`
	Decision string `json:"decision"`
	// Reasons explain the decision, one sentence each.
	Reasons []string `json:"reasons,omitempty"`
	// Source is the file the journey was read from.
	Source string `json:"source,omitempty"`
	// Flow is the journey in canonical one-line form.
	Flow string `json:"flow,omitempty"`
	// Mode is "contract" (SLO targets) or "observed" (measured ratios).
	Mode string `json:"mode,omitempty"`
	// Confidence in the model, 1 for a spec without evidence.
	Confidence   float64            `json:"confidence"`
	Availability AvailabilityResult `json:"availability"`
	Latency      *LatencyResult     `json:"latency,omitempty"`
	Contributors []Contributor      `json:"contributors"`
	Required     []RequiredTarget   `json:"required"`
	Domains      []DomainResult     `json:"domains,omitempty"`
	WhatIf       *WhatIfResult      `json:"whatif,omitempty"`
	Components   []ComponentValue   `json:"components,omitempty"`
	Notes        []string           `json:"notes,omitempty"`
	// Observation is what observed mode (emac gate, emac serve) read
	// from Prometheus; nil in contract mode.
	Observation *Observation `json:"observation,omitempty"`
	// Evidence summarises the discovery deltas the decision weighed; nil
	// when none was given.
	Evidence *EvidenceResult `json:"evidence,omitempty"`
}

// AvailabilityResult holds the bounds [A-, A+] and the floor.
type AvailabilityResult struct {
	Target      float64 `json:"target"`
	Window      string  `json:"window,omitempty"`
	Optimistic  float64 `json:"optimistic"`
	Pessimistic float64 `json:"pessimistic"`
	Floor       float64 `json:"floor"`
	// Binding names the shared failure domains of the scenario attaining A-.
	Binding []string `json:"binding"`
	// Persistent names the multiply-invoked components that scenario treats
	// as persistent.
	Persistent []string `json:"persistent,omitempty"`
	// Bound is the bound the decision used.
	Bound string `json:"bound,omitempty"`
	// Exact is false when the pessimistic bound is a sound lower bound
	// rather than the exact minimum (the journey exceeded the exact limit).
	Exact bool `json:"exact"`
	// Approximate is set when a deadline over redundancy truncates its
	// operand by its independent share in every scenario (see
	// docs/semantics.md, "Deadlines in A+ and A-").
	Approximate bool `json:"approximate,omitempty"`
	// Method says how A- was obtained.
	Method string `json:"method,omitempty"`
	// Scenarios counts the scenarios evaluated exactly.
	Scenarios int64 `json:"scenarios,omitempty"`
}

// LatencyResult is the journey's tail latency against its objective
// (durations in seconds).
type LatencyResult struct {
	// Percentile and Threshold are the objective's (0 without one).
	Percentile float64 `json:"percentile"`
	Threshold  float64 `json:"threshold"`
	// Independent is the objective's percentile with every call
	// independent; Upper its dependence-free upper bound (p_upper).
	Independent *float64 `json:"independent,omitempty"`
	Upper       *float64 `json:"upper,omitempty"`
	// Within is P(L ≤ threshold | success), independent.
	Within *float64 `json:"within,omitempty"`
	// Quantiles are p50, p90, p99 and p99.9 both ways.
	Quantiles []LatencyQuantile `json:"quantiles,omitempty"`
	// Resolution is the lattice step; Error bounds how far it may move an
	// independent quantile.
	Resolution float64 `json:"resolution,omitempty"`
	Error      float64 `json:"error,omitempty"`
	// Untimed lists components without latency: they take no time.
	Untimed []string `json:"untimed,omitempty"`
	// Sources say where each timed component's latency comes from.
	Sources []LatencySource `json:"sources,omitempty"`
	// Status is "met", "violated" or "unknown" (empty without an
	// objective).
	Status string `json:"status,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// LatencySource says where a component's success latency comes from.
type LatencySource struct {
	Component string `json:"component"`
	// Source is "histogram" (measured: its telemetry's latencyHistogram)
	// or "points" (its SLO's latency points).
	Source string `json:"source"`
	// From is where the histogram was read: a file, or a Prometheus
	// server and the query it ran.
	From string `json:"from,omitempty"`
	// Observations is the histogram's count, Top its last finite bucket
	// bound (seconds) and Overflow the share of observations above Top,
	// which the distribution puts on Top.
	Observations float64  `json:"observations,omitempty"`
	Top          float64  `json:"top,omitempty"`
	Overflow     *float64 `json:"overflow,omitempty"`
}

// LatencyQuantile is one quantile of a successful journey's duration.
type LatencyQuantile struct {
	Level       float64 `json:"level"`
	Independent float64 `json:"independent"`
	Upper       float64 `json:"upper"`
	// Beyond says the bound passed the end of its lattice: the quantile
	// is only known to exceed Upper.
	Beyond bool `json:"beyond,omitempty"`
}

// Contributor is a leaf's share of the journey's unavailability
// (Birnbaum importance times its unavailability, normalised).
type Contributor struct {
	Component    string  `json:"component"`
	Share        float64 `json:"share"`
	Importance   float64 `json:"importance"`
	Availability float64 `json:"availability"`
}

// RequiredTarget is the smallest availability of a component that keeps the
// decision bound at or above the objective, others unchanged.
type RequiredTarget struct {
	Component    string   `json:"component"`
	Availability *float64 `json:"availability"`
	// Current is the component's availability in the model.
	Current float64 `json:"current"`
	// Infeasible is true when no availability of this component alone
	// reaches the objective.
	Infeasible bool `json:"infeasible,omitempty"`
}

// DomainResult describes one failure domain's effect on the journey.
type DomainResult struct {
	Name    string   `json:"name"`
	Members []string `json:"members"`
	// Loss is A+ − A(only this domain shared).
	Loss float64 `json:"loss"`
	// Binding is true when the domain is shared in the binding scenario.
	Binding bool `json:"binding"`
	// Required is the smallest common-cause availability (1 − c) of the
	// domain that keeps the decision bound at or above the objective.
	Required *float64 `json:"required,omitempty"`
	// Infeasible is true when even an always-up domain misses the objective.
	Infeasible bool `json:"infeasible,omitempty"`
}

// ComponentValue is the availability a component has in the evaluation.
type ComponentValue struct {
	Name         string   `json:"name"`
	Availability float64  `json:"availability"`
	Source       string   `json:"source,omitempty"`
	Domains      []string `json:"domains,omitempty"`
	Invocations  int      `json:"invocations,omitempty"`
}

// WhatIfResult is the journey with some domains or components forced down.
type WhatIfResult struct {
	Down        []string `json:"down"`
	Optimistic  float64  `json:"optimistic"`
	Pessimistic float64  `json:"pessimistic"`
	Floor       float64  `json:"floor"`
	Decision    string   `json:"decision"`
}
