package jaeger_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/emac-dev/emac/internal/discovery"
	"github.com/emac-dev/emac/internal/discovery/jaeger"
	"github.com/emac-dev/emac/internal/discovery/readtest"
)

// FuzzRead: no input makes Read panic or return an error (the input is
// in memory: there is no I/O error to return), every span it gives is
// whole, and reading byte by byte gives the same spans at the same
// positions.
func FuzzRead(f *testing.F) {
	for _, path := range []string{"testdata/crisp/1.json", "testdata/crisp/15.json", "testdata/crisp/err_pattern1/err1.json"} {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"data":[{"traceID":"t","spans":[{"spanID":"a","startTime":1,"duration":1,"processID":"p","references":[{"refType":"FOLLOWS_FROM","spanID":"b"}],"tags":[{"key":"error","value":true}]}],"processes":{"p":{"serviceName":"s","tags":[{"key":"k8s.pod.name","value":"x"}]}}}]}`))
	f.Add([]byte(`{"data":[{"processes":{"p":{"serviceName":"s"}},"spans":[{"traceID":"t","spanID":"a","startTime":"1","duration":1e3,"processID":"p","tags":[{"key":"http.status_code","value":"x"}]}]}]}{"data":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		readtest.Fuzz(t, jaeger.Read, jaeger.Sniff, data, func(s *discovery.Span) bool {
			return s.TraceID != "" && s.SpanID != "" && s.Service != ""
		})
	})
}

// benchData is a Jaeger export of n traces of 12 spans each, with the
// tags and process tags OpenTelemetry's Jaeger exporter writes: about
// 1 KB a span.
func benchData(n int) []byte {
	type kv struct {
		Key   string `json:"key"`
		Type  string `json:"type"`
		Value any    `json:"value"`
	}
	type ref struct {
		RefType string `json:"refType"`
		TraceID string `json:"traceID"`
		SpanID  string `json:"spanID"`
	}
	var b bytes.Buffer
	b.WriteString(`{"data": [`)
	services := []string{"frontend", "cart", "checkout", "currency", "payment", "shipping"}
	for t := range n {
		traceID := fmt.Sprintf("%032x", t*7919+1)
		spans := []map[string]any{}
		for s := range 12 {
			refs := []ref{}
			if s > 0 {
				refs = append(refs, ref{"CHILD_OF", traceID, fmt.Sprintf("%016x", (s-1)/2+1)})
			}
			kind := []string{"server", "client"}[s%2]
			tags := []kv{
				{"span.kind", "string", kind},
				{"otel.library.name", "string", "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"},
				{"http.method", "string", "GET"},
				{"http.url", "string", "http://" + services[s%6] + ":8080/api/v1/items/" + fmt.Sprint(s)},
				{"http.status_code", "int64", 200 + 300*(t%50/49)},
				{"net.peer.name", "string", services[(s+1)%6]},
				{"internal.span.format", "string", "otlp"},
			}
			if t%10 == 0 && s == 3 {
				tags = append(tags, kv{"error", "bool", true}, kv{"otel.status_description", "string", "context deadline exceeded"})
			}
			spans = append(spans, map[string]any{
				"traceID": traceID, "spanID": fmt.Sprintf("%016x", s+1), "operationName": "GET /api/v1/items/{id}",
				"references": refs, "startTime": 1661140374351773 + t*1000 + s*10, "duration": 1000 - s*50,
				"tags": tags, "logs": []any{}, "processID": fmt.Sprintf("p%d", s%6+1), "warnings": nil,
			})
		}
		procs := map[string]any{}
		for i, svc := range services {
			procs[fmt.Sprintf("p%d", i+1)] = map[string]any{"serviceName": svc, "tags": []kv{
				{"host.name", "string", svc + "-host"}, {"k8s.pod.name", "string", svc + "-579b9bff58-t2dbm"},
				{"k8s.node.name", "string", "node-" + fmt.Sprint(i%3)}, {"telemetry.sdk.language", "string", "go"},
			}}
		}
		// Half the traces have their processes after their spans.
		var tr []byte
		if t%2 == 0 {
			sp, _ := json.Marshal(spans)
			pr, _ := json.Marshal(procs)
			tr = []byte(fmt.Sprintf(`{"traceID": %q, "spans": %s, "processes": %s, "warnings": null}`, traceID, sp, pr))
		} else {
			tr, _ = json.Marshal(map[string]any{"traceID": traceID, "processes": procs, "spans": spans, "warnings": nil})
		}
		if t > 0 {
			b.WriteString(",\n")
		}
		b.Write(tr)
	}
	b.WriteString(`], "total": 0, "limit": 0, "offset": 0, "errors": null}`)
	return b.Bytes()
}

// data is the benchmarks' input, made once.
var data = sync.OnceValue(func() []byte { return benchData(2000) })

func TestBenchData(t *testing.T) {
	in := benchData(20)
	var c discovery.Collector
	if err := jaeger.Read(context.Background(), "bench", bytes.NewReader(in), &c); err != nil {
		t.Fatal(err)
	}
	if len(c.Spans) != 240 || len(c.Problems) != 0 {
		t.Fatalf("got %d spans, %d problems (%v); want 240 spans, no problems", len(c.Spans), len(c.Problems), c.Problems[:min(3, len(c.Problems))])
	}
	errors, timeouts := 0, 0
	for _, s := range c.Spans {
		switch s.Outcome {
		case discovery.Error:
			errors++
		case discovery.Timeout:
			timeouts++
		}
	}
	if errors != 0 || timeouts != 2 {
		t.Errorf("got %d errors, %d timeouts; want 0, 2", errors, timeouts)
	}
	if !strings.Contains(c.Spans[1].Placement.Pod, "-579b9bff58-") {
		t.Errorf("placement %+v", c.Spans[1].Placement)
	}
}

// BenchmarkRead reads a 2000-trace export (24000 spans) into a sink
// that counts; BenchmarkJSON unmarshals the same bytes with encoding/json
// into structs of the format's shape (tag values any) and does nothing
// else; BenchmarkJSONAny into an any.
func BenchmarkRead(b *testing.B) {
	in := data()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		var c readtest.CountSink
		if err := jaeger.Read(context.Background(), "bench", bytes.NewReader(in), &c); err != nil || c.Spans != 24000 {
			b.Fatal(err, c)
		}
	}
}

func BenchmarkJSON(b *testing.B) {
	in := data()
	type kv struct {
		Key, Type string
		Value     any
	}
	type doc struct {
		Data []struct {
			TraceID string
			Spans   []struct {
				TraceID, SpanID, OperationName, ProcessID string
				References                                []struct{ RefType, TraceID, SpanID string }
				StartTime, Duration                       int64
				Tags                                      []kv
				Logs                                      []struct {
					Timestamp int64
					Fields    []kv
				}
				Warnings []string
			}
			Processes map[string]struct {
				ServiceName string
				Tags        []kv
			}
		}
	}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		var d doc
		if err := json.Unmarshal(in, &d); err != nil || len(d.Data) != 2000 {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSONAny(b *testing.B) {
	in := data()
	readtest.UnmarshalAny(b, in)
}
