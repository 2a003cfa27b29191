// Package emittest holds what the emitters' tests share: golden files,
// and promtool to run rules and gate queries in Prometheus' engine.
package emittest

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/emac-dev/emac/examples"
	"github.com/emac-dev/emac/internal/emit"
	"github.com/emac-dev/emac/internal/model"
	"github.com/emac-dev/emac/internal/service"
	"github.com/emac-dev/emac/internal/spec"
)

// Golden compares files with the directory dir: every file there, none
// missing and none left over from an earlier emitter (a missing directory
// holds no files). With update it rewrites dir instead.
func Golden(t testing.TB, dir string, files []emit.File, update bool) {
	t.Helper()
	if update {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			p := filepath.Join(dir, filepath.FromSlash(f.Path))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, f.Data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	want := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		want[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) { // no directory: no files
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range files {
		got[f.Path] = string(f.Data)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s (-want +got; go test -update rewrites it):\n%s", dir, diff)
	}
}

// Input analyses a journey built in code as `emac compile` does.
func Input(t testing.TB, j *model.Journey) *emit.Input {
	t.Helper()
	a, err := service.Assess(context.Background(), j, service.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &emit.Input{Journey: j, Result: a.Result, Analysis: a.Analysis, Latency: a.Latency, Namespace: "default"}
}

// Example loads an example embedded in package examples and analyses its
// first journey as `emac compile` does, with its spec and namespace.
func Example(t testing.TB, path string) *emit.Input {
	t.Helper()
	b, ds := spec.Load(context.Background(), []string{path}, spec.Options{FS: examples.FS})
	if ds.HasErrors() {
		t.Fatalf("load %s: %v", path, ds.Err())
	}
	in := Input(t, b.Journeys[0])
	in.Spec = b.Specs[0]
	if ns := in.Spec.Metadata.Namespace; ns != "" {
		in.Namespace = ns
	}
	return in
}
