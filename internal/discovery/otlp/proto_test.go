package otlp

import (
	"encoding/binary"
	"encoding/hex"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

// A protobuf encoder for hand-made messages, good and bad.

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func tag(num, typ int) []byte { return binary.AppendUvarint(nil, uint64(num<<3|typ)) }

// lenf is a length-delimited field.
func lenf(num int, parts ...[]byte) []byte {
	v := cat(parts...)
	return cat(tag(num, 2), binary.AppendUvarint(nil, uint64(len(v))), v)
}

func varf(num int, v uint64) []byte { return cat(tag(num, 0), binary.AppendUvarint(nil, v)) }

func fixed64f(num int, v uint64) []byte {
	return cat(tag(num, 1), binary.LittleEndian.AppendUint64(nil, v))
}

func strf(num int, s string) []byte { return lenf(num, []byte(s)) }

func hexf(num int, h string) []byte {
	b, err := hex.DecodeString(h)
	if err != nil {
		panic(err)
	}
	return lenf(num, b)
}

// The OTLP messages' fields.

// kv is a KeyValue attribute; value is an AnyValue's fields.
func kv(key string, value ...[]byte) []byte { return lenf(9, strf(1, key), lenf(2, value...)) }

func sval(s string) []byte { return strf(1, s) }

func ival(i int64) []byte { return varf(3, uint64(i)) }

// pres is a resourceSpans with a resource of the attributes given (as
// span attributes, field 9, renumbered to a resource's 1) and one
// ScopeSpans of the spans.
func pres(resAttrs [][]byte, spans ...[]byte) []byte {
	var r []byte
	for _, a := range resAttrs {
		r = append(r, lenf(1, a[len(tag(9, 2)):][lenPrefix(a[len(tag(9, 2)):]):])...)
	}
	var ss []byte
	for _, s := range spans {
		ss = append(ss, lenf(2, s)...)
	}
	return lenf(1, lenf(1, r), lenf(2, lenf(1, strf(1, "scope")), ss))
}

// lenPrefix is the length of the varint at the start of b.
func lenPrefix(b []byte) int {
	_, n := binary.Uvarint(b)
	return n
}

func service(name string) [][]byte { return [][]byte{kv("service.name", sval(name))} }

// pspan is a span's fields: ids, then the fields given.
func pspan(sid string, fields ...[]byte) []byte {
	return cat(append([][]byte{hexf(1, tid1), hexf(2, sid)}, fields...)...)
}

// TestReadProto holds what hand-made protobuf inputs, good and bad, read
// as.
func TestReadProto(t *testing.T) {
	good := pres(service("a"), pspan(sid1, strf(5, "GET /x"), varf(6, 2), fixed64f(7, 1000), fixed64f(8, 2000)),
		pspan(sid2, hexf(4, sid1), strf(5, "call"), varf(6, 3), kv("peer.service", sval("b")), kv("http.request.resend_count", ival(1)),
			lenf(13, hexf(1, tid1), hexf(2, sid1)), lenf(15, strf(2, "deadline exceeded"), varf(3, 2))))
	other := pres(service("b"), pspan("2122232425262728", varf(6, 5)))
	tests := []struct {
		name string
		in   []byte
		want result
	}{
		{"empty", nil, result{}},
		{"one message", good, result{Spans: []string{
			`0102/0708 a "GET /x" server ok [1000,2000] @in.json:#38 (resourceSpans[0].scopeSpans[0].spans[0])`,
			`0102/1718<0708 a "call" client timeout peer=b resend=1 link=0102/0708 @in.json:#96 (resourceSpans[0].scopeSpans[0].spans[1])`,
		}}},
		{"unknown fields skipped", cat(varf(7, 1), good, fixed64f(9, 1), strf(10, "x")), result{Spans: []string{
			`0102/0708 a "GET /x" server ok [1000,2000] @in.json:#40 (resourceSpans[0].scopeSpans[0].spans[0])`,
			`0102/1718<0708 a "call" client timeout peer=b resend=1 link=0102/0708 @in.json:#98 (resourceSpans[0].scopeSpans[0].spans[1])`,
		}}},
		{"framed", frame(good, other), result{Spans: []string{
			`0102/0708 a "GET /x" server ok [1000,2000] @in.json:#42 (message[0].resourceSpans[0].scopeSpans[0].spans[0])`,
			`0102/1718<0708 a "call" client timeout peer=b resend=1 link=0102/0708 @in.json:#100 (message[0].resourceSpans[0].scopeSpans[0].spans[1])`,
			`0102/2728 b "" consumer ok @in.json:#296 (message[1].resourceSpans[0].scopeSpans[0].spans[0])`,
		}}},
		{"a span that does not decode, among good ones", pres(service("a"),
			pspan(sid1), cat(hexf(1, "010203"), hexf(2, sid2)), pspan("2122232425262728")), result{Spans: []string{
			`0102/0708 a "" unspecified ok @in.json:#36 (resourceSpans[0].scopeSpans[0].spans[0])`,
			`0102/2728 a "" unspecified ok @in.json:#83 (resourceSpans[0].scopeSpans[0].spans[2])`,
		}, Problems: []string{
			`in.json:#66 (resourceSpans[0].scopeSpans[0].spans[1]): corrupt: span does not decode: unmarshal: invalid TraceID length`,
		}}},
		{"a resource that does not decode", pres([][]byte{lenf(9, strf(1, "service.name"), varf(2, 7))}, pspan(sid1)), result{Problems: []string{
			`in.json:#2 (resourceSpans[0].resource): corrupt: resource does not decode: proto: wrong wireType = 0 for field Value`,
			`in.json:#33 (resourceSpans[0].scopeSpans[0].spans[0]): missing-field: span's resource has no service.name`,
		}}},
		{"values out of range", pres(service("a"),
			pspan("0000000000000001", fixed64f(7, 1<<63)),
			pspan("0000000000000002", varf(6, 9)),
			pspan("0000000000000003", lenf(15, varf(3, 7))),
			pspan("0000000000000004", kv("http.request.resend_count", sval("twice")), kv("service.peer.name", ival(3))),
			pspan("0000000000000005", lenf(13, hexf(1, tid1))),
		), result{Spans: []string{
			`0102/0004 a "" unspecified ok @in.json:#143 (resourceSpans[0].scopeSpans[0].spans[3])`,
			`0102/0005 a "" unspecified ok @in.json:#236 (resourceSpans[0].scopeSpans[0].spans[4])`,
		}, Problems: []string{
			`in.json:#38 (resourceSpans[0].scopeSpans[0].spans[0]): corrupt: startTimeUnixNano 9223372036854775808 is out of range`,
			`in.json:#77 (resourceSpans[0].scopeSpans[0].spans[1]): corrupt: kind 9 is not one of OTLP's`,
			`in.json:#109 (resourceSpans[0].scopeSpans[0].spans[2]): corrupt: status code 7 is not one of OTLP's`,
			`in.json:#143 (resourceSpans[0].scopeSpans[0].spans[3]): corrupt: attribute http.request.resend_count is not an integer`,
			`in.json:#143 (resourceSpans[0].scopeSpans[0].spans[3]): corrupt: attribute service.peer.name is not a string`,
			`in.json:#236 (resourceSpans[0].scopeSpans[0].spans[4]): corrupt: links[0] has no valid trace and span id: left out`,
		}}},
		{"missing ids and service", cat(pres(service("a"), cat(hexf(2, sid1)), cat(hexf(1, tid1))), pres(nil, pspan(sid1))), result{Problems: []string{
			`in.json:#36 (resourceSpans[0].scopeSpans[0].spans[0]): missing-field: span has no trace id`,
			`in.json:#48 (resourceSpans[0].scopeSpans[0].spans[1]): missing-field: span has no span id`,
			`in.json:#83 (resourceSpans[1].scopeSpans[0].spans[0]): missing-field: span's resource has no service.name`,
		}}},
		{"truncated", good[:len(good)-10], result{Problems: []string{
			`in.json (resourceSpans[0]): corrupt: input ends within a field`,
		}}},
		{"truncated after a message", cat(good, other[:5]), result{Spans: []string{
			`0102/0708 a "GET /x" server ok [1000,2000] @in.json:#38 (resourceSpans[0].scopeSpans[0].spans[0])`,
			`0102/1718<0708 a "call" client timeout peer=b resend=1 link=0102/0708 @in.json:#96 (resourceSpans[0].scopeSpans[0].spans[1])`,
		}, Problems: []string{
			`in.json:#252 (resourceSpans[1]): corrupt: input ends within a field`,
		}}},
		{"broken structure", cat(good, []byte{0x0f, 0x01}), result{Spans: []string{
			`0102/0708 a "GET /x" server ok [1000,2000] @in.json:#38 (resourceSpans[0].scopeSpans[0].spans[0])`,
			`0102/1718<0708 a "call" client timeout peer=b resend=1 link=0102/0708 @in.json:#96 (resourceSpans[0].scopeSpans[0].spans[1])`,
		}, Problems: []string{
			`in.json:#252 (resourceSpans[1]): corrupt: invalid wire type 7`,
		}}},
		{"framed: a broken message between good ones", frame(good, []byte{0x0a, 0xff, 0xff, 0x01, 0x02}, other), result{Spans: []string{
			`0102/0708 a "GET /x" server ok [1000,2000] @in.json:#42 (message[0].resourceSpans[0].scopeSpans[0].spans[0])`,
			`0102/1718<0708 a "call" client timeout peer=b resend=1 link=0102/0708 @in.json:#100 (message[0].resourceSpans[0].scopeSpans[0].spans[1])`,
			`0102/2728 b "" consumer ok @in.json:#305 (message[2].resourceSpans[0].scopeSpans[0].spans[0])`,
		}, Problems: []string{
			`in.json:#260 (message[1].resourceSpans[0]): corrupt: a field of 32767 bytes runs past the end of its message`,
		}}},
		{"framed: compressed message", frame(good, []byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0}, other), result{Spans: []string{
			`0102/0708 a "GET /x" server ok [1000,2000] @in.json:#42 (message[0].resourceSpans[0].scopeSpans[0].spans[0])`,
			`0102/1718<0708 a "call" client timeout peer=b resend=1 link=0102/0708 @in.json:#100 (message[0].resourceSpans[0].scopeSpans[0].spans[1])`,
			`0102/2728 b "" consumer ok @in.json:#306 (message[2].resourceSpans[0].scopeSpans[0].spans[0])`,
		}, Problems: []string{
			`in.json:#260 (message[1]): unsupported: zstd-compressed message: decompress it first`,
		}}},
		{"framed: truncated length", cat(frame(good), []byte{0, 0}), result{Spans: []string{
			`0102/0708 a "GET /x" server ok [1000,2000] @in.json:#42 (message[0].resourceSpans[0].scopeSpans[0].spans[0])`,
			`0102/1718<0708 a "call" client timeout peer=b resend=1 link=0102/0708 @in.json:#100 (message[0].resourceSpans[0].scopeSpans[0].spans[1])`,
		}, Problems: []string{
			`in.json:#256 (message[1]): corrupt: truncated length prefix: 2 of 4 bytes`,
		}}},
		{"framed: truncated message", frame(good, other)[:len(good)+10], result{Spans: []string{
			`0102/0708 a "GET /x" server ok [1000,2000] @in.json:#42 (message[0].resourceSpans[0].scopeSpans[0].spans[0])`,
			`0102/1718<0708 a "call" client timeout peer=b resend=1 link=0102/0708 @in.json:#100 (message[0].resourceSpans[0].scopeSpans[0].spans[1])`,
		}, Problems: []string{
			`in.json:#260 (message[1].resourceSpans[0]): corrupt: input ends within a field`,
		}}},
		{"compressed input", []byte{0x1f, 0x8b, 8, 0, 1, 2, 3}, result{Problems: []string{
			`in.json: unsupported: gzip-compressed input: decompress it first`,
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := collect(t, ReadProto, string(tt.in), nil)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if again := collect(t, ReadProto, string(tt.in), iotest.OneByteReader); !cmp.Equal(got, again) {
				t.Errorf("one byte a read:\n%s", cmp.Diff(got, again))
			}
		})
	}
}
