//! Hostile and broken OTLP input: truncated protobuf, garbage, deep nesting, decompression
//! bombs, and a property test that no byte string panics a decoder.
#![allow(clippy::unwrap_used)]

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use proptest::prelude::*;
use prost::Message;
use std::io::Write;
use std::path::PathBuf;
use waggle_protocols::body::{decode_body, BodyError, OTLP_BODY_DECOMPRESSED_MAX};
use waggle_protocols::otlp::{decode, Format, Hints, OtlpError, Signal};

/// The crate's directory, read when the test runs (cargo sets it): a value baked in at
/// compile time goes stale when a shared target directory was built from another checkout.
fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string())
}

const SIGNALS: [Signal; 3] = [Signal::Traces, Signal::Logs, Signal::Metrics];
const FORMATS: [Format; 2] = [Format::Protobuf, Format::Json];

fn capture() -> Vec<u8> {
    let p = PathBuf::from(manifest_dir()).join("tests/fixtures/otlp/python-1.45.1-traces-seq28.pb");
    std::fs::read(p).unwrap()
}

#[test]
fn truncated_protobuf_is_an_error_not_a_panic() {
    let body = capture();
    let mut errors = 0;
    for cut in (1..body.len()).step_by(7) {
        match decode(
            Signal::Traces,
            Format::Protobuf,
            &body[..cut],
            &Hints::default(),
        ) {
            Err(e @ OtlpError::Protobuf { .. }) => {
                errors += 1;
                assert!(
                    e.to_string()
                        .starts_with("failed to parse OTLP protobuf ExportTraceServiceRequest: "),
                    "{e}"
                );
            }
            Err(e) => panic!("{e}"),
            Ok(_) => {}
        }
    }
    assert!(
        errors > body.len() / 14,
        "most truncations must fail ({errors})"
    );
}

#[test]
fn garbage_is_refused_with_a_message() {
    for signal in SIGNALS {
        let err = decode(
            signal,
            Format::Protobuf,
            b"\xff\xff\xff\xff",
            &Hints::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains(signal.request_name()), "{err}");
        let err = decode(signal, Format::Json, b"\x00not json", &Hints::default()).unwrap_err();
        assert!(
            err.to_string().starts_with("failed to parse OTLP/JSON"),
            "{err}"
        );
    }
    // A valid empty protobuf message is a valid (empty) request.
    let d = decode(Signal::Traces, Format::Protobuf, b"", &Hints::default()).unwrap();
    assert_eq!((d.accepted, d.rejected), (0, 0));
}

#[test]
fn deeply_nested_protobuf_hits_prosts_recursion_limit() {
    let mut v = AnyValue {
        value: Some(any_value::Value::StringValue("leaf".into())),
    };
    for _ in 0..200 {
        v = AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue { values: vec![v] })),
        };
    }
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: vec![1; 16],
                    span_id: vec![1; 8],
                    attributes: vec![KeyValue {
                        key: "deep".into(),
                        value: Some(v),
                        key_strindex: 0,
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let body = req.encode_to_vec();
    let err = decode(Signal::Traces, Format::Protobuf, &body, &Hints::default()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("recursion limit"), "{text}");
    assert!(text.len() < 700, "long prost paths are cut: {}", text.len());
}

/// Moderately nested values (within prost's limit) are rendered as bounded JSON text.
#[test]
fn nested_protobuf_arrays_become_json() {
    let mut v = AnyValue {
        value: Some(any_value::Value::IntValue(1)),
    };
    for _ in 0..45 {
        v = AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue { values: vec![v] })),
        };
    }
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: vec![1; 16],
                    span_id: vec![1; 8],
                    attributes: vec![KeyValue {
                        key: "deep".into(),
                        value: Some(v),
                        key_strindex: 0,
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let d = decode(
        Signal::Traces,
        Format::Protobuf,
        &req.encode_to_vec(),
        &Hints::default(),
    )
    .unwrap();
    assert_eq!(d.accepted, 1);
    let model::Value::Str(s) = d.events[0].get("deep").unwrap() else {
        panic!()
    };
    assert!(
        s.starts_with("[[[[") && s.contains("null"),
        "cut off below the depth limit: {s}"
    );
}

fn gzip_member(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn gzip_bomb_stops_at_the_cap() {
    // 1 MiB of zeros compresses to ~1 KiB; 100 members = 100 MiB claimed in ~100 KiB.
    let member = gzip_member(&vec![0u8; 1 << 20]);
    let bomb: Vec<u8> = member
        .iter()
        .copied()
        .cycle()
        .take(member.len() * 100)
        .collect();
    assert!(bomb.len() < 200 * 1024);
    let cap = 8 << 20;
    assert_eq!(
        decode_body(Some("gzip"), &bomb, cap),
        Err(BodyError::TooLarge { limit: cap })
    );
    // A body of exactly the cap passes.
    let eight: Vec<u8> = member
        .iter()
        .copied()
        .cycle()
        .take(member.len() * 8)
        .collect();
    assert_eq!(decode_body(Some("gzip"), &eight, cap).unwrap().len(), cap);
}

#[test]
fn zstd_and_deflate_bombs_stop_at_the_cap() {
    let zeros = vec![0u8; 16 << 20];
    let z = zstd::encode_all(&zeros[..], 1).unwrap();
    assert_eq!(
        decode_body(Some("zstd"), &z, 1 << 20),
        Err(BodyError::TooLarge { limit: 1 << 20 })
    );
    let mut d = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    d.write_all(&zeros).unwrap();
    let d = d.finish().unwrap();
    assert_eq!(
        decode_body(Some("deflate"), &d, 1 << 20),
        Err(BodyError::TooLarge { limit: 1 << 20 })
    );
    assert_eq!(
        decode_body(None, &zeros, 1 << 20),
        Err(BodyError::TooLarge { limit: 1 << 20 })
    );
    // 16 MiB is well inside the OTLP limit of 64 MiB.
    assert_eq!(
        decode_body(Some("zstd"), &z, OTLP_BODY_DECOMPRESSED_MAX)
            .unwrap()
            .len(),
        16 << 20
    );
}

#[test]
fn unsupported_encodings() {
    for enc in ["br", "snappy", "lz4", "gzip, br"] {
        assert!(
            matches!(
                decode_body(Some(enc), b"x", 10),
                Err(BodyError::UnsupportedEncoding(_))
            ),
            "{enc}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        for signal in SIGNALS {
            for format in FORMATS {
                let _ = decode(signal, format, &bytes, &Hints::default());
            }
        }
        for enc in ["gzip", "zstd", "deflate", ""] {
            let _ = decode_body(Some(enc), &bytes, 1 << 16);
        }
    }

    #[test]
    fn mutated_capture_never_panics(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8), cut in any::<usize>()) {
        let mut body = capture();
        for (at, b) in flips {
            let i = at % body.len();
            body[i] = b;
        }
        body.truncate(cut % (body.len() + 1));
        let _ = decode(Signal::Traces, Format::Protobuf, &body, &Hints::default());
        let _ = decode(Signal::Metrics, Format::Protobuf, &body, &Hints::default());
    }

    #[test]
    fn mutated_json_never_panics(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
        let path = PathBuf::from(manifest_dir()).join("tests/fixtures/otlp/official/metrics.json");
        let mut body = std::fs::read(path).unwrap();
        for (at, b) in flips {
            let i = at % body.len();
            body[i] = b;
        }
        for signal in SIGNALS {
            let _ = decode(signal, Format::Json, &body, &Hints::default());
        }
    }

    #[test]
    fn json_scalars_anywhere_never_panic(v in json_value()) {
        for shape in [
            serde_json::json!({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":v.clone(),"spanId":v.clone(),"kind":v.clone(),"startTimeUnixNano":v.clone(),"attributes":[{"key":"a","value":{"intValue":v.clone()}}]}]}]}]}),
            serde_json::json!({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":v.clone(),"body":v.clone(),"timeUnixNano":v.clone()}]}]}]}),
            serde_json::json!({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","histogram":{"dataPoints":[{"count":v.clone(),"sum":v.clone(),"min":v.clone()}]}}]}]}]}),
        ] {
            let body = shape.to_string();
            for signal in SIGNALS {
                let _ = decode(signal, Format::Json, body.as_bytes(), &Hints::default());
            }
        }
    }
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        ".{0,20}".prop_map(serde_json::Value::String),
        "[0-9a-fA-F]{0,40}".prop_map(serde_json::Value::String),
        Just(serde_json::Value::String("NaN".into())),
        Just(serde_json::Value::String("1e400".into())),
        Just(serde_json::Value::String("-9223372036854775809".into())),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            proptest::collection::btree_map("[a-zA-Z]{1,12}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}
