package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emac-dev/emac/internal/promtest"
)

// TestServe runs emac serve as a user would: it answers the probes and
// the gate (REVIEW while Prometheus is unreachable), demands its token,
// and exits 0 when its context ends.
func TestServe(t *testing.T) {
	addr, err := promtest.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"serve", "--prometheus", "http://127.0.0.1:1", "--timeout", "1s", "--spec", shopSpec,
			"--addr", addr, "--token-file", token, "--state", filepath.Join(dir, "actions.log"), "--refresh", "-1s"}, strings.NewReader(""), &stdout, &stderr)
	}()
	get := func(path, auth string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if code, _ := get("/healthz", ""); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("emac serve never answered /healthz; stderr:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, _ := get("/v1/journeys/shop/gate", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d, want 401", code)
	}
	code, body := get("/v1/journeys/shop/gate", "s3cret")
	var res struct {
		Decision string   `json:"decision"`
		Reasons  []string `json:"reasons"`
	}
	if err := json.Unmarshal(body, &res); code != http.StatusOK || err != nil || res.Decision != "REVIEW" || !strings.Contains(strings.Join(res.Reasons, " "), "Prometheus could not be read") {
		t.Errorf("gate with Prometheus unreachable: %d %s, want 200 REVIEW saying why", code, body)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d after shutdown, want 0; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("emac serve did not stop")
	}
	if !strings.Contains(stderr.String(), `"msg":"governing"`) {
		t.Errorf("no structured start log; stderr:\n%s", stderr.String())
	}
}
