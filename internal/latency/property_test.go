package latency_test

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
	"github.com/emac-dev/emac/internal/latency"
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
// (EMAC_LATENCY_N of them, 40 by default): the availability is the
// engine's A+ (which applies the deadlines too) unless a deadline over
// redundancy makes that approximate, and untimed it is A+ exactly; the
// quantiles ascend and the dependence-free bound is above them.
func TestRandomJourneys(t *testing.T) {
	ctx := context.Background()
	n := uint64(40)
	if v, err := strconv.Atoi(os.Getenv("EMAC_LATENCY_N")); err == nil && v > 0 {
		n = uint64(v)
	}
	compared := 0
	for seed := uint64(1); seed <= n; seed++ {
		j := gen.Random(seed, gen.RandomOptions{Leaves: 6 + int(seed%6)})
		plain := j.Clone()
		for _, c := range plain.Components {
			c.Latency, c.FailureLatency = nil, 0
		}
		pr, err := latency.Analyze(plain, latency.Options{})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		par, err := bounds.Analyze(ctx, plain, bounds.Options{SkipDerived: true})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		// without latency no deadline fires, except that under a deadline
		// an untimed failure takes the deadline, which an outer one cuts
		if !hasDeadline(j.Flow) && math.Abs(pr.Availability-par.Optimistic) > 1e-12 {
			t.Errorf("seed %d: untimed availability %v, want A+ %v", seed, pr.Availability, par.Optimistic)
		}
		tj := timed(j, seed)
		r, err := latency.Analyze(tj, latency.Options{Threshold: 200 * time.Millisecond})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		ar, err := bounds.Analyze(ctx, tj, bounds.Options{SkipDerived: true})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if !ar.Approximate {
			compared++
			if math.Abs(r.Availability-ar.Optimistic) > 5e-5 { // the result lattice is coarser than each deadline's own
				t.Errorf("seed %d %s: availability %.9f, engine's A+ %.9f", seed, tj.Flow, r.Availability, ar.Optimistic)
			}
		}
		// deadlines only take away
		if r.Availability > par.Optimistic+1e-12 {
			t.Errorf("seed %d: availability %v above the untimed A+ %v", seed, r.Availability, par.Optimistic)
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
	t.Logf("%d of %d journeys compared with the engine's A+", compared, n)
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
