// Package v1alpha1 holds the versioned wire types of emac's journey language
// (apiVersion emac.dev/v1alpha1): the Journey and ComponentCatalog documents
// users keep in Git, and the machine-readable results emac prints.
//
// The types carry JSON tags only: YAML specs are decoded by internal/spec,
// which keeps source positions, and the same structs are the JSON form that
// other tools and the Kubernetes API (api/kube/v1alpha1) exchange.
//
// +kubebuilder:object:generate=true
package v1alpha1

// Identifiers of the API group and its kinds.
const (
	Group      = "emac.dev"
	Version    = "v1alpha1"
	APIVersion = Group + "/" + Version

	KindJourney          = "Journey"
	KindComponentCatalog = "ComponentCatalog"
	// KindJourneyIntent is the paper's original format, accepted on input and
	// converted to a Journey.
	KindJourneyIntent = "JourneyIntent"
)

// TypeMeta names a document's API version and kind.
type TypeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// ObjectMeta is the subset of Kubernetes object metadata a spec carries.
type ObjectMeta struct {
	// Name is a DNS-1123 label; it is also a Prometheus label value.
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Journey declares one user journey: its objectives, its flow over
// components, and how automation may act on it.
type Journey struct {
	TypeMeta `json:",inline"`
	Metadata ObjectMeta  `json:"metadata"`
	Spec     JourneySpec `json:"spec"`
}

// JourneySpec is the body of a Journey.
type JourneySpec struct {
	// Objectives the journey must meet.
	Objectives Objectives `json:"objectives"`
	// Flow is the typed journey expression over components.
	//
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	Flow *Node `json:"flow"`
	// Components binds the flow's leaves to atomic SLOs and telemetry.
	Components map[string]Component `json:"components,omitempty"`
	// Catalogs names ComponentCatalog documents whose components and
	// failure domains this journey may use.
	Catalogs []string `json:"catalogs,omitempty"`
	// FailureDomains describes domains; membership is declared on components.
	FailureDomains map[string]FailureDomain `json:"failureDomains,omitempty"`
	// Telemetry of the journey itself, when it is measured end to end.
	Telemetry *Telemetry `json:"telemetry,omitempty"`
	// Governance says how decisions are taken and what actions are allowed.
	Governance *Governance `json:"governance,omitempty"`
}

// Objectives are the journey's service level objectives.
type Objectives struct {
	Availability AvailabilityObjective `json:"availability"`
	Latency      *LatencyObjective     `json:"latency,omitempty"`
}

// AvailabilityObjective is a success-ratio target over a rolling window.
type AvailabilityObjective struct {
	// Target in (0,1); "99.5%" and 0.995 are both accepted.
	Target Ratio `json:"target"`
	// Window of the objective; 30d when empty.
	Window Duration `json:"window,omitempty"`
}

// LatencyObjective asks that the given percentile of successful journeys
// complete within Threshold.
type LatencyObjective struct {
	Percentile float64  `json:"percentile"`
	Threshold  Duration `json:"threshold"`
}

// Component is a leaf of the flow: a service or dependency with its own SLO.
type Component struct {
	// SLO states the component's objective inline.
	SLO *ComponentSLO `json:"slo,omitempty"`
	// SLORef points at an OpenSLO, Sloth or Pyrra file (relative to the spec)
	// holding the component's objective; "path#name" picks one SLO of many.
	SLORef string `json:"sloRef,omitempty"`
	// Domains lists the failure domains the component belongs to.
	Domains []string `json:"domains,omitempty"`
	// Telemetry gives the PromQL of the component's SLI.
	Telemetry *Telemetry `json:"telemetry,omitempty"`
	// Span says how traces name the component.
	Span *Span `json:"span,omitempty"`
	// FailureLatency is how long a failed call takes, when known.
	FailureLatency *Duration `json:"failureLatency,omitempty"`
	// Invocations says whether repeated invocations within one journey
	// execution fail independently ("transient"), share one state
	// ("persistent"), or either ("unknown", the default, and the pessimistic
	// bound takes the worse).
	Invocations string `json:"invocations,omitempty"`
}

// Invocation models of a multiply-invoked component.
const (
	InvocationsUnknown    = "unknown"
	InvocationsTransient  = "transient"
	InvocationsPersistent = "persistent"
)

// ComponentSLO is an inline atomic SLO.
type ComponentSLO struct {
	// Availability target in (0,1).
	Availability Ratio `json:"availability"`
	// Window of the SLO; the journey's window when empty.
	Window Duration `json:"window,omitempty"`
	// Latency points of successful calls, keyed "p50", "p90", "p99.9", ...
	Latency map[string]Duration `json:"latency,omitempty"`
}

// Telemetry is PromQL for an SLI; "{{.window}}" is replaced by each window.
// Either Good or Bad is given, with Total.
type Telemetry struct {
	Good             string `json:"good,omitempty"`
	Bad              string `json:"bad,omitempty"`
	Total            string `json:"total,omitempty"`
	LatencyHistogram string `json:"latencyHistogram,omitempty"`
}

// Span identifies a component's spans in traces.
type Span struct {
	Service   string `json:"service,omitempty"`
	Operation string `json:"operation,omitempty"`
}

// FailureDomain describes a set of components that can fail together.
type FailureDomain struct {
	Description string `json:"description,omitempty"`
	// Source says where the domain comes from (declared, kubernetes, ...).
	Source string `json:"source,omitempty"`
	// Key is the topology key it was derived from, e.g.
	// topology.kubernetes.io/zone.
	Key string `json:"key,omitempty"`
}

// Governance configures decisions, alerting, rollouts and guarded actions.
type Governance struct {
	Decision *DecisionPolicy `json:"decision,omitempty"`
	Alerting *AlertingPolicy `json:"alerting,omitempty"`
	Rollout  *RolloutPolicy  `json:"rollout,omitempty"`
	Actions  []Action        `json:"actions,omitempty"`
}

// Decision bounds.
const (
	BoundPessimistic = "pessimistic"
	BoundOptimistic  = "optimistic"
	BoundFloor       = "floor"
)

// BoundSymbol is the symbol reports write for a bound: A-, A+ or A_floor
// (A- when the bound is empty, the default).
func BoundSymbol(bound string) string {
	switch bound {
	case BoundOptimistic:
		return "A+"
	case BoundFloor:
		return "A_floor"
	}
	return "A-"
}

// DecisionPolicy selects the bound decisions use and the confidence needed.
type DecisionPolicy struct {
	// Availability is the bound compared with the objective: pessimistic
	// (default), optimistic or floor.
	Availability string `json:"availability,omitempty"`
	// MinConfidence below which the decision is REVIEW; 0.8 when unset.
	MinConfidence *float64 `json:"minConfidence,omitempty"`
	// HighImpact is the |ΔA-| from which an unaccepted delta forces REVIEW;
	// 0.001 when unset.
	HighImpact *float64 `json:"highImpact,omitempty"`
}

// AlertingPolicy overrides the multi-window multi-burn-rate alert policy.
type AlertingPolicy struct {
	Page   []BurnRateWindow `json:"page,omitempty"`
	Ticket []BurnRateWindow `json:"ticket,omitempty"`
}

// BurnRateWindow is one multi-window burn-rate condition.
type BurnRateWindow struct {
	BurnRate    float64  `json:"burnRate"`
	LongWindow  Duration `json:"longWindow"`
	ShortWindow Duration `json:"shortWindow"`
}

// Rollout providers.
const (
	ProviderArgoRollouts = "argo-rollouts"
	ProviderFlagger      = "flagger"
)

// RolloutPolicy names the progressive delivery controller to gate.
type RolloutPolicy struct {
	Provider string `json:"provider,omitempty"`
}

// Action is something automation may do, allowed only when Guard holds.
type Action struct {
	Name string `json:"name"`
	// Guard is a CEL expression over the journey's live variables.
	Guard  string        `json:"guard,omitempty"`
	Limits *ActionLimits `json:"limits,omitempty"`
	// Target, when set, is the Kubernetes object the action changes; the
	// guard and the traffic-step limit are then also enforced at admission.
	Target *ActionTarget `json:"target,omitempty"`
}

// ActionTarget names a Kubernetes route whose weights an action shifts: a
// VirtualService (networking.istio.io) or an HTTPRoute
// (gateway.networking.k8s.io).
type ActionTarget struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	// Namespace of the object; the journey's namespace when empty.
	Namespace string `json:"namespace,omitempty"`
}

// ActionLimits bound how far and how often an action may act.
type ActionLimits struct {
	MaxTrafficStep *float64  `json:"maxTrafficStep,omitempty"`
	MaxPerWindow   int       `json:"maxPerWindow,omitempty"`
	Window         *Duration `json:"window,omitempty"`
}

// ComponentCatalog shares components and failure domains between journeys.
type ComponentCatalog struct {
	TypeMeta `json:",inline"`
	Metadata ObjectMeta           `json:"metadata"`
	Spec     ComponentCatalogSpec `json:"spec"`
}

// ComponentCatalogSpec is the body of a ComponentCatalog.
type ComponentCatalogSpec struct {
	// Include names other catalogs whose entries this one re-exports.
	Include        []string                 `json:"include,omitempty"`
	Components     map[string]Component     `json:"components,omitempty"`
	FailureDomains map[string]FailureDomain `json:"failureDomains,omitempty"`
}
