package spec

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/emac-dev/emac/examples"
	"github.com/emac-dev/emac/internal/diag"
	"github.com/emac-dev/emac/internal/model"
)

var update = flag.Bool("update", false, "rewrite golden files")

var wantRE = regexp.MustCompile(`(error|warning) "((?:[^"\\]|\\.)*)"`)

// want reads the "# want error "..."" annotations of a bad input: line →
// expected "severity: summary substring" entries.
func want(t *testing.T, src []byte) map[int][]string {
	t.Helper()
	out := map[int][]string{}
	for i, line := range strings.Split(string(src), "\n") {
		_, ann, ok := strings.Cut(line, "# want ")
		if !ok {
			continue
		}
		for _, m := range wantRE.FindAllStringSubmatch(ann, -1) {
			out[i+1] = append(out[i+1], m[1]+": "+strings.ReplaceAll(m[2], `\"`, `"`))
		}
	}
	return out
}

// TestBadSpecs checks that every annotated problem is reported on its line,
// that nothing else is, and the full rendering against a golden file.
func TestBadSpecs(t *testing.T) {
	files, _ := filepath.Glob("testdata/bad/*.yaml")
	if len(files) == 0 {
		t.Fatal("no bad inputs")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			b, ds := Load(context.Background(), []string{f}, Options{})
			if !ds.HasErrors() {
				t.Fatalf("got no errors for %s", f)
			}
			got := map[int][]string{}
			for _, d := range ds {
				line := 0
				if d.Subject != nil {
					line = d.Subject.Start.Line
				}
				got[line] = append(got[line], d.Severity.String()+": "+d.Summary)
			}
			wants := want(t, src)
			for line, ws := range wants {
				for _, w := range ws {
					sev, sub, _ := strings.Cut(w, ": ")
					found := false
					for _, g := range got[line] {
						found = found || (strings.HasPrefix(g, sev+":") && strings.Contains(g, sub))
					}
					if !found {
						t.Errorf("line %d: got %q, want a diagnostic %q", line, got[line], w)
					}
				}
			}
			for line, gs := range got {
				if len(gs) > len(wants[line]) {
					t.Errorf("line %d: got %q, want only %q", line, gs, wants[line])
				}
			}
			var buf bytes.Buffer
			if err := diag.Render(&buf, ds, b.Sources); err != nil {
				t.Fatal(err)
			}
			golden(t, strings.TrimSuffix(f, ".yaml")+".golden", buf.Bytes())
		})
	}
}

// golden compares got with a golden file; the repository's absolute path
// (it appears in sloRef-escape details) is written as $ROOT.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if root, err := filepath.Abs("../.."); err == nil {
		if ev, err := filepath.EvalSymlinks(root); err == nil {
			root = ev
		}
		got = bytes.ReplaceAll(got, []byte(root), []byte("$ROOT"))
	}
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	wantB, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if diff := cmp.Diff(string(wantB), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

func TestDiagnosticsSorted(t *testing.T) {
	_, ds := Load(context.Background(), []string{"testdata/bad"}, Options{})
	if !sort.SliceIsSorted(ds, func(i, j int) bool {
		a, b := ds[i].Subject, ds[j].Subject
		if a == nil || b == nil {
			return a == nil && b != nil
		}
		if a.Filename != b.Filename {
			return a.Filename < b.Filename
		}
		if a.Start.Line != b.Start.Line {
			return a.Start.Line < b.Start.Line
		}
		return a.Start.Column < b.Start.Column
	}) {
		t.Errorf("diagnostics are not sorted by position")
	}
}

const paperSpec = "../../../shared/data/emac-paper/examples/checkout/spec/emac.checkout.yaml"

// TestPaperSpec loads the paper's JourneyIntent exactly as published.
func TestPaperSpec(t *testing.T) {
	for _, tc := range []struct {
		name string
		path string
		opts Options
	}{
		{"shared data", paperSpec, Options{}},
		{"embedded", examples.Checkout, Options{FS: examples.FS}},
		{"native", "../../examples/native/checkout.yaml", Options{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.opts.FS == nil {
				if _, err := os.Stat(tc.path); err != nil {
					t.Skip("input not present:", err)
				}
			}
			b, ds := Load(context.Background(), []string{tc.path}, tc.opts)
			if len(ds) > 0 {
				t.Fatalf("got diagnostics:\n%v", ds.Err())
			}
			if len(b.Journeys) != 1 {
				t.Fatalf("got %d journeys, want 1", len(b.Journeys))
			}
			j := b.Journeys[0]
			if got, want := j.Flow.String(), "Series(front, All(cart, pricing), Race(paya, payb))"; got != want {
				t.Errorf("got flow %s, want %s", got, want)
			}
			gotA := map[string]float64{}
			for n, c := range j.Components {
				gotA[n] = c.Availability
			}
			wantA := map[string]float64{"front": 0.9995, "cart": 0.999, "pricing": 0.999, "paya": 0.995, "payb": 0.995}
			if diff := cmp.Diff(wantA, gotA); diff != "" {
				t.Errorf("availabilities (-want +got):\n%s", diff)
			}
			if got := j.Domains["payment-network"].Members; !cmp.Equal(got, []string{"paya", "payb"}) {
				t.Errorf("got payment-network members %v, want [paya payb]", got)
			}
			if j.Objective.Availability != 0.995 || j.Objective.Latency == nil || j.Objective.Latency.Percentile != 99 || j.Objective.Latency.Threshold.Seconds() != 0.4 {
				t.Errorf("got objective %+v (latency %+v)", j.Objective, j.Objective.Latency)
			}
			if j.Policy.Bound != "pessimistic" {
				t.Errorf("got decision bound %q, want pessimistic", j.Policy.Bound)
			}
			if tc.name == "native" {
				want := &model.ActionTarget{APIVersion: "networking.istio.io/v1", Kind: "VirtualService", Name: "checkout", Namespace: "shop"}
				if len(j.Policy.Actions) != 1 || !cmp.Equal(j.Policy.Actions[0].Target, want) {
					t.Errorf("got actions %+v, want promote targeting %+v", j.Policy.Actions, want)
				}
			}
			if tq := j.Components["paya"].Telemetry; tq == nil || !strings.Contains(tq.Good, `provider="paya"`) {
				t.Errorf("got paya telemetry %+v, want the OpenSLO queries", tq)
			}
		})
	}
}
