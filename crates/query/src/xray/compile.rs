//! [`Expr`] → [`Predicate`] over events: an event matches when its trace matches the filter
//! (every term is a whole-trace predicate), so `summaries` can list the traces of matching
//! spans. What each keyword reads is the module docs' table (`XRAY_FIELDS.md`).

use model::schema::{Catalog, COL_DURATION_MS, COL_NAME, COL_SERVICE};
use model::value::ColumnType;
use model::Value;

use super::ast::*;
use super::{parse, FilterError, GROUP_DEPTH_MAX};
use crate::plan::{
    compare, resolve_column, CmpOp, ColumnKind, ColumnRef, Operand, Predicate, TraceScope,
};

/// What [`compile`] needs besides the expression.
pub struct CompileContext<'a> {
    /// The store's columns: fields that no event has compile to "missing" (never equal).
    pub catalog: &'a Catalog,
    /// A group's filter expression by name or ARN; `None` when there is no such group. An
    /// empty (or all-blank) expression is a group of every trace.
    pub groups: &'a dyn Fn(&GroupRef) -> Option<String>,
}

/// Where a term is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Top level (and group expressions): a statement about the whole trace.
    Trace,
    /// Inside `service(…) { }` / `edge(…) { }`: a statement about one span.
    Span,
}

/// Compiles a parsed expression.
pub fn compile(e: &Expr, ctx: &CompileContext<'_>) -> Result<Predicate, FilterError> {
    Compiler {
        ctx,
        groups: Vec::new(),
    }
    .expr(e, Scope::Trace)
}

/// Parses and compiles `text`.
pub fn compile_str(text: &str, ctx: &CompileContext<'_>) -> Result<Predicate, FilterError> {
    compile(&parse(text)?, ctx)
}

struct Compiler<'c, 'a> {
    ctx: &'c CompileContext<'a>,
    /// Groups being expanded (cycle detection).
    groups: Vec<GroupRef>,
}

/// The literal a filter number compares as: integral values as integers (so they compare
/// exactly with integer columns), others as doubles.
fn number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9_007_199_254_740_992.0 {
        Value::Int(v as i64)
    } else {
        Value::Float(v)
    }
}

fn cmp_op(op: NumOp) -> CmpOp {
    match op {
        NumOp::Eq | NumOp::Ne => CmpOp::Eq,
        NumOp::Lt => CmpOp::Lt,
        NumOp::Le => CmpOp::Le,
        NumOp::Gt => CmpOp::Gt,
        NumOp::Ge => CmpOp::Ge,
    }
}

/// `!=` is the negation of `=` (two-valued: a missing field is "not equal"), as in the plan.
fn negate_if(ne: bool, p: Predicate) -> Predicate {
    if ne {
        Predicate::not(p)
    } else {
        p
    }
}

/// The operand string operators read: the column, or its text for non-string columns.
fn text_operand(c: &ColumnRef) -> Operand {
    match c.value_type() {
        Some(ColumnType::String) => Operand::Column(c.clone()),
        _ => Operand::AsText(c.clone()),
    }
}

fn string_test(c: &ColumnRef, op: StrOp, s: &str) -> Predicate {
    if c.kind == ColumnKind::Missing {
        return Predicate::False;
    }
    match op {
        StrOp::Eq | StrOp::Ne => compare(c, CmpOp::Eq, &Value::Str(s.to_string())),
        StrOp::Contains => Predicate::Contains(text_operand(c), s.to_string()),
        StrOp::BeginsWith => Predicate::StartsWith(text_operand(c), s.to_string()),
        StrOp::EndsWith => Predicate::EndsWith(text_operand(c), s.to_string()),
    }
}

fn exists(c: &ColumnRef) -> Predicate {
    if c.kind == ColumnKind::Missing {
        Predicate::False
    } else {
        Predicate::Exists(c.clone())
    }
}

/// Where a keyword looks at trace level.
fn at(scope: Scope, trace: TraceScope, p: Predicate) -> Predicate {
    match (scope, p) {
        (Scope::Span, p) => p,
        (Scope::Trace, Predicate::False) => Predicate::False,
        (Scope::Trace, p) => Predicate::Trace {
            scope: trace,
            predicate: Box::new(p),
        },
    }
}

fn unsupported(what: &str) -> FilterError {
    FilterError::Unsupported(what.to_string())
}

impl Compiler<'_, '_> {
    fn col(&self, name: &str) -> ColumnRef {
        resolve_column(name, self.ctx.catalog, &mut Vec::new())
    }

    /// `f` on the first of `names` the span has: `f(c0) OR (c0 missing AND f(c1)) OR …`.
    /// Columns no event has are skipped at compile time.
    fn fallback(&self, names: &[&str], f: impl Fn(&ColumnRef) -> Predicate) -> Predicate {
        let cols: Vec<ColumnRef> = names
            .iter()
            .map(|n| self.col(n))
            .filter(|c| c.kind != ColumnKind::Missing)
            .collect();
        let mut alts = Vec::new();
        for (i, c) in cols.iter().enumerate() {
            let mut parts: Vec<Predicate> = cols[..i]
                .iter()
                .map(|p| Predicate::not(Predicate::Exists(p.clone())))
                .collect();
            parts.push(f(c));
            alts.push(Predicate::and(parts));
        }
        Predicate::or(alts)
    }

    fn flag(&self, name: &str) -> Predicate {
        compare(&self.col(name), CmpOp::Eq, &Value::Bool(true))
    }

    fn status(&self, f: impl Fn(&ColumnRef) -> Predicate) -> Predicate {
        self.fallback(&["http.status_code", "http.response.status_code"], f)
    }

    fn status_between(&self, lo: i64, hi: i64) -> Predicate {
        self.status(|c| {
            Predicate::and(vec![
                compare(c, CmpOp::Ge, &Value::Int(lo)),
                compare(c, CmpOp::Le, &Value::Int(hi)),
            ])
        })
    }

    fn fault(&self) -> Predicate {
        Predicate::or(vec![
            self.flag("aws.xray.fault"),
            self.status(|c| compare(c, CmpOp::Ge, &Value::Int(500))),
            compare(&self.col("status_code"), CmpOp::Eq, &Value::Int(2)),
        ])
    }

    fn error(&self) -> Predicate {
        Predicate::or(vec![
            self.flag("aws.xray.error"),
            self.status_between(400, 499),
        ])
    }

    fn throttle(&self) -> Predicate {
        Predicate::or(vec![
            self.flag("aws.xray.throttle"),
            self.status(|c| compare(c, CmpOp::Eq, &Value::Int(429))),
        ])
    }

    /// A boolean keyword on one span, and where it looks at trace level.
    fn bool_keyword(&self, k: BoolKeyword) -> Result<(Predicate, TraceScope), FilterError> {
        Ok(match k {
            BoolKeyword::Ok => (
                Predicate::not(Predicate::or(vec![
                    self.fault(),
                    self.error(),
                    self.throttle(),
                ])),
                TraceScope::Root,
            ),
            BoolKeyword::Error => (self.error(), TraceScope::Root),
            BoolKeyword::Throttle => (self.throttle(), TraceScope::Root),
            BoolKeyword::Fault => (self.fault(), TraceScope::Root),
            BoolKeyword::Partial => (self.flag("aws.xray.in_progress"), TraceScope::Any),
            BoolKeyword::Inferred => (self.flag("aws.xray.inferred"), TraceScope::Any),
            BoolKeyword::Root => (
                Predicate::not(Predicate::Exists(ColumnRef {
                    name: model::schema::FIELD_PARENT_ID.into(),
                    kind: ColumnKind::ParentId,
                })),
                TraceScope::Root,
            ),
            BoolKeyword::First | BoolKeyword::Last | BoolKeyword::Remote => {
                return Err(FilterError::Unsupported(format!(
                    "the keyword {} (it describes root-cause entities, and rootcause.* filters are not supported)",
                    k.as_str()
                )))
            }
        })
    }

    /// A string keyword's fields (first present wins) and where it looks at trace level.
    fn string_fields(k: StringKeyword) -> (&'static [&'static str], TraceScope) {
        use StringKeyword::*;
        match k {
            HttpUrl => (&["http.url", "url.full"], TraceScope::Root),
            HttpMethod => (&["http.method", "http.request.method"], TraceScope::Root),
            HttpUserAgent => (
                &["http.user_agent", "user_agent.original"],
                TraceScope::Root,
            ),
            HttpClientIp => (
                &["http.client_ip", "client.address", "net.peer.ip"],
                TraceScope::Root,
            ),
            User => (&["enduser.id", "user.id"], TraceScope::Any),
            Name => (&[COL_NAME], TraceScope::Root),
            Type => (&["aws.xray.origin"], TraceScope::Root),
            Message => (&["exception.message"], TraceScope::Any),
            AvailabilityZone => (&["cloud.availability_zone"], TraceScope::Any),
            InstanceId => (&["host.id"], TraceScope::Any),
            ResourceArn => (&["cloud.resource_id"], TraceScope::Any),
        }
    }

    fn node(&self, n: &Node) -> Predicate {
        let eq = |col: &str, v: &str| compare(&self.col(col), CmpOp::Eq, &Value::Str(v.into()));
        match n {
            Node::Name(s) => eq(COL_SERVICE, s),
            Node::Id {
                name,
                ty,
                account_id,
            } => {
                let mut parts = Vec::new();
                if let Some(s) = name {
                    parts.push(eq(COL_SERVICE, s));
                }
                if let Some(s) = ty {
                    parts.push(eq("aws.xray.origin", s));
                }
                if let Some(s) = account_id {
                    parts.push(eq("aws.account_id", s));
                }
                Predicate::and(parts)
            }
        }
    }

    fn filter(&mut self, f: &Option<Box<Expr>>) -> Result<Predicate, FilterError> {
        match f {
            Some(f) => self.expr(f, Scope::Span),
            None => Ok(Predicate::True),
        }
    }

    fn expr(&mut self, e: &Expr, scope: Scope) -> Result<Predicate, FilterError> {
        Ok(match e {
            Expr::And(xs) => Predicate::and(
                xs.iter()
                    .map(|x| self.expr(x, scope))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Or(xs) => Predicate::or(
                xs.iter()
                    .map(|x| self.expr(x, scope))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Not(x) => Predicate::not(self.expr(x, scope)?),
            Expr::Bool { keyword, op, value } => {
                let (p, trace) = self.bool_keyword(*keyword)?;
                let want = (*op == EqOp::Eq) == *value;
                negate_if(!want, at(scope, trace, p))
            }
            Expr::Number { keyword, op, value } => {
                let ne = *op == NumOp::Ne;
                match keyword {
                    NumberKeyword::Duration if scope == Scope::Trace => negate_if(
                        ne,
                        Predicate::TraceDuration {
                            op: cmp_op(*op),
                            ms: value * 1000.0,
                        },
                    ),
                    NumberKeyword::ResponseTime | NumberKeyword::Duration => {
                        let c = self.col(COL_DURATION_MS);
                        let p = compare(&c, cmp_op(*op), &Value::Float(value * 1000.0));
                        negate_if(ne, at(scope, TraceScope::Root, p))
                    }
                    NumberKeyword::HttpStatus => {
                        let v = number(*value);
                        let p = self.status(|c| compare(c, cmp_op(*op), &v));
                        negate_if(ne, at(scope, TraceScope::Root, p))
                    }
                    NumberKeyword::Index | NumberKeyword::Coverage => {
                        return Err(FilterError::Unsupported(format!(
                            "the keyword {} (it describes root-cause entities, and rootcause.* filters are not supported)",
                            keyword.as_str()
                        )))
                    }
                }
            }
            Expr::String { keyword, test } => {
                let (fields, trace) = Self::string_fields(*keyword);
                match test {
                    StringTest::IsSet => at(scope, trace, self.fallback(fields, exists)),
                    StringTest::Compare(op, s) => negate_if(
                        *op == StrOp::Ne,
                        at(
                            scope,
                            trace,
                            self.fallback(fields, |c| string_test(c, *op, s)),
                        ),
                    ),
                }
            }
            Expr::Annotation { key, test } => {
                let c = self.col(&format!("annotation.{key}"));
                let (ne, p) = match test {
                    AnnotationTest::IsSet => (false, exists(&c)),
                    AnnotationTest::Bool(op, b) => {
                        (*op == EqOp::Ne, compare(&c, CmpOp::Eq, &Value::Bool(*b)))
                    }
                    AnnotationTest::Number(op, v) => {
                        (*op == NumOp::Ne, compare(&c, cmp_op(*op), &number(*v)))
                    }
                    AnnotationTest::Str(op, s) => (*op == StrOp::Ne, string_test(&c, *op, s)),
                };
                negate_if(ne, at(scope, TraceScope::Any, p))
            }
            Expr::Service { node, filter } => {
                let mut parts = vec![node.as_ref().map_or(Predicate::True, |n| self.node(n))];
                parts.push(self.filter(filter)?);
                at(Scope::Trace, TraceScope::Any, Predicate::and(parts))
            }
            Expr::Edge { from, to, filter } => {
                let f = self.filter(filter)?;
                // A callee span of `to` whose parent span is of `from` …
                let callee = Predicate::and(vec![self.node(to), f.clone()]);
                let edge = match (self.node(from), callee) {
                    (Predicate::False, _) | (_, Predicate::False) => Predicate::False,
                    (parent, child) => Predicate::Edge {
                        parent: Box::new(parent),
                        child: Box::new(child),
                    },
                };
                // … or, for a callee X-Ray infers (a database, an AWS API), `from`'s own
                // downstream subsegment named after it.
                let inferred = match to {
                    Node::Name(n) | Node::Id { name: Some(n), .. } => Predicate::and(vec![
                        self.node(from),
                        compare(&self.col(COL_NAME), CmpOp::Eq, &Value::Str(n.clone())),
                        Predicate::or(vec![
                            compare(
                                &self.col("aws.xray.namespace"),
                                CmpOp::Eq,
                                &Value::Str("aws".into()),
                            ),
                            compare(
                                &self.col("aws.xray.namespace"),
                                CmpOp::Eq,
                                &Value::Str("remote".into()),
                            ),
                        ]),
                        f,
                    ]),
                    Node::Id { name: None, .. } => Predicate::False,
                };
                Predicate::or(vec![edge, at(Scope::Trace, TraceScope::Any, inferred)])
            }
            Expr::Group(g) => self.group(g)?,
            Expr::RootCause { kind, target, .. } => {
                return Err(FilterError::Unsupported(format!(
                    "rootcause.{}.{} (Waggle does not compute X-Ray's root-cause analysis)",
                    kind.as_str(),
                    target.as_str()
                )))
            }
            Expr::Json { root_cause, .. } => {
                return Err(unsupported(if *root_cause {
                    "rootcause.json (Waggle does not compute X-Ray's root-cause analysis)"
                } else {
                    "json (Waggle does not compute X-Ray's root-cause analysis)"
                }))
            }
        })
    }

    fn group(&mut self, g: &GroupRef) -> Result<Predicate, FilterError> {
        let label = match g {
            GroupRef::Name(n) => format!("group.name = {}", super::print::quote(n)),
            GroupRef::Arn(a) => format!("group.arn = {}", super::print::quote(a)),
        };
        if self.groups.contains(g) {
            return Err(FilterError::Group {
                group: label,
                message: "the group's expression refers back to itself".into(),
            });
        }
        if self.groups.len() >= GROUP_DEPTH_MAX {
            return Err(FilterError::Group {
                group: label,
                message: format!("groups refer to groups more than {GROUP_DEPTH_MAX} deep"),
            });
        }
        let Some(text) = (self.ctx.groups)(g) else {
            return Err(FilterError::UnknownGroup(label));
        };
        if text.trim().is_empty() {
            return Ok(Predicate::True);
        }
        let e = parse(&text).map_err(|err| match err {
            err @ FilterError::Group { .. } => err,
            err => FilterError::Group {
                group: label.clone(),
                message: err.to_string(),
            },
        })?;
        self.groups.push(g.clone());
        let p = self.expr(&e, Scope::Trace);
        self.groups.pop();
        p.map_err(|err| match err {
            err @ (FilterError::Group { .. } | FilterError::UnknownGroup(_)) => err,
            err => FilterError::Group {
                group: label,
                message: err.to_string(),
            },
        })
    }
}
