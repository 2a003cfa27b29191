package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emac-dev/emac/internal/promtest"
)

// shopSpec is the service package's observed-mode journey: the replay's
// checkout with inline telemetry and the paper's promote action.
const shopSpec = "../service/testdata/gate/shop.yaml"

// TestGate runs emac gate and emac guard check against a real Prometheus:
// exit codes 0/1/2 for PASS/FAIL/REVIEW (4 for errors), JSON for Argo's
// jsonPath, and an action log that keeps the rate limit between runs.
func TestGate(t *testing.T) {
	if testing.Short() {
		t.Skip("starts prometheus")
	}
	end := time.Now().UTC().Truncate(time.Minute).Add(-2 * time.Minute)
	start := end.Add(-2 * time.Hour)
	ss := promtest.Checkout(start, end, 15*time.Second, 10)
	ss = append(ss, promtest.HTTPRequests("front", "front-canary-1", start, end, 15*time.Second, 0.01, 0)...)
	srv := promtest.Start(t, promtest.Options{Backfill: promtest.OpenMetrics(ss...)})
	at := end.Format(time.RFC3339)
	state := filepath.Join(t.TempDir(), "actions.log")
	gate := []string{"gate", "--prometheus", srv.URL, "--spec", shopSpec, "--at", at}
	guard := []string{"guard", "check", "--prometheus", srv.URL, "--spec", shopSpec, "--at", at, "--state", state, "--action", "promote"}
	tests := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"pass", append(gate, "shop"), 0, "shop: PASS"},
		{"pass as json", append(gate, "-o", "json", "shop"), 0, `"decision": "PASS"`},
		{"canary fails", append(gate, "--canary", `front={pod="front-canary-1"}`, "shop"), 1, "shop: FAIL"},
		{"too few calls", append(gate, "--min-calls", "1e9", "shop"), 2, "shop: REVIEW"},
		{"unknown journey", append(gate, "shpo"), 4, ""},
		{"bad canary", append(gate, "--canary", "front", "shop"), 4, ""},
		{"no prometheus", []string{"gate", "--spec", shopSpec, "shop"}, 4, ""},
		{"unreachable prometheus", []string{"gate", "--prometheus", "http://127.0.0.1:1", "--timeout", "2s", "--spec", shopSpec, "shop"}, 2, "Prometheus could not be read"},
		{"guard allows", append(guard, "--param", "step=0.2", "shop"), 0, "shop/promote: ALLOWED"},
		{"guard rate limit", append(guard, "--param", "step=0.2", "shop"), 1, "action ran 1 times in the last 10m"},
		{"guard step", append(guard, "--params", `{"step": 0.9}`, "--dry-run", "shop"), 1, "exceeds maxTrafficStep 0.5"},
	}
	for _, tt := range tests {
		out, errs, code := run(t, "", tt.args...)
		if code != tt.code || !strings.Contains(out, tt.out) {
			t.Errorf("%s: got exit %d, output:\n%s\nstderr:\n%s\nwant exit %d with %q", tt.name, code, out, errs, tt.code, tt.out)
		}
		if code == 4 && errs == "" {
			t.Errorf("%s: exit 4 without a message", tt.name)
		}
	}
	// what Argo Rollouts' web provider reads with jsonPath {$.decision}
	out, _, _ := run(t, "", append(gate, "-o", "json", "shop")...)
	var res struct {
		Decision    string `json:"decision"`
		Observation struct {
			Sufficient bool `json:"sufficient"`
		} `json:"observation"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Decision != "PASS" || !res.Observation.Sufficient {
		t.Errorf("gate -o json: %v %+v", err, res)
	}
}
