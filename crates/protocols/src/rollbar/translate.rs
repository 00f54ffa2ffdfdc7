//! An occurrence → one wide event (`SignalKind::Error`), with OTel/Honeycomb field names where
//! they exist, and linked to its trace when the payload carries a trace context.
//!
//! Dataset: the project's name (the caller passes it; Rollbar's unit of configuration is the
//! project, and environments stay queryable as the `environment` column). Trace context, first
//! found wins: `data.trace_id`/`data.span_id`; `custom.trace_id`/`traceId`/`otel.trace_id` (and
//! the matching span keys); the same keys among `body.message`'s own keys (pyrollbar's
//! `report_message(…, extra_data=…)` merges extra data there, not into `custom`); a W3C `traceparent` in `request.headers`; an X-Ray
//! `X-Amzn-Trace-Id` (`Root=…;Parent=…`) in `request.headers`. The span becomes `parent_id`,
//! so the occurrence hangs under the span that failed.

use super::fingerprint::Fingerprint;
use super::item::{Submission, Trace};
use super::items::{code_version, Stored};
use model::{Event, SignalKind, SpanId, TraceId, Value};
use serde_json::Value as Json;

/// Request headers copied as `http.request.header.<name>` (our choice: browsers send ~15;
/// bounds the column count one hostile payload can add).
pub const REQUEST_HEADERS_MAX: usize = 32;
/// Longest header value kept, in characters (our choice; longer values are cut).
pub const HEADER_VALUE_CHARS_MAX: usize = 1024;
/// Top-level `custom` keys copied as `custom.<key>` (our choice, like the headers).
pub const CUSTOM_FIELDS_MAX: usize = 64;
/// Longest `custom.*` / message value kept, in characters (our choice).
pub const FIELD_VALUE_CHARS_MAX: usize = 4096;
/// Longest rendered `exception.stacktrace`, in characters (our choice: a 2,048-frame trace is
/// cut; the full frames stay in `rollbar.data`).
pub const STACKTRACE_CHARS_MAX: usize = 32 * 1024;
/// Headers never copied into columns (our choice: credentials; pyrollbar scrubs most already).
pub const SECRET_HEADERS: [&str; 4] = [
    "authorization",
    "cookie",
    "x-rollbar-access-token",
    "proxy-authorization",
];

/// Field names written (tests and the server use them).
pub mod fields {
    pub const LEVEL: &str = "level";
    pub const ENVIRONMENT: &str = "environment";
    pub const EXCEPTION_TYPE: &str = "exception.type";
    pub const EXCEPTION_MESSAGE: &str = "exception.message";
    pub const EXCEPTION_STACKTRACE: &str = "exception.stacktrace";
    pub const MESSAGE: &str = "message";
    pub const FRAMEWORK: &str = "framework";
    pub const CODE_VERSION: &str = "code_version";
    pub const CONTEXT: &str = "context";
    pub const HTTP_ROUTE: &str = "http.route";
    pub const HTTP_URL: &str = "http.url";
    pub const HTTP_METHOD: &str = "http.method";
    pub const HTTP_CLIENT_IP: &str = "http.client_ip";
    pub const HEADER_PREFIX: &str = "http.request.header.";
    pub const USER_ID: &str = "user.id";
    pub const USER_NAME: &str = "user.name";
    pub const USER_EMAIL: &str = "user.email";
    pub const HOST_NAME: &str = "host.name";
    pub const ITEM_ID: &str = "rollbar.item_id";
    pub const COUNTER: &str = "rollbar.counter";
    pub const OCCURRENCE_ID: &str = "rollbar.occurrence_id";
    pub const UUID: &str = "rollbar.uuid";
    pub const FINGERPRINT: &str = "rollbar.fingerprint";
    pub const BODY_KIND: &str = "rollbar.body_kind";
    pub const DATA: &str = "rollbar.data";
    pub const CUSTOM_PREFIX: &str = "custom.";
}

/// What the caller knows beyond the payload.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Dataset (and `service.name`): the project's name.
    pub dataset: &'a str,
    /// Used when `data.timestamp` is absent or absurd.
    pub now_ns: i64,
    pub uuid: &'a str,
    pub fingerprint: &'a Fingerprint,
    /// The item it was grouped into, when known.
    pub stored: Option<&'a Stored>,
}

fn cut(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

fn text(v: &Json) -> Option<String> {
    match v {
        Json::String(s) if !s.is_empty() => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Puts the ids recording handed out on an occurrence's event (for an event translated with
/// `stored: None` before it was recorded).
pub fn set_ids(ev: &mut Event, st: &Stored) {
    ev.set(fields::ITEM_ID, Value::Int(st.item_id as i64));
    ev.set(fields::COUNTER, Value::Int(st.counter as i64));
    ev.set(fields::OCCURRENCE_ID, Value::Int(st.occurrence_id as i64));
}

/// The occurrence as a wide event.
pub fn translate(sub: &Submission, ctx: &Context<'_>) -> Event {
    let d = &sub.data;
    let mut ev = Event::new(ctx.dataset, sub.time_ns(ctx.now_ns), SignalKind::Error);
    ev.name = Some(super::fingerprint::title(d));
    ev.service = Some(ctx.dataset.to_owned());
    let s = |v: &str| Value::Str(v.to_owned());
    ev.set("meta.signal_type", s(SignalKind::Error.signal_type()));
    ev.set(fields::LEVEL, s(sub.level.as_str()));
    ev.set("error", Value::Bool(sub.level >= super::Level::Error));
    ev.set(fields::ENVIRONMENT, s(&sub.environment));
    ev.set(fields::BODY_KIND, s(sub.kind.as_str()));
    ev.set(fields::UUID, s(ctx.uuid));
    ev.set(fields::FINGERPRINT, s(ctx.fingerprint.as_str()));
    if let Some(st) = ctx.stored {
        set_ids(&mut ev, st);
    }
    // The exception that was raised (first of a chain), as OTel names it.
    let traces = sub.traces();
    if let Some(exc) = traces.first().and_then(|t| t.exception.as_ref()) {
        if let Some(c) = exc.class.as_deref() {
            ev.set(fields::EXCEPTION_TYPE, s(c));
        }
        if let Some(m) = exc.message.as_deref() {
            ev.set(
                fields::EXCEPTION_MESSAGE,
                Value::Str(cut(m, FIELD_VALUE_CHARS_MAX)),
            );
        }
    }
    if !traces.is_empty() {
        ev.set(
            fields::EXCEPTION_STACKTRACE,
            Value::Str(render_traces(traces)),
        );
    }
    if let Some(body) = d.body.as_ref() {
        if let Some(m) = body.message.as_ref().and_then(|m| m.body.as_deref()) {
            ev.set(fields::MESSAGE, Value::Str(cut(m, FIELD_VALUE_CHARS_MAX)));
        }
    }
    for (key, v) in [
        (fields::FRAMEWORK, &d.framework),
        ("language", &d.language),
        ("platform", &d.platform),
    ] {
        if let Some(v) = v.as_deref() {
            ev.set(key, s(v));
        }
    }
    if let Some(v) = code_version(sub) {
        ev.set(fields::CODE_VERSION, s(&v));
    }
    if let Some(c) = d.context.as_deref() {
        ev.set(fields::CONTEXT, s(c));
        // pyrollbar's Flask hook sets context to the URL rule (`/api/activities/@<handle>`).
        if c.starts_with('/') {
            ev.set(fields::HTTP_ROUTE, s(c));
        }
    }
    if let Some(req) = d.request.as_ref() {
        if let Some(u) = req.url.as_deref() {
            ev.set(fields::HTTP_URL, s(u));
        }
        if let Some(m) = req.method.as_deref() {
            ev.set(fields::HTTP_METHOD, s(m));
        }
        if let Some(ip) = req.user_ip.as_deref() {
            ev.set(fields::HTTP_CLIENT_IP, s(ip));
        }
        let mut n = 0;
        for (name, v) in req.headers.iter().flatten() {
            let lname = name.to_ascii_lowercase();
            if SECRET_HEADERS.contains(&lname.as_str()) {
                continue;
            }
            let Some(v) = text(v) else { continue };
            if n == REQUEST_HEADERS_MAX {
                break;
            }
            n += 1;
            ev.set(
                format!("{}{lname}", fields::HEADER_PREFIX),
                Value::Str(cut(&v, HEADER_VALUE_CHARS_MAX)),
            );
        }
    }
    if let Some(p) = d.person.as_ref() {
        if let Some(id) = p.id_text() {
            ev.set(fields::USER_ID, Value::Str(id));
        }
        if let Some(u) = p.username.as_deref() {
            ev.set(fields::USER_NAME, s(u));
        }
        if let Some(e) = p.email.as_deref() {
            ev.set(fields::USER_EMAIL, s(e));
        }
    }
    if let Some(srv) = d.server.as_ref() {
        if let Some(h) = srv.host.as_deref() {
            ev.set(fields::HOST_NAME, s(h));
        }
        if let Some(pid) = srv.extra.get("pid").and_then(Json::as_i64) {
            ev.set("process.pid", Value::Int(pid));
        }
    }
    if let Some(nf) = d.notifier.as_ref() {
        if let Some(n) = nf.name.as_deref() {
            ev.set("rollbar.notifier.name", s(n));
        }
        if let Some(v) = nf.version.as_deref() {
            ev.set("rollbar.notifier.version", s(v));
        }
    }
    if let Some(Json::Object(custom)) = d.custom.as_ref() {
        for (k, v) in custom.iter().take(CUSTOM_FIELDS_MAX) {
            if let Some(val) = Value::from_json(v) {
                let val = match val {
                    Value::Str(x) => Value::Str(cut(&x, FIELD_VALUE_CHARS_MAX)),
                    other => other,
                };
                ev.set(format!("{}{k}", fields::CUSTOM_PREFIX), val);
            }
        }
    }
    ev.set(fields::DATA, Value::Str(sub.raw_data.to_string()));
    if let Some((trace, span)) = trace_context(sub) {
        ev.trace_id = Some(trace);
        ev.parent_id = span;
    }
    ev
}

/// The trace (and span) an occurrence belongs to (module docs for the order).
pub fn trace_context(sub: &Submission) -> Option<(TraceId, Option<SpanId>)> {
    let d = &sub.data;
    let id_of = |v: Option<&Json>| {
        v.and_then(Json::as_str)
            .and_then(|t| TraceId::parse(t).ok())
    };
    let span_of = |v: Option<&Json>| v.and_then(Json::as_str).and_then(|t| SpanId::parse(t).ok());
    if let Some(t) = id_of(d.trace_id.as_ref()) {
        return Some((t, span_of(d.span_id.as_ref())));
    }
    let in_map = |c: &serde_json::Map<String, Json>| {
        let otel = c.get("otel").and_then(Json::as_object);
        let trace = id_of(c.get("trace_id"))
            .or_else(|| id_of(c.get("traceId")))
            .or_else(|| id_of(otel.and_then(|o| o.get("trace_id"))))?;
        let span = span_of(c.get("span_id"))
            .or_else(|| span_of(c.get("spanId")))
            .or_else(|| span_of(otel.and_then(|o| o.get("span_id"))));
        Some((trace, span))
    };
    if let Some(found) = d.custom.as_ref().and_then(Json::as_object).and_then(in_map) {
        return Some(found);
    }
    let message = d.body.as_ref().and_then(|b| b.message.as_ref());
    if let Some(found) = message.and_then(|m| in_map(&m.extra)) {
        return Some(found);
    }
    let headers = d.request.as_ref().and_then(|r| r.headers.as_ref())?;
    let header = |want: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(want))
            .and_then(|(_, v)| v.as_str())
    };
    if let Some(tp) = header("traceparent").and_then(parse_traceparent) {
        return Some(tp);
    }
    header("x-amzn-trace-id").and_then(parse_amzn_trace_id)
}

/// W3C `traceparent`: `00-<32 hex>-<16 hex>-<2 hex>`.
pub fn parse_traceparent(v: &str) -> Option<(TraceId, Option<SpanId>)> {
    let mut parts = v.trim().split('-');
    let (ver, trace, span, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if ver.len() != 2 || ver == "ff" || trace.len() != 32 || span.len() != 16 || flags.len() != 2 {
        return None;
    }
    let t = TraceId::parse(trace).ok()?;
    Some((t, SpanId::parse(span).ok()))
}

/// X-Ray `Root=1-…-…;Parent=<16 hex>;Sampled=1` (fields in any order).
pub fn parse_amzn_trace_id(v: &str) -> Option<(TraceId, Option<SpanId>)> {
    let mut root = None;
    let mut parent = None;
    for part in v.split(';') {
        let (k, val) = part.split_once('=')?;
        match k.trim() {
            "Root" => root = TraceId::parse(val.trim()).ok(),
            "Parent" => parent = SpanId::parse(val.trim()).ok(),
            _ => {}
        }
    }
    Some((root?, parent))
}

/// Python-style traceback text of a chain, root cause first (as Python prints it), bounded.
fn render_traces(traces: &[Trace]) -> String {
    let mut out = String::new();
    for (i, t) in traces.iter().rev().enumerate() {
        if i > 0 {
            out.push_str(
                "\nDuring handling of the above exception, another exception occurred:\n\n",
            );
        }
        out.push_str("Traceback (most recent call last):\n");
        for f in t.frames.iter().flatten() {
            let file = f.filename.as_deref().unwrap_or("?");
            let line = f
                .lineno
                .as_ref()
                .and_then(text)
                .unwrap_or_else(|| "?".into());
            let method = f.method.as_deref().unwrap_or("?");
            out.push_str(&format!("  File \"{file}\", line {line}, in {method}\n"));
            if let Some(code) = f.code.as_deref() {
                out.push_str("    ");
                out.push_str(code.trim());
                out.push('\n');
            }
            if out.len() > STACKTRACE_CHARS_MAX {
                break;
            }
        }
        if let Some(e) = t.exception.as_ref() {
            out.push_str(e.class.as_deref().unwrap_or_default());
            if let Some(m) = e.message.as_deref().filter(|m| !m.is_empty()) {
                out.push_str(": ");
                out.push_str(m);
            }
            out.push('\n');
        }
        if out.len() > STACKTRACE_CHARS_MAX {
            break;
        }
    }
    cut(&out, STACKTRACE_CHARS_MAX)
}
