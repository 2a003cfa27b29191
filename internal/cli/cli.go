// Package cli is emac's command line: a thin driver of internal/service
// that parses flags, prints results as text, JSON or YAML, renders
// diagnostics and maps outcomes to exit codes.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/emac-dev/emac/internal/bounds"
	"github.com/emac-dev/emac/internal/diag"
	"github.com/emac-dev/emac/internal/service"
	"github.com/emac-dev/emac/internal/spec"
)

// Exit codes, as promtool's: 0 fine, 1 errors, 3 warnings only. 2 is a
// decision that --fail-on asked to fail on.
const (
	ExitOK       = 0
	ExitError    = 1
	ExitDecision = 2
	ExitWarnings = 3
)

// Version is set at build time with -ldflags "-X ...cli.Version=...".
var Version = "dev"

// exitError carries an exit code out of a command.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

type app struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// Main runs emac with the given arguments and returns the exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr}
	root := a.root()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(stderr, "emac:", ee.msg)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "emac:", err)
	return ExitError
}

func (a *app) root() *cobra.Command {
	root := &cobra.Command{
		Use:   "emac",
		Short: "Emergence-as-Code: journey objectives computed from the services they call",
		Long: `emac computes the availability a user journey (checkout, login, search) can
promise from the SLOs of the services it calls, its routing and redundancy,
and the failure domains they share: the interval [A-, A+], the assumption-free
floor, what binds, who contributes and what each dependency must deliver.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
	}
	root.AddCommand(a.checkCmd(), a.whatifCmd(), a.compileCmd(), a.simulateCmd(), a.discoverCmd(), a.acceptCmd(), a.gateCmd(), a.guardCmd(), a.serveCmd(), a.controllerCmd(), a.demoCmd(), a.schemaCmd(), a.versionCmd())
	return root
}

// common holds the flags shared by commands that read specs.
type common struct {
	output       string
	allowOutside bool
	sloDirs      []string
	maxWork      int64
	failOn       string
	// hist is registered by check and whatif only: the commands that
	// compose latency through service.Check.
	hist histFlags
}

func (c *common) register(cmd *cobra.Command, failOn bool) {
	f := cmd.Flags()
	f.StringVarP(&c.output, "output", "o", "text", "output format: text, json or yaml")
	f.BoolVar(&c.allowOutside, "allow-outside", false, "let sloRef paths be absolute or leave the spec's Git work tree")
	f.StringArrayVar(&c.sloDirs, "slo-dir", nil, "extra directory to search for atomicSLORef/openslo: names (repeatable)")
	f.Int64Var(&c.maxWork, "exact-budget", bounds.DefaultMaxWork, "work allowed per region for the exact pessimistic bound before a sound bound is used (-1: no limit)")
	if failOn {
		f.StringVar(&c.failOn, "fail-on", "never", "exit 2 when a journey's decision is at least this bad: never, fail or review")
	}
}

func (c *common) validate() error {
	switch c.output {
	case "text", "json", "yaml":
	default:
		return &exitError{code: ExitError, msg: fmt.Sprintf("unknown output format %q (use text, json or yaml)", c.output)}
	}
	switch c.failOn {
	case "", "never", "fail", "review":
	default:
		return &exitError{code: ExitError, msg: fmt.Sprintf("unknown --fail-on %q (use never, fail or review)", c.failOn)}
	}
	return nil
}

func (c *common) options(a *app) service.Options {
	return service.Options{
		Load:   spec.Options{AllowOutside: c.allowOutside, SLODirs: c.sloDirs, Stdin: a.stdin},
		Bounds: bounds.Options{MaxWork: c.maxWork},
	}
}

func (a *app) checkCmd() *cobra.Command {
	var c common
	cmd := &cobra.Command{
		Use:   "check [flags] FILE|DIR|- ...",
		Short: "Validate journey specs and compute their availability bounds and decisions",
		Long: `check reads Journey, ComponentCatalog and JourneyIntent documents from files and
directories ("-" reads standard input), reports every problem at once with its
position, and for each journey prints the optimistic bound A+ (independence),
the pessimistic bound A- (the worst failure-domain/persistence scenario, which
it names), the assumption-free floor, the decision, the top contributors and
the availability each component must deliver.

Exit status: 0 when every spec is valid, 1 on errors, 3 on warnings only,
2 when --fail-on is met.`,
		Example: `  # the paper's checkout journey
  emac check examples/checkout/spec/emac.checkout.yaml

  # every spec under a directory, as JSON for other tools
  emac check -o json specs/

  # fail a CI job when a journey's contract-mode decision is FAIL
  emac check --fail-on fail specs/

  # the components' latency measured: their latencyHistogram read from a
  # scraped page, or from Prometheus over the objective's window
  emac check --histograms metrics.txt specs/
  emac check --prometheus http://prometheus:9090 specs/`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.validate(); err != nil {
				return err
			}
			return a.run(cmd.Context(), args, c, c.options(a))
		},
	}
	c.register(cmd, true)
	c.hist.register(cmd.Flags())
	return cmd
}

func (a *app) whatifCmd() *cobra.Command {
	var c common
	var down []string
	cmd := &cobra.Command{
		Use:   "whatif --down NAME [--down NAME ...] FILE|DIR|- ...",
		Short: "Recompute the bounds with components or failure domains forced down",
		Long: `whatif forces the named components, or every member of the named failure
domains, down (availability 0) and prints the journey's bounds and decision
beside the unchanged ones.`,
		Example: `  # what does losing the payment network do to checkout?
  emac whatif --down payment-network examples/checkout/spec/emac.checkout.yaml

  # two components at once
  emac whatif --down paya --down cart -o json examples/checkout/spec/`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.validate(); err != nil {
				return err
			}
			if len(down) == 0 {
				return &exitError{code: ExitError, msg: "whatif needs at least one --down NAME"}
			}
			opts := c.options(a)
			opts.Down = down
			return a.run(cmd.Context(), args, c, opts)
		},
	}
	c.register(cmd, false)
	c.hist.register(cmd.Flags())
	cmd.Flags().StringArrayVar(&down, "down", nil, "component or failure domain to force down (repeatable)")
	return cmd
}

// diagnose renders the diagnostics, and when any is an error returns the
// exit error that counts them.
func (a *app) diagnose(ds diag.Diagnostics, src diag.Sources) error {
	if len(ds) > 0 {
		if err := diag.Render(a.stderr, ds, src); err != nil {
			return err
		}
	}
	if !ds.HasErrors() {
		return nil
	}
	n := 0
	for _, d := range ds {
		if d.Severity == diag.Error {
			n++
		}
	}
	return &exitError{code: ExitError, msg: fmt.Sprintf("%d error%s", n, plural(n))}
}

// run checks the inputs and prints the report.
func (a *app) run(ctx context.Context, paths []string, c common, opts service.Options) error {
	if err := c.hist.apply(&opts); err != nil {
		return err
	}
	rep, err := service.Check(ctx, paths, opts)
	if err != nil {
		return err
	}
	if err := a.diagnose(rep.Diagnostics, rep.Sources); err != nil {
		return err
	}
	if err := a.print(c.output, rep); err != nil {
		return err
	}
	if code := failOn(c.failOn, rep); code != ExitOK {
		return &exitError{code: code}
	}
	if len(rep.Diagnostics) > 0 {
		return &exitError{code: ExitWarnings}
	}
	return nil
}

func failOn(level string, rep *service.Report) int {
	for _, j := range rep.Result.Journeys {
		switch {
		case level == "fail" && j.Decision == "FAIL",
			level == "review" && (j.Decision == "FAIL" || j.Decision == "REVIEW"):
			return ExitDecision
		}
	}
	return ExitOK
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print emac's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(a.stdout, "emac %s\n", strings.TrimSpace(Version))
			return err
		},
	}
}
