package latency_test

import (
	"testing"

	"github.com/emac-dev/emac/internal/gen"
	"github.com/emac-dev/emac/internal/latency"
)

// BenchmarkRealistic50: the whole latency analysis of one 50-leaf journey
// of the kind `emac compile`'s benchmark compiles (every operator,
// deadlines, hedges, persistent components): the latency share of
// compiling it.
func BenchmarkRealistic50(b *testing.B) {
	j := gen.Realistic(3, 50, 8)
	for b.Loop() {
		if _, err := latency.Analyze(j, latency.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
