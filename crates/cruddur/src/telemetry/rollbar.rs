//! Rollbar as pyrollbar reports for the seed (`SYSTEM.md` §3.5, §9 items 9 and 21): items
//! `POST`ed to `ROLLBAR_ENDPOINT` (default `https://api.rollbar.com/api/1/item/`) with
//! `X-Rollbar-Access-Token`, environment `production`, `framework: "flask"` (the facet the
//! seed's Rollbar views filter on; `language` says `rust`), `context` = the Flask rule for
//! unhandled errors, with the frames and the request. Sent from a background task through a
//! bounded queue: a report never waits on the network, and a full queue drops and counts.
//! Each POST is an OTel CLIENT span (`HTTP POST`, as RequestsInstrumentor makes for the seed),
//! a child of the request's span.

use super::{Dropped, RequestInfo, RequestTrace, Warn};
use crate::config::Config;
use crate::Failure;
use opentelemetry::trace::{Span as _, SpanKind, Status, Tracer as _};
use opentelemetry::{global, Context, KeyValue};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Items waiting to be sent (our bound: a burst of errors cannot grow memory).
pub const QUEUE_MAX: usize = 256;
/// Per-POST timeout (pyrollbar's default is 3 s; ours is a little longer for slow CI).
pub const POST_TIMEOUT: Duration = Duration::from_secs(5);
pub const NOTIFIER_NAME: &str = "cruddur-rollbar";

struct Job {
    payload: Value,
    parent: Context,
}

pub struct Rollbar {
    tx: mpsc::Sender<Job>,
    token: String,
    environment: String,
    pub dropped: Arc<Dropped>,
    idle: Arc<tokio::sync::Notify>,
    pending: Arc<std::sync::atomic::AtomicUsize>,
}

static SEND_WARN: Warn = Warn::new("Rollbar item not sent", Duration::from_secs(60));

impl Rollbar {
    pub fn start(cfg: &Config) -> Option<Rollbar> {
        let Some(token) = cfg.rollbar_token.clone().filter(|t| !t.is_empty()) else {
            tracing::warn!("Rollbar is off: ROLLBAR_ACCESS_TOKEN is not set");
            return None;
        };
        let client = match reqwest::Client::builder().timeout(POST_TIMEOUT).build() {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("Rollbar is off: no HTTP client: {e}");
                return None;
            }
        };
        let (tx, mut rx) = mpsc::channel::<Job>(QUEUE_MAX);
        let dropped = Arc::new(Dropped::default());
        let idle = Arc::new(tokio::sync::Notify::new());
        let pending = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let endpoint = cfg.rollbar_endpoint.clone();
        let (d, i, p, t) = (
            dropped.clone(),
            idle.clone(),
            pending.clone(),
            token.clone(),
        );
        tokio::spawn(async move {
            while let Some(job) = rx.recv().await {
                if !send(&client, &endpoint, &t, job).await {
                    d.add(1);
                }
                if p.fetch_sub(1, std::sync::atomic::Ordering::AcqRel) == 1 {
                    i.notify_waiters();
                }
            }
        });
        Some(Rollbar {
            tx,
            token,
            environment: cfg.rollbar_environment.clone(),
            dropped,
            idle,
            pending,
        })
    }

    fn enqueue(&self, data: Value, trace: &RequestTrace) {
        let payload = json!({"access_token": self.token, "data": data});
        let parent = trace.otel.as_ref().map(|s| s.context()).unwrap_or_default();
        self.pending
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        if self.tx.try_send(Job { payload, parent }).is_err() {
            self.pending
                .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
            self.dropped.add(1);
            SEND_WARN.warn("the queue is full");
        }
    }

    /// `rollbar.report_message(text, level)`.
    pub fn report_message(
        &self,
        text: &str,
        level: &str,
        info: &RequestInfo,
        trace: &RequestTrace,
    ) {
        let mut data = self.base(level, info, trace);
        data["body"] = json!({"message": {"body": text}});
        self.enqueue(data, trace);
    }

    /// `report_exc_info` from the Flask `got_request_exception` hook.
    pub fn report_error(
        &self,
        f: &Failure,
        info: &RequestInfo,
        rule: Option<&str>,
        trace: &RequestTrace,
    ) {
        let mut data = self.base("error", info, trace);
        let frames: Vec<Value> = f
            .frames
            .iter()
            .map(|fr| json!({"filename": fr.file, "lineno": fr.line, "method": fr.function}))
            .collect();
        data["body"] = json!({"trace": {
            "frames": frames,
            "exception": {"class": f.class, "message": f.message},
        }});
        if let Some(rule) = rule {
            data["context"] = json!(rule);
        }
        self.enqueue(data, trace);
    }

    fn base(&self, level: &str, info: &RequestInfo, trace: &RequestTrace) -> Value {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let headers: serde_json::Map<String, Value> = info
            .headers
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "authorization" | "cookie"))
            .filter_map(|(k, v)| Some((k.as_str().to_string(), json!(v.to_str().ok()?))))
            .collect();
        let mut custom = json!({"trace_id": trace.trace_id});
        if let Some(s) = trace.span_id() {
            custom["span_id"] = json!(s);
        }
        json!({
            "timestamp": now,
            "uuid": crate::new_uuid_v4(),
            "environment": self.environment,
            "level": level,
            "language": "rust",
            "framework": "flask",
            "notifier": {"name": NOTIFIER_NAME, "version": env!("CARGO_PKG_VERSION")},
            "server": {
                "host": crate::hostname(),
                "root": crate::root_dir(),
                "argv": std::env::args().collect::<Vec<_>>(),
                "pid": std::process::id(),
            },
            "request": {
                "url": format!("{}{}", info.url(), if info.query.is_empty() { String::new() } else { format!("?{}", info.query) }),
                "method": info.method,
                "headers": headers,
                "query_string": info.query,
                "user_ip": info.peer.ip().to_string(),
            },
            "custom": custom,
        })
    }

    /// Waits (bounded) until queued items are sent.
    pub async fn drain(&self, limit: Duration) {
        let wait = async {
            while self.pending.load(std::sync::atomic::Ordering::Acquire) > 0 {
                let n = self.idle.notified();
                if self.pending.load(std::sync::atomic::Ordering::Acquire) == 0 {
                    break;
                }
                let _ = tokio::time::timeout(Duration::from_millis(50), n).await;
            }
        };
        let _ = tokio::time::timeout(limit, wait).await;
    }
}

/// One POST, as an OTel CLIENT span under the request's span. `true` when Rollbar took it.
async fn send(client: &reqwest::Client, endpoint: &str, token: &str, job: Job) -> bool {
    let tracer = global::tracer("opentelemetry.instrumentation.requests");
    let mut span = tracer
        .span_builder("HTTP POST")
        .with_kind(SpanKind::Client)
        .with_attributes(vec![
            KeyValue::new("http.method", "POST"),
            KeyValue::new("http.url", endpoint.to_string()),
        ])
        .start_with_context(&tracer, &job.parent);
    let mut req = client
        .post(endpoint)
        .header("content-type", "application/json")
        .header("x-rollbar-access-token", token)
        .body(job.payload.to_string());
    let sc = span.span_context().clone();
    if sc.is_valid() {
        req = req.header(
            "traceparent",
            format!(
                "00-{}-{}-{:02x}",
                sc.trace_id(),
                sc.span_id(),
                sc.trace_flags().to_u8()
            ),
        );
    }
    let ok = match req.send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            span.set_attribute(KeyValue::new("http.status_code", i64::from(status)));
            if status >= 400 {
                span.set_status(Status::error(""));
                SEND_WARN.warn(format_args!("{endpoint} answered {status}"));
            }
            status < 300
        }
        Err(e) => {
            span.set_status(Status::error(e.to_string()));
            SEND_WARN.warn(format_args!("{endpoint}: {e}"));
            false
        }
    };
    span.end();
    ok
}
