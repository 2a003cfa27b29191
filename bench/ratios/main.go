// Command ratios reads `go test -bench` output and prints emac's
// performance targets as measured figures and ratios to baselines from the
// same run. A benchmark measured more than once (bench/run alternates a
// target with its baseline, so that both see the machine's load as it
// drifts) counts as the median of its measurements.
package main

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

func main() {
	all := map[string][]float64{}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || f[3] != "ns/op" {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndex(name, "-"); i > 0 {
			name = name[:i]
		}
		v, err := strconv.ParseFloat(f[2], 64)
		if err == nil {
			all[name] = append(all[name], v)
		}
	}
	ns := map[string]float64{}
	for name, vs := range all {
		ns[name] = median(vs)
	}
	row := func(what, name string, target float64, baseline string) {
		v, ok := ns[name]
		if !ok {
			fmt.Printf("%-58s  not measured\n", what)
			return
		}
		verdict := "meets"
		if target > 0 && v > target {
			verdict = "MISSES"
		}
		line := fmt.Sprintf("%-58s  %10.3f ms  (target ≤ %g ms: %s)", what, v/1e6, target/1e6, verdict)
		if b, ok := ns[baseline]; ok && b > 0 {
			line += fmt.Sprintf("  = %.2f× the %s baseline", v/b, baseline)
		}
		fmt.Println(line)
	}
	fmt.Println()
	row("A+/A- of a 1,000-leaf journey with 16 domains", "Realistic1000x16", 50e6, "BaselineIndependentPass")
	row("A+/A- of a 10,000-leaf journey, 64 subtree-local domains", "Local10000x64", 1e9, "BaselineIndependentPass")
	row("compile 100 journeys of 50 leaves (all artifacts)", "Compile100x50", 1e9, "BaselineAssess100x50")
	row("dependence-free latency bound of a 16-leaf sequence", "Bound16Seq", 10e6, "Compose16Seq")
	if c, s := ns["Compose16Seq"], ns["Latency16Seq1e7"]; c > 0 && s > 0 {
		verdict := "meets"
		if s/c < 100 {
			verdict = "MISSES"
		}
		fmt.Printf("%-58s  %.0f× faster (target ≥ 100×: %s): composition %.3f ms, simulation %.2f s\n",
			"latency of a 16-leaf sequence vs a 10^7-sample simulation", s/c, verdict, c/1e6, s/1e9)
	}
	ratio := func(what, name, baseline string, target float64) {
		v, b := ns[name], ns[baseline]
		if v == 0 || b == 0 {
			fmt.Printf("%-58s  not measured\n", what)
			return
		}
		verdict := "meets"
		if v/b > target {
			verdict = "MISSES"
		}
		fmt.Printf("%-58s  %.2f× (target ≤ %g×: %s): %.1f ms, %s %.1f ms\n", what, v/b, target, verdict, v/1e6, baseline, b/1e6)
	}
	ratio("discover OTLP JSON vs decoding it with pdata", "DiscoverOTLP", "DecodeOTLPPdata", 1.5)
	if e, g := ns["Connectors/emac"], ns["Connectors/service_graph"]; e > 0 && g > 0 {
		fmt.Printf("%-58s  %.2f× its time per batch (no target): %.2f ms, service_graph %.2f ms (spans/s and memory: the lines above)\n",
			"collector connector vs servicegraph (every call paired)", e/g, e/1e6, g/1e6)
	}
	ratio("discover the Nezha CSV vs decoding it with encoding/csv", "DiscoverNezha", "DecodeNezhaCSV", 1.5)
	exact, mc := ns["CheckoutExact"], ns["CheckoutMonteCarlo1e5"]
	if exact > 0 && mc > 0 {
		fmt.Printf("%-58s  %.0f× faster (target ≥ 1000×): exact %.3f ms, Monte Carlo %.1f s\n",
			"exact engine vs Monte Carlo at ±1e-5 (checkout A-)", mc/exact, exact/1e6, mc/1e9)
	}
}

// median is the middle of vs (the mean of the two middle ones of an even
// number).
func median(vs []float64) float64 {
	vs = slices.Sorted(slices.Values(vs))
	n := len(vs)
	if n%2 == 1 {
		return vs[n/2]
	}
	return (vs[n/2-1] + vs[n/2]) / 2
}
