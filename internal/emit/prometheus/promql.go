package prometheus

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	pmodel "github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/emac-dev/emac/internal/bounds"
	"github.com/emac-dev/emac/internal/promql"
)

// Names of the series emac records (SPEC §6: fixed, dashboards and other
// tools depend on them).
const (
	ComponentErrorRatio = "emac:component_error:ratio_rate" // + window
	JourneyErrorRatio   = "emac:journey_error:ratio_rate"   // + window
	LabelJourney        = "emac_journey"
	LabelComponent      = "emac_component"
	LabelBound          = "emac_bound"
	LabelWindow         = "emac_window"
	// ComponentAvailability is 1 − a component's error ratio over each
	// window, labelled emac_window, so that the journey formulas read every
	// window at once: they are written out once, not once per window.
	ComponentAvailability = "emac:component_availability:ratio"
	// GroupAvailability records the largest availability among a shared
	// group's members (emac_group: the members, quoted, comma-separated)
	// over each window, which the pessimistic formula reads many times.
	GroupAvailability = "emac:journey_group_availability:ratio"
	LabelGroup        = "emac_group"
	// JourneyAvailability is the journey formula under each bound over
	// each window (emac_bound, emac_window); the journey SLIs are read from
	// it, one window each.
	JourneyAvailability = "emac:journey_availability:ratio"
)

// Selector writes a vector selector with equality matchers, escaped as
// the Prometheus printer escapes them: a label value can never break out
// of its string.
func Selector(metric string, match ...string) string {
	ms := make([]matcher, 0, len(match)/2)
	for i := 0; i+1 < len(match); i += 2 {
		ms = append(ms, matcher{match[i], labels.MatchEqual, match[i+1]})
	}
	return selector(metric, ms...)
}

// matcher is a label matcher to print: labels.Matcher without the
// compiled regular expression, which printing does not need.
type matcher struct {
	name  string
	typ   labels.MatchType
	value string
}

func eq(name, value string) matcher { return matcher{name, labels.MatchEqual, value} }

// anyOf matches emac_component against any of comps, each taken
// literally.
func anyOf(comps []string) matcher {
	q := make([]string, len(comps))
	for i, c := range comps {
		q[i] = regexp.QuoteMeta(c)
	}
	return matcher{LabelComponent, labels.MatchRegexp, strings.Join(q, "|")}
}

// selector writes a vector selector with any matchers: the text of
// parser.VectorSelector's String (matchers sorted, names quoted when not
// identifiers, values Go-quoted), which FuzzSelector holds it to, without
// building the matchers the printer needs.
func selector(metric string, ms ...matcher) string {
	if len(ms) == 0 {
		return metric
	}
	// the matchers' texts side by side in one buffer, then sorted: the
	// selectors of every rule and test are written here, so it allocates
	// only the result
	var stack [256]byte
	var spans [4][2]int
	buf, at := stack[:0], spans[:0]
	for _, m := range ms {
		start := len(buf)
		if quoteName(m.name) {
			buf = appendQuote(buf, m.name)
		} else {
			buf = append(buf, m.name...)
		}
		buf = append(buf, m.typ.String()...)
		buf = appendQuote(buf, m.value)
		at = append(at, [2]int{start, len(buf)})
	}
	text := func(s [2]int) []byte { return buf[s[0]:s[1]] }
	slices.SortFunc(at, func(a, b [2]int) int { return bytes.Compare(text(a), text(b)) })
	var b strings.Builder
	b.Grow(len(metric) + len(buf) + len(ms) + 1)
	b.WriteString(metric)
	b.WriteByte('{')
	for i, s := range at {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(text(s))
	}
	b.WriteByte('}')
	return b.String()
}

// appendQuote is strconv.AppendQuote, which leaves printable ASCII but
// for the quote and the backslash as it is: such a string is copied.
func appendQuote(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return strconv.AppendQuote(b, s)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// quoteName reports whether the printer quotes a label name: when it is
// not an identifier.
func quoteName(name string) bool {
	for i, c := range name {
		if c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9') {
			continue
		}
		return true
	}
	return len(name) == 0
}

// Leaves says how a formula's leaves are written in PromQL: each as a
// vector with the same labels (none, or one sample per window), so that
// arithmetic between them matches one to one.
type Leaves interface {
	// Avail is the availability of a component.
	Avail(comp string) string
	// Up is the largest availability among a group's members, or "" to
	// write it out as the maximum over the members.
	Up(comps []string) string
	// By is the label the leaves carry ("" for none): aggregations over
	// operands keep it.
	By() string
	// Const writes a number as a vector with the leaves' labels.
	Const(v float64) string
}

// Render writes a bounds formula as PromQL. Every operation is
// parenthesised; the largest of several availabilities and the least of
// several scenarios are aggregations over the operands, each given its own
// label first so that `or` keeps them all.
func Render(x *bounds.Expr, l Leaves) string {
	r := newRenderer(l)
	var b strings.Builder
	r.render(&b, x)
	return b.String()
}

// renderer writes formulas over one set of leaves, each leaf's text
// written once however often the formula reads it.
type renderer struct {
	l     Leaves
	avail map[string]string
	up    map[*bounds.Expr]string
}

func newRenderer(l Leaves) *renderer {
	return &renderer{l: l, avail: map[string]string{}, up: map[*bounds.Expr]string{}}
}

func (r *renderer) render(b *strings.Builder, x *bounds.Expr) {
	switch x.Op {
	case bounds.ExprConst:
		b.WriteString(number(x.Value))
	case bounds.ExprAvail:
		b.WriteString(r.leaf(x.Comp))
	case bounds.ExprUp:
		if s, ok := r.up[x]; ok {
			b.WriteString(s)
			return
		}
		s := r.l.Up(x.Comps)
		if s == "" {
			parts := make([]*bounds.Expr, len(x.Comps))
			for i, c := range x.Comps {
				parts[i] = &bounds.Expr{Op: bounds.ExprAvail, Comp: c}
			}
			var ub strings.Builder
			r.aggregate(&ub, "max", "emac_member", parts)
			s = ub.String()
		}
		r.up[x] = s
		b.WriteString(s)
	case bounds.ExprMin:
		r.aggregate(b, "min", "emac_scenario", x.Args)
	case bounds.ExprAdd, bounds.ExprMul:
		op := " + "
		if x.Op == bounds.ExprMul {
			op = " * "
		}
		b.WriteByte('(')
		for i, y := range x.Args {
			if i > 0 {
				b.WriteString(op)
			}
			r.render(b, y)
		}
		b.WriteByte(')')
	case bounds.ExprSub, bounds.ExprDiv:
		op := " - "
		if x.Op == bounds.ExprDiv {
			op = " / "
		}
		b.WriteByte('(')
		r.render(b, x.Args[0])
		b.WriteString(op)
		r.render(b, x.Args[1])
		b.WriteByte(')')
	case bounds.ExprPow:
		b.WriteByte('(')
		r.render(b, x.Args[0])
		b.WriteString(" ^ ")
		b.WriteString(number(x.Value))
		b.WriteByte(')')
	default:
		panic(fmt.Sprintf("prometheus: unknown expression op %d", x.Op))
	}
}

// aggregate writes agg over operands that are vectors with the leaves'
// labels: each is labelled with its position so that `or` keeps every one.
func (r *renderer) aggregate(b *strings.Builder, agg, label string, args []*bounds.Expr) {
	b.WriteString(agg)
	if by := r.l.By(); by != "" {
		b.WriteString(" by (" + by + ") ")
	}
	b.WriteByte('(')
	for i, y := range args {
		if i > 0 {
			b.WriteString(" or ")
		}
		b.WriteString("label_replace(")
		r.vector(b, y)
		b.WriteString(`, "` + label + `", "` + strconv.Itoa(i) + `", "", "")`)
	}
	b.WriteByte(')')
}

// vector writes an operand that must be a vector: a number becomes one
// with the leaves' labels.
func (r *renderer) vector(b *strings.Builder, x *bounds.Expr) {
	if x.Op == bounds.ExprConst {
		b.WriteString(r.l.Const(x.Value))
		return
	}
	if x.Op == bounds.ExprAvail {
		// a component read as a constant
		if v, err := strconv.ParseFloat(r.leaf(x.Comp), 64); err == nil {
			b.WriteString(r.l.Const(v))
			return
		}
	}
	r.render(b, x)
}

// leaf is a component's availability as the leaves write it.
func (r *renderer) leaf(c string) string {
	s, ok := r.avail[c]
	if !ok {
		s = r.l.Avail(c)
		r.avail[c] = s
	}
	return s
}

// vector writes a whole formula as a vector.
func vector(x *bounds.Expr, l Leaves) string {
	var b strings.Builder
	newRenderer(l).vector(&b, x)
	return b.String()
}

func number(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// Window formats a duration the way Prometheus writes ranges (5m, 1d).
func Window(d time.Duration) string {
	// the standard windows, written thousands of times per journey
	switch d {
	case 5 * time.Minute:
		return "5m"
	case 30 * time.Minute:
		return "30m"
	case time.Hour:
		return "1h"
	case 2 * time.Hour:
		return "2h"
	case 6 * time.Hour:
		return "6h"
	case day:
		return "1d"
	case 3 * day:
		return "3d"
	case 30 * day:
		return "30d"
	}
	return pmodel.Duration(d).String()
}

// Windowed returns query with its range set to w: "{{.window}}"
// placeholders are replaced; without them, every range of the query (range
// vectors and subqueries) becomes w. The result is parsed.
func Windowed(query string, w time.Duration) (string, error) {
	x, err := newWindower(query)
	if err != nil {
		return "", err
	}
	return x.at(w), nil
}

// windower re-windows one query for many windows, parsing it once. It is
// safe for concurrent use: journeys calling the same component share it
// (emit.Shared, through ratios, which keep what at writes), and what
// grouped writes is kept, as every journey asks for the same.
type windower struct {
	template string      // with {{.window}} placeholders, or ""
	expr     parser.Expr // otherwise, the query, whose ranges at sets
	// printed is expr written out once with every range at sentinel, when
	// the sentinel's text stands nowhere else: each window is then a
	// substitution, not another walk of the Prometheus printer
	printed string

	// mu guards expr, which at and grouped rewrite in place, and what
	// grouped wrote
	mu     sync.Mutex
	groups map[grouping]string
}

// grouping is a grouped query's window and label.
type grouping struct {
	w  time.Duration
	by string
}

// sentinel is a range no query writes, and sentinelText how Prometheus
// writes it (TestWindow holds them together).
const (
	sentinel     = 365*24*time.Hour + 17*24*time.Hour + 4*time.Hour + 5*time.Minute + 6*time.Second + 7*time.Millisecond
	sentinelText = "382d4h5m6s7ms"
)

func newWindower(query string) (*windower, error) {
	e, err := promql.Parse(query)
	if err != nil {
		return nil, err
	}
	if promql.Window.MatchString(query) {
		// a window is a duration token wherever the placeholder stands,
		// so one window parsing means every window does
		return &windower{template: query}, nil
	}
	x := &windower{expr: e}
	n := setRange(e, sentinel)
	if s := e.String(); strings.Count(s, sentinelText) == n {
		x.printed = s
	}
	return x, nil
}

// at is the query over w.
func (x *windower) at(w time.Duration) string {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.write(w)
}

// write is at, written anew; x.mu is held.
func (x *windower) write(w time.Duration) string {
	switch {
	case x.template != "":
		return promql.Window.ReplaceAllString(x.template, Window(w))
	case x.printed != "":
		return strings.ReplaceAll(x.printed, sentinelText, Window(w))
	}
	setRange(x.expr, w)
	return x.expr.String()
}

// setRange sets every range of e (range vectors and subqueries) to w and
// counts them.
func setRange(e parser.Expr, w time.Duration) int {
	n := 0
	parser.Inspect(e, func(node parser.Node, _ []parser.Node) error {
		switch node := node.(type) {
		case *parser.MatrixSelector:
			node.Range, n = w, n+1
		case *parser.SubqueryExpr:
			node.Range, n = w, n+1
		}
		return nil
	})
	return n
}

// grouped is the query over w rewritten to keep label by: every
// aggregation groups by it too, and the whole is summed by it.
func (x *windower) grouped(w time.Duration, by string) (string, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	k := grouping{w, by}
	if s, ok := x.groups[k]; ok {
		return s, nil
	}
	s, err := x.group(w, by)
	if err != nil {
		return "", err
	}
	if x.groups == nil {
		x.groups = map[grouping]string{}
	}
	x.groups[k] = s
	return s, nil
}

// group is grouped, written anew; x.mu is held.
func (x *windower) group(w time.Duration, by string) (string, error) {
	e := x.expr
	if x.template != "" {
		var err error
		if e, err = parser.ParseExpr(x.write(w)); err != nil {
			return "", err
		}
	} else {
		setRange(e, w)
	}
	// the tree is shared by every window: its groupings are put back
	type saved struct {
		a        *parser.AggregateExpr
		grouping []string
	}
	var undo []saved
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		a, ok := n.(*parser.AggregateExpr)
		if !ok {
			return nil
		}
		i := slices.Index(a.Grouping, by)
		switch {
		case a.Without && i >= 0:
			undo = append(undo, saved{a, a.Grouping})
			a.Grouping = slices.Delete(slices.Clone(a.Grouping), i, i+1)
		case !a.Without && i < 0:
			undo = append(undo, saved{a, a.Grouping})
			a.Grouping = append(slices.Clone(a.Grouping), by)
		}
		return nil
	})
	out := fmt.Sprintf("sum by (%s) (%s)", by, e)
	for _, u := range undo {
		u.a.Grouping = u.grouping
	}
	return out, nil
}

// check parses an expression emac wrote; an error here is a bug in emac.
func check(what, expr string) error {
	if _, err := parser.ParseExpr(expr); err != nil {
		return fmt.Errorf("emac wrote invalid PromQL for %s: %w\n%s", what, err, expr)
	}
	return nil
}
