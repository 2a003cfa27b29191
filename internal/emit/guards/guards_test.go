package guards

import (
	"bytes"
	"context"
	"flag"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/emac-dev/emac/internal/emit"
	"github.com/emac-dev/emac/internal/emit/emittest"
	"github.com/emac-dev/emac/internal/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// goldenSpecs are the specs whose guards are kept under testdata/golden.
var goldenSpecs = []struct{ name, path string }{
	{"checkout", "testdata/checkout.yaml"},
	{"guest-checkout", "testdata/guest-checkout.yaml"},
	{"native", "../../../examples/native/checkout.yaml"},
}

// emitted loads the one journey of path and emits its guards.
func emitted(t *testing.T, path string) []emit.File {
	t.Helper()
	b, ds := spec.Load(context.Background(), []string{path}, spec.Options{})
	if ds.HasErrors() || len(b.Journeys) != 1 {
		t.Fatalf("%s: %d journeys, %v", path, len(b.Journeys), ds.Err())
	}
	files, err := Emit(&emit.Input{Journey: b.Journeys[0], Spec: b.Specs[0], Namespace: "payments"})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestGolden compares the emitted files with testdata/golden/<journey>/;
// run with -update to rewrite them.
func TestGolden(t *testing.T) {
	for _, gs := range goldenSpecs {
		t.Run(gs.name, func(t *testing.T) {
			files := emitted(t, gs.path)
			if len(files) == 0 {
				t.Fatal("no files")
			}
			emittest.Golden(t, filepath.Join("testdata", "golden", gs.name), files, *update)
		})
	}
}

// TestDeterministic emits each spec twice and compares the bytes.
func TestDeterministic(t *testing.T) {
	for _, gs := range goldenSpecs {
		path := gs.path
		a, b := emitted(t, path), emitted(t, path)
		if len(a) != len(b) {
			t.Fatalf("%s: %d files, then %d", path, len(a), len(b))
		}
		for i := range a {
			if a[i].Path != b[i].Path || !bytes.Equal(a[i].Data, b[i].Data) {
				t.Errorf("%s: %s differs between two runs", path, a[i].Path)
			}
		}
	}
}

// TestFiles checks which files each action gets.
func TestFiles(t *testing.T) {
	var got []string
	for _, path := range []string{"testdata/checkout.yaml", "testdata/guest-checkout.yaml"} {
		for _, f := range emitted(t, path) {
			got = append(got, f.Path)
		}
	}
	want := []string{
		"guards/promote.rego", "guards/promote.data.json", "guards/promote.vap.yaml",
		"guards/gateway.rego", "guards/gateway.data.json", "guards/gateway.vap.yaml",
		"guards/failover.rego", "guards/failover.data.json",
		"guards/shift-traffic.rego", "guards/shift-traffic.data.json", "guards/shift-traffic.vap.yaml",
		"guards/rate-only.rego", "guards/rate-only.data.json",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	b, _ := spec.Load(context.Background(), []string{"testdata/checkout.yaml"}, spec.Options{})
	out, err := Emit(&emit.Input{Journey: b.Journeys[0]})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range out {
		if f.Path == "guards/gateway.vap.yaml" && !bytes.Contains(f.Data, []byte("kubernetes.io/metadata.name: default")) {
			t.Errorf("without a namespace, the HTTPRoute is not looked for in default:\n%s", f.Data)
		}
	}
	if _, err := Emit(&emit.Input{}); err == nil {
		t.Error("got no error without a journey")
	}
}
