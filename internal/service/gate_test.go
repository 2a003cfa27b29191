package service_test

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/actionlog"
	"github.com/emac-dev/emac/internal/model"
	"github.com/emac-dev/emac/internal/observe"
	"github.com/emac-dev/emac/internal/promtest"
	"github.com/emac-dev/emac/internal/service"
)

// targets are the replay's atomic SLO targets, which the backfilled
// telemetry meets exactly (testdata/replay/README.md).
var targets = promtest.CheckoutTargets()

// gateTimes: the backfill ends at end (before Prometheus starts, as
// promtest requires); the scenarios are evaluated at mid, and canaries run
// from mid to end.
type gateTimes struct{ start, mid, end time.Time }

func newGateTimes() gateTimes {
	end := time.Now().UTC().Truncate(time.Minute).Add(-2 * time.Minute)
	return gateTimes{start: end.Add(-3 * time.Hour), mid: end.Add(-20 * time.Minute), end: end}
}

// telemetry is the checkout's components' counters as their OpenSLO SLIs
// query them, at 10 calls/s meeting their targets exactly, plus two
// front canaries from mid on: one failing 10% of its calls, one healthy.
func telemetry(ts gateTimes) string {
	const step = 15 * time.Second
	ss := promtest.Checkout(ts.start, ts.end, step, 10)
	for pod, a := range map[string]float64{"front-canary-bad-1": 0.9, "front-canary-good-1": 0.9999} {
		ss = append(ss, promtest.HTTPRequests("front", pod, ts.mid, ts.end, step, 2, a)...)
	}
	return promtest.OpenMetrics(ss...)
}

// acceptedCheckout is the replay's checkout spec with the baseline's
// evidence accepted (separate payment networks), as TestReplay leaves it.
func acceptedCheckout(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	copyDir(t, filepath.Join("testdata", "replay", "checkout"), dir)
	specPath := filepath.Join(dir, "spec", "emac.checkout.yaml")
	md := deltaOf(t, specPath, scenarios[0])
	if err := service.Accept(specPath, md, service.AcceptOptions{}); err != nil {
		t.Fatal(err)
	}
	return specPath
}

func deltaOf(t *testing.T, specPath string, sc scenario) *v1alpha1.ModelDelta {
	t.Helper()
	ctx := context.Background()
	d, err := service.Discover(ctx, []string{fixture(t, sc)}, service.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rep, deltas, err := service.Delta(ctx, []string{specPath}, d, service.Options{})
	if err != nil || rep.Diagnostics.HasErrors() || len(deltas) != 1 {
		t.Fatalf("delta: %v %v %d", err, rep.Diagnostics, len(deltas))
	}
	return deltas[0]
}

func journeysOf(t *testing.T, paths ...string) []*model.Journey {
	t.Helper()
	rep := service.Load(context.Background(), paths, service.Options{})
	if rep.Diagnostics.HasErrors() {
		t.Fatal(rep.Diagnostics)
	}
	return rep.Journeys
}

func observer(t *testing.T, url string, at time.Time, opts observe.Options) *observe.Observer {
	t.Helper()
	opts.Now = func() time.Time { return at }
	o, err := observe.New(url, opts)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestGateReplay runs the paper's three scenarios in observed mode against
// a real Prometheus holding the components' telemetry: every local SLO is
// met in all three, and the evidence alone moves the decision PASS → FAIL
// → REVIEW, with the A- of REPLAY.md.
func TestGateReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("starts prometheus")
	}
	ts := newGateTimes()
	srv := promtest.Start(t, promtest.Options{Backfill: telemetry(ts)})
	specPath := acceptedCheckout(t)
	js := journeysOf(t, specPath)
	ctx := context.Background()

	wants := map[string]struct {
		decision      string
		aMinus, aPlus float64
		reason        string
	}{
		"baseline_separate_domains":       {v1alpha1.DecisionPass, 0.99747706, 0.99747706, "meets the objective"},
		"payment_shared_fate_drift":       {v1alpha1.DecisionFail, 0.99251449, 0.99747706, "below the objective"},
		"missing_or_conflicting_evidence": {v1alpha1.DecisionReview, 0.99251449, 0.99747706, "unresolved"},
	}
	for _, sc := range scenarios {
		w := wants[sc.name]
		md := deltaOf(t, specPath, sc)
		gov := service.NewGovernor(js, observer(t, srv.URL, ts.mid, observe.Options{}), service.GovernorOptions{Evidence: []*v1alpha1.ModelDelta{md}, EvidenceFiles: []string{sc.name}})
		res, err := gov.Gate(ctx, "checkout", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %s A+ %.8f A- %.8f %q", sc.name, res.Decision, res.Availability.Optimistic, res.Availability.Pessimistic, res.Reasons)
		if res.Decision != w.decision {
			t.Errorf("%s: decision %s, want %s (%q)", sc.name, res.Decision, w.decision, res.Reasons)
		}
		if math.Abs(res.Availability.Pessimistic-w.aMinus) > 5e-9 || math.Abs(res.Availability.Optimistic-w.aPlus) > 5e-9 {
			t.Errorf("%s: A+ %.8f A- %.8f, want %.8f %.8f", sc.name, res.Availability.Optimistic, res.Availability.Pessimistic, w.aPlus, w.aMinus)
		}
		if !strings.Contains(strings.Join(res.Reasons, " "), w.reason) {
			t.Errorf("%s: reasons %q, want one saying %q", sc.name, res.Reasons, w.reason)
		}
		o := res.Observation
		if o == nil || !o.Sufficient || res.Mode != v1alpha1.ModeObserved {
			t.Fatalf("%s: observation %+v, mode %s: want sufficient, observed", sc.name, o, res.Mode)
		}
		// the objective window holds the same ratios: the same bounds
		if ob := o.Objective; ob == nil || math.Abs(ob.Pessimistic-w.aMinus) > 5e-9 || math.Abs(ob.Optimistic-w.aPlus) > 5e-9 {
			t.Errorf("%s: objective-window bounds %+v, want A+ %.8f A- %.8f", sc.name, ob, w.aPlus, w.aMinus)
		}
		for _, c := range o.Components {
			if c.Status != v1alpha1.ObservedOK || c.Measured == nil || math.Abs(*c.Measured-targets[c.Name]) > 1e-9 {
				t.Errorf("%s: %s: %s measured %v, want ok at %v", sc.name, c.Name, c.Status, c.Measured, targets[c.Name])
			}
			if c.Calls == nil || math.Abs(*c.Calls-36000) > 360 {
				t.Errorf("%s: %s: %v calls in the hour, want 36000 (10/s)", sc.name, c.Name, c.Calls)
			}
		}
	}
}

// TestGateData: a canary is measured on its own series and decides; data
// that is stale, thin or unreadable is never PASS, and a Prometheus that
// comes back is read again.
func TestGateData(t *testing.T) {
	if testing.Short() {
		t.Skip("starts prometheus")
	}
	ts := newGateTimes()
	srv := promtest.Start(t, promtest.Options{Backfill: telemetry(ts)})
	specPath := acceptedCheckout(t)
	js := journeysOf(t, specPath)
	ctx := context.Background()
	gate := func(at time.Time, opts observe.Options, canary string) *v1alpha1.JourneyResult {
		t.Helper()
		var cs []observe.Canary
		if canary != "" {
			c, err := observe.ParseCanary(canary)
			if err != nil {
				t.Fatal(err)
			}
			cs = append(cs, c)
		}
		res, err := service.NewGovernor(js, observer(t, srv.URL, at, opts), service.GovernorOptions{}).Gate(ctx, "checkout", cs)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	tenMinutes := observe.Options{Window: 10 * time.Minute}
	tests := []struct {
		name     string
		at       time.Time
		opts     observe.Options
		canary   string
		stop     bool
		decision string
		reason   string
	}{
		{"healthy", ts.mid, observe.Options{}, "", false, v1alpha1.DecisionPass, "meets the objective"},
		{"failing canary", ts.end, tenMinutes, `front={pod=~"front-canary-bad-.*"}`, false, v1alpha1.DecisionFail, "below the objective"},
		{"healthy canary", ts.end, tenMinutes, `front=pod=~"front-canary-good-.*"`, false, v1alpha1.DecisionPass, "meets the objective"},
		{"canary without calls", ts.mid, tenMinutes, `front={pod="front-canary-never"}`, false, v1alpha1.DecisionReview, "made no calls"},
		{"stale", ts.end.Add(30 * time.Minute), observe.Options{}, "", false, v1alpha1.DecisionReview, "no data in the last 5m"},
		{"too few calls", ts.mid, observe.Options{MinCalls: 1e6}, "", false, v1alpha1.DecisionReview, "at least 1e+06 are needed"},
		{"prometheus stopped", ts.mid, observe.Options{Timeout: 2 * time.Second}, "", true, v1alpha1.DecisionReview, "Prometheus could not be read"},
		{"prometheus back", ts.mid, observe.Options{}, "", false, v1alpha1.DecisionPass, "meets the objective"},
	}
	for _, tt := range tests {
		if tt.stop {
			srv.Stop()
		} else if tt.name == "prometheus back" {
			srv.Restart(t)
		}
		res := gate(tt.at, tt.opts, tt.canary)
		t.Logf("%s: %s A- %.8f %q", tt.name, res.Decision, res.Availability.Pessimistic, res.Reasons)
		if res.Decision != tt.decision || !strings.Contains(strings.Join(res.Reasons, " "), tt.reason) {
			t.Errorf("%s: got %s %q, want %s with a reason saying %q", tt.name, res.Decision, res.Reasons, tt.decision, tt.reason)
		}
	}
}

// TestGuardLive evaluates the paper's promote guard on live values: it
// allows a small step, its limits deny a big one and a second run in the
// window (kept in an action log that outlives the process), and it denies
// when the live values cannot be read.
func TestGuardLive(t *testing.T) {
	if testing.Short() {
		t.Skip("starts prometheus")
	}
	ts := newGateTimes()
	srv := promtest.Start(t, promtest.Options{Backfill: telemetry(ts)})
	js := journeysOf(t, filepath.Join("testdata", "gate", "shop.yaml"))
	ctx := context.Background()
	logPath := filepath.Join(t.TempDir(), "actions.log")
	clock := ts.mid
	governor := func(timeout time.Duration) (*service.Governor, func()) {
		log, err := actionlog.Open(logPath, actionlog.Options{})
		if err != nil {
			t.Fatal(err)
		}
		obs := observer(t, srv.URL, ts.mid, observe.Options{Timeout: timeout})
		return service.NewGovernor(js, obs, service.GovernorOptions{Actions: log, Now: func() time.Time { return clock }}), func() { log.Close() }
	}
	gov, closeLog := governor(0)
	tests := []struct {
		name     string
		params   map[string]any
		dryRun   bool
		after    time.Duration // the clock moves on first
		restart  bool          // a new governor on the same log
		stop     bool
		allowed  bool
		reason   string
		recorded bool
	}{
		{name: "dry run", params: map[string]any{"step": 0.2}, dryRun: true, allowed: true, reason: "the guard holds"},
		{name: "small step", params: map[string]any{"step": 0.2}, allowed: true, reason: "every limit is kept", recorded: true},
		{name: "again within the window, after a restart", params: map[string]any{"step": 0.2}, after: 5 * time.Minute, restart: true, reason: "ran 1 times in the last 10m"},
		{name: "big step", params: map[string]any{"step": 0.8}, after: 6 * time.Minute, reason: "exceeds maxTrafficStep 0.5"},
		{name: "no step", params: map[string]any{}, reason: "params.step is missing"},
		{name: "prometheus stopped", params: map[string]any{"step": 0.2}, stop: true, reason: "cannot be evaluated"},
	}
	for _, tt := range tests {
		clock = clock.Add(tt.after)
		if tt.restart {
			closeLog()
			gov, closeLog = governor(0)
		}
		if tt.stop {
			srv.Stop()
			closeLog()
			gov, closeLog = governor(2 * time.Second)
		}
		res, err := gov.Guard(ctx, "shop", "promote", tt.params, tt.dryRun)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: allowed %v %q", tt.name, res.Allowed, res.Reasons)
		if res.Allowed != tt.allowed || res.Recorded != tt.recorded || !strings.Contains(strings.Join(res.Reasons, " "), tt.reason) {
			t.Errorf("%s: allowed %v recorded %v %q; want %v %v with a reason saying %q", tt.name, res.Allowed, res.Recorded, res.Reasons, tt.allowed, tt.recorded, tt.reason)
		}
	}
	closeLog()
	if _, err := gov.Guard(ctx, "shop", "promot", nil, true); err == nil || !strings.Contains(err.Error(), `did you mean "promote"`) {
		t.Errorf("unknown action: %v, want a did-you-mean", err)
	}
}

// TestGateCache: within the TTL a result is reused; up to a TTL later it
// is still answered while one evaluation refreshes it; later still the
// caller waits for a fresh one.
func TestGateCache(t *testing.T) {
	if testing.Short() {
		t.Skip("starts prometheus")
	}
	ts := newGateTimes()
	srv := promtest.Start(t, promtest.Options{Backfill: telemetry(ts)})
	js := journeysOf(t, filepath.Join("testdata", "gate", "shop.yaml"))
	ctx := context.Background()
	clock := ts.mid
	gov := service.NewGovernor(js, observer(t, srv.URL, ts.mid, observe.Options{}), service.GovernorOptions{TTL: time.Minute, Now: func() time.Time { return clock }})
	gate := func() *v1alpha1.JourneyResult {
		res, err := gov.Gate(ctx, "shop", nil)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	first := gate()
	clock = clock.Add(59 * time.Second)
	if gate() != first {
		t.Error("within the TTL: a new evaluation, want the cached one")
	}
	clock = clock.Add(30 * time.Second)
	if gate() != first {
		t.Error("expired 29s ago: the caller waited, want the stale result while it refreshes")
	}
	deadline := time.Now().Add(10 * time.Second)
	for gate() == first {
		if time.Now().After(deadline) {
			t.Fatal("the background refresh never replaced the stale result")
		}
		time.Sleep(10 * time.Millisecond)
	}
	refreshed := gate()
	clock = clock.Add(3 * time.Minute)
	if got := gate(); got == refreshed {
		t.Error("two TTLs past: the stale result, want a fresh evaluation")
	}
}
