//! Data-driven checks of the OTLP → event translation (husky's field table,
//! otlp-honeycomb.md §6.2–6.4), built from prost messages.
#![allow(clippy::unwrap_used, clippy::type_complexity)]

use model::{Event, SignalKind, SpanId, TraceId, Value};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, summary_data_point::ValueAtQuantile, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Summary,
    SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
use waggle_protocols::otlp::{translate_logs, translate_metrics, translate_traces, Hints};

const TRACE: [u8; 16] = [
    0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c,
];
const SPAN: [u8; 8] = [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74];
const PARENT: [u8; 8] = [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x73];
const T0: u64 = 1_544_712_660_000_000_000;

fn kv(k: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        key_strindex: 0,
    }
}
fn st(k: &str, v: &str) -> KeyValue {
    kv(k, any_value::Value::StringValue(v.into()))
}
fn int(k: &str, v: i64) -> KeyValue {
    kv(k, any_value::Value::IntValue(v))
}
fn s(v: &str) -> Value {
    Value::Str(v.into())
}

fn base_span() -> Span {
    Span {
        trace_id: TRACE.to_vec(),
        span_id: SPAN.to_vec(),
        parent_span_id: PARENT.to_vec(),
        name: "GET /api".into(),
        kind: 2,
        start_time_unix_nano: T0,
        end_time_unix_nano: T0 + 1_500_000,
        ..Default::default()
    }
}

fn resource(attrs: Vec<KeyValue>) -> Option<Resource> {
    Some(Resource {
        attributes: attrs,
        ..Default::default()
    })
}

fn traces(
    res: Vec<KeyValue>,
    scope_attrs: Vec<KeyValue>,
    spans: Vec<Span>,
) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource(res),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "my.lib".into(),
                    version: "1.2".into(),
                    attributes: scope_attrs,
                    ..Default::default()
                }),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn one_span(span: Span) -> Vec<Event> {
    let d = translate_traces(
        traces(vec![st("service.name", "svc")], vec![], vec![span]),
        &Hints::default(),
    );
    assert_eq!(d.rejected, 0, "{:?}", d.message);
    d.events
}

type Check = fn(&Event) -> bool;

/// (what, how to change the base span, field, expected value or None for "absent")
#[test]
fn span_field_table() {
    let rows: Vec<(&str, fn(&mut Span), &str, Option<Value>)> = vec![
        ("kind server", |_| {}, "span.kind", Some(s("server"))),
        ("kind as type", |_| {}, "type", Some(s("server"))),
        (
            "kind client",
            |sp| sp.kind = 3,
            "span.kind",
            Some(s("client")),
        ),
        (
            "kind producer",
            |sp| sp.kind = 4,
            "type",
            Some(s("producer")),
        ),
        (
            "kind consumer",
            |sp| sp.kind = 5,
            "type",
            Some(s("consumer")),
        ),
        (
            "kind internal",
            |sp| sp.kind = 1,
            "type",
            Some(s("internal")),
        ),
        (
            "kind unspecified",
            |sp| sp.kind = 0,
            "type",
            Some(s("unspecified")),
        ),
        (
            "kind unknown",
            |sp| sp.kind = 77,
            "type",
            Some(s("unspecified")),
        ),
        ("status unset", |_| {}, "status_code", Some(Value::Int(0))),
        ("no error when unset", |_| {}, "error", None),
        (
            "no status_message when empty",
            |_| {},
            "status_message",
            None,
        ),
        (
            "status error code",
            |sp| {
                sp.status = Some(Status {
                    code: 2,
                    message: "boom".into(),
                })
            },
            "status_code",
            Some(Value::Int(2)),
        ),
        (
            "status error flag",
            |sp| {
                sp.status = Some(Status {
                    code: 2,
                    message: "boom".into(),
                })
            },
            "error",
            Some(Value::Bool(true)),
        ),
        (
            "status message",
            |sp| {
                sp.status = Some(Status {
                    code: 2,
                    message: "boom".into(),
                })
            },
            "status_message",
            Some(s("boom")),
        ),
        (
            "status ok is not error",
            |sp| {
                sp.status = Some(Status {
                    code: 1,
                    message: String::new(),
                })
            },
            "error",
            None,
        ),
        (
            "num events",
            |sp| {
                sp.events = vec![span::Event {
                    name: "e".into(),
                    time_unix_nano: T0,
                    ..Default::default()
                }]
            },
            "span.num_events",
            Some(Value::Int(1)),
        ),
        ("num links", |_| {}, "span.num_links", Some(Value::Int(0))),
        (
            "trace state",
            |sp| sp.trace_state = "vendor=x".into(),
            "trace.trace_state",
            Some(s("vendor=x")),
        ),
        ("no trace state", |_| {}, "trace.trace_state", None),
        ("signal type", |_| {}, "meta.signal_type", Some(s("trace"))),
        ("library name", |_| {}, "library.name", Some(s("my.lib"))),
        ("library version", |_| {}, "library.version", Some(s("1.2"))),
        (
            "negative duration flagged",
            |sp| sp.end_time_unix_nano = T0 - 5,
            "meta.invalid_duration",
            Some(Value::Bool(true)),
        ),
        (
            "valid duration not flagged",
            |_| {},
            "meta.invalid_duration",
            None,
        ),
        (
            "string attr",
            |sp| sp.attributes = vec![st("http.route", "/x")],
            "http.route",
            Some(s("/x")),
        ),
        (
            "int attr",
            |sp| sp.attributes = vec![int("http.status_code", 200)],
            "http.status_code",
            Some(Value::Int(200)),
        ),
        (
            "bool attr",
            |sp| sp.attributes = vec![kv("b", any_value::Value::BoolValue(true))],
            "b",
            Some(Value::Bool(true)),
        ),
        (
            "double attr",
            |sp| sp.attributes = vec![kv("d", any_value::Value::DoubleValue(1.5))],
            "d",
            Some(Value::Float(1.5)),
        ),
        (
            "kvlist attr",
            |sp| {
                sp.attributes = vec![kv(
                    "http.request.header",
                    any_value::Value::KvlistValue(KeyValueList {
                        values: vec![st("content-type", "json")],
                    }),
                )]
            },
            "http.request.header.content-type",
            Some(s("json")),
        ),
        (
            "bytes attr",
            |sp| sp.attributes = vec![kv("raw", any_value::Value::BytesValue(vec![0xff]))],
            "raw",
            Some(s("\"/w==\"")),
        ),
        (
            "user attr named name is escaped",
            |sp| sp.attributes = vec![st("name", "x")],
            "user.name",
            Some(s("x")),
        ),
        (
            "user attr named duration_ms is escaped",
            |sp| sp.attributes = vec![int("duration_ms", 3)],
            "user.duration_ms",
            Some(Value::Int(3)),
        ),
        (
            "user attr named trace.trace_id is escaped",
            |sp| sp.attributes = vec![st("trace.trace_id", "x")],
            "user.trace.trace_id",
            Some(s("x")),
        ),
        (
            "user attr named __kind is escaped",
            |sp| sp.attributes = vec![st("__kind", "x")],
            "user.__kind",
            Some(s("x")),
        ),
        (
            "span attr beats computed field",
            |sp| sp.attributes = vec![st("span.kind", "custom")],
            "span.kind",
            Some(s("custom")),
        ),
        (
            "first duplicate wins",
            |sp| sp.attributes = vec![st("dup", "first"), st("dup", "second")],
            "dup",
            Some(s("first")),
        ),
        (
            "sampleRate is consumed",
            |sp| sp.attributes = vec![int("sampleRate", 10)],
            "sampleRate",
            None,
        ),
        (
            "SampleRate is consumed",
            |sp| sp.attributes = vec![st("SampleRate", "4")],
            "SampleRate",
            None,
        ),
        (
            "resource attrs present",
            |_| {},
            "deployment.environment",
            Some(s("prod")),
        ),
        ("scope attrs present", |_| {}, "scope.attr", Some(s("sv"))),
        (
            "span beats scope",
            |sp| sp.attributes = vec![st("scope.attr", "span")],
            "scope.attr",
            Some(s("span")),
        ),
        (
            "span beats resource",
            |sp| sp.attributes = vec![st("deployment.environment", "dev")],
            "deployment.environment",
            Some(s("dev")),
        ),
    ];
    for (what, change, key, want) in rows {
        let mut sp = base_span();
        change(&mut sp);
        let d = translate_traces(
            traces(
                vec![
                    st("service.name", "svc"),
                    st("deployment.environment", "prod"),
                ],
                vec![st("scope.attr", "sv")],
                vec![sp],
            ),
            &Hints::default(),
        );
        assert_eq!(d.rejected, 0, "{what}: {:?}", d.message);
        let ev = &d.events[0];
        assert_eq!(ev.get(key), want.as_ref(), "{what}: {:?}", ev.fields);
    }
}

#[test]
fn span_typed_members_table() {
    let rows: Vec<(&str, fn(&mut Span), Check)> = vec![
        (
            "ids",
            |_| {},
            |e| {
                e.trace_id == Some(TraceId(TRACE))
                    && e.span_id == Some(SpanId(SPAN))
                    && e.parent_id == Some(SpanId(PARENT))
            },
        ),
        (
            "root has no parent",
            |sp| sp.parent_span_id.clear(),
            |e| e.parent_id.is_none() && e.get("trace.parent_id").is_none(),
        ),
        (
            "all-zero parent means root",
            |sp| sp.parent_span_id = vec![0; 8],
            |e| e.parent_id.is_none(),
        ),
        ("time is start", |_| {}, |e| e.time_ns == T0 as i64),
        ("duration in ms", |_| {}, |e| e.duration_ms == Some(1.5)),
        (
            "negative duration clamps to 0",
            |sp| sp.end_time_unix_nano = T0 - 5,
            |e| e.duration_ms == Some(0.0),
        ),
        (
            "no end time, no duration",
            |sp| sp.end_time_unix_nano = 0,
            |e| e.duration_ms.is_none(),
        ),
        ("name", |_| {}, |e| e.name.as_deref() == Some("GET /api")),
        ("kind", |_| {}, |e| e.kind == SignalKind::Span),
        (
            "service",
            |_| {},
            |e| e.service.as_deref() == Some("svc") && e.dataset == "svc",
        ),
        (
            "resource keys listed",
            |_| {},
            |e| e.resource_keys == vec!["deployment.environment".to_string()],
        ),
        (
            "resource key shadowed by span attr is not listed",
            |sp| sp.attributes = vec![st("deployment.environment", "dev")],
            |e| e.resource_keys.is_empty(),
        ),
        ("sample rate default", |_| {}, |e| e.sample_rate == 1),
        (
            "sampleRate attr",
            |sp| sp.attributes = vec![int("sampleRate", 10)],
            |e| e.sample_rate == 10,
        ),
        (
            "sampleRate preferred",
            |sp| sp.attributes = vec![int("SampleRate", 3), int("sampleRate", 10)],
            |e| e.sample_rate == 10,
        ),
        (
            "sampleRate string rounded",
            |sp| sp.attributes = vec![st("sampleRate", "2.6")],
            |e| e.sample_rate == 3,
        ),
        (
            "sampleRate zero becomes 1",
            |sp| sp.attributes = vec![int("sampleRate", 0)],
            |e| e.sample_rate == 1,
        ),
        (
            "tracestate threshold",
            |sp| sp.trace_state = "ot=th:c".into(),
            |e| e.sample_rate == 4,
        ),
        (
            "attribute beats tracestate",
            |sp| {
                sp.trace_state = "ot=th:c".into();
                sp.attributes = vec![int("sampleRate", 7)]
            },
            |e| e.sample_rate == 7,
        ),
    ];
    for (what, change, check) in rows {
        let mut sp = base_span();
        change(&mut sp);
        let d = translate_traces(
            traces(
                vec![
                    st("service.name", "svc"),
                    st("deployment.environment", "prod"),
                ],
                vec![],
                vec![sp],
            ),
            &Hints::default(),
        );
        assert_eq!(d.rejected, 0, "{what}: {:?}", d.message);
        assert!(check(&d.events[0]), "{what}: {:?}", d.events[0]);
    }
}

#[test]
fn dataset_routing_for_traces() {
    for (service, dataset) in [
        (Some("  backend-flask "), "backend-flask"),
        (Some(""), "unknown_service"),
        (Some("   "), "unknown_service"),
        (Some("unknown_service:python"), "unknown_service"),
        (None, "unknown_service"),
    ] {
        let res = service
            .map(|s| vec![st("service.name", s)])
            .unwrap_or_default();
        let d = translate_traces(
            traces(res, vec![], vec![base_span()]),
            &Hints {
                dataset_header: Some("hdr"),
            },
        );
        assert_eq!(d.events[0].dataset, dataset, "{service:?}");
        assert_eq!(d.events[0].service.as_deref(), service);
    }
    // resource sampleRate applies to all spans and is not stored
    let d = translate_traces(
        traces(vec![int("sampleRate", 20)], vec![], vec![base_span()]),
        &Hints::default(),
    );
    assert_eq!(d.events[0].sample_rate, 20);
    assert!(d.events[0].get("sampleRate").is_none());
}

#[test]
fn span_events_and_links() {
    let mut sp = base_span();
    sp.status = Some(Status {
        code: 2,
        message: "bad".into(),
    });
    sp.trace_state = "ot=th:8".into();
    sp.events = vec![
        span::Event {
            name: "early".into(),
            time_unix_nano: T0 - 1_000_000,
            ..Default::default()
        },
        span::Event {
            name: "exception".into(),
            time_unix_nano: T0 + 500_000,
            attributes: vec![
                st("exception.type", "KeyError"),
                st("exception.message", "m"),
                kv("exception.escaped", any_value::Value::BoolValue(true)),
                st("other", "x"),
            ],
            ..Default::default()
        },
        span::Event {
            name: "exception".into(),
            time_unix_nano: T0,
            attributes: vec![st("exception.type", "Second")],
            ..Default::default()
        },
    ];
    sp.attributes = vec![st("exception.message", "span wins")];
    sp.links = vec![span::Link {
        trace_id: [vec![0u8; 8], vec![1, 2, 3, 4, 5, 6, 7, 8]].concat(),
        span_id: vec![9; 8],
        trace_state: "k=v".into(),
        attributes: vec![st("link.attr", "y")],
        ..Default::default()
    }];
    let evs = one_span(sp);
    assert_eq!(evs.len(), 5);
    let span_ev = &evs[0];
    assert_eq!(
        span_ev.get("exception.type"),
        Some(&s("KeyError")),
        "first exception event copied"
    );
    assert_eq!(span_ev.get("exception.escaped"), Some(&Value::Bool(true)));
    assert_eq!(span_ev.get("exception.message"), Some(&s("span wins")));
    assert_eq!(span_ev.get("other"), None);
    assert_eq!(span_ev.sample_rate, 2);

    let early = &evs[1];
    assert_eq!(early.kind, SignalKind::SpanEvent);
    assert_eq!(early.time_ns, (T0 - 1_000_000) as i64);
    assert_eq!(
        early.get("meta.time_since_span_start_ms"),
        Some(&Value::Float(0.0))
    );
    assert_eq!(
        early.get("meta.invalid_time_since_span_start"),
        Some(&Value::Bool(true))
    );
    let exc = &evs[2];
    assert_eq!(exc.name.as_deref(), Some("exception"));
    assert_eq!(
        (exc.trace_id, exc.parent_id, exc.span_id),
        (Some(TraceId(TRACE)), Some(SpanId(SPAN)), None)
    );
    assert_eq!(exc.duration_ms, None);
    assert_eq!(exc.sample_rate, 2);
    for (k, v) in [
        ("meta.annotation_type", s("span_event")),
        ("parent_name", s("GET /api")),
        ("meta.time_since_span_start_ms", Value::Float(0.5)),
        ("meta.signal_type", s("trace")),
        ("error", Value::Bool(true)),
        ("other", s("x")),
        ("exception.type", s("KeyError")),
    ] {
        assert_eq!(exc.get(k), Some(&v), "{k}");
    }
    assert_eq!(exc.get("meta.invalid_time_since_span_start"), None);
    assert_eq!(exc.resource_keys, Vec::<String>::new());

    let link = &evs[4];
    assert_eq!(link.kind, SignalKind::Link);
    assert_eq!(link.time_ns, T0 as i64, "links take the span start");
    assert_eq!(
        (link.trace_id, link.parent_id, link.span_id),
        (Some(TraceId(TRACE)), Some(SpanId(SPAN)), None)
    );
    for (k, v) in [
        ("trace.link.trace_id", s("0102030405060708")),
        ("trace.link.span_id", s("0909090909090909")),
        ("trace.link.trace_state", s("k=v")),
        ("meta.annotation_type", s("link")),
        ("parent_name", s("GET /api")),
        ("link.attr", s("y")),
        ("error", Value::Bool(true)),
    ] {
        assert_eq!(link.get(k), Some(&v), "{k}");
    }
}

#[test]
fn invalid_spans_are_rejected_individually() {
    let rows: Vec<(&str, fn(&mut Span), &str)> = vec![
        (
            "short trace id",
            |sp| sp.trace_id = vec![1, 2, 3],
            "trace_id has 3 bytes; OTLP requires 16",
        ),
        (
            "empty trace id",
            |sp| sp.trace_id.clear(),
            "trace_id has 0 bytes",
        ),
        (
            "zero trace id",
            |sp| sp.trace_id = vec![0; 16],
            "trace_id is all zeros",
        ),
        (
            "zero span id",
            |sp| sp.span_id = vec![0; 8],
            "span_id is all zeros",
        ),
        (
            "missing span id",
            |sp| sp.span_id.clear(),
            "span_id has 0 bytes",
        ),
        (
            "bad parent",
            |sp| sp.parent_span_id = vec![1; 5],
            "parent_span_id has 5 bytes",
        ),
        (
            "bad link",
            |sp| {
                sp.links = vec![span::Link {
                    trace_id: vec![1; 16],
                    span_id: vec![1],
                    ..Default::default()
                }]
            },
            "link 0 span_id has 1 bytes",
        ),
        (
            "time overflow",
            |sp| sp.start_time_unix_nano = u64::MAX,
            "after the year 2262",
        ),
        (
            "too many events",
            |sp| sp.events = vec![span::Event::default(); 1025],
            "span has 1025 events; the limit is 1024",
        ),
    ];
    for (what, change, msg) in rows {
        let mut bad = base_span();
        change(&mut bad);
        let d = translate_traces(
            traces(
                vec![st("service.name", "svc")],
                vec![],
                vec![base_span(), bad, base_span()],
            ),
            &Hints::default(),
        );
        assert_eq!((d.accepted, d.rejected), (2, 1), "{what}");
        assert_eq!(
            d.events
                .iter()
                .filter(|e| e.kind == SignalKind::Span)
                .count(),
            2,
            "{what}"
        );
        let m = d.message.unwrap();
        assert!(
            m.starts_with("rejected 1 spans: resourceSpans[0].scopeSpans[0].spans[1]: "),
            "{what}: {m}"
        );
        assert!(m.contains(msg), "{what}: {m}");
    }
}

#[test]
fn ten_thousand_attributes_are_rejected_not_crashed() {
    let mut big = base_span();
    big.attributes = (0..10_000).map(|i| int(&format!("attr.{i}"), i)).collect();
    let d = translate_traces(
        traces(vec![], vec![], vec![big, base_span()]),
        &Hints::default(),
    );
    assert_eq!((d.accepted, d.rejected), (1, 1));
    let m = d.message.unwrap();
    assert!(
        m.contains("span has 10000 attributes; the limit is 2000 per span"),
        "{m}"
    );

    // Under the per-item limit but over the per-event field limit once resource attrs join.
    let mut wide = base_span();
    wide.attributes = (0..1500).map(|i| int(&format!("span.{i}"), i)).collect();
    let res = (0..1500).map(|i| int(&format!("res.{i}"), i)).collect();
    let d = translate_traces(traces(res, vec![], vec![wide]), &Hints::default());
    assert_eq!(d.rejected, 1);
    assert!(d
        .message
        .unwrap()
        .contains("fields with its resource and scope attributes"));

    // A resource over the limit rejects every span under it.
    let res = (0..2001).map(|i| int(&format!("res.{i}"), i)).collect();
    let d = translate_traces(
        traces(res, vec![], vec![base_span(), base_span()]),
        &Hints::default(),
    );
    assert_eq!((d.accepted, d.rejected), (0, 2));
    assert!(d.message.unwrap().contains("resource has 2001 attributes"));
}

#[test]
fn message_lists_first_reasons_only() {
    let mut bad = base_span();
    bad.trace_id.clear();
    let d = translate_traces(traces(vec![], vec![], vec![bad; 9]), &Hints::default());
    assert_eq!(d.rejected, 9);
    let m = d.message.unwrap();
    assert!(m.ends_with("; and 4 more"), "{m}");
}

// ---- Logs ---------------------------------------------------------------------------------

fn logs(res: Vec<KeyValue>, records: Vec<LogRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource(res),
            scope_logs: vec![ScopeLogs {
                scope: None,
                log_records: records,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn base_log() -> LogRecord {
    LogRecord {
        time_unix_nano: T0,
        observed_time_unix_nano: T0 + 7,
        severity_number: 9,
        severity_text: "INFO".into(),
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue("hello".into())),
        }),
        ..Default::default()
    }
}

#[test]
fn log_field_table() {
    let rows: Vec<(&str, fn(&mut LogRecord), &str, Option<Value>)> = vec![
        ("body string", |_| {}, "body", Some(s("hello"))),
        (
            "body kvlist",
            |l| {
                l.body = Some(AnyValue {
                    value: Some(any_value::Value::KvlistValue(KeyValueList {
                        values: vec![st("msg", "m"), int("n", 1)],
                    })),
                })
            },
            "body.n",
            Some(Value::Int(1)),
        ),
        (
            "body int",
            |l| {
                l.body = Some(AnyValue {
                    value: Some(any_value::Value::IntValue(4)),
                })
            },
            "body",
            Some(Value::Int(4)),
        ),
        ("no body", |l| l.body = None, "body", None),
        ("severity info", |_| {}, "severity", Some(s("info"))),
        (
            "severity code",
            |_| {},
            "severity_code",
            Some(Value::Int(9)),
        ),
        ("severity text", |_| {}, "severity_text", Some(s("INFO"))),
        (
            "severity trace",
            |l| l.severity_number = 2,
            "severity",
            Some(s("trace")),
        ),
        (
            "severity debug",
            |l| l.severity_number = 8,
            "severity",
            Some(s("debug")),
        ),
        (
            "severity warn",
            |l| l.severity_number = 13,
            "severity",
            Some(s("warn")),
        ),
        (
            "severity error",
            |l| l.severity_number = 20,
            "severity",
            Some(s("error")),
        ),
        (
            "severity fatal",
            |l| l.severity_number = 24,
            "severity",
            Some(s("fatal")),
        ),
        (
            "severity unspecified",
            |l| l.severity_number = 0,
            "severity",
            Some(s("unspecified")),
        ),
        (
            "severity out of range",
            |l| l.severity_number = 99,
            "severity",
            Some(s("unspecified")),
        ),
        ("signal type", |_| {}, "meta.signal_type", Some(s("log"))),
        (
            "event name",
            |l| l.event_name = "app.click".into(),
            "event.name",
            Some(s("app.click")),
        ),
        (
            "no annotation without trace",
            |_| {},
            "meta.annotation_type",
            None,
        ),
        (
            "annotation with trace",
            |l| {
                l.trace_id = TRACE.to_vec();
                l.span_id = SPAN.to_vec()
            },
            "meta.annotation_type",
            Some(s("span_event")),
        ),
        (
            "attr",
            |l| l.attributes = vec![st("logger", "app")],
            "logger",
            Some(s("app")),
        ),
        (
            "sampleRate consumed",
            |l| l.attributes = vec![int("sampleRate", 5)],
            "sampleRate",
            None,
        ),
    ];
    for (what, change, key, want) in rows {
        let mut l = base_log();
        change(&mut l);
        let d = translate_logs(
            logs(vec![st("service.name", "svc")], vec![l]),
            &Hints::default(),
        );
        assert_eq!(d.rejected, 0, "{what}: {:?}", d.message);
        assert_eq!(
            d.events[0].get(key),
            want.as_ref(),
            "{what}: {:?}",
            d.events[0].fields
        );
    }
}

#[test]
fn log_members_and_routing() {
    let mut l = base_log();
    l.trace_id = TRACE.to_vec();
    l.span_id = SPAN.to_vec();
    let d = translate_logs(
        logs(vec![st("service.name", "svc")], vec![l]),
        &Hints::default(),
    );
    let e = &d.events[0];
    assert_eq!(
        (e.kind, e.trace_id, e.parent_id, e.span_id),
        (
            SignalKind::Log,
            Some(TraceId(TRACE)),
            Some(SpanId(SPAN)),
            None
        )
    );
    assert_eq!(e.time_ns, T0 as i64);

    let mut l = base_log();
    l.time_unix_nano = 0;
    let d = translate_logs(logs(vec![], vec![l]), &Hints::default());
    assert_eq!(
        d.events[0].time_ns,
        (T0 + 7) as i64,
        "falls back to observed time"
    );
    assert_eq!(d.events[0].dataset, "unknown_log_source");

    let d = translate_logs(
        logs(
            vec![st("service.name", "unknown_service:java")],
            vec![base_log()],
        ),
        &Hints {
            dataset_header: Some("app-logs"),
        },
    );
    assert_eq!(d.events[0].dataset, "app-logs");
    let d = translate_logs(
        logs(vec![st("service.name", "svc")], vec![base_log()]),
        &Hints {
            dataset_header: Some("app-logs"),
        },
    );
    assert_eq!(d.events[0].dataset, "svc");

    // zero ids mean "no context"; a wrong length is rejected
    let mut zero = base_log();
    zero.trace_id = vec![0; 16];
    zero.span_id = vec![0; 8];
    let mut bad = base_log();
    bad.trace_id = vec![1; 3];
    let d = translate_logs(logs(vec![], vec![zero, bad]), &Hints::default());
    assert_eq!((d.accepted, d.rejected), (1, 1));
    assert_eq!(d.events[0].trace_id, None);
    assert!(d
        .message
        .unwrap()
        .contains("logRecords[1]: log record trace_id has 3 bytes"));
}

// ---- Metrics ------------------------------------------------------------------------------

fn metrics(metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(vec![st("service.name", "svc"), st("host.name", "h1")]),
            scope_metrics: vec![ScopeMetrics {
                scope: None,
                metrics,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn gauge(name: &str, points: Vec<NumberDataPoint>) -> Metric {
    Metric {
        name: name.into(),
        unit: "ms".into(),
        data: Some(metric::Data::Gauge(Gauge {
            data_points: points,
        })),
        ..Default::default()
    }
}

fn point(v: number_data_point::Value) -> NumberDataPoint {
    NumberDataPoint {
        time_unix_nano: T0,
        value: Some(v),
        attributes: vec![st("cpu", "0")],
        ..Default::default()
    }
}

#[test]
fn metric_points() {
    let m = vec![
        gauge(
            "cpu.util",
            vec![
                point(number_data_point::Value::AsDouble(0.5)),
                point(number_data_point::Value::AsInt(3)),
            ],
        ),
        gauge(
            "duration_ms",
            vec![point(number_data_point::Value::AsInt(9))],
        ),
        gauge(
            "nan",
            vec![point(number_data_point::Value::AsDouble(f64::NAN))],
        ),
        gauge(
            "no.value",
            vec![NumberDataPoint {
                flags: 1,
                ..point(number_data_point::Value::AsInt(1))
            }],
        ),
        Metric {
            name: "latency".into(),
            data: Some(metric::Data::Histogram(Histogram {
                data_points: vec![HistogramDataPoint {
                    time_unix_nano: T0,
                    count: 4,
                    sum: None,
                    ..Default::default()
                }],
                aggregation_temporality: 2,
            })),
            ..Default::default()
        },
        Metric {
            name: "rpc".into(),
            data: Some(metric::Data::Summary(Summary {
                data_points: vec![SummaryDataPoint {
                    time_unix_nano: T0,
                    count: 2,
                    sum: 10.0,
                    quantile_values: vec![
                        ValueAtQuantile {
                            quantile: 0.0,
                            value: 1.0,
                        },
                        ValueAtQuantile {
                            quantile: 0.5,
                            value: 4.0,
                        },
                        ValueAtQuantile {
                            quantile: 0.999,
                            value: 8.0,
                        },
                        ValueAtQuantile {
                            quantile: 1.0,
                            value: 9.0,
                        },
                    ],
                    ..Default::default()
                }],
            })),
            ..Default::default()
        },
        Metric {
            name: String::new(),
            ..gauge("", vec![point(number_data_point::Value::AsInt(1))])
        },
    ];
    let d = translate_metrics(metrics(m), &Hints::default());
    assert_eq!((d.accepted, d.rejected), (7, 1), "{:?}", d.message);
    assert!(d
        .message
        .unwrap()
        .contains("metrics[6].dataPoints[0]: metric has no name"));
    let e = &d.events;
    assert_eq!(e.len(), 6, "the NO_RECORDED_VALUE point makes no event");
    assert!(e.iter().all(|e| e.kind == SignalKind::Metric
        && e.dataset == "unknown_metrics"
        && e.service.as_deref() == Some("svc")));
    assert_eq!(e[0].name.as_deref(), Some("cpu.util"));
    assert_eq!(e[0].get("cpu.util"), Some(&Value::Float(0.5)));
    assert_eq!(e[0].get("cpu"), Some(&s("0")));
    assert_eq!(e[0].get("metric.unit"), Some(&s("ms")));
    assert_eq!(e[0].get("metric.type"), Some(&s("gauge")));
    assert_eq!(e[0].get("meta.signal_type"), Some(&s("metric")));
    assert_eq!(e[0].get("host.name"), Some(&s("h1")));
    assert_eq!(e[0].resource_keys, vec!["host.name".to_string()]);
    assert_eq!(e[0].time_ns, T0 as i64);
    assert_eq!(e[1].get("cpu.util"), Some(&Value::Int(3)));
    assert_eq!(e[2].get("user.duration_ms"), Some(&Value::Int(9)));
    assert_eq!(e[3].get("nan"), None, "non-finite values are left out");
    assert_eq!(e[4].get("latency.count"), Some(&Value::Int(4)));
    assert_eq!(e[4].get("latency.sum"), None);
    assert_eq!(e[4].get("latency.avg"), None);
    assert_eq!(e[4].get("metric.temporality"), Some(&s("cumulative")));
    for (k, v) in [
        ("rpc.count", Value::Int(2)),
        ("rpc.sum", Value::Float(10.0)),
        ("rpc.avg", Value::Float(5.0)),
        ("rpc.min", Value::Float(1.0)),
        ("rpc.p50", Value::Float(4.0)),
        ("rpc.p999", Value::Float(8.0)),
        ("rpc.max", Value::Float(9.0)),
    ] {
        assert_eq!(e[5].get(k), Some(&v), "{k}");
    }
}
