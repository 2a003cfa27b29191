package latency

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/emac-dev/emac/internal/model"
)

// Marginal is the latency distribution of one thing that takes time — a
// component's successful calls, its failed ones — in seconds.
type Marginal interface {
	// CDF is P(L ≤ t), right-continuous, 0 below 0.
	CDF(t float64) float64
	// Quantile is the least t with CDF(t) ≥ q, for q in (0, 1); a
	// uniform q gives a draw (the simulator samples this way).
	Quantile(q float64) float64
}

// DefaultSigma is the log-space spread assumed through a single latency
// point: ln(p99/p50) = 2.326·σ, so a lone p99 of 120ms implies a p50 of
// 37.5ms. With two or more points the spread comes from the points.
const DefaultSigma = 0.5

// Points is the distribution through SLO latency points (p50: 40ms, p99:
// 120ms, …). Between points the quantile function is interpolated
// linearly in (Φ⁻¹(q), ln t): each stretch is a log-normal's, and two
// points define a log-normal exactly. Beyond the outermost points the end
// stretches continue (log-normal tails); a lone point gets DefaultSigma.
// Equal values at two percentiles put the mass between them on that value.
type Points struct {
	z, y   []float64 // knots: Φ⁻¹(q) ascending, ln(seconds) non-decreasing
	lo, hi float64   // slopes beyond the first and the last knot
}

// FromPoints builds Points; points must have quantiles in (0,1) and
// values that do not decrease as the quantile grows (the spec loader says
// so with positions).
func FromPoints(pts []model.LatencyPoint) (*Points, error) {
	if len(pts) == 0 {
		return nil, fmt.Errorf("latency: no latency points")
	}
	ps := slices.Clone(pts)
	sort.Slice(ps, func(i, j int) bool { return ps[i].Quantile < ps[j].Quantile })
	d := &Points{}
	for i, p := range ps {
		switch {
		case !(p.Quantile > 0 && p.Quantile < 1):
			return nil, fmt.Errorf("latency: point quantile %v is not in (0,1)", p.Quantile)
		case p.Value <= 0:
			return nil, fmt.Errorf("latency: point p%v is not positive", p.Quantile*100)
		case i > 0 && p.Quantile == ps[i-1].Quantile:
			return nil, fmt.Errorf("latency: two points at p%v", p.Quantile*100)
		case i > 0 && p.Value < ps[i-1].Value:
			return nil, fmt.Errorf("latency: p%v is below p%v", p.Quantile*100, ps[i-1].Quantile*100)
		}
		d.z = append(d.z, probit(p.Quantile))
		d.y = append(d.y, math.Log(p.Value.Seconds()))
	}
	n := len(d.z)
	if n == 1 {
		d.lo, d.hi = DefaultSigma, DefaultSigma
		return d, nil
	}
	d.lo = (d.y[1] - d.y[0]) / (d.z[1] - d.z[0])
	d.hi = (d.y[n-1] - d.y[n-2]) / (d.z[n-1] - d.z[n-2])
	return d, nil
}

// at is ln Quantile(Φ(z)).
func (d *Points) at(z float64) float64 {
	n := len(d.z)
	switch {
	case z <= d.z[0]:
		return d.y[0] + d.lo*(z-d.z[0])
	case z >= d.z[n-1]:
		return d.y[n-1] + d.hi*(z-d.z[n-1])
	}
	k := sort.SearchFloat64s(d.z, z) // d.z[k-1] < z ≤ d.z[k]
	f := (z - d.z[k-1]) / (d.z[k] - d.z[k-1])
	return d.y[k-1] + f*(d.y[k]-d.y[k-1])
}

// Quantile implements Marginal.
func (d *Points) Quantile(q float64) float64 { return math.Exp(d.at(probit(q))) }

// CDF implements Marginal: Φ of the largest z whose quantile is at most t.
func (d *Points) CDF(t float64) float64 {
	if t <= 0 {
		return 0
	}
	y := math.Log(t)
	n := len(d.z)
	// past the last knot (a flat end stretch holds no mass beyond it)
	if y >= d.y[n-1] {
		if d.hi <= 0 {
			return 1
		}
		return phi(d.z[n-1] + (y-d.y[n-1])/d.hi)
	}
	if y < d.y[0] {
		if d.lo <= 0 {
			return 0
		}
		return phi(d.z[0] + (y-d.y[0])/d.lo)
	}
	// the last knot at or below y: on a flat stretch, its far end
	k := sort.Search(n, func(i int) bool { return d.y[i] > y }) - 1
	if k+1 < n && d.y[k+1] > d.y[k] {
		return phi(d.z[k] + (y-d.y[k])/(d.y[k+1]-d.y[k])*(d.z[k+1]-d.z[k]))
	}
	return phi(d.z[k])
}

// gridCDF is a Marginal that evaluates its CDF on a lattice's points
// faster than one call per point, to the same values: discretising the
// marginals is a tenth of the analysis.
type gridCDF interface {
	// cdfs sets dst[j] to CDF(ts[j]), ys[j] being math.Log(ts[j]) (the
	// lattice's points and their logarithms, which every marginal
	// discretised on the lattice shares: see lattice.points).
	cdfs(dst, ts, ys []float64)
}

// cdfs implements gridCDF: CDF's arithmetic, point by point, with the
// stretch found by walking up the knots (the points ascend) instead of
// by a search, and Φ taken over all the points at the end, where one
// point's evaluation overlaps the next's.
func (d *Points) cdfs(dst, ts, ys []float64) {
	n := len(d.z)
	k := 0 // the last knot at or below the point, once inside
	ts, ys = ts[:len(dst)], ys[:len(dst)]
	for j, t := range ts {
		// z, or ±Inf where CDF is 0 or 1 without Φ: Φ(±Inf) is exactly
		// 1 and 0
		var z float64
		switch y := ys[j]; {
		case t <= 0:
			z = math.Inf(-1)
		case y >= d.y[n-1]:
			if d.hi <= 0 {
				z = math.Inf(1)
			} else {
				z = d.z[n-1] + (y-d.y[n-1])/d.hi
			}
		case y < d.y[0]:
			if d.lo <= 0 {
				z = math.Inf(-1)
			} else {
				z = d.z[0] + (y-d.y[0])/d.lo
			}
		default:
			for k+1 < n && d.y[k+1] <= y {
				k++
			}
			if k+1 < n && d.y[k+1] > d.y[k] {
				z = d.z[k] + (y-d.y[k])/(d.y[k+1]-d.y[k])*(d.z[k+1]-d.z[k])
			} else {
				z = d.z[k]
			}
		}
		dst[j] = z
	}
	for j, z := range dst {
		// phi, written out so that it is inlined
		switch {
		case !(z > -normalEdge && z < normalEdge):
			dst[j] = 0.5 * math.Erfc(-z/math.Sqrt2)
		case z > 0:
			dst[j] = 1 - lowerPhi(-z)
		default:
			dst[j] = lowerPhi(z)
		}
	}
}

// Buckets is the distribution of a Prometheus classic histogram: the
// cumulative counts at each bucket's upper bound, linear within a bucket
// and from 0 in the first one — what histogram_quantile assumes. What the
// +Inf bucket holds beyond the last finite bound is put on that bound, as
// histogram_quantile does; Overflow says how much that was.
type Buckets struct {
	le  []float64 // upper bounds, ascending, finite
	cdf []float64 // P(L ≤ le[i])
	// Overflow is the share of observations above the last finite bound.
	Overflow float64
}

// Bucket is one bucket of a classic histogram: the cumulative count of
// observations at or below an upper bound (seconds; +Inf allowed).
type Bucket struct {
	UpperBound float64
	Count      float64
}

// FromBuckets builds Buckets from cumulative bucket counts, in any order.
func FromBuckets(bs []Bucket) (*Buckets, error) {
	bs = slices.Clone(bs)
	sort.Slice(bs, func(i, j int) bool { return bs[i].UpperBound < bs[j].UpperBound })
	total := 0.0
	if n := len(bs); n > 0 {
		total = bs[n-1].Count
	}
	if !(total > 0) {
		return nil, fmt.Errorf("latency: the histogram has no observations")
	}
	d := &Buckets{}
	prev := 0.0
	for i, b := range bs {
		switch {
		case math.IsNaN(b.UpperBound) || b.UpperBound < 0:
			return nil, fmt.Errorf("latency: bucket bound %v", b.UpperBound)
		case i > 0 && b.UpperBound == bs[i-1].UpperBound:
			return nil, fmt.Errorf("latency: two buckets with le=%v", b.UpperBound)
		case b.Count < prev:
			return nil, fmt.Errorf("latency: bucket le=%v counts %v, fewer than the bucket below it (%v): not cumulative", b.UpperBound, b.Count, prev)
		}
		prev = b.Count
		if math.IsInf(b.UpperBound, 1) {
			break
		}
		d.le = append(d.le, b.UpperBound)
		d.cdf = append(d.cdf, b.Count/total)
	}
	if len(d.le) == 0 {
		return nil, fmt.Errorf("latency: the histogram has no finite bucket")
	}
	d.Overflow = 1 - d.cdf[len(d.cdf)-1]
	d.cdf[len(d.cdf)-1] = 1
	return d, nil
}

// CDF implements Marginal.
func (d *Buckets) CDF(t float64) float64 {
	if t < 0 {
		return 0
	}
	k := sort.SearchFloat64s(d.le, t) // le[k-1] < t ≤ le[k]
	if k == len(d.le) {
		return 1
	}
	lo, c0 := 0.0, 0.0
	if k > 0 {
		lo, c0 = d.le[k-1], d.cdf[k-1]
	}
	if d.le[k] == lo {
		return d.cdf[k]
	}
	return c0 + (d.cdf[k]-c0)*(t-lo)/(d.le[k]-lo)
}

// Quantile implements Marginal.
func (d *Buckets) Quantile(q float64) float64 {
	k := sort.SearchFloat64s(d.cdf, q) // cdf[k-1] < q ≤ cdf[k]
	if k == len(d.cdf) {
		k--
	}
	lo, c0 := 0.0, 0.0
	if k > 0 {
		lo, c0 = d.le[k-1], d.cdf[k-1]
	}
	if d.cdf[k] == c0 {
		return d.le[k]
	}
	return lo + (d.le[k]-lo)*(q-c0)/(d.cdf[k]-c0)
}

// Samples is the empirical distribution of observed durations (trace
// spans).
type Samples struct{ s []float64 }

// FromSamples builds Samples from durations.
func FromSamples(ds []time.Duration) (*Samples, error) {
	if len(ds) == 0 {
		return nil, fmt.Errorf("latency: no samples")
	}
	s := make([]float64, len(ds))
	for i, d := range ds {
		if d < 0 {
			return nil, fmt.Errorf("latency: negative duration %v", d)
		}
		s[i] = d.Seconds()
	}
	slices.Sort(s)
	return &Samples{s: s}, nil
}

// CDF implements Marginal.
func (d *Samples) CDF(t float64) float64 {
	k := sort.Search(len(d.s), func(i int) bool { return d.s[i] > t })
	return float64(k) / float64(len(d.s))
}

// Quantile implements Marginal.
func (d *Samples) Quantile(q float64) float64 {
	k := int(math.Ceil(q*float64(len(d.s)))) - 1
	return d.s[min(max(k, 0), len(d.s)-1)]
}

// Fixed is a duration that does not vary (a failed call's failureLatency).
type Fixed float64

// CDF implements Marginal.
func (d Fixed) CDF(t float64) float64 {
	if t >= float64(d) {
		return 1
	}
	return 0
}

// Quantile implements Marginal.
func (d Fixed) Quantile(float64) float64 { return float64(d) }

// probit is Φ⁻¹.
func probit(q float64) float64 { return -math.Sqrt2 * math.Erfcinv(2*q) }

// Where a component's success latency comes from (Result.Sources).
const (
	// SourceHistogram: its measured histogram (model.Component.Histogram).
	SourceHistogram = "histogram"
	// SourcePoints: its SLO's latency points.
	SourcePoints = "points"
)

// SourceOf says where Of takes a component's success latency from:
// SourceHistogram, SourcePoints, or "" when it has none.
func SourceOf(c *model.Component) string {
	switch {
	case len(c.Histogram) > 0:
		return SourceHistogram
	case len(c.Latency) > 0:
		return SourcePoints
	}
	return ""
}

// Of returns a component's latency marginals: of its successful calls
// (nil when the spec gives no latency for it) and of its failed calls
// (nil when failed calls take what successful ones do). A measured
// histogram is preferred to the SLO's latency points.
func Of(c *model.Component) (success, failure Marginal, err error) {
	switch SourceOf(c) {
	case SourceHistogram:
		bs := make([]Bucket, len(c.Histogram))
		for i, b := range c.Histogram {
			bs[i] = Bucket(b)
		}
		h, err := FromBuckets(bs)
		if err != nil {
			return nil, nil, fmt.Errorf("component %s: %w", c.Name, err)
		}
		success = h
	case SourcePoints:
		p, err := FromPoints(c.Latency)
		if err != nil {
			return nil, nil, fmt.Errorf("component %s: %w", c.Name, err)
		}
		success = p
	}
	if c.FailureLatency > 0 {
		failure = Fixed(c.FailureLatency.Seconds())
	}
	return success, failure, nil
}
