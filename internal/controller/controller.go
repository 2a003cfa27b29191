// Package controller is emac's Kubernetes controller (`emac controller`): it
// reconciles the Journey, ComponentCatalog and ModelDelta kinds of
// api/kube/v1alpha1 with controller-runtime, as a thin driver of the same
// services the command line drives (internal/compile, internal/service).
//
// For each Journey it renders the object and its namespace's catalogs as
// spec files in memory and compiles them; it applies the artifacts that are
// Kubernetes objects (PrometheusRule, AnalysisTemplate, MetricTemplate,
// ValidatingAdmissionPolicy and binding) with server-side apply, skipping
// kinds whose APIs are not installed, and, for a journey with actions, the
// ConfigMap of live variables its admission policies read (live.go); it
// deletes the objects the journey no longer produces; and it writes the
// decision, the bounds and conditions to the status, only when they change. With a Prometheus URL it decides in
// observed mode, re-evaluating every Options.Interval.
//
// controller-runtime is large (about 600 packages), so only this package
// and the `emac controller` command import it; internal/service and
// internal/compile do not.
package controller

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"time"

	"github.com/go-logr/logr"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	kubev1 "github.com/emac-dev/emac/api/kube/v1alpha1"
	"github.com/emac-dev/emac/internal/observe"
)

// Defaults of Options.
const (
	DefaultInterval               = time.Minute
	DefaultMetricsBindAddress     = ":8080"
	DefaultHealthProbeBindAddress = ":8081"
	// DefaultQPS and DefaultBurst replace client-go's 20/30, which
	// throttle a controller making a few writes for each of a thousand
	// journeys (measured in docs/controller.md).
	DefaultQPS   = 200
	DefaultBurst = 400
	// LeaderElectionID names the Lease replicas compete for.
	LeaderElectionID = "emac-controller"
	// FieldOwner is the field manager of everything the controller applies.
	FieldOwner = "emac-controller"
)

// Options configure the controller; the zero value is the default.
type Options struct {
	// Prometheus is the base URL of the Prometheus that observed mode reads;
	// empty decides in contract mode (SLO targets).
	Prometheus string
	// Observe tunes observed mode (window, freshness, minimum calls,
	// query timeout); its zero value is observe's defaults.
	Observe observe.Options
	// NoHistograms stops observed mode from reading components'
	// latencyHistogram (latency then comes from their SLO points).
	NoHistograms bool
	// Interval is how often observed mode re-evaluates a journey (0:
	// DefaultInterval).
	Interval time.Duration
	// Namespace restricts the controller to one namespace ("": all).
	Namespace string
	// LeaderElection makes replicas elect one active controller, through
	// the Lease LeaderElectionID in LeaderElectionNamespace ("": the
	// controller's own namespace when it runs in a cluster).
	LeaderElection          bool
	LeaderElectionNamespace string
	// MetricsBindAddress serves /metrics ("": DefaultMetricsBindAddress;
	// "0": off). HealthProbeBindAddress serves /healthz and /readyz ("":
	// DefaultHealthProbeBindAddress; "0": off).
	MetricsBindAddress     string
	HealthProbeBindAddress string
	// MaxConcurrentReconciles is how many journeys are reconciled at once
	// (0: 4 per CPU; a reconcile mostly waits on the API server).
	MaxConcurrentReconciles int
	// QPS and Burst limit the controller's API requests (0: DefaultQPS,
	// DefaultBurst).
	QPS   float32
	Burst int
	// Logger receives the controller's logs (zero: discarded).
	Logger logr.Logger
}

// withDefaults fills in the zero fields.
func (o Options) withDefaults() Options {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.MetricsBindAddress == "" {
		o.MetricsBindAddress = DefaultMetricsBindAddress
	}
	if o.HealthProbeBindAddress == "" {
		o.HealthProbeBindAddress = DefaultHealthProbeBindAddress
	}
	if o.MaxConcurrentReconciles <= 0 {
		o.MaxConcurrentReconciles = 4 * runtime.GOMAXPROCS(0)
	}
	if o.QPS <= 0 {
		o.QPS = DefaultQPS
	}
	if o.Burst <= 0 {
		o.Burst = DefaultBurst
	}
	if o.Logger.GetSink() == nil {
		o.Logger = logr.Discard()
	}
	return o
}

// Run runs the controller against the cluster cfg reaches until ctx is
// done; it returns nil then, or the error that stopped it.
func Run(ctx context.Context, cfg *rest.Config, opts Options) error {
	mgr, _, err := newManager(cfg, opts, hooks{})
	if err != nil {
		return err
	}
	return mgr.Start(ctx)
}

// hooks let tests wrap the client (to count writes) and build several
// managers in one process.
type hooks struct {
	wrapClient         func(client.Client) client.Client
	skipNameValidation bool
}

// Scheme returns the kinds the controller reads and writes: client-go's
// built-in kinds (Events, Leases, ValidatingAdmissionPolicies), emac's,
// and CustomResourceDefinitions (watched for their metadata only).
func Scheme() (*kruntime.Scheme, error) {
	s := kruntime.NewScheme()
	for _, add := range []func(*kruntime.Scheme) error{clientgoscheme.AddToScheme, kubev1.AddToScheme, apiextensionsv1.AddToScheme} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// newManager builds the manager with the reconcilers, probes and metrics.
func newManager(cfg *rest.Config, opts Options, h hooks) (manager.Manager, *JourneyReconciler, error) {
	opts = opts.withDefaults()
	scheme, err := Scheme()
	if err != nil {
		return nil, nil, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = opts.QPS, opts.Burst
	var cacheOpts cache.Options
	if opts.Namespace != "" {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{opts.Namespace: {}}
	}
	mo := manager.Options{
		Scheme:                        scheme,
		Logger:                        opts.Logger,
		Cache:                         cacheOpts,
		Metrics:                       metricsserver.Options{BindAddress: opts.MetricsBindAddress},
		HealthProbeBindAddress:        opts.HealthProbeBindAddress,
		LeaderElection:                opts.LeaderElection,
		LeaderElectionID:              LeaderElectionID,
		LeaderElectionNamespace:       opts.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		Controller:                    config.Controller{MaxConcurrentReconciles: opts.MaxConcurrentReconciles},
	}
	if h.skipNameValidation {
		skip := true
		mo.Controller.SkipNameValidation = &skip
	}
	if h.wrapClient != nil {
		mo.NewClient = func(cfg *rest.Config, o client.Options) (client.Client, error) {
			c, err := client.New(cfg, o)
			if err != nil {
				return nil, err
			}
			return h.wrapClient(c), nil
		}
	}
	mgr, err := manager.New(cfg, mo)
	if err != nil {
		return nil, nil, fmt.Errorf("controller manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, nil, err
	}
	// Ready once the informers have synced: before, the controller would
	// act on an empty view of the cluster.
	if err := mgr.AddReadyzCheck("informers", func(req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), time.Second)
		defer cancel()
		if !mgr.GetCache().WaitForCacheSync(ctx) {
			return errors.New("informers not synced")
		}
		return nil
	}); err != nil {
		return nil, nil, err
	}
	m, err := registerMetrics(metrics.Registry)
	if err != nil {
		return nil, nil, err
	}
	r, err := newJourneyReconciler(mgr, opts, m)
	if err != nil {
		return nil, nil, err
	}
	if err := r.setup(mgr); err != nil {
		return nil, nil, err
	}
	if err := (&ModelDeltaReconciler{Client: mgr.GetClient()}).setup(mgr); err != nil {
		return nil, nil, err
	}
	return mgr, r, nil
}
