//! The web UI on the main HTTP port: the `ui` crate's pages and assets, and the UI gateway.
//!
//! The gateway, `/ui/api/<path>`, is how every UI page gets data: it checks the one UI
//! credential (an API key, when any is configured; loopback-open otherwise, as the rest of
//! Waggle), then hands the request to the same router the API clients use, at `/<path>`, so a
//! page sees exactly what Honeycomb's, Tempo's, X-Ray's, CloudWatch Logs' and Rollbar's APIs
//! answer — there is no second query path. A forwarded request is marked [`UiTrusted`] (an
//! extension, which no client can set), and each protocol's credential layer lets it through;
//! Rollbar's handlers, which read tokens from headers, see [`UI_GRANT_HEADER`] carrying a
//! secret made at start-up that never leaves the process (the gateway strips any such header
//! a client sends).

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use tower::ServiceExt;

use crate::edge::{Protocol, Routes};

/// Marks a request the UI gateway forwarded after checking the UI credential.
#[derive(Debug, Clone, Copy)]
pub struct UiTrusted;

/// The header through which Rollbar's handlers learn a request came through the gateway.
pub const UI_GRANT_HEADER: &str = "x-waggle-ui-grant";
/// The Rollbar project a UI request reads (a name; the first project when absent).
pub const UI_PROJECT_HEADER: &str = "x-waggle-project";

/// A per-process secret: 32 bytes from the OS, as hex.
pub(crate) fn new_grant_secret() -> String {
    let mut bytes = [0u8; 32];
    // Without OS randomness there is no secret: the empty one is never honoured
    // (`RollbarState::ui_grant`), so the UI reads Rollbar only in local mode.
    if getrandom::fill(&mut bytes).is_err() {
        return String::new();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Largest UI request body (our choice: the UI sends queries, rules and patches, all small;
/// the protocol behind applies its own, smaller or equal, cap too).
pub(crate) const UI_BODY_MAX: usize = 1 << 20;

pub(crate) const PROTOCOL: Protocol = Protocol {
    name: "ui",
    body_max: UI_BODY_MAX,
    render: crate::tempo::refuse,
};

const ROOT: &str = "/ui/api/";
const ANY: &str = "/ui/api/{*rest}";

/// The gateway's routes (mounted under the edge's bounds and the API-key layer, which is the
/// UI credential).
pub(crate) fn routes() -> Routes {
    Routes::new(PROTOCOL)
        .post(ROOT, gateway)
        .get(ANY, gateway)
        .post(ANY, gateway)
        .put(ANY, gateway)
        .patch(ANY, gateway)
        .delete(ANY, gateway)
}

/// What the gateway forwards to: the API router (state applied), and the Rollbar grant.
#[derive(Clone)]
pub(crate) struct Inner {
    pub router: Router,
    pub grant: Arc<str>,
}

async fn gateway(Extension(inner): Extension<Inner>, mut req: Request) -> Response {
    let rest = req
        .uri()
        .path()
        .strip_prefix("/ui/api")
        .unwrap_or("")
        .to_string();
    let rest = if rest.is_empty() {
        "/".to_string()
    } else {
        rest
    };
    if rest.starts_with("/ui/") || rest == "/ui" {
        return (StatusCode::NOT_FOUND, "not an API path").into_response();
    }
    let path_and_query = match req.uri().query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest,
    };
    let Ok(uri) = path_and_query.parse::<Uri>() else {
        return (StatusCode::BAD_REQUEST, "bad path").into_response();
    };
    *req.uri_mut() = uri;
    let headers = req.headers_mut();
    headers.remove(UI_GRANT_HEADER);
    // The UI's credential was the API key; the protocols behind see the request as trusted
    // instead (an Authorization header would read as a bad SigV4 signature).
    headers.remove(axum::http::header::AUTHORIZATION);
    if let Ok(v) = HeaderValue::from_str(&inner.grant) {
        headers.insert(UI_GRANT_HEADER, v);
    }
    // A fresh set of extensions: the gateway's own path parameters must not reach the
    // routes behind it; the caller's address does (Rollbar's `$remote_ip`).
    let mut ext = axum::http::Extensions::new();
    if let Some(addr) = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
    {
        ext.insert(*addr);
    }
    ext.insert(UiTrusted);
    *req.extensions_mut() = ext;
    let mut resp = match inner.router.oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    // A redirect to an API path (Rollbar's `item_by_counter`) stays behind the gateway.
    let location = resp
        .headers()
        .get(axum::http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .filter(|l| l.starts_with('/') && !l.starts_with("//"))
        .map(|l| format!("/ui/api{l}"));
    if let Some(v) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        resp.headers_mut().insert(axum::http::header::LOCATION, v);
    }
    resp
}

/// True if the request came through the gateway.
pub(crate) fn trusted(ext: &axum::http::Extensions) -> bool {
    ext.get::<UiTrusted>().is_some()
}
