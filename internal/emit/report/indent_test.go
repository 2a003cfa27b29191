package report

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestIndentJSON: indentJSON writes what an Encoder set to indent writes,
// byte for byte, on values of every JSON shape (empty and nested objects
// and arrays, strings with escapes, quotes, braces and non-ASCII text,
// numbers, literals).
func TestIndentJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	texts := []string{"", "a", `q"uo\te`, "{[,:]}", "<br/> & é ∞", "tab\tnew\nline", "\u2028", `\u0041`, "\x00\x1f"}
	var value func(depth int) any
	value = func(depth int) any {
		switch k := r.IntN(8); {
		case depth > 4 || k == 0:
			return texts[r.IntN(len(texts))]
		case k == 1:
			return r.NormFloat64() * 1e3
		case k == 2:
			return []bool{true, false}[r.IntN(2)]
		case k == 3:
			return nil
		case k <= 5:
			m := map[string]any{}
			for range r.IntN(4) {
				m[texts[r.IntN(len(texts))]+strings.Repeat("k", r.IntN(3))] = value(depth + 1)
			}
			return m
		default:
			a := make([]any, r.IntN(4))
			for i := range a {
				a[i] = value(depth + 1)
			}
			return a
		}
	}
	for range 2000 {
		v := value(0)
		var compact, want bytes.Buffer
		enc := json.NewEncoder(&compact)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		enc = json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		if got := indentJSON(nil, compact.Bytes(), "  "); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("indentJSON:\n%s\nthe Encoder:\n%s", got, want.Bytes())
		}
	}
}
