//! Request validation with AWS's wording. botocore checks only `required` and `min` (protocol
//! notes §G.7), so every `max`, `pattern` and `enum` of the model is enforced here and reported
//! as `InvalidParameterException` with the Coral text, e.g. `1 validation error detected: Value
//! '51' at 'limit' failed to satisfy constraint: Member must have value less than or equal to
//! 50` (the form moto reproduces and its tests assert).
//!
//! Logs answers model violations with `InvalidParameterException`, not `ValidationException`
//! (the model lists `ValidationException` only on DeleteLogGroup/DeleteLogStream, which is the
//! deletion-protection refusal) **[inference]** from moto and the model's error lists.
//! Several violations are joined by `; `; list items are `<list>.<n>.member` (1-based); lengths
//! are counted in UTF-16 units as Java does; values longer than [`RENDERED_VALUE_CHARS_MAX`]
//! are cut (our choice, bounding the answer; Coral prints them whole).

use std::collections::BTreeMap;

use crate::aws::AwsError;

use super::invalid;
use super::shapes::{
    CreateLogGroupRequest, CreateLogStreamRequest, DeleteFilterRequest, DescribeLogGroupsRequest,
    DescribeLogStreamsRequest, DescribeMetricFiltersRequest, DescribeQueriesRequest,
    DescribeSubscriptionFiltersRequest, FilterLogEventsRequest, GetLogEventsRequest,
    GetLogGroupFieldsRequest, GetLogRecordRequest, GetQueryResultsRequest, InputLogEvent,
    MetricTransformation, PutLogEventsRequest, PutMetricFilterRequest, PutRetentionPolicyRequest,
    PutSubscriptionFilterRequest, QueryStatus, StartLiveTailRequest, StartQueryRequest,
    StopQueryRequest, TagLogGroupRequest, TagResourceRequest, Tags, TestMetricFilterRequest,
    UntagLogGroupRequest, UntagResourceRequest,
};

/// `LogGroupName` 1-512, pattern `[\.\-_/#A-Za-z0-9]+` (model).
pub const LOG_GROUP_NAME_LEN_MAX: usize = 512;
pub const LOG_GROUP_NAME_PATTERN: &str = r"[\.\-_/#A-Za-z0-9]+";
/// `LogGroupNamePattern` 0-512, pattern `[\.\-_/#A-Za-z0-9]*` (model).
pub const LOG_GROUP_NAME_SEARCH_PATTERN: &str = r"[\.\-_/#A-Za-z0-9]*";
/// `LogStreamName` and `FilterName` 1-512, pattern `[^:*]*` (model).
pub const LOG_STREAM_NAME_LEN_MAX: usize = 512;
pub const LOG_STREAM_NAME_PATTERN: &str = "[^:*]*";
pub const FILTER_NAME_LEN_MAX: usize = 512;
/// `LogGroupIdentifier` 1-2048, pattern `[\w#+=/:,.@-]*` (model).
pub const LOG_GROUP_IDENTIFIER_LEN_MAX: usize = 2048;
pub const LOG_GROUP_IDENTIFIER_PATTERN: &str = r"[\w#+=/:,.@-]*";
/// `AmazonResourceName` 1-1011, pattern `[\w+=/:,.@-]*` (model).
pub const RESOURCE_ARN_LEN_MAX: usize = 1011;
pub const RESOURCE_ARN_PATTERN: &str = r"[\w+=/:,.@-]*";
/// `Tags` 1-50 entries; `TagKey` 1-128 and `TagValue` 0-256, pattern
/// `^([\p{L}\p{Z}\p{N}_.:/=+\-@]+)$` / `…*` (model).
pub const TAGS_MAX: usize = 50;
pub const TAG_KEY_LEN_MAX: usize = 128;
pub const TAG_VALUE_LEN_MAX: usize = 256;
pub const TAG_KEY_PATTERN: &str = r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]+)$";
pub const TAG_VALUE_PATTERN: &str = r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$";
/// `KmsKeyId` ≤ 256 (model).
pub const KMS_KEY_ID_LEN_MAX: usize = 256;
/// `DescribeLimit` 1-50, default 50 (model; DescribeLogGroups/Streams/filters).
pub const DESCRIBE_LIMIT_MAX: i64 = 50;
/// `EventsLimit` 1-10,000 (model; GetLogEvents and FilterLogEvents).
pub const EVENTS_LIMIT_MAX: i64 = 10_000;
/// `InputLogEvents` 1-10,000 (model; PutLogEvents).
pub const INPUT_LOG_EVENTS_MAX: usize = 10_000;
/// `InputLogStreamNames` 1-100 (model; FilterLogEvents, StartLiveTail).
pub const INPUT_LOG_STREAM_NAMES_MAX: usize = 100;
/// `DescribeLogGroupsLogGroupIdentifiers` 1-50, `AccountIds` 0-20 of 12 digits (model).
pub const DESCRIBE_GROUP_IDENTIFIERS_MAX: usize = 50;
pub const ACCOUNT_IDENTIFIERS_MAX: usize = 20;
/// `FilterPattern` 0-1024 (model).
pub const FILTER_PATTERN_LEN_MAX: usize = 1024;
/// `MetricTransformations` exactly 1; `MetricName`/`MetricNamespace` ≤ 255, pattern `[^:*$]*`;
/// `MetricValue` ≤ 100; dimension keys and values ≤ 255 (model).
pub const METRIC_TRANSFORMATIONS_MAX: usize = 1;
pub const METRIC_NAME_LEN_MAX: usize = 255;
pub const METRIC_NAME_PATTERN: &str = "[^:*$]*";
pub const METRIC_VALUE_LEN_MAX: usize = 100;
pub const DIMENSION_LEN_MAX: usize = 255;
/// `TestEventMessages` 1-50 (model).
pub const TEST_EVENT_MESSAGES_MAX: usize = 50;
/// `QueryString` 0-10,000; `EventsLimitStartQuery` 1-10,000 (model;
/// the protocol notes' 100,000 is the paginated total).
pub const QUERY_STRING_LEN_MAX: usize = 10_000;
pub const START_QUERY_LIMIT_MAX: i64 = 10_000;
/// `QueryId` 1-256 (model).
pub const QUERY_ID_LEN_MAX: usize = 256;
/// `GetQueryResultsMaxItems` 0-10,000; `GetQueryResultsNextToken` ≤ 1024 (model).
pub const QUERY_RESULTS_MAX_ITEMS_MAX: i64 = 10_000;
pub const QUERY_RESULTS_TOKEN_LEN_MAX: usize = 1024;
/// `DescribeQueriesMaxResults` 1-1000 (model).
pub const DESCRIBE_QUERIES_MAX: i64 = 1000;
/// `StartLiveTailLogGroupIdentifiers` 1-10 (model).
pub const LIVE_TAIL_GROUPS_MAX: usize = 10;
/// Enums (model).
pub const LOG_GROUP_CLASSES: &[&str] = &["STANDARD", "INFREQUENT_ACCESS", "DELIVERY"];
pub const ORDER_BY: &[&str] = &["LogStreamName", "LastEventTime"];
pub const DISTRIBUTIONS: &[&str] = &["Random", "ByLogStream"];
pub const QUERY_LANGUAGES: &[&str] = &["CWLI", "SQL", "PPL"];
pub const STANDARD_UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];
/// `retentionInDays` values (model `Days` documentation; the shape itself has no enum, so the
/// wording below is **[inference]**).
pub const RETENTION_DAYS: &[i64] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];
/// Reserved group-name prefix (protocol notes §C: "may not start with `aws/`").
pub const RESERVED_GROUP_PREFIX: &str = "aws/";
/// Longest value echoed in a message (our choice, see the module doc).
pub const RENDERED_VALUE_CHARS_MAX: usize = 256;

/// Messages for the cross-member rules. Sources: the moto-asserted LastEventTime text
/// (protocol notes §C); the others are the model documentation's sentences **[inference]**.
pub const MSG_ORDER_BY_WITH_PREFIX: &str =
    "Cannot order by LastEventTime with a logStreamNamePrefix.";
pub const MSG_PREFIX_AND_PATTERN: &str =
    "logGroupNamePattern and logGroupNamePrefix are mutually exclusive. Only one of these parameters can be passed.";
pub const MSG_NAME_XOR_IDENTIFIER: &str =
    "You must include either logGroupIdentifier or logGroupName, but not both.";
pub const MSG_STREAM_NAMES_AND_PREFIX: &str =
    "logStreamNames and logStreamNamePrefix are mutually exclusive. Only one of these parameters can be passed.";
pub const MSG_RESERVED_GROUP: &str = "Log group names starting with 'aws/' are reserved.";
pub const MSG_QUERY_GROUPS: &str =
    "Exactly one of logGroupName, logGroupNames or logGroupIdentifiers must be specified.";
pub const MSG_QUERY_TIME_ORDER: &str = "endTime must be greater than or equal to startTime.";
pub const MSG_LIVE_TAIL_STREAMS: &str =
    "logStreamNames and logStreamNamePrefixes are mutually exclusive.";

/// Constraint violations, rendered into one `InvalidParameterException`.
#[derive(Debug, Default)]
pub struct Violations {
    items: Vec<String>,
}

fn java_len(s: &str) -> usize {
    s.encode_utf16().count()
}

fn cut(s: &str) -> String {
    if s.chars().count() <= RENDERED_VALUE_CHARS_MAX {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(RENDERED_VALUE_CHARS_MAX).collect();
        out.push_str("...");
        out
    }
}

fn java_map(m: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = m.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", inner.join(", "))
}

fn java_list(l: &[String]) -> String {
    format!("[{}]", l.join(", "))
}

/// `[\.\-_/#A-Za-z0-9]`
fn group_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | '#')
}

/// `[\w#+=/:,.@-]` (Java `\w` is ASCII word characters).
fn identifier_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, '_' | '#' | '+' | '=' | '/' | ':' | ',' | '.' | '@' | '-')
}

fn arn_char(c: char) -> bool {
    identifier_char(c) && c != '#'
}

/// `[\p{L}\p{Z}\p{N}_.:/=+\-@]`: letters, space separators, numbers and the punctuation.
fn tag_char(c: char) -> bool {
    c.is_alphabetic()
        || c.is_numeric()
        || (c.is_whitespace() && !c.is_control())
        || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
}

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&mut self, value: Option<&str>, path: &str, rule: &str) {
        let value = match value {
            Some(v) => format!("'{}'", cut(v)),
            None => "null".to_string(),
        };
        self.items.push(format!(
            "Value {value} at '{path}' failed to satisfy constraint: {rule}"
        ));
    }

    /// A required member: `Value null at '…' … Member must not be null`.
    pub fn required<'a, T: ?Sized>(&mut self, path: &str, v: Option<&'a T>) -> Option<&'a T> {
        if v.is_none() {
            self.push(None, path, "Member must not be null");
        }
        v
    }

    /// String length bounds (UTF-16 units).
    pub fn len(&mut self, path: &str, v: &str, min: usize, max: Option<usize>) {
        let n = java_len(v);
        if let Some(max) = max {
            if n > max {
                self.push(
                    Some(v),
                    path,
                    &format!("Member must have length less than or equal to {max}"),
                );
            }
        }
        if n < min {
            self.push(
                Some(v),
                path,
                &format!("Member must have length greater than or equal to {min}"),
            );
        }
    }

    /// `Member must satisfy regular expression pattern: <pattern>` when a character fails.
    pub fn pattern(&mut self, path: &str, v: &str, ok: impl Fn(char) -> bool, pattern: &str) {
        if !v.chars().all(ok) {
            self.push(
                Some(v),
                path,
                &format!("Member must satisfy regular expression pattern: {pattern}"),
            );
        }
    }

    /// Integer range.
    pub fn range(&mut self, path: &str, v: i64, min: Option<i64>, max: Option<i64>) {
        if let Some(max) = max {
            if v > max {
                self.push(
                    Some(&v.to_string()),
                    path,
                    &format!("Member must have value less than or equal to {max}"),
                );
            }
        }
        if let Some(min) = min {
            if v < min {
                self.push(
                    Some(&v.to_string()),
                    path,
                    &format!("Member must have value greater than or equal to {min}"),
                );
            }
        }
    }

    /// Collection size bounds; `rendered` is the value as Java prints it.
    pub fn count(&mut self, path: &str, rendered: &str, n: usize, min: usize, max: Option<usize>) {
        if let Some(max) = max {
            if n > max {
                self.push(
                    Some(rendered),
                    path,
                    &format!("Member must have length less than or equal to {max}"),
                );
            }
        }
        if n < min {
            self.push(
                Some(rendered),
                path,
                &format!("Member must have length greater than or equal to {min}"),
            );
        }
    }

    /// `Member must satisfy enum value set: [A, B]`.
    pub fn one_of(&mut self, path: &str, v: &str, allowed: &[&str]) {
        if !allowed.contains(&v) {
            self.push(
                Some(v),
                path,
                &format!(
                    "Member must satisfy enum value set: [{}]",
                    allowed.join(", ")
                ),
            );
        }
    }

    /// `Ok(())` or the `InvalidParameterException`.
    pub fn finish(self) -> Result<(), AwsError> {
        if self.items.is_empty() {
            return Ok(());
        }
        let n = self.items.len();
        let plural = if n == 1 { "error" } else { "errors" };
        Err(invalid(format!(
            "{n} validation {plural} detected: {}",
            self.items.join("; ")
        )))
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    // ---- member kinds of the Logs model ----

    pub fn group_name(&mut self, path: &str, v: &str) {
        self.len(path, v, 1, Some(LOG_GROUP_NAME_LEN_MAX));
        if !v.is_empty() {
            self.pattern(path, v, group_name_char, LOG_GROUP_NAME_PATTERN);
        }
    }

    pub fn stream_name(&mut self, path: &str, v: &str) {
        self.len(path, v, 1, Some(LOG_STREAM_NAME_LEN_MAX));
        self.pattern(path, v, |c| c != ':' && c != '*', LOG_STREAM_NAME_PATTERN);
    }

    pub fn filter_name(&mut self, path: &str, v: &str) {
        self.len(path, v, 1, Some(FILTER_NAME_LEN_MAX));
        self.pattern(path, v, |c| c != ':' && c != '*', LOG_STREAM_NAME_PATTERN);
    }

    pub fn identifier(&mut self, path: &str, v: &str) {
        self.len(path, v, 1, Some(LOG_GROUP_IDENTIFIER_LEN_MAX));
        self.pattern(path, v, identifier_char, LOG_GROUP_IDENTIFIER_PATTERN);
    }

    pub fn resource_arn(&mut self, path: &str, v: &str) {
        self.len(path, v, 1, Some(RESOURCE_ARN_LEN_MAX));
        self.pattern(path, v, arn_char, RESOURCE_ARN_PATTERN);
    }

    pub fn filter_pattern(&mut self, path: &str, v: &str) {
        self.len(path, v, 0, Some(FILTER_PATTERN_LEN_MAX));
    }

    pub fn timestamp(&mut self, path: &str, v: i64) {
        self.range(path, v, Some(0), None);
    }

    pub fn tags(&mut self, path: &str, m: &Tags) {
        let rendered = java_map(m);
        self.count(path, &rendered, m.len(), 1, Some(TAGS_MAX));
        let bad_key = |k: &String| {
            let n = java_len(k);
            !(1..=TAG_KEY_LEN_MAX).contains(&n) || !k.chars().all(tag_char)
        };
        if m.keys().any(bad_key) {
            self.push(
                Some(&rendered),
                path,
                &format!(
                    "Map keys must satisfy constraint: [Member must have length less than or equal to {TAG_KEY_LEN_MAX}, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: {TAG_KEY_PATTERN}]"
                ),
            );
        }
        let bad_value = |v: &String| java_len(v) > TAG_VALUE_LEN_MAX || !v.chars().all(tag_char);
        if m.values().any(bad_value) {
            self.push(
                Some(&rendered),
                path,
                &format!(
                    "Map value must satisfy constraint: [Member must have length less than or equal to {TAG_VALUE_LEN_MAX}, Member must satisfy regular expression pattern: {TAG_VALUE_PATTERN}]"
                ),
            );
        }
    }

    pub fn tag_keys(&mut self, path: &str, keys: &[String], min: usize, max: Option<usize>) {
        self.count(path, &java_list(keys), keys.len(), min, max);
        for (i, k) in keys.iter().enumerate() {
            let p = format!("{path}.{}.member", i + 1);
            self.len(&p, k, 1, Some(TAG_KEY_LEN_MAX));
            self.pattern(&p, k, tag_char, TAG_KEY_PATTERN);
        }
    }

    pub fn stream_names(&mut self, path: &str, names: &[String]) {
        self.count(
            path,
            &java_list(names),
            names.len(),
            1,
            Some(INPUT_LOG_STREAM_NAMES_MAX),
        );
        for (i, n) in names.iter().enumerate() {
            self.stream_name(&format!("{path}.{}.member", i + 1), n);
        }
    }
}

/// The one required log group name of an operation.
fn required_group<'a>(v: &mut Violations, name: Option<&'a String>) -> &'a str {
    match v.required("logGroupName", name) {
        Some(n) => {
            v.group_name("logGroupName", n);
            n
        }
        None => "",
    }
}

fn required_stream<'a>(v: &mut Violations, name: Option<&'a String>) -> &'a str {
    match v.required("logStreamName", name) {
        Some(n) => {
            v.stream_name("logStreamName", n);
            n
        }
        None => "",
    }
}

fn limit(v: &mut Violations, l: Option<i64>, max: i64) {
    if let Some(l) = l {
        v.range("limit", l, Some(1), Some(max));
    }
}

/// A log group named either way (`logGroupName` xor `logGroupIdentifier`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupRef<'a> {
    Name(&'a str),
    /// A name or an ARN; the state resolves it.
    Identifier(&'a str),
}

fn group_ref<'a>(
    v: &mut Violations,
    name: Option<&'a String>,
    ident: Option<&'a String>,
) -> Option<GroupRef<'a>> {
    if let Some(n) = name {
        v.group_name("logGroupName", n);
    }
    if let Some(i) = ident {
        v.identifier("logGroupIdentifier", i);
    }
    match (name, ident) {
        (Some(n), None) => Some(GroupRef::Name(n)),
        (None, Some(i)) => Some(GroupRef::Identifier(i)),
        _ => None,
    }
}

fn finish_with_ref<'a>(v: Violations, r: Option<GroupRef<'a>>) -> Result<GroupRef<'a>, AwsError> {
    v.finish()?;
    r.ok_or_else(|| invalid(MSG_NAME_XOR_IDENTIFIER))
}

/// CreateLogGroup, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct NewGroup<'a> {
    pub name: &'a str,
    pub kms_key_id: Option<&'a str>,
    pub tags: Tags,
    pub class: &'a str,
    pub deletion_protection: bool,
}

pub fn create_log_group(req: &CreateLogGroupRequest) -> Result<NewGroup<'_>, AwsError> {
    let mut v = Violations::new();
    let name = required_group(&mut v, req.log_group_name.as_ref());
    if let Some(k) = &req.kms_key_id {
        v.len("kmsKeyId", k, 0, Some(KMS_KEY_ID_LEN_MAX));
    }
    if let Some(t) = &req.tags {
        v.tags("tags", t);
    }
    if let Some(c) = &req.log_group_class {
        v.one_of("logGroupClass", c, LOG_GROUP_CLASSES);
    }
    v.finish()?;
    if name.starts_with(RESERVED_GROUP_PREFIX) {
        return Err(invalid(MSG_RESERVED_GROUP));
    }
    Ok(NewGroup {
        name,
        kms_key_id: req.kms_key_id.as_deref(),
        tags: req.tags.clone().unwrap_or_default(),
        class: req.log_group_class.as_deref().unwrap_or("STANDARD"),
        deletion_protection: req.deletion_protection_enabled.unwrap_or(false),
    })
}

/// DeleteLogGroup, DeleteRetentionPolicy, ListTagsLogGroup: one required group name.
pub fn group_name(name: Option<&String>) -> Result<&str, AwsError> {
    let mut v = Violations::new();
    let n = required_group(&mut v, name);
    v.finish()?;
    Ok(n)
}

/// DescribeLogGroups, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupQuery<'a> {
    pub prefix: Option<&'a str>,
    /// Case-sensitive substring; only `arn`, `creationTime`, `logGroupName` are returned.
    pub pattern: Option<&'a str>,
    pub limit: usize,
    pub class: Option<&'a str>,
    pub identifiers: Option<&'a [String]>,
    pub next_token: Option<&'a str>,
}

pub fn describe_log_groups(req: &DescribeLogGroupsRequest) -> Result<GroupQuery<'_>, AwsError> {
    let mut v = Violations::new();
    if let Some(ids) = &req.account_identifiers {
        v.count(
            "accountIdentifiers",
            &java_list(ids),
            ids.len(),
            0,
            Some(ACCOUNT_IDENTIFIERS_MAX),
        );
        for (i, id) in ids.iter().enumerate() {
            let p = format!("accountIdentifiers.{}.member", i + 1);
            v.len(&p, id, 12, Some(12));
            v.pattern(&p, id, |c| c.is_ascii_digit(), r"^\d{12}$");
        }
    }
    if let Some(p) = &req.log_group_name_prefix {
        v.group_name("logGroupNamePrefix", p);
    }
    if let Some(p) = &req.log_group_name_pattern {
        v.len("logGroupNamePattern", p, 0, Some(LOG_GROUP_NAME_LEN_MAX));
        v.pattern(
            "logGroupNamePattern",
            p,
            group_name_char,
            LOG_GROUP_NAME_SEARCH_PATTERN,
        );
    }
    if let Some(t) = &req.next_token {
        v.len("nextToken", t, 1, None);
    }
    limit(&mut v, req.limit, DESCRIBE_LIMIT_MAX);
    if let Some(c) = &req.log_group_class {
        v.one_of("logGroupClass", c, LOG_GROUP_CLASSES);
    }
    if let Some(ids) = &req.log_group_identifiers {
        v.count(
            "logGroupIdentifiers",
            &java_list(ids),
            ids.len(),
            1,
            Some(DESCRIBE_GROUP_IDENTIFIERS_MAX),
        );
        for (i, id) in ids.iter().enumerate() {
            v.identifier(&format!("logGroupIdentifiers.{}.member", i + 1), id);
        }
    }
    v.finish()?;
    if req.log_group_name_prefix.is_some() && req.log_group_name_pattern.is_some() {
        return Err(invalid(MSG_PREFIX_AND_PATTERN));
    }
    Ok(GroupQuery {
        prefix: req.log_group_name_prefix.as_deref(),
        pattern: req.log_group_name_pattern.as_deref(),
        limit: usize::try_from(req.limit.unwrap_or(DESCRIBE_LIMIT_MAX)).unwrap_or(50),
        class: req.log_group_class.as_deref(),
        identifiers: req.log_group_identifiers.as_deref(),
        next_token: req.next_token.as_deref(),
    })
}

/// CreateLogStream / DeleteLogStream: `(group, stream)`.
pub fn group_and_stream(req: &CreateLogStreamRequest) -> Result<(&str, &str), AwsError> {
    let mut v = Violations::new();
    let g = required_group(&mut v, req.log_group_name.as_ref());
    let s = required_stream(&mut v, req.log_stream_name.as_ref());
    v.finish()?;
    Ok((g, s))
}

/// DescribeLogStreams `orderBy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum OrderBy {
    LogStreamName,
    LastEventTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamQuery<'a> {
    pub group: GroupRef<'a>,
    pub prefix: Option<&'a str>,
    pub order_by: OrderBy,
    pub descending: bool,
    pub limit: usize,
    pub next_token: Option<&'a str>,
}

pub fn describe_log_streams(req: &DescribeLogStreamsRequest) -> Result<StreamQuery<'_>, AwsError> {
    let mut v = Violations::new();
    let r = group_ref(
        &mut v,
        req.log_group_name.as_ref(),
        req.log_group_identifier.as_ref(),
    );
    if let Some(p) = &req.log_stream_name_prefix {
        v.stream_name("logStreamNamePrefix", p);
    }
    if let Some(o) = &req.order_by {
        v.one_of("orderBy", o, ORDER_BY);
    }
    if let Some(t) = &req.next_token {
        v.len("nextToken", t, 1, None);
    }
    limit(&mut v, req.limit, DESCRIBE_LIMIT_MAX);
    let group = finish_with_ref(v, r)?;
    let order_by = match req.order_by.as_deref() {
        Some("LastEventTime") => OrderBy::LastEventTime,
        _ => OrderBy::LogStreamName,
    };
    if order_by == OrderBy::LastEventTime && req.log_stream_name_prefix.is_some() {
        return Err(invalid(MSG_ORDER_BY_WITH_PREFIX));
    }
    Ok(StreamQuery {
        group,
        prefix: req.log_stream_name_prefix.as_deref(),
        order_by,
        descending: req.descending.unwrap_or(false),
        limit: usize::try_from(req.limit.unwrap_or(DESCRIBE_LIMIT_MAX)).unwrap_or(50),
        next_token: req.next_token.as_deref(),
    })
}

/// PutLogEvents, checked against the model (the batch rules are `put_events`').
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutBatch<'a> {
    pub group: &'a str,
    pub stream: &'a str,
    /// `(timestamp ms, message)` in request order.
    pub events: Vec<(i64, &'a str)>,
}

pub fn put_log_events(req: &PutLogEventsRequest) -> Result<PutBatch<'_>, AwsError> {
    let mut v = Violations::new();
    let group = required_group(&mut v, req.log_group_name.as_ref());
    let stream = required_stream(&mut v, req.log_stream_name.as_ref());
    let empty: &[InputLogEvent] = &[];
    let events = v
        .required("logEvents", req.log_events.as_ref())
        .map_or(empty, |e| e.as_slice());
    if req.log_events.is_some() {
        // Coral would print the list; its length is what matters and is bounded here.
        let rendered = format!("[{} log events]", events.len());
        v.count(
            "logEvents",
            &rendered,
            events.len(),
            1,
            Some(INPUT_LOG_EVENTS_MAX),
        );
    }
    if let Some(t) = &req.sequence_token {
        v.len("sequenceToken", t, 1, None);
    }
    let mut out = Vec::with_capacity(events.len().min(INPUT_LOG_EVENTS_MAX));
    // Past the count limit the call fails anyway; don't walk a huge list.
    if events.len() <= INPUT_LOG_EVENTS_MAX {
        for (i, e) in events.iter().enumerate() {
            let ts = v.required(
                &format!("logEvents.{}.member.timestamp", i + 1),
                e.timestamp.as_ref(),
            );
            let msg = v.required(
                &format!("logEvents.{}.member.message", i + 1),
                e.message.as_ref(),
            );
            if let Some(ts) = ts {
                v.timestamp(&format!("logEvents.{}.member.timestamp", i + 1), *ts);
            }
            if let Some(m) = msg {
                v.len(&format!("logEvents.{}.member.message", i + 1), m, 1, None);
            }
            if let (Some(ts), Some(m)) = (ts, msg) {
                out.push((*ts, m.as_str()));
            }
        }
    }
    v.finish()?;
    Ok(PutBatch {
        group,
        stream,
        events: out,
    })
}

/// GetLogEvents, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetQuery<'a> {
    pub group: GroupRef<'a>,
    pub stream: &'a str,
    /// Inclusive, ms.
    pub start_time: Option<i64>,
    /// Exclusive, ms.
    pub end_time: Option<i64>,
    pub limit: Option<usize>,
    pub start_from_head: bool,
    pub next_token: Option<&'a str>,
}

pub fn get_log_events(req: &GetLogEventsRequest) -> Result<GetQuery<'_>, AwsError> {
    let mut v = Violations::new();
    let r = group_ref(
        &mut v,
        req.log_group_name.as_ref(),
        req.log_group_identifier.as_ref(),
    );
    let stream = required_stream(&mut v, req.log_stream_name.as_ref());
    if let Some(t) = req.start_time {
        v.timestamp("startTime", t);
    }
    if let Some(t) = req.end_time {
        v.timestamp("endTime", t);
    }
    if let Some(t) = &req.next_token {
        v.len("nextToken", t, 1, None);
    }
    limit(&mut v, req.limit, EVENTS_LIMIT_MAX);
    let group = finish_with_ref(v, r)?;
    Ok(GetQuery {
        group,
        stream,
        start_time: req.start_time,
        end_time: req.end_time,
        limit: req.limit.and_then(|l| usize::try_from(l).ok()),
        start_from_head: req.start_from_head.unwrap_or(false),
        next_token: req.next_token.as_deref(),
    })
}

/// FilterLogEvents, checked. The pattern is compiled by the query crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterQuery<'a> {
    pub group: GroupRef<'a>,
    pub stream_names: Option<&'a [String]>,
    pub stream_prefix: Option<&'a str>,
    /// Inclusive, ms.
    pub start_time: Option<i64>,
    /// Inclusive, ms ("Events with a timestamp later than this time are not returned").
    pub end_time: Option<i64>,
    pub filter_pattern: &'a str,
    /// Default 10,000 (model doc).
    pub limit: usize,
    pub next_token: Option<&'a str>,
}

pub fn filter_log_events(req: &FilterLogEventsRequest) -> Result<FilterQuery<'_>, AwsError> {
    let mut v = Violations::new();
    let r = group_ref(
        &mut v,
        req.log_group_name.as_ref(),
        req.log_group_identifier.as_ref(),
    );
    if let Some(n) = &req.log_stream_names {
        v.stream_names("logStreamNames", n);
    }
    if let Some(p) = &req.log_stream_name_prefix {
        v.stream_name("logStreamNamePrefix", p);
    }
    if let Some(t) = req.start_time {
        v.timestamp("startTime", t);
    }
    if let Some(t) = req.end_time {
        v.timestamp("endTime", t);
    }
    if let Some(p) = &req.filter_pattern {
        v.filter_pattern("filterPattern", p);
    }
    if let Some(t) = &req.next_token {
        v.len("nextToken", t, 1, None);
    }
    limit(&mut v, req.limit, EVENTS_LIMIT_MAX);
    let group = finish_with_ref(v, r)?;
    if req.log_stream_names.is_some() && req.log_stream_name_prefix.is_some() {
        return Err(invalid(MSG_STREAM_NAMES_AND_PREFIX));
    }
    Ok(FilterQuery {
        group,
        stream_names: req.log_stream_names.as_deref(),
        stream_prefix: req.log_stream_name_prefix.as_deref(),
        start_time: req.start_time,
        end_time: req.end_time,
        filter_pattern: req.filter_pattern.as_deref().unwrap_or(""),
        limit: usize::try_from(req.limit.unwrap_or(EVENTS_LIMIT_MAX)).unwrap_or(10_000),
        next_token: req.next_token.as_deref(),
    })
}

/// PutRetentionPolicy: `(group, days)`.
pub fn put_retention_policy(req: &PutRetentionPolicyRequest) -> Result<(&str, i32), AwsError> {
    let mut v = Violations::new();
    let g = required_group(&mut v, req.log_group_name.as_ref());
    let days = v
        .required("retentionInDays", req.retention_in_days.as_ref())
        .copied();
    if let Some(d) = days {
        if !RETENTION_DAYS.contains(&d) {
            let set: Vec<String> = RETENTION_DAYS.iter().map(|d| d.to_string()).collect();
            v.push(
                Some(&d.to_string()),
                "retentionInDays",
                &format!("Member must satisfy enum value set: [{}]", set.join(", ")),
            );
        }
    }
    v.finish()?;
    let days = days.and_then(|d| i32::try_from(d).ok()).unwrap_or(0);
    Ok((g, days))
}

pub fn tag_resource(req: &TagResourceRequest) -> Result<(&str, &Tags), AwsError> {
    let mut v = Violations::new();
    let arn = v.required("resourceArn", req.resource_arn.as_ref());
    if let Some(a) = arn {
        v.resource_arn("resourceArn", a);
    }
    let tags = v.required("tags", req.tags.as_ref());
    if let Some(t) = tags {
        v.tags("tags", t);
    }
    v.finish()?;
    match (arn, tags) {
        (Some(a), Some(t)) => Ok((a, t)),
        _ => Err(invalid("missing member")),
    }
}

pub fn untag_resource(req: &UntagResourceRequest) -> Result<(&str, &[String]), AwsError> {
    let mut v = Violations::new();
    let arn = v.required("resourceArn", req.resource_arn.as_ref());
    if let Some(a) = arn {
        v.resource_arn("resourceArn", a);
    }
    let keys = v.required("tagKeys", req.tag_keys.as_ref());
    if let Some(k) = keys {
        v.tag_keys("tagKeys", k, 0, Some(TAGS_MAX));
    }
    v.finish()?;
    match (arn, keys) {
        (Some(a), Some(k)) => Ok((a, k)),
        _ => Err(invalid("missing member")),
    }
}

pub fn resource_arn(arn: Option<&String>) -> Result<&str, AwsError> {
    let mut v = Violations::new();
    let a = v.required("resourceArn", arn);
    if let Some(a) = a {
        v.resource_arn("resourceArn", a);
    }
    v.finish()?;
    Ok(a.map_or("", |a| a.as_str()))
}

pub fn tag_log_group(req: &TagLogGroupRequest) -> Result<(&str, &Tags), AwsError> {
    let mut v = Violations::new();
    let g = required_group(&mut v, req.log_group_name.as_ref());
    let tags = v.required("tags", req.tags.as_ref());
    if let Some(t) = tags {
        v.tags("tags", t);
    }
    v.finish()?;
    tags.map(|t| (g, t))
        .ok_or_else(|| invalid("missing member"))
}

pub fn untag_log_group(req: &UntagLogGroupRequest) -> Result<(&str, &[String]), AwsError> {
    let mut v = Violations::new();
    let g = required_group(&mut v, req.log_group_name.as_ref());
    let keys = v.required("tags", req.tags.as_ref());
    if let Some(k) = keys {
        v.tag_keys("tags", k, 1, None);
    }
    v.finish()?;
    keys.map(|k| (g, k.as_slice()))
        .ok_or_else(|| invalid("missing member"))
}

fn metric_transformation(v: &mut Violations, path: &str, t: &MetricTransformation) {
    for (member, value) in [
        ("metricName", &t.metric_name),
        ("metricNamespace", &t.metric_namespace),
    ] {
        let p = format!("{path}.{member}");
        if let Some(s) = v.required(&p, value.as_ref()) {
            v.len(&p, s, 0, Some(METRIC_NAME_LEN_MAX));
            v.pattern(
                &p,
                s,
                |c| !matches!(c, ':' | '*' | '$'),
                METRIC_NAME_PATTERN,
            );
        }
    }
    let p = format!("{path}.metricValue");
    if let Some(s) = v.required(&p, t.metric_value.as_ref()) {
        v.len(&p, s, 0, Some(METRIC_VALUE_LEN_MAX));
    }
    if let Some(d) = &t.dimensions {
        let bad = d
            .iter()
            .any(|(k, v)| java_len(k) > DIMENSION_LEN_MAX || java_len(v) > DIMENSION_LEN_MAX);
        if bad {
            v.push(
                Some(&java_map(d)),
                &format!("{path}.dimensions"),
                &format!("Map keys must satisfy constraint: [Member must have length less than or equal to {DIMENSION_LEN_MAX}]"),
            );
        }
    }
    if let Some(u) = &t.unit {
        v.one_of(&format!("{path}.unit"), u, STANDARD_UNITS);
    }
}

/// PutMetricFilter, checked: `(group, filter name, pattern)`.
pub fn put_metric_filter(req: &PutMetricFilterRequest) -> Result<(&str, &str, &str), AwsError> {
    let mut v = Violations::new();
    let g = required_group(&mut v, req.log_group_name.as_ref());
    let name = v.required("filterName", req.filter_name.as_ref());
    if let Some(n) = name {
        v.filter_name("filterName", n);
    }
    let pattern = v.required("filterPattern", req.filter_pattern.as_ref());
    if let Some(p) = pattern {
        v.filter_pattern("filterPattern", p);
    }
    if let Some(ts) = v.required("metricTransformations", req.metric_transformations.as_ref()) {
        v.count(
            "metricTransformations",
            &format!("[{} transformations]", ts.len()),
            ts.len(),
            1,
            Some(METRIC_TRANSFORMATIONS_MAX),
        );
        for (i, t) in ts.iter().take(METRIC_TRANSFORMATIONS_MAX + 1).enumerate() {
            metric_transformation(
                &mut v,
                &format!("metricTransformations.{}.member", i + 1),
                t,
            );
        }
    }
    v.finish()?;
    Ok((
        g,
        name.map_or("", |s| s.as_str()),
        pattern.map_or("", |s| s.as_str()),
    ))
}

/// DescribeMetricFilters / DescribeSubscriptionFilters paging and prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterListQuery<'a> {
    pub group: Option<&'a str>,
    pub prefix: Option<&'a str>,
    pub limit: usize,
    pub next_token: Option<&'a str>,
    pub metric_name: Option<&'a str>,
    pub metric_namespace: Option<&'a str>,
}

pub fn describe_metric_filters(
    req: &DescribeMetricFiltersRequest,
) -> Result<FilterListQuery<'_>, AwsError> {
    let mut v = Violations::new();
    if let Some(g) = &req.log_group_name {
        v.group_name("logGroupName", g);
    }
    if let Some(p) = &req.filter_name_prefix {
        v.filter_name("filterNamePrefix", p);
    }
    if let Some(t) = &req.next_token {
        v.len("nextToken", t, 1, None);
    }
    limit(&mut v, req.limit, DESCRIBE_LIMIT_MAX);
    for (member, value) in [
        ("metricName", &req.metric_name),
        ("metricNamespace", &req.metric_namespace),
    ] {
        if let Some(s) = value {
            v.len(member, s, 0, Some(METRIC_NAME_LEN_MAX));
            v.pattern(
                member,
                s,
                |c| !matches!(c, ':' | '*' | '$'),
                METRIC_NAME_PATTERN,
            );
        }
    }
    v.finish()?;
    Ok(FilterListQuery {
        group: req.log_group_name.as_deref(),
        prefix: req.filter_name_prefix.as_deref(),
        limit: usize::try_from(req.limit.unwrap_or(DESCRIBE_LIMIT_MAX)).unwrap_or(50),
        next_token: req.next_token.as_deref(),
        metric_name: req.metric_name.as_deref(),
        metric_namespace: req.metric_namespace.as_deref(),
    })
}

pub fn describe_subscription_filters(
    req: &DescribeSubscriptionFiltersRequest,
) -> Result<FilterListQuery<'_>, AwsError> {
    let mut v = Violations::new();
    let g = required_group(&mut v, req.log_group_name.as_ref());
    if let Some(p) = &req.filter_name_prefix {
        v.filter_name("filterNamePrefix", p);
    }
    if let Some(t) = &req.next_token {
        v.len("nextToken", t, 1, None);
    }
    limit(&mut v, req.limit, DESCRIBE_LIMIT_MAX);
    v.finish()?;
    Ok(FilterListQuery {
        group: Some(g),
        prefix: req.filter_name_prefix.as_deref(),
        limit: usize::try_from(req.limit.unwrap_or(DESCRIBE_LIMIT_MAX)).unwrap_or(50),
        next_token: req.next_token.as_deref(),
        metric_name: None,
        metric_namespace: None,
    })
}

/// DeleteMetricFilter / DeleteSubscriptionFilter: `(group, filter name)`.
pub fn delete_filter(req: &DeleteFilterRequest) -> Result<(&str, &str), AwsError> {
    let mut v = Violations::new();
    let g = required_group(&mut v, req.log_group_name.as_ref());
    let n = v.required("filterName", req.filter_name.as_ref());
    if let Some(n) = n {
        v.filter_name("filterName", n);
    }
    v.finish()?;
    Ok((g, n.map_or("", |s| s.as_str())))
}

/// PutSubscriptionFilter, checked: `(group, filter name, pattern, destination)`.
pub fn put_subscription_filter(
    req: &PutSubscriptionFilterRequest,
) -> Result<(&str, &str, &str, &str), AwsError> {
    let mut v = Violations::new();
    let g = required_group(&mut v, req.log_group_name.as_ref());
    let name = v.required("filterName", req.filter_name.as_ref());
    if let Some(n) = name {
        v.filter_name("filterName", n);
    }
    let pattern = v.required("filterPattern", req.filter_pattern.as_ref());
    if let Some(p) = pattern {
        v.filter_pattern("filterPattern", p);
    }
    let dest = v.required("destinationArn", req.destination_arn.as_ref());
    if let Some(d) = dest {
        v.len("destinationArn", d, 1, None);
    }
    if let Some(r) = &req.role_arn {
        v.len("roleArn", r, 1, None);
    }
    if let Some(d) = &req.distribution {
        v.one_of("distribution", d, DISTRIBUTIONS);
    }
    v.finish()?;
    Ok((
        g,
        name.map_or("", |s| s.as_str()),
        pattern.map_or("", |s| s.as_str()),
        dest.map_or("", |s| s.as_str()),
    ))
}

/// TestMetricFilter: `(pattern, messages)`.
pub fn test_metric_filter(req: &TestMetricFilterRequest) -> Result<(&str, &[String]), AwsError> {
    let mut v = Violations::new();
    let p = v.required("filterPattern", req.filter_pattern.as_ref());
    if let Some(p) = p {
        v.filter_pattern("filterPattern", p);
    }
    let msgs = v.required("logEventMessages", req.log_event_messages.as_ref());
    if let Some(m) = msgs {
        v.count(
            "logEventMessages",
            &format!("[{} messages]", m.len()),
            m.len(),
            1,
            Some(TEST_EVENT_MESSAGES_MAX),
        );
        for (i, s) in m.iter().take(TEST_EVENT_MESSAGES_MAX + 1).enumerate() {
            v.len(&format!("logEventMessages.{}.member", i + 1), s, 1, None);
        }
    }
    v.finish()?;
    Ok((
        p.map_or("", |s| s.as_str()),
        msgs.map_or(&[][..], |m| m.as_slice()),
    ))
}

/// The log groups a query runs over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryGroups<'a> {
    Name(&'a str),
    Names(&'a [String]),
    Identifiers(&'a [String]),
    /// None given: the query string must carry a `SOURCE` command (the query crate decides).
    FromQuery,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartQuery<'a> {
    pub groups: QueryGroups<'a>,
    /// Epoch **seconds**.
    pub start_time_s: i64,
    pub end_time_s: i64,
    pub query_string: &'a str,
    pub limit: Option<usize>,
    pub language: &'a str,
}

pub fn start_query(req: &StartQueryRequest) -> Result<StartQuery<'_>, AwsError> {
    let mut v = Violations::new();
    if let Some(l) = &req.query_language {
        v.one_of("queryLanguage", l, QUERY_LANGUAGES);
    }
    if let Some(g) = &req.log_group_name {
        v.group_name("logGroupName", g);
    }
    if let Some(gs) = &req.log_group_names {
        for (i, g) in gs.iter().enumerate() {
            v.group_name(&format!("logGroupNames.{}.member", i + 1), g);
        }
    }
    if let Some(gs) = &req.log_group_identifiers {
        for (i, g) in gs.iter().enumerate() {
            v.identifier(&format!("logGroupIdentifiers.{}.member", i + 1), g);
        }
    }
    let start = v.required("startTime", req.start_time.as_ref()).copied();
    let end = v.required("endTime", req.end_time.as_ref()).copied();
    if let Some(s) = start {
        v.timestamp("startTime", s);
    }
    if let Some(e) = end {
        v.timestamp("endTime", e);
    }
    let q = v.required("queryString", req.query_string.as_ref());
    if let Some(q) = q {
        v.len("queryString", q, 0, Some(QUERY_STRING_LEN_MAX));
    }
    limit(&mut v, req.limit, START_QUERY_LIMIT_MAX);
    v.finish()?;
    let groups = match (
        &req.log_group_name,
        &req.log_group_names,
        &req.log_group_identifiers,
    ) {
        (Some(n), None, None) => QueryGroups::Name(n),
        (None, Some(n), None) => QueryGroups::Names(n),
        (None, None, Some(i)) => QueryGroups::Identifiers(i),
        (None, None, None) => QueryGroups::FromQuery,
        _ => return Err(invalid(MSG_QUERY_GROUPS)),
    };
    let (start_time_s, end_time_s) = (start.unwrap_or(0), end.unwrap_or(0));
    if end_time_s < start_time_s {
        return Err(invalid(MSG_QUERY_TIME_ORDER));
    }
    Ok(StartQuery {
        groups,
        start_time_s,
        end_time_s,
        query_string: q.map_or("", |s| s.as_str()),
        limit: req.limit.and_then(|l| usize::try_from(l).ok()),
        language: req.query_language.as_deref().unwrap_or("CWLI"),
    })
}

fn query_id<'a>(v: &mut Violations, id: Option<&'a String>) -> &'a str {
    match v.required("queryId", id) {
        Some(id) => {
            v.len("queryId", id, 1, Some(QUERY_ID_LEN_MAX));
            id
        }
        None => "",
    }
}

/// GetQueryResults: `(query id, max items)`.
pub fn get_query_results(req: &GetQueryResultsRequest) -> Result<(&str, Option<usize>), AwsError> {
    let mut v = Violations::new();
    let id = query_id(&mut v, req.query_id.as_ref());
    if let Some(t) = &req.next_token {
        v.len("nextToken", t, 0, Some(QUERY_RESULTS_TOKEN_LEN_MAX));
    }
    if let Some(m) = req.max_items {
        v.range("maxItems", m, Some(0), Some(QUERY_RESULTS_MAX_ITEMS_MAX));
    }
    v.finish()?;
    Ok((id, req.max_items.and_then(|m| usize::try_from(m).ok())))
}

pub fn stop_query(req: &StopQueryRequest) -> Result<&str, AwsError> {
    let mut v = Violations::new();
    let id = query_id(&mut v, req.query_id.as_ref());
    v.finish()?;
    Ok(id)
}

/// DescribeQueries: `(group, status, max results)`.
pub fn describe_queries(
    req: &DescribeQueriesRequest,
) -> Result<(Option<&str>, Option<QueryStatus>, usize), AwsError> {
    let mut v = Violations::new();
    if let Some(g) = &req.log_group_name {
        v.group_name("logGroupName", g);
    }
    let names: Vec<&str> = QueryStatus::ALL.iter().map(|s| s.as_str()).collect();
    if let Some(s) = &req.status {
        v.one_of("status", s, &names);
    }
    if let Some(m) = req.max_results {
        v.range("maxResults", m, Some(1), Some(DESCRIBE_QUERIES_MAX));
    }
    if let Some(t) = &req.next_token {
        v.len("nextToken", t, 1, None);
    }
    if let Some(l) = &req.query_language {
        v.one_of("queryLanguage", l, QUERY_LANGUAGES);
    }
    v.finish()?;
    Ok((
        req.log_group_name.as_deref(),
        req.status.as_deref().and_then(QueryStatus::parse),
        usize::try_from(req.max_results.unwrap_or(DESCRIBE_QUERIES_MAX)).unwrap_or(1000),
    ))
}

/// GetLogRecord: the `@ptr` value.
pub fn get_log_record(req: &GetLogRecordRequest) -> Result<&str, AwsError> {
    let mut v = Violations::new();
    let p = v.required("logRecordPointer", req.log_record_pointer.as_ref());
    v.finish()?;
    Ok(p.map_or("", |s| s.as_str()))
}

/// GetLogGroupFields: the group and the time (ms) to sample around.
pub fn get_log_group_fields(
    req: &GetLogGroupFieldsRequest,
) -> Result<(GroupRef<'_>, Option<i64>), AwsError> {
    let mut v = Violations::new();
    let r = group_ref(
        &mut v,
        req.log_group_name.as_ref(),
        req.log_group_identifier.as_ref(),
    );
    if let Some(t) = req.time {
        v.timestamp("time", t);
    }
    let g = finish_with_ref(v, r)?;
    Ok((g, req.time))
}

/// StartLiveTail, checked (the session itself is the server's).
pub fn start_live_tail(req: &StartLiveTailRequest) -> Result<(), AwsError> {
    let mut v = Violations::new();
    if let Some(ids) = v.required("logGroupIdentifiers", req.log_group_identifiers.as_ref()) {
        v.count(
            "logGroupIdentifiers",
            &java_list(ids),
            ids.len(),
            1,
            Some(LIVE_TAIL_GROUPS_MAX),
        );
        for (i, id) in ids.iter().take(LIVE_TAIL_GROUPS_MAX + 1).enumerate() {
            v.identifier(&format!("logGroupIdentifiers.{}.member", i + 1), id);
        }
    }
    if let Some(n) = &req.log_stream_names {
        v.stream_names("logStreamNames", n);
    }
    if let Some(n) = &req.log_stream_name_prefixes {
        v.stream_names("logStreamNamePrefixes", n);
    }
    if let Some(p) = &req.log_event_filter_pattern {
        v.filter_pattern("logEventFilterPattern", p);
    }
    v.finish()?;
    if req.log_stream_names.is_some() && req.log_stream_name_prefixes.is_some() {
        return Err(invalid(MSG_LIVE_TAIL_STREAMS));
    }
    Ok(())
}
