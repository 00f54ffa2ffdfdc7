//! Workloads: what is sent (pre-encoded request bodies) and how (the [`Transport`]).
//!
//! A [`Workload`] turns a [`GenConfig`] into [`PreparedRequest`]s once, before the clock
//! starts; the runner only clones `Bytes` (and, for re-sent cycles, patches trace ids in a
//! copy) so the generator is never the bottleneck.

use bytes::Bytes;
use prost::Message;

use crate::cruddur::{CruddurGenerator, GenConfig};
use crate::honeycomb::honeycomb_batch;
use crate::rollbar::RollbarItems;
use crate::LoadError;

/// The protocols the load generator speaks today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// `POST {target}/v1/traces`, `application/x-protobuf` (the Python OTLP exporter).
    OtlpHttpProtobuf,
    /// `opentelemetry.proto.collector.trace.v1.TraceService/Export` over gRPC.
    OtlpGrpc,
    /// `POST {target}/1/batch/{dataset}` with husky-named JSON events (libhoney).
    HoneycombBatch,
    /// `POST {target}/api/1/item/`, one pyrollbar-shaped occurrence per request.
    RollbarItem,
}

impl Protocol {
    /// The name used in reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::OtlpHttpProtobuf => "otlp-http-protobuf",
            Protocol::OtlpGrpc => "otlp-grpc",
            Protocol::HoneycombBatch => "honeycomb-batch",
            Protocol::RollbarItem => "rollbar-item",
        }
    }

    /// The Cruddur workload for this protocol (`dataset` is Honeycomb's; Rollbar takes
    /// neither argument and uses [`RollbarItems::default`]).
    pub fn workload(self, dataset: &str, compression: Compression) -> Box<dyn Workload> {
        match self {
            Protocol::OtlpHttpProtobuf => Box::new(OtlpHttpTraces { compression }),
            Protocol::OtlpGrpc => Box::new(OtlpGrpcTraces),
            Protocol::HoneycombBatch => Box::new(HoneycombBatchTraces {
                dataset: dataset.to_string(),
                compression,
            }),
            // Rollbar ignores `dataset` and `compression` (pyrollbar sends plain JSON).
            Protocol::RollbarItem => Box::new(RollbarItems::default()),
        }
    }
}

impl std::str::FromStr for Protocol {
    type Err = LoadError;
    fn from_str(s: &str) -> Result<Self, LoadError> {
        match s {
            "otlp-http-protobuf" | "otlp-http" | "otlp" => Ok(Protocol::OtlpHttpProtobuf),
            "otlp-grpc" | "grpc" => Ok(Protocol::OtlpGrpc),
            "honeycomb-batch" | "honeycomb" => Ok(Protocol::HoneycombBatch),
            "rollbar-item" | "rollbar" => Ok(Protocol::RollbarItem),
            other => Err(LoadError::InvalidConfig(format!(
                "unknown protocol {other:?} \
                 (otlp-http-protobuf, otlp-grpc, honeycomb-batch, rollbar-item)"
            ))),
        }
    }
}

/// Body compression, applied once when payloads are prepared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Compression {
    /// No `Content-Encoding` (the Python OTLP exporter's default).
    #[default]
    None,
    /// `Content-Encoding: gzip` (libhoney-py always gzips, level 1).
    Gzip,
}

/// How the runner classifies an HTTP response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpResponseKind {
    /// Status code only.
    StatusOnly,
    /// `ExportTraceServiceResponse`: `partial_success.rejected_spans` are not accepted.
    OtlpTraces,
    /// `/1/batch`: a JSON array with one `{"status": …}` per event; non-2xx entries are rejected.
    HoneycombBatch,
}

/// How requests are delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// `POST {target}{path}` with these headers (keep-alive HTTP/1.1).
    HttpPost {
        path: String,
        content_type: &'static str,
        content_encoding: Option<&'static str>,
        headers: Vec<(String, String)>,
        response: HttpResponseKind,
    },
    /// A gRPC unary call whose request message is the pre-encoded body.
    GrpcUnary {
        /// e.g. `/opentelemetry.proto.collector.trace.v1.TraceService/Export`.
        path: &'static str,
    },
}

/// How a trace id is written in a body, for re-sending a body with fresh ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdEncoding {
    /// 16 raw bytes (protobuf).
    Raw16,
    /// 32 lowercase hex characters (JSON).
    Hex32,
}

/// One request, encoded and ready to send.
#[derive(Debug, Clone)]
pub struct PreparedRequest {
    /// The exact bytes to send (already compressed if the transport says so).
    pub body: Bytes,
    /// Items (spans or events) the body carries.
    pub items: u64,
    /// Where trace ids sit in `body` (empty when they cannot be patched, e.g. compressed).
    pub trace_id_offsets: Vec<(usize, IdEncoding)>,
}

impl PreparedRequest {
    /// The body for the `cycle`-th time this request is sent: cycle 0 is `body` itself,
    /// later cycles XOR the low 8 bytes of every trace id with a per-cycle mask, so a
    /// long run never re-sends a trace id (trace-by-id queries stay meaningful).
    pub fn body_for_cycle(&self, cycle: u64) -> Bytes {
        if cycle == 0 || self.trace_id_offsets.is_empty() {
            return self.body.clone();
        }
        let mask = crate::rng::mix(cycle).to_be_bytes();
        let mut v = self.body.to_vec();
        for &(off, enc) in &self.trace_id_offsets {
            match enc {
                IdEncoding::Raw16 => {
                    if let Some(id) = v.get_mut(off + 8..off + 16) {
                        for (b, m) in id.iter_mut().zip(mask) {
                            *b ^= m;
                        }
                    }
                }
                IdEncoding::Hex32 => {
                    if let Some(hexid) = v.get_mut(off + 16..off + 32) {
                        let mut raw = [0u8; 8];
                        if hex::decode_to_slice(&*hexid, &mut raw).is_ok() {
                            for (b, m) in raw.iter_mut().zip(mask) {
                                *b ^= m;
                            }
                            let _ = hex::encode_to_slice(raw, hexid);
                        }
                    }
                }
            }
        }
        Bytes::from(v)
    }
}

/// A kind of traffic: prepares bodies and says how to send them.
///
/// Implement this to add a protocol; the runner needs nothing else.
pub trait Workload: Send + Sync {
    /// Short name for reports, e.g. `otlp-http-protobuf`.
    fn name(&self) -> &'static str;
    /// What one item is, for the report ("spans", "events", "segments", "log events").
    fn item_kind(&self) -> &'static str;
    /// How the prepared bodies are delivered.
    fn transport(&self) -> Transport;
    /// Requests sent once, in order, before the warm-up (e.g. `CreateLogGroup`); not measured.
    fn setup(&self, _gen: &GenConfig) -> Result<Vec<PreparedRequest>, LoadError> {
        Ok(Vec::new())
    }
    /// All measured request bodies, generated and encoded once.
    fn prepare(&self, gen: &GenConfig) -> Result<Vec<PreparedRequest>, LoadError>;
}

/// Path of the OTLP trace export RPC (opentelemetry-proto `trace_service.proto`).
pub const OTLP_GRPC_TRACE_PATH: &str =
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
/// OTLP/HTTP trace path (<https://opentelemetry.io/docs/specs/otlp/#otlphttp-request>).
pub const OTLP_HTTP_TRACE_PATH: &str = "/v1/traces";

/// Cruddur traces as OTLP/HTTP protobuf.
#[derive(Debug, Clone)]
pub struct OtlpHttpTraces {
    pub compression: Compression,
}

/// Cruddur traces as OTLP/gRPC (uncompressed).
#[derive(Debug, Clone)]
pub struct OtlpGrpcTraces;

/// Cruddur traces as Honeycomb `/1/batch` JSON.
#[derive(Debug, Clone)]
pub struct HoneycombBatchTraces {
    pub dataset: String,
    pub compression: Compression,
}

/// Every request of `gen` encoded as protobuf, with trace-id offsets.
fn otlp_prepared(
    gen: &GenConfig,
    compression: Compression,
) -> Result<Vec<PreparedRequest>, LoadError> {
    gen.validate()?;
    let mut out = Vec::with_capacity(gen.requests);
    for req in CruddurGenerator::new(gen) {
        let items = span_count(&req);
        let ids = trace_ids(&req);
        let raw = req.encode_to_vec();
        let offsets = find_raw_ids(&raw, &ids);
        out.push(finish(raw, items, offsets, compression)?);
    }
    Ok(out)
}

fn span_count(
    req: &opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest,
) -> u64 {
    req.resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .map(|ss| ss.spans.len() as u64)
        .sum()
}

fn trace_ids(
    req: &opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest,
) -> std::collections::HashSet<[u8; 16]> {
    req.resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .filter_map(|s| <[u8; 16]>::try_from(s.trace_id.as_slice()).ok())
        .collect()
}

/// Offsets of `Span.trace_id` values: field 1, wire type 2 (tag byte 0x0a), length 16.
fn find_raw_ids(
    body: &[u8],
    ids: &std::collections::HashSet<[u8; 16]>,
) -> Vec<(usize, IdEncoding)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 18 <= body.len() {
        if body[i] == 0x0a && body[i + 1] == 0x10 {
            if let Ok(id) = <[u8; 16]>::try_from(&body[i + 2..i + 18]) {
                if ids.contains(&id) {
                    out.push((i + 2, IdEncoding::Raw16));
                    i += 18;
                    continue;
                }
            }
        }
        i += 1;
    }
    out
}

/// Offsets of the hex value after every `"trace.trace_id":"`.
fn find_hex_ids(body: &[u8]) -> Vec<(usize, IdEncoding)> {
    const KEY: &[u8] = b"\"trace.trace_id\":\"";
    let mut out = Vec::new();
    let mut i = 0;
    while i + KEY.len() + 32 <= body.len() {
        if &body[i..i + KEY.len()] == KEY {
            let start = i + KEY.len();
            if body[start..start + 32].iter().all(u8::is_ascii_hexdigit) {
                out.push((start, IdEncoding::Hex32));
            }
            i = start + 32;
        } else {
            i += 1;
        }
    }
    out
}

fn finish(
    raw: Vec<u8>,
    items: u64,
    offsets: Vec<(usize, IdEncoding)>,
    compression: Compression,
) -> Result<PreparedRequest, LoadError> {
    match compression {
        Compression::None => Ok(PreparedRequest {
            body: Bytes::from(raw),
            items,
            trace_id_offsets: offsets,
        }),
        Compression::Gzip => {
            use std::io::Write;
            // Level 1: what libhoney-py uses (protocols/otlp-honeycomb.md §7.1).
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(&raw)
                .map_err(|e| LoadError::Encode(e.to_string()))?;
            let body = enc.finish().map_err(|e| LoadError::Encode(e.to_string()))?;
            Ok(PreparedRequest {
                body: Bytes::from(body),
                items,
                trace_id_offsets: Vec::new(),
            })
        }
    }
}

fn content_encoding(c: Compression) -> Option<&'static str> {
    match c {
        Compression::None => None,
        Compression::Gzip => Some("gzip"),
    }
}

impl Workload for OtlpHttpTraces {
    fn name(&self) -> &'static str {
        Protocol::OtlpHttpProtobuf.name()
    }
    fn item_kind(&self) -> &'static str {
        "spans"
    }
    fn transport(&self) -> Transport {
        Transport::HttpPost {
            path: OTLP_HTTP_TRACE_PATH.to_string(),
            content_type: "application/x-protobuf",
            content_encoding: content_encoding(self.compression),
            headers: vec![(
                "user-agent".into(),
                "OTel-OTLP-Exporter-Python/1.16.0".into(),
            )],
            response: HttpResponseKind::OtlpTraces,
        }
    }
    fn prepare(&self, gen: &GenConfig) -> Result<Vec<PreparedRequest>, LoadError> {
        otlp_prepared(gen, self.compression)
    }
}

impl Workload for OtlpGrpcTraces {
    fn name(&self) -> &'static str {
        Protocol::OtlpGrpc.name()
    }
    fn item_kind(&self) -> &'static str {
        "spans"
    }
    fn transport(&self) -> Transport {
        Transport::GrpcUnary {
            path: OTLP_GRPC_TRACE_PATH,
        }
    }
    fn prepare(&self, gen: &GenConfig) -> Result<Vec<PreparedRequest>, LoadError> {
        otlp_prepared(gen, Compression::None)
    }
}

impl Workload for HoneycombBatchTraces {
    fn name(&self) -> &'static str {
        Protocol::HoneycombBatch.name()
    }
    fn item_kind(&self) -> &'static str {
        "events"
    }
    fn transport(&self) -> Transport {
        Transport::HttpPost {
            path: format!("/1/batch/{}", self.dataset),
            content_type: "application/json",
            content_encoding: content_encoding(self.compression),
            headers: vec![("user-agent".into(), "libhoney-py/2.4.0".into())],
            response: HttpResponseKind::HoneycombBatch,
        }
    }
    fn prepare(&self, gen: &GenConfig) -> Result<Vec<PreparedRequest>, LoadError> {
        gen.validate()?;
        if self.dataset.is_empty() || self.dataset.contains(['/', '?', '#', ' ']) {
            return Err(LoadError::InvalidConfig(format!(
                "dataset {:?} must be non-empty without '/', '?', '#' or spaces",
                self.dataset
            )));
        }
        let mut out = Vec::with_capacity(gen.requests);
        for req in CruddurGenerator::new(gen) {
            let events = honeycomb_batch(&req);
            let items = events.len() as u64;
            let raw = serde_json::to_vec(&events).map_err(|e| LoadError::Encode(e.to_string()))?;
            let offsets = find_hex_ids(&raw);
            out.push(finish(raw, items, offsets, self.compression)?);
        }
        Ok(out)
    }
}
