//! Canonical text of an [`Expr`]: keywords lower-case as documented, connectives upper-case,
//! every string quoted, parentheses only where precedence needs them. `parse(print(e)) == e`
//! (property-tested).

use std::fmt::Write;

use super::ast::*;

/// The canonical text of `e`.
pub fn print(e: &Expr) -> String {
    let mut out = String::new();
    write_expr(&mut out, e, 0);
    out
}

impl std::fmt::Display for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&print(self))
    }
}

/// `"…"` with `\` and `"` escaped.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Precedence levels: 0 = OR, 1 = AND, 2 = unary / term.
fn write_expr(out: &mut String, e: &Expr, min_prec: u8) {
    let (prec, parts, sep) = match e {
        Expr::Or(xs) => (0, xs, " OR "),
        Expr::And(xs) => (1, xs, " AND "),
        _ => {
            write_term(out, e);
            return;
        }
    };
    let paren = min_prec > prec;
    if paren {
        out.push('(');
    }
    for (i, x) in parts.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        write_expr(out, x, prec + 1);
    }
    if paren {
        out.push(')');
    }
}

fn write_node(out: &mut String, n: &Node) {
    match n {
        Node::Name(s) => out.push_str(&quote(s)),
        Node::Id {
            name,
            ty,
            account_id,
        } => {
            let fields: Vec<String> = [("name", name), ("type", ty), ("account.id", account_id)]
                .iter()
                .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}: {}", quote(v))))
                .collect();
            let _ = write!(out, "id({})", fields.join(", "));
        }
    }
}

fn write_filter(out: &mut String, f: &Option<Box<Expr>>) {
    if let Some(f) = f {
        out.push_str(" { ");
        write_expr(out, f, 0);
        out.push_str(" }");
    }
}

fn write_term(out: &mut String, e: &Expr) {
    match e {
        Expr::And(_) | Expr::Or(_) => write_expr(out, e, 2),
        Expr::Not(x) => {
            out.push('!');
            write_expr(out, x, 2);
        }
        Expr::Bool { keyword, op, value } => {
            out.push_str(keyword.as_str());
            match (op, value) {
                (EqOp::Eq, true) => {}
                (EqOp::Eq, false) => out.push_str(" = false"),
                (EqOp::Ne, v) => {
                    let _ = write!(out, " != {v}");
                }
            }
        }
        Expr::Number { keyword, op, value } => {
            let _ = write!(out, "{} {} {value}", keyword.as_str(), op.as_str());
        }
        Expr::String { keyword, test } => {
            out.push_str(keyword.as_str());
            if let StringTest::Compare(op, v) = test {
                let _ = write!(out, " {} {}", op.as_str(), quote(v));
            }
        }
        Expr::Annotation { key, test } => {
            let _ = write!(out, "annotation.{key}");
            match test {
                AnnotationTest::IsSet => {}
                AnnotationTest::Bool(op, v) => {
                    let op = if *op == EqOp::Eq { "=" } else { "!=" };
                    let _ = write!(out, " {op} {v}");
                }
                AnnotationTest::Number(op, v) => {
                    let _ = write!(out, " {} {v}", op.as_str());
                }
                AnnotationTest::Str(op, v) => {
                    let _ = write!(out, " {} {}", op.as_str(), quote(v));
                }
            }
        }
        Expr::Service { node, filter } => {
            out.push_str("service(");
            if let Some(n) = node {
                write_node(out, n);
            }
            out.push(')');
            write_filter(out, filter);
        }
        Expr::Edge { from, to, filter } => {
            out.push_str("edge(");
            write_node(out, from);
            out.push_str(", ");
            write_node(out, to);
            out.push(')');
            write_filter(out, filter);
        }
        Expr::Group(g) => {
            let (k, v) = match g {
                GroupRef::Name(v) => ("name", v),
                GroupRef::Arn(v) => ("arn", v),
            };
            let _ = write!(out, "group.{k} = {}", quote(v));
        }
        Expr::RootCause {
            kind,
            target,
            filter,
        } => {
            let _ = write!(out, "rootcause.{}.{}", kind.as_str(), target.as_str());
            write_filter(out, filter);
        }
        Expr::Json { root_cause, text } => {
            let k = if *root_cause {
                "rootcause.json"
            } else {
                "json"
            };
            let _ = write!(out, "{k} = #[{text}]");
        }
    }
}
