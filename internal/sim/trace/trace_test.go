package trace

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/emac-dev/emac/internal/model"
	"github.com/emac-dev/emac/internal/sim"
	"github.com/emac-dev/emac/internal/spec"
)

var update = flag.Bool("update", false, "rewrite golden files")

const ms = time.Millisecond

// comp is a test component: availability, a fixed success latency and a
// failure latency (0: unstated).
type comp struct {
	a          float64
	took, fail time.Duration
}

// journey builds a journey named j whose components take fixed times.
func journey(t testing.TB, flow string, comps map[string]comp, domains map[string][]string) *model.Journey {
	t.Helper()
	avail := map[string]float64{}
	for n, c := range comps {
		avail[n] = c.a
	}
	j, err := model.Build("j", flow, avail, domains)
	if err != nil {
		t.Fatal(err)
	}
	for n, c := range comps {
		if jc := j.Components[n]; jc != nil && c.took > 0 {
			jc.Latency = []model.LatencyPoint{{Quantile: 0.1, Value: c.took}, {Quantile: 0.9, Value: c.took}}
			jc.FailureLatency = c.fail
		}
	}
	return j
}

func generate(t testing.TB, j *model.Journey, opts Options) *TracesData {
	t.Helper()
	td, err := Generate(context.Background(), j, opts)
	if err != nil {
		t.Fatal(err)
	}
	return td
}

// placed is a span with its resource's service.
type placed struct {
	Span
	service string
}

// spans lists the spans with their services, in the order written.
func spans(td *TracesData) []placed {
	var out []placed
	for _, rs := range td.ResourceSpans {
		v, _ := rs.Resource.Attr("service.name")
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				out = append(out, placed{Span: s, service: *v.StringValue})
			}
		}
	}
	return out
}

var kinds = map[SpanKind]string{KindServer: "SERVER", KindClient: "CLIENT", KindProducer: "PRODUCER", KindConsumer: "CONSUMER"}

// lines describes each trace's spans, one per line, trace by trace (in
// the order of their first spans) and depth first, children in start
// order: "service KIND name ← parent [start, end]ms status attrs", times
// from the execution's start, the parent by name ("-" for none,
// "link:name" for a linked span).
func lines(td *TracesData) []string {
	all := spans(td)
	byID := map[string]placed{}
	kids := map[string][]placed{}
	var roots []placed
	for _, s := range all {
		byID[s.SpanID] = s
		if s.ParentSpanID == "" {
			roots = append(roots, s)
		} else {
			kids[s.ParentSpanID] = append(kids[s.ParentSpanID], s)
		}
	}
	// the execution's start: its root's, or the producer's trace's
	origin := func(s placed) uint64 {
		for len(s.Links) > 0 {
			s = byID[s.Links[0].SpanID]
			for s.ParentSpanID != "" {
				s = byID[s.ParentSpanID]
			}
		}
		return s.StartTimeUnixNano
	}
	var out []string
	var walk func(s placed, base uint64)
	walk = func(s placed, base uint64) {
		parent := "-"
		if p, ok := byID[s.ParentSpanID]; ok {
			parent = p.Name
		}
		if len(s.Links) > 0 {
			parent = "link:" + byID[s.Links[0].SpanID].Name
		}
		st := "ok"
		if s.Status.Code == StatusError {
			st = strings.TrimSpace("error " + s.Status.Message)
		}
		line := fmt.Sprintf("%s %s %s ← %s [%g, %g]ms %s", s.service, kinds[s.Kind], s.Name, parent,
			float64(s.StartTimeUnixNano-base)/1e6, float64(s.EndTimeUnixNano-base)/1e6, st)
		for _, k := range []string{"http.request.resend_count", "http.response.status_code", "error.type"} {
			if v, ok := s.Attr(k); ok {
				line += fmt.Sprintf(" %s=%s", k, value(v))
			}
		}
		out = append(out, line)
		ks := kids[s.SpanID]
		sort.SliceStable(ks, func(i, j int) bool { return ks[i].StartTimeUnixNano < ks[j].StartTimeUnixNano })
		for _, k := range ks {
			walk(k, base)
		}
	}
	for _, r := range roots {
		walk(r, origin(r))
	}
	return out
}

func value(v AnyValue) string {
	switch {
	case v.StringValue != nil:
		return *v.StringValue
	case v.IntValue != nil:
		return fmt.Sprint(*v.IntValue)
	case v.BoolValue != nil:
		return fmt.Sprint(*v.BoolValue)
	}
	return "?"
}

// TestOperators holds what each operator looks like in the traces, on
// journeys whose components always succeed (1) or fail (0) in fixed
// times, so each execution is known.
func TestOperators(t *testing.T) {
	tests := []struct {
		name  string
		flow  string
		comps map[string]comp
		want  []string
	}{
		{"seq: consecutive children", "Seq(a, b)", map[string]comp{"a": {1, 10 * ms, 0}, "b": {1, 20 * ms, 0}}, []string{
			"j SERVER j ← - [0, 30]ms ok http.response.status_code=200",
			"j CLIENT a ← j [0, 10]ms ok http.response.status_code=200",
			"a SERVER a ← a [0, 10]ms ok http.response.status_code=200",
			"j CLIENT b ← j [10, 30]ms ok http.response.status_code=200",
			"b SERVER b ← b [10, 30]ms ok http.response.status_code=200",
		}},
		{"all: parallel children", "All(a, b)", map[string]comp{"a": {1, 10 * ms, 0}, "b": {0, 20 * ms, 0}}, []string{
			"j SERVER j ← - [0, 20]ms error http.response.status_code=500 error.type=500",
			"j CLIENT a ← j [0, 10]ms ok http.response.status_code=200",
			"a SERVER a ← a [0, 10]ms ok http.response.status_code=200",
			"j CLIENT b ← j [0, 20]ms error http.response.status_code=503 error.type=503",
			"b SERVER b ← b [0, 20]ms error http.response.status_code=503 error.type=503",
		}},
		{"race: the hedge wins, the first is cancelled", "Race[hedgeAfter=50ms](a, b)", map[string]comp{"a": {1, 100 * ms, 0}, "b": {1, 20 * ms, 0}}, []string{
			"j SERVER j ← - [0, 70]ms ok http.response.status_code=200",
			"j CLIENT a ← j [0, 70]ms error cancelled error.type=cancelled",
			"a SERVER a ← a [0, 70]ms error cancelled error.type=cancelled",
			"j CLIENT b ← j [50, 70]ms ok http.response.status_code=200",
			"b SERVER b ← b [50, 70]ms ok http.response.status_code=200",
		}},
		{"race: won before the hedge", "Race[hedgeAfter=50ms](a, b)", map[string]comp{"a": {1, 30 * ms, 0}, "b": {1, 20 * ms, 0}}, []string{
			"j SERVER j ← - [0, 30]ms ok http.response.status_code=200",
			"j CLIENT a ← j [0, 30]ms ok http.response.status_code=200",
			"a SERVER a ← a [0, 30]ms ok http.response.status_code=200",
		}},
		{"fallback: after an error", "Fallback(a, b)", map[string]comp{"a": {0, 10 * ms, 5 * ms}, "b": {1, 20 * ms, 0}}, []string{
			"j SERVER j ← - [0, 25]ms ok http.response.status_code=200",
			"j CLIENT a ← j [0, 5]ms error http.response.status_code=503 error.type=503",
			"a SERVER a ← a [0, 5]ms error http.response.status_code=503 error.type=503",
			"j CLIENT b ← j [5, 25]ms ok http.response.status_code=200",
			"b SERVER b ← b [5, 25]ms ok http.response.status_code=200",
		}},
		{"quorum: the slowest is cancelled", "Quorum[k=2](a, b, c)", map[string]comp{"a": {1, 10 * ms, 0}, "b": {1, 30 * ms, 0}, "c": {1, 20 * ms, 0}}, []string{
			"j SERVER j ← - [0, 20]ms ok http.response.status_code=200",
			"j CLIENT a ← j [0, 10]ms ok http.response.status_code=200",
			"a SERVER a ← a [0, 10]ms ok http.response.status_code=200",
			"j CLIENT b ← j [0, 20]ms error cancelled error.type=cancelled",
			"b SERVER b ← b [0, 20]ms error cancelled error.type=cancelled",
			"j CLIENT c ← j [0, 20]ms ok http.response.status_code=200",
			"c SERVER c ← c [0, 20]ms ok http.response.status_code=200",
		}},
		{"retry: attempts cut at the per-try deadline", "Retry[attempts=3, perTryTimeout=50ms, backoff=10ms](a)", map[string]comp{"a": {1, 100 * ms, 0}}, []string{
			"j SERVER j ← - [0, 170]ms error http.response.status_code=500 error.type=500",
			"j CLIENT a ← j [0, 50]ms error deadline exceeded error.type=timeout",
			"a SERVER a ← a [0, 50]ms error deadline exceeded error.type=timeout",
			"j CLIENT a ← j [60, 110]ms error deadline exceeded http.request.resend_count=1 error.type=timeout",
			"a SERVER a ← a [60, 110]ms error deadline exceeded error.type=timeout",
			"j CLIENT a ← j [120, 170]ms error deadline exceeded http.request.resend_count=2 error.type=timeout",
			"a SERVER a ← a [120, 170]ms error deadline exceeded error.type=timeout",
		}},
		{"timeout: cut at the deadline", "Timeout[after=50ms](Seq(a, b, c))", map[string]comp{"a": {1, 30 * ms, 0}, "b": {1, 30 * ms, 0}, "c": {1, 1 * ms, 0}}, []string{
			"j SERVER j ← - [0, 50]ms error deadline exceeded http.response.status_code=504 error.type=timeout",
			"j CLIENT a ← j [0, 30]ms ok http.response.status_code=200",
			"a SERVER a ← a [0, 30]ms ok http.response.status_code=200",
			"j CLIENT b ← j [30, 50]ms error deadline exceeded error.type=timeout",
			"b SERVER b ← b [30, 50]ms error deadline exceeded error.type=timeout",
		}},
		{"optional: a failure does not fail the journey", "Seq(Optional(a), b)", map[string]comp{"a": {0, 10 * ms, 5 * ms}, "b": {1, 20 * ms, 0}}, []string{
			"j SERVER j ← - [0, 25]ms ok http.response.status_code=200",
			"j CLIENT a ← j [0, 5]ms error http.response.status_code=503 error.type=503",
			"a SERVER a ← a [0, 5]ms error http.response.status_code=503 error.type=503",
			"j CLIENT b ← j [5, 25]ms ok http.response.status_code=200",
			"b SERVER b ← b [5, 25]ms ok http.response.status_code=200",
		}},
		{"async call: producer, and the callee consuming in a linked trace", "Seq(a, Async(b), c)", map[string]comp{"a": {1, 10 * ms, 0}, "b": {1, 100 * ms, 0}, "c": {1, 20 * ms, 0}}, []string{
			"j SERVER j ← - [0, 30]ms ok http.response.status_code=200",
			"j CLIENT a ← j [0, 10]ms ok http.response.status_code=200",
			"a SERVER a ← a [0, 10]ms ok http.response.status_code=200",
			"j PRODUCER send b ← j [10, 10]ms ok",
			"j CLIENT c ← j [10, 30]ms ok http.response.status_code=200",
			"c SERVER c ← c [10, 30]ms ok http.response.status_code=200",
			"b CONSUMER process b ← link:send b [10, 110]ms ok",
		}},
		{"async flow: a consumer in the caller with the calls under it", "Seq(a, Async(Seq(b, c)))", map[string]comp{"a": {1, 10 * ms, 0}, "b": {1, 100 * ms, 0}, "c": {0, 20 * ms, 0}}, []string{
			"j SERVER j ← - [0, 10]ms ok http.response.status_code=200",
			"j CLIENT a ← j [0, 10]ms ok http.response.status_code=200",
			"a SERVER a ← a [0, 10]ms ok http.response.status_code=200",
			"j PRODUCER send j.async-1 ← j [10, 10]ms ok",
			"j CONSUMER process j.async-1 ← link:send j.async-1 [10, 130]ms error error.type=_OTHER",
			"j CLIENT b ← process j.async-1 [10, 110]ms ok http.response.status_code=200",
			"b SERVER b ← b [10, 110]ms ok http.response.status_code=200",
			"j CLIENT c ← process j.async-1 [110, 130]ms error http.response.status_code=503 error.type=503",
			"c SERVER c ← c [110, 130]ms error http.response.status_code=503 error.type=503",
		}},
		{"branch: the chosen case only", "Branch(0: a, 1: b)", map[string]comp{"a": {1, 10 * ms, 0}, "b": {1, 20 * ms, 0}}, []string{
			"j SERVER j ← - [0, 20]ms ok http.response.status_code=200",
			"j CLIENT b ← j [0, 20]ms ok http.response.status_code=200",
			"b SERVER b ← b [0, 20]ms ok http.response.status_code=200",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			td := generate(t, journey(t, tc.flow, tc.comps, nil), Options{Count: 1, Seed: 3})
			if diff := cmp.Diff(tc.want, lines(td)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestRetryAttempts: a transient component retried shows one client span
// per attempt, resend counts 1, 2, … after the first, every attempt but a
// last successful one failed, each after the previous one's end.
func TestRetryAttempts(t *testing.T) {
	j := journey(t, "Retry[attempts=4, backoff=5ms](a)", map[string]comp{"a": {0.5, 10 * ms, 2 * ms}}, nil)
	td := generate(t, j, Options{Count: 200, Seed: 9})
	byTrace := map[string][]placed{}
	var order []string
	roots := map[string]placed{}
	for _, s := range spans(td) {
		switch s.Kind {
		case KindClient:
			if byTrace[s.TraceID] == nil {
				order = append(order, s.TraceID)
			}
			byTrace[s.TraceID] = append(byTrace[s.TraceID], s)
		case KindServer:
			if s.ParentSpanID == "" {
				roots[s.TraceID] = s
			}
		}
	}
	attempts := map[int]int{}
	for _, id := range order {
		calls := byTrace[id]
		attempts[len(calls)]++
		for i, c := range calls {
			v, ok := c.Attr("http.request.resend_count")
			if got := 0; ok {
				got = int(*v.IntValue)
				if got != i {
					t.Fatalf("trace %s: attempt %d has resend_count %d", id, i+1, got)
				}
			} else if i > 0 {
				t.Fatalf("trace %s: attempt %d has no resend_count", id, i+1)
			}
			last := i == len(calls)-1
			if failed := c.Status.Code == StatusError; failed == (last && roots[id].Status.Code == StatusUnset) {
				t.Fatalf("trace %s: attempt %d of %d failed=%v, journey %v", id, i+1, len(calls), failed, roots[id].Status)
			}
			if i > 0 && c.StartTimeUnixNano != calls[i-1].EndTimeUnixNano+uint64(5*ms) {
				t.Fatalf("trace %s: attempt %d starts %d ns after the previous one's end", id, i+1, c.StartTimeUnixNano-calls[i-1].EndTimeUnixNano)
			}
		}
	}
	for n := 1; n <= 4; n++ {
		if attempts[n] == 0 {
			t.Errorf("no execution made %d attempts (%v): the test does not see every case", n, attempts)
		}
	}
}

// TestResources: node, zone and cluster come from the failure domains;
// components sharing a node domain share the node; the rest get their
// own.
func TestResources(t *testing.T) {
	j := journey(t, "Seq(a, b, c, d)", map[string]comp{"a": {1, ms, 0}, "b": {1, ms, 0}, "c": {1, ms, 0}, "d": {1, ms, 0}},
		map[string][]string{"zone-a": {"a", "b"}, "node-1": {"a", "c"}, "k8s/cluster": {"a"}, "payment-network": {"b", "c"}, "hosts": {"d"}})
	j.Domains["hosts"].Key = "kubernetes.io/hostname"
	j.Components["d"].Service, j.Components["d"].Operation = "delivery", "POST /quote"
	td := generate(t, j, Options{Count: 1})
	var got []string
	for _, rs := range td.ResourceSpans {
		var kv []string
		for _, a := range rs.Resource.Attributes {
			kv = append(kv, a.Key+"="+value(a.Value))
		}
		got = append(got, strings.Join(kv, " "))
	}
	want := []string{
		"service.name=j k8s.node.name=j-node cloud.availability_zone=j-node-zone",
		"service.name=a k8s.node.name=node-1 cloud.availability_zone=zone-a k8s.cluster.name=k8s/cluster",
		"service.name=b k8s.node.name=b-node cloud.availability_zone=zone-a",
		"service.name=c k8s.node.name=node-1 cloud.availability_zone=node-1-zone",
		"service.name=delivery k8s.node.name=hosts cloud.availability_zone=hosts-zone",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("resources (-want +got):\n%s", diff)
	}
	for _, s := range spans(td) {
		if s.service == "delivery" {
			m, _ := s.Attr("http.request.method")
			r, _ := s.Attr("http.route")
			if s.Name != "POST /quote" || value(m) != "POST" || value(r) != "/quote" {
				t.Errorf("delivery's server span: %q method %s route %s", s.Name, value(m), value(r))
			}
		}
	}
}

// example loads a journey of examples/.
func example(t testing.TB, path string) *model.Journey {
	t.Helper()
	b, ds := spec.Load(context.Background(), []string{"../../../examples/" + path}, spec.Options{})
	if ds.HasErrors() {
		t.Fatalf("%s: %v", path, ds)
	}
	return b.Journeys[0]
}

// TestDeterministic: the same seed gives the same bytes, another seed
// others.
func TestDeterministic(t *testing.T) {
	j := example(t, "latency/checkout.yaml")
	gen := func(seed uint64) []byte {
		b, err := generate(t, j, Options{Count: 50, Seed: seed, Scenario: sim.Named([]string{"payment-network"}, nil)}).JSON()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b, c := gen(7), gen(7), gen(8)
	if !bytes.Equal(a, b) {
		t.Error("seed 7 gave two different outputs")
	}
	if bytes.Equal(a, c) {
		t.Error("seeds 7 and 8 gave the same output")
	}
}

// TestRoundTrip: the JSON reads back into the same traces and writes the
// same bytes; ids are hex of OTLP's lengths, span ids unique, every
// parent and link resolves.
func TestRoundTrip(t *testing.T) {
	j := example(t, "latency/checkout.yaml")
	td := generate(t, j, Options{Count: 100, Seed: 1})
	b, err := td.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var back TracesData
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(td, &back); diff != "" {
		t.Errorf("read back (-wrote +read):\n%s", diff)
	}
	again, err := back.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, again) {
		t.Error("re-marshalled bytes differ")
	}
	ids := map[string]bool{}
	traces := map[string]bool{}
	for _, s := range spans(&back) {
		if len(s.TraceID) != 32 || len(s.SpanID) != 16 || strings.Trim(s.TraceID+s.SpanID, "0123456789abcdef") != "" {
			t.Fatalf("ids %q %q are not OTLP hex", s.TraceID, s.SpanID)
		}
		if ids[s.SpanID] {
			t.Fatalf("span id %s twice", s.SpanID)
		}
		ids[s.SpanID], traces[s.TraceID] = true, true
	}
	for _, s := range spans(&back) {
		if s.ParentSpanID != "" && !ids[s.ParentSpanID] {
			t.Fatalf("span %s: parent %s missing", s.SpanID, s.ParentSpanID)
		}
	}
	if len(traces) != 100 {
		t.Errorf("got %d traces, want 100 (the journey has no async)", len(traces))
	}
	if !bytes.HasPrefix(b, []byte(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout-latency"}}`)) {
		t.Errorf("unexpected start: %.120s", b)
	}
}

// TestTracesAreTheSimulation: the traced executions are the simulation's
// first ones for the seed: as many journeys fail as sim counts.
func TestTracesAreTheSimulation(t *testing.T) {
	j := example(t, "latency/checkout.yaml")
	sc := sim.Named([]string{"payment-network"}, nil)
	const n = 5000
	td := generate(t, j, Options{Count: n, Seed: 11, Scenario: sc})
	ok := 0
	for _, s := range spans(td) {
		if s.ParentSpanID == "" && s.Kind == KindServer && s.Status.Code == StatusUnset {
			ok++
		}
	}
	r, err := sim.Estimate(context.Background(), j, sc, n, 11)
	if err != nil {
		t.Fatal(err)
	}
	if ok != r.Successes {
		t.Errorf("got %d successful traces, sim counts %d of the same %d executions", ok, r.Successes, n)
	}
}

// everyOperator is a journey with every operator, zones and a shared
// payment network.
func everyOperator(t testing.TB) *model.Journey {
	t.Helper()
	flow := "Timeout[after=400ms](Seq(front, All(cart, pricing), Fallback(inventory, cache), Race[hedgeAfter=30ms](paya, payb), " +
		"Quorum[k=2](r1, r2, r3), Branch(0.8: Retry[attempts=3, perTryTimeout=40ms, backoff=5ms](receipt), 0.2: Optional(mail)), Async(audit)))"
	comps := map[string]comp{"front": {0.999, 8 * ms, 0}, "cart": {0.99, 15 * ms, 0}, "pricing": {0.99, 12 * ms, 0},
		"inventory": {0.6, 20 * ms, 5 * ms}, "cache": {0.99, 2 * ms, 0}, "paya": {0.9, 60 * ms, 0}, "payb": {0.9, 25 * ms, 0},
		"r1": {0.95, 4 * ms, 0}, "r2": {0.95, 6 * ms, 0}, "r3": {0.95, 9 * ms, 0}, "receipt": {0.7, 30 * ms, 0},
		"mail": {0.5, 10 * ms, 0}, "audit": {0.99, 50 * ms, 0}}
	j := journey(t, flow, comps, map[string][]string{"zone-a": {"front", "cart", "pricing"}, "payment-network": {"paya", "payb"}})
	j.Name = "every-operator"
	return j
}

// TestGolden holds the bytes of three executions of a journey with every
// operator (indented here for review; the output itself is one line).
func TestGolden(t *testing.T) {
	b, err := generate(t, everyOperator(t), Options{Count: 3, Seed: 5}).JSON()
	if err != nil {
		t.Fatal(err)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, b, "", "  "); err != nil {
		t.Fatal(err)
	}
	pretty.WriteString("\n")
	const path = "testdata/every-operator.json"
	if *update {
		if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if diff := cmp.Diff(string(want), pretty.String()); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

func TestErrors(t *testing.T) {
	j := journey(t, "Race(a, b)", map[string]comp{"a": {0.9, ms, 0}, "b": {0.9, ms, 0}}, map[string][]string{"d": {"a", "b"}})
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"negative count", Options{Count: -1}, "need at least one"},
		{"unknown domain", Options{Scenario: sim.Named([]string{"zone"}, nil)}, `unknown failure domain "zone"`},
		{"negative interval", Options{Interval: -time.Second}, "must not be negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Generate(context.Background(), j, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Generate(ctx, j, Options{}); err != context.Canceled {
		t.Errorf("got %v for a cancelled context", err)
	}
}
