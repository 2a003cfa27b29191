package patch

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"

	"github.com/emac-dev/emac/api/v1alpha1"
)

// ynode is a value to be written: a scalar, a list or a mapping. It is a
// small model rather than a yaml.Node because what matters here is how
// each part is laid out next to text that is kept.
type ynode struct {
	kind  yaml.Kind
	value string // scalar
	// str says the scalar must read back as a string: a name such as
	// "true", "1.0" or "a: b" is quoted. Numbers and durations are written
	// as they are.
	str bool
	// style is the preferred scalar style (plain, single or double
	// quoted), copied from the text the value joins.
	style yaml.Style
	keys  []string // mapping
	items []*ynode // list items, or mapping values parallel to keys
	// node marks a mapping that is a journey-algebra node ({seq: [...]}):
	// outside flow collections it is always written in block style, so a
	// flow reads like the ones users write.
	node bool
	// text, when set, is the node's original source, reused verbatim in a
	// rewritten flow list so kept items keep their quoting.
	text string
}

func strNode(s string, style yaml.Style) *ynode {
	return &ynode{kind: yaml.ScalarNode, value: s, str: true, style: style}
}

func rawNode(s string) *ynode { return &ynode{kind: yaml.ScalarNode, value: s} }

func seqNode(items ...*ynode) *ynode { return &ynode{kind: yaml.SequenceNode, items: items} }

func mapNode() *ynode { return &ynode{kind: yaml.MappingNode} }

func (y *ynode) set(k string, v *ynode) *ynode {
	y.keys = append(y.keys, k)
	y.items = append(y.items, v)
	return y
}

// opName is the operator key of a node, "" when not exactly one is set.
func opName(n *v1alpha1.Node) string {
	var ops []string
	add := func(set bool, name string) {
		if set {
			ops = append(ops, name)
		}
	}
	add(n.Call != "", "call")
	add(n.Seq != nil, "seq")
	add(n.All != nil, "all")
	add(n.Race != nil, "race")
	add(n.Fallback != nil, "fallback")
	add(n.Quorum != nil, "quorum")
	add(n.Branch != nil, "branch")
	add(n.Retry != nil, "retry")
	add(n.Timeout != nil, "timeout")
	add(n.Optional != nil, "optional")
	add(n.Async != nil, "async")
	if len(ops) != 1 {
		return ""
	}
	return ops[0]
}

// checkNode refuses nodes that have no single operator or nothing to run:
// they have no faithful YAML form.
func checkNode(n *v1alpha1.Node, path string) error {
	op := opName(n)
	if op == "" {
		return fmt.Errorf("flow node %s must have exactly one operator", path)
	}
	list := func(ns []v1alpha1.Node, p string) error {
		for i := range ns {
			if err := checkNode(&ns[i], fmt.Sprintf("%s[%d]", p, i)); err != nil {
				return err
			}
		}
		return nil
	}
	child := func(c *v1alpha1.Node, p string) error {
		if c == nil {
			return fmt.Errorf("flow node %s has no node to run", p)
		}
		return checkNode(c, p)
	}
	p := path + "." + op
	switch op {
	case "seq":
		return list(n.Seq, p)
	case "all":
		return list(n.All, p)
	case "fallback":
		return list(n.Fallback, p)
	case "race":
		return list(n.Race.Of, p)
	case "quorum":
		return list(n.Quorum.Of, p)
	case "branch":
		for i := range n.Branch {
			if err := checkNode(&n.Branch[i].Node, fmt.Sprintf("%s[%d]", p, i)); err != nil {
				return err
			}
		}
	case "retry":
		return child(n.Retry.Do, p+".do")
	case "timeout":
		return child(n.Timeout.Do, p+".do")
	case "optional":
		return child(n.Optional, p)
	case "async":
		return child(n.Async, p)
	}
	return nil
}

// flowNode is the YAML form of a journey node, mirroring v1alpha1.Node's
// JSON shape: a call is a bare string, a race without a hedge a plain
// list. style is the preferred style of the names in it.
func flowNode(n *v1alpha1.Node, style yaml.Style) *ynode {
	if opName(n) == "call" {
		return strNode(n.Call, style)
	}
	m := mapNode()
	m.node = true
	flowFields(m, n, style)
	return m
}

func flowList(ns []v1alpha1.Node, style yaml.Style) *ynode {
	l := seqNode()
	for i := range ns {
		l.items = append(l.items, flowNode(&ns[i], style))
	}
	return l
}

func durNode(d v1alpha1.Duration) *ynode { return rawNode(d.String()) }

// flowFields adds n's operator to the mapping m.
func flowFields(m *ynode, n *v1alpha1.Node, style yaml.Style) {
	switch opName(n) {
	case "call":
		m.set("call", strNode(n.Call, style))
	case "seq":
		m.set("seq", flowList(n.Seq, style))
	case "all":
		m.set("all", flowList(n.All, style))
	case "fallback":
		m.set("fallback", flowList(n.Fallback, style))
	case "race":
		m.set("race", raceNode(n.Race, style))
	case "quorum":
		m.set("quorum", mapNode().set("k", rawNode(strconv.Itoa(n.Quorum.K))).set("of", flowList(n.Quorum.Of, style)))
	case "branch":
		l := seqNode()
		for i := range n.Branch {
			c := mapNode().set("weight", rawNode(formatFloat(n.Branch[i].Weight)))
			c.node = true
			flowFields(c, &n.Branch[i].Node, style)
			l.items = append(l.items, c)
		}
		m.set("branch", l)
	case "retry":
		m.set("retry", retryNode(n.Retry, style))
	case "timeout":
		m.set("timeout", mapNode().set("after", durNode(n.Timeout.After)).set("do", flowNode(n.Timeout.Do, style)))
	case "optional":
		m.set("optional", flowNode(n.Optional, style))
	case "async":
		m.set("async", flowNode(n.Async, style))
	}
}

func raceNode(r *v1alpha1.Race, style yaml.Style) *ynode {
	if r.HedgeAfter == nil {
		return flowList(r.Of, style)
	}
	return mapNode().set("hedgeAfter", durNode(*r.HedgeAfter)).set("of", flowList(r.Of, style))
}

func retryNode(r *v1alpha1.Retry, style yaml.Style) *ynode {
	m := mapNode().set("attempts", rawNode(strconv.Itoa(r.Attempts)))
	if r.PerTryTimeout != nil {
		m.set("perTryTimeout", durNode(*r.PerTryTimeout))
	}
	if r.Backoff != nil {
		m.set("backoff", durNode(*r.Backoff))
	}
	return m.set("do", flowNode(r.Do, style))
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// Scalars.

// plainOK reports whether s can be written unquoted and read back as the
// same string: in a block context where yaml.v3 would write it plain
// itself (so "yes", "1.0", "null", "a: b" and "#x" are quoted), and in a
// flow context also without flow indicators.
func plainOK(s string, flow bool) bool {
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	out, err := yaml.Marshal([]string{s})
	if err != nil || string(out) != "- "+s+"\n" {
		return false
	}
	if flow && strings.ContainsAny(s, ",[]{}") {
		return false
	}
	var n yaml.Node
	text := "- " + s + "\n"
	if flow {
		text = "[" + s + "]\n"
	}
	if yaml.Unmarshal([]byte(text), &n) != nil || len(n.Content) != 1 || len(n.Content[0].Content) != 1 {
		return false
	}
	c := n.Content[0].Content[0]
	return c.Kind == yaml.ScalarNode && c.Tag == "!!str" && c.Value == s && c.Style == 0
}

// printable reports whether YAML can carry r in a quoted scalar as is.
func printable(r rune) bool {
	switch {
	case r == 0x85 || r == 0x2028 || r == 0x2029 || r == 0xFEFF:
		return false
	case r >= 0x20 && r <= 0x7E:
		return true
	case r >= 0xA0 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}

// doubleQuoted writes s as a YAML double-quoted scalar, escaping what is
// not printable.
func doubleQuoted(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case printable(r):
			b.WriteRune(r)
		case r <= 0xFF:
			fmt.Fprintf(&b, `\x%02X`, r)
		case r <= 0xFFFF:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			fmt.Fprintf(&b, `\U%08X`, r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func singleQuoteOK(s string) bool {
	for _, r := range s {
		if !printable(r) {
			return false
		}
	}
	return s == strings.TrimSpace(s)
}

// scalarText writes a scalar in its preferred style where that reads back
// as the same string, else plain, else double-quoted.
func scalarText(y *ynode, flow bool) string {
	if !y.str {
		return y.value
	}
	switch {
	case y.style&yaml.DoubleQuotedStyle != 0:
		return doubleQuoted(y.value)
	case y.style&yaml.SingleQuotedStyle != 0 && singleQuoteOK(y.value):
		return "'" + strings.ReplaceAll(y.value, "'", "''") + "'"
	case plainOK(y.value, flow):
		return y.value
	}
	return doubleQuoted(y.value)
}

// layout is how the document around an edit is written, so new text
// matches it.
type layout struct {
	// step is the indentation of a nested mapping.
	step int
	// seqOffset is how far a block list's dashes sit right of their key
	// (0 for "key:\n- a").
	seqOffset int
	// compact writes lists of names and small parameter mappings in flow
	// style (all: [cart, pricing]); otherwise everything is block.
	compact bool
	// width bounds a line written in flow style.
	width int
	nl    string
}

// flowText writes y on one line in flow style.
func (l *layout) flowText(y *ynode) string {
	if y.text != "" {
		return y.text
	}
	switch y.kind {
	case yaml.SequenceNode:
		parts := make([]string, len(y.items))
		for i, it := range y.items {
			parts[i] = l.flowText(it)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case yaml.MappingNode:
		parts := make([]string, len(y.keys))
		for i, k := range y.keys {
			parts[i] = scalarText(strNode(k, 0), true) + ": " + l.flowText(y.items[i])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return scalarText(y, true)
}

// simple reports whether y holds only scalars and lists or mappings of
// scalars, and no algebra node: such values read well on one line.
func simple(y *ynode, depth int) bool {
	if y.kind == yaml.ScalarNode {
		return true
	}
	if y.node || depth >= 2 {
		return false
	}
	for _, it := range y.items {
		if !simple(it, depth+1) {
			return false
		}
	}
	return true
}

// inline returns y's one-line form when y is written on the line of its
// key or dash (at column col), else "".
func (l *layout) inline(y *ynode, col int) string {
	if y.kind == yaml.ScalarNode {
		return scalarText(y, false)
	}
	if len(y.items) == 0 {
		return l.flowText(y)
	}
	if !l.compact || !simple(y, 0) {
		return ""
	}
	t := l.flowText(y)
	if col+utf8.RuneCountInString(t) > l.width {
		return ""
	}
	return t
}

func pad(n int) string { return strings.Repeat(" ", max(n, 0)) }

// block writes a list or mapping in block style with its keys or dashes at
// indentation ind; every line is indented.
func (l *layout) block(y *ynode, ind int) []string {
	var out []string
	switch y.kind {
	case yaml.MappingNode:
		for i, k := range y.keys {
			key := pad(ind) + scalarText(strNode(k, 0), false) + ":"
			out = append(out, l.pair(key, y.items[i], ind)...)
		}
	case yaml.SequenceNode:
		for _, it := range y.items {
			out = append(out, l.item(it, ind)...)
		}
	}
	return out
}

// pair writes the value v after key (already indented to ind, ending in
// ":").
func (l *layout) pair(key string, v *ynode, ind int) []string {
	if t := l.inline(v, utf8.RuneCountInString(key)+1); t != "" {
		return []string{key + " " + t}
	}
	child := ind + l.step
	if v.kind == yaml.SequenceNode {
		child = ind + l.seqOffset
	}
	return append([]string{key}, l.block(v, child)...)
}

// item writes one list item with its dash at indentation ind.
func (l *layout) item(v *ynode, ind int) []string {
	if t := l.inline(v, ind+2); t != "" {
		return []string{pad(ind) + "- " + t}
	}
	lines := l.block(v, ind+2)
	lines[0] = pad(ind) + "- " + lines[0][ind+2:]
	return lines
}
