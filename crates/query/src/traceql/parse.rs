//! TraceQL text → [`Query`]: a precedence-climbing parser over [`lexer`] tokens.
//!
//! Tempo's grammar (`pkg/traceql/expr.y`) gives one set of operators several meanings:
//! `>` compares numbers and also means "child of" between spansets, `(…)` groups field
//! expressions, constant arithmetic, spanset expressions, pipelines and metrics queries. So
//! the top level is parsed in two steps: a loose tree (`Term`) with the grammar's operator
//! precedence, then a classification of that tree into the grammar's roles (spanset
//! expression, pipeline, scalar filter, metrics query …), which reports anything the grammar
//! does not derive as a parse error at the offending term. Field expressions (inside `{ }`,
//! aggregates and `by( )`) are parsed directly.
//!
//! Precedence, loosest first (Tempo's `%left`/`%right` lines): `|`; `&&` `||` (one level,
//! left-associative: `a || b && c` is `(a || b) && c`, as in Tempo); comparisons and
//! structural operators; `+ -`; prefix `!`; `* / %`; `^` (right-associative). Prefix `-`
//! binds like `+ -` inside field expressions and tighter than everything in constant
//! arithmetic.

use super::ast::*;
use super::lexer::{self, ColonScope, Kw, Tok, Token};
use super::{Error, NESTING_MAX, NODES_MAX, QUERY_LEN_MAX};

/// Parses `text` without validating it (see [`super::validate()`]).
pub fn parse_syntax(text: &str) -> Result<Query, Error> {
    if text.len() > QUERY_LEN_MAX {
        return Err(Error::Parse {
            pos: QUERY_LEN_MAX,
            message: format!(
                "query is {} bytes long; at most {QUERY_LEN_MAX} are accepted",
                text.len()
            ),
        });
    }
    let toks = lexer::lex(text)?;
    let mut p = Parser {
        toks,
        i: 0,
        nodes: 0,
        depth: 0,
    };
    let term = p.pipe()?;
    let mut hints = Vec::new();
    while p.at(&Tok::Kw(Kw::With)) {
        p.bump();
        hints.extend(p.hints()?);
    }
    let t = p.peek().clone();
    if t.tok != Tok::Eof {
        return Err(unexpected(&t, "`|`, an operator or the end of the query"));
    }
    let root = root(&term)?;
    Ok(Query { root, hints })
}

fn err<T>(pos: usize, message: impl Into<String>) -> Result<T, Error> {
    Err(Error::Parse {
        pos,
        message: message.into(),
    })
}

fn unexpected(t: &Token, expected: &str) -> Error {
    Error::Parse {
        pos: t.loc.start,
        message: format!("unexpected {}, expecting {expected}", t.tok.describe()),
    }
}

// ---- The loose top-level tree ---------------------------------------------------------------

/// Binary operators of the top level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    And,
    Or,
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Desc,
    Ance,
    Sibl,
    NotChild,
    NotParent,
    NotDesc,
    NotAnce,
    NotSibl,
    UnionChild,
    UnionParent,
    UnionDesc,
    UnionAnce,
    UnionSibl,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
}

impl Op {
    fn from_tok(t: &Tok) -> Option<Op> {
        Some(match t {
            Tok::And => Op::And,
            Tok::Or => Op::Or,
            Tok::Eq => Op::Eq,
            Tok::Ne => Op::Ne,
            Tok::Gt => Op::Gt,
            Tok::Ge => Op::Ge,
            Tok::Lt => Op::Lt,
            Tok::Le => Op::Le,
            Tok::Desc => Op::Desc,
            Tok::Ance => Op::Ance,
            Tok::Sibl => Op::Sibl,
            Tok::NotChild => Op::NotChild,
            Tok::NotParent => Op::NotParent,
            Tok::NotDesc => Op::NotDesc,
            Tok::NotAnce => Op::NotAnce,
            Tok::NotRe => Op::NotSibl,
            Tok::UnionChild => Op::UnionChild,
            Tok::UnionParent => Op::UnionParent,
            Tok::UnionDesc => Op::UnionDesc,
            Tok::UnionAnce => Op::UnionAnce,
            Tok::UnionSibl => Op::UnionSibl,
            Tok::Add => Op::Add,
            Tok::Sub => Op::Sub,
            Tok::Mul => Op::Mul,
            Tok::Div => Op::Div,
            Tok::Mod => Op::Mod,
            Tok::Pow => Op::Pow,
            _ => return None,
        })
    }

    /// (left, right) binding power.
    fn bp(self) -> (u8, u8) {
        match self {
            Op::And | Op::Or => (2, 3),
            Op::Add | Op::Sub => (6, 7),
            Op::Mul | Op::Div | Op::Mod => (8, 9),
            Op::Pow => (10, 10),
            _ => (4, 5),
        }
    }

    fn spanset(self) -> Option<SpansetOp> {
        Some(match self {
            Op::And => SpansetOp::And,
            Op::Or => SpansetOp::Union,
            Op::Gt => SpansetOp::Child,
            Op::Lt => SpansetOp::Parent,
            Op::Desc => SpansetOp::Descendant,
            Op::Ance => SpansetOp::Ancestor,
            Op::Sibl => SpansetOp::Sibling,
            Op::NotChild => SpansetOp::NotChild,
            Op::NotParent => SpansetOp::NotParent,
            Op::NotDesc => SpansetOp::NotDescendant,
            Op::NotAnce => SpansetOp::NotAncestor,
            Op::NotSibl => SpansetOp::NotSibling,
            Op::UnionChild => SpansetOp::UnionChild,
            Op::UnionParent => SpansetOp::UnionParent,
            Op::UnionDesc => SpansetOp::UnionDescendant,
            Op::UnionAnce => SpansetOp::UnionAncestor,
            Op::UnionSibl => SpansetOp::UnionSibling,
            _ => return None,
        })
    }

    fn cmp(self) -> Option<CmpOp> {
        Some(match self {
            Op::Eq => CmpOp::Eq,
            Op::Ne => CmpOp::Ne,
            Op::Gt => CmpOp::Gt,
            Op::Ge => CmpOp::Ge,
            Op::Lt => CmpOp::Lt,
            Op::Le => CmpOp::Le,
            _ => return None,
        })
    }

    fn arith(self) -> Option<ArithOp> {
        Some(match self {
            Op::Add => ArithOp::Add,
            Op::Sub => ArithOp::Sub,
            Op::Mul => ArithOp::Mul,
            Op::Div => ArithOp::Div,
            Op::Mod => ArithOp::Mod,
            Op::Pow => ArithOp::Pow,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Ge => ">=",
            Op::Le => "<=",
            o => match (o.spanset(), o.arith()) {
                (Some(s), _) => s.as_str(),
                (_, Some(a)) => a.as_str(),
                _ => "?",
            },
        }
    }
}

/// A top-level expression before classification.
#[derive(Debug, Clone)]
enum Term {
    Filter(Filter),
    Aggregate(Aggregate),
    /// An integer, float or duration literal.
    Number(Static, Loc),
    Metrics(MetricsAggregate),
    /// `topk(n)` / `bottomk(n)`.
    Second(SecondStage),
    By(Field, Loc),
    Coalesce(Loc),
    Select(Vec<AttrRef>, Loc),
    Paren(Box<Term>, Loc),
    Neg(Box<Term>, Loc),
    Binary {
        op: Op,
        op_loc: Loc,
        lhs: Box<Term>,
        rhs: Box<Term>,
        loc: Loc,
    },
    Pipe(Vec<Term>, Loc),
}

impl Term {
    fn loc(&self) -> Loc {
        match self {
            Term::Filter(f) => f.loc,
            Term::Aggregate(a) => a.loc,
            Term::Metrics(m) => m.loc,
            Term::Second(
                SecondStage::TopK { loc, .. }
                | SecondStage::BottomK { loc, .. }
                | SecondStage::Filter { loc, .. },
            ) => *loc,
            Term::Number(_, loc)
            | Term::By(_, loc)
            | Term::Coalesce(loc)
            | Term::Select(_, loc)
            | Term::Paren(_, loc)
            | Term::Neg(_, loc)
            | Term::Binary { loc, .. }
            | Term::Pipe(_, loc) => *loc,
        }
    }

    fn describe(&self) -> String {
        match self {
            Term::Filter(_) => "a spanset filter".into(),
            Term::Aggregate(a) => format!("`{}()`", a.op.as_str()),
            Term::Number(..) => "a number".into(),
            Term::Metrics(m) => format!("`{}()`", m.func.name()),
            Term::Second(SecondStage::BottomK { .. }) => "`bottomk()`".into(),
            Term::Second(_) => "`topk()`".into(),
            Term::By(..) => "`by()`".into(),
            Term::Coalesce(_) => "`coalesce()`".into(),
            Term::Select(..) => "`select()`".into(),
            Term::Paren(..) => "a parenthesized expression".into(),
            Term::Neg(..) => "a negated expression".into(),
            Term::Binary { op, .. } => format!("an expression with `{}`", op.as_str()),
            Term::Pipe(..) => "a pipeline".into(),
        }
    }
}

fn field(kind: FieldKind, loc: Loc) -> Field {
    Field { kind, loc }
}

// ---- Parser ---------------------------------------------------------------------------------

struct Parser {
    toks: Vec<Token>,
    i: usize,
    /// Nodes built so far (bounds the tree's size, see [`NODES_MAX`]).
    nodes: usize,
    /// Current recursion depth (see [`NESTING_MAX`]).
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        // The lexer always ends with Eof and `bump` never moves past it.
        &self.toks[self.i.min(self.toks.len() - 1)]
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if t.tok != Tok::Eof {
            self.i += 1;
        }
        t
    }

    fn at(&self, t: &Tok) -> bool {
        self.peek().tok == *t
    }

    fn eat(&mut self, t: &Tok) -> Option<Token> {
        if self.at(t) {
            Some(self.bump())
        } else {
            None
        }
    }

    fn expect(&mut self, t: &Tok, what: &str) -> Result<Token, Error> {
        match self.eat(t) {
            Some(t) => Ok(t),
            None => Err(unexpected(self.peek(), what)),
        }
    }

    fn node(&mut self, pos: usize) -> Result<(), Error> {
        self.nodes += 1;
        if self.nodes > NODES_MAX {
            return err(
                pos,
                format!("query has more than {NODES_MAX} operators and operands"),
            );
        }
        Ok(())
    }

    fn enter(&mut self) -> Result<(), Error> {
        self.depth += 1;
        if self.depth > NESTING_MAX {
            return err(
                self.peek().loc.start,
                format!("query nests deeper than {NESTING_MAX} levels"),
            );
        }
        Ok(())
    }

    // ---- top level

    fn pipe(&mut self) -> Result<Term, Error> {
        let first = self.binary(0)?;
        if !self.at(&Tok::Pipe) {
            return Ok(first);
        }
        let start = first.loc().start;
        let mut elems = vec![first];
        while let Some(t) = self.eat(&Tok::Pipe) {
            self.node(t.loc.start)?;
            elems.push(self.binary(0)?);
        }
        let end = elems.last().map_or(start, |e| e.loc().end);
        Ok(Term::Pipe(elems, Loc::new(start, end)))
    }

    fn binary(&mut self, min_bp: u8) -> Result<Term, Error> {
        self.enter()?;
        let r = self.binary_inner(min_bp);
        self.depth -= 1;
        r
    }

    fn binary_inner(&mut self, min_bp: u8) -> Result<Term, Error> {
        let mut lhs = self.prefix()?;
        loop {
            let t = self.peek().clone();
            let Some(op) = Op::from_tok(&t.tok) else {
                break;
            };
            let (lbp, rbp) = op.bp();
            if lbp < min_bp {
                break;
            }
            self.bump();
            self.node(t.loc.start)?;
            let rhs = self.binary(rbp)?;
            let loc = lhs.loc().to(rhs.loc());
            lhs = Term::Binary {
                op,
                op_loc: t.loc,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
                loc,
            };
        }
        Ok(lhs)
    }

    fn prefix(&mut self) -> Result<Term, Error> {
        self.enter()?;
        let r = self.prefix_inner();
        self.depth -= 1;
        r
    }

    fn prefix_inner(&mut self) -> Result<Term, Error> {
        let t = self.bump();
        self.node(t.loc.start)?;
        let s = t.loc.start;
        Ok(match t.tok {
            Tok::LBrace => Term::Filter(self.filter_rest(s)?),
            Tok::LParen => {
                let inner = self.pipe()?;
                let close = self.expect(&Tok::RParen, "`)`")?;
                Term::Paren(Box::new(inner), Loc::new(s, close.loc.end))
            }
            Tok::Int(i) => Term::Number(Static::Int(i), t.loc),
            Tok::Float(f) => Term::Number(Static::Float(f), t.loc),
            Tok::Duration(d) => Term::Number(Static::Duration(d), t.loc),
            Tok::Sub => {
                let operand = self.prefix()?;
                let loc = Loc::new(s, operand.loc().end);
                Term::Neg(Box::new(operand), loc)
            }
            Tok::Kw(k) => self.keyword(k, t.loc)?,
            _ => {
                return Err(unexpected(
                    &t,
                    "a spanset filter `{ … }`, an aggregate such as `count()`, `by()`, `select()` or `(`",
                ))
            }
        })
    }

    fn open(&mut self, name: &str) -> Result<(), Error> {
        self.expect(&Tok::LParen, &format!("`(` after `{name}`"))
            .map(|_| ())
    }

    fn close(&mut self) -> Result<usize, Error> {
        Ok(self.expect(&Tok::RParen, "`)`")?.loc.end)
    }

    fn keyword(&mut self, k: Kw, at: Loc) -> Result<Term, Error> {
        let s = at.start;
        let name = k.as_str();
        let aggregate = |op| -> Option<AggregateOp> {
            match op {
                Kw::Avg => Some(AggregateOp::Avg),
                Kw::Max => Some(AggregateOp::Max),
                Kw::Min => Some(AggregateOp::Min),
                Kw::Sum => Some(AggregateOp::Sum),
                _ => None,
            }
        };
        Ok(match k {
            Kw::Count => {
                self.open(name)?;
                let end = self.close()?;
                Term::Aggregate(Aggregate {
                    op: AggregateOp::Count,
                    field: None,
                    loc: Loc::new(s, end),
                })
            }
            Kw::Avg | Kw::Max | Kw::Min | Kw::Sum => {
                self.open(name)?;
                let f = self.field(0)?;
                let end = self.close()?;
                Term::Aggregate(Aggregate {
                    op: aggregate(k).unwrap_or(AggregateOp::Count),
                    field: Some(f),
                    loc: Loc::new(s, end),
                })
            }
            Kw::By => {
                self.open(name)?;
                let f = self.field(0)?;
                let end = self.close()?;
                Term::By(f, Loc::new(s, end))
            }
            Kw::Coalesce => {
                self.open(name)?;
                let end = self.close()?;
                Term::Coalesce(Loc::new(s, end))
            }
            Kw::Select => {
                self.open(name)?;
                let attrs = self.attr_list()?;
                let end = self.close()?;
                Term::Select(attrs, Loc::new(s, end))
            }
            Kw::Rate | Kw::CountOverTime => {
                self.open(name)?;
                let end = self.close()?;
                let func = if k == Kw::Rate {
                    MetricsFunc::Rate
                } else {
                    MetricsFunc::CountOverTime
                };
                self.metrics_by(func, s, end)?
            }
            Kw::MinOverTime
            | Kw::MaxOverTime
            | Kw::AvgOverTime
            | Kw::SumOverTime
            | Kw::HistogramOverTime => {
                self.open(name)?;
                let (a, _) = self.attr_ref()?;
                let end = self.close()?;
                let func = match k {
                    Kw::MinOverTime => MetricsFunc::MinOverTime(a),
                    Kw::MaxOverTime => MetricsFunc::MaxOverTime(a),
                    Kw::AvgOverTime => MetricsFunc::AvgOverTime(a),
                    Kw::SumOverTime => MetricsFunc::SumOverTime(a),
                    _ => MetricsFunc::HistogramOverTime(a),
                };
                self.metrics_by(func, s, end)?
            }
            Kw::QuantileOverTime => {
                self.open(name)?;
                let (a, _) = self.attr_ref()?;
                self.expect(&Tok::Comma, "`,` and the quantiles")?;
                let mut qs = vec![self.number()?];
                while self.eat(&Tok::Comma).is_some() {
                    qs.push(self.number()?);
                }
                let end = self.close()?;
                self.metrics_by(MetricsFunc::QuantileOverTime(a, qs), s, end)?
            }
            Kw::Compare => {
                self.open(name)?;
                let brace = self.expect(&Tok::LBrace, "a spanset filter `{ … }`")?;
                let filter = self.filter_rest(brace.loc.start)?;
                let mut ints = Vec::new();
                while self.eat(&Tok::Comma).is_some() {
                    ints.push(self.integer()?);
                }
                let (top_n, start, end) = match ints[..] {
                    [] => (10, 0, 0),
                    [n] => (n, 0, 0),
                    [n, a, b] => (n, a, b),
                    _ => {
                        return err(
                            s,
                            "compare() takes a filter, then optionally a top number, then optionally a start and an end timestamp",
                        )
                    }
                };
                let close = self.close()?;
                Term::Metrics(MetricsAggregate {
                    func: MetricsFunc::Compare {
                        filter,
                        top_n,
                        start,
                        end,
                    },
                    by: Vec::new(),
                    loc: Loc::new(s, close),
                })
            }
            Kw::TopK | Kw::BottomK => {
                self.open(name)?;
                let limit = self.integer()?;
                let end = self.close()?;
                let loc = Loc::new(s, end);
                Term::Second(if k == Kw::TopK {
                    SecondStage::TopK { limit, loc }
                } else {
                    SecondStage::BottomK { limit, loc }
                })
            }
            _ => {
                return err(
                    s,
                    format!(
                        "unexpected `{name}`, expecting a spanset filter `{{ … }}`, an aggregate such as `count()`, `by()`, `select()` or `(`"
                    ),
                )
            }
        })
    }

    /// An optional `by (attr, …)` after a metrics function.
    fn metrics_by(&mut self, func: MetricsFunc, s: usize, end: usize) -> Result<Term, Error> {
        let mut by = Vec::new();
        let mut end = end;
        if self.eat(&Tok::Kw(Kw::By)).is_some() {
            self.open("by")?;
            by = self.attr_list()?;
            end = self.close()?;
        }
        Ok(Term::Metrics(MetricsAggregate {
            func,
            by,
            loc: Loc::new(s, end),
        }))
    }

    fn integer(&mut self) -> Result<i64, Error> {
        let t = self.bump();
        match t.tok {
            Tok::Int(i) => Ok(i),
            _ => Err(unexpected(&t, "an integer")),
        }
    }

    fn number(&mut self) -> Result<f64, Error> {
        let t = self.bump();
        match t.tok {
            Tok::Int(i) => Ok(i as f64),
            Tok::Float(f) => Ok(f),
            _ => Err(unexpected(&t, "a number")),
        }
    }

    fn attr_list(&mut self) -> Result<Vec<AttrRef>, Error> {
        let mut out = vec![self.attr_ref()?.0];
        while self.eat(&Tok::Comma).is_some() {
            out.push(self.attr_ref()?.0);
        }
        Ok(out)
    }

    /// An intrinsic, scoped intrinsic or attribute.
    fn attr_ref(&mut self) -> Result<(AttrRef, Loc), Error> {
        let t = self.bump();
        match t.tok {
            Tok::Attr(a) => Ok((AttrRef::Attribute(a), t.loc)),
            Tok::Kw(k) => match bare_intrinsic(k) {
                Some(i) => Ok((AttrRef::Intrinsic(i), t.loc)),
                None => Err(unexpected(&t, "an attribute or intrinsic")),
            },
            Tok::Scope(scope) => {
                let (i, end) = self.scoped_intrinsic(scope, t.loc)?;
                Ok((AttrRef::Intrinsic(i), Loc::new(t.loc.start, end)))
            }
            _ => Err(unexpected(&t, "an attribute or intrinsic")),
        }
    }

    fn scoped_intrinsic(
        &mut self,
        scope: ColonScope,
        at: Loc,
    ) -> Result<(Intrinsic, usize), Error> {
        let t = self.bump();
        let found = match t.tok {
            Tok::Kw(k) => scoped_intrinsic(scope, k),
            _ => None,
        };
        match found {
            Some(i) => Ok((i, t.loc.end)),
            None => err(
                at.start,
                format!(
                    "unknown intrinsic after `{}`; it takes {}",
                    scope.as_str(),
                    scoped_intrinsic_names(scope)
                ),
            ),
        }
    }

    /// After `{`: `}` or a field expression and `}`.
    fn filter_rest(&mut self, start: usize) -> Result<Filter, Error> {
        if let Some(close) = self.eat(&Tok::RBrace) {
            let loc = Loc::new(start, close.loc.end);
            return Ok(Filter {
                expr: field(FieldKind::Static(Static::Bool(true)), loc),
                loc,
            });
        }
        let expr = self.field(0)?;
        let close = self.expect(&Tok::RBrace, "`}` or an operator")?;
        Ok(Filter {
            expr,
            loc: Loc::new(start, close.loc.end),
        })
    }

    fn hints(&mut self) -> Result<Vec<Hint>, Error> {
        self.open("with")?;
        let mut out = vec![self.hint()?];
        while self.eat(&Tok::Comma).is_some() {
            out.push(self.hint()?);
        }
        self.close()?;
        Ok(out)
    }

    fn hint(&mut self) -> Result<Hint, Error> {
        let t = self.bump();
        let Tok::Ident(name) = t.tok else {
            return Err(unexpected(&t, "a hint name such as `sample`"));
        };
        self.expect(&Tok::Eq, "`=`")?;
        let v = self.bump();
        let value = static_of_token(&v.tok)
            .ok_or_else(|| unexpected(&v, "a literal value for the hint"))?;
        Ok(Hint {
            name,
            value,
            loc: t.loc.to(v.loc),
        })
    }

    // ---- field expressions

    fn field(&mut self, min_bp: u8) -> Result<Field, Error> {
        self.enter()?;
        let r = self.field_inner(min_bp);
        self.depth -= 1;
        r
    }

    fn field_inner(&mut self, min_bp: u8) -> Result<Field, Error> {
        let mut lhs = self.field_prefix()?;
        loop {
            let t = self.peek().clone();
            let Some(op) = field_binop(&t.tok) else {
                break;
            };
            let (lbp, rbp) = field_bp(op);
            if lbp < min_bp {
                break;
            }
            self.bump();
            self.node(t.loc.start)?;
            if matches!(op, BinOp::Eq | BinOp::Ne) {
                if let Some(nil) = self.eat(&Tok::Kw(Kw::Nil)) {
                    let op = if op == BinOp::Eq {
                        UnaryOp::NotExists
                    } else {
                        UnaryOp::Exists
                    };
                    let loc = lhs.loc.to(nil.loc);
                    lhs = field(
                        FieldKind::Unary {
                            op,
                            operand: Box::new(lhs),
                        },
                        loc,
                    );
                    continue;
                }
            }
            let rhs = self.field(rbp)?;
            let loc = lhs.loc.to(rhs.loc);
            lhs = field(
                FieldKind::Binary {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
                loc,
            );
        }
        Ok(lhs)
    }

    fn field_prefix(&mut self) -> Result<Field, Error> {
        self.enter()?;
        let r = self.field_prefix_inner();
        self.depth -= 1;
        r
    }

    fn field_prefix_inner(&mut self) -> Result<Field, Error> {
        let t = self.bump();
        self.node(t.loc.start)?;
        let s = t.loc.start;
        if let Some(v) = static_of_token(&t.tok) {
            return Ok(field(FieldKind::Static(v), t.loc));
        }
        Ok(match t.tok {
            Tok::LParen => {
                let inner = self.field(0)?;
                let end = self.close()?;
                field(inner.kind, Loc::new(s, end))
            }
            Tok::Ident(w) => {
                return err(
                    s,
                    format!(
                        "unknown identifier `{w}` (attributes start with `.`, `span.` or `resource.`, as in `.{w}`)"
                    ),
                )
            }
            Tok::Kw(Kw::Nil) => {
                let op_t = self.bump();
                let op = match op_t.tok {
                    Tok::Eq => UnaryOp::NotExists,
                    Tok::Ne => UnaryOp::Exists,
                    _ => return Err(unexpected(&op_t, "`=` or `!=` after `nil`")),
                };
                if let Some(nil) = self.eat(&Tok::Kw(Kw::Nil)) {
                    // Tempo: `nil = nil` and `nil != nil` are both false.
                    return Ok(field(
                        FieldKind::Static(Static::Bool(false)),
                        Loc::new(s, nil.loc.end),
                    ));
                }
                let operand = self.field(6)?;
                let loc = Loc::new(s, operand.loc.end);
                field(
                    FieldKind::Unary {
                        op,
                        operand: Box::new(operand),
                    },
                    loc,
                )
            }
            Tok::Kw(k) => match bare_intrinsic(k) {
                Some(i) => field(FieldKind::Attr(AttrRef::Intrinsic(i)), t.loc),
                None => {
                    return Err(unexpected(
                        &t,
                        "a value, an attribute such as `.name` or an intrinsic",
                    ))
                }
            },
            Tok::Scope(scope) => {
                let (i, end) = self.scoped_intrinsic(scope, t.loc)?;
                field(FieldKind::Attr(AttrRef::Intrinsic(i)), Loc::new(s, end))
            }
            Tok::Attr(a) => field(FieldKind::Attr(AttrRef::Attribute(a)), t.loc),
            Tok::Sub | Tok::Not => {
                let operand = self.field(8)?;
                let op = if t.tok == Tok::Sub {
                    UnaryOp::Neg
                } else {
                    UnaryOp::Not
                };
                let loc = Loc::new(s, operand.loc.end);
                field(
                    FieldKind::Unary {
                        op,
                        operand: Box::new(operand),
                    },
                    loc,
                )
            }
            _ => {
                return Err(unexpected(
                    &t,
                    "a value, an attribute such as `.name` or an intrinsic",
                ))
            }
        })
    }
}

fn field_binop(t: &Tok) -> Option<BinOp> {
    Some(match t {
        Tok::Add => BinOp::Add,
        Tok::Sub => BinOp::Sub,
        Tok::Mul => BinOp::Mul,
        Tok::Div => BinOp::Div,
        Tok::Mod => BinOp::Mod,
        Tok::Pow => BinOp::Pow,
        Tok::Eq => BinOp::Eq,
        Tok::Ne => BinOp::Ne,
        Tok::Lt => BinOp::Lt,
        Tok::Le => BinOp::Le,
        Tok::Gt => BinOp::Gt,
        Tok::Ge => BinOp::Ge,
        Tok::Re => BinOp::Regex,
        Tok::NotRe => BinOp::NotRegex,
        Tok::And => BinOp::And,
        Tok::Or => BinOp::Or,
        _ => return None,
    })
}

/// Binding powers inside field expressions; prefix `!` and `-` take operands at 8.
fn field_bp(op: BinOp) -> (u8, u8) {
    match op {
        BinOp::And | BinOp::Or => (2, 3),
        BinOp::Add | BinOp::Sub => (6, 7),
        BinOp::Mul | BinOp::Div | BinOp::Mod => (8, 9),
        BinOp::Pow => (10, 10),
        _ => (4, 5),
    }
}

/// Literal tokens (Tempo's `static` rule, with `minInt` / `maxInt`).
fn static_of_token(t: &Tok) -> Option<Static> {
    Some(match t {
        Tok::Str(s) => Static::Str(s.clone()),
        Tok::Int(i) => Static::Int(*i),
        Tok::Float(f) => Static::Float(*f),
        Tok::Duration(d) => Static::Duration(*d),
        Tok::Ident(w) if w == "minInt" => Static::Int(i64::MIN),
        Tok::Ident(w) if w == "maxInt" => Static::Int(i64::MAX),
        Tok::Kw(k) => match k {
            Kw::True => Static::Bool(true),
            Kw::False => Static::Bool(false),
            Kw::Ok => Static::Status(Status::Ok),
            Kw::Error => Static::Status(Status::Error),
            Kw::Unset => Static::Status(Status::Unset),
            Kw::Unspecified => Static::Kind(Kind::Unspecified),
            Kw::Internal => Static::Kind(Kind::Internal),
            Kw::Server => Static::Kind(Kind::Server),
            Kw::Client => Static::Kind(Kind::Client),
            Kw::Producer => Static::Kind(Kind::Producer),
            Kw::Consumer => Static::Kind(Kind::Consumer),
            _ => return None,
        },
        _ => return None,
    })
}

/// Intrinsics written without a scope (Tempo's `intrinsicField`).
fn bare_intrinsic(k: Kw) -> Option<Intrinsic> {
    Some(match k {
        Kw::Duration => Intrinsic::Duration,
        Kw::Name => Intrinsic::Name,
        Kw::Status => Intrinsic::Status,
        Kw::StatusMessage => Intrinsic::StatusMessage,
        Kw::Kind => Intrinsic::Kind,
        Kw::Parent => Intrinsic::Parent,
        Kw::RootName => Intrinsic::TraceRootSpan,
        Kw::RootServiceName => Intrinsic::TraceRootService,
        Kw::TraceDuration => Intrinsic::TraceDuration,
        Kw::NestedSetLeft => Intrinsic::NestedSetLeft,
        Kw::NestedSetRight => Intrinsic::NestedSetRight,
        Kw::NestedSetParent => Intrinsic::NestedSetParent,
        _ => return None,
    })
}

/// `scope:name` intrinsics (Tempo's `scopedIntrinsicField`).
const SCOPED_INTRINSICS: &[(ColonScope, Kw, Intrinsic)] = &[
    (ColonScope::Trace, Kw::Duration, Intrinsic::TraceDuration),
    (ColonScope::Trace, Kw::RootName, Intrinsic::TraceRootSpan),
    (
        ColonScope::Trace,
        Kw::RootService,
        Intrinsic::TraceRootService,
    ),
    (ColonScope::Trace, Kw::Id, Intrinsic::TraceId),
    (ColonScope::Span, Kw::Duration, Intrinsic::Duration),
    (ColonScope::Span, Kw::Name, Intrinsic::Name),
    (ColonScope::Span, Kw::Kind, Intrinsic::Kind),
    (ColonScope::Span, Kw::Status, Intrinsic::Status),
    (
        ColonScope::Span,
        Kw::StatusMessage,
        Intrinsic::StatusMessage,
    ),
    (ColonScope::Span, Kw::Id, Intrinsic::SpanId),
    (ColonScope::Span, Kw::ParentId, Intrinsic::ParentId),
    (ColonScope::Span, Kw::ChildCount, Intrinsic::ChildCount),
    (ColonScope::Event, Kw::Name, Intrinsic::EventName),
    (
        ColonScope::Event,
        Kw::TimeSinceStart,
        Intrinsic::EventTimeSinceStart,
    ),
    (ColonScope::Link, Kw::TraceId, Intrinsic::LinkTraceId),
    (ColonScope::Link, Kw::SpanId, Intrinsic::LinkSpanId),
    (
        ColonScope::Instrumentation,
        Kw::Name,
        Intrinsic::InstrumentationName,
    ),
    (
        ColonScope::Instrumentation,
        Kw::Version,
        Intrinsic::InstrumentationVersion,
    ),
];

fn scoped_intrinsic(scope: ColonScope, k: Kw) -> Option<Intrinsic> {
    SCOPED_INTRINSICS
        .iter()
        .find(|(s, kw, _)| *s == scope && *kw == k)
        .map(|(_, _, i)| *i)
}

fn scoped_intrinsic_names(scope: ColonScope) -> String {
    let names: Vec<&str> = SCOPED_INTRINSICS
        .iter()
        .filter(|(s, _, _)| *s == scope)
        .map(|(_, k, _)| k.as_str())
        .collect();
    names.join(", ")
}

// ---- Classification -------------------------------------------------------------------------

fn root(t: &Term) -> Result<RootExpr, Error> {
    if contains_metrics(t) {
        Ok(RootExpr::Metrics(metrics_root(t)?))
    } else {
        Ok(RootExpr::Spans(spans_root(t)?))
    }
}

fn single_stage(stage: Stage, loc: Loc) -> SpansetExpr {
    SpansetExpr::Pipeline(Pipeline {
        stages: vec![stage],
        loc,
    })
}

fn spans_root(t: &Term) -> Result<SpansetExpr, Error> {
    if let Term::Pipe(elems, loc) = t {
        return Ok(SpansetExpr::Pipeline(pipeline(elems, *loc)?));
    }
    // `(… | count()) > 3`: a comparison of scalar pipelines.
    if let Term::Binary {
        op, lhs, rhs, loc, ..
    } = t
    {
        if let Some(cmp) = op.cmp() {
            if has_scalar_pipeline(lhs) {
                let f = scalar_pipeline_filter(cmp, lhs, rhs, *loc)?;
                return Ok(single_stage(Stage::ScalarFilter(Box::new(f)), *loc));
            }
        }
    }
    // `(…|…) && (…|…)`: spanset operators between parenthesized pipelines.
    if contains_wrapped_pipe(t) {
        return spanset_pipeline_expr(t);
    }
    match stage(t, true) {
        Ok(s) => Ok(single_stage(s, t.loc())),
        // `(count() > 1) && ({ })`: a parenthesized one-stage pipeline.
        Err(e) => match t {
            Term::Paren(..) => spanset_pipeline_expr(t).map_err(|_| e),
            Term::Binary { op, .. } if op.spanset().is_some() => {
                spanset_pipeline_expr(t).map_err(|_| e)
            }
            _ => Err(e),
        },
    }
}

fn pipeline(elems: &[Term], loc: Loc) -> Result<Pipeline, Error> {
    let mut stages = Vec::with_capacity(elems.len());
    for (i, e) in elems.iter().enumerate() {
        stages.push(stage(e, i == 0)?);
    }
    Ok(Pipeline { stages, loc })
}

fn span_of(elems: &[Term]) -> Loc {
    match (elems.first(), elems.last()) {
        (Some(a), Some(b)) => a.loc().to(b.loc()),
        _ => Loc::default(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Head {
    Spanset,
    Scalar,
    Other,
}

/// What a term starts with, looking through parentheses and operators.
fn head(t: &Term) -> Head {
    match t {
        Term::Filter(_) => Head::Spanset,
        Term::Aggregate(_) | Term::Number(..) | Term::Neg(..) => Head::Scalar,
        Term::Paren(x, _) => head(x),
        Term::Binary { lhs, rhs, .. } => match head(lhs) {
            Head::Other => head(rhs),
            h => h,
        },
        _ => Head::Other,
    }
}

fn stage(t: &Term, first: bool) -> Result<Stage, Error> {
    match t {
        Term::Filter(f) => Ok(Stage::Spanset(SpansetExpr::Filter(f.clone()))),
        Term::By(e, loc) => Ok(Stage::By {
            expr: e.clone(),
            loc: *loc,
        }),
        Term::Select(attrs, loc) => Ok(Stage::Select {
            attrs: attrs.clone(),
            loc: *loc,
        }),
        Term::Coalesce(loc) if first => err(loc.start, "a pipeline cannot start with coalesce()"),
        Term::Coalesce(loc) => Ok(Stage::Coalesce { loc: *loc }),
        Term::Aggregate(a) => err(
            a.loc.start,
            format!(
                "`{0}()` must be compared with a number here, as in `| {0}() > 1`",
                a.op.as_str()
            ),
        ),
        Term::Binary {
            op,
            op_loc,
            lhs,
            rhs,
            loc,
        } => {
            let scalarish = head(lhs) == Head::Scalar || head(rhs) == Head::Scalar;
            match (op.cmp(), op.spanset()) {
                (Some(_), None) if !scalarish && head(lhs) == Head::Spanset => err(
                    op_loc.start,
                    format!(
                        "`{}` does not combine spansets; use `&&`, `||` or a structural operator such as `>>`",
                        op.as_str()
                    ),
                ),
                (Some(cmp), None) => scalar_filter(cmp, lhs, rhs, *loc).map(|f| Stage::ScalarFilter(Box::new(f))),
                (Some(cmp), Some(_)) if scalarish => {
                    scalar_filter(cmp, lhs, rhs, *loc).map(|f| Stage::ScalarFilter(Box::new(f)))
                }
                (_, Some(_)) => spanset_expr(t).map(Stage::Spanset),
                (None, None) if contains_aggregate(t) => err(
                    op_loc.start,
                    format!(
                        "arithmetic on aggregates must be compared with a number, as in `count() {} 1 > 3`",
                        op.as_str()
                    ),
                ),
                (None, None) if scalarish => err(
                    op_loc.start,
                    format!(
                        "`{}` between {} and {} is not a query",
                        op.as_str(),
                        lhs.describe(),
                        rhs.describe()
                    ),
                ),
                (None, None) => err(
                    op_loc.start,
                    format!("`{}` does not combine spansets", op.as_str()),
                ),
            }
        }
        Term::Paren(..) => spanset_expr(t).map(Stage::Spanset),
        Term::Number(_, loc) | Term::Neg(_, loc) => {
            err(loc.start, "a number alone is not a pipeline stage")
        }
        Term::Metrics(m) => err(
            m.loc.start,
            format!(
                "`{}()` must follow a spanset pipeline, as in `{{ }} | {}()`",
                m.func.name(),
                m.func.name()
            ),
        ),
        Term::Second(_) => err(
            t.loc().start,
            "topk() and bottomk() must follow a metrics function such as `rate()`",
        ),
        Term::Pipe(_, loc) => err(loc.start, "unexpected pipeline"),
    }
}

/// Filters combined with spanset operators (Tempo's `spansetExpression`).
fn spanset_expr(t: &Term) -> Result<SpansetExpr, Error> {
    match t {
        Term::Filter(f) => Ok(SpansetExpr::Filter(f.clone())),
        Term::Paren(x, _) => spanset_expr(x),
        Term::Binary {
            op,
            op_loc,
            lhs,
            rhs,
            loc,
        } => match op.spanset() {
            Some(sop) => Ok(SpansetExpr::Op {
                op: sop,
                lhs: Box::new(spanset_expr(lhs)?),
                rhs: Box::new(spanset_expr(rhs)?),
                loc: *loc,
            }),
            None => err(
                op_loc.start,
                format!(
                    "`{}` does not combine spansets; use `&&`, `||` or a structural operator such as `>>`",
                    op.as_str()
                ),
            ),
        },
        Term::Pipe(_, loc) => err(
            loc.start,
            "a pipeline in parentheses combines only with other pipelines in parentheses, as in `({ } | count() > 1) && ({ } | …)`",
        ),
        other => err(
            other.loc().start,
            format!(
                "expected a spanset filter `{{ … }}`, found {}",
                other.describe()
            ),
        ),
    }
}

/// Parenthesized pipelines combined with spanset operators (`spansetPipelineExpression`).
fn spanset_pipeline_expr(t: &Term) -> Result<SpansetExpr, Error> {
    match t {
        Term::Paren(x, _) => {
            if let Term::Pipe(elems, loc) = &**x {
                return Ok(SpansetExpr::Pipeline(pipeline(elems, *loc)?));
            }
            if contains_wrapped_pipe(x) {
                return spanset_pipeline_expr(x);
            }
            Ok(single_stage(stage(x, true)?, x.loc()))
        }
        Term::Binary {
            op,
            op_loc,
            lhs,
            rhs,
            loc,
        } => match op.spanset() {
            Some(sop) => Ok(SpansetExpr::Op {
                op: sop,
                lhs: Box::new(spanset_pipeline_expr(lhs)?),
                rhs: Box::new(spanset_pipeline_expr(rhs)?),
                loc: *loc,
            }),
            None => err(
                op_loc.start,
                format!(
                    "`{}` does not combine pipelines; use `&&`, `||` or a structural operator such as `>>`",
                    op.as_str()
                ),
            ),
        },
        other => err(
            other.loc().start,
            format!(
                "expected a pipeline in parentheses, as in `({{ }} | count() > 1)`, found {}",
                other.describe()
            ),
        ),
    }
}

/// Whether `t` has a parenthesized pipeline outside braces.
fn contains_wrapped_pipe(t: &Term) -> bool {
    match t {
        Term::Paren(x, _) => matches!(**x, Term::Pipe(..)) || contains_wrapped_pipe(x),
        Term::Binary { lhs, rhs, .. } => contains_wrapped_pipe(lhs) || contains_wrapped_pipe(rhs),
        Term::Neg(x, _) => contains_wrapped_pipe(x),
        _ => false,
    }
}

/// Whether `t` has a parenthesized pipeline that ends with an aggregate.
fn has_scalar_pipeline(t: &Term) -> bool {
    match t {
        Term::Paren(x, _) => match &**x {
            Term::Pipe(elems, _) => matches!(elems.last(), Some(Term::Aggregate(_))),
            x => has_scalar_pipeline(x),
        },
        Term::Binary { lhs, rhs, .. } => has_scalar_pipeline(lhs) || has_scalar_pipeline(rhs),
        _ => false,
    }
}

fn contains_aggregate(t: &Term) -> bool {
    match t {
        Term::Aggregate(_) => true,
        Term::Paren(x, _) | Term::Neg(x, _) => contains_aggregate(x),
        Term::Binary { lhs, rhs, .. } => contains_aggregate(lhs) || contains_aggregate(rhs),
        _ => false,
    }
}

fn contains_metrics(t: &Term) -> bool {
    match t {
        Term::Metrics(_) | Term::Second(_) => true,
        Term::Paren(x, _) | Term::Neg(x, _) => contains_metrics(x),
        Term::Binary { lhs, rhs, .. } => contains_metrics(lhs) || contains_metrics(rhs),
        Term::Pipe(elems, _) => elems.iter().any(contains_metrics),
        _ => false,
    }
}

fn scalar_filter(cmp: CmpOp, lhs: &Term, rhs: &Term, loc: Loc) -> Result<ScalarFilter, Error> {
    let (la, ra) = (contains_aggregate(lhs), contains_aggregate(rhs));
    if !la && !ra {
        return err(
            loc.start,
            "a comparison here needs an aggregate such as `count()` or `avg(duration)` on one side",
        );
    }
    let side = |t: &Term, agg: bool| if agg { scalar_expr(t) } else { static_expr(t) };
    Ok(ScalarFilter {
        op: cmp,
        lhs: side(lhs, la)?,
        rhs: side(rhs, ra)?,
        loc,
    })
}

/// Aggregate-containing arithmetic (Tempo's `scalarExpression`).
fn scalar_expr(t: &Term) -> Result<ScalarExpr, Error> {
    match t {
        Term::Aggregate(a) => Ok(ScalarExpr::Aggregate(a.clone())),
        Term::Paren(x, _) if contains_aggregate(x) => scalar_expr(x),
        Term::Binary {
            op,
            op_loc,
            lhs,
            rhs,
            loc,
        } => {
            let Some(a) = op.arith() else {
                return err(
                    op_loc.start,
                    format!("`{}` is not an arithmetic operator", op.as_str()),
                );
            };
            let side = |t: &Term| {
                if contains_aggregate(t) {
                    scalar_expr(t)
                } else {
                    static_expr(t)
                }
            };
            Ok(ScalarExpr::Op {
                op: a,
                lhs: Box::new(side(lhs)?),
                rhs: Box::new(side(rhs)?),
                loc: *loc,
            })
        }
        other => err(
            other.loc().start,
            format!(
                "expected an aggregate such as `count()` or a number, found {}",
                other.describe()
            ),
        ),
    }
}

fn static_expr(t: &Term) -> Result<ScalarExpr, Error> {
    let (value, loc) = scalar(t)?;
    Ok(ScalarExpr::Static { value, loc })
}

/// A constant number or duration, folded (Tempo's `scalar`: `+ - * /` and prefix `-`).
fn scalar(t: &Term) -> Result<(Static, Loc), Error> {
    match t {
        Term::Number(v, loc) => Ok((v.clone(), *loc)),
        Term::Paren(x, loc) => Ok((scalar(x)?.0, *loc)),
        Term::Neg(x, loc) => {
            let (v, _) = scalar(x)?;
            Ok((
                match v {
                    Static::Int(i) => Static::Int(i.wrapping_neg()),
                    Static::Float(f) => Static::Float(-f),
                    Static::Duration(d) => Static::Duration(d.wrapping_neg()),
                    other => other,
                },
                *loc,
            ))
        }
        Term::Binary {
            op,
            op_loc,
            lhs,
            rhs,
            loc,
        } => {
            if !matches!(op, Op::Add | Op::Sub | Op::Mul | Op::Div) {
                return err(
                    op_loc.start,
                    format!(
                        "expected a number; `{}` cannot be used between constants here",
                        op.as_str()
                    ),
                );
            }
            let (a, _) = scalar(lhs)?;
            let (b, _) = scalar(rhs)?;
            Ok((fold(*op, &a, &b, op_loc.start)?, *loc))
        }
        other => err(
            other.loc().start,
            format!("expected a number, found {}", other.describe()),
        ),
    }
}

/// Constant `a op b` the way Tempo folds it: integers stay integers (`1/2` is 0), anything
/// else is a double; durations are refused.
fn fold(op: Op, a: &Static, b: &Static, pos: usize) -> Result<Static, Error> {
    if matches!(a, Static::Duration(_)) || matches!(b, Static::Duration(_)) {
        return err(pos, "duration cannot be used in scalar arithmetic");
    }
    if let (Static::Int(x), Static::Int(y)) = (a, b) {
        return Ok(Static::Int(match op {
            Op::Add => x.wrapping_add(*y),
            Op::Sub => x.wrapping_sub(*y),
            Op::Mul => x.wrapping_mul(*y),
            _ => {
                if *y == 0 {
                    return err(pos, "division by zero");
                }
                x.wrapping_div(*y)
            }
        }));
    }
    let (x, y) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
    Ok(Static::Float(match op {
        Op::Add => x + y,
        Op::Sub => x - y,
        Op::Mul => x * y,
        _ => x / y,
    }))
}

fn scalar_pipeline_filter(
    cmp: CmpOp,
    lhs: &Term,
    rhs: &Term,
    loc: Loc,
) -> Result<ScalarFilter, Error> {
    let l = scalar_pipeline_expr(lhs)?;
    let r = if contains_wrapped_pipe(rhs) {
        scalar_pipeline_expr(rhs)?
    } else {
        static_expr(rhs)?
    };
    Ok(ScalarFilter {
        op: cmp,
        lhs: l,
        rhs: r,
        loc,
    })
}

/// Arithmetic over `( pipeline | aggregate )` (Tempo's `scalarPipelineExpression`).
fn scalar_pipeline_expr(t: &Term) -> Result<ScalarExpr, Error> {
    match t {
        Term::Paren(x, loc) => match &**x {
            Term::Pipe(elems, _) => match elems.split_last() {
                Some((Term::Aggregate(a), init)) if !init.is_empty() => Ok(ScalarExpr::Pipeline {
                    pipeline: pipeline(init, span_of(init))?,
                    aggregate: a.clone(),
                    loc: *loc,
                }),
                Some((last, _)) => err(
                    last.loc().start,
                    "a pipeline compared with a number must end with an aggregate such as `| count()`",
                ),
                None => err(loc.start, "empty pipeline"),
            },
            x => scalar_pipeline_expr(x),
        },
        Term::Binary {
            op,
            op_loc,
            lhs,
            rhs,
            loc,
        } => match op.arith() {
            Some(a) => Ok(ScalarExpr::Op {
                op: a,
                lhs: Box::new(scalar_pipeline_expr(lhs)?),
                rhs: Box::new(scalar_pipeline_expr(rhs)?),
                loc: *loc,
            }),
            None => err(
                op_loc.start,
                format!("`{}` is not an arithmetic operator", op.as_str()),
            ),
        },
        other => err(
            other.loc().start,
            format!(
                "expected a pipeline in parentheses ending with an aggregate, as in `({{ }} | count())`, found {}",
                other.describe()
            ),
        ),
    }
}

// ---- Metrics --------------------------------------------------------------------------------

fn metrics_root(t: &Term) -> Result<MetricsExpr, Error> {
    if let Term::Pipe(elems, loc) = t {
        return metrics_pipe(elems, *loc, true);
    }
    let (base, second) = strip_filters(t)?;
    if let Term::Metrics(m) = base {
        return err(
            m.loc.start,
            format!(
                "`{0}()` must follow a spanset pipeline, as in `{{ }} | {0}()`",
                m.func.name()
            ),
        );
    }
    let expr = metrics_expr(base)?;
    Ok(if second.is_empty() {
        expr
    } else {
        MetricsExpr::Staged {
            expr: Box::new(expr),
            second,
            loc: t.loc(),
        }
    })
}

/// `t` without the comparisons chained after it (`rate() > 1 > 2` → `rate()`).
fn filter_base(t: &Term) -> &Term {
    match t {
        Term::Binary { op, lhs, .. } if op.cmp().is_some() => filter_base(lhs),
        t => t,
    }
}

/// Splits `x > 1 < 5` into `x` and its metrics filters.
fn strip_filters(t: &Term) -> Result<(&Term, Vec<SecondStage>), Error> {
    let mut filters = Vec::new();
    let mut cur = t;
    while let Term::Binary {
        op,
        op_loc,
        lhs,
        rhs,
        ..
    } = cur
    {
        let Some(cmp) = op.cmp() else { break };
        let (v, vloc) = scalar(rhs)?;
        let value = match v {
            // Tempo compares metrics with durations in seconds.
            Static::Duration(ns) => ns as f64 / 1e9,
            v => v.as_f64().unwrap_or(0.0),
        };
        filters.push(SecondStage::Filter {
            op: cmp,
            value,
            loc: op_loc.to(vloc),
        });
        cur = lhs;
    }
    filters.reverse();
    Ok((cur, filters))
}

fn metrics_pipe(elems: &[Term], loc: Loc, at_root: bool) -> Result<MetricsExpr, Error> {
    let k = elems
        .iter()
        .position(|e| matches!(filter_base(e), Term::Metrics(_)));
    match k {
        Some(0) => {
            let m = filter_base(&elems[0]);
            err(
                m.loc().start,
                format!(
                    "{} must follow a spanset pipeline, as in `{{ }} | {}`",
                    m.describe(),
                    m.describe().trim_matches('`')
                ),
            )
        }
        Some(k) => {
            let pipeline = pipeline(&elems[..k], span_of(&elems[..k]))?;
            let (base, mut second) = strip_filters(&elems[k])?;
            let Term::Metrics(first) = base else {
                return err(base.loc().start, "expected a metrics function");
            };
            for e in &elems[k + 1..] {
                second.extend(second_stage(e)?);
            }
            Ok(MetricsExpr::Pipeline {
                pipeline,
                first: first.clone(),
                second,
                loc,
            })
        }
        None if at_root && contains_metrics(filter_base(&elems[0])) => {
            let (base, mut second) = strip_filters(&elems[0])?;
            let expr = metrics_expr(base)?;
            for e in &elems[1..] {
                second.extend(second_stage(e)?);
            }
            Ok(MetricsExpr::Staged {
                expr: Box::new(expr),
                second,
                loc,
            })
        }
        None => {
            if let Some(e) = elems
                .iter()
                .find(|e| matches!(filter_base(e), Term::Second(_)))
            {
                return err(
                    e.loc().start,
                    "topk() and bottomk() must follow a metrics function such as `rate()`, as in `{ } | rate() | topk(10)`",
                );
            }
            let at = elems
                .iter()
                .find(|e| contains_metrics(e))
                .map_or(loc, |e| e.loc());
            err(
                at.start,
                "a metrics function inside arithmetic needs its pipeline in parentheses, as in `({ } | rate()) * 2`",
            )
        }
    }
}

fn second_stage(t: &Term) -> Result<Vec<SecondStage>, Error> {
    let (base, filters) = strip_filters(t)?;
    let Term::Second(s) = base else {
        return err(
            base.loc().start,
            format!(
                "after a metrics function only `topk(n)`, `bottomk(n)` and comparisons with a number may follow, not {}",
                base.describe()
            ),
        );
    };
    let mut out = vec![s.clone()];
    out.extend(filters);
    Ok(out)
}

/// Arithmetic over metrics queries in parentheses (Tempo's `metricsExpression`).
fn metrics_expr(t: &Term) -> Result<MetricsExpr, Error> {
    match t {
        Term::Paren(x, loc) => match &**x {
            Term::Pipe(elems, _) => metrics_pipe(elems, *loc, false),
            x => metrics_expr(x),
        },
        Term::Binary {
            op,
            op_loc,
            lhs,
            rhs,
            loc,
        } => {
            let a = match op {
                Op::Add | Op::Sub | Op::Mul | Op::Div => op.arith(),
                _ => None,
            };
            let Some(a) = a else {
                return err(
                    op_loc.start,
                    format!(
                        "`{}` cannot combine metrics queries; use `+`, `-`, `*` or `/`",
                        op.as_str()
                    ),
                );
            };
            match (contains_metrics(lhs), contains_metrics(rhs)) {
                (true, true) => Ok(MetricsExpr::Math {
                    op: a,
                    lhs: Box::new(metrics_expr(lhs)?),
                    rhs: Box::new(metrics_expr(rhs)?),
                    loc: *loc,
                }),
                (l, _) => {
                    let (m, s) = if l { (lhs, rhs) } else { (rhs, lhs) };
                    Ok(MetricsExpr::Scalar {
                        op: a,
                        value: metric_scalar(s)?,
                        expr: Box::new(metrics_expr(m)?),
                        scalar_on_left: !l,
                        loc: *loc,
                    })
                }
            }
        }
        Term::Metrics(m) => err(
            m.loc.start,
            format!(
                "put a metrics pipeline in parentheses to use it in arithmetic, as in `({{ }} | {}()) * 2`",
                m.func.name()
            ),
        ),
        other => err(
            other.loc().start,
            format!(
                "expected a metrics query in parentheses, as in `({{ }} | rate())`, found {}",
                other.describe()
            ),
        ),
    }
}

fn metric_scalar(t: &Term) -> Result<f64, Error> {
    let (v, loc) = scalar(t)?;
    match v {
        Static::Duration(_) => err(
            loc.start,
            "duration cannot be used as a scalar operand in metric arithmetic",
        ),
        v => Ok(v.as_f64().unwrap_or(0.0)),
    }
}
