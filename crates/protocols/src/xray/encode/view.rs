//! One protocol-neutral view of a trace's spans: X-Ray entity facts (service, times, http,
//! fault/error/throttle, namespace) read from X-Ray- or OTLP-origin events, and the tree of
//! segment documents they form.

use crate::xray::translate::fields as f;
use crate::xray::SUBSEGMENT_DEPTH_MAX;
use model::{Event, SignalKind, SpanId, TraceId, Value};
use std::collections::HashMap;

pub(crate) fn str_field<'a>(ev: &'a Event, key: &str) -> Option<&'a str> {
    ev.get(key).and_then(Value::as_str)
}

pub(crate) fn bool_field(ev: &Event, key: &str) -> bool {
    matches!(ev.get(key), Some(Value::Bool(true)))
}

pub(crate) fn int_field(ev: &Event, key: &str) -> Option<i64> {
    match ev.get(key)? {
        Value::Int(i) => Some(*i),
        v => v
            .as_f64()
            .filter(|x| x.is_finite() && x.fract() == 0.0 && x.abs() < 9e15)
            .map(|x| x as i64),
    }
}

fn first_str<'a>(ev: &'a Event, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| str_field(ev, k))
}

/// Several stored events with one span id (an in-progress document, then the completed one;
/// or a repeated delivery): the completed one wins; among equals, the later one in input order
/// (the store returns commit order, so that is the newest write). Non-span events pass through
/// untouched. Order of first appearance is kept.
pub fn dedup_spans<'a>(events: impl IntoIterator<Item = &'a Event>) -> Vec<&'a Event> {
    let mut slot: HashMap<(Option<TraceId>, SpanId), usize> = HashMap::new();
    let mut out: Vec<&'a Event> = Vec::new();
    for ev in events {
        let key = match (ev.kind, ev.span_id) {
            (SignalKind::Span, Some(id)) => (ev.trace_id, id),
            _ => {
                out.push(ev);
                continue;
            }
        };
        match slot.get(&key) {
            Some(&i) => {
                let held_in_progress = out.get(i).is_some_and(|e| in_progress(e));
                if !in_progress(ev) || held_in_progress {
                    if let Some(s) = out.get_mut(i) {
                        *s = ev;
                    }
                }
            }
            None => {
                slot.insert(key, out.len());
                out.push(ev);
            }
        }
    }
    out
}

pub(crate) fn in_progress(ev: &Event) -> bool {
    bool_field(ev, f::IN_PROGRESS)
}

#[derive(Debug, Clone, Default)]
pub(crate) struct HttpView {
    pub method: Option<String>,
    pub url: Option<String>,
    pub user_agent: Option<String>,
    pub client_ip: Option<String>,
    pub status: Option<i64>,
    pub content_length: Option<i64>,
}

/// HTTP facts with the fallbacks FIELDS.md lists for X-Ray keywords (old and new semconv).
pub(crate) fn http_view(ev: &Event) -> HttpView {
    let url = first_str(ev, &["http.url", "url.full"])
        .map(str::to_owned)
        .or_else(|| {
            let scheme = first_str(ev, &["http.scheme", "url.scheme"])?;
            let host = first_str(ev, &["http.host", "server.address", "net.host.name"])?;
            let target = first_str(ev, &["http.target", "url.path"]).unwrap_or("");
            Some(format!("{scheme}://{host}{target}"))
        });
    HttpView {
        method: first_str(ev, &["http.method", "http.request.method"]).map(str::to_owned),
        url,
        user_agent: first_str(ev, &["http.user_agent", "user_agent.original"]).map(str::to_owned),
        client_ip: first_str(ev, &["http.client_ip", "client.address", "net.peer.ip"])
            .map(str::to_owned),
        status: int_field(ev, "http.status_code")
            .or_else(|| int_field(ev, "http.response.status_code")),
        content_length: int_field(ev, "http.response_content_length")
            .or_else(|| int_field(ev, "http.response.body.size")),
    }
}

/// `fault`, `error`, `throttle` as X-Ray would flag the entity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Flags {
    pub fault: bool,
    pub error: bool,
    pub throttle: bool,
}

/// For X-Ray-origin events: the document's own flags. For OTLP spans: 429 → throttle + error,
/// other 4xx → error, 5xx or status ERROR (without a 4xx) → fault (`FIELDS.md`).
pub(crate) fn flags(ev: &Event, http: &HttpView) -> Flags {
    if is_xray(ev) {
        return Flags {
            fault: bool_field(ev, f::FAULT),
            error: bool_field(ev, f::ERROR),
            throttle: bool_field(ev, f::THROTTLE),
        };
    }
    let status = http.status.unwrap_or(0);
    let is4xx = (400..500).contains(&status);
    let status_error = int_field(ev, "status_code") == Some(2);
    Flags {
        throttle: status == 429,
        error: is4xx,
        fault: status >= 500 || (status_error && !is4xx),
    }
}

pub(crate) fn is_xray(ev: &Event) -> bool {
    ev.get(f::TYPE).is_some()
}

/// One span, as an X-Ray entity.
#[derive(Debug, Clone)]
pub(crate) struct Span<'a> {
    pub ev: &'a Event,
    pub id: SpanId,
    pub parent: Option<SpanId>,
    pub service: String,
    pub start_s: f64,
    /// Start + duration; the start while in progress.
    pub end_s: f64,
    /// `duration_ms` in seconds (not `end_s - start_s`, which loses digits at epoch scale).
    pub dur_s: f64,
    pub in_progress: bool,
    pub xray: bool,
    /// X-Ray `type: segment` (for OTLP spans: decided by the tree).
    pub xray_segment: bool,
    /// OTLP `span.kind` or the X-Ray kind the decoder wrote.
    pub kind: String,
    pub http: HttpView,
    pub flags: Flags,
}

impl Span<'_> {
    pub fn duration_s(&self) -> f64 {
        self.dur_s
    }

    /// A call out of the service: X-Ray namespace `remote`/`aws`, or OTLP client/producer.
    pub fn is_outgoing(&self) -> bool {
        if self.xray {
            matches!(str_field(self.ev, f::NAMESPACE), Some("remote" | "aws"))
        } else {
            matches!(self.kind.as_str(), "client" | "producer")
        }
    }

    /// The X-Ray service type: `aws.xray.origin`, or OTLP `cloud.platform` mapped as the
    /// Collector's awsxrayexporter maps it.
    pub fn origin(&self) -> Option<String> {
        if let Some(o) = str_field(self.ev, f::ORIGIN) {
            return Some(o.to_owned());
        }
        let o = match str_field(self.ev, "cloud.platform")? {
            "aws_ec2" => "AWS::EC2::Instance",
            "aws_ecs" => "AWS::ECS::Container",
            "aws_eks" => "AWS::EKS::Container",
            "aws_elastic_beanstalk" => "AWS::ElasticBeanstalk::Environment",
            "aws_lambda" => "AWS::Lambda::Function",
            _ => return None,
        };
        Some(o.to_owned())
    }

    /// The downstream an outgoing call names (X-Ray: the subsegment name).
    pub fn downstream_name(&self) -> String {
        if self.xray {
            return self.ev.name.clone().unwrap_or_default();
        }
        if str_field(self.ev, "rpc.system") == Some("aws-api") {
            if let Some(s) = str_field(self.ev, "rpc.service") {
                return s.to_owned();
            }
        }
        if let Some(n) = first_str(
            self.ev,
            &[
                "peer.service",
                "server.address",
                "net.peer.name",
                "http.host",
            ],
        ) {
            return n.to_owned();
        }
        if let Some(host) = self.http.url.as_deref().and_then(url_host) {
            return host.to_owned();
        }
        self.ev.name.clone().unwrap_or_default()
    }

    /// `aws` or `remote` for an outgoing call.
    pub fn namespace(&self) -> Option<String> {
        if self.xray {
            return str_field(self.ev, f::NAMESPACE).map(str::to_owned);
        }
        if str_field(self.ev, "rpc.system") == Some("aws-api") {
            return Some("aws".into());
        }
        self.is_outgoing().then(|| "remote".to_owned())
    }
}

/// The host of an absolute URL (`scheme://host[:port]/…`).
pub(crate) fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let host = rest.get(..end)?;
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    (!host.is_empty()).then_some(host)
}

pub(crate) fn span_of(ev: &Event) -> Option<Span<'_>> {
    if ev.kind != SignalKind::Span {
        return None;
    }
    let id = ev.span_id?;
    let http = http_view(ev);
    let start_s = ev.time_ns as f64 / 1e9;
    let in_prog = in_progress(ev);
    let dur_s = ev
        .duration_ms
        .filter(|d| d.is_finite())
        .unwrap_or(0.0)
        .max(0.0)
        / 1000.0;
    let end_s = start_s + dur_s;
    let xray = is_xray(ev);
    Some(Span {
        ev,
        id,
        parent: ev.parent_id,
        service: ev.service.clone().unwrap_or_else(|| ev.dataset.clone()),
        start_s,
        end_s,
        dur_s,
        in_progress: in_prog,
        xray,
        xray_segment: xray && str_field(ev, f::TYPE) == Some("segment"),
        kind: str_field(ev, "span.kind")
            .unwrap_or("internal")
            .to_ascii_lowercase(),
        flags: flags(ev, &http),
        http,
    })
}

/// The spans of one trace arranged into segment documents.
pub(crate) struct Tree<'a> {
    pub spans: Vec<Span<'a>>,
    /// Index of the parent span, when it is among the spans.
    pub parent_ix: Vec<Option<usize>>,
    /// Whether the span heads its own document.
    pub is_root: Vec<bool>,
    pub children: Vec<Vec<usize>>,
    /// The document root each span belongs to.
    pub root_of: Vec<usize>,
    /// Span events (exceptions) by their span's index.
    pub span_events: Vec<Vec<&'a Event>>,
    /// Whether some child of the span heads a segment document (a traced downstream).
    pub has_segment_child: Vec<bool>,
}

impl<'a> Tree<'a> {
    /// Builds the tree of one trace's (deduplicated) events.
    pub fn build(events: &[&'a Event]) -> Tree<'a> {
        let spans: Vec<Span<'a>> = events.iter().filter_map(|e| span_of(e)).collect();
        let index: HashMap<SpanId, usize> =
            spans.iter().enumerate().map(|(i, s)| (s.id, i)).collect();
        let parent_ix: Vec<Option<usize>> = spans
            .iter()
            .enumerate()
            .map(|(i, s)| {
                s.parent
                    .and_then(|p| index.get(&p).copied())
                    .filter(|&p| p != i)
            })
            .collect();
        let mut is_root: Vec<bool> = spans
            .iter()
            .zip(&parent_ix)
            .map(|(s, p)| match p {
                None => true,
                Some(p) => {
                    if s.xray {
                        s.xray_segment
                    } else {
                        matches!(s.kind.as_str(), "server" | "consumer")
                            || spans.get(*p).is_some_and(|ps| ps.service != s.service)
                    }
                }
            })
            .collect();
        // Bound nesting (and break cycles): a span more than SUBSEGMENT_DEPTH_MAX steps below
        // its document root heads its own document.
        for i in 0..spans.len() {
            let mut cur = i;
            let mut steps = 0usize;
            while !is_root[cur] {
                match parent_ix[cur] {
                    Some(p) if steps <= SUBSEGMENT_DEPTH_MAX => {
                        cur = p;
                        steps += 1;
                    }
                    _ => {
                        is_root[i] = true;
                        break;
                    }
                }
            }
        }
        let mut root_of = vec![0usize; spans.len()];
        let mut children = vec![Vec::new(); spans.len()];
        for i in 0..spans.len() {
            let mut cur = i;
            while !is_root[cur] {
                match parent_ix[cur] {
                    Some(p) => cur = p,
                    None => break,
                }
            }
            root_of[i] = cur;
            if !is_root[i] {
                if let Some(p) = parent_ix[i] {
                    children[p].push(i);
                }
            }
        }
        let mut span_events = vec![Vec::new(); spans.len()];
        for ev in events {
            if ev.kind == SignalKind::SpanEvent {
                if let Some(&i) = ev.parent_id.and_then(|p| index.get(&p)) {
                    span_events[i].push(*ev);
                }
            }
        }
        let mut has_segment_child = vec![false; spans.len()];
        for i in 0..spans.len() {
            let segment = is_root[i] && (!spans[i].xray || spans[i].xray_segment);
            if let (true, Some(p)) = (segment, parent_ix[i]) {
                has_segment_child[p] = true;
            }
        }
        Tree {
            spans,
            parent_ix,
            is_root,
            children,
            root_of,
            span_events,
            has_segment_child,
        }
    }

    /// The trace's root: the earliest span with no parent, else the earliest document root.
    pub fn trace_root(&self) -> Option<usize> {
        let earliest = |pred: &dyn Fn(usize) -> bool| {
            (0..self.spans.len()).filter(|&i| pred(i)).min_by(|&a, &b| {
                self.spans[a]
                    .start_s
                    .partial_cmp(&self.spans[b].start_s)
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
        };
        earliest(&|i| self.spans[i].parent.is_none()).or_else(|| earliest(&|i| self.is_root[i]))
    }

    /// Whether a document root is a segment (an X-Ray subsegment whose parent is missing is
    /// a stand-alone subsegment document instead).
    pub fn is_segment_root(&self, i: usize) -> bool {
        self.is_root[i] && (!self.spans[i].xray || self.spans[i].xray_segment)
    }
}

/// Groups events by trace id (first appearance order), for callers handed several traces.
pub(crate) fn by_trace(events: &[Event]) -> Vec<Vec<&Event>> {
    let mut ix: HashMap<Option<TraceId>, usize> = HashMap::new();
    let mut out: Vec<Vec<&Event>> = Vec::new();
    for ev in events {
        let i = *ix.entry(ev.trace_id).or_insert_with(|| {
            out.push(Vec::new());
            out.len() - 1
        });
        out[i].push(ev);
    }
    out
}
