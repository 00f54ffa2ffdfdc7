//! OTLP/JSON mapping edge cases (the table in otlp-honeycomb.md §4.1 and the Traps in §12):
//! what opentelemetry-proto's serde gets wrong, we must get right.
#![allow(clippy::unwrap_used)]

use model::{SignalKind, TraceId, Value};
use serde_json::json;
use waggle_protocols::otlp::{decode, Decoded, Format, Hints, OtlpError, Signal};

fn span_json(span: serde_json::Value) -> Vec<u8> {
    json!({"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},
        "scopeSpans":[{"scope":{"name":"lib"},"spans":[span]}]}]})
    .to_string()
    .into_bytes()
}

fn base() -> serde_json::Value {
    json!({
        "traceId": "5B8EFFF798038103D269B633813FC60C",
        "spanId": "EEE19B7EC3C1B174",
        "name": "s",
        "startTimeUnixNano": "1544712660000000000",
        "endTimeUnixNano": "1544712661000000000",
        "kind": 2
    })
}

fn with(changes: serde_json::Value) -> Vec<u8> {
    let mut s = base();
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() && k.starts_with('-') {
            s.as_object_mut().unwrap().remove(&k[1..]);
        } else {
            s[k] = v.clone();
        }
    }
    span_json(s)
}

fn traces(body: &[u8]) -> Decoded {
    decode(Signal::Traces, Format::Json, body, &Hints::default()).unwrap()
}

fn ok_span(body: &[u8]) -> model::Event {
    let d = traces(body);
    assert_eq!((d.accepted, d.rejected), (1, 0), "{:?}", d.message);
    d.events.into_iter().next().unwrap()
}

fn attr(value: serde_json::Value) -> Option<Value> {
    let e = ok_span(&with(json!({"attributes":[{"key":"a","value":value}]})));
    e.get("a").cloned()
}

const TRACE_HEX: &str = "5b8efff798038103d269b633813fc60c";

#[test]
fn id_forms() {
    let rows = [
        (
            "uppercase hex",
            json!({"traceId": "5B8EFFF798038103D269B633813FC60C"}),
            TRACE_HEX,
        ),
        ("lowercase hex", json!({"traceId": TRACE_HEX}), TRACE_HEX),
        (
            "0x prefix",
            json!({"traceId": format!("0x{TRACE_HEX}")}),
            TRACE_HEX,
        ),
        (
            "base64 (Go protojson / husky tests)",
            json!({"traceId": "W47/95gDgQPSabYzgT/GDA=="}),
            TRACE_HEX,
        ),
        (
            "64-bit hex trace id is zero-extended",
            json!({"traceId": "d269b633813fc60c"}),
            "0000000000000000d269b633813fc60c",
        ),
        (
            "snake_case key",
            json!({"-traceId": null, "trace_id": TRACE_HEX}),
            TRACE_HEX,
        ),
    ];
    for (what, change, want) in rows {
        let e = ok_span(&with(change));
        assert_eq!(e.trace_id, Some(TraceId::parse(want).unwrap()), "{what}");
    }
    let e = ok_span(&with(json!({"spanId": "W47/95gDgQM="})));
    assert_eq!(e.span_id.unwrap().to_hex(), "5b8efff798038103");
}

#[test]
fn parent_forms() {
    for (what, change) in [
        ("empty string is root", json!({"parentSpanId": ""})),
        ("null is root", json!({"parentSpanId": null})),
        ("absent is root", json!({})),
    ] {
        assert_eq!(ok_span(&with(change)).parent_id, None, "{what}");
    }
    let e = ok_span(&with(json!({"parent_span_id": "EEE19B7EC3C1B173"})));
    assert_eq!(e.parent_id.unwrap().to_hex(), "eee19b7ec3c1b173");
}

#[test]
fn bad_items_are_rejected_with_their_path() {
    let rows = [
        (
            "non-hex id",
            json!({"traceId": "xyz"}),
            r#"spans[1].traceId: "xyz" is not a valid id: expected 32 hex digits"#,
        ),
        (
            "wrong length hex",
            json!({"spanId": "EEE19B7E"}),
            "spans[1].spanId: \"EEE19B7E\" is not a valid id",
        ),
        (
            "id as number",
            json!({"spanId": 12}),
            "spans[1].spanId: expected a hex string, found a number",
        ),
        (
            "empty trace id",
            json!({"traceId": ""}),
            "trace_id has 0 bytes",
        ),
        (
            "missing span id",
            json!({"-spanId": null}),
            "span_id has 0 bytes",
        ),
        (
            "unknown kind name",
            json!({"kind": "SPAN_KIND_NOPE"}),
            "spans[1].kind: unknown value \"SPAN_KIND_NOPE\"",
        ),
        (
            "timestamp not a number",
            json!({"startTimeUnixNano": "soon"}),
            "spans[1].startTimeUnixNano: expected an integer",
        ),
        (
            "negative fixed64",
            json!({"startTimeUnixNano": "-1"}),
            "-1 is out of range for uint64",
        ),
        (
            "attributes not an array",
            json!({"attributes": {"a": 1}}),
            "spans[1].attributes: expected an array, found an object",
        ),
        (
            "bad intValue",
            json!({"attributes": [{"key":"a","value":{"intValue":"1.5"}}]}),
            "spans[1].attributes[0].value.intValue: expected an integer",
        ),
        (
            "bad bytesValue",
            json!({"attributes": [{"key":"a","value":{"bytesValue":"!!"}}]}),
            "bytesValue: \"!!\" is not base64",
        ),
        ("span not an object", json!(null), ""),
    ];
    for (what, change, msg) in rows {
        let body = if change.is_null() {
            json!({"resourceSpans":[{"scopeSpans":[{"spans":[base(), 7, base()]}]}]})
                .to_string()
                .into_bytes()
        } else {
            let mut good = base();
            let bad = {
                let mut b = base();
                for (k, v) in change.as_object().unwrap() {
                    if v.is_null() && k.starts_with('-') {
                        b.as_object_mut().unwrap().remove(&k[1..]);
                    } else {
                        b[k] = v.clone();
                    }
                }
                b
            };
            good["name"] = json!("good");
            json!({"resourceSpans":[{"scopeSpans":[{"spans":[good.clone(), bad, good]}]}]})
                .to_string()
                .into_bytes()
        };
        let d = traces(&body);
        assert_eq!((d.accepted, d.rejected), (2, 1), "{what}: {:?}", d.message);
        let m = d.message.unwrap();
        assert!(
            m.starts_with("rejected 1 spans: resourceSpans[0].scopeSpans[0].spans[1]"),
            "{what}: {m}"
        );
        assert!(m.contains(msg), "{what}: {m}");
    }
}

#[test]
fn lenient_scalars() {
    let rows = [
        (
            "kind as enum name",
            json!({"kind": "SPAN_KIND_CLIENT"}),
            "span.kind",
            Value::Str("client".into()),
        ),
        (
            "kind as short name",
            json!({"kind": "consumer"}),
            "span.kind",
            Value::Str("consumer".into()),
        ),
        (
            "kind quoted int",
            json!({"kind": "4"}),
            "span.kind",
            Value::Str("producer".into()),
        ),
        (
            "status code name",
            json!({"status": {"code": "STATUS_CODE_ERROR"}}),
            "status_code",
            Value::Int(2),
        ),
        (
            "status code quoted",
            json!({"status": {"code": "2", "message": "m"}}),
            "error",
            Value::Bool(true),
        ),
        (
            "flags quoted",
            json!({"flags": "256", "droppedAttributesCount": "3"}),
            "status_code",
            Value::Int(0),
        ),
        (
            "unknown field ignored",
            json!({"somethingNew": {"x": [1, 2]}}),
            "status_code",
            Value::Int(0),
        ),
        (
            "status null",
            json!({"status": null}),
            "status_code",
            Value::Int(0),
        ),
        (
            "attributes null",
            json!({"attributes": null}),
            "status_code",
            Value::Int(0),
        ),
    ];
    for (what, change, key, want) in rows {
        let e = ok_span(&with(change));
        assert_eq!(e.get(key), Some(&want), "{what}: {:?}", e.fields);
    }
    let e = ok_span(&with(
        json!({"startTimeUnixNano": 1544712660000000001u64, "endTimeUnixNano": "1544712660000000002"}),
    ));
    assert_eq!(
        e.time_ns, 1_544_712_660_000_000_001,
        "timestamps keep nanoseconds as numbers or strings"
    );
    assert_eq!(e.duration_ms, Some(0.000001));
}

#[test]
fn attribute_values() {
    let rows: Vec<(&str, serde_json::Value, Option<Value>)> = vec![
        (
            "string",
            json!({"stringValue": "x"}),
            Some(Value::Str("x".into())),
        ),
        (
            "int as string",
            json!({"intValue": "10"}),
            Some(Value::Int(10)),
        ),
        (
            "int as number (JS SDK)",
            json!({"intValue": 5893}),
            Some(Value::Int(5893)),
        ),
        (
            "int64 max",
            json!({"intValue": "9223372036854775807"}),
            Some(Value::Int(i64::MAX)),
        ),
        ("bool", json!({"boolValue": true}), Some(Value::Bool(true))),
        (
            "double",
            json!({"doubleValue": 637.704}),
            Some(Value::Float(637.704)),
        ),
        (
            "double as string",
            json!({"doubleValue": "2.5"}),
            Some(Value::Float(2.5)),
        ),
        (
            "NaN",
            json!({"doubleValue": "NaN"}),
            Some(Value::Str("NaN".into())),
        ),
        (
            "Infinity",
            json!({"doubleValue": "Infinity"}),
            Some(Value::Str("Infinity".into())),
        ),
        (
            "array",
            json!({"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": "1"}, {}]}}),
            Some(Value::Str(r#"["a",1,null]"#.into())),
        ),
        (
            "empty array",
            json!({"arrayValue": {}}),
            Some(Value::Str("[]".into())),
        ),
        (
            "bytes",
            json!({"bytesValue": "AQID"}),
            Some(Value::Str(r#""AQID""#.into())),
        ),
        ("empty AnyValue", json!({}), None),
        ("null value", json!(null), None),
        (
            "snake_case value key",
            json!({"string_value": "y"}),
            Some(Value::Str("y".into())),
        ),
    ];
    for (what, v, want) in rows {
        assert_eq!(attr(v), want, "{what}");
    }
    let e = ok_span(&with(
        json!({"attributes":[{"key":"m","value":{"kvlistValue":{"values":[{"key":"k","value":{"intValue":"1"}}]}}}, {"key":"novalue"}]}),
    ));
    assert_eq!(e.get("m.k"), Some(&Value::Int(1)));
    assert_eq!(e.get("novalue"), None);
}

#[test]
fn empty_and_null_requests_succeed() {
    for body in [
        "{}",
        r#"{"resourceSpans":[]}"#,
        r#"{"resourceSpans":null}"#,
        r#"{"resourceSpans":[{}]}"#,
        r#"{"resourceSpans":[{"resource":null,"scopeSpans":[{"scope":null,"spans":[]}]}]}"#,
        r#"{"resource_spans":[{"scope_spans":[{}]}]}"#,
    ] {
        let d = traces(body.as_bytes());
        assert_eq!(
            (d.accepted, d.rejected, d.events.len()),
            (0, 0, 0),
            "{body}"
        );
    }
}

#[test]
fn whole_request_errors_are_readable() {
    let rows = [
        ("not JSON", "{nope", "failed to parse OTLP/JSON ExportTraceServiceRequest: invalid JSON"),
        ("array at top", "[]", "expected an object, found an array"),
        ("resourceSpans wrong type", r#"{"resourceSpans":{}}"#, "resourceSpans: expected an array, found an object"),
        ("resource wrong type", r#"{"resourceSpans":[{"resource":[]}]}"#, "resourceSpans[0].resource: expected an object"),
        ("scope attr wrong type", r#"{"resourceSpans":[{"scopeSpans":[{"scope":{"attributes":[{"key":"a","value":{"intValue":true}}]}}]}]}"#, "resourceSpans[0].scopeSpans[0].scope.attributes[0].value.intValue: expected an integer"),
        ("empty body", "", "invalid JSON"),
    ];
    for (what, body, msg) in rows {
        let err = decode(
            Signal::Traces,
            Format::Json,
            body.as_bytes(),
            &Hints::default(),
        )
        .unwrap_err();
        assert!(matches!(err, OtlpError::Json { .. }), "{what}");
        let text = err.to_string();
        assert!(text.contains(msg), "{what}: {text}");
    }
}

#[test]
fn deep_nesting_is_bounded() {
    // Deeper than our AnyValue limit (32) but inside serde_json's (128): the span is rejected.
    let mut v = json!({"stringValue": "leaf"});
    for _ in 0..35 {
        v = json!({"arrayValue": {"values": [v]}});
    }
    let d = traces(&with(json!({"attributes": [{"key": "deep", "value": v}]})));
    assert_eq!((d.accepted, d.rejected), (0, 1));
    assert!(d
        .message
        .unwrap()
        .contains("value nests deeper than 32 levels"));

    // Deeper than serde_json's recursion limit: the body is refused, nothing overflows.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let err = decode(
        Signal::Logs,
        Format::Json,
        deep.as_bytes(),
        &Hints::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("recursion limit"), "{err}");
}

#[test]
fn logs_json() {
    let body = json!({"resourceLogs":[{"scopeLogs":[{"logRecords":[
        {"timeUnixNano":"0","observedTimeUnixNano":"1544712660300000000","severityNumber":"SEVERITY_NUMBER_WARN",
         "body":{"kvlistValue":{"values":[{"key":"msg","value":{"stringValue":"hi"}}]}},
         "traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174"},
        {"severityNumber": 9, "traceId": "zz"}
    ]}]}]});
    let d = decode(
        Signal::Logs,
        Format::Json,
        body.to_string().as_bytes(),
        &Hints {
            dataset_header: Some("logs"),
        },
    )
    .unwrap();
    assert_eq!((d.accepted, d.rejected), (1, 1));
    let e = &d.events[0];
    assert_eq!(e.kind, SignalKind::Log);
    assert_eq!(e.dataset, "logs");
    assert_eq!(e.time_ns, 1_544_712_660_300_000_000);
    assert_eq!(e.get("severity"), Some(&Value::Str("warn".into())));
    assert_eq!(e.get("body.msg"), Some(&Value::Str("hi".into())));
    assert!(d.message.unwrap().contains("logRecords[1].traceId"));
}

#[test]
fn metrics_json() {
    let body = json!({"resourceMetrics":[{"scopeMetrics":[{"metrics":[
        {"name":"c","sum":{"aggregationTemporality":"AGGREGATION_TEMPORALITY_CUMULATIVE","isMonotonic":true,
            "dataPoints":[{"asInt":"42","timeUnixNano":"1544712660300000000"},{"asInt":42},{"asDouble":"abc"}]}},
        {"name":"h","histogram":{"dataPoints":[{"count":"x"},{"count":"2","sum":3,"bucketCounts":["1","1"],"explicitBounds":[1]}]}},
        {"name":"both","gauge":{"dataPoints":[{"asInt":1}]},"sum":{"dataPoints":[{"asInt":1},{"asInt":2}]}},
        {"name":"nodata"}
    ]}]}]});
    let d = decode(
        Signal::Metrics,
        Format::Json,
        body.to_string().as_bytes(),
        &Hints::default(),
    )
    .unwrap();
    // c: 2 good + 1 bad; h: 1 bad + 1 good; both: 3 rejected (a metric with two data kinds).
    assert_eq!((d.accepted, d.rejected), (3, 5), "{:?}", d.message);
    let m = d.message.unwrap();
    assert!(
        m.contains("metrics[0].sum.dataPoints[2].asDouble: expected a number"),
        "{m}"
    );
    assert!(
        m.contains("metrics[1].histogram.dataPoints[0].count: expected an integer"),
        "{m}"
    );
    assert!(m.contains("metrics[2]: metric has more than one of"), "{m}");
    assert_eq!(d.events[0].get("c"), Some(&Value::Int(42)));
    assert_eq!(
        d.events[0].get("metric.temporality"),
        Some(&Value::Str("cumulative".into()))
    );
    assert_eq!(d.events[1].get("c"), Some(&Value::Int(42)));
    assert_eq!(d.events[2].get("h.avg"), Some(&Value::Float(1.5)));
}
