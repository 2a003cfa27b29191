package discovery

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestHist: the histogram's quantiles are those of its buckets counted
// one by one, however the durations come (growing its range down and
// up, durations ≤ 0), and merging two is counting both.
func TestHist(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 50 {
		var a, b, all hist
		var buckets []int32
		for i := range 1 + rng.IntN(300) {
			d := int64(math.Exp(rng.Float64() * 30))
			if rng.IntN(20) == 0 {
				d = -int64(rng.IntN(3))
			}
			if i%2 == 0 {
				a.add(d)
			} else {
				b.add(d)
			}
			all.add(d)
			buckets = append(buckets, histBucket(d))
		}
		slices.Sort(buckets)
		a.merge(b)
		for _, q := range []float64{0, 0.01, 0.5, 0.9, 0.99, 1} {
			want := int64(0)
			if bk := buckets[max(int(math.Ceil(q*float64(len(buckets)))), 1)-1]; bk != math.MinInt32 {
				want = int64(math.Round(math.Exp(float64(bk+1) * histBase)))
			}
			if got := all.quantile(q); got != want {
				t.Errorf("round %d: q%v = %d, want %d", round, q, got, want)
			}
			if got := a.quantile(q); got != want {
				t.Errorf("round %d: merged q%v = %d, want %d", round, q, got, want)
			}
		}
		if a.n != all.n || a.sum != all.sum {
			t.Errorf("round %d: merged n, sum = %d, %d; want %d, %d", round, a.n, a.sum, all.n, all.sum)
		}
	}
}

// TestSample: offering invocations keeps the k of lowest hash (then
// trace), whatever their order, and once full the sample is a heap.
func TestSample(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for round := range 30 {
		k := 1 + rng.IntN(50)
		var all []*invocation
		var h invHeap
		for range rng.IntN(400) {
			inv := &invocation{hash: uint64(rng.IntN(200)), trace: string(rune('a' + rng.IntN(20)))}
			all = append(all, inv)
			if h.wants(inv.hash, inv.trace, k) {
				h.offer(inv, k)
			}
		}
		for i := 1; i < len(h) && len(h) == k; i++ {
			if above(h[i], h[(i-1)/2]) {
				t.Fatalf("round %d: not a heap at %d", round, i)
			}
		}
		slices.SortFunc(all, compareInvocations)
		all = all[:min(k, len(all))]
		got := h.sorted()
		for i := range all {
			if compareInvocations(all[i], got[i]) != 0 {
				t.Fatalf("round %d: kept %v, want the lowest %v", round, got, all)
			}
		}
		if len(got) != len(all) {
			t.Fatalf("round %d: kept %d, want %d", round, len(got), len(all))
		}
	}
}
