package patch

import (
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/emac-dev/emac/api/v1alpha1"
)

// want is what one value of the file should become. It says whether the
// text already reads as wanted (then it is kept byte for byte), edits it
// in place as little as it can (a changed name inside a list replaces that
// name only), and renders it when it has to be written anew.
type want interface {
	match(y *yaml.Node) bool
	edit(a *applier, y *yaml.Node, sl slot) error
	render(style yaml.Style) *ynode
}

// nameWant is a string: a failure domain or a component call.
type nameWant string

func (w nameWant) match(y *yaml.Node) bool {
	return y.Kind == yaml.ScalarNode && y.Tag != "!!null" && y.Tag != "!!bool" && y.Value == string(w)
}

func (w nameWant) edit(a *applier, y *yaml.Node, sl slot) error {
	var style yaml.Style
	if y.Kind == yaml.ScalarNode {
		style = quoteStyle(y)
	}
	return a.replace(y, sl, strNode(string(w), style))
}

func (w nameWant) render(style yaml.Style) *ynode { return strNode(string(w), style) }

func nameWants(names []string) []want {
	out := make([]want, len(names))
	for i, n := range names {
		out[i] = nameWant(n)
	}
	return out
}

// rawWant is a number or a duration, compared by value: 0.05s reads as
// 50ms and is kept.
type rawWant struct {
	text  string
	equal func(y *yaml.Node) bool
}

func (w rawWant) match(y *yaml.Node) bool {
	return y.Kind == yaml.ScalarNode && y.Tag != "!!null" && w.equal(y)
}

func (w rawWant) edit(a *applier, y *yaml.Node, sl slot) error {
	return a.replace(y, sl, rawNode(w.text))
}

func (w rawWant) render(yaml.Style) *ynode { return rawNode(w.text) }

func durWant(d v1alpha1.Duration) want {
	return rawWant{d.String(), func(y *yaml.Node) bool {
		if y.Tag == "!!int" || y.Tag == "!!float" {
			f, err := strconv.ParseFloat(y.Value, 64)
			return err == nil && f == 0 && d == 0
		}
		v, err := v1alpha1.ParseDuration(y.Value)
		return err == nil && v == d
	}}
}

func intWant(k int) want {
	return rawWant{strconv.Itoa(k), func(y *yaml.Node) bool {
		v, err := strconv.ParseInt(y.Value, 0, 64)
		return y.Tag == "!!int" && err == nil && v == int64(k)
	}}
}

func floatWant(f float64) want {
	return rawWant{formatFloat(f), func(y *yaml.Node) bool {
		v, err := strconv.ParseFloat(strings.ReplaceAll(y.Value, "_", ""), 64)
		return (y.Tag == "!!int" || y.Tag == "!!float") && err == nil && v == f
	}}
}

// listWant is a list of wants.
type listWant []want

func (w listWant) match(y *yaml.Node) bool {
	if y.Kind != yaml.SequenceNode || len(y.Content) != len(w) {
		return false
	}
	for i, it := range w {
		if !it.match(y.Content[i]) {
			return false
		}
	}
	return true
}

func (w listWant) edit(a *applier, y *yaml.Node, sl slot) error { return a.list(y, sl, w, 0) }

func (w listWant) render(style yaml.Style) *ynode {
	l := seqNode()
	for _, it := range w {
		l.items = append(l.items, it.render(style))
	}
	return l
}

// nodeWant is a journey-algebra node, or a branch case when weight is set.
type nodeWant struct {
	n      *v1alpha1.Node
	weight *float64
}

func (w nodeWant) match(y *yaml.Node) bool { return matchNode(y, w.n, w.weight) }

func (w nodeWant) edit(a *applier, y *yaml.Node, sl slot) error { return a.node(y, w.n, w.weight, sl) }

func (w nodeWant) render(style yaml.Style) *ynode {
	if w.weight == nil {
		return flowNode(w.n, style)
	}
	c := mapNode().set("weight", rawNode(formatFloat(*w.weight)))
	c.node = true
	flowFields(c, w.n, style)
	return c
}

func nodeWants(ns []v1alpha1.Node) listWant {
	out := make(listWant, len(ns))
	for i := range ns {
		out[i] = nodeWant{n: &ns[i]}
	}
	return out
}

func caseWants(cs []v1alpha1.BranchCase) listWant {
	out := make(listWant, len(cs))
	for i := range cs {
		out[i] = nodeWant{n: &cs[i].Node, weight: &cs[i].Weight}
	}
	return out
}

// field is one key of an operator's parameter mapping.
type field struct {
	key  string
	want want
}

// operands are the parameters of a node's operator as they are written
// under its key, or nil when the operator's value is a list (seq, all,
// fallback, race without a hedge, branch) or a node (optional, async).
func operands(n *v1alpha1.Node) []field {
	switch opName(n) {
	case "race":
		if n.Race.HedgeAfter == nil {
			return nil
		}
		return []field{{"hedgeAfter", durWant(*n.Race.HedgeAfter)}, {"of", nodeWants(n.Race.Of)}}
	case "quorum":
		return []field{{"k", intWant(n.Quorum.K)}, {"of", nodeWants(n.Quorum.Of)}}
	case "retry":
		r := n.Retry
		fs := []field{{"attempts", intWant(r.Attempts)}}
		if r.PerTryTimeout != nil {
			fs = append(fs, field{"perTryTimeout", durWant(*r.PerTryTimeout)})
		}
		if r.Backoff != nil {
			fs = append(fs, field{"backoff", durWant(*r.Backoff)})
		}
		return append(fs, field{"do", nodeWant{n: r.Do}})
	case "timeout":
		return []field{{"after", durWant(n.Timeout.After)}, {"do", nodeWant{n: n.Timeout.Do}}}
	}
	return nil
}

// operand is what a list- or node-valued operator holds.
func operand(n *v1alpha1.Node) want {
	switch opName(n) {
	case "seq":
		return nodeWants(n.Seq)
	case "all":
		return nodeWants(n.All)
	case "fallback":
		return nodeWants(n.Fallback)
	case "race":
		return nodeWants(n.Race.Of)
	case "branch":
		return caseWants(n.Branch)
	case "optional":
		return nodeWant{n: n.Optional}
	case "async":
		return nodeWant{n: n.Async}
	case "call":
		return nameWant(n.Call)
	}
	return nil
}

// keysOf lists the scalar keys of mapping y, or nil with false when a key
// is not a scalar or is given twice.
func keysOf(y *yaml.Node) ([]string, bool) {
	if y.Kind != yaml.MappingNode {
		return nil, false
	}
	var ks []string
	for i := 0; i+1 < len(y.Content); i += 2 {
		k := y.Content[i]
		if k.Kind != yaml.ScalarNode || slices.Contains(ks, k.Value) {
			return nil, false
		}
		ks = append(ks, k.Value)
	}
	return ks, true
}

// hasFields reports whether mapping y has exactly the fields' keys.
func hasFields(y *yaml.Node, fs []field) bool {
	ks, ok := keysOf(y)
	if !ok || len(ks) != len(fs) || y.Anchor != "" {
		return false
	}
	for _, f := range fs {
		if !slices.Contains(ks, f.key) {
			return false
		}
	}
	return true
}

func valueOf(y *yaml.Node, key string) (int, *yaml.Node) {
	for i := 0; i+1 < len(y.Content); i += 2 {
		if y.Content[i].Value == key {
			return i / 2, y.Content[i+1]
		}
	}
	return -1, nil
}

// opPair is the index of the operator pair of the node mapping y: its
// only key besides a branch case's weight.
func opPair(y *yaml.Node, isCase bool) (int, bool) {
	ks, ok := keysOf(y)
	if !ok {
		return 0, false
	}
	idx := -1
	for i, k := range ks {
		if isCase && k == "weight" {
			continue
		}
		if idx >= 0 || !slices.Contains(v1alpha1.Operators, k) {
			return 0, false
		}
		idx = i
	}
	if isCase && !slices.Contains(ks, "weight") {
		return 0, false
	}
	return idx, idx >= 0
}

// matchNode reports whether y reads as the node n (a branch case with
// weight when weight is set), whatever its style.
func matchNode(y *yaml.Node, n *v1alpha1.Node, weight *float64) bool {
	if y == nil || n == nil || y.Kind == yaml.AliasNode {
		return false
	}
	op := opName(n)
	if op == "" {
		return false
	}
	if weight == nil && op == "call" && y.Kind == yaml.ScalarNode {
		return nameWant(n.Call).match(y)
	}
	i, ok := opPair(y, weight != nil)
	if !ok || y.Content[2*i].Value != op {
		return false
	}
	if weight != nil {
		if _, w := valueOf(y, "weight"); !floatWant(*weight).match(w) {
			return false
		}
	}
	v := y.Content[2*i+1]
	if v.Kind == yaml.AliasNode {
		return false
	}
	if fs := operands(n); fs != nil {
		if !hasFields(v, fs) {
			return false
		}
		for _, f := range fs {
			if _, fv := valueOf(v, f.key); !f.want.match(fv) {
				return false
			}
		}
		return true
	}
	if op == "race" && v.Kind == yaml.MappingNode {
		// {of: [...]} without a hedge reads as the plain list
		fs := []field{{"of", operand(n)}}
		if !hasFields(v, fs) {
			return false
		}
		_, of := valueOf(v, "of")
		return fs[0].want.match(of)
	}
	return operand(n).match(v)
}

// node edits y, which sits at sl, into the node n (a branch case when
// weight is set) as locally as it can: when y already has n's operator,
// only the operands that differ are rewritten, so the comments and style
// of the rest of the flow are kept.
func (a *applier) node(y *yaml.Node, n *v1alpha1.Node, weight *float64, sl slot) error {
	w := nodeWant{n, weight}
	if w.match(y) {
		return nil
	}
	op := opName(n)
	if y.Kind == yaml.MappingNode && y.Anchor == "" {
		if i, ok := opPair(y, weight != nil); ok && y.Content[2*i].Value == op {
			if weight != nil {
				wi, wv := valueOf(y, "weight")
				if fw := floatWant(*weight); !fw.match(wv) {
					wsl, err := a.valueSlot(y, wi, sl)
					if err != nil {
						return err
					}
					if err := fw.edit(a, wv, wsl); err != nil {
						return err
					}
				}
			}
			vsl, err := a.valueSlot(y, i, sl)
			if err != nil {
				return err
			}
			return a.operand(y.Content[2*i+1], n, vsl)
		}
	}
	return a.replace(y, sl, w.render(0))
}

// operand edits v, the value under n's operator key, into n's operand.
func (a *applier) operand(v *yaml.Node, n *v1alpha1.Node, sl slot) error {
	if fs := operands(n); fs != nil {
		if !hasFields(v, fs) {
			return a.replace(v, sl, flowNode(n, 0).items[0])
		}
		for _, f := range fs {
			i, fv := valueOf(v, f.key)
			if f.want.match(fv) {
				continue
			}
			fsl, err := a.valueSlot(v, i, sl)
			if err != nil {
				return err
			}
			if err := f.want.edit(a, fv, fsl); err != nil {
				return err
			}
		}
		return nil
	}
	if opName(n) == "race" && v.Kind == yaml.MappingNode && hasFields(v, []field{{"of", nil}}) {
		i, of := valueOf(v, "of")
		osl, err := a.valueSlot(v, i, sl)
		if err != nil {
			return err
		}
		return operand(n).edit(a, of, osl)
	}
	return operand(n).edit(a, v, sl)
}

// list edits the list y at sl into items. A flow list ([a, b]) stays one
// flow list, its kept items' text reused; in a block list the items that
// are kept stay as they are, with their comments, and only the others are
// rewritten, removed or added (an LCS alignment decides which), new ones
// in the dash and quote style of the first item.
func (a *applier) list(y *yaml.Node, sl slot, items []want, style yaml.Style) error {
	if listWant(items).match(y) {
		return nil
	}
	if y.Kind != yaml.SequenceNode || y.Anchor != "" {
		return a.replace(y, sl, listWant(items).render(style))
	}
	if len(y.Content) > 0 && y.Content[0].Kind == yaml.ScalarNode {
		style = quoteStyle(y.Content[0])
	}
	if len(items) == 0 {
		return a.replace(y, sl, seqNode())
	}
	if y.Style&yaml.FlowStyle != 0 {
		if r := listWant(items).render(style); !sl.flow && !simple(r, 0) {
			// a compact list of names whose items become operators reads
			// better as a block list
			return a.replace(y, sl, r)
		}
		return a.flowList(y, sl, items, style)
	}
	slots := make([]slot, len(y.Content))
	for i := range y.Content {
		s, err := a.itemSlot(y, i, sl)
		if err != nil {
			return a.replace(y, sl, listWant(items).render(style))
		}
		slots[i] = s
	}
	toOld := align(y.Content, items)
	type anchor struct{ o, n int }
	var anchors []anchor
	for ni, oi := range toOld {
		if oi >= 0 {
			anchors = append(anchors, anchor{oi, ni})
		}
	}
	anchors = append(anchors, anchor{len(y.Content), len(items)})
	po, pn := -1, -1
	for _, an := range anchors {
		dels, ins := y.Content[po+1:an.o], items[pn+1:an.n]
		if len(dels) == len(ins) {
			for k := range dels {
				if err := ins[k].edit(a, dels[k], slots[po+1+k]); err != nil {
					return err
				}
			}
		} else if err := a.regionReplace(y, slots, po, an.o, ins, style); err != nil {
			return err
		}
		po, pn = an.o, an.n
	}
	return nil
}

// regionReplace replaces the block list items between the kept items po
// and next (exclusive) by ins, line by line.
func (a *applier) regionReplace(y *yaml.Node, slots []slot, po, next int, ins []want, style yaml.Style) error {
	s, nl := a.src, a.lay.nl
	ind := slots[0].indent
	gap := 2
	if st, err := s.offset(y.Content[0].Line, y.Content[0].Column); err == nil && s.sameLine(slots[0].after, st) {
		gap = s.column(st) - 1 - ind
	}
	var lines []string
	for _, w := range ins {
		ls := a.lay.item(w.render(style), ind)
		if len(ls) == 1 && gap != 2 && gap > 0 {
			ls[0] = pad(ind) + "-" + pad(gap-1) + ls[0][ind+2:]
		}
		lines = append(lines, ls...)
	}
	endOf := func(i int) (int, error) {
		sp, err := a.extent(y.Content[i], slots[i])
		if err != nil {
			return 0, a.errorf(y.Content[i], "cannot edit here: %v", err)
		}
		return s.lineEnd(sp.end), nil
	}
	if po+1 < next { // items to remove
		first := s.lineStart(slots[po+1].after - 1)
		last, err := endOf(next - 1)
		if err != nil {
			return err
		}
		switch {
		case len(lines) > 0:
			a.add(first, last, strings.Join(lines, nl))
		case s.nextLine(last) > last:
			a.add(first, s.nextLine(last), "")
		default: // the last line of a file without a final line break
			a.add(first-breakBefore(s.b, first), last, "")
		}
		return nil
	}
	if po >= 0 {
		end, err := endOf(po)
		if err != nil {
			return err
		}
		a.add(end, end, nl+strings.Join(lines, nl))
		return nil
	}
	start := s.lineStart(slots[next].after - 1)
	a.add(start, start, strings.Join(lines, nl)+nl)
	return nil
}

// flowList edits a flow list: same length, item by item; otherwise it is
// written again on one line, kept items in their own words.
func (a *applier) flowList(y *yaml.Node, sl slot, items []want, style yaml.Style) error {
	if len(y.Content) == len(items) {
		for i, c := range y.Content {
			if items[i].match(c) {
				continue
			}
			isl, err := a.itemSlot(y, i, sl)
			if err != nil {
				return err
			}
			if err := items[i].edit(a, c, isl); err != nil {
				return err
			}
		}
		return nil
	}
	sp, err := a.extent(y, sl)
	if err != nil {
		return a.errorf(y, "cannot edit here: %v", err)
	}
	toOld := align(y.Content, items)
	parts := make([]string, len(items))
	for i, w := range items {
		parts[i] = a.lay.flowText(w.render(style))
		if j := toOld[i]; j >= 0 {
			if t, ok := a.oneLine(y.Content[j]); ok {
				parts[i] = t
			}
		}
	}
	open, _ := a.src.skipProps(sp.start)
	inner := "[" + strings.Join(parts, a.separator(y)) + "]"
	if open+1 < sp.end-1 && a.src.b[open+1] == ' ' && a.src.b[sp.end-2] == ' ' {
		inner = "[ " + strings.Join(parts, a.separator(y)) + " ]"
	}
	a.add(sp.start, sp.end, inner)
	return nil
}

// oneLine is the original text of a flow collection's item when it is on
// one line.
func (a *applier) oneLine(y *yaml.Node) (string, bool) {
	sp, err := a.src.extent(y, -1, true)
	if err != nil || !a.src.sameLine(sp.start, sp.end) || sp.end <= sp.start {
		return "", false
	}
	return string(a.src.b[sp.start:sp.end]), true
}

// align pairs the items of a new list with old items they match, keeping
// order and as many as possible (a longest common subsequence): the index
// of the old item for each new one, or -1.
func align(old []*yaml.Node, items []want) []int {
	n, m := len(old), len(items)
	out := make([]int, m)
	for i := range out {
		out[i] = -1
	}
	if n == 0 || m == 0 || n*m > 1<<20 {
		return out
	}
	eq := make([][]bool, n)
	dp := make([][]int, n+1)
	for i := range dp {
		dp[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		eq[i] = make([]bool, m)
		for j := m - 1; j >= 0; j-- {
			eq[i][j] = items[j].match(old[i])
			if eq[i][j] {
				dp[i][j] = dp[i+1][j+1] + 1
			} else {
				dp[i][j] = max(dp[i+1][j], dp[i][j+1])
			}
		}
	}
	for i, j := 0, 0; i < n && j < m; {
		switch {
		case eq[i][j] && dp[i][j] == dp[i+1][j+1]+1:
			out[j] = i
			i++
			j++
		case dp[i+1][j] >= dp[i][j+1]:
			i++
		default:
			j++
		}
	}
	return out
}
