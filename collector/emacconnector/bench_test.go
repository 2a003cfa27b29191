package emacconnector

import (
	"context"
	"encoding/binary"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/connector/servicegraphconnector"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/emac-dev/emac/internal/gen"
)

// benchBatches are the batches every connector is fed: 16 batches of 50
// executions each of one realistic journey of 40 calls, as a receiver
// would hand them over (the same journey, different executions and trace
// ids). They are
// made once, by the first benchmark that asks.
func benchBatches(b *testing.B) []ptrace.Traces {
	batchesOnce.Do(func() {
		j := gen.Realistic(1, 40, 3)
		bs := make([]ptrace.Traces, 16)
		for i := range bs {
			bs[i] = journeyTraces(b, j, uint64(i+1), 50)
		}
		batches = bs
	})
	if batches == nil {
		b.Fatal("no batches: making them failed")
	}
	return batches
}

var (
	batchesOnce sync.Once
	batches     []ptrace.Traces
)

// rekeys counts the batches' rekeyings: their trace ids are the
// original ones xor rekeys, so ids never repeat.
var rekeys uint64

// rekey xors every trace id of td with k, so that a batch fed again is
// new traces (a connector that saw the ids before would merge them into
// old traces), keeping which spans share a trace.
func rekey(td ptrace.Traces, k uint64) {
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				id := [16]byte(sp.TraceID())
				binary.BigEndian.PutUint64(id[8:], binary.BigEndian.Uint64(id[8:])^k)
				sp.SetTraceID(pcommon.TraceID(id))
			}
		}
	}
}

// benchConnector feeds the batches, in turn, to a connector from f with
// configuration cfg, reporting spans/s, bytes allocated per span and the
// heap the connector holds at the end (B-held).
func benchConnector(b *testing.B, f connector.Factory, cfg component.Config) {
	batches := benchBatches(b)
	perBatch := make([]int, len(batches))
	for i, td := range batches {
		perBatch[i] = td.SpanCount()
	}
	ctx := context.Background()
	c, err := f.CreateTracesToMetrics(ctx, connectortest.NewNopSettings(f.Type()), cfg, consumertest.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Start(ctx, componenttest.NewNopHost()); err != nil {
		b.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	b.ResetTimer()
	spans := 0
	for i := range b.N {
		j := i % len(batches)
		if j == 0 && i > 0 {
			b.StopTimer()
			prev := rekeys
			rekeys++
			for _, td := range batches {
				rekey(td, prev^rekeys)
			}
			b.StartTimer()
		}
		if err := c.ConsumeTraces(ctx, batches[j]); err != nil {
			b.Fatal(err)
		}
		spans += perBatch[j]
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(spans)/b.Elapsed().Seconds(), "spans/s")
	b.ReportMetric(float64(alloc)/float64(spans), "B/span")
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)), "B-held")
	if err := c.Shutdown(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkConnectors measures emac's connector and the contrib
// servicegraph connector on the same batches in one run, so their
// figures compare. An op is one batch (50 traces, about 3500 spans).
//
// servicegraph's default store (max_items 1000) holds fewer unpaired
// client/server spans than one batch has, so it drops most edges (it
// pairs about 1 in 6 of these batches' calls): service_graph runs with a
// store large enough to pair them all, the like of emac folding every
// trace; service_graph_default is as configured out of the box.
func BenchmarkConnectors(b *testing.B) {
	emac := NewFactory()
	b.Run("emac", func(b *testing.B) { benchConnector(b, emac, emac.CreateDefaultConfig()) })
	sg := servicegraphconnector.NewFactory()
	b.Run("service_graph", func(b *testing.B) {
		cfg := sg.CreateDefaultConfig().(*servicegraphconnector.Config)
		cfg.Store.MaxItems = 100_000
		benchConnector(b, sg, cfg)
	})
	b.Run("service_graph_default", func(b *testing.B) { benchConnector(b, sg, sg.CreateDefaultConfig()) })
}

// BenchmarkFlush measures one export of emac's evidence of the batches
// (Families, then toMetrics; the next consumer discards them): the cost
// every flush_interval, which grows with the evidence, not the traffic.
// The servicegraph connector's flush is unexported, so it has no twin.
func BenchmarkFlush(b *testing.B) {
	cfg := createDefaultConfig()
	cfg.Idle = time.Nanosecond // the first flush folds every trace in
	sink := new(consumertest.MetricsSink)
	c := newConnector(zap.NewNop(), cfg, sink)
	ctx := context.Background()
	for _, td := range benchBatches(b) {
		if err := c.ConsumeTraces(ctx, td); err != nil {
			b.Fatal(err)
		}
	}
	if err := c.flush(ctx); err != nil {
		b.Fatal(err)
	}
	points := sink.DataPointCount()
	c.next = consumertest.NewNop() // a sink would hold every flush
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := c.flush(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(points), "points")
}
