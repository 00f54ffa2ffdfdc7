//! Lexer and recursive-descent parser: text → [`Expr`], errors with byte positions.
//!
//! Grammar (derived from the documented examples; AWS publishes none):
//! ```text
//! expr    := and (OR and)*
//! and     := unary ((AND)? unary)*          juxtaposition is AND: `ok !partial duration <3`
//! unary   := ('!' | NOT) unary | '(' expr ')' | term
//! term    := boolkw [('=' | '!=') (true | false)]
//!          | numkw ('=' | '!=' | '<' | '<=' | '>' | '>=') number
//!          | strkw [('=' | '!=' | CONTAINS | BEGINSWITH | ENDSWITH) (string | word)]
//!          | annotation.KEY [op (true | false | number | string)]
//!          | service '(' [node] ')' [filter] | edge '(' node ',' node ')' [filter]
//!          | (group.name | group.arn) '=' string
//!          | rootcause.(fault|error).(entity|service|exception) [filter]
//!          | rootcause.responsetime.(entity|service) [filter]
//!          | (json | rootcause.json) '=' '#[' … ']'
//! node    := string | id '(' field ':' string (',' field ':' string)* ')'   field: name|type|account.id
//! filter  := '{' expr '}'
//! ```
//! Keywords, connectives and operators are case-insensitive (`responseTime`, `and`). A bare
//! word is accepted as a string value (`name = traces` appears in AWS's examples, although the
//! page says values must be quoted). Strings take `\"` and `\\` escapes.

use super::ast::*;
use super::{FilterError, EXPR_LEN_MAX, NESTING_DEPTH_MAX};

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Num(f64),
    Json(String),
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Bang,
    LParen,
    RParen,
    LBrace,
    RBrace,
    Comma,
    Colon,
    End,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Word(w) => format!("'{w}'"),
        Tok::Str(_) => "a quoted string".into(),
        Tok::Num(_) => "a number".into(),
        Tok::Json(_) => "a #[…] JSON value".into(),
        Tok::Eq => "'='".into(),
        Tok::Ne => "'!='".into(),
        Tok::Lt => "'<'".into(),
        Tok::Le => "'<='".into(),
        Tok::Gt => "'>'".into(),
        Tok::Ge => "'>='".into(),
        Tok::Bang => "'!'".into(),
        Tok::LParen => "'('".into(),
        Tok::RParen => "')'".into(),
        Tok::LBrace => "'{'".into(),
        Tok::RBrace => "'}'".into(),
        Tok::Comma => "','".into(),
        Tok::Colon => "':'".into(),
        Tok::End => "the end of the expression".into(),
    }
}

fn syntax(pos: usize, message: impl Into<String>) -> FilterError {
    FilterError::Syntax {
        pos,
        message: message.into(),
    }
}

fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

/// Splits `text` into (byte position, token), ending with [`Tok::End`].
fn lex(text: &str) -> Result<Vec<(usize, Tok)>, FilterError> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(pos, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let next_is = |b: u8| bytes.get(pos + 1) == Some(&b);
        let single = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            '{' => Some(Tok::LBrace),
            '}' => Some(Tok::RBrace),
            ',' => Some(Tok::Comma),
            ':' => Some(Tok::Colon),
            '=' => Some(Tok::Eq),
            _ => None,
        };
        if let Some(t) = single {
            chars.next();
            out.push((pos, t));
            continue;
        }
        match c {
            '!' | '<' | '>' => {
                chars.next();
                let t = if next_is(b'=') {
                    chars.next();
                    match c {
                        '!' => Tok::Ne,
                        '<' => Tok::Le,
                        _ => Tok::Ge,
                    }
                } else {
                    match c {
                        '!' => Tok::Bang,
                        '<' => Tok::Lt,
                        _ => Tok::Gt,
                    }
                };
                out.push((pos, t));
            }
            '"' => {
                chars.next();
                let mut s = String::new();
                let mut closed = false;
                while let Some((p, c)) = chars.next() {
                    match c {
                        '"' => {
                            closed = true;
                            break;
                        }
                        '\\' => match chars.next() {
                            Some((_, e @ ('"' | '\\'))) => s.push(e),
                            Some((_, e)) => {
                                return Err(syntax(
                                    p,
                                    format!(
                                        "unknown escape '\\{e}' in a string (use \\\" or \\\\)"
                                    ),
                                ))
                            }
                            None => break,
                        },
                        c => s.push(c),
                    }
                }
                if !closed {
                    return Err(syntax(pos, "unterminated string: expected a closing '\"'"));
                }
                out.push((pos, Tok::Str(s)));
            }
            '#' => {
                if !next_is(b'[') {
                    return Err(syntax(pos, "expected '#[' to start a JSON value"));
                }
                chars.next();
                chars.next();
                let start = pos + 2;
                let mut depth = 1usize;
                let mut in_str = false;
                let mut end = None;
                while let Some((p, c)) = chars.next() {
                    if in_str {
                        match c {
                            '\\' => {
                                chars.next();
                            }
                            '"' => in_str = false,
                            _ => {}
                        }
                        continue;
                    }
                    match c {
                        '"' => in_str = true,
                        '[' => depth += 1,
                        ']' => {
                            depth -= 1;
                            if depth == 0 {
                                end = Some(p);
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                let Some(end) = end else {
                    return Err(syntax(
                        pos,
                        "unterminated JSON value: expected a closing ']'",
                    ));
                };
                out.push((pos, Tok::Json(text[start..end].to_string())));
            }
            c if c.is_ascii_digit()
                || (c == '-' && bytes.get(pos + 1).is_some_and(u8::is_ascii_digit)) =>
            {
                let mut end = pos + 1;
                let digits = |mut i: usize| {
                    while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                        i += 1;
                    }
                    i
                };
                end = digits(end);
                if bytes.get(end) == Some(&b'.')
                    && bytes.get(end + 1).is_some_and(u8::is_ascii_digit)
                {
                    end = digits(end + 1);
                }
                if matches!(bytes.get(end), Some(b'e' | b'E')) {
                    let mut i = end + 1;
                    if matches!(bytes.get(i), Some(b'+' | b'-')) {
                        i += 1;
                    }
                    if bytes.get(i).is_some_and(u8::is_ascii_digit) {
                        end = digits(i);
                    }
                }
                let raw = &text[pos..end];
                let value = raw
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .ok_or_else(|| syntax(pos, format!("number {raw} is out of range")))?;
                while chars.peek().is_some_and(|&(p, _)| p < end) {
                    chars.next();
                }
                if chars.peek().is_some_and(|&(_, c)| is_word_char(c)) {
                    return Err(syntax(pos, format!("malformed number starting {raw}")));
                }
                out.push((pos, Tok::Num(value)));
            }
            c if is_word_start(c) => {
                let mut end = pos;
                while let Some(&(p, c)) = chars.peek() {
                    if !is_word_char(c) {
                        break;
                    }
                    end = p + c.len_utf8();
                    chars.next();
                }
                out.push((pos, Tok::Word(text[pos..end].to_string())));
            }
            c => return Err(syntax(pos, format!("unexpected character '{c}'"))),
        }
    }
    out.push((text.len(), Tok::End));
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    i: usize,
    depth: usize,
}

/// Parses a filter expression.
pub fn parse(text: &str) -> Result<Expr, FilterError> {
    if text.len() > EXPR_LEN_MAX {
        return Err(FilterError::TooLong {
            len: text.len(),
            max: EXPR_LEN_MAX,
        });
    }
    let mut p = Parser {
        toks: lex(text)?,
        i: 0,
        depth: 0,
    };
    if p.peek() == &Tok::End {
        return Err(syntax(0, "empty filter expression"));
    }
    let e = p.expr()?;
    match p.peek() {
        Tok::End => Ok(e),
        Tok::RParen => Err(p.err("unbalanced ')': no '(' is open")),
        Tok::RBrace => Err(p.err("unbalanced '}': no '{' is open")),
        t => {
            let t = describe(t);
            Err(p.err(format!(
                "expected AND, OR or the end of the expression, found {t}"
            )))
        }
    }
}

fn word_is(t: &Tok, w: &str) -> bool {
    matches!(t, Tok::Word(x) if x.eq_ignore_ascii_case(w))
}

fn is_connective(w: &str) -> bool {
    ["and", "or", "not"]
        .iter()
        .any(|c| c.eq_ignore_ascii_case(w))
}

impl Parser {
    fn peek(&self) -> &Tok {
        self.toks.get(self.i).map_or(&Tok::End, |(_, t)| t)
    }

    fn pos(&self) -> usize {
        self.toks.get(self.i).map_or(0, |(p, _)| *p)
    }

    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        t
    }

    fn err(&self, message: impl Into<String>) -> FilterError {
        syntax(self.pos(), message)
    }

    fn expected(&self, what: &str) -> FilterError {
        self.err(format!("expected {what}, found {}", describe(self.peek())))
    }

    fn expect(&mut self, t: Tok, what: &str) -> Result<(), FilterError> {
        if *self.peek() == t {
            self.bump();
            Ok(())
        } else {
            Err(self.expected(what))
        }
    }

    fn enter(&mut self) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > NESTING_DEPTH_MAX {
            return Err(self.err(format!(
                "expression nests more than {NESTING_DEPTH_MAX} deep"
            )));
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Expr, FilterError> {
        let mut parts = vec![self.and()?];
        while word_is(self.peek(), "or") {
            self.bump();
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }

    fn starts_term(&self) -> bool {
        match self.peek() {
            Tok::Bang | Tok::LParen => true,
            Tok::Word(w) => !w.eq_ignore_ascii_case("and") && !w.eq_ignore_ascii_case("or"),
            _ => false,
        }
    }

    fn and(&mut self) -> Result<Expr, FilterError> {
        let mut parts = vec![self.unary()?];
        loop {
            if word_is(self.peek(), "and") {
                self.bump();
            } else if !self.starts_term() {
                break;
            }
            parts.push(self.unary()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }

    fn unary(&mut self) -> Result<Expr, FilterError> {
        self.enter()?;
        let e = match self.peek() {
            Tok::Bang => {
                self.bump();
                Expr::Not(Box::new(self.unary()?))
            }
            t if word_is(t, "not") => {
                self.bump();
                Expr::Not(Box::new(self.unary()?))
            }
            Tok::LParen => {
                self.bump();
                let e = self.expr()?;
                self.expect(Tok::RParen, "')' or an operator (AND, OR)")?;
                e
            }
            Tok::Word(_) => self.term()?,
            _ => return Err(self.expected("a keyword, '!', NOT or '('")),
        };
        self.depth -= 1;
        Ok(e)
    }

    fn term(&mut self) -> Result<Expr, FilterError> {
        let start = self.pos();
        let Tok::Word(word) = self.bump() else {
            return Err(self.expected("a keyword"));
        };
        let lower = word.to_ascii_lowercase();
        if let Some(keyword) = BoolKeyword::from_word(&lower) {
            let op = match self.peek() {
                Tok::Eq => EqOp::Eq,
                Tok::Ne => EqOp::Ne,
                _ => {
                    return Ok(Expr::Bool {
                        keyword,
                        op: EqOp::Eq,
                        value: true,
                    })
                }
            };
            self.bump();
            let value = self.bool_value()?;
            return Ok(Expr::Bool { keyword, op, value });
        }
        if let Some(keyword) = NumberKeyword::from_word(&lower) {
            let op = self.num_op().ok_or_else(|| {
                self.expected(&format!("a comparison (=, !=, <, <=, >, >=) after {word}"))
            })?;
            self.bump();
            let Tok::Num(value) = self.peek().clone() else {
                return Err(self.expected(&format!("a number after {word} {}", op.as_str())));
            };
            self.bump();
            return Ok(Expr::Number { keyword, op, value });
        }
        if let Some(keyword) = StringKeyword::from_word(&lower) {
            let Some(op) = self.str_op() else {
                return Ok(Expr::String {
                    keyword,
                    test: StringTest::IsSet,
                });
            };
            self.bump();
            let value = match self.peek().clone() {
                Tok::Str(s) => s,
                Tok::Word(w) if !is_connective(&w) => w,
                _ => {
                    return Err(
                        self.expected(&format!("a quoted string after {word} {}", op.as_str()))
                    )
                }
            };
            self.bump();
            return Ok(Expr::String {
                keyword,
                test: StringTest::Compare(op, value),
            });
        }
        if lower.len() > "annotation.".len() && lower.starts_with("annotation.") {
            let key = word["annotation.".len()..].to_string();
            return Ok(Expr::Annotation {
                test: self.annotation_test(&word)?,
                key,
            });
        }
        match lower.as_str() {
            "service" => {
                self.expect(Tok::LParen, "'(' after service")?;
                let node = if *self.peek() == Tok::RParen {
                    None
                } else {
                    Some(self.node()?)
                };
                self.expect(Tok::RParen, "')' to close service(")?;
                let filter = self.filter()?;
                Ok(Expr::Service { node, filter })
            }
            "edge" => {
                self.expect(Tok::LParen, "'(' after edge")?;
                let from = self.node()?;
                self.expect(Tok::Comma, "',' between the two services of edge(")?;
                let to = self.node()?;
                self.expect(Tok::RParen, "')' to close edge(")?;
                let filter = self.filter()?;
                Ok(Expr::Edge { from, to, filter })
            }
            "group.name" | "group.arn" => {
                self.expect(Tok::Eq, &format!("'=' after {word}"))?;
                let Tok::Str(v) = self.peek().clone() else {
                    return Err(self.expected(&format!("a quoted group {} after {word} =", &lower[6..])));
                };
                self.bump();
                Ok(Expr::Group(if lower == "group.name" {
                    GroupRef::Name(v)
                } else {
                    GroupRef::Arn(v)
                }))
            }
            "json" | "rootcause.json" => {
                self.expect(Tok::Eq, &format!("'=' after {word}"))?;
                let Tok::Json(text) = self.peek().clone() else {
                    return Err(self.expected(&format!("a #[…] JSON value after {word} =")));
                };
                self.bump();
                Ok(Expr::Json {
                    root_cause: lower == "rootcause.json",
                    text,
                })
            }
            _ if lower.starts_with("rootcause.") => {
                let mut parts = lower.split('.').skip(1);
                let kind = match parts.next() {
                    Some("fault") => RootCauseKind::Fault,
                    Some("error") => RootCauseKind::Error,
                    Some("responsetime") => RootCauseKind::ResponseTime,
                    _ => {
                        return Err(syntax(
                            start,
                            format!("unknown keyword '{word}': expected rootcause.fault, rootcause.error, rootcause.responsetime or rootcause.json"),
                        ))
                    }
                };
                let target = match (kind, parts.next(), parts.next()) {
                    (_, Some("entity"), None) => RootCauseTarget::Entity,
                    (_, Some("service"), None) => RootCauseTarget::Service,
                    (RootCauseKind::Fault | RootCauseKind::Error, Some("exception"), None) => {
                        RootCauseTarget::Exception
                    }
                    _ => {
                        let allowed = if kind == RootCauseKind::ResponseTime {
                            "entity or service"
                        } else {
                            "entity, service or exception"
                        };
                        return Err(syntax(
                            start,
                            format!("unknown keyword '{word}': rootcause.{} takes .{allowed}", kind.as_str()),
                        ));
                    }
                };
                let filter = self.filter()?;
                Ok(Expr::RootCause {
                    kind,
                    target,
                    filter,
                })
            }
            _ => Err(syntax(
                start,
                format!("unknown keyword '{word}'; expected a boolean keyword (ok, error, fault, …), a number keyword (responsetime, duration, http.status, …), a string keyword (http.url, user, …), annotation.KEY, service(…), edge(…), group.name or rootcause.*"),
            )),
        }
    }

    fn bool_value(&mut self) -> Result<bool, FilterError> {
        let v = match self.peek() {
            t if word_is(t, "true") => true,
            t if word_is(t, "false") => false,
            _ => return Err(self.expected("true or false")),
        };
        self.bump();
        Ok(v)
    }

    fn num_op(&self) -> Option<NumOp> {
        Some(match self.peek() {
            Tok::Eq => NumOp::Eq,
            Tok::Ne => NumOp::Ne,
            Tok::Lt => NumOp::Lt,
            Tok::Le => NumOp::Le,
            Tok::Gt => NumOp::Gt,
            Tok::Ge => NumOp::Ge,
            _ => return None,
        })
    }

    fn str_op(&self) -> Option<StrOp> {
        Some(match self.peek() {
            Tok::Eq => StrOp::Eq,
            Tok::Ne => StrOp::Ne,
            t if word_is(t, "contains") => StrOp::Contains,
            t if word_is(t, "beginswith") => StrOp::BeginsWith,
            t if word_is(t, "endswith") => StrOp::EndsWith,
            _ => return None,
        })
    }

    fn annotation_test(&mut self, word: &str) -> Result<AnnotationTest, FilterError> {
        if let Some(op) = self
            .str_op()
            .filter(|o| !matches!(o, StrOp::Eq | StrOp::Ne))
        {
            self.bump();
            let Tok::Str(s) = self.peek().clone() else {
                return Err(self.expected(&format!("a quoted string after {word} {}", op.as_str())));
            };
            self.bump();
            return Ok(AnnotationTest::Str(op, s));
        }
        let Some(op) = self.num_op() else {
            return Ok(AnnotationTest::IsSet);
        };
        self.bump();
        let eq = match op {
            NumOp::Eq => Some(EqOp::Eq),
            NumOp::Ne => Some(EqOp::Ne),
            _ => None,
        };
        let test = match (self.peek().clone(), eq) {
            (Tok::Num(n), _) => AnnotationTest::Number(op, n),
            (Tok::Str(s), Some(e)) => {
                AnnotationTest::Str(if e == EqOp::Eq { StrOp::Eq } else { StrOp::Ne }, s)
            }
            (t, Some(e)) if word_is(&t, "true") || word_is(&t, "false") => {
                AnnotationTest::Bool(e, word_is(&t, "true"))
            }
            _ if eq.is_some() => {
                return Err(self.expected(&format!(
                    "true, false, a number or a quoted string after {word} {}",
                    op.as_str()
                )))
            }
            _ => return Err(self.expected(&format!("a number after {word} {}", op.as_str()))),
        };
        self.bump();
        Ok(test)
    }

    fn node(&mut self) -> Result<Node, FilterError> {
        match self.peek().clone() {
            Tok::Str(s) => {
                self.bump();
                Ok(Node::Name(s))
            }
            t if word_is(&t, "id") => {
                self.bump();
                self.expect(Tok::LParen, "'(' after id")?;
                let (mut name, mut ty, mut account_id) = (None, None, None);
                loop {
                    let field_pos = self.pos();
                    let field = match self.peek() {
                        t if word_is(t, "name") => 0,
                        t if word_is(t, "type") => 1,
                        t if word_is(t, "account.id") => 2,
                        _ => return Err(self.expected("name, type or account.id in id(…)")),
                    };
                    let slot = match field {
                        0 => &mut name,
                        1 => &mut ty,
                        _ => &mut account_id,
                    };
                    if slot.is_some() {
                        return Err(syntax(field_pos, "a field of id(…) is given twice"));
                    }
                    self.bump();
                    self.expect(Tok::Colon, "':' after an id(…) field")?;
                    let Tok::Str(v) = self.peek().clone() else {
                        return Err(self.expected("a quoted string as an id(…) field's value"));
                    };
                    self.bump();
                    match field {
                        0 => name = Some(v),
                        1 => ty = Some(v),
                        _ => account_id = Some(v),
                    }
                    match self.peek() {
                        Tok::Comma => {
                            self.bump();
                        }
                        Tok::RParen => {
                            self.bump();
                            break;
                        }
                        _ => return Err(self.expected("',' or ')' in id(…)")),
                    }
                }
                Ok(Node::Id {
                    name,
                    ty,
                    account_id,
                })
            }
            _ => Err(self.expected("a quoted service name or id(…)")),
        }
    }

    fn filter(&mut self) -> Result<Option<Box<Expr>>, FilterError> {
        if *self.peek() != Tok::LBrace {
            return Ok(None);
        }
        self.bump();
        self.enter()?;
        if *self.peek() == Tok::RBrace {
            return Err(self.err("empty filter: expected an expression inside { }"));
        }
        let e = self.expr()?;
        self.expect(Tok::RBrace, "'}' or an operator (AND, OR)")?;
        self.depth -= 1;
        Ok(Some(Box::new(e)))
    }
}
