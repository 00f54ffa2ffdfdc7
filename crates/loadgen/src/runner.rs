//! Sending prepared requests: connections, closed/open loop scheduling, latency, server sampling.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes};
use hdrhistogram::Histogram;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use tokio::time::Instant;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;

use crate::cruddur::GenConfig;
use crate::honeycomb::DEFAULT_DATASET;
use crate::procstat;
use crate::report::{ErrorCount, LatencyMs, LoadReport, ServerUsage};
use crate::workload::{
    Compression, HttpResponseKind, PreparedRequest, Protocol, Transport, Workload,
};
use crate::LoadError;

/// Upper bound on concurrent connections. Our choice: far above what 2 cores can drive.
pub const MAX_CONCURRENCY: usize = 1024;
/// Default concurrent connections. Our choice: 4, two per core of the target machine.
pub const DEFAULT_CONCURRENCY: usize = 4;
/// Default measured duration. Our choice: long enough for p99 over ~thousands of requests.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(10);
/// Default warm-up (connections open, caches and the server's first batches settle).
pub const DEFAULT_WARMUP: Duration = Duration::from_secs(1);
/// Default per-request timeout: the OTel SDK exporter default `OTEL_EXPORTER_OTLP_TIMEOUT`
/// of 10 s (<https://opentelemetry.io/docs/specs/otel/protocol/exporter/>).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Default hard cap on each phase, so a request-count run against a stalled server ends.
/// Our choice: 10 minutes.
pub const DEFAULT_TIME_LIMIT: Duration = Duration::from_secs(600);
/// Largest latency the histogram records; larger values are clamped. Our choice: one hour
/// in µs, above any timeout allowed here.
const LATENCY_MAX_US: u64 = 3_600_000_000;
/// Significant digits kept by the histogram (HdrHistogram's usual 3: 0.1 % error).
const LATENCY_SIGFIG: u8 = 3;
/// Distinct error messages kept per worker and in the report. Our choice.
const MAX_ERROR_KINDS: usize = 8;
/// Bytes of a failed response body quoted in an error message. Our choice.
const MAX_ERROR_BODY_CHARS: usize = 200;
/// Upper bound on a response body read for classification. Our choice: an OTLP or
/// `/1/batch` answer for 16k events is ~250 KiB; 4 MiB leaves room.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// When requests are sent.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Each connection sends its next request as soon as the previous one is answered.
    ClosedLoop,
    /// Requests start on a fixed schedule for this many items per second, whatever the
    /// server does; latency counts from the scheduled start (no coordinated omission).
    OpenLoop { items_per_s: f64 },
}

/// When the measured phase ends (it also ends at `LoadConfig::time_limit`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stop {
    After(Duration),
    Requests(u64),
}

/// Everything a run needs.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LoadConfig {
    pub protocol: Protocol,
    /// Base URL, e.g. `http://127.0.0.1:4318` (OTLP HTTP, Honeycomb) or
    /// `http://127.0.0.1:4317` (gRPC). A URL already ending in the protocol's path is kept.
    pub target: String,
    /// Honeycomb dataset for `/1/batch/{dataset}`.
    pub dataset: String,
    /// Extra headers / gRPC metadata, e.g. `("x-honeycomb-team", key)`.
    pub headers: Vec<(String, String)>,
    pub compression: Compression,
    pub gen: GenConfig,
    pub concurrency: usize,
    pub mode: Mode,
    pub stop: Stop,
    /// Unmeasured phase run first with the same mode.
    pub warmup: Duration,
    pub request_timeout: Duration,
    /// Hard cap on each phase.
    pub time_limit: Duration,
    /// Sample this process's RSS and CPU during the measured phase.
    pub server_pid: Option<u32>,
    /// Patch trace ids each time the prepared requests are cycled, so no trace id repeats.
    pub unique_trace_ids: bool,
}

impl Default for LoadConfig {
    fn default() -> Self {
        Self {
            protocol: Protocol::OtlpHttpProtobuf,
            target: "http://127.0.0.1:4318".to_string(),
            dataset: DEFAULT_DATASET.to_string(),
            headers: Vec::new(),
            compression: Compression::None,
            gen: GenConfig::default(),
            concurrency: DEFAULT_CONCURRENCY,
            mode: Mode::ClosedLoop,
            stop: Stop::After(DEFAULT_DURATION),
            warmup: DEFAULT_WARMUP,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            time_limit: DEFAULT_TIME_LIMIT,
            server_pid: None,
            unique_trace_ids: true,
        }
    }
}

impl LoadConfig {
    /// Checks ranges and consistency (the generator config included).
    pub fn validate(&self) -> Result<(), LoadError> {
        let bad = |m: String| Err(LoadError::InvalidConfig(m));
        self.gen.validate()?;
        if self.concurrency == 0 || self.concurrency > MAX_CONCURRENCY {
            return bad(format!(
                "concurrency must be 1..={MAX_CONCURRENCY}, got {}",
                self.concurrency
            ));
        }
        if let Mode::OpenLoop { items_per_s } = self.mode {
            if !(items_per_s.is_finite() && items_per_s > 0.0) {
                return bad(format!("open-loop rate must be > 0, got {items_per_s}"));
            }
        }
        match self.stop {
            Stop::After(d) if d.is_zero() => return bad("duration must be > 0".into()),
            Stop::Requests(0) => return bad("request count must be > 0".into()),
            _ => {}
        }
        let cap = Duration::from_micros(LATENCY_MAX_US);
        if self.request_timeout.is_zero() || self.request_timeout > cap {
            return bad(format!("request_timeout must be within 0..{cap:?}"));
        }
        if self.time_limit.is_zero() || self.time_limit > cap || self.warmup > cap {
            return bad(format!("time_limit and warmup must be within 0..{cap:?}"));
        }
        if self.protocol == Protocol::OtlpGrpc && self.compression != Compression::None {
            return bad("gRPC payloads are sent uncompressed".into());
        }
        if self.protocol == Protocol::RollbarItem && self.compression != Compression::None {
            return bad("Rollbar payloads are sent uncompressed".into());
        }
        Ok(())
    }
}

/// Runs the Cruddur workload for `cfg.protocol`.
pub async fn run(cfg: LoadConfig) -> Result<LoadReport, LoadError> {
    let workload: Arc<dyn Workload> =
        Arc::from(cfg.protocol.workload(&cfg.dataset, cfg.compression));
    run_workload(&cfg, workload).await
}

/// Runs any [`Workload`] (the protocol in `cfg` is only used by [`run`]).
pub async fn run_workload(
    cfg: &LoadConfig,
    workload: Arc<dyn Workload>,
) -> Result<LoadReport, LoadError> {
    cfg.validate()?;
    let transport = workload.transport();
    let gen = cfg.gen.clone();
    let w = Arc::clone(&workload);
    let (setup, prepared) = tokio::task::spawn_blocking(move || -> Result<_, LoadError> {
        Ok((w.setup(&gen)?, w.prepare(&gen)?))
    })
    .await
    .map_err(|e| LoadError::Task(e.to_string()))??;
    if prepared.is_empty() {
        return Err(LoadError::InvalidConfig(
            "the workload prepared no requests".into(),
        ));
    }
    let prepared = Arc::new(prepared);

    let (url, senders) = build_senders(cfg, &transport)?;
    if let Some(first) = senders.first() {
        let mut s = first.clone();
        for req in &setup {
            if let Outcome::Failed(m) | Outcome::Refused(m) =
                s.send(req.body.clone(), req.items).await
            {
                return Err(LoadError::InvalidConfig(format!(
                    "setup request failed: {m}"
                )));
            }
        }
    }

    let mut sequence = 0u64;
    if !cfg.warmup.is_zero() {
        let warm = run_phase(cfg, &senders, &prepared, Stop::After(cfg.warmup), sequence).await?;
        sequence = sequence.saturating_add(warm.started);
    }

    let sampler = cfg.server_pid.map(Sampler::start);
    let phase = run_phase(cfg, &senders, &prepared, cfg.stop, sequence).await?;
    let server = match sampler {
        // Joining waits up to one sample interval: keep it off the async workers.
        Some(s) => tokio::task::spawn_blocking(move || s.finish())
            .await
            .ok()
            .flatten(),
        None => None,
    };

    let elapsed_s = phase.elapsed.as_secs_f64();
    let per_s = |v: u64| {
        if elapsed_s > 0.0 {
            v as f64 / elapsed_s
        } else {
            0.0
        }
    };
    let total_items: u64 = prepared.iter().map(|p| p.items).sum();
    let items_per_request = total_items as f64 / prepared.len() as f64;
    let h = &phase.hist;
    let ms = |us: u64| us as f64 / 1000.0;
    let mut errors: Vec<ErrorCount> = phase
        .errors
        .into_iter()
        .map(|(message, count)| ErrorCount { message, count })
        .collect();
    errors.sort_by(|a, b| b.count.cmp(&a.count).then(a.message.cmp(&b.message)));
    errors.truncate(MAX_ERROR_KINDS);
    let requests = phase.ok + phase.refused + phase.failed;
    let server = server.map(|mut s| {
        s.cpu_cores = if elapsed_s > 0.0 {
            s.cpu_seconds / elapsed_s
        } else {
            0.0
        };
        s
    });
    Ok(LoadReport {
        workload: workload.name().to_string(),
        item_kind: workload.item_kind().to_string(),
        url,
        mode: match cfg.mode {
            Mode::ClosedLoop => "closed-loop".into(),
            Mode::OpenLoop { .. } => "open-loop".into(),
        },
        target_items_per_s: match cfg.mode {
            Mode::ClosedLoop => None,
            Mode::OpenLoop { items_per_s } => Some(items_per_s),
        },
        concurrency: cfg.concurrency,
        prepared_requests: prepared.len(),
        items_per_request,
        warmup_s: cfg.warmup.as_secs_f64(),
        elapsed_s,
        requests_ok: phase.ok,
        requests_refused: phase.refused,
        requests_failed: phase.failed,
        requests_missed: phase.missed,
        requests_per_s: per_s(requests),
        items_sent: phase.items_sent,
        items_accepted: phase.items_accepted,
        items_rejected: phase.items_rejected,
        items_accepted_per_s: per_s(phase.items_accepted),
        bytes_sent: phase.bytes_sent,
        latency_ms: LatencyMs {
            count: h.len(),
            mean: if h.is_empty() { 0.0 } else { h.mean() / 1000.0 },
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
        },
        server,
        errors,
    })
}

/// The URL requests go to and one sender per connection.
fn build_senders(
    cfg: &LoadConfig,
    transport: &Transport,
) -> Result<(String, Vec<Sender>), LoadError> {
    let base = cfg.target.trim_end_matches('/');
    let invalid = |reason: String| LoadError::InvalidTarget {
        url: cfg.target.clone(),
        reason,
    };
    match transport {
        Transport::HttpPost {
            path,
            content_type,
            content_encoding,
            headers,
            response,
        } => {
            let full = if base.ends_with(path.as_str()) {
                base.to_string()
            } else {
                format!("{base}{path}")
            };
            let url = reqwest::Url::parse(&full).map_err(|e| invalid(e.to_string()))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(invalid("scheme must be http or https".into()));
            }
            let mut map = reqwest::header::HeaderMap::new();
            let pairs = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .chain([("content-type", *content_type)])
                .chain(content_encoding.map(|e| ("content-encoding", e)))
                .chain(cfg.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            for (k, v) in pairs {
                let name = reqwest::header::HeaderName::from_bytes(k.as_bytes())
                    .map_err(|e| LoadError::InvalidConfig(format!("header {k:?}: {e}")))?;
                let value = reqwest::header::HeaderValue::from_str(v)
                    .map_err(|e| LoadError::InvalidConfig(format!("header {k:?}: {e}")))?;
                map.insert(name, value);
            }
            let client = reqwest::Client::builder()
                .timeout(cfg.request_timeout)
                .connect_timeout(cfg.request_timeout)
                .tcp_nodelay(true)
                .pool_max_idle_per_host(cfg.concurrency)
                .no_proxy()
                .build()?;
            let sender = Sender::Http(Arc::new(HttpSender {
                client,
                url: url.clone(),
                headers: map,
                response: *response,
            }));
            Ok((url.to_string(), vec![sender; cfg.concurrency]))
        }
        Transport::GrpcUnary { path } => {
            let path_and_query = tonic::codegen::http::uri::PathAndQuery::from_static(path);
            let mut metadata = tonic::metadata::MetadataMap::new();
            for (k, v) in &cfg.headers {
                let key =
                    tonic::metadata::MetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes())
                        .map_err(|e| LoadError::InvalidConfig(format!("metadata {k:?}: {e}")))?;
                let value = tonic::metadata::MetadataValue::try_from(v.as_str())
                    .map_err(|e| LoadError::InvalidConfig(format!("metadata {k:?}: {e}")))?;
                metadata.insert(key, value);
            }
            let endpoint = tonic::transport::Endpoint::from_shared(base.to_string())
                .map_err(|e| invalid(e.to_string()))?
                .timeout(cfg.request_timeout)
                .connect_timeout(cfg.request_timeout)
                .tcp_nodelay(true);
            // One channel (one HTTP/2 connection) per worker.
            let senders = (0..cfg.concurrency)
                .map(|_| {
                    Sender::Grpc(Box::new(GrpcSender {
                        grpc: tonic::client::Grpc::new(endpoint.connect_lazy()),
                        path: path_and_query.clone(),
                        metadata: metadata.clone(),
                    }))
                })
                .collect();
            Ok((format!("{base}{path}"), senders))
        }
    }
}

/// How one request ended.
enum Outcome {
    Ok { rejected: u64 },
    Refused(String),
    Failed(String),
}

struct HttpSender {
    client: reqwest::Client,
    url: reqwest::Url,
    headers: reqwest::header::HeaderMap,
    response: HttpResponseKind,
}

#[derive(Clone)]
struct GrpcSender {
    grpc: tonic::client::Grpc<Channel>,
    path: tonic::codegen::http::uri::PathAndQuery,
    metadata: tonic::metadata::MetadataMap,
}

#[derive(Clone)]
enum Sender {
    Http(Arc<HttpSender>),
    Grpc(Box<GrpcSender>),
}

#[derive(serde::Deserialize)]
struct BatchStatus {
    status: u16,
}

impl Sender {
    async fn send(&mut self, body: Bytes, items: u64) -> Outcome {
        match self {
            Sender::Http(h) => h.send(body, items).await,
            Sender::Grpc(g) => g.send(body, items).await,
        }
    }
}

fn describe_reqwest(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".to_string()
    } else if e.is_connect() {
        "connect error".to_string()
    } else {
        let mut s = e.to_string();
        let mut src = std::error::Error::source(e);
        while let Some(inner) = src {
            s.push_str(": ");
            s.push_str(&inner.to_string());
            src = inner.source();
        }
        s
    }
}

impl HttpSender {
    async fn send(&self, body: Bytes, items: u64) -> Outcome {
        let resp = match self
            .client
            .post(self.url.clone())
            .headers(self.headers.clone())
            .body(body)
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => return Outcome::Failed(describe_reqwest(&e)),
        };
        let status = resp.status().as_u16();
        let is_protobuf = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("protobuf"));
        let too_long = resp
            .content_length()
            .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64);
        // Reading the whole body keeps the connection reusable.
        let bytes = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => return Outcome::Failed(describe_reqwest(&e)),
        };
        match status {
            200..=299 => {}
            429 | 503 => return Outcome::Refused(format!("HTTP {status}")),
            _ => {
                let text = String::from_utf8_lossy(&bytes);
                let snippet: String = text.chars().take(MAX_ERROR_BODY_CHARS).collect();
                return Outcome::Failed(format!("HTTP {status}: {}", snippet.trim()));
            }
        }
        if too_long || bytes.len() > MAX_RESPONSE_BYTES {
            return Outcome::Failed("response body too large".into());
        }
        match self.response {
            HttpResponseKind::StatusOnly => Outcome::Ok { rejected: 0 },
            HttpResponseKind::OtlpTraces => {
                if bytes.is_empty() || !is_protobuf {
                    return Outcome::Ok { rejected: 0 };
                }
                match ExportTraceServiceResponse::decode(bytes) {
                    Ok(r) => Outcome::Ok {
                        rejected: rejected_spans(&r, items),
                    },
                    Err(e) => Outcome::Failed(format!("bad OTLP response: {e}")),
                }
            }
            HttpResponseKind::HoneycombBatch => {
                match serde_json::from_slice::<Vec<BatchStatus>>(&bytes) {
                    Ok(statuses) => {
                        let good = statuses
                            .iter()
                            .filter(|s| (200..300).contains(&s.status))
                            .count() as u64;
                        Outcome::Ok {
                            rejected: items.saturating_sub(good),
                        }
                    }
                    Err(e) => Outcome::Failed(format!("bad /1/batch response: {e}")),
                }
            }
        }
    }
}

fn rejected_spans(r: &ExportTraceServiceResponse, items: u64) -> u64 {
    r.partial_success
        .as_ref()
        .map(|p| u64::try_from(p.rejected_spans).unwrap_or(0).min(items))
        .unwrap_or(0)
}

impl GrpcSender {
    async fn send(&mut self, body: Bytes, items: u64) -> Outcome {
        if let Err(e) = self.grpc.ready().await {
            return Outcome::Failed(format!("gRPC connection: {e}"));
        }
        let req =
            tonic::Request::from_parts(self.metadata.clone(), tonic::Extensions::default(), body);
        match self.grpc.unary(req, self.path.clone(), RawCodec).await {
            Ok(resp) => Outcome::Ok {
                rejected: rejected_spans(resp.get_ref(), items),
            },
            Err(status) => match status.code() {
                tonic::Code::Unavailable | tonic::Code::ResourceExhausted => {
                    Outcome::Refused(format!("gRPC {:?}", status.code()))
                }
                code => {
                    let msg: String = status
                        .message()
                        .chars()
                        .take(MAX_ERROR_BODY_CHARS)
                        .collect();
                    Outcome::Failed(format!("gRPC {code:?}: {msg}"))
                }
            },
        }
    }
}

/// A codec that sends already-encoded protobuf bytes and decodes the OTLP response.
#[derive(Clone, Copy, Default)]
struct RawCodec;
struct RawEncoder;
struct ResponseDecoder;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = ExportTraceServiceResponse;
    type Encoder = RawEncoder;
    type Decoder = ResponseDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> ResponseDecoder {
        ResponseDecoder
    }
}

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = tonic::Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for ResponseDecoder {
    type Item = ExportTraceServiceResponse;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, tonic::Status> {
        ExportTraceServiceResponse::decode(src)
            .map(Some)
            .map_err(|e| tonic::Status::internal(e.to_string()))
    }
}

/// What one phase measured.
struct PhaseStats {
    elapsed: Duration,
    started: u64,
    ok: u64,
    refused: u64,
    failed: u64,
    missed: u64,
    items_sent: u64,
    items_accepted: u64,
    items_rejected: u64,
    bytes_sent: u64,
    hist: Histogram<u64>,
    errors: HashMap<String, u64>,
}

fn new_histogram() -> Result<Histogram<u64>, LoadError> {
    Histogram::new_with_bounds(1, LATENCY_MAX_US, LATENCY_SIGFIG)
        .map_err(|e| LoadError::InvalidConfig(format!("histogram: {e}")))
}

impl PhaseStats {
    fn new() -> Result<Self, LoadError> {
        Ok(Self {
            elapsed: Duration::ZERO,
            started: 0,
            ok: 0,
            refused: 0,
            failed: 0,
            missed: 0,
            items_sent: 0,
            items_accepted: 0,
            items_rejected: 0,
            bytes_sent: 0,
            hist: new_histogram()?,
            errors: HashMap::new(),
        })
    }

    fn note_error(&mut self, message: String, count: u64) {
        if let Some(c) = self.errors.get_mut(&message) {
            *c += count;
        } else if self.errors.len() < MAX_ERROR_KINDS {
            self.errors.insert(message, count);
        }
    }

    fn merge(&mut self, other: PhaseStats) {
        self.started += other.started;
        self.ok += other.ok;
        self.refused += other.refused;
        self.failed += other.failed;
        self.items_sent += other.items_sent;
        self.items_accepted += other.items_accepted;
        self.items_rejected += other.items_rejected;
        self.bytes_sent += other.bytes_sent;
        // Same bounds on both sides, so `add` cannot fail.
        let _ = self.hist.add(&other.hist);
        for (m, c) in other.errors {
            self.note_error(m, c);
        }
    }
}

/// The shared schedule of one phase.
struct Plan {
    start: Instant,
    /// No request starts at or after this instant.
    deadline: Instant,
    max_requests: Option<u64>,
    /// Open loop: time between scheduled starts, in ns.
    interval_ns: Option<f64>,
    /// Global sequence number of this phase's first request (for trace-id cycles).
    base: u64,
    unique: bool,
    next: AtomicU64,
}

async fn run_phase(
    cfg: &LoadConfig,
    senders: &[Sender],
    prepared: &Arc<Vec<PreparedRequest>>,
    stop: Stop,
    base: u64,
) -> Result<PhaseStats, LoadError> {
    let start = Instant::now();
    let (window, max_requests) = match stop {
        Stop::After(d) => (d.min(cfg.time_limit), None),
        Stop::Requests(n) => (cfg.time_limit, Some(n)),
    };
    let items_per_request =
        prepared.iter().map(|p| p.items).sum::<u64>() as f64 / prepared.len().max(1) as f64;
    let interval_ns = match cfg.mode {
        Mode::ClosedLoop => None,
        Mode::OpenLoop { items_per_s } => Some(1e9 * items_per_request.max(1.0) / items_per_s),
    };
    let plan = Arc::new(Plan {
        start,
        deadline: start + window,
        max_requests,
        interval_ns,
        base,
        unique: cfg.unique_trace_ids,
        next: AtomicU64::new(0),
    });

    let mut tasks = Vec::with_capacity(senders.len());
    for s in senders {
        tasks.push(tokio::spawn(worker(
            s.clone(),
            Arc::clone(prepared),
            Arc::clone(&plan),
        )));
    }
    let mut total = PhaseStats::new()?;
    for t in tasks {
        let stats = t.await.map_err(|e| LoadError::Task(e.to_string()))??;
        total.merge(stats);
    }
    total.elapsed = start.elapsed();
    if let Some(iv) = interval_ns {
        // Requests whose scheduled start fell inside the window but never started.
        let scheduled = (window.as_nanos() as f64 / iv).ceil() as u64;
        let expected = max_requests.map_or(scheduled, |n| n.min(scheduled));
        total.missed = expected.saturating_sub(total.started);
    }
    Ok(total)
}

async fn worker(
    mut sender: Sender,
    prepared: Arc<Vec<PreparedRequest>>,
    plan: Arc<Plan>,
) -> Result<PhaseStats, LoadError> {
    let mut stats = PhaseStats::new()?;
    let n = prepared.len().max(1) as u64;
    loop {
        let i = plan.next.fetch_add(1, Ordering::Relaxed);
        if plan.max_requests.is_some_and(|max| i >= max) {
            break;
        }
        let scheduled = match plan.interval_ns {
            Some(iv) => {
                let offset = Duration::from_nanos((i as f64 * iv) as u64);
                let Some(at) = plan.start.checked_add(offset) else {
                    break;
                };
                if at >= plan.deadline {
                    break;
                }
                tokio::time::sleep_until(at).await;
                at
            }
            None => Instant::now(),
        };
        if Instant::now() >= plan.deadline {
            break;
        }
        let seq = plan.base.saturating_add(i);
        let Some(req) = prepared.get((seq % n) as usize) else {
            break;
        };
        let body = if plan.unique {
            req.body_for_cycle(seq / n)
        } else {
            req.body.clone()
        };
        let len = body.len() as u64;
        let outcome = sender.send(body, req.items).await;
        let latency_us = scheduled
            .elapsed()
            .as_micros()
            .min(u128::from(LATENCY_MAX_US)) as u64;
        stats.hist.saturating_record(latency_us.max(1));
        stats.started += 1;
        stats.items_sent += req.items;
        stats.bytes_sent += len;
        match outcome {
            Outcome::Ok { rejected } => {
                stats.ok += 1;
                stats.items_accepted += req.items - rejected.min(req.items);
                stats.items_rejected += rejected.min(req.items);
            }
            Outcome::Refused(m) => {
                stats.refused += 1;
                stats.note_error(m, 1);
            }
            Outcome::Failed(m) => {
                stats.failed += 1;
                stats.note_error(m, 1);
            }
        }
    }
    Ok(stats)
}

/// Samples a server process on its own thread (reads of `/proc` stay off the runtime).
struct Sampler {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<Option<ServerUsage>>,
}

impl Sampler {
    fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = std::thread::spawn(move || {
            let first = procstat::sample(pid)?;
            let mut usage = ServerUsage {
                pid,
                rss_max_bytes: first.rss_bytes,
                rss_final_bytes: first.rss_bytes,
                samples: 1,
                ..Default::default()
            };
            let mut last = first;
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(procstat::SAMPLE_INTERVAL);
                if let Some(s) = procstat::sample(pid) {
                    usage.rss_max_bytes = usage.rss_max_bytes.max(s.rss_bytes);
                    usage.samples += 1;
                    last = s;
                }
            }
            if let Some(s) = procstat::sample(pid) {
                usage.rss_max_bytes = usage.rss_max_bytes.max(s.rss_bytes);
                usage.samples += 1;
                last = s;
            }
            usage.rss_final_bytes = last.rss_bytes;
            usage.cpu_seconds = (last.cpu_seconds - first.cpu_seconds).max(0.0);
            Some(usage)
        });
        Self { stop, handle }
    }

    fn finish(self) -> Option<ServerUsage> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().ok().flatten()
    }
}
