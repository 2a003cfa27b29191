package cli

import (
	"bytes"
	"os"
	"testing"
)

// FuzzReadDeltas: any input read as deltas gives deltas or an error,
// never a panic; what it accepts has the ModelDelta kind.
func FuzzReadDeltas(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"emac.dev/v1alpha1","kind":"ModelDelta","spec":"s.yaml","journey":"j","changes":[]}`))
	f.Add([]byte("apiVersion: emac.dev/v1alpha1\nkind: ModelDelta\njourney: j\n---\nkind: ModelDelta\n"))
	f.Add([]byte(`[{"kind":"ModelDelta","changes":[{"kind":"flow","edits":[{"flow":{"seq":["a","b"]}}]}]}]`))
	f.Add([]byte("kind: Journey\n"))
	f.Add([]byte("&a [*a]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		mds, err := readDeltas("-", bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, md := range mds {
			if md == nil {
				t.Fatal("a nil delta")
			}
		}
	})
}

// TestReadDeltasFile reads a delta from a file, and refuses another kind.
func TestReadDeltasFile(t *testing.T) {
	p := t.TempDir() + "/d.yaml"
	os.WriteFile(p, []byte("kind: Journey\n"), 0o644)
	if _, err := readDeltas(p, nil); err == nil {
		t.Error("a Journey was read as a delta")
	}
}

// TestReadDeltasArray: a JSON array must hold deltas only.
func TestReadDeltasArray(t *testing.T) {
	for _, in := range []string{`[null]`, `[{"kind":"Journey"}]`, `[]`} {
		if _, err := readDeltas("-", bytes.NewReader([]byte(in))); err == nil {
			t.Errorf("%s was read as deltas", in)
		}
	}
}
