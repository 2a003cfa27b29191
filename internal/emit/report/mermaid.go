package report

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/model"
)

// flowchart draws the journey's flow as a Mermaid flowchart: each operator
// a rounded node, each call a box labelled with the component and its
// availability, edges in operand order (numbered where order matters,
// weighted for branches, delayed for hedged races, dotted for optional and
// async operands). Failure domains are a legend subgraph, one node each
// listing its members; members of binding domains are outlined in red.
//
// Node ids are generated (n0, n1, … in depth-first order, d0, d1, … for
// domains) and every label is quoted with Mermaid's entity escapes, so no
// name can break the syntax.
func flowchart(j *model.Journey, res *v1alpha1.JourneyResult) string {
	f := &chart{j: j, binding: map[string]bool{}}
	for _, d := range res.Availability.Binding {
		if dom := j.Domains[d]; dom != nil {
			for _, m := range dom.Members {
				f.binding[m] = true
			}
		}
	}
	f.line("flowchart LR")
	f.node(j.Flow)
	f.lines = append(f.lines, f.edges...)
	if names := j.DomainNames(); len(names) > 0 {
		f.line(`  subgraph domains ["failure domains"]`)
		for i, n := range names {
			d := j.Domains[n]
			label := n
			if slices.Contains(res.Availability.Binding, n) {
				label += " (binding)"
				f.boundDomains = append(f.boundDomains, fmt.Sprintf("d%d", i))
			}
			f.line(fmt.Sprintf(`    d%d["%s<br/>%s"]`, i, mermaidText(label), mermaidText(strings.Join(d.Members, ", "))))
		}
		f.line("  end")
	}
	f.line("  classDef op fill:#eef2ff,stroke:#6677aa")
	f.line("  classDef binding stroke:#cc0000,stroke-width:3px")
	if len(f.ops) > 0 {
		f.line("  class " + strings.Join(f.ops, ",") + " op")
	}
	if hot := append(f.hot, f.boundDomains...); len(hot) > 0 {
		f.line("  class " + strings.Join(hot, ",") + " binding")
	}
	return strings.Join(f.lines, "\n") + "\n"
}

// chart accumulates a flowchart's lines.
type chart struct {
	j       *model.Journey
	binding map[string]bool // members of binding domains
	next    int
	lines   []string
	edges   []string
	// ops are the operator nodes' ids, hot the calls of binding members,
	// boundDomains the legend nodes of binding domains.
	ops, hot, boundDomains []string
}

func (f *chart) line(s string) { f.lines = append(f.lines, s) }

// node declares n and its subtree with the edges between them.
func (f *chart) node(n *model.Node) {
	id := "n" + strconv.Itoa(f.next)
	f.next++
	if n.Op == model.Call {
		label := mermaidText(n.Component)
		if c := f.j.Components[n.Component]; c != nil {
			label += "<br/>" + pct(c.Availability)
		}
		f.line(fmt.Sprintf(`  %s["%s"]`, id, label))
		if f.binding[n.Component] {
			f.hot = append(f.hot, id)
		}
		return
	}
	f.line(fmt.Sprintf(`  %s(["%s"])`, id, opLabel(n)))
	f.ops = append(f.ops, id)
	for i, c := range n.Children {
		// Ids are given depth first, so c's id is the next one; recording
		// the edge before descending lists edges parents first.
		cid := "n" + strconv.Itoa(f.next)
		arrow, label := "-->", edgeLabel(n, i)
		if n.Op == model.Optional || n.Op == model.Async {
			arrow = "-.->"
		}
		if label != "" {
			f.edges = append(f.edges, fmt.Sprintf(`  %s %s|"%s"| %s`, id, arrow, label, cid))
		} else {
			f.edges = append(f.edges, fmt.Sprintf("  %s %s %s", id, arrow, cid))
		}
		f.node(c)
	}
}

// opLabel is an operator node's label (already Mermaid text).
func opLabel(n *model.Node) string {
	switch n.Op {
	case model.Seq:
		return "seq"
	case model.All:
		return "all"
	case model.Race:
		if n.HedgeAfter > 0 {
			return "race<br/>hedge after " + duration(n.HedgeAfter)
		}
		return "race"
	case model.Fallback:
		return "fallback"
	case model.Quorum:
		return fmt.Sprintf("quorum<br/>%d of %d", n.K, len(n.Children))
	case model.Branch:
		return "branch"
	case model.Retry:
		s := fmt.Sprintf("retry ×%d", n.Attempts)
		var opts []string
		if n.PerTryTimeout > 0 {
			opts = append(opts, "per try "+duration(n.PerTryTimeout))
		}
		if n.Backoff > 0 {
			opts = append(opts, "backoff "+duration(n.Backoff))
		}
		if len(opts) > 0 {
			s += "<br/>" + strings.Join(opts, ", ")
		}
		return s
	case model.Timeout:
		return "timeout " + duration(n.After)
	case model.Optional:
		return "optional"
	case model.Async:
		return "async"
	}
	return mermaidText(n.Op.String())
}

// edgeLabel labels the edge to operand i: its place where order matters,
// its weight in a branch, its delay in a hedged race. Labels are emac's own
// text (numbers, durations, fixed words), safe inside quotes.
func edgeLabel(n *model.Node, i int) string {
	switch n.Op {
	case model.Seq, model.Fallback:
		if len(n.Children) > 1 {
			return strconv.Itoa(i + 1)
		}
	case model.Branch:
		if i < len(n.Weights) {
			return pct(n.Weights[i])
		}
	case model.Race:
		if n.HedgeAfter > 0 && i > 0 {
			return "+" + duration(n.HedgeAfter*time.Duration(i))
		}
	case model.Optional:
		return "may fail"
	case model.Async:
		return "not waited for"
	}
	return ""
}

// mermaidEscapes turns text into the inside of a quoted Mermaid label:
// quotes and the characters Mermaid or its HTML rendering interpret become
// entity codes (# first of all, which starts them; % because %% starts a
// comment), and line breaks spaces.
var mermaidEscapes = strings.NewReplacer(
	"#", "#35;", `"`, "#quot;", "<", "#lt;", ">", "#gt;", "&", "#amp;", "`", "#96;", "%", "#37;",
	"\n", " ", "\r", " ",
)

func mermaidText(s string) string { return mermaidEscapes.Replace(s) }
