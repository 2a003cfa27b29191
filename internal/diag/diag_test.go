package diag

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSuggest(t *testing.T) {
	cands := []string{"pricing", "payment-network", "front", "cart"}
	for _, tc := range []struct{ in, want string }{
		{"pricng", "pricing"}, {"payment-netwrok", "payment-network"}, {"Front", "front"},
		{"database", ""}, {"cat", "cart"},
	} {
		if got := Suggest(tc.in, cands); got != tc.want {
			t.Errorf("Suggest(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRenderAndSort(t *testing.T) {
	var ds Diagnostics
	ds.Warnf(&Range{Filename: "a.yaml", Start: Pos{Line: 2, Column: 3}}, "second")
	d := ds.Errorf(&Range{Filename: "a.yaml", Start: Pos{Line: 1, Column: 7}, End: Pos{Line: 1, Column: 10}}, "first")
	d.Detail = `did you mean "abc"?`
	ds.Errorf(nil, "no position")
	ds = ds.Sort()
	var b bytes.Buffer
	if err := Render(&b, ds, Sources{"a.yaml": []byte("name: xyz\n  other\n")}); err != nil {
		t.Fatal(err)
	}
	want := "error: no position\n" +
		"a.yaml:1:7: error: first\n 1 | name: xyz\n   |       ^^^\n  did you mean \"abc\"?\n" +
		"a.yaml:2:3: warning: second\n 2 |   other\n   |   ^\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("render (-want +got):\n%s", diff)
	}
	if !ds.HasErrors() || ds.Err() == nil {
		t.Errorf("got no errors")
	}
}
