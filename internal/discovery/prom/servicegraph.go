package prom

import (
	"context"
	"fmt"
	"strings"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/discovery"
)

// The servicegraph and spanmetrics connectors' metrics (SPEC §9; Tempo
// writes the service graph under the same names, its span metrics as
// traces_spanmetrics_*).
const (
	sgRequests = "traces_service_graph_request_total"
	sgFailed   = "traces_service_graph_request_failed_total"
	sgServer   = "traces_service_graph_request_server_seconds"
	smCalls    = "traces_span_metrics_calls_total"
	smDuration = "traces_span_metrics_duration_milliseconds"
	tempoCalls = "traces_spanmetrics_calls_total"
	tempoDur   = "traces_spanmetrics_latency"
)

// serviceGraphBasis says what service-graph counts cannot show.
const serviceGraphBasis = "read from the servicegraph (and spanmetrics) connectors' counts: services, edges, calls, errors and latencies only. " +
	"Counts per edge cannot show how calls compose (order, overlap, redundancy, retries, timeouts) nor which invocations make which calls, " +
	"so no flow is inferred, call probabilities are unknown ([0, 1]) and the confidence in flows is 0; emac's own connector exports what they need"

// serviceGraph reads the servicegraph connector's edges, with the
// spanmetrics connector's operations when they exist, as the families
// Rebuild knows.
func (r *reader) serviceGraph(ctx context.Context) (*Result, error) {
	edge := []string{discovery.LClient, discovery.LServer}
	var fams []discovery.Family
	read := func(dst, src string, by []string) error {
		ss, err := r.instant(ctx, r.counter(src, by), by)
		if err != nil {
			return err
		}
		fams = append(fams, discovery.Family{Name: dst, Type: discovery.Counter, Series: ss})
		return nil
	}
	if err := read(discovery.FamCalls, sgRequests, edge); err != nil {
		return nil, err
	}
	if err := read(discovery.FamCallErrors, sgFailed, edge); err != nil {
		return nil, err
	}
	durs, err := r.histogram(ctx, func(by []string) string { return r.counter(sgServer+"_bucket", by) }, sgServer+"_sum", edge, 1)
	if err != nil {
		return nil, err
	}
	fams = append(fams, discovery.Family{Name: discovery.FamCallDur, Type: discovery.Histogram, Series: durs})

	// operations, from span metrics: server spans are invocations
	calls, dur := smCalls, smDuration
	has, err := r.exists(ctx, calls)
	if err != nil {
		return nil, err
	}
	if !has {
		if has, err = r.exists(ctx, tempoCalls); err != nil {
			return nil, err
		}
		calls, dur = tempoCalls, tempoDur
	}
	format := SourceServiceGraph
	if has {
		format += "+spanmetrics"
		spans, err := r.instant(ctx, rename(r.counter(calls, []string{"service_name"}), "service_name", discovery.LService), []string{discovery.LService})
		if err != nil {
			return nil, err
		}
		fams = append(fams, discovery.Family{Name: discovery.FamSpans, Type: discovery.Counter, Series: spans})
		op := []string{discovery.LOperation, discovery.LService}
		// span metrics by service and span name (and more labels), under
		// the names of emac's own families
		byOp := func(selector string, more ...string) string {
			q := r.counter(selector, append([]string{"service_name", "span_name"}, more...))
			return rename(rename(q, "service_name", discovery.LService), "span_name", discovery.LOperation)
		}
		inv, err := r.instant(ctx, byOp(calls+`{span_kind="SPAN_KIND_SERVER"}`), op)
		if err != nil {
			return nil, err
		}
		fams = append(fams, discovery.Family{Name: discovery.FamInvocations, Type: discovery.Counter, Series: inv})
		errs, err := r.instant(ctx, byOp(calls+`{span_kind="SPAN_KIND_SERVER",status_code="STATUS_CODE_ERROR"}`), op)
		if err != nil {
			return nil, err
		}
		fams = append(fams, discovery.Family{Name: discovery.FamInvocationErrors, Type: discovery.Counter, Series: errs})
		// milliseconds, in buckets by le
		bucket := func([]string) string { return byOp(dur+`_bucket{span_kind="SPAN_KIND_SERVER"}`, "le") }
		hs, err := r.histogram(ctx, bucket, "", op, 1e-3)
		if err != nil {
			return nil, err
		}
		fams = append(fams, discovery.Family{Name: discovery.FamInvocationDur, Type: discovery.Histogram, Series: hs})
	}
	ev := discovery.Rebuild(r.opts.Discovery, fams, nil)
	return &Result{Evidence: ev, Source: SourceServiceGraph, Basis: serviceGraphBasis,
		Input: v1alpha1.DiscoveryInput{Name: r.c.URL(), Format: format, Spans: ev.Spans}}, nil
}

// rename wraps q so that its label from is called to.
func rename(q, from, to string) string {
	return fmt.Sprintf(`label_replace(%s, "%s", "$1", "%s", "(.*)")`, strings.TrimSpace(q), to, from)
}
