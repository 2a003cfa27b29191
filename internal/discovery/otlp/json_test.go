package otlp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"

	"github.com/emac-dev/emac/internal/discovery"
)

// Ids for hand-written inputs.
const (
	tid1 = "0102030405060708090a0b0c0d0e0f10"
	sid1 = "0102030405060708"
	sid2 = "1112131415161718"
)

// summary describes a span on one line: ids (shortened), service,
// operation, kind, outcome, the fields that are set, and its position.
func summary(s discovery.Span) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%.4s/%s", s.TraceID, tail(s.SpanID))
	if s.ParentID != "" {
		fmt.Fprintf(&b, "<%s", tail(s.ParentID))
	}
	fmt.Fprintf(&b, " %s %q %s %s", s.Service, s.Operation, s.Kind, s.Outcome)
	if s.Start != 0 || s.End != 0 {
		fmt.Fprintf(&b, " [%d,%d]", s.Start, s.End)
	}
	if s.Peer != "" {
		fmt.Fprintf(&b, " peer=%s", s.Peer)
	}
	if s.Resend != 0 {
		fmt.Fprintf(&b, " resend=%d", s.Resend)
	}
	for _, l := range s.Links {
		fmt.Fprintf(&b, " link=%.4s/%s", l.TraceID, tail(l.SpanID))
	}
	p := s.Placement
	for _, f := range []struct{ k, v string }{{"pod", p.Pod}, {"node", p.Node}, {"host", p.Host}, {"zone", p.Zone},
		{"region", p.Region}, {"cluster", p.Cluster}, {"domain", p.Domain}} {
		if f.v != "" {
			fmt.Fprintf(&b, " %s=%s", f.k, f.v)
		}
	}
	fmt.Fprintf(&b, " @%s", s.Pos)
	return b.String()
}

// tail is an id's last 4 digits.
func tail(id string) string { return id[max(0, len(id)-4):] }

// outcome of reading an input: spans summarized, problems as strings.
type result struct {
	Spans    []string
	Problems []string
}

func collect(t *testing.T, rd func(context.Context, string, io.Reader, discovery.Sink) error, in string, wrap func(io.Reader) io.Reader) result {
	t.Helper()
	var c discovery.Collector
	var r io.Reader = strings.NewReader(in)
	if wrap != nil {
		r = wrap(r)
	}
	if err := rd(context.Background(), "in.json", r, &c); err != nil {
		t.Fatalf("error %v", err)
	}
	var res result
	for _, s := range c.Spans {
		res.Spans = append(res.Spans, summary(s))
	}
	for _, p := range c.Problems {
		res.Problems = append(res.Problems, p.String())
	}
	return res
}

// res is a resourceSpans with service svc and the spans given.
func res(svc string, spans ...string) string {
	return `{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"` + svc + `"}}]},"scopeSpans":[{"scope":{"name":"s"},"spans":[` +
		strings.Join(spans, ",") + `]}]}`
}

func doc(rs ...string) string { return `{"resourceSpans":[` + strings.Join(rs, ",") + `]}` }

// span is a span with ids tid1/sid and the members given.
func span(sid string, members ...string) string {
	return `{"traceId":"` + tid1 + `","spanId":"` + sid + `"` + strings.Join(append([]string{""}, members...), ",") + `}`
}

func attr(k, v string) string { return `{"key":"` + k + `","value":` + v + `}` }

func attrList(kvs ...string) string { return `"attributes":[` + strings.Join(kvs, ",") + `]` }

func str(s string) string { return `{"stringValue":"` + s + `"}` }

// TestReadJSON holds what hand-written inputs, good and bad, read as.
func TestReadJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want result
	}{
		{"empty", "", result{}},
		{"white space", " \n\t ", result{}},
		{"no spans", `{"resourceSpans":[]}`, result{}},
		{"one span, enums by name, times as numbers and strings",
			doc(res("a", span(sid1, `"name":"GET /x"`, `"kind":"SPAN_KIND_SERVER"`, `"startTimeUnixNano":1000`,
				`"endTimeUnixNano":"2000"`, `"status":{"code":"STATUS_CODE_ERROR"}`))),
			result{Spans: []string{
				`0102/0708 a "GET /x" server error [1000,2000] @in.json:1:144 (resourceSpans[0].scopeSpans[0].spans[0])`,
			}}},
		{"enums by number, in strings too; upper-case ids read in lower case; an all-zero parent is a root",
			doc(res("a", `{"traceId":"0102030405060708090A0B0C0D0E0F10","spanId":"ABCDEF0102030405","parentSpanId":"0000000000000000","kind":"3","status":{"code":1}}`)),
			result{Spans: []string{
				`0102/0405 a "" client ok @in.json:1:144 (resourceSpans[0].scopeSpans[0].spans[0])`,
			}}},
		{"unknown fields skipped, at every level",
			`{"x":{"y":[1,{"z":null}]},"resourceSpans":[{"schemaUrl":"u","resource":{"attributes":[{"key":"service.name","value":{"stringValue":"a"}}],"droppedAttributesCount":0},` +
				`"scopeSpans":[{"scope":{"name":"s","version":"1"},"schemaUrl":"v","spans":[` + span(sid1, `"traceState":"k=v"`, `"flags":1`, `"events":[{"name":"e"}]`, `"droppedLinksCount":0`) + `]}]}],"extra":true}`,
			result{Spans: []string{
				`0102/0708 a "" unspecified ok @in.json:1:242 (resourceSpans[0].scopeSpans[0].spans[0])`,
			}}},
		{"old field names", `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"a"}}]},` +
			`"instrumentationLibrarySpans":[{"instrumentationLibrary":{"name":"s"},"spans":[` + span(sid1) + `]}]}]}`,
			result{Spans: []string{
				`0102/0708 a "" unspecified ok @in.json:1:178 (resourceSpans[0].instrumentationLibrarySpans[0].spans[0])`,
			}}},
		{"resource after its spans", `{"resourceSpans":[{"scopeSpans":[{"spans":[` + span(sid1) + `,` + span(sid2) + `]}],` +
			`"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"late"}}]}}]}`,
			result{Spans: []string{
				`0102/0708 late "" unspecified ok @in.json:1:44 (resourceSpans[0].scopeSpans[0].spans[0])`,
				`0102/1718 late "" unspecified ok @in.json:1:119 (resourceSpans[0].scopeSpans[0].spans[1])`,
			}}},
		{"two documents, one a line, then white space", doc(res("a", span(sid1))) + "\n" + doc(res("b", span(sid2))) + "\n\n",
			result{Spans: []string{
				`0102/0708 a "" unspecified ok @in.json:1:144 (resourceSpans[0].scopeSpans[0].spans[0])`,
				`0102/1718 b "" unspecified ok @in.json:2:144 (resourceSpans[0].scopeSpans[0].spans[0])`,
			}}},
		{"two documents on one line", doc(res("a", span(sid1))) + doc(res("b", span(sid2))),
			result{Spans: []string{
				`0102/0708 a "" unspecified ok @in.json:1:144 (resourceSpans[0].scopeSpans[0].spans[0])`,
				`0102/1718 b "" unspecified ok @in.json:1:367 (resourceSpans[0].scopeSpans[0].spans[0])`,
			}}},
		{"pretty printed: lines and columns", "{\n  \"resourceSpans\": [\n    " + res("a", "\n      "+span(sid1), "\n      "+span(sid2, `"kind":9`)) + "\n  ]\n}\n",
			result{Spans: []string{
				`0102/0708 a "" unspecified ok @in.json:4:7 (resourceSpans[0].scopeSpans[0].spans[0])`,
			}, Problems: []string{
				`in.json:5:88 (resourceSpans[0].scopeSpans[0].spans[1]): corrupt: kind 9 is not one of OTLP's`,
			}}},
		{"outcomes", doc(res("a",
			span("0000000000000001", `"kind":2`, attrList(attr("http.response.status_code", `{"intValue":"503"}`))),
			span("0000000000000002", `"kind":3`, attrList(attr("http.response.status_code", `{"intValue":503}`))),
			span("0000000000000003", `"kind":2`, attrList(attr("http.status_code", `{"intValue":"500"}`))),
			span("0000000000000004", `"status":{"code":2,"message":"context deadline exceeded"}`),
			span("0000000000000005", `"status":{"code":2}`, attrList(attr("error.type", str("Timeout")))),
			span("0000000000000006", `"status":{"code":2}`, attrList(attr("error.type", str("canceled")))),
			span("0000000000000007", `"status":{"code":2,"message":"Cancelled by caller"}`),
			span("0000000000000008", `"kind":2`, attrList(attr("rpc.grpc.status_code", `{"intValue":"4"}`))),
			span("0000000000000009", `"kind":2`, attrList(attr("rpc.grpc.status_code", `{"intValue":"0"}`))),
			span("000000000000000a", `"status":{"code":1}`, `"kind":2`, attrList(attr("http.response.status_code", `{"intValue":"500"}`))),
			span("000000000000000b", `"status":{"code":0,"message":"deadline exceeded"}`),
		)), result{Spans: []string{
			`0102/0001 a "" server error @in.json:1:144 (resourceSpans[0].scopeSpans[0].spans[0])`,
			`0102/0002 a "" client ok @in.json:1:306 (resourceSpans[0].scopeSpans[0].spans[1])`,
			`0102/0003 a "" server error @in.json:1:466 (resourceSpans[0].scopeSpans[0].spans[2])`,
			`0102/0004 a "" unspecified timeout @in.json:1:619 (resourceSpans[0].scopeSpans[0].spans[3])`,
			`0102/0005 a "" unspecified timeout @in.json:1:752 (resourceSpans[0].scopeSpans[0].spans[4])`,
			`0102/0006 a "" unspecified cancelled @in.json:1:917 (resourceSpans[0].scopeSpans[0].spans[5])`,
			`0102/0007 a "" unspecified cancelled @in.json:1:1083 (resourceSpans[0].scopeSpans[0].spans[6])`,
			`0102/0008 a "" server timeout @in.json:1:1210 (resourceSpans[0].scopeSpans[0].spans[7])`,
			`0102/0009 a "" server ok @in.json:1:1365 (resourceSpans[0].scopeSpans[0].spans[8])`,
			`0102/000a a "" server ok @in.json:1:1520 (resourceSpans[0].scopeSpans[0].spans[9])`,
			`0102/000b a "" unspecified ok @in.json:1:1702 (resourceSpans[0].scopeSpans[0].spans[10])`,
		}}},
		{"peers: the first of the list, whatever the order; none for a server or consumer", doc(res("a",
			span("0000000000000001", `"kind":3`, attrList(attr("db.system", str("pg")), attr("peer.service", str("old")), attr("service.peer.name", str("new")))),
			span("0000000000000002", `"kind":3`, attrList(attr("db.system", str("pg")), attr("db.system.name", str("postgresql")))),
			span("0000000000000003", `"kind":4`, attrList(attr("messaging.destination.name", str("q")))),
			span("0000000000000004", `"kind":2`, attrList(attr("server.address", str("me")))),
			span("0000000000000005", `"kind":5`, attrList(attr("messaging.destination.name", str("q")))),
			span("0000000000000006", `"kind":3`, attrList(attr("server.address", str("")), attr("net.peer.name", str("n")))),
		)), result{Spans: []string{
			`0102/0001 a "" client ok peer=new @in.json:1:144 (resourceSpans[0].scopeSpans[0].spans[0])`,
			`0102/0002 a "" client ok peer=postgresql @in.json:1:403 (resourceSpans[0].scopeSpans[0].spans[1])`,
			`0102/0003 a "" producer ok peer=q @in.json:1:613 (resourceSpans[0].scopeSpans[0].spans[2])`,
			`0102/0004 a "" server ok @in.json:1:777 (resourceSpans[0].scopeSpans[0].spans[3])`,
			`0102/0005 a "" consumer ok @in.json:1:930 (resourceSpans[0].scopeSpans[0].spans[4])`,
			`0102/0006 a "" client ok peer=n @in.json:1:1094 (resourceSpans[0].scopeSpans[0].spans[5])`,
		}}},
		{"resend counts, placement from resource and span, links", `{"resourceSpans":[{"resource":{"attributes":[` +
			attr("service.name", str("a")) + `,` + attr("k8s.pod.name", str("a-1")) + `,` + attr("k8s.node.name", str("n1")) + `,` +
			attr("host.name", str("h")) + `,` + attr("cloud.availability_zone", str("z")) + `,` + attr("cloud.region", str("r")) + `,` +
			attr("k8s.cluster.name", str("c")) + `,` + attr("emac.failure_domain", str("d")) + `]},"scopeSpans":[{"spans":[` +
			span("0000000000000001", attrList(attr("http.request.resend_count", `{"intValue":"2"}`), attr("http.resend_count", `{"intValue":"9"}`))) + `,` +
			span("0000000000000002", attrList(attr("http.resend_count", `{"intValue":3}`), attr("k8s.pod.name", str("a-2")), attr("emac.failure_domain", str("e")))) + `,` +
			span("0000000000000003", `"links":[{"traceId":"`+tid1+`","spanId":"`+sid2+`"},{"traceId":"`+tid1+`","spanId":"`+sid1+`","attributes":[]}]`) +
			`]}]}]}`, result{Spans: []string{
			`0102/0001 a "" unspecified ok resend=2 pod=a-1 node=n1 host=h zone=z region=r cluster=c domain=d @in.json:1:503 (resourceSpans[0].scopeSpans[0].spans[0])`,
			`0102/0002 a "" unspecified ok resend=3 pod=a-2 node=n1 host=h zone=z region=r cluster=c domain=e @in.json:1:707 (resourceSpans[0].scopeSpans[0].spans[1])`,
			`0102/0003 a "" unspecified ok link=0102/1718 link=0102/0708 pod=a-1 node=n1 host=h zone=z region=r cluster=c domain=d @in.json:1:959 (resourceSpans[0].scopeSpans[0].spans[2])`,
		}}},
		{"escapes in keys and strings", doc(res("a\\u00e9", span(sid1, `"n\u0061me":"say \"hi\"\n"`, `"kind":2`))), result{Spans: []string{
			`0102/0708 aé "say \"hi\"\n" server ok @in.json:1:150 (resourceSpans[0].scopeSpans[0].spans[0])`,
		}}},
		{"a UTF-8 byte order mark", "\xef\xbb\xbf" + doc(res("a", span(sid1))), result{Spans: []string{
			`0102/0708 a "" unspecified ok @in.json:1:147 (resourceSpans[0].scopeSpans[0].spans[0])`,
		}}},

		// Bad input.
		{"truncated", doc(res("a", span(sid1), span(sid2)))[:250], result{Spans: []string{
			`0102/0708 a "" unspecified ok @in.json:1:144 (resourceSpans[0].scopeSpans[0].spans[0])`,
		}, Problems: []string{
			`in.json:1:251 (resourceSpans[0].scopeSpans[0].spans[1]): corrupt: unexpected end of input`,
		}}},
		{"truncated in a key", `{"resourceSpans":[{"reso`, result{Problems: []string{
			`in.json:1:25 (resourceSpans[0]): corrupt: unexpected end of input`,
		}}},
		{"truncated after a value", `{"resourceSpans":[{"resource":{}`, result{Problems: []string{
			`in.json:1:33 (resourceSpans[0]): corrupt: unexpected end of input`,
		}}},
		{"not an object", `[1,2]`, result{Problems: []string{
			`in.json:1:1: corrupt: expected an OTLP JSON object ({"resourceSpans":[...]}), found '['`,
		}}},
		{"garbage after a document", doc(res("a", span(sid1))) + " x", result{Spans: []string{
			`0102/0708 a "" unspecified ok @in.json:1:144 (resourceSpans[0].scopeSpans[0].spans[0])`,
		}, Problems: []string{
			`in.json:1:225: corrupt: expected an OTLP JSON object ({"resourceSpans":[...]}), found 'x'`,
		}}},
		{"syntax error in a span ends the input", doc(res("a", span(sid1), span(sid2, `"kind":2,`)), res("b", span(sid1))), result{Spans: []string{
			`0102/0708 a "" unspecified ok @in.json:1:144 (resourceSpans[0].scopeSpans[0].spans[0])`,
		}, Problems: []string{
			`in.json:1:302 (resourceSpans[0].scopeSpans[0].spans[1]): corrupt: invalid character '}' looking for beginning of object key string`,
		}}},
		{"syntax error between spans", doc(res("a", span(sid1)+` x `, span(sid2))), result{Spans: []string{
			`0102/0708 a "" unspecified ok @in.json:1:144 (resourceSpans[0].scopeSpans[0].spans[0])`,
		}, Problems: []string{
			`in.json:1:219 (resourceSpans[0].scopeSpans[0].spans[0]): corrupt: expected ',' or ']' after an array element, found 'x'`,
		}}},
		{"wrong types", doc(
			`{"resource":[],"scopeSpans":[{"spans":{}}]}`,
			`{"resource":{"attributes":{}},"scopeSpans":[{"spans":[5,null]},3]}`,
			res("a",
				span("0000000000000001", `"kind":"SERVER"`),
				span("0000000000000002", `"startTimeUnixNano":"soon"`),
				span("0000000000000003", `"endTimeUnixNano":1.5`),
				span("0000000000000004", `"name":7`),
				span("0000000000000005", `"status":"error"`),
				span("0000000000000006", `"attributes":7`),
				span("0000000000000007", attrList(`"x"`, attr("http.request.resend_count", str("twice")), attr("service.peer.name", `{"intValue":"1"}`),
					attr("http.response.status_code", `{"boolValue":true}`), attr("peer.service", `"p"`))),
				span("0000000000000008", `"links":[1,{"traceId":"`+tid1+`"},{"traceId":"xx","spanId":"`+sid1+`"}]`),
				`{"traceId":5,"spanId":"`+sid1+`"}`,
			)), result{Spans: []string{
			`0102/0006 a "" unspecified ok @in.json:1:721 (resourceSpans[2].scopeSpans[0].spans[5])`,
			`0102/0007 a "" unspecified ok @in.json:1:811 (resourceSpans[2].scopeSpans[0].spans[6])`,
			`0102/0008 a "" unspecified ok @in.json:1:1124 (resourceSpans[2].scopeSpans[0].spans[7])`,
		}, Problems: []string{
			`in.json:1:31 (resourceSpans[0].resource): corrupt: expected an object, found an array`,
			`in.json:1:57 (resourceSpans[0].scopeSpans[0].spans): corrupt: expected an array, found an object`,
			`in.json:1:89 (resourceSpans[1].resource): corrupt: attributes: expected an array, found an object`,
			`in.json:1:117 (resourceSpans[1].scopeSpans[0].spans[0]): corrupt: expected an object, found a number`,
			`in.json:1:119 (resourceSpans[1].scopeSpans[0].spans[1]): corrupt: expected an object, found null`,
			`in.json:1:126 (resourceSpans[1].scopeSpans[1]): corrupt: expected an object, found a number`,
			`in.json:1:336 (resourceSpans[2].scopeSpans[0].spans[0]): corrupt: kind "SERVER" is not one of OTLP's`,
			`in.json:1:440 (resourceSpans[2].scopeSpans[0].spans[1]): corrupt: startTimeUnixNano "soon" is not an integer`,
			`in.json:1:540 (resourceSpans[2].scopeSpans[0].spans[2]): corrupt: endTimeUnixNano 1.5 is not an integer`,
			`in.json:1:626 (resourceSpans[2].scopeSpans[0].spans[3]): corrupt: name: expected a string, found a number`,
			`in.json:1:712 (resourceSpans[2].scopeSpans[0].spans[4]): corrupt: status: expected an object, found a string`,
			`in.json:1:808 (resourceSpans[2].scopeSpans[0].spans[5]): corrupt: attributes: expected an array, found a number`,
			`in.json:1:899 (resourceSpans[2].scopeSpans[0].spans[6]): corrupt: attribute: expected an object, found a string`,
			`in.json:1:946 (resourceSpans[2].scopeSpans[0].spans[6]): corrupt: attribute http.request.resend_count is not an integer`,
			`in.json:1:1006 (resourceSpans[2].scopeSpans[0].spans[6]): corrupt: attribute service.peer.name is not a string`,
			`in.json:1:1067 (resourceSpans[2].scopeSpans[0].spans[6]): corrupt: attribute http.response.status_code is not an integer`,
			`in.json:1:1117 (resourceSpans[2].scopeSpans[0].spans[6]): corrupt: attribute peer.service: expected an object, found a string`,
			`in.json:1:1207 (resourceSpans[2].scopeSpans[0].spans[7]): corrupt: links[0]: expected an object, found a number`,
			`in.json:1:1209 (resourceSpans[2].scopeSpans[0].spans[7]): corrupt: links[1] has no valid trace and span id: left out`,
			`in.json:1:1256 (resourceSpans[2].scopeSpans[0].spans[7]): corrupt: links[2] has no valid trace and span id: left out`,
			`in.json:1:1314 (resourceSpans[2].scopeSpans[0].spans[8]): corrupt: trace id: expected a string, found a number`,
		}}},
		{"bad ids", doc(res("a",
			`{"traceId":"`+tid1[:30]+`","spanId":"`+sid1+`"}`,
			`{"traceId":"`+tid1+`","spanId":"0102030405060g08"}`,
			`{"traceId":"00000000000000000000000000000000","spanId":"`+sid1+`"}`,
			`{"spanId":"`+sid1+`"}`,
			`{"traceId":"`+tid1+`","spanId":""}`,
			`{"traceId":"`+tid1+`","spanId":"`+sid1+`","parentSpanId":"xyz"}`,
			`{"traceId":"AQIDBAUGBwgJCgsMDQ4PEA==","spanId":"`+sid1+`"}`,
		)), result{Problems: []string{
			`in.json:1:155 (resourceSpans[0].scopeSpans[0].spans[0]): corrupt: trace id "0102030405060708090a0b0c0d0e0f" is not 32 hex digits`,
			`in.json:1:272 (resourceSpans[0].scopeSpans[0].spans[1]): corrupt: span id "0102030405060g08" is not 16 hex digits`,
			`in.json:1:303 (resourceSpans[0].scopeSpans[0].spans[2]): missing-field: trace id is all zeros, OTLP's no id`,
			`in.json:1:367 (resourceSpans[0].scopeSpans[0].spans[3]): missing-field: span has no trace id`,
			`in.json:1:397 (resourceSpans[0].scopeSpans[0].spans[4]): missing-field: span has no span id`,
			`in.json:1:545 (resourceSpans[0].scopeSpans[0].spans[5]): corrupt: parent span id "xyz" is not 16 hex digits`,
			`in.json:1:563 (resourceSpans[0].scopeSpans[0].spans[6]): corrupt: trace id "AQIDBAUGBwgJCgsMDQ4PEA==" is not 32 hex digits`,
		}}},
		{"missing service.name", doc(`{"resource":{"attributes":[`+attr("host.name", str("h"))+`]},"scopeSpans":[{"spans":[`+span(sid1)+`,`+span(sid2)+`]}]}`,
			`{"scopeSpans":[{"spans":[`+span(sid1)+`]}]}`, res("", span(sid1))), result{Problems: []string{
			`in.json:1:120 (resourceSpans[0].scopeSpans[0].spans[0]): missing-field: span's resource has no service.name`,
			`in.json:1:195 (resourceSpans[0].scopeSpans[0].spans[1]): missing-field: span's resource has no service.name`,
			`in.json:1:299 (resourceSpans[1].scopeSpans[0].spans[0]): missing-field: span's resource has no service.name`,
			`in.json:1:502 (resourceSpans[2].scopeSpans[0].spans[0]): missing-field: span's resource has no service.name`,
		}}},
		{"huge numbers", doc(res("a",
			span("0000000000000001", `"startTimeUnixNano":"9223372036854775807"`),
			span("0000000000000002", `"startTimeUnixNano":"9223372036854775808"`),
			span("0000000000000003", `"endTimeUnixNano":18446744073709551616`),
			span("0000000000000004", `"startTimeUnixNano":-1`),
			span("0000000000000005", `"kind":4294967298`),
			span("0000000000000006", attrList(attr("http.request.resend_count", `{"intValue":"99999999999999999999"}`))),
			span("0000000000000007", attrList(attr("http.request.resend_count", `{"intValue":"-1"}`))),
		)), result{Spans: []string{
			`0102/0001 a "" unspecified ok [9223372036854775807,0] @in.json:1:144 (resourceSpans[0].scopeSpans[0].spans[0])`,
			`0102/0006 a "" unspecified ok @in.json:1:683 (resourceSpans[0].scopeSpans[0].spans[5])`,
			`0102/0007 a "" unspecified ok @in.json:1:853 (resourceSpans[0].scopeSpans[0].spans[6])`,
		}, Problems: []string{
			`in.json:1:355 (resourceSpans[0].scopeSpans[0].spans[1]): corrupt: startTimeUnixNano "9223372036854775808" is out of range`,
			`in.json:1:470 (resourceSpans[0].scopeSpans[0].spans[2]): corrupt: endTimeUnixNano 18446744073709551616 is out of range`,
			`in.json:1:586 (resourceSpans[0].scopeSpans[0].spans[3]): corrupt: startTimeUnixNano -1 is negative`,
			`in.json:1:671 (resourceSpans[0].scopeSpans[0].spans[4]): corrupt: kind 4294967298 is not one of OTLP's`,
			`in.json:1:814 (resourceSpans[0].scopeSpans[0].spans[5]): corrupt: attribute http.request.resend_count is out of range`,
			`in.json:1:984 (resourceSpans[0].scopeSpans[0].spans[6]): corrupt: attribute http.request.resend_count is negative`,
		}}},
		{"logs and metrics are not traces", `{"resourceLogs":[{"scopeLogs":[]}]}` + "\n" + `{"resourceMetrics":[]}`, result{Problems: []string{
			`in.json:1:17 (resourceLogs): unsupported: resourceLogs: not traces`,
			`in.json:2:20 (resourceMetrics): unsupported: resourceMetrics: not traces`,
		}}},
		{"compressed", "\x1f\x8b\x08\x00rest", result{Problems: []string{
			`in.json:1:1: unsupported: gzip-compressed input: decompress it first`,
		}}},
		{"deep nesting in an unknown field", `{"x":` + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + `}`, result{Problems: []string{
			`in.json:1:1006: corrupt: values nested more than 1000 deep`,
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := collect(t, ReadJSON, tt.in, nil)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			// Reading a byte at a time, or through a small window that
			// is refilled and grown all the time, changes nothing.
			if again := collect(t, ReadJSON, tt.in, iotest.OneByteReader); !cmp.Equal(got, again) {
				t.Errorf("one byte a read:\n%s", cmp.Diff(got, again))
			}
			for _, size := range []int{1, 7, 64} {
				if again := collect(t, readSmall(size), tt.in, iotest.HalfReader); !cmp.Equal(got, again) {
					t.Errorf("window of %d bytes:\n%s", size, cmp.Diff(got, again))
				}
			}
		})
	}
}

var _ = errors.New
