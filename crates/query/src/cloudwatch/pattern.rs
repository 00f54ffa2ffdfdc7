//! CloudWatch Logs filter patterns (FilterLogEvents, metric filters, subscription filters,
//! live tail): the syntax tree, its parser (byte positions in errors) and its canonical
//! printer. `parse(print(p)) == p` (property-tested). Compiled in `pattern_compile`.
//!
//! Grammar (from `FilterAndPatternSyntax`; AWS publishes no formal grammar):
//! ```text
//! pattern   := blank | terms | '{' jexpr '}' | '[' fields ']'
//! terms     := term+                       (blank-separated)
//! term      := ['?' | '-'] (word | "phrase" | %regex%)
//! jexpr     := jand ('||' jand)*
//! jand      := junary ('&&' junary)*
//! junary    := '(' jexpr ')' | selector jtest
//! selector  := '$' ('.' key | '[' digits ']')*         key: letters, digits, '_', '-', '@'
//! jtest     := ('=' | '!=') (string | word | number | %regex%) | ('<' | '<=' | '>' | '>=') number
//!            | IS NULL | IS TRUE | IS FALSE | NOT EXISTS
//! fields    := field (',' field)*
//! field     := '...' | name [fcond (('&&' | '||') name fcond)*]
//! fcond     := ('=' | '!=') (string | word | number | %regex%) | ('<' | '<=' | '>' | '>=') number
//! ```
//! Keywords (`IS`, `NULL`, `TRUE`, `FALSE`, `NOT`, `EXISTS`) are case-insensitive; terms
//! and values are case-sensitive (the docs: "Filter patterns are case sensitive").

use std::fmt::Write;

/// Longest filter pattern in characters: botocore's model (`FilterPattern`, max 1024) for
/// FilterLogEvents, PutMetricFilter, PutSubscriptionFilter and TestMetricFilter.
pub const FILTER_PATTERN_LEN_MAX: usize = 1024;
/// Most `%regex%` terms in one pattern: "There is a limit of 2 regex for each filter pattern"
/// (`FilterAndPatternSyntax`, Quotas).
pub const REGEX_PER_PATTERN_MAX: usize = 2;
/// Deepest nesting of parentheses in a JSON pattern (our choice: bounds recursion; the
/// documented examples nest 2 deep).
pub const NESTING_DEPTH_MAX: usize = 32;

/// Why a filter pattern was refused. The text is meant for CloudWatch's
/// `InvalidParameterException` ("Invalid filter pattern …").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("filter pattern is {len} characters long; at most {max} are accepted")]
    TooLong { len: usize, max: usize },
    /// `pos` is a 0-based byte offset into the pattern.
    #[error("invalid filter pattern at position {pos}: {message}")]
    Syntax { pos: usize, message: String },
    #[error("filter pattern not supported: {0}")]
    Unsupported(String),
}

fn syntax(pos: usize, message: impl Into<String>) -> PatternError {
    PatternError::Syntax {
        pos,
        message: message.into(),
    }
}

/// How a term takes part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TermMode {
    /// Must appear.
    Required,
    /// `?term`: at least one of the optional terms must appear.
    Optional,
    /// `-term`: must not appear.
    Excluded,
}

/// What a term looks for in the message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TermText {
    /// An unquoted word (substring match).
    Word(String),
    /// A `"quoted phrase"` (substring match).
    Phrase(String),
    /// `%regex%`.
    Regex(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Term {
    pub mode: TermMode,
    pub text: TermText,
}

/// One step of a JSON selector (`$.a.b[0]`).
pub use crate::plan::JsonStep;

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

/// The right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A number (`200`, `-1.5`, `1e-3`): compares numerically.
    Number(f64),
    /// Text (quoted, or a bare word that is not a number); `*` is a wildcard.
    Text(String),
    /// `%regex%`.
    Regex(String),
}

/// A test on one JSON selector.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonTest {
    Compare(Op, Operand),
    IsNull,
    IsTrue,
    IsFalse,
    NotExists,
}

/// A JSON pattern's condition.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonExpr {
    And(Vec<JsonExpr>),
    Or(Vec<JsonExpr>),
    Test {
        selector: Vec<JsonStep>,
        test: JsonTest,
    },
}

/// A field condition of a space-delimited pattern: `name = v`, `name = v || name = w`.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldCond {
    And(Vec<FieldCond>),
    Or(Vec<FieldCond>),
    Compare(Op, Operand),
}

/// One field of a space-delimited pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    /// `...`: any number of fields.
    Ellipsis,
    Named {
        name: String,
        cond: Option<FieldCond>,
    },
}

/// A filter pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    /// The empty (or blank) pattern: every event.
    All,
    Terms(Vec<Term>),
    Json(JsonExpr),
    Delimited(Vec<Field>),
}

// ---------------------------------------------------------------------------------------
// Parser

struct P<'a> {
    text: &'a str,
    pos: usize,
    depth: usize,
    regexes: usize,
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '@')
}

/// Characters a `%regex%` may contain ("Supported regular expressions (regex) syntax":
/// alphanumerics, `_ # = @ / ; , -`, the operators `^ $ ? [ ] { } | \ * + .`; no parentheses,
/// no multi-byte characters). Space is accepted too: the docs' own examples match phrases.
fn regex_char_ok(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_#=@/;,-^$?[]{}|\\*+. :".contains(c)
}

/// Parses a filter pattern.
pub fn parse(text: &str) -> Result<Pattern, PatternError> {
    let len = text.chars().count();
    if len > FILTER_PATTERN_LEN_MAX {
        return Err(PatternError::TooLong {
            len,
            max: FILTER_PATTERN_LEN_MAX,
        });
    }
    let mut p = P {
        text,
        pos: 0,
        depth: 0,
        regexes: 0,
    };
    p.skip_ws();
    let pat = match p.peek() {
        None => return Ok(Pattern::All),
        Some('{') => {
            p.bump();
            let e = p.jexpr()?;
            p.skip_ws();
            p.expect('}', "'}' or an operator (&&, ||)")?;
            Pattern::Json(e)
        }
        Some('[') => {
            p.bump();
            let f = p.fields()?;
            Pattern::Delimited(f)
        }
        Some(_) => Pattern::Terms(p.terms()?),
    };
    p.skip_ws();
    if let Some(c) = p.peek() {
        return Err(syntax(
            p.pos,
            format!("unexpected '{c}' after the end of the pattern"),
        ));
    }
    Ok(pat)
}

impl P<'_> {
    fn rest(&self) -> &str {
        self.text.get(self.pos..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    fn eat(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    fn found(&self) -> String {
        match self.peek() {
            Some(c) => format!("'{c}'"),
            None => "the end of the pattern".into(),
        }
    }

    fn expected(&self, what: &str) -> PatternError {
        syntax(self.pos, format!("expected {what}, found {}", self.found()))
    }

    fn expect(&mut self, c: char, what: &str) -> Result<(), PatternError> {
        if self.peek() == Some(c) {
            self.bump();
            Ok(())
        } else {
            Err(self.expected(what))
        }
    }

    /// `"…"` with `\"` and `\\` escapes; the opening quote is next.
    fn quoted(&mut self) -> Result<String, PatternError> {
        let start = self.pos;
        self.bump();
        let mut s = String::new();
        loop {
            match self.bump() {
                None => return Err(syntax(start, "unterminated quoted string: expected '\"'")),
                Some('"') => return Ok(s),
                Some('\\') => match self.bump() {
                    Some(c @ ('"' | '\\')) => s.push(c),
                    Some(c) => {
                        s.push('\\');
                        s.push(c);
                    }
                    None => return Err(syntax(start, "unterminated quoted string: expected '\"'")),
                },
                Some(c) => s.push(c),
            }
        }
    }

    /// `%…%`; the opening `%` is next.
    fn regex(&mut self) -> Result<String, PatternError> {
        let start = self.pos;
        self.bump();
        let body_start = self.pos;
        loop {
            match self.peek() {
                None => {
                    return Err(syntax(
                        start,
                        "unterminated regular expression: expected '%'",
                    ))
                }
                Some('%') => break,
                Some(c) if !regex_char_ok(c) => {
                    return Err(syntax(
                        self.pos,
                        format!("'{c}' is not allowed in a filter pattern regular expression"),
                    ))
                }
                Some(_) => {
                    self.bump();
                }
            }
        }
        let body = self.text[body_start..self.pos].to_string();
        self.bump();
        if body.is_empty() {
            return Err(syntax(start, "empty regular expression '%%'"));
        }
        self.regexes += 1;
        if self.regexes > REGEX_PER_PATTERN_MAX {
            return Err(syntax(
                start,
                format!("at most {REGEX_PER_PATTERN_MAX} regular expressions are allowed in one filter pattern"),
            ));
        }
        if let Err(e) = regex::RegexBuilder::new(&body)
            .size_limit(crate::derived::REGEX_SIZE_LIMIT)
            .build()
        {
            return Err(syntax(start, format!("invalid regular expression: {e}")));
        }
        Ok(body)
    }

    fn terms(&mut self) -> Result<Vec<Term>, PatternError> {
        let mut out = Vec::new();
        loop {
            self.skip_ws();
            let Some(c) = self.peek() else { break };
            let start = self.pos;
            let mode = match c {
                '?' => {
                    self.bump();
                    TermMode::Optional
                }
                '-' => {
                    self.bump();
                    TermMode::Excluded
                }
                _ => TermMode::Required,
            };
            let text = match self.peek() {
                Some('"') => TermText::Phrase(self.quoted()?),
                Some('%') => TermText::Regex(self.regex()?),
                Some(c) if !c.is_whitespace() => {
                    let w_start = self.pos;
                    while self.peek().is_some_and(|c| !c.is_whitespace() && c != '"') {
                        self.bump();
                    }
                    TermText::Word(self.text[w_start..self.pos].to_string())
                }
                _ => return Err(syntax(start, "expected a term after '?' or '-'")),
            };
            if matches!(&text, TermText::Word(w) | TermText::Phrase(w) if w.is_empty()) {
                return Err(syntax(start, "empty term"));
            }
            out.push(Term { mode, text });
        }
        Ok(out)
    }

    fn enter(&mut self) -> Result<(), PatternError> {
        self.depth += 1;
        if self.depth > NESTING_DEPTH_MAX {
            return Err(syntax(
                self.pos,
                format!("pattern nests more than {NESTING_DEPTH_MAX} deep"),
            ));
        }
        Ok(())
    }

    fn jexpr(&mut self) -> Result<JsonExpr, PatternError> {
        let mut parts = vec![self.jand()?];
        loop {
            self.skip_ws();
            if !self.eat("||") {
                break;
            }
            parts.push(self.jand()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            JsonExpr::Or(parts)
        })
    }

    fn jand(&mut self) -> Result<JsonExpr, PatternError> {
        let mut parts = vec![self.junary()?];
        loop {
            self.skip_ws();
            if !self.eat("&&") {
                break;
            }
            parts.push(self.junary()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            JsonExpr::And(parts)
        })
    }

    fn junary(&mut self) -> Result<JsonExpr, PatternError> {
        self.skip_ws();
        self.enter()?;
        let e = match self.peek() {
            Some('(') => {
                self.bump();
                let e = self.jexpr()?;
                self.skip_ws();
                self.expect(')', "')' or an operator (&&, ||)")?;
                e
            }
            Some('$') => {
                let selector = self.selector()?;
                let test = self.jtest()?;
                JsonExpr::Test { selector, test }
            }
            _ => return Err(self.expected("a selector ($.field) or '('")),
        };
        self.depth -= 1;
        Ok(e)
    }

    fn selector(&mut self) -> Result<Vec<JsonStep>, PatternError> {
        self.bump();
        let mut steps = Vec::new();
        loop {
            match self.peek() {
                Some('.') => {
                    self.bump();
                    let s = self.pos;
                    while self.peek().is_some_and(is_key_char) {
                        self.bump();
                    }
                    if s == self.pos {
                        return Err(self.expected("a property name after '.'"));
                    }
                    steps.push(JsonStep::Key(self.text[s..self.pos].to_string()));
                }
                Some('[') => {
                    self.bump();
                    let s = self.pos;
                    while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                        self.bump();
                    }
                    let i = self.text[s..self.pos]
                        .parse::<u32>()
                        .map_err(|_| syntax(s, "expected an array index (0, 1, …) inside [ ]"))?;
                    self.expect(']', "']' after an array index")?;
                    steps.push(JsonStep::Index(i));
                }
                _ => break,
            }
        }
        if steps.is_empty() {
            return Err(self.expected("'.' or '[' after '$'"));
        }
        Ok(steps)
    }

    fn keyword(&mut self, kw: &str) -> bool {
        let r = self.rest();
        let n = kw.len();
        if r.len() >= n
            && r.is_char_boundary(n)
            && r[..n].eq_ignore_ascii_case(kw)
            && !r[n..].chars().next().is_some_and(is_key_char)
        {
            self.pos += n;
            true
        } else {
            false
        }
    }

    fn op(&mut self) -> Option<Op> {
        self.skip_ws();
        for (s, op) in [
            ("!=", Op::Ne),
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("=", Op::Eq),
            ("<", Op::Lt),
            (">", Op::Gt),
        ] {
            if self.eat(s) {
                return Some(op);
            }
        }
        None
    }

    fn jtest(&mut self) -> Result<JsonTest, PatternError> {
        self.skip_ws();
        let at = self.pos;
        if self.keyword("IS") {
            self.skip_ws();
            if self.keyword("NULL") {
                return Ok(JsonTest::IsNull);
            }
            if self.keyword("TRUE") {
                return Ok(JsonTest::IsTrue);
            }
            if self.keyword("FALSE") {
                return Ok(JsonTest::IsFalse);
            }
            if self.keyword("NOT") {
                return Err(PatternError::Unsupported(format!(
                    "'IS NOT' (position {at}); use NOT EXISTS, or != for values"
                )));
            }
            return Err(self.expected("NULL, TRUE or FALSE after IS"));
        }
        if self.keyword("NOT") {
            self.skip_ws();
            if self.keyword("EXISTS") {
                return Ok(JsonTest::NotExists);
            }
            return Err(self.expected("EXISTS after NOT"));
        }
        if self.keyword("EXISTS") {
            return Err(PatternError::Unsupported(format!(
                "'EXISTS' (position {at}); only NOT EXISTS is documented"
            )));
        }
        let Some(op) = self.op() else {
            return Err(self.expected("an operator (=, !=, <, <=, >, >=), IS or NOT EXISTS"));
        };
        let v = self.value(op)?;
        Ok(JsonTest::Compare(op, v))
    }

    /// A comparison's value; numbers only for `< <= > >=`.
    fn value(&mut self, op: Op) -> Result<Operand, PatternError> {
        self.skip_ws();
        let start = self.pos;
        let v = match self.peek() {
            Some('"') => Operand::Text(self.quoted()?),
            Some('%') => Operand::Regex(self.regex()?),
            Some(c) if !matches!(c, ')' | '}' | ']' | ',' | '&' | '|') && !c.is_whitespace() => {
                while self.peek().is_some_and(|c| {
                    !c.is_whitespace() && !matches!(c, ')' | '}' | ']' | ',' | '&' | '|' | '"')
                }) {
                    self.bump();
                }
                let w = &self.text[start..self.pos];
                match parse_number(w) {
                    Some(n) => Operand::Number(n),
                    None => Operand::Text(w.to_string()),
                }
            }
            _ => return Err(self.expected("a value")),
        };
        if !matches!(op, Op::Eq | Op::Ne) && !matches!(v, Operand::Number(_)) {
            return Err(syntax(
                start,
                format!("'{}' compares numbers; expected a number", op.as_str()),
            ));
        }
        Ok(v)
    }

    fn fields(&mut self) -> Result<Vec<Field>, PatternError> {
        let mut out = Vec::new();
        loop {
            self.skip_ws();
            let start = self.pos;
            if self.eat("...") {
                out.push(Field::Ellipsis);
            } else {
                let name = self.field_name()?;
                let cond = self.field_cond(&name)?;
                out.push(Field::Named { name, cond });
            }
            self.skip_ws();
            match self.peek() {
                Some(',') => {
                    self.bump();
                }
                Some(']') => {
                    self.bump();
                    break;
                }
                _ => {
                    let _ = start;
                    return Err(self.expected("',' or ']'"));
                }
            }
        }
        if out.iter().filter(|f| **f == Field::Ellipsis).count() > 1 {
            return Err(PatternError::Unsupported(
                "more than one '...' in a space-delimited pattern".into(),
            ));
        }
        Ok(out)
    }

    fn field_name(&mut self) -> Result<String, PatternError> {
        self.skip_ws();
        let s = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            self.bump();
        }
        if s == self.pos {
            return Err(self.expected("a field name or '...'"));
        }
        Ok(self.text[s..self.pos].to_string())
    }

    fn field_cond(&mut self, name: &str) -> Result<Option<FieldCond>, PatternError> {
        self.skip_ws();
        let Some(op) = self.op() else {
            return Ok(None);
        };
        let first = FieldCond::Compare(op, self.value(op)?);
        let mut ors = vec![first];
        let mut ands: Vec<FieldCond> = Vec::new();
        loop {
            self.skip_ws();
            let is_and = if self.eat("&&") {
                true
            } else if self.eat("||") {
                false
            } else {
                break;
            };
            self.skip_ws();
            let at = self.pos;
            let other = self.field_name()?;
            if other != name {
                return Err(syntax(
                    at,
                    format!("a condition on field '{name}' names '{other}'; each field's conditions name that field"),
                ));
            }
            let Some(op) = self.op() else {
                return Err(self.expected("an operator (=, !=, <, <=, >, >=)"));
            };
            let c = FieldCond::Compare(op, self.value(op)?);
            if is_and {
                ors.push(c);
            } else {
                ands.push(group(FieldCond::And, std::mem::take(&mut ors)));
                ors.push(c);
            }
        }
        // `ors` collects the current AND-run; `ands` the finished runs (named for the split).
        ands.push(group(FieldCond::And, ors));
        Ok(Some(group(FieldCond::Or, ands)))
    }
}

fn group(f: fn(Vec<FieldCond>) -> FieldCond, mut v: Vec<FieldCond>) -> FieldCond {
    if v.len() == 1 {
        v.remove(0)
    } else {
        f(v)
    }
}

/// A bare word as a number: optional sign, digits, optional fraction and exponent.
fn parse_number(w: &str) -> Option<f64> {
    let b = w.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let digits = |i: &mut usize| {
        let s = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > s
    };
    let int = digits(&mut i);
    let mut frac = false;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac = digits(&mut i);
    }
    if !int && !frac {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if !digits(&mut i) {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    w.parse::<f64>().ok().filter(|f| f.is_finite())
}

// ---------------------------------------------------------------------------------------
// Printer

/// `"…"` with `\` and `"` escaped.
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

fn number(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f:?}")
    }
}

fn write_operand(out: &mut String, v: &Operand) {
    match v {
        Operand::Number(n) => out.push_str(&number(*n)),
        // Text always prints quoted: a bare word that looks like a number would re-parse as
        // one, and quoting never changes a text value's meaning.
        Operand::Text(text) => out.push_str(&quote(text)),
        Operand::Regex(r) => {
            let _ = write!(out, "%{r}%");
        }
    }
}

fn write_selector(out: &mut String, sel: &[JsonStep]) {
    out.push('$');
    for s in sel {
        match s {
            JsonStep::Key(k) => {
                let _ = write!(out, ".{k}");
            }
            JsonStep::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
        }
    }
}

/// `parent_and`: None at the top, Some(true) inside `&&`, Some(false) inside `||`. An `||`
/// inside anything, and an `&&` inside an `&&` (only from explicit parentheses), are
/// parenthesised, so the printed text parses back to the same tree.
fn write_json(out: &mut String, e: &JsonExpr, parent_and: Option<bool>) {
    let (is_and, parts) = match e {
        JsonExpr::Or(xs) => (false, xs),
        JsonExpr::And(xs) => (true, xs),
        JsonExpr::Test { selector, test } => {
            write_selector(out, selector);
            match test {
                JsonTest::Compare(op, v) => {
                    let _ = write!(out, " {} ", op.as_str());
                    write_operand(out, v);
                }
                JsonTest::IsNull => out.push_str(" IS NULL"),
                JsonTest::IsTrue => out.push_str(" IS TRUE"),
                JsonTest::IsFalse => out.push_str(" IS FALSE"),
                JsonTest::NotExists => out.push_str(" NOT EXISTS"),
            }
            return;
        }
    };
    let paren = match parent_and {
        None => false,
        Some(p) => !is_and || p,
    };
    if paren {
        out.push('(');
    }
    for (i, x) in parts.iter().enumerate() {
        if i > 0 {
            out.push_str(if is_and { " && " } else { " || " });
        }
        write_json(out, x, Some(is_and));
    }
    if paren {
        out.push(')');
    }
}

fn write_cond(out: &mut String, name: &str, c: &FieldCond, top: bool) {
    match c {
        FieldCond::Compare(op, v) => {
            if !top {
                out.push_str(name);
            }
            let _ = write!(out, " {} ", op.as_str());
            write_operand(out, v);
        }
        FieldCond::And(xs) | FieldCond::Or(xs) => {
            let sep = if matches!(c, FieldCond::And(_)) {
                " && "
            } else {
                " || "
            };
            for (i, x) in xs.iter().enumerate() {
                if i > 0 {
                    out.push_str(sep);
                }
                write_cond(out, name, x, top && i == 0);
            }
        }
    }
}

/// The canonical text of `p`.
pub fn print(p: &Pattern) -> String {
    let mut out = String::new();
    match p {
        Pattern::All => {}
        Pattern::Terms(ts) => {
            let parts: Vec<String> = ts
                .iter()
                .map(|t| {
                    let m = match t.mode {
                        TermMode::Required => "",
                        TermMode::Optional => "?",
                        TermMode::Excluded => "-",
                    };
                    let body = match &t.text {
                        TermText::Word(w) => w.clone(),
                        TermText::Phrase(s) => quote(s),
                        TermText::Regex(r) => format!("%{r}%"),
                    };
                    format!("{m}{body}")
                })
                .collect();
            out = parts.join(" ");
        }
        Pattern::Json(e) => {
            out.push_str("{ ");
            write_json(&mut out, e, None);
            out.push_str(" }");
        }
        Pattern::Delimited(fs) => {
            out.push('[');
            for (i, f) in fs.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                match f {
                    Field::Ellipsis => out.push_str("..."),
                    Field::Named { name, cond } => {
                        out.push_str(name);
                        if let Some(c) = cond {
                            write_cond(&mut out, name, c, true);
                        }
                    }
                }
            }
            out.push(']');
        }
    }
    out
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&print(self))
    }
}
