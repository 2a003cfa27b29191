package diag

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Sources maps a file name to its contents, for snippets.
type Sources map[string][]byte

// Render writes the diagnostics, each as "file:line:col: error: summary"
// followed by the source line with the range underlined and the detail.
func Render(w io.Writer, ds Diagnostics, src Sources) error {
	for _, d := range ds {
		if _, err := fmt.Fprintln(w, d.Error()); err != nil {
			return err
		}
		if snip := snippet(d.Subject, src); snip != "" {
			if _, err := io.WriteString(w, snip); err != nil {
				return err
			}
		}
		if d.Detail != "" {
			for _, l := range strings.Split(d.Detail, "\n") {
				if _, err := fmt.Fprintf(w, "  %s\n", l); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func snippet(r *Range, src Sources) string {
	if r == nil || r.Start.Line < 1 {
		return ""
	}
	text, ok := src[r.Filename]
	if !ok {
		return ""
	}
	line, ok := lineAt(text, r.Start.Line)
	if !ok {
		return ""
	}
	line = strings.ReplaceAll(line, "\t", " ")
	width := 1
	n := utf8.RuneCountInString(line)
	if r.End.Line == r.Start.Line && r.End.Column > r.Start.Column {
		width = r.End.Column - r.Start.Column
	}
	if r.Start.Column-1+width > n {
		width = max(1, n-(r.Start.Column-1))
	}
	num := fmt.Sprintf("%d", r.Start.Line)
	pad := strings.Repeat(" ", len(num))
	col := max(0, r.Start.Column-1)
	return fmt.Sprintf(" %s | %s\n %s | %s%s\n", num, line, pad, strings.Repeat(" ", col), strings.Repeat("^", width))
}

func lineAt(text []byte, n int) (string, bool) {
	for i := 1; ; i++ {
		j := indexByte(text, '\n')
		if i == n {
			if j < 0 {
				return strings.TrimRight(string(text), "\r"), true
			}
			return strings.TrimRight(string(text[:j]), "\r"), true
		}
		if j < 0 {
			return "", false
		}
		text = text[j+1:]
	}
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}
