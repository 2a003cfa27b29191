// The real FFT of a power-of-2 length, computing exactly what gonum's
// fourier.FFT (a translation of FFTPACK's rfftf and rfftb by Paul N.
// Swarztrauber, public domain; the translation Copyright ©2018 The Gonum
// Authors, BSD-style licence) computes: the same factors, twiddles and
// butterflies, every floating-point operation the same and in the same
// order, so that the results are the same to the bit (TestRealFFT
// compares them). Only the indexing differs, and the order in which
// butterflies that do not depend on each other are done: gonum's goes
// through Fortran-like array accessors, which cost as much as the
// arithmetic on the lattices' transform sizes, and its passes with one or
// four elements per row (ido 1 and 4) are mostly that overhead, so they
// have loops of their own here.
//
// gonum's licence, which its translation is under:
//
// Copyright ©2013 The Gonum Authors. All rights reserved.
//
// Redistribution and use in source and binary forms, with or without
// modification, are permitted provided that the following conditions are met:
//     * Redistributions of source code must retain the above copyright
//       notice, this list of conditions and the following disclaimer.
//     * Redistributions in binary form must reproduce the above copyright
//       notice, this list of conditions and the following disclaimer in the
//       documentation and/or other materials provided with the distribution.
//     * Neither the name of the Gonum project nor the names of its authors and
//       contributors may be used to endorse or promote products derived from this
//       software without specific prior written permission.
//
// THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND
// ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED
// WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE
// DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE
// FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL
// DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR
// SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER
// CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY,
// OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE
// OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.

package latency

import (
	"fmt"
	"math"
)

// realFFT transforms real sequences of a power-of-2 length.
type realFFT struct {
	n      int
	factor []int     // radices, in FFTPACK's order: a 2 first, then 4s
	wa     []float64 // twiddles, as FFTPACK's rffti lays them out
	work   []float64 // the sequence being transformed
	ch     []float64 // the butterflies' other buffer
}

// newRealFFT prepares transforms of length n, a power of 2.
func newRealFFT(n int) *realFFT {
	if n <= 0 || n&(n-1) != 0 {
		panic(fmt.Sprintf("latency: FFT length %d is not a power of 2", n))
	}
	t := &realFFT{n: n, wa: make([]float64, n), work: make([]float64, n), ch: make([]float64, n)}
	// rffti1: 4s while they divide, then a 2, which moves to the front
	for nl := n; nl > 1; {
		if nl%4 == 0 {
			t.factor = append(t.factor, 4)
			nl /= 4
		} else {
			t.factor = append([]int{2}, t.factor...)
			nl /= 2
		}
	}
	nf := len(t.factor)
	if nf <= 1 {
		return t
	}
	argh := 2 * math.Pi / float64(n)
	is, l1 := 0, 1
	for k1 := 0; k1 < nf-1; k1++ {
		ip := t.factor[k1]
		ld := 0
		l2 := l1 * ip
		ido := n / l2
		for j := 0; j < ip-1; j++ {
			ld += l1
			i := is
			fi := 0.0
			argld := float64(ld) * argh
			for ii := 2; ii < ido; ii += 2 {
				fi++
				arg := fi * argld
				t.wa[i] = math.Cos(arg)
				t.wa[i+1] = math.Sin(arg)
				i += 2
			}
			is += ido
		}
		l1 = l2
	}
	return t
}

// Len is the length of the sequences.
func (t *realFFT) Len() int { return t.n }

// Coefficients is fourier.FFT's: the n/2+1 Fourier coefficients of seq in
// dst.
func (t *realFFT) Coefficients(dst []complex128, seq []float64) []complex128 {
	if len(seq) != t.n {
		panic("latency: FFT length mismatch")
	}
	return t.padded(dst, seq)
}

// padded is Coefficients of seq zero-padded to the transform's length.
func (t *realFFT) padded(dst []complex128, seq []float64) []complex128 {
	n := t.n
	if len(seq) > n || len(dst) != n/2+1 {
		panic("latency: FFT length mismatch")
	}
	r := t.work
	copy(r, seq)
	clear(r[len(seq):])
	t.forward(r)
	dst[0] = complex(r[0], 0)
	if n < 2 {
		return dst
	}
	dst[len(dst)-1] = complex(r[n-1], 0)
	for i := 1; i < len(dst)-1; i++ {
		dst[i] = complex(r[2*i-1], r[2*i])
	}
	return dst
}

// Sequence is fourier.FFT's: the real sequence, times n, whose
// coefficients are coeff, in dst.
func (t *realFFT) Sequence(dst []float64, coeff []complex128) []float64 {
	n := t.n
	if len(coeff) != n/2+1 || len(dst) != n {
		panic("latency: FFT length mismatch")
	}
	dst[0] = real(coeff[0])
	if n < 2 {
		return dst
	}
	dst[n-1] = real(coeff[len(coeff)-1])
	for i, cv := range coeff[1 : len(coeff)-1] {
		dst[2*i+1] = real(cv)
		dst[2*i+2] = imag(cv)
	}
	t.backward(dst)
	return dst
}

// forward is rfftf1: c is transformed in place.
func (t *realFFT) forward(c []float64) {
	n := t.n
	if n == 1 {
		return
	}
	ch, wa := t.ch, t.wa
	nf := len(t.factor)
	na := true
	l2 := n
	iw := n - 1
	for k1 := 1; k1 <= nf; k1++ {
		kh := nf - k1
		ip := t.factor[kh]
		l1 := l2 / ip
		ido := n / l2
		iw -= (ip - 1) * ido
		na = !na
		src, dst := c, ch
		if na {
			src, dst = ch, c
		}
		if ip == 4 {
			ix2 := iw + ido
			ix3 := ix2 + ido
			radf4(ido, l1, src, dst, wa[iw:], wa[ix2:], wa[ix3:])
		} else {
			radf2(ido, l1, src, dst, wa[iw:])
		}
		l2 = l1
	}
	if na {
		return
	}
	copy(c, ch)
}

// backward is rfftb1: c is transformed in place.
func (t *realFFT) backward(c []float64) {
	n := t.n
	if n == 1 {
		return
	}
	ch, wa := t.ch, t.wa
	na := false
	l1 := 1
	iw := 0
	for _, ip := range t.factor {
		l2 := ip * l1
		ido := n / l2
		src, dst := c, ch
		if na {
			src, dst = ch, c
		}
		if ip == 4 {
			ix2 := iw + ido
			ix3 := ix2 + ido
			radb4(ido, l1, src, dst, wa[iw:], wa[ix2:], wa[ix3:])
		} else {
			radb2(ido, l1, src, dst, wa[iw:])
		}
		na = !na
		l1 = l2
		iw += (ip - 1) * ido
	}
	if na {
		copy(c, ch)
	}
}

// conj and swap are FFTPACK's complex helpers, as gonum writes them.
func conj(c complex128) complex128 { return complex(real(c), -imag(c)) }
func swap(c complex128) complex128 { return complex(imag(c), real(c)) }

// radf2 is a forward radix-2 pass: cc is (ido, l1, 2), ch (ido, 2, l1),
// column-major.
func radf2(ido, l1 int, cc, ch, wa1 []float64) {
	s := ido * l1 // cc's stride between its two halves
	cc, ch = cc[:2*s], ch[:2*s]
	for k := 0; k < l1; k++ {
		a, b := cc[ido*k], cc[ido*k+s]
		ch[2*ido*k] = a + b
		ch[2*ido*k+ido+ido-1] = a - b
	}
	if ido < 2 {
		return
	}
	if ido > 2 {
		wa1 := wa1[:ido-1]
		for k := 0; k < l1; k++ {
			c0 := cc[ido*k : ido*k+ido]
			c1 := cc[ido*k+s : ido*k+s+ido]
			h0 := ch[2*ido*k : 2*ido*k+ido]
			h1 := ch[2*ido*k+ido : 2*ido*k+2*ido]
			for i := 2; i < ido; i += 2 {
				ic := ido - i
				t2 := complex(wa1[i-2], -wa1[i-1]) * complex(c1[i-1], c1[i])
				z0 := complex(c0[i-1], c0[i])
				v := z0 + t2
				h0[i-1], h0[i] = real(v), imag(v)
				// conj(z1)-conj(z2), not conj(z1-z2), as gonum keeps it for
				// the signed zeros
				w := conj(z0) - conj(t2)
				h1[ic-1], h1[ic] = real(w), imag(w)
			}
		}
		if ido%2 == 1 {
			return
		}
	}
	for k := 0; k < l1; k++ {
		ch[2*ido*k+ido] = -cc[ido*k+s+ido-1]
		ch[2*ido*k+ido-1] = cc[ido*k+ido-1]
	}
}

// radf4 is a forward radix-4 pass: cc is (ido, l1, 4), ch (ido, 4, l1).
func radf4(ido, l1 int, cc, ch, wa1, wa2, wa3 []float64) {
	const hsqt2 = math.Sqrt2 / 2
	switch ido {
	case 1:
		radf4by1(l1, cc, ch)
		return
	case 4:
		radf4by4(l1, cc, ch, wa1, wa2, wa3)
		return
	}
	s := ido * l1
	cc, ch = cc[:4*s], ch[:4*s]
	for k := 0; k < l1; k++ {
		x0, x1, x2, x3 := cc[ido*k], cc[ido*k+s], cc[ido*k+2*s], cc[ido*k+3*s]
		tr1 := x1 + x3
		tr2 := x0 + x2
		h := ch[4*ido*k : 4*ido*k+4*ido]
		h[0] = tr1 + tr2
		h[ido-1+3*ido] = tr2 - tr1
		h[ido-1+ido] = x0 - x2
		h[2*ido] = x3 - x1
	}
	if ido < 2 {
		return
	}
	if ido > 2 {
		wa1, wa2, wa3 := wa1[:ido-1], wa2[:ido-1], wa3[:ido-1]
		for k := 0; k < l1; k++ {
			c0 := cc[ido*k : ido*k+ido]
			c1 := cc[ido*k+s : ido*k+s+ido]
			c2s := cc[ido*k+2*s : ido*k+2*s+ido]
			c3s := cc[ido*k+3*s : ido*k+3*s+ido]
			b := 4 * ido * k
			h0 := ch[b : b+ido]
			h1 := ch[b+ido : b+2*ido]
			h2 := ch[b+2*ido : b+3*ido]
			h3 := ch[b+3*ido : b+4*ido]
			for i := 2; i < ido; i += 2 {
				ic := ido - i
				c2 := complex(wa1[i-2], -wa1[i-1]) * complex(c1[i-1], c1[i])
				c3 := complex(wa2[i-2], -wa2[i-1]) * complex(c2s[i-1], c2s[i])
				c4 := complex(wa3[i-2], -wa3[i-1]) * complex(c3s[i-1], c3s[i])
				z0 := complex(c0[i-1], c0[i])
				t1 := c2 + c4
				t2 := z0 + c3
				t3 := z0 - c3
				t4 := conj(c4 - c2)
				v := t1 + t2
				h0[i-1], h0[i] = real(v), imag(v)
				v = conj(t2 - t1)
				h3[ic-1], h3[ic] = real(v), imag(v)
				v = swap(t4) + t3
				h2[i-1], h2[i] = real(v), imag(v)
				v = conj(t3 - swap(t4))
				h1[ic-1], h1[ic] = real(v), imag(v)
			}
		}
		if ido%2 == 1 {
			return
		}
	}
	for k := 0; k < l1; k++ {
		x0, x1, x2, x3 := cc[ido*k+ido-1], cc[ido*k+s+ido-1], cc[ido*k+2*s+ido-1], cc[ido*k+3*s+ido-1]
		ti1 := -hsqt2 * (x1 + x3)
		tr1 := hsqt2 * (x1 - x3)
		h := ch[4*ido*k : 4*ido*k+4*ido]
		h[ido-1] = tr1 + x0
		h[ido-1+2*ido] = x0 - tr1
		h[ido] = ti1 - x2
		h[3*ido] = ti1 + x2
	}
}

// radb2 is a backward radix-2 pass: cc is (ido, 2, l1), ch (ido, l1, 2).
func radb2(ido, l1 int, cc, ch, wa1 []float64) {
	s := ido * l1 // ch's stride between its two halves
	cc, ch = cc[:2*s], ch[:2*s]
	for k := 0; k < l1; k++ {
		a, b := cc[2*ido*k], cc[2*ido*k+ido+ido-1]
		ch[ido*k] = a + b
		ch[ido*k+s] = a - b
	}
	if ido < 2 {
		return
	}
	if ido > 2 {
		wa1 := wa1[:ido-1]
		for k := 0; k < l1; k++ {
			c0 := cc[2*ido*k : 2*ido*k+ido]
			c1 := cc[2*ido*k+ido : 2*ido*k+2*ido]
			h0 := ch[ido*k : ido*k+ido]
			h1 := ch[ido*k+s : ido*k+s+ido]
			for i := 2; i < ido; i += 2 {
				ic := ido - i
				z0 := complex(c0[i-1], c0[i])
				z1 := conj(complex(c1[ic-1], c1[ic]))
				v := z0 + z1
				h0[i-1], h0[i] = real(v), imag(v)
				t2 := z0 - z1
				v = complex(wa1[i-2], wa1[i-1]) * t2
				h1[i-1], h1[i] = real(v), imag(v)
			}
		}
		if ido%2 == 1 {
			return
		}
	}
	for k := 0; k < l1; k++ {
		ch[ido*k+ido-1] = 2 * cc[2*ido*k+ido-1]
		ch[ido*k+s+ido-1] = -2 * cc[2*ido*k+ido]
	}
}

// radb4 is a backward radix-4 pass: cc is (ido, 4, l1), ch (ido, l1, 4).
func radb4(ido, l1 int, cc, ch, wa1, wa2, wa3 []float64) {
	switch ido {
	case 1:
		radb4by1(l1, cc, ch)
		return
	case 4:
		radb4by4(l1, cc, ch, wa1, wa2, wa3)
		return
	}
	s := ido * l1
	cc, ch = cc[:4*s], ch[:4*s]
	for k := 0; k < l1; k++ {
		c := cc[4*ido*k : 4*ido*k+4*ido]
		tr1 := c[0] - c[ido-1+3*ido]
		tr2 := c[0] + c[ido-1+3*ido]
		tr3 := c[ido-1+ido] + c[ido-1+ido]
		tr4 := c[2*ido] + c[2*ido]
		ch[ido*k] = tr2 + tr3
		ch[ido*k+s] = tr1 - tr4
		ch[ido*k+2*s] = tr2 - tr3
		ch[ido*k+3*s] = tr1 + tr4
	}
	if ido < 2 {
		return
	}
	if ido > 2 {
		wa1, wa2, wa3 := wa1[:ido-1], wa2[:ido-1], wa3[:ido-1]
		for k := 0; k < l1; k++ {
			b := 4 * ido * k
			c0 := cc[b : b+ido]
			c1 := cc[b+ido : b+2*ido]
			c2s := cc[b+2*ido : b+3*ido]
			c3s := cc[b+3*ido : b+4*ido]
			h0 := ch[ido*k : ido*k+ido]
			h1 := ch[ido*k+s : ido*k+s+ido]
			h2 := ch[ido*k+2*s : ido*k+2*s+ido]
			h3 := ch[ido*k+3*s : ido*k+3*s+ido]
			for i := 2; i < ido; i += 2 {
				ic := ido - i
				z0 := complex(c0[i-1], c0[i])
				z2 := complex(c2s[i-1], c2s[i])
				y3 := conj(complex(c3s[ic-1], c3s[ic]))
				y1 := conj(complex(c1[ic-1], c1[ic]))
				t1 := z0 - y3
				t2 := z0 + y3
				t3 := z2 + y1
				t4 := swap(z2 - y1)
				v := t2 + t3
				h0[i-1], h0[i] = real(v), imag(v)
				c2 := t1 - conj(t4)
				c3 := t2 - t3
				c4 := t1 + conj(t4)
				v = complex(wa1[i-2], wa1[i-1]) * c2
				h1[i-1], h1[i] = real(v), imag(v)
				v = complex(wa2[i-2], wa2[i-1]) * c3
				h2[i-1], h2[i] = real(v), imag(v)
				v = complex(wa3[i-2], wa3[i-1]) * c4
				h3[i-1], h3[i] = real(v), imag(v)
			}
		}
		if ido%2 == 1 {
			return
		}
	}
	for k := 0; k < l1; k++ {
		c := cc[4*ido*k : 4*ido*k+4*ido]
		tr1 := c[ido-1] - c[ido-1+2*ido]
		ti1 := c[ido] + c[3*ido]
		tr2 := c[ido-1] + c[ido-1+2*ido]
		ti2 := c[3*ido] - c[ido]
		ch[ido*k+ido-1] = tr2 + tr2
		ch[ido*k+s+ido-1] = math.Sqrt2 * (tr1 - ti1)
		ch[ido*k+2*s+ido-1] = ti2 + ti2
		ch[ido*k+3*s+ido-1] = -math.Sqrt2 * (tr1 + ti1)
	}
}

// radf4by1 is radf4 at ido = 1, its first loop alone: the four
// quarters of cc read side by side.
func radf4by1(l1 int, cc, ch []float64) {
	a := cc[:l1]
	b, c, d := cc[l1:2*l1], cc[2*l1:3*l1], cc[3*l1:4*l1]
	b, c, d = b[:len(a)], c[:len(a)], d[:len(a)]
	ch = ch[:4*len(a)]
	for k, x0 := range a {
		x1, x2, x3 := b[k], c[k], d[k]
		tr1 := x1 + x3
		tr2 := x0 + x2
		h := ch[4*k : 4*k+4]
		h[0] = tr1 + tr2
		h[3] = tr2 - tr1
		h[1] = x0 - x2
		h[2] = x3 - x1
	}
}

// radb4by1 is radb4 at ido = 1, its first loop alone.
func radb4by1(l1 int, cc, ch []float64) {
	a := ch[:l1]
	b, c, d := ch[l1:2*l1], ch[2*l1:3*l1], ch[3*l1:4*l1]
	b, c, d = b[:len(a)], c[:len(a)], d[:len(a)]
	cc = cc[:4*len(a)]
	for k := range a {
		x := cc[4*k : 4*k+4]
		tr1 := x[0] - x[3]
		tr2 := x[0] + x[3]
		tr3 := x[1] + x[1]
		tr4 := x[2] + x[2]
		a[k] = tr2 + tr3
		b[k] = tr1 - tr4
		c[k] = tr2 - tr3
		d[k] = tr1 + tr4
	}
}

// radf4by4 is radf4 at ido = 4, where each k has one butterfly of each
// of radf4's three loops, the twiddles the same for every k: the three
// are done together, each output written by the same operations on the
// same inputs.
func radf4by4(l1 int, cc, ch, wa1, wa2, wa3 []float64) {
	const hsqt2 = math.Sqrt2 / 2
	s := 4 * l1
	cc, ch = cc[:4*s], ch[:4*s]
	w1, w2, w3 := complex(wa1[0], -wa1[1]), complex(wa2[0], -wa2[1]), complex(wa3[0], -wa3[1])
	for k := 0; k < l1; k++ {
		o := 4 * k
		a, b, c, d := cc[o:o+4], cc[o+s:o+s+4], cc[o+2*s:o+2*s+4], cc[o+3*s:o+3*s+4]
		h := ch[16*k : 16*k+16]
		// the first loop
		tr1 := b[0] + d[0]
		tr2 := a[0] + c[0]
		h[0] = tr1 + tr2
		h[15] = tr2 - tr1
		h[7] = a[0] - c[0]
		h[8] = d[0] - b[0]
		// the butterfly at i = 2
		c2 := w1 * complex(b[1], b[2])
		c3 := w2 * complex(c[1], c[2])
		c4 := w3 * complex(d[1], d[2])
		z0 := complex(a[1], a[2])
		t1 := c2 + c4
		t2 := z0 + c3
		t3 := z0 - c3
		t4 := conj(c4 - c2)
		v := t1 + t2
		h[1], h[2] = real(v), imag(v)
		v = conj(t2 - t1)
		h[13], h[14] = real(v), imag(v)
		v = swap(t4) + t3
		h[9], h[10] = real(v), imag(v)
		v = conj(t3 - swap(t4))
		h[5], h[6] = real(v), imag(v)
		// the last loop, at ido − 1 = 3
		ti1 := -hsqt2 * (b[3] + d[3])
		tr1 = hsqt2 * (b[3] - d[3])
		h[3] = tr1 + a[3]
		h[11] = a[3] - tr1
		h[4] = ti1 - c[3]
		h[12] = ti1 + c[3]
	}
}

// radb4by4 is radb4 at ido = 4, as radf4by4 is radf4.
func radb4by4(l1 int, cc, ch, wa1, wa2, wa3 []float64) {
	s := 4 * l1
	cc, ch = cc[:4*s], ch[:4*s]
	w1, w2, w3 := complex(wa1[0], wa1[1]), complex(wa2[0], wa2[1]), complex(wa3[0], wa3[1])
	for k := 0; k < l1; k++ {
		c := cc[16*k : 16*k+16]
		o := 4 * k
		h0, h1, h2, h3 := ch[o:o+4], ch[o+s:o+s+4], ch[o+2*s:o+2*s+4], ch[o+3*s:o+3*s+4]
		// the first loop
		tr1 := c[0] - c[15]
		tr2 := c[0] + c[15]
		tr3 := c[7] + c[7]
		tr4 := c[8] + c[8]
		h0[0] = tr2 + tr3
		h1[0] = tr1 - tr4
		h2[0] = tr2 - tr3
		h3[0] = tr1 + tr4
		// the butterfly at i = 2
		z0 := complex(c[1], c[2])
		z2 := complex(c[9], c[10])
		y3 := conj(complex(c[13], c[14]))
		y1 := conj(complex(c[5], c[6]))
		t1 := z0 - y3
		t2 := z0 + y3
		t3 := z2 + y1
		t4 := swap(z2 - y1)
		v := t2 + t3
		h0[1], h0[2] = real(v), imag(v)
		c2 := t1 - conj(t4)
		c3 := t2 - t3
		c4 := t1 + conj(t4)
		v = w1 * c2
		h1[1], h1[2] = real(v), imag(v)
		v = w2 * c3
		h2[1], h2[2] = real(v), imag(v)
		v = w3 * c4
		h3[1], h3[2] = real(v), imag(v)
		// the last loop, at ido − 1 = 3
		tr1 = c[3] - c[11]
		ti1 := c[4] + c[12]
		tr2 = c[3] + c[11]
		ti2 := c[12] - c[4]
		h0[3] = tr2 + tr2
		h1[3] = math.Sqrt2 * (tr1 - ti1)
		h2[3] = ti2 + ti2
		h3[3] = -math.Sqrt2 * (tr1 + ti1)
	}
}
