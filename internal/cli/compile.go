package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/emac-dev/emac/internal/bounds"
	"github.com/emac-dev/emac/internal/compile"
	"github.com/emac-dev/emac/internal/service"
	"github.com/emac-dev/emac/internal/spec"
)

func (a *app) compileCmd() *cobra.Command {
	var (
		out          string
		allowOutside bool
		sloDirs      []string
		maxWork      int64
		hist         histFlags
	)
	cmd := &cobra.Command{
		Use:   "compile -o DIR [flags] FILE|DIR|- ...",
		Short: "Write each journey's Prometheus rules, rollout gates, guards, OpenSLO files and report",
		Long: `compile checks the specs like check does and, when they are valid, writes each
journey's artifacts under DIR/<journey>/:

  prometheus/rules.yaml          recording rules (component error ratios per window,
                                 the journey SLI for both bounds), metadata, alerts
  prometheus/prometheusrule.yaml the same as a PrometheusRule object
  prometheus/rules_test.yaml     promtool tests of the alerts
  argo/                          Argo Rollouts AnalysisTemplates and a Rollout snippet
  flagger/                       Flagger MetricTemplates and a Canary analysis snippet
  guards/                        each action's guard as Rego (and a
                                 ValidatingAdmissionPolicy for Kubernetes targets)
  openslo/, sloth/               the journey and the required component targets
  report.md, report.json         bounds, binding scenario, contributors, required
                                 targets, latency, provenance and the flow as a
                                 Mermaid graph
  latency.svg                    the latency CDF and its dependence-free band (when
                                 the journey has latency)

The same input always gives the same bytes. Exit status as for check.`,
		Example: `  emac compile -o out examples/native/checkout.yaml
  promtool check rules out/checkout/prometheus/rules.yaml
  promtool test rules out/checkout/prometheus/rules_test.yaml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return &exitError{code: ExitError, msg: "compile needs -o DIR"}
			}
			opts := compile.Options{Check: service.Options{
				Load:   spec.Options{AllowOutside: allowOutside, SLODirs: sloDirs, Stdin: a.stdin},
				Bounds: bounds.Options{MaxWork: maxWork},
			}}
			if err := hist.apply(&opts.Check); err != nil {
				return err
			}
			r, err := compile.Compile(cmd.Context(), args, opts)
			if err != nil {
				return err
			}
			ds := r.Check.Diagnostics
			if err := a.diagnose(ds, r.Check.Sources); err != nil {
				return err
			}
			if err := r.Write(out); err != nil {
				return err
			}
			for _, j := range r.Journeys {
				fmt.Fprintf(a.stdout, "%s: %d files in %s/%s (%s)\n", j.Name, len(j.Files), out, j.Name, j.Input.Result.Decision)
			}
			if len(ds) > 0 {
				return &exitError{code: ExitWarnings}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&out, "out", "o", "", "directory to write DIR/<journey>/… into")
	f.BoolVar(&allowOutside, "allow-outside", false, "let sloRef paths be absolute or leave the spec's Git work tree")
	f.StringArrayVar(&sloDirs, "slo-dir", nil, "extra directory to search for atomicSLORef/openslo: names (repeatable)")
	f.Int64Var(&maxWork, "exact-budget", bounds.DefaultMaxWork, "work allowed per region for the exact pessimistic bound before a sound bound is used (-1: no limit)")
	hist.register(f)
	return cmd
}
