package emacconnector

import (
	"errors"
	"fmt"
	"time"

	"github.com/emac-dev/emac/internal/discovery"
)

// Config is the emac connector's configuration. Every key is optional:
// a zero limit means the Recorder's own default, so the defaults live in
// one place (internal/discovery).
type Config struct {
	// Idle is how long a trace stays open after its latest span
	// arrived before it is folded in: a collector sees a trace's spans
	// over a while.
	Idle time.Duration `mapstructure:"idle"`
	// FlushInterval is how often the evidence is exported.
	FlushInterval time.Duration `mapstructure:"flush_interval"`
	// Sample is the number of invocations kept per operation for flow
	// inference (0: the Recorder's default).
	Sample int `mapstructure:"sample"`
	// MaxSpans bounds the spans held in open traces (0: the Recorder's
	// default); past it the least recently touched trace is folded in.
	MaxSpans int `mapstructure:"max_spans"`
	// The limits bound the evidence, and so the exported series: past
	// one, new services, operations, edges or targets are dropped and
	// counted (0: the Recorder's defaults).

	// MaxServices bounds the distinct services.
	MaxServices int `mapstructure:"max_services"`
	// MaxOperations bounds the distinct operations.
	MaxOperations int `mapstructure:"max_operations"`
	// MaxEdges bounds the distinct service-to-service edges.
	MaxEdges int `mapstructure:"max_edges"`
	// MaxTargets bounds the distinct operations one operation calls.
	MaxTargets int `mapstructure:"max_targets"`

	// prevent unkeyed literals, so fields can be added
	_ struct{}
}

// Default values of the keys that have one of the connector's own.
const (
	DefaultIdle          = 10 * time.Second
	DefaultFlushInterval = 15 * time.Second
	DefaultSample        = 1000
)

func createDefaultConfig() *Config {
	return &Config{Idle: DefaultIdle, FlushInterval: DefaultFlushInterval, Sample: DefaultSample}
}

// Validate reports every invalid key at once, so a configuration is
// fixed in one pass.
func (c *Config) Validate() error {
	var errs []error
	if c.Idle <= 0 {
		errs = append(errs, fmt.Errorf("idle must be positive, got %v", c.Idle))
	}
	if c.FlushInterval <= 0 {
		errs = append(errs, fmt.Errorf("flush_interval must be positive, got %v", c.FlushInterval))
	}
	for _, f := range []struct {
		key string
		v   int
	}{
		{"sample", c.Sample},
		{"max_spans", c.MaxSpans},
		{"max_services", c.MaxServices},
		{"max_operations", c.MaxOperations},
		{"max_edges", c.MaxEdges},
		{"max_targets", c.MaxTargets},
	} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative (0 means the default), got %d", f.key, f.v))
		}
	}
	return errors.Join(errs...)
}

// options and limits are the Recorder's view of the configuration.
func (c *Config) options() discovery.Options {
	return discovery.Options{Idle: c.Idle, Sample: c.Sample, MaxSpans: c.MaxSpans}
}

func (c *Config) limits() discovery.Limits {
	return discovery.Limits{
		MaxServices:   c.MaxServices,
		MaxOperations: c.MaxOperations,
		MaxEdges:      c.MaxEdges,
		MaxTargets:    c.MaxTargets,
	}
}
