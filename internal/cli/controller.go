package cli

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	prom "github.com/prometheus/common/model"
	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client/config"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/emac-dev/emac/internal/controller"
	"github.com/emac-dev/emac/internal/observe"
)

func (a *app) controllerCmd() *cobra.Command {
	var opts controller.Options
	var kubeconfig, window, freshness, logFormat string
	var qps float64
	cmd := &cobra.Command{
		Use:   "controller [flags]",
		Short: "Run the Kubernetes controller of Journeys, ComponentCatalogs and ModelDeltas",
		Long: `controller reconciles emac's Kubernetes kinds (docs/controller.md): for each
Journey it compiles the spec with the ComponentCatalogs of its namespace,
applies the artifacts that are Kubernetes objects (PrometheusRule, Argo
AnalysisTemplate, Flagger MetricTemplate, ValidatingAdmissionPolicy and
binding) as objects the journey owns, skipping kinds whose CRDs are not
installed, and writes the decision, the bounds [A-, A+] and conditions to
its status.

Without --prometheus it decides in contract mode (SLO targets); with it, in
observed mode from the components' telemetry, every --interval.

It serves /metrics (--metrics-bind-address) and /healthz, /readyz
(--health-probe-bind-address), and stops on SIGINT or SIGTERM.`,
		Example: `  # against the current kubeconfig context, contract mode
  emac controller --metrics-bind-address 0 --health-probe-bind-address 0

  # in a cluster: observed mode, leader election
  emac controller --prometheus http://prometheus.monitoring:9090 --leader-elect \
    --leader-election-namespace emac-system`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fail := func(format string, args ...any) error {
				return &exitError{code: ExitError, msg: fmt.Sprintf(format, args...)}
			}
			if opts.Interval <= 0 {
				return fail("--interval %v is not positive", opts.Interval)
			}
			w, err := prom.ParseDuration(window)
			if err != nil || w <= 0 {
				return fail("--window %q is not a positive Prometheus duration such as 1h", window)
			}
			f, err := prom.ParseDuration(freshness)
			if err != nil || f <= 0 {
				return fail("--freshness %q is not a positive Prometheus duration such as 5m", freshness)
			}
			opts.Observe.Window, opts.Observe.Freshness = time.Duration(w), time.Duration(f)
			if opts.Prometheus != "" {
				// the URL is checked now rather than after the manager starts
				if _, err := observe.New(opts.Prometheus, opts.Observe); err != nil {
					return fail("--prometheus: %v", err)
				}
			}
			opts.QPS = float32(qps)
			var h slog.Handler
			switch logFormat {
			case "json":
				h = slog.NewJSONHandler(a.stderr, nil)
			case "text":
				h = slog.NewTextHandler(a.stderr, nil)
			default:
				return fail("--log-format: use json or text")
			}
			opts.Logger = logr.FromSlogHandler(h)
			// controller-runtime and client-go log through globals of their
			// own; this command is the process's entry point, so it sets them.
			ctrllog.SetLogger(opts.Logger)
			klog.SetLogger(opts.Logger)
			cfg, err := restConfig(kubeconfig)
			if err != nil {
				return fail("kubeconfig: %v", err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			opts.Logger.Info("starting", "server", cfg.Host, "namespace", opts.Namespace, "prometheus", opts.Prometheus, "interval", opts.Interval.String())
			if err := controller.Run(ctx, cfg, opts); err != nil {
				return fail("%v", err)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&kubeconfig, "kubeconfig", "", "a kubeconfig file (default: $KUBECONFIG, the in-cluster service account, then ~/.kube/config)")
	fl.StringVar(&opts.Prometheus, "prometheus", "", "the Prometheus to decide in observed mode from (its base URL; default: contract mode)")
	fl.DurationVar(&opts.Interval, "interval", controller.DefaultInterval, "how often observed mode re-evaluates each journey")
	fl.StringVar(&window, "window", "1h", "observed mode's gate window: the components' availability is measured over it")
	fl.StringVar(&freshness, "freshness", "5m", "observed mode: a component with no data this recent is stale")
	fl.Float64Var(&opts.Observe.MinCalls, "min-calls", observe.DefaultMinCalls, "observed mode: the least number of calls each measured component must have made in the window")
	fl.BoolVar(&opts.NoHistograms, "no-histograms", false, "observed mode: do not read the components' latencyHistogram")
	fl.StringVar(&opts.Namespace, "namespace", "", "watch this namespace only (default: all)")
	fl.BoolVar(&opts.LeaderElection, "leader-elect", false, "elect one active replica through the Lease "+controller.LeaderElectionID)
	fl.StringVar(&opts.LeaderElectionNamespace, "leader-election-namespace", "", "the namespace of the leader election Lease (default: the controller's own, in a cluster)")
	fl.StringVar(&opts.MetricsBindAddress, "metrics-bind-address", controller.DefaultMetricsBindAddress, `the address /metrics is served on ("0": off)`)
	fl.StringVar(&opts.HealthProbeBindAddress, "health-probe-bind-address", controller.DefaultHealthProbeBindAddress, `the address /healthz and /readyz are served on ("0": off)`)
	fl.IntVar(&opts.MaxConcurrentReconciles, "max-concurrent-reconciles", 0, "journeys reconciled at once (default: 4 per CPU)")
	fl.Float64Var(&qps, "kube-api-qps", controller.DefaultQPS, "requests per second to the API server")
	fl.IntVar(&opts.Burst, "kube-api-burst", controller.DefaultBurst, "burst of requests to the API server")
	fl.StringVar(&logFormat, "log-format", "json", "structured log format: json or text")
	return cmd
}

// restConfig loads the client configuration: the file named, else
// controller-runtime's search ($KUBECONFIG, in-cluster, ~/.kube/config).
func restConfig(path string) (*rest.Config, error) {
	if path == "" {
		return config.GetConfig()
	}
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: path}, &clientcmd.ConfigOverrides{}).ClientConfig()
}
