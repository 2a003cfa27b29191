package diag

import (
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// NodeRange is the range of a YAML node in file: its start, and for a
// one-line scalar its end (quotes included), so snippets underline the
// whole value. A nil node gives the file alone.
func NodeRange(file string, n *yaml.Node) *Range {
	r := &Range{Filename: file}
	if n == nil {
		return r
	}
	r.Start = Pos{Line: n.Line, Column: n.Column}
	if n.Kind == yaml.ScalarNode && n.Line > 0 && !strings.Contains(n.Value, "\n") {
		w := len([]rune(n.Value))
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			w += 2
		}
		r.End = Pos{Line: n.Line, Column: n.Column + max(w, 1)}
	}
	return r
}

// NodeKind names what a YAML node holds, for messages such as "want a
// list, got a string".
func NodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "null"
		case "!!bool":
			return "a boolean"
		case "!!int", "!!float":
			return "a number"
		}
		return "a string"
	}
	return "a document"
}
