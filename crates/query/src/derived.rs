//! Honeycomb derived columns ("calculated fields"): the expression language's parser
//! (text → [`Expr`]), and its compiler to a typed tree ([`Typed`]) that `sql` renders and
//! `naive` evaluates with the same semantics.
//!
//! Grammar: `honeycombio/honeycomb-derived-column-validator@460c6e1:pkg/parser/HCDC.g4`
//! (facts in `shared/protocols/otlp-honeycomb.md` §9.1). Infix operators, tightest first:
//! `!` (prefix), `* / %`, `-`, `+`, `< <= > >=`, `= !=`, `AND`, `OR`; all binary ones are
//! left-associative, and `=` is `IN`/`EQUALS`, `!=` is `NOT(IN(…))` (validator `lookupOp`).
//!
//! Semantics (https://docs.honeycomb.io/reference/calculated-field-formula/ ; where the docs
//! are silent the choice is marked [ours]). Every value is null or a bool, int, float or
//! string; types are known at plan time (columns have one type in the catalog), so the
//! compiler picks each operation's form once:
//! - Truthiness (`IF` conditions, `AND`, `OR`, `NOT`, `BOOL`): non-zero numbers, the string
//!   `"true"` and `true` are true; everything else, null included, is false.
//! - Numbers (`SUM`, `SUB`, `MUL`, `DIV`, `MOD`, `LOG10`, `INT`, `FLOAT`): strings are
//!   parsed, unparseable strings and booleans count as 0; a null argument makes the result
//!   null [ours: null propagation]. Arithmetic is done in doubles [ours: integer overflow
//!   cannot abort a query]. `DIV`/`MOD` by zero and `LOG10` of x ≤ 0 are null.
//! - `LT`/`LTE`/`GT`/`GTE`: numbers numerically, strings by bytes; false when either side
//!   is null or the types differ (booleans never compare).
//! - `IN`/`EQUALS`/`=`: the first argument equals one of the others — numbers numerically,
//!   strings and booleans exactly, different types never; null equals nothing [ours].
//!   `SWITCH` cases (literals) match the same way.
//! - `IF`/`SWITCH`/`COALESCE` results take one type: the branches' common type, float when
//!   ints and floats mix, else text [ours].
//! - `MIN`/`MAX` ignore nulls; arguments must be all numbers, all strings or all booleans
//!   [ours: the docs' "type of the first non-empty argument" is a per-event type].
//! - `CONCAT` joins the text of its non-null arguments; `STRING(null)` is `""`.
//! - `STARTS_WITH`, `ENDS_WITH`, `CONTAINS`, `REG_MATCH` are false unless both sides are
//!   strings; `REG_VALUE` is the first capture group (the whole match without groups), null
//!   when empty or not found; `REG_COUNT` counts non-overlapping matches (0 for null).
//!   Patterns are RE2 syntax (DuckDB evaluates them with RE2: linear time, no
//!   backtracking), string literals, at most [`REGEX_LEN_MAX`] bytes.
//! - `LENGTH(s)` counts characters, `LENGTH(s, "bytes")` bytes; null unless a string [ours].
//! - `TO_LOWER` lower-cases the argument's text; `EVENT_TIMESTAMP()` is the event time in
//!   float Unix seconds.
//!
//! Not supported (error naming the function): `UNIX_TIMESTAMP`, `FORMAT_TIME` (date
//! parsing / strftime would have to agree exactly between DuckDB and Rust), `BUCKET` (its
//! semantics are not documented precisely), `INGEST_TIMESTAMP` (ingest time is not stored),
//! and the metrics-only `RAW_METRIC`, `LAST`, `RATE`, `INCREASE`, `SUMMARIZE`.

use std::fmt;
use std::sync::Arc;

use model::value::ColumnType;
use model::Value;

use crate::plan::ColumnRef;

/// Longest expression in characters (Honeycomb derived column `expression` is 1-4095
/// characters: OpenAPI `DerivedColumn.expression`).
pub const EXPRESSION_LEN_MAX: usize = 4095;
/// Deepest nesting of calls, parentheses and operators (our choice: real expressions nest
/// < 10 deep; 64 keeps the recursive parser, compiler and evaluators far from the stack
/// limit).
pub const NESTING_MAX: usize = 64;
/// Longest regular expression in bytes (our choice: RE2 compiles patterns of this size in
/// well under a millisecond and memory stays below its 8 MB default budget).
pub const REGEX_LEN_MAX: usize = 1024;
/// Compiled-size budget passed to the Rust regex validator (our choice: 1 MB, an eighth of
/// RE2's default `max_mem`, so a pattern we accept also compiles in DuckDB).
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// Most derived columns in one chain of references (`$a` uses `$b` uses `$c` …) (our
/// choice: deeper chains are almost certainly mistakes).
pub const DERIVED_CHAIN_MAX: usize = 16;
/// Largest rendered size of one derived column, counted in tree nodes with every use of a
/// shared sub-expression counted again (our choice: 20 000 nodes ≈ 1 MB of SQL text; bounds
/// the blow-up of derived columns that reference other derived columns several times).
pub const EXPANDED_NODES_MAX: usize = 20_000;

/// A parse or compile error, at a 1-based character position of the expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at character {pos}: {message}")]
pub struct DerivedError {
    pub pos: usize,
    pub message: String,
}

fn err<T>(pos: usize, message: impl Into<String>) -> Result<T, DerivedError> {
    Err(DerivedError {
        pos,
        message: message.into(),
    })
}

/// A literal value (`null` is `None`).
pub type Literal = Option<Value>;

/// The functions Waggle evaluates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Func {
    If,
    Coalesce,
    Not,
    Lt,
    Lte,
    Gt,
    Gte,
    Equals,
    In,
    And,
    Or,
    Min,
    Max,
    Concat,
    Exists,
    StartsWith,
    EndsWith,
    Sum,
    Sub,
    Mul,
    Div,
    Mod,
    Int,
    Float,
    Bool,
    String,
    Log10,
    Contains,
    RegMatch,
    RegValue,
    RegCount,
    EventTimestamp,
    Length,
    Switch,
    ToLower,
}

impl Func {
    pub const ALL: [Func; 35] = [
        Func::If,
        Func::Coalesce,
        Func::Not,
        Func::Lt,
        Func::Lte,
        Func::Gt,
        Func::Gte,
        Func::Equals,
        Func::In,
        Func::And,
        Func::Or,
        Func::Min,
        Func::Max,
        Func::Concat,
        Func::Exists,
        Func::StartsWith,
        Func::EndsWith,
        Func::Sum,
        Func::Sub,
        Func::Mul,
        Func::Div,
        Func::Mod,
        Func::Int,
        Func::Float,
        Func::Bool,
        Func::String,
        Func::Log10,
        Func::Contains,
        Func::RegMatch,
        Func::RegValue,
        Func::RegCount,
        Func::EventTimestamp,
        Func::Length,
        Func::Switch,
        Func::ToLower,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Func::If => "IF",
            Func::Coalesce => "COALESCE",
            Func::Not => "NOT",
            Func::Lt => "LT",
            Func::Lte => "LTE",
            Func::Gt => "GT",
            Func::Gte => "GTE",
            Func::Equals => "EQUALS",
            Func::In => "IN",
            Func::And => "AND",
            Func::Or => "OR",
            Func::Min => "MIN",
            Func::Max => "MAX",
            Func::Concat => "CONCAT",
            Func::Exists => "EXISTS",
            Func::StartsWith => "STARTS_WITH",
            Func::EndsWith => "ENDS_WITH",
            Func::Sum => "SUM",
            Func::Sub => "SUB",
            Func::Mul => "MUL",
            Func::Div => "DIV",
            Func::Mod => "MOD",
            Func::Int => "INT",
            Func::Float => "FLOAT",
            Func::Bool => "BOOL",
            Func::String => "STRING",
            Func::Log10 => "LOG10",
            Func::Contains => "CONTAINS",
            Func::RegMatch => "REG_MATCH",
            Func::RegValue => "REG_VALUE",
            Func::RegCount => "REG_COUNT",
            Func::EventTimestamp => "EVENT_TIMESTAMP",
            Func::Length => "LENGTH",
            Func::Switch => "SWITCH",
            Func::ToLower => "TO_LOWER",
        }
    }

    /// Function names are case-sensitive upper case (validator `lookupOp`).
    pub fn parse(name: &str) -> Option<Func> {
        Func::ALL.iter().copied().find(|f| f.name() == name)
    }

    /// Fewest and most arguments (None = any number).
    pub fn arity(self) -> (usize, Option<usize>) {
        match self {
            Func::EventTimestamp => (0, Some(0)),
            Func::Not
            | Func::Exists
            | Func::Int
            | Func::Float
            | Func::Bool
            | Func::String
            | Func::Log10
            | Func::ToLower => (1, Some(1)),
            Func::Lt
            | Func::Lte
            | Func::Gt
            | Func::Gte
            | Func::StartsWith
            | Func::EndsWith
            | Func::Contains
            | Func::Sub
            | Func::Div
            | Func::Mod
            | Func::RegMatch
            | Func::RegValue
            | Func::RegCount => (2, Some(2)),
            Func::Length => (1, Some(2)),
            Func::If | Func::Equals | Func::In => (2, None),
            Func::Switch => (3, None),
            Func::Coalesce
            | Func::And
            | Func::Or
            | Func::Min
            | Func::Max
            | Func::Concat
            | Func::Sum
            | Func::Mul => (1, None),
        }
    }
}

/// Documented functions Waggle does not evaluate, with the reason given to the user.
const UNSUPPORTED: [(&str, &str); 8] = [
    ("UNIX_TIMESTAMP", "date-string parsing is not supported"),
    ("FORMAT_TIME", "time formatting is not supported"),
    (
        "BUCKET",
        "its bucket boundaries are not documented precisely",
    ),
    ("INGEST_TIMESTAMP", "ingest time is not stored"),
    ("RAW_METRIC", "it is for metrics datasets only"),
    ("LAST", "it is for metrics datasets only"),
    ("RATE", "it is for metrics datasets only"),
    ("INCREASE", "it is for metrics datasets only"),
];
const UNSUPPORTED_SUMMARIZE: &str = "SUMMARIZE";

/// A parsed expression. Positions are 1-based characters.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Column {
        name: String,
        pos: usize,
    },
    Literal {
        value: Literal,
        pos: usize,
    },
    Call {
        func: Func,
        args: Vec<Expr>,
        pos: usize,
    },
}

impl Expr {
    pub fn pos(&self) -> usize {
        match self {
            Expr::Column { pos, .. } | Expr::Literal { pos, .. } | Expr::Call { pos, .. } => *pos,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Column(String),
    Dollar,
    Int(String),
    Float(String),
    Str(String),
    Raw(String),
    Word(String),
    /// `! * / % - + < <= > >= = != ( ) ,`
    Op(&'static str),
}

fn is_colrune(c: char) -> bool {
    c.is_alphabetic()
        || c.is_numeric()
        || matches!(c, '_' | '.' | '/' | ':' | '=' | '+' | '?' | '-')
}

struct Lexer {
    chars: Vec<char>,
    i: usize,
}

impl Lexer {
    fn peek(&self, k: usize) -> Option<char> {
        self.chars.get(self.i + k).copied()
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        self.i - start
    }

    /// `[eE][+-]?DIGITS`, if present.
    fn exponent(&mut self) -> bool {
        if !matches!(self.peek(0), Some('e' | 'E')) {
            return false;
        }
        let sign = usize::from(matches!(self.peek(1), Some('+' | '-')));
        if !self.peek(1 + sign).is_some_and(|c| c.is_ascii_digit()) {
            return false;
        }
        self.i += 1 + sign;
        self.digits();
        true
    }

    fn text(&self, from: usize) -> String {
        self.chars[from..self.i].iter().collect()
    }

    /// A Go interpreted string literal; `self.i` is at the opening quote.
    fn string(&mut self) -> Result<String, DerivedError> {
        let start = self.i + 1;
        self.i += 1;
        let mut bytes: Vec<u8> = Vec::new();
        loop {
            let Some(c) = self.peek(0) else {
                return err(start, "unterminated string literal");
            };
            self.i += 1;
            match c {
                '"' => break,
                '\\' => {
                    let at = self.i;
                    let Some(e) = self.peek(0) else {
                        return err(start, "unterminated string literal");
                    };
                    self.i += 1;
                    let simple = match e {
                        'a' => Some(7u8),
                        'b' => Some(8),
                        'f' => Some(12),
                        'n' => Some(b'\n'),
                        'r' => Some(b'\r'),
                        't' => Some(b'\t'),
                        'v' => Some(11),
                        '\\' => Some(b'\\'),
                        '\'' => Some(b'\''),
                        '"' => Some(b'"'),
                        _ => None,
                    };
                    if let Some(b) = simple {
                        bytes.push(b);
                        continue;
                    }
                    let (radix, n) = match e {
                        'x' => (16, 2),
                        'u' => (16, 4),
                        'U' => (16, 8),
                        '0'..='7' => {
                            self.i -= 1;
                            (8, 3)
                        }
                        _ => return err(at, format!("unknown escape sequence \\{e}")),
                    };
                    let digits: String = (0..n).filter_map(|k| self.peek(k)).collect();
                    let valid =
                        digits.chars().count() == n && digits.chars().all(|c| c.is_digit(radix));
                    let Some(v) = valid
                        .then(|| u32::from_str_radix(&digits, radix).ok())
                        .flatten()
                    else {
                        return err(at, format!("escape \\{e} needs {n} digits in base {radix}"));
                    };
                    self.i += n;
                    if matches!(e, 'u' | 'U') {
                        let Some(ch) = char::from_u32(v) else {
                            return err(
                                at,
                                format!("escape \\{e}{digits} is not a Unicode scalar value"),
                            );
                        };
                        let mut buf = [0u8; 4];
                        bytes.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    } else {
                        let Ok(b) = u8::try_from(v) else {
                            return err(at, format!("octal escape \\{digits} is above \\377"));
                        };
                        bytes.push(b);
                    }
                }
                c => {
                    let mut buf = [0u8; 4];
                    bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        String::from_utf8(bytes)
            .or_else(|_| err(start, "string literal escapes do not form valid UTF-8"))
    }

    fn next(&mut self) -> Result<Option<(Tok, usize)>, DerivedError> {
        while self.peek(0).is_some_and(char::is_whitespace) {
            self.i += 1;
        }
        let Some(c) = self.peek(0) else {
            return Ok(None);
        };
        let pos = self.i + 1;
        let tok = match c {
            '$' => {
                self.i += 1;
                let from = self.i;
                while self.peek(0).is_some_and(is_colrune) {
                    self.i += 1;
                }
                if self.i > from {
                    Tok::Column(self.text(from))
                } else {
                    Tok::Dollar
                }
            }
            '"' => Tok::Str(self.string()?),
            '`' => {
                self.i += 1;
                let from = self.i;
                while self.peek(0).is_some_and(|c| c != '`') {
                    self.i += 1;
                }
                if self.peek(0).is_none() {
                    return err(pos, "unterminated raw string literal");
                }
                let s = self.text(from);
                self.i += 1;
                Tok::Raw(s)
            }
            '0'..='9' | '.' => {
                let from = self.i;
                let int_digits = self.digits();
                let mut float = false;
                if self.peek(0) == Some('.') && self.peek(1).is_some_and(|c| c.is_ascii_digit()) {
                    self.i += 1;
                    self.digits();
                    float = true;
                } else if int_digits == 0 {
                    return err(pos, "unexpected character '.'");
                }
                float |= self.exponent();
                let text = self.text(from);
                if float {
                    Tok::Float(text)
                } else {
                    Tok::Int(text)
                }
            }
            c if c.is_ascii_alphabetic() => {
                let from = self.i;
                while self
                    .peek(0)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    self.i += 1;
                }
                Tok::Word(self.text(from))
            }
            _ => {
                let two: String = [Some(c), self.peek(1)].iter().flatten().collect();
                let op = ["<=", ">=", "!="]
                    .into_iter()
                    .find(|o| *o == two)
                    .or_else(|| {
                        ["!", "*", "/", "%", "-", "+", "<", ">", "=", "(", ")", ","]
                            .into_iter()
                            .find(|o| o.starts_with(c))
                    });
                let Some(op) = op else {
                    return err(pos, format!("unexpected character {c:?}"));
                };
                self.i += op.len();
                Tok::Op(op)
            }
        };
        Ok(Some((tok, pos)))
    }
}

// ---------------------------------------------------------------------------------------
// Parser

struct Parser {
    toks: Vec<(Tok, usize)>,
    i: usize,
    /// Position just past the end, for "unexpected end" errors.
    end: usize,
}

/// Binary operators by binding power (higher binds tighter) and the function they mean.
fn binary(tok: &Tok) -> Option<(u8, &'static str)> {
    Some(match tok {
        Tok::Op("*") | Tok::Op("/") | Tok::Op("%") => (7, "high"),
        Tok::Op("-") => (6, "-"),
        Tok::Op("+") => (5, "+"),
        Tok::Op("<") | Tok::Op("<=") | Tok::Op(">") | Tok::Op(">=") => (4, "cmp"),
        Tok::Op("=") | Tok::Op("!=") => (3, "eq"),
        Tok::Word(w) if w == "AND" => (2, "AND"),
        Tok::Word(w) if w == "OR" => (1, "OR"),
        _ => return None,
    })
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i).map(|(t, _)| t)
    }

    fn pos(&self) -> usize {
        self.toks.get(self.i).map_or(self.end, |(_, p)| *p)
    }

    fn describe(&self) -> String {
        match self.peek() {
            None => "end of expression".into(),
            Some(Tok::Column(c)) => format!("column ${c}"),
            Some(Tok::Dollar) => "'$'".into(),
            Some(Tok::Int(s) | Tok::Float(s)) => format!("number {s}"),
            Some(Tok::Str(_) | Tok::Raw(_)) => "string literal".into(),
            Some(Tok::Word(w)) => format!("{w:?}"),
            Some(Tok::Op(o)) => format!("'{o}'"),
        }
    }

    fn expect(&mut self, op: &'static str) -> Result<(), DerivedError> {
        if self.peek() == Some(&Tok::Op(op)) {
            self.i += 1;
            Ok(())
        } else {
            err(
                self.pos(),
                format!("expected '{op}', found {}", self.describe()),
            )
        }
    }

    fn expr(&mut self, min_bp: u8, depth: usize) -> Result<Expr, DerivedError> {
        if depth > NESTING_MAX {
            return err(
                self.pos(),
                format!("expression nests deeper than {NESTING_MAX} levels"),
            );
        }
        let mut lhs = self.unary(depth)?;
        while let Some((bp, kind)) = self.peek().and_then(binary) {
            if bp < min_bp {
                break;
            }
            let (tok, pos) = self.toks[self.i].clone();
            self.i += 1;
            let rhs = self.expr(bp + 1, depth + 1)?;
            let call = |func: Func, args: Vec<Expr>| Expr::Call { func, args, pos };
            lhs = match (kind, tok) {
                (_, Tok::Op("*")) => call(Func::Mul, vec![lhs, rhs]),
                (_, Tok::Op("/")) => call(Func::Div, vec![lhs, rhs]),
                (_, Tok::Op("%")) => call(Func::Mod, vec![lhs, rhs]),
                (_, Tok::Op("-")) => call(Func::Sub, vec![lhs, rhs]),
                (_, Tok::Op("+")) => call(Func::Sum, vec![lhs, rhs]),
                (_, Tok::Op("<")) => call(Func::Lt, vec![lhs, rhs]),
                (_, Tok::Op("<=")) => call(Func::Lte, vec![lhs, rhs]),
                (_, Tok::Op(">")) => call(Func::Gt, vec![lhs, rhs]),
                (_, Tok::Op(">=")) => call(Func::Gte, vec![lhs, rhs]),
                (_, Tok::Op("=")) => call(Func::In, vec![lhs, rhs]),
                (_, Tok::Op("!=")) => call(Func::Not, vec![call(Func::In, vec![lhs, rhs])]),
                ("AND", _) => call(Func::And, vec![lhs, rhs]),
                _ => call(Func::Or, vec![lhs, rhs]),
            };
        }
        Ok(lhs)
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, DerivedError> {
        if self.peek() == Some(&Tok::Op("!")) {
            let pos = self.pos();
            self.i += 1;
            if depth + 1 > NESTING_MAX {
                return err(
                    pos,
                    format!("expression nests deeper than {NESTING_MAX} levels"),
                );
            }
            let inner = self.unary(depth + 1)?;
            return Ok(Expr::Call {
                func: Func::Not,
                args: vec![inner],
                pos,
            });
        }
        self.primary(depth)
    }

    fn number(
        text: &str,
        negative: bool,
        float: bool,
        pos: usize,
    ) -> Result<Literal, DerivedError> {
        let full = if negative {
            format!("-{text}")
        } else {
            text.to_string()
        };
        if !float {
            return match full.parse::<i64>() {
                Ok(i) => Ok(Some(Value::Int(i))),
                Err(_) => err(pos, format!("integer {full} is out of range")),
            };
        }
        match full.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Some(Value::Float(f))),
            _ => err(pos, format!("number {full} is out of range")),
        }
    }

    fn primary(&mut self, depth: usize) -> Result<Expr, DerivedError> {
        let pos = self.pos();
        let Some(tok) = self.peek().cloned() else {
            return err(pos, "unexpected end of expression");
        };
        self.i += 1;
        let literal = |value: Literal| Ok(Expr::Literal { value, pos });
        match tok {
            Tok::Column(name) => Ok(Expr::Column { name, pos }),
            Tok::Dollar => match self.peek().cloned() {
                Some(Tok::Str(name) | Tok::Raw(name)) => {
                    self.i += 1;
                    if name.is_empty() {
                        return err(pos, "empty column name");
                    }
                    Ok(Expr::Column { name, pos })
                }
                _ => err(pos, "expected a column name after '$'"),
            },
            Tok::Int(s) => literal(Self::number(&s, false, false, pos)?),
            Tok::Float(s) => literal(Self::number(&s, false, true, pos)?),
            Tok::Op("-") => match self.peek().cloned() {
                Some(Tok::Int(s)) => {
                    self.i += 1;
                    literal(Self::number(&s, true, false, pos)?)
                }
                Some(Tok::Float(s)) => {
                    self.i += 1;
                    literal(Self::number(&s, true, true, pos)?)
                }
                _ => err(
                    pos,
                    "'-' must be followed by a number here (there is no unary minus)",
                ),
            },
            Tok::Str(s) | Tok::Raw(s) => literal(Some(Value::Str(s))),
            Tok::Op("(") => {
                let e = self.expr(0, depth + 1)?;
                self.expect(")")?;
                Ok(e)
            }
            Tok::Word(w) if w == "true" => literal(Some(Value::Bool(true))),
            Tok::Word(w) if w == "false" => literal(Some(Value::Bool(false))),
            Tok::Word(w) if w == "null" => literal(None),
            Tok::Word(w) => {
                if self.peek() != Some(&Tok::Op("(")) {
                    return err(
                        pos,
                        format!(
                            "unexpected word {w:?} (columns start with '$'; functions need '(')"
                        ),
                    );
                }
                if w.len() < 2 {
                    return err(pos, format!("unknown function {w:?}"));
                }
                let func = match Func::parse(&w) {
                    Some(f) => f,
                    None => {
                        if let Some((_, why)) = UNSUPPORTED.iter().find(|(n, _)| *n == w) {
                            return err(pos, format!("function {w} is not supported: {why}"));
                        }
                        if w == UNSUPPORTED_SUMMARIZE {
                            return err(
                                pos,
                                format!("function {w} is not supported: it is for metrics datasets only"),
                            );
                        }
                        if Func::parse(&w.to_ascii_uppercase()).is_some() {
                            return err(
                                pos,
                                format!(
                                    "unknown function {w:?} (function names are upper case: {})",
                                    w.to_ascii_uppercase()
                                ),
                            );
                        }
                        return err(pos, format!("unknown function {w:?}"));
                    }
                };
                self.i += 1; // '('
                let mut args = Vec::new();
                loop {
                    if self.peek() == Some(&Tok::Op(")")) {
                        self.i += 1;
                        break;
                    }
                    args.push(self.expr(0, depth + 1)?);
                    match self.peek() {
                        Some(Tok::Op(",")) => self.i += 1,
                        Some(Tok::Op(")")) => {}
                        _ => {
                            return err(
                                self.pos(),
                                format!(
                                    "expected ',' or ')' in {}(…), found {}",
                                    func.name(),
                                    self.describe()
                                ),
                            )
                        }
                    }
                }
                let (lo, hi) = func.arity();
                if args.len() < lo || hi.is_some_and(|h| args.len() > h) {
                    let want = match hi {
                        Some(h) if h == lo => format!("{lo}"),
                        Some(h) => format!("{lo} to {h}"),
                        None => format!("at least {lo}"),
                    };
                    return err(
                        pos,
                        format!(
                            "{} takes {want} argument(s), got {}",
                            func.name(),
                            args.len()
                        ),
                    );
                }
                Ok(Expr::Call { func, args, pos })
            }
            Tok::Op(o) => err(pos, format!("unexpected '{o}'")),
        }
    }
}

/// Parses a derived column expression.
pub fn parse(text: &str) -> Result<Expr, DerivedError> {
    let n = text.chars().count();
    if n > EXPRESSION_LEN_MAX {
        return err(
            EXPRESSION_LEN_MAX + 1,
            format!("expression is {n} characters long; at most {EXPRESSION_LEN_MAX} are allowed"),
        );
    }
    let mut lx = Lexer {
        chars: text.chars().collect(),
        i: 0,
    };
    let mut toks = Vec::new();
    while let Some(t) = lx.next()? {
        toks.push(t);
    }
    if toks.is_empty() {
        return err(1, "expression is empty");
    }
    let mut p = Parser {
        toks,
        i: 0,
        end: n + 1,
    };
    let e = p.expr(0, 1)?;
    if p.i < p.toks.len() {
        return err(
            p.pos(),
            format!("unexpected {} after the expression", p.describe()),
        );
    }
    Ok(e)
}

// ---------------------------------------------------------------------------------------
// Typed tree

/// A value type known at plan time. `Null`: always null.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ty {
    Bool,
    Int,
    Float,
    Str,
    Null,
}

impl Ty {
    pub fn column_type(self) -> Option<ColumnType> {
        match self {
            Ty::Bool => Some(ColumnType::Boolean),
            Ty::Int => Some(ColumnType::Integer),
            Ty::Float => Some(ColumnType::Float),
            Ty::Str => Some(ColumnType::String),
            Ty::Null => None,
        }
    }

    pub fn of_column(t: Option<ColumnType>) -> Ty {
        match t {
            Some(ColumnType::Boolean) => Ty::Bool,
            Some(ColumnType::Integer) => Ty::Int,
            Some(ColumnType::Float) => Ty::Float,
            Some(ColumnType::String) => Ty::Str,
            None => Ty::Null,
        }
    }

    fn is_num(self) -> bool {
        matches!(self, Ty::Int | Ty::Float)
    }
}

/// Binary arithmetic in doubles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    /// Null when the divisor is 0.
    Div,
    /// Remainder with the dividend's sign (C `fmod`); null when the divisor is 0.
    Mod,
}

/// A regular expression, validated at plan time (RE2 syntax).
#[derive(Debug, Clone)]
pub struct Pattern {
    pub source: String,
    pub regex: regex::Regex,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

/// A compiled expression node; the value has type `ty` or is null.
#[derive(Debug, Clone, PartialEq)]
pub struct Typed {
    pub ty: Ty,
    pub node: Node,
}

/// Operations with one meaning each (module docs); `sql` renders them, `naive` evaluates.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A literal of type `ty` (`None` only with `Ty::Null`).
    Lit(Literal),
    /// A column (stored, special or derived) read in its own type.
    Column(ColumnRef),
    /// Event time in float Unix seconds.
    EventTime,
    /// Truthiness (never null).
    Truthy(Box<Typed>),
    /// Any value as a double: strings parsed (unparseable → 0), booleans 0; null stays null.
    ToFloat(Box<Typed>),
    /// Any value as text (ints decimal, floats shortest round-trip, `true`/`false`).
    ToText(Box<Typed>),
    /// A double truncated toward zero to an int; null when out of range.
    TruncInt(Box<Typed>),
    Not(Box<Typed>),
    And(Vec<Typed>),
    Or(Vec<Typed>),
    /// The value is not null.
    Exists(Box<Typed>),
    /// First branch whose condition (Bool, never null) holds; else `default` (or null).
    Case {
        arms: Vec<(Typed, Typed)>,
        default: Option<Box<Typed>>,
    },
    /// First case literal equal to `subject` (same type as it, non-null).
    Switch {
        subject: Box<Typed>,
        cases: Vec<(Value, Typed)>,
        default: Option<Box<Typed>>,
    },
    /// First non-null argument.
    Coalesce(Vec<Typed>),
    /// `a op b` on two values of one type (Int, Float or Str); false when either is null.
    Cmp {
        op: crate::plan::CmpOp,
        a: Box<Typed>,
        b: Box<Typed>,
    },
    /// `subject` is non-null and equals a candidate (all of the subject's type).
    In {
        subject: Box<Typed>,
        candidates: Vec<Typed>,
    },
    /// Float arithmetic; null if either side is null.
    Arith {
        op: ArithOp,
        a: Box<Typed>,
        b: Box<Typed>,
    },
    /// Base-10 logarithm of a double; null for x ≤ 0.
    Log10(Box<Typed>),
    /// Smallest / largest non-null argument (all of type `ty`).
    Least(Vec<Typed>),
    Greatest(Vec<Typed>),
    /// Concatenation of the non-null (Str) arguments; never null.
    Concat(Vec<Typed>),
    Lower(Box<Typed>),
    /// Str, Str → Bool, false when either is null.
    StartsWith(Box<Typed>, Box<Typed>),
    EndsWith(Box<Typed>, Box<Typed>),
    Contains(Box<Typed>, Box<Typed>),
    /// Length of a string in characters, or bytes.
    Length {
        bytes: bool,
        arg: Box<Typed>,
    },
    /// The string contains a match (false when null).
    RegMatch(Box<Typed>, Pattern),
    /// Capture group `group` of the first match; null when empty or no match.
    RegValue(Box<Typed>, Pattern, usize),
    /// Number of non-overlapping matches (0 when null).
    RegCount(Box<Typed>, Pattern),
}

fn t(ty: Ty, node: Node) -> Typed {
    Typed { ty, node }
}

fn b(x: Typed) -> Box<Typed> {
    Box::new(x)
}

/// Constant false / null.
fn false_() -> Typed {
    t(Ty::Bool, Node::Lit(Some(Value::Bool(false))))
}
fn null() -> Typed {
    t(Ty::Null, Node::Lit(None))
}

impl Typed {
    /// Nodes in the rendered SQL, counting each use of a derived column's expression again.
    pub fn expanded_size(&self) -> usize {
        let kids: usize = self.children().iter().map(|c| c.expanded_size()).sum();
        let own = match &self.node {
            Node::Column(c) => match &c.kind {
                crate::plan::ColumnKind::Derived(d) => d.expanded_size,
                _ => 1,
            },
            // Strings are read twice when parsed as numbers.
            Node::ToFloat(a) if a.ty == Ty::Str => 1 + kids,
            _ => 1,
        };
        own.saturating_add(kids)
    }

    fn children(&self) -> Vec<&Typed> {
        match &self.node {
            Node::Lit(_) | Node::Column(_) | Node::EventTime => vec![],
            Node::Truthy(a)
            | Node::ToFloat(a)
            | Node::ToText(a)
            | Node::TruncInt(a)
            | Node::Not(a)
            | Node::Exists(a)
            | Node::Log10(a)
            | Node::Lower(a)
            | Node::Length { arg: a, .. }
            | Node::RegMatch(a, _)
            | Node::RegValue(a, _, _)
            | Node::RegCount(a, _) => vec![a],
            Node::And(v)
            | Node::Or(v)
            | Node::Coalesce(v)
            | Node::Least(v)
            | Node::Greatest(v)
            | Node::Concat(v) => v.iter().collect(),
            Node::Case { arms, default } => arms
                .iter()
                .flat_map(|(c, v)| [c, v])
                .chain(default.as_deref())
                .collect(),
            Node::Switch {
                subject,
                cases,
                default,
            } => std::iter::once(subject.as_ref())
                .chain(cases.iter().map(|(_, v)| v))
                .chain(default.as_deref())
                .collect(),
            Node::In {
                subject,
                candidates,
            } => std::iter::once(subject.as_ref())
                .chain(candidates.iter())
                .collect(),
            Node::Cmp { a, b, .. } | Node::Arith { a, b, .. } => vec![a, b],
            Node::StartsWith(a, b) | Node::EndsWith(a, b) | Node::Contains(a, b) => vec![a, b],
        }
    }
}

/// A derived column ready for rendering and evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct DerivedColumn {
    pub alias: String,
    pub expression: String,
    pub expr: Typed,
    /// [`Typed::expanded_size`] of `expr`.
    pub expanded_size: usize,
}

// Literals are finite (the parser rejects others), so equality is reflexive.
impl Eq for DerivedColumn {}

/// Shared handle stored in [`crate::plan::ColumnKind::Derived`].
pub type DerivedRef = Arc<DerivedColumn>;

// ---------------------------------------------------------------------------------------
// Compiler

fn truthy(x: Typed) -> Typed {
    match x.ty {
        Ty::Bool if never_null(&x.node) => x,
        Ty::Null => false_(),
        _ => t(Ty::Bool, Node::Truthy(b(x))),
    }
}

/// Bool nodes that are never null.
fn never_null(n: &Node) -> bool {
    matches!(
        n,
        Node::Lit(Some(_))
            | Node::Truthy(_)
            | Node::Not(_)
            | Node::And(_)
            | Node::Or(_)
            | Node::Exists(_)
            | Node::Cmp { .. }
            | Node::In { .. }
            | Node::StartsWith(..)
            | Node::EndsWith(..)
            | Node::Contains(..)
            | Node::RegMatch(..)
    )
}

fn to_float(x: Typed) -> Typed {
    if let Node::Lit(Some(Value::Int(i))) = x.node {
        return t(Ty::Float, Node::Lit(Some(Value::Float(i as f64))));
    }
    match x.ty {
        Ty::Float => x,
        Ty::Null => t(Ty::Float, Node::Lit(None)),
        _ => t(Ty::Float, Node::ToFloat(b(x))),
    }
}

fn to_text(x: Typed) -> Typed {
    match x.ty {
        Ty::Str => x,
        Ty::Null => t(Ty::Str, Node::Lit(None)),
        _ => t(Ty::Str, Node::ToText(b(x))),
    }
}

/// The common type of branch values (module docs), ignoring always-null ones.
fn unify(tys: impl Iterator<Item = Ty>) -> Ty {
    let mut out = Ty::Null;
    for ty in tys {
        out = match (out, ty) {
            (o, Ty::Null) => o,
            (Ty::Null, t) => t,
            (a, b) if a == b => a,
            (a, b) if a.is_num() && b.is_num() => Ty::Float,
            _ => Ty::Str,
        };
    }
    out
}

fn coerce(x: Typed, ty: Ty) -> Typed {
    if x.ty == ty {
        return x;
    }
    match ty {
        Ty::Float => to_float(x),
        Ty::Str => to_text(x),
        // Only always-null values reach here with another target type.
        _ => t(ty, Node::Lit(None)),
    }
}

/// Value class for equality and ordering: numbers together.
fn class(ty: Ty) -> u8 {
    match ty {
        Ty::Int | Ty::Float => 1,
        Ty::Str => 2,
        Ty::Bool => 3,
        Ty::Null => 0,
    }
}

/// Resolves `$name` (at `pos`) to a typed column.
pub trait Resolver {
    fn column(&mut self, name: &str, pos: usize) -> Result<Typed, DerivedError>;
}

fn pattern(e: &Expr, func: Func) -> Result<Pattern, DerivedError> {
    let Expr::Literal {
        value: Some(Value::Str(source)),
        pos,
    } = e
    else {
        return err(
            e.pos(),
            format!("the pattern of {} must be a string literal", func.name()),
        );
    };
    if source.len() > REGEX_LEN_MAX {
        return err(
            *pos,
            format!(
                "regular expression is {} bytes long; at most {REGEX_LEN_MAX} are allowed",
                source.len()
            ),
        );
    }
    match regex::RegexBuilder::new(source)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
    {
        Ok(regex) => Ok(Pattern {
            source: source.clone(),
            regex,
        }),
        Err(e) => err(*pos, format!("invalid regular expression: {e}")),
    }
}

/// Compiles a parsed expression; column references go through `r`.
pub fn compile(e: &Expr, r: &mut dyn Resolver) -> Result<Typed, DerivedError> {
    match e {
        Expr::Column { name, pos } => r.column(name, *pos),
        Expr::Literal { value, .. } => Ok(match value {
            None => null(),
            Some(v) => t(
                Ty::of_column(Some(v.column_type())),
                Node::Lit(Some(v.clone())),
            ),
        }),
        Expr::Call { func, args, pos } => {
            let pos = *pos;
            let mut xs = Vec::with_capacity(args.len());
            for (i, a) in args.iter().enumerate() {
                // Regex patterns are checked as literals, not compiled.
                if matches!(func, Func::RegMatch | Func::RegValue | Func::RegCount) && i == 1 {
                    continue;
                }
                if *func == Func::Length && i == 1 {
                    continue;
                }
                if *func == Func::Switch && i > 0 && i % 2 == 1 && i + 1 < args.len() {
                    continue;
                }
                xs.push(compile(a, r)?);
            }
            call(*func, args, xs, pos)
        }
    }
}

/// Compiled arguments, consumed in order.
struct Args(std::vec::IntoIter<Typed>);

impl Args {
    fn one(&mut self) -> Typed {
        self.0.next().unwrap_or_else(null)
    }
    fn rest(&mut self) -> Vec<Typed> {
        self.0.by_ref().collect()
    }
}

fn call(func: Func, args: &[Expr], xs: Vec<Typed>, pos: usize) -> Result<Typed, DerivedError> {
    let mut xs = Args(xs.into_iter());
    Ok(match func {
        Func::If => {
            let xs = xs.rest();
            let mut arms = Vec::new();
            let mut chunks = xs.chunks_exact(2);
            for pair in &mut chunks {
                arms.push((truthy(pair[0].clone()), pair[1].clone()));
            }
            let default = chunks.remainder().first().cloned();
            let ty = unify(
                arms.iter()
                    .map(|(_, v)| v.ty)
                    .chain(default.iter().map(|d| d.ty)),
            );
            let arms = arms.into_iter().map(|(c, v)| (c, coerce(v, ty))).collect();
            let default = default.map(|d| b(coerce(d, ty)));
            t(ty, Node::Case { arms, default })
        }
        Func::Switch => {
            let subject = xs.one();
            let values: Vec<Typed> = xs.rest();
            // args: subject, (case, value)*, [default]; `values` holds the values and default.
            let n_cases = (args.len() - 1) / 2;
            let mut raw_cases = Vec::new();
            for k in 0..n_cases {
                let ce = &args[1 + 2 * k];
                let Expr::Literal { value, .. } = ce else {
                    return err(ce.pos(), "SWITCH cases must be literals");
                };
                raw_cases.push(value.clone());
            }
            let default = values.get(n_cases).cloned();
            let ty = unify(values.iter().map(|v| v.ty));
            let numeric_float = subject.ty == Ty::Float
                || (subject.ty == Ty::Int
                    && raw_cases.iter().any(|c| matches!(c, Some(Value::Float(_)))));
            let subject = if numeric_float {
                to_float(subject)
            } else {
                subject
            };
            let mut cases = Vec::new();
            for (k, c) in raw_cases.into_iter().enumerate() {
                let Some(c) = c else { continue };
                if class(c.column_type_ty()) != class(subject.ty) {
                    continue;
                }
                let c = match (c, numeric_float) {
                    (Value::Int(i), true) => Value::Float(i as f64),
                    (c, _) => c,
                };
                cases.push((c, coerce(values[k].clone(), ty)));
            }
            if subject.ty == Ty::Null {
                cases.clear();
            }
            t(
                ty,
                Node::Switch {
                    subject: b(subject),
                    cases,
                    default: default.map(|d| b(coerce(d, ty))),
                },
            )
        }
        Func::Coalesce => {
            let xs: Vec<Typed> = xs.rest().into_iter().collect();
            let ty = unify(xs.iter().map(|x| x.ty));
            let xs: Vec<Typed> = xs
                .into_iter()
                .filter(|x| x.ty != Ty::Null)
                .map(|x| coerce(x, ty))
                .collect();
            match xs.len() {
                0 => null(),
                _ => t(ty, Node::Coalesce(xs)),
            }
        }
        Func::Not => t(Ty::Bool, Node::Not(b(truthy(xs.one())))),
        Func::And | Func::Or => {
            let xs: Vec<Typed> = xs.rest().into_iter().map(truthy).collect();
            t(
                Ty::Bool,
                if func == Func::And {
                    Node::And(xs)
                } else {
                    Node::Or(xs)
                },
            )
        }
        Func::Lt | Func::Lte | Func::Gt | Func::Gte => {
            use crate::plan::CmpOp;
            let (a, c) = (xs.one(), xs.one());
            let op = match func {
                Func::Lt => CmpOp::Lt,
                Func::Lte => CmpOp::Le,
                Func::Gt => CmpOp::Gt,
                _ => CmpOp::Ge,
            };
            match (a.ty, c.ty) {
                (Ty::Int, Ty::Int) | (Ty::Str, Ty::Str) | (Ty::Float, Ty::Float) => t(
                    Ty::Bool,
                    Node::Cmp {
                        op,
                        a: b(a),
                        b: b(c),
                    },
                ),
                (x, y) if x.is_num() && y.is_num() => t(
                    Ty::Bool,
                    Node::Cmp {
                        op,
                        a: b(to_float(a)),
                        b: b(to_float(c)),
                    },
                ),
                _ => false_(),
            }
        }
        Func::Equals | Func::In => {
            let subject = xs.one();
            let cands: Vec<Typed> = xs
                .rest()
                .into_iter()
                .filter(|c| c.ty != Ty::Null && class(c.ty) == class(subject.ty))
                .collect();
            if subject.ty == Ty::Null || cands.is_empty() {
                return Ok(false_());
            }
            let float = subject.ty == Ty::Float || cands.iter().any(|c| c.ty == Ty::Float);
            let fix = |x: Typed| if float { to_float(x) } else { x };
            t(
                Ty::Bool,
                Node::In {
                    subject: b(fix(subject)),
                    candidates: cands.into_iter().map(fix).collect(),
                },
            )
        }
        Func::Min | Func::Max => {
            let xs: Vec<Typed> = xs.rest().into_iter().filter(|x| x.ty != Ty::Null).collect();
            let Some(first) = xs.first() else {
                return Ok(null());
            };
            if xs.iter().any(|x| class(x.ty) != class(first.ty)) {
                return err(
                    pos,
                    format!(
                        "{} arguments must all be numbers, all strings or all booleans",
                        func.name()
                    ),
                );
            }
            let ty = unify(xs.iter().map(|x| x.ty));
            let xs: Vec<Typed> = xs.into_iter().map(|x| coerce(x, ty)).collect();
            t(
                ty,
                if func == Func::Min {
                    Node::Least(xs)
                } else {
                    Node::Greatest(xs)
                },
            )
        }
        Func::Concat => {
            let xs: Vec<Typed> = xs
                .rest()
                .into_iter()
                .filter(|x| x.ty != Ty::Null)
                .map(to_text)
                .collect();
            t(Ty::Str, Node::Concat(xs))
        }
        Func::Exists => {
            let x = xs.one();
            if x.ty == Ty::Null {
                false_()
            } else {
                t(Ty::Bool, Node::Exists(b(x)))
            }
        }
        Func::StartsWith | Func::EndsWith | Func::Contains => {
            let (a, c) = (xs.one(), xs.one());
            if a.ty != Ty::Str || c.ty != Ty::Str {
                return Ok(false_());
            }
            let (a, c) = (b(a), b(c));
            t(
                Ty::Bool,
                match func {
                    Func::StartsWith => Node::StartsWith(a, c),
                    Func::EndsWith => Node::EndsWith(a, c),
                    _ => Node::Contains(a, c),
                },
            )
        }
        Func::Sum | Func::Mul | Func::Sub | Func::Div | Func::Mod => {
            let op = match func {
                Func::Sum => ArithOp::Add,
                Func::Mul => ArithOp::Mul,
                Func::Sub => ArithOp::Sub,
                Func::Div => ArithOp::Div,
                _ => ArithOp::Mod,
            };
            let mut xs = xs.rest().into_iter().map(to_float);
            let mut acc = xs.next().unwrap_or_else(|| to_float(null()));
            for x in xs {
                acc = t(
                    Ty::Float,
                    Node::Arith {
                        op,
                        a: b(acc),
                        b: b(x),
                    },
                );
            }
            acc
        }
        Func::Log10 => t(Ty::Float, Node::Log10(b(to_float(xs.one())))),
        Func::Int => {
            let x = xs.one();
            match x.ty {
                Ty::Int => x,
                Ty::Null => t(Ty::Int, Node::Lit(None)),
                _ => t(Ty::Int, Node::TruncInt(b(to_float(x)))),
            }
        }
        Func::Float => to_float(xs.one()),
        Func::Bool => truthy(xs.one()),
        Func::String => t(
            Ty::Str,
            Node::Coalesce(vec![
                to_text(xs.one()),
                t(Ty::Str, Node::Lit(Some(Value::Str(String::new())))),
            ]),
        ),
        Func::ToLower => {
            let x = to_text(xs.one());
            t(Ty::Str, Node::Lower(b(x)))
        }
        Func::Length => {
            let bytes = match args.get(1) {
                None => false,
                Some(Expr::Literal {
                    value: Some(Value::Str(m)),
                    pos,
                }) => match m.as_str() {
                    "bytes" => true,
                    "chars" => false,
                    _ => {
                        return err(
                            *pos,
                            "LENGTH's second argument must be \"bytes\" or \"chars\"",
                        )
                    }
                },
                Some(other) => {
                    return err(
                        other.pos(),
                        "LENGTH's second argument must be \"bytes\" or \"chars\"",
                    )
                }
            };
            let x = xs.one();
            if x.ty != Ty::Str {
                return Ok(t(Ty::Int, Node::Lit(None)));
            }
            t(Ty::Int, Node::Length { bytes, arg: b(x) })
        }
        Func::RegMatch | Func::RegValue | Func::RegCount => {
            let p = pattern(&args[1], func)?;
            let x = xs.one();
            if x.ty != Ty::Str {
                return Ok(match func {
                    Func::RegMatch => false_(),
                    Func::RegValue => t(Ty::Str, Node::Lit(None)),
                    _ => t(Ty::Int, Node::Lit(Some(Value::Int(0)))),
                });
            }
            match func {
                Func::RegMatch => t(Ty::Bool, Node::RegMatch(b(x), p)),
                Func::RegValue => {
                    let group = usize::from(p.regex.captures_len() > 1);
                    t(Ty::Str, Node::RegValue(b(x), p, group))
                }
                _ => t(Ty::Int, Node::RegCount(b(x), p)),
            }
        }
        Func::EventTimestamp => t(Ty::Float, Node::EventTime),
    })
}

trait ValueTy {
    fn column_type_ty(&self) -> Ty;
}

impl ValueTy for Value {
    fn column_type_ty(&self) -> Ty {
        Ty::of_column(Some(self.column_type()))
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ty::Bool => "boolean",
            Ty::Int => "integer",
            Ty::Float => "float",
            Ty::Str => "string",
            Ty::Null => "null",
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// S-expression form of a parse tree.
    fn show(e: &Expr) -> String {
        match e {
            Expr::Column { name, .. } => format!("${name}"),
            Expr::Literal { value, .. } => match value {
                None => "null".into(),
                Some(Value::Str(s)) => format!("{s:?}"),
                Some(Value::Float(f)) => format!("{f:?}"),
                Some(v) => v.to_string(),
            },
            Expr::Call { func, args, .. } => {
                let a: Vec<String> = args.iter().map(show).collect();
                format!("({} {})", func.name(), a.join(" ")).replace(" )", ")")
            }
        }
    }

    fn p(s: &str) -> String {
        match parse(s) {
            Ok(e) => show(&e),
            Err(e) => panic!("{s:?}: {e}"),
        }
    }

    #[test]
    fn parses() {
        let cases = [
            ("$duration_ms", "$duration_ms"),
            ("$http.status_code", "$http.status_code"),
            ("$a-b+c/d:e=f?g", "$a-b+c/d:e=f?g"),
            ("$\"Context Key Length\"", "$Context Key Length"),
            ("$ `raw \\d`", "$raw \\d"),
            ("$über", "$über"),
            ("42", "42"),
            ("-3", "-3"),
            ("- 3", "-3"),
            ("-9223372036854775808", "-9223372036854775808"),
            ("12.02", "12.02"),
            ("-4.82", "-4.82"),
            (".5", "0.5"),
            ("4e+2", "400.0"),
            ("4E-2", "0.04"),
            ("1e3", "1000.0"),
            ("\"a\\tb\\\"c\\\\\"", "\"a\\tb\\\"c\\\\\""),
            ("\"\\x41\\101\\u00e9\\U0001F600\"", "\"AAé😀\""),
            (
                "\"\\a\\b\\f\\n\\r\\v\\'\"",
                "\"\\u{7}\\u{8}\\u{c}\\n\\r\\u{b}'\"",
            ),
            ("`C:\\path\\n`", "\"C:\\\\path\\\\n\""),
            ("true", "true"),
            ("false", "false"),
            ("null", "null"),
            ("EVENT_TIMESTAMP()", "(EVENT_TIMESTAMP)"),
            ("SUM(1, 2, 3,)", "(SUM 1 2 3)"),
            ("IF(GT($a, 1), \"x\")", "(IF (GT $a 1) \"x\")"),
            // Precedence: ! > * / % > - > + > compare > = != > AND > OR.
            ("1 + 2 * 3", "(SUM 1 (MUL 2 3))"),
            ("1 + 2 - 3", "(SUM 1 (SUB 2 3))"),
            ("1 - 2 + 3", "(SUM (SUB 1 2) 3)"),
            ("1 - 2 - 3", "(SUB (SUB 1 2) 3)"),
            ("8 / 4 % 3", "(MOD (DIV 8 4) 3)"),
            ("$a < 1 = true", "(IN (LT $a 1) true)"),
            (
                "$a <= 1 AND $b >= 2 OR $c > 3",
                "(OR (AND (LTE $a 1) (GTE $b 2)) (GT $c 3))",
            ),
            (
                "$a = \"x\" OR $b != 2",
                "(OR (IN $a \"x\") (NOT (IN $b 2)))",
            ),
            ("!$a AND $b", "(AND (NOT $a) $b)"),
            ("!!$a", "(NOT (NOT $a))"),
            (
                "!IN($m, \"GET\", \"DELETE\") AND EXISTS($batch)",
                "(AND (NOT (IN $m \"GET\" \"DELETE\")) (EXISTS $batch))",
            ),
            ("(1 + 2) * 3", "(MUL (SUM 1 2) 3)"),
            ("AND(true, OR(false, true))", "(AND true (OR false true))"),
            ("$a-1", "$a-1"), // column runes include '-' (grammar)
            ("$a -1", "(SUB $a 1)"),
            ("$a - 1", "(SUB $a 1)"),
            ("1-2", "(SUB 1 2)"),
            ("EQUALS($a, 1)", "(EQUALS $a 1)"),
            ("LENGTH($s, \"bytes\")", "(LENGTH $s \"bytes\")"),
            ("SWITCH($a, \"x\", 1, 2)", "(SWITCH $a \"x\" 1 2)"),
            (" \t\n$a\u{a0}", "$a"),
        ];
        for (input, want) in cases {
            assert_eq!(p(input), want, "{input:?}");
        }
    }

    fn e(s: &str) -> DerivedError {
        match parse(s) {
            Ok(x) => panic!("{s:?} parsed as {}", show(&x)),
            Err(e) => e,
        }
    }

    #[test]
    fn parse_errors_name_position_and_reason() {
        let deep_parens = format!("{}1{}", "(".repeat(70), ")".repeat(70));
        let deep_not = format!("{}true", "!".repeat(70));
        let deep_calls = format!("{}1{}", "NOT(".repeat(70), ")".repeat(70));
        let long = format!("\"{}\"", "x".repeat(EXPRESSION_LEN_MAX));
        let cases: Vec<(&str, usize, &str)> = vec![
            (&long, EXPRESSION_LEN_MAX + 1, "at most 4095"),
            ("", 1, "empty"),
            ("   ", 1, "empty"),
            ("\"abc", 1, "unterminated string"),
            ("\"abc\\", 1, "unterminated string"),
            ("\"a\\q\"", 3, "unknown escape sequence \\q"),
            ("\"\\xZ1\"", 2, "needs 2 digits"),
            ("\"\\u12\"", 2, "needs 4 digits"),
            ("\"\\uD800\"", 2, "not a Unicode scalar"),
            ("\"\\400\"", 2, "above \\377"),
            ("\"\\xff\"", 1, "valid UTF-8"),
            ("`abc", 1, "unterminated raw string"),
            (".x", 1, "unexpected character '.'"),
            ("$a # 1", 4, "unexpected character '#'"),
            ("(1", 3, "expected ')'"),
            (&deep_parens, 65, "nests deeper than 64"),
            (&deep_not, 64, "nests deeper than 64"),
            (&deep_calls, 257, "nests deeper than 64"),
            ("99999999999999999999", 1, "out of range"),
            ("1e999", 1, "out of range"),
            ("$", 1, "column name after '$'"),
            ("$ 5", 1, "column name after '$'"),
            ("$\"\"", 1, "empty column name"),
            ("- $a", 1, "no unary minus"),
            ("1 +", 4, "unexpected end"),
            ("foo", 1, "columns start with '$'"),
            ("F(1)", 1, "unknown function \"F\""),
            ("FORMAT_TIME(\"%Y\", 1)", 1, "FORMAT_TIME is not supported"),
            ("SUMMARIZE($a)", 1, "SUMMARIZE is not supported"),
            ("if(1, 2)", 1, "upper case: IF"),
            ("NOPE(1)", 1, "unknown function \"NOPE\""),
            ("SUM(1 2)", 7, "expected ',' or ')' in SUM"),
            ("NOT(1, 2)", 1, "NOT takes 1 argument(s), got 2"),
            ("SWITCH(1, 2)", 1, "SWITCH takes at least 3"),
            ("LENGTH($a, \"x\", 1)", 1, "LENGTH takes 1 to 2"),
            ("EVENT_TIMESTAMP(1)", 1, "EVENT_TIMESTAMP takes 0"),
            ("1 2", 3, "unexpected number 2 after the expression"),
            (")", 1, "unexpected ')'"),
        ];
        let mut bad = Vec::new();
        for (input, pos, want) in cases {
            let got = e(input);
            if !(got.message.contains(want) && got.pos == pos) {
                bad.push(format!("{input:.40?}: got {got}, want {want:?} at {pos}"));
            }
        }
        assert!(bad.is_empty(), "{}", bad.join("\n"));
        assert_eq!(
            e("1 +").to_string(),
            "at character 4: unexpected end of expression"
        );
        // Exactly at the limits is fine.
        let max = format!("\"{}\"", "x".repeat(EXPRESSION_LEN_MAX - 2));
        assert!(parse(&max).is_ok());
        let nested = format!("{}1{}", "(".repeat(60), ")".repeat(60));
        assert!(parse(&nested).is_ok());
    }

    /// Resolves every column as a nullable string column `s`, int `i`, float `f`, bool `b`.
    struct Cols;
    impl Resolver for Cols {
        fn column(&mut self, name: &str, pos: usize) -> Result<Typed, DerivedError> {
            let ty = match name {
                "s" => Ty::Str,
                "i" => Ty::Int,
                "f" => Ty::Float,
                "b" => Ty::Bool,
                "bad" => return err(pos, "no such column"),
                _ => return Ok(null()),
            };
            Ok(t(
                ty,
                Node::Column(ColumnRef {
                    name: name.into(),
                    kind: crate::plan::ColumnKind::Stored(ty.column_type().unwrap()),
                }),
            ))
        }
    }

    fn c(s: &str) -> Result<Typed, DerivedError> {
        compile(&parse(s).unwrap(), &mut Cols)
    }

    #[test]
    fn compile_types() {
        let ty = |s: &str| c(s).unwrap().ty;
        assert_eq!(ty("$i + 1"), Ty::Float);
        assert_eq!(ty("INT($s)"), Ty::Int);
        assert_eq!(ty("IF($b, 1, 2)"), Ty::Int);
        assert_eq!(ty("IF($b, 1, 2.5)"), Ty::Float);
        assert_eq!(ty("IF($b, 1, \"x\")"), Ty::Str);
        assert_eq!(ty("IF($b, null, \"x\")"), Ty::Str);
        assert_eq!(ty("COALESCE($missing, $i)"), Ty::Int);
        assert_eq!(ty("COALESCE($missing)"), Ty::Null);
        assert_eq!(ty("MAX($i, $f)"), Ty::Float);
        assert_eq!(ty("MIN($s, \"a\")"), Ty::Str);
        assert_eq!(ty("LENGTH($i)"), Ty::Int);
        assert_eq!(ty("REG_VALUE($s, `a(b)`)"), Ty::Str);
        assert_eq!(ty("SWITCH($i, 1, \"one\", 2.5, \"two\")"), Ty::Str);
        // Comparisons across types are constant false.
        assert_eq!(c("$s < 3").unwrap(), false_());
        assert_eq!(c("$b > $b").unwrap(), false_());
        assert_eq!(c("EQUALS($s, 3)").unwrap(), false_());
        assert_eq!(c("STARTS_WITH($i, \"1\")").unwrap(), false_());
        assert!(matches!(c("$i < 3").unwrap().node, Node::Cmp { .. }));
    }

    #[test]
    fn compile_errors() {
        let cases = [
            ("MIN($s, 1)", 1, "MIN arguments must all be"),
            ("REG_MATCH($s, $s)", 15, "must be a string literal"),
            ("REG_VALUE($s, `(`)", 15, "invalid regular expression"),
            ("LENGTH($s, \"words\")", 12, "\"bytes\" or \"chars\""),
            ("LENGTH($s, $s)", 12, "\"bytes\" or \"chars\""),
            ("SWITCH($s, $s, 1)", 12, "SWITCH cases must be literals"),
            ("SUM(1, $bad)", 8, "no such column"),
        ];
        for (input, pos, want) in cases {
            let got = c(input).unwrap_err();
            assert!(
                got.message.contains(want) && got.pos == pos,
                "{input:?}: got {got}, want {want:?} at {pos}"
            );
        }
        let long = format!("REG_MATCH($s, `{}`)", "a".repeat(REGEX_LEN_MAX + 1));
        assert!(c(&long).unwrap_err().message.contains("at most 1024"));
        let huge = format!("REG_MATCH($s, `{}`)", "(a{1000}){1000}");
        assert!(c(&huge).is_err());
    }

    #[test]
    fn expanded_size_counts_string_parsing_twice() {
        assert_eq!(c("$i + 1").unwrap().expanded_size(), 4);
        assert_eq!(c("$s + 1").unwrap().expanded_size(), 5);
    }
}
