//! AWS X-Ray segment documents: the daemon's UDP datagrams, segment/subsegment wire structs
//! with the service's validation, translation to wide events, and the read direction
//! (segment documents, trace summaries and service graphs rebuilt from events of any protocol).
//!
//! Shape (STYLE habit 1): [`datagram`] splits and checks a UDP datagram, [`segment`] parses and
//! validates documents (the answers `PutTraceSegments` gives in `UnprocessedTraceSegments`),
//! [`translate`] maps a document onto `model::Event`s per `FIELDS.md` (the contract shared with
//! the filter-expression compiler), and [`encode`] goes back. Sources:
//! `shared/protocols/xray-cloudwatch-rollbar.md` §A.1, §A.5, §A.6, §B; captures README §2.
//!
//! Architecture Invariant: pure (no I/O, no clock: callers pass `now`); no input panics.

pub mod datagram;
pub mod encode;
pub mod segment;
pub mod translate;

pub use datagram::{decode_datagram, DatagramError, DatagramReason};
pub use segment::{parse_documents, Document, Parsed, Rejection};
pub use translate::{translate, Resolved, ServiceResolver};

// ---- Limits -------------------------------------------------------------------------------

/// Largest UDP datagram the daemon reads: `Socket.BufferSizeKB: 64` → a 65,536-byte buffer
/// (aws-xray-daemon `pkg/cfg/cfg.go`); anything longer was truncated by the real daemon.
pub const DATAGRAM_BYTES_MAX: usize = 65_536;
/// Largest segment document: "A segment document can be up to 64 kB" (X-Ray developer guide,
/// `xray-api-segmentdocuments.md`). Applies to each `PutTraceSegments` document too.
pub const DOCUMENT_BYTES_MAX: usize = 65_536;
/// JSON nesting depth checked by a byte scan before anything is allocated (our choice: below
/// serde_json's parser recursion limit of 128, so our reason is reported, not serde's; leaves
/// room for [`SUBSEGMENT_DEPTH_MAX`] levels at 2 JSON levels each plus metadata).
pub const JSON_DEPTH_MAX: usize = 100;
/// Subsegment nesting below a segment (our choice: the Python SDK nests one level per traced
/// function call; 32 is far beyond real code and keeps rebuilding recursion shallow).
pub const SUBSEGMENT_DEPTH_MAX: usize = 32;
/// Entities (segment + subsegments) per document (our choice: a 64 KiB document of minimal
/// ~32-byte subsegments holds at most ~2048).
pub const ENTITIES_PER_DOCUMENT_MAX: usize = 2048;
/// Annotations turned into `annotation.*` fields per entity; X-Ray "indexes up to 50
/// annotations per trace" (developer guide, segment documents). Extra ones are counted in
/// `aws.xray.annotations_dropped`, not rejected (the service does not reject them either).
pub const ANNOTATIONS_PER_ENTITY_MAX: usize = 50;
/// Longest segment `name`: 200 characters (developer guide, segment documents).
pub const NAME_CHARS_MAX: usize = 200;
/// How old a trace id's epoch may be: X-Ray keeps traces 30 days and rejects older ids with
/// `InvalidTraceId` (developer guide, `xray-api-sendingdata.md`; exact cutoff unverified).
pub const TRACE_ID_AGE_MAX_S: i64 = 30 * 24 * 3600;
/// How far in the future a trace id's epoch may be (our choice: one day of clock skew; the
/// service's own bound is not documented).
pub const TRACE_ID_FUTURE_MAX_S: i64 = 24 * 3600;

const _: () = assert!(DOCUMENT_BYTES_MAX <= DATAGRAM_BYTES_MAX);
const _: () = assert!(2 * SUBSEGMENT_DEPTH_MAX + 4 < JSON_DEPTH_MAX);
const _: () = assert!(JSON_DEPTH_MAX < 128);

/// Dataset/service of an independent subsegment whose segment is unknown (FIELDS.md).
pub const FALLBACK_DATASET: &str = "xray";
