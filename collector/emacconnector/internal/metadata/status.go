// Package metadata holds the emac connector's component metadata: its
// type and stability, which the collector's factory API requires. It
// is written by hand after mdatagen's generated_status.go (metadata.yaml
// beside the connector is the same in mdatagen's schema), so that
// building the module needs no code generator.
package metadata

import "go.opentelemetry.io/collector/component"

var (
	// Type is the component type, the key of the connector in a
	// collector's configuration (connectors: emac: ...).
	Type = component.MustNewType("emac")
	// ScopeName is the instrumentation scope of the metrics the
	// connector emits.
	ScopeName = "github.com/emac-dev/emac/collector/emacconnector"
)

// TracesToMetricsStability is the stability of the traces → metrics
// pipeline: development while the exported families may still change.
const TracesToMetricsStability = component.StabilityLevelDevelopment
