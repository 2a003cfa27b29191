// Package prometheus emits a journey's Prometheus rules (SPEC §6): per
// component error ratios over every window, the journey SLI for both
// bounds synthesised from them as PromQL, metadata series, multi-window
// multi-burn-rate alerts, per-component alerts on the required targets and
// an absent-data alert; the same groups as a PrometheusRule object; and
// promtool unit tests proving the alerts.
//
// Rules stay within what Prometheus 2.42 (Debian's) accepts: no group
// labels, no query offsets.
package prometheus

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/bounds"
	"github.com/emac-dev/emac/internal/emit"
	"github.com/emac-dev/emac/internal/emit/yamlw"
	"github.com/emac-dev/emac/internal/model"
)

// StandardWindows are recorded for every journey, with the objective's
// window and any window the alerting policy names.
var StandardWindows = []time.Duration{
	5 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour, 24 * time.Hour, 72 * time.Hour,
}

const day = 24 * time.Hour

// MaxFormula bounds the size of the pessimistic formula the rules write
// out exactly (expression nodes; a shared group's availability counts one,
// it is recorded once). Beyond it, regions take the independent and the
// contract-binding scenario only, and the metadata says so.
const MaxFormula = 3000

// DefaultPage and DefaultTicket are the SRE Workbook's burn-rate pairs for
// a 30-day objective; for another window the factors scale with it, so
// that each pair still spends the same share of the budget (2% in 1h, 5%
// in 6h, 10% in 1d, 10% in 3d).
var (
	DefaultPage   = []model.BurnRateWindow{{BurnRate: 14.4, LongWindow: time.Hour, ShortWindow: 5 * time.Minute}, {BurnRate: 6, LongWindow: 6 * time.Hour, ShortWindow: 30 * time.Minute}}
	DefaultTicket = []model.BurnRateWindow{{BurnRate: 3, LongWindow: day, ShortWindow: 2 * time.Hour}, {BurnRate: 1, LongWindow: 3 * day, ShortWindow: 6 * time.Hour}}
)

// Alert names.
const (
	AlertBurn     = "EmacJourneyErrorBudgetBurn"
	AlertRequired = "EmacComponentBelowRequiredTarget"
	AlertAbsent   = "EmacJourneyDataAbsent"
)

// File is a Prometheus rule file.
type File struct {
	Groups []Group `yaml:"groups"`
}

// Group is a rule group.
type Group struct {
	Name  string `yaml:"name"`
	Rules []Rule `yaml:"rules"`
}

// Rule is a recording or alerting rule.
type Rule struct {
	Record      string            `yaml:"record,omitempty"`
	Alert       string            `yaml:"alert,omitempty"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`

	// checked says the expression was parsed when it was built, or is
	// one of a family that was (see Plan.Rules)
	checked bool
}

// Plan is everything the rules of one journey are made of; the tests and
// the rollout gates read it too.
type Plan struct {
	Journey *model.Journey
	// Windows recorded, ascending.
	Windows []time.Duration
	// Measured lists the components with telemetry: their availability
	// comes from their recorded error ratio. The others enter the formulas
	// at their SLO target.
	Measured map[string]bool
	Formulas *bounds.Formulas
	Page     []model.BurnRateWindow
	Ticket   []model.BurnRateWindow
	// Required holds the feasible required targets of measured components.
	Required map[string]float64
	// Result is the contract-mode check result, for the metadata series.
	Result *v1alpha1.JourneyResult

	// shared is what the plans of journeys compiled together share
	shared *emit.Shared
	// the formulas with unmeasured components folded into numbers: what
	// the rules and gates write
	optimistic, pessimistic *bounds.Expr
	alerting                []Group             // the alert group, once Rules has built it
	ratioSeries             map[string][]string // component → its error ratios' selectors, the tests' inputs

	mu sync.Mutex
	// gates whose text was parsed, by base window: gates differ otherwise
	// only in label values, which the Prometheus printer escapes
	gateChecked map[time.Duration]bool
}

type planKey struct{}

// PlanOf is the input's plan, prepared once for every emitter reading it.
func PlanOf(ctx context.Context, in *emit.Input) (*Plan, error) {
	p, err := in.Memo(planKey{}, func() (any, error) { return NewPlan(ctx, in) })
	if err != nil {
		return nil, err
	}
	return p.(*Plan), nil
}

// NewPlan prepares the rules of a journey.
func NewPlan(ctx context.Context, in *emit.Input) (*Plan, error) {
	j := in.Journey
	f := in.Formulas
	if f == nil {
		var err error
		if f, err = bounds.Formula(ctx, j, bounds.FormulaOptions{MaxSize: MaxFormula}); err != nil {
			return nil, err
		}
	}
	p := &Plan{Journey: j, Formulas: f, Measured: map[string]bool{}, Required: map[string]float64{}, Result: in.Result, shared: in.Shared}
	obj := objectiveWindow(j)
	p.Page, p.Ticket = j.Policy.Page, j.Policy.Ticket
	if len(p.Page) == 0 {
		p.Page = scaled(DefaultPage, obj)
	}
	if len(p.Ticket) == 0 {
		p.Ticket = scaled(DefaultTicket, obj)
	}
	ws := append(slices.Clone(StandardWindows), obj)
	for _, b := range append(slices.Clone(p.Page), p.Ticket...) {
		ws = append(ws, b.LongWindow, b.ShortWindow)
	}
	slices.Sort(ws)
	p.Windows = slices.Compact(ws)
	for _, n := range j.ComponentNames() {
		if t := j.Components[n].Telemetry; t != nil && t.Total != "" && (t.Good != "" || t.Bad != "") {
			p.Measured[n] = true
		}
	}
	fixed := func(c string) (float64, bool) { return j.Components[c].Availability, !p.Measured[c] }
	p.optimistic, p.pessimistic = f.Optimistic.Fold(fixed), f.Pessimistic.Fold(fixed)
	if in.Result != nil {
		for _, q := range in.Result.Required {
			if q.Availability != nil && p.Measured[q.Component] {
				p.Required[q.Component] = *q.Availability
			}
		}
	}
	return p, nil
}

func objectiveWindow(j *model.Journey) time.Duration {
	if j.Objective.Window > 0 {
		return j.Objective.Window
	}
	return 30 * day
}

func scaled(ws []model.BurnRateWindow, window time.Duration) []model.BurnRateWindow {
	out := slices.Clone(ws)
	for i := range out {
		out[i].BurnRate = round(out[i].BurnRate * float64(window) / float64(30*day))
	}
	return out
}

// round keeps scaled factors free of float noise (14.4·7/30 = 3.36).
func round(v float64) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 10, 64), 64)
	return f
}

// ratios writes the error ratio of a component's or journey's telemetry
// over any window, each query parsed once. Like its windowers, it is
// shared by the journeys reading the same telemetry, and safe for
// concurrent use.
type ratios struct {
	good, bad, total *windower

	mu  sync.Mutex
	ats map[time.Duration]string
	// checked says the ratio was parsed whole (at one window: the others
	// are the same text with other durations in it)
	checked bool
}

// ratiosKey names a telemetry's ratios in emit.Shared.
type ratiosKey struct{ good, bad, total string }

// ratiosOf is the ratios of t, made once for every journey compiled with
// p's.
func (p *Plan) ratiosOf(t *model.Telemetry) (*ratios, error) {
	r, err := p.shared.Memo(ratiosKey{t.Good, t.Bad, t.Total}, func() (any, error) { return newRatios(t) })
	if err != nil {
		return nil, err
	}
	return r.(*ratios), nil
}

func newRatios(t *model.Telemetry) (*ratios, error) {
	var r ratios
	var err error
	if r.total, err = newWindower(t.Total); err != nil {
		return nil, fmt.Errorf("total query: %w", err)
	}
	if t.Bad != "" {
		if r.bad, err = newWindower(t.Bad); err != nil {
			return nil, fmt.Errorf("bad query: %w", err)
		}
		return &r, nil
	}
	if r.good, err = newWindower(t.Good); err != nil {
		return nil, fmt.Errorf("good query: %w", err)
	}
	return &r, nil
}

// at is the error ratio over w.
func (r *ratios) at(w time.Duration) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.ats[w]; ok {
		return s
	}
	var s string
	if r.bad != nil {
		s = "sum(" + r.bad.at(w) + ") / sum(" + r.total.at(w) + ")"
	} else {
		s = "1 - (sum(" + r.good.at(w) + ") / sum(" + r.total.at(w) + "))"
	}
	if r.ats == nil {
		r.ats = map[time.Duration]string{}
	}
	r.ats[w] = s
	return s
}

// check parses the ratio over w, once.
func (r *ratios) check(what string, w time.Duration) error {
	s := r.at(w)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.checked {
		return nil
	}
	if err := check(what, s); err != nil {
		return err
	}
	r.checked = true
	return nil
}

// leaves reads availabilities from the per-window availability series:
// each leaf is a vector with one sample per window, labelled emac_window,
// so that a formula written once computes every window. Unmeasured
// components are constants.
type leaves struct{ p *Plan }

func (l leaves) Avail(c string) string {
	if !l.p.Measured[c] {
		return number(l.p.Journey.Components[c].Availability)
	}
	return "sum by (" + LabelWindow + ") (" + Selector(ComponentAvailability, LabelJourney, l.p.Journey.Name, LabelComponent, c) + ")"
}

// Up reads the group's recorded availability.
func (l leaves) Up(comps []string) string {
	if !l.p.measuredAll(comps) {
		return ""
	}
	return "sum by (" + LabelWindow + ") (" + Selector(GroupAvailability, LabelJourney, l.p.Journey.Name, LabelGroup, groupKey(comps)) + ")"
}

func (l leaves) By() string { return LabelWindow }

// Const is v in every window there is data for, or in every window when
// no component is measured (the formulas are then constants).
func (l leaves) Const(v float64) string {
	if len(l.p.Measured) == 0 {
		ws := make([]string, len(l.p.Windows))
		for i, w := range l.p.Windows {
			ws[i] = fmt.Sprintf("label_replace(vector(%s), %q, %q, \"\", \"\")", number(v), LabelWindow, Window(w))
		}
		return "(" + strings.Join(ws, " or ") + ")"
	}
	return fmt.Sprintf("(0 * count by (%s) (%s) + %s)", LabelWindow, Selector(ComponentAvailability, LabelJourney, l.p.Journey.Name), number(v))
}

// groupKey is a group's label value: its members, each quoted, so that no
// two groups share one whatever their names hold.
func groupKey(comps []string) string {
	q := make([]string, len(comps))
	for i, c := range comps {
		q[i] = strconv.Quote(c)
	}
	return strings.Join(q, ",")
}

// MeasuredComponents lists the measured components, sorted: those a
// canary can be gated on.
func (p *Plan) MeasuredComponents() []string {
	return slices.Sorted(maps.Keys(p.Measured))
}

// measuredAll reports whether every component is measured.
func (p *Plan) measuredAll(comps []string) bool {
	for _, c := range comps {
		if !p.Measured[c] {
			return false
		}
	}
	return true
}

// groups lists the member sets of the formulas' shared groups whose
// availability is recorded (every member measured), sorted.
func (p *Plan) groups() [][]string {
	seen := map[string][]string{}
	var walk func(*bounds.Expr)
	walk = func(x *bounds.Expr) {
		if x.Op == bounds.ExprUp && p.measuredAll(x.Comps) {
			seen[groupKey(x.Comps)] = x.Comps
		}
		for _, y := range x.Args {
			walk(y)
		}
	}
	walk(p.optimistic)
	walk(p.pessimistic)
	keys := slices.Sorted(maps.Keys(seen))
	out := make([][]string, len(keys))
	for i, k := range keys {
		out[i] = seen[k]
	}
	return out
}

// formula is the folded formula of a bound ("optimistic" or
// "pessimistic").
func (p *Plan) formula(bound string) *bounds.Expr {
	if bound == "optimistic" {
		return p.optimistic
	}
	return p.pessimistic
}

// Rules builds the rule file.
func (p *Plan) Rules() (*File, error) {
	j := p.Journey
	jl := func(kv ...string) map[string]string {
		m := map[string]string{LabelJourney: j.Name}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	var rec []Rule
	canaryTemplates := map[string]bool{}
	for _, n := range j.ComponentNames() {
		if !p.Measured[n] {
			continue
		}
		rs, err := p.ratiosOf(j.Components[n].Telemetry)
		if err != nil {
			return nil, fmt.Errorf("component %s: %w", n, err)
		}
		// the windows' rules have the same labels: one map, which
		// nothing writes to after
		labels := jl(LabelComponent, n)
		// one window's ratio is parsed: the others are the same text
		// with other durations the Prometheus printer (or the query's own
		// {{.window}} placeholder, parsed with a duration in it) wrote
		for i, w := range p.Windows {
			r := Rule{Record: ComponentErrorRatio + Window(w), Expr: rs.at(w), Labels: labels, checked: true}
			if i == 0 {
				if err := rs.check(r.Record, w); err != nil {
					return nil, err
				}
			}
			rec = append(rec, r)
		}
		cr, err := p.canaryRules(n, rs, jl, canaryTemplates)
		if err != nil {
			return nil, fmt.Errorf("component %s: %w", n, err)
		}
		rec = append(rec, cr...)
	}
	// the formulas read every window at once: availabilities labelled
	// by window, then the formulas, then each window's SLI read back
	if len(p.Measured) > 0 {
		for _, w := range p.Windows {
			rec = append(rec, Rule{Record: ComponentAvailability,
				Expr:   "1 - " + Selector(ComponentErrorRatio+Window(w), LabelJourney, j.Name),
				Labels: jl(LabelWindow, Window(w))})
		}
	}
	for _, g := range p.groups() {
		members := selector(ComponentAvailability, eq(LabelJourney, j.Name), anyOf(g))
		rec = append(rec, Rule{Record: GroupAvailability, Expr: "max by (" + LabelWindow + ") (" + members + ")", Labels: jl(LabelGroup, groupKey(g))})
	}
	for _, b := range []string{"optimistic", "pessimistic"} {
		rec = append(rec, Rule{Record: JourneyAvailability, Expr: vector(p.formula(b), leaves{p}), Labels: jl(LabelBound, b)})
	}
	var measured *ratios
	if t := j.Telemetry; t != nil && t.Total != "" && (t.Good != "" || t.Bad != "") {
		var err error
		if measured, err = p.ratiosOf(t); err != nil {
			return nil, fmt.Errorf("journey telemetry: %w", err)
		}
	}
	for _, w := range p.Windows {
		rec = append(rec, Rule{Record: JourneyErrorRatio + Window(w),
			Expr:   fmt.Sprintf("1 - sum without (%s) (%s)", LabelWindow, Selector(JourneyAvailability, LabelJourney, j.Name, LabelWindow, Window(w))),
			Labels: jl()})
		if measured != nil {
			rec = append(rec, Rule{Record: JourneyErrorRatio + Window(w), Expr: measured.at(w), Labels: jl(LabelBound, "measured")})
		}
	}
	meta := p.metadata(jl)
	alerts := p.alerts(jl)
	f := &File{Groups: []Group{
		{Name: "emac-" + j.Name + "-sli", Rules: rec},
		{Name: "emac-" + j.Name + "-metadata", Rules: meta},
		{Name: "emac-" + j.Name + "-alerts", Rules: alerts},
	}}
	// a copy: the plan outlives the file, whose recording rules are
	// most of a journey's rules
	p.alerting = slices.Clone(f.Groups[2:])
	return f, nil
}

// metadata records what dashboards need without the spec: the objective
// and budget, the bounds at the spec's values, required targets, and the
// decision.
func (p *Plan) metadata(jl func(...string) map[string]string) []Rule {
	j := p.Journey
	r := []Rule{
		{Record: "emac:journey_objective:ratio", Expr: vec(j.Objective.Availability), Labels: jl("emac_window", Window(objectiveWindow(j)))},
		{Record: "emac:journey_error_budget:ratio", Expr: vec(round(1 - j.Objective.Availability)), Labels: jl()},
	}
	if a := p.analysis(); a != nil {
		r = append(r,
			Rule{Record: "emac:journey_availability_contract:ratio", Expr: vec(a.optimistic), Labels: jl(LabelBound, "optimistic")},
			Rule{Record: "emac:journey_availability_contract:ratio", Expr: vec(a.pessimistic), Labels: jl(LabelBound, "pessimistic")},
			Rule{Record: "emac:journey_availability_contract:ratio", Expr: vec(a.floor), Labels: jl(LabelBound, "floor")},
			Rule{Record: "emac:journey_info", Expr: "vector(1)", Labels: jl("emac_decision", a.decision, "emac_binding", strings.Join(a.binding, ","),
				"emac_formula", map[bool]string{true: "exact", false: "approximate"}[p.Formulas.Exact])},
		)
		// a vector of a number, as the rules above, which are parsed
		for _, c := range j.ComponentNames() {
			if v, ok := a.required[c]; ok {
				r = append(r, Rule{Record: "emac:component_required:ratio", Expr: vec(v), Labels: jl(LabelComponent, c), checked: true})
			}
		}
	}
	return r
}

type contract struct {
	optimistic, pessimistic, floor float64
	decision                       string
	binding                        []string
	required                       map[string]float64
}

func (p *Plan) analysis() *contract {
	if p.Result == nil {
		return nil
	}
	r := p.Result
	c := &contract{optimistic: r.Availability.Optimistic, pessimistic: r.Availability.Pessimistic, floor: r.Availability.Floor,
		decision: r.Decision, binding: r.Availability.Binding, required: map[string]float64{}}
	for _, q := range r.Required {
		if q.Availability != nil {
			c.required[q.Component] = *q.Availability
		}
	}
	return c
}

func vec(v float64) string { return "vector(" + number(v) + ")" }

func (p *Plan) alerts(jl func(...string) map[string]string) []Rule {
	j := p.Journey
	budget := round(1 - j.Objective.Availability)
	sel := func(w time.Duration) string {
		return Selector(JourneyErrorRatio+Window(w), LabelJourney, j.Name, LabelBound, "pessimistic")
	}
	burn := func(ws []model.BurnRateWindow) string {
		var terms []string
		for _, b := range ws {
			th := number(round(b.BurnRate * budget))
			terms = append(terms, fmt.Sprintf("(%s > %s and %s > %s)", sel(b.LongWindow), th, sel(b.ShortWindow), th))
		}
		return strings.Join(terms, " or ")
	}
	describe := func(ws []model.BurnRateWindow) string {
		var s []string
		for _, b := range ws {
			s = append(s, fmt.Sprintf("%s× over %s and %s", number(b.BurnRate), Window(b.LongWindow), Window(b.ShortWindow)))
		}
		return strings.Join(s, ", or ")
	}
	obj := fmt.Sprintf("%s over %s", number(j.Objective.Availability), Window(objectiveWindow(j)))
	rules := []Rule{
		{Alert: AlertBurn, Expr: burn(p.Page), Labels: jl("severity", "page"), Annotations: map[string]string{
			"summary":     fmt.Sprintf("Journey %s is burning its error budget fast (pessimistic bound)", j.Name),
			"description": fmt.Sprintf("The pessimistic journey SLI burns the budget of the objective %s at %s.", obj, describe(p.Page)),
		}},
		{Alert: AlertBurn, Expr: burn(p.Ticket), Labels: jl("severity", "ticket"), Annotations: map[string]string{
			"summary":     fmt.Sprintf("Journey %s is burning its error budget (pessimistic bound)", j.Name),
			"description": fmt.Sprintf("The pessimistic journey SLI burns the budget of the objective %s at %s.", obj, describe(p.Ticket)),
		}},
	}
	// the alerts of the components are one text but for the label values
	// Selector escapes and the number: the first one is parsed
	first := true
	for _, c := range j.ComponentNames() {
		v, ok := p.Required[c]
		if !ok {
			continue
		}
		th := number(round(1 - v))
		cs := func(w time.Duration) string {
			return Selector(ComponentErrorRatio+Window(w), LabelJourney, j.Name, LabelComponent, c)
		}
		rules = append(rules, Rule{Alert: AlertRequired, checked: !first,
			Expr:   cs(day) + " > " + th + " and " + cs(2*time.Hour) + " > " + th,
			Labels: jl(LabelComponent, c, "severity", "ticket"),
			Annotations: map[string]string{
				"summary":     fmt.Sprintf("%s is below the availability journey %s requires of it", c, j.Name),
				"description": fmt.Sprintf("Over 1d and 2h, %s fails more often than the %s it must reach for %s to meet %s.", c, number(v), j.Name, obj),
			}})
		first = false
	}
	rules = append(rules, Rule{Alert: AlertAbsent, Expr: "absent(" + sel(5*time.Minute) + ")", For: "15m",
		Labels: jl("severity", "ticket"), Annotations: map[string]string{
			"summary":     fmt.Sprintf("No journey SLI for %s", j.Name),
			"description": fmt.Sprintf("The pessimistic journey SLI of %s has no data: a component's error ratio is missing, so its alerts cannot fire.", j.Name),
		}})
	return rules
}

// Emit writes prometheus/rules.yaml, prometheus/prometheusrule.yaml and
// prometheus/rules_test.yaml.
func Emit(in *emit.Input) ([]emit.File, error) {
	p, err := PlanOf(context.Background(), in)
	if err != nil {
		return nil, err
	}
	f, err := p.Rules()
	if err != nil {
		return nil, err
	}
	rules, err := yamlw.Marshal(f)
	if err != nil {
		return nil, err
	}
	// every expression goes through the Prometheus parser: an error is a
	// bug in emac (the file as a whole is checked by rulefmt in the tests
	// and by promtool in CI)
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.checked {
				continue
			}
			if err := check(r.Record+r.Alert, r.Expr); err != nil {
				return nil, err
			}
		}
	}
	head, err := yamlw.Marshal(map[string]any{
		"apiVersion": "monitoring.coreos.com/v1",
		"kind":       "PrometheusRule",
		"metadata": map[string]any{"name": "emac-" + p.Journey.Name, "namespace": in.Namespace,
			"labels": map[string]string{"app.kubernetes.io/managed-by": "emac", LabelJourney: p.Journey.Name}},
	})
	if err != nil {
		return nil, err
	}
	// the spec is the rule file itself, indented: encoding it again would
	// double the emitter's work
	pr := make([]byte, 0, len(head)+len("spec:\n")+len(rules)+2*bytes.Count(rules, []byte("\n")))
	pr = append(append(pr, head...), "spec:\n"...)
	for rest := rules; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line = rest[:i+1]
		}
		if line[0] != '\n' {
			pr = append(pr, "  "...)
		}
		pr, rest = append(pr, line...), rest[len(line):]
	}
	tests, err := p.Tests("rules.yaml")
	if err != nil {
		return nil, err
	}
	tb, err := yamlw.Marshal(tests)
	if err != nil {
		return nil, err
	}
	return []emit.File{
		{Path: "prometheus/rules.yaml", Data: rules},
		{Path: "prometheus/prometheusrule.yaml", Data: pr},
		{Path: "prometheus/rules_test.yaml", Data: tb},
	}, nil
}
