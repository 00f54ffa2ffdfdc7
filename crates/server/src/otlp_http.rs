//! OTLP/HTTP receiver: `POST /v1/traces`, `/v1/logs`, `/v1/metrics` (protobuf or JSON, any
//! supported `Content-Encoding`), answering in the request's content type with the spec's
//! status codes.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use protocols::otlp::{self, Format, Hints, Signal};

use crate::pipeline::IngestError;
use crate::AppState;

/// Largest OTLP/HTTP body, before and after decompression: 20 MiB, the OpenTelemetry
/// Collector's `max_request_body_size` default (config/confighttp) and Honeycomb's
/// (husky `defaultMaxRequestBodySize`). The spec allows up to its recommended 64 MiB; we
/// stay lower because protobuf can expand ~20× into decoded structs, and an SDK batch of 512
/// spans is ~250 KiB.
pub const OTLP_BODY_MAX: usize = 20 * 1024 * 1024;

/// Decompressed bytes being decoded at once across all requests (our choice: 3 maximal
/// requests; with ~20× expansion this bounds decode memory near 1.3 GB in the worst,
/// pathological case and ~100 MB for real SDK batches). Requests beyond it get 429.
pub const DECODE_BUDGET_BYTES: usize = 3 * OTLP_BODY_MAX;

/// Assumed expansion of a compressed body when reserving decode budget (our choice: gzip of
/// OTLP protobuf compresses 5–10×).
const COMPRESSED_EXPANSION: usize = 8;

/// Seconds a refused client should wait (OTLP `Retry-After`, our choice: one group commit
/// takes well under a second).
pub const RETRY_AFTER_S: u64 = 1;

/// `google.rpc.Code` values used in bodies.
const CODE_INVALID_ARGUMENT: i32 = 3;
const CODE_RESOURCE_EXHAUSTED: i32 = 8;
const CODE_UNAUTHENTICATED: i32 = 16;
const CODE_UNAVAILABLE: i32 = 14;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/traces", post(traces))
        .route("/v1/logs", post(logs))
        .route("/v1/metrics", post(metrics))
        .layer(DefaultBodyLimit::max(OTLP_BODY_MAX))
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
    if !s.credentials.check(&headers) {
        return status_response(
            format,
            StatusCode::UNAUTHORIZED,
            CODE_UNAUTHENTICATED,
            "missing or unknown API key: send it as x-honeycomb-team or Authorization: Bearer",
        );
    }
    let raw = match body {
        Ok(b) => b,
        Err(e) => {
            counters.add(&counters.bad_requests, 1);
            let status = e.status();
            let msg = if status == StatusCode::PAYLOAD_TOO_LARGE {
                format!("request body is larger than the {OTLP_BODY_MAX}-byte limit")
            } else {
                format!("could not read the request body: {e}")
            };
            return status_response(format, status, CODE_RESOURCE_EXHAUSTED, &msg);
        }
    };
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let estimate = if encoding
        .as_deref()
        .is_none_or(|e| e.is_empty() || e == "identity")
    {
        raw.len()
    } else {
        raw.len().saturating_mul(COMPRESSED_EXPANSION)
    }
    .clamp(1, OTLP_BODY_MAX);
    let Ok(_permit) = s
        .decode_budget
        .clone()
        .try_acquire_many_owned(estimate as u32)
    else {
        counters.add(&counters.refused_overload, 1);
        return status_response(
            format,
            StatusCode::TOO_MANY_REQUESTS,
            CODE_UNAVAILABLE,
            "Waggle is decoding as much as it allows at once; retry after the Retry-After delay",
        );
    };
    let dataset = headers
        .get("x-honeycomb-dataset")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // Decompression and decoding are CPU work: keep them off the async workers.
    let decoded = crate::blocking(move || {
        let bytes = protocols::body::decode_body(encoding.as_deref(), &raw, OTLP_BODY_MAX)
            .map_err(DecodeFailure::Body)?;
        otlp::decode(
            signal,
            format,
            &bytes,
            &Hints {
                dataset_header: dataset.as_deref(),
            },
        )
        .map_err(DecodeFailure::Otlp)
    })
    .await;
    let decoded = match decoded {
        Ok(Ok(d)) => d,
        Ok(Err(DecodeFailure::Body(e))) => {
            counters.add(&counters.bad_requests, 1);
            let status = match e {
                protocols::body::BodyError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                _ => StatusCode::BAD_REQUEST,
            };
            return status_response(format, status, CODE_INVALID_ARGUMENT, &e.to_string());
        }
        Ok(Err(DecodeFailure::Otlp(e))) => {
            counters.add(&counters.bad_requests, 1);
            return status_response(
                format,
                StatusCode::BAD_REQUEST,
                CODE_INVALID_ARGUMENT,
                &e.to_string(),
            );
        }
        Err(_) => {
            return status_response(
                format,
                StatusCode::INTERNAL_SERVER_ERROR,
                CODE_UNAVAILABLE,
                "internal error while decoding",
            )
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

enum DecodeFailure {
    Body(protocols::body::BodyError),
    Otlp(otlp::OtlpError),
}
