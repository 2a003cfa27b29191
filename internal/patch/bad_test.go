package patch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/emac-dev/emac/internal/diag"
)

var wantRE = regexp.MustCompile(`# want error "((?:[^"\\]|\\.)*)"`)

// TestBadInputs applies the edit named on the first line of each
// testdata/bad file ("# edit: {json}") and checks the error is the one
// annotated with `# want error "..."`, on that line, as a positioned
// diagnostic ("file:line:col: error: ...").
func TestBadInputs(t *testing.T) {
	files, _ := filepath.Glob("testdata/bad/*.yaml")
	if len(files) == 0 {
		t.Fatal("no bad inputs")
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			src := read(t, f)
			first, _, _ := bytes.Cut(src, []byte("\n"))
			js, _, _ := strings.Cut(strings.TrimPrefix(string(first), "# edit: "), "  # want ")
			var e Edit
			if err := json.Unmarshal([]byte(js), &e); err != nil {
				t.Fatalf("bad edit line %q: %v", js, err)
			}
			line, want := 0, ""
			for i, l := range bytes.Split(src, []byte("\n")) {
				if m := wantRE.FindSubmatch(l); m != nil {
					line, want = i+1, strings.ReplaceAll(string(m[1]), `\"`, `"`)
				}
			}
			out, err := Apply(name, src, []Edit{e})
			if err == nil {
				t.Fatalf("got no error (and %d bytes), want %q on line %d", len(out), want, line)
			}
			var d *diag.Diagnostic
			if !errors.As(err, &d) || d.Subject == nil {
				t.Fatalf("got %T %v, want a positioned *diag.Diagnostic", err, err)
			}
			if got := d.Subject.Start.Line; got != line || !strings.Contains(d.Summary, want) {
				t.Errorf("got %q on line %d, want %q on line %d", d.Summary, got, want, line)
			}
			if prefix := fmt.Sprintf("%s:%d:%d: error: ", name, line, d.Subject.Start.Column); !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("got %q, want it to start with %q", err, prefix)
			}
		})
	}
}
