package compile

import (
	"github.com/emac-dev/emac/internal/emit/prometheus"
)

// Default lists every emitter of SPEC §6.
func Default() []Emitter {
	return []Emitter{
		{Name: "prometheus", Emit: prometheus.Emit},
	}
}
