package spec

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/diag"
)

// intent is the paper's JourneyIntent format (Emergence-as-Code artifact),
// read as is and converted to a Journey. Fields that only document the
// paper's pipeline (evidence inputs, output paths) are accepted and kept
// out of the model.
type intent struct {
	APIVersion string              `json:"apiVersion"`
	Kind       string              `json:"kind"`
	Metadata   v1alpha1.ObjectMeta `json:"metadata"`
	Spec       intentSpec          `json:"spec"`
}

type intentSpec struct {
	Objectives     intentObjectives           `json:"objectives"`
	Operator       *intentOp                  `json:"operator"`
	Components     map[string]intentComponent `json:"components"`
	Evidence       *intentEvidence            `json:"evidence"`
	FailureDomains *intentDomains             `json:"failureDomains"`
	Governance     *intentGovernance          `json:"governance"`
}

type intentObjectives struct {
	Availability *struct {
		Window v1alpha1.Duration `json:"window"`
		Target v1alpha1.Ratio    `json:"target"`
		SLI    *struct {
			GoodEventQuery  string `json:"goodEventQuery"`
			TotalEventQuery string `json:"totalEventQuery"`
		} `json:"sli"`
	} `json:"availability"`
	Latency *struct {
		Window    v1alpha1.Duration `json:"window"`
		Objective struct {
			Metric    string  `json:"metric"`
			Threshold float64 `json:"threshold"`
		} `json:"objective"`
		Evidence *struct {
			PromQL string `json:"promql"`
		} `json:"evidence"`
	} `json:"latency"`
}

type intentOp struct {
	Type      string     `json:"type"`
	Ref       string     `json:"ref"`
	Steps     []intentOp `json:"steps"`
	Branches  []intentOp `json:"branches"`
	Join      string     `json:"join"`
	Semantics string     `json:"semantics"`
}

type intentComponent struct {
	Kind           string   `json:"kind"`
	AtomicSLORef   string   `json:"atomicSLORef"`
	FailureDomains []string `json:"failureDomains"`
}

type intentEvidence struct {
	ModelDiscovery *struct {
		Enabled            bool   `json:"enabled"`
		DiscoveredModelRef string `json:"discoveredModelRef"`
		Inputs             []struct {
			Type  string `json:"type"`
			Notes string `json:"notes"`
		} `json:"inputs"`
	} `json:"modelDiscovery"`
}

type intentDomains struct {
	Rules []struct {
		Name        string `json:"name"`
		Kind        string `json:"kind"`
		Source      string `json:"source"`
		Key         string `json:"key"`
		Description string `json:"description"`
	} `json:"rules"`
}

type intentGovernance struct {
	EvaluationMode         string `json:"evaluationMode"`
	UseBoundsForAutomation *struct {
		Availability string `json:"availability"`
		Latency      string `json:"latency"`
	} `json:"useBoundsForAutomation"`
	Alerts *struct {
		PromRuleOutput  string            `json:"promRuleOutput"`
		SLOBudgetWindow v1alpha1.Duration `json:"sloBudgetWindow"`
		BurnRatePolicy  *struct {
			Page   []v1alpha1.BurnRateWindow `json:"page"`
			Ticket []v1alpha1.BurnRateWindow `json:"ticket"`
		} `json:"burnRatePolicy"`
	} `json:"alerts"`
	ProgressiveDelivery *struct {
		Provider               string `json:"provider"`
		AnalysisTemplateOutput string `json:"analysisTemplateOutput"`
		Gate                   *struct {
			MaxCanaryBurnRate    float64 `json:"maxCanaryBurnRate"`
			MaxP99LatencySeconds float64 `json:"maxP99LatencySeconds"`
		} `json:"gate"`
	} `json:"progressiveDelivery"`
}

// converter carries positions from the intent's paths to the Journey's.
type converter struct {
	dec    *decoder
	diags  *diag.Diagnostics
	pos    map[string]diag.Range
	keyPos map[string]diag.Range
}

func (c *converter) move(to, from string) {
	if r, ok := c.dec.pos[from]; ok {
		c.pos[to] = r
	}
	if r, ok := c.dec.keyPos[from]; ok {
		c.keyPos[to] = r
	}
}

func (c *converter) at(from string) *diag.Range {
	if r, ok := nearest(c.dec.pos, from); ok {
		return &r
	}
	return &diag.Range{Filename: c.dec.file}
}

// convert maps the intent onto a Journey and its positions.
func (in *intent) convert(dec *decoder, diags *diag.Diagnostics) (*v1alpha1.Journey, map[string]diag.Range, map[string]diag.Range) {
	c := &converter{dec: dec, diags: diags, pos: map[string]diag.Range{}, keyPos: map[string]diag.Range{}}
	j := &v1alpha1.Journey{
		TypeMeta: v1alpha1.TypeMeta{APIVersion: v1alpha1.APIVersion, Kind: v1alpha1.KindJourney},
		Metadata: in.Metadata,
	}
	for _, p := range []string{"", "metadata", "metadata.name", "spec", "spec.objectives"} {
		c.move(p, p)
	}
	s := &in.Spec
	if a := s.Objectives.Availability; a != nil {
		j.Spec.Objectives.Availability = v1alpha1.AvailabilityObjective{Target: a.Target, Window: a.Window}
		c.move("spec.objectives.availability", "spec.objectives.availability")
		c.move("spec.objectives.availability.target", "spec.objectives.availability.target")
		c.move("spec.objectives.availability.window", "spec.objectives.availability.window")
		if a.SLI != nil {
			j.Spec.Telemetry = &v1alpha1.Telemetry{Good: strings.TrimSpace(a.SLI.GoodEventQuery), Total: strings.TrimSpace(a.SLI.TotalEventQuery)}
			c.move("spec.telemetry", "spec.objectives.availability.sli")
			c.move("spec.telemetry.good", "spec.objectives.availability.sli.goodEventQuery")
			c.move("spec.telemetry.total", "spec.objectives.availability.sli.totalEventQuery")
		}
	}
	if l := s.Objectives.Latency; l != nil {
		const p = "spec.objectives.latency.objective"
		pct, ok := percentileOf(l.Objective.Metric)
		if !ok {
			dg := diags.Errorf(c.at(p+".metric"), "latency metric %q is not a percentile", l.Objective.Metric)
			dg.Detail = "use p50, p90, p99, p99.9, ..."
		}
		j.Spec.Objectives.Latency = &v1alpha1.LatencyObjective{Percentile: pct,
			Threshold: v1alpha1.Duration(time.Duration(l.Objective.Threshold * float64(time.Second)))}
		c.move("spec.objectives.latency", "spec.objectives.latency")
		c.move("spec.objectives.latency.percentile", p+".metric")
		c.move("spec.objectives.latency.threshold", p+".threshold")
	}
	if s.Operator != nil {
		j.Spec.Flow = c.op(s.Operator, "spec.operator", "spec.flow")
	}
	c.move("spec.flow", "spec.operator")
	if len(s.Components) > 0 {
		j.Spec.Components = map[string]v1alpha1.Component{}
		c.move("spec.components", "spec.components")
	}
	for name, ic := range s.Components {
		from, to := "spec.components."+name, "spec.components."+name
		comp := v1alpha1.Component{Domains: ic.FailureDomains}
		c.move(to, from)
		c.move(to+".domains", from+".failureDomains")
		for i := range ic.FailureDomains {
			c.move(fmt.Sprintf("%s.domains[%d]", to, i), fmt.Sprintf("%s.failureDomains[%d]", from, i))
		}
		if ic.AtomicSLORef != "" {
			comp.SLORef = ic.AtomicSLORef
			if !strings.HasPrefix(ic.AtomicSLORef, "openslo:") {
				dg := diags.Errorf(c.at(from+".atomicSLORef"), "atomicSLORef %q has no scheme", ic.AtomicSLORef)
				dg.Detail = `write "openslo:<metadata.name>"`
			}
			c.move(to+".sloRef", from+".atomicSLORef")
		}
		j.Spec.Components[name] = comp
	}
	if fd := s.FailureDomains; fd != nil && len(fd.Rules) > 0 {
		j.Spec.FailureDomains = map[string]v1alpha1.FailureDomain{}
		for i, r := range fd.Rules {
			from := fmt.Sprintf("spec.failureDomains.rules[%d]", i)
			if r.Name == "" {
				diags.Errorf(c.at(from), "failure-domain rule has no name")
				continue
			}
			if _, dup := j.Spec.FailureDomains[r.Name]; dup {
				diags.Errorf(c.at(from+".name"), "duplicate failure-domain rule %q", r.Name)
				continue
			}
			src := r.Source
			if src == "" {
				src = r.Kind
			}
			j.Spec.FailureDomains[r.Name] = v1alpha1.FailureDomain{Description: r.Description, Source: src, Key: r.Key}
			c.move("spec.failureDomains."+r.Name, from+".name")
			c.keyPos["spec.failureDomains."+r.Name] = *c.at(from + ".name")
		}
	}
	if g := s.Governance; g != nil {
		gov := &v1alpha1.Governance{}
		if g.EvaluationMode != "" && g.EvaluationMode != "conservative" && g.EvaluationMode != "optimistic" {
			diags.Errorf(c.at("spec.governance.evaluationMode"), "unknown evaluationMode %q", g.EvaluationMode).Detail =
				"one of: conservative, optimistic"
		}
		bound := v1alpha1.BoundPessimistic
		if g.EvaluationMode == "optimistic" {
			bound = v1alpha1.BoundOptimistic
		}
		if u := g.UseBoundsForAutomation; u != nil && u.Availability != "" {
			bound = u.Availability
			c.move("spec.governance.decision.availability", "spec.governance.useBoundsForAutomation.availability")
		}
		gov.Decision = &v1alpha1.DecisionPolicy{Availability: bound}
		if a := g.Alerts; a != nil && a.BurnRatePolicy != nil {
			gov.Alerting = &v1alpha1.AlertingPolicy{Page: a.BurnRatePolicy.Page, Ticket: a.BurnRatePolicy.Ticket}
			c.moveTree("spec.governance.alerting", "spec.governance.alerts.burnRatePolicy")
		}
		if pd := g.ProgressiveDelivery; pd != nil && pd.Provider != "" {
			gov.Rollout = &v1alpha1.RolloutPolicy{Provider: pd.Provider}
			c.move("spec.governance.rollout.provider", "spec.governance.progressiveDelivery.provider")
		}
		j.Spec.Governance = gov
	}
	return j, c.pos, c.keyPos
}

// moveTree moves every position under from to the same suffix under to.
func (c *converter) moveTree(to, from string) {
	for p, r := range c.dec.pos {
		if p == from || strings.HasPrefix(p, from+".") || strings.HasPrefix(p, from+"[") {
			c.pos[to+strings.TrimPrefix(p, from)] = r
		}
	}
}

func percentileOf(metric string) (float64, bool) {
	m := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(metric)), "p")
	f, err := strconv.ParseFloat(m, 64)
	if err != nil || f <= 0 || f >= 100 {
		return 0, false
	}
	return f, true
}

var intentTypes = []string{"series", "parallel", "race", "fallback"}

func (c *converter) op(o *intentOp, from, to string) *v1alpha1.Node {
	c.move(to, from)
	if o.Ref != "" {
		if o.Type != "" || len(o.Steps) > 0 || len(o.Branches) > 0 {
			c.diags.Errorf(c.at(from+".ref"), "an operator with a ref cannot also have a type, steps or branches")
		}
		c.move(to+".call", from+".ref")
		return &v1alpha1.Node{Call: o.Ref}
	}
	kids := func(list []intentOp, field string) []v1alpha1.Node {
		out := make([]v1alpha1.Node, 0, len(list))
		for i := range list {
			out = append(out, *c.op(&list[i], fmt.Sprintf("%s.%s[%d]", from, field, i), fmt.Sprintf("%s.%s[%d]", to, opKey(o), i)))
		}
		return out
	}
	switch o.Type {
	case "series":
		return &v1alpha1.Node{Seq: kids(o.Steps, "steps")}
	case "parallel":
		if o.Join == "any" {
			return &v1alpha1.Node{Race: &v1alpha1.Race{Of: kids(o.Branches, "branches")}}
		}
		if o.Join != "" && o.Join != "all" {
			c.diags.Errorf(c.at(from+".join"), "unknown join %q", o.Join).Detail = "one of: all, any"
		}
		return &v1alpha1.Node{All: kids(o.Branches, "branches")}
	case "race":
		return &v1alpha1.Node{Race: &v1alpha1.Race{Of: kids(o.Branches, "branches")}}
	case "fallback":
		return &v1alpha1.Node{Fallback: kids(o.Branches, "branches")}
	case "":
		c.diags.Errorf(c.at(from), "operator has neither a type nor a ref")
	default:
		dg := c.diags.Errorf(c.at(from+".type"), "unknown operator type %q", o.Type)
		dg.Detail = diag.DidYouMean(o.Type, intentTypes)
		if dg.Detail == "" {
			dg.Detail = "one of: " + strings.Join(intentTypes, ", ")
		}
	}
	return &v1alpha1.Node{}
}

// opKey is the Journey field an intent operator's children land in.
func opKey(o *intentOp) string {
	switch o.Type {
	case "series":
		return "seq"
	case "parallel":
		if o.Join == "any" {
			return "race.of"
		}
		return "all"
	case "race":
		return "race.of"
	}
	return "fallback"
}
