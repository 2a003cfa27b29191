package cli

import (
	"fmt"
	"io"
	"time"

	prom "github.com/prometheus/common/model"
	"github.com/spf13/pflag"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/latency"
	"github.com/emac-dev/emac/internal/promhist"
	"github.com/emac-dev/emac/internal/service"
)

// histFlags choose where components' latency histograms are read from.
type histFlags struct {
	file       string
	prometheus string
	window     string
}

func (h *histFlags) register(f *pflag.FlagSet) {
	f.StringVar(&h.file, "histograms", "", "read the components' telemetry.latencyHistogram from this exposition file (Prometheus text or OpenMetrics, e.g. curl host/metrics)")
	f.StringVar(&h.prometheus, "prometheus", "", "read the components' telemetry.latencyHistogram from the Prometheus server at this URL (the increase over the window)")
	f.StringVar(&h.window, "histogram-window", "", "how far back --prometheus looks (a Prometheus duration such as 7d; default: the journey objective's window)")
}

// apply sets opts' histogram source: the file is read and parsed now, so a
// bad one fails before any spec is checked.
func (h *histFlags) apply(opts *service.Options) error {
	switch {
	case h.file != "" && h.prometheus != "":
		return &exitError{code: ExitError, msg: "give --histograms or --prometheus, not both"}
	case h.window != "" && h.prometheus == "":
		return &exitError{code: ExitError, msg: "--histogram-window needs --prometheus: a file's counts are since each process started"}
	case h.file != "":
		f, err := promhist.ReadFile(h.file)
		if err != nil {
			return &exitError{code: ExitError, msg: fmt.Sprintf("--histograms: %v", err)}
		}
		opts.Histograms = f
	case h.prometheus != "":
		if h.window != "" {
			w, err := prom.ParseDuration(h.window)
			if err != nil || w <= 0 {
				return &exitError{code: ExitError, msg: fmt.Sprintf("--histogram-window %q is not a positive Prometheus duration such as 1h or 7d", h.window)}
			}
			opts.HistogramWindow = time.Duration(w)
		}
		p, err := promhist.NewPrometheus(h.prometheus, promhist.PrometheusOptions{})
		if err != nil {
			return &exitError{code: ExitError, msg: fmt.Sprintf("--prometheus: %v", err)}
		}
		opts.Histograms = p
	}
	return nil
}

// histogramText writes where measured latencies came from, one line per
// component with a histogram.
func histogramText(b io.Writer, ss []v1alpha1.LatencySource) {
	for _, s := range ss {
		if s.Source != latency.SourceHistogram {
			continue
		}
		over := ""
		if s.Overflow != nil && *s.Overflow > 0 {
			over = fmt.Sprintf(", %.4g%% above %s", 100**s.Overflow, secs(s.Top))
		}
		fmt.Fprintf(b, "  histogram:    %s: %.0f observations%s (%s)\n", s.Component, s.Observations, over, s.From)
	}
}
