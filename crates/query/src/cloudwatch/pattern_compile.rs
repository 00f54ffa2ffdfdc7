//! [`Pattern`] → [`Predicate`] over log events (the field names are the module docs').
//!
//! - Terms read `body`: words and phrases are case-sensitive substrings (the docs' `ERROR`
//!   matches "Exiting with ERRORCODE: -1"), `%regex%` an unanchored regex search. All
//!   required terms, no excluded term, and — when there are `?` terms — at least one of them.
//! - JSON patterns read `body` as JSON ([`Operand::Json`]): a message that is not JSON
//!   matches no JSON pattern (not even `NOT EXISTS`). `=`/`!=` with text compare JSON strings
//!   (`*` matches any run of characters, anchored at both ends); with a number, JSON numbers;
//!   `< <= > >=` numbers only. `= *` alone matches any string, number or boolean (the docs'
//!   metric filter `{ $.latency = * }`); `!=` needs the selector to hold a value of the
//!   compared kind [inference]. A selector at an object or array matches no comparison.
//! - Space-delimited patterns split `body` ([`Operand::Delimited`]); without `...` the
//!   message must have exactly as many fields as the pattern names, with `...` at least as
//!   many; fields after `...` count from the end [inference: the docs show one `...` and do
//!   not say what a field count mismatch does]. Numbers compare the field parsed as a number.

use model::schema::Catalog;
use model::value::ColumnType;
use model::{SignalKind, Value};

use super::pattern::*;
use crate::derived::{Pattern as Regex, REGEX_SIZE_LIMIT};
use crate::plan::{
    resolve_column, CmpOp, ColumnRef, JsonRead, Operand as PlanOperand, Predicate, JSON_KINDS,
};

/// The field log messages are stored in (the OTLP log translation's name for a log body).
pub const BODY_FIELD: &str = "body";

/// Parses and compiles a filter pattern.
pub fn compile_str(text: &str, catalog: &Catalog) -> Result<Predicate, PatternError> {
    compile(&parse(text)?, catalog)
}

/// Compiles a parsed pattern: log events (`SignalKind::Log`) that match it.
pub fn compile(p: &Pattern, catalog: &Catalog) -> Result<Predicate, PatternError> {
    let body = resolve_column(BODY_FIELD, catalog, &mut Vec::new());
    let matching = match p {
        Pattern::All => Predicate::True,
        Pattern::Terms(ts) => terms(&body, ts)?,
        Pattern::Json(e) => json(&body, e)?,
        Pattern::Delimited(fs) => delimited(&body, fs)?,
    };
    Ok(Predicate::and(vec![
        Predicate::KindIn(vec![SignalKind::Log]),
        matching,
    ]))
}

/// The operand string tests read: the column, or its text for non-string columns.
pub(crate) fn text_of(c: &ColumnRef) -> PlanOperand {
    match c.value_type() {
        Some(ColumnType::String) => PlanOperand::Column(c.clone()),
        _ => PlanOperand::AsText(c.clone()),
    }
}

/// A validated regular expression.
pub(crate) fn regex(source: &str) -> Result<Regex, PatternError> {
    let regex = regex::RegexBuilder::new(source)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| PatternError::Unsupported(format!("regular expression {source:?}: {e}")))?;
    Ok(Regex {
        source: source.to_string(),
        regex,
    })
}

/// `*` wildcards → an anchored regex (other characters literal).
fn wildcard(s: &str) -> Result<Regex, PatternError> {
    let parts: Vec<String> = s.split('*').map(regex::escape).collect();
    regex(&format!("(?s)^{}$", parts.join(".*")))
}

fn terms(body: &ColumnRef, ts: &[Term]) -> Result<Predicate, PatternError> {
    let mut all = Vec::new();
    let mut any = Vec::new();
    for t in ts {
        let p = match &t.text {
            TermText::Word(s) | TermText::Phrase(s) => {
                Predicate::Contains(text_of(body), s.clone())
            }
            TermText::Regex(r) => Predicate::Regex(text_of(body), regex(r)?),
        };
        match t.mode {
            TermMode::Required => all.push(p),
            TermMode::Excluded => all.push(Predicate::not(p)),
            TermMode::Optional => any.push(p),
        }
    }
    if !any.is_empty() {
        all.push(Predicate::or(any));
    }
    Ok(Predicate::and(all))
}

fn jv(body: &ColumnRef, path: &[JsonStep], read: JsonRead) -> PlanOperand {
    PlanOperand::Json {
        column: body.clone(),
        path: path.to_vec(),
        read,
    }
}

fn cmp(op: Op) -> CmpOp {
    match op {
        Op::Eq => CmpOp::Eq,
        Op::Ne => CmpOp::Ne,
        Op::Lt => CmpOp::Lt,
        Op::Le => CmpOp::Le,
        Op::Gt => CmpOp::Gt,
        Op::Ge => CmpOp::Ge,
    }
}

fn kind_is(body: &ColumnRef, path: &[JsonStep], kinds: &[&str]) -> Predicate {
    Predicate::In(
        jv(body, path, JsonRead::Kind),
        kinds.iter().map(|k| Value::Str((*k).into())).collect(),
    )
}

fn json(body: &ColumnRef, e: &JsonExpr) -> Result<Predicate, PatternError> {
    Ok(match e {
        JsonExpr::And(xs) => {
            Predicate::and(xs.iter().map(|x| json(body, x)).collect::<Result<_, _>>()?)
        }
        JsonExpr::Or(xs) => {
            Predicate::or(xs.iter().map(|x| json(body, x)).collect::<Result<_, _>>()?)
        }
        JsonExpr::Test { selector, test } => {
            let s = selector.as_slice();
            match test {
                JsonTest::IsNull => kind_is(body, s, &["null"]),
                JsonTest::IsTrue | JsonTest::IsFalse => Predicate::Compare {
                    lhs: jv(body, s, JsonRead::Boolean),
                    op: CmpOp::Eq,
                    value: Value::Bool(*test == JsonTest::IsTrue),
                },
                JsonTest::NotExists => Predicate::and(vec![
                    kind_is(body, &[], &JSON_KINDS),
                    Predicate::not(kind_is(body, s, &JSON_KINDS)),
                ]),
                JsonTest::Compare(op, Operand::Number(n)) => Predicate::Compare {
                    lhs: jv(body, s, JsonRead::Number),
                    op: cmp(*op),
                    value: Value::Float(*n),
                },
                JsonTest::Compare(op, v) => {
                    let string = jv(body, s, JsonRead::String);
                    let eq = match v {
                        Operand::Text(t) if !t.is_empty() && t.chars().all(|c| c == '*') => {
                            if *op == Op::Eq {
                                return Ok(kind_is(body, s, &["string", "number", "boolean"]));
                            }
                            return Ok(Predicate::False);
                        }
                        Operand::Text(t) if t.contains('*') => {
                            Predicate::Regex(string.clone(), wildcard(t)?)
                        }
                        Operand::Text(t) => {
                            return Ok(Predicate::Compare {
                                lhs: string,
                                op: cmp(*op),
                                value: Value::Str(t.clone()),
                            })
                        }
                        Operand::Regex(r) => Predicate::Regex(string.clone(), regex(r)?),
                        Operand::Number(_) => Predicate::False,
                    };
                    if *op == Op::Eq {
                        eq
                    } else {
                        Predicate::and(vec![kind_is(body, s, &["string"]), Predicate::not(eq)])
                    }
                }
            }
        }
    })
}

fn delimited(body: &ColumnRef, fs: &[Field]) -> Result<Predicate, PatternError> {
    let named = fs.iter().filter(|f| **f != Field::Ellipsis).count();
    let ellipsis = fs.iter().position(|f| *f == Field::Ellipsis);
    let mut parts = vec![Predicate::Compare {
        lhs: PlanOperand::DelimitedCount(body.clone()),
        op: if ellipsis.is_some() {
            CmpOp::Ge
        } else {
            CmpOp::Eq
        },
        value: Value::Int(named as i64),
    }];
    for (i, f) in fs.iter().enumerate() {
        let Field::Named {
            cond: Some(cond), ..
        } = f
        else {
            continue;
        };
        let index = match ellipsis {
            Some(e) if i > e => i as i64 - fs.len() as i64,
            _ => i as i64,
        };
        parts.push(field_cond(body, index, cond)?);
    }
    Ok(Predicate::and(parts))
}

fn field_cond(body: &ColumnRef, index: i64, c: &FieldCond) -> Result<Predicate, PatternError> {
    let field = |numeric| PlanOperand::Delimited {
        column: body.clone(),
        index,
        numeric,
    };
    Ok(match c {
        FieldCond::And(xs) => Predicate::and(
            xs.iter()
                .map(|x| field_cond(body, index, x))
                .collect::<Result<_, _>>()?,
        ),
        FieldCond::Or(xs) => Predicate::or(
            xs.iter()
                .map(|x| field_cond(body, index, x))
                .collect::<Result<_, _>>()?,
        ),
        FieldCond::Compare(op, Operand::Number(n)) => Predicate::Compare {
            lhs: field(true),
            op: cmp(*op),
            value: Value::Float(*n),
        },
        FieldCond::Compare(op, v) => {
            let eq = match v {
                Operand::Text(t) if t.contains('*') => Predicate::Regex(field(false), wildcard(t)?),
                Operand::Text(t) => Predicate::Compare {
                    lhs: field(false),
                    op: CmpOp::Eq,
                    value: Value::Str(t.clone()),
                },
                Operand::Regex(r) => Predicate::Regex(field(false), regex(r)?),
                Operand::Number(_) => Predicate::False,
            };
            if *op == Op::Eq {
                eq
            } else {
                Predicate::not(eq)
            }
        }
    })
}
