//! Honeycomb `/1/batch` and `/1/events` decoding: the real libhoney-py capture, msgpack,
//! trace-shaped events and bad input.
#![allow(clippy::unwrap_used)]

use std::io::Read;

use model::{SignalKind, SpanId, TraceId, Value};
use serde_json::json;
use waggle_protocols::honeycomb::{
    decode_batch, decode_single, parse_event_time, BatchItemStatus, EventProblem, HoneycombError,
    EVENT_FIELDS_MAX, FIELD_RAW_TRACE_ID, MSG_EMPTY, MSG_MALFORMED, MSG_TOO_LARGE,
    MSG_TOO_MANY_COLUMNS, STRING_BYTES_MAX,
};

const NOW: i64 = 1_700_000_000_000_000_000;

fn json_batch(body: &serde_json::Value) -> (Vec<(usize, model::Event)>, Vec<BatchItemStatus>) {
    decode_batch(
        "ds",
        Some("application/json"),
        body.to_string().as_bytes(),
        NOW,
    )
    .unwrap()
}

fn single_event(data: serde_json::Value) -> model::Event {
    let (events, statuses) = json_batch(&json!([{ "data": data }]));
    assert_eq!(statuses, vec![BatchItemStatus::accepted()]);
    events.into_iter().next().unwrap().1
}

#[test]
fn libhoney_py_capture_decodes_and_answers_like_the_listener() {
    let gz = std::fs::read(format!(
        "{}/tests/fixtures/honeycomb/libhoney-py-2.4.0-batch.json.gz",
        manifest_dir()
    ))
    .unwrap();
    let mut body = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut body)
        .unwrap();
    assert_eq!(
        body,
        std::fs::read(format!(
            "{}/tests/fixtures/honeycomb/libhoney-py-2.4.0-batch.json",
            manifest_dir()
        ))
        .unwrap()
    );

    let (events, statuses) =
        decode_batch("cruddur-events", Some("application/json"), &body, NOW).unwrap();

    let expected: serde_json::Value = serde_json::from_slice(
        &std::fs::read(format!(
            "{}/tests/fixtures/honeycomb/libhoney-py-2.4.0-batch.response.json",
            manifest_dir()
        ))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(serde_json::to_value(&statuses).unwrap(), expected);

    assert_eq!(events.len(), 2);
    let (i0, e0) = &events[0];
    assert_eq!(*i0, 0);
    assert_eq!(e0.dataset, "cruddur-events");
    assert_eq!(e0.kind, SignalKind::Plain);
    assert_eq!(
        e0.time_ns,
        parse_event_time("2026-11-25T23:48:35.567735Z").unwrap()
    );
    assert_eq!(e0.time_ns % 1_000_000_000, 567_735_000);
    assert_eq!(e0.sample_rate, 1);
    assert_eq!(e0.service.as_deref(), Some("backend-flask"));
    assert_eq!(e0.name.as_deref(), Some("libhoney-probe"));
    assert_eq!(e0.duration_ms, Some(12.5));
    assert_eq!(
        e0.fields,
        vec![
            ("http.status_code".to_string(), Value::Int(200)),
            ("ok".to_string(), Value::Bool(true)),
        ]
    );
    assert!(e0.trace_id.is_none() && e0.span_id.is_none());

    let (i1, e1) = &events[1];
    assert_eq!(*i1, 1);
    assert_eq!(e1.sample_rate, 4);
    assert_eq!(e1.name.as_deref(), Some("libhoney-probe-2"));
    assert!(e1.fields.is_empty());
    assert_eq!(e1.time_ns - e0.time_ns, 358_000);
}

#[test]
fn beeline_span_event_and_link_shapes() {
    let span = single_event(json!({
        "trace.trace_id": "5B8EFFF798038103D269B633813FC60C",
        "trace.span_id": "eee19b7ec3c1b174",
        "trace.parent_id": "eee19b7ec3c1b173",
        "service_name": "api",
        "name": "GET /",
        "duration_ms": 3,
    }));
    assert_eq!(span.kind, SignalKind::Span);
    assert_eq!(
        span.trace_id,
        Some(TraceId::parse("5b8efff798038103d269b633813fc60c").unwrap())
    );
    assert_eq!(
        span.span_id,
        Some(SpanId::parse("eee19b7ec3c1b174").unwrap())
    );
    assert_eq!(
        span.parent_id,
        Some(SpanId::parse("eee19b7ec3c1b173").unwrap())
    );
    assert_eq!(span.service.as_deref(), Some("api"));
    assert_eq!(span.duration_ms, Some(3.0));
    assert_eq!(span.get("service_name"), Some(&Value::Str("api".into())));

    // Beeline UUID span ids are hashed so parent links still resolve.
    let uuid_span = single_event(json!({
        "trace.trace_id": "c6b6b2b1-1111-2222-3333-444455556666",
        "trace.span_id": "7c6b1a6e-aaaa-bbbb-cccc-ddddeeeeffff",
    }));
    assert_eq!(uuid_span.kind, SignalKind::Span);
    assert_eq!(
        uuid_span.span_id,
        SpanId::parse_or_hash("7c6b1a6e-aaaa-bbbb-cccc-ddddeeeeffff")
    );

    let ev = single_event(json!({
        "trace.trace_id": "5b8efff798038103d269b633813fc60c",
        "trace.parent_id": "eee19b7ec3c1b174",
        "meta.annotation_type": "span_event",
        "name": "exception",
    }));
    assert_eq!(ev.kind, SignalKind::SpanEvent);
    assert_eq!(
        ev.get("meta.annotation_type"),
        Some(&Value::Str("span_event".into()))
    );

    let link = single_event(json!({
        "trace.trace_id": "5b8efff798038103d269b633813fc60c",
        "trace.parent_id": "eee19b7ec3c1b174",
        "meta.annotation_type": "link",
        "trace.link.trace_id": "0af7651916cd43dd8448eb211c80319c",
    }));
    assert_eq!(link.kind, SignalKind::Link);

    // A trace id without a span id or annotation is a plain event that still joins its trace.
    let log =
        single_event(json!({"trace.trace_id": "5b8efff798038103d269b633813fc60c", "msg": "hi"}));
    assert_eq!(log.kind, SignalKind::Plain);
    assert!(log.trace_id.is_some());

    let bad = single_event(json!({"trace.trace_id": "not-a-trace", "trace.span_id": "abc"}));
    assert_eq!(bad.kind, SignalKind::Span);
    assert_eq!(bad.trace_id, None);
    assert_eq!(
        bad.get(FIELD_RAW_TRACE_ID),
        Some(&Value::Str("not-a-trace".into()))
    );
}

#[test]
fn fields_keep_order_escape_and_flatten_nothing() {
    // Raw text: `json!` would sort the keys before we see them.
    let body = br#"[{"data":{"zeta":1,"alpha":{"b":[1,2],"a":"x"},"nothing":null,"timestamp":"t",
        "__dataset":"evil","duration_ms":"slow","service.name":"svc","f":1.5}}]"#;
    let (events, _) = decode_batch("ds", None, body, NOW).unwrap();
    let e = &events[0].1;
    assert_eq!(e.service.as_deref(), Some("svc"));
    assert_eq!(e.duration_ms, None);
    assert_eq!(
        e.fields,
        vec![
            ("zeta".to_string(), Value::Int(1)),
            (
                "alpha".to_string(),
                Value::Str(r#"{"a":"x","b":[1,2]}"#.into())
            ),
            ("user.timestamp".to_string(), Value::Str("t".into())),
            ("user.__dataset".to_string(), Value::Str("evil".into())),
            ("user.duration_ms".to_string(), Value::Str("slow".into())),
            ("f".to_string(), Value::Float(1.5)),
        ]
    );
    // Numeric strings are durations too.
    assert_eq!(
        single_event(json!({"duration_ms": "2.5"})).duration_ms,
        Some(2.5)
    );
}

#[test]
fn duplicate_keys_last_value_wins() {
    let body = br#"[{"data":{"a":1,"b":2,"a":3}}]"#;
    let (events, _) = decode_batch("ds", None, body, NOW).unwrap();
    assert_eq!(
        events[0].1.fields,
        vec![
            ("a".to_string(), Value::Int(3)),
            ("b".to_string(), Value::Int(2))
        ]
    );
}

#[test]
fn time_and_samplerate_forms() {
    let s = 1_452_759_330i64 * 1_000_000_000;
    let (events, statuses) = json_batch(&json!([
        {"data": {"a": 1}, "time": "1452759330927"},
        {"data": {"a": 1}, "time": 1452759330},
        {"data": {"a": 1}, "time": 1452759330.25},
        {"data": {"a": 1}, "time": "not a time"},
        {"data": {"a": 1}, "time": {"x": 1}},
        {"data": {"a": 1}},
        {"data": {"a": 1}, "samplerate": 0},
        {"data": {"a": 1}, "samplerate": "5"},
        {"data": {"a": 1}, "samplerate": 2.6},
        {"data": {"a": 1}, "samplerate": -4},
    ]));
    assert!(statuses.iter().all(|s| s.status == 202));
    let times: Vec<i64> = events.iter().map(|(_, e)| e.time_ns).collect();
    assert_eq!(
        &times[..6],
        &[s + 927_000_000, s, s + 250_000_000, NOW, NOW, NOW]
    );
    let rates: Vec<u32> = events.iter().map(|(_, e)| e.sample_rate).collect();
    assert_eq!(&rates[6..], &[1, 5, 3, 1]);
}

#[test]
fn per_event_statuses_are_positional() {
    let wide: serde_json::Map<String, serde_json::Value> = (0..=EVENT_FIELDS_MAX)
        .map(|i| (format!("f{i}"), json!(i)))
        .collect();
    let widest_ok: serde_json::Map<String, serde_json::Value> = (0..EVENT_FIELDS_MAX)
        .map(|i| (format!("f{i}"), json!(i)))
        .collect();
    let huge = "x".repeat(1_000_001);
    let (events, statuses) = json_batch(&json!([
        {"data": {"ok": 1}},
        {"data": {}},
        {"time": "1452759330"},
        {"data": "a string"},
        7,
        {"data": wide},
        {"data": {"big": huge}},
        {"data": widest_ok},
        {"data": {"k".repeat(256): 1}},
        {"data": {"ok": 2}},
    ]));
    let bad = |m: &str| BatchItemStatus {
        status: 400,
        error: Some(m.to_string()),
    };
    assert_eq!(
        statuses,
        vec![
            BatchItemStatus::accepted(),
            bad(MSG_EMPTY),
            bad(MSG_EMPTY),
            bad(MSG_MALFORMED),
            bad(MSG_MALFORMED),
            bad(MSG_TOO_MANY_COLUMNS),
            bad(MSG_TOO_LARGE),
            BatchItemStatus::accepted(),
            bad(&EventProblem::KeyTooLong.to_string()),
            BatchItemStatus::accepted(),
        ]
    );
    let indices: Vec<usize> = events.iter().map(|(i, _)| *i).collect();
    assert_eq!(indices, vec![0, 7, 9]);
    assert_eq!(
        serde_json::to_value(&statuses[..2]).unwrap(),
        json!([{"status": 202}, {"status": 400, "error": "Request body should not be empty."}])
    );
}

#[test]
fn long_strings_are_truncated_at_a_char_boundary() {
    let long = format!("{}é{}", "a".repeat(STRING_BYTES_MAX - 1), "b".repeat(100));
    let e = single_event(json!({"s": long}));
    let Some(Value::Str(s)) = e.get("s") else {
        panic!("no s")
    };
    assert_eq!(s.len(), STRING_BYTES_MAX - 1);
    assert!(s.bytes().all(|b| b == b'a'));
}

#[test]
fn whole_request_errors() {
    let cases: &[(&[u8], HoneycombError)] = &[
        (b"", HoneycombError::Empty),
        (b"  \n", HoneycombError::Empty),
        (b"{\"data\":{}}", HoneycombError::NotArray),
        (b"\"str\"", HoneycombError::NotArray),
        (b"[{\"data\":", HoneycombError::Malformed),
        (b"[1,]", HoneycombError::Malformed),
        (b"\xff\xfe", HoneycombError::Malformed),
    ];
    for (body, want) in cases {
        let got = decode_batch("ds", Some("application/json"), body, NOW).unwrap_err();
        assert_eq!(&got, want, "{}", String::from_utf8_lossy(body));
        assert_eq!(got.status(), 400);
    }
    assert_eq!(
        HoneycombError::Malformed.body(),
        json!({"error": "Request body is malformed and cannot be read."})
    );
    let (events, statuses) = decode_batch("ds", None, b"[]", NOW).unwrap();
    assert!(events.is_empty() && statuses.is_empty());
    let too_big = vec![b' '; waggle_protocols::honeycomb::BATCH_BYTES_MAX + 1];
    assert_eq!(
        decode_batch("ds", None, &too_big, NOW).unwrap_err(),
        HoneycombError::TooLarge
    );
}

#[test]
fn single_event_endpoint() {
    let e = decode_single(
        "My Dataset",
        Some("application/json; charset=utf-8"),
        br#"{"name":"one","n":2}"#,
        Some("1452759330"),
        Some("10"),
        NOW,
    )
    .unwrap();
    assert_eq!(e.dataset, "My Dataset");
    assert_eq!(e.time_ns, 1_452_759_330_000_000_000);
    assert_eq!(e.sample_rate, 10);
    assert_eq!(e.name.as_deref(), Some("one"));

    let e = decode_single("ds", None, br#"{"a":1}"#, Some("garbage"), Some("x"), NOW).unwrap();
    assert_eq!((e.time_ns, e.sample_rate), (NOW, 1));

    assert_eq!(
        decode_single("ds", None, b"[1]", None, None, NOW).unwrap_err(),
        HoneycombError::NotObject
    );
    assert_eq!(
        decode_single("ds", None, b"{", None, None, NOW).unwrap_err(),
        HoneycombError::Malformed
    );
    assert_eq!(
        decode_single("ds", None, b"{}", None, None, NOW).unwrap_err(),
        HoneycombError::Event(EventProblem::Empty)
    );
    let wide: serde_json::Map<String, serde_json::Value> = (0..=EVENT_FIELDS_MAX)
        .map(|i| (format!("f{i}"), json!(i)))
        .collect();
    let err = decode_single(
        "ds",
        None,
        json!(wide).to_string().as_bytes(),
        None,
        None,
        NOW,
    )
    .unwrap_err();
    assert_eq!(err.body(), json!({"error": "Event has too many columns."}));
}

// ---------------------------------------------------------------------------------------
// msgpack

fn mp_str(s: &str) -> rmpv::Value {
    rmpv::Value::String(s.into())
}

fn mp_encode(v: &rmpv::Value) -> Vec<u8> {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, v).unwrap();
    out
}

fn ts64(secs: u64, nanos: u64) -> rmpv::Value {
    rmpv::Value::Ext(-1, ((nanos << 34) | secs).to_be_bytes().to_vec())
}

#[test]
fn msgpack_batch_like_libhoney_go() {
    let mut ts96 = 5u32.to_be_bytes().to_vec();
    ts96.extend_from_slice(&1_452_759_330i64.to_be_bytes());
    let batch = rmpv::Value::Array(vec![
        rmpv::Value::Map(vec![
            (
                mp_str("data"),
                rmpv::Value::Map(vec![
                    (mp_str("name"), mp_str("mp")),
                    (
                        mp_str("trace.trace_id"),
                        mp_str("0af7651916cd43dd8448eb211c80319c"),
                    ),
                    (mp_str("trace.span_id"), mp_str("b7ad6b7169203331")),
                    (mp_str("n"), rmpv::Value::from(7)),
                    (mp_str("f"), rmpv::Value::F64(0.5)),
                    (mp_str("ok"), rmpv::Value::Boolean(false)),
                    (mp_str("nil"), rmpv::Value::Nil),
                    (mp_str("bin"), rmpv::Value::Binary(vec![1, 2, 3])),
                    (
                        mp_str("arr"),
                        rmpv::Value::Array(vec![rmpv::Value::from(1), mp_str("x")]),
                    ),
                    (mp_str("when"), ts64(1_452_759_330, 1)),
                ]),
            ),
            (mp_str("time"), ts64(1_452_759_330, 927_000_000)),
            (mp_str("samplerate"), rmpv::Value::from(3)),
        ]),
        rmpv::Value::Map(vec![
            (
                mp_str("data"),
                rmpv::Value::Map(vec![(mp_str("a"), rmpv::Value::from(1))]),
            ),
            (mp_str("time"), rmpv::Value::Ext(-1, ts96)),
        ]),
        rmpv::Value::Map(vec![
            (
                mp_str("data"),
                rmpv::Value::Map(vec![(mp_str("a"), rmpv::Value::from(1))]),
            ),
            (mp_str("time"), mp_str("2016-01-14T08:15:30Z")),
        ]),
        rmpv::Value::Map(vec![(mp_str("data"), rmpv::Value::Map(vec![]))]),
        rmpv::Value::from(5),
        rmpv::Value::Map(vec![(
            mp_str("data"),
            rmpv::Value::Map(vec![(rmpv::Value::from(1), rmpv::Value::from(1))]),
        )]),
    ]);
    for ct in ["application/msgpack", "application/x-msgpack"] {
        let (events, statuses) = decode_batch("ds", Some(ct), &mp_encode(&batch), NOW).unwrap();
        let codes: Vec<u16> = statuses.iter().map(|s| s.status).collect();
        assert_eq!(codes, vec![202, 202, 202, 400, 400, 400]);
        let e = &events[0].1;
        assert_eq!(e.kind, SignalKind::Span);
        assert_eq!(e.time_ns, 1_452_759_330_927_000_000);
        assert_eq!(e.sample_rate, 3);
        assert_eq!(e.name.as_deref(), Some("mp"));
        assert_eq!(
            e.fields,
            vec![
                ("n".to_string(), Value::Int(7)),
                ("f".to_string(), Value::Float(0.5)),
                ("ok".to_string(), Value::Bool(false)),
                ("bin".to_string(), Value::Str("AQID".into())),
                ("arr".to_string(), Value::Str(r#"[1,"x"]"#.into())),
                (
                    "when".to_string(),
                    Value::Str("2016-01-14T08:15:30.000000001Z".into())
                ),
            ]
        );
        assert_eq!(events[1].1.time_ns, 1_452_759_330_000_000_005);
        assert_eq!(events[2].1.time_ns, 1_452_759_330_000_000_000);
    }
}

#[test]
fn msgpack_bad_input() {
    let not_array = mp_encode(&rmpv::Value::Map(vec![]));
    assert_eq!(
        decode_batch("ds", Some("application/msgpack"), &not_array, NOW).unwrap_err(),
        HoneycombError::NotArray
    );
    // Declares 3 elements, carries one: the stream cannot be resynchronised.
    let mut short = vec![0x93];
    short.extend(mp_encode(&rmpv::Value::Map(vec![])));
    assert_eq!(
        decode_batch("ds", Some("application/msgpack"), &short, NOW).unwrap_err(),
        HoneycombError::Malformed
    );
    // array32 claiming u32::MAX elements in 5 bytes must not allocate for them.
    assert_eq!(
        decode_batch(
            "ds",
            Some("application/msgpack"),
            &[0xdd, 0xff, 0xff, 0xff, 0xff],
            NOW
        )
        .unwrap_err(),
        HoneycombError::Malformed
    );
    let single = mp_encode(&rmpv::Value::Map(vec![(mp_str("a"), rmpv::Value::from(1))]));
    let e = decode_single("ds", Some("application/msgpack"), &single, None, None, NOW).unwrap();
    assert_eq!(e.fields, vec![("a".to_string(), Value::Int(1))]);
}

proptest::proptest! {
    #[test]
    fn random_bytes_never_panic(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
        for ct in [None, Some("application/msgpack")] {
            if let Ok((events, statuses)) = decode_batch("ds", ct, &body, NOW) {
                proptest::prop_assert!(events.len() <= statuses.len());
            }
            let _ = decode_single("ds", ct, &body, None, None, NOW);
        }
    }

    #[test]
    fn random_json_arrays_get_one_status_each(
        items in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::strategy::Just(json!({"data": {"a": 1}})),
                proptest::strategy::Just(json!({"data": {}})),
                proptest::strategy::Just(json!(null)),
                "[a-z]{0,8}".prop_map(|k| json!({"data": {k: "v"}, "time": "x"})),
            ],
            0..40,
        )
    ) {
        let body = serde_json::Value::Array(items.clone()).to_string();
        let (events, statuses) = decode_batch("ds", None, body.as_bytes(), NOW).unwrap();
        proptest::prop_assert_eq!(statuses.len(), items.len());
        proptest::prop_assert_eq!(events.len(), statuses.iter().filter(|s| s.status == 202).count());
    }
}

use proptest::strategy::Strategy;

/// The crate's directory, read when the test runs (cargo sets it): a value baked in at
/// compile time goes stale when a shared target directory was built from another checkout.
fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string())
}
