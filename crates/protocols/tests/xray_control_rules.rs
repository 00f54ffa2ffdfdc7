//! Wildcard matching (table from the Python SDK), rule CRUD and matching, targets' unknown
//! rules, groups and tags; property test that matching never panics.

#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::json;
use waggle_protocols::xray_control::rules::{SamplingRequest, RULES_MAX};
use waggle_protocols::xray_control::shapes::*;
use waggle_protocols::xray_control::state::ControlState;
use waggle_protocols::xray_control::targets::SamplingTargets;
use waggle_protocols::xray_control::wildcard::wildcard_match;
use waggle_protocols::xray_control::{ControlError, Partition};

/// Expected values produced by aws-xray-sdk 2.15.0 `wildcard_match` (fixtures/xray/README.md).
const WILDCARD: &[(&str, &str, bool)] = &[
    ("*", "anything", true),
    ("*", "", true),
    ("", "", true),
    ("", "a", false),
    ("a", "", false),
    ("backend-flask", "backend-flask", true),
    ("backend-flask", "Backend-Flask", true),
    ("BACKEND-*", "backend-flask", true),
    ("*-flask", "backend-flask", true),
    ("*-flask", "backend-flasks", false),
    ("/api/*", "/api/activities/home", true),
    ("/api/*", "/health", false),
    ("/api/?ctivities", "/api/activities", true),
    ("?", "a", true),
    ("?", "", false),
    ("??", "a", false),
    ("a*", "a*b", false),
    ("a*b", "a*b", true),
    ("*a*b*c*", "xxaxxbxxcxx", true),
    ("*a*b*c*", "xxaxxcxxbxx", false),
    ("GET", "get", true),
    ("G?T", "GAT", true),
    ("*.cruddur.local", "4567-ws.cruddur.local", true),
    ("4567-*", "4567-ws.cruddur.local", true),
    ("a**b", "ab", true),
    ("*x", "xxxx", true),
    ("x*", "xyz", true),
    ("x*z", "xyzq", false),
    ("İ", "i\u{307}", false),
    ("ß", "SS", false),
    ("ÄÖ*", "äöü", true),
    // The SDK's literal-first quirk: a `*` in the text is consumed by a `*` in the pattern.
    ("**", "*a", true),
    ("**", "**a", false),
];

#[test]
fn wildcard_table_matches_the_python_sdk() {
    for &(p, t, want) in WILDCARD {
        assert_eq!(wildcard_match(p, t), want, "pattern {p:?} text {t:?}");
    }
}

proptest! {
    #[test]
    fn matching_never_panics(pattern in "[a-cA-C*?/.-]{0,12}", text in "\\PC{0,24}",
                             host in proptest::option::of("\\PC{0,16}")) {
        let _ = wildcard_match(&pattern, &text);
        let state = ControlState::new(Partition::new("us-west-2", "1"), 0.0);
        let req = SamplingRequest { service_name: Some(text.clone()), host, url_path: Some(pattern.clone()), ..Default::default() };
        // The Default rule always catches what nothing else does.
        prop_assert!(state.rules.match_request(&req).is_some());
    }

    #[test]
    fn star_matches_everything(text in "\\PC{0,32}") {
        prop_assert!(wildcard_match("*", &text));
    }
}

fn state() -> ControlState {
    ControlState::new(Partition::new("us-west-2", "123456789012"), 100.0)
}

fn create(
    state: &mut ControlState,
    name: &str,
    priority: i64,
    service: &str,
    now: f64,
) -> Result<SamplingRuleRecordResponse, ControlError> {
    let req: CreateSamplingRuleRequest = serde_json::from_value(json!({"SamplingRule": {
        "RuleName": name, "ResourceARN": "*", "Priority": priority, "FixedRate": 0.1, "ReservoirSize": 5,
        "ServiceName": service, "ServiceType": "*", "Host": "*", "HTTPMethod": "*", "URLPath": "*", "Version": 1}}))
    .unwrap();
    state.create_sampling_rule(&req, now)
}

fn update(
    state: &mut ControlState,
    body: serde_json::Value,
    now: f64,
) -> Result<SamplingRuleRecordResponse, ControlError> {
    let req: UpdateSamplingRuleRequest =
        serde_json::from_value(json!({ "SamplingRuleUpdate": body })).unwrap();
    state.update_sampling_rule(&req, now)
}

#[test]
fn default_rule_is_fixed_and_undeletable() {
    let mut s = state();
    let del: DeleteSamplingRuleRequest =
        serde_json::from_value(json!({"RuleName": "Default"})).unwrap();
    assert!(matches!(
        s.delete_sampling_rule(&del, 101.0),
        Err(ControlError::InvalidRequest(_))
    ));
    let err = update(&mut s, json!({"RuleName": "Default", "Priority": 5}), 101.0).unwrap_err();
    assert_eq!(
        err,
        ControlError::InvalidRequest("Invalid update request for default sampling rule".into())
    );
    // Rate and reservoir may change; so may a no-op repeat of a matcher.
    let rec = update(
        &mut s,
        json!({"RuleName": "Default", "FixedRate": 0.2, "ReservoirSize": 3, "Host": "*"}),
        102.0,
    )
    .unwrap();
    let r = rec.sampling_rule_record;
    assert_eq!(
        (
            r.sampling_rule.fixed_rate,
            r.sampling_rule.reservoir_size,
            r.created_at,
            r.modified_at
        ),
        (0.2, 3, 0.0, 102.0)
    );
    assert_eq!(s.rules.last_rule_modification(), 102.0);
}

#[test]
fn rule_crud_limits_and_last_modification() {
    let mut s = state();
    assert_eq!(s.rules.last_rule_modification(), 100.0);
    for i in 0..RULES_MAX {
        create(
            &mut s,
            &format!("r{i:02}"),
            100 + i as i64,
            "*",
            200.0 + i as f64,
        )
        .unwrap();
    }
    let err = create(&mut s, "one-too-many", 1, "*", 300.0).unwrap_err();
    assert_eq!(err.code(), "RuleLimitExceededException");
    assert_eq!(s.rules.last_rule_modification(), 224.0);
    // Delete by ARN answers the record; a second delete is an InvalidRequest.
    let del: DeleteSamplingRuleRequest = serde_json::from_value(
        json!({"RuleARN": "arn:aws:xray:us-west-2:123456789012:sampling-rule/r00"}),
    )
    .unwrap();
    let gone = s.delete_sampling_rule(&del, 400.0).unwrap();
    assert_eq!(gone.sampling_rule_record.sampling_rule.rule_name, "r00");
    assert!(matches!(
        s.delete_sampling_rule(&del, 401.0),
        Err(ControlError::InvalidRequest(_))
    ));
    assert_eq!(s.rules.last_rule_modification(), 400.0);
    create(&mut s, "again", 1, "*", 402.0).unwrap();
    // Update by ARN keeps CreatedAt and moves ModifiedAt; an unknown rule is refused.
    let rec = update(&mut s, json!({"RuleARN": "arn:aws:xray:us-west-2:123456789012:sampling-rule/again", "URLPath": "/api/*"}), 500.0).unwrap();
    assert_eq!(
        (
            rec.sampling_rule_record.created_at,
            rec.sampling_rule_record.modified_at
        ),
        (402.0, 500.0)
    );
    assert_eq!(rec.sampling_rule_record.sampling_rule.url_path, "/api/*");
    assert!(update(&mut s, json!({"RuleName": "nope", "FixedRate": 0.5}), 501.0).is_err());
    assert!(update(&mut s, json!({"FixedRate": 0.5}), 501.0).is_err());
    // The clock never runs backwards.
    update(
        &mut s,
        json!({"RuleName": "again", "FixedRate": 0.3}),
        450.0,
    )
    .unwrap();
    assert_eq!(s.rules.last_rule_modification(), 500.0);
}

#[test]
fn matching_picks_by_priority_then_name() {
    let mut s = state();
    create(&mut s, "b-flask", 10, "backend-*", 1.0).unwrap();
    create(&mut s, "a-flask", 10, "BACKEND-FLASK", 1.0).unwrap();
    create(&mut s, "api-only", 5, "*", 1.0).unwrap();
    update(
        &mut s,
        json!({"RuleName": "api-only", "URLPath": "/api/*", "HTTPMethod": "POST"}),
        2.0,
    )
    .unwrap();
    let req = |service: &str, method: &str, path: &str| SamplingRequest {
        service_name: Some(service.into()),
        http_method: Some(method.into()),
        url_path: Some(path.into()),
        ..Default::default()
    };
    let name =
        |s: &ControlState, r: &SamplingRequest| s.rules.match_request(r).unwrap().rule_name.clone();
    assert_eq!(name(&s, &req("backend-flask", "GET", "/api/x")), "a-flask");
    assert_eq!(
        name(&s, &req("backend-flask", "post", "/api/x")),
        "api-only"
    );
    assert_eq!(name(&s, &req("backend-rails", "GET", "/")), "b-flask");
    assert_eq!(name(&s, &req("frontend", "GET", "/")), "Default");
    // A missing request value matches implicitly (the SDK's rule).
    assert_eq!(name(&s, &SamplingRequest::default()), "api-only");
    // Attributes must all be present and match.
    update(
        &mut s,
        json!({"RuleName": "a-flask", "Attributes": {"tier": "gold*"}}),
        3.0,
    )
    .unwrap();
    let mut gold = req("backend-flask", "GET", "/");
    assert_eq!(name(&s, &gold), "b-flask");
    gold.attributes = BTreeMap::from([("tier".to_string(), "GOLDEN".to_string())]);
    assert_eq!(name(&s, &gold), "a-flask");
    let a = s.rules.get("a-flask").unwrap();
    assert!(
        !a.sampling_rule.usable_by_python_sdk(),
        "the Python SDK ignores rules with attributes"
    );
}

#[test]
fn targets_for_unknown_rules_are_unprocessed() {
    let mut s = state();
    create(&mut s, "Cruddur", 9000, "backend-flask", 1.0).unwrap();
    let mut t = SamplingTargets::new();
    let req: GetSamplingTargetsRequest = serde_json::from_value(json!({"SamplingStatisticsDocuments": [
        {"RuleName": "Gone", "ClientID": "a5485e64c3272eb7f8844823", "RequestCount": 1, "SampledCount": 1, "Timestamp": 5},
        {"RuleName": "Cruddur", "ClientID": "a5485e64c3272eb7f8844823", "RequestCount": 3, "SampledCount": 1, "BorrowCount": 1, "Timestamp": 5}]}))
    .unwrap();
    let resp =
        serde_json::to_value(t.get_sampling_targets(&s.rules, &req, 1000.5).unwrap()).unwrap();
    assert_eq!(
        resp["UnprocessedStatistics"],
        json!([{"RuleName": "Gone", "ErrorCode": "400", "Message": "Rule not found"}])
    );
    assert_eq!(
        resp["SamplingTargetDocuments"],
        json!([{"RuleName": "Cruddur", "FixedRate": 0.1, "ReservoirQuota": 5, "ReservoirQuotaTTL": 1015.5, "Interval": 10}])
    );
    assert_eq!(
        resp["LastRuleModification"],
        json!(100.0),
        "state created at 100, rule at 1: the clock keeps the later"
    );
    let sums = t.statistic_summaries().sampling_statistic_summaries;
    assert_eq!(sums.len(), 1);
    assert_eq!(
        (
            sums[0].timestamp,
            sums[0].request_count,
            sums[0].sampled_count,
            sums[0].borrow_count
        ),
        (1000.0, 3, 1, 1)
    );
    // A deleted rule's statistics are dropped at the next report.
    let del: DeleteSamplingRuleRequest =
        serde_json::from_value(json!({"RuleName": "Cruddur"})).unwrap();
    s.delete_sampling_rule(&del, 1001.0).unwrap();
    let resp = t.get_sampling_targets(&s.rules, &req, 1002.0).unwrap();
    assert_eq!(resp.unprocessed_statistics.len(), 2);
    assert!(t
        .statistic_summaries()
        .sampling_statistic_summaries
        .is_empty());
}

fn ok_expr(e: &str) -> Result<(), String> {
    if e.contains("((") {
        Err(format!("Invalid filter expression: {e}"))
    } else {
        Ok(())
    }
}

#[test]
fn groups_and_tags() {
    let mut s = state();
    let mut counter = 0u8;
    let mut random = |buf: &mut [u8]| {
        for b in buf.iter_mut() {
            counter = counter.wrapping_add(37);
            *b = counter;
        }
    };
    let create: CreateGroupRequest = serde_json::from_value(json!({"GroupName": "Cruddur", "FilterExpression": "service(\"backend-flask\") {fault OR error}", "Tags": [{"Key": "env", "Value": "dev"}]})).unwrap();
    let g = s
        .create_group(&create, &ok_expr, &mut random)
        .unwrap()
        .group;
    let prefix = "arn:aws:xray:us-west-2:123456789012:group/Cruddur/";
    assert!(g.group_arn.starts_with(prefix), "{}", g.group_arn);
    let id = &g.group_arn[prefix.len()..];
    assert_eq!(id.len(), 52);
    assert!(id
        .chars()
        .all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c)));
    assert_eq!(
        g.insights_configuration,
        InsightsConfiguration {
            insights_enabled: Some(false),
            notifications_enabled: Some(false)
        }
    );
    assert!(
        s.create_group(&create, &ok_expr, &mut random).is_err(),
        "duplicate name"
    );
    let reserved: CreateGroupRequest =
        serde_json::from_value(json!({"GroupName": "Default"})).unwrap();
    assert!(s.create_group(&reserved, &ok_expr, &mut random).is_err());
    let bad: CreateGroupRequest =
        serde_json::from_value(json!({"GroupName": "Bad", "FilterExpression": "(("})).unwrap();
    assert_eq!(
        s.create_group(&bad, &ok_expr, &mut random).unwrap_err(),
        ControlError::InvalidRequest("Invalid filter expression: ((".into())
    );

    let groups = serde_json::to_value(s.get_groups(&GetGroupsRequest::default()).unwrap()).unwrap();
    assert_eq!(
        groups["Groups"][0],
        json!({"GroupName": "Default", "GroupARN": "arn:aws:xray:us-west-2:123456789012:group/Default", "InsightsConfiguration": {"InsightsEnabled": false, "NotificationsEnabled": false}})
    );
    assert_eq!(groups["Groups"].as_array().unwrap().len(), 2);
    assert!(groups.get("NextToken").is_none());

    let by_arn: GetGroupRequest = serde_json::from_value(json!({"GroupARN": g.group_arn})).unwrap();
    assert_eq!(s.get_group(&by_arn).unwrap().group, g);
    let upd: UpdateGroupRequest = serde_json::from_value(json!({"GroupName": "Cruddur", "FilterExpression": "service(\"backend-flask\")", "InsightsConfiguration": {"InsightsEnabled": true}})).unwrap();
    let u = s.update_group(&upd, &ok_expr).unwrap().group;
    assert_eq!(
        u.filter_expression.as_deref(),
        Some("service(\"backend-flask\")")
    );
    assert_eq!(u.insights_configuration.insights_enabled, Some(true));
    assert_eq!(u.insights_configuration.notifications_enabled, Some(false));

    // Tags: listed, merged, capped at 50, unknown ARNs are ResourceNotFound.
    let list = |s: &ControlState, arn: &str| {
        let req: ListTagsForResourceRequest =
            serde_json::from_value(json!({"ResourceARN": arn})).unwrap();
        s.list_tags_for_resource(&req)
    };
    assert_eq!(
        list(&s, &g.group_arn).unwrap().tags,
        vec![Tag {
            key: "env".into(),
            value: "dev".into()
        }]
    );
    let many: Vec<serde_json::Value> = (0..50)
        .map(|i| json!({"Key": format!("k{i}"), "Value": "v"}))
        .collect();
    let tag: TagResourceRequest =
        serde_json::from_value(json!({"ResourceARN": g.group_arn, "Tags": many})).unwrap();
    let err = s.tag_resource(&tag).unwrap_err();
    assert_eq!(
        (err.code(), err.http_status()),
        ("TooManyTagsException", 400)
    );
    assert_eq!(
        list(&s, &g.group_arn).unwrap().tags.len(),
        1,
        "all or nothing"
    );
    let untag: UntagResourceRequest =
        serde_json::from_value(json!({"ResourceARN": g.group_arn, "TagKeys": ["env"]})).unwrap();
    s.untag_resource(&untag).unwrap();
    assert!(list(&s, &g.group_arn).unwrap().tags.is_empty());
    let err = list(&s, "arn:aws:xray:us-west-2:123456789012:group/Nope/X").unwrap_err();
    assert_eq!(
        (err.code(), err.http_status()),
        ("ResourceNotFoundException", 404)
    );
    let reserved: TagResourceRequest = serde_json::from_value(
        json!({"ResourceARN": g.group_arn, "Tags": [{"Key": "aws:x", "Value": "v"}]}),
    )
    .unwrap();
    assert!(matches!(
        s.tag_resource(&reserved),
        Err(ControlError::InvalidRequest(_))
    ));

    // Rule tags from CreateSamplingRule, dropped with the rule.
    let req: CreateSamplingRuleRequest = serde_json::from_value(json!({"SamplingRule": {
        "RuleName": "T", "ResourceARN": "*", "Priority": 1, "FixedRate": 0.1, "ReservoirSize": 5,
        "ServiceName": "*", "ServiceType": "*", "Host": "*", "HTTPMethod": "*", "URLPath": "*", "Version": 1},
        "Tags": [{"Key": "team", "Value": "x"}]})).unwrap();
    s.create_sampling_rule(&req, 5.0).unwrap();
    let rule_arn = "arn:aws:xray:us-west-2:123456789012:sampling-rule/T";
    assert_eq!(list(&s, rule_arn).unwrap().tags.len(), 1);
    let del: DeleteSamplingRuleRequest = serde_json::from_value(json!({"RuleName": "T"})).unwrap();
    s.delete_sampling_rule(&del, 6.0).unwrap();
    assert!(list(&s, rule_arn).is_err());

    // Delete: the Default group stays; a deleted group is gone with its tags.
    let del_default: DeleteGroupRequest =
        serde_json::from_value(json!({"GroupName": "Default"})).unwrap();
    assert!(s.delete_group(&del_default).is_err());
    let del: DeleteGroupRequest = serde_json::from_value(json!({"GroupName": "Cruddur"})).unwrap();
    assert_eq!(s.delete_group(&del).unwrap(), EmptyResponse {});
    assert!(s.get_group(&by_arn).is_err());
    assert!(s.delete_group(&del).is_err());
}

#[test]
fn account_settings() {
    let mut s = state();
    assert_eq!(
        serde_json::to_value(s.get_encryption_config()).unwrap(),
        json!({"EncryptionConfig": {"Status": "ACTIVE", "Type": "NONE"}})
    );
    let put: PutEncryptionConfigRequest =
        serde_json::from_value(json!({"Type": "KMS", "KeyId": "alias/aws/xray"})).unwrap();
    let out = s.put_encryption_config(&put).unwrap();
    assert_eq!(
        out.encryption_config.key_id.as_deref(),
        Some("alias/aws/xray")
    );
    let dest: UpdateTraceSegmentDestinationRequest =
        serde_json::from_value(json!({"Destination": "CloudWatchLogs"})).unwrap();
    assert_eq!(
        s.update_trace_segment_destination(&dest)
            .unwrap()
            .destination,
        "CloudWatchLogs"
    );
    assert_eq!(
        s.get_trace_segment_destination().destination,
        "CloudWatchLogs"
    );
}
