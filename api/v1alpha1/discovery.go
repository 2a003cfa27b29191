package v1alpha1

// KindDiscoveredModel is the kind of what `emac discover` prints.
const KindDiscoveredModel = "DiscoveredModel"

// DiscoveredModel is what `emac discover` prints (SPEC §7): what the
// evidence says the system is, each element with its provenance and a
// confidence on a stated statistical basis.
type DiscoveredModel struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// Inputs are the files read, with what each held.
	Inputs []DiscoveryInput `json:"inputs"`
	// Window is the time the traces cover.
	Window *TimeRange `json:"window,omitempty"`
	// Confidence is the least confidence of the flows of entry
	// operations (1 when there is none).
	Confidence float64 `json:"confidence"`
	// ConfidenceBasis, when set, says why the confidence is what it is
	// where the flows do not tell (evidence that cannot show flows).
	ConfidenceBasis string `json:"confidenceBasis,omitempty"`
	// Components are the called operations: each a leaf a flow names.
	Components []DiscoveredComponent `json:"components"`
	// Edges are the calls between services.
	Edges []DiscoveredEdge `json:"edges"`
	// Flows are the flows of the operations that call others, entry
	// operations (trace roots) first.
	Flows []DiscoveredFlow `json:"flows"`
	// Domains are failure-domain hypotheses.
	Domains []DomainHypothesis `json:"domains"`
	// Routes are what mesh configuration says of calls.
	Routes []DiscoveredRoute `json:"routes,omitempty"`
	// Faults are labelled faults and what the traces show of each.
	Faults []FaultEvidence `json:"faults,omitempty"`
	// Problems count what could not be used as it was, by kind, with
	// the first few of each kind.
	Problems *DiscoveryProblems `json:"problems,omitempty"`
}

// DiscoveryInput is one input read.
type DiscoveryInput struct {
	Name   string `json:"name"`
	Format string `json:"format"`
	Spans  int    `json:"spans,omitempty"`
	// Objects counts configuration or topology objects read.
	Objects int `json:"objects,omitempty"`
}

// TimeRange is an interval of time, RFC 3339.
type TimeRange struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Estimate is a proportion with its 95% interval and how it was got.
type Estimate struct {
	Value float64 `json:"value"`
	Lo    float64 `json:"lo"`
	Hi    float64 `json:"hi"`
	// Basis states the statistics: the counts and the interval's method.
	Basis string `json:"basis"`
}

// LatencySummary summarises the durations of successful calls.
type LatencySummary struct {
	P50 Duration `json:"p50"`
	P90 Duration `json:"p90"`
	P99 Duration `json:"p99"`
}

// Provenance says where an element comes from.
type Provenance struct {
	// Traces are example trace ids (the lowest), out of Count.
	Traces []string `json:"traces,omitempty"`
	Count  int      `json:"count,omitempty"`
	// Sources are the files (and fields) that said it.
	Sources []string `json:"sources,omitempty"`
}

// DiscoveredComponent is an operation that others call: a leaf.
type DiscoveredComponent struct {
	Name string `json:"name"`
	Span Span   `json:"span"`
	// Calls, Errors and Cancelled count the calls made to it; a
	// cancelled call (a hedge's loser) is neither success nor failure.
	Calls     int `json:"calls"`
	Errors    int `json:"errors"`
	Cancelled int `json:"cancelled,omitempty"`
	// Availability is its success ratio among calls not cancelled.
	Availability Estimate        `json:"availability"`
	Latency      *LatencySummary `json:"latency,omitempty"`
	// Placement lists where its service ran: the values seen of
	// k8s.node.name, cloud.availability_zone, … by attribute.
	Placement map[string][]string `json:"placement,omitempty"`
}

// DiscoveredEdge is the calls of one service to another.
type DiscoveredEdge struct {
	From      string `json:"from"`
	To        string `json:"to"`
	Calls     int    `json:"calls"`
	Errors    int    `json:"errors"`
	Cancelled int    `json:"cancelled,omitempty"`
	// Async says the caller did not wait (producer/consumer,
	// follows-from).
	Async bool `json:"async,omitempty"`
	// Probability is the share of the caller's invocations (of the
	// operations that ever call To) that called To at least once.
	Probability Estimate        `json:"probability"`
	Latency     *LatencySummary `json:"latency,omitempty"`
	Provenance  Provenance      `json:"provenance"`
}

// DiscoveredFlow is the flow of one operation.
type DiscoveredFlow struct {
	// Entry is the operation.
	Entry Span `json:"entry"`
	// Root says the operation starts traces: an entry operation.
	Root bool `json:"root,omitempty"`
	// Invocations counts its executions; Sampled how many the flow was
	// inferred from.
	Invocations int `json:"invocations"`
	Sampled     int `json:"sampled"`
	Errors      int `json:"errors"`
	// Flow is the flow in the spec's syntax; Canonical in one line.
	Flow      *Node  `json:"flow,omitempty"`
	Canonical string `json:"canonical,omitempty"`
	// Confidence is the least confidence of the decisions that shaped
	// the flow; Basis says how each is computed; Notes list the
	// decisions and their evidence.
	Confidence float64    `json:"confidence"`
	Basis      string     `json:"basis"`
	Notes      []string   `json:"notes,omitempty"`
	Provenance Provenance `json:"provenance"`
	// Branches give each branch's weights with their intervals.
	Branches []DiscoveredBranch `json:"branches,omitempty"`
	// Pairs say, for each two operations it calls, whether their calls
	// ran one after the other or overlapped.
	Pairs []CallPair `json:"pairs,omitempty"`
}

// Call pair verdicts.
const (
	PairSequential = "sequential"
	PairParallel   = "parallel"
	PairMixed      = "mixed"
)

// CallPair is how the calls to two components went when one invocation
// made both: Sequential when they never overlapped, Parallel when they
// always did, Mixed otherwise.
type CallPair struct {
	A        string `json:"a"`
	B        string `json:"b"`
	Together int    `json:"together"`
	// Overlapped counts the invocations where a call to A and one to B
	// ran at once.
	Overlapped int    `json:"overlapped"`
	Verdict    string `json:"verdict"`
	// Overlap estimates the share of invocations where they overlap.
	Overlap Estimate `json:"overlap"`
}

// DiscoveredBranch is one branch of a flow and its weights' estimates.
type DiscoveredBranch struct {
	// Cases is the branch in canonical form.
	Cases   string     `json:"cases"`
	Weights []Estimate `json:"weights"`
}

// Domain hypothesis kinds.
const (
	DomainZone       = "zone"
	DomainNode       = "node"
	DomainHost       = "host"
	DomainRegion     = "region"
	DomainCluster    = "cluster"
	DomainDeclared   = "declared"
	DomainDependency = "dependency"
	DomainCoFailure  = "co-failure"
)

// DomainHypothesis is a failure domain the evidence suggests: members that
// may fail together.
type DomainHypothesis struct {
	Name    string   `json:"name"`
	Kind    string   `json:"kind"`
	Members []string `json:"members"`
	// Confidence that the members share it, on Basis.
	Confidence float64 `json:"confidence"`
	Basis      string  `json:"basis"`
	// Evidence lists what says so, one line each.
	Evidence   []string   `json:"evidence,omitempty"`
	Provenance Provenance `json:"provenance"`
	// Conflict says the evidence disagrees (e.g. members' labels say
	// different domains): treat as shared until resolved.
	Conflict bool `json:"conflict,omitempty"`
}

// DiscoveredRoute is what mesh configuration says of calls to a service.
type DiscoveredRoute struct {
	Service string `json:"service"`
	// Flow is the routing and resilience as a flow over the service's
	// backends (branch weights, retry, timeout, fallback).
	Flow       *Node      `json:"flow,omitempty"`
	Canonical  string     `json:"canonical,omitempty"`
	Notes      []string   `json:"notes,omitempty"`
	Provenance Provenance `json:"provenance"`
}

// DiscoveryProblems counts problems by kind.
type DiscoveryProblems struct {
	Counts   map[string]int `json:"counts"`
	Examples []string       `json:"examples,omitempty"`
}

// FaultEvidence is a labelled fault and what the traces show in its
// window.
type FaultEvidence struct {
	Service string    `json:"service"`
	Type    string    `json:"type"`
	At      string    `json:"at"`
	Window  TimeRange `json:"window"`
	// Invocations and Errors count the service's invocations in the
	// window; P90 is their p90 there, BaselineP90 the service's usual
	// (its median window's).
	Invocations int      `json:"invocations"`
	Errors      int      `json:"errors"`
	P90         Duration `json:"p90,omitempty"`
	BaselineP90 Duration `json:"baselineP90,omitempty"`
	// Failed: errors in the window; Degraded: the p90 far above the
	// baseline (docs/discovery.md); Visible: either.
	Failed   bool `json:"failed"`
	Degraded bool `json:"degraded"`
	Visible  bool `json:"visible"`
	// Also lists the other services failing or degraded in the window.
	Also   []string `json:"also,omitempty"`
	Source string   `json:"source,omitempty"`
}

// KindModelDelta is the kind of what `emac discover --spec` prints.
const KindModelDelta = "ModelDelta"

// ModelDelta is what the evidence would change in an accepted journey
// spec (SPEC §7): each change with its impact on A-, the decision before
// and after, and the edits `emac accept` applies.
type ModelDelta struct {
	APIVersion     string `json:"apiVersion"`
	Kind           string `json:"kind"`
	ModelDeltaSpec `json:",inline"`
}

// ModelDeltaSpec is a ModelDelta's body: also the spec of the ModelDelta
// kind in the cluster (api/kube/v1alpha1).
type ModelDeltaSpec struct {
	// Spec is the spec file; SpecDigest its SHA-256, so that accept
	// refuses a file that changed since.
	Spec       string `json:"spec"`
	SpecDigest string `json:"specDigest"`
	Journey    string `json:"journey"`
	// Entry is the discovered operation the journey was matched with.
	Entry *Span `json:"entry,omitempty"`
	// Before is the spec as it is; After with every change applied that
	// the evidence settles, and the conservative (shared) assignment
	// where it does not.
	Before DeltaState `json:"before"`
	After  DeltaState `json:"after"`
	// Confidence is the least confidence of the changes applied in
	// After (1 when none is).
	Confidence float64 `json:"confidence"`
	// Changes are the changes the evidence suggests. Optional in the CRD:
	// a nil list is written as null, which the API server drops.
	//
	// +optional
	Changes []ModelChange `json:"changes"`
	// Patch is the unified diff accept would make to the spec.
	Patch string `json:"patch,omitempty"`
}

// DeltaState is a journey's bounds and decision.
type DeltaState struct {
	Optimistic  float64  `json:"optimistic"`
	Pessimistic float64  `json:"pessimistic"`
	Decision    string   `json:"decision"`
	Reasons     []string `json:"reasons,omitempty"`
	Flow        string   `json:"flow"`
	// Domains are the failure domains and their members.
	Domains map[string][]string `json:"domains,omitempty"`
}

// Change kinds.
const (
	ChangeDomainMembership = "domain-membership"
	ChangeDomainConflict   = "domain-conflict"
	ChangeFlow             = "flow"
	ChangeBranchWeight     = "branch-weight"
	ChangeNotObserved      = "not-observed"
	ChangeComponentAdded   = "component-added"
)

// ModelChange is one change the evidence suggests.
type ModelChange struct {
	Kind    string `json:"kind"`
	Summary string `json:"summary"`
	// Components are the spec components it concerns.
	Components []string `json:"components,omitempty"`
	Before     []string `json:"before,omitempty"`
	After      []string `json:"after,omitempty"`
	// DeltaPessimistic is A- with this change applied minus A- before;
	// HighImpact says |ΔA-| reaches the journey's highImpact threshold
	// (0.001 by default). Nil when it cannot be computed (a component
	// without an SLO).
	DeltaPessimistic *float64 `json:"deltaPessimistic,omitempty"`
	HighImpact       bool     `json:"highImpact,omitempty"`
	Confidence       float64  `json:"confidence"`
	Basis            string   `json:"basis"`
	Evidence         []string `json:"evidence,omitempty"`
	// Applied says After includes it; Conservative that After holds the
	// conservative assignment instead, until a person resolves it.
	Applied      bool `json:"applied"`
	Conservative bool `json:"conservative,omitempty"`
	// Edits are what accept writes into the spec for it (none for a
	// conflict, which a person resolves).
	Edits []SpecEdit `json:"edits,omitempty"`
}

// SpecEdit is one edit of a spec: a component's failure domains, a new
// component, or the flow.
type SpecEdit struct {
	Component    string   `json:"component,omitempty"`
	Domains      []string `json:"domains,omitempty"`
	AddComponent string   `json:"addComponent,omitempty"`
	// Flow replaces the journey's flow.
	//
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	Flow *Node `json:"flow,omitempty"`
}
