//! `BatchGetTraces` segments: one X-Ray segment document per document root of a trace, with
//! the other spans nested as subsegments (see [`super::view::Tree`] for which spans head
//! documents).

use super::view::{by_trace, dedup_spans, int_field, str_field, HttpView, Span, Tree};
use crate::xray::translate::fields as f;
use model::{Event, TraceId, Value};
use serde::Serialize;
use serde_json::{Map, Value as J};

/// One element of `Traces[].Segments`: the segment id and its document as JSON text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentOut {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Document")]
    pub document: String,
}

/// Rebuilds the segment documents of the traces in `events` (normally one trace). Spans with
/// one id are deduplicated first ([`super::dedup_spans`]). Document order follows the events.
pub fn trace_segments(events: &[Event]) -> Vec<SegmentOut> {
    let mut out = Vec::new();
    for group in by_trace(events) {
        let evs = dedup_spans(group);
        let tree = Tree::build(&evs);
        for i in 0..tree.spans.len() {
            if !tree.is_root[i] {
                continue;
            }
            let doc = entity_json(&tree, i, true);
            out.push(SegmentOut {
                id: tree.spans[i].id.to_hex(),
                document: J::Object(doc).to_string(),
            });
        }
    }
    out
}

fn num(x: f64) -> J {
    serde_json::Number::from_f64(x).map_or(J::Null, J::Number)
}

fn parse_text(ev: &Event, key: &str) -> Option<J> {
    serde_json::from_str(str_field(ev, key)?).ok()
}

fn put_str(m: &mut Map<String, J>, k: &str, v: Option<&str>) {
    if let Some(v) = v {
        m.insert(k.into(), J::String(v.into()));
    }
}

fn http_json(h: &HttpView, ev: &Event, with_client_ip: bool) -> Option<J> {
    let mut req = Map::new();
    put_str(&mut req, "method", h.method.as_deref());
    put_str(&mut req, "url", h.url.as_deref());
    put_str(&mut req, "user_agent", h.user_agent.as_deref());
    if with_client_ip {
        put_str(&mut req, "client_ip", h.client_ip.as_deref());
    }
    for (field, key) in [
        ("http.x_forwarded_for", "x_forwarded_for"),
        ("http.traced", "traced"),
    ] {
        if let Some(Value::Bool(b)) = ev.get(field) {
            req.insert(key.into(), J::Bool(*b));
        }
    }
    let mut resp = Map::new();
    if let Some(s) = h.status {
        resp.insert("status".into(), J::from(s));
    }
    if let Some(c) = h.content_length {
        resp.insert("content_length".into(), J::from(c));
    }
    let mut http = Map::new();
    if !req.is_empty() {
        http.insert("request".into(), J::Object(req));
    }
    if !resp.is_empty() {
        http.insert("response".into(), J::Object(resp));
    }
    (!http.is_empty()).then_some(J::Object(http))
}

fn annotations_json(ev: &Event) -> Option<J> {
    let mut m = Map::new();
    for (k, v) in &ev.fields {
        if let Some(key) = k.strip_prefix(f::ANNOTATION_PREFIX) {
            m.insert(key.to_owned(), v.to_json());
        }
    }
    (!m.is_empty()).then_some(J::Object(m))
}

fn sql_json(ev: &Event) -> Option<J> {
    let mut m = Map::new();
    for k in f::SQL_KEYS {
        put_str(&mut m, k, str_field(ev, &format!("sql.{k}")));
    }
    (!m.is_empty()).then_some(J::Object(m))
}

/// Fields an OTLP span carries that the document already says elsewhere (or that are
/// husky bookkeeping); everything else goes to `metadata.default`.
fn consumed(key: &str) -> bool {
    const KEYS: &[&str] = &[
        "span.kind",
        "type",
        "status_code",
        "status_message",
        "error",
        "span.num_events",
        "span.num_links",
        "library.name",
        "library.version",
        "telemetry.instrumentation_library",
        "resource.schema_url",
        "scope.schema_url",
        "trace.trace_state",
        "http.method",
        "http.request.method",
        "http.url",
        "url.full",
        "http.status_code",
        "http.response.status_code",
        "http.user_agent",
        "user_agent.original",
        "http.client_ip",
        "enduser.id",
    ];
    KEYS.contains(&key) || key.starts_with("meta.") || key.starts_with("exception.")
}

fn exceptions_json(tree: &Tree, i: usize) -> Vec<J> {
    let span = &tree.spans[i];
    let mut out = Vec::new();
    let events = tree.span_events[i]
        .iter()
        .filter(|e| e.name.as_deref() == Some("exception"));
    for (n, e) in events.enumerate() {
        out.push(exception_json(e, span, n));
    }
    if out.is_empty() && span.ev.get("exception.type").is_some() {
        out.push(exception_json(span.ev, span, 0));
    }
    out
}

fn exception_json(e: &Event, span: &Span, n: usize) -> J {
    let mut m = Map::new();
    let id = str_field(e, "exception.id").map_or_else(
        || format!("{:016x}", span.id.as_u64().rotate_left(8) ^ (n as u64 + 1)),
        str::to_owned,
    );
    m.insert("id".into(), J::String(id));
    put_str(&mut m, "type", str_field(e, "exception.type"));
    put_str(&mut m, "message", str_field(e, "exception.message"));
    if let Some(st) = str_field(e, "exception.stacktrace") {
        let frames = parse_stack(st);
        if !frames.is_empty() {
            m.insert("stack".into(), J::Array(frames));
        }
    }
    J::Object(m)
}

/// Frames of a Python-style traceback (`  File "path", line N, in label`), the form the
/// decoder renders X-Ray stacks in and the Python OTel SDK records. Other lines are skipped.
fn parse_stack(text: &str) -> Vec<J> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.trim_start().strip_prefix("File \"") else {
            continue;
        };
        let Some((path, rest)) = rest.split_once("\", line ") else {
            continue;
        };
        let (line_no, label) = match rest.split_once(", in ") {
            Some((l, lab)) => (l, lab),
            None => (rest, ""),
        };
        let mut fr = Map::new();
        fr.insert("path".into(), J::String(path.into()));
        if let Ok(n) = line_no.trim().parse::<i64>() {
            fr.insert("line".into(), J::from(n));
        }
        if !label.is_empty() {
            fr.insert("label".into(), J::String(label.into()));
        }
        out.push(J::Object(fr));
    }
    out
}

fn trace_id_text(t: Option<TraceId>) -> Option<String> {
    t.map(|t| t.to_xray())
}

fn entity_json(tree: &Tree, i: usize, top: bool) -> Map<String, J> {
    let span = &tree.spans[i];
    let ev = span.ev;
    let as_segment = top && tree.is_segment_root(i);
    let mut m = Map::new();
    m.insert("id".into(), J::String(span.id.to_hex()));
    let name = if !span.xray && as_segment {
        span.service.clone()
    } else if !span.xray && span.is_outgoing() {
        span.downstream_name()
    } else {
        ev.name.clone().unwrap_or_default()
    };
    m.insert("name".into(), J::String(name));
    put_str(&mut m, "trace_id", trace_id_text(ev.trace_id).as_deref());
    m.insert("start_time".into(), num(span.start_s));
    if span.in_progress || ev.duration_ms.is_none() {
        m.insert("in_progress".into(), J::Bool(true));
    } else {
        m.insert("end_time".into(), num(span.end_s));
        if span.xray {
            m.insert("in_progress".into(), J::Bool(false));
        }
    }
    if let Some(p) = span.parent {
        m.insert("parent_id".into(), J::String(p.to_hex()));
    }
    if !as_segment {
        m.insert("type".into(), J::String("subsegment".into()));
        put_str(&mut m, "namespace", span.namespace().as_deref());
    }
    if as_segment {
        put_str(&mut m, "origin", span.origin().as_deref());
    }
    if let Some(Value::Bool(b)) = ev.get(f::INFERRED) {
        m.insert("inferred".into(), J::Bool(*b));
    }
    put_str(&mut m, "user", str_field(ev, "enduser.id"));
    if let Some(h) = http_json(&span.http, ev, span.xray || as_segment) {
        m.insert("http".into(), h);
    }
    for (k, on) in [
        ("error", span.flags.error),
        ("throttle", span.flags.throttle),
        ("fault", span.flags.fault),
    ] {
        if on {
            m.insert(k.into(), J::Bool(true));
        }
    }
    if let Some(a) = annotations_json(ev) {
        m.insert("annotations".into(), a);
    }
    if span.xray {
        for (key, field) in [
            ("aws", f::AWS),
            ("service", f::SERVICE),
            ("cause", f::CAUSE),
            ("metadata", f::METADATA),
            ("precursor_ids", f::PRECURSOR_IDS),
        ] {
            if let Some(v) = parse_text(ev, field) {
                m.insert(key.into(), v);
            }
        }
        if let Some(s) = sql_json(ev) {
            m.insert("sql".into(), s);
        }
    } else {
        otlp_extras(tree, i, &mut m);
    }
    let subs: Vec<J> = tree.children[i]
        .iter()
        .map(|&c| J::Object(entity_json(tree, c, false)))
        .collect();
    if !subs.is_empty() {
        m.insert("subsegments".into(), J::Array(subs));
    }
    m
}

/// `cause`, `aws`, `sql` and `metadata` for an OTLP span.
fn otlp_extras(tree: &Tree, i: usize, m: &mut Map<String, J>) {
    let span = &tree.spans[i];
    let ev = span.ev;
    let exceptions = exceptions_json(tree, i);
    if !exceptions.is_empty() {
        let mut c = Map::new();
        c.insert("exceptions".into(), J::Array(exceptions));
        m.insert("cause".into(), J::Object(c));
    }
    if str_field(ev, "rpc.system") == Some("aws-api") {
        let mut a = Map::new();
        put_str(&mut a, "operation", str_field(ev, "rpc.method"));
        put_str(
            &mut a,
            "region",
            str_field(ev, "aws.region").or_else(|| str_field(ev, "cloud.region")),
        );
        put_str(&mut a, "request_id", str_field(ev, "aws.request_id"));
        if !a.is_empty() {
            m.insert("aws".into(), J::Object(a));
        }
    }
    if let Some(system) = str_field(ev, "db.system") {
        let mut s = Map::new();
        s.insert("database_type".into(), J::String(system.into()));
        put_str(
            &mut s,
            "sanitized_query",
            str_field(ev, "db.statement").or_else(|| str_field(ev, "db.query.text")),
        );
        put_str(&mut s, "user", str_field(ev, "db.user"));
        put_str(&mut s, "url", str_field(ev, "db.connection_string"));
        m.insert("sql".into(), J::Object(s));
    }
    let mut meta = Map::new();
    for (k, v) in &ev.fields {
        if consumed(k) || k.starts_with(f::ANNOTATION_PREFIX) {
            continue;
        }
        if k == "http.response_content_length" && int_field(ev, k).is_some() {
            continue;
        }
        meta.insert(k.clone(), v.to_json());
    }
    if !meta.is_empty() {
        let mut md = Map::new();
        md.insert("default".into(), J::Object(meta));
        m.insert("metadata".into(), J::Object(md));
    }
}
