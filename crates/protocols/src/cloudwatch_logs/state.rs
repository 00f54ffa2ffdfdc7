//! The log groups and streams of one account and region as one serializable document, with
//! one method per operation (wire request in, wire response out), plus the two read
//! operations' paging: the store holds the events, so `GetLogEvents` and `FilterLogEvents` are
//! split into a *plan* (validated, resolved, token decoded: what to fetch) and a *respond* step
//! (the fetched page → the answer with its tokens).
//!
//! Tokens come from [`crate::aws::token`] with the caller's key. Describe* tokens carry the
//! last position shown, so successive pages never repeat a token (botocore's paginator fails
//! on a repeat) and the last page has none. GetLogEvents tokens are `f/<token>` and
//! `b/<token>`, never absent, and at the end of the stream the token passed comes back
//! unchanged — the loop-termination signal clients use (protocol notes §C, §G.5).

use std::collections::BTreeMap;

use model::Event;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::aws::token::{self, TokenKey};
use crate::aws::{AwsError, ErrorKind};

use super::put_events;
use super::shapes::{
    CreateLogGroupRequest, CreateLogStreamRequest, DeleteFilterRequest, DeleteLogGroupRequest,
    DescribeLogGroupsRequest, DescribeLogGroupsResponse, DescribeLogStreamsRequest,
    DescribeLogStreamsResponse, DescribeMetricFiltersRequest, DescribeMetricFiltersResponse,
    DescribeSubscriptionFiltersRequest, DescribeSubscriptionFiltersResponse,
    FilterLogEventsRequest, FilterLogEventsResponse, FilteredLogEvent, GetLogEventsRequest,
    GetLogEventsResponse, ListTagsForResourceRequest, ListTagsResponse, LogGroup as WireLogGroup,
    LogStream as WireLogStream, MetricFilter, OutputLogEvent, PutLogEventsRequest,
    PutLogEventsResponse, PutMetricFilterRequest, PutRetentionPolicyRequest,
    PutSubscriptionFilterRequest, SearchedLogStream, SubscriptionFilter, TagLogGroupRequest,
    TagResourceRequest, Tags, UntagLogGroupRequest, UntagResourceRequest,
};
use super::translate::{self, LogEventIn};
use super::validate::{self, GroupRef, OrderBy, TAGS_MAX};
use super::{
    invalid, not_found, Partition, MSG_FILTER_NOT_FOUND, MSG_GROUP_EXISTS, MSG_GROUP_NOT_FOUND,
    MSG_RESOURCE_NOT_FOUND, MSG_STREAM_EXISTS, MSG_STREAM_NOT_FOUND,
};

/// "Metric filters: 100 per log group" (CloudWatch Logs quotas page).
pub const METRIC_FILTERS_PER_GROUP_MAX: usize = 100;
/// "Subscription filters: 2 per log group" (CloudWatch Logs quotas page).
pub const SUBSCRIPTION_FILTERS_PER_GROUP_MAX: usize = 2;
/// "Log groups: 1,000,000 per account per Region" (quotas page; protocol notes §C).
pub const LOG_GROUPS_MAX: usize = 1_000_000;
/// Bytes of messages per GetLogEvents page without a `limit`: "as many log events as can fit
/// in a response size of 1 MB" (model doc), counted like PutLogEvents (UTF-8 + 26).
pub const GET_EVENTS_PAGE_BYTES_MAX: usize = 1_048_576;
/// `LimitExceededException` text **[inference]**.
pub const MSG_LIMIT_EXCEEDED: &str = "Resource limit exceeded.";
/// `TooManyTagsException` text **[inference]**.
pub const MSG_TOO_MANY_TAGS: &str = "A resource can have no more than 50 tags.";
/// DeleteLogGroup of a protected group (`ValidationException`) **[inference]**.
pub const MSG_DELETION_PROTECTED: &str =
    "Cannot delete log group because deletion protection is enabled.";
/// Prefix of the sequence tokens we hand out: 56 digits like AWS's (capture seq 47).
pub const SEQUENCE_TOKEN_DIGITS: usize = 56;

const SCOPE_GROUPS: &str = "DescribeLogGroups";
const SCOPE_STREAMS_BY_NAME: &str = "DescribeLogStreams/LogStreamName";
const SCOPE_STREAMS_BY_TIME: &str = "DescribeLogStreams/LastEventTime";
const SCOPE_METRIC_FILTERS: &str = "DescribeMetricFilters";
const SCOPE_SUBSCRIPTION_FILTERS: &str = "DescribeSubscriptionFilters";
const SCOPE_GET_EVENTS: &str = "GetLogEvents";
const SCOPE_FILTER_EVENTS: &str = "FilterLogEvents";

/// A stream as the state keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stream {
    pub name: String,
    pub creation_time: i64,
    pub first_event_timestamp: Option<i64>,
    pub last_event_timestamp: Option<i64>,
    pub last_ingestion_time: Option<i64>,
    /// Number of successful PutLogEvents calls; the sequence token is this in 56 digits.
    pub upload_sequence: u64,
    /// Next per-stream event sequence number (feeds `eventId`).
    pub next_event_seq: u64,
}

/// A group as the state keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    pub creation_time: i64,
    pub retention_in_days: Option<i32>,
    pub kms_key_id: Option<String>,
    pub class: String,
    pub deletion_protection: bool,
    pub tags: Tags,
    pub streams: BTreeMap<String, Stream>,
    pub metric_filters: BTreeMap<String, MetricFilter>,
    pub subscription_filters: BTreeMap<String, SubscriptionFilter>,
}

/// Every log group of one account and region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogsState {
    pub partition: Partition,
    pub groups: BTreeMap<String, Group>,
}

/// What an accepted PutLogEvents hands the server: the answer and the events to commit
/// before sending it.
#[derive(Debug, Clone, PartialEq)]
pub struct PutResult {
    pub response: PutLogEventsResponse,
    pub events: Vec<Event>,
}

/// A position in a stream or group: event time and a sequence number the server chooses
/// (the store's `__seq`), unique among the events compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventKey {
    pub timestamp_ms: i64,
    pub seq: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    /// Oldest first, after `boundary` (or from the start).
    Forward,
    /// Newest first, before `boundary` (or from the end); the page is still answered in
    /// chronological order.
    Backward,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct GetCursor {
    /// FNV-1a of `group \0 stream`: a token works only for its stream.
    s: u64,
    k: Option<(i64, u64)>,
}

/// What GetLogEvents must fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetPlan {
    pub group: String,
    pub stream: String,
    pub direction: Direction,
    /// Exclusive bound in `direction`; `None` = the start (forward) or end (backward).
    pub boundary: Option<EventKey>,
    /// Inclusive, ms.
    pub start_time: Option<i64>,
    /// Exclusive, ms.
    pub end_time: Option<i64>,
    /// Events to fetch at most (the page may be shorter: see [`GET_EVENTS_PAGE_BYTES_MAX`]).
    pub limit: usize,
    /// Whether `limit` was the caller's (else the 1 MB budget applies too).
    pub limit_given: bool,
    stream_hash: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct FilterCursor {
    g: u64,
    k: (i64, u64),
}

/// What FilterLogEvents must fetch: events of `streams` with `start_time ≤ timestamp ≤
/// end_time` that match `filter_pattern`, ordered by [`EventKey`], strictly after `after`,
/// at most `limit + 1` of them (the extra one says whether there is a next page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterPlan {
    pub group: String,
    pub streams: Vec<String>,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub filter_pattern: String,
    pub limit: usize,
    pub after: Option<EventKey>,
    group_hash: u64,
}

fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h ^= 0xff;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        for b in p.as_bytes() {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

fn encode_token<T: Serialize>(key: &TokenKey, scope: &str, state: &T) -> Result<String, AwsError> {
    token::encode(key, scope, state).map_err(|_| AwsError::internal())
}

fn decode_token<T: DeserializeOwned>(
    key: &TokenKey,
    scope: &str,
    token: &str,
) -> Result<T, AwsError> {
    token::decode(key, scope, token).map_err(AwsError::from)
}

/// One page of `items` (already in answer order, keyed by position), after the token's
/// position; the next token is the last shown position when more remain.
fn page<K, T>(
    items: Vec<(K, T)>,
    limit: usize,
    token: Option<&str>,
    key: &TokenKey,
    scope: &str,
    descending: bool,
) -> Result<(Vec<T>, Option<String>), AwsError>
where
    K: Serialize + DeserializeOwned + Ord + Clone,
{
    let after: Option<K> = token.map(|t| decode_token(key, scope, t)).transpose()?;
    let mut rest = items.into_iter().filter(|(k, _)| match &after {
        None => true,
        Some(a) if descending => k < a,
        Some(a) => k > a,
    });
    let mut out = Vec::with_capacity(limit.min(64));
    let mut last: Option<K> = None;
    for (k, t) in rest.by_ref().take(limit.max(1)) {
        last = Some(k);
        out.push(t);
    }
    let next = match (rest.next(), last) {
        (Some(_), Some(last)) => Some(encode_token(key, scope, &last)?),
        _ => None,
    };
    Ok((out, next))
}

fn sequence_token(n: u64) -> String {
    format!("{n:0width$}", width = SEQUENCE_TOKEN_DIGITS)
}

impl LogsState {
    pub fn new(partition: Partition) -> Self {
        Self {
            partition,
            groups: BTreeMap::new(),
        }
    }

    pub fn group(&self, name: &str) -> Result<&Group, AwsError> {
        self.groups
            .get(name)
            .ok_or_else(|| not_found(MSG_GROUP_NOT_FOUND))
    }

    fn group_mut(&mut self, name: &str) -> Result<&mut Group, AwsError> {
        self.groups
            .get_mut(name)
            .ok_or_else(|| not_found(MSG_GROUP_NOT_FOUND))
    }

    /// The group a `logGroupName`/`logGroupIdentifier` names.
    pub fn resolve(&self, r: GroupRef<'_>) -> Result<&Group, AwsError> {
        let name = match r {
            GroupRef::Name(n) => n,
            GroupRef::Identifier(i) => self
                .partition
                .group_from_identifier(i)
                .ok_or_else(|| not_found(MSG_GROUP_NOT_FOUND))?,
        };
        self.group(name)
    }

    /// The group a tagging ARN names (`arn:aws:logs:R:A:log-group:NAME`).
    fn group_by_arn_mut(&mut self, arn: &str) -> Result<&mut Group, AwsError> {
        if !arn.starts_with("arn:") {
            return Err(invalid(format!("Invalid resource ARN: {arn}")));
        }
        let name = self
            .partition
            .group_from_identifier(arn)
            .ok_or_else(|| not_found(MSG_RESOURCE_NOT_FOUND))?
            .to_owned();
        self.groups
            .get_mut(&name)
            .ok_or_else(|| not_found(MSG_RESOURCE_NOT_FOUND))
    }

    // ---- groups ----

    pub fn create_log_group(
        &mut self,
        req: &CreateLogGroupRequest,
        now_ms: i64,
    ) -> Result<(), AwsError> {
        let g = validate::create_log_group(req)?;
        if self.groups.contains_key(g.name) {
            return Err(AwsError::new(
                ErrorKind::ResourceAlreadyExists,
                MSG_GROUP_EXISTS,
            ));
        }
        if self.groups.len() >= LOG_GROUPS_MAX {
            return Err(AwsError::new(ErrorKind::LimitExceeded, MSG_LIMIT_EXCEEDED));
        }
        self.groups.insert(
            g.name.to_owned(),
            Group {
                name: g.name.to_owned(),
                creation_time: now_ms,
                retention_in_days: None,
                kms_key_id: g.kms_key_id.map(str::to_owned),
                class: g.class.to_owned(),
                deletion_protection: g.deletion_protection,
                tags: g.tags,
                streams: BTreeMap::new(),
                metric_filters: BTreeMap::new(),
                subscription_filters: BTreeMap::new(),
            },
        );
        Ok(())
    }

    /// The server also drops the group's events (its dataset).
    pub fn delete_log_group(&mut self, req: &DeleteLogGroupRequest) -> Result<(), AwsError> {
        let name = validate::group_name(req.log_group_name.as_ref())?;
        if self.group(name)?.deletion_protection {
            return Err(AwsError::new(ErrorKind::Validation, MSG_DELETION_PROTECTED));
        }
        self.groups.remove(name);
        Ok(())
    }

    fn wire_group(&self, g: &Group, short: bool) -> WireLogGroup {
        let mut w = WireLogGroup {
            log_group_name: g.name.clone(),
            creation_time: g.creation_time,
            arn: self.partition.group_arn_star(&g.name),
            ..Default::default()
        };
        if !short {
            w.retention_in_days = g.retention_in_days;
            w.metric_filter_count = Some(i64::try_from(g.metric_filters.len()).unwrap_or(0));
            w.stored_bytes = Some(0);
            w.kms_key_id = g.kms_key_id.clone();
            w.log_group_class = Some(g.class.clone());
            w.log_group_arn = Some(self.partition.group_arn(&g.name));
            w.deletion_protection_enabled = Some(g.deletion_protection);
        }
        w
    }

    /// ASCII order by name (protocol notes §C).
    pub fn describe_log_groups(
        &self,
        req: &DescribeLogGroupsRequest,
        key: &TokenKey,
    ) -> Result<DescribeLogGroupsResponse, AwsError> {
        let q = validate::describe_log_groups(req)?;
        let wanted: Option<Vec<&str>> = q.identifiers.map(|ids| {
            ids.iter()
                .filter_map(|i| self.partition.group_from_identifier(i))
                .collect()
        });
        let items: Vec<(String, WireLogGroup)> = self
            .groups
            .values()
            .filter(|g| q.prefix.is_none_or(|p| g.name.starts_with(p)))
            .filter(|g| q.pattern.is_none_or(|p| g.name.contains(p)))
            .filter(|g| q.class.is_none_or(|c| g.class == c))
            .filter(|g| wanted.as_ref().is_none_or(|w| w.contains(&g.name.as_str())))
            .map(|g| (g.name.clone(), self.wire_group(g, q.pattern.is_some())))
            .collect();
        let (log_groups, next_token) =
            page(items, q.limit, q.next_token, key, SCOPE_GROUPS, false)?;
        Ok(DescribeLogGroupsResponse {
            log_groups,
            next_token,
        })
    }

    pub fn put_retention_policy(
        &mut self,
        req: &PutRetentionPolicyRequest,
    ) -> Result<(), AwsError> {
        let (name, days) = validate::put_retention_policy(req)?;
        self.group_mut(name)?.retention_in_days = Some(days);
        Ok(())
    }

    pub fn delete_retention_policy(&mut self, req: &DeleteLogGroupRequest) -> Result<(), AwsError> {
        let name = validate::group_name(req.log_group_name.as_ref())?;
        self.group_mut(name)?.retention_in_days = None;
        Ok(())
    }

    // ---- tags ----

    fn add_tags(g: &mut Group, tags: &Tags) -> Result<(), AwsError> {
        let new = tags.keys().filter(|k| !g.tags.contains_key(*k)).count();
        if g.tags.len() + new > TAGS_MAX {
            return Err(AwsError::new(ErrorKind::TooManyTags, MSG_TOO_MANY_TAGS));
        }
        g.tags
            .extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
        Ok(())
    }

    pub fn tag_resource(&mut self, req: &TagResourceRequest) -> Result<(), AwsError> {
        let (arn, tags) = validate::tag_resource(req)?;
        Self::add_tags(self.group_by_arn_mut(arn)?, tags)
    }

    pub fn untag_resource(&mut self, req: &UntagResourceRequest) -> Result<(), AwsError> {
        let (arn, keys) = validate::untag_resource(req)?;
        let g = self.group_by_arn_mut(arn)?;
        for k in keys {
            g.tags.remove(k);
        }
        Ok(())
    }

    pub fn list_tags_for_resource(
        &mut self,
        req: &ListTagsForResourceRequest,
    ) -> Result<ListTagsResponse, AwsError> {
        let arn = validate::resource_arn(req.resource_arn.as_ref())?;
        let g = self.group_by_arn_mut(arn)?;
        Ok(ListTagsResponse {
            tags: g.tags.clone(),
        })
    }

    /// Deprecated `TagLogGroup`.
    pub fn tag_log_group(&mut self, req: &TagLogGroupRequest) -> Result<(), AwsError> {
        let (name, tags) = validate::tag_log_group(req)?;
        Self::add_tags(self.group_mut(name)?, tags)
    }

    /// Deprecated `UntagLogGroup`.
    pub fn untag_log_group(&mut self, req: &UntagLogGroupRequest) -> Result<(), AwsError> {
        let (name, keys) = validate::untag_log_group(req)?;
        let g = self.group_mut(name)?;
        for k in keys {
            g.tags.remove(k);
        }
        Ok(())
    }

    /// Deprecated `ListTagsLogGroup`.
    pub fn list_tags_log_group(
        &self,
        req: &DeleteLogGroupRequest,
    ) -> Result<ListTagsResponse, AwsError> {
        let name = validate::group_name(req.log_group_name.as_ref())?;
        Ok(ListTagsResponse {
            tags: self.group(name)?.tags.clone(),
        })
    }

    // ---- streams ----

    pub fn create_log_stream(
        &mut self,
        req: &CreateLogStreamRequest,
        now_ms: i64,
    ) -> Result<(), AwsError> {
        let (group, stream) = validate::group_and_stream(req)?;
        let g = self.group_mut(group)?;
        if g.streams.contains_key(stream) {
            return Err(AwsError::new(
                ErrorKind::ResourceAlreadyExists,
                MSG_STREAM_EXISTS,
            ));
        }
        g.streams.insert(
            stream.to_owned(),
            Stream {
                name: stream.to_owned(),
                creation_time: now_ms,
                first_event_timestamp: None,
                last_event_timestamp: None,
                last_ingestion_time: None,
                upload_sequence: 0,
                next_event_seq: 0,
            },
        );
        Ok(())
    }

    /// The server also drops the stream's events.
    pub fn delete_log_stream(&mut self, req: &CreateLogStreamRequest) -> Result<(), AwsError> {
        let (group, stream) = validate::group_and_stream(req)?;
        self.group_mut(group)?
            .streams
            .remove(stream)
            .map(|_| ())
            .ok_or_else(|| not_found(MSG_STREAM_NOT_FOUND))
    }

    pub fn describe_log_streams(
        &self,
        req: &DescribeLogStreamsRequest,
        key: &TokenKey,
    ) -> Result<DescribeLogStreamsResponse, AwsError> {
        let q = validate::describe_log_streams(req)?;
        let g = self.resolve(q.group)?;
        let wire = |s: &Stream| WireLogStream {
            log_stream_name: s.name.clone(),
            creation_time: s.creation_time,
            first_event_timestamp: s.first_event_timestamp,
            last_event_timestamp: s.last_event_timestamp,
            last_ingestion_time: s.last_ingestion_time,
            upload_sequence_token: Some(sequence_token(s.upload_sequence.max(1))),
            arn: self.partition.stream_arn(&g.name, &s.name),
            stored_bytes: 0,
        };
        let streams = g
            .streams
            .values()
            .filter(|s| q.prefix.is_none_or(|p| s.name.starts_with(p)));
        let (log_streams, next_token) = match q.order_by {
            OrderBy::LogStreamName => {
                let mut items: Vec<(String, WireLogStream)> =
                    streams.map(|s| (s.name.clone(), wire(s))).collect();
                if q.descending {
                    items.reverse();
                }
                page(
                    items,
                    q.limit,
                    q.next_token,
                    key,
                    SCOPE_STREAMS_BY_NAME,
                    q.descending,
                )?
            }
            OrderBy::LastEventTime => {
                let mut items: Vec<((Option<i64>, String), WireLogStream)> = streams
                    .map(|s| ((s.last_event_timestamp, s.name.clone()), wire(s)))
                    .collect();
                items.sort_by(|a, b| a.0.cmp(&b.0));
                if q.descending {
                    items.reverse();
                }
                page(
                    items,
                    q.limit,
                    q.next_token,
                    key,
                    SCOPE_STREAMS_BY_TIME,
                    q.descending,
                )?
            }
        };
        Ok(DescribeLogStreamsResponse {
            log_streams,
            next_token,
        })
    }

    // ---- events ----

    /// PutLogEvents at `now_ms` (also the ingestion time). Model validation first, then the
    /// group and stream (watchtower creates the stream on `ResourceNotFoundException`), then
    /// the batch rules of [`put_events::accept`].
    pub fn put_log_events(
        &mut self,
        req: &PutLogEventsRequest,
        now_ms: i64,
    ) -> Result<PutResult, AwsError> {
        let batch = validate::put_log_events(req)?;
        let g = self.group_mut(batch.group)?;
        let retention = g.retention_in_days;
        let group_name = g.name.clone();
        let s = g
            .streams
            .get_mut(batch.stream)
            .ok_or_else(|| not_found(MSG_STREAM_NOT_FOUND))?;
        let outcome = put_events::accept(&batch.events, now_ms, retention)?;
        let mut events = Vec::with_capacity(outcome.accepted.len());
        for a in &outcome.accepted {
            let seq = s.next_event_seq;
            s.next_event_seq = s.next_event_seq.saturating_add(1);
            events.push(translate::to_event(&LogEventIn {
                group: &group_name,
                stream: &s.name,
                timestamp_ms: a.timestamp_ms,
                message: a.message,
                ingestion_time_ms: now_ms,
                seq,
            }));
        }
        if let (Some(first), Some(last)) = (outcome.accepted.first(), outcome.accepted.last()) {
            s.first_event_timestamp = Some(
                s.first_event_timestamp
                    .map_or(first.timestamp_ms, |t| t.min(first.timestamp_ms)),
            );
            s.last_event_timestamp = Some(
                s.last_event_timestamp
                    .map_or(last.timestamp_ms, |t| t.max(last.timestamp_ms)),
            );
            s.last_ingestion_time = Some(now_ms);
        }
        s.upload_sequence = s.upload_sequence.saturating_add(1);
        Ok(PutResult {
            response: PutLogEventsResponse {
                next_sequence_token: Some(sequence_token(s.upload_sequence)),
                rejected_log_events_info: outcome.rejected,
            },
            events,
        })
    }

    /// GetLogEvents, first half: validate, check the stream, decode the token.
    pub fn plan_get_log_events(
        &self,
        req: &GetLogEventsRequest,
        key: &TokenKey,
    ) -> Result<GetPlan, AwsError> {
        let q = validate::get_log_events(req)?;
        let g = self.resolve(q.group)?;
        let s = g
            .streams
            .get(q.stream)
            .ok_or_else(|| not_found(MSG_STREAM_NOT_FOUND))?;
        let stream_hash = fnv1a(&[&g.name, &s.name]);
        let (direction, boundary) = match q.next_token {
            None if q.start_from_head => (Direction::Forward, None),
            None => (Direction::Backward, None),
            Some(t) => {
                let (direction, body) = if let Some(b) = t.strip_prefix("f/") {
                    (Direction::Forward, b)
                } else if let Some(b) = t.strip_prefix("b/") {
                    (Direction::Backward, b)
                } else {
                    return Err(AwsError::invalid_token());
                };
                let c: GetCursor = decode_token(key, SCOPE_GET_EVENTS, body)?;
                if c.s != stream_hash {
                    return Err(AwsError::invalid_token());
                }
                let boundary =
                    c.k.map(|(timestamp_ms, seq)| EventKey { timestamp_ms, seq });
                (direction, boundary)
            }
        };
        let limit_given = q.limit.is_some();
        Ok(GetPlan {
            group: g.name.clone(),
            stream: s.name.clone(),
            direction,
            boundary,
            start_time: q.start_time,
            end_time: q.end_time,
            limit: q
                .limit
                .unwrap_or(usize::try_from(validate::EVENTS_LIMIT_MAX).unwrap_or(10_000)),
            limit_given,
            stream_hash,
        })
    }
}

impl GetPlan {
    /// Whether a stored event at `k` with time `timestamp_ms` belongs to the page range
    /// (before the limit): the store query's predicate, also usable in memory.
    pub fn admits(&self, k: EventKey) -> bool {
        let in_time = self.start_time.is_none_or(|s| k.timestamp_ms >= s)
            && self.end_time.is_none_or(|e| k.timestamp_ms < e);
        let in_dir = match (self.direction, self.boundary) {
            (_, None) => true,
            (Direction::Forward, Some(b)) => k > b,
            (Direction::Backward, Some(b)) => k < b,
        };
        in_time && in_dir
    }

    fn token(&self, key: &TokenKey, prefix: &str, k: Option<EventKey>) -> Result<String, AwsError> {
        let c = GetCursor {
            s: self.stream_hash,
            k: k.map(|k| (k.timestamp_ms, k.seq)),
        };
        Ok(format!(
            "{prefix}{}",
            encode_token(key, SCOPE_GET_EVENTS, &c)?
        ))
    }

    /// GetLogEvents, second half. `fetched`: the admitted events nearest the boundary, at most
    /// `limit`, in chronological order (for `Backward`, the newest `limit`, oldest first).
    pub fn respond(
        &self,
        mut fetched: Vec<(EventKey, OutputLogEvent)>,
        key: &TokenKey,
    ) -> Result<GetLogEventsResponse, AwsError> {
        fetched.sort_by_key(|(k, _)| *k);
        if fetched.len() > self.limit {
            match self.direction {
                Direction::Forward => fetched.truncate(self.limit),
                Direction::Backward => {
                    fetched.drain(..fetched.len() - self.limit);
                }
            }
        }
        if !self.limit_given {
            let mut budget = GET_EVENTS_PAGE_BYTES_MAX;
            let fits = |e: &OutputLogEvent, budget: &mut usize| {
                let cost = e
                    .message
                    .len()
                    .saturating_add(put_events::EVENT_OVERHEAD_BYTES);
                if cost > *budget {
                    return false;
                }
                *budget -= cost;
                true
            };
            match self.direction {
                Direction::Forward => {
                    let n = fetched
                        .iter()
                        .take_while(|(_, e)| fits(e, &mut budget))
                        .count();
                    fetched.truncate(n.max(1).min(fetched.len()));
                }
                Direction::Backward => {
                    let n = fetched
                        .iter()
                        .rev()
                        .take_while(|(_, e)| fits(e, &mut budget))
                        .count();
                    let n = n.max(1).min(fetched.len());
                    fetched.drain(..fetched.len() - n);
                }
            }
        }
        let (forward, backward) = match (fetched.first(), fetched.last()) {
            (Some((first, _)), Some((last, _))) => (Some(*last), Some(*first)),
            // Nothing in this direction: hand back the boundary, i.e. the token passed.
            _ => (self.boundary, self.boundary),
        };
        Ok(GetLogEventsResponse {
            next_forward_token: self.token(key, "f/", forward)?,
            next_backward_token: self.token(key, "b/", backward)?,
            events: fetched.into_iter().map(|(_, e)| e).collect(),
        })
    }
}

impl LogsState {
    /// FilterLogEvents, first half: validate, resolve the group and streams, decode the token.
    /// Named streams that do not exist are skipped **[inference]**.
    pub fn plan_filter_log_events(
        &self,
        req: &FilterLogEventsRequest,
        key: &TokenKey,
    ) -> Result<FilterPlan, AwsError> {
        let q = validate::filter_log_events(req)?;
        let g = self.resolve(q.group)?;
        let streams: Vec<String> = match (q.stream_names, q.stream_prefix) {
            (Some(names), _) => names
                .iter()
                .filter(|n| g.streams.contains_key(n.as_str()))
                .cloned()
                .collect(),
            (None, Some(p)) => g
                .streams
                .keys()
                .filter(|n| n.starts_with(p))
                .cloned()
                .collect(),
            (None, None) => g.streams.keys().cloned().collect(),
        };
        let group_hash = fnv1a(&[&g.name]);
        let after = q
            .next_token
            .map(|t| decode_token::<FilterCursor>(key, SCOPE_FILTER_EVENTS, t))
            .transpose()?
            .map(|c| {
                if c.g == group_hash {
                    Ok(EventKey {
                        timestamp_ms: c.k.0,
                        seq: c.k.1,
                    })
                } else {
                    Err(AwsError::invalid_token())
                }
            })
            .transpose()?;
        Ok(FilterPlan {
            group: g.name.clone(),
            streams,
            start_time: q.start_time,
            end_time: q.end_time,
            filter_pattern: q.filter_pattern.to_owned(),
            limit: q.limit,
            after,
            group_hash,
        })
    }
}

impl FilterPlan {
    /// The store query's predicate on position and time (the pattern is the query crate's).
    pub fn admits(&self, stream: &str, k: EventKey) -> bool {
        self.streams.iter().any(|s| s == stream)
            && self.start_time.is_none_or(|s| k.timestamp_ms >= s)
            && self.end_time.is_none_or(|e| k.timestamp_ms <= e)
            && self.after.is_none_or(|a| k > a)
    }

    /// FilterLogEvents, second half. `fetched`: matching admitted events in key order, up to
    /// `limit + 1`.
    pub fn respond(
        &self,
        mut fetched: Vec<(EventKey, FilteredLogEvent)>,
        key: &TokenKey,
    ) -> Result<FilterLogEventsResponse, AwsError> {
        fetched.sort_by_key(|(k, _)| *k);
        let more = fetched.len() > self.limit;
        fetched.truncate(self.limit);
        let next_token = match (more, fetched.last()) {
            (true, Some((k, _))) => Some(encode_token(
                key,
                SCOPE_FILTER_EVENTS,
                &FilterCursor {
                    g: self.group_hash,
                    k: (k.timestamp_ms, k.seq),
                },
            )?),
            _ => None,
        };
        Ok(FilterLogEventsResponse {
            searched_log_streams: self
                .streams
                .iter()
                .map(|s| SearchedLogStream {
                    log_stream_name: s.clone(),
                    searched_completely: !more,
                })
                .collect(),
            events: fetched.into_iter().map(|(_, e)| e).collect(),
            next_token,
        })
    }
}

impl LogsState {
    // ---- metric and subscription filters ----

    pub fn put_metric_filter(
        &mut self,
        req: &PutMetricFilterRequest,
        now_ms: i64,
    ) -> Result<(), AwsError> {
        let (group, name, pattern) = validate::put_metric_filter(req)?;
        let g = self.group_mut(group)?;
        if !g.metric_filters.contains_key(name)
            && g.metric_filters.len() >= METRIC_FILTERS_PER_GROUP_MAX
        {
            return Err(AwsError::new(ErrorKind::LimitExceeded, MSG_LIMIT_EXCEEDED));
        }
        g.metric_filters.insert(
            name.to_owned(),
            MetricFilter {
                filter_name: name.to_owned(),
                filter_pattern: pattern.to_owned(),
                metric_transformations: req.metric_transformations.clone().unwrap_or_default(),
                creation_time: now_ms,
                log_group_name: group.to_owned(),
                apply_on_transformed_logs: req.apply_on_transformed_logs,
            },
        );
        Ok(())
    }

    /// Without `logGroupName`, every group's filters (ordered by group, then name).
    pub fn describe_metric_filters(
        &self,
        req: &DescribeMetricFiltersRequest,
        key: &TokenKey,
    ) -> Result<DescribeMetricFiltersResponse, AwsError> {
        let q = validate::describe_metric_filters(req)?;
        let groups: Vec<&Group> = match q.group {
            Some(n) => vec![self.group(n)?],
            None => self.groups.values().collect(),
        };
        let items: Vec<((String, String), MetricFilter)> = groups
            .iter()
            .flat_map(|g| g.metric_filters.values())
            .filter(|f| q.prefix.is_none_or(|p| f.filter_name.starts_with(p)))
            .filter(|f| {
                let t = f.metric_transformations.first();
                q.metric_name
                    .is_none_or(|n| t.is_some_and(|t| t.metric_name.as_deref() == Some(n)))
                    && q.metric_namespace
                        .is_none_or(|n| t.is_some_and(|t| t.metric_namespace.as_deref() == Some(n)))
            })
            .map(|f| ((f.log_group_name.clone(), f.filter_name.clone()), f.clone()))
            .collect();
        let (metric_filters, next_token) = page(
            items,
            q.limit,
            q.next_token,
            key,
            SCOPE_METRIC_FILTERS,
            false,
        )?;
        Ok(DescribeMetricFiltersResponse {
            metric_filters,
            next_token,
        })
    }

    pub fn delete_metric_filter(&mut self, req: &DeleteFilterRequest) -> Result<(), AwsError> {
        let (group, name) = validate::delete_filter(req)?;
        self.group_mut(group)?
            .metric_filters
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| not_found(MSG_FILTER_NOT_FOUND))
    }

    pub fn put_subscription_filter(
        &mut self,
        req: &PutSubscriptionFilterRequest,
        now_ms: i64,
    ) -> Result<(), AwsError> {
        let (group, name, pattern, dest) = validate::put_subscription_filter(req)?;
        let g = self.group_mut(group)?;
        if !g.subscription_filters.contains_key(name)
            && g.subscription_filters.len() >= SUBSCRIPTION_FILTERS_PER_GROUP_MAX
        {
            return Err(AwsError::new(ErrorKind::LimitExceeded, MSG_LIMIT_EXCEEDED));
        }
        g.subscription_filters.insert(
            name.to_owned(),
            SubscriptionFilter {
                filter_name: name.to_owned(),
                log_group_name: group.to_owned(),
                filter_pattern: pattern.to_owned(),
                destination_arn: dest.to_owned(),
                role_arn: req.role_arn.clone(),
                distribution: Some(
                    req.distribution
                        .clone()
                        .unwrap_or_else(|| "ByLogStream".to_owned()),
                ),
                apply_on_transformed_logs: req.apply_on_transformed_logs,
                creation_time: now_ms,
            },
        );
        Ok(())
    }

    pub fn describe_subscription_filters(
        &self,
        req: &DescribeSubscriptionFiltersRequest,
        key: &TokenKey,
    ) -> Result<DescribeSubscriptionFiltersResponse, AwsError> {
        let q = validate::describe_subscription_filters(req)?;
        let g = self.group(q.group.unwrap_or(""))?;
        let items: Vec<(String, SubscriptionFilter)> = g
            .subscription_filters
            .values()
            .filter(|f| q.prefix.is_none_or(|p| f.filter_name.starts_with(p)))
            .map(|f| (f.filter_name.clone(), f.clone()))
            .collect();
        let (subscription_filters, next_token) = page(
            items,
            q.limit,
            q.next_token,
            key,
            SCOPE_SUBSCRIPTION_FILTERS,
            false,
        )?;
        Ok(DescribeSubscriptionFiltersResponse {
            subscription_filters,
            next_token,
        })
    }

    pub fn delete_subscription_filter(
        &mut self,
        req: &DeleteFilterRequest,
    ) -> Result<(), AwsError> {
        let (group, name) = validate::delete_filter(req)?;
        self.group_mut(group)?
            .subscription_filters
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| not_found(MSG_FILTER_NOT_FOUND))
    }
}
