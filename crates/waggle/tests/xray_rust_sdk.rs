//! End-to-end: the AWS SDK for Rust (`aws-sdk-xray`), signing with SigV4, against a real
//! `waggle serve` with AWS credentials configured: the right key pair is served; a wrong
//! secret, an unknown key and a stale signing time are refused with AWS's error codes.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_xray::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_xray::error::ProvideErrorMetadata;
use common::Waggle;

const AKID: &str = "AKIDWAGGLERUST";
const SECRET: &str = "rust-secret";

fn client(
    server: &Waggle,
    akid: &str,
    secret: &str,
    at: Option<SystemTime>,
) -> aws_sdk_xray::Client {
    let mut b = aws_sdk_xray::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(format!("http://{}", server.http))
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(akid, secret, None, None, "test"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .retry_config(aws_sdk_xray::config::retry::RetryConfig::disabled());
    if let Some(t) = at {
        b = b.time_source(aws_smithy_async::time::StaticTimeSource::new(t));
    }
    aws_sdk_xray::Client::from_conf(b.build())
}

fn segment(trace: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    serde_json::json!({
        "id": "70de5b6f19ff9a0a",
        "trace_id": trace,
        "name": "rust-svc",
        "start_time": now - 0.01,
        "end_time": now,
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_requests_are_verified() {
    let server = Waggle::start_with(&["--aws-credentials", &format!("{AKID}:{SECRET}")]);
    let now = SystemTime::now();
    let epoch = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let trace = format!("1-{epoch:08x}-a006649127e371903a2de979");

    let good = client(&server, AKID, SECRET, None);
    let put = good
        .put_trace_segments()
        .trace_segment_documents(segment(&trace))
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutTraceSegments: {e:?}\n{}", server.stderr_tail()));
    assert!(put.unprocessed_trace_segments().is_empty());
    let got = good
        .batch_get_traces()
        .trace_ids(&trace)
        .send()
        .await
        .expect("BatchGetTraces");
    assert_eq!(got.traces().len(), 1);
    assert_eq!(got.traces()[0].id(), Some(trace.as_str()));
    let rules = good
        .get_sampling_rules()
        .send()
        .await
        .expect("GetSamplingRules");
    assert!(rules
        .sampling_rule_records()
        .iter()
        .any(|r| r.sampling_rule().map(|s| s.rule_name()) == Some(Some("Default"))));

    let stale = now - Duration::from_secs(3600);
    for (akid, secret, at, code) in [
        (AKID, "wrong-secret", None, "InvalidSignatureException"),
        ("AKIDUNKNOWN", SECRET, None, "UnrecognizedClientException"),
        (AKID, SECRET, Some(stale), "InvalidSignatureException"),
    ] {
        let err = client(&server, akid, secret, at)
            .get_groups()
            .send()
            .await
            .expect_err("a bad signature must be refused");
        assert_eq!(err.code(), Some(code), "{akid}/{secret}/{at:?}: {err:?}");
    }
}
