package emacconnector

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/emac-dev/emac/internal/discovery"
	"github.com/emac-dev/emac/internal/discovery/otlp"
)

// connectorImpl folds traces into a Recorder and exports its families
// every FlushInterval. The Recorder is not safe for concurrent use, and
// receivers call ConsumeTraces concurrently, so mu serialises every call
// into it.
type connectorImpl struct {
	cfg    *Config
	next   consumer.Metrics
	logger *zap.Logger

	mu  sync.Mutex
	rec *discovery.Recorder
	// families is rec.Families; tests replace it to flush a known
	// list without depending on what the Recorder makes of traces.
	families func(now int64) []discovery.Family

	// start is the start timestamp of the cumulative metrics: the
	// Recorder's counts are since the connector started.
	start pcommon.Timestamp
	// stop ends the flush loop; done is closed when it has returned.
	stop, done chan struct{}
	// flushMu keeps the loop's last flush and Shutdown's from
	// interleaving, so metrics reach next in time order.
	flushMu sync.Mutex
}

func newConnector(logger *zap.Logger, cfg *Config, next consumer.Metrics) *connectorImpl {
	rec := discovery.NewRecorder(cfg.options(), cfg.limits())
	return &connectorImpl{
		cfg:      cfg,
		next:     next,
		logger:   logger,
		rec:      rec,
		families: rec.Families,
		start:    pcommon.NewTimestampFromTime(time.Now()),
	}
}

// Capabilities implements consumer.Traces: the traces are only read.
func (c *connectorImpl) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

// Start implements component.Component: it starts the flush loop.
func (c *connectorImpl) Start(context.Context, component.Host) error {
	c.start = pcommon.NewTimestampFromTime(time.Now())
	c.stop, c.done = make(chan struct{}), make(chan struct{})
	go c.loop(c.stop, c.done)
	return nil
}

// loop flushes every FlushInterval until stop is closed. Its context is
// its own: Start's ends when Start returns.
func (c *connectorImpl) loop(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(c.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if err := c.flush(context.Background()); err != nil {
				c.logger.Warn("exporting the emac evidence failed", zap.Error(err))
			}
		}
	}
}

// Shutdown implements component.Component: it stops the flush loop and
// flushes once more, so the last traces' counts are not lost.
func (c *connectorImpl) Shutdown(ctx context.Context) error {
	if c.stop == nil { // never started, or shut down already
		return nil
	}
	close(c.stop)
	c.stop = nil
	select {
	case <-c.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return c.flush(ctx)
}

// ConsumeTraces implements consumer.Traces. It fails only when ctx is
// done (otlp.Traces looks every so many spans): spans it cannot use are
// counted as problems in the evidence, and exporting happens in flush,
// so a failed export never fails traces.
func (c *connectorImpl) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return otlp.Traces(ctx, "otlp", td, c.rec)
}

// flush exports the evidence so far. The Recorder is held only while it
// makes the families: converting and exporting them happen unlocked, so
// traces keep flowing meanwhile (Families returns a snapshot).
func (c *connectorImpl) flush(ctx context.Context) error {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	now := time.Now()
	c.mu.Lock()
	fams := c.families(now.UnixNano())
	c.mu.Unlock()
	if len(fams) == 0 {
		return nil
	}
	return c.next.ConsumeMetrics(ctx, toMetrics(fams, c.start, pcommon.NewTimestampFromTime(now)))
}
