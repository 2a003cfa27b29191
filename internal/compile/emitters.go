package compile

import (
	"github.com/emac-dev/emac/internal/emit/argo"
	"github.com/emac-dev/emac/internal/emit/flagger"
	"github.com/emac-dev/emac/internal/emit/guards"
	"github.com/emac-dev/emac/internal/emit/openslo"
	"github.com/emac-dev/emac/internal/emit/prometheus"
	"github.com/emac-dev/emac/internal/emit/report"
)

// Default lists every emitter of SPEC §6.
func Default() []Emitter {
	return []Emitter{
		{Name: "prometheus", Emit: prometheus.Emit},
		{Name: "argo", Emit: argo.Emit},
		{Name: "flagger", Emit: flagger.Emit},
		{Name: "guards", Emit: guards.Emit},
		{Name: "openslo", Emit: openslo.Emit},
		{Name: "report", Emit: report.Emit},
	}
}
