// Package latency composes a journey's latency (SPEC §5): from each
// component's latency distribution (SLO points, a Prometheus histogram,
// trace durations) to the distribution of a successful journey's duration
// under the operators' execution semantics (docs/semantics.md), on a
// shared lattice with a stated error; and a dependence-free upper bound on
// each quantile, which holds however the components' latencies are
// coupled. Timeouts truncate: the mass above a deadline fails, which
// lowers availability.
package latency

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/emac-dev/emac/internal/model"
)

// Levels are the quantiles reported by default.
var Levels = []float64{0.5, 0.9, 0.99, 0.999}

// Options configure Analyze; the zero value is the default.
type Options struct {
	// Levels to report; nil means Levels.
	Levels []float64
	// Threshold, when positive, asks for P(L ≤ Threshold | success); the
	// journey's latency objective's threshold by default.
	Threshold time.Duration
	// Resolution is the relative resolution the lattice aims at around
	// the median (0 means 1/100).
	Resolution float64
	// MaxPoints caps the lattice (0 means 1<<16).
	MaxPoints int
}

// Result is a journey's latency under independence.
type Result struct {
	// Availability is P(success) with every call independent, timeouts
	// truncating (the engine's A+ when no deadline acts is the same
	// number, computed without latency).
	Availability float64
	// Quantiles of a successful journey's duration, in Levels' order.
	Quantiles []Quantile
	// Threshold and Within: P(L ≤ Threshold | success), when asked.
	Threshold time.Duration
	Within    float64
	// Resolution is the lattice step of the quantiles; Error bounds how
	// far the lattice may move a quantile (each duration summed along one
	// execution is rounded by at most half a step).
	Resolution, Error time.Duration
	// Untimed lists the components without latency: they take no time,
	// so no deadline fires on them.
	Untimed []string
	// Timed says whether any component has latency; without, every
	// duration is 0.
	Timed bool
	// Sources says where each timed component's success latency comes
	// from: SourceHistogram or SourcePoints (SourceOf).
	Sources map[string]string
	// CDF samples P(L ≤ t | success) for charts, t ascending.
	CDF []Point
	// Lower samples a lower bound on P(L ≤ t | success) that holds however
	// the components' latencies are coupled (the dependence-free bound),
	// t ascending: the band from it up to CDF is a chart's.
	Lower []Point
}

// Quantile is one quantile of a successful journey's duration.
type Quantile struct {
	Level float64
	// Value is the independent estimate.
	Value time.Duration
	// Upper is the dependence-free upper bound; Beyond says the bound
	// passed the end of the lattice, so the quantile is only known to be
	// above Upper.
	Upper  time.Duration
	Beyond bool
}

// Point is one point of a CDF.
type Point struct {
	T time.Duration
	P float64
}

// Analyze composes the journey's latency with every call independent.
func Analyze(j *model.Journey, opts Options) (*Result, error) {
	if err := j.Validate(); err != nil {
		return nil, err
	}
	levels := opts.Levels
	if levels == nil {
		levels = Levels
	}
	for _, q := range levels {
		if !(q > 0 && q < 1) {
			return nil, fmt.Errorf("latency: level %v is not in (0,1)", q)
		}
	}
	thr := opts.Threshold
	if thr <= 0 && j.Objective.Latency != nil {
		thr = j.Objective.Latency.Threshold
	}
	// every array of the compositions below is made in ws, and freed
	// when the analysis returns: res holds copies only
	ws := newWorkspace()
	defer ws.release()
	c := &composer{succ: map[string]Marginal{}, fail: map[string]Marginal{}, closing: closings(j),
		prob: func(n string) float64 { return j.Components[n].Availability }, ws: ws}
	c.index(j.Flow)
	res := &Result{Threshold: thr}
	for _, name := range j.ComponentNames() {
		s, f, err := Of(j.Components[name])
		if err != nil {
			return nil, err
		}
		if s == nil {
			res.Untimed = append(res.Untimed, name)
		} else {
			c.succ[name] = s
			res.Timed = true
			if res.Sources == nil {
				res.Sources = map[string]string{}
			}
			res.Sources[name] = SourceOf(j.Components[name])
		}
		if f != nil {
			c.fail[name] = f
			res.Timed = true
		}
	}
	sh := shape(j.Flow, c, false, 0.5)
	// far enough that at most 1e-5 of the mass lies beyond for a sum of
	// the durations one execution adds up (each beyond its 1 − 1e-5/terms
	// quantile): every component's far tail summed would be much longer
	terms := float64(max(sh.terms, 1))
	top1 := shape(j.Flow, c, false, 1-1e-5/terms).extent
	if !res.Timed || top1 == 0 {
		// nothing takes time: every duration is 0, no deadline fires
		s, _ := (&composer{l: &lattice{h: 1, n: 1, up: true, ws: ws}, succ: map[string]Marginal{}, fail: map[string]Marginal{}, closing: c.closing, prob: c.prob}).compose(j.Flow, false, false)
		res.Availability = s.total()
		for _, q := range levels {
			res.Quantiles = append(res.Quantiles, Quantile{Level: q})
		}
		if thr > 0 {
			res.Within = 1
		}
		return res, nil
	}

	resolution := opts.Resolution
	if resolution <= 0 {
		resolution = 1.0 / 100
	}
	maxPoints := opts.MaxPoints
	if maxPoints <= 0 {
		maxPoints = 1 << 16
	}
	maxDeadline := 0.0
	for _, d := range sh.deadlines {
		maxDeadline = max(maxDeadline, d)
	}

	// a first, small lattice tells where the quantiles lie: its end is
	// doubled until what lies beyond is negligible
	est := c.estimate(j.Flow, 8*shape(j.Flow, c, false, 0.5).extent, top1)
	qe := func(q float64) float64 { return quantile(est.l, est.cdf, est.a, q) }
	if !(est.a > 0) {
		return res, nil // no successful execution: no latency to speak of
	}

	// the lattice of the result: fine around the median, up to past the
	// highest level and every deadline, so that every deadline cuts on it
	topQ := 1.25 * qe(1-(1-slices.Max(levels))/4)
	top2 := max(topQ, 1.2*thr.Seconds(), maxDeadline*(1+1e-9), est.l.h)
	h2 := max(qe(0.5), est.l.h) * resolution
	n2 := int(math.Ceil(top2/h2)) + 1
	n2 = min(max(n2, 1<<10), maxPoints)
	c.on(&lattice{h: top2 / float64(n2-1), n: n2, ws: ws})
	s2, _ := c.compose(j.Flow, false, false)
	res.Availability = s2.total()
	if !(res.Availability > 0) {
		return res, nil
	}
	cdf2 := c.l.cdf(s2)
	for _, q := range levels {
		res.Quantiles = append(res.Quantiles, Quantile{Level: q, Value: seconds(quantile(c.l, cdf2, res.Availability, q))})
	}
	res.Resolution = seconds(c.l.h)
	res.Error = seconds(float64(sh.terms) * c.l.h / 2)
	if thr > 0 {
		res.Within = within(c.l, cdf2, res.Availability, thr.Seconds())
	}
	res.CDF = chart(c.l, cdf2, res.Availability)

	// the dependence-free bound, on its own lattice, which rounds up: the
	// bound's highest quantile lies below the sum of each duration's
	// 1 − (1 − level)/terms quantile (the standard bound, for sums). A
	// deadline beyond it caps nothing on it, and a far threshold would
	// only coarsen it.
	topB := max(shape(j.Flow, c, false, 1-(1-slices.Max(levels))/terms).extent, topQ)
	b := newBounder(&lattice{h: topB / (boundPoints - 1), n: boundPoints, up: true, ws: ws}, c)
	var lower []float64 // the bound on P(L ≤ t | success) at the lattice points
	if len(sh.deadlines) == 0 {
		lower = b.bound(j.Flow, false).s
	} else {
		// what a deadline cuts depends on the coupling too: the bound that
		// conditions on nothing (robust.go)
		rb := robust{b: b, memo: map[memoKey]rbnd{}}.bound(j.Flow, false, false)
		lower = make([]float64, b.l.n)
		if rb.lo > 0 {
			for i, v := range rb.s.u {
				lower[i] = min(1, max(0, 1-v/rb.lo))
			}
		}
		lower = monotone(lower)
	}
	for i := range res.Quantiles {
		u, ok := b.upper(lower, res.Quantiles[i].Level)
		if !ok {
			u = float64(boundPoints) * b.l.h
		}
		res.Quantiles[i].Upper, res.Quantiles[i].Beyond = seconds(u), !ok
	}
	step := max(1, len(lower)/200)
	for i := 0; i < len(lower); i += step {
		res.Lower = append(res.Lower, Point{T: seconds(float64(i) * b.l.h), P: lower[i]})
	}
	return res, nil
}

// estimated is a composition on a small lattice: where the quantiles lie.
type estimated struct {
	l   *lattice
	cdf []float64
	a   float64 // P(success)
}

// estimatePoints is the size of the estimate's lattice.
const estimatePoints = 1 << 8

// estimate composes n on a small lattice from 0 to top, doubling top until
// at most 1e-6 of the successful mass lies beyond it, or top passes limit.
func (c *composer) estimate(n *model.Node, top, limit float64) estimated {
	top = min(max(top, 1e-9), max(limit, 1e-9))
	for {
		c.on(&lattice{h: top / (estimatePoints - 1), n: estimatePoints, ws: c.ws})
		s, _ := c.compose(n, false, false)
		a := s.total()
		if !(a > 0) || s.over <= 1e-6*a || top >= limit {
			return estimated{l: c.l, cdf: c.l.cdf(s), a: a}
		}
		top *= 2
	}
}

// quantile reads the q-quantile of the conditional distribution from a
// cumulative sub-distribution of total mass a; the mass at a lattice
// point is spread over the step that rounds to it.
func quantile(l *lattice, cdf []float64, a, q float64) float64 {
	target := q * a
	i := sort.SearchFloat64s(cdf, target)
	if i >= len(cdf) {
		return float64(l.n) * l.h
	}
	lo, plo := float64(i)*l.h, 0.0
	if i > 0 {
		plo = cdf[i-1]
	}
	hi := lo
	if l.up {
		lo -= l.h
	} else {
		lo, hi = lo-l.h/2, lo+l.h/2
	}
	if cdf[i] == plo {
		return max(0, hi)
	}
	return max(0, lo+(hi-lo)*(target-plo)/(cdf[i]-plo))
}

// within is P(L ≤ t | success), spread as quantile spreads.
func within(l *lattice, cdf []float64, a, t float64) float64 {
	x := t / l.h
	if !l.up {
		x -= 0.5
	}
	i := int(math.Floor(x))
	if i < -1 {
		return 0
	}
	if i >= len(cdf)-1 {
		return math.Min(1, cdf[len(cdf)-1]/a)
	}
	prev := 0.0
	if i >= 0 {
		prev = cdf[i]
	}
	v := prev + (cdf[i+1]-prev)*(x-float64(i))
	return math.Min(1, v/a)
}

// chart samples the conditional CDF at about 200 points, up to a little
// past its 1 − 10⁻⁴ quantile (the lattice may reach much further, to a far
// deadline or threshold).
func chart(l *lattice, cdf []float64, a float64) []Point {
	end := min(len(cdf), int(1.1*float64(sort.SearchFloat64s(cdf, (1-1e-4)*a)))+2)
	step := max(1, end/200)
	var out []Point
	for i := 0; i < end; i += step {
		out = append(out, Point{T: seconds((float64(i) + 0.5) * l.h), P: math.Min(1, cdf[i]/a)})
	}
	return out
}

func seconds(s float64) time.Duration { return time.Duration(math.Round(s * 1e9)) }

// shaped is what the lattice is chosen from: how long an execution can
// last (far into the tails; forever is left to the deadlines), the
// deadlines and delays, and how many durations one execution sums.
type shaped struct {
	extent    float64
	deadlines []float64 // timeouts and per-try timeouts
	terms     int
}

// boundPoints is the size of the bound's lattice: the pairwise bound on a
// sum costs its square.
const boundPoints = 1024

// shape walks the flow under n for the lattices: each component's extent
// is its level-quantile.
func shape(n *model.Node, c *composer, deadline bool, level float64) shaped {
	var sh shaped
	merge := func(k shaped) { sh.deadlines = append(sh.deadlines, k.deadlines...) }
	switch n.Op {
	case model.Call:
		if m := c.succ[n.Component]; m != nil {
			sh.extent = m.Quantile(level)
		}
		if m := c.fail[n.Component]; m != nil {
			sh.extent = max(sh.extent, m.Quantile(level))
		}
		sh.terms = 1
		return sh
	case model.Seq, model.Fallback:
		for _, k := range n.Children {
			ks := shape(k, c, deadline, level)
			merge(ks)
			sh.extent += ks.extent
			sh.terms += ks.terms
		}
		return sh
	case model.Retry:
		t := n.PerTryTimeout.Seconds()
		ks := shape(n.Children[0], c, deadline || t > 0, level)
		merge(ks)
		per := ks.extent
		if t > 0 {
			sh.deadlines = append(sh.deadlines, t)
			per = t // a failed attempt may last until its deadline
		}
		a := float64(n.Attempts)
		sh.extent = a*per + (a-1)*n.Backoff.Seconds()
		sh.terms = n.Attempts*ks.terms + n.Attempts - 1
		return sh
	case model.Timeout:
		ks := shape(n.Children[0], c, true, level)
		merge(ks)
		t := n.After.Seconds()
		// a failure under it lasts until the deadline
		sh.extent, sh.terms = t, ks.terms
		sh.deadlines = append(sh.deadlines, t)
		return sh
	case model.Async:
		return sh
	}
	// all, race, quorum, branch, optional: the slowest operand
	for i, k := range n.Children {
		ks := shape(k, c, deadline, level)
		merge(ks)
		off := 0.0
		if n.Op == model.Race && i > 0 && n.HedgeAfter > 0 {
			off = float64(i) * n.HedgeAfter.Seconds()
		}
		sh.extent = max(sh.extent, off+ks.extent)
		sh.terms = max(sh.terms, ks.terms+min(i, 1))
	}
	return sh
}
