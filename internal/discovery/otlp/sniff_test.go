package otlp

import (
	"testing"
)

func TestSniff(t *testing.T) {
	good := pres(service("a"), pspan(sid1, strf(5, "GET /x"), kv("k", sval(string(make([]byte, 600))))))
	tests := []struct {
		name        string
		head        string
		json, proto bool
	}{
		{"empty", "", false, false},
		{"OTLP JSON", `{"resourceSpans":[{"resource":{}}]}`, true, false},
		{"OTLP JSON after a byte order mark and space", "\xef\xbb\xbf \n\t{\"resourceSpans\":[", true, false},
		{"OTLP JSON with the key late", `{"x":1,"resourceSpans":[]}`, true, false},
		{"JSON of something else", `{"data":[{"traceID":"x"}]}`, false, false},
		{"OTLP logs", `{"resourceLogs":[]}`, false, false},
		{"a JSON array", `[{"resourceSpans":[]}]`, false, false},
		{"the key in a string", `"{\"resourceSpans\""`, false, false},
		{"a protobuf message", string(good), false, true},
		{"its first 64 bytes", string(good[:64]), false, true},
		{"its first 3 bytes", string(good[:3]), false, true},
		{"framed", string(frame(good)), false, true},
		{"framed, the first 64 bytes", string(frame(good)[:64]), false, true},
		{"framed, an empty message", string(frame(nil)), false, false},
		{"blank lines", "\n\n\n\n\n\n\n\n\n\n\n\n\n\n", false, false},
		{"text", "hello, world\n", false, false},
		{"a line of text after a newline", "\nhello, world\n", false, false},
		{"gzip", "\x1f\x8b\x08\x00\x00\x00", false, false},
		{"a protobuf message of another kind", string(cat(strf(1, "x"), varf(2, 3))), false, false},
		{"a span with a field of the wrong type", string(pres(service("a"), cat(varf(1, 3)))), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SniffJSON([]byte(tt.head)); got != tt.json {
				t.Errorf("SniffJSON: got %v, want %v", got, tt.json)
			}
			if got := SniffProto([]byte(tt.head)); got != tt.proto {
				t.Errorf("SniffProto: got %v, want %v", got, tt.proto)
			}
		})
	}
}
