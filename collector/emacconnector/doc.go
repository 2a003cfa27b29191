// Package emacconnector is an OpenTelemetry Collector traces → metrics
// connector that folds the spans a collector receives into emac's
// discovery evidence (a discovery.Recorder) and exports that evidence
// periodically as metric families, so that Prometheus can scrape many
// collectors and `emac discover --prometheus` can rebuild the evidence
// from their sum (docs/collector.md).
package emacconnector
