package yamlw

import (
	"testing"
	"unicode"
	"unicode/utf8"
)

// TestPrintable: the word-at-a-time scan agrees with a rune-by-rune one
// on every byte value at every position of the first words and the tail.
func TestPrintable(t *testing.T) {
	slow := func(s string) bool {
		if !utf8.ValidString(s) {
			return false
		}
		for _, r := range s {
			if !unicode.IsPrint(r) {
				return false
			}
		}
		return true
	}
	base := `sum(rate(x{code=~"5.."}[5m])) / sum(rate(x[5m])) or vector(1)`
	for pos := range len(base) {
		for c := range 256 {
			b := []byte(base)
			b[pos] = byte(c)
			if s := string(b); printable(s) != slow(s) {
				t.Fatalf("printable(%q) = %v", s, !slow(s))
			}
		}
	}
	for _, s := range []string{"", "é", "ab\u00a0cdefgh", "abcdefgh\u2028", "abcdefg\x7f", "\x1fbcdefgh"} {
		if printable(s) != slow(s) {
			t.Errorf("printable(%q) = %v", s, !slow(s))
		}
	}
}
