//! Grafana Tempo's HTTP API over the store, so Grafana's Tempo data source works against
//! Waggle: trace by id (v1 and v2, JSON or protobuf), search, tags, tag values, echo.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use model::TraceId;
use serde::Deserialize;
use serde_json::json;

use crate::edge::{Protocol, Refusal, Routes};
use crate::AppState;

/// Most traces one search returns (Tempo's default `limit` is 20; our cap bounds the work).
pub const SEARCH_LIMIT_MAX: usize = 1000;
pub const SEARCH_LIMIT_DEFAULT: usize = 20;
/// Most values one tag-values call returns (our choice; Grafana shows a dropdown).
pub const TAG_VALUES_MAX: u32 = 1000;
/// Search window when the request gives none (our choice: Grafana always sends one; curl
/// users get the last day).
pub const SEARCH_WINDOW_DEFAULT_NS: i64 = 24 * 3600 * 1_000_000_000;

/// Largest request body (our choice: Tempo's read API takes no body; a stray one is capped).
pub const TEMPO_BODY_MAX: usize = 64 * 1024;

pub(crate) const PROTOCOL: Protocol = Protocol {
    name: "tempo",
    body_max: TEMPO_BODY_MAX,
    render: refuse,
};

pub(crate) fn routes() -> Routes {
    Routes::new(PROTOCOL)
        .get("/api/echo", echo)
        .get("/api/status/buildinfo", buildinfo)
        .get("/api/traces/{id}", trace_v1)
        .get("/api/v2/traces/{id}", trace_v2)
        .get("/api/search", search)
        .get("/api/search/tags", tags)
        .get("/api/v2/search/tags", tags_v2)
        .get("/api/search/tag/{tag}/values", tag_values)
        .get("/api/v2/search/tag/{tag}/values", tag_values_v2)
        .get("/api/metrics/query_range", metrics_range)
        .get("/api/metrics/query", metrics_instant)
}

/// Tempo answers errors as plain text with the status (its query frontend's shape); the
/// same plain shape serves Waggle's own API.
pub(crate) fn refuse(_headers: &HeaderMap, refusal: &Refusal) -> Response {
    (refusal.status(), refusal.message()).into_response()
}

async fn echo() -> &'static str {
    "echo"
}

fn not_found(msg: &str) -> Response {
    (StatusCode::NOT_FOUND, msg.to_string()).into_response()
}

fn bad_request(msg: String) -> Response {
    (StatusCode::BAD_REQUEST, msg).into_response()
}

fn internal() -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error reading the store",
    )
        .into_response()
}

/// The Tempo release whose API Waggle answers as: Grafana's Tempo data source gates features
/// (TraceQL search, tags v2) on `/api/status/buildinfo`'s version.
pub const TEMPO_COMPATIBLE_VERSION: &str = "2.6.0";

async fn buildinfo() -> Json<serde_json::Value> {
    Json(json!({
        "version": TEMPO_COMPATIBLE_VERSION,
        "revision": concat!("waggle-", env!("CARGO_PKG_VERSION")),
        "branch": "main",
        "buildUser": "",
        "buildDate": "",
        "goVersion": ""
    }))
}

async fn load_trace(s: &AppState, id: &str) -> Result<Vec<model::Event>, Response> {
    let id = TraceId::parse(id).map_err(|e| bad_request(format!("invalid trace id: {e}")))?;
    let store = s.store.clone();
    let events = crate::blocking(move || store.trace(id))
        .await
        .map_err(|_| internal())?
        .map_err(|e| {
            tracing::error!(error = %e, "trace lookup failed");
            internal()
        })?;
    if events.is_empty() {
        return Err(not_found("trace not found"));
    }
    Ok(events)
}

fn wants_protobuf(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/protobuf") || a.contains("application/x-protobuf"))
}

/// Tempo's two trace-by-id shapes: v1 (`{"batches": …}` / `tempopb.Trace`) and v2
/// (`{"trace": …}` / `tempopb.TraceByIDResponse`).
#[derive(Clone, Copy)]
enum TraceApi {
    V1,
    V2,
}

async fn trace_v1(s: State<AppState>, id: Path<String>, headers: HeaderMap) -> Response {
    trace_by_id(s, id, headers, TraceApi::V1).await
}

async fn trace_v2(s: State<AppState>, id: Path<String>, headers: HeaderMap) -> Response {
    trace_by_id(s, id, headers, TraceApi::V2).await
}

async fn trace_by_id(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    api: TraceApi,
) -> Response {
    let events = match load_trace(&s, &id).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    if wants_protobuf(&headers) {
        let body = match api {
            TraceApi::V1 => protocols::tempo::trace_protobuf(&events),
            TraceApi::V2 => protocols::tempo::trace_v2_protobuf(&events),
        };
        return ([(header::CONTENT_TYPE, "application/protobuf")], body).into_response();
    }
    Json(match api {
        TraceApi::V1 => protocols::tempo::trace_v1_json(&events),
        TraceApi::V2 => protocols::tempo::trace_v2_json(&events),
    })
    .into_response()
}

#[derive(Debug, Deserialize)]
struct SearchParams {
    tags: Option<String>,
    #[serde(rename = "minDuration")]
    min_duration: Option<String>,
    #[serde(rename = "maxDuration")]
    max_duration: Option<String>,
    limit: Option<usize>,
    start: Option<i64>,
    end: Option<i64>,
    q: Option<String>,
    /// Spans per spanset (TraceQL searches).
    spss: Option<u32>,
}

/// Most spans per spanset a search returns (our bound; Grafana asks for 3 to 100).
pub const SPSS_MAX: u32 = 1000;

/// Parses a Go duration (`100ms`, `1.5s`, `2m`, `1h30m`, `250us`) into milliseconds.
pub fn parse_go_duration_ms(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let mut total = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ns" => 1e-6,
            "us" | "µs" => 1e-3,
            "ms" => 1.0,
            "s" | "" => 1000.0,
            "m" => 60_000.0,
            "h" => 3_600_000.0,
            _ => return None,
        };
        total += n * factor;
        rest = &rest[unit_len..];
    }
    Some(total)
}

async fn search(State(s): State<AppState>, Query(p): Query<SearchParams>) -> Response {
    // TraceQL (`q=`): parsed, validated and compiled to the plan; its matched-spans
    // predicate narrows the same trace search the tag parameters run.
    let spss = p
        .spss
        .unwrap_or(query::tempo::SPANS_PER_SPANSET_DEFAULT)
        .clamp(1, SPSS_MAX);
    let (filter, select) = match p.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        None => (None, Vec::new()),
        Some(q) => match traceql_search(&s, q) {
            Ok(c) => (Some(c.spans), c.select),
            Err(r) => return r,
        },
    };
    let tags = match p
        .tags
        .as_deref()
        .map(query::tempo::parse_logfmt)
        .transpose()
    {
        Ok(t) => t.unwrap_or_default(),
        Err(e) => return bad_request(format!("invalid tags: {e}")),
    };
    let dur = |v: &Option<String>, name: &str| -> Result<Option<f64>, Response> {
        match v.as_deref() {
            None | Some("") => Ok(None),
            Some(d) => parse_go_duration_ms(d).map(Some).ok_or_else(|| {
                bad_request(format!(
                    "invalid {name} {d:?}: use a duration such as 100ms or 1.5s"
                ))
            }),
        }
    };
    let min = match dur(&p.min_duration, "minDuration") {
        Ok(v) => v,
        Err(r) => return r,
    };
    let max = match dur(&p.max_duration, "maxDuration") {
        Ok(v) => v,
        Err(r) => return r,
    };
    let now = crate::now_ns();
    let search = query::tempo::TraceSearch {
        tags,
        min_duration_ms: min,
        max_duration_ms: max,
        start_ns: p
            .start
            .map(|s| s.saturating_mul(1_000_000_000))
            .unwrap_or(now.saturating_sub(SEARCH_WINDOW_DEFAULT_NS)),
        end_ns: p
            .end
            .map(|e| e.saturating_mul(1_000_000_000))
            .unwrap_or(now.saturating_add(60_000_000_000)),
        limit: p
            .limit
            .unwrap_or(SEARCH_LIMIT_DEFAULT)
            .clamp(1, SEARCH_LIMIT_MAX) as u32,
        filter,
    };
    let store = s.store.clone();
    let result = crate::blocking(move || {
        let rows = search_newest_first(store.as_ref(), &search)?;
        let matched = match &search.filter {
            Some(pred) => matched_spans(store.as_ref(), &search, pred, &select, &rows, spss)?,
            None => None,
        };
        Ok::<_, store::StoreError>((rows, matched))
    })
    .await;
    let (rows, matched) = match result {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "tempo search failed");
            return internal();
        }
        Err(_) => return internal(),
    };
    let traces: Vec<_> = rows.iter().filter_map(|r| summary_from_row(r)).collect();
    let mut body = protocols::tempo::search_json(&traces);
    if let (Some(sets), Some(list)) = (matched, body["traces"].as_array_mut()) {
        for (t, summary) in list.iter_mut().zip(&traces) {
            let key = summary.trace_id;
            let (spans, n) = sets.get(&key).cloned().unwrap_or_default();
            let set = protocols::tempo::span_set_json(&spans, n);
            t["spanSets"] = json!([set.clone()]);
            t["spanSet"] = set;
        }
    }
    Json(body).into_response()
}

/// Matched spans per found trace, for TraceQL's `spanSet`s.
type SpanSets = std::collections::HashMap<TraceId, (Vec<protocols::tempo::MatchedSpan>, u64)>;

fn matched_spans(
    store: &dyn store::Store,
    search: &query::tempo::TraceSearch,
    pred: &query::plan::Predicate,
    select: &[query::traceql::Selected],
    rows: &store::Rows,
    spss: u32,
) -> Result<Option<SpanSets>, store::StoreError> {
    use model::Value;
    let ids: Vec<(i64, i64)> = rows
        .iter()
        .filter_map(|r| match (r.first()?, r.get(1)?) {
            (Some(Value::Int(h)), Some(Value::Int(l))) => Some((*h, *l)),
            _ => None,
        })
        .collect();
    let Some(sql) = query::tempo::render_matched_spans(
        &ids,
        pred,
        select,
        search.start_ns,
        search.end_ns,
        spss,
        &query::DuckDb,
    ) else {
        return Ok(None);
    };
    // Nested-set numbers come from each found trace's whole span tree, read only when asked.
    let tree = if select.iter().any(|sel| !sel.is_stored()) {
        query::tempo::render_span_tree(&ids, search.start_ns, search.end_ns, &query::DuckDb)
    } else {
        None
    };
    let nested = match tree {
        Some(tree) => query::tempo::nested_sets_from_rows(&store.run_sql(&tree)?),
        None => Default::default(),
    };
    let mut sets = SpanSets::new();
    for r in store.run_sql(&sql)? {
        let int = |i: usize| match r.get(i) {
            Some(Some(Value::Int(v))) => Some(*v),
            _ => None,
        };
        let text = |i: usize| match r.get(i) {
            Some(Some(Value::Str(s))) => Some(s.clone()),
            _ => None,
        };
        let (Some(h), Some(l)) = (int(0), int(1)) else {
            continue;
        };
        let duration_ms = match r.get(4) {
            Some(Some(Value::Float(f))) => *f,
            Some(Some(Value::Int(i))) => *i as f64,
            _ => 0.0,
        };
        let entry = sets
            .entry(TraceId::from_halves(h as u64, l as u64))
            .or_default();
        entry.1 = int(7).unwrap_or(0).max(0) as u64;
        let span_id = int(2).unwrap_or(0) as u64;
        let numbers = nested.get(&(h, l)).and_then(|t| t.get(&span_id));
        entry.0.push(protocols::tempo::MatchedSpan {
            span_id,
            name: text(5),
            service: text(6),
            start_ns: int(3).unwrap_or(0),
            duration_ms,
            attributes: query::tempo::selected_attributes(&r, select, numbers),
        });
    }
    Ok(Some(sets))
}

/// Runs a search over growing slices of the window, newest first, and stops at the first
/// slice whose answer is already final (see `query::tempo::search_slices`).
fn search_newest_first(
    store: &dyn store::Store,
    search: &query::tempo::TraceSearch,
) -> Result<store::Rows, store::StoreError> {
    let catalog = store.catalog();
    let extent = store.run_sql(&query::tempo::render_extent(search, &query::DuckDb))?;
    let int = |i: usize| match extent.first().and_then(|r| r.get(i)) {
        Some(Some(model::Value::Int(v))) => Some(*v),
        _ => None,
    };
    let slices = match (int(0), int(1)) {
        (Some(lo), Some(hi)) => query::tempo::search_slices(search, lo, hi),
        _ => vec![search.start_ns],
    };
    let limit = search.limit.max(1) as usize;
    let mut rows = Vec::new();
    for from in slices {
        let slice = query::tempo::TraceSearch {
            start_ns: from,
            ..search.clone()
        };
        let rendered = query::tempo::render_search(&slice, &catalog, &query::DuckDb);
        rows = store.run_sql(&rendered.sql)?;
        let last_start = rows
            .get(limit - 1)
            .and_then(|r| summary_from_row(r))
            .map(|t| t.start_ns);
        if from <= search.start_ns || last_start.is_some_and(|t| t >= from) {
            break;
        }
    }
    Ok(rows)
}

fn tag_names(s: &AppState) -> Vec<String> {
    query::tempo::tag_names(&s.store.catalog())
}

/// One search row: (trace hi, lo, root service, root name, start ns, duration ms).
fn summary_from_row(r: &[Option<model::Value>]) -> Option<protocols::tempo::TraceSummary> {
    use model::Value;
    let int = |i: usize| match r.get(i)? {
        Some(Value::Int(v)) => Some(*v),
        _ => None,
    };
    let text = |i: usize| match r.get(i)? {
        Some(Value::Str(s)) => Some(s.clone()),
        _ => None,
    };
    let duration_ms = match r.get(5)? {
        Some(Value::Float(f)) => *f,
        Some(Value::Int(i)) => *i as f64,
        _ => 0.0,
    };
    Some(protocols::tempo::TraceSummary {
        trace_id: TraceId::from_halves(int(0)? as u64, int(1)? as u64),
        root_service: text(2),
        root_name: text(3),
        start_ns: int(4).unwrap_or(0),
        duration_ms,
    })
}

async fn tags(State(s): State<AppState>) -> Response {
    Json(protocols::tempo::tags_json(&tag_names(&s))).into_response()
}

/// Intrinsics `/api/v2/search/tags` lists in its `intrinsic` scope: the ones TraceQL
/// filters on here (see `query::traceql`).
pub const INTRINSIC_TAGS: &[&str] = &[
    "duration",
    "kind",
    "name",
    "rootName",
    "rootServiceName",
    "status",
    "statusMessage",
    "traceDuration",
    "span:id",
    "span:parentID",
    "trace:id",
    "instrumentation:name",
    "instrumentation:version",
];
/// Rows a `q=`-narrowed tag listing looks at (our bound: which columns the matching spans
/// use is read from the newest ones only, so autocomplete stays fast on a large window).
pub const TAGS_SAMPLE_ROWS: u32 = 100_000;

#[derive(Debug, Default, Deserialize)]
struct TagParams {
    scope: Option<String>,
    q: Option<String>,
    start: Option<i64>,
    end: Option<i64>,
    limit: Option<usize>,
}

impl TagParams {
    fn window(&self) -> Option<(i64, i64)> {
        match (self.start, self.end) {
            (None, None) => None,
            (s, e) => Some((
                s.unwrap_or(0).saturating_mul(1_000_000_000),
                e.map_or(i64::MAX, |e| {
                    e.saturating_add(1).saturating_mul(1_000_000_000)
                }),
            )),
        }
    }

    /// The TraceQL `q=` as a predicate on spans (None: no narrowing).
    fn filter(&self, s: &AppState) -> Result<Option<query::plan::Predicate>, Response> {
        let Some(q) = self
            .q
            .as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty() && *q != "{}")
        else {
            return Ok(None);
        };
        traceql_spans(s, q).map(Some)
    }
}

/// A TraceQL spanset query's matched-spans predicate, or Tempo's 400 naming the error kind.
fn traceql_spans(s: &AppState, q: &str) -> Result<query::plan::Predicate, Response> {
    traceql_search(s, q).map(|search| search.spans)
}

/// A TraceQL spanset query compiled against the store's columns.
fn traceql_search(s: &AppState, q: &str) -> Result<query::traceql::Search, Response> {
    let catalog = s.store.catalog();
    let ctx = query::traceql::CompileContext { catalog: &catalog };
    query::traceql::compile_str(q, &ctx)
        .map_err(|e| bad_request(format!("invalid TraceQL query: {e}")))
}

/// Resource attribute keys seen in the window (every event records its resource's keys).
fn resource_keys(
    store: &dyn store::Store,
    window: Option<(i64, i64)>,
) -> Result<Vec<String>, store::StoreError> {
    use query::dialect::Dialect;
    let d = query::DuckDb;
    let col = d.ident(model::schema::COL_RESOURCE_KEYS);
    let time = d.ident(model::schema::COL_TIME_NS);
    let cond = match window {
        Some((lo, hi)) => format!(" AND {time} >= {lo} AND {time} < {hi}"),
        None => String::new(),
    };
    let sql = format!(
        "SELECT DISTINCT {col} FROM {} WHERE {col} IS NOT NULL{cond} LIMIT 10000",
        d.ident(query::sql::EVENTS_TABLE)
    );
    let mut keys: Vec<String> = Vec::new();
    for row in store.run_sql(&sql)? {
        if let Some(Some(model::Value::Str(v))) = row.first() {
            for k in v.split(model::schema::RESOURCE_KEY_SEP) {
                if !k.is_empty() && !keys.iter().any(|x| x == k) {
                    keys.push(k.to_string());
                }
            }
        }
    }
    // `service.name` is stored in its own column, not among the recorded keys.
    if !keys.is_empty() && !keys.iter().any(|k| k == model::schema::COL_SERVICE) {
        keys.push(model::schema::COL_SERVICE.to_string());
    }
    keys.sort();
    Ok(keys)
}

/// Of `names`, those some of the newest spans matching `filter` have a value for.
fn used_by(
    store: &dyn store::Store,
    names: Vec<String>,
    filter: &query::plan::Predicate,
    window: Option<(i64, i64)>,
) -> Result<Vec<String>, store::StoreError> {
    use query::dialect::Dialect;
    let d = query::DuckDb;
    let catalog = store.catalog();
    let (lo, hi) = window.unwrap_or((i64::MIN, i64::MAX));
    let r = query::sql::Renderer::new(&d, lo, hi);
    let e = query::sql::EVENT_ALIAS;
    let cols: Vec<(String, query::plan::ColumnRef)> = names
        .into_iter()
        .map(|n| {
            let c = query::plan::resolve_column(&n, &catalog, &mut Vec::new());
            (n, c)
        })
        .filter(|(_, c)| c.kind != query::plan::ColumnKind::Missing)
        .collect();
    if cols.is_empty() {
        return Ok(Vec::new());
    }
    let alias = |i: usize| d.ident(&format!("c{i}"));
    // The sample holds only the tested columns, not every column of the wide table.
    let picked: Vec<String> = cols
        .iter()
        .enumerate()
        .map(|(i, (_, c))| format!("{} AS {}", r.column(c, e), alias(i)))
        .collect();
    let counts: Vec<String> = (0..cols.len())
        .map(|i| format!("COUNT({}) AS {}", alias(i), alias(i)))
        .collect();
    let mut conds = vec![format!("COALESCE({}, FALSE)", r.predicate(filter, e))];
    if window.is_some() {
        conds.push(r.scope(None, e));
    }
    let sql = format!(
        "SELECT {} FROM (SELECT {} FROM {} AS {} WHERE {} ORDER BY {} DESC LIMIT {TAGS_SAMPLE_ROWS}) AS {}",
        counts.join(", "),
        picked.join(", "),
        d.ident(query::sql::EVENTS_TABLE),
        d.ident(e),
        conds.join(" AND "),
        r.qcol(e, model::schema::COL_TIME_NS),
        d.ident(e),
    );
    let rows = store.run_sql(&sql)?;
    let Some(row) = rows.first() else {
        return Ok(Vec::new());
    };
    Ok(cols
        .into_iter()
        .zip(row)
        .filter(|(_, v)| matches!(v, Some(model::Value::Int(n)) if *n > 0))
        .map(|((n, _), _)| n)
        .collect())
}

/// `/api/v2/search/tags`: tags by scope (`resource`, `span`, `intrinsic`), optionally one
/// scope (`scope=`), a window (`start`/`end`) and narrowed to the spans a TraceQL `q=`
/// matches (Grafana's autocomplete while a query is typed).
async fn tags_v2(State(s): State<AppState>, Query(p): Query<TagParams>) -> Response {
    let scope = p.scope.as_deref().unwrap_or("").to_ascii_lowercase();
    let scopes: &[&str] = match scope.as_str() {
        "" | "all" => &["resource", "span", "intrinsic"],
        "resource" => &["resource"],
        "span" => &["span"],
        "intrinsic" => &["intrinsic"],
        // Waggle stores no event or link attributes under their own scope.
        "event" | "link" | "instrumentation" | "none" => &[],
        other => return bad_request(format!("invalid scope: {other}")),
    };
    let filter = match p.filter(&s) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let window = p.window();
    let limit = p.limit.unwrap_or(usize::MAX).max(1);
    let store = s.store.clone();
    let wanted: Vec<&'static str> = scopes.to_vec();
    let result = crate::blocking(move || {
        let resource = resource_keys(store.as_ref(), window)?;
        let all = query::tempo::tag_names(&store.catalog());
        let mut out = Vec::new();
        for name in wanted {
            let mut tags: Vec<String> = match name {
                "resource" => resource.clone(),
                "span" => all
                    .iter()
                    .filter(|t| !resource.contains(t) && !matches!(t.as_str(), "name" | "status"))
                    .cloned()
                    .collect(),
                _ => INTRINSIC_TAGS.iter().map(|t| t.to_string()).collect(),
            };
            if let (Some(f), true) = (&filter, name != "intrinsic") {
                tags = used_by(store.as_ref(), tags, f, window)?;
            }
            tags.truncate(limit);
            out.push(json!({ "name": name, "tags": tags }));
        }
        Ok::<_, store::StoreError>(out)
    })
    .await;
    match result {
        Ok(Ok(scopes)) => Json(json!({ "scopes": scopes })).into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "tempo tags failed");
            internal()
        }
        Err(_) => internal(),
    }
}

/// A scoped TraceQL tag (`resource.x`, `span.x`, `.x`, an intrinsic) as the column name.
fn tag_column(tag: &str, catalog: &model::schema::Catalog) -> String {
    use query::traceql::compile;
    match tag {
        "rootName" | "trace:rootName" | "span:name" => return "name".into(),
        "rootServiceName" | "trace:rootService" => return model::schema::COL_SERVICE.into(),
        "statusMessage" | "span:statusMessage" => return compile::COL_STATUS_MESSAGE.into(),
        "kind" | "span:kind" => return compile::COL_SPAN_KIND.into(),
        "instrumentation:name" => return compile::COL_LIBRARY_NAME.into(),
        "instrumentation:version" => return compile::COL_LIBRARY_VERSION.into(),
        _ => {}
    }
    tag.strip_prefix("span.")
        .or_else(|| tag.strip_prefix("resource."))
        .or_else(|| tag.strip_prefix('.'))
        .filter(|t| catalog.get(t).is_some() || *t == model::schema::COL_SERVICE)
        .map(str::to_string)
        .unwrap_or_else(|| tag.to_string())
}

async fn values(
    s: &AppState,
    tag: String,
    p: &TagParams,
) -> Result<(Vec<String>, &'static str), Response> {
    match tag.as_str() {
        "status" | "span:status" => {
            return Ok((vec!["error".into(), "ok".into(), "unset".into()], "keyword"))
        }
        "kind" | "span:kind" => {
            let kinds = [
                "client",
                "consumer",
                "internal",
                "producer",
                "server",
                "unspecified",
            ];
            return Ok((kinds.iter().map(|k| k.to_string()).collect(), "keyword"));
        }
        _ => {}
    }
    let filter = p.filter(s)?.unwrap_or(query::plan::Predicate::True);
    let window = p.window();
    let store = s.store.clone();
    let column = tag_column(&tag, &store.catalog());
    let ty = query::tempo::tag_value_type(&column, &store.catalog());
    let limit = p
        .limit
        .map_or(TAG_VALUES_MAX, |l| (l as u32).clamp(1, TAG_VALUES_MAX));
    let rows = crate::blocking(move || {
        let catalog = store.catalog();
        match query::tempo::render_tag_values_where(
            &column,
            &catalog,
            window,
            &filter,
            limit,
            &query::DuckDb,
        ) {
            Some(sql) => store.run_sql(&sql),
            None => Ok(Vec::new()),
        }
    })
    .await
    .map_err(|_| internal())?
    .map_err(|_| internal())?;
    Ok((
        rows.into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .map(|v| v.to_string())
            .collect(),
        ty,
    ))
}

async fn tag_values(
    State(s): State<AppState>,
    Path(tag): Path<String>,
    Query(p): Query<TagParams>,
) -> Response {
    match values(&s, tag, &p).await {
        Ok((v, _)) => Json(protocols::tempo::tag_values_json(&v)).into_response(),
        Err(r) => r,
    }
}

/// `/api/v2/search/tag/{tag}/values`: typed values, narrowed by `q=` and the window.
async fn tag_values_v2(
    State(s): State<AppState>,
    Path(tag): Path<String>,
    Query(p): Query<TagParams>,
) -> Response {
    match values(&s, tag, &p).await {
        Ok((v, ty)) => Json(json!({
            "tagValues": v.into_iter().map(|v| json!({"type": ty, "value": v})).collect::<Vec<_>>()
        }))
        .into_response(),
        Err(r) => r,
    }
}

/// Default window of a metrics query without `start`/`end`/`since` (Tempo's: the last hour).
pub const METRICS_WINDOW_DEFAULT_NS: i64 = 3600 * 1_000_000_000;
/// Default number of steps when `step` is absent (our choice; Grafana always sends one).
pub const METRICS_STEPS_DEFAULT: i64 = 60;

#[derive(Debug, Deserialize)]
struct MetricsParams {
    q: Option<String>,
    query: Option<String>,
    start: Option<String>,
    end: Option<String>,
    since: Option<String>,
    step: Option<String>,
}

/// A metrics time parameter as Tempo reads it: Unix seconds (up to 10 integer digits,
/// fractions allowed), nanoseconds (more digits), or RFC 3339.
pub fn parse_metrics_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return Some(if s.trim_start_matches('-').len() <= 10 {
            n.saturating_mul(1_000_000_000)
        } else {
            n
        });
    }
    if let Ok(f) = s.parse::<f64>() {
        if f.is_finite() && f.abs() < 1e11 {
            return Some((f * 1e9) as i64);
        }
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
}

/// A `step`: seconds (a number) or a Go duration (`30s`, `1m`).
fn parse_step_ns(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(f) = s.parse::<f64>() {
        return (f.is_finite() && f > 0.0).then_some((f * 1e9) as i64);
    }
    parse_go_duration_ms(s).map(|ms| (ms * 1e6) as i64)
}

fn metrics_window(p: &MetricsParams, instant: bool) -> Result<query::traceql::Window, Response> {
    let now = crate::now_ns();
    let time = |v: &Option<String>, name: &str| -> Result<Option<i64>, Response> {
        match v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(t) => parse_metrics_time(t).map(Some).ok_or_else(|| {
                bad_request(format!(
                    "invalid {name} {t:?}: use Unix seconds, nanoseconds or RFC 3339"
                ))
            }),
        }
    };
    let end = time(&p.end, "end")?.unwrap_or(now);
    let start = match time(&p.start, "start")? {
        Some(s) => s,
        None => match p.since.as_deref().filter(|s| !s.is_empty()) {
            Some(d) => {
                let ms = parse_go_duration_ms(d)
                    .ok_or_else(|| bad_request(format!("invalid since {d:?}")))?;
                end.saturating_sub((ms * 1e6) as i64)
            }
            None => end.saturating_sub(METRICS_WINDOW_DEFAULT_NS),
        },
    };
    if start >= end {
        return Err(bad_request(format!(
            "http parameter start must be before end. received start={start} end={end}"
        )));
    }
    let step_ns = if instant {
        None
    } else {
        Some(match p.step.as_deref().filter(|s| !s.is_empty()) {
            Some(st) => {
                parse_step_ns(st).ok_or_else(|| bad_request(format!("invalid step {st:?}")))?
            }
            None => ((end - start) / METRICS_STEPS_DEFAULT).max(1_000_000_000),
        })
    };
    Ok(query::traceql::Window {
        start_ns: start,
        end_ns: end,
        step_ns,
    })
}

async fn metrics_range(s: State<AppState>, p: Query<MetricsParams>) -> Response {
    run_metrics(s, p, false).await
}

async fn metrics_instant(s: State<AppState>, p: Query<MetricsParams>) -> Response {
    run_metrics(s, p, true).await
}

/// TraceQL metrics: compiled to the shared plan (`query::traceql::metrics`), run as the
/// Honeycomb series (range) or totals (instant) SQL.
async fn run_metrics(
    State(s): State<AppState>,
    Query(p): Query<MetricsParams>,
    instant: bool,
) -> Response {
    let Some(q) =
        p.q.as_deref()
            .or(p.query.as_deref())
            .map(str::trim)
            .filter(|q| !q.is_empty())
    else {
        return bad_request("missing q: a TraceQL metrics query such as {} | rate()".into());
    };
    let window = match metrics_window(&p, instant) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let catalog = s.store.catalog();
    let ctx = query::traceql::CompileContext { catalog: &catalog };
    let m = match query::traceql::compile_metrics(q, &ctx, window) {
        Ok(m) => m,
        Err(e) => return bad_request(format!("invalid TraceQL query: {e}")),
    };
    let store = s.store.clone();
    let result = crate::blocking(move || {
        let sql = if instant {
            query::sql::render_totals(&m.plan, &query::DuckDb).sql
        } else {
            query::sql::render_series(&m.plan, &query::DuckDb).sql
        };
        let rows = store.run_sql(&sql)?;
        Ok::<_, store::StoreError>(if instant {
            m.instant_json(&rows)
        } else {
            m.range_json(&rows)
        })
    })
    .await;
    match result {
        Ok(Ok(body)) => Json(body).into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "tempo metrics query failed");
            internal()
        }
        Err(_) => internal(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_times() {
        assert_eq!(
            parse_metrics_time("1700000000"),
            Some(1_700_000_000_000_000_000)
        );
        assert_eq!(
            parse_metrics_time("1700000000000000000"),
            Some(1_700_000_000_000_000_000)
        );
        assert_eq!(
            parse_metrics_time("1700000000.5"),
            Some(1_700_000_000_500_000_000)
        );
        assert_eq!(
            parse_metrics_time("2023-11-14T22:13:20Z"),
            Some(1_700_000_000_000_000_000)
        );
        assert_eq!(parse_metrics_time("soon"), None);
        assert_eq!(parse_step_ns("30"), Some(30_000_000_000));
        assert_eq!(parse_step_ns("1m"), Some(60_000_000_000));
        assert_eq!(parse_step_ns("0"), None);
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration_ms("100ms"), Some(100.0));
        assert_eq!(parse_go_duration_ms("1.5s"), Some(1500.0));
        assert_eq!(parse_go_duration_ms("1h30m"), Some(5_400_000.0));
        assert_eq!(parse_go_duration_ms("250us"), Some(0.25));
        assert_eq!(parse_go_duration_ms("abc"), None);
        assert_eq!(parse_go_duration_ms(""), None);
    }
}
