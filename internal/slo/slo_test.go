package slo

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/emac-dev/emac/internal/diag"
)

const (
	w    = "[{{.window}}]"
	days = 24 * time.Hour
)

// TestReadFiles reads real SLO files (copied under testdata with their
// LICENSE and SOURCE) and checks every field read.
func TestReadFiles(t *testing.T) {
	sloth := func(line, col int, name, service string, target float64, bad, total string) Objective {
		return Objective{Name: name, Service: service, Format: FormatSloth, Target: target, Window: 30 * days, Bad: bad, Total: total, Line: line, Column: col}
	}
	slothCRD := func(line, col int, name, service string, target float64, bad, total string) Objective {
		o := sloth(line, col, name, service, target, bad, total)
		o.Format = FormatSlothCRD
		return o
	}
	const (
		httpErrors = `sum(rate(http_request_duration_seconds_count{job="myservice",code=~"(5..|429)"}[{{.window}}]))`
		httpTotal  = `sum(rate(http_request_duration_seconds_count{job="myservice"}[{{.window}}]))`
	)
	tests := []struct {
		file string
		want []Objective
	}{
		{"emac-paper/checkout/atomic/openslo/slo.paya.availability.yaml", []Objective{{
			Name: "slo.paya.availability", Service: "paya", Format: FormatOpenSLOv1, Target: 0.995, Window: 30 * days,
			Good:  `sum(increase(payment_requests_total{provider="paya",result="success"}[30d]))`,
			Total: `sum(increase(payment_requests_total{provider="paya"}[30d]))`,
			Line:  2, Column: 1,
		}}},
		{"emac-paper/checkout/atomic/openslo/slo.front.availability.yaml", []Objective{{
			Name: "slo.front.availability", Service: "front", Format: FormatOpenSLOv1, Target: 0.9995, Window: 30 * days,
			Good:  `sum(increase(http_requests_total{service="front",code=~"2..|3.."}[30d]))`,
			Total: `sum(increase(http_requests_total{service="front"}[30d]))`,
			Line:  2, Column: 1,
		}}},
		{"emac-paper/checkout/atomic/openslo/datasource.prometheus.yaml", nil},
		// Two objectives: the first is used. "1m" is one minute in OpenSLO's
		// duration shorthand (a month is 1M), whatever the file's comment says.
		{"openslo/budgeting-method/timeslices-slo.yaml", []Objective{{
			Name: "service-availability", Service: "web-availability", Format: FormatOpenSLOv1, Target: 0.995, Window: time.Minute,
			Good: "Any", Total: "Any", Line: 3, Column: 1,
		}}},
		{"openslo/budgeting-method/ratio-timeslices.yaml", []Objective{{
			Name: "main-page", Service: "web-shop", Format: FormatOpenSLOv1, Target: 0.99, Window: 14 * days,
			Good: "Any", Total: "Any", Line: 3, Column: 1,
		}}},
		// A threshold SLO whose query ("Any") does not tell the unit of
		// value: 500: the latency threshold stays unknown.
		{"openslo/budgeting-method/occurences-slo.yaml", []Objective{{
			Name: "search-slo", Service: "web-shop", Format: FormatOpenSLOv1, Target: 0.99, Window: 14 * days,
			Line: 3, Column: 1,
		}}},
		{"sloth/getting-started.yml", []Objective{sloth(9, 5, "requests-availability", "myservice", 0.999, httpErrors, httpTotal)}},
		{"sloth/k8s-getting-started.yml", []Objective{slothCRD(18, 7, "requests-availability", "myservice", 0.999, httpErrors, httpTotal)}},
		{"sloth/k8s-multifile.yml", []Objective{
			slothCRD(19, 7, "requests-availability", "myservice", 0.999, httpErrors, httpTotal),
			slothCRD(53, 7, "requests-availability", "myservice2", 0.9999, httpErrors, httpTotal),
		}},
		{"sloth/kubernetes-apiserver.yml", []Objective{
			sloth(26, 5, "requests-availability", "k8s-apiserver", 0.999,
				`sum(rate(apiserver_request_total{code=~"(5..|429)"}[{{.window}}]))`,
				`sum(rate(apiserver_request_total[{{.window}}]))`),
			sloth(48, 5, "requests-latency", "k8s-apiserver", 0.99,
				"(\n  sum(rate(apiserver_request_duration_seconds_count{verb!=\"WATCH\"}[{{.window}}]))\n  -\n  sum(rate(apiserver_request_duration_seconds_bucket{le=\"0.4\",verb!=\"WATCH\"}[{{.window}}]))\n)",
				`sum(rate(apiserver_request_duration_seconds_count{verb!="WATCH"}[{{.window}}]))`),
		}},
		// A raw SLI is a precomputed error ratio: Bad, with no Total.
		{"sloth/raw-home-wifi.yml", []Objective{sloth(22, 5, "wifi-client-satisfaction", "home-wifi", 0.95,
			"1 - (\n  sum(sum_over_time(unifipoller_client_satisfaction_ratio[{{.window}}]))\n  /\n  sum(count_over_time(unifipoller_client_satisfaction_ratio[{{.window}}]))\n)", "")}},
		// A plugin SLI has no queries.
		{"sloth/plugin-getting-started.yml", []Objective{sloth(9, 5, "requests-availability", "myservice", 0.999, "", "")}},
		{"sloth/openslo-kubernetes-apiserver.yml", []Objective{
			{
				Name: "requests-availability-openslo", Service: "k8s-apiserver", Format: FormatOpenSLOv1alpha, Target: 0.999, Window: 30 * days,
				Good:  `sum(rate(apiserver_request_total{code!~"(5..|429)"}[{{.window}}]))`,
				Total: `sum(rate(apiserver_request_total[{{.window}}]))`,
				Line:  9, Column: 1,
			},
			{
				Name: "requests-latency-openslo", Service: "k8s-apiserver", Format: FormatOpenSLOv1alpha, Target: 0.99, Window: 30 * days,
				Good:  `sum(rate(apiserver_request_duration_seconds_bucket{le="0.4",verb!="WATCH"}[{{.window}}]))`,
				Total: `sum(rate(apiserver_request_duration_seconds_count{verb!="WATCH"}[{{.window}}]))`,
				Line:  35, Column: 1,
			},
		}},
		{"sloth/windows/7d.yaml", nil},          // AlertWindows: not an SLO
		{"sloth/_gen/getting-started.yml", nil}, // Prometheus rules
		{"pyrra/kubernetes/manifests/pyrra-apiDeployment.yaml", nil},
		{"pyrra/nginx.yaml", []Objective{
			{
				Name: "nginx-api-errors", Format: FormatPyrra, Target: 0.999, Window: 28 * days,
				Bad:   `sum(rate(nginx_ingress_controller_requests{namespace="lastfm",ingress="lastfm",service="lastfm",status=~"5.."}` + w + `))`,
				Total: `sum(rate(nginx_ingress_controller_requests{namespace="lastfm",ingress="lastfm",service="lastfm"}` + w + `))`,
				Line:  2, Column: 1,
			},
			{
				Name: "nginx-api-latency", Format: FormatPyrra, Target: 0.9, Window: 28 * days,
				Good:             `sum(rate(nginx_ingress_controller_request_duration_seconds_bucket{namespace="lastfm",ingress="lastfm",service="lastfm",status=~"5..",le="1"}` + w + `))`,
				Total:            `sum(rate(nginx_ingress_controller_request_duration_seconds_count{namespace="lastfm",ingress="lastfm",service="lastfm"}` + w + `))`,
				LatencyThreshold: time.Second,
				Line:             21, Column: 1,
			},
		}},
		{"pyrra/caddy-response-latency.yaml", []Objective{{
			Name: "caddy-response-latency", Format: FormatPyrra, Target: 0.9, Window: 28 * days,
			Good:             `sum(rate(caddy_http_response_duration_seconds_bucket{job="caddy",handler="subroute",code!~"5..",le="0.05"}` + w + `))`,
			Total:            `sum(rate(caddy_http_response_duration_seconds_count{job="caddy",handler="subroute",code!~"5.."}` + w + `))`,
			LatencyThreshold: 50 * time.Millisecond,
			Line:             2, Column: 1,
		}}},
		{"pyrra/pyrra-connect-latency.yaml", []Objective{{
			Name: "pyrra-connect-latency", Format: FormatPyrra, Target: 0.99, Window: 14 * days,
			Good:             `histogram_fraction(0, 0.2, sum(rate(connect_server_requests_duration_seconds{job="pyrra",code="ok"}` + w + `))) * histogram_count(sum(rate(connect_server_requests_duration_seconds{job="pyrra",code="ok"}` + w + `)))`,
			Total:            `histogram_count(sum(rate(connect_server_requests_duration_seconds{job="pyrra",code="ok"}` + w + `)))`,
			LatencyThreshold: 200 * time.Millisecond,
			Line:             2, Column: 1,
		}}},
		{"pyrra/prometheus-probe-success.yaml", []Objective{{
			Name: "prometheus-blackbox-probe-success", Format: FormatPyrra, Target: 0.99, Window: 7 * days,
			Good:  "sum(sum_over_time(probe_success" + w + "))",
			Total: "sum(count_over_time(probe_success" + w + "))",
			Line:  2, Column: 1,
		}}},
		{"pyrra/prometheus-http.yaml", []Objective{{
			Name: "prometheus-api-query", Format: FormatPyrra, Target: 0.99, Window: 7 * days,
			Bad:   `sum(rate(prometheus_http_requests_total{handler=~"/api.*",code=~"5.."}` + w + `))`,
			Total: `sum(rate(prometheus_http_requests_total{handler=~"/api.*"}` + w + `))`,
			Line:  2, Column: 1,
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			name := filepath.Join("testdata", tt.file)
			data, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			for i := range tt.want {
				tt.want[i].Filename = name
			}
			got, ds := Read(name, data)
			if len(ds) > 0 {
				t.Errorf("Read(%s) diagnostics:\n%v", tt.file, ds.Err())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Read(%s) mismatch (-want +got):\n%s", tt.file, diff)
			}
		})
	}
}

// TestRead covers what the real files do not: indicatorRef, targetPercent,
// raw ratios, threshold units, list forms, merge keys, skipped documents.
func TestRead(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Objective
	}{
		{
			name: "indicatorRef to a kind SLI later in the file",
			in: `apiVersion: openslo/v1
kind: SLO
metadata: {name: checkout}
spec:
  service: shop
  indicatorRef: checkout-errors
  timeWindow: [{duration: 1M, isRolling: false}]
  objectives: [{targetPercent: 99.5}]
---
apiVersion: openslo/v1
kind: SLI
metadata: {name: checkout-errors}
spec:
  ratioMetric:
    counter: true
    bad: {metricSource: {type: Prometheus, spec: {query: 'sum(rate(errors_total[5m]))'}}}
    total: {metricSource: {type: Prometheus, spec: {query: 'sum(rate(requests_total[5m]))'}}}
`,
			want: []Objective{{Name: "checkout", Service: "shop", Format: FormatOpenSLOv1, Target: 0.995, Window: 30 * days,
				Bad: "sum(rate(errors_total[5m]))", Total: "sum(rate(requests_total[5m]))", Line: 2, Column: 1}},
		},
		{
			name: "indicatorRef to an SLI in another file",
			in: `apiVersion: openslo/v1
kind: SLO
metadata: {name: checkout}
spec:
  indicatorRef: elsewhere
  objectives: [{target: 0.99}]
`,
			want: []Objective{{Name: "checkout", Format: FormatOpenSLOv1, Target: 0.99, Line: 2, Column: 1}},
		},
		{
			name: "raw ratio of successes and failures",
			in: `apiVersion: openslo/v1
kind: SLO
metadata: {name: up}
spec:
  indicator:
    metadata: {name: up}
    spec:
      ratioMetric:
        rawType: success
        raw: {metricSource: {spec: {query: 'avg_over_time(up[1h])'}}}
  objectives: [{target: 0.9}]
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: down}
spec:
  indicator:
    spec:
      ratioMetric:
        rawType: failure
        raw: {metricSource: {spec: {query: '1 - avg_over_time(up[1h])'}}}
  objectives: [{target: 0.9}]
`,
			want: []Objective{
				{Name: "up", Format: FormatOpenSLOv1, Target: 0.9, Good: "avg_over_time(up[1h])", Line: 2, Column: 1},
				{Name: "down", Format: FormatOpenSLOv1, Target: 0.9, Bad: "1 - avg_over_time(up[1h])", Line: 14, Column: 1},
			},
		},
		{
			name: "threshold objective whose metric names its unit",
			in: `apiVersion: openslo/v1
kind: SLO
metadata: {name: search-p99}
spec:
  service: search
  indicator:
    metadata: {name: search-latency}
    spec:
      thresholdMetric:
        metricSource:
          type: Prometheus
          spec:
            query: histogram_quantile(0.99, sum by (le) (rate(search_duration_seconds_bucket{region="us_ms"}[5m])))
  timeWindow: [{duration: 4w, isRolling: true}]
  objectives: [{op: lte, value: 0.25, target: 0.99}]
`,
			want: []Objective{{Name: "search-p99", Service: "search", Format: FormatOpenSLOv1, Target: 0.99, Window: 28 * days,
				LatencyThreshold: 250 * time.Millisecond, Line: 2, Column: 1}},
		},
		{
			name: "threshold objective with op gt is no latency threshold",
			in: `apiVersion: openslo/v1
kind: SLO
metadata: {name: throughput}
spec:
  indicator:
    spec:
      thresholdMetric: {metricSource: {spec: {query: 'rate(request_duration_seconds_count[5m])'}}}
  objectives: [{op: gt, value: 100, target: 0.99}]
`,
			want: []Objective{{Name: "throughput", Format: FormatOpenSLOv1, Target: 0.99, Line: 2, Column: 1}},
		},
		{
			name: "OpenSLO SDK list of objects, v1alpha threshold in Msec",
			in: `- apiVersion: openslo/v1alpha
  kind: SLO
  metadata: {name: web-latency}
  spec:
    service: web
    indicator:
      thresholdMetric: {source: Prometheus, queryType: query, query: 'api_server_requestMsec{host="*",job="nginx"}'}
    timeWindows: [{unit: Week, count: 1, isRolling: false}]
    budgetingMethod: Occurrences
    objectives: [{displayName: Good, value: 200.0, op: lt, target: 0.98}]
- apiVersion: openslo/v1alpha
  kind: Service
  metadata: {name: web}
`,
			want: []Objective{{Name: "web-latency", Service: "web", Format: FormatOpenSLOv1alpha, Target: 0.98, Window: 7 * days,
				LatencyThreshold: 200 * time.Millisecond, Line: 2, Column: 3}},
		},
		{
			name: "Kubernetes List of Pyrra objectives, numeric target, milliseconds histogram",
			in: `apiVersion: v1
kind: List
items:
  - apiVersion: pyrra.dev/v1alpha1
    kind: ServiceLevelObjective
    metadata: {name: api-latency}
    spec:
      target: 99.5
      window: 2w
      indicator:
        latency:
          success: {metric: 'http_request_duration_milliseconds_bucket{job="api",le="250"}'}
          total: {metric: 'http_request_duration_milliseconds_count{job="api"}'}
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: other}
`,
			want: []Objective{{Name: "api-latency", Format: FormatPyrra, Target: 0.995, Window: 14 * days,
				Good:             `sum(rate(http_request_duration_milliseconds_bucket{job="api",le="250"}` + w + `))`,
				Total:            `sum(rate(http_request_duration_milliseconds_count{job="api"}` + w + `))`,
				LatencyThreshold: 250 * time.Millisecond, Line: 5, Column: 5}},
		},
		{
			name: "anchors and merge keys",
			in: `version: prometheus/v1
service: api
x-common: &common
  objective: 99.9
  sli:
    events:
      error_query: sum(rate(errors[{{.window}}]))
      total_query: sum(rate(total[{{.window}}]))
slos:
  - <<: *common
    name: a
  - <<: [*common]
    name: b
    objective: 99
`,
			want: []Objective{
				{Name: "a", Service: "api", Format: FormatSloth, Target: 0.999, Window: 30 * days, Bad: "sum(rate(errors[{{.window}}]))", Total: "sum(rate(total[{{.window}}]))", Line: 10, Column: 5},
				{Name: "b", Service: "api", Format: FormatSloth, Target: 0.99, Window: 30 * days, Bad: "sum(rate(errors[{{.window}}]))", Total: "sum(rate(total[{{.window}}]))", Line: 12, Column: 5},
			},
		},
		{
			name: "documents of other kinds are skipped",
			in: `apiVersion: emac.dev/v1alpha1
kind: Journey
metadata: {name: checkout}
spec: {flow: front}
---
version: "3.8"
services: {web: {image: nginx}}
---
groups:
- name: sloth-slo-sli-recordings
  rules: [{record: 'slo:sli_error:ratio_rate5m', expr: vector(0)}]
---
apiVersion: openslo/v2alpha
kind: SLO
metadata: {name: future}
---
apiVersion: pyrra.dev/v1alpha1
kind: CustomThing
---
# only a comment
---
just a string
---
[1, 2, 3]
`,
		},
		{name: "empty file", in: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range tt.want {
				tt.want[i].Filename = "in.yaml"
			}
			got, ds := Read("in.yaml", []byte(tt.in))
			if len(ds) > 0 {
				t.Errorf("diagnostics:\n%v", ds.Err())
				for _, d := range ds {
					t.Errorf("  %s", d.Error())
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Read mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBad checks the diagnostics of the files under testdata/bad against
// their "# want: line:col: severity: summary" comments, and the names of
// the objectives still read against "# objects: a,b".
func TestBad(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var want, wantObjs []string
			sc := bufio.NewScanner(bytes.NewReader(data))
			for sc.Scan() {
				if s, ok := strings.CutPrefix(sc.Text(), "# want: "); ok {
					want = append(want, s)
				}
				if s, ok := strings.CutPrefix(sc.Text(), "# objects: "); ok {
					wantObjs = strings.Split(s, ",")
				}
			}
			if len(want) == 0 {
				t.Fatal("no # want: comment")
			}
			objs, ds := Read(file, data)
			var got, gotObjs []string
			for _, d := range ds.Sort() {
				if d.Subject == nil || d.Subject.Filename != file {
					t.Errorf("diagnostic %q is not located in %s", d.Summary, file)
					continue
				}
				got = append(got, fmt.Sprintf("%d:%d: %s: %s", d.Subject.Start.Line, d.Subject.Start.Column, d.Severity, d.Summary))
			}
			for _, o := range objs {
				gotObjs = append(gotObjs, o.Name)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("diagnostics mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantObjs, gotObjs); diff != "" {
				t.Errorf("objectives mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDetails checks the "did you mean" and hints of a few diagnostics.
func TestDetails(t *testing.T) {
	tests := []struct {
		file, want string
	}{
		{"sloth-misspelt-field.yaml", `did you mean "objective"?`},
		{"sloth-misspelt-sli.yaml", `did you mean "events"?`},
		{"pyrra-misspelt-indicator.yaml", `did you mean "ratio"?`},
		{"openslo-misspelt-kind.yaml", `did you mean "SLO"?`},
		{"openslo-misspelt-apiversion.yaml", `did you mean "openslo/v1"?`},
		{"openslo-v1alpha-unit.yaml", `did you mean "Day"?`},
		{"openslo-target-percent.yaml", "target is a fraction: write target: 0.999 or targetPercent: 99.9"},
		{"pyrra-fraction-target.yaml", "target is a percentage: did you mean '99.9'?"},
	}
	for _, tt := range tests {
		file := filepath.Join("testdata/bad", tt.file)
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		_, ds := Read(file, data)
		if len(ds) == 0 {
			t.Errorf("%s: no diagnostics", tt.file)
			continue
		}
		if got := ds[0].Detail; got != tt.want {
			t.Errorf("%s: got detail %q, want %q", tt.file, got, tt.want)
		}
	}
}

// TestLimits checks that oversized inputs are refused with a diagnostic.
func TestLimits(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"too many documents", strings.Repeat("a: 1\n---\n", maxDocuments) + "a: 1\n", "error: more than 10000 YAML documents"},
		{"deep block nesting", deepBlock(maxDepth + 5), "error: document nests deeper than 100 levels"},
		{"many plain aliases", "a: &a x\nb: [" + strings.Repeat("*a, ", maxAliases+1) + "]\n", "error: more than 10000 YAML alias expansions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, ds := Read("big.yaml", []byte(tt.in))
			if len(objs) != 0 {
				t.Errorf("got %d objectives, want none", len(objs))
			}
			if len(ds) != 1 || !strings.Contains(ds[0].Error(), tt.want) {
				t.Errorf("got diagnostics %v, want one with %q", ds.Err(), tt.want)
			}
		})
	}
}

// TestLimitsBoundary checks that inputs at the limits still read.
func TestLimitsBoundary(t *testing.T) {
	in := strings.Repeat("a: 1\n---\n", maxDocuments-1) + "a: 1\n"
	if _, ds := Read("many.yaml", []byte(in)); len(ds) != 0 {
		t.Errorf("%d documents: got diagnostics %v", maxDocuments, ds.Err())
	}
	in = "a: &a x\nb: [" + strings.Repeat("*a, ", maxAliases) + "]\n"
	if _, ds := Read("aliases.yaml", []byte(in)); len(ds) != 0 {
		t.Errorf("%d aliases: got diagnostics %v", maxAliases, ds.Err())
	}
	in = deepBlock(maxDepth - 1)
	if _, ds := Read("deep.yaml", []byte(in)); len(ds) != 0 {
		t.Errorf("%d levels: got diagnostics %v", maxDepth, ds.Err())
	}
}

func deepBlock(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%sk:\n", strings.Repeat("  ", i))
	}
	return b.String()
}

func TestFind(t *testing.T) {
	objs := []Objective{
		{Name: "requests-availability", Service: "myservice", Format: FormatSloth},
		{Name: "requests-availability", Service: "myservice2", Format: FormatSlothCRD},
		{Name: "slo.paya.availability", Service: "paya", Format: FormatOpenSLOv1},
		{Name: "api-errors", Service: "", Format: FormatPyrra},
	}
	tests := []struct {
		name    string
		want    int // index into objs, -1 for nil
		comment string
	}{
		{"slo.paya.availability", 2, "exact name"},
		{"requests-availability", 0, "exact name: the first of equals"},
		{"myservice2-requests-availability", 1, "Sloth service-name"},
		{"myservice-requests-availability", 0, "Sloth service-name"},
		{"paya-slo.paya.availability", -1, "service-name is Sloth's only"},
		{"-api-errors", -1, "no service"},
		{"nope", -1, "unknown"},
	}
	for _, tt := range tests {
		got := Find(objs, tt.name)
		var want *Objective
		if tt.want >= 0 {
			want = &objs[tt.want]
		}
		if got != want {
			t.Errorf("Find(%q) (%s) = %v, want %v", tt.name, tt.comment, got, want)
		}
	}
	if Find(nil, "x") != nil {
		t.Error("Find(nil) is not nil")
	}
}

// TestSharedData reads every SLO example of the shared data: all must read
// without errors; Sloth's generated Prometheus rules (_gen/) must be
// skipped quietly.
func TestSharedData(t *testing.T) {
	roots := []string{"/work/shared/data/slo", "/work/shared/data/emac-paper/examples/checkout/atomic"}
	if _, err := os.Stat(roots[0]); err != nil {
		t.Skip("shared data not available:", err)
	}
	total := 0
	for _, root := range roots {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			objs, ds := Read(p, data)
			if len(ds) > 0 {
				t.Errorf("%s: unexpected diagnostics:\n%v", p, ds.Err())
			}
			gen := strings.Contains(filepath.ToSlash(p), "/_gen/")
			if gen && len(objs) > 0 {
				t.Errorf("%s: generated rules read as %d SLOs", p, len(objs))
			}
			for _, o := range objs {
				if !(o.Target > 0 && o.Target < 1) || o.Window < 0 || o.Name == "" {
					t.Errorf("%s:%d:%d: bad objective %+v", p, o.Line, o.Column, o)
				}
			}
			total += len(objs)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if total < 60 {
		t.Errorf("read %d SLOs from the shared data, want at least 60", total)
	}
}

func TestParseWindow(t *testing.T) {
	tests := []struct {
		in      string
		openSLO bool
		want    time.Duration
		wantErr bool
	}{
		{"30d", true, 30 * days, false},
		{"4w", true, 28 * days, false},
		{"1m", true, time.Minute, false},
		{"1M", true, 30 * days, false},
		{"1Q", true, 90 * days, false},
		{"1Y", true, 365 * days, false},
		{"12h", true, 12 * time.Hour, false},
		{"1h30m", true, 90 * time.Minute, false},
		{"0d", true, 0, true},
		{"30 days", true, 0, true},
		{"99999999999999999999Y", true, 0, true},
		{"2w", false, 14 * days, false},
		{"7d", false, 7 * days, false},
		{"1M", false, 0, true},
		{"0", false, 0, true},
		{"", false, 0, true},
	}
	for _, tt := range tests {
		got, err := parseWindow(tt.in, tt.openSLO)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("parseWindow(%q, %v) = %v, %v; want %v, error %v", tt.in, tt.openSLO, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestLabelValue(t *testing.T) {
	tests := []struct {
		sel, want string
		ok, err   bool
	}{
		{`foo_bucket{le="0.05"}`, "0.05", true, false},
		{`foo_bucket{job="a,le=\"9\"", le = '1'}`, "1", true, false},
		{`foo_bucket{le=~"0.5"}`, "", false, false},
		{`{"foo.bucket", le="2"}`, "2", true, false},
		{`foo_bucket`, "", false, false},
		{`foo_bucket{job="x"}`, "", false, false},
		{`foo_bucket{job="x"`, "", false, true},
		{`foo_bucket{le=0.5}`, "", false, true},
		{`foo_bucket{le="0.5`, "", false, true},
	}
	for _, tt := range tests {
		got, ok, err := labelValue(tt.sel, "le")
		if got != tt.want || ok != tt.ok || (err != nil) != tt.err {
			t.Errorf("labelValue(%s) = %q, %v, %v; want %q, %v, error %v", tt.sel, got, ok, err, tt.want, tt.ok, tt.err)
		}
	}
}

func TestUnitOf(t *testing.T) {
	tests := []struct {
		query string
		want  time.Duration
	}{
		{`histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))`, time.Second},
		{`avg(latency_ms{service="a"})`, time.Millisecond},
		{`api_server_requestMsec{host="*"}`, time.Millisecond},
		{`max(rpc_durationMicros)`, time.Microsecond},
		{`avg(latency{unit="seconds"})`, 0}, // label values do not count
		{`a_seconds + b_milliseconds`, 0},   // ambiguous
		{`Any`, 0},
		{``, 0},
	}
	for _, tt := range tests {
		if got := unitOf(tt.query); got != tt.want {
			t.Errorf("unitOf(%s) = %v, want %v", tt.query, got, tt.want)
		}
	}
}

// TestDiagnosticsRender checks that diagnostics render as file:line:col.
func TestDiagnosticsRender(t *testing.T) {
	in := "version: prometheus/v1\nservice: s\nslos:\n  - name: a\n    objective: 99.9\n    sli: {}\n"
	_, ds := Read("s.yaml", []byte(in))
	var b strings.Builder
	if err := diag.Render(&b, ds, diag.Sources{"s.yaml": []byte(in)}); err != nil {
		t.Fatal(err)
	}
	want := "s.yaml:6:5: error: sli has none of events, raw and plugin\n" +
		" 6 |     sli: {}\n" +
		"   |     ^^^\n"
	if got := b.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
