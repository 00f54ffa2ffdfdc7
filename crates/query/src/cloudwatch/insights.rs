//! CloudWatch Logs Insights queries (StartQuery `queryString`): syntax tree, parser (errors
//! with line and position, as `MalformedQueryException` words them) and canonical printer.
//! `parse(print(q)) == q` (property-tested). Compiled in `insights_compile`.
//!
//! Grammar (from `CWL_QuerySyntax` and its command pages; AWS publishes none):
//! ```text
//! query    := command ('|' command)*            lines starting with '#' are comments
//! command  := fields proj (',' proj)*  | display name (',' name)*  | filter expr
//!           | stats agg (',' agg)* [by key (',' key)*]  | sort name [asc|desc] (',' …)*
//!           | limit n  | parse name (string | /regex/) [as name (',' name)*]
//! proj     := expr [as name]        agg := call [as name]        key := name | bin(dur) [as name]
//! expr     := or ; or := and (or and)* ; and := not (and not)* ; not := not not | cmp
//! cmp      := add [('=' | '!=' | '<' | '<=' | '>' | '>=') add | [not] like (string | regex)
//!           | '=~' regex | [not] in '[' expr (',' expr)* ']']
//! add      := mul (('+' | '-') mul)* ; mul := unary (('*' | '/' | '%') unary)*
//! unary    := '-' unary | '(' expr ')' | number | string | name | name '(' [args] ')'
//! name     := [A-Za-z_@][A-Za-z0-9_@.]* | `backquoted`
//! ```
//! Keywords and function names are case-insensitive; field names are case-sensitive.

use std::fmt::Write;

/// Longest query string in characters: StartQuery `queryString` (API reference: maximum
/// length of 10000).
pub const QUERY_LEN_MAX: usize = 10_000;
/// Deepest expression nesting (our choice: bounds recursion).
pub const NESTING_DEPTH_MAX: usize = 64;

/// A malformed query. `line` is 1-based, `position` the 0-based character offset in it
/// (ANTLR's convention, which Insights' messages use).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("query string is {len} characters long; at most {max} are accepted")]
    TooLong { len: usize, max: usize },
    #[error("{message} at line {line} and position {position}")]
    Malformed {
        line: usize,
        position: usize,
        message: String,
    },
    #[error("not supported: {0}")]
    Unsupported(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

impl BinOp {
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Eq => "=",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::And => "and",
            BinOp::Or => "or",
        }
    }

    /// 0 = or, 1 = and, 3 = comparison, 4 = additive, 5 = multiplicative (2 is `not`).
    fn prec(self) -> u8 {
        match self {
            BinOp::Or => 0,
            BinOp::And => 1,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => 3,
            BinOp::Add | BinOp::Sub => 4,
            BinOp::Mul | BinOp::Div | BinOp::Mod => 5,
        }
    }
}

/// What `like` / `=~` match against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Matcher {
    /// `"text"`: substring.
    Text(String),
    /// `/regex/`.
    Regex(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Field(String),
    Str(String),
    Num(f64),
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `x like m`, `x not like m`, `x =~ /re/` (= `like` with a regex).
    Like {
        expr: Box<Expr>,
        negated: bool,
        matcher: Matcher,
    },
    In {
        expr: Box<Expr>,
        negated: bool,
        list: Vec<Expr>,
    },
    /// A function call; the name lower-cased.
    Call(String, Vec<Expr>),
}

/// `parse` patterns.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ParsePattern {
    /// `"… * …"`: each `*` captures.
    Glob(String),
    /// `/(?<name>…)/`: named groups capture.
    Regex(String),
}

/// A `stats … by` key.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupKey {
    Field(String),
    /// `bin(5m)`: the period in milliseconds and its text.
    Bin {
        ms: i64,
        text: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Fields(Vec<(Expr, Option<String>)>),
    Display(Vec<String>),
    Filter(Expr),
    Stats {
        aggs: Vec<(Expr, Option<String>)>,
        by: Vec<(GroupKey, Option<String>)>,
    },
    /// `(field, descending)`.
    Sort(Vec<(String, bool)>),
    Limit(u32),
    Parse {
        field: String,
        pattern: ParsePattern,
        names: Vec<String>,
    },
    /// `dedup f, g`.
    Dedup(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub commands: Vec<Command>,
}

// ---------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    /// A backquoted name (never a keyword).
    Quoted(String),
    Str(String),
    Num(f64),
    Regex(String),
    Op(&'static str),
    End,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Name(n) => format!("'{n}'"),
        Tok::Quoted(n) => format!("'`{n}`'"),
        Tok::Str(s) => format!("'\"{s}\"'"),
        Tok::Num(n) => format!("'{n}'"),
        Tok::Regex(r) => format!("'/{r}/'"),
        Tok::Op(o) => format!("'{o}'"),
        Tok::End => "'<EOF>'".into(),
    }
}

struct Lexed {
    toks: Vec<(usize, Tok)>,
}

/// (line, position) of a byte offset.
fn line_pos(text: &str, at: usize) -> (usize, usize) {
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count();
    (line, col)
}

fn malformed(text: &str, at: usize, message: impl Into<String>) -> QueryError {
    let (line, position) = line_pos(text, at);
    QueryError::Malformed {
        line,
        position,
        message: message.into(),
    }
}

const OPS: [&str; 17] = [
    "=~", "!=", "<=", ">=", "=", "<", ">", "+", "-", "*", "/", "%", "(", ")", ",", "|", "[",
];

fn lex(text: &str) -> Result<Lexed, QueryError> {
    let b = text.as_bytes();
    let mut toks: Vec<(usize, Tok)> = Vec::new();
    let mut i = 0;
    let mut line_start = true;
    while i < b.len() {
        let c = b[i];
        if c == b'\n' {
            line_start = true;
            i += 1;
            continue;
        }
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'#' && line_start {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        line_start = false;
        let start = i;
        let regex_ok = match toks.last() {
            Some((_, Tok::Name(w))) if w.eq_ignore_ascii_case("like") => true,
            Some((_, Tok::Op("=~"))) => true,
            Some((_, Tok::Name(_) | Tok::Quoted(_))) => {
                toks.len() >= 2
                    && matches!(&toks[toks.len() - 2].1, Tok::Name(w) if w.eq_ignore_ascii_case("parse"))
            }
            _ => false,
        };
        match c {
            b'"' | b'\'' => {
                let q = c;
                let mut s = String::new();
                i += 1;
                let mut closed = false;
                while i < b.len() {
                    let ch = text[i..].chars().next().unwrap_or('\0');
                    if b[i] == q {
                        closed = true;
                        i += 1;
                        break;
                    }
                    if b[i] == b'\\' && i + 1 < b.len() && (b[i + 1] == q || b[i + 1] == b'\\') {
                        s.push(b[i + 1] as char);
                        i += 2;
                        continue;
                    }
                    s.push(ch);
                    i += ch.len_utf8();
                }
                if !closed {
                    return Err(malformed(text, start, "unterminated string"));
                }
                toks.push((start, Tok::Str(s)));
            }
            b'`' => {
                let end = text[i + 1..]
                    .find('`')
                    .ok_or_else(|| malformed(text, start, "unterminated `name`"))?;
                toks.push((start, Tok::Quoted(text[i + 1..i + 1 + end].to_string())));
                i += end + 2;
            }
            b'/' if regex_ok => {
                let mut j = i + 1;
                let mut closed = None;
                while j < b.len() {
                    if b[j] == b'\\' && j + 1 < b.len() {
                        j += 2;
                        continue;
                    }
                    if b[j] == b'/' {
                        closed = Some(j);
                        break;
                    }
                    j += 1;
                }
                let end = closed.ok_or_else(|| malformed(text, start, "unterminated /regex/"))?;
                toks.push((start, Tok::Regex(text[i + 1..end].to_string())));
                i = end + 1;
            }
            c if c.is_ascii_digit()
                || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) =>
            {
                let mut j = i;
                while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'.') {
                    j += 1;
                }
                if j < b.len() && (b[j] == b'e' || b[j] == b'E') {
                    let mut k = j + 1;
                    if k < b.len() && (b[k] == b'+' || b[k] == b'-') {
                        k += 1;
                    }
                    if k < b.len() && b[k].is_ascii_digit() {
                        j = k;
                        while j < b.len() && b[j].is_ascii_digit() {
                            j += 1;
                        }
                    }
                }
                // A duration unit or a name glued to the number (`5m`) stays one name.
                if j < b.len() && (b[j].is_ascii_alphabetic() || b[j] == b'_') {
                    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                        j += 1;
                    }
                    toks.push((start, Tok::Name(text[i..j].to_string())));
                } else {
                    let raw = &text[i..j];
                    let n = raw
                        .parse::<f64>()
                        .ok()
                        .filter(|f| f.is_finite())
                        .ok_or_else(|| malformed(text, start, format!("malformed number {raw}")))?;
                    toks.push((start, Tok::Num(n)));
                }
                i = j;
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c == b'@' => {
                let mut j = i;
                while j < b.len()
                    && (b[j].is_ascii_alphanumeric() || matches!(b[j], b'_' | b'@' | b'.'))
                {
                    j += 1;
                }
                toks.push((start, Tok::Name(text[i..j].to_string())));
                i = j;
            }
            _ => {
                let rest = &text[i..];
                let op = OPS
                    .iter()
                    .chain([&"]"])
                    .find(|o| rest.starts_with(**o))
                    .copied();
                match op {
                    Some(o) => {
                        toks.push((start, Tok::Op(o)));
                        i += o.len();
                    }
                    None => {
                        let ch = rest.chars().next().unwrap_or('?');
                        return Err(malformed(
                            text,
                            start,
                            format!("unexpected symbol found {ch}"),
                        ));
                    }
                }
            }
        }
    }
    toks.push((text.len(), Tok::End));
    Ok(Lexed { toks })
}

// ---------------------------------------------------------------------------------------
// Parser

struct Parser<'a> {
    text: &'a str,
    toks: Vec<(usize, Tok)>,
    i: usize,
    depth: usize,
}

const COMMANDS: [&str; 8] = [
    "fields", "display", "filter", "stats", "sort", "limit", "parse", "dedup",
];

/// Parses a query string.
pub fn parse(text: &str) -> Result<Query, QueryError> {
    let len = text.chars().count();
    if len > QUERY_LEN_MAX {
        return Err(QueryError::TooLong {
            len,
            max: QUERY_LEN_MAX,
        });
    }
    let mut p = Parser {
        text,
        toks: lex(text)?.toks,
        i: 0,
        depth: 0,
    };
    let mut commands = Vec::new();
    loop {
        if commands.is_empty() && p.peek() == &Tok::End {
            return Err(p.err("the query is empty: expected a command"));
        }
        commands.push(p.command()?);
        match p.peek() {
            Tok::Op("|") => {
                p.bump();
            }
            Tok::End => break,
            t => {
                let t = describe(t);
                return Err(p.err(format!("unexpected symbol found {t}")));
            }
        }
    }
    Ok(Query { commands })
}

fn is_word(t: &Tok, w: &str) -> bool {
    matches!(t, Tok::Name(x) if x.eq_ignore_ascii_case(w))
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        self.toks.get(self.i).map_or(&Tok::End, |(_, t)| t)
    }

    fn peek2(&self) -> &Tok {
        self.toks.get(self.i + 1).map_or(&Tok::End, |(_, t)| t)
    }

    fn pos(&self) -> usize {
        self.toks.get(self.i).map_or(self.text.len(), |(p, _)| *p)
    }

    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.i + 1 < self.toks.len() {
            self.i += 1;
        }
        t
    }

    fn err(&self, message: impl Into<String>) -> QueryError {
        malformed(self.text, self.pos(), message)
    }

    fn expected(&self, what: &str) -> QueryError {
        self.err(format!(
            "unexpected symbol found {} (expected {what})",
            describe(self.peek())
        ))
    }

    fn expect_op(&mut self, op: &str, what: &str) -> Result<(), QueryError> {
        if *self.peek() == Tok::Op(match_op(op)) {
            self.bump();
            Ok(())
        } else {
            Err(self.expected(what))
        }
    }

    fn name(&mut self) -> Result<String, QueryError> {
        match self.peek().clone() {
            Tok::Name(n) | Tok::Quoted(n) => {
                self.bump();
                Ok(n)
            }
            _ => Err(self.expected("a field name")),
        }
    }

    fn alias(&mut self) -> Result<Option<String>, QueryError> {
        if is_word(self.peek(), "as") {
            self.bump();
            Ok(Some(self.name()?))
        } else {
            Ok(None)
        }
    }

    fn list<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<T, QueryError>,
    ) -> Result<Vec<T>, QueryError> {
        let mut out = vec![item(self)?];
        while *self.peek() == Tok::Op(",") {
            self.bump();
            out.push(item(self)?);
        }
        Ok(out)
    }

    fn command(&mut self) -> Result<Command, QueryError> {
        let Tok::Name(w) = self.peek().clone() else {
            return Err(self.expected(
                "a command (fields, filter, stats, sort, limit, parse, display, dedup)",
            ));
        };
        let lower = w.to_ascii_lowercase();
        if !COMMANDS.contains(&lower.as_str()) {
            return Err(self.expected(
                "a command (fields, filter, stats, sort, limit, parse, display, dedup)",
            ));
        }
        self.bump();
        Ok(match lower.as_str() {
            "fields" => Command::Fields(self.list(|p| Ok((p.expr()?, p.alias()?)))?),
            "display" => Command::Display(self.list(Self::name)?),
            "dedup" => Command::Dedup(self.list(Self::name)?),
            "filter" => Command::Filter(self.expr()?),
            "stats" => {
                let aggs = self.list(|p| Ok((p.expr()?, p.alias()?)))?;
                let by = if is_word(self.peek(), "by") {
                    self.bump();
                    self.list(|p| {
                        let key = if is_word(p.peek(), "bin") && *p.peek2() == Tok::Op("(") {
                            p.bump();
                            p.bump();
                            let at = p.pos();
                            let text = match p.bump() {
                                Tok::Name(t) => t,
                                Tok::Num(n) => format!("{n}"),
                                _ => return Err(malformed(p.text, at, "expected a period such as 5m in bin()")),
                            };
                            let ms = period_ms(&text).ok_or_else(|| {
                                malformed(p.text, at, format!("invalid bin period {text} (use a number and one of ms, s, m, h, d, w)"))
                            })?;
                            p.expect_op(")", "')'")?;
                            GroupKey::Bin { ms, text }
                        } else {
                            GroupKey::Field(p.name()?)
                        };
                        Ok((key, p.alias()?))
                    })?
                } else {
                    Vec::new()
                };
                Command::Stats { aggs, by }
            }
            "sort" => Command::Sort(self.list(|p| {
                let n = p.name()?;
                let desc = if is_word(p.peek(), "desc") {
                    p.bump();
                    true
                } else {
                    if is_word(p.peek(), "asc") {
                        p.bump();
                    }
                    false
                };
                Ok((n, desc))
            })?),
            "limit" => {
                let at = self.pos();
                match self.bump() {
                    Tok::Num(n) if n.fract() == 0.0 && n >= 1.0 && n <= f64::from(u32::MAX) => {
                        Command::Limit(n as u32)
                    }
                    _ => {
                        return Err(malformed(
                            self.text,
                            at,
                            "limit takes a positive whole number",
                        ))
                    }
                }
            }
            _ => {
                // parse
                let field = self.name()?;
                let at = self.pos();
                let pattern = match self.bump() {
                    Tok::Str(s) => ParsePattern::Glob(s),
                    Tok::Regex(r) => ParsePattern::Regex(r),
                    _ => {
                        return Err(malformed(
                            self.text,
                            at,
                            "parse takes a \"glob * pattern\" or a /regex/",
                        ))
                    }
                };
                let names = if is_word(self.peek(), "as") {
                    self.bump();
                    self.list(Self::name)?
                } else {
                    Vec::new()
                };
                Command::Parse {
                    field,
                    pattern,
                    names,
                }
            }
        })
    }

    fn enter(&mut self) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > NESTING_DEPTH_MAX {
            return Err(self.err(format!(
                "expression nests more than {NESTING_DEPTH_MAX} deep"
            )));
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Expr, QueryError> {
        self.enter()?;
        let e = self.binary(0)?;
        self.depth -= 1;
        Ok(e)
    }

    fn binop(&self) -> Option<BinOp> {
        Some(match self.peek() {
            t if is_word(t, "or") => BinOp::Or,
            t if is_word(t, "and") => BinOp::And,
            Tok::Op("=") => BinOp::Eq,
            Tok::Op("!=") => BinOp::Ne,
            Tok::Op("<") => BinOp::Lt,
            Tok::Op("<=") => BinOp::Le,
            Tok::Op(">") => BinOp::Gt,
            Tok::Op(">=") => BinOp::Ge,
            Tok::Op("+") => BinOp::Add,
            Tok::Op("-") => BinOp::Sub,
            Tok::Op("*") => BinOp::Mul,
            Tok::Op("/") => BinOp::Div,
            Tok::Op("%") => BinOp::Mod,
            _ => return None,
        })
    }

    /// Precedence climbing; `not` sits between `and` and comparisons.
    fn binary(&mut self, min: u8) -> Result<Expr, QueryError> {
        let mut lhs = if min <= 2 && is_word(self.peek(), "not") {
            self.bump();
            self.enter()?;
            let e = self.binary(2)?;
            self.depth -= 1;
            Expr::Not(Box::new(e))
        } else {
            self.postfix(min)?
        };
        while let Some(op) = self.binop() {
            let prec = op.prec();
            if prec < min {
                break;
            }
            self.bump();
            self.enter()?;
            let rhs = self.binary(prec + 1)?;
            self.depth -= 1;
            lhs = Expr::Binary(op, Box::new(lhs), Box::new(rhs));
            if prec == 3 {
                // Comparisons do not chain.
                if self.binop().is_some_and(|o| o.prec() == 3) {
                    return Err(self.expected("'and', 'or' or the end of the expression"));
                }
            }
        }
        Ok(lhs)
    }

    /// An additive expression followed by `like`, `=~` or `in` (comparison level only).
    fn postfix(&mut self, min: u8) -> Result<Expr, QueryError> {
        let e = if min <= 3 {
            self.binary(4)?
        } else {
            self.unary()?
        };
        if min > 3 {
            return Ok(e);
        }
        let negated = is_word(self.peek(), "not")
            && (is_word(self.peek2(), "like") || is_word(self.peek2(), "in"));
        if negated {
            self.bump();
        }
        if is_word(self.peek(), "like") || *self.peek() == Tok::Op("=~") {
            let regex_only = *self.peek() == Tok::Op("=~");
            self.bump();
            let at = self.pos();
            let matcher = match self.bump() {
                Tok::Str(s) if !regex_only => Matcher::Text(s),
                Tok::Regex(r) => Matcher::Regex(r),
                _ => return Err(malformed(self.text, at, "expected a \"string\" or /regex/")),
            };
            return Ok(Expr::Like {
                expr: Box::new(e),
                negated,
                matcher,
            });
        }
        if is_word(self.peek(), "in") {
            self.bump();
            self.expect_op("[", "'[' after in")?;
            let list = self.list(Self::expr)?;
            self.expect_op("]", "']' or ','")?;
            return Ok(Expr::In {
                expr: Box::new(e),
                negated,
                list,
            });
        }
        Ok(e)
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        self.enter()?;
        let e = match self.peek().clone() {
            Tok::Op("-") => {
                self.bump();
                Expr::Neg(Box::new(self.unary()?))
            }
            Tok::Op("(") => {
                self.bump();
                let e = self.expr()?;
                self.expect_op(")", "')'")?;
                e
            }
            Tok::Num(n) => {
                self.bump();
                Expr::Num(n)
            }
            Tok::Str(s) => {
                self.bump();
                Expr::Str(s)
            }
            Tok::Quoted(n) => {
                self.bump();
                Expr::Field(n)
            }
            Tok::Name(n) if *self.peek2() == Tok::Op("(") => {
                self.bump();
                self.bump();
                let args = if *self.peek() == Tok::Op(")") {
                    Vec::new()
                } else if *self.peek() == Tok::Op("*") && *self.peek2() == Tok::Op(")") {
                    self.bump();
                    vec![Expr::Field("*".into())]
                } else {
                    self.list(Self::expr)?
                };
                self.expect_op(")", "')' or ','")?;
                Expr::Call(n.to_ascii_lowercase(), args)
            }
            Tok::Name(n)
                if !["and", "or", "not", "like", "in", "as", "by"]
                    .iter()
                    .any(|k| n.eq_ignore_ascii_case(k)) =>
            {
                self.bump();
                Expr::Field(n)
            }
            _ => return Err(self.expected("a field, a value or '('")),
        };
        self.depth -= 1;
        Ok(e)
    }
}

fn match_op(op: &str) -> &'static str {
    OPS.iter()
        .chain([&"]"])
        .find(|o| **o == op)
        .copied()
        .unwrap_or("")
}

/// A `bin()` period in milliseconds: a positive number and one of `ms`, `s`, `m`, `h`, `d`, `w`
/// (`mo`, `q`, `y` are calendar periods: not supported).
pub fn period_ms(text: &str) -> Option<i64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (num, unit) = text.split_at(split);
    let n: i64 = num.parse().ok().filter(|n| *n > 0)?;
    let unit_ms: i64 = match unit.to_ascii_lowercase().as_str() {
        "ms" => 1,
        "s" | "sec" | "second" | "seconds" => 1000,
        "m" | "min" | "minute" | "minutes" => 60_000,
        "h" | "hr" | "hour" | "hours" => 3_600_000,
        "d" | "day" | "days" => 86_400_000,
        "w" | "week" | "weeks" => 604_800_000,
        _ => return None,
    };
    n.checked_mul(unit_ms)
}

// ---------------------------------------------------------------------------------------
// Printer

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// A field name, backquoted unless it lexes as one plain name that is not a keyword.
fn name(n: &str) -> String {
    let plain = n
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '@')
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '@' | '.'))
        && ![
            "and", "or", "not", "like", "in", "as", "by", "asc", "desc", "bin",
        ]
        .iter()
        .any(|k| n.eq_ignore_ascii_case(k));
    if plain {
        n.to_string()
    } else {
        format!("`{n}`")
    }
}

fn num(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f:?}")
    }
}

/// Expression text; `min` is the precedence the context needs (parenthesised below it).
fn write_expr(out: &mut String, e: &Expr, min: u8) {
    let (prec, body) = match e {
        Expr::Field(n) if n == "*" => (9, "*".to_string()),
        Expr::Field(n) => (9, name(n)),
        Expr::Str(s) => (9, quote(s)),
        Expr::Num(f) if *f < 0.0 => (6, format!("-{}", num(-f))),
        Expr::Num(f) => (9, num(*f)),
        Expr::Neg(x) => {
            let mut s = String::from("-");
            write_expr(&mut s, x, 6);
            (6, s)
        }
        Expr::Not(x) => {
            let mut s = String::from("not ");
            write_expr(&mut s, x, 3);
            (2, s)
        }
        Expr::Binary(op, a, b) => {
            let p = op.prec();
            let mut s = String::new();
            write_expr(&mut s, a, if p == 3 { 4 } else { p });
            let _ = write!(s, " {} ", op.as_str());
            write_expr(&mut s, b, p + 1);
            (p, s)
        }
        Expr::Like {
            expr,
            negated,
            matcher,
        } => {
            let mut s = String::new();
            write_expr(&mut s, expr, 4);
            s.push_str(if *negated { " not like " } else { " like " });
            match matcher {
                Matcher::Text(t) => s.push_str(&quote(t)),
                Matcher::Regex(r) => {
                    let _ = write!(s, "/{r}/");
                }
            }
            (3, s)
        }
        Expr::In {
            expr,
            negated,
            list,
        } => {
            let mut s = String::new();
            write_expr(&mut s, expr, 4);
            s.push_str(if *negated { " not in [" } else { " in [" });
            for (i, x) in list.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                write_expr(&mut s, x, 0);
            }
            s.push(']');
            (3, s)
        }
        Expr::Call(f, args) => {
            let mut s = format!("{f}(");
            for (i, x) in args.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                write_expr(&mut s, x, 0);
            }
            s.push(')');
            (9, s)
        }
    };
    if prec < min {
        let _ = write!(out, "({body})");
    } else {
        out.push_str(&body);
    }
}

fn aliased(e: &Expr, a: &Option<String>) -> String {
    let mut s = String::new();
    write_expr(&mut s, e, 0);
    if let Some(a) = a {
        let _ = write!(s, " as {}", name(a));
    }
    s
}

/// The canonical text of one command.
pub fn print_command(c: &Command) -> String {
    let names = |ns: &[String]| ns.iter().map(|n| name(n)).collect::<Vec<_>>().join(", ");
    match c {
        Command::Fields(ps) => format!(
            "fields {}",
            ps.iter()
                .map(|(e, a)| aliased(e, a))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Command::Display(ns) => format!("display {}", names(ns)),
        Command::Dedup(ns) => format!("dedup {}", names(ns)),
        Command::Filter(e) => {
            let mut s = String::from("filter ");
            write_expr(&mut s, e, 0);
            s
        }
        Command::Stats { aggs, by } => {
            let mut s = format!(
                "stats {}",
                aggs.iter()
                    .map(|(e, a)| aliased(e, a))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if !by.is_empty() {
                let keys: Vec<String> = by
                    .iter()
                    .map(|(k, a)| {
                        let mut t = match k {
                            GroupKey::Field(f) => name(f),
                            GroupKey::Bin { text, .. } => format!("bin({text})"),
                        };
                        if let Some(a) = a {
                            let _ = write!(t, " as {}", name(a));
                        }
                        t
                    })
                    .collect();
                let _ = write!(s, " by {}", keys.join(", "));
            }
            s
        }
        Command::Sort(ks) => format!(
            "sort {}",
            ks.iter()
                .map(|(n, d)| format!("{} {}", name(n), if *d { "desc" } else { "asc" }))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Command::Limit(n) => format!("limit {n}"),
        Command::Parse {
            field,
            pattern,
            names: ns,
        } => {
            let p = match pattern {
                ParsePattern::Glob(g) => quote(g),
                ParsePattern::Regex(r) => format!("/{r}/"),
            };
            if ns.is_empty() {
                format!("parse {} {p}", name(field))
            } else {
                format!("parse {} {p} as {}", name(field), names(ns))
            }
        }
    }
}

/// The canonical text of `q`: commands joined by ` | `.
pub fn print(q: &Query) -> String {
    q.commands
        .iter()
        .map(print_command)
        .collect::<Vec<_>>()
        .join(" | ")
}

impl std::fmt::Display for Query {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&print(self))
    }
}
