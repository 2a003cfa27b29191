package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	wire "github.com/emac-dev/emac/api/v1alpha1"
)

// GroupVersion is the API group and version of these kinds.
var GroupVersion = schema.GroupVersion{Group: wire.Group, Version: wire.Version}

// AddToScheme registers the kinds with a scheme.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &Journey{}, &JourneyList{}, &ComponentCatalog{}, &ComponentCatalogList{}, &ModelDelta{}, &ModelDeltaList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}

// Condition types of a Journey.
const (
	// ConditionReady: compiled, artifacts applied, evaluated.
	ConditionReady = "Ready"
	// ConditionCompiled: the spec loads and compiles; a spec error is this
	// condition False with the diagnostics as its message.
	ConditionCompiled = "Compiled"
	// ConditionArtifactsApplied: the owned objects are applied; kinds
	// whose CRDs are not installed are named in its message.
	ConditionArtifactsApplied = "ArtifactsApplied"
	// ConditionEvidenceFresh: the last observed evaluation read fresh,
	// sufficient data (False in contract mode: there is no evidence).
	ConditionEvidenceFresh = "EvidenceFresh"
)

// Journey is a user journey in the cluster: its spec is the Journey
// document of a spec file.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=jny,categories=emac
// +kubebuilder:printcolumn:name="Decision",type=string,JSONPath=`.status.decision`
// +kubebuilder:printcolumn:name="A-",type=number,JSONPath=`.status.availability.pessimistic`
// +kubebuilder:printcolumn:name="A+",type=number,JSONPath=`.status.availability.optimistic`
// +kubebuilder:printcolumn:name="Target",type=number,JSONPath=`.status.availability.target`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Journey struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   wire.JourneySpec `json:"spec"`
	Status JourneyStatus    `json:"status,omitempty"`
}

// JourneyStatus is what the controller last computed for a journey.
type JourneyStatus struct {
	// ObservedGeneration is the generation the status describes.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Mode is "contract" (SLO targets) or "observed" (Prometheus).
	Mode string `json:"mode,omitempty"`
	// Decision is PASS, FAIL or REVIEW; Reasons explain it.
	Decision string   `json:"decision,omitempty"`
	Reasons  []string `json:"reasons,omitempty"`
	// Availability holds the bounds [A-, A+], the floor and what binds.
	Availability *AvailabilityStatus `json:"availability,omitempty"`
	// Latency is the tail latency against the objective, when composed.
	Latency *LatencyStatus `json:"latency,omitempty"`
	// Confidence in the model, in [0,1].
	Confidence *float64 `json:"confidence,omitempty"`
	// Artifacts are the owned objects applied.
	Artifacts []ArtifactRef `json:"artifacts,omitempty"`
	// LastEvaluated is when the decision was taken.
	LastEvaluated *metav1.Time `json:"lastEvaluated,omitempty"`
	// Conditions: Ready, Compiled, ArtifactsApplied, EvidenceFresh.
	//
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// AvailabilityStatus is the availability part of a JourneyStatus.
type AvailabilityStatus struct {
	Target      float64  `json:"target"`
	Optimistic  float64  `json:"optimistic"`
	Pessimistic float64  `json:"pessimistic"`
	Floor       float64  `json:"floor"`
	Binding     []string `json:"binding,omitempty"`
}

// LatencyStatus is the latency part of a JourneyStatus.
type LatencyStatus struct {
	Percentile float64 `json:"percentile,omitempty"`
	// Threshold, Independent and Upper (p_upper) are in seconds.
	Threshold   float64  `json:"threshold,omitempty"`
	Independent *float64 `json:"independent,omitempty"`
	Upper       *float64 `json:"upper,omitempty"`
	Status      string   `json:"status,omitempty"`
}

// ArtifactRef names an owned object.
type ArtifactRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	// Skipped says the kind's CRD is not installed, so it was not applied.
	Skipped bool `json:"skipped,omitempty"`
}

// JourneyList is a list of Journeys.
//
// +kubebuilder:object:root=true
type JourneyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Journey `json:"items"`
}

// ComponentCatalog shares components and failure domains between the
// journeys of its namespace.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=ccat,categories=emac
type ComponentCatalog struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec wire.ComponentCatalogSpec `json:"spec"`
}

// ComponentCatalogList is a list of ComponentCatalogs.
//
// +kubebuilder:object:root=true
type ComponentCatalogList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ComponentCatalog `json:"items"`
}

// ModelDelta is a discovered change to a journey awaiting review. It is
// never applied to its Journey unless a person approves it, or the
// journey's accept action's guard allows it.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=mdelta,categories=emac
// +kubebuilder:printcolumn:name="Journey",type=string,JSONPath=`.spec.journey`
// +kubebuilder:printcolumn:name="After",type=string,JSONPath=`.spec.after.decision`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ModelDelta struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   wire.ModelDeltaSpec `json:"spec"`
	Status ModelDeltaStatus    `json:"status,omitempty"`
}

// ModelDelta phases.
const (
	PhasePending  = "Pending"
	PhaseApproved = "Approved"
	PhaseApplied  = "Applied"
	PhaseRejected = "Rejected"
)

// ModelDeltaStatus says where a delta stands.
type ModelDeltaStatus struct {
	// Phase is Pending, Approved, Applied or Rejected.
	Phase string `json:"phase,omitempty"`
	// Message says why, e.g. which guard denied applying it.
	Message            string `json:"message,omitempty"`
	ObservedGeneration int64  `json:"observedGeneration,omitempty"`
}

// ModelDeltaList is a list of ModelDeltas.
//
// +kubebuilder:object:root=true
type ModelDeltaList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ModelDelta `json:"items"`
}
