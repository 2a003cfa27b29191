package discovery

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestLogBuckets: the tables give the bucket their scale's function
// does: for every small duration, on both sides of every bucket's least
// duration and of every slot's, and for two million durations spread
// evenly on the logarithmic scale up to the largest.
func TestLogBuckets(t *testing.T) {
	for name, lb := range map[string]*logBuckets{"hist": histBuckets(), "window": winBuckets()} {
		check := func(d int64) {
			if d < 1 {
				return
			}
			if got, want := lb.of(d), lb.f(d); got != want {
				t.Fatalf("%s: bucket of %d ns = %d, want %d", name, d, got, want)
			}
		}
		for d := range int64(4 * smallLogs) {
			check(d)
		}
		for _, d := range lb.least {
			check(d - 1)
			check(d)
			check(d + 1)
		}
		for k := 10; k < 63; k++ {
			for s := range int64(1 << slotBits) {
				d := int64(1)<<k | s<<(k-slotBits)
				check(d - 1)
				check(d)
			}
		}
		check(math.MaxInt64)
		rng := rand.New(rand.NewPCG(3, 4))
		for range 2_000_000 {
			check(int64(math.Exp(rng.Float64() * math.Log(math.MaxInt64))))
		}
	}
	if n := len(histBuckets().least); n < 2900 {
		t.Errorf("hist: %d buckets tabulated", n)
	}
}

// BenchmarkHistBucket is a duration's bucket by the table and by its
// logarithm.
func BenchmarkHistBucket(b *testing.B) {
	ds := make([]int64, 1024)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range ds {
		ds[i] = int64(math.Exp(8 + rng.Float64()*14)) // 3µs to 4s
	}
	lb := histBuckets()
	for name, of := range map[string]func(int64) int32{"table": lb.of, "log": lb.f} {
		b.Run(name, func(b *testing.B) {
			var s int32
			for i := 0; b.Loop(); i++ {
				s += of(ds[i%len(ds)])
			}
			_ = s
		})
	}
}
