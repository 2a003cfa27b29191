package patch

import (
	"fmt"
	"sort"
	"strings"
)

// Diff is the unified diff (3 lines of context) that turns a into b, as
// `diff -u` writes it with "--- a/oldName" and "+++ b/newName" headers, so
// `git apply` and `patch -p1` take it and reviewers read it as usual (pass
// slash-separated paths relative to the repository); "" when a and b are
// equal. Lines are compared whole, line breaks included;
// a last line without one is marked "\ No newline at end of file". The
// line alignment is Myers' O(ND) algorithm in linear space, so the diff is
// a shortest one.
func Diff(oldName, newName string, a, b []byte) string {
	if string(a) == string(b) {
		return ""
	}
	al, bl := splitLines(string(a)), splitLines(string(b))
	ids := map[string]int{}
	intern := func(ls []string) []int {
		out := make([]int, len(ls))
		for i, l := range ls {
			id, ok := ids[l]
			if !ok {
				id = len(ids)
				ids[l] = id
			}
			out[i] = id
		}
		return out
	}
	ops := diffOps(intern(al), intern(bl))
	var w strings.Builder
	fmt.Fprintf(&w, "--- a/%s\n+++ b/%s\n", oldName, newName)
	for _, h := range hunks(ops, 3) {
		writeHunk(&w, h, al, bl)
	}
	return w.String()
}

// splitLines splits s after each "\n".
func splitLines(s string) []string {
	var out []string
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}

// op is one line of the edit script: ' ' kept, '-' deleted, '+' inserted,
// with its index in a (for ' ' and '-') or b (for '+').
type op struct {
	kind byte
	a, b int
}

// diffOps is a shortest edit script from a to b.
func diffOps(a, b []int) []op {
	var out []op
	var rec func(a0, a1, b0, b1 int)
	rec = func(a0, a1, b0, b1 int) {
		// common prefix and suffix
		for a0 < a1 && b0 < b1 && a[a0] == b[b0] {
			out = append(out, op{' ', a0, b0})
			a0++
			b0++
		}
		var tail []op
		for a0 < a1 && b0 < b1 && a[a1-1] == b[b1-1] {
			a1--
			b1--
			tail = append(tail, op{' ', a1, b1})
		}
		switch {
		case a0 == a1:
			for j := b0; j < b1; j++ {
				out = append(out, op{'+', a0, j})
			}
		case b0 == b1:
			for i := a0; i < a1; i++ {
				out = append(out, op{'-', i, b0})
			}
		default:
			x, y, ok := bisect(a[a0:a1], b[b0:b1])
			if !ok || (x == 0 && y == 0) || (x == a1-a0 && y == b1-b0) {
				// no progress: delete all, insert all (still a valid diff)
				for i := a0; i < a1; i++ {
					out = append(out, op{'-', i, b0})
				}
				for j := b0; j < b1; j++ {
					out = append(out, op{'+', a1, j})
				}
				break
			}
			rec(a0, a0+x, b0, b0+y)
			rec(a0+x, a1, b0+y, b1)
		}
		for i := len(tail) - 1; i >= 0; i-- {
			out = append(out, tail[i])
		}
	}
	rec(0, len(a), 0, len(b))
	// Within each change, deletions first, as diff -u writes them.
	for i := 0; i < len(out); {
		if out[i].kind == ' ' {
			i++
			continue
		}
		j := i
		for j < len(out) && out[j].kind != ' ' {
			j++
		}
		sort.SliceStable(out[i:j], func(x, y int) bool { return out[i+x].kind == '-' && out[i+y].kind == '+' })
		i = j
	}
	return out
}

// bisect finds the middle snake of a shortest edit script of a and b (both
// non-empty, with no common prefix or suffix) and returns a point on it to
// split the problem at. It searches forward from the start and backward
// from the end at once, d steps each, until the paths overlap (Myers 1986,
// section 4b; the bookkeeping follows diff-match-patch's diff_bisect, which
// also stops following diagonals that leave the grid). ok is false when no
// split was found, which does not happen for valid input.
func bisect(a, b []int) (x, y int, ok bool) {
	n, m := len(a), len(b)
	maxD := (n + m + 1) / 2
	off, size := maxD+1, 2*maxD+3
	vf := make([]int, size)
	vb := make([]int, size)
	for i := range vf {
		vf[i], vb[i] = -1, -1
	}
	vf[off+1], vb[off+1] = 0, 0
	delta := n - m
	front := delta%2 != 0
	fStart, fEnd, bStart, bEnd := 0, 0, 0, 0
	for d := 0; d < maxD; d++ {
		for k := -d + fStart; k <= d-fEnd; k += 2 {
			i := off + k
			var x1 int
			if k == -d || (k != d && vf[i-1] < vf[i+1]) {
				x1 = vf[i+1]
			} else {
				x1 = vf[i-1] + 1
			}
			y1 := x1 - k
			for x1 < n && y1 < m && a[x1] == b[y1] {
				x1++
				y1++
			}
			vf[i] = x1
			switch {
			case x1 > n:
				fEnd += 2
			case y1 > m:
				fStart += 2
			case front:
				if j := off + delta - k; j >= 0 && j < size && vb[j] != -1 && x1 >= n-vb[j] {
					return x1, y1, true
				}
			}
		}
		for k := -d + bStart; k <= d-bEnd; k += 2 {
			i := off + k
			var x2 int
			if k == -d || (k != d && vb[i-1] < vb[i+1]) {
				x2 = vb[i+1]
			} else {
				x2 = vb[i-1] + 1
			}
			y2 := x2 - k
			for x2 < n && y2 < m && a[n-x2-1] == b[m-y2-1] {
				x2++
				y2++
			}
			vb[i] = x2
			switch {
			case x2 > n:
				bEnd += 2
			case y2 > m:
				bStart += 2
			case !front:
				if j := off + delta - k; j >= 0 && j < size && vf[j] != -1 {
					x1 := vf[j]
					y1 := off + x1 - j
					if x1 >= n-x2 {
						return x1, y1, true
					}
				}
			}
		}
	}
	return 0, 0, false
}

// hunk is a run of ops with its context.
type hunk []op

// hunks groups the changes with ctx lines of context, merging groups whose
// contexts touch.
func hunks(ops []op, ctx int) []hunk {
	var out []hunk
	i := 0
	for i < len(ops) {
		for i < len(ops) && ops[i].kind == ' ' {
			i++
		}
		if i == len(ops) {
			break
		}
		start := max(0, i-ctx)
		end := i
		for {
			for end < len(ops) && ops[end].kind != ' ' {
				end++
			}
			j := end
			for j < len(ops) && ops[j].kind == ' ' {
				j++
			}
			if j < len(ops) && j-end <= 2*ctx {
				end = j
				continue
			}
			end = min(len(ops), end+ctx)
			break
		}
		out = append(out, hunk(ops[start:end]))
		i = end
	}
	return out
}

func writeHunk(w *strings.Builder, h hunk, al, bl []string) {
	as, bs := -1, -1
	an, bn := 0, 0
	for _, o := range h {
		if o.kind != '+' {
			if as < 0 {
				as = o.a
			}
			an++
		}
		if o.kind != '-' {
			if bs < 0 {
				bs = o.b
			}
			bn++
		}
	}
	// An empty side is named by the line before it, as diff -u does.
	if as < 0 {
		as = h[0].a - 1
	}
	if bs < 0 {
		bs = h[0].b - 1
	}
	fmt.Fprintf(w, "@@ -%s +%s @@\n", rangeOf(as+1, an), rangeOf(bs+1, bn))
	for _, o := range h {
		var line string
		if o.kind == '+' {
			line = bl[o.b]
		} else {
			line = al[o.a]
		}
		w.WriteByte(o.kind)
		w.WriteString(line)
		if !strings.HasSuffix(line, "\n") {
			w.WriteString("\n\\ No newline at end of file\n")
		}
	}
}

func rangeOf(start, n int) string {
	if n == 1 {
		return fmt.Sprint(start)
	}
	return fmt.Sprintf("%d,%d", start, n)
}
