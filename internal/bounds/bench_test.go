package bounds_test

import (
	"context"
	"math"
	"testing"

	"github.com/emac-dev/emac/internal/bounds"
	"github.com/emac-dev/emac/internal/gen"
	"github.com/emac-dev/emac/internal/model"
	"github.com/emac-dev/emac/internal/sim"
)

// The benchmarks behind bench/run. Each target has a baseline measured in
// the same run: bench/run prints the ratios.

func benchBounds(b *testing.B, j *model.Journey) {
	b.Helper()
	ctx := context.Background()
	opts := bounds.Options{SkipDerived: true}
	var r *bounds.Result
	for b.Loop() {
		var err error
		r, err = bounds.Analyze(ctx, j, opts)
		if err != nil {
			b.Fatal(err)
		}
	}
	if !r.Exact {
		b.Fatalf("not exact: %v", r.Notes)
	}
	b.ReportMetric(float64(r.Scenarios), "scenarios")
}

// BenchmarkRealistic1000x16: A+ and A- of a generated 1,000-leaf journey
// with 16 failure domains (target ≤ 50 ms).
func BenchmarkRealistic1000x16(b *testing.B) { benchBounds(b, gen.Realistic(1, 1000, 16)) }

// BenchmarkLocal10000x64: a 10,000-leaf journey with 64 subtree-local
// domains (target ≤ 1 s).
func BenchmarkLocal10000x64(b *testing.B) { benchBounds(b, gen.Local(1, 10000, 64)) }

// BenchmarkCheckoutExact: A+ and A- of the paper's checkout.
func BenchmarkCheckoutExact(b *testing.B) { benchBounds(b, checkout(b)) }

// BenchmarkCheckoutMonteCarlo1e5 estimates the checkout's A- by Monte
// Carlo to ±1e-5 at 95% confidence: n = (1.96·σ/1e-5)² executions of the
// binding scenario, σ² = A-(1−A-). One op is one whole estimate.
func BenchmarkCheckoutMonteCarlo1e5(b *testing.B) {
	j := checkout(b)
	r, err := bounds.Analyze(context.Background(), j, bounds.Options{SkipDerived: true})
	if err != nil {
		b.Fatal(err)
	}
	p := r.Pessimistic
	n := int(math.Ceil(math.Pow(1.96*math.Sqrt(p*(1-p))/1e-5, 2)))
	prog, err := sim.Compile(j, sim.Named(r.Binding, r.Persistent))
	if err != nil {
		b.Fatal(err)
	}
	var est sim.Result
	for b.Loop() {
		est, err = prog.Run(context.Background(), n, 1)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n), "samples")
	b.ReportMetric((est.Hi-est.Lo)/2, "halfwidth")
	if math.Abs(est.P-p) > 5e-5 {
		b.Errorf("Monte Carlo %v far from exact %v", est.P, p)
	}
}

func checkout(tb testing.TB) *model.Journey {
	j, err := model.Build("checkout", "Series(front, All(cart, pricing), Race(paya, payb))",
		map[string]float64{"front": 0.9995, "cart": 0.999, "pricing": 0.999, "paya": 0.995, "payb": 0.995},
		map[string][]string{"payment-network": {"paya", "payb"}, "k8s/zone": {"front", "cart", "pricing"}})
	if err != nil {
		tb.Fatal(err)
	}
	j.Objective.Availability = 0.995
	return j
}

// BenchmarkBaselineIndependentPass is the machine-speed baseline: one
// plain bottom-up pass (A+ only, the floor) over the 10,000-leaf journey.
func BenchmarkBaselineIndependentPass(b *testing.B) {
	j := gen.Local(1, 10000, 64)
	j.Domains = map[string]*model.Domain{}
	for _, c := range j.Components {
		c.Domains = nil
		c.Invocations = model.InvocationsTransient
	}
	benchBounds(b, j)
}
