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
    let filter = match p.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        None => None,
        Some(q) => {
            let catalog = s.store.catalog();
            let ctx = query::traceql::CompileContext { catalog: &catalog };
            match query::traceql::compile_str(q, &ctx) {
                Ok(search) => Some(search.spans),
                Err(e) => return bad_request(format!("invalid TraceQL query: {e}")),
            }
        }
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
            Some(pred) => matched_spans(store.as_ref(), &search, pred, &rows, spss)?,
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
        search.start_ns,
        search.end_ns,
        spss,
        &query::DuckDb,
    ) else {
        return Ok(None);
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
        entry.0.push(protocols::tempo::MatchedSpan {
            span_id: int(2).unwrap_or(0) as u64,
            name: text(5),
            service: text(6),
            start_ns: int(3).unwrap_or(0),
            duration_ms,
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

async fn tags_v2(State(s): State<AppState>) -> Response {
    let names = tag_names(&s);
    Json(json!({ "scopes": [ { "name": "span", "tags": names } ] })).into_response()
}

async fn values(s: &AppState, tag: String) -> Result<Vec<String>, Response> {
    let store = s.store.clone();
    let tag = tag
        .strip_prefix("span.")
        .or_else(|| tag.strip_prefix("resource."))
        .filter(|t| store.catalog().get(t).is_some())
        .map(str::to_string)
        .unwrap_or(tag);
    let rows = crate::blocking(move || {
        let catalog = store.catalog();
        match query::tempo::render_tag_values(&tag, &catalog, None, TAG_VALUES_MAX, &query::DuckDb)
        {
            Some(sql) => store.run_sql(&sql),
            None => Ok(Vec::new()),
        }
    })
    .await
    .map_err(|_| internal())?
    .map_err(|_| internal())?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .map(|v| v.to_string())
        .collect())
}

async fn tag_values(State(s): State<AppState>, Path(tag): Path<String>) -> Response {
    match values(&s, tag).await {
        Ok(v) => Json(protocols::tempo::tag_values_json(&v)).into_response(),
        Err(r) => r,
    }
}

async fn tag_values_v2(State(s): State<AppState>, Path(tag): Path<String>) -> Response {
    match values(&s, tag).await {
        Ok(v) => Json(json!({
            "tagValues": v.into_iter().map(|v| json!({"type": "string", "value": v})).collect::<Vec<_>>()
        }))
        .into_response(),
        Err(r) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
