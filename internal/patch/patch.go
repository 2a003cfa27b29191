// Package patch edits an emac spec file in place: `emac accept` writes a
// discovered ModelDelta (a component's failure domains, a new component, a
// new flow) into the user's own YAML. People review the result as a Git
// diff, so everything the edit does not change stays byte-identical:
// comments, key order, quoting, indentation, blank lines and the other
// documents of the file. The file is parsed with yaml.v3 for positions
// only; the edit splices new text into the original bytes, written in the
// style of the text around it. Every edit is checked by parsing the result
// again: unless the edited document reads exactly as before with the one
// requested change, Apply returns an error instead of a surprising file.
package patch

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/diag"
)

// Edit is one change to one journey of a spec file. Exactly one of
// Component (with Domains), AddComponent and Flow is set; it mirrors
// v1alpha1.SpecEdit, which discovery proposes.
type Edit struct {
	// Journey is the metadata.name of the document to edit: a Journey, a
	// JourneyIntent or, for component edits, a ComponentCatalog. Empty
	// means the file's only journey.
	Journey string
	// Component, with Domains, sets that component's failure domains
	// (spec.components.<c>.domains of a Journey or ComponentCatalog,
	// spec.components.<c>.failureDomains of a JourneyIntent). An empty
	// Domains leaves a component without the key as it is and empties an
	// existing list.
	Component string
	Domains   []string
	// AddComponent adds an empty entry `<name>: {}` under spec.components
	// (not for a JourneyIntent), for the user to bind to an SLO.
	AddComponent string
	// Flow replaces spec.flow of a Journey. A JourneyIntent's operator tree
	// is not rewritten: convert the file to kind Journey first.
	Flow *v1alpha1.Node
}

// Apply applies edits to src, the contents of the spec file name (used in
// error positions), in order, each to the result of the ones before; error
// positions refer to the text the failing edit saw. On error nothing is
// returned: a half-applied delta is worse than none. Errors are
// *diag.Diagnostic values, "file:line:col: error: summary".
func Apply(name string, src []byte, edits []Edit) ([]byte, error) {
	out := append([]byte(nil), src...)
	for _, e := range edits {
		next, err := applyOne(name, out, e)
		if err != nil {
			return nil, err
		}
		out = next
	}
	return out, nil
}

// applier carries one edit of one text.
type applier struct {
	name    string
	src     *source
	docs    []*yaml.Node // document nodes, in order
	idx     int          // the edited document
	root    *yaml.Node   // its top-level mapping
	specKey *yaml.Node   // the key of its spec, once found
	kind    string
	lay     layout
	splices []splice
}

// splice replaces src[start:end] with text.
type splice struct {
	start, end int
	text       string
}

// add records a splice. A one-line change followed on its line by a
// comment padded into a column ("x   # why") keeps the comment in its
// column where the blanks allow.
func (a *applier) add(start, end int, text string) {
	s := a.src
	if !strings.ContainsAny(text, "\r\n") && start <= end && s.sameLine(start, end) {
		if tail := s.trailing(end); tail != "" {
			blanks := len(tail) - len(strings.TrimLeft(tail, " \t"))
			if blanks >= 2 && !strings.Contains(tail[:blanks], "\t") {
				delta := utf8.RuneCountInString(text) - utf8.RuneCount(s.b[start:end])
				keep := max(1, blanks-delta)
				text += pad(keep)
				end += blanks
			}
		}
	}
	a.splices = append(a.splices, splice{start, end, text})
}

// errorf is an error at n (or at the start of the file).
func (a *applier) errorf(n *yaml.Node, format string, args ...any) error {
	r := &diag.Range{Filename: a.name, Start: diag.Pos{Line: 1, Column: 1}}
	if n != nil && n.Line > 0 {
		r = diag.NodeRange(a.name, n)
	}
	return &diag.Diagnostic{Severity: diag.Error, Summary: fmt.Sprintf(format, args...), Subject: r}
}

// parseDocs reads every document of a YAML stream, keeping positions.
func parseDocs(name string, b []byte) ([]*yaml.Node, error) {
	at := func(line int, format string, args ...any) error {
		return &diag.Diagnostic{Severity: diag.Error, Summary: fmt.Sprintf(format, args...),
			Subject: &diag.Range{Filename: name, Start: diag.Pos{Line: line, Column: 1}}}
	}
	if bytes.HasPrefix(b, []byte{0xFE, 0xFF}) || bytes.HasPrefix(b, []byte{0xFF, 0xFE}) {
		return nil, at(1, "the file is UTF-16; only UTF-8 spec files are edited")
	}
	if !utf8.Valid(b) {
		i := 0
		for i < len(b) {
			r, w := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && w == 1 {
				break
			}
			i += w
		}
		return nil, at(len(newSource(b[:i]).lines), "invalid UTF-8")
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			msg := strings.TrimPrefix(err.Error(), "yaml: ")
			line := 1
			if m := lineRE.FindStringSubmatch(msg); m != nil {
				fmt.Sscan(m[1], &line)
				msg = strings.TrimSpace(strings.Replace(msg, m[0]+":", "", 1))
			}
			return nil, at(line, "invalid YAML: %s", msg)
		}
		docs = append(docs, &n)
	}
}

func applyOne(name string, src []byte, e Edit) ([]byte, error) {
	docs, err := parseDocs(name, src)
	if err != nil {
		return nil, err
	}
	a := &applier{name: name, src: newSource(src), docs: docs}
	n := 0
	for _, set := range []bool{e.Component != "", e.AddComponent != "", e.Flow != nil} {
		if set {
			n++
		}
	}
	if n != 1 || (e.Domains != nil && e.Component == "") {
		return nil, a.errorf(nil, "an edit sets exactly one of Component (with Domains), AddComponent and Flow")
	}
	if err := a.selectDoc(e.Journey); err != nil {
		return nil, err
	}
	a.lay = a.detectLayout()
	var path []string
	var leaf func(o, n *yaml.Node) bool
	switch {
	case e.Component != "":
		path, leaf, err = a.setDomains(e.Component, e.Domains)
	case e.AddComponent != "":
		path, leaf, err = a.addComponent(e.AddComponent)
	default:
		path, leaf, err = a.setFlow(e.Flow)
	}
	if err != nil {
		return nil, err
	}
	out, err := a.result()
	if err != nil {
		return nil, err
	}
	if err := a.verify(out, path, leaf); err != nil {
		return nil, err
	}
	return out, nil
}

// result applies the splices.
func (a *applier) result() ([]byte, error) {
	sort.SliceStable(a.splices, func(i, j int) bool { return a.splices[i].start < a.splices[j].start })
	var out []byte
	at := 0
	for _, s := range a.splices {
		if s.start < at || s.end < s.start || s.end > len(a.src.b) {
			return nil, a.errorf(nil, "internal: overlapping edits")
		}
		out = append(out, a.src.b[at:s.start]...)
		out = append(out, s.text...)
		at = s.end
	}
	return append(out, a.src.b[at:]...), nil
}

func scalarField(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Kind == yaml.ScalarNode && m.Content[i].Value == key && m.Content[i+1].Kind == yaml.ScalarNode {
			return m.Content[i+1]
		}
	}
	return nil
}

type candidate struct {
	idx  int
	root *yaml.Node
	kind string
	name string
	at   *yaml.Node
}

var journeyKinds = []string{v1alpha1.KindJourney, v1alpha1.KindJourneyIntent}

// selectDoc picks the document to edit, as the loader recognises emac
// documents (an emac.dev apiVersion and a known kind).
func (a *applier) selectDoc(journey string) error {
	var cands []candidate
	for i, d := range a.docs {
		if len(d.Content) == 0 || d.Content[0].Kind != yaml.MappingNode {
			continue
		}
		r := d.Content[0]
		av, kind := scalarField(r, "apiVersion"), scalarField(r, "kind")
		if av == nil || kind == nil || !strings.HasPrefix(av.Value, v1alpha1.Group+"/") {
			continue
		}
		if !slices.Contains(journeyKinds, kind.Value) && kind.Value != v1alpha1.KindComponentCatalog {
			continue
		}
		c := candidate{idx: i, root: r, kind: kind.Value, at: r}
		if md := mapValue(r, "metadata"); md != nil {
			if nm := scalarField(md, "name"); nm != nil {
				c.name, c.at = nm.Value, nm
			}
		}
		cands = append(cands, c)
	}
	var found []candidate
	var names []string
	for _, c := range cands {
		isJourney := slices.Contains(journeyKinds, c.kind)
		if isJourney {
			names = append(names, c.name)
		}
		if (journey == "" && isJourney) || (journey != "" && c.name == journey) {
			found = append(found, c)
		}
	}
	switch {
	case len(found) == 1:
		c := found[0]
		a.idx, a.root, a.kind = c.idx, c.root, c.kind
		return nil
	case len(found) > 1 && journey == "":
		return a.errorf(found[1].at, "the file holds %d journeys (%s); name the one to edit", len(found), strings.Join(names, ", "))
	case len(found) > 1:
		lines := make([]string, len(found))
		for i, c := range found {
			lines[i] = fmt.Sprint(c.at.Line)
		}
		return a.errorf(found[1].at, "%q names %d documents (lines %s); it is ambiguous", journey, len(found), strings.Join(lines, ", "))
	case journey == "":
		return a.errorf(nil, "no journey in this file (apiVersion %s, kind Journey or JourneyIntent)", v1alpha1.APIVersion)
	}
	var all []string
	for _, c := range cands {
		all = append(all, c.name)
	}
	msg := fmt.Sprintf("no journey named %q in this file", journey)
	if s := diag.Suggest(journey, all); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	} else if len(names) > 0 {
		msg += fmt.Sprintf(" (journeys: %s)", strings.Join(names, ", "))
	}
	return a.errorf(nil, "%s", msg)
}

// mapValue is the mapping under key in m, or nil.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Kind == yaml.ScalarNode && m.Content[i].Value == key && m.Content[i+1].Kind == yaml.MappingNode {
			return m.Content[i+1]
		}
	}
	return nil
}

// get finds key in the mapping m: its pair index, or -1. A key given twice
// or a value shared through an anchor or alias is an error: editing it
// would change more than the one place the edit names.
func (a *applier) get(m *yaml.Node, key string) (int, error) {
	idx := -1
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		if k.Kind != yaml.ScalarNode || k.Value != key {
			continue
		}
		if idx >= 0 {
			return -1, a.errorf(k, "key %q is given twice", key)
		}
		idx = i / 2
	}
	if idx >= 0 {
		if err := a.unshared(m.Content[2*idx+1], key); err != nil {
			return -1, err
		}
	}
	return idx, nil
}

func (a *applier) unshared(v *yaml.Node, what string) error {
	switch {
	case v.Kind == yaml.AliasNode:
		return a.errorf(v, "%s is an alias (*%s); edit the anchored value instead", what, v.Value)
	case v.Anchor != "":
		return a.errorf(v, "%s is anchored (&%s) and may be shared through aliases; edit it by hand", what, v.Anchor)
	}
	return nil
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// slot is where a node sits: what an edit needs to replace it in place.
type slot struct {
	// flow says the node is inside a flow collection.
	flow bool
	// item says the node is a block list item (else a mapping value).
	item bool
	// indent is the indentation of its key or dash.
	indent int
	// after is the offset just after its ":" or "-" (-1 if unknown).
	after int
}

func (a *applier) extent(n *yaml.Node, sl slot) (span, error) {
	ind := sl.indent
	if sl.flow {
		ind = -1
	}
	return a.src.extent(n, ind, sl.flow)
}

// valueSlot is the slot of the i-th value of mapping m (itself at msl).
func (a *applier) valueSlot(m *yaml.Node, i int, msl slot) (slot, error) {
	k := m.Content[2*i]
	flow := msl.flow || m.Style&yaml.FlowStyle != 0
	sl := slot{flow: flow, indent: k.Column - 1, after: -1}
	ks, err := a.src.extent(k, k.Column-1, flow)
	if err != nil {
		return sl, a.errorf(k, "cannot edit here: %v", err)
	}
	j := ks.end
	for j < len(a.src.b) && isBlank(a.src.b[j]) {
		j++
	}
	if j < len(a.src.b) && a.src.b[j] == ':' {
		sl.after = j + 1
	} else if !flow {
		return sl, a.errorf(k, "cannot edit here: no \":\" after key %q on its line", k.Value)
	}
	return sl, nil
}

// itemSlot is the slot of the i-th item of list s (itself at ssl).
func (a *applier) itemSlot(s *yaml.Node, i int, ssl slot) (slot, error) {
	if ssl.flow || s.Style&yaml.FlowStyle != 0 {
		return slot{flow: true, after: -1}, nil
	}
	it := s.Content[i]
	d, ok := a.src.dashOf(it)
	if !ok || !a.src.onlySpaceBefore(d) {
		return slot{}, a.errorf(it, "cannot edit here: this list item is not on its dash's line")
	}
	return slot{item: true, indent: a.src.column(d) - 1, after: d + 1}, nil
}

// spec is the document's spec mapping and its slot.
func (a *applier) spec() (*yaml.Node, slot, error) {
	i, err := a.get(a.root, "spec")
	if err != nil {
		return nil, slot{}, err
	}
	if i < 0 || a.root.Content[2*i+1].Kind != yaml.MappingNode {
		at := a.root
		if i >= 0 {
			at = a.root.Content[2*i]
		}
		return nil, slot{}, a.errorf(at, "%s has no spec mapping", a.kind)
	}
	a.specKey = a.root.Content[2*i]
	sl, err := a.valueSlot(a.root, i, slot{indent: a.root.Column - 1, after: -1})
	return a.root.Content[2*i+1], sl, err
}

// Edits.

func (a *applier) domainsKey() string {
	if a.kind == v1alpha1.KindJourneyIntent {
		return "failureDomains"
	}
	return "domains"
}

func (a *applier) components(spec *yaml.Node, ssl slot) (*yaml.Node, slot, int, error) {
	i, err := a.get(spec, "components")
	if err != nil || i < 0 {
		return nil, slot{}, i, err
	}
	sl, err := a.valueSlot(spec, i, ssl)
	return spec.Content[2*i+1], sl, i, err
}

func (a *applier) setDomains(comp string, domains []string) ([]string, func(o, n *yaml.Node) bool, error) {
	seen := map[string]bool{}
	for _, d := range domains {
		if d == "" || !utf8.ValidString(d) {
			return nil, nil, a.errorf(nil, "failure-domain name %q of component %q is empty or not UTF-8", d, comp)
		}
		if seen[d] {
			return nil, nil, a.errorf(nil, "failure domain %q is listed twice for component %q", d, comp)
		}
		seen[d] = true
	}
	key := a.domainsKey()
	spec, ssl, err := a.spec()
	if err != nil {
		return nil, nil, err
	}
	comps, csl, ci, err := a.components(spec, ssl)
	if err != nil {
		return nil, nil, err
	}
	if comps == nil || comps.Kind != yaml.MappingNode {
		at := a.specKey
		if ci >= 0 {
			at = spec.Content[2*ci]
		}
		return nil, nil, a.errorf(at, "%s %q has no component %q: spec.components is empty", a.kind, a.docName(), comp)
	}
	i, err := a.get(comps, comp)
	if err != nil {
		return nil, nil, err
	}
	if i < 0 {
		var names []string
		for j := 0; j+1 < len(comps.Content); j += 2 {
			names = append(names, comps.Content[j].Value)
		}
		msg := fmt.Sprintf("%s %q has no component %q", a.kind, a.docName(), comp)
		if s := diag.Suggest(comp, names); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		return nil, nil, a.errorf(spec.Content[2*ci], "%s", msg)
	}
	path := []string{"spec", "components", comp, key}
	leaf := func(o, n *yaml.Node) bool {
		if n == nil {
			return len(domains) == 0 && o == nil
		}
		if n.Kind != yaml.SequenceNode || len(n.Content) != len(domains) {
			return false
		}
		for j, d := range domains {
			if !(nameWant(d)).match(n.Content[j]) {
				return false
			}
		}
		return true
	}
	c := comps.Content[2*i+1]
	cs, err := a.valueSlot(comps, i, csl)
	if err != nil {
		return nil, nil, err
	}
	tmpl := a.domainsTemplate(comps, key)
	switch {
	case c.Kind == yaml.MappingNode:
		j, err := a.get(c, key)
		if err != nil {
			return nil, nil, err
		}
		if j >= 0 {
			v := c.Content[2*j+1]
			vs, err := a.valueSlot(c, j, cs)
			if err != nil {
				return nil, nil, err
			}
			style := tmpl.style
			if v.Kind == yaml.SequenceNode && len(v.Content) > 0 {
				style = quoteStyle(v.Content[0])
			}
			return path, leaf, a.list(v, vs, nameWants(domains), style)
		}
		if len(domains) == 0 {
			return path, leaf, nil
		}
		return path, leaf, a.withLayout(tmpl.lay, func() error {
			return a.insertPair(c, cs, key, namesNode(domains, tmpl.style), -1)
		})
	case isNull(c):
		if len(domains) == 0 {
			return path, leaf, nil
		}
		return path, leaf, a.withLayout(tmpl.lay, func() error {
			return a.replace(c, cs, mapNode().set(key, namesNode(domains, tmpl.style)))
		})
	}
	return nil, nil, a.errorf(c, "component %q is %s, not a mapping", comp, diag.NodeKind(c))
}

func (a *applier) docName() string {
	if md := mapValue(a.root, "metadata"); md != nil {
		if n := scalarField(md, "name"); n != nil {
			return n.Value
		}
	}
	return ""
}

func quoteStyle(n *yaml.Node) yaml.Style {
	return n.Style & (yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle)
}

func namesNode(names []string, style yaml.Style) *ynode {
	l := seqNode()
	for _, d := range names {
		l.items = append(l.items, strNode(d, style))
	}
	return l
}

type template struct {
	lay   layout
	style yaml.Style
}

// domainsTemplate is how the other components write their domains, so a
// new list looks like its neighbours: flow or block, the dashes'
// indentation, the names' quoting. With no neighbour to copy, a flow list
// of plain names, as in the SPEC's examples.
func (a *applier) domainsTemplate(comps *yaml.Node, key string) template {
	t := template{lay: a.lay}
	t.lay.compact = true
	for i := 1; i < len(comps.Content); i += 2 {
		c := comps.Content[i]
		if c.Kind != yaml.MappingNode {
			continue
		}
		for j := 0; j+1 < len(c.Content); j += 2 {
			k, v := c.Content[j], c.Content[j+1]
			if k.Value != key || v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
				continue
			}
			t.style = quoteStyle(v.Content[0])
			if v.Style&yaml.FlowStyle == 0 {
				t.lay.compact = false
				if d, ok := a.src.dashOf(v.Content[0]); ok {
					t.lay.seqOffset = a.src.column(d) - k.Column
				}
			}
			return t
		}
	}
	return t
}

func (a *applier) withLayout(l layout, f func() error) error {
	saved := a.lay
	a.lay = l
	defer func() { a.lay = saved }()
	return f()
}

func (a *applier) addComponent(name string) ([]string, func(o, n *yaml.Node) bool, error) {
	if a.kind == v1alpha1.KindJourneyIntent {
		return nil, nil, a.errorf(scalarField(a.root, "kind"), "components are not added to a JourneyIntent (the paper's format): convert the file to kind Journey first")
	}
	if !utf8.ValidString(name) {
		return nil, nil, a.errorf(nil, "component name %q is not UTF-8", name)
	}
	spec, ssl, err := a.spec()
	if err != nil {
		return nil, nil, err
	}
	path := []string{"spec", "components", name}
	leaf := func(o, n *yaml.Node) bool {
		return o == nil && n != nil && n.Kind == yaml.MappingNode && len(n.Content) == 0
	}
	comps, csl, ci, err := a.components(spec, ssl)
	if err != nil {
		return nil, nil, err
	}
	entry := mapNode().set(name, mapNode())
	entry.node = true // a new components mapping is written in block style
	switch {
	case ci < 0:
		return path, leaf, a.insertPair(spec, ssl, "components", entry, a.after(spec, "flow"))
	case isNull(comps):
		return path, leaf, a.replace(comps, csl, entry)
	case comps.Kind != yaml.MappingNode:
		return nil, nil, a.errorf(comps, "spec.components is %s, not a mapping", diag.NodeKind(comps))
	}
	i, err := a.get(comps, name)
	if err != nil {
		return nil, nil, err
	}
	if i >= 0 {
		return nil, nil, a.errorf(comps.Content[2*i], "component %q already exists", name)
	}
	return path, leaf, a.insertPair(comps, csl, name, mapNode(), -1)
}

// after is the pair index of key in m to insert after (-1: at the end).
func (a *applier) after(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i / 2
		}
	}
	return -1
}

func (a *applier) setFlow(n *v1alpha1.Node) ([]string, func(o, n *yaml.Node) bool, error) {
	switch a.kind {
	case v1alpha1.KindJourneyIntent:
		at := scalarField(a.root, "kind")
		if spec := mapValue(a.root, "spec"); spec != nil {
			for i := 0; i+1 < len(spec.Content); i += 2 {
				if spec.Content[i].Value == "operator" {
					at = spec.Content[i]
				}
			}
		}
		return nil, nil, a.errorf(at, "the operator tree of a JourneyIntent (the paper's format) is not rewritten: convert the file to kind Journey first, then apply the flow")
	case v1alpha1.KindComponentCatalog:
		return nil, nil, a.errorf(scalarField(a.root, "kind"), "a ComponentCatalog has no flow; name the journey to edit")
	}
	if err := checkNode(n, "spec.flow"); err != nil {
		return nil, nil, a.errorf(nil, "%v", err)
	}
	spec, ssl, err := a.spec()
	if err != nil {
		return nil, nil, err
	}
	path := []string{"spec", "flow"}
	leaf := func(o, y *yaml.Node) bool { return y != nil && matchNode(y, n, nil) }
	i, err := a.get(spec, "flow")
	if err != nil {
		return nil, nil, err
	}
	if i < 0 {
		return path, leaf, a.insertPair(spec, ssl, "flow", flowNode(n, 0), a.after(spec, "objectives"))
	}
	fs, err := a.valueSlot(spec, i, ssl)
	if err != nil {
		return nil, nil, err
	}
	return path, leaf, a.node(spec.Content[2*i+1], n, nil, fs)
}

// Primitive edits.

// replace writes v in place of y, in y's slot: in flow style inside flow
// collections, on the key's (or dash's) line when it fits there, else as
// a block below it. A block node is replaced up to the end of its last
// line (a comment there was about it); comment lines after it belong to
// what follows and are kept.
func (a *applier) replace(y *yaml.Node, sl slot, v *ynode) error {
	if err := a.unshared(y, "this value"); err != nil {
		return err
	}
	sp, err := a.extent(y, sl)
	if err != nil {
		return a.errorf(y, "cannot edit here: %v", err)
	}
	if sl.flow {
		a.add(sp.start, sp.end, a.lay.flowText(v))
		return nil
	}
	if sl.after < 0 {
		return a.errorf(y, "cannot edit here: unsupported layout")
	}
	s, nl := a.src, a.lay.nl
	empty := y.Kind == yaml.ScalarNode && y.Value == "" && y.Style&^yaml.TaggedStyle == 0 && sp.end == sp.start
	end := sp.end
	if !empty && (y.Kind == yaml.MappingNode || y.Kind == yaml.SequenceNode) && y.Style&yaml.FlowStyle == 0 {
		end = s.lineEnd(sp.end)
	}
	onLine := !empty && s.sameLine(sl.after, sp.start)
	ownLine := !empty && !onLine && s.onlySpaceBefore(sp.start)
	if sl.item {
		col := sl.indent + 2
		if onLine {
			col = s.column(sp.start) - 1
		}
		if t := a.lay.inline(v, col); t != "" {
			if onLine {
				a.add(sp.start, end, t)
			} else {
				a.add(sl.after, max(end, sl.after), " "+t)
			}
			return nil
		}
		lines := a.lay.block(v, col)
		lines[0] = lines[0][col:]
		if onLine {
			a.add(sp.start, end, strings.Join(lines, nl))
		} else {
			a.add(sl.after, max(end, sl.after), " "+strings.Join(lines, nl))
		}
		return nil
	}
	if t := a.lay.inline(v, s.column(sl.after)+1); t != "" {
		switch {
		case empty:
			a.add(sl.after, sl.after, " "+t)
		case onLine:
			a.add(sp.start, end, t)
		default:
			a.add(sl.after, end, " "+t)
		}
		return nil
	}
	child := sl.indent + a.lay.step
	if v.kind == yaml.SequenceNode {
		child = sl.indent + a.lay.seqOffset
	}
	if ownLine {
		if y.Kind == v.kind && y.Style&yaml.FlowStyle == 0 {
			child = s.column(sp.start) - 1
		}
		a.add(s.lineStart(sp.start), end, strings.Join(a.lay.block(v, child), nl))
		return nil
	}
	// On the key's line: keep a comment that follows it there.
	from, tail := sl.after, ""
	if empty {
		tail = s.trailing(sl.after)
		end = s.lineEnd(sl.after)
	} else if end == sp.end {
		tail = s.trailing(sp.end)
		if tail != "" {
			end = s.lineEnd(sp.end)
		}
	}
	a.add(from, end, tail+nl+strings.Join(a.lay.block(v, child), nl))
	return nil
}

// insertPair adds key: v to the mapping m, after pair index at (-1: after
// the last), keeping the mapping's style: a line at its keys' indentation
// (values aligned if the others are), or ", key: v" before a flow
// mapping's closing brace.
func (a *applier) insertPair(m *yaml.Node, msl slot, key string, v *ynode, at int) error {
	s := a.src
	flow := msl.flow || m.Style&yaml.FlowStyle != 0
	if at < 0 || at >= len(m.Content)/2 {
		at = len(m.Content)/2 - 1
	}
	// a new key is quoted like its neighbours ({"a": ...} stays JSON-like)
	var keyStyle yaml.Style
	if len(m.Content) > 0 {
		keyStyle = quoteStyle(m.Content[0])
	}
	if flow {
		text := scalarText(strNode(key, keyStyle), true) + ": " + a.lay.flowText(v)
		if len(m.Content) == 0 {
			sp, err := a.extent(m, msl)
			if err != nil {
				return a.errorf(m, "cannot edit here: %v", err)
			}
			open, _ := s.skipProps(sp.start)
			a.add(open+1, open+1, text)
			return nil
		}
		end, err := a.pairEnd(m, at, slot{flow: true, indent: -1, after: -1})
		if err != nil {
			return err
		}
		a.add(end, end, a.separator(m)+text)
		return nil
	}
	if len(m.Content) == 0 {
		return a.errorf(m, "cannot edit here: an empty block mapping")
	}
	ind := m.Content[0].Column - 1
	end, err := a.pairEnd(m, at, slot{indent: ind, after: -1})
	if err != nil {
		return err
	}
	keyText := scalarText(strNode(key, keyStyle), false)
	head := pad(ind) + keyText + ":"
	var lines []string
	if t := a.lay.inline(v, utf8.RuneCountInString(head)+1); t != "" {
		gap := 1
		if col := a.alignment(m); col > 0 {
			gap = max(1, col-1-utf8.RuneCountInString(head))
		}
		lines = []string{head + pad(gap) + t}
	} else {
		lines = a.lay.pair(head, v, ind)
	}
	pos := s.lineEnd(end)
	a.add(pos, pos, a.lay.nl+strings.Join(lines, a.lay.nl))
	return nil
}

// pairEnd is where the text of pair i of m ends.
func (a *applier) pairEnd(m *yaml.Node, i int, msl slot) (int, error) {
	k, v := m.Content[2*i], m.Content[2*i+1]
	ks, err := a.src.extent(k, msl.indent, msl.flow)
	if err != nil {
		return 0, a.errorf(k, "cannot edit here: %v", err)
	}
	vsl := slot{flow: msl.flow, indent: k.Column - 1, after: -1}
	if msl.flow {
		vsl.indent = -1
	}
	vs, err := a.extent(v, vsl)
	if err != nil {
		return 0, a.errorf(v, "cannot edit here: %v", err)
	}
	return max(ks.end, vs.end), nil
}

// separator is how the flow mapping or list n separates its entries.
func (a *applier) separator(n *yaml.Node) string {
	step := 1
	if n.Kind == yaml.MappingNode {
		step = 2
	}
	if len(n.Content) < 2*step {
		return ", "
	}
	e, err := a.src.extent(n.Content[step-1], -1, true)
	if err != nil {
		return ", "
	}
	f, err := a.src.offset(n.Content[step].Line, n.Content[step].Column)
	if err != nil || f < e.end {
		return ", "
	}
	between := string(a.src.b[e.end:f])
	if strings.TrimSpace(between) == "," && !strings.ContainsAny(between, "\r\n") {
		return between
	}
	return ", "
}

// alignment is the column at which the block mapping m aligns its
// one-line values ("front:   {...}"), or 0 when it does not pad them.
func (a *applier) alignment(m *yaml.Node) int {
	col, padded := 0, false
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if v.Line != k.Line || (isNull(v) && v.Value == "") {
			return 0
		}
		if col != 0 && v.Column != col {
			return 0
		}
		col = v.Column
		ks, err := a.src.extent(k, k.Column-1, false)
		if err != nil {
			return 0
		}
		if v.Column > a.src.column(ks.end)+2 {
			padded = true
		}
	}
	if !padded || len(m.Content) < 4 {
		return 0
	}
	return col
}

// detectLayout reads the document's indentation and list style.
func (a *applier) detectLayout() layout {
	l := layout{step: 2, seqOffset: -1, width: 100, nl: "\n"}
	b := a.src.b
	if i := bytes.IndexAny(b, "\r\n"); i >= 0 && b[i] == '\r' {
		l.nl = "\r"
		if i+1 < len(b) && b[i+1] == '\n' {
			l.nl = "\r\n"
		}
	}
	r := a.root
	if spec := mapValue(r, "spec"); spec != nil && spec.Style&yaml.FlowStyle == 0 && len(spec.Content) > 0 && r.Style&yaml.FlowStyle == 0 {
		if d := spec.Content[0].Column - r.Content[0].Column; d > 0 {
			l.step = d
		}
	}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if l.seqOffset >= 0 || n.Kind != yaml.MappingNode || n.Style&yaml.FlowStyle != 0 {
			for _, c := range n.Content {
				if l.seqOffset < 0 {
					walk(c)
				}
			}
			return
		}
		for i := 0; i+1 < len(n.Content) && l.seqOffset < 0; i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if v.Kind == yaml.SequenceNode && v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0 {
				if d, ok := a.src.dashOf(v.Content[0]); ok && a.src.column(d) >= k.Column {
					l.seqOffset = a.src.column(d) - k.Column
				}
			}
			walk(v)
		}
	}
	walk(r)
	if l.seqOffset < 0 {
		l.seqOffset = l.step
	}
	// Compact lists ("all: [cart, pricing]") where the flow already uses
	// them, or, when the flow has no lists to tell (none, or a single
	// call), where the spec uses flow style.
	scope := mapValue(r, "spec")
	if spec := scope; spec != nil {
		for i := 0; i+1 < len(spec.Content); i += 2 {
			if v := spec.Content[i+1]; spec.Content[i].Value == "flow" && v.Kind != yaml.ScalarNode && v.Kind != yaml.AliasNode {
				scope = v
			}
		}
	}
	l.compact = scope == nil || hasFlowStyle(scope)
	return l
}

func hasFlowStyle(n *yaml.Node) bool {
	if (n.Kind == yaml.SequenceNode || n.Kind == yaml.MappingNode) && n.Style&yaml.FlowStyle != 0 {
		return true
	}
	for _, c := range n.Content {
		if hasFlowStyle(c) {
			return true
		}
	}
	return false
}
