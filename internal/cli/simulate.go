package cli

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/emac-dev/emac/internal/bounds"
	"github.com/emac-dev/emac/internal/diag"
	"github.com/emac-dev/emac/internal/latency"
	"github.com/emac-dev/emac/internal/model"
	"github.com/emac-dev/emac/internal/service"
	"github.com/emac-dev/emac/internal/sim"
	"github.com/emac-dev/emac/internal/sim/trace"
	"github.com/emac-dev/emac/internal/spec"
)

// simulateFlags are simulate's own flags.
type simulateFlags struct {
	journey    string
	scenario   string
	runs       count
	seed       uint64
	confidence float64
	traces     string
	traceCount int
}

func (a *app) simulateCmd() *cobra.Command {
	var c common
	f := simulateFlags{runs: 1_000_000}
	cmd := &cobra.Command{
		Use:   "simulate [flags] FILE|DIR|- ...",
		Short: "Run journeys as a Monte-Carlo process and compare with the exact bounds; write synthetic traces",
		Long: `simulate runs each journey as a random process: every call succeeds with its
component's availability under a correlation scenario, takes a time drawn from
its latency distribution, and the operators combine outcomes and times as
docs/semantics.md says. It prints the simulated availability with its Wilson
interval and, when components have latency, the quantiles p50..p99.9 of a
successful execution with their intervals, beside the engine's A+, A- and
independent latency estimate.

Scenarios: "independent" (every call independent: the A+ scenario),
"binding" (the failure domains shared and components persistent in the
scenario that attains A-, as the engine reports it) or "domain:NAME" (that
failure domain shared, every other call independent).

The same seed gives the same numbers and the same traces. --traces writes the
first --trace-count executions as OTLP JSON traces (docs/simulate.md).
Latency keeps 8 bytes per run.

Exit status as for check: 0 fine, 1 errors in the input or the flags,
3 warnings only.`,
		Example: `  # the checkout under the scenario that attains A-
  emac simulate --scenario binding examples/native/checkout.yaml

  # ten million runs with latency, another seed, as JSON
  emac simulate --runs 1e7 --seed 7 -o json examples/latency/checkout.yaml

  # 100 synthetic traces of the journey with its payment network shared
  emac simulate --scenario domain:payment-network --traces traces.json examples/latency/checkout.yaml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.validate(); err != nil {
				return err
			}
			if err := f.validate(); err != nil {
				return err
			}
			return a.simulate(cmd.Context(), args, c, f)
		},
	}
	c.register(cmd, false)
	fs := cmd.Flags()
	fs.StringVar(&f.journey, "journey", "", "simulate only the journey of this name (default: every journey)")
	fs.StringVar(&f.scenario, "scenario", "independent", "correlation scenario: independent, binding or domain:NAME")
	fs.Var(&f.runs, "runs", "executions per journey (e.g. 1e6)")
	fs.Uint64Var(&f.seed, "seed", 1, "random seed: the same seed gives the same results")
	fs.Float64Var(&f.confidence, "confidence", 0.99, "confidence level of the intervals, in (0,1)")
	fs.StringVar(&f.traces, "traces", "", "write the first --trace-count executions as OTLP JSON traces to this file")
	fs.IntVar(&f.traceCount, "trace-count", trace.DefaultCount, "executions traced with --traces")
	return cmd
}

func (f *simulateFlags) validate() error {
	bad := func(format string, args ...any) error {
		return &exitError{code: ExitError, msg: fmt.Sprintf(format, args...)}
	}
	if !(f.confidence > 0 && f.confidence < 1) {
		return bad("--confidence %v is not in (0,1)", f.confidence)
	}
	if f.traceCount <= 0 {
		return bad("--trace-count %d: need at least one execution", f.traceCount)
	}
	switch s := f.scenario; {
	case s == "independent", s == "binding":
	case strings.HasPrefix(s, "domain:") && len(s) > len("domain:"):
	default:
		return bad("unknown --scenario %q (use independent, binding or domain:NAME)", s)
	}
	return nil
}

// count is a positive number of executions, written as an integer or in
// float notation (1e6).
type count int

func (n *count) String() string { return strconv.Itoa(int(*n)) }
func (n *count) Type() string   { return "count" }
func (n *count) Set(s string) error {
	v, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	if err != nil || v != math.Trunc(v) || v < 1 || v > 1<<50 {
		return fmt.Errorf("%q is not a positive whole number of executions", s)
	}
	*n = count(v)
	return nil
}

// simulation is what simulate reports, as JSON.
type simulation struct {
	Runs       int                 `json:"runs"`
	Seed       uint64              `json:"seed"`
	Confidence float64             `json:"confidence"`
	Journeys   []journeySimulation `json:"journeys"`
}

// journeySimulation is one journey's simulation beside the engine's
// numbers.
type journeySimulation struct {
	Name         string          `json:"name"`
	Scenario     scenarioJSON    `json:"scenario"`
	Availability availabilitySim `json:"availability"`
	Latency      *latencySim     `json:"latency,omitempty"`
	Traces       *tracesJSON     `json:"traces,omitempty"`
	Notes        []string        `json:"notes,omitempty"`
}

type scenarioJSON struct {
	Name       string   `json:"name"`
	Shared     []string `json:"shared"`
	Persistent []string `json:"persistent"`
}

// availabilitySim is the simulated availability with its interval.
type availabilitySim struct {
	Simulated float64 `json:"simulated"`
	Successes int     `json:"successes"`
	// Lo and Hi bound the Wilson interval at the confidence level.
	Lo      float64      `json:"lo"`
	Hi      float64      `json:"hi"`
	Engine  engineBounds `json:"engine"`
	Compare comparison   `json:"compare"`
}

type engineBounds struct {
	Optimistic  float64  `json:"optimistic"`
	Pessimistic float64  `json:"pessimistic"`
	Binding     []string `json:"binding"`
	Exact       bool     `json:"exact"`
}

// comparison is the engine's value for the simulated scenario and whether
// the simulation's interval holds it.
type comparison struct {
	Bound  string  `json:"bound"`
	Value  float64 `json:"value"`
	Inside bool    `json:"inside"`
}

// latencySim is the simulated latency of a successful execution, in
// seconds, with the independent composition's.
type latencySim struct {
	Mean      float64       `json:"mean"`
	Quantiles []quantileSim `json:"quantiles"`
	// Threshold and Within: P(L ≤ threshold | success), simulated and
	// composed, when the journey has a latency objective.
	Threshold *float64   `json:"threshold,omitempty"`
	Within    *withinSim `json:"within,omitempty"`
}

type quantileSim struct {
	Level     float64 `json:"level"`
	Simulated float64 `json:"simulated"`
	Lo        float64 `json:"lo"`
	// Hi is null when the runs are too few to bound the quantile above.
	Hi          *float64 `json:"hi"`
	Independent *float64 `json:"independent"`
}

type withinSim struct {
	Simulated   float64 `json:"simulated"`
	Lo          float64 `json:"lo"`
	Hi          float64 `json:"hi"`
	Independent float64 `json:"independent"`
}

type tracesJSON struct {
	File       string `json:"file"`
	Executions int    `json:"executions"`
	Spans      int    `json:"spans"`
}

// simulate loads the specs, assesses and simulates the chosen journeys and
// prints the comparison.
func (a *app) simulate(ctx context.Context, paths []string, c common, f simulateFlags) error {
	opts := c.options(a)
	b, ds := spec.Load(ctx, paths, opts.Load)
	if err := a.diagnose(ds, b.Sources); err != nil {
		return err
	}
	js := b.Journeys
	if f.journey != "" {
		var names []string
		js = nil
		for _, j := range b.Journeys {
			names = append(names, j.Name)
			if j.Name == f.journey {
				js = append(js, j)
			}
		}
		if len(js) == 0 {
			return &exitError{code: ExitError, msg: withSuggestion(fmt.Sprintf("no journey %q in the input", f.journey), f.journey, names)}
		}
	}
	as, err := service.AssessAll(ctx, js, opts)
	if err != nil {
		return err
	}
	out := simulation{Runs: int(f.runs), Seed: f.seed, Confidence: f.confidence}
	var all trace.TracesData
	for i, j := range js {
		if as[i].Err != nil {
			return fmt.Errorf("journey %s: %w", j.Name, as[i].Err)
		}
		s, sc, err := a.simulateJourney(ctx, j, as[i], f)
		if err != nil {
			return err
		}
		if f.traces != "" {
			td, err := trace.Generate(ctx, j, trace.Options{Scenario: sc, Count: f.traceCount, Seed: f.seed})
			if err != nil {
				return err
			}
			s.Traces = &tracesJSON{File: f.traces, Executions: f.traceCount, Spans: td.SpanCount()}
			all.ResourceSpans = append(all.ResourceSpans, td.ResourceSpans...)
		}
		out.Journeys = append(out.Journeys, s)
	}
	if f.traces != "" {
		data, err := all.JSON()
		if err != nil {
			return err
		}
		if err := os.WriteFile(f.traces, data, 0o644); err != nil {
			return &exitError{code: ExitError, msg: err.Error()}
		}
	}
	switch c.output {
	case "json":
		err = writeJSON(a.stdout, out)
	case "yaml":
		err = writeYAML(a.stdout, out)
	default:
		err = simulateText(a, out)
	}
	if err != nil {
		return err
	}
	if len(ds) > 0 {
		return &exitError{code: ExitWarnings}
	}
	return nil
}

// simulateJourney runs one journey's simulation under the scenario the
// flags name and sets the engine's numbers beside it.
func (a *app) simulateJourney(ctx context.Context, j *model.Journey, as service.Assessment, f simulateFlags) (journeySimulation, sim.Scenario, error) {
	r := as.Analysis
	s := journeySimulation{Name: j.Name, Notes: as.Result.Notes}
	s.Availability.Engine = engineBounds{Optimistic: r.Optimistic, Pessimistic: r.Pessimistic, Binding: orEmpty(r.Binding), Exact: r.Exact}
	var sc sim.Scenario
	cmpr := &s.Availability.Compare
	switch name := f.scenario; {
	case name == "independent":
		sc = sim.Independent()
		cmpr.Bound, cmpr.Value = "A+", r.Optimistic
		if l := as.Latency; l != nil && l.Availability < r.Optimistic-1e-9 {
			// the latency engine cuts at the deadlines, the bounds may not
			cmpr.Bound, cmpr.Value = "A+ with deadlines", l.Availability
		}
	case name == "binding":
		sc = sim.Named(r.Binding, r.Persistent)
		cmpr.Bound, cmpr.Value = "A-", r.Pessimistic
		if !r.Exact {
			cmpr.Bound = "A- (a lower bound, not exact)"
		}
	default:
		d := strings.TrimPrefix(name, "domain:")
		i := slices.IndexFunc(r.Domains, func(e bounds.DomainEffect) bool { return e.Name == d })
		if j.Domains[d] == nil || i < 0 {
			return s, sc, &exitError{code: ExitError, msg: withSuggestion(fmt.Sprintf("journey %s has no failure domain %q", j.Name, d), d, j.DomainNames())}
		}
		sc = sim.Named([]string{d}, nil)
		cmpr.Bound, cmpr.Value = "A+ − loss("+d+")", r.Optimistic-r.Domains[i].Loss
	}
	s.Scenario = scenarioJSON{Name: f.scenario, Shared: orEmpty(sc.Shared), Persistent: orEmpty(sc.Persistent)}

	p, err := sim.Compile(j, sc)
	if err != nil {
		return s, sc, err
	}
	var res sim.Result
	if l := as.Latency; l != nil && l.Timed {
		lo := sim.LatencyOptions{Confidence: f.confidence}
		if obj := j.Objective.Latency; obj != nil {
			lo.Threshold = obj.Threshold.Seconds()
		}
		lr, err := p.RunLatency(ctx, int(f.runs), f.seed, lo)
		if err != nil {
			return s, sc, err
		}
		res = lr.Result
		if res.Successes > 0 {
			s.Latency = latencyOf(lr, l.Quantiles, j.Objective.Latency, l.Within, f.confidence)
		} else {
			s.Notes = append(s.Notes, "no execution succeeded: no latency to report")
		}
	} else if res, err = p.Run(ctx, int(f.runs), f.seed); err != nil {
		return s, sc, err
	}
	lo, hi := res.Wilson(f.confidence)
	s.Availability.Simulated, s.Availability.Successes, s.Availability.Lo, s.Availability.Hi = res.P, res.Successes, lo, hi
	cmpr.Inside = lo <= cmpr.Value && cmpr.Value <= hi
	return s, sc, nil
}

// latencyOf pairs the simulated quantiles with the engine's.
func latencyOf(lr sim.LatencyResult, engine []latency.Quantile, obj *model.LatencyObjective, within, conf float64) *latencySim {
	eng := map[float64]float64{}
	for _, q := range engine {
		eng[q.Level] = q.Value.Seconds()
	}
	l := &latencySim{Mean: lr.Mean}
	for _, q := range lr.Quantiles {
		e := quantileSim{Level: q.Q, Simulated: q.Value, Lo: q.Lo}
		if !math.IsInf(q.Hi, 1) && !math.IsNaN(q.Hi) {
			e.Hi = &q.Hi
		}
		if v, ok := eng[q.Q]; ok {
			e.Independent = &v
		}
		l.Quantiles = append(l.Quantiles, e)
	}
	if obj != nil && lr.Within != nil {
		t := obj.Threshold.Seconds()
		l.Threshold = &t
		lo, hi := lr.Within.Wilson(conf)
		l.Within = &withinSim{Simulated: lr.Within.P, Lo: lo, Hi: hi, Independent: within}
	}
	return l
}

// withSuggestion appends a "did you mean" to msg when a candidate is
// close to name.
func withSuggestion(msg, name string, candidates []string) string {
	if s := diag.DidYouMean(name, candidates); s != "" {
		return msg + " (" + s + ")"
	}
	return msg
}

// orEmpty keeps JSON lists lists: [] rather than null.
func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func simulateText(a *app, out simulation) error {
	var b bytes.Buffer
	conf := strconv.FormatFloat(out.Confidence*100, 'f', -1, 64) + "%"
	for i, s := range out.Journeys {
		if i > 0 {
			b.WriteString("\n")
		}
		sc := s.Scenario.Name
		switch {
		case len(s.Scenario.Shared)+len(s.Scenario.Persistent) == 0 && sc != "independent":
			sc += " (every call independent)"
		case len(s.Scenario.Shared)+len(s.Scenario.Persistent) > 0:
			var parts []string
			if len(s.Scenario.Shared) > 0 {
				parts = append(parts, "shared: "+strings.Join(s.Scenario.Shared, ", "))
			}
			if len(s.Scenario.Persistent) > 0 {
				parts = append(parts, "persistent: "+strings.Join(s.Scenario.Persistent, ", "))
			}
			sc += " (" + strings.Join(parts, "; ") + ")"
		}
		fmt.Fprintf(&b, "%s: %d runs, seed %d, scenario %s\n", s.Name, out.Runs, out.Seed, sc)
		av := s.Availability
		fmt.Fprintf(&b, "  availability: %s (%s interval %s – %s)\n", p8(av.Simulated), conf, p8(av.Lo), p8(av.Hi))
		e := av.Engine
		binding := ""
		if len(e.Binding) > 0 {
			binding = " (binding: " + strings.Join(e.Binding, ", ") + ")"
		}
		minus := p8(e.Pessimistic)
		if !e.Exact {
			minus = "≥" + minus
		}
		fmt.Fprintf(&b, "  engine:       A+ %s, A- %s%s\n", p8(e.Optimistic), minus, binding)
		where := "inside"
		if !av.Compare.Inside {
			where = "OUTSIDE"
		}
		fmt.Fprintf(&b, "  compare:      %s %s lies %s the interval\n", av.Compare.Bound, p8(av.Compare.Value), where)
		if l := s.Latency; l != nil {
			tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
			// the label's cell padded so that the table starts where the values above do
			fmt.Fprintf(tw, "  latency:    \tLEVEL\tSIMULATED\t%s INTERVAL\tENGINE (independent)\n", conf)
			for _, q := range l.Quantiles {
				hi, ind := "∞", "-"
				if q.Hi != nil {
					hi = secs(*q.Hi)
				}
				if q.Independent != nil {
					ind = secs(*q.Independent)
				}
				fmt.Fprintf(tw, "\tp%g\t%s\t%s – %s\t%s\n", q.Level*100, secs(q.Simulated), secs(q.Lo), hi, ind)
			}
			tw.Flush()
			if w := l.Within; w != nil {
				fmt.Fprintf(&b, "  P(L ≤ %s | success): %s (%s interval %s – %s), engine (independent) %s\n", secs(*l.Threshold), p8(w.Simulated), conf, p8(w.Lo), p8(w.Hi), p8(w.Independent))
			}
		}
		if t := s.Traces; t != nil {
			fmt.Fprintf(&b, "  traces:       %d executions, %d spans → %s\n", t.Executions, t.Spans, t.File)
		}
		notes := s.Notes
		if s.Latency != nil && s.Scenario.Name != "independent" {
			notes = append([]string{"the engine's latency estimate is the independent scenario's"}, notes...)
		}
		for _, n := range notes {
			fmt.Fprintf(&b, "  note:         %s\n", n)
		}
	}
	_, err := a.stdout.Write(b.Bytes())
	return err
}
