//! Spanset queries → the shared plan's predicates ([`Search`]), and [`run_naive`], the
//! in-memory definition of what a search returns. What each field reads is the table in
//! the module docs ([`super`]).
//!
//! A spanset expression compiles to two predicates over events: `has`, true on every event
//! of a trace whose result spanset is not empty (a whole-trace predicate, like X-Ray's), and
//! `member`, true on the spans of that spanset. A filter `{ p }` over input spans `i` is
//! `member = i ∧ p`, `has = Trace{Any, member}`; `a && b` is `has = has_a ∧ has_b`,
//! `member = (member_a ∨ member_b) ∧ has`; `a || b` is `has_a ∨ has_b`, `member_a ∨ member_b`.
//! Each pipeline stage filters the spans the previous one kept.
//!
//! Comparisons with arithmetic on fields (`{ duration * 2 > 1s }`) or between two fields
//! run as a derived expression ([`crate::derived`]) per span: numbers as doubles, durations
//! in nanoseconds, and strings or booleans inside arithmetic as null, so the comparison is
//! false (Tempo: operands of mismatched types compare false). `^` on fields is unsupported.
//!
//! Structural operators compile exactly to [`Predicate::Related`]. Their meaning, from
//! Tempo's docs ("Construct a TraceQL query" › "Combine spansets using operators": they
//! "ALWAYS return matches from the right side"; the union forms "return spans that match on
//! both sides") and checked against its engine (`pkg/traceql/ast_execute.go`, the
//! `DescendantOf` / `ChildOf` / `SiblingOf` of its block formats), for `{A} op {B}` with both
//! sides read from the same input spans:
//! - `{A} > {B}`: B spans whose parent is an A span, `member_B ∧ Related{Parent, member_A}`;
//!   `<`: B spans that are the parent of an A span (`Related{Child, …}`); `>>`: B spans that
//!   descend from an A span (`Related{Ancestor, …}`); `<<`: B spans that are an ancestor of
//!   an A span (`Related{Descendant, …}`); `~`: B spans with a sibling among the A spans
//!   (`Related{Sibling, …}`).
//! - `!>`, `!<`, `!>>`, `!<<`, `!~` (experimental in Tempo): B spans for which the relation
//!   holds with no A span, `member_B ∧ ¬Related{…}`; so `{ } !< { … }` finds leaf spans, and
//!   when no span matches A every B span is returned. Tempo's docs warn that its
//!   implementation "sometimes returns false positives"; Waggle runs the documented meaning.
//! - `&>`, `&<`, `&>>`, `&<<`, `&~`: the spans of either side that take part in the relation,
//!   `(member_B ∧ Related{r, member_A}) ∨ (member_A ∧ Related{r⁻¹, member_B})`.
//!
//! A span is never its own sibling (Tempo excludes it too), and root spans have no siblings
//! (Waggle's choice: siblings share a parent id; Tempo's nested-set numbering gives every
//! root the same parent number and may pair two roots of one trace). `has` is
//! `Trace{Any, member}`, so [`Search::spans`] is exactly Tempo's spans.
//!
//! Aggregate stages (`| count() > 3`, `| avg(duration) > 20ms`, `min`, `max`, `sum`), from
//! Tempo's docs ("Aggregators", "Grouping") and engine: the aggregate is computed over each
//! spanset (a trace's spans, or each `by()` group's) and the spansets for which `aggregate op
//! number` holds are kept; `avg`, `min`, `max` and `sum` skip spans where the value is nil and
//! drop a spanset without any value, and an empty spanset is no result (so `count() < 1`
//! matches nothing). They compile to [`Predicate::SpanAggregate`] over the current member
//! spans, grouped by the `by()` columns in force (spans whose value is nil form one group,
//! as in Tempo): `member = member ∧ SpanAggregate`, `has` the traces with such a span.
//! `duration` is read from `duration_ms` with the literal converted (`20ms` compares as
//! 20.0); other fields are read like arithmetic operands (numbers as doubles, strings and
//! booleans as nil); `count()` compares with the number as written (`count() > 1s` with
//! 10⁹, as in Tempo). Only `aggregate op number` runs, as in Tempo's engine; other scalar
//! filters, and `&&` or structural operators after `by()` (Tempo applies them within each
//! group, which whole-trace predicates cannot express), are [`Error::Unsupported`].

use std::cmp::Ordering;
use std::sync::Arc;

use model::schema::{is_reserved_key, Catalog, COL_DURATION_MS, COL_NAME, COL_SERVICE};
use model::value::ColumnType;
use model::{Event, SignalKind, SpanId, TraceId, Value};

use super::ast::*;
use super::validate::references_span;
use super::{parse, Error};
use crate::derived::{self, DerivedColumn, Node, Pattern, Ty, Typed};
use crate::naive;
use crate::plan::{
    compare, resolve_column, ColumnKind, ColumnRef, Operand, Predicate, Relation, SpanAgg,
    TraceScope, TRACE_LOOKAROUND_NS,
};

/// Where span status lives: OTLP's status code (0 unset, 1 ok, 2 error) and husky's
/// `error = true`.
pub const COL_STATUS_CODE: &str = "status_code";
pub const COL_ERROR: &str = "error";
pub const COL_STATUS_MESSAGE: &str = "status_message";
pub const COL_SPAN_KIND: &str = "span.kind";
pub const COL_LIBRARY_NAME: &str = "library.name";
pub const COL_LIBRARY_VERSION: &str = "library.version";
/// `span.service.name` is stored under this key (an attribute may not shadow the
/// resource's `service.name` column).
pub const COL_USER_SERVICE: &str = "user.service.name";
/// Most nodes ([`Predicate::node_count`]) a compiled `has` or `member` predicate may have.
/// Our choice: the union structural operators (`&>>` …) repeat both sides, so a chain of
/// them doubles the predicate at each step; 20,000 nodes is far above any query in Tempo's
/// docs and corpus and keeps the rendered SQL to a few megabytes at most.
pub const PREDICATE_NODES_MAX: usize = 20_000;

/// What [`compile`] needs besides the query.
pub struct CompileContext<'a> {
    /// The store's columns: attributes no event has compile to "missing" (never equal).
    pub catalog: &'a Catalog,
}

/// A compiled spanset query.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    /// True on every event of a trace the query matches (Tempo returns these traces).
    pub trace: Predicate,
    /// True on the spans of the matching spansets (within matching traces).
    pub spans: Predicate,
    /// Whether `spans` is exactly Tempo's matched spans. Always true: every operator that
    /// compiles is exact (structural ones through [`Predicate::Related`]).
    pub spans_exact: bool,
    /// What `select(…)` returns with each matched span, in query order, one entry per
    /// output key (see [`Selected`]).
    pub select: Vec<Selected>,
    /// `by(…)` columns the spansets are split by (cleared by `coalesce()`).
    pub group_by: Vec<ColumnRef>,
    /// Unknown columns and other notes for the caller.
    pub warnings: Vec<String>,
}

/// One of Tempo's nested-set numbers (see `query::tempo::nested_set_numbers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NestedSet {
    /// `nestedSetLeft`: the counter on entering the span in the trace's depth-first walk.
    Left,
    /// `nestedSetRight`: the counter on leaving it.
    Right,
    /// `nestedSetParent`: the parent's `nestedSetLeft`, -1 for a root.
    Parent,
}

impl NestedSet {
    /// The key Tempo writes the number under.
    pub fn key(self) -> &'static str {
        match self {
            NestedSet::Left => "nestedSetLeft",
            NestedSet::Right => "nestedSetRight",
            NestedSet::Parent => "nestedSetParent",
        }
    }
}

/// One value `select(…)` asks for on each matched span. Tempo writes it among the span's
/// `attributes`: an attribute under its name without the scope (`span.http.method` →
/// `http.method`, `resource.service.name` → `service.name`), an intrinsic under Tempo's
/// name for it (`status`, `kind`, `statusMessage`, `nestedSetLeft`, `span:id`, …). `name`
/// and `duration` are the span's own fields and the trace-level intrinsics are in the
/// trace's summary, so selecting those adds nothing (Tempo leaves them out of attributes).
#[derive(Debug, Clone, PartialEq)]
pub enum Selected {
    /// A stored value, read from `col` as stored; a span without one has no such
    /// attribute, unless `default` is given (then the column's text, or `default`).
    Column {
        key: String,
        col: ColumnRef,
        default: Option<&'static str>,
    },
    /// `status`: `"error"` where `error` holds, else `"ok"` where `ok` holds, else
    /// `"unset"` (the module docs' reading of the status columns).
    Status { error: Predicate, ok: Predicate },
    /// A nested-set number: not stored, computed from the trace's span tree.
    NestedSet(NestedSet),
}

impl Selected {
    /// The attribute key the value is written under.
    pub fn key(&self) -> &str {
        match self {
            Selected::Column { key, .. } => key,
            Selected::Status { .. } => "status",
            Selected::NestedSet(n) => n.key(),
        }
    }

    /// Whether the value is read from the span's row (else it is computed from the trace).
    pub fn is_stored(&self) -> bool {
        !matches!(self, Selected::NestedSet(_))
    }
}

impl Search {
    /// Whether a nested-set number is selected (the trace's span tree must then be read).
    pub fn selects_nested_sets(&self) -> bool {
        self.select.iter().any(|s| !s.is_stored())
    }
}

/// Compiles a validated query. Metrics queries and the parts of TraceQL the plan cannot
/// express are [`Error::Unsupported`].
pub fn compile(q: &Query, ctx: &CompileContext<'_>) -> Result<Search, Error> {
    let e = match &q.root {
        RootExpr::Spans(e) => e,
        RootExpr::Metrics(m) => {
            return unsupported(
                m.loc(),
                "TraceQL metrics queries (rate(), count_over_time(), …) are parsed but not run by this compiler; they are planned separately",
            )
        }
    };
    let mut c = Compiler {
        ctx,
        warnings: Vec::new(),
        select: Vec::new(),
        group_by: Vec::new(),
    };
    let all = Set {
        has: Predicate::True,
        member: Predicate::True,
    };
    let set = c.spanset(e, &all, true)?;
    Ok(Search {
        trace: set.has,
        spans: Predicate::and(vec![Predicate::KindIn(vec![SignalKind::Span]), set.member]),
        spans_exact: true,
        select: c.select,
        group_by: c.group_by,
        warnings: c.warnings,
    })
}

/// Parses, validates and compiles `text`.
pub fn compile_str(text: &str, ctx: &CompileContext<'_>) -> Result<Search, Error> {
    compile(&parse(text)?, ctx)
}

fn unsupported<T>(loc: Loc, message: impl Into<String>) -> Result<T, Error> {
    Err(Error::Unsupported {
        pos: loc.start,
        message: message.into(),
    })
}

fn invalid<T>(loc: Loc, message: impl Into<String>) -> Result<T, Error> {
    Err(Error::Validation {
        pos: loc.start,
        message: message.into(),
    })
}

/// A compiled spanset expression (see the module docs).
#[derive(Debug, Clone)]
struct Set {
    has: Predicate,
    member: Predicate,
}

impl Set {
    /// No spans.
    fn empty() -> Set {
        Set {
            has: Predicate::False,
            member: Predicate::False,
        }
    }

    /// `self`, unless a predicate has grown past [`PREDICATE_NODES_MAX`].
    fn bounded(self, loc: Loc) -> Result<Set, Error> {
        if self.has.node_count() > PREDICATE_NODES_MAX
            || self.member.node_count() > PREDICATE_NODES_MAX
        {
            return unsupported(
                loc,
                format!(
                    "the query expands to more than {PREDICATE_NODES_MAX} conditions (union structural operators such as `&>>` repeat both sides); split it into smaller queries"
                ),
            );
        }
        Ok(self)
    }
}

fn trace_any(p: Predicate) -> Predicate {
    match p {
        Predicate::False => Predicate::False,
        p => Predicate::Trace {
            scope: TraceScope::Any,
            predicate: Box::new(p),
        },
    }
}

fn trace_root(p: Predicate) -> Predicate {
    match p {
        Predicate::False => Predicate::False,
        p => Predicate::Trace {
            scope: TraceScope::Root,
            predicate: Box::new(p),
        },
    }
}

/// The span stands in `relation` to some span satisfying `other`.
fn related(relation: Relation, other: Predicate) -> Predicate {
    match other {
        Predicate::False => Predicate::False,
        other => Predicate::Related {
            relation,
            other: Box::new(other),
        },
    }
}

fn exists(c: &ColumnRef) -> Predicate {
    match c.kind {
        ColumnKind::Missing => Predicate::False,
        _ => Predicate::Exists(c.clone()),
    }
}

/// The operand text operators read.
fn text_operand(c: &ColumnRef) -> Operand {
    match c.value_type() {
        Some(ColumnType::String) => Operand::Column(c.clone()),
        _ => Operand::AsText(c.clone()),
    }
}

/// A TraceQL regular expression as the plan runs it: fully anchored, `.` matching
/// newlines (Tempo anchors through Prometheus' `^(?s:…)$`).
fn anchored(pattern: &str, loc: Loc) -> Result<Pattern, Error> {
    let source = format!("^(?s:{pattern})$");
    match regex::RegexBuilder::new(&source)
        .size_limit(derived::REGEX_SIZE_LIMIT)
        .build()
    {
        Ok(regex) => Ok(Pattern { source, regex }),
        Err(e) => invalid(
            loc,
            format!(
                "invalid regular expression: {}",
                super::validate::regex_error(&e)
            ),
        ),
    }
}

/// `op` with its operands swapped (`1 < .a` is `.a > 1`).
fn flip(op: BinOp) -> BinOp {
    match op {
        BinOp::Lt => BinOp::Gt,
        BinOp::Le => BinOp::Ge,
        BinOp::Gt => BinOp::Lt,
        BinOp::Ge => BinOp::Le,
        op => op,
    }
}

struct Compiler<'c, 'a> {
    ctx: &'c CompileContext<'a>,
    warnings: Vec<String>,
    select: Vec<Selected>,
    group_by: Vec<ColumnRef>,
}

impl Compiler<'_, '_> {
    fn col(&mut self, name: &str) -> ColumnRef {
        resolve_column(name, self.ctx.catalog, &mut self.warnings)
    }

    fn spanset(&mut self, e: &SpansetExpr, input: &Set, top: bool) -> Result<Set, Error> {
        match e {
            SpansetExpr::Filter(f) => {
                let p = self.boolean(&f.expr)?;
                let member = Predicate::and(vec![input.member.clone(), p]);
                Ok(Set {
                    has: trace_any(member.clone()),
                    member,
                })
            }
            SpansetExpr::Op { op, lhs, rhs, loc } => {
                let l = self.spanset(lhs, input, false)?;
                let r = self.spanset(rhs, input, false)?;
                combine(*op, l, r, *loc)
            }
            SpansetExpr::Pipeline(p) => self.pipeline(p, input, top),
        }
    }

    fn pipeline(&mut self, p: &Pipeline, input: &Set, top: bool) -> Result<Set, Error> {
        let mut cur = Set {
            has: trace_any(input.member.clone()),
            ..input.clone()
        };
        for s in &p.stages {
            match s {
                Stage::Spanset(e) => {
                    if !self.group_by.is_empty() {
                        if let Some(loc) = cross_span_op(e) {
                            return unsupported(
                                loc,
                                "`&&` and structural operators after by() relate the spans of each group separately; that is not supported yet (put them before by())",
                            );
                        }
                    }
                    cur = self.spanset(e, &cur, false)?
                }
                Stage::ScalarFilter(f) => cur = self.scalar_filter(f, &cur)?,
                Stage::By { expr, loc } => {
                    if !top {
                        return unsupported(
                            *loc,
                            "by() inside a parenthesized pipeline (Tempo refuses spanset operators over grouped spansets at run time)",
                        );
                    }
                    match &expr.kind {
                        FieldKind::Attr(a) => {
                            let c = self.plain_column(a, *loc, "by()")?;
                            self.group_by.push(c);
                        }
                        _ => return unsupported(
                            *loc,
                            "by() over a computed expression; group by an attribute or intrinsic",
                        ),
                    }
                }
                Stage::Coalesce { .. } => self.group_by.clear(),
                Stage::Select { attrs, loc } => {
                    for a in attrs {
                        let Some(sel) = self.selected(a, *loc)? else {
                            continue;
                        };
                        if !self.select.iter().any(|s| s.key() == sel.key()) {
                            self.select.push(sel);
                        }
                    }
                }
            }
        }
        Ok(cur)
    }

    /// `| aggregate op number` over the spans of `input` (see the module docs).
    fn scalar_filter(&mut self, f: &ScalarFilter, input: &Set) -> Result<Set, Error> {
        let ScalarExpr::Aggregate(a) = &f.lhs else {
            return unsupported(
                f.lhs.loc(),
                "scalar filters whose left side is not a single aggregate such as `count()` are not supported (Tempo does not run them either)",
            );
        };
        let ScalarExpr::Static { value, loc } = &f.rhs else {
            return unsupported(
                f.rhs.loc(),
                "scalar filters whose right side is not a number are not supported (Tempo does not run them either)",
            );
        };
        let Some(n) = value.as_f64() else {
            return unsupported(
                *loc,
                format!(
                    "comparing {}() with {} is not supported; compare it with a number or a duration",
                    a.op.as_str(),
                    value.ty().with_article()
                ),
            );
        };
        let (agg, operand, value) = match (a.op, &a.field) {
            (AggregateOp::Count, _) => (SpanAgg::Count, None, n),
            (op, Some(field)) => {
                let agg = match op {
                    AggregateOp::Sum => SpanAgg::Sum,
                    AggregateOp::Avg => SpanAgg::Avg,
                    AggregateOp::Min => SpanAgg::Min,
                    _ => SpanAgg::Max,
                };
                let Some((operand, in_ms)) = self.aggregate_operand(field)? else {
                    // Nothing numeric to read: every spanset is dropped.
                    return Ok(Set::empty());
                };
                (agg, Some(operand), if in_ms { n / 1e6 } else { n })
            }
            (op, None) => {
                return invalid(
                    a.loc,
                    format!("{}() needs an expression to aggregate", op.as_str()),
                )
            }
        };
        if input.member == Predicate::False {
            return Ok(Set::empty());
        }
        let group = self.group_by.clone();
        let grouped = !group.is_empty();
        let filter = Predicate::SpanAggregate {
            predicate: Box::new(input.member.clone()),
            agg,
            operand,
            group,
            op: f.op,
            value,
        };
        let member = Predicate::and(vec![input.member.clone(), filter.clone()]);
        // Without groups the aggregate is the trace's: true on all of its events.
        let has = if grouped {
            trace_any(member.clone())
        } else {
            filter
        };
        Set { has, member }.bounded(f.loc)
    }

    /// What an aggregate reads from each span: the operand and whether it is in
    /// milliseconds (`duration`; the literal is in nanoseconds). None: the field can hold no
    /// number (a string or boolean column, or none at all).
    fn aggregate_operand(&mut self, f: &Field) -> Result<Option<(Operand, bool)>, Error> {
        match &f.kind {
            FieldKind::Attr(AttrRef::Intrinsic(Intrinsic::Duration)) => {
                Ok(Some((Operand::Column(self.col(COL_DURATION_MS)), true)))
            }
            FieldKind::Attr(AttrRef::Intrinsic(i)) => unsupported(
                f.loc,
                unsupported_intrinsic(*i).unwrap_or_else(|| {
                    format!("aggregating `{}` is not supported yet", i.as_str())
                }),
            ),
            _ => {
                let t = self.numeric(f)?;
                Ok(match (t.ty, t.node) {
                    (Ty::Null, _) => None,
                    (_, Node::Column(c)) => Some((Operand::AsDouble(c), false)),
                    (ty, node) => {
                        let c = self.derived_column(Typed { ty, node }, f.loc)?;
                        Some((Operand::Column(c), false))
                    }
                })
            }
        }
    }

    /// The one column an attribute or intrinsic is read from (for `by` / `select`).
    fn plain_column(&mut self, a: &AttrRef, loc: Loc, what: &str) -> Result<ColumnRef, Error> {
        let name = match a {
            AttrRef::Attribute(attr) => {
                self.check_attr_scope(attr, loc)?;
                return Ok(self.attr_column(attr));
            }
            AttrRef::Intrinsic(i) => match i {
                Intrinsic::Name => COL_NAME,
                Intrinsic::Duration => COL_DURATION_MS,
                Intrinsic::Status => COL_STATUS_CODE,
                Intrinsic::StatusMessage => COL_STATUS_MESSAGE,
                Intrinsic::Kind => COL_SPAN_KIND,
                Intrinsic::InstrumentationName => COL_LIBRARY_NAME,
                Intrinsic::InstrumentationVersion => COL_LIBRARY_VERSION,
                Intrinsic::SpanId => model::schema::FIELD_SPAN_ID,
                Intrinsic::ParentId => model::schema::FIELD_PARENT_ID,
                Intrinsic::TraceId => model::schema::FIELD_TRACE_ID,
                i => {
                    return unsupported(
                        loc,
                        format!("{what} of `{}` is not supported yet", i.as_str()),
                    )
                }
            },
        };
        Ok(self.col(name))
    }

    /// What `select(a)` returns with each matched span; None when the span carries it
    /// already (`name`, `duration`) or it belongs to the trace (see [`Selected`]).
    fn selected(&mut self, a: &AttrRef, loc: Loc) -> Result<Option<Selected>, Error> {
        let i = match a {
            AttrRef::Attribute(attr) => {
                self.check_attr_scope(attr, loc)?;
                return Ok(Some(Selected::Column {
                    key: attr.name.clone(),
                    col: self.attr_column(attr),
                    default: None,
                }));
            }
            AttrRef::Intrinsic(i) => *i,
        };
        Ok(Some(match i {
            Intrinsic::Name
            | Intrinsic::Duration
            | Intrinsic::TraceDuration
            | Intrinsic::TraceRootSpan
            | Intrinsic::TraceRootService => return Ok(None),
            Intrinsic::NestedSetLeft => Selected::NestedSet(NestedSet::Left),
            Intrinsic::NestedSetRight => Selected::NestedSet(NestedSet::Right),
            Intrinsic::NestedSetParent => Selected::NestedSet(NestedSet::Parent),
            Intrinsic::Status => Selected::Status {
                error: self.status(Status::Error),
                ok: self.status(Status::Ok),
            },
            Intrinsic::Kind => Selected::Column {
                key: "kind".into(),
                col: self.col(COL_SPAN_KIND),
                default: Some(Kind::Unspecified.as_str()),
            },
            Intrinsic::StatusMessage => Selected::Column {
                key: "statusMessage".into(),
                col: self.col(COL_STATUS_MESSAGE),
                default: Some(""),
            },
            i => Selected::Column {
                key: i.as_str().into(),
                col: self.plain_column(a, loc, "select()")?,
                default: None,
            },
        }))
    }

    fn check_attr_scope(&self, a: &Attribute, loc: Loc) -> Result<(), Error> {
        if a.parent {
            return unsupported(loc, "parent. attributes are not supported yet");
        }
        match a.scope {
            AttrScope::Event | AttrScope::Link => unsupported(
                loc,
                format!(
                    "`{}` attributes: span events and links are stored as their own events, and the plan cannot yet ask whether a span has an event or link that matches",
                    a.scope.prefix()
                ),
            ),
            _ => Ok(()),
        }
    }

    /// The first column an attribute may be stored in.
    fn attr_column(&mut self, a: &Attribute) -> ColumnRef {
        let name = a.name.clone();
        self.attr_columns(a)
            .into_iter()
            .next()
            .unwrap_or(ColumnRef {
                name,
                kind: ColumnKind::Missing,
            })
    }

    /// The columns an attribute may be stored in (more than one only for `.service.name`),
    /// never empty.
    fn attr_columns(&mut self, a: &Attribute) -> Vec<ColumnRef> {
        let names: Vec<String> = if a.name == COL_SERVICE {
            match a.scope {
                AttrScope::Resource => vec![COL_SERVICE.into()],
                AttrScope::Span => vec![COL_USER_SERVICE.into()],
                _ => vec![COL_SERVICE.into(), COL_USER_SERVICE.into()],
            }
        } else if is_reserved_key(&a.name) {
            vec![format!("user.{}", a.name)]
        } else {
            vec![a.name.clone()]
        };
        let mut quiet = Vec::new();
        let cols: Vec<ColumnRef> = names
            .iter()
            .map(|n| resolve_column(n, self.ctx.catalog, &mut quiet))
            .collect();
        let present: Vec<ColumnRef> = cols
            .iter()
            .filter(|c| c.kind != ColumnKind::Missing)
            .cloned()
            .collect();
        if present.is_empty() {
            let w = format!(
                "attribute {:?} is not a known column; it matches no spans",
                a.name
            );
            if !self.warnings.contains(&w) {
                self.warnings.push(w);
            }
            cols.into_iter().take(1).collect()
        } else {
            present
        }
    }

    /// A boolean field expression as a predicate on one span.
    fn boolean(&mut self, f: &Field) -> Result<Predicate, Error> {
        if !references_span(f) {
            return match const_eval(f)? {
                Static::Bool(b) => Ok(if b { Predicate::True } else { Predicate::False }),
                other => invalid(
                    f.loc,
                    format!("expected a boolean, found {}", other.ty().with_article()),
                ),
            };
        }
        match &f.kind {
            FieldKind::Binary {
                op: BinOp::And,
                lhs,
                rhs,
            } => Ok(Predicate::and(vec![self.boolean(lhs)?, self.boolean(rhs)?])),
            FieldKind::Binary {
                op: BinOp::Or,
                lhs,
                rhs,
            } => Ok(Predicate::or(vec![self.boolean(lhs)?, self.boolean(rhs)?])),
            FieldKind::Unary {
                op: UnaryOp::Not,
                operand,
            } => Ok(Predicate::not(self.boolean(operand)?)),
            FieldKind::Unary {
                op: op @ (UnaryOp::Exists | UnaryOp::NotExists),
                operand,
            } => {
                let p = self.exists(operand)?;
                Ok(if *op == UnaryOp::Exists {
                    p
                } else {
                    Predicate::not(p)
                })
            }
            FieldKind::Binary { op, lhs, rhs } => self.comparison(*op, lhs, rhs, f.loc),
            FieldKind::Attr(a) => self.attr_cmp(a, BinOp::Eq, &Static::Bool(true), f.loc),
            _ => self.derived_bool(f),
        }
    }

    /// `nestedSetParent op c` where the answer does not depend on the nested-set numbering:
    /// Tempo numbers a root's parent -1 and every other span's parent 1 or more, so
    /// `nestedSetParent < 0` (Traces Drilldown's "root spans") is "has no parent", and
    /// `nestedSetParent > 0` "has one". None for comparisons that need the numbers.
    fn root_test(&mut self, op: BinOp, v: &Static) -> Option<Predicate> {
        let c = v.as_f64()?;
        let cmp = op.cmp()?;
        let holds = |x: f64| x.partial_cmp(&c).is_some_and(|o| cmp.holds(o));
        // Every non-root value is ≥ 1: the comparison is decided for all of them when it is
        // decided at 1 and c lies below 1 (or, for >=, at 1).
        let decided = c < 1.0 || (c == 1.0 && matches!(cmp, CmpOp::Ge | CmpOp::Lt));
        if !decided {
            return None;
        }
        let root = Predicate::not(exists(&self.col(model::schema::FIELD_PARENT_ID)));
        Some(match (holds(-1.0), holds(1.0)) {
            (true, true) => Predicate::True,
            (true, false) => root,
            (false, true) => Predicate::not(root),
            (false, false) => Predicate::False,
        })
    }

    /// `x != nil`.
    fn exists(&mut self, operand: &Field) -> Result<Predicate, Error> {
        let FieldKind::Attr(a) = &operand.kind else {
            return unsupported(
                operand.loc,
                "`!= nil` / `= nil` on a computed expression; compare an attribute",
            );
        };
        match a {
            AttrRef::Attribute(attr) => {
                self.check_attr_scope(attr, operand.loc)?;
                let cols = self.attr_columns(attr);
                Ok(Predicate::or(cols.iter().map(exists).collect()))
            }
            AttrRef::Intrinsic(i) => match i {
                Intrinsic::Name => Ok(exists(&self.col(COL_NAME))),
                Intrinsic::Duration => Ok(exists(&self.col(COL_DURATION_MS))),
                Intrinsic::InstrumentationName => Ok(exists(&self.col(COL_LIBRARY_NAME))),
                Intrinsic::InstrumentationVersion => Ok(exists(&self.col(COL_LIBRARY_VERSION))),
                // Every span has a nested-set parent number (-1 for roots).
                Intrinsic::NestedSetParent => Ok(Predicate::True),
                i if unsupported_intrinsic(*i).is_some() => {
                    unsupported(operand.loc, unsupported_intrinsic(*i).unwrap_or_default())
                }
                // Every span has the others (with defaults where Waggle stores none).
                _ => Ok(Predicate::True),
            },
        }
    }

    fn comparison(
        &mut self,
        op: BinOp,
        lhs: &Field,
        rhs: &Field,
        loc: Loc,
    ) -> Result<Predicate, Error> {
        match (&lhs.kind, &rhs.kind) {
            (FieldKind::Attr(a), _) if !references_span(rhs) => {
                let v = const_eval(rhs)?;
                self.attr_cmp(a, op, &v, loc)
            }
            (_, FieldKind::Attr(a)) if !references_span(lhs) && op.cmp().is_some() => {
                let v = const_eval(lhs)?;
                self.attr_cmp(a, flip(op), &v, loc)
            }
            _ => self.derived_bool(&Field {
                kind: FieldKind::Binary {
                    op,
                    lhs: Box::new(lhs.clone()),
                    rhs: Box::new(rhs.clone()),
                },
                loc,
            }),
        }
    }

    /// `a op v` for a comparison or regex `op` and a constant `v`.
    fn attr_cmp(
        &mut self,
        a: &AttrRef,
        op: BinOp,
        v: &Static,
        loc: Loc,
    ) -> Result<Predicate, Error> {
        let i = match a {
            AttrRef::Attribute(attr) => {
                self.check_attr_scope(attr, loc)?;
                let cols = self.attr_columns(attr);
                let mut alts = Vec::new();
                for c in &cols {
                    alts.push(column_cmp(c, op, v, loc)?);
                }
                return Ok(Predicate::or(alts));
            }
            AttrRef::Intrinsic(i) => *i,
        };
        if i == Intrinsic::NestedSetParent {
            if let Some(p) = self.root_test(op, v) {
                return Ok(p);
            }
        }
        if let Some(why) = unsupported_intrinsic(i) {
            return unsupported(loc, why);
        }
        Ok(match i {
            Intrinsic::Name => column_cmp(&self.col(COL_NAME), op, v, loc)?,
            Intrinsic::StatusMessage => {
                let c = self.col(COL_STATUS_MESSAGE);
                with_default(&c, "", op, v, loc)?
            }
            Intrinsic::Kind => {
                let c = self.col(COL_SPAN_KIND);
                let text = match v {
                    Static::Kind(k) => Static::Str(k.as_str().into()),
                    v => v.clone(),
                };
                with_default(&c, Kind::Unspecified.as_str(), op, &text, loc)?
            }
            Intrinsic::Status => {
                let Static::Status(s) = v else {
                    return Ok(Predicate::False);
                };
                let p = self.status(*s);
                match op {
                    BinOp::Eq => p,
                    BinOp::Ne => Predicate::not(p),
                    _ => Predicate::False,
                }
            }
            Intrinsic::Duration => {
                let Some(ns) = v.as_f64() else {
                    return Ok(Predicate::False);
                };
                let Some(cmp) = op.cmp() else {
                    return Ok(Predicate::False);
                };
                compare(&self.col(COL_DURATION_MS), cmp, &Value::Float(ns / 1e6))
            }
            Intrinsic::TraceDuration => {
                let (Some(ns), Some(cmp)) = (v.as_f64(), op.cmp()) else {
                    return Ok(Predicate::False);
                };
                Predicate::TraceDuration {
                    op: cmp,
                    ms: ns / 1e6,
                }
            }
            Intrinsic::TraceRootSpan => trace_root(column_cmp(&self.col(COL_NAME), op, v, loc)?),
            Intrinsic::TraceRootService => {
                trace_root(column_cmp(&self.col(COL_SERVICE), op, v, loc)?)
            }
            Intrinsic::TraceId => {
                let c = self.col(model::schema::FIELD_TRACE_ID);
                match (op, v) {
                    (BinOp::Eq | BinOp::Ne, Static::Str(s)) => {
                        let p = trace_id(s).map_or(Predicate::False, Predicate::TraceIdIs);
                        if op == BinOp::Eq {
                            p
                        } else {
                            Predicate::not(p)
                        }
                    }
                    _ => column_cmp(&c, op, v, loc)?,
                }
            }
            Intrinsic::SpanId | Intrinsic::ParentId => {
                let parent = i == Intrinsic::ParentId;
                let field = if parent {
                    model::schema::FIELD_PARENT_ID
                } else {
                    model::schema::FIELD_SPAN_ID
                };
                match (op, v) {
                    (BinOp::Eq | BinOp::Ne, Static::Str(s)) => {
                        let p = span_id(s)
                            .map_or(Predicate::False, |id| Predicate::SpanIdIs { parent, id });
                        if op == BinOp::Eq {
                            p
                        } else {
                            Predicate::not(p)
                        }
                    }
                    _ => column_cmp(&self.col(field), op, v, loc)?,
                }
            }
            Intrinsic::InstrumentationName => column_cmp(&self.col(COL_LIBRARY_NAME), op, v, loc)?,
            Intrinsic::InstrumentationVersion => {
                column_cmp(&self.col(COL_LIBRARY_VERSION), op, v, loc)?
            }
            _ => return unsupported(loc, format!("`{}`", i.as_str())),
        })
    }

    /// `status = s` on one span.
    fn status(&mut self, s: Status) -> Predicate {
        let code = self.col(COL_STATUS_CODE);
        let flag = self.col(COL_ERROR);
        let error = Predicate::or(vec![
            compare(&code, crate::plan::CmpOp::Eq, &Value::Int(2)),
            compare(&flag, crate::plan::CmpOp::Eq, &Value::Bool(true)),
        ]);
        let is_ok = compare(&code, crate::plan::CmpOp::Eq, &Value::Int(1));
        match s {
            Status::Error => error,
            Status::Ok => Predicate::and(vec![is_ok, Predicate::not(error)]),
            Status::Unset => Predicate::and(vec![Predicate::not(error), Predicate::not(is_ok)]),
        }
    }

    /// A comparison over computed values (arithmetic on attributes, two attributes), as a
    /// derived expression the plan evaluates per span.
    fn derived_bool(&mut self, f: &Field) -> Result<Predicate, Error> {
        let typed = self.typed(f)?;
        if typed.ty != Ty::Bool {
            return invalid(f.loc, "expected a boolean expression");
        }
        let column = self.derived_column(typed, f.loc)?;
        Ok(Predicate::Compare {
            lhs: Operand::Column(column),
            op: crate::plan::CmpOp::Eq,
            value: Value::Bool(true),
        })
    }

    /// A computed expression as a derived column the plan evaluates per span.
    fn derived_column(&self, typed: Typed, loc: Loc) -> Result<ColumnRef, Error> {
        let expanded_size = typed.expanded_size();
        if expanded_size > derived::EXPANDED_NODES_MAX {
            return unsupported(loc, "the expression is too large to evaluate");
        }
        Ok(ColumnRef {
            name: format!("traceql@{}", loc.start),
            kind: ColumnKind::Derived(Arc::new(DerivedColumn {
                alias: format!("traceql@{}", loc.start),
                expression: String::new(),
                expr: typed,
                expanded_size,
            })),
        })
    }

    /// A field expression as a derived-expression node (numbers as doubles).
    fn typed(&mut self, f: &Field) -> Result<Typed, Error> {
        let t = |ty, node| Typed { ty, node };
        let float = |x: Typed| match x.ty {
            Ty::Float => x,
            Ty::Null => t(Ty::Float, Node::Lit(None)),
            _ => t(Ty::Float, Node::ToFloat(Box::new(x))),
        };
        if !references_span(f) {
            return Ok(match const_eval(f)? {
                Static::Int(i) => t(Ty::Float, Node::Lit(Some(Value::Float(i as f64)))),
                Static::Float(x) => t(Ty::Float, Node::Lit(Some(Value::Float(x)))),
                Static::Duration(d) => t(Ty::Float, Node::Lit(Some(Value::Float(d as f64)))),
                Static::Str(s) => t(Ty::Str, Node::Lit(Some(Value::Str(s)))),
                Static::Bool(b) => t(Ty::Bool, Node::Lit(Some(Value::Bool(b)))),
                _ => return unsupported(f.loc, "status and kind literals in computed expressions"),
            });
        }
        match &f.kind {
            FieldKind::Attr(a) => {
                let c = match a {
                    AttrRef::Attribute(attr) => {
                        self.check_attr_scope(attr, f.loc)?;
                        self.attr_column(attr)
                    }
                    AttrRef::Intrinsic(Intrinsic::Duration) => {
                        // Nanoseconds, as TraceQL reads durations.
                        let ms = self.col(COL_DURATION_MS);
                        return Ok(t(
                            Ty::Float,
                            Node::Arith {
                                op: derived::ArithOp::Mul,
                                a: Box::new(t(Ty::Float, Node::Column(ms))),
                                b: Box::new(t(Ty::Float, Node::Lit(Some(Value::Float(1e6))))),
                            },
                        ));
                    }
                    AttrRef::Intrinsic(Intrinsic::Name) => self.col(COL_NAME),
                    AttrRef::Intrinsic(i) => {
                        return unsupported(
                            f.loc,
                            format!("`{}` inside a computed expression", i.as_str()),
                        )
                    }
                };
                Ok(match c.value_type() {
                    None => t(Ty::Null, Node::Lit(None)),
                    ty => t(Ty::of_column(ty), Node::Column(c)),
                })
            }
            FieldKind::Unary {
                op: UnaryOp::Neg,
                operand,
            } => {
                let x = self.numeric(operand)?;
                Ok(t(
                    Ty::Float,
                    Node::Arith {
                        op: derived::ArithOp::Mul,
                        a: Box::new(float(x)),
                        b: Box::new(t(Ty::Float, Node::Lit(Some(Value::Float(-1.0))))),
                    },
                ))
            }
            FieldKind::Binary { op, lhs, rhs } => {
                if let Some(cmp) = op.cmp() {
                    let (a, b) = (self.typed(lhs)?, self.typed(rhs)?);
                    let (a, b) = match (a.ty, b.ty) {
                        (Ty::Str, Ty::Str) | (Ty::Bool, Ty::Bool) => (a, b),
                        (x, y) if num_or_null(x) && num_or_null(y) => (float(a), float(b)),
                        // Different types never compare (Tempo: false).
                        _ => return Ok(t(Ty::Bool, Node::Lit(Some(Value::Bool(false))))),
                    };
                    return Ok(t(
                        Ty::Bool,
                        Node::Cmp {
                            op: cmp,
                            a: Box::new(a),
                            b: Box::new(b),
                        },
                    ));
                }
                let aop = match op {
                    BinOp::Add => derived::ArithOp::Add,
                    BinOp::Sub => derived::ArithOp::Sub,
                    BinOp::Mul => derived::ArithOp::Mul,
                    BinOp::Div => derived::ArithOp::Div,
                    BinOp::Mod => derived::ArithOp::Mod,
                    _ => {
                        return unsupported(
                            f.loc,
                            format!("`{}` between attributes or inside arithmetic", op.as_str()),
                        )
                    }
                };
                let (a, b) = (self.numeric(lhs)?, self.numeric(rhs)?);
                Ok(t(
                    Ty::Float,
                    Node::Arith {
                        op: aop,
                        a: Box::new(float(a)),
                        b: Box::new(float(b)),
                    },
                ))
            }
            _ => unsupported(f.loc, "this computed expression"),
        }
    }

    /// A numeric operand: strings and booleans are null (Tempo: arithmetic on them is false).
    fn numeric(&mut self, f: &Field) -> Result<Typed, Error> {
        let x = self.typed(f)?;
        Ok(match x.ty {
            Ty::Int | Ty::Float | Ty::Null => x,
            _ => Typed {
                ty: Ty::Null,
                node: Node::Lit(None),
            },
        })
    }
}

fn num_or_null(t: Ty) -> bool {
    matches!(t, Ty::Int | Ty::Float | Ty::Null)
}

/// Why an intrinsic cannot be compiled yet, if it cannot.
fn unsupported_intrinsic(i: Intrinsic) -> Option<String> {
    let why = match i {
        Intrinsic::ChildCount => "`span:childCount`: counting a span's children needs a span-relation aggregate the plan does not have yet",
        Intrinsic::NestedSetLeft | Intrinsic::NestedSetRight | Intrinsic::NestedSetParent => {
            "nested-set numbers (`nestedSetLeft`, `nestedSetRight`, `nestedSetParent`) are computed for select() only; in a filter only `nestedSetParent < 0` (a root span) and `nestedSetParent > 0` (not a root) are answered"
        }
        Intrinsic::EventName | Intrinsic::EventTimeSinceStart => {
            "`event:` intrinsics: span events are stored as their own events, and the plan cannot yet ask whether a span has a matching event"
        }
        Intrinsic::LinkTraceId | Intrinsic::LinkSpanId => {
            "`link:` intrinsics: links are stored as their own events, and the plan cannot yet ask whether a span has a matching link"
        }
        Intrinsic::Parent => "the `parent` intrinsic",
        _ => return None,
    };
    Some(why.to_string())
}

/// A literal as the plan's value (`None`: it can never equal an attribute, e.g. a status).
fn static_value(v: &Static) -> Option<Value> {
    Some(match v {
        Static::Int(i) => Value::Int(*i),
        Static::Float(f) => Value::Float(*f),
        Static::Str(s) => Value::Str(s.clone()),
        Static::Bool(b) => Value::Bool(*b),
        // Tempo compares durations with numbers in nanoseconds.
        Static::Duration(d) => Value::Int(*d),
        Static::Nil | Static::Status(_) | Static::Kind(_) => return None,
    })
}

/// `c op v` on one column, for a comparison or regex operator.
fn column_cmp(c: &ColumnRef, op: BinOp, v: &Static, loc: Loc) -> Result<Predicate, Error> {
    if c.kind == ColumnKind::Missing {
        return Ok(Predicate::False);
    }
    match op {
        BinOp::Regex | BinOp::NotRegex => {
            let Static::Str(pattern) = v else {
                return invalid(loc, "a regular expression must be a string");
            };
            let re = Predicate::Regex(text_operand(c), anchored(pattern, loc)?);
            Ok(if op == BinOp::Regex {
                re
            } else {
                Predicate::and(vec![exists(c), Predicate::not(re)])
            })
        }
        op => {
            let (Some(cmp), Some(value)) = (op.cmp(), static_value(v)) else {
                return Ok(Predicate::False);
            };
            Ok(compare(c, cmp, &value))
        }
    }
}

/// `c op v` for an intrinsic whose value is `default` when Waggle stores none.
fn with_default(
    c: &ColumnRef,
    default: &str,
    op: BinOp,
    v: &Static,
    loc: Loc,
) -> Result<Predicate, Error> {
    let p = column_cmp(c, op, v, loc)?;
    let holds = match (op, v) {
        (BinOp::Regex | BinOp::NotRegex, Static::Str(pattern)) => {
            anchored(pattern, loc)?.regex.is_match(default) == (op == BinOp::Regex)
        }
        (op, Static::Str(s)) => match op.cmp() {
            Some(cmp) => cmp.holds(default.as_bytes().cmp(s.as_bytes())),
            None => false,
        },
        _ => false,
    };
    Ok(if holds {
        Predicate::or(vec![Predicate::not(exists(c)), p])
    } else {
        p
    })
}

/// A trace id literal: hex, leading zeros optional (Tempo trims them).
fn trace_id(s: &str) -> Option<TraceId> {
    let t = s.trim().trim_start_matches('0');
    if t.len() > 32 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    TraceId::parse(&format!("{t:0>32}")).ok()
}

fn span_id(s: &str) -> Option<SpanId> {
    let t = s.trim().trim_start_matches('0');
    if t.len() > 16 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    SpanId::parse(&format!("{t:0>16}")).ok()
}

// ---- Spanset operators ----------------------------------------------------------------------

fn combine(op: SpansetOp, l: Set, r: Set, loc: Loc) -> Result<Set, Error> {
    use SpansetOp::*;
    let set = match op {
        And => {
            let has = Predicate::and(vec![l.has, r.has]);
            let member = Predicate::and(vec![Predicate::or(vec![l.member, r.member]), has.clone()]);
            Set { has, member }
        }
        Union => Set {
            has: Predicate::or(vec![l.has, r.has]),
            member: Predicate::or(vec![l.member, r.member]),
        },
        _ => {
            // The relation of a returned right-hand span to the left-hand spans.
            let relation = match op {
                Child | NotChild | UnionChild => Relation::Parent,
                Parent | NotParent | UnionParent => Relation::Child,
                Descendant | NotDescendant | UnionDescendant => Relation::Ancestor,
                Ancestor | NotAncestor | UnionAncestor => Relation::Descendant,
                _ => Relation::Sibling,
            };
            let member = match op {
                NotChild | NotParent | NotDescendant | NotAncestor | NotSibling => {
                    Predicate::and(vec![r.member, Predicate::not(related(relation, l.member))])
                }
                UnionChild | UnionParent | UnionDescendant | UnionAncestor | UnionSibling => {
                    Predicate::or(vec![
                        Predicate::and(vec![r.member.clone(), related(relation, l.member.clone())]),
                        Predicate::and(vec![l.member, related(relation.inverse(), r.member)]),
                    ])
                }
                _ => Predicate::and(vec![r.member, related(relation, l.member)]),
            };
            Set {
                has: trace_any(member.clone()),
                member,
            }
        }
    };
    set.bounded(loc)
}

/// Where `e` has an operator that relates spans to each other (`&&`, structural), if it has
/// one: such operators would have to look within each `by()` group.
fn cross_span_op(e: &SpansetExpr) -> Option<Loc> {
    match e {
        SpansetExpr::Filter(_) => None,
        SpansetExpr::Op {
            op: SpansetOp::Union,
            lhs,
            rhs,
            ..
        } => cross_span_op(lhs).or_else(|| cross_span_op(rhs)),
        SpansetExpr::Op { loc, .. } => Some(*loc),
        SpansetExpr::Pipeline(p) => p.stages.iter().find_map(|s| match s {
            Stage::Spanset(e) => cross_span_op(e),
            _ => None,
        }),
    }
}

// ---- Constants ------------------------------------------------------------------------------

/// Evaluates an expression that reads no span, as Tempo's `execute` does: integers stay
/// integers, other numbers become doubles, operands of mismatched types compare false.
pub fn const_eval(f: &Field) -> Result<Static, Error> {
    match &f.kind {
        FieldKind::Static(s) => Ok(s.clone()),
        FieldKind::Attr(_) => invalid(f.loc, "expected a constant"),
        FieldKind::Unary { op, operand } => {
            let v = const_eval(operand)?;
            Ok(match (op, v) {
                (UnaryOp::Neg, Static::Int(i)) => Static::Int(i.wrapping_neg()),
                (UnaryOp::Neg, Static::Float(x)) => Static::Float(-x),
                (UnaryOp::Neg, Static::Duration(d)) => Static::Duration(d.wrapping_neg()),
                (UnaryOp::Not, Static::Bool(b)) => Static::Bool(!b),
                (UnaryOp::Exists, v) => Static::Bool(v != Static::Nil),
                (UnaryOp::NotExists, v) => Static::Bool(v == Static::Nil),
                (_, v) => {
                    return invalid(
                        f.loc,
                        format!(
                            "this operator cannot be applied to {}",
                            v.ty().with_article()
                        ),
                    )
                }
            })
        }
        FieldKind::Binary { op, lhs, rhs } => {
            let a = const_eval(lhs)?;
            let b = const_eval(rhs)?;
            const_binary(*op, &a, &b, f.loc)
        }
    }
}

fn const_binary(op: BinOp, a: &Static, b: &Static, loc: Loc) -> Result<Static, Error> {
    use BinOp::*;
    let bool_ = Static::Bool;
    let (ta, tb) = (a.ty(), b.ty());
    let numeric = ta.is_numeric() && tb.is_numeric();
    if !(ta == tb || numeric) {
        return Ok(bool_(false));
    }
    Ok(match (a, b) {
        (Static::Str(x), Static::Str(y)) => match op {
            Eq => bool_(x == y),
            Ne => bool_(x != y),
            Lt | Le | Gt | Ge => bool_(
                op.cmp()
                    .is_some_and(|c| c.holds(x.as_bytes().cmp(y.as_bytes()))),
            ),
            Regex | NotRegex => bool_(anchored(y, loc)?.regex.is_match(x) == (op == Regex)),
            _ => bool_(false),
        },
        (Static::Int(x), Static::Int(y)) => match op {
            Add => Static::Int(x.wrapping_add(*y)),
            Sub => Static::Int(x.wrapping_sub(*y)),
            Mul => Static::Int(x.wrapping_mul(*y)),
            Div | Mod if *y == 0 => return invalid(loc, "division by zero"),
            Div => Static::Int(x.wrapping_div(*y)),
            Mod => Static::Int(x.wrapping_rem(*y)),
            Pow => Static::Int(int_pow(*x, *y)),
            op => bool_(op.cmp().is_some_and(|c| c.holds(x.cmp(y)))),
        },
        (Static::Bool(x), Static::Bool(y)) => match op {
            And => bool_(*x && *y),
            Or => bool_(*x || *y),
            Eq => bool_(x == y),
            Ne => bool_(x != y),
            _ => bool_(false),
        },
        _ if numeric => {
            let (x, y) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
            match op {
                Add => Static::Float(x + y),
                Sub => Static::Float(x - y),
                Mul => Static::Float(x * y),
                Div => Static::Float(x / y),
                Mod => Static::Float(x % y),
                Pow => Static::Float(x.powf(y)),
                op => bool_(op.cmp().is_some_and(|c| {
                    c.holds(x.partial_cmp(&y).unwrap_or(Ordering::Less))
                        && !(x.is_nan() || y.is_nan())
                })),
            }
        }
        // Statuses, kinds, nil: equality only.
        _ => match op {
            Eq => bool_(a == b),
            Ne => bool_(a != b),
            _ => bool_(false),
        },
    })
}

fn int_pow(base: i64, exp: i64) -> i64 {
    if exp < 0 {
        return 0;
    }
    let mut acc: i64 = 1;
    for _ in 0..exp.min(64) {
        acc = acc.wrapping_mul(base);
    }
    acc
}

// ---- Naive evaluation -----------------------------------------------------------------------

/// A trace a search matched and the spans of its result spansets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceMatch {
    pub trace_id: TraceId,
    /// Span ids in event order.
    pub spans: Vec<SpanId>,
}

/// What a search returns over `events` in `[start_ns, end_ns)`, by the naive evaluator: the
/// traces with a span in the window on which `trace` holds (ordered by trace id), each with
/// its spans (within the window widened by [`TRACE_LOOKAROUND_NS`]) on which `spans` holds.
/// The executable definition a SQL rendering must agree with.
pub fn run_naive(s: &Search, events: &[Event], start_ns: i64, end_ns: i64) -> Vec<TraceMatch> {
    let ctx = naive::Ctx {
        events,
        start_ns,
        end_ns,
    };
    let mut ids: Vec<TraceId> = Vec::new();
    for e in events {
        let Some(tid) = e.trace_id else { continue };
        if e.kind == SignalKind::Span
            && e.time_ns >= start_ns
            && e.time_ns < end_ns
            && !ids.contains(&tid)
            && naive::matches(&s.trace, e, &ctx)
        {
            ids.push(tid);
        }
    }
    ids.sort_by_key(|t| t.halves());
    let lo = start_ns.saturating_sub(TRACE_LOOKAROUND_NS);
    let hi = end_ns.saturating_add(TRACE_LOOKAROUND_NS);
    ids.into_iter()
        .map(|tid| TraceMatch {
            trace_id: tid,
            spans: events
                .iter()
                .filter(|e| {
                    e.trace_id == Some(tid)
                        && e.time_ns >= lo
                        && e.time_ns < hi
                        && naive::matches(&s.spans, e, &ctx)
                })
                .filter_map(|e| e.span_id)
                .collect(),
        })
        .collect()
}

/// The one column an attribute or intrinsic is read from, as `by()` and `select()` read it
/// (TraceQL metrics' `by (…)` and function arguments use this too). `what` names the
/// caller in errors.
pub fn column_of(
    a: &AttrRef,
    ctx: &CompileContext<'_>,
    loc: Loc,
    what: &str,
) -> Result<ColumnRef, Error> {
    let mut c = Compiler {
        ctx,
        warnings: Vec::new(),
        select: Vec::new(),
        group_by: Vec::new(),
    };
    c.plain_column(a, loc, what)
}
