//! Grafana Tempo HTTP API responses built from stored events, so Grafana's Tempo data source
//! can read Waggle: trace by id (v1 and v2, JSON and protobuf), search, tags and tag values.
//!
//! Sources (shapes, not code): Tempo HTTP API docs (https://grafana.com/docs/tempo/latest/api_docs/);
//! `grafana/tempo:pkg/tempopb/tempo.proto` (`Trace { repeated ResourceSpans batches = 1 }`,
//! `TraceByIDResponse { trace = 1; metrics = 2; status = 3 (PartialStatus COMPLETE=0,
//! PARTIAL=1); message = 4 }`, `SearchResponse`, `TraceSearchMetadata`, `SearchTagsV2Response`,
//! `SearchTagValuesV2Response`); `grafana/tempo:pkg/tempopb` `MarshalToJSONV1` (v1 JSON is the
//! Trace with `resourceSpans` renamed `batches`); Grafana's data source
//! (`grafana/grafana:pkg/tsdb/tempo/trace.go`: asks `/api/v2/traces/{id}` with
//! `Accept: application/protobuf`, falls back to `/api/traces/{id}` on 404;
//! `search.go`: decodes search JSON with Go `encoding/json`, `startTimeUnixNano` a string,
//! `durationMs` a `uint32` — so it must be an integer).
//!
//! Trace JSON here follows the OTLP/JSON mapping (lowercase hex ids, int64 as strings, enums
//! as integers, https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding). Tempo's
//! own JSON comes from gogo `jsonpb` (base64 ids, enum names); Grafana never reads it (it asks
//! for protobuf), and OTLP/JSON is what other OTLP readers parse.
//!
//! [`rebuild_otlp`] is the inverse of the OTLP → event translation (husky's layout,
//! `shared/protocols/otlp-honeycomb.md` §6.2).

use std::collections::HashMap;

use model::schema::{escape_user_key, COMPUTED_FIELDS};
use model::{Event, SignalKind, SpanId, TraceId, Value};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    span, ResourceSpans, ScopeSpans, Span, Status, TracesData,
};
use prost::Message;
use serde_json::{json, Value as J};

/// Event fields the OTLP translation writes from the scope and span envelope (husky names).
pub const FIELD_LIBRARY_NAME: &str = "library.name";
pub const FIELD_LIBRARY_VERSION: &str = "library.version";
pub const FIELD_RESOURCE_SCHEMA_URL: &str = "resource.schema_url";
pub const FIELD_SCOPE_SCHEMA_URL: &str = "scope.schema_url";
pub const FIELD_SPAN_KIND: &str = "span.kind";
pub const FIELD_STATUS_CODE: &str = "status_code";
pub const FIELD_STATUS_MESSAGE: &str = "status_message";
pub const FIELD_ERROR: &str = "error";
pub const FIELD_TRACE_STATE: &str = "trace.trace_state";
pub const FIELD_FLAGS: &str = "flags";
pub const FIELD_LINK_TRACE_ID: &str = "trace.link.trace_id";
pub const FIELD_LINK_SPAN_ID: &str = "trace.link.span_id";
pub const FIELD_LINK_TRACE_STATE: &str = "trace.link.trace_state";
/// Attributes husky copies from a span's first `exception` event onto the span
/// (`otlp-honeycomb.md` §6.2); rebuilt spans leave them on the event only.
pub const EXCEPTION_COPIED_KEYS: &[&str] = &[
    "exception.message",
    "exception.type",
    "exception.stacktrace",
    "exception.escaped",
];
/// Husky consumes this span attribute as the event's sample rate; it is given back when the
/// rate is not 1 and did not come from `tracestate`.
pub const ATTR_SAMPLE_RATE: &str = "sampleRate";

/// `tempopb.Trace`: the `/api/traces/{id}` protobuf body. Field 1 (`batches`, renamed
/// `resourceSpans` in newer Tempo) has the same wire form as OTLP `TracesData.resource_spans`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TempoTrace {
    #[prost(message, repeated, tag = "1")]
    pub resource_spans: Vec<ResourceSpans>,
}

/// `tempopb.TraceByIDMetrics` (no fields Grafana reads).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TraceByIdMetrics {}

/// `tempopb.TraceByIDResponse`: the `/api/v2/traces/{id}` protobuf body.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TraceByIdResponse {
    #[prost(message, optional, tag = "1")]
    pub trace: Option<TempoTrace>,
    #[prost(message, optional, tag = "2")]
    pub metrics: Option<TraceByIdMetrics>,
    /// `PartialStatus`: 0 COMPLETE, 1 PARTIAL (Grafana shows a "partial trace" notice).
    #[prost(int32, tag = "3")]
    pub status: i32,
    #[prost(string, tag = "4")]
    pub message: String,
}

/// `PartialStatus.PARTIAL` in `TraceByIdResponse.status`.
pub const PARTIAL_STATUS_PARTIAL: i32 = 1;

/// One `/api/search` hit (`tempopb.TraceSearchMetadata`).
#[derive(Debug, Clone, PartialEq)]
pub struct TraceSummary {
    pub trace_id: TraceId,
    pub root_service: Option<String>,
    pub root_name: Option<String>,
    pub start_ns: i64,
    pub duration_ms: f64,
}

// ---------------------------------------------------------------------------------------
// Events → OTLP

fn any_value(v: &Value) -> AnyValue {
    let value = match v {
        Value::Str(s) => any_value::Value::StringValue(s.clone()),
        Value::Int(i) => any_value::Value::IntValue(*i),
        Value::Float(f) => any_value::Value::DoubleValue(*f),
        Value::Bool(b) => any_value::Value::BoolValue(*b),
    };
    AnyValue { value: Some(value) }
}

fn kv(key: &str, v: &Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(any_value(v)),
        ..Default::default()
    }
}

fn is_resource_key(ev: &Event, key: &str) -> bool {
    ev.resource_keys.iter().any(|k| k == key)
}

fn is_computed(key: &str) -> bool {
    COMPUTED_FIELDS.contains(&key)
}

fn str_field<'a>(ev: &'a Event, key: &str) -> Option<&'a str> {
    ev.get(key).and_then(Value::as_str)
}

/// The key a client sent: ingest renames keys that collide with internal or computed names
/// to `user.<key>` ([`model::schema::escape_user_key`]); this undoes that.
fn unescaped_key(key: &str) -> &str {
    match key.strip_prefix("user.") {
        Some(rest) if escape_user_key(rest) == key => rest,
        _ => key,
    }
}

/// Span, span-event and link attributes: fields that are neither resource attributes nor
/// fields the translation computes.
fn own_attributes(ev: &Event) -> Vec<KeyValue> {
    ev.fields
        .iter()
        .filter(|(k, _)| !is_resource_key(ev, k) && !is_computed(k))
        .map(|(k, v)| kv(unescaped_key(k), v))
        .collect()
}

/// Resource attributes: the fields named in `resource_keys`, with `service.name` from the
/// typed column when the fields do not carry it (events that did not come over OTLP).
fn resource_attributes(ev: &Event) -> Vec<KeyValue> {
    let mut attrs: Vec<KeyValue> = ev
        .fields
        .iter()
        .filter(|(k, _)| is_resource_key(ev, k))
        .map(|(k, v)| kv(k, v))
        .collect();
    if let Some(service) = &ev.service {
        if !attrs.iter().any(|a| a.key == model::schema::COL_SERVICE) {
            attrs.insert(
                0,
                kv(model::schema::COL_SERVICE, &Value::Str(service.clone())),
            );
        }
    }
    attrs
}

fn span_kind(text: Option<&str>) -> i32 {
    let Some(t) = text else { return 0 };
    let t = t.to_ascii_lowercase();
    match t.strip_prefix("span_kind_").unwrap_or(&t) {
        "internal" => span::SpanKind::Internal as i32,
        "server" => span::SpanKind::Server as i32,
        "client" => span::SpanKind::Client as i32,
        "producer" => span::SpanKind::Producer as i32,
        "consumer" => span::SpanKind::Consumer as i32,
        _ => span::SpanKind::Unspecified as i32,
    }
}

fn status_of(ev: &Event) -> Option<Status> {
    let code = match ev.get(FIELD_STATUS_CODE) {
        Some(Value::Int(c)) if (0..=2).contains(c) => *c as i32,
        Some(Value::Str(s)) => {
            let s = s.to_ascii_lowercase();
            match s.strip_prefix("status_code_").unwrap_or(&s) {
                "ok" => 1,
                "error" => 2,
                _ => 0,
            }
        }
        // Events that did not come over OTLP (Beelines) only say `error`.
        None if ev.get(FIELD_ERROR) == Some(&Value::Bool(true)) => 2,
        _ => 0,
    };
    let message = str_field(ev, FIELD_STATUS_MESSAGE)
        .unwrap_or_default()
        .to_owned();
    (code != 0 || !message.is_empty()).then_some(Status { message, code })
}

fn unix_ns(t: i64) -> u64 {
    u64::try_from(t).unwrap_or(0)
}

fn end_ns(start: u64, duration_ms: Option<f64>) -> u64 {
    match duration_ms {
        Some(ms) if ms.is_finite() && ms > 0.0 => {
            let ns = (ms * 1e6).round();
            // f64 → u64 saturates; the sum saturates too.
            start.saturating_add(ns as u64)
        }
        _ => start,
    }
}

fn id_bytes_trace(id: Option<TraceId>) -> Vec<u8> {
    id.map(|t| t.0.to_vec()).unwrap_or_default()
}

fn id_bytes_span(id: Option<SpanId>) -> Vec<u8> {
    id.map(|s| s.0.to_vec()).unwrap_or_default()
}

fn build_span(ev: &Event) -> Span {
    let start = unix_ns(ev.time_ns);
    let mut attributes = own_attributes(ev);
    // A rate that came from a W3C `tracestate` threshold (`th:`) is given back by it.
    let rate_in_tracestate = str_field(ev, FIELD_TRACE_STATE).is_some_and(|t| t.contains("th:"));
    if ev.sample_rate > 1 && !rate_in_tracestate {
        attributes.push(kv(ATTR_SAMPLE_RATE, &Value::Int(i64::from(ev.sample_rate))));
    }
    let flags = match ev.get(FIELD_FLAGS) {
        Some(Value::Int(f)) => u32::try_from(*f).unwrap_or(0),
        _ => 0,
    };
    Span {
        trace_id: id_bytes_trace(ev.trace_id),
        span_id: id_bytes_span(ev.span_id),
        trace_state: str_field(ev, FIELD_TRACE_STATE)
            .unwrap_or_default()
            .to_owned(),
        parent_span_id: id_bytes_span(ev.parent_id),
        flags,
        name: ev.name.clone().unwrap_or_default(),
        kind: span_kind(str_field(ev, FIELD_SPAN_KIND)),
        start_time_unix_nano: start,
        end_time_unix_nano: end_ns(start, ev.duration_ms),
        attributes,
        status: status_of(ev),
        ..Default::default()
    }
}

fn build_event(ev: &Event) -> span::Event {
    span::Event {
        time_unix_nano: unix_ns(ev.time_ns),
        name: ev.name.clone().unwrap_or_default(),
        attributes: own_attributes(ev),
        dropped_attributes_count: 0,
    }
}

fn build_link(ev: &Event) -> span::Link {
    let trace_id = str_field(ev, FIELD_LINK_TRACE_ID).and_then(|t| TraceId::parse(t).ok());
    let span_id = str_field(ev, FIELD_LINK_SPAN_ID).and_then(|s| SpanId::parse(s).ok());
    span::Link {
        trace_id: id_bytes_trace(trace_id),
        span_id: id_bytes_span(span_id),
        trace_state: str_field(ev, FIELD_LINK_TRACE_STATE)
            .unwrap_or_default()
            .to_owned(),
        attributes: own_attributes(ev),
        ..Default::default()
    }
}

/// Removes the exception attributes ingest copied from `exception` onto `span` (same key and
/// value); an attribute the span carried itself with another value stays.
fn drop_copied_exception_attributes(span: &mut Span, exception: &span::Event) {
    span.attributes.retain(|a| {
        !(EXCEPTION_COPIED_KEYS.contains(&a.key.as_str())
            && exception
                .attributes
                .iter()
                .any(|e| e.key == a.key && e.value == a.value))
    });
}

/// A stable text key for grouping by resource or scope.
fn group_key(attrs: &[KeyValue], extra: &[&str]) -> String {
    let mut key = String::new();
    for a in attrs {
        key.push_str(&a.key);
        key.push('\u{1f}');
        key.push_str(&format!("{:?}", a.value));
        key.push('\u{1e}');
    }
    for e in extra {
        key.push_str(e);
        key.push('\u{1e}');
    }
    key
}

/// Rebuilds OTLP trace data from a trace's events: spans grouped by resource (service and
/// resource attributes) and scope (`library.name`/`library.version`), with their span events
/// and links attached. Logs, metrics and plain events are left out, as are span events and
/// links whose span is not among `events`. Input order is kept.
pub fn rebuild_otlp(events: &[Event]) -> TracesData {
    let mut out: Vec<ResourceSpans> = Vec::new();
    let mut resource_index: HashMap<String, usize> = HashMap::new();
    let mut scope_index: HashMap<(usize, String), usize> = HashMap::new();
    // (trace id, span id) → (resource, scope, span); the first span with an id wins.
    let mut span_index: HashMap<(Option<TraceId>, SpanId), (usize, usize, usize)> = HashMap::new();

    for ev in events.iter().filter(|e| e.kind == SignalKind::Span) {
        let attrs = resource_attributes(ev);
        let resource_schema = str_field(ev, FIELD_RESOURCE_SCHEMA_URL).unwrap_or_default();
        let rkey = group_key(&attrs, &[resource_schema]);
        let r = *resource_index.entry(rkey).or_insert_with(|| {
            out.push(ResourceSpans {
                resource: Some(Resource {
                    attributes: attrs,
                    ..Default::default()
                }),
                scope_spans: Vec::new(),
                schema_url: resource_schema.to_owned(),
            });
            out.len() - 1
        });

        let scope_name = str_field(ev, FIELD_LIBRARY_NAME).unwrap_or_default();
        let scope_version = str_field(ev, FIELD_LIBRARY_VERSION).unwrap_or_default();
        let scope_schema = str_field(ev, FIELD_SCOPE_SCHEMA_URL).unwrap_or_default();
        let skey = group_key(&[], &[scope_name, scope_version, scope_schema]);
        let scopes = &mut out[r].scope_spans;
        let s = *scope_index.entry((r, skey)).or_insert_with(|| {
            let scope = (!scope_name.is_empty() || !scope_version.is_empty()).then(|| {
                InstrumentationScope {
                    name: scope_name.to_owned(),
                    version: scope_version.to_owned(),
                    ..Default::default()
                }
            });
            scopes.push(ScopeSpans {
                scope,
                spans: Vec::new(),
                schema_url: scope_schema.to_owned(),
            });
            scopes.len() - 1
        });

        let spans = &mut out[r].scope_spans[s].spans;
        spans.push(build_span(ev));
        if let Some(id) = ev.span_id {
            span_index
                .entry((ev.trace_id, id))
                .or_insert((r, s, spans.len() - 1));
        }
    }

    for ev in events {
        if !matches!(ev.kind, SignalKind::SpanEvent | SignalKind::Link) {
            continue;
        }
        let Some(parent) = ev.parent_id else { continue };
        let Some(&(r, s, i)) = span_index.get(&(ev.trace_id, parent)) else {
            continue;
        };
        let span = &mut out[r].scope_spans[s].spans[i];
        if ev.kind == SignalKind::SpanEvent {
            let event = build_event(ev);
            let first_exception =
                event.name == "exception" && !span.events.iter().any(|e| e.name == "exception");
            if first_exception {
                drop_copied_exception_attributes(span, &event);
            }
            span.events.push(event);
        } else {
            span.links.push(build_link(ev));
        }
    }

    TracesData {
        resource_spans: out,
    }
}

// ---------------------------------------------------------------------------------------
// OTLP → JSON (OTLP/JSON mapping)

fn any_value_json(v: &AnyValue) -> J {
    match &v.value {
        None => json!({}),
        Some(any_value::Value::StringValue(s)) => json!({ "stringValue": s }),
        Some(any_value::Value::BoolValue(b)) => json!({ "boolValue": b }),
        Some(any_value::Value::IntValue(i)) => json!({ "intValue": i.to_string() }),
        Some(any_value::Value::DoubleValue(f)) => json!({ "doubleValue": double_json(*f) }),
        Some(any_value::Value::ArrayValue(a)) => {
            json!({ "arrayValue": { "values": a.values.iter().map(any_value_json).collect::<Vec<_>>() } })
        }
        Some(any_value::Value::KvlistValue(l)) => {
            json!({ "kvlistValue": { "values": attributes_json(&l.values) } })
        }
        Some(any_value::Value::BytesValue(b)) => {
            use base64::Engine;
            json!({ "bytesValue": base64::engine::general_purpose::STANDARD.encode(b) })
        }
        // Profiles-only string table reference: no value outside profiles.
        Some(_) => json!({}),
    }
}

/// proto3 JSON doubles: numbers, or the strings `NaN`, `Infinity`, `-Infinity`.
fn double_json(f: f64) -> J {
    match serde_json::Number::from_f64(f) {
        Some(n) => J::Number(n),
        None if f.is_nan() => J::from("NaN"),
        None if f > 0.0 => J::from("Infinity"),
        None => J::from("-Infinity"),
    }
}

fn attributes_json(attrs: &[KeyValue]) -> Vec<J> {
    attrs
        .iter()
        .map(|a| match &a.value {
            Some(v) => json!({ "key": a.key, "value": any_value_json(v) }),
            None => json!({ "key": a.key }),
        })
        .collect()
}

fn span_json(s: &Span) -> J {
    let mut o = serde_json::Map::new();
    o.insert("traceId".into(), J::from(hex::encode(&s.trace_id)));
    o.insert("spanId".into(), J::from(hex::encode(&s.span_id)));
    if !s.trace_state.is_empty() {
        o.insert("traceState".into(), J::from(s.trace_state.clone()));
    }
    if !s.parent_span_id.is_empty() {
        o.insert(
            "parentSpanId".into(),
            J::from(hex::encode(&s.parent_span_id)),
        );
    }
    if s.flags != 0 {
        o.insert("flags".into(), J::from(s.flags));
    }
    o.insert("name".into(), J::from(s.name.clone()));
    o.insert("kind".into(), J::from(s.kind));
    o.insert(
        "startTimeUnixNano".into(),
        J::from(s.start_time_unix_nano.to_string()),
    );
    o.insert(
        "endTimeUnixNano".into(),
        J::from(s.end_time_unix_nano.to_string()),
    );
    if !s.attributes.is_empty() {
        o.insert("attributes".into(), J::from(attributes_json(&s.attributes)));
    }
    if !s.events.is_empty() {
        let events: Vec<J> = s
            .events
            .iter()
            .map(|e| {
                let mut eo = serde_json::Map::new();
                eo.insert("timeUnixNano".into(), J::from(e.time_unix_nano.to_string()));
                eo.insert("name".into(), J::from(e.name.clone()));
                if !e.attributes.is_empty() {
                    eo.insert("attributes".into(), J::from(attributes_json(&e.attributes)));
                }
                J::Object(eo)
            })
            .collect();
        o.insert("events".into(), J::from(events));
    }
    if !s.links.is_empty() {
        let links: Vec<J> = s
            .links
            .iter()
            .map(|l| {
                let mut lo = serde_json::Map::new();
                lo.insert("traceId".into(), J::from(hex::encode(&l.trace_id)));
                lo.insert("spanId".into(), J::from(hex::encode(&l.span_id)));
                if !l.trace_state.is_empty() {
                    lo.insert("traceState".into(), J::from(l.trace_state.clone()));
                }
                if !l.attributes.is_empty() {
                    lo.insert("attributes".into(), J::from(attributes_json(&l.attributes)));
                }
                J::Object(lo)
            })
            .collect();
        o.insert("links".into(), J::from(links));
    }
    let mut status = serde_json::Map::new();
    if let Some(st) = &s.status {
        if !st.message.is_empty() {
            status.insert("message".into(), J::from(st.message.clone()));
        }
        if st.code != 0 {
            status.insert("code".into(), J::from(st.code));
        }
    }
    o.insert("status".into(), J::Object(status));
    J::Object(o)
}

/// One `ResourceSpans` in OTLP/JSON form.
pub fn resource_spans_json(rs: &ResourceSpans) -> J {
    let mut o = serde_json::Map::new();
    let attrs = rs
        .resource
        .as_ref()
        .map(|r| attributes_json(&r.attributes))
        .unwrap_or_default();
    o.insert("resource".into(), json!({ "attributes": attrs }));
    let scopes: Vec<J> = rs
        .scope_spans
        .iter()
        .map(|ss| {
            let mut so = serde_json::Map::new();
            if let Some(scope) = &ss.scope {
                let mut sc = serde_json::Map::new();
                sc.insert("name".into(), J::from(scope.name.clone()));
                if !scope.version.is_empty() {
                    sc.insert("version".into(), J::from(scope.version.clone()));
                }
                so.insert("scope".into(), J::Object(sc));
            }
            so.insert(
                "spans".into(),
                J::from(ss.spans.iter().map(span_json).collect::<Vec<_>>()),
            );
            if !ss.schema_url.is_empty() {
                so.insert("schemaUrl".into(), J::from(ss.schema_url.clone()));
            }
            J::Object(so)
        })
        .collect();
    o.insert("scopeSpans".into(), J::from(scopes));
    if !rs.schema_url.is_empty() {
        o.insert("schemaUrl".into(), J::from(rs.schema_url.clone()));
    }
    J::Object(o)
}

fn resource_spans_list_json(events: &[Event]) -> Vec<J> {
    rebuild_otlp(events)
        .resource_spans
        .iter()
        .map(resource_spans_json)
        .collect()
}

/// `GET /api/traces/{id}` JSON: `{"batches":[ResourceSpans…]}` (Tempo `MarshalToJSONV1`).
pub fn trace_v1_json(events: &[Event]) -> J {
    json!({ "batches": resource_spans_list_json(events) })
}

/// `GET /api/v2/traces/{id}` JSON: the `TraceByIDResponse` envelope
/// `{"trace":{"resourceSpans":[…]},"metrics":{}}`; `status` is left out when COMPLETE, as
/// proto3 JSON leaves out default enums.
pub fn trace_v2_json(events: &[Event]) -> J {
    json!({
        "trace": { "resourceSpans": resource_spans_list_json(events) },
        "metrics": {},
    })
}

/// `GET /api/traces/{id}` with `Accept: application/protobuf`: a `tempopb.Trace`.
pub fn trace_protobuf(events: &[Event]) -> Vec<u8> {
    TempoTrace {
        resource_spans: rebuild_otlp(events).resource_spans,
    }
    .encode_to_vec()
}

/// `GET /api/v2/traces/{id}` with `Accept: application/protobuf` (what Grafana asks first):
/// a `tempopb.TraceByIDResponse`, COMPLETE.
pub fn trace_v2_protobuf(events: &[Event]) -> Vec<u8> {
    TraceByIdResponse {
        trace: Some(TempoTrace {
            resource_spans: rebuild_otlp(events).resource_spans,
        }),
        metrics: Some(TraceByIdMetrics {}),
        status: 0,
        message: String::new(),
    }
    .encode_to_vec()
}

// ---------------------------------------------------------------------------------------
// Search, tags, tag values

/// Whole milliseconds for `durationMs` (a `uint32` in `tempopb`; Grafana's Go decoder
/// rejects a fractional number). Rounded; negative → 0; saturates at `u32::MAX`.
fn duration_ms_u32(ms: f64) -> u32 {
    if !ms.is_finite() || ms <= 0.0 {
        return 0;
    }
    let r = ms.round();
    if r >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        r as u32
    }
}

/// One span of a TraceQL search's spanset.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MatchedSpan {
    pub span_id: u64,
    pub name: Option<String>,
    pub service: Option<String>,
    pub start_ns: i64,
    pub duration_ms: f64,
    /// What the query's `select(…)` asked for, keyed as Tempo keys it (`http.method`,
    /// `service.name`, `status`, `nestedSetLeft`, …), in order.
    pub attributes: Vec<(String, Value)>,
}

/// A trace's `spanSet` in Tempo's search answer: its first matched spans and how many
/// matched in all. Each span's `attributes` are `service.name` (as Tempo adds it), then the
/// selected attributes (typed OTLP/JSON values; one equal to an attribute already written
/// is not repeated); a span with none has no `attributes`.
pub fn span_set_json(spans: &[MatchedSpan], matched: u64) -> J {
    let spans: Vec<J> = spans
        .iter()
        .map(|s| {
            let mut o = serde_json::Map::new();
            o.insert("spanID".into(), J::from(format!("{:016x}", s.span_id)));
            if let Some(n) = &s.name {
                o.insert("name".into(), J::from(n.clone()));
            }
            o.insert(
                "startTimeUnixNano".into(),
                J::from(unix_ns(s.start_ns).to_string()),
            );
            let nanos = (s.duration_ms * 1e6).round().max(0.0) as u64;
            o.insert("durationNanos".into(), J::from(nanos.to_string()));
            let mut attrs: Vec<J> = Vec::new();
            if let Some(svc) = &s.service {
                attrs.push(json!({"key": "service.name", "value": {"stringValue": svc}}));
            }
            for (key, value) in &s.attributes {
                let a = json!({ "key": key, "value": any_value_json(&any_value(value)) });
                if !attrs.contains(&a) {
                    attrs.push(a);
                }
            }
            if !attrs.is_empty() {
                o.insert("attributes".into(), J::from(attrs));
            }
            J::Object(o)
        })
        .collect();
    json!({ "spans": spans, "matched": matched })
}

fn summary_json(t: &TraceSummary) -> J {
    let mut o = serde_json::Map::new();
    o.insert("traceID".into(), J::from(t.trace_id.to_hex()));
    if let Some(s) = &t.root_service {
        o.insert("rootServiceName".into(), J::from(s.clone()));
    }
    if let Some(n) = &t.root_name {
        o.insert("rootTraceName".into(), J::from(n.clone()));
    }
    o.insert(
        "startTimeUnixNano".into(),
        J::from(unix_ns(t.start_ns).to_string()),
    );
    o.insert("durationMs".into(), J::from(duration_ms_u32(t.duration_ms)));
    J::Object(o)
}

/// `GET /api/search` JSON: `{"traces":[TraceSearchMetadata…],"metrics":{…}}`.
pub fn search_json(traces: &[TraceSummary]) -> J {
    json!({
        "traces": traces.iter().map(summary_json).collect::<Vec<_>>(),
        "metrics": {
            "inspectedTraces": traces.len(),
            "completedJobs": 1,
            "totalJobs": 1,
        },
    })
}

/// `GET /api/search/tags` JSON: `{"tagNames":[…]}`.
pub fn tags_json(tags: &[String]) -> J {
    json!({ "tagNames": tags })
}

/// `GET /api/v2/search/tags` JSON: `{"scopes":[{"name":"resource","tags":[…]},…]}`; scope
/// names Tempo uses are `resource`, `span`, `intrinsic` (and `event`, `link`, `instrumentation`).
pub fn tags_v2_json(scopes: &[(String, Vec<String>)]) -> J {
    let scopes: Vec<J> = scopes
        .iter()
        .map(|(name, tags)| json!({ "name": name, "tags": tags }))
        .collect();
    json!({ "scopes": scopes })
}

/// `GET /api/search/tag/{tag}/values` JSON: `{"tagValues":[…]}`.
pub fn tag_values_json(values: &[String]) -> J {
    json!({ "tagValues": values })
}

/// `GET /api/v2/search/tag/{tag}/values` JSON: `{"tagValues":[{"type":"string","value":"…"}]}`
/// (`tempopb.TagValue`; TraceQL static types `string`, `int`, `float`, `bool`).
pub fn tag_values_v2_json(values: &[Value]) -> J {
    let values: Vec<J> = values
        .iter()
        .map(|v| {
            let ty = match v {
                Value::Str(_) => "string",
                Value::Int(_) => "int",
                Value::Float(_) => "float",
                Value::Bool(_) => "bool",
            };
            json!({ "type": ty, "value": v.to_string() })
        })
        .collect();
    json!({ "tagValues": values })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span() -> MatchedSpan {
        MatchedSpan {
            span_id: 0xab,
            name: Some("GET /".into()),
            service: Some("api".into()),
            start_ns: 1_000,
            duration_ms: 1.5,
            attributes: Vec::new(),
        }
    }

    #[test]
    fn span_sets_without_selection_are_unchanged() {
        let got = span_set_json(&[span()], 3);
        let want = r#"{"matched":3,"spans":[{"attributes":[{"key":"service.name","value":{"stringValue":"api"}}],"durationNanos":"1500000","name":"GET /","spanID":"00000000000000ab","startTimeUnixNano":"1000"}]}"#;
        assert_eq!(got.to_string(), want);
        let bare = MatchedSpan {
            name: None,
            service: None,
            ..span()
        };
        let got = span_set_json(&[bare], 1);
        assert!(got["spans"][0].get("attributes").is_none(), "{got}");
        assert!(got["spans"][0].get("name").is_none(), "{got}");
    }

    #[test]
    fn selected_attributes_are_typed_and_not_repeated() {
        let s = MatchedSpan {
            attributes: vec![
                ("http.method".into(), Value::Str("GET".into())),
                ("service.name".into(), Value::Str("api".into())),
                ("status".into(), Value::Str("error".into())),
                ("nestedSetLeft".into(), Value::Int(3)),
                ("ratio".into(), Value::Float(0.5)),
                ("cached".into(), Value::Bool(false)),
            ],
            ..span()
        };
        let got = span_set_json(&[s], 1);
        assert_eq!(
            got["spans"][0]["attributes"],
            json!([
                {"key": "service.name", "value": {"stringValue": "api"}},
                {"key": "http.method", "value": {"stringValue": "GET"}},
                {"key": "status", "value": {"stringValue": "error"}},
                {"key": "nestedSetLeft", "value": {"intValue": "3"}},
                {"key": "ratio", "value": {"doubleValue": 0.5}},
                {"key": "cached", "value": {"boolValue": false}},
            ])
        );
        // Without a service, the selected attributes alone.
        let s = MatchedSpan {
            service: None,
            attributes: vec![("nestedSetParent".into(), Value::Int(-1))],
            ..span()
        };
        let got = span_set_json(&[s], 1);
        assert_eq!(
            got["spans"][0]["attributes"],
            json!([{"key": "nestedSetParent", "value": {"intValue": "-1"}}])
        );
    }
}
