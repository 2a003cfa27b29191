package emacconnector

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/emac-dev/emac/collector/emacconnector/internal/metadata"
	"github.com/emac-dev/emac/internal/discovery"
	"github.com/emac-dev/emac/internal/gen"
	"github.com/emac-dev/emac/internal/model"
	"github.com/emac-dev/emac/internal/sim/trace"
)

// simTraces returns count executions of a realistic journey with leaves
// calls as pdata, the way a receiver hands them to the connector.
func simTraces(tb testing.TB, seed uint64, count, leaves int) ptrace.Traces {
	tb.Helper()
	return journeyTraces(tb, gen.Realistic(seed, leaves, 3), seed, count)
}

// journeyTraces returns count executions of j as pdata.
func journeyTraces(tb testing.TB, j *model.Journey, seed uint64, count int) ptrace.Traces {
	tb.Helper()
	td, err := trace.Generate(context.Background(), j, trace.Options{Count: count, Seed: seed})
	if err != nil {
		tb.Fatal(err)
	}
	js, err := td.JSON()
	if err != nil {
		tb.Fatal(err)
	}
	pt, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(js)
	if err != nil {
		tb.Fatal(err)
	}
	return pt
}

// newTest makes a connector through the factory, as a collector does,
// whose families are fams (counting the calls) instead of the Recorder's.
func newTest(t *testing.T, cfg *Config, next consumer.Metrics, fams []discovery.Family) (*connectorImpl, *int) {
	t.Helper()
	f := NewFactory()
	c, err := f.CreateTracesToMetrics(context.Background(), connectortest.NewNopSettings(metadata.Type), cfg, next)
	if err != nil {
		t.Fatal(err)
	}
	ci := c.(*connectorImpl)
	var mu sync.Mutex
	calls := new(int)
	ci.families = func(int64) []discovery.Family {
		mu.Lock()
		defer mu.Unlock()
		*calls++
		return fams
	}
	return ci, calls
}

func TestFactory(t *testing.T) {
	f := NewFactory()
	if f.Type() != component.MustNewType("emac") {
		t.Errorf("type %v", f.Type())
	}
	if f.TracesToMetricsStability() != component.StabilityLevelDevelopment {
		t.Errorf("stability %v", f.TracesToMetricsStability())
	}
	// only traces → metrics
	if _, err := f.CreateTracesToTraces(context.Background(), connectortest.NewNopSettings(metadata.Type), f.CreateDefaultConfig(), consumertest.NewNop()); err == nil {
		t.Error("traces → traces created")
	}
	c, err := f.CreateTracesToMetrics(context.Background(), connectortest.NewNopSettings(metadata.Type), f.CreateDefaultConfig(), consumertest.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if c.Capabilities().MutatesData {
		t.Error("the connector claims to mutate traces")
	}
}

// TestFlushLoop: every flush_interval the families reach the next
// consumer as metrics; Shutdown stops the loop and flushes once more.
func TestFlushLoop(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.FlushInterval = 10 * time.Millisecond
	sink := new(consumertest.MetricsSink)
	c, calls := newTest(t, cfg, sink, fakeFamilies())
	if err := c.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(sink.AllMetrics()) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no flush in 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	n := len(sink.AllMetrics())
	if n != *calls {
		t.Errorf("%d flushes reached the sink, Families called %d times", n, *calls)
	}
	time.Sleep(5 * cfg.FlushInterval)
	if len(sink.AllMetrics()) != n {
		t.Error("flushed after Shutdown")
	}
	// the shape is toMetrics' (TestToMetrics): the families, all of them
	for _, md := range sink.AllMetrics() {
		if md.MetricCount() != 3 || md.DataPointCount() != 5 {
			t.Errorf("%d metrics, %d points", md.MetricCount(), md.DataPointCount())
		}
		rm := md.ResourceMetrics().At(0)
		if got := rm.ScopeMetrics().At(0).Metrics().At(0).Name(); got != "emac_discovery_calls_total" {
			t.Errorf("first metric %q", got)
		}
	}
	// a later flush's counters keep the start time, and time moves on
	all := sink.AllMetrics()
	first := all[0].ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Sum().DataPoints().At(0)
	last := all[len(all)-1].ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Sum().DataPoints().At(0)
	if first.StartTimestamp() != last.StartTimestamp() || first.StartTimestamp() == 0 || last.Timestamp() <= first.Timestamp() {
		t.Errorf("start %v then %v, time %v then %v", first.StartTimestamp(), last.StartTimestamp(), first.Timestamp(), last.Timestamp())
	}
}

// TestShutdownFlushes: with an interval longer than the test, only
// Shutdown's flush exports, and a second Shutdown does nothing.
func TestShutdownFlushes(t *testing.T) {
	sink := new(consumertest.MetricsSink)
	c, calls := newTest(t, createDefaultConfig(), sink, fakeFamilies())
	if err := c.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(sink.AllMetrics()) != 1 || *calls != 1 {
		t.Errorf("%d exports, %d Families calls; want 1", len(sink.AllMetrics()), *calls)
	}
}

// TestShutdownUnstarted: a collector may shut a component down that it
// never started (another failed to start): nothing to flush then.
func TestShutdownUnstarted(t *testing.T) {
	sink := new(consumertest.MetricsSink)
	c, calls := newTest(t, createDefaultConfig(), sink, fakeFamilies())
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(sink.AllMetrics()) != 0 || *calls != 0 {
		t.Error("flushed without a start")
	}
}

// TestNoFamilies: an empty evidence exports nothing rather than an
// empty batch.
func TestNoFamilies(t *testing.T) {
	sink := new(consumertest.MetricsSink)
	c, _ := newTest(t, createDefaultConfig(), sink, nil)
	if err := c.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(sink.AllMetrics()) != 0 {
		t.Error("exported an empty evidence")
	}
}

// TestExportError: a failing next consumer is Shutdown's error, and
// does not stop the loop from running.
func TestExportError(t *testing.T) {
	c, _ := newTest(t, createDefaultConfig(), consumertest.NewErr(errExport), fakeFamilies())
	if err := c.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	if err := c.Shutdown(context.Background()); err != errExport {
		t.Errorf("Shutdown() = %v, want %v", err, errExport)
	}
}

var errExport = errorString("export failed")

type errorString string

func (e errorString) Error() string { return string(e) }

// TestConsumeTraces runs the real Recorder: traces consumed from several
// goroutines at once (as receivers do) while the loop flushes, then
// Shutdown, whose flush folds in every trace (idle 1ms) and exports them.
// What the families hold is internal/discovery's to test; here, that the
// traces reach them.
func TestConsumeTraces(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.Idle, cfg.FlushInterval = time.Millisecond, time.Millisecond
	sink := new(consumertest.MetricsSink)
	c, err := NewFactory().CreateTracesToMetrics(context.Background(), connectortest.NewNopSettings(metadata.Type), cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	const workers, batches, perBatch = 4, 3, 20
	tds := make([]ptrace.Traces, workers*batches)
	// the traces: async calls start traces of their own, so there are
	// more than executions
	ids := map[pcommon.TraceID]bool{}
	for i := range tds {
		tds[i] = simTraces(t, uint64(i+1), perBatch, 12)
		for _, rs := range tds[i].ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					ids[sp.TraceID()] = true
				}
			}
		}
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for _, td := range tds[w*batches : (w+1)*batches] {
				if err := c.ConsumeTraces(context.Background(), td); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	time.Sleep(10 * time.Millisecond) // past idle, so the last flush folds all
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	all := sink.AllMetrics()
	if len(all) == 0 {
		t.Fatal("nothing exported")
	}
	got := -1.0
	ms := all[len(all)-1].ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	for _, m := range ms.All() {
		if m.Name() == "emac_discovery_traces_total" {
			got = m.Sum().DataPoints().At(0).DoubleValue()
		}
	}
	if got != float64(len(ids)) {
		t.Errorf("emac_discovery_traces_total %v, want %d", got, len(ids))
	}
}
