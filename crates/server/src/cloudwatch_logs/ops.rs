//! CloudWatch Logs operations: request JSON in, response JSON out. Control operations call
//! `LogsState`'s method of the same name; events go through the pipeline (`put_log_events`)
//! and are read back through the query path (`read`); Insights queries run in `insights`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use model::{Event, SignalKind};
use protocols::aws::{AwsError, ErrorKind};
use protocols::cloudwatch_logs::shapes::{
    self, CreateLogGroupRequest, CreateLogStreamRequest, DeleteFilterRequest,
    DeleteLogGroupRequest, DescribeLogGroupsRequest, DescribeLogStreamsRequest,
    DescribeMetricFiltersRequest, DescribeSubscriptionFiltersRequest, FilterLogEventsRequest,
    GetLogEventsRequest, ListTagsForResourceRequest, PutLogEventsRequest, PutMetricFilterRequest,
    PutRetentionPolicyRequest, PutSubscriptionFilterRequest, TagLogGroupRequest,
    TagResourceRequest, TestMetricFilterRequest, UntagLogGroupRequest, UntagResourceRequest,
};
use protocols::cloudwatch_logs::{translate, validate};
use serde::de::DeserializeOwned;
use serde_json::{json, Value as Json};

use super::{now_ms, persist, reserve, unknown_operation, with_state, LogsService};
use crate::aws::{to_json, AwsRequest};
use crate::pipeline::IngestError;
use crate::AppState;

/// A Logs request body as its input shape (bad JSON is a `SerializationException`).
pub(crate) fn parse<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, AwsError> {
    crate::aws::parse_body(body, ErrorKind::Serialization)
}

/// Runs one operation.
pub(crate) async fn dispatch(
    s: &AppState,
    logs: &Arc<LogsService>,
    aws: &AwsRequest,
    op: &str,
    body: &[u8],
) -> Result<Json, AwsError> {
    let region = aws.region.as_str();
    let now = now_ms();
    let key = logs.key.clone();
    macro_rules! state_op {
        (read $req:ty, |$st:ident, $r:ident| $e:expr) => {{
            let $r: $req = parse(body)?;
            let key = key.clone();
            let _ = &key;
            with_state(s, logs, region, false, move |$st| {
                let out = $e?;
                to_json(&out)
            })
            .await
        }};
        (write $req:ty, |$st:ident, $r:ident| $e:expr) => {{
            let $r: $req = parse(body)?;
            with_state(s, logs, region, true, move |$st| {
                let out = $e?;
                to_json(&out)
            })
            .await
        }};
    }
    let empty = |r: Result<Json, AwsError>| r.map(|_| json!({}));
    match op {
        // ---- groups ----
        "CreateLogGroup" => {
            empty(state_op!(write CreateLogGroupRequest, |st, r| st.create_log_group(&r, now)))
        }
        "DeleteLogGroup" => delete_log_group(s, logs, region, body).await,
        "DescribeLogGroups" => {
            state_op!(read DescribeLogGroupsRequest, |st, r| st.describe_log_groups(&r, &key))
        }
        "PutRetentionPolicy" => put_retention_policy(s, logs, region, body).await,
        "DeleteRetentionPolicy" => {
            let req: DeleteLogGroupRequest = parse(body)?;
            let name = validate::group_name(req.log_group_name.as_ref())?.to_owned();
            // The group must exist before the store's retention changes.
            let n = name.clone();
            with_state(s, logs, region, false, move |st| st.group(&n).map(|_| ())).await?;
            set_store_retention(s, &name, None).await?;
            empty(
                with_state(s, logs, region, true, move |st| {
                    st.delete_retention_policy(&req)?;
                    Ok(Json::Null)
                })
                .await,
            )
        }
        // ---- tags ----
        "TagResource" => empty(state_op!(write TagResourceRequest, |st, r| st.tag_resource(&r))),
        "UntagResource" => {
            empty(state_op!(write UntagResourceRequest, |st, r| st.untag_resource(&r)))
        }
        "ListTagsForResource" => {
            state_op!(read ListTagsForResourceRequest, |st, r| st.list_tags_for_resource(&r))
        }
        "TagLogGroup" => empty(state_op!(write TagLogGroupRequest, |st, r| st.tag_log_group(&r))),
        "UntagLogGroup" => {
            empty(state_op!(write UntagLogGroupRequest, |st, r| st.untag_log_group(&r)))
        }
        "ListTagsLogGroup" => {
            state_op!(read DeleteLogGroupRequest, |st, r| st.list_tags_log_group(&r))
        }
        // ---- streams ----
        "CreateLogStream" => {
            empty(state_op!(write CreateLogStreamRequest, |st, r| st.create_log_stream(&r, now)))
        }
        "DeleteLogStream" => delete_log_stream(s, logs, region, body).await,
        "DescribeLogStreams" => {
            state_op!(read DescribeLogStreamsRequest, |st, r| st.describe_log_streams(&r, &key))
        }
        // ---- events ----
        "PutLogEvents" => put_log_events(s, logs, region, body, now).await,
        "GetLogEvents" => {
            let req: GetLogEventsRequest = parse(body)?;
            let k = key.clone();
            let plan = with_state(s, logs, region, false, move |st| {
                st.plan_get_log_events(&req, &k)
            })
            .await?;
            let store = s.store.clone();
            let page =
                crate::blocking(move || super::read::get_log_events(store.as_ref(), &plan, &key))
                    .await
                    .map_err(|_| AwsError::internal())??;
            to_json(&page)
        }
        "FilterLogEvents" => {
            let req: FilterLogEventsRequest = parse(body)?;
            let k = key.clone();
            let r2 = req.clone();
            let plan = with_state(s, logs, region, false, move |st| {
                st.plan_filter_log_events(&r2, &k)
            })
            .await?;
            let stream_filter =
                req.log_stream_names.is_some() || req.log_stream_name_prefix.is_some();
            let store = s.store.clone();
            let page = crate::blocking(move || {
                super::read::filter_log_events(store.as_ref(), &plan, stream_filter, &key)
            })
            .await
            .map_err(|_| AwsError::internal())??;
            to_json(&page)
        }
        // ---- metric and subscription filters ----
        "PutMetricFilter" => {
            let req: PutMetricFilterRequest = parse(body)?;
            check_pattern(req.filter_pattern.as_deref())?;
            empty(
                with_state(s, logs, region, true, move |st| {
                    st.put_metric_filter(&req, now).map(|_| Json::Null)
                })
                .await,
            )
        }
        "DescribeMetricFilters" => {
            state_op!(read DescribeMetricFiltersRequest, |st, r| st.describe_metric_filters(&r, &key))
        }
        "DeleteMetricFilter" => {
            empty(state_op!(write DeleteFilterRequest, |st, r| st.delete_metric_filter(&r)))
        }
        "TestMetricFilter" => test_metric_filter(body),
        "PutSubscriptionFilter" => {
            let req: PutSubscriptionFilterRequest = parse(body)?;
            check_pattern(req.filter_pattern.as_deref())?;
            empty(
                with_state(s, logs, region, true, move |st| {
                    st.put_subscription_filter(&req, now).map(|_| Json::Null)
                })
                .await,
            )
        }
        "DescribeSubscriptionFilters" => {
            state_op!(read DescribeSubscriptionFiltersRequest, |st, r| st.describe_subscription_filters(&r, &key))
        }
        "DeleteSubscriptionFilter" => {
            empty(state_op!(write DeleteFilterRequest, |st, r| st.delete_subscription_filter(&r)))
        }
        "GetLogGroupFields" => {
            let req: shapes::GetLogGroupFieldsRequest = parse(body)?;
            let r2 = req.clone();
            let group = with_state(s, logs, region, false, move |st| {
                let (g, _) = validate::get_log_group_fields(&r2)?;
                st.resolve(g).map(|g| g.name.clone())
            })
            .await?;
            use super::read::{GROUP_FIELDS_AROUND_MS, GROUP_FIELDS_RECENT_MS};
            let window = match req.time {
                Some(t) => {
                    let t = t.saturating_mul(1000);
                    (
                        t.saturating_sub(GROUP_FIELDS_AROUND_MS),
                        t.saturating_add(GROUP_FIELDS_AROUND_MS),
                    )
                }
                None => (now.saturating_sub(GROUP_FIELDS_RECENT_MS), now),
            };
            let store = s.store.clone();
            let fields = crate::blocking(move || {
                super::read::log_group_fields(store.as_ref(), &group, window)
            })
            .await
            .map_err(|_| AwsError::internal())??;
            to_json(&shapes::GetLogGroupFieldsResponse {
                log_group_fields: fields
                    .into_iter()
                    .map(|(name, percent)| shapes::LogGroupField { name, percent })
                    .collect(),
            })
        }
        // ---- Logs Insights ----
        "StartQuery" => super::insights::start_query(s, logs, region, body).await,
        "GetQueryResults" => super::insights::get_query_results(logs, region, body),
        "StopQuery" => super::insights::stop_query(logs, region, body),
        "DescribeQueries" => super::insights::describe_queries(logs, region, body),
        other => Err(unknown_operation(other)),
    }
}

/// A filter pattern must parse (metric and subscription filters are checked when put).
fn check_pattern(p: Option<&str>) -> Result<(), AwsError> {
    match p {
        Some(p) => query::cloudwatch::pattern::parse(p)
            .map(|_| ())
            .map_err(pattern_error),
        None => Ok(()),
    }
}

pub(crate) fn pattern_error(e: query::cloudwatch::pattern::PatternError) -> AwsError {
    AwsError::new(
        ErrorKind::InvalidParameter,
        format!("Invalid filter pattern: {e}"),
    )
}

async fn put_log_events(
    s: &AppState,
    logs: &Arc<LogsService>,
    region: &str,
    body: &[u8],
    now: i64,
) -> Result<Json, AwsError> {
    let req: PutLogEventsRequest = parse(body)?;
    let offered = req.log_events.as_ref().map_or(0, Vec::len) as u64;
    let (result, version) =
        reserve(s, logs, region, move |st| st.put_log_events(&req, now)).await?;
    let accepted = result.events.len() as u64;
    match s.pipeline.submit(result.events).await {
        Ok(_) => {}
        Err(IngestError::Overloaded) => {
            logs.counters
                .refused_overload
                .fetch_add(1, Ordering::Relaxed);
            return Err(AwsError::new(
                ErrorKind::Throttling,
                "Rate exceeded: Waggle's ingest queue is full; retry with backoff.",
            ));
        }
        Err(_) => return Err(AwsError::unavailable()),
    }
    persist(s, logs, region, version).await?;
    logs.counters
        .events_accepted
        .fetch_add(accepted, Ordering::Relaxed);
    logs.counters
        .events_rejected
        .fetch_add(offered.saturating_sub(accepted), Ordering::Relaxed);
    to_json(&result.response)
}

async fn set_store_retention(
    s: &AppState,
    dataset: &str,
    days: Option<u32>,
) -> Result<(), AwsError> {
    let store = s.store.clone();
    let dataset = dataset.to_owned();
    crate::blocking(move || {
        store.set_retention(&dataset, days)?;
        if days.is_some() {
            // Apply it now rather than at the next retention pass.
            store.apply_retention(crate::now_ns())?;
        }
        Ok::<_, store::StoreError>(())
    })
    .await
    .map_err(|_| AwsError::internal())?
    .map_err(|e| {
        tracing::warn!(error = %e, "cloudwatch logs: retention");
        AwsError::unavailable()
    })
}

async fn put_retention_policy(
    s: &AppState,
    logs: &Arc<LogsService>,
    region: &str,
    body: &[u8],
) -> Result<Json, AwsError> {
    let req: PutRetentionPolicyRequest = parse(body)?;
    let (name, days) = validate::put_retention_policy(&req)?;
    let name = name.to_owned();
    let n = name.clone();
    with_state(s, logs, region, false, move |st| st.group(&n).map(|_| ())).await?;
    set_store_retention(s, &name, Some(u32::try_from(days).unwrap_or(1))).await?;
    with_state(s, logs, region, true, move |st| {
        st.put_retention_policy(&req)
    })
    .await?;
    Ok(json!({}))
}

async fn delete_log_group(
    s: &AppState,
    logs: &Arc<LogsService>,
    region: &str,
    body: &[u8],
) -> Result<Json, AwsError> {
    let req: DeleteLogGroupRequest = parse(body)?;
    let name = validate::group_name(req.log_group_name.as_ref())?.to_owned();
    with_state(s, logs, region, true, move |st| st.delete_log_group(&req)).await?;
    // Events of the group go with it (after the state: no PutLogEvents can add more).
    super::read::delete_events(s, &name, None).await?;
    Ok(json!({}))
}

async fn delete_log_stream(
    s: &AppState,
    logs: &Arc<LogsService>,
    region: &str,
    body: &[u8],
) -> Result<Json, AwsError> {
    let req: CreateLogStreamRequest = parse(body)?;
    let (group, stream) = validate::group_and_stream(&req)?;
    let (group, stream) = (group.to_owned(), stream.to_owned());
    with_state(s, logs, region, true, move |st| st.delete_log_stream(&req)).await?;
    super::read::delete_events(s, &group, Some(&stream)).await?;
    Ok(json!({}))
}

/// TestMetricFilter: the pattern compiled to the plan and evaluated by the query crate's
/// in-memory evaluator over the messages as PutLogEvents would store them.
fn test_metric_filter(body: &[u8]) -> Result<Json, AwsError> {
    let req: TestMetricFilterRequest = parse(body)?;
    let (pattern, messages) = validate::test_metric_filter(&req)?;
    let events: Vec<Event> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            translate::to_event(&translate::LogEventIn {
                group: "test",
                stream: "test",
                timestamp_ms: 0,
                message: m,
                ingestion_time_ms: 0,
                seq: i as u64,
            })
        })
        .collect();
    let mut catalog = model::schema::Catalog::default();
    catalog.columns.push(model::schema::Column {
        name: translate::FIELD_BODY.into(),
        ty: model::value::ColumnType::String,
    });
    let predicate = query::cloudwatch::pattern_compile::compile_str(pattern, &catalog)
        .map_err(pattern_error)?;
    let ctx = query::naive::Ctx {
        events: &events,
        start_ns: i64::MIN,
        end_ns: i64::MAX,
    };
    let matches: Vec<shapes::MetricFilterMatchRecord> = events
        .iter()
        .zip(messages)
        .enumerate()
        .filter(|(_, (e, _))| {
            e.kind == SignalKind::Log && query::naive::matches(&predicate, e, &ctx)
        })
        .map(|(i, (_, m))| shapes::MetricFilterMatchRecord {
            event_number: i as i64 + 1,
            event_message: m.clone(),
            extracted_values: Default::default(),
        })
        .collect();
    to_json(&shapes::TestMetricFilterResponse { matches })
}
