package compile_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/emac-dev/emac/internal/compile"
	"github.com/emac-dev/emac/internal/emit"
	"github.com/emac-dev/emac/internal/gen"
	"github.com/emac-dev/emac/internal/model"
	"github.com/emac-dev/emac/internal/service"
)

// BenchmarkCompile100x50: analysing 100 generated 50-leaf journeys (8
// failure domains each, every component with telemetry) and writing all
// their artifacts; target ≤ 1 s per op.
func BenchmarkCompile100x50(b *testing.B) {
	js := journeys100x50()
	ctx := context.Background()
	files := 0
	for b.Loop() {
		files = 0
		for _, j := range js {
			res, a, err := service.Assess(ctx, j, service.Options{})
			if err != nil {
				b.Fatal(err)
			}
			cj, err := compile.Emit(ctx, &emit.Input{Journey: j, Result: res, Analysis: a, Namespace: "default"}, compile.Options{})
			if err != nil {
				b.Fatal(err)
			}
			files += len(cj.Files)
		}
	}
	b.ReportMetric(float64(files), "files")
}

// BenchmarkBaselineAssess100x50 is the same journeys' analysis alone
// (bounds, contributors, required targets, decision): the baseline the
// compile figure is compared with in the same run.
func BenchmarkBaselineAssess100x50(b *testing.B) {
	js := journeys100x50()
	ctx := context.Background()
	for b.Loop() {
		for _, j := range js {
			if _, _, err := service.Assess(ctx, j, service.Options{}); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func journeys100x50() []*model.Journey {
	var js []*model.Journey
	for seed := range uint64(100) {
		j := gen.Realistic(seed+1, 50, 8)
		for _, n := range j.ComponentNames() {
			j.Components[n].Telemetry = &model.Telemetry{
				Bad:   fmt.Sprintf(`sum(rate(http_requests_total{service=%q,code=~"5.."}[5m]))`, n),
				Total: fmt.Sprintf(`sum(rate(http_requests_total{service=%q}[5m]))`, n),
			}
		}
		js = append(js, j)
	}
	return js
}
