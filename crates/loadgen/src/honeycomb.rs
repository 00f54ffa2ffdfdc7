//! OTLP spans as Honeycomb `/1/batch` events, with the field names husky gives them.
//!
//! Field names and rules follow `shared/protocols/otlp-honeycomb.md` §6.2 (husky's span →
//! event translation) and §7.1 (the batch body `[{"data": {…}, "time": "…"}]`): every span is
//! one event (`trace.trace_id`, `trace.span_id`, `trace.parent_id` only for children,
//! `name`, `span.kind`, `type`, `duration_ms`, `status_code`, `error`, `library.name`, …,
//! resource and span attributes flattened); every span event is one more event with
//! `meta.annotation_type = "span_event"` and `parent_name`.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::{Map, Value};

use crate::timefmt::rfc3339_nanos;

/// The Honeycomb dataset the seed's spans land in: modern environments route by
/// `service.name` (protocols/otlp-honeycomb.md §6.1), which is `backend-flask`.
pub const DEFAULT_DATASET: &str = "backend-flask";

/// The `/1/batch` events for one OTLP request: `{"data": {…}, "time": "…"}` objects, one
/// per span and one per span event (serialize the `Vec` to get the request body).
pub fn honeycomb_batch(req: &ExportTraceServiceRequest) -> Vec<Value> {
    let mut out = Vec::new();
    for rs in &req.resource_spans {
        let mut base = Map::new();
        if let Some(res) = &rs.resource {
            flatten_into(&mut base, &res.attributes);
        }
        for ss in &rs.scope_spans {
            let mut scoped = base.clone();
            if let Some(scope) = &ss.scope {
                flatten_into(&mut scoped, &scope.attributes);
                if !scope.name.is_empty() {
                    scoped.insert("library.name".into(), Value::from(scope.name.clone()));
                }
                if !scope.version.is_empty() {
                    scoped.insert("library.version".into(), Value::from(scope.version.clone()));
                }
                if scope.name.starts_with("opentelemetry.instrumentation") {
                    scoped.insert(
                        "telemetry.instrumentation_library".into(),
                        Value::Bool(true),
                    );
                }
            }
            for span in &ss.spans {
                span_events(&scoped, span, &mut out);
            }
        }
    }
    out
}

/// The husky `span.kind` / `type` word for an OTLP kind.
fn kind_word(kind: i32) -> &'static str {
    match SpanKind::try_from(kind) {
        Ok(SpanKind::Server) => "server",
        Ok(SpanKind::Client) => "client",
        Ok(SpanKind::Producer) => "producer",
        Ok(SpanKind::Consumer) => "consumer",
        Ok(SpanKind::Internal) => "internal",
        _ => "unspecified",
    }
}

fn span_events(scoped: &Map<String, Value>, span: &Span, out: &mut Vec<Value>) {
    let status_code = span.status.as_ref().map(|s| s.code).unwrap_or(0);
    let is_error = status_code == StatusCode::Error as i32;
    let trace_id = hex::encode(&span.trace_id);
    let span_id = hex::encode(&span.span_id);

    let mut data = scoped.clone();
    data.insert("trace.trace_id".into(), Value::from(trace_id.clone()));
    data.insert("trace.span_id".into(), Value::from(span_id.clone()));
    if !span.parent_span_id.is_empty() {
        data.insert(
            "trace.parent_id".into(),
            Value::from(hex::encode(&span.parent_span_id)),
        );
    }
    data.insert("name".into(), Value::from(span.name.clone()));
    let kind = kind_word(span.kind);
    data.insert("span.kind".into(), Value::from(kind));
    data.insert("type".into(), Value::from(kind));
    let duration_ns = span
        .end_time_unix_nano
        .saturating_sub(span.start_time_unix_nano);
    data.insert(
        "duration_ms".into(),
        Value::from(duration_ns as f64 / 1_000_000.0),
    );
    data.insert("status_code".into(), Value::from(status_code));
    if let Some(s) = &span.status {
        if !s.message.is_empty() {
            data.insert("status_message".into(), Value::from(s.message.clone()));
        }
    }
    if is_error {
        data.insert("error".into(), Value::Bool(true));
    }
    data.insert("span.num_events".into(), Value::from(span.events.len()));
    data.insert("span.num_links".into(), Value::from(span.links.len()));
    data.insert("meta.signal_type".into(), Value::from("trace"));
    // Span attributes win over computed fields (husky's direct path precedence).
    flatten_into(&mut data, &span.attributes);
    out.push(event(data, span.start_time_unix_nano));

    for ev in &span.events {
        let mut data = scoped.clone();
        data.insert("trace.trace_id".into(), Value::from(trace_id.clone()));
        data.insert("trace.parent_id".into(), Value::from(span_id.clone()));
        data.insert("name".into(), Value::from(ev.name.clone()));
        data.insert("parent_name".into(), Value::from(span.name.clone()));
        data.insert("meta.annotation_type".into(), Value::from("span_event"));
        data.insert("meta.signal_type".into(), Value::from("trace"));
        let since_ns = ev.time_unix_nano.saturating_sub(span.start_time_unix_nano);
        data.insert(
            "meta.time_since_span_start_ms".into(),
            Value::from(since_ns as f64 / 1_000_000.0),
        );
        if is_error {
            data.insert("error".into(), Value::Bool(true));
        }
        flatten_into(&mut data, &ev.attributes);
        out.push(event(data, ev.time_unix_nano));
    }
}

fn event(data: Map<String, Value>, time_unix_nano: u64) -> Value {
    let mut ev = Map::new();
    ev.insert("data".into(), Value::Object(data));
    ev.insert("time".into(), Value::from(rfc3339_nanos(time_unix_nano)));
    Value::Object(ev)
}

/// Attributes as JSON fields: scalars as they are, arrays and maps as JSON strings
/// (husky's flattening of non-scalar values).
fn flatten_into(map: &mut Map<String, Value>, attrs: &[KeyValue]) {
    for kv in attrs {
        if let Some(v) = kv.value.as_ref().and_then(any_to_json) {
            map.insert(kv.key.clone(), v);
        }
    }
}

fn any_to_json(v: &AnyValue) -> Option<Value> {
    Some(match v.value.as_ref()? {
        any_value::Value::StringValue(s) => Value::from(s.clone()),
        any_value::Value::BoolValue(b) => Value::Bool(*b),
        any_value::Value::IntValue(i) => Value::from(*i),
        any_value::Value::DoubleValue(d) => Value::from(*d),
        any_value::Value::ArrayValue(a) => {
            let items: Vec<Value> = a.values.iter().filter_map(any_to_json).collect();
            Value::from(Value::Array(items).to_string())
        }
        any_value::Value::KvlistValue(kvs) => {
            let mut m = Map::new();
            flatten_into(&mut m, &kvs.values);
            Value::from(Value::Object(m).to_string())
        }
        any_value::Value::BytesValue(b) => Value::from(hex::encode(b)),
        any_value::Value::StringValueStrindex(_) => return None,
    })
}
