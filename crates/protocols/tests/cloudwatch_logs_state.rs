//! State transitions (create, exists, not found, retention, tags by name and ARN, filters,
//! delete) and paging to the end: Describe* tokens never repeat and stop; GetLogEvents tokens
//! repeat at the end of the stream in both directions; FilterLogEvents stops without a token.
#![allow(clippy::unwrap_used)]

mod cloudwatch_logs_support;

use std::collections::BTreeSet;

use cloudwatch_logs_support::{key, Store};
use waggle_protocols::aws::ErrorKind;
use waggle_protocols::cloudwatch_logs::shapes::*;
use waggle_protocols::cloudwatch_logs::state::LogsState;
use waggle_protocols::cloudwatch_logs::*;

const NOW: i64 = 1_795_650_505_000;

fn parse<T: serde::de::DeserializeOwned>(body: &str) -> T {
    serde_json::from_str(body).unwrap()
}

fn state() -> LogsState {
    LogsState::new(Partition::new("us-east-1", "123456789012"))
}

fn put(s: &mut LogsState, store: &mut Store, group: &str, stream: &str, times: &[i64], now: i64) {
    let events: Vec<String> = times
        .iter()
        .enumerate()
        .map(|(i, t)| format!(r#"{{"timestamp":{t},"message":"event {i} at {t}"}}"#))
        .collect();
    let body = format!(
        r#"{{"logGroupName":"{group}","logStreamName":"{stream}","logEvents":[{}]}}"#,
        events.join(",")
    );
    let r = s.put_log_events(&parse(&body), now).unwrap();
    store.insert(r.events);
}

#[test]
fn group_and_stream_lifecycle() {
    let mut s = state();
    let g = r#"{"logGroupName":"cruddur"}"#;
    let gs = r#"{"logGroupName":"cruddur","logStreamName":"s1"}"#;
    let e = s.create_log_stream(&parse(gs), NOW).unwrap_err();
    assert_eq!(
        (e.kind, e.message()),
        (ErrorKind::ResourceNotFound, MSG_GROUP_NOT_FOUND)
    );
    s.create_log_group(&parse(g), NOW).unwrap();
    let e = s.create_log_group(&parse(g), NOW).unwrap_err();
    assert_eq!(
        (e.kind, e.message()),
        (ErrorKind::ResourceAlreadyExists, MSG_GROUP_EXISTS)
    );
    let e = s
        .put_log_events(&parse(r#"{"logGroupName":"cruddur","logStreamName":"s1","logEvents":[{"timestamp":1795650505000,"message":"m"}]}"#), NOW)
        .unwrap_err();
    assert_eq!(
        (e.kind, e.message()),
        (ErrorKind::ResourceNotFound, MSG_STREAM_NOT_FOUND)
    );
    s.create_log_stream(&parse(gs), NOW + 1).unwrap();
    let e = s.create_log_stream(&parse(gs), NOW).unwrap_err();
    assert_eq!(
        (e.kind, e.message()),
        (ErrorKind::ResourceAlreadyExists, MSG_STREAM_EXISTS)
    );

    // Stream statistics follow accepted events only.
    let mut store = Store::default();
    put(
        &mut s,
        &mut store,
        "cruddur",
        "s1",
        &[NOW - 10, NOW - 5],
        NOW + 100,
    );
    put(
        &mut s,
        &mut store,
        "cruddur",
        "s1",
        &[NOW - 20, NOW + 3 * 3_600_000],
        NOW + 200,
    );
    let k = key();
    let st = s.describe_log_streams(&parse(g), &k).unwrap();
    let st = &st.log_streams[0];
    assert_eq!(st.creation_time, NOW + 1);
    assert_eq!(st.first_event_timestamp, Some(NOW - 20));
    assert_eq!(st.last_event_timestamp, Some(NOW - 5));
    assert_eq!(st.last_ingestion_time, Some(NOW + 200));
    assert_eq!(
        st.upload_sequence_token.as_deref(),
        Some("00000000000000000000000000000000000000000000000000000002")
    );
    assert_eq!(store.events.len(), 3);

    // Retention and its effect on PutLogEvents.
    s.put_retention_policy(&parse(r#"{"logGroupName":"cruddur","retentionInDays":1}"#))
        .unwrap();
    let lg = s
        .describe_log_groups(&DescribeLogGroupsRequest::default(), &k)
        .unwrap();
    assert_eq!(lg.log_groups[0].retention_in_days, Some(1));
    let r = s
        .put_log_events(&parse(&format!(r#"{{"logGroupName":"cruddur","logStreamName":"s1","logEvents":[{{"timestamp":{},"message":"old"}},{{"timestamp":{NOW},"message":"new"}}]}}"#, NOW - 2 * 86_400_000)), NOW)
        .unwrap();
    assert_eq!(
        r.response
            .rejected_log_events_info
            .unwrap()
            .expired_log_event_end_index,
        Some(1)
    );
    assert_eq!(r.events.len(), 1);
    s.delete_retention_policy(&parse(g)).unwrap();
    assert_eq!(s.group("cruddur").unwrap().retention_in_days, None);

    // Tags: by ARN (no `:*`) and by the deprecated name operations.
    let arn = "arn:aws:logs:us-east-1:123456789012:log-group:cruddur";
    s.tag_resource(&parse(&format!(
        r#"{{"resourceArn":"{arn}","tags":{{"team":"a","env":"dev"}}}}"#
    )))
    .unwrap();
    s.untag_resource(&parse(&format!(
        r#"{{"resourceArn":"{arn}","tagKeys":["env"]}}"#
    )))
    .unwrap();
    s.tag_log_group(&parse(r#"{"logGroupName":"cruddur","tags":{"x":"1"}}"#))
        .unwrap();
    let t = s
        .list_tags_for_resource(&parse(&format!(r#"{{"resourceArn":"{arn}"}}"#)))
        .unwrap();
    assert_eq!(
        serde_json::to_string(&t).unwrap(),
        r#"{"tags":{"team":"a","x":"1"}}"#
    );
    s.untag_log_group(&parse(r#"{"logGroupName":"cruddur","tags":["x"]}"#))
        .unwrap();
    assert_eq!(s.list_tags_log_group(&parse(g)).unwrap().tags.len(), 1);
    let e = s
        .tag_resource(&parse(r#"{"resourceArn":"arn:aws:logs:eu-west-1:123456789012:log-group:cruddur","tags":{"a":"b"}}"#))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::ResourceNotFound);
    let many: Vec<String> = (0..50).map(|i| format!(r#""k{i}":"v""#)).collect();
    let e = s
        .tag_resource(&parse(&format!(
            r#"{{"resourceArn":"{arn}","tags":{{{}}}}}"#,
            many.join(",")
        )))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::TooManyTags);

    // Metric and subscription filters.
    let mf = r#"{"logGroupName":"cruddur","filterName":"errors","filterPattern":"ERROR","metricTransformations":[{"metricName":"errors","metricNamespace":"cruddur","metricValue":"1"}]}"#;
    s.put_metric_filter(&parse(mf), NOW).unwrap();
    s.put_metric_filter(&parse(mf), NOW).unwrap();
    let lg = s
        .describe_log_groups(&DescribeLogGroupsRequest::default(), &k)
        .unwrap();
    assert_eq!(lg.log_groups[0].metric_filter_count, Some(1));
    let d = s
        .describe_metric_filters(&parse(r#"{"metricName":"errors"}"#), &k)
        .unwrap();
    assert_eq!(d.metric_filters[0].filter_pattern, "ERROR");
    s.delete_metric_filter(&parse(
        r#"{"logGroupName":"cruddur","filterName":"errors"}"#,
    ))
    .unwrap();
    assert_eq!(
        s.delete_metric_filter(&parse(
            r#"{"logGroupName":"cruddur","filterName":"errors"}"#
        ))
        .unwrap_err()
        .kind,
        ErrorKind::ResourceNotFound
    );
    for n in ["a", "b"] {
        s.put_subscription_filter(&parse(&format!(r#"{{"logGroupName":"cruddur","filterName":"{n}","filterPattern":"","destinationArn":"arn:aws:lambda:us-east-1:123456789012:function:f"}}"#)), NOW).unwrap();
    }
    let e = s
        .put_subscription_filter(&parse(r#"{"logGroupName":"cruddur","filterName":"c","filterPattern":"","destinationArn":"arn:x"}"#), NOW)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::LimitExceeded);
    let d = s.describe_subscription_filters(&parse(g), &k).unwrap();
    assert_eq!(d.subscription_filters.len(), 2);
    assert_eq!(
        d.subscription_filters[0].distribution.as_deref(),
        Some("ByLogStream")
    );
    s.delete_subscription_filter(&parse(r#"{"logGroupName":"cruddur","filterName":"a"}"#))
        .unwrap();

    // Deletes.
    s.delete_log_stream(&parse(gs)).unwrap();
    assert_eq!(
        s.delete_log_stream(&parse(gs)).unwrap_err().kind,
        ErrorKind::ResourceNotFound
    );
    s.delete_log_group(&parse(g)).unwrap();
    assert_eq!(
        s.delete_log_group(&parse(g)).unwrap_err().message(),
        MSG_GROUP_NOT_FOUND
    );

    // The state is one serializable document.
    let doc = serde_json::to_string(&s).unwrap();
    assert_eq!(serde_json::from_str::<LogsState>(&doc).unwrap(), s);
}

#[test]
fn describe_log_groups_pages_to_the_end_with_prefix_and_pattern() {
    let mut s = state();
    for i in 0..23 {
        s.create_log_group(
            &parse(&format!(r#"{{"logGroupName":"/app/g{i:02}"}}"#)),
            NOW,
        )
        .unwrap();
    }
    s.create_log_group(&parse(r#"{"logGroupName":"other"}"#), NOW)
        .unwrap();
    let k = key();
    let mut seen = Vec::new();
    let mut tokens = BTreeSet::new();
    let mut token: Option<String> = None;
    loop {
        let mut req: DescribeLogGroupsRequest =
            parse(r#"{"logGroupNamePrefix":"/app/","limit":5}"#);
        req.next_token = token.clone();
        let r = s.describe_log_groups(&req, &k).unwrap();
        seen.extend(r.log_groups.into_iter().map(|g| g.log_group_name));
        match r.next_token {
            Some(t) => {
                assert!(tokens.insert(t.clone()), "token repeated");
                token = Some(t);
            }
            None => break,
        }
    }
    let want: Vec<String> = (0..23).map(|i| format!("/app/g{i:02}")).collect();
    assert_eq!(seen, want);
    assert_eq!(tokens.len(), 4);

    // Pattern: substring, short form (only arn, creationTime, logGroupName).
    let r = s
        .describe_log_groups(&parse(r#"{"logGroupNamePattern":"g1"}"#), &k)
        .unwrap();
    assert_eq!(r.log_groups.len(), 10);
    let j = serde_json::to_value(&r.log_groups[0]).unwrap();
    let mut keys: Vec<&str> = j.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    keys.sort();
    assert_eq!(keys, ["arn", "creationTime", "logGroupName"]);

    // A forged or foreign token.
    let mut req = DescribeLogGroupsRequest {
        next_token: Some("garbage".into()),
        ..Default::default()
    };
    assert_eq!(
        s.describe_log_groups(&req, &k).unwrap_err().kind,
        ErrorKind::InvalidParameter
    );
    req.next_token = Some(
        waggle_protocols::aws::token::encode(&k, "DescribeLogStreams/LogStreamName", &"x").unwrap(),
    );
    assert_eq!(
        s.describe_log_groups(&req, &k).unwrap_err().kind,
        ErrorKind::InvalidParameter
    );
}

#[test]
fn describe_log_streams_orders_and_pages() {
    let mut s = state();
    let mut store = Store::default();
    s.create_log_group(&parse(r#"{"logGroupName":"g"}"#), NOW)
        .unwrap();
    for (name, t) in [("c", 3), ("a", 1), ("d", 4), ("b", 2), ("e", 0)] {
        s.create_log_stream(
            &parse(&format!(
                r#"{{"logGroupName":"g","logStreamName":"{name}"}}"#
            )),
            NOW,
        )
        .unwrap();
        if t > 0 {
            put(&mut s, &mut store, "g", name, &[NOW - 1000 + t], NOW);
        }
    }
    let k = key();
    let collect = |body: &str| -> Vec<String> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut req: DescribeLogStreamsRequest = parse(body);
            req.next_token = token.take();
            let r = s.describe_log_streams(&req, &k).unwrap();
            out.extend(r.log_streams.into_iter().map(|s| s.log_stream_name));
            match r.next_token {
                Some(t) => token = Some(t),
                None => return out,
            }
        }
    };
    assert_eq!(
        collect(r#"{"logGroupName":"g","limit":2}"#),
        ["a", "b", "c", "d", "e"]
    );
    assert_eq!(
        collect(r#"{"logGroupName":"g","limit":2,"descending":true}"#),
        ["e", "d", "c", "b", "a"]
    );
    assert_eq!(
        collect(r#"{"logGroupName":"g","limit":2,"orderBy":"LastEventTime"}"#),
        ["e", "a", "b", "c", "d"]
    );
    assert_eq!(
        collect(r#"{"logGroupName":"g","limit":1,"orderBy":"LastEventTime","descending":true}"#),
        ["d", "c", "b", "a", "e"]
    );
    assert_eq!(
        collect(r#"{"logGroupName":"g","logStreamNamePrefix":"b"}"#),
        ["b"]
    );
    assert_eq!(
        collect(r#"{"logGroupIdentifier":"arn:aws:logs:us-east-1:123456789012:log-group:g"}"#)
            .len(),
        5
    );
    // "If you specify an ARN, the ARN can't end with an asterisk" (model doc; `*` is outside
    // the pattern).
    let star = r#"{"logGroupIdentifier":"arn:aws:logs:us-east-1:123456789012:log-group:g:*"}"#;
    assert_eq!(
        s.describe_log_streams(&parse(star), &k).unwrap_err().kind,
        ErrorKind::InvalidParameter
    );
    assert_eq!(
        s.describe_log_streams(&parse(r#"{"logGroupName":"nope"}"#), &k)
            .unwrap_err()
            .message(),
        MSG_GROUP_NOT_FOUND
    );
}

#[test]
fn get_log_events_tokens_repeat_at_the_end() {
    let mut s = state();
    let mut store = Store::default();
    s.create_log_group(&parse(r#"{"logGroupName":"g"}"#), NOW)
        .unwrap();
    s.create_log_stream(&parse(r#"{"logGroupName":"g","logStreamName":"s"}"#), NOW)
        .unwrap();
    s.create_log_stream(
        &parse(r#"{"logGroupName":"g","logStreamName":"other"}"#),
        NOW,
    )
    .unwrap();
    let times: Vec<i64> = (0..25).map(|i| NOW - 10_000 + i * 10).collect();
    put(&mut s, &mut store, "g", "s", &times, NOW);
    put(&mut s, &mut store, "g", "other", &[NOW - 5], NOW);
    let k = key();
    fn get(s: &LogsState, store: &Store, body: &str, token: Option<&str>) -> GetLogEventsResponse {
        let k = key();
        let mut req: GetLogEventsRequest = parse(body);
        req.next_token = token.map(str::to_owned);
        let plan = s.plan_get_log_events(&req, &k).unwrap();
        plan.respond(store.get(&plan), &k).unwrap()
    }
    // Forward from the head, as the CLI pages: until the token comes back unchanged.
    let head = r#"{"logGroupName":"g","logStreamName":"s","startFromHead":true,"limit":10}"#;
    let mut got = Vec::new();
    let mut token: Option<String> = None;
    let mut calls = 0;
    loop {
        let r = get(&s, &store, head, token.as_deref());
        calls += 1;
        assert!(r.next_forward_token.starts_with("f/") && r.next_backward_token.starts_with("b/"));
        got.extend(r.events.iter().map(|e| e.timestamp));
        if token.as_deref() == Some(r.next_forward_token.as_str()) {
            assert!(r.events.is_empty());
            break;
        }
        token = Some(r.next_forward_token);
        assert!(calls < 10);
    }
    assert_eq!(got, times);
    assert_eq!(calls, 4); // 10 + 10 + 5 + the empty page that repeats the token
                          // New events after the end are picked up with the repeated token.
    put(&mut s, &mut store, "g", "s", &[NOW], NOW);
    let r = get(&s, &store, head, token.as_deref());
    assert_eq!(
        r.events.iter().map(|e| e.timestamp).collect::<Vec<_>>(),
        [NOW]
    );

    // Default (startFromHead false): the newest page, then backward to the start.
    let tail = r#"{"logGroupName":"g","logStreamName":"s","limit":10}"#;
    let first = get(&s, &store, tail, None);
    assert_eq!(first.events.len(), 10);
    assert_eq!(first.events.last().unwrap().timestamp, NOW);
    let mut back = first.next_backward_token.clone();
    let mut older = 0;
    loop {
        let r = get(&s, &store, tail, Some(&back));
        older += r.events.len();
        if r.next_backward_token == back {
            break;
        }
        back = r.next_backward_token;
    }
    assert_eq!(older, 16);

    // Time bounds: start inclusive, end exclusive.
    let bounded = format!(
        r#"{{"logGroupName":"g","logStreamName":"s","startFromHead":true,"startTime":{},"endTime":{}}}"#,
        times[3], times[6]
    );
    let r = get(&s, &store, &bounded, None);
    assert_eq!(
        r.events.iter().map(|e| e.timestamp).collect::<Vec<_>>(),
        &times[3..6]
    );

    // A token of another stream is refused; so is garbage.
    let other = r#"{"logGroupName":"g","logStreamName":"other","startFromHead":true}"#;
    let mut req: GetLogEventsRequest = parse(other);
    req.next_token = token.clone();
    assert_eq!(
        s.plan_get_log_events(&req, &k).unwrap_err().kind,
        ErrorKind::InvalidParameter
    );
    req.next_token = Some("f/0000".into());
    assert_eq!(
        s.plan_get_log_events(&req, &k).unwrap_err().kind,
        ErrorKind::InvalidParameter
    );
    // Missing stream.
    let e = s
        .plan_get_log_events(&parse(r#"{"logGroupName":"g","logStreamName":"nope"}"#), &k)
        .unwrap_err();
    assert_eq!(e.message(), MSG_STREAM_NOT_FOUND);
    // An empty stream answers tokens too.
    s.create_log_stream(
        &parse(r#"{"logGroupName":"g","logStreamName":"empty"}"#),
        NOW,
    )
    .unwrap();
    let r = get(
        &s,
        &store,
        r#"{"logGroupName":"g","logStreamName":"empty"}"#,
        None,
    );
    assert!(r.events.is_empty());
    let again = get(
        &s,
        &store,
        r#"{"logGroupName":"g","logStreamName":"empty"}"#,
        Some(&r.next_forward_token),
    );
    assert_eq!(again.next_forward_token, r.next_forward_token);
}

#[test]
fn filter_log_events_interleaves_and_pages_until_no_token() {
    let mut s = state();
    let mut store = Store::default();
    s.create_log_group(&parse(r#"{"logGroupName":"g"}"#), NOW)
        .unwrap();
    for st in ["web-1", "web-2", "worker"] {
        s.create_log_stream(
            &parse(&format!(r#"{{"logGroupName":"g","logStreamName":"{st}"}}"#)),
            NOW,
        )
        .unwrap();
    }
    put(
        &mut s,
        &mut store,
        "g",
        "web-1",
        &[NOW - 50, NOW - 30, NOW - 10],
        NOW,
    );
    put(&mut s, &mut store, "g", "web-2", &[NOW - 40, NOW - 20], NOW);
    put(&mut s, &mut store, "g", "worker", &[NOW - 45], NOW);
    let k = key();
    let run = |body: &str| {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut req: FilterLogEventsRequest = parse(body);
            req.next_token = token.take();
            let plan = s.plan_filter_log_events(&req, &k).unwrap();
            let r = plan.respond(store.filter(&plan, |_| true), &k).unwrap();
            pages += 1;
            for e in &r.events {
                assert!(!e.event_id.is_empty());
                assert_eq!(e.ingestion_time, NOW);
            }
            out.extend(r.events);
            match r.next_token {
                Some(t) => token = Some(t),
                None => return (out, pages),
            }
        }
    };
    let (all, pages) = run(r#"{"logGroupName":"g","limit":2}"#);
    let order: Vec<(&str, i64)> = all
        .iter()
        .map(|e| (e.log_stream_name.as_str(), NOW - e.timestamp))
        .collect();
    assert_eq!(
        order,
        [
            ("web-1", 50),
            ("worker", 45),
            ("web-2", 40),
            ("web-1", 30),
            ("web-2", 20),
            ("web-1", 10)
        ]
    );
    assert_eq!(pages, 3);
    let ids: BTreeSet<&str> = all.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids.len(), 6);
    let (web, _) = run(r#"{"logGroupName":"g","logStreamNamePrefix":"web"}"#);
    assert_eq!(web.len(), 5);
    let (named, _) = run(r#"{"logGroupName":"g","logStreamNames":["worker","missing"]}"#);
    assert_eq!(named.len(), 1);
    let (timed, _) = run(&format!(
        r#"{{"logGroupName":"g","startTime":{},"endTime":{}}}"#,
        NOW - 40,
        NOW - 20
    ));
    assert_eq!(timed.len(), 3); // both ends inclusive
    let plan = s
        .plan_filter_log_events(
            &parse(r#"{"logGroupName":"g","logStreamNamePrefix":"web"}"#),
            &k,
        )
        .unwrap();
    let r = plan.respond(store.filter(&plan, |_| true), &k).unwrap();
    assert_eq!(
        serde_json::to_value(&r.searched_log_streams).unwrap(),
        serde_json::json!([{"logStreamName":"web-1","searchedCompletely":true},{"logStreamName":"web-2","searchedCompletely":true}])
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn arb_text() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("g".to_string()),
            Just("s".to_string()),
            ".{0,20}",
            "[a-z/:*#]{0,10}"
        ]
    }

    proptest! {
        /// Whatever members a client sends, every operation answers or errors; none panics,
        /// and a forged token is an error.
        #[test]
        fn operations_never_panic(
            group in arb_text(),
            stream in arb_text(),
            token in proptest::option::of(arb_text()),
            limit in proptest::option::of(-5i64..20_000),
            times in proptest::collection::vec(0i64..3_000_000_000_000, 0..20),
            now in 0i64..3_000_000_000_000,
        ) {
            let mut s = state();
            let _ = s.create_log_group(&CreateLogGroupRequest { log_group_name: Some(group.clone()), ..Default::default() }, now);
            let _ = s.create_log_stream(&CreateLogStreamRequest { log_group_name: Some(group.clone()), log_stream_name: Some(stream.clone()) }, now);
            let events = times.iter().map(|t| InputLogEvent { timestamp: Some(*t), message: Some("m".into()) }).collect();
            let _ = s.put_log_events(&PutLogEventsRequest { log_group_name: Some(group.clone()), log_stream_name: Some(stream.clone()), log_events: Some(events), ..Default::default() }, now);
            let k = key();
            let _ = s.describe_log_groups(&DescribeLogGroupsRequest { next_token: token.clone(), limit, ..Default::default() }, &k);
            let _ = s.describe_log_streams(&DescribeLogStreamsRequest { log_group_name: Some(group.clone()), next_token: token.clone(), limit, ..Default::default() }, &k);
            let get = GetLogEventsRequest { log_group_name: Some(group.clone()), log_stream_name: Some(stream.clone()), next_token: token.clone(), limit, ..Default::default() };
            if let Ok(plan) = s.plan_get_log_events(&get, &k) {
                prop_assert!(token.is_none());
                prop_assert!(plan.respond(Vec::new(), &k).is_ok());
            }
            let _ = s.plan_filter_log_events(&FilterLogEventsRequest { log_group_name: Some(group), next_token: token, limit, ..Default::default() }, &k);
        }
    }
}
