//! Generator properties and tiny end-to-end runs against throwaway servers on port 0.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyV;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use waggle_loadgen::{
    honeycomb_batch, otlp_trace_bodies, otlp_trace_requests, run, GenConfig, LoadConfig, Mode,
    Protocol, Stop,
};

/// 2023-03-05T00:00:00Z, so generated payloads are reproducible.
const NOW: u64 = 1_677_974_400_000_000_000;

fn small_gen() -> GenConfig {
    GenConfig {
        seed: 42,
        requests: 8,
        spans_per_request: 512,
        now_unix_nano: Some(NOW),
        ..GenConfig::default()
    }
}

fn spans(req: &ExportTraceServiceRequest) -> impl Iterator<Item = &Span> {
    req.resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
}

fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a AnyV> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

#[test]
fn generation_is_deterministic_per_seed() {
    let a = otlp_trace_bodies(&small_gen());
    let b = otlp_trace_bodies(&small_gen());
    assert_eq!(a, b);
    let c = otlp_trace_bodies(&GenConfig {
        seed: 43,
        ..small_gen()
    });
    assert_ne!(a, c);
}

#[test]
fn requests_have_batch_size_and_decode_back() {
    let cfg = small_gen();
    let reqs = otlp_trace_requests(&cfg);
    assert_eq!(reqs.len(), 8);
    for (req, body) in reqs.iter().zip(otlp_trace_bodies(&cfg)) {
        assert_eq!(spans(req).count(), 512);
        let decoded = ExportTraceServiceRequest::decode(body).unwrap();
        assert_eq!(&decoded, req);
        let res = decoded.resource_spans[0].resource.as_ref().unwrap();
        let keys: Vec<&str> = res.attributes.iter().map(|kv| kv.key.as_str()).collect();
        for k in ["service.name", "telemetry.sdk.version", "host.name"] {
            assert!(keys.contains(&k), "resource lacks {k}");
        }
    }
}

#[test]
fn spans_look_like_cruddur() {
    let reqs = otlp_trace_requests(&GenConfig {
        requests: 40,
        ..small_gen()
    });
    let all: Vec<&Span> = reqs.iter().flat_map(spans).collect();
    let n = all.len() as f64;

    // About 10 attributes per span; server spans carry the full http.* set.
    let attrs: usize = all.iter().map(|s| s.attributes.len()).sum();
    let mean = attrs as f64 / n;
    assert!(
        (7.0..=13.0).contains(&mean),
        "mean attributes per span {mean}"
    );
    let servers: Vec<&&Span> = all.iter().filter(|s| s.kind == 2).collect();
    assert!(servers.len() as f64 > n * 0.25, "too few server spans");
    for s in &servers {
        assert!(s.attributes.len() >= 10);
        assert!(matches!(
            attr(s, "http.status_code"),
            Some(AnyV::IntValue(_))
        ));
        assert!(matches!(attr(s, "http.route"), Some(AnyV::StringValue(r)) if r == &s.name));
    }
    assert!(all.iter().any(|s| s.name == "/api/activities/home"));
    assert!(all.iter().any(|s| s.name == "home-activities-mock-data"
        && matches!(attr(s, "app.result_length"), Some(AnyV::IntValue(3)))));
    assert!(all.iter().any(|s| matches!(attr(s, "http.target"), Some(AnyV::StringValue(t)) if t == "/api/activities/@worf")));

    // A few percent of server spans are 5xx with status ERROR and an exception event.
    let errors = servers
        .iter()
        .filter(|s| s.status.as_ref().is_some_and(|st| st.code == 2))
        .count() as f64;
    let rate = errors / servers.len() as f64;
    assert!((0.01..=0.15).contains(&rate), "server error rate {rate}");
    assert!(servers
        .iter()
        .any(|s| s.events.iter().any(|e| e.name == "exception")));

    // Long tail: the slowest server span is far above the median.
    let mut durations: Vec<u64> = servers
        .iter()
        .map(|s| s.end_time_unix_nano - s.start_time_unix_nano)
        .collect();
    durations.sort_unstable();
    let median = durations[durations.len() / 2];
    let max = *durations.last().unwrap();
    assert!(max > 20 * median, "max {max} vs median {median}");

    // Timestamps within the spread window before "now" (plus the longest outlier).
    let spread = GenConfig::default().spread.as_nanos() as u64;
    for s in &all {
        assert!(s.start_time_unix_nano >= NOW - spread);
        assert!(s.start_time_unix_nano < NOW + 60_000_000_000);
        assert!(s.end_time_unix_nano >= s.start_time_unix_nano);
    }

    // High cardinality: many distinct traces and activity uuids.
    let traces: std::collections::HashSet<&[u8]> =
        all.iter().map(|s| s.trace_id.as_slice()).collect();
    assert!(traces.len() > 5_000, "{} traces", traces.len());
}

#[test]
fn honeycomb_events_use_husky_field_names() {
    let req = &otlp_trace_requests(&small_gen())[0];
    let events = honeycomb_batch(req);
    let span_events: usize = spans(req).map(|s| s.events.len()).sum();
    assert_eq!(events.len(), 512 + span_events);
    let mut roots = 0;
    for ev in &events {
        let data = ev["data"].as_object().unwrap();
        assert!(ev["time"].as_str().unwrap().starts_with("2023-03-04T23:"));
        assert_eq!(data["service.name"], "backend-flask");
        assert_eq!(data["trace.trace_id"].as_str().unwrap().len(), 32);
        if data.contains_key("meta.annotation_type") {
            assert_eq!(data["meta.annotation_type"], "span_event");
            assert!(data.contains_key("parent_name"));
            continue;
        }
        assert!(data["duration_ms"].is_f64());
        assert!(data.contains_key("span.kind") && data.contains_key("name"));
        if !data.contains_key("trace.parent_id") {
            roots += 1;
        }
        if data["span.kind"] == "server" {
            assert!(data["http.status_code"].is_i64());
        }
    }
    assert!(roots > 100);
}

#[test]
fn cycled_bodies_get_fresh_trace_ids() {
    let gen = small_gen();
    for w in [
        Protocol::OtlpHttpProtobuf.workload("backend-flask", Default::default()),
        Protocol::HoneycombBatch.workload("backend-flask", Default::default()),
    ] {
        let prepared = w.prepare(&gen).unwrap();
        let p = &prepared[0];
        assert!(p.trace_id_offsets.len() >= 512, "{}", w.name());
        let again = p.body_for_cycle(3);
        assert_eq!(again.len(), p.body.len());
        assert_ne!(again, p.body);
        assert_eq!(p.body_for_cycle(3), again, "deterministic per cycle");
        if w.name() == "otlp-http-protobuf" {
            let a = ExportTraceServiceRequest::decode(p.body.clone()).unwrap();
            let b = ExportTraceServiceRequest::decode(again).unwrap();
            for (x, y) in spans(&a).zip(spans(&b)) {
                assert_eq!(x.trace_id[..8], y.trace_id[..8]);
                assert_ne!(x.trace_id[8..], y.trace_id[8..]);
                assert_eq!(x.span_id, y.span_id);
            }
        } else {
            let v: serde_json::Value = serde_json::from_slice(&again).unwrap();
            assert_eq!(v.as_array().unwrap().len() as u64, p.items);
        }
    }
}

#[test]
fn config_limits_are_enforced() {
    let bad = LoadConfig {
        concurrency: 0,
        ..LoadConfig::default()
    };
    assert!(bad.validate().is_err());
    let bad = LoadConfig {
        gen: GenConfig {
            spans_per_request: 1_000_000,
            ..GenConfig::default()
        },
        ..LoadConfig::default()
    };
    assert!(bad.validate().is_err());
    assert!(LoadConfig::default().validate().is_ok());
    assert!("grpc".parse::<Protocol>().is_ok());
    assert!("carrier-pigeon".parse::<Protocol>().is_err());
}

/// Spans the throwaway OTLP/HTTP server decoded, and requests it saw.
#[derive(Default)]
struct Counts {
    spans: AtomicU64,
    requests: AtomicU64,
}

async fn otlp_http(State(c): State<Arc<Counts>>, body: Bytes) -> (StatusCode, Vec<u8>) {
    match ExportTraceServiceRequest::decode(body) {
        Ok(req) => {
            c.spans
                .fetch_add(spans(&req).count() as u64, Ordering::Relaxed);
            c.requests.fetch_add(1, Ordering::Relaxed);
            (
                StatusCode::OK,
                ExportTraceServiceResponse::default().encode_to_vec(),
            )
        }
        Err(_) => (StatusCode::BAD_REQUEST, Vec::new()),
    }
}

async fn honeycomb(State(c): State<Arc<Counts>>, body: Bytes) -> (StatusCode, String) {
    let events: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap_or_default();
    c.spans.fetch_add(events.len() as u64, Ordering::Relaxed);
    c.requests.fetch_add(1, Ordering::Relaxed);
    // Refuse the first event of every batch, to exercise per-event statuses.
    let statuses: Vec<String> = (0..events.len())
        .map(|i| {
            if i == 0 {
                r#"{"status":429}"#
            } else {
                r#"{"status":202}"#
            }
            .to_string()
        })
        .collect();
    (StatusCode::OK, format!("[{}]", statuses.join(",")))
}

async fn serve(counts: Arc<Counts>) -> String {
    let app = Router::new()
        .route("/v1/traces", post(otlp_http))
        .route("/1/batch/{dataset}", post(honeycomb))
        .with_state(counts);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

fn quick(protocol: Protocol, target: String) -> LoadConfig {
    LoadConfig {
        protocol,
        target,
        gen: GenConfig {
            requests: 4,
            spans_per_request: 128,
            ..small_gen()
        },
        concurrency: 2,
        warmup: Duration::ZERO,
        stop: Stop::Requests(10),
        server_pid: Some(std::process::id()),
        ..LoadConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loop_otlp_http_counts_every_span() {
    let counts = Arc::new(Counts::default());
    let target = serve(Arc::clone(&counts)).await;
    let report = run(quick(Protocol::OtlpHttpProtobuf, target))
        .await
        .unwrap();
    assert_eq!(report.requests_ok, 10, "{report}");
    assert_eq!(report.requests_failed + report.requests_refused, 0);
    assert_eq!(report.items_accepted, 1280);
    assert_eq!(counts.spans.load(Ordering::Relaxed), 1280);
    assert_eq!(report.latency_ms.count, 10);
    assert!(report.latency_ms.max >= report.latency_ms.p50);
    let server = report.server.clone().unwrap();
    assert!(server.rss_max_bytes > 0 && server.samples >= 2);
    let text = report.to_string();
    assert!(text.contains("spans/s accepted"), "{text}");
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["requests_ok"], 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timed_runs_stop_by_themselves() {
    let counts = Arc::new(Counts::default());
    let target = serve(Arc::clone(&counts)).await;
    let started = std::time::Instant::now();
    let report = run(LoadConfig {
        warmup: Duration::from_millis(100),
        stop: Stop::After(Duration::from_millis(300)),
        ..quick(Protocol::OtlpHttpProtobuf, target.clone())
    })
    .await
    .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(report.requests_ok > 0);
    assert_eq!(report.items_accepted, report.requests_ok * 128);

    // Open loop at 12,800 spans/s = 100 requests/s for 0.3 s ≈ 30 requests.
    let report = run(LoadConfig {
        mode: Mode::OpenLoop {
            items_per_s: 12_800.0,
        },
        stop: Stop::After(Duration::from_millis(300)),
        ..quick(Protocol::OtlpHttpProtobuf, target)
    })
    .await
    .unwrap();
    // Scheduled = ceil(300 ms / 10 ms); each either ran or is counted as missed.
    assert_eq!(report.requests_ok + report.requests_missed, 30, "{report}");
    assert_eq!(report.target_items_per_s, Some(12_800.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honeycomb_batch_counts_rejected_events() {
    let counts = Arc::new(Counts::default());
    let target = serve(Arc::clone(&counts)).await;
    let report = run(quick(Protocol::HoneycombBatch, target)).await.unwrap();
    assert_eq!(report.requests_ok, 10, "{report}");
    assert_eq!(report.items_sent, counts.spans.load(Ordering::Relaxed));
    assert_eq!(report.items_rejected, 10);
    assert_eq!(report.items_accepted, report.items_sent - 10);
    assert_eq!(report.item_kind, "events");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_and_failed_are_told_apart() {
    // Reads the body first: a server that answers before reading a large body may reset
    // the connection, and the client then sees a broken pipe instead of the 503.
    async fn busy(_body: axum::body::Bytes) -> StatusCode {
        StatusCode::SERVICE_UNAVAILABLE
    }
    let app = Router::new().route("/v1/traces", post(busy));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let report = run(quick(Protocol::OtlpHttpProtobuf, format!("http://{addr}")))
        .await
        .unwrap();
    assert_eq!(report.requests_refused, 10, "{report}");
    assert_eq!(report.items_accepted, 0);

    // Nothing listens on this port: connection errors are failures, and the run ends.
    // The socket stays bound (never listening) so no other test can take the port.
    let dead = tokio::net::TcpSocket::new_v4().unwrap();
    dead.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = dead.local_addr().unwrap().port();
    let report = run(quick(
        Protocol::OtlpHttpProtobuf,
        format!("http://127.0.0.1:{port}"),
    ))
    .await
    .unwrap();
    assert_eq!(report.requests_failed, 10, "{report}");
    assert!(!report.errors.is_empty());
    drop(dead);
}

struct GrpcCounter(Arc<Counts>);

#[tonic::async_trait]
impl TraceService for GrpcCounter {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let n = spans(request.get_ref()).count() as u64;
        self.0.spans.fetch_add(n, Ordering::Relaxed);
        self.0.requests.fetch_add(1, Ordering::Relaxed);
        // Report one rejected span per request.
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: 1,
                error_message: "one too many".into(),
            }),
        }))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loop_grpc_counts_every_span() {
    let counts = Arc::new(Counts::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let svc = TraceServiceServer::new(GrpcCounter(Arc::clone(&counts)));
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(svc)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    let report = run(quick(Protocol::OtlpGrpc, format!("http://{addr}")))
        .await
        .unwrap();
    assert_eq!(report.requests_ok, 10, "{report}");
    assert_eq!(counts.spans.load(Ordering::Relaxed), 1280);
    assert_eq!(report.items_rejected, 10);
    assert_eq!(report.items_accepted, 1270);
}

#[test]
fn gzip_bodies_decompress_to_the_same_protobuf() {
    use std::io::Read;
    let gen = small_gen();
    let plain = Protocol::OtlpHttpProtobuf
        .workload("backend-flask", waggle_loadgen::Compression::None)
        .prepare(&gen)
        .unwrap();
    let gz = Protocol::OtlpHttpProtobuf
        .workload("backend-flask", waggle_loadgen::Compression::Gzip)
        .prepare(&gen)
        .unwrap();
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&gz[0].body[..])
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out, plain[0].body);
    assert!(gz[0].body.len() < plain[0].body.len() / 2);
    assert!(gz[0].trace_id_offsets.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_latency_includes_queueing() {
    // A server taking 40 ms per request, one connection, 50 requests/s scheduled: the
    // backlog grows by 0.5 request per 20 ms, so later requests wait for earlier ones.
    async fn slow(body: Bytes) -> StatusCode {
        tokio::time::sleep(Duration::from_millis(40)).await;
        drop(body);
        StatusCode::OK
    }
    let app = Router::new().route("/v1/traces", post(slow));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let base = LoadConfig {
        concurrency: 1,
        stop: Stop::After(Duration::from_millis(600)),
        server_pid: None,
        ..quick(Protocol::OtlpHttpProtobuf, format!("http://{addr}"))
    };
    let open = run(LoadConfig {
        mode: Mode::OpenLoop {
            items_per_s: 128.0 * 50.0,
        },
        ..base.clone()
    })
    .await
    .unwrap();
    let closed = run(base).await.unwrap();
    assert!(closed.latency_ms.p50 < 100.0, "{closed}");
    // Request k starts at ~40k ms but was scheduled at 20k ms: the 15th waits ~280 ms.
    assert!(open.latency_ms.max > 200.0, "{open}");
    assert!(open.requests_missed > 0, "{open}");
}

/// A throwaway Rollbar item endpoint: answers `status` after recording the token and uuid.
#[derive(Default)]
struct RollbarSeen {
    uuids: std::sync::Mutex<Vec<String>>,
    tokens: std::sync::Mutex<Vec<String>>,
}

async fn serve_rollbar(seen: Arc<RollbarSeen>, status: StatusCode) -> String {
    let app = Router::new()
        .route(
            "/api/1/item/",
            post(
                move |State(s): State<Arc<RollbarSeen>>,
                      headers: axum::http::HeaderMap,
                      body: Bytes| async move {
                    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    let uuid = v["data"]["uuid"].as_str().unwrap().to_string();
                    s.uuids.lock().unwrap().push(uuid.clone());
                    let token = headers
                        .get("x-rollbar-access-token")
                        .and_then(|t| t.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    s.tokens.lock().unwrap().push(token);
                    let answer = if status == StatusCode::OK {
                        serde_json::json!({"err": 0, "result": {"id": null, "uuid": uuid}})
                    } else {
                        serde_json::json!({"err": 1, "message": "retry later"})
                    };
                    (status, answer.to_string())
                },
            ),
        )
        .with_state(seen);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollbar_items_are_accepted_with_fresh_uuids_or_refused() {
    let seen = Arc::new(RollbarSeen::default());
    let target = serve_rollbar(Arc::clone(&seen), StatusCode::OK).await;
    // 4 prepared requests sent 10 times: cycles 1 and 2 re-send them with patched ids.
    let report = run(quick(Protocol::RollbarItem, target)).await.unwrap();
    assert_eq!(report.requests_ok, 10, "{report}");
    assert_eq!(report.items_accepted, 10);
    assert_eq!(report.item_kind, "occurrences");
    assert_eq!(report.workload, "rollbar-item");
    assert!(report.url.ends_with("/api/1/item/"), "{}", report.url);
    let uuids = seen.uuids.lock().unwrap().clone();
    let distinct: std::collections::HashSet<_> = uuids.iter().collect();
    assert_eq!((uuids.len(), distinct.len()), (10, 10));
    assert!(seen.tokens.lock().unwrap().iter().all(|t| t == "bench"));

    for status in [
        StatusCode::TOO_MANY_REQUESTS,
        StatusCode::SERVICE_UNAVAILABLE,
    ] {
        let target = serve_rollbar(Arc::default(), status).await;
        let report = run(quick(Protocol::RollbarItem, target)).await.unwrap();
        assert_eq!(report.requests_refused, 10, "{report}");
        assert_eq!((report.requests_ok, report.items_accepted), (0, 0));
    }

    let gz = LoadConfig {
        compression: waggle_loadgen::Compression::Gzip,
        ..quick(Protocol::RollbarItem, "http://127.0.0.1:1".into())
    };
    assert!(gz.validate().is_err());
}
