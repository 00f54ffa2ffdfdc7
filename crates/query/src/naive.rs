//! A naive in-memory evaluator of [`Plan`]s over `&[Event]`: the executable definition of
//! what the rendered SQL must return (same rows, same columns, same order). Quadratic in
//! places (whole-trace predicates); meant for tests and tiny data, not for serving.

use std::cmp::Ordering;

use model::schema::{COL_DURATION_MS, COL_NAME, COL_SERVICE};
use model::{Event, SignalKind, SpanId, Value};

use crate::derived::{ArithOp, Node, Typed};
use crate::plan::{
    format_double, ColumnKind, ColumnRef, EventList, JsonRead, JsonStep, Operand, OrderTarget,
    Plan, Predicate, Relation, SpanAgg, TraceScope, DELIMITED_TOKEN_RE, HEATMAP_BUCKETS,
    TRACE_LOOKAROUND_NS,
};
use crate::spec::CalcOp;
use crate::Row;

/// The value of a column on an event, as the store holds it.
pub fn column_value(c: &ColumnRef, e: &Event) -> Option<Value> {
    match c.kind {
        ColumnKind::Missing => None,
        ColumnKind::TraceId => e.trace_id.map(|t| Value::Str(t.to_honeycomb_hex())),
        ColumnKind::SpanId => e.span_id.map(|s| Value::Str(s.to_hex())),
        ColumnKind::ParentId => e.parent_id.map(|s| Value::Str(s.to_hex())),
        ColumnKind::Timestamp => Some(Value::Int(e.time_ns)),
        ColumnKind::Dataset => Some(Value::Str(e.dataset.clone())),
        ColumnKind::Stored(_) => match c.name.as_str() {
            COL_NAME => e.name.clone().map(Value::Str),
            COL_SERVICE => e.service.clone().map(Value::Str),
            COL_DURATION_MS => e.duration_ms.map(Value::Float),
            name => e.get(name).cloned(),
        },
        ColumnKind::Spilled { ty, .. } => e.get(&c.name).and_then(|v| coerce(v, ty)),
        ColumnKind::Derived(ref d) => eval(&d.expr, e),
    }
}

/// A value read as a column of another type, as the store's `TRY_CAST` does.
fn coerce(v: &Value, ty: model::value::ColumnType) -> Option<Value> {
    use model::value::ColumnType;
    Some(match (v, ty) {
        (v, t) if v.column_type() == t => v.clone(),
        (Value::Int(i), ColumnType::Float) => Value::Float(*i as f64),
        (v, ColumnType::String) => Value::Str(v.to_string()),
        (Value::Str(s), ColumnType::Float) => Value::Float(parse_double(s)?),
        (Value::Str(s), ColumnType::Integer) => Value::Int(s.trim().parse().ok()?),
        _ => return None,
    })
}

/// A string as a double the way the store casts text (`TRY_CAST(s AS DOUBLE)`).
fn parse_double(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok()
}

/// Equality of two values of one type (doubles: NaN equals NaN, as in DuckDB).
fn eq_values(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x == y || (x.is_nan() && y.is_nan()),
        _ => compare_values(a, b) == Some(Ordering::Equal),
    }
}

/// DuckDB's total order of values of one type: NaN is the largest double, equal to itself.
fn order_values(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => Some(match (x.is_nan(), y.is_nan()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            _ => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        }),
        _ => compare_values(a, b),
    }
}

fn bool_of(v: Option<Value>) -> bool {
    matches!(v, Some(Value::Bool(true)))
}

fn float_of(v: Option<Value>) -> Option<f64> {
    match v? {
        Value::Float(f) => Some(f),
        Value::Int(i) => Some(i as f64),
        _ => None,
    }
}

fn str_of(v: Option<Value>) -> Option<String> {
    match v? {
        Value::Str(s) => Some(s),
        _ => None,
    }
}

/// A truncated double in `[-2^63, 2^63)` fits a BIGINT (the store's `TRY_CAST` range).
const I64_BOUND: f64 = 9_223_372_036_854_775_808.0;

/// Evaluates a derived column expression on one event (semantics: `derived` module docs;
/// `sql::Renderer::derived` renders the same).
pub fn eval(t: &Typed, e: &Event) -> Option<Value> {
    let ev = |x: &Typed| eval(x, e);
    match &t.node {
        Node::Lit(v) => v.clone(),
        Node::Column(c) => column_value(c, e),
        Node::EventTime => Some(Value::Float(e.time_ns as f64 / 1e9)),
        Node::Truthy(x) => Some(Value::Bool(match ev(x) {
            None => false,
            Some(Value::Bool(b)) => b,
            Some(Value::Int(i)) => i != 0,
            Some(Value::Float(f)) => f != 0.0,
            Some(Value::Str(s)) => s == "true",
        })),
        Node::ToFloat(x) => Some(Value::Float(match ev(x)? {
            Value::Float(f) => f,
            Value::Int(i) => i as f64,
            Value::Bool(_) => 0.0,
            Value::Str(s) => parse_double(&s).unwrap_or(0.0),
        })),
        Node::ToText(x) => Some(Value::Str(match ev(x)? {
            Value::Str(s) => s,
            Value::Int(i) => i.to_string(),
            Value::Float(f) => format_double(f),
            Value::Bool(b) => b.to_string(),
        })),
        Node::TruncInt(x) => {
            let f = float_of(ev(x))?.trunc();
            (-I64_BOUND..I64_BOUND)
                .contains(&f)
                .then_some(Value::Int(f as i64))
        }
        Node::Not(x) => Some(Value::Bool(!bool_of(ev(x)))),
        Node::And(xs) => Some(Value::Bool(xs.iter().all(|x| bool_of(ev(x))))),
        Node::Or(xs) => Some(Value::Bool(xs.iter().any(|x| bool_of(ev(x))))),
        Node::Exists(x) => Some(Value::Bool(ev(x).is_some())),
        Node::Case { arms, default } => {
            for (c, v) in arms {
                if bool_of(ev(c)) {
                    return ev(v);
                }
            }
            default.as_deref().and_then(ev)
        }
        Node::Switch {
            subject,
            cases,
            default,
        } => {
            if let Some(s) = ev(subject) {
                for (c, v) in cases {
                    if eq_values(&s, c) {
                        return ev(v);
                    }
                }
            }
            default.as_deref().and_then(ev)
        }
        Node::Coalesce(xs) => xs.iter().find_map(ev),
        Node::Cmp { op, a, b } => Some(Value::Bool(match (ev(a), ev(b)) {
            (Some(x), Some(y)) => order_values(&x, &y).is_some_and(|o| op.holds(o)),
            _ => false,
        })),
        Node::In {
            subject,
            candidates,
        } => Some(Value::Bool(ev(subject).is_some_and(|s| {
            candidates
                .iter()
                .any(|c| ev(c).is_some_and(|c| eq_values(&s, &c)))
        }))),
        Node::Arith { op, a, b } => {
            let (x, y) = (float_of(ev(a))?, float_of(ev(b))?);
            Some(Value::Float(match op {
                ArithOp::Add => x + y,
                ArithOp::Sub => x - y,
                ArithOp::Mul => x * y,
                ArithOp::Div if y == 0.0 => return None,
                ArithOp::Div => x / y,
                ArithOp::Mod if y == 0.0 => return None,
                ArithOp::Mod => x % y,
            }))
        }
        Node::Log10(x) => {
            let f = float_of(ev(x))?;
            (f > 0.0 || f.is_nan()).then(|| Value::Float(f.log10()))
        }
        Node::Least(xs) | Node::Greatest(xs) => {
            let want = if matches!(t.node, Node::Least(_)) {
                Ordering::Less
            } else {
                Ordering::Greater
            };
            let mut best: Option<Value> = None;
            for v in xs.iter().filter_map(ev) {
                best = match best {
                    Some(b) if order_values(&v, &b) != Some(want) => Some(b),
                    _ => Some(v),
                };
            }
            best
        }
        Node::Concat(xs) => Some(Value::Str(
            xs.iter().filter_map(|x| str_of(ev(x))).collect(),
        )),
        Node::Lower(x) => str_of(ev(x)).map(|s| Value::Str(s.to_lowercase())),
        Node::StartsWith(a, b) | Node::EndsWith(a, b) | Node::Contains(a, b) => {
            Some(Value::Bool(match (str_of(ev(a)), str_of(ev(b))) {
                (Some(x), Some(y)) => match t.node {
                    Node::StartsWith(..) => x.starts_with(&y),
                    Node::EndsWith(..) => x.ends_with(&y),
                    _ => x.contains(&y),
                },
                _ => false,
            }))
        }
        Node::Length { bytes, arg } => str_of(ev(arg))
            .map(|s| Value::Int(if *bytes { s.len() } else { s.chars().count() } as i64)),
        Node::RegMatch(x, p) => Some(Value::Bool(
            str_of(ev(x)).is_some_and(|s| p.regex.is_match(&s)),
        )),
        Node::RegValue(x, p, g) => {
            let s = str_of(ev(x))?;
            let m = p.regex.captures(&s)?.get(*g)?.as_str().to_string();
            (!m.is_empty()).then_some(Value::Str(m))
        }
        Node::RegCount(x, p) => Some(Value::Int(
            str_of(ev(x)).map_or(0, |s| p.regex.find_iter(&s).count() as i64),
        )),
    }
}

/// A column as a double: numbers as is, booleans 1/0, strings parsed (else missing).
pub fn numeric_value(c: &ColumnRef, e: &Event) -> Option<f64> {
    match column_value(c, e)? {
        Value::Float(f) => Some(f),
        Value::Int(i) => Some(i as f64),
        Value::Bool(b) => Some(if b { 1.0 } else { 0.0 }),
        Value::Str(s) => s.trim().parse::<f64>().ok(),
    }
}

/// A column as text (integers decimal, doubles shortest round-trip, `true`/`false`).
pub fn text_value(c: &ColumnRef, e: &Event) -> Option<String> {
    Some(match column_value(c, e)? {
        Value::Str(s) => s,
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format_double(f),
        Value::Bool(b) => b.to_string(),
    })
}

fn operand_value(o: &Operand, e: &Event) -> Option<Value> {
    match o {
        Operand::Column(c) => column_value(c, e),
        Operand::AsDouble(c) => numeric_value(c, e).map(Value::Float),
        Operand::AsText(c) => text_value(c, e).map(Value::Str),
        Operand::Json { column, path, read } => json_value(&text_value(column, e)?, path, *read),
        Operand::Delimited {
            column,
            index,
            numeric,
        } => {
            let f = delimited_field(&text_value(column, e)?, *index)?;
            if *numeric {
                parse_double(&f).map(Value::Float)
            } else {
                Some(Value::Str(f))
            }
        }
        Operand::DelimitedCount(column) => Some(Value::Int(
            delimited_tokens(&text_value(column, e)?).len() as i64,
        )),
    }
}

/// [`Operand::Json`] on one text (`Dialect::json_value` renders the same).
pub fn json_value(text: &str, path: &[JsonStep], read: JsonRead) -> Option<Value> {
    let doc: serde_json::Value = serde_json::from_str(text).ok()?;
    let mut v = &doc;
    for step in path {
        v = match step {
            JsonStep::Key(k) => v.as_object()?.get(k)?,
            JsonStep::Index(i) => v.as_array()?.get(*i as usize)?,
        };
    }
    use serde_json::Value as J;
    match (read, v) {
        (JsonRead::String, J::String(s)) => Some(Value::Str(s.clone())),
        (JsonRead::Number, J::Number(n)) => n.as_f64().map(Value::Float),
        (JsonRead::Boolean, J::Bool(b)) => Some(Value::Bool(*b)),
        (JsonRead::Kind, v) => Some(Value::Str(
            match v {
                J::String(_) => "string",
                J::Number(_) => "number",
                J::Bool(_) => "boolean",
                J::Null => "null",
                J::Object(_) => "object",
                J::Array(_) => "array",
            }
            .into(),
        )),
        _ => None,
    }
}

fn token_regex() -> Option<&'static regex::Regex> {
    static RE: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    RE.get_or_init(|| regex::Regex::new(DELIMITED_TOKEN_RE).ok())
        .as_ref()
}

/// The space-delimited fields of `text` ([`DELIMITED_TOKEN_RE`] matches, grouping kept).
pub fn delimited_tokens(text: &str) -> Vec<&str> {
    token_regex().map_or_else(Vec::new, |re| {
        re.find_iter(text).map(|m| m.as_str()).collect()
    })
}

/// [`Operand::Delimited`]'s field `index` of `text`, without `[]` / `""` grouping.
pub fn delimited_field(text: &str, index: i64) -> Option<String> {
    let toks = delimited_tokens(text);
    let i = if index >= 0 {
        usize::try_from(index).ok()?
    } else {
        toks.len()
            .checked_sub(usize::try_from(index.unsigned_abs()).ok()?)?
    };
    let t = *toks.get(i)?;
    let grouped = t.len() >= 2
        && ((t.starts_with('[') && t.ends_with(']')) || (t.starts_with('"') && t.ends_with('"')));
    Some(if grouped {
        t[1..t.len() - 1].to_string()
    } else {
        t.to_string()
    })
}

/// SQL-style comparison of two values of like type (None when incomparable).
pub fn compare_values(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y),
        (Value::Int(x), Value::Float(y)) => (*x as f64).partial_cmp(y),
        (Value::Float(x), Value::Int(y)) => x.partial_cmp(&(*y as f64)),
        (Value::Str(x), Value::Str(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// Evaluation context: all events (for whole-trace predicates) and the query window.
pub struct Ctx<'a> {
    pub events: &'a [Event],
    pub start_ns: i64,
    pub end_ns: i64,
}

/// Whether `e` satisfies `p` (two-valued).
pub fn matches(p: &Predicate, e: &Event, ctx: &Ctx<'_>) -> bool {
    match p {
        Predicate::True => true,
        Predicate::False => false,
        Predicate::And(ps) => ps.iter().all(|p| matches(p, e, ctx)),
        Predicate::Or(ps) => ps.iter().any(|p| matches(p, e, ctx)),
        Predicate::Not(p) => !matches(p, e, ctx),
        Predicate::Compare { lhs, op, value } => operand_value(lhs, e)
            .and_then(|v| compare_values(&v, value))
            .is_some_and(|o| op.holds(o)),
        Predicate::Exists(c) => column_value(c, e).is_some(),
        Predicate::StartsWith(o, s) => {
            matches!(operand_value(o, e), Some(Value::Str(v)) if v.starts_with(s.as_str()))
        }
        Predicate::EndsWith(o, s) => {
            matches!(operand_value(o, e), Some(Value::Str(v)) if v.ends_with(s.as_str()))
        }
        Predicate::Contains(o, s) => {
            matches!(operand_value(o, e), Some(Value::Str(v)) if v.contains(s.as_str()))
        }
        Predicate::Regex(o, p) => {
            matches!(operand_value(o, e), Some(Value::Str(v)) if p.regex.is_match(&v))
        }
        Predicate::In(o, values) => operand_value(o, e).is_some_and(|v| {
            values
                .iter()
                .any(|x| compare_values(&v, x) == Some(Ordering::Equal))
        }),
        Predicate::TraceIdIs(id) => e.trace_id == Some(*id),
        Predicate::SpanIdIs { parent, id } => {
            if *parent {
                e.parent_id == Some(*id)
            } else {
                e.span_id == Some(*id)
            }
        }
        Predicate::KindIn(kinds) => kinds.contains(&e.kind),
        Predicate::Trace { scope, predicate } => {
            let Some(tid) = e.trace_id else { return false };
            let lo = ctx.start_ns.saturating_sub(TRACE_LOOKAROUND_NS);
            let hi = ctx.end_ns.saturating_add(TRACE_LOOKAROUND_NS);
            ctx.events.iter().any(|s| {
                s.trace_id == Some(tid)
                    && s.kind == SignalKind::Span
                    && (*scope == TraceScope::Any || s.parent_id.is_none())
                    && s.time_ns >= lo
                    && s.time_ns < hi
                    && matches(predicate, s, ctx)
            })
        }
        Predicate::Edge { parent, child } => trace_spans(e, ctx).any(|c| {
            matches(child, c, ctx)
                && c.parent_id.is_some_and(|pid| {
                    trace_spans(c, ctx).any(|p| p.span_id == Some(pid) && matches(parent, p, ctx))
                })
        }),
        Predicate::TraceDuration { op, ms } => trace_duration_ms(e, ctx)
            .and_then(|d| d.partial_cmp(ms))
            .is_some_and(|o| op.holds(o)),
        Predicate::Related { relation, other } => related(*relation, other, e, ctx),
        Predicate::SpanAggregate {
            predicate,
            agg,
            operand,
            group,
            op,
            value,
        } => span_aggregate(predicate, *agg, operand.as_ref(), group, e, ctx)
            .and_then(|v| order_values(&Value::Float(v), &Value::Float(*value)))
            .is_some_and(|o| op.holds(o)),
    }
}

/// [`Predicate::Related`] on `e`.
fn related(relation: Relation, other: &Predicate, e: &Event, ctx: &Ctx<'_>) -> bool {
    if e.kind != SignalKind::Span || e.trace_id.is_none() {
        return false;
    }
    let spans: Vec<&Event> = trace_spans(e, ctx).collect();
    let holds = |o: &Event| matches(other, o, ctx);
    match relation {
        Relation::Parent => e
            .parent_id
            .is_some_and(|p| spans.iter().any(|o| o.span_id == Some(p) && holds(o))),
        Relation::Child => e
            .span_id
            .is_some_and(|id| spans.iter().any(|o| o.parent_id == Some(id) && holds(o))),
        Relation::Sibling => e.parent_id.is_some_and(|p| {
            spans
                .iter()
                .any(|o| o.parent_id == Some(p) && o.span_id != e.span_id && holds(o))
        }),
        // Follow the id links; each id is expanded once, so cycles end.
        Relation::Ancestor | Relation::Descendant => {
            let up = relation == Relation::Ancestor;
            // Up: the ids of spans to look at next are parent ids; down: span ids whose
            // children come next.
            let mut next: Vec<SpanId> = if up { e.parent_id } else { e.span_id }
                .into_iter()
                .collect();
            let mut seen: Vec<SpanId> = Vec::new();
            while let Some(id) = next.pop() {
                if seen.contains(&id) {
                    continue;
                }
                seen.push(id);
                for o in &spans {
                    let (link, onward) = if up {
                        (o.span_id, o.parent_id)
                    } else {
                        (o.parent_id, o.span_id)
                    };
                    if link != Some(id) {
                        continue;
                    }
                    if holds(o) {
                        return true;
                    }
                    next.extend(onward);
                }
            }
            false
        }
    }
}

/// Group values equal, missing equal to missing (SQL `IS NOT DISTINCT FROM`).
fn same_key(a: &Option<Value>, b: &Option<Value>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => eq_values(x, y),
        _ => false,
    }
}

/// [`Predicate::SpanAggregate`]'s aggregate for `e` (None: no span counted or no value).
pub fn span_aggregate(
    predicate: &Predicate,
    agg: SpanAgg,
    operand: Option<&Operand>,
    group: &[ColumnRef],
    e: &Event,
    ctx: &Ctx<'_>,
) -> Option<f64> {
    let keys: Vec<Option<Value>> = group.iter().map(|c| column_value(c, e)).collect();
    let mut spans = 0u64;
    let mut values = 0u64;
    let mut sum = 0.0;
    let mut best: Option<f64> = None;
    for s in trace_spans(e, ctx) {
        if !matches(predicate, s, ctx)
            || !group
                .iter()
                .zip(&keys)
                .all(|(c, k)| same_key(&column_value(c, s), k))
        {
            continue;
        }
        spans += 1;
        let Some(v) = operand.and_then(|o| double_value(o, s)) else {
            continue;
        };
        values += 1;
        sum += v;
        let want = if agg == SpanAgg::Min {
            Ordering::Less
        } else {
            Ordering::Greater
        };
        best = match best {
            Some(b) if order_values(&Value::Float(v), &Value::Float(b)) != Some(want) => Some(b),
            _ => Some(v),
        };
    }
    match agg {
        SpanAgg::Count => (spans > 0).then_some(spans as f64),
        SpanAgg::Sum => (values > 0).then_some(sum),
        SpanAgg::Avg => (values > 0).then(|| sum / values as f64),
        SpanAgg::Min | SpanAgg::Max => best,
    }
}

/// An operand as a double the way the store's `TRY_CAST(… AS DOUBLE)` reads it.
fn double_value(o: &Operand, e: &Event) -> Option<f64> {
    match operand_value(o, e)? {
        Value::Float(f) => Some(f),
        Value::Int(i) => Some(i as f64),
        Value::Bool(b) => Some(if b { 1.0 } else { 0.0 }),
        Value::Str(s) => parse_double(&s),
    }
}

/// The spans of `e`'s trace inside the widened window (none without a trace id).
fn trace_spans<'a>(e: &Event, ctx: &Ctx<'a>) -> impl Iterator<Item = &'a Event> {
    let tid = e.trace_id;
    let lo = ctx.start_ns.saturating_sub(TRACE_LOOKAROUND_NS);
    let hi = ctx.end_ns.saturating_add(TRACE_LOOKAROUND_NS);
    ctx.events.iter().filter(move |s| {
        tid.is_some()
            && s.trace_id == tid
            && s.kind == SignalKind::Span
            && s.time_ns >= lo
            && s.time_ns < hi
    })
}

/// [`Predicate::TraceDuration`]'s duration of `e`'s trace.
pub fn trace_duration_ms(e: &Event, ctx: &Ctx<'_>) -> Option<f64> {
    let mut start: Option<i64> = None;
    let mut end: Option<i64> = None;
    for s in trace_spans(e, ctx) {
        start = Some(start.map_or(s.time_ns, |x| x.min(s.time_ns)));
        let d = (s.duration_ms.unwrap_or(0.0) * 1e6).trunc();
        if (-I64_BOUND..I64_BOUND).contains(&d) {
            if let Some(t) = s.time_ns.checked_add(d as i64) {
                end = Some(end.map_or(t, |x| x.max(t)));
            }
        }
    }
    Some((end?.checked_sub(start?)?) as f64 / 1e6)
}

/// Whether `e` is in the plan's window and dataset.
pub fn in_scope(plan: &Plan, e: &Event) -> bool {
    e.time_ns >= plan.start_ns
        && e.time_ns < plan.end_ns
        && plan
            .dataset
            .as_ref()
            .is_none_or(|d| e.dataset.to_lowercase() == d.to_lowercase())
}

fn bucket_of(t: i64, width: i64) -> i64 {
    t - t % width.max(1)
}

fn agg_input(plan: &Plan, i: usize, e: &Event) -> Option<Value> {
    let a = &plan.aggregates[i];
    match a.op {
        CalcOp::Count => None,
        CalcOp::Concurrency => e.duration_ms.map(Value::Float),
        CalcOp::CountDistinct => a.column.as_ref().and_then(|c| column_value(c, e)),
        _ => a
            .column
            .as_ref()
            .and_then(|c| numeric_value(c, e))
            .map(Value::Float),
    }
}

fn f(v: &Option<Value>) -> Option<f64> {
    v.as_ref().and_then(Value::as_f64)
}

/// Orders keys like SQL `ASC/DESC NULLS LAST`.
fn cmp_opt(a: &Option<Value>, b: &Option<Value>, desc: bool) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => {
            let o = compare_values(x, y).unwrap_or(Ordering::Equal);
            if desc {
                o.reverse()
            } else {
                o
            }
        }
    }
}

/// Group key values.
type Key = Vec<Option<Value>>;
/// (row index, time ns, value) of one event feeding a RATE_* aggregate.
type RatePoint = (usize, i64, f64);

struct Prepared<'a> {
    /// Events in scope with their group keys.
    rows: Vec<(&'a Event, Vec<Option<Value>>)>,
    /// Rate per (row index, aggregate index) for RATE_* aggregates.
    rates: Vec<Vec<Option<f64>>>,
    /// Heatmap bounds per aggregate.
    bounds: Vec<Option<(f64, f64)>>,
}

fn prepare<'a>(plan: &Plan, events: &'a [Event]) -> Prepared<'a> {
    let ctx = Ctx {
        events,
        start_ns: plan.start_ns,
        end_ns: plan.end_ns,
    };
    let rows: Vec<(&Event, Vec<Option<Value>>)> = events
        .iter()
        .filter(|e| in_scope(plan, e) && matches(&plan.predicate, e, &ctx))
        .map(|e| {
            let keys = plan.group_by.iter().map(|c| column_value(c, e)).collect();
            (e, keys)
        })
        .collect();
    let n_aggs = plan.aggregates.len();
    let mut rates = vec![vec![None; n_aggs]; rows.len()];
    let mut bounds = vec![None; n_aggs];
    for (ai, agg) in plan.aggregates.iter().enumerate() {
        if matches!(agg.op, CalcOp::RateAvg | CalcOp::RateSum | CalcOp::RateMax) {
            // Per group: events with a value ordered by (time, value).
            let mut groups: Vec<(&Key, Vec<RatePoint>)> = Vec::new();
            for (ri, (e, keys)) in rows.iter().enumerate() {
                let Some(v) = f(&agg_input(plan, ai, e)) else {
                    continue;
                };
                match groups.iter_mut().find(|(k, _)| *k == keys) {
                    Some((_, list)) => list.push((ri, e.time_ns, v)),
                    None => groups.push((keys, vec![(ri, e.time_ns, v)])),
                }
            }
            for (_, mut list) in groups {
                list.sort_by(|a, b| a.1.cmp(&b.1).then(a.2.total_cmp(&b.2)));
                for w in list.windows(2) {
                    let (prev, cur) = (w[0], w[1]);
                    let dt = (cur.1 - prev.1) as f64 / 1e9;
                    if dt != 0.0 {
                        rates[cur.0][ai] = Some((cur.2 - prev.2) / dt);
                    }
                }
            }
        }
        if agg.op == CalcOp::Heatmap {
            let vals: Vec<f64> = rows
                .iter()
                .filter_map(|(e, _)| f(&agg_input(plan, ai, e)))
                .collect();
            if !vals.is_empty() {
                let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                bounds[ai] = Some((lo, hi));
            }
        }
    }
    Prepared {
        rows,
        rates,
        bounds,
    }
}

/// Aggregates of one group (row indexes into `prep.rows`), as output cells.
fn aggregate(plan: &Plan, prep: &Prepared<'_>, members: &[usize], bucket_ms: f64) -> Row {
    let mut out = Vec::new();
    for (ai, agg) in plan.aggregates.iter().enumerate() {
        let vals: Vec<(f64, i64)> = members
            .iter()
            .filter_map(|&ri| {
                let e = prep.rows[ri].0;
                f(&agg_input(plan, ai, e)).map(|v| (v, i64::from(e.sample_rate)))
            })
            .collect();
        let wsum: i64 = vals.iter().map(|(_, w)| w).sum();
        let cell = match agg.op {
            CalcOp::Count => Some(Value::Int(
                members
                    .iter()
                    .map(|&ri| i64::from(prep.rows[ri].0.sample_rate))
                    .sum(),
            )),
            CalcOp::Concurrency => Some(Value::Float(
                vals.iter().map(|(v, w)| v * *w as f64).sum::<f64>() / bucket_ms,
            )),
            CalcOp::Sum => (!vals.is_empty())
                .then(|| Value::Float(vals.iter().map(|(v, w)| v * *w as f64).sum())),
            CalcOp::Avg => (!vals.is_empty()).then(|| {
                Value::Float(vals.iter().map(|(v, w)| v * *w as f64).sum::<f64>() / wsum as f64)
            }),
            CalcOp::Min => vals
                .iter()
                .map(|(v, _)| *v)
                .reduce(f64::min)
                .map(Value::Float),
            CalcOp::Max => vals
                .iter()
                .map(|(v, _)| *v)
                .reduce(f64::max)
                .map(Value::Float),
            CalcOp::CountDistinct => {
                let mut seen: Vec<Value> = Vec::new();
                for &ri in members {
                    if let Some(v) = agg_input(plan, ai, prep.rows[ri].0) {
                        if !seen.contains(&v) {
                            seen.push(v);
                        }
                    }
                }
                Some(Value::Int(seen.len() as i64))
            }
            CalcOp::RateAvg | CalcOp::RateSum | CalcOp::RateMax => {
                let rs: Vec<f64> = members
                    .iter()
                    .filter_map(|&ri| prep.rates[ri][ai])
                    .collect();
                if rs.is_empty() {
                    None
                } else {
                    Some(Value::Float(match agg.op {
                        CalcOp::RateAvg => rs.iter().sum::<f64>() / rs.len() as f64,
                        CalcOp::RateSum => rs.iter().sum(),
                        _ => rs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                    }))
                }
            }
            CalcOp::Heatmap => {
                let text = prep.bounds[ai].and_then(|(lo, hi)| {
                    let mut counts: Vec<(i64, i64)> = Vec::new();
                    for (v, w) in &vals {
                        let idx = if hi == lo {
                            0
                        } else {
                            (((v - lo) / (hi - lo) * HEATMAP_BUCKETS as f64).floor() as i64)
                                .min(HEATMAP_BUCKETS - 1)
                        };
                        match counts.iter_mut().find(|(i, _)| *i == idx) {
                            Some(c) => c.1 += w,
                            None => counts.push((idx, *w)),
                        }
                    }
                    counts.sort();
                    (!counts.is_empty()).then(|| {
                        counts
                            .iter()
                            .map(|(i, n)| format!("{i}:{n}"))
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                });
                out.push(text.map(Value::Str));
                out.push(prep.bounds[ai].map(|b| Value::Float(b.0)));
                out.push(prep.bounds[ai].map(|b| Value::Float(b.1)));
                continue;
            }
            op => {
                let pm = i128::from(op.permille().unwrap_or(500));
                let mut sorted = vals.clone();
                sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
                let total = i128::from(wsum);
                let mut cum: i128 = 0;
                let mut found = None;
                for (v, w) in sorted {
                    cum += i128::from(w);
                    if cum * 1000 >= pm * total {
                        found = Some(v);
                        break;
                    }
                }
                found.map(Value::Float)
            }
        };
        out.push(cell);
    }
    out
}

/// Groups of row indexes by key (first-seen order).
fn group_rows(
    keys: impl Iterator<Item = Vec<Option<Value>>>,
) -> Vec<(Vec<Option<Value>>, Vec<usize>)> {
    let mut groups: Vec<(Vec<Option<Value>>, Vec<usize>)> = Vec::new();
    for (ri, k) in keys.enumerate() {
        match groups.iter_mut().find(|(g, _)| *g == k) {
            Some((_, m)) => m.push(ri),
            None => groups.push((k, vec![ri])),
        }
    }
    groups
}

/// Position of aggregate `i`'s main cell in an aggregate row (heatmaps take 3 cells).
fn agg_cell(plan: &Plan, i: usize) -> usize {
    plan.aggregates[..i]
        .iter()
        .map(|a| if a.op == CalcOp::Heatmap { 3 } else { 1 })
        .sum()
}

fn totals_groups(plan: &Plan, prep: &Prepared<'_>) -> Vec<(Vec<Option<Value>>, Row)> {
    let mut groups = group_rows(prep.rows.iter().map(|(_, k)| k.clone()));
    if plan.group_by.is_empty() && groups.is_empty() {
        groups.push((Vec::new(), Vec::new()));
    }
    let range_ms = (plan.end_ns.saturating_sub(plan.start_ns)).max(1) as f64 / 1e6;
    let mut out: Vec<(Vec<Option<Value>>, Row)> = groups
        .into_iter()
        .map(|(k, m)| {
            let aggs = aggregate(plan, prep, &m, range_ms);
            (k, aggs)
        })
        .filter(|(_, aggs)| {
            plan.havings.iter().all(|h| {
                f(&aggs[agg_cell(plan, h.aggregate)])
                    .and_then(|v| v.partial_cmp(&h.value))
                    .is_some_and(|o| h.op.holds(o))
            })
        })
        .collect();
    out.sort_by(|(ka, aa), (kb, ab)| {
        for o in &plan.orders {
            let ord = match o.target {
                OrderTarget::Aggregate(i) => {
                    let c = agg_cell(plan, i);
                    cmp_opt(&aa[c], &ab[c], o.descending)
                }
                OrderTarget::Group(i) => cmp_opt(&ka[i], &kb[i], o.descending),
            };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        for i in 0..ka.len() {
            let ord = cmp_opt(&ka[i], &kb[i], false);
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    });
    out.truncate(plan.limit as usize);
    out
}

/// The rows `sql::render_totals` returns.
pub fn run_totals(plan: &Plan, events: &[Event]) -> Vec<Row> {
    let prep = prepare(plan, events);
    totals_groups(plan, &prep)
        .into_iter()
        .map(|(mut k, aggs)| {
            k.extend(aggs);
            k
        })
        .collect()
}

/// The rows `sql::render_series` returns.
pub fn run_series(plan: &Plan, events: &[Event]) -> Vec<Row> {
    let prep = prepare(plan, events);
    let top: Vec<Vec<Option<Value>>> = totals_groups(plan, &prep)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let g = plan.granularity_ns;
    let keyed = prep.rows.iter().map(|(e, k)| {
        let mut k = k.clone();
        k.push(Some(Value::Int(bucket_of(e.time_ns, g))));
        k
    });
    let bucket_ms = g as f64 / 1e6;
    let mut rows: Vec<Row> = group_rows(keyed)
        .into_iter()
        .filter(|(k, _)| top.iter().any(|t| t[..] == k[..k.len() - 1]))
        .map(|(mut k, m)| {
            let bucket = k.pop().flatten();
            let mut row = vec![bucket];
            row.extend(k);
            row.extend(aggregate(plan, &prep, &m, bucket_ms));
            row
        })
        .collect();
    let n = plan.group_by.len();
    rows.sort_by(|a, b| {
        for i in 0..=n {
            let ord = cmp_opt(&a[i], &b[i], false);
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    });
    rows
}

/// The rows `sql::render_event_list` returns (ties on every key broken by input order).
pub fn run_event_list(plan: &Plan, list: &EventList, events: &[Event]) -> Vec<Row> {
    let ctx = Ctx {
        events,
        start_ns: plan.start_ns,
        end_ns: plan.end_ns,
    };
    let mut hits: Vec<&Event> = events
        .iter()
        .filter(|e| in_scope(plan, e) && matches(&plan.predicate, e, &ctx))
        .collect();
    hits.sort_by(|a, b| {
        for (c, desc) in &list.order {
            let o = cmp_opt(&column_value(c, a), &column_value(c, b), *desc);
            if o != Ordering::Equal {
                return o;
            }
        }
        b.time_ns.cmp(&a.time_ns)
    });
    hits.truncate(plan.limit as usize);
    hits.iter()
        .map(|e| {
            if list.columns.is_empty() {
                vec![Some(Value::Int(1))]
            } else {
                list.columns.iter().map(|c| column_value(c, e)).collect()
            }
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::plan::{PlanContext, NS_PER_S};
    use crate::spec::QuerySpec;
    use model::schema::{Catalog, Column};
    use model::value::ColumnType;
    use model::{SpanId, TraceId};

    fn catalog() -> Catalog {
        Catalog {
            columns: vec![
                Column {
                    name: "route".into(),
                    ty: ColumnType::String,
                },
                Column {
                    name: "code".into(),
                    ty: ColumnType::Integer,
                },
            ],
            overflow: Vec::new(),
        }
    }

    fn ev(t_s: i64, route: &str, code: i64, dur: f64, rate: u32) -> Event {
        let mut e = Event::new("api", t_s * NS_PER_S, SignalKind::Span);
        e.duration_ms = Some(dur);
        e.sample_rate = rate;
        e.set("route", Value::Str(route.into()));
        e.set("code", Value::Int(code));
        e
    }

    fn plan(json: &str) -> Plan {
        let spec = QuerySpec::from_json_str(json).unwrap();
        let cat = catalog();
        Plan::from_spec(
            &spec,
            &PlanContext {
                dataset: "API",
                catalog: &cat,
                now_s: 1000,
                limit_override: None,
                derived: &[],
            },
        )
        .unwrap()
    }

    fn events() -> Vec<Event> {
        vec![
            ev(10, "/a", 200, 10.0, 1),
            ev(20, "/a", 500, 30.0, 3),
            ev(30, "/b", 200, 5.0, 1),
            ev(40, "/b", 404, 7.0, 2),
            ev(2000, "/a", 200, 1.0, 1), // outside the window
        ]
    }

    #[test]
    fn weighted_count_sum_avg_and_percentiles() {
        let p = plan(
            r#"{"time_range":1000,"calculations":[{"op":"COUNT"},{"op":"SUM","column":"duration_ms"},{"op":"AVG","column":"duration_ms"},{"op":"P50","column":"duration_ms"},{"op":"P001","column":"duration_ms"},{"op":"MAX","column":"code"},{"op":"COUNT_DISTINCT","column":"code"}],"breakdowns":["route"]}"#,
        );
        let rows = run_totals(&p, &events());
        let a = &rows[0];
        assert_eq!(a[0], Some(Value::Str("/a".into())));
        assert_eq!(a[1], Some(Value::Int(4)));
        assert_eq!(a[2], Some(Value::Float(100.0)));
        assert_eq!(a[3], Some(Value::Float(25.0)));
        // weights 1 @10, 3 @30: cumulative 1 (25%), 4 → P50 = 30.
        assert_eq!(a[4], Some(Value::Float(30.0)));
        assert_eq!(a[5], Some(Value::Float(10.0)));
        assert_eq!(a[6], Some(Value::Float(500.0)));
        assert_eq!(a[7], Some(Value::Int(2)));
        assert_eq!(rows[1][1], Some(Value::Int(3)));
    }

    #[test]
    fn filters_havings_orders_limit() {
        let p = plan(
            r#"{"time_range":1000,"filters":[{"column":"code","op":">=","value":"300"}],"breakdowns":["route"],"orders":[{"column":"route","order":"descending"}]}"#,
        );
        let rows = run_totals(&p, &events());
        assert_eq!(
            rows,
            vec![
                vec![Some(Value::Str("/b".into())), Some(Value::Int(2))],
                vec![Some(Value::Str("/a".into())), Some(Value::Int(3))],
            ]
        );
        let p = plan(
            r#"{"time_range":1000,"breakdowns":["route"],"havings":[{"calculate_op":"COUNT","op":">","value":3}]}"#,
        );
        assert_eq!(run_totals(&p, &events()).len(), 1);
        let p = plan(r#"{"time_range":1000,"breakdowns":["route"],"limit":1}"#);
        assert_eq!(
            run_totals(&p, &events())[0][0],
            Some(Value::Str("/a".into()))
        );
        // != matches events without the column too.
        let p =
            plan(r#"{"time_range":1000,"filters":[{"column":"route","op":"!=","value":"/a"}]}"#);
        let mut evs = events();
        evs.push(Event::new("api", 50 * NS_PER_S, SignalKind::Log));
        assert_eq!(run_totals(&p, &evs)[0][0], Some(Value::Int(4)));
    }

    #[test]
    fn empty_totals_still_have_a_row_without_breakdowns() {
        let p = plan(
            r#"{"time_range":1000,"calculations":[{"op":"COUNT"},{"op":"AVG","column":"code"}]}"#,
        );
        assert_eq!(run_totals(&p, &[]), vec![vec![Some(Value::Int(0)), None]]);
    }

    #[test]
    fn series_rates_heatmap_and_concurrency() {
        let p = plan(
            r#"{"time_range":1000,"granularity":20,"calculations":[{"op":"RATE_SUM","column":"code"},{"op":"HEATMAP","column":"duration_ms"},{"op":"CONCURRENCY"}]}"#,
        );
        let rows = run_series(&p, &events());
        // Buckets: 0 (t=10), 20 (t=20,30), 40 (t=40).
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0][0], Some(Value::Int(0)));
        assert_eq!(rows[0][1], None); // first event has no rate
        assert_eq!(rows[1][1], Some(Value::Float(30.0 + -30.0)));
        assert_eq!(rows[0][2], Some(Value::Str("10:1".into())));
        assert_eq!(rows[1][2], Some(Value::Str("0:1,49:3".into())));
        assert_eq!(rows[1][3], Some(Value::Float(5.0)));
        assert_eq!(rows[1][4], Some(Value::Float(30.0)));
        // CONCURRENCY: (30*3 + 5) ms of spans in a 20 s bucket.
        assert_eq!(rows[1][5], Some(Value::Float(95.0 / 20_000.0)));
    }

    #[test]
    fn whole_trace_predicates() {
        let tid = TraceId::parse("0af7651916cd43dd8448eb211c80319c").unwrap();
        let mut root = ev(10, "/root", 200, 100.0, 1);
        root.trace_id = Some(tid);
        root.span_id = Some(SpanId::from_u64(1));
        let mut child = ev(20, "/child", 500, 10.0, 1);
        child.trace_id = Some(tid);
        child.span_id = Some(SpanId::from_u64(2));
        child.parent_id = Some(SpanId::from_u64(1));
        let other = ev(30, "/child", 500, 10.0, 1);
        let evs = vec![root, child, other];
        let p = plan(
            r#"{"time_range":1000,"filters":[{"column":"root.route","op":"=","value":"/root"}]}"#,
        );
        assert_eq!(run_totals(&p, &evs)[0][0], Some(Value::Int(2)));
        let p = plan(
            r#"{"time_range":1000,"filters":[{"column":"any.code","op":"=","value":500},{"column":"route","op":"=","value":"/root"}]}"#,
        );
        assert_eq!(run_totals(&p, &evs)[0][0], Some(Value::Int(1)));
        let p = plan(
            r#"{"time_range":1000,"filters":[{"column":"trace.parent_id","op":"=","value":"0000000000000001"}],"breakdowns":["trace.trace_id"]}"#,
        );
        assert_eq!(
            run_totals(&p, &evs),
            vec![vec![
                Some(Value::Str("0af7651916cd43dd8448eb211c80319c".into())),
                Some(Value::Int(1))
            ]]
        );
    }

    #[test]
    fn edge_and_trace_duration() {
        use crate::plan::{CmpOp, TraceScope};
        let tid = TraceId::parse("0af7651916cd43dd8448eb211c80319c").unwrap();
        let span = |id: u64, parent: Option<u64>, t: i64, route: &str, dur: f64| {
            let mut e = ev(t, route, 200, dur, 1);
            e.trace_id = Some(tid);
            e.span_id = Some(SpanId::from_u64(id));
            e.parent_id = parent.map(SpanId::from_u64);
            e
        };
        // /a (10 s .. 12 s) → /b (11 s .. 14.5 s); /c is a second root.
        let evs = vec![
            span(1, None, 10, "/a", 2000.0),
            span(2, Some(1), 11, "/b", 3500.0),
            span(3, None, 12, "/c", 1.0),
        ];
        let route = |r: &str| {
            Box::new(crate::plan::compare(
                &crate::plan::resolve_column("route", &catalog(), &mut Vec::new()),
                CmpOp::Eq,
                &Value::Str(r.into()),
            ))
        };
        let ctx = Ctx {
            events: &evs,
            start_ns: 0,
            end_ns: 100 * NS_PER_S,
        };
        let edge = |p: &str, c: &str| Predicate::Edge {
            parent: route(p),
            child: route(c),
        };
        assert!(matches(&edge("/a", "/b"), &evs[2], &ctx));
        assert!(!matches(&edge("/b", "/a"), &evs[0], &ctx));
        assert!(!matches(&edge("/c", "/b"), &evs[0], &ctx));
        assert_eq!(trace_duration_ms(&evs[0], &ctx), Some(4500.0));
        let dur = |op, ms| Predicate::TraceDuration { op, ms };
        assert!(matches(&dur(CmpOp::Ge, 4500.0), &evs[1], &ctx));
        assert!(!matches(&dur(CmpOp::Gt, 4500.0), &evs[1], &ctx));
        // Outside the widened window nothing of the trace is seen.
        let far = Ctx {
            events: &evs,
            start_ns: 10_000 * NS_PER_S,
            end_ns: 20_000 * NS_PER_S,
        };
        assert!(!matches(&dur(CmpOp::Ge, 0.0), &evs[1], &far));
        let any = Predicate::Trace {
            scope: TraceScope::Any,
            predicate: route("/b"),
        };
        assert!(matches(&any, &evs[0], &ctx));
    }

    #[test]
    fn related_spans_and_span_aggregates() {
        use crate::plan::CmpOp;
        let tid = TraceId::parse("0af7651916cd43dd8448eb211c80319c").unwrap();
        let span = |id: u64, parent: Option<u64>, route: &str, code: i64| {
            let mut e = ev(10, route, code, 1.0, 1);
            e.trace_id = Some(tid);
            e.span_id = Some(SpanId::from_u64(id));
            e.parent_id = parent.map(SpanId::from_u64);
            e
        };
        // 1 → 2 → 3, and 5 ↔ 6 (a cycle, bad data); 7 is a second span with id 3 (a
        // duplicate id) under 1; a log event carries span 2's ids.
        let mut log = span(2, Some(1), "/log", 0);
        log.kind = SignalKind::Log;
        let evs = vec![
            span(1, None, "/a", 200),
            span(2, Some(1), "/b", 500),
            span(3, Some(2), "/c", 200),
            span(5, Some(6), "/x", 200),
            span(6, Some(5), "/y", 200),
            span(3, Some(1), "/dup", 404),
            log,
        ];
        let ctx = Ctx {
            events: &evs,
            start_ns: 0,
            end_ns: 100 * NS_PER_S,
        };
        let route = |r: &str| {
            Box::new(crate::plan::compare(
                &crate::plan::resolve_column("route", &catalog(), &mut Vec::new()),
                CmpOp::Eq,
                &Value::Str(r.into()),
            ))
        };
        let rel = |relation, r: &str| Predicate::Related {
            relation,
            other: route(r),
        };
        let on = |p: &Predicate| -> Vec<usize> {
            (0..evs.len())
                .filter(|&i| matches(p, &evs[i], &ctx))
                .collect()
        };
        assert_eq!(on(&rel(Relation::Parent, "/a")), vec![1, 5]);
        assert_eq!(on(&rel(Relation::Child, "/c")), vec![1]);
        // Links follow ids: `/c` reaches `/a` through span 2; the duplicate id 3 gives `/c`
        // no children of `/dup`'s and `/dup` no parent of `/c`'s.
        assert_eq!(on(&rel(Relation::Ancestor, "/a")), vec![1, 2, 5]);
        assert_eq!(on(&rel(Relation::Descendant, "/c")), vec![0, 1]);
        assert_eq!(on(&rel(Relation::Descendant, "/dup")), vec![0]);
        // Siblings share a parent id and have another span id.
        assert_eq!(on(&rel(Relation::Sibling, "/dup")), vec![1]);
        assert_eq!(on(&rel(Relation::Sibling, "/b")), vec![5]);
        // In a cycle each span is an ancestor and a descendant of each, itself included.
        assert_eq!(on(&rel(Relation::Ancestor, "/x")), vec![3, 4]);
        assert_eq!(on(&rel(Relation::Descendant, "/y")), vec![3, 4]);

        let agg = |agg, op, value, group: Vec<ColumnRef>| Predicate::SpanAggregate {
            predicate: Box::new(Predicate::True),
            agg,
            operand: Some(Operand::Column(crate::plan::resolve_column(
                "code",
                &catalog(),
                &mut Vec::new(),
            ))),
            group,
            op,
            value,
        };
        // Six spans (the log does not count), codes 200 ×4, 500, 404.
        assert_eq!(on(&agg(SpanAgg::Count, CmpOp::Eq, 6.0, vec![])).len(), 7);
        assert!(on(&agg(SpanAgg::Sum, CmpOp::Eq, 1704.0, vec![])).contains(&0));
        assert!(on(&agg(SpanAgg::Max, CmpOp::Eq, 500.0, vec![])).contains(&0));
        assert!(on(&agg(SpanAgg::Min, CmpOp::Eq, 200.0, vec![])).contains(&0));
        assert!(on(&agg(SpanAgg::Avg, CmpOp::Eq, 284.0, vec![])).contains(&0));
        // Grouped by route each group has one span; by a missing column all are one group.
        let by_route = vec![crate::plan::resolve_column(
            "route",
            &catalog(),
            &mut Vec::new(),
        )];
        assert_eq!(
            on(&agg(SpanAgg::Count, CmpOp::Gt, 1.0, by_route)),
            vec![] as Vec<usize>
        );
        let nope = vec![crate::plan::resolve_column(
            "nope",
            &catalog(),
            &mut Vec::new(),
        )];
        assert_eq!(on(&agg(SpanAgg::Count, CmpOp::Eq, 6.0, nope)).len(), 7);
        // No span counted: false, whatever the comparison.
        let none = Predicate::SpanAggregate {
            predicate: Box::new(Predicate::False),
            agg: SpanAgg::Count,
            operand: None,
            group: Vec::new(),
            op: CmpOp::Lt,
            value: 1.0,
        };
        assert!(on(&none).is_empty());
    }

    /// Evaluates `expr` as a derived column on `e` (catalog: route string, code int).
    fn derive(expr: &str, e: &Event) -> Option<Value> {
        let spec = QuerySpec::from_json(&serde_json::json!({
            "calculated_fields": [{"name": "x", "expression": expr}],
            "breakdowns": ["x"],
        }))
        .unwrap();
        let mut cat = catalog();
        cat.columns.push(Column {
            name: "s".into(),
            ty: ColumnType::String,
        });
        cat.columns.push(Column {
            name: "b".into(),
            ty: ColumnType::Boolean,
        });
        let p = Plan::from_spec(
            &spec,
            &PlanContext {
                dataset: "api",
                catalog: &cat,
                now_s: 1000,
                limit_override: None,
                derived: &[],
            },
        )
        .unwrap_or_else(|err| panic!("{expr}: {err}"));
        column_value(&p.group_by[0], e)
    }

    #[test]
    fn derived_semantics() {
        let mut e = ev(10, "/API/Users", 503, 12.5, 1);
        e.set("s", Value::Str("2.5".into()));
        e.set("b", Value::Bool(true));
        let s = |x: &str| Some(Value::Str(x.into()));
        let i = |x: i64| Some(Value::Int(x));
        let f = |x: f64| Some(Value::Float(x));
        let t = Some(Value::Bool(true));
        let no = Some(Value::Bool(false));
        let cases: Vec<(&str, Option<Value>)> = vec![
            ("$code", i(503)),
            ("$code + 1", f(504.0)),
            ("$code - 3 + 1", f(501.0)),
            ("$s * 2", f(5.0)),
            ("\"abc\" + 1", f(1.0)),
            ("$b + 1", f(1.0)),
            ("$nope + 1", None),
            ("DIV($code, 0)", None),
            ("MOD(-7, 3)", f(-1.0)),
            ("MOD(7.5, 2)", f(1.5)),
            ("LOG10(1000)", f(3.0)),
            ("LOG10(0)", None),
            ("LOG10(-1)", None),
            ("INT(\"3.9\")", i(3)),
            ("INT(-3.9)", i(-3)),
            ("INT(\"x\")", i(0)),
            ("INT(1e30)", None),
            ("FLOAT($code)", f(503.0)),
            ("BOOL(\"true\")", t.clone()),
            ("BOOL(\"TRUE\")", no.clone()),
            ("BOOL(0.0)", no.clone()),
            ("BOOL($nope)", no.clone()),
            ("STRING($nope)", s("")),
            ("STRING(2.0)", s("2.0")),
            ("STRING(true)", s("true")),
            ("IF($code >= 500, \"err\", \"ok\")", s("err")),
            ("IF($code < 500, \"ok\")", None),
            ("IF(false, 1, $code > 1, 2.5, 3)", f(2.5)),
            ("IF(\"true\", 1, 2)", i(1)),
            ("IF(true, 1, \"x\")", s("1")),
            ("SWITCH($route, \"/a\", 1, \"/API/Users\", 2, 0)", i(2)),
            ("SWITCH($code, 503.0, \"y\", \"n\")", s("y")),
            ("SWITCH($code, \"503\", \"y\", \"n\")", s("n")),
            ("SWITCH($nope, 1, 2)", None),
            ("COALESCE($nope, $route)", s("/API/Users")),
            ("$code = 503", t.clone()),
            ("$code = 503.0", t.clone()),
            ("$code = \"503\"", no.clone()),
            ("$code != 503", no.clone()),
            ("$nope = null", no.clone()),
            ("IN($route, \"/x\", \"/API/Users\")", t.clone()),
            ("$s < \"3\"", t.clone()),
            ("$s < 3", no.clone()),
            ("$code > 500.5", t.clone()),
            ("GT($nope, 1)", no.clone()),
            ("$b AND $code", t.clone()),
            ("AND($b, 0)", no.clone()),
            ("OR(0, \"true\")", t.clone()),
            ("!$b", no.clone()),
            ("NOT($nope)", t.clone()),
            ("EXISTS($route)", t.clone()),
            ("EXISTS($nope)", no.clone()),
            ("MIN($code, 7, $nope)", i(7)),
            ("MAX($code, 7.5)", f(503.0)),
            ("MIN(\"b\", \"a\")", s("a")),
            ("MIN($nope)", None),
            (
                "CONCAT($route, \"-\", $code, $nope, 1.5, true)",
                s("/API/Users-5031.5true"),
            ),
            ("TO_LOWER($route)", s("/api/users")),
            ("TO_LOWER(12)", s("12")),
            ("STARTS_WITH($route, \"/API\")", t.clone()),
            ("ENDS_WITH($route, \"Users\")", t.clone()),
            ("CONTAINS($route, \"PI/U\")", t.clone()),
            ("CONTAINS($code, \"5\")", no.clone()),
            ("LENGTH(\"héllo\")", i(5)),
            ("LENGTH(\"héllo\", \"bytes\")", i(6)),
            ("LENGTH($code)", None),
            ("REG_MATCH($route, `^/[A-Z]+/`)", t.clone()),
            ("REG_MATCH($code, `5`)", no.clone()),
            ("REG_VALUE($route, `/([a-z]+)$`)", None),
            ("REG_VALUE($route, `(?i)/([a-z]+)$`)", s("Users")),
            ("REG_VALUE($route, `[A-Z]+`)", s("API")),
            ("REG_COUNT($route, `[A-Z]`)", i(4)),
            ("REG_COUNT($nope, `x`)", i(0)),
            ("EVENT_TIMESTAMP()", f(10.0)),
            ("$duration_ms * 2", f(25.0)),
        ];
        let mut bad = Vec::new();
        for (expr, want) in cases {
            let got = derive(expr, &e);
            if got != want {
                bad.push(format!("{expr}: got {got:?}, want {want:?}"));
            }
        }
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }

    #[test]
    fn derived_columns_in_filters_breakdowns_and_calculations() {
        let spec = QuerySpec::from_json(&serde_json::json!({
            "time_range": 1000,
            "calculated_fields": [{"name": "bad", "expression": "$code >= 400"}],
            "filters": [{"column": "bad", "op": "=", "value": true}],
            "breakdowns": ["kind"],
            "calculations": [{"op": "COUNT"}, {"op": "SUM", "column": "ms2"}],
        }))
        .unwrap();
        let cat = catalog();
        let saved = vec![
            (
                "kind".to_string(),
                "IF($code >= 500, \"5xx\", \"4xx\")".to_string(),
            ),
            ("ms2".to_string(), "$duration_ms * 2".to_string()),
        ];
        let p = Plan::from_spec(
            &spec,
            &PlanContext {
                dataset: "api",
                catalog: &cat,
                now_s: 1000,
                limit_override: None,
                derived: &saved,
            },
        )
        .unwrap();
        let rows = run_totals(&p, &events());
        assert_eq!(
            rows,
            vec![
                vec![
                    Some(Value::Str("5xx".into())),
                    Some(Value::Int(3)),
                    Some(Value::Float(180.0))
                ],
                vec![
                    Some(Value::Str("4xx".into())),
                    Some(Value::Int(2)),
                    Some(Value::Float(28.0))
                ],
            ]
        );
    }
}
