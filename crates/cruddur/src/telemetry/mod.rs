//! The four telemetry sinks of the seed, wired around every request the way Flask's
//! instrumentation, XRayMiddleware, the `after_request` logger and pyrollbar's Flask hook are:
//!
//! | sink | module | transport |
//! |---|---|---|
//! | OpenTelemetry (Honeycomb) | [`otel`] | OTLP/HTTP protobuf, batched by the SDK |
//! | AWS X-Ray | [`xray`] | UDP datagrams to the daemon, sampling rules over its TCP proxy |
//! | Rollbar | [`rollbar`] | `POST …/item/`, from a background task |
//! | CloudWatch Logs | [`logs`] | the AWS SDK's PutLogEvents, batched |
//!
//! One request, one trace id: the OTel SDK generates X-Ray-shaped ids (epoch seconds in the
//! first 4 bytes), the X-Ray segment takes the OTel span's trace id (or the incoming
//! `X-Amzn-Trace-Id`'s root, which then also parents the OTel span), the request's log line
//! ends with the `X-Amzn-Trace-Id` value, and Rollbar occurrences carry `custom.trace_id` and
//! `custom.span_id`. Nothing here can fail or slow a request: every sink sits behind a bounded
//! queue that drops (and counts) when full, and every failure is a rate-limited warning.

pub mod logs;
pub mod otel;
pub mod rollbar;
pub mod xray;

use crate::config::Config;
use crate::Failure;
use http::HeaderMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What the instrumentation reads from a request (WSGI environ, in Flask's terms).
#[derive(Debug, Clone)]
pub struct RequestInfo {
    pub method: String,
    pub scheme: &'static str,
    /// The `Host` header, or the bound address.
    pub host: String,
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    pub user_agent: Option<String>,
    pub peer: SocketAddr,
    pub server_port: u16,
    pub headers: HeaderMap,
}

impl RequestInfo {
    /// `request.full_path`: the path, `?`, and the query (the `?` is always there).
    pub fn full_path(&self) -> String {
        format!("{}?{}", self.path, self.query)
    }

    /// `http.target`: the path with the query when there is one.
    pub fn target(&self) -> String {
        if self.query.is_empty() {
            self.path.clone()
        } else {
            self.full_path()
        }
    }

    pub fn url(&self) -> String {
        format!("{}://{}{}", self.scheme, self.host, self.path)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// What the instrumentation reads from the response.
#[derive(Debug, Clone)]
pub struct ResponseInfo {
    pub status: u16,
    pub content_length: Option<u64>,
}

/// The per-request telemetry state a handler can add to (custom spans, subsegments).
pub struct RequestTrace {
    pub otel: Option<otel::ServerSpan>,
    pub xray: Option<xray::SegmentState>,
    /// The request's trace id, W3C hex, shared by every sink.
    pub trace_id: String,
    pub started: Instant,
}

impl RequestTrace {
    /// The OTel span id of the request, when OTel is on (Rollbar's `custom.span_id`).
    pub fn span_id(&self) -> Option<String> {
        self.otel.as_ref().map(|s| s.span_id())
    }

    /// The value of the `X-Amzn-Trace-Id` response header, when X-Ray is on.
    pub fn xray_header(&self) -> Option<String> {
        self.xray.as_ref().map(|x| x.response_header())
    }
}

/// All sinks; each is `None` when switched off or unconfigured.
pub struct Telemetry {
    pub otel: Option<otel::Otel>,
    pub xray: Option<xray::Xray>,
    pub rollbar: Option<rollbar::Rollbar>,
    pub logs: Option<logs::Logs>,
    /// Log the after-request line with the trace header appended (crate README).
    pub log_trace_ids: bool,
    pub log_stderr: bool,
}

impl Telemetry {
    /// No sinks at all (`CRUDDUR_TELEMETRY=off`).
    pub fn off() -> Telemetry {
        Telemetry {
            otel: None,
            xray: None,
            rollbar: None,
            logs: None,
            log_trace_ids: false,
            log_stderr: false,
        }
    }

    /// Builds every sink the configuration enables. Never fails: a sink that cannot start is
    /// left out with one warning. Must run inside a tokio runtime (background tasks).
    pub fn start(cfg: &Config) -> Telemetry {
        if !cfg.telemetry {
            return Telemetry::off();
        }
        let otel = otel::Otel::start(cfg);
        let xray = xray::Xray::start(cfg);
        let rollbar = rollbar::Rollbar::start(cfg);
        let logs = logs::Logs::start(cfg);
        let t = Telemetry {
            otel,
            xray,
            rollbar,
            logs,
            log_trace_ids: cfg.log_trace_ids,
            log_stderr: cfg.log_stderr,
        };
        if t.xray.is_some() {
            // XRayMiddleware's constructor logs this through `app.logger` (SYSTEM.md §3.4).
            t.log(Level::Info, "initializing xray middleware".to_string());
        }
        t
    }

    /// Starts the request's server span and segment (before the view runs).
    pub fn begin(&self, info: &RequestInfo) -> RequestTrace {
        let otel = self.otel.as_ref().map(|o| o.begin(info));
        let otel_trace = otel.as_ref().map(|s| s.trace_id_bytes());
        let xray = self.xray.as_ref().map(|x| x.begin(info, otel_trace));
        let trace_id = match (&otel, &xray) {
            (Some(s), _) => hex16(&s.trace_id_bytes()),
            (None, Some(x)) => hex16(&x.trace_id_bytes()),
            (None, None) => String::new(),
        };
        RequestTrace {
            otel,
            xray,
            trace_id,
            started: Instant::now(),
        }
    }

    /// Ends the request's telemetry (after the response is built, as `after_request` and
    /// `teardown_request` do). `rule` is the matched Flask rule, if any.
    pub fn end(
        &self,
        mut trace: RequestTrace,
        info: &RequestInfo,
        rule: Option<&'static str>,
        resp: &ResponseInfo,
        failure: Option<&Failure>,
    ) {
        let header = trace.xray_header();
        if let Some(f) = failure {
            // Flask logs `Exception on <path> [<METHOD>]` with the traceback to `app`.
            self.log(
                Level::Error,
                format!(
                    "Exception on {} [{}]\n{}",
                    info.path,
                    info.method,
                    f.traceback()
                ),
            );
            if let Some(r) = &self.rollbar {
                r.report_error(f, info, rule, &trace);
            }
        }
        let mut line = format!(
            "{} {} {} {} {} {}",
            crate::clock::log_stamp(crate::clock::Instant::now()),
            info.peer.ip(),
            info.method,
            info.scheme,
            info.full_path(),
            status_line(resp.status),
        );
        if self.log_trace_ids {
            if let Some(h) = &header {
                line.push(' ');
                line.push_str(h);
            }
        }
        self.log(Level::Error, line);
        if let (Some(x), Some(seg)) = (&self.xray, trace.xray.take()) {
            x.end(seg, resp, failure);
        }
        if let Some(span) = trace.otel.take() {
            span.end(rule, resp, failure);
        }
    }

    /// Logger `app`: stderr (the StreamHandler) and CloudWatch (the watchtower handler).
    pub fn log(&self, level: Level, message: String) {
        if self.log_stderr {
            eprintln!("{message}");
        }
        if let Some(l) = &self.logs {
            l.push(level, message);
        }
    }

    /// Flushes and stops every sink (bounded): spans, pending log events, queued items.
    pub async fn shutdown(&self) {
        if let Some(l) = &self.logs {
            l.flush(Duration::from_secs(5)).await;
        }
        if let Some(r) = &self.rollbar {
            r.drain(Duration::from_secs(5)).await;
        }
        if let Some(o) = &self.otel {
            // The SDK's shutdown blocks until the last batch is exported: off the runtime's
            // worker threads, which may be serving the very collector it exports to.
            let o = o.clone();
            let _ = tokio::task::spawn_blocking(move || o.shutdown()).await;
        }
    }
}

/// Log levels of logger `app` that this service uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Error,
}

/// `response.status`: the code and Werkzeug's upper-case reason phrase.
pub fn status_line(code: u16) -> String {
    let reason = http::StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("UNKNOWN");
    format!("{code} {}", reason.to_ascii_uppercase())
}

pub(crate) fn hex16(b: &[u8; 16]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A warning printed at most once per `every` (per sink), with a count of the ones held back,
/// so an unreachable endpoint produces one line, not one per request.
pub struct Warn {
    what: &'static str,
    every: Duration,
    last: Mutex<Option<Instant>>,
    held: AtomicU64,
}

impl Warn {
    pub const fn new(what: &'static str, every: Duration) -> Warn {
        Warn {
            what,
            every,
            last: Mutex::new(None),
            held: AtomicU64::new(0),
        }
    }

    pub fn warn(&self, detail: impl std::fmt::Display) {
        let now = Instant::now();
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        if last.is_some_and(|t| now.duration_since(t) < self.every) {
            self.held.fetch_add(1, Ordering::Relaxed);
            return;
        }
        *last = Some(now);
        let held = self.held.swap(0, Ordering::Relaxed);
        if held > 0 {
            tracing::warn!(
                "{}: {detail} ({held} more since the last warning)",
                self.what
            );
        } else {
            tracing::warn!("{}: {detail}", self.what);
        }
    }
}

/// A counter of telemetry dropped because a queue was full or a sink failed.
#[derive(Default)]
pub struct Dropped(AtomicU64);

impl Dropped {
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn werkzeug_status_lines() {
        assert_eq!(status_line(200), "200 OK");
        assert_eq!(status_line(404), "404 NOT FOUND");
        assert_eq!(status_line(422), "422 UNPROCESSABLE ENTITY");
        assert_eq!(status_line(500), "500 INTERNAL SERVER ERROR");
    }
}
