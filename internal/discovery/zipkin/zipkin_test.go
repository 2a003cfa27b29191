package zipkin_test

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
	"github.com/emac-dev/emac/internal/discovery/readtest"
	"github.com/emac-dev/emac/internal/discovery/zipkin"
)

// read runs Read over r and collects what it gives.
func read(t testing.TB, name string, r io.Reader) *discovery.Collector {
	t.Helper()
	return readtest.Collect(t, zipkin.Read, name, r)
}

// The zipkin-lens test data: the copies in testdata, and the one large
// file left in shared/data. Each parses without Corrupt problems and
// gives the spans encoding/json finds, ids normalised and shared spans
// renamed as documented; envoy.json's one span has no service name and
// is reported MissingField.
func TestZipkinLens(t *testing.T) {
	files, err := filepath.Glob("testdata/zipkin-lens/*.json")
	if err != nil || len(files) != 9 {
		t.Fatalf("testdata/zipkin-lens: %d files, %v", len(files), err)
	}
	const big = "/work/shared/data/zipkin/smartthings-mobile-web-install.json"
	if _, err := os.Stat(big); err == nil {
		files = append(files, big)
	} else {
		t.Logf("%s: %v: not read", big, err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			c := read(t, path, bytes.NewReader(data))
			var missing int
			for _, p := range c.Problems {
				if p.Kind != discovery.MissingField {
					t.Errorf("problem: %v", p)
				}
				missing++
			}
			wantSpans, wantMissing := viaEncodingJSON(t, data)
			if missing != wantMissing {
				t.Errorf("got %d MissingField, want %d: %v", missing, wantMissing, c.Problems)
			}
			var got []string
			for _, s := range c.Spans {
				got = append(got, fmt.Sprintf("%s %s ← %s %s %s %s [%d, %d]", s.TraceID, s.SpanID, s.ParentID, s.Service, s.Kind, s.Operation, s.Start, s.End))
			}
			if diff := cmp.Diff(wantSpans, got); diff != "" {
				t.Errorf("spans (-encoding/json +Read):\n%s", diff)
			}
			slow := read(t, path, iotest.OneByteReader(bytes.NewReader(data)))
			if diff := cmp.Diff(c.Spans, slow.Spans); diff != "" {
				t.Errorf("one byte at a time (-whole +bytes):\n%s", diff)
			}
		})
	}
}

// viaEncodingJSON is the test's independent account of a v2 file: the
// spans (ids padded, shared server halves renamed) and how many lack a
// service.
func viaEncodingJSON(t *testing.T, data []byte) (spans []string, missing int) {
	type endpoint struct {
		ServiceName, IPv4, IPv6 string
		Port                    int
	}
	var doc []struct {
		TraceID             string `json:"traceId"`
		ID, ParentID, Name  string
		Kind                string
		Timestamp, Duration *int64
		LocalEndpoint       endpoint
		Shared              bool
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for _, s := range doc {
		if s.LocalEndpoint.ServiceName == "" {
			missing++
			continue
		}
		id, parent := s.ID, s.ParentID
		if s.Shared && s.Kind == "SERVER" {
			id, parent = s.ID+"/server", s.ID
			if ip := stdcmp.Or(s.LocalEndpoint.IPv4, s.LocalEndpoint.IPv6); ip != "" {
				id += "@" + ip
				if s.LocalEndpoint.Port != 0 {
					id += fmt.Sprint(":", s.LocalEndpoint.Port)
				}
			}
		}
		var start, end int64
		if s.Timestamp != nil {
			start, end = *s.Timestamp*1000, *s.Timestamp*1000
			if s.Duration != nil {
				end += *s.Duration * 1000
			}
		}
		kind := map[string]string{"": "unspecified", "CLIENT": "client", "SERVER": "server", "PRODUCER": "producer", "CONSUMER": "consumer"}[s.Kind]
		spans = append(spans, fmt.Sprintf("%032s %s ← %s %s %s %s [%d, %d]", s.TraceID, id, parent, s.LocalEndpoint.ServiceName, kind, s.Name, start, end))
	}
	return spans, missing
}

// skew.json in full: a client and the shared server half of its call,
// the server's child (which hangs under the client, as documented), and
// the root. Times as written: the reader does not correct skew.
func TestSkewShared(t *testing.T) {
	f, err := os.Open("testdata/zipkin-lens/skew.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := read(t, "skew.json", f)
	const tid = "00000000000000001e223ff1f80f1c69"
	b := discovery.Placement{Host: "192.0.0.0"}
	a := discovery.Placement{Host: "127.0.0.0"}
	want := []discovery.Span{
		{TraceID: tid, SpanID: "43210ae0c10d1234", ParentID: "74280ae0c10d8062", Service: "serviceb", Operation: "async", Start: 1470150004008762000, End: 1470150004073762000, Placement: b, Pos: discovery.Pos{File: "skew.json", Line: 2, Col: 3, Offset: 4}},
		{TraceID: tid, SpanID: "74280ae0c10d8062/server@192.0.0.0", ParentID: "74280ae0c10d8062", Service: "serviceb", Operation: "post", Kind: discovery.KindServer, Start: 1470150004008761000, End: 1470150004102338000, Placement: b, Pos: discovery.Pos{File: "skew.json", Line: 14, Col: 3, Offset: 281}},
		{TraceID: tid, SpanID: "bf396325699c84bf", Service: "servicea", Operation: "get", Kind: discovery.KindServer, Start: 1470150004071068000, End: 1470150004170479000, Placement: a, Pos: discovery.Pos{File: "skew.json", Line: 28, Col: 3, Offset: 599}},
		{TraceID: tid, SpanID: "74280ae0c10d8062", ParentID: "bf396325699c84bf", Service: "servicea", Operation: "post", Kind: discovery.KindClient, Start: 1470150004074202000, End: 1470150004168741000, Placement: a, Pos: discovery.Pos{File: "skew.json", Line: 40, Col: 3, Offset: 860}},
	}
	if diff := cmp.Diff(want, c.Spans); diff != "" {
		t.Errorf("spans (-want +got):\n%s", diff)
	}
	if len(c.Problems) > 0 {
		t.Errorf("problems: %v", c.Problems)
	}
}

// Hand-written spans, one per line, for the mapping: ids (16 and 32
// digits join; uppercase; a zero parent), shared halves without an
// address, outcomes, peers, resends, placement, missing times; an array
// of traces and a second document.
func TestMapping(t *testing.T) {
	in, marks := readtest.Annotate("hand.json", `[
‸{"traceId": "00000000000000000000000000000abc", "id": "01", "parentId": "0000000000000000", "kind": "SERVER", "name": "get /", "timestamp": 10, "duration": 5, "localEndpoint": {"serviceName": "front", "ipv6": "::1"}, "tags": {"http.status_code": "503", "k8s.node.name": "n1", "host.name": "h1"}},
‸{"traceId": "ABC", "id": "2", "parentId": "1", "kind": "CLIENT", "name": "get", "timestamp": 11, "duration": 2, "localEndpoint": {"serviceName": "front"}, "remoteEndpoint": {"serviceName": "cart", "port": 80}, "tags": {"error": "", "http.request.resend_count": "1", "peer.service": "not-this"}},
‸{"traceId": "abc", "id": "2", "parentId": "1", "kind": "SERVER", "shared": true, "name": "get", "timestamp": 11, "localEndpoint": {"serviceName": "cart"}, "remoteEndpoint": {"serviceName": "front"}, "tags": {"error": "Deadline Exceeded"}},
‸{"traceId": "abc", "id": "3", "parentId": "1", "kind": "CLIENT", "name": "query", "localEndpoint": {"serviceName": "front"}, "tags": {"error": "false", "http.status_code": 503, "db.system": "postgresql", "emac.failure_domain": "rack-1", "emac.peer.failure_domain": "rds"}},
[‸{"traceId": "def", "id": "4", "kind": "PRODUCER", "name": "send", "timestamp": 20, "duration": 1, "localEndpoint": {"serviceName": "front"}, "remoteEndpoint": {"serviceName": "kafka"}, "annotations": [{"timestamp": 20, "value": "ws"}], "debug": true},
 ‸{"traceId": "def", "id": "5", "parentId": "4", "kind": "CONSUMER", "name": "recv", "timestamp": 30, "duration": 1, "localEndpoint": {"serviceName": "worker"}, "remoteEndpoint": {"serviceName": "kafka"}, "tags": {"otel.status_code": "ERROR", "otel.status_description": "context canceled"}}]
]
[‸{"traceId": "def", "id": "6", "parentId": "6", "name": "local", "timestamp": 40, "duration": 0, "localEndpoint": {"serviceName": "worker"}}]`)
	c := read(t, "hand.json", strings.NewReader(in))
	const abc, def = "00000000000000000000000000000abc", "00000000000000000000000000000def"
	want := []discovery.Span{
		{TraceID: abc, SpanID: "0000000000000001", Service: "front", Operation: "get /", Kind: discovery.KindServer, Start: 10000, End: 15000, Outcome: discovery.Error,
			Placement: discovery.Placement{Node: "n1", Host: "h1"}, Pos: marks[0]},
		{TraceID: abc, SpanID: "0000000000000002", ParentID: "0000000000000001", Service: "front", Operation: "get", Kind: discovery.KindClient, Start: 11000, End: 13000,
			Outcome: discovery.Error, Peer: "cart", Resend: 1, Pos: marks[1]},
		{TraceID: abc, SpanID: "0000000000000002/server", ParentID: "0000000000000002", Service: "cart", Operation: "get", Kind: discovery.KindServer, Start: 11000, End: 11000,
			Outcome: discovery.Timeout, Pos: marks[2]},
		{TraceID: abc, SpanID: "0000000000000003", ParentID: "0000000000000001", Service: "front", Operation: "query", Kind: discovery.KindClient, Peer: "postgresql", PeerDomain: "rds",
			Placement: discovery.Placement{Domain: "rack-1"}, Pos: marks[3]},
		{TraceID: def, SpanID: "0000000000000004", Service: "front", Operation: "send", Kind: discovery.KindProducer, Start: 20000, End: 21000, Peer: "kafka", Pos: marks[4]},
		{TraceID: def, SpanID: "0000000000000005", ParentID: "0000000000000004", Service: "worker", Operation: "recv", Kind: discovery.KindConsumer, Start: 30000, End: 31000,
			Outcome: discovery.Cancelled, Pos: marks[5]},
		{TraceID: def, SpanID: "0000000000000006", Service: "worker", Operation: "local", Start: 40000, End: 40000, Pos: marks[6]},
	}
	if diff := cmp.Diff(want, c.Spans); diff != "" {
		t.Errorf("spans (-want +got):\n%s", diff)
	}
	if len(c.Problems) > 0 {
		t.Errorf("problems: %v", c.Problems)
	}
}

// A v1 file is reported Unsupported at its first span, and not read.
func TestV1(t *testing.T) {
	for _, in := range []string{
		`[‸{"traceId": "1", "id": "1", "name": "get", "annotations": [{"timestamp": 1, "value": "sr", "endpoint": {"serviceName": "a"}}]}, {"traceId": "1", "id": "2"}]`,
		`[‸{"traceId": "1", "id": "1", "name": "get", "timestamp": 1, "binaryAnnotations": [{"key": "lc", "value": "", "endpoint": {"serviceName": "a"}}]}, {"traceId": "1", "id": "2"}]`,
	} {
		in, marks := readtest.Annotate("v1.json", in)
		c := read(t, "v1.json", strings.NewReader(in))
		pos := marks[0]
		pos.Record = "[0]"
		want := []discovery.Problem{{Kind: discovery.Unsupported, Pos: pos, Detail: "Zipkin v1 (annotations with endpoints, binaryAnnotations): only v2 is read; the rest of v1.json is not read"}}
		if diff := cmp.Diff(want, c.Problems); diff != "" || len(c.Spans) > 0 {
			t.Errorf("%d spans; problems (-want +got):\n%s", len(c.Spans), diff)
		}
	}
}

// Bad inputs, each problem's position marked ‸ in the input.
func TestProblems(t *testing.T) {
	type problem struct {
		Kind           discovery.ProblemKind
		Record, Detail string
	}
	const ok = `"traceId": "a", "id": "1", "localEndpoint": {"serviceName": "s"}`
	for _, tc := range []struct {
		name  string
		in    string
		spans []string // span ids read
		want  []problem
	}{
		{"truncated", `[{` + ok + `}, {"traceId": "a", "id": "2", "localEndpoint": {"serviceName": "s"‸`, []string{"0000000000000001"},
			[]problem{{discovery.Corrupt, "", "JSON syntax: the input ends inside a value; the rest of in.json is not read"}}},
		{"syntax", `[{` + ok + `}, {"traceId": "a" ‸"id": "2"}]`, []string{"0000000000000001"},
			[]problem{{discovery.Corrupt, "", `JSON syntax: unexpected byte 34 '"'; the rest of in.json is not read`}}},
		{"wrong types", `[{` + ok + `, "timestamp": ‸"soon"}, {` + ok + `, "shared": ‸"yes"}, {"traceId": ‸1, "id": "1"}, {` + ok + `, "localEndpoint": ‸[]}, {` + ok + `, "tags": {"a": ‸{}, "http.status_code": ‸"5xx"}}, {` + ok + `, "kind": ‸"SIDEWAYS"}]`,
			[]string{"0000000000000001", "0000000000000001"},
			[]problem{
				{discovery.Corrupt, "[0].timestamp", `timestamp: "soon" is not an integer`},
				{discovery.Corrupt, "[1].shared", "shared: want a bool, got string"},
				{discovery.Corrupt, "[2].traceId", "traceId: want a string, got number"},
				{discovery.Corrupt, "[3].localEndpoint", "localEndpoint: want an object, got array"},
				{discovery.Corrupt, `[4].tags["a"]`, "tag value: want a string; ignored"},
				{discovery.Corrupt, `[4].tags["http.status_code"]`, `tag http.status_code: "5xx" is not an integer; ignored`},
				{discovery.Corrupt, "[5].kind", `unknown kind "SIDEWAYS"; read as unspecified`}}},
		{"bad numbers and ids", `[{` + ok + `, "duration": ‸1.5}, ‸{` + ok + `, "duration": -3}, {"traceId": ‸"xyz", "id": "1", "localEndpoint": {"serviceName": "s"}}, {"traceId": "a", "id": ‸"00000000000000001", "localEndpoint": {"serviceName": "s"}}, {"traceId": "a", "id": "1", "parentId": ‸"p", "localEndpoint": {"serviceName": "s"}}]`,
			nil,
			[]problem{
				{discovery.Corrupt, "[0].duration", `duration: "1.5" is not an integer`},
				{discovery.Corrupt, "[1].duration", "negative duration -3"},
				{discovery.Corrupt, "[2].traceId", `traceId "xyz" is not 1 to 32 hex digits`},
				{discovery.Corrupt, "[3].id", `id "00000000000000001" is not 1 to 16 hex digits`},
				{discovery.Corrupt, "[4].parentId", `parentId "p" is not 1 to 16 hex digits`}}},
		{"missing", `[‸{"id": "1", "localEndpoint": {"serviceName": "s"}}, ‸{"traceId": "a", "localEndpoint": {"serviceName": "s"}}, ‸{"traceId": "a", "id": "1"}, ‸{"traceId": "a", "id": "1", "localEndpoint": {"serviceName": null, "ipv4": "10.0.0.1"}}]`,
			nil,
			[]problem{
				{discovery.MissingField, "[0]", "span without traceId"},
				{discovery.MissingField, "[1]", "span without id"},
				{discovery.MissingField, "[2]", "span without localEndpoint.serviceName"},
				{discovery.MissingField, "[3]", "span without localEndpoint.serviceName"}}},
		{"not spans", `[‸1, [‸"x"]] ‸{"traceId": "a"}`, nil, []problem{
			{discovery.Corrupt, "[0]", "span: want an object, got number"},
			{discovery.Corrupt, "[1][0]", "span: want an object, got string"},
			{discovery.Corrupt, "", "not Zipkin v2 JSON: want an array of spans, got object"}}},
		{"trailing garbage", `[] ‸}`, nil, []problem{{discovery.Corrupt, "", `JSON syntax: unexpected byte 125 '}'; the rest of in.json is not read`}}},
		{"empty", ``, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			readtest.Problems(t, zipkin.Read, tc.in, tc.spans, tc.want)
		})
	}
}

// Read returns the sink's error, ctx's, and the input's; nothing else.
func TestErrors(t *testing.T) {
	data, err := os.ReadFile("testdata/zipkin-lens/yelp.json")
	if err != nil {
		t.Fatal(err)
	}
	readtest.Errors(t, zipkin.Read, "yelp.json", data, 1500)
}

func TestSniff(t *testing.T) {
	for _, tc := range []struct {
		head string
		want bool
	}{
		{"[\n  {\n    \"traceId\": \"978883983d506fa5\",", true},
		{`[[{"traceId":"a","id":"b"}],[`, true},
		{"\ufeff[{\"id\":\"b\",\"traceId\"", true},
		{`[{"id":"b","name":"a very long name that pushes the trace id out of the head"`, false},
		{`{"data":[{"traceID":"abc"`, false},
		{`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"`, false},
		{`[]`, false},
		{``, false},
	} {
		if got := zipkin.Sniff([]byte(tc.head)); got != tc.want {
			t.Errorf("Sniff(%q): got %v, want %v", tc.head, got, tc.want)
		}
	}
}

// Read streams: on an input without end, it hands over spans as it goes
// (the sink stops it), having read a bounded prefix.
func TestStreams(t *testing.T) {
	readtest.Streams(t, zipkin.Read, `[`,
		`{"traceId": "a", "id": "1", "localEndpoint": {"serviceName": "s"}},`+"\n", "spans")
}
