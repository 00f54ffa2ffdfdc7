//! Network edges: the HTTP routers (OTLP/HTTP, Honeycomb, Tempo, X-Ray, CloudWatch Logs,
//! Rollbar, Waggle's own API), the OTLP gRPC services, and the ingest pipeline they all
//! feed. Every protocol is mounted under the same bounds (`edge`) and its credential layer
//! (`auth` for API keys, `aws` for SigV4, Rollbar's project tokens); handlers check none.
//!
//! Architecture Invariant: handlers depend on `protocols` (pure decode/encode) and on the
//! `store::Store` trait, never on DuckDB. Blocking store calls run on blocking threads.

// Handlers return `Result<_, Response>` so each protocol renders its own error once; the
// Response is large but these paths are per request, not per event.
#![allow(clippy::result_large_err)]

mod auth;
pub mod aws;
pub mod cloudwatch_logs;
mod edge;
mod grpc;
mod honeycomb;
mod honeycomb_query;
mod otlp_http;
pub mod pipeline;
pub mod rollbar;
mod tempo;
pub mod ui;
mod waggle_api;
pub mod xray;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use store::Store;
use tokio::net::TcpListener;

pub use ::ui::UiConfig;
pub use auth::{ApiKeys, Credential, KeyError, API_KEY_BYTES_MAX};
pub use edge::{
    Limits, CONNECTIONS_MAX, DECODE_BUDGET_BYTES, HEADER_READ_TIMEOUT, REQUEST_TIMEOUT,
};
pub use pipeline::Pipeline;

/// Listen addresses, credentials and limits.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Honeycomb, Tempo, Waggle API (and OTLP/HTTP again).
    pub http_addr: SocketAddr,
    pub otlp_http_addr: SocketAddr,
    pub otlp_grpc_addr: SocketAddr,
    pub api_keys: ApiKeys,
    pub limits: Limits,
    /// The X-Ray API and daemon; `None` serves no X-Ray.
    pub xray: Option<xray::XrayConfig>,
    /// The CloudWatch Logs API on the main HTTP port; `None` serves none.
    pub cloudwatch_logs: Option<cloudwatch_logs::LogsConfig>,
    /// Rollbar's projects and tokens (always served; `RollbarConfig::default()` is local mode).
    pub rollbar: rollbar::RollbarConfig,
    /// The web UI's shells (its token is the API key; `token_required` is derived from it).
    pub ui: ::ui::UiConfig,
}

impl ServerConfig {
    /// Every listener on 127.0.0.1 port 0, no API keys, default limits, neither X-Ray nor
    /// CloudWatch Logs, Rollbar in local mode: the base that tests and embedders change.
    pub fn loopback() -> Self {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        ServerConfig {
            http_addr: any,
            otlp_http_addr: any,
            otlp_grpc_addr: any,
            api_keys: ApiKeys::default(),
            limits: Limits::default(),
            xray: None,
            cloudwatch_logs: None,
            rollbar: rollbar::RollbarConfig::default(),
            ui: ::ui::UiConfig::default(),
        }
    }
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub pipeline: Pipeline,
    pub api_keys: ApiKeys,
    pub started: Instant,
    pub counters: Arc<Counters>,
    pub results: Arc<honeycomb_query::ResultCache>,
    /// Decompressed bytes that may be decoded at once (see `edge::DECODE_BUDGET_BYTES`).
    pub(crate) decode_budget: edge::DecodeBudget,
    pub xray: Option<Arc<xray::XrayState>>,
    pub cloudwatch_logs: Option<Arc<cloudwatch_logs::LogsService>>,
    /// Rollbar (always served; local mode unless tokens are configured, see `rollbar`).
    pub rollbar: Arc<rollbar::RollbarState>,
    pub ui: Arc<::ui::UiConfig>,
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
    /// The X-Ray daemon's address (UDP and TCP on the same port), when X-Ray is served.
    pub xray_addr: Option<SocketAddr>,
    http: TcpListener,
    otlp_http: TcpListener,
    otlp_grpc: TcpListener,
    xray: Option<(std::net::UdpSocket, TcpListener)>,
    state: AppState,
    limits: Limits,
}

/// Every API-key protocol's routes. Adding a protocol here is how it gets the shared bounds
/// and its credential layer; the list below is what the auth test walks.
fn http_protocols() -> Vec<edge::Routes> {
    vec![
        otlp_http::routes(),
        honeycomb::routes(),
        honeycomb_query::routes(),
        tempo::routes(),
        waggle_api::routes(),
    ]
}

/// The full HTTP router (every HTTP protocol on one port): each API-key protocol mounted
/// under the shared bounds and the API-key layer, the AWS services under the same request
/// timeout and their SigV4 edge (which bounds their bodies).
pub fn router(state: AppState, limits: &Limits) -> Router {
    let mut r = Router::new();
    if let Some(x) = &state.xray {
        r = r.merge(aws::bounded(
            xray::routes(x),
            protocols::aws::Service::XRay,
            limits,
        ));
    }
    if let Some(l) = &state.cloudwatch_logs {
        r = r.merge(aws::bounded(
            cloudwatch_logs::routes(l),
            protocols::aws::Service::CloudWatchLogs,
            limits,
        ));
    }
    for routes in http_protocols() {
        r = r.merge(routes.mount(state.api_keys.clone(), limits));
    }
    // Rollbar authenticates with its own project tokens (scopes per route), in `rollbar`.
    let api: Router = r.merge(rollbar::bounded(limits)).with_state(state.clone());
    // The UI: its pages and assets, and the gateway through which those pages call `api`.
    let gateway = ui::routes()
        .mount(state.api_keys.clone(), limits)
        .layer(axum::Extension(ui::Inner {
            router: api.clone(),
            grant: state.rollbar.ui_secret.clone(),
        }))
        .with_state(state.clone());
    api.merge(gateway).merge(::ui::router(state.ui.clone()))
}

/// (protocol, method, path template) of every API-key route [`router`] mounts.
pub fn http_routes() -> Vec<(&'static str, http::Method, &'static str)> {
    http_protocols()
        .iter()
        .chain(std::iter::once(&ui::routes()))
        .flat_map(|r| r.list().collect::<Vec<_>>())
        .collect()
}

/// Full names of the gRPC services the gRPC listener mounts.
pub fn grpc_services() -> Vec<&'static str> {
    grpc::services().to_vec()
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
        let xray_sockets = match &config.xray {
            Some(x) => Some(bind_udp_and_tcp(x.daemon_addr).await?),
            None => None,
        };
        let xray_addr = match &xray_sockets {
            Some((udp, _)) => Some(udp.local_addr()?),
            None => None,
        };
        let xray_state = config.xray.map(|mut x| {
            if let Some(a) = xray_addr {
                x.daemon_addr = a;
            }
            Arc::new(xray::XrayState::new(x))
        });
        let cloudwatch_logs = match config.cloudwatch_logs {
            Some(cfg) => {
                let store = store.clone();
                let service =
                    blocking(move || cloudwatch_logs::LogsService::open(cfg, store.as_ref()))
                        .await
                        .map_err(std::io::Error::other)?
                        .map_err(std::io::Error::other)?;
                Some(Arc::new(service))
            }
            None => None,
        };
        let token_required = !config.api_keys.is_open();
        let rollbar_state = Arc::new(rollbar::RollbarState::new(
            config.rollbar,
            &[http.local_addr()?, otlp_http.local_addr()?],
        ));
        Ok(Self {
            http_addr: http.local_addr()?,
            otlp_http_addr: otlp_http.local_addr()?,
            otlp_grpc_addr: otlp_grpc.local_addr()?,
            xray_addr,
            http,
            otlp_http,
            otlp_grpc,
            xray: xray_sockets,
            state: AppState {
                store,
                pipeline,
                api_keys: config.api_keys,
                started: Instant::now(),
                counters: Arc::new(Counters::default()),
                results: Arc::new(honeycomb_query::ResultCache::default()),
                decode_budget: edge::DecodeBudget::new(config.limits.decode_budget_bytes),
                xray: xray_state,
                cloudwatch_logs,
                rollbar: rollbar_state,
                ui: Arc::new(::ui::UiConfig {
                    token_required,
                    ..config.ui
                }),
            },
            limits: config.limits,
        })
    }

    /// The text shown on an empty install's home page (what `waggle serve` prints).
    pub fn set_setup_text(&mut self, text: String) {
        let mut ui = (*self.state.ui).clone();
        ui.setup_text = text;
        self.state.ui = Arc::new(ui);
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
        let app = router(self.state.clone(), &self.limits);
        // The daemon's TCP port serves the X-Ray API only (the SDKs' sampling calls and
        // anything pointed at AWS_XRAY_DAEMON_ADDRESS), as the real daemon's proxy does.
        let daemon = match (self.xray, &self.state.xray) {
            (Some((udp, tcp)), Some(x)) => {
                let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
                xray::daemon::start(udp, x.clone(), self.state.pipeline.clone(), stop.clone())?;
                let api =
                    aws::bounded(xray::routes(x), protocols::aws::Service::XRay, &self.limits)
                        .with_state(self.state.clone());
                let limits = self.limits.clone();
                let stopped = wait(stop_rx.clone());
                Some(async move {
                    let served = edge::serve_http(tcp, api, limits, stopped).await;
                    stop.store(true, std::sync::atomic::Ordering::Relaxed);
                    served
                })
            }
            _ => None,
        };
        let daemon = async move {
            match daemon {
                Some(d) => d.await,
                None => Ok(()),
            }
        };
        let http = edge::serve_http(
            self.http,
            app.clone(),
            self.limits.clone(),
            wait(stop_rx.clone()),
        );
        let otlp_http = edge::serve_http(
            self.otlp_http,
            app,
            self.limits.clone(),
            wait(stop_rx.clone()),
        );
        let grpc = grpc::serve(
            self.otlp_grpc,
            self.state.clone(),
            self.limits.clone(),
            wait(stop_rx.clone()),
        );
        let (a, b, c, d) = tokio::join!(http, otlp_http, grpc, daemon);
        a?;
        b?;
        d?;
        c
    }
}

/// The X-Ray daemon's UDP socket and a TCP listener on the same port (port 0: the UDP port
/// picked is then taken for TCP too, retried a few times if TCP already has it).
async fn bind_udp_and_tcp(addr: SocketAddr) -> std::io::Result<(std::net::UdpSocket, TcpListener)> {
    let mut last = None;
    for _ in 0..16 {
        let udp = xray::daemon::bind(addr)?;
        let local = udp.local_addr()?;
        match TcpListener::bind(local).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if addr.port() == 0 => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free port for the X-Ray daemon")))
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
