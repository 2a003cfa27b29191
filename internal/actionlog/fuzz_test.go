package actionlog

import (
	"bytes"
	"testing"
)

// FuzzRead: reading any bytes never panics; it consumes whole lines only
// (up to the last newline when it succeeds) and each record it reads
// writes back to a line that reads as the same record, so a compaction
// never makes a readable log unreadable.
func FuzzRead(f *testing.F) {
	for _, s := range []string{
		"",
		"\n",
		`{"journey":"checkout","action":"shift","at":"2025-03-04T05:06:07.123456789Z"}` + "\n",
		`{"journey":"j","action":"a","at":"2025-03-04T06:00:00+01:00"}` + "\n" + `{"journey":"j","act`,
		`{"journey":"j","action":"a","at":"2025-03-04T05:06:07Z"}` + "\ngarbage\n",
		`{"journey":"j\u00e9\"","action":"<a>","at":"0000-01-01T00:00:00Z","x":[1]}` + "\n\n",
		`{"journey":"j","action":"a","at":"0000-01-01T00:00:00+01:00"}` + "\n",
		"null\n{}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, n, lines, err := parse(data)
		if err != nil {
			if err.line < 1 || err.line > bytes.Count(data, []byte("\n")) || err.msg == "" {
				t.Fatalf("error %+v", *err)
			}
			return
		}
		if n < 0 || n > len(data) || (n > 0 && data[n-1] != '\n') || bytes.IndexByte(data[n:], '\n') >= 0 {
			t.Fatalf("consumed %d of %q", n, data)
		}
		if lines != bytes.Count(data[:n], []byte("\n")) || len(recs) > lines {
			t.Fatalf("%d lines, %d records in %q", lines, len(recs), data[:n])
		}
		for _, r := range recs {
			line, err := encode(r)
			if err != nil {
				t.Fatal(err)
			}
			back, n, _, perr := parse(line)
			if perr != nil || n != len(line) || len(back) != 1 {
				t.Fatalf("%+v written as %q reads as %+v, %v", r, line, back, perr)
			}
			if b := back[0]; b.Journey != r.Journey || b.Action != r.Action || !b.At.Equal(r.At) {
				t.Fatalf("%+v written as %q reads as %+v", r, line, b)
			}
		}
	})
}
