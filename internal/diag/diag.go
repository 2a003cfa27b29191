// Package diag holds emac's diagnostics: problems found in input, each with
// a severity, a one-line summary, optional detail and the source range it
// is about, rendered the way compilers do (file:line:col, a snippet, a "did
// you mean").
package diag

import (
	"fmt"
	"sort"
	"strings"
)

// Severity of a diagnostic.
type Severity int

// Severities, most severe first.
const (
	Error Severity = iota
	Warning
)

func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// MarshalText writes "error" or "warning".
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Pos is a position in a source file; Line and Column count from 1, Column
// in characters.
type Pos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

// Range is a span of a source file. End may be zero when only the start is
// known.
type Range struct {
	Filename string `json:"filename"`
	Start    Pos    `json:"start"`
	End      Pos    `json:"end,omitempty"`
}

func (r Range) String() string {
	if r.Start.Line == 0 {
		return r.Filename
	}
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

// Diagnostic is one problem.
type Diagnostic struct {
	Severity Severity `json:"severity"`
	Summary  string   `json:"summary"`
	Detail   string   `json:"detail,omitempty"`
	Subject  *Range   `json:"subject,omitempty"`
}

// Error formats the diagnostic on one line.
func (d *Diagnostic) Error() string {
	var b strings.Builder
	if d.Subject != nil {
		b.WriteString(d.Subject.String())
		b.WriteString(": ")
	}
	b.WriteString(d.Severity.String())
	b.WriteString(": ")
	b.WriteString(d.Summary)
	return b.String()
}

// Diagnostics is a list of problems.
type Diagnostics []*Diagnostic

// Errorf appends an error at r (which may be nil).
func (ds *Diagnostics) Errorf(r *Range, format string, args ...any) *Diagnostic {
	d := &Diagnostic{Severity: Error, Summary: fmt.Sprintf(format, args...), Subject: r}
	*ds = append(*ds, d)
	return d
}

// Warnf appends a warning at r (which may be nil).
func (ds *Diagnostics) Warnf(r *Range, format string, args ...any) *Diagnostic {
	d := &Diagnostic{Severity: Warning, Summary: fmt.Sprintf(format, args...), Subject: r}
	*ds = append(*ds, d)
	return d
}

// HasErrors reports whether any diagnostic is an error.
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity == Error {
			return true
		}
	}
	return false
}

// Sort orders diagnostics by file, line, column, severity and summary, and
// drops exact duplicates, so output is stable.
func (ds Diagnostics) Sort() Diagnostics {
	sort.SliceStable(ds, func(i, j int) bool { return less(ds[i], ds[j]) })
	out := ds[:0]
	for i, d := range ds {
		if i > 0 && same(ds[i-1], d) {
			continue
		}
		out = append(out, d)
	}
	return out
}

func key(d *Diagnostic) (string, int, int) {
	if d.Subject == nil {
		return "", 0, 0
	}
	return d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column
}

func less(a, b *Diagnostic) bool {
	af, al, ac := key(a)
	bf, bl, bc := key(b)
	switch {
	case af != bf:
		return af < bf
	case al != bl:
		return al < bl
	case ac != bc:
		return ac < bc
	case a.Severity != b.Severity:
		return a.Severity < b.Severity
	case a.Summary != b.Summary:
		return a.Summary < b.Summary
	}
	return a.Detail < b.Detail
}

func same(a, b *Diagnostic) bool {
	return !less(a, b) && !less(b, a)
}

// Err returns the diagnostics as an error when there are errors, else nil.
func (ds Diagnostics) Err() error {
	if !ds.HasErrors() {
		return nil
	}
	return errorList(ds)
}

type errorList Diagnostics

func (e errorList) Error() string {
	var lines []string
	for _, d := range e {
		lines = append(lines, d.Error())
	}
	return strings.Join(lines, "\n")
}
