//! Logs Insights: StartQuery / GetQueryResults / StopQuery / DescribeQueries. A query is
//! compiled when started (a malformed one answers `MalformedQueryException` at once), then
//! runs on a blocking thread through the same renderers the Honeycomb API uses
//! (`query::sql::render_totals` / `render_series` / `render_event_list` over
//! `insights_compile`'s plan) with `Store::run_sql`. Lifecycle: Scheduled (waiting for one
//! of [`QUERIES_RUNNING_MAX`] slots) → Running → Complete / Failed / Timeout, or Cancelled
//! by StopQuery. Results are at most `INSIGHTS_LIMIT_MAX` rows, and at most
//! [`QUERIES_KEPT_MAX`] queries are remembered (the oldest finished ones are forgotten).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocols::aws::{AwsError, ErrorKind, RequestId};
use protocols::cloudwatch_logs::shapes::{
    DescribeQueriesRequest, DescribeQueriesResponse, GetQueryResultsRequest,
    GetQueryResultsResponse, QueryInfo, QueryStatistics, QueryStatus, ResultField,
    StartQueryRequest, StartQueryResponse, StopQueryRequest, StopQueryResponse,
};
use protocols::cloudwatch_logs::validate::{self, QueryGroups};
use query::cloudwatch::insights_compile::{
    self, insights_results, statistics, statistics_plans, CompiledQuery, InsightsContext, Shape,
};
use serde_json::Value as Json;
use store::Store;

use super::ops::parse;
use super::{now_ms, with_state, LogsService};
use crate::aws::to_json;
use crate::AppState;

/// Queries running at once; the rest wait as Scheduled. Our choice: the store has 2 cores
/// here, and a scan uses them all (AWS's quota is 30 concurrent queries per account).
pub const QUERIES_RUNNING_MAX: usize = 2;
/// Queries remembered for GetQueryResults / DescribeQueries. Our choice: results are ≤ 10,000
/// rows each, so finished queries are dropped oldest first beyond this.
pub const QUERIES_KEPT_MAX: usize = 100;
/// A query still running after this is answered as Timeout (AWS: "Queries time out after 60
/// minutes of runtime"; ours is shorter because an embedded store should not scan that long).
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(300);
/// "The specified query does not exist" wording **[inference]**.
pub const MSG_QUERY_NOT_FOUND: &str = "The specified query does not exist.";

struct Record {
    region: String,
    info: QueryInfo,
    results: Vec<Vec<ResultField>>,
    statistics: QueryStatistics,
}

/// The queries of every region.
pub(crate) struct Queries {
    all: Mutex<HashMap<String, Record>>,
    slots: Arc<tokio::sync::Semaphore>,
}

impl Default for Queries {
    fn default() -> Self {
        Self {
            all: Mutex::new(HashMap::new()),
            slots: Arc::new(tokio::sync::Semaphore::new(QUERIES_RUNNING_MAX)),
        }
    }
}

fn finished(s: QueryStatus) -> bool {
    !matches!(s, QueryStatus::Scheduled | QueryStatus::Running)
}

impl Queries {
    fn insert(&self, r: Record) -> Result<(), AwsError> {
        let mut all = self.all.lock().map_err(|_| AwsError::internal())?;
        while all.len() >= QUERIES_KEPT_MAX {
            let oldest = all
                .iter()
                .filter(|(_, r)| finished(r.info.status))
                .min_by_key(|(_, r)| r.info.create_time)
                .map(|(id, _)| id.clone());
            match oldest {
                Some(id) => {
                    all.remove(&id);
                }
                None => {
                    return Err(AwsError::new(
                        ErrorKind::LimitExceeded,
                        "Too many Logs Insights queries are running; wait for some to finish.",
                    ))
                }
            }
        }
        all.insert(r.info.query_id.clone(), r);
        Ok(())
    }

    /// Moves a query to `status` unless it already finished (a Cancelled query stays so).
    fn set(&self, id: &str, status: QueryStatus) -> bool {
        let Ok(mut all) = self.all.lock() else {
            return false;
        };
        match all.get_mut(id) {
            Some(r) if !finished(r.info.status) => {
                r.info.status = status;
                true
            }
            _ => false,
        }
    }

    fn complete(&self, id: &str, results: Vec<Vec<ResultField>>, st: QueryStatistics) {
        if let Ok(mut all) = self.all.lock() {
            if let Some(r) = all.get_mut(id) {
                if r.info.status == QueryStatus::Running {
                    r.info.status = QueryStatus::Complete;
                    r.results = results;
                    r.statistics = st;
                }
            }
        }
    }
}

fn malformed(e: query::cloudwatch::insights::QueryError) -> AwsError {
    AwsError::new(ErrorKind::MalformedQuery, e.to_string())
}

pub(crate) async fn start_query(
    s: &AppState,
    logs: &Arc<LogsService>,
    region: &str,
    body: &[u8],
) -> Result<Json, AwsError> {
    let req: StartQueryRequest = parse(body)?;
    let q = validate::start_query(&req)?;
    if q.language != "CWLI" {
        return Err(AwsError::new(
            ErrorKind::InvalidParameter,
            format!(
                "Waggle runs Logs Insights query language (CWLI) queries only, not {}.",
                q.language
            ),
        ));
    }
    let by_identifier = matches!(q.groups, QueryGroups::Identifiers(_));
    let wanted: Vec<String> = match &q.groups {
        QueryGroups::Name(n) => vec![n.to_string()],
        QueryGroups::Names(ns) => ns.to_vec(),
        QueryGroups::Identifiers(ids) => ids.to_vec(),
        QueryGroups::FromQuery => {
            return Err(AwsError::new(
                ErrorKind::InvalidParameter,
                validate::MSG_QUERY_GROUPS,
            ))
        }
    };
    let groups: Vec<String> = with_state(s, logs, region, false, move |st| {
        wanted
            .iter()
            .map(|g| {
                let r = if by_identifier {
                    validate::GroupRef::Identifier(g)
                } else {
                    validate::GroupRef::Name(g)
                };
                st.resolve(r).map(|g| g.name.clone())
            })
            .collect()
    })
    .await?;
    let catalog = s.store.catalog();
    let start_ns = insights_compile::seconds_to_ns(q.start_time_s);
    // endTime is inclusive (seconds).
    let end_ns = insights_compile::seconds_to_ns(q.end_time_s.saturating_add(1));
    let ctx = InsightsContext {
        log_groups: &groups,
        start_ns,
        end_ns,
        catalog: &catalog,
        limit: q.limit.and_then(|l| u32::try_from(l).ok()),
    };
    let compiled = insights_compile::compile_str(q.query_string, &ctx).map_err(malformed)?;
    let id = RequestId::new().to_string();
    logs.queries.insert(Record {
        region: region.to_owned(),
        info: QueryInfo {
            query_language: Some("CWLI".into()),
            query_id: id.clone(),
            query_string: q.query_string.to_owned(),
            status: QueryStatus::Scheduled,
            create_time: now_ms(),
            log_group_name: groups.first().cloned(),
        },
        results: Vec::new(),
        statistics: QueryStatistics::default(),
    })?;
    logs.counters
        .queries_started
        .fetch_add(1, Ordering::Relaxed);
    let logs2 = logs.clone();
    let store = s.store.clone();
    let qid = id.clone();
    tokio::spawn(async move {
        let Ok(_slot) = logs2.queries.slots.clone().acquire_owned().await else {
            return;
        };
        if !logs2.queries.set(&qid, QueryStatus::Running) {
            return; // cancelled while scheduled
        }
        let catalog = store.catalog();
        let run = tokio::task::spawn_blocking(move || execute(store.as_ref(), &compiled, &catalog));
        match tokio::time::timeout(QUERY_TIMEOUT, run).await {
            Ok(Ok(Ok((results, st)))) => logs2.queries.complete(&qid, results, st),
            Ok(_) => {
                logs2.queries.set(&qid, QueryStatus::Failed);
            }
            Err(_) => {
                logs2.queries.set(&qid, QueryStatus::Timeout);
            }
        }
    });
    to_json(&StartQueryResponse { query_id: id })
}

/// Runs a compiled query and its statistics.
fn execute(
    store: &dyn Store,
    q: &CompiledQuery,
    catalog: &model::schema::Catalog,
) -> Result<(Vec<Vec<ResultField>>, QueryStatistics), store::StoreError> {
    let d = &query::DuckDb;
    let sql = match &q.shape {
        Shape::Events(list) => query::sql::render_event_list(&q.plan, list, d),
        Shape::Totals => query::sql::render_totals(&q.plan, d).sql,
        Shape::Series => query::sql::render_series(&q.plan, d).sql,
    };
    let rows = store.run_sql(&sql).inspect_err(|e| {
        tracing::warn!(error = %e, "cloudwatch logs: insights query failed");
    })?;
    let results = insights_results(q, &rows)
        .map_err(|e| store::StoreError::Query(e.to_string()))?
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|f| ResultField {
                    field: f.field,
                    value: f.value,
                })
                .collect()
        })
        .collect();
    let (matched, scanned) = statistics_plans(q, catalog);
    let m = store.run_sql(&query::sql::render_totals(&matched, d).sql)?;
    let sc = store.run_sql(&query::sql::render_totals(&scanned, d).sql)?;
    let st = statistics(&m, &sc);
    Ok((
        results,
        QueryStatistics {
            records_matched: st.records_matched,
            records_scanned: st.records_scanned,
            bytes_scanned: st.bytes_scanned,
            ..Default::default()
        },
    ))
}

pub(crate) fn get_query_results(
    logs: &Arc<LogsService>,
    region: &str,
    body: &[u8],
) -> Result<Json, AwsError> {
    let req: GetQueryResultsRequest = parse(body)?;
    let (id, max_items) = validate::get_query_results(&req)?;
    let all = logs.queries.all.lock().map_err(|_| AwsError::internal())?;
    let r = all
        .get(id)
        .filter(|r| r.region == region)
        .ok_or_else(|| AwsError::new(ErrorKind::ResourceNotFound, MSG_QUERY_NOT_FOUND))?;
    let mut results = r.results.clone();
    if let Some(m) = max_items.filter(|m| *m > 0) {
        results.truncate(m);
    }
    to_json(&GetQueryResultsResponse {
        query_language: Some("CWLI".into()),
        results,
        statistics: r.statistics,
        status: r.info.status,
        next_token: None,
    })
}

pub(crate) fn stop_query(
    logs: &Arc<LogsService>,
    region: &str,
    body: &[u8],
) -> Result<Json, AwsError> {
    let req: StopQueryRequest = parse(body)?;
    let id = validate::stop_query(&req)?;
    let known = logs
        .queries
        .all
        .lock()
        .map_err(|_| AwsError::internal())?
        .get(id)
        .is_some_and(|r| r.region == region);
    if !known {
        return Err(AwsError::new(
            ErrorKind::ResourceNotFound,
            MSG_QUERY_NOT_FOUND,
        ));
    }
    let success = logs.queries.set(id, QueryStatus::Cancelled);
    to_json(&StopQueryResponse { success })
}

pub(crate) fn describe_queries(
    logs: &Arc<LogsService>,
    region: &str,
    body: &[u8],
) -> Result<Json, AwsError> {
    let req: DescribeQueriesRequest = parse(body)?;
    let (group, status, max) = validate::describe_queries(&req)?;
    let all = logs.queries.all.lock().map_err(|_| AwsError::internal())?;
    let mut queries: Vec<QueryInfo> = all
        .values()
        .filter(|r| r.region == region)
        .filter(|r| group.is_none_or(|g| r.info.log_group_name.as_deref() == Some(g)))
        .filter(|r| status.is_none_or(|s| r.info.status == s))
        .map(|r| r.info.clone())
        .collect();
    queries.sort_by_key(|q| std::cmp::Reverse(q.create_time));
    queries.truncate(max);
    to_json(&DescribeQueriesResponse {
        queries,
        next_token: None,
    })
}
