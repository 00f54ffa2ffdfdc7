//! The captured watchtower, boto3 and aws CLI calls (fixtures/cloudwatch_logs) replayed in
//! order against `LogsState` and an in-memory store: every body decodes into its shape, and
//! every answer has the status and error code the clients were given (the recording server
//! answered as AWS does), including watchtower's PutLogEvents → ResourceNotFoundException →
//! CreateLogStream → PutLogEvents dance.
#![allow(clippy::unwrap_used)]

mod cloudwatch_logs_support;

use cloudwatch_logs_support::{key, Store};
use serde_json::Value as J;
use waggle_protocols::aws::{AwsError, Service};
use waggle_protocols::cloudwatch_logs::shapes::*;
use waggle_protocols::cloudwatch_logs::state::LogsState;
use waggle_protocols::cloudwatch_logs::Partition;

const FIXTURE: &str = include_str!("fixtures/cloudwatch_logs/capture-logs.jsonl");

fn parse<T: serde::de::DeserializeOwned>(body: &str) -> T {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// One operation: the JSON answer or the error.
fn run(
    state: &mut LogsState,
    store: &mut Store,
    op: &str,
    body: &str,
    now_ms: i64,
) -> Result<J, AwsError> {
    let k = key();
    let j = |v: &dyn erased::Ser| v.json();
    Ok(match op {
        "CreateLogGroup" => {
            state.create_log_group(&parse(body), now_ms)?;
            J::Object(Default::default())
        }
        "CreateLogStream" => {
            state.create_log_stream(&parse(body), now_ms)?;
            J::Object(Default::default())
        }
        "PutRetentionPolicy" => {
            state.put_retention_policy(&parse(body))?;
            J::Object(Default::default())
        }
        "DescribeLogGroups" => j(&state.describe_log_groups(&parse(body), &k)?),
        "DescribeLogStreams" => j(&state.describe_log_streams(&parse(body), &k)?),
        "PutLogEvents" => {
            let r = state.put_log_events(&parse(body), now_ms)?;
            store.insert(r.events);
            j(&r.response)
        }
        "GetLogEvents" => {
            let plan = state.plan_get_log_events(&parse(body), &k)?;
            j(&plan.respond(store.get(&plan), &k)?)
        }
        "FilterLogEvents" => {
            let req: FilterLogEventsRequest = parse(body);
            let pattern = req.filter_pattern.clone().unwrap_or_default();
            let plan = state.plan_filter_log_events(&req, &k)?;
            // A one-term pattern is a substring match (the query crate owns the rest).
            let hits = store.filter(&plan, |m| m.contains(pattern.as_str()));
            j(&plan.respond(hits, &k)?)
        }
        other => panic!("no replay for {other}"),
    })
}

mod erased {
    pub trait Ser {
        fn json(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Ser for T {
        fn json(&self) -> serde_json::Value {
            serde_json::to_value(self).unwrap()
        }
    }
}

#[test]
fn replay_matches_the_recorded_answers() {
    let mut state = LogsState::new(Partition::new("ca-central-1", "123456789012"));
    let mut store = Store::default();
    let mut seen = 0;
    for line in FIXTURE.lines() {
        let rec: J = serde_json::from_str(line).unwrap();
        let seq = rec["seq"].as_u64().unwrap();
        let op = rec["op"].as_str().unwrap();
        let body = rec["body_text"].as_str().unwrap();
        let ts = rec["ts"].as_f64().unwrap();
        let now_ms = (ts * 1000.0) as i64;
        let want_status = rec["response"]["status"].as_u64().unwrap();
        let response = rec["response"]["body_text"].as_str().unwrap();
        let got = run(&mut state, &mut store, op, body, now_ms);
        match (&got, want_status) {
            (Ok(_), 200) => {}
            (Err(e), 400) => {
                let rendered = e.render(Service::CloudWatchLogs, &Default::default());
                let code = e.kind.code(Service::CloudWatchLogs);
                assert_eq!(rendered.status, 400, "seq {seq}");
                assert!(
                    response.contains(code),
                    "seq {seq} {op}: we said {code}: {}",
                    e.message()
                );
                // The messages the recorder sent are AWS's texts.
                assert!(response.contains(e.message()), "seq {seq}: {}", e.message());
            }
            _ => panic!("seq {seq} {op}: recorded {want_status}, we answered {got:?}"),
        }
        seen += 1;
    }
    assert_eq!(seen, 41);

    // What the clients then read back.
    let k = key();
    let groups = state
        .describe_log_groups(&DescribeLogGroupsRequest::default(), &k)
        .unwrap();
    let names: Vec<&str> = groups
        .log_groups
        .iter()
        .map(|g| g.log_group_name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "/cruddur/acceptance",
            "/cruddur/cli",
            "/cruddur/faults",
            "/cruddur/watchtower",
            "/cruddur/watchtower-faults",
            "cruddur"
        ]
    );
    let acc = &groups.log_groups[0];
    assert_eq!(
        acc.arn,
        "arn:aws:logs:ca-central-1:123456789012:log-group:/cruddur/acceptance:*"
    );
    assert_eq!(
        acc.log_group_arn.as_deref(),
        Some("arn:aws:logs:ca-central-1:123456789012:log-group:/cruddur/acceptance")
    );
    assert_eq!(acc.retention_in_days, Some(1));

    // watchtower's 46 Cruddur records arrived once, in order.
    let req: GetLogEventsRequest = parse(
        r#"{"logGroupName":"cruddur","logStreamName":"vm//backend-flask/app.py/cruddur/1957","startFromHead":true}"#,
    );
    let plan = state.plan_get_log_events(&req, &k).unwrap();
    let page = plan.respond(store.get(&plan), &k).unwrap();
    let sent: J = serde_json::from_str(
        serde_json::from_str::<J>(
            FIXTURE
                .lines()
                .find(|l| l.starts_with("{\"seq\": 47,"))
                .unwrap(),
        )
        .unwrap()["body_text"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let sent = sent["logEvents"].as_array().unwrap();
    assert_eq!(page.events.len(), sent.len());
    for (got, want) in page.events.iter().zip(sent) {
        assert_eq!(got.message, want["message"].as_str().unwrap());
        assert_eq!(got.timestamp, want["timestamp"].as_i64().unwrap());
    }
    let streams = state
        .describe_log_streams(&parse(r#"{"logGroupName":"cruddur"}"#), &k)
        .unwrap();
    let s = &streams.log_streams[0];
    assert_eq!(
        s.first_event_timestamp,
        Some(sent[0]["timestamp"].as_i64().unwrap())
    );
    assert_eq!(
        s.last_event_timestamp,
        Some(sent[sent.len() - 1]["timestamp"].as_i64().unwrap())
    );
    assert_eq!(
        s.arn,
        "arn:aws:logs:ca-central-1:123456789012:log-group:cruddur:log-stream:vm//backend-flask/app.py/cruddur/1957"
    );
}

#[test]
fn watchtower_sequence_tokens_are_accepted_and_answered() {
    let mut state = LogsState::new(Partition::new("ca-central-1", "123456789012"));
    state
        .create_log_group(&parse(r#"{"logGroupName":"g"}"#), 0)
        .unwrap();
    state
        .create_log_stream(&parse(r#"{"logGroupName":"g","logStreamName":"s"}"#), 0)
        .unwrap();
    let now = 1_795_650_505_620;
    let first = state
        .put_log_events(&parse(&format!(r#"{{"logGroupName":"g","logStreamName":"s","logEvents":[{{"timestamp":{now},"message":"a"}}]}}"#)), now)
        .unwrap();
    let token = first.response.next_sequence_token.clone().unwrap();
    assert_eq!(token.len(), 56);
    // A stale or bogus token is ignored, never InvalidSequenceTokenException.
    for t in [
        token.as_str(),
        "bogus",
        "00000000000000000000000000000000000000000000000000000001",
    ] {
        let r = state
            .put_log_events(&parse(&format!(r#"{{"logGroupName":"g","logStreamName":"s","logEvents":[{{"timestamp":{now},"message":"b"}}],"sequenceToken":"{t}"}}"#)), now)
            .unwrap();
        assert!(r.response.rejected_log_events_info.is_none());
        let body = serde_json::to_string(&r.response).unwrap();
        assert!(!body.contains("rejectedLogEventsInfo"), "{body}");
    }
}
