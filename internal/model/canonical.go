package model

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	prom "github.com/prometheus/common/model"
)

// String is the node's canonical one-line form, e.g.
// Series(front, All(cart, pricing), Race(paya, payb)).
func (n *Node) String() string {
	var b strings.Builder
	n.write(&b)
	return b.String()
}

func (n *Node) write(b *strings.Builder) {
	if n.Op == Call {
		b.WriteString(quoteName(n.Component))
		return
	}
	b.WriteString(n.Op.String())
	var params []string
	switch n.Op {
	case Race:
		if n.HedgeAfter > 0 {
			params = append(params, "hedgeAfter="+fmtDuration(n.HedgeAfter))
		}
	case Quorum:
		params = append(params, "k="+strconv.Itoa(n.K))
	case Retry:
		params = append(params, "attempts="+strconv.Itoa(n.Attempts))
		if n.PerTryTimeout > 0 {
			params = append(params, "perTryTimeout="+fmtDuration(n.PerTryTimeout))
		}
		if n.Backoff > 0 {
			params = append(params, "backoff="+fmtDuration(n.Backoff))
		}
	case Timeout:
		params = append(params, "after="+fmtDuration(n.After))
	}
	if len(params) > 0 {
		b.WriteString("[" + strings.Join(params, ", ") + "]")
	}
	b.WriteByte('(')
	for i, c := range n.Children {
		if i > 0 {
			b.WriteString(", ")
		}
		if n.Op == Branch && i < len(n.Weights) {
			b.WriteString(strconv.FormatFloat(n.Weights[i], 'g', -1, 64))
			b.WriteString(": ")
		}
		c.write(b)
	}
	b.WriteByte(')')
}

func fmtDuration(d time.Duration) string {
	if d%time.Millisecond != 0 {
		return d.String()
	}
	return prom.Duration(d).String()
}

func isNameRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-' || r == '.' || r == '/'
}

func quoteName(s string) string {
	if s == "" {
		return `""`
	}
	for _, r := range s {
		if !isNameRune(r) {
			return strconv.Quote(s)
		}
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return strconv.Quote(s)
	}
	return s
}

// ParseFlow reads a flow in canonical form. Operator names are
// case-insensitive and "Seq" is accepted for "Series".
func ParseFlow(s string) (*Node, error) {
	p := &flowParser{s: s}
	n, err := p.node()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.s) {
		return nil, p.errorf("unexpected %q", p.s[p.i:])
	}
	return n, nil
}

type flowParser struct {
	s string
	i int
}

func (p *flowParser) errorf(format string, args ...any) error {
	return fmt.Errorf("flow:%d: %s", p.i+1, fmt.Sprintf(format, args...))
}

func (p *flowParser) space() {
	for p.i < len(p.s) && unicode.IsSpace(rune(p.s[p.i])) {
		p.i++
	}
}

func (p *flowParser) peek() byte {
	p.space()
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *flowParser) expect(c byte) error {
	if p.peek() != c {
		return p.errorf("expected %q", c)
	}
	p.i++
	return nil
}

func (p *flowParser) name() (string, error) {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == '"' {
		j := p.i + 1
		for j < len(p.s) && p.s[j] != '"' {
			if p.s[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(p.s) {
			return "", p.errorf("unterminated string")
		}
		v, err := strconv.Unquote(p.s[p.i : j+1])
		if err != nil {
			return "", p.errorf("bad string: %v", err)
		}
		p.i = j + 1
		return v, nil
	}
	j := p.i
	for j < len(p.s) {
		r := rune(p.s[j])
		if r >= 0x80 || isNameRune(r) {
			j++
			continue
		}
		break
	}
	if j == p.i {
		return "", p.errorf("expected a name")
	}
	v := p.s[p.i:j]
	p.i = j
	return v, nil
}

var opByName = map[string]Op{
	"series": Seq, "seq": Seq, "all": All, "race": Race, "fallback": Fallback, "quorum": Quorum,
	"branch": Branch, "retry": Retry, "timeout": Timeout, "optional": Optional, "async": Async,
}

func (p *flowParser) node() (*Node, error) {
	p.space()
	quoted := p.peek() == '"'
	name, err := p.name()
	if err != nil {
		return nil, err
	}
	op, isOp := opByName[strings.ToLower(name)]
	if quoted || !isOp || (p.peek() != '(' && p.peek() != '[') {
		return &Node{Op: Call, Component: name}, nil
	}
	n := &Node{Op: op}
	if p.peek() == '[' {
		p.i++
		if err := p.params(n); err != nil {
			return nil, err
		}
	}
	if err := p.expect('('); err != nil {
		return nil, err
	}
	for {
		if p.peek() == ')' && len(n.Children) == 0 {
			return nil, p.errorf("%s needs operands", n.Op)
		}
		if op == Branch {
			w, err := p.number()
			if err != nil {
				return nil, err
			}
			if err := p.expect(':'); err != nil {
				return nil, err
			}
			n.Weights = append(n.Weights, w)
		}
		c, err := p.node()
		if err != nil {
			return nil, err
		}
		n.Children = append(n.Children, c)
		if p.peek() == ',' {
			p.i++
			continue
		}
		if err := p.expect(')'); err != nil {
			return nil, err
		}
		break
	}
	if op == Retry && n.Attempts == 0 {
		n.Attempts = 1
	}
	return n, nil
}

func (p *flowParser) number() (float64, error) {
	p.space()
	j := p.i
	for j < len(p.s) && strings.ContainsRune("0123456789.eE+-", rune(p.s[j])) {
		j++
	}
	f, err := strconv.ParseFloat(p.s[p.i:j], 64)
	if err != nil {
		return 0, p.errorf("expected a number")
	}
	p.i = j
	return f, nil
}

func (p *flowParser) params(n *Node) error {
	for {
		key, err := p.name()
		if err != nil {
			return err
		}
		if err := p.expect('='); err != nil {
			return err
		}
		p.space()
		j := p.i
		for j < len(p.s) && p.s[j] != ',' && p.s[j] != ']' {
			j++
		}
		val := strings.TrimSpace(p.s[p.i:j])
		p.i = j
		if err := setParam(n, key, val); err != nil {
			return p.errorf("%v", err)
		}
		if p.peek() == ',' {
			p.i++
			continue
		}
		return p.expect(']')
	}
}

func setParam(n *Node, key, val string) error {
	dur := func() (time.Duration, error) {
		d, err := prom.ParseDuration(val)
		if err != nil {
			gd, gerr := time.ParseDuration(val)
			if gerr != nil {
				return 0, fmt.Errorf("%s: %q is not a duration", key, val)
			}
			return gd, nil
		}
		return time.Duration(d), nil
	}
	var err error
	switch {
	case n.Op == Quorum && key == "k":
		n.K, err = strconv.Atoi(val)
	case n.Op == Retry && key == "attempts":
		n.Attempts, err = strconv.Atoi(val)
	case n.Op == Retry && key == "perTryTimeout":
		n.PerTryTimeout, err = dur()
	case n.Op == Retry && key == "backoff":
		n.Backoff, err = dur()
	case n.Op == Race && key == "hedgeAfter":
		n.HedgeAfter, err = dur()
	case n.Op == Timeout && key == "after":
		n.After, err = dur()
	default:
		return fmt.Errorf("%s has no parameter %q", n.Op, key)
	}
	return err
}

// Build makes a journey from a flow in canonical form, component
// availabilities and domain memberships (domain → components). It is how
// code and tests construct journeys without a spec file.
func Build(name, flow string, avail map[string]float64, domains map[string][]string) (*Journey, error) {
	root, err := ParseFlow(flow)
	if err != nil {
		return nil, err
	}
	j := &Journey{Name: name, Flow: root, Components: map[string]*Component{}, Domains: map[string]*Domain{}}
	for c, a := range avail {
		j.Components[c] = &Component{Name: c, Availability: a}
	}
	for _, d := range slices.Sorted(maps.Keys(domains)) {
		dom := &Domain{Name: d}
		seen := map[string]bool{}
		for _, m := range domains[d] {
			if seen[m] {
				continue
			}
			seen[m] = true
			dom.Members = append(dom.Members, m)
			if c, ok := j.Components[m]; ok {
				c.Domains = append(c.Domains, d)
			}
		}
		sort.Strings(dom.Members)
		j.Domains[d] = dom
	}
	return j, j.Validate()
}
