//! Cruddur-like trace generation: the week-2 `backend-flask` routes as OTLP spans.
//!
//! What a trace looks like follows `shared/seed/SYSTEM.md` §2 (routes, status codes, the
//! always-500 show-activity bug) and §3.2 (Flask server span named after the URL rule with
//! old-semconv `http.*` attributes, custom service spans with `app.*` attributes, the
//! `backend-flask` resource of opentelemetry-python 1.16.0). Where the seed is too thin for
//! a load test (one or two spans per trace), a service span and a data span are nested
//! under the server span, so a typical trace has three spans and about ten attributes per
//! span. Errors come from the routes' own bugs plus `error_rate` injected 500s (status
//! ERROR, an `exception` span event, a pyrollbar report as its own `HTTP POST` trace);
//! `slow_rate` of the traces are long-tail outliers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

use crate::rng::Rng;
use crate::timefmt::python_isoformat_utc;
use crate::LoadError;

/// Spans per export request: the OTel SDK BatchSpanProcessor's `max_export_batch_size`
/// default (SYSTEM.md §3.2; <https://opentelemetry.io/docs/specs/otel/trace/sdk/#batching-processor>).
pub const DEFAULT_SPANS_PER_REQUEST: usize = 512;
/// Upper bound on spans per request. Our choice: 32 × the SDK batch; at ~700 B per encoded
/// span that is ~11 MiB, under husky's 20 MiB OTLP body limit (protocols/otlp-honeycomb.md §7.3).
pub const MAX_SPANS_PER_REQUEST: usize = 16_384;
/// Distinct pre-encoded requests by default. Our choice: 64 × 512 = 32,768 spans, ~23 MiB
/// of protobuf; requests are re-sent in a cycle (with fresh trace ids, see `workload`).
pub const DEFAULT_REQUESTS: usize = 64;
/// Upper bound on spans generated up front. Our choice: 1 Mi spans ≈ 700 MiB of protobuf,
/// the most a 2-core development machine should hold for a generator.
pub const MAX_PREPARED_SPANS: usize = 1 << 20;
/// Default window the timestamps are spread over, ending at "now". Our choice: 10 minutes,
/// so a "last 15 minutes" query finds every span.
pub const DEFAULT_SPREAD: Duration = Duration::from_secs(600);
/// Default share of traces turned into injected 500s (on top of the routes' own bugs).
/// Our choice: 2 %, "a few percent" of errors as issue 4 asks.
pub const DEFAULT_ERROR_RATE: f64 = 0.02;
/// Default share of traces that are slow outliers (20×–200× the usual duration). Our choice: 1 %.
pub const DEFAULT_SLOW_RATE: f64 = 0.01;
/// Default number of distinct user handles. Our choice: 1,000 (the first 20 are the seed's
/// names such as `andrewbrown`, `worf`, `garek`; the rest `user0020` …).
pub const DEFAULT_HANDLES: u32 = 1_000;
/// Default number of distinct resources (backend processes / containers). Our choice: 4.
pub const DEFAULT_HOSTS: u32 = 4;
/// Upper bound on handles and hosts. Our choice: keeps `user%07d` names short.
pub const MAX_CARDINALITY: u32 = 10_000_000;

/// What to generate. Everything is a pure function of these fields (with `now_unix_nano`
/// set), so two runs with the same config produce byte-identical payloads.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GenConfig {
    /// PRNG seed.
    pub seed: u64,
    /// Number of distinct requests (batches) to generate.
    pub requests: usize,
    /// Spans in each request.
    pub spans_per_request: usize,
    /// The end of the time window; `None` = the wall clock when generation starts.
    pub now_unix_nano: Option<u64>,
    /// Span start times are spread over `[now - spread, now]`, in request order.
    pub spread: Duration,
    /// Share of traces given an injected 500 (0.0–1.0).
    pub error_rate: f64,
    /// Share of traces that are slow outliers (0.0–1.0).
    pub slow_rate: f64,
    /// Number of distinct user handles.
    pub handles: u32,
    /// Number of distinct resources (hosts / processes).
    pub hosts: u32,
}

impl Default for GenConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            requests: DEFAULT_REQUESTS,
            spans_per_request: DEFAULT_SPANS_PER_REQUEST,
            now_unix_nano: None,
            spread: DEFAULT_SPREAD,
            error_rate: DEFAULT_ERROR_RATE,
            slow_rate: DEFAULT_SLOW_RATE,
            handles: DEFAULT_HANDLES,
            hosts: DEFAULT_HOSTS,
        }
    }
}

impl GenConfig {
    /// Checks every field against its limit.
    pub fn validate(&self) -> Result<(), LoadError> {
        let bad = |m: String| Err(LoadError::InvalidConfig(m));
        if self.spans_per_request == 0 || self.spans_per_request > MAX_SPANS_PER_REQUEST {
            return bad(format!(
                "spans_per_request must be 1..={MAX_SPANS_PER_REQUEST}, got {}",
                self.spans_per_request
            ));
        }
        if self.requests == 0 {
            return bad("requests must be at least 1".into());
        }
        if self.requests.saturating_mul(self.spans_per_request) > MAX_PREPARED_SPANS {
            return bad(format!(
                "requests × spans_per_request must be ≤ {MAX_PREPARED_SPANS}, got {} × {}",
                self.requests, self.spans_per_request
            ));
        }
        for (name, v) in [
            ("error_rate", self.error_rate),
            ("slow_rate", self.slow_rate),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return bad(format!("{name} must be within 0.0..=1.0, got {v}"));
            }
        }
        for (name, v) in [("handles", self.handles), ("hosts", self.hosts)] {
            if v == 0 || v > MAX_CARDINALITY {
                return bad(format!("{name} must be 1..={MAX_CARDINALITY}, got {v}"));
            }
        }
        Ok(())
    }

    /// A copy with every field forced into its valid range.
    pub fn clamped(&self) -> GenConfig {
        let spans_per_request = self.spans_per_request.clamp(1, MAX_SPANS_PER_REQUEST);
        let clamp01 = |v: f64| if v.is_nan() { 0.0 } else { v.clamp(0.0, 1.0) };
        GenConfig {
            seed: self.seed,
            requests: self
                .requests
                .clamp(1, (MAX_PREPARED_SPANS / spans_per_request).max(1)),
            spans_per_request,
            now_unix_nano: self.now_unix_nano,
            spread: self.spread,
            error_rate: clamp01(self.error_rate),
            slow_rate: clamp01(self.slow_rate),
            handles: self.handles.clamp(1, MAX_CARDINALITY),
            hosts: self.hosts.clamp(1, MAX_CARDINALITY),
        }
    }
}

/// All requests for `cfg` (clamped into range), generated and kept in memory.
///
/// For large configurations prefer [`CruddurGenerator`], which yields one request at a time.
pub fn otlp_trace_requests(cfg: &GenConfig) -> Vec<ExportTraceServiceRequest> {
    CruddurGenerator::new(&cfg.clamped()).collect()
}

/// The Python SDK 1.16 default resource plus the `backend-flask` service name and a host.
const SDK_VERSION: &str = "1.16.0";
/// Version of opentelemetry-instrumentation-flask / -requests in the seed (SYSTEM.md §0).
const INSTRUMENTATION_VERSION: &str = "0.37b0";
/// The seed's own handles (SYSTEM.md §2.3), used before synthetic `userNNNN` ones.
const NAMED_HANDLES: [&str; 20] = [
    "andrewbrown",
    "worf",
    "garek",
    "tweeny",
    "xjl",
    "juno",
    "coco",
    "bayko",
    "londo",
    "jadzia",
    "odo",
    "quark",
    "kira",
    "sisko",
    "bashir",
    "nog",
    "rom",
    "dukat",
    "weyoun",
    "picard",
];
const USER_AGENTS: [&str; 4] = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/110.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.3 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:110.0) Gecko/20100101 Firefox/110.0",
    "curl/7.74.0",
];
const HTTP_HOST: &str = "4567-omenking-awsbootcampcr-x1y2z3a4b5c.ws-us89.gitpod.io";
const TTLS: [&str; 7] = [
    "30-days", "7-days", "3-days", "1-day", "12-hours", "3-hours", "1-hour",
];
const SEARCH_TERMS: [&str; 6] = ["cloud", "prune juice", "honor", "tailor", "aws", "bootcamp"];
/// (exception.type, exception.message) pairs for injected failures.
const EXCEPTIONS: [(&str, &str); 4] = [
    ("TypeError", "The view function did not return a valid response. The function either returned None or ended without a return statement."),
    ("KeyError", "'message'"),
    ("ValueError", "invalid literal for int() with base 10: 'abc'"),
    ("ConnectionError", "HTTPSConnectionPool(host='api.rollbar.com', port=443): Read timed out."),
];

/// Instrumentation scopes, by index into [`SCOPES`].
const SCOPE_FLASK: usize = 0;
const SCOPE_REQUESTS: usize = 1;
const SCOPES: [(&str, &str); 12] = [
    (
        "opentelemetry.instrumentation.flask",
        INSTRUMENTATION_VERSION,
    ),
    (
        "opentelemetry.instrumentation.requests",
        INSTRUMENTATION_VERSION,
    ),
    ("home.activities", ""),
    ("notifications.activities", ""),
    ("user.activities", ""),
    ("search.activities", ""),
    ("create.activity", ""),
    ("show.activity", ""),
    ("create.reply", ""),
    ("message.groups", ""),
    ("messages", ""),
    ("create.message", ""),
];

/// One week-2 route: how often it is hit and what its spans look like.
#[derive(Clone, Copy)]
struct Route {
    /// Relative frequency.
    weight: u32,
    method: &'static str,
    /// The Flask URL rule (= server span name and `http.route`).
    rule: &'static str,
    /// Index into [`SCOPES`] of the service tracer.
    scope: usize,
    /// Service span name and the nested data span name.
    service_span: &'static str,
    data_span: &'static str,
    /// Median server-span duration in ms (Flask dev server in debug mode).
    median_ms: f64,
    /// Results the service returns (`app.result_length`).
    results: i64,
}

const ROUTES: [Route; 11] = [
    Route {
        weight: 300,
        method: "GET",
        rule: "/api/activities/home",
        scope: 2,
        service_span: "home-activities",
        data_span: "home-activities-mock-data",
        median_ms: 3.0,
        results: 3,
    },
    Route {
        weight: 150,
        method: "GET",
        rule: "/api/activities/notifications",
        scope: 3,
        service_span: "notifications-activities",
        data_span: "mock-activities-notifications",
        median_ms: 3.0,
        results: 3,
    },
    Route {
        weight: 150,
        method: "GET",
        rule: "/api/activities/@<string:handle>",
        scope: 4,
        service_span: "user-activities",
        data_span: "user-activities-mock-data",
        median_ms: 2.5,
        results: 1,
    },
    Route {
        weight: 50,
        method: "GET",
        rule: "/api/activities/search",
        scope: 5,
        service_span: "search-activities",
        data_span: "search-activities-mock-data",
        median_ms: 2.5,
        results: 1,
    },
    Route {
        weight: 100,
        method: "POST",
        rule: "/api/activities",
        scope: 6,
        service_span: "create-activity",
        data_span: "create-activity-validate",
        median_ms: 4.0,
        results: 1,
    },
    Route {
        weight: 20,
        method: "GET",
        rule: "/api/activities/<string:activity_uuid>",
        scope: 7,
        service_span: "show-activity",
        data_span: "show-activity-mock-data",
        median_ms: 6.0,
        results: 1,
    },
    Route {
        weight: 40,
        method: "POST",
        rule: "/api/activities/<string:activity_uuid>/reply",
        scope: 8,
        service_span: "create-reply",
        data_span: "create-reply-validate",
        median_ms: 4.0,
        results: 1,
    },
    Route {
        weight: 60,
        method: "GET",
        rule: "/api/message_groups",
        scope: 9,
        service_span: "message-groups",
        data_span: "message-groups-mock-data",
        median_ms: 2.5,
        results: 2,
    },
    Route {
        weight: 50,
        method: "GET",
        rule: "/api/messages/@<string:handle>",
        scope: 10,
        service_span: "messages",
        data_span: "messages-mock-data",
        median_ms: 2.5,
        results: 2,
    },
    Route {
        weight: 50,
        method: "POST",
        rule: "/api/messages",
        scope: 11,
        service_span: "create-message",
        data_span: "create-message-validate",
        median_ms: 4.0,
        results: 1,
    },
    Route {
        weight: 30,
        method: "GET",
        rule: "/rollbar/test",
        scope: SCOPE_FLASK,
        service_span: "",
        data_span: "",
        median_ms: 8.0,
        results: 0,
    },
];

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}
fn kv_str(key: &str, value: impl Into<String>) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.into()))
}
fn kv_int(key: &str, value: i64) -> KeyValue {
    kv(key, any_value::Value::IntValue(value))
}

/// A random UUIDv4 in the usual lowercase hyphenated form.
fn uuid4(rng: &mut Rng) -> String {
    let mut b: [u8; 16] = rng.bytes();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A trace id whose high half is never zero, so husky never trims it to 64 bits.
fn trace_id(rng: &mut Rng) -> Vec<u8> {
    let mut id: [u8; 16] = rng.bytes();
    id[0] |= 0x01;
    id.to_vec()
}
fn span_id(rng: &mut Rng) -> Vec<u8> {
    let mut id: [u8; 8] = rng.bytes();
    id[0] |= 0x01;
    id.to_vec()
}

/// Streams Cruddur-like `ExportTraceServiceRequest`s, one per [`Iterator::next`].
///
/// Each request carries spans of one resource (host), round-robin over `hosts`, like the
/// batches of one SDK process. Spans come in end order (children before their parent), as
/// a BatchSpanProcessor exports them; a trace that does not fit continues in that host's
/// next request.
pub struct CruddurGenerator {
    cfg: GenConfig,
    rng: Rng,
    start_ns: u64,
    slot_ns: u64,
    next: usize,
    /// Per host: spans generated but not yet placed in a request, and the host's pid.
    pending: Vec<Vec<(usize, Span)>>,
}

impl CruddurGenerator {
    /// A generator for `cfg` (use [`GenConfig::clamped`] or [`GenConfig::validate`] first;
    /// out-of-range values are clamped here too).
    pub fn new(cfg: &GenConfig) -> Self {
        let cfg = cfg.clamped();
        let now = cfg.now_unix_nano.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
                .unwrap_or(0)
        });
        let spread_ns = u64::try_from(cfg.spread.as_nanos()).unwrap_or(u64::MAX);
        let start_ns = now.saturating_sub(spread_ns);
        let slot_ns = (spread_ns / cfg.requests as u64).max(1);
        let hosts = cfg.hosts as usize;
        Self {
            rng: Rng::new(cfg.seed),
            start_ns,
            slot_ns,
            next: 0,
            pending: (0..hosts.min(cfg.requests)).map(|_| Vec::new()).collect(),
            cfg,
        }
    }

    fn resource(&self, host: usize) -> Resource {
        // Derived from the seed, not drawn from the stream, so it is stable per host.
        let h = crate::rng::mix(self.cfg.seed ^ (host as u64).wrapping_mul(0x9E37));
        Resource {
            attributes: vec![
                kv_str("telemetry.sdk.language", "python"),
                kv_str("telemetry.sdk.name", "opentelemetry"),
                kv_str("telemetry.sdk.version", SDK_VERSION),
                kv_str("service.name", "backend-flask"),
                kv_str("host.name", format!("{:012x}", h >> 16)),
                kv_int("process.pid", 7 + (h % 60_000) as i64),
            ],
            ..Default::default()
        }
    }

    fn handle(&mut self) -> String {
        // Skewed: u² puts most requests on the first (seed) handles.
        let u = self.rng.unit();
        let i = ((u * u) * f64::from(self.cfg.handles)) as usize;
        match NAMED_HANDLES.get(i) {
            Some(h) => (*h).to_string(),
            None => format!("user{i:04}"),
        }
    }

    /// One trace (or two, for pyrollbar's report) in export order.
    fn trace(&mut self, start_ns: u64, out: &mut Vec<(usize, Span)>) {
        let weights: [u32; ROUTES.len()] = std::array::from_fn(|i| ROUTES[i].weight);
        let route = ROUTES[self.rng.weighted(&weights).min(ROUTES.len() - 1)];
        let slow = self.rng.chance(self.cfg.slow_rate);
        let injected = self.rng.chance(self.cfg.error_rate);
        let tid = trace_id(&mut self.rng);
        let root_id = span_id(&mut self.rng);
        let handle = self.handle();
        let activity_uuid = uuid4(&mut self.rng);

        // Status code: the route's own behaviour, then injected failures.
        let mut status: i64 = 200;
        let mut exception: Option<(&str, &str)> = None;
        let mut target = route.rule.to_string();
        let mut extra: Vec<KeyValue> = Vec::new();
        match route.rule {
            "/api/activities/@<string:handle>" | "/api/messages/@<string:handle>" => {
                target = route.rule.replace("<string:handle>", &handle);
            }
            "/api/activities/search" => {
                let term = if self.rng.chance(0.1) {
                    ""
                } else {
                    self.rng.pick(&SEARCH_TERMS).copied().unwrap_or("cloud")
                };
                target = format!("/api/activities/search?term={}", term.replace(' ', "%20"));
                if term.is_empty() {
                    status = 422;
                    extra.push(kv_str("app.errors", "search_term_blank"));
                }
                extra.push(kv_str("app.search_term", term));
            }
            "/api/activities/<string:activity_uuid>" => {
                target = format!("/api/activities/{activity_uuid}");
                status = 500;
                exception = Some(("NameError", "name 'ShowActivity' is not defined"));
            }
            "/api/activities/<string:activity_uuid>/reply" => {
                target = format!("/api/activities/{activity_uuid}/reply");
                if self.rng.chance(0.1) {
                    status = 500;
                    exception = Some(("NameError", "name 'user_sender_handle' is not defined"));
                }
                extra.push(kv_str("app.reply_to_activity_uuid", activity_uuid.clone()));
            }
            "/api/activities" | "/api/messages" => {
                if self.rng.chance(0.05) {
                    status = 422;
                    extra.push(kv_str("app.errors", "message_blank"));
                } else {
                    let len = self.rng.range(1, 280) as i64;
                    extra.push(kv_int("app.message_length", len));
                }
                if route.rule == "/api/activities" {
                    let ttl = self.rng.pick(&TTLS).copied().unwrap_or("7-days");
                    extra.push(kv_str("app.ttl", ttl));
                }
                extra.push(kv_str("app.activity_uuid", uuid4(&mut self.rng)));
            }
            _ => {}
        }
        if injected && status < 500 {
            status = 500;
            let i = self.rng.below(EXCEPTIONS.len() as u64) as usize;
            exception = EXCEPTIONS.get(i).copied();
        }

        // Durations: log-normal around the route's median, long tail for outliers.
        let mut total_ms = self.rng.log_normal(route.median_ms, 0.5);
        if slow {
            total_ms *= self.rng.range(20, 200) as f64;
        }
        let total_ns = (total_ms * 1e6) as u64 + 1_000;
        let root_end = start_ns + total_ns;
        let error = status >= 500;

        // Service span covers most of the request, the data span a part of it.
        if !route.service_span.is_empty() {
            let svc_id = span_id(&mut self.rng);
            let data_id = span_id(&mut self.rng);
            let svc_start = start_ns + total_ns / 10;
            let svc_end = svc_start + total_ns * 7 / 10;
            let data_start = svc_start + total_ns / 20;
            let data_end = data_start + total_ns * 4 / 10;
            let now_iso = python_isoformat_utc(svc_start);

            let mut data_attrs = if route.rule == "/api/activities/notifications" {
                // IK's span: every key of the last mock item (SYSTEM.md §3.2).
                vec![
                    kv_str("uuid", "248959df-3079-4947-b847-9e0892d1bab4"),
                    kv_str("handle", "Juno"),
                    kv_str("message", "Come bruv"),
                    kv_str(
                        "created_at",
                        python_isoformat_utc(svc_start - 3_600_000_000_000),
                    ),
                    kv_str(
                        "expires_at",
                        python_isoformat_utc(svc_start + 43_200_000_000_000),
                    ),
                    kv_int("likes", 0),
                    kv(
                        "replies",
                        any_value::Value::ArrayValue(ArrayValue { values: Vec::new() }),
                    ),
                    kv_int("likes_count", 5),
                    kv_int("replies_count", 1),
                    kv_int("reposts_count", 0),
                ]
            } else {
                vec![
                    kv_str("app.now", now_iso.clone()),
                    kv_int("app.result_length", route.results),
                    kv_str("app.activity_uuid", activity_uuid.clone()),
                    kv_str("user.handle", handle.clone()),
                    kv_str("code.function", "run"),
                    kv_str(
                        "code.namespace",
                        format!("services.{}", route.service_span.replace('-', "_")),
                    ),
                ]
            };
            let mut svc_attrs = vec![
                kv_str("app.now", now_iso),
                kv_int("app.result_length", route.results),
                kv_str("user.handle", handle.clone()),
                kv_str("user.id", user_id(&handle)),
                kv_str("code.function", "run"),
                kv_str(
                    "code.namespace",
                    format!("services.{}", route.service_span.replace('-', "_")),
                ),
                kv_str(
                    "thread.name",
                    format!(
                        "Thread-{} (process_request_thread)",
                        self.rng.range(1, 5000)
                    ),
                ),
                kv_int(
                    "thread.id",
                    139_800_000_000_000 + self.rng.below(1_000_000) as i64,
                ),
            ];
            svc_attrs.extend(extra.iter().cloned());

            let mut data = Span {
                trace_id: tid.clone(),
                span_id: data_id,
                parent_span_id: svc_id.clone(),
                name: route.data_span.to_string(),
                kind: SpanKind::Internal as i32,
                start_time_unix_nano: data_start,
                end_time_unix_nano: data_end,
                ..Default::default()
            };
            let mut svc = Span {
                trace_id: tid.clone(),
                span_id: svc_id,
                parent_span_id: root_id.clone(),
                name: route.service_span.to_string(),
                kind: SpanKind::Internal as i32,
                start_time_unix_nano: svc_start,
                end_time_unix_nano: svc_end,
                ..Default::default()
            };
            if let Some((ty, msg)) = exception {
                // The exception escapes the service's `with start_as_current_span` block.
                svc.events.push(self.exception_event(svc_end, ty, msg));
                svc.status = Some(error_status(ty, msg));
                if injected {
                    data.events.push(self.exception_event(data_end, ty, msg));
                    data.status = Some(error_status(ty, msg));
                    data_attrs.push(kv_str("exception.type", ty));
                }
            }
            data.attributes = data_attrs;
            svc.attributes = svc_attrs;
            out.push((route.scope, data));
            out.push((route.scope, svc));
        }

        let mut root = Span {
            trace_id: tid,
            span_id: root_id,
            name: route.rule.to_string(),
            kind: SpanKind::Server as i32,
            start_time_unix_nano: start_ns,
            end_time_unix_nano: root_end,
            attributes: self.server_attrs(&route, &target, status),
            ..Default::default()
        };
        if error {
            if let Some((ty, msg)) = exception {
                root.events.push(self.exception_event(root_end, ty, msg));
                root.status = Some(error_status(ty, msg));
            } else {
                root.status = Some(Status {
                    message: String::new(),
                    code: StatusCode::Error as i32,
                });
            }
        }
        out.push((SCOPE_FLASK, root));

        // pyrollbar reports from its own thread: a separate root CLIENT span.
        if error || route.rule == "/rollbar/test" {
            out.push((SCOPE_REQUESTS, self.rollbar_post(root_end)));
        }
    }

    fn server_attrs(&mut self, route: &Route, target: &str, status: i64) -> Vec<KeyValue> {
        let ua = self
            .rng
            .pick(&USER_AGENTS)
            .copied()
            .unwrap_or("curl/7.74.0");
        let ip = format!("10.0.{}.{}", self.rng.below(4), self.rng.range(2, 254));
        vec![
            kv_str("http.method", route.method),
            kv_str("http.server_name", "0.0.0.0"),
            kv_str("http.scheme", "http"),
            kv_int("net.host.port", 4567),
            kv_str("http.host", HTTP_HOST),
            kv_str("http.target", target),
            kv_str("net.peer.ip", ip),
            kv_str("http.user_agent", ua),
            kv_int("net.peer.port", self.rng.range(32_768, 60_999) as i64),
            kv_str("http.flavor", "1.1"),
            kv_str("http.route", route.rule),
            kv_int("http.status_code", status),
        ]
    }

    fn exception_event(&mut self, at_ns: u64, ty: &str, msg: &str) -> Event {
        let line = self.rng.range(20, 400);
        let stack = format!(
            "Traceback (most recent call last):\n  File \"/usr/local/lib/python3.10/site-packages/flask/app.py\", line 2525, in wsgi_app\n    response = self.full_dispatch_request()\n  File \"/usr/local/lib/python3.10/site-packages/flask/app.py\", line 1822, in full_dispatch_request\n    rv = self.handle_user_exception(e)\n  File \"/backend-flask/app.py\", line {line}, in data_handler\n    data = Service.run()\n{ty}: {msg}\n"
        );
        Event {
            time_unix_nano: at_ns,
            name: "exception".to_string(),
            attributes: vec![
                kv_str("exception.type", ty),
                kv_str("exception.message", msg),
                kv_str("exception.stacktrace", stack),
                kv_str("exception.escaped", "False"),
            ],
            dropped_attributes_count: 0,
        }
    }

    fn rollbar_post(&mut self, start_ns: u64) -> Span {
        let ms = self.rng.log_normal(120.0, 0.4);
        Span {
            trace_id: trace_id(&mut self.rng),
            span_id: span_id(&mut self.rng),
            name: "HTTP POST".to_string(),
            kind: SpanKind::Client as i32,
            start_time_unix_nano: start_ns + 200_000,
            end_time_unix_nano: start_ns + 200_000 + (ms * 1e6) as u64,
            attributes: vec![
                kv_str("http.method", "POST"),
                kv_str("http.url", "https://api.rollbar.com/api/1/item/"),
                kv_int("http.status_code", 200),
            ],
            ..Default::default()
        }
    }
}

/// A stable user id per handle (FNV-1a, then SplitMix64's mixer).
fn user_id(handle: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in handle.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{:016x}", crate::rng::mix(h))
}

fn error_status(ty: &str, msg: &str) -> Status {
    Status {
        message: format!("{ty}: {msg}"),
        code: StatusCode::Error as i32,
    }
}

impl Iterator for CruddurGenerator {
    type Item = ExportTraceServiceRequest;

    fn next(&mut self) -> Option<ExportTraceServiceRequest> {
        if self.next >= self.cfg.requests {
            return None;
        }
        let index = self.next;
        self.next += 1;
        let host = index % self.pending.len().max(1);
        let want = self.cfg.spans_per_request;
        let slot_start = self.start_ns + self.slot_ns * index as u64;

        let mut spans = std::mem::take(self.pending.get_mut(host)?);
        while spans.len() < want {
            let start = slot_start + self.rng.below(self.slot_ns);
            self.trace(start, &mut spans);
        }
        let rest = spans.split_off(want);
        if let Some(p) = self.pending.get_mut(host) {
            *p = rest;
        }

        // Group by scope, keeping first-seen order.
        let mut scope_spans: Vec<ScopeSpans> = Vec::new();
        let mut slot_of: [Option<usize>; SCOPES.len()] = [None; SCOPES.len()];
        for (scope, span) in spans {
            let i = match slot_of.get(scope).copied().flatten() {
                Some(i) => i,
                None => {
                    let (name, version) = SCOPES.get(scope).copied().unwrap_or(("unknown", ""));
                    scope_spans.push(ScopeSpans {
                        scope: Some(InstrumentationScope {
                            name: name.to_string(),
                            version: version.to_string(),
                            ..Default::default()
                        }),
                        spans: Vec::new(),
                        schema_url: String::new(),
                    });
                    let i = scope_spans.len() - 1;
                    if let Some(s) = slot_of.get_mut(scope) {
                        *s = Some(i);
                    }
                    i
                }
            };
            if let Some(ss) = scope_spans.get_mut(i) {
                ss.spans.push(span);
            }
        }
        Some(ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(self.resource(host)),
                scope_spans,
                schema_url: String::new(),
            }],
        })
    }
}
