//! Network edges: the HTTP routers (OTLP/HTTP, Honeycomb, Tempo, Waggle's own API), the OTLP
//! gRPC services, and the ingest pipeline they all feed.
//!
//! Architecture Invariant: handlers depend on `protocols` (pure decode/encode) and on the
//! `store::Store` trait, never on DuckDB. Blocking store calls run on blocking threads.

// Handlers return `Result<_, Response>` so each protocol renders its own error once; the
// Response is large but these paths are per request, not per event.
#![allow(clippy::result_large_err)]

mod auth;
mod grpc;
mod honeycomb;
mod honeycomb_query;
mod otlp_http;
pub mod pipeline;
mod tempo;
mod waggle_api;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use store::Store;
use tokio::net::TcpListener;

pub use auth::Credentials;
pub use pipeline::Pipeline;

/// Listen addresses and credentials.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Honeycomb, Tempo, Waggle API (and OTLP/HTTP again).
    pub http_addr: SocketAddr,
    pub otlp_http_addr: SocketAddr,
    pub otlp_grpc_addr: SocketAddr,
    pub credentials: Credentials,
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub pipeline: Pipeline,
    pub credentials: Arc<Credentials>,
    pub started: Instant,
    pub counters: Arc<Counters>,
    pub results: Arc<honeycomb_query::ResultCache>,
    /// Decompressed bytes that may be decoded at once (see `otlp_http::DECODE_BUDGET_BYTES`).
    pub decode_budget: Arc<tokio::sync::Semaphore>,
}

/// Per-receiver counters (STYLE habit 11): events accepted, rejected, refused.
#[derive(Debug, Default)]
pub struct Counters {
    pub otlp_http: ReceiverCounters,
    pub otlp_grpc: ReceiverCounters,
    pub honeycomb: ReceiverCounters,
}

#[derive(Debug, Default)]
pub struct ReceiverCounters {
    pub requests: std::sync::atomic::AtomicU64,
    pub accepted: std::sync::atomic::AtomicU64,
    pub rejected: std::sync::atomic::AtomicU64,
    pub refused_overload: std::sync::atomic::AtomicU64,
    pub bad_requests: std::sync::atomic::AtomicU64,
}

impl ReceiverCounters {
    pub(crate) fn add(&self, field: &std::sync::atomic::AtomicU64, n: u64) {
        let _ = self;
        field.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }
    pub fn snapshot(&self) -> serde_json::Value {
        use std::sync::atomic::Ordering::Relaxed;
        serde_json::json!({
            "requests": self.requests.load(Relaxed),
            "accepted": self.accepted.load(Relaxed),
            "rejected": self.rejected.load(Relaxed),
            "refused_overload": self.refused_overload.load(Relaxed),
            "bad_requests": self.bad_requests.load(Relaxed),
        })
    }
}

/// Bound listeners, ready to serve.
pub struct Server {
    pub http_addr: SocketAddr,
    pub otlp_http_addr: SocketAddr,
    pub otlp_grpc_addr: SocketAddr,
    http: TcpListener,
    otlp_http: TcpListener,
    otlp_grpc: TcpListener,
    state: AppState,
}

/// The full HTTP router (every HTTP protocol on one port).
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(otlp_http::routes())
        .merge(honeycomb::routes())
        .merge(honeycomb_query::routes())
        .merge(tempo::routes())
        .merge(waggle_api::routes())
        .with_state(state)
}

impl Server {
    /// Binds every listener (port 0 picks a free port) and returns the addresses.
    pub async fn bind(
        config: ServerConfig,
        store: Arc<dyn Store>,
        pipeline: Pipeline,
    ) -> std::io::Result<Self> {
        let http = TcpListener::bind(config.http_addr).await?;
        let otlp_http = TcpListener::bind(config.otlp_http_addr).await?;
        let otlp_grpc = TcpListener::bind(config.otlp_grpc_addr).await?;
        Ok(Self {
            http_addr: http.local_addr()?,
            otlp_http_addr: otlp_http.local_addr()?,
            otlp_grpc_addr: otlp_grpc.local_addr()?,
            http,
            otlp_http,
            otlp_grpc,
            state: AppState {
                store,
                pipeline,
                credentials: Arc::new(config.credentials),
                started: Instant::now(),
                counters: Arc::new(Counters::default()),
                results: Arc::new(honeycomb_query::ResultCache::default()),
                decode_budget: Arc::new(tokio::sync::Semaphore::new(
                    otlp_http::DECODE_BUDGET_BYTES,
                )),
            },
        })
    }

    /// Serves until `shutdown` resolves, then stops accepting and lets requests in flight
    /// finish (their commits included).
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|v| *v).await;
        };
        let app = router(self.state.clone());
        let http =
            axum::serve(self.http, app.clone()).with_graceful_shutdown(wait(stop_rx.clone()));
        let otlp_http =
            axum::serve(self.otlp_http, app).with_graceful_shutdown(wait(stop_rx.clone()));
        let grpc = grpc::serve(self.otlp_grpc, self.state.clone(), wait(stop_rx.clone()));
        let (a, b, c) = tokio::join!(http, otlp_http, grpc);
        a?;
        b?;
        c
    }
}

/// Runs blocking store work off the async executor.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    tokio::task::spawn_blocking(f).await
}

pub(crate) fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}
