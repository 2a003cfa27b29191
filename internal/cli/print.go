package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/service"
)

func (a *app) print(format string, rep *service.Report) error {
	switch format {
	case "json":
		return writeJSON(a.stdout, rep.Result)
	case "yaml":
		return writeYAML(a.stdout, rep.Result)
	}
	return writeText(a.stdout, rep.Result)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeYAML writes v's JSON form as block YAML, keeping field order.
func writeYAML(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var n yaml.Node
	if err := yaml.Unmarshal(b, &n); err != nil {
		return err
	}
	blockStyle(&n)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return err
	}
	return enc.Close()
}

func blockStyle(n *yaml.Node) {
	n.Style &^= yaml.FlowStyle
	if n.Kind == yaml.ScalarNode && n.Style&yaml.DoubleQuotedStyle != 0 && n.Tag == "!!str" {
		n.Style &^= yaml.DoubleQuotedStyle // re-quoted by the encoder only where needed
		if strings.Contains(n.Value, "\n") && !strings.ContainsAny(n.Value, "\t\r") {
			n.Style = yaml.LiteralStyle // a patch, a report: read as the lines they are
		}
	}
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// writeText prints a summary table, then each journey's explanation.
func writeText(w io.Writer, res v1alpha1.CheckResult) error {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "JOURNEY\tTARGET\tA+\tA-\tFLOOR\tBINDING\tDECISION")
	for _, j := range res.Journeys {
		a := j.Availability
		binding := strings.Join(a.Binding, ",")
		if binding == "" {
			binding = "-"
		}
		minus := p8(a.Pessimistic)
		if !a.Exact {
			minus = "≥" + minus
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", j.Name, pct(a.Target), p8(a.Optimistic), minus, p8(a.Floor), binding, j.Decision)
	}
	tw.Flush()
	for _, j := range res.Journeys {
		b.WriteString("\n")
		journeyText(&b, j)
	}
	_, err := w.Write(b.Bytes())
	return err
}

func journeyText(b *bytes.Buffer, j v1alpha1.JourneyResult) {
	fmt.Fprintf(b, "%s: %s\n", j.Name, j.Decision)
	for _, r := range j.Reasons {
		fmt.Fprintf(b, "  why:          %s\n", r)
	}
	fmt.Fprintf(b, "  flow:         %s\n", j.Flow)
	a := j.Availability
	fmt.Fprintf(b, "  objective:    %s over %s\n", pct(a.Target), a.Window)
	if len(a.Persistent) > 0 {
		fmt.Fprintf(b, "  persistent:   %s (in the binding scenario)\n", strings.Join(a.Persistent, ", "))
	}
	var top []string
	for i, c := range j.Contributors {
		if i == 5 || c.Share < 0.005 {
			break
		}
		top = append(top, fmt.Sprintf("%s %.1f%%", c.Component, 100*c.Share))
	}
	if len(top) > 0 {
		fmt.Fprintf(b, "  contributors: %s\n", strings.Join(top, ", "))
	}
	for _, d := range j.Domains {
		if d.Loss <= 0 && !d.Binding {
			continue
		}
		mark := ""
		if d.Binding {
			mark = ", binding"
		}
		req := "cannot reach the objective alone"
		if d.Required != nil {
			req = "needs ≥ " + p8(*d.Required)
		}
		fmt.Fprintf(b, "  domain:       %s {%s} shared-fate loss %s%s; %s\n", d.Name, strings.Join(d.Members, ", "), p8(d.Loss), mark, req)
	}
	if len(j.Required) > 0 {
		tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  required:\tCOMPONENT\tCURRENT\tREQUIRED")
		for _, r := range j.Required {
			need := "infeasible"
			if r.Availability != nil {
				need = "≥ " + p8(*r.Availability)
			}
			fmt.Fprintf(tw, "\t%s\t%s\t%s\n", r.Component, p8(r.Current), need)
		}
		tw.Flush()
	}
	if l := j.Latency; l != nil {
		if l.Status != "" {
			fmt.Fprintf(b, "  latency:      p%g ≤ %s: %s (%s)\n", l.Percentile, secs(l.Threshold), l.Status, l.Reason)
		}
		if len(l.Quantiles) > 0 {
			tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "  quantiles:\tLEVEL\tINDEPENDENT\tUPPER (any coupling)")
			for _, q := range l.Quantiles {
				up := secs(q.Upper)
				if q.Beyond {
					up = "> " + up
				}
				fmt.Fprintf(tw, "\tp%g\t%s\t%s\n", q.Level*100, secs(q.Independent), up)
			}
			tw.Flush()
			fmt.Fprintf(b, "  lattice:      step %s, independent quantiles within ±%s\n", secs(l.Resolution), secs(l.Error))
		}
		histogramText(b, l.Sources)
		if len(l.Untimed) > 0 {
			fmt.Fprintf(b, "  untimed:      %s (no latency given: they take no time)\n", strings.Join(l.Untimed, ", "))
		}
	}
	if w := j.WhatIf; w != nil {
		fmt.Fprintf(b, "  what if %s down: A+ %s, A- %s, floor %s → %s\n", strings.Join(w.Down, " and "), p8(w.Optimistic), p8(w.Pessimistic), p8(w.Floor), w.Decision)
	}
	for _, n := range j.Notes {
		fmt.Fprintf(b, "  note:         %s\n", n)
	}
}

// secs writes seconds as a duration, to the microsecond.
func secs(s float64) string {
	return time.Duration(math.Round(s * 1e9)).Round(time.Microsecond).String()
}

func p8(v float64) string { return fmt.Sprintf("%.8f", v) }

func pct(v float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.6f", v*100), "0"), ".") + "%"
}
