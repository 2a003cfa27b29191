package prometheus

import (
	"fmt"
	"math"
	"time"

	"github.com/emac-dev/emac/internal/model"
)

// TestFile is a `promtool test rules` file.
type TestFile struct {
	RuleFiles          []string   `yaml:"rule_files"`
	EvaluationInterval string     `yaml:"evaluation_interval"`
	Tests              []TestCase `yaml:"tests"`
}

// TestCase is one promtool test.
type TestCase struct {
	Name        string      `yaml:"name"`
	Interval    string      `yaml:"interval"`
	InputSeries []Series    `yaml:"input_series"`
	Alerts      []AlertTest `yaml:"alert_rule_test,omitempty"`
	Exprs       []ExprTest  `yaml:"promql_expr_test,omitempty"`
}

// Series is an input series in promtool's expanding notation.
type Series struct {
	Series string `yaml:"series"`
	Values string `yaml:"values"`
}

// AlertTest expects alerts at a time.
type AlertTest struct {
	EvalTime  string          `yaml:"eval_time"`
	AlertName string          `yaml:"alertname"`
	ExpAlerts []ExpectedAlert `yaml:"exp_alerts"`
}

// ExpectedAlert is one firing alert.
type ExpectedAlert struct {
	ExpLabels      map[string]string `yaml:"exp_labels"`
	ExpAnnotations map[string]string `yaml:"exp_annotations"`
}

// ExprTest expects samples of a query at a time.
type ExprTest struct {
	Expr       string   `yaml:"expr"`
	EvalTime   string   `yaml:"eval_time"`
	ExpSamples []Sample `yaml:"exp_samples"`
}

// Sample is an expected sample.
type Sample struct {
	Labels string  `yaml:"labels"`
	Value  float64 `yaml:"value"`
}

// Tests writes promtool tests for the plan's rules: at error ratios the
// journey tolerates, the journey SLI has the value the formulas give and
// no alert fires; on a burn, the page and ticket alerts fire; a component
// failing more often than its required target raises its alert; without
// data, the absent-data alert fires.
func (p *Plan) Tests(ruleFile string) (*TestFile, error) {
	if p.alerting == nil {
		if _, err := p.Rules(); err != nil {
			return nil, err
		}
	}
	f := &TestFile{RuleFiles: []string{ruleFile}, EvaluationInterval: "1m"}
	if len(p.Measured) == 0 {
		// constant journey SLI: nothing live to test but its value
		f.Tests = append(f.Tests, p.valueTest("contract values", map[string]float64{}))
		return f, nil
	}
	j := p.Journey
	budget := 1 - j.Objective.Availability
	minTh := math.Inf(1)
	maxTh := 0.0
	for _, b := range append(append([]model.BurnRateWindow(nil), p.Page...), p.Ticket...) {
		minTh = min(minTh, b.BurnRate*budget)
	}
	for _, b := range p.Page {
		maxTh = max(maxTh, b.BurnRate*budget)
	}
	for _, b := range p.Ticket {
		maxTh = max(maxTh, b.BurnRate*budget)
	}

	// healthy: each measured component at a share of its own budget
	var healthy map[string]float64
	for _, share := range []float64{0.5, 0.1, 0.01, 0} {
		e := map[string]float64{}
		for c := range p.Measured {
			u := 1 - j.Components[c].Availability
			if r, ok := p.Required[c]; ok {
				u = min(u, 1-r)
			}
			e[c] = round(share * u)
		}
		if 1-p.Formulas.Pessimistic.Eval(p.avail(e)) < minTh {
			healthy = e
			break
		}
	}
	if healthy != nil {
		tc := p.valueTest("healthy: the journey SLI follows the leaves and no alert fires", healthy)
		tc.Alerts = []AlertTest{
			{EvalTime: "10m", AlertName: AlertBurn, ExpAlerts: []ExpectedAlert{}},
			{EvalTime: "10m", AlertName: AlertRequired, ExpAlerts: []ExpectedAlert{}},
			{EvalTime: "20m", AlertName: AlertAbsent, ExpAlerts: []ExpectedAlert{}},
		}
		f.Tests = append(f.Tests, tc)
	}

	// burn: every measured component failing at the same ratio, enough for
	// every page and ticket pair
	for _, x := range []float64{0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 0.9} {
		e := map[string]float64{}
		for c := range p.Measured {
			e[c] = x
		}
		if 1-p.Formulas.Pessimistic.Eval(p.avail(e)) > maxTh*1.01 {
			tc := p.valueTest(fmt.Sprintf("burn: every measured component failing %s of calls pages and tickets", number(x)), e)
			tc.Alerts = []AlertTest{{EvalTime: "10m", AlertName: AlertBurn, ExpAlerts: []ExpectedAlert{
				p.expected(AlertBurn, map[string]string{LabelBound: "pessimistic", "severity": "page"}),
				p.expected(AlertBurn, map[string]string{LabelBound: "pessimistic", "severity": "ticket"}),
			}}}
			f.Tests = append(f.Tests, tc)
			break
		}
	}

	// a component below its required target
	for _, c := range j.ComponentNames() {
		r, ok := p.Required[c]
		if !ok || healthy == nil {
			continue
		}
		e := map[string]float64{}
		for k, v := range healthy {
			e[k] = v
		}
		e[c] = min(1, 2*(1-r))
		tc := TestCase{Name: fmt.Sprintf("%s failing twice as often as its required target allows raises its alert", c), Interval: "1m",
			InputSeries: p.inputs(e),
			Alerts: []AlertTest{{EvalTime: "10m", AlertName: AlertRequired, ExpAlerts: []ExpectedAlert{
				p.expected(AlertRequired, map[string]string{LabelComponent: c, "severity": "ticket"}),
			}}}}
		f.Tests = append(f.Tests, tc)
		break // one is proof enough; every component's rule has the same shape
	}

	f.Tests = append(f.Tests, TestCase{Name: "no data: the absent-data alert fires", Interval: "1m", InputSeries: []Series{},
		Alerts: []AlertTest{{EvalTime: "20m", AlertName: AlertAbsent, ExpAlerts: []ExpectedAlert{
			p.expected(AlertAbsent, map[string]string{LabelBound: "pessimistic", "severity": "ticket"}),
		}}}})
	return f, nil
}

// avail is the availability of each component at the given error ratios
// (measured components) or at its SLO target.
func (p *Plan) avail(e map[string]float64) func(string) float64 {
	return func(c string) float64 {
		if v, ok := e[c]; ok {
			return 1 - v
		}
		return p.Journey.Components[c].Availability
	}
}

// inputs are constant component error ratios over an hour, every window.
func (p *Plan) inputs(e map[string]float64) []Series {
	var out []Series
	for _, c := range p.Journey.ComponentNames() {
		v, ok := e[c]
		if !ok {
			continue
		}
		sel, ok := p.ratioSeries[c]
		if !ok {
			// every test feeds the same series: written once
			sel = make([]string, len(p.Windows))
			for i, w := range p.Windows {
				sel[i] = Selector(ComponentErrorRatio+Window(w), LabelJourney, p.Journey.Name, LabelComponent, c)
			}
			if p.ratioSeries == nil {
				p.ratioSeries = map[string][]string{}
			}
			p.ratioSeries[c] = sel
		}
		if out == nil {
			out = make([]Series, 0, len(e)*len(sel))
		}
		values := number(v) + "+0x60"
		for _, s := range sel {
			out = append(out, Series{Series: s, Values: values})
		}
	}
	return out
}

// valueTest checks both journey SLIs over the 5m window against the
// formulas evaluated in Go, to 1e-9.
func (p *Plan) valueTest(name string, e map[string]float64) TestCase {
	tc := TestCase{Name: name, Interval: "1m", InputSeries: p.inputs(e)}
	if tc.InputSeries == nil {
		tc.InputSeries = []Series{}
	}
	a := p.avail(e)
	for _, b := range []string{"optimistic", "pessimistic"} {
		f := p.Formulas.Optimistic
		if b == "pessimistic" {
			f = p.Formulas.Pessimistic
		}
		sel := Selector(JourneyErrorRatio+Window(5*time.Minute), LabelJourney, p.Journey.Name, LabelBound, b)
		tc.Exprs = append(tc.Exprs, ExprTest{
			Expr:       fmt.Sprintf("abs(%s - %s) < bool 1e-9", sel, number(1-f.Eval(a))),
			EvalTime:   "10m",
			ExpSamples: []Sample{{Labels: fmt.Sprintf("{%s=%q, %s=%q}", LabelBound, b, LabelJourney, p.Journey.Name), Value: 1}},
		})
	}
	return tc
}

// expected is an alert of the plan's rules with its labels and
// annotations.
func (p *Plan) expected(alert string, labels map[string]string) ExpectedAlert {
	want := ExpectedAlert{ExpLabels: map[string]string{LabelJourney: p.Journey.Name}}
	for k, v := range labels {
		want.ExpLabels[k] = v
	}
	for _, g := range p.alerting {
		for _, r := range g.Rules {
			if r.Alert != alert || r.Labels["severity"] != labels["severity"] {
				continue
			}
			if c, ok := labels[LabelComponent]; ok && r.Labels[LabelComponent] != c {
				continue
			}
			want.ExpAnnotations = r.Annotations
		}
	}
	return want
}
