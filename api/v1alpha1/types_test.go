package v1alpha1

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestNodeJSON: the flow's JSON form round-trips, with bare calls, plain
// race lists and inline branch cases.
func TestNodeJSON(t *testing.T) {
	in := `{"seq":["front",{"all":["cart","pricing"]},{"race":["paya","payb"]},{"race":{"hedgeAfter":"50ms","of":["a","b"]}},{"branch":[{"weight":0.9,"call":"x"},{"weight":0.1,"seq":["y","z"]}]},{"retry":{"attempts":3,"perTryTimeout":"200ms","do":"db"}}]}`
	var n Node
	if err := json.Unmarshal([]byte(in), &n); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, string(out)); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestRatioAndDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Ratio
		ok   bool
	}{{"99.5%", 0.995, true}, {"0.995", 0.995, true}, {" 99 % ", 0.99, true}, {"abc%", 0, false}, {"NaN", 0, false}} {
		got, err := ParseRatio(tc.in)
		if (err == nil) != tc.ok || (tc.ok && (got-tc.want > 1e-15 || tc.want-got > 1e-15)) {
			t.Errorf("ParseRatio(%q) = %v, %v; want %v (ok=%v)", tc.in, got, err, tc.want, tc.ok)
		}
	}
	for _, tc := range []struct{ in, want string }{{"30d", "30d"}, {"1h30m", "1h30m"}, {"400ms", "400ms"}, {"1.5s", "1s500ms"}} {
		d, err := ParseDuration(tc.in)
		if err != nil || d.String() != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %s", tc.in, d, err, tc.want)
		}
	}
	if _, err := ParseDuration("5 minutes"); err == nil {
		t.Errorf("ParseDuration accepted %q", "5 minutes")
	}
}
