package service_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/emac-dev/emac/internal/discovery"
	"github.com/emac-dev/emac/internal/discovery/input"
	"github.com/emac-dev/emac/internal/discovery/nezha"
	"github.com/emac-dev/emac/internal/gen"
	"github.com/emac-dev/emac/internal/service"
	"github.com/emac-dev/emac/internal/sim/trace"
)

// otlpInput is an OTLP JSON input of about 128 MB, one TracesData per line
// as the collector's file exporter writes it: 40 batches of 200 traced
// executions of a realistic 20-leaf journey.
var otlpInput = sync.OnceValue(func() []byte {
	j := gen.Realistic(7, 20, 4)
	var b bytes.Buffer
	for i := range 40 {
		td, err := trace.Generate(context.Background(), j, trace.Options{Count: 200, Seed: uint64(i + 1)})
		if err != nil {
			panic(err)
		}
		line, err := td.JSON()
		if err != nil {
			panic(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.Bytes()
})

// BenchmarkDiscoverOTLP is the whole discovery of otlpInput: decoding,
// assembling, counting and inferring the model.
func BenchmarkDiscoverOTLP(b *testing.B) {
	in := otlpInput()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		d, err := service.Discover(context.Background(), []string{"-"}, service.DiscoverOptions{Input: input.Options{Stdin: bytes.NewReader(in)}})
		if err != nil {
			b.Fatal(err)
		}
		if len(d.Model.Flows) == 0 {
			b.Fatal("no flow")
		}
	}
}

// BenchmarkDecodeOTLPPdata only decodes the same input with the
// collector's reference decoder (pdata's ptrace.JSONUnmarshaler, a line at
// a time): the baseline of BenchmarkDiscoverOTLP (target ≤ 1.5×).
func BenchmarkDecodeOTLPPdata(b *testing.B) {
	in := otlpInput()
	b.SetBytes(int64(len(in)))
	var u ptrace.JSONUnmarshaler
	for b.Loop() {
		sc := bufio.NewScanner(bytes.NewReader(in))
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		spans := 0
		for sc.Scan() {
			td, err := u.UnmarshalTraces(sc.Bytes())
			if err != nil {
				b.Fatal(err)
			}
			spans += td.SpanCount()
		}
		if spans == 0 {
			b.Fatal("no spans")
		}
	}
}

// nezhaInput is a few of the Online Boutique span tables, decompressed.
var nezhaInput = sync.OnceValue(func() []byte {
	if nezhaOB == "" {
		return nil
	}
	files, _ := filepath.Glob(filepath.Join(nezhaOB, "trace", "*.csv.gz"))
	var b bytes.Buffer
	for i, f := range files {
		if i == 8 {
			break
		}
		r, err := os.Open(f)
		if err != nil {
			panic(err)
		}
		z, err := gzip.NewReader(r)
		if err != nil {
			panic(err)
		}
		data, err := io.ReadAll(z)
		if err != nil {
			panic(err)
		}
		r.Close()
		if i > 0 {
			data = data[bytes.IndexByte(data, '\n')+1:] // one header
		}
		b.Write(data)
	}
	return b.Bytes()
})

// BenchmarkDiscoverNezha is the whole discovery of nezhaInput.
func BenchmarkDiscoverNezha(b *testing.B) {
	in := nezhaInput()
	if len(in) == 0 {
		b.Skip("no Nezha data")
	}
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := service.Discover(context.Background(), []string{"-"}, service.DiscoverOptions{Input: input.Options{Stdin: bytes.NewReader(in)}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeNezhaCSV only reads the same input with encoding/csv:
// the baseline of BenchmarkDiscoverNezha (target ≤ 1.5×).
func BenchmarkDecodeNezhaCSV(b *testing.B) {
	in := nezhaInput()
	if len(in) == 0 {
		b.Skip("no Nezha data")
	}
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		r := csv.NewReader(bytes.NewReader(in))
		r.ReuseRecord = true
		rows := 0
		for {
			_, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			rows++
		}
		if rows == 0 {
			b.Fatal("no rows")
		}
	}
}

// BenchmarkModelNezha is the inference alone on nezhaInput's evidence
// (flows, edges, domains): the part of BenchmarkDiscoverNezha that runs
// after the input is read.
func BenchmarkModelNezha(b *testing.B) {
	in := nezhaInput()
	if len(in) == 0 {
		b.Skip("no Nezha data")
	}
	d, err := service.Discover(context.Background(), []string{"-"}, service.DiscoverOptions{Input: input.Options{Stdin: bytes.NewReader(in)}})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if m := d.Evidence.Model(nil); len(m.Flows) == 0 {
			b.Fatal("no flow")
		}
	}
}

// BenchmarkAssembleNezha is assembling and folding nezhaInput's spans
// alone, on one goroutine (no workers): the CPU BenchmarkDiscoverNezha
// spends on each span once it is read.
func BenchmarkAssembleNezha(b *testing.B) {
	in := nezhaInput()
	if len(in) == 0 {
		b.Skip("no Nezha data")
	}
	var c discovery.Collector
	if err := nezha.Read(context.Background(), "-", bytes.NewReader(in), &c); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		a := discovery.NewAssembler(discovery.Options{})
		for i := range c.Spans {
			if err := a.Span(&c.Spans[i]); err != nil {
				b.Fatal(err)
			}
		}
		if ev := a.Close(); ev.Traces == 0 {
			b.Fatal("no trace")
		}
	}
}
