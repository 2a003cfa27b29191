package input_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/emac-dev/emac/internal/discovery"
	"github.com/emac-dev/emac/internal/discovery/input"
	"github.com/emac-dev/emac/internal/discovery/readtest"
	"github.com/emac-dev/emac/internal/model"
	"github.com/emac-dev/emac/internal/sim/trace"
)

// otlpJSON is a small OTLP JSON document of simulated traces.
func otlpJSON(t *testing.T) []byte {
	t.Helper()
	j, err := model.Build("shop", "Series(a, All(b, c))", map[string]float64{"a": 0.9, "b": 0.9, "c": 0.9}, nil)
	if err != nil {
		t.Fatal(err)
	}
	td, err := trace.Generate(context.Background(), j, trace.Options{Count: 5, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := td.JSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRead: files and directories (recursive, sorted, hidden skipped),
// gzip by its magic bytes, standard input, every format told from its
// first bytes, and an unknown input reported, not fatal.
func TestRead(t *testing.T) {
	dir := t.TempDir()
	doc := otlpJSON(t)
	zipkin, err := os.ReadFile("../zipkin/testdata/zipkin-lens/ascend.json")
	if err != nil {
		t.Skip("zipkin fixture:", err)
	}
	write(t, filepath.Join(dir, "b", "traces.json.gz"), gz(t, doc))
	write(t, filepath.Join(dir, "a", "otlp.json"), doc)
	write(t, filepath.Join(dir, "a", ".hidden.json"), doc)
	write(t, filepath.Join(dir, "c", "zipkin.json"), zipkin)
	write(t, filepath.Join(dir, "c", "notes.txt"), []byte("not traces\n"))
	// a Nezha table, read on goroutines of its own and handed to the sink
	// directly (Format.Direct), between files handed over through the pipe
	nezhaTable, err := os.ReadFile("../nezha/testdata/ob-03_53-head.csv.gz")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "bb", "ob.csv.gz"), nezhaTable)
	files, err := input.Files([]string{dir, "-"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "a", "otlp.json"), filepath.Join(dir, "b", "traces.json.gz"), filepath.Join(dir, "bb", "ob.csv.gz"), filepath.Join(dir, "c", "notes.txt"), filepath.Join(dir, "c", "zipkin.json"), "-"}
	if diff := cmp.Diff(want, files); diff != "" {
		t.Fatalf("Files (-want +got):\n%s", diff)
	}
	var c discovery.Collector
	ins, err := input.Read(context.Background(), files, input.Options{Stdin: bytes.NewReader(gz(t, doc))}, &c)
	if err != nil {
		t.Fatal(err)
	}
	var formats []string
	for _, in := range ins {
		formats = append(formats, in.Format)
		if in.Spans == 0 {
			t.Errorf("%s: no spans", in.Name)
		}
	}
	if diff := cmp.Diff([]string{"otlp-json", "otlp-json", "nezha-csv", "zipkin", "otlp-json"}, formats); diff != "" {
		t.Errorf("formats (-want +got):\n%s", diff)
	}
	if got := c.Count(discovery.Unsupported); got != 1 {
		t.Errorf("%d unsupported inputs reported, want 1 (notes.txt): %v", got, c.Problems)
	}
	// the spans arrive in input order, file after file
	var order []string
	for _, s := range c.Spans {
		if len(order) == 0 || order[len(order)-1] != s.Pos.File {
			order = append(order, s.Pos.File)
		}
	}
	if diff := cmp.Diff([]string{want[0], want[1], want[2], want[4], want[5]}, order); diff != "" {
		t.Errorf("the files the spans came from, in the order they came (-want +got):\n%s", diff)
	}
}

// TestForcedFormat: --format reads every input as that format, and an
// unknown format name is an error.
func TestForcedFormat(t *testing.T) {
	var c discovery.Collector
	if _, err := input.Read(context.Background(), []string{"-"}, input.Options{Format: "nope", Stdin: bytes.NewReader(nil)}, &c); err == nil {
		t.Error("an unknown format was accepted")
	}
	ins, err := input.Read(context.Background(), []string{"-"}, input.Options{Format: "zipkin", Stdin: bytes.NewReader(otlpJSON(t))}, &c)
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) != 1 || ins[0].Format != "zipkin" || c.Count(discovery.Corrupt) == 0 {
		t.Errorf("forced zipkin on OTLP: %+v, problems %v", ins, c.Problems)
	}
}

// failing stops after n spans.
type failing struct {
	discovery.Collector
	n int
}

func (f *failing) Span(s *discovery.Span) error {
	if len(f.Spans) == f.n {
		return errors.New("enough")
	}
	return f.Collector.Span(s)
}

// TestSinkError: an error from the sink stops the read and is returned.
func TestSinkError(t *testing.T) {
	doc := otlpJSON(t)
	f := &failing{n: 3}
	_, err := input.Read(context.Background(), []string{"-"}, input.Options{Stdin: bytes.NewReader(doc)}, f)
	if err == nil || err.Error() != "enough" {
		t.Errorf("error %v, want the sink's", err)
	}
	if len(f.Spans) != 3 {
		t.Errorf("%d spans taken, want 3", len(f.Spans))
	}
}

// TestCopiesIDs: a sink that copies ids (which the Nezha reader then
// hands its own bytes) is handed what one that keeps them is, from a
// table read directly and from files through the pipe.
func TestCopiesIDs(t *testing.T) {
	dir := t.TempDir()
	nezhaTable, err := os.ReadFile("../nezha/testdata/ob-03_53-head.csv.gz")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "a.json"), otlpJSON(t))
	write(t, filepath.Join(dir, "b.csv.gz"), nezhaTable)
	write(t, filepath.Join(dir, "c.json"), otlpJSON(t))
	var want discovery.Collector
	if _, err := input.Read(context.Background(), []string{dir}, input.Options{}, &want); err != nil {
		t.Fatal(err)
	}
	var got readtest.IDCopier
	if _, err := input.Read(context.Background(), []string{dir}, input.Options{}, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got.Collector); diff != "" {
		t.Errorf("not what a sink that keeps ids is handed (-kept +copied):\n%s", diff)
	}
}

// TestProgress: the display goes to the writer given, and ends with a
// newline.
func TestProgress(t *testing.T) {
	var out bytes.Buffer
	var c discovery.Collector
	big := bytes.Repeat(append(otlpJSON(t), '\n'), 200)
	if _, err := input.Read(context.Background(), []string{"-"}, input.Options{Stdin: bytes.NewReader(big), Progress: &out}, &c); err != nil {
		t.Fatal(err)
	}
	if out.Len() > 0 && !bytes.HasSuffix(out.Bytes(), []byte("\n")) {
		t.Errorf("progress %q does not end its line", out.String())
	}
}
