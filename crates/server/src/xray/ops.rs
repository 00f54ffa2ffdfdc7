//! X-Ray operations: request JSON in, response JSON out. Trace reads run the shared query
//! path (filter expression → plan → SQL) and rebuild X-Ray shapes from stored events of any
//! protocol; control-plane operations delegate to `protocols::xray_control`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use model::{Event, SignalKind, TraceId, Value};
use protocols::aws::{AwsError, ErrorKind};
use protocols::xray::encode::{self, ServiceGraphBuilder};
use protocols::xray_control::shapes;
use query::xray::summaries::{render_summaries, Cursor, SummariesQuery, TimeRangeType};
use query::xray::{CompileContext, GroupRef};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value as Json};

use super::{internal, invalid, now_s, with_control, XrayError, XrayState};
use crate::aws::AwsRequest;
use crate::pipeline::IngestError;
use crate::AppState;

/// GetTraceSummaries page size (our choice: AWS does not document it; each summary reads
/// its trace, so a page stays well under a second).
pub const SUMMARIES_PAGE: u32 = 50;
/// Longest window GetTraceSummaries accepts (AWS: "the time range must be no more than 6
/// hours" **[inference: exact wording]**, developer guide "Searching traces").
pub const SUMMARIES_WINDOW_S_MAX: f64 = 6.0 * 3600.0;
/// Trace ids per BatchGetTraces / GetTraceGraph / StartTraceRetrieval call, at most (AWS:
/// StartTraceRetrieval takes ≤ 100; our choice for the others, the same).
pub const TRACE_IDS_MAX: usize = 100;
/// Documents per PutTraceSegments call, at most (our choice; the body cap of the AWS edge
/// bounds the bytes).
pub const SEGMENT_DOCUMENTS_MAX: usize = 10_000;
/// Spans a service graph or time series reads, at most (our choice: ~0.5 KB each as events,
/// so 200k ≈ 100 MB of working memory; beyond it the graph covers the most recent spans).
pub const GRAPH_SPANS_MAX: usize = 200_000;
/// Trace retrievals kept, at most (our choice).
pub const RETRIEVALS_MAX: usize = 1000;
/// Time-series buckets one call returns, at most (our choice: a day of minutes).
pub const SERIES_BUCKETS_MAX: i64 = 1440;

/// A trace retrieval (StartTraceRetrieval): the ids asked for.
#[derive(Debug, Clone)]
pub struct Retrieval {
    ids: Vec<TraceId>,
}

fn parse<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, XrayError> {
    Ok(crate::aws::parse_body(body, ErrorKind::InvalidParameter)?)
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Json, XrayError> {
    Ok(crate::aws::to_json(v)?)
}

/// Runs one operation.
pub(crate) async fn dispatch(
    s: &AppState,
    xray: &Arc<XrayState>,
    aws: &AwsRequest,
    op: &str,
    body: &[u8],
) -> Result<Json, XrayError> {
    let region = aws.region.as_str();
    let now = now_s();
    macro_rules! control {
        (read $req:ty, |$st:ident, $r:ident| $e:expr) => {{
            let $r: $req = parse(body)?;
            with_control(s, xray, region, false, move |$st| {
                let out = $e?;
                to_json(&out)
            })
            .await
        }};
        (write $req:ty, |$st:ident, $r:ident| $e:expr) => {{
            let $r: $req = parse(body)?;
            with_control(s, xray, region, true, move |$st| {
                let out = $e?;
                to_json(&out)
            })
            .await
        }};
    }
    match op {
        "PutTraceSegments" => put_trace_segments(s, xray, body, now).await,
        "GetTraceSummaries" => get_trace_summaries(s, xray, region, body).await,
        "BatchGetTraces" => batch_get_traces(s, body).await,
        "GetTraceGraph" => {
            let req: TraceIdsRequest = parse(body)?;
            let ids = trace_ids(&req.trace_ids)?;
            let events = read_traces(s, ids).await?;
            let all: Vec<Event> = events.into_iter().flat_map(|(_, e)| e).collect();
            Ok(json!({ "Services": encode::trace_graph_services(&all) }))
        }
        "GetServiceGraph" => get_service_graph(s, xray, region, body).await,
        "GetTimeSeriesServiceStatistics" => time_series(s, xray, region, body).await,
        "PutTelemetryRecords" => {
            let _: Json = parse(body)?;
            Ok(json!({}))
        }
        "GetSamplingRules" => {
            control!(read shapes::GetSamplingRulesRequest, |st, r| Ok::<_, XrayError>(st.get_sampling_rules(&r)))
        }
        "GetSamplingTargets" => {
            let req: shapes::GetSamplingTargetsRequest = parse(body)?;
            let rules = with_control(s, xray, region, false, |st| Ok(st.rules.clone())).await?;
            let mut targets = xray.targets.lock().map_err(|_| internal())?;
            let t = targets.entry(region.to_string()).or_default();
            let out = t.get_sampling_targets(&rules, &req, now)?;
            to_json(&out)
        }
        "GetSamplingStatisticSummaries" => {
            let targets = xray.targets.lock().map_err(|_| internal())?;
            match targets.get(region) {
                Some(t) => to_json(&t.statistic_summaries()),
                None => Ok(json!({ "SamplingStatisticSummaries": [] })),
            }
        }
        "CreateSamplingRule" => {
            control!(write shapes::CreateSamplingRuleRequest, |st, r| st.create_sampling_rule(&r, now))
        }
        "UpdateSamplingRule" => {
            control!(write shapes::UpdateSamplingRuleRequest, |st, r| st.update_sampling_rule(&r, now))
        }
        "DeleteSamplingRule" => {
            control!(write shapes::DeleteSamplingRuleRequest, |st, r| st.delete_sampling_rule(&r, now))
        }
        "CreateGroup" => {
            control!(write shapes::CreateGroupRequest, |st, r| {
                let mut random = |buf: &mut [u8]| {
                    for chunk in buf.chunks_mut(16) {
                        let id = protocols::aws::RequestId::new();
                        let n = chunk.len();
                        chunk.copy_from_slice(&id.as_bytes()[..n]);
                    }
                };
                st.create_group(&r, &check_expression, &mut random)
            })
        }
        "GetGroup" => control!(read shapes::GetGroupRequest, |st, r| st.get_group(&r)),
        "GetGroups" => control!(read shapes::GetGroupsRequest, |st, r| st.get_groups(&r)),
        "UpdateGroup" => {
            control!(write shapes::UpdateGroupRequest, |st, r| st.update_group(&r, &check_expression))
        }
        "DeleteGroup" => control!(write shapes::DeleteGroupRequest, |st, r| st.delete_group(&r)),
        "TagResource" => control!(write shapes::TagResourceRequest, |st, r| st.tag_resource(&r)),
        "UntagResource" => {
            control!(write shapes::UntagResourceRequest, |st, r| st.untag_resource(&r))
        }
        "ListTagsForResource" => {
            control!(read shapes::ListTagsForResourceRequest, |st, r| st.list_tags_for_resource(&r))
        }
        "GetEncryptionConfig" => {
            control!(read Json, |st, _r| Ok::<_, XrayError>(st.get_encryption_config()))
        }
        "PutEncryptionConfig" => {
            control!(write shapes::PutEncryptionConfigRequest, |st, r| st.put_encryption_config(&r))
        }
        "GetTraceSegmentDestination" => {
            control!(read Json, |st, _r| Ok::<_, XrayError>(st.get_trace_segment_destination()))
        }
        "UpdateTraceSegmentDestination" => {
            control!(write shapes::UpdateTraceSegmentDestinationRequest, |st, r| st.update_trace_segment_destination(&r))
        }
        "GetIndexingRules" => Ok(json!({
            "IndexingRules": [{
                "Name": "Default",
                "ModifiedAt": 0.0,
                "Rule": { "Probabilistic": {
                    "DesiredSamplingPercentage": 100.0,
                    "ActualSamplingPercentage": 100.0
                } }
            }]
        })),
        "UpdateIndexingRule" => {
            let req: shapes::UpdateIndexingRuleRequest = parse(body)?;
            protocols::xray_control::validate::update_indexing_rule(&req)?;
            let pct = req
                .rule
                .and_then(|r| r.probabilistic)
                .and_then(|p| p.desired_sampling_percentage)
                .unwrap_or(100.0);
            // Waggle indexes every span it stores; the setting is answered, not applied.
            Ok(json!({ "IndexingRule": {
                "Name": req.name.unwrap_or_default(),
                "ModifiedAt": now,
                "Rule": { "Probabilistic": {
                    "DesiredSamplingPercentage": pct,
                    "ActualSamplingPercentage": 100.0
                } }
            } }))
        }
        "ListResourcePolicies" => Ok(json!({ "ResourcePolicies": [] })),
        "PutResourcePolicy" | "DeleteResourcePolicy" => Err(XrayError::Aws(AwsError::new(
            ErrorKind::InvalidParameter,
            format!(
                "{op} is not supported by Waggle: resource policies grant other AWS services \
                 access to X-Ray, and there are none here"
            ),
        ))),
        "GetInsightSummaries" => Ok(json!({ "InsightSummaries": [] })),
        "GetInsight" => Err(XrayError::Aws(AwsError::new(
            ErrorKind::InvalidParameter,
            "Waggle computes no insights; GetInsightSummaries lists none",
        ))),
        "GetInsightEvents" => Ok(json!({ "InsightEvents": [] })),
        "GetInsightImpactGraph" => Err(XrayError::Aws(AwsError::new(
            ErrorKind::InvalidParameter,
            "Waggle computes no insights; GetInsightSummaries lists none",
        ))),
        "StartTraceRetrieval" => start_retrieval(xray, body),
        "ListRetrievedTraces" => list_retrieved(s, xray, body, false).await,
        "GetRetrievedTracesGraph" => list_retrieved(s, xray, body, true).await,
        "CancelTraceRetrieval" => {
            let req: RetrievalRequest = parse(body)?;
            let mut r = xray.retrievals.lock().map_err(|_| internal())?;
            r.remove(req.retrieval_token.as_deref().unwrap_or(""));
            Ok(json!({}))
        }
        other => Err(XrayError::Aws(AwsError::new(
            ErrorKind::UnknownOperation,
            format!("Waggle does not implement the X-Ray operation {other:?}"),
        ))),
    }
}

/// Group filter expressions must parse (the parser's message, with its position, is the
/// answer).
fn check_expression(text: &str) -> Result<(), String> {
    query::xray::parse(text)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[derive(Debug, Default, Deserialize)]
struct PutTraceSegmentsRequest {
    #[serde(rename = "TraceSegmentDocuments")]
    trace_segment_documents: Option<Vec<String>>,
}

async fn put_trace_segments(
    s: &AppState,
    xray: &Arc<XrayState>,
    body: &[u8],
    now: f64,
) -> Result<Json, XrayError> {
    let req: PutTraceSegmentsRequest = parse(body)?;
    let docs = req.trace_segment_documents.ok_or_else(|| {
        invalid("1 validation error detected: Value null at 'traceSegmentDocuments' failed to satisfy constraint: Member must not be null")
    })?;
    if docs.len() > SEGMENT_DOCUMENTS_MAX {
        return Err(invalid(format!(
            "1 validation error detected: Value at 'traceSegmentDocuments' failed to satisfy \
             constraint: Member must have length less than or equal to {SEGMENT_DOCUMENTS_MAX}"
        )));
    }
    let x = xray.clone();
    let (events, unprocessed, accepted) = crate::blocking(move || {
        let mut events = Vec::new();
        let mut unprocessed = Vec::new();
        let mut accepted = 0u64;
        let now_i = now as i64;
        for text in &docs {
            let parsed = protocols::xray::parse_documents(text.as_bytes(), now_i);
            for r in parsed.rejected {
                unprocessed.push(r);
            }
            for doc in parsed.documents {
                let resolver = |t: TraceId, p: model::SpanId| x.resolve(t, p);
                let evs = protocols::xray::translate(&doc, &resolver);
                x.remember_segments(&evs);
                accepted += 1;
                events.extend(evs);
            }
        }
        (events, unprocessed, accepted)
    })
    .await
    .map_err(|_| internal())?;
    xray.counters
        .segments_rejected
        .fetch_add(unprocessed.len() as u64, Ordering::Relaxed);
    match s.pipeline.submit(events).await {
        Ok(_) => {
            xray.counters
                .segments_accepted
                .fetch_add(accepted, Ordering::Relaxed);
            Ok(json!({ "UnprocessedTraceSegments": unprocessed }))
        }
        Err(IngestError::Overloaded) => Err(XrayError::Aws(AwsError::new(
            ErrorKind::Throttling,
            "Rate exceeded: Waggle's ingest queue is full; retry with backoff",
        ))),
        Err(IngestError::TooLarge(n)) => Err(invalid(format!(
            "The request holds {n} spans; split it into smaller PutTraceSegments calls"
        ))),
        Err(_) => Err(XrayError::Aws(AwsError::unavailable())),
    }
}

#[derive(Debug, Default, Deserialize)]
struct SummariesRequest {
    #[serde(rename = "StartTime")]
    start_time: Option<f64>,
    #[serde(rename = "EndTime")]
    end_time: Option<f64>,
    #[serde(rename = "TimeRangeType")]
    time_range_type: Option<String>,
    #[serde(rename = "FilterExpression")]
    filter_expression: Option<String>,
    #[serde(rename = "NextToken")]
    next_token: Option<String>,
    #[serde(rename = "GroupName")]
    group_name: Option<String>,
    #[serde(rename = "GroupARN")]
    group_arn: Option<String>,
    #[serde(rename = "EntitySelectorExpression")]
    entity_selector_expression: Option<String>,
    #[serde(rename = "Period")]
    period: Option<f64>,
}

/// `[start, end)` in ns from a request's epoch-second bounds, both required.
fn window(req: &SummariesRequest) -> Result<(f64, f64), XrayError> {
    let start = req.start_time.ok_or_else(|| {
        invalid("1 validation error detected: Value null at 'startTime' failed to satisfy constraint: Member must not be null")
    })?;
    let end = req.end_time.ok_or_else(|| {
        invalid("1 validation error detected: Value null at 'endTime' failed to satisfy constraint: Member must not be null")
    })?;
    if !start.is_finite() || !end.is_finite() || end < start {
        return Err(invalid("The start time must be before the end time."));
    }
    Ok((start, end))
}

fn secs_to_ns(s: f64) -> i64 {
    (s * 1e9).round().clamp(i64::MIN as f64, i64::MAX as f64) as i64
}

/// Compiles a filter expression (groups resolved from the region's control state).
async fn compile(
    s: &AppState,
    xray: &Arc<XrayState>,
    region: &str,
    expr: Option<&str>,
) -> Result<query::plan::Predicate, XrayError> {
    let Some(expr) = expr.filter(|e| !e.trim().is_empty()) else {
        return Ok(query::plan::Predicate::True);
    };
    let groups = with_control(s, xray, region, false, |st| Ok(st.groups.clone())).await?;
    let catalog = s.store.catalog();
    let lookup = |g: &GroupRef| -> Option<String> {
        let r = match g {
            GroupRef::Name(n) => protocols::xray_control::validate::Ref::Name(n.clone()),
            GroupRef::Arn(a) => protocols::xray_control::validate::Ref::Arn(a.clone()),
        };
        groups
            .get(&r)
            .ok()
            .map(|g| g.filter_expression.unwrap_or_default())
    };
    let ctx = CompileContext {
        catalog: &catalog,
        groups: &lookup,
    };
    query::xray::compile_str(expr, &ctx).map_err(|e| invalid(e.to_string()))
}

/// The filter expression of a group named in a request (none: every trace).
async fn group_expression(
    s: &AppState,
    xray: &Arc<XrayState>,
    region: &str,
    name: Option<&str>,
    arn: Option<&str>,
) -> Result<Option<String>, XrayError> {
    let r = match (name, arn) {
        (_, Some(a)) => protocols::xray_control::validate::Ref::Arn(a.to_string()),
        (Some(n), None) => protocols::xray_control::validate::Ref::Name(n.to_string()),
        (None, None) => return Ok(None),
    };
    let group = with_control(s, xray, region, false, move |st| {
        st.groups.get(&r).map_err(XrayError::from)
    })
    .await?;
    Ok(group.filter_expression)
}

async fn get_trace_summaries(
    s: &AppState,
    xray: &Arc<XrayState>,
    region: &str,
    body: &[u8],
) -> Result<Json, XrayError> {
    let req: SummariesRequest = parse(body)?;
    let (start, end) = window(&req)?;
    if end - start > SUMMARIES_WINDOW_S_MAX {
        return Err(invalid(
            "The time range between StartTime and EndTime must be no more than 6 hours.",
        ));
    }
    let time_range_type = match req.time_range_type.as_deref() {
        None => TimeRangeType::TraceId,
        Some(t) => TimeRangeType::from_api(t).ok_or_else(|| {
            invalid(format!(
                "1 validation error detected: Value '{t}' at 'timeRangeType' failed to satisfy \
                 constraint: Member must satisfy enum value set: [TraceId, Event, Service]"
            ))
        })?,
    };
    let after = match req.next_token.as_deref() {
        None => None,
        Some(t) => Some(Cursor::from_token(t).ok_or_else(|| invalid("The NextToken is invalid."))?),
    };
    let predicate = compile(s, xray, region, req.filter_expression.as_deref()).await?;
    let q = SummariesQuery {
        predicate,
        start_ns: secs_to_ns(start),
        end_ns: secs_to_ns(end),
        time_range_type,
        limit: SUMMARIES_PAGE,
        after,
    };
    let sql = render_summaries(&q, &query::DuckDb);
    let store = s.store.clone();
    let (summaries, rows, last) = crate::blocking(move || {
        let rows = store.run_sql(&sql).map_err(|_| internal())?;
        let mut ids = Vec::new();
        let mut last = None;
        for r in &rows {
            let int = |i: usize| match r.get(i) {
                Some(Some(Value::Int(v))) => Some(*v),
                _ => None,
            };
            let (Some(hi), Some(lo), Some(start_ns)) = (int(0), int(1), int(2)) else {
                continue;
            };
            let id = TraceId::from_halves(hi as u64, lo as u64);
            last = Some(Cursor::of(start_ns, id));
            ids.push(id);
        }
        // The page's traces in one read (one row-group pass instead of one per trace).
        let traces = store.traces(&ids).map_err(|_| internal())?;
        let out: Vec<_> = traces
            .iter()
            .filter_map(|events| encode::trace_summary(events))
            .collect();
        Ok::<_, XrayError>((out, rows.len(), last))
    })
    .await
    .map_err(|_| internal())??;
    let mut answer = json!({
        "TraceSummaries": summaries,
        "ApproximateTime": end.floor(),
        "TracesProcessedCount": rows,
    });
    if rows as u32 >= SUMMARIES_PAGE {
        if let Some(c) = last {
            answer["NextToken"] = Json::String(c.to_token());
        }
    }
    Ok(answer)
}

#[derive(Debug, Default, Deserialize)]
struct TraceIdsRequest {
    #[serde(rename = "TraceIds", default)]
    trace_ids: Vec<String>,
}

fn trace_ids(ids: &[String]) -> Result<Vec<(String, Option<TraceId>)>, XrayError> {
    if ids.len() > TRACE_IDS_MAX {
        return Err(invalid(format!(
            "1 validation error detected: Value at 'traceIds' failed to satisfy constraint: \
             Member must have length less than or equal to {TRACE_IDS_MAX}"
        )));
    }
    Ok(ids
        .iter()
        .map(|t| (t.clone(), TraceId::parse(t).ok()))
        .collect())
}

/// The stored events of each id (empty for unknown or unparseable ids).
async fn read_traces(
    s: &AppState,
    ids: Vec<(String, Option<TraceId>)>,
) -> Result<Vec<(String, Vec<Event>)>, XrayError> {
    let store = s.store.clone();
    crate::blocking(move || {
        let valid: Vec<TraceId> = ids.iter().filter_map(|(_, id)| *id).collect();
        let mut found = store.traces(&valid).map_err(|_| internal())?.into_iter();
        let out = ids
            .into_iter()
            .map(|(text, id)| {
                let events = match id {
                    Some(_) => found.next().unwrap_or_default(),
                    None => Vec::new(),
                };
                (text, events)
            })
            .collect();
        Ok::<_, XrayError>(out)
    })
    .await
    .map_err(|_| internal())?
}

fn trace_duration_s(events: &[Event]) -> f64 {
    let spans = events.iter().filter(|e| e.kind == SignalKind::Span);
    let mut start = i64::MAX;
    let mut end = i64::MIN;
    for e in spans {
        start = start.min(e.time_ns);
        let d = e
            .duration_ms
            .filter(|d| d.is_finite() && *d >= 0.0)
            .unwrap_or(0.0);
        end = end.max(e.time_ns.saturating_add((d * 1e6) as i64));
    }
    if start > end {
        0.0
    } else {
        (end - start) as f64 / 1e9
    }
}

fn trace_json(events: &[Event], id: &TraceId, spans_key: &str) -> Json {
    json!({
        "Id": id.to_xray(),
        "Duration": trace_duration_s(events),
        "LimitExceeded": false,
        spans_key: encode::trace_segments(events),
    })
}

async fn batch_get_traces(s: &AppState, body: &[u8]) -> Result<Json, XrayError> {
    let req: TraceIdsRequest = parse(body)?;
    let ids = trace_ids(&req.trace_ids)?;
    let mut traces = Vec::new();
    let mut unprocessed = Vec::new();
    for (text, events) in read_traces(s, ids).await? {
        let id = TraceId::parse(&text).ok();
        match id {
            Some(id) if events.iter().any(|e| e.kind == SignalKind::Span) => {
                traces.push(trace_json(&events, &id, "Segments"))
            }
            _ => unprocessed.push(text),
        }
    }
    Ok(json!({ "Traces": traces, "UnprocessedTraceIds": unprocessed }))
}

/// Columns the graph builder reads (protocols::xray::encode's views), when the store has them.
const GRAPH_FIELDS: &[&str] = &[
    "aws.xray.type",
    "aws.xray.in_progress",
    "aws.xray.namespace",
    "aws.xray.origin",
    "aws.xray.inferred",
    "aws.xray.error",
    "aws.xray.fault",
    "aws.xray.throttle",
    "span.kind",
    "status_code",
    "error",
    "http.status_code",
    "http.response.status_code",
    "http.url",
    "url.full",
    "http.host",
    "http.target",
    "http.scheme",
    "http.method",
    "http.request.method",
    "peer.service",
    "server.address",
    "net.peer.name",
    "rpc.service",
    "rpc.system",
    "db.system",
    "cloud.platform",
];

/// The spans of `[start_ns, end_ns)` (of traces matching `predicate`), newest last, as
/// events with the columns the graph needs; at most [`GRAPH_SPANS_MAX`].
fn graph_spans(
    store: &dyn store::Store,
    predicate: &query::plan::Predicate,
    start_ns: i64,
    end_ns: i64,
) -> Result<Vec<Event>, XrayError> {
    use query::dialect::Dialect;
    use query::plan::resolve_column;
    let d = query::DuckDb;
    let catalog = store.catalog();
    let r = query::sql::Renderer::new(&d, start_ns, end_ns);
    let alias = query::sql::EVENT_ALIAS;
    let fixed = [
        "__dataset",
        "__time_ns",
        "__trace_hi",
        "__trace_lo",
        "__span_id",
        "__parent_id",
        "name",
        "service.name",
        "duration_ms",
    ];
    let mut cols: Vec<String> = fixed.iter().map(|c| r.qcol(alias, c)).collect();
    let mut names: Vec<&str> = Vec::new();
    for f in GRAPH_FIELDS {
        let c = resolve_column(f, &catalog, &mut Vec::new());
        if c.kind != query::plan::ColumnKind::Missing {
            cols.push(r.column(&c, alias));
            names.push(f);
        }
    }
    let time = r.qcol(alias, "__time_ns");
    let from_where = format!(
        "FROM {} AS {} WHERE {} = {} AND {time} >= {} AND {time} < {} AND ({})",
        query::sql::EVENTS_TABLE,
        d.ident(alias),
        r.qcol(alias, "__kind"),
        SignalKind::Span as u8,
        start_ns,
        end_ns,
        r.predicate(predicate, alias),
    );
    // Late materialization: the newest GRAPH_SPANS_MAX-th start time first, from the time
    // column alone, so the wide read below touches only the spans it returns instead of
    // carrying every column of every candidate through the top-N sort (measured: the
    // wide top-N over 10M spans dominated the map page, BENCHMARKS.md).
    let threshold = store
        .run_sql(&format!(
            "SELECT {time} {from_where} ORDER BY {time} DESC LIMIT 1 OFFSET {}",
            GRAPH_SPANS_MAX - 1
        ))
        .map_err(|_| internal())?
        .first()
        .and_then(|row| match row.first() {
            Some(Some(Value::Int(t))) => Some(*t),
            _ => None,
        });
    let newest = threshold.map_or(String::new(), |t| format!(" AND {time} >= {t}"));
    let sql = format!(
        "SELECT {} {from_where}{newest} ORDER BY {time} DESC LIMIT {}",
        cols.join(", "),
        GRAPH_SPANS_MAX,
    );
    let rows = store.run_sql(&sql).map_err(|_| internal())?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut it = row.into_iter();
        let mut next = || it.next().flatten();
        let text = |v: Option<Value>| match v {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        };
        let int = |v: Option<Value>| match v {
            Some(Value::Int(i)) => Some(i),
            _ => None,
        };
        let dataset = text(next()).unwrap_or_default();
        let mut e = Event::new(dataset, int(next()).unwrap_or(0), SignalKind::Span);
        let (hi, lo) = (int(next()), int(next()));
        if let (Some(hi), Some(lo)) = (hi, lo) {
            e.trace_id = Some(TraceId::from_halves(hi as u64, lo as u64));
        }
        e.span_id = int(next()).map(|v| model::SpanId::from_u64(v as u64));
        e.parent_id = int(next()).map(|v| model::SpanId::from_u64(v as u64));
        e.name = text(next());
        e.service = text(next());
        e.duration_ms = match next() {
            Some(Value::Float(f)) => Some(f),
            Some(Value::Int(i)) => Some(i as f64),
            _ => None,
        };
        for name in &names {
            if let Some(v) = next() {
                e.fields.push((name.to_string(), v));
            }
        }
        out.push(e);
    }
    out.sort_by_key(|e| (e.trace_id.map(|t| t.halves()), e.time_ns));
    Ok(out)
}

/// Feeds spans (sorted by trace) to a graph builder one trace at a time.
fn build_graph(spans: &[Event]) -> Vec<encode::Service> {
    let mut b = ServiceGraphBuilder::new();
    let mut i = 0;
    while i < spans.len() {
        let t = spans[i].trace_id;
        let mut j = i;
        while j < spans.len() && spans[j].trace_id == t {
            j += 1;
        }
        b.add(&spans[i..j]);
        i = j;
    }
    b.finish()
}

async fn get_service_graph(
    s: &AppState,
    xray: &Arc<XrayState>,
    region: &str,
    body: &[u8],
) -> Result<Json, XrayError> {
    let req: SummariesRequest = parse(body)?;
    let (start, end) = window(&req)?;
    let expr = group_expression(
        s,
        xray,
        region,
        req.group_name.as_deref(),
        req.group_arn.as_deref(),
    )
    .await?;
    let predicate = compile(s, xray, region, expr.as_deref()).await?;
    let store = s.store.clone();
    let (start_ns, end_ns) = (secs_to_ns(start), secs_to_ns(end));
    let services = crate::blocking(move || {
        let spans = graph_spans(&*store, &predicate, start_ns, end_ns)?;
        Ok::<_, XrayError>(build_graph(&spans))
    })
    .await
    .map_err(|_| internal())??;
    Ok(json!({
        "StartTime": start,
        "EndTime": end,
        "Services": services,
        "ContainsOldGroupVersions": false,
    }))
}

async fn time_series(
    s: &AppState,
    xray: &Arc<XrayState>,
    region: &str,
    body: &[u8],
) -> Result<Json, XrayError> {
    let req: SummariesRequest = parse(body)?;
    let (start, end) = window(&req)?;
    let period = req.period.unwrap_or(60.0);
    if !(period >= 60.0 && (period % 60.0) == 0.0) {
        return Err(invalid(
            "Period must be a multiple of 60 seconds (60, 300, 3600, …).",
        ));
    }
    let buckets = ((end - start) / period).ceil() as i64;
    if buckets > SERIES_BUCKETS_MAX {
        return Err(invalid(format!(
            "The time range holds {buckets} periods; at most {SERIES_BUCKETS_MAX} are returned: use a longer Period"
        )));
    }
    let expr = group_expression(
        s,
        xray,
        region,
        req.group_name.as_deref(),
        req.group_arn.as_deref(),
    )
    .await?;
    let predicate = compile(s, xray, region, expr.as_deref()).await?;
    // The entity: `service("name")` picks that node; without one, every root node.
    let entity = req
        .entity_selector_expression
        .as_deref()
        .map(|e| query::xray::parse(e).map_err(|err| invalid(err.to_string())))
        .transpose()?;
    let service_name = match &entity {
        Some(query::xray::Expr::Service { node, .. }) => match node {
            Some(query::xray::Node::Name(n)) => Some(n.clone()),
            Some(query::xray::Node::Id { name: Some(n), .. }) => Some(n.clone()),
            _ => None,
        },
        _ => None,
    };
    let store = s.store.clone();
    let (start_ns, end_ns) = (secs_to_ns(start), secs_to_ns(end));
    let period_ns = secs_to_ns(period);
    let series = crate::blocking(move || {
        let spans = graph_spans(&*store, &predicate, start_ns, end_ns)?;
        let mut out = Vec::new();
        for b in 0..buckets {
            let lo = start_ns + b * period_ns;
            let hi = lo + period_ns;
            // A trace belongs to the bucket its earliest span starts in.
            let mut in_bucket: Vec<Event> = Vec::new();
            let mut i = 0;
            while i < spans.len() {
                let t = spans[i].trace_id;
                let mut j = i;
                let mut first = i64::MAX;
                while j < spans.len() && spans[j].trace_id == t {
                    first = first.min(spans[j].time_ns);
                    j += 1;
                }
                if first >= lo && first < hi {
                    in_bucket.extend_from_slice(&spans[i..j]);
                }
                i = j;
            }
            let graph = build_graph(&in_bucket);
            let node = graph.iter().find(|n| match &service_name {
                Some(name) => n.name.as_deref() == Some(name.as_str()),
                None => n.root == Some(true),
            });
            let (stats, hist) = match node {
                Some(n) => (
                    serde_json::to_value(&n.summary_statistics).unwrap_or(Json::Null),
                    serde_json::to_value(&n.response_time_histogram).unwrap_or(Json::Null),
                ),
                None => (Json::Null, json!([])),
            };
            let mut point = json!({
                "Timestamp": (lo as f64) / 1e9,
                "ResponseTimeHistogram": hist,
            });
            if !stats.is_null() {
                point["ServiceSummaryStatistics"] = stats;
            }
            out.push(point);
        }
        Ok::<_, XrayError>(out)
    })
    .await
    .map_err(|_| internal())??;
    Ok(json!({
        "TimeSeriesServiceStatistics": series,
        "ContainsOldGroupVersions": false,
    }))
}

#[derive(Debug, Default, Deserialize)]
struct RetrievalRequest {
    #[serde(rename = "TraceIds", default)]
    trace_ids: Vec<String>,
    #[serde(rename = "RetrievalToken")]
    retrieval_token: Option<String>,
    #[serde(rename = "TraceFormat")]
    trace_format: Option<String>,
}

fn start_retrieval(xray: &Arc<XrayState>, body: &[u8]) -> Result<Json, XrayError> {
    let req: RetrievalRequest = parse(body)?;
    if req.trace_ids.is_empty() {
        return Err(invalid("1 validation error detected: Value null at 'traceIds' failed to satisfy constraint: Member must not be null"));
    }
    let ids: Vec<TraceId> = trace_ids(&req.trace_ids)?
        .into_iter()
        .filter_map(|(_, id)| id)
        .collect();
    let token = protocols::aws::RequestId::new().to_string();
    let mut r = xray.retrievals.lock().map_err(|_| internal())?;
    if r.len() >= RETRIEVALS_MAX {
        r.clear();
    }
    r.insert(token.clone(), Retrieval { ids });
    Ok(json!({ "RetrievalToken": token }))
}

async fn list_retrieved(
    s: &AppState,
    xray: &Arc<XrayState>,
    body: &[u8],
    graph: bool,
) -> Result<Json, XrayError> {
    let req: RetrievalRequest = parse(body)?;
    let token = req.retrieval_token.unwrap_or_default();
    let ids = {
        let r = xray.retrievals.lock().map_err(|_| internal())?;
        r.get(&token).map(|r| r.ids.clone())
    }
    .ok_or_else(|| {
        XrayError::Aws(AwsError::new(
            ErrorKind::ResourceNotFound,
            "The retrieval token is unknown or expired.",
        ))
    })?;
    let list = ids.iter().map(|i| (i.to_xray(), Some(*i))).collect();
    let traces = read_traces(s, list).await?;
    if graph {
        let all: Vec<Event> = traces.into_iter().flat_map(|(_, e)| e).collect();
        return Ok(json!({
            "RetrievalStatus": "COMPLETE",
            "Services": encode::trace_graph_services(&all),
        }));
    }
    let format = req.trace_format.unwrap_or_else(|| "XRAY".into());
    let out: Vec<Json> = traces
        .iter()
        .filter_map(|(text, events)| {
            let id = TraceId::parse(text).ok()?;
            events
                .iter()
                .any(|e| e.kind == SignalKind::Span)
                .then(|| trace_json(events, &id, "Spans"))
        })
        .collect();
    Ok(json!({
        "RetrievalStatus": "COMPLETE",
        "TraceFormat": format,
        "Traces": out,
    }))
}
