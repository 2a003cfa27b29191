package promhist

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/emac-dev/emac/internal/latency"
)

// prometheusBin is the path of Debian's prometheus; the test is skipped
// without it, and fails when CI is set.
func prometheusBin(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("prometheus not found: apt-get install prometheus")
		}
		t.Skip("prometheus not found")
	}
	return p
}

// exposition serves a histogram whose buckets grow by fixed amounts at
// every scrape, from 0 at the first: scrape n serves n times the
// cumulative counts per scrape.
type exposition struct {
	mu sync.Mutex
	n  int
}

var (
	liveBounds = []float64{0.05, 0.1, 0.25, inf}
	liveGrowth = map[string][]float64{"front": {2, 7, 8, 9}, "cart": {1, 2, 2, 2}}
)

func (e *exposition) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	e.mu.Lock()
	n := e.n
	e.n++
	e.mu.Unlock()
	var b bytes.Buffer
	b.WriteString("# HELP emac_test_duration_seconds Request duration.\n# TYPE emac_test_duration_seconds histogram\n")
	for _, svc := range []string{"cart", "front"} {
		for i, le := range liveBounds {
			fmt.Fprintf(&b, "emac_test_duration_seconds_bucket{service=%q,le=%q} %g\n", svc, formatLE(le), float64(n)*liveGrowth[svc][i])
		}
		fmt.Fprintf(&b, "emac_test_duration_seconds_count{service=%q} %g\n", svc, float64(n)*liveGrowth[svc][3])
		fmt.Fprintf(&b, "emac_test_duration_seconds_sum{service=%q} %g\n", svc, float64(n)*0.5)
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	w.Write(b.Bytes())
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startPrometheus runs prometheus scraping target every second, with its
// storage in a temporary directory, and stops it when the test ends.
func startPrometheus(t *testing.T, target string) string {
	t.Helper()
	bin := prometheusBin(t)
	if out, err := exec.Command(bin, "--version").CombinedOutput(); err == nil {
		t.Logf("%s", bytes.SplitN(out, []byte("\n"), 2)[0])
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf("global: {scrape_interval: 1s, scrape_timeout: 1s}\nscrape_configs:\n  - job_name: emac\n    static_configs: [{targets: [%q]}]\n", target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("prometheus:\n%s", logs.String())
		}
	})
	return "http://" + addr
}

// TestLivePrometheus reads histograms from a real Prometheus scraping a
// server whose buckets grow by known amounts: the increase over a window
// that reaches back to the first scrape (all zeros), evaluated at the last
// scrape, is exactly what was served then — no extrapolation.
func TestLivePrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("starts prometheus")
	}
	srv := httptest.NewServer(&exposition{})
	defer srv.Close()
	url := startPrometheus(t, strings.TrimPrefix(srv.URL, "http://"))

	c, err := api.NewClient(api.Config{Address: url})
	if err != nil {
		t.Fatal(err)
	}
	papi := v1.NewAPI(c)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()

	// wait for three scrapes; the last one stored is the evaluation time
	var last model.SamplePair
	var first model.SamplePair
	for {
		val, _, err := papi.Query(ctx, `emac_test_duration_seconds_bucket{service="front",le="+Inf"}[1h]`, time.Now())
		if m, ok := val.(model.Matrix); err == nil && ok && len(m) == 1 && len(m[0].Values) >= 3 {
			first, last = m[0].Values[0], m[0].Values[len(m[0].Values)-1]
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no three scrapes in time (last error: %v)", err)
		case <-time.After(250 * time.Millisecond):
		}
	}
	if first.Value != 0 {
		t.Fatalf("the first scrape stored %v, want 0", first.Value)
	}
	k := float64(last.Value) / liveGrowth["front"][3]
	t.Logf("%d scrapes; evaluating at %v", int(k)+1, last.Timestamp.Time())

	p, err := NewPrometheus(url, PrometheusOptions{At: last.Timestamp.Time(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		selector string
		want     []float64
	}{
		{`emac_test_duration_seconds_bucket{service="front"}`, liveGrowth["front"]},
		{`emac_test_duration_seconds{service=~"front|cart"}`, []float64{3, 9, 10, 11}},
		{`emac_test_duration_seconds_bucket{service!="front"}`, liveGrowth["cart"]},
	} {
		h, err := p.Read(ctx, tc.selector, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]latency.Bucket, len(liveBounds))
		for i := range want {
			want[i] = latency.Bucket{UpperBound: liveBounds[i], Count: k * tc.want[i]}
		}
		if diff := cmp.Diff(want, h.Buckets); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.selector, diff)
		}
		if len(h.Warnings) > 0 {
			t.Errorf("%s: warnings %q", tc.selector, h.Warnings)
		}
	}
	_, err = p.Read(ctx, `emac_test_duration_seconds{service="pricing"}`, time.Hour)
	var nd *NoDataError
	if !errors.As(err, &nd) {
		t.Errorf("got %v, want a *NoDataError", err)
	}
}
