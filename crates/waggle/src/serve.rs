//! `waggle serve`: open the store, start the pipeline and listeners, print how to point each
//! client here, and shut down cleanly (flushing) on SIGINT/SIGTERM.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use server::{ApiKeys, Limits, Pipeline, Server, ServerConfig};
use store::{DuckStore, LoggedStore, Store, StoreOptions};

use crate::config::{ServeArgs, Settings};

/// The ingest log's folder inside the data directory.
pub const INGEST_LOG_DIR: &str = "ingest-log";

/// How often retention runs (our choice: deletes are cheap and data ages by days).
const RETENTION_INTERVAL: Duration = Duration::from_secs(600);
/// How long shutdown waits for the last commit before giving up (our choice).
const SHUTDOWN_FLUSH_MAX: Duration = Duration::from_secs(30);

/// How long SIGINT/SIGTERM waits for a [`Companion`] to stop before the server stops.
const COMPANION_STOP_MAX: Duration = Duration::from_secs(20);

/// Work that runs beside the server in the same process (`waggle demo`): started once every
/// listener is bound, with the server's addresses; told to stop (the watch turns `true`) on
/// SIGINT/SIGTERM and awaited, bounded, before the server stops, so what it sent is
/// committed. If it ends by itself, the server stops too.
pub type Companion = Box<
    dyn FnOnce(
            Bound,
            tokio::sync::watch::Receiver<bool>,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + Send>>
        + Send,
>;

/// The server's bound addresses, as a companion sees them.
#[derive(Debug, Clone)]
pub struct Bound {
    pub http: std::net::SocketAddr,
    pub otlp_http: std::net::SocketAddr,
    pub xray: Option<std::net::SocketAddr>,
}

/// Creates the data directory readable by its owner only (0700): it holds every span, log
/// line and error payload. A directory that already exists keeps its mode (the operator
/// chose it), with a warning when others can read it.
fn private_data_dir(dir: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    let mode = std::fs::metadata(dir)
        .with_context(|| format!("cannot read the data directory {}", dir.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        tracing::warn!(
            dir = %dir.display(),
            mode = format!("{:o}", mode & 0o777),
            "the data directory is readable by other users; chmod 700 it to keep telemetry private"
        );
    }
    Ok(())
}

pub fn run(args: ServeArgs) -> Result<()> {
    run_with(args, None)
}

pub fn run_with(args: ServeArgs, companion: Option<Companion>) -> Result<()> {
    let started = Instant::now();
    let settings = args.resolve()?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WAGGLE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    private_data_dir(&settings.data_dir)?;
    let store = DuckStore::open(
        &settings.data_dir,
        StoreOptions {
            retention_days_default: settings.retention_days,
            retention_days: settings.dataset_retention.clone(),
            memory_limit: settings.memory_limit.clone(),
            ..StoreOptions::default()
        },
    )
    .with_context(|| format!("cannot open the store in {}", settings.data_dir.display()))?;
    let store: Arc<dyn Store> = Arc::new(store);
    let logged = if settings.ingest_log {
        let dir = settings.data_dir.join(INGEST_LOG_DIR);
        let logged = LoggedStore::open(&dir, store.clone())
            .with_context(|| format!("cannot open the ingest log in {}", dir.display()))?;
        Some(Arc::new(logged))
    } else {
        None
    };
    let store: Arc<dyn Store> = match &logged {
        Some(l) => l.clone(),
        None => store,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("waggle-io")
        .build()
        .context("cannot start the async runtime")?;
    let (pipeline, writer) = Pipeline::start(store.clone());
    let result = runtime.block_on(async {
        let mut server = Server::bind(
            ServerConfig {
                http_addr: settings.http_addr,
                otlp_http_addr: settings.otlp_http_addr,
                otlp_grpc_addr: settings.otlp_grpc_addr,
                api_keys: ApiKeys::new(&settings.api_keys)?,
                limits: Limits::default(),
                xray: settings.xray_addr.map(|daemon_addr| server::xray::XrayConfig {
                    daemon_addr,
                    account_id: settings.aws_account_id.clone(),
                    region: settings.aws_region.clone(),
                    auth: server::aws::AwsAuth {
                        credentials: settings.aws_credentials.clone().map(Arc::new),
                        region: None,
                    },
                }),
                cloudwatch_logs: Some(server::cloudwatch_logs::LogsConfig {
                    account_id: settings.aws_account_id.clone(),
                    region: settings.aws_region.clone(),
                    auth: server::aws::AwsAuth {
                        credentials: settings.aws_credentials.clone().map(Arc::new),
                        region: None,
                    },
                }),
                ui: server::UiConfig {
                    assets_dir: std::env::var_os("WAGGLE_UI_ASSETS").map(std::path::PathBuf::from),
                    ..Default::default()
                },
                rollbar: server::rollbar::RollbarConfig {
                    projects: settings.rollbar_projects.clone(),
                    limits: protocols::rollbar::Limits::default(),
                    local_mode_exposed: settings.insecure,
                },
            },
            store.clone(),
            pipeline.clone(),
        )
        .await
        .context("cannot bind a listener (is another server using the port? use --http-addr and friends, or port 0)")?;
        let (ready, text) = announcement(&settings, &server);
        server.set_setup_text(text.clone());
        announce(&ready, &text, &settings, started);
        let retention_store = store.clone();
        let retention = tokio::spawn(async move {
            loop {
                let s = retention_store.clone();
                let now = server_now_ns();
                match tokio::task::spawn_blocking(move || s.apply_retention(now)).await {
                    Ok(Ok(n)) if n > 0 => tracing::info!(deleted = n, "retention"),
                    Ok(Err(e)) => tracing::warn!(error = %e, "retention failed"),
                    _ => {}
                }
                tokio::time::sleep(RETENTION_INTERVAL).await;
            }
        });
        let bound = Bound {
            http: server.http_addr,
            otlp_http: server.otlp_http_addr,
            xray: server.xray_addr,
        };
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut companion = companion.map(|c| tokio::spawn(c(bound, stop_rx)));
        let companion_failed = Arc::new(std::sync::Mutex::new(None::<anyhow::Error>));
        let failed = companion_failed.clone();
        let run = server
            .run(async move {
                match companion.as_mut() {
                    None => shutdown_signal().await,
                    Some(handle) => {
                        tokio::select! {
                            _ = shutdown_signal() => {
                                let _ = stop_tx.send(true);
                                let _ = tokio::time::timeout(COMPANION_STOP_MAX, handle).await;
                            }
                            r = &mut *handle => {
                                let e = match r {
                                    Ok(Ok(())) => None,
                                    Ok(Err(e)) => Some(e),
                                    Err(e) => Some(anyhow::anyhow!("companion task failed: {e}")),
                                };
                                if let (Some(e), Ok(mut slot)) = (e, failed.lock()) {
                                    *slot = Some(e);
                                }
                            }
                        }
                    }
                }
            })
            .await;
        retention.abort();
        run.context("server failed")?;
        match companion_failed.lock().ok().and_then(|mut e| e.take()) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    });
    drop(pipeline);
    runtime.shutdown_timeout(Duration::from_secs(5));
    let deadline = Instant::now() + SHUTDOWN_FLUSH_MAX;
    while !writer.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if writer.is_finished() {
        let _ = writer.join();
    } else {
        tracing::warn!("writer still busy at shutdown; acknowledged data is already committed");
    }
    if let Some(l) = &logged {
        // Load everything acknowledged (the log would replay it otherwise).
        l.close();
    }
    if let Err(e) = store.checkpoint() {
        tracing::warn!(error = %e, "checkpoint at shutdown failed (the WAL replays on next start)");
    }
    tracing::info!("stopped");
    result
}

fn server_now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// Prints the machine-readable ready line, then every endpoint and how to point each
/// official client at it (the text the UI's home page shows on an empty install too).
fn announce(ready: &serde_json::Value, text: &str, settings: &Settings, started: Instant) {
    let started_ms = started.elapsed().as_secs_f64() * 1000.0;
    println!("WAGGLE_READY {ready}");
    println!(
        "\nwaggle {} is up in {} ms; data in {}\n\n{text}",
        env!("CARGO_PKG_VERSION"),
        started_ms.round(),
        settings.data_dir.display(),
    );
    use std::io::Write;
    let _ = std::io::stdout().flush();
}

/// The ready line's document and the endpoints-and-clients text.
fn announcement(settings: &Settings, server: &Server) -> (serde_json::Value, String) {
    let ready = serde_json::json!({
        "http": server.http_addr.to_string(),
        "otlp_http": server.otlp_http_addr.to_string(),
        "otlp_grpc": server.otlp_grpc_addr.to_string(),
        "xray": server.xray_addr.map(|a| a.to_string()),
        "rollbar": format!("http://{}/api/1/", server.http_addr),
        "data_dir": settings.data_dir.display().to_string(),
    });
    let http = format!("http://{}", server.http_addr);
    let otlp_http = format!("http://{}", server.otlp_http_addr);
    let otlp_grpc = format!("http://{}", server.otlp_grpc_addr);
    let key_note = if settings.api_keys.is_empty() {
        "any value (no keys configured)".to_string()
    } else {
        "one of the configured --api-key values".to_string()
    };
    let aws_keys = if settings.aws_credentials.is_some() {
        "signed with a configured --aws-credentials key pair"
    } else {
        "any key pair (no AWS credentials configured)"
    };
    let region = &settings.aws_region;
    // (endpoint lines, client lines) of X-Ray, when served.
    let (xray_api, xray_clients) = match server.xray_addr {
        Some(a) => (
            format!(
                "\n  X-Ray       daemon {a} (UDP segments, TCP sampling and API); API also {http}/TraceSegments  /TraceSummaries  /Traces  …"
            ),
            format!(
                "\n  X-Ray SDKs:                 AWS_XRAY_DAEMON_ADDRESS={a}   (or \"tcp:{a} udp:{a}\")\
                 \n  boto3 / aws CLI (X-Ray):    AWS_ENDPOINT_URL_XRAY={http}  AWS_REGION={region}   ({aws_keys})"
            ),
        ),
        None => (String::new(), String::new()),
    };
    let rollbar_note = if settings.rollbar_projects.is_local() {
        "any token (no --rollbar-tokens: project \"default\")"
    } else {
        "a configured --rollbar-tokens token"
    };
    let text = format!(
        "  Web UI      {http}/ui/\
         \n  OTLP/HTTP   {otlp_http}/v1/traces  /v1/logs  /v1/metrics  (also on {http})\
         \n  OTLP/gRPC   {otlp_grpc}\
         \n  Honeycomb   {http}/1/batch/<dataset>  /1/events/<dataset>  /1/auth\
         \n  Tempo API   {http}/api/traces/<id>  /api/v2/traces/<id>  /api/search  /api/search/tags\
         \n  Waggle API  {http}/api/waggle/datasets  /api/waggle/stats\
         \n  Rollbar     {http}/api/1/item/  /api/1/items  /api/1/item/<id>/instances  /api/1/deploy{xray_api}\
         \n  CW Logs     {http}/  (POST, X-Amz-Target: Logs_20140328.<Operation>)\
         \n\
         \nPoint your clients here:\
         \n  OpenTelemetry SDKs (HTTP):  OTEL_EXPORTER_OTLP_ENDPOINT={otlp_http}  OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf\
         \n  OpenTelemetry SDKs (gRPC):  OTEL_EXPORTER_OTLP_ENDPOINT={otlp_grpc}  OTEL_EXPORTER_OTLP_PROTOCOL=grpc\
         \n  Honeycomb key header:       OTEL_EXPORTER_OTLP_HEADERS=x-honeycomb-team=<key>   ({key_note})\
         \n  libhoney:                   libhoney.init(writekey=\"<key>\", dataset=\"<dataset>\", api_host=\"{http}\")\
         \n  OTel Collector exporter:    otlp_http: {{ endpoint: {otlp_http} }}\
         \n  Grafana Tempo data source:  URL {http}\
         \n  pyrollbar:                  rollbar.init(\"<token>\", \"production\", endpoint=\"{http}/api/1/\")   ({rollbar_note}){xray_clients}\
         \n  boto3 / aws CLI / watchtower (CloudWatch Logs): AWS_ENDPOINT_URL_CLOUDWATCH_LOGS={http}  AWS_REGION={region}\
         \n  CLI:                        waggle traces get <trace-id> --server {http}\n",
    );
    (ready, text)
}
