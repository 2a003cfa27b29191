package jaeger_test

import (
	"bytes"
	stdcmp "cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"

	"github.com/emac-dev/emac/internal/discovery"
	"github.com/emac-dev/emac/internal/discovery/jaeger"
	"github.com/emac-dev/emac/internal/discovery/readtest"
)

// read runs Read over r and collects what it gives.
func read(t testing.TB, name string, r io.Reader) *discovery.Collector {
	t.Helper()
	return readtest.Collect(t, jaeger.Read, name, r)
}

func crispFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir("testdata/crisp", func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".json") {
			files = append(files, path)
		}
		return err
	})
	if err != nil || len(files) < 33 {
		t.Fatalf("testdata/crisp: %d files, %v", len(files), err)
	}
	return files
}

// The CRISP test cases are Jaeger exports (with a "testing" key beside
// "data"). Each parses without problems, and gives the spans
// encoding/json finds in it, with the same ids, parents, services,
// operations and times.
func TestCRISP(t *testing.T) {
	for _, path := range crispFiles(t) {
		t.Run(path, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			c := read(t, path, bytes.NewReader(data))
			if len(c.Problems) > 0 {
				t.Errorf("problems: %v", c.Problems)
			}
			var got []string
			for _, s := range c.Spans {
				got = append(got, fmt.Sprintf("%s %s ← %s %s %s [%d, %d]", s.TraceID, s.SpanID, s.ParentID, s.Service, s.Operation, s.Start, s.End))
			}
			if diff := cmp.Diff(viaEncodingJSON(t, data), got); diff != "" {
				t.Errorf("spans (-encoding/json +Read):\n%s", diff)
			}
			// Byte by byte, the same spans at the same positions.
			slow := read(t, path, iotest.OneByteReader(bytes.NewReader(data)))
			if diff := cmp.Diff(c.Spans, slow.Spans); diff != "" {
				t.Errorf("one byte at a time (-whole +bytes):\n%s", diff)
			}
		})
	}
}

// viaEncodingJSON is the spans of a Jaeger export as encoding/json reads
// it: the test's independent account of ids, parents and times.
func viaEncodingJSON(t *testing.T, data []byte) []string {
	var doc struct {
		Data []struct {
			Spans []struct {
				TraceID, SpanID, OperationName, ProcessID string
				StartTime, Duration                       int64
				References                                []struct{ RefType, SpanID string }
			}
			Processes map[string]struct{ ServiceName string }
		}
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, tr := range doc.Data {
		for _, s := range tr.Spans {
			parent := ""
			for _, r := range s.References {
				if r.RefType == "CHILD_OF" {
					parent = r.SpanID
					break
				}
			}
			want = append(want, fmt.Sprintf("%s %s ← %s %s %s [%d, %d]", s.TraceID, s.SpanID, parent,
				tr.Processes[s.ProcessID].ServiceName, s.OperationName, s.StartTime*1000, (s.StartTime+s.Duration)*1000))
		}
	}
	return want
}

// A few CRISP cases in full, outcomes included: error=true is an error;
// a string error tag names one (ClientSideError); http.status_code 504
// on a span that does not say it is a server's is not.
func TestCRISPOutcomes(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []string
	}{
		{"1.json", []string{"A ← - S1 O1 [0, 100000] ok"}},
		{"err_pattern1/err1.json", []string{"A ← - S1 O1 [0, 100000] error", "B ← A S2 O2 [70000, 100000] error"}},
		{"13.json", []string{"A ← - S1 O1 [0, 100000] ok", "B ← A S2 O2 [10000, 70000] ok", "C ← B S3 O3 [25000, 45000] ok", "D ← B S4 O4 [30000, 50000] error"}},
		{"19.json", []string{"A ← - S1 O1 [0, 600000] ok", "B ← A S2 O2 [10000, 210000] ok", "C ← A S3 O3 [205000, 305000] ok", "D ← A S4 O4 [300000, 600000] ok"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata/crisp", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			c := read(t, tc.file, f)
			var got []string
			for _, s := range c.Spans {
				got = append(got, fmt.Sprintf("%s ← %s %s %s [%d, %d] %s", s.SpanID, stdcmp.Or(s.ParentID, "-"), s.Service, s.Operation, s.Start, s.End, s.Outcome))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("got … want (-want +got):\n%s", diff)
			}
		})
	}
}

// A hand-written export: the first trace's processes come after its
// spans (the reader holds the spans until then); references of both
// kinds; the outcome, peer, resend and placement tags; a span whose
// process is missing. The second trace's processes come first; a span
// without a traceID takes its trace's.
func TestMapping(t *testing.T) {
	in, marks := readtest.Annotate("hand.json", `{"data": [
 {"traceID": "t1", "spans": [
  ‸{"traceID": "t1", "spanID": "a", "operationName": "GET /", "startTime": 1000, "duration": 500, "processID": "p1",
    "tags": [{"key": "span.kind", "type": "string", "value": "server"}, {"key": "http.status_code", "type": "int64", "value": 503}]},
  ‸{"traceID": "t1", "spanID": "b", "operationName": "Cart/Get", "startTime": 1100, "duration": 100, "processID": "p1",
    "references": [{"refType": "FOLLOWS_FROM", "traceID": "t1", "spanID": "x"}, {"refType": "CHILD_OF", "traceID": "t1", "spanID": "a"},
                   {"refType": "CHILD_OF", "traceID": "t0", "spanID": "y"}, {"refType": "FOLLOWS_FROM", "spanID": "z"}],
    "tags": [{"key": "error", "type": "bool", "value": true}, {"key": "otel.status_description", "type": "string", "value": "rpc error: context deadline exceeded"},
             {"key": "span.kind", "type": "string", "value": "client"}, {"key": "net.peer.name", "value": "10.0.0.7"}, {"key": "peer.service", "value": "cart"},
             {"key": "http.request.resend_count", "type": "int64", "value": 2}, {"key": "k8s.pod.name", "value": "frontend-abc"}, {"key": "emac.peer.failure_domain", "value": "vpc-1"}]},
  ‸{"traceID": "t1", "spanID": "c", "operationName": "consume", "startTime": 1300, "duration": 50, "processID": "p2",
    "references": [{"refType": "FOLLOWS_FROM", "traceID": "t1", "spanID": "b"}],
    "tags": [{"key": "span.kind", "value": "consumer"}, {"key": "error", "type": "string", "value": "context canceled"}, {"key": "messaging.destination.name", "value": "orders"}]},
  ‸{"traceID": "t1", "spanID": "d", "operationName": "lost", "startTime": 1, "duration": 1, "processID": "p9"},
  ‸{"traceID": "t1", "spanID": "e", "operationName": "Get", "startTime": 1400, "duration": 10, "processID": "p2",
    "tags": [{"key": "span.kind", "value": "server"}, {"key": "rpc.grpc.status_code", "type": "int64", "value": 4}, {"key": "k8s.pod.name", "value": "cart-1"}]},
  ‸{"traceID": "t1", "spanID": "f", "operationName": "Get", "startTime": 1500, "duration": 10, "processID": "p2",
    "tags": [{"key": "span.kind", "value": "client"}, {"key": "error", "type": "bool", "value": false}, {"key": "http.status_code", "value": 500}, {"key": "db.system", "value": "redis"}]}
 ],
 "processes": {
  "p1": {"serviceName": "frontend", "tags": [{"key": "hostname", "value": "h0"}, {"key": "host.name", "value": "h1"}, {"key": "k8s.node.name", "value": "n1"},
                                            {"key": "cloud.availability_zone", "value": "z1"}, {"key": "cloud.region", "value": "r1"}]},
  "p2": {"serviceName": "cart", "tags": [{"key": "k8s.pod.name", "value": "cart-0"}, {"key": "k8s.cluster.name", "value": "c1"}, {"key": "emac.failure_domain", "value": "rack-7"}, {"key": "hostname", "value": "h2"}]}
 }},
 {"traceID": "t2", "processes": {"p1": {"serviceName": "solo"}}, "spans": [
  ‸{"spanID": "g", "operationName": "run", "startTime": "2000", "duration": 1.0e1, "processID": "p1", "logs": [{"timestamp": 2001, "fields": []}], "warnings": null}
 ]}
], "total": 0, "limit": 0, "offset": 0, "errors": null}`)
	c := read(t, "hand.json", strings.NewReader(in))
	p1 := discovery.Placement{Node: "n1", Host: "h1", Zone: "z1", Region: "r1"}
	p2 := discovery.Placement{Pod: "cart-0", Host: "h2", Cluster: "c1", Domain: "rack-7"}
	withPod := p1
	withPod.Pod = "frontend-abc"
	cart1 := p2
	cart1.Pod = "cart-1" // the span's tag overrides the process's
	want := []discovery.Span{
		{TraceID: "t1", SpanID: "a", Service: "frontend", Operation: "GET /", Kind: discovery.KindServer, Start: 1e6, End: 1.5e6, Outcome: discovery.Error, Placement: p1, Pos: marks[0]},
		{TraceID: "t1", SpanID: "b", ParentID: "a", Links: []discovery.Link{{TraceID: "t1", SpanID: "x"}, {TraceID: "t0", SpanID: "y"}, {TraceID: "t1", SpanID: "z"}}, Service: "frontend", Operation: "Cart/Get",
			Kind: discovery.KindClient, Start: 1.1e6, End: 1.2e6, Outcome: discovery.Timeout, Peer: "cart", PeerDomain: "vpc-1", Resend: 2, Placement: withPod, Pos: marks[1]},
		{TraceID: "t1", SpanID: "c", ParentID: "b", FollowsFrom: true, Service: "cart", Operation: "consume", Kind: discovery.KindConsumer, Start: 1.3e6, End: 1.35e6,
			Outcome: discovery.Cancelled, Placement: p2, Pos: marks[2]},
		{TraceID: "t1", SpanID: "e", Service: "cart", Operation: "Get", Kind: discovery.KindServer, Start: 1.4e6, End: 1.41e6, Outcome: discovery.Timeout, Placement: cart1, Pos: marks[4]},
		{TraceID: "t1", SpanID: "f", Service: "cart", Operation: "Get", Kind: discovery.KindClient, Start: 1.5e6, End: 1.51e6, Peer: "redis", Placement: p2, Pos: marks[5]},
		{TraceID: "t2", SpanID: "g", Service: "solo", Operation: "run", Start: 2e6, End: 2.01e6, Pos: marks[6]},
	}
	if diff := cmp.Diff(want, c.Spans); diff != "" {
		t.Errorf("spans (-want +got):\n%s", diff)
	}
	lost := marks[3]
	lost.Record = "data[0].spans[3]"
	wantProblems := []discovery.Problem{{Kind: discovery.MissingField, Pos: lost, Detail: `process "p9" is not in the trace's processes: no service`}}
	if diff := cmp.Diff(wantProblems, c.Problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

// The tags of one span, and what they make of it.
func TestTags(t *testing.T) {
	for _, tc := range []struct {
		tags string
		want string // outcome peer resend
	}{
		{`{"key": "span.kind", "value": "server"}, {"key": "http.status_code", "value": 503}`, "error - 0"},
		{`{"key": "span.kind", "value": "server"}, {"key": "http.status_code", "value": 503}, {"key": "otel.status_code", "value": "OK"}`, "ok - 0"},
		{`{"key": "span.kind", "value": "server"}, {"key": "http.status_code", "value": 503}, {"key": "http.response.status_code", "value": 200}`, "ok - 0"},
		{`{"key": "span.kind", "value": "server"}, {"key": "http.response.status_code", "value": 200}, {"key": "http.status_code", "value": 503}`, "ok - 0"},
		{`{"key": "span.kind", "value": "client"}, {"key": "http.status_code", "value": 503}`, "ok - 0"},
		{`{"key": "http.status_code", "value": 504}`, "ok - 0"}, // no kind: not a server's status
		{`{"key": "span.kind", "value": "server"}, {"key": "rpc.grpc.status_code", "value": 1}`, "cancelled - 0"},
		{`{"key": "otel.status_code", "value": "ERROR"}, {"key": "error.type", "value": "TIMEOUT"}`, "timeout - 0"},
		{`{"key": "error", "value": true}, {"key": "error.type", "value": "java.net.SocketTimeoutException"}`, "error - 0"},
		{`{"key": "error", "value": "true"}, {"key": "otel.status_description", "value": "operation was Canceled"}, {"key": "error.type", "value": "timeout"}`, "timeout - 0"},
		{`{"key": "error", "value": "timeout"}`, "timeout - 0"},
		{`{"key": "error", "value": false}, {"key": "otel.status_description", "value": "context canceled"}`, "ok - 0"},
		{`{"key": "span.kind", "value": "internal"}, {"key": "db.system", "value": "redis"}, {"key": "server.address", "value": "10.0.0.1"}`, "ok 10.0.0.1 0"},
		{`{"key": "span.kind", "value": "server"}, {"key": "server.address", "value": "10.0.0.1"}`, "ok - 0"},
		{`{"key": "span.kind", "value": "consumer"}, {"key": "messaging.destination.name", "value": "orders"}`, "ok - 0"},
		{`{"key": "span.kind", "value": "producer"}, {"key": "messaging.destination.name", "value": "orders"}, {"key": "peer.service", "value": ""}`, "ok orders 0"},
		{`{"key": "http.resend_count", "value": 3}, {"key": "http.request.resend_count", "value": 2}`, "ok - 2"},
		{`{"key": "http.request.resend_count", "value": "2"}, {"key": "http.resend_count", "value": 3}`, "ok - 2"},
	} {
		in := `{"data": [{"traceID": "t", "processes": {"p": {"serviceName": "s"}}, "spans": [{"spanID": "a", "startTime": 1, "duration": 1, "processID": "p", "tags": [` + tc.tags + `]}]}]}`
		c := read(t, "tags.json", strings.NewReader(in))
		if len(c.Spans) != 1 || len(c.Problems) > 0 {
			t.Fatalf("%s: %d spans, problems %v", tc.tags, len(c.Spans), c.Problems)
		}
		s := c.Spans[0]
		if got := fmt.Sprintf("%s %s %d", s.Outcome, stdcmp.Or(s.Peer, "-"), s.Resend); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.tags, got, tc.want)
		}
	}
}

// Bad inputs, each problem's position marked ‸ in the input.
func TestProblems(t *testing.T) {
	type problem struct {
		Kind           discovery.ProblemKind
		Record, Detail string
	}
	span := func(s string) string {
		return `{"data": [{"traceID": "t", "processes": {"p": {"serviceName": "s"}}, "spans": [` + s + `]}]}`
	}
	for _, tc := range []struct {
		name  string
		in    string
		spans []string // span ids read
		want  []problem
	}{
		{"truncated", `{"data": [{"traceID": "t", "processes": {"p": {"serviceName": "s"}}, "spans": [{"spanID": "a", "startTime": 1, "duration": 1, "processID": "p"}, {"spanID": "b", "startTime": 1, "dur‸`, []string{"a"},
			[]problem{{discovery.Corrupt, "", "JSON syntax: the input ends inside a value; the rest of in.json is not read"}}},
		{"truncated before processes", `{"data": [{"traceID": "t", "spans": [‸{"spanID": "a", "startTime": 1, "duration": 1, "processID": "p"}], "proc‸`, nil,
			[]problem{
				{discovery.MissingField, "data[0].spans[0]", `process "p" is not in the trace's processes: no service`},
				{discovery.Corrupt, "", "JSON syntax: the input ends inside a value; the rest of in.json is not read"}}},
		{"syntax", span(`{"spanID": "a", "startTime": 1, "duration": 1, "processID": "p"}, {"spanID": "b" ‸"startTime": 1}`), []string{"a"},
			[]problem{{discovery.Corrupt, "", `JSON syntax: unexpected byte 34 '"'; the rest of in.json is not read`}}},
		{"wrong types", span(`{"spanID": ‸7, "startTime": 1, "duration": 1, "processID": "p"}, {"spanID": "b", "startTime": ‸true, "duration": 1, "processID": "p"}, {"spanID": "c", "startTime": 1, "duration": 1, "processID": "p", "references": ‸{}}, {"spanID": "d", "startTime": 1, "duration": 1, "processID": "p", "tags": ‸"x"}`),
			[]string{"d"},
			[]problem{
				{discovery.Corrupt, "data[0].spans[0].spanID", "spanID: want a string, got number"},
				{discovery.Corrupt, "data[0].spans[1].startTime", "startTime: want an integer, got bool"},
				{discovery.Corrupt, "data[0].spans[2].references", "references: want an array, got object"},
				{discovery.Corrupt, "data[0].spans[3].tags", "tags: want an array, got string"}}},
		{"bad numbers", span(`{"spanID": "a", "startTime": ‸1.5, "duration": 1, "processID": "p"}, {"spanID": "b", "startTime": 1, "duration": ‸"1µs", "processID": "p"}, ‸{"spanID": "c", "startTime": 1, "duration": -1, "processID": "p"}, {"spanID": "d", "startTime": ‸1e300, "duration": 1, "processID": "p"}, {"spanID": "e", "startTime": 1, "duration": 1, "processID": "p", "tags": [‸{"key": "http.status_code", "value": "five hundred"}]}`),
			[]string{"e"},
			[]problem{
				{discovery.Corrupt, "data[0].spans[0].startTime", `startTime: "1.5" is not an integer`},
				{discovery.Corrupt, "data[0].spans[1].duration", `duration: "1µs" is not an integer`},
				{discovery.Corrupt, "data[0].spans[2].duration", "negative duration -1"},
				{discovery.Corrupt, "data[0].spans[3].startTime", `startTime: "1e300" is not an integer`},
				{discovery.Corrupt, "data[0].spans[4].tags[0]", `tag http.status_code: "five hundred" is not an integer; ignored`}}},
		{"missing", span(`‸{"startTime": 1, "duration": 1, "processID": "p"}, ‸{"spanID": "b", "duration": 1, "processID": "p"}, ‸{"spanID": "c", "startTime": 1, "duration": 1}, {"spanID": "d", "startTime": 1, "duration": 1, "processID": "p", "references": [‸{"refType": "CHILD_OF"}]}, {"spanID": "e", "startTime": 1, "duration": 1, "processID": "p", "references": [{"refType": ‸"PARENT_OF", "spanID": "x"}]}`),
			nil,
			[]problem{
				{discovery.MissingField, "data[0].spans[0]", "span without spanID"},
				{discovery.MissingField, "data[0].spans[1]", "span without startTime"},
				{discovery.MissingField, "data[0].spans[2]", "span without processID: no service"},
				{discovery.MissingField, "data[0].spans[3].references[0]", "reference without spanID"},
				{discovery.Corrupt, "data[0].spans[4].references[0].refType", `unknown refType "PARENT_OF"`}}},
		{"no trace id", `{"data": [{"spans": [‸{"spanID": "a", "startTime": 1, "duration": 1, "processID": "p"}], "processes": {"p": {"serviceName": "s"}}}]}`, nil,
			[]problem{{discovery.MissingField, "data[0].spans[0]", "span without traceID"}}},
		{"not an export", `‸[{"traceID": "t"}]`, nil, []problem{{discovery.Corrupt, "", "not a Jaeger export: want a JSON object with data, got array"}}},
		{"data not an array", `{"data": ‸{}}`, nil, []problem{{discovery.Corrupt, "data", "data: want an array of traces, got object"}}},
		{"trace not an object", `{"data": [‸1, {"traceID": "t", "spans": ‸null}]}`, nil, []problem{
			{discovery.Corrupt, "data[0]", "trace: want an object, got number"},
			{discovery.Corrupt, "data[1].spans", "spans: want an array, got null"}}},
		{"trailing garbage", `{"data": []} ‸]`, nil, []problem{{discovery.Corrupt, "", `JSON syntax: unexpected byte 93 ']'; the rest of in.json is not read`}}},
		{"empty", ``, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			readtest.Problems(t, jaeger.Read, tc.in, tc.spans, tc.want)
		})
	}
}

// Positions stay right past the decoder's buffer (64 KiB): a bad span
// after some ten thousand lines.
func TestPositionsFarIn(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"data": [{"traceID": "t", "processes": {"p": {"serviceName": "s"}}, "spans": [` + "\n")
	const n = 10000
	for i := range n {
		fmt.Fprintf(&b, "  {\"spanID\": \"s%d\", \"startTime\": %d, \"duration\": 1, \"processID\": \"p\"},\n", i, i)
	}
	b.WriteString(`  {"spanID": "bad", "startTime": "soon", "duration": 1, "processID": "p"}` + "\n]}]}")
	c := read(t, "far.json", strings.NewReader(b.String()))
	if len(c.Spans) != n {
		t.Fatalf("got %d spans, want %d", len(c.Spans), n)
	}
	if got, want := c.Spans[n-1].Pos.String(), fmt.Sprintf("far.json:%d:3", n+1); got != want {
		t.Errorf("last span at %s, want %s", got, want)
	}
	if len(c.Problems) != 1 {
		t.Fatalf("problems: %v", c.Problems)
	}
	if got, want := c.Problems[0].Pos.String(), fmt.Sprintf("far.json:%d:34 (data[0].spans[%d].startTime)", n+2, n); got != want {
		t.Errorf("problem at %s, want %s", got, want)
	}
}

// Read returns the sink's error, ctx's, and the input's; nothing else.
func TestErrors(t *testing.T) {
	data, err := os.ReadFile("testdata/crisp/16.json")
	if err != nil {
		t.Fatal(err)
	}
	readtest.Errors(t, jaeger.Read, "16.json", data, 500)
}

func TestSniff(t *testing.T) {
	crisp, err := os.ReadFile("testdata/crisp/1.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		head string
		want bool
	}{
		{string(crisp[:200]), true},
		{`{"data":[{"traceID":"abc","spans":[`, true},
		{"\ufeff \n{\"data\": [{\"spans\": [{\"traceID\"", true},
		{`{"resourceSpans":[{"resource":{},"scopeSpans":[{"spans":[{"traceId":"`, false},
		{`[{"traceId":"abc","id":"def"}]`, false},
		{`{"data":`, false},
		{`TraceID,SpanID`, false},
		{``, false},
	} {
		if got := jaeger.Sniff([]byte(tc.head)); got != tc.want {
			t.Errorf("Sniff(%q): got %v, want %v", tc.head, got, tc.want)
		}
	}
}

// Read streams: on an input without end, it hands over spans as it goes
// (the sink stops it), having read a bounded prefix.
func TestStreams(t *testing.T) {
	readtest.Streams(t, jaeger.Read, `{"data": [`,
		`{"traceID": "t", "spans": [{"spanID": "a", "startTime": 1, "duration": 1, "processID": "p"}], "processes": {"p": {"serviceName": "s"}}},`+"\n", "traces")
}
