//! Configuration from the seed's environment variables (`SYSTEM.md` §2.6), plus a few of our
//! own (`CRUDDUR_*`) for tests and the demo. Every variable is read once, at start-up.

use std::net::SocketAddr;
use std::time::Duration;

/// The standard AWS variables the CloudWatch Logs client reads.
#[derive(Debug, Clone, Default)]
pub struct Aws {
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    pub logs_endpoint: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// `--bind` / `CRUDDUR_BIND`; the seed's `0.0.0.0:4567` by default.
    pub bind: SocketAddr,
    /// CORS origins: `FRONTEND_URL`, `BACKEND_URL` (unset ones never match).
    pub origins: Vec<String>,
    /// Flask debug mode (`FLASK_ENV=development` or `CRUDDUR_DEBUG=1`): pretty JSON.
    pub debug: bool,
    /// `CRUDDUR_TELEMETRY=off` switches every sink off.
    pub telemetry: bool,
    pub otel_service_name: String,
    /// `AWS_XRAY_SDK_ENABLED=false` switches X-Ray off, as in the SDKs.
    pub xray_enabled: bool,
    pub xray_daemon_address: String,
    /// `AWS_XRAY_URL`: the dynamic-naming host pattern.
    pub xray_url: Option<String>,
    /// `CRUDDUR_XRAY_RULES_SECS`, `CRUDDUR_XRAY_TARGETS_SECS`: sampling poll intervals
    /// (the SDK's 300 s and 10 s by default; tests shorten them).
    pub xray_poll_intervals: Option<(Duration, Duration)>,
    pub rollbar_token: Option<String>,
    pub rollbar_endpoint: String,
    pub rollbar_environment: String,
    pub log_group: String,
    /// `CRUDDUR_LOG_FLUSH_SECS`: watchtower's `send_interval`, 60 s by default.
    pub log_flush: Duration,
    /// `CRUDDUR_LOG_TRACE_ID=false` logs the seed's after-request line without the trace
    /// header appended.
    pub log_trace_ids: bool,
    pub aws: Aws,
    /// The OTLP traces URL set by an embedding program (`waggle demo`); `None` leaves the
    /// exporter to `OTEL_EXPORTER_OTLP_ENDPOINT`/`_HEADERS` as the SDK reads them.
    pub otlp_traces_url: Option<String>,
    pub otlp_headers: Vec<(String, String)>,
    /// `CRUDDUR_SIMULATE_LATENCY=1` (set by `waggle demo`): about one feed request in ten waits
    /// 150–900 ms inside its mock-data span, standing in for the database week 4 brings, so
    /// the demo has slow requests to find.
    pub simulate_latency: bool,
    /// Logger `app` also writes to stderr (the seed's StreamHandler); `waggle demo` turns it off.
    pub log_stderr: bool,
}

pub const DEFAULT_BIND: &str = "0.0.0.0:4567";
pub const DEFAULT_ROLLBAR_ENDPOINT: &str = "https://api.rollbar.com/api/1/item/";
pub const DEFAULT_XRAY_DAEMON: &str = "127.0.0.1:2000";

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn flag(name: &str, default: bool) -> bool {
    match var(name).map(|v| v.to_ascii_lowercase()) {
        Some(v) if ["0", "false", "off", "no"].contains(&v.as_str()) => false,
        Some(v) if ["1", "true", "on", "yes"].contains(&v.as_str()) => true,
        _ => default,
    }
}

fn secs(name: &str) -> Option<Duration> {
    var(name)?
        .parse::<f64>()
        .ok()
        .filter(|s| *s > 0.0 && s.is_finite())
        .map(Duration::from_secs_f64)
}

impl Config {
    /// Reads the environment. `bind` overrides `CRUDDUR_BIND`.
    pub fn from_env(bind: Option<SocketAddr>) -> anyhow::Result<Config> {
        let bind = match bind {
            Some(b) => b,
            None => var("CRUDDUR_BIND")
                .as_deref()
                .unwrap_or(DEFAULT_BIND)
                .parse()?,
        };
        let origins = ["FRONTEND_URL", "BACKEND_URL"]
            .iter()
            .filter_map(|k| var(k))
            .collect();
        let xray_poll_intervals = match (
            secs("CRUDDUR_XRAY_RULES_SECS"),
            secs("CRUDDUR_XRAY_TARGETS_SECS"),
        ) {
            (None, None) => None,
            (r, t) => Some((
                r.unwrap_or(Duration::from_secs(300)),
                t.unwrap_or(Duration::from_secs(10)),
            )),
        };
        Ok(Config {
            bind,
            origins,
            debug: var("FLASK_ENV").as_deref() == Some("development")
                || flag("CRUDDUR_DEBUG", false),
            telemetry: flag("CRUDDUR_TELEMETRY", true),
            otel_service_name: var("OTEL_SERVICE_NAME").unwrap_or_else(|| "backend-flask".into()),
            xray_enabled: flag("AWS_XRAY_SDK_ENABLED", true),
            xray_daemon_address: var("AWS_XRAY_DAEMON_ADDRESS")
                .unwrap_or_else(|| DEFAULT_XRAY_DAEMON.into()),
            xray_url: var("AWS_XRAY_URL"),
            xray_poll_intervals,
            rollbar_token: var("ROLLBAR_ACCESS_TOKEN"),
            rollbar_endpoint: var("ROLLBAR_ENDPOINT")
                .unwrap_or_else(|| DEFAULT_ROLLBAR_ENDPOINT.into()),
            rollbar_environment: var("ROLLBAR_ENVIRONMENT").unwrap_or_else(|| "production".into()),
            log_group: var("CRUDDUR_LOG_GROUP").unwrap_or_else(|| "cruddur".into()),
            log_flush: secs("CRUDDUR_LOG_FLUSH_SECS").unwrap_or(Duration::from_secs(60)),
            log_trace_ids: flag("CRUDDUR_LOG_TRACE_ID", true),
            aws: Aws {
                region: var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")),
                access_key_id: var("AWS_ACCESS_KEY_ID"),
                secret_access_key: var("AWS_SECRET_ACCESS_KEY"),
                session_token: var("AWS_SESSION_TOKEN"),
                logs_endpoint: var("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS")
                    .or_else(|| var("AWS_ENDPOINT_URL")),
            },
            otlp_traces_url: None,
            otlp_headers: Vec::new(),
            simulate_latency: flag("CRUDDUR_SIMULATE_LATENCY", false),
            log_stderr: true,
        })
    }
}
