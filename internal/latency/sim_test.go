package latency_test

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/emac-dev/emac/internal/gen"
	"github.com/emac-dev/emac/internal/latency"
	"github.com/emac-dev/emac/internal/model"
	"github.com/emac-dev/emac/internal/sim"
)

// withLatency gives every component of a random journey latency points
// (one or two), and some a failureLatency.
func withLatency(j *model.Journey, seed uint64) *model.Journey {
	j = j.Clone()
	r := rand.New(rand.NewPCG(seed, 11))
	for _, n := range j.ComponentNames() {
		c := j.Components[n]
		p50 := time.Duration(5+r.IntN(60)) * time.Millisecond
		if r.IntN(4) == 0 {
			c.Latency = []model.LatencyPoint{{Quantile: 0.9, Value: 2 * p50}}
		} else {
			c.Latency = []model.LatencyPoint{{Quantile: 0.5, Value: p50}, {Quantile: 0.99, Value: time.Duration(float64(p50) * (1.5 + 4*r.Float64()))}}
		}
		if r.IntN(4) == 0 {
			c.FailureLatency = time.Duration(1+r.IntN(20)) * time.Millisecond
		}
	}
	return j
}

// simSize is the executions per simulation (EMAC_LATENCY_SIM_N, 2e5 by
// default) and the journeys (12, or 4 with -short) the simulator tests run.
func simSize() (executions, journeys int) {
	executions, journeys = 200_000, 12
	if v, err := strconv.Atoi(os.Getenv("EMAC_LATENCY_SIM_N")); err == nil && v > 0 {
		executions = v
	}
	if testing.Short() {
		journeys = 4
	}
	return executions, journeys
}

// TestSimulatorAgrees composes random journeys over every operator
// (deadlines, hedges, retries, persistent components) and checks the
// availability and every quantile against the simulator of the same
// semantics: within its 99.9% interval widened by the lattice error, and
// within 1% (relative) where the sample pins the quantile that closely.
// EMAC_LATENCY_SIM_N sets the executions (default 2e5; 1e7 is the
// acceptance run).
func TestSimulatorAgrees(t *testing.T) {
	n, journeys := simSize()
	worst := 0.0
	for seed := uint64(1); seed <= uint64(journeys); seed++ {
		j := withLatency(gen.Random(seed+300, gen.RandomOptions{Leaves: 5 + int(seed%5)}), seed)
		r, err := latency.Analyze(j, latency.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !(r.Availability > 0) {
			continue
		}
		est, err := sim.EstimateLatency(context.Background(), j, sim.Independent(), n, seed, sim.LatencyOptions{Confidence: 0.999})
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := est.Wilson(0.999)
		if slack := 1e-6; r.Availability < lo-slack || r.Availability > hi+slack {
			t.Errorf("seed %d %s: availability %.6f outside the simulator's [%.6f, %.6f]", seed, j.Flow, r.Availability, lo, hi)
		}
		for i, q := range r.Quantiles {
			s := est.Quantiles[i]
			got := q.Value.Seconds()
			slack := r.Error.Seconds() + r.Resolution.Seconds()
			if got < s.Lo-slack || got > s.Hi+slack {
				t.Errorf("seed %d %s: p%v = %.6fs outside the simulator's [%.6f, %.6f] (±%v)", seed, j.Flow, q.Level*100, got, s.Lo, s.Hi, r.Error)
			}
			if rel := math.Abs(got-s.Value) / s.Value; (s.Hi-s.Lo)/s.Value < 0.005 {
				worst = max(worst, rel)
				if rel > 0.01 {
					t.Errorf("seed %d %s: p%v = %.6fs, simulated %.6fs: %.2f%% apart", seed, j.Flow, q.Level*100, got, s.Value, 100*rel)
				}
			}
		}
	}
	t.Logf("largest relative gap where the simulation pins the quantile within 0.5%%: %.3f%%", 100*worst)
}

// TestBoundHoldsUnderCouplings simulates random journeys with their
// latencies coupled in several ways (independent, all slow together,
// alternately fast and slow) — failures drawn as always — and checks that
// no simulated quantile lies above the dependence-free bound: the
// interval's low end must be at or below it. Half the journeys have their
// deadlines, where a coupling also moves what each deadline cuts, half
// have them removed.
func TestBoundHoldsUnderCouplings(t *testing.T) {
	n, journeys := simSize()
	couplings := map[string]sim.Coupling{"independent": sim.IndependentDurations, "comonotone": sim.ComonotoneDurations, "antithetic": sim.AntitheticDurations}
	checked := 0
	for seed := uint64(1); seed <= uint64(journeys); seed++ {
		j := withLatency(gen.Random(seed+700, gen.RandomOptions{Leaves: 5 + int(seed%7)}), seed)
		if seed%2 == 0 {
			j = withoutDeadlines(j)
		}
		r, err := latency.Analyze(j, latency.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !(r.Availability > 0) {
			continue
		}
		for name, c := range couplings {
			est, err := sim.EstimateLatency(context.Background(), j, sim.Independent(), n, seed, sim.LatencyOptions{Confidence: 0.999, Coupling: c})
			if err != nil {
				t.Fatal(err)
			}
			for i, q := range r.Quantiles {
				if q.Beyond {
					continue
				}
				checked++
				// the bound is on a lattice that rounds up: no slack needed
				if s := est.Quantiles[i]; s.Lo > q.Upper.Seconds() {
					t.Errorf("seed %d %s, %s: simulated p%v in [%.6f, %.6f], above the bound %v", seed, j.Flow, name, q.Level*100, s.Lo, s.Hi, q.Upper)
				}
			}
		}
	}
	if checked == 0 {
		t.Error("no quantile checked")
	}
}

// withoutDeadlines is j with every timeout replaced by its operand and
// every per-try timeout removed.
func withoutDeadlines(j *model.Journey) *model.Journey {
	var strip func(n *model.Node) *model.Node
	strip = func(n *model.Node) *model.Node {
		if n.Op == model.Timeout {
			return strip(n.Children[0])
		}
		c := *n
		c.PerTryTimeout = 0
		c.Children = make([]*model.Node, len(n.Children))
		for i, k := range n.Children {
			c.Children[i] = strip(k)
		}
		return &c
	}
	out := j.Clone()
	out.Flow = strip(j.Flow)
	return out
}
