package patch

import (
	"bytes"
	"fmt"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
)

// source maps the parser's positions (line and column, both counted from 1,
// the column in characters) onto byte offsets, and finds where a node's
// text ends: yaml.v3 records only where a node starts, and an edit must
// replace exactly the bytes of the node it changes.
type source struct {
	b []byte
	// lines[i] is the byte offset where line i+1 starts.
	lines []int
}

var bom = []byte("\ufeff")

func newSource(b []byte) *source {
	s := &source{b: b}
	start := 0
	// yaml.v3 skips a UTF-8 byte order mark without counting it as a
	// column.
	if bytes.HasPrefix(b, bom) {
		start = len(bom)
	}
	s.lines = append(s.lines, start)
	for i := start; i < len(b); {
		if n := breakLen(b, i); n > 0 {
			i += n
			s.lines = append(s.lines, i)
			continue
		}
		i++
	}
	return s
}

// breakLen is the length of the line break at b[i], or 0. YAML counts CR
// LF, CR, LF, NEL, LS and PS as line breaks, and so does the parser whose
// line numbers we translate.
func breakLen(b []byte, i int) int {
	switch {
	case i >= len(b):
		return 0
	case b[i] == '\r':
		if i+1 < len(b) && b[i+1] == '\n' {
			return 2
		}
		return 1
	case b[i] == '\n':
		return 1
	case b[i] == 0xC2 && i+1 < len(b) && b[i+1] == 0x85:
		return 2
	case b[i] == 0xE2 && i+2 < len(b) && b[i+1] == 0x80 && (b[i+2] == 0xA8 || b[i+2] == 0xA9):
		return 3
	}
	return 0
}

// breakBefore is the length of the line break that ends just before i, or
// 0.
func breakBefore(b []byte, i int) int {
	for _, n := range []int{2, 3, 1} {
		if i-n >= 0 && breakLen(b, i-n) == n {
			return n
		}
	}
	return 0
}

// offset is the byte offset of a parser position.
func (s *source) offset(line, col int) (int, error) {
	if line < 1 || line > len(s.lines) || col < 1 {
		return 0, fmt.Errorf("position %d:%d is outside the text", line, col)
	}
	i := s.lines[line-1]
	for c := 1; c < col; c++ {
		if i >= len(s.b) || breakLen(s.b, i) > 0 {
			return 0, fmt.Errorf("position %d:%d is outside the text", line, col)
		}
		_, w := utf8.DecodeRune(s.b[i:])
		i += w
	}
	return i, nil
}

// lineStart is the offset where the line holding i starts.
func (s *source) lineStart(i int) int {
	lo, hi := 0, len(s.lines)-1
	for lo < hi {
		m := (lo + hi + 1) / 2
		if s.lines[m] <= i {
			lo = m
		} else {
			hi = m - 1
		}
	}
	return s.lines[lo]
}

// lineEnd is the offset of the line break that ends the line holding i (or
// the end of the text).
func (s *source) lineEnd(i int) int {
	for i < len(s.b) && breakLen(s.b, i) == 0 {
		i++
	}
	return i
}

// nextLine is the offset just after the line break that ends the line
// holding i (or the end of the text).
func (s *source) nextLine(i int) int {
	e := s.lineEnd(i)
	return e + breakLen(s.b, e)
}

// column is the character column (from 1) of offset i.
func (s *source) column(i int) int {
	return utf8.RuneCount(s.b[s.lineStart(i):i]) + 1
}

// onlySpaceBefore reports whether nothing but spaces and tabs precede i on
// its line.
func (s *source) onlySpaceBefore(i int) bool {
	for j := s.lineStart(i); j < i; j++ {
		if s.b[j] != ' ' && s.b[j] != '\t' {
			return false
		}
	}
	return true
}

// sameLine reports whether no line break lies between offsets i <= j.
func (s *source) sameLine(i, j int) bool { return s.lineStart(i) == s.lineStart(j) }

// trailing is the text after offset i up to the end of its line when that
// is only blanks and a comment ("  # why"), else "".
func (s *source) trailing(i int) string {
	e := s.lineEnd(i)
	t := bytes.TrimLeft(s.b[i:e], " \t")
	if len(t) > 0 && t[0] == '#' {
		return string(s.b[i:e])
	}
	return ""
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

func isFlowIndicator(c byte) bool {
	return c == ',' || c == '[' || c == ']' || c == '{' || c == '}'
}

// spaceAt reports whether i is past the end, a blank or a line break.
func (s *source) spaceAt(i int) bool {
	return i >= len(s.b) || isBlank(s.b[i]) || breakLen(s.b, i) > 0
}

// span is a node's text: [start, end) with start at its first property
// (tag or anchor) or its content, end just after its last character (a
// comment after it is not part of it).
type span struct{ start, end int }

// extent finds the text of n. indent is the indentation of the block
// collection holding n (-1 at the top level), which bounds a block
// scalar's lines; flow says n is inside a flow collection, where plain
// scalars end at flow indicators.
func (s *source) extent(n *yaml.Node, indent int, flow bool) (span, error) {
	start, err := s.offset(n.Line, n.Column)
	if err != nil {
		return span{}, err
	}
	p, propsEnd := s.skipProps(start)
	fail := func(what string) (span, error) {
		return span{}, fmt.Errorf("%d:%d: cannot find the end of %s", n.Line, n.Column, what)
	}
	switch n.Kind {
	case yaml.AliasNode:
		if p >= len(s.b) || s.b[p] != '*' {
			return fail("an alias")
		}
		e := p + 1
		for e < len(s.b) && !s.spaceAt(e) && !(flow && isFlowIndicator(s.b[e])) {
			e++
		}
		return span{start, e}, nil
	case yaml.ScalarNode:
		switch {
		case n.Style&yaml.DoubleQuotedStyle != 0:
			if p >= len(s.b) || s.b[p] != '"' {
				return fail("a quoted string")
			}
			e, ok := s.skipDouble(p)
			if !ok {
				return fail("a quoted string")
			}
			return span{start, e}, nil
		case n.Style&yaml.SingleQuotedStyle != 0:
			if p >= len(s.b) || s.b[p] != '\'' {
				return fail("a quoted string")
			}
			e, ok := s.skipSingle(p)
			if !ok {
				return fail("a quoted string")
			}
			return span{start, e}, nil
		case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
			if p >= len(s.b) || (s.b[p] != '|' && s.b[p] != '>') {
				return fail("a block scalar")
			}
			return span{start, s.blockScalarEnd(p, indent)}, nil
		case n.Value == "":
			// An implicit empty value ("key:"): nothing to take but its
			// properties, if any.
			return span{start, propsEnd}, nil
		}
		e, ok := s.plainEnd(p, n.Value, flow)
		if !ok {
			return fail("a plain scalar")
		}
		return span{start, e}, nil
	case yaml.SequenceNode, yaml.MappingNode:
		if n.Style&yaml.FlowStyle != 0 {
			if p >= len(s.b) || (s.b[p] != '[' && s.b[p] != '{') {
				return fail("a flow collection")
			}
			e, ok := s.flowEnd(p)
			if !ok {
				return fail("a flow collection")
			}
			return span{start, e}, nil
		}
		if len(n.Content) == 0 {
			return fail("an empty block collection")
		}
		last := n.Content[len(n.Content)-1]
		inner := n.Column - 1
		if len(n.Content) > 0 {
			inner = n.Content[0].Column - 1
		}
		if n.Kind == yaml.SequenceNode {
			// the items' indentation is the dash's, left of the item
			inner = -1
			if d, ok := s.dashOf(n.Content[0]); ok {
				inner = s.column(d) - 1
			}
		}
		sp, err := s.extent(last, inner, false)
		if err != nil {
			return span{}, err
		}
		if n.Kind == yaml.MappingNode && sp.end == sp.start {
			// an empty last value ends after its key's colon
			k, err := s.extent(n.Content[len(n.Content)-2], inner, false)
			if err != nil {
				return span{}, err
			}
			sp.end = max(sp.end, k.end)
		}
		return span{start, sp.end}, nil
	}
	return fail("a node")
}

// skipProps steps over a node's tag and anchor ("!!seq &a"), returning
// where its content starts and where the properties end.
func (s *source) skipProps(p int) (content, propsEnd int) {
	propsEnd = p
	for p < len(s.b) && (s.b[p] == '!' || s.b[p] == '&') {
		for p < len(s.b) && !s.spaceAt(p) {
			p++
		}
		propsEnd = p
		p = s.skipSpace(p)
	}
	return p, propsEnd
}

// skipSpace steps over blanks, line breaks and comments.
func (s *source) skipSpace(p int) int {
	for p < len(s.b) {
		switch {
		case isBlank(s.b[p]):
			p++
		case breakLen(s.b, p) > 0:
			p += breakLen(s.b, p)
		case s.b[p] == '#':
			p = s.lineEnd(p)
		default:
			return p
		}
	}
	return p
}

func (s *source) skipDouble(p int) (int, bool) {
	for i := p + 1; i < len(s.b); i++ {
		switch s.b[i] {
		case '\\':
			i++
		case '"':
			return i + 1, true
		}
	}
	return 0, false
}

func (s *source) skipSingle(p int) (int, bool) {
	for i := p + 1; i < len(s.b); i++ {
		if s.b[i] == '\'' {
			if i+1 < len(s.b) && s.b[i+1] == '\'' {
				i++
				continue
			}
			return i + 1, true
		}
	}
	return 0, false
}

// docMarker reports whether a "---" or "..." document marker starts at
// line start i.
func (s *source) docMarker(i int) bool {
	if i+3 > len(s.b) {
		return false
	}
	m := string(s.b[i : i+3])
	return (m == "---" || m == "...") && s.spaceAt(i+3)
}

// blockScalarEnd is the end of the last non-empty line of the literal or
// folded scalar whose header is at p. Trailing empty lines are left out:
// they read the same as blank lines between nodes.
func (s *source) blockScalarEnd(p, indent int) int {
	end := p + 1
	for end < len(s.b) && (s.b[end] == '+' || s.b[end] == '-' || (s.b[end] >= '1' && s.b[end] <= '9')) {
		end++
	}
	content := -1
	for i := s.nextLine(p); i < len(s.b); i = s.nextLine(i) {
		if s.lineStart(i) != i {
			break
		}
		j := i
		for j < len(s.b) && s.b[j] == ' ' {
			j++
		}
		e := s.lineEnd(i)
		if len(bytes.TrimLeft(s.b[j:e], " \t")) == 0 {
			if e == len(s.b) {
				break
			}
			continue
		}
		ind := j - i
		if ind <= indent || (content >= 0 && ind < content) || (ind == 0 && s.docMarker(i)) {
			break
		}
		if content < 0 {
			content = ind
		}
		end = e
		if e == len(s.b) {
			break
		}
	}
	return end
}

// plainSegment scans one line of a plain scalar from p: it ends at a line
// break, a comment, a ": " value indicator or, in flow context, a flow
// indicator. It returns the segment's end without trailing blanks, and
// whether the segment ran to the end of its line (the scalar may go on).
func (s *source) plainSegment(p int, flow bool) (int, bool) {
	i, last := p, p
	for i < len(s.b) && breakLen(s.b, i) == 0 {
		c := s.b[i]
		if c == '#' && i > p && isBlank(s.b[i-1]) {
			break
		}
		if c == ':' && (s.spaceAt(i+1) || (flow && i+1 < len(s.b) && isFlowIndicator(s.b[i+1]))) {
			break
		}
		if flow && isFlowIndicator(c) {
			break
		}
		i++
		if !isBlank(c) {
			last = i
		}
	}
	return last, i >= len(s.b) || breakLen(s.b, i) > 0
}

// plainEnd finds the end of the plain scalar at p whose value is value. A
// plain scalar may continue over several lines (folded into spaces, empty
// lines into line breaks); the lines are read until they fold into value.
func (s *source) plainEnd(p int, value string, flow bool) (int, bool) {
	end, open := s.plainSegment(p, flow)
	acc := string(s.b[p:end])
	for acc != value {
		if !open || len(acc) >= len(value) || value[:len(acc)] != acc {
			return 0, false
		}
		breaks := 0
		i := s.nextLine(end)
		for ; i < len(s.b); i = s.nextLine(i) {
			if s.docMarker(i) {
				return 0, false
			}
			j := i
			for j < len(s.b) && isBlank(s.b[j]) {
				j++
			}
			if j < len(s.b) && breakLen(s.b, j) == 0 {
				i = j
				break
			}
			breaks++
		}
		if i >= len(s.b) || s.b[i] == '#' {
			return 0, false
		}
		e, o := s.plainSegment(i, flow)
		open = o
		if e == i {
			return 0, false
		}
		if breaks == 0 {
			acc += " "
		} else {
			acc += string(bytes.Repeat([]byte{'\n'}, breaks))
		}
		acc += string(s.b[i:e])
		end = e
	}
	return end, true
}

// flowEnd is the offset just after the bracket that closes the flow
// collection opening at p, skipping quoted scalars and comments.
func (s *source) flowEnd(p int) (int, bool) {
	depth := 0
	plain := false
	for i := p; i < len(s.b); {
		c := s.b[i]
		if n := breakLen(s.b, i); n > 0 {
			i += n
			continue
		}
		if isBlank(c) {
			i++
			continue
		}
		if c == '#' && i > p && (isBlank(s.b[i-1]) || breakBefore(s.b, i) > 0) {
			i = s.lineEnd(i)
			plain = false
			continue
		}
		if plain {
			switch {
			case isFlowIndicator(c):
				plain = false
			case c == ':' && (s.spaceAt(i+1) || isFlowIndicator(s.b[min(i+1, len(s.b)-1)])):
				plain = false
				i++
				continue
			default:
				i++
				continue
			}
		}
		switch c {
		case '[', '{':
			depth++
		case ']', '}':
			depth--
			if depth == 0 {
				return i + 1, true
			}
		case ',':
		case '"':
			e, ok := s.skipDouble(i)
			if !ok {
				return 0, false
			}
			i = e
			continue
		case '\'':
			e, ok := s.skipSingle(i)
			if !ok {
				return 0, false
			}
			i = e
			continue
		case '!', '&', '*':
			for i < len(s.b) && !s.spaceAt(i) && !isFlowIndicator(s.b[i]) {
				i++
			}
			continue
		case '?', ':', '-':
			if !s.spaceAt(i+1) && !isFlowIndicator(s.b[min(i+1, len(s.b)-1)]) {
				plain = true
			}
		default:
			plain = true
		}
		i++
	}
	return 0, false
}

// dashOf finds the "-" that introduces a block sequence item on the
// item's own line.
func (s *source) dashOf(item *yaml.Node) (int, bool) {
	p, err := s.offset(item.Line, item.Column)
	if err != nil {
		return 0, false
	}
	i := p - 1
	for i >= 0 && isBlank(s.b[i]) {
		i--
	}
	if i < 0 || s.b[i] != '-' || i == p-1 {
		return 0, false
	}
	return i, true
}
