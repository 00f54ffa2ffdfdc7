//! OTLP → wide events, as Honeycomb's husky does it (otlp-honeycomb.md §6.2–6.4): one event per
//! span, span event, link, log record and metric data point. Invalid items are rejected one by
//! one and counted; the rest of the request is kept.

use super::attrs::{self, Fields};
use super::{
    Decoded, Hints, ATTRIBUTES_PER_ITEM_MAX, EVENTS_PER_REQUEST_MAX, FIELDS_PER_EVENT_MAX,
    ITEMS_PER_REQUEST_MAX, KEY_LEN_MAX, MESSAGE_REASONS_MAX, SPAN_EVENTS_MAX, SPAN_LINKS_MAX,
};
use model::{Event, SignalKind, SpanId, TraceId, Value};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point, Metric, NumberDataPoint};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use std::collections::HashSet;

/// Dataset for spans without a usable `service.name` (husky `getDataset`).
pub const UNKNOWN_SERVICE_DATASET: &str = "unknown_service";
/// Dataset for logs without `service.name` or `x-honeycomb-dataset` (husky `getLogsDataset`).
pub const UNKNOWN_LOG_DATASET: &str = "unknown_log_source";
/// Dataset for metrics without `x-honeycomb-dataset` (Honeycomb metrics docs).
pub const UNKNOWN_METRICS_DATASET: &str = "unknown_metrics";

/// Scope-name prefixes husky marks with `telemetry.instrumentation_library = true`.
const INSTRUMENTATION_LIBRARY_PREFIXES: &[&str] = &[
    "opentelemetry.instrumentation",
    "io.opentelemetry",
    "@opentelemetry/instrumentation",
    "go.opentelemetry.io/contrib/instrumentation",
    "OpenTelemetry.Instrumentation",
    "Azure.",
];

// ---- Accounting ---------------------------------------------------------------------------

/// Accepted / rejected counts and the first few reasons.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    accepted: u64,
    rejected: u64,
    reasons: Vec<String>,
    more_reasons: u64,
    events: Vec<Event>,
}

impl Tally {
    /// Starts from items the JSON converter already refused (one reason each).
    pub(crate) fn from_rejects(rejects: Vec<String>) -> Self {
        let mut t = Tally::default();
        for r in rejects {
            t.reject(r);
        }
        t
    }

    fn reject(&mut self, reason: String) {
        self.rejected += 1;
        self.note(reason);
    }

    fn note(&mut self, reason: String) {
        if self.reasons.len() < MESSAGE_REASONS_MAX {
            self.reasons.push(reason);
        } else {
            self.more_reasons += 1;
        }
    }

    fn items_seen(&self) -> u64 {
        self.accepted + self.rejected
    }

    /// Checks the per-request limits before an item is translated.
    fn admit(&self, what: &str) -> Result<(), String> {
        if self.items_seen() >= ITEMS_PER_REQUEST_MAX as u64 {
            return Err(format!(
                "request has more than {ITEMS_PER_REQUEST_MAX} {what}; the rest were rejected, send smaller batches"
            ));
        }
        Ok(())
    }

    fn accept(&mut self, events: Vec<Event>) -> Result<(), String> {
        if self.events.len() + events.len() > EVENTS_PER_REQUEST_MAX {
            return Err(format!(
                "request produced more than {EVENTS_PER_REQUEST_MAX} events (spans, span events and links); send smaller batches"
            ));
        }
        self.accepted += 1;
        self.events.extend(events);
        Ok(())
    }

    fn finish(self, item_name: &str) -> Decoded {
        let message = if self.reasons.is_empty() {
            None
        } else {
            let mut m = if self.rejected > 0 {
                format!("rejected {} {item_name}: ", self.rejected)
            } else {
                String::new()
            };
            m.push_str(&self.reasons.join("; "));
            if self.more_reasons > 0 {
                m.push_str(&format!("; and {} more", self.more_reasons));
            }
            Some(m)
        };
        Decoded {
            events: self.events,
            accepted: self.accepted,
            rejected: self.rejected,
            message,
        }
    }
}

// ---- Shared context -----------------------------------------------------------------------

/// What every item of one resource shares.
struct ResourceCtx {
    /// `service.name` as sent (kept on `Event::service`, not in the fields).
    service: Option<String>,
    fields: Fields,
    sample_rate: Option<u32>,
    schema_url: String,
    /// Why every item under this resource is rejected, if it is.
    invalid: Option<String>,
}

impl ResourceCtx {
    fn new(resource: Option<&Resource>, schema_url: &str) -> Self {
        let empty = Vec::new();
        let kvs = resource.map_or(&empty, |r| &r.attributes);
        let mut ctx = ResourceCtx {
            service: None,
            fields: Fields::new(),
            sample_rate: None,
            schema_url: schema_url.to_string(),
            invalid: None,
        };
        if kvs.len() > ATTRIBUTES_PER_ITEM_MAX {
            ctx.invalid = Some(format!(
                "resource has {} attributes; the limit is {ATTRIBUTES_PER_ITEM_MAX}",
                kvs.len()
            ));
            return ctx;
        }
        let mut rest: Vec<KeyValue> = Vec::with_capacity(kvs.len());
        for kv in kvs {
            if kv.key == model::schema::COL_SERVICE && ctx.service.is_none() {
                ctx.service = kv
                    .value
                    .as_ref()
                    .and_then(|v| v.value.as_ref())
                    .map(scalar_text);
            } else {
                rest.push(kv.clone());
            }
        }
        if attrs::flatten(&mut ctx.fields, &rest, "", 0).is_err() {
            ctx.invalid = Some(format!(
                "resource attributes flatten to more than {FIELDS_PER_EVENT_MAX} fields"
            ));
        }
        ctx.sample_rate = attrs::take_sample_rate(&mut ctx.fields);
        ctx
    }

    /// Honeycomb's trace dataset: trimmed `service.name`, or `unknown_service` when it is
    /// missing, blank or an SDK default like `unknown_service:python`.
    fn usable_service(&self) -> Option<&str> {
        let s = self.service.as_deref()?.trim();
        (!s.is_empty() && !s.starts_with(UNKNOWN_SERVICE_DATASET)).then_some(s)
    }
}

/// What every item of one instrumentation scope shares.
struct ScopeCtx {
    name: String,
    version: String,
    fields: Fields,
    sample_rate: Option<u32>,
    schema_url: String,
    invalid: Option<String>,
}

impl ScopeCtx {
    fn new(scope: Option<&InstrumentationScope>, schema_url: &str) -> Self {
        let mut ctx = ScopeCtx {
            name: scope.map(|s| s.name.clone()).unwrap_or_default(),
            version: scope.map(|s| s.version.clone()).unwrap_or_default(),
            fields: Fields::new(),
            sample_rate: None,
            schema_url: schema_url.to_string(),
            invalid: None,
        };
        let kvs = scope.map_or(&[][..], |s| &s.attributes[..]);
        if kvs.len() > ATTRIBUTES_PER_ITEM_MAX {
            ctx.invalid = Some(format!(
                "scope has {} attributes; the limit is {ATTRIBUTES_PER_ITEM_MAX}",
                kvs.len()
            ));
        } else if attrs::flatten(&mut ctx.fields, kvs, "", 0).is_err() {
            ctx.invalid = Some(format!(
                "scope attributes flatten to more than {FIELDS_PER_EVENT_MAX} fields"
            ));
        }
        ctx.sample_rate = attrs::take_sample_rate(&mut ctx.fields);
        ctx
    }

    /// `library.name`, `library.version`, `telemetry.instrumentation_library`, schema URLs.
    fn computed(&self, ev: &mut FieldBuilder, resource: &ResourceCtx) {
        if !self.name.is_empty() {
            ev.set_if_absent("library.name", Value::Str(self.name.clone()));
            if INSTRUMENTATION_LIBRARY_PREFIXES
                .iter()
                .any(|p| self.name.starts_with(p))
            {
                ev.set_if_absent("telemetry.instrumentation_library", Value::Bool(true));
            }
        }
        if !self.version.is_empty() {
            ev.set_if_absent("library.version", Value::Str(self.version.clone()));
        }
        if !resource.schema_url.is_empty() {
            ev.set_if_absent(
                "resource.schema_url",
                Value::Str(resource.schema_url.clone()),
            );
        }
        if !self.schema_url.is_empty() {
            ev.set_if_absent("scope.schema_url", Value::Str(self.schema_url.clone()));
        }
    }
}

/// A scalar attribute as text (for `service.name` sent as a non-string).
fn scalar_text(v: &any_value::Value) -> String {
    use any_value::Value as V;
    match v {
        V::StringValue(s) => s.clone(),
        V::BoolValue(b) => b.to_string(),
        V::IntValue(i) => i.to_string(),
        V::DoubleValue(f) => f.to_string(),
        other => attrs::to_json(other, 0).to_string(),
    }
}

/// Builds an event's fields with "first occurrence wins" (husky's rule). Linear lookups while
/// small; a hash index once the event is wide, so a 2000-attribute span costs O(n), not O(n²).
struct FieldBuilder {
    fields: Vec<(String, Value)>,
    resource_keys: Vec<String>,
    index: Option<HashSet<String>>,
}

/// Field count from which [`FieldBuilder`] keeps a hash index (our choice: linear scans win
/// below a few dozen short keys).
const FIELD_INDEX_THRESHOLD: usize = 32;

impl FieldBuilder {
    fn with_capacity(n: usize) -> Self {
        FieldBuilder {
            fields: Vec::with_capacity(n),
            resource_keys: Vec::new(),
            index: None,
        }
    }

    fn contains(&self, key: &str) -> bool {
        match &self.index {
            Some(ix) => ix.contains(key),
            None => self.fields.iter().any(|(k, _)| k == key),
        }
    }

    fn push(&mut self, key: String, value: Value) {
        if let Some(ix) = &mut self.index {
            ix.insert(key.clone());
        } else if self.fields.len() >= FIELD_INDEX_THRESHOLD {
            let mut ix: HashSet<String> = self.fields.iter().map(|(k, _)| k.clone()).collect();
            ix.insert(key.clone());
            self.index = Some(ix);
        }
        self.fields.push((key, value));
    }

    fn set_if_absent(&mut self, key: impl Into<String> + AsRef<str>, value: Value) {
        if !self.contains(key.as_ref()) {
            self.push(key.into(), value);
        }
    }

    /// Adds the item's own flattened fields.
    fn add_own(&mut self, fields: Fields) {
        for (k, v) in fields {
            if !self.contains(&k) {
                self.push(k, v);
            }
        }
    }

    /// Adds shared fields; `resource` also records the keys in `resource_keys`.
    fn add(&mut self, fields: &Fields, resource: bool) {
        for (k, v) in fields {
            if !self.contains(k) {
                self.push(k.clone(), v.clone());
                if resource {
                    self.resource_keys.push(k.clone());
                }
            }
        }
    }

    /// Moves the fields into `ev`, enforcing [`FIELDS_PER_EVENT_MAX`].
    fn finish(self, ev: &mut Event, what: &str) -> Result<(), String> {
        if self.fields.len() > FIELDS_PER_EVENT_MAX {
            return Err(format!(
                "{what} has {} fields with its resource and scope attributes; the limit is {FIELDS_PER_EVENT_MAX}",
                self.fields.len()
            ));
        }
        ev.fields = self.fields;
        ev.resource_keys = self.resource_keys;
        Ok(())
    }
}

/// Flattens an item's attributes, enforcing the per-item limits.
fn own_fields(kvs: &[KeyValue], what: &str) -> Result<Fields, String> {
    if kvs.len() > ATTRIBUTES_PER_ITEM_MAX {
        return Err(format!(
            "{what} has {} attributes; the limit is {ATTRIBUTES_PER_ITEM_MAX} per {what}",
            kvs.len()
        ));
    }
    let mut out = Fields::with_capacity(kvs.len());
    attrs::flatten(&mut out, kvs, "", 0).map_err(|_| {
        format!("{what} attributes flatten to more than {FIELDS_PER_EVENT_MAX} fields")
    })?;
    Ok(out)
}

fn time_ns(t: u64, what: &str) -> Result<i64, String> {
    i64::try_from(t).map_err(|_| format!("{what} {t} is after the year 2262"))
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

fn trace_id_of(bytes: &[u8], what: &str) -> Result<TraceId, String> {
    TraceId::from_bytes(bytes).map_err(|_| {
        if bytes.len() == 16 {
            format!("{what} trace_id is all zeros, which OTLP defines as invalid")
        } else {
            format!(
                "{what} trace_id has {} bytes; OTLP requires 16 (32 hex digits)",
                bytes.len()
            )
        }
    })
}

fn span_id_of(bytes: &[u8], what: &str, field: &str) -> Result<SpanId, String> {
    SpanId::from_bytes(bytes).map_err(|_| {
        if bytes.len() == 8 {
            format!("{what} {field} is all zeros, which OTLP defines as invalid")
        } else {
            format!(
                "{what} {field} has {} bytes; OTLP requires 8 (16 hex digits)",
                bytes.len()
            )
        }
    })
}

/// An optional id: empty or all zeros means absent; any other wrong length is an error.
fn optional_span_id(bytes: &[u8], what: &str, field: &str) -> Result<Option<SpanId>, String> {
    if bytes.is_empty() || (bytes.len() == 8 && bytes.iter().all(|b| *b == 0)) {
        return Ok(None);
    }
    span_id_of(bytes, what, field).map(Some)
}

fn optional_trace_id(bytes: &[u8], what: &str) -> Result<Option<TraceId>, String> {
    if bytes.is_empty() || (bytes.len() == 16 && bytes.iter().all(|b| *b == 0)) {
        return Ok(None);
    }
    trace_id_of(bytes, what).map(Some)
}

// ---- Traces -------------------------------------------------------------------------------

/// Translates a trace export request (the gRPC path; HTTP goes through [`super::decode`]).
pub fn translate_traces(req: ExportTraceServiceRequest, hints: &Hints) -> Decoded {
    traces_with(req, hints, Tally::default())
}

pub(crate) fn traces_with(req: ExportTraceServiceRequest, _hints: &Hints, mut t: Tally) -> Decoded {
    for (ri, rs) in req.resource_spans.iter().enumerate() {
        let res = ResourceCtx::new(rs.resource.as_ref(), &rs.schema_url);
        let dataset = res
            .usable_service()
            .unwrap_or(UNKNOWN_SERVICE_DATASET)
            .to_string();
        for (si, ss) in rs.scope_spans.iter().enumerate() {
            let scope = ScopeCtx::new(ss.scope.as_ref(), &ss.schema_url);
            for (pi, span) in ss.spans.iter().enumerate() {
                let at = || format!("resourceSpans[{ri}].scopeSpans[{si}].spans[{pi}]");
                let result = t
                    .admit("spans")
                    .and_then(|()| res.invalid.clone().map_or(Ok(()), Err))
                    .and_then(|()| scope.invalid.clone().map_or(Ok(()), Err))
                    .and_then(|()| span_to_events(span, &res, &scope, &dataset))
                    .and_then(|events| t.accept(events));
                if let Err(reason) = result {
                    t.reject(format!("{}: {reason}", at()));
                }
            }
        }
    }
    t.finish("spans")
}

fn span_kind_name(kind: i32) -> &'static str {
    match kind {
        1 => "internal",
        2 => "server",
        3 => "client",
        4 => "producer",
        5 => "consumer",
        _ => "unspecified",
    }
}

/// Status code ERROR (`opentelemetry.proto.trace.v1.Status.StatusCode`).
const STATUS_CODE_ERROR: i32 = 2;
/// The exception attributes husky copies from a span's first `exception` event onto the span.
const EXCEPTION_KEYS: &[&str] = &[
    "exception.message",
    "exception.type",
    "exception.stacktrace",
    "exception.escaped",
];

fn span_to_events(
    span: &Span,
    res: &ResourceCtx,
    scope: &ScopeCtx,
    dataset: &str,
) -> Result<Vec<Event>, String> {
    let trace_id = trace_id_of(&span.trace_id, "span")?;
    let span_id = span_id_of(&span.span_id, "span", "span_id")?;
    let parent_id = optional_span_id(&span.parent_span_id, "span", "parent_span_id")?;
    if span.events.len() > SPAN_EVENTS_MAX {
        return Err(format!(
            "span has {} events; the limit is {SPAN_EVENTS_MAX}",
            span.events.len()
        ));
    }
    if span.links.len() > SPAN_LINKS_MAX {
        return Err(format!(
            "span has {} links; the limit is {SPAN_LINKS_MAX}",
            span.links.len()
        ));
    }
    let mut own = own_fields(&span.attributes, "span")?;
    let sample_rate = attrs::take_sample_rate(&mut own)
        .or(scope.sample_rate)
        .or(res.sample_rate)
        .or_else(|| attrs::sample_rate_from_tracestate(&span.trace_state))
        .unwrap_or(1);

    let start = time_ns(span.start_time_unix_nano, "start_time_unix_nano")?;
    let end = time_ns(span.end_time_unix_nano, "end_time_unix_nano")?;
    let time = if start > 0 { start } else { now_ns() };
    let status_code = span.status.as_ref().map_or(0, |s| s.code);
    let status_message = span.status.as_ref().map_or("", |s| s.message.as_str());
    let is_error = status_code == STATUS_CODE_ERROR;

    let mut ev = Event::new(dataset, time, SignalKind::Span);
    ev.trace_id = Some(trace_id);
    ev.span_id = Some(span_id);
    ev.parent_id = parent_id;
    ev.name = Some(span.name.clone());
    ev.service = res.service.clone();
    ev.sample_rate = sample_rate;
    let mut invalid_duration = false;
    if start > 0 && end > 0 {
        let d = end - start;
        if d < 0 {
            invalid_duration = true;
        }
        ev.duration_ms = Some(d.max(0) as f64 / 1e6);
    }

    // Precedence (husky direct path): span attributes > computed > scope > resource > exception.
    let mut fb =
        FieldBuilder::with_capacity(own.len() + scope.fields.len() + res.fields.len() + 16);
    fb.add_own(own);
    let kind = span_kind_name(span.kind);
    fb.set_if_absent("span.kind", Value::Str(kind.into()));
    fb.set_if_absent("type", Value::Str(kind.into()));
    fb.set_if_absent("status_code", Value::Int(i64::from(status_code)));
    if !status_message.is_empty() {
        fb.set_if_absent("status_message", Value::Str(status_message.to_string()));
    }
    if is_error {
        fb.set_if_absent("error", Value::Bool(true));
    }
    fb.set_if_absent("span.num_events", Value::Int(span.events.len() as i64));
    fb.set_if_absent("span.num_links", Value::Int(span.links.len() as i64));
    if !span.trace_state.is_empty() {
        fb.set_if_absent("trace.trace_state", Value::Str(span.trace_state.clone()));
    }
    fb.set_if_absent("meta.signal_type", Value::Str("trace".into()));
    if invalid_duration {
        fb.set_if_absent("meta.invalid_duration", Value::Bool(true));
    }
    scope.computed(&mut fb, res);
    fb.add(&scope.fields, false);
    fb.add(&res.fields, true);

    let mut out = Vec::with_capacity(1 + span.events.len() + span.links.len());
    let mut exception_copied = false;
    for (i, se) in span.events.iter().enumerate() {
        let what = format!("span event {i}");
        let mut fields = own_fields(&se.attributes, &what)?;
        let ev_time = time_ns(se.time_unix_nano, "span event time_unix_nano")?;
        let ev_time = if ev_time > 0 { ev_time } else { time };
        let mut e = Event::new(dataset, ev_time, SignalKind::SpanEvent);
        e.trace_id = Some(trace_id);
        e.parent_id = Some(span_id);
        e.name = Some(se.name.clone());
        e.service = res.service.clone();
        e.sample_rate = sample_rate;
        attrs::take_sample_rate(&mut fields);
        if se.name == "exception" && !exception_copied {
            exception_copied = true;
            for (k, v) in &fields {
                if EXCEPTION_KEYS.contains(&k.as_str()) {
                    fb.set_if_absent(k.clone(), v.clone());
                }
            }
        }
        let mut eb =
            FieldBuilder::with_capacity(fields.len() + scope.fields.len() + res.fields.len() + 8);
        eb.add_own(fields);
        eb.set_if_absent("meta.annotation_type", Value::Str("span_event".into()));
        eb.set_if_absent("parent_name", Value::Str(span.name.clone()));
        let since = ev_time - time;
        if since < 0 {
            eb.set_if_absent("meta.invalid_time_since_span_start", Value::Bool(true));
        }
        eb.set_if_absent(
            "meta.time_since_span_start_ms",
            Value::Float(since.max(0) as f64 / 1e6),
        );
        eb.set_if_absent("meta.signal_type", Value::Str("trace".into()));
        if is_error {
            eb.set_if_absent("error", Value::Bool(true));
        }
        eb.add(&scope.fields, false);
        eb.add(&res.fields, true);
        eb.finish(&mut e, &what)?;
        out.push(e);
    }
    for (i, link) in span.links.iter().enumerate() {
        let what = format!("link {i}");
        let link_trace = trace_id_of(&link.trace_id, &what)?;
        let link_span = span_id_of(&link.span_id, &what, "span_id")?;
        let mut fields = own_fields(&link.attributes, &what)?;
        attrs::take_sample_rate(&mut fields);
        let mut e = Event::new(dataset, time, SignalKind::Link);
        e.trace_id = Some(trace_id);
        e.parent_id = Some(span_id);
        e.service = res.service.clone();
        e.sample_rate = sample_rate;
        let mut eb =
            FieldBuilder::with_capacity(fields.len() + scope.fields.len() + res.fields.len() + 8);
        eb.add_own(fields);
        eb.set_if_absent(
            "trace.link.trace_id",
            Value::Str(link_trace.to_honeycomb_hex()),
        );
        eb.set_if_absent("trace.link.span_id", Value::Str(link_span.to_hex()));
        if !link.trace_state.is_empty() {
            eb.set_if_absent(
                "trace.link.trace_state",
                Value::Str(link.trace_state.clone()),
            );
        }
        eb.set_if_absent("meta.annotation_type", Value::Str("link".into()));
        eb.set_if_absent("parent_name", Value::Str(span.name.clone()));
        eb.set_if_absent("meta.signal_type", Value::Str("trace".into()));
        if is_error {
            eb.set_if_absent("error", Value::Bool(true));
        }
        eb.add(&scope.fields, false);
        eb.add(&res.fields, true);
        eb.finish(&mut e, &what)?;
        out.push(e);
    }
    fb.finish(&mut ev, "span")?;
    out.insert(0, ev);
    Ok(out)
}

// ---- Logs ---------------------------------------------------------------------------------

/// Translates a logs export request (otlp-honeycomb.md §6.3).
pub fn translate_logs(req: ExportLogsServiceRequest, hints: &Hints) -> Decoded {
    logs_with(req, hints, Tally::default())
}

pub(crate) fn logs_with(req: ExportLogsServiceRequest, hints: &Hints, mut t: Tally) -> Decoded {
    let header = hints
        .dataset_header
        .map(str::trim)
        .filter(|s| !s.is_empty());
    for (ri, rl) in req.resource_logs.iter().enumerate() {
        let res = ResourceCtx::new(rl.resource.as_ref(), &rl.schema_url);
        let dataset = res
            .usable_service()
            .or(header)
            .unwrap_or(UNKNOWN_LOG_DATASET)
            .to_string();
        for (si, sl) in rl.scope_logs.iter().enumerate() {
            let scope = ScopeCtx::new(sl.scope.as_ref(), &sl.schema_url);
            for (li, rec) in sl.log_records.iter().enumerate() {
                let at = || format!("resourceLogs[{ri}].scopeLogs[{si}].logRecords[{li}]");
                let result = t
                    .admit("log records")
                    .and_then(|()| res.invalid.clone().map_or(Ok(()), Err))
                    .and_then(|()| scope.invalid.clone().map_or(Ok(()), Err))
                    .and_then(|()| log_to_event(rec, &res, &scope, &dataset))
                    .and_then(|ev| t.accept(vec![ev]));
                if let Err(reason) = result {
                    t.reject(format!("{}: {reason}", at()));
                }
            }
        }
    }
    t.finish("log records")
}

/// Honeycomb's `severity` from an OTLP SeverityNumber (ranges from `logs.proto`).
pub fn severity_name(n: i32) -> &'static str {
    match n {
        1..=4 => "trace",
        5..=8 => "debug",
        9..=12 => "info",
        13..=16 => "warn",
        17..=20 => "error",
        21..=24 => "fatal",
        _ => "unspecified",
    }
}

fn log_to_event(
    rec: &LogRecord,
    res: &ResourceCtx,
    scope: &ScopeCtx,
    dataset: &str,
) -> Result<Event, String> {
    let trace_id = optional_trace_id(&rec.trace_id, "log record")?;
    let span_id = optional_span_id(&rec.span_id, "log record", "span_id")?;
    let mut own = own_fields(&rec.attributes, "log record")?;
    let sample_rate = attrs::take_sample_rate(&mut own)
        .or(scope.sample_rate)
        .or(res.sample_rate)
        .unwrap_or(1);
    let t = time_ns(rec.time_unix_nano, "time_unix_nano")?;
    let observed = time_ns(rec.observed_time_unix_nano, "observed_time_unix_nano")?;
    let time = if t > 0 {
        t
    } else if observed > 0 {
        observed
    } else {
        now_ns()
    };

    let mut ev = Event::new(dataset, time, SignalKind::Log);
    ev.trace_id = trace_id;
    ev.parent_id = span_id;
    ev.service = res.service.clone();
    ev.sample_rate = sample_rate;
    if !rec.event_name.is_empty() {
        ev.name = Some(rec.event_name.clone());
    }
    let mut fb =
        FieldBuilder::with_capacity(own.len() + scope.fields.len() + res.fields.len() + 12);
    fb.add_own(own);
    fb.set_if_absent(
        "severity",
        Value::Str(severity_name(rec.severity_number).into()),
    );
    fb.set_if_absent("severity_code", Value::Int(i64::from(rec.severity_number)));
    if !rec.severity_text.is_empty() {
        fb.set_if_absent("severity_text", Value::Str(rec.severity_text.clone()));
    }
    fb.set_if_absent("meta.signal_type", Value::Str("log".into()));
    fb.set_if_absent("flags", Value::Int(i64::from(rec.flags)));
    if !rec.event_name.is_empty() {
        fb.set_if_absent("event.name", Value::Str(rec.event_name.clone()));
    }
    if let Some(body) = rec.body.as_ref().and_then(|b| b.value.as_ref()) {
        let mut body_fields = Fields::new();
        attrs::flatten_value(&mut body_fields, "body".into(), body, 0)
            .map_err(|_| format!("log body flattens to more than {FIELDS_PER_EVENT_MAX} fields"))?;
        fb.add_own(body_fields);
    }
    if trace_id.is_some() {
        fb.set_if_absent("meta.annotation_type", Value::Str("span_event".into()));
    }
    scope.computed(&mut fb, res);
    fb.add(&scope.fields, false);
    fb.add(&res.fields, true);
    fb.finish(&mut ev, "log record")?;
    Ok(ev)
}

// ---- Metrics ------------------------------------------------------------------------------

/// Translates a metrics export request (otlp-honeycomb.md §6.4): one event per data point.
pub fn translate_metrics(req: ExportMetricsServiceRequest, hints: &Hints) -> Decoded {
    metrics_with(req, hints, Tally::default())
}

/// Data point flag NO_RECORDED_VALUE (`metrics.proto` `DataPointFlags`).
const FLAG_NO_RECORDED_VALUE: u32 = 1;
/// Room left in a key for the longest suffix we append (`.count`).
const METRIC_NAME_LEN_MAX: usize = KEY_LEN_MAX - ".count".len();

pub(crate) fn metrics_with(
    req: ExportMetricsServiceRequest,
    hints: &Hints,
    mut t: Tally,
) -> Decoded {
    let dataset = hints
        .dataset_header
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(UNKNOWN_METRICS_DATASET)
        .to_string();
    for (ri, rm) in req.resource_metrics.iter().enumerate() {
        let res = ResourceCtx::new(rm.resource.as_ref(), &rm.schema_url);
        for (si, sm) in rm.scope_metrics.iter().enumerate() {
            let scope = ScopeCtx::new(sm.scope.as_ref(), &sm.schema_url);
            for (mi, metric) in sm.metrics.iter().enumerate() {
                let at = format!("resourceMetrics[{ri}].scopeMetrics[{si}].metrics[{mi}]");
                let points = points_of(metric);
                for (pi, point) in points.into_iter().enumerate() {
                    let result = t
                        .admit("data points")
                        .and_then(|()| res.invalid.clone().map_or(Ok(()), Err))
                        .and_then(|()| scope.invalid.clone().map_or(Ok(()), Err))
                        .and_then(|()| point_to_event(metric, point, &res, &scope, &dataset));
                    let result = match result {
                        Ok(Some(ev)) => t.accept(vec![ev]),
                        Ok(None) => t.accept(Vec::new()),
                        Err(e) => Err(e),
                    };
                    if let Err(reason) = result {
                        t.reject(format!("{at}.dataPoints[{pi}]: {reason}"));
                    }
                }
            }
        }
    }
    t.finish("data points")
}

/// One data point of any metric type, reduced to what the translation needs.
struct Point<'a> {
    attributes: &'a [KeyValue],
    start: u64,
    time: u64,
    flags: u32,
    values: Vec<(&'static str, Value)>,
}

fn finite(f: f64) -> Option<Value> {
    f.is_finite().then_some(Value::Float(f))
}

/// `.count`, `.sum`, `.avg`, `.min`, `.max` of a distribution, where known.
fn distribution(
    count: u64,
    sum: Option<f64>,
    min: Option<f64>,
    max: Option<f64>,
) -> Vec<(&'static str, Value)> {
    let mut v = vec![(
        ".count",
        Value::Int(i64::try_from(count).unwrap_or(i64::MAX)),
    )];
    if let Some(s) = sum.and_then(finite) {
        v.push((".sum", s));
    }
    if let (Some(s), true) = (sum, count > 0) {
        if let Some(avg) = finite(s / count as f64) {
            v.push((".avg", avg));
        }
    }
    if let Some(m) = min.and_then(finite) {
        v.push((".min", m));
    }
    if let Some(m) = max.and_then(finite) {
        v.push((".max", m));
    }
    v
}

/// Summary quantile suffixes as in husky's metrics branch: 0 → `.min`, 1 → `.max`,
/// 0.5 → `.p50`, 0.99 → `.p99`, 0.999 → `.p999`, 0.001 → `.p001`.
fn quantile_suffix(q: f64) -> Option<&'static str> {
    const TABLE: &[(f64, &str)] = &[
        (0.0, ".min"),
        (0.001, ".p001"),
        (0.01, ".p01"),
        (0.05, ".p05"),
        (0.1, ".p10"),
        (0.25, ".p25"),
        (0.5, ".p50"),
        (0.75, ".p75"),
        (0.9, ".p90"),
        (0.95, ".p95"),
        (0.99, ".p99"),
        (0.999, ".p999"),
        (1.0, ".max"),
    ];
    TABLE
        .iter()
        .find(|(v, _)| (q - v).abs() < 1e-9)
        .map(|(_, s)| *s)
}

fn number_point(p: &NumberDataPoint) -> Point<'_> {
    let value = match p.value {
        Some(number_data_point::Value::AsInt(i)) => Some(Value::Int(i)),
        Some(number_data_point::Value::AsDouble(f)) => finite(f),
        None => None,
    };
    Point {
        attributes: &p.attributes,
        start: p.start_time_unix_nano,
        time: p.time_unix_nano,
        flags: p.flags,
        values: value.map(|v| ("", v)).into_iter().collect(),
    }
}

fn points_of(metric: &Metric) -> Vec<Point<'_>> {
    use metric::Data;
    match &metric.data {
        None => Vec::new(),
        Some(Data::Gauge(g)) => g.data_points.iter().map(number_point).collect(),
        Some(Data::Sum(s)) => s.data_points.iter().map(number_point).collect(),
        Some(Data::Histogram(h)) => h
            .data_points
            .iter()
            .map(|p| Point {
                attributes: &p.attributes,
                start: p.start_time_unix_nano,
                time: p.time_unix_nano,
                flags: p.flags,
                values: distribution(p.count, p.sum, p.min, p.max),
            })
            .collect(),
        Some(Data::ExponentialHistogram(h)) => h
            .data_points
            .iter()
            .map(|p| Point {
                attributes: &p.attributes,
                start: p.start_time_unix_nano,
                time: p.time_unix_nano,
                flags: p.flags,
                values: distribution(p.count, p.sum, p.min, p.max),
            })
            .collect(),
        Some(Data::Summary(s)) => s
            .data_points
            .iter()
            .map(|p| {
                let mut values = distribution(p.count, Some(p.sum), None, None);
                for q in &p.quantile_values {
                    if let (Some(suffix), Some(v)) = (quantile_suffix(q.quantile), finite(q.value))
                    {
                        if !values.iter().any(|(s, _)| *s == suffix) {
                            values.push((suffix, v));
                        }
                    }
                }
                Point {
                    attributes: &p.attributes,
                    start: p.start_time_unix_nano,
                    time: p.time_unix_nano,
                    flags: p.flags,
                    values,
                }
            })
            .collect(),
    }
}

fn metric_type(metric: &Metric) -> (&'static str, Option<i32>) {
    use metric::Data;
    match &metric.data {
        Some(Data::Gauge(_)) | None => ("gauge", None),
        Some(Data::Sum(s)) => ("sum", Some(s.aggregation_temporality)),
        Some(Data::Histogram(h)) => ("histogram", Some(h.aggregation_temporality)),
        Some(Data::ExponentialHistogram(h)) => {
            ("exponential_histogram", Some(h.aggregation_temporality))
        }
        Some(Data::Summary(_)) => ("summary", None),
    }
}

fn point_to_event(
    metric: &Metric,
    point: Point<'_>,
    res: &ResourceCtx,
    scope: &ScopeCtx,
    dataset: &str,
) -> Result<Option<Event>, String> {
    if metric.name.is_empty() {
        return Err("metric has no name".into());
    }
    if metric.name.len() > METRIC_NAME_LEN_MAX {
        return Err(format!(
            "metric name is {} bytes; the limit is {METRIC_NAME_LEN_MAX}",
            metric.name.len()
        ));
    }
    if point.flags & FLAG_NO_RECORDED_VALUE != 0 {
        return Ok(None);
    }
    let mut own = own_fields(point.attributes, "data point")?;
    let sample_rate = attrs::take_sample_rate(&mut own)
        .or(scope.sample_rate)
        .or(res.sample_rate)
        .unwrap_or(1);
    let time = time_ns(point.time, "time_unix_nano")?;
    let start = time_ns(point.start, "start_time_unix_nano")?;
    let time = if time > 0 {
        time
    } else if start > 0 {
        start
    } else {
        now_ns()
    };
    let mut ev = Event::new(dataset, time, SignalKind::Metric);
    ev.name = Some(metric.name.clone());
    ev.service = res.service.clone();
    ev.sample_rate = sample_rate;
    let mut fb =
        FieldBuilder::with_capacity(own.len() + scope.fields.len() + res.fields.len() + 12);
    fb.add_own(own);
    let base = attrs::user_key(&metric.name).into_owned();
    for (suffix, v) in point.values {
        fb.set_if_absent(format!("{base}{suffix}"), v);
    }
    if !metric.unit.is_empty() {
        fb.set_if_absent("metric.unit", Value::Str(metric.unit.clone()));
    }
    let (ty, temporality) = metric_type(metric);
    fb.set_if_absent("metric.type", Value::Str(ty.into()));
    match temporality {
        Some(1) => fb.set_if_absent("metric.temporality", Value::Str("delta".into())),
        Some(2) => fb.set_if_absent("metric.temporality", Value::Str("cumulative".into())),
        _ => {}
    }
    fb.set_if_absent("meta.signal_type", Value::Str("metric".into()));
    scope.computed(&mut fb, res);
    fb.add(&scope.fields, false);
    fb.add(&res.fields, true);
    fb.finish(&mut ev, "data point")?;
    Ok(Some(ev))
}
