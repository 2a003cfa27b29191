// Package argo emits Argo Rollouts gates for a journey (SPEC §6): one
// AnalysisTemplate whose component argument names the component being
// rolled out; it passes the canary only while the journey's pessimistic
// availability, recomputed in PromQL with the canary's measured error
// ratio in place of the component's, still meets the objective. Without enough canary data the
// measurement matches neither condition: Argo calls it Inconclusive and
// pauses the rollout for a human, never success.
package argo

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

// Defaults of the templates' arguments and measurement.
const (
	DefaultAddress = "http://prometheus.monitoring.svc:9090"
	// CanaryLabel is the Prometheus label carrying the pod template hash
	// Argo Rollouts puts on canary pods (rollouts-pod-template-hash,
	// relabelled by the usual kubernetes_sd configuration).
	CanaryLabel = prometheus.ArgoCanaryLabel
	Window      = 5 * time.Minute
	Base        = time.Hour
)

type arg struct {
	Name  string  `yaml:"name"`
	Value *string `yaml:"value,omitempty"`
}

type metric struct {
	Name              string         `yaml:"name"`
	Interval          string         `yaml:"interval"`
	SuccessCondition  string         `yaml:"successCondition"`
	FailureCondition  string         `yaml:"failureCondition"`
	FailureLimit      int            `yaml:"failureLimit"`
	InconclusiveLimit int            `yaml:"inconclusiveLimit"`
	Provider          map[string]any `yaml:"provider"`
}

// TemplateName names the journey's AnalysisTemplate.
func TemplateName(journey string) string { return "emac-" + journey }

// Emit writes argo/analysistemplate.yaml and argo/rollout-snippet.yaml.
func Emit(in *emit.Input) ([]emit.File, error) {
	j := in.Journey
	if j.Policy.Rollout == v1alpha1.ProviderFlagger {
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
		By:        CanaryLabel,
		Canary:    "{{args.canary-hash}}",
		Component: "{{args.component}}",
		MinCalls:  "{{args.min-calls}}",
		Base:      Base,
	})
	if err != nil {
		return nil, err
	}
	target := strconv.FormatFloat(j.Objective.Availability, 'g', -1, 64)
	addr, minCalls := DefaultAddress, "0"
	tmpl, err := yamlw.Marshal(emit.Object{
		APIVersion: "argoproj.io/v1alpha1", Kind: "AnalysisTemplate",
		Metadata: emit.Metadata(TemplateName(j.Name), in.Namespace, j.Name),
		Spec: map[string]any{
			"args": []arg{{Name: "prometheus-address", Value: &addr}, {Name: "component"}, {Name: "canary-hash"}, {Name: "min-calls", Value: &minCalls}},
			"metrics": []metric{{
				Name:     "journey-" + j.Name + "-availability",
				Interval: "1m",
				// result[0] is A- with the canary in place; an empty
				// result (too little canary data) is neither.
				SuccessCondition:  fmt.Sprintf("len(result) > 0 && result[0] >= %s", target),
				FailureCondition:  fmt.Sprintf("len(result) > 0 && result[0] < %s", target),
				FailureLimit:      0,
				InconclusiveLimit: 1,
				Provider: map[string]any{"prometheus": map[string]any{
					"address": "{{args.prometheus-address}}",
					"query":   q,
				}},
			}},
		},
	})
	if err != nil {
		return nil, err
	}
	return []emit.File{
		{Path: "argo/analysistemplate.yaml", Data: tmpl},
		{Path: "argo/rollout-snippet.yaml", Data: []byte(snippetFor(j.Name, comps))},
	}, nil
}

// snippetFor is a Rollout canary strategy gating on the journey; the
// header lists the components the component argument may name.
func snippetFor(journey string, comps []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Canary steps for a Rollout of one of the journey %s's components.\n", journey)
	fmt.Fprintf(&b, "# Set component to the one the Rollout deploys: %s.\n", strings.Join(comps, ", "))
	b.WriteString("# Inconclusive (too little canary data) pauses the rollout for review.\n")
	step := fmt.Sprintf(`        - analysis:
            templates:
              - templateName: %s
            args:
              - name: component
                value: %q
              - name: canary-hash
                valueFrom:
                  podTemplateHashValue: Latest
`, TemplateName(journey), comps[0])
	b.WriteString("spec:\n  strategy:\n    canary:\n      steps:\n        - setWeight: 10\n        - pause: {duration: 5m}\n")
	b.WriteString(step)
	b.WriteString("        - setWeight: 50\n        - pause: {duration: 10m}\n")
	b.WriteString(step)
	return b.String()
}
