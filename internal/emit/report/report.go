// Package report emits a journey's review report (SPEC §6): report.md, a
// markdown page meant for a pull request (decision and reasons, the bounds,
// contributors, required targets, failure domains, latency, assumptions,
// provenance and the flow as a Mermaid flowchart), and report.json, the same
// content for machines: the journey's result as `emac check -o json`
// prints it, the assumptions it rests on, where every number comes from,
// and the flowchart's Mermaid source.
//
// Probabilities are written with %.8g, percentages from them the same way;
// required targets are written in full (they are rounded up at the 10th
// decimal, and printing fewer digits could round them down below what the
// objective needs).
package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/emit"
	"github.com/emac-dev/emac/internal/model"
)

// Paths of the files Emit writes, relative to the journey's directory.
const (
	// MarkdownPath is the pull-request report.
	MarkdownPath = "report.md"
	// JSONPath is the machine-readable report.
	JSONPath = "report.json"
	// ChartPath is the SVG chart of the latency CDF and its band, written
	// when the journey composes latency.
	ChartPath = "latency.svg"
)

// Identifiers of report.json.
const (
	APIVersion = v1alpha1.APIVersion
	Kind       = "JourneyReport"
)

// Report is the content of report.json.
type Report struct {
	// APIVersion and Kind identify the document (APIVersion, Kind).
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// Result is the journey's evaluation, as `emac check -o json` prints it.
	Result v1alpha1.JourneyResult `json:"result"`
	// Assumptions are what the numbers rest on.
	Assumptions Assumptions `json:"assumptions"`
	// Provenance says where each number of Result comes from, in the order
	// of Result's fields.
	Provenance []Provenance `json:"provenance"`
	// Mermaid is the journey's flow as a Mermaid flowchart.
	Mermaid string `json:"mermaid"`
	// LatencyChart is the path of the latency chart (ChartPath), relative
	// to the report; empty when the journey composes no latency.
	LatencyChart string `json:"latencyChart,omitempty"`
}

// Assumptions are the premises of a journey's numbers.
type Assumptions struct {
	// Mode is "contract" (each component's availability is its SLO target)
	// or "observed" (measured ratios).
	Mode string `json:"mode"`
	// Model says which model of the journey was evaluated.
	Model string `json:"model"`
	// Confidence in the model.
	Confidence float64 `json:"confidence"`
	// DecisionBound is the bound the decision compares with the objective:
	// pessimistic, optimistic or floor.
	DecisionBound string `json:"decisionBound"`
	// Invocations lists the components invoked more than once per journey
	// execution (several call sites, or retried), whose invocation model
	// matters.
	Invocations []Invocation `json:"invocations"`
	// Domains are the failure domains the journey declares.
	Domains []Domain `json:"domains"`
}

// Invocation is how a multiply-invoked component's invocations fail.
type Invocation struct {
	// Component is the component's name.
	Component string `json:"component"`
	// Calls is the number of call sites in the flow.
	Calls int `json:"calls"`
	// Retried is true when a call site is under a retry of more than one
	// attempt.
	Retried bool `json:"retried"`
	// Model is the declared model: unknown, transient or persistent.
	Model string `json:"model"`
	// Pessimistic is the model the scenario attaining A- takes: the declared
	// one, or for an unknown model persistent or transient as that scenario
	// chose.
	Pessimistic string `json:"pessimistic"`
}

// Domain is a declared failure domain.
type Domain struct {
	// Name and Description are the domain's, as declared.
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Source says where the domain comes from: "declared" when the spec
	// does not say, else e.g. "kubernetes".
	Source string `json:"source"`
	// Key is the topology key the domain stands for, if any.
	Key string `json:"key,omitempty"`
	// Members are the components in the domain, sorted.
	Members []string `json:"members"`
}

// Provenance is where one number of the result comes from.
type Provenance struct {
	// Field names the number in Result, e.g. availability.pessimistic or
	// required[paya].availability.
	Field string `json:"field"`
	// Value is the number; null for an infeasible required target of a
	// component or a domain.
	Value *float64 `json:"value"`
	// Source is where it comes from: an SLO file, the spec, or how emac
	// computed it.
	Source string `json:"source"`
}

// Emit writes report.md and report.json, and latency.svg when the journey
// composes latency.
func Emit(in *emit.Input) ([]emit.File, error) {
	if in == nil || in.Journey == nil || in.Journey.Flow == nil || in.Result == nil {
		return nil, errors.New("report: the input needs a journey with a flow and its result")
	}
	r := build(in.Journey, in.Result)
	var chart []byte
	// report.md shows the chart in its latency section, which the
	// result's latency opens.
	if in.Result.Latency != nil {
		var err error
		if chart, err = latencyChart(in.Result.Name, in.Journey.Objective.Latency, in.Latency); err != nil {
			return nil, err
		}
		if chart != nil {
			r.LatencyChart = ChartPath
		}
	}
	var js bytes.Buffer
	enc := json.NewEncoder(&js)
	enc.SetEscapeHTML(false) // the Mermaid source keeps its <br/>
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	files := []emit.File{
		{Path: MarkdownPath, Data: markdown(in.Journey, r)},
		{Path: JSONPath, Data: indentJSON(make([]byte, 0, 2*js.Len()), js.Bytes(), "  ")},
	}
	if chart != nil {
		files = append(files, emit.File{Path: ChartPath, Data: chart})
	}
	return files, nil
}

// indentJSON appends to dst what json.Indent(dst, src, "", indent) does
// for src written by encoding/json (compact, valid): the Encoder's own
// indentation runs json's scanner over every byte, most of the cost of
// writing report.json. Outside strings each brace, bracket, comma and
// colon is spaced as Indent spaces it, an empty object or array staying
// {} or []; a string is copied as it is.
func indentJSON(dst, src []byte, indent string) []byte {
	newline := func(depth int) {
		dst = append(dst, '\n')
		for range depth {
			dst = append(dst, indent...)
		}
	}
	needIndent := false
	depth := 0
	for i := 0; i < len(src); i++ {
		c := src[i]
		if needIndent && c != '}' && c != ']' {
			needIndent = false
			depth++
			newline(depth)
		}
		switch c {
		case '"':
			// the string up to its closing quote, escapes skipped
			j := i + 1
			for ; j < len(src) && src[j] != '"'; j++ {
				if src[j] == '\\' {
					j++
				}
			}
			dst = append(dst, src[i:min(j+1, len(src))]...)
			i = j
		case '{', '[':
			// the indent waits, so that an empty one is written {} or []
			needIndent = true
			dst = append(dst, c)
		case ',':
			dst = append(dst, c)
			newline(depth)
		case ':':
			dst = append(dst, c, ' ')
		case '}', ']':
			if needIndent {
				needIndent = false
			} else {
				depth--
				newline(depth)
			}
			dst = append(dst, c)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// build assembles report.json's content.
func build(j *model.Journey, res *v1alpha1.JourneyResult) *Report {
	return &Report{
		APIVersion:  APIVersion,
		Kind:        Kind,
		Result:      *res,
		Assumptions: assumptions(j, res),
		Provenance:  provenance(j, res),
		Mermaid:     flowchart(j, res),
	}
}

func assumptions(j *model.Journey, res *v1alpha1.JourneyResult) Assumptions {
	a := Assumptions{
		Mode:          res.Mode,
		Model:         modelSentence(res),
		Confidence:    res.Confidence,
		DecisionBound: decisionBound(res),
		Invocations:   []Invocation{},
		Domains:       []Domain{},
	}
	calls := j.Flow.Calls()
	retried := retriedComponents(j.Flow)
	for _, n := range j.ComponentNames() {
		if calls[n] < 2 && !retried[n] {
			continue
		}
		// A declared model holds in every scenario; the result lists only
		// the unknown ones that the scenario attaining A- takes persistent.
		declared := invocationModel(j.Components[n].Invocations)
		pess := declared
		if declared == v1alpha1.InvocationsUnknown {
			pess = v1alpha1.InvocationsTransient
			if slices.Contains(res.Availability.Persistent, n) {
				pess = v1alpha1.InvocationsPersistent
			}
		}
		a.Invocations = append(a.Invocations, Invocation{Component: n, Calls: calls[n], Retried: retried[n], Model: declared, Pessimistic: pess})
	}
	for _, n := range j.DomainNames() {
		d := j.Domains[n]
		src := d.Source
		if src == "" {
			src = "declared"
		}
		a.Domains = append(a.Domains, Domain{Name: n, Description: d.Description, Source: src, Key: d.Key, Members: d.Members})
	}
	return a
}

// modelSentence says which model was evaluated.
func modelSentence(res *v1alpha1.JourneyResult) string {
	if res.Mode == "contract" || res.Mode == "" {
		return fmt.Sprintf("the spec as written is the accepted model (confidence %s): no evidence was checked against it", p8(res.Confidence))
	}
	return fmt.Sprintf("the accepted model with its evidence (confidence %s)", p8(res.Confidence))
}

// decisionBound is the bound the decision used, pessimistic by default.
func decisionBound(res *v1alpha1.JourneyResult) string {
	if res.Availability.Bound == "" {
		return v1alpha1.BoundPessimistic
	}
	return res.Availability.Bound
}

// retriedComponents are the components called under a retry of more than
// one attempt.
func retriedComponents(n *model.Node) map[string]bool {
	out := map[string]bool{}
	n.Walk(func(x *model.Node) {
		if x.Op == model.Retry && x.Attempts > 1 {
			for c := range x.Calls() {
				out[c] = true
			}
		}
	})
	return out
}

func invocationModel(i model.Invocations) string {
	switch i {
	case model.InvocationsTransient:
		return v1alpha1.InvocationsTransient
	case model.InvocationsPersistent:
		return v1alpha1.InvocationsPersistent
	}
	return v1alpha1.InvocationsUnknown
}

// provenance lists where each number of the result comes from.
func provenance(j *model.Journey, res *v1alpha1.JourneyResult) []Provenance {
	var out []Provenance
	add := func(field string, v *float64, src string) {
		out = append(out, Provenance{Field: field, Value: v, Source: src})
	}
	val := func(v float64) *float64 { return &v }
	av := res.Availability
	bound := v1alpha1.BoundSymbol(decisionBound(res))
	target := p8(av.Target)

	objective := "the journey's availability objective"
	if j.Source != "" {
		objective += " in " + j.Source
	}
	add("confidence", val(res.Confidence), modelSentence(res))
	add("availability.target", val(av.Target), objective)
	add("availability.optimistic", val(av.Optimistic), "computed by emac: the journey's success probability with every failure domain independent and every component transient, evaluated exactly")
	pess := fmt.Sprintf("computed by emac (%s): the minimum over the failure-domain and invocation scenarios", methodOf(av))
	if av.Scenarios > 0 {
		pess += fmt.Sprintf(", %d evaluated", av.Scenarios)
	}
	if !av.Exact {
		pess += "; a region beyond the exact budget took the positive-dependence bound, so this is a sound lower bound"
	}
	pess += "; " + scenarioSentence(av)
	add("availability.pessimistic", val(av.Pessimistic), pess)
	add("availability.floor", val(av.Floor), "computed by emac: the Fréchet bound composed bottom-up, with no independence assumed")

	if lat := res.Latency; lat != nil {
		add("latency.percentile", val(lat.Percentile), "the journey's latency objective")
		add("latency.threshold", val(lat.Threshold), "the journey's latency objective, in seconds")
		if lat.Independent != nil {
			add("latency.independent", lat.Independent, "computed by emac: the latency quantile with independent components")
		}
		if lat.Upper != nil {
			add("latency.upper", lat.Upper, "computed by emac: the dependence-free upper bound on the latency quantile")
		}
		if lat.Within != nil {
			add("latency.within", lat.Within, "computed by emac: P(L ≤ threshold | success) with independent calls, on the lattice")
		}
		for _, q := range lat.Quantiles {
			k := fmt.Sprintf("latency.quantiles[p%s]", strconv.FormatFloat(q.Level*100, 'f', -1, 64))
			add(k+".independent", val(q.Independent), fmt.Sprintf("computed by emac: composed on a lattice of step %s, within ±%s", seconds(lat.Resolution), seconds(lat.Error)))
			add(k+".upper", val(q.Upper), "computed by emac: the standard (Makarov/Fréchet) bounds composed over the flow, on a lattice rounding up")
		}
	}
	for _, c := range res.Contributors {
		add("contributors["+c.Component+"].importance", val(c.Importance),
			fmt.Sprintf("computed by emac: Birnbaum importance ∂%s/∂a of %s in the scenario attaining %s", bound, c.Component, bound))
		add("contributors["+c.Component+"].share", val(c.Share), "computed by emac: importance × (1 − availability), normalised over the components")
	}
	for _, r := range res.Required {
		if r.Availability == nil {
			add("required["+r.Component+"].availability", nil,
				fmt.Sprintf("computed by emac: infeasible, %s stays below %s even with %s always up", bound, target, r.Component))
			continue
		}
		add("required["+r.Component+"].availability", val(*r.Availability), "computed by emac: "+requiredMethod(bound, r.Component, target))
	}
	for _, d := range res.Domains {
		add("domains["+d.Name+"].loss", val(d.Loss), fmt.Sprintf("computed by emac: A+ − A(only %s shared)", d.Name))
		if d.Required == nil {
			add("domains["+d.Name+"].required", nil,
				fmt.Sprintf("computed by emac: infeasible, %s stays below %s even if %s never fails as a whole", bound, target, d.Name))
			continue
		}
		add("domains["+d.Name+"].required", d.Required,
			fmt.Sprintf("computed by emac: a bracketing search (to 1e-10) on %s over the common-cause availability (1 − c) of %s for the smallest keeping %s ≥ %s, rounded up at the 10th decimal", bound, d.Name, bound, target))
	}
	for _, c := range res.Components {
		add("components["+c.Name+"].availability", val(c.Availability), componentSource(res.Mode, c.Source))
	}
	return out
}

// requiredMethod says how a feasible required target was found.
func requiredMethod(bound, comp, target string) string {
	s := fmt.Sprintf("a bracketing search (to 1e-10) on %s for the smallest availability of %s keeping %s ≥ %s, the other components unchanged, rounded up at the 10th decimal", bound, comp, bound, target)
	if bound == "A-" {
		s += "; each step evaluates the scenario binding at the candidate and one full minimisation confirms the answer"
	}
	return s
}

// componentSource says where a component's availability comes from.
func componentSource(mode, src string) string {
	what := "SLO target"
	if mode == "observed" {
		what = "measured ratio"
	}
	switch src {
	case "":
		return what + " given with the journey (no source recorded)"
	case "spec":
		return what + " stated inline in the spec (components.<name>.slo)"
	}
	return what + " from " + src
}

func methodOf(av v1alpha1.AvailabilityResult) string {
	if av.Method != "" {
		return av.Method
	}
	if av.Exact {
		return "exact"
	}
	return "sound-bound"
}

// scenarioSentence names the scenario attaining A-.
func scenarioSentence(av v1alpha1.AvailabilityResult) string {
	var parts []string
	if len(av.Binding) > 0 {
		parts = append(parts, join(av.Binding)+" shared")
	}
	if len(av.Persistent) > 0 {
		parts = append(parts, join(av.Persistent)+" persistent")
	}
	if len(parts) == 0 {
		return "attained with every domain independent and every component transient (no domain binds)"
	}
	return "attained with " + strings.Join(parts, " and ")
}
