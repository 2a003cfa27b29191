package otlp

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/emac-dev/emac/internal/discovery"
	"github.com/emac-dev/emac/internal/gen"
	"github.com/emac-dev/emac/internal/sim/trace"
)

// benchInput is the benchmarks' input: 1600 executions of a realistic
// journey of 20 services, about 22 MB of OTLP JSON, and the same traces
// in protobuf.
var benchInput = sync.OnceValues(func() ([]byte, []byte) {
	td, err := trace.Generate(context.Background(), gen.Realistic(1, 20, 5), trace.Options{Count: 1600, Seed: 1})
	if err != nil {
		panic(err)
	}
	js, err := td.JSON()
	if err != nil {
		panic(err)
	}
	pt, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(js)
	if err != nil {
		panic(err)
	}
	pb, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(pt)
	if err != nil {
		panic(err)
	}
	return js, pb
})

// benchRead runs a reader over data with a sink that counts spans.
func benchRead(b *testing.B, read func(context.Context, string, io.Reader, discovery.Sink) error, data []byte) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var c counter
	for b.Loop() {
		c = counter{}
		if err := read(context.Background(), "bench", bytes.NewReader(data), &c); err != nil || c.problems > 0 {
			b.Fatal(err, c.problems)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(c.spans), "ns/span")
}

// BenchmarkReadJSON reads OTLP JSON into spans.
func BenchmarkReadJSON(b *testing.B) {
	js, _ := benchInput()
	benchRead(b, ReadJSON, js)
}

// BenchmarkPdataJSON is pdata's JSON unmarshaler alone on the same bytes
// (it builds its tree; nothing walks it).
func BenchmarkPdataJSON(b *testing.B) {
	js, _ := benchInput()
	b.SetBytes(int64(len(js)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(js); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadProto reads the same traces in protobuf into spans.
func BenchmarkReadProto(b *testing.B) {
	_, pb := benchInput()
	benchRead(b, ReadProto, pb)
}

// BenchmarkPdataProto is pdata's protobuf unmarshaler alone on the same
// bytes.
func BenchmarkPdataProto(b *testing.B) {
	_, pb := benchInput()
	b.SetBytes(int64(len(pb)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(pb); err != nil {
			b.Fatal(err)
		}
	}
}
