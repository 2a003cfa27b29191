package compile_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/emac-dev/emac/internal/compile"
	"github.com/emac-dev/emac/internal/gen"
	"github.com/emac-dev/emac/internal/model"
	"github.com/emac-dev/emac/internal/service"
)

// BenchmarkCompile100x50: analysing 100 generated 50-leaf journeys (8
// failure domains each, every component with telemetry) and writing all
// their artifacts, on every CPU as `emac compile` does; target ≤ 1 s per
// op.
func BenchmarkCompile100x50(b *testing.B) {
	js := journeys100x50()
	ctx := context.Background()
	files := 0
	for b.Loop() {
		cjs, err := compile.Journeys(ctx, js, "default", compile.Options{})
		if err != nil {
			b.Fatal(err)
		}
		files = 0
		for _, cj := range cjs {
			files += len(cj.Files)
		}
	}
	b.ReportMetric(float64(files), "files")
}

// BenchmarkBaselineAssess100x50 is the same journeys' analysis alone
// (bounds, contributors, required targets, decision), on every CPU: the
// baseline the compile figure is compared with in the same run.
func BenchmarkBaselineAssess100x50(b *testing.B) {
	js := journeys100x50()
	ctx := context.Background()
	for b.Loop() {
		as, err := service.AssessAll(ctx, js, service.Options{})
		if err != nil {
			b.Fatal(err)
		}
		for _, a := range as {
			if a.Err != nil {
				b.Fatal(a.Err)
			}
		}
	}
}

func journeys100x50() []*model.Journey {
	var js []*model.Journey
	for seed := range uint64(100) {
		js = append(js, measured(gen.Realistic(seed+1, 50, 8)))
	}
	return js
}

// measured gives every component of j request-counter telemetry.
func measured(j *model.Journey) *model.Journey {
	for _, n := range j.ComponentNames() {
		j.Components[n].Telemetry = &model.Telemetry{
			Bad:   fmt.Sprintf(`sum(rate(http_requests_total{service=%q,code=~"5.."}[5m]))`, n),
			Total: fmt.Sprintf(`sum(rate(http_requests_total{service=%q}[5m]))`, n),
		}
	}
	return j
}
