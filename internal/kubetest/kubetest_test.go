package kubetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

func TestMain(m *testing.M) {
	// envtest logs through controller-runtime's global logger, which prints a stack
	// trace if nobody sets it within 30 s; these tests report errors themselves.
	log.SetLogger(logr.Discard())
	Main(m)
}

const prometheusRule = `
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: checkout-journey
  namespace: monitoring
  labels: {emac.dev/journey: checkout}
spec:
  groups:
    - name: emac-checkout
      interval: 30s
      rules:
        - record: emac:journey_availability:ratio_rate5m
          expr: sum(rate(http_requests_total{code!~"5.."}[5m])) / sum(rate(http_requests_total[5m]))
          labels: {journey: checkout}
        - alert: CheckoutJourneyBelowObjective
          expr: emac:journey_availability:ratio_rate5m < 0.995
          for: 5m
          labels: {severity: page}
          annotations: {summary: checkout is below its 99.5% objective}
`

const analysisTemplate = `
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: checkout-availability, namespace: checkout}
spec:
  args:
    - name: service
  metrics:
    - name: availability
      interval: 1m
      count: 5
      failureLimit: 1
      successCondition: result[0] >= 0.995
      provider:
        prometheus:
          address: http://prometheus.monitoring:9090
          query: sum(rate(http_requests_total{service="{{args.service}}",code!~"5.."}[5m])) / sum(rate(http_requests_total{service="{{args.service}}"}[5m]))
`

const metricTemplate = `
apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata: {name: checkout-availability, namespace: checkout}
spec:
  provider:
    type: prometheus
    address: http://prometheus.monitoring:9090
  query: sum(rate(http_requests_total{namespace="{{ namespace }}",code!~"5.."}[{{ interval }}])) / sum(rate(http_requests_total{namespace="{{ namespace }}"}[{{ interval }}]))
`

const canary = `
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: payments, namespace: checkout}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: payments}
  service: {port: 8080}
  analysis:
    interval: 1m
    threshold: 5
    maxWeight: 50
    stepWeight: 10
    metrics:
      - name: availability
        templateRef: {name: checkout-availability, namespace: checkout}
        thresholdRange: {min: 0.995}
        interval: 1m
`

const admissionPolicy = `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: emac-journey-label}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
      - apiGroups: [apps]
        apiVersions: [v1]
        operations: [CREATE, UPDATE]
        resources: [deployments]
  validations:
    - expression: "has(object.metadata.labels) && 'emac.dev/journey' in object.metadata.labels"
      message: every deployment must name the journey it serves
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: emac-journey-label}
spec:
  policyName: emac-journey-label
  validationActions: [Deny]
  matchResources:
    namespaceSelector:
      matchLabels: {emac.dev/managed: "true"}
`

func TestDryRun(t *testing.T) {
	s := Start(t)
	tests := []struct {
		name string
		yaml string
		// want lists substrings of the error; nil means the input must be accepted.
		want []string
	}{
		{name: "PrometheusRule", yaml: prometheusRule},
		{name: "AnalysisTemplate", yaml: analysisTemplate},
		{name: "ClusterAnalysisTemplate", yaml: strings.NewReplacer(
			"kind: AnalysisTemplate", "kind: ClusterAnalysisTemplate", "namespace: checkout", "").Replace(analysisTemplate)},
		{name: "MetricTemplate", yaml: metricTemplate},
		{name: "Canary", yaml: canary},
		{name: "ValidatingAdmissionPolicy and binding", yaml: admissionPolicy},
		{name: "all in one stream", yaml: strings.Join([]string{prometheusRule, analysisTemplate, metricTemplate, canary, admissionPolicy}, "\n---\n")},
		{name: "namespace document before its objects", yaml: "apiVersion: v1\nkind: Namespace\nmetadata: {name: payments}\n---\n" +
			strings.ReplaceAll(prometheusRule, "namespace: monitoring", "namespace: payments")},
		{name: "existing namespace", yaml: "apiVersion: v1\nkind: Namespace\nmetadata: {name: default}\n"},
		{name: "no namespace means default", yaml: strings.ReplaceAll(prometheusRule, "namespace: monitoring", "")},

		{name: "groups is a string", yaml: "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata: {name: checkout-journey, namespace: monitoring}\nspec: {groups: emac-checkout}\n",
			want: []string{"PrometheusRule monitoring/checkout-journey", "spec.groups", "must be of type array"}},
		{name: "unknown field", yaml: strings.Replace(metricTemplate, "  query:", "  querry:", 1),
			want: []string{"MetricTemplate checkout/checkout-availability", `unknown field "spec.querry"`}},
		{name: "duration pattern", yaml: strings.Replace(prometheusRule, "for: 5m", "for: five minutes", 1),
			want: []string{"PrometheusRule monitoring/checkout-journey", "spec.groups[0].rules[1].for", "should match"}},
		{name: "duplicate group name", yaml: strings.Replace(prometheusRule, "  groups:\n", "  groups:\n    - name: emac-checkout\n", 1),
			want: []string{"PrometheusRule monitoring/checkout-journey", "Duplicate value"}},
		{name: "Canary without targetRef", yaml: strings.Replace(canary, "  targetRef: {apiVersion: apps/v1, kind: Deployment, name: payments}\n", "", 1),
			want: []string{"Canary checkout/payments", "spec.targetRef", "Required value"}},
		{name: "CEL that does not compile", yaml: strings.Replace(admissionPolicy, "&& 'emac.dev/journey' in", "&& 'emac.dev/journey' in in", 1),
			want: []string{"ValidatingAdmissionPolicy emac-journey-label", "compilation failed"}},
		{name: "kind the server does not know", yaml: "apiVersion: example.com/v1\nkind: Journey\nmetadata: {name: checkout}\n",
			want: []string{"Journey checkout", "no matches for kind"}},
		{name: "every failure reported", yaml: strings.Replace(metricTemplate, "  query:", "  querry:", 1) + "---\n" +
			strings.Replace(canary, "  service: {port: 8080}\n", "  service: {}\n", 1),
			want: []string{"MetricTemplate checkout/checkout-availability", "Canary checkout/payments", "spec.service.port"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { s.ExpectDryRun(t, tt.yaml, tt.want) })
	}
}

// TestDryRunPersistsOnlyNamespaces checks that dry-run really is dry (the object is
// not stored) while the namespace it needed is.
func TestDryRunPersistsOnlyNamespaces(t *testing.T) {
	s := Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.DryRun(ctx, []byte(strings.ReplaceAll(prometheusRule, "namespace: monitoring", "namespace: dry-only"))); err != nil {
		t.Fatalf("DryRun: %v", err)
	}
	if err := s.Client.Get(ctx, client.ObjectKey{Name: "dry-only"}, &corev1.Namespace{}); err != nil {
		t.Errorf("namespace dry-only: got %v, want it created", err)
	}
	rule := &unstructured.Unstructured{}
	rule.SetGroupVersionKind(schema.GroupVersionKind{Group: "monitoring.coreos.com", Version: "v1", Kind: "PrometheusRule"})
	err := s.Client.Get(ctx, client.ObjectKey{Namespace: "dry-only", Name: "checkout-journey"}, rule)
	if !apierrors.IsNotFound(err) {
		t.Errorf("PrometheusRule dry-only/checkout-journey: got %v, want NotFound", err)
	}
}

func TestDecodeObjects(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		want  []string // "Kind namespace/name" of each object
		error string   // substring of the error; "" means success
	}{
		{name: "multi-document with empty ones", yaml: "---\n# comment only\n---\n" + metricTemplate + "---\n" + admissionPolicy + "\n---\n",
			want: []string{"MetricTemplate checkout/checkout-availability", "ValidatingAdmissionPolicy emac-journey-label", "ValidatingAdmissionPolicyBinding emac-journey-label"}},
		{name: "JSON", yaml: `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"}}`,
			want: []string{"ConfigMap n/c"}},
		{name: "generateName", yaml: "apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: emac-}\n",
			want: []string{"ConfigMap emac-*"}},
		{name: "empty input", yaml: "---\n", error: "no Kubernetes objects"},
		{name: "missing kind", yaml: metricTemplate + "---\napiVersion: v1\nmetadata: {name: x}\n", error: "document 2: apiVersion and kind are required"},
		{name: "not YAML", yaml: "apiVersion: v1\nkind: [unclosed\n", error: "document 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := decodeObjects([]byte(tt.yaml))
			if tt.error != "" {
				if err == nil || !strings.Contains(err.Error(), tt.error) {
					t.Fatalf("decodeObjects: got error %v, want one containing %q", err, tt.error)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodeObjects: %v", err)
			}
			var got []string
			for _, o := range objs {
				got = append(got, describe(o))
			}
			if strings.Join(got, "; ") != strings.Join(tt.want, "; ") {
				t.Errorf("decodeObjects: got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEmbeddedCRDs(t *testing.T) {
	crds, err := embeddedCRDs()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range crds {
		got = append(got, c.Name)
	}
	want := []string{
		"analysistemplates.argoproj.io",
		"clusteranalysistemplates.argoproj.io",
		"canaries.flagger.app", "metrictemplates.flagger.app", "alertproviders.flagger.app",
		"prometheusrules.monitoring.coreos.com",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("embedded CRDs: got %q, want %q", got, want)
	}
}

func TestAssetsDir(t *testing.T) {
	tools := t.TempDir()
	dir := filepath.Join(tools, Version)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if err := os.WriteFile(filepath.Join(dir, bin), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	notExec := t.TempDir()
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if err := os.WriteFile(filepath.Join(notExec, bin), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name             string
		assets, toolsDir string
		want             string // the directory, or with "error: " a substring of the error
	}{
		{name: "default cache path", toolsDir: tools, want: dir},
		{name: "KUBEBUILDER_ASSETS wins", assets: dir, toolsDir: t.TempDir(), want: dir},
		{name: "KUBEBUILDER_ASSETS empty directory", assets: t.TempDir(), toolsDir: tools, want: "error: no executable kube-apiserver"},
		{name: "not executable", assets: notExec, want: "error: no executable kube-apiserver"},
		{name: "nothing built", toolsDir: t.TempDir(), want: "error: " + Version},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("KUBEBUILDER_ASSETS", tt.assets)
			t.Setenv("KUBE_TOOLS_DIR", tt.toolsDir)
			got, err := assetsDir()
			if err != nil {
				got = "error: " + err.Error()
			}
			if w, ok := strings.CutPrefix(tt.want, "error: "); ok {
				if !strings.HasPrefix(got, "error: ") || !strings.Contains(got, w) {
					t.Errorf("assetsDir: got %q, want an error containing %q", got, w)
				}
			} else if got != tt.want {
				t.Errorf("assetsDir: got %q, want %q", got, tt.want)
			}
		})
	}
}

// stopTB records how Start ends a test that cannot run; like testing.T, Skipf and
// Fatalf end the calling goroutine.
type stopTB struct {
	testing.TB
	skipped, fatal string
}

func (s *stopTB) Helper() {}
func (s *stopTB) Skipf(format string, args ...any) {
	s.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (s *stopTB) Fatalf(format string, args ...any) {
	s.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestStartWithoutAssets(t *testing.T) {
	tests := []struct {
		ci                string
		wantSkip, wantErr bool
	}{
		{ci: "", wantSkip: true},
		{ci: "true", wantErr: true},
	}
	for _, tt := range tests {
		t.Run("CI="+tt.ci, func(t *testing.T) {
			t.Setenv("KUBEBUILDER_ASSETS", t.TempDir())
			t.Setenv("CI", tt.ci)
			tb := &stopTB{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				Start(tb)
				tb.fatal = "Start returned a server"
			}()
			<-done
			if got := tb.skipped != ""; got != tt.wantSkip {
				t.Errorf("skipped: got %v (%q), want %v", got, tb.skipped, tt.wantSkip)
			}
			if got := tb.fatal != ""; got != tt.wantErr {
				t.Errorf("failed: got %v (%q), want %v", got, tb.fatal, tt.wantErr)
			}
			if msg := tb.skipped + tb.fatal; !strings.Contains(msg, "hack/kube-apiserver.sh") {
				t.Errorf("message %q does not name hack/kube-apiserver.sh", msg)
			}
		})
	}
}

const widgetCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, listKind: WidgetList, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                size: {type: integer}
`

func TestInstallCRDs(t *testing.T) {
	s := Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Twice: tests sharing a server may each install the same CRDs.
	for range 2 {
		if err := s.InstallCRDs(ctx, []byte(widgetCRD)); err != nil {
			t.Fatalf("InstallCRDs: %v", err)
		}
	}
	widget := "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 3}\n"
	if err := s.DryRun(ctx, []byte(widget)); err != nil {
		t.Errorf("DryRun of a Widget: %v", err)
	}
	if err := s.DryRun(ctx, []byte(strings.Replace(widget, "size: 3", "size: three", 1))); err == nil || !strings.Contains(err.Error(), "spec.size") {
		t.Errorf("DryRun of a bad Widget: got %v, want an error naming spec.size", err)
	}

	for _, tt := range []struct{ name, yaml, want string }{
		{name: "not a CRD", yaml: admissionPolicy, want: "is not a CustomResourceDefinition"},
		{name: "empty", yaml: "---\n", want: "no CustomResourceDefinition"},
		{name: "not structural", yaml: strings.Replace(widgetCRD, "size: {type: integer}", "size: {}", 1), want: "must not be empty for specified object fields"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := s.InstallCRDs(ctx, []byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("InstallCRDs: got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
