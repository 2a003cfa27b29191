package latency

import (
	"math"
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
	// ws is where the lattice's arrays are made (nil: a workspace of its
	// own, allocating on the heap; see work)
	ws *workspace
	// damp[i] is θ^i, series' damping
	damp []float64
	// ts[i] is the point marginals are read at for index i, ys[i] its
	// logarithm, both known below known (see points)
	ts, ys []float64
	known  int
}

// work is the lattice's workspace.
func (l *lattice) work() *workspace {
	if l.ws == nil {
		l.ws = &workspace{plain: true}
	}
	return l.ws
}

// dist is a sub-distribution on a lattice: p[i] is the mass at i·h (p may
// be shorter than the lattice: the rest is 0), over the mass beyond it.
type dist struct {
	p    []float64
	over float64
}

// point is the mass w at index i.
func (l *lattice) point(i int, w float64) dist {
	p := l.work().make(i + 1)
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
			return l.point(i, w)
		}
		return dist{over: w}
	}
	p := l.work().make(l.n)
	prev := 0.0
	last := 0
	// a marginal that evaluates many points at once does, a block ahead
	g, grid := m.(gridCDF)
	var block [128]float64
	for i := range l.n {
		var c float64
		if grid {
			j := i % len(block)
			if j == 0 {
				k := min(len(block), l.n-i)
				ts, ys := l.points(i, k)
				g.cdfs(block[:k], ts, ys)
			}
			c = block[j]
		} else {
			edge := float64(i) * l.h
			if !l.up {
				edge += l.h / 2
			}
			c = m.CDF(edge)
		}
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

// points returns the points of indices [i0, i0+n) that marginals are
// read at (of's edges: i·h, plus h/2 on a lattice that rounds to the
// nearest point) and their logarithms, which a marginal's CDF takes:
// computed once for every marginal discretised on l.
func (l *lattice) points(i0, n int) (ts, ys []float64) {
	if l.ts == nil {
		ws := l.work()
		l.ts, l.ys = ws.overwrite(l.n), ws.overwrite(l.n)
	}
	for ; l.known < i0+n; l.known++ {
		t := float64(l.known) * l.h
		if !l.up {
			t += l.h / 2
		}
		l.ts[l.known], l.ys[l.known] = t, math.Log(t)
	}
	return l.ts[i0 : i0+n], l.ys[i0 : i0+n]
}

// add returns a + b.
func (l *lattice) add(a, b dist) dist {
	if len(a.p) < len(b.p) {
		a, b = b, a
	}
	p := l.work().overwrite(len(a.p))
	copy(p, a.p)
	for i, v := range b.p {
		p[i] += v
	}
	return dist{p: p, over: a.over + b.over}
}

// scale returns w·d.
func (l *lattice) scale(d dist, w float64) dist {
	if w == 0 {
		return dist{}
	}
	p := l.work().overwrite(len(d.p))
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
	out.p = l.work().make(k + keep)
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
		p = direct(l.work(), a.p, b.p)
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

func direct(ws *workspace, a, b []float64) []float64 {
	if len(a) < len(b) {
		a, b = b, a
	}
	p := ws.make(len(a) + len(b) - 1)
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

// transform is the real FFT of length at least m, a power of 2.
func (w *workspace) transform(m int) *realFFT {
	size := 1
	for size < m {
		size <<= 1
	}
	if w.ffts == nil {
		w.ffts = map[int]*realFFT{}
	}
	f := w.ffts[size]
	if f == nil {
		f = newRealFFT(size)
		w.ffts[size] = f
	}
	return f
}

// fft convolves by the fast Fourier transform.
func (l *lattice) fft(a, b []float64) []float64 {
	m := len(a) + len(b) - 1
	ws := l.work()
	f := ws.transform(m)
	size := f.Len()
	// the transforms' buffers are the workspace's, reused: only the
	// result is new
	if len(ws.x) < size {
		ws.x = make([]float64, size)
		ws.ca = make([]complex128, size/2+1)
		ws.cb = make([]complex128, size/2+1)
	}
	x, ca, cb := ws.x[:size], ws.ca[:size/2+1], ws.cb[:size/2+1]
	ca = f.padded(ca, a)
	cb = f.padded(cb, b)
	for i := range ca {
		ca[i] *= cb[i]
	}
	f.Sequence(x, ca)
	inv := 1 / float64(size)
	peak := scaledPeak(x[:m], inv)
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
	return ws.clone(x[:last+1])
}

// scaledPeak multiplies x by inv and returns max(0, x...): max is the same
// number in any order (NaN and signed zeros included), so four running
// maxima keep four elements in flight instead of one.
func scaledPeak(x []float64, inv float64) float64 {
	p0, p1, p2, p3 := 0.0, 0.0, 0.0, 0.0
	i := 0
	for ; i+3 < len(x); i += 4 {
		x0, x1, x2, x3 := x[i]*inv, x[i+1]*inv, x[i+2]*inv, x[i+3]*inv
		x[i], x[i+1], x[i+2], x[i+3] = x0, x1, x2, x3
		p0, p1, p2, p3 = max(p0, x0), max(p1, x1), max(p2, x2), max(p3, x3)
	}
	for ; i < len(x); i++ {
		x[i] *= inv
		p0 = max(p0, x[i])
	}
	return max(p0, p1, p2, p3)
}

// seriesMin is the lattice size from which series works in the Fourier
// domain.
const seriesMin = 512

// series is the distribution of the sum of independent durations, one
// from each of ss (masses multiply); with fs, also the sub-distribution of
// the time by which one fails, Σ_i (s_0 ⊕ … ⊕ s_{i−1}) ⊕ f_i: the operands
// of a sequence, run until one fails.
//
// On a large lattice it works in the Fourier domain, one transform per
// operand and one back, where pairwise sums take three each. The
// transforms are circular, of length M ≥ 2n: a sum's mass beyond M would
// wrap onto the lattice. So every operand is damped by θ^i first, with
// θ^n = 1e-4, and the result undamped: wrapped mass arrives scaled by
// θ^M ≤ 1e-8 (and it is mass from beyond twice the lattice's end), while
// the round-off the undamping magnifies stays below 1e-4·1e-14 of the
// peak... in the damped domain, relative to the peak, as the pairwise
// transform's does.
func (l *lattice) series(ss, fs []dist) (s, f dist) {
	long := 0
	for _, d := range ss {
		if len(d.p) >= 64 {
			long++
		}
	}
	if l.n < seriesMin || long < 3 {
		g := l.point(0, 1)
		for i, sk := range ss {
			if fs != nil {
				f = l.add(f, l.conv(g, fs[i]))
			}
			g = l.conv(g, sk)
		}
		return g, f
	}
	ws := l.work()
	tr := ws.transform(2 * l.n)
	size := tr.Len()
	if len(l.damp) != l.n {
		theta := math.Exp(math.Log(1e-4) / float64(l.n))
		l.damp = make([]float64, l.n)
		v := 1.0
		for i := range l.damp {
			l.damp[i] = v
			v *= theta
		}
	}
	x := ws.overwrite(size)
	buf := ws.overwriteComplex(size/2 + 1)
	hat := func(d dist) []complex128 {
		clear(x)
		for i, v := range d.p[:min(len(d.p), l.n)] {
			x[i] = v * l.damp[i]
		}
		buf = tr.Coefficients(buf, x)
		return buf
	}
	g := ws.overwriteComplex(size/2 + 1)
	for i := range g {
		g[i] = 1
	}
	var fh []complex128
	gTotal, fTotal := 1.0, 0.0
	for i, sk := range ss {
		if fs != nil {
			fk := hat(fs[i])
			if fh == nil {
				fh = ws.makeComplex(len(g))
			}
			for k := range fh {
				fh[k] += g[k] * fk[k]
			}
			fTotal += gTotal * fs[i].total()
		}
		sh := hat(sk)
		for k := range g {
			g[k] *= sh[k]
		}
		gTotal *= sk.total()
	}
	back := func(h []complex128, total float64) dist {
		if h == nil || total == 0 {
			return dist{over: total}
		}
		tr.Sequence(x, h)
		inv := 1 / float64(size)
		peak := scaledPeak(x[:l.n], inv)
		p := ws.make(l.n)
		last, sum := -1, 0.0
		for i, v := range x[:l.n] {
			if v < 1e-14*peak {
				continue // round-off
			}
			p[i] = v / l.damp[i]
			sum += p[i]
			last = i
		}
		return dist{p: p[:last+1], over: max(0, total-sum)}
	}
	return back(g, gTotal), back(fh, fTotal)
}

// cdf is the cumulative sub-distribution of d over the whole lattice.
func (l *lattice) cdf(d dist) []float64 {
	c := l.work().overwrite(l.n)
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
func (l *lattice) fromCDF(c []float64, total float64) dist {
	p := l.work().make(len(c))
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
// the rest — the over mass included — ends at t (cutMass). On a lattice
// that rounds up, a deadline on a lattice point cuts exactly; on one that
// rounds to the nearest point, the point nearest t holds the mass of
// ((i−½)h, (i+½)h], and the part of that step up to t stays, as if the
// mass were spread evenly over it. A deadline beyond the lattice leaves d
// as it is: what is over may lie either side of it.
func (l *lattice) cut(d dist, t float64) (kept dist, cutMass float64) {
	k, frac := int(math.Floor(t/l.h+1e-9)), 1.0 // the last index kept
	if !l.up {
		k = int(math.Ceil(t/l.h - 0.5 - 1e-12))
		frac = min(1, max(0, t/l.h-(float64(k)-0.5)))
	}
	if k > l.n-1 {
		return d, 0
	}
	if k < 0 {
		return dist{}, d.total()
	}
	kept.p = d.p[:min(len(d.p), k+1)]
	cutMass = d.over
	for _, v := range d.p[len(kept.p):] {
		cutMass += v
	}
	if frac < 1 && k < len(d.p) {
		kept.p = l.work().clone(kept.p)
		cutMass += kept.p[k] * (1 - frac)
		kept.p[k] *= frac
	}
	return kept, cutMass
}
