package slo

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzRead checks that Read never panics and that what it returns holds
// together, whatever the input. Seeds: every YAML file under testdata, and
// the corpus under testdata/fuzz/FuzzRead.
func FuzzRead(f *testing.F) {
	err := filepath.WalkDir("testdata", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			return err
		}
		data, err := os.ReadFile(p)
		if err == nil {
			f.Add(data)
		}
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const file = "fuzz.yaml"
		objs, ds := Read(file, data)
		for _, d := range ds {
			if d.Summary == "" || d.Subject == nil || d.Subject.Filename != file {
				t.Errorf("diagnostic without summary or location: %#v", d)
			}
		}
		for i, o := range objs {
			if !(o.Target > 0 && o.Target < 1) {
				t.Errorf("objective %q: target %v outside (0,1)", o.Name, o.Target)
			}
			if o.Window < 0 || o.LatencyThreshold < 0 {
				t.Errorf("objective %q: negative window %v or threshold %v", o.Name, o.Window, o.LatencyThreshold)
			}
			if o.Filename != file || o.Line < 1 || o.Column < 1 {
				t.Errorf("objective %q: bad position %s:%d:%d", o.Name, o.Filename, o.Line, o.Column)
			}
			switch o.Format {
			case FormatOpenSLOv1, FormatOpenSLOv1alpha, FormatSloth, FormatSlothCRD, FormatPyrra:
			default:
				t.Errorf("objective %q: unknown format %q", o.Name, o.Format)
			}
			if g := Find(objs, o.Name); g == nil || g.Name != o.Name || g.Format == "" {
				t.Errorf("Find(%q) = %v for objective %d", o.Name, g, i)
			}
		}
	})
}
