package latency

import (
	"math"
	"testing"
)

// TestPhi: the table and series agree with math.Erfc to within a few
// units of rounding: absolutely everywhere, relatively in the lower tail
// (where the masses it makes are small but still summed; the worst, 1e-14
// of Φ(−8.4) ≈ 2e-17, is Erfc's rounding as much as the series').
func TestPhi(t *testing.T) {
	worstAbs, worstRel := 0.0, 0.0
	for z := -9.0; z <= 9.0; z += 1.0 / 4099 {
		got, want := phi(z), 0.5*math.Erfc(-z/math.Sqrt2)
		abs := math.Abs(got - want)
		worstAbs = max(worstAbs, abs)
		if z < 0 {
			worstRel = max(worstRel, abs/want)
		}
	}
	if worstAbs > 4e-16 || worstRel > 1e-13 {
		t.Errorf("phi: worst absolute error %g (want ≤ 4e-16), relative in the lower tail %g (want ≤ 1e-13)", worstAbs, worstRel)
	}
	for _, z := range []float64{math.Inf(-1), -40, 40, math.Inf(1)} {
		if got, want := phi(z), 0.5*math.Erfc(-z/math.Sqrt2); got != want {
			t.Errorf("phi(%v) = %v, want %v", z, got, want)
		}
	}
	if got := phi(math.NaN()); !math.IsNaN(got) {
		t.Errorf("phi(NaN) = %v, want NaN", got)
	}
}

// TestPhiMonotone: Φ does not decrease (the lattice's masses are its
// differences).
func TestPhiMonotone(t *testing.T) {
	prev := 0.0
	for z := -9.0; z <= 9.0; z += 1.0 / 1e4 {
		v := phi(z)
		if v < prev {
			t.Fatalf("phi(%v) = %v < phi(%v) = %v", z, v, z-1e-4, prev)
		}
		prev = v
	}
}

func BenchmarkPhi(b *testing.B) {
	s := 0.0
	for i := 0; b.Loop(); i++ {
		s += phi(float64(i%1000)/100 - 5)
	}
	_ = s
}

func BenchmarkErfc(b *testing.B) {
	s := 0.0
	for i := 0; b.Loop(); i++ {
		s += 0.5 * math.Erfc(-(float64(i%1000)/100-5)/math.Sqrt2)
	}
	_ = s
}
