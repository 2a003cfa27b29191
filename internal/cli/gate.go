package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	prom "github.com/prometheus/common/model"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/actionlog"
	"github.com/emac-dev/emac/internal/bounds"
	"github.com/emac-dev/emac/internal/observe"
	"github.com/emac-dev/emac/internal/promhist"
	"github.com/emac-dev/emac/internal/service"
	"github.com/emac-dev/emac/internal/spec"
)

// Exit codes of gate, whose decisions are its outcome: PASS 0, FAIL 1,
// REVIEW 2; an error (bad flags, a spec that does not load, an unknown
// journey) is 4, so that a pipeline can tell "no" from "broken".
const (
	ExitGateFail   = 1
	ExitGateReview = 2
	ExitGateError  = 4
)

// governFlags are the flags of the commands that decide in observed mode
// (gate, guard, serve).
type governFlags struct {
	specs        []string
	prometheus   string
	evidence     []string
	window       string
	freshness    string
	minCalls     float64
	timeout      time.Duration
	at           string
	allowOutside bool
	sloDirs      []string
	maxWork      int64
	noHistograms bool
	state        string
}

func (g *governFlags) register(f *pflag.FlagSet, state bool) {
	f.StringArrayVar(&g.specs, "spec", []string{"."}, "spec file or directory holding the journey (repeatable)")
	f.StringVar(&g.prometheus, "prometheus", "", "the Prometheus server to read the components' telemetry from (its base URL; required)")
	f.StringArrayVar(&g.evidence, "evidence", nil, "a ModelDelta file from `emac discover --spec` whose evidence the decision weighs (repeatable)")
	f.StringVar(&g.window, "window", "1h", "the gate window: the components' availability is measured over it")
	f.StringVar(&g.freshness, "freshness", "5m", "a component with no data this recent is stale")
	f.Float64Var(&g.minCalls, "min-calls", observe.DefaultMinCalls, "the least number of calls each measured component must have made in the window")
	f.DurationVar(&g.timeout, "timeout", observe.DefaultTimeout, "how long each Prometheus query may take")
	f.StringVar(&g.at, "at", "", "evaluate at this time (RFC 3339) instead of now, e.g. to replay an incident")
	f.BoolVar(&g.allowOutside, "allow-outside", false, "let sloRef paths be absolute or leave the spec's Git work tree")
	f.StringArrayVar(&g.sloDirs, "slo-dir", nil, "extra directory to search for atomicSLORef/openslo: names (repeatable)")
	f.Int64Var(&g.maxWork, "exact-budget", bounds.DefaultMaxWork, "work allowed per region for the exact pessimistic bound before a sound bound is used (-1: no limit)")
	f.BoolVar(&g.noHistograms, "no-histograms", false, "do not read the components' latencyHistogram (latency falls back to their SLO points)")
	if state {
		f.StringVar(&g.state, "state", "", "the action log that rate limits are kept in (default $XDG_STATE_HOME/emac/actions.log)")
	}
}

// governor loads the specs and evidence and builds the Governor. The
// closer releases the action log.
func (a *app) governor(ctx context.Context, g *governFlags, ttl time.Duration, actions bool) (*service.Governor, func(), error) {
	fail := func(format string, args ...any) (*service.Governor, func(), error) {
		return nil, nil, &exitError{code: ExitGateError, msg: fmt.Sprintf(format, args...)}
	}
	if g.prometheus == "" {
		return fail("--prometheus URL is required: observed mode reads the components' telemetry from it")
	}
	window, err := prom.ParseDuration(g.window)
	if err != nil || window <= 0 {
		return fail("--window %q is not a positive Prometheus duration such as 1h", g.window)
	}
	fresh, err := prom.ParseDuration(g.freshness)
	if err != nil || fresh <= 0 {
		return fail("--freshness %q is not a positive Prometheus duration such as 5m", g.freshness)
	}
	now := time.Now
	if g.at != "" {
		t, err := time.Parse(time.RFC3339, g.at)
		if err != nil {
			return fail("--at %q is not an RFC 3339 time such as 2026-11-24T10:00:00Z", g.at)
		}
		now = func() time.Time { return t }
	}
	obs, err := observe.New(g.prometheus, observe.Options{Window: time.Duration(window), Freshness: time.Duration(fresh), MinCalls: g.minCalls, Timeout: g.timeout, Now: now})
	if err != nil {
		return fail("--prometheus: %v", err)
	}
	opts := service.GovernorOptions{
		Options: service.Options{Load: spec.Options{AllowOutside: g.allowOutside, SLODirs: g.sloDirs, Stdin: a.stdin}, Bounds: bounds.Options{MaxWork: g.maxWork}},
		TTL:     ttl,
	}
	if !g.noHistograms {
		h, err := promhist.NewPrometheus(g.prometheus, promhist.PrometheusOptions{Timeout: g.timeout, At: atOf(g.at, now)})
		if err != nil {
			return fail("--prometheus: %v", err)
		}
		opts.Histograms = h
	}
	for _, f := range g.evidence {
		b, err := os.ReadFile(f)
		if err != nil {
			return fail("--evidence: %v", err)
		}
		mds, err := service.ReadDeltas(f, b)
		if err != nil {
			return fail("--evidence: %v", err)
		}
		opts.Evidence = append(opts.Evidence, mds...)
		opts.EvidenceFiles = append(opts.EvidenceFiles, f)
	}
	rep := service.Load(ctx, g.specs, opts.Options)
	if err := a.diagnose(rep.Diagnostics, rep.Sources); err != nil {
		if ee, ok := err.(*exitError); ok {
			ee.code = ExitGateError
		}
		return nil, nil, err
	}
	if len(rep.Journeys) == 0 {
		return fail("no journey in %s", strings.Join(g.specs, ", "))
	}
	closer := func() {}
	if actions {
		path := g.state
		if path == "" {
			if path, err = defaultState(); err != nil {
				return fail("--state: %v", err)
			}
		}
		// compaction must keep every run a limit still counts
		retention := actionlog.DefaultRetention
		for _, j := range rep.Journeys {
			for _, act := range j.Policy.Actions {
				retention = max(retention, act.Window)
			}
		}
		log, err := actionlog.Open(path, actionlog.Options{Retention: retention})
		if err != nil {
			return fail("--state: %v", err)
		}
		opts.Actions = log
		closer = func() { log.Close() }
	}
	return service.NewGovernor(rep.Journeys, obs, opts), closer, nil
}

// atOf is the fixed evaluation time, zero for now.
func atOf(at string, now func() time.Time) time.Time {
	if at == "" {
		return time.Time{}
	}
	return now()
}

// defaultState is $XDG_STATE_HOME/emac/actions.log (~/.local/state/…).
func defaultState() (string, error) {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "emac", "actions.log"), nil
}

func (a *app) gateCmd() *cobra.Command {
	var g governFlags
	var output string
	var canaries []string
	cmd := &cobra.Command{
		Use:   "gate --prometheus URL [flags] JOURNEY",
		Short: "Decide PASS, FAIL or REVIEW for a journey from live telemetry (observed mode)",
		Long: `gate reads each component's availability over the gate window from Prometheus
with the component's own telemetry queries, computes the journey's bounds
[A-, A+] from them, and decides as SPEC §6 says:

  1. REVIEW when data is missing, stale, too thin or unreadable, when the
     evidence (--evidence) is below minConfidence, conflicts or is stale;
  2. FAIL when the decision bound (A- by default) is below the objective,
     or the latency bound p_upper above its threshold;
  3. REVIEW when the evidence holds high-impact changes not yet accepted;
  4. PASS otherwise. Missing data is never PASS.

A canary (--canary component=selector) replaces its component's measured
availability by the canary's: the component's queries narrowed to the
selector's labels.

Exit status: 0 PASS, 1 FAIL, 2 REVIEW, 4 when no decision could be taken
(bad flags, a spec that does not load, an unknown journey).`,
		Example: `  # may checkout's rollout proceed?
  emac gate --prometheus http://prometheus:9090 --spec specs/ checkout

  # with the canary's pods in place of the payments component
  emac gate --prometheus http://prometheus:9090 --spec specs/ \
    --canary 'payments={rollouts_pod_template_hash="5d4f8c"}' checkout

  # weighing discovered evidence, as JSON
  emac discover --spec specs/checkout.yaml -o json traces/ > delta.json
  emac gate --prometheus http://prometheus:9090 --spec specs/ --evidence delta.json -o json checkout`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			var cs []observe.Canary
			for _, s := range canaries {
				c, err := observe.ParseCanary(s)
				if err != nil {
					return &exitError{code: ExitGateError, msg: "--canary: " + err.Error()}
				}
				cs = append(cs, c)
			}
			gov, closer, err := a.governor(cmd.Context(), &g, 0, false)
			if err != nil {
				return err
			}
			defer closer()
			res, err := gov.Gate(cmd.Context(), args[0], cs)
			if err != nil {
				return &exitError{code: ExitGateError, msg: err.Error()}
			}
			if err := a.printGate(output, res); err != nil {
				return err
			}
			switch res.Decision {
			case v1alpha1.DecisionPass:
				return nil
			case v1alpha1.DecisionFail:
				return &exitError{code: ExitGateFail}
			}
			return &exitError{code: ExitGateReview}
		},
	}
	f := cmd.Flags()
	g.register(f, false)
	f.StringVarP(&output, "output", "o", "text", "output format: text, json or yaml")
	f.StringArrayVar(&canaries, "canary", nil, "component=selector: measure the component on the canary's series only (repeatable)")
	return cmd
}

func checkOutput(output string) error {
	switch output {
	case "text", "json", "yaml":
		return nil
	}
	return &exitError{code: ExitGateError, msg: fmt.Sprintf("unknown output format %q (use text, json or yaml)", output)}
}

func (a *app) printGate(format string, res *v1alpha1.JourneyResult) error {
	switch format {
	case "json":
		return writeJSON(a.stdout, res)
	case "yaml":
		return writeYAML(a.stdout, res)
	}
	var b bytes.Buffer
	journeyText(&b, *res)
	if o := res.Observation; o != nil {
		fmt.Fprintf(&b, "  observed:     %s at %s over %s", o.Prometheus, o.At, o.Window)
		if !o.Sufficient {
			b.WriteString(" (insufficient data)")
		}
		b.WriteString("\n")
		fmt.Fprintf(&b, "  bounds:       A+ %s, A- %s, floor %s over %s", p8(res.Availability.Optimistic), p8(res.Availability.Pessimistic), p8(res.Availability.Floor), o.Window)
		if ob := o.Objective; ob != nil {
			fmt.Fprintf(&b, "; A+ %s, A- %s over %s", p8(ob.Optimistic), p8(ob.Pessimistic), o.ObjectiveWindow)
		}
		b.WriteString("\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  components:\tNAME\tSTATUS\tMEASURED\tTARGET\tCALLS\tCANARY")
		for _, c := range o.Components {
			m, calls, canary := "-", "-", c.Canary
			if c.Measured != nil {
				m = p8(*c.Measured)
			}
			if c.Calls != nil {
				calls = fmt.Sprintf("%.6g", *c.Calls)
			}
			if canary == "" {
				canary = "-"
			}
			fmt.Fprintf(tw, "\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Name, c.Status, m, p8(c.Target), calls, canary)
		}
		tw.Flush()
	}
	if e := res.Evidence; e != nil {
		fmt.Fprintf(&b, "  evidence:     %s (confidence %.3f)\n", strings.Join(e.Deltas, ", "), e.Confidence)
		for _, c := range e.Unaccepted {
			fmt.Fprintf(&b, "  unaccepted:   %s: %s\n", c.Kind, c.Summary)
		}
	}
	_, err := a.stdout.Write(b.Bytes())
	return err
}

func (a *app) guardCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "guard",
		Short: "Evaluate guarded actions (the spec's governance.actions) on live values",
	}
	cmd.AddCommand(a.guardCheckCmd())
	return cmd
}

func (a *app) guardCheckCmd() *cobra.Command {
	var g governFlags
	var output, action, paramsJSON string
	var params []string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "check --prometheus URL --action NAME [--param k=v ...] [flags] JOURNEY",
		Short: "May this action run now? Its CEL guard on live values, its limits and rate limit",
		Long: `guard check evaluates the action's CEL guard (governance.actions[].guard) on
the journey's live values — the observed bounds A_plus, A_minus, A_floor,
p_upper, confidence, domain_conflict, decision and binding, as emac gate
computes them — then its limits: the traffic step (params.step ≤
maxTrafficStep) and the rate limit (maxPerWindow per window), kept in an
action log (--state) that survives restarts and is shared with emac serve.
An allowed action is recorded in the log unless --dry-run.

Live values that could not be measured are unknown: a guard that reads one
denies. Exit status: 0 allowed, 1 denied, 4 on errors.`,
		Example: `  # the paper's promote guard, for a 20% traffic step
  emac guard check --prometheus http://prometheus:9090 --spec specs/ \
    --action promote --param step=0.2 checkout`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if action == "" {
				return &exitError{code: ExitGateError, msg: "--action NAME is required"}
			}
			ps, err := parseParams(params, paramsJSON)
			if err != nil {
				return &exitError{code: ExitGateError, msg: err.Error()}
			}
			gov, closer, err := a.governor(cmd.Context(), &g, 0, true)
			if err != nil {
				return err
			}
			defer closer()
			res, err := gov.Guard(cmd.Context(), args[0], action, ps, dryRun)
			if err != nil {
				return &exitError{code: ExitGateError, msg: err.Error()}
			}
			switch output {
			case "json":
				err = writeJSON(a.stdout, res)
			case "yaml":
				err = writeYAML(a.stdout, res)
			default:
				err = guardText(a.stdout, res)
			}
			if err != nil {
				return err
			}
			if !res.Allowed {
				return &exitError{code: ExitGateFail}
			}
			return nil
		},
	}
	f := cmd.Flags()
	g.register(f, true)
	f.StringVarP(&output, "output", "o", "text", "output format: text, json or yaml")
	f.StringVar(&action, "action", "", "the action's name in governance.actions")
	f.StringArrayVar(&params, "param", nil, "an action parameter k=v (repeatable; v read as a JSON value when it is one, else as a string)")
	f.StringVar(&paramsJSON, "params", "", "the action's parameters as a JSON object")
	f.BoolVar(&dryRun, "dry-run", false, "decide without recording the action against its rate limit")
	return cmd
}

// parseParams reads --param k=v flags and a --params JSON object.
func parseParams(kvs []string, obj string) (map[string]any, error) {
	out := map[string]any{}
	if obj != "" {
		if err := json.Unmarshal([]byte(obj), &out); err != nil {
			return nil, fmt.Errorf("--params: not a JSON object: %v", err)
		}
	}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--param %q: want key=value", kv)
		}
		var x any
		if err := json.Unmarshal([]byte(v), &x); err != nil {
			x = v
		}
		out[k] = x
	}
	return out, nil
}

func guardText(w io.Writer, r *v1alpha1.GuardResult) error {
	var b bytes.Buffer
	verdict := "DENIED"
	if r.Allowed {
		verdict = "ALLOWED"
	}
	fmt.Fprintf(&b, "%s/%s: %s (journey decision %s)\n", r.Journey, r.Action, verdict, r.Decision)
	for _, s := range r.Reasons {
		fmt.Fprintf(&b, "  why:  %s\n", s)
	}
	names := make([]string, 0, len(r.Variables))
	for k := range r.Variables {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v, _ := json.Marshal(r.Variables[k])
		fmt.Fprintf(&b, "  %-16s %s\n", k+":", v)
	}
	if r.Recorded {
		b.WriteString("  recorded in the action log\n")
	}
	_, err := w.Write(b.Bytes())
	return err
}
