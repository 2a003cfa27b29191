package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing/fstest"

	yaml "go.yaml.in/yaml/v3"

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
// Git, with positions for its diagnostics. The specs are written as
// stored, not through the wire types, so that a value those cannot hold
// (target: "high") is the loader's positioned diagnostic. It returns the
// paths to load.
func render(j specDoc, catalogs []specDoc) (fstest.MapFS, []string, error) {
	fsys := fstest.MapFS{}
	b, err := toYAML(document(wire.KindJourney, j), reflect.TypeFor[wire.JourneySpec]())
	if err != nil {
		return nil, nil, fmt.Errorf("rendering journey %s: %w", j.Name, err)
	}
	paths := []string{journeyPath(j.Name)}
	fsys[paths[0]] = &fstest.MapFile{Data: b}
	catalogs = slices.Clone(catalogs)
	slices.SortFunc(catalogs, func(a, b specDoc) int { return strings.Compare(a.Name, b.Name) })
	for _, c := range catalogs {
		b, err := toYAML(document(wire.KindComponentCatalog, c), reflect.TypeFor[wire.ComponentCatalogSpec]())
		if err != nil {
			return nil, nil, fmt.Errorf("rendering catalog %s: %w", c.Name, err)
		}
		p := catalogPath(c.Name)
		fsys[p] = &fstest.MapFile{Data: b}
		paths = append(paths, p)
	}
	return fsys, paths, nil
}

// document is d as a spec file's document of kind.
func document(kind string, d specDoc) map[string]any {
	return map[string]any{
		"apiVersion": wire.APIVersion,
		"kind":       kind,
		"metadata":   map[string]any{"name": d.Name, "namespace": d.Namespace},
		"spec":       d.Spec,
	}
}

// toYAML writes v's JSON form (as stored: ratios as numbers or percent
// strings, durations as "30d", flows as written) as block-style YAML, so
// that every field is on its own line and a diagnostic's line and column
// point at it. With spec, the type of v's "spec", its fields come in that
// type's order (see fieldOrder).
func toYAML(v any, spec reflect.Type) ([]byte, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var n yaml.Node
	if err := yaml.Unmarshal(j, &n); err != nil {
		return nil, err
	}
	blockStyle(&n)
	if spec != nil && len(n.Content) == 1 && n.Content[0].Kind == yaml.MappingNode {
		m := n.Content[0].Content
		for i := 0; i+1 < len(m); i += 2 {
			if m[i].Value == "spec" {
				fieldOrder(m[i+1], spec)
			}
		}
	}
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

// fieldOrder orders the keys of n, a mapping from JSON (sorted by key), as
// t's fields are, recursively: a rendered spec then reads as a spec file
// (objectives, flow, components, …), and its diagnostics, sorted by line,
// come in that order. Keys t does not have stay last, in their order.
func fieldOrder(n *yaml.Node, t reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]()) {
		return // its own format: ratios, durations, flows
	}
	switch {
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		type field struct {
			index int
			typ   reflect.Type
		}
		fields := map[string]field{}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if f.IsExported() && name != "" && name != "-" {
				fields[name] = field{i, f.Type}
			}
		}
		type pair struct{ k, v *yaml.Node }
		pairs := make([]pair, 0, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			pairs = append(pairs, pair{n.Content[i], n.Content[i+1]})
		}
		rank := func(p pair) int {
			if f, ok := fields[p.k.Value]; ok {
				return f.index
			}
			return t.NumField()
		}
		slices.SortStableFunc(pairs, func(a, b pair) int { return rank(a) - rank(b) })
		n.Content = n.Content[:0]
		for _, p := range pairs {
			n.Content = append(n.Content, p.k, p.v)
			if f, ok := fields[p.k.Value]; ok {
				fieldOrder(p.v, f.typ)
			}
		}
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Map:
		for i := 1; i < len(n.Content); i += 2 {
			fieldOrder(n.Content[i], t.Elem())
		}
	case n.Kind == yaml.SequenceNode && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array):
		for _, c := range n.Content {
			fieldOrder(c, t.Elem())
		}
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
func compileJourney(ctx context.Context, j specDoc, catalogs []specDoc) (*compiled, error) {
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
