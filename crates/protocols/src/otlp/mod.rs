//! OTLP (traces, logs, metrics over HTTP/protobuf, HTTP/JSON and gRPC): request decoding,
//! Honeycomb-style translation into wide [`Event`]s, and the response bodies the spec asks for.
//!
//! Shape: [`decode`] reads a body (protobuf via prost, JSON via our own converter in
//! [`json`], never opentelemetry-proto's serde, which silently drops data), then
//! [`translate`] turns each span / log record / data point into events the way Honeycomb's
//! husky does (`../shared/protocols/otlp-honeycomb.md` §6.2–6.4). Bad items are rejected one
//! by one and counted, so the caller can answer with an OTLP partial success.

mod attrs;
pub mod json;
pub mod translate;

use model::Event;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;

pub use translate::{translate_logs, translate_metrics, translate_traces};

// ---- Limits -------------------------------------------------------------------------------

/// Attributes one item (span, span event, link, log record, data point, resource, scope) may
/// carry, and fields one translated event may end up with after kvlist flattening. Our
/// choice: Honeycomb's documented per-event limit of 2000 fields (OpenAPI `Event` schema, see
/// otlp-honeycomb.md §11). Items over it are rejected with a message, not truncated.
pub const ATTRIBUTES_PER_ITEM_MAX: usize = 2000;
/// Fields one translated event may hold (same source as [`ATTRIBUTES_PER_ITEM_MAX`]).
pub const FIELDS_PER_EVENT_MAX: usize = 2000;
/// Longest attribute key in bytes; longer keys are truncated (Honeycomb column names are
/// 1–255 characters: `model::schema::KEY_LEN_MAX`).
pub const KEY_LEN_MAX: usize = model::schema::KEY_LEN_MAX;
/// Longest string value in bytes; longer values are truncated at a character boundary
/// (husky `fieldSizeMax = math.MaxUint16`, otlp-honeycomb.md §6.2; Honeycomb strings ≤ 64 KB).
pub const STRING_VALUE_LEN_MAX: usize = 65_535;
/// Depth to which kvlist attribute values are flattened into dotted keys; deeper maps become
/// JSON text (husky `addAttributeToMap`, otlp-honeycomb.md §6.2).
pub const KVLIST_DEPTH_MAX: usize = 5;
/// Nesting depth of an `AnyValue` (arrays inside kvlists inside arrays …) we accept in OTLP/JSON
/// before rejecting the item (our choice: far beyond any real attribute, far below
/// serde_json's parser recursion limit of 128 which bounds the whole document).
pub const ANY_VALUE_DEPTH_MAX: usize = 32;
/// Span events per span (our choice: 8× the SDK default `OTEL_SPAN_EVENT_COUNT_LIMIT` = 128,
/// spec `sdk-environment-variables.md`). A span over it is rejected.
pub const SPAN_EVENTS_MAX: usize = 1024;
/// Span links per span (our choice: 8× the SDK default `OTEL_SPAN_LINK_COUNT_LIMIT` = 128).
pub const SPAN_LINKS_MAX: usize = 1024;
/// Items (spans, log records or data points) per request (our choice: a 64 MiB body of
/// realistic ~330-byte spans is ~200k spans; see `body::OTLP_BODY_DECOMPRESSED_MAX`). Items
/// past it are rejected and counted.
pub const ITEMS_PER_REQUEST_MAX: usize = 200_000;
/// Events one request may produce, counting span events and links (our choice: 5× the item
/// limit; bounds memory when every span carries many tiny events).
pub const EVENTS_PER_REQUEST_MAX: usize = 1_000_000;
/// How many rejection reasons the partial-success message lists (our choice; the Collector
/// reads at most 64 KiB of a response body, otlp-honeycomb.md §1.3).
pub const MESSAGE_REASONS_MAX: usize = 5;

const _: () = assert!(FIELDS_PER_EVENT_MAX >= ATTRIBUTES_PER_ITEM_MAX);
const _: () = assert!(EVENTS_PER_REQUEST_MAX >= ITEMS_PER_REQUEST_MAX);

// ---- API ----------------------------------------------------------------------------------

/// The three OTLP signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    Traces,
    Logs,
    Metrics,
}

impl Signal {
    /// The request message name, for error messages.
    pub fn request_name(self) -> &'static str {
        match self {
            Signal::Traces => "ExportTraceServiceRequest",
            Signal::Logs => "ExportLogsServiceRequest",
            Signal::Metrics => "ExportMetricsServiceRequest",
        }
    }

    /// What one item is called in messages ("spans", "log records", "data points").
    pub fn item_name(self) -> &'static str {
        match self {
            Signal::Traces => "spans",
            Signal::Logs => "log records",
            Signal::Metrics => "data points",
        }
    }
}

/// Body encodings OTLP/HTTP defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Protobuf,
    Json,
}

impl Format {
    /// The `Content-Type` a response in this format carries (the spec: the same as the request).
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Protobuf => "application/x-protobuf",
            Format::Json => "application/json",
        }
    }
}

/// Reads a `Content-Type` header: `application/x-protobuf`, `application/protobuf` (Honeycomb
/// accepts it) and `application/json`, case-insensitive, parameters such as `; charset=utf-8`
/// ignored. `None` means the caller answers 415.
pub fn format_from_content_type(ct: Option<&str>) -> Option<Format> {
    let media = ct?.split(';').next()?.trim().to_ascii_lowercase();
    match media.as_str() {
        "application/x-protobuf" | "application/protobuf" => Some(Format::Protobuf),
        "application/json" => Some(Format::Json),
        _ => None,
    }
}

/// A decoded request: the events to store and the partial-success accounting.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decoded {
    pub events: Vec<Event>,
    /// Items (spans / log records / data points) turned into events.
    pub accepted: u64,
    /// Items refused (invalid or over a limit); the rest of the request is kept.
    pub rejected: u64,
    /// The first few rejection reasons (and warnings), human-readable.
    pub message: Option<String>,
}

/// Request context that affects translation.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hints<'a> {
    /// The `x-honeycomb-dataset` header, if sent (dataset for metrics, fallback for logs).
    pub dataset_header: Option<&'a str>,
}

/// The whole body could not be read. Receivers answer 400 with [`encode_status`].
#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    #[error("failed to parse OTLP protobuf {message}: {}", short_error(.source))]
    Protobuf {
        message: &'static str,
        source: prost::DecodeError,
    },
    #[error("failed to parse OTLP/JSON {message}: {detail}")]
    Json {
        message: &'static str,
        detail: String,
    },
}

/// Longest error detail we put in a message (our choice: prost lists the whole field path,
/// ~100 entries deep on a recursion-limit error; people need the start of it).
const ERROR_DETAIL_LEN_MAX: usize = 512;

fn short_error(e: &prost::DecodeError) -> String {
    let text = e.to_string();
    if text.len() <= ERROR_DETAIL_LEN_MAX {
        return text;
    }
    // Keep both ends: prost puts the field path first and the reason last.
    let half = ERROR_DETAIL_LEN_MAX / 2;
    let head = attrs::truncate(&text, half);
    let mut tail_start = text.len() - half;
    while !text.is_char_boundary(tail_start) {
        tail_start += 1;
    }
    format!("{head} … {}", &text[tail_start..])
}

/// Decodes and translates one OTLP request body (already decompressed, see
/// [`crate::body::decode_body`]). Fails only when the body as a whole is unreadable; invalid
/// items are rejected individually in [`Decoded`].
pub fn decode(
    signal: Signal,
    format: Format,
    body: &[u8],
    hints: &Hints,
) -> Result<Decoded, OtlpError> {
    let message = signal.request_name();
    match format {
        Format::Protobuf => {
            let pb = |source| OtlpError::Protobuf { message, source };
            Ok(match signal {
                Signal::Traces => {
                    translate_traces(ExportTraceServiceRequest::decode(body).map_err(pb)?, hints)
                }
                Signal::Logs => {
                    translate_logs(ExportLogsServiceRequest::decode(body).map_err(pb)?, hints)
                }
                Signal::Metrics => translate_metrics(
                    ExportMetricsServiceRequest::decode(body).map_err(pb)?,
                    hints,
                ),
            })
        }
        Format::Json => {
            let js = |detail| OtlpError::Json { message, detail };
            let value = json::parse(body).map_err(js)?;
            Ok(match signal {
                Signal::Traces => {
                    let (req, rejects) = json::traces(&value).map_err(js)?;
                    translate::traces_with(req, hints, translate::Tally::from_rejects(rejects))
                }
                Signal::Logs => {
                    let (req, rejects) = json::logs(&value).map_err(js)?;
                    translate::logs_with(req, hints, translate::Tally::from_rejects(rejects))
                }
                Signal::Metrics => {
                    let (req, rejects) = json::metrics(&value).map_err(js)?;
                    translate::metrics_with(req, hints, translate::Tally::from_rejects(rejects))
                }
            })
        }
    }
}

/// The success body: an `Export*ServiceResponse` in the request's format, with
/// `partial_success` left unset when nothing was rejected and there is no message (the spec
/// requires that), else `rejected_*` + `error_message`. JSON writes int64 as a string.
pub fn encode_success(
    signal: Signal,
    format: Format,
    rejected: u64,
    message: Option<&str>,
) -> Vec<u8> {
    let partial = rejected > 0 || message.is_some_and(|m| !m.is_empty());
    let rejected_i64 = i64::try_from(rejected).unwrap_or(i64::MAX);
    let error_message = message.unwrap_or("").to_string();
    match format {
        Format::Protobuf => match signal {
            Signal::Traces => ExportTraceServiceResponse {
                partial_success: partial.then_some(ExportTracePartialSuccess {
                    rejected_spans: rejected_i64,
                    error_message,
                }),
            }
            .encode_to_vec(),
            Signal::Logs => ExportLogsServiceResponse {
                partial_success: partial.then_some(ExportLogsPartialSuccess {
                    rejected_log_records: rejected_i64,
                    error_message,
                }),
            }
            .encode_to_vec(),
            Signal::Metrics => ExportMetricsServiceResponse {
                partial_success: partial.then_some(ExportMetricsPartialSuccess {
                    rejected_data_points: rejected_i64,
                    error_message,
                }),
            }
            .encode_to_vec(),
        },
        Format::Json => {
            if !partial {
                return b"{}".to_vec();
            }
            let key = match signal {
                Signal::Traces => "rejectedSpans",
                Signal::Logs => "rejectedLogRecords",
                Signal::Metrics => "rejectedDataPoints",
            };
            let mut inner = serde_json::Map::new();
            if rejected > 0 {
                inner.insert(
                    key.into(),
                    serde_json::Value::String(rejected_i64.to_string()),
                );
            }
            if !error_message.is_empty() {
                inner.insert(
                    "errorMessage".into(),
                    serde_json::Value::String(error_message),
                );
            }
            let mut outer = serde_json::Map::new();
            outer.insert("partialSuccess".into(), serde_json::Value::Object(inner));
            serde_json::Value::Object(outer).to_string().into_bytes()
        }
    }
}

/// `google.rpc.Status` (only the fields we send; `details` = tag 3 is left out).
/// <https://github.com/googleapis/googleapis/blob/master/google/rpc/status.proto>
#[derive(Clone, PartialEq, prost::Message)]
pub struct Status {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

/// gRPC status codes the OTLP spec names for failures (`code` of [`encode_status`]).
pub mod code {
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const RESOURCE_EXHAUSTED: i32 = 8;
    pub const UNIMPLEMENTED: i32 = 12;
    pub const INTERNAL: i32 = 13;
    pub const UNAVAILABLE: i32 = 14;
    pub const UNAUTHENTICATED: i32 = 16;
}

/// An error body: `google.rpc.Status` in the request's format (OTLP/HTTP "Failures"; JSON
/// `{"code":3,"message":"…"}`).
pub fn encode_status(format: Format, code: i32, message: &str) -> Vec<u8> {
    match format {
        Format::Protobuf => Status {
            code,
            message: message.to_string(),
        }
        .encode_to_vec(),
        Format::Json => serde_json::json!({ "code": code, "message": message })
            .to_string()
            .into_bytes(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(
            format_from_content_type(Some("application/x-protobuf")),
            Some(Format::Protobuf)
        );
        assert_eq!(
            format_from_content_type(Some("application/protobuf")),
            Some(Format::Protobuf)
        );
        assert_eq!(
            format_from_content_type(Some("Application/JSON; charset=utf-8")),
            Some(Format::Json)
        );
        assert_eq!(format_from_content_type(Some("text/plain")), None);
        assert_eq!(format_from_content_type(None), None);
    }

    #[test]
    fn success_bodies() {
        assert_eq!(encode_success(Signal::Traces, Format::Json, 0, None), b"{}");
        assert!(encode_success(Signal::Traces, Format::Protobuf, 0, None).is_empty());
        let j: serde_json::Value = serde_json::from_slice(&encode_success(
            Signal::Traces,
            Format::Json,
            3,
            Some("bad ids"),
        ))
        .unwrap();
        assert_eq!(
            j,
            serde_json::json!({"partialSuccess":{"rejectedSpans":"3","errorMessage":"bad ids"}})
        );
        let p = encode_success(Signal::Logs, Format::Protobuf, 2, Some("x"));
        let r = ExportLogsServiceResponse::decode(&p[..]).unwrap();
        let ps = r.partial_success.unwrap();
        assert_eq!(
            (ps.rejected_log_records, ps.error_message.as_str()),
            (2, "x")
        );
        let m = encode_success(Signal::Metrics, Format::Json, 0, Some("warning"));
        assert_eq!(
            String::from_utf8(m).unwrap(),
            r#"{"partialSuccess":{"errorMessage":"warning"}}"#
        );
    }

    #[test]
    fn status_bodies() {
        let j: serde_json::Value =
            serde_json::from_slice(&encode_status(Format::Json, 3, "bad")).unwrap();
        assert_eq!(j, serde_json::json!({"code":3,"message":"bad"}));
        let s = Status::decode(&encode_status(Format::Protobuf, 3, "bad")[..]).unwrap();
        assert_eq!((s.code, s.message.as_str()), (3, "bad"));
    }
}
