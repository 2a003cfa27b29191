package service

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/diag"
	"github.com/emac-dev/emac/internal/latency"
	"github.com/emac-dev/emac/internal/model"
	"github.com/emac-dev/emac/internal/promhist"
)

// DefaultHistogramWindow is how far back a live histogram source looks for
// a journey whose objective has no window.
const DefaultHistogramWindow = 30 * 24 * time.Hour

// histogramRead is one read from the source: components that share a
// selector and a window share it.
type histogramRead struct {
	selector string
	window   time.Duration
}

// measure reads each component's telemetry.latencyHistogram from
// opts.Histograms and puts the buckets on the component, which latency.Of
// then prefers to its SLO points. The component is copied first: a
// catalog's component is shared by journeys whose windows may differ.
// A selector that matches nothing, is no series selector, or selects
// buckets that are no distribution is a warning at the selector, and the
// component keeps its SLO points; a source that fails (an unreadable
// server, a malformed series) is an error.
func measure(ctx context.Context, js []*model.Journey, opts Options, ds *diag.Diagnostics) error {
	type use struct {
		j    *model.Journey
		name string
		read int
	}
	var (
		reads []histogramRead
		uses  []use
		index = map[histogramRead]int{}
	)
	for _, j := range js {
		w := opts.HistogramWindow
		if w <= 0 {
			w = j.Objective.Window
		}
		if w <= 0 {
			w = DefaultHistogramWindow
		}
		for _, n := range j.ComponentNames() {
			t := j.Components[n].Telemetry
			if t == nil || t.LatencyHistogram == "" {
				continue
			}
			r := histogramRead{selector: t.LatencyHistogram, window: w}
			i, ok := index[r]
			if !ok {
				i = len(reads)
				index[r] = i
				reads = append(reads, r)
			}
			uses = append(uses, use{j: j, name: n, read: i})
		}
	}
	hs := make([]*promhist.Histogram, len(reads))
	errs := make([]error, len(reads))
	err := Each(ctx, len(reads), opts.Parallelism, func(ctx context.Context, i int) error {
		hs[i], errs[i] = opts.Histograms.Read(ctx, reads[i].selector, reads[i].window)
		if soft(errs[i]) {
			return nil
		}
		return errs[i]
	})
	if err != nil {
		// the first failure in input order, not the first to happen
		for i, e := range errs {
			if e != nil && !soft(e) {
				return fmt.Errorf("latencyHistogram %s: %w", reads[i].selector, e)
			}
		}
		return err
	}
	said := map[string]bool{}
	warn := func(c *model.Component, format string, args ...any) {
		msg := fmt.Sprintf("component %q: ", c.Name) + fmt.Sprintf(format, args...)
		if said[msg] {
			return // a catalog's component in several journeys
		}
		said[msg] = true
		dg := ds.Warnf(c.Telemetry.LatencyHistogramAt, "%s", msg)
		if len(c.Latency) > 0 {
			dg.Detail = "its SLO latency points are used instead"
		} else {
			dg.Detail = "it has no SLO latency points either: it takes no time"
		}
	}
	for _, u := range uses {
		c := u.j.Components[u.name]
		h, err := hs[u.read], errs[u.read]
		if err != nil {
			warn(c, "%v", err)
			continue
		}
		if _, err := latency.FromBuckets(h.Buckets); err != nil {
			warn(c, "the histogram %s from %s cannot be used: %v", c.Telemetry.LatencyHistogram, h.From, err)
			continue
		}
		for _, w := range h.Warnings {
			if msg := fmt.Sprintf("component %q: %s: %s", c.Name, h.From, w); !said[msg] {
				said[msg] = true
				ds.Warnf(c.Telemetry.LatencyHistogramAt, "%s", msg)
			}
		}
		cc := *c
		cc.Histogram = make([]model.Bucket, len(h.Buckets))
		for i, b := range h.Buckets {
			cc.Histogram[i] = model.Bucket(b)
		}
		cc.HistogramFrom = h.From
		u.j.Components[u.name] = &cc
	}
	return nil
}

// soft says whether a read's error is about the spec's selector (a
// warning) rather than the source (an error).
func soft(err error) bool {
	var nd *promhist.NoDataError
	var se *promhist.SelectorError
	return errors.As(err, &nd) || errors.As(err, &se)
}

// latencySources says where each timed component's latency came from,
// with a histogram's count and overflow.
func latencySources(j *model.Journey, lr *latency.Result) []v1alpha1.LatencySource {
	var out []v1alpha1.LatencySource
	for _, n := range slices.Sorted(maps.Keys(lr.Sources)) {
		s := v1alpha1.LatencySource{Component: n, Source: lr.Sources[n]}
		c := j.Components[n]
		if s.Source == latency.SourceHistogram {
			s.From = c.HistogramFrom
			bs := make([]latency.Bucket, len(c.Histogram))
			for i, b := range c.Histogram {
				bs[i] = latency.Bucket(b)
				if !math.IsInf(b.UpperBound, 1) {
					s.Top = max(s.Top, b.UpperBound)
				}
				s.Observations = max(s.Observations, b.Count)
			}
			if d, err := latency.FromBuckets(bs); err == nil {
				o := round(d.Overflow)
				s.Overflow = &o
			}
		}
		out = append(out, s)
	}
	return out
}
