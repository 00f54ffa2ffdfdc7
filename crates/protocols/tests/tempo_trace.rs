//! Tempo read API: events laid out as the OTLP translator writes them are rebuilt into OTLP
//! and encoded as Tempo's trace-by-id, search and tag responses.
#![allow(clippy::unwrap_used, clippy::type_complexity)]

use model::{Event, SignalKind, SpanId, TraceId, Value};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{span, Status, TracesData};
use prost::Message;
use serde_json::json;
use waggle_protocols::tempo::{
    rebuild_otlp, search_json, tag_values_json, tag_values_v2_json, tags_json, tags_v2_json,
    trace_protobuf, trace_v1_json, trace_v2_json, trace_v2_protobuf, TraceByIdResponse,
    TraceSummary,
};

const TRACE: &str = "5b8efff798038103d269b633813fc60c";
const ROOT: &str = "eee19b7ec3c1b173";
const CHILD: &str = "eee19b7ec3c1b174";
const OTHER: &str = "eee19b7ec3c1b175";
const T0: i64 = 1_764_113_315_000_000_000;

fn s(v: &str) -> Value {
    Value::Str(v.to_string())
}

/// An event as the OTLP translator lays out a span (husky names, resource keys recorded).
fn otlp_span(
    service: &str,
    span_id: &str,
    parent: Option<&str>,
    name: &str,
    scope: (&str, &str),
    fields: &[(&str, Value)],
) -> Event {
    let mut e = Event::new(service, T0, SignalKind::Span);
    e.trace_id = Some(TraceId::parse(TRACE).unwrap());
    e.span_id = Some(SpanId::parse(span_id).unwrap());
    e.parent_id = parent.map(|p| SpanId::parse(p).unwrap());
    e.name = Some(name.to_string());
    e.service = Some(service.to_string());
    e.duration_ms = Some(12.5);
    e.set("service.name", s(service));
    e.set("telemetry.sdk.language", s("python"));
    e.set("service.instance.id", s("4a1d"));
    e.resource_keys = vec![
        "service.name".into(),
        "telemetry.sdk.language".into(),
        "service.instance.id".into(),
    ];
    e.set("meta.signal_type", s("trace"));
    e.set("library.name", s(scope.0));
    if !scope.1.is_empty() {
        e.set("library.version", s(scope.1));
    }
    e.set("span.num_events", Value::Int(0));
    e.set("span.num_links", Value::Int(0));
    for (k, v) in fields {
        e.set(*k, v.clone());
    }
    e
}

fn annotation(kind: SignalKind, parent: &str, name: &str, fields: &[(&str, Value)]) -> Event {
    let mut e = Event::new("backend-flask", T0 + 1_000_000, kind);
    e.trace_id = Some(TraceId::parse(TRACE).unwrap());
    e.parent_id = Some(SpanId::parse(parent).unwrap());
    e.name = Some(name.to_string());
    e.service = Some("backend-flask".into());
    e.set("service.name", s("backend-flask"));
    e.resource_keys = vec!["service.name".into()];
    e.set("meta.signal_type", s("trace"));
    e.set(
        "meta.annotation_type",
        s(if kind == SignalKind::Link {
            "link"
        } else {
            "span_event"
        }),
    );
    e.set("parent_name", s("GET /api/activities/home"));
    for (k, v) in fields {
        e.set(*k, v.clone());
    }
    e
}

fn trace_events() -> Vec<Event> {
    let root = otlp_span(
        "backend-flask",
        ROOT,
        None,
        "GET /api/activities/home",
        ("opentelemetry.instrumentation.flask", "0.66b1"),
        &[
            ("http.method", s("GET")),
            ("http.status_code", Value::Int(500)),
            ("span.kind", s("server")),
            ("type", s("server")),
            ("status_code", Value::Int(2)),
            ("status_message", s("KeyError: 'message'")),
            ("error", Value::Bool(true)),
            ("trace.trace_state", s("ot=th:8")),
            (
                "scope.schema_url",
                s("https://opentelemetry.io/schemas/1.11.0"),
            ),
            ("telemetry.instrumentation_library", Value::Bool(true)),
            ("ratio", Value::Float(0.25)),
        ],
    );
    let child = otlp_span(
        "backend-flask",
        CHILD,
        Some(ROOT),
        "home-activities-mock-data",
        ("cruddur.backend", ""),
        &[
            ("app.result_length", Value::Int(3)),
            ("span.kind", s("internal")),
        ],
    );
    let mut other = otlp_span(
        "frontend",
        OTHER,
        Some(CHILD),
        "POST",
        ("opentelemetry.instrumentation.requests", "0.66b1"),
        &[("span.kind", s("client"))],
    );
    other.time_ns = T0 + 2_000_000;
    other.duration_ms = Some(0.0004);
    let exception = annotation(
        SignalKind::SpanEvent,
        ROOT,
        "exception",
        &[
            ("exception.type", s("KeyError")),
            ("exception.message", s("'message'")),
            ("meta.time_since_span_start_ms", Value::Float(1.0)),
            ("error", Value::Bool(true)),
        ],
    );
    let link = annotation(
        SignalKind::Link,
        ROOT,
        "",
        &[
            ("trace.link.trace_id", s("0af7651916cd43dd8448eb211c80319c")),
            ("trace.link.span_id", s("b7ad6b7169203331")),
            ("trace.link.trace_state", s("k=v")),
            ("link.reason", s("retry")),
        ],
    );
    let orphan = annotation(SignalKind::SpanEvent, "00000000000000ff", "lost", &[]);
    let mut log = annotation(SignalKind::Log, ROOT, "log", &[("body", s("hello"))]);
    log.kind = SignalKind::Log;
    vec![root, exception, child, log, link, other, orphan]
}

fn kv(key: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn sv(v: &str) -> any_value::Value {
    any_value::Value::StringValue(v.into())
}

#[test]
fn rebuild_groups_by_resource_and_scope_and_attaches_annotations() {
    let data = rebuild_otlp(&trace_events());
    assert_eq!(data.resource_spans.len(), 2);

    let flask = &data.resource_spans[0];
    assert_eq!(
        flask.resource.as_ref().unwrap().attributes,
        vec![
            kv("service.name", sv("backend-flask")),
            kv("telemetry.sdk.language", sv("python")),
            kv("service.instance.id", sv("4a1d")),
        ]
    );
    assert_eq!(flask.scope_spans.len(), 2);
    let scope = &flask.scope_spans[0];
    assert_eq!(
        scope.scope.as_ref().unwrap().name,
        "opentelemetry.instrumentation.flask"
    );
    assert_eq!(scope.scope.as_ref().unwrap().version, "0.66b1");
    assert_eq!(scope.schema_url, "https://opentelemetry.io/schemas/1.11.0");

    let root = &scope.spans[0];
    assert_eq!(hex::encode(&root.trace_id), TRACE);
    assert_eq!(hex::encode(&root.span_id), ROOT);
    assert!(root.parent_span_id.is_empty());
    assert_eq!(root.name, "GET /api/activities/home");
    assert_eq!(root.kind, span::SpanKind::Server as i32);
    assert_eq!(root.trace_state, "ot=th:8");
    assert_eq!(root.start_time_unix_nano, T0 as u64);
    assert_eq!(root.end_time_unix_nano, T0 as u64 + 12_500_000);
    assert_eq!(
        root.status,
        Some(Status {
            message: "KeyError: 'message'".into(),
            code: 2
        })
    );
    assert_eq!(
        root.attributes,
        vec![
            kv("http.method", sv("GET")),
            kv("http.status_code", any_value::Value::IntValue(500)),
            kv("ratio", any_value::Value::DoubleValue(0.25)),
        ]
    );
    assert_eq!(
        root.events,
        vec![span::Event {
            time_unix_nano: T0 as u64 + 1_000_000,
            name: "exception".into(),
            attributes: vec![
                kv("exception.type", sv("KeyError")),
                kv("exception.message", sv("'message'")),
            ],
            dropped_attributes_count: 0,
        }]
    );
    assert_eq!(root.links.len(), 1);
    let link = &root.links[0];
    assert_eq!(
        hex::encode(&link.trace_id),
        "0af7651916cd43dd8448eb211c80319c"
    );
    assert_eq!(hex::encode(&link.span_id), "b7ad6b7169203331");
    assert_eq!(link.trace_state, "k=v");
    assert_eq!(link.attributes, vec![kv("link.reason", sv("retry"))]);

    let child_scope = &flask.scope_spans[1];
    assert_eq!(child_scope.scope.as_ref().unwrap().name, "cruddur.backend");
    assert_eq!(child_scope.scope.as_ref().unwrap().version, "");
    let child = &child_scope.spans[0];
    assert_eq!(hex::encode(&child.parent_span_id), ROOT);
    assert_eq!(child.kind, span::SpanKind::Internal as i32);
    assert_eq!(child.status, None);
    assert_eq!(
        child.attributes,
        vec![kv("app.result_length", any_value::Value::IntValue(3))]
    );
    assert!(child.events.is_empty() && child.links.is_empty());

    let frontend = &data.resource_spans[1];
    assert_eq!(
        frontend.resource.as_ref().unwrap().attributes[0],
        kv("service.name", sv("frontend"))
    );
    let other = &frontend.scope_spans[0].spans[0];
    assert_eq!(other.kind, span::SpanKind::Client as i32);
    assert_eq!(other.end_time_unix_nano - other.start_time_unix_nano, 400);

    // Logs and orphans are not part of the trace response.
    let spans: usize = data
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum();
    assert_eq!(spans, 3);
}

#[test]
fn span_kind_and_status_table() {
    let cases: &[(Option<&str>, i32)] = &[
        (Some("server"), 2),
        (Some("client"), 3),
        (Some("producer"), 4),
        (Some("consumer"), 5),
        (Some("internal"), 1),
        (Some("unspecified"), 0),
        (Some("SPAN_KIND_SERVER"), 2),
        (None, 0),
    ];
    for (kind, want) in cases {
        let mut fields = vec![];
        if let Some(k) = kind {
            fields.push(("span.kind", s(k)));
        }
        let e = otlp_span("svc", ROOT, None, "n", ("lib", "1"), &fields);
        let got = rebuild_otlp(&[e]).resource_spans[0].scope_spans[0].spans[0].kind;
        assert_eq!(got, *want, "{kind:?}");
    }
    let statuses: &[(&[(&str, Value)], Option<Status>)] = &[
        (&[("status_code", Value::Int(0))], None),
        (
            &[("status_code", Value::Int(1))],
            Some(Status {
                message: String::new(),
                code: 1,
            }),
        ),
        (
            &[
                ("status_code", Value::Int(2)),
                ("status_message", s("boom")),
            ],
            Some(Status {
                message: "boom".into(),
                code: 2,
            }),
        ),
        (
            &[("error", Value::Bool(true))],
            Some(Status {
                message: String::new(),
                code: 2,
            }),
        ),
        (
            &[("status_message", s("only text"))],
            Some(Status {
                message: "only text".into(),
                code: 0,
            }),
        ),
    ];
    for (fields, want) in statuses {
        let e = otlp_span("svc", ROOT, None, "n", ("lib", "1"), fields);
        let got = rebuild_otlp(&[e]).resource_spans[0].scope_spans[0].spans[0]
            .status
            .clone();
        assert_eq!(&got, want, "{fields:?}");
    }
}

#[test]
fn honeycomb_origin_spans_get_a_service_resource_and_their_sample_rate() {
    let mut e = Event::new("beeline", T0, SignalKind::Span);
    e.trace_id = Some(TraceId::parse(TRACE).unwrap());
    e.span_id = Some(SpanId::parse(ROOT).unwrap());
    e.service = Some("api".into());
    e.name = Some("handler".into());
    e.duration_ms = Some(1.0);
    e.sample_rate = 4;
    e.set("user_id", Value::Int(7));
    let data = rebuild_otlp(&[e]);
    let rs = &data.resource_spans[0];
    assert_eq!(
        rs.resource.as_ref().unwrap().attributes,
        vec![kv("service.name", sv("api"))]
    );
    assert_eq!(rs.scope_spans[0].scope, None);
    assert_eq!(
        rs.scope_spans[0].spans[0].attributes,
        vec![
            kv("user_id", any_value::Value::IntValue(7)),
            kv("sampleRate", any_value::Value::IntValue(4)),
        ]
    );
}

#[test]
fn v1_json_is_otlp_json() {
    let j = trace_v1_json(&trace_events());
    let batches = j["batches"].as_array().unwrap();
    assert_eq!(batches.len(), 2);
    assert_eq!(
        batches[0]["resource"]["attributes"][0],
        json!({"key": "service.name", "value": {"stringValue": "backend-flask"}})
    );
    let root = &batches[0]["scopeSpans"][0]["spans"][0];
    assert_eq!(
        batches[0]["scopeSpans"][0]["scope"],
        json!({"name": "opentelemetry.instrumentation.flask", "version": "0.66b1"})
    );
    assert_eq!(
        batches[0]["scopeSpans"][0]["schemaUrl"],
        "https://opentelemetry.io/schemas/1.11.0"
    );
    assert_eq!(root["traceId"], TRACE);
    assert_eq!(root["spanId"], ROOT);
    assert!(root.get("parentSpanId").is_none());
    assert_eq!(root["kind"], 2);
    assert_eq!(root["startTimeUnixNano"], T0.to_string());
    assert_eq!(root["endTimeUnixNano"], (T0 + 12_500_000).to_string());
    assert_eq!(root["traceState"], "ot=th:8");
    assert_eq!(
        root["status"],
        json!({"code": 2, "message": "KeyError: 'message'"})
    );
    assert_eq!(
        root["attributes"],
        json!([
            {"key": "http.method", "value": {"stringValue": "GET"}},
            {"key": "http.status_code", "value": {"intValue": "500"}},
            {"key": "ratio", "value": {"doubleValue": 0.25}},
        ])
    );
    assert_eq!(root["events"][0]["name"], "exception");
    assert_eq!(
        root["events"][0]["timeUnixNano"],
        (T0 + 1_000_000).to_string()
    );
    assert_eq!(
        root["links"][0],
        json!({
            "traceId": "0af7651916cd43dd8448eb211c80319c",
            "spanId": "b7ad6b7169203331",
            "traceState": "k=v",
            "attributes": [{"key": "link.reason", "value": {"stringValue": "retry"}}],
        })
    );
    let child = &batches[0]["scopeSpans"][1]["spans"][0];
    assert_eq!(child["parentSpanId"], ROOT);
    assert_eq!(child["status"], json!({}));

    let v2 = trace_v2_json(&trace_events());
    assert_eq!(v2["trace"]["resourceSpans"], j["batches"]);
    assert_eq!(v2["metrics"], json!({}));
}

#[test]
fn protobuf_bodies_decode_as_tempo_and_otlp_messages() {
    let events = trace_events();
    let want = rebuild_otlp(&events);

    let v1 = trace_protobuf(&events);
    // tempopb.Trace field 1 has OTLP TracesData's and ExportTraceServiceRequest's wire form.
    assert_eq!(TracesData::decode(&v1[..]).unwrap(), want);
    assert_eq!(
        ExportTraceServiceRequest::decode(&v1[..])
            .unwrap()
            .resource_spans,
        want.resource_spans
    );

    let v2 = TraceByIdResponse::decode(&trace_v2_protobuf(&events)[..]).unwrap();
    assert_eq!(v2.status, 0);
    assert_eq!(v2.trace.unwrap().resource_spans, want.resource_spans);

    let empty = trace_protobuf(&[]);
    assert!(empty.is_empty());
}

#[test]
fn search_and_tags_json() {
    let traces = [
        TraceSummary {
            trace_id: TraceId::parse(TRACE).unwrap(),
            root_service: Some("backend-flask".into()),
            root_name: Some("GET /api/activities/home".into()),
            start_ns: T0,
            duration_ms: 12.5,
        },
        TraceSummary {
            trace_id: TraceId::parse("0000000000000000000000000000abcd").unwrap(),
            root_service: None,
            root_name: None,
            start_ns: T0,
            duration_ms: 0.2,
        },
    ];
    let j = search_json(&traces);
    assert_eq!(
        j["traces"],
        json!([
            {
                "traceID": TRACE,
                "rootServiceName": "backend-flask",
                "rootTraceName": "GET /api/activities/home",
                "startTimeUnixNano": T0.to_string(),
                "durationMs": 13,
            },
            {
                "traceID": "0000000000000000000000000000abcd",
                "startTimeUnixNano": T0.to_string(),
                "durationMs": 0,
            },
        ])
    );
    assert_eq!(j["metrics"]["inspectedTraces"], 2);

    assert_eq!(
        tags_json(&["http.method".into()]),
        json!({"tagNames": ["http.method"]})
    );
    assert_eq!(
        tags_v2_json(&[("resource".into(), vec!["service.name".into()])]),
        json!({"scopes": [{"name": "resource", "tags": ["service.name"]}]})
    );
    assert_eq!(
        tag_values_json(&["GET".into()]),
        json!({"tagValues": ["GET"]})
    );
    assert_eq!(
        tag_values_v2_json(&[s("GET"), Value::Int(200)]),
        json!({"tagValues": [{"type": "string", "value": "GET"}, {"type": "int", "value": "200"}]})
    );
}
