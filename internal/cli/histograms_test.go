package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	histSpec    = "testdata/histograms/shop.yaml"
	histMetrics = "testdata/histograms/metrics.txt"
)

// TestCheckHistograms: check --histograms composes front's and cart's
// measured latency, says where it came from, and warns at pricing's
// selector, which matches nothing (exit 3).
func TestCheckHistograms(t *testing.T) {
	out, errs, code := run(t, "", "check", "--histograms", histMetrics, histSpec)
	golden(t, "testdata/histograms/check.golden", fmt.Sprintf("%s--- stderr\n%s--- exit %d\n", out, errs, code))

	out, _, code = run(t, "", "check", "-o", "json", "--histograms", histMetrics, histSpec)
	if code != ExitWarnings {
		t.Fatalf("got exit %d, want %d", code, ExitWarnings)
	}
	var res struct {
		Journeys []struct {
			Latency struct {
				Sources []map[string]any
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{
		{"component": "cart", "source": "histogram", "from": histMetrics, "observations": 12024.0, "top": 1.0, "overflow": 0.0},
		{"component": "front", "source": "histogram", "from": histMetrics, "observations": 47207.0, "top": 1.0, "overflow": 0.000127099794522},
		{"component": "payments", "source": "points"},
		{"component": "pricing", "source": "points"},
	}
	if diff := cmp.Diff(want, res.Journeys[0].Latency.Sources); diff != "" {
		t.Errorf("latency.sources (-want +got):\n%s", diff)
	}

	// without the flag, the selectors are not read
	out, _, code = run(t, "", "check", histSpec)
	if code != ExitOK || strings.Contains(out, "histogram:") {
		t.Errorf("without --histograms: exit %d\n%s", code, out)
	}
}

// TestCompileHistograms: compile takes the same flags.
func TestCompileHistograms(t *testing.T) {
	dir := t.TempDir()
	out, errs, code := run(t, "", "compile", "-o", dir, "--histograms", histMetrics, histSpec)
	if code != ExitWarnings || !strings.Contains(out, "shop: ") || !strings.Contains(errs, `component "pricing": no histogram series match`) {
		t.Errorf("got exit %d\n%s\n%s", code, out, errs)
	}
	var rep struct {
		Result struct {
			Latency struct {
				Sources []struct{ Component, Source string }
			}
		}
	}
	readJSON(t, filepath.Join(dir, "shop", "report.json"), &rep)
	if s := rep.Result.Latency.Sources; len(s) != 4 || s[1].Component != "front" || s[1].Source != "histogram" {
		t.Errorf("report.json latency sources: %+v", s)
	}
}

// TestCheckPrometheus: check --prometheus asks the server for each
// selector's increase over the objective's window, or --histogram-window.
func TestCheckPrometheus(t *testing.T) {
	var mu sync.Mutex
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.FormValue("query")
		mu.Lock()
		queries = append(queries, q)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if !strings.Contains(q, `service="front"`) {
			fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[]}}`)
			return
		}
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[`+
			`{"metric":{"le":"0.05"},"value":[1,"800"]},{"metric":{"le":"0.1"},"value":[1,"990"]},{"metric":{"le":"+Inf"},"value":[1,"1000"]}]}}`)
	}))
	defer srv.Close()
	for _, tc := range []struct {
		args   []string
		window string
	}{
		{nil, "[1w]"},
		{[]string{"--histogram-window", "2h"}, "[2h]"},
	} {
		queries = nil
		args := append([]string{"check", "--prometheus", srv.URL}, tc.args...)
		out, errs, code := run(t, "", append(args, histSpec)...)
		if code != ExitWarnings {
			t.Fatalf("%v: exit %d\n%s", tc.args, code, errs)
		}
		if !strings.Contains(out, "histogram:    front: 1000 observations, 1% above 100ms (prometheus "+srv.URL+`: sum by (le) (increase(http_request_duration_seconds_bucket{service="front"}`+tc.window+")))") {
			t.Errorf("%v: output lacks front's histogram:\n%s", tc.args, out)
		}
		for _, want := range []string{`component "cart": no histogram series match`, `component "pricing": no histogram series match`, "(no samples in the window)"} {
			if !strings.Contains(errs, want) {
				t.Errorf("%v: stderr lacks %q:\n%s", tc.args, want, errs)
			}
		}
		if len(queries) != 3 {
			t.Errorf("%v: %d queries, want 3: %q", tc.args, len(queries), queries)
		}
		for _, q := range queries {
			if !strings.Contains(q, tc.window) {
				t.Errorf("%v: query %s lacks %s", tc.args, q, tc.window)
			}
		}
	}
}

func TestHistogramFlagErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.txt")
	writeFile(t, bad, "# TYPE x histogram\nx_bucket{le=\"0.1\"} 1\nx_bucket{le=\"+Inf\"} many\n")
	for _, tc := range []struct {
		name string
		args []string
		err  string
	}{
		{"both", []string{"--histograms", histMetrics, "--prometheus", "http://localhost:9090"}, "give --histograms or --prometheus, not both"},
		{"window without prometheus", []string{"--histograms", histMetrics, "--histogram-window", "1h"}, "--histogram-window needs --prometheus"},
		{"bad window", []string{"--prometheus", "http://localhost:9090", "--histogram-window", "soon"}, `--histogram-window "soon" is not a positive Prometheus duration`},
		{"bad url", []string{"--prometheus", "localhost:9090"}, "--prometheus: prometheus address \"localhost:9090\": want an http(s) URL"},
		{"missing file", []string{"--histograms", "testdata/nope.txt"}, "--histograms: open testdata/nope.txt"},
		{"bad file", []string{"--histograms", bad}, "--histograms: " + bad + `:3: expected float as value, got "many"`},
		{"unreachable server", []string{"--prometheus", "http://127.0.0.1:1"}, "emac: latencyHistogram http_request_duration_seconds{service=\"cart\",code!~\"5..\"}: prometheus http://127.0.0.1:1: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errs, code := run(t, "", append(append([]string{"check"}, tc.args...), histSpec)...)
			if code != ExitError || !strings.Contains(errs, tc.err) {
				t.Errorf("got exit %d, stderr:\n%s\nwant exit 1 and %q", code, errs, tc.err)
			}
		})
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
