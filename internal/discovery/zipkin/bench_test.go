package zipkin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/emac-dev/emac/internal/discovery"
	"github.com/emac-dev/emac/internal/discovery/readtest"
	"github.com/emac-dev/emac/internal/discovery/zipkin"
)

// FuzzRead: no input makes Read panic or return an error (the input is
// in memory), every span it gives is whole, and reading byte by byte
// gives the same spans at the same positions.
func FuzzRead(f *testing.F) {
	for _, name := range []string{"skew.json", "envoy.json", "messaging.json", "yelp.json"} {
		data, err := os.ReadFile(filepath.Join("testdata/zipkin-lens", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`[[{"traceId":"A","id":"1","parentId":"0","kind":"SERVER","shared":true,"localEndpoint":{"serviceName":"s","ipv4":"1.2.3.4","port":8},"tags":{"error":"timeout","http.status_code":"503"}}]]`))
	f.Add([]byte(`[{"traceId":"a","id":"1","annotations":[{"timestamp":1,"value":"cs","endpoint":{}}]}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		readtest.Fuzz(t, zipkin.Read, zipkin.Sniff, data, func(s *discovery.Span) bool {
			return len(s.TraceID) == 32 && len(s.SpanID) >= 16 && s.Service != ""
		})
	})
}

// data is the benchmarks' input: the spans of the zipkin-lens test data
// in testdata, one array, repeated to about 8 MB (some 13000 spans).
var data = sync.OnceValues(func() ([]byte, int) {
	files, _ := filepath.Glob("testdata/zipkin-lens/*.json")
	var spans []json.RawMessage
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			panic(err)
		}
		var s []json.RawMessage
		if err := json.Unmarshal(b, &s); err != nil {
			panic(err)
		}
		spans = append(spans, s...)
	}
	if len(spans) == 0 {
		panic("no spans in testdata/zipkin-lens (run from the package's directory)")
	}
	var all []json.RawMessage
	for len(all) < 13000 {
		all = append(all, spans...)
	}
	out, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		panic(err)
	}
	return out, len(all)
})

// BenchmarkRead reads the data into a sink that counts; BenchmarkJSON
// unmarshals the same bytes with encoding/json into structs of the
// format's shape and does nothing else; BenchmarkJSONAny into an any.
func BenchmarkRead(b *testing.B) {
	in, n := data()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		var c readtest.CountSink
		if err := zipkin.Read(context.Background(), "bench", bytes.NewReader(in), &c); err != nil || c.Spans+c.Problems != n {
			b.Fatal(err, c, n)
		}
	}
}

func BenchmarkJSON(b *testing.B) {
	in, n := data()
	type endpoint struct {
		ServiceName string `json:"serviceName"`
		IPv4        string `json:"ipv4"`
		IPv6        string `json:"ipv6"`
		Port        int    `json:"port"`
	}
	type span struct {
		TraceID        string            `json:"traceId"`
		ID             string            `json:"id"`
		ParentID       string            `json:"parentId"`
		Name           string            `json:"name"`
		Kind           string            `json:"kind"`
		Timestamp      int64             `json:"timestamp"`
		Duration       int64             `json:"duration"`
		LocalEndpoint  *endpoint         `json:"localEndpoint"`
		RemoteEndpoint *endpoint         `json:"remoteEndpoint"`
		Annotations    []json.RawMessage `json:"annotations"`
		Tags           map[string]string `json:"tags"`
		Debug, Shared  bool
	}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		var d []span
		if err := json.Unmarshal(in, &d); err != nil || len(d) != n {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSONAny(b *testing.B) {
	in, _ := data()
	readtest.UnmarshalAny(b, in)
}
