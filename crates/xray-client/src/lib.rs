//! A small AWS X-Ray client for Rust services, wire-compatible with `aws-xray-sdk-python` 2.x.
//!
//! There is no official X-Ray SDK for Rust; this crate covers what a web service needs:
//!
//! * [`ids`]: trace ids (`1-5759e988-bd862e3fe1be46a994272793`) and entity ids;
//! * [`header`]: the `X-Amzn-Trace-Id` header, parsed and written as the SDKs do;
//! * [`segment`]: the segment document model ([`Segment`], [`Subsegment`]) with the SDK's
//!   rules for names, annotations, metadata, HTTP status flags and exceptions;
//! * [`emitter`]: the daemon address (`AWS_XRAY_DAEMON_ADDRESS`) and a non-blocking UDP
//!   [`Emitter`] that streams subsegments out of documents too big for one datagram;
//! * [`sampling`]: the local default rule (1 request per second, then 5 %) and the
//!   centralized [`Sampler`] that polls sampling rules and targets through the daemon.
//!
//! The caller holds the segment for the request it serves (there is no thread-local or task
//! context); a middleware looks like this:
//!
//! ```no_run
//! use xray_client::{header, DaemonConfig, Emitter, Sampler, SamplingRequest, Segment, TraceHeader, TraceId};
//!
//! # async fn handle() -> Result<(), xray_client::Error> {
//! let config = DaemonConfig::from_env()?;
//! let emitter = std::sync::Arc::new(Emitter::new(&config)?);
//! let sampler = Sampler::new(config, None);
//! sampler.start(); // on a tokio runtime
//!
//! // per request
//! let incoming = TraceHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?");
//! let request = SamplingRequest::new("cruddur", "api.example.com", "GET", "/api/activities/home");
//! let decision = sampler.decide_with_header(&incoming, &request);
//! let root = incoming.root.unwrap_or_else(TraceId::new);
//! let mut segment = Segment::begin("cruddur", root, incoming.parent.clone());
//! if let Some(rule) = &decision.rule_name {
//!     segment.set_rule_name(rule);
//! }
//! // ... serve, add subsegments, annotations ...
//! segment.set_http_response(200, Some(1234));
//! let response_header = header::response_header_value(
//!     &root,
//!     incoming.sampled == header::SampledFlag::Requested,
//!     decision.sample,
//! );
//! segment.end();
//! if decision.sample {
//!     emitter.emit(&segment);
//! }
//! # let _ = response_header;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

pub mod emitter;
pub mod header;
pub mod ids;
pub mod sampling;
pub mod segment;

pub use emitter::{DaemonConfig, Emitter};
pub use header::{SampledFlag, TraceHeader, HEADER_NAME};
pub use ids::{new_entity_id, TraceId};
pub use sampling::{Decision, Sampler, SamplerOptions, SamplingRequest};
pub use segment::{Segment, Subsegment};

/// Errors of configuration: a bad daemon address, bad local sampling rules, or a socket that
/// could not be opened. Sending and polling never return errors; they count and log instead.
#[derive(Debug)]
pub enum Error {
    /// `AWS_XRAY_DAEMON_ADDRESS` (or the given string) is not `host:port` nor
    /// `tcp:host:port udp:host:port`, or its host does not resolve.
    InvalidDaemonAddress(String),
    /// A local sampling rules document the SDK would reject.
    InvalidSamplingRules(String),
    /// The emitter's UDP socket could not be bound.
    Io(std::io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidDaemonAddress(s) => write!(f, "invalid X-Ray daemon address: {s}"),
            Error::InvalidSamplingRules(s) => write!(f, "invalid sampling rules: {s}"),
            Error::Io(e) => write!(f, "X-Ray emitter socket: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

/// The current time as epoch seconds with sub-second precision, the unit of every X-Ray time.
pub fn now_epoch() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Fills `buf` from the operating system's random source; should that fail (it does not on
/// supported platforms), from a time-seeded generator, so that id generation never panics.
pub(crate) fn fill_random(buf: &mut [u8]) {
    if getrandom::fill(buf).is_err() {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let seed =
            (now_epoch() * 1e9) as u64 ^ COUNTER.fetch_add(1, Ordering::Relaxed).rotate_left(32);
        let mut rng = sampling::Rng::seeded(seed);
        for chunk in buf.chunks_mut(8) {
            let v = rng.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}
