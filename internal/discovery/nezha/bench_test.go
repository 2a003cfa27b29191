package nezha_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"os"
	"testing"

	"github.com/emac-dev/emac/internal/discovery"
	"github.com/emac-dev/emac/internal/discovery/nezha"
)

// FuzzRead: no input makes Read panic or return an error (the input is
// in memory; a broken gzip stream is a problem, not an error), and every
// span it gives is whole.
func FuzzRead(f *testing.F) {
	for _, name := range []string{"ob-03_53-head.csv.gz", "tt-11_51-head.csv.gz"} {
		gz, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(gz)
		plain := gunzip(f, "testdata/"+name)
		f.Add(plain[:bytes.IndexByte(plain[200:], '\n')+201])
	}
	f.Add([]byte("SpanID,TraceID,StartTimeUnixNano,Duration,PodName,ParentID,OperationName\nb,t,1,2,redis-0,root,\"a \"\"quoted\"\" op\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c discovery.Collector
		if err := nezha.Read(context.Background(), "f", bytes.NewReader(data), &c); err != nil {
			t.Fatalf("Read: %v", err)
		}
		for _, s := range c.Spans {
			if s.TraceID == "" || s.SpanID == "" || s.Service == "" || s.Placement.Pod == "" || s.End < s.Start || s.Pos.File != "f" || s.Pos.Line < 2 {
				t.Fatalf("a span not whole: %+v", s)
			}
		}
		for _, p := range c.Problems {
			if p.Pos.File != "f" || p.Detail == "" {
				t.Fatalf("a problem without its position or detail: %+v", p)
			}
		}
		_ = nezha.Sniff(data)
		_, _ = nezha.ReadFaults("f", bytes.NewReader(data))
		_, _ = nezha.ReadDependencies("f", bytes.NewReader(data))
	})
}

// benchData is four online-boutique tables, decompressed, one header:
// some 15 MB and 85000 rows.
func benchData(b *testing.B) ([]byte, int) {
	var out bytes.Buffer
	for i, name := range []string{"03_53", "03_54", "03_55", "04_02"} {
		data := gunzip(b, sharedFile(b, "online-boutique-2022-08-22/trace/"+name+"_trace.csv.gz"))
		if i > 0 {
			data = data[bytes.IndexByte(data, '\n')+1:]
		}
		out.Write(data)
	}
	return out.Bytes(), bytes.Count(out.Bytes(), []byte{'\n'}) - 1
}

// countSink counts; it keeps nothing, so it is an IDCopier, as the
// Assembler Read feeds in emac is.
type countSink struct{ spans, problems int }

func (c *countSink) Span(*discovery.Span) error  { c.spans++; return nil }
func (c *countSink) Problem(p discovery.Problem) { c.problems++ }
func (c *countSink) CopiesIDs() bool             { return true }

// BenchmarkRead reads the tables into a sink that counts; BenchmarkCSVOnly
// reads the same bytes with encoding/csv (ReuseRecord) and does nothing
// else: the floor Read is measured against.
func BenchmarkRead(b *testing.B) {
	data, rows := benchData(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var c countSink
		if err := nezha.Read(context.Background(), "bench", bytes.NewReader(data), &c); err != nil || c.spans != rows || c.problems > 0 {
			b.Fatal(err, c, rows)
		}
	}
}

func BenchmarkCSVOnly(b *testing.B) {
	data, rows := benchData(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		cr := csv.NewReader(bytes.NewReader(data))
		cr.ReuseRecord = true
		n := -1
		for {
			_, err := cr.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != rows {
			b.Fatal(n, rows)
		}
	}
}
