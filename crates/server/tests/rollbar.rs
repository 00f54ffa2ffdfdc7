//! Rollbar over real sockets: the item API's every error status in Rollbar's shape, token
//! scopes and rate limits, duplicate uuids, grouping into items with per-project counters,
//! resolve / reactivate, occurrences read back from the stored events, deploys, storage
//! failure and overload, and item state that survives a new server over the same store.

#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use model::schema::Catalog;
use model::{Event, TraceId};
use protocols::rollbar::Projects;
use serde_json::{json, Value};
use store::{
    DatasetColumn, DatasetInfo, DuckStore, InsertReport, MetaDoc, Rows, Store, StoreError,
};
use waggle_server::rollbar::RollbarConfig;
use waggle_server::{Pipeline, Server, ServerConfig};

/// A DuckDB store whose inserts can be made to fail or to wait.
struct TestStore {
    inner: DuckStore,
    fail_inserts: AtomicBool,
    hold: Mutex<bool>,
    released: Condvar,
}

impl TestStore {
    fn new() -> Arc<Self> {
        Arc::new(TestStore {
            inner: DuckStore::open_in_memory().unwrap(),
            fail_inserts: AtomicBool::new(false),
            hold: Mutex::new(false),
            released: Condvar::new(),
        })
    }
    fn set_hold(&self, on: bool) {
        *self.hold.lock().unwrap() = on;
        self.released.notify_all();
    }
}

impl Store for TestStore {
    fn insert(&self, events: &[Event]) -> Result<InsertReport, StoreError> {
        let mut held = self.hold.lock().unwrap();
        while *held {
            held = self.released.wait(held).unwrap();
        }
        drop(held);
        if self.fail_inserts.load(Ordering::SeqCst) {
            return Err(StoreError::Engine("disk on fire".into()));
        }
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

/// A running server: its base URL, the store and the pipeline it writes through.
struct Running {
    base: String,
    store: Arc<TestStore>,
    pipeline: Pipeline,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start_on(store: Arc<TestStore>, tokens: &str, queue_events_max: usize) -> Running {
    let (pipeline, _writer) = Pipeline::start_with_queue_limit(store.clone(), queue_events_max);
    let server = Server::bind(
        ServerConfig {
            rollbar: RollbarConfig {
                projects: Arc::new(Projects::parse(tokens).unwrap()),
                ..RollbarConfig::default()
            },
            ..ServerConfig::loopback()
        },
        store.clone(),
        pipeline.clone(),
    )
    .await
    .unwrap();
    let base = format!("http://{}", server.http_addr);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    Running {
        base,
        store,
        pipeline,
        _stop: stop,
    }
}

async fn start(tokens: &str) -> Running {
    start_on(TestStore::new(), tokens, 400_000).await
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn frames(file: &str, method: &str) -> Value {
    json!([
        {"filename": "/app/app.py", "lineno": 10, "method": "handler"},
        {"filename": file, "lineno": 42, "method": method, "code": "raise"},
    ])
}

/// A pyrollbar-shaped exception occurrence.
fn exception(class: &str, message: &str, uuid: &str, version: Option<&str>) -> Value {
    let mut data = json!({
        "environment": "production",
        "level": "error",
        "uuid": uuid,
        "timestamp": 1_800_000_000,
        "language": "python 3.12",
        "notifier": {"name": "pyrollbar", "version": "1.5.0"},
        "framework": "flask",
        "body": {"trace": {
            "frames": frames("/app/services/home.py", "run"),
            "exception": {"class": class, "message": message},
        }},
    });
    if let Some(v) = version {
        data["code_version"] = json!(v);
    }
    json!({"data": data})
}

fn message(text: &str, level: &str, uuid: &str) -> Value {
    json!({"data": {
        "environment": "production",
        "level": level,
        "uuid": uuid,
        "body": {"message": {"body": text}},
    }})
}

async fn post_item(c: &reqwest::Client, r: &Running, token: &str, body: &Value) -> (u16, Value) {
    let resp = c
        .post(format!("{}/api/1/item/", r.base))
        .header("X-Rollbar-Access-Token", token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

async fn get(c: &reqwest::Client, r: &Running, token: &str, path: &str) -> (u16, Value) {
    let resp = c
        .get(format!("{}{path}", r.base))
        .header("X-Rollbar-Access-Token", token)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

async fn patch(
    c: &reqwest::Client,
    r: &Running,
    token: &str,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let resp = c
        .patch(format!("{}{path}", r.base))
        .header("X-Rollbar-Access-Token", token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

fn assert_rollbar_error(status: u16, body: &Value, want: u16) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["err"], 1, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

fn uuid(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

const TOKENS: &str = "cruddur:srv1:post_server_item,cruddur:read1:read,cruddur:write1:write,\
                      cruddur:limited:post_server_item:2/60,other:srv2:all";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_status_has_rollbars_shape() {
    let r = start(TOKENS).await;
    let c = client();
    let url = format!("{}/api/1/item/", r.base);
    let send = |body: Vec<u8>, token: Option<&'static str>, ct: &'static str| {
        let mut req = c.post(&url).header("content-type", ct).body(body);
        if let Some(t) = token {
            req = req.header("X-Rollbar-Access-Token", t);
        }
        async move {
            let resp = req.send().await.unwrap();
            let s = resp.status().as_u16();
            (s, resp.json::<Value>().await.unwrap())
        }
    };
    let js = "application/json";
    let good = exception("KeyError", "'x'", &uuid(1), None)
        .to_string()
        .into_bytes();

    let (s, b) = send(Vec::new(), Some("srv1"), js).await;
    assert_rollbar_error(s, &b, 400);
    let (s, b) = send(b"{not json".to_vec(), Some("srv1"), js).await;
    assert_rollbar_error(s, &b, 400);
    let (s, b) = send(b"{\"data\": \"\xff\xfe\"}".to_vec(), Some("srv1"), js).await;
    assert_rollbar_error(s, &b, 400);
    let (s, b) = send(good.clone(), None, js).await;
    assert_rollbar_error(s, &b, 401);
    let (s, b) = send(good.clone(), Some("nope0000"), js).await;
    assert_rollbar_error(s, &b, 403);
    assert!(b["message"].as_str().unwrap().contains("nope"), "{b}");
    // A read token cannot post.
    let (s, b) = send(good.clone(), Some("read1"), js).await;
    assert_rollbar_error(s, &b, 403);
    // Over the 512 KB payload limit.
    let huge = json!({"data": {"environment": "p", "body": {"message": {"body": "x".repeat(600 * 1024)}}}});
    let (s, b) = send(huge.to_string().into_bytes(), Some("srv1"), js).await;
    assert_rollbar_error(s, &b, 413);
    // Semantic errors: no environment; hostile nesting; too many frames.
    let (s, b) = send(
        json!({"data": {"body": {"message": {"body": "hi"}}}})
            .to_string()
            .into_bytes(),
        Some("srv1"),
        js,
    )
    .await;
    assert_rollbar_error(s, &b, 422);
    assert!(
        b["message"].as_str().unwrap().contains("environment"),
        "{b}"
    );
    let deep = format!(
        "{{\"data\": {{\"environment\": \"p\", \"custom\": {}1{}, \"body\": {{\"message\": {{\"body\": \"x\"}}}}}}}}",
        "[".repeat(500),
        "]".repeat(500)
    );
    let (s, b) = send(deep.into_bytes(), Some("srv1"), js).await;
    assert_rollbar_error(s, &b, 422);
    let many: Vec<Value> = (0..5000)
        .map(|i| json!({"filename": "f.py", "lineno": i}))
        .collect();
    let frames = json!({"data": {"environment": "p", "body": {"trace": {"frames": many, "exception": {"class": "E"}}}}});
    let (s, b) = send(frames.to_string().into_bytes(), Some("srv1"), js).await;
    assert_rollbar_error(s, &b, 422);
    // Wrong types.
    let (s, b) = send(
        json!({"data": {"environment": 5, "body": {"message": {"body": "x"}}}})
            .to_string()
            .into_bytes(),
        Some("srv1"),
        js,
    )
    .await;
    assert_rollbar_error(s, &b, 422);

    // Rate limit: 2 per minute on this token, then 429 with the X-Rate-Limit-* headers.
    for i in 0..2 {
        let resp = c
            .post(&url)
            .header("X-Rollbar-Access-Token", "limited")
            .json(&message("hello", "info", &uuid(100 + i)))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["x-rate-limit-limit"], "2");
        assert_eq!(
            resp.headers()["x-rate-limit-remaining"],
            (1 - i).to_string().as_str()
        );
    }
    let resp = c
        .post(&url)
        .header("X-Rollbar-Access-Token", "limited")
        .json(&message("hello", "info", &uuid(102)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    for h in [
        "x-rate-limit-limit",
        "x-rate-limit-remaining",
        "x-rate-limit-reset",
        "x-rate-limit-remaining-seconds",
    ] {
        assert!(resp.headers().contains_key(h), "{h}");
    }
    assert_eq!(resp.headers()["x-rate-limit-remaining"], "0");
    let b: Value = resp.json().await.unwrap();
    assert_rollbar_error(429, &b, 429);

    // Nothing valid was lost among the refusals: the two accepted messages are one item.
    let (s, b) = get(&c, &r, "read1", "/api/1/items").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["err"], 0);
    assert_eq!(b["result"]["total_count"], 1, "{b}");
    assert_eq!(b["result"]["items"][0]["total_occurrences"], 2, "{b}");

    // Read API: no token 401, wrong scope 403, unknown path 404, wrong method 405.
    let resp = c
        .get(format!("{}/api/1/items", r.base))
        .send()
        .await
        .unwrap();
    let s = resp.status().as_u16();
    assert_rollbar_error(s, &resp.json().await.unwrap(), 401);
    let (s, b) = get(&c, &r, "srv1", "/api/1/items").await;
    assert_rollbar_error(s, &b, 403);
    let (s, b) = patch(
        &c,
        &r,
        "read1",
        "/api/1/item/1",
        json!({"status": "resolved"}),
    )
    .await;
    assert_rollbar_error(s, &b, 403);
    let (s, b) = get(&c, &r, "read1", "/api/1/no_such_thing").await;
    assert_rollbar_error(s, &b, 404);
    let (s, b) = get(&c, &r, "read1", "/api/1/item/999").await;
    assert_rollbar_error(s, &b, 404);
    let (s, b) = get(&c, &r, "read1", "/api/1/item/abc").await;
    assert_rollbar_error(s, &b, 404);
    let resp = c
        .delete(format!("{}/api/1/items", r.base))
        .header("X-Rollbar-Access-Token", "read1")
        .send()
        .await
        .unwrap();
    let s = resp.status().as_u16();
    assert_rollbar_error(s, &resp.json().await.unwrap(), 405);
    let (s, b) = get(&c, &r, "read1", "/api/1/items?status=bogus").await;
    assert_rollbar_error(s, &b, 422);
    // The token in the query string works too (RD api/overview.md).
    let (s, _) = get(&c, &r, "", "/api/1/items?access_token=read1").await;
    assert_eq!(s, 200);
    // Another project's token sees none of cruddur's items.
    let (s, b) = get(&c, &r, "srv2", "/api/1/items").await;
    assert_eq!(s, 200);
    assert_eq!(b["result"]["total_count"], 0, "{b}");
    let (s, b) = get(&c, &r, "srv2", "/api/1/item/1").await;
    assert_rollbar_error(s, &b, 404);

    // The counters say what happened.
    let stats: Value = c
        .get(format!("{}/api/waggle/stats", r.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rb = &stats["receivers"]["rollbar"];
    assert_eq!(rb["accepted"], 2, "{rb}");
    assert_eq!(rb["rate_limited"], 1, "{rb}");
    assert!(rb["invalid"].as_u64().unwrap() >= 7, "{rb}");
    assert!(rb["unauthorized"].as_u64().unwrap() >= 3, "{rb}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn occurrences_group_into_items_with_counters_and_duplicates_are_stored_once() {
    let r = start("").await; // local mode: any token
    let c = client();
    let t = "anytoken";
    for i in 0..5 {
        let (s, b) = post_item(&c, &r, t, &exception("KeyError", "'user'", &uuid(i), None)).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(
            b,
            json!({"err": 0, "result": {"id": null, "uuid": uuid(i)}})
        );
    }
    let (s, _) = post_item(&c, &r, t, &exception("TypeError", "bad", &uuid(10), None)).await;
    assert_eq!(s, 200);
    // Messages differing only in a number group together.
    post_item(&c, &r, t, &message("Got 5 apples", "warning", &uuid(20))).await;
    post_item(&c, &r, t, &message("Got 7 apples", "warning", &uuid(21))).await;
    // The same uuid again: accepted, stored once.
    let (s, b) = post_item(&c, &r, t, &message("Got 9 apples", "warning", &uuid(21))).await;
    assert_eq!(s, 200);
    assert_eq!(b["result"]["uuid"], uuid(21));
    // No uuid: one is made up and returned.
    let (s, b) = post_item(
        &c,
        &r,
        t,
        &json!({"data": {"environment": "production", "body": {"message": {"body": "no uuid"}}}}),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(b["result"]["uuid"].as_str().unwrap().len(), 36, "{b}");

    let (_, b) = get(&c, &r, t, "/api/1/items").await;
    let items = b["result"]["items"].as_array().unwrap();
    assert_eq!(b["result"]["total_count"], 4, "{b}");
    // Newest counter first.
    let counters: Vec<u64> = items
        .iter()
        .map(|i| i["counter"].as_u64().unwrap())
        .collect();
    assert_eq!(counters, vec![4, 3, 2, 1]);
    let by_counter = |n: u64| items.iter().find(|i| i["counter"] == n).unwrap();
    assert_eq!(by_counter(1)["total_occurrences"], 5);
    assert!(by_counter(1)["title"]
        .as_str()
        .unwrap()
        .contains("KeyError"));
    assert_eq!(by_counter(2)["total_occurrences"], 1);
    assert_eq!(
        by_counter(3)["total_occurrences"],
        2,
        "duplicate uuid counted once"
    );
    assert_eq!(by_counter(3)["level"], "warning");
    assert_eq!(by_counter(1)["environment"], "production");

    // item_by_counter answers 301 to the item; reqwest follows it.
    let (s, b) = get(&c, &r, t, "/api/1/item_by_counter/2").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["result"]["counter"], 2);
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = no_redirect
        .get(format!("{}/api/1/item_by_counter/2", r.base))
        .header("X-Rollbar-Access-Token", t)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 301);
    let id = by_counter(2)["id"].as_u64().unwrap();
    assert!(resp.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with(&format!("/api/1/item/{id}?")));
    let (s, b) = get(&c, &r, t, "/api/1/item_by_counter/99").await;
    assert_rollbar_error(s, &b, 404);

    // Filters.
    let (_, b) = get(&c, &r, t, "/api/1/items?level=warning").await;
    assert_eq!(b["result"]["total_count"], 1, "{b}");
    let (_, b) = get(&c, &r, t, "/api/1/items?environment=staging").await;
    assert_eq!(b["result"]["total_count"], 0, "{b}");

    // Occurrences are the stored Error events, one per accepted occurrence.
    let stats: Value = c
        .get(format!("{}/api/waggle/stats", r.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // 5 KeyError + 1 TypeError + 2 apples + 1 without a uuid; the duplicate is not stored.
    assert_eq!(stats["receivers"]["rollbar"]["accepted"], 9);
    assert_eq!(stats["receivers"]["rollbar"]["duplicates"], 1);
    assert_eq!(stats["receivers"]["rollbar"]["items_created"], 4);
    let rows = r
        .store
        .run_sql("SELECT count(*) FROM events WHERE \"__dataset\" = 'default'")
        .unwrap();
    assert_eq!(rows[0][0], Some(model::Value::Int(9)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_then_recur_reactivates_per_resolved_in_version() {
    let r = start(TOKENS).await;
    let c = client();
    post_item(
        &c,
        &r,
        "srv1",
        &exception("ValueError", "v", &uuid(1), Some("1.0")),
    )
    .await;
    let (_, b) = get(&c, &r, "read1", "/api/1/items").await;
    let id = b["result"]["items"][0]["id"].as_u64().unwrap();
    let item = format!("/api/1/item/{id}");

    // Bad PATCH bodies.
    let (s, b) = patch(&c, &r, "write1", &item, json!({"status": "closed"})).await;
    assert_rollbar_error(s, &b, 422);
    let (s, b) = patch(
        &c,
        &r,
        "write1",
        "/api/1/item/4242",
        json!({"status": "resolved"}),
    )
    .await;
    assert_rollbar_error(s, &b, 404);

    // Resolved in 1.1: an occurrence from 1.0 (an old deployment) keeps it resolved.
    let (s, b) = patch(
        &c,
        &r,
        "write1",
        &item,
        json!({"status": "resolved", "resolved_in_version": "1.1"}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["result"]["status"], "resolved");
    let (_, b) = get(&c, &r, "read1", "/api/1/items?status=resolved").await;
    assert_eq!(b["result"]["total_count"], 1, "{b}");
    post_item(
        &c,
        &r,
        "srv1",
        &exception("ValueError", "v", &uuid(2), Some("1.0")),
    )
    .await;
    let (_, b) = get(&c, &r, "read1", &item).await;
    assert_eq!(b["result"]["status"], "resolved", "{b}");
    assert_eq!(b["result"]["total_occurrences"], 2);
    // From 1.1 it is active again.
    post_item(
        &c,
        &r,
        "srv1",
        &exception("ValueError", "v", &uuid(3), Some("1.1")),
    )
    .await;
    let (_, b) = get(&c, &r, "read1", &item).await;
    assert_eq!(b["result"]["status"], "active", "{b}");
    assert_eq!(b["result"]["resolved_in_version"], Value::Null);
    assert_eq!(b["result"]["counter"], 1, "same item");

    // Resolved without a version: any recurrence reactivates. Muted stays muted.
    patch(&c, &r, "write1", &item, json!({"status": "resolved"})).await;
    post_item(
        &c,
        &r,
        "srv1",
        &exception("ValueError", "v", &uuid(4), None),
    )
    .await;
    let (_, b) = get(&c, &r, "read1", &item).await;
    assert_eq!(b["result"]["status"], "active", "{b}");
    let (s, b) = patch(
        &c,
        &r,
        "write1",
        &item,
        json!({"status": "muted", "title": "Known"}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    post_item(
        &c,
        &r,
        "srv1",
        &exception("ValueError", "v", &uuid(5), Some("9.9")),
    )
    .await;
    let (_, b) = get(&c, &r, "read1", &item).await;
    assert_eq!(b["result"]["status"], "muted", "{b}");
    assert_eq!(b["result"]["title"], "Known");
    assert_eq!(b["result"]["total_occurrences"], 5);
    let (_, b) = get(&c, &r, "read1", "/api/1/items?status=active").await;
    assert_eq!(b["result"]["total_count"], 0, "{b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn occurrences_read_back_newest_first_and_link_to_their_trace() {
    let r = start("").await;
    let c = client();
    for i in 0..25 {
        let (s, _) = post_item(&c, &r, "t", &exception("KeyError", "k", &uuid(i), None)).await;
        assert_eq!(s, 200);
    }
    let (_, b) = get(&c, &r, "t", "/api/1/items").await;
    let id = b["result"]["items"][0]["id"].as_u64().unwrap();
    let (s, b) = get(&c, &r, "t", &format!("/api/1/item/{id}/instances")).await;
    assert_eq!(s, 200, "{b}");
    let page1 = b["result"]["instances"].as_array().unwrap();
    assert_eq!(page1.len(), 20);
    assert_eq!(b["result"]["page"], 1);
    let ids: Vec<u64> = page1.iter().map(|i| i["id"].as_u64().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(ids, sorted, "newest first");
    assert_eq!(page1[0]["item_id"], id);
    assert_eq!(
        page1[0]["data"]["uuid"],
        uuid(24),
        "the newest occurrence's data as sent"
    );
    assert_eq!(
        page1[0]["data"]["body"]["trace"]["exception"]["class"],
        "KeyError"
    );
    let (_, b) = get(&c, &r, "t", &format!("/api/1/item/{id}/instances?page=2")).await;
    assert_eq!(b["result"]["instances"].as_array().unwrap().len(), 5, "{b}");
    let (_, b) = get(&c, &r, "t", &format!("/api/1/item/{id}/instances?page=3")).await;
    assert_eq!(b["result"]["instances"].as_array().unwrap().len(), 0, "{b}");
    let (s, b) = get(&c, &r, "t", &format!("/api/1/item/{id}/instances?page=0")).await;
    assert_rollbar_error(s, &b, 422);

    // One occurrence by id.
    let occ = ids[3];
    let (s, b) = get(&c, &r, "t", &format!("/api/1/instance/{occ}")).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["result"]["id"], occ);
    assert_eq!(b["result"]["item_id"], id);
    let (s, b) = get(&c, &r, "t", "/api/1/instance/987654").await;
    assert_rollbar_error(s, &b, 404);

    // An error carrying a trace id in custom data is on that trace.
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let mut body = exception("ZeroDivisionError", "division by zero", &uuid(99), None);
    body["data"]["custom"] = json!({"trace_id": trace, "span_id": "00f067aa0ba902b7"});
    let (s, _) = post_item(&c, &r, "t", &body).await;
    assert_eq!(s, 200);
    let events = r.store.trace(TraceId::parse(trace).unwrap()).unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].kind, model::SignalKind::Error);
    assert_eq!(
        events[0].get("exception.type"),
        Some(&model::Value::Str("ZeroDivisionError".into()))
    );
    assert_eq!(
        events[0].parent_id,
        Some(model::SpanId::parse("00f067aa0ba902b7").unwrap())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_hands_out_no_counter_and_overload_is_a_429() {
    let store = TestStore::new();
    let r = start_on(store.clone(), "", 1).await;
    let c = client();
    store.fail_inserts.store(true, Ordering::SeqCst);
    let (s, b) = post_item(&c, &r, "t", &exception("KeyError", "k", &uuid(1), None)).await;
    assert_rollbar_error(s, &b, 503);
    assert!(
        !b["message"].as_str().unwrap().contains("fire"),
        "internal text leaked: {b}"
    );
    let (_, b) = get(&c, &r, "t", "/api/1/items").await;
    assert_eq!(b["result"]["total_count"], 0, "nothing recorded: {b}");
    store.fail_inserts.store(false, Ordering::SeqCst);
    // The retry (same uuid) is stored, as item #1.
    let (s, _) = post_item(&c, &r, "t", &exception("KeyError", "k", &uuid(1), None)).await;
    assert_eq!(s, 200);
    let (_, b) = get(&c, &r, "t", "/api/1/items").await;
    assert_eq!(b["result"]["items"][0]["counter"], 1, "{b}");
    assert_eq!(b["result"]["items"][0]["total_occurrences"], 1, "{b}");

    // Overload: another receiver's event holds the one-event queue; Rollbar answers 429.
    store.set_hold(true);
    let pipeline = r.pipeline.clone();
    let held = tokio::spawn(async move {
        pipeline
            .submit(vec![Event::new("other", 1, model::SignalKind::Span)])
            .await
    });
    for _ in 0..200 {
        if r.pipeline.queued_events() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (s, b) = post_item(&c, &r, "t", &exception("TypeError", "t", &uuid(2), None)).await;
    assert_rollbar_error(s, &b, 429);
    store.set_hold(false);
    held.await.unwrap().unwrap();
    let (s, _) = post_item(&c, &r, "t", &exception("TypeError", "t", &uuid(2), None)).await;
    assert_eq!(s, 200);
    let (_, b) = get(&c, &r, "t", "/api/1/items").await;
    assert_eq!(b["result"]["items"][0]["counter"], 2, "{b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_and_deploys_survive_a_new_server_over_the_same_store() {
    let store = TestStore::new();
    let c = client();
    {
        let r = start_on(store.clone(), TOKENS, 400_000).await;
        post_item(&c, &r, "srv1", &exception("KeyError", "k", &uuid(1), None)).await;
        post_item(&c, &r, "srv1", &exception("TypeError", "t", &uuid(2), None)).await;
        let resp = c
            .post(format!("{}/api/1/deploy/", r.base))
            .json(&json!({"access_token": "srv1", "environment": "production", "revision": "abc123", "local_username": "andrew"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let b: Value = resp.json().await.unwrap();
        assert_eq!(b["err"], 0, "{b}");
        assert_eq!(b["data"]["deploy_id"], 1, "{b}");
        let resp = c
            .post(format!("{}/api/1/deploy/", r.base))
            .header("X-Rollbar-Access-Token", "srv1")
            .json(&json!({"environment": "production"}))
            .send()
            .await
            .unwrap();
        let s = resp.status().as_u16();
        assert_rollbar_error(s, &resp.json().await.unwrap(), 422);
    }
    let r = start_on(store.clone(), TOKENS, 400_000).await;
    let (_, b) = get(&c, &r, "read1", "/api/1/items").await;
    assert_eq!(b["result"]["total_count"], 2, "{b}");
    // The same uuid is still a duplicate; a new exception is counter 3.
    post_item(&c, &r, "srv1", &exception("KeyError", "k", &uuid(1), None)).await;
    post_item(&c, &r, "srv1", &exception("OSError", "o", &uuid(3), None)).await;
    let (_, b) = get(&c, &r, "read1", "/api/1/items").await;
    assert_eq!(b["result"]["total_count"], 3, "{b}");
    assert_eq!(b["result"]["items"][0]["counter"], 3);
    assert_eq!(b["result"]["items"][2]["total_occurrences"], 1, "{b}");

    let (s, b) = get(&c, &r, "read1", "/api/1/deploys").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["result"]["deploys"][0]["revision"], "abc123", "{b}");
    let (_, b) = get(&c, &r, "read1", "/api/1/deploy/1").await;
    assert_eq!(b["result"]["local_username"], "andrew", "{b}");
    let (s, b) = get(&c, &r, "read1", "/api/1/deploy/2").await;
    assert_rollbar_error(s, &b, 404);
    // The deploy is a Honeycomb marker on the project's dataset.
    let markers = store
        .list_docs("honeycomb.marker", Some("cruddur"))
        .unwrap();
    assert_eq!(markers.len(), 1);
    assert_eq!(markers[0].body["type"], "deploy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_in_the_body_works_and_remote_ip_is_the_callers_address() {
    let r = start(TOKENS).await;
    let c = client();
    // rollbar.js style: the token only in the body, `$remote_ip` for the server to fill in.
    let body = json!({"access_token": "srv1", "data": {
        "environment": "production",
        "uuid": uuid(7),
        "body": {"message": {"body": "from the body token"}},
        "request": {"url": "http://x/", "user_ip": "$remote_ip"},
    }});
    let resp = c
        .post(format!("{}/api/1/item/", r.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let b: Value = resp.json().await.unwrap();
    assert_eq!(
        b,
        json!({"err": 0, "result": {"id": null, "uuid": uuid(7)}})
    );
    // A read token in the body of an item post is still refused.
    let mut refused = body.clone();
    refused["access_token"] = json!("read1");
    refused["data"]["uuid"] = json!(uuid(8));
    let resp = c
        .post(format!("{}/api/1/item/", r.base))
        .json(&refused)
        .send()
        .await
        .unwrap();
    let s = resp.status().as_u16();
    assert_rollbar_error(s, &resp.json().await.unwrap(), 403);

    let (_, b) = get(&c, &r, "read1", "/api/1/items").await;
    assert_eq!(b["result"]["total_count"], 1, "{b}");
    let id = b["result"]["items"][0]["id"].as_u64().unwrap();
    let (_, b) = get(&c, &r, "read1", &format!("/api/1/item/{id}/instances")).await;
    let inst = &b["result"]["instances"][0];
    assert_eq!(inst["data"]["request"]["user_ip"], "127.0.0.1", "{b}");
    let rows = r
        .store
        .run_sql("SELECT \"http.client_ip\" FROM events WHERE \"__dataset\" = 'cruddur'")
        .unwrap();
    assert_eq!(rows[0][0], Some(model::Value::Str("127.0.0.1".into())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_of_committed_occurrences_missing_from_the_items_document_are_not_reused() {
    let store = TestStore::new();
    let c = client();
    let r = start_on(store.clone(), "", 400_000).await;
    let (s, _) = post_item(&c, &r, "t", &exception("KeyError", "k", &uuid(1), None)).await;
    assert_eq!(s, 200);
    // As if the process died after this occurrence's commit and before the items document
    // was written: its event carries ids the document never recorded.
    let mut orphan = Event::new(
        "default",
        1_800_000_000_000_000_000,
        model::SignalKind::Error,
    );
    orphan.set("rollbar.item_id", model::Value::Int(5));
    orphan.set("rollbar.counter", model::Value::Int(3));
    orphan.set("rollbar.occurrence_id", model::Value::Int(9));
    r.pipeline.submit(vec![orphan]).await.unwrap();
    drop(r);

    let r = start_on(store.clone(), "", 400_000).await;
    let (s, _) = post_item(&c, &r, "t", &exception("TypeError", "t", &uuid(2), None)).await;
    assert_eq!(s, 200);
    let (_, b) = get(&c, &r, "t", "/api/1/items").await;
    let newest = &b["result"]["items"][0];
    assert_eq!(newest["id"], 6, "{b}");
    assert_eq!(newest["counter"], 4, "{b}");
    assert_eq!(newest["last_occurrence_id"], 10, "{b}");
    let (_, b) = get(&c, &r, "t", "/api/1/item_by_counter/1").await;
    assert_eq!(b["result"]["counter"], 1, "the first item is intact: {b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rql_jobs_run_over_the_occurrences() {
    let r = start(TOKENS).await;
    let c = client();
    for i in 0..3 {
        post_item(&c, &r, "srv1", &exception("KeyError", "k", &uuid(i), None)).await;
    }
    post_item(&c, &r, "srv1", &exception("TypeError", "t", &uuid(9), None)).await;
    let run = |q: &'static str, token: &'static str| {
        let c = c.clone();
        let base = r.base.clone();
        async move {
            let resp = c
                .post(format!("{base}/api/1/rql/jobs"))
                .header("X-Rollbar-Access-Token", token)
                .json(&json!({"query_string": q}))
                .send()
                .await
                .unwrap();
            let s = resp.status().as_u16();
            (s, resp.json::<Value>().await.unwrap())
        }
    };
    let (s, b) = run(
        "SELECT body.trace.exception.class, count(*) FROM item_occurrence \
         GROUP BY body.trace.exception.class ORDER BY count(*) DESC",
        "read1",
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["result"]["status"], "success", "{b}");
    let id = b["result"]["id"].as_u64().unwrap();
    let (s, b) = get(&c, &r, "read1", &format!("/api/1/rql/job/{id}/result")).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["result"]["result"]["rows"],
        json!([["KeyError", 3], ["TypeError", 1]]),
        "{b}"
    );
    let (s, b) = get(&c, &r, "read1", &format!("/api/1/rql/job/{id}")).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["result"]["status"], "success");
    // A query that does not map fails as a job, with the reason.
    let (s, b) = run("SELECT * FROM item_occurrence", "read1").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["result"]["status"], "failed", "{b}");
    // Another project's token does not see the job; a post token cannot run one.
    let (s, b) = get(&c, &r, "srv2", &format!("/api/1/rql/job/{id}/result")).await;
    assert_rollbar_error(s, &b, 404);
    let (s, b) = run("SELECT count(*) FROM item_occurrence", "srv1").await;
    assert_rollbar_error(s, &b, 403);
}

/// Sum of `total_occurrences` and the counters of every item of the token's project.
async fn item_totals(c: &reqwest::Client, r: &Running, token: &str) -> (u64, Vec<u64>) {
    let (mut total, mut counters) = (0, Vec::new());
    for page in 1..=20 {
        let (s, b) = get(c, r, token, &format!("/api/1/items?page={page}")).await;
        assert_eq!(s, 200, "{b}");
        let items = b["result"]["items"].as_array().unwrap().clone();
        if items.is_empty() {
            break;
        }
        for i in &items {
            total += i["total_occurrences"].as_u64().unwrap();
            counters.push(i["counter"].as_u64().unwrap());
        }
    }
    counters.sort_unstable();
    (total, counters)
}

/// Posts one item (holding `permit` until answered) and gives the status.
async fn post_status(
    c: reqwest::Client,
    base: String,
    permit: tokio::sync::OwnedSemaphorePermit,
    body: Value,
) -> u16 {
    let _permit = permit;
    let resp = c
        .post(format!("{base}/api/1/item/"))
        .header("X-Rollbar-Access-Token", "t")
        .json(&body)
        .send()
        .await
        .unwrap();
    resp.status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_occurrences_commit_in_groups_and_count_exactly() {
    let r = start("").await;
    let c = client();
    // In flight at once, at most: well under the listener's connection bound
    // (`edge::CONNECTIONS_MAX`), which would otherwise park the surplus connections.
    let in_flight = Arc::new(tokio::sync::Semaphore::new(64));
    let mut tasks = Vec::new();
    for i in 0..400u32 {
        let (c, base) = (c.clone(), r.base.clone());
        let permit = in_flight.clone().acquire_owned().await.unwrap();
        let body = exception(&format!("Error{}", i % 20), "boom", &uuid(1000 + i), None);
        tasks.push(tokio::spawn(post_status(c, base, permit, body)));
    }
    // Ten uuids each sent three times at once: stored once each, every copy answered 200.
    for i in 0..30u32 {
        let (c, base) = (c.clone(), r.base.clone());
        let permit = in_flight.clone().acquire_owned().await.unwrap();
        let body = exception("Dup", "again", &uuid(i % 10), None);
        tasks.push(tokio::spawn(post_status(c, base, permit, body)));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let (total, counters) = item_totals(&c, &r, "t").await;
    assert_eq!(total, 410);
    assert_eq!(
        counters,
        (1..=21).collect::<Vec<u64>>(),
        "one counter per item"
    );
    let rows = r
        .store
        .run_sql("SELECT count(*), count(DISTINCT \"rollbar.occurrence_id\") FROM events")
        .unwrap();
    assert_eq!(
        rows[0][0],
        Some(model::Value::Int(410)),
        "duplicates stored once"
    );
    assert_eq!(
        rows[0][1],
        Some(model::Value::Int(410)),
        "occurrence ids unique"
    );
    let commits = r
        .pipeline
        .stats
        .commits
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        commits < 410,
        "occurrences shared commits ({commits} commits)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_completes_the_items_from_the_occurrences_stored_after_the_checkpoint() {
    let store = TestStore::new();
    let c = client();
    {
        let r = start_on(store.clone(), TOKENS, 400_000).await;
        for i in 0..30u32 {
            let body = exception(&format!("E{}", i % 3), "x", &uuid(i), Some("1.0"));
            assert_eq!(post_item(&c, &r, "srv1", &body).await.0, 200);
        }
        // A PATCH writes the document: the checkpoint.
        let (s, b) = patch(
            &c,
            &r,
            "write1",
            "/api/1/item/1",
            json!({"status": "resolved", "resolved_in_version": "1.1"}),
        )
        .await;
        assert_eq!(s, 200, "{b}");
        // After it, nothing writes the document again (fewer than CHECKPOINT_OCCURRENCES,
        // sooner than CHECKPOINT_INTERVAL): these live only as stored occurrences.
        for i in 30..40u32 {
            let body = exception("E0", "x", &uuid(i), Some("1.2"));
            assert_eq!(post_item(&c, &r, "srv1", &body).await.0, 200);
        }
        for i in 40..45u32 {
            let body = exception("Late", "x", &uuid(i), None);
            assert_eq!(post_item(&c, &r, "srv1", &body).await.0, 200);
        }
        let (_, b) = get(&c, &r, "read1", "/api/1/item/1").await;
        assert_eq!(b["result"]["status"], "active", "reactivated by 1.2: {b}");
    } // the server goes away without writing anything more, as after kill -9
    let r = start_on(store.clone(), TOKENS, 400_000).await;
    let (total, counters) = item_totals(&c, &r, "read1").await;
    assert_eq!(total, 45, "every stored occurrence is counted");
    assert_eq!(counters, vec![1, 2, 3, 4]);
    let (_, b) = get(&c, &r, "read1", "/api/1/item/1").await;
    assert_eq!(b["result"]["status"], "active", "{b}");
    assert_eq!(b["result"]["total_occurrences"], 20, "{b}");
    assert_eq!(b["result"]["last_occurrence_id"], 40, "{b}");
    // A uuid stored after the checkpoint is still a duplicate; the next item is counter 5.
    let (s, _) = post_item(&c, &r, "srv1", &exception("Late", "x", &uuid(44), None)).await;
    assert_eq!(s, 200);
    let (s, _) = post_item(&c, &r, "srv1", &exception("New", "x", &uuid(99), None)).await;
    assert_eq!(s, 200);
    let (total, counters) = item_totals(&c, &r, "read1").await;
    assert_eq!(total, 46);
    assert_eq!(counters, vec![1, 2, 3, 4, 5]);
}
