//! Tempo's semantic checks (`pkg/traceql/ast_validate.go` and the metrics `validate()`s),
//! in Tempo's order, so a query fails the same way it would there: children before
//! parents, so an unsupported `parent.` attribute deep inside wins over a type error
//! around it. Static types follow Tempo's `impliedType` (attributes are typed only when the
//! query runs, [`Type::Attribute`]).

use super::ast::*;
use super::Error;

/// `by (…)` attributes a metrics function takes, at most (Tempo `maxGroupBys`).
pub const METRICS_GROUP_BYS_MAX: usize = 5;
/// Largest `topN` of `compare()` (Tempo `maxCompareTopN`).
pub const COMPARE_TOP_N_MAX: i64 = 1000;

fn invalid<T>(loc: Loc, message: impl Into<String>) -> Result<T, Error> {
    Err(Error::Validation {
        pos: loc.start,
        message: message.into(),
    })
}

fn unsupported<T>(loc: Loc, message: impl Into<String>) -> Result<T, Error> {
    Err(Error::Unsupported {
        pos: loc.start,
        message: message.into(),
    })
}

/// Checks a parsed query as Tempo's `validate()` does.
pub fn validate(q: &Query) -> Result<(), Error> {
    match &q.root {
        RootExpr::Spans(e) => spanset(e),
        RootExpr::Metrics(m) => metrics(m),
    }
}

fn spanset(e: &SpansetExpr) -> Result<(), Error> {
    match e {
        SpansetExpr::Filter(f) => filter(f),
        SpansetExpr::Op { lhs, rhs, .. } => {
            spanset(lhs)?;
            spanset(rhs)
        }
        SpansetExpr::Pipeline(p) => pipeline(p),
    }
}

fn pipeline(p: &Pipeline) -> Result<(), Error> {
    p.stages.iter().try_for_each(stage)
}

fn stage(s: &Stage) -> Result<(), Error> {
    match s {
        Stage::Spanset(e) => spanset(e),
        Stage::ScalarFilter(f) => scalar_filter(f),
        Stage::By { expr, loc } => {
            if !references_span(expr) {
                return invalid(
                    *loc,
                    "by() needs an expression that reads the span, such as `by(resource.service.name)`",
                );
            }
            field(expr)
        }
        Stage::Coalesce { .. } => Ok(()),
        Stage::Select { attrs, loc } => attrs.iter().try_for_each(|a| attr(a, *loc)),
    }
}

fn filter(f: &Filter) -> Result<(), Error> {
    field(&f.expr)?;
    match field_type(&f.expr) {
        Type::Attribute | Type::Bool => Ok(()),
        t => invalid(
            f.expr.loc,
            format!("a spanset filter must be a boolean expression; this one is of type {t}"),
        ),
    }
}

/// The static type of a field expression (Tempo `impliedType`).
pub fn field_type(f: &Field) -> Type {
    match &f.kind {
        FieldKind::Static(s) => s.ty(),
        FieldKind::Attr(AttrRef::Intrinsic(i)) => i.ty(),
        FieldKind::Attr(AttrRef::Attribute(_)) => Type::Attribute,
        FieldKind::Binary { op, lhs, rhs } => {
            if op.is_boolean() {
                return Type::Bool;
            }
            match field_type(lhs) {
                Type::Attribute => field_type(rhs),
                t => t,
            }
        }
        FieldKind::Unary { op, operand } => match op {
            UnaryOp::Exists | UnaryOp::NotExists => Type::Bool,
            UnaryOp::Neg | UnaryOp::Not => field_type(operand),
        },
    }
}

/// Whether the expression reads the span at all.
pub fn references_span(f: &Field) -> bool {
    match &f.kind {
        FieldKind::Static(_) => false,
        FieldKind::Attr(_) => true,
        FieldKind::Binary { lhs, rhs, .. } => references_span(lhs) || references_span(rhs),
        FieldKind::Unary { operand, .. } => references_span(operand),
    }
}

/// Tempo `isMatchingOperand`.
fn matching(a: Type, b: Type) -> bool {
    a == Type::Attribute
        || b == Type::Attribute
        || a == b
        || (a.is_numeric() && b.is_numeric())
        || a == Type::Nil
        || b == Type::Nil
}

/// Tempo `binaryTypeValid`.
fn binary_type_valid(op: BinOp, t: Type) -> bool {
    use BinOp::*;
    match t {
        Type::Attribute => true,
        Type::Bool => matches!(op, And | Or | Eq | Ne),
        Type::Int | Type::Float | Type::Duration => {
            matches!(
                op,
                Add | Sub | Mul | Div | Mod | Pow | Eq | Ne | Gt | Ge | Lt | Le
            )
        }
        Type::String => matches!(op, Eq | Ne | Regex | NotRegex | Gt | Ge | Lt | Le),
        Type::Nil | Type::Status | Type::Kind => matches!(op, Eq | Ne),
    }
}

fn arith_binop(op: ArithOp) -> BinOp {
    match op {
        ArithOp::Add => BinOp::Add,
        ArithOp::Sub => BinOp::Sub,
        ArithOp::Mul => BinOp::Mul,
        ArithOp::Div => BinOp::Div,
        ArithOp::Mod => BinOp::Mod,
        ArithOp::Pow => BinOp::Pow,
    }
}

fn cmp_binop(op: CmpOp) -> BinOp {
    match op {
        CmpOp::Eq => BinOp::Eq,
        CmpOp::Ne => BinOp::Ne,
        CmpOp::Gt => BinOp::Gt,
        CmpOp::Ge => BinOp::Ge,
        CmpOp::Lt => BinOp::Lt,
        CmpOp::Le => BinOp::Le,
    }
}

fn check_operands(op: BinOp, lt: Type, rt: Type, loc: Loc) -> Result<(), Error> {
    if !matching(lt, rt) {
        return invalid(
            loc,
            format!(
                "`{}` needs operands of one type; found {lt} and {rt}",
                op.as_str()
            ),
        );
    }
    if !binary_type_valid(op, lt) || !binary_type_valid(op, rt) {
        let t = if binary_type_valid(op, lt) { rt } else { lt };
        return invalid(
            loc,
            format!(
                "`{}` cannot be applied to {}",
                op.as_str(),
                t.with_article()
            ),
        );
    }
    Ok(())
}

/// Tempo's `FieldExpression.validate` (binary, unary, static, attribute).
pub fn field(f: &Field) -> Result<(), Error> {
    match &f.kind {
        FieldKind::Static(_) => Ok(()),
        FieldKind::Attr(a) => attr(a, f.loc),
        FieldKind::Binary { op, lhs, rhs } => {
            field(lhs)?;
            field(rhs)?;
            check_operands(*op, field_type(lhs), field_type(rhs), f.loc)?;
            if matches!(op, BinOp::Regex | BinOp::NotRegex) {
                let FieldKind::Static(Static::Str(pattern)) = &rhs.kind else {
                    return invalid(
                        rhs.loc,
                        format!(
                            "the right side of `{}` must be a string literal (a regular expression)",
                            op.as_str()
                        ),
                    );
                };
                check_regex(pattern, rhs.loc)?;
            }
            Ok(())
        }
        FieldKind::Unary { op, operand } => {
            field(operand)?;
            if *op == UnaryOp::NotExists {
                match &operand.kind {
                    FieldKind::Attr(AttrRef::Intrinsic(i)) => {
                        return invalid(
                            f.loc,
                            format!(
                                "`{} = nil` is not valid: intrinsics are never nil",
                                i.as_str()
                            ),
                        )
                    }
                    FieldKind::Attr(AttrRef::Attribute(a))
                        if a.scope == AttrScope::Resource
                            && !a.parent
                            && a.name == "service.name" =>
                    {
                        return invalid(
                            f.loc,
                            "`resource.service.name = nil` is not valid: every resource has a service name",
                        )
                    }
                    _ => {}
                }
            }
            let t = field_type(operand);
            let ok = match op {
                _ if t == Type::Attribute => true,
                UnaryOp::Neg => t.is_numeric(),
                UnaryOp::Not => t == Type::Bool,
                UnaryOp::Exists | UnaryOp::NotExists => true,
            };
            if !ok {
                let name = if *op == UnaryOp::Neg { "-" } else { "!" };
                return invalid(
                    f.loc,
                    format!("`{name}` cannot be applied to {}", t.with_article()),
                );
            }
            Ok(())
        }
    }
}

/// A regular expression as Tempo checks it (Go's RE2 syntax; the crate's size bound).
pub fn check_regex(pattern: &str, loc: Loc) -> Result<(), Error> {
    if pattern.len() > crate::derived::REGEX_LEN_MAX {
        return invalid(
            loc,
            format!(
                "regular expression is {} bytes long; at most {} are allowed",
                pattern.len(),
                crate::derived::REGEX_LEN_MAX
            ),
        );
    }
    match regex::RegexBuilder::new(pattern)
        .size_limit(crate::derived::REGEX_SIZE_LIMIT)
        .build()
    {
        Ok(_) => Ok(()),
        Err(e) => invalid(
            loc,
            format!("invalid regular expression: {}", regex_error(&e)),
        ),
    }
}

/// The regex crate's message without its multi-line excerpt.
pub fn regex_error(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .last()
        .unwrap_or("")
        .trim_start_matches("error: ")
        .to_string()
}

fn attr(a: &AttrRef, loc: Loc) -> Result<(), Error> {
    match a {
        AttrRef::Attribute(a) if a.parent => unsupported(
            loc,
            format!(
                "`{}`: parent. attributes are not supported yet (Tempo does not run them either)",
                AttrRef::Attribute(a.clone())
            ),
        ),
        AttrRef::Intrinsic(Intrinsic::Parent) => unsupported(
            loc,
            "the `parent` intrinsic is not supported yet (Tempo does not run it either)",
        ),
        _ => Ok(()),
    }
}

fn aggregate(a: &Aggregate) -> Result<(), Error> {
    let Some(e) = &a.field else { return Ok(()) };
    field(e)?;
    let t = field_type(e);
    if t != Type::Attribute && !t.is_numeric() {
        return invalid(
            e.loc,
            format!(
                "{}() needs a number, a duration or an attribute; this is {}",
                a.op.as_str(),
                t.with_article()
            ),
        );
    }
    if !references_span(e) {
        return invalid(
            e.loc,
            format!(
                "{}() needs an expression that reads the span, such as `{}(duration)`",
                a.op.as_str(),
                a.op.as_str()
            ),
        );
    }
    Ok(())
}

pub fn scalar_type(e: &ScalarExpr) -> Type {
    match e {
        ScalarExpr::Aggregate(a) | ScalarExpr::Pipeline { aggregate: a, .. } => {
            match (&a.op, &a.field) {
                (AggregateOp::Count, _) | (_, None) => Type::Int,
                (_, Some(f)) => field_type(f),
            }
        }
        ScalarExpr::Static { value, .. } => value.ty(),
        ScalarExpr::Op { lhs, rhs, .. } => match scalar_type(lhs) {
            Type::Attribute => scalar_type(rhs),
            t => t,
        },
    }
}

fn scalar_expr(e: &ScalarExpr) -> Result<(), Error> {
    match e {
        ScalarExpr::Aggregate(a) => aggregate(a),
        ScalarExpr::Static { .. } => Ok(()),
        ScalarExpr::Op { op, lhs, rhs, loc } => {
            scalar_expr(lhs)?;
            scalar_expr(rhs)?;
            check_operands(arith_binop(*op), scalar_type(lhs), scalar_type(rhs), *loc)
        }
        ScalarExpr::Pipeline {
            pipeline: p,
            aggregate: a,
            ..
        } => {
            pipeline(p)?;
            aggregate(a)
        }
    }
}

fn scalar_filter(f: &ScalarFilter) -> Result<(), Error> {
    scalar_expr(&f.lhs)?;
    scalar_expr(&f.rhs)?;
    check_operands(
        cmp_binop(f.op),
        scalar_type(&f.lhs),
        scalar_type(&f.rhs),
        f.loc,
    )?;
    if !matches!(f.lhs, ScalarExpr::Aggregate(_)) {
        return unsupported(
            f.lhs.loc(),
            "scalar filters whose left side is not a single aggregate such as `count()` are not supported yet (Tempo does not run them either)",
        );
    }
    if !matches!(f.rhs, ScalarExpr::Static { .. }) {
        return unsupported(
            f.rhs.loc(),
            "scalar filters whose right side is not a number are not supported yet (Tempo does not run them either)",
        );
    }
    Ok(())
}

// ---- Metrics --------------------------------------------------------------------------------

fn metrics(m: &MetricsExpr) -> Result<(), Error> {
    let mut pipelines = Vec::new();
    let mut firsts = Vec::new();
    let mut seconds = Vec::new();
    collect(m, &mut pipelines, &mut firsts, &mut seconds);
    pipelines.into_iter().try_for_each(pipeline)?;
    firsts.iter().try_for_each(|f| first_stage(f))?;
    for s in &seconds {
        if let SecondStage::TopK { limit, loc } | SecondStage::BottomK { limit, loc } = s {
            if *limit <= 0 {
                return invalid(*loc, "topk() and bottomk() need a limit greater than 0");
            }
        }
    }
    let plain = matches!(m, MetricsExpr::Pipeline { second, .. } if second.is_empty());
    if !plain {
        if let Some(c) = firsts
            .iter()
            .find(|f| matches!(f.func, MetricsFunc::Compare { .. }))
        {
            return invalid(
                c.loc,
                "compare() cannot be used with second-stage functions, comparisons or arithmetic",
            );
        }
    }
    Ok(())
}

fn collect<'a>(
    m: &'a MetricsExpr,
    pipelines: &mut Vec<&'a Pipeline>,
    firsts: &mut Vec<&'a MetricsAggregate>,
    seconds: &mut Vec<&'a SecondStage>,
) {
    match m {
        MetricsExpr::Pipeline {
            pipeline,
            first,
            second,
            ..
        } => {
            pipelines.push(pipeline);
            firsts.push(first);
            seconds.extend(second);
        }
        MetricsExpr::Math { lhs, rhs, .. } => {
            collect(lhs, pipelines, firsts, seconds);
            collect(rhs, pipelines, firsts, seconds);
        }
        MetricsExpr::Scalar { expr, .. } => collect(expr, pipelines, firsts, seconds),
        MetricsExpr::Staged { expr, second, .. } => {
            collect(expr, pipelines, firsts, seconds);
            seconds.extend(second);
        }
    }
}

fn first_stage(m: &MetricsAggregate) -> Result<(), Error> {
    let n = m.by.len();
    let too_many = |loc| {
        unsupported(
            loc,
            format!(
                "grouping by {n} attributes is not supported (at most {} for {}())",
                if matches!(
                    m.func,
                    MetricsFunc::QuantileOverTime(..)
                        | MetricsFunc::HistogramOverTime(_)
                        | MetricsFunc::AvgOverTime(_)
                ) {
                    METRICS_GROUP_BYS_MAX - 1
                } else {
                    METRICS_GROUP_BYS_MAX
                },
                m.func.name()
            ),
        )
    };
    match &m.func {
        MetricsFunc::QuantileOverTime(_, qs) => {
            if n >= METRICS_GROUP_BYS_MAX {
                return too_many(m.loc);
            }
            if let Some(q) = qs.iter().find(|q| !(0.0..=1.0).contains(*q)) {
                return invalid(m.loc, format!("quantile must be between 0 and 1: {q}"));
            }
        }
        MetricsFunc::HistogramOverTime(_) | MetricsFunc::AvgOverTime(_)
            if n >= METRICS_GROUP_BYS_MAX =>
        {
            return too_many(m.loc)
        }
        MetricsFunc::Compare {
            filter: f,
            top_n,
            start,
            end,
        } => {
            filter(f)?;
            if *top_n <= 0 || *top_n > COMPARE_TOP_N_MAX {
                return invalid(
                    m.loc,
                    format!(
                        "compare() top number of values must be an integer between 1 and {COMPARE_TOP_N_MAX}"
                    ),
                );
            }
            if *start != 0 || *end != 0 {
                if *start <= 0 || *end <= 0 {
                    return invalid(
                        m.loc,
                        "compare() timestamps must be positive integer unix nanoseconds",
                    );
                }
                if end <= start {
                    return invalid(
                        m.loc,
                        "compare() end timestamp must be greater than start timestamp",
                    );
                }
            }
        }
        _ => {}
    }
    if n > METRICS_GROUP_BYS_MAX {
        return too_many(m.loc);
    }
    Ok(())
}
