package prometheus

import (
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/emac-dev/emac/internal/model"
)

// Canary is the journey's pessimistic availability with one component's
// calls taken from its canary: the query a rollout gate compares with the
// objective.
type Canary struct {
	Component string
	// Availability is A- with the canary's measured success ratio (over the
	// canary window) in place of the component's; the other components read
	// their recorded error ratios over the base window. It has no sample
	// when the canary sent fewer calls than the gate's minimum, so a gate
	// reads "no data" then, never success.
	Availability string
	// Total is the canary's call volume over the window.
	Total string
}

// canaryLeaves reads one component from its canary.
type canaryLeaves struct {
	leaves
	comp, ratio string
}

// Up is written out when the canary is a member; other groups read their
// recorded availability.
func (l canaryLeaves) Up(comps []string) string {
	if slices.Contains(comps, l.comp) {
		return ""
	}
	return l.leaves.Up(comps)
}

func (l canaryLeaves) Avail(c string) string {
	if c == l.comp {
		return "(1 - (" + l.ratio + "))"
	}
	return l.leaves.Avail(c)
}

// Canary writes the gate query for a measured component: canary selects
// the canary's series (a matcher added to every selector of the
// component's queries, e.g. rollouts_pod_template_hash="{{args.canary-hash}}"),
// window is the canary measurement window, base the window of the other
// components' recorded ratios, and minTotal the least call volume (a PromQL
// number or template placeholder) the gate needs.
func (p *Plan) Canary(comp string, canary *labels.Matcher, window, base time.Duration, minTotal string) (*Canary, error) {
	if !p.Measured[comp] {
		return nil, fmt.Errorf("component %s has no telemetry: a canary cannot be measured", comp)
	}
	t := p.Journey.Components[comp].Telemetry
	sel := func(q string) (string, error) {
		if q == "" {
			return "", nil
		}
		w, err := Windowed(q, window)
		if err != nil {
			return "", err
		}
		return WithMatcher(w, canary)
	}
	var ct model.Telemetry
	var err error
	if ct.Good, err = sel(t.Good); err != nil {
		return nil, err
	}
	if ct.Bad, err = sel(t.Bad); err != nil {
		return nil, err
	}
	if ct.Total, err = sel(t.Total); err != nil {
		return nil, err
	}
	// the canary's queries are already windowed: {{.window}} and ranges
	// are set, so ratio only assembles them
	r, err := ratio(&ct, window)
	if err != nil {
		return nil, err
	}
	l := canaryLeaves{leaves: leaves{p, base}, comp: comp, ratio: r}
	q := fmt.Sprintf("(%s) and on() (sum(%s) > %s)", vector(p.Formulas.Pessimistic, l), ct.Total, minTotal)
	return &Canary{Component: comp, Availability: q, Total: "sum(" + ct.Total + ")"}, nil
}

// MustMatcher builds a label matcher; the names here are emac's own.
func MustMatcher(t labels.MatchType, name, value string) *labels.Matcher {
	return labels.MustNewMatcher(t, name, value)
}
