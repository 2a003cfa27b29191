package latency

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/emac-dev/emac/internal/bounds"
	"github.com/emac-dev/emac/internal/gen"
	"github.com/emac-dev/emac/internal/model"
)

// timed gives a random journey's components random latencies: two points
// (a log-normal), one point, none, and sometimes a failureLatency.
func timed(j *model.Journey, seed uint64) *model.Journey {
	j = j.Clone()
	r := rand.New(rand.NewPCG(seed, 7))
	for _, n := range j.ComponentNames() {
		c := j.Components[n]
		p50 := time.Duration(5+r.IntN(95)) * time.Millisecond
		switch r.IntN(6) {
		case 0:
			// untimed
		case 1:
			c.Latency = []model.LatencyPoint{{Quantile: 0.9, Value: p50 * 2}}
		default:
			c.Latency = []model.LatencyPoint{{Quantile: 0.5, Value: p50}, {Quantile: 0.99, Value: time.Duration(float64(p50) * (1.5 + 8*r.Float64()))}}
		}
		if r.IntN(4) == 0 {
			c.FailureLatency = time.Duration(1+r.IntN(50)) * time.Millisecond
		}
	}
	return j
}

// TestRandomJourneys composes random journeys over every operator
// (EMAC_LATENCY_N of them, 40 by default): the result is consistent with
// the availability engine, and the dependence-free bound is above the
// independent estimate.
func TestRandomJourneys(t *testing.T) {
	ctx := context.Background()
	n := uint64(40)
	if v, err := strconv.Atoi(os.Getenv("EMAC_LATENCY_N")); err == nil && v > 0 {
		n = uint64(v)
	}
	for seed := uint64(1); seed <= n; seed++ {
		j := gen.Random(seed, gen.RandomOptions{Leaves: 6 + int(seed%6)})
		plain, err := Analyze(j, Options{})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		ar, err := bounds.Analyze(ctx, j, bounds.Options{SkipDerived: true})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		// without latency and without deadlines, time changes nothing:
		// A+ exactly (under a deadline even an untimed failure takes the
		// deadline, which an outer one may cut)
		if !hasDeadline(j.Flow) && math.Abs(plain.Availability-ar.Optimistic) > 1e-12 {
			t.Errorf("seed %d: untimed availability %v, want A+ %v", seed, plain.Availability, ar.Optimistic)
		}
		tj := timed(j, seed)
		r, err := Analyze(tj, Options{Threshold: 200 * time.Millisecond})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		// deadlines only take away
		if plain.Availability > ar.Optimistic+1e-12 || r.Availability > ar.Optimistic+1e-12 {
			t.Errorf("seed %d: availability %v above A+ %v", seed, r.Availability, ar.Optimistic)
		}
		prev := time.Duration(0)
		for _, q := range r.Quantiles {
			if q.Value < prev {
				t.Errorf("seed %d: p%v = %v below the level before (%v)", seed, q.Level*100, q.Value, prev)
			}
			prev = q.Value
			if slack := r.Error + r.Resolution; q.Upper+slack < q.Value && !q.Beyond {
				t.Errorf("seed %d: p%v upper %v below independent %v", seed, q.Level*100, q.Upper, q.Value)
			}
		}
		if !(r.Within >= 0 && r.Within <= 1) {
			t.Errorf("seed %d: P(L ≤ 200ms) = %v", seed, r.Within)
		}
	}
}

func hasDeadline(n *model.Node) bool {
	if n.Op == model.Timeout || n.Op == model.Retry && n.PerTryTimeout > 0 {
		return true
	}
	for _, k := range n.Children {
		if hasDeadline(k) {
			return true
		}
	}
	return false
}
