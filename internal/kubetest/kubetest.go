// Package kubetest runs a real Kubernetes API server (etcd + kube-apiserver, through
// controller-runtime's envtest) for tests, and checks generated Kubernetes objects
// against it with server-side dry-run.
//
// A schema in a test file can only say what we believe the API accepts; the API
// server says what it does accept: OpenAPI and CRD structural schemas, CEL rules,
// defaulting, strict field validation. So emitters' output is checked here rather
// than against hand-copied schemas.
//
// The binaries come from hack/kube-apiserver.sh, which builds kube-apiserver
// [Version] from source and links Debian's etcd. Start finds them through
// KUBEBUILDER_ASSETS, or else at the script's default cache directory. Without
// them, tests skip locally and fail under CI (env CI non-empty), so CI cannot pass
// by silently not running them.
//
// The CRDs under testdata/crds (Prometheus Operator's PrometheusRule, Argo Rollouts'
// AnalysisTemplate and ClusterAnalysisTemplate, Flagger's Canary, MetricTemplate and
// AlertProvider) are installed in every server. They are embedded rather than read
// from disk because tests of other packages run in their own directories. Tests
// install other CRDs, such as emac's own (package config/crd), with
// [Server.InstallCRDs].
package kubetest

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Version is the Kubernetes version hack/kube-apiserver.sh builds; its cache
// directory is named after it.
const Version = "v1.31.4"

// installHint is the one place that tells a developer how to get the binaries.
const installHint = `build them with: export KUBEBUILDER_ASSETS="$(bash hack/kube-apiserver.sh)" (about 10-12 minutes the first time, then cached)`

//go:embed testdata/crds/*.yaml
var crdFiles embed.FS

// Server is a running etcd + kube-apiserver with the testdata CRDs installed.
type Server struct {
	// Config reaches the API server as a cluster admin, for clients of any kind.
	Config *rest.Config
	// Client is a controller-runtime client on Config; it discovers the installed
	// CRDs, so unstructured objects of their kinds work with it.
	Client client.Client

	env *envtest.Environment
}

// shared is the one server of a test binary that runs its tests through Main. It is
// package-level state because a server takes seconds to start and tests of one
// package can share it, but no single test outlives the others to own it: only
// Main, which sees the whole run, can stop it.
var shared struct {
	enabled bool // set by Main before any test runs; read-only afterwards
	once    sync.Once
	srv     *Server
	err     error
}

// Start returns a running API server for t.
//
// By default every call starts its own server and stops it on t.Cleanup. In a
// package whose TestMain calls [Main], all calls share one server, started on first
// use and stopped when Main's tests are done; objects and namespaces created by one
// test are then visible to the next.
//
// When the binaries are missing Start skips t, or fails it if env CI is non-empty.
func Start(t testing.TB) *Server {
	t.Helper()
	dir, err := assetsDir()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("kubetest: %v; CI is set, so the Kubernetes tests must run; %s", err, installHint)
		}
		t.Skipf("kubetest: %v; %s", err, installHint)
	}
	if shared.enabled {
		shared.once.Do(func() { shared.srv, shared.err = start(dir) })
		if shared.err != nil {
			t.Fatalf("kubetest: %v", shared.err)
		}
		return shared.srv
	}
	s, err := start(dir)
	if err != nil {
		t.Fatalf("kubetest: %v", err)
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("kubetest: %v", err)
		}
	})
	return s
}

// Main runs a package's tests with one shared API server and then exits; call it
// from TestMain. It stops the server after the tests, since etcd and kube-apiserver
// are separate processes that would otherwise outlive the test binary.
func Main(m *testing.M) {
	shared.enabled = true
	code := m.Run()
	if shared.srv != nil {
		if err := shared.srv.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "kubetest: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}

// assetsDir is where kube-apiserver and etcd are: KUBEBUILDER_ASSETS when set (as
// envtest reads it), else hack/kube-apiserver.sh's default cache directory.
func assetsDir() (string, error) {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		root := os.Getenv("KUBE_TOOLS_DIR")
		if root == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", fmt.Errorf("KUBEBUILDER_ASSETS is not set and there is no home directory: %w", err)
			}
			root = filepath.Join(home, ".cache", "kube-tools")
		}
		dir = filepath.Join(root, Version)
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		fi, err := os.Stat(filepath.Join(dir, bin))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return "", fmt.Errorf("no executable %s in %s", bin, dir)
		}
	}
	return dir, nil
}

// start brings up etcd and kube-apiserver on free loopback ports, with envtest's
// temporary directories and certificates, and installs the embedded CRDs.
func start(dir string) (*Server, error) {
	crds, err := embeddedCRDs()
	if err != nil {
		return nil, err
	}
	noExisting := false
	env := &envtest.Environment{
		BinaryAssetsDirectory: dir,
		// Always a fresh server: USE_EXISTING_CLUSTER must not point the tests at a
		// developer's real cluster.
		UseExistingCluster: &noExisting,
		// envtest's 20 s default is tight for a 2-core machine that is also compiling.
		ControlPlaneStartTimeout: time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
		CRDInstallOptions: envtest.CRDInstallOptions{
			CRDs:    crds,
			MaxTime: time.Minute,
		},
	}
	cfg, err := env.Start()
	if err != nil {
		// A half-started control plane still has processes to stop.
		if stopErr := env.Stop(); stopErr != nil {
			err = errors.Join(err, stopErr)
		}
		return nil, fmt.Errorf("starting the API server from %s (set KUBEBUILDER_ATTACH_CONTROL_PLANE_OUTPUT=true to see its output): %w", dir, err)
	}
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("API server client: %w", err), env.Stop())
	}
	return &Server{Config: cfg, Client: c, env: env}, nil
}

func (s *Server) stop() error {
	if err := s.env.Stop(); err != nil {
		return fmt.Errorf("stopping the API server: %w", err)
	}
	return nil
}

// embeddedCRDs decodes every CustomResourceDefinition in testdata/crds.
func embeddedCRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	names, err := fs.Glob(crdFiles, "testdata/crds/*.yaml")
	if err != nil {
		return nil, err
	}
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, name := range names {
		data, err := crdFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		some, err := decodeCRDs(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		crds = append(crds, some...)
	}
	if len(crds) == 0 {
		return nil, errors.New("no CRDs embedded from testdata/crds")
	}
	return crds, nil
}

// decodeCRDs decodes a YAML or JSON stream of CustomResourceDefinitions;
// any other kind is an error.
func decodeCRDs(data []byte) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	dec := k8syaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var crds []*apiextensionsv1.CustomResourceDefinition
	for {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := dec.Decode(crd); errors.Is(err, io.EOF) {
			return crds, nil
		} else if err != nil {
			return nil, err
		}
		if crd.Kind == "" { // an empty document, e.g. before a leading ---
			continue
		}
		if crd.Kind != "CustomResourceDefinition" {
			return nil, fmt.Errorf("%s %q is not a CustomResourceDefinition", crd.Kind, crd.Name)
		}
		crds = append(crds, crd)
	}
}

// InstallCRDs creates (or, when they exist, updates) the
// CustomResourceDefinitions of the YAML or JSON stream yamlDocs, and waits
// until the API server serves their kinds, so that objects of them can be
// created as soon as it returns. It is how a test installs CRDs beyond the
// embedded ones, e.g. emac's own from config/crd. Installing the same CRDs
// again is harmless, so tests sharing a server through [Main] may each call
// it. The API server validates each CRD: a schema that is not structural is
// an error here.
//
// It waits at most until ctx's deadline, or a minute without one.
func (s *Server) InstallCRDs(ctx context.Context, yamlDocs []byte) error {
	crds, err := decodeCRDs(yamlDocs)
	if err != nil {
		return err
	}
	if len(crds) == 0 {
		return errors.New("InstallCRDs: no CustomResourceDefinition in the input")
	}
	for _, crd := range crds {
		if err := s.applyCRD(ctx, crd); err != nil {
			return fmt.Errorf("CustomResourceDefinition %s: %w", crd.Name, err)
		}
	}
	wait := envtest.CRDInstallOptions{MaxTime: time.Minute, PollInterval: 50 * time.Millisecond}
	if deadline, ok := ctx.Deadline(); ok {
		wait.MaxTime = time.Until(deadline)
	}
	// envtest's wait also checks discovery, which lags behind Established;
	// the client's REST mapper needs discovery to know the new kinds.
	if err := envtest.WaitForCRDs(s.Config, crds, wait); err != nil {
		return fmt.Errorf("waiting for the CRDs to be served: %w", err)
	}
	return nil
}

// applyCRD creates crd, or updates it in place when it exists.
func (s *Server) applyCRD(ctx context.Context, crd *apiextensionsv1.CustomResourceDefinition) error {
	err := s.Client.Create(ctx, crd)
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		existing := &apiextensionsv1.CustomResourceDefinition{}
		if err := s.Client.Get(ctx, client.ObjectKeyFromObject(crd), existing); err != nil {
			return err
		}
		crd.SetResourceVersion(existing.GetResourceVersion())
		return s.Client.Update(ctx, crd)
	})
}

// ExpectDryRun dry-runs yamlDocs (DryRun, within 30s) and fails t unless
// the server accepts them when want is empty, or rejects them with an error
// containing every string of want: the table of accepted and refused objects
// that tests of manifests run.
func (s *Server) ExpectDryRun(t testing.TB, yamlDocs string, want []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := s.DryRun(ctx, []byte(yamlDocs))
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("DryRun: got %v, want accepted", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("DryRun: got accepted, want an error containing %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("DryRun: got %q, want it to contain %q", err, w)
		}
	}
}

// DryRun creates every object of the YAML (or JSON) stream yamlDocs with server-side
// dry-run, so the API server validates it fully (schema, CEL rules, admission) and
// persists nothing. Field validation is strict: an unknown or duplicate field is an
// error, not a warning, because it is almost always a bug in the generator.
//
// A namespaced object without a namespace goes to "default", as with kubectl. Its
// namespace is created for real first if missing, since a dry-run namespace would not
// exist for the objects in it. An object that already exists (such as a Namespace
// created that way) is validated as a dry-run update instead.
//
// The error names each rejected object (Kind namespace/name) with the API server's
// message; all rejections are joined into one error.
func (s *Server) DryRun(ctx context.Context, yamlDocs []byte) error {
	objs, err := decodeObjects(yamlDocs)
	if err != nil {
		return err
	}
	var errs []error
	for _, obj := range objs {
		if err := s.dryRun(ctx, obj); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", describe(obj), err))
		}
	}
	return errors.Join(errs...)
}

func (s *Server) dryRun(ctx context.Context, obj *unstructured.Unstructured) error {
	namespaced, err := s.Client.IsObjectNamespaced(obj)
	if err != nil {
		return err
	}
	if namespaced {
		if obj.GetNamespace() == "" {
			obj.SetNamespace(metav1.NamespaceDefault)
		}
		if err := s.ensureNamespace(ctx, obj.GetNamespace()); err != nil {
			return err
		}
	} else if obj.GetNamespace() != "" {
		return fmt.Errorf("%s is cluster-scoped but has namespace %q", obj.GetKind(), obj.GetNamespace())
	}
	err = s.Client.Create(ctx, obj, client.DryRunAll, client.FieldValidation(metav1.FieldValidationStrict))
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	existing := &unstructured.Unstructured{}
	existing.SetGroupVersionKind(obj.GroupVersionKind())
	if err := s.Client.Get(ctx, client.ObjectKeyFromObject(obj), existing); err != nil {
		return err
	}
	obj.SetResourceVersion(existing.GetResourceVersion())
	return s.Client.Update(ctx, obj, client.DryRunAll, client.FieldValidation(metav1.FieldValidationStrict))
}

// ensureNamespace creates namespace name unless it exists. AlreadyExists is success:
// tests sharing the server may race to create the same namespace.
func (s *Server) ensureNamespace(ctx context.Context, name string) error {
	ns := &corev1.Namespace{}
	err := s.Client.Get(ctx, client.ObjectKey{Name: name}, ns)
	if !apierrors.IsNotFound(err) {
		return err
	}
	ns.Name = name
	if err := s.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return nil
}

// decodeObjects splits a YAML or JSON stream into objects, skipping empty documents.
func decodeObjects(yamlDocs []byte) ([]*unstructured.Unstructured, error) {
	dec := k8syaml.NewYAMLOrJSONDecoder(bytes.NewReader(yamlDocs), 4096)
	var objs []*unstructured.Unstructured
	for doc := 1; ; doc++ {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		if m == nil {
			continue
		}
		obj := &unstructured.Unstructured{Object: m}
		if obj.GetAPIVersion() == "" || obj.GetKind() == "" {
			return nil, fmt.Errorf("document %d: apiVersion and kind are required", doc)
		}
		objs = append(objs, obj)
	}
	if len(objs) == 0 {
		return nil, errors.New("no Kubernetes objects in the input")
	}
	return objs, nil
}

// describe names obj as "Kind namespace/name", or "Kind name" when cluster-scoped.
func describe(obj *unstructured.Unstructured) string {
	name := obj.GetName()
	if name == "" && obj.GetGenerateName() != "" {
		name = obj.GetGenerateName() + "*"
	}
	if ns := obj.GetNamespace(); ns != "" {
		return obj.GetKind() + " " + ns + "/" + name
	}
	return obj.GetKind() + " " + name
}
