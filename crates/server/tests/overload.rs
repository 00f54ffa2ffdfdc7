//! Overload, end to end over real sockets: when the ingest queue is full, every receiver
//! refuses with its protocol's retryable answer (OTLP/HTTP 429 + Retry-After, OTLP/gRPC
//! UNAVAILABLE, Honeycomb 429 + Retry-After), the request already queued still commits, and
//! the refused requests succeed when retried.

#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use model::schema::Catalog;
use model::{Event, TraceId};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use store::{
    DatasetColumn, DatasetInfo, DuckStore, InsertReport, MetaDoc, Rows, Store, StoreError,
};
use waggle_server::{Pipeline, Server, ServerConfig};

/// A store whose inserts wait while the gate is closed: the writer stays busy with the first
/// group, so later requests find the queue full.
struct GatedStore {
    inner: DuckStore,
    open: Mutex<bool>,
    opened: Condvar,
    inserting: AtomicUsize,
}

impl GatedStore {
    fn open_gate(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }
}

impl Store for GatedStore {
    fn insert(&self, events: &[Event]) -> Result<InsertReport, StoreError> {
        self.inserting.fetch_add(1, Ordering::SeqCst);
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.opened.wait(open).unwrap();
        }
        drop(open);
        self.inner.insert(events)
    }
    fn catalog(&self) -> Catalog {
        self.inner.catalog()
    }
    fn max_sample_rate(&self) -> u32 {
        self.inner.max_sample_rate()
    }
    fn trace(&self, id: TraceId) -> Result<Vec<Event>, StoreError> {
        self.inner.trace(id)
    }
    fn run_sql(&self, sql: &str) -> Result<Rows, StoreError> {
        self.inner.run_sql(sql)
    }
    fn datasets(&self) -> Result<Vec<DatasetInfo>, StoreError> {
        self.inner.datasets()
    }
    fn apply_retention(&self, now_ns: i64) -> Result<u64, StoreError> {
        self.inner.apply_retention(now_ns)
    }
    fn set_retention(&self, dataset: &str, days: Option<u32>) -> Result<(), StoreError> {
        self.inner.set_retention(dataset, days)
    }
    fn checkpoint(&self) -> Result<(), StoreError> {
        self.inner.checkpoint()
    }
    fn disk_bytes(&self) -> u64 {
        self.inner.disk_bytes()
    }
    fn dataset_columns(&self, dataset: Option<&str>) -> Result<Vec<DatasetColumn>, StoreError> {
        self.inner.dataset_columns(dataset)
    }
    fn put_doc(&self, doc: &MetaDoc) -> Result<(), StoreError> {
        self.inner.put_doc(doc)
    }
    fn get_doc(&self, kind: &str, id: &str) -> Result<Option<MetaDoc>, StoreError> {
        self.inner.get_doc(kind, id)
    }
    fn list_docs(&self, kind: &str, dataset: Option<&str>) -> Result<Vec<MetaDoc>, StoreError> {
        self.inner.list_docs(kind, dataset)
    }
    fn delete_doc(&self, kind: &str, id: &str) -> Result<bool, StoreError> {
        self.inner.delete_doc(kind, id)
    }
}

/// Spans in each request; the queue holds 10 events, so two requests do not fit.
const SPANS: usize = 8;

fn traces(seed: u8) -> ExportTraceServiceRequest {
    let spans = (0..SPANS)
        .map(|i| Span {
            trace_id: vec![seed; 16],
            span_id: vec![i as u8 + 1; 8],
            name: format!("span {i}"),
            start_time_unix_nano: 1_800_000_000_000_000_000,
            end_time_unix_nano: 1_800_000_000_001_000_000,
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    content_type: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    client
        .post(url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_is_refused_with_each_protocols_retryable_answer() {
    let store = Arc::new(GatedStore {
        inner: DuckStore::open_in_memory().unwrap(),
        open: Mutex::new(false),
        opened: Condvar::new(),
        inserting: AtomicUsize::new(0),
    });
    let (pipeline, _writer) = Pipeline::start_with_queue_limit(store.clone(), 10);
    let server = Server::bind(
        ServerConfig {
            ..ServerConfig::loopback()
        },
        store.clone(),
        pipeline,
    )
    .await
    .unwrap();
    let (http, grpc) = (server.http_addr, server.otlp_grpc_addr);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let otlp_url = format!("http://{http}/v1/traces");
    let protobuf = "application/x-protobuf";

    // First request: taken by the writer, which then waits at the gate.
    let first = {
        let (client, url) = (client.clone(), otlp_url.clone());
        tokio::spawn(async move {
            post(&client, &url, protobuf, traces(1).encode_to_vec())
                .await
                .status()
        })
    };
    for _ in 0..200 {
        if store.inserting.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        store.inserting.load(Ordering::SeqCst),
        1,
        "writer never started"
    );

    // OTLP/HTTP: 429, Retry-After, an OTLP Status body in the request's encoding.
    let refused = post(&client, &otlp_url, protobuf, traces(2).encode_to_vec()).await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(refused.headers()["content-type"], protobuf);
    assert!(!refused.bytes().await.unwrap().is_empty());

    // OTLP/gRPC: UNAVAILABLE, which the exporters retry.
    let mut grpc_client = TraceServiceClient::connect(format!("http://{grpc}"))
        .await
        .unwrap();
    let status = grpc_client.export(traces(3)).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable);

    // Honeycomb: 429 with Retry-After, like Honeycomb's own rate limiting.
    let events: Vec<_> = (0..SPANS)
        .map(|i| serde_json::json!({ "data": { "i": i } }))
        .collect();
    let refused = post(
        &client,
        &format!("http://{http}/1/batch/overload"),
        "application/json",
        serde_json::to_vec(&events).unwrap(),
    )
    .await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));

    // Nothing was lost: the queued request commits, and the refused ones succeed on retry.
    store.open_gate();
    assert_eq!(first.await.unwrap(), 200);
    let retried = post(&client, &otlp_url, protobuf, traces(2).encode_to_vec()).await;
    assert_eq!(retried.status(), 200);
    grpc_client.export(traces(3)).await.unwrap();
    let rows = store.run_sql("SELECT count(*) FROM events").unwrap();
    assert_eq!(rows[0][0], Some(model::Value::Int(3 * SPANS as i64)));
    let _ = stop.send(());
}
