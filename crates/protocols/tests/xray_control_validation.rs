//! Validation table (every model bound, AWS's wording), the seed rule through
//! CreateSamplingRule/GetSamplingRules, and serde round trips of the wire shapes.

#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use serde_json::{json, Value};
use waggle_protocols::xray_control::shapes::*;
use waggle_protocols::xray_control::state::ControlState;
use waggle_protocols::xray_control::{validate, ControlError, Partition};

fn rule() -> Value {
    json!({
        "RuleName": "Cruddur", "ResourceARN": "*", "Priority": 9000, "FixedRate": 0.1,
        "ReservoirSize": 5, "ServiceName": "backend-flask", "ServiceType": "*", "Host": "*",
        "HTTPMethod": "*", "URLPath": "*", "Version": 1
    })
}

fn create_err(patch: impl FnOnce(&mut Value)) -> String {
    let mut body = json!({ "SamplingRule": rule() });
    patch(&mut body);
    let req: CreateSamplingRuleRequest = serde_json::from_value(body).unwrap();
    match validate::create_sampling_rule(&req) {
        Err(ControlError::InvalidRequest(m)) => m,
        other => panic!("expected InvalidRequest, got {other:?}"),
    }
}

fn one(v: &str, path: &str, rule: &str) -> String {
    format!(
        "1 validation error detected: Value {v} at '{path}' failed to satisfy constraint: {rule}"
    )
}

#[test]
fn sampling_rule_bounds() {
    let long = |n: usize| "x".repeat(n);
    let le = |n: usize| format!("Member must have length less than or equal to {n}");
    let table: Vec<(&str, Value, String)> = vec![
        ("RuleName", json!(long(33)), one(&format!("'{}'", long(33)), "samplingRule.ruleName", &le(32))),
        ("RuleName", json!(""), one("''", "samplingRule.ruleName", "Member must have length greater than or equal to 1")),
        ("Priority", json!(10000), one("'10000'", "samplingRule.priority", "Member must have value less than or equal to 9999")),
        ("Priority", json!(0), one("'0'", "samplingRule.priority", "Member must have value greater than or equal to 1")),
        ("FixedRate", json!(1.5), one("'1.5'", "samplingRule.fixedRate", "Member must have value less than or equal to 1")),
        ("FixedRate", json!(-0.5), one("'-0.5'", "samplingRule.fixedRate", "Member must have value greater than or equal to 0")),
        ("ReservoirSize", json!(-1), one("'-1'", "samplingRule.reservoirSize", "Member must have value greater than or equal to 0")),
        ("ServiceName", json!(long(65)), one(&format!("'{}'", long(65)), "samplingRule.serviceName", &le(64))),
        ("ServiceType", json!(long(65)), one(&format!("'{}'", long(65)), "samplingRule.serviceType", &le(64))),
        ("Host", json!(long(65)), one(&format!("'{}'", long(65)), "samplingRule.host", &le(64))),
        ("HTTPMethod", json!(long(11)), one(&format!("'{}'", long(11)), "samplingRule.hTTPMethod", &le(10))),
        ("URLPath", json!(long(129)), one(&format!("'{}'", long(129)), "samplingRule.uRLPath", &le(128))),
        ("ResourceARN", json!(long(501)), one(&format!("'{}'", long(501)), "samplingRule.resourceARN", &le(500))),
        ("Version", json!(0), one("'0'", "samplingRule.version", "Member must have value greater than or equal to 1")),
        ("Priority", Value::Null, one("null", "samplingRule.priority", "Member must not be null")),
        (
            "Attributes",
            json!({"a":"1","b":"2","c":"3","d":"4","e":"5","f":"6"}),
            one("'{a=1, b=2, c=3, d=4, e=5, f=6}'", "samplingRule.attributes", &le(5)),
        ),
        (
            "Attributes",
            json!({"k": long(33)}),
            one(
                &format!("'{{k={}}}'", long(33)),
                "samplingRule.attributes",
                "Map value must satisfy constraint: [Member must have length less than or equal to 32, Member must have length greater than or equal to 1]",
            ),
        ),
    ];
    for (member, value, expected) in table {
        let got = create_err(|b| b["SamplingRule"][member] = value.clone());
        assert_eq!(got, expected, "{member} = {value}");
    }
    // Absent members are null; several violations are counted and joined with "; ".
    let got = create_err(|b| {
        let r = b["SamplingRule"].as_object_mut().unwrap();
        r.remove("Version");
        r.insert("Priority".into(), json!(0));
    });
    assert_eq!(
        got,
        "2 validation errors detected: Value null at 'samplingRule.version' failed to satisfy \
         constraint: Member must not be null; Value '0' at 'samplingRule.priority' failed to \
         satisfy constraint: Member must have value greater than or equal to 1"
    );
    assert_eq!(
        create_err(|b| *b = json!({})),
        one("null", "samplingRule", "Member must not be null")
    );
    // Lengths count UTF-16 units as Java does: 32 × U+1F600 is 64 units.
    let got = create_err(|b| b["SamplingRule"]["RuleName"] = json!("😀".repeat(17)));
    assert!(
        got.contains("Member must have length less than or equal to 32"),
        "{got}"
    );
}

#[test]
fn tag_bounds() {
    let got = create_err(|b| b["Tags"] = json!([{"Key": "", "Value": "v"}]));
    assert_eq!(
        got,
        one(
            "''",
            "tags.1.member.key",
            "Member must have length greater than or equal to 1"
        )
    );
    let got = create_err(|b| {
        b["Tags"] = json!([{"Key": "k", "Value": "v"}, {"Key": "x".repeat(129), "Value": "v"}])
    });
    assert!(
        got.starts_with("1 validation error detected: Value 'xxx"),
        "{got}"
    );
    assert!(got.ends_with("at 'tags.2.member.key' failed to satisfy constraint: Member must have length less than or equal to 128"));
    let got = create_err(|b| b["Tags"] = json!([{"Key": "k", "Value": "v".repeat(257)}]));
    assert!(got.ends_with("at 'tags.1.member.value' failed to satisfy constraint: Member must have length less than or equal to 256"));
    let got = create_err(|b| b["Tags"] = json!([{"Key": "k"}]));
    assert_eq!(
        got,
        one("null", "tags.1.member.value", "Member must not be null")
    );
    let many: Vec<Value> = (0..201)
        .map(|i| json!({"Key": format!("k{i}"), "Value": "v"}))
        .collect();
    let got = create_err(|b| b["Tags"] = json!(many));
    assert!(got.ends_with("at 'tags' failed to satisfy constraint: Member must have length less than or equal to 200"), "{got}");
}

fn targets_err(docs: Value) -> String {
    let req: GetSamplingTargetsRequest =
        serde_json::from_value(json!({ "SamplingStatisticsDocuments": docs })).unwrap();
    match validate::get_sampling_targets(&req) {
        Err(ControlError::InvalidRequest(m)) => m,
        other => panic!("expected InvalidRequest, got {other:?}"),
    }
}

#[test]
fn statistics_document_bounds() {
    let doc = |client: &str| json!({"RuleName": "Default", "ClientID": client, "RequestCount": 1, "SampledCount": 1, "BorrowCount": 0, "Timestamp": 1795650498});
    assert_eq!(
        targets_err(json!([doc("abc")])),
        one(
            "'abc'",
            "samplingStatisticsDocuments.1.member.clientID",
            "Member must have length greater than or equal to 24"
        )
    );
    let long = "a".repeat(25);
    assert_eq!(
        targets_err(json!([doc(&long)])),
        one(
            &format!("'{long}'"),
            "samplingStatisticsDocuments.1.member.clientID",
            "Member must have length less than or equal to 24"
        )
    );
    let ok = "a5485e64c3272eb7f8844823";
    let mut bad = doc(ok);
    bad["RequestCount"] = json!(-1);
    assert_eq!(
        targets_err(json!([doc(ok), bad])),
        one(
            "'-1'",
            "samplingStatisticsDocuments.2.member.requestCount",
            "Member must have value greater than or equal to 0"
        )
    );
    let mut missing = doc(ok);
    missing.as_object_mut().unwrap().remove("Timestamp");
    assert_eq!(
        targets_err(json!([missing])),
        one(
            "null",
            "samplingStatisticsDocuments.1.member.timestamp",
            "Member must not be null"
        )
    );
    let docs: Vec<Value> = (0..26).map(|_| doc(ok)).collect();
    assert!(targets_err(json!(docs)).ends_with("at 'samplingStatisticsDocuments' failed to satisfy constraint: Member must have length less than or equal to 25"));
    let req: GetSamplingTargetsRequest = serde_json::from_value(json!({})).unwrap();
    assert!(
        matches!(validate::get_sampling_targets(&req), Err(ControlError::InvalidRequest(m)) if m == one("null", "samplingStatisticsDocuments", "Member must not be null"))
    );
}

#[test]
fn other_operation_bounds() {
    let e = |r: Result<(), ControlError>| match r {
        Err(ControlError::InvalidRequest(m)) => m,
        other => panic!("{other:?}"),
    };
    let req: CreateGroupRequest =
        serde_json::from_value(json!({"GroupName": "g".repeat(33)})).unwrap();
    assert_eq!(
        e(validate::create_group(&req).map(|_| ())),
        one(
            &format!("'{}'", "g".repeat(33)),
            "groupName",
            "Member must have length less than or equal to 32"
        )
    );
    let req: GroupRef = serde_json::from_value(json!({"GroupARN": "a".repeat(401)})).unwrap();
    assert!(e(validate::group_ref(&req).map(|_| ())).ends_with("at 'groupARN' failed to satisfy constraint: Member must have length less than or equal to 400"));
    let req: GetGroupsRequest = serde_json::from_value(json!({"NextToken": ""})).unwrap();
    assert_eq!(
        e(validate::get_groups(&req)),
        one(
            "''",
            "nextToken",
            "Member must have length greater than or equal to 1"
        )
    );
    let req: PutEncryptionConfigRequest = serde_json::from_value(json!({"Type": "AES"})).unwrap();
    assert_eq!(
        e(validate::put_encryption_config(&req)),
        one(
            "'AES'",
            "type",
            "Member must satisfy enum value set: [NONE, KMS]"
        )
    );
    let req: UpdateTraceSegmentDestinationRequest =
        serde_json::from_value(json!({"Destination": "S3"})).unwrap();
    assert_eq!(
        e(validate::update_trace_segment_destination(&req)),
        one(
            "'S3'",
            "destination",
            "Member must satisfy enum value set: [XRay, CloudWatchLogs]"
        )
    );
    let req: PutResourcePolicyRequest =
        serde_json::from_value(json!({"PolicyName": "a b", "PolicyDocument": "{}"})).unwrap();
    assert_eq!(
        e(validate::put_resource_policy(&req)),
        one(
            "'a b'",
            "policyName",
            r"Member must satisfy regular expression pattern: [\w+=,.@-]+"
        )
    );
    let req: TagResourceRequest = serde_json::from_value(json!({"ResourceARN": "arn"})).unwrap();
    assert_eq!(
        e(validate::tag_resource(&req).map(|_| ())),
        one("null", "tags", "Member must not be null")
    );
    let req: UntagResourceRequest =
        serde_json::from_value(json!({"ResourceARN": "arn", "TagKeys": [""]})).unwrap();
    assert_eq!(
        e(validate::untag_resource(&req).map(|_| ())),
        one(
            "''",
            "tagKeys.1.member",
            "Member must have length greater than or equal to 1"
        )
    );
    let req: UpdateSamplingRuleRequest = serde_json::from_value(
        json!({"SamplingRuleUpdate": {"RuleName": "Cruddur", "Priority": 10000}}),
    )
    .unwrap();
    assert_eq!(
        e(validate::update_sampling_rule(&req).map(|_| ())),
        one(
            "'10000'",
            "samplingRuleUpdate.priority",
            "Member must have value less than or equal to 9999"
        )
    );
}

#[test]
fn error_rendering() {
    let e = ControlError::InvalidRequest("x".into());
    assert_eq!(
        (e.code(), e.http_status()),
        ("InvalidRequestException", 400)
    );
    assert_eq!(
        e.body(),
        json!({"__type": "InvalidRequestException", "message": "x"})
    );
    let e = ControlError::ResourceNotFound {
        message: "m".into(),
        resource_name: Some("arn".into()),
    };
    assert_eq!(
        (e.code(), e.http_status()),
        ("ResourceNotFoundException", 404)
    );
    assert_eq!(e.body()["ResourceName"], "arn");
    assert_eq!(ControlError::Throttled("t".into()).http_status(), 429);
    assert_eq!(
        ControlError::RuleLimitExceeded("t".into()).code(),
        "RuleLimitExceededException"
    );
}

/// The keys the Python SDK reads without `.get()` (protocol facts §A.2).
const SDK_RULE_KEYS: &[&str] = &[
    "RuleName",
    "Priority",
    "FixedRate",
    "ReservoirSize",
    "Host",
    "ServiceName",
    "HTTPMethod",
    "URLPath",
    "ServiceType",
];

#[test]
fn seed_rule_round_trips_through_create_and_get() {
    let seed = include_str!("fixtures/xray/seed-xray.json");
    let req: CreateSamplingRuleRequest = serde_json::from_str(seed).unwrap();
    let mut state = ControlState::new(Partition::new("ca-central-1", "123456789012"), 1.0);
    let created = state
        .create_sampling_rule(&req, 1795650510.5380552)
        .unwrap();
    let out = serde_json::to_value(&created).unwrap();
    let seed_rule: Value = serde_json::from_str::<Value>(seed).unwrap()["SamplingRule"].clone();
    let rec = &out["SamplingRuleRecord"];
    // Every seed field comes back unchanged, plus RuleARN and Attributes {}.
    for (k, v) in seed_rule.as_object().unwrap() {
        assert_eq!(&rec["SamplingRule"][k], v, "{k}");
    }
    assert_eq!(
        rec["SamplingRule"]["RuleARN"],
        "arn:aws:xray:ca-central-1:123456789012:sampling-rule/Cruddur"
    );
    assert_eq!(rec["SamplingRule"]["Attributes"], json!({}));
    assert_eq!(rec["CreatedAt"], json!(1795650510.5380552));
    assert_eq!(rec["ModifiedAt"], json!(1795650510.5380552));
    assert_eq!(
        rec["SamplingRule"].as_object().unwrap().len(),
        seed_rule.as_object().unwrap().len() + 2
    );

    let got = serde_json::to_value(state.get_sampling_rules(&GetSamplingRulesRequest::default()))
        .unwrap();
    assert!(got.get("NextToken").is_none());
    let records = got["SamplingRuleRecords"].as_array().unwrap();
    let names: Vec<&str> = records
        .iter()
        .map(|r| r["SamplingRule"]["RuleName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Cruddur", "Default"]);
    for r in records {
        for k in SDK_RULE_KEYS {
            assert!(r["SamplingRule"].get(*k).is_some(), "{k} missing");
        }
        // _is_rule_valid keeps both.
        assert_eq!(r["SamplingRule"]["Version"], 1);
        assert_eq!(r["SamplingRule"]["ResourceARN"], "*");
    }
    assert_eq!(
        records[1],
        json!({"SamplingRule": {"RuleName": "Default", "RuleARN": "arn:aws:xray:ca-central-1:123456789012:sampling-rule/Default",
            "ResourceARN": "*", "Priority": 10000, "FixedRate": 0.05, "ReservoirSize": 1, "ServiceName": "*",
            "ServiceType": "*", "Host": "*", "HTTPMethod": "*", "URLPath": "*", "Version": 1, "Attributes": {}},
            "CreatedAt": 0.0, "ModifiedAt": 0.0})
    );
    // A second create of the same name is refused.
    assert!(
        matches!(state.create_sampling_rule(&req, 2.0), Err(ControlError::InvalidRequest(m)) if m.ends_with("already exists"))
    );
}

fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(
    v: Value,
) {
    let t: T = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(serde_json::to_value(&t).unwrap(), v);
    let again: T = serde_json::from_value(serde_json::to_value(&t).unwrap()).unwrap();
    assert_eq!(again, t);
}

#[test]
fn serde_round_trips() {
    // The captured SDK statistics request and an AWS target answer (developer guide).
    round_trip::<GetSamplingTargetsRequest>(
        json!({"SamplingStatisticsDocuments": [{"RuleName": "Default", "ClientID": "a5485e64c3272eb7f8844823", "Timestamp": 1795650498.0, "RequestCount": 22, "SampledCount": 12, "BorrowCount": 10}]}),
    );
    round_trip::<GetSamplingTargetsResponse>(
        json!({"SamplingTargetDocuments": [{"RuleName": "base-scorekeep", "FixedRate": 0.1, "ReservoirQuota": 2, "ReservoirQuotaTTL": 1530923107.0, "Interval": 10}], "LastRuleModification": 1530920505.0, "UnprocessedStatistics": []}),
    );
    round_trip::<GetGroupsResponse>(
        json!({"Groups": [{"GroupName": "Default", "GroupARN": "arn:aws:xray:ca-central-1:123456789012:group/Default", "InsightsConfiguration": {"InsightsEnabled": false, "NotificationsEnabled": false}}, {"GroupName": "Cruddur", "GroupARN": "arn:aws:xray:ca-central-1:123456789012:group/Cruddur/8e37e668a1e048f7b411baa1", "FilterExpression": "service(\"backend-flask\")", "InsightsConfiguration": {"InsightsEnabled": false, "NotificationsEnabled": false}}]}),
    );
    round_trip::<GetSamplingStatisticSummariesResponse>(
        json!({"SamplingStatisticSummaries": [{"RuleName": "Default", "Timestamp": 1795650490.0, "RequestCount": 22, "BorrowCount": 10, "SampledCount": 12}]}),
    );
    round_trip::<EncryptionConfigResponse>(
        json!({"EncryptionConfig": {"KeyId": "alias/x", "Status": "ACTIVE", "Type": "KMS"}}),
    );
    round_trip::<GetIndexingRulesResponse>(
        json!({"IndexingRules": [{"Name": "Default", "ModifiedAt": 0.0, "Rule": {"Probabilistic": {"DesiredSamplingPercentage": 1.0, "ActualSamplingPercentage": 1.0}}}]}),
    );
    round_trip::<ListResourcePoliciesResponse>(
        json!({"ResourcePolicies": [{"PolicyName": "p", "PolicyDocument": "{}", "PolicyRevisionId": "1", "LastUpdatedTime": 1.5}]}),
    );
    round_trip::<ListTagsForResourceResponse>(json!({"Tags": [{"Key": "k", "Value": "v"}]}));
    round_trip::<TraceSegmentDestinationResponse>(
        json!({"Destination": "XRay", "Status": "ACTIVE"}),
    );
    // Integers sent as floats and timestamps sent as ints are both read.
    let r: SamplingRuleInput =
        serde_json::from_value(json!({"Priority": 9000.0, "ReservoirSize": 5, "Version": 1.0}))
            .unwrap();
    assert_eq!(
        (r.priority, r.reservoir_size, r.version),
        (Some(9000), Some(5), Some(1))
    );
    let d: SamplingStatisticsDocument =
        serde_json::from_value(json!({"Timestamp": 1795650498})).unwrap();
    assert_eq!(d.timestamp, Some(1795650498.0));
    // The whole state persists as one document.
    let mut state = ControlState::new(Partition::new("us-west-2", "123456789012"), 5.0);
    let req: CreateSamplingRuleRequest =
        serde_json::from_str(include_str!("fixtures/xray/seed-xray.json")).unwrap();
    state.create_sampling_rule(&req, 6.0).unwrap();
    let doc = serde_json::to_string(&state).unwrap();
    assert_eq!(serde_json::from_str::<ControlState>(&doc).unwrap(), state);
}
