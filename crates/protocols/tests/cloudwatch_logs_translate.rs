//! Translation and trace linking: the field contract, each trace id field name, traceparent
//! and X-Ray ids in text, garbage; the reverse encoding for events of any protocol; and
//! properties that decoding and translating arbitrary input never panics.
#![allow(clippy::unwrap_used)]

use model::{Event, SignalKind, SpanId, TraceId, Value};
use proptest::prelude::*;
use waggle_protocols::cloudwatch_logs::shapes::*;
use waggle_protocols::cloudwatch_logs::translate::*;

const TS: i64 = 1_795_650_505_004;

fn ev(message: &str) -> Event {
    to_event(&LogEventIn {
        group: "cruddur",
        stream: "vm//app.py/cruddur/1957",
        timestamp_ms: TS,
        message,
        ingestion_time_ms: TS + 145,
        seq: 7,
    })
}

const W3C: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN: &str = "00f067aa0ba902b7";
const XRAY: &str = "1-4bf92f35-77b34da6a3ce929d0e0e4736";

#[test]
fn field_contract() {
    let e = ev("cruddur backend starting (pid 1957)");
    assert_eq!(e.dataset, "cruddur");
    assert_eq!(e.kind, SignalKind::Log);
    assert_eq!(e.time_ns, TS * 1_000_000);
    assert_eq!(e.name, None);
    assert_eq!(
        e.get("body"),
        Some(&Value::Str("cruddur backend starting (pid 1957)".into()))
    );
    assert_eq!(
        e.get("cloudwatch.log_group"),
        Some(&Value::Str("cruddur".into()))
    );
    assert_eq!(
        e.get("cloudwatch.log_stream"),
        Some(&Value::Str("vm//app.py/cruddur/1957".into()))
    );
    assert_eq!(
        e.get("cloudwatch.ingestion_time"),
        Some(&Value::Int(TS + 145))
    );
    assert_eq!(
        e.get("cloudwatch.event_id"),
        Some(&Value::Str(event_id("vm//app.py/cruddur/1957", TS, 7)))
    );
    assert_eq!(e.get("meta.signal_type"), Some(&Value::Str("log".into())));
    assert_eq!(e.trace_id, None);
    assert_eq!(e.get("meta.annotation_type"), None);
}

#[test]
fn json_messages_are_flattened_and_bounded() {
    let e = ev(
        r#"{"level":"ERROR","latency":120.5,"n":3,"ok":true,"nil":null,"http":{"route":"/api","req":{"a":{"b":{"c":{"d":1}}}}},"tags":["a","b"],"body":"inner","cloudwatch.log_group":"spoof","service.name":"backend-flask","name":"n"}"#,
    );
    assert_eq!(e.get("level"), Some(&Value::Str("ERROR".into())));
    assert_eq!(e.get("latency"), Some(&Value::Float(120.5)));
    assert_eq!(e.get("n"), Some(&Value::Int(3)));
    assert_eq!(e.get("ok"), Some(&Value::Bool(true)));
    assert_eq!(e.get("nil"), None);
    assert_eq!(e.get("http.route"), Some(&Value::Str("/api".into())));
    // At most 5 key segments: the object at the fifth stays JSON text.
    assert_eq!(
        e.get("http.req.a.b.c"),
        Some(&Value::Str(r#"{"d":1}"#.into()))
    );
    assert_eq!(e.get("tags"), Some(&Value::Str(r#"["a","b"]"#.into())));
    // The CloudWatch fields win over JSON keys of the same name.
    assert!(matches!(e.get("body"), Some(Value::Str(s)) if s.starts_with('{')));
    assert_eq!(
        e.get("cloudwatch.log_group"),
        Some(&Value::Str("cruddur".into()))
    );
    assert_eq!(e.service.as_deref(), Some("backend-flask"));
    assert_eq!(e.get("user.name"), Some(&Value::Str("n".into())));

    let wide: Vec<String> = (0..500).map(|i| format!(r#""f{i}":{i}"#)).collect();
    let e = ev(&format!("{{{}}}", wide.join(",")));
    let json_fields = e.fields.iter().filter(|(k, _)| k.starts_with('f')).count();
    assert_eq!(json_fields, JSON_FIELDS_MAX);

    // Not an object, or not JSON: only the body.
    for m in [r#"["a"]"#, "{not json}", r#""str""#, "{"] {
        let e = ev(m);
        assert_eq!(e.fields.len(), 6, "{m}");
    }
}

#[test]
fn trace_linking_table() {
    let w3c = TraceId::parse(W3C).unwrap();
    let span = SpanId::parse(SPAN).unwrap();
    let cases: Vec<(String, Option<TraceId>, Option<SpanId>)> = vec![
        (
            format!(r#"{{"trace_id":"{W3C}","span_id":"{SPAN}","msg":"x"}}"#),
            Some(w3c),
            Some(span),
        ),
        (
            format!(r#"{{"traceId":"{W3C}","spanId":"{SPAN}"}}"#),
            Some(w3c),
            Some(span),
        ),
        (
            format!(r#"{{"otelTraceID":"{W3C}","otelSpanID":"{SPAN}"}}"#),
            Some(w3c),
            Some(span),
        ),
        (
            format!(r#"{{"AWS-XRAY-TRACE-ID":"{XRAY}@{SPAN}"}}"#),
            Some(w3c),
            Some(span),
        ),
        (format!(r#"{{"xray_trace_id":"{XRAY}"}}"#), Some(w3c), None),
        (
            format!(r#"{{"xray_trace_id":"Root={XRAY};Parent={SPAN};Sampled=1"}}"#),
            Some(w3c),
            Some(span),
        ),
        (
            format!(r#"{{"traceparent":"00-{W3C}-{SPAN}-01"}}"#),
            Some(w3c),
            Some(span),
        ),
        (
            format!(r#"{{"trace_id":"{}"}}"#, W3C.to_uppercase()),
            Some(w3c),
            None,
        ),
        // 64-bit trace ids are zero-extended (Zipkin/Jaeger style).
        (
            r#"{"trace_id":"a3ce929d0e0e4736"}"#.into(),
            Some(TraceId::parse("a3ce929d0e0e4736").unwrap()),
            None,
        ),
        (
            format!("GET /api traceparent=00-{W3C}-{SPAN}-01 200"),
            Some(w3c),
            Some(span),
        ),
        (format!("[INFO] 00-{W3C}-{SPAN}-00"), Some(w3c), Some(span)),
        (
            format!("X-Amzn-Trace-Id: Root={XRAY};Parent={SPAN};Sampled=1 done"),
            Some(w3c),
            Some(span),
        ),
        (format!(r#"request "Root={XRAY}" ok"#), Some(w3c), None),
        // A JSON field wins over text elsewhere in the message.
        (
            format!(r#"{{"trace_id":"{W3C}","note":"Root=1-5759e988-bd862e3fe1be46a994272793"}}"#),
            Some(w3c),
            None,
        ),
        // Garbage and near misses.
        ("no ids here".into(), None, None),
        (r#"{"trace_id":"not-an-id"}"#.into(), None, None),
        (
            r#"{"trace_id":"00000000000000000000000000000000"}"#.into(),
            None,
            None,
        ),
        (r#"{"trace_id":42}"#.into(), None, None),
        (format!("ff-{W3C}-{SPAN}-01"), None, None),
        (format!("x00-{W3C}-{SPAN}-01"), None, None),
        (format!("00-{W3C}-{SPAN}-01x"), None, None),
        (
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01".into(),
            None,
            None,
        ),
        (
            "Root=1-zzzzzzzz-77b34da6a3ce929d0e0e4736".into(),
            None,
            None,
        ),
        ("Root=".into(), None, None),
        ("Root=1-4bf92f35-77b3é".into(), None, None),
    ];
    for (msg, trace, span) in cases {
        let e = ev(&msg);
        assert_eq!((e.trace_id, e.parent_id), (trace, span), "{msg}");
        assert_eq!(
            e.get("meta.annotation_type").is_some(),
            trace.is_some(),
            "{msg}"
        );
        assert_eq!(e.span_id, None);
    }
}

#[test]
fn encode_round_trip_and_other_protocols() {
    let e = ev("hello from aws cli");
    assert_eq!(
        to_output_event(&e),
        OutputLogEvent {
            timestamp: TS,
            message: "hello from aws cli".into(),
            ingestion_time: TS + 145
        }
    );
    let f = to_filtered_event(&e, "unused", 99);
    assert_eq!(f.log_stream_name, "vm//app.py/cruddur/1957");
    assert_eq!(f.event_id, event_id("vm//app.py/cruddur/1957", TS, 7));
    assert_eq!(f.event_id.len(), 56);
    assert!(f.event_id.bytes().all(|b| b.is_ascii_digit()));

    // An OTLP log: string body, no CloudWatch fields.
    let mut otlp = Event::new("backend-flask", 1_700_000_000_123_456_789, SignalKind::Log);
    otlp.set("body", Value::Str("otlp line".into()));
    otlp.set("severity", Value::Str("info".into()));
    let f = to_filtered_event(&otlp, "backend-flask", 12);
    assert_eq!(f.timestamp, 1_700_000_000_123);
    assert_eq!(f.ingestion_time, 1_700_000_000_123);
    assert_eq!(f.message, "otlp line");
    assert_eq!(f.log_stream_name, "backend-flask");
    assert_eq!(f.event_id, event_id("backend-flask", 1_700_000_000_123, 12));
    assert_ne!(
        f.event_id,
        to_filtered_event(&otlp, "backend-flask", 13).event_id
    );

    // A map body (flattened `body.*`) or no body: the fields as JSON.
    let mut map = Event::new("svc", 0, SignalKind::Log);
    map.set("body.user", Value::Str("andrew".into()));
    map.set("meta.signal_type", Value::Str("log".into()));
    assert_eq!(message_of(&map), r#"{"body.user":"andrew"}"#);
    assert_eq!(message_of(&Event::new("svc", 0, SignalKind::Log)), " ");
}

#[test]
fn event_ids_are_stable_unique_and_time_ordered() {
    let a = event_id("s", TS, 1);
    assert_eq!(a, event_id("s", TS, 1));
    assert_ne!(a, event_id("s", TS, 2));
    assert_ne!(a, event_id("t", TS, 1));
    assert!(event_id("s", TS, 1) < event_id("s", TS + 1, 0));
    assert_eq!(event_id("s", -5, 0).len(), 56);
}

proptest! {
    #[test]
    fn translating_any_message_never_panics(msg in ".{0,300}", ts in any::<i64>(), seq in any::<u64>()) {
        let e = to_event(&LogEventIn { group: "g", stream: "s", timestamp_ms: ts, message: &msg, ingestion_time_ms: ts, seq });
        let _ = to_output_event(&e);
        let _ = to_filtered_event(&e, "d", seq);
    }

    #[test]
    fn id_scanners_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = link_from_text(&text);
        let _ = parse_trace_value(&text);
        let _ = to_event(&LogEventIn { group: "g", stream: "s", timestamp_ms: 0, message: &text, ingestion_time_ms: 0, seq: 0 });
    }

    #[test]
    fn id_like_text_never_panics(s in "(Root=|00-|1-|traceparent|[0-9a-f]{8,32}|[-;@=é ])*") {
        let _ = link_from_text(&s);
        let _ = parse_trace_value(&s);
    }

    #[test]
    fn json_ish_messages_never_panic(s in r#"\{("[a-z]{0,3}":(\{|\[|"[^"]{0,5}"|[0-9]{1,3}|null|true),?){0,20}\}*"#) {
        let _ = to_event(&LogEventIn { group: "g", stream: "s", timestamp_ms: 0, message: &s, ingestion_time_ms: 0, seq: 0 });
    }

    #[test]
    fn decoding_any_body_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = serde_json::from_slice::<PutLogEventsRequest>(&bytes);
        let _ = serde_json::from_slice::<DescribeLogGroupsRequest>(&bytes);
        let _ = serde_json::from_slice::<GetLogEventsRequest>(&bytes);
    }
}
