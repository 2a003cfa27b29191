package otlp

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/emac-dev/emac/internal/discovery"
	"github.com/emac-dev/emac/internal/model"
)

var update = flag.Bool("update", false, "rewrite the fuzz seed corpus in testdata/fuzz")

// small is a journey of a few calls with a retry and an async call: its
// traces are small seeds.
func small(t testing.TB) *model.Journey {
	t.Helper()
	j, err := model.Build("small", "Seq(a, Retry[attempts=2](b), Async(c))", map[string]float64{"a": 1, "b": 0.5, "c": 1},
		map[string][]string{"zone-a": {"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range j.Components {
		c.Latency = []model.LatencyPoint{{Quantile: 0.5, Value: 10 * time.Millisecond}}
	}
	return j
}

// jsonSeeds and protoSeeds are small valid inputs, and a few that are
// not.
func jsonSeeds(t testing.TB) [][]byte {
	js := jsonOf(t, generate(t, small(t), 2))
	var lines [][]byte
	for _, one := range split(pdataTraces(t, js)) {
		b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(one)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, b)
	}
	return [][]byte{
		js,
		bytes.Join(lines, []byte("\n")),
		[]byte(doc(res("a", span(sid1, `"name":"n"`, `"kind":"SPAN_KIND_CLIENT"`, `"startTimeUnixNano":"1"`, `"endTimeUnixNano":2`,
			attrList(attr("peer.service", str("b")), attr("http.request.resend_count", `{"intValue":"1"}`), attr("k8s.pod.name", str("p"))),
			`"links":[{"traceId":"`+tid1+`","spanId":"`+sid2+`"}]`, `"status":{"code":2,"message":"cancelled"}`)))),
		[]byte(`{"resourceSpans":[{"instrumentationLibrarySpans":[{"spans":[` + span(sid1, `"parentSpanId":"`+sid2+`"`) + `]}],` +
			`"resource":{"attributes":[` + attr("service.name", str("a\\u00e9")) + `]}}]}` + "\n"),
		[]byte("{\n \"resourceSpans\": [\n  " + res("a", "\n   "+span(sid1, `"kind":9`)) + "\n ]\n}\n"),
		[]byte(doc(res("a", span(sid1), span(sid2)))[:200]),
	}
}

func protoSeeds(t testing.TB) [][]byte {
	pt := pdataTraces(t, jsonOf(t, generate(t, small(t), 2)))
	var msgs [][]byte
	for _, one := range split(pt) {
		msgs = append(msgs, protoOf(t, one))
	}
	good := pres(service("a"), pspan(sid1, strf(5, "GET /x"), varf(6, 2), fixed64f(7, 1000), fixed64f(8, 2000)),
		pspan(sid2, hexf(4, sid1), varf(6, 3), kv("peer.service", sval("b")), kv("http.request.resend_count", ival(1)),
			lenf(13, hexf(1, tid1), hexf(2, sid1)), lenf(15, strf(2, "deadline exceeded"), varf(3, 2))))
	return [][]byte{
		protoOf(t, pt),
		frame(msgs...),
		good,
		frame(good, []byte{0x0a, 0xff, 0xff, 0x01, 0x02}, good),
		pres(service("a"), pspan(sid1), cat(hexf(1, "010203"), hexf(2, sid2))),
	}
}

// TestFuzzSeeds writes the seed corpus with -update. The fuzz targets
// add the same seeds themselves, fresh from the generator; the files
// keep them with the corpus the fuzzing found.
func TestFuzzSeeds(t *testing.T) {
	if !*update {
		t.Skip("rewrites testdata/fuzz/*/seed-* with -update")
	}
	for name, seeds := range map[string][][]byte{"FuzzReadJSON": jsonSeeds(t), "FuzzReadProto": protoSeeds(t)} {
		dir := filepath.Join("testdata", "fuzz", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range seeds {
			path := filepath.Join(dir, fmt.Sprintf("seed-%d", i))
			if err := os.WriteFile(path, []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// checkSpans checks what must hold of any span a reader gives, and of
// any problem, whatever the input.
func checkSpans(t *testing.T, data []byte, c *discovery.Collector) {
	t.Helper()
	hex := func(s string, n int) bool {
		if len(s) != n {
			return false
		}
		for _, r := range s {
			if !strings.ContainsRune("0123456789abcdef", r) {
				return false
			}
		}
		return strings.Trim(s, "0") != ""
	}
	for i, s := range c.Spans {
		ok := hex(s.TraceID, 32) && hex(s.SpanID, 16) && (s.ParentID == "" || hex(s.ParentID, 16)) && s.Service != "" &&
			s.Kind <= discovery.KindConsumer && s.Outcome <= discovery.Cancelled && s.Start >= 0 && s.End >= 0 && s.Resend >= 0 &&
			s.Pos.File == "f" && strings.HasPrefix(strings.TrimLeft(s.Pos.Record, "message[0123456789]."), "resourceSpans[") &&
			s.Pos.Offset >= 0 && s.Pos.Offset < int64(len(data))
		for _, l := range s.Links {
			ok = ok && hex(l.TraceID, 32) && hex(l.SpanID, 16)
		}
		if !ok {
			t.Fatalf("span %d is not well formed: %+v", i, s)
		}
	}
	for i, p := range c.Problems {
		if p.Pos.File != "f" || p.Kind > discovery.Unsupported || p.Detail == "" || p.Pos.Offset < 0 || p.Pos.Offset > int64(len(data)) {
			t.Fatalf("problem %d is not well formed: %+v", i, p)
		}
	}
}

// lineCol is the line and column of offset x in data, counted plainly.
func lineCol(data []byte, x int64) (int, int) {
	before := data[:x]
	return bytes.Count(before, []byte("\n")) + 1, int(x) - bytes.LastIndexByte(before, '\n')
}

func readAll(t *testing.T, rd func(context.Context, string, io.Reader, discovery.Sink) error, r io.Reader) *discovery.Collector {
	var c discovery.Collector
	if err := rd(context.Background(), "f", r, &c); err != nil {
		t.Fatalf("error %v", err)
	}
	return &c
}

// FuzzReadJSON: any input reads without a panic or an error; the spans
// and problems are well formed, at the lines and columns of their
// offsets, each span at its object's brace; reading a byte at a time, or
// through a small window, changes nothing; and a document pdata reads that gives no problem
// gives pdata's spans.
func FuzzReadJSON(f *testing.F) {
	for _, s := range jsonSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := readAll(t, ReadJSON, bytes.NewReader(data))
		checkSpans(t, data, c)
		for _, s := range c.Spans {
			if data[s.Pos.Offset] != '{' {
				t.Fatalf("span at offset %d: %q", s.Pos.Offset, data[s.Pos.Offset])
			}
		}
		for _, pos := range positions(c) {
			if pos.Offset == int64(len(data)) && pos.Line == 0 {
				continue
			}
			if l, col := lineCol(data, pos.Offset); pos.Line != l || pos.Col != col {
				t.Fatalf("%s: offset %d is at %d:%d", pos, pos.Offset, l, col)
			}
		}
		if again := readAll(t, ReadJSON, iotest.OneByteReader(bytes.NewReader(data))); !cmp.Equal(c, again) {
			t.Fatalf("one byte a read:\n%s", cmp.Diff(c, again))
		}
		if again := readAll(t, readSmall(3), iotest.HalfReader(bytes.NewReader(data))); !cmp.Equal(c, again) {
			t.Fatalf("a window of 3 bytes:\n%s", cmp.Diff(c, again))
		}
		// pdata reads the first of several documents only, no longer
		// reads the old names, and stops reading an object at an empty
		// key (its JSON iterator's end of object), without an error.
		if len(c.Problems) == 0 && json.Valid(data) && !bytes.Contains(data, []byte("instrumentationLibrary")) &&
			!bytes.Contains(data, []byte(`""`)) {
			samePdata(t, c, func() (ptrace.Traces, error) { return (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(data) })
		}
	})
}

// positions are the positions of what the reader gave.
func positions(c *discovery.Collector) []discovery.Pos {
	var out []discovery.Pos
	for _, s := range c.Spans {
		out = append(out, s.Pos)
	}
	for _, p := range c.Problems {
		if p.Pos.Line > 0 {
			out = append(out, p.Pos)
		}
	}
	return out
}

// samePdata checks that pdata, when it reads the input, reads the spans
// the reader gave, in the same order.
func samePdata(t *testing.T, c *discovery.Collector, unmarshal func() (ptrace.Traces, error)) {
	t.Helper()
	td, err := unmarshal()
	if err != nil {
		return
	}
	var ids []string
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				ids = append(ids, sp.TraceID().String()+"/"+sp.SpanID().String())
			}
		}
	}
	var got []string
	for _, s := range c.Spans {
		got = append(got, s.TraceID+"/"+s.SpanID)
	}
	if diff := cmp.Diff(ids, got); diff != "" {
		t.Fatalf("pdata reads other spans (-pdata +reader):\n%s", diff)
	}
}

// FuzzReadProto: any input reads without a panic or an error; the spans
// and problems are well formed, each span at its field; reading a byte
// at a time changes nothing; and an input pdata reads as one message
// that gives no problem gives pdata's spans.
func FuzzReadProto(f *testing.F) {
	for _, s := range protoSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := readAll(t, ReadProto, bytes.NewReader(data))
		checkSpans(t, data, c)
		for _, s := range c.Spans {
			if data[s.Pos.Offset] != 0x12 {
				t.Fatalf("span at offset %d: %#x", s.Pos.Offset, data[s.Pos.Offset])
			}
		}
		if again := readAll(t, ReadProto, iotest.OneByteReader(bytes.NewReader(data))); !cmp.Equal(c, again) {
			t.Fatalf("one byte a read:\n%s", cmp.Diff(c, again))
		}
		if len(c.Problems) == 0 && len(data) > 0 && !framed(data) {
			samePdata(t, c, func() (ptrace.Traces, error) { return (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(data) })
		}
	})
}
