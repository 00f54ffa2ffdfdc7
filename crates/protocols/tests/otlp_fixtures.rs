//! OTLP payloads from a real client (captured, see fixtures/otlp/README.md) and the spec's
//! official JSON examples, decoded end to end.
#![allow(clippy::unwrap_used)]

use model::{Event, SignalKind, SpanId, TraceId, Value};
use std::path::PathBuf;
use waggle_protocols::body::{decode_body, OTLP_BODY_DECOMPRESSED_MAX};
use waggle_protocols::otlp::{decode, Format, Hints, Signal};

/// The crate's directory, read when the test runs (cargo sets it): a value baked in at
/// compile time goes stale when a shared target directory was built from another checkout.
fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string())
}

fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(manifest_dir())
        .join("tests/fixtures/otlp")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn field<'a>(e: &'a Event, k: &str) -> Option<&'a Value> {
    e.get(k)
}

fn s(v: &str) -> Option<Value> {
    Some(Value::Str(v.into()))
}

#[test]
fn python_exporter_flask_batch() {
    let body = fixture("python-1.45.1-traces-seq28.pb");
    let d = decode(Signal::Traces, Format::Protobuf, &body, &Hints::default()).unwrap();
    assert_eq!(
        (d.accepted, d.rejected, d.message.as_deref()),
        (25, 0, None)
    );
    let spans: Vec<&Event> = d
        .events
        .iter()
        .filter(|e| e.kind == SignalKind::Span)
        .collect();
    assert_eq!(spans.len(), 25);
    // One exception span event, on the 500 request.
    assert_eq!(d.events.len(), 26);
    for e in &d.events {
        assert_eq!(e.dataset, "backend-flask");
        assert_eq!(e.service.as_deref(), Some("backend-flask"));
        assert_eq!(e.sample_rate, 1);
        assert!(e.time_ns > 1_700_000_000_000_000_000, "{e:?}");
        assert!(e.resource_keys.contains(&"service.instance.id".to_string()));
        assert!(!e.resource_keys.contains(&"service.name".to_string()));
        assert_eq!(
            field(e, "service.name"),
            None,
            "service.name lives in Event::service"
        );
    }
    for e in &spans {
        assert!(e.duration_ms.unwrap() >= 0.0);
        assert!(e.span_id.is_some() && e.trace_id.is_some());
        assert_eq!(field(e, "meta.signal_type"), s("trace").as_ref());
    }

    let failed = spans
        .iter()
        .find(|e| field(e, "http.status_code") == Some(&Value::Int(500)))
        .unwrap();
    assert_eq!(failed.name.as_deref(), Some("POST /api/activities"));
    assert_eq!(field(failed, "status_code"), Some(&Value::Int(2)));
    assert_eq!(field(failed, "error"), Some(&Value::Bool(true)));
    assert_eq!(
        field(failed, "status_message"),
        s("KeyError: 'message'").as_ref()
    );
    assert_eq!(
        field(failed, "exception.type"),
        s("KeyError").as_ref(),
        "copied from the exception event"
    );
    assert_eq!(field(failed, "span.num_events"), Some(&Value::Int(1)));
    assert_eq!(
        field(failed, "library.name"),
        s("opentelemetry.instrumentation.flask").as_ref()
    );
    assert_eq!(
        field(failed, "telemetry.instrumentation_library"),
        Some(&Value::Bool(true))
    );

    let exc = d
        .events
        .iter()
        .find(|e| e.kind == SignalKind::SpanEvent)
        .unwrap();
    assert_eq!(exc.name.as_deref(), Some("exception"));
    assert_eq!(exc.parent_id, failed.span_id);
    assert_eq!(exc.trace_id, failed.trace_id);
    assert_eq!(exc.span_id, None);
    assert_eq!(exc.duration_ms, None);
    assert_eq!(field(exc, "meta.annotation_type"), s("span_event").as_ref());
    assert_eq!(
        field(exc, "parent_name"),
        s("POST /api/activities").as_ref()
    );
    assert_eq!(field(exc, "error"), Some(&Value::Bool(true)));
    assert!(
        matches!(field(exc, "meta.time_since_span_start_ms"), Some(Value::Float(f)) if *f >= 0.0)
    );

    // 4xx is not an error (status UNSET); a 404 has no http.route.
    let not_found = spans
        .iter()
        .find(|e| field(e, "http.status_code") == Some(&Value::Int(404)))
        .unwrap();
    assert_eq!(field(not_found, "error"), None);
    assert_eq!(field(not_found, "http.route"), None);

    // Custom spans are children of a Flask server span in the same batch.
    let child = spans
        .iter()
        .find(|e| e.name.as_deref() == Some("home-activities-mock-data"))
        .unwrap();
    let parent = spans.iter().find(|e| e.span_id == child.parent_id).unwrap();
    assert_eq!(parent.name.as_deref(), Some("GET /api/activities/home"));
    assert_eq!(parent.trace_id, child.trace_id);
    assert_eq!(field(child, "span.kind"), s("internal").as_ref());
    assert_eq!(field(child, "app.result_length"), Some(&Value::Int(3)));

    // Rollbar's POSTs traced by the requests instrumentation are root CLIENT spans.
    let rollbar = spans
        .iter()
        .find(|e| e.name.as_deref() == Some("POST"))
        .unwrap();
    assert_eq!(rollbar.parent_id, None);
    assert_eq!(field(rollbar, "type"), s("client").as_ref());
    assert_eq!(
        field(rollbar, "scope.schema_url"),
        s("https://opentelemetry.io/schemas/1.11.0").as_ref()
    );
}

#[test]
fn python_exporter_later_batches() {
    for (name, spans) in [
        ("python-1.45.1-traces-seq34.pb", 10),
        ("python-1.45.1-traces-seq44.pb", 2),
    ] {
        let d = decode(
            Signal::Traces,
            Format::Protobuf,
            &fixture(name),
            &Hints::default(),
        )
        .unwrap();
        assert_eq!((d.accepted, d.rejected), (spans, 0), "{name}");
    }
}

#[test]
fn python_exporter_gzip_probe() {
    let raw = fixture("python-1.45.1-traces-seq116.pb.gz");
    let body = decode_body(Some("gzip"), &raw, OTLP_BODY_DECOMPRESSED_MAX).unwrap();
    assert_eq!(body.len(), 321);
    let d = decode(Signal::Traces, Format::Protobuf, &body, &Hints::default()).unwrap();
    assert_eq!(d.accepted, 1);
    let e = &d.events[0];
    assert_eq!(e.name.as_deref(), Some("probe"));
    assert_eq!(
        e.dataset, "unknown_service",
        "unknown_service:python routes to unknown_service"
    );
    assert_eq!(e.service.as_deref(), Some("unknown_service:python"));
    assert_eq!(field(e, "library.name"), s("fault-probe").as_ref());
}

#[test]
fn official_trace_example() {
    let d = decode(
        Signal::Traces,
        Format::Json,
        &fixture("official/trace.json"),
        &Hints::default(),
    )
    .unwrap();
    assert_eq!((d.accepted, d.rejected), (1, 0));
    let e = &d.events[0];
    assert_eq!(e.dataset, "my.service");
    assert_eq!(
        e.trace_id,
        Some(TraceId::parse("5b8efff798038103d269b633813fc60c").unwrap())
    );
    assert_eq!(e.span_id, Some(SpanId::parse("eee19b7ec3c1b174").unwrap()));
    assert_eq!(
        e.parent_id,
        Some(SpanId::parse("eee19b7ec3c1b173").unwrap())
    );
    assert_eq!(e.time_ns, 1_544_712_660_000_000_000);
    assert_eq!(e.duration_ms, Some(1000.0));
    assert_eq!(e.name.as_deref(), Some("I'm a server span"));
    assert_eq!(field(e, "span.kind"), s("server").as_ref());
    assert_eq!(field(e, "my.span.attr"), s("some value").as_ref());
    assert_eq!(
        field(e, "my.scope.attribute"),
        s("some scope attribute").as_ref()
    );
    assert_eq!(field(e, "library.name"), s("my.library").as_ref());
    assert_eq!(field(e, "library.version"), s("1.0.0").as_ref());
    assert_eq!(field(e, "status_code"), Some(&Value::Int(0)));
}

#[test]
fn official_logs_example() {
    let hints = Hints {
        dataset_header: Some("ignored-because-service-name-wins"),
    };
    let d = decode(
        Signal::Logs,
        Format::Json,
        &fixture("official/logs.json"),
        &hints,
    )
    .unwrap();
    assert_eq!((d.accepted, d.rejected), (1, 0));
    let e = &d.events[0];
    assert_eq!(e.kind, SignalKind::Log);
    assert_eq!(e.dataset, "my.service");
    assert_eq!(e.time_ns, 1_544_712_660_300_000_000);
    assert_eq!(
        e.trace_id,
        Some(TraceId::parse("5b8efff798038103d269b633813fc60c").unwrap())
    );
    assert_eq!(
        e.parent_id,
        Some(SpanId::parse("eee19b7ec3c1b174").unwrap())
    );
    let expect = [
        ("severity", s("info")),
        ("severity_code", Some(Value::Int(10))),
        ("severity_text", s("Information")),
        ("body", s("Example log record")),
        ("meta.signal_type", s("log")),
        ("meta.annotation_type", s("span_event")),
        ("string.attribute", s("some string")),
        ("boolean.attribute", Some(Value::Bool(true))),
        ("int.attribute", Some(Value::Int(10))),
        ("double.attribute", Some(Value::Float(637.704))),
        ("array.attribute", s(r#"["many","values"]"#)),
        ("map.attribute.some.map.key", s("some value")),
        ("my.scope.attribute", s("some scope attribute")),
    ];
    for (k, v) in expect {
        assert_eq!(field(e, k), v.as_ref(), "{k}");
    }
}

#[test]
fn official_events_example() {
    let d = decode(
        Signal::Logs,
        Format::Json,
        &fixture("official/events.json"),
        &Hints::default(),
    )
    .unwrap();
    assert_eq!((d.accepted, d.rejected), (1, 0));
    let e = &d.events[0];
    assert_eq!(e.name.as_deref(), Some("browser.page_view"));
    assert_eq!(field(e, "event.name"), s("browser.page_view").as_ref());
    assert_eq!(field(e, "body.type"), Some(&Value::Int(0)));
    assert_eq!(
        field(e, "body.title"),
        s("Free Online GUID Generator").as_ref()
    );
    assert_eq!(
        field(e, "meta.annotation_type"),
        None,
        "no trace id, no annotation"
    );
    assert_eq!(e.trace_id, None);
}

#[test]
fn official_metrics_example() {
    let body = fixture("official/metrics.json");
    let d = decode(Signal::Metrics, Format::Json, &body, &Hints::default()).unwrap();
    assert_eq!((d.accepted, d.rejected), (4, 0));
    assert!(d
        .events
        .iter()
        .all(|e| e.dataset == "unknown_metrics" && e.kind == SignalKind::Metric));
    let by_name = |n: &str| {
        d.events
            .iter()
            .find(|e| e.name.as_deref() == Some(n))
            .unwrap()
    };
    let c = by_name("my.counter");
    assert_eq!(field(c, "my.counter"), Some(&Value::Float(5.0)));
    assert_eq!(field(c, "metric.type"), s("sum").as_ref());
    assert_eq!(field(c, "metric.temporality"), s("delta").as_ref());
    assert_eq!(field(c, "metric.unit"), s("1").as_ref());
    assert_eq!(field(c, "my.counter.attr"), s("some value").as_ref());
    assert_eq!(c.service.as_deref(), Some("my.service"));
    assert_eq!(
        field(by_name("my.gauge"), "my.gauge"),
        Some(&Value::Float(10.0))
    );
    let h = by_name("my.histogram");
    for (k, v) in [
        ("my.histogram.count", Value::Int(2)),
        ("my.histogram.sum", Value::Float(2.0)),
        ("my.histogram.avg", Value::Float(1.0)),
        ("my.histogram.min", Value::Float(0.0)),
        ("my.histogram.max", Value::Float(2.0)),
    ] {
        assert_eq!(field(h, k), Some(&v), "{k}");
    }
    let x = by_name("my.exponential.histogram");
    assert_eq!(
        field(x, "my.exponential.histogram.count"),
        Some(&Value::Int(3))
    );
    assert_eq!(
        field(x, "my.exponential.histogram.max"),
        Some(&Value::Float(5.0))
    );
    assert_eq!(field(x, "metric.type"), s("exponential_histogram").as_ref());

    let hinted = decode(
        Signal::Metrics,
        Format::Json,
        &body,
        &Hints {
            dataset_header: Some(" infra "),
        },
    )
    .unwrap();
    assert!(hinted.events.iter().all(|e| e.dataset == "infra"));
}

/// The JSON and protobuf paths agree: official JSON → our converter → prost bytes → decode.
#[test]
fn json_and_protobuf_paths_agree() {
    use prost::Message;
    use waggle_protocols::otlp::json;
    for (signal, name) in [
        (Signal::Traces, "official/trace.json"),
        (Signal::Logs, "official/logs.json"),
        (Signal::Logs, "official/events.json"),
        (Signal::Metrics, "official/metrics.json"),
    ] {
        let body = fixture(name);
        let v = json::parse(&body).unwrap();
        let pb = match signal {
            Signal::Traces => json::traces(&v).unwrap().0.encode_to_vec(),
            Signal::Logs => json::logs(&v).unwrap().0.encode_to_vec(),
            Signal::Metrics => json::metrics(&v).unwrap().0.encode_to_vec(),
        };
        let a = decode(signal, Format::Json, &body, &Hints::default()).unwrap();
        let b = decode(signal, Format::Protobuf, &pb, &Hints::default()).unwrap();
        assert_eq!(a, b, "{name}");
    }
}
