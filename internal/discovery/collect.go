package discovery

import "slices"

// Collector is a Sink that keeps everything: for tests and small inputs.
type Collector struct {
	Spans    []Span
	Problems []Problem
}

// Span implements Sink: it keeps a copy of s.
func (c *Collector) Span(s *Span) error {
	cp := *s
	cp.Links = slices.Clone(s.Links)
	c.Spans = append(c.Spans, cp)
	return nil
}

// Problem implements Sink.
func (c *Collector) Problem(p Problem) { c.Problems = append(c.Problems, p) }

// Count is the number of problems of kind k.
func (c *Collector) Count(k ProblemKind) int {
	n := 0
	for _, p := range c.Problems {
		if p.Kind == k {
			n++
		}
	}
	return n
}
