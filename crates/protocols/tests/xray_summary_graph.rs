//! Trace summaries, rebuilt segment documents and service graphs on small hand-built traces:
//! one X-Ray-origin (decoded from documents), one OTLP-origin (through the OTLP translation).
#![allow(clippy::unwrap_used)]

use model::Event;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
use serde_json::{json, Value as J};
use waggle_protocols::otlp::{translate_traces, Hints};
use waggle_protocols::xray::encode::{
    trace_graph_services, trace_segments, trace_summary, ServiceGraphBuilder,
};
use waggle_protocols::xray::translate::no_resolver;
use waggle_protocols::xray::{parse_documents, translate};

const NOW: i64 = 1_795_650_600;
const T: &str = "1-6b0773b8-f34cca3e4dc04cf2525fe3e2";

fn xray_events(docs: &[String]) -> Vec<Event> {
    docs.iter()
        .flat_map(|d| {
            let p = parse_documents(d.as_bytes(), NOW);
            assert!(p.rejected.is_empty(), "{:?}", p.rejected);
            translate(&p.documents[0], &no_resolver)
        })
        .collect()
}

/// api (root, 200) → embedded remote subsegment "orders" → orders segment (500, its own
/// document, parent = the subsegment) with an aws DynamoDB subsegment (no segment of its own).
fn xray_trace() -> Vec<Event> {
    xray_events(&[
        format!(
            r#"{{"id":"00000000000000a1","name":"api","trace_id":"{T}","start_time":1795650488.0,"end_time":1795650489.0,"origin":"AWS::EC2::Instance","user":"ann",
            "http":{{"request":{{"method":"GET","url":"http://api/x","user_agent":"ua","client_ip":"10.0.0.1"}},"response":{{"status":200}}}},
            "annotations":{{"tier":"gold","n":2}},
            "aws":{{"ec2":{{"instance_id":"i-123","availability_zone":"us-east-1a"}}}},
            "subsegments":[{{"id":"00000000000000a2","name":"orders","namespace":"remote","start_time":1795650488.1,"end_time":1795650488.9}}]}}"#
        ),
        format!(
            r#"{{"id":"00000000000000b1","name":"orders","trace_id":"{T}","parent_id":"00000000000000a2","start_time":1795650488.2,"end_time":1795650488.8,"fault":true,
            "http":{{"response":{{"status":500}}}},"annotations":{{"tier":"gold"}},
            "subsegments":[{{"id":"00000000000000b2","name":"DynamoDB","namespace":"aws","start_time":1795650488.3,"end_time":1795650488.4,"throttle":true,"error":true,"aws":{{"operation":"GetItem"}}}}]}}"#
        ),
    ])
}

#[test]
fn xray_trace_summary() {
    let s = trace_summary(&xray_trace()).unwrap();
    assert_eq!(s.id, T);
    assert!((s.duration - 1.0).abs() < 1e-6);
    assert!((s.response_time - 1.0).abs() < 1e-6);
    assert!(!s.has_fault, "root is 200");
    assert!(!s.has_error);
    assert!(s.has_throttle, "a subsegment was throttled");
    assert!(!s.is_partial);
    let v = serde_json::to_value(&s).unwrap();
    assert_eq!(
        v["Http"],
        json!({"HttpURL":"http://api/x","HttpStatus":200,"HttpMethod":"GET","UserAgent":"ua","ClientIp":"10.0.0.1"})
    );
    assert_eq!(
        v["EntryPoint"],
        json!({"Name":"api","Names":["api"],"Type":"AWS::EC2::Instance"})
    );
    assert_eq!(
        v["Users"],
        json!([{"UserName":"ann","ServiceIds":[{"Name":"api","Names":["api"],"Type":"AWS::EC2::Instance"}]}])
    );
    assert_eq!(
        v["Annotations"]["tier"],
        json!([{"AnnotationValue":{"StringValue":"gold"},"ServiceIds":[
        {"Name":"api","Names":["api"],"Type":"AWS::EC2::Instance"},{"Name":"orders","Names":["orders"]}]}])
    );
    assert_eq!(
        v["Annotations"]["n"],
        json!([{"AnnotationValue":{"NumberValue":2.0},"ServiceIds":[{"Name":"api","Names":["api"],"Type":"AWS::EC2::Instance"}]}])
    );
    let names: Vec<&str> = v["ServiceIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["api", "orders", "DynamoDB"]);
    assert_eq!(v["ServiceIds"][2]["Type"], "AWS::DynamoDB");
    assert_eq!(v["InstanceIds"], json!([{"Id":"i-123"}]));
    assert_eq!(v["AvailabilityZones"], json!([{"Name":"us-east-1a"}]));
    assert_eq!(v["Revision"], 4);
}

#[test]
fn partial_when_in_progress_or_parent_missing() {
    let open = xray_events(&[format!(
        r#"{{"id":"00000000000000a1","name":"api","trace_id":"{T}","start_time":1795650488.0,"in_progress":true}}"#
    )]);
    assert!(trace_summary(&open).unwrap().is_partial);
    let orphan = xray_events(&[format!(
        r#"{{"id":"00000000000000b1","name":"orders","trace_id":"{T}","parent_id":"00000000000000a2","start_time":1795650488.2,"end_time":1795650488.8}}"#
    )]);
    let s = trace_summary(&orphan).unwrap();
    assert!(s.is_partial);
    assert_eq!(s.entry_point.unwrap().name, "orders");
}

fn by_name<'a>(services: &'a [J], name: &str) -> &'a J {
    services
        .iter()
        .find(|s| s["Name"] == name)
        .unwrap_or_else(|| panic!("no {name}"))
}

#[test]
fn xray_trace_graph() {
    let services = serde_json::to_value(trace_graph_services(&xray_trace())).unwrap();
    let services = services.as_array().unwrap();
    assert_eq!(services.len(), 4, "{services:#?}");
    let client = &services[0];
    assert_eq!(client["Type"], "client");
    assert_eq!(client["ReferenceId"], 0);
    let api = by_name(services, "api");
    let orders = by_name(services, "orders");
    let ddb = by_name(services, "DynamoDB");
    assert_eq!(client["Edges"].as_array().unwrap().len(), 1);
    assert_eq!(client["Edges"][0]["ReferenceId"], api["ReferenceId"]);
    assert_eq!(api["Root"], true);
    assert_eq!(api["Type"], "AWS::EC2::Instance");
    assert_eq!(api["State"], "active");
    assert_eq!(api["Edges"][0]["ReferenceId"], orders["ReferenceId"]);
    assert_eq!(api["SummaryStatistics"]["OkCount"], 1);
    assert_eq!(orders["Root"], false);
    assert_eq!(
        orders["SummaryStatistics"]["FaultStatistics"],
        json!({"OtherCount":1,"TotalCount":1})
    );
    assert_eq!(
        api["Edges"][0]["SummaryStatistics"]["FaultStatistics"]["TotalCount"],
        1
    );
    assert_eq!(orders["Edges"][0]["ReferenceId"], ddb["ReferenceId"]);
    assert_eq!(ddb["Type"], "AWS::DynamoDB");
    assert_eq!(
        ddb["SummaryStatistics"]["ErrorStatistics"],
        json!({"ThrottleCount":1,"OtherCount":0,"TotalCount":1})
    );
    assert_eq!(
        ddb["ResponseTimeHistogram"],
        json!([{"Value":0.1,"Count":1}])
    );
    let rt = orders["SummaryStatistics"]["TotalResponseTime"]
        .as_f64()
        .unwrap();
    assert!((rt - 0.6).abs() < 1e-6);
}

#[test]
fn graph_accumulates_across_batches() {
    let mut b = ServiceGraphBuilder::new();
    b.add(&xray_trace());
    b.add(&xray_trace());
    let services = serde_json::to_value(b.finish()).unwrap();
    let api = by_name(services.as_array().unwrap(), "api");
    assert_eq!(api["SummaryStatistics"]["TotalCount"], 2);
    assert_eq!(
        api["ResponseTimeHistogram"],
        json!([{"Value":1.0,"Count":2}])
    );
}

// ---- OTLP origin --------------------------------------------------------------------------

fn kv(k: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        key_strindex: 0,
    }
}
fn st(k: &str, v: &str) -> KeyValue {
    kv(k, any_value::Value::StringValue(v.into()))
}
fn int(k: &str, v: i64) -> KeyValue {
    kv(k, any_value::Value::IntValue(v))
}

const TRACE: [u8; 16] = [
    0x6b, 0x07, 0x73, 0xb8, 0xf3, 0x4c, 0xca, 0x3e, 0x4d, 0xc0, 0x4c, 0xf2, 0x52, 0x5f, 0xe3, 0xe2,
];
const T0: u64 = 1_795_650_488_000_000_000;
const MS: u64 = 1_000_000;

#[allow(clippy::too_many_arguments)]
fn otel_span(
    id: u8,
    parent: Option<u8>,
    name: &str,
    kind: span::SpanKind,
    start_ms: u64,
    end_ms: u64,
    attrs: Vec<KeyValue>,
    error: bool,
) -> Span {
    Span {
        trace_id: TRACE.to_vec(),
        span_id: vec![0, 0, 0, 0, 0, 0, 0, id],
        parent_span_id: parent
            .map(|p| vec![0, 0, 0, 0, 0, 0, 0, p])
            .unwrap_or_default(),
        name: name.into(),
        kind: kind as i32,
        start_time_unix_nano: T0 + start_ms * MS,
        end_time_unix_nano: T0 + end_ms * MS,
        attributes: attrs,
        status: error.then(|| Status {
            code: 2,
            message: "boom".into(),
        }),
        events: if error {
            vec![span::Event {
                name: "exception".into(),
                time_unix_nano: T0 + end_ms * MS,
                attributes: vec![st("exception.type", "KeyError"), st("exception.message", "'message'"),
                    st("exception.stacktrace", "Traceback (most recent call last):\n  File \"/app/app.py\", line 12, in create\n    x = d['message']\nKeyError: 'message'")],
                dropped_attributes_count: 0,
            }]
        } else {
            vec![]
        },
        ..Default::default()
    }
}

fn resource(service: &str, spans: Vec<Span>) -> ResourceSpans {
    ResourceSpans {
        resource: Some(Resource {
            attributes: vec![st("service.name", service), st("cloud.platform", "aws_ecs")],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            spans,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// frontend SERVER (new semconv, 500) → CLIENT to backend → backend SERVER (old semconv, error
/// status + exception) → backend INTERNAL → backend CLIENT to api.rollbar.com (untraced).
fn otlp_trace() -> Vec<Event> {
    use span::SpanKind as K;
    let req = ExportTraceServiceRequest {
        resource_spans: vec![
            resource(
                "frontend",
                vec![
                    otel_span(
                        1,
                        None,
                        "GET /home",
                        K::Server,
                        0,
                        100,
                        vec![
                            st("http.request.method", "GET"),
                            st("url.full", "http://front/home"),
                            int("http.response.status_code", 500),
                            st("user_agent.original", "curl"),
                            st("client.address", "10.1.1.1"),
                        ],
                        false,
                    ),
                    otel_span(
                        2,
                        Some(1),
                        "GET",
                        K::Client,
                        10,
                        90,
                        vec![
                            st("http.request.method", "GET"),
                            st("url.full", "http://backend:8080/api"),
                            st("server.address", "backend"),
                            int("http.response.status_code", 500),
                        ],
                        false,
                    ),
                ],
            ),
            resource(
                "backend",
                vec![
                    otel_span(
                        3,
                        Some(2),
                        "GET /api",
                        K::Server,
                        20,
                        80,
                        vec![
                            st("http.method", "GET"),
                            st("http.url", "http://backend:8080/api"),
                            int("http.status_code", 500),
                            st("app.tier", "gold"),
                        ],
                        true,
                    ),
                    otel_span(4, Some(3), "load", K::Internal, 30, 60, vec![], false),
                    otel_span(
                        5,
                        Some(4),
                        "POST",
                        K::Client,
                        40,
                        50,
                        vec![
                            st("http.method", "POST"),
                            st("http.url", "https://api.rollbar.com/api/1/item/"),
                            int("http.status_code", 200),
                        ],
                        false,
                    ),
                ],
            ),
        ],
    };
    let d = translate_traces(req, &Hints::default());
    assert_eq!(d.rejected, 0, "{:?}", d.message);
    d.events
}

#[test]
fn otlp_trace_as_segment_documents() {
    let out = trace_segments(&otlp_trace());
    let docs: Vec<J> = out
        .iter()
        .map(|s| serde_json::from_str(&s.document).unwrap())
        .collect();
    assert_eq!(docs.len(), 2, "{docs:#?}");
    let (front, back) = (&docs[0], &docs[1]);
    assert_eq!(out[0].id, "0000000000000001");
    assert_eq!(front["name"], "frontend");
    assert_eq!(front["trace_id"], T);
    assert_eq!(front["origin"], "AWS::ECS::Container");
    assert_eq!(front["fault"], true);
    assert_eq!(
        front["http"],
        json!({"request":{"method":"GET","url":"http://front/home","user_agent":"curl","client_ip":"10.1.1.1"},"response":{"status":500}})
    );
    assert!((front["start_time"].as_f64().unwrap() - 1_795_650_488.0).abs() < 1e-6);
    assert!((front["end_time"].as_f64().unwrap() - 1_795_650_488.1).abs() < 1e-6);
    assert!(front.get("parent_id").is_none());
    let call = &front["subsegments"][0];
    assert_eq!(call["name"], "backend");
    assert_eq!(call["namespace"], "remote");
    assert_eq!(call["type"], "subsegment");
    assert_eq!(call["parent_id"], "0000000000000001");
    assert_eq!(call["http"]["response"]["status"], 500);

    assert_eq!(back["name"], "backend");
    assert_eq!(back["parent_id"], "0000000000000002");
    assert_eq!(back["fault"], true);
    let ex = &back["cause"]["exceptions"][0];
    assert_eq!(ex["type"], "KeyError");
    assert_eq!(ex["message"], "'message'");
    assert_eq!(
        ex["stack"],
        json!([{"path":"/app/app.py","line":12,"label":"create"}])
    );
    assert_eq!(ex["id"].as_str().unwrap().len(), 16);
    assert_eq!(back["metadata"]["default"]["app.tier"], "gold");
    let load = &back["subsegments"][0];
    assert_eq!(load["name"], "load");
    assert!(load.get("namespace").is_none());
    let rollbar = &load["subsegments"][0];
    assert_eq!(rollbar["name"], "api.rollbar.com");
    assert_eq!(rollbar["namespace"], "remote");
}

#[test]
fn otlp_trace_summary() {
    let s = trace_summary(&otlp_trace()).unwrap();
    assert_eq!(s.id, T);
    assert!(s.has_fault);
    assert!(!s.has_error);
    assert!(!s.is_partial);
    assert!((s.response_time - 0.1).abs() < 1e-9);
    assert_eq!(s.http.http_url.as_deref(), Some("http://front/home"));
    assert_eq!(s.http.http_status, Some(500));
    assert_eq!(s.http.client_ip.as_deref(), Some("10.1.1.1"));
    let names: Vec<&str> = s.service_ids.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, ["frontend", "backend", "api.rollbar.com"]);
    assert_eq!(s.service_ids[2].type_.as_deref(), Some("remote"));
}

#[test]
fn otlp_trace_graph() {
    let services = serde_json::to_value(trace_graph_services(&otlp_trace())).unwrap();
    let services = services.as_array().unwrap();
    assert_eq!(services.len(), 4, "{services:#?}");
    let front = by_name(services, "frontend");
    let back = by_name(services, "backend");
    let rb = by_name(services, "api.rollbar.com");
    assert_eq!(services[0]["Edges"][0]["ReferenceId"], front["ReferenceId"]);
    assert_eq!(front["Type"], "AWS::ECS::Container");
    assert_eq!(front["Edges"].as_array().unwrap().len(), 1);
    assert_eq!(front["Edges"][0]["ReferenceId"], back["ReferenceId"]);
    assert_eq!(back["Edges"][0]["ReferenceId"], rb["ReferenceId"]);
    assert_eq!(
        back["SummaryStatistics"]["FaultStatistics"]["TotalCount"],
        1
    );
    assert_eq!(rb["Type"], "remote");
    assert_eq!(rb["SummaryStatistics"]["OkCount"], 1);
}

#[test]
fn mixed_protocols_meet_in_one_graph() {
    let mut events = otlp_trace();
    events.extend(xray_trace());
    let services = serde_json::to_value(trace_graph_services(&events)).unwrap();
    let services = services.as_array().unwrap();
    let clients = services.iter().filter(|s| s["Type"] == "client").count();
    assert_eq!(clients, 1);
    assert_eq!(services.len(), 7);
}

// ---- Hostile event sets -------------------------------------------------------------------

use proptest::prelude::*;

proptest! {
    /// Parent links in any shape (cycles, self-parents, chains deeper than the nesting bound,
    /// mixed origins, missing durations) never panic the read direction.
    #[test]
    fn arbitrary_span_graphs_never_panic(spans in proptest::collection::vec((0u64..80, proptest::option::of(0u64..80), 0usize..4, any::<bool>(), proptest::option::of(-1e3f64..1e6)), 0..80)) {
        let trace = model::TraceId::parse(T).unwrap();
        let kinds = ["server", "client", "internal", "producer"];
        let events: Vec<Event> = spans.iter().map(|(id, parent, kind, xray, dur)| {
            let mut e = Event::new(format!("svc{}", id % 3), 1_795_650_488_000_000_000 + *id as i64, model::SignalKind::Span);
            e.trace_id = Some(trace);
            e.span_id = Some(model::SpanId::from_u64(id + 1));
            e.parent_id = parent.map(|p| model::SpanId::from_u64(p + 1));
            e.service = e.dataset.clone().into();
            e.duration_ms = *dur;
            e.set("span.kind", model::Value::Str(kinds[*kind].into()));
            if *xray {
                e.set("aws.xray.type", model::Value::Str(if *kind == 0 { "segment" } else { "subsegment" }.into()));
                e.set("aws.xray.namespace", model::Value::Str("remote".into()));
            }
            e
        }).collect();
        let out = trace_segments(&events);
        for s in &out {
            let _: J = serde_json::from_str(&s.document).unwrap();
        }
        let _ = trace_summary(&events);
        let _ = trace_graph_services(&events);
    }
}

#[test]
fn a_parent_chain_deeper_than_the_bound_splits_into_documents() {
    let trace = model::TraceId::parse(T).unwrap();
    let events: Vec<Event> = (0..500u64)
        .map(|i| {
            let mut e = Event::new(
                "svc",
                1_795_650_488_000_000_000 + i as i64,
                model::SignalKind::Span,
            );
            e.trace_id = Some(trace);
            e.span_id = Some(model::SpanId::from_u64(i + 1));
            e.parent_id = (i > 0).then(|| model::SpanId::from_u64(i));
            e.duration_ms = Some(1.0);
            e
        })
        .collect();
    let out = trace_segments(&events);
    assert!(out.len() > 1 && out.len() < 500, "{}", out.len());
}
