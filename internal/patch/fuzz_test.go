package patch

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/diag"
)

// FuzzApply feeds arbitrary YAML and an edit (mostly a component's
// domains; op also picks adding a component or a flow over the names) to
// Apply. It must never panic, and fail only with a positioned diagnostic.
// What it accepts must parse, read as asked (applying the edit again
// changes nothing), and its Diff must turn the input into it. When the
// input loaded with emac's loader, the result must load too.
func FuzzApply(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*/*.yaml")
	names := []string{"front", "paya", "gateway", "orders", "a", "inventory"}
	for i, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b, names[i%len(names)], "zone-a,payment-network", uint8(i))
			f.Add(b, "", "zone-b", uint8(0x10|i<<5))
		}
	}
	f.Add([]byte("apiVersion: emac.dev/v1alpha1\nkind: Journey\nmetadata: {name: j}\nspec:\n  components:\n    a:\n"), "a", "x", uint8(0))
	f.Add([]byte("apiVersion: emac.dev/v1alpha1\nkind: Journey\nmetadata: {name: j}\nspec: {components: {a: {}}}"), "a", "x,y", uint8(0))
	f.Fuzz(func(t *testing.T, src []byte, comp, doms string, op uint8) {
		if len(src) > 1<<16 || len(doms) > 1<<10 {
			return
		}
		var list []string
		if doms != "" {
			list = strings.Split(doms, ",")
		}
		if op&0x10 != 0 {
			// an existing component, so that the edit gets past the
			// look-ups and into the layout
			if names := componentNames(src); len(names) > 0 {
				comp = names[int(op>>5)%len(names)]
			}
		}
		var e Edit
		switch op % 4 {
		case 0, 1:
			e = Edit{Component: comp, Domains: list}
		case 2:
			e = Edit{AddComponent: comp}
		default:
			n := &v1alpha1.Node{Seq: []v1alpha1.Node{}}
			for _, d := range list {
				n.Seq = append(n.Seq, v1alpha1.Node{Call: d})
			}
			if op%8 == 7 && len(n.Seq) > 1 {
				n = &v1alpha1.Node{Race: &v1alpha1.Race{HedgeAfter: dur("20ms"), Of: n.Seq}}
			}
			e = Edit{Flow: n}
		}
		// The fuzzing engine has no per-input time limit: a hang would
		// stall the run silently; this makes it a crash with its input.
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				panic("Apply hangs on this input")
			}
		}()
		out, err := Apply("f.yaml", src, []Edit{e})
		if err != nil {
			var d *diag.Diagnostic
			if !errors.As(err, &d) || d.Subject == nil || d.Summary == "" {
				t.Fatalf("error %v is not a positioned diagnostic", err)
			}
			return
		}
		if _, err := parseDocs("f.yaml", out); err != nil {
			t.Fatalf("the result does not parse: %v\n%s", err, out)
		}
		if e.AddComponent == "" {
			again, err := Apply("f.yaml", out, []Edit{e})
			if err != nil || !bytes.Equal(again, out) {
				t.Fatalf("applying the edit again: %v\n%s", err, Diff("f", "f", out, again))
			}
		}
		if got, err := applyUnified(string(src), Diff("f", "f", src, out)); err != nil || got != string(out) {
			t.Fatalf("the diff does not apply: %v", err)
		}
		if _, ds := load("fuzz/spec.yaml", src); !ds.HasErrors() && e.AddComponent == "" && e.Flow == nil {
			if _, ds := load("fuzz/spec.yaml", out); ds.HasErrors() {
				// new domains may be unknown names: only YAML-level trouble counts
				for _, d := range ds {
					if strings.HasPrefix(d.Summary, "invalid YAML") || strings.Contains(d.Summary, "unknown field") {
						t.Fatalf("the input loaded, the result does not: %v\n%s", ds.Err(), out)
					}
				}
			}
		}
	})
}

// componentNames lists the components of the file's first emac document.
func componentNames(src []byte) []string {
	docs, err := parseDocs("f", src)
	if err != nil {
		return nil
	}
	for _, d := range docs {
		if len(d.Content) == 0 || scalarField(d.Content[0], "apiVersion") == nil {
			continue
		}
		var out []string
		if c := mapValue(mapValue(d.Content[0], "spec"), "components"); c != nil {
			for i := 0; i+1 < len(c.Content); i += 2 {
				out = append(out, c.Content[i].Value)
			}
		}
		return out
	}
	return nil
}
