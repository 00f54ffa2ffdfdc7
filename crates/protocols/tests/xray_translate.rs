//! X-Ray document → events, checked against the field contract (`src/xray/FIELDS.md`) on the
//! captured SDK datagrams and on hand-made documents; translate∘parse never panics.
#![allow(clippy::unwrap_used)]

use model::{Event, SignalKind, SpanId, TraceId, Value};
use proptest::prelude::*;
use waggle_protocols::xray::translate::no_resolver;
use waggle_protocols::xray::{decode_datagram, parse_documents, translate, Resolved};

const NOW: i64 = 1_795_650_600;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/xray/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn events_of(datagram: &[u8]) -> Vec<Event> {
    let p = decode_datagram(datagram, NOW).unwrap();
    assert!(p.rejected.is_empty(), "{:?}", p.rejected);
    p.documents
        .iter()
        .flat_map(|d| translate(d, &no_resolver))
        .collect()
}

fn s(v: &str) -> Value {
    Value::Str(v.into())
}

#[test]
fn segment_with_embedded_subsegments() {
    let evs = events_of(&fixture("udp-013.datagram"));
    assert_eq!(evs.len(), 3);
    let trace = TraceId::parse("1-6b0773b9-7cca16317ebe6a8ff6435e2b").unwrap();
    let seg = &evs[0];
    assert_eq!(seg.kind, SignalKind::Span);
    assert_eq!(seg.dataset, "backend-flask");
    assert_eq!(seg.service.as_deref(), Some("backend-flask"));
    assert_eq!(seg.name.as_deref(), Some("backend-flask"));
    assert_eq!(seg.trace_id, Some(trace));
    assert_eq!(
        seg.span_id,
        Some(SpanId::parse("045574e145bc6356").unwrap())
    );
    assert_eq!(seg.parent_id, None);
    assert!(
        (seg.time_ns - 1_795_650_489_359_869_500).abs() < 1_000,
        "{}",
        seg.time_ns
    );
    assert!((seg.duration_ms.unwrap() - 0.787).abs() < 1e-3);
    for (k, v) in [
        ("aws.xray.type", s("segment")),
        ("span.kind", s("server")),
        ("type", s("server")),
        ("meta.signal_type", s("trace")),
        ("http.method", s("GET")),
        (
            "http.url",
            s("http://127.0.0.1:45483/api/activities/@andrewbrown"),
        ),
        ("http.user_agent", s("python-requests/2.34.2")),
        ("http.client_ip", s("127.0.0.1")),
        ("http.status_code", Value::Int(200)),
        ("http.response_content_length", Value::Int(260)),
        ("status_code", Value::Int(0)),
        ("aws.xray.sdk", s("X-Ray for Python")),
        ("aws.xray.sdk_version", s("2.15.0")),
        ("aws.xray.sampling_rule_name", s("Default")),
        (
            "aws.xray.service",
            s(r#"{"runtime":"CPython","runtime_version":"3.11.7"}"#),
        ),
    ] {
        assert_eq!(seg.get(k), Some(&v), "{k}");
    }
    assert!(seg.get("aws.xray.in_progress").is_none());
    assert!(seg.get("error").is_none());
    let aws: serde_json::Value =
        serde_json::from_str(seg.get("aws.xray.aws").unwrap().as_str().unwrap()).unwrap();
    assert_eq!(aws["xray"]["sdk_version"], "2.15.0");

    let (sub, leaf) = (&evs[1], &evs[2]);
    assert_eq!(sub.name.as_deref(), Some("activities_users"));
    assert_eq!(sub.dataset, "backend-flask");
    assert_eq!(sub.parent_id, seg.span_id);
    assert_eq!(sub.get("aws.xray.type"), Some(&s("subsegment")));
    assert_eq!(sub.get("aws.xray.namespace"), Some(&s("local")));
    assert_eq!(sub.get("span.kind"), Some(&s("internal")));
    assert_eq!(
        sub.get("aws.xray.parent_segment"),
        Some(&s("045574e145bc6356"))
    );
    assert_eq!(leaf.parent_id, sub.span_id);
    assert_eq!(leaf.get("annotation.handle"), Some(&s("andrewbrown")));
    assert_eq!(
        leaf.get("aws.xray.parent_segment"),
        Some(&s("045574e145bc6356"))
    );
    let md: serde_json::Value =
        serde_json::from_str(leaf.get("aws.xray.metadata").unwrap().as_str().unwrap()).unwrap();
    assert_eq!(md["cruddur"]["result"]["results_size"], 1);
}

#[test]
fn error_and_fault_flags() {
    let e422 = &events_of(&fixture("udp-016.datagram"))[0];
    assert_eq!(e422.get("aws.xray.error"), Some(&Value::Bool(true)));
    assert_eq!(e422.get("status_code"), Some(&Value::Int(0)));
    assert!(e422.get("error").is_none());
    assert!(e422.get("aws.xray.fault").is_none());

    let evs = events_of(&fixture("udp-025.datagram"));
    let seg = &evs[0];
    assert_eq!(seg.get("aws.xray.fault"), Some(&Value::Bool(true)));
    assert_eq!(seg.get("status_code"), Some(&Value::Int(2)));
    assert_eq!(seg.get("error"), Some(&Value::Bool(true)));
    assert_eq!(seg.get("exception.type"), Some(&s("KeyError")));
    assert_eq!(seg.get("exception.message"), Some(&s("'message'")));
    let cause: serde_json::Value =
        serde_json::from_str(seg.get("aws.xray.cause").unwrap().as_str().unwrap()).unwrap();
    assert_eq!(cause["working_directory"], "/backend-flask");

    assert_eq!(evs.len(), 2);
    let x = &evs[1];
    assert_eq!(x.kind, SignalKind::SpanEvent);
    assert_eq!(x.name.as_deref(), Some("exception"));
    assert_eq!(x.parent_id, seg.span_id);
    assert_eq!(x.trace_id, seg.trace_id);
    // end_time 1795650491.9486234
    assert!(
        (x.time_ns - 1_795_650_491_948_623_400).abs() < 1_000,
        "{}",
        x.time_ns
    );
    assert_eq!(x.get("exception.id"), Some(&s("02dcf5582b6bd359")));
    assert_eq!(x.get("meta.annotation_type"), Some(&s("span_event")));
    let st = x.get("exception.stacktrace").unwrap().as_str().unwrap();
    assert!(
        st.starts_with("  File \"serving.py\", line 402, in handle\n"),
        "{st}"
    );
    assert_eq!(st.lines().count(), 10);
}

const T: &str = "1-6b0773b8-f34cca3e4dc04cf2525fe3e2";

fn doc(json: &str) -> Vec<Event> {
    let p = parse_documents(json.as_bytes(), NOW);
    assert!(p.rejected.is_empty(), "{:?}", p.rejected);
    p.documents
        .iter()
        .flat_map(|d| translate(d, &no_resolver))
        .collect()
}

#[test]
fn in_progress_segment() {
    let evs = doc(&format!(
        r#"{{"id":"0000000000000001","name":"a","trace_id":"{T}","start_time":1795650488.5,"in_progress":true}}"#
    ));
    assert_eq!(evs[0].get("aws.xray.in_progress"), Some(&Value::Bool(true)));
    assert_eq!(evs[0].duration_ms, None);
}

#[test]
fn independent_subsegment_uses_the_resolver() {
    let json = format!(
        r#"{{"type":"subsegment","id":"0000000000000002","name":"DynamoDB","trace_id":"{T}","parent_id":"0000000000000001","start_time":1795650488.5,"end_time":1795650488.6,"namespace":"aws","aws":{{"operation":"GetItem","region":"us-east-1","table_name":"users"}},"subsegments":[{{"id":"0000000000000003","name":"marshal","start_time":1795650488.51,"end_time":1795650488.52}}]}}"#
    );
    let p = parse_documents(json.as_bytes(), NOW);
    let d = &p.documents[0];
    assert!(d.independent);
    let unresolved = translate(d, &no_resolver);
    assert_eq!(unresolved[0].dataset, "xray");
    assert!(unresolved[0].get("aws.xray.parent_segment").is_none());
    let resolver = |t: TraceId, parent: SpanId| {
        assert_eq!(t, TraceId::parse(T).unwrap());
        (parent == SpanId::parse("0000000000000001").unwrap()).then(|| Resolved {
            dataset: "orders".into(),
            segment_id: Some(parent),
        })
    };
    let evs = translate(d, &resolver);
    assert_eq!(evs.len(), 2);
    assert_eq!(evs[0].dataset, "orders");
    assert_eq!(evs[0].service.as_deref(), Some("orders"));
    assert_eq!(evs[0].parent_id, SpanId::parse("0000000000000001").ok());
    assert_eq!(evs[0].get("span.kind"), Some(&s("client")));
    assert_eq!(evs[0].get("aws.xray.type"), Some(&s("subsegment")));
    assert_eq!(evs[0].get("aws.operation"), Some(&s("GetItem")));
    assert_eq!(evs[0].get("aws.table_name"), Some(&s("users")));
    assert_eq!(
        evs[0].get("aws.xray.parent_segment"),
        Some(&s("0000000000000001"))
    );
    assert_eq!(evs[1].dataset, "orders");
    assert_eq!(evs[1].parent_id, evs[0].span_id);
    assert_eq!(
        evs[1].get("aws.xray.parent_segment"),
        Some(&s("0000000000000001"))
    );
}

#[test]
fn typed_annotations_sql_user_and_cause_id() {
    let json = format!(
        r#"{{"id":"0000000000000001","name":"a","trace_id":"{T}","start_time":1795650488.5,"end_time":1795650488.4,"user":"ann","origin":"AWS::EC2::Instance","annotations":{{"s":"x","i":3,"f":1.5,"b":false}},"throttle":true,"error":true,"cause":"0b1b0a3e5c8f3d21","sql":{{"url":"pg://db","sanitized_query":"SELECT 1","preparation":"statement"}},"precursor_ids":["0000000000000009"],"service":{{"version":"1.2"}}}}"#
    );
    let e = &doc(&json)[0];
    assert_eq!(e.get("annotation.s"), Some(&s("x")));
    assert_eq!(e.get("annotation.i"), Some(&Value::Int(3)));
    assert_eq!(e.get("annotation.f"), Some(&Value::Float(1.5)));
    assert_eq!(e.get("annotation.b"), Some(&Value::Bool(false)));
    assert_eq!(e.get("enduser.id"), Some(&s("ann")));
    assert_eq!(e.get("aws.xray.origin"), Some(&s("AWS::EC2::Instance")));
    assert_eq!(e.get("aws.xray.throttle"), Some(&Value::Bool(true)));
    assert_eq!(e.get("aws.xray.cause"), Some(&s("\"0b1b0a3e5c8f3d21\"")));
    assert_eq!(e.get("sql.url"), Some(&s("pg://db")));
    assert_eq!(e.get("sql.sanitized_query"), Some(&s("SELECT 1")));
    assert_eq!(e.get("sql.preparation"), Some(&s("statement")));
    assert_eq!(
        e.get("aws.xray.precursor_ids"),
        Some(&s("[\"0000000000000009\"]"))
    );
    assert_eq!(e.get("service.version"), Some(&s("1.2")));
    // end before start: kept, duration 0, flagged as the OTLP translation does.
    assert_eq!(e.duration_ms, Some(0.0));
    assert_eq!(e.get("meta.invalid_duration"), Some(&Value::Bool(true)));
}

#[test]
fn annotations_beyond_the_index_limit_are_counted() {
    let ann: Vec<String> = (0..60).map(|i| format!("\"k{i:02}\":{i}")).collect();
    let json = format!(
        r#"{{"id":"0000000000000001","name":"a","trace_id":"{T}","start_time":1795650488.5,"end_time":1795650488.6,"annotations":{{{}}}}}"#,
        ann.join(",")
    );
    let e = &doc(&json)[0];
    let n = e
        .fields
        .iter()
        .filter(|(k, _)| k.starts_with("annotation."))
        .count();
    assert_eq!(n, 50);
    assert_eq!(e.get("aws.xray.annotations_dropped"), Some(&Value::Int(10)));
}

#[test]
fn put_trace_segments_bodies_from_boto3() {
    for name in [
        "put-trace-segments-070.json",
        "put-trace-segments-088.json",
        "put-trace-segments-148.json",
    ] {
        let body: serde_json::Value = serde_json::from_slice(&fixture(name)).unwrap();
        for d in body["TraceSegmentDocuments"].as_array().unwrap() {
            // These trace ids are from the capture day; "now" is that day.
            let p = parse_documents(d.as_str().unwrap().as_bytes(), NOW);
            assert_eq!(p.documents.len(), 1, "{name}: {:?}", p.rejected);
            let evs = translate(&p.documents[0], &no_resolver);
            assert_eq!(evs[0].get("annotation.source"), Some(&s("boto3")));
        }
    }
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(serde_json::Value::from),
        (-1e12f64..1e12).prop_map(serde_json::Value::from),
        "[0-9a-f]{0,18}".prop_map(serde_json::Value::String),
        Just(serde_json::Value::String(T.into())),
        Just(serde_json::Value::from(1_795_650_488.5)),
    ];
    let key = prop::sample::select(vec![
        "id",
        "name",
        "trace_id",
        "start_time",
        "end_time",
        "in_progress",
        "type",
        "parent_id",
        "namespace",
        "http",
        "request",
        "response",
        "status",
        "aws",
        "xray",
        "cause",
        "exceptions",
        "stack",
        "annotations",
        "metadata",
        "sql",
        "subsegments",
        "fault",
        "error",
        "user",
        "service",
        "precursor_ids",
        "x",
    ]);
    leaf.prop_recursive(6, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..8).prop_map(|m| {
                serde_json::Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

proptest! {
    #[test]
    fn translate_after_parse_never_panics(v in json_value()) {
        let text = v.to_string();
        let p = parse_documents(text.as_bytes(), NOW);
        for d in &p.documents {
            let _ = translate(d, &no_resolver);
        }
    }

    #[test]
    fn valid_shape_with_arbitrary_extras_never_panics(extra in json_value()) {
        let mut base: serde_json::Value = serde_json::from_str(&format!(
            r#"{{"id":"0000000000000001","name":"a","trace_id":"{T}","start_time":1795650488.5,"end_time":1795650488.6}}"#
        )).unwrap();
        if let serde_json::Value::Object(m) = extra {
            for (k, v) in m {
                base[k] = v;
            }
        }
        let text = base.to_string();
        let p = parse_documents(text.as_bytes(), NOW);
        for d in &p.documents {
            let evs = translate(d, &no_resolver);
            prop_assert!(!evs.is_empty());
        }
    }
}
