package discovery

import (
	"math"
	"math/bits"
	"sync"
)

// logBuckets finds a duration's bucket on a logarithmic scale by
// comparing it with the least duration of each bucket, found once with
// the scale's own function: the bucket that function gives, for a
// fraction of a logarithm's cost. A fold buckets each call's duration
// several times (hist, winHist), and the logarithms were a tenth of it.
type logBuckets struct {
	f func(int64) int32
	// small[d] is the bucket of d < len(small)
	small []int32
	// least[b-first] is the least duration of bucket b ≥ first, up to
	// exact (2^53: float64 holds every duration below)
	least []int64
	first int32
	// start[k<<slotBits|s] is the bucket of the least duration of octave
	// k (2^k ≤ d < 2^(k+1)) whose slotBits bits after the leading one
	// are s: where the search for such a duration's bucket starts
	start [exact << slotBits]int32
}

const (
	slotBits  = 4
	smallLogs = 1 << 10 // durations bucketed by small, ≥ 2^slotBits
	exact     = 53      // durations from 2^exact on are bucketed by f
)

// newLogBuckets tabulates the scale f, a non-decreasing function of
// durations ≥ 1 ns; inv is about its inverse (the least duration of a
// bucket), a start for the search of the exact one.
func newLogBuckets(f func(int64) int32, inv func(int32) float64) *logBuckets {
	lb := &logBuckets{f: f, small: make([]int32, smallLogs)}
	for d := range int64(smallLogs) {
		lb.small[d] = f(max(d, 1))
	}
	lb.first = f(smallLogs)
	for b := lb.first; b <= f(1<<exact-1); b++ {
		d := max(int64(inv(b)), smallLogs)
		for d > smallLogs && f(d-1) >= b {
			d--
		}
		for f(d) < b {
			d++
		}
		lb.least = append(lb.least, d)
	}
	for k := bits.Len64(smallLogs) - 1; k < exact; k++ {
		for s := range int64(1 << slotBits) {
			lb.start[k<<slotBits|int(s)] = f(1<<k | s<<(k-slotBits))
		}
	}
	return lb
}

// of is the bucket of d ≥ 1 ns.
func (lb *logBuckets) of(d int64) int32 {
	if d < smallLogs {
		return lb.small[d]
	}
	k := bits.Len64(uint64(d)) - 1
	if k >= exact {
		return lb.f(d)
	}
	b := lb.start[k<<slotBits|int(uint64(d)>>(k-slotBits)&(1<<slotBits-1))]
	for i := int(b-lb.first) + 1; i < len(lb.least) && lb.least[i] <= d; i++ {
		b++
	}
	return b
}

// histBuckets are hist's: 1% apart (histBase).
var histBuckets = sync.OnceValue(func() *logBuckets {
	return newLogBuckets(
		func(d int64) int32 { return int32(math.Floor(math.Log(float64(d)) / histBase)) },
		func(b int32) float64 { return math.Exp(float64(b) * histBase) })
})

// winBuckets are winHist's (winScale), before its range is applied.
var winBuckets = sync.OnceValue(func() *logBuckets {
	return newLogBuckets(
		func(d int64) int32 { return int32(winScale(float64(d))) },
		func(b int32) float64 { return math.Exp2(float64(b) / 8) })
})
