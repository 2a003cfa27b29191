package otlp

import (
	"bytes"
	"encoding/binary"
)

// SniffJSON says whether an input that starts with head looks like OTLP
// JSON traces: its first byte other than white space (and a UTF-8 byte
// order mark) opens an object, and head holds the key "resourceSpans".
// It is conservative: a trace file whose head is taken up by something
// else before that key is not recognized.
func SniffJSON(head []byte) bool {
	b := bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{' && bytes.Contains(b, []byte(`"resourceSpans"`))
}

// SniffProto says whether an input that starts with head looks like OTLP
// protobuf traces, either as one TracesData message or in the file
// exporter's length-prefixed framing. It checks the protobuf wire format
// of what head holds against the messages' field numbers and types, down
// to the spans and the attributes, so that text and other binary formats
// are not taken for traces. An empty head is not traces.
func SniffProto(head []byte) bool {
	if len(head) == 0 {
		return false
	}
	if head[0] == 0x0a {
		return validProto(head, false, mTraces)
	}
	if len(head) < 5 {
		return false
	}
	n := binary.BigEndian.Uint32(head)
	msg := head[4:]
	complete := uint64(n) <= uint64(len(msg))
	if complete {
		msg = msg[:n]
	}
	return len(msg) > 0 && msg[0] == 0x0a && validProto(msg, complete, mTraces)
}

// The messages SniffProto knows the fields of.
type protoMsg uint8

const (
	mNone protoMsg = iota // a scalar, or a message not checked
	mTraces
	mResourceSpans
	mResource
	mScopeSpans
	mScope
	mSpan
	mKeyValue
	mLink
	mStatus
)

// Wire types.
const (
	wVarint = 0
	wI64    = 1
	wLen    = 2
	wI32    = 5
)

// protoField is a field's wire type and, for a message, which.
type protoField struct {
	typ uint8
	msg protoMsg
}

// protoFields are the fields of the messages, by field number (from the
// OTLP trace, resource and common protos); every number below a slice's
// length is a field.
var protoFields = map[protoMsg][]protoField{
	mTraces:        {1: {wLen, mResourceSpans}},
	mResourceSpans: {1: {wLen, mResource}, 2: {wLen, mScopeSpans}, 3: {wLen, mNone}},
	mResource:      {1: {wLen, mKeyValue}, 2: {wVarint, mNone}, 3: {wLen, mNone}},
	mScopeSpans:    {1: {wLen, mScope}, 2: {wLen, mSpan}, 3: {wLen, mNone}},
	mScope:         {1: {wLen, mNone}, 2: {wLen, mNone}, 3: {wLen, mKeyValue}, 4: {wVarint, mNone}},
	mSpan: {1: {wLen, mNone}, 2: {wLen, mNone}, 3: {wLen, mNone}, 4: {wLen, mNone}, 5: {wLen, mNone},
		6: {wVarint, mNone}, 7: {wI64, mNone}, 8: {wI64, mNone}, 9: {wLen, mKeyValue}, 10: {wVarint, mNone},
		11: {wLen, mNone}, 12: {wVarint, mNone}, 13: {wLen, mLink}, 14: {wVarint, mNone}, 15: {wLen, mStatus},
		16: {wI32, mNone}},
	mKeyValue: {1: {wLen, mNone}, 2: {wLen, mNone}},
	mLink:     {1: {wLen, mNone}, 2: {wLen, mNone}, 3: {wLen, mNone}, 4: {wLen, mKeyValue}, 5: {wVarint, mNone}, 6: {wI32, mNone}},
	// Status field 1 is the deprecated code, a varint.
	mStatus: {1: {wVarint, mNone}, 2: {wLen, mNone}, 3: {wVarint, mNone}},
}

// validProto says whether b is message m in the wire format, with known
// fields only. complete says b is the whole message; else it may stop
// anywhere, within a field too.
func validProto(b []byte, complete bool, m protoMsg) bool {
	known := protoFields[m]
	for i := 0; i < len(b); {
		tag, n := binary.Uvarint(b[i:])
		if n <= 0 {
			return n == 0 && !complete
		}
		i += n
		num, typ := tag>>3, uint8(tag&7)
		if num == 0 || num >= uint64(len(known)) || known[num].typ != typ {
			return false
		}
		f := known[num]
		switch typ {
		case wVarint:
			_, k := binary.Uvarint(b[i:])
			if k <= 0 {
				return k == 0 && !complete
			}
			i += k
		case wI64:
			if i += 8; i > len(b) {
				return !complete
			}
		case wI32:
			if i += 4; i > len(b) {
				return !complete
			}
		case wLen:
			l, k := binary.Uvarint(b[i:])
			if k <= 0 {
				return k == 0 && !complete
			}
			i += k
			if l > uint64(len(b)-i) {
				return !complete && (f.msg == mNone || validProto(b[i:], false, f.msg))
			}
			if f.msg != mNone && !validProto(b[i:i+int(l)], true, f.msg) {
				return false
			}
			i += int(l)
		}
	}
	return true
}
