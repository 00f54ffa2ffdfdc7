//! Waggle's load generator: Cruddur-like telemetry, pre-encoded, sent closed- or open-loop.
//!
//! The generator builds realistic `backend-flask` traces (the week-2 routes of the seed
//! system, `shared/seed/SYSTEM.md` §2–§3.2: Flask server spans with old-semconv `http.*`
//! attributes, custom `app.*` service spans, high-cardinality handles and uuids, a few
//! percent of 500s with `exception` events, long-tail outliers), encodes every request
//! **once** before the clock starts, and then only clones `Bytes` while sending, so the
//! generator is not the bottleneck. It reports accepted items per second, refusals, latency
//! percentiles (HdrHistogram; open loop measures from the scheduled start, so a slow server
//! cannot hide its queueing — no coordinated omission) and, given a PID, the server's RSS
//! and CPU time from `/proc`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), waggle_loadgen::LoadError> {
//! use std::time::Duration;
//! use waggle_loadgen::{run, LoadConfig, Mode, Protocol, Stop};
//! let report = run(LoadConfig {
//!     protocol: Protocol::OtlpHttpProtobuf,
//!     target: "http://127.0.0.1:4318".into(),
//!     mode: Mode::OpenLoop { items_per_s: 150_000.0 },
//!     stop: Stop::After(Duration::from_secs(30)),
//!     ..LoadConfig::default()
//! })
//! .await?;
//! println!("{report}");
//! # Ok(()) }
//! ```
//!
//! # Adding a protocol (X-Ray, CloudWatch Logs)
//!
//! A protocol is a [`Workload`]: `prepare` returns pre-encoded [`PreparedRequest`]s (body,
//! item count, optional trace-id offsets for re-sent cycles), `transport` says how to send
//! them, and `setup` may return unmeasured requests sent once first. To add one:
//!
//! 1. Generate its items from the same traces, e.g. walk [`CruddurGenerator`]'s OTLP spans
//!    and map them (as [`honeycomb::honeycomb_batch`] does for Honeycomb) to
//!    - **X-Ray segments**: one UDP datagram per segment, the header
//!      `{"format":"json","version":1}` and a newline, then the segment JSON (≤ 64 KiB);
//!      needs a new `Transport::UdpDatagram { addr }` arm in `runner::build_senders`
//!      whose `send` is `UdpSocket::send` (no answer: every sent datagram is "ok", and
//!      acceptance is checked by querying afterwards);
//!    - **CloudWatch `PutLogEvents`**: `Transport::HttpPost { path: "/", content_type:
//!      "application/x-amz-json-1.1", headers: [("x-amz-target",
//!      "Logs_20140328.PutLogEvents")] }` with batches of log events (one per request line
//!      the Flask logger writes), `setup` returning `CreateLogGroup`/`CreateLogStream`;
//!      signing (SigV4) would be added in the sender if the server requires it;
//!    - **Rollbar items** exist: [`RollbarItems`] ([`Protocol::RollbarItem`]) posts one
//!      pyrollbar-shaped occurrence per request to `/api/1/item/`, a template for a JSON
//!      `HttpPost` workload with [`IdEncoding::Hex32`] ids patched per cycle.
//! 2. Add a variant to [`Protocol`] and its `workload()` arm, and a [`HttpResponseKind`] if
//!    the answer carries per-item results.
//!
//! The runner, report, scheduling and `/proc` sampling need no change.

pub mod cruddur;
mod error;
pub mod honeycomb;
pub mod procstat;
pub mod report;
mod rng;
pub mod rollbar;
pub mod runner;
mod timefmt;
pub mod workload;

pub use cruddur::{otlp_trace_requests, CruddurGenerator, GenConfig};
pub use error::LoadError;
pub use honeycomb::honeycomb_batch;
pub use report::{ErrorCount, LatencyMs, LoadReport, ServerUsage};
pub use rollbar::RollbarItems;
pub use runner::{run, run_workload, LoadConfig, Mode, Stop};
pub use workload::{
    Compression, HoneycombBatchTraces, HttpResponseKind, IdEncoding, OtlpGrpcTraces,
    OtlpHttpTraces, PreparedRequest, Protocol, Transport, Workload,
};

/// Encodes every request of `cfg` to protobuf bytes once (OTLP/HTTP body or gRPC message).
pub fn otlp_trace_bodies(cfg: &GenConfig) -> Vec<bytes::Bytes> {
    use prost::Message;
    CruddurGenerator::new(&cfg.clamped())
        .map(|r| bytes::Bytes::from(r.encode_to_vec()))
        .collect()
}

/// The Honeycomb `/1/batch` JSON bodies for the same spans as [`otlp_trace_requests`].
pub fn honeycomb_batch_bodies(cfg: &GenConfig) -> Result<Vec<bytes::Bytes>, LoadError> {
    CruddurGenerator::new(&cfg.clamped())
        .map(|r| {
            serde_json::to_vec(&honeycomb_batch(&r))
                .map(bytes::Bytes::from)
                .map_err(|e| LoadError::Encode(e.to_string()))
        })
        .collect()
}
