//! Wire structs of the X-Ray control-plane API, named as botocore's model spells them
//! (`botocore/data/xray/2016-04-12/service-2.json`, restJson1: every operation is a `POST`
//! with a JSON body to a fixed path).
//!
//! Two kinds of struct: *request* shapes keep every member optional (the model's "required"
//! is checked by [`super::validate`], which answers in AWS's own validation wording rather
//! than a serde error), and *response/state* shapes are complete. Timestamps are JSON numbers
//! of epoch seconds; botocore sends ints, boto3 floats (captures README §3), so every number
//! is read leniently (ints as floats, integral floats as ints).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Deserializers that accept a JSON number of either kind.
pub(crate) mod num {
    use serde::de::{self, Deserializer, Visitor};
    use std::fmt;

    struct IntVisitor;

    impl<'de> Visitor<'de> for IntVisitor {
        type Value = Option<i64>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a number")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(i64::try_from(v).unwrap_or(i64::MAX)))
        }
        /// A float for an integer member is truncated, as Jackson's default
        /// `ACCEPT_FLOAT_AS_INT` coercion does on the Java service side [inference]; `as`
        /// saturates, so huge values become `i64::MAX`/`MIN` and fail range validation.
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v as i64))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(IntVisitor)
        }
    }

    /// An optional integer member: absent or `null` → `None`.
    pub fn int_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        d.deserialize_any(IntVisitor)
    }

    /// A required integer member of a complete (response/state) shape.
    pub fn int<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        d.deserialize_any(IntVisitor)?
            .ok_or_else(|| de::Error::custom("expected a number, found null"))
    }
}

/// `SamplingRateBoost`: temporary rate increase on anomalies (model; accepted and echoed, not
/// acted on).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplingRateBoost {
    #[serde(rename = "MaxRate", default, skip_serializing_if = "Option::is_none")]
    pub max_rate: Option<f64>,
    #[serde(
        rename = "CooldownWindowMinutes",
        default,
        deserialize_with = "num::int_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub cooldown_window_minutes: Option<i64>,
}

/// `SamplingRule` as stored and returned: every member the Python SDK dereferences without
/// `.get()` is present (RuleName, Priority, FixedRate, ReservoirSize, Host, ServiceName,
/// HTTPMethod, URLPath, ServiceType; protocol facts §A.2), plus Version, ResourceARN and
/// Attributes that its `_is_rule_valid` filter reads. Member order follows AWS's own output
/// (developer guide `xray-api-sampling.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplingRule {
    #[serde(rename = "RuleName")]
    pub rule_name: String,
    #[serde(rename = "RuleARN")]
    pub rule_arn: String,
    #[serde(rename = "ResourceARN")]
    pub resource_arn: String,
    #[serde(rename = "Priority", deserialize_with = "num::int")]
    pub priority: i64,
    #[serde(rename = "FixedRate")]
    pub fixed_rate: f64,
    #[serde(rename = "ReservoirSize", deserialize_with = "num::int")]
    pub reservoir_size: i64,
    #[serde(rename = "ServiceName")]
    pub service_name: String,
    #[serde(rename = "ServiceType")]
    pub service_type: String,
    #[serde(rename = "Host")]
    pub host: String,
    #[serde(rename = "HTTPMethod")]
    pub http_method: String,
    #[serde(rename = "URLPath")]
    pub url_path: String,
    #[serde(rename = "Version", deserialize_with = "num::int")]
    pub version: i64,
    #[serde(rename = "Attributes", default)]
    pub attributes: BTreeMap<String, String>,
    #[serde(
        rename = "SamplingRateBoost",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sampling_rate_boost: Option<SamplingRateBoost>,
}

/// `SamplingRule` as a request carries it (CreateSamplingRule): all optional until validated.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SamplingRuleInput {
    #[serde(rename = "RuleName", default, skip_serializing_if = "Option::is_none")]
    pub rule_name: Option<String>,
    /// Ignored on create: the service assigns the ARN.
    #[serde(rename = "RuleARN", default, skip_serializing_if = "Option::is_none")]
    pub rule_arn: Option<String>,
    #[serde(
        rename = "ResourceARN",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub resource_arn: Option<String>,
    #[serde(
        rename = "Priority",
        default,
        deserialize_with = "num::int_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub priority: Option<i64>,
    #[serde(rename = "FixedRate", default, skip_serializing_if = "Option::is_none")]
    pub fixed_rate: Option<f64>,
    #[serde(
        rename = "ReservoirSize",
        default,
        deserialize_with = "num::int_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub reservoir_size: Option<i64>,
    #[serde(
        rename = "ServiceName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub service_name: Option<String>,
    #[serde(
        rename = "ServiceType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub service_type: Option<String>,
    #[serde(rename = "Host", default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(
        rename = "HTTPMethod",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub http_method: Option<String>,
    #[serde(rename = "URLPath", default, skip_serializing_if = "Option::is_none")]
    pub url_path: Option<String>,
    #[serde(
        rename = "Version",
        default,
        deserialize_with = "num::int_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub version: Option<i64>,
    #[serde(
        rename = "Attributes",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub attributes: Option<BTreeMap<String, String>>,
    #[serde(
        rename = "SamplingRateBoost",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sampling_rate_boost: Option<SamplingRateBoost>,
}

/// `SamplingRuleUpdate` (UpdateSamplingRule): RuleName or RuleARN names the rule; every other
/// member present replaces the stored one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SamplingRuleUpdate {
    #[serde(rename = "RuleName", default, skip_serializing_if = "Option::is_none")]
    pub rule_name: Option<String>,
    #[serde(rename = "RuleARN", default, skip_serializing_if = "Option::is_none")]
    pub rule_arn: Option<String>,
    #[serde(
        rename = "ResourceARN",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub resource_arn: Option<String>,
    #[serde(
        rename = "Priority",
        default,
        deserialize_with = "num::int_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub priority: Option<i64>,
    #[serde(rename = "FixedRate", default, skip_serializing_if = "Option::is_none")]
    pub fixed_rate: Option<f64>,
    #[serde(
        rename = "ReservoirSize",
        default,
        deserialize_with = "num::int_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub reservoir_size: Option<i64>,
    #[serde(rename = "Host", default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(
        rename = "ServiceName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub service_name: Option<String>,
    #[serde(
        rename = "ServiceType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub service_type: Option<String>,
    #[serde(
        rename = "HTTPMethod",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub http_method: Option<String>,
    #[serde(rename = "URLPath", default, skip_serializing_if = "Option::is_none")]
    pub url_path: Option<String>,
    #[serde(
        rename = "Attributes",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub attributes: Option<BTreeMap<String, String>>,
    #[serde(
        rename = "SamplingRateBoost",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sampling_rate_boost: Option<SamplingRateBoost>,
}

/// `SamplingRuleRecord`: a rule with its creation and last modification times (epoch s).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplingRuleRecord {
    #[serde(rename = "SamplingRule")]
    pub sampling_rule: SamplingRule,
    #[serde(rename = "CreatedAt")]
    pub created_at: f64,
    #[serde(rename = "ModifiedAt")]
    pub modified_at: f64,
}

/// `Tag` as stored and returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "Value")]
    pub value: String,
}

/// `Tag` as a request carries it (both members required by the model).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagInput {
    #[serde(rename = "Key", default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(rename = "Value", default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// `POST /CreateSamplingRule`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateSamplingRuleRequest {
    #[serde(
        rename = "SamplingRule",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sampling_rule: Option<SamplingRuleInput>,
    #[serde(rename = "Tags", default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<TagInput>>,
}

/// Response of CreateSamplingRule, UpdateSamplingRule and DeleteSamplingRule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplingRuleRecordResponse {
    #[serde(rename = "SamplingRuleRecord")]
    pub sampling_rule_record: SamplingRuleRecord,
}

pub type CreateSamplingRuleResponse = SamplingRuleRecordResponse;
pub type UpdateSamplingRuleResponse = SamplingRuleRecordResponse;
pub type DeleteSamplingRuleResponse = SamplingRuleRecordResponse;

/// `POST /UpdateSamplingRule`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateSamplingRuleRequest {
    #[serde(
        rename = "SamplingRuleUpdate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sampling_rule_update: Option<SamplingRuleUpdate>,
}

/// `POST /DeleteSamplingRule`: RuleName or RuleARN.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeleteSamplingRuleRequest {
    #[serde(rename = "RuleName", default, skip_serializing_if = "Option::is_none")]
    pub rule_name: Option<String>,
    #[serde(rename = "RuleARN", default, skip_serializing_if = "Option::is_none")]
    pub rule_arn: Option<String>,
}

/// `POST /GetSamplingRules` (the SDK sends `{}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GetSamplingRulesRequest {
    #[serde(rename = "NextToken", default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// GetSamplingRules response. `NextToken` is absent on the last page (botocore's paginator
/// stops there, and raises if a token repeats: protocol facts §B).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetSamplingRulesResponse {
    #[serde(rename = "SamplingRuleRecords")]
    pub sampling_rule_records: Vec<SamplingRuleRecord>,
    #[serde(rename = "NextToken", default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `SamplingStatisticsDocument`: one SDK client's counts for one rule since its last report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SamplingStatisticsDocument {
    #[serde(rename = "RuleName", default, skip_serializing_if = "Option::is_none")]
    pub rule_name: Option<String>,
    #[serde(rename = "ClientID", default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(rename = "Timestamp", default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<f64>,
    #[serde(
        rename = "RequestCount",
        default,
        deserialize_with = "num::int_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub request_count: Option<i64>,
    #[serde(
        rename = "SampledCount",
        default,
        deserialize_with = "num::int_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub sampled_count: Option<i64>,
    #[serde(
        rename = "BorrowCount",
        default,
        deserialize_with = "num::int_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub borrow_count: Option<i64>,
}

/// `SamplingBoostStatisticsDocument` (accepted and validated; boosts are not computed).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SamplingBoostStatisticsDocument {
    #[serde(rename = "RuleName", default, skip_serializing_if = "Option::is_none")]
    pub rule_name: Option<String>,
    #[serde(
        rename = "ServiceName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub service_name: Option<String>,
    #[serde(rename = "Timestamp", default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<f64>,
    #[serde(
        rename = "AnomalyCount",
        default,
        deserialize_with = "num::int_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub anomaly_count: Option<i64>,
    #[serde(
        rename = "TotalCount",
        default,
        deserialize_with = "num::int_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_count: Option<i64>,
    #[serde(
        rename = "SampledAnomalyCount",
        default,
        deserialize_with = "num::int_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub sampled_anomaly_count: Option<i64>,
}

/// `POST /SamplingTargets` (operation GetSamplingTargets).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GetSamplingTargetsRequest {
    #[serde(
        rename = "SamplingStatisticsDocuments",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sampling_statistics_documents: Option<Vec<SamplingStatisticsDocument>>,
    #[serde(
        rename = "SamplingBoostStatisticsDocuments",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sampling_boost_statistics_documents: Option<Vec<SamplingBoostStatisticsDocument>>,
}

/// `SamplingBoost` of a target document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplingBoost {
    #[serde(rename = "BoostRate")]
    pub boost_rate: f64,
    #[serde(rename = "BoostRateTTL")]
    pub boost_rate_ttl: f64,
}

/// `SamplingTargetDocument`: the SDK requires `RuleName` and `FixedRate`; `ReservoirQuota`,
/// `ReservoirQuotaTTL` and `Interval` are optional (an absent quota keeps the client's old one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplingTargetDocument {
    #[serde(rename = "RuleName")]
    pub rule_name: String,
    #[serde(rename = "FixedRate")]
    pub fixed_rate: f64,
    #[serde(
        rename = "ReservoirQuota",
        default,
        deserialize_with = "num::int_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub reservoir_quota: Option<i64>,
    #[serde(
        rename = "ReservoirQuotaTTL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub reservoir_quota_ttl: Option<f64>,
    #[serde(
        rename = "Interval",
        default,
        deserialize_with = "num::int_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub interval: Option<i64>,
    #[serde(
        rename = "SamplingBoost",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sampling_boost: Option<SamplingBoost>,
}

/// `UnprocessedStatistics`: a statistics document the service could not use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnprocessedStatistics {
    #[serde(rename = "RuleName", default, skip_serializing_if = "Option::is_none")]
    pub rule_name: Option<String>,
    #[serde(rename = "ErrorCode", default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(rename = "Message", default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// GetSamplingTargets response. `LastRuleModification` is required by the Python SDK.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetSamplingTargetsResponse {
    #[serde(rename = "SamplingTargetDocuments")]
    pub sampling_target_documents: Vec<SamplingTargetDocument>,
    #[serde(rename = "LastRuleModification")]
    pub last_rule_modification: f64,
    #[serde(rename = "UnprocessedStatistics")]
    pub unprocessed_statistics: Vec<UnprocessedStatistics>,
    #[serde(
        rename = "UnprocessedBoostStatistics",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub unprocessed_boost_statistics: Vec<UnprocessedStatistics>,
}

/// `SamplingStatisticSummary`: one rule's counts over one reporting window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplingStatisticSummary {
    #[serde(rename = "RuleName")]
    pub rule_name: String,
    /// Start of the window, epoch seconds.
    #[serde(rename = "Timestamp")]
    pub timestamp: f64,
    #[serde(rename = "RequestCount", deserialize_with = "num::int")]
    pub request_count: i64,
    #[serde(rename = "BorrowCount", deserialize_with = "num::int")]
    pub borrow_count: i64,
    #[serde(rename = "SampledCount", deserialize_with = "num::int")]
    pub sampled_count: i64,
}

/// `POST /SamplingStatisticSummaries`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GetSamplingStatisticSummariesRequest {
    #[serde(rename = "NextToken", default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetSamplingStatisticSummariesResponse {
    #[serde(rename = "SamplingStatisticSummaries")]
    pub sampling_statistic_summaries: Vec<SamplingStatisticSummary>,
    #[serde(rename = "NextToken", default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `InsightsConfiguration` of a group; both default to false (captured CreateGroup output).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InsightsConfiguration {
    #[serde(
        rename = "InsightsEnabled",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub insights_enabled: Option<bool>,
    #[serde(
        rename = "NotificationsEnabled",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub notifications_enabled: Option<bool>,
}

/// `Group` (CreateGroup/GetGroup/UpdateGroup output). The `Default` group has no
/// `FilterExpression` member at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    #[serde(rename = "GroupName")]
    pub group_name: String,
    #[serde(rename = "GroupARN")]
    pub group_arn: String,
    #[serde(
        rename = "FilterExpression",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub filter_expression: Option<String>,
    #[serde(rename = "InsightsConfiguration")]
    pub insights_configuration: InsightsConfiguration,
}

/// `GroupSummary` (GetGroups items): the same members as [`Group`].
pub type GroupSummary = Group;

/// `POST /CreateGroup`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateGroupRequest {
    #[serde(rename = "GroupName", default, skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    #[serde(
        rename = "FilterExpression",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub filter_expression: Option<String>,
    #[serde(
        rename = "InsightsConfiguration",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub insights_configuration: Option<InsightsConfiguration>,
    #[serde(rename = "Tags", default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<TagInput>>,
}

/// Response of CreateGroup, GetGroup and UpdateGroup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupResponse {
    #[serde(rename = "Group")]
    pub group: Group,
}

pub type CreateGroupResponse = GroupResponse;
pub type GetGroupResponse = GroupResponse;
pub type UpdateGroupResponse = GroupResponse;

/// `POST /GetGroup` and `POST /DeleteGroup`: GroupName or GroupARN.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRef {
    #[serde(rename = "GroupName", default, skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    #[serde(rename = "GroupARN", default, skip_serializing_if = "Option::is_none")]
    pub group_arn: Option<String>,
}

pub type GetGroupRequest = GroupRef;
pub type DeleteGroupRequest = GroupRef;

/// DeleteGroup, TagResource and UntagResource answer `{}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmptyResponse {}

pub type DeleteGroupResponse = EmptyResponse;
pub type TagResourceResponse = EmptyResponse;
pub type UntagResourceResponse = EmptyResponse;
pub type DeleteResourcePolicyResponse = EmptyResponse;

/// `POST /Groups` (operation GetGroups).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetGroupsRequest {
    #[serde(rename = "NextToken", default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetGroupsResponse {
    #[serde(rename = "Groups")]
    pub groups: Vec<GroupSummary>,
    #[serde(rename = "NextToken", default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `POST /UpdateGroup`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateGroupRequest {
    #[serde(rename = "GroupName", default, skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    #[serde(rename = "GroupARN", default, skip_serializing_if = "Option::is_none")]
    pub group_arn: Option<String>,
    #[serde(
        rename = "FilterExpression",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub filter_expression: Option<String>,
    #[serde(
        rename = "InsightsConfiguration",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub insights_configuration: Option<InsightsConfiguration>,
}

/// `POST /TagResource`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagResourceRequest {
    #[serde(
        rename = "ResourceARN",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub resource_arn: Option<String>,
    #[serde(rename = "Tags", default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<TagInput>>,
}

/// `POST /UntagResource`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UntagResourceRequest {
    #[serde(
        rename = "ResourceARN",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub resource_arn: Option<String>,
    #[serde(rename = "TagKeys", default, skip_serializing_if = "Option::is_none")]
    pub tag_keys: Option<Vec<String>>,
}

/// `POST /ListTagsForResource`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListTagsForResourceRequest {
    #[serde(
        rename = "ResourceARN",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub resource_arn: Option<String>,
    #[serde(rename = "NextToken", default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListTagsForResourceResponse {
    #[serde(rename = "Tags")]
    pub tags: Vec<Tag>,
    #[serde(rename = "NextToken", default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `EncryptionConfig`: `Type` is `NONE` | `KMS`, `Status` is `UPDATING` | `ACTIVE` (model
/// enums).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptionConfig {
    #[serde(rename = "KeyId", default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(rename = "Status")]
    pub status: String,
    #[serde(rename = "Type")]
    pub r#type: String,
}

/// `POST /EncryptionConfig` (GetEncryptionConfig) answers this; so does PutEncryptionConfig.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptionConfigResponse {
    #[serde(rename = "EncryptionConfig")]
    pub encryption_config: EncryptionConfig,
}

pub type GetEncryptionConfigResponse = EncryptionConfigResponse;
pub type PutEncryptionConfigResponse = EncryptionConfigResponse;

/// `POST /PutEncryptionConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutEncryptionConfigRequest {
    #[serde(rename = "KeyId", default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(rename = "Type", default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
}

/// `POST /GetTraceSegmentDestination` and UpdateTraceSegmentDestination's answer:
/// `Destination` is `XRay` | `CloudWatchLogs`, `Status` is `PENDING` | `ACTIVE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceSegmentDestinationResponse {
    #[serde(rename = "Destination")]
    pub destination: String,
    #[serde(rename = "Status")]
    pub status: String,
}

pub type GetTraceSegmentDestinationResponse = TraceSegmentDestinationResponse;
pub type UpdateTraceSegmentDestinationResponse = TraceSegmentDestinationResponse;

/// `POST /UpdateTraceSegmentDestination`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateTraceSegmentDestinationRequest {
    #[serde(
        rename = "Destination",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub destination: Option<String>,
}

/// `ProbabilisticRuleValue` of an indexing rule (Transaction Search), percent 0-100.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbabilisticRuleValue {
    #[serde(rename = "DesiredSamplingPercentage", default)]
    pub desired_sampling_percentage: Option<f64>,
    #[serde(
        rename = "ActualSamplingPercentage",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub actual_sampling_percentage: Option<f64>,
}

/// `IndexingRuleValue` (a union with one member, `Probabilistic`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexingRuleValue {
    #[serde(
        rename = "Probabilistic",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub probabilistic: Option<ProbabilisticRuleValue>,
}

/// `IndexingRule`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexingRule {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "ModifiedAt")]
    pub modified_at: f64,
    #[serde(rename = "Rule")]
    pub rule: IndexingRuleValue,
}

/// `POST /GetIndexingRules`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetIndexingRulesRequest {
    #[serde(rename = "NextToken", default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetIndexingRulesResponse {
    #[serde(rename = "IndexingRules")]
    pub indexing_rules: Vec<IndexingRule>,
    #[serde(rename = "NextToken", default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `ProbabilisticRuleValueUpdate`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProbabilisticRuleValueUpdate {
    #[serde(
        rename = "DesiredSamplingPercentage",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub desired_sampling_percentage: Option<f64>,
}

/// `IndexingRuleValueUpdate` (union).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IndexingRuleValueUpdate {
    #[serde(
        rename = "Probabilistic",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub probabilistic: Option<ProbabilisticRuleValueUpdate>,
}

/// `POST /UpdateIndexingRule`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateIndexingRuleRequest {
    #[serde(rename = "Name", default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "Rule", default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<IndexingRuleValueUpdate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateIndexingRuleResponse {
    #[serde(rename = "IndexingRule")]
    pub indexing_rule: IndexingRule,
}

/// `ResourcePolicy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourcePolicy {
    #[serde(rename = "PolicyName")]
    pub policy_name: String,
    #[serde(rename = "PolicyDocument")]
    pub policy_document: String,
    #[serde(rename = "PolicyRevisionId")]
    pub policy_revision_id: String,
    #[serde(rename = "LastUpdatedTime")]
    pub last_updated_time: f64,
}

/// `POST /PutResourcePolicy`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutResourcePolicyRequest {
    #[serde(
        rename = "PolicyName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub policy_name: Option<String>,
    #[serde(
        rename = "PolicyDocument",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub policy_document: Option<String>,
    #[serde(
        rename = "PolicyRevisionId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub policy_revision_id: Option<String>,
    #[serde(
        rename = "BypassPolicyLockoutCheck",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub bypass_policy_lockout_check: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PutResourcePolicyResponse {
    #[serde(rename = "ResourcePolicy")]
    pub resource_policy: ResourcePolicy,
}

/// `POST /ListResourcePolicies`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListResourcePoliciesRequest {
    #[serde(rename = "NextToken", default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListResourcePoliciesResponse {
    #[serde(rename = "ResourcePolicies")]
    pub resource_policies: Vec<ResourcePolicy>,
    #[serde(rename = "NextToken", default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `POST /DeleteResourcePolicy`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteResourcePolicyRequest {
    #[serde(
        rename = "PolicyName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub policy_name: Option<String>,
    #[serde(
        rename = "PolicyRevisionId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub policy_revision_id: Option<String>,
}
