// Package otlp reads OpenTelemetry traces in OTLP — JSON and protobuf,
// as SDK exporters, the OpenTelemetry Collector's file exporter and
// internal/sim/trace write them — and streams their spans into a
// discovery.Sink, one at a time: memory holds one span and the current
// resource, never a file's worth.
//
// # Formats
//
// ReadJSON reads the OTLP JSON encoding: one TracesData or
// ExportTraceServiceRequest object, {"resourceSpans":[...]}, or any
// number of them one after another (the file exporter writes one a
// line). As OTLP specifies, and unlike protobuf's JSON mapping, ids are
// hex (32 digits for a trace, 16 for a span; an empty or all-zero parent
// is a root); enums are integers, their names accepted too
// ("SPAN_KIND_SERVER", "STATUS_CODE_ERROR"); 64-bit integers are decimal
// strings, numbers accepted too. Unknown fields are skipped, as are the
// old names instrumentationLibrarySpans and instrumentationLibrary read as
// scopeSpans and scope. Resource logs and metrics are reported
// Unsupported.
//
// ReadProto reads one serialized TracesData (or ExportTraceServiceRequest,
// the same on the wire), or the file exporter's proto format: each
// message preceded by its length, 4 bytes big-endian
// (opentelemetry-collector-contrib exporter/fileexporter, whose JSON
// format is the one a line). Each resourceSpans is decoded on its own by
// pdata's ptrace.ProtoUnmarshaler. Compressed input (gzip, zstd: the
// exporter's compression option) is reported Unsupported: decompress it
// first.
//
// SniffJSON and SniffProto tell, from an input's first bytes, whether it
// looks like either, to pick a reader for a file whose name says nothing.
//
// # Mapping
//
// A discovery.Span takes from its span: the ids (hex, lower case), the
// name as Operation, the kind, the start and end times, the links; from
// its resource: Service (service.name) and Placement (k8s.pod.name,
// k8s.node.name, host.name, cloud.availability_zone, cloud.region,
// k8s.cluster.name, emac.failure_domain), the span's own attributes of
// those names taking precedence.
//
// Outcome: a status code ERROR is an error; with an unset status, a
// SERVER span with http.response.status_code (or the old
// http.status_code) ≥ 500 or an rpc.grpc.status_code other than OK is an
// error too, as instrumentations may leave the status unset. An error is
// a timeout when error.type is "timeout", the status message says
// "deadline exceeded" or the gRPC code is DEADLINE_EXCEEDED, and a
// cancellation when error.type is "cancelled" (or "canceled"), the
// message says so or the gRPC code is CANCELLED. Messages and types are
// compared in any case.
//
// Peer, for spans other than SERVER and CONSUMER (whose server.address
// or destination is their own), is the first present of
// service.peer.name, peer.service, server.address, net.peer.name,
// db.system.name, db.system and messaging.destination.name. Resend is
// http.request.resend_count (or the old http.resend_count).
//
// # Problems
//
// Bad input never stops a reader with an error: it is reported to the
// sink as a discovery.Problem at a discovery.Pos — for JSON the line and
// byte column and the offset, for protobuf the offset — and a Record
// naming the span ("resourceSpans[0].scopeSpans[1].spans[7]", prefixed
// with "message[3]." in the file exporter's framing).
//
// A span without a trace id, span id, or service is MissingField, one
// whose ids, kind, times or status do not decode is Corrupt; either is
// dropped. An attribute the mapping reads with a value of the wrong type
// (a string resend count that is no number), or a link without valid
// ids, is reported Corrupt and left out, the span kept. A JSON syntax
// error leaves the rest of the document unreadable: it is reported and
// ends the input, the spans before it given already. A value that does
// not fit 64 MiB (a span, a resource) does the same.
//
// The readers return an error only when reading the input fails, the
// context is done, or the sink's Span returns one.
//
// # Memory and speed
//
// The JSON reader parses spans with github.com/go-faster/jx from a
// window over the input that holds one span (64 KiB to start with,
// grown for a larger span), and gives each span to the sink as soon as
// it is read; the one exception is a resourceSpans whose resource comes
// after its spans, unlike every OTLP writer's, whose spans are held in
// the window until the resource is read. The protobuf reader holds one
// resourceSpans. Each span costs one allocation: its strings, cut from
// one; the Span and its Links are reused, so a sink copies what it keeps.
// On 22 MB of generated traces the JSON reader, spans and all, ran at
// about 270 MB/s where pdata's unmarshaler alone, building its tree, ran
// at 215 MB/s, with one allocation a span to pdata's 34 (see the
// benchmarks).
package otlp
