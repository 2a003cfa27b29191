package report

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/model"
)

// maxContributors is how many contributors report.md lists; report.json
// has them all.
const maxContributors = 10

// markdown renders report.md.
func markdown(j *model.Journey, r *Report) []byte {
	res := &r.Result
	av := res.Availability
	bound := v1alpha1.BoundSymbol(r.Assumptions.DecisionBound)
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	w("# Journey %s: %s\n\n", md(res.Name), res.Decision)
	for _, why := range res.Reasons {
		w("- %s\n", md(why))
	}
	if len(res.Reasons) > 0 {
		w("\n")
	}
	w("Objective: %s availability over %s", pct(av.Target), md(windowOf(av)))
	if lat := res.Latency; lat != nil {
		w(", p%s ≤ %s", p8(lat.Percentile), seconds(lat.Threshold))
	}
	w(". Flow: %s.", code(res.Flow))
	if j.Source != "" {
		w(" Source: %s.", code(j.Source))
	}
	w("\n\n")

	w("## Availability\n\n")
	w("| bound | value | percent | meaning |\n|---|---:|---:|---|\n")
	w("| target | %s | %s | the objective over %s |\n", p8(av.Target), pct(av.Target), md(windowOf(av)))
	w("| A+ optimistic | %s | %s | every failure domain independent |\n", p8(av.Optimistic), pct(av.Optimistic))
	w("| A- pessimistic | %s | %s | the worst failure-domain scenario; %s |\n", p8(av.Pessimistic), pct(av.Pessimistic), md(scenarioSentence(av)))
	w("| A_floor | %s | %s | no independence assumed |\n\n", p8(av.Floor), pct(av.Floor))
	w("Decision bound: %s. Binding domains: %s. Method: %s", bound, orNone(av.Binding), methodOf(av))
	if av.Scenarios > 0 {
		w(" (%d scenarios evaluated)", av.Scenarios)
	}
	w(".\n")
	if !av.Exact {
		w("\nA- is a sound lower bound, not the exact minimum: part of the journey exceeded the exact budget.\n")
	}
	for _, n := range res.Notes {
		w("\n> %s\n", md(n))
	}
	w("\n")

	if wi := res.WhatIf; wi != nil {
		w("## What if %s is down\n\n", md(strings.Join(wi.Down, ", ")))
		w("| A+ | A- | A_floor | decision |\n|---:|---:|---:|---|\n| %s | %s | %s | %s |\n\n", p8(wi.Optimistic), p8(wi.Pessimistic), p8(wi.Floor), wi.Decision)
	}

	w("## Contributors\n\n")
	if len(res.Contributors) == 0 {
		w("No component contributes to the journey's unavailability under %s.\n\n", bound)
	} else {
		w("Each component's share of the journey's unavailability under %s: its Birnbaum importance times its unavailability, normalised.\n\n", bound)
		w("| component | share | importance | availability |\n|---|---:|---:|---:|\n")
		for i, c := range res.Contributors {
			if i == maxContributors {
				break
			}
			w("| %s | %s | %s | %s |\n", md(c.Component), pct(c.Share), p8(c.Importance), p8(c.Availability))
		}
		if n := len(res.Contributors) - maxContributors; n > 0 {
			w("\n%d more in report.json.\n", n)
		}
		w("\n")
	}

	w("## Required targets\n\n")
	w("The smallest availability of each component that keeps %s at or above %s, the others unchanged (rounded up at the 10th decimal); infeasible when even 100%% is not enough.\n\n", bound, p8(av.Target))
	if len(res.Required) > 0 {
		w("| component | current | required |\n|---|---:|---:|\n")
		for _, q := range res.Required {
			w("| %s | %s | %s |\n", md(q.Component), p8(q.Current), requiredText(q.Availability))
		}
		w("\n")
	}

	if len(res.Domains) > 0 {
		w("## Failure domains\n\n")
		w("Loss is A+ minus the availability with only that domain shared (negative: sharing it raises availability). Required is the smallest common-cause availability (1 − c) of the domain that keeps %s at or above the objective.\n\n", bound)
		w("| domain | members | loss | binding | required |\n|---|---|---:|---|---:|\n")
		for _, d := range res.Domains {
			w("| %s | %s | %s | %s | %s |\n", md(d.Name), md(strings.Join(d.Members, ", ")), p8(d.Loss), yesNo(d.Binding), requiredText(d.Required))
		}
		w("\n")
	}

	if lat := res.Latency; lat != nil {
		w("## Latency\n\n")
		if lat.Percentile > 0 {
			w("Objective: p%s ≤ %s. Status: **%s**: %s.\n\n", p8(lat.Percentile), seconds(lat.Threshold), md(lat.Status), md(lat.Reason))
		}
		if len(lat.Quantiles) > 0 {
			w("A successful journey's duration. *Independent*: every call independent. *Upper*: the dependence-free bound (p_upper), which holds however the components' latencies are coupled.\n\n")
			w("| quantile | independent | upper |\n|---|---:|---:|\n")
			for _, q := range lat.Quantiles {
				up := seconds(q.Upper)
				if q.Beyond {
					up = "> " + up
				}
				w("| p%s | %s | %s |\n", p8(q.Level*100), seconds(q.Independent), up)
			}
			w("\n")
			if lat.Within != nil {
				w("P(L ≤ %s | success) = %s with independent calls. ", seconds(lat.Threshold), p8(*lat.Within))
			}
			w("Lattice step %s: an independent quantile is within ±%s of the exact composition.", seconds(lat.Resolution), seconds(lat.Error))
			if len(lat.Untimed) > 0 {
				w(" Without latency (they take no time, and no deadline fires on them): %s.", md(strings.Join(lat.Untimed, ", ")))
			}
			w("\n\n")
		}
		if r.LatencyChart != "" {
			w("![Latency CDF and its dependence-free band](%s)\n\n", r.LatencyChart)
			w("The line is P(L ≤ t | success) with independent calls. The shaded band reaches down to the dependence-free bound: however the components' latencies are coupled, the CDF stays above the band's lower edge, so the band shows how much slower than the independent estimate the journey can be.")
			if lat.Percentile > 0 {
				w(" Dashed: the objective's threshold and percentile.")
			}
			w("\n\n")
		}
	}

	a := r.Assumptions
	w("## Assumptions\n\n")
	switch a.Mode {
	case "contract", "":
		w("- Contract mode: each component's availability is its SLO target.\n")
	default:
		w("- %s mode: each component's availability is its measured ratio.\n", md(a.Mode))
	}
	w("- Model: %s.\n", md(a.Model))
	w("- Decision bound: %s (%s).\n", bound, a.DecisionBound)
	if len(a.Invocations) == 0 {
		w("- Invocations: every component is invoked once per journey execution, so no invocation model matters.\n")
	} else {
		w("- Invocations of multiply-invoked components (declared model; the one A- takes):\n")
		for _, i := range a.Invocations {
			how := fmt.Sprintf("%d call sites", i.Calls)
			if i.Calls == 1 {
				how = "1 call site"
			}
			if i.Retried {
				how += ", retried"
			}
			w("  - %s (%s): %s; A- takes it %s\n", md(i.Component), how, i.Model, i.Pessimistic)
		}
	}
	if len(a.Domains) == 0 {
		w("- Failure domains: none declared, so every component fails independently of the others.\n")
	} else {
		w("- Failure domains (components that can fail together):\n")
		for _, d := range a.Domains {
			w("  - %s {%s}, %s", md(d.Name), md(strings.Join(d.Members, ", ")), md(d.Source))
			if d.Key != "" {
				w(" (%s)", md(d.Key))
			}
			if d.Description != "" {
				w(": %s", md(d.Description))
			}
			w("\n")
		}
	}
	w("\n")

	w("## Provenance\n\n")
	w("<details><summary>Where each of the %d numbers comes from</summary>\n\n", len(r.Provenance))
	w("| number | value | source |\n|---|---:|---|\n")
	for _, p := range r.Provenance {
		v := "—"
		switch {
		case p.Value == nil:
		case strings.HasPrefix(p.Field, "required[") || strings.HasSuffix(p.Field, "].required"):
			// Required targets in full: fewer digits could round them
			// below what the objective needs.
			v = strconv.FormatFloat(*p.Value, 'f', -1, 64)
		default:
			v = p8(*p.Value)
		}
		w("| %s | %s | %s |\n", md(p.Field), v, md(p.Source))
	}
	w("\n</details>\n\n")

	w("## Flow\n\n```mermaid\n%s```\n", r.Mermaid)
	return b.Bytes()
}

// p8 writes a probability (or any number) with 8 significant digits.
func p8(v float64) string { return fmt.Sprintf("%.8g", v) }

// pct writes a fraction as a percentage with 8 significant digits.
func pct(v float64) string { return fmt.Sprintf("%.8g%%", v*100) }

// requiredText writes a required target in full, or "infeasible".
func requiredText(v *float64) string {
	if v == nil {
		return "infeasible"
	}
	return "≥ " + strconv.FormatFloat(*v, 'f', -1, 64)
}

// duration writes a duration the Prometheus way (50ms, 1h30m).
func duration(d time.Duration) string { return v1alpha1.Duration(d).String() }

// seconds writes a latency given in seconds as a duration.
func seconds(s float64) string {
	return duration(time.Duration(s * float64(time.Second)))
}

func windowOf(av v1alpha1.AvailabilityResult) string {
	if av.Window == "" || av.Window == "0s" {
		return "30d"
	}
	return av.Window
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return md(join(s))
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func join(s []string) string { return strings.Join(s, ", ") }

// mdEscapes keeps names and sentences literal in markdown, table cells
// included: markdown punctuation is backslash-escaped, HTML is written as
// entities and line breaks become spaces.
var mdEscapes = strings.NewReplacer(
	`\`, `\\`, "|", `\|`, "*", `\*`, "_", `\_`, "`", "\\`", "[", `\[`, "]", `\]`, "~", `\~`,
	"<", "&lt;", ">", "&gt;", "&", "&amp;", "\n", " ", "\r", " ",
)

func md(s string) string { return mdEscapes.Replace(s) }

// code writes s as a markdown code span (outside tables, where | would
// still split cells): fenced by one backtick more than the longest run in
// s, padded when s starts or ends with one, on one line.
func code(s string) string {
	s = strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}
