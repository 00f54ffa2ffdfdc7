//! Renders a [`Plan`] to one SQL statement over the `events` table: the totals query (one
//! row per group) and the series query (one row per time bucket per group, for the groups the
//! totals query keeps). Also the column / predicate rendering that `bubbleup` and `tempo`
//! reuse.
//!
//! Aggregate definitions (the naive evaluator implements the same; `w` = `__sample_rate`):
//! - `COUNT` = Σw. `SUM(x)` = Σx·w. `AVG(x)` = Σx·w / Σw over events with x.
//! - `Pnn(x)`: weighted lower percentile — the smallest x whose cumulative weight (x
//!   ascending) reaches nn% of the total weight of events with x. Exact, integer arithmetic
//!   (permille), computed with window sums.
//! - `MIN`, `MAX`, `COUNT_DISTINCT`: unweighted (Honeycomb).
//! - `CONCURRENCY` = Σ duration_ms·w / bucket_ms: the average number of spans in progress,
//!   attributing each span's whole duration to the bucket it starts in (exact when spans are
//!   shorter than the bucket; the totals bucket is the whole window).
//! - `RATE_AVG|SUM|MAX(x)`: per group, events with x ordered by (time, x); rate = Δx / Δt
//!   (per second) between consecutive events, Δt = 0 skipped; unweighted avg/sum/max of the
//!   rates, each rate counted in the bucket of its later event.
//! - `HEATMAP(x)`: [`HEATMAP_BUCKETS`] linear buckets over [min x, max x] of the whole filtered
//!   data (one y-axis for every group and time bucket); bucket = ⌊(x−min)/(max−min)·B⌋ capped
//!   at B−1 (0 when max = min); each bucket's weight is Σw. Rendered as the text
//!   `"i:n,i:n"` (non-empty buckets, ascending) plus two columns with min and max.
//!
//! Numeric inputs are doubles: numbers as is, strings parsed (unparseable = missing),
//! booleans 1/0.

use model::schema::{
    COL_DATASET, COL_DURATION_MS, COL_KIND, COL_PARENT_ID, COL_SAMPLE_RATE, COL_SPAN_ID,
    COL_TIME_NS, COL_TRACE_HI, COL_TRACE_LO,
};
use model::value::ColumnType;
use model::SignalKind;

use crate::derived::{ArithOp, Node, Ty, Typed};
use crate::dialect::Dialect;
use crate::plan::{
    CmpOp, ColumnKind, ColumnRef, EventList, Operand, OrderTarget, Plan, Predicate, Relation,
    SpanAgg, TraceScope, DELIMITED_TOKEN_RE, HEATMAP_BUCKETS, TRACE_LOOKAROUND_NS,
};
use crate::spec::CalcOp;

/// The one table every event lives in.
pub const EVENTS_TABLE: &str = "events";
/// Alias of the outer events scan.
pub const EVENT_ALIAS: &str = "e";

/// What one output column of a rendered query holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputColumn {
    /// Time bucket start, Unix ns (series only; always first).
    Bucket,
    /// Value of `plan.group_by[i]`.
    Group(usize),
    /// Value of `plan.aggregates[i]` (HEATMAP: the `"i:n,…"` text).
    Aggregate(usize),
    /// HEATMAP `plan.aggregates[i]`: lower bound of bucket 0.
    HeatmapMin(usize),
    /// HEATMAP `plan.aggregates[i]`: upper bound of the last bucket.
    HeatmapMax(usize),
}

/// SQL text and the meaning of each output column, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub sql: String,
    pub columns: Vec<OutputColumn>,
}

/// The output columns of a totals (`series = false`) or series query for `plan`.
pub fn output_columns(plan: &Plan, series: bool) -> Vec<OutputColumn> {
    let mut cols = Vec::new();
    if series {
        cols.push(OutputColumn::Bucket);
    }
    cols.extend((0..plan.group_by.len()).map(OutputColumn::Group));
    for (i, a) in plan.aggregates.iter().enumerate() {
        cols.push(OutputColumn::Aggregate(i));
        if a.op == CalcOp::Heatmap {
            cols.push(OutputColumn::HeatmapMin(i));
            cols.push(OutputColumn::HeatmapMax(i));
        }
    }
    cols
}

/// Renders columns and predicates for one dialect. Keeps a counter for subquery aliases.
pub struct Renderer<'a> {
    pub d: &'a dyn Dialect,
    /// Window whole-trace subqueries look in (widened by [`TRACE_LOOKAROUND_NS`]).
    pub start_ns: i64,
    pub end_ns: i64,
    alias_seq: std::cell::Cell<u32>,
}

impl<'a> Renderer<'a> {
    pub fn new(d: &'a dyn Dialect, start_ns: i64, end_ns: i64) -> Self {
        Self {
            d,
            start_ns,
            end_ns,
            alias_seq: std::cell::Cell::new(0),
        }
    }

    /// `"alias"."name"`.
    pub fn qcol(&self, alias: &str, name: &str) -> String {
        format!("{}.{}", self.d.ident(alias), self.d.ident(name))
    }

    /// A column's value as Honeycomb shows it.
    pub fn column(&self, c: &ColumnRef, alias: &str) -> String {
        let d = self.d;
        match c.kind {
            ColumnKind::Stored(_) => self.qcol(alias, &c.name),
            ColumnKind::Spilled { ty, physical } => {
                let spilled = self
                    .d
                    .overflow_text(&self.qcol(alias, model::schema::COL_OVERFLOW), &c.name);
                let spilled = if ty == ColumnType::String {
                    spilled
                } else {
                    d.try_cast(&spilled, ty)
                };
                match physical {
                    None => spilled,
                    Some(p) => {
                        let own = self.qcol(alias, &c.name);
                        let own = if p == ty { own } else { d.try_cast(&own, ty) };
                        format!("coalesce({own}, {spilled})")
                    }
                }
            }
            ColumnKind::TraceId => {
                let hi = self.qcol(alias, COL_TRACE_HI);
                let lo = self.qcol(alias, COL_TRACE_LO);
                format!(
                    "CASE WHEN {hi} = 0 THEN {} ELSE {} || {} END",
                    d.hex16(&lo),
                    d.hex16(&hi),
                    d.hex16(&lo)
                )
            }
            ColumnKind::SpanId => d.hex16(&self.qcol(alias, COL_SPAN_ID)),
            ColumnKind::ParentId => d.hex16(&self.qcol(alias, COL_PARENT_ID)),
            ColumnKind::Timestamp => self.qcol(alias, COL_TIME_NS),
            ColumnKind::Missing => d.null_string(),
            ColumnKind::Dataset => self.qcol(alias, COL_DATASET),
            ColumnKind::Derived(ref dc) => match dc.expr.ty {
                Ty::Null => d.null_string(),
                _ => self.derived(&dc.expr, alias),
            },
        }
    }

    /// A derived column expression over row `alias` (semantics: `derived` module docs).
    pub fn derived(&self, t: &Typed, alias: &str) -> String {
        let d = self.d;
        let r = |x: &Typed| self.derived(x, alias);
        let list = |xs: &[Typed]| xs.iter().map(&r).collect::<Vec<_>>();
        let zero = d.double(0.0);
        match &t.node {
            Node::Lit(None) => d.null_of(t.ty.column_type()),
            Node::Lit(Some(v)) => d.value(v),
            Node::Column(c) => self.column(c, alias),
            Node::EventTime => format!(
                "({} / {})",
                d.to_double(&self.qcol(alias, COL_TIME_NS)),
                d.double(1e9)
            ),
            Node::Truthy(x) => match x.ty {
                Ty::Bool => format!("COALESCE({}, FALSE)", r(x)),
                Ty::Int | Ty::Float => format!("COALESCE({} <> 0, FALSE)", r(x)),
                Ty::Str => format!("COALESCE({} = {}, FALSE)", r(x), d.string("true")),
                Ty::Null => d.bool(false),
            },
            Node::ToFloat(x) => match x.ty {
                Ty::Float => r(x),
                Ty::Int => d.to_double(&r(x)),
                // Booleans count as 0: 1·0 or 0·0, NULL stays NULL.
                Ty::Bool => format!("({} * {zero})", d.to_double(&r(x))),
                Ty::Str => {
                    let s = r(x);
                    format!(
                        "CASE WHEN {s} IS NULL THEN NULL ELSE COALESCE({}, {zero}) END",
                        d.try_to_double(&s)
                    )
                }
                Ty::Null => d.null_of(t.ty.column_type()),
            },
            Node::ToText(x) => match x.ty {
                Ty::Str => r(x),
                Ty::Null => d.null_string(),
                _ => d.to_text(&r(x)),
            },
            Node::TruncInt(x) => d.trunc_to_bigint(&r(x)),
            Node::Not(x) => format!("(NOT {})", r(x)),
            Node::And(xs) => format!("({})", list(xs).join(" AND ")),
            Node::Or(xs) => format!("({})", list(xs).join(" OR ")),
            Node::Exists(x) => format!("({} IS NOT NULL)", r(x)),
            Node::Case { arms, default } => {
                let mut s = String::from("CASE");
                for (c, v) in arms {
                    s.push_str(&format!(" WHEN {} THEN {}", r(c), r(v)));
                }
                if let Some(x) = default {
                    s.push_str(&format!(" ELSE {}", r(x)));
                }
                s.push_str(" END");
                s
            }
            Node::Switch {
                subject,
                cases,
                default,
            } => {
                if cases.is_empty() {
                    return match default {
                        Some(x) => r(x),
                        None => d.null_of(t.ty.column_type()),
                    };
                }
                let mut s = format!("CASE {}", r(subject));
                for (c, v) in cases {
                    s.push_str(&format!(" WHEN {} THEN {}", d.value(c), r(v)));
                }
                if let Some(x) = default {
                    s.push_str(&format!(" ELSE {}", r(x)));
                }
                s.push_str(" END");
                s
            }
            Node::Coalesce(xs) => format!("COALESCE({})", list(xs).join(", ")),
            Node::Cmp { op, a, b } => {
                format!("COALESCE({} {} {}, FALSE)", r(a), op.sql(), r(b))
            }
            Node::In {
                subject,
                candidates,
            } => format!(
                "COALESCE({} IN ({}), FALSE)",
                r(subject),
                list(candidates).join(", ")
            ),
            Node::Arith { op, a, b } => {
                let (a, b) = (r(a), r(b));
                match op {
                    ArithOp::Add => format!("({a} + {b})"),
                    ArithOp::Sub => format!("({a} - {b})"),
                    ArithOp::Mul => format!("({a} * {b})"),
                    ArithOp::Div => format!("({a} / NULLIF({b}, {zero}))"),
                    ArithOp::Mod => format!("({a} % NULLIF({b}, {zero}))"),
                }
            }
            Node::Log10(x) => d.log10(&format!(
                "NULLIF({}, {zero})",
                d.greatest(&[r(x), zero.clone()])
            )),
            Node::Least(xs) => d.least(&list(xs)),
            Node::Greatest(xs) => d.greatest(&list(xs)),
            Node::Concat(xs) => d.concat(&list(xs)),
            Node::Lower(x) => d.lower(&r(x)),
            Node::StartsWith(a, b) => format!("COALESCE({}, FALSE)", d.starts_with(&r(a), &r(b))),
            Node::EndsWith(a, b) => format!("COALESCE({}, FALSE)", d.ends_with(&r(a), &r(b))),
            Node::Contains(a, b) => format!("COALESCE({}, FALSE)", d.contains(&r(a), &r(b))),
            Node::Length { bytes, arg } => {
                if *bytes {
                    d.byte_length(&r(arg))
                } else {
                    d.char_length(&r(arg))
                }
            }
            Node::RegMatch(x, p) => format!(
                "COALESCE({}, FALSE)",
                d.regexp_matches(&r(x), &d.string(&p.source))
            ),
            Node::RegValue(x, p, g) => format!(
                "NULLIF({}, '')",
                d.regexp_extract(&r(x), &d.string(&p.source), *g)
            ),
            Node::RegCount(x, p) => format!(
                "COALESCE({}, 0)",
                d.regexp_count(&r(x), &d.string(&p.source))
            ),
        }
    }

    /// A column as a double (see module docs).
    pub fn numeric(&self, c: &ColumnRef, alias: &str) -> String {
        match c.value_type() {
            None => "CAST(NULL AS DOUBLE)".into(),
            Some(ColumnType::Float) => self.column(c, alias),
            Some(ColumnType::Integer | ColumnType::Boolean) => {
                self.d.to_double(&self.column(c, alias))
            }
            Some(ColumnType::String) => self.d.try_to_double(&self.column(c, alias)),
        }
    }

    /// A column as text.
    pub fn text(&self, c: &ColumnRef, alias: &str) -> String {
        match c.value_type() {
            None => self.d.null_string(),
            Some(ColumnType::String) => self.column(c, alias),
            Some(_) => self.d.to_text(&self.column(c, alias)),
        }
    }

    pub fn operand(&self, o: &Operand, alias: &str) -> String {
        match o {
            Operand::Column(c) => self.column(c, alias),
            Operand::AsDouble(c) => self.numeric(c, alias),
            Operand::AsText(c) => self.text(c, alias),
            Operand::Json { column, path, read } => {
                self.d
                    .json_value(&self.text(column, alias), &self.d.json_path(path), *read)
            }
            Operand::Delimited {
                column,
                index,
                numeric,
            } => {
                let f = self.d.delimited_field(
                    &self.text(column, alias),
                    &self.d.string(DELIMITED_TOKEN_RE),
                    *index,
                );
                if *numeric {
                    self.d.try_to_double(&f)
                } else {
                    f
                }
            }
            Operand::DelimitedCount(column) => self.d.delimited_count(
                &self.text(column, alias),
                &self.d.string(DELIMITED_TOKEN_RE),
            ),
        }
    }

    fn next_alias(&self) -> String {
        let n = self.alias_seq.get() + 1;
        self.alias_seq.set(n);
        format!("t{n}")
    }

    /// A predicate over the events row `alias`. May be NULL where the plan says false; wrap
    /// in `COALESCE(…, FALSE)` when a two-valued result is needed (WHERE treats NULL as false).
    pub fn predicate(&self, p: &Predicate, alias: &str) -> String {
        let d = self.d;
        match p {
            Predicate::True => d.bool(true),
            Predicate::False => d.bool(false),
            Predicate::And(ps) => self.join(ps, alias, " AND "),
            Predicate::Or(ps) => self.join(ps, alias, " OR "),
            Predicate::Not(inner) => {
                format!("NOT COALESCE({}, FALSE)", self.predicate(inner, alias))
            }
            Predicate::Compare { lhs, op, value } => {
                format!(
                    "{} {} {}",
                    self.operand(lhs, alias),
                    op.sql(),
                    d.value(value)
                )
            }
            Predicate::Exists(c) => match c.kind {
                ColumnKind::Missing => d.bool(false),
                ColumnKind::TraceId => format!("{} IS NOT NULL", self.qcol(alias, COL_TRACE_LO)),
                ColumnKind::SpanId => format!("{} IS NOT NULL", self.qcol(alias, COL_SPAN_ID)),
                ColumnKind::ParentId => {
                    format!("{} IS NOT NULL", self.qcol(alias, COL_PARENT_ID))
                }
                _ => format!("{} IS NOT NULL", self.column(c, alias)),
            },
            Predicate::StartsWith(o, s) => d.starts_with(&self.operand(o, alias), &d.string(s)),
            Predicate::EndsWith(o, s) => d.ends_with(&self.operand(o, alias), &d.string(s)),
            Predicate::Contains(o, s) => d.contains(&self.operand(o, alias), &d.string(s)),
            Predicate::Regex(o, p) => {
                d.regexp_matches(&self.operand(o, alias), &d.string(&p.source))
            }
            Predicate::In(o, values) => {
                if values.is_empty() {
                    return d.bool(false);
                }
                let vs: Vec<String> = values.iter().map(|v| d.value(v)).collect();
                format!("{} IN ({})", self.operand(o, alias), vs.join(", "))
            }
            Predicate::TraceIdIs(id) => {
                let (hi, lo) = id.halves();
                format!(
                    "({} = {} AND {} = {})",
                    self.qcol(alias, COL_TRACE_HI),
                    d.int(hi as i64),
                    self.qcol(alias, COL_TRACE_LO),
                    d.int(lo as i64)
                )
            }
            Predicate::SpanIdIs { parent, id } => format!(
                "{} = {}",
                self.qcol(alias, if *parent { COL_PARENT_ID } else { COL_SPAN_ID }),
                d.int(id.as_u64() as i64)
            ),
            Predicate::KindIn(kinds) => {
                if kinds.is_empty() {
                    return d.bool(false);
                }
                let ks: Vec<String> = kinds.iter().map(|k| d.int(*k as u8 as i64)).collect();
                format!("{} IN ({})", self.qcol(alias, COL_KIND), ks.join(", "))
            }
            Predicate::Trace { scope, predicate } => {
                let t = self.next_alias();
                let root = match scope {
                    TraceScope::Root => {
                        format!(" AND {} IS NULL", self.qcol(&t, COL_PARENT_ID))
                    }
                    TraceScope::Any => String::new(),
                };
                format!(
                    "EXISTS (SELECT 1 FROM {} AS {} WHERE {} = {} AND {} = {} AND {} = {}{root} AND {} >= {} AND {} < {} AND {})",
                    d.ident(EVENTS_TABLE),
                    d.ident(&t),
                    self.qcol(&t, COL_TRACE_HI),
                    self.qcol(alias, COL_TRACE_HI),
                    self.qcol(&t, COL_TRACE_LO),
                    self.qcol(alias, COL_TRACE_LO),
                    self.qcol(&t, COL_KIND),
                    d.int(SignalKind::Span as u8 as i64),
                    self.qcol(&t, COL_TIME_NS),
                    d.int(self.start_ns.saturating_sub(TRACE_LOOKAROUND_NS)),
                    self.qcol(&t, COL_TIME_NS),
                    d.int(self.end_ns.saturating_add(TRACE_LOOKAROUND_NS)),
                    self.predicate(predicate, &t)
                )
            }
            Predicate::Edge { parent, child } => {
                let c = self.next_alias();
                let p = self.next_alias();
                format!(
                    "EXISTS (SELECT 1 FROM {} AS {} WHERE {} AND {} AND EXISTS (SELECT 1 FROM {} AS {} WHERE {} AND {} = {} AND {}))",
                    d.ident(EVENTS_TABLE),
                    d.ident(&c),
                    self.same_trace_span(&c, alias),
                    self.predicate(child, &c),
                    d.ident(EVENTS_TABLE),
                    d.ident(&p),
                    self.same_trace_span(&p, &c),
                    self.qcol(&p, COL_SPAN_ID),
                    self.qcol(&c, COL_PARENT_ID),
                    self.predicate(parent, &p)
                )
            }
            Predicate::TraceDuration { op, ms } => {
                let t = self.next_alias();
                let time = self.qcol(&t, COL_TIME_NS);
                let end = format!(
                    "{time} + {}",
                    d.trunc_to_bigint(&format!(
                        "COALESCE({}, {}) * {}",
                        self.qcol(&t, COL_DURATION_MS),
                        d.double(0.0),
                        d.double(1e6)
                    ))
                );
                format!(
                    "(SELECT {} / {} FROM {} AS {} WHERE {}) {} {}",
                    d.to_double(&format!("MAX({end}) - MIN({time})")),
                    d.double(1e6),
                    d.ident(EVENTS_TABLE),
                    d.ident(&t),
                    self.same_trace_span(&t, alias),
                    op.sql(),
                    d.double(*ms)
                )
            }
            Predicate::Related { relation, other } => self.related(*relation, other, alias),
            Predicate::SpanAggregate {
                predicate,
                agg,
                operand,
                group,
                op,
                value,
            } => {
                let t = self.next_alias();
                let v = match operand {
                    Some(o) => d.try_to_double(&self.operand(o, &t)),
                    None => d.null_of(Some(ColumnType::Float)),
                };
                let a = match agg {
                    SpanAgg::Count => d.to_double("NULLIF(COUNT(*), 0)"),
                    SpanAgg::Sum => format!("SUM({v})"),
                    SpanAgg::Avg => format!("SUM({v}) / {}", d.to_double(&format!("COUNT({v})"))),
                    SpanAgg::Min => format!("MIN({v})"),
                    SpanAgg::Max => format!("MAX({v})"),
                };
                let mut conds = vec![
                    self.same_trace_span(&t, alias),
                    self.predicate(predicate, &t),
                ];
                for c in group {
                    conds.push(d.not_distinct(&self.column(c, &t), &self.column(c, alias)));
                }
                format!(
                    "(SELECT {a} FROM {} AS {} WHERE {}) {} {}",
                    d.ident(EVENTS_TABLE),
                    d.ident(&t),
                    conds.join(" AND "),
                    op.sql(),
                    d.double(*value)
                )
            }
        }
    }

    /// [`Predicate::Related`] on row `alias`. Parent, child and sibling are one correlated
    /// `EXISTS`; ancestor and descendant test the row's id against a closure computed by an
    /// uncorrelated recursive CTE ([`Renderer::closure`]), so the engine needs no correlated
    /// recursion.
    fn related(&self, relation: Relation, other: &Predicate, alias: &str) -> String {
        let d = self.d;
        let is_span = format!(
            "{} = {}",
            self.qcol(alias, COL_KIND),
            d.int(SignalKind::Span as u8 as i64)
        );
        let test = match relation {
            Relation::Parent | Relation::Child | Relation::Sibling => {
                let o = self.next_alias();
                let link = match relation {
                    Relation::Parent => format!(
                        "{} = {}",
                        self.qcol(&o, COL_SPAN_ID),
                        self.qcol(alias, COL_PARENT_ID)
                    ),
                    Relation::Child => format!(
                        "{} = {}",
                        self.qcol(&o, COL_PARENT_ID),
                        self.qcol(alias, COL_SPAN_ID)
                    ),
                    _ => format!(
                        "{} = {} AND NOT ({})",
                        self.qcol(&o, COL_PARENT_ID),
                        self.qcol(alias, COL_PARENT_ID),
                        d.not_distinct(&self.qcol(&o, COL_SPAN_ID), &self.qcol(alias, COL_SPAN_ID))
                    ),
                };
                format!(
                    "EXISTS (SELECT 1 FROM {} AS {} WHERE {} AND {link} AND {})",
                    d.ident(EVENTS_TABLE),
                    d.ident(&o),
                    self.same_trace_span(&o, alias),
                    self.predicate(other, &o)
                )
            }
            Relation::Ancestor | Relation::Descendant => {
                let up = relation == Relation::Descendant;
                let x = self.next_alias();
                // Ancestor: the ids of the other spans and of all their descendants; the row
                // has such an ancestor when its parent id is one. Descendant: the parent ids
                // of the other spans and of all their ancestors; the row has such a
                // descendant when its span id is one.
                let own = if up { COL_SPAN_ID } else { COL_PARENT_ID };
                format!(
                    "EXISTS (SELECT 1 FROM ({}) AS {} WHERE {}.{} = {} AND {}.{} = {} AND {}.{} = {})",
                    self.closure(other, up),
                    d.ident(&x),
                    d.ident(&x),
                    d.ident("hi"),
                    self.qcol(alias, COL_TRACE_HI),
                    d.ident(&x),
                    d.ident("lo"),
                    self.qcol(alias, COL_TRACE_LO),
                    d.ident(&x),
                    d.ident("id"),
                    self.qcol(alias, own)
                )
            }
        };
        format!("({is_span} AND {test})")
    }

    /// An uncorrelated query of rows `(hi, lo, id)`: trace id halves and span ids reached
    /// from the spans satisfying `other` (spans of the widened window only). Downward
    /// (`up` false): their `__span_id`s, then the `__span_id`s of spans whose `__parent_id`
    /// is one already reached. Upward: their `__parent_id`s, then the `__parent_id`s of spans
    /// whose `__span_id` is one already reached. `UNION` drops rows already reached, so the
    /// recursion ends on any data (at most one row per id of the window), cycles included.
    fn closure(&self, other: &Predicate, up: bool) -> String {
        let d = self.d;
        let c = self.next_alias();
        let o = self.next_alias();
        let e = self.next_alias();
        let (from, to) = if up {
            (COL_SPAN_ID, COL_PARENT_ID)
        } else {
            (COL_PARENT_ID, COL_SPAN_ID)
        };
        let (hi, lo, id) = (d.ident("hi"), d.ident("lo"), d.ident("id"));
        let cq = d.ident(&c);
        format!(
            "WITH RECURSIVE {cq}({hi}, {lo}, {id}) AS (SELECT {}, {}, {} FROM {} AS {} WHERE {} AND {} UNION SELECT {}, {}, {} FROM {cq} JOIN {} AS {} ON {} = {cq}.{hi} AND {} = {cq}.{lo} AND {} = {cq}.{id} WHERE {}) SELECT {hi}, {lo}, {id} FROM {cq}",
            self.qcol(&o, COL_TRACE_HI),
            self.qcol(&o, COL_TRACE_LO),
            self.qcol(&o, to),
            d.ident(EVENTS_TABLE),
            d.ident(&o),
            self.window_span(&o),
            self.predicate(other, &o),
            self.qcol(&e, COL_TRACE_HI),
            self.qcol(&e, COL_TRACE_LO),
            self.qcol(&e, to),
            d.ident(EVENTS_TABLE),
            d.ident(&e),
            self.qcol(&e, COL_TRACE_HI),
            self.qcol(&e, COL_TRACE_LO),
            self.qcol(&e, from),
            self.window_span(&e),
        )
    }

    /// Row `t` is a span inside the widened window ([`TRACE_LOOKAROUND_NS`]).
    fn window_span(&self, t: &str) -> String {
        let time = self.qcol(t, COL_TIME_NS);
        format!(
            "{} = {} AND {time} >= {} AND {time} < {}",
            self.qcol(t, COL_KIND),
            self.d.int(SignalKind::Span as u8 as i64),
            self.d
                .int(self.start_ns.saturating_sub(TRACE_LOOKAROUND_NS)),
            self.d.int(self.end_ns.saturating_add(TRACE_LOOKAROUND_NS)),
        )
    }

    /// Row `t` is a span of row `alias`'s trace inside the widened window
    /// ([`TRACE_LOOKAROUND_NS`]).
    fn same_trace_span(&self, t: &str, alias: &str) -> String {
        let time = self.qcol(t, COL_TIME_NS);
        format!(
            "{} = {} AND {} = {} AND {} = {} AND {time} >= {} AND {time} < {}",
            self.qcol(t, COL_TRACE_HI),
            self.qcol(alias, COL_TRACE_HI),
            self.qcol(t, COL_TRACE_LO),
            self.qcol(alias, COL_TRACE_LO),
            self.qcol(t, COL_KIND),
            self.d.int(SignalKind::Span as u8 as i64),
            self.d
                .int(self.start_ns.saturating_sub(TRACE_LOOKAROUND_NS)),
            self.d.int(self.end_ns.saturating_add(TRACE_LOOKAROUND_NS)),
        )
    }

    fn join(&self, ps: &[Predicate], alias: &str, sep: &str) -> String {
        if ps.is_empty() {
            return self.d.bool(sep.trim() == "AND");
        }
        let parts: Vec<String> = ps.iter().map(|p| self.predicate(p, alias)).collect();
        format!("({})", parts.join(sep))
    }

    /// `time >= start AND time < end [AND lower(dataset) = lower(d)]` for row `alias`.
    pub fn scope(&self, dataset: Option<&str>, alias: &str) -> String {
        let t = self.qcol(alias, COL_TIME_NS);
        let mut s = format!(
            "{t} >= {} AND {t} < {}",
            self.d.int(self.start_ns),
            self.d.int(self.end_ns)
        );
        if let Some(ds) = dataset {
            s.push_str(&format!(
                " AND {} = {}",
                self.d.lower(&self.qcol(alias, COL_DATASET)),
                self.d.string(&ds.to_lowercase())
            ));
        }
        s
    }
}

/// What an aggregate reads from the base rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InputKind {
    Numeric,
    Native,
}

/// Per-query naming of base columns.
struct Layout {
    /// Slot name per aggregate (None for COUNT).
    slot_of: Vec<Option<String>>,
    /// (slot name, SQL expression).
    slots: Vec<(String, String)>,
}

fn g(i: usize) -> String {
    format!("g{i}")
}
fn a(i: usize) -> String {
    format!("a{i}")
}

fn layout(r: &Renderer<'_>, plan: &Plan) -> Layout {
    let mut slots: Vec<(String, String)> = Vec::new();
    let mut slot_of = Vec::new();
    let duration = ColumnRef {
        name: COL_DURATION_MS.into(),
        kind: ColumnKind::Stored(ColumnType::Float),
    };
    for agg in &plan.aggregates {
        let input = match (agg.op, &agg.column) {
            (CalcOp::Count, _) => None,
            (CalcOp::Concurrency, _) => Some((InputKind::Numeric, duration.clone())),
            (CalcOp::CountDistinct, Some(c)) => Some((InputKind::Native, c.clone())),
            (_, Some(c)) => Some((InputKind::Numeric, c.clone())),
            (_, None) => None,
        };
        slot_of.push(input.map(|(kind, c)| {
            let expr = match kind {
                InputKind::Numeric => r.numeric(&c, EVENT_ALIAS),
                InputKind::Native => r.column(&c, EVENT_ALIAS),
            };
            match slots.iter().find(|(_, e)| *e == expr) {
                Some((name, _)) => name.clone(),
                None => {
                    let name = format!("v{}", slots.len());
                    slots.push((name.clone(), expr));
                    name
                }
            }
        }));
    }
    Layout { slot_of, slots }
}

/// The shared `base` CTE body: group keys, bucket, weight, time and aggregate inputs of the
/// matching events.
fn base_cte(r: &Renderer<'_>, plan: &Plan, lay: &Layout) -> String {
    let d = r.d;
    let mut cols = Vec::new();
    for (i, c) in plan.group_by.iter().enumerate() {
        cols.push(format!(
            "{} AS {}",
            r.column(c, EVENT_ALIAS),
            d.ident(&g(i))
        ));
    }
    cols.push(format!(
        "{} AS {}",
        d.time_bucket_ns(
            &r.qcol(EVENT_ALIAS, COL_TIME_NS),
            plan.granularity_ns.max(1)
        ),
        d.ident("bucket")
    ));
    cols.push(format!(
        "{} AS {}",
        r.qcol(EVENT_ALIAS, COL_SAMPLE_RATE),
        d.ident("w")
    ));
    cols.push(format!(
        "{} AS {}",
        r.qcol(EVENT_ALIAS, COL_TIME_NS),
        d.ident("t")
    ));
    for (name, expr) in &lay.slots {
        cols.push(format!("{expr} AS {}", d.ident(name)));
    }
    format!(
        "SELECT {} FROM {} AS {} WHERE {} AND {}",
        cols.join(", "),
        d.ident(EVENTS_TABLE),
        d.ident(EVENT_ALIAS),
        r.scope(plan.dataset.as_deref(), EVENT_ALIAS),
        r.predicate(&plan.predicate, EVENT_ALIAS)
    )
}

/// Group key columns (plus bucket for series) as quoted identifiers.
fn keys(r: &Renderer<'_>, plan: &Plan, series: bool) -> Vec<String> {
    let mut k: Vec<String> = (0..plan.group_by.len()).map(|i| r.d.ident(&g(i))).collect();
    if series {
        k.push(r.d.ident("bucket"));
    }
    k
}

/// CTEs computing one aggregation level (`p` = name prefix) from `base`. Returns the CTE
/// definitions; the aggregate table is `{p}agg` with columns keys + `a{i}` (non-heatmap),
/// and each heatmap i has `{p}hs{i}` (keys + `h`).
fn aggregation_ctes(
    r: &Renderer<'_>,
    plan: &Plan,
    lay: &Layout,
    series: bool,
    p: &str,
) -> Vec<(String, String)> {
    let d = r.d;
    let id = |s: &str| d.ident(s);
    let keys = keys(r, plan, series);
    let group_keys: Vec<String> = (0..plan.group_by.len()).map(|i| id(&g(i))).collect();
    let mut ctes = Vec::new();

    // Window columns: percentiles (partition = keys) and rates (partition = group keys).
    let mut windows = Vec::new();
    let mut pct_done: Vec<String> = Vec::new();
    let mut rate_done: Vec<String> = Vec::new();
    for (i, agg) in plan.aggregates.iter().enumerate() {
        let Some(slot) = &lay.slot_of[i] else {
            continue;
        };
        let v = id(slot);
        if agg.op.permille().is_some() && !plan.uniform_weights && !pct_done.contains(slot) {
            pct_done.push(slot.clone());
            let part = if keys.is_empty() {
                String::new()
            } else {
                format!("PARTITION BY {} ", keys.join(", "))
            };
            let wsum = format!("CASE WHEN {v} IS NOT NULL THEN {} END", id("w"));
            windows.push(format!(
                "SUM({wsum}) OVER ({part}ORDER BY {v} ASC NULLS LAST ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS {}",
                id(&format!("c_{slot}"))
            ));
            windows.push(format!(
                "SUM({wsum}) OVER ({}) AS {}",
                part.trim_end(),
                id(&format!("n_{slot}"))
            ));
        }
        if matches!(agg.op, CalcOp::RateAvg | CalcOp::RateSum | CalcOp::RateMax)
            && !rate_done.contains(slot)
        {
            rate_done.push(slot.clone());
            let mut part = group_keys.clone();
            part.push(format!("({v} IS NULL)"));
            let w = format!(
                "PARTITION BY {} ORDER BY {} ASC, {v} ASC",
                part.join(", "),
                id("t")
            );
            windows.push(format!(
                "({v} - {}) / NULLIF({} / 1000000000.0, 0) AS {}",
                d.lag(&v, &w),
                d.to_double(&format!("{} - {}", id("t"), d.lag(&id("t"), &w))),
                id(&format!("r_{slot}"))
            ));
        }
    }
    let source = if windows.is_empty() {
        id("base")
    } else {
        let name = format!("{p}win");
        ctes.push((
            name.clone(),
            format!("SELECT *, {} FROM {}", windows.join(", "), id("base")),
        ));
        id(&name)
    };

    // The aggregate level.
    let bucket_ms = if series {
        plan.granularity_ns as f64 / 1e6
    } else {
        (plan.end_ns.saturating_sub(plan.start_ns)).max(1) as f64 / 1e6
    };
    let mut cols = keys.clone();
    for (i, agg) in plan.aggregates.iter().enumerate() {
        let slot = lay.slot_of[i].as_deref().map(id);
        let v = slot.clone().unwrap_or_else(|| "NULL".into());
        let w = id("w");
        let expr = match agg.op {
            CalcOp::Heatmap => continue,
            CalcOp::Count => format!("COALESCE({}, 0)", d.to_bigint(&format!("SUM({w})"))),
            CalcOp::Concurrency => format!("COALESCE(SUM({v} * {w}), 0) / {}", d.double(bucket_ms)),
            CalcOp::Sum => format!("SUM({v} * {w})"),
            CalcOp::Avg => format!(
                "SUM({v} * {w}) / {}",
                d.to_double(&d.filtered("SUM", &w, &format!("{v} IS NOT NULL")))
            ),
            CalcOp::CountDistinct => d.count_distinct(&v),
            CalcOp::Max => format!("MAX({v})"),
            CalcOp::Min => format!("MIN({v})"),
            CalcOp::RateAvg | CalcOp::RateSum | CalcOp::RateMax => {
                let f = match agg.op {
                    CalcOp::RateAvg => "AVG",
                    CalcOp::RateSum => "SUM",
                    _ => "MAX",
                };
                let s = lay.slot_of[i].clone().unwrap_or_default();
                format!("{f}({})", id(&format!("r_{s}")))
            }
            op if plan.uniform_weights => d.percentile_disc(&v, op.permille().unwrap_or(500)),
            op => {
                let s = lay.slot_of[i].clone().unwrap_or_default();
                let pm = op.permille().unwrap_or(500);
                d.weighted_percentile(&v, &id(&format!("c_{s}")), &id(&format!("n_{s}")), pm)
            }
        };
        cols.push(format!("{expr} AS {}", id(&a(i))));
    }
    if cols.is_empty() {
        // Only heatmaps: still one aggregate row to join them to.
        cols.push(format!("COUNT(*) AS {}", id("rows")));
    }
    let group = if keys.is_empty() {
        String::new()
    } else {
        format!(" GROUP BY {}", keys.join(", "))
    };
    ctes.push((
        format!("{p}agg"),
        format!("SELECT {} FROM {source}{group}", cols.join(", ")),
    ));

    // Heatmap histograms.
    for (i, agg) in plan.aggregates.iter().enumerate() {
        if agg.op != CalcOp::Heatmap {
            continue;
        }
        let Some(slot) = &lay.slot_of[i] else {
            continue;
        };
        let v = id(slot);
        let hb = id(&format!("hb{i}"));
        let (lo, hi) = (format!("{hb}.{}", id("lo")), format!("{hb}.{}", id("hi")));
        let idx = format!(
            "CASE WHEN {hi} = {lo} THEN 0 ELSE LEAST({}, {}) END",
            d.to_bigint(&d.floor(&format!(
                "({v} - {lo}) / ({hi} - {lo}) * {}",
                d.double(HEATMAP_BUCKETS as f64)
            ))),
            d.int(HEATMAP_BUCKETS - 1)
        );
        let mut inner_cols = keys.clone();
        inner_cols.push(id("w"));
        inner_cols.push(format!("{idx} AS {}", id("i")));
        let mut hh_keys = keys.clone();
        hh_keys.push(id("i"));
        let hh = format!("{p}hh{i}");
        ctes.push((
            hh.clone(),
            format!(
                "SELECT {}, {} AS {} FROM (SELECT {} FROM {} CROSS JOIN {hb} WHERE {v} IS NOT NULL) AS {} GROUP BY {}",
                hh_keys.join(", "),
                d.to_bigint(&format!("SUM({})", id("w"))),
                id("n"),
                inner_cols.join(", "),
                id("base"),
                id("x"),
                hh_keys.join(", ")
            ),
        ));
        let entry = format!("{} || ':' || {}", d.to_text(&id("i")), d.to_text(&id("n")));
        let mut hs_cols = keys.clone();
        hs_cols.push(format!(
            "{} AS {}",
            d.string_agg(&entry, ",", &id("i")),
            id("h")
        ));
        ctes.push((
            format!("{p}hs{i}"),
            format!("SELECT {} FROM {}{group}", hs_cols.join(", "), id(&hh)),
        ));
    }
    ctes
}

/// `SELECT` list, `FROM … JOIN …` for reading `{p}agg` with its heatmaps.
fn final_select(r: &Renderer<'_>, plan: &Plan, series: bool, p: &str) -> (String, String) {
    let d = r.d;
    let id = |s: &str| d.ident(s);
    let agg = id(&format!("{p}agg"));
    let keys = keys(r, plan, series);
    let mut select = Vec::new();
    if series {
        select.push(format!("{agg}.{}", id("bucket")));
    }
    for i in 0..plan.group_by.len() {
        select.push(format!("{agg}.{}", id(&g(i))));
    }
    let mut from = agg.clone();
    for (i, a_) in plan.aggregates.iter().enumerate() {
        if a_.op != CalcOp::Heatmap {
            select.push(format!("{agg}.{}", id(&a(i))));
            continue;
        }
        let hs = id(&format!("{p}hs{i}"));
        let hb = id(&format!("hb{i}"));
        select.push(format!("{hs}.{} AS {}", id("h"), id(&a(i))));
        select.push(format!("{hb}.{} AS {}", id("lo"), id(&format!("a{i}_lo"))));
        select.push(format!("{hb}.{} AS {}", id("hi"), id(&format!("a{i}_hi"))));
        let on: Vec<String> = keys
            .iter()
            .map(|k| d.not_distinct(&format!("{agg}.{k}"), &format!("{hs}.{k}")))
            .collect();
        let on = if on.is_empty() {
            "TRUE".to_string()
        } else {
            on.join(" AND ")
        };
        from.push_str(&format!(" LEFT JOIN {hs} ON {on} CROSS JOIN {hb}"));
    }
    (select.join(", "), from)
}

fn having_where(r: &Renderer<'_>, plan: &Plan, p: &str) -> String {
    let d = r.d;
    let agg = d.ident(&format!("{p}agg"));
    let conds: Vec<String> = plan
        .havings
        .iter()
        .map(|h| {
            format!(
                "{agg}.{} {} {}",
                d.ident(&a(h.aggregate)),
                h.op.sql(),
                d.double(h.value)
            )
        })
        .collect();
    if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    }
}

fn order_by(r: &Renderer<'_>, plan: &Plan, p: &str, series: bool) -> String {
    let d = r.d;
    let agg = d.ident(&format!("{p}agg"));
    let mut terms = Vec::new();
    if series {
        terms.push(format!("{agg}.{} ASC", d.ident("bucket")));
    } else {
        for o in &plan.orders {
            let col = match o.target {
                OrderTarget::Aggregate(i) => a(i),
                OrderTarget::Group(i) => g(i),
            };
            let dir = if o.descending { "DESC" } else { "ASC" };
            terms.push(format!("{agg}.{} {dir} NULLS LAST", d.ident(&col)));
        }
    }
    for i in 0..plan.group_by.len() {
        terms.push(format!("{agg}.{} ASC NULLS LAST", d.ident(&g(i))));
    }
    if terms.is_empty() {
        String::new()
    } else {
        format!(" ORDER BY {}", terms.join(", "))
    }
}

fn with(r: &Renderer<'_>, ctes: &[(String, String)]) -> String {
    let parts: Vec<String> = ctes
        .iter()
        .map(|(n, body)| format!("{} AS ({body})", r.d.ident(n)))
        .collect();
    format!("WITH {}", parts.join(",\n"))
}

/// The totals query: one row per group (at most `plan.limit`), havings applied, ordered.
/// Columns: [`output_columns`]`(plan, false)`.
pub fn render_totals(plan: &Plan, d: &dyn Dialect) -> Rendered {
    let r = Renderer::new(d, plan.start_ns, plan.end_ns);
    let lay = layout(&r, plan);
    let mut ctes = vec![("base".to_string(), base_cte(&r, plan, &lay))];
    ctes.extend(heatmap_bounds(&r, plan, &lay));
    ctes.extend(aggregation_ctes(&r, plan, &lay, false, ""));
    let (select, from) = final_select(&r, plan, false, "");
    let sql = format!(
        "{}\nSELECT {select} FROM {from}{}{} LIMIT {}",
        with(&r, &ctes),
        having_where(&r, plan, ""),
        order_by(&r, plan, "", false),
        plan.limit
    );
    Rendered {
        sql,
        columns: output_columns(plan, false),
    }
}

/// The series query: one row per (bucket, group) for the groups the totals query returns,
/// ordered by bucket then group. Columns: [`output_columns`]`(plan, true)`.
pub fn render_series(plan: &Plan, d: &dyn Dialect) -> Rendered {
    let r = Renderer::new(d, plan.start_ns, plan.end_ns);
    let lay = layout(&r, plan);
    let mut ctes = vec![("base".to_string(), base_cte(&r, plan, &lay))];
    ctes.extend(heatmap_bounds(&r, plan, &lay));
    // Totals (without heatmaps: never ordered or filtered on) pick the groups.
    let mut totals_plan = plan.clone();
    for agg in &mut totals_plan.aggregates {
        if agg.op == CalcOp::Heatmap {
            agg.op = CalcOp::Count;
        }
    }
    ctes.extend(aggregation_ctes(&r, &totals_plan, &lay, false, "t_"));
    let tagg = d.ident("t_agg");
    let top_cols: Vec<String> = (0..plan.group_by.len())
        .map(|i| format!("{tagg}.{}", d.ident(&g(i))))
        .collect();
    ctes.push((
        "top".into(),
        format!(
            "SELECT {} FROM {tagg}{}{} LIMIT {}",
            if top_cols.is_empty() {
                "1 AS one".to_string()
            } else {
                top_cols.join(", ")
            },
            having_where(&r, plan, "t_"),
            order_by(&r, plan, "t_", false),
            plan.limit
        ),
    ));
    ctes.extend(aggregation_ctes(&r, plan, &lay, true, "s_"));
    let (select, from) = final_select(&r, plan, true, "s_");
    let sagg = d.ident("s_agg");
    let top = d.ident("top");
    let conds: Vec<String> = (0..plan.group_by.len())
        .map(|i| {
            d.not_distinct(
                &format!("{top}.{}", d.ident(&g(i))),
                &format!("{sagg}.{}", d.ident(&g(i))),
            )
        })
        .collect();
    let exists = if conds.is_empty() {
        format!("EXISTS (SELECT 1 FROM {top})")
    } else {
        format!("EXISTS (SELECT 1 FROM {top} WHERE {})", conds.join(" AND "))
    };
    let sql = format!(
        "{}\nSELECT {select} FROM {from} WHERE {exists}{}",
        with(&r, &ctes),
        order_by(&r, plan, "s_", true)
    );
    Rendered {
        sql,
        columns: output_columns(plan, true),
    }
}

/// The event listing query: one row per matching event, columns `c0`, `c1`, … as
/// [`EventList::columns`], ordered and limited as [`EventList`] says.
pub fn render_event_list(plan: &Plan, list: &EventList, d: &dyn Dialect) -> String {
    let r = Renderer::new(d, plan.start_ns, plan.end_ns);
    let cols: Vec<String> = if list.columns.is_empty() {
        vec![format!("1 AS {}", d.ident("one"))]
    } else {
        list.columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                format!(
                    "{} AS {}",
                    r.column(c, EVENT_ALIAS),
                    d.ident(&format!("c{i}"))
                )
            })
            .collect()
    };
    let mut order: Vec<String> = list
        .order
        .iter()
        .map(|(c, desc)| {
            format!(
                "{} {} NULLS LAST",
                r.column(c, EVENT_ALIAS),
                if *desc { "DESC" } else { "ASC" }
            )
        })
        .collect();
    order.push(format!("{} DESC", r.qcol(EVENT_ALIAS, COL_TIME_NS)));
    format!(
        "SELECT {} FROM {} AS {} WHERE {} AND {} ORDER BY {} LIMIT {}",
        cols.join(", "),
        d.ident(EVENTS_TABLE),
        d.ident(EVENT_ALIAS),
        r.scope(plan.dataset.as_deref(), EVENT_ALIAS),
        r.predicate(&plan.predicate, EVENT_ALIAS),
        order.join(", "),
        plan.limit
    )
}

/// `hb{i}` CTEs: global [min, max] of each heatmap's input.
fn heatmap_bounds(r: &Renderer<'_>, plan: &Plan, lay: &Layout) -> Vec<(String, String)> {
    let d = r.d;
    plan.aggregates
        .iter()
        .enumerate()
        .filter(|(_, a)| a.op == CalcOp::Heatmap)
        .filter_map(|(i, _)| {
            let v = d.ident(lay.slot_of[i].as_deref()?);
            Some((
                format!("hb{i}"),
                format!(
                    "SELECT MIN({v}) AS {}, MAX({v}) AS {} FROM {}",
                    d.ident("lo"),
                    d.ident("hi"),
                    d.ident("base")
                ),
            ))
        })
        .collect()
}

/// Renders a comparison of an aggregate result (used by havings elsewhere).
pub fn cmp_sql(op: CmpOp) -> &'static str {
    op.sql()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::dialect::DuckDb;
    use model::Value;

    fn col(name: &str, ty: ColumnType) -> ColumnRef {
        ColumnRef {
            name: name.into(),
            kind: ColumnKind::Stored(ty),
        }
    }

    fn render(p: &Predicate) -> String {
        Renderer::new(&DuckDb, 3_600_000_000_000, 7_200_000_000_000).predicate(p, EVENT_ALIAS)
    }

    fn balanced(sql: &str) -> bool {
        let mut depth = 0i64;
        for c in sql.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            if depth < 0 {
                return false;
            }
        }
        depth == 0
    }

    fn is_get() -> Box<Predicate> {
        Box::new(Predicate::Compare {
            lhs: Operand::Column(col("http.method", ColumnType::String)),
            op: CmpOp::Eq,
            value: Value::Str("GET".into()),
        })
    }

    #[test]
    fn direct_relations_are_correlated_exists() {
        let sql = render(&Predicate::Related {
            relation: Relation::Parent,
            other: is_get(),
        });
        assert_eq!(
            sql,
            "(\"e\".\"__kind\" = 0 AND EXISTS (SELECT 1 FROM \"events\" AS \"t1\" WHERE \"t1\".\"__trace_hi\" = \"e\".\"__trace_hi\" AND \"t1\".\"__trace_lo\" = \"e\".\"__trace_lo\" AND \"t1\".\"__kind\" = 0 AND \"t1\".\"__time_ns\" >= 0 AND \"t1\".\"__time_ns\" < 10800000000000 AND \"t1\".\"__span_id\" = \"e\".\"__parent_id\" AND \"t1\".\"http.method\" = 'GET'))"
        );
        let sql = render(&Predicate::Related {
            relation: Relation::Sibling,
            other: is_get(),
        });
        assert!(
            sql.contains("\"t1\".\"__parent_id\" = \"e\".\"__parent_id\" AND NOT (\"t1\".\"__span_id\" IS NOT DISTINCT FROM \"e\".\"__span_id\")"),
            "{sql}"
        );
        let sql = render(&Predicate::Related {
            relation: Relation::Child,
            other: is_get(),
        });
        assert!(
            sql.contains("\"t1\".\"__parent_id\" = \"e\".\"__span_id\""),
            "{sql}"
        );
    }

    #[test]
    fn transitive_relations_test_ids_against_an_uncorrelated_closure() {
        let sql = render(&Predicate::Related {
            relation: Relation::Ancestor,
            other: is_get(),
        });
        assert_eq!(
            sql,
            "(\"e\".\"__kind\" = 0 AND EXISTS (SELECT 1 FROM (WITH RECURSIVE \"t2\"(\"hi\", \"lo\", \"id\") AS (SELECT \"t3\".\"__trace_hi\", \"t3\".\"__trace_lo\", \"t3\".\"__span_id\" FROM \"events\" AS \"t3\" WHERE \"t3\".\"__kind\" = 0 AND \"t3\".\"__time_ns\" >= 0 AND \"t3\".\"__time_ns\" < 10800000000000 AND \"t3\".\"http.method\" = 'GET' UNION SELECT \"t4\".\"__trace_hi\", \"t4\".\"__trace_lo\", \"t4\".\"__span_id\" FROM \"t2\" JOIN \"events\" AS \"t4\" ON \"t4\".\"__trace_hi\" = \"t2\".\"hi\" AND \"t4\".\"__trace_lo\" = \"t2\".\"lo\" AND \"t4\".\"__parent_id\" = \"t2\".\"id\" WHERE \"t4\".\"__kind\" = 0 AND \"t4\".\"__time_ns\" >= 0 AND \"t4\".\"__time_ns\" < 10800000000000) SELECT \"hi\", \"lo\", \"id\" FROM \"t2\") AS \"t1\" WHERE \"t1\".\"hi\" = \"e\".\"__trace_hi\" AND \"t1\".\"lo\" = \"e\".\"__trace_lo\" AND \"t1\".\"id\" = \"e\".\"__parent_id\"))"
        );
        // Descendant walks up: parent ids, matched against the row's span id.
        let sql = render(&Predicate::Related {
            relation: Relation::Descendant,
            other: is_get(),
        });
        assert!(
            sql.contains(
                "SELECT \"t3\".\"__trace_hi\", \"t3\".\"__trace_lo\", \"t3\".\"__parent_id\" FROM"
            ),
            "{sql}"
        );
        assert!(
            sql.contains("AND \"t4\".\"__span_id\" = \"t2\".\"id\""),
            "{sql}"
        );
        assert!(
            sql.ends_with("\"t1\".\"id\" = \"e\".\"__span_id\"))"),
            "{sql}"
        );
        // Nested relations get their own names.
        let nested = Predicate::Related {
            relation: Relation::Ancestor,
            other: Box::new(Predicate::Related {
                relation: Relation::Descendant,
                other: is_get(),
            }),
        };
        let sql = render(&nested);
        assert!(balanced(&sql), "{sql}");
        assert_eq!(sql.matches("WITH RECURSIVE").count(), 2, "{sql}");
        assert!(sql.contains("WITH RECURSIVE \"t6\""), "{sql}");
    }

    #[test]
    fn span_aggregates_are_scalar_subqueries() {
        let evil = col("a\"; DROP TABLE events; --", ColumnType::String);
        let p = Predicate::SpanAggregate {
            predicate: is_get(),
            agg: SpanAgg::Avg,
            operand: Some(Operand::Column(col("duration_ms", ColumnType::Float))),
            group: vec![evil],
            op: CmpOp::Gt,
            value: 20.0,
        };
        assert_eq!(
            render(&p),
            "(SELECT SUM(TRY_CAST(\"t1\".\"duration_ms\" AS DOUBLE)) / CAST(COUNT(TRY_CAST(\"t1\".\"duration_ms\" AS DOUBLE)) AS DOUBLE) FROM \"events\" AS \"t1\" WHERE \"t1\".\"__trace_hi\" = \"e\".\"__trace_hi\" AND \"t1\".\"__trace_lo\" = \"e\".\"__trace_lo\" AND \"t1\".\"__kind\" = 0 AND \"t1\".\"__time_ns\" >= 0 AND \"t1\".\"__time_ns\" < 10800000000000 AND \"t1\".\"http.method\" = 'GET' AND \"t1\".\"a\"\"; DROP TABLE events; --\" IS NOT DISTINCT FROM \"e\".\"a\"\"; DROP TABLE events; --\") > CAST(20.0 AS DOUBLE)"
        );
        let count = Predicate::SpanAggregate {
            predicate: Box::new(Predicate::True),
            agg: SpanAgg::Count,
            operand: None,
            group: Vec::new(),
            op: CmpOp::Le,
            value: 3.0,
        };
        assert!(render(&count).starts_with("(SELECT CAST(NULLIF(COUNT(*), 0) AS DOUBLE) FROM"));
        for (agg, f) in [
            (SpanAgg::Sum, "SUM("),
            (SpanAgg::Min, "MIN("),
            (SpanAgg::Max, "MAX("),
        ] {
            let p = Predicate::SpanAggregate {
                predicate: Box::new(Predicate::True),
                agg,
                operand: Some(Operand::AsDouble(col("n", ColumnType::Integer))),
                group: Vec::new(),
                op: CmpOp::Eq,
                value: 1.0,
            };
            let sql = render(&p);
            assert!(
                sql.starts_with(&format!(
                    "(SELECT {f}TRY_CAST(CAST(\"t1\".\"n\" AS DOUBLE) AS DOUBLE))"
                )),
                "{sql}"
            );
        }
    }
}
