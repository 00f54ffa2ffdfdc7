//! The shared edge, end to end over real sockets on 127.0.0.1: every mounted route and gRPC
//! service refuses a missing or wrong key in its protocol's shape and accepts a right one;
//! the key is checked before the body is read; slow and idle clients are cut off by the
//! timeouts; the connection limit holds; every receiver decodes within the shared budget.
//! Timeouts are injected small, so each test ends by itself within a few seconds.

#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use store::{DuckStore, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use waggle_server::{ApiKeys, Limits, Pipeline, Server, ServerConfig};

const KEY: &str = "right-key";

struct Running {
    http: SocketAddr,
    grpc: SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start(api_keys: ApiKeys, limits: Limits) -> Running {
    let store: Arc<dyn Store> = Arc::new(DuckStore::open_in_memory().unwrap());
    let (pipeline, _writer) = Pipeline::start(store.clone());
    let server = Server::bind(
        ServerConfig {
            api_keys,
            limits,
            ..ServerConfig::loopback()
        },
        store,
        pipeline,
    )
    .await
    .unwrap();
    let (http, grpc) = (server.http_addr, server.otlp_grpc_addr);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    Running {
        http,
        grpc,
        _stop: stop,
    }
}

fn keyed() -> ApiKeys {
    ApiKeys::new([KEY]).unwrap()
}

/// A concrete path for a route template.
fn concrete(template: &str) -> String {
    template
        .replace("{dataset}", "edge-ds")
        .replace("{id}", "0af7651916cd43dd8448eb211c80319c")
        .replace("{tag}", "service.name")
        .replace("{*rest}", "api/waggle/datasets")
}

fn spans() -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: (0..4u8)
                    .map(|i| Span {
                        trace_id: vec![7; 16],
                        span_id: vec![i + 1; 8],
                        name: format!("span {i} with a name long enough to weigh something"),
                        start_time_unix_nano: 1_800_000_000_000_000_000,
                        end_time_unix_nano: 1_800_000_000_001_000_000,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_refuses_a_missing_or_wrong_key_and_accepts_a_right_one() {
    let routes = waggle_server::http_routes();
    // The list comes from the router constructors; make sure it is the real one.
    for known in [
        "/v1/traces",
        "/1/batch/{dataset}",
        "/1/query_results/{dataset}/{id}",
    ] {
        assert!(
            routes.iter().any(|(_, _, p)| *p == known),
            "{known} missing"
        );
    }
    assert!(routes.len() >= 30, "only {} routes listed", routes.len());
    let app = start(keyed(), Limits::default()).await;
    let client = reqwest::Client::new();
    // Every way a client presents the key, rotated over the routes.
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("user:{KEY}"));
    let presentations = [
        ("x-honeycomb-team", KEY.to_string()),
        ("authorization", format!("Bearer {KEY}")),
        ("authorization", format!("bearer {KEY}")),
        ("authorization", format!("Basic {basic}")),
    ];
    for (i, (protocol, method, template)) in routes.iter().enumerate() {
        let url = format!("http://{}{}", app.http, concrete(template));
        let send = |header: Option<(&str, String)>| {
            let mut rb = client.request(method.clone(), &url).body("{}");
            if let Some((name, value)) = header {
                rb = rb.header(name, value);
            }
            rb.send()
        };
        for (what, header) in [
            ("missing", None),
            ("wrong", Some(("x-honeycomb-team", "wrong-key".to_string()))),
            ("longer", Some(("authorization", format!("Bearer {KEY}x")))),
        ] {
            let r = send(header).await.unwrap();
            assert_eq!(r.status(), 401, "{method} {template}: {what} key");
            let ct = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            let body = r.bytes().await.unwrap();
            match *protocol {
                "otlp_http" => {
                    assert_eq!(ct, "application/x-protobuf", "{template}");
                    assert!(!body.is_empty(), "{template}: no Status body");
                }
                "honeycomb" | "honeycomb_query" => {
                    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    assert!(v["error"].is_string(), "{template}: {v}");
                }
                "tempo" | "waggle_api" | "ui" => assert!(!body.is_empty(), "{template}"),
                other => panic!("route of unknown protocol {other}: say how it refuses"),
            }
        }
        let (name, value) = presentations[i % presentations.len()].clone();
        let r = send(Some((name, value.clone()))).await.unwrap();
        assert_ne!(
            r.status(),
            401,
            "{method} {template} refused {name}: {value}"
        );
    }

    // gRPC: every service the listener mounts, through the interceptor.
    let endpoint = format!("http://{}", app.grpc);
    for service in waggle_server::grpc_services() {
        for key in [None, Some("wrong-key"), Some(KEY)] {
            let code = grpc_export(&endpoint, service, key).await;
            let want = if key == Some(KEY) {
                tonic::Code::Ok
            } else {
                tonic::Code::Unauthenticated
            };
            assert_eq!(code, want, "{service} with key {key:?}");
        }
    }
}

fn with_key<T>(msg: T, key: Option<&str>) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    if let Some(k) = key {
        req.metadata_mut()
            .insert("x-honeycomb-team", k.parse().unwrap());
    }
    req
}

async fn grpc_export(endpoint: &str, service: &str, key: Option<&str>) -> tonic::Code {
    let code = |r: Result<(), tonic::Status>| r.err().map_or(tonic::Code::Ok, |s| s.code());
    match service {
        "opentelemetry.proto.collector.trace.v1.TraceService" => {
            let mut c = TraceServiceClient::connect(endpoint.to_string())
                .await
                .unwrap();
            code(c.export(with_key(spans(), key)).await.map(drop))
        }
        "opentelemetry.proto.collector.logs.v1.LogsService" => {
            let mut c = LogsServiceClient::connect(endpoint.to_string())
                .await
                .unwrap();
            let req = ExportLogsServiceRequest::default();
            code(c.export(with_key(req, key)).await.map(drop))
        }
        "opentelemetry.proto.collector.metrics.v1.MetricsService" => {
            let mut c = MetricsServiceClient::connect(endpoint.to_string())
                .await
                .unwrap();
            let req = ExportMetricsServiceRequest::default();
            code(c.export(with_key(req, key)).await.map(drop))
        }
        other => panic!("gRPC service {other} is mounted but not walked: add it here"),
    }
}

/// A valid gzip member holding `data` in one stored (uncompressed) deflate block (RFC 1951
/// §3.2.4, RFC 1952), so the test needs no compressor.
fn gzip_stored(data: &[u8]) -> Vec<u8> {
    assert!(data.len() <= 0xffff);
    let crc = {
        let mut c = 0xffff_ffffu32;
        for &b in data {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    (c >> 1) ^ 0xedb8_8320
                } else {
                    c >> 1
                };
            }
        }
        !c
    };
    let len = data.len() as u16;
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 1];
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// The status line of the first response on `stream`, or None if none arrives within `wait`.
async fn status_line(stream: &mut TcpStream, wait: Duration) -> Option<String> {
    let mut buf = Vec::new();
    let deadline = Instant::now() + wait;
    while !buf.windows(2).any(|w| w == b"\r\n") {
        let left = deadline.checked_duration_since(Instant::now())?;
        let mut chunk = [0u8; 1024];
        match tokio::time::timeout(left, stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return None,
        }
    }
    let text = String::from_utf8_lossy(&buf).to_string();
    text.lines().next().map(str::to_string)
}

/// Waits (bounded) until the server closes `stream`; returns how long that took.
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut chunk = [0u8; 4096];
    while started.elapsed() < wait {
        match tokio::time::timeout(Duration::from_millis(100), stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) | Err(_) => {}
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_is_checked_before_the_body_is_read() {
    let app = start(keyed(), Limits::default()).await;
    for path in ["/v1/traces", "/1/batch/edge-ds", "/1/queries/edge-ds"] {
        let mut s = TcpStream::connect(app.http).await.unwrap();
        // Announces a body and never sends it: only a check on the head can answer.
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             X-Honeycomb-Team: wrong-key\r\nContent-Length: 100000\r\n\r\n"
        );
        s.write_all(head.as_bytes()).await.unwrap();
        let line = status_line(&mut s, Duration::from_secs(3)).await;
        assert_eq!(
            line.as_deref(),
            Some("HTTP/1.1 401 Unauthorized"),
            "{path}: no answer before the body"
        );
    }
}

fn short(header_read: Duration, request: Duration) -> Limits {
    Limits {
        header_read_timeout: header_read,
        request_timeout: request,
        ..Limits::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_headers_are_cut_off_at_the_header_timeout() {
    let app = start(
        ApiKeys::default(),
        short(Duration::from_secs(1), Duration::from_secs(30)),
    )
    .await;
    let mut s = TcpStream::connect(app.http).await.unwrap();
    s.write_all(b"GET /api/echo HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut closed = false;
    // One header byte every 200 ms, at most 40 times (8 s): the server must hang up first.
    for _ in 0..40 {
        if s.write_all(b"a").await.is_err() {
            closed = true;
            break;
        }
        let mut chunk = [0u8; 256];
        match tokio::time::timeout(Duration::from_millis(200), s.read(&mut chunk)).await {
            Ok(Ok(_)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Err(_) => {}
        }
    }
    assert!(closed, "a client trickling headers was never cut off");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "cut off after {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_are_closed() {
    let app = start(
        ApiKeys::default(),
        short(Duration::from_secs(1), Duration::from_secs(30)),
    )
    .await;
    let mut s = TcpStream::connect(app.http).await.unwrap();
    s.write_all(b"GET /api/echo HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let line = status_line(&mut s, Duration::from_secs(3)).await;
    assert_eq!(line.as_deref(), Some("HTTP/1.1 200 OK"));
    let took = closed_within(&mut s, Duration::from_secs(5)).await;
    assert!(
        took.is_some_and(|t| t < Duration::from_secs(3)),
        "idle connection kept: {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_body_times_out_with_the_protocols_answer() {
    let app = start(
        ApiKeys::default(),
        short(Duration::from_secs(10), Duration::from_secs(1)),
    )
    .await;
    let cases = [
        ("/v1/traces", "application/x-protobuf", "HTTP/1.1 503"),
        ("/1/batch/edge-ds", "application/json", "HTTP/1.1 503"),
    ];
    for (path, ct, want) in cases {
        let mut s = TcpStream::connect(app.http).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {ct}\r\nContent-Length: 1000\r\n\r\n"
        );
        s.write_all(head.as_bytes()).await.unwrap();
        s.write_all(&[b'['; 10]).await.unwrap();
        let started = Instant::now();
        let line = status_line(&mut s, Duration::from_secs(4)).await;
        assert!(
            line.as_deref().is_some_and(|l| l.starts_with(want)),
            "{path}: {line:?} after {:?}",
            started.elapsed()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_limit_wait_for_a_free_slot() {
    let app = start(
        ApiKeys::default(),
        Limits {
            connections_max: 2,
            ..short(Duration::from_secs(10), Duration::from_secs(10))
        },
    )
    .await;
    let mut idle1 = TcpStream::connect(app.http).await.unwrap();
    let _idle2 = TcpStream::connect(app.http).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut third = TcpStream::connect(app.http).await.unwrap();
    third
        .write_all(b"GET /api/echo HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(
        status_line(&mut third, Duration::from_millis(800)).await,
        None,
        "a third connection was served while two held both slots"
    );
    idle1.shutdown().await.unwrap();
    drop(idle1);
    let line = status_line(&mut third, Duration::from_secs(3)).await;
    assert_eq!(line.as_deref(), Some("HTTP/1.1 200 OK"), "slot never freed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_receiver_decodes_within_the_shared_budget() {
    // A budget smaller than any of these requests: each receiver must ask it, and refuse.
    let app = start(
        ApiKeys::default(),
        Limits {
            decode_budget_bytes: 16,
            ..Limits::default()
        },
    )
    .await;
    let client = reqwest::Client::new();
    let otlp = client
        .post(format!("http://{}/v1/traces", app.http))
        .header("content-type", "application/x-protobuf")
        .body(spans().encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(otlp.status(), 429);
    assert!(otlp.headers().contains_key("retry-after"));
    let batch: Vec<_> = (0..5)
        .map(|i| serde_json::json!({ "data": { "i": i, "pad": "xxxxxxxxxxxxxxxx" } }))
        .collect();
    let gz = gzip_stored(&serde_json::to_vec(&batch).unwrap());
    for (encoding, body) in [
        (None, serde_json::to_vec(&batch).unwrap()),
        (Some("gzip"), gz),
    ] {
        let mut rb = client
            .post(format!("http://{}/1/batch/edge-ds", app.http))
            .header("content-type", "application/json")
            .body(body);
        if let Some(e) = encoding {
            rb = rb.header("content-encoding", e);
        }
        let r = rb.send().await.unwrap();
        assert_eq!(r.status(), 429, "Honeycomb batch ({encoding:?})");
        assert!(r.headers().contains_key("retry-after"));
        let v: serde_json::Value = r.json().await.unwrap();
        assert!(v["error"].is_string(), "{v}");
    }
    let single = client
        .post(format!("http://{}/1/events/edge-ds", app.http))
        .header("content-type", "application/json")
        .body(r#"{"name": "an event bigger than sixteen bytes"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(single.status(), 429, "Honeycomb single event");
    let mut grpc = TraceServiceClient::connect(format!("http://{}", app.grpc))
        .await
        .unwrap();
    let status = grpc.export(spans()).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
}

/// Tidy check (rust-analyzer style): routes reach a listener only through `edge::Routes`,
/// which mounts them under the bounds and a credential layer. A `.route(` anywhere else
/// would bypass both.
#[test]
fn no_route_is_added_outside_the_edge() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") || path.ends_with("edge.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for needle in [".route(", ".nest(", ".fallback(", "route_service("] {
            assert!(
                !text.contains(needle),
                "{} uses {needle}: add routes through edge::Routes so they get auth and limits",
                path.display()
            );
        }
        checked += 1;
    }
    assert!(checked >= 5);
}

/// The AWS listeners (X-Ray and CloudWatch Logs on the main port, X-Ray on the daemon's TCP
/// port) are under the same bounds: trickled headers are cut off on both ports, an announced
/// body over the AWS cap is refused before it is read, and a half-sent body times out with
/// the service's own retryable error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_listeners_share_the_bounds() {
    use waggle_server::aws::AwsAuth;
    let store: Arc<dyn Store> = Arc::new(DuckStore::open_in_memory().unwrap());
    let (pipeline, _writer) = Pipeline::start(store.clone());
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = Server::bind(
        ServerConfig {
            api_keys: keyed(),
            limits: short(Duration::from_secs(1), Duration::from_secs(1)),
            xray: Some(waggle_server::xray::XrayConfig {
                daemon_addr: any,
                account_id: "123456789012".into(),
                region: "us-east-1".into(),
                auth: AwsAuth::default(),
            }),
            cloudwatch_logs: Some(waggle_server::cloudwatch_logs::LogsConfig {
                account_id: "123456789012".into(),
                region: "us-east-1".into(),
                auth: AwsAuth::default(),
            }),
            ..ServerConfig::loopback()
        },
        store,
        pipeline,
    )
    .await
    .unwrap();
    let (http, daemon) = (server.http_addr, server.xray_addr.unwrap());
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));

    for addr in [http, daemon] {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"POST /TraceSegments HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let took = closed_within(&mut s, Duration::from_secs(5)).await;
        assert!(
            took.is_some_and(|t| t < Duration::from_secs(3)),
            "{addr}: trickled headers kept: {took:?}"
        );
    }

    let too_large = waggle_server::aws::AWS_BODY_BYTES_MAX + 1;
    for (addr, path, target) in [
        (http, "/", "X-Amz-Target: Logs_20140328.PutLogEvents\r\n"),
        (http, "/TraceSegments", ""),
        (daemon, "/TraceSegments", ""),
    ] {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n\
             {target}Content-Length: {too_large}\r\n\r\n"
        );
        s.write_all(head.as_bytes()).await.unwrap();
        let line = status_line(&mut s, Duration::from_millis(900)).await;
        assert_eq!(
            line.as_deref(),
            Some("HTTP/1.1 413 Payload Too Large"),
            "{addr}{path}: not refused before the body"
        );

        let mut s = TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n\
             {target}Content-Length: 1000\r\n\r\n{{"
        );
        s.write_all(head.as_bytes()).await.unwrap();
        let line = status_line(&mut s, Duration::from_secs(4)).await;
        assert_eq!(
            line.as_deref(),
            Some("HTTP/1.1 503 Service Unavailable"),
            "{addr}{path}: a half-sent body was not timed out"
        );
    }
}
