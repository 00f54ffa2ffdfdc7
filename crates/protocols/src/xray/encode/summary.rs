//! `GetTraceSummaries` elements: a `TraceSummary` (botocore xray model shape, PascalCase)
//! computed from one trace's events. Field meanings follow the model's documentation:
//! `HasFault`/`HasError` = the root segment has a 5xx/4xx, `HasThrottle` = any segment has a
//! 429, `IsPartial` = a segment is in progress (we also count a missing parent).

use super::view::{by_trace, dedup_spans, str_field, Tree};
use crate::xray::translate::fields as f;
use model::{Event, Value};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TraceSummary {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<f64>,
    pub duration: f64,
    pub response_time: f64,
    pub has_fault: bool,
    pub has_error: bool,
    pub has_throttle: bool,
    pub is_partial: bool,
    pub http: TraceSummaryHttp,
    /// Key → the values it took, each with the services that recorded it.
    pub annotations: std::collections::BTreeMap<String, Vec<ValueWithServiceIds>>,
    pub users: Vec<TraceUser>,
    pub service_ids: Vec<ServiceId>,
    #[serde(rename = "ResourceARNs")]
    pub resource_arns: Vec<serde_json::Value>,
    pub instance_ids: Vec<InstanceId>,
    pub availability_zones: Vec<AvailabilityZone>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry_point: Option<ServiceId>,
    pub fault_root_causes: Vec<serde_json::Value>,
    pub error_root_causes: Vec<serde_json::Value>,
    pub response_time_root_causes: Vec<serde_json::Value>,
    /// Our choice: the number of entity events stored for the trace (it grows as segments
    /// arrive, which is what the service's revision counts).
    pub revision: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched_event_time: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TraceSummaryHttp {
    #[serde(rename = "HttpURL", skip_serializing_if = "Option::is_none")]
    pub http_url: Option<String>,
    #[serde(rename = "HttpStatus", skip_serializing_if = "Option::is_none")]
    pub http_status: Option<i64>,
    #[serde(rename = "HttpMethod", skip_serializing_if = "Option::is_none")]
    pub http_method: Option<String>,
    #[serde(rename = "UserAgent", skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(rename = "ClientIp", skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ValueWithServiceIds {
    pub annotation_value: AnnotationValueOut,
    pub service_ids: Vec<ServiceId>,
}

/// `AnnotationValue`: exactly one member set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum AnnotationValueOut {
    NumberValue(f64),
    BooleanValue(bool),
    StringValue(String),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TraceUser {
    pub user_name: String,
    pub service_ids: Vec<ServiceId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceId {
    pub name: String,
    pub names: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(rename = "Type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
}

impl ServiceId {
    pub fn new(name: &str, type_: Option<String>) -> Self {
        ServiceId {
            name: name.to_owned(),
            names: vec![name.to_owned()],
            account_id: None,
            type_,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceId {
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AvailabilityZone {
    pub name: String,
}

fn push_unique<T: PartialEq>(v: &mut Vec<T>, x: T) {
    if !v.contains(&x) {
        v.push(x);
    }
}

/// The service an inferred downstream node stands for (X-Ray draws AWS calls as
/// `AWS::<Service>` nodes and other remote calls as `remote`).
pub(crate) fn inferred_service(tree: &Tree, i: usize) -> Option<ServiceId> {
    let span = &tree.spans[i];
    if !span.is_outgoing() {
        return None;
    }
    if tree.has_segment_child[i] {
        return None;
    }
    let name = span.downstream_name();
    let type_ = if span.namespace().as_deref() == Some("aws") {
        format!("AWS::{name}")
    } else {
        "remote".to_owned()
    };
    Some(ServiceId::new(&name, Some(type_)))
}

fn ec2_facts(ev: &Event) -> (Option<String>, Option<String>) {
    let aws: Option<serde_json::Value> =
        str_field(ev, f::AWS).and_then(|t| serde_json::from_str(t).ok());
    let ec2 = aws.as_ref().and_then(|a| a.get("ec2"));
    let s = |k: &str| {
        ec2.and_then(|e| e.get(k))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    (
        s("instance_id").or_else(|| str_field(ev, "host.id").map(str::to_owned)),
        s("availability_zone")
            .or_else(|| str_field(ev, "cloud.availability_zone").map(str::to_owned)),
    )
}

/// Summarises one trace (events of other traces, if any, are ignored: the first trace id
/// seen is summarised). `None` when there is no span.
pub fn trace_summary(events: &[Event]) -> Option<TraceSummary> {
    let group = by_trace(events).into_iter().next()?;
    let evs = dedup_spans(group);
    let tree = Tree::build(&evs);
    let trace_id = tree.spans.first()?.ev.trace_id?;
    let n = tree.spans.len();
    let root = tree.trace_root()?;
    let r = &tree.spans[root];

    let start = tree
        .spans
        .iter()
        .map(|s| s.start_s)
        .fold(f64::INFINITY, f64::min);
    let end = tree
        .spans
        .iter()
        .map(|s| s.end_s)
        .fold(f64::NEG_INFINITY, f64::max);
    let service_of = |i: usize| -> ServiceId {
        let owner = &tree.spans[tree.root_of[i]];
        ServiceId::new(&owner.service, owner.origin())
    };

    let mut service_ids: Vec<ServiceId> = Vec::new();
    let mut users: Vec<TraceUser> = Vec::new();
    let mut annotations: std::collections::BTreeMap<String, Vec<ValueWithServiceIds>> =
        Default::default();
    let mut instance_ids = Vec::new();
    let mut zones = Vec::new();
    let mut partial = false;
    let mut throttle = false;
    for i in 0..n {
        let span = &tree.spans[i];
        partial |= span.in_progress || (span.parent.is_some() && tree.parent_ix[i].is_none());
        throttle |= span.flags.throttle || span.http.status == Some(429);
        if tree.is_segment_root(i) {
            push_unique(&mut service_ids, service_of(i));
            let (inst, az) = ec2_facts(span.ev);
            if let Some(id) = inst {
                push_unique(&mut instance_ids, InstanceId { id });
            }
            if let Some(name) = az {
                push_unique(&mut zones, AvailabilityZone { name });
            }
        }
        if let Some(s) = inferred_service(&tree, i) {
            push_unique(&mut service_ids, s);
        }
        if let Some(u) = str_field(span.ev, "enduser.id") {
            let sid = service_of(i);
            match users.iter_mut().find(|x| x.user_name == u) {
                Some(x) => push_unique(&mut x.service_ids, sid),
                None => users.push(TraceUser {
                    user_name: u.to_owned(),
                    service_ids: vec![sid],
                }),
            }
        }
        for (k, v) in &span.ev.fields {
            let Some(key) = k.strip_prefix(f::ANNOTATION_PREFIX) else {
                continue;
            };
            let value = match v {
                Value::Str(s) => AnnotationValueOut::StringValue(s.clone()),
                Value::Bool(b) => AnnotationValueOut::BooleanValue(*b),
                Value::Int(x) => AnnotationValueOut::NumberValue(*x as f64),
                Value::Float(x) => AnnotationValueOut::NumberValue(*x),
            };
            let sid = service_of(i);
            let slot = annotations.entry(key.to_owned()).or_default();
            match slot.iter_mut().find(|x| x.annotation_value == value) {
                Some(x) => push_unique(&mut x.service_ids, sid),
                None => slot.push(ValueWithServiceIds {
                    annotation_value: value,
                    service_ids: vec![sid],
                }),
            }
        }
    }
    let status = r.http.status;
    Some(TraceSummary {
        id: trace_id.to_xray(),
        start_time: Some(start),
        duration: (end - start).max(0.0),
        response_time: r.duration_s(),
        has_fault: r.flags.fault || status.is_some_and(|s| s >= 500),
        has_error: r.flags.error || status.is_some_and(|s| (400..500).contains(&s)),
        has_throttle: throttle,
        is_partial: partial,
        http: TraceSummaryHttp {
            http_url: r.http.url.clone(),
            http_status: status,
            http_method: r.http.method.clone(),
            user_agent: r.http.user_agent.clone(),
            client_ip: r.http.client_ip.clone(),
        },
        annotations,
        users,
        service_ids,
        resource_arns: Vec::new(),
        instance_ids,
        availability_zones: zones,
        entry_point: Some(service_of(root)),
        fault_root_causes: Vec::new(),
        error_root_causes: Vec::new(),
        response_time_root_causes: Vec::new(),
        revision: n as i64,
        matched_event_time: Some(start),
    })
}
