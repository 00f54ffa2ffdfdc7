//! Wire shapes of the CloudWatch Logs operations Waggle serves, named and typed as botocore's
//! model spells them (`logs/2014-03-28/service-2.json`). Request members are all optional so a
//! missing required member is reported by `validate` in AWS's words rather than by serde;
//! response members that AWS omits when unset are skipped when `None`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A `Tags` map (`TagKey` → `TagValue`).
pub type Tags = BTreeMap<String, String>;

/// Operations with no output answer `{}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

// ---- Log groups ---------------------------------------------------------------------------

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CreateLogGroupRequest {
    pub log_group_name: Option<String>,
    pub kms_key_id: Option<String>,
    pub tags: Option<Tags>,
    pub log_group_class: Option<String>,
    pub deletion_protection_enabled: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DeleteLogGroupRequest {
    pub log_group_name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DescribeLogGroupsRequest {
    pub account_identifiers: Option<Vec<String>>,
    pub log_group_name_prefix: Option<String>,
    pub log_group_name_pattern: Option<String>,
    pub next_token: Option<String>,
    pub limit: Option<i64>,
    pub include_linked_accounts: Option<bool>,
    pub log_group_class: Option<String>,
    pub log_group_identifiers: Option<Vec<String>>,
}

/// `LogGroup` as DescribeLogGroups lists it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogGroup {
    pub log_group_name: String,
    pub creation_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_in_days: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_filter_count: Option<i64>,
    pub arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stored_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_group_class: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_group_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_protection_enabled: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeLogGroupsResponse {
    pub log_groups: Vec<LogGroup>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

// ---- Log streams --------------------------------------------------------------------------

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CreateLogStreamRequest {
    pub log_group_name: Option<String>,
    pub log_stream_name: Option<String>,
}

pub type DeleteLogStreamRequest = CreateLogStreamRequest;

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DescribeLogStreamsRequest {
    pub log_group_name: Option<String>,
    pub log_group_identifier: Option<String>,
    pub log_stream_name_prefix: Option<String>,
    pub order_by: Option<String>,
    pub descending: Option<bool>,
    pub next_token: Option<String>,
    pub limit: Option<i64>,
}

/// `LogStream` as DescribeLogStreams lists it (timestamps absent until the first event).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogStream {
    pub log_stream_name: String,
    pub creation_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_event_timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_event_timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_ingestion_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_sequence_token: Option<String>,
    pub arn: String,
    /// Always 0 since 2019 (model doc: "storedBytes … deprecated"), kept for old clients.
    pub stored_bytes: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeLogStreamsResponse {
    pub log_streams: Vec<LogStream>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

// ---- Events -------------------------------------------------------------------------------

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InputLogEvent {
    pub timestamp: Option<i64>,
    pub message: Option<String>,
}

/// `Entity` (PutLogEvents' optional entity; accepted and ignored).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Entity {
    pub key_attributes: Option<BTreeMap<String, String>>,
    pub attributes: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PutLogEventsRequest {
    pub log_group_name: Option<String>,
    pub log_stream_name: Option<String>,
    pub log_events: Option<Vec<InputLogEvent>>,
    pub sequence_token: Option<String>,
    pub entity: Option<Entity>,
}

/// Which events were rejected, by index into the request's `logEvents`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RejectedLogEventsInfo {
    /// Events from this index on are more than 2 h in the future.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub too_new_log_event_start_index: Option<i64>,
    /// Events up to and including this index are older than 14 days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub too_old_log_event_end_index: Option<i64>,
    /// Events up to and including this index precede the group's retention.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expired_log_event_end_index: Option<i64>,
}

/// `rejectedLogEventsInfo` is absent when nothing was rejected: watchtower warns "Failed to
/// deliver logs" whenever the key is present (protocol notes §C.3).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PutLogEventsResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_sequence_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected_log_events_info: Option<RejectedLogEventsInfo>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GetLogEventsRequest {
    pub log_group_name: Option<String>,
    pub log_group_identifier: Option<String>,
    pub log_stream_name: Option<String>,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub next_token: Option<String>,
    pub limit: Option<i64>,
    pub start_from_head: Option<bool>,
    pub unmask: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputLogEvent {
    pub timestamp: i64,
    pub message: String,
    pub ingestion_time: i64,
}

/// Both tokens are always present (protocol notes §C, §G.5).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetLogEventsResponse {
    pub events: Vec<OutputLogEvent>,
    pub next_forward_token: String,
    pub next_backward_token: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FilterLogEventsRequest {
    pub log_group_name: Option<String>,
    pub log_group_identifier: Option<String>,
    pub log_stream_names: Option<Vec<String>>,
    pub log_stream_name_prefix: Option<String>,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub filter_pattern: Option<String>,
    pub next_token: Option<String>,
    pub limit: Option<i64>,
    pub start_from_head: Option<bool>,
    pub interleaved: Option<bool>,
    pub unmask: Option<bool>,
}

/// `eventId` and `ingestionTime` are always present: `aws logs tail` needs both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FilteredLogEvent {
    pub log_stream_name: String,
    pub timestamp: i64,
    pub message: String,
    pub ingestion_time: i64,
    pub event_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchedLogStream {
    pub log_stream_name: String,
    pub searched_completely: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FilterLogEventsResponse {
    pub events: Vec<FilteredLogEvent>,
    pub searched_log_streams: Vec<SearchedLogStream>,
    /// Absent when there is nothing more (the CLI's paginator stops then).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GetLogRecordRequest {
    pub log_record_pointer: Option<String>,
    pub unmask: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetLogRecordResponse {
    pub log_record: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GetLogGroupFieldsRequest {
    pub log_group_name: Option<String>,
    pub time: Option<i64>,
    pub log_group_identifier: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogGroupField {
    pub name: String,
    pub percent: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetLogGroupFieldsResponse {
    pub log_group_fields: Vec<LogGroupField>,
}

// ---- Retention and tags -------------------------------------------------------------------

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PutRetentionPolicyRequest {
    pub log_group_name: Option<String>,
    pub retention_in_days: Option<i64>,
}

pub type DeleteRetentionPolicyRequest = DeleteLogGroupRequest;

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TagResourceRequest {
    pub resource_arn: Option<String>,
    pub tags: Option<Tags>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UntagResourceRequest {
    pub resource_arn: Option<String>,
    pub tag_keys: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ListTagsForResourceRequest {
    pub resource_arn: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListTagsResponse {
    pub tags: Tags,
}

pub type ListTagsForResourceResponse = ListTagsResponse;
pub type ListTagsLogGroupResponse = ListTagsResponse;

/// Deprecated `TagLogGroup`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TagLogGroupRequest {
    pub log_group_name: Option<String>,
    pub tags: Option<Tags>,
}

/// Deprecated `UntagLogGroup`: `tags` is a list of keys.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UntagLogGroupRequest {
    pub log_group_name: Option<String>,
    pub tags: Option<Vec<String>>,
}

pub type ListTagsLogGroupRequest = DeleteLogGroupRequest;

// ---- Metric and subscription filters ------------------------------------------------------

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricTransformation {
    #[serde(default)]
    pub metric_name: Option<String>,
    #[serde(default)]
    pub metric_namespace: Option<String>,
    #[serde(default)]
    pub metric_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PutMetricFilterRequest {
    pub log_group_name: Option<String>,
    pub filter_name: Option<String>,
    pub filter_pattern: Option<String>,
    pub metric_transformations: Option<Vec<MetricTransformation>>,
    pub apply_on_transformed_logs: Option<bool>,
    pub field_selection_criteria: Option<String>,
    pub emit_system_field_dimensions: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DescribeMetricFiltersRequest {
    pub log_group_name: Option<String>,
    pub filter_name_prefix: Option<String>,
    pub next_token: Option<String>,
    pub limit: Option<i64>,
    pub metric_name: Option<String>,
    pub metric_namespace: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricFilter {
    pub filter_name: String,
    pub filter_pattern: String,
    pub metric_transformations: Vec<MetricTransformation>,
    pub creation_time: i64,
    pub log_group_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply_on_transformed_logs: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeMetricFiltersResponse {
    pub metric_filters: Vec<MetricFilter>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DeleteFilterRequest {
    pub log_group_name: Option<String>,
    pub filter_name: Option<String>,
}

pub type DeleteMetricFilterRequest = DeleteFilterRequest;
pub type DeleteSubscriptionFilterRequest = DeleteFilterRequest;

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TestMetricFilterRequest {
    pub filter_pattern: Option<String>,
    pub log_event_messages: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricFilterMatchRecord {
    pub event_number: i64,
    pub event_message: String,
    pub extracted_values: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestMetricFilterResponse {
    pub matches: Vec<MetricFilterMatchRecord>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PutSubscriptionFilterRequest {
    pub log_group_name: Option<String>,
    pub filter_name: Option<String>,
    pub filter_pattern: Option<String>,
    pub destination_arn: Option<String>,
    pub role_arn: Option<String>,
    pub distribution: Option<String>,
    pub apply_on_transformed_logs: Option<bool>,
    pub field_selection_criteria: Option<String>,
    pub emit_system_fields: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DescribeSubscriptionFiltersRequest {
    pub log_group_name: Option<String>,
    pub filter_name_prefix: Option<String>,
    pub next_token: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionFilter {
    pub filter_name: String,
    pub log_group_name: String,
    pub filter_pattern: String,
    pub destination_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply_on_transformed_logs: Option<bool>,
    pub creation_time: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeSubscriptionFiltersResponse {
    pub subscription_filters: Vec<SubscriptionFilter>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

// ---- Logs Insights ------------------------------------------------------------------------

/// StartQuery: `startTime`/`endTime` are epoch **seconds** (protocol notes §G.2).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StartQueryRequest {
    pub query_language: Option<String>,
    pub log_group_name: Option<String>,
    pub log_group_names: Option<Vec<String>>,
    pub log_group_identifiers: Option<Vec<String>>,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub query_string: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StartQueryResponse {
    pub query_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GetQueryResultsRequest {
    pub query_id: Option<String>,
    pub next_token: Option<String>,
    pub max_items: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct ResultField {
    pub field: String,
    pub value: String,
}

/// Statistics are doubles on the wire.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryStatistics {
    pub records_matched: f64,
    pub records_scanned: f64,
    pub bytes_scanned: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_records_skipped: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_bytes_skipped: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_groups_scanned: Option<f64>,
}

/// `QueryStatus` enum (model).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
pub enum QueryStatus {
    Scheduled,
    Running,
    Complete,
    Failed,
    Cancelled,
    Timeout,
    Unknown,
}

impl QueryStatus {
    pub const ALL: [QueryStatus; 7] = [
        Self::Scheduled,
        Self::Running,
        Self::Complete,
        Self::Failed,
        Self::Cancelled,
        Self::Timeout,
        Self::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "Scheduled",
            Self::Running => "Running",
            Self::Complete => "Complete",
            Self::Failed => "Failed",
            Self::Cancelled => "Cancelled",
            Self::Timeout => "Timeout",
            Self::Unknown => "Unknown",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetQueryResultsResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_language: Option<String>,
    /// Each row includes `@ptr`; every value is a string.
    pub results: Vec<Vec<ResultField>>,
    pub statistics: QueryStatistics,
    pub status: QueryStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StopQueryRequest {
    pub query_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StopQueryResponse {
    pub success: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DescribeQueriesRequest {
    pub log_group_name: Option<String>,
    pub status: Option<String>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
    pub query_language: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_language: Option<String>,
    pub query_id: String,
    pub query_string: String,
    pub status: QueryStatus,
    pub create_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_group_name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeQueriesResponse {
    pub queries: Vec<QueryInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

// ---- Live tail (shapes only; the event-stream framing is the server's) --------------------

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StartLiveTailRequest {
    pub log_group_identifiers: Option<Vec<String>>,
    pub log_stream_names: Option<Vec<String>>,
    pub log_stream_name_prefixes: Option<Vec<String>>,
    pub log_event_filter_pattern: Option<String>,
}

/// The `sessionStart` event payload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveTailSessionStart {
    pub request_id: String,
    pub session_id: String,
    pub log_group_identifiers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_stream_names: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_stream_name_prefixes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_event_filter_pattern: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveTailSessionMetadata {
    pub sampled: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveTailSessionLogEvent {
    pub log_stream_name: String,
    pub log_group_identifier: String,
    pub message: String,
    pub timestamp: i64,
    pub ingestion_time: i64,
}

/// The `sessionUpdate` event payload (one a second; ≤ 500 results, sampled beyond).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveTailSessionUpdate {
    pub session_metadata: LiveTailSessionMetadata,
    pub session_results: Vec<LiveTailSessionLogEvent>,
}
