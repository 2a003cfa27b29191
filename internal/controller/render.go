package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing/fstest"

	yaml "go.yaml.in/yaml/v3"

	kubev1 "github.com/emac-dev/emac/api/kube/v1alpha1"
	wire "github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/compile"
	"github.com/emac-dev/emac/internal/diag"
	"github.com/emac-dev/emac/internal/service"
	"github.com/emac-dev/emac/internal/spec"
)

// maxMessage bounds a condition's message (the API allows 32768 bytes).
const maxMessage = 8192

// Paths of the rendered spec files: diagnostics name them, so they say
// which object a problem is in.
func journeyPath(name string) string { return "journeys/" + name + ".yaml" }
func catalogPath(name string) string { return "catalogs/" + name + ".yaml" }

// render writes a Journey and the ComponentCatalogs of its namespace as the
// spec documents they are, one file each, into an in-memory file system:
// the loader then reads, resolves and checks them exactly as files from
// Git, with positions for its diagnostics. It returns the paths to load.
func render(j *kubev1.Journey, catalogs []kubev1.ComponentCatalog) (fstest.MapFS, []string, error) {
	fsys := fstest.MapFS{}
	doc := wire.Journey{
		TypeMeta: wire.TypeMeta{APIVersion: wire.APIVersion, Kind: wire.KindJourney},
		Metadata: wire.ObjectMeta{Name: j.Name, Namespace: j.Namespace},
		Spec:     j.Spec,
	}
	b, err := toYAML(doc)
	if err != nil {
		return nil, nil, fmt.Errorf("rendering journey %s: %w", j.Name, err)
	}
	paths := []string{journeyPath(j.Name)}
	fsys[paths[0]] = &fstest.MapFile{Data: b}
	catalogs = slices.Clone(catalogs)
	slices.SortFunc(catalogs, func(a, b kubev1.ComponentCatalog) int { return strings.Compare(a.Name, b.Name) })
	for i := range catalogs {
		c := &catalogs[i]
		doc := wire.ComponentCatalog{
			TypeMeta: wire.TypeMeta{APIVersion: wire.APIVersion, Kind: wire.KindComponentCatalog},
			Metadata: wire.ObjectMeta{Name: c.Name, Namespace: c.Namespace},
			Spec:     c.Spec,
		}
		b, err := toYAML(doc)
		if err != nil {
			return nil, nil, fmt.Errorf("rendering catalog %s: %w", c.Name, err)
		}
		p := catalogPath(c.Name)
		fsys[p] = &fstest.MapFile{Data: b}
		paths = append(paths, p)
	}
	return fsys, paths, nil
}

// toYAML writes v's JSON form (the wire types' own encoding: ratios as
// numbers, durations as "30d", flows as written) as block-style YAML, so
// that every field is on its own line and a diagnostic's line and column
// point at it.
func toYAML(v any) ([]byte, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var n yaml.Node
	if err := yaml.Unmarshal(j, &n); err != nil {
		return nil, err
	}
	blockStyle(&n)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// blockStyle drops the flow and quoting styles JSON came with; the encoder
// quotes again where YAML needs it.
func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// compiled is a journey's compilation: the artifacts and the contract-mode
// result, or the spec's diagnostics.
type compiled struct {
	// Invalid holds the rendered error diagnostics when the spec does not
	// load; everything else is then empty.
	Invalid string
	// Warnings holds the rendered warnings of a valid spec.
	Warnings string
	Journey  *compile.Journey
	Report   *service.Report
}

// compileJourney renders and compiles one journey. The error is for
// failures of emac itself, not for problems in the spec.
func compileJourney(ctx context.Context, j *kubev1.Journey, catalogs []kubev1.ComponentCatalog) (*compiled, error) {
	fsys, paths, err := render(j, catalogs)
	if err != nil {
		return nil, err
	}
	res, err := compile.Compile(ctx, paths, compile.Options{Check: service.Options{Load: spec.Options{FS: fsys}, Parallelism: 1}, Emitters: objectEmitters()})
	if err != nil {
		return nil, err
	}
	ds := res.Check.Diagnostics.Sort()
	if ds.HasErrors() {
		return &compiled{Invalid: renderDiagnostics(ds, res.Check.Sources)}, nil
	}
	for i := range res.Journeys {
		if res.Journeys[i].Name == j.Name {
			return &compiled{Warnings: renderDiagnostics(ds, res.Check.Sources), Journey: &res.Journeys[i], Report: res.Check}, nil
		}
	}
	return nil, fmt.Errorf("journey %s: compiled %d journeys, not this one", j.Name, len(res.Journeys))
}

// objectEmitters are the emitters that write objectFiles: the reports,
// OpenSLO and Sloth files are of no use in the cluster, and cost time.
func objectEmitters() []compile.Emitter {
	var out []compile.Emitter
	for _, e := range compile.Default() {
		switch e.Name {
		case "prometheus", "argo", "flagger", "guards":
			out = append(out, e)
		}
	}
	return out
}

// renderDiagnostics writes diagnostics as the command line does (without
// colours), bounded to fit a condition's message.
func renderDiagnostics(ds diag.Diagnostics, src diag.Sources) string {
	if len(ds) == 0 {
		return ""
	}
	var b strings.Builder
	if err := diag.Render(&b, ds, src); err != nil {
		return err.Error()
	}
	return truncate(strings.TrimRight(b.String(), "\n"), maxMessage)
}

// truncate shortens s to at most n bytes, on a rune boundary, saying so.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const more = "\n… (truncated)"
	cut := n - len(more)
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + more
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
