package nezha

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"

	"github.com/emac-dev/emac/internal/discovery"
	"github.com/emac-dev/emac/internal/discovery/readtest"
)

// readWith is what read gives with opts: the spans and problems, and the
// error.
func readWith(t testing.TB, data []byte, r io.Reader, opts options) (discovery.Collector, string) {
	t.Helper()
	if r == nil {
		r = bytes.NewReader(data)
	}
	var c discovery.Collector
	err := read(context.Background(), "f", r, &c, opts)
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	return c, msg
}

// agree fails unless reading data in chunks of every size gives what
// reading it row by row does.
func agree(t testing.TB, data []byte) {
	t.Helper()
	want, wantErr := readWith(t, data, nil, options{Workers: 1})
	for _, block := range []int{1, 7, 64, 1 << 10, 0} {
		for _, workers := range []int{2, 3} {
			got, err := readWith(t, data, nil, options{Workers: workers, Block: block})
			if err != wantErr {
				t.Fatalf("%d workers, blocks of %d: error %q, want %q", workers, block, err, wantErr)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("%d workers, blocks of %d: not what reading row by row gives (-rows +chunks):\n%s", workers, block, diff)
			}
		}
	}
}

const header = "TraceID,SpanID,ParentID,PodName,OperationName,StartTimeUnixNano,EndTimeUnixNano,Duration\n"

// TestChunksAgree: splitting chunks of rows at once gives the spans and
// problems, at the same positions and in the same order, that reading
// row by row does: on the dataset's tables, compressed or not, and on
// line breaks, empty lines, bad rows, a quote part way (from which the
// rows are read one by one), lines longer than a chunk and a file
// without a last line break.
func TestChunksAgree(t *testing.T) {
	for _, name := range []string{"ob-03_53-head.csv.gz", "tt-11_51-head.csv.gz"} {
		gz, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		z, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			t.Fatal(err)
		}
		plain, err := io.ReadAll(z)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(name, func(t *testing.T) {
			agree(t, gz)
			agree(t, plain)
		})
	}
	row := "t1,s1,root,frontend-579b9bff58-t2dbm,GET /,10,20,0\n"
	long := "t2,s2,s1,cartservice-74f56fd4b-5lf6w," + strings.Repeat("x", 3000) + ",11,19,0\n"
	for name, in := range map[string]string{
		"rows":             header + row + long + row,
		"crlf":             strings.ReplaceAll(header+row+long, "\n", "\r\n"),
		"empty lines":      header + "\n\n" + row + "\n" + row + "\n\n",
		"no last break":    header + row + strings.TrimSuffix(row, "\n"),
		"a last \\r":       header + row + strings.TrimSuffix(row, "\n") + "\r",
		"bad rows":         header + "t,a\n" + ",s,root,p-1,op,1,2,0\n" + "t,,root,p-1,op,1,2,0\n" + "t,s,root,,op,1,2,0\n" + "t,s,root,p-1,op,x,2,0\n" + "t,s,root,p-1,op,3,2,0\n" + row,
		"a quote":          header + row + row + `t3,s3,s1,"pod-1",op,1,2,0` + "\n" + row + `t4,"s4` + "\nx\",root,p-2,op,1,2,0\n" + row,
		"a bad quote":      header + row + `t3,s"3,s1,pod-1,op,1,2,0` + "\n" + row,
		"header only":      header,
		"a long first row": header + long,
	} {
		t.Run(name, func(t *testing.T) { agree(t, []byte(in)) })
	}
}

// TestChunksErrors: an input that fails part way gives the spans of
// the lines before the failure, then the error, as row by row; a
// compressed input cut short is a problem where its rows stop.
func TestChunksErrors(t *testing.T) {
	row := "t1,s1,root,frontend-579b9bff58-t2dbm,GET /,10,20,0\n"
	data := []byte(header + strings.Repeat(row, 200))
	boom := errors.New("boom")
	failing := func() io.Reader {
		return io.MultiReader(bytes.NewReader(data[:len(data)-len(row)/2]), iotest.ErrReader(boom))
	}
	want, wantErr := readWith(t, nil, failing(), options{Workers: 1})
	got, err := readWith(t, nil, failing(), options{Workers: 2, Block: 256})
	if err != wantErr || wantErr != "boom" {
		t.Errorf("error %q, want %q (row by row: %q)", err, "boom", wantErr)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("not what reading row by row gives (-rows +chunks):\n%s", diff)
	}

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(data)
	zw.Close()
	cut := gz.Bytes()[:gz.Len()-20]
	want, wantErr = readWith(t, cut, nil, options{Workers: 1})
	got, err = readWith(t, cut, nil, options{Workers: 2, Block: 256})
	if err != "" || wantErr != "" || len(want.Problems) != 1 || !strings.Contains(want.Problems[0].Detail, "gzip") {
		t.Fatalf("a compressed input cut short: errors %q and %q, problems %v", err, wantErr, want.Problems)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("compressed, cut short: not what reading row by row gives (-rows +chunks):\n%s", diff)
	}
}

// FuzzChunks: on any input, splitting chunks at once gives what reading
// row by row does.
func FuzzChunks(f *testing.F) {
	f.Add([]byte(header + "t1,s1,root,frontend-579b9bff58-t2dbm,GET /,10,20,0\r\n\nt1,s2,s1,p-1,op,1,2,0"))
	f.Add([]byte(header + "t1,\"s1\",root,p-1,op,1,2,0\n"))
	f.Fuzz(func(t *testing.T, data []byte) { agree(t, data) })
}

// TestBorrowedIDs: a sink that copies ids is handed the spans others
// are, row by row and in chunks, and keeps what it does not copy as it
// is: the other strings are the reader's to keep, not its buffer's.
func TestBorrowedIDs(t *testing.T) {
	gz, err := os.ReadFile("testdata/ob-03_53-head.csv.gz")
	if err != nil {
		t.Fatal(err)
	}
	quoted := header + "t1,s1,root,frontend-579b9bff58-t2dbm,GET /,10,20,0\n" + `t1,"s2",s1,cartservice-74f56fd4b-5lf6w,get,11,19,0` + "\n" + "t1,s3,s1,cartservice-74f56fd4b-5lf6w,put,12,19,0\n"
	for name, data := range map[string]string{"table": string(gz), "a quote": quoted} {
		want, _ := readWith(t, []byte(data), nil, options{Workers: 1})
		if len(want.Spans) == 0 {
			t.Fatalf("%s: no spans", name)
		}
		for _, o := range []options{{Workers: 1}, {Workers: 2, Block: 1 << 10}, {Workers: 2}} {
			var got readtest.IDCopier
			if err := read(context.Background(), "f", strings.NewReader(data), &got, o); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got.Collector); diff != "" {
				t.Errorf("%s, %+v: not what a sink that keeps ids is handed (-kept +copied):\n%s", name, o, diff)
			}
		}
	}
}
