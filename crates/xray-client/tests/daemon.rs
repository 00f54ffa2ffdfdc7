//! Against a fake X-Ray daemon on 127.0.0.1: UDP for documents, a minimal HTTP/1.1 server for
//! the sampling API.
#![allow(clippy::unwrap_used)]

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use xray_client::segment::Subsegment;
use xray_client::{
    DaemonConfig, Emitter, Sampler, SamplerOptions, SamplingRequest, Segment, TraceId,
};

/// Counts WARN events from this crate on the thread it is the default subscriber of.
struct WarnCounter(Arc<AtomicUsize>);

impl tracing::Subscriber for WarnCounter {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, e: &tracing::Event<'_>) {
        if *e.metadata().level() == tracing::Level::WARN
            && e.metadata().target().starts_with("xray_client")
        {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

fn udp_daemon() -> (UdpSocket, DaemonConfig) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let addr = sock.local_addr().unwrap();
    (
        sock,
        DaemonConfig {
            udp: addr,
            tcp: addr,
        },
    )
}

fn recv_doc(sock: &UdpSocket) -> Value {
    let mut buf = vec![0u8; 70_000];
    let n = sock.recv(&mut buf).unwrap();
    let text = std::str::from_utf8(&buf[..n]).unwrap();
    let (header, body) = text.split_once('\n').unwrap();
    assert_eq!(header, r#"{"format":"json","version":1}"#);
    serde_json::from_str(body).unwrap()
}

fn big_sub(name: &str, bytes: usize) -> Subsegment {
    let mut s = Subsegment::begin(name);
    s.put_metadata("blob", "x".repeat(bytes), None);
    s.end();
    s
}

#[test]
fn emits_one_framed_datagram() {
    let (daemon, cfg) = udp_daemon();
    let emitter = Arc::new(Emitter::new(&cfg).unwrap());
    let mut seg = Segment::begin("cruddur", TraceId::new(), None);
    seg.add_subsegment(big_sub("small", 10));
    seg.end();
    assert!(emitter.emit(&seg));
    let doc = recv_doc(&daemon);
    assert_eq!(doc["name"], "cruddur");
    assert_eq!(doc["trace_id"], seg.trace_id.to_xray());
    assert_eq!(doc["in_progress"], false);
    assert_eq!(doc["subsegments"][0]["parent_id"], seg.id.as_str());
    assert_eq!((emitter.sent(), emitter.dropped()), (1, 0));
}

#[test]
fn streams_subsegments_of_a_document_over_64k() {
    let (daemon, cfg) = udp_daemon();
    let emitter = Emitter::new(&cfg).unwrap();
    let mut seg = Segment::begin("big", TraceId::new(), Some("53995c3f42cd8ad8".into()));
    for i in 0..30 {
        seg.add_subsegment(big_sub(&format!("s{i}"), 1500));
    }
    // A subsegment too big alone, whose children then go out on their own.
    let mut nested = big_sub("nested", 10);
    for i in 0..3 {
        nested.add_subsegment(big_sub(&format!("n{i}"), 22_000));
    }
    seg.add_subsegment(nested);
    let open = Subsegment::begin("still-open");
    let open_id = open.id.clone();
    seg.add_subsegment(open);
    seg.end();
    assert!(seg.to_document().len() > 65_536);
    assert!(emitter.emit(&seg));

    let docs: Vec<Value> = (0..35).map(|_| recv_doc(&daemon)).collect();
    let (subs, segs): (Vec<&Value>, Vec<&Value>) =
        docs.iter().partition(|d| d.get("type").is_some());
    assert_eq!((subs.len(), segs.len()), (34, 1));
    let nested_id = subs.iter().find(|d| d["name"] == "nested").unwrap()["id"].clone();
    for d in &subs {
        assert_eq!(d["type"], "subsegment");
        assert_eq!(d["trace_id"], seg.trace_id.to_xray());
        let want_parent = if d["name"].as_str().unwrap().starts_with('n') && d["name"] != "nested" {
            nested_id.clone()
        } else {
            json!(seg.id)
        };
        assert_eq!(d["parent_id"], want_parent, "{}", d["name"]);
        assert!(d.get("subsegments").is_none());
    }
    // The segment comes last, with only the in-progress subsegment embedded.
    let last = docs.last().unwrap();
    assert_eq!(last["id"], seg.id.as_str());
    assert_eq!(last["parent_id"], "53995c3f42cd8ad8");
    assert_eq!(last["subsegments"].as_array().unwrap().len(), 1);
    assert_eq!(last["subsegments"][0]["id"], open_id.as_str());
    assert_eq!((emitter.sent(), emitter.dropped()), (35, 0));
}

#[test]
fn drops_what_cannot_fit_and_warns_once() {
    let warns = Arc::new(AtomicUsize::new(0));
    let _guard = tracing::subscriber::set_default(WarnCounter(warns.clone()));
    let (_daemon, cfg) = udp_daemon();
    let emitter = Emitter::new(&cfg).unwrap();
    let mut seg = Segment::begin("huge", TraceId::new(), None);
    seg.put_metadata("blob", "x".repeat(70_000), None);
    seg.end();
    assert!(!emitter.emit(&seg));
    assert!(!emitter.emit(&seg));
    assert_eq!((emitter.sent(), emitter.dropped()), (0, 2));
    assert_eq!(warns.load(Ordering::SeqCst), 1);
}

type Log = Arc<Mutex<Vec<(String, Value)>>>;

/// A fake daemon TCP proxy: records each request's path and JSON body and answers with
/// `handler(path, body)`, one request per connection.
async fn fake_daemon(
    handler: impl Fn(&str, &Value) -> Value + Send + Sync + 'static,
) -> (SocketAddr, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log: Log = Arc::default();
    let (log2, handler) = (log.clone(), Arc::new(handler));
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let (log, handler) = (log2.clone(), handler.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    let n = conn.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break p + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                while buf.len() < head_end + len {
                    let n = conn.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let path = head
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("")
                    .trim_start_matches('/')
                    .to_string();
                let body: Value =
                    serde_json::from_slice(&buf[head_end..head_end + len]).unwrap_or(Value::Null);
                let answer = handler(&path, &body).to_string();
                log.lock().unwrap().push((path, body));
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                );
                let _ = conn.write_all(resp.as_bytes()).await;
                let _ = conn.shutdown().await;
            });
        }
    });
    (addr, log)
}

fn rule(name: &str, priority: i64, path: &str, reservoir: u64, rate: f64) -> Value {
    json!({"SamplingRule": {
        "RuleName": name, "RuleARN": format!("arn:aws:xray:us-east-1:123456789012:sampling-rule/{name}"),
        "ResourceARN": "*", "Priority": priority, "FixedRate": rate, "ReservoirSize": reservoir,
        "ServiceName": "*", "ServiceType": "*", "Host": "*", "HTTPMethod": "*", "URLPath": path,
        "Version": 1, "Attributes": {}},
        "CreatedAt": 1.0, "ModifiedAt": 1.0})
}

fn rules_page(body: &Value) -> Value {
    if body["NextToken"].is_null() {
        json!({"SamplingRuleRecords": [rule("Default", 10000, "*", 1, 0.0), rule("Home", 5, "/api/activities/home", 1, 0.0)],
               "NextToken": "page2"})
    } else {
        let mut v2 = rule("Version2", 1, "*", 1, 1.0);
        v2["SamplingRule"]["Version"] = json!(2);
        let mut attrs = rule("WithAttributes", 1, "*", 1, 1.0);
        attrs["SamplingRule"]["Attributes"] = json!({"k": "v"});
        json!({"SamplingRuleRecords": [rule("Api", 6, "/api/*", 0, 1.0), v2, attrs]})
    }
}

fn options() -> SamplerOptions {
    SamplerOptions {
        rule_interval: Duration::from_secs(3600),
        target_interval: Duration::from_secs(3600),
        rule_jitter: Duration::ZERO,
        target_jitter: Duration::ZERO,
        seed: Some(9),
        ..SamplerOptions::default()
    }
}

#[tokio::test]
async fn centralized_rules_borrow_quota_and_statistics() {
    let now = xray_client::now_epoch().floor();
    let (addr, log) = fake_daemon(move |path, body| match path {
        "GetSamplingRules" => rules_page(body),
        "SamplingTargets" => json!({
            "SamplingTargetDocuments": [{"RuleName": "Home", "FixedRate": 0.0, "ReservoirQuota": 2,
                                         "ReservoirQuotaTTL": now + 60.0, "Interval": 10}],
            "LastRuleModification": 1.0, "UnprocessedStatistics": []}),
        _ => json!({}),
    })
    .await;
    let sampler = Sampler::with_options(
        DaemonConfig {
            udp: addr,
            tcp: addr,
        },
        Some("client-1".into()),
        options(),
    );
    assert!(sampler.refresh_rules().await);
    let names: Vec<String> = sampler.rules().into_iter().map(|r| r.name).collect();
    assert_eq!(
        names,
        ["Home", "Api", "Default"],
        "priority then name; invalid rules skipped"
    );
    let bodies: Vec<Value> = log.lock().unwrap().iter().map(|(_, b)| b.clone()).collect();
    assert_eq!(
        bodies,
        [json!({"NextToken": null}), json!({"NextToken": "page2"})]
    );

    let home = SamplingRequest::new("cruddur", "api.example.com", "GET", "/api/activities/home");
    // Before a quota: borrow one a second, then the fixed rate (0 here).
    let d = sampler.decide_at(&home, now + 0.1);
    assert_eq!((d.sample, d.rule_name.as_deref()), (true, Some("Home")));
    assert!(!sampler.decide_at(&home, now + 0.2).sample);
    assert!(sampler.decide_at(&home, now + 1.1).sample);
    let other = SamplingRequest::new("cruddur", "h", "GET", "/api/x");
    assert_eq!(
        sampler.decide_at(&other, now + 1.2).rule_name.as_deref(),
        Some("Api")
    );
    let unmatched = SamplingRequest::new("cruddur", "h", "GET", "/health");
    let d = sampler.decide_at(&unmatched, now + 1.3);
    assert_eq!((d.sample, d.rule_name.as_deref()), (true, Some("Default")));

    assert!(sampler.report_targets().await);
    let (path, body) = log.lock().unwrap().last().unwrap().clone();
    assert_eq!(path, "SamplingTargets");
    let mut docs = body["SamplingStatisticsDocuments"]
        .as_array()
        .unwrap()
        .clone();
    docs.sort_by_key(|d| d["RuleName"].as_str().unwrap().to_string());
    let ts = docs[0]["Timestamp"].as_f64().unwrap();
    assert!((ts - xray_client::now_epoch()).abs() < 5.0);
    let counts: Vec<_> = docs
        .iter()
        .map(|d| {
            assert_eq!(d["ClientID"], "client-1");
            (
                d["RuleName"].as_str().unwrap(),
                d["RequestCount"].as_u64().unwrap(),
                d["SampledCount"].as_u64().unwrap(),
                d["BorrowCount"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        counts,
        [("Api", 1, 1, 0), ("Default", 1, 0, 1), ("Home", 3, 0, 2)]
    );
    assert!(sampler
        .rules()
        .iter()
        .all(|r| r.request_count == 0 && r.sampled_count == 0 && r.borrow_count == 0));

    // With the quota of 2 a second: take two, then the fixed rate (0).
    let home_rule = sampler
        .rules()
        .into_iter()
        .find(|r| r.name == "Home")
        .unwrap();
    assert_eq!(
        (home_rule.reservoir_quota, home_rule.quota_ttl),
        (Some(2), Some(now + 60.0))
    );
    let s: Vec<bool> = (0..4)
        .map(|_| sampler.decide_at(&home, now + 2.5).sample)
        .collect();
    assert_eq!(s, [true, true, false, false]);
    // Past the TTL: borrowing again.
    let s: Vec<bool> = (0..2)
        .map(|_| sampler.decide_at(&home, now + 61.5).sample)
        .collect();
    assert_eq!(s, [true, false]);

    assert!(sampler.report_targets().await);
    let (_, body) = log.lock().unwrap().last().unwrap().clone();
    let docs = body["SamplingStatisticsDocuments"].as_array().unwrap();
    assert_eq!(docs.len(), 1, "only rules matched since the last report");
    assert_eq!(
        (
            docs[0]["RequestCount"].as_u64(),
            docs[0]["SampledCount"].as_u64(),
            docs[0]["BorrowCount"].as_u64()
        ),
        (Some(6), Some(2), Some(1))
    );
    // Nothing matched since: no call at all.
    let calls = log.lock().unwrap().len();
    assert!(sampler.report_targets().await);
    assert_eq!(log.lock().unwrap().len(), calls);
}

#[tokio::test]
async fn pollers_fetch_rules_and_refetch_when_they_changed() {
    let (addr, log) = fake_daemon(|path, body| match path {
        "GetSamplingRules" => rules_page(body),
        // Rules changed after any fetch: the rule poller is woken up.
        _ => json!({"SamplingTargetDocuments": [], "LastRuleModification": xray_client::now_epoch() + 1000.0}),
    })
    .await;
    let opts = SamplerOptions {
        target_interval: Duration::from_millis(50),
        ..options()
    };
    let sampler = Sampler::with_options(
        DaemonConfig {
            udp: addr,
            tcp: addr,
        },
        None,
        opts,
    );
    assert!(sampler.start());
    assert!(!sampler.start(), "starts once");
    let home = SamplingRequest::new("cruddur", "h", "GET", "/api/activities/home");
    let count = |p: &str| {
        log.lock()
            .unwrap()
            .iter()
            .filter(|(path, _)| path == p)
            .count()
    };
    for _ in 0..100 {
        if !sampler.rules().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(sampler.decide(&home).rule_name.as_deref(), Some("Home"));
    for _ in 0..100 {
        if count("GetSamplingRules") >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(count("SamplingTargets") >= 1);
    assert!(
        count("GetSamplingRules") >= 4,
        "woken up after SamplingTargets said rules changed"
    );
    assert_eq!(sampler.poll_errors(), 0);
}

#[tokio::test]
async fn falls_back_to_local_rules_without_a_daemon_and_warns_once() {
    let warns = Arc::new(AtomicUsize::new(0));
    let _guard = tracing::subscriber::set_default(WarnCounter(warns.clone()));
    // A port nothing listens on.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let opts = SamplerOptions {
        rule_interval: Duration::from_millis(20),
        request_timeout: Duration::from_millis(200),
        ..options()
    };
    let sampler = Sampler::with_options(
        DaemonConfig {
            udp: addr,
            tcp: addr,
        },
        None,
        opts,
    );
    assert!(sampler.start());
    for _ in 0..100 {
        if sampler.poll_errors() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(sampler.poll_errors() >= 3);
    assert_eq!(warns.load(Ordering::SeqCst), 1);
    assert!(sampler.rules().is_empty());
    let req = SamplingRequest::new("cruddur", "h", "GET", "/");
    let d = sampler.decide_at(&req, 5000.5);
    assert_eq!(
        (d.sample, d.rule_name),
        (true, None),
        "the local default samples the first request each second"
    );
    assert!(!sampler.refresh_rules().await);
}
