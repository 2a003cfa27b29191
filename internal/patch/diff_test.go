package patch

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var hunkRE = regexp.MustCompile(`^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@\n$`)

// applyUnified applies a unified diff to a, checking every context and
// removed line and every hunk's line counts: an independent reading of
// what Diff writes.
func applyUnified(a, d string) (string, error) {
	if d == "" {
		return a, nil
	}
	al, dl := splitLines(a), splitLines(d)
	if len(dl) < 2 || !strings.HasPrefix(dl[0], "--- a/") || !strings.HasPrefix(dl[1], "+++ b/") {
		return "", fmt.Errorf("no --- a/ +++ b/ header")
	}
	var out []string
	pos := 0
	for i := 2; i < len(dl); {
		m := hunkRE.FindStringSubmatch(dl[i])
		if m == nil {
			return "", fmt.Errorf("line %d: not a hunk header: %q", i+1, dl[i])
		}
		i++
		count := func(s string) int {
			if s == "" {
				return 1
			}
			n, _ := strconv.Atoi(s)
			return n
		}
		start, an, bn := count(m[1]), count(m[2]), count(m[4])
		if an > 0 {
			start-- // to 0-based; an empty range names the line before
		}
		if start < pos || start > len(al) {
			return "", fmt.Errorf("hunk at %d out of order", start)
		}
		out = append(out, al[pos:start]...)
		pos = start
		for i < len(dl) && !strings.HasPrefix(dl[i], "@@ ") {
			l := dl[i]
			i++
			text := l[1:]
			if i < len(dl) && dl[i] == "\\ No newline at end of file\n" {
				text = strings.TrimSuffix(text, "\n")
				i++
			}
			switch l[0] {
			case ' ', '-':
				if pos >= len(al) || al[pos] != text {
					return "", fmt.Errorf("line %d: %q does not match %q", pos+1, l, al[min(pos, len(al)-1)])
				}
				pos++
				an--
				if l[0] == ' ' {
					out = append(out, text)
					bn--
				}
			case '+':
				out = append(out, text)
				bn--
			default:
				return "", fmt.Errorf("bad diff line %q", l)
			}
		}
		if an != 0 || bn != 0 {
			return "", fmt.Errorf("hunk %q: line counts off by %d, %d", m[0], an, bn)
		}
	}
	return strings.Join(append(out, al[pos:]...), ""), nil
}

// lcs is the length of a longest common subsequence of lines.
func lcs(a, b []string) int {
	dp := make([][]int, len(a)+1)
	for i := range dp {
		dp[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				dp[i][j] = dp[i+1][j+1] + 1
			} else {
				dp[i][j] = max(dp[i+1][j], dp[i][j+1])
			}
		}
	}
	return dp[0][0]
}

func randomText(r *rand.Rand) string {
	var b strings.Builder
	n := r.IntN(14)
	for i := 0; i < n; i++ {
		b.WriteString(string(rune('a' + r.IntN(4))))
		if i < n-1 || r.IntN(4) != 0 {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// TestDiffRandom checks on random texts that the diff applies back to the
// new text and is a shortest one: it removes and adds exactly the lines
// outside a longest common subsequence.
func TestDiffRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	havePatch := false
	if _, err := os.Stat("/usr/bin/patch"); err == nil {
		havePatch = true
	}
	for i := 0; i < 3000; i++ {
		a, b := randomText(r), randomText(r)
		if r.IntN(3) == 0 { // similar texts: a few lines changed
			b = mutate(r, a)
		}
		d := Diff("f", "f", []byte(a), []byte(b))
		got, err := applyUnified(a, d)
		if err != nil || got != b {
			t.Fatalf("a=%q b=%q: applying the diff: got %q, err %v\n%s", a, b, got, err, d)
		}
		al, bl := splitLines(a), splitLines(b)
		edits := 0
		for _, l := range splitLines(d)[min(2, len(splitLines(d))):] {
			if l[0] == '-' || l[0] == '+' {
				edits++
			}
		}
		if want := len(al) + len(bl) - 2*lcs(al, bl); edits != want {
			t.Fatalf("a=%q b=%q: got %d changed lines, want %d\n%s", a, b, edits, want, d)
		}
		if havePatch && i%60 == 0 && d != "" {
			roundTrip(t, "f", []byte(a), []byte(b), d)
		}
	}
}

func mutate(r *rand.Rand, a string) string {
	ls := splitLines(a)
	for k := r.IntN(3); k >= 0; k-- {
		i := r.IntN(len(ls) + 1)
		switch r.IntN(3) {
		case 0:
			ls = append(ls[:i], append([]string{"x\n"}, ls[i:]...)...)
		case 1:
			if i < len(ls) {
				ls = append(ls[:i], ls[i+1:]...)
			}
		default:
			if i < len(ls) {
				ls[i] = "y\n"
			}
		}
	}
	return strings.Join(ls, "")
}

func TestDiffEqual(t *testing.T) {
	if d := Diff("a", "b", []byte("x\ny\n"), []byte("x\ny\n")); d != "" {
		t.Errorf("got %q for equal texts, want \"\"", d)
	}
}

// TestDiffGolden checks the hunk layout (context, merged hunks, empty
// files, a missing final line break) against golden diffs; every one is
// also applied with patch -p1.
func TestDiffGolden(t *testing.T) {
	long := func(change map[int]string, n int, end string) string {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			if s, ok := change[i]; ok {
				b.WriteString(s)
				continue
			}
			fmt.Fprintf(&b, "line %d\n", i)
		}
		return strings.TrimSuffix(b.String(), "\n") + end
	}
	cases := []struct{ name, a, b string }{
		{"two-hunks", long(nil, 30, "\n"), long(map[int]string{3: "three\n", 27: "", 28: "twenty-eight\nand more\n"}, 30, "\n")},
		{"merged-hunks", long(nil, 20, "\n"), long(map[int]string{5: "five\n", 11: "eleven\n"}, 20, "\n")},
		{"no-newline", long(nil, 6, ""), long(map[int]string{6: "six\n"}, 6, "")},
		{"add-newline", "a\nb", "a\nb\n"},
		{"from-empty", "", "a\nb\n"},
		{"to-empty", "a\nb\n", ""},
		{"prepend", "a\nb\nc\nd\ne\n", "new\na\nb\nc\nd\ne\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := Diff("spec.yaml", "spec.yaml", []byte(c.a), []byte(c.b))
			golden(t, filepath.Join("testdata", "diff", c.name+".diff"), []byte(d))
			roundTrip(t, "spec.yaml", []byte(c.a), []byte(c.b), d)
		})
	}
}

// TestDiffGNU compares the hunks with diff -u where the system has it and
// the shortest alignment is unique.
func TestDiffGNU(t *testing.T) {
	if _, err := exec.LookPath("diff"); err != nil {
		t.Skip("no diff on this system")
	}
	a := "apiVersion: v1\nkind: Journey\nspec:\n  components:\n    a: {}\n    b: {}\n    c: {}\n    d: {}\n    e: {}\n    f: {}\n    g: {}\n    h: {}\n"
	b := "apiVersion: v1\nkind: Journey\nspec:\n  components:\n    a: {domains: [x]}\n    b: {}\n    c: {}\n    d: {}\n    e: {}\n    f: {}\n    g: {}\n    h: {}\n    i: {}\n"
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a"), []byte(a), 0o644)
	os.WriteFile(filepath.Join(dir, "b"), []byte(b), 0o644)
	out, _ := exec.Command("diff", "-u", filepath.Join(dir, "a"), filepath.Join(dir, "b")).Output()
	gnu := splitLines(string(out))[2:]
	mine := splitLines(Diff("a", "b", []byte(a), []byte(b)))[2:]
	if d := strings.Join(mine, ""); d != strings.Join(gnu, "") {
		t.Errorf("got\n%s\nwant (diff -u)\n%s", d, strings.Join(gnu, ""))
	}
}
