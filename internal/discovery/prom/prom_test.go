package prom_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/discovery"
	"github.com/emac-dev/emac/internal/discovery/otlp"
	"github.com/emac-dev/emac/internal/discovery/prom"
	"github.com/emac-dev/emac/internal/gen"
	"github.com/emac-dev/emac/internal/model"
	"github.com/emac-dev/emac/internal/promapi"
	"github.com/emac-dev/emac/internal/promtest"
	"github.com/emac-dev/emac/internal/sim/trace"
)

// text writes families in Prometheus's text exposition format, as the
// collector's prometheus exporter serves them.
func text(w io.Writer, fams []discovery.Family) {
	labels := func(ls []discovery.Label, extra ...string) string {
		var parts []string
		for _, l := range ls {
			parts = append(parts, fmt.Sprintf("%s=%q", l.Name, l.Value))
		}
		for i := 0; i+1 < len(extra); i += 2 {
			parts = append(parts, fmt.Sprintf("%s=%q", extra[i], extra[i+1]))
		}
		if len(parts) == 0 {
			return ""
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	for _, f := range fams {
		typ := map[discovery.MetricType]string{discovery.Counter: "counter", discovery.Gauge: "gauge", discovery.Histogram: "histogram"}[f.Type]
		fmt.Fprintf(w, "# TYPE %s %s\n", f.Name, typ)
		for _, s := range f.Series {
			if f.Type != discovery.Histogram {
				fmt.Fprintf(w, "%s%s %v\n", f.Name, labels(s.Labels), s.Value)
				continue
			}
			var cum uint64
			for i, c := range s.Counts {
				cum += c
				le := "+Inf"
				if i < len(s.Bounds) {
					le = fmt.Sprint(s.Bounds[i])
				}
				fmt.Fprintf(w, "%s_bucket%s %d\n", f.Name, labels(s.Labels, "le", le), cum)
			}
			fmt.Fprintf(w, "%s_sum%s %v\n%s_count%s %d\n", f.Name, labels(s.Labels), s.Sum, f.Name, labels(s.Labels), cum)
		}
	}
}

// router gives each trace's spans to one of several sinks by its id, as
// the collector's load-balancing exporter routes them.
type router []discovery.Sink

func (r router) Span(s *discovery.Span) error {
	h := fnv.New32a()
	h.Write([]byte(s.TraceID))
	return r[int(h.Sum32())%len(r)].Span(s)
}

func (r router) Problem(p discovery.Problem) { r[0].Problem(p) }

func journey(t *testing.T, flow string) (*model.Journey, *trace.TracesData) {
	t.Helper()
	j, err := gen.Traceable(flow)
	if err != nil {
		t.Fatal(err)
	}
	td, err := trace.Generate(context.Background(), j, trace.Options{Count: 2000, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	return j, td
}

func feed(t *testing.T, td *trace.TracesData, sink discovery.Sink) {
	t.Helper()
	b, err := td.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if err := otlp.ReadJSON(context.Background(), "traces.json", bytes.NewReader(b), sink); err != nil {
		t.Fatal(err)
	}
}

// TestRead: two collectors' connectors, each given the traces the
// load-balancing exporter would route to it, are scraped by a real
// Prometheus; the model read back from it equals file discovery of the
// same traces (latency summaries and the window aside).
func TestRead(t *testing.T) {
	if testing.Short() {
		t.Skip("starts prometheus")
	}
	_, td := journey(t, "Series(a, Fallback(b, c), Retry[attempts=3, perTryTimeout=200ms](d), Branch(0.3: e, 0.7: f))")
	a := discovery.NewAssembler(discovery.Options{})
	feed(t, td, a)
	want := a.Close().Model(nil)

	r1 := discovery.NewRecorder(discovery.Options{}, discovery.Limits{})
	r2 := discovery.NewRecorder(discovery.Options{}, discovery.Limits{})
	feed(t, td, router{r1, r2})
	later := time.Now().Add(time.Hour).UnixNano() // every trace idle
	var hosts []string
	for _, r := range []*discovery.Recorder{r1, r2} {
		var b bytes.Buffer
		text(&b, r.Families(later))
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(b.Bytes()) }))
		defer srv.Close()
		hosts = append(hosts, strings.TrimPrefix(srv.URL, "http://"))
	}
	s := promtest.Start(t, promtest.Options{Targets: hosts, ScrapeInterval: 500 * time.Millisecond})
	c, err := promapi.New(s.URL, nil, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	res := waitRead(t, c, func(res *prom.Result) bool { return res.Evidence.Traces == 2000 })
	if res.Source != prom.SourceConnector {
		t.Errorf("source %q, want %q", res.Source, prom.SourceConnector)
	}
	got := res.Evidence.Model(nil)
	ignore := cmp.FilterPath(func(p cmp.Path) bool {
		switch p.Last().String() {
		case ".Latency", ".Window":
			return true
		}
		return false
	}, cmp.Ignore())
	if d := cmp.Diff(want, got, ignore); d != "" {
		t.Errorf("the model read from Prometheus differs (-files +prometheus):\n%s", d)
	}
	// latency summaries: within the exported buckets' half-width
	for i, e := range want.Edges {
		if i < len(got.Edges) && e.Latency != nil && got.Edges[i].Latency != nil {
			if r := float64(got.Edges[i].Latency.P50) / float64(e.Latency.P50); math.Abs(math.Log(r)) > math.Log(math.Sqrt2)+0.01 {
				t.Errorf("edge %s→%s: p50 %v read back as %v", e.From, e.To, e.Latency.P50, got.Edges[i].Latency.P50)
			}
		}
	}
}

// waitRead reads until done says the evidence is all there (the first
// scrapes come some seconds after Prometheus starts).
func waitRead(t *testing.T, c *promapi.Client, done func(*prom.Result) bool) *prom.Result {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := prom.Read(context.Background(), c, prom.Options{})
		switch {
		case err == nil && done(res):
			return res
		case err != nil && !errors.Is(err, prom.ErrNoEvidence):
			t.Fatal(err)
		case time.Now().After(deadline):
			t.Fatalf("no complete evidence after 60s: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestReadServiceGraph: where only the servicegraph and spanmetrics
// connectors' metrics exist, their edges, counts and operations are read,
// no flow is made up, and the model says why its confidence is 0.
func TestReadServiceGraph(t *testing.T) {
	if testing.Short() {
		t.Skip("starts prometheus")
	}
	const metrics = `# TYPE traces_service_graph_request_total counter
traces_service_graph_request_total{client="frontend",connection_type="",server="cart"} 120
traces_service_graph_request_total{client="frontend",connection_type="",server="catalog"} 300
# TYPE traces_service_graph_request_failed_total counter
traces_service_graph_request_failed_total{client="frontend",connection_type="",server="cart"} 6
# TYPE traces_service_graph_request_server_seconds histogram
traces_service_graph_request_server_seconds_bucket{client="frontend",connection_type="",server="cart",le="0.01"} 20
traces_service_graph_request_server_seconds_bucket{client="frontend",connection_type="",server="cart",le="0.1"} 110
traces_service_graph_request_server_seconds_bucket{client="frontend",connection_type="",server="cart",le="+Inf"} 120
traces_service_graph_request_server_seconds_sum{client="frontend",connection_type="",server="cart"} 4.2
traces_service_graph_request_server_seconds_count{client="frontend",connection_type="",server="cart"} 120
# TYPE traces_span_metrics_calls_total counter
traces_span_metrics_calls_total{service_name="frontend",span_name="GET /checkout",span_kind="SPAN_KIND_SERVER",status_code="STATUS_CODE_UNSET"} 95
traces_span_metrics_calls_total{service_name="frontend",span_name="GET /checkout",span_kind="SPAN_KIND_SERVER",status_code="STATUS_CODE_ERROR"} 5
traces_span_metrics_calls_total{service_name="frontend",span_name="cart.Get",span_kind="SPAN_KIND_CLIENT",status_code="STATUS_CODE_UNSET"} 120
`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, metrics) }))
	defer srv.Close()
	s := promtest.Start(t, promtest.Options{Targets: []string{strings.TrimPrefix(srv.URL, "http://")}, ScrapeInterval: 500 * time.Millisecond})
	c, err := promapi.New(s.URL, nil, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	res := waitRead(t, c, func(res *prom.Result) bool { return res.Evidence.Spans == 220 })
	if res.Source != prom.SourceServiceGraph || res.Basis == "" {
		t.Errorf("source %q basis %q, want %q with a basis", res.Source, res.Basis, prom.SourceServiceGraph)
	}
	m := res.Evidence.Model(nil)
	var edges []string
	for _, e := range m.Edges {
		edges = append(edges, fmt.Sprintf("%s→%s %d calls %d errors", e.From, e.To, e.Calls, e.Errors))
	}
	if d := cmp.Diff([]string{"frontend→cart 120 calls 6 errors", "frontend→catalog 300 calls 0 errors"}, edges); d != "" {
		t.Errorf("edges (-want +got):\n%s", d)
	}
	if len(m.Flows) != 0 {
		t.Errorf("flows made up from counts: %+v", m.Flows)
	}
	if e := m.Edges[0]; e.Latency == nil || e.Latency.P50 < v1alpha1.Duration(10*time.Millisecond) || e.Latency.P50 > v1alpha1.Duration(100*time.Millisecond) {
		t.Errorf("frontend→cart p50 %+v, want within the 10–100ms bucket", e.Latency)
	}
}

// TestReadNone: a server with neither source says so.
func TestReadNone(t *testing.T) {
	if testing.Short() {
		t.Skip("starts prometheus")
	}
	s := promtest.Start(t, promtest.Options{})
	c, err := promapi.New(s.URL, nil, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, err = prom.Read(context.Background(), c, prom.Options{})
	if !errors.Is(err, prom.ErrNoEvidence) || !strings.Contains(err.Error(), discovery.FamTraces) {
		t.Errorf("got %v, want ErrNoEvidence naming %s", err, discovery.FamTraces)
	}
}
