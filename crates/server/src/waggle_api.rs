//! Waggle's own API: datasets with counts, and the receivers' counters.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::edge::{Protocol, Routes};
use crate::AppState;

pub(crate) const PROTOCOL: Protocol = Protocol {
    name: "waggle_api",
    body_max: crate::tempo::TEMPO_BODY_MAX,
    render: crate::tempo::refuse,
};

pub(crate) fn routes() -> Routes {
    Routes::new(PROTOCOL)
        .get("/api/waggle/datasets", datasets)
        .get("/api/waggle/stats", stats)
}

async fn datasets(State(s): State<AppState>) -> Response {
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

async fn stats(State(s): State<AppState>) -> Response {
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
