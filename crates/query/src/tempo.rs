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

use std::collections::HashMap;

use crate::dialect::Dialect;
use crate::plan::{compare, resolve_column, CmpOp, ColumnKind, Predicate, TRACE_LOOKAROUND_NS};
use crate::sql::{Renderer, EVENTS_TABLE, EVENT_ALIAS};
use crate::traceql::{NestedSet, Selected};

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

/// Where the selected values start in a [`render_matched_spans`] row.
pub const MATCHED_SELECT_FIRST: usize = 8;

/// The matched spans of a TraceQL search for the traces it found: per trace, the first
/// `per_trace` spans satisfying `matched` (oldest first) and how many match in all. Columns:
/// trace hi, lo, span id, start ns, duration ms, name, service, matched count, then one
/// per stored entry of `select` ([`Selected::is_stored`], in order, from
/// [`MATCHED_SELECT_FIRST`]; read them with [`selected_attributes`]). With nothing stored
/// selected the SQL is the same as without `select`.
pub fn render_matched_spans(
    traces: &[(i64, i64)],
    matched: &Predicate,
    select: &[Selected],
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
    // The selected values: `, expr AS "sel0"` inside, `, "sel0"` outside.
    let (mut inner, mut outer) = (String::new(), String::new());
    for (k, sel) in select.iter().filter(|s| s.is_stored()).enumerate() {
        let alias = id(&format!("sel{k}"));
        inner.push_str(&format!(", {} AS {alias}", selected_sql(sel, &r, e)));
        outer.push_str(&format!(", {alias}"));
    }
    Some(format!(
        "SELECT {h}, {l}, {sid}, {t}, {dur}, {name}, {svc}, {n}{outer} FROM (SELECT {hi} AS {h}, {lo} AS {l}, {} AS {sid}, {} AS {t}, {} AS {dur}, {} AS {name}, {} AS {svc}{inner}, ROW_NUMBER() OVER (PARTITION BY {hi}, {lo} ORDER BY {}) AS {rn}, COUNT(*) OVER (PARTITION BY {hi}, {lo}) AS {n} FROM {} AS {e2} WHERE {} AND {} = {} AND ({}) AND {}) AS {m} WHERE {rn} <= {} ORDER BY {h}, {l}, {rn}",
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

/// One stored selection as an expression over the events row `alias`.
fn selected_sql(sel: &Selected, r: &Renderer<'_>, alias: &str) -> String {
    let d = r.d;
    match sel {
        Selected::Column {
            col, default: None, ..
        } => r.column(col, alias),
        Selected::Column {
            col,
            default: Some(text),
            ..
        } => format!("COALESCE({}, {})", r.text(col, alias), d.string(text)),
        Selected::Status { error, ok } => format!(
            "CASE WHEN COALESCE({}, {f}) THEN {} WHEN COALESCE({}, {f}) THEN {} ELSE {} END",
            r.predicate(error, alias),
            d.string("error"),
            r.predicate(ok, alias),
            d.string("ok"),
            d.string("unset"),
            f = d.bool(false),
        ),
        // Not stored: computed from the span tree.
        Selected::NestedSet(_) => d.null_string(),
    }
}

/// The attributes `select` adds to one span, in `select` order: stored values from a
/// [`render_matched_spans`] row (a null is no attribute), nested-set numbers from `nested`
/// (the span's numbers in [`nested_set_numbers`]; None: the trace's tree was not read
/// whole, and the numbers are left out).
pub fn selected_attributes(
    row: &[Option<Value>],
    select: &[Selected],
    nested: Option<&NestedSetNumbers>,
) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut stored = MATCHED_SELECT_FIRST;
    for sel in select {
        let value = match sel {
            Selected::NestedSet(which) => nested.map(|n| Value::Int(n.get(*which))),
            _ => {
                stored += 1;
                row.get(stored - 1).cloned().flatten()
            }
        };
        if let Some(v) = value {
            out.push((sel.key().to_string(), v));
        }
    }
    out
}

/// Most spans of one trace read for its nested-set numbers (our bound: a trace with more
/// gets no numbers; Tempo's default `max_bytes_per_trace`, 5 MB, holds far fewer).
pub const SPAN_TREE_SPANS_PER_TRACE_MAX: u32 = 100_000;
/// Most rows the span-tree statement returns over all traces (our bound on one search's
/// memory; traces it cuts short get no numbers).
pub const SPAN_TREE_ROWS_MAX: u32 = 1_000_000;

/// Every span of the found traces (in the window widened by [`TRACE_LOOKAROUND_NS`], as
/// [`render_matched_spans`] reads them), for their nested-set numbers. Columns: trace hi,
/// lo, span id, parent id (null for none), start ns, spans in the trace; per trace at most
/// [`SPAN_TREE_SPANS_PER_TRACE_MAX`], oldest first, and [`SPAN_TREE_ROWS_MAX`] in all. Read
/// with [`nested_sets_from_rows`].
pub fn render_span_tree(
    traces: &[(i64, i64)],
    start_ns: i64,
    end_ns: i64,
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
    let (sid, time) = (r.qcol(e, COL_SPAN_ID), r.qcol(e, COL_TIME_NS));
    let wanted: Vec<String> = traces
        .iter()
        .map(|(h, l)| format!("({hi} = {} AND {lo} = {})", d.int(*h), d.int(*l)))
        .collect();
    Some(format!(
        "SELECT {h}, {l}, {s}, {p}, {t}, {n} FROM (SELECT {hi} AS {h}, {lo} AS {l}, {sid} AS {s}, {} AS {p}, {time} AS {t}, ROW_NUMBER() OVER (PARTITION BY {hi}, {lo} ORDER BY {time}, {sid}) AS {rn}, COUNT(*) OVER (PARTITION BY {hi}, {lo}) AS {n} FROM {} AS {e2} WHERE {} AND {} = {} AND {sid} IS NOT NULL AND ({})) AS {m} WHERE {rn} <= {} ORDER BY {h}, {l}, {rn} LIMIT {}",
        r.qcol(e, COL_PARENT_ID),
        id(EVENTS_TABLE),
        r.scope(None, e),
        r.qcol(e, COL_KIND),
        d.int(SignalKind::Span as u8 as i64),
        wanted.join(" OR "),
        d.int(i64::from(SPAN_TREE_SPANS_PER_TRACE_MAX)),
        SPAN_TREE_ROWS_MAX,
        h = id("hi"),
        l = id("lo"),
        s = id("span_id"),
        p = id("parent_id"),
        t = id("start_ns"),
        n = id("spans"),
        rn = id("rn"),
        e2 = id(e),
        m = id("m"),
    ))
}

/// Nested-set numbers per trace (keyed by trace hi, lo) and span id, from the rows of
/// [`render_span_tree`]. A trace only some of whose spans were read (over a bound) is left
/// out: numbers over part of a tree would be wrong.
pub fn nested_sets_from_rows(
    rows: &[Vec<Option<Value>>],
) -> HashMap<(i64, i64), HashMap<u64, NestedSetNumbers>> {
    let int = |r: &[Option<Value>], i: usize| match r.get(i) {
        Some(Some(Value::Int(v))) => Some(*v),
        _ => None,
    };
    let mut traces: HashMap<(i64, i64), (Vec<SpanNode>, i64)> = HashMap::new();
    for r in rows {
        let (Some(h), Some(l), Some(span), Some(start), Some(total)) =
            (int(r, 0), int(r, 1), int(r, 2), int(r, 4), int(r, 5))
        else {
            continue;
        };
        let entry = traces.entry((h, l)).or_insert_with(|| (Vec::new(), total));
        entry.0.push(SpanNode {
            span_id: span as u64,
            parent_id: int(r, 3).map(|p| p as u64),
            start_ns: start,
        });
    }
    traces
        .into_iter()
        .filter(|(_, (spans, total))| i64::try_from(spans.len()).ok() == Some(*total))
        .map(|(key, (spans, _))| (key, nested_set_numbers(&spans)))
        .collect()
}

/// One span of a trace, as its nested-set numbering reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanNode {
    pub span_id: u64,
    pub parent_id: Option<u64>,
    pub start_ns: i64,
}

/// A span's numbers in Tempo's nested-set model of its trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NestedSetNumbers {
    pub left: i64,
    pub right: i64,
    /// The parent's `left`; -1 for a root.
    pub parent: i64,
}

impl NestedSetNumbers {
    pub fn get(&self, which: NestedSet) -> i64 {
        match which {
            NestedSet::Left => self.left,
            NestedSet::Right => self.right,
            NestedSet::Parent => self.parent,
        }
    }
}

/// Tempo's nested-set numbers for one trace's spans: a depth-first walk of the span tree,
/// roots and each span's children in start-time order (ties by span id), with one counter
/// from 1 that every entry and every exit takes and increments: `left` is the counter on
/// entering a span, `right` on leaving it, `parent` the parent's `left`, and -1 for a root
/// (a span without a parent, or whose parent is not among `spans`). So a span's descendants
/// are exactly the spans whose `left` lies between its `left` and `right`.
///
/// Bad data is numbered, never looped on: of spans sharing an id the first (by start time)
/// is the one numbered; a span naming itself as parent is a root; spans in a parent cycle
/// (reachable from no root) are walked after the rooted ones, each cycle broken at its first
/// span, which is numbered as a root. Every span id of `spans` gets numbers; the walk is
/// iterative, in O(n log n) time.
pub fn nested_set_numbers(spans: &[SpanNode]) -> HashMap<u64, NestedSetNumbers> {
    let mut order: Vec<&SpanNode> = spans.iter().collect();
    order.sort_by_key(|s| (s.start_ns, s.span_id));
    let mut index: HashMap<u64, usize> = HashMap::with_capacity(order.len());
    let mut nodes: Vec<&SpanNode> = Vec::with_capacity(order.len());
    for s in order {
        if let std::collections::hash_map::Entry::Vacant(slot) = index.entry(s.span_id) {
            slot.insert(nodes.len());
            nodes.push(s);
        }
    }
    // Children in start order (nodes are sorted); roots likewise.
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    let mut roots = Vec::new();
    for (i, s) in nodes.iter().enumerate() {
        match s.parent_id.and_then(|p| index.get(&p).copied()) {
            Some(p) if p != i => children[p].push(i),
            _ => roots.push(i),
        }
    }
    let mut out: HashMap<u64, NestedSetNumbers> = HashMap::with_capacity(nodes.len());
    let mut numbers: Vec<Option<NestedSetNumbers>> = vec![None; nodes.len()];
    let mut counter: i64 = 1;
    // Rooted spans first, then whatever a cycle kept out of reach, in start order.
    let starts = roots.into_iter().chain(0..nodes.len());
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for start in starts {
        if numbers[start].is_some() {
            continue;
        }
        numbers[start] = Some(NestedSetNumbers {
            left: counter,
            right: 0,
            parent: -1,
        });
        counter += 1;
        stack.push((start, 0));
        while let Some(top) = stack.last_mut() {
            let (node, next) = *top;
            if let Some(&child) = children[node].get(next) {
                top.1 += 1;
                // Already numbered: the edge that closes a cycle.
                if numbers[child].is_some() {
                    continue;
                }
                let parent = numbers[node].map_or(-1, |n| n.left);
                numbers[child] = Some(NestedSetNumbers {
                    left: counter,
                    right: 0,
                    parent,
                });
                counter += 1;
                stack.push((child, 0));
            } else {
                if let Some(n) = numbers[node].as_mut() {
                    n.right = counter;
                }
                counter += 1;
                stack.pop();
            }
        }
    }
    for (s, n) in nodes.iter().zip(numbers) {
        if let Some(n) = n {
            out.insert(s.span_id, n);
        }
    }
    out
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

    fn node(span_id: u64, parent_id: Option<u64>, start_ns: i64) -> SpanNode {
        SpanNode {
            span_id,
            parent_id,
            start_ns,
        }
    }

    fn n(left: i64, right: i64, parent: i64) -> NestedSetNumbers {
        NestedSetNumbers {
            left,
            right,
            parent,
        }
    }

    #[test]
    fn nested_sets_number_a_tree_depth_first_in_start_order() {
        // root(1) → a(2) → g(4); root → b(3). Given out of order.
        let spans = [
            node(3, Some(1), 20),
            node(4, Some(2), 12),
            node(1, None, 0),
            node(2, Some(1), 10),
        ];
        let got = nested_set_numbers(&spans);
        assert_eq!(got.len(), 4);
        assert_eq!(got[&1], n(1, 8, -1));
        assert_eq!(got[&2], n(2, 5, 1));
        assert_eq!(got[&4], n(3, 4, 2));
        assert_eq!(got[&3], n(6, 7, 1));
        // Children starting together go by span id.
        let got = nested_set_numbers(&[node(9, None, 0), node(5, Some(9), 1), node(3, Some(9), 1)]);
        assert_eq!(got[&3], n(2, 3, 1));
        assert_eq!(got[&5], n(4, 5, 1));
        assert_eq!(got[&9], n(1, 6, -1));
        assert!(nested_set_numbers(&[]).is_empty());
    }

    #[test]
    fn nested_sets_number_a_forest_with_dangling_parents_as_roots() {
        let spans = [
            node(20, None, 5),
            node(21, Some(20), 6),
            node(10, None, 0),
            // Its parent is not in the trace: a root, ordered among the roots by start.
            node(30, Some(999), 1),
            // Its own parent: a root.
            node(40, Some(40), 7),
        ];
        let got = nested_set_numbers(&spans);
        assert_eq!(got[&10], n(1, 2, -1));
        assert_eq!(got[&30], n(3, 4, -1));
        assert_eq!(got[&20], n(5, 8, -1));
        assert_eq!(got[&21], n(6, 7, 5));
        assert_eq!(got[&40], n(9, 10, -1));
    }

    #[test]
    fn nested_sets_break_cycles_and_skip_duplicate_ids() {
        // r is rooted; a ⇄ b is a cycle, c hangs off a.
        let spans = [
            node(1, None, 0),
            node(2, Some(3), 1),
            node(3, Some(2), 2),
            node(4, Some(2), 3),
            // A second span with id 4, later: the first is numbered.
            node(4, Some(1), 9),
        ];
        let got = nested_set_numbers(&spans);
        assert_eq!(got.len(), 4);
        assert_eq!(got[&1], n(1, 2, -1));
        assert_eq!(got[&2], n(3, 8, -1));
        assert_eq!(got[&3], n(4, 5, 3));
        assert_eq!(got[&4], n(6, 7, 3));
        // A trace that is one cycle.
        let got = nested_set_numbers(&[node(1, Some(2), 0), node(2, Some(1), 0)]);
        assert_eq!(got[&1], n(1, 4, -1));
        assert_eq!(got[&2], n(2, 3, 1));
    }

    #[test]
    fn nested_sets_walk_a_deep_chain_without_recursion() {
        let spans: Vec<SpanNode> = (1..=200_000u64)
            .map(|i| node(i, (i > 1).then(|| i - 1), i as i64))
            .collect();
        let got = nested_set_numbers(&spans);
        assert_eq!(got[&1], n(1, 400_000, -1));
        assert_eq!(got[&200_000], n(200_000, 200_001, 199_999));
    }

    /// Invariants of any numbering: every id numbered, each counter value used once, the
    /// intervals nested or disjoint, a parent number the left of an enclosing span.
    fn check_nested(spans: &[SpanNode], got: &HashMap<u64, NestedSetNumbers>) {
        let ids: std::collections::HashSet<u64> = spans.iter().map(|s| s.span_id).collect();
        assert_eq!(got.len(), ids.len());
        let mut used: Vec<i64> = got.values().flat_map(|x| [x.left, x.right]).collect();
        used.sort_unstable();
        assert_eq!(used, (1..=2 * ids.len() as i64).collect::<Vec<_>>());
        for a in got.values() {
            assert!(a.left < a.right);
            for b in got.values() {
                let disjoint = a.right < b.left || b.right < a.left;
                let nested = (a.left <= b.left && b.right <= a.right)
                    || (b.left <= a.left && a.right <= b.right);
                assert!(disjoint || nested, "{a:?} {b:?}");
            }
            if a.parent != -1 {
                let p = got.values().find(|p| p.left == a.parent).expect("parent");
                assert!(p.left < a.left && a.right < p.right, "{p:?} {a:?}");
            }
        }
    }

    proptest::proptest! {
        /// Arbitrary parent links (missing, dangling, duplicated ids, self and longer
        /// cycles) always terminate with a consistent numbering.
        #[test]
        fn nested_sets_of_bad_data_are_consistent(
            raw in proptest::collection::vec((0u64..12, proptest::option::of(0u64..14), 0i64..5), 0..30)
        ) {
            let spans: Vec<SpanNode> = raw.iter().map(|&(s, p, t)| node(s, p, t)).collect();
            check_nested(&spans, &nested_set_numbers(&spans));
        }

        /// On a well-formed tree each span's parent number is its parent's left.
        #[test]
        fn nested_sets_of_trees_point_at_parents(
            raw in proptest::collection::vec((proptest::prelude::any::<proptest::sample::Index>(), 0i64..5), 1..30)
        ) {
            let spans: Vec<SpanNode> = raw
                .iter()
                .enumerate()
                .map(|(i, (p, t))| {
                    let parent = (i > 0).then(|| p.index(i) as u64 + 1);
                    node(i as u64 + 1, parent.filter(|_| *t != 0), *t)
                })
                .collect();
            let got = nested_set_numbers(&spans);
            check_nested(&spans, &got);
            for s in &spans {
                let want = s.parent_id.map_or(-1, |p| got[&p].left);
                proptest::prop_assert_eq!(got[&s.span_id].parent, want);
            }
        }
    }

    #[test]
    fn span_tree_rows_give_numbers_for_whole_traces_only() {
        let row = |h: i64, s: i64, p: Option<i64>, t: i64, total: i64| -> Vec<Option<Value>> {
            vec![
                Some(Value::Int(h)),
                Some(Value::Int(7)),
                Some(Value::Int(s)),
                p.map(Value::Int),
                Some(Value::Int(t)),
                Some(Value::Int(total)),
            ]
        };
        let rows = vec![
            row(1, 10, None, 0, 2),
            row(1, 11, Some(10), 5, 2),
            // Trace 2 has three spans; only two were read.
            row(2, 20, None, 0, 3),
            row(2, 21, Some(20), 1, 3),
            // Negative ids (the store's BIGINT halves) are the same bits.
            row(3, -5, None, 0, 1),
        ];
        let got = nested_sets_from_rows(&rows);
        assert_eq!(got.len(), 2);
        assert_eq!(got[&(1, 7)][&10], n(1, 4, -1));
        assert_eq!(got[&(1, 7)][&11], n(2, 3, 1));
        assert!(!got.contains_key(&(2, 7)));
        assert_eq!(got[&(3, 7)][&(-5i64 as u64)], n(1, 2, -1));
    }

    #[test]
    fn selected_values_follow_the_matched_columns() {
        let col = |name: &str, ty| crate::plan::ColumnRef {
            name: name.into(),
            kind: ColumnKind::Stored(ty),
        };
        let select = vec![
            Selected::Column {
                key: "http.method".into(),
                col: col("http.method", ColumnType::String),
                default: None,
            },
            Selected::NestedSet(NestedSet::Left),
            Selected::Status {
                error: Predicate::True,
                ok: Predicate::False,
            },
            Selected::Column {
                key: "gone".into(),
                col: col("gone", ColumnType::Integer),
                default: None,
            },
            Selected::NestedSet(NestedSet::Parent),
        ];
        let mut row: Vec<Option<Value>> = vec![Some(Value::Int(0)); MATCHED_SELECT_FIRST];
        row.extend([
            Some(Value::Str("GET".into())),
            Some(Value::Str("error".into())),
            None,
        ]);
        let numbers = n(2, 3, 1);
        assert_eq!(
            selected_attributes(&row, &select, Some(&numbers)),
            vec![
                ("http.method".to_string(), Value::Str("GET".into())),
                ("nestedSetLeft".to_string(), Value::Int(2)),
                ("status".to_string(), Value::Str("error".into())),
                ("nestedSetParent".to_string(), Value::Int(1)),
            ]
        );
        assert_eq!(selected_attributes(&row, &select, None).len(), 2);
        assert!(selected_attributes(&row[..MATCHED_SELECT_FIRST], &[], None).is_empty());

        // The SQL: one column per stored selection, after the existing ones.
        let d = &DuckDb;
        let plain = render_matched_spans(&[(1, 2)], &Predicate::True, &[], 0, 10, 3, d).unwrap();
        let only_numbers = render_matched_spans(
            &[(1, 2)],
            &Predicate::True,
            &[Selected::NestedSet(NestedSet::Right)],
            0,
            10,
            3,
            d,
        )
        .unwrap();
        assert_eq!(plain, only_numbers);
        assert!(!plain.contains("sel0"), "{plain}");
        let sql = render_matched_spans(&[(1, 2)], &Predicate::True, &select, 0, 10, 3, d).unwrap();
        assert!(
            sql.starts_with(
                "SELECT \"hi\", \"lo\", \"span_id\", \"start_ns\", \"duration_ms\", \"name\", \"service\", \"matched\", \"sel0\", \"sel1\", \"sel2\" FROM"
            ),
            "{sql}"
        );
        assert!(sql.contains("\"e\".\"http.method\" AS \"sel0\""), "{sql}");
        assert!(
            sql.contains("CASE WHEN COALESCE(TRUE, FALSE) THEN 'error' WHEN COALESCE(FALSE, FALSE) THEN 'ok' ELSE 'unset' END AS \"sel1\""),
            "{sql}"
        );
        let kind = Selected::Column {
            key: "kind".into(),
            col: col("span.kind", ColumnType::String),
            default: Some("unspecified"),
        };
        let sql = render_matched_spans(&[(1, 2)], &Predicate::True, &[kind], 0, 10, 3, d).unwrap();
        assert!(
            sql.contains("COALESCE(\"e\".\"span.kind\", 'unspecified') AS \"sel0\""),
            "{sql}"
        );
        assert!(render_matched_spans(&[], &Predicate::True, &select, 0, 10, 3, d).is_none());
    }

    #[test]
    fn span_tree_sql_reads_every_span_of_the_found_traces() {
        assert!(render_span_tree(&[], 0, 10, &DuckDb).is_none());
        let sql = render_span_tree(&[(1, 2), (-3, 4)], 0, 10, &DuckDb).unwrap();
        assert!(
            sql.starts_with(
                "SELECT \"hi\", \"lo\", \"span_id\", \"parent_id\", \"start_ns\", \"spans\" FROM"
            ),
            "{sql}"
        );
        assert!(
            sql.contains("(\"e\".\"__trace_hi\" = -3 AND \"e\".\"__trace_lo\" = 4)"),
            "{sql}"
        );
        assert!(sql.contains("\"e\".\"__span_id\" IS NOT NULL"), "{sql}");
        assert!(
            sql.ends_with(&format!("LIMIT {SPAN_TREE_ROWS_MAX}")),
            "{sql}"
        );
    }

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
