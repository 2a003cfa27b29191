package otlp

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/emac-dev/emac/internal/discovery"
)

// ReadProto reads OTLP protobuf traces from r and gives each span to
// sink, in the order of the input. r holds either one serialized
// TracesData or ExportTraceServiceRequest (the two are the same on the
// wire), or the collector file exporter's proto format: messages one
// after another, each preceded by its length in 4 bytes, big-endian.
// name is the input's name in positions.
//
// Each resourceSpans is decoded by pdata on its own, so memory holds one
// at a time, however large the message. A resourceSpans that does not
// decode is taken apart to report the spans that do not and keep those
// that do; a message whose structure is broken is reported and ends the
// input (in the file exporter's format, ends the message: the lengths
// still say where the next one starts). ReadProto returns an error only
// when reading r fails, ctx is done, or sink.Span returns one.
func ReadProto(ctx context.Context, name string, r io.Reader, sink discovery.Sink) error {
	p := &protoReader{ctx: ctx, e: emitter{name: name, sink: sink}, br: bufio.NewReaderSize(r, windowSize)}
	err := p.run()
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

// protoReader reads one input.
type protoReader struct {
	ctx  context.Context
	e    emitter
	br   *bufio.Reader
	off  int64 // the input offset of br's next byte
	buf  []byte
	un   ptrace.ProtoUnmarshaler
	s    spanState
	ra   attrs
	res  resource
	rec  record
	offs []int64 // the offsets of the current resourceSpans' spans
	// spans counts the spans read, to look at the context now and then.
	spans int
}

func (p *protoReader) run() error {
	head, err := p.br.Peek(5)
	if err != nil && err != io.EOF {
		return p.ioErr(err)
	}
	if len(head) == 0 {
		return nil
	}
	if kind := compressed(head); kind != "" {
		p.e.problem(discovery.Unsupported, discovery.Pos{}, "%s-compressed input: decompress it first", kind)
		return nil
	}
	if !framed(head) {
		return p.message(-1, "")
	}
	for m := 0; ; m++ {
		at := p.off
		var n [4]byte
		k, err := io.ReadFull(p.br, n[:])
		p.off += int64(k)
		switch {
		case err == io.EOF:
			return nil
		case err == io.ErrUnexpectedEOF:
			return p.stop(at, record{depth: -1, container: "message[" + strconv.Itoa(m) + "]"},
				"truncated length prefix: %d of 4 bytes", k)
		case err != nil:
			return p.ioErr(err)
		}
		if err := p.frame(m, int64(binary.BigEndian.Uint32(n[:]))); err != nil {
			return err
		}
	}
}

// framed says whether an input that starts with head is in the file
// exporter's format. A TracesData starts with a field's tag, nearly
// always its first resourceSpans' (0x0a); a framed message with its
// length, whose first byte is 0 unless the message is over 16 MiB, and
// 0x0a only over 160 MiB (the exporter rotates its files at 100 MiB by
// default), followed by the message's first tag: 0x0a, unless the
// message is empty.
func framed(head []byte) bool {
	if head[0] == 0x0a || len(head) < 4 {
		return false
	}
	if binary.BigEndian.Uint32(head) == 0 {
		return true
	}
	return len(head) > 4 && head[4] == 0x0a
}

// frame reads message m of the file exporter's format, of n bytes.
func (p *protoReader) frame(m int, n int64) error {
	end := p.off + n
	prefix := "message[" + strconv.Itoa(m) + "]"
	head, err := p.br.Peek(int(min(n, 4)))
	if err != nil && err != io.EOF {
		return p.ioErr(err)
	}
	if kind := compressed(head); kind != "" {
		p.e.problem(discovery.Unsupported, discovery.Pos{Offset: p.off, Record: prefix},
			"%s-compressed message: decompress it first", kind)
		return p.discard(n)
	}
	err = p.message(n, prefix+".")
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errTruncated):
		return errStop
	case errors.Is(err, errStop) && p.off <= end:
		// The message is broken, but the next one starts at end.
		if err := p.discard(end - p.off); err != nil {
			return p.wireErr(p.off, err)
		}
		return nil
	}
	return err
}

// errTruncated: the input ended within a message (reported).
var errTruncated = fmt.Errorf("%w: truncated", errStop)

// message reads a TracesData of n bytes (n < 0: up to the end of the
// input), one resourceSpans at a time.
func (p *protoReader) message(n int64, prefix string) error {
	end := p.off + n
	for i := 0; n < 0 || p.off < end; {
		at := p.off
		p.rec = record{prefix: prefix, rs: i}
		tag, err := p.uvarint()
		if err == io.EOF && n < 0 {
			return nil
		}
		if err != nil {
			return p.wireErr(at, err)
		}
		num, typ := tag>>3, tag&7
		if num == 0 {
			return p.stop(at, p.rec, "invalid field number 0")
		}
		switch typ {
		case 0:
			_, err = p.uvarint()
		case 1:
			err = p.discard(8)
		case 5:
			err = p.discard(4)
		case 2:
			var size uint64
			if size, err = p.uvarint(); err != nil {
				break
			}
			if n >= 0 && size > uint64(end-p.off) {
				return p.stop(at, p.rec, "a field of %d bytes runs past the end of its message", size)
			}
			if num != 1 {
				err = p.discard(int64(size))
				break
			}
			err = p.resourceSpans(at, size)
			i++
		default:
			return p.stop(at, p.rec, "invalid wire type %d", typ)
		}
		if err != nil {
			return p.wireErr(at, err)
		}
		if err := p.ctx.Err(); err != nil {
			return err
		}
	}
	if p.off > end {
		return p.stop(end, record{depth: -1, container: prefix}, "a field runs past the end of its message")
	}
	return nil
}

// uvarint reads a varint.
func (p *protoReader) uvarint() (uint64, error) {
	var v uint64
	for i := 0; i < binary.MaxVarintLen64; i++ {
		c, err := p.br.ReadByte()
		if err != nil {
			if err == io.EOF && i > 0 {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		p.off++
		if i == binary.MaxVarintLen64-1 && c > 1 {
			return 0, errOverflow
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, nil
		}
	}
	return 0, errOverflow
}

var errOverflow = errors.New("varint overflows 64 bits")

func (p *protoReader) discard(n int64) error {
	for n > 0 {
		k, err := p.br.Discard(int(min(n, math.MaxInt32)))
		p.off += int64(k)
		n -= int64(k)
		if err == io.EOF {
			return io.ErrUnexpectedEOF
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// wireErr reports err, met reading the field at offset at: a truncated
// input or a broken varint ends it; a read error is returned.
func (p *protoReader) wireErr(at int64, err error) error {
	switch {
	case errors.Is(err, errStop):
		return err
	case err == io.ErrUnexpectedEOF || err == io.EOF:
		p.e.problem(discovery.Corrupt, discovery.Pos{Offset: at, Record: p.rec.String()}, "input ends within a field")
		return errTruncated
	case err == errOverflow:
		return p.stop(at, p.rec, "%v", err)
	}
	return p.ioErr(err)
}

func (p *protoReader) ioErr(err error) error { return fmt.Errorf("%s: %w", p.e.name, err) }

// stop reports a problem that ends the message.
func (p *protoReader) stop(at int64, rec record, format string, args ...any) error {
	p.e.problem(discovery.Corrupt, discovery.Pos{Offset: at, Record: rec.String()}, format, args...)
	return errStop
}

// resourceSpans reads one resourceSpans of size bytes, whose field
// starts at offset at, and gives its spans to the sink.
func (p *protoReader) resourceSpans(at int64, size uint64) error {
	if size > maxRecord {
		p.e.problem(discovery.Corrupt, discovery.Pos{Offset: at, Record: p.rec.String()},
			"a resourceSpans of %d bytes, over %d MiB: skipped", size, maxRecord>>20)
		return p.discard(int64(size))
	}
	// On its own, a resourceSpans field is a TracesData: pdata reads it
	// as one.
	b := append(p.buf[:0], 0x0a)
	b = binary.AppendUvarint(b, size)
	hdr := len(b)
	b = slices.Grow(b, int(size))[:hdr+int(size)]
	p.buf = b
	base := p.off
	k, err := io.ReadFull(p.br, b[hdr:])
	p.off += int64(k)
	if err != nil {
		return err
	}
	payload := b[hdr:]
	td, err := p.un.UnmarshalTraces(b)
	if err != nil {
		return p.salvage(payload, base, err)
	}
	p.offs = spanOffsets(p.offs[:0], payload, base)
	rss := td.ResourceSpans()
	if rss.Len() != 1 {
		return nil
	}
	rs := rss.At(0)
	p.resource(rs.Resource(), at)
	n := 0
	for j, ss := range rs.ScopeSpans().All() {
		for k, sp := range ss.Spans().All() {
			off := at
			if n < len(p.offs) {
				off = p.offs[n]
			}
			n++
			p.rec.depth, p.rec.scope, p.rec.ss, p.rec.sp = 2, "scopeSpans", j, k
			if err := p.span(sp, off); err != nil {
				return err
			}
		}
	}
	return nil
}

// spanOffsets appends the offsets of the spans in a resourceSpans
// message that starts at offset base: spans carry no position of their
// own in pdata.
func spanOffsets(offs []int64, rs []byte, base int64) []int64 {
	for f := range fields(rs) {
		if f.num != 2 || f.typ != 2 {
			continue
		}
		for g, j := range fields(f.data) {
			if g.num == 2 && g.typ == 2 {
				offs = append(offs, base+int64(f.at+j))
			}
		}
	}
	return offs
}

// resource reads a resource's service and placement.
func (p *protoReader) resource(r pcommon.Resource, at int64) {
	p.s.reset()
	p.ra.reset()
	for k, v := range r.Attributes().All() {
		p.attr(&p.ra, k, v, at)
	}
	p.res.set(&p.ra)
	for _, pr := range p.s.problems {
		rec := p.rec
		rec.depth, rec.container = 0, "resource"
		p.e.problem(pr.kind, discovery.Pos{Offset: pr.off, Record: rec.String()}, "%s", pr.detail)
	}
}

// attr reads one attribute into a.
func (p *protoReader) attr(a *attrs, key string, v pcommon.Value, at int64) {
	id := attrID(key)
	if id == aNone {
		return
	}
	switch t := v.Type(); {
	case t == pcommon.ValueTypeEmpty:
	case wantsInt(id) && t == pcommon.ValueTypeInt:
		if why := a.setInt(id, v.Int()); why != "" {
			p.s.warn(at, "attribute %s %s", keyName(id), why)
		}
	case wantsInt(id) && t == pcommon.ValueTypeStr:
		if n, ok, _ := decimal(v.Str()); !ok {
			p.s.warn(at, "attribute %s is not an integer", keyName(id))
		} else if why := a.setInt(id, n); why != "" {
			p.s.warn(at, "attribute %s %s", keyName(id), why)
		}
	case wantsInt(id):
		p.s.warn(at, "attribute %s is not an integer", keyName(id))
	case t == pcommon.ValueTypeStr:
		a.setString(id, text{s: v.Str()})
	default:
		p.s.warn(at, "attribute %s is not a string", keyName(id))
	}
}

// span reads one span, at offset at, and gives it to the sink.
func (p *protoReader) span(sp ptrace.Span, at int64) error {
	s := &p.s
	s.reset()
	if id := sp.TraceID(); !id.IsEmpty() {
		hexBytes(s.tid[:], id[:])
		s.hasTID = true
	}
	if id := sp.SpanID(); !id.IsEmpty() {
		hexBytes(s.sid[:], id[:])
		s.hasSID = true
	}
	if id := sp.ParentSpanID(); !id.IsEmpty() {
		hexBytes(s.pid[:], id[:])
		s.hasPID = true
	}
	s.name = text{s: sp.Name()}
	if k := sp.Kind(); k < 0 || int(k) >= len(kindNames) {
		s.fail(discovery.Corrupt, at, "kind %d is not one of OTLP's", k)
	} else {
		s.kind = int64(k)
	}
	for _, t := range [...]struct {
		ts   pcommon.Timestamp
		dst  *int64
		what string
	}{{sp.StartTimestamp(), &s.start, "startTimeUnixNano"}, {sp.EndTimestamp(), &s.end, "endTimeUnixNano"}} {
		if t.ts > math.MaxInt64 {
			s.fail(discovery.Corrupt, at, "%s %d is out of range", t.what, uint64(t.ts))
		} else {
			*t.dst = int64(t.ts)
		}
	}
	st := sp.Status()
	if c := st.Code(); c < 0 || int(c) >= len(statusNames) {
		s.fail(discovery.Corrupt, at, "status code %d is not one of OTLP's", c)
	} else {
		s.code = int64(c)
	}
	s.message = text{s: st.Message()}
	for k, v := range sp.Attributes().All() {
		p.attr(&s.attrs, k, v, at)
	}
	for i, l := range sp.Links().All() {
		tid, sid := l.TraceID(), l.SpanID()
		if tid.IsEmpty() || sid.IsEmpty() {
			s.warn(at, "links[%d] has no valid trace and span id: left out", i)
			continue
		}
		var ln link
		hexBytes(ln.trace[:], tid[:])
		hexBytes(ln.span[:], sid[:])
		s.links = append(s.links, ln)
	}
	p.e.check(s, &p.res, at)
	for _, pr := range s.problems {
		p.e.problem(pr.kind, discovery.Pos{Offset: pr.off, Record: p.rec.String()}, "%s", pr.detail)
	}
	if err := p.e.emit(s, &p.res, discovery.Pos{Offset: at}, &p.rec); err != nil {
		return err
	}
	if p.spans++; p.spans%checkEvery == 0 {
		return p.ctx.Err()
	}
	return nil
}

// salvage reads a resourceSpans pdata could not decode (err) piece by
// piece: the resource, then each span on its own, so that one corrupt
// span costs itself and not its resource's. The resourceSpans' bytes rs
// start at offset base.
func (p *protoReader) salvage(rs []byte, base int64, err error) error {
	rec := p.rec
	// The resource: its fields, as they are, make a resourceSpans.
	var res []byte
	for f := range fields(rs) {
		if f.num == 1 {
			res = append(res, f.raw...)
		}
	}
	td, rerr := p.un.UnmarshalTraces(wrap(0x0a, res))
	switch {
	case rerr != nil:
		rec.depth, rec.container = 0, "resource"
		p.e.problem(discovery.Corrupt, discovery.Pos{Offset: base, Record: rec.String()}, "resource does not decode: %v", rerr)
		p.res = resource{}
	case td.ResourceSpans().Len() == 1:
		p.resource(td.ResourceSpans().At(0).Resource(), base)
	default:
		p.res = resource{}
	}
	j := 0
	for f, i := range fields(rs) {
		if f.typ == badField {
			p.e.problem(discovery.Corrupt, discovery.Pos{Offset: base + int64(i), Record: p.rec.String()},
				"resourceSpans does not decode: %v", err)
			return nil
		}
		if f.num != 2 || f.typ != 2 {
			continue
		}
		k := 0
		for g, gi := range fields(f.data) {
			at := base + int64(f.at+gi)
			p.rec.depth, p.rec.scope, p.rec.ss, p.rec.sp = 2, "scopeSpans", j, k
			if g.typ == badField {
				p.rec.depth = 1
				p.e.problem(discovery.Corrupt, discovery.Pos{Offset: at, Record: p.rec.String()},
					"scopeSpans does not decode: %v", err)
				break
			}
			if g.num != 2 || g.typ != 2 {
				continue
			}
			k++
			td, serr := p.un.UnmarshalTraces(wrap(0x0a, wrap(0x12, wrap(0x12, g.data))))
			if serr != nil {
				p.e.problem(discovery.Corrupt, discovery.Pos{Offset: at, Record: p.rec.String()}, "span does not decode: %v", serr)
				continue
			}
			sp := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
			if err := p.span(sp, at); err != nil {
				return err
			}
		}
		j++
	}
	return nil
}

// wrap makes b the value of a length-delimited field with tag.
func wrap(tag byte, b []byte) []byte {
	w := binary.AppendUvarint([]byte{tag}, uint64(len(b)))
	return append(w, b...)
}

// field is one protobuf field as it is on the wire.
type field struct {
	num, typ int
	// at is the offset of the value within the field; raw is the whole
	// field, data a length-delimited field's value.
	at   int
	raw  []byte
	data []byte
}

// badField is the type of the field fields yields where the bytes are
// not a field, and stops.
const badField = -1

// fields yields the fields of a protobuf message and their offsets in b.
func fields(b []byte) func(yield func(field, int) bool) {
	return func(yield func(field, int) bool) {
		for i := 0; i < len(b); {
			f, n := parseField(b[i:])
			if n <= 0 {
				yield(field{typ: badField}, i)
				return
			}
			f.at += i
			if !yield(f, i) {
				return
			}
			i += n
		}
	}
}

// parseField reads the field at the start of b and its length, or 0.
func parseField(b []byte) (field, int) {
	tag, n := binary.Uvarint(b)
	if n <= 0 || tag>>3 == 0 || tag>>3 > math.MaxInt32 {
		return field{}, 0
	}
	f := field{num: int(tag >> 3), typ: int(tag & 7)}
	var size int
	switch f.typ {
	case 0:
		_, k := binary.Uvarint(b[n:])
		if k <= 0 {
			return field{}, 0
		}
		size = k
	case 1:
		size = 8
	case 5:
		size = 4
	case 2:
		l, k := binary.Uvarint(b[n:])
		if k <= 0 || l > uint64(len(b)-n-k) {
			return field{}, 0
		}
		f.at = n + k
		f.data = b[n+k : n+k+int(l)]
		size = k + int(l)
	default:
		return field{}, 0
	}
	if size > len(b)-n {
		return field{}, 0
	}
	f.raw = b[:n+size]
	return f, n + size
}
