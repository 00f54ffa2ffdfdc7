//! Honeycomb Events API: `POST /1/batch/{dataset}`, `POST /1/events/{dataset}`, `GET /1/auth`,
//! with Honeycomb's own statuses and error bodies.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::edge::{Protocol, Refusal, Routes};
use crate::pipeline::IngestError;
use crate::AppState;

/// Largest request body as sent (possibly compressed): Refinery's `HTTPMessageSizeMax`
/// (honeycombio/refinery route/route.go), which matches libhoney-go's 5,000,000-byte batch cap.
pub const BATCH_BODY_MAX: usize = 5_000_000;
/// Largest body after decompression (our choice: twice the batch cap, since libhoney caps the
/// uncompressed batch at 5 MB and single events at 1 MB).
pub const BATCH_DECOMPRESSED_MAX: usize = 10_000_000;

pub(crate) const PROTOCOL: Protocol = Protocol {
    name: "honeycomb",
    body_max: BATCH_BODY_MAX,
    render: refuse,
};

pub(crate) fn routes() -> Routes {
    Routes::new(PROTOCOL)
        .post("/1/batch/{dataset}", batch)
        .post("/1/events/{dataset}", single)
        .get("/1/auth", auth)
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

/// The edge's refusals as Honeycomb words them (`{"error": …}`; its messages where it has
/// one: a 401 for a bad key, 400 "too large", 429 for rate limiting).
pub(crate) fn refuse(_headers: &HeaderMap, refusal: &Refusal) -> Response {
    match refusal {
        Refusal::Unauthenticated => error(
            StatusCode::UNAUTHORIZED,
            "unknown API key - check your credentials",
        ),
        Refusal::TooLarge { .. } => error(StatusCode::BAD_REQUEST, "Request body is too large."),
        Refusal::Unreadable => error(
            StatusCode::BAD_REQUEST,
            "Request body is malformed and cannot be read.",
        ),
        Refusal::Encoding(m) | Refusal::Corrupt(m) => error(StatusCode::BAD_REQUEST, m),
        Refusal::Busy => rate_limited(),
        Refusal::Timeout => {
            let mut r = error(StatusCode::SERVICE_UNAVAILABLE, &refusal.message());
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
        Refusal::Internal => error(StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
    }
}

fn content_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Counts the request and reads its body (the key was checked by the edge before reading).
fn accept_body(
    s: &AppState,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Bytes, Response> {
    let c = &s.counters.honeycomb;
    c.add(&c.requests, 1);
    crate::edge::body(body, BATCH_BODY_MAX).map_err(|r| {
        c.add(&c.bad_requests, 1);
        refuse(&HeaderMap::new(), &r)
    })
}

/// Decompresses and decodes on a blocking thread within the shared decode budget.
async fn decode<T: Send + 'static>(
    s: &AppState,
    headers: &HeaderMap,
    raw: Bytes,
    decompressed_max: usize,
    f: impl FnOnce(&[u8]) -> T + Send + 'static,
) -> Result<T, Response> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    crate::edge::decode_body(&s.decode_budget, raw, encoding, decompressed_max, f)
        .await
        .map_err(|r| {
            let c = &s.counters.honeycomb;
            let field = if r == Refusal::Busy {
                &c.refused_overload
            } else {
                &c.bad_requests
            };
            c.add(field, 1);
            refuse(headers, &r)
        })
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
    let raw = match accept_body(&s, body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let ct = content_type(&headers);
    let now = crate::now_ns();
    let decoded = decode(&s, &headers, raw, BATCH_DECOMPRESSED_MAX, move |bytes| {
        protocols::honeycomb::decode_batch(&dataset, ct.as_deref(), bytes, now)
    })
    .await;
    let (events, statuses) = match decoded {
        Ok(Ok(d)) => d,
        Ok(Err(e)) => return decode_error(&s, e),
        Err(r) => return r,
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
    let raw = match accept_body(&s, body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let header_string = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let ct = content_type(&headers);
    let event_time = header_string("x-honeycomb-event-time");
    let sample_rate = header_string("x-honeycomb-samplerate");
    let now = crate::now_ns();
    let decoded = decode(&s, &headers, raw, BATCH_DECOMPRESSED_MAX, move |bytes| {
        protocols::honeycomb::decode_single(
            &dataset,
            ct.as_deref(),
            bytes,
            event_time.as_deref(),
            sample_rate.as_deref(),
            now,
        )
    })
    .await;
    match decoded {
        Ok(Ok(event)) => {
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
        Ok(Err(e)) => decode_error(&s, e),
        Err(r) => r,
    }
}

async fn auth() -> Response {
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
