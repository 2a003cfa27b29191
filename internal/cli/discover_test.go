package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emac-dev/emac/api/v1alpha1"
)

const replay = "../service/testdata/replay"

// TestDiscover: emac discover prints a DiscoveredModel with the flow of
// the journey's entry.
func TestDiscover(t *testing.T) {
	out, errOut, code := run(t, "", "discover", "-o", "json", filepath.Join(replay, "baseline_separate_domains", "traces.json"))
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var m v1alpha1.DiscoveredModel
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	if m.Kind != v1alpha1.KindDiscoveredModel || len(m.Flows) == 0 || m.Flows[0].Canonical != "Series(All(cart, pricing), Race(paya, payb))" {
		t.Errorf("got %s flows %+v", m.Kind, m.Flows)
	}
	if _, errOut, code := run(t, "", "discover", "-o", "text", "x"); code != ExitError || !strings.Contains(errOut, "unknown output format") {
		t.Errorf("-o text: exit %d, %q", code, errOut)
	}
	if _, errOut, code := run(t, "", "discover", "no/such/file"); code != ExitError || !strings.Contains(errOut, "no/such/file") {
		t.Errorf("a missing input: exit %d, %q", code, errOut)
	}
}

// TestDiscoverPrometheusErrors: --prometheus says what is wrong with the
// server or the arguments, and exits 1 (the reading itself is tested
// against a real Prometheus in internal/discovery/prom).
func TestDiscoverPrometheusErrors(t *testing.T) {
	traces := filepath.Join(replay, "baseline_separate_domains", "traces.json")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"discover", "--prometheus", "http://127.0.0.1:1"}, "connection refused"},
		{[]string{"discover", "--prometheus", "prometheus:9090"}, "want an http(s) URL"},
		{[]string{"discover", "--prometheus", "http://127.0.0.1:1", traces}, "traces cannot be read with evidence from Prometheus"},
		{[]string{"discover"}, "requires at least 1 arg"},
	} {
		_, errOut, code := run(t, "", tc.args...)
		if code != ExitError || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, %q; want %d and %q", tc.args, code, errOut, ExitError, tc.want)
		}
	}
}

// TestAccept: discover --spec prints a delta; accept --dry-run prints its
// diff; accept edits the spec, keeping the rest byte for byte; a second
// accept of the same delta is refused, the spec having changed.
func TestAccept(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"spec/emac.checkout.yaml", "atomic/openslo/slo.front.availability.yaml", "atomic/openslo/slo.cart.availability.yaml",
		"atomic/openslo/slo.pricing.availability.yaml", "atomic/openslo/slo.paya.availability.yaml", "atomic/openslo/slo.payb.availability.yaml", "atomic/openslo/datasource.prometheus.yaml"} {
		b, err := os.ReadFile(filepath.Join(replay, "checkout", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	spec := filepath.Join(dir, "spec", "emac.checkout.yaml")
	before, _ := os.ReadFile(spec)
	out, errOut, code := run(t, "", "discover", "--spec", spec, filepath.Join(replay, "baseline_separate_domains", "traces.json"))
	if code != ExitOK {
		t.Fatalf("discover --spec: exit %d: %s", code, errOut)
	}
	delta := filepath.Join(dir, "delta.yaml")
	if err := os.WriteFile(delta, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	diff, errOut, code := run(t, "", "accept", "--dry-run", delta)
	if code != ExitOK || !strings.Contains(diff, `+        - "payment-network-a"`) || !strings.Contains(diff, `-        - "payment-network"`) {
		t.Fatalf("accept --dry-run: exit %d: %s\n%s", code, errOut, diff)
	}
	if after, _ := os.ReadFile(spec); string(after) != string(before) {
		t.Error("--dry-run changed the spec")
	}
	if _, errOut, code := run(t, "", "accept", delta); code != ExitOK {
		t.Fatalf("accept: exit %d: %s", code, errOut)
	}
	after, _ := os.ReadFile(spec)
	changed := 0
	bl, al := strings.Split(string(before), "\n"), strings.Split(string(after), "\n")
	if len(bl) != len(al) {
		t.Fatalf("accept changed the number of lines: %d → %d", len(bl), len(al))
	}
	for i := range bl {
		if bl[i] != al[i] {
			changed++
		}
	}
	if changed != 2 {
		t.Errorf("accept changed %d lines, want 2 (paya's and payb's domain)", changed)
	}
	if _, errOut, code := run(t, "", "accept", delta); code != ExitError || !strings.Contains(errOut, "changed since") {
		t.Errorf("a second accept: exit %d, %q", code, errOut)
	}
}
