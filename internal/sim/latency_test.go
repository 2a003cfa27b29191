package sim

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emac-dev/emac/internal/model"
	"github.com/emac-dev/emac/internal/stats"
)

// lat is a component's latency in a test: SLO points and a failure
// latency.
type lat struct {
	pts  []model.LatencyPoint
	fail time.Duration
}

// logn is the log-normal through p50 and p99.
func logn(p50, p99 time.Duration) lat {
	return lat{pts: []model.LatencyPoint{{Quantile: 0.5, Value: p50}, {Quantile: 0.99, Value: p99}}}
}

// fixed takes d: two points with one value hold all the mass on it.
func fixed(d time.Duration) lat {
	return lat{pts: []model.LatencyPoint{{Quantile: 0.1, Value: d}, {Quantile: 0.9, Value: d}}}
}

func (l lat) failing(d time.Duration) lat { l.fail = d; return l }

// phi and probit are the standard normal CDF and its inverse, written
// here rather than taken from internal/latency.
func phi(z float64) float64    { return 0.5 * math.Erfc(-z/math.Sqrt2) }
func probit(q float64) float64 { return math.Sqrt2 * math.Erfinv(2*q-1) }
func step(v float64) func(float64) float64 {
	return func(t float64) float64 {
		if t >= v {
			return 1
		}
		return 0
	}
}

// lnCDF is the CDF of the log-normal through (q1, v1) and (q2, v2):
// σ = ln(v2/v1)/(Φ⁻¹(q2)−Φ⁻¹(q1)), μ = ln v1 − σΦ⁻¹(q1).
func lnCDF(q1 float64, v1 time.Duration, q2 float64, v2 time.Duration) func(float64) float64 {
	sigma := math.Log(v2.Seconds()/v1.Seconds()) / (probit(q2) - probit(q1))
	mu := math.Log(v1.Seconds()) - sigma*probit(q1)
	return func(t float64) float64 {
		if t <= 0 {
			return 0
		}
		return phi((math.Log(t) - mu) / sigma)
	}
}

// the test components: availability, latency, and the latency's CDF
const (
	ax, ay, az     = 0.99, 0.95, 0.9
	af, ag, ah, ae = 0.98, 0.7, 0.8, 0.6
)

var (
	lx, ly, lz     = logn(20*time.Millisecond, 80*time.Millisecond), logn(50*time.Millisecond, 150*time.Millisecond), logn(30*time.Millisecond, 200*time.Millisecond)
	lf, lg, lh, le = fixed(10 * time.Millisecond), fixed(20 * time.Millisecond), fixed(30 * time.Millisecond), fixed(40 * time.Millisecond)

	Fx         = lnCDF(0.5, 20*time.Millisecond, 0.99, 80*time.Millisecond)
	Fy         = lnCDF(0.5, 50*time.Millisecond, 0.99, 150*time.Millisecond)
	Fz         = lnCDF(0.5, 30*time.Millisecond, 0.99, 200*time.Millisecond)
	Ff, Fg, Fh = step(0.010), step(0.020), step(0.030)
)

// atLeast is P(at least k of independent events with probabilities ps).
func atLeast(k int, ps ...float64) float64 {
	dist := []float64{1} // dist[j] = P(j events so far)
	for _, p := range ps {
		next := make([]float64, len(dist)+1)
		for j, d := range dist {
			next[j] += d * (1 - p)
			next[j+1] += d * p
		}
		dist = next
	}
	s := 0.0
	for j := k; j < len(dist); j++ {
		s += dist[j]
	}
	return s
}

// convolve is P(X + Y ≤ t) for X with CDF fx and Y log-normal through
// (0.5, p50), (0.99, p99), integrated over Y's normal score.
func convolve(fx func(float64) float64, p50, p99 time.Duration) func(float64) float64 {
	sigma := math.Log(p99.Seconds()/p50.Seconds()) / probit(0.99)
	mu := math.Log(p50.Seconds())
	return func(t float64) float64 {
		const lo, hi, steps = -9.0, 9.0, 6000
		h := (hi - lo) / steps
		s := 0.0
		for i := 0; i <= steps; i++ {
			z := lo + float64(i)*h
			w := h
			if i == 0 || i == steps {
				w /= 2
			}
			s += w * math.Exp(-z*z/2) / math.Sqrt(2*math.Pi) * fx(t-math.Exp(mu+sigma*z))
		}
		return s
	}
}

// invert is the least t with cdf(t) ≥ q, by bisection.
func invert(cdf func(float64) float64, q float64) float64 {
	lo, hi := 0.0, 1.0
	for cdf(hi) < q {
		lo, hi = hi, 2*hi
	}
	for range 200 {
		mid := (lo + hi) / 2
		if cdf(mid) >= q {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

func buildLat(t testing.TB, flow string, avail map[string]float64, lats map[string]lat) *model.Journey {
	t.Helper()
	j := build(t, flow, avail, nil, nil)
	for c, l := range lats {
		if j.Components[c] == nil {
			continue // not called by this flow
		}
		j.Components[c].Latency = l.pts
		j.Components[c].FailureLatency = l.fail
	}
	return j
}

// latQuantiles are the levels the closed-form checks estimate.
var latQuantiles = []float64{0.05, 0.5, 0.9, 0.99, 0.999}

// TestLatencyClosedForms compares the availability, the quantiles of a
// successful execution's duration and P(L ≤ threshold | success) with
// closed forms (or numerical integrals of them), each within its 99.9%
// interval; n and the seed are fixed, so the checks cannot flake.
func TestLatencyClosedForms(t *testing.T) {
	const T = 0.06 // a deadline, seconds
	xyz := map[string]float64{"x": ax, "y": ay, "z": az}
	lxyz := map[string]lat{"x": lx, "y": ly, "z": lz}
	fgh := map[string]float64{"f": af, "g": ag, "h": ah}
	lfgh := map[string]lat{"f": lf, "g": lg, "h": lh}
	all := map[string]float64{"x": ax, "y": ay, "z": az, "f": af, "g": ag, "h": ah, "e": ae}
	lall := map[string]lat{"x": lx, "y": ly, "z": lz, "f": lf, "g": lg, "h": lh, "e": le}
	pRetry := ax * Fx(T)
	tests := []struct {
		name  string
		flow  string
		avail map[string]float64
		lats  map[string]lat
		sc    Scenario
		// want is the availability, cdf the conditional CDF of a
		// successful execution's duration, thr a threshold to check it at
		want float64
		cdf  func(t float64) float64
		thr  float64
	}{
		{"seq of two fixed", "Seq(f, g)", fgh, lfgh, Independent(), af * ag, step(0.03), 0.025},
		{"seq of fixed and log-normal", "Seq(f, x)", all, lall, Independent(), af * ax,
			func(t float64) float64 { return Fx(t - 0.01) }, 0.04},
		{"seq of two log-normals", "Seq(x, y)", xyz, lxyz, Independent(), ax * ay,
			convolve(Fx, 50*time.Millisecond, 150*time.Millisecond), 0.1},
		{"a component without latency takes no time", "Seq(x, w)", map[string]float64{"x": ax, "w": 0.9}, lxyz, Independent(), ax * 0.9, Fx, 0.03},
		{"timeout", "Timeout[after=60ms](x)", xyz, lxyz, Independent(), ax * Fx(T),
			func(t float64) float64 { return Fx(min(t, T)) / Fx(T) }, 0.03},
		{"a failure under a timeout costs the deadline", "Timeout[after=60ms](Fallback(y, x))", xyz,
			lxyz, Independent(), ay * Fy(T),
			func(t float64) float64 { return Fy(min(t, T)) / Fy(T) }, 0.05},
		{"failure latency comes before the deadline", "Timeout[after=60ms](Fallback(y, x))", xyz,
			map[string]lat{"x": lx, "y": ly.failing(time.Millisecond)}, Independent(), ay*Fy(T) + (1-ay)*ax*Fx(T-0.001),
			func(t float64) float64 {
				t = min(t, T)
				return (ay*Fy(t) + (1-ay)*ax*Fx(t-0.001)) / (ay*Fy(T) + (1-ay)*ax*Fx(T-0.001))
			}, 0.05},
		{"failure latency without a deadline", "Fallback(y, x)", xyz,
			map[string]lat{"x": lx, "y": ly.failing(5 * time.Millisecond)}, Independent(), 1 - (1-ay)*(1-ax),
			func(t float64) float64 {
				return (ay*Fy(t) + (1-ay)*ax*Fx(t-0.005)) / (1 - (1-ay)*(1-ax))
			}, 0.05},
		{"a failure takes a success draw without failure latency", "Fallback(f, g)", fgh, lfgh, Independent(), 1 - (1-af)*(1-ag),
			func(t float64) float64 { return (af*Ff(t) + (1-af)*ag*Fh(t)) / (1 - (1-af)*(1-ag)) }, 0.02},
		{"retry with perTryTimeout and backoff", "Retry[attempts=3, perTryTimeout=60ms, backoff=25ms](x)", xyz, lxyz, Independent(),
			1 - math.Pow(1-pRetry, 3),
			func(t float64) float64 {
				s := 0.0
				for i := range 3 {
					s += math.Pow(1-pRetry, float64(i)) * ax * Fx(min(t-float64(i)*(T+0.025), T))
				}
				return s / (1 - math.Pow(1-pRetry, 3))
			}, 0.1},
		{"retry without a deadline", "Retry[attempts=2, backoff=25ms](f)", fgh, lfgh, Independent(), 1 - (1-af)*(1-af),
			func(t float64) float64 { return (af*step(0.01)(t) + (1-af)*af*step(0.045)(t)) / (1 - (1-af)*(1-af)) }, 0.02},
		{"race with hedgeAfter", "Race[hedgeAfter=30ms](x, y, z)", xyz, lxyz, Independent(), 1 - (1-ax)*(1-ay)*(1-az),
			func(t float64) float64 {
				return (1 - (1-ax*Fx(t))*(1-ay*Fy(t-0.03))*(1-az*Fz(t-0.06))) / (1 - (1-ax)*(1-ay)*(1-az))
			}, 0.04},
		{"race of one persistent component", "Race[hedgeAfter=30ms](x, x)", xyz, lxyz, Named(nil, []string{"x"}), ax,
			func(t float64) float64 { return 1 - (1-Fx(t))*(1-Fx(t-0.03)) }, 0.04},
		{"all waits for the slowest", "All(x, y, z)", xyz, lxyz, Independent(), ax * ay * az,
			func(t float64) float64 { return Fx(t) * Fy(t) * Fz(t) }, 0.08},
		{"quorum at the k-th success", "Quorum[k=2](x, y, z)", xyz, lxyz, Independent(), atLeast(2, ax, ay, az),
			func(t float64) float64 { return atLeast(2, ax*Fx(t), ay*Fy(t), az*Fz(t)) / atLeast(2, ax, ay, az) }, 0.05},
		{"nested quorums", "Quorum[k=1](Quorum[k=2](x, y, z), Quorum[k=2](z, y))", xyz, lxyz, Independent(),
			1 - (1-atLeast(2, ax, ay, az))*(1-az*ay),
			func(t float64) float64 {
				return (1 - (1-atLeast(2, ax*Fx(t), ay*Fy(t), az*Fz(t)))*(1-az*Fz(t)*ay*Fy(t))) / (1 - (1-atLeast(2, ax, ay, az))*(1-az*ay))
			}, 0.05},
		{"a quorum fails at the (n-k+1)-th failure", "Fallback(Quorum[k=2](f, g, h, e), x)", all, lall, Independent(),
			atLeast(2, af, ag, ah, ae) + (1-atLeast(2, af, ag, ah, ae))*ax,
			func(t float64) float64 {
				// outcomes of f, g, h, e (10, 20, 30, 40ms): success at
				// the 2nd success, failure at the 3rd failure, then x
				s := 0.0
				for m := range 16 {
					p := 1.0
					var succ, fail []float64
					for i, a := range []float64{af, ag, ah, ae} {
						if m&(1<<i) != 0 {
							p *= a
							succ = append(succ, 0.01*float64(i+1))
						} else {
							p *= 1 - a
							fail = append(fail, 0.01*float64(i+1))
						}
					}
					if len(succ) >= 2 {
						s += p * step(succ[1])(t)
					} else {
						s += p * ax * Fx(t-fail[2])
					}
				}
				return s / (atLeast(2, af, ag, ah, ae) + (1-atLeast(2, af, ag, ah, ae))*ax)
			}, 0.045},
		{"branch", "Branch(0.3: x, 0.7: Seq(f, y))", all, lall, Independent(), 0.3*ax + 0.7*af*ay,
			func(t float64) float64 { return (0.3*ax*Fx(t) + 0.7*af*ay*Fy(t-0.01)) / (0.3*ax + 0.7*af*ay) }, 0.05},
		{"async returns at once", "Seq(x, Async(Seq(y, g)))", all, lall, Independent(), ax, Fx, 0.03},
		{"optional is waited for, failed or not", "Seq(x, Optional(g))", all, map[string]lat{"x": lx, "g": lg.failing(5 * time.Millisecond)},
			Independent(), ax, func(t float64) float64 { return ag*Fx(t-0.02) + (1-ag)*Fx(t-0.005) }, 0.04},
		{"an optional failure under a timeout takes the deadline", "Timeout[after=100ms](Seq(f, Optional(g)))", fgh,
			lfgh, Independent(), af * ag, step(0.03), 0.029},
		{"an optional failure with failure latency is waited for", "Timeout[after=100ms](Seq(f, Optional(g)))", fgh,
			map[string]lat{"f": lf, "g": lg.failing(5 * time.Millisecond)}, Independent(), af,
			func(t float64) float64 { return ag*step(0.03)(t) + (1-ag)*step(0.015)(t) }, 0.029},
		{"an async failure does not see the deadline", "Timeout[after=100ms](Seq(f, Async(g)))", fgh, lfgh, Independent(), af, step(0.01), 0.011},
		{"a timeout under optional", "Seq(x, Optional(Timeout[after=60ms](y)))", xyz, lxyz, Independent(), ax,
			convolve(func(t float64) float64 {
				// y's time when it fails or runs past 60ms is the deadline
				if t >= T {
					return 1
				}
				return ay * Fy(t)
			}, 20*time.Millisecond, 80*time.Millisecond), 0.07},
	}
	opts := LatencyOptions{Quantiles: latQuantiles, Confidence: 0.999}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := buildLat(t, tc.flow, tc.avail, tc.lats)
			opts := opts
			opts.Threshold = tc.thr
			r, err := EstimateLatency(context.Background(), j, tc.sc, 200_000, 3, opts)
			if err != nil {
				t.Fatal(err)
			}
			if lo, hi := r.Wilson(0.999); tc.want < lo || tc.want > hi {
				t.Errorf("availability: got %.6f (99.9%% CI [%.6f, %.6f]), want %.6f", r.P, lo, hi, tc.want)
			}
			for _, e := range r.Quantiles {
				want := invert(tc.cdf, e.Q)
				if want < e.Lo*(1-1e-9)-1e-12 || want > e.Hi*(1+1e-9)+1e-12 {
					t.Errorf("p%v: got %.6fs (99.9%% CI [%.6f, %.6f]), want %.6fs", e.Q*100, e.Value, e.Lo, e.Hi, want)
				}
			}
			if lo, hi := r.Within.Wilson(0.999); tc.cdf(tc.thr) < lo || tc.cdf(tc.thr) > hi {
				t.Errorf("P(L ≤ %vs | success): got %.6f (99.9%% CI [%.6f, %.6f]), want %.6f", tc.thr, r.Within.P, lo, hi, tc.cdf(tc.thr))
			}
			// the availability path draws the same outcomes
			a, err := Estimate(context.Background(), j, tc.sc, 200_000, 3)
			if err != nil {
				t.Fatal(err)
			}
			if a != r.Result {
				t.Errorf("Estimate got %+v, EstimateLatency %+v", a, r.Result)
			}
		})
	}
}

// TestDeadlineAvailability: timeouts lower the availability Estimate
// reports, by the mass of their operand above the deadline.
func TestDeadlineAvailability(t *testing.T) {
	const T = 0.06
	xyz := map[string]float64{"x": ax, "y": ay, "z": az}
	lxyz := map[string]lat{"x": lx, "y": ly, "z": lz}
	p := ax * Fx(T)
	tests := []struct {
		name string
		flow string
		want float64
	}{
		{"timeout", "Timeout[after=60ms](x)", ax * Fx(T)},
		{"timeout of a fallback whose first step fails", "Timeout[after=60ms](Fallback(y, x))", ay * Fy(T)},
		{"retry with perTryTimeout", "Retry[attempts=3, perTryTimeout=60ms, backoff=1s](x)", 1 - math.Pow(1-p, 3)},
		{"the retries exceed the timeout", "Timeout[after=100ms](Retry[attempts=3, perTryTimeout=60ms](x))", p + (1-p)*ax*Fx(0.04)},
		{"a retry under a timeout", "Timeout[after=60ms](Retry[attempts=3](x))", ax * Fx(T)},
		{"timeout of an all", "Timeout[after=60ms](All(x, y))", ax * ay * Fx(T) * Fy(T)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := buildLat(t, tc.flow, xyz, lxyz)
			r, err := Estimate(context.Background(), j, Independent(), 200_000, 9)
			if err != nil {
				t.Fatal(err)
			}
			if lo, hi := r.Wilson(0.999); tc.want < lo || tc.want > hi {
				t.Errorf("got %.6f (99.9%% CI [%.6f, %.6f]), want %.6f", r.P, lo, hi, tc.want)
			}
		})
	}
}

// TestFastPathUnchanged: a journey without a deadline outside Async runs
// without time, and its estimates for a seed are those the simulator gave
// before it had time (the counts below were recorded then). Deadlines on
// components without latency keep them too: their calls take no time.
func TestFastPathUnchanged(t *testing.T) {
	pay := map[string][]string{"payment-network": {"paya", "payb"}}
	xyz := map[string]float64{"x": 0.9, "y": 0.8, "z": 0.7}
	tests := []struct {
		flow    string
		avail   map[string]float64
		domains map[string][]string
		sc      Scenario
		timed   bool
		want    [2]int // successes of 1000 and of 100003 executions, seed 2024
	}{
		{checkoutFlow, checkoutAvail, pay, Named([]string{"payment-network"}, nil), false, [2]int{996, 99298}},
		{checkoutFlow, checkoutAvail, pay, Independent(), false, [2]int{997, 99751}},
		{"Seq(Retry[attempts=3](x), Branch(0.7: x, 0.3: Quorum[k=2](x, y, z)), Fallback(y, z), Optional(y), Async(z))",
			xyz, map[string][]string{"d": {"x", "y"}}, Named([]string{"d"}, []string{"z"}), false, [2]int{869, 86260}},
		{"Seq(x, Optional(y), Async(z), Timeout[after=1s](x))", map[string]float64{"x": 0.9, "y": 0, "z": 0}, nil, Independent(), true, [2]int{813, 81008}},
	}
	for _, tc := range tests {
		j := build(t, tc.flow, tc.avail, tc.domains, nil)
		p, err := Compile(j, tc.sc)
		if err != nil {
			t.Fatal(err)
		}
		if p.timed != tc.timed {
			t.Errorf("%s: timed %v, want %v", tc.flow, p.timed, tc.timed)
		}
		for i, n := range []int{1000, 100_003} {
			r, err := p.Run(context.Background(), n, 2024)
			if err != nil {
				t.Fatal(err)
			}
			l, err := p.RunLatency(context.Background(), n, 2024, LatencyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if r.Successes != tc.want[i] || l.Result != r {
				t.Errorf("%s, n=%d: got %d successes (%d with latency), want %d", tc.flow, n, r.Successes, l.Successes, tc.want[i])
			}
		}
	}
}

// TestTimed: which journeys draw durations for their availability.
func TestTimed(t *testing.T) {
	tests := []struct {
		flow string
		want bool
	}{
		{"Seq(x, Race[hedgeAfter=10ms](x, x))", false},
		{"Retry[attempts=2, backoff=1s](x)", false},
		{"Retry[attempts=2, perTryTimeout=1s](x)", true},
		{"Seq(x, Timeout[after=1s](x))", true},
		{"Seq(x, Async(Timeout[after=1s](x)))", false},
		{"Seq(x, Optional(Timeout[after=1s](x)))", true},
		{"Async(Seq(x, Optional(Retry[attempts=2, perTryTimeout=1s](x))))", false},
	}
	for _, tc := range tests {
		p, err := Compile(build(t, tc.flow, map[string]float64{"x": 0.9}, nil, nil), Independent())
		if err != nil {
			t.Fatal(err)
		}
		if p.timed != tc.want {
			t.Errorf("%s: got timed %v, want %v", tc.flow, p.timed, tc.want)
		}
	}
}

func TestLatencyDeterministic(t *testing.T) {
	j := buildLat(t, "Seq(x, Quorum[k=2](x, y, z), Timeout[after=200ms](Race[hedgeAfter=30ms](y, z)), Retry[attempts=2, perTryTimeout=50ms](x))",
		map[string]float64{"x": ax, "y": ay, "z": az}, map[string]lat{"x": lx, "y": ly, "z": lz})
	run := func(procs, n int, seed uint64) string {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		r, err := EstimateLatency(context.Background(), j, Independent(), n, seed, LatencyOptions{Threshold: 0.1})
		if err != nil {
			t.Fatal(err)
		}
		within := *r.Within
		r.Within = nil
		return fmt.Sprintf("%+v %+v", r, within)
	}
	for _, n := range []int{1, chunkSize - 1, 3*chunkSize + 17} {
		if a, b := run(1, n, 7), run(2, n, 7); a != b {
			t.Errorf("n=%d: got %s and %s for one seed", n, a, b)
		}
	}
	if a, b := run(2, 20_000, 1), run(2, 20_000, 2); a == b {
		t.Errorf("seeds 1 and 2 gave the same result %s", a)
	}
}

func TestQuantileRanks(t *testing.T) {
	tests := []struct {
		s         int
		q, z      float64
		v, lo, hi int
	}{
		// 1000·0.5 ∓ 1.96·√250 = 500 ∓ 30.99
		{1000, 0.5, stats.Z95, 500, 469, 531},
		// 10⁴·0.99 ∓ 1.96·√99 = 9900 ∓ 19.50
		{10_000, 0.99, stats.Z95, 9900, 9880, 9920},
		{10, 0.999, stats.Z95, 10, 9, 11},
		{1, 0.5, stats.Z95, 1, -1, 2},
	}
	for _, tc := range tests {
		v, lo, hi := quantileRanks(tc.s, tc.q, tc.z)
		if v != tc.v || lo != tc.lo || hi != tc.hi {
			t.Errorf("s=%d q=%v: got ranks %d [%d, %d], want %d [%d, %d]", tc.s, tc.q, v, lo, hi, tc.v, tc.lo, tc.hi)
		}
	}
}

// TestSmallQuantiles: quantile intervals whose ranks fall outside the
// sample are unbounded on that side.
func TestSmallQuantiles(t *testing.T) {
	j := buildLat(t, "x", map[string]float64{"x": 1}, map[string]lat{"x": lx})
	r, err := EstimateLatency(context.Background(), j, Independent(), 3, 1, LatencyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Quantiles) != len(DefaultQuantiles) {
		t.Fatalf("got %d quantiles, want the %d defaults", len(r.Quantiles), len(DefaultQuantiles))
	}
	// p50 of 3: ranks ⌊1.5 − 1.70⌋ = −1 and ⌈1.5 + 1.70⌉ = 4
	if e := r.Quantiles[0]; e.Q != 0.5 || e.Lo != 0 || !math.IsInf(e.Hi, 1) || !(e.Value > 0) {
		t.Errorf("p50 of 3: got %+v, want a value in [0, +Inf]", e)
	}
	// p99.9 of 3: ranks 2 and 4
	if e := r.Quantiles[3]; e.Q != 0.999 || !(e.Lo > 0 && e.Lo <= e.Value) || !math.IsInf(e.Hi, 1) {
		t.Errorf("p99.9 of 3: got %+v, want a value in [2nd smallest, +Inf]", e)
	}
	if r.Within != nil {
		t.Errorf("got Within %+v without a threshold", r.Within)
	}
	j = buildLat(t, "x", map[string]float64{"x": 0}, map[string]lat{"x": lx})
	r, err = EstimateLatency(context.Background(), j, Independent(), 10, 1, LatencyOptions{Threshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	if e := r.Quantiles[0]; r.Successes != 0 || !math.IsNaN(e.Value) || !math.IsNaN(r.Mean) || r.Within.N != 0 {
		t.Errorf("no success: got %+v, want NaN estimates", r)
	}
}

func TestSelectRanks(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 17, 100, 5000} {
		for _, distinct := range []int{1, 3, 1 << 30} {
			xs := make([]float64, n)
			for i := range xs {
				xs[i] = float64(rng.IntN(distinct))
			}
			sorted := slices.Sorted(slices.Values(xs))
			ranks := []int{0, n / 3, n / 3, n / 2, n - 1}
			ranks = slices.Compact(ranks)
			selectRanks(xs, ranks, 0)
			for _, r := range ranks {
				if xs[r] != sorted[r] {
					t.Errorf("n=%d, %d values: rank %d got %v, want %v", n, distinct, r, xs[r], sorted[r])
				}
			}
		}
	}
}

func TestLatencyErrors(t *testing.T) {
	bad := map[string]lat{"x": {pts: []model.LatencyPoint{{Quantile: 0.5, Value: 50 * time.Millisecond}, {Quantile: 0.9, Value: 10 * time.Millisecond}}}}
	avail := map[string]float64{"x": 0.9}
	tests := []struct {
		name string
		flow string
		lats map[string]lat
		n    int
		opts LatencyOptions
		want string
	}{
		{"quantile level", "x", nil, 10, LatencyOptions{Quantiles: []float64{0.5, 1}}, "quantile level 1"},
		{"confidence", "x", nil, 10, LatencyOptions{Confidence: 1.5}, "confidence 1.5"},
		{"no executions", "x", nil, 0, LatencyOptions{}, "at least one"},
		{"bad latency", "x", bad, 10, LatencyOptions{}, "p90 is below p50"},
		{"bad latency under a deadline", "Timeout[after=1s](x)", bad, 10, LatencyOptions{}, "p90 is below p50"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := buildLat(t, tc.flow, avail, tc.lats)
			_, err := EstimateLatency(context.Background(), j, Independent(), tc.n, 1, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got error %v, want one containing %q", err, tc.want)
			}
		})
	}
	// availability needs no latency without a deadline, but does with one
	j := buildLat(t, "x", avail, bad)
	if _, err := Estimate(context.Background(), j, Independent(), 10, 1); err != nil {
		t.Errorf("availability without deadline: got %v", err)
	}
	j = buildLat(t, "Timeout[after=1s](x)", avail, bad)
	if _, err := Estimate(context.Background(), j, Independent(), 10, 1); err == nil {
		t.Errorf("availability under a deadline: got no error for invalid latency")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := EstimateLatency(ctx, buildLat(t, "x", avail, nil), Independent(), 1000, 1, LatencyOptions{}); err != context.Canceled {
		t.Errorf("got %v for a cancelled context, want context.Canceled", err)
	}
}

// BenchmarkExecuteLatency is one worker's cost per timed checkout
// execution, every component with two-point latency.
func BenchmarkExecuteLatency(b *testing.B) {
	j := build(b, checkoutFlow, checkoutAvail, nil, nil)
	for _, c := range j.Components {
		c.Latency = lx.pts
	}
	p, err := Compile(j, Independent())
	if err != nil {
		b.Fatal(err)
	}
	w := p.newWalker()
	w.seed(1, 2)
	b.ReportAllocs()
	s := 0.0
	for b.Loop() {
		if ok, d := w.executeTimed(); ok {
			s += d
		}
	}
	if s == 0 {
		b.Fatal("no success")
	}
}

// BenchmarkLatency16Seq1e7 is one EstimateLatency of 10^7 executions of a
// Seq of 16 components with two-point latencies (run with -benchtime 1x).
func BenchmarkLatency16Seq1e7(b *testing.B) {
	names := make([]string, 16)
	avail := map[string]float64{}
	lats := map[string]lat{}
	for i := range names {
		names[i] = fmt.Sprintf("c%02d", i)
		avail[names[i]] = 0.9995
		lats[names[i]] = logn(time.Duration(10+i)*time.Millisecond, time.Duration(40+3*i)*time.Millisecond)
	}
	j := buildLat(b, "Seq("+strings.Join(names, ", ")+")", avail, lats)
	b.ReportAllocs()
	for b.Loop() {
		r, err := EstimateLatency(context.Background(), j, Independent(), 10_000_000, 1, LatencyOptions{Threshold: 0.5})
		if err != nil {
			b.Fatal(err)
		}
		if r.Successes == 0 {
			b.Fatal("no success")
		}
	}
}
