package emacconnector

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/emac-dev/emac/collector/emacconnector/internal/metadata"
)

// load unmarshals the named connector of testdata/config.yaml over the
// defaults, as the collector does.
func load(t *testing.T, name string) *Config {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := cm.Sub(name)
	if err != nil {
		t.Fatal(err)
	}
	cfg := NewFactory().CreateDefaultConfig()
	if err := sub.Unmarshal(cfg); err != nil {
		t.Fatal(err)
	}
	return cfg.(*Config)
}

func TestLoadConfig(t *testing.T) {
	if err := componenttest.CheckConfigStruct(NewFactory().CreateDefaultConfig()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id   component.ID
		want Config
	}{
		{component.NewID(metadata.Type), Config{Idle: 10 * time.Second, FlushInterval: 15 * time.Second, Sample: 1000}},
		{component.NewIDWithName(metadata.Type, "custom"), Config{
			Idle: 30 * time.Second, FlushInterval: time.Minute, Sample: 50, MaxSpans: 1000,
			MaxServices: 10, MaxOperations: 20, MaxEdges: 30, MaxTargets: 5,
		}},
	} {
		t.Run(tc.id.String(), func(t *testing.T) {
			got := load(t, tc.id.String())
			if *got != tc.want {
				t.Errorf("got %+v, want %+v", *got, tc.want)
			}
			if err := confmap.Validate(got); err != nil {
				t.Errorf("valid config rejected: %v", err)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	bad := load(t, "emac/bad")
	err := confmap.Validate(bad)
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	// every invalid key is reported at once
	for _, key := range []string{"idle", "flush_interval", "sample"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error %q does not name %s", err, key)
		}
	}
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		ok   bool
	}{
		{"defaults", func(*Config) {}, true},
		{"zero limits mean defaults", func(c *Config) { c.Sample, c.MaxSpans, c.MaxEdges = 0, 0, 0 }, true},
		{"negative max_services", func(c *Config) { c.MaxServices = -1 }, false},
		{"negative max_operations", func(c *Config) { c.MaxOperations = -1 }, false},
		{"negative max_edges", func(c *Config) { c.MaxEdges = -1 }, false},
		{"negative max_targets", func(c *Config) { c.MaxTargets = -1 }, false},
		{"negative max_spans", func(c *Config) { c.MaxSpans = -1 }, false},
		{"zero flush_interval", func(c *Config) { c.FlushInterval = 0 }, false},
		{"negative idle", func(c *Config) { c.Idle = -time.Second }, false},
	} {
		c := createDefaultConfig()
		tc.mod(c)
		if err := c.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

// TestRecorderConfig: the keys reach the Recorder's options and limits.
func TestRecorderConfig(t *testing.T) {
	c := load(t, "emac/custom")
	if o := c.options(); o.Idle != 30*time.Second || o.Sample != 50 || o.MaxSpans != 1000 {
		t.Errorf("options %+v", o)
	}
	if l := c.limits(); l.MaxServices != 10 || l.MaxOperations != 20 || l.MaxEdges != 30 || l.MaxTargets != 5 {
		t.Errorf("limits %+v", l)
	}
}
