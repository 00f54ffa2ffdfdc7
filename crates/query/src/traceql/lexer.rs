//! TraceQL tokens, lexed the way Tempo's `pkg/traceql/lexer.go` (over Go's `text/scanner`)
//! does: keywords are reserved everywhere, `span.` / `resource.` / `parent.` / `event.` /
//! `link.` / `instrumentation.` / `.` start an attribute name that runs to the next blank or
//! one of `{}()=~!<>&|^,` (with `"…"` parts quoted, escapes `\"` and `\\` only), a number
//! directly followed by duration units is a duration, `//` and `/* */` are comments, and
//! strings are Go string literals (`"…"` with Go escapes, or raw `` `…` ``).

use super::ast::{AttrScope, Attribute, Loc};
use super::Error;

/// Reserved words (Tempo's `tokenMap` entries that are words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kw {
    True,
    False,
    Nil,
    Ok,
    Error,
    Unset,
    Unspecified,
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
    Duration,
    ChildCount,
    Name,
    Status,
    StatusMessage,
    Kind,
    RootName,
    RootServiceName,
    RootService,
    TraceDuration,
    NestedSetLeft,
    NestedSetRight,
    NestedSetParent,
    Id,
    TraceId,
    SpanId,
    ParentId,
    TimeSinceStart,
    Version,
    Parent,
    Count,
    Avg,
    Max,
    Min,
    Sum,
    By,
    Coalesce,
    Select,
    Rate,
    CountOverTime,
    MinOverTime,
    MaxOverTime,
    AvgOverTime,
    SumOverTime,
    QuantileOverTime,
    HistogramOverTime,
    Compare,
    TopK,
    BottomK,
    With,
}

const KEYWORDS: &[(&str, Kw)] = &[
    ("true", Kw::True),
    ("false", Kw::False),
    ("nil", Kw::Nil),
    ("ok", Kw::Ok),
    ("error", Kw::Error),
    ("unset", Kw::Unset),
    ("unspecified", Kw::Unspecified),
    ("internal", Kw::Internal),
    ("server", Kw::Server),
    ("client", Kw::Client),
    ("producer", Kw::Producer),
    ("consumer", Kw::Consumer),
    ("duration", Kw::Duration),
    ("childCount", Kw::ChildCount),
    ("name", Kw::Name),
    ("status", Kw::Status),
    ("statusMessage", Kw::StatusMessage),
    ("kind", Kw::Kind),
    ("rootName", Kw::RootName),
    ("rootServiceName", Kw::RootServiceName),
    ("rootService", Kw::RootService),
    ("traceDuration", Kw::TraceDuration),
    ("nestedSetLeft", Kw::NestedSetLeft),
    ("nestedSetRight", Kw::NestedSetRight),
    ("nestedSetParent", Kw::NestedSetParent),
    ("id", Kw::Id),
    ("traceID", Kw::TraceId),
    ("spanID", Kw::SpanId),
    ("parentID", Kw::ParentId),
    ("timeSinceStart", Kw::TimeSinceStart),
    ("version", Kw::Version),
    ("parent", Kw::Parent),
    ("count", Kw::Count),
    ("avg", Kw::Avg),
    ("max", Kw::Max),
    ("min", Kw::Min),
    ("sum", Kw::Sum),
    ("by", Kw::By),
    ("coalesce", Kw::Coalesce),
    ("select", Kw::Select),
    ("rate", Kw::Rate),
    ("count_over_time", Kw::CountOverTime),
    ("min_over_time", Kw::MinOverTime),
    ("max_over_time", Kw::MaxOverTime),
    ("avg_over_time", Kw::AvgOverTime),
    ("sum_over_time", Kw::SumOverTime),
    ("quantile_over_time", Kw::QuantileOverTime),
    ("histogram_over_time", Kw::HistogramOverTime),
    ("compare", Kw::Compare),
    ("topk", Kw::TopK),
    ("bottomk", Kw::BottomK),
    ("with", Kw::With),
];

impl Kw {
    pub fn as_str(self) -> &'static str {
        KEYWORDS
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("?", |(s, _)| *s)
    }
}

/// The scope of a `scope:intrinsic` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColonScope {
    Trace,
    Span,
    Event,
    Link,
    Instrumentation,
}

impl ColonScope {
    pub fn as_str(self) -> &'static str {
        match self {
            ColonScope::Trace => "trace:",
            ColonScope::Span => "span:",
            ColonScope::Event => "event:",
            ColonScope::Link => "link:",
            ColonScope::Instrumentation => "instrumentation:",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A word that is not reserved (only `minInt` / `maxInt` mean something).
    Ident(String),
    Kw(Kw),
    /// `trace:`, `span:`, … (the intrinsic's name is the next token).
    Scope(ColonScope),
    /// A whole attribute reference: `.a`, `span."b c"`, `parent.resource.x`.
    Attr(Attribute),
    Str(String),
    Int(i64),
    Float(f64),
    /// Nanoseconds.
    Duration(i64),
    LBrace,
    RBrace,
    LParen,
    RParen,
    Comma,
    Eq,
    Ne,
    Re,
    NotRe,
    Gt,
    Ge,
    Lt,
    Le,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    And,
    Or,
    Not,
    Pipe,
    Desc,
    Ance,
    Sibl,
    NotChild,
    NotParent,
    NotDesc,
    NotAnce,
    UnionChild,
    UnionParent,
    UnionDesc,
    UnionAnce,
    UnionSibl,
    Eof,
}

impl Tok {
    /// How the token reads in an error message.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("identifier `{s}`"),
            Tok::Kw(k) => format!("`{}`", k.as_str()),
            Tok::Scope(s) => format!("`{}`", s.as_str()),
            Tok::Attr(a) => format!("attribute `{}`", super::ast::AttrRef::Attribute(a.clone())),
            Tok::Str(_) => "a string".into(),
            Tok::Int(_) | Tok::Float(_) => "a number".into(),
            Tok::Duration(_) => "a duration".into(),
            Tok::Eof => "the end of the query".into(),
            t => format!("`{}`", t.punct()),
        }
    }

    fn punct(&self) -> &'static str {
        match self {
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::Comma => ",",
            Tok::Eq => "=",
            Tok::Ne => "!=",
            Tok::Re => "=~",
            Tok::NotRe => "!~",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Add => "+",
            Tok::Sub => "-",
            Tok::Mul => "*",
            Tok::Div => "/",
            Tok::Mod => "%",
            Tok::Pow => "^",
            Tok::And => "&&",
            Tok::Or => "||",
            Tok::Not => "!",
            Tok::Pipe => "|",
            Tok::Desc => ">>",
            Tok::Ance => "<<",
            Tok::Sibl => "~",
            Tok::NotChild => "!>",
            Tok::NotParent => "!<",
            Tok::NotDesc => "!>>",
            Tok::NotAnce => "!<<",
            Tok::UnionChild => "&>",
            Tok::UnionParent => "&<",
            Tok::UnionDesc => "&>>",
            Tok::UnionAnce => "&<<",
            Tok::UnionSibl => "&~",
            _ => "?",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub loc: Loc,
}

/// Whether `c` may appear unquoted in an attribute name (Tempo `isAttributeRune`).
pub fn is_attribute_char(c: char) -> bool {
    !c.is_whitespace()
        && !matches!(
            c,
            '{' | '}' | '(' | ')' | '=' | '~' | '!' | '<' | '>' | '&' | '|' | '^' | ','
        )
}

/// Units Tempo's lexer lets follow a number in a duration (`isDurationRune`).
fn is_duration_char(c: char) -> bool {
    matches!(c, 'n' | 's' | 'u' | 'm' | 'h' | 'µ' | 'd' | 'w' | 'y')
}

fn err(pos: usize, message: impl Into<String>) -> Error {
    Error::Parse {
        pos,
        message: message.into(),
    }
}

/// Lexes the whole query; the last token is [`Tok::Eof`].
pub fn lex(text: &str) -> Result<Vec<Token>, Error> {
    let mut lx = Lexer { text, i: 0 };
    let mut out = Vec::new();
    loop {
        let t = lx.next()?;
        let done = t.tok == Tok::Eof;
        out.push(t);
        if done {
            return Ok(out);
        }
    }
}

struct Lexer<'a> {
    text: &'a str,
    /// Byte offset of the next character.
    i: usize,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.i..].chars().next()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.text[self.i..].chars().nth(n)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.i += c.len_utf8();
        Some(c)
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.i += c.len_utf8();
            true
        } else {
            false
        }
    }

    /// Skips blanks and comments (Go's `GoWhitespace` and `SkipComments`).
    fn skip_blank(&mut self) -> Result<(), Error> {
        loop {
            match (self.peek(), self.peek_at(1)) {
                (Some(' ' | '\t' | '\n' | '\r'), _) => {
                    self.i += 1;
                }
                (Some('/'), Some('/')) => {
                    while let Some(c) = self.bump() {
                        if c == '\n' {
                            break;
                        }
                    }
                }
                (Some('/'), Some('*')) => {
                    let start = self.i;
                    self.i += 2;
                    match self.text[self.i..].find("*/") {
                        Some(end) => self.i += end + 2,
                        None => return Err(err(start, "comment not terminated")),
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn next(&mut self) -> Result<Token, Error> {
        self.skip_blank()?;
        let start = self.i;
        let Some(c) = self.bump() else {
            return Ok(Token {
                tok: Tok::Eof,
                loc: Loc::new(start, start),
            });
        };
        let tok = match c {
            '{' => Tok::LBrace,
            '}' => Tok::RBrace,
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            ',' => Tok::Comma,
            '+' => Tok::Add,
            '-' => Tok::Sub,
            '*' => Tok::Mul,
            '/' => Tok::Div,
            '%' => Tok::Mod,
            '^' => Tok::Pow,
            '~' => Tok::Sibl,
            '=' => {
                if self.eat('~') {
                    Tok::Re
                } else {
                    Tok::Eq
                }
            }
            '!' => {
                if self.eat('=') {
                    Tok::Ne
                } else if self.eat('~') {
                    Tok::NotRe
                } else if self.eat('>') {
                    if self.eat('>') {
                        Tok::NotDesc
                    } else {
                        Tok::NotChild
                    }
                } else if self.eat('<') {
                    if self.eat('<') {
                        Tok::NotAnce
                    } else {
                        Tok::NotParent
                    }
                } else {
                    Tok::Not
                }
            }
            '>' => {
                if self.eat('=') {
                    Tok::Ge
                } else if self.eat('>') {
                    Tok::Desc
                } else {
                    Tok::Gt
                }
            }
            '<' => {
                if self.eat('=') {
                    Tok::Le
                } else if self.eat('<') {
                    Tok::Ance
                } else {
                    Tok::Lt
                }
            }
            '&' => {
                if self.eat('&') {
                    Tok::And
                } else if self.eat('>') {
                    if self.eat('>') {
                        Tok::UnionDesc
                    } else {
                        Tok::UnionChild
                    }
                } else if self.eat('<') {
                    if self.eat('<') {
                        Tok::UnionAnce
                    } else {
                        Tok::UnionParent
                    }
                } else if self.eat('~') {
                    Tok::UnionSibl
                } else {
                    return Err(err(start, "unexpected `&` (did you mean `&&`?)"));
                }
            }
            '|' => {
                if self.eat('|') {
                    Tok::Or
                } else {
                    Tok::Pipe
                }
            }
            '"' => Tok::Str(self.string(start)?),
            '`' => Tok::Str(self.raw_string(start)?),
            '.' if self.peek().is_some_and(|c| c.is_ascii_digit()) => self.number(start)?,
            '.' => Tok::Attr(self.attribute(start, AttrScope::None, false)?),
            c if c.is_ascii_digit() => self.number(start)?,
            c if c.is_alphabetic() || c == '_' => self.word(start)?,
            c => return Err(err(start, format!("unexpected character {c:?}"))),
        };
        Ok(Token {
            tok,
            loc: Loc::new(start, self.i),
        })
    }

    /// An identifier, keyword, `scope:` or the start of a `scope.` attribute.
    fn word(&mut self, start: usize) -> Result<Tok, Error> {
        while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
            self.bump();
        }
        let word = &self.text[start..self.i];
        if self.peek() == Some('.') {
            let scope = match word {
                "span" => Some((AttrScope::Span, false)),
                "resource" => Some((AttrScope::Resource, false)),
                "parent" => Some((AttrScope::None, true)),
                "event" => Some((AttrScope::Event, false)),
                "link" => Some((AttrScope::Link, false)),
                "instrumentation" => Some((AttrScope::Instrumentation, false)),
                _ => None,
            };
            if let Some((scope, parent)) = scope {
                self.bump();
                return Ok(Tok::Attr(self.attribute(start, scope, parent)?));
            }
        }
        if self.peek() == Some(':') {
            let scope = match word {
                "trace" => Some(ColonScope::Trace),
                "span" => Some(ColonScope::Span),
                "event" => Some(ColonScope::Event),
                "link" => Some(ColonScope::Link),
                "instrumentation" => Some(ColonScope::Instrumentation),
                _ => None,
            };
            if let Some(scope) = scope {
                self.bump();
                return Ok(Tok::Scope(scope));
            }
        }
        Ok(KEYWORDS
            .iter()
            .find(|(s, _)| *s == word)
            .map_or_else(|| Tok::Ident(word.to_string()), |(_, k)| Tok::Kw(*k)))
    }

    /// The name after a scope prefix (the prefix is consumed; `start` is where it began).
    fn attribute(
        &mut self,
        start: usize,
        mut scope: AttrScope,
        parent: bool,
    ) -> Result<Attribute, Error> {
        if parent {
            // `parent.span.x` and `parent.resource.x` (Tempo `tryScopeAttribute`).
            for (prefix, s) in [
                ("span.", AttrScope::Span),
                ("resource.", AttrScope::Resource),
            ] {
                if self.text[self.i..].starts_with(prefix) {
                    self.i += prefix.len();
                    scope = s;
                    break;
                }
            }
        }
        let mut name = String::new();
        let mut any = false;
        loop {
            match self.peek() {
                Some('"') => {
                    any = true;
                    let quote = self.i;
                    self.bump();
                    loop {
                        match self.bump() {
                            None => {
                                return Err(err(
                                    quote,
                                    "quoted attribute name is not terminated (expecting `\"`)",
                                ))
                            }
                            Some('"') => break,
                            Some('\\') => match self.bump() {
                                Some(c @ ('"' | '\\')) => name.push(c),
                                _ => {
                                    return Err(err(
                                        self.i.saturating_sub(1),
                                        "invalid escape sequence in attribute name (only \\\" and \\\\ are allowed)",
                                    ))
                                }
                            },
                            Some(c) => name.push(c),
                        }
                    }
                }
                Some(c) if is_attribute_char(c) => {
                    any = true;
                    name.push(c);
                    self.bump();
                }
                _ => break,
            }
        }
        if !any {
            return Err(err(
                start,
                format!(
                    "expected an attribute name after `{}`",
                    &self.text[start..self.i]
                ),
            ));
        }
        Ok(Attribute {
            scope,
            parent,
            name,
        })
    }

    /// A Go interpreted string literal; the opening quote is consumed.
    fn string(&mut self, start: usize) -> Result<String, Error> {
        let mut bytes: Vec<u8> = Vec::new();
        loop {
            let Some(c) = self.bump() else {
                return Err(err(start, "string literal not terminated"));
            };
            match c {
                '"' => break,
                '\n' => return Err(err(start, "string literal not terminated")),
                '\\' => {
                    let at = self.i - 1;
                    let bad = || err(at, "invalid escape sequence in string");
                    let e = self.bump().ok_or_else(bad)?;
                    let simple = match e {
                        'a' => Some(0x07),
                        'b' => Some(0x08),
                        'f' => Some(0x0c),
                        'n' => Some(b'\n'),
                        'r' => Some(b'\r'),
                        't' => Some(b'\t'),
                        'v' => Some(0x0b),
                        '\\' => Some(b'\\'),
                        '"' => Some(b'"'),
                        _ => None,
                    };
                    if let Some(b) = simple {
                        bytes.push(b);
                        continue;
                    }
                    match e {
                        '0'..='7' => {
                            let mut v = e.to_digit(8).unwrap_or(0);
                            for _ in 0..2 {
                                let d = self.bump().and_then(|c| c.to_digit(8)).ok_or_else(bad)?;
                                v = v * 8 + d;
                            }
                            bytes.push(u8::try_from(v).map_err(|_| bad())?);
                        }
                        'x' => {
                            let v = self.hex_digits(2).ok_or_else(bad)?;
                            bytes.push(u8::try_from(v).map_err(|_| bad())?);
                        }
                        'u' | 'U' => {
                            let n = if e == 'u' { 4 } else { 8 };
                            let v = self.hex_digits(n).ok_or_else(bad)?;
                            let ch = char::from_u32(v).ok_or_else(bad)?;
                            let mut buf = [0u8; 4];
                            bytes.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return Err(bad()),
                    }
                }
                c => {
                    let mut buf = [0u8; 4];
                    bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        String::from_utf8(bytes).map_err(|_| err(start, "string literal is not valid UTF-8"))
    }

    fn hex_digits(&mut self, n: usize) -> Option<u32> {
        let mut v: u32 = 0;
        for _ in 0..n {
            v = v * 16 + self.bump()?.to_digit(16)?;
        }
        Some(v)
    }

    /// A Go raw string literal; the opening backquote is consumed. CRs are dropped.
    fn raw_string(&mut self, start: usize) -> Result<String, Error> {
        match self.text[self.i..].find('`') {
            Some(end) => {
                let s = self.text[self.i..self.i + end].replace('\r', "");
                self.i += end + 1;
                Ok(s)
            }
            None => Err(err(start, "raw string literal not terminated")),
        }
    }

    /// An integer, float or duration (the first character is consumed).
    fn number(&mut self, start: usize) -> Result<Tok, Error> {
        let first = self.text[start..].chars().next().unwrap_or('0');
        if first == '0' && matches!(self.peek(), Some('x' | 'X' | 'b' | 'B' | 'o' | 'O')) {
            return Err(err(start, "only decimal numbers are supported"));
        }
        let mut float = first == '.';
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
        if !float && self.peek() == Some('.') {
            float = true;
            self.bump();
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
            }
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            float = true;
            self.bump();
            if matches!(self.peek(), Some('+' | '-')) {
                self.bump();
            }
            if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
                return Err(err(start, "exponent has no digits"));
            }
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
            }
        }
        let number = &self.text[start..self.i];
        // A duration: the number followed, up to the next blank, by digits, units and dots.
        let rest = &self.text[self.i..];
        let suffix_len: usize = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || is_duration_char(*c) || *c == '.')
            .map(char::len_utf8)
            .sum();
        if suffix_len > 0 {
            let candidate = format!("{number}{}", &rest[..suffix_len]);
            if let Some(ns) = parse_duration(&candidate) {
                self.i += suffix_len;
                return Ok(Tok::Duration(ns));
            }
        }
        if float {
            return match number.parse::<f64>() {
                Ok(f) if f.is_finite() => Ok(Tok::Float(f)),
                _ => Err(err(start, format!("number {number} is out of range"))),
            };
        }
        if number.len() > 1 && number.starts_with('0') && number.contains(['8', '9']) {
            // Go reads a leading 0 as octal.
            return Err(err(
                start,
                format!("invalid digit in octal literal {number}"),
            ));
        }
        number
            .parse::<i64>()
            .map(Tok::Int)
            .map_err(|_| err(start, format!("integer {number} is out of range")))
    }
}

/// A duration in nanoseconds: Prometheus syntax (`1h30m`, `2d`, `1w`, `1y`; units in order,
/// integers only), else Go's `time.ParseDuration` (`1.5ms`, `300us`, `2h45m`). None when
/// neither reads it or it does not fit 64 bits.
pub fn parse_duration(s: &str) -> Option<i64> {
    prometheus_duration(s).or_else(|| go_duration(s))
}

fn prometheus_duration(s: &str) -> Option<i64> {
    if s == "0" {
        return Some(0);
    }
    if s.is_empty() {
        return None;
    }
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * 24 * 3600 * 1_000_000_000),
        ("w", 7 * 24 * 3600 * 1_000_000_000),
        ("d", 24 * 3600 * 1_000_000_000),
        ("h", 3600 * 1_000_000_000),
        ("m", 60 * 1_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
    ];
    let b = s.as_bytes();
    let mut i = 0;
    let mut total: u64 = 0;
    let mut last_unit: Option<usize> = None;
    while i < b.len() {
        let d0 = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == d0 {
            return None;
        }
        let v: u64 = s[d0..i].parse().ok()?;
        let u0 = i;
        while i < b.len() && !b[i].is_ascii_digit() {
            i += 1;
        }
        let unit = &s[u0..i];
        let pos = UNITS.iter().position(|(u, _)| *u == unit)?;
        if last_unit.is_some_and(|l| pos <= l) {
            return None;
        }
        last_unit = Some(pos);
        let mult = UNITS[pos].1;
        if v > (1u64 << 63) / mult {
            return None;
        }
        total = total.checked_add(v * mult)?;
        if total > i64::MAX as u64 {
            return None;
        }
    }
    i64::try_from(total).ok()
}

fn go_duration(s: &str) -> Option<i64> {
    if s == "0" {
        return Some(0);
    }
    if s.is_empty() {
        return None;
    }
    const UNITS: [(&str, u64); 8] = [
        ("ns", 1),
        ("us", 1_000),
        ("µs", 1_000),
        ("μs", 1_000),
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60 * 1_000_000_000),
        ("h", 3600 * 1_000_000_000),
    ];
    const LIMIT: u64 = 1 << 63;
    let mut rest = s;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let b = rest.as_bytes();
        if !(b[0] == b'.' || b[0].is_ascii_digit()) {
            return None;
        }
        // Integer part.
        let n_int = b.iter().take_while(|c| c.is_ascii_digit()).count();
        let mut v: u64 = 0;
        for c in &b[..n_int] {
            if v > LIMIT / 10 {
                return None;
            }
            v = v * 10 + u64::from(c - b'0');
            if v > LIMIT {
                return None;
            }
        }
        rest = &rest[n_int..];
        // Fraction.
        let (mut f, mut scale, mut post) = (0u64, 1f64, false);
        if rest.starts_with('.') {
            rest = &rest[1..];
            let n_frac = rest.bytes().take_while(|c| c.is_ascii_digit()).count();
            let mut overflow = false;
            for c in rest[..n_frac].bytes() {
                if overflow {
                    continue;
                }
                if f > (LIMIT - 1) / 10 {
                    overflow = true;
                    continue;
                }
                let y = f * 10 + u64::from(c - b'0');
                if y > LIMIT {
                    overflow = true;
                    continue;
                }
                f = y;
                scale *= 10.0;
            }
            post = n_frac > 0;
            rest = &rest[n_frac..];
        }
        if n_int == 0 && !post {
            return None;
        }
        // Unit.
        let n_unit: usize = rest
            .chars()
            .take_while(|c| !(c.is_ascii_digit() || *c == '.'))
            .map(char::len_utf8)
            .sum();
        if n_unit == 0 {
            return None;
        }
        let unit = &rest[..n_unit];
        rest = &rest[n_unit..];
        let mult = UNITS.iter().find(|(u, _)| *u == unit)?.1;
        if v > LIMIT / mult {
            return None;
        }
        v *= mult;
        if f > 0 {
            v += (f as f64 * (mult as f64 / scale)) as u64;
            if v > LIMIT {
                return None;
            }
        }
        total = total.checked_add(v)?;
        if total > LIMIT {
            return None;
        }
    }
    i64::try_from(total).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        lex(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn durations_follow_prometheus_then_go() {
        let ms = 1_000_000;
        let s = 1_000_000_000;
        assert_eq!(parse_duration("1.5ms"), Some(1_500_000));
        assert_eq!(parse_duration("2h"), Some(7200 * s));
        assert_eq!(parse_duration("1h30m"), Some(5400 * s));
        assert_eq!(parse_duration("2d"), Some(2 * 86_400 * s));
        assert_eq!(parse_duration("1w"), Some(7 * 86_400 * s));
        assert_eq!(parse_duration("1y"), Some(365 * 86_400 * s));
        assert_eq!(parse_duration("300us"), Some(300_000));
        assert_eq!(parse_duration("300µs"), Some(300_000));
        assert_eq!(parse_duration("10ns"), Some(10));
        assert_eq!(parse_duration("1m30s500ms"), Some(90 * s + 500 * ms));
        // Go's parser takes units in any order.
        assert_eq!(parse_duration("30s1m"), Some(90 * s));
        assert_eq!(parse_duration(".5s"), Some(500 * ms));
        assert_eq!(parse_duration("1"), None);
        assert_eq!(parse_duration("1x"), None);
        assert_eq!(parse_duration("1d1.5h"), None);
        assert_eq!(parse_duration("300y"), None);
        assert_eq!(parse_duration("9999999999h"), None);
    }

    #[test]
    fn numbers_durations_and_words() {
        assert_eq!(
            toks("1 1.5 .5 2h 1.5ms 3e2 1m30s"),
            vec![
                Tok::Int(1),
                Tok::Float(1.5),
                Tok::Float(0.5),
                Tok::Duration(7_200_000_000_000),
                Tok::Duration(1_500_000),
                Tok::Float(300.0),
                Tok::Duration(90_000_000_000),
                Tok::Eof
            ]
        );
        // Not a duration: the number, then a word.
        assert_eq!(
            toks("2x"),
            vec![Tok::Int(2), Tok::Ident("x".into()), Tok::Eof]
        );
        assert_eq!(toks("010"), vec![Tok::Int(10), Tok::Eof]);
        assert!(lex("09").is_err());
        assert!(lex("0x1f").is_err());
        assert!(lex("99999999999999999999").is_err());
        assert_eq!(
            toks("span:name count_over_time minInt"),
            vec![
                Tok::Scope(ColonScope::Span),
                Tok::Kw(Kw::Name),
                Tok::Kw(Kw::CountOverTime),
                Tok::Ident("minInt".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn operators_take_the_longest_form() {
        assert_eq!(
            toks("!>> !> !< !<< !~ != &>> &> &<< &< &~ && || | >= >> > <= << < =~ = ~ !"),
            vec![
                Tok::NotDesc,
                Tok::NotChild,
                Tok::NotParent,
                Tok::NotAnce,
                Tok::NotRe,
                Tok::Ne,
                Tok::UnionDesc,
                Tok::UnionChild,
                Tok::UnionAnce,
                Tok::UnionParent,
                Tok::UnionSibl,
                Tok::And,
                Tok::Or,
                Tok::Pipe,
                Tok::Ge,
                Tok::Desc,
                Tok::Gt,
                Tok::Le,
                Tok::Ance,
                Tok::Lt,
                Tok::Re,
                Tok::Eq,
                Tok::Sibl,
                Tok::Not,
                Tok::Eof
            ]
        );
        // `==` is two `=` (so `{ .a == 1 }` does not parse).
        assert_eq!(toks("=="), vec![Tok::Eq, Tok::Eq, Tok::Eof]);
    }

    #[test]
    fn attributes_run_to_a_terminal_character() {
        let attr = |scope, parent, name: &str| {
            Tok::Attr(Attribute {
                scope,
                parent,
                name: name.into(),
            })
        };
        assert_eq!(
            toks(r#".http.status_code>=5 span."a b".c resource.x-y parent.span.z parent.duration"#),
            vec![
                attr(AttrScope::None, false, "http.status_code"),
                Tok::Ge,
                Tok::Int(5),
                attr(AttrScope::Span, false, "a b.c"),
                attr(AttrScope::Resource, false, "x-y"),
                attr(AttrScope::Span, true, "z"),
                attr(AttrScope::None, true, "duration"),
                Tok::Eof
            ]
        );
        assert_eq!(
            toks(r#"."a\"b\\c""#),
            vec![attr(AttrScope::None, false, "a\"b\\c"), Tok::Eof]
        );
        // Arithmetic characters do not end an attribute (as in Tempo): `.a+1` is one name.
        assert_eq!(
            toks(".a+1"),
            vec![attr(AttrScope::None, false, "a+1"), Tok::Eof]
        );
        assert!(lex(". ").is_err());
        assert!(lex("span. ").is_err());
        assert!(lex(r#"."a\nb""#).is_err());
        assert!(lex(r#"."abc"#).is_err());
    }

    #[test]
    fn strings_use_go_escapes() {
        assert_eq!(
            toks(r#""a\"b\\c\n\t\x41\101\u00e9" `raw\n`"#),
            vec![
                Tok::Str("a\"b\\c\n\tAAé".into()),
                Tok::Str("raw\\n".into()),
                Tok::Eof
            ]
        );
        assert!(lex(r#""\q""#).is_err());
        assert!(lex(r#""\'""#).is_err());
        assert!(lex(r#""\xff""#).is_err());
        assert!(lex("\"a\nb\"").is_err());
        assert!(lex("\"abc").is_err());
        assert!(lex("`abc").is_err());
    }

    #[test]
    fn comments_are_blank() {
        assert_eq!(
            toks("{ // c\n } /* x */ |"),
            vec![Tok::LBrace, Tok::RBrace, Tok::Pipe, Tok::Eof]
        );
        assert!(lex("/* x").is_err());
    }

    #[test]
    fn positions_are_byte_offsets() {
        let t = lex("{ é = @ }");
        assert_eq!(
            t,
            Err(Error::Parse {
                pos: 7,
                message: "unexpected character '@'".into()
            })
        );
    }
}
