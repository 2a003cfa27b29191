package v1alpha1

// Modes of a JourneyResult.
const (
	ModeContract = "contract"
	ModeObserved = "observed"
)

// Observation is what observed mode read from Prometheus for one
// decision: every component's measured availability over the gate window
// (the bounds of the JourneyResult use it) and over the objective window.
type Observation struct {
	// Prometheus is the server's base URL.
	Prometheus string `json:"prometheus"`
	// At is the evaluation time, RFC 3339 in UTC.
	At string `json:"at"`
	// Window is the gate window; ObjectiveWindow the journey's.
	Window          string `json:"window"`
	ObjectiveWindow string `json:"objectiveWindow"`
	// Objective holds the bounds over the objective window (the error
	// budget's view); nil when some component has no data there.
	Objective *ObservedBounds `json:"objective,omitempty"`
	// Sufficient says every measured component has fresh data with enough
	// calls in the gate window: without it the decision is never PASS.
	Sufficient bool                `json:"sufficient"`
	Components []ObservedComponent `json:"components"`
}

// ObservedBounds are the availability bounds at some window.
type ObservedBounds struct {
	Optimistic  float64 `json:"optimistic"`
	Pessimistic float64 `json:"pessimistic"`
	Floor       float64 `json:"floor"`
}

// Status values of an ObservedComponent.
const (
	// ObservedOK: fresh data with enough calls.
	ObservedOK = "ok"
	// ObservedContract: the component has no telemetry; its SLO target
	// stands in (as in contract mode).
	ObservedContract = "contract"
	// ObservedNoData: the queries returned nothing over the window.
	ObservedNoData = "no-data"
	// ObservedStale: data over the window, none in the freshness window.
	ObservedStale = "stale"
	// ObservedTooFewCalls: fewer calls than the minimum in the window.
	ObservedTooFewCalls = "too-few-calls"
	// ObservedError: a query failed (server down, timeout, bad answer).
	ObservedError = "error"
)

// ObservedComponent is one component's observation.
type ObservedComponent struct {
	Name string `json:"name"`
	// Status is one of the Observed* values.
	Status string `json:"status"`
	// Detail says why the status is not ok.
	Detail string `json:"detail,omitempty"`
	// Availability is what the bounds used: measured over the gate
	// window (the canary's when Canary is set), or the SLO target.
	Availability float64 `json:"availability"`
	// Measured is 1 − the error ratio over the gate window; nil when not
	// measured.
	Measured *float64 `json:"measured,omitempty"`
	// ObjectiveAvailability is the same over the objective window.
	ObjectiveAvailability *float64 `json:"objectiveAvailability,omitempty"`
	// Calls is how many calls the gate window holds (the canary's).
	Calls *float64 `json:"calls,omitempty"`
	// Target is the component's SLO target, for comparison.
	Target float64 `json:"target"`
	// Canary is the selector the canary's queries were narrowed by.
	Canary string `json:"canary,omitempty"`
}

// EvidenceResult summarises the discovery deltas a decision weighed.
type EvidenceResult struct {
	// Deltas are the delta files read.
	Deltas []string `json:"deltas"`
	// Confidence is the least confidence of the changes applied.
	Confidence float64 `json:"confidence"`
	// Conflicts are unresolved failure-domain conflicts: held shared.
	Conflicts []string `json:"conflicts,omitempty"`
	// Unaccepted are the high-impact changes the spec does not hold yet.
	Unaccepted []EvidenceChange `json:"unaccepted,omitempty"`
	// Stale says a delta was made from another version of the spec.
	Stale []string `json:"stale,omitempty"`
}

// EvidenceChange is a change of a delta, in short.
type EvidenceChange struct {
	Kind             string   `json:"kind"`
	Summary          string   `json:"summary"`
	DeltaPessimistic *float64 `json:"deltaPessimistic,omitempty"`
}

// GuardResult is the answer to a request for a guarded action (emac guard
// check, emac serve's /actions endpoint).
//
// +kubebuilder:object:generate=false
type GuardResult struct {
	Journey string `json:"journey"`
	Action  string `json:"action"`
	// Allowed is true only when the guard holds, every limit is kept and
	// the journey's live values could be read.
	Allowed bool `json:"allowed"`
	// Reasons say why it is denied, or what allowed it.
	Reasons []string `json:"reasons"`
	// Guard is the guard's source ("" when the action has none).
	Guard string `json:"guard,omitempty"`
	// Variables are the live values the guard read.
	Variables map[string]any `json:"variables,omitempty"`
	// Recorded says the allowed action was counted against its rate
	// limit (not on a dry run).
	Recorded bool `json:"recorded"`
	// Decision is the journey's decision the guard saw.
	Decision string `json:"decision,omitempty"`
}
