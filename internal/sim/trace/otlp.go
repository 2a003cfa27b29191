package trace

import (
	"bytes"
	"encoding/json"
)

// TracesData is OTLP's TracesData in the OTLP JSON encoding: camelCase
// field names, trace and span ids in hex, 64-bit integers as decimal
// strings, enums as integers, empty fields left out. JSON writes it byte
// for byte as the collector's pdata (ptrace.JSONMarshaler) does, so either
// reads it back unchanged.
type TracesData struct {
	ResourceSpans []ResourceSpans `json:"resourceSpans,omitempty"`
}

// ResourceSpans are the spans of one resource (a service instance).
type ResourceSpans struct {
	Resource   Resource     `json:"resource"`
	ScopeSpans []ScopeSpans `json:"scopeSpans,omitempty"`
}

// Resource describes the entity producing spans.
type Resource struct {
	Attributes []KeyValue `json:"attributes,omitempty"`
}

// ScopeSpans are the spans one instrumentation scope produced.
type ScopeSpans struct {
	Scope Scope  `json:"scope"`
	Spans []Span `json:"spans,omitempty"`
}

// Scope is an instrumentation scope.
type Scope struct {
	Name    string `json:"name,omitempty"`
	Version string `json:"version,omitempty"`
}

// Span is one span. Times are nanoseconds since the Unix epoch.
type Span struct {
	TraceID           string     `json:"traceId,omitempty"`
	SpanID            string     `json:"spanId,omitempty"`
	ParentSpanID      string     `json:"parentSpanId,omitempty"`
	Name              string     `json:"name,omitempty"`
	Kind              SpanKind   `json:"kind,omitempty"`
	StartTimeUnixNano uint64     `json:"startTimeUnixNano,omitempty,string"`
	EndTimeUnixNano   uint64     `json:"endTimeUnixNano,omitempty,string"`
	Attributes        []KeyValue `json:"attributes,omitempty"`
	Links             []Link     `json:"links,omitempty"`
	Status            Status     `json:"status"`
}

// Attr returns the value of the span's attribute key, and whether it has
// one.
func (s *Span) Attr(key string) (AnyValue, bool) { return lookup(s.Attributes, key) }

// Attr returns the value of the resource's attribute key, and whether it
// has one.
func (r *Resource) Attr(key string) (AnyValue, bool) { return lookup(r.Attributes, key) }

func lookup(kvs []KeyValue, key string) (AnyValue, bool) {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return AnyValue{}, false
}

// SpanKind is OTLP's span kind.
type SpanKind int32

// The span kinds emitted.
const (
	KindServer   SpanKind = 2
	KindClient   SpanKind = 3
	KindProducer SpanKind = 4
	KindConsumer SpanKind = 5
)

// Link points from a span to a span of another trace (a consumer to its
// producer).
type Link struct {
	TraceID string `json:"traceId,omitempty"`
	SpanID  string `json:"spanId,omitempty"`
}

// Status is a span's status; the zero value is Unset.
type Status struct {
	Message string     `json:"message,omitempty"`
	Code    StatusCode `json:"code,omitempty"`
}

// StatusCode is OTLP's status code.
type StatusCode int32

// The status codes: instrumentations leave successful spans Unset.
const (
	StatusUnset StatusCode = 0
	StatusError StatusCode = 2
)

// KeyValue is one attribute.
type KeyValue struct {
	Key   string   `json:"key,omitempty"`
	Value AnyValue `json:"value"`
}

// AnyValue is an attribute's value: exactly one field is set.
type AnyValue struct {
	StringValue *string `json:"stringValue,omitempty"`
	BoolValue   *bool   `json:"boolValue,omitempty"`
	IntValue    *int64  `json:"intValue,omitempty,string"`
}

func str(k, v string) KeyValue { return KeyValue{Key: k, Value: AnyValue{StringValue: &v}} }
func num(k string, v int64) KeyValue {
	return KeyValue{Key: k, Value: AnyValue{IntValue: &v}}
}

// JSON returns the traces in OTLP JSON, without a final newline, as
// pdata's ptrace.JSONMarshaler writes them.
func (t *TracesData) JSON() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // as pdata: "<" in an operation stays "<"
	if err := enc.Encode(t); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// SpanCount is the number of spans.
func (t *TracesData) SpanCount() int {
	n := 0
	for _, rs := range t.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			n += len(ss.Spans)
		}
	}
	return n
}
