//! Honeycomb Events API decoding (`POST /1/batch/{dataset}`, `POST /1/events/{dataset}`):
//! JSON and msgpack bodies into [`model::Event`]s, with Honeycomb's per-event statuses, limits
//! and error bodies.
//!
//! Sources: Honeycomb OpenAPI (`honeycombio/honeycomb-mcp@7e4afc4:api.yaml`, paths `/1/batch`,
//! `/1/events`, schemas `BatchEvent`, `Event`), Refinery's server implementation
//! (`honeycombio/refinery@64a874a:route/route.go`), libhoney-go and libhoney-py; summarised in
//! `shared/protocols/otlp-honeycomb.md` §7. Bodies arrive here already decompressed.

use std::collections::HashMap;

use model::schema::{escape_user_key, COL_DURATION_MS, COL_NAME, COL_SERVICE, KEY_LEN_MAX};
use model::{Event, SignalKind, SpanId, TraceId, Value};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Largest event, in bytes of its uncompressed encoding: "The entire event must be less than
/// 1 MB of uncompressed JSON" (OpenAPI `Event`); libhoney-go enforces the same client-side
/// (`apiEventSizeMax = 1_000_000`).
pub const EVENT_BYTES_MAX: usize = 1_000_000;

/// Most fields one event may carry: "2,000 distinct fields per event" (OpenAPI `/1/events`).
pub const EVENT_FIELDS_MAX: usize = 2000;

/// Longest string value: "Each string field has a maximum length of 64KB" (OpenAPI `Event`).
/// Longer strings are truncated to this many bytes (at a character boundary) rather than
/// failing the event: our choice, as husky truncates over-long values (`fieldSizeMax`).
pub const STRING_BYTES_MAX: usize = 64 * 1024;

/// Largest decompressed batch body: libhoney-go caps batches at `apiMaxBatchSize = 5000000`
/// and Refinery refuses bodies over `HTTPMessageSizeMax = 5_000_000`.
pub const BATCH_BYTES_MAX: usize = 5_000_000;

/// Largest single-event body: "request body is limited to raw (potentially compressed) size
/// of 1MB" (OpenAPI `/1/events`).
pub const SINGLE_BYTES_MAX: usize = EVENT_BYTES_MAX;

/// Deepest msgpack nesting we decode (our choice: the same as serde_json's recursion limit of
/// 128, so JSON and msgpack bodies are bounded alike).
pub const MSGPACK_DEPTH_MAX: usize = 128;

/// Field that keeps a `trace.trace_id` we could not read as a trace id.
pub const FIELD_RAW_TRACE_ID: &str = "trace.trace_id.raw";

/// Honeycomb's messages (OpenAPI batch response examples and `/1/batch` 400 descriptions).
pub const MSG_EMPTY: &str = "Request body should not be empty.";
pub const MSG_MALFORMED: &str = "Request body is malformed and cannot be read.";
pub const MSG_TOO_LARGE: &str = "Request body is too large.";
pub const MSG_TOO_MANY_COLUMNS: &str = "Event has too many columns.";

/// The outcome of one event of a batch, in input order: `{"status":202}` or
/// `{"status":400,"error":"..."}` (OpenAPI `/1/batch` 200 response).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchItemStatus {
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl BatchItemStatus {
    pub fn accepted() -> Self {
        Self {
            status: 202,
            error: None,
        }
    }

    pub fn rejected(problem: &EventProblem) -> Self {
        Self {
            status: 400,
            error: Some(problem.to_string()),
        }
    }
}

/// Why one event was refused (per-event 400 in a batch; the whole request for `/1/events`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventProblem {
    #[error("Request body should not be empty.")]
    Empty,
    #[error("Request body is malformed and cannot be read.")]
    Malformed,
    #[error("Request body is too large.")]
    TooLarge,
    #[error("Event has too many columns.")]
    TooManyColumns,
    #[error("Event has a field name longer than {KEY_LEN_MAX} bytes.")]
    KeyTooLong,
}

/// A whole-request failure, rendered as Honeycomb renders it: a status and `{"error": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoneycombError {
    #[error("Request body should not be empty.")]
    Empty,
    #[error("Request body is malformed and cannot be read.")]
    Malformed,
    #[error("Request body is malformed and cannot be read. A batch must be an array of events.")]
    NotArray,
    #[error("Request body is malformed and cannot be read. An event must be an object of fields.")]
    NotObject,
    #[error("Request body is too large.")]
    TooLarge,
    /// A single event (`/1/events`) that a batch would have refused with a per-event status.
    #[error("{0}")]
    Event(EventProblem),
    #[error("Dataset names cannot contain an encoded slash or be empty.")]
    BadDataset,
}

impl HoneycombError {
    /// HTTP status: Honeycomb answers every body problem with 400 (OpenAPI `/1/batch` and
    /// `/1/events` 400 responses, including "Request body is too large.").
    pub fn status(&self) -> u16 {
        400
    }

    /// The legacy Honeycomb error body `{"error": "..."}` (OpenAPI `Error` schema).
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({ "error": self.to_string() })
    }
}

/// Body encodings `/1/batch` and `/1/events` accept (Refinery `unmarshal`: msgpack for
/// `application/msgpack` and `application/x-msgpack`, JSON for anything else).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Json,
    Msgpack,
}

impl Encoding {
    pub fn from_content_type(content_type: Option<&str>) -> Self {
        let media = content_type
            .and_then(|c| c.split(';').next())
            .map(|m| m.trim().to_ascii_lowercase())
            .unwrap_or_default();
        match media.as_str() {
            "application/msgpack" | "application/x-msgpack" => Encoding::Msgpack,
            _ => Encoding::Json,
        }
    }
}

/// Decodes the dataset path segment: `%xx` escapes are decoded (libhoney-go path-escapes,
/// libhoney-py sends spaces that `requests` encodes as `%20`), case is kept. Honeycomb
/// dataset names "may contain URL-encoded spaces but not encoded slashes" (OpenAPI `/1/batch`).
pub fn dataset_from_path(segment: &str) -> Result<String, HoneycombError> {
    let lower = segment.to_ascii_lowercase();
    if lower.contains("%2f") {
        return Err(HoneycombError::BadDataset);
    }
    let decoded = percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned();
    if decoded.trim().is_empty() {
        return Err(HoneycombError::BadDataset);
    }
    Ok(decoded)
}

/// Accepted events with their index in the batch, and one status per input event.
pub type DecodedBatch = (Vec<(usize, Event)>, Vec<BatchItemStatus>);

/// Decodes a `/1/batch` body. Returns the accepted events with their index in the batch, and
/// one status per input event in input order (libhoney zips statuses onto its events).
pub fn decode_batch(
    dataset: &str,
    content_type: Option<&str>,
    body: &[u8],
    now_ns: i64,
) -> Result<DecodedBatch, HoneycombError> {
    if body.len() > BATCH_BYTES_MAX {
        return Err(HoneycombError::TooLarge);
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(HoneycombError::Empty);
    }
    let items = match Encoding::from_content_type(content_type) {
        Encoding::Json => json_batch_items(body)?,
        Encoding::Msgpack => msgpack_batch_items(body)?,
    };
    let mut events = Vec::new();
    let mut statuses = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        match item.and_then(|raw| build_event(dataset, raw, now_ns)) {
            Ok(ev) => {
                events.push((index, ev));
                statuses.push(BatchItemStatus::accepted());
            }
            Err(problem) => statuses.push(BatchItemStatus::rejected(&problem)),
        }
    }
    Ok((events, statuses))
}

/// Decodes a `/1/events` body: one object of fields, with the time and sample rate from the
/// `X-Honeycomb-Event-Time` and `X-Honeycomb-Samplerate` headers (OpenAPI `/1/events`;
/// Refinery `types/event.go`).
pub fn decode_single(
    dataset: &str,
    content_type: Option<&str>,
    body: &[u8],
    event_time_header: Option<&str>,
    samplerate_header: Option<&str>,
    now_ns: i64,
) -> Result<Event, HoneycombError> {
    if body.len() > SINGLE_BYTES_MAX {
        return Err(HoneycombError::TooLarge);
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(HoneycombError::Empty);
    }
    let data = match Encoding::from_content_type(content_type) {
        Encoding::Json => match serde_json::from_slice::<DataIn>(body) {
            Ok(data) => json_data(data),
            Err(e) if e.classify() == serde_json::error::Category::Data => {
                return Err(HoneycombError::NotObject)
            }
            Err(_) => return Err(HoneycombError::Malformed),
        },
        Encoding::Msgpack => {
            let mut rd: &[u8] = body;
            let value = rmpv::decode::read_value_with_max_depth(&mut rd, MSGPACK_DEPTH_MAX)
                .map_err(|_| HoneycombError::Malformed)?;
            match value {
                rmpv::Value::Map(entries) => {
                    msgpack_data(entries).map_err(HoneycombError::Event)?
                }
                _ => return Err(HoneycombError::NotObject),
            }
        }
    };
    let time_ns = event_time_header.and_then(parse_event_time);
    let sample_rate = samplerate_header
        .and_then(|s| sample_rate_from_f64(s.trim().parse::<f64>().ok()?))
        .unwrap_or(1);
    let raw = RawEvent {
        data,
        time_ns,
        sample_rate,
        size: body.len(),
    };
    build_event(dataset, raw, now_ns).map_err(HoneycombError::Event)
}

/// Parses a Honeycomb event time as Refinery's `getEventTime` does: RFC3339 (any fraction),
/// an all-digit Unix epoch (10 digits = seconds; digits after the 10th are the fraction, so
/// 13 = ms, 16 = µs, 19 = ns), or float seconds (`1535589382.641`). `None` if unreadable
/// (callers then use the receive time).
pub fn parse_event_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return epoch_digits_ns(s);
    }
    if let Some((int, frac)) = s.split_once('.') {
        let int_ok = !int.is_empty() && int.bytes().all(|b| b.is_ascii_digit());
        let frac_ok = frac.bytes().all(|b| b.is_ascii_digit());
        if int_ok && frac_ok {
            return seconds_and_fraction_ns(int, frac);
        }
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return t.timestamp_nanos_opt();
    }
    // RFC3339 without an offset (Python's naive isoformat): read as UTC.
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, fmt) {
            return t.and_utc().timestamp_nanos_opt();
        }
    }
    // Scientific notation and other float spellings, to the nearest nanosecond.
    let f: f64 = s.parse().ok()?;
    float_seconds_ns(f)
}

fn epoch_digits_ns(digits: &str) -> Option<i64> {
    // At most 10 digits of seconds: the 10th digit after which the rest is a fraction.
    const SECONDS_DIGITS: usize = 10;
    if digits.len() <= SECONDS_DIGITS {
        return seconds_and_fraction_ns(digits, "");
    }
    let (int, frac) = digits.split_at(SECONDS_DIGITS);
    seconds_and_fraction_ns(int, frac)
}

fn seconds_and_fraction_ns(int: &str, frac: &str) -> Option<i64> {
    let secs: i64 = int.parse().ok()?;
    let mut nanos: i64 = 0;
    let mut scale: i64 = 100_000_000;
    for b in frac.bytes().take(9) {
        nanos += i64::from(b - b'0') * scale;
        scale /= 10;
    }
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

fn float_seconds_ns(f: f64) -> Option<i64> {
    if !f.is_finite() {
        return None;
    }
    let ns = (f * 1e9).round();
    // i64 nanoseconds cover 1677..2262; anything outside is not a time.
    if ns.abs() >= 9.2e18 {
        return None;
    }
    Some(ns as i64)
}

fn sample_rate_from_f64(f: f64) -> Option<u32> {
    if !f.is_finite() {
        return None;
    }
    let r = f.round();
    if r < 1.0 {
        Some(1)
    } else if r >= f64::from(u32::MAX) {
        Some(u32::MAX)
    } else {
        Some(r as u32)
    }
}

/// One event before mapping: its data fields in arrival order and its envelope.
struct RawEvent {
    data: Vec<(String, Value)>,
    time_ns: Option<i64>,
    sample_rate: u32,
    /// Bytes of the event's encoding, for [`EVENT_BYTES_MAX`].
    size: usize,
}

type Item = Result<RawEvent, EventProblem>;

// ---------------------------------------------------------------------------------------
// JSON

/// An event's `data` object with its keys in arrival order (serde_json's map sorts them).
struct DataIn(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for DataIn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = DataIn;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of event fields")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DataIn, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, serde_json::Value>()? {
                    out.push((k, v));
                }
                Ok(DataIn(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// One element of a JSON batch (OpenAPI `BatchEvent`); unknown keys are ignored.
#[derive(Deserialize)]
struct BatchEventJson {
    #[serde(default)]
    data: Option<DataIn>,
    #[serde(default)]
    time: Option<serde_json::Value>,
    #[serde(default)]
    samplerate: Option<serde_json::Value>,
}

fn json_batch_items(body: &[u8]) -> Result<Vec<Item>, HoneycombError> {
    let raws: Vec<&RawValue> = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) if e.classify() == serde_json::error::Category::Data => {
            return Err(HoneycombError::NotArray)
        }
        Err(_) => return Err(HoneycombError::Malformed),
    };
    Ok(raws.into_iter().map(json_item).collect())
}

fn json_item(raw: &RawValue) -> Item {
    let text = raw.get();
    if text.len() > EVENT_BYTES_MAX {
        return Err(EventProblem::TooLarge);
    }
    let ev: BatchEventJson = serde_json::from_str(text).map_err(|_| EventProblem::Malformed)?;
    let time_ns = ev.time.as_ref().and_then(json_time_ns);
    let sample_rate = ev
        .samplerate
        .as_ref()
        .and_then(json_sample_rate)
        .unwrap_or(1);
    let data = ev.data.map(json_data).unwrap_or_default();
    Ok(RawEvent {
        data,
        time_ns,
        sample_rate,
        size: text.len(),
    })
}

fn json_data(data: DataIn) -> Vec<(String, Value)> {
    data.0
        .into_iter()
        .filter_map(|(k, v)| Value::from_json(&v).map(|v| (k, v)))
        .collect()
}

fn json_time_ns(v: &serde_json::Value) -> Option<i64> {
    match v {
        serde_json::Value::String(s) => parse_event_time(s),
        // From the number's text, so `1452759330.25` keeps its exact fraction.
        serde_json::Value::Number(n) => parse_event_time(&n.to_string()),
        _ => None,
    }
}

fn json_sample_rate(v: &serde_json::Value) -> Option<u32> {
    match v {
        serde_json::Value::Number(n) => sample_rate_from_f64(n.as_f64()?),
        serde_json::Value::String(s) => sample_rate_from_f64(s.trim().parse().ok()?),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// msgpack

fn msgpack_batch_items(body: &[u8]) -> Result<Vec<Item>, HoneycombError> {
    let mut rd: &[u8] = body;
    let first = rd.first().copied().ok_or(HoneycombError::Empty)?;
    // fixarray 0x90-0x9f, array16 0xdc, array32 0xdd.
    let is_array = (0x90..=0x9f).contains(&first) || first == 0xdc || first == 0xdd;
    if !is_array {
        return Err(
            match rmpv::decode::read_value_with_max_depth(&mut rd, MSGPACK_DEPTH_MAX) {
                Ok(_) => HoneycombError::NotArray,
                Err(_) => HoneycombError::Malformed,
            },
        );
    }
    // The declared length is untrusted: never allocate by it; a short body fails below.
    let declared = rmp::decode::read_array_len(&mut rd).map_err(|_| HoneycombError::Malformed)?;
    let mut items = Vec::new();
    for _ in 0..declared {
        let before = rd.len();
        let value = rmpv::decode::read_value_with_max_depth(&mut rd, MSGPACK_DEPTH_MAX)
            .map_err(|_| HoneycombError::Malformed)?;
        let size = before - rd.len();
        items.push(msgpack_item(value, size));
    }
    Ok(items)
}

fn msgpack_item(value: rmpv::Value, size: usize) -> Item {
    if size > EVENT_BYTES_MAX {
        return Err(EventProblem::TooLarge);
    }
    let rmpv::Value::Map(entries) = value else {
        return Err(EventProblem::Malformed);
    };
    let mut data = Vec::new();
    let mut time_ns = None;
    let mut sample_rate = 1;
    for (k, v) in entries {
        match k.as_str() {
            Some("data") => match v {
                rmpv::Value::Map(fields) => data = msgpack_data(fields)?,
                rmpv::Value::Nil => {}
                _ => return Err(EventProblem::Malformed),
            },
            Some("time") => time_ns = msgpack_time_ns(&v),
            Some("samplerate") => {
                let f = match &v {
                    rmpv::Value::Integer(i) => i.as_f64(),
                    rmpv::Value::F32(f) => Some(f64::from(*f)),
                    rmpv::Value::F64(f) => Some(*f),
                    rmpv::Value::String(s) => s.as_str().and_then(|s| s.trim().parse().ok()),
                    _ => None,
                };
                sample_rate = f.and_then(sample_rate_from_f64).unwrap_or(1);
            }
            _ => {}
        }
    }
    Ok(RawEvent {
        data,
        time_ns,
        sample_rate,
        size,
    })
}

fn msgpack_data(
    entries: Vec<(rmpv::Value, rmpv::Value)>,
) -> Result<Vec<(String, Value)>, EventProblem> {
    let mut out = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        let key = match k {
            rmpv::Value::String(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
            _ => return Err(EventProblem::Malformed),
        };
        if let Some(v) = msgpack_value(v) {
            out.push((key, v));
        }
    }
    Ok(out)
}

/// msgpack timestamp extension (type -1), 32/64/96-bit forms
/// (https://github.com/msgpack/msgpack/blob/master/spec.md#timestamp-extension-type).
fn msgpack_timestamp(ty: i8, bytes: &[u8]) -> Option<(i64, u32)> {
    if ty != -1 {
        return None;
    }
    match bytes.len() {
        4 => {
            let secs = u32::from_be_bytes(bytes.try_into().ok()?);
            Some((i64::from(secs), 0))
        }
        8 => {
            let v = u64::from_be_bytes(bytes.try_into().ok()?);
            let nanos = (v >> 34) as u32;
            let secs = (v & 0x0000_0003_ffff_ffff) as i64;
            (nanos < 1_000_000_000).then_some((secs, nanos))
        }
        12 => {
            let nanos = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?);
            let secs = i64::from_be_bytes(bytes.get(4..)?.try_into().ok()?);
            (nanos < 1_000_000_000).then_some((secs, nanos))
        }
        _ => None,
    }
}

fn msgpack_time_ns(v: &rmpv::Value) -> Option<i64> {
    match v {
        rmpv::Value::Ext(ty, bytes) => {
            let (secs, nanos) = msgpack_timestamp(*ty, bytes)?;
            secs.checked_mul(1_000_000_000)?
                .checked_add(i64::from(nanos))
        }
        rmpv::Value::String(s) => parse_event_time(s.as_str()?),
        rmpv::Value::Integer(i) => match i.as_u64() {
            Some(u) => epoch_digits_ns(&u.to_string()),
            None => None,
        },
        rmpv::Value::F64(f) => float_seconds_ns(*f),
        rmpv::Value::F32(f) => float_seconds_ns(f64::from(*f)),
        _ => None,
    }
}

fn msgpack_value(v: rmpv::Value) -> Option<Value> {
    Some(match v {
        rmpv::Value::Nil => return None,
        rmpv::Value::Boolean(b) => Value::Bool(b),
        rmpv::Value::Integer(i) => match i.as_i64() {
            Some(n) => Value::Int(n),
            None => Value::Float(i.as_f64()?),
        },
        rmpv::Value::F32(f) => float_value(f64::from(f)),
        rmpv::Value::F64(f) => float_value(f),
        rmpv::Value::String(s) => Value::Str(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        rmpv::Value::Binary(b) => Value::Str(base64_std(&b)),
        rmpv::Value::Ext(ty, bytes) => match msgpack_timestamp(ty, &bytes) {
            Some((secs, nanos)) => Value::Str(rfc3339(secs, nanos)?),
            None => Value::Str(base64_std(&bytes)),
        },
        other @ (rmpv::Value::Array(_) | rmpv::Value::Map(_)) => {
            Value::Str(msgpack_json(&other).to_string())
        }
    })
}

/// Non-finite floats have no JSON form; they are kept as their text.
fn float_value(f: f64) -> Value {
    if f.is_finite() {
        Value::Float(f)
    } else {
        Value::Str(f.to_string())
    }
}

fn msgpack_json(v: &rmpv::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        rmpv::Value::Nil => J::Null,
        rmpv::Value::Boolean(b) => J::Bool(*b),
        rmpv::Value::Integer(i) => match (i.as_i64(), i.as_u64()) {
            (Some(n), _) => J::from(n),
            (None, Some(u)) => J::from(u),
            _ => J::Null,
        },
        rmpv::Value::F32(f) => {
            serde_json::Number::from_f64(f64::from(*f)).map_or(J::Null, J::Number)
        }
        rmpv::Value::F64(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        rmpv::Value::String(s) => J::String(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        rmpv::Value::Binary(b) => J::String(base64_std(b)),
        rmpv::Value::Ext(ty, bytes) => {
            match msgpack_timestamp(*ty, bytes).and_then(|(s, n)| rfc3339(s, n)) {
                Some(t) => J::String(t),
                None => J::String(base64_std(bytes)),
            }
        }
        rmpv::Value::Array(items) => J::Array(items.iter().map(msgpack_json).collect()),
        rmpv::Value::Map(entries) => {
            let mut m = serde_json::Map::new();
            for (k, v) in entries {
                let key = match k {
                    rmpv::Value::String(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
                    other => msgpack_json(other).to_string(),
                };
                m.insert(key, msgpack_json(v));
            }
            J::Object(m)
        }
    }
}

fn base64_std(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn rfc3339(secs: i64, nanos: u32) -> Option<String> {
    let t = chrono::DateTime::from_timestamp(secs, nanos)?;
    Some(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

// ---------------------------------------------------------------------------------------
// Mapping onto the wide event

fn truncate_str(mut s: String) -> String {
    if s.len() > STRING_BYTES_MAX {
        let mut cut = STRING_BYTES_MAX;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

fn text_of(v: &Value) -> String {
    match v {
        Value::Str(s) => s.clone(),
        other => other.to_string(),
    }
}

fn build_event(dataset: &str, raw: RawEvent, now_ns: i64) -> Result<Event, EventProblem> {
    if raw.size > EVENT_BYTES_MAX {
        return Err(EventProblem::TooLarge);
    }
    // Duplicate keys: the last value wins, at the first key's position (JSON object semantics).
    let mut data: Vec<(String, Value)> = Vec::with_capacity(raw.data.len());
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(raw.data.len());
    for (k, v) in raw.data {
        if k.is_empty() {
            continue; // husky skips empty keys
        }
        if k.len() > KEY_LEN_MAX {
            return Err(EventProblem::KeyTooLong);
        }
        let v = match v {
            Value::Str(s) => Value::Str(truncate_str(s)),
            other => other,
        };
        match seen.get(&k) {
            Some(&i) => data[i].1 = v,
            None => {
                seen.insert(k.clone(), data.len());
                data.push((k, v));
            }
        }
    }
    if data.is_empty() {
        return Err(EventProblem::Empty);
    }
    if data.len() > EVENT_FIELDS_MAX {
        return Err(EventProblem::TooManyColumns);
    }

    let mut ev = Event::new(dataset, raw.time_ns.unwrap_or(now_ns), SignalKind::Plain);
    ev.sample_rate = raw.sample_rate.max(1);
    let mut has_trace_id = false;
    let mut annotation: Option<String> = None;
    let mut service_fallback: Option<String> = None;
    for (key, value) in data {
        match key.as_str() {
            model::schema::FIELD_TRACE_ID => {
                let text = text_of(&value);
                if text.trim().is_empty() {
                    continue;
                }
                has_trace_id = true;
                match TraceId::parse(&text) {
                    Ok(id) => ev.trace_id = Some(id),
                    Err(_) => ev.set(FIELD_RAW_TRACE_ID, Value::Str(text)),
                }
            }
            model::schema::FIELD_SPAN_ID => ev.span_id = SpanId::parse_or_hash(&text_of(&value)),
            model::schema::FIELD_PARENT_ID => {
                ev.parent_id = SpanId::parse_or_hash(&text_of(&value))
            }
            COL_NAME => ev.name = Some(text_of(&value)),
            COL_SERVICE => ev.service = Some(text_of(&value)),
            COL_DURATION_MS => match value.as_f64().filter(|f| f.is_finite()) {
                Some(ms) => ev.duration_ms = Some(ms),
                None => ev.set(format!("user.{COL_DURATION_MS}"), value),
            },
            "service_name" => {
                // Beeline spelling: fills the service column and stays queryable by its name.
                service_fallback = Some(text_of(&value));
                ev.set(key, value);
            }
            "meta.annotation_type" => {
                annotation = value.as_str().map(str::to_owned);
                ev.set(key, value);
            }
            _ => {
                let k = escape_user_key(&key).into_owned();
                ev.set(k, value);
            }
        }
    }
    if ev.service.is_none() {
        ev.service = service_fallback;
    }
    if has_trace_id {
        ev.kind = match annotation.as_deref() {
            Some("span_event") => SignalKind::SpanEvent,
            Some("link") => SignalKind::Link,
            _ if ev.span_id.is_some() => SignalKind::Span,
            _ => SignalKind::Plain,
        };
    }
    Ok(ev)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn epoch_forms() {
        let s = 1_452_759_330i64 * 1_000_000_000;
        assert_eq!(parse_event_time("1452759330"), Some(s));
        assert_eq!(parse_event_time("1452759330927"), Some(s + 927_000_000));
        assert_eq!(parse_event_time("1452759330927123"), Some(s + 927_123_000));
        assert_eq!(
            parse_event_time("1452759330927123456"),
            Some(s + 927_123_456)
        );
        assert_eq!(parse_event_time("1452759330.5"), Some(s + 500_000_000));
        assert_eq!(
            parse_event_time("2016-01-14T08:15:30.927Z"),
            Some(s + 927_000_000)
        );
        assert_eq!(parse_event_time("2016-01-14T08:15:30Z"), Some(s));
        assert_eq!(parse_event_time("2016-01-14T09:15:30+01:00"), Some(s));
        assert_eq!(
            parse_event_time("2016-01-14T08:15:30.927"),
            Some(s + 927_000_000)
        );
        assert_eq!(parse_event_time("yesterday"), None);
        assert_eq!(parse_event_time(""), None);
    }

    #[test]
    fn timestamp_ext_forms() {
        assert_eq!(msgpack_timestamp(-1, &[0, 0, 0, 10]), Some((10, 0)));
        let v: u64 = (5u64 << 34) | 7;
        assert_eq!(msgpack_timestamp(-1, &v.to_be_bytes()), Some((7, 5)));
        let mut b = 9u32.to_be_bytes().to_vec();
        b.extend_from_slice(&(-3i64).to_be_bytes());
        assert_eq!(msgpack_timestamp(-1, &b), Some((-3, 9)));
        assert_eq!(msgpack_timestamp(3, &[0, 0, 0, 10]), None);
    }

    #[test]
    fn content_types() {
        assert_eq!(Encoding::from_content_type(None), Encoding::Json);
        assert_eq!(
            Encoding::from_content_type(Some("application/x-msgpack; charset=x")),
            Encoding::Msgpack
        );
        assert_eq!(
            Encoding::from_content_type(Some("Application/MsgPack")),
            Encoding::Msgpack
        );
    }

    #[test]
    fn dataset_names() {
        assert_eq!(dataset_from_path("My%20Dataset").unwrap(), "My Dataset");
        assert!(dataset_from_path("a%2Fb").is_err());
        assert!(dataset_from_path("%20").is_err());
    }
}
