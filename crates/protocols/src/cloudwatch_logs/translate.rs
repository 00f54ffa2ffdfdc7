//! CloudWatch Logs events ⇄ wide events, and logs ⇄ traces.
//!
//! Decode: one accepted log event becomes one `model::Event` of kind `Log` in the dataset named
//! after its log group (one dataset per group, as the issue asks). Field contract:
//!
//! | field | value |
//! |---|---|
//! | `body` | the message, verbatim — the field OTLP string log bodies land in (husky), so OTLP and CloudWatch logs meet in one column |
//! | `cloudwatch.log_group`, `cloudwatch.log_stream` | names |
//! | `cloudwatch.ingestion_time` | ms, integer |
//! | `cloudwatch.event_id` | the `eventId` FilterLogEvents answers |
//! | `meta.signal_type` | `log` (as OTLP logs) |
//! | `meta.annotation_type` | `span_event` when linked to a trace (as OTLP logs) |
//! | JSON top-level fields | when the message is a JSON object: flattened with dots (as Insights does), ≤ [`JSON_FIELDS_MAX`], ≤ [`JSON_DEPTH_MAX`] levels, arrays as JSON text |
//!
//! `name` stays empty: a CloudWatch event has no name (OTLP sets it only from `event_name`).
//! OTel's `aws.log.group.names` semconv attribute is a resource-level string array describing
//! where a *service* logs to, not a per-event fact, so it is not used here.
//!
//! Linking: the trace id is taken, first match wins, from the JSON fields [`TRACE_ID_KEYS`]
//! (values in W3C, X-Ray, `Root=…` header or X-Ray SDK `trace@entity` form), then a W3C
//! `traceparent` value anywhere in the text, then an X-Ray `Root=1-…` anywhere in the text; the
//! span id from [`SPAN_ID_KEYS`], the traceparent's parent id, or `Parent=` next to `Root=`. It
//! goes to `Event::trace_id` / `Event::parent_id` (the owning span, as for OTLP logs).
//!
//! Encode: any stored event (CloudWatch or not) → `OutputLogEvent` / `FilteredLogEvent`.

use model::schema::{escape_user_key, COL_DURATION_MS, COL_NAME, COL_SERVICE, KEY_LEN_MAX};
use model::{Event, SignalKind, SpanId, TraceId, Value};

use super::shapes::{FilteredLogEvent, OutputLogEvent};

pub const FIELD_BODY: &str = "body";
pub const FIELD_LOG_GROUP: &str = "cloudwatch.log_group";
pub const FIELD_LOG_STREAM: &str = "cloudwatch.log_stream";
pub const FIELD_INGESTION_TIME: &str = "cloudwatch.ingestion_time";
pub const FIELD_EVENT_ID: &str = "cloudwatch.event_id";

/// "CloudWatch Logs Insights can extract a maximum of 200 log event fields from a JSON log"
/// (CloudWatch Logs guide, "Supported logs and discovered fields").
pub const JSON_FIELDS_MAX: usize = 200;
/// Nesting flattened into dotted keys; deeper objects stay JSON text. Our choice, equal to the
/// OTLP translation's `KVLIST_DEPTH_MAX`.
pub const JSON_DEPTH_MAX: usize = 5;
/// Messages parsed as JSON at most this long. Our choice: watchtower's `max_message_size`
/// (256 KiB − 26, protocol notes §C.3) fits; a 1 MB blob is text, not structure.
pub const JSON_MESSAGE_BYTES_MAX: usize = 256 * 1024;

/// JSON keys carrying a trace id (OTel log bridges, Powertools, X-Ray SDK log injection).
pub const TRACE_ID_KEYS: &[&str] = &[
    "trace_id",
    "traceId",
    "otelTraceID",
    "AWS-XRAY-TRACE-ID",
    "xray_trace_id",
    "traceparent",
];
/// JSON keys carrying the owning span id.
pub const SPAN_ID_KEYS: &[&str] = &["span_id", "spanId", "otelSpanID"];

/// A log event as PutLogEvents accepted it, with what the state assigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogEventIn<'a> {
    pub group: &'a str,
    pub stream: &'a str,
    pub timestamp_ms: i64,
    pub message: &'a str,
    pub ingestion_time_ms: i64,
    /// Per-stream sequence number (see `state::PutResult`).
    pub seq: u64,
}

/// The `eventId` of an event: 56 decimal digits like AWS's (16 of timestamp, 20 of sequence,
/// 20 of an FNV-1a hash of the stream name), so it is stable, unique per stream and sequence,
/// and sorts by time.
pub fn event_id(stream: &str, timestamp_ms: i64, seq: u64) -> String {
    let ts = u64::try_from(timestamp_ms.max(0)).unwrap_or(0) % 10_000_000_000_000_000;
    format!("{ts:016}{seq:020}{:020}", fnv1a(stream.as_bytes()))
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// One accepted log event → one wide event.
pub fn to_event(e: &LogEventIn<'_>) -> Event {
    let time_ns = e.timestamp_ms.saturating_mul(1_000_000);
    let mut ev = Event::new(e.group, time_ns, SignalKind::Log);
    ev.set(FIELD_BODY, Value::Str(e.message.to_owned()));
    ev.set(FIELD_LOG_GROUP, Value::Str(e.group.to_owned()));
    ev.set(FIELD_LOG_STREAM, Value::Str(e.stream.to_owned()));
    ev.set(FIELD_INGESTION_TIME, Value::Int(e.ingestion_time_ms));
    ev.set(
        FIELD_EVENT_ID,
        Value::Str(event_id(e.stream, e.timestamp_ms, e.seq)),
    );
    ev.set("meta.signal_type", Value::Str("log".into()));

    let json = parse_json_object(e.message);
    let (trace, span) = json
        .as_ref()
        .and_then(link_from_json)
        .or_else(|| link_from_text(e.message))
        .map_or((None, None), |(t, s)| (Some(t), s));
    if let Some(obj) = &json {
        let mut budget = JSON_FIELDS_MAX;
        flatten(&mut ev, "", obj, 0, &mut budget);
    }
    ev.trace_id = trace;
    ev.parent_id = span;
    if trace.is_some() {
        ev.set_if_absent("meta.annotation_type", Value::Str("span_event".into()));
    }
    ev
}

fn parse_json_object(message: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    let t = message.trim();
    if t.len() > JSON_MESSAGE_BYTES_MAX || !t.starts_with('{') || !t.ends_with('}') {
        return None;
    }
    // serde_json's recursion limit (128) bounds the stack on hostile nesting.
    match serde_json::from_str::<serde_json::Value>(t) {
        Ok(serde_json::Value::Object(m)) => Some(m),
        _ => None,
    }
}

fn flatten(
    ev: &mut Event,
    prefix: &str,
    obj: &serde_json::Map<String, serde_json::Value>,
    depth: usize,
    budget: &mut usize,
) {
    for (k, v) in obj {
        if *budget == 0 {
            return;
        }
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        if key.is_empty() || key.len() > KEY_LEN_MAX {
            continue;
        }
        match v {
            serde_json::Value::Object(inner) if depth + 1 < JSON_DEPTH_MAX => {
                flatten(ev, &key, inner, depth + 1, budget);
            }
            _ => {
                let Some(value) = Value::from_json(v) else {
                    continue;
                };
                *budget -= 1;
                set_json_field(ev, key, value);
            }
        }
    }
}

/// JSON fields never overwrite the CloudWatch fields; the fixed-column names are kept apart.
fn set_json_field(ev: &mut Event, key: String, value: Value) {
    match key.as_str() {
        COL_SERVICE => {
            if ev.service.is_none() {
                if let Value::Str(s) = &value {
                    ev.service = Some(s.clone());
                }
            }
            ev.set_if_absent(format!("user.{COL_SERVICE}"), value);
        }
        COL_NAME | COL_DURATION_MS => ev.set_if_absent(format!("user.{key}"), value),
        _ => {
            let k = escape_user_key(&key).into_owned();
            ev.set_if_absent(k, value);
        }
    }
}

/// Trace and span from the JSON fields of a message.
fn link_from_json(
    obj: &serde_json::Map<String, serde_json::Value>,
) -> Option<(TraceId, Option<SpanId>)> {
    let (trace, span_in_value) = TRACE_ID_KEYS.iter().find_map(|k| {
        let s = obj.get(*k)?.as_str()?;
        parse_trace_value(s)
    })?;
    let span = SPAN_ID_KEYS
        .iter()
        .find_map(|k| obj.get(*k)?.as_str().and_then(|s| SpanId::parse(s).ok()))
        .or(span_in_value);
    Some((trace, span))
}

/// A trace id field's value in any form clients write.
pub fn parse_trace_value(s: &str) -> Option<(TraceId, Option<SpanId>)> {
    let s = s.trim();
    if s.contains("Root=") {
        return find_xray_header(s);
    }
    if let Some(found) = find_traceparent(s) {
        return Some(found);
    }
    if let Some((t, span)) = s.split_once('@') {
        // X-Ray SDK log injection: `1-5d77f256-19f12e4eaa02e3f76c78f46a@1ce7df03252d99e1`.
        return Some((TraceId::parse(t).ok()?, SpanId::parse(span).ok()));
    }
    Some((TraceId::parse(s).ok()?, None))
}

/// Trace and span from free text: a `traceparent` value, else an X-Ray `Root=`.
pub fn link_from_text(text: &str) -> Option<(TraceId, Option<SpanId>)> {
    find_traceparent(text).or_else(|| find_xray_header(text))
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

fn all_hex(b: &[u8]) -> bool {
    b.iter().all(u8::is_ascii_hexdigit)
}

/// W3C `traceparent`: `vv-<32 hex>-<16 hex>-<2 hex>` between word boundaries, version not
/// `ff`, ids not all zero (W3C Trace Context §3.2).
pub fn find_traceparent(text: &str) -> Option<(TraceId, Option<SpanId>)> {
    const LEN: usize = 2 + 1 + 32 + 1 + 16 + 1 + 2;
    let b = text.as_bytes();
    if b.len() < LEN {
        return None;
    }
    for i in 0..=b.len() - LEN {
        let w = &b[i..i + LEN];
        if w[2] != b'-' || w[35] != b'-' || w[52] != b'-' {
            continue;
        }
        if i > 0 && is_word(b[i - 1]) {
            continue;
        }
        if b.get(i + LEN).is_some_and(|c| is_word(*c)) {
            continue;
        }
        if !(all_hex(&w[0..2]) && all_hex(&w[3..35]) && all_hex(&w[36..52]) && all_hex(&w[53..55]))
        {
            continue;
        }
        if w[0..2].eq_ignore_ascii_case(b"ff") {
            continue;
        }
        let (Ok(trace_hex), Ok(span_hex)) = (
            std::str::from_utf8(&w[3..35]),
            std::str::from_utf8(&w[36..52]),
        ) else {
            continue;
        };
        if let Ok(t) = TraceId::parse(trace_hex) {
            return Some((t, SpanId::parse(span_hex).ok()));
        }
    }
    None
}

/// X-Ray `Root=1-<8 hex>-<24 hex>` with an optional `Parent=<16 hex>` in the same header
/// (`X-Amzn-Trace-Id`, Lambda's `_X_AMZN_TRACE_ID`).
pub fn find_xray_header(text: &str) -> Option<(TraceId, Option<SpanId>)> {
    const ID_LEN: usize = 35;
    let mut rest = text;
    while let Some(pos) = rest.find("Root=") {
        let after = &rest[pos + 5..];
        if let Some(id) = after.get(..ID_LEN) {
            if let Ok(t) = TraceId::parse(id) {
                if id.starts_with("1-") {
                    let header_end = after
                        .find(|c: char| c.is_whitespace() || c == '"' || c == ',')
                        .unwrap_or(after.len());
                    let header = &after[..header_end];
                    let span = header
                        .find("Parent=")
                        .and_then(|p| header.get(p + 7..p + 7 + 16))
                        .and_then(|s| SpanId::parse(s).ok());
                    return Some((t, span));
                }
            }
        }
        rest = after;
    }
    None
}

/// The message of a stored event: its `body` when it is text, else the event as a JSON
/// object of its fields (an OTLP log with a map body, a span, …). Never empty (the model's
/// `EventMessage` has min 1).
pub fn message_of(ev: &Event) -> String {
    match ev.get(FIELD_BODY) {
        Some(Value::Str(s)) if !s.is_empty() => s.clone(),
        Some(v @ (Value::Int(_) | Value::Float(_) | Value::Bool(_))) => v.to_string(),
        _ => {
            let mut m = serde_json::Map::new();
            if let Some(n) = &ev.name {
                m.insert(COL_NAME.into(), serde_json::Value::String(n.clone()));
            }
            for (k, v) in &ev.fields {
                if !k.starts_with("cloudwatch.") && !k.starts_with("meta.") {
                    m.insert(k.clone(), v.to_json());
                }
            }
            if m.is_empty() {
                " ".to_string()
            } else {
                serde_json::Value::Object(m).to_string()
            }
        }
    }
}

fn timestamp_ms(ev: &Event) -> i64 {
    ev.time_ns.div_euclid(1_000_000)
}

fn ingestion_ms(ev: &Event) -> i64 {
    match ev.get(FIELD_INGESTION_TIME) {
        Some(Value::Int(i)) => *i,
        _ => timestamp_ms(ev),
    }
}

/// `OutputLogEvent` for GetLogEvents. Events without an ingestion time (other protocols)
/// report their own timestamp.
pub fn to_output_event(ev: &Event) -> OutputLogEvent {
    OutputLogEvent {
        timestamp: timestamp_ms(ev),
        message: message_of(ev),
        ingestion_time: ingestion_ms(ev),
    }
}

/// The stream an event belongs to: `cloudwatch.log_stream`, else `default_stream` (e.g. the
/// service name of an OTLP log).
pub fn stream_of<'a>(ev: &'a Event, default_stream: &'a str) -> &'a str {
    match ev.get(FIELD_LOG_STREAM) {
        Some(Value::Str(s)) if !s.is_empty() => s,
        _ => default_stream,
    }
}

/// `FilteredLogEvent` for FilterLogEvents. `store_seq` (the store's `__seq`) stands in for the
/// per-stream sequence of events that did not arrive through PutLogEvents.
pub fn to_filtered_event(ev: &Event, default_stream: &str, store_seq: u64) -> FilteredLogEvent {
    let stream = stream_of(ev, default_stream).to_owned();
    let ts = timestamp_ms(ev);
    let event_id = match ev.get(FIELD_EVENT_ID) {
        Some(Value::Str(s)) if !s.is_empty() => s.clone(),
        _ => event_id(&stream, ts, store_seq),
    };
    FilteredLogEvent {
        log_stream_name: stream,
        timestamp: ts,
        message: message_of(ev),
        ingestion_time: ingestion_ms(ev),
        event_id,
    }
}
