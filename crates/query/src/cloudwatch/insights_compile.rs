//! [`Query`] → the shared [`Plan`] (plus an [`EventList`] for queries without `stats`), and
//! rows → Insights' result shape. Expressions (`fields x * 2 as y`, `strlen(@message)`, …)
//! compile to the derived-column language's typed trees, so `sql` and `naive` evaluate them
//! with the semantics the `derived` module documents; filters on a field and a literal
//! compile to plain plan comparisons (numbers against text fields compare the text parsed as
//! a number; a comparison with a missing field is false).
//!
//! Mapping (what is not listed answers [`QueryError::Unsupported`] naming it):
//! - `stats … by f, bin(5m)`: group by `f`; `bin` makes it a time series (buckets aligned to
//!   the epoch) — [`Shape::Series`]; without `bin`, one row per group — [`Shape::Totals`].
//! - `count(*)`/`count()` = events, `count(f)` = events where `f` is present, `count_distinct`,
//!   `sum`, `avg`, `min`, `max`, `pct(f, p)` for the percentiles Honeycomb has (1, 5, 10, 20,
//!   25, 50, 75, 80, 90, 95, 99, 99.9; lower percentile, as `sql` defines).
//! - Without `stats`: the events themselves ([`Shape::Events`]), the `display` fields, else
//!   every `fields` field, else `@timestamp, @message`; newest first unless `sort` says.
//! - `parse f "glob * *" as a, b` (each `*` a lazy capture, the last one greedy when it ends
//!   the glob) and `parse f /(?<a>…)/` (named groups).
//! - Functions: `ispresent`, `strlen`, `tolower`, `concat`, `coalesce`; operators
//!   `+ - * / %`, comparisons, `and or not`, `like`/`not like`/`=~`, `in`/`not in`.
//! - Not supported: `stddev`, `earliest`, `latest`, `dedup`, other functions, a second
//!   `stats`, `filter` after `stats`, commands after `limit` other than `display`.

use std::sync::Arc;

use model::schema::Catalog;
use model::value::ColumnType;
use model::{SignalKind, Value};
use serde::Serialize;

use super::insights::*;
use super::pattern_compile::{regex, text_of, BODY_FIELD};
use super::{INGESTION_TIME_FIELD, LOG_STREAM_FIELD};
use crate::derived::{self, DerivedColumn, DerivedError, Func, Node, Ty, Typed};
use crate::plan::{
    compare, resolve_column, Aggregate, CmpOp, ColumnKind, ColumnRef, EventList, Operand, OrderKey,
    OrderTarget, Plan, Predicate, NS_PER_S,
};
use crate::results::ResultError;
use crate::spec::CalcOp;
use crate::Row;

/// Rows returned when the query has no `limit`: StartQuery `limit` "The default is 10,000"
/// (API reference).
pub const INSIGHTS_LIMIT_DEFAULT: u32 = 10_000;
/// Most rows one query returns: StartQuery `limit` maximum 10,000 (API reference).
pub const INSIGHTS_LIMIT_MAX: u32 = 10_000;

/// What [`compile`] needs besides the query.
#[derive(Debug, Clone)]
pub struct InsightsContext<'a> {
    /// The log groups (datasets) queried; at least one.
    pub log_groups: &'a [String],
    /// StartQuery `startTime` / `endTime` as nanoseconds, `[start, end)`.
    pub start_ns: i64,
    pub end_ns: i64,
    pub catalog: &'a Catalog,
    /// StartQuery's `limit` parameter (the query's own `limit` command wins).
    pub limit: Option<u32>,
}

/// How the plan is run.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// `sql::render_event_list` / `naive::run_event_list` with this list.
    Events(EventList),
    /// `sql::render_totals` / `naive::run_totals`.
    Totals,
    /// `sql::render_series` / `naive::run_series`.
    Series,
}

/// How a result value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Plain,
    /// Unix nanoseconds → `2024-01-02 03:04:05.678` (UTC), as Insights shows `@timestamp`.
    TimeNs,
    /// Unix milliseconds → the same form (`@ingestionTime`).
    TimeMs,
}

/// One output field: its name in the results and how its values are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutField {
    pub name: String,
    pub format: Format,
}

/// A compiled query.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledQuery {
    pub plan: Plan,
    pub shape: Shape,
    /// One per output column of the rendered query, in order.
    pub fields: Vec<OutField>,
    /// Rows to return at most (series rows are limited here, after the query).
    pub row_limit: u32,
    /// Reverse the rows (a series sorted by its `bin` descending).
    pub reverse: bool,
}

/// Parses and compiles `text`.
pub fn compile_str(text: &str, ctx: &InsightsContext<'_>) -> Result<CompiledQuery, QueryError> {
    compile(&parse(text)?, ctx)
}

fn unsupported(what: impl Into<String>) -> QueryError {
    QueryError::Unsupported(what.into())
}

/// The text an expression shows as a field name (`count(*)`, `strlen(@message)`).
fn label(e: &Expr) -> String {
    print_command(&Command::Fields(vec![(e.clone(), None)]))
        .trim_start_matches("fields ")
        .to_string()
}

struct Compiler<'a> {
    ctx: &'a InsightsContext<'a>,
    aliases: Vec<(String, ColumnRef)>,
    warnings: Vec<String>,
}

struct R<'c, 'a>(&'c mut Compiler<'a>);

impl derived::Resolver for R<'_, '_> {
    fn column(&mut self, name: &str, _pos: usize) -> Result<Typed, DerivedError> {
        Ok(typed_column(self.0.column(name)))
    }
}

fn typed_column(c: ColumnRef) -> Typed {
    match c.kind {
        ColumnKind::Missing => Typed {
            ty: Ty::Null,
            node: Node::Lit(None),
        },
        _ => Typed {
            ty: Ty::of_column(c.value_type()),
            node: Node::Column(c),
        },
    }
}

fn lit(v: Value) -> derived::Expr {
    derived::Expr::Literal {
        value: Some(v),
        pos: 0,
    }
}

fn call(func: Func, args: Vec<derived::Expr>) -> derived::Expr {
    derived::Expr::Call { func, args, pos: 0 }
}

/// A number literal: integral values as integers (exact against integer fields).
fn number(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        Value::Int(f as i64)
    } else {
        Value::Float(f)
    }
}

/// `(?<name>` (PCRE / Java) → `(?P<name>` (accepted by RE2 and Rust alike).
fn re2_groups(r: &str) -> String {
    r.replace("(?<", "(?P<")
        .replace("(?P<=", "(?<=")
        .replace("(?P<!", "(?<!")
}

fn cmp_op(op: BinOp) -> Option<CmpOp> {
    Some(match op {
        BinOp::Eq => CmpOp::Eq,
        BinOp::Ne => CmpOp::Ne,
        BinOp::Lt => CmpOp::Lt,
        BinOp::Le => CmpOp::Le,
        BinOp::Gt => CmpOp::Gt,
        BinOp::Ge => CmpOp::Ge,
        _ => return None,
    })
}

fn flip(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
        o => o,
    }
}

fn literal(e: &Expr) -> Option<Value> {
    match e {
        Expr::Num(f) => Some(number(*f)),
        Expr::Neg(x) => match **x {
            Expr::Num(f) => Some(number(-f)),
            _ => None,
        },
        Expr::Str(s) => Some(Value::Str(s.clone())),
        _ => None,
    }
}

fn pct_op(p: f64) -> Option<CalcOp> {
    let pm = (p * 10.0).round();
    if (pm - p * 10.0).abs() > 1e-9 {
        return None;
    }
    [
        CalcOp::P001,
        CalcOp::P01,
        CalcOp::P05,
        CalcOp::P10,
        CalcOp::P20,
        CalcOp::P25,
        CalcOp::P50,
        CalcOp::P75,
        CalcOp::P80,
        CalcOp::P90,
        CalcOp::P95,
        CalcOp::P99,
        CalcOp::P999,
    ]
    .into_iter()
    .find(|op| op.permille().map(f64::from) == Some(pm))
}

impl<'a> Compiler<'a> {
    fn column(&mut self, n: &str) -> ColumnRef {
        if let Some((_, c)) = self.aliases.iter().rev().find(|(a, _)| a == n) {
            return c.clone();
        }
        let cat = self.ctx.catalog;
        match n {
            "@timestamp" => ColumnRef {
                name: n.into(),
                kind: ColumnKind::Timestamp,
            },
            "@log" => ColumnRef {
                name: n.into(),
                kind: ColumnKind::Dataset,
            },
            "@message" => resolve_column(BODY_FIELD, cat, &mut self.warnings),
            "@logStream" => resolve_column(LOG_STREAM_FIELD, cat, &mut self.warnings),
            "@ingestionTime" => resolve_column(INGESTION_TIME_FIELD, cat, &mut self.warnings),
            _ => resolve_column(n, cat, &mut self.warnings),
        }
    }

    fn lower(&mut self, e: &Expr) -> Result<derived::Expr, QueryError> {
        let mut d = |x: &Expr| self.lower(x);
        Ok(match e {
            Expr::Field(n) if n == "*" => return Err(unsupported("'*' outside count(*)")),
            Expr::Field(n) => derived::Expr::Column {
                name: n.clone(),
                pos: 0,
            },
            Expr::Str(s) => lit(Value::Str(s.clone())),
            Expr::Num(f) => lit(number(*f)),
            Expr::Neg(x) => call(Func::Sub, vec![lit(Value::Int(0)), d(x)?]),
            Expr::Not(x) => call(Func::Not, vec![d(x)?]),
            Expr::Binary(op, a, b) => {
                let (a, b) = (d(a)?, d(b)?);
                match op {
                    BinOp::Add => call(Func::Sum, vec![a, b]),
                    BinOp::Sub => call(Func::Sub, vec![a, b]),
                    BinOp::Mul => call(Func::Mul, vec![a, b]),
                    BinOp::Div => call(Func::Div, vec![a, b]),
                    BinOp::Mod => call(Func::Mod, vec![a, b]),
                    BinOp::Eq => call(Func::Equals, vec![a, b]),
                    BinOp::Ne => call(Func::Not, vec![call(Func::Equals, vec![a, b])]),
                    BinOp::Lt => call(Func::Lt, vec![a, b]),
                    BinOp::Le => call(Func::Lte, vec![a, b]),
                    BinOp::Gt => call(Func::Gt, vec![a, b]),
                    BinOp::Ge => call(Func::Gte, vec![a, b]),
                    BinOp::And => call(Func::And, vec![a, b]),
                    BinOp::Or => call(Func::Or, vec![a, b]),
                }
            }
            Expr::Like {
                expr,
                negated,
                matcher,
            } => {
                let x = d(expr)?;
                let m = match matcher {
                    Matcher::Text(s) => call(Func::Contains, vec![x, lit(Value::Str(s.clone()))]),
                    Matcher::Regex(r) => {
                        call(Func::RegMatch, vec![x, lit(Value::Str(re2_groups(r)))])
                    }
                };
                if *negated {
                    call(Func::Not, vec![m])
                } else {
                    m
                }
            }
            Expr::In {
                expr,
                negated,
                list,
            } => {
                let mut args = vec![d(expr)?];
                for x in list {
                    args.push(d(x)?);
                }
                let m = call(Func::In, args);
                if *negated {
                    call(Func::Not, vec![m])
                } else {
                    m
                }
            }
            Expr::Call(f, args) => {
                let func = match f.as_str() {
                    "ispresent" => Func::Exists,
                    "strlen" => Func::Length,
                    "tolower" => Func::ToLower,
                    "concat" => Func::Concat,
                    "coalesce" => Func::Coalesce,
                    other => return Err(unsupported(format!("function {other}()"))),
                };
                let mut xs = Vec::new();
                for a in args {
                    xs.push(d(a)?);
                }
                call(func, xs)
            }
        })
    }

    /// `e` as a derived column named `name`.
    fn derived(&mut self, e: &Expr, name: &str) -> Result<ColumnRef, QueryError> {
        let de = self.lower(e)?;
        let typed = derived::compile(&de, &mut R(self))
            .map_err(|err| unsupported(format!("{}: {}", label(e), err.message)))?;
        derived_ref(name, label(e), typed)
    }

    fn operand_column(&mut self, e: &Expr) -> Result<ColumnRef, QueryError> {
        match e {
            Expr::Field(n) => Ok(self.column(n)),
            e => self.derived(e, &label(e)),
        }
    }

    fn predicate(&mut self, e: &Expr) -> Result<Predicate, QueryError> {
        Ok(match e {
            Expr::Binary(BinOp::And, a, b) => {
                Predicate::and(vec![self.predicate(a)?, self.predicate(b)?])
            }
            Expr::Binary(BinOp::Or, a, b) => {
                Predicate::or(vec![self.predicate(a)?, self.predicate(b)?])
            }
            Expr::Not(x) => Predicate::not(self.predicate(x)?),
            Expr::Binary(op, a, b)
                if cmp_op(*op).is_some() && (literal(b).is_some() || literal(a).is_some()) =>
            {
                let op = cmp_op(*op).unwrap_or(CmpOp::Eq);
                let (field, value, op): (&Expr, Value, CmpOp) = match (literal(a), literal(b)) {
                    (_, Some(v)) => (a, v, op),
                    (Some(v), None) => (b, v, flip(op)),
                    (None, None) => return Err(unsupported("comparison of two literals")),
                };
                let c = self.operand_column(field)?;
                if op == CmpOp::Ne {
                    // `!=` is false when the field is missing, like every comparison.
                    Predicate::and(vec![
                        exists(&c),
                        Predicate::not(compare(&c, CmpOp::Eq, &value)),
                    ])
                } else {
                    compare(&c, op, &value)
                }
            }
            Expr::Like {
                expr,
                negated,
                matcher,
            } => {
                let c = self.operand_column(expr)?;
                let p = if c.kind == ColumnKind::Missing {
                    Predicate::False
                } else {
                    match matcher {
                        Matcher::Text(s) => Predicate::Contains(text_of(&c), s.clone()),
                        Matcher::Regex(r) => Predicate::Regex(
                            text_of(&c),
                            regex(&re2_groups(r)).map_err(|e| unsupported(e.to_string()))?,
                        ),
                    }
                };
                if *negated {
                    Predicate::not(p)
                } else {
                    p
                }
            }
            Expr::In {
                expr,
                negated,
                list,
            } if list.iter().all(|x| literal(x).is_some()) => {
                let c = self.operand_column(expr)?;
                let alts: Vec<Predicate> = list
                    .iter()
                    .filter_map(literal)
                    .map(|v| compare(&c, CmpOp::Eq, &v))
                    .collect();
                let p = Predicate::or(alts);
                if *negated {
                    Predicate::not(p)
                } else {
                    p
                }
            }
            Expr::Call(f, args) if f == "ispresent" && args.len() == 1 => {
                let c = self.operand_column(&args[0])?;
                exists(&c)
            }
            e => {
                let c = self.derived(e, &label(e))?;
                Predicate::Compare {
                    lhs: Operand::Column(c),
                    op: CmpOp::Eq,
                    value: Value::Bool(true),
                }
            }
        })
    }

    fn parse_command(
        &mut self,
        field: &str,
        pattern: &ParsePattern,
        names: &[String],
    ) -> Result<(), QueryError> {
        let src = self.column(field);
        let src = match src.value_type() {
            None => return self.all_missing(pattern, names),
            Some(ColumnType::String) => typed_column(src),
            Some(_) => Typed {
                ty: Ty::Str,
                node: Node::ToText(Box::new(typed_column(src))),
            },
        };
        let (re, groups): (String, Vec<(String, usize)>) = match pattern {
            ParsePattern::Glob(g) => {
                let parts: Vec<&str> = g.split('*').collect();
                let stars = parts.len() - 1;
                if stars != names.len() {
                    return Err(unsupported(format!(
                        "parse pattern {g:?} has {stars} '*' but {} names follow 'as'",
                        names.len()
                    )));
                }
                let mut re = String::from("(?s)");
                for (i, p) in parts.iter().enumerate() {
                    re.push_str(&regex::escape(p));
                    if i + 1 < parts.len() {
                        let last_at_end = i + 2 == parts.len() && parts[i + 1].is_empty();
                        re.push_str(if last_at_end { "(.*)" } else { "(.*?)" });
                    }
                }
                (re, names.iter().cloned().zip(1..).collect())
            }
            ParsePattern::Regex(r) => {
                if !names.is_empty() {
                    return Err(unsupported(
                        "'as' after a parse /regex/ (name the groups with (?<name>…))",
                    ));
                }
                let re = re2_groups(r);
                let compiled = regex(&re).map_err(|e| unsupported(e.to_string()))?;
                let groups: Vec<(String, usize)> = compiled
                    .regex
                    .capture_names()
                    .enumerate()
                    .filter_map(|(i, n)| n.map(|n| (n.to_string(), i)))
                    .collect();
                if groups.is_empty() {
                    return Err(unsupported("parse /regex/ without named groups (?<name>…)"));
                }
                (re, groups)
            }
        };
        let pat = regex(&re).map_err(|e| unsupported(e.to_string()))?;
        for (name, g) in groups {
            let typed = Typed {
                ty: Ty::Str,
                node: Node::RegValue(Box::new(src.clone()), pat.clone(), g),
            };
            let c = derived_ref(&name, format!("parse {field}"), typed)?;
            self.aliases.push((name, c));
        }
        Ok(())
    }

    /// `parse` of a field no event has: every name is missing.
    fn all_missing(&mut self, pattern: &ParsePattern, names: &[String]) -> Result<(), QueryError> {
        let names: Vec<String> = match pattern {
            ParsePattern::Glob(_) => names.to_vec(),
            ParsePattern::Regex(r) => regex(&re2_groups(r))
                .map_err(|e| unsupported(e.to_string()))?
                .regex
                .capture_names()
                .flatten()
                .map(String::from)
                .collect(),
        };
        for n in names {
            self.aliases.push((
                n.clone(),
                ColumnRef {
                    name: n,
                    kind: ColumnKind::Missing,
                },
            ));
        }
        Ok(())
    }
}

fn exists(c: &ColumnRef) -> Predicate {
    if c.kind == ColumnKind::Missing {
        Predicate::False
    } else {
        Predicate::Exists(c.clone())
    }
}

fn derived_ref(name: &str, expression: String, typed: Typed) -> Result<ColumnRef, QueryError> {
    let expanded_size = typed.expanded_size();
    if expanded_size > derived::EXPANDED_NODES_MAX {
        return Err(unsupported(format!(
            "{name} expands to {expanded_size} operations; at most {} are allowed",
            derived::EXPANDED_NODES_MAX
        )));
    }
    Ok(ColumnRef {
        name: name.to_string(),
        kind: ColumnKind::Derived(Arc::new(DerivedColumn {
            alias: name.to_string(),
            expression,
            expr: typed,
            expanded_size,
        })),
    })
}

fn format_of(c: &ColumnRef, name: &str) -> Format {
    match (&c.kind, name) {
        (ColumnKind::Timestamp, _) => Format::TimeNs,
        (_, "@ingestionTime") => Format::TimeMs,
        _ => Format::Plain,
    }
}

/// Compiles a parsed query.
pub fn compile(q: &Query, ctx: &InsightsContext<'_>) -> Result<CompiledQuery, QueryError> {
    let mut c = Compiler {
        ctx,
        aliases: Vec::new(),
        warnings: Vec::new(),
    };
    let mut filters = vec![Predicate::KindIn(vec![SignalKind::Log])];
    let dataset = match ctx.log_groups {
        [one] => Some(one.clone()),
        groups => {
            let col = ColumnRef {
                name: "@log".into(),
                kind: ColumnKind::Dataset,
            };
            filters.push(Predicate::In(
                Operand::Column(col),
                groups.iter().map(|g| Value::Str(g.clone())).collect(),
            ));
            None
        }
    };
    let mut projected: Vec<String> = Vec::new();
    let mut display: Option<Vec<String>> = None;
    let mut sort: Vec<(String, bool)> = Vec::new();
    let mut limit: Option<u32> = None;
    type Aggs<'q> = &'q [(Expr, Option<String>)];
    type Keys<'q> = &'q [(GroupKey, Option<String>)];
    let mut stats: Option<(Aggs<'_>, Keys<'_>)> = None;
    for cmd in &q.commands {
        let after_limit = limit.is_some();
        let name = print_command(cmd);
        let verb = name.split(' ').next().unwrap_or("");
        if after_limit && !matches!(cmd, Command::Display(_) | Command::Limit(_)) {
            return Err(unsupported(format!("'{verb}' after 'limit'")));
        }
        if stats.is_some()
            && !matches!(
                cmd,
                Command::Display(_) | Command::Limit(_) | Command::Sort(_)
            )
        {
            return Err(unsupported(format!("'{verb}' after 'stats'")));
        }
        match cmd {
            Command::Fields(ps) => {
                for (e, alias) in ps {
                    match (e, alias) {
                        (Expr::Field(n), None) => {
                            if !projected.contains(n) {
                                projected.push(n.clone());
                            }
                        }
                        (e, a) => {
                            let name = a.clone().unwrap_or_else(|| label(e));
                            let col = c.derived(e, &name)?;
                            c.aliases.push((name.clone(), col));
                            if !projected.contains(&name) {
                                projected.push(name);
                            }
                        }
                    }
                }
            }
            Command::Display(ns) => display = Some(ns.clone()),
            Command::Filter(e) => filters.push(c.predicate(e)?),
            Command::Parse {
                field,
                pattern,
                names,
            } => c.parse_command(field, pattern, names)?,
            Command::Sort(ks) => sort = ks.clone(),
            Command::Limit(n) => limit = Some(*n),
            Command::Stats { aggs, by } => stats = Some((aggs, by)),
            Command::Dedup(_) => return Err(unsupported("dedup")),
        }
    }
    let limit = limit
        .or(ctx.limit)
        .unwrap_or(INSIGHTS_LIMIT_DEFAULT)
        .min(INSIGHTS_LIMIT_MAX);
    let window_ns = ctx.end_ns.saturating_sub(ctx.start_ns).max(1);
    let mut plan = Plan {
        dataset,
        start_ns: ctx.start_ns,
        end_ns: ctx.end_ns,
        predicate: Predicate::and(filters),
        group_by: Vec::new(),
        aggregates: Vec::new(),
        havings: Vec::new(),
        orders: Vec::new(),
        limit,
        granularity_ns: window_ns,
        warnings: Vec::new(),
        uniform_weights: false,
    };
    let Some((aggs, by)) = stats else {
        let names = display.unwrap_or_else(|| {
            if projected.is_empty() {
                vec!["@timestamp".into(), "@message".into()]
            } else {
                projected
            }
        });
        let mut columns = Vec::new();
        let mut fields = Vec::new();
        for n in &names {
            let col = c.column(n);
            fields.push(OutField {
                name: n.clone(),
                format: format_of(&col, n),
            });
            columns.push(col);
        }
        let order = sort.iter().map(|(n, d)| (c.column(n), *d)).collect();
        plan.warnings = c.warnings;
        return Ok(CompiledQuery {
            plan,
            shape: Shape::Events(EventList { columns, order }),
            fields,
            row_limit: limit,
            reverse: false,
        });
    };
    // stats
    let mut bin: Option<(i64, String)> = None;
    let mut group_names = Vec::new();
    for (k, alias) in by {
        match k {
            GroupKey::Field(n) => {
                plan.group_by.push(c.column(n));
                group_names.push(alias.clone().unwrap_or_else(|| n.clone()));
            }
            GroupKey::Bin { ms, text } => {
                if bin.is_some() {
                    return Err(unsupported("more than one bin() in stats … by"));
                }
                bin = Some((
                    ms.saturating_mul(1_000_000),
                    alias.clone().unwrap_or_else(|| format!("bin({text})")),
                ));
            }
        }
    }
    let mut agg_names = Vec::new();
    for (e, alias) in aggs {
        let name = alias.clone().unwrap_or_else(|| label(e));
        let Expr::Call(f, args) = e else {
            return Err(unsupported(format!(
                "{} in stats (expected an aggregation such as count(*))",
                label(e)
            )));
        };
        let arg = |c: &mut Compiler<'_>, i: usize| -> Result<ColumnRef, QueryError> {
            match args.get(i) {
                Some(x) => c.operand_column(x),
                None => Err(unsupported(format!("{f}() without a field"))),
            }
        };
        let (op, column) = match (f.as_str(), args.as_slice()) {
            ("count", []) => (CalcOp::Count, None),
            ("count", [Expr::Field(s)]) if s == "*" => (CalcOp::Count, None),
            ("count", [x]) => {
                let present = call(
                    Func::If,
                    vec![
                        call(Func::Exists, vec![c.lower(x)?]),
                        lit(Value::Int(1)),
                        lit(Value::Int(0)),
                    ],
                );
                let typed = derived::compile(&present, &mut R(&mut c))
                    .map_err(|err| unsupported(err.message))?;
                (CalcOp::Sum, Some(derived_ref(&name, label(e), typed)?))
            }
            ("count_distinct", [_]) => (CalcOp::CountDistinct, Some(arg(&mut c, 0)?)),
            ("sum", [_]) => (CalcOp::Sum, Some(arg(&mut c, 0)?)),
            ("avg", [_]) => (CalcOp::Avg, Some(arg(&mut c, 0)?)),
            ("min", [_]) => (CalcOp::Min, Some(arg(&mut c, 0)?)),
            ("max", [_]) => (CalcOp::Max, Some(arg(&mut c, 0)?)),
            ("pct" | "percentile", [_, p]) => {
                let p = match p {
                    Expr::Num(p) => *p,
                    _ => return Err(unsupported("pct() with a non-number percentile")),
                };
                let op = pct_op(p).ok_or_else(|| {
                    unsupported(format!(
                        "pct(…, {p}): supported percentiles are 0.1, 1, 5, 10, 20, 25, 50, 75, 80, 90, 95, 99, 99.9"
                    ))
                })?;
                (op, Some(arg(&mut c, 0)?))
            }
            (other, _) => {
                return Err(unsupported(format!(
                    "{other}() with {} argument(s) in stats",
                    args.len()
                )))
            }
        };
        plan.aggregates.push(Aggregate {
            op,
            column,
            label: name.clone(),
        });
        agg_names.push(name);
    }
    let mut reverse = false;
    for (n, desc) in &sort {
        if let Some((_, b)) = &bin {
            if b == n {
                reverse = *desc;
                continue;
            }
        }
        let target = if let Some(i) = agg_names.iter().position(|a| a == n) {
            OrderTarget::Aggregate(i)
        } else if let Some(i) = group_names.iter().position(|g| g == n) {
            OrderTarget::Group(i)
        } else {
            return Err(unsupported(format!(
                "sort by {n}: after stats, sort names an aggregation or a 'by' field"
            )));
        };
        if bin.is_some() {
            return Err(unsupported(format!(
                "sort by {n} in a time series (sort by its bin instead)"
            )));
        }
        plan.orders.push(OrderKey {
            target,
            descending: *desc,
        });
    }
    let mut fields = Vec::new();
    let shape = match &bin {
        Some((width, name)) => {
            plan.granularity_ns = (*width).max(1);
            plan.limit = INSIGHTS_LIMIT_MAX;
            fields.push(OutField {
                name: name.clone(),
                format: Format::TimeNs,
            });
            Shape::Series
        }
        None => Shape::Totals,
    };
    for (i, n) in group_names.iter().enumerate() {
        fields.push(OutField {
            name: n.clone(),
            format: format_of(&plan.group_by[i], n),
        });
    }
    for n in agg_names {
        fields.push(OutField {
            name: n,
            format: Format::Plain,
        });
    }
    if let Some(d) = display {
        if d.iter().any(|n| !fields.iter().any(|f| f.name == *n)) {
            return Err(unsupported(
                "display after stats naming a field the stats do not produce",
            ));
        }
    }
    plan.warnings = c.warnings;
    Ok(CompiledQuery {
        plan,
        shape,
        fields,
        row_limit: limit,
        reverse,
    })
}

/// One `{field, value}` of a result row (GetQueryResults `ResultField`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResultField {
    pub field: String,
    pub value: String,
}

/// GetQueryResults `statistics`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Statistics {
    pub records_matched: f64,
    pub records_scanned: f64,
    pub bytes_scanned: f64,
}

/// `2024-01-02 03:04:05.678` (UTC, milliseconds), as Insights writes `@timestamp`.
pub fn insights_time(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns)
        .format("%Y-%m-%d %H:%M:%S%.3f")
        .to_string()
}

fn value_text(v: &Value, f: Format) -> String {
    match (v, f) {
        (Value::Int(ns), Format::TimeNs) => insights_time(*ns),
        (Value::Int(ms), Format::TimeMs) => insights_time(ms.saturating_mul(1_000_000)),
        (Value::Str(s), _) => s.clone(),
        (Value::Int(i), _) => i.to_string(),
        (Value::Float(x), _) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{}", *x as i64),
        (Value::Float(x), _) => crate::plan::format_double(*x),
        (Value::Bool(b), _) => b.to_string(),
    }
}

/// GetQueryResults `results` from the rows of the compiled query's shape: one list of
/// `{field, value}` per row, missing values left out (as Insights does), at most
/// `row_limit` rows.
pub fn insights_results(
    q: &CompiledQuery,
    rows: &[Row],
) -> Result<Vec<Vec<ResultField>>, ResultError> {
    let mut out = Vec::with_capacity(rows.len().min(q.row_limit as usize));
    let ordered: Box<dyn Iterator<Item = &Row>> = if q.reverse {
        Box::new(rows.iter().rev())
    } else {
        Box::new(rows.iter())
    };
    for (i, row) in ordered.enumerate() {
        if out.len() >= q.row_limit as usize {
            break;
        }
        if row.len() != q.fields.len() {
            return Err(ResultError::Width {
                row: i,
                got: row.len(),
                expected: q.fields.len(),
            });
        }
        out.push(
            q.fields
                .iter()
                .zip(row)
                .filter_map(|(f, v)| {
                    v.as_ref().map(|v| ResultField {
                        field: f.name.clone(),
                        value: value_text(v, f.format),
                    })
                })
                .collect(),
        );
    }
    Ok(out)
}

/// The two totals plans behind [`Statistics`]: events matched (one `COUNT`) and events
/// scanned in the queried log groups and window (`COUNT`, `SUM` of message bytes).
pub fn statistics_plans(q: &CompiledQuery, catalog: &Catalog) -> (Plan, Plan) {
    let mut matched = q.plan.clone();
    matched.group_by.clear();
    matched.havings.clear();
    matched.orders.clear();
    matched.limit = 1;
    matched.granularity_ns = matched.end_ns.saturating_sub(matched.start_ns).max(1);
    matched.aggregates = vec![Aggregate {
        op: CalcOp::Count,
        column: None,
        label: "recordsMatched".into(),
    }];
    let mut scanned = matched.clone();
    scanned.predicate = match &q.plan.predicate {
        Predicate::And(ps) => Predicate::and(
            ps.iter()
                .filter(|p| {
                    matches!(p, Predicate::KindIn(_))
                        || matches!(p, Predicate::In(Operand::Column(c), _) if c.kind == ColumnKind::Dataset)
                })
                .cloned()
                .collect(),
        ),
        p @ Predicate::KindIn(_) => p.clone(),
        _ => Predicate::KindIn(vec![SignalKind::Log]),
    };
    let body = resolve_column(BODY_FIELD, catalog, &mut Vec::new());
    let bytes = match body.kind {
        ColumnKind::Missing => None,
        _ => Some(Typed {
            ty: Ty::Int,
            node: Node::Length {
                bytes: true,
                arg: Box::new(typed_column(body)),
            },
        }),
    };
    scanned.aggregates.push(Aggregate {
        op: CalcOp::Sum,
        column: bytes.and_then(|t| derived_ref("bytesScanned", "strlen(@message)".into(), t).ok()),
        label: "bytesScanned".into(),
    });
    if scanned.aggregates[1].column.is_none() {
        scanned.aggregates.pop();
    }
    (matched, scanned)
}

/// [`Statistics`] from the totals rows of [`statistics_plans`].
pub fn statistics(matched: &[Row], scanned: &[Row]) -> Statistics {
    let num = |rows: &[Row], i: usize| {
        rows.first()
            .and_then(|r| r.get(i))
            .and_then(|v| v.as_ref())
            .and_then(Value::as_f64)
            .unwrap_or(0.0)
    };
    Statistics {
        records_matched: num(matched, 0),
        records_scanned: num(scanned, 0),
        bytes_scanned: num(scanned, 1),
    }
}

/// Nanoseconds from StartQuery's `startTime`/`endTime` (Unix seconds).
pub fn seconds_to_ns(s: i64) -> i64 {
    s.saturating_mul(NS_PER_S)
}
