package latency

import (
	"math/rand/v2"
	"testing"
)

// TestMinPlus: the pruned min-plus convolution finds the minimum a full
// scan over every split finds, to the bit, on random nonincreasing tails
// (steep, flat, with zero stretches); on tails that are not monotone it
// may only be higher (a looser bound), never lower.
func TestMinPlus(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	tail := func(n int, monotone bool) excess {
		u := make([]float64, n)
		v := r.Float64()
		for i := range u {
			switch r.IntN(4) {
			case 0: // flat
			case 1:
				v *= r.Float64() // a steep step
			default:
				v *= 1 - r.Float64()/20
			}
			if r.IntN(50) == 0 {
				v = 0 // a tail that ends
			}
			u[i] = v
			if !monotone && r.IntN(10) == 0 {
				u[i] = v * (1 + r.Float64())
			}
		}
		return excess{u: u, top: 1}
	}
	naive := func(a, b excess) []float64 {
		n := len(a.u)
		out := make([]float64, n)
		for i := range out {
			best := min(min(a.top, b.top), a.top+b.u[n-1], a.u[n-1]+b.top)
			for j := 0; j <= i; j++ {
				best = min(best, a.u[j]+b.u[i-j])
			}
			out[i] = best
		}
		return out
	}
	var rb robust
	for k := range 300 {
		n := 1 + r.IntN(300)
		monotone := k%3 != 0
		a, b := tail(n, monotone), tail(n, monotone)
		got, want := rb.conv(a, b).u, naive(a, b)
		for i := range got {
			if monotone && got[i] != want[i] || got[i] < want[i] {
				t.Fatalf("case %d (monotone %v), point %d: got %v, want %v", k, monotone, i, got[i], want[i])
			}
		}
	}
}
