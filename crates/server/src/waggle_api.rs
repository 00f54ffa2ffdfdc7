//! Waggle's own API: datasets with counts, and the receivers' counters.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/waggle/datasets", get(datasets))
        .route("/api/waggle/stats", get(stats))
}

async fn datasets(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if !s.credentials.check(&headers) {
        return (StatusCode::UNAUTHORIZED, "missing or unknown API key").into_response();
    }
    let store = s.store.clone();
    match crate::blocking(move || store.datasets()).await {
        Ok(Ok(ds)) => Json(json!({
            "datasets": ds.iter().map(|d| json!({
                "name": d.name,
                "events": d.events,
                "first_time_ns": d.first_ns,
                "last_time_ns": d.last_ns,
            })).collect::<Vec<_>>()
        }))
        .into_response(),
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error reading the store",
        )
            .into_response(),
    }
}

async fn stats(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if !s.credentials.check(&headers) {
        return (StatusCode::UNAUTHORIZED, "missing or unknown API key").into_response();
    }
    Json(json!({
        "uptime_s": s.started.elapsed().as_secs_f64(),
        "receivers": {
            "otlp_http": s.counters.otlp_http.snapshot(),
            "otlp_grpc": s.counters.otlp_grpc.snapshot(),
            "honeycomb": s.counters.honeycomb.snapshot(),
            "xray": s.xray.as_ref().map(|x| x.counters.snapshot()),
            "cloudwatch_logs": s.cloudwatch_logs.as_ref().map(|l| l.counters.snapshot()),
            "rollbar": s.rollbar.counters.snapshot(),
        },
        "pipeline": s.pipeline.snapshot(),
        "store": { "disk_bytes": s.store.disk_bytes() }
    }))
    .into_response()
}
