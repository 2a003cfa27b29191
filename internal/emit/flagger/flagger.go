// Package flagger emits Flagger gates for a journey (SPEC §6), with the
// meaning of the Argo Rollouts gates: one MetricTemplate whose query is the
// journey's pessimistic availability with the canary's measured error ratio
// in place of the component its templateVariables name, and a
// Canary.spec.analysis snippet requiring it to stay at or above the
// objective. Flagger has no inconclusive state: a query without a sample
// (too little canary data) halts advancement and counts as a failed check,
// which is the nearest Flagger comes to pausing for review.
package flagger

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/emit"
	"github.com/emac-dev/emac/internal/emit/prometheus"
	"github.com/emac-dev/emac/internal/emit/yamlw"
)

// Defaults of the templates.
const (
	DefaultAddress = "http://prometheus.monitoring.svc:9090"
	Window         = 5 * time.Minute
	Base           = time.Hour
)

// TemplateName names the journey's MetricTemplate.
func TemplateName(journey string) string { return "emac-" + journey }

// Emit writes flagger/metrictemplate.yaml and flagger/canary-analysis.yaml.
func Emit(in *emit.Input) ([]emit.File, error) {
	j := in.Journey
	if j.Policy.Rollout == v1alpha1.ProviderArgoRollouts {
		return nil, nil // the journey is rolled out by the other provider
	}
	p, err := prometheus.PlanOf(context.Background(), in)
	if err != nil {
		return nil, err
	}
	comps := p.MeasuredComponents()
	if len(comps) == 0 {
		return nil, nil
	}
	q, err := p.Gate(prometheus.GateOptions{
		By:        prometheus.FlaggerCanaryLabel,
		Canary:    "{{ target }}",
		Component: "{{ variables.component }}",
		MinCalls:  "0",
		Base:      Base,
	})
	if err != nil {
		return nil, err
	}
	tmpl, err := yamlw.Marshal(emit.Object{
		APIVersion: "flagger.app/v1beta1", Kind: "MetricTemplate",
		Metadata: emit.Metadata(TemplateName(j.Name), in.Namespace, j.Name),
		Spec: map[string]any{
			"provider": map[string]string{"type": "prometheus", "address": DefaultAddress},
			"query":    q,
		},
	})
	if err != nil {
		return nil, err
	}
	target := strconv.FormatFloat(j.Objective.Availability, 'g', -1, 64)
	snippet := fmt.Sprintf(`# Canary.spec.analysis for a Canary of one of the journey %s's components.
# Set templateVariables.component to the one the Canary deploys: %s.
# No data fails the check (Flagger has no inconclusive state).
spec:
  analysis:
    interval: 1m
    threshold: 5
    maxWeight: 50
    stepWeight: 10
    metrics:
      - name: journey-%s-availability
        templateRef:
          name: %s
          namespace: %s
        templateVariables:
          component: %q
        thresholdRange:
          min: %s
        interval: 5m
`, j.Name, strings.Join(comps, ", "), j.Name, TemplateName(j.Name), in.Namespace, comps[0], target)
	return []emit.File{
		{Path: "flagger/metrictemplate.yaml", Data: tmpl},
		{Path: "flagger/canary-analysis.yaml", Data: []byte(snippet)},
	}, nil
}
