package latency

import (
	"math"

	"gonum.org/v1/gonum/dsp/fourier"
)

// lattice is the shared discretisation: durations are multiples of h
// seconds, from 0 to (n−1)·h; what lies beyond is one "over" mass (which
// holds the forever of a failure under a deadline too).
type lattice struct {
	h float64
	n int
	// up rounds a duration up to the lattice (mass of ((i−1)h, ih] on i),
	// so that a deadline on the lattice truncates exactly; otherwise to
	// the nearest point, which keeps sums unbiased.
	up bool
	// ffts are the transforms used, by size
	ffts map[int]*fourier.FFT
}

// dist is a sub-distribution on a lattice: p[i] is the mass at i·h (p may
// be shorter than the lattice: the rest is 0), over the mass beyond it.
type dist struct {
	p    []float64
	over float64
}

// point is the mass w at index i.
func point(i int, w float64) dist {
	p := make([]float64, i+1)
	p[i] = w
	return dist{p: p}
}

func (d dist) total() float64 {
	s := d.over
	for _, v := range d.p {
		s += v
	}
	return s
}

// index is the lattice index of duration t, rounded as the lattice rounds,
// or n when t lies beyond it.
func (l *lattice) index(t float64) int {
	var i float64
	if l.up {
		i = math.Ceil(t/l.h - 1e-9)
	} else {
		i = math.Floor(t/l.h + 0.5)
	}
	if !(i < float64(l.n)) {
		return l.n
	}
	return max(int(i), 0)
}

// of discretises w·m.
func (l *lattice) of(m Marginal, w float64) dist {
	if w == 0 {
		return dist{}
	}
	if f, ok := m.(Fixed); ok {
		if i := l.index(float64(f)); i < l.n {
			return point(i, w)
		}
		return dist{over: w}
	}
	p := make([]float64, l.n)
	prev := 0.0
	last := 0
	for i := range l.n {
		edge := float64(i) * l.h
		if !l.up {
			edge += l.h / 2
		}
		c := m.CDF(edge)
		if v := w * (c - prev); v > 0 {
			p[i] = v
			last = i
		}
		prev = c
		if c >= 1-1e-15 {
			break // the rest, at most 1e-15, is over
		}
	}
	return dist{p: p[:last+1], over: w * (1 - prev)}
}

// add returns a + b.
func add(a, b dist) dist {
	if len(a.p) < len(b.p) {
		a, b = b, a
	}
	p := make([]float64, len(a.p))
	copy(p, a.p)
	for i, v := range b.p {
		p[i] += v
	}
	return dist{p: p, over: a.over + b.over}
}

// scale returns w·d.
func scale(d dist, w float64) dist {
	p := make([]float64, len(d.p))
	for i, v := range d.p {
		p[i] = v * w
	}
	return dist{p: p, over: d.over * w}
}

// shift delays d by k lattice steps.
func (l *lattice) shift(d dist, k int) dist {
	if k == 0 {
		return d
	}
	out := dist{over: d.over}
	if k >= l.n {
		out.over += d.total() - d.over
		return out
	}
	keep := min(len(d.p), l.n-k)
	out.p = make([]float64, k+keep)
	copy(out.p[k:], d.p[:keep])
	for _, v := range d.p[keep:] {
		out.over += v
	}
	return out
}

// conv is the distribution of the sum of independent durations from a and
// b (masses multiply): anything involving a's or b's over mass is over.
func (l *lattice) conv(a, b dist) dist {
	ta, tb := a.total(), b.total()
	out := dist{over: a.over*tb + (ta-a.over)*b.over}
	if len(a.p) == 0 || len(b.p) == 0 {
		return out
	}
	var p []float64
	if len(a.p) < 64 || len(b.p) < 64 || len(a.p)*len(b.p) < 1<<16 {
		p = direct(a.p, b.p)
	} else {
		p = l.fft(a.p, b.p)
	}
	if len(p) > l.n {
		for _, v := range p[l.n:] {
			out.over += v
		}
		p = p[:l.n]
	}
	out.p = p
	return out
}

func direct(a, b []float64) []float64 {
	if len(a) < len(b) {
		a, b = b, a
	}
	p := make([]float64, len(a)+len(b)-1)
	for j, w := range b {
		if w == 0 {
			continue
		}
		q := p[j : j+len(a)]
		for i, v := range a {
			q[i] += v * w
		}
	}
	return p
}

// fft convolves by the fast Fourier transform.
func (l *lattice) fft(a, b []float64) []float64 {
	m := len(a) + len(b) - 1
	size := 1
	for size < m {
		size <<= 1
	}
	if l.ffts == nil {
		l.ffts = map[int]*fourier.FFT{}
	}
	f := l.ffts[size]
	if f == nil {
		f = fourier.NewFFT(size)
		l.ffts[size] = f
	}
	x := make([]float64, size)
	copy(x, a)
	ca := f.Coefficients(nil, x)
	clear(x)
	copy(x, b)
	cb := f.Coefficients(nil, x)
	for i := range ca {
		ca[i] *= cb[i]
	}
	f.Sequence(x, ca)
	inv := 1 / float64(size)
	peak := 0.0
	for i := range x[:m] {
		x[i] *= inv
		peak = max(peak, x[i])
	}
	// round-off is about 1e-16 of the peak everywhere: cleared, so that
	// supports stay as short as the masses are
	eps := 1e-15 * peak
	last := -1
	for i := range x[:m] {
		if x[i] < eps {
			x[i] = 0
		} else {
			last = i
		}
	}
	return x[:last+1]
}

// cdf is the cumulative sub-distribution of d over the whole lattice.
func (l *lattice) cdf(d dist) []float64 {
	c := make([]float64, l.n)
	s := 0.0
	for i := range c {
		if i < len(d.p) {
			s += d.p[i]
		}
		c[i] = s
	}
	return c
}

// fromCDF turns a cumulative sub-distribution over the lattice back into a
// dist whose total is total.
func fromCDF(c []float64, total float64) dist {
	p := make([]float64, len(c))
	prev := 0.0
	last := -1
	for i, v := range c {
		if d := v - prev; d > 0 {
			p[i] = d
			last = i
		}
		prev = max(prev, v)
	}
	return dist{p: p[:last+1], over: max(0, total-prev)}
}

// cut truncates d at deadline t: what lies at or below t stays (kept),
// the rest — the over mass included — ends at t (cutMass). A deadline
// beyond the lattice leaves d as it is: what is over may lie either side
// of it (Compose keeps such lattices for durations below their end).
func (l *lattice) cut(d dist, t float64) (kept dist, cutMass float64) {
	k := int(math.Floor(t/l.h + 1e-9)) // last index at or below t
	if k > l.n-1 {
		return d, 0
	}
	kept.p = d.p[:min(len(d.p), k+1)]
	cutMass = d.over
	for _, v := range d.p[len(kept.p):] {
		cutMass += v
	}
	return kept, cutMass
}
