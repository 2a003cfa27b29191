package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/observe"
	"github.com/emac-dev/emac/internal/promtest"
	"github.com/emac-dev/emac/internal/server"
	"github.com/emac-dev/emac/internal/service"
)

// shopTelemetry is the shop journey's counters at 10 calls/s from from to
// to, each component exactly at its SLO target (promtest.Checkout): the
// shop journey passes.
func shopTelemetry(from, to time.Time) string {
	return promtest.OpenMetrics(promtest.Checkout(from, to, 15*time.Second, 10)...)
}

// governor is the real backend, service.Governor, over a real prometheus
// holding the shop journey's telemetry. It also tells when the Governor
// refreshes its cache, so that the load can say whether refreshes show in
// the latencies.
type governor struct {
	*service.Governor

	busy     atomic.Bool // an evaluation runs
	last     atomic.Pointer[v1alpha1.JourneyResult]
	mu       sync.Mutex
	started  time.Time
	evals    hist // how long each evaluation took, to its first answer
	overlaps int  // evaluations begun while one ran: none expected
}

// newGovernor backfills 3h of the shop's telemetry ending 2 minutes ago
// into a prometheus of its own (promtest requires backfills to end before
// the server starts), and serves the journey of c.spec from a Governor with
// TTL c.ttl, evaluating at the backfill's end so that every refresh reads
// the same data. It evaluates once before returning, to check the journey
// passes.
func newGovernor(ctx context.Context, c config) (server.Backend, func(), error) {
	end := time.Now().UTC().Truncate(time.Minute).Add(-2 * time.Minute)
	dir, err := os.MkdirTemp("", "emac-bench-serve-")
	if err != nil {
		return nil, nil, err
	}
	t0 := time.Now()
	prom, err := promtest.Launch(promtest.Options{Backfill: shopTelemetry(end.Add(-3*time.Hour), end)}, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	release := func() {
		prom.Stop()
		os.RemoveAll(dir)
	}
	fail := func(err error) (server.Backend, func(), error) {
		release()
		return nil, nil, err
	}
	launched := time.Since(t0)
	rep := service.Load(ctx, []string{c.spec}, service.Options{})
	if err := rep.Diagnostics.Err(); err != nil {
		return fail(fmt.Errorf("%w (run from the repository's root, or give -spec)", err))
	}
	g := &governor{}
	// the observer reads its clock once per evaluation, first thing: the
	// start of a refresh
	obs, err := observe.New(prom.URL, observe.Options{Now: func() time.Time { g.begin(); return end }})
	if err != nil {
		return fail(err)
	}
	if len(rep.Journeys) == 0 {
		return fail(fmt.Errorf("%s: %w", c.spec, errNoJourney))
	}
	g.Governor = service.NewGovernor(rep.Journeys, obs, service.GovernorOptions{TTL: c.ttl})
	name := rep.Journeys[0].Name
	t1 := time.Now()
	res, err := g.Gate(ctx, name, nil)
	if err != nil {
		return fail(err)
	}
	if res.Decision != v1alpha1.DecisionPass {
		return fail(fmt.Errorf("journey %s: %s, want PASS: %s", name, res.Decision, strings.Join(res.Reasons, "; ")))
	}
	fmt.Printf("governor: prometheus %s started in %v with 3h of telemetry to %s; %s, TTL %v; first evaluation %v: %s\n",
		prom.URL, launched.Round(time.Millisecond), end.Format(time.TimeOnly), c.spec, c.ttl, time.Since(t1).Round(time.Millisecond), res.Decision)
	return g, release, nil
}

// begin notes that an evaluation starts.
func (g *governor) begin() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.busy.Swap(true) {
		g.overlaps++
	}
	g.started = time.Now()
}

// Gate answers as the Governor does. A result it has not answered before
// is a refresh's: the refresh is over.
func (g *governor) Gate(ctx context.Context, journey string, canaries []observe.Canary) (*v1alpha1.JourneyResult, error) {
	res, err := g.Governor.Gate(ctx, journey, canaries)
	if err == nil && g.last.Load() != res && g.last.Swap(res) != res {
		g.mu.Lock()
		if g.busy.Swap(false) {
			g.evals.add(time.Since(g.started))
		}
		g.mu.Unlock()
	}
	return res, err
}

// Refreshing says an evaluation runs.
func (g *governor) Refreshing() bool { return g.busy.Load() }

// Report describes the evaluations.
func (g *governor) Report() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.evals.n == 0 {
		return "no evaluation finished"
	}
	s := fmt.Sprintf("%d evaluations (the first before the load), each to its first answer: %s", g.evals.n, g.evals.summary())
	if g.overlaps > 0 {
		s += fmt.Sprintf("; %d began while another ran", g.overlaps)
	}
	return s
}
