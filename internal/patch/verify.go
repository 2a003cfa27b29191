package patch

import (
	"regexp"

	yaml "go.yaml.in/yaml/v3"
)

var lineRE = regexp.MustCompile(`line (\d+)`)

// verify parses the edited text and checks it reads exactly as before
// except at path (keys from the document's top-level mapping), where leaf
// judges the old and new values (either may be nil when absent). This is
// what makes a splice safe on layouts the edit does not understand: it
// refuses rather than writes a file that means something else.
func (a *applier) verify(out []byte, path []string, leaf func(o, n *yaml.Node) bool) error {
	if len(a.splices) == 0 {
		return nil
	}
	fail := func(why string) error {
		return a.errorf(a.root, "cannot make this edit safely: %s; edit the file by hand", why)
	}
	docs, err := parseDocs(a.name, out)
	if err != nil {
		return fail("the result would not parse (" + err.Error() + ")")
	}
	if len(docs) != len(a.docs) {
		return fail("the result would hold a different number of documents")
	}
	for i, d := range docs {
		if i != a.idx {
			if !same(a.docs[i], d) {
				return fail("another document would change")
			}
			continue
		}
		if len(d.Content) != 1 || !sameExcept(a.docs[i].Content[0], d.Content[0], path, leaf) {
			return fail("the result would read differently from what was asked")
		}
	}
	return nil
}

// same reports whether two trees read the same (positions and comments
// aside).
func same(x, y *yaml.Node) bool {
	if x.Kind != y.Kind || x.Tag != y.Tag || x.Value != y.Value || x.Anchor != y.Anchor ||
		x.Style != y.Style || len(x.Content) != len(y.Content) {
		return false
	}
	for i := range x.Content {
		if !same(x.Content[i], y.Content[i]) {
			return false
		}
	}
	return true
}

// sameExcept is same, except along path, where only the pairs with the
// path's key may differ (be added) and leaf judges the values at its end.
func sameExcept(o, n *yaml.Node, path []string, leaf func(o, n *yaml.Node) bool) bool {
	if len(path) == 0 {
		return leaf(o, n)
	}
	if n == nil || n.Kind != yaml.MappingNode {
		return false
	}
	var op []*yaml.Node
	switch {
	case o == nil || (o.Kind == yaml.ScalarNode && o.Tag == "!!null"):
	case o.Kind == yaml.MappingNode:
		if o.Anchor != n.Anchor || o.Tag != n.Tag {
			return false
		}
		op = o.Content
	default:
		return false
	}
	split := func(c []*yaml.Node) (rest []*yaml.Node, sub []*yaml.Node) {
		for i := 0; i+1 < len(c); i += 2 {
			if c[i].Kind == yaml.ScalarNode && c[i].Value == path[0] {
				sub = append(sub, c[i+1])
				continue
			}
			rest = append(rest, c[i], c[i+1])
		}
		return rest, sub
	}
	orest, osub := split(op)
	nrest, nsub := split(n.Content)
	if len(orest) != len(nrest) || len(osub) > 1 || len(nsub) > 1 {
		return false
	}
	for i := range orest {
		if !same(orest[i], nrest[i]) {
			return false
		}
	}
	var ov, nv *yaml.Node
	if len(osub) == 1 {
		ov = osub[0]
	}
	if len(nsub) == 1 {
		nv = nsub[0]
	}
	return sameExcept(ov, nv, path[1:], leaf)
}
