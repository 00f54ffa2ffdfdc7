//! Cruddur's backend (the AWS bootcamp's Flask app at the end of week 2) in Rust: every route
//! and quirk of `../shared/seed/SYSTEM.md` §2, instrumented as the seed is (§3): OpenTelemetry
//! to Honeycomb (or Waggle), X-Ray through the daemon, Rollbar and CloudWatch Logs. The crate
//! README records each decision the seed left open.
//!
//! Data flow of one request ([`handle`]): read the request → [`telemetry::Telemetry::begin`]
//! (server span, X-Ray segment, one trace id) → [`routes::route`] (Werkzeug's matching) →
//! the view ([`api`] for the data and validation) → CORS ([`cors`]) → `end` (span attributes,
//! segment fields, the after-request log line, Rollbar on failure).
//!
//! `waggle demo` embeds this crate: [`bind`] then [`Server::serve`].

pub mod api;
pub mod clock;
pub mod config;
pub mod cors;
pub mod routes;
pub mod telemetry;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use axum::Router;
use clock::Instant;
use config::Config;
use http::{header, HeaderValue, Method, StatusCode};
use opentelemetry::KeyValue;
use routes::{Endpoint, Routed};
use serde_json::{json, Value};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use telemetry::{Level, RequestInfo, RequestTrace, ResponseInfo, Telemetry};

/// Largest request body read (our bound; Flask has none by default). Larger is a 413.
pub const BODY_BYTES_MAX: usize = 1024 * 1024;
/// The toolchain floor from the workspace manifest, reported as X-Ray's `runtime_version`.
pub const RUSTC_VERSION: &str = env!("CARGO_PKG_RUST_VERSION");

/// One frame of a failure's stack, oldest first (as Python prints tracebacks).
#[derive(Debug, Clone)]
pub struct Frame {
    pub file: String,
    pub line: u32,
    pub function: String,
}

/// An unhandled error in a view: what Flask turns into a 500 and reports to Rollbar.
#[derive(Debug, Clone)]
pub struct Failure {
    pub class: String,
    pub message: String,
    pub frames: Vec<Frame>,
}

/// Frames kept per failure (our bound).
pub const FRAMES_MAX: usize = 64;

impl Failure {
    /// Captures the current stack (this crate's frames, oldest first).
    pub fn capture(class: &str, message: &str) -> Failure {
        let bt = std::backtrace::Backtrace::force_capture().to_string();
        let mut frames = Vec::new();
        let mut function: Option<String> = None;
        for line in bt.lines() {
            let t = line.trim();
            if let Some((n, f)) = t.split_once(": ") {
                if n.chars().all(|c| c.is_ascii_digit()) {
                    function = Some(f.to_string());
                    continue;
                }
            }
            if let (Some(at), Some(f)) = (t.strip_prefix("at "), function.take()) {
                let mut parts = at.rsplitn(3, ':');
                let _col = parts.next();
                let line = parts.next().and_then(|l| l.parse().ok()).unwrap_or(0);
                let file = parts.next().unwrap_or(at).to_string();
                if f.starts_with("cruddur::") && !f.contains("Failure::capture") {
                    frames.push(Frame {
                        file,
                        line,
                        function: f,
                    });
                }
            }
        }
        frames.truncate(FRAMES_MAX);
        frames.reverse();
        Failure {
            class: class.to_string(),
            message: message.to_string(),
            frames,
        }
    }

    /// The Python-style traceback text Flask logs and OTel records.
    pub fn traceback(&self) -> String {
        let mut s = String::from("Traceback (most recent call last):\n");
        for f in &self.frames {
            s.push_str(&format!(
                "  File \"{}\", line {}, in {}\n",
                f.file, f.line, f.function
            ));
        }
        s.push_str(&format!("{}: {}", self.class, self.message));
        s
    }
}

/// Shared state of the server.
pub struct App {
    pub config: Config,
    pub telemetry: Telemetry,
}

/// A bound, not yet serving Cruddur.
pub struct Server {
    listener: tokio::net::TcpListener,
    app: Arc<App>,
}

/// Binds the configured address and starts the telemetry sinks (inside a tokio runtime).
pub async fn bind(config: Config) -> anyhow::Result<Server> {
    // The first backtrace loads the debug info (~0.3 s); do it now, off the request path.
    std::thread::spawn(|| drop(Failure::capture("Warmup", "")));
    let listener = tokio::net::TcpListener::bind(config.bind).await?;
    let telemetry = Telemetry::start(&config);
    Ok(Server {
        listener,
        app: Arc::new(App { config, telemetry }),
    })
}

impl Server {
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn app(&self) -> Arc<App> {
        self.app.clone()
    }

    /// Serves until `shutdown` resolves, then drains connections and flushes every sink.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let router = Router::new().fallback(handle).with_state(self.app.clone());
        axum::serve(
            self.listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await?;
        self.app.telemetry.shutdown().await;
        Ok(())
    }
}

/// What a view produced.
struct Outcome {
    response: Response,
    /// Set when the response comes from an exception (500, or Werkzeug's 400/405/404): the
    /// app-level CORS answers it, not `@cross_origin()`.
    exception: bool,
    failure: Option<Failure>,
}

impl Outcome {
    fn ok(response: Response) -> Outcome {
        Outcome {
            response,
            exception: false,
            failure: None,
        }
    }
    fn http_error(status: StatusCode) -> Outcome {
        Outcome {
            response: html_error(status),
            exception: true,
            failure: None,
        }
    }
    fn failure(f: Failure) -> Outcome {
        Outcome {
            response: html_error(StatusCode::INTERNAL_SERVER_ERROR),
            exception: true,
            failure: Some(f),
        }
    }
}

/// Werkzeug's HTML error pages (2.2 wording).
fn html_error(status: StatusCode) -> Response {
    let description = match status.as_u16() {
        400 => "The browser (or proxy) sent a request that this server could not understand.",
        404 => "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.",
        405 => "The method is not allowed for the requested URL.",
        413 => "The data value transmitted exceeds the capacity limit.",
        _ => "The server encountered an internal error and was unable to complete your request. Either the server is overloaded or there is an error in the application.",
    };
    let reason = status.canonical_reason().unwrap_or("Error");
    let body = format!(
        "<!doctype html>\n<html lang=en>\n<title>{} {reason}</title>\n<h1>{reason}</h1>\n<p>{description}</p>\n",
        status.as_u16()
    );
    text(status, body)
}

fn text(status: StatusCode, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

fn json_response(app: &App, status: StatusCode, v: &Value) -> Response {
    let body = if app.config.debug {
        serde_json::to_vec_pretty(v)
    } else {
        serde_json::to_vec(v)
    }
    .unwrap_or_default();
    let mut body = ensure_ascii(body);
    body.push(b'\n');
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// Flask's `ensure_ascii`: every non-ASCII character as `\uXXXX` (UTF-16, lowercase hex).
/// Only string contents can hold non-ASCII in serialized JSON, so escaping the whole text is
/// exact.
fn ensure_ascii(json: Vec<u8>) -> Vec<u8> {
    if json.is_ascii() {
        return json;
    }
    let text = String::from_utf8_lossy(&json);
    let mut out = String::with_capacity(json.len() + 16);
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out.into_bytes()
}

/// The one axum handler: Werkzeug's routing is reproduced in [`routes`].
async fn handle(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| app.config.bind.to_string());
    let info = RequestInfo {
        method: parts.method.as_str().to_string(),
        scheme: "http",
        host,
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or_default().to_string(),
        user_agent: parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        peer,
        server_port: app.config.bind.port(),
        headers: parts.headers.clone(),
    };
    let mut trace = app.telemetry.begin(&info);
    // Werkzeug routes on the decoded path; decoded once for routing and `Allow`.
    let decoded = routes::percent_decode(&info.path);
    let routed = routes::route(&info.method, &decoded);
    let rule = match &routed {
        Routed::Found(m) => Some(m.rule),
        _ => None,
    };
    let outcome = match routed {
        Routed::NotFound => Outcome::http_error(StatusCode::NOT_FOUND),
        Routed::MethodNotAllowed(allow) => {
            let mut o = Outcome::http_error(StatusCode::METHOD_NOT_ALLOWED);
            if let Ok(v) = HeaderValue::from_str(&allow) {
                o.response.headers_mut().insert(header::ALLOW, v);
            }
            o
        }
        Routed::Found(_) if parts.method == Method::OPTIONS => {
            let mut r = Response::new(Body::empty());
            if let Ok(v) = HeaderValue::from_str(&routes::allowed_methods(&decoded)) {
                r.headers_mut().insert(header::ALLOW, v);
            }
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            Outcome::ok(r)
        }
        Routed::Found(m) => {
            let bytes = match axum::body::to_bytes(body, BODY_BYTES_MAX).await {
                Ok(b) => b,
                Err(_) => Bytes::new(),
            };
            view(&app, m, &info, &bytes, &mut trace).await
        }
    };
    let Outcome {
        mut response,
        exception,
        failure,
    } = outcome;

    // CORS (flask-cors after_request, or the view's @cross_origin()).
    let policy = if !info.path.starts_with("/api") {
        cors::Policy::None
    } else if rule.is_some_and(|r| r.cross_origin) && !exception {
        cors::Policy::CrossOrigin
    } else {
        cors::Policy::App
    };
    let creq = cors::Request {
        origin: info.header("origin"),
        request_headers: info.header("access-control-request-headers"),
        preflight: parts.method == Method::OPTIONS,
        request_method: info.header("access-control-request-method"),
    };
    for (k, v) in cors::headers(policy, &app.config.origins, &creq) {
        if let Ok(v) = HeaderValue::from_str(&v) {
            response.headers_mut().append(k, v);
        }
    }
    if let Some(h) = trace
        .xray_header()
        .and_then(|h| HeaderValue::from_str(&h).ok())
    {
        response
            .headers_mut()
            .insert(xray_client::header::HEADER_NAME, h);
    }
    let content_length = http_body::Body::size_hint(response.body()).exact();
    if let Some(n) = content_length {
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(n));
    }
    let resp = ResponseInfo {
        status: response.status().as_u16(),
        content_length,
    };
    app.telemetry
        .end(trace, &info, rule.map(|r| r.rule), &resp, failure.as_ref());
    if parts.method == Method::HEAD {
        *response.body_mut() = Body::empty();
    }
    response
}

/// Parses a JSON body as `request.json` does: a JSON media type and valid JSON, else 400; a
/// body that is not an object fails the view's `request.json['key']` with TypeError.
// The error is the response itself (moved once, on a cold path); boxing buys nothing.
#[allow(clippy::result_large_err)]
fn json_object(
    info: &RequestInfo,
    bytes: &[u8],
) -> Result<serde_json::Map<String, Value>, Outcome> {
    let ct = info.header("content-type").unwrap_or_default();
    let mime = ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let is_json =
        mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"));
    if !is_json {
        return Err(Outcome::http_error(StatusCode::BAD_REQUEST));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(Value::Array(_)) => Err(Outcome::failure(Failure::capture(
            "TypeError",
            "list indices must be integers or slices, not str",
        ))),
        Ok(_) => Err(Outcome::failure(Failure::capture(
            "TypeError",
            "string indices must be integers",
        ))),
        Err(_) => Err(Outcome::http_error(StatusCode::BAD_REQUEST)),
    }
}

fn created(app: &App, r: api::Created) -> Outcome {
    match r {
        Ok(Ok(v)) => Outcome::ok(json_response(app, StatusCode::OK, &v)),
        Ok(Err(errors)) => Outcome::ok(json_response(
            app,
            StatusCode::UNPROCESSABLE_ENTITY,
            &json!(errors),
        )),
        Err(f) => Outcome::failure(Failure::capture(f.class, &f.message)),
    }
}

/// The `term` query parameter, form-decoded (`+` is a space).
fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (routes::percent_decode(&k.replace('+', " ")) == key)
            .then(|| routes::percent_decode(&v.replace('+', " ")))
    })
}

async fn view(
    app: &App,
    m: routes::Matched,
    info: &RequestInfo,
    body: &[u8],
    trace: &mut RequestTrace,
) -> Outcome {
    let now = Instant::now();
    let started = std::time::SystemTime::now();
    let list = |v: Vec<Value>| Outcome::ok(json_response(app, StatusCode::OK, &Value::Array(v)));
    match m.rule.endpoint {
        Endpoint::Home => {
            xray_begin(trace, "activities_home");
            simulated_latency(app).await;
            let data = api::home(now);
            if let Some(s) = &trace.otel {
                s.child(
                    "home.activities",
                    "home-activites-mock-data",
                    vec![
                        KeyValue::new("app.now", clock::iso(now)),
                        KeyValue::new("app.result_length", data.len() as i64),
                    ],
                    started,
                );
            }
            xray_end(trace);
            list(data)
        }
        Endpoint::Notifications => {
            app.telemetry
                .log(Level::Info, "NotificationsActivities".into());
            simulated_latency(app).await;
            let data = api::notifications(now);
            if let Some(s) = &trace.otel {
                let attrs = api::notification_span_attributes(&data)
                    .iter()
                    .filter_map(|(k, v)| telemetry::otel::attribute(k, v))
                    .collect();
                s.child(
                    "notifications.activities",
                    "mock-activities-notifications",
                    attrs,
                    started,
                );
            }
            list(data)
        }
        Endpoint::UserActivities => {
            xray_begin(trace, "activities_users");
            simulated_latency(app).await;
            let data = api::user_activities(now);
            if let Some(x) = trace.xray.as_mut() {
                x.begin_subsegment("mock-data");
                x.put_metadata(
                    "key",
                    json!({"now": clock::iso(now), "results-size": data.len()}),
                    "namespace",
                );
                x.end_subsegment();
            }
            xray_end(trace);
            list(data)
        }
        Endpoint::Search => match api::search(now, query_param(&info.query, "term").as_deref()) {
            Ok(v) => list(v),
            Err(e) => Outcome::ok(json_response(
                app,
                StatusCode::UNPROCESSABLE_ENTITY,
                &json!(e),
            )),
        },
        Endpoint::ShowActivity => {
            xray_begin(trace, "activities_show");
            let data = api::show_activity(now);
            xray_end(trace);
            list(data)
        }
        Endpoint::MessageGroups => list(api::message_groups(now)),
        Endpoint::Messages => {
            app.telemetry.log(Level::Info, "Messages".into());
            list(api::messages(now))
        }
        Endpoint::CreateActivity => match json_object(info, body) {
            Ok(b) => created(app, api::create_activity(now, &new_uuid_v4(), &b)),
            Err(o) => o,
        },
        Endpoint::CreateReply => match json_object(info, body) {
            Ok(b) => {
                let activity = m.param.unwrap_or_default();
                created(app, api::create_reply(now, &new_uuid_v4(), &activity, &b))
            }
            Err(o) => o,
        },
        Endpoint::CreateMessage => match json_object(info, body) {
            Ok(b) => created(app, api::create_message(now, &new_uuid_v4(), &b)),
            Err(o) => o,
        },
        Endpoint::RollbarTest => {
            if let Some(r) = &app.telemetry.rollbar {
                r.report_message("Hello World!", "warning", info, trace);
            }
            Outcome::ok(text(StatusCode::OK, "Hello World!".into()))
        }
    }
}

/// See `Config::simulate_latency`.
async fn simulated_latency(app: &App) {
    if !app.config.simulate_latency {
        return;
    }
    let mut b = [0u8; 2];
    let _ = getrandom::fill(&mut b);
    if b[0] < 26 {
        let ms = 150 + u64::from(b[1]) * 3;
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
}

fn xray_begin(trace: &mut RequestTrace, name: &str) {
    if let Some(x) = trace.xray.as_mut() {
        x.begin_subsegment(name);
    }
}

fn xray_end(trace: &mut RequestTrace) {
    if let Some(x) = trace.xray.as_mut() {
        x.end_subsegment();
    }
}

/// A random (version 4) UUID, lowercase and hyphenated.
pub fn new_uuid_v4() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        let t = Instant::now().unix_micros().to_le_bytes();
        b[..8].copy_from_slice(&t);
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// The machine name (watchtower's `{machine_name}`, Rollbar's `server.host`).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// Rollbar's `server.root`: the directory the service runs from.
pub fn root_dir() -> String {
    std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}
