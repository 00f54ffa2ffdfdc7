//! Honeycomb Events API: `POST /1/batch/{dataset}`, `POST /1/events/{dataset}`, `GET /1/auth`,
//! with Honeycomb's own statuses and error bodies.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::pipeline::IngestError;
use crate::AppState;

/// Largest request body as sent (possibly compressed): Refinery's `HTTPMessageSizeMax`
/// (honeycombio/refinery route/route.go), which matches libhoney-go's 5,000,000-byte batch cap.
pub const BATCH_BODY_MAX: usize = 5_000_000;
/// Largest body after decompression (our choice: twice the batch cap, since libhoney caps the
/// uncompressed batch at 5 MB and single events at 1 MB).
pub const BATCH_DECOMPRESSED_MAX: usize = 10_000_000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/1/batch/{dataset}", post(batch))
        .route("/1/events/{dataset}", post(single))
        .route("/1/auth", get(auth))
        .layer(DefaultBodyLimit::max(BATCH_BODY_MAX))
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

fn rate_limited() -> Response {
    let mut r = error(
        StatusCode::TOO_MANY_REQUESTS,
        "Request dropped due to rate limiting.",
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

fn unauthorized() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "unknown API key - check your credentials",
    )
}

/// Reads and decompresses a body, or answers with Honeycomb's error.
fn read_body(
    headers: &HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Vec<u8>, Response> {
    let raw = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            error(StatusCode::BAD_REQUEST, "Request body is too large.")
        } else {
            error(
                StatusCode::BAD_REQUEST,
                "Request body is malformed and cannot be read.",
            )
        }
    })?;
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok());
    protocols::body::decode_body(encoding, &raw, BATCH_DECOMPRESSED_MAX).map_err(|e| match e {
        protocols::body::BodyError::TooLarge { .. } => {
            error(StatusCode::BAD_REQUEST, "Request body is too large.")
        }
        other => error(StatusCode::BAD_REQUEST, &other.to_string()),
    })
}

fn content_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The part every ingest request shares: count it, check the key, read and decompress.
fn accept_body(
    s: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Vec<u8>, Response> {
    let c = &s.counters.honeycomb;
    c.add(&c.requests, 1);
    if !s.credentials.check(headers) {
        return Err(unauthorized());
    }
    read_body(headers, body).inspect_err(|_| c.add(&c.bad_requests, 1))
}

/// Honeycomb's answer for a request it cannot decode at all.
fn decode_error(s: &AppState, e: protocols::honeycomb::HoneycombError) -> Response {
    let c = &s.counters.honeycomb;
    c.add(&c.bad_requests, 1);
    (
        StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
        Json(e.body()),
    )
        .into_response()
}

/// Commits decoded events and answers `ok(report)` once they are durable.
async fn commit(
    s: &AppState,
    events: Vec<model::Event>,
    rejected: u64,
    ok: impl FnOnce(&store::InsertReport) -> Response,
) -> Response {
    let c = &s.counters.honeycomb;
    let accepted = events.len() as u64;
    match s.pipeline.submit(events).await {
        Ok(report) => {
            c.add(&c.accepted, accepted.saturating_sub(report.rejected));
            c.add(&c.rejected, rejected + report.rejected);
            ok(&report)
        }
        Err(IngestError::Overloaded) => {
            c.add(&c.refused_overload, 1);
            rate_limited()
        }
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}

async fn batch(
    State(s): State<AppState>,
    Path(dataset): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let bytes = match accept_body(&s, &headers, body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let ct = content_type(&headers);
    let now = crate::now_ns();
    let decoded = crate::blocking(move || {
        protocols::honeycomb::decode_batch(&dataset, ct.as_deref(), &bytes, now)
    })
    .await;
    let (events, statuses) = match decoded {
        Ok(Ok(d)) => d,
        Ok(Err(e)) => return decode_error(&s, e),
        Err(_) => return error(StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
    };
    let rejected = statuses.iter().filter(|st| st.status != 202).count() as u64;
    let (positions, events): (Vec<usize>, Vec<_>) = events.into_iter().unzip();
    let mut statuses = statuses;
    commit(&s, events, rejected, move |report| {
        // An event the store refused (after isolation) is answered as Honeycomb answers a
        // server-side failure of one event; its neighbours stay 202.
        for &i in &report.rejected_at {
            if let Some(st) = positions.get(i as usize).and_then(|&p| statuses.get_mut(p)) {
                st.status = 500;
                st.error = Some(
                    report
                        .rejected_reason
                        .clone()
                        .unwrap_or_else(|| "the event could not be stored".into()),
                );
            }
        }
        (StatusCode::OK, Json(statuses)).into_response()
    })
    .await
}

async fn single(
    State(s): State<AppState>,
    Path(dataset): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let bytes = match accept_body(&s, &headers, body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let header_str = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match protocols::honeycomb::decode_single(
        &dataset,
        content_type(&headers).as_deref(),
        &bytes,
        header_str("x-honeycomb-event-time"),
        header_str("x-honeycomb-samplerate"),
        crate::now_ns(),
    ) {
        Ok(event) => {
            commit(&s, vec![event], 0, |report| {
                if report.rejected > 0 {
                    error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        report
                            .rejected_reason
                            .as_deref()
                            .unwrap_or("the event could not be stored"),
                    )
                } else {
                    StatusCode::OK.into_response()
                }
            })
            .await
        }
        Err(e) => decode_error(&s, e),
    }
}

async fn auth(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if !s.credentials.check(&headers) {
        return unauthorized();
    }
    Json(json!({
        "id": "waggle",
        "type": "configuration",
        "api_key_access": {
            "events": true, "markers": true, "triggers": false, "boards": false,
            "queries": true, "columns": true, "createDatasets": true, "slos": false,
            "recipients": false, "privateBoards": false
        },
        "environment": { "name": "waggle", "slug": "waggle" },
        "team": { "name": "waggle", "slug": "waggle" }
    }))
    .into_response()
}
