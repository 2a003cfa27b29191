package prom_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/cli"
	"github.com/emac-dev/emac/internal/discovery"
	"github.com/emac-dev/emac/internal/model"
	"github.com/emac-dev/emac/internal/promtest"
)

// otelcol finds the collector built by hack/otelcol.sh ($EMAC_OTELCOL, or
// bin/otelcol-emac in the checkout). Without it the test is skipped, and
// fails under CI, like the other tests of real servers.
func otelcol(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("EMAC_OTELCOL")
	if bin == "" {
		_, file, _, _ := runtime.Caller(0)
		bin = filepath.Join(filepath.Dir(file), "..", "..", "..", "bin", "otelcol-emac")
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("no collector at %s under CI: build it with `bash hack/otelcol.sh`", bin)
		}
		t.Skipf("no collector at %s: build it with `bash hack/otelcol.sh`", bin)
	}
	return bin
}

// freePort is a loopback port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	addr, err := promtest.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(addr)
	return port
}

// collectorConfig is the collector's configuration: OTLP/HTTP in, emac's
// connector and the servicegraph connector side by side, Prometheus's
// exporter out; traces are folded in after a second idle.
const collectorConfig = `receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${env:OTLP_PORT}
connectors:
  emac:
    idle: 1s
    flush_interval: 1s
    sample: 5000
  service_graph:
    metrics_flush_interval: 1s
    store:
      max_items: 100000
      ttl: 30s
exporters:
  prometheus:
    endpoint: 127.0.0.1:${env:PROM_PORT}
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [emac, service_graph]
    metrics:
      receivers: [emac, service_graph]
      exporters: [prometheus]
`

// run runs emac's command line, failing the test on a non-zero exit.
func run(t *testing.T, args ...string) []byte {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := cli.Main(context.Background(), args, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("emac %s: exit %d: %s", strings.Join(args, " "), code, errOut.String())
	}
	return out.Bytes()
}

// TestCollectorEndToEnd: an otelcol built with emac's connector by the
// Collector Builder runs on loopback; the traces `emac simulate` makes of
// a journey with every kind of composition are sent to it over OTLP/HTTP;
// a real Prometheus scrapes it; and `emac discover --prometheus` gives the
// model `emac discover` gives of the same traces as a file: components,
// edges and counts, every flow and operator, branch weights and their
// intervals, confidence and provenance (latency summaries, which come back
// to the exported buckets, and the window aside), and the same ModelDelta
// against the journey's spec, byte for byte. The discovered flow is the
// journey's own, each weight within its interval.
func TestCollectorEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds nothing, but runs a collector and prometheus")
	}
	bin := otelcol(t)
	dir := t.TempDir()

	// the traces, as `emac simulate` writes them
	traces := filepath.Join(dir, "traces.json")
	run(t, "simulate", "--runs", "1000", "--traces", traces, "--trace-count", "3000", "testdata/shop.yaml")
	want := decodeModel(t, run(t, "discover", "-o", "json", traces))

	// the collector
	cfg := filepath.Join(dir, "otelcol.yaml")
	if err := os.WriteFile(cfg, []byte(collectorConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	otlpPort, promPort := freePort(t), freePort(t)
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--config", cfg)
	cmd.Env = append(os.Environ(), "OTLP_PORT="+otlpPort, "PROM_PORT="+promPort)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("collector logs:\n%s", logs.String())
		}
	})
	s := promtest.Start(t, promtest.Options{Targets: []string{"127.0.0.1:" + promPort}, ScrapeInterval: 500 * time.Millisecond})

	// send the traces in batches, as an SDK's exporter would
	sent := send(t, "http://127.0.0.1:"+otlpPort+"/v1/traces", traces, 200)
	t.Logf("sent %d spans", sent)

	// wait for every trace to be folded in, exported and scraped
	deadline := time.Now().Add(90 * time.Second)
	var got *v1alpha1.DiscoveredModel
	for {
		var out, errOut bytes.Buffer
		code := cli.Main(context.Background(), []string{"discover", "--prometheus", s.URL, "-o", "json"}, strings.NewReader(""), &out, &errOut)
		if code == 0 {
			got = decodeModel(t, out.Bytes())
			if flowInvocations(got) == 3000 && spans(got) == sent {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the collector's evidence was not all in Prometheus after 90s (exit %d: %s; spans %d of %d)", code, errOut.String(), spans(got), sent)
		}
		time.Sleep(time.Second)
	}

	ignore := cmp.FilterPath(func(p cmp.Path) bool {
		switch p.Last().String() {
		case ".Latency", ".Window", ".Inputs":
			return true
		}
		return false
	}, cmp.Ignore())
	if d := cmp.Diff(want, got, ignore); d != "" {
		t.Errorf("emac discover --prometheus differs from emac discover of the same traces (-file +collector):\n%s", d)
	}
	if in := got.Inputs; len(in) != 1 || in[0].Format != "prometheus-emac-connector" || in[0].Spans != sent {
		t.Errorf("inputs %+v, want the connector's %d spans", in, sent)
	}

	// and so is the ModelDelta against the journey's spec
	if file, coll := run(t, "discover", "--spec", "testdata/shop.yaml", "-o", "json", traces), run(t, "discover", "--spec", "testdata/shop.yaml", "-o", "json", "--prometheus", s.URL); !bytes.Equal(file, coll) {
		t.Errorf("the ModelDelta from the collector differs from the one from the file:\n%s\n%s", file, coll)
	}

	// and the flow is the journey's
	wantFlow, err := model.ParseFlow(shopFlow)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, f := range got.Flows {
		if !f.Root {
			continue
		}
		found = true
		flow, err := model.ParseFlow(f.Canonical)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := discovery.Shape(flow), discovery.Shape(wantFlow); g != w {
			t.Errorf("discovered flow\n%s\nwant\n%s", g, w)
		}
		for _, b := range f.Branches {
			for i, w := range []float64{0.3, 0.7} {
				if e := b.Weights[i]; w < e.Lo || w > e.Hi {
					t.Errorf("branch %s case %d: weight %v outside its interval [%v, %v]", b.Cases, i, w, e.Lo, e.Hi)
				}
			}
		}
	}
	if !found {
		t.Error("no entry flow")
	}

	// the servicegraph connector ran beside it, on the same traces, and
	// counts the same calls (its own edges: client and server spans
	// paired)
	var calls int
	for _, e := range got.Edges {
		calls += e.Calls
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Second) {
		v := s.Query(t, `sum(traces_service_graph_request_total)`, time.Now())
		if len(v) > 0 && int(v[0].Value) == calls {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("servicegraph requests scraped: %v, want %d", v, calls)
			break
		}
	}
}

func decodeModel(t *testing.T, b []byte) *v1alpha1.DiscoveredModel {
	t.Helper()
	var m v1alpha1.DiscoveredModel
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%v: %.200s", err, b)
	}
	return &m
}

func flowInvocations(m *v1alpha1.DiscoveredModel) int {
	for _, f := range m.Flows {
		if f.Root {
			return f.Invocations
		}
	}
	return 0
}

func spans(m *v1alpha1.DiscoveredModel) int {
	if m == nil || len(m.Inputs) == 0 {
		return 0
	}
	return m.Inputs[0].Spans
}

// shopFlow is testdata/shop.yaml's flow in the algebra's syntax.
const shopFlow = "Series(front, All(cart, pricing), Fallback(inventory, inventory-cache), Race[hedgeAfter=50ms](paya, payb), Retry[attempts=3, perTryTimeout=150ms, backoff=10ms](receipt), Branch(0.3: gift, 0.7: mail))"

// send posts the OTLP JSON file's resource spans to url, batch at a time,
// and returns the spans sent.
func send(t *testing.T, url, file string, batch int) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(b)
	if err != nil {
		t.Fatal(err)
	}
	rss := td.ResourceSpans()
	var m ptrace.JSONMarshaler
	for i := 0; i < rss.Len(); i += batch {
		part := ptrace.NewTraces()
		for k := i; k < min(i+batch, rss.Len()); k++ {
			rss.At(k).CopyTo(part.ResourceSpans().AppendEmpty())
		}
		body, err := m.MarshalTraces(part)
		if err != nil {
			t.Fatal(err)
		}
		var resp *http.Response
		for try := 0; ; try++ {
			resp, err = http.Post(url, "application/json", bytes.NewReader(body))
			if err == nil || try == 50 {
				break
			}
			time.Sleep(200 * time.Millisecond) // the receiver is starting
		}
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %s", url, resp.Status)
		}
	}
	return td.SpanCount()
}
