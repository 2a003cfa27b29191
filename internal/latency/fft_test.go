package latency

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/dsp/fourier"
)

// TestRealFFT: realFFT computes what gonum's fourier.FFT does, to the
// bit, forward and back, on every power-of-2 length the lattices use and
// on sequences like theirs (masses, zero-padded, spanning many orders of
// magnitude, signed zeros) and unlike them (negative, random).
func TestRealFFT(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 1; n <= 1<<17; n *= 2 {
		ours, theirs := newRealFFT(n), fourier.NewFFT(n)
		for trial := range 4 {
			x := make([]float64, n)
			for i := range x {
				switch trial {
				case 0: // a mass, zero-padded
					if i < (n+1)/2 {
						x[i] = math.Exp(-30*r.Float64()) * r.Float64()
					}
				case 1:
					x[i] = r.NormFloat64()
				case 2: // zeros of both signs, and a few values
					if r.IntN(8) == 0 {
						x[i] = r.Float64()
					} else if r.IntN(2) == 0 {
						x[i] = math.Copysign(0, -1)
					}
				default:
					x[i] = r.Float64() * math.Pow(10, float64(r.IntN(40)-20))
				}
			}
			want := theirs.Coefficients(nil, x)
			got := ours.Coefficients(make([]complex128, n/2+1), x)
			for i := range want {
				if math.Float64bits(real(got[i])) != math.Float64bits(real(want[i])) || math.Float64bits(imag(got[i])) != math.Float64bits(imag(want[i])) {
					t.Fatalf("n=%d trial %d: coefficient %d is %v, gonum's %v", n, trial, i, got[i], want[i])
				}
			}
			// back from other coefficients: a product, as fft makes
			c := make([]complex128, len(want))
			for i := range c {
				c[i] = want[i] * complex(r.NormFloat64(), r.NormFloat64())
			}
			wantX := theirs.Sequence(nil, c)
			gotX := ours.Sequence(make([]float64, n), c)
			for i := range wantX {
				if math.Float64bits(gotX[i]) != math.Float64bits(wantX[i]) {
					t.Fatalf("n=%d trial %d: sequence %d is %v, gonum's %v", n, trial, i, gotX[i], wantX[i])
				}
			}
		}
	}
}
