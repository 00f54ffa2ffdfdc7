//! The TraceQL syntax tree: what [`parse`](super::parse()) returns, shaped after Tempo's
//! grammar (`pkg/traceql/expr.y`) but with one type per role. Every node that can fail
//! validation carries the byte range ([`Loc`]) of the text it came from.

use std::fmt;

/// A byte range `[start, end)` of the query text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Loc {
    pub start: usize,
    pub end: usize,
}

impl Loc {
    pub fn new(start: usize, end: usize) -> Self {
        Loc { start, end }
    }

    /// The smallest range covering both.
    pub fn to(self, other: Loc) -> Loc {
        Loc {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// A parsed query: the expression and its `with(…)` hints.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub root: RootExpr,
    /// `with(name = value, …)` hints in order; a later hint of the same name wins (Tempo
    /// replaces the whole list on each `with`, we keep them all, last one wins on lookup).
    pub hints: Vec<Hint>,
}

impl Query {
    /// The last hint named `name`.
    pub fn hint(&self, name: &str) -> Option<&Static> {
        self.hints
            .iter()
            .rev()
            .find(|h| h.name == name)
            .map(|h| &h.value)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Hint {
    pub name: String,
    pub value: Static,
    pub loc: Loc,
}

/// A search (spansets) or a metrics query.
#[derive(Debug, Clone, PartialEq)]
pub enum RootExpr {
    Spans(SpansetExpr),
    Metrics(MetricsExpr),
}

// ---- Spansets -------------------------------------------------------------------------------

/// Something that yields spansets: a filter, two of them combined, or a pipeline (a bare
/// pipeline at the root, or `( … | … )` combined with spanset operators).
#[derive(Debug, Clone, PartialEq)]
pub enum SpansetExpr {
    Filter(Filter),
    Op {
        op: SpansetOp,
        lhs: Box<SpansetExpr>,
        rhs: Box<SpansetExpr>,
        loc: Loc,
    },
    Pipeline(Pipeline),
}

impl SpansetExpr {
    pub fn loc(&self) -> Loc {
        match self {
            SpansetExpr::Filter(f) => f.loc,
            SpansetExpr::Op { loc, .. } => *loc,
            SpansetExpr::Pipeline(p) => p.loc,
        }
    }
}

/// `{ expr }` (`{ }` is `{ true }`).
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub expr: Field,
    pub loc: Loc,
}

/// Operators between spansets. Structural ones return the right-hand side's spans (the
/// union forms return both sides'); see Tempo's "Combine spansets using operators".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpansetOp {
    /// `&&`: both sides found spans.
    And,
    /// `||`: either side found spans.
    Union,
    /// `>`: right spans whose parent is a left span.
    Child,
    /// `<`: right spans that are the parent of a left span.
    Parent,
    /// `>>`: right spans that descend from a left span.
    Descendant,
    /// `<<`: right spans that are an ancestor of a left span.
    Ancestor,
    /// `~`: right spans with a sibling among the left spans.
    Sibling,
    /// `!>`, `!<`, `!>>`, `!<<`, `!~`: right spans for which the relation holds with no left span.
    NotChild,
    NotParent,
    NotDescendant,
    NotAncestor,
    NotSibling,
    /// `&>`, `&<`, `&>>`, `&<<`, `&~`: like the plain form, returning the spans of both sides.
    UnionChild,
    UnionParent,
    UnionDescendant,
    UnionAncestor,
    UnionSibling,
}

impl SpansetOp {
    pub fn as_str(self) -> &'static str {
        use SpansetOp::*;
        match self {
            And => "&&",
            Union => "||",
            Child => ">",
            Parent => "<",
            Descendant => ">>",
            Ancestor => "<<",
            Sibling => "~",
            NotChild => "!>",
            NotParent => "!<",
            NotDescendant => "!>>",
            NotAncestor => "!<<",
            NotSibling => "!~",
            UnionChild => "&>",
            UnionParent => "&<",
            UnionDescendant => "&>>",
            UnionAncestor => "&<<",
            UnionSibling => "&~",
        }
    }
}

/// `a | b | c`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    pub stages: Vec<Stage>,
    pub loc: Loc,
}

/// One element of a pipeline.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// Filters (and filters combined with spanset operators).
    Spanset(SpansetExpr),
    /// `count() > 3`, `avg(duration) > 1s`, `(… | count()) > (… | count())`.
    ScalarFilter(Box<ScalarFilter>),
    /// `by(expr)`.
    By { expr: Field, loc: Loc },
    /// `coalesce()`.
    Coalesce { loc: Loc },
    /// `select(attr, …)`.
    Select { attrs: Vec<AttrRef>, loc: Loc },
}

/// `lhs op rhs` over scalars.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalarFilter {
    pub op: CmpOp,
    pub lhs: ScalarExpr,
    pub rhs: ScalarExpr,
    pub loc: Loc,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ScalarExpr {
    Aggregate(Aggregate),
    /// A number or duration literal (constant arithmetic already folded, as Tempo does).
    Static {
        value: Static,
        loc: Loc,
    },
    Op {
        op: ArithOp,
        lhs: Box<ScalarExpr>,
        rhs: Box<ScalarExpr>,
        loc: Loc,
    },
    /// `( pipeline | aggregate )`.
    Pipeline {
        pipeline: Pipeline,
        aggregate: Aggregate,
        loc: Loc,
    },
}

impl ScalarExpr {
    pub fn loc(&self) -> Loc {
        match self {
            ScalarExpr::Aggregate(a) => a.loc,
            ScalarExpr::Static { loc, .. }
            | ScalarExpr::Op { loc, .. }
            | ScalarExpr::Pipeline { loc, .. } => *loc,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggregateOp {
    Count,
    Avg,
    Max,
    Min,
    Sum,
}

impl AggregateOp {
    pub fn as_str(self) -> &'static str {
        match self {
            AggregateOp::Count => "count",
            AggregateOp::Avg => "avg",
            AggregateOp::Max => "max",
            AggregateOp::Min => "min",
            AggregateOp::Sum => "sum",
        }
    }
}

/// `count()` or `avg|max|min|sum(expr)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    pub op: AggregateOp,
    pub field: Option<Field>,
    pub loc: Loc,
}

// ---- Metrics --------------------------------------------------------------------------------

/// A TraceQL metrics query.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricsExpr {
    /// `pipeline | first_stage second_stages…`.
    Pipeline {
        pipeline: Pipeline,
        first: MetricsAggregate,
        second: Vec<SecondStage>,
        loc: Loc,
    },
    /// `(a) op (b)` between two metrics queries (`+ - * /`).
    Math {
        op: ArithOp,
        lhs: Box<MetricsExpr>,
        rhs: Box<MetricsExpr>,
        loc: Loc,
    },
    /// `(a) op 2` or `2 op (a)`.
    Scalar {
        op: ArithOp,
        value: f64,
        expr: Box<MetricsExpr>,
        scalar_on_left: bool,
        loc: Loc,
    },
    /// A math expression followed by second-stage functions: `(a) + (b) | topk(5) > 10`.
    Staged {
        expr: Box<MetricsExpr>,
        second: Vec<SecondStage>,
        loc: Loc,
    },
}

impl MetricsExpr {
    pub fn loc(&self) -> Loc {
        match self {
            MetricsExpr::Pipeline { loc, .. }
            | MetricsExpr::Math { loc, .. }
            | MetricsExpr::Scalar { loc, .. }
            | MetricsExpr::Staged { loc, .. } => *loc,
        }
    }
}

/// A first-stage metrics function and its `by (…)`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsAggregate {
    pub func: MetricsFunc,
    pub by: Vec<AttrRef>,
    pub loc: Loc,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MetricsFunc {
    Rate,
    CountOverTime,
    MinOverTime(AttrRef),
    MaxOverTime(AttrRef),
    AvgOverTime(AttrRef),
    SumOverTime(AttrRef),
    /// The attribute and the quantiles (each in `[0, 1]` once validated).
    QuantileOverTime(AttrRef, Vec<f64>),
    HistogramOverTime(AttrRef),
    /// `compare({…}, topN, start_ns, end_ns)`; Tempo's defaults are 10, 0, 0.
    Compare {
        filter: Filter,
        top_n: i64,
        start: i64,
        end: i64,
    },
}

impl MetricsFunc {
    pub fn name(&self) -> &'static str {
        match self {
            MetricsFunc::Rate => "rate",
            MetricsFunc::CountOverTime => "count_over_time",
            MetricsFunc::MinOverTime(_) => "min_over_time",
            MetricsFunc::MaxOverTime(_) => "max_over_time",
            MetricsFunc::AvgOverTime(_) => "avg_over_time",
            MetricsFunc::SumOverTime(_) => "sum_over_time",
            MetricsFunc::QuantileOverTime(..) => "quantile_over_time",
            MetricsFunc::HistogramOverTime(_) => "histogram_over_time",
            MetricsFunc::Compare { .. } => "compare",
        }
    }
}

/// What follows a first-stage metrics function.
#[derive(Debug, Clone, PartialEq)]
pub enum SecondStage {
    TopK {
        limit: i64,
        loc: Loc,
    },
    BottomK {
        limit: i64,
        loc: Loc,
    },
    /// `> 10`: keeps data points that compare true (durations are in seconds).
    Filter {
        op: CmpOp,
        value: f64,
        loc: Loc,
    },
}

// ---- Field expressions ----------------------------------------------------------------------

/// An expression about one span (inside `{ }`, `by( )`, aggregates).
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub kind: FieldKind,
    pub loc: Loc,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FieldKind {
    Static(Static),
    Attr(AttrRef),
    Binary {
        op: BinOp,
        lhs: Box<Field>,
        rhs: Box<Field>,
    },
    Unary {
        op: UnaryOp,
        operand: Box<Field>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `=~` (fully anchored, Go/RE2 syntax).
    Regex,
    /// `!~`.
    NotRegex,
    And,
    Or,
}

impl BinOp {
    pub fn as_str(self) -> &'static str {
        use BinOp::*;
        match self {
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Mod => "%",
            Pow => "^",
            Eq => "=",
            Ne => "!=",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            Regex => "=~",
            NotRegex => "!~",
            And => "&&",
            Or => "||",
        }
    }

    /// Operators whose result is a boolean (Tempo `isBoolean`).
    pub fn is_boolean(self) -> bool {
        use BinOp::*;
        matches!(
            self,
            Eq | Ne | Lt | Le | Gt | Ge | Regex | NotRegex | And | Or
        )
    }

    pub fn arith(self) -> Option<ArithOp> {
        Some(match self {
            BinOp::Add => ArithOp::Add,
            BinOp::Sub => ArithOp::Sub,
            BinOp::Mul => ArithOp::Mul,
            BinOp::Div => ArithOp::Div,
            BinOp::Mod => ArithOp::Mod,
            BinOp::Pow => ArithOp::Pow,
            _ => return None,
        })
    }

    pub fn cmp(self) -> Option<CmpOp> {
        Some(match self {
            BinOp::Eq => CmpOp::Eq,
            BinOp::Ne => CmpOp::Ne,
            BinOp::Lt => CmpOp::Lt,
            BinOp::Le => CmpOp::Le,
            BinOp::Gt => CmpOp::Gt,
            BinOp::Ge => CmpOp::Ge,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `-x`.
    Neg,
    /// `!x`.
    Not,
    /// `x != nil`.
    Exists,
    /// `x = nil`.
    NotExists,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
}

impl ArithOp {
    pub fn as_str(self) -> &'static str {
        match self {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "/",
            ArithOp::Mod => "%",
            ArithOp::Pow => "^",
        }
    }
}

/// The six comparisons scalar filters and metrics filters allow.
pub use crate::plan::CmpOp;

/// A literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Static {
    Nil,
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    /// Nanoseconds.
    Duration(i64),
    Status(Status),
    Kind(Kind),
}

impl Static {
    pub fn ty(&self) -> Type {
        match self {
            Static::Nil => Type::Nil,
            Static::Int(_) => Type::Int,
            Static::Float(_) => Type::Float,
            Static::Str(_) => Type::String,
            Static::Bool(_) => Type::Bool,
            Static::Duration(_) => Type::Duration,
            Static::Status(_) => Type::Status,
            Static::Kind(_) => Type::Kind,
        }
    }

    /// The value as a double (durations in nanoseconds), as Tempo's `Static.Float()`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Static::Int(i) => Some(*i as f64),
            Static::Float(f) => Some(*f),
            Static::Duration(d) => Some(*d as f64),
            _ => None,
        }
    }
}

/// Span status (`ok`, `error`, `unset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Error,
    Ok,
    Unset,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Error => "error",
            Status::Ok => "ok",
            Status::Unset => "unset",
        }
    }
}

/// Span kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Unspecified,
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

impl Kind {
    /// As TraceQL spells it, which is also how Waggle stores `span.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Unspecified => "unspecified",
            Kind::Internal => "internal",
            Kind::Server => "server",
            Kind::Client => "client",
            Kind::Producer => "producer",
            Kind::Consumer => "consumer",
        }
    }
}

/// Static types (Tempo `StaticType`; `Attribute` = known only when the query runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Type {
    Nil,
    Attribute,
    Int,
    Float,
    String,
    Bool,
    Duration,
    Status,
    Kind,
}

impl Type {
    pub fn is_numeric(self) -> bool {
        matches!(self, Type::Int | Type::Float | Type::Duration)
    }

    /// "an integer", "a string", … for messages.
    pub fn with_article(self) -> String {
        let name = self.to_string();
        let article = if matches!(self, Type::Int | Type::Attribute) {
            "an"
        } else {
            "a"
        };
        format!("{article} {name}")
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Type::Nil => "nil",
            Type::Attribute => "attribute",
            Type::Int => "integer",
            Type::Float => "float",
            Type::String => "string",
            Type::Bool => "boolean",
            Type::Duration => "duration",
            Type::Status => "status",
            Type::Kind => "kind",
        })
    }
}

// ---- Attributes and intrinsics --------------------------------------------------------------

/// A reference to span data: an intrinsic or a (scoped) attribute.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AttrRef {
    Intrinsic(Intrinsic),
    Attribute(Attribute),
}

/// `.x`, `span.x`, `resource.x`, `event.x`, `link.x`, `instrumentation.x`, `parent.…x`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Attribute {
    pub scope: AttrScope,
    /// `parent.` forms: the attribute of the span's parent.
    pub parent: bool,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttrScope {
    /// `.x`: span or resource.
    None,
    Span,
    Resource,
    Event,
    Link,
    Instrumentation,
}

impl AttrScope {
    pub fn prefix(self) -> &'static str {
        match self {
            AttrScope::None => ".",
            AttrScope::Span => "span.",
            AttrScope::Resource => "resource.",
            AttrScope::Event => "event.",
            AttrScope::Link => "link.",
            AttrScope::Instrumentation => "instrumentation.",
        }
    }
}

/// Intrinsics, whatever spelling selected them (`duration` and `span:duration` are one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Intrinsic {
    Duration,
    Name,
    Status,
    StatusMessage,
    Kind,
    ChildCount,
    /// `parent` (parsed; Tempo reports it unsupported).
    Parent,
    TraceRootService,
    TraceRootSpan,
    TraceDuration,
    TraceId,
    SpanId,
    ParentId,
    NestedSetLeft,
    NestedSetRight,
    NestedSetParent,
    EventName,
    EventTimeSinceStart,
    LinkTraceId,
    LinkSpanId,
    InstrumentationName,
    InstrumentationVersion,
}

impl Intrinsic {
    /// The canonical spelling.
    pub fn as_str(self) -> &'static str {
        use Intrinsic::*;
        match self {
            Duration => "span:duration",
            Name => "span:name",
            Status => "span:status",
            StatusMessage => "span:statusMessage",
            Kind => "span:kind",
            ChildCount => "span:childCount",
            Parent => "parent",
            TraceRootService => "trace:rootService",
            TraceRootSpan => "trace:rootName",
            TraceDuration => "trace:duration",
            TraceId => "trace:id",
            SpanId => "span:id",
            ParentId => "span:parentID",
            NestedSetLeft => "nestedSetLeft",
            NestedSetRight => "nestedSetRight",
            NestedSetParent => "nestedSetParent",
            EventName => "event:name",
            EventTimeSinceStart => "event:timeSinceStart",
            LinkTraceId => "link:traceID",
            LinkSpanId => "link:spanID",
            InstrumentationName => "instrumentation:name",
            InstrumentationVersion => "instrumentation:version",
        }
    }

    /// The intrinsic's type (Tempo `Attribute.impliedType`).
    pub fn ty(self) -> Type {
        use Intrinsic::*;
        match self {
            Duration | EventTimeSinceStart | TraceDuration => Type::Duration,
            ChildCount | NestedSetLeft | NestedSetRight | NestedSetParent => Type::Int,
            Name | StatusMessage | EventName | LinkTraceId | LinkSpanId | TraceRootService
            | TraceRootSpan | TraceId | SpanId | ParentId => Type::String,
            Status => Type::Status,
            Kind => Type::Kind,
            Parent => Type::Nil,
            // Tempo has no case for these two: they are typed when the query runs.
            InstrumentationName | InstrumentationVersion => Type::Attribute,
        }
    }
}

impl fmt::Display for AttrRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttrRef::Intrinsic(i) => f.write_str(i.as_str()),
            AttrRef::Attribute(a) => {
                if a.parent {
                    f.write_str("parent.")?;
                }
                if !(a.parent && a.scope == AttrScope::None) {
                    f.write_str(a.scope.prefix())?;
                }
                let plain = !a.name.is_empty()
                    && a.name
                        .chars()
                        .all(|c| super::lexer::is_attribute_char(c) && c != '"' && c != '\\');
                if plain {
                    f.write_str(&a.name)
                } else {
                    write!(
                        f,
                        "\"{}\"",
                        a.name.replace('\\', "\\\\").replace('"', "\\\"")
                    )
                }
            }
        }
    }
}
