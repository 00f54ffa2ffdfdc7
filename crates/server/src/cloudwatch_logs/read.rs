//! GetLogEvents and FilterLogEvents through the shared query path: the state's plan (what
//! to fetch) becomes a plan `Predicate` (kind Log, group, streams, filter pattern), rendered by
//! `query::sql::Renderer` for the store's dialect, run with `Store::run_sql`, and the rows go
//! back to the state's `respond` step. Positions are `EventKey { timestamp_ms, seq }` with
//! `seq` the store's `__seq`, so a page boundary is exact even within one millisecond.
//!
//! Which events belong to a group: the group's dataset, kind Log, and `cloudwatch.log_group`
//! equal to the group's name (dataset names are case-insensitive in the store, log group
//! names are not) or absent — OTLP log records sent to the dataset of the same name are the
//! group's events too, in a stream named after their service.

use model::schema::{Catalog, COL_SEQ, COL_SERVICE, COL_TIME_NS};
use model::{Event, SignalKind, Value};
use protocols::aws::token::TokenKey;
use protocols::aws::AwsError;
use protocols::cloudwatch_logs::shapes::{
    FilterLogEventsResponse, FilteredLogEvent, GetLogEventsResponse, OutputLogEvent,
};
use protocols::cloudwatch_logs::state::{Direction, EventKey, FilterPlan, GetPlan};
use protocols::cloudwatch_logs::translate::{
    self, FIELD_BODY, FIELD_EVENT_ID, FIELD_INGESTION_TIME, FIELD_LOG_GROUP, FIELD_LOG_STREAM,
};
use query::dialect::Dialect;
use query::plan::{resolve_column, CmpOp, ColumnKind, ColumnRef, Operand, Predicate};
use query::sql::{Renderer, EVENTS_TABLE, EVENT_ALIAS};
use store::Store;

use super::ops::pattern_error;
use crate::AppState;

const NS_PER_MS: i64 = 1_000_000;

fn col(name: &str, catalog: &Catalog) -> ColumnRef {
    resolve_column(name, catalog, &mut Vec::new())
}

fn text_eq(c: &ColumnRef, v: &str) -> Predicate {
    Predicate::Compare {
        lhs: Operand::Column(c.clone()),
        op: CmpOp::Eq,
        value: Value::Str(v.to_owned()),
    }
}

/// Events of `group`: kind Log, and the CloudWatch group name equal or absent.
fn group_predicate(group: &str, catalog: &Catalog) -> Predicate {
    let g = col(FIELD_LOG_GROUP, catalog);
    let of_group = if g.kind == ColumnKind::Missing {
        Predicate::True
    } else {
        Predicate::Or(vec![
            text_eq(&g, group),
            Predicate::Not(Box::new(Predicate::Exists(g.clone()))),
        ])
    };
    Predicate::and(vec![Predicate::KindIn(vec![SignalKind::Log]), of_group])
}

/// `k > b` (forward) or `k < b` (backward) on `(ms(time), __seq)`, in ns ranges so it stays
/// exact and uses the time column's statistics.
fn key_bound(r: &Renderer<'_>, b: EventKey, after: bool) -> String {
    let t = r.qcol(EVENT_ALIAS, COL_TIME_NS);
    let seq = r.qcol(EVENT_ALIAS, COL_SEQ);
    let lo = b.timestamp_ms.saturating_mul(NS_PER_MS);
    let hi = b.timestamp_ms.saturating_add(1).saturating_mul(NS_PER_MS);
    let same_ms = format!("{t} >= {} AND {t} < {}", r.d.int(lo), r.d.int(hi));
    let seq_i = r.d.int(i64::try_from(b.seq).unwrap_or(i64::MAX));
    if after {
        format!(
            "({t} >= {} OR ({same_ms} AND {seq} > {seq_i}))",
            r.d.int(hi)
        )
    } else {
        format!("({t} < {} OR ({same_ms} AND {seq} < {seq_i}))", r.d.int(lo))
    }
}

fn int_at(row: &[Option<Value>], i: usize) -> Option<i64> {
    match row.get(i) {
        Some(Some(Value::Int(v))) => Some(*v),
        Some(Some(Value::Float(f))) => Some(*f as i64),
        _ => None,
    }
}

/// A stored event rebuilt from the selected columns (enough for `translate`'s encoders).
fn event_from(dataset: &str, row: &[Option<Value>], names: &[&str]) -> Option<(EventKey, Event)> {
    let time_ns = int_at(row, 0)?;
    let seq = u64::try_from(int_at(row, 1)?).ok()?;
    let mut ev = Event::new(dataset, time_ns, SignalKind::Log);
    for (i, name) in names.iter().enumerate() {
        if let Some(Some(v)) = row.get(i + 2) {
            if *name == COL_SERVICE {
                if let Value::Str(s) = v {
                    ev.service = Some(s.clone());
                }
            } else {
                ev.set(*name, v.clone());
            }
        }
    }
    Some((
        EventKey {
            timestamp_ms: time_ns.div_euclid(NS_PER_MS),
            seq,
        },
        ev,
    ))
}

/// One page query: `SELECT time, seq, <names…> FROM events WHERE <scope> AND <predicate>
/// AND <extra> ORDER BY ms, seq <dir> LIMIT n`.
struct Select<'a> {
    dataset: &'a str,
    names: &'a [&'a str],
    start_ns: i64,
    end_ns: i64,
    predicate: Predicate,
    /// Raw SQL over the events row (the page boundary).
    extra: Option<String>,
    descending: bool,
    limit: usize,
}

impl Select<'_> {
    fn sql(&self, catalog: &Catalog) -> String {
        let d = &query::DuckDb;
        let r = Renderer::new(d, self.start_ns, self.end_ns);
        let t = r.qcol(EVENT_ALIAS, COL_TIME_NS);
        let seq = r.qcol(EVENT_ALIAS, COL_SEQ);
        let mut cols = vec![t.clone(), seq.clone()];
        for n in self.names {
            cols.push(r.column(&col(n, catalog), EVENT_ALIAS));
        }
        let dir = if self.descending { "DESC" } else { "ASC" };
        format!(
            "SELECT {} FROM {} AS {} WHERE {} AND COALESCE({}, FALSE){} \
             ORDER BY ({t} // {NS_PER_MS}) {dir}, {seq} {dir} LIMIT {}",
            cols.join(", "),
            d.ident(EVENTS_TABLE),
            d.ident(EVENT_ALIAS),
            r.scope(Some(self.dataset), EVENT_ALIAS),
            r.predicate(&self.predicate, EVENT_ALIAS),
            self.extra
                .as_ref()
                .map(|e| format!(" AND {e}"))
                .unwrap_or_default(),
            self.limit,
        )
    }
}

fn run(store: &dyn Store, sql: &str) -> Result<store::Rows, AwsError> {
    store.run_sql(sql).map_err(|e| {
        tracing::warn!(error = %e, "cloudwatch logs: read query failed");
        AwsError::unavailable()
    })
}

/// GetLogEvents: the plan's page from the store.
pub(crate) fn get_log_events(
    store: &dyn Store,
    plan: &GetPlan,
    key: &TokenKey,
) -> Result<GetLogEventsResponse, AwsError> {
    let catalog = store.catalog();
    let stream_col = col(FIELD_LOG_STREAM, &catalog);
    if stream_col.kind == ColumnKind::Missing {
        return plan.respond(Vec::new(), key);
    }
    let predicate = Predicate::and(vec![
        group_predicate(&plan.group, &catalog),
        text_eq(&stream_col, &plan.stream),
    ]);
    let start_ns = plan
        .start_time
        .map_or(i64::MIN, |s| s.saturating_mul(NS_PER_MS));
    let end_ns = plan
        .end_time
        .map_or(i64::MAX, |e| e.saturating_mul(NS_PER_MS));
    let r = Renderer::new(&query::DuckDb, start_ns, end_ns);
    let forward = plan.direction == Direction::Forward;
    let extra = plan.boundary.map(|b| key_bound(&r, b, forward));
    let names = [FIELD_BODY, FIELD_INGESTION_TIME];
    let sql = Select {
        dataset: &plan.group,
        names: &names,
        start_ns,
        end_ns,
        predicate,
        extra,
        descending: !forward,
        limit: plan.limit,
    }
    .sql(&catalog);
    let rows = run(store, &sql)?;
    let fetched: Vec<(EventKey, OutputLogEvent)> = rows
        .iter()
        .filter_map(|row| event_from(&plan.group, row, &names))
        .map(|(k, ev)| (k, translate::to_output_event(&ev)))
        .collect();
    plan.respond(fetched, key)
}

/// FilterLogEvents: matching events after the token, `limit + 1` to know whether more
/// remain. `stream_filter`: the caller named streams (by name or prefix); otherwise every
/// event of the group is searched, including streams the state does not list.
pub(crate) fn filter_log_events(
    store: &dyn Store,
    plan: &FilterPlan,
    stream_filter: bool,
    key: &TokenKey,
) -> Result<FilterLogEventsResponse, AwsError> {
    let catalog = store.catalog();
    let pattern = query::cloudwatch::pattern_compile::compile_str(&plan.filter_pattern, &catalog)
        .map_err(pattern_error)?;
    let stream_col = col(FIELD_LOG_STREAM, &catalog);
    let mut parts = vec![group_predicate(&plan.group, &catalog), pattern];
    if stream_filter {
        if plan.streams.is_empty() || stream_col.kind == ColumnKind::Missing {
            return plan.respond(Vec::new(), key);
        }
        parts.push(Predicate::In(
            Operand::Column(stream_col),
            plan.streams.iter().map(|s| Value::Str(s.clone())).collect(),
        ));
    }
    let predicate = Predicate::and(parts);
    let start_ns = plan
        .start_time
        .map_or(i64::MIN, |s| s.saturating_mul(NS_PER_MS));
    // endTime is inclusive (ms).
    let end_ns = plan
        .end_time
        .map_or(i64::MAX, |e| e.saturating_add(1).saturating_mul(NS_PER_MS));
    let r = Renderer::new(&query::DuckDb, start_ns, end_ns);
    let extra = plan.after.map(|b| key_bound(&r, b, true));
    let names = [
        FIELD_BODY,
        FIELD_LOG_STREAM,
        FIELD_INGESTION_TIME,
        FIELD_EVENT_ID,
        COL_SERVICE,
    ];
    let sql = Select {
        dataset: &plan.group,
        names: &names,
        start_ns,
        end_ns,
        predicate,
        extra,
        descending: false,
        limit: plan.limit.saturating_add(1),
    }
    .sql(&catalog);
    let rows = run(store, &sql)?;
    let fetched: Vec<(EventKey, FilteredLogEvent)> = rows
        .iter()
        .filter_map(|row| event_from(&plan.group, row, &names))
        .map(|(k, ev)| {
            let default_stream = ev.service.clone().unwrap_or_else(|| plan.group.clone());
            (k, translate::to_filtered_event(&ev, &default_stream, k.seq))
        })
        .collect();
    plan.respond(fetched, key)
}

/// What one live-tail session watches in one group.
#[derive(Debug, Clone)]
pub(crate) struct TailScope {
    pub group: String,
    /// As the request named it (an ARN), echoed in each event's `logGroupIdentifier`.
    pub identifier: String,
    pub stream_names: Option<Vec<String>>,
    pub stream_prefixes: Option<Vec<String>>,
    pub pattern: String,
}

/// The store's newest `__seq` (0 when empty): live tail shows what commits after it.
pub(crate) fn newest_seq(store: &dyn Store) -> Result<u64, AwsError> {
    let d = &query::DuckDb;
    let sql = format!(
        "SELECT max({}) FROM {}",
        d.ident(COL_SEQ),
        d.ident(EVENTS_TABLE)
    );
    let rows = run(store, &sql)?;
    Ok(rows
        .first()
        .and_then(|r| int_at(r, 0))
        .and_then(|v| u64::try_from(v).ok())
        .unwrap_or(0))
}

/// Live tail: the events of `scope` committed with `after < __seq <= upto`, oldest first, at
/// most `limit` — the same plan predicates as FilterLogEvents, bounded by sequence instead
/// of time (an event's timestamp may be old; its commit is new).
pub(crate) fn tail_events(
    store: &dyn Store,
    scope: &TailScope,
    after: u64,
    upto: u64,
    limit: usize,
) -> Result<Vec<protocols::cloudwatch_logs::shapes::LiveTailSessionLogEvent>, AwsError> {
    let catalog = store.catalog();
    let pattern = query::cloudwatch::pattern_compile::compile_str(&scope.pattern, &catalog)
        .map_err(pattern_error)?;
    let mut parts = vec![group_predicate(&scope.group, &catalog), pattern];
    let stream_col = col(FIELD_LOG_STREAM, &catalog);
    if let Some(names) = &scope.stream_names {
        if stream_col.kind == ColumnKind::Missing {
            return Ok(Vec::new());
        }
        parts.push(Predicate::In(
            Operand::Column(stream_col.clone()),
            names.iter().map(|s| Value::Str(s.clone())).collect(),
        ));
    }
    if let Some(prefixes) = &scope.stream_prefixes {
        if stream_col.kind == ColumnKind::Missing {
            return Ok(Vec::new());
        }
        parts.push(Predicate::Or(
            prefixes
                .iter()
                .map(|p| Predicate::StartsWith(Operand::Column(stream_col.clone()), p.clone()))
                .collect(),
        ));
    }
    let d = &query::DuckDb;
    let r = Renderer::new(d, i64::MIN, i64::MAX);
    let seq = r.qcol(EVENT_ALIAS, COL_SEQ);
    let to_i = |v: u64| r.d.int(i64::try_from(v).unwrap_or(i64::MAX));
    let extra = format!("{seq} > {} AND {seq} <= {}", to_i(after), to_i(upto));
    let names = [
        FIELD_BODY,
        FIELD_LOG_STREAM,
        FIELD_INGESTION_TIME,
        COL_SERVICE,
    ];
    let sql = Select {
        dataset: &scope.group,
        names: &names,
        start_ns: i64::MIN,
        end_ns: i64::MAX,
        predicate: Predicate::and(parts),
        extra: Some(extra),
        descending: false,
        limit,
    }
    .sql(&catalog);
    let rows = run(store, &sql)?;
    Ok(rows
        .iter()
        .filter_map(|row| event_from(&scope.group, row, &names))
        .map(|(k, ev)| {
            let default_stream = ev.service.clone().unwrap_or_else(|| scope.group.clone());
            let f = translate::to_filtered_event(&ev, &default_stream, k.seq);
            protocols::cloudwatch_logs::shapes::LiveTailSessionLogEvent {
                log_stream_name: f.log_stream_name,
                log_group_identifier: scope.identifier.clone(),
                message: f.message,
                timestamp: f.timestamp,
                ingestion_time: f.ingestion_time,
            }
        })
        .collect())
}

/// Deletes the events of a log group (or of one of its streams) from the store.
pub(crate) async fn delete_events(
    s: &AppState,
    group: &str,
    stream: Option<&str>,
) -> Result<(), AwsError> {
    let store = s.store.clone();
    let group = group.to_owned();
    let stream = stream.map(str::to_owned);
    crate::blocking(move || {
        let catalog = store.catalog();
        let mut parts = vec![group_predicate(&group, &catalog)];
        if let Some(st) = &stream {
            let c = col(FIELD_LOG_STREAM, &catalog);
            if c.kind == ColumnKind::Missing {
                return Ok(0);
            }
            parts.push(text_eq(&c, st));
        } else {
            // Only CloudWatch events: other protocols' logs in a same-named dataset stay.
            let g = col(FIELD_LOG_GROUP, &catalog);
            if g.kind == ColumnKind::Missing {
                return Ok(0);
            }
            parts.push(text_eq(&g, &group));
        }
        let r = Renderer::new(&query::DuckDb, i64::MIN, i64::MAX);
        let sql = format!(
            "COALESCE({}, FALSE)",
            r.predicate(&Predicate::and(parts), EVENTS_TABLE)
        );
        store.delete_events(&group, &sql)
    })
    .await
    .map_err(|_| AwsError::internal())?
    .map(|n| {
        tracing::info!(deleted = n, "cloudwatch logs: events deleted");
    })
    .map_err(|e| {
        tracing::warn!(error = %e, "cloudwatch logs: deleting events failed");
        AwsError::unavailable()
    })
}

/// Fields GetLogGroupFields reports at most (Insights discovers at most 200 fields per JSON
/// log, `translate::JSON_FIELDS_MAX`; the system fields come on top).
pub const GROUP_FIELDS_MAX: usize = 200;
/// The window GetLogGroupFields samples: "If you specify time, the 8 minutes before and 8
/// minutes after this time are searched. If you omit time, the most recent 15 minutes up to
/// the current time are searched" (GetLogGroupFields API reference; `time` is in seconds).
pub const GROUP_FIELDS_AROUND_MS: i64 = 8 * 60 * 1000;
pub const GROUP_FIELDS_RECENT_MS: i64 = 15 * 60 * 1000;

/// GetLogGroupFields: the system fields and the group's discovered attributes, each with
/// the percentage of the group's log events in the window that have it.
pub(crate) fn log_group_fields(
    store: &dyn Store,
    group: &str,
    (start_ms, end_ms): (i64, i64),
) -> Result<Vec<(String, i64)>, AwsError> {
    let catalog = store.catalog();
    let columns = store.dataset_columns(Some(group)).map_err(|e| {
        tracing::warn!(error = %e, "cloudwatch logs: columns");
        AwsError::unavailable()
    })?;
    let names: Vec<String> = columns
        .into_iter()
        .map(|c| c.name)
        .filter(|n| !n.starts_with("cloudwatch.") && !n.starts_with("meta.") && n != FIELD_BODY)
        .take(GROUP_FIELDS_MAX)
        .collect();
    let d = &query::DuckDb;
    let start_ns = start_ms.saturating_mul(NS_PER_MS);
    let end_ns = end_ms.saturating_add(1).saturating_mul(NS_PER_MS);
    let r = Renderer::new(d, start_ns, end_ns);
    let mut cols = vec!["count(*)".to_string()];
    for n in &names {
        cols.push(format!(
            "count({})",
            r.column(&col(n, &catalog), EVENT_ALIAS)
        ));
    }
    let sql = format!(
        "SELECT {} FROM {} AS {} WHERE {} AND COALESCE({}, FALSE)",
        cols.join(", "),
        d.ident(EVENTS_TABLE),
        d.ident(EVENT_ALIAS),
        r.scope(Some(group), EVENT_ALIAS),
        r.predicate(&group_predicate(group, &catalog), EVENT_ALIAS),
    );
    let rows = run(store, &sql)?;
    let row = rows.first().cloned().unwrap_or_default();
    let total = int_at(&row, 0).unwrap_or(0);
    let pct = |n: i64| {
        if total > 0 {
            (n * 100 + total / 2) / total
        } else {
            0
        }
    };
    let mut out: Vec<(String, i64)> = [
        "@timestamp",
        "@message",
        "@logStream",
        "@log",
        "@ingestionTime",
    ]
    .iter()
    .map(|n| ((*n).to_string(), if total > 0 { 100 } else { 0 }))
    .collect();
    for (i, n) in names.into_iter().enumerate() {
        let p = pct(int_at(&row, i + 1).unwrap_or(0));
        if p > 0 {
            out.push((n, p));
        }
    }
    Ok(out)
}
