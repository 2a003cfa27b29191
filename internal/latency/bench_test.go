package latency

import (
	"fmt"
	"testing"
	"time"

	"github.com/emac-dev/emac/internal/model"
)

// seq16 is a 16-leaf sequence of two-point (log-normal) latencies, the
// journey BenchmarkLatency16Seq1e7 in internal/sim simulates.
func seq16() *model.Journey {
	var kids []*model.Node
	var comps []*model.Component
	for i := range 16 {
		n := fmt.Sprintf("c%02d", i)
		kids = append(kids, call(n))
		comps = append(comps, comp(n, 0.9995, time.Duration(10+i)*time.Millisecond, time.Duration(40+3*i)*time.Millisecond))
	}
	return journey(&model.Node{Op: model.Seq, Children: kids}, comps...)
}

// BenchmarkCompose16Seq: the whole latency analysis of a 16-leaf sequence
// (independent quantiles and the dependence-free bound); target ≥ 100×
// faster than a 10^7-sample simulation of it.
func BenchmarkCompose16Seq(b *testing.B) {
	j := seq16()
	for b.Loop() {
		if _, err := Analyze(j, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBound16Seq: the dependence-free bound of the same sequence
// alone; target: milliseconds.
func BenchmarkBound16Seq(b *testing.B) {
	j := seq16()
	c := &composer{succ: map[string]Marginal{}, fail: map[string]Marginal{}, prob: func(n string) float64 { return j.Components[n].Availability }}
	for _, n := range j.ComponentNames() {
		c.succ[n], _, _ = Of(j.Components[n])
	}
	// the bound's lattice as Analyze sizes it for p99.9 (16 terms)
	top := shape(j.Flow, c, false, 1-(1-0.999)/16).extent
	for b.Loop() {
		bd := newBounder(&lattice{h: top / (boundPoints - 1), n: boundPoints, up: true}, c)
		bd.bound(j.Flow, false)
	}
}
