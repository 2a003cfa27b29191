// Package observe reads a journey's components' live availability from
// Prometheus with the components' own telemetry queries: observed mode
// (SPEC §6) for `emac gate` and `emac serve`.
//
// Per evaluation it sends four instant queries, each covering every
// measured component (one series per component, told apart by an
// emac_component label): the availability over the gate window and over
// the objective window, the calls in the gate window (the total query
// with rate() read as increase()), and the total over the freshness
// window, whose absence says the data stopped coming. A canary replaces a
// component's queries by the same narrowed to the canary's selector.
package observe

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/emit/prometheus"
	"github.com/emac-dev/emac/internal/model"
	"github.com/emac-dev/emac/internal/promapi"
)

// Defaults of Options.
const (
	DefaultWindow    = time.Hour
	DefaultFreshness = 5 * time.Minute
	DefaultMinCalls  = 1
	DefaultTimeout   = 10 * time.Second
)

// Options configure an Observer; the zero value is the default.
type Options struct {
	// Window is the gate window the decision's bounds use (0:
	// DefaultWindow, the base window of the compiled rollout gates).
	Window time.Duration
	// Freshness: a component with no data this recent is stale (0:
	// DefaultFreshness).
	Freshness time.Duration
	// MinCalls is the least number of calls a component must have made in
	// the gate window (0: DefaultMinCalls).
	MinCalls float64
	// Timeout bounds each query (0: DefaultTimeout).
	Timeout time.Duration
	// Transport sends the requests (nil: client_golang's default).
	Transport http.RoundTripper
	// Now gives the evaluation time (nil: time.Now).
	Now func() time.Time
}

// Observer reads components' availability from one Prometheus server.
type Observer struct {
	client *promapi.Client
	opts   Options
}

// New returns an Observer of the server at address (its base URL).
func New(address string, opts Options) (*Observer, error) {
	if opts.Window <= 0 {
		opts.Window = DefaultWindow
	}
	if opts.Freshness <= 0 {
		opts.Freshness = DefaultFreshness
	}
	if opts.MinCalls <= 0 {
		opts.MinCalls = DefaultMinCalls
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c, err := promapi.New(address, opts.Transport, opts.Timeout)
	if err != nil {
		return nil, err
	}
	return &Observer{client: c, opts: opts}, nil
}

// URL is the server's base URL.
func (o *Observer) URL() string { return o.client.URL() }

// Window is the gate window.
func (o *Observer) Window() time.Duration { return o.opts.Window }

// Canary narrows one component's gate-window queries to its canary: every
// series selector of its telemetry gets the Selector's matchers.
type Canary struct {
	Component string
	// Selector is a label selector such as
	// {rollouts_pod_template_hash="5d4f8"} (braces optional).
	Selector string
}

// ParseCanary reads "component=selector", the form of --canary.
func ParseCanary(s string) (Canary, error) {
	comp, sel, ok := strings.Cut(s, "=")
	comp, sel = strings.TrimSpace(comp), strings.TrimSpace(sel)
	if !ok || comp == "" || sel == "" {
		return Canary{}, fmt.Errorf("canary %q: want component=selector, e.g. payments={rollouts_pod_template_hash=\"5d4f8\"}", s)
	}
	c := Canary{Component: comp, Selector: sel}
	if _, err := c.matchers(); err != nil {
		return Canary{}, err
	}
	return c, nil
}

func (c Canary) matchers() ([]*labels.Matcher, error) {
	sel := strings.TrimSpace(c.Selector)
	if !strings.HasPrefix(sel, "{") {
		sel = "{" + sel + "}"
	}
	ms, err := parser.ParseMetricSelector(sel)
	if err != nil {
		return nil, fmt.Errorf("canary %s: selector %s: %w", c.Component, c.Selector, err)
	}
	for _, m := range ms {
		if m.Name == labels.MetricName {
			return nil, fmt.Errorf("canary %s: selector %s names a metric; give labels only", c.Component, c.Selector)
		}
	}
	return ms, nil
}

// CanaryError is a canary that cannot be measured: an unknown component,
// one without telemetry, or a selector that does not parse. It is the
// caller's mistake, not the server's.
type CanaryError struct{ Msg string }

func (e *CanaryError) Error() string { return e.Msg }

// Result is one evaluation.
type Result struct {
	At         time.Time
	Components []v1alpha1.ObservedComponent
	// Measured maps each component whose gate-window availability was
	// read to it; the others keep their SLO target.
	Measured map[string]float64
	// Objective maps components to their availability over the objective
	// window, when read.
	Objective map[string]float64
	// Sufficient says every measured component is ok.
	Sufficient bool
	// Err is set when Prometheus could not be queried at all.
	Err error
}

// kind is one of the four queries.
type kind int

const (
	kindWindow kind = iota
	kindObjective
	kindCalls
	kindFresh
	kinds
)

// Measure reads j's measured components (those whose telemetry gives a
// total and a good or bad query). Components without telemetry keep their
// SLO target, with status contract. Prometheus failing is not an error
// but a Result whose components have status error: missing data decides,
// it does not crash. The error is for bad canaries.
func (o *Observer) Measure(ctx context.Context, j *model.Journey, canaries []Canary) (*Result, error) {
	at := o.opts.Now().UTC()
	res := &Result{At: at, Measured: map[string]float64{}, Objective: map[string]float64{}, Sufficient: true}
	canary := map[string][]*labels.Matcher{}
	selectors := map[string]string{}
	for _, c := range canaries {
		if _, ok := j.Components[c.Component]; !ok {
			return nil, &CanaryError{fmt.Sprintf("canary %s: the journey %s has no such component (it has %s)", c.Component, j.Name, strings.Join(j.ComponentNames(), ", "))}
		}
		if !measured(j.Components[c.Component]) {
			return nil, &CanaryError{fmt.Sprintf("canary %s: the component has no telemetry (good or bad, and total queries) to measure a canary with", c.Component)}
		}
		ms, err := c.matchers()
		if err != nil {
			return nil, &CanaryError{err.Error()}
		}
		canary[c.Component], selectors[c.Component] = ms, c.Selector
	}
	objWindow := j.Objective.Window
	if objWindow <= 0 {
		objWindow = 30 * 24 * time.Hour
	}
	var names []string
	var parts [kinds][]string
	for _, n := range j.ComponentNames() {
		c := j.Components[n]
		if !measured(c) {
			continue
		}
		names = append(names, n)
		for k := range kinds {
			w := o.opts.Window
			switch k {
			case kindObjective:
				w = objWindow
			case kindFresh:
				w = o.opts.Freshness
			}
			ms := canary[n]
			if k == kindObjective {
				ms = nil // the budget's view: the whole component
			}
			q, err := query(c.Telemetry, k, w, ms)
			if err != nil {
				return nil, fmt.Errorf("component %s: %w", n, err)
			}
			parts[k] = append(parts[k], fmt.Sprintf("label_replace(%s, %q, %q, \"\", \"\")", q, labelComponent, n))
		}
	}
	var got [kinds]map[string]float64
	var errs [kinds]error
	if len(names) > 0 {
		done := make(chan struct{}, kinds)
		for k := range kinds {
			go func() {
				got[k], errs[k] = o.query(ctx, strings.Join(parts[k], " or "), at)
				done <- struct{}{}
			}()
		}
		for range kinds {
			<-done
		}
	}
	for _, err := range errs {
		if err != nil {
			res.Err = err // the four fail alike when the server does
			break
		}
	}
	for _, n := range j.ComponentNames() {
		c := j.Components[n]
		oc := v1alpha1.ObservedComponent{Name: n, Target: c.Availability, Availability: c.Availability, Canary: selectors[n]}
		if !slices.Contains(names, n) {
			oc.Status, oc.Detail = v1alpha1.ObservedContract, "no telemetry: its SLO target stands in"
			res.Components = append(res.Components, oc)
			continue
		}
		if v, ok := got[kindObjective][n]; ok {
			res.Objective[n] = v
			oc.ObjectiveAvailability = ptr(v)
		}
		calls, hasCalls := got[kindCalls][n]
		if hasCalls {
			oc.Calls = ptr(calls)
		}
		v, hasV := got[kindWindow][n]
		if hasV {
			oc.Measured = ptr(v)
		}
		_, fresh := got[kindFresh][n]
		who := "the component"
		if oc.Canary != "" {
			who = "the canary " + oc.Canary
		}
		switch {
		case res.Err != nil:
			oc.Status, oc.Detail = v1alpha1.ObservedError, res.Err.Error()
		case !hasV && (!hasCalls || calls == 0):
			oc.Status, oc.Detail = v1alpha1.ObservedNoData, fmt.Sprintf("%s made no calls in the last %s", who, prometheus.Window(o.opts.Window))
		case !hasV:
			oc.Status, oc.Detail = v1alpha1.ObservedNoData, fmt.Sprintf("%s's queries gave no availability over the last %s", who, prometheus.Window(o.opts.Window))
		case !fresh:
			oc.Status, oc.Detail = v1alpha1.ObservedStale, fmt.Sprintf("%s's total query has no data in the last %s", who, prometheus.Window(o.opts.Freshness))
		case !hasCalls || calls < o.opts.MinCalls:
			oc.Status, oc.Detail = v1alpha1.ObservedTooFewCalls, fmt.Sprintf("%s made %s calls in the last %s; at least %s are needed", who, fmtNum(calls), prometheus.Window(o.opts.Window), fmtNum(o.opts.MinCalls))
		default:
			oc.Status = v1alpha1.ObservedOK
		}
		if hasV {
			// even insufficient data moves the bounds shown; the decision
			// is not PASS then
			oc.Availability = v
			res.Measured[n] = v
		}
		if oc.Status != v1alpha1.ObservedOK {
			res.Sufficient = false
		}
		res.Components = append(res.Components, oc)
	}
	return res, nil
}

// labelComponent tells the components' series apart in one answer.
const labelComponent = "emac_component"

// measured says c's telemetry can give an availability.
func measured(c *model.Component) bool {
	t := c.Telemetry
	return t != nil && t.Total != "" && (t.Good != "" || t.Bad != "")
}

// query writes the PromQL of one kind for a component's telemetry over w,
// narrowed by ms.
func query(t *model.Telemetry, k kind, w time.Duration, ms []*labels.Matcher) (string, error) {
	expr := func(q string, calls bool) (string, error) {
		s, err := prometheus.Windowed(q, w)
		if err != nil {
			return "", err
		}
		e, err := parser.ParseExpr(s)
		if err != nil {
			return "", err
		}
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			switch n := n.(type) {
			case *parser.VectorSelector:
				if len(ms) > 0 {
					n.LabelMatchers = append(slices.Clone(n.LabelMatchers), ms...)
				}
			case *parser.Call:
				// a count, not a rate: what the window holds
				if calls && (n.Func.Name == "rate" || n.Func.Name == "irate") {
					n.Func = parser.Functions["increase"]
				}
			}
			return nil
		})
		return "sum(" + e.String() + ")", nil
	}
	total, err := expr(t.Total, k == kindCalls)
	if err != nil {
		return "", fmt.Errorf("total query: %w", err)
	}
	var q string
	switch k {
	case kindCalls, kindFresh:
		q = total
	default:
		if t.Bad != "" {
			bad, err := expr(t.Bad, false)
			if err != nil {
				return "", fmt.Errorf("bad query: %w", err)
			}
			// no error series yet means no errors
			q = "1 - (" + bad + " or vector(0)) / " + total
		} else {
			good, err := expr(t.Good, false)
			if err != nil {
				return "", fmt.Errorf("good query: %w", err)
			}
			q = "(" + good + " or vector(0)) / " + total
		}
		q = "clamp(" + q + ", 0, 1)"
	}
	if _, err := parser.ParseExpr(q); err != nil {
		return "", fmt.Errorf("emac wrote invalid PromQL: %w\n%s", err, q)
	}
	return q, nil
}

// query runs one instant query and returns each component's value; NaN
// (no calls: 0/0) counts as absent.
func (o *Observer) query(ctx context.Context, q string, at time.Time) (map[string]float64, error) {
	vec, _, err := o.client.Vector(ctx, q, at, "prometheus "+o.client.URL())
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, s := range vec {
		v := float64(s.Value)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		out[string(s.Metric[labelComponent])] = v
	}
	return out, nil
}

func ptr(v float64) *float64 { return &v }

func fmtNum(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
