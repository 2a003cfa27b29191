package guards

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/emac-dev/emac/internal/guard"
	"github.com/emac-dev/emac/internal/model"
)

// The Kubernetes objects, reduced to the fields emitted, in the API's
// field order.
type (
	meta struct {
		Name        string            `yaml:"name"`
		Labels      map[string]string `yaml:"labels,omitempty"`
		Annotations map[string]string `yaml:"annotations,omitempty"`
	}
	object struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Metadata   meta   `yaml:"metadata"`
		Spec       any    `yaml:"spec"`
	}
	policySpec struct {
		FailurePolicy    string       `yaml:"failurePolicy"`
		ParamKind        *paramKind   `yaml:"paramKind,omitempty"`
		MatchConstraints matchRules   `yaml:"matchConstraints"`
		Variables        []namedExpr  `yaml:"variables"`
		Validations      []validation `yaml:"validations"`
	}
	paramKind struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
	}
	matchRules struct {
		ResourceRules []resourceRule `yaml:"resourceRules"`
	}
	resourceRule struct {
		APIGroups     []string `yaml:"apiGroups"`
		APIVersions   []string `yaml:"apiVersions"`
		Operations    []string `yaml:"operations"`
		Resources     []string `yaml:"resources"`
		ResourceNames []string `yaml:"resourceNames"`
	}
	namedExpr struct {
		Name       string `yaml:"name"`
		Expression string `yaml:"expression"`
	}
	validation struct {
		Expression        string `yaml:"expression"`
		Message           string `yaml:"message,omitempty"`
		MessageExpression string `yaml:"messageExpression,omitempty"`
		Reason            string `yaml:"reason"`
	}
	bindingSpec struct {
		PolicyName        string        `yaml:"policyName"`
		ValidationActions []string      `yaml:"validationActions"`
		ParamRef          *paramRef     `yaml:"paramRef,omitempty"`
		MatchResources    matchResource `yaml:"matchResources"`
	}
	paramRef struct {
		Name                    string `yaml:"name"`
		Namespace               string `yaml:"namespace"`
		ParameterNotFoundAction string `yaml:"parameterNotFoundAction"`
	}
	matchResource struct {
		NamespaceSelector labelSelector `yaml:"namespaceSelector"`
	}
	labelSelector struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	}
)

// LiveConfigMap is the name of the ConfigMap, in the journey's namespace,
// that holds a journey's live variables for admission policies: one key
// per variable, values as text (numbers in decimal, booleans true or
// false, binding as comma-separated names).
func LiveConfigMap(journey string) string { return "emac-" + journey + "-live" }

// weights returns, for a route kind, the CEL that lists a route object's
// weighted backends: a list per route of {"k": key, "w": weight}. A
// backend's key names its route and destination, so that old and new
// weights pair up even when routes are reordered. Both values are dyn
// because Kubernetes wants a map literal's values of one type.
func weights(kind, obj string) (string, error) {
	switch kind {
	case "VirtualService":
		// A destination without a weight takes all of a one-destination
		// route, else none (Istio's rule).
		return fmt.Sprintf(`!has(%[1]s.spec.http) ? [] : %[1]s.spec.http.map(r, !has(r.route) ? [] : r.route.map(d, {
  "k": dyn((has(r.name) ? r.name : "") + "/" + d.destination.host + "/" + (has(d.destination.subset) ? d.destination.subset : "")),
  "w": dyn(has(d.weight) ? d.weight : (size(r.route) == 1 ? 100 : 0))}))`, obj), nil
	case "HTTPRoute":
		// A backendRef's weight defaults to 1 (Gateway API's rule); weights
		// are read as percentage points, as progressive-delivery
		// controllers write them.
		return fmt.Sprintf(`!has(%[1]s.spec.rules) ? [] : %[1]s.spec.rules.map(r, !has(r.backendRefs) ? [] : r.backendRefs.map(b, {
  "k": dyn((has(r.name) ? r.name : "") + "/" + (has(b.namespace) ? b.namespace : "") + "/" + b.name + ":" + (has(b.port) ? string(b.port) : "")),
  "w": dyn(has(b.weight) ? b.weight : 1)}))`, obj), nil
	}
	return "", fmt.Errorf("unsupported target kind %q", kind)
}

// stepVariables compute the traffic step of an update in weight points:
// the largest change of any backend's weight, a backend that appears or
// disappears counting its whole weight.
func stepVariables(kind string) ([]namedExpr, error) {
	newW, err := weights(kind, "object")
	if err != nil {
		return nil, err
	}
	oldW, _ := weights(kind, "oldObject")
	return []namedExpr{
		{Name: "newWeights", Expression: newW},
		{Name: "oldWeights", Expression: oldW},
		{Name: "deltas", Expression: `variables.newWeights.map(rs, rs.map(e, e.w - (
  variables.oldWeights.exists(os, os.exists(o, o.k == e.k))
    ? variables.oldWeights.filter(os, os.exists(o, o.k == e.k))[0].filter(o, o.k == e.k)[0].w
    : 0)).map(x, x < 0 ? -x : x)) +
variables.oldWeights.map(os, os.filter(o, !variables.newWeights.exists(rs, rs.exists(e, e.k == o.k))).map(o, o.w))`},
		// CEL has no max() before Kubernetes' list library: the largest is
		// the element no other exceeds.
		{Name: "routeSteps", Expression: `variables.deltas.filter(ds, size(ds) > 0).map(ds, ds.filter(x, ds.all(y, y <= x))[0])`},
		{Name: "stepPoints", Expression: `size(variables.routeSteps) == 0 ? 0 : variables.routeSteps.filter(x, variables.routeSteps.all(y, y <= x))[0]`},
	}, nil
}

// liveVariable is the CEL that reads a live variable from the ConfigMap.
func liveVariable(v guard.Variable) string {
	ref := "params.data." + v.Name
	switch v.Type {
	case "double":
		return "double(" + ref + ")"
	case "bool":
		return "bool(" + ref + ")"
	case "list(string)":
		return ref + ` == "" ? [] : ` + ref + `.split(",")`
	}
	return ref
}

// celDouble writes f as a CEL double literal.
func celDouble(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// objectiveLiteral is the journey's objective as a CEL map.
func objectiveLiteral(o map[string]float64) string {
	var parts []string
	for _, k := range guard.ObjectiveFields() {
		if v, ok := o[k]; ok {
			parts = append(parts, strconv.Quote(k)+": "+celDouble(v))
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// admissionPolicy writes the ValidatingAdmissionPolicy and its binding
// that enforce an action on its target: a weight update is refused when
// its step exceeds maxTrafficStep or when the guard does not hold on the
// live variables of the journey's ConfigMap (a missing ConfigMap, key or
// value refuses too).
func admissionPolicy(j *model.Journey, a model.Action, g *guard.Guard, namespace string) ([]byte, error) {
	t := a.Target
	if namespace == "" {
		namespace = "default" // as emit.Input promises
	}
	kind, ok := guard.LookupTarget(t.Kind)
	if !ok || !kind.Accepts(t.APIVersion) {
		return nil, fmt.Errorf("unsupported target %s %s", t.APIVersion, t.Kind)
	}
	targetNS := t.Namespace
	if targetNS == "" {
		targetNS = namespace
	}
	vars, err := stepVariables(t.Kind)
	if err != nil {
		return nil, err
	}
	var checks []validation
	if a.MaxTrafficStep != nil {
		p := points(*a.MaxTrafficStep)
		checks = append(checks, validation{
			Expression: fmt.Sprintf("variables.stepPoints <= %d", p),
			MessageExpression: fmt.Sprintf(`"action %s: a traffic step of " + string(variables.stepPoints) + " weight points exceeds maxTrafficStep %s (%d points)"`,
				a.Name, strconv.FormatFloat(*a.MaxTrafficStep, 'g', -1, 64), p),
			Reason: "Forbidden",
		})
	}
	usesParams := false
	if g != nil {
		refs := g.References()
		for _, v := range guard.Variables() {
			if !v.Live || !referenced(refs, v.Name) {
				continue
			}
			usesParams = true
			vars = append(vars, namedExpr{Name: v.Name, Expression: liveVariable(v)})
		}
		if referenced(refs, guard.VarObjective) {
			vars = append(vars, namedExpr{Name: guard.VarObjective, Expression: objectiveLiteral(objective(j))})
		}
		if referenced(refs, guard.VarParams) {
			// At admission the action's one parameter is its step.
			vars = append(vars, namedExpr{Name: guard.VarParams, Expression: "{" + strconv.Quote(guard.ParamStep) + ": double(variables.stepPoints) / 100.0}"})
		}
		q, err := g.Qualified("variables")
		if err != nil {
			return nil, err
		}
		checks = append(checks, validation{
			// Updates that move no traffic are not the action.
			Expression: "variables.stepPoints == 0 || (" + q + ")",
			Message:    fmt.Sprintf("action %s: the guard does not hold: %s", a.Name, strings.Join(strings.Fields(g.Source()), " ")),
			Reason:     "Forbidden",
		})
	}
	name := "emac-" + j.Name + "-" + a.Name
	labels := map[string]string{"app.kubernetes.io/managed-by": "emac", "emac.dev/journey": j.Name, "emac.dev/action": a.Name}
	spec := policySpec{
		FailurePolicy: "Fail",
		MatchConstraints: matchRules{ResourceRules: []resourceRule{{
			APIGroups: []string{kind.Group}, APIVersions: []string{"*"}, Operations: []string{"UPDATE"},
			Resources: []string{kind.Resource}, ResourceNames: []string{t.Name},
		}}},
		Variables:   vars,
		Validations: checks,
	}
	binding := bindingSpec{
		PolicyName:        name,
		ValidationActions: []string{"Deny"},
		MatchResources:    matchResource{NamespaceSelector: labelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": targetNS}}},
	}
	if usesParams {
		spec.ParamKind = &paramKind{APIVersion: "v1", Kind: "ConfigMap"}
		binding.ParamRef = &paramRef{Name: LiveConfigMap(j.Name), Namespace: namespace, ParameterNotFoundAction: "Deny"}
	}
	var buf bytes.Buffer
	buf.WriteString("# Code generated by emac compile; DO NOT EDIT.\n")
	fmt.Fprintf(&buf, "# Action %q of journey %q, enforced on %s %s/%s.\n", a.Name, j.Name, t.Kind, targetNS, t.Name)
	if usesParams {
		fmt.Fprintf(&buf, "# Live variables are read from ConfigMap %s/%s.\n", namespace, LiveConfigMap(j.Name))
	}
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	for _, o := range []object{
		{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingAdmissionPolicy", Metadata: meta{Name: name, Labels: labels}, Spec: spec},
		{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingAdmissionPolicyBinding", Metadata: meta{Name: name, Labels: labels}, Spec: binding},
	} {
		if err := enc.Encode(o); err != nil {
			return nil, err
		}
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// referenced reports whether refs (guard.References) read name or one of
// its fields.
func referenced(refs []string, name string) bool {
	for _, r := range refs {
		if r == name || strings.HasPrefix(r, name+".") {
			return true
		}
	}
	return false
}
