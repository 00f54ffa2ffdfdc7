//! OTLP/HTTP receiver: `POST /v1/traces`, `/v1/logs`, `/v1/metrics` (protobuf or JSON, any
//! supported `Content-Encoding`), answering in the request's content type with the spec's
//! status codes.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use protocols::otlp::{self, Format, Hints, Signal};

use crate::edge::{Protocol, Refusal, Routes};
use crate::pipeline::IngestError;
use crate::AppState;

/// Largest OTLP/HTTP body, before and after decompression: 20 MiB, the OpenTelemetry
/// Collector's `max_request_body_size` default (config/confighttp) and Honeycomb's
/// (husky `defaultMaxRequestBodySize`). The spec allows up to its recommended 64 MiB; we
/// stay lower because protobuf can expand ~20× into decoded structs, and an SDK batch of 512
/// spans is ~250 KiB.
pub const OTLP_BODY_MAX: usize = 20 * 1024 * 1024;

/// Seconds a refused client should wait (OTLP `Retry-After`, our choice: one group commit
/// takes well under a second).
pub const RETRY_AFTER_S: u64 = 1;

/// `google.rpc.Code` values used in bodies.
const CODE_INVALID_ARGUMENT: i32 = 3;
const CODE_RESOURCE_EXHAUSTED: i32 = 8;
const CODE_UNAUTHENTICATED: i32 = 16;
const CODE_UNAVAILABLE: i32 = 14;

pub(crate) const PROTOCOL: Protocol = Protocol {
    name: "otlp_http",
    body_max: OTLP_BODY_MAX,
    render: refuse,
};

pub(crate) fn routes() -> Routes {
    Routes::new(PROTOCOL)
        .post("/v1/traces", traces)
        .post("/v1/logs", logs)
        .post("/v1/metrics", metrics)
}

/// The edge's refusals as the OTLP spec words them: a `google.rpc.Status` body in the
/// request's encoding (protobuf unless it asked for JSON), 429/503 with `Retry-After`.
fn refuse(headers: &HeaderMap, refusal: &Refusal) -> Response {
    let format = request_format(headers).unwrap_or(Format::Protobuf);
    let code = match refusal {
        Refusal::Unauthenticated => CODE_UNAUTHENTICATED,
        Refusal::TooLarge { .. } => CODE_RESOURCE_EXHAUSTED,
        Refusal::Unreadable | Refusal::Encoding(_) | Refusal::Corrupt(_) => CODE_INVALID_ARGUMENT,
        Refusal::Busy | Refusal::Timeout | Refusal::Internal => CODE_UNAVAILABLE,
    };
    // A timed-out request is retryable: OTLP exporters retry 429/502/503/504, not 408.
    let status = match refusal {
        Refusal::Timeout => StatusCode::SERVICE_UNAVAILABLE,
        other => other.status(),
    };
    status_response(format, status, code, &refusal.message())
}

fn request_format(headers: &HeaderMap) -> Option<Format> {
    otlp::format_from_content_type(
        headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
    )
}

async fn traces(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    handle(s, Signal::Traces, headers, body).await
}
async fn logs(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    handle(s, Signal::Logs, headers, body).await
}
async fn metrics(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    handle(s, Signal::Metrics, headers, body).await
}

fn content_type(format: Format) -> &'static str {
    match format {
        Format::Protobuf => "application/x-protobuf",
        Format::Json => "application/json",
    }
}

fn status_response(format: Format, status: StatusCode, code: i32, message: &str) -> Response {
    let mut resp = (
        status,
        [(header::CONTENT_TYPE, content_type(format))],
        otlp::encode_status(format, code, message),
    )
        .into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_S));
    }
    resp
}

async fn handle(
    s: AppState,
    signal: Signal,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let counters = &s.counters.otlp_http;
    counters.add(&counters.requests, 1);
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let Some(format) = otlp::format_from_content_type(ct) else {
        counters.add(&counters.bad_requests, 1);
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!(
                "unsupported Content-Type {:?}; OTLP/HTTP accepts application/x-protobuf and application/json",
                ct.unwrap_or("")
            ),
        )
            .into_response();
    };
    let raw = match crate::edge::body(body, OTLP_BODY_MAX) {
        Ok(b) => b,
        Err(r) => {
            counters.add(&counters.bad_requests, 1);
            return refuse(&headers, &r);
        }
    };
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let dataset = headers
        .get("x-honeycomb-dataset")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let decoded = crate::edge::decode_body(
        &s.decode_budget,
        raw,
        encoding,
        OTLP_BODY_MAX,
        move |bytes| {
            otlp::decode(
                signal,
                format,
                bytes,
                &Hints {
                    dataset_header: dataset.as_deref(),
                },
            )
        },
    )
    .await;
    let decoded = match decoded {
        Ok(Ok(d)) => d,
        Ok(Err(e)) => {
            counters.add(&counters.bad_requests, 1);
            return status_response(
                format,
                StatusCode::BAD_REQUEST,
                CODE_INVALID_ARGUMENT,
                &e.to_string(),
            );
        }
        Err(r) => {
            let c = if r == Refusal::Busy {
                &counters.refused_overload
            } else {
                &counters.bad_requests
            };
            counters.add(c, 1);
            return refuse(&headers, &r);
        }
    };
    let rejected = decoded.rejected;
    let accepted = decoded.events.len() as u64;
    match s.pipeline.submit(decoded.events).await {
        Ok(report) => {
            let (rejected, message) =
                crate::pipeline::partial_success(rejected, decoded.message, &report);
            counters.add(&counters.accepted, accepted.saturating_sub(report.rejected));
            counters.add(&counters.rejected, rejected);
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, content_type(format))],
                otlp::encode_success(signal, format, rejected, message.as_deref()),
            )
                .into_response()
        }
        Err(IngestError::Overloaded) => {
            counters.add(&counters.refused_overload, 1);
            status_response(
                format,
                StatusCode::TOO_MANY_REQUESTS,
                CODE_UNAVAILABLE,
                "Waggle's ingest queue is full; retry after the Retry-After delay",
            )
        }
        Err(e) => status_response(
            format,
            StatusCode::SERVICE_UNAVAILABLE,
            CODE_UNAVAILABLE,
            &e.to_string(),
        ),
    }
}
