package guard

import (
	"maps"
	"strconv"
	"strings"

	"cel.dev/cel-go/cel"
)

// Variable is one name a guard may read.
type Variable struct {
	// Name as written in a guard.
	Name string
	// Type is the CEL type, as the documentation writes it.
	Type string
	// Doc says what the value is and where it comes from.
	Doc string
	// Live variables are read from the running system when an action is
	// requested (Prometheus, the last `emac check`); the others come from
	// the spec (objective) or from the request itself (params).
	Live bool

	cel *cel.Type
}

// Names of the variables a guard may read.
const (
	VarAPlus          = "A_plus"
	VarAMinus         = "A_minus"
	VarAFloor         = "A_floor"
	VarPUpper         = "p_upper"
	VarPIndependent   = "p_independent"
	VarConfidence     = "confidence"
	VarDomainConflict = "domain_conflict"
	VarDecision       = "decision"
	VarBinding        = "binding"
	VarObjective      = "objective"
	VarParams         = "params"
)

// Variables returns the variables guards may read, in documentation
// order. Each call returns a fresh slice.
func Variables() []Variable {
	return []Variable{
		{Name: VarAPlus, Type: "double", Live: true, cel: cel.DoubleType,
			Doc: "optimistic journey availability A+ (every dependency fails independently)"},
		{Name: VarAMinus, Type: "double", Live: true, cel: cel.DoubleType,
			Doc: "pessimistic journey availability A- (the worst failure-domain scenario)"},
		{Name: VarAFloor, Type: "double", Live: true, cel: cel.DoubleType,
			Doc: "availability with no independence assumption at all"},
		{Name: VarPUpper, Type: "double", Live: true, cel: cel.DoubleType,
			Doc: "upper bound of the journey latency at the objective's percentile, in seconds"},
		{Name: VarPIndependent, Type: "double", Live: true, cel: cel.DoubleType,
			Doc: "journey latency at the objective's percentile under independence, in seconds"},
		{Name: VarConfidence, Type: "double", Live: true, cel: cel.DoubleType,
			Doc: "confidence in the journey model, in [0,1] (1 for a spec checked without evidence)"},
		{Name: VarDomainConflict, Type: "bool", Live: true, cel: cel.BoolType,
			Doc: "evidence contradicts the declared failure domains"},
		{Name: VarDecision, Type: "string", Live: true, cel: cel.StringType,
			Doc: `the journey's decision: "PASS", "FAIL" or "REVIEW"`},
		{Name: VarBinding, Type: "list(string)", Live: true, cel: cel.ListType(cel.StringType),
			Doc: "the failure domains of the scenario that binds A-, sorted"},
		{Name: VarObjective, Type: "map(string, double)", cel: cel.MapType(cel.StringType, cel.DoubleType),
			Doc: "the journey's objective from the spec: availability, window (seconds), and when the journey has a latency objective, latency (seconds) and percentile"},
		{Name: VarParams, Type: "map(string, dyn)", cel: cel.MapType(cel.StringType, cel.DynType),
			Doc: "the parameters of the requested action, e.g. params.step, the traffic step as a fraction in (0,1]"},
	}
}

// Objective fields a guard may select (objective.availability …).
const (
	ObjectiveAvailability = "availability"
	ObjectiveWindow       = "window"
	ObjectiveLatency      = "latency"
	ObjectivePercentile   = "percentile"
)

// ParamStep is the parameter that carries an action's traffic step.
const ParamStep = "step"

// Vars are the values of a guard's variables for one evaluation. A nil
// field is unknown: a guard that reads it cannot be evaluated, and so does
// not allow the action (missing data never allows). The JSON names are the
// variables' names, so Vars is also the shape of the variables in a Rego
// policy's input.
type Vars struct {
	APlus          *float64  `json:"A_plus,omitempty"`
	AMinus         *float64  `json:"A_minus,omitempty"`
	AFloor         *float64  `json:"A_floor,omitempty"`
	PUpper         *float64  `json:"p_upper,omitempty"`
	PIndependent   *float64  `json:"p_independent,omitempty"`
	Confidence     *float64  `json:"confidence,omitempty"`
	DomainConflict *bool     `json:"domain_conflict,omitempty"`
	Decision       *string   `json:"decision,omitempty"`
	Binding        *[]string `json:"binding,omitempty"`
	// Objective holds the keys of ObjectiveFields that the journey has.
	Objective map[string]float64 `json:"objective,omitempty"`
	// Params are the action's parameters.
	Params map[string]any `json:"params,omitempty"`
}

// Map returns the known variables by name, as a guard reads them.
func (v *Vars) Map() map[string]any { return v.activation() }

// Text returns the known live variables as text, by name: the encoding
// of the ConfigMap an admission policy reads them from (numbers in
// decimal, booleans true or false, binding as comma-separated names).
// Unknown variables have no key, so that a policy reading one denies.
func (v *Vars) Text() map[string]string {
	out := map[string]string{}
	num := func(name string, f *float64) {
		if f != nil {
			out[name] = strconv.FormatFloat(*f, 'f', -1, 64)
		}
	}
	num(VarAPlus, v.APlus)
	num(VarAMinus, v.AMinus)
	num(VarAFloor, v.AFloor)
	num(VarPUpper, v.PUpper)
	num(VarPIndependent, v.PIndependent)
	num(VarConfidence, v.Confidence)
	if v.DomainConflict != nil {
		out[VarDomainConflict] = strconv.FormatBool(*v.DomainConflict)
	}
	if v.Decision != nil {
		out[VarDecision] = *v.Decision
	}
	if v.Binding != nil {
		out[VarBinding] = strings.Join(*v.Binding, ",")
	}
	return out
}

// activation is the CEL activation of v: the known variables only, so
// that reading an unknown one is an evaluation error.
func (v *Vars) activation() map[string]any {
	a := map[string]any{}
	set := func(name string, ok bool, val func() any) {
		if ok {
			a[name] = val()
		}
	}
	set(VarAPlus, v.APlus != nil, func() any { return *v.APlus })
	set(VarAMinus, v.AMinus != nil, func() any { return *v.AMinus })
	set(VarAFloor, v.AFloor != nil, func() any { return *v.AFloor })
	set(VarPUpper, v.PUpper != nil, func() any { return *v.PUpper })
	set(VarPIndependent, v.PIndependent != nil, func() any { return *v.PIndependent })
	set(VarConfidence, v.Confidence != nil, func() any { return *v.Confidence })
	set(VarDomainConflict, v.DomainConflict != nil, func() any { return *v.DomainConflict })
	set(VarDecision, v.Decision != nil, func() any { return *v.Decision })
	set(VarBinding, v.Binding != nil, func() any { return *v.Binding })
	set(VarObjective, v.Objective != nil, func() any { return maps.Clone(v.Objective) })
	set(VarParams, v.Params != nil, func() any { return v.Params })
	return a
}

// ObjectiveFields returns the keys objective may have, sorted.
func ObjectiveFields() []string {
	return []string{ObjectiveAvailability, ObjectiveLatency, ObjectivePercentile, ObjectiveWindow}
}
