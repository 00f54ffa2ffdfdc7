//! The generator's own ceiling: payload statistics, preparation time, and a closed-loop run
//! against an in-process sink that reads and discards bodies.
//!
//! `cargo run --release -p waggle-loadgen --example selfbench [otlp|grpc|honeycomb] [seconds]`
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use axum::routing::post;
use axum::Router;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use waggle_loadgen::{otlp_trace_requests, run, GenConfig, LoadConfig, Protocol, Stop};

struct Discard;

#[tonic::async_trait]
impl TraceService for Discard {
    async fn export(
        &self,
        _r: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let protocol: Protocol = args.get(1).map_or("otlp", |s| s.as_str()).parse().unwrap();
    let secs: u64 = args.get(2).map_or(Ok(3), |s| s.parse()).unwrap();

    let gen = GenConfig::default();
    let t = Instant::now();
    let reqs = otlp_trace_requests(&gen);
    let gen_s = t.elapsed().as_secs_f64();
    let spans: Vec<_> = reqs
        .iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .collect();
    let roots = spans.iter().filter(|s| s.parent_span_id.is_empty()).count();
    let attrs: usize = spans.iter().map(|s| s.attributes.len()).sum();
    let bytes: usize = waggle_loadgen::otlp_trace_bodies(&gen)
        .iter()
        .map(|b| b.len())
        .sum();
    println!(
        "generated {} spans in {:.3} s: {:.2} spans/trace, {:.1} attributes/span, {:.0} protobuf bytes/span",
        spans.len(),
        gen_s,
        spans.len() as f64 / roots as f64,
        attrs as f64 / spans.len() as f64,
        bytes as f64 / spans.len() as f64
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    if protocol == Protocol::OtlpGrpc {
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(Discard))
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
        );
    } else {
        let app = Router::new()
            .route("/v1/traces", post(|_b: axum::body::Bytes| async { "" }))
            .route(
                "/1/batch/{dataset}",
                post(|b: axum::body::Bytes| async move {
                    // One 202 per event, found by its `"data":` key, without parsing.
                    let n = b.windows(7).filter(|w| w == b"\"data\":").count();
                    format!("[{}]", vec![r#"{"status":202}"#; n].join(","))
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await });
    }
    let report = run(LoadConfig {
        protocol,
        target: format!("http://{addr}"),
        stop: Stop::After(Duration::from_secs(secs)),
        server_pid: Some(std::process::id()),
        ..LoadConfig::default()
    })
    .await
    .unwrap();
    println!("{report}");
}
