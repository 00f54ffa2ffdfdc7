//! X-Ray as `XRayMiddleware` (aws-xray-sdk-python) instruments the seed (`SYSTEM.md` §3.4, §9
//! item 19), on the `xray-client` crate: a segment per request named by `AWS_XRAY_URL`
//! dynamic naming (fallback `backend-flask`), the incoming `X-Amzn-Trace-Id` honoured, the
//! sampling decision from the daemon's centralized rules (local default rule as fallback), the
//! `http` block, fault/error/throttle and a `cause` on failures, one UDP datagram per segment.

use super::{RequestInfo, ResponseInfo};
use crate::config::Config;
use crate::Failure;
use serde_json::json;
use std::sync::Arc;
use xray_client::emitter::{DaemonConfig, Emitter};
use xray_client::header::{SampledFlag, TraceHeader, HEADER_NAME};
use xray_client::ids::TraceId;
use xray_client::sampling::{Sampler, SamplerOptions, SamplingRequest};
use xray_client::segment::StackFrame;
use xray_client::segment::{Segment, Subsegment};

/// The recorder's `service` (its fallback segment name).
pub const SERVICE: &str = "backend-flask";

pub struct Xray {
    emitter: Arc<Emitter>,
    sampler: Arc<Sampler>,
    naming: Option<String>,
}

impl Xray {
    pub fn start(cfg: &Config) -> Option<Xray> {
        if !cfg.xray_enabled {
            return None;
        }
        let daemon = match DaemonConfig::parse(&cfg.xray_daemon_address) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!("X-Ray is off: AWS_XRAY_DAEMON_ADDRESS: {e}");
                return None;
            }
        };
        let emitter = match Emitter::new(&daemon) {
            Ok(e) => Arc::new(e),
            Err(e) => {
                tracing::warn!("X-Ray is off: no UDP socket: {e}");
                return None;
            }
        };
        let mut options = SamplerOptions::default();
        if let Some((rules, targets)) = cfg.xray_poll_intervals {
            options.rule_interval = rules;
            options.target_interval = targets;
        }
        let sampler = Arc::new(Sampler::with_options(daemon, None, options));
        sampler.start();
        Some(Xray {
            emitter,
            sampler,
            naming: cfg.xray_url.clone(),
        })
    }

    /// `before_request`: trace header in, segment name, sampling decision, request facts.
    /// `otel_trace` is the OTel span's trace id, used when the request brought no X-Ray root.
    pub fn begin(&self, info: &RequestInfo, otel_trace: Option<[u8; 16]>) -> SegmentState {
        let incoming = info
            .header(HEADER_NAME)
            .map(TraceHeader::parse)
            .unwrap_or_default();
        let host = info.host.clone();
        let name = match &self.naming {
            Some(p) if xray_client::sampling::wildcard::matches(p, &host) => host.clone(),
            _ => SERVICE.to_string(),
        };
        let root = incoming
            .root
            .or_else(|| otel_trace.map(TraceId::from_bytes))
            .unwrap_or_default(); // a fresh id (TraceId::default is TraceId::new)
        let (sampled, rule) = match incoming.sampled {
            SampledFlag::Sampled => (true, None),
            SampledFlag::NotSampled => (false, None),
            SampledFlag::Requested | SampledFlag::Unknown => {
                let d = self.sampler.decide(&SamplingRequest {
                    service_name: name.clone(),
                    host: host.clone(),
                    method: info.method.clone(),
                    url_path: info.path.clone(),
                    service_type: None,
                });
                (d.sample, d.rule_name)
            }
        };
        let mut segment = Segment::begin(&name, root, incoming.parent.clone());
        let forwarded = info
            .header("x-forwarded-for")
            .map(|v| v.split(',').next().unwrap_or_default().trim().to_string());
        segment.set_http_request(xray_client::segment::HttpRequest {
            method: Some(info.method.clone()),
            url: Some(url_for_xray(info)),
            user_agent: info.user_agent.clone(),
            x_forwarded_for: forwarded.is_some(),
            client_ip: Some(forwarded.unwrap_or_else(|| info.peer.ip().to_string())),
            traced: false,
        });
        segment.aws = Some(json!({"xray": {"sdk": "X-Ray for Rust (xray-client)",
                                            "sdk_version": env!("CARGO_PKG_VERSION")}}));
        segment.service = Some(json!({"runtime": "rust", "runtime_version": crate::RUSTC_VERSION}));
        if let Some(rule) = rule {
            segment.set_rule_name(&rule);
        }
        SegmentState {
            segment,
            sampled,
            requested: incoming.sampled == SampledFlag::Requested,
            open: Vec::new(),
        }
    }

    /// `after_request` + `teardown_request`: status, length, fault and cause; emit if sampled.
    pub fn end(&self, mut s: SegmentState, resp: &ResponseInfo, failure: Option<&Failure>) {
        while !s.open.is_empty() {
            s.end_subsegment();
        }
        s.segment
            .set_http_response(resp.status, resp.content_length);
        if let Some(f) = failure {
            let stack = f
                .frames
                .iter()
                .rev()
                .map(|fr| StackFrame {
                    path: fr.file.clone(),
                    line: fr.line,
                    label: fr.function.clone(),
                })
                .collect();
            s.segment.add_exception(&f.class, &f.message, stack);
        }
        s.segment.end();
        if s.sampled {
            self.emitter.emit(&s.segment);
        }
    }
}

/// `http.request.url`: the base URL without the query, `@` percent-encoded as `%40`.
fn url_for_xray(info: &RequestInfo) -> String {
    format!(
        "{}://{}{}",
        info.scheme,
        info.host,
        info.path.replace('@', "%40")
    )
}

/// A request's segment while the view runs: handlers open subsegments on it.
pub struct SegmentState {
    segment: Segment,
    sampled: bool,
    requested: bool,
    /// Subsegments begun and not yet ended, innermost last.
    open: Vec<Subsegment>,
}

impl SegmentState {
    pub fn trace_id_bytes(&self) -> [u8; 16] {
        self.segment.trace_id.to_bytes()
    }

    /// The `X-Amzn-Trace-Id` response header: `Root=…`, plus `;Sampled=` only when the request
    /// asked with `Sampled=?`.
    pub fn response_header(&self) -> String {
        xray_client::header::response_header_value(
            &self.segment.trace_id,
            self.requested,
            self.sampled,
        )
    }

    pub fn begin_subsegment(&mut self, name: &str) {
        self.open.push(Subsegment::begin(name));
    }

    pub fn put_metadata(&mut self, key: &str, value: serde_json::Value, namespace: &str) {
        if let Some(s) = self.open.last_mut() {
            s.put_metadata(key, value, Some(namespace));
        }
    }

    pub fn end_subsegment(&mut self) {
        let Some(mut s) = self.open.pop() else { return };
        s.end();
        match self.open.last_mut() {
            Some(parent) => parent.subsegments.push(s),
            None => self.segment.subsegments.push(s),
        }
    }
}
