package prometheus

import (
	"fmt"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/emac-dev/emac/api/v1alpha1"
)

// Canary recording: per measured component, its error ratio and calls
// over CanaryWindow, broken down by emac_canary, the canary a pod belongs to,
// read from the label that tells canary pods apart (one rule per label of
// Plan.CanaryLabels, marked emac_canary_by). Gates read them, so that one
// gate serves every component of a journey, and match the canary by
// equality.
const (
	CanaryErrorRatio = "emac:component_canary_error:ratio_window5m"
	CanaryCalls      = "emac:component_canary_calls:window5m"
	LabelBy          = "emac_canary_by"
	LabelCanary      = "emac_canary"
	CanaryWindow     = 5 * time.Minute
)

// Canary labels: the pod template hash Argo Rollouts puts on canary pods,
// and the pod name Flagger's canaries are matched on.
const (
	ArgoCanaryLabel    = "rollouts_pod_template_hash"
	FlaggerCanaryLabel = "pod"
)

// canaryOf is the pattern that reads a canary from its label: Argo's hash
// as it is; from a pod name, its workload — the name less the ReplicaSet
// hash and pod suffix, which is what Flagger's own templates match
// ({{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)), so that a Canary's target
// equals it for the canary's pods and never for the primary's.
var canaryOf = map[string]string{
	ArgoCanaryLabel:    "(.+)",
	FlaggerCanaryLabel: "(.+)-[0-9a-zA-Z]+-[0-9a-zA-Z]+",
}

// CanaryLabels are the labels the journey's canaries are told apart by:
// its rollout provider's, or both when the spec names none. Recording by
// pod costs a series per pod, so it is only done for Flagger.
func (p *Plan) CanaryLabels() []string {
	switch p.Journey.Policy.Rollout {
	case v1alpha1.ProviderArgoRollouts:
		return []string{ArgoCanaryLabel}
	case v1alpha1.ProviderFlagger:
		return []string{FlaggerCanaryLabel}
	}
	return []string{ArgoCanaryLabel, FlaggerCanaryLabel}
}

// canaryRules records a component's canary errors and calls.
//
// The rules of every component are one text around the component's own
// queries, which the Prometheus printer wrote from a parsed tree: the
// first component's rules for each canary label and kind of query are
// parsed when the file is (templates records which), the others are not.
func (p *Plan) canaryRules(comp string, rs *ratios, jl func(...string) map[string]string, templates map[string]bool) ([]Rule, error) {
	var out []Rule
	for _, by := range p.CanaryLabels() {
		total, err := rs.total.grouped(CanaryWindow, by)
		if err != nil {
			return nil, fmt.Errorf("total query: %w", err)
		}
		canary := func(q string) string {
			return fmt.Sprintf("sum by (%s) (label_replace(%s, %q, \"$1\", %q, %q))", LabelCanary, q, LabelCanary, by, canaryOf[by])
		}
		// the ratio divides by the calls just recorded, so that the total
		// query is evaluated once
		calls := fmt.Sprintf("on(%s) %s", LabelCanary, Selector(CanaryCalls, LabelJourney, p.Journey.Name, LabelComponent, comp, LabelBy, by))
		var ratio string
		if rs.bad != nil {
			bad, err := rs.bad.grouped(CanaryWindow, by)
			if err != nil {
				return nil, fmt.Errorf("bad query: %w", err)
			}
			ratio = canary(bad) + " / " + calls
		} else {
			good, err := rs.good.grouped(CanaryWindow, by)
			if err != nil {
				return nil, fmt.Errorf("good query: %w", err)
			}
			ratio = "1 - (" + canary(good) + " / " + calls + ")"
		}
		labels := jl(LabelComponent, comp, LabelBy, by)
		template := fmt.Sprintf("%s/%t", by, rs.bad != nil)
		seen := templates[template]
		templates[template] = true
		out = append(out,
			Rule{Record: CanaryCalls, Expr: canary(total), Labels: labels, checked: seen},
			Rule{Record: CanaryErrorRatio, Expr: ratio, Labels: labels, checked: seen})
	}
	return out, nil
}

// GateOptions say how a gate finds the canary.
type GateOptions struct {
	// By is the canary label (one of Plan.CanaryLabels) and Canary the
	// canary's emac_canary, usually a placeholder: the pod template hash
	// "{{args.canary-hash}}", or Flagger's "{{ target }}".
	By     string
	Canary string
	// Component is the canary's component, usually a placeholder the gate
	// fills in, e.g. "{{args.component}}".
	Component string
	// MinCalls is the least canary call volume over the window (a number or
	// a placeholder).
	MinCalls string
	// Base is the window of the other components' recorded ratios.
	Base time.Duration
}

// gateLeaves reads each component from its canary when it is the one
// named by the gate, and from its recorded ratio otherwise: a selector
// holds two matchers on emac_component, the component's name and the
// gate's placeholder, so it matches only when the two are equal.
type gateLeaves struct {
	p *Plan
	o GateOptions
}

func (l gateLeaves) By() string { return "" }

func (l gateLeaves) Const(v float64) string { return "vector(" + number(v) + ")" }

func (l gateLeaves) canary(metric string, comp matcher) string {
	return selector(metric, eq(LabelJourney, l.p.Journey.Name), comp, eq(LabelComponent, l.o.Component), eq(LabelBy, l.o.By), eq(LabelCanary, l.o.Canary))
}

// ratio is the canary's recorded error ratio: errors over calls of its
// pods.
func (l gateLeaves) ratio(comp matcher) string { return l.canary(CanaryErrorRatio, comp) }

func (l gateLeaves) Avail(c string) string {
	if !l.p.Measured[c] {
		return number(l.p.Journey.Components[c].Availability)
	}
	me := eq(LabelComponent, c)
	rec := Selector(ComponentErrorRatio+Window(l.o.Base), LabelJourney, l.p.Journey.Name, LabelComponent, c)
	return fmt.Sprintf("(1 - sum(%s or on() %s))", l.ratio(me), rec)
}

// Up is the largest of the members' recorded availabilities, the canary's
// excluded, and the canary's own when it is a member.
func (l gateLeaves) Up(comps []string) string {
	if !l.p.measuredAll(comps) {
		return ""
	}
	in := anyOf(comps)
	rec := selector(ComponentErrorRatio+Window(l.o.Base),
		eq(LabelJourney, l.p.Journey.Name), in, matcher{LabelComponent, labels.MatchNotEqual, l.o.Component})
	return fmt.Sprintf("max((1 - %s) or label_replace(1 - sum(%s), %q, \"canary\", \"\", \"\"))", rec, l.ratio(in), LabelComponent)
}

// Gate writes the gate query of the journey, parsed: its pessimistic
// availability with the named component's calls taken from its canary. It has no sample
// when the canary made at most MinCalls calls, or when the placeholder
// names no measured component of the journey, so that a gate reads "no
// data" then, never success.
func (p *Plan) Gate(o GateOptions) (string, error) {
	if len(p.Measured) == 0 {
		return "", fmt.Errorf("no component has telemetry: a canary cannot be measured")
	}
	l := gateLeaves{p: p, o: o}
	calls := l.canary(CanaryCalls, matcher{LabelComponent, labels.MatchRegexp, ".+"})
	q := fmt.Sprintf("(%s) and on() (sum(%s) > ", vector(p.pessimistic, l), calls)
	// the placeholders of By, Canary and Component stand in label values,
	// where any text parses; MinCalls stands for a number. One gate per
	// base window is parsed: the others differ in label values only.
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.gateChecked[o.Base] {
		if err := check("the gate", q+"0)"); err != nil {
			return "", err
		}
		if p.gateChecked == nil {
			p.gateChecked = map[time.Duration]bool{}
		}
		p.gateChecked[o.Base] = true
	}
	return q + o.MinCalls + ")", nil
}
