package controller

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	kubev1 "github.com/emac-dev/emac/api/kube/v1alpha1"
	"github.com/emac-dev/emac/config/crd"
	"github.com/emac-dev/emac/internal/kubetest"
)

func TestMain(m *testing.M) {
	// controller-runtime logs through a global logger, and prints a stack
	// trace when nobody sets it; the tests' managers log through
	// Options.Logger (see testLogger).
	log.SetLogger(logr.Discard())
	klog.SetLogger(logr.Discard()) // client-go's reflectors, when a test stops a manager
	kubetest.Main(m)
}

// testLogger is the managers' logger: silent unless EMAC_TEST_LOG is set,
// since the controller logs every transient error it retries.
func testLogger() logr.Logger {
	if os.Getenv("EMAC_TEST_LOG") == "" {
		return logr.Discard()
	}
	return funcr.New(func(prefix, args string) { fmt.Fprintln(os.Stderr, prefix, args) }, funcr.Options{})
}

// counter counts the writes made through the manager's client.
type counter struct{ n atomic.Int64 }

func (c *counter) wrap(cl client.Client) client.Client { return &countingClient{Client: cl, n: &c.n} }
func (c *counter) get() int64                          { return c.n.Load() }

// countingClient counts Create, Update, Patch, Delete and DeleteAllOf, on
// objects and on their subresources (status).
type countingClient struct {
	client.Client
	n *atomic.Int64
}

func (c *countingClient) Create(ctx context.Context, o client.Object, opts ...client.CreateOption) error {
	c.n.Add(1)
	return c.Client.Create(ctx, o, opts...)
}
func (c *countingClient) Update(ctx context.Context, o client.Object, opts ...client.UpdateOption) error {
	c.n.Add(1)
	return c.Client.Update(ctx, o, opts...)
}
func (c *countingClient) Patch(ctx context.Context, o client.Object, p client.Patch, opts ...client.PatchOption) error {
	c.n.Add(1)
	return c.Client.Patch(ctx, o, p, opts...)
}
func (c *countingClient) Delete(ctx context.Context, o client.Object, opts ...client.DeleteOption) error {
	c.n.Add(1)
	return c.Client.Delete(ctx, o, opts...)
}
func (c *countingClient) DeleteAllOf(ctx context.Context, o client.Object, opts ...client.DeleteAllOfOption) error {
	c.n.Add(1)
	return c.Client.DeleteAllOf(ctx, o, opts...)
}
func (c *countingClient) Status() client.SubResourceWriter {
	return &countingSub{SubResourceWriter: c.Client.Status(), n: c.n}
}
func (c *countingClient) SubResource(s string) client.SubResourceClient {
	sc := c.Client.SubResource(s)
	return &countingSubClient{SubResourceClient: sc, w: countingSub{SubResourceWriter: sc, n: c.n}}
}

type countingSub struct {
	client.SubResourceWriter
	n *atomic.Int64
}

func (c *countingSub) Create(ctx context.Context, o, sub client.Object, opts ...client.SubResourceCreateOption) error {
	c.n.Add(1)
	return c.SubResourceWriter.Create(ctx, o, sub, opts...)
}
func (c *countingSub) Update(ctx context.Context, o client.Object, opts ...client.SubResourceUpdateOption) error {
	c.n.Add(1)
	return c.SubResourceWriter.Update(ctx, o, opts...)
}
func (c *countingSub) Patch(ctx context.Context, o client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
	c.n.Add(1)
	return c.SubResourceWriter.Patch(ctx, o, p, opts...)
}

type countingSubClient struct {
	client.SubResourceClient
	w countingSub
}

func (c *countingSubClient) Create(ctx context.Context, o, sub client.Object, opts ...client.SubResourceCreateOption) error {
	return c.w.Create(ctx, o, sub, opts...)
}
func (c *countingSubClient) Update(ctx context.Context, o client.Object, opts ...client.SubResourceUpdateOption) error {
	return c.w.Update(ctx, o, opts...)
}
func (c *countingSubClient) Patch(ctx context.Context, o client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
	return c.w.Patch(ctx, o, p, opts...)
}

// env is a running controller on the shared API server, watching one
// namespace of its own.
type env struct {
	t      testing.TB
	srv    *kubetest.Server
	c      client.Client // the test's own client, not counted
	ns     string
	writes *counter
	r      *JourneyReconciler
	stop   func()
}

var crdsOnce sync.Once

// installCRDs installs emac's CRDs (config/crd/bases) once per server.
func installCRDs(t testing.TB, srv *kubetest.Server) {
	t.Helper()
	var err error
	crdsOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err = srv.InstallCRDs(ctx, crd.YAML())
	})
	if err != nil {
		t.Fatalf("installing emac's CRDs: %v", err)
	}
}

// start runs a controller with opts (the namespace, addresses and logger
// are set here) on a fresh namespace, as a cluster admin.
func start(t testing.TB, opts Options) *env {
	t.Helper()
	return startAs(t, nil, opts)
}

// startAs is start with the controller's client configuration changed by
// as (nil: none), e.g. to impersonate a less privileged user.
func startAs(t testing.TB, as func(*rest.Config), opts Options) *env {
	t.Helper()
	srv := kubetest.Start(t)
	installCRDs(t, srv)
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "emac-"}}
	if err := srv.Client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	scheme, err := Scheme()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(srv.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: srv, c: c, ns: ns.Name, writes: &counter{}}
	opts.Namespace = ns.Name
	opts.MetricsBindAddress, opts.HealthProbeBindAddress = "0", "0"
	opts.Logger = testLogger()
	cfg := rest.CopyConfig(srv.Config)
	if as != nil {
		as(cfg)
	}
	mgr, r, err := newManager(cfg, opts, hooks{wrapClient: e.writes.wrap, skipNameValidation: true})
	if err != nil {
		t.Fatal(err)
	}
	e.r = r
	mctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	var once sync.Once
	e.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("manager: %v", err)
			}
		})
	}
	t.Cleanup(e.stop)
	return e
}

// apply creates or updates an object from YAML with server-side apply, as
// `kubectl apply --server-side` would; fields the YAML no longer holds are
// removed. The object goes to the env's namespace unless cluster-scoped.
func (e *env) apply(doc string) *unstructured.Unstructured {
	e.t.Helper()
	u := decode(e.t, doc)
	if ok, err := e.c.IsObjectNamespaced(u); err != nil {
		e.t.Fatal(err)
	} else if ok {
		u.SetNamespace(e.ns)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.c.Patch(ctx, u, client.Apply, client.FieldOwner("test"), client.ForceOwnership); err != nil {
		e.t.Fatalf("applying %s %s: %v", u.GetKind(), u.GetName(), err)
	}
	return u
}

func decode(t testing.TB, doc string) *unstructured.Unstructured {
	t.Helper()
	var m map[string]any
	if err := k8syaml.NewYAMLOrJSONDecoder(strings.NewReader(doc), 4096).Decode(&m); err != nil {
		t.Fatalf("decoding test YAML: %v", err)
	}
	return &unstructured.Unstructured{Object: m}
}

// journey reads a Journey's metadata and status. Its spec is left out:
// the tests' spec errors include values the wire types cannot decode.
func (e *env) journey(name string) (*kubev1.Journey, error) {
	u := newObject(journeyGVK)
	if err := e.c.Get(context.Background(), client.ObjectKey{Namespace: e.ns, Name: name}, u); err != nil {
		return nil, err
	}
	j := &kubev1.Journey{}
	err := runtime.DefaultUnstructuredConverter.FromUnstructured(map[string]any{"metadata": u.Object["metadata"], "status": u.Object["status"]}, j)
	return j, err
}

// waitFor polls cond until it holds, failing the test with its last
// explanation after timeout.
func (e *env) waitFor(timeout time.Duration, what string, cond func() (bool, string)) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, why := cond()
		if ok {
			return
		}
		last = why
		if time.Now().After(deadline) {
			e.t.Fatalf("waiting %v for %s: %s", timeout, what, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitJourney waits until journey name's status describes its current
// generation and check accepts it, and returns it.
func (e *env) waitJourney(name string, check func(j *kubev1.Journey) string) *kubev1.Journey {
	e.t.Helper()
	var j *kubev1.Journey
	e.waitFor(60*time.Second, "journey "+name, func() (bool, string) {
		var err error
		if j, err = e.journey(name); err != nil {
			return false, err.Error()
		}
		if j.Status.ObservedGeneration != j.Generation {
			return false, fmt.Sprintf("observedGeneration %d, generation %d", j.Status.ObservedGeneration, j.Generation)
		}
		if why := check(j); why != "" {
			return false, why
		}
		return true, ""
	})
	return j
}

// ready is a waitJourney check: Ready=True.
func ready(j *kubev1.Journey) string {
	return conditionIs(j, kubev1.ConditionReady, metav1.ConditionTrue, "")
}

// conditionIs checks a condition's status and, unless empty, its reason.
func conditionIs(j *kubev1.Journey, typ string, status metav1.ConditionStatus, reason string) string {
	c := meta.FindStatusCondition(j.Status.Conditions, typ)
	if c == nil {
		return "no condition " + typ
	}
	if c.Status != status || (reason != "" && c.Reason != reason) {
		return fmt.Sprintf("%s: got %s %s %q, want %s %s", typ, c.Status, c.Reason, c.Message, status, reason)
	}
	return ""
}

// get reads an object of kind gvk (its metadata and content).
func (e *env) get(gvk schema.GroupVersionKind, namespace, name string) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	err := e.c.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: name}, u)
	return u, err
}

// gone waits until an object no longer exists.
func (e *env) gone(gvk schema.GroupVersionKind, namespace, name string) {
	e.t.Helper()
	e.waitFor(30*time.Second, fmt.Sprintf("%s %s/%s to be deleted", gvk.Kind, namespace, name), func() (bool, string) {
		_, err := e.get(gvk, namespace, name)
		if apierrors.IsNotFound(err) {
			return true, ""
		}
		return false, fmt.Sprintf("get: %v", err)
	})
}

// events lists the Events of journey name as "Type Reason: note".
func (e *env) events(name string) []string {
	var l corev1.EventList
	if err := e.c.List(context.Background(), &l, client.InNamespace(e.ns)); err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, ev := range l.Items {
		if ev.InvolvedObject.Kind == "Journey" && ev.InvolvedObject.Name == name {
			out = append(out, ev.Type+" "+ev.Reason+": "+ev.Message)
		}
	}
	return out
}

// waitEvent waits for an Event of journey name containing want.
func (e *env) waitEvent(name, want string) {
	e.t.Helper()
	e.waitFor(30*time.Second, "an event "+want, func() (bool, string) {
		evs := e.events(name)
		for _, ev := range evs {
			if strings.Contains(ev, want) {
				return true, ""
			}
		}
		return false, fmt.Sprintf("events %q", evs)
	})
}

// reconciles is how many Journey reconciles controller-runtime counted
// (across this process's managers, which share the metric: measure deltas).
func reconciles(t testing.TB) float64 {
	t.Helper()
	fams, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0.0
	for _, f := range fams {
		if f.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" && l.GetValue() == "journey" {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}

// readFile reads a test fixture.
func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// quiet asserts that no write is made for d.
func (e *env) quiet(d time.Duration, why string) {
	e.t.Helper()
	before := e.writes.get()
	time.Sleep(d)
	if got := e.writes.get() - before; got != 0 {
		e.t.Errorf("%s: got %d writes in %v, want 0", why, got, d)
	}
}
