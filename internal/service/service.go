// Package service is the one place where emac loads specs, evaluates
// journeys and takes decisions; the CLI and the controller are thin drivers
// of it.
package service

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/bounds"
	"github.com/emac-dev/emac/internal/diag"
	"github.com/emac-dev/emac/internal/latency"
	"github.com/emac-dev/emac/internal/model"
	"github.com/emac-dev/emac/internal/promhist"
	"github.com/emac-dev/emac/internal/spec"
	"golang.org/x/sync/errgroup"
)

// Options configure a check; the zero value is the default.
type Options struct {
	Load   spec.Options
	Bounds bounds.Options
	// Down forces components or failure domains down (what-if).
	Down []string
	// Parallelism is how many journeys are analysed at once; 0 means one
	// per CPU (GOMAXPROCS).
	Parallelism int
	// Histograms, when set, reads the components' measured latency (their
	// telemetry's latencyHistogram) for Check; nil reads none.
	Histograms promhist.Source
	// HistogramWindow is how far back a live Histograms source looks (0:
	// each journey's objective window).
	HistogramWindow time.Duration
}

// Report is the outcome of checking some inputs.
type Report struct {
	Result   v1alpha1.CheckResult
	Journeys []*model.Journey
	// Specs are the journeys' wire form, Analyses the engine's full
	// results and Latencies the latency compositions (nil when not
	// composed), in the same order as Journeys.
	Specs       []*v1alpha1.Journey
	Analyses    []*bounds.Result
	Latencies   []*latency.Result
	Diagnostics diag.Diagnostics
	Sources     diag.Sources
}

// Load loads the inputs without evaluating them: the report holds the
// journeys, or the diagnostics of specs that do not load.
func Load(ctx context.Context, paths []string, opts Options) *Report {
	b, ds := spec.Load(ctx, paths, opts.Load)
	rep := &Report{Diagnostics: ds, Sources: b.Sources, Result: v1alpha1.CheckResult{Journeys: []v1alpha1.JourneyResult{}}}
	if !ds.HasErrors() {
		rep.Journeys, rep.Specs = b.Journeys, b.Specs
	}
	return rep
}

// Check loads the inputs and evaluates every journey in them. Spec problems
// are returned as diagnostics; the error is for failures of emac itself
// (including cancellation).
func Check(ctx context.Context, paths []string, opts Options) (*Report, error) {
	b, ds := spec.Load(ctx, paths, opts.Load)
	rep := &Report{Diagnostics: ds, Sources: b.Sources, Result: v1alpha1.CheckResult{Journeys: []v1alpha1.JourneyResult{}}}
	if ds.HasErrors() {
		return rep, nil
	}
	rep.Journeys, rep.Specs = b.Journeys, b.Specs
	if opts.Histograms != nil {
		if err := measure(ctx, b.Journeys, opts, &rep.Diagnostics); err != nil {
			return rep, err
		}
	}
	as, err := AssessAll(ctx, b.Journeys, opts)
	if err != nil {
		return rep, err
	}
	for i, a := range as {
		if a.Err != nil {
			var ue *bounds.UnknownError
			if errors.As(a.Err, &ue) {
				dg := rep.Diagnostics.Errorf(nil, "--down %s: %v", ue.Name, a.Err)
				dg.Detail = diag.DidYouMean(ue.Name, ue.Candidates)
				continue
			}
			return rep, fmt.Errorf("journey %s: %w", b.Journeys[i].Name, a.Err)
		}
		rep.Result.Journeys = append(rep.Result.Journeys, *a.Result)
		rep.Analyses = append(rep.Analyses, a.Analysis)
		rep.Latencies = append(rep.Latencies, a.Latency)
	}
	return rep, nil
}

// Assessment is the outcome of assessing one journey.
type Assessment struct {
	Result   *v1alpha1.JourneyResult
	Analysis *bounds.Result
	// Latency is the latency composition, nil when none was composed.
	Latency *latency.Result
	Err     error
}

// AssessAll assesses journeys, opts.Parallelism at a time: journeys are
// independent, and a directory of specs is analysed on every CPU. The
// outcomes are in the order of js; the error is the context's.
func AssessAll(ctx context.Context, js []*model.Journey, opts Options) ([]Assessment, error) {
	out := make([]Assessment, len(js))
	err := Each(ctx, len(js), opts.Parallelism, func(ctx context.Context, i int) error {
		a, err := Assess(ctx, js[i], opts)
		if err != nil {
			a = &Assessment{}
		}
		out[i] = *a
		out[i].Err = err
		return ctx.Err()
	})
	return out, err
}

// Each calls f(ctx, i) for every i < n, at most parallelism at a time (0:
// GOMAXPROCS), and returns the first error; after one, the calls not yet
// started are not made.
func Each(ctx context.Context, n, parallelism int, f func(ctx context.Context, i int) error) error {
	if parallelism <= 0 {
		parallelism = runtime.GOMAXPROCS(0)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallelism)
	for i := range n {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error { return f(gctx, i) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// Evaluate computes a journey's bounds, contributors, required targets and
// decision in contract mode (SLO targets, the spec as the accepted model).
func Evaluate(ctx context.Context, j *model.Journey, opts Options) (*v1alpha1.JourneyResult, error) {
	a, err := Assess(ctx, j, opts)
	if err != nil {
		return nil, err
	}
	return a.Result, nil
}

// Assess is Evaluate returning the engine's full result and the latency
// composition too, for the artifact emitters.
func Assess(ctx context.Context, j *model.Journey, opts Options) (*Assessment, error) {
	r, err := bounds.Analyze(ctx, j, opts.Bounds)
	if err != nil {
		return nil, err
	}
	out := &v1alpha1.JourneyResult{
		Name:       j.Name,
		Source:     j.Source,
		Flow:       j.Flow.String(),
		Mode:       "contract",
		Confidence: 1,
		Availability: v1alpha1.AvailabilityResult{
			Target:      j.Objective.Availability,
			Window:      fmtWindow(j),
			Optimistic:  round(r.Optimistic),
			Pessimistic: round(r.Pessimistic),
			Floor:       round(r.Floor),
			Binding:     nonNil(r.Binding),
			Persistent:  r.Persistent,
			Bound:       r.Bound,
			Exact:       r.Exact,
			Approximate: r.Approximate,
			Scenarios:   r.Scenarios,
			Method:      method(r),
		},
		Contributors: []v1alpha1.Contributor{},
		Required:     []v1alpha1.RequiredTarget{},
		Notes:        r.Notes,
	}
	for _, c := range r.Contributors {
		out.Contributors = append(out.Contributors, v1alpha1.Contributor{Component: c.Component, Share: round(c.Share),
			Importance: round(c.Importance), Availability: c.Availability})
	}
	for _, q := range r.Required {
		rt := v1alpha1.RequiredTarget{Component: q.Component, Current: q.Current, Infeasible: !q.Feasible}
		if q.Feasible {
			v := ceil(q.Value)
			rt.Availability = &v
		}
		out.Required = append(out.Required, rt)
	}
	for _, d := range r.Domains {
		dr := v1alpha1.DomainResult{Name: d.Name, Members: d.Members, Loss: round(d.Loss), Binding: d.Binding, Infeasible: !d.Feasible}
		if d.Feasible {
			v := ceil(d.Required)
			dr.Required = &v
		}
		out.Domains = append(out.Domains, dr)
	}
	calls := j.Flow.Calls()
	for _, n := range j.ComponentNames() {
		c := j.Components[n]
		out.Components = append(out.Components, v1alpha1.ComponentValue{Name: n, Availability: c.Availability,
			Source: c.Source, Domains: c.Domains, Invocations: calls[n]})
	}
	lat, lr, err := latencyOf(j)
	if err != nil {
		return nil, err
	}
	out.Latency = lat
	out.Decision, out.Reasons = decide(j, r, lat)
	if len(opts.Down) > 0 {
		dj, err := bounds.Down(j, opts.Down)
		if err != nil {
			return nil, err
		}
		wr, err := bounds.Analyze(ctx, dj, bounds.Options{MaxWork: opts.Bounds.MaxWork, SkipDerived: true})
		if err != nil {
			return nil, err
		}
		d, _ := decide(dj, wr, nil)
		out.WhatIf = &v1alpha1.WhatIfResult{Down: append([]string(nil), opts.Down...), Optimistic: round(wr.Optimistic),
			Pessimistic: round(wr.Pessimistic), Floor: round(wr.Floor), Decision: d}
	}
	return &Assessment{Result: out, Analysis: r, Latency: lr}, nil
}

// decide applies SPEC §6 to a spec checked without evidence: the spec is
// its own accepted model (confidence 1), so the decision rests on the
// decision bound.
// A violated latency objective (p_upper above the threshold) fails the
// journey too; an unknown one (no component has latency) does not decide.
func decide(j *model.Journey, r *bounds.Result, lat *v1alpha1.LatencyResult) (string, []string) {
	target := j.Objective.Availability
	name := v1alpha1.BoundSymbol(r.Bound)
	why := fmt.Sprintf("%s %s", name, fmtP(r.Value))
	if len(r.Binding) > 0 && r.Bound == "pessimistic" {
		why += " (binding: " + strings.Join(r.Binding, ", ") + ")"
	}
	var slow []string
	if lat != nil && lat.Status == "violated" {
		slow = []string{lat.Reason}
	}
	switch {
	case r.Value >= target && slow == nil:
		return v1alpha1.DecisionPass, []string{fmt.Sprintf("%s meets the objective %s", why, fmtP(target))}
	case r.Value >= target:
		return v1alpha1.DecisionFail, slow
	case r.Bound == "pessimistic" && !r.Exact && slow == nil:
		return v1alpha1.DecisionReview, []string{fmt.Sprintf("%s is below the objective %s, but it is a sound lower bound, not exact: the journey exceeded the exact limit", why, fmtP(target))}
	}
	return v1alpha1.DecisionFail, append([]string{fmt.Sprintf("%s is below the objective %s", why, fmtP(target))}, slow...)
}

// latencyOf composes the journey's latency when it has an objective or any
// component has latency; the composition is nil when there is nothing to
// compose.
func latencyOf(j *model.Journey) (*v1alpha1.LatencyResult, *latency.Result, error) {
	obj := j.Objective.Latency
	timed := false
	for _, c := range j.Components {
		timed = timed || len(c.Latency) > 0 || len(c.Histogram) > 0 || c.FailureLatency > 0
	}
	if obj == nil && !timed {
		return nil, nil, nil
	}
	out := &v1alpha1.LatencyResult{}
	levels := latency.Levels
	if obj != nil {
		out.Percentile, out.Threshold = obj.Percentile, obj.Threshold.Seconds()
		if !slices.Contains(levels, obj.Percentile/100) {
			levels = append(slices.Clone(levels), obj.Percentile/100)
		}
	}
	if !timed {
		out.Status, out.Reason = "unknown", "no component has latency: give slo.latency points or failureLatency"
		return out, nil, nil
	}
	lr, err := latency.Analyze(j, latency.Options{Levels: levels})
	if err != nil {
		return nil, nil, err
	}
	out.Resolution, out.Error, out.Untimed = lr.Resolution.Seconds(), lr.Error.Seconds(), lr.Untimed
	out.Sources = latencySources(j, lr)
	if len(lr.Quantiles) == 0 {
		out.Status, out.Reason = "unknown", "the journey never succeeds"
		return out, lr, nil
	}
	for _, q := range lr.Quantiles {
		if obj != nil && q.Level == obj.Percentile/100 {
			ind, up := q.Value.Seconds(), q.Upper.Seconds()
			out.Independent, out.Upper = &ind, &up
			if !slices.Contains(latency.Levels, q.Level) {
				continue
			}
		}
		out.Quantiles = append(out.Quantiles, v1alpha1.LatencyQuantile{Level: q.Level, Independent: q.Value.Seconds(), Upper: q.Upper.Seconds(), Beyond: q.Beyond})
	}
	if obj == nil {
		return out, lr, nil
	}
	w := round(lr.Within)
	out.Within = &w
	pct := fmt.Sprintf("p%s", strconv.FormatFloat(obj.Percentile, 'f', -1, 64))
	switch {
	case *out.Upper <= out.Threshold:
		out.Status = "met"
		out.Reason = fmt.Sprintf("%s is at most %s however the components' latencies are coupled (independent: %s), within %s", pct, fmtS(*out.Upper), fmtS(*out.Independent), fmtS(out.Threshold))
	default:
		out.Status = "violated"
		out.Reason = fmt.Sprintf("p_upper: %s may reach %s when the components' latencies are coupled (independent: %s), above the threshold %s", pct, fmtS(*out.Upper), fmtS(*out.Independent), fmtS(out.Threshold))
	}
	return out, lr, nil
}

// fmtS writes seconds as a duration.
func fmtS(s float64) string {
	return time.Duration(math.Round(s * 1e9)).Round(time.Microsecond).String()
}

func fmtWindow(j *model.Journey) string {
	return v1alpha1.Duration(j.Objective.Window).String()
}

func fmtP(v float64) string { return fmt.Sprintf("%.8g", v) }

// round keeps results stable across platforms and free of float noise in
// the last bits: 12 significant digits.
func round(v float64) float64 {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 12, 64), 64)
	return f
}

// ceil rounds a required target up at the 10th decimal, so that meeting
// the printed number always meets the objective.
func ceil(v float64) float64 {
	return math.Ceil(v*1e10-1e-6) / 1e10
}

func method(r *bounds.Result) string {
	if r.Exact {
		return "exact"
	}
	return "sound-bound"
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
