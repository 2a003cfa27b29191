package nezha

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
)

// records is what a CSV reader made of an input: per record its fields,
// each field's position, and the offset after it; then the error that
// ended it.
func records(read func() ([]string, error), pos func(int) (int, int), offset func() int64) []string {
	var out []string
	for range 1000 {
		rec, err := read()
		if err == io.EOF {
			return append(out, "EOF")
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			out = append(out, fmt.Sprintf("error %d-%d:%d %v @%d", pe.StartLine, pe.Line, pe.Column, pe.Err, offset()))
			continue
		}
		if err != nil {
			return append(out, "error "+err.Error())
		}
		s := fmt.Sprintf("%q @%d", rec, offset())
		for i := range rec {
			l, c := pos(i)
			s += fmt.Sprintf(" %d:%d", l, c)
		}
		out = append(out, s)
	}
	return append(out, "too many records")
}

func viaCSV(in string) []string {
	r := csv.NewReader(strings.NewReader(in))
	r.ReuseRecord = true
	r.FieldsPerRecord = -1
	return records(r.Read, r.FieldPos, r.InputOffset)
}

func viaTable(in string) []string {
	t := newTable(strings.NewReader(in))
	return records(t.read, t.fieldPos, t.offset)
}

// TestTableAgreesWithCSV: table reads what encoding/csv reads, with the
// same positions and offsets, on the fast path and after handing over.
func TestTableAgreesWithCSV(t *testing.T) {
	for _, in := range []string{
		"",
		"a,b,c\n1,2,3\n",
		"a,b,c\n1,2,3",
		"a,b\r\n1,2\r\n",
		"a,b\r\n1,2\r",
		"\n\na,b\n\n\r\n1,2\n\n",
		",,\n,\n",
		"a\rb,c\n",
		"a,b\n1,\"2,x\"\n3,4\n",
		"a,b\n1,\"2\nx\"\n3,4\n",
		"a,b\n1,2\"\n3,4\n",
		"a,b\n1,\"2\n3,4\n",
		"héllo,wörld\n\xff,\x00\n",
		"a,b\n" + strings.Repeat("x", 70000) + ",y\n1,2\n",
		"a,b\n" + strings.Repeat("x", 70000) + "\",y\n1,2\n",
	} {
		if diff := cmp.Diff(viaCSV(in), viaTable(in)); diff != "" {
			t.Errorf("%.40q: encoding/csv (-) and table (+) differ:\n%s", in, diff)
		}
	}
	// split reads eight bytes at a time: a comma, a quote and a '-' (one
	// above ',' in ASCII) at every place in a word and in the tail
	for n := range 20 {
		for i := range n {
			for _, c := range []string{",", "\"", ",-", "-,", ",,"} {
				line := strings.Repeat("x", i) + c + strings.Repeat("y", n-i)
				in := "h\n" + line + "\n" + line
				if diff := cmp.Diff(viaCSV(in), viaTable(in)); diff != "" {
					t.Errorf("%q: encoding/csv (-) and table (+) differ:\n%s", in, diff)
				}
			}
		}
	}
}

// TestZeroBytes: zeroBytes marks exactly the zero bytes of a word, also
// next to bytes a borrow would turn into zeros (0x01, 0x80, 0xff).
func TestZeroBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	some := []byte{0, 1, 0x7f, 0x80, 0x81, 0xfe, 0xff}
	for range 200000 {
		var w, want uint64
		for b := range 8 {
			v := byte(rng.Uint32())
			if rng.IntN(2) == 0 {
				v = some[rng.IntN(len(some))]
			}
			w |= uint64(v) << (8 * b)
			if v == 0 {
				want |= 0x80 << (8 * b)
			}
		}
		if got := zeroBytes(w); got != want {
			t.Fatalf("zeroBytes(%#016x) = %#016x, want %#016x", w, got, want)
		}
	}
}

// FuzzTable: on any input, table and encoding/csv agree.
func FuzzTable(f *testing.F) {
	for _, in := range []string{"a,b\n1,2\n", "a,\"b\"\"c\"\n\r\n1,2\r", "\"\n,\n"} {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in := string(data)
		if diff := cmp.Diff(viaCSV(in), viaTable(in)); diff != "" {
			t.Errorf("%q: encoding/csv (-) and table (+) differ:\n%s", in, diff)
		}
	})
}

// TestTableLongLine: a line longer than the buffer is whole.
func TestTableLongLine(t *testing.T) {
	long := bytes.Repeat([]byte("ab,"), 50000)
	tb := newTable(bytes.NewReader(append(long, "z\n"...)))
	rec, err := tb.read()
	if err != nil || len(rec) != 50001 || rec[50000] != "z" {
		t.Fatalf("got %d fields, %v", len(rec), err)
	}
}

// TestParseNano: parseNano agrees with strconv.ParseInt, on numbers of
// every length and on strings that are almost numbers.
func TestParseNano(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	cases := []string{"", "0", "-1", "+1", "9223372036854775807", "9223372036854775808", "18446744073709551615", "99999999999999999999", "1661140374351773094", "0000000000000000001", "12345678", "1234567/", "1234567:", "/2345678", " 1234567"}
	for range 20000 {
		b := make([]byte, 1+rng.IntN(21))
		for i := range b {
			b[i] = byte('0' + rng.IntN(10))
			if rng.IntN(40) == 0 {
				b[i] = byte(rng.IntN(256))
			}
		}
		cases = append(cases, string(b))
	}
	for _, c := range cases {
		want, err := strconv.ParseInt(c, 10, 64)
		got, bad := parseNano(c)
		if bad != (err != nil) || !bad && got != want {
			t.Fatalf("parseNano(%q) = %d, %v; strconv says %d, %v", c, got, bad, want, err)
		}
	}
}

// TestKept holds kept to the names it is given, whichever share a slot
// of the recent ones: short and long, empty, and more than the slots;
// each made once, from a copy.
func TestKept(t *testing.T) {
	var ops kept[string]
	var pods kept[*pod]
	var names []string
	for i := range 600 {
		names = append(names, fmt.Sprintf("svc%d/Method%d", i%7, i))
	}
	names = append(names, "", "a", "ab", "abcdefg", "abcdefgh", "xabcdefgh", "hipstershop.CartService/AddItem", "hipstershop.CartService/GetCart",
		"frontend-579b9bff58-t2dbm", "frontend-579b9bff58-x2dbm")
	made := map[string]int{}
	for round := range 3 {
		for _, n := range names {
			if got := ops.get(n, keepOp); got != n {
				t.Fatalf("round %d: op %q kept as %q", round, n, got)
			}
			p := pods.get(strings.Clone(n), func(name string) *pod { made[name]++; return newPod(name) })
			if p.name != n || p.service != ServiceOf(n) {
				t.Fatalf("round %d: pod %q kept as %+v", round, n, *p)
			}
		}
	}
	for n, times := range made {
		if times != 1 {
			t.Errorf("pod %q made %d times", n, times)
		}
	}
	// a slot never holds a row's own bytes: a name found in the map
	// after its slot went to another, from a buffer overwritten later,
	// is still the name it was
	var a, b string
	seen := map[int]string{}
	for i := 0; a == ""; i++ {
		n := fmt.Sprintf("pod-%06d", i)
		if o, ok := seen[slotOf(n)]; ok {
			a, b = o, n
		}
		seen[slotOf(n)] = n
	}
	var lent kept[string]
	lent.get(a, keepOp)
	lent.get(b, keepOp) // a's slot now b's
	buf := []byte(a)
	lent.get(unsafe.String(&buf[0], len(buf)), keepOp) // a, from the map
	copy(buf, b)                                       // the reader's next row
	if got := lent.get(b, keepOp); got != b {
		t.Errorf("kept %q as %q: a slot held a row's bytes", b, got)
	}
	// a name is kept once: the same string whichever row it came from
	for _, n := range names[:50] {
		a, b := ops.get(n, keepOp), ops.get(strings.Clone(n), keepOp)
		if unsafe.StringData(a) != unsafe.StringData(b) {
			t.Errorf("op %q kept twice", n)
		}
	}
}
