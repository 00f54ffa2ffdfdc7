//! OpenTelemetry as the seed's backend configures it (`SYSTEM.md` §3.2, §9 items 15–18): the
//! SDK's OTLP/HTTP protobuf exporter configured only from `OTEL_EXPORTER_OTLP_ENDPOINT`
//! (`/v1/traces` appended) and `OTEL_EXPORTER_OTLP_HEADERS`, batched, resource `service.name`
//! from `OTEL_SERVICE_NAME` (default `backend-flask`), and one SERVER span per request named
//! and attributed as `opentelemetry-instrumentation-flask` 0.37b0 does (the pre-1.20 semantic
//! convention names). Ids are X-Ray-shaped ([`XrayIds`]) so X-Ray can share them.

use super::{RequestInfo, ResponseInfo, Warn};
use crate::config::Config;
use crate::Failure;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId,
    TraceState, Tracer as _, TracerProvider as _,
};
use opentelemetry::{global, Context, InstrumentationScope, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{IdGenerator, SdkTracerProvider, SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use std::time::Duration;

/// The Flask instrumentation's scope, so queries on `library.name` behave as for the seed.
pub const SERVER_SCOPE: &str = "opentelemetry.instrumentation.flask";
pub const SERVER_SCOPE_VERSION: &str = "0.37b0";
pub const DEFAULT_SERVICE_NAME: &str = "backend-flask";

/// OTel's X-Ray id generator: trace ids start with the epoch seconds (big-endian), so every
/// trace id is also a valid X-Ray root `1-<8 hex>-<24 hex>`.
#[derive(Debug, Default)]
pub struct XrayIds;

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    if getrandom::fill(&mut b).is_err() {
        // No OS randomness: fall back to time-derived bytes (ids stay unique enough).
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos()
            .to_le_bytes();
        for (i, x) in b.iter_mut().enumerate() {
            *x = t[i % t.len()] ^ (i as u8).wrapping_mul(31);
        }
    }
    b
}

impl IdGenerator for XrayIds {
    fn new_trace_id(&self) -> TraceId {
        let mut b: [u8; 16] = random();
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs() as u32;
        b[..4].copy_from_slice(&secs.to_be_bytes());
        TraceId::from_bytes(b)
    }

    fn new_span_id(&self) -> SpanId {
        loop {
            let id = SpanId::from_bytes(random());
            if id != SpanId::INVALID {
                return id;
            }
        }
    }
}

/// Wraps the OTLP exporter so an unreachable collector is one warning a minute, not one per
/// batch, and dropped batches are counted.
#[derive(Debug)]
struct Quiet<E> {
    inner: E,
}

static EXPORT_WARN: Warn = Warn::new("OTLP trace export failed", Duration::from_secs(60));

impl<E: SpanExporter> SpanExporter for Quiet<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let n = batch.len();
        let r = self.inner.export(batch).await;
        if let Err(e) = &r {
            EXPORT_WARN.warn(format_args!("{e} ({n} spans dropped)"));
        }
        r
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[derive(Clone)]
pub struct Otel {
    provider: SdkTracerProvider,
    /// The Flask instrumentation's tracer, made once (not per request).
    server: opentelemetry_sdk::trace::SdkTracer,
}

impl Otel {
    /// Installs the global tracer provider. `None` (with a warning) if the exporter cannot be
    /// built, e.g. a malformed endpoint.
    pub fn start(cfg: &Config) -> Option<Otel> {
        use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
        let mut builder = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary);
        if let Some(url) = &cfg.otlp_traces_url {
            builder = builder.with_endpoint(url.clone());
        }
        if !cfg.otlp_headers.is_empty() {
            builder = builder.with_headers(cfg.otlp_headers.iter().cloned().collect());
        }
        let exporter = match builder.build() {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!("OpenTelemetry is off: the OTLP exporter could not be built: {e}");
                return None;
            }
        };
        let resource = Resource::builder()
            .with_service_name(cfg.otel_service_name.clone())
            .build();
        let provider = SdkTracerProvider::builder()
            .with_resource(resource)
            .with_id_generator(XrayIds)
            .with_batch_exporter(Quiet { inner: exporter })
            .build();
        global::set_tracer_provider(provider.clone());
        let server = provider.tracer_with_scope(
            InstrumentationScope::builder(SERVER_SCOPE)
                .with_version(SERVER_SCOPE_VERSION)
                .build(),
        );
        Some(Otel { provider, server })
    }

    /// Starts the request's SERVER span: parent from `traceparent`, else from an
    /// `X-Amzn-Trace-Id` with `Root` and `Parent`, else a new trace.
    pub fn begin(&self, info: &RequestInfo) -> ServerSpan {
        let parent = parent_context(info);
        let tracer = &self.server;
        let mut attrs = vec![
            KeyValue::new("http.method", info.method.clone()),
            KeyValue::new("http.scheme", info.scheme),
            KeyValue::new("http.host", info.host.clone()),
            KeyValue::new("http.target", info.target()),
            KeyValue::new("http.flavor", "1.1"),
            KeyValue::new("http.server_name", server_name(&info.host)),
            KeyValue::new("net.host.port", i64::from(info.server_port)),
            KeyValue::new("net.peer.ip", info.peer.ip().to_string()),
            KeyValue::new("net.peer.port", i64::from(info.peer.port())),
        ];
        if let Some(ua) = &info.user_agent {
            attrs.push(KeyValue::new("http.user_agent", ua.clone()));
        }
        let span = tracer
            .span_builder(format!("HTTP {}", info.method))
            .with_kind(SpanKind::Server)
            .with_attributes(attrs)
            .start_with_context(tracer, &parent);
        let cx = parent.with_span(span);
        ServerSpan {
            cx,
            provider: self.provider.clone(),
        }
    }

    /// Flushes pending spans and stops the exporter (bounded by the SDK's timeouts).
    pub fn shutdown(&self) {
        if let Err(e) = self.provider.shutdown() {
            tracing::debug!("OpenTelemetry shutdown: {e}");
        }
    }
}

fn server_name(host: &str) -> String {
    host.rsplit_once(':').map_or(host, |(h, _)| h).to_string()
}

struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

fn parent_context(info: &RequestInfo) -> Context {
    let cx = TraceContextPropagator::new().extract(&Headers(&info.headers));
    if cx.span().span_context().is_valid() {
        return cx;
    }
    let Some(h) = info.header(xray_client::header::HEADER_NAME) else {
        return Context::new();
    };
    let h = xray_client::header::TraceHeader::parse(h);
    let (Some(root), Some(parent)) = (h.root, h.parent.as_deref()) else {
        return Context::new();
    };
    let Ok(span_id) = SpanId::from_hex(parent) else {
        return Context::new();
    };
    let flags = match h.sampled {
        xray_client::header::SampledFlag::NotSampled => TraceFlags::default(),
        _ => TraceFlags::SAMPLED,
    };
    let sc = SpanContext::new(
        TraceId::from_bytes(root.to_bytes()),
        span_id,
        flags,
        true,
        TraceState::default(),
    );
    Context::new().with_remote_span_context(sc)
}

/// The request's server span, and the context its children are created in.
pub struct ServerSpan {
    cx: Context,
    provider: SdkTracerProvider,
}

impl ServerSpan {
    pub fn trace_id_bytes(&self) -> [u8; 16] {
        self.cx.span().span_context().trace_id().to_bytes()
    }

    pub fn span_id(&self) -> String {
        self.cx.span().span_context().span_id().to_string()
    }

    /// The context to parent other work on (custom spans, the Rollbar POST).
    pub fn context(&self) -> Context {
        self.cx.clone()
    }

    /// A custom child span as the seed's services make them: a named tracer, one span around
    /// building the mock data, attributes set on it.
    /// `start` is when the work began (the span ends now).
    pub fn child(
        &self,
        tracer: &'static str,
        name: &'static str,
        attrs: Vec<KeyValue>,
        start: std::time::SystemTime,
    ) {
        let t = self.provider.tracer(tracer);
        let mut s = t
            .span_builder(name)
            .with_start_time(start)
            .with_attributes(attrs)
            .start_with_context(&t, &self.cx);
        s.end();
    }

    pub fn end(self, rule: Option<&'static str>, resp: &ResponseInfo, failure: Option<&Failure>) {
        let span = self.cx.span();
        if let Some(rule) = rule {
            span.update_name(rule.to_string());
            span.set_attribute(KeyValue::new("http.route", rule));
        }
        span.set_attribute(KeyValue::new("http.status_code", i64::from(resp.status)));
        if let Some(f) = failure {
            span.add_event(
                "exception",
                vec![
                    KeyValue::new("exception.type", f.class.clone()),
                    KeyValue::new("exception.message", f.message.clone()),
                    KeyValue::new("exception.stacktrace", f.traceback()),
                    KeyValue::new("exception.escaped", "False"),
                ],
            );
        }
        if resp.status >= 500 {
            let msg = failure
                .map(|f| format!("{}: {}", f.class, f.message))
                .unwrap_or_default();
            span.set_status(Status::error(msg));
        }
        span.end();
    }
}

/// A serde_json value as an OTel attribute, by the Python SDK's rules: scalars as they are,
/// homogeneous lists of scalars as arrays, anything else dropped.
pub fn attribute(key: &str, v: &serde_json::Value) -> Option<KeyValue> {
    use opentelemetry::{Array, StringValue, Value as V};
    use serde_json::Value as J;
    let key = key.to_string();
    Some(match v {
        J::String(s) => KeyValue::new(key, s.clone()),
        J::Bool(b) => KeyValue::new(key, *b),
        J::Number(n) => match n.as_i64() {
            Some(i) => KeyValue::new(key, i),
            None => KeyValue::new(key, n.as_f64()?),
        },
        J::Array(a) if a.iter().all(|x| x.is_string()) => KeyValue::new(
            key,
            V::Array(Array::String(
                a.iter()
                    .filter_map(|x| x.as_str())
                    .map(|s| StringValue::from(s.to_string()))
                    .collect(),
            )),
        ),
        J::Array(a) if a.iter().all(|x| x.is_i64()) => KeyValue::new(
            key,
            V::Array(Array::I64(a.iter().filter_map(|x| x.as_i64()).collect())),
        ),
        _ => return None,
    })
}
