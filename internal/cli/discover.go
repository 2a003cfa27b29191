package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/emac-dev/emac/internal/discovery"
	"github.com/emac-dev/emac/internal/discovery/input"
	"github.com/emac-dev/emac/internal/discovery/prom"
	"github.com/emac-dev/emac/internal/service"
)

func (a *app) discoverCmd() *cobra.Command {
	var (
		output   string
		format   string
		window   int
		sample   int
		progress bool
		specs    []string
		promURL  string
		since    time.Duration
		lookback time.Duration
	)
	cmd := &cobra.Command{
		Use:   "discover [flags] INPUT...",
		Short: "Infer journeys' flows, components and failure domains from traces",
		Long: `discover reads traces — OTLP JSON (one document or one per line) and protobuf,
Jaeger JSON, Zipkin v2 JSON, the Nezha CSV span tables — from files,
directories (recursively), gzip and standard input ("-"), and prints a
DiscoveredModel: the components called, the call edges with their
probabilities and intervals, a flow per operation in the spec's own syntax
(entry operations first), failure-domain hypotheses, each with its
provenance and a confidence on a stated statistical basis
(docs/discovery.md).

Traces are assembled in a bounded window (--window spans held at most) and
folded into counts: memory stays flat however long the input. Corrupt
records, missing parents, duplicate spans, cycles and clock skew are counted
and reported, never fatal.

With --spec, discover prints a ModelDelta for each journey of the spec
instead: every change the evidence suggests (failure-domain memberships,
the flow, branch weights, components not called or not in the spec), each
with its ΔA- (high-impact from the journey's highImpact, 0.001 by default),
its confidence and evidence; the decision before and after; the
conservative (shared) assignment while a domain conflict is unresolved; and
the patch "emac accept" would make to the spec.

With --prometheus URL, the evidence is read from a Prometheus server (or
Mimir, Thanos: any server of its query API) instead of trace files: what
emac's OpenTelemetry Collector connector exported there, summed over the
collectors, gives the same model as the same traces read from files
(latency summaries to the exported buckets; docs/collector.md). When only
the collector's servicegraph and spanmetrics connectors' metrics exist,
they give services, edges and their counts and latencies, but no flows, and
the model says so (confidence 0, with its basis). INPUTs may then still name
mesh configuration, topology and fault labels, but not traces.

Exit status: 0 fine, 1 when an input cannot be opened or read or a spec
has errors.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if promURL == "" {
				return cobra.MinimumNArgs(1)(cmd, args)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			switch output {
			case "json", "yaml":
			default:
				return &exitError{code: ExitError, msg: fmt.Sprintf("unknown output format %q (use json or yaml)", output)}
			}
			opts := service.DiscoverOptions{
				Discovery:      discovery.Options{MaxSpans: window, Sample: sample},
				Input:          input.Options{Format: format, Stdin: a.stdin},
				Prometheus:     promURL,
				PrometheusRead: prom.Options{Since: since, Lookback: lookback},
			}
			if progress || input.IsTerminal(a.stderr) {
				opts.Input.Progress = a.stderr
			}
			d, err := service.Discover(a.ctx, args, opts)
			if err != nil {
				return &exitError{code: ExitError, msg: err.Error()}
			}
			if len(specs) == 0 {
				if output == "json" {
					return writeJSON(a.stdout, d.Model)
				}
				return writeYAML(a.stdout, d.Model)
			}
			rep, deltas, err := service.Delta(a.ctx, specs, d, service.Options{})
			if err != nil {
				return &exitError{code: ExitError, msg: err.Error()}
			}
			if err := a.diagnose(rep.Diagnostics, rep.Sources); err != nil {
				return err
			}
			if output == "json" {
				if len(deltas) == 1 {
					return writeJSON(a.stdout, deltas[0])
				}
				return writeJSON(a.stdout, deltas)
			}
			for i, md := range deltas {
				if i > 0 {
					fmt.Fprintln(a.stdout, "---")
				}
				if err := writeYAML(a.stdout, md); err != nil {
					return err
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&output, "output", "o", "yaml", "output format: json or yaml")
	f.StringVar(&format, "format", "", "trace format of every input (default: told from each input's first bytes): "+strings.Join(input.FormatNames(), ", "))
	f.IntVar(&window, "window", 0, "spans held in open traces at most (default 65536)")
	f.IntVar(&sample, "sample", 0, "invocations per operation kept to infer its flow (default 5000)")
	f.StringArrayVar(&specs, "spec", nil, "compare with this accepted spec (file or directory; repeatable) and print a ModelDelta per journey instead")
	f.BoolVar(&progress, "progress", false, "show progress on standard error even when it is not a terminal")
	f.StringVar(&promURL, "prometheus", "", "read the evidence from this Prometheus server's query API (e.g. http://prometheus:9090), as emac's collector connector exported it, instead of trace files")
	f.DurationVar(&since, "since", 0, "with --prometheus: counts are the increase over this last while (default: the counters' latest values, since each collector started)")
	f.DurationVar(&lookback, "lookback", 0, "with --prometheus: how far back series are looked for, and the range co-failure windows are read over (default 1h)")
	return cmd
}
