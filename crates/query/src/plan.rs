//! The one logical query plan every query language compiles to (Honeycomb specs, X-Ray
//! filter expressions, CloudWatch filter patterns later), and the Honeycomb spec → plan
//! compiler. Column references are resolved against the store's [`Catalog`] here, so
//! renderers and the naive evaluator never guess types.
//!
//! Semantics fixed here (renderers and `naive` must agree):
//! - Predicates are two-valued: a comparison with a missing value is false, and `Not(p)` is
//!   true when `p` is false *or* missing. So `!=`, `does-not-contain`, `not-in` … match events
//!   that lack the column ([inference] of Honeycomb behaviour; it keeps `p` and `Not(p)`
//!   a partition of the events).
//! - Comparisons are normalised to one type at plan time ([`Operand`]): a numeric literal
//!   against a string column compares the column parsed as a number; a non-numeric string
//!   against a number column compares the column's text.

use model::schema::{self, Catalog};
use model::value::ColumnType;
use model::{SignalKind, SpanId, TraceId, Value};

use crate::derived::{self, DerivedColumn, DerivedError, DerivedRef, Resolver, Typed};
use crate::spec::{
    calc_label, CalcOp, FilterCombination, FilterOp, HavingOp, QuerySpec, SortOrder, SpecError,
};

/// Nanoseconds per second.
pub const NS_PER_S: i64 = 1_000_000_000;
/// How far before / after the query window whole-trace predicates look for the rest of a
/// trace (our choice: a root span starts before its children, so a window that begins
/// mid-trace still finds the root if the trace is shorter than an hour).
pub const TRACE_LOOKAROUND_NS: i64 = 3600 * NS_PER_S;
/// Default number of time buckets when a spec has no granularity (our choice; the step is
/// rounded up to a "nice" value from [`NICE_GRANULARITIES_S`]).
pub const DEFAULT_BUCKETS: i64 = 120;
/// Steps a default granularity is rounded up to (our choice: human-friendly axis ticks).
pub const NICE_GRANULARITIES_S: [i64; 17] = [
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 86400,
];
/// Linear buckets in one HEATMAP histogram, spanning [min, max] of the whole filtered data
/// (our choice: 50 rows matches the vertical resolution of a typical heatmap chart).
pub const HEATMAP_BUCKETS: i64 = 50;
/// Prefixes for whole-trace predicates: `root.http.route = /x` (the trace's root span
/// matches), `any.error = true` (some span in the trace matches).
pub const ROOT_PREFIX: &str = "root.";
pub const ANY_PREFIX: &str = "any.";

/// What a column reference reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnKind {
    /// A stored column of this type, named exactly as the reference.
    Stored(ColumnType),
    /// `trace.trace_id`: Honeycomb hex of the trace id halves.
    TraceId,
    /// `trace.span_id`: 16-digit hex of `__span_id`.
    SpanId,
    /// `trace.parent_id`: 16-digit hex of `__parent_id`.
    ParentId,
    /// `timestamp`: event time, Unix nanoseconds.
    Timestamp,
    /// A column with values in the store's overflow column (`schema::COL_OVERFLOW`): they
    /// did not fit the column's type, or the key was over a column budget. Read as `ty`
    /// (the widest type of both places); `physical` is the type of the key's own column,
    /// if it has one.
    Spilled {
        ty: ColumnType,
        physical: Option<ColumnType>,
    },
    /// Not in the catalog: always missing (Honeycomb: such a column matches nothing).
    Missing,
    /// A derived column (calculated field): its expression, computed per event.
    Derived(DerivedRef),
    /// The event's dataset (CloudWatch `@log`: the log group).
    Dataset,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnRef {
    pub name: String,
    pub kind: ColumnKind,
}

impl ColumnRef {
    /// The type of the column's values (ids read as hex strings).
    pub fn value_type(&self) -> Option<ColumnType> {
        match self.kind {
            ColumnKind::Stored(t) | ColumnKind::Spilled { ty: t, .. } => Some(t),
            ColumnKind::TraceId | ColumnKind::SpanId | ColumnKind::ParentId => {
                Some(ColumnType::String)
            }
            ColumnKind::Timestamp => Some(ColumnType::Integer),
            ColumnKind::Dataset => Some(ColumnType::String),
            ColumnKind::Missing => None,
            ColumnKind::Derived(ref d) => d.expr.ty.column_type(),
        }
    }
}

/// How a comparison reads its column.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// The column's own type.
    Column(ColumnRef),
    /// The column as a double (strings parsed, unparseable → missing; booleans 1/0).
    AsDouble(ColumnRef),
    /// The column as text (integers in decimal, floats shortest round-trip, `true`/`false`).
    AsText(ColumnRef),
    /// A value inside the JSON text of a string column (CloudWatch `{ $.a.b[0] = … }`).
    /// Missing unless the text is valid JSON, `path` leads to a value, and that value is of
    /// the kind `read` asks for.
    Json {
        column: ColumnRef,
        path: Vec<JsonStep>,
        read: JsonRead,
    },
    /// Field `index` of a string column split into space-delimited fields (CloudWatch
    /// `[ip, user, …]`): 0-based from the start, or from the end when negative (−1 = last).
    /// Fields are the matches of [`DELIMITED_TOKEN_RE`]; a `[…]` or `"…"` field is read
    /// without its brackets or quotes. Text, or a double with `numeric` (text parsed like
    /// [`Operand::AsDouble`]). Missing when there is no such field.
    Delimited {
        column: ColumnRef,
        index: i64,
        numeric: bool,
    },
    /// How many space-delimited fields the column has (an integer; missing when the column
    /// is).
    DelimitedCount(ColumnRef),
}

/// One step of a JSON path: an object member or an array element (0-based).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum JsonStep {
    Key(String),
    Index(u32),
}

/// What an [`Operand::Json`] reads at its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JsonRead {
    /// A JSON string's value (a `Str`).
    String,
    /// A JSON number, as a double (a `Float`).
    Number,
    /// A JSON boolean (a `Bool`).
    Boolean,
    /// The value's JSON type as text: one of [`JSON_KINDS`].
    Kind,
}

/// The texts [`JsonRead::Kind`] yields.
pub const JSON_KINDS: [&str; 6] = ["string", "number", "boolean", "null", "object", "array"];

/// The space-delimited field splitter (RE2 and Rust `regex` syntax, leftmost-first): a
/// `[…]` group, a `"…"` group, or a run of non-blank characters (blank = space, tab, CR,
/// LF). Source: the CloudWatch filter pattern docs ("text inside `[]` or `""` is one field";
/// fields are separated by spaces).
pub const DELIMITED_TOKEN_RE: &str = r#"\[[^\]]*\]|"[^"]*"|[^ \t\r\n]+"#;

impl Operand {
    pub fn column(&self) -> &ColumnRef {
        match self {
            Operand::Column(c)
            | Operand::AsDouble(c)
            | Operand::AsText(c)
            | Operand::DelimitedCount(c) => c,
            Operand::Json { column, .. } | Operand::Delimited { column, .. } => column,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CmpOp {
    pub fn sql(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
        }
    }

    pub fn holds(self, ord: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            CmpOp::Eq => ord == Equal,
            CmpOp::Ne => ord != Equal,
            CmpOp::Gt => ord == Greater,
            CmpOp::Ge => ord != Less,
            CmpOp::Lt => ord == Less,
            CmpOp::Le => ord != Greater,
        }
    }
}

impl From<HavingOp> for CmpOp {
    fn from(op: HavingOp) -> Self {
        match op {
            HavingOp::Eq => CmpOp::Eq,
            HavingOp::Ne => CmpOp::Ne,
            HavingOp::Gt => CmpOp::Gt,
            HavingOp::Ge => CmpOp::Ge,
            HavingOp::Lt => CmpOp::Lt,
            HavingOp::Le => CmpOp::Le,
        }
    }
}

/// Which span of a trace a whole-trace predicate looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceScope {
    /// The root span (a span with no parent).
    Root,
    /// Any span of the trace.
    Any,
}

/// A boolean condition on one event (two-valued; see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    True,
    False,
    And(Vec<Predicate>),
    Or(Vec<Predicate>),
    Not(Box<Predicate>),
    /// `lhs op value`; `value` has the operand's type (Int/Float for `AsDouble`, Str for
    /// `AsText`). False when the operand is missing.
    Compare {
        lhs: Operand,
        op: CmpOp,
        value: Value,
    },
    Exists(ColumnRef),
    StartsWith(Operand, String),
    EndsWith(Operand, String),
    Contains(Operand, String),
    /// The operand's text contains a match of the regular expression (RE2 syntax, validated
    /// at plan time; unanchored unless the pattern anchors itself). False when missing.
    Regex(Operand, crate::derived::Pattern),
    /// `lhs` equals one of `values` (all of the operand's type).
    In(Operand, Vec<Value>),
    /// The trace id is this one (compares the integer halves).
    TraceIdIs(TraceId),
    /// The span id (or, with `parent`, the parent id) is this one.
    SpanIdIs {
        parent: bool,
        id: SpanId,
    },
    /// The event is one of these kinds.
    KindIn(Vec<SignalKind>),
    /// The event belongs to a trace in which the root span / any span satisfies `predicate`.
    /// Only spans (`SignalKind::Span`) count; the trace may cross datasets, and is looked
    /// for within the query window widened by [`TRACE_LOOKAROUND_NS`].
    Trace {
        scope: TraceScope,
        predicate: Box<Predicate>,
    },
    /// The event belongs to a trace in which some span satisfies `child` and that span's
    /// parent span (same trace, its `__span_id` = the child's `__parent_id`) satisfies
    /// `parent`: a caller → callee edge (X-Ray `edge("a", "b") { … }`). Both spans are looked
    /// for like [`Predicate::Trace`]'s (spans only, query window ± [`TRACE_LOOKAROUND_NS`]).
    Edge {
        parent: Box<Predicate>,
        child: Box<Predicate>,
    },
    /// The duration of the event's trace, in milliseconds, compares with `ms` by `op`.
    /// Duration = latest span end − earliest span start over the trace's spans found like
    /// [`Predicate::Trace`]'s; a span ends at `time + trunc(duration_ms × 10⁶)` ns (no
    /// duration: at its start; an end that does not fit 64 bits is ignored). False for events
    /// without a trace id (X-Ray `duration`, Tempo's trace duration).
    TraceDuration {
        op: CmpOp,
        ms: f64,
    },
    /// The event is a span (`SignalKind::Span`, with a trace id) and some span `O` of its
    /// trace satisfies `other` and stands in `relation` to it. `O` is looked for like
    /// [`Predicate::Trace`]'s spans (spans only, query window ± [`TRACE_LOOKAROUND_NS`]);
    /// relations follow ids, so they hold for every span with the id in question:
    /// - `Parent`: `O.__span_id` = the span's `__parent_id`; `Child`: `O.__parent_id` = the
    ///   span's `__span_id`.
    /// - `Ancestor`: a chain of parent links from the span reaches `O`: `S.__parent_id` =
    ///   `X₁.__span_id`, `X₁.__parent_id` = `X₂.__span_id`, …, `Xₖ` = `O` (k ≥ 1; every `Xᵢ`
    ///   a span found like `O`). `Descendant`: the same chain from `O` up to the span.
    ///   Unbounded depth; in a cycle of parent links (bad data) every span of the cycle is an
    ///   ancestor of each, itself included, and evaluation still terminates.
    /// - `Sibling`: `O.__parent_id` = the span's `__parent_id` (not null) and `O.__span_id` is
    ///   distinct from the span's (so a span is never its own sibling).
    Related {
        relation: Relation,
        other: Box<Predicate>,
    },
    /// An aggregate over spans of the event's trace compares with `value` by `op`. The spans:
    /// those found like [`Predicate::Trace`]'s (spans only, query window ±
    /// [`TRACE_LOOKAROUND_NS`]) that satisfy `predicate` and, when `group` is not empty,
    /// whose `group` columns equal the event's (missing equals missing, like `IS NOT DISTINCT
    /// FROM`). `Count` counts them; the others read `operand` as a double on each (strings
    /// parsed like `TRY_CAST`, booleans 1/0) and skip spans where it is missing; `Avg` =
    /// sum / number of values. Unweighted (sample rates are not applied). False when no span
    /// is counted or no value read (TraceQL: an empty spanset is no result), and for events
    /// without a trace id. Doubles compare in the store's total order (NaN above every
    /// number, equal to itself).
    SpanAggregate {
        predicate: Box<Predicate>,
        agg: SpanAgg,
        /// What `Sum`, `Avg`, `Min` and `Max` read (unused by `Count`; None: nothing, so
        /// they are false).
        operand: Option<Operand>,
        group: Vec<ColumnRef>,
        op: CmpOp,
        value: f64,
    },
}

/// How the span [`Predicate::Related`] looks for stands to the span it is evaluated on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Relation {
    /// The other span is this span's parent.
    Parent,
    /// The other span is a child of this span.
    Child,
    /// The other span is an ancestor (parent, grandparent, …) of this span.
    Ancestor,
    /// The other span is a descendant (child, grandchild, …) of this span.
    Descendant,
    /// The other span has the same parent.
    Sibling,
}

impl Relation {
    /// The relation seen from the other span (`Parent` ↔ `Child`, `Ancestor` ↔
    /// `Descendant`; `Sibling` is its own inverse).
    pub fn inverse(self) -> Relation {
        match self {
            Relation::Parent => Relation::Child,
            Relation::Child => Relation::Parent,
            Relation::Ancestor => Relation::Descendant,
            Relation::Descendant => Relation::Ancestor,
            Relation::Sibling => Relation::Sibling,
        }
    }
}

/// What [`Predicate::SpanAggregate`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpanAgg {
    Count,
    Sum,
    Avg,
    Min,
    Max,
}

impl Predicate {
    /// How many nodes the predicate tree has (every variant counts one, plus its nested
    /// predicates). Compilers bound this, since a condition may be cloned into several
    /// places of a larger one.
    pub fn node_count(&self) -> usize {
        1 + match self {
            Predicate::And(ps) | Predicate::Or(ps) => ps.iter().map(Predicate::node_count).sum(),
            Predicate::Not(p)
            | Predicate::Trace { predicate: p, .. }
            | Predicate::Related { other: p, .. }
            | Predicate::SpanAggregate { predicate: p, .. } => p.node_count(),
            Predicate::Edge { parent, child } => parent.node_count() + child.node_count(),
            Predicate::True
            | Predicate::False
            | Predicate::Compare { .. }
            | Predicate::Exists(_)
            | Predicate::StartsWith(..)
            | Predicate::EndsWith(..)
            | Predicate::Contains(..)
            | Predicate::Regex(..)
            | Predicate::In(..)
            | Predicate::TraceIdIs(_)
            | Predicate::SpanIdIs { .. }
            | Predicate::KindIn(_)
            | Predicate::TraceDuration { .. } => 0,
        }
    }

    /// And of `parts`, simplified.
    pub fn and(parts: Vec<Predicate>) -> Predicate {
        let mut out = Vec::new();
        for p in parts {
            match p {
                Predicate::True => {}
                Predicate::False => return Predicate::False,
                Predicate::And(inner) => out.extend(inner),
                p => out.push(p),
            }
        }
        match out.len() {
            0 => Predicate::True,
            1 => out.pop().unwrap_or(Predicate::True),
            _ => Predicate::And(out),
        }
    }

    /// Or of `parts`, simplified.
    pub fn or(parts: Vec<Predicate>) -> Predicate {
        let mut out = Vec::new();
        for p in parts {
            match p {
                Predicate::False => {}
                Predicate::True => return Predicate::True,
                Predicate::Or(inner) => out.extend(inner),
                p => out.push(p),
            }
        }
        match out.len() {
            0 => Predicate::False,
            1 => out.pop().unwrap_or(Predicate::False),
            _ => Predicate::Or(out),
        }
    }

    #[allow(clippy::should_implement_trait)]
    pub fn not(p: Predicate) -> Predicate {
        match p {
            Predicate::True => Predicate::False,
            Predicate::False => Predicate::True,
            Predicate::Not(inner) => *inner,
            p => Predicate::Not(Box::new(p)),
        }
    }
}

/// One calculation. `column` is None for COUNT and CONCURRENCY.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    pub op: CalcOp,
    pub column: Option<ColumnRef>,
    /// Honeycomb's result key: `COUNT`, `P99(duration_ms)`.
    pub label: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HavingClause {
    /// Index into [`Plan::aggregates`].
    pub aggregate: usize,
    pub op: CmpOp,
    pub value: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderTarget {
    /// Index into [`Plan::aggregates`].
    Aggregate(usize),
    /// Index into [`Plan::group_by`].
    Group(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderKey {
    pub target: OrderTarget,
    pub descending: bool,
}

/// A grouped aggregation over one time window. Rows are ordered by `orders`, then by every
/// group key ascending (so results are deterministic); missing values sort last.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Dataset to read; None = the whole environment (`__all__`). Compared case-insensitively.
    pub dataset: Option<String>,
    /// Window `[start_ns, end_ns)` on event time.
    pub start_ns: i64,
    pub end_ns: i64,
    pub predicate: Predicate,
    pub group_by: Vec<ColumnRef>,
    pub aggregates: Vec<Aggregate>,
    pub havings: Vec<HavingClause>,
    pub orders: Vec<OrderKey>,
    /// Most groups returned (series carry the same groups).
    pub limit: u32,
    /// Time bucket width for series; buckets are aligned to multiples of it since the epoch.
    pub granularity_ns: i64,
    /// Things the user should know (unknown columns, …): Honeycomb runs such queries anyway.
    pub warnings: Vec<String>,
    /// Set by the caller when every event in scope has sample rate 1 (one cheap `max()`
    /// first): percentiles then render as the engine's exact `quantile_disc`, which is the
    /// same lower-percentile definition without the window sort. Results are identical.
    pub uniform_weights: bool,
}

/// Matching events themselves instead of aggregates (CloudWatch Logs Insights without
/// `stats`): `plan`'s dataset, window and predicate select the events (its group_by,
/// aggregates, havings, orders and granularity are unused); each row holds `columns` in
/// order; rows are ordered by `order` (column, descending?; missing values last), then by
/// event time, newest first; at most `plan.limit` rows. Events tied on every key may come
/// in any order.
#[derive(Debug, Clone, PartialEq)]
pub struct EventList {
    pub columns: Vec<ColumnRef>,
    pub order: Vec<(ColumnRef, bool)>,
}

/// Why a spec could not be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error("{field} {message}")]
    Unsupported { field: String, message: String },
}

/// Inputs to [`Plan::from_spec`] besides the spec itself.
#[derive(Debug, Clone)]
pub struct PlanContext<'a> {
    /// The dataset slug from the URL; `__all__` means the whole environment.
    pub dataset: &'a str,
    pub catalog: &'a Catalog,
    /// The current time (Unix seconds) for relative time ranges.
    pub now_s: i64,
    /// Overrides the spec's limit (a query result with `disable_series` may ask for up to
    /// [`crate::spec::LIMIT_MAX_DISABLE_SERIES`]).
    pub limit_override: Option<u32>,
    /// Saved derived columns `(alias, expression)` of the dataset (or environment). The
    /// spec's `calculated_fields` take precedence over these; both shadow stored columns of
    /// the same name. A saved column is compiled only when a query references it.
    pub derived: &'a [(String, String)],
}

/// Honeycomb's environment-wide dataset slug.
pub const ALL_DATASETS: &str = "__all__";

/// Resolves a column name: fixed and computed fields, then the catalog; unknown names become
/// [`ColumnKind::Missing`] with a warning. Internal `__` columns are never reachable.
pub fn resolve_column(name: &str, catalog: &Catalog, warnings: &mut Vec<String>) -> ColumnRef {
    let kind = match name {
        schema::FIELD_TRACE_ID => ColumnKind::TraceId,
        schema::FIELD_SPAN_ID => ColumnKind::SpanId,
        schema::FIELD_PARENT_ID => ColumnKind::ParentId,
        schema::FIELD_TIMESTAMP => ColumnKind::Timestamp,
        schema::COL_NAME | schema::COL_SERVICE => ColumnKind::Stored(ColumnType::String),
        schema::COL_DURATION_MS => ColumnKind::Stored(ColumnType::Float),
        _ if name.starts_with("__") => ColumnKind::Missing,
        _ => match (catalog.get(name), catalog.get_overflow(name)) {
            (Some(c), None) => {
                let kind = ColumnKind::Stored(c.ty);
                return finish_resolve(&c.name, kind, warnings);
            }
            (physical, Some(o)) => {
                let ty = physical.map_or(o.ty, |p| model::value::widen(p.ty, o.ty));
                let kind = ColumnKind::Spilled {
                    ty,
                    physical: physical.map(|p| p.ty),
                };
                return finish_resolve(physical.map_or(&o.name, |p| &p.name), kind, warnings);
            }
            (None, None) => ColumnKind::Missing,
        },
    };
    finish_resolve(name, kind, warnings)
}

fn finish_resolve(name: &str, kind: ColumnKind, warnings: &mut Vec<String>) -> ColumnRef {
    if kind == ColumnKind::Missing {
        let w = format!("column {name:?} does not exist; it matches no events");
        if !warnings.contains(&w) {
            warnings.push(w);
        }
    }
    ColumnRef {
        name: name.to_string(),
        kind,
    }
}

/// Where a derived column is defined, for error fields.
#[derive(Debug, Clone)]
struct DerivedDef {
    alias: String,
    expression: String,
    /// `calculated_fields[2].expression` or `derived_columns["alias"].expression`.
    field: String,
}

/// Resolves the column names of one query: derived columns (the spec's, then saved ones),
/// then fixed fields and the catalog ([`resolve_column`]). Derived columns are compiled on
/// first use, with cycle detection and a bound on chains ([`derived::DERIVED_CHAIN_MAX`]).
pub struct Columns<'a> {
    catalog: &'a Catalog,
    defs: Vec<DerivedDef>,
    compiled: Vec<Option<DerivedRef>>,
    /// Warnings collected while resolving (unknown columns, shadowing).
    pub warnings: Vec<String>,
}

/// Compiles one derived expression, resolving `$name` through [`Columns`].
struct ExprResolver<'c, 'a> {
    cols: &'c mut Columns<'a>,
    stack: &'c mut Vec<usize>,
    /// An error in another derived column, reported instead of this one's.
    nested: Option<SpecError>,
}

impl Resolver for ExprResolver<'_, '_> {
    fn column(&mut self, name: &str, pos: usize) -> Result<Typed, DerivedError> {
        let c = match self.cols.derived_index(name) {
            Some(i) => match self.cols.compile_def(i, self.stack) {
                Ok(d) => ColumnRef {
                    name: name.to_string(),
                    kind: ColumnKind::Derived(d),
                },
                Err(e) => {
                    let message = e.message.clone();
                    self.nested = Some(e);
                    return Err(DerivedError { pos, message });
                }
            },
            None => resolve_column(name, self.cols.catalog, &mut self.cols.warnings),
        };
        Ok(match c.kind {
            ColumnKind::Missing => Typed {
                ty: derived::Ty::Null,
                node: derived::Node::Lit(None),
            },
            _ => Typed {
                ty: derived::Ty::of_column(c.value_type()),
                node: derived::Node::Column(c),
            },
        })
    }
}

impl<'a> Columns<'a> {
    /// `spec_fields`: the spec's `calculated_fields`; `saved`: `(alias, expression)` pairs.
    pub fn new(
        catalog: &'a Catalog,
        spec_fields: &[crate::spec::CalculatedField],
        saved: &[(String, String)],
    ) -> Self {
        let mut defs: Vec<DerivedDef> = Vec::new();
        for (i, f) in spec_fields.iter().enumerate() {
            defs.push(DerivedDef {
                alias: f.name.clone(),
                expression: f.expression.clone(),
                field: format!("calculated_fields[{i}].expression"),
            });
        }
        for (alias, expression) in saved {
            defs.push(DerivedDef {
                alias: alias.clone(),
                expression: expression.clone(),
                field: format!("derived_columns[{alias:?}].expression"),
            });
        }
        let compiled = vec![None; defs.len()];
        Columns {
            catalog,
            defs,
            compiled,
            warnings: Vec::new(),
        }
    }

    /// Whether `name` is a derived column's alias.
    pub fn is_derived(&self, name: &str) -> bool {
        self.derived_index(name).is_some()
    }

    fn derived_index(&self, name: &str) -> Option<usize> {
        self.defs.iter().position(|d| d.alias == name)
    }

    /// Compiles every derived column defined by the spec (so their errors surface even when
    /// unused).
    pub fn check_spec_fields(&mut self, n: usize) -> Result<(), SpecError> {
        for i in 0..n.min(self.defs.len()) {
            if self.derived_index(&self.defs[i].alias) == Some(i) {
                self.compile_def(i, &mut Vec::new())?;
            }
        }
        Ok(())
    }

    fn compile_def(&mut self, i: usize, stack: &mut Vec<usize>) -> Result<DerivedRef, SpecError> {
        if let Some(d) = &self.compiled[i] {
            return Ok(d.clone());
        }
        let def = self.defs[i].clone();
        if let Some(at) = stack.iter().position(|j| *j == i) {
            let chain: Vec<String> = stack[at..]
                .iter()
                .chain(std::iter::once(&i))
                .map(|j| format!("${}", self.defs[*j].alias))
                .collect();
            return Err(SpecError::new(
                def.field,
                format!(
                    "derived columns refer to each other in a cycle: {}",
                    chain.join(" → ")
                ),
            ));
        }
        if stack.len() >= derived::DERIVED_CHAIN_MAX {
            return Err(SpecError::new(
                def.field,
                format!(
                    "derived columns reference each other more than {} deep",
                    derived::DERIVED_CHAIN_MAX
                ),
            ));
        }
        let located = |e: DerivedError| SpecError::new(def.field.clone(), e.to_string());
        let expr = derived::parse(&def.expression).map_err(located)?;
        stack.push(i);
        let mut r = ExprResolver {
            cols: self,
            stack,
            nested: None,
        };
        let compiled = derived::compile(&expr, &mut r);
        let nested = r.nested.take();
        stack.pop();
        let typed = match (compiled, nested) {
            (Ok(t), _) => t,
            (Err(_), Some(e)) => return Err(e),
            (Err(e), None) => return Err(located(e)),
        };
        let expanded_size = typed.expanded_size();
        if expanded_size > derived::EXPANDED_NODES_MAX {
            return Err(SpecError::new(
                def.field,
                format!(
                    "expands to {expanded_size} operations (with the derived columns it uses); at most {} are allowed",
                    derived::EXPANDED_NODES_MAX
                ),
            ));
        }
        let d: DerivedRef = std::sync::Arc::new(DerivedColumn {
            alias: def.alias,
            expression: def.expression,
            expr: typed,
            expanded_size,
        });
        self.compiled[i] = Some(d.clone());
        Ok(d)
    }

    /// Resolves a column name used by a filter, breakdown or calculation.
    pub fn resolve(&mut self, name: &str) -> Result<ColumnRef, SpecError> {
        match self.derived_index(name) {
            Some(i) => {
                let d = self.compile_def(i, &mut Vec::new())?;
                if self.catalog.get(name).is_some() {
                    let w = format!(
                        "derived column {name:?} shadows the stored column of the same name"
                    );
                    if !self.warnings.contains(&w) {
                        self.warnings.push(w);
                    }
                }
                Ok(ColumnRef {
                    name: name.to_string(),
                    kind: ColumnKind::Derived(d),
                })
            }
            None => Ok(resolve_column(name, self.catalog, &mut self.warnings)),
        }
    }
}

/// A JSON filter value as a model value (`null` → None).
fn json_scalar(v: &serde_json::Value) -> Option<Value> {
    match v {
        serde_json::Value::Array(_) | serde_json::Value::Object(_) => None,
        v => Value::from_json(v),
    }
}

fn parse_number(s: &str) -> Option<Value> {
    let t = s.trim();
    if let Ok(i) = t.parse::<i64>() {
        return Some(Value::Int(i));
    }
    match t.parse::<f64>() {
        Ok(f) if f.is_finite() => Some(Value::Float(f)),
        _ => None,
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// The text form of a literal when compared against a column's text (`AsText`).
pub fn literal_text(v: &Value) -> String {
    match v {
        Value::Str(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format_double(*f),
        Value::Bool(b) => b.to_string(),
    }
}

/// Doubles as text the way DuckDB casts them (shortest round-trip, `2.0` not `2`).
pub fn format_double(f: f64) -> String {
    if f.is_nan() {
        "nan".into()
    } else if f.is_infinite() {
        if f > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        }
    } else {
        format!("{f:?}")
    }
}

/// Normalises `column op literal` into one comparison of like types.
pub fn compare(column: &ColumnRef, op: CmpOp, literal: &Value) -> Predicate {
    match column.kind {
        ColumnKind::Missing => return Predicate::False,
        ColumnKind::TraceId if op == CmpOp::Eq => {
            return match literal.as_str().map(TraceId::parse) {
                Some(Ok(id)) => Predicate::TraceIdIs(id),
                _ => Predicate::False,
            }
        }
        ColumnKind::SpanId | ColumnKind::ParentId if op == CmpOp::Eq => {
            return match literal.as_str().map(SpanId::parse) {
                Some(Ok(id)) => Predicate::SpanIdIs {
                    parent: column.kind == ColumnKind::ParentId,
                    id,
                },
                _ => Predicate::False,
            }
        }
        _ => {}
    }
    let ty = column.value_type().unwrap_or(ColumnType::String);
    let c = column.clone();
    let (lhs, value) = match (ty, literal) {
        (ColumnType::Integer, Value::Int(i)) => (Operand::Column(c), Value::Int(*i)),
        (ColumnType::Integer, Value::Float(f)) => (Operand::AsDouble(c), Value::Float(*f)),
        (ColumnType::Float, Value::Int(i)) => (Operand::Column(c), Value::Float(*i as f64)),
        (ColumnType::Float, Value::Float(f)) => (Operand::Column(c), Value::Float(*f)),
        (ColumnType::Integer | ColumnType::Float, Value::Str(s)) => match parse_number(s) {
            Some(n) => return compare(column, op, &n),
            None => (Operand::AsText(c), Value::Str(s.clone())),
        },
        (ColumnType::String, Value::Str(s)) => (Operand::Column(c), Value::Str(s.clone())),
        (ColumnType::String, Value::Int(i)) => (Operand::AsDouble(c), Value::Float(*i as f64)),
        (ColumnType::String, Value::Float(f)) => (Operand::AsDouble(c), Value::Float(*f)),
        (ColumnType::Boolean, Value::Bool(b)) => (Operand::Column(c), Value::Bool(*b)),
        (ColumnType::Boolean, Value::Str(s)) => match parse_bool(s) {
            Some(b) => (Operand::Column(c), Value::Bool(b)),
            None => (Operand::AsText(c), Value::Str(s.clone())),
        },
        (_, lit) => (Operand::AsText(c), Value::Str(literal_text(lit))),
    };
    Predicate::Compare { lhs, op, value }
}

/// The operand string operators read: the column itself for strings, else its text.
fn text_operand(column: &ColumnRef) -> Operand {
    match column.value_type() {
        Some(ColumnType::String) => Operand::Column(column.clone()),
        _ => Operand::AsText(column.clone()),
    }
}

/// Compiles one Honeycomb filter. `field` names it for errors.
pub fn filter_predicate(
    column: &ColumnRef,
    op: FilterOp,
    value: Option<&serde_json::Value>,
    field: &str,
) -> Result<Predicate, SpecError> {
    let scalar = || -> Result<Value, SpecError> {
        value
            .and_then(json_scalar)
            .ok_or_else(|| SpecError::new(field, format!("is required for {}", op.name())))
    };
    let text = || -> Result<String, SpecError> { Ok(literal_text(&scalar()?)) };
    if column.kind == ColumnKind::Missing {
        // Nothing matches a missing column; negations match everything.
        return Ok(match op {
            FilterOp::Ne
            | FilterOp::DoesNotStartWith
            | FilterOp::DoesNotEndWith
            | FilterOp::DoesNotExist
            | FilterOp::DoesNotContain
            | FilterOp::NotIn => Predicate::True,
            _ => Predicate::False,
        });
    }
    Ok(match op {
        FilterOp::Eq => compare(column, CmpOp::Eq, &scalar()?),
        FilterOp::Ne => Predicate::not(compare(column, CmpOp::Eq, &scalar()?)),
        FilterOp::Gt => compare(column, CmpOp::Gt, &scalar()?),
        FilterOp::Ge => compare(column, CmpOp::Ge, &scalar()?),
        FilterOp::Lt => compare(column, CmpOp::Lt, &scalar()?),
        FilterOp::Le => compare(column, CmpOp::Le, &scalar()?),
        FilterOp::StartsWith => Predicate::StartsWith(text_operand(column), text()?),
        FilterOp::DoesNotStartWith => {
            Predicate::not(Predicate::StartsWith(text_operand(column), text()?))
        }
        FilterOp::EndsWith => Predicate::EndsWith(text_operand(column), text()?),
        FilterOp::DoesNotEndWith => {
            Predicate::not(Predicate::EndsWith(text_operand(column), text()?))
        }
        FilterOp::Contains => Predicate::Contains(text_operand(column), text()?),
        FilterOp::DoesNotContain => {
            Predicate::not(Predicate::Contains(text_operand(column), text()?))
        }
        FilterOp::Exists => Predicate::Exists(column.clone()),
        FilterOp::DoesNotExist => Predicate::not(Predicate::Exists(column.clone())),
        FilterOp::In | FilterOp::NotIn => {
            let Some(serde_json::Value::Array(items)) = value else {
                return Err(SpecError::new(
                    field,
                    format!("must be an array for {}", op.name()),
                ));
            };
            let mut alts = Vec::new();
            for (j, item) in items.iter().enumerate() {
                let v = json_scalar(item).ok_or_else(|| {
                    SpecError::new(
                        format!("{field}[{j}]"),
                        "must be a string, number or boolean",
                    )
                })?;
                alts.push(compare(column, CmpOp::Eq, &v));
            }
            let p = collapse_in(alts);
            if op == FilterOp::NotIn {
                Predicate::not(p)
            } else {
                p
            }
        }
    })
}

/// Or of equalities on one operand → `In`.
fn collapse_in(alts: Vec<Predicate>) -> Predicate {
    let mut operand: Option<Operand> = None;
    let mut values = Vec::new();
    for a in &alts {
        match a {
            Predicate::Compare {
                lhs,
                op: CmpOp::Eq,
                value,
            } if operand.as_ref().is_none_or(|o| o == lhs) => {
                operand = Some(lhs.clone());
                values.push(value.clone());
            }
            _ => return Predicate::or(alts),
        }
    }
    match operand {
        Some(o) if values.len() > 1 => Predicate::In(o, values),
        _ => Predicate::or(alts),
    }
}

/// Rounds `range_s / DEFAULT_BUCKETS` up to a nice step.
pub fn default_granularity_s(range_s: i64) -> i64 {
    let raw = (range_s + DEFAULT_BUCKETS - 1) / DEFAULT_BUCKETS;
    NICE_GRANULARITIES_S
        .iter()
        .copied()
        .find(|g| *g >= raw)
        .unwrap_or_else(|| ((raw + 86_399) / 86_400).max(1) * 86_400)
}

impl Plan {
    /// Compiles a validated Honeycomb spec.
    ///
    /// `compare_time_offset_seconds` is not applied here: a caller that wants the comparison
    /// series plans once, then renders a copy of the plan with `start_ns`/`end_ns` shifted
    /// back by the offset (every other field is unchanged) and runs both.
    pub fn from_spec(spec: &QuerySpec, ctx: &PlanContext<'_>) -> Result<Plan, PlanError> {
        spec.validate()?;
        let catalog = ctx.catalog;
        let mut cols = Columns::new(catalog, &spec.calculated_fields, ctx.derived);
        cols.check_spec_fields(spec.calculated_fields.len())?;
        let (start_s, end_s) = spec.time_window(ctx.now_s)?;
        let start_ns = start_s.saturating_mul(NS_PER_S);
        let end_ns = end_s.saturating_mul(NS_PER_S);
        let granularity_s = spec
            .granularity
            .unwrap_or_else(|| default_granularity_s((end_s - start_s).max(1)));

        let mut parts = Vec::new();
        for (i, f) in spec.filters.iter().enumerate() {
            let field = format!("filters[{i}].value");
            let (scope, name) = if catalog.get(&f.column).is_some() || cols.is_derived(&f.column) {
                (None, f.column.as_str())
            } else if let Some(rest) = f.column.strip_prefix(ROOT_PREFIX) {
                (Some(TraceScope::Root), rest)
            } else if let Some(rest) = f.column.strip_prefix(ANY_PREFIX) {
                (Some(TraceScope::Any), rest)
            } else {
                (None, f.column.as_str())
            };
            let column = cols.resolve(name)?;
            let p = filter_predicate(&column, f.op, f.value.as_ref(), &field)?;
            parts.push(match scope {
                None => p,
                Some(scope) => match p {
                    Predicate::False => Predicate::False,
                    p => Predicate::Trace {
                        scope,
                        predicate: Box::new(p),
                    },
                },
            });
        }
        let predicate = match spec.filter_combination.unwrap_or_default() {
            FilterCombination::And => Predicate::and(parts),
            FilterCombination::Or if parts.is_empty() => Predicate::True,
            FilterCombination::Or => Predicate::or(parts),
        };

        let mut group_by: Vec<ColumnRef> = Vec::new();
        for b in &spec.breakdowns {
            group_by.push(cols.resolve(b)?);
        }
        let calcs = spec.effective_calculations();
        let mut aggregates: Vec<Aggregate> = Vec::new();
        for c in &calcs {
            let column = match c.column.as_deref() {
                Some(n) => Some(cols.resolve(n)?),
                None => None,
            };
            aggregates.push(Aggregate {
                op: c.op,
                column,
                label: calc_label(c.op, c.column.as_deref()),
            });
        }
        let warnings = cols.warnings;
        let find_calc = |op: CalcOp, col: &Option<String>| {
            calcs.iter().position(|c| c.op == op && c.column == *col)
        };
        let mut havings = Vec::new();
        for (i, h) in spec.havings.iter().enumerate() {
            let aggregate = find_calc(h.calculate_op, &h.column).ok_or_else(|| {
                SpecError::new(format!("havings[{i}]"), "is not one of the calculations")
            })?;
            havings.push(HavingClause {
                aggregate,
                op: h.op.into(),
                value: h.value,
            });
        }
        let mut orders = Vec::new();
        for (i, o) in spec.orders.iter().enumerate() {
            let target = match o.op {
                Some(op) => OrderTarget::Aggregate(find_calc(op, &o.column).ok_or_else(|| {
                    SpecError::new(format!("orders[{i}]"), "is not one of the calculations")
                })?),
                None => OrderTarget::Group(
                    o.column
                        .as_ref()
                        .and_then(|c| spec.breakdowns.iter().position(|b| b == c))
                        .ok_or_else(|| {
                            SpecError::new(
                                format!("orders[{i}].column"),
                                "is not one of the breakdowns",
                            )
                        })?,
                ),
            };
            orders.push(OrderKey {
                target,
                descending: o.order == SortOrder::Descending,
            });
        }
        if orders.is_empty() {
            if let Some(i) = aggregates.iter().position(|a| a.op != CalcOp::Heatmap) {
                orders.push(OrderKey {
                    target: OrderTarget::Aggregate(i),
                    descending: true,
                });
            }
        }
        let dataset =
            (!ctx.dataset.eq_ignore_ascii_case(ALL_DATASETS)).then(|| ctx.dataset.to_string());
        Ok(Plan {
            dataset,
            start_ns,
            end_ns,
            predicate,
            group_by,
            aggregates,
            havings,
            orders,
            limit: ctx
                .limit_override
                .or(spec.limit)
                .unwrap_or(crate::spec::LIMIT_DEFAULT),
            granularity_ns: granularity_s.saturating_mul(NS_PER_S),
            warnings,
            uniform_weights: false,
        })
    }

    /// The column a heatmap / bubbleup region reads, and other helpers.
    pub fn has_groups(&self) -> bool {
        !self.group_by.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use model::schema::Column;

    fn catalog() -> Catalog {
        Catalog {
            columns: vec![
                Column {
                    name: "http.route".into(),
                    ty: ColumnType::String,
                },
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
        }
    }

    fn plan(json: &str) -> Plan {
        plan_with(json, &[]).unwrap()
    }

    #[test]
    fn numeric_string_against_int_column_compares_numbers() {
        let p = plan(r#"{"filters":[{"column":"http.status_code","op":">=","value":"500"}]}"#);
        assert_eq!(
            p.predicate,
            Predicate::Compare {
                lhs: Operand::Column(ColumnRef {
                    name: "http.status_code".into(),
                    kind: ColumnKind::Stored(ColumnType::Integer)
                }),
                op: CmpOp::Ge,
                value: Value::Int(500)
            }
        );
    }

    #[test]
    fn unknown_columns_warn_and_match_nothing() {
        let p = plan(r#"{"filters":[{"column":"nope","op":"=","value":"x"}]}"#);
        assert_eq!(p.predicate, Predicate::False);
        assert_eq!(p.warnings.len(), 1);
        let p = plan(r#"{"filters":[{"column":"nope","op":"!=","value":"x"}]}"#);
        assert_eq!(p.predicate, Predicate::True);
    }

    #[test]
    fn trace_ids_compare_integers_and_accept_xray() {
        let p = plan(
            r#"{"filters":[{"column":"trace.trace_id","op":"=","value":"1-5759e988-bd862e3fe1be46a994272793"}]}"#,
        );
        let id = TraceId::parse("5759e988bd862e3fe1be46a994272793").unwrap();
        assert_eq!(p.predicate, Predicate::TraceIdIs(id));
        let p = plan(r#"{"filters":[{"column":"trace.trace_id","op":"=","value":"zz"}]}"#);
        assert_eq!(p.predicate, Predicate::False);
    }

    #[test]
    fn root_and_any_prefixes_make_trace_predicates() {
        let p = plan(
            r#"{"filters":[{"column":"root.http.route","op":"=","value":"/a"},{"column":"any.error","op":"=","value":true}]}"#,
        );
        let Predicate::And(parts) = p.predicate else {
            panic!("{:?}", p.predicate)
        };
        assert!(matches!(
            parts[0],
            Predicate::Trace {
                scope: TraceScope::Root,
                ..
            }
        ));
        assert!(matches!(
            parts[1],
            Predicate::Trace {
                scope: TraceScope::Any,
                ..
            }
        ));
    }

    #[test]
    fn defaults() {
        let p = plan("{}");
        assert_eq!(p.aggregates[0].label, "COUNT");
        assert_eq!(p.limit, 100);
        assert_eq!(p.end_ns - p.start_ns, 7200 * NS_PER_S);
        assert_eq!(p.granularity_ns, 60 * NS_PER_S);
        assert_eq!(p.dataset.as_deref(), Some("api"));
        assert_eq!(
            p.orders,
            vec![OrderKey {
                target: OrderTarget::Aggregate(0),
                descending: true
            }]
        );
        let p =
            plan(r#"{"filters":[{"column":"http.status_code","op":"in","value":[200,"404"]}]}"#);
        assert!(matches!(p.predicate, Predicate::In(_, ref v) if v.len() == 2));
    }

    fn plan_with(json: &str, saved: &[(String, String)]) -> Result<Plan, PlanError> {
        let spec = QuerySpec::from_json_str(json).unwrap();
        let cat = catalog();
        Plan::from_spec(
            &spec,
            &PlanContext {
                dataset: "api",
                catalog: &cat,
                now_s: 1_700_000_000,
                limit_override: None,
                derived: saved,
            },
        )
    }

    fn saved(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, e)| (a.to_string(), e.to_string()))
            .collect()
    }

    #[test]
    fn derived_columns_resolve_everywhere() {
        let sv = saved(&[
            ("is_error", "$http.status_code >= 500"),
            ("route2", "CONCAT($http.route, \"!\")"),
        ]);
        let p = plan_with(
            r#"{"calculated_fields":[{"name":"slow","expression":"IF($is_error, 1, 0)"}],
                "filters":[{"column":"is_error","op":"=","value":true}],
                "breakdowns":["route2"],
                "calculations":[{"op":"SUM","column":"slow"}],
                "orders":[{"op":"SUM","column":"slow","order":"descending"}]}"#,
            &sv,
        )
        .unwrap();
        assert!(matches!(p.group_by[0].kind, ColumnKind::Derived(_)));
        assert_eq!(p.group_by[0].value_type(), Some(ColumnType::String));
        let agg = p.aggregates[0].column.as_ref().unwrap();
        assert_eq!(agg.value_type(), Some(ColumnType::Integer));
        let Predicate::Compare { lhs, .. } = &p.predicate else {
            panic!("{:?}", p.predicate)
        };
        assert_eq!(lhs.column().value_type(), Some(ColumnType::Boolean));
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    }

    #[test]
    fn derived_errors_name_their_definition() {
        let e = plan_with(
            r#"{"calculated_fields":[{"name":"x","expression":"SUM(1,"}]}"#,
            &[],
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "calculated_fields[0].expression at character 7: unexpected end of expression"
        );
        // A broken saved column is reported where it is defined, only when used.
        let sv = saved(&[("bad", "NOPE(1)"), ("uses_bad", "$bad + 1")]);
        assert!(plan_with("{}", &sv).is_ok());
        let e = plan_with(r#"{"breakdowns":["uses_bad"]}"#, &sv).unwrap_err();
        assert_eq!(
            e.to_string(),
            "derived_columns[\"bad\"].expression at character 1: unknown function \"NOPE\""
        );
        // Cycles.
        let sv = saved(&[("a", "$b + 1"), ("b", "$c"), ("c", "$a")]);
        let e = plan_with(r#"{"breakdowns":["a"]}"#, &sv).unwrap_err();
        assert!(e.to_string().contains("cycle: $a → $b → $c → $a"), "{e}");
        let sv = saved(&[("me", "$me")]);
        assert!(plan_with(r#"{"breakdowns":["me"]}"#, &sv).is_err());
        // Chains longer than DERIVED_CHAIN_MAX.
        let chain: Vec<(String, String)> = (0..=derived::DERIVED_CHAIN_MAX)
            .map(|i| (format!("d{i}"), format!("$d{}", i + 1)))
            .collect();
        let e = plan_with(r#"{"breakdowns":["d0"]}"#, &chain).unwrap_err();
        assert!(e.to_string().contains("more than 16 deep"), "{e}");
        // Exponential expansion.
        let blowup: Vec<(String, String)> = (0..14)
            .map(|i| {
                (
                    format!("x{i}"),
                    format!("CONCAT($x{0}, $x{0}, $x{0})", i + 1),
                )
            })
            .collect();
        let e = plan_with(r#"{"breakdowns":["x0"]}"#, &blowup).unwrap_err();
        assert!(e.to_string().contains("at most 20000"), "{e}");
    }

    #[test]
    fn derived_shadowing_and_unknown_columns_warn() {
        let p = plan_with(
            r#"{"calculated_fields":[{"name":"error","expression":"$nope"}],"breakdowns":["error"]}"#,
            &[],
        )
        .unwrap();
        assert_eq!(p.group_by[0].value_type(), None);
        assert_eq!(p.warnings.len(), 2, "{:?}", p.warnings);
        // The spec's definition wins over a saved one.
        let sv = saved(&[("x", "1")]);
        let p = plan_with(
            r#"{"calculated_fields":[{"name":"x","expression":"\"s\""}],"breakdowns":["x"]}"#,
            &sv,
        )
        .unwrap();
        assert_eq!(p.group_by[0].value_type(), Some(ColumnType::String));
    }
}
