package sim

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/emac-dev/emac/internal/model"
)

// DefaultQuantiles are the latency quantile levels estimated when
// LatencyOptions.Quantiles is empty.
var DefaultQuantiles = []float64{0.5, 0.9, 0.99, 0.999}

// LatencyOptions says what EstimateLatency reports about the successful
// executions' durations.
type LatencyOptions struct {
	// Quantiles are the levels to estimate, each in (0, 1); empty means
	// DefaultQuantiles.
	Quantiles []float64
	// Confidence is the level of the quantiles' intervals; 0 means 0.95.
	Confidence float64
	// Threshold, in seconds, asks for P(L ≤ Threshold | success) when
	// positive.
	Threshold float64
	// Coupling joins the durations of one execution's calls (their
	// outcomes stay as the scenario draws them); the zero value draws
	// them independently.
	Coupling Coupling
}

// Coupling is how the durations one execution draws depend on each other:
// each keeps its component's distribution (its marginal), so any coupling
// stays within the dependence-free bound of internal/latency.
type Coupling int

const (
	// IndependentDurations draws every duration on its own.
	IndependentDurations Coupling = iota
	// ComonotoneDurations draws every duration at one shared quantile level: all
	// slow together (the worst case for sums).
	ComonotoneDurations
	// AntitheticDurations alternates a shared level u and 1 − u: one fast, the
	// next slow.
	AntitheticDurations
)

// Quantile is the estimate of one quantile of a successful execution's
// duration, in seconds.
type Quantile struct {
	// Q is the level, e.g. 0.99.
	Q float64
	// Value is the empirical quantile: the ⌈sQ⌉-th smallest of the s
	// successful durations.
	Value float64
	// Lo and Hi bound the distribution-free interval of the quantile at
	// the requested confidence: the order statistics of ranks
	// ⌊sQ − z√(sQ(1−Q))⌋ and ⌈sQ + z√(sQ(1−Q))⌉ (binomial ranks, normal
	// approximation). A rank below 1 gives Lo = 0 (durations are not
	// negative), one above s gives Hi = +Inf: s is too small to bound the
	// quantile on that side.
	Lo, Hi float64
}

// LatencyResult is the outcome of a latency estimate. The journey's
// latency is that of a successful execution, so everything but Result is
// over the successful executions' durations.
type LatencyResult struct {
	// Result is the availability estimate, the same as Program.Run's for
	// the same journey, scenario, n and seed.
	Result
	// Mean is the mean duration of the successful executions, in seconds
	// (NaN without one).
	Mean float64
	// Quantiles are the estimates at LatencyOptions.Quantiles, in their
	// order (Value, Lo and Hi NaN without a successful execution).
	Quantiles []Quantile
	// Within estimates P(L ≤ LatencyOptions.Threshold | success) as a
	// proportion of the successful executions (N of them, Successes
	// within the threshold); nil without a threshold.
	Within *Result
}

// EstimateLatency runs n executions of the journey under the scenario,
// timed as docs/semantics.md ("Latency") says, and returns the
// availability with the distribution of a successful execution's
// duration. Like Estimate, the result depends only on its arguments,
// never on scheduling. It keeps every successful duration: n = 10^7 takes
// 80 MB.
func EstimateLatency(ctx context.Context, j *model.Journey, sc Scenario, n int, seed uint64, opts LatencyOptions) (LatencyResult, error) {
	p, err := Compile(j, sc)
	if err != nil {
		return LatencyResult{}, err
	}
	return p.RunLatency(ctx, n, seed, opts)
}

// RunLatency performs n timed executions of the compiled journey across
// runtime.GOMAXPROCS workers; see EstimateLatency.
func (p *Program) RunLatency(ctx context.Context, n int, seed uint64, opts LatencyOptions) (LatencyResult, error) {
	if n <= 0 {
		return LatencyResult{}, fmt.Errorf("sim: %d executions requested, need at least one", n)
	}
	if p.latErr != nil {
		return LatencyResult{}, p.latErr
	}
	qs := opts.Quantiles
	if len(qs) == 0 {
		qs = DefaultQuantiles
	}
	for _, q := range qs {
		if !(q > 0 && q < 1) {
			return LatencyResult{}, fmt.Errorf("sim: quantile level %v is not in (0,1)", q)
		}
	}
	conf := opts.Confidence
	if conf == 0 {
		conf = 0.95
	}
	if !(conf > 0 && conf < 1) {
		return LatencyResult{}, fmt.Errorf("sim: confidence %v is not in (0,1)", conf)
	}
	z := math.Sqrt2 * math.Erfinv(conf)

	// chunk c keeps its successful durations at the start of its own
	// stretch of ds, so what ds holds does not depend on scheduling
	ds := make([]float64, n)
	counts := make([]int, (n+chunkSize-1)/chunkSize)
	err := p.chunks(ctx, n, seed, func(w *walker, c, m int) {
		w.coupling = opts.Coupling
		out := ds[c*chunkSize : c*chunkSize+m]
		s := 0
		for range m {
			if ok, d := w.executeTimed(); ok {
				out[s] = d
				s++
			}
		}
		counts[c] = s
	})
	if err != nil {
		return LatencyResult{}, err
	}
	s := 0
	for c, k := range counts {
		s += copy(ds[s:], ds[c*chunkSize:c*chunkSize+k])
	}
	ds = ds[:s]

	r := LatencyResult{Result: proportion(s, n), Mean: math.NaN()}
	if s > 0 {
		sum := 0.0
		for _, d := range ds {
			sum += d
		}
		r.Mean = sum / float64(s)
	}
	if opts.Threshold > 0 {
		k := 0
		for _, d := range ds {
			if d <= opts.Threshold {
				k++
			}
		}
		within := proportion(k, s)
		r.Within = &within
	}

	// ranks (1-based) of each quantile's value, lo and hi, selected at once
	r.Quantiles = make([]Quantile, len(qs))
	ranks := make([]int, 0, 3*len(qs))
	for i, q := range qs {
		r.Quantiles[i] = Quantile{Q: q, Value: math.NaN(), Lo: math.NaN(), Hi: math.NaN()}
		if s == 0 {
			continue
		}
		v, lo, hi := quantileRanks(s, q, z)
		ranks = append(ranks, v-1)
		if lo >= 1 {
			ranks = append(ranks, lo-1)
		}
		if hi <= s {
			ranks = append(ranks, hi-1)
		}
	}
	if s == 0 {
		return r, nil
	}
	slices.Sort(ranks)
	ranks = slices.Compact(ranks)
	selectRanks(ds, ranks, 0)
	for i := range r.Quantiles {
		e := &r.Quantiles[i]
		v, lo, hi := quantileRanks(s, e.Q, z)
		e.Value, e.Lo, e.Hi = ds[v-1], 0, inf
		if lo >= 1 {
			e.Lo = ds[lo-1]
		}
		if hi <= s {
			e.Hi = ds[hi-1]
		}
	}
	return r, nil
}

// quantileRanks returns the 1-based ranks among s sorted values of the
// q-quantile (clamped to [1, s]) and of its interval's bounds for the
// normal quantile z (not clamped).
func quantileRanks(s int, q, z float64) (v, lo, hi int) {
	sq := float64(s) * q
	h := z * math.Sqrt(sq*(1-q))
	v = min(max(int(math.Ceil(sq)), 1), s)
	return v, int(math.Floor(sq - h)), int(math.Ceil(sq + h))
}

// selectRanks reorders xs, which is the stretch of a larger slice starting
// at index base, so that xs[r-base] is the value of 0-based rank r for
// every r in ranks (ascending, within the stretch): a quickselect for
// several ranks at once, with three-way partitions so that ties (a
// component without latency takes 0) cost nothing.
func selectRanks(xs []float64, ranks []int, base int) {
	for len(ranks) > 0 {
		if len(xs) <= 16 {
			slices.Sort(xs)
			return
		}
		pivot := median3(xs[0], xs[len(xs)/2], xs[len(xs)-1])
		lt, i, gt := 0, 0, len(xs)
		for i < gt {
			switch x := xs[i]; {
			case x < pivot:
				xs[lt], xs[i] = x, xs[lt]
				lt++
				i++
			case x > pivot:
				gt--
				xs[i], xs[gt] = xs[gt], x
			default:
				i++
			}
		}
		// xs[:lt] < pivot, xs[lt:gt] == pivot, xs[gt:] > pivot
		a, _ := slices.BinarySearch(ranks, base+lt)
		b, _ := slices.BinarySearch(ranks, base+gt)
		selectRanks(xs[:lt], ranks[:a], base)
		xs, ranks, base = xs[gt:], ranks[b:], base+gt
	}
}

func median3(a, b, c float64) float64 {
	if a > b {
		a, b = b, a
	}
	if b > c {
		b = c
	}
	return max(a, b)
}
