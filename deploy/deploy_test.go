package deploy

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/emac-dev/emac/internal/kubetest"
)

// root is the module's root, from this package's directory.
const root = ".."

const chart = "helm/emac"

func TestMain(m *testing.M) {
	// envtest logs through controller-runtime's global logger, which prints a
	// stack trace if nobody sets it within 30 s.
	log.SetLogger(logr.Discard())
	kubetest.Main(m)
}

// TestChartCopies checks that the chart's copies of generated files are
// what `make generate` copies: Helm cannot read files outside the chart.
func TestChartCopies(t *testing.T) {
	bases, _ := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*.yaml"))
	copies, _ := filepath.Glob(filepath.Join(chart, "crds", "*.yaml"))
	if len(bases) == 0 || len(bases) != len(copies) {
		t.Errorf("config/crd/bases holds %d CRDs, %s/crds %d: run make generate", len(bases), chart, len(copies))
	}
	for _, b := range bases {
		same(t, b, filepath.Join(chart, "crds", filepath.Base(b)))
	}
	same(t, filepath.Join(root, "config", "rbac", "role.yaml"), filepath.Join(chart, "files", "role.yaml"))
}

func same(t *testing.T, source, copy string) {
	t.Helper()
	want, err := os.ReadFile(source)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(copy)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("%s is not a copy of %s: run make generate", copy, source)
	}
}

// TestRole checks that config/rbac/role.yaml is the one ClusterRole the
// chart takes its rules from: controller-gen writes namespaced Roles into
// the same file, which the chart would not see, so the controller's
// +kubebuilder:rbac markers must all be cluster-wide.
func TestRole(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root, "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dec := k8syaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var roles []rbacv1.ClusterRole
	for {
		var r rbacv1.ClusterRole
		if err := dec.Decode(&r); err != nil {
			break
		}
		if r.Kind != "" {
			roles = append(roles, r)
		}
	}
	if len(roles) != 1 || roles[0].Kind != "ClusterRole" || roles[0].Name != "emac-controller" || len(roles[0].Rules) == 0 {
		t.Fatalf("config/rbac/role.yaml: want one ClusterRole emac-controller with rules, got %d objects", len(roles))
	}
	// What the controller cannot work without.
	for _, want := range []string{"emac.dev/journeys", "emac.dev/journeys/status", "emac.dev/modeldeltas", "emac.dev/componentcatalogs",
		"monitoring.coreos.com/prometheusrules", "apiextensions.k8s.io/customresourcedefinitions"} {
		group, resource, _ := strings.Cut(want, "/")
		found := false
		for _, r := range roles[0].Rules {
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					found = found || (g == group && res == resource)
				}
			}
		}
		if !found {
			t.Errorf("config/rbac/role.yaml grants nothing on %s", want)
		}
	}
}

// render runs a manifest tool. Without it the test is skipped locally
// (neither kubectl nor helm is needed to build emac); CI installs helm
// (.ci/run) and so fails rather than skip when it is missing.
func render(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if name == "helm" && os.Getenv("CI") != "" {
			t.Fatal("helm is not installed: .ci/run installs it with go install helm.sh/helm/v3/cmd/helm@v3.16.4")
		}
		t.Skipf("%s is not installed", name)
	}
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// dryRun validates every object of yamlDocs with a real API server and
// returns their "Kind name"s.
func dryRun(t *testing.T, yamlDocs []byte) []string {
	t.Helper()
	s := kubetest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.DryRun(ctx, yamlDocs); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	dec := k8syaml.NewYAMLOrJSONDecoder(bytes.NewReader(yamlDocs), 4096)
	for {
		var obj unstructured.Unstructured
		if err := dec.Decode(&obj.Object); err != nil {
			break
		}
		if obj.Object != nil {
			kinds = append(kinds, obj.GetKind()+" "+obj.GetName())
		}
	}
	return kinds
}

func contains(t *testing.T, got []string, want ...string) {
	t.Helper()
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			t.Errorf("no %s among %q", w, got)
		}
	}
}

// TestKustomize renders config/default as `kubectl apply -k` would and has
// the API server validate it.
func TestKustomize(t *testing.T) {
	out := render(t, "kubectl", "kustomize", filepath.Join(root, "config", "default"))
	contains(t, dryRun(t, out),
		"Namespace emac-system",
		"CustomResourceDefinition journeys.emac.dev", "CustomResourceDefinition componentcatalogs.emac.dev", "CustomResourceDefinition modeldeltas.emac.dev",
		"ServiceAccount emac-controller", "ClusterRole emac-controller", "ClusterRoleBinding emac-controller",
		"Role emac-leader-election", "RoleBinding emac-leader-election",
		"Deployment emac-controller", "Service emac-controller-metrics")
}

// TestHelm renders the chart, with and without emac serve, and has the API
// server validate it.
func TestHelm(t *testing.T) {
	for _, tt := range []struct {
		name string
		set  []string
		want []string
	}{
		{name: "defaults", want: []string{"CustomResourceDefinition journeys.emac.dev", "Deployment emac-controller", "ClusterRole emac-controller", "Service emac-controller-metrics"}},
		{name: "serve", set: []string{"--set", "serve.enabled=true", "--set", "serve.specsConfigMap=emac-specs", "--set", "serve.tokenSecret=emac-token"},
			want: []string{"Deployment emac-controller", "Deployment emac-serve", "Service emac-serve"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"template", "emac", chart, "--namespace", "emac-system", "--include-crds"}, tt.set...)
			out := render(t, "helm", args...)
			contains(t, dryRun(t, append([]byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: emac-system}\n---\n"), out...)), tt.want...)
		})
	}
}
