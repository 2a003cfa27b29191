package yamlw_test

import (
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/emac-dev/emac/internal/emit/yamlw"
)

type inner struct {
	Name  string            `yaml:"name"`
	Query string            `yaml:"query,omitempty"`
	Tags  map[string]string `yaml:"tags,omitempty"`
	Ptr   *float64          `yaml:"ptr,omitempty"`
}

type doc struct {
	APIVersion string         `yaml:"apiVersion"`
	Kind       string         `yaml:"kind"`
	Metadata   map[string]any `yaml:"metadata"`
	Items      []inner        `yaml:"items"`
	Empty      []string       `yaml:"empty"`
	Numbers    []float64      `yaml:"numbers"`
	Flag       bool           `yaml:"flag"`
	Count      int            `yaml:"count"`
	Skip       string         `yaml:"skip,omitempty"`
	Nested     [][]string     `yaml:"nested"`
}

// TestRoundTrip: what yamlw writes, yaml.v3 reads back as the value
// written (compared as generic trees).
func TestRoundTrip(t *testing.T) {
	half := 0.5
	d := doc{
		APIVersion: "argoproj.io/v1alpha1", Kind: "AnalysisTemplate",
		Metadata: map[string]any{"name": "emac-checkout", "labels": map[string]string{"app.kubernetes.io/managed-by": "emac", "emac.dev/journey": "checkout"}, "namespace": "default"},
		Items: []inner{
			{Name: "a", Query: `sum(rate(x{code=~"5.."}[5m])) / sum(rate(x[5m]))`, Tags: map[string]string{"z": "1", "a": "it's"}, Ptr: &half},
			{Name: "true"},
			{Name: "multi\nline\ttab"},
			{Name: "{{args.component}}"},
			{Name: "http://prometheus.monitoring.svc:9090"},
			{Name: "- dash"},
			{Name: "0.995"},
			{Name: "1e3"},
			{Name: "key: value"},
			{Name: "a #comment"},
			{Name: ""},
			{Name: "ünïcode"},
		},
		Empty:   []string{},
		Numbers: []float64{0.995, 1, 1e-9, 14.4},
		Flag:    true,
		Count:   3,
		Nested:  [][]string{{"a", "b"}, {}},
	}
	check(t, d)
}

func check(t *testing.T, v any) {
	t.Helper()
	got, err := yamlw.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	if err := yaml.Unmarshal(got, &a); err != nil {
		t.Fatalf("yamlw wrote invalid YAML: %v\n%s", err, got)
	}
	if err := yaml.Unmarshal(ref, &b); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(b, a); diff != "" {
		t.Errorf("read back (-yaml.v3 +yamlw):\n%s\n%s", diff, got)
	}
}

// FuzzQuote: any string, as a value, a key or a list item, reads back as
// itself.
func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", "a", "true", "No", "~", "0x1F", "1_000", ".5", "-", "a: b", "a:b", "#x", "x #y", "'", `"`,
		"a\nb", "\t", "\x00", "\xff", "{{ target }}", "[a]", "*x", "&x", "!x", "%x", "@x", "`x", "|", ">", "? x", "null", "0o17", "+1", ".inf", "2026-11-23"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			if _, err := yamlw.Marshal(map[string]string{"k": s}); err == nil {
				t.Errorf("Marshal(%q): no error for a string that is not UTF-8", s)
			}
			return
		}
		got, err := yamlw.Marshal(map[string]any{"k": s, "l": []string{s}, "m": map[string]string{s: s}})
		if err != nil {
			t.Fatal(err)
		}
		var back any
		if err := yaml.Unmarshal(got, &back); err != nil {
			t.Fatalf("yamlw wrote invalid YAML: %v\n%s", err, got)
		}
		want := map[string]any{"k": s, "l": []any{s}, "m": map[string]any{s: s}}
		if diff := cmp.Diff(want, back); diff != "" {
			t.Errorf("read back (-want +got):\n%s\n%s", diff, got)
		}
	})
}
