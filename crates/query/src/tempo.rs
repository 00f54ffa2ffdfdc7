//! Grafana Tempo search (`GET /api/search?tags=…&minDuration=…&maxDuration=…&start=…&end=…
//! &limit=…`, `/api/search/tags`, `/api/search/tag/{tag}/values`) as SQL.
//!
//! Semantics (https://grafana.com/docs/tempo/latest/api_docs/#search): `tags` is logfmt
//! `key=value` pairs; a trace matches when ANY of its spans matches ALL tags;
//! `minDuration`/`maxDuration` bound the *trace* duration (latest span end − earliest span
//! start); results are the most recent traces first.

use model::schema::{
    Catalog, COL_DURATION_MS, COL_KIND, COL_NAME, COL_PARENT_ID, COL_SERVICE, COL_SPAN_ID,
    COL_TIME_NS, COL_TRACE_HI, COL_TRACE_LO,
};
use model::value::ColumnType;
use model::{SignalKind, Value};

use crate::dialect::Dialect;
use crate::plan::{compare, resolve_column, CmpOp, ColumnKind, Predicate, TRACE_LOOKAROUND_NS};
use crate::sql::{Renderer, EVENTS_TABLE, EVENT_ALIAS};

/// Tempo's default search limit (Tempo `default_result_limit: 20`).
pub const SEARCH_LIMIT_DEFAULT: u32 = 20;
/// Most traces one search returns (our choice, matching Honeycomb's 10,000-row result cap).
pub const SEARCH_LIMIT_MAX: u32 = 10_000;
/// Most values `/api/search/tag/{tag}/values` returns (our choice; Tempo caps by bytes).
pub const TAG_VALUES_MAX: u32 = 1000;
/// Longest `tags` parameter we parse (our choice: 64 KiB is far beyond a hand-typed search).
pub const TAGS_LEN_MAX: usize = 65_536;

/// A Tempo trace search.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TraceSearch {
    /// logfmt pairs; key = a column, a resource attribute, or `name`, `service.name`,
    /// `status` (`error`/`ok`/`unset`), `http.status_code`.
    pub tags: Vec<(String, String)>,
    pub min_duration_ms: Option<f64>,
    pub max_duration_ms: Option<f64>,
    pub start_ns: i64,
    pub end_ns: i64,
    pub limit: u32,
    /// A further condition on the spans that select a trace (a compiled TraceQL query's
    /// matched-spans predicate, `traceql::Search::spans`).
    pub filter: Option<Predicate>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TempoError {
    #[error("tags: {0}")]
    Tags(String),
}

/// Parses logfmt (`a=b c="d e" f=`): keys are bare words, values bare or double-quoted with
/// `\"` and `\\` escapes.
pub fn parse_logfmt(text: &str) -> Result<Vec<(String, String)>, TempoError> {
    if text.len() > TAGS_LEN_MAX {
        return Err(TempoError::Tags(format!(
            "longer than {TAGS_LEN_MAX} bytes"
        )));
    }
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() {
            return Err(TempoError::Tags("empty key".into()));
        }
        let mut value = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            if chars.peek() == Some(&'"') {
                chars.next();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => match chars.next() {
                            Some(n) => value.push(n),
                            None => break,
                        },
                        '"' => {
                            closed = true;
                            break;
                        }
                        c => value.push(c),
                    }
                }
                if !closed {
                    return Err(TempoError::Tags(format!("unterminated quote after {key}=")));
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
            }
        }
        out.push((key, value));
    }
    Ok(out)
}

/// The predicate one tag puts on a span. Unknown keys match nothing (with a warning).
pub fn tag_predicate(
    key: &str,
    value: &str,
    catalog: &Catalog,
    warnings: &mut Vec<String>,
) -> Predicate {
    if key == "status" {
        let mut w = Vec::new();
        let error = resolve_column("error", catalog, &mut w);
        let code = resolve_column("status_code", catalog, &mut w);
        let code_is = |n: i64| compare(&code, CmpOp::Eq, &Value::Int(n));
        return match value.to_ascii_lowercase().as_str() {
            "error" => Predicate::or(vec![
                compare(&error, CmpOp::Eq, &Value::Bool(true)),
                code_is(2),
            ]),
            "ok" => code_is(1),
            "unset" => Predicate::not(Predicate::or(vec![code_is(1), code_is(2)])),
            _ => Predicate::False,
        };
    }
    let mut column = resolve_column(key, catalog, &mut Vec::new());
    if column.kind == ColumnKind::Missing {
        // TraceQL-style scopes: `span.http.method`, `resource.service.name`, `.x`.
        for prefix in ["span.", "resource.", "."] {
            if let Some(rest) = key.strip_prefix(prefix) {
                let c = resolve_column(rest, catalog, &mut Vec::new());
                if c.kind != ColumnKind::Missing {
                    column = c;
                    break;
                }
            }
        }
    }
    if column.kind == ColumnKind::Missing {
        let w = format!("tag {key:?} is not a known column; it matches no spans");
        if !warnings.contains(&w) {
            warnings.push(w);
        }
        return Predicate::False;
    }
    compare(&column, CmpOp::Eq, &Value::Str(value.to_string()))
}

/// Rendered search: SQL returning rows `(trace_hi BIGINT, trace_lo BIGINT, root_service
/// VARCHAR, root_name VARCHAR, start_ns BIGINT, duration_ms DOUBLE)`, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedSearch {
    pub sql: String,
    pub warnings: Vec<String>,
}

/// Spans per spanset a TraceQL search returns when `spss` is not given (Tempo's default).
pub const SPANS_PER_SPANSET_DEFAULT: u32 = 3;

/// The matched spans of a TraceQL search for the traces it found: per trace, the first
/// `per_trace` spans satisfying `matched` (oldest first) and how many match in all. Columns:
/// trace hi, lo, span id, start ns, duration ms, name, service, matched count.
pub fn render_matched_spans(
    traces: &[(i64, i64)],
    matched: &Predicate,
    start_ns: i64,
    end_ns: i64,
    per_trace: u32,
    d: &dyn Dialect,
) -> Option<String> {
    if traces.is_empty() {
        return None;
    }
    let r = Renderer::new(
        d,
        start_ns.saturating_sub(TRACE_LOOKAROUND_NS),
        end_ns.saturating_add(TRACE_LOOKAROUND_NS),
    );
    let e = EVENT_ALIAS;
    let id = |x: &str| d.ident(x);
    let (hi, lo) = (r.qcol(e, COL_TRACE_HI), r.qcol(e, COL_TRACE_LO));
    let wanted: Vec<String> = traces
        .iter()
        .map(|(h, l)| format!("({hi} = {} AND {lo} = {})", d.int(*h), d.int(*l)))
        .collect();
    Some(format!(
        "SELECT {h}, {l}, {sid}, {t}, {dur}, {name}, {svc}, {n} FROM (SELECT {hi} AS {h}, {lo} AS {l}, {} AS {sid}, {} AS {t}, {} AS {dur}, {} AS {name}, {} AS {svc}, ROW_NUMBER() OVER (PARTITION BY {hi}, {lo} ORDER BY {}) AS {rn}, COUNT(*) OVER (PARTITION BY {hi}, {lo}) AS {n} FROM {} AS {e2} WHERE {} AND {} = {} AND ({}) AND {}) AS {m} WHERE {rn} <= {} ORDER BY {h}, {l}, {rn}",
        r.qcol(e, COL_SPAN_ID),
        r.qcol(e, COL_TIME_NS),
        r.qcol(e, COL_DURATION_MS),
        r.qcol(e, COL_NAME),
        r.qcol(e, COL_SERVICE),
        r.qcol(e, COL_TIME_NS),
        id(EVENTS_TABLE),
        r.scope(None, e),
        r.qcol(e, COL_KIND),
        d.int(SignalKind::Span as u8 as i64),
        wanted.join(" OR "),
        r.predicate(matched, e),
        d.int(i64::from(per_trace.max(1))),
        h = id("hi"),
        l = id("lo"),
        sid = id("span_id"),
        t = id("start_ns"),
        dur = id("duration_ms"),
        name = id("name"),
        svc = id("service"),
        n = id("matched"),
        rn = id("rn"),
        e2 = id(e),
        m = id("m"),
    ))
}

pub fn render_search(s: &TraceSearch, catalog: &Catalog, d: &dyn Dialect) -> RenderedSearch {
    let mut warnings = Vec::new();
    let pred = Predicate::and(
        s.tags
            .iter()
            .map(|(k, v)| tag_predicate(k, v, catalog, &mut warnings))
            .chain(s.filter.clone())
            .collect(),
    );
    let r = Renderer::new(d, s.start_ns, s.end_ns);
    let id = |x: &str| d.ident(x);
    let e = EVENT_ALIAS;
    let span_kind = d.int(SignalKind::Span as u8 as i64);
    let matching = format!(
        "SELECT DISTINCT {} AS {}, {} AS {} FROM {} AS {} WHERE {} AND {} = {span_kind} AND {} IS NOT NULL AND {}",
        r.qcol(e, COL_TRACE_HI),
        id("hi"),
        r.qcol(e, COL_TRACE_LO),
        id("lo"),
        id(EVENTS_TABLE),
        id(e),
        r.scope(None, e),
        r.qcol(e, COL_KIND),
        r.qcol(e, COL_TRACE_LO),
        r.predicate(&pred, e)
    );
    let sp = "s";
    let root = format!("{} IS NULL", r.qcol(sp, COL_PARENT_ID));
    let end_expr = format!(
        "{} + {}",
        r.qcol(sp, COL_TIME_NS),
        d.to_bigint(&format!(
            "COALESCE({}, 0) * 1000000",
            r.qcol(sp, COL_DURATION_MS)
        ))
    );
    let traces = format!(
        "SELECT {} AS {}, {} AS {}, MIN({}) AS {}, MAX({end_expr}) AS {}, {} AS {}, {} AS {} FROM {} AS {} WHERE {} = {span_kind} AND {} >= {} AND {} < {} AND EXISTS (SELECT 1 FROM {} WHERE {}.{} = {} AND {}.{} = {}) GROUP BY {}, {}",
        r.qcol(sp, COL_TRACE_HI),
        id("hi"),
        r.qcol(sp, COL_TRACE_LO),
        id("lo"),
        r.qcol(sp, COL_TIME_NS),
        id("start_ns"),
        id("end_ns"),
        d.filtered("MIN", &r.qcol(sp, COL_SERVICE), &root),
        id("root_service"),
        d.filtered("MIN", &r.qcol(sp, COL_NAME), &root),
        id("root_name"),
        id(EVENTS_TABLE),
        id(sp),
        r.qcol(sp, COL_KIND),
        r.qcol(sp, COL_TIME_NS),
        d.int(s.start_ns.saturating_sub(TRACE_LOOKAROUND_NS)),
        r.qcol(sp, COL_TIME_NS),
        d.int(s.end_ns.saturating_add(TRACE_LOOKAROUND_NS)),
        id("m"),
        id("m"),
        id("hi"),
        r.qcol(sp, COL_TRACE_HI),
        id("m"),
        id("lo"),
        r.qcol(sp, COL_TRACE_LO),
        r.qcol(sp, COL_TRACE_HI),
        r.qcol(sp, COL_TRACE_LO),
    );
    let dur = format!(
        "{} / 1000000.0",
        d.to_double(&format!("{} - {}", id("end_ns"), id("start_ns")))
    );
    let mut conds = Vec::new();
    if let Some(min) = s.min_duration_ms {
        conds.push(format!("{dur} >= {}", d.double(min)));
    }
    if let Some(max) = s.max_duration_ms {
        conds.push(format!("{dur} <= {}", d.double(max)));
    }
    let where_ = if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    };
    let limit = if s.limit == 0 {
        SEARCH_LIMIT_DEFAULT
    } else {
        s.limit.min(SEARCH_LIMIT_MAX)
    };
    let sql = format!(
        "WITH {} AS ({matching}),\n{} AS ({traces})\nSELECT {}, {}, {}, {}, {}, {dur} AS {} FROM {}{where_} ORDER BY {} DESC, {} ASC, {} ASC LIMIT {limit}",
        id("m"),
        id("t"),
        id("hi"),
        id("lo"),
        id("root_service"),
        id("root_name"),
        id("start_ns"),
        id("duration_ms"),
        id("t"),
        id("start_ns"),
        id("hi"),
        id("lo"),
    );
    RenderedSearch { sql, warnings }
}

/// SQL for the (min, max) event time inside a search's window: the extent
/// [`search_slices`] divides.
pub fn render_extent(s: &TraceSearch, d: &dyn Dialect) -> String {
    let t = d.ident(COL_TIME_NS);
    format!(
        "SELECT MIN({t}), MAX({t}) FROM {} WHERE {t} >= {} AND {t} < {}",
        d.ident(EVENTS_TABLE),
        d.int(s.start_ns),
        d.int(s.end_ns)
    )
}

/// Where a search starts reading, most recent first (see [`search_slices`]).
/// Each slice is this many times longer than the one before (our choice).
const SLICE_GROWTH: i64 = 4;
/// The first slice is the data's extent in the window divided by this (our choice).
const FIRST_SLICE_DIVISOR: i64 = 64;

/// Start times to search from, in order, for a search over `[s.start_ns, s.end_ns)` on data
/// whose times span `[data_min, data_max]`: the most recent 1/64 of the data's extent, then
/// 4× longer slices, and last `s.start_ns` itself. A search ordered by trace start, newest
/// first, can stop at the first slice that already holds `limit` traces starting inside it:
/// no trace starting earlier can rank above them. Most searches then read a small part of
/// the window.
pub fn search_slices(s: &TraceSearch, data_min: i64, data_max: i64) -> Vec<i64> {
    let lo = s.start_ns.max(data_min);
    let hi = s.end_ns.min(data_max.saturating_add(1));
    let mut out = Vec::new();
    if hi > lo {
        let mut width = ((hi - lo) / FIRST_SLICE_DIVISOR).max(1);
        while width < hi - lo {
            out.push(hi - width);
            width = width.saturating_mul(SLICE_GROWTH);
        }
    }
    out.push(s.start_ns);
    out
}

/// Tag names for `/api/search/tags`: the special keys plus every catalog column. No SQL.
pub fn tag_names(catalog: &Catalog) -> Vec<String> {
    let mut names: Vec<String> = [COL_NAME, COL_SERVICE, "status"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for c in catalog.columns.iter().chain(&catalog.overflow) {
        if !c.name.starts_with("__") && !names.contains(&c.name) {
            names.push(c.name.clone());
        }
    }
    names
}

/// SQL for `/api/search/tag/{tag}/values`: distinct values as text, sorted, at most
/// `limit` (capped at [`TAG_VALUES_MAX`]), optionally within a window. None when the tag is
/// not a column (no values).
pub fn render_tag_values(
    tag: &str,
    catalog: &Catalog,
    window_ns: Option<(i64, i64)>,
    limit: u32,
    d: &dyn Dialect,
) -> Option<String> {
    render_tag_values_where(tag, catalog, window_ns, &Predicate::True, limit, d)
}

/// [`render_tag_values`] over the events `filter` holds for (a TraceQL `q=` narrowing
/// Grafana's autocomplete to the query typed so far).
pub fn render_tag_values_where(
    tag: &str,
    catalog: &Catalog,
    window_ns: Option<(i64, i64)>,
    filter: &Predicate,
    limit: u32,
    d: &dyn Dialect,
) -> Option<String> {
    if tag == "status" {
        return None;
    }
    let column = resolve_column(tag, catalog, &mut Vec::new());
    if column.kind == ColumnKind::Missing {
        return None;
    }
    let (start, end) = window_ns.unwrap_or((i64::MIN, i64::MAX));
    let r = Renderer::new(d, start, end);
    let e = EVENT_ALIAS;
    let v = match column.value_type() {
        Some(ColumnType::String) => r.column(&column, e),
        _ => r.text(&column, e),
    };
    let mut conds = vec![format!("{v} IS NOT NULL")];
    if window_ns.is_some() {
        conds.push(r.scope(None, e));
    }
    if *filter != Predicate::True {
        conds.push(format!("COALESCE({}, FALSE)", r.predicate(filter, e)));
    }
    Some(format!(
        "SELECT DISTINCT {v} AS {} FROM {} AS {} WHERE {} ORDER BY 1 LIMIT {}",
        d.ident("v"),
        d.ident(EVENTS_TABLE),
        d.ident(e),
        conds.join(" AND "),
        limit.clamp(1, TAG_VALUES_MAX)
    ))
}

/// Tempo's value type for a tag's values (`/api/v2/search/tag/{tag}/values`).
pub fn tag_value_type(tag: &str, catalog: &Catalog) -> &'static str {
    match tag {
        "status" | "kind" => return "keyword",
        "duration" | "traceDuration" => return "duration",
        _ => {}
    }
    match resolve_column(tag, catalog, &mut Vec::new()).value_type() {
        Some(ColumnType::Integer) => "int",
        Some(ColumnType::Float) => "float",
        Some(ColumnType::Boolean) => "bool",
        _ => "string",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::DuckDb;
    use model::schema::Column;

    #[test]
    fn slices_grow_from_the_newest_data_and_end_with_the_whole_window() {
        let s = TraceSearch {
            start_ns: 0,
            end_ns: 1_000_000,
            ..Default::default()
        };
        // Data only in [6400, 12800]: slices of 100, 400, 1600, 6400, then the window.
        assert_eq!(
            search_slices(&s, 6_400, 12_799),
            vec![12_700, 12_400, 11_200, 0]
        );
        // No data in the window: search it whole.
        assert_eq!(search_slices(&s, 2_000_000, 3_000_000), vec![0]);
    }

    #[test]
    fn logfmt() {
        assert_eq!(
            parse_logfmt(r#"service.name=api  http.url="/a b\"c" status=error e="#).unwrap(),
            vec![
                ("service.name".into(), "api".into()),
                ("http.url".into(), "/a b\"c".into()),
                ("status".into(), "error".into()),
                ("e".into(), "".into()),
            ]
        );
        assert!(parse_logfmt(r#"a="x"#).is_err());
        assert!(parse_logfmt("=x").is_err());
    }

    #[test]
    fn tags_resolve_specials_and_prefixes() {
        let cat = Catalog {
            columns: vec![
                Column {
                    name: "http.status_code".into(),
                    ty: ColumnType::Integer,
                },
                Column {
                    name: "error".into(),
                    ty: ColumnType::Boolean,
                },
            ],
            overflow: Vec::new(),
        };
        let mut w = Vec::new();
        let p = tag_predicate("span.http.status_code", "500", &cat, &mut w);
        assert!(matches!(
            p,
            Predicate::Compare {
                value: Value::Int(500),
                ..
            }
        ));
        let p = tag_predicate("status", "error", &cat, &mut w);
        assert!(matches!(
            p,
            Predicate::Compare {
                value: Value::Bool(true),
                ..
            }
        ));
        assert_eq!(tag_predicate("nope", "x", &cat, &mut w), Predicate::False);
        assert_eq!(w.len(), 1);
        let sql = render_tag_values("http.status_code", &cat, None, 10, &DuckDb).unwrap();
        assert!(
            sql.contains("CAST(\"e\".\"http.status_code\" AS VARCHAR)"),
            "{sql}"
        );
        assert!(render_tag_values("nope", &cat, None, 10, &DuckDb).is_none());
    }
}
