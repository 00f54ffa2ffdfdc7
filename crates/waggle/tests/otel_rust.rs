//! End-to-end: the Rust `opentelemetry-otlp` exporter (HTTP/protobuf and gRPC with gzip)
//! sends traces and logs to a real `waggle serve` child process on port 0; every span comes
//! back through the Tempo-compatible `/api/v2/traces/{id}` with ids, timing, status,
//! events, links and attributes intact.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::trace::{
    Link, Span as _, SpanKind, Status, TraceContextExt, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_otlp::{Compression, Protocol, WithExportConfig, WithTonicConfig};
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use serde_json::Value;

mod common;

use common::{Waggle, HTTP_TIMEOUT};

fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{nanos:x}", std::process::id())
}

fn ns(t: SystemTime) -> u64 {
    u64::try_from(
        t.duration_since(UNIX_EPOCH)
            .expect("after epoch")
            .as_nanos(),
    )
    .expect("fits u64")
}

/// int64/uint64 in OTLP JSON are decimal strings; accept numbers too.
fn json_u64(v: &Value) -> u64 {
    match v {
        Value::String(s) => s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}")),
        Value::Number(n) => n.as_u64().expect("non-negative integer"),
        other => panic!("expected an integer, got {other}"),
    }
}

fn json_i64(v: &Value) -> i64 {
    match v {
        Value::String(s) => s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}")),
        Value::Number(n) => n.as_i64().expect("integer"),
        other => panic!("expected an integer, got {other}"),
    }
}

/// OTLP JSON enums are integers; Tempo's Go output uses names. Accept both.
fn json_enum(v: &Value, names: &[(&str, i64)]) -> i64 {
    match v {
        Value::Null => 0,
        Value::String(s) => names
            .iter()
            .find(|(n, _)| n == s)
            .map(|(_, i)| *i)
            .unwrap_or_else(|| s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}"))),
        other => json_i64(other),
    }
}

const KINDS: &[(&str, i64)] = &[
    ("SPAN_KIND_UNSPECIFIED", 0),
    ("SPAN_KIND_INTERNAL", 1),
    ("SPAN_KIND_SERVER", 2),
    ("SPAN_KIND_CLIENT", 3),
    ("SPAN_KIND_PRODUCER", 4),
    ("SPAN_KIND_CONSUMER", 5),
];
const STATUS: &[(&str, i64)] = &[
    ("STATUS_CODE_UNSET", 0),
    ("STATUS_CODE_OK", 1),
    ("STATUS_CODE_ERROR", 2),
];

/// The value of attribute `key` in an OTLP JSON attribute list.
fn attr<'a>(list: &'a Value, key: &str) -> Option<&'a Value> {
    list.as_array()?
        .iter()
        .find(|kv| kv["key"] == key)
        .map(|kv| &kv["value"])
}

fn assert_attr(list: &Value, key: &str, expected: &Value, what: &str) {
    let got =
        attr(list, key).unwrap_or_else(|| panic!("{what}: attribute {key} missing in {list}"));
    let ok = match (expected, got) {
        (Value::String(_), _) => got.get("stringValue") == Some(expected),
        (Value::Bool(_), _) => got.get("boolValue") == Some(expected),
        (Value::Number(n), _) if n.is_i64() => got
            .get("intValue")
            .map(|v| json_i64(v) == n.as_i64().unwrap_or_default())
            .unwrap_or(false),
        (Value::Number(n), _) => got
            .get("doubleValue")
            .and_then(Value::as_f64)
            .map(|v| Some(v) == n.as_f64())
            .unwrap_or(false),
        (Value::Array(items), _) => {
            // OTLP array, or Honeycomb's flattening: a JSON string of the array.
            let from_array = got.get("arrayValue").map(|a| {
                a["values"]
                    .as_array()
                    .map(|vs| {
                        vs.iter()
                            .map(|v| {
                                v.get("stringValue")
                                    .or_else(|| v.get("boolValue"))
                                    .or_else(|| v.get("doubleValue"))
                                    .cloned()
                                    .or_else(|| v.get("intValue").map(|i| Value::from(json_i64(i))))
                                    .unwrap_or(Value::Null)
                            })
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default()
            });
            let from_string = got
                .get("stringValue")
                .and_then(Value::as_str)
                .and_then(|s| serde_json::from_str::<Vec<Value>>(s).ok());
            from_array.or(from_string).as_ref() == Some(items)
        }
        _ => false,
    };
    assert!(
        ok,
        "{what}: attribute {key}: expected {expected}, got {got}"
    );
}

fn find_span<'a>(spans: &'a [Value], span_id: &str) -> &'a Value {
    spans
        .iter()
        .find(|s| s["spanId"].as_str().map(str::to_lowercase).as_deref() == Some(span_id))
        .unwrap_or_else(|| panic!("span {span_id} missing from {spans:?}"))
}

fn lower(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_lowercase()
}

/// What one exported trace should look like when read back.
struct Sent {
    trace_id: String,
    linked_trace_id: String,
    root: (String, u64, u64),
    child: (String, u64, u64),
    event_time: u64,
    linked_span_id: String,
}

/// Emits a root SERVER span (explicit odd-nanosecond times, attributes of every type, an
/// event, status ERROR) with a CLIENT child (status OK, a link to another trace, an
/// exception event), plus the linked-to span.
fn emit(provider: &SdkTracerProvider) -> Sent {
    let scope = InstrumentationScope::builder("e2e.rust")
        .with_version("9.8.7")
        .build();
    let tracer = provider.tracer_with_scope(scope);

    let mut other = tracer
        .span_builder("linked-job")
        .with_kind(SpanKind::Consumer)
        .start(&tracer);
    let other_cx = other.span_context().clone();
    other.end();

    let t0 = SystemTime::now() - Duration::from_secs(3) + Duration::from_nanos(123_457);
    let root = tracer
        .span_builder("GET /api/activities/home")
        .with_kind(SpanKind::Server)
        .with_start_time(t0)
        .with_attributes(vec![
            KeyValue::new("app.str", "hello wörld ✓"),
            KeyValue::new("app.int", 42_i64),
            KeyValue::new("app.big_int", (1_i64 << 62) + 1),
            KeyValue::new("app.float", 3.25_f64),
            KeyValue::new("app.bool", true),
            KeyValue::new(
                "app.str_list",
                opentelemetry::Value::Array(opentelemetry::Array::String(vec![
                    "a".into(),
                    "b".into(),
                ])),
            ),
            KeyValue::new(
                "app.int_list",
                opentelemetry::Value::Array(opentelemetry::Array::I64(vec![1, 2, 3])),
            ),
        ])
        .start(&tracer);
    let root_cx = Context::current_with_span(root);
    let root_span = root_cx.span();
    let event_time = t0 + Duration::from_nanos(1_001);
    root_span.add_event_with_timestamp(
        "request.received",
        event_time,
        vec![KeyValue::new("bytes", 123_i64), KeyValue::new("ok", true)],
    );

    let c0 = t0 + Duration::from_nanos(10_000_003);
    let mut child = tracer
        .span_builder("db.query")
        .with_kind(SpanKind::Client)
        .with_start_time(c0)
        .with_links(vec![Link::new(
            other_cx.clone(),
            vec![KeyValue::new("link.reason", "retry-of")],
            0,
        )])
        .start_with_context(&tracer, &root_cx);
    child.record_error(&std::io::Error::other("connection refused"));
    child.set_status(Status::Ok);
    let c1 = c0 + Duration::from_nanos(55_555_555);
    child.end_with_timestamp(c1);
    let child_ids = (child.span_context().span_id().to_string(), ns(c0), ns(c1));

    root_span.set_status(Status::error("boom"));
    let t1 = t0 + Duration::from_nanos(250_000_001);
    root_span.end_with_timestamp(t1);
    let sc = root_span.span_context().clone();
    Sent {
        trace_id: sc.trace_id().to_string(),
        linked_trace_id: other_cx.trace_id().to_string(),
        root: (sc.span_id().to_string(), ns(t0), ns(t1)),
        child: child_ids,
        event_time: ns(event_time),
        linked_span_id: other_cx.span_id().to_string(),
    }
}

fn check(server: &Waggle, sent: &Sent, service: &str) {
    let spans = server.trace_spans(&sent.trace_id, 2);
    assert_eq!(spans.len(), 2, "spans: {spans:?}");
    for s in &spans {
        assert_eq!(lower(&s["traceId"]), sent.trace_id, "{s}");
        let svc = attr(&s["__resource"]["attributes"], "service.name");
        assert_eq!(
            svc.and_then(|v| v.get("stringValue")),
            Some(&Value::from(service)),
            "resource of {s}"
        );
        assert_eq!(s["__scope"]["name"], "e2e.rust", "scope of {s}");
    }

    let root = find_span(&spans, &sent.root.0);
    let what = "root span";
    assert_eq!(root["name"], "GET /api/activities/home", "{what}");
    assert!(
        lower(&root["parentSpanId"]).is_empty(),
        "{what}: parent {}",
        root["parentSpanId"]
    );
    assert_eq!(json_enum(&root["kind"], KINDS), 2, "{what}: kind");
    assert_eq!(
        json_u64(&root["startTimeUnixNano"]),
        sent.root.1,
        "{what}: start ns"
    );
    assert_eq!(
        json_u64(&root["endTimeUnixNano"]),
        sent.root.2,
        "{what}: end ns"
    );
    assert_eq!(
        json_enum(&root["status"]["code"], STATUS),
        2,
        "{what}: {}",
        root["status"]
    );
    assert_eq!(
        root["status"]["message"], "boom",
        "{what}: {}",
        root["status"]
    );
    let a = &root["attributes"];
    assert_attr(a, "app.str", &Value::from("hello wörld ✓"), what);
    assert_attr(a, "app.int", &Value::from(42), what);
    assert_attr(a, "app.big_int", &Value::from((1_i64 << 62) + 1), what);
    assert_attr(a, "app.float", &Value::from(3.25), what);
    assert_attr(a, "app.bool", &Value::from(true), what);
    assert_attr(a, "app.str_list", &serde_json::json!(["a", "b"]), what);
    assert_attr(a, "app.int_list", &serde_json::json!([1, 2, 3]), what);
    let events = root["events"].as_array().cloned().unwrap_or_default();
    assert_eq!(events.len(), 1, "{what}: events {events:?}");
    assert_eq!(events[0]["name"], "request.received");
    assert_eq!(
        json_u64(&events[0]["timeUnixNano"]),
        sent.event_time,
        "event time ns"
    );
    assert_attr(
        &events[0]["attributes"],
        "bytes",
        &Value::from(123),
        "event",
    );
    assert_attr(&events[0]["attributes"], "ok", &Value::from(true), "event");

    let child = find_span(&spans, &sent.child.0);
    let what = "child span";
    assert_eq!(child["name"], "db.query", "{what}");
    assert_eq!(lower(&child["parentSpanId"]), sent.root.0, "{what}: parent");
    assert_eq!(json_enum(&child["kind"], KINDS), 3, "{what}: kind");
    assert_eq!(
        json_u64(&child["startTimeUnixNano"]),
        sent.child.1,
        "{what}: start ns"
    );
    assert_eq!(
        json_u64(&child["endTimeUnixNano"]),
        sent.child.2,
        "{what}: end ns"
    );
    assert_eq!(
        json_enum(&child["status"]["code"], STATUS),
        1,
        "{what}: {}",
        child["status"]
    );
    let events = child["events"].as_array().cloned().unwrap_or_default();
    assert_eq!(events.len(), 1, "{what}: events {events:?}");
    assert_eq!(events[0]["name"], "exception", "{what}: {events:?}");
    assert_attr(
        &events[0]["attributes"],
        "exception.message",
        &Value::from("connection refused"),
        "exception event",
    );
    let links = child["links"].as_array().cloned().unwrap_or_default();
    assert_eq!(links.len(), 1, "{what}: links {links:?}");
    assert_eq!(
        lower(&links[0]["traceId"]),
        sent.linked_trace_id,
        "link trace id"
    );
    assert_eq!(
        lower(&links[0]["spanId"]),
        sent.linked_span_id,
        "link span id"
    );
    assert_attr(
        &links[0]["attributes"],
        "link.reason",
        &Value::from("retry-of"),
        "link",
    );

    let linked = server.trace_spans(&sent.linked_trace_id, 1);
    assert_eq!(linked.len(), 1, "{linked:?}");
    assert_eq!(linked[0]["name"], "linked-job");
    assert_eq!(json_enum(&linked[0]["kind"], KINDS), 5);

    // The X-Ray form of the same id returns the same spans.
    let xray = format!("1-{}-{}", &sent.trace_id[..8], &sent.trace_id[8..]);
    let again = server.trace_spans(&xray, 2);
    assert_eq!(again.len(), 2, "X-Ray id lookup: {again:?}");
}

fn resource(service: &str) -> Resource {
    Resource::builder()
        .with_service_name(service.to_string())
        .with_attribute(KeyValue::new("deployment.environment", "e2e"))
        .build()
}

#[test]
fn rust_exporter_http_protobuf_traces_round_trip() {
    let server = Waggle::start();
    let service = unique("e2e-rust-http");
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(format!("http://{}/v1/traces", server.otlp_http))
        .with_timeout(HTTP_TIMEOUT)
        .build()
        .expect("build HTTP span exporter");
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource(&service))
        .build();
    let sent = emit(&provider);
    provider.force_flush().expect("force_flush (HTTP export)");
    check(&server, &sent, &service);
    provider.shutdown().expect("shutdown");
}

#[test]
fn rust_exporter_grpc_gzip_traces_round_trip() {
    let server = Waggle::start();
    let service = unique("e2e-rust-grpc");
    // The tonic client needs a Tokio runtime; the batch processor exports from its own
    // thread, so build inside the runtime and keep the runtime alive while exporting.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let endpoint = format!("http://{}", server.otlp_grpc);
    let provider = rt.block_on(async {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .with_compression(Compression::Gzip)
            .with_timeout(HTTP_TIMEOUT)
            .build()
            .expect("build gRPC span exporter");
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource(&service))
            .build()
    });
    let sent = emit(&provider);
    provider.force_flush().expect("force_flush (gRPC export)");
    check(&server, &sent, &service);
    provider.shutdown().expect("shutdown");
    drop(rt);
}

/// Emits `n` log records, the last inside a span; returns that span's trace id.
fn emit_logs(logs: &SdkLoggerProvider, tracer_provider: &SdkTracerProvider, n: usize) -> String {
    let logger = logs.logger("e2e.rust.logs");
    for i in 0..n.saturating_sub(1) {
        let mut rec = logger.create_log_record();
        rec.set_severity_number(Severity::Info);
        rec.set_severity_text("INFO");
        rec.set_body(AnyValue::from(format!("plain log line {i}")));
        rec.add_attribute("app.line", i as i64);
        logger.emit(rec);
    }
    let tracer = tracer_provider.tracer("e2e.rust.logs");
    let span = tracer.start("handler-with-log");
    let cx = Context::current_with_span(span);
    let sc = cx.span().span_context().clone();
    let mut rec = logger.create_log_record();
    rec.set_severity_number(Severity::Warn);
    rec.set_body(AnyValue::from("inside a span".to_string()));
    rec.set_trace_context(sc.trace_id(), sc.span_id(), Some(sc.trace_flags()));
    logger.emit(rec);
    cx.span().end();
    sc.trace_id().to_string()
}

#[test]
fn rust_exporter_logs_over_http_and_grpc_land() {
    const LOGS: usize = 4;
    let server = Waggle::start();

    // HTTP/protobuf.
    let http_service = unique("e2e-rust-logs-http");
    let exporter = opentelemetry_otlp::LogExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(format!("http://{}/v1/logs", server.otlp_http))
        .with_timeout(HTTP_TIMEOUT)
        .build()
        .expect("build HTTP log exporter");
    let logs = SdkLoggerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource(&http_service))
        .build();
    let tracer_provider = SdkTracerProvider::builder()
        .with_resource(resource(&http_service))
        .build();
    emit_logs(&logs, &tracer_provider, LOGS);
    logs.force_flush().expect("force_flush (HTTP logs)");
    logs.shutdown().expect("shutdown");
    let n = server.dataset_count(&http_service, LOGS as u64);
    assert_eq!(n, LOGS as u64, "dataset {http_service}");

    // gRPC with gzip.
    let grpc_service = unique("e2e-rust-logs-grpc");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let endpoint = format!("http://{}", server.otlp_grpc);
    let logs = rt.block_on(async {
        let exporter = opentelemetry_otlp::LogExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .with_compression(Compression::Gzip)
            .with_timeout(HTTP_TIMEOUT)
            .build()
            .expect("build gRPC log exporter");
        SdkLoggerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource(&grpc_service))
            .build()
    });
    emit_logs(&logs, &tracer_provider, LOGS);
    logs.force_flush().expect("force_flush (gRPC logs)");
    logs.shutdown().expect("shutdown");
    let n = server.dataset_count(&grpc_service, LOGS as u64);
    assert_eq!(n, LOGS as u64, "dataset {grpc_service}");
    drop(rt);
}
