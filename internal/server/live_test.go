package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emac-dev/emac/internal/actionlog"
	"github.com/emac-dev/emac/internal/observe"
	"github.com/emac-dev/emac/internal/promtest"
	"github.com/emac-dev/emac/internal/service"
)

// TestLive serves the real Governor over a real Prometheus: Argo Rollouts'
// web provider and Flagger's webhook see what those controllers expect
// (a healthy canary passes, a failing one fails, Prometheus gone is
// Inconclusive for Argo and a halt for Flagger), and guarded actions keep
// their rate limit.
func TestLive(t *testing.T) {
	if testing.Short() {
		t.Skip("starts prometheus")
	}
	end := time.Now().UTC().Truncate(time.Minute).Add(-2 * time.Minute)
	start := end.Add(-2 * time.Hour)
	const step = 15 * time.Second
	ss := promtest.Checkout(start, end, step, 10)
	for pod, a := range map[string]float64{"front-bad-1": 0, "front-good-1": 1} {
		ss = append(ss, promtest.HTTPRequests("front", pod, start, end, step, 0.01, a)...)
	}
	prom := promtest.Start(t, promtest.Options{Backfill: promtest.OpenMetrics(ss...)})

	rep := service.Load(context.Background(), []string{filepath.Join("..", "service", "testdata", "gate", "shop.yaml")}, service.Options{})
	if rep.Diagnostics.HasErrors() {
		t.Fatal(rep.Diagnostics)
	}
	obs, err := observe.New(prom.URL, observe.Options{Timeout: 2 * time.Second, Now: func() time.Time { return end }})
	if err != nil {
		t.Fatal(err)
	}
	log, err := actionlog.Open(filepath.Join(t.TempDir(), "actions.log"), actionlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	// no cache: each request reads Prometheus, so that stopping it shows
	gov := service.NewGovernor(rep.Journeys, obs, service.GovernorOptions{Actions: log, Now: func() time.Time { return end }})
	const token = "s3cret"
	srv := httptest.NewServer(New(gov, Options{Token: token, OpenFlagger: true, Refresh: -1}).Handler())
	defer srv.Close()
	gateURL := func(canary string) string {
		u := srv.URL + "/v1/journeys/shop/gate"
		if canary != "" {
			u += "?canary=" + url.QueryEscape(canary)
		}
		return u
	}
	flagger := func(canary string) int {
		t.Helper()
		body := `{"name":"front","namespace":"shop","phase":"Progressing","checksum":"6d5c8b","metadata":{"canary":` + quoteJSON(canary) + `}}`
		resp, err := http.Post(srv.URL+"/v1/journeys/shop/flagger", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	tests := []struct {
		name    string
		canary  string
		stop    bool
		argo    string
		flagger int
	}{
		{"healthy canary", `front={pod="front-good-1"}`, false, "Successful", http.StatusOK},
		{"failing canary", `front={pod="front-bad-1"}`, false, "Failed", http.StatusForbidden},
		{"prometheus stopped", `front={pod="front-good-1"}`, true, "Inconclusive", http.StatusConflict},
	}
	for _, tt := range tests {
		if tt.stop {
			prom.Stop()
		}
		phase, err := argoMeasure(http.DefaultClient, gateURL(tt.canary), token)
		if err != nil || phase != tt.argo {
			t.Errorf("%s: Argo measurement %s (%v), want %s", tt.name, phase, err, tt.argo)
		}
		if got := flagger(tt.canary); got != tt.flagger {
			t.Errorf("%s: Flagger webhook answered %d, want %d", tt.name, got, tt.flagger)
		}
	}
	prom.Restart(t)

	action := func(body string) int {
		t.Helper()
		code, _, b := do(t, srv.Config.Handler, "POST", "/v1/journeys/shop/actions/promote", body, map[string]string{"Authorization": "Bearer " + token})
		t.Logf("%s → %d %s", body, code, b)
		return code
	}
	if got := action(`{"params": {"step": 0.2}}`); got != http.StatusOK {
		t.Errorf("promote 0.2: %d, want 200", got)
	}
	if got := action(`{"params": {"step": 0.2}}`); got != http.StatusForbidden {
		t.Errorf("promote again within the window: %d, want 403", got)
	}
}

func quoteJSON(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}
