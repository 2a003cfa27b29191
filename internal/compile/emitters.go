package compile

import (
	"github.com/emac-dev/emac/internal/emit/argo"
	"github.com/emac-dev/emac/internal/emit/flagger"
	"github.com/emac-dev/emac/internal/emit/prometheus"
)

// Default lists every emitter of SPEC §6.
func Default() []Emitter {
	return []Emitter{
		{Name: "prometheus", Emit: prometheus.Emit},
		{Name: "argo", Emit: argo.Emit},
		{Name: "flagger", Emit: flagger.Emit},
	}
}
