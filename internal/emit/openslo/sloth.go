package openslo

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/model"
)

// The Sloth prometheus/v1 document, as far as emac writes it.
type (
	slothDoc struct {
		Version string `yaml:"version"`
		Service string `yaml:"service"`
		// Labels are written with sorted keys by the encoder.
		Labels map[string]string `yaml:"labels,omitempty"`
		SLOs   []slothSLO        `yaml:"slos"`
	}
	slothSLO struct {
		Name        string            `yaml:"name"`
		Description string            `yaml:"description,omitempty"`
		Objective   float64           `yaml:"objective"`
		Labels      map[string]string `yaml:"labels,omitempty"`
		SLI         slothSLI          `yaml:"sli"`
		Alerting    slothAlerting     `yaml:"alerting"`
	}
	slothSLI struct {
		Events *slothEvents `yaml:"events,omitempty"`
		Raw    *slothRaw    `yaml:"raw,omitempty"`
	}
	slothEvents struct {
		ErrorQuery string `yaml:"error_query"`
		TotalQuery string `yaml:"total_query"`
	}
	slothRaw struct {
		ErrorRatioQuery string `yaml:"error_ratio_query"`
	}
	slothAlerting struct {
		Name        string            `yaml:"name"`
		Annotations map[string]string `yaml:"annotations,omitempty"`
	}
)

// slothAlert names the burn-rate alerts Sloth generates for required
// targets; sloth_slo tells the components apart.
const slothAlert = "EmacRequiredTargetBurn"

// slothFile holds every feasible required target of the journey.
func slothFile(j *model.Journey, res *v1alpha1.JourneyResult, targets []target, w time.Duration) slothDoc {
	doc := slothDoc{Version: "prometheus/v1", Service: j.Name, Labels: map[string]string{"emac_journey": j.Name}}
	bound := v1alpha1.BoundSymbol(res.Availability.Bound)
	for _, t := range targets {
		var tel *model.Telemetry
		if c := j.Components[t.component]; c != nil {
			tel = c.Telemetry
		}
		doc.SLOs = append(doc.SLOs, slothSLO{
			Name: dnsLabel(t.component) + "-required",
			Description: truncate(fmt.Sprintf("Required availability of %s for the journey %s to meet its objective %s over %s, derived by emac from %s; its current target is %s.",
				t.component, j.Name, num(j.Objective.Availability), promDuration(w), bound, num(t.current)), maxDescription),
			Objective: percent(t.value),
			Labels:    map[string]string{"emac_component": t.component},
			SLI:       slothIndicator(tel, j.Name, t.component),
			Alerting: slothAlerting{Name: slothAlert, Annotations: map[string]string{
				"summary": fmt.Sprintf("%s is burning the error budget of the availability the journey %s requires of it.", t.component, j.Name),
			}},
		})
	}
	return doc
}

// slothIndicator is the component's telemetry when Sloth can evaluate it
// at its own windows, else the error ratio emac's rules record.
func slothIndicator(t *model.Telemetry, journey, component string) slothSLI {
	if t != nil {
		good, bad, total := t.Good, t.Bad, t.Total
		all := func(qs ...string) bool {
			for _, q := range qs {
				if !windowed(q) {
					return false
				}
			}
			return true
		}
		switch {
		case total != "" && bad != "" && all(bad, total):
			return slothSLI{Events: &slothEvents{ErrorQuery: bad, TotalQuery: total}}
		case total != "" && good != "" && all(good, total):
			return slothSLI{Events: &slothEvents{ErrorQuery: fmt.Sprintf("(%s) - (%s)", total, good), TotalQuery: total}}
		case total == "" && bad != "" && all(bad):
			return slothSLI{Raw: &slothRaw{ErrorRatioQuery: bad}}
		case total == "" && good != "" && all(good):
			return slothSLI{Raw: &slothRaw{ErrorRatioQuery: fmt.Sprintf("1 - (%s)", good)}}
		}
	}
	return slothSLI{Raw: &slothRaw{ErrorRatioQuery: fmt.Sprintf("emac:component_error:ratio_rate{{.window}}{emac_journey=%s,emac_component=%s}",
		templateText(promString(journey)), templateText(promString(component)))}}
}

// templateText keeps literal text literal in a query Sloth expands as a Go
// template: a name containing "{{" would otherwise start an action.
func templateText(s string) string {
	return strings.ReplaceAll(s, "{{", `{{"{{"}}`)
}

// percent is a required target as a Sloth objective: a percentage rounded
// up at the 8th decimal (the 10th of the fraction), so that float noise of
// the multiplication never lowers the target.
func percent(v float64) float64 {
	return math.Ceil(v*1e10-1e-6) / 1e8
}
