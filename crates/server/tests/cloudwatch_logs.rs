//! CloudWatch Logs end to end over a real socket: awsJson1_1 `POST /` routed by
//! `X-Amz-Target`, state that survives a restart, events written through the pipeline and read
//! back through the query path (GetLogEvents / FilterLogEvents paging, filter patterns),
//! DeleteLogStream / DeleteLogGroup deleting events, PutRetentionPolicy applying the store's
//! retention, Insights queries, and trace linking. The official clients are exercised in
//! `tests/test_cloudwatch_logs.py`.

#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use model::{Event, SignalKind, TraceId, Value};
use serde_json::{json, Value as Json};
use store::{DuckStore, Store};
use waggle_server::aws::AwsAuth;
use waggle_server::cloudwatch_logs::LogsConfig;
use waggle_server::{Pipeline, Server, ServerConfig};

struct Running {
    http: SocketAddr,
    client: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start(store: Arc<dyn Store>) -> Running {
    let (pipeline, _writer) = Pipeline::start(store.clone());
    let server = Server::bind(
        ServerConfig {
            cloudwatch_logs: Some(LogsConfig {
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
    let http = server.http_addr;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    Running {
        http,
        client: reqwest::Client::new(),
        _stop: stop,
    }
}

impl Running {
    async fn call(&self, op: &str, body: Json) -> (u16, Json) {
        let r = self
            .client
            .post(format!("http://{}/", self.http))
            .header("x-amz-target", format!("Logs_20140328.{op}"))
            .header("content-type", "application/x-amz-json-1.1")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        assert!(r.headers().contains_key("x-amzn-requestid"));
        let bytes = r.bytes().await.unwrap();
        let v = serde_json::from_slice(&bytes).unwrap_or(Json::Null);
        (status, v)
    }

    async fn ok(&self, op: &str, body: Json) -> Json {
        let (status, v) = self.call(op, body).await;
        assert_eq!(status, 200, "{op}: {v}");
        v
    }

    async fn err(&self, op: &str, body: Json) -> String {
        let (status, v) = self.call(op, body).await;
        assert_eq!(status, 400, "{op}: {v}");
        v["__type"].as_str().unwrap().to_owned()
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn memory_store() -> Arc<dyn Store> {
    Arc::new(DuckStore::open_in_memory().unwrap())
}

async fn put(w: &Running, group: &str, stream: &str, events: &[(i64, &str)]) -> Json {
    let evs: Vec<Json> = events
        .iter()
        .map(|(t, m)| json!({"timestamp": t, "message": m}))
        .collect();
    w.ok(
        "PutLogEvents",
        json!({"logGroupName": group, "logStreamName": stream, "logEvents": evs}),
    )
    .await
}

fn messages(v: &Json) -> Vec<String> {
    v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_streams_and_events_round_trip_through_the_store() {
    let w = start(memory_store()).await;
    let g = json!({"logGroupName": "cruddur"});
    w.ok("CreateLogGroup", g.clone()).await;
    assert_eq!(
        w.err("CreateLogGroup", g.clone()).await,
        "ResourceAlreadyExistsException"
    );
    // watchtower's order: PutLogEvents first, ResourceNotFoundException, then the stream.
    let t0 = now_ms() - 60_000;
    let (status, v) = w
        .call(
            "PutLogEvents",
            json!({"logGroupName": "cruddur", "logStreamName": "s1",
                   "logEvents": [{"timestamp": t0, "message": "hello"}]}),
        )
        .await;
    assert_eq!(
        (status, v["__type"].as_str()),
        (400, Some("ResourceNotFoundException"))
    );
    w.ok(
        "CreateLogStream",
        json!({"logGroupName": "cruddur", "logStreamName": "s1"}),
    )
    .await;
    let msgs: Vec<String> = (0..25).map(|i| format!("line {i} INFO")).collect();
    let mut batch: Vec<(i64, &str)> = msgs
        .iter()
        .enumerate()
        .map(|(i, m)| (t0 + i as i64 / 5, m.as_str()))
        .collect();
    batch[7].1 = "line 7 ERROR disk full";
    let r = put(&w, "cruddur", "s1", &batch).await;
    assert!(r["nextSequenceToken"].is_string());
    assert!(r.get("rejectedLogEventsInfo").is_none(), "{r}");
    w.ok(
        "CreateLogStream",
        json!({"logGroupName": "cruddur", "logStreamName": "s2"}),
    )
    .await;
    put(
        &w,
        "cruddur",
        "s2",
        &[(
            t0 + 2,
            r#"{"level": "ERROR", "latency": 250, "msg": "slow"}"#,
        )],
    )
    .await;

    // GetLogEvents from the head, 10 at a time, to the end; the last token repeats.
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..10 {
        let mut req = json!({"logGroupName": "cruddur", "logStreamName": "s1",
                              "startFromHead": true, "limit": 10});
        if let Some(t) = &token {
            req["nextToken"] = json!(t);
        }
        let page = w.ok("GetLogEvents", req).await;
        let next = page["nextForwardToken"].as_str().unwrap().to_owned();
        assert!(next.starts_with("f/"));
        seen.extend(messages(&page));
        if token.as_deref() == Some(next.as_str()) {
            assert!(page["events"].as_array().unwrap().is_empty());
            break;
        }
        token = Some(next);
    }
    let expected: Vec<String> = batch.iter().map(|(_, m)| m.to_string()).collect();
    assert_eq!(seen, expected);

    // Without startFromHead: the newest page, in order.
    let tail = w
        .ok(
            "GetLogEvents",
            json!({"logGroupName": "cruddur", "logStreamName": "s1", "limit": 3}),
        )
        .await;
    assert_eq!(messages(&tail), expected[22..].to_vec());
    let back = w
        .ok(
            "GetLogEvents",
            json!({"logGroupName": "cruddur", "logStreamName": "s1", "limit": 3,
                   "nextToken": tail["nextBackwardToken"]}),
        )
        .await;
    assert_eq!(messages(&back), expected[19..22].to_vec());

    // FilterLogEvents: term, JSON pattern, every stream, paged with limit 4.
    let f = w
        .ok(
            "FilterLogEvents",
            json!({"logGroupName": "cruddur", "filterPattern": "ERROR"}),
        )
        .await;
    let mut got = messages(&f);
    got.sort();
    assert_eq!(got.len(), 2, "{f}");
    assert!(f["events"][0]["eventId"].is_string() && f["events"][0]["ingestionTime"].is_i64());
    let j = w
        .ok(
            "FilterLogEvents",
            json!({"logGroupName": "cruddur", "filterPattern": "{ $.latency > 100 }"}),
        )
        .await;
    assert_eq!(j["events"].as_array().unwrap().len(), 1);
    assert_eq!(j["events"][0]["logStreamName"], "s2");
    let mut all = Vec::new();
    let mut token: Option<Json> = None;
    for _ in 0..20 {
        let mut req = json!({"logGroupName": "cruddur", "limit": 4});
        if let Some(t) = &token {
            req["nextToken"] = t.clone();
        }
        let page = w.ok("FilterLogEvents", req).await;
        all.extend(messages(&page));
        match page.get("nextToken") {
            Some(t) => token = Some(t.clone()),
            None => break,
        }
    }
    assert_eq!(all.len(), 26);
    let only_s2 = w
        .ok(
            "FilterLogEvents",
            json!({"logGroupName": "cruddur", "logStreamNames": ["s2"]}),
        )
        .await;
    assert_eq!(only_s2["events"].as_array().unwrap().len(), 1);
    assert_eq!(
        w.err(
            "FilterLogEvents",
            json!({"logGroupName": "cruddur", "filterPattern": "{ $.a = "}),
        )
        .await,
        "InvalidParameterException"
    );

    // DescribeLogStreams by last event time, newest first.
    let d = w
        .ok(
            "DescribeLogStreams",
            json!({"logGroupName": "cruddur", "orderBy": "LastEventTime", "descending": true}),
        )
        .await;
    assert_eq!(d["logStreams"][0]["logStreamName"], "s1");
    assert_eq!(d["logStreams"][0]["lastEventTimestamp"], json!(t0 + 4));

    // DeleteLogStream deletes its events: a new stream of that name starts empty.
    w.ok(
        "DeleteLogStream",
        json!({"logGroupName": "cruddur", "logStreamName": "s1"}),
    )
    .await;
    w.ok(
        "CreateLogStream",
        json!({"logGroupName": "cruddur", "logStreamName": "s1"}),
    )
    .await;
    let empty = w
        .ok(
            "GetLogEvents",
            json!({"logGroupName": "cruddur", "logStreamName": "s1", "startFromHead": true}),
        )
        .await;
    assert!(messages(&empty).is_empty());
    let rest = w
        .ok("FilterLogEvents", json!({"logGroupName": "cruddur"}))
        .await;
    assert_eq!(messages(&rest).len(), 1);

    // DeleteLogGroup deletes the rest.
    w.ok("DeleteLogGroup", json!({"logGroupName": "cruddur"}))
        .await;
    w.ok("CreateLogGroup", json!({"logGroupName": "cruddur"}))
        .await;
    let none = w
        .ok("FilterLogEvents", json!({"logGroupName": "cruddur"}))
        .await;
    assert!(messages(&none).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_unknown_operations_and_other_requests() {
    let w = start(memory_store()).await;
    let (status, v) = w.call("FrobnicateLogs", json!({})).await;
    assert_eq!(status, 400);
    assert_eq!(v["__type"], "UnknownOperationException");
    assert!(v["message"].as_str().unwrap().contains("FrobnicateLogs"));
    // POST / without a target is answered as AWS answers an unknown operation.
    let r = w
        .client
        .post(format!("http://{}/", w.http))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Json = r.json().await.unwrap();
    assert_eq!(v["__type"], "UnknownOperationException");
    // Other routes are untouched.
    let r = w
        .client
        .get(format!("http://{}/api/waggle/stats", w.http))
        .send()
        .await
        .unwrap();
    let stats: Json = r.json().await.unwrap();
    assert!(
        stats["receivers"]["cloudwatch_logs"]["requests"]
            .as_u64()
            .unwrap()
            >= 1
    );
    // Bad JSON is a SerializationException.
    let r = w
        .client
        .post(format!("http://{}/", w.http))
        .header("x-amz-target", "Logs_20140328.CreateLogGroup")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Json = r.json().await.unwrap();
    assert_eq!(v["__type"], "SerializationException");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_survives_a_restart_and_tags_retention_and_filters_work() {
    let store = memory_store();
    {
        let w = start(store.clone()).await;
        w.ok(
            "CreateLogGroup",
            json!({"logGroupName": "app", "tags": {"team": "a"}}),
        )
        .await;
        w.ok(
            "CreateLogStream",
            json!({"logGroupName": "app", "logStreamName": "x"}),
        )
        .await;
        put(&w, "app", "x", &[(now_ms(), "kept")]).await;
    }
    let w = start(store.clone()).await;
    let groups = w.ok("DescribeLogGroups", json!({})).await;
    assert_eq!(groups["logGroups"][0]["logGroupName"], "app");
    assert_eq!(
        groups["logGroups"][0]["arn"],
        "arn:aws:logs:us-east-1:123456789012:log-group:app:*"
    );
    let streams = w
        .ok("DescribeLogStreams", json!({"logGroupName": "app"}))
        .await;
    assert!(streams["logStreams"][0]["lastEventTimestamp"].is_i64());
    let tags = w
        .ok("ListTagsLogGroup", json!({"logGroupName": "app"}))
        .await;
    assert_eq!(tags["tags"]["team"], "a");
    let arn = "arn:aws:logs:us-east-1:123456789012:log-group:app";
    w.ok(
        "TagResource",
        json!({"resourceArn": arn, "tags": {"env": "dev"}}),
    )
    .await;
    let tags = w
        .ok("ListTagsForResource", json!({"resourceArn": arn}))
        .await;
    assert_eq!(tags["tags"], json!({"team": "a", "env": "dev"}));

    // An event older than the retention period (inserted directly: PutLogEvents refuses it)
    // is deleted when the policy is put.
    let mut old = Event::new(
        "app",
        (now_ms() - 5 * 86_400_000) * 1_000_000,
        SignalKind::Log,
    );
    old.set("body", Value::Str("ancient".into()));
    old.set("cloudwatch.log_group", Value::Str("app".into()));
    old.set("cloudwatch.log_stream", Value::Str("x".into()));
    store.insert(&[old]).unwrap();
    let before = w
        .ok("FilterLogEvents", json!({"logGroupName": "app"}))
        .await;
    assert_eq!(messages(&before).len(), 2);
    w.ok(
        "PutRetentionPolicy",
        json!({"logGroupName": "app", "retentionInDays": 1}),
    )
    .await;
    let after = w
        .ok("FilterLogEvents", json!({"logGroupName": "app"}))
        .await;
    assert_eq!(messages(&after), vec!["kept".to_string()]);
    let g = w.ok("DescribeLogGroups", json!({})).await;
    assert_eq!(g["logGroups"][0]["retentionInDays"], 1);
    w.ok("DeleteRetentionPolicy", json!({"logGroupName": "app"}))
        .await;

    // Metric and subscription filters: stored, listed, bad patterns refused.
    w.ok(
        "PutMetricFilter",
        json!({"logGroupName": "app", "filterName": "errors", "filterPattern": "ERROR",
               "metricTransformations": [{"metricName": "Errors", "metricNamespace": "App",
                                          "metricValue": "1"}]}),
    )
    .await;
    let mf = w
        .ok("DescribeMetricFilters", json!({"logGroupName": "app"}))
        .await;
    assert_eq!(mf["metricFilters"][0]["filterName"], "errors");
    assert_eq!(
        w.err(
            "PutMetricFilter",
            json!({"logGroupName": "app", "filterName": "bad", "filterPattern": "{ $.x = ",
                   "metricTransformations": [{"metricName": "E", "metricNamespace": "A",
                                              "metricValue": "1"}]}),
        )
        .await,
        "InvalidParameterException"
    );
    let t = w
        .ok(
            "TestMetricFilter",
            json!({"filterPattern": "{ $.level = \"ERROR\" }",
                   "logEventMessages": ["{\"level\": \"ERROR\"}", "{\"level\": \"INFO\"}", "plain"]}),
        )
        .await;
    assert_eq!(t["matches"].as_array().unwrap().len(), 1);
    assert_eq!(t["matches"][0]["eventNumber"], 1);
    w.ok(
        "PutSubscriptionFilter",
        json!({"logGroupName": "app", "filterName": "sub", "filterPattern": "",
               "destinationArn": "arn:aws:lambda:us-east-1:123456789012:function:f"}),
    )
    .await;
    let sf = w
        .ok(
            "DescribeSubscriptionFilters",
            json!({"logGroupName": "app"}),
        )
        .await;
    assert_eq!(sf["subscriptionFilters"][0]["filterName"], "sub");
    w.ok(
        "DeleteSubscriptionFilter",
        json!({"logGroupName": "app", "filterName": "sub"}),
    )
    .await;
    w.ok(
        "DeleteMetricFilter",
        json!({"logGroupName": "app", "filterName": "errors"}),
    )
    .await;
}

async fn query_results(w: &Running, id: &Json) -> Json {
    for _ in 0..200 {
        let r = w.ok("GetQueryResults", json!({"queryId": id})).await;
        if r["status"] != "Running" && r["status"] != "Scheduled" {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("query never finished");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insights_queries_and_trace_linked_logs() {
    let store = memory_store();
    let w = start(store.clone()).await;
    w.ok("CreateLogGroup", json!({"logGroupName": "cruddur"}))
        .await;
    w.ok(
        "CreateLogStream",
        json!({"logGroupName": "cruddur", "logStreamName": "web"}),
    )
    .await;
    // Three events in one minute, two in the next.
    let base = (now_ms() / 60_000 - 5) * 60_000;
    let trace = "5759e988bd862e3fe1be46a994272793";
    let linked = format!(r#"{{"trace_id": "{trace}", "level": "ERROR", "msg": "boom"}}"#);
    put(
        &w,
        "cruddur",
        "web",
        &[
            (base + 1_000, "a INFO"),
            (base + 2_000, "b ERROR"),
            (base + 3_000, linked.as_str()),
            (base + 61_000, "c INFO"),
            (base + 62_000, "d INFO"),
        ],
    )
    .await;
    let start_s = base / 1000 - 60;
    let end_s = base / 1000 + 600;
    let q = w
        .ok(
            "StartQuery",
            json!({"logGroupName": "cruddur", "startTime": start_s, "endTime": end_s,
                   "queryString": "stats count(*) by bin(1m)"}),
        )
        .await;
    let r = query_results(&w, &q["queryId"]).await;
    assert_eq!(r["status"], "Complete", "{r}");
    let mut counts: Vec<String> = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .find(|f| f["field"] == "count(*)")
                .unwrap()["value"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    counts.sort();
    assert_eq!(counts, vec!["2", "3"]);
    assert_eq!(r["statistics"]["recordsMatched"], 5.0);

    let q = w
        .ok(
            "StartQuery",
            json!({"logGroupName": "cruddur", "startTime": start_s, "endTime": end_s,
                   "queryString": "fields @timestamp, @message | filter @message like /ERROR/ | sort @timestamp asc"}),
        )
        .await;
    let r = query_results(&w, &q["queryId"]).await;
    let rows = r["results"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{r}");
    let listed = w
        .ok("DescribeQueries", json!({"logGroupName": "cruddur"}))
        .await;
    assert_eq!(listed["queries"].as_array().unwrap().len(), 2);
    assert_eq!(
        w.err(
            "StartQuery",
            json!({"logGroupName": "cruddur", "startTime": start_s, "endTime": end_s,
                   "queryString": "stats count(* by"}),
        )
        .await,
        "MalformedQueryException"
    );
    assert_eq!(
        w.err(
            "StartQuery",
            json!({"logGroupName": "nope", "startTime": start_s, "endTime": end_s,
                   "queryString": "fields @message"}),
        )
        .await,
        "ResourceNotFoundException"
    );

    // The JSON trace_id links the event to its trace in the store.
    let id = TraceId::parse(trace).unwrap();
    let events = store.trace(id).unwrap();
    assert!(
        events.iter().any(|e| e.kind == SignalKind::Log
            && matches!(e.get("body"), Some(Value::Str(s)) if s.contains("boom"))),
        "{events:?}"
    );
}
