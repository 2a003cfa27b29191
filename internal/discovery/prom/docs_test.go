package prom_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// docBlock is a YAML block of a document, marked for checking by the
// HTML comment `<!-- otelcol-config: NAME -->` (a complete collector
// configuration) or `<!-- otelcol-fragment: connectors -->` (a
// `connectors:` block alone) on a line before its fence.
type docBlock struct {
	kind, name string
	line       int // of the fence, 1-based
	text       string
}

var docMarker = regexp.MustCompile(`^<!--\s*otelcol-(config|fragment):\s*(\S+)\s*-->\s*$`)

// docBlocks reads the marked blocks of the Markdown file: each marker must
// be followed, after blank lines only, by a ```yaml fence.
func docBlocks(path string) ([]docBlock, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var (
		blocks []docBlock
		cur    *docBlock // a marker seen, its fence not yet
		body   *strings.Builder
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case body != nil: // inside a marked block
			if strings.TrimSpace(line) == "```" {
				cur.text = body.String()
				blocks = append(blocks, *cur)
				cur, body = nil, nil
			} else {
				body.WriteString(line + "\n")
			}
		case cur != nil: // after a marker
			switch strings.TrimSpace(line) {
			case "":
			case "```yaml":
				cur.line, body = n, new(strings.Builder)
			default:
				return nil, fmt.Errorf("%s:%d: the marker of %s %q is not followed by a ```yaml block", path, n, cur.kind, cur.name)
			}
		default:
			if m := docMarker.FindStringSubmatch(line); m != nil {
				cur = &docBlock{kind: m[1], name: m[2]}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if cur != nil {
		return nil, fmt.Errorf("%s: %s %q: no closed ```yaml block after its marker", path, cur.kind, cur.name)
	}
	return blocks, nil
}

// wrapConnectors makes a `connectors:` block a complete configuration: an
// OTLP receiver sends traces to each of its connectors, which send metrics
// to the debug exporter (emac's connector is traces → metrics).
func wrapConnectors(fragment string) (string, error) {
	var frag map[string]any
	if err := yaml.Unmarshal([]byte(fragment), &frag); err != nil {
		return "", err
	}
	conns, ok := frag["connectors"].(map[string]any)
	if len(frag) != 1 || !ok || len(conns) == 0 {
		return "", fmt.Errorf("a connectors fragment has one top-level key, connectors, with at least one connector")
	}
	var ids []string
	for id := range conns {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	cfg := map[string]any{
		"receivers":  map[string]any{"otlp": map[string]any{"protocols": map[string]any{"grpc": map[string]any{"endpoint": "127.0.0.1:4317"}}}},
		"connectors": conns,
		"exporters":  map[string]any{"debug": map[string]any{}},
		"service": map[string]any{"pipelines": map[string]any{
			"traces":  map[string]any{"receivers": []string{"otlp"}, "exporters": ids},
			"metrics": map[string]any{"receivers": ids, "exporters": []string{"debug"}},
		}},
	}
	out, err := yaml.Marshal(cfg)
	return string(out), err
}

// validate runs `otelcol validate` on the configuration, returning its
// output and whether it accepted it.
func validate(t *testing.T, bin, config string) (string, bool) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "validate", "--config", path).CombinedOutput()
	if err != nil {
		if _, exit := err.(*exec.ExitError); !exit || ctx.Err() != nil {
			t.Fatalf("otelcol validate: %v (%s)", err, out)
		}
		return string(out), false
	}
	return string(out), true
}

// TestDocsCollectorConfigs: the collector configurations docs/collector.md
// shows — the connector's options and both tiers of the deployment — are
// accepted by `validate` of the collector hack/otelcol.sh builds, which
// decodes every component's configuration, checks it and builds the
// pipelines, starting nothing (so the load-balancing exporter's k8s
// resolver needs no cluster).
func TestDocsCollectorConfigs(t *testing.T) {
	bin := otelcol(t)
	_, file, _, _ := runtime.Caller(0)
	doc := filepath.Join(filepath.Dir(file), "..", "..", "..", "docs", "collector.md")
	blocks, err := docBlocks(doc)
	if err != nil {
		t.Fatal(err)
	}
	// the blocks the document must keep marked: a marker lost would
	// otherwise leave its block unchecked
	var got []string
	for _, b := range blocks {
		got = append(got, b.kind+":"+b.name)
	}
	for _, want := range []string{"fragment:connectors", "config:tier1", "config:tier2"} {
		if !slices.Contains(got, want) {
			t.Errorf("%s: no block marked <!-- otelcol-%s -->; marked: %v", doc, strings.Replace(want, ":", ": ", 1), got)
		}
	}

	for _, b := range blocks {
		t.Run(b.name, func(t *testing.T) {
			config := b.text
			switch {
			case b.kind == "fragment" && b.name == "connectors":
				var err error
				if config, err = wrapConnectors(b.text); err != nil {
					t.Fatalf("docs/collector.md:%d: %v", b.line, err)
				}
			case b.kind == "fragment":
				t.Fatalf("docs/collector.md:%d: unknown fragment %q (connectors is known)", b.line, b.name)
			}
			if out, ok := validate(t, bin, config); !ok {
				t.Fatalf("docs/collector.md:%d: otelcol validate rejects %s %q:\n%s\nconfiguration:\n%s", b.line, b.kind, b.name, out, config)
			}
		})
	}

	// and validate does check: a key the connector does not have is refused
	t.Run("rejects", func(t *testing.T) {
		config, err := wrapConnectors("connectors:\n  emac:\n    no_such_key: 1\n")
		if err != nil {
			t.Fatal(err)
		}
		out, ok := validate(t, bin, config)
		if ok || !strings.Contains(out, "no_such_key") {
			t.Fatalf("otelcol validate accepts an unknown key of the connector (ok %v):\n%s", ok, out)
		}
	})
}
