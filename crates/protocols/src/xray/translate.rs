//! Segment documents → wide events, per the contract in `FIELDS.md`: one span event per
//! segment and subsegment (embedded ones recursively, with the embedding entity as parent),
//! one span-event per exception in `cause`. Husky-shaped like the OTLP translation
//! (`span.kind`/`type`, `status_code`, `error`, `meta.signal_type`).

use super::segment::{AnnotationValue, Cause, Document, SegmentDocument};
use super::{ANNOTATIONS_PER_ENTITY_MAX, FALLBACK_DATASET};
use model::{Event, SignalKind, SpanId, TraceId, Value};

/// What the caller knows about an independent subsegment's segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The segment's name (= dataset and service).
    pub dataset: String,
    /// The segment's id, for `aws.xray.parent_segment`.
    pub segment_id: Option<SpanId>,
}

/// Finds the segment an independent subsegment belongs to, given its trace and `parent_id`
/// (e.g. from the store). Closures `Fn(TraceId, SpanId) -> Option<Resolved>` implement it.
pub trait ServiceResolver {
    fn resolve(&self, trace_id: TraceId, parent_id: SpanId) -> Option<Resolved>;
}

impl<F: Fn(TraceId, SpanId) -> Option<Resolved>> ServiceResolver for F {
    fn resolve(&self, trace_id: TraceId, parent_id: SpanId) -> Option<Resolved> {
        self(trace_id, parent_id)
    }
}

/// A resolver that knows nothing (independent subsegments get [`FALLBACK_DATASET`]).
pub fn no_resolver(_: TraceId, _: SpanId) -> Option<Resolved> {
    None
}

/// Field names the decoder writes (FIELDS.md); the read direction and tests use them too.
pub mod fields {
    pub const TYPE: &str = "aws.xray.type";
    pub const IN_PROGRESS: &str = "aws.xray.in_progress";
    pub const NAMESPACE: &str = "aws.xray.namespace";
    pub const ORIGIN: &str = "aws.xray.origin";
    pub const INFERRED: &str = "aws.xray.inferred";
    pub const ERROR: &str = "aws.xray.error";
    pub const FAULT: &str = "aws.xray.fault";
    pub const THROTTLE: &str = "aws.xray.throttle";
    pub const METADATA: &str = "aws.xray.metadata";
    pub const AWS: &str = "aws.xray.aws";
    pub const SERVICE: &str = "aws.xray.service";
    pub const CAUSE: &str = "aws.xray.cause";
    pub const PRECURSOR_IDS: &str = "aws.xray.precursor_ids";
    pub const PARENT_SEGMENT: &str = "aws.xray.parent_segment";
    pub const ANNOTATIONS_DROPPED: &str = "aws.xray.annotations_dropped";
    pub const ANNOTATION_PREFIX: &str = "annotation.";
    pub const SQL_KEYS: &[&str] = &[
        "url",
        "sanitized_query",
        "database_type",
        "database_version",
        "driver_version",
        "user",
        "preparation",
        "connection_string",
    ];
}
use fields as f;

/// One document → events: the entities depth-first (segment first), each followed by its
/// exception events.
pub fn translate(doc: &Document, resolver: &dyn ServiceResolver) -> Vec<Event> {
    let body = &doc.body;
    let mut out = Vec::new();
    let (dataset, segment_id, parent) = if doc.independent {
        let parent = body
            .parent_id
            .as_deref()
            .and_then(super::segment::parse_entity_id);
        let resolved = parent.and_then(|p| resolver.resolve(doc.trace_id, p));
        match resolved {
            Some(r) => (r.dataset, r.segment_id, parent),
            None => (FALLBACK_DATASET.to_string(), None, parent),
        }
    } else {
        let name = body.name.clone().unwrap_or_default();
        let parent = body
            .parent_id
            .as_deref()
            .and_then(super::segment::parse_entity_id);
        (name, None, parent)
    };
    let ctx = Ctx {
        trace_id: doc.trace_id,
        dataset: &dataset,
    };
    let is_segment = !doc.independent;
    let seg_for_children = if is_segment { Some(doc.id) } else { segment_id };
    entity_events(
        &ctx,
        body,
        Entity {
            is_segment,
            parent,
            segment: segment_id,
            segment_for_children: seg_for_children,
        },
        &mut out,
    );
    out
}

struct Ctx<'a> {
    trace_id: TraceId,
    dataset: &'a str,
}

#[derive(Clone, Copy)]
struct Entity {
    is_segment: bool,
    parent: Option<SpanId>,
    /// The segment this entity belongs to (subsegments).
    segment: Option<SpanId>,
    segment_for_children: Option<SpanId>,
}

fn compact(v: &impl serde::Serialize) -> Option<String> {
    serde_json::to_string(v).ok()
}

fn s(v: &str) -> Value {
    Value::Str(v.to_string())
}

/// Seconds (validated finite, in range) → Unix nanoseconds.
pub fn seconds_to_ns(t: f64) -> i64 {
    let ns = (t * 1e9).round();
    if ns.is_finite() && (0.0..9.2e18).contains(&ns) {
        ns as i64
    } else {
        0
    }
}

fn entity_events(ctx: &Ctx, e: &SegmentDocument, ent: Entity, out: &mut Vec<Event>) {
    // Validation guaranteed id, name, start_time; be total anyway.
    let Some(id) = e.id.as_deref().and_then(super::segment::parse_entity_id) else {
        return;
    };
    let start = e.start_time.unwrap_or(0.0);
    let time_ns = seconds_to_ns(start);
    let mut ev = Event::new(ctx.dataset, time_ns, SignalKind::Span);
    ev.trace_id = Some(ctx.trace_id);
    ev.span_id = Some(id);
    ev.parent_id = ent.parent;
    ev.name = e.name.clone();
    ev.service = Some(ctx.dataset.to_string());
    let in_progress = e.in_progress == Some(true);
    let mut invalid_duration = false;
    let mut end_ns = time_ns;
    if !in_progress {
        if let Some(end) = e.end_time {
            let d = (end - start) * 1000.0;
            invalid_duration = d < 0.0;
            ev.duration_ms = Some(d.max(0.0));
            end_ns = seconds_to_ns(end).max(time_ns);
        }
    }

    ev.set(
        f::TYPE,
        s(if ent.is_segment {
            "segment"
        } else {
            "subsegment"
        }),
    );
    if in_progress {
        ev.set(f::IN_PROGRESS, Value::Bool(true));
    }
    if let Some(ns) = &e.namespace {
        ev.set(f::NAMESPACE, s(ns));
    }
    if let Some(o) = &e.origin {
        ev.set(f::ORIGIN, s(o));
    }
    if let Some(i) = e.inferred {
        ev.set(f::INFERRED, Value::Bool(i));
    }
    let kind = if ent.is_segment {
        "server"
    } else if matches!(e.namespace.as_deref(), Some("remote" | "aws")) {
        "client"
    } else {
        "internal"
    };
    ev.set("span.kind", s(kind));
    ev.set("type", s(kind));
    ev.set("meta.signal_type", s("trace"));
    if invalid_duration {
        ev.set("meta.invalid_duration", Value::Bool(true));
    }

    if let Some(http) = &e.http {
        if let Some(r) = &http.request {
            let pairs = [
                ("http.method", &r.method),
                ("http.url", &r.url),
                ("http.user_agent", &r.user_agent),
                ("http.client_ip", &r.client_ip),
            ];
            for (k, v) in pairs {
                if let Some(v) = v {
                    ev.set(k, s(v));
                }
            }
            if let Some(b) = r.x_forwarded_for {
                ev.set("http.x_forwarded_for", Value::Bool(b));
            }
            if let Some(b) = r.traced {
                ev.set("http.traced", Value::Bool(b));
            }
        }
        if let Some(r) = &http.response {
            if let Some(st) = r.status {
                ev.set("http.status_code", Value::Int(st));
            }
            if let Some(cl) = r.content_length {
                ev.set("http.response_content_length", Value::Int(cl));
            }
        }
    }
    let fault = e.fault == Some(true);
    for (k, flag) in [
        (f::ERROR, e.error),
        (f::FAULT, e.fault),
        (f::THROTTLE, e.throttle),
    ] {
        if flag == Some(true) {
            ev.set(k, Value::Bool(true));
        }
    }
    ev.set("status_code", Value::Int(if fault { 2 } else { 0 }));
    if fault {
        ev.set("error", Value::Bool(true));
    }
    if let Some(u) = &e.user {
        ev.set("enduser.id", s(u));
    }
    if let Some(ann) = &e.annotations {
        for (i, (k, v)) in ann.iter().enumerate() {
            if i >= ANNOTATIONS_PER_ENTITY_MAX {
                let dropped = ann.len() - ANNOTATIONS_PER_ENTITY_MAX;
                ev.set(f::ANNOTATIONS_DROPPED, Value::Int(dropped as i64));
                break;
            }
            let value = match v {
                AnnotationValue::Bool(b) => Value::Bool(*b),
                AnnotationValue::Int(i) => Value::Int(*i),
                AnnotationValue::Float(x) => Value::Float(*x),
                AnnotationValue::Str(t) => Value::Str(t.clone()),
            };
            ev.set(format!("{}{k}", f::ANNOTATION_PREFIX), value);
        }
    }
    if let Some(m) = e.metadata.as_ref().and_then(compact) {
        ev.set(f::METADATA, Value::Str(m));
    }
    if let Some(aws) = &e.aws {
        if let Some(t) = compact(aws) {
            ev.set(f::AWS, Value::Str(t));
        }
        let flat = [
            ("aws.operation", &aws.operation),
            ("aws.region", &aws.region),
            ("aws.account_id", &aws.account_id),
            ("aws.request_id", &aws.request_id),
            ("aws.table_name", &aws.table_name),
            ("aws.queue_url", &aws.queue_url),
        ];
        for (k, v) in flat {
            if let Some(v) = v {
                ev.set(k, s(v));
            }
        }
        if let Some(x) = &aws.xray {
            let flat = [
                ("aws.xray.sdk", &x.sdk),
                ("aws.xray.sdk_version", &x.sdk_version),
                ("aws.xray.sampling_rule_name", &x.sampling_rule_name),
            ];
            for (k, v) in flat {
                if let Some(v) = v {
                    ev.set(k, s(v));
                }
            }
        }
    }
    if let Some(svc) = &e.service {
        if let Some(t) = compact(svc) {
            ev.set(f::SERVICE, Value::Str(t));
        }
        if let Some(v) = svc.get("version").and_then(Value::from_json) {
            ev.set("service.version", Value::Str(v.to_string()));
        }
    }
    let mut exceptions: &[super::segment::Exception] = &[];
    if let Some(cause) = &e.cause {
        if let Some(t) = compact(cause) {
            ev.set(f::CAUSE, Value::Str(t));
        }
        if let Cause::Detail(d) = cause {
            exceptions = d.exceptions.as_deref().unwrap_or_default();
        }
    }
    if let Some(first) = exceptions.first() {
        if let Some(t) = &first.type_ {
            ev.set("exception.type", s(t));
        }
        if let Some(m) = &first.message {
            ev.set("exception.message", s(m));
        }
    }
    if let Some(sql) = &e.sql {
        let vals = [
            &sql.url,
            &sql.sanitized_query,
            &sql.database_type,
            &sql.database_version,
            &sql.driver_version,
            &sql.user,
            &sql.preparation,
            &sql.connection_string,
        ];
        for (k, v) in f::SQL_KEYS.iter().zip(vals) {
            if let Some(v) = v {
                ev.set(format!("sql.{k}"), s(v));
            }
        }
    }
    if let Some(p) = e.precursor_ids.as_ref().and_then(compact) {
        ev.set(f::PRECURSOR_IDS, Value::Str(p));
    }
    if !ent.is_segment {
        if let Some(seg) = ent.segment {
            ev.set(f::PARENT_SEGMENT, Value::Str(seg.to_hex()));
        }
    }
    out.push(ev);

    let ex_time = if in_progress { time_ns } else { end_ns };
    for x in exceptions {
        let mut xe = Event::new(ctx.dataset, ex_time, SignalKind::SpanEvent);
        xe.trace_id = Some(ctx.trace_id);
        xe.parent_id = Some(id);
        xe.name = Some("exception".into());
        xe.service = Some(ctx.dataset.to_string());
        if let Some(t) = &x.type_ {
            xe.set("exception.type", s(t));
        }
        if let Some(m) = &x.message {
            xe.set("exception.message", s(m));
        }
        if let Some(stack) = &x.stack {
            xe.set("exception.stacktrace", Value::Str(render_stack(stack)));
        }
        if let Some(i) = &x.id {
            xe.set("exception.id", s(i));
        }
        xe.set("meta.annotation_type", s("span_event"));
        xe.set("meta.signal_type", s("trace"));
        out.push(xe);
    }

    for sub in e.subsegments.iter().flatten() {
        entity_events(
            ctx,
            sub,
            Entity {
                is_segment: false,
                parent: Some(id),
                segment: ent.segment_for_children,
                segment_for_children: ent.segment_for_children,
            },
            out,
        );
    }
}

/// Frames as Python prints them: `  File "path", line N, in label`, one per line.
pub fn render_stack(stack: &[super::segment::StackFrame]) -> String {
    let mut out = String::new();
    for (i, fr) in stack.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!(
            "  File \"{}\", line {}, in {}",
            fr.path.as_deref().unwrap_or(""),
            fr.line.unwrap_or(0),
            fr.label.as_deref().unwrap_or("")
        ));
    }
    out
}
