//! OTLP → events (the OTLP translator) → OTLP (`tempo::rebuild_otlp`) gives back what the
//! client sent, for the span shapes the Cruddur Flask app emits (see
//! `shared/protocols/captures/README.md` §1).
#![allow(clippy::unwrap_used)]

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
use waggle_protocols::otlp::{translate_traces, Hints};
use waggle_protocols::tempo::rebuild_otlp;

const T0: u64 = 1_764_113_315_123_456_789;

fn kv(key: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn st(v: &str) -> any_value::Value {
    any_value::Value::StringValue(v.into())
}

fn int(v: i64) -> any_value::Value {
    any_value::Value::IntValue(v)
}

fn id(hex: &str) -> Vec<u8> {
    hex::decode(hex).unwrap()
}

fn flask_request() -> ExportTraceServiceRequest {
    let trace = "5b8efff798038103d269b633813fc60c";
    let server = Span {
        trace_id: id(trace),
        span_id: id("eee19b7ec3c1b173"),
        name: "GET /api/activities/home".into(),
        kind: span::SpanKind::Server as i32,
        start_time_unix_nano: T0,
        end_time_unix_nano: T0 + 7_654_321,
        trace_state: "vendor=1".into(),
        attributes: vec![
            kv("http.method", st("GET")),
            kv("http.target", st("/api/activities/home")),
            kv("http.status_code", int(500)),
            kv("net.host.port", int(4567)),
            kv("http.route", st("/api/activities/home")),
            kv("ratio", any_value::Value::DoubleValue(0.5)),
            kv("cached", any_value::Value::BoolValue(false)),
            kv("timestamp", st("user key that collides")),
        ],
        events: vec![span::Event {
            time_unix_nano: T0 + 1_000,
            name: "exception".into(),
            attributes: vec![
                kv("exception.type", st("KeyError")),
                kv("exception.message", st("'message'")),
                kv("exception.stacktrace", st("Traceback ...")),
                kv("exception.escaped", st("False")),
            ],
            dropped_attributes_count: 0,
        }],
        links: vec![span::Link {
            trace_id: id("0af7651916cd43dd8448eb211c80319c"),
            span_id: id("b7ad6b7169203331"),
            trace_state: "k=v".into(),
            attributes: vec![kv("link.reason", st("retry"))],
            ..Default::default()
        }],
        status: Some(Status {
            message: "KeyError: 'message'".into(),
            code: 2,
        }),
        ..Default::default()
    };
    let custom = Span {
        trace_id: id(trace),
        span_id: id("eee19b7ec3c1b174"),
        parent_span_id: id("eee19b7ec3c1b173"),
        name: "home-activities-mock-data".into(),
        kind: span::SpanKind::Internal as i32,
        start_time_unix_nano: T0 + 100,
        end_time_unix_nano: T0 + 200,
        attributes: vec![
            kv("app.now", st("2026-11-25T23:48:35")),
            kv("app.result_length", int(3)),
        ],
        ..Default::default()
    };
    let client = Span {
        trace_id: id(trace),
        span_id: id("eee19b7ec3c1b175"),
        name: "POST".into(),
        kind: span::SpanKind::Client as i32,
        start_time_unix_nano: T0 + 300,
        end_time_unix_nano: T0 + 5_300,
        attributes: vec![kv("http.url", st("http://127.0.0.1/api/1/item/"))],
        status: Some(Status {
            message: String::new(),
            code: 1,
        }),
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", st("backend-flask")),
                    kv("telemetry.sdk.language", st("python")),
                    kv("telemetry.sdk.name", st("opentelemetry")),
                    kv("telemetry.sdk.version", st("1.45.1")),
                    kv(
                        "service.instance.id",
                        st("7f0c6c1e-0000-4000-8000-000000000001"),
                    ),
                ],
                ..Default::default()
            }),
            scope_spans: vec![
                ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "opentelemetry.instrumentation.flask".into(),
                        version: "0.66b1".into(),
                        ..Default::default()
                    }),
                    spans: vec![server],
                    schema_url: "https://opentelemetry.io/schemas/1.11.0".into(),
                },
                ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "cruddur.backend".into(),
                        ..Default::default()
                    }),
                    spans: vec![custom],
                    schema_url: String::new(),
                },
                ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "opentelemetry.instrumentation.requests".into(),
                        version: "0.66b1".into(),
                        ..Default::default()
                    }),
                    spans: vec![client],
                    schema_url: "https://opentelemetry.io/schemas/1.11.0".into(),
                },
            ],
            schema_url: String::new(),
        }],
    }
}

#[test]
fn flask_trace_survives_translation_and_rebuild() {
    let req = flask_request();
    let decoded = translate_traces(req.clone(), &Hints::default());
    assert_eq!(decoded.rejected, 0, "{:?}", decoded.message);
    let rebuilt = rebuild_otlp(&decoded.events);
    assert_eq!(rebuilt.resource_spans, req.resource_spans);
}

#[test]
fn rebuild_is_a_fixed_point() {
    // events → OTLP → events → OTLP: the second rebuild equals the first.
    let once = rebuild_otlp(&translate_traces(flask_request(), &Hints::default()).events);
    let again_events = translate_traces(
        ExportTraceServiceRequest {
            resource_spans: once.resource_spans.clone(),
        },
        &Hints::default(),
    )
    .events;
    assert_eq!(rebuild_otlp(&again_events), once);
}

#[test]
fn the_round_trip_exercises_escapes_and_exception_copies() {
    // Guards the test above: the translator really renamed and copied these.
    let events = translate_traces(flask_request(), &Hints::default()).events;
    let server = &events[0];
    assert!(server.get("user.timestamp").is_some());
    assert!(server.get("timestamp").is_none());
    assert!(server.get("exception.type").is_some());
    assert_eq!(events.len(), 5);
}
